/* The binary with ENRICHMENT_PROVIDERS=local,apollo against the fake Apollo
 * (tests/fakes/fake_apollo.h, which checks every request against Apollo's documented
 * format): a company the local dataset does not know is enriched from Apollo, and every
 * field says so; the second invoke is a cache hit that sends nothing; a company the
 * local dataset knows is never asked of Apollo; with Apollo down the lead is still
 * processed and the breaker shows open in /metrics and /health; erasing a lead forgets
 * the person Apollo gave; the key never reaches the log. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_apollo.h"

#define KEY "apollo-test-9JqX2mVb7RcT"

static struct fake_apollo *fake;
static struct server srv;

static const char lead_brightline[] =
    "{\"company_name\":\"Brightline Freight Systems\",\"contact_info\":{\"name\":\"Priya "
    "Raman\",\"email\":\"priya.raman@brightlinefreight.com\",\"title\":\"VP Operations\"}}";

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    fake = fake_apollo_start(KEY);
    if (!fake)
        return -1;
    json_t *org = fake_apollo_sample_org("Brightline Freight Systems", "brightlinefreight.com");
    fake_apollo_add_org(fake, "brightlinefreight.com", org);
    json_decref(org);
    json_t *person =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", "Priya Raman", "title", "VP of Operations",
                  "seniority", "vp", "linkedin_url",
                  "http://www.linkedin.com/in/priya-raman-4b21a7", "email_status", "verified");
    fake_apollo_add_person(fake, "priya.raman@brightlinefreight.com", person);
    json_decref(person);
    memset(&srv, 0, sizeof srv);
    if (server_make_dir(&srv))
        return -1;
    server_setenv(&srv, "ENRICHMENT_PROVIDERS", "local,apollo");
    server_setenv(&srv, "APOLLO_API_KEY", KEY);
    server_setenv(&srv, "APOLLO_BASE_URL", fake_apollo_base_url(fake));
    server_setenv(&srv, "APOLLO_TIMEOUT_MS", "1500");
    server_setenv(&srv, "BREAKER_FAILURES", "2");
    server_setenv(&srv, "BREAKER_OPEN_SECONDS", "3600");
    if (server_start(&srv, false))
        return -1;
    harness_use(&srv);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int st = server_stop(&srv);
    char *log = server_read_log(&srv);
    bool leaked = log && strstr(log, KEY);
    if (leaked)
        fprintf(stderr, "the server log holds the Apollo key\n");
    free(log);
    server_remove_dir(&srv);
    const char *why = NULL;
    size_t bad = fake ? fake_apollo_invalid(fake, &why) : 0;
    if (bad)
        fprintf(stderr, "the fake Apollo saw %zu malformed requests: %s\n", bad, why);
    fake_apollo_stop(fake);
    http_cleanup();
    curl_global_cleanup();
    return exited_ok(st) && !bad && !leaked ? 0 : -1;
}

static const char *field_source(json_t *j, const char *field)
{
    return json_string_value(json_object_get(jget(j, "output.field_sources"), field));
}

/* The status the sources list gives provider for what ("company" or "person"), or NULL. */
static const char *source_status(json_t *j, const char *provider, const char *what)
{
    size_t i;
    json_t *s;
    json_array_foreach(jget(j, "output.sources"), i, s)
    {
        const char *p = json_string_value(json_object_get(s, "provider"));
        const char *f = json_string_value(json_object_get(s, "for"));
        if (p && strcmp(p, provider) == 0 && f && strcmp(f, what) == 0)
            return json_string_value(json_object_get(s, "status"));
    }
    return NULL;
}

static void test_enriched_from_apollo_then_cached(void **state)
{
    (void)state;
    size_t orgs = fake_apollo_requests_to(fake, FAKE_APOLLO_ORG_PATH);
    size_t people = fake_apollo_requests_to(fake, FAKE_APOLLO_PEOPLE_PATH);
    struct resp r;
    json_t *j = run_agent("enrichment", lead_brightline, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "output.company.name"), "Brightline Freight Systems");
    assert_string_equal(jstr(j, "output.company.country"), "US");
    assert_int_equal(json_integer_value(jget(j, "output.company.employees")), 340);
    assert_string_equal(jstr(j, "output.matched_by"), "domain");
    assert_false(json_is_true(jget(j, "output.cache_hit")));
    assert_string_equal(source_status(j, "local_dataset", "company"), "not_found");
    assert_string_equal(source_status(j, "apollo", "company"), "found");
    assert_string_equal(field_source(j, "company.industry"), "apollo");
    assert_string_equal(field_source(j, "company.employees"), "apollo");
    assert_string_equal(field_source(j, "company.revenue_band"), "apollo");
    assert_null(field_source(j, "company.competitors")); /* Apollo gives none */
    assert_string_equal(jstr(j, "output.person.title"), "VP of Operations");
    assert_string_equal(jstr(j, "output.person.seniority"), "vp");
    assert_string_equal(field_source(j, "person.title"), "apollo");
    assert_int_equal(fake_apollo_requests_to(fake, FAKE_APOLLO_ORG_PATH), orgs + 1);
    assert_int_equal(fake_apollo_requests_to(fake, FAKE_APOLLO_PEOPLE_PATH), people + 1);
    json_t *req = fake_apollo_request(fake, fake_apollo_requests(fake) - 1);
    assert_string_equal(json_string_value(json_object_get(req, "key")), KEY);
    resp_free(&r);
    /* again: from the cache, and nothing reaches Apollo */
    j = run_agent("enrichment", lead_brightline, &r);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(jget(j, "output.cache_hit")));
    assert_string_equal(jstr(j, "output.company.name"), "Brightline Freight Systems");
    assert_string_equal(field_source(j, "company.industry"), "apollo");
    assert_string_equal(field_source(j, "person.title"), "apollo");
    assert_int_equal(fake_apollo_requests_to(fake, FAKE_APOLLO_ORG_PATH), orgs + 1);
    assert_int_equal(fake_apollo_requests_to(fake, FAKE_APOLLO_PEOPLE_PATH), people + 1);
    resp_free(&r);
}

