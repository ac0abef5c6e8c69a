/* The Apollo enrichment provider against the fake Apollo (tests/fakes/fake_apollo.h, which
 * checks every request against Apollo's documented format): the mapping of an organization
 * and a person onto ours, "no match" as an answer, the usage headers feeding the limiter
 * (time moved with the fixed clock), a 429 with the hourly quota spent, a refused key
 * (and the key kept out of the log), 5xx then success, the deadline, the breaker, the
 * metrics, and ENRICHMENT_PROVIDERS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/config.h"
#include "base/log.h"
#include "connectors/enrichment/provider.h"
#include "connectors/http.h"
#include "fake_apollo.h"
#include "metrics/metrics.h"

#define KEY "kD8x_Qm2ZpVt7nR4yL9wAe"
#define T0 1796212800 /* 2026-12-01T12:00:00Z */

static struct fake_apollo *fake;

static struct sa_enrich_provider *open_apollo(int retries, int breaker_failures, int timeout_ms,
                                              struct sa_metrics *m)
{
    struct sa_apollo_config c = {.base_url = fake_apollo_base_url(fake),
                                 .api_key = KEY,
                                 .timeout_ms = timeout_ms,
                                 .max_retries = retries,
                                 .hourly_limit = 600,
                                 .minute_limit = 50,
                                 .breaker_failures = breaker_failures,
                                 .breaker_open_s = 30,
                                 .metrics = m};
    struct sa_enrich_provider *p = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_enrich_apollo_new(&c, &p, &err), 0);
    return p;
}

static int setup(void **state)
{
    (void)state;
    sa_clock_set_fixed(T0);
    fake = fake_apollo_start(KEY);
    if (!fake)
        return -1;
    json_t *org = fake_apollo_sample_org("Brightline Freight Systems", "brightlinefreight.com");
    fake_apollo_add_org(fake, "brightlinefreight.com", org);
    json_decref(org);
    json_t *person =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", "64a7f3e2b1c9d80001a2b3c4",
                  "first_name", "Priya", "last_name", "Raman", "name", "Priya Raman", "title",
                  "VP of Operations", "seniority", "vp", "linkedin_url",
                  "http://www.linkedin.com/in/priya-raman-4b21a7", "email_status", "verified",
                  "headline", "VP Operations at Brightline Freight Systems");
    fake_apollo_add_person(fake, "priya.raman@brightlinefreight.com", person);
    json_decref(person);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    const char *why = NULL;
    size_t bad = fake_apollo_invalid(fake, &why);
    if (bad)
        fprintf(stderr, "the fake Apollo saw %zu malformed requests: %s\n", bad, why);
    fake_apollo_stop(fake);
    sa_clock_set_fixed(0);
    return bad ? -1 : 0;
}

/* Each test starts with a fresh fake usage and an empty script. */
static int reset(void **state)
{
    (void)state;
    fake_apollo_usage(fake, 200, 400, 0, 0);
    sa_clock_set_fixed(T0);
    return 0;
}

