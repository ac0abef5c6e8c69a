/* The enrichment agent's waterfall with a second vendor that is only a vtable in this file
 * (what a Clearbit- or PDL-style provider would be): the agent needs nothing about it.
 * Field sources (also from the cache), a rate-limited provider neither cached as "nothing
 * found" nor counted by the breaker, failures opening the breaker and the provider then
 * skipped, the person slot, and a cache entry written before field sources existed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agents/agent.h"
#include "base/buf.h"
#include "base/clock.h"
#include "connectors/enrichment/provider.h"
#include "domain/dataset.h"
#include "domain/lead.h"
#include "domain/profile.h"
#include "domain/scoring.h"
#include "metrics/metrics.h"
#include "store/store.h"

/* ---- a second vendor: answers from a script ---- */

struct stub {
    struct sa_enrich_provider base; /* first */
    int codes[8];                   /* lookup's answers in turn; then 0 */
    int next, calls, person_calls;
};

static int stub_lookup(struct sa_enrich_provider *p, const char *domain, const char *name,
                       json_t **company, const char **matched_by, struct sa_err *err)
{
    (void)name;
    struct stub *s = (struct stub *)p;
    s->calls++;
    int rc = s->next < 8 ? s->codes[s->next++] : 0;
    if (rc)
        return sa_err_set(err, rc, "stub: scripted %d", rc);
    *company = json_pack("{s:s, s:s, s:s, s:i, s:[]}", "name", "Larkspur Robotics", "domain",
                         domain, "industry", "Robotics", "employees", 85, "tech_stack");
    *matched_by = "domain";
    return 0;
}

static int stub_person(struct sa_enrich_provider *p, const struct sa_enrich_person_query *q,
                       json_t **person, struct sa_err *err)
{
    struct stub *s = (struct stub *)p;
    s->person_calls++;
    if (!q->email || strcmp(q->email, "imani.okoye@larkspur-robotics.com") != 0)
        return sa_err_set(err, SA_ENOTFOUND, "stub: nobody");
    *person = json_pack("{s:s, s:s}", "title", "Head of Automation", "seniority", "head");
    return 0;
}

static const struct sa_enrich_provider_ops stub_ops = {
    .name = "stub_vendor", .lookup = stub_lookup, .person = stub_person};

/* ---- fixtures ---- */

static struct {
    struct sa_model *model;
    struct sa_store *store;
    struct sa_dataset *dataset;
    struct sa_profile *profile;
    struct sa_metrics *metrics;
    struct sa_enrich_provider *local;
    struct stub stub;
    struct sa_agent *agent;
} f;

static int setup(void **state)
{
    (void)state;
    struct sa_err err = {0};
    const char *csv = SA_SOURCE_DIR "/data/companies.csv";
    if (sa_model_load(SA_SOURCE_DIR "/data", &f.model, &err) ||
        sa_store_open("sqlite::memory:", 1, &f.store, &err) || sa_store_migrate(f.store, &err) ||
        sa_dataset_load(&csv, 1, &f.dataset, &err) ||
        sa_enrich_local_new(f.dataset, &f.local, &err)) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    f.metrics = sa_metrics_new();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sa_enrich_provider_free(f.local);
    sa_dataset_free(f.dataset);
    sa_store_close(f.store);
    sa_model_free(f.model);
    sa_metrics_free(f.metrics);
    return 0;
}

static const struct sa_metric_desc m_breaker = {.name = "circuit_breaker_state",
                                                .help = "test",
                                                .kind = SA_GAUGE,
                                                .labels = {"provider", NULL}};

/* A new agent over [local, stub] whose stub answers codes in turn. */
static int new_agent(void **state)
{
    (void)state;
    memset(&f.stub, 0, sizeof f.stub);
    f.stub.base.ops = &stub_ops;
    static struct sa_enrich_provider *list[2];
    list[0] = f.local;
    list[1] = &f.stub.base;
    struct sa_agent_deps deps = {.model = f.model,
                                 .dataset = f.dataset,
                                 .store = f.store,
                                 .enrichment_ttl = 3600,
                                 .metrics = f.metrics,
                                 .m_breaker = sa_metrics_register(f.metrics, &m_breaker),
                                 .breaker_failures = 2,
                                 .breaker_open_seconds = 3600,
                                 .enrich_providers = list,
                                 .n_enrich_providers = 2};
    f.agent = sa_enrichment_new(&deps);
    return f.agent ? 0 : -1;
}

static int free_agent(void **state)
{
    (void)state;
    sa_agent_destroy(f.agent);
    return 0;
}

static json_t *run(const char *lead_json)
{
    json_error_t je;
    json_t *in = json_loads(lead_json, 0, &je);
    assert_non_null(in);
    struct sa_lead lead;
    json_t *detail = json_array();
    assert_int_equal(sa_lead_parse(in, "", &lead, detail), 0);
    json_decref(detail);
    json_decref(in);
    json_t *out = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_agent_run(f.agent, &lead, NULL, &out, &err), 0);
    sa_lead_clear(&lead);
    return out;
}

static const char *field_source(const json_t *out, const char *field)
{
    return json_string_value(json_object_get(json_object_get(out, "field_sources"), field));
}

static const char *status_of(const json_t *out, const char *provider, const char *what)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(out, "sources"), i, s)
    {
        const char *p = json_string_value(json_object_get(s, "provider"));
        const char *w = json_string_value(json_object_get(s, "for"));
        if (p && strcmp(p, provider) == 0 && w && strcmp(w, what) == 0)
            return json_string_value(json_object_get(s, "status"));
    }
    return NULL;
}

