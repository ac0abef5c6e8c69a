/* Integration tests of the agents beyond qualification's happy path: enrichment, growth and
 * marketing outputs, each agent's published schema checked against a live output, then
 * GET /api/agents/status and reset, whose counters count the schema test's invocations
 * (so that test runs first). One server (empty database, see harness.h) serves them in
 * this order. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

/* Pins the enrichment agent: the local dataset finds the company by the e-mail's domain,
 * contact details come back normalised (E.164, LinkedIn form), a second call is a cache
 * hit, and the breaker's state is in /metrics. */
static void test_enrichment(void **state)
{
    (void)state;
    struct resp r;
    json_t *j = run_agent("enrichment", strong_known, &r);
    assert_string_equal(jstr(j, "output.company.domain"), "quorvianta.io");
    assert_string_equal(jstr(j, "output.matched_by"), "domain");
    assert_string_equal(jstr(j, "output.contact.phone.e164"), "+14155550132");
    assert_string_equal(jstr(j, "output.contact.linkedin.normalized"),
                        "https://www.linkedin.com/in/maya-okafor-4821");
    assert_false(json_is_true(jget(j, "output.cache_hit")));
    resp_free(&r);
    j = run_agent("enrichment", strong_known, &r);
    assert_true(json_is_true(jget(j, "output.cache_hit")));
    resp_free(&r);
    /* a company nobody knows: no company, still a success */
    j = run_agent("enrichment", "{\"company_name\":\"Nowhere Widgets Zzyzx\"}", &r);
    assert_true(json_is_null(jget(j, "output.company")));
    resp_free(&r);
    http("GET", "/metrics", NULL, NULL, 0, &r);
    assert_non_null(strstr(r.body, "circuit_breaker_state{provider=\"local_dataset\"} 0"));
    resp_free(&r);
    /* regression: a company found by name is cached under the name, so another company
     * on the same (unknown) domain does not get it */
    j = run_agent("enrichment",
                  "{\"company_name\":\"Quorvianta Software\",\"contact_info\":"
                  "{\"email\":\"jo@unknown-domain-example.com\"}}",
                  &r);
    assert_string_equal(jstr(j, "output.matched_by"), "name");
    resp_free(&r);
    j = run_agent("enrichment",
                  "{\"company_name\":\"Totally Different Ltd\",\"contact_info\":"
                  "{\"email\":\"amy@unknown-domain-example.com\"}}",
                  &r);
    assert_true(json_is_null(jget(j, "output.company")));
    resp_free(&r);
    /* regression: a long non-ASCII name (the cache key cut it mid-character: 500) */
    char name[600] = "";
    for (int i = 0; i < 199; i++)
        strcat(name, "a");
    for (int i = 0; i < 20; i++)
        strcat(name, "\xc3\xa9");
    char *in = strf("{\"company_name\":\"%s\"}", name);
    j = run_agent("enrichment", in, &r);
    free(in);
    resp_free(&r);
}

/* Pins growth analysis (score = sum of its factors, market data for a known industry,
 * competitors from the dataset) and marketing (tier-A cadence, rendered content with no
 * placeholder left, and an unknown optional fact, the contact's name, dropped without
 * withholding anything). */
static void test_growth_and_marketing(void **state)
{
    (void)state;
    struct resp r;
    json_t *j = run_agent("growth", strong_known, &r);
    long score = (long)json_integer_value(jget(j, "output.growth_score"));
    assert_in_range(score, 0, 100);
    long sum = 0;
    json_t *f;
    size_t i;
    json_array_foreach(jget(j, "output.factors"), i, f) sum +=
        (long)json_integer_value(json_object_get(f, "points"));
    assert_int_equal(sum, score);
    assert_non_null(jget(j, "output.market.cagr_pct"));
    assert_true(json_array_size(jget(j, "output.competitive_landscape.competitors")) > 0);
    resp_free(&r);

    j = run_agent("marketing", strong_known, &r);
    assert_string_equal(jstr(j, "output.strategy.tier"), "A");
    assert_true(json_array_size(jget(j, "output.channels")) >= 5);
    json_t *intro = jget(j, "output.content.email_intro_A");
    assert_true(json_is_true(json_object_get(intro, "ready")));
    assert_non_null(json_string_value(json_object_get(intro, "subject")));
    const char *body = json_string_value(json_object_get(intro, "body"));
    assert_non_null(body);
    assert_null(strstr(body, "{{"));
    assert_non_null(strstr(body, "Maya"));
    resp_free(&r);
    /* no contact name: the greeting does without it; nothing is withheld, nothing left blank */
    j = run_agent("marketing",
                  "{\"company_name\":\"Quorvianta Software\",\"industry\":\"SaaS\","
                  "\"company_size\":\"201-500\",\"website\":\"quorvianta.io\",\"signals\":"
                  "[\"requested_demo\",\"pricing_page_visit\",\"recent_funding\"]}",
                  &r);
    assert_int_equal(json_array_size(jget(j, "output.errors")), 0);
    json_t *content = jget(j, "output.content");
    const char *first = jstr(j, "output.channels.0.template"); /* the intro of its tier */
    assert_non_null(first);
    const char *intro_body = json_string_value(json_object_get(json_object_get(content, first), "body"));
    assert_non_null(intro_body);
    assert_true(strncmp(intro_body, "Hello,\n", 7) == 0);
    const char *k;
    json_t *m;
    json_object_foreach(content, k, m)
    {
        assert_true(json_is_true(json_object_get(m, "ready")));
        const char *b = json_string_value(json_object_get(m, "body"));
        assert_true(b == NULL || (strstr(b, "{{") == NULL && strstr(b, "Hi ,") == NULL));
    }
    resp_free(&r);
}

