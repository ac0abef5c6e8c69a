/* The HubSpot backend of the CRM slot against the fake HubSpot (tests/fakes/fake_hubspot.h):
 * leads become one contact each (upserted on e-mail) with their company (upserted on
 * domain) and the association, whatever is retried; activities become notes; a 409 is
 * resolved by updating the existing contact; a rolling 429 is waited out, a DAILY one
 * defers; a 5xx or a hang is retried without duplicates; the field map; dry-run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/clock.h"
#include "base/config.h"
#include "connectors/crm/crm.h"
#include "fake_hubspot.h"

#define TOKEN "pat-na1-11111111-2222-4333-8444-555555555555"

static struct fake_hubspot *fake;

static int setup(void **state)
{
    (void)state;
    fake = fake_hubspot_start(TOKEN);
    return fake ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    const char *why = NULL;
    size_t invalid = fake_hubspot_invalid(fake, &why);
    if (invalid)
        fprintf(stderr, "fake HubSpot: %zu malformed requests, first: %s\n", invalid, why);
    fake_hubspot_stop(fake);
    fake = NULL;
    return invalid ? -1 : 0;
}

static struct sa_crm *open_crm(const char *field_map, int dry_run, int timeout_ms)
{
    struct sa_config cfg = {.crm_provider = SA_CRM_HUBSPOT,
                            .hubspot_access_token = TOKEN,
                            .hubspot_base_url = fake_hubspot_base_url(fake),
                            .crm_field_map = field_map,
                            .crm_dry_run = dry_run,
                            .crm_timeout_ms = timeout_ms};
    struct sa_crm *c = NULL;
    struct sa_err err = {0};
    int rc = sa_crm_open(&cfg, NULL, &c, &err);
    if (rc)
        fprintf(stderr, "sa_crm_open: %s\n", err.msg);
    assert_int_equal(rc, 0);
    return c;
}

static json_t *lead(const char *email, const char *first, const char *last, const char *company,
                    const char *domain, int score, const char *tier)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s}", "lead_id",
                     "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "email", email, "first_name", first,
                     "last_name", last, "title", "VP Engineering", "company", company, "domain",
                     domain, "score", score, "tier", tier, "reasoning",
                     "Series B SaaS, 120 employees, hiring data engineers; fits the ICP");
}

static void free_all(json_t **a, int n)
{
    for (int i = 0; i < n; i++)
        json_decref(a[i]);
}

static void test_leads_land_once_with_company(void **state)
{
    (void)state;
    struct sa_crm *c = open_crm(NULL, 0, 5000);
    assert_int_equal(sa_crm_batch_max(c), 100);
    json_t *leads[3] = {
        lead("jane.doe@northwind-analytics.com", "Jane", "Doe", "Northwind Analytics",
             "northwind-analytics.com", 87, "A"),
        lead("o.brien@northwind-analytics.com", "Seán", "O'Brien", "Northwind Analytics",
             "northwind-analytics.com", 64, "B"),
        lead("mueller@bäckerei-koch.de", "Jürgen", "Müller", "Bäckerei Koch GmbH",
             "xn--bckerei-koch-xib.de", 41, "C"),
    };
    struct sa_crm_result res[3];
    assert_int_equal(sa_crm_upsert_leads(c, leads, 3, res), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(res[i].outcome, SA_CRM_DONE);
        assert_true(res[i].id[0] != '\0');
    }
    /* one call per step: companies, contacts, associations */
    assert_int_equal(fake_hubspot_requests(fake, NULL), 3);
    assert_int_equal(fake_hubspot_count(fake, "contacts"), 3);
    assert_int_equal(fake_hubspot_count(fake, "companies"), 2);
    assert_int_equal(fake_hubspot_count(fake, "associations"), 3);
    json_t *jane = fake_hubspot_contact(fake, "jane.doe@northwind-analytics.com");
    json_t *props = json_object_get(jane, "properties");
    assert_string_equal(json_string_value(json_object_get(props, "lead_score")), "87");
    assert_string_equal(json_string_value(json_object_get(props, "lead_tier")), "A");
    assert_string_equal(json_string_value(json_object_get(props, "firstname")), "Jane");
    assert_non_null(strstr(json_string_value(json_object_get(props, "lead_reasoning")), "ICP"));
    assert_string_equal(json_string_value(json_object_get(jane, "id")), res[0].id);
    json_t *co = fake_hubspot_company(fake, "northwind-analytics.com");
    assert_true(
        fake_hubspot_associated(fake, res[0].id, json_string_value(json_object_get(co, "id"))));
    /* the same push again (a retry): still one contact each, updated */
    json_object_set_new(leads[0], "score", json_integer(91));
    assert_int_equal(sa_crm_upsert_leads(c, leads, 3, res), 0);
    assert_int_equal(fake_hubspot_count(fake, "contacts"), 3);
    assert_int_equal(fake_hubspot_count(fake, "companies"), 2);
    assert_int_equal(fake_hubspot_count(fake, "associations"), 3);
    json_decref(jane);
    jane = fake_hubspot_contact(fake, "jane.doe@northwind-analytics.com");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(jane, "properties"), "lead_score")),
        "91");
    json_decref(jane);
    json_decref(co);
    free_all(leads, 3);
    sa_crm_free(c);
}