static void test_organization_mapped(void **state)
{
    (void)state;
    struct sa_enrich_provider *p = open_apollo(-1, 5, 2000, NULL);
    size_t before = fake_apollo_requests(fake);
    json_t *c = NULL;
    const char *by = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_enrich_lookup(p, "brightlinefreight.com", "Brightline", &c, &by, &err), 0);
    assert_string_equal(by, "domain");
    assert_string_equal(json_string_value(json_object_get(c, "name")),
                        "Brightline Freight Systems");
    assert_string_equal(json_string_value(json_object_get(c, "domain")), "brightlinefreight.com");
    assert_string_equal(json_string_value(json_object_get(c, "industry")),
                        "Information technology & services");
    assert_int_equal(json_integer_value(json_object_get(c, "employees")), 340);
    assert_string_equal(json_string_value(json_object_get(c, "revenue_band")), "50M-100M");
    assert_true(json_real_value(json_object_get(c, "annual_revenue")) == 72500000.0);
    assert_string_equal(json_string_value(json_object_get(c, "country")), "US");
    assert_string_equal(json_string_value(json_object_get(c, "city")), "Austin");
    assert_int_equal(json_integer_value(json_object_get(c, "founded_year")), 2014);
    assert_string_equal(json_string_value(json_object_get(c, "funding_stage")), "series_b");
    assert_int_equal(json_array_size(json_object_get(c, "tech_stack")), 3);
    assert_string_equal(json_string_value(json_array_get(json_object_get(c, "tech_stack"), 1)),
                        "Amazon AWS");
    assert_string_equal(json_string_value(json_object_get(c, "linkedin_url")),
                        "http://www.linkedin.com/company/brightlinefreight");
    assert_non_null(json_string_value(json_object_get(c, "description")));
    json_decref(c);
    /* what went on the wire */
    assert_int_equal(fake_apollo_requests(fake), before + 1);
    json_t *req = fake_apollo_request(fake, before);
    assert_string_equal(json_string_value(json_object_get(req, "method")), "GET");
    assert_string_equal(json_string_value(json_object_get(req, "path")), FAKE_APOLLO_ORG_PATH);
    assert_string_equal(json_string_value(json_object_get(json_object_get(req, "query"), "domain")),
                        "brightlinefreight.com");
    assert_string_equal(json_string_value(json_object_get(req, "key")), KEY);
    assert_string_equal(sa_enrich_provider_breaker(p), "closed");
    sa_enrich_provider_free(p);
}

static void test_no_match(void **state)
{
    (void)state;
    struct sa_enrich_provider *p = open_apollo(-1, 5, 2000, NULL);
    json_t *c = NULL;
    const char *by = NULL;
    struct sa_err err = {0};
    /* unknown to the fake: "organization": null */
    assert_int_equal(sa_enrich_lookup(p, "zzyzx-widgets.example", NULL, &c, &by, &err),
                     SA_ENOTFOUND);
    assert_null(c);
    /* "organization": {} */
    fake_apollo_push(fake, &(struct fake_apollo_reply){.path = FAKE_APOLLO_ORG_PATH,
                                                       .body = "{\"organization\":{}}"});
    assert_int_equal(sa_enrich_lookup(p, "brightlinefreight.com", NULL, &c, &by, &err),
                     SA_ENOTFOUND);
    /* a name alone is not asked about: Apollo enriches organizations by domain */
    size_t before = fake_apollo_requests(fake);
    assert_int_equal(sa_enrich_lookup(p, NULL, "Brightline Freight", &c, &by, &err), SA_ENOTFOUND);
    assert_int_equal(fake_apollo_requests(fake), before);
    /* a person Apollo does not know: "person": null */
    json_t *person = NULL;
    struct sa_enrich_person_query q = {.email = "nobody@zzyzx-widgets.example"};
    assert_int_equal(sa_enrich_person(p, &q, &person, &err), SA_ENOTFOUND);
    assert_null(person);
    assert_string_equal(sa_enrich_provider_breaker(p), "closed");
    sa_enrich_provider_free(p);
}