/* The local dataset answers first: Apollo is not asked for a company it knows. */
static void test_local_first(void **state)
{
    (void)state;
    size_t orgs = fake_apollo_requests_to(fake, FAKE_APOLLO_ORG_PATH);
    struct resp r;
    json_t *j = run_agent("enrichment", strong_known, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "output.company.domain"), "quorvianta.io");
    assert_string_equal(field_source(j, "company.industry"), "local_dataset");
    assert_null(source_status(j, "apollo", "company"));
    assert_int_equal(fake_apollo_requests_to(fake, FAKE_APOLLO_ORG_PATH), orgs);
    resp_free(&r);
}

/* Erasing the lead erases the person Apollo gave (cached under the e-mail): the next
 * invoke asks Apollo for the person again, while the company stays cached (its key is
 * the domain, not the person). */
static void test_erase_forgets_person(void **state)
{
    (void)state;
    struct resp r;
    json_t *j = run_agent("enrichment", lead_brightline, &r);
    assert_true(json_is_true(jget(j, "output.cache_hit")));
    char *path = strf("/api/leads/%s", jstr(j, "lead_id"));
    resp_free(&r);
    size_t people = fake_apollo_requests_to(fake, FAKE_APOLLO_PEOPLE_PATH);
    size_t orgs = fake_apollo_requests_to(fake, FAKE_APOLLO_ORG_PATH);
    http("DELETE", path, NULL, NULL, 0, &r);
    free(path);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    j = run_agent("enrichment", lead_brightline, &r);
    assert_string_equal(jstr(j, "output.person.title"), "VP of Operations");
    assert_int_equal(fake_apollo_requests_to(fake, FAKE_APOLLO_PEOPLE_PATH), people + 1);
    assert_int_equal(fake_apollo_requests_to(fake, FAKE_APOLLO_ORG_PATH), orgs);
    resp_free(&r);
}

static bool metric_has(const char *line)
{
    struct resp r;
    http("GET", "/metrics", NULL, NULL, 0, &r);
    bool has = r.status == 200 && strstr(r.body, line) != NULL;
    resp_free(&r);
    return has;
}

/* Apollo down: each lead is still processed, by the rules on what the lead says; after
 * BREAKER_FAILURES failures the breaker is open and Apollo is no longer tried. */
static void test_apollo_down(void **state)
{
    (void)state;
    assert_true(metric_has("circuit_breaker_state{provider=\"apollo\"} 0"));
    const char *why = NULL;
    if (fake_apollo_invalid(fake, &why))
        fail_msg("a malformed request to Apollo: %s", why);
    fake_apollo_stop(fake);
    fake = NULL;
    static const char *const domains[] = {"harborlight-logistics.com", "copperfield-dental.com",
                                          "northgate-solar.de"};
    for (int i = 0; i < 3; i++) {
        char *in = strf("{\"company_name\":\"Company %d\",\"industry\":\"Logistics\","
                        "\"company_size\":\"51-200\",\"contact_info\":{\"email\":\"ops@%s\"}}",
                        i, domains[i]);
        char *body = strf("{\"agent_type\":\"pipeline\",\"input\":%s}", in);
        struct resp r;
        json_t *j = invoke(body, &r);
        assert_int_equal(r.status, 200);
        assert_non_null(jget(j, "output.state.qualification_score.tier"));
        assert_true(json_is_null(jget(j, "output.state.enrichment_data.company")));
        resp_free(&r);
        free(body);
        free(in);
    }
    assert_true(metric_has("circuit_breaker_state{provider=\"apollo\"} 1"));
    assert_true(metric_has("connector_requests_total{connector=\"apollo\",status=\"error\"}"));
    /* /health caches its probes for a second: ask until the run after the failures */
    bool open = false;
    for (int i = 0; i < 50 && !open; i++) {
        struct resp r;
        json_t *h = http_json("GET", "/health", NULL, &r);
        const char *d = jstr(h, "backends.enrichment.detail");
        open = d && strstr(d, "apollo: open");
        assert_string_equal(jstr(h, "status"), "healthy"); /* degraded enrichment is not down */
        resp_free(&r);
        if (!open) {
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    assert_true(open);
    /* the open breaker: Apollo is skipped at once */
    struct resp r;
    json_t *j = run_agent("enrichment",
                          "{\"company_name\":\"Westbrook Tiles\",\"contact_info\":"
                          "{\"email\":\"info@westbrook-tiles.co.uk\"}}",
                          &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(source_status(j, "apollo", "company"), "skipped: circuit open");
    resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enriched_from_apollo_then_cached),
        cmocka_unit_test(test_local_first),
        cmocka_unit_test(test_erase_forgets_person),
        cmocka_unit_test(test_apollo_down),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
