/* The Salesforce backend of the CRM slot against the fake org
 * (tests/fakes/fake_salesforce.h): the client-credentials token, Lead upserts by external
 * id in one composite request with each subrequest's result read (201, 200, 300 reported
 * with the matches, a 400 of one item only), a 401 INVALID_SESSION_ID refreshed once, 403
 * REQUEST_LIMIT_EXCEEDED deferred, a 5xx retried without duplicates, activities as Tasks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/clock.h"
#include "base/config.h"
#include "connectors/crm/crm.h"
#include "fake_salesforce.h"

#define CLIENT_ID "3MVG9fe4g9fhX0E5mHqGq8wLxYwUvTsRqPoNmLkJiHgFeDcBa.ExampleKey"
#define SECRET "A1B2C3D4E5F6&secret=with+specials"
#define COMPOSITE "/services/data/v62.0/composite"

static struct fake_salesforce *fake;

static int setup(void **state)
{
    (void)state;
    fake = fake_salesforce_start(CLIENT_ID, SECRET, "62.0", "Email__c");
    return fake ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    const char *why = NULL;
    size_t invalid = fake_salesforce_invalid(fake, &why);
    if (invalid)
        fprintf(stderr, "fake Salesforce: %zu malformed requests, first: %s\n", invalid, why);
    fake_salesforce_stop(fake);
    fake = NULL;
    return invalid ? -1 : 0;
}

static struct sa_crm *open_crm(int timeout_ms)
{
    struct sa_config cfg = {.crm_provider = SA_CRM_SALESFORCE,
                            .salesforce_login_url = fake_salesforce_url(fake),
                            .salesforce_client_id = CLIENT_ID,
                            .salesforce_client_secret = SECRET,
                            .salesforce_api_version = "62.0",
                            .salesforce_external_id_field = "Email__c",
                            .crm_timeout_ms = timeout_ms};
    struct sa_crm *c = NULL;
    struct sa_err err = {0};
    int rc = sa_crm_open(&cfg, NULL, &c, &err);
    if (rc)
        fprintf(stderr, "sa_crm_open: %s\n", err.msg);
    assert_int_equal(rc, 0);
    return c;
}

static json_t *lead(const char *email, const char *last, const char *company, int score,
                    const char *tier)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s}", "lead_id",
                     "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "email", email, "first_name", "Sam",
                     "last_name", last, "company", company, "score", score, "tier", tier,
                     "reasoning", "Manufacturing, 800 employees, evaluating vendors this quarter");
}

static void free_all(json_t **a, int n)
{
    for (int i = 0; i < n; i++)
        json_decref(a[i]);
}

static void test_upsert_per_item_results(void **state)
{
    (void)state;
    struct sa_crm *c = open_crm(5000);
    assert_int_equal(sa_crm_batch_max(c), 25);
    fake_salesforce_seed_lead(fake, "dup@wingtiptoys.com");
    fake_salesforce_seed_lead(fake, "dup@wingtiptoys.com");
    json_t *leads[4] = {
        lead("sam.okoye+crm@wingtiptoys.com", "Okoye", "Wingtip Toys", 88, "A"),
        lead("dup@wingtiptoys.com", "Dup", "Wingtip Toys", 60, "B"),
        lead("r.jones@fourthcoffee.com", "Jones", "Fourth Coffee", 45, "C"),
        json_pack("{s:s, s:i}", "email", "nobody@fourthcoffee.com", "score", 10),
    };
    struct sa_crm_result res[4];
    assert_int_equal(sa_crm_upsert_leads(c, leads, 4, res), 0);
    assert_int_equal(fake_salesforce_tokens(fake), 1);
    assert_int_equal(fake_salesforce_requests(fake, COMPOSITE), 1); /* one API call */
    assert_int_equal(res[0].outcome, SA_CRM_DONE);
    assert_int_equal(strncmp(res[0].id, "00Q", 3), 0);
    /* several Leads hold the value: reported with their ids, not guessed */
    assert_int_equal(res[1].outcome, SA_CRM_FAIL);
    assert_non_null(strstr(res[1].error, "300"));
    assert_non_null(strstr(res[1].error, "00Q5g000"));
    assert_int_equal(res[2].outcome, SA_CRM_DONE);
    /* no name nor company: Salesforce's placeholder fills the required fields */
    assert_int_equal(res[3].outcome, SA_CRM_DONE);
    json_t *l = fake_salesforce_leads(fake, "sam.okoye+crm@wingtiptoys.com");
    assert_int_equal(json_array_size(l), 1);
    json_t *rec = json_array_get(l, 0);
    assert_int_equal(json_integer_value(json_object_get(rec, "Lead_Score__c")), 88);
    assert_string_equal(json_string_value(json_object_get(rec, "Lead_Tier__c")), "A");
    assert_string_equal(json_string_value(json_object_get(rec, "LastName")), "Okoye");
    json_decref(l);
    l = fake_salesforce_leads(fake, "nobody@fourthcoffee.com");
    assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "Company")),
                        "[not provided]");
    json_decref(l);
    /* again: updated (200), still one Lead each */
    size_t before = fake_salesforce_count(fake, "leads");
    assert_int_equal(sa_crm_upsert_leads(c, leads, 4, res), 0);
    assert_int_equal(res[0].outcome, SA_CRM_DONE);
    assert_int_equal(fake_salesforce_count(fake, "leads"), before);
    free_all(leads, 4);
    sa_crm_free(c);
}