static void test_409_updates_the_existing_contact(void **state)
{
    (void)state;
    struct sa_crm *c = open_crm(NULL, 0, 5000);
    char existing[32];
    snprintf(existing, sizeof existing, "%s",
             fake_hubspot_seed_contact(fake, "priya.raman@contoso.io"));
    fake_hubspot_fault(fake, "/crm/v3/objects/contacts/batch/upsert", FAKE_HS_409, 1,
                       strtol(existing, NULL, 10));
    json_t *l[1] = {
        lead("priya.raman@contoso.io", "Priya", "Raman", "Contoso", "contoso.io", 78, "B")};
    struct sa_crm_result res[1];
    assert_int_equal(sa_crm_upsert_leads(c, l, 1, res), 0);
    assert_int_equal(res[0].outcome, SA_CRM_DONE);
    assert_string_equal(res[0].id, existing);
    assert_int_equal(fake_hubspot_count(fake, "contacts"), 1);
    assert_int_equal(fake_hubspot_requests(fake, "/crm/v3/objects/contacts/"), 2); /* + PATCH */
    json_t *p = fake_hubspot_contact(fake, "priya.raman@contoso.io");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(p, "properties"), "lead_tier")), "B");
    json_t *co = fake_hubspot_company(fake, "contoso.io");
    assert_true(
        fake_hubspot_associated(fake, existing, json_string_value(json_object_get(co, "id"))));
    json_decref(co);
    json_decref(p);
    free_all(l, 1);
    sa_crm_free(c);
}

static void test_5xx_retried_then_given_back(void **state)
{
    (void)state;
    struct sa_crm *c = open_crm(NULL, 0, 20000);
    json_t *l[1] = {lead("ana@fabrikam.es", "Ana", "García", "Fabrikam", "fabrikam.es", 70, "B")};
    struct sa_crm_result res[1];
    /* one 500: the client retries inside the call */
    fake_hubspot_fault(fake, "/crm/v3/objects/contacts/batch/upsert", FAKE_HS_500, 1, 0);
    assert_int_equal(sa_crm_upsert_leads(c, l, 1, res), 0);
    assert_int_equal(res[0].outcome, SA_CRM_DONE);
    assert_int_equal(fake_hubspot_count(fake, "contacts"), 1);
    /* a lasting outage: the item is given back for the outbox's retry */
    fake_hubspot_fault(fake, "/crm/v3/objects/companies/batch/upsert", FAKE_HS_500, 10, 0);
    assert_int_equal(sa_crm_upsert_leads(c, l, 1, res), 0);
    assert_int_equal(res[0].outcome, SA_CRM_RETRY);
    assert_non_null(strstr(res[0].error, "500"));
    assert_int_equal(fake_hubspot_count(fake, "contacts"), 1);
    free_all(l, 1);
    sa_crm_free(c);
}