static void test_person(void **state)
{
    (void)state;
    struct sa_enrich_provider *p = open_apollo(-1, 5, 2000, NULL);
    json_t *person = NULL;
    struct sa_err err = {0};
    size_t before = fake_apollo_requests(fake);
    struct sa_enrich_person_query q = {.email = "priya.raman@brightlinefreight.com",
                                       .first_name = "Priya",
                                       .last_name = "Raman",
                                       .domain = "brightlinefreight.com"};
    assert_int_equal(sa_enrich_person(p, &q, &person, &err), 0);
    assert_string_equal(json_string_value(json_object_get(person, "title")), "VP of Operations");
    assert_string_equal(json_string_value(json_object_get(person, "seniority")), "vp");
    assert_string_equal(json_string_value(json_object_get(person, "linkedin_url")),
                        "http://www.linkedin.com/in/priya-raman-4b21a7");
    json_decref(person);
    json_t *body = json_object_get(fake_apollo_request(fake, before), "body");
    assert_string_equal(json_string_value(json_object_get(body, "email")),
                        "priya.raman@brightlinefreight.com");
    /* without an e-mail: the name and the company */
    q = (struct sa_enrich_person_query){.first_name = "Jonas",
                                        .last_name = "Müller",
                                        .organization_name = "Brightline Freight Systems",
                                        .domain = "brightlinefreight.com"};
    assert_int_equal(sa_enrich_person(p, &q, &person, &err), SA_ENOTFOUND);
    body = json_object_get(fake_apollo_request(fake, before + 1), "body");
    assert_string_equal(json_string_value(json_object_get(body, "last_name")), "Müller");
    assert_string_equal(json_string_value(json_object_get(body, "domain")),
                        "brightlinefreight.com");
    assert_null(json_object_get(body, "email"));
    /* a first name alone identifies nobody: not asked */
    q = (struct sa_enrich_person_query){.first_name = "Jonas"};
    assert_int_equal(sa_enrich_person(p, &q, &person, &err), SA_ENOTFOUND);
    assert_int_equal(fake_apollo_requests(fake), before + 2);
    sa_enrich_provider_free(p);
}

/* The usage headers shrink the buckets; a call they cannot pay for is not made; time
 * (the fixed clock) refills them. */
static void test_usage_headers_feed_limiter(void **state)
{
    (void)state;
    struct sa_enrich_provider *p = open_apollo(-1, 5, 2000, NULL);
    double m, h, until;
    sa_enrich_apollo_limits(p, &m, &h, &until);
    assert_true(m == 50 && h == 600 && until == 0); /* our own caps */
    /* Apollo: 5 a minute, 3 spent already by another process of the team */
    fake_apollo_usage(fake, 5, 400, 3, 3);
    json_t *c = NULL;
    const char *by;
    struct sa_err err = {0};
    assert_int_equal(sa_enrich_lookup(p, "brightlinefreight.com", NULL, &c, &by, &err), 0);
    json_decref(c);
    sa_enrich_apollo_limits(p, &m, &h, &until);
    assert_true(m == 1); /* x-minute-requests-left: 1 */
    assert_true(h == 396);
    assert_int_equal(sa_enrich_lookup(p, "brightlinefreight.com", NULL, &c, &by, &err), 0);
    json_decref(c);
    size_t before = fake_apollo_requests(fake);
    assert_int_equal(sa_enrich_lookup(p, "brightlinefreight.com", NULL, &c, &by, &err),
                     SA_ECANCELED);
    assert_int_equal(fake_apollo_requests(fake), before); /* not asked */
    /* twelve seconds later the minute bucket (5 a minute) has one token again */
    sa_clock_set_fixed(T0 + 12);
    fake_apollo_usage(fake, 5, 400, 0, 5);
    assert_int_equal(sa_enrich_lookup(p, "brightlinefreight.com", NULL, &c, &by, &err), 0);
    json_decref(c);
    assert_int_equal(fake_apollo_requests(fake), before + 1);
    sa_enrich_provider_free(p);
}