static void test_session_refresh_limit_and_5xx(void **state)
{
    (void)state;
    struct sa_crm *c = open_crm(20000);
    json_t *l[1] = {lead("ines@lucernepublishing.pt", "Sousa", "Lucerne Publishing", 77, "B")};
    struct sa_crm_result res[1];
    assert_int_equal(sa_crm_upsert_leads(c, l, 1, res), 0);
    assert_int_equal(res[0].outcome, SA_CRM_DONE);
    /* the session expires: one new token, the call sent again */
    fake_salesforce_fault(fake, COMPOSITE, FAKE_SF_401, 1, 0);
    assert_int_equal(sa_crm_upsert_leads(c, l, 1, res), 0);
    assert_int_equal(res[0].outcome, SA_CRM_DONE);
    assert_int_equal(fake_salesforce_tokens(fake), 2);
    /* the org's API limit: deferred, not failed */
    fake_salesforce_fault(fake, COMPOSITE, FAKE_SF_LIMIT, 1, 0);
    double now = sa_wall_seconds();
    assert_int_equal(sa_crm_upsert_leads(c, l, 1, res), 0);
    assert_int_equal(res[0].outcome, SA_CRM_DEFER);
    assert_true(res[0].retry_at > (long long)now);
    assert_non_null(strstr(res[0].error, "REQUEST_LIMIT_EXCEEDED"));
    /* a 500 is retried by the client: one Lead */
    fake_salesforce_fault(fake, COMPOSITE, FAKE_SF_500, 1, 0);
    assert_int_equal(sa_crm_upsert_leads(c, l, 1, res), 0);
    assert_int_equal(res[0].outcome, SA_CRM_DONE);
    assert_int_equal(fake_salesforce_count(fake, "leads"), 1);
    free_all(l, 1);
    sa_crm_free(c);
}

static void test_activities_are_tasks(void **state)
{
    (void)state;
    struct sa_crm *c = open_crm(5000);
    json_t *l[1] = {lead("mei.chen@contoso.cn", "Chen", "Contoso", 91, "A")};
    struct sa_crm_result res[2];
    assert_int_equal(sa_crm_upsert_leads(c, l, 1, res), 0);
    json_t *a[2] = {
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "activity_id", "outbox:0190-1", "email",
                  "mei.chen@contoso.cn", "type", "email", "at", "2026-03-02T09:15:00Z", "subject",
                  "Contoso's Q2 data roadmap", "body", "Hi Mei, ..."),
        json_pack("{s:s, s:s, s:s, s:s}", "activity_id", "turn:0190-2", "email",
                  "unknown@contoso.cn", "type", "reply", "body", "Not interested."),
    };
    assert_int_equal(sa_crm_add_activities(c, a, 2, res), 0);
    assert_int_equal(res[0].outcome, SA_CRM_DONE);
    assert_int_equal(strncmp(res[0].id, "00T", 3), 0);
    /* no Lead for that address yet: retried later (its push may still be queued) */
    assert_int_equal(res[1].outcome, SA_CRM_RETRY);
    assert_int_equal(fake_salesforce_count(fake, "tasks"), 1);
    json_t *tasks = fake_salesforce_tasks(fake);
    json_t *t = json_array_get(tasks, 0);
    json_t *mei = fake_salesforce_leads(fake, "mei.chen@contoso.cn");
    assert_string_equal(json_string_value(json_object_get(t, "WhoId")),
                        json_string_value(json_object_get(json_array_get(mei, 0), "Id")));
    assert_string_equal(json_string_value(json_object_get(t, "ActivityDate")), "2026-03-02");
    assert_string_equal(json_string_value(json_object_get(t, "Status")), "Completed");
    assert_non_null(strstr(json_string_value(json_object_get(t, "Subject")), "Email: "));
    json_decref(mei);
    json_decref(tasks);
    free_all(a, 2);
    free_all(l, 1);
    sa_crm_free(c);
}

static void test_bad_credentials_and_missing_settings(void **state)
{
    (void)state;
    struct sa_config cfg = {.crm_provider = SA_CRM_SALESFORCE,
                            .salesforce_login_url = fake_salesforce_url(fake),
                            .salesforce_client_id = CLIENT_ID};
    struct sa_crm *c = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_crm_open(&cfg, NULL, &c, &err), SA_ECONFIG);
    assert_non_null(strstr(err.msg, "SALESFORCE_CLIENT_SECRET"));
    cfg.salesforce_client_secret = "wrong-secret";
    assert_int_equal(sa_crm_open(&cfg, NULL, &c, &err), 0);
    json_t *l[1] = {lead("x@adventure-works.com", "X", "Adventure Works", 50, "C")};
    struct sa_crm_result res[1];
    assert_int_equal(sa_crm_upsert_leads(c, l, 1, res), 0);
    assert_int_equal(res[0].outcome, SA_CRM_RETRY);
    assert_non_null(strstr(res[0].error, "invalid_client"));
    assert_null(strstr(res[0].error, "wrong-secret"));
    assert_int_equal(fake_salesforce_requests(fake, COMPOSITE), 0);
    free_all(l, 1);
    sa_crm_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_upsert_per_item_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_refresh_limit_and_5xx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_activities_are_tasks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_credentials_and_missing_settings, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