static void test_rate_limits(void **state)
{
    (void)state;
    struct sa_crm *c = open_crm(NULL, 0, 20000);
    json_t *l[1] = {
        lead("kim@tailspin.co.kr", "Min-jun", "Kim", "Tailspin", "tailspin.co.kr", 55, "C")};
    struct sa_crm_result res[1];
    fake_hubspot_fault(fake, "/crm/v3/objects/contacts/batch/upsert", FAKE_HS_429_ROLLING, 1, 0);
    assert_int_equal(sa_crm_upsert_leads(c, l, 1, res), 0);
    assert_int_equal(res[0].outcome, SA_CRM_DONE); /* waited and retried */
    assert_int_equal(fake_hubspot_requests(fake, "/crm/v3/objects/contacts/batch/upsert"), 2);
    size_t before = fake_hubspot_requests(fake, NULL);
    fake_hubspot_fault(fake, "/crm/v3/objects/companies/batch/upsert", FAKE_HS_429_DAILY, 1, 0);
    double now = sa_wall_seconds();
    assert_int_equal(sa_crm_upsert_leads(c, l, 1, res), 0);
    assert_int_equal(res[0].outcome, SA_CRM_DEFER); /* not failed, not retried now */
    assert_true(res[0].retry_at > (long long)now);
    assert_int_equal(fake_hubspot_requests(fake, NULL), before + 1);
    free_all(l, 1);
    sa_crm_free(c);
}

static void test_hang_then_retry_keeps_one(void **state)
{
    (void)state;
    struct sa_crm *c = open_crm(NULL, 0, 400);
    json_t *l[1] = {lead("l.martin@adatum.fr", "Léa", "Martin", "Adatum", "adatum.fr", 82, "A")};
    struct sa_crm_result res[1];
    /* the contacts' upsert lands but answers after the deadline */
    fake_hubspot_fault(fake, "/crm/v3/objects/contacts/batch/upsert", FAKE_HS_HANG, 1, 1500);
    assert_int_equal(sa_crm_upsert_leads(c, l, 1, res), 0);
    assert_int_equal(res[0].outcome, SA_CRM_RETRY);
    sleep(2); /* let the hanging answer finish before the retry: not a timing assert */
    assert_int_equal(sa_crm_upsert_leads(c, l, 1, res), 0);
    assert_int_equal(res[0].outcome, SA_CRM_DONE);
    assert_int_equal(fake_hubspot_count(fake, "contacts"), 1);
    assert_int_equal(fake_hubspot_count(fake, "associations"), 1);
    free_all(l, 1);
    sa_crm_free(c);
}

static void test_activities_are_notes(void **state)
{
    (void)state;
    struct sa_crm *c = open_crm(NULL, 0, 5000);
    json_t *a[2] = {
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "activity_id",
                  "outbox:0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c", "email", "jane@litware.com",
                  "type", "email", "at", "2026-03-02T09:15:00Z", "subject",
                  "Quick question about Litware's data stack", "body",
                  "Hi Jane,\nWould <b>Tuesday</b> work? R&D asked.\n"),
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "activity_id", "turn:0190a1b2-0000-7000-8000-1",
                  "email", "jane@litware.com", "type", "reply", "subject", "Reply received", "body",
                  "Sounds good, Tuesday 10am works."),
    };
    struct sa_crm_result res[2];
    assert_int_equal(sa_crm_add_activities(c, a, 2, res), 0);
    assert_int_equal(res[0].outcome, SA_CRM_DONE);
    assert_int_equal(res[1].outcome, SA_CRM_DONE);
    assert_int_equal(fake_hubspot_count(fake, "notes"), 2);
    assert_int_equal(fake_hubspot_count(fake, "contacts"), 1); /* created for the notes */
    json_t *notes = fake_hubspot_notes(fake);
    json_t *p = json_object_get(json_array_get(notes, 0), "properties");
    const char *html = json_string_value(json_object_get(p, "hs_note_body"));
    assert_non_null(strstr(html, "E-mail sent"));
    assert_non_null(strstr(html, "&lt;b&gt;Tuesday&lt;/b&gt;"));
    assert_non_null(strstr(html, "R&amp;D"));
    assert_string_equal(json_string_value(json_object_get(p, "hs_timestamp")),
                        "2026-03-02T09:15:00Z");
    json_t *jane = fake_hubspot_contact(fake, "jane@litware.com");
    assert_string_equal(json_string_value(json_object_get(json_array_get(notes, 0), "contact")),
                        json_string_value(json_object_get(jane, "id")));
    json_decref(jane);
    json_decref(notes);
    free_all(a, 2);
    sa_crm_free(c);
}