/* A 429 with the hourly quota spent: not retried, and nothing is sent until Retry-After. */
static void test_429_hourly(void **state)
{
    (void)state;
    struct sa_enrich_provider *p = open_apollo(2, 5, 2000, NULL);
    static const char *const h429[] = {"x-hourly-requests-left: 0", "x-minute-requests-left: 37",
                                       "retry-after: 1800", NULL};
    fake_apollo_push(
        fake, &(struct fake_apollo_reply){
                  .status = 429,
                  .headers = h429,
                  .body = "{\"message\":\"The maximum number of api calls allowed for "
                          "api/v1/organizations/enrich is 400 times per hour. Please upgrade "
                          "your plan from https://app.apollo.io/#/settings/plans/upgrade.\"}"});
    size_t before = fake_apollo_requests(fake);
    json_t *c = NULL;
    const char *by;
    struct sa_err err = {0};
    assert_int_equal(sa_enrich_lookup(p, "brightlinefreight.com", NULL, &c, &by, &err),
                     SA_ECANCELED);
    assert_int_equal(fake_apollo_requests(fake), before + 1); /* no retry */
    double m, h, until;
    sa_enrich_apollo_limits(p, &m, &h, &until);
    assert_true(h == 0);
    assert_true(until == T0 + 1800);
    assert_int_equal(sa_enrich_lookup(p, "brightlinefreight.com", NULL, &c, &by, &err),
                     SA_ECANCELED);
    assert_int_equal(fake_apollo_requests(fake), before + 1);
    /* a 429 is the vendor limiting us, not the vendor failing */
    assert_string_equal(sa_enrich_provider_breaker(p), "closed");
    sa_clock_set_fixed(T0 + 1801);
    assert_int_equal(sa_enrich_lookup(p, "brightlinefreight.com", NULL, &c, &by, &err), 0);
    json_decref(c);
    sa_enrich_provider_free(p);
}

/* A minute limit is worth one retry after its Retry-After. */
static void test_429_minute_retried(void **state)
{
    (void)state;
    struct sa_enrich_provider *p = open_apollo(2, 5, 5000, NULL);
    static const char *const h429[] = {"x-minute-requests-left: 0", "x-hourly-requests-left: 120",
                                       "retry-after: 0", NULL};
    fake_apollo_push(fake, &(struct fake_apollo_reply){
                               .status = 429, .headers = h429, .body = "{\"message\":\"slow\"}"});
    size_t before = fake_apollo_requests(fake);
    json_t *c = NULL;
    const char *by;
    struct sa_err err = {0};
    assert_int_equal(sa_enrich_lookup(p, "brightlinefreight.com", NULL, &c, &by, &err), 0);
    json_decref(c);
    assert_int_equal(fake_apollo_requests(fake), before + 2);
    sa_enrich_provider_free(p);
}

/* A refused key: SA_ECONFIG, not retried, logged without the key. */
static void test_401(void **state)
{
    (void)state;
    struct sa_apollo_config cfg = {
        .base_url = fake_apollo_base_url(fake), .api_key = "wrong-key-Zr81", .max_retries = 2};
    struct sa_enrich_provider *p = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_enrich_apollo_new(&cfg, &p, &err), 0);
    FILE *log = tmpfile();
    assert_non_null(log);
    sa_log_setup(SA_LOG_INFO, fileno(log));
    size_t before = fake_apollo_requests(fake);
    json_t *c = NULL;
    const char *by;
    assert_int_equal(sa_enrich_lookup(p, "brightlinefreight.com", NULL, &c, &by, &err), SA_ECONFIG);
    assert_int_equal(fake_apollo_requests(fake), before + 1);
    assert_null(strstr(err.msg, "wrong-key"));
    sa_log_setup(SA_LOG_INFO, 2);
    char text[4096] = "";
    rewind(log);
    size_t n = fread(text, 1, sizeof text - 1, log);
    text[n] = '\0';
    fclose(log);
    assert_non_null(strstr(text, "apollo refused the API key"));
    assert_null(strstr(text, "wrong-key"));
    sa_enrich_provider_free(p);
}

static void test_5xx_then_success(void **state)
{
    (void)state;
    struct sa_metrics *m = sa_metrics_new();
    struct sa_enrich_provider *p = open_apollo(2, 5, 5000, m);
    static const char *const ra[] = {"Retry-After: 0", NULL};
    fake_apollo_push(fake, &(struct fake_apollo_reply){
                               .status = 500, .headers = ra, .body = "{\"error\":\"internal\"}"});
    size_t before = fake_apollo_requests(fake);
    json_t *c = NULL;
    const char *by;
    struct sa_err err = {0};
    assert_int_equal(sa_enrich_lookup(p, "brightlinefreight.com", NULL, &c, &by, &err), 0);
    json_decref(c);
    assert_int_equal(fake_apollo_requests(fake), before + 2);
    struct sa_buf out;
    sa_buf_init(&out, 1 << 20);
    assert_int_equal(sa_metrics_render(m, &out), 0);
    assert_non_null(
        strstr(out.data, "connector_requests_total{connector=\"apollo\",status=\"200\"} 1"));
    assert_non_null(strstr(out.data, "connector_request_seconds_count{connector=\"apollo\"} 1"));
    sa_buf_free(&out);
    sa_enrich_provider_free(p);
    sa_metrics_free(m);
}