static void test_second_vendor_and_field_sources(void **state)
{
    (void)state;
    const char *lead = "{\"company_name\":\"Larkspur Robotics\",\"contact_info\":{\"email\":"
                       "\"imani.okoye@larkspur-robotics.com\"}}";
    json_t *out = run(lead);
    assert_string_equal(json_string_value(json_object_get(json_object_get(out, "company"), "name")),
                        "Larkspur Robotics");
    assert_string_equal(status_of(out, "local_dataset", "company"), "not_found");
    assert_string_equal(status_of(out, "stub_vendor", "company"), "found");
    assert_string_equal(field_source(out, "company.industry"), "stub_vendor");
    assert_string_equal(field_source(out, "company.employees"), "stub_vendor");
    assert_null(field_source(out, "company.tech_stack")); /* empty: nothing came */
    assert_string_equal(field_source(out, "person.title"), "stub_vendor");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(out, "person"), "seniority")), "head");
    json_decref(out);
    /* from the cache: no call, the same sources */
    out = run(lead);
    assert_true(json_is_true(json_object_get(out, "cache_hit")));
    assert_int_equal(f.stub.calls, 1);
    assert_int_equal(f.stub.person_calls, 1);
    assert_string_equal(field_source(out, "company.industry"), "stub_vendor");
    assert_string_equal(field_source(out, "person.title"), "stub_vendor");
    json_decref(out);
    /* a company of the local dataset: its fields say so, the stub is not asked */
    out = run("{\"company_name\":\"Altiocor\",\"website\":\"https://altiocor.io\"}");
    assert_string_equal(field_source(out, "company.industry"), "local_dataset");
    assert_int_equal(f.stub.calls, 1);
    json_decref(out);
}

/* A provider that held its call back (rate limit) is not a failure and not an answer. */
static void test_rate_limited_not_cached(void **state)
{
    (void)state;
    f.stub.codes[0] = SA_ECANCELED;
    f.stub.codes[1] = SA_ECANCELED;
    f.stub.codes[2] = SA_ECANCELED;
    const char *lead = "{\"company_name\":\"Quillmere Analytics\",\"website\":"
                       "\"https://quillmere-analytics.net\"}";
    for (int i = 0; i < 3; i++) { /* past BREAKER_FAILURES: still closed */
        json_t *out = run(lead);
        assert_false(json_is_true(json_object_get(out, "cache_hit")));
        assert_true(json_is_null(json_object_get(out, "company")));
        assert_string_equal(status_of(out, "stub_vendor", "company"), "skipped: rate limited");
        json_decref(out);
    }
    json_t *out = run(lead); /* asked again: "nothing" was not cached */
    assert_string_equal(status_of(out, "stub_vendor", "company"), "found");
    assert_int_equal(f.stub.calls, 4);
    json_decref(out);
}

/* Failures open the provider's breaker: then it is skipped, and the gauge says open. */
static void test_failures_open_breaker(void **state)
{
    (void)state;
    f.stub.codes[0] = SA_EIO;
    f.stub.codes[1] = SA_ETIMEDOUT;
    const char *leads[] = {"{\"company_name\":\"A\",\"website\":\"https://fernhollow-labs.com\"}",
                           "{\"company_name\":\"B\",\"website\":\"https://tidewater-grid.com\"}",
                           "{\"company_name\":\"C\",\"website\":\"https://oakvale-print.com\"}"};
    json_t *out = run(leads[0]);
    assert_string_equal(status_of(out, "stub_vendor", "company"), "error");
    json_decref(out);
    out = run(leads[1]);
    json_decref(out);
    out = run(leads[2]);
    assert_string_equal(status_of(out, "stub_vendor", "company"), "skipped: circuit open");
    assert_true(json_is_null(json_object_get(out, "company")));
    json_decref(out);
    assert_int_equal(f.stub.calls, 2);
    struct sa_buf b;
    sa_buf_init(&b, 1 << 20);
    assert_int_equal(sa_metrics_render(f.metrics, &b), 0);
    assert_non_null(strstr(b.data, "circuit_breaker_state{provider=\"stub_vendor\"} 1"));
    sa_buf_free(&b);
    /* not cached either: a later run (breaker closed again) would ask */
    json_t *cached = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_store_cache_get(f.store, "company:domain:oakvale-print.com", &cached, &err),
                     SA_ENOTFOUND);
}

/* An entry cached before field sources existed names no provider: the local dataset. */
static void test_old_cache_entry(void **state)
{
    (void)state;
    json_t *entry = json_pack("{s:{s:s, s:s}, s:s}", "company", "name", "Old Corp", "industry",
                              "Logistics", "matched_by", "domain");
    struct sa_err err = {0};
    assert_int_equal(sa_store_cache_put(f.store, "company:domain:old-corp.example", "local_dataset",
                                        entry, 3600, &err),
                     0);
    json_decref(entry);
    json_t *out = run("{\"company_name\":\"Old Corp\",\"website\":\"https://old-corp.example\"}");
    assert_true(json_is_true(json_object_get(out, "cache_hit")));
    assert_string_equal(field_source(out, "company.industry"), "local_dataset");
    json_decref(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_second_vendor_and_field_sources, new_agent,
                                        free_agent),
        cmocka_unit_test_setup_teardown(test_rate_limited_not_cached, new_agent, free_agent),
        cmocka_unit_test_setup_teardown(test_failures_open_breaker, new_agent, free_agent),
        cmocka_unit_test_setup_teardown(test_old_cache_entry, new_agent, free_agent),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