static void test_field_map_and_dry_run(void **state)
{
    (void)state;
    json_t *m = json_object();
    struct sa_err err = {0};
    assert_int_equal(sa_crm_field_map_parse("score=hs_lead_score,tier=lead_grade", m, &err), 0);
    assert_string_equal(json_string_value(json_object_get(m, "score")), "hs_lead_score");
    assert_int_equal(sa_crm_field_map_parse("{\"reasoning\": \"ai_notes\"}", m, &err), 0);
    assert_string_equal(json_string_value(json_object_get(m, "reasoning")), "ai_notes");
    assert_int_equal(sa_crm_field_map_parse("score=", m, &err), SA_ECONFIG);
    assert_int_equal(sa_crm_field_map_parse("/nonexistent/map.json", m, &err), SA_ECONFIG);
    assert_int_equal(sa_crm_field_map_parse("{\"score\": 3}", m, &err), SA_ECONFIG);
    json_decref(m);

    struct sa_crm *c = open_crm("score=hs_lead_score,tier=lead_grade", 0, 5000);
    json_t *l[1] = {lead("tom@proseware.com", "Tom", "Ng", "Proseware", "proseware.com", 90, "A")};
    struct sa_crm_result res[1];
    assert_int_equal(sa_crm_upsert_leads(c, l, 1, res), 0);
    json_t *tom = fake_hubspot_contact(fake, "tom@proseware.com");
    json_t *props = json_object_get(tom, "properties");
    assert_string_equal(json_string_value(json_object_get(props, "hs_lead_score")), "90");
    assert_string_equal(json_string_value(json_object_get(props, "lead_grade")), "A");
    assert_null(json_object_get(props, "lead_score"));
    json_decref(tom);
    sa_crm_free(c);

    c = open_crm(NULL, 1, 5000);
    size_t before = fake_hubspot_requests(fake, NULL);
    json_object_set_new(l[0], "email", json_string("someone.else@proseware.com"));
    assert_int_equal(sa_crm_upsert_leads(c, l, 1, res), 0);
    assert_int_equal(res[0].outcome, SA_CRM_DONE);
    assert_string_equal(res[0].id, "dry-run");
    assert_int_equal(fake_hubspot_requests(fake, NULL), before); /* nothing sent */
    free_all(l, 1);
    sa_crm_free(c);
}

/* While the breaker is open nothing is sent and the items wait: deferred, not failed. */
static void test_open_breaker_defers(void **state)
{
    (void)state;
    struct sa_config cfg = {.crm_provider = SA_CRM_HUBSPOT,
                            .hubspot_access_token = TOKEN,
                            .hubspot_base_url = fake_hubspot_base_url(fake),
                            .crm_timeout_ms = 20000,
                            .breaker_failures = 1,
                            .breaker_open_seconds = 600};
    struct sa_crm *c = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_crm_open(&cfg, NULL, &c, &err), 0);
    json_t *l[1] = {lead("yuki@tailwindtraders.jp", "Yuki", "Tanaka", "Tailwind Traders",
                         "tailwindtraders.jp", 66, "B")};
    struct sa_crm_result res[1];
    fake_hubspot_fault(fake, "/crm/v3/objects/companies/batch/upsert", FAKE_HS_500, 4, 0);
    assert_int_equal(sa_crm_upsert_leads(c, l, 1, res), 0);
    assert_int_equal(res[0].outcome, SA_CRM_RETRY); /* the outage opens the breaker */
    size_t before = fake_hubspot_requests(fake, NULL);
    double now = sa_wall_seconds();
    assert_int_equal(sa_crm_upsert_leads(c, l, 1, res), 0);
    assert_int_equal(res[0].outcome, SA_CRM_DEFER);
    assert_true(res[0].retry_at > (long long)now);
    assert_non_null(strstr(res[0].error, "breaker"));
    assert_int_equal(fake_hubspot_requests(fake, NULL), before); /* nothing sent */
    free_all(l, 1);
    sa_crm_free(c);
}

static void test_missing_token_is_a_config_error(void **state)
{
    (void)state;
    struct sa_config cfg = {.crm_provider = SA_CRM_HUBSPOT};
    struct sa_crm *c = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_crm_open(&cfg, NULL, &c, &err), SA_ECONFIG);
    assert_non_null(strstr(err.msg, "HUBSPOT_ACCESS_TOKEN"));
    cfg.crm_provider = SA_CRM_NONE;
    assert_int_equal(sa_crm_open(&cfg, NULL, &c, &err), 0);
    assert_null(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_leads_land_once_with_company, setup, teardown),
        cmocka_unit_test_setup_teardown(test_409_updates_the_existing_contact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_5xx_retried_then_given_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hang_then_retry_keeps_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_activities_are_notes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_field_map_and_dry_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_breaker_defers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_token_is_a_config_error, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