/* An answer that never comes: the lookup ends at its deadline. */
static void test_deadline(void **state)
{
    (void)state;
    struct sa_enrich_provider *p = open_apollo(2, 5, 300, NULL);
    fake_apollo_push(fake, &(struct fake_apollo_reply){.hang_ms = 5000});
    json_t *c = NULL;
    const char *by;
    struct sa_err err = {0};
    assert_int_equal(sa_enrich_lookup(p, "brightlinefreight.com", NULL, &c, &by, &err),
                     SA_ETIMEDOUT);
    assert_null(c);
    sa_enrich_provider_free(p);
}

/* Failures open the connection breaker: the next call is refused without a request. */
static void test_breaker_opens(void **state)
{
    (void)state;
    struct sa_enrich_provider *p = open_apollo(0, 2, 2000, NULL);
    for (int i = 0; i < 2; i++)
        fake_apollo_push(fake, &(struct fake_apollo_reply){.status = 503, .body = "{}"});
    json_t *c = NULL;
    const char *by;
    struct sa_err err = {0};
    assert_int_equal(sa_enrich_lookup(p, "brightlinefreight.com", NULL, &c, &by, &err), SA_EIO);
    assert_string_equal(sa_enrich_provider_breaker(p), "closed");
    assert_int_equal(sa_enrich_lookup(p, "brightlinefreight.com", NULL, &c, &by, &err), SA_EIO);
    assert_string_equal(sa_enrich_provider_breaker(p), "open");
    size_t before = fake_apollo_requests(fake);
    assert_int_equal(sa_enrich_lookup(p, "brightlinefreight.com", NULL, &c, &by, &err), SA_EIO);
    assert_int_equal(fake_apollo_requests(fake), before);
    sa_enrich_provider_free(p);
}