/* Pins the agents' published schemas: every key an output schema requires is in a live
 * output of that agent, and the input schema requires company_name. */
static void test_agent_schemas(void **state)
{
    (void)state;
    const char *types[] = {"qualification", "enrichment", "growth", "marketing"};
    for (size_t t = 0; t < 4; t++) {
        struct resp r, o;
        char *path = strf("/api/agents/%s/schema", types[t]);
        json_t *sc = http_json("GET", path, NULL, &r);
        free(path);
        assert_int_equal(r.status, 200);
        assert_string_equal(jstr(sc, "input.required.0"), "company_name");
        json_t *out = run_agent(types[t], strong_known, &o);
        size_t i;
        json_t *k;
        json_array_foreach(jget(sc, "output.required"), i, k)
        {
            if (!json_object_get(json_object_get(out, "output"), json_string_value(k)))
                fail_msg("%s output lacks required \"%s\"", types[t], json_string_value(k));
        }
        resp_free(&o);
        resp_free(&r);
    }
    struct resp r;
    http("GET", "/api/agents/nope/schema", NULL, NULL, 0, &r);
    expect_problem("schema of unknown agent", &r, 404, NULL, NULL);
    resp_free(&r);
}

/* The status lists the six agents with their counters; reset zeroes one agent's. */
static void test_agents_status_reset(void **state)
{
    (void)state;
    struct resp r;
    json_t *j = http_json("GET", "/api/agents/status", NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *agents = json_object_get(j, "agents");
    assert_true(json_is_array(agents));
    assert_int_equal(json_array_size(agents), 6);
    static const char *const keys[] = {"agent_type", "state",           "invocations",
                                       "errors",     "last_latency_ms", "avg_latency_ms"};
    json_t *qual = NULL, *growth = NULL;
    size_t i;
    json_t *a;
    json_array_foreach(agents, i, a)
    {
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            if (!json_object_get(a, keys[k]))
                fail_msg("agent %zu has no %s: %s", i, keys[k], jdump(a));
        const char *t = jstr(a, "agent_type");
        if (t && strcmp(t, "qualification") == 0)
            qual = a;
        if (t && strcmp(t, "bdr") == 0)
            growth = a;
        /* all six are built: none is not_implemented with the shipped data */
        assert_string_not_equal(jstr(a, "state"), "not_implemented");
    }
    assert_non_null(qual);
    assert_true(json_integer_value(json_object_get(qual, "invocations")) > 0);
    assert_string_equal(jstr(qual, "state"), "active");
    assert_non_null(growth);
    resp_free(&r);

    j = http_json("POST", "/api/agents/qualification/reset", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(jget(j, "agent.invocations")), 0);
    resp_free(&r);

    j = http_json("GET", "/api/agents/status", NULL, &r);
    assert_int_equal(r.status, 200);
    json_array_foreach(json_object_get(j, "agents"), i, a)
    {
        if (strcmp(jstr(a, "agent_type"), "qualification") == 0) {
            assert_int_equal(json_integer_value(json_object_get(a, "invocations")), 0);
            assert_int_equal(json_integer_value(json_object_get(a, "errors")), 0);
        }
    }
    resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enrichment),
        cmocka_unit_test(test_growth_and_marketing),
        cmocka_unit_test(test_agent_schemas),
        /* after test_agent_schemas: the counters count that test's invocations */
        cmocka_unit_test(test_agents_status_reset),
    };
    return api_exit_status(cmocka_run_group_tests(tests, api_group_setup, api_group_teardown));
}