static void test_providers_setting(void **state)
{
    (void)state;
    struct sa_config cfg = {0};
    struct sa_enrich_provider *ps[4];
    int n = -1;
    struct sa_err err = {0};
    /* default: the local dataset alone, left out without data/companies.csv */
    assert_int_equal(sa_enrich_providers_open(&cfg, NULL, NULL, ps, 4, &n, &err), 0);
    assert_int_equal(n, 0);
    cfg.enrichment_providers = "local, apollo";
    assert_int_equal(sa_enrich_providers_open(&cfg, NULL, NULL, ps, 4, &n, &err), SA_ECONFIG);
    assert_non_null(strstr(err.msg, "APOLLO_API_KEY"));
    assert_int_equal(n, 0);
    cfg.apollo_api_key = KEY;
    cfg.apollo_base_url = fake_apollo_base_url(fake);
    assert_int_equal(sa_enrich_providers_open(&cfg, NULL, NULL, ps, 4, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(sa_enrich_provider_name(ps[0]), "apollo");
    sa_enrich_provider_free(ps[0]);
    cfg.enrichment_providers = "apollo,clearbit";
    assert_int_equal(sa_enrich_providers_open(&cfg, NULL, NULL, ps, 4, &n, &err), SA_ECONFIG);
    assert_non_null(strstr(err.msg, "clearbit"));
    assert_int_equal(n, 0);
    cfg.enrichment_providers = "apollo,apollo";
    assert_int_equal(sa_enrich_providers_open(&cfg, NULL, NULL, ps, 4, &n, &err), SA_ECONFIG);
}

/* The fake's checks fail what Apollo would not take: they can fail. */
static void test_fake_checks(void **state)
{
    (void)state;
    struct sa_conn_http *h = NULL;
    struct sa_err err = {0};
    assert_int_equal(
        sa_conn_http_new(&(struct sa_conn_http_config){.name = "raw", .max_retries = 0}, &h, &err),
        0);
    char url[256];
    static const struct {
        const char *method, *path, *body;
        const char *const headers[4];
        const char *why;
    } cases[] = {
        {"GET",
         FAKE_APOLLO_ORG_PATH "?domain=brightlinefreight.com",
         NULL,
         {"Cache-Control: no-cache", NULL},
         "no X-Api-Key"},
        {"GET",
         FAKE_APOLLO_ORG_PATH "?domain=brightlinefreight.com",
         NULL,
         {"X-Api-Key: " KEY, NULL},
         "Cache-Control"},
        {"GET",
         FAKE_APOLLO_ORG_PATH "?domain=https%3A%2F%2Fbrightlinefreight.com%2F",
         NULL,
         {"X-Api-Key: " KEY, "Cache-Control: no-cache", NULL},
         "not a host name"},
        {"POST",
         FAKE_APOLLO_ORG_PATH "?domain=brightlinefreight.com",
         NULL,
         {"X-Api-Key: " KEY, "Cache-Control: no-cache", NULL},
         "expected GET"},
        {"POST",
         FAKE_APOLLO_PEOPLE_PATH,
         "{\"email\":\"a@b.co\",\"api_key\":\"" KEY "\"}",
         {"X-Api-Key: " KEY, "Cache-Control: no-cache", "Content-Type: application/json", NULL},
         "the key in the body"},
        {"POST",
         FAKE_APOLLO_PEOPLE_PATH,
         "{\"first_name\":\"Priya\"}",
         {"X-Api-Key: " KEY, "Cache-Control: no-cache", "Content-Type: application/json", NULL},
         "nothing identifies"},
        {"POST",
         FAKE_APOLLO_PEOPLE_PATH,
         "{\"email\":42}",
         {"X-Api-Key: " KEY, "Cache-Control: no-cache", "Content-Type: application/json", NULL},
         "wrong type"},
        {"GET",
         "/v1/organizations/enrich?domain=brightlinefreight.com",
         NULL,
         {"X-Api-Key: " KEY, "Cache-Control: no-cache", NULL},
         "not an Apollo"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_apollo_clear_invalid(fake);
        snprintf(url, sizeof url, "%s%s", fake_apollo_base_url(fake), cases[i].path);
        struct sa_conn_req req = {.method = cases[i].method,
                                  .url = url,
                                  .headers = cases[i].headers,
                                  .body = cases[i].body,
                                  .body_len = cases[i].body ? strlen(cases[i].body) : 0};
        struct sa_conn_resp r;
        assert_int_equal(sa_conn_http_do(h, &req, &r, &err), 0);
        sa_conn_resp_free(&r);
        const char *why = NULL;
        assert_int_equal(fake_apollo_invalid(fake, &why), 1);
        if (!strstr(why, cases[i].why))
            fail_msg("case %zu: expected '%s' in '%s'", i, cases[i].why, why);
    }
    fake_apollo_clear_invalid(fake);
    sa_conn_http_free(h);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_organization_mapped, reset),
        cmocka_unit_test_setup(test_no_match, reset),
        cmocka_unit_test_setup(test_person, reset),
        cmocka_unit_test_setup(test_usage_headers_feed_limiter, reset),
        cmocka_unit_test_setup(test_429_hourly, reset),
        cmocka_unit_test_setup(test_429_minute_retried, reset),
        cmocka_unit_test_setup(test_401, reset),
        cmocka_unit_test_setup(test_5xx_then_success, reset),
        cmocka_unit_test_setup(test_deadline, reset),
        cmocka_unit_test_setup(test_breaker_opens, reset),
        cmocka_unit_test_setup(test_providers_setting, reset),
        cmocka_unit_test_setup(test_fake_checks, reset),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
