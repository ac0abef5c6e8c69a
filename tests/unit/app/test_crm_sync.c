/* CRM sync through the outbox (app/crm_sync.h) on a real SQLite store and the fake HubSpot:
 * a lead's push is queued once per version; the delivery records each outcome the way the
 * outbox promises (sent with the CRM's id; a DAILY rate limit deferred, not failed; a
 * refused push failed with the CRM's message; a 5xx queued again with backoff); without a
 * CRM the pushes wait a day instead of blocking the mail; the status counts them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "app/app.h"
#include "app/crm_sync.h"
#include "base/clock.h"
#include "base/config.h"
#include "base/uuid.h"
#include "connectors/crm/crm.h"
#include "fake_hubspot.h"
#include "store/store.h"

#define TOKEN "pat-na1-aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"

static struct fake_hubspot *fake;
static struct sa_app app;
static char dir[64];

static int setup(void **state)
{
    (void)state;
    fake = fake_hubspot_start(TOKEN);
    snprintf(dir, sizeof dir, "/tmp/sa-crm-sync-XXXXXX");
    if (!fake || !mkdtemp(dir))
        return -1;
    char url[128];
    snprintf(url, sizeof url, "sqlite://%s/db.sqlite", dir);
    memset(&app, 0, sizeof app);
    struct sa_err err = {0};
    if (sa_store_open(url, 2, &app.store, &err) || sa_store_migrate(app.store, &err))
        return -1;
    struct sa_config cfg = {.crm_provider = SA_CRM_HUBSPOT,
                            .hubspot_access_token = TOKEN,
                            .hubspot_base_url = fake_hubspot_base_url(fake),
                            .crm_timeout_ms = 3000};
    return sa_crm_open(&cfg, NULL, &app.crm, &err) ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    size_t invalid = fake_hubspot_invalid(fake, NULL);
    sa_crm_free(app.crm);
    sa_store_close(app.store);
    fake_hubspot_stop(fake);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 && invalid == 0 ? 0 : -1;
}

/* Stores a qualified lead under id (a new one when id is NULL); returns its id (static). */
static const char *save_lead_as(const char *given, const char *email, int score, const char *tier)
{
    static char id[SA_UUID_LEN];
    char exec[SA_UUID_LEN], thread[SA_UUID_LEN];
    if (given)
        snprintf(id, sizeof id, "%s", given);
    else
        sa_uuid_v7(id);
    sa_uuid_v7(exec);
    sa_uuid_v7(thread);
    struct sa_lead_row row = {.id = id,
                              .company_name = "Northwind Traders",
                              .employees_min = -1,
                              .employees_max = -1,
                              .annual_revenue = -1,
                              .contact_name = "Nancy Davolio",
                              .contact_email = email,
                              .data = "{}",
                              .score = score,
                              .tier = tier,
                              .reasoning = "Distribution, 300 employees, asked for a demo",
                              .company_domain = "northwindtraders.com"};
    struct sa_exec_row ex = {.id = exec,
                             .lead_id = id,
                             .agent_type = "qualification",
                             .thread_id = thread,
                             .success = true,
                             .input = "{}",
                             .output = "{}"};
    struct sa_err err = {0};
    assert_int_equal(sa_store_save_invocation(app.store, &row, &ex, &err), 0);
    return id;
}

static const char *save_lead(const char *email, int score, const char *tier)
{
    return save_lead_as(NULL, email, score, tier);
}

/* Delivers every due CRM push; returns how many landed. */
static int deliver(void)
{
    json_t *due = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_store_outbox_due(app.store, (long long)sa_wall_time(), 100, &due, &err), 0);
    size_t n = json_array_size(due);
    json_t **items = calloc(n ? n : 1, sizeof(json_t *));
    for (size_t i = 0; i < n; i++)
        items[i] = json_array_get(due, i);
    int sent = 0;
    assert_int_equal(sa_crm_sync_deliver(&app, items, (int)n, 5, &sent, &err), 0);
    free(items);
    json_decref(due);
    return sent;
}

static json_t *status_of(const char *lead)
{
    json_t *out = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_crm_sync_status(&app, lead, 10, &out, &err), 0);
    return out;
}

static void test_once_per_version(void **state)
{
    (void)state;
    char lead[SA_UUID_LEN];
    snprintf(lead, sizeof lead, "%s", save_lead("nancy@northwindtraders.com", 82, "A"));
    int added = 0;
    struct sa_err err = {0};
    assert_int_equal(sa_crm_sync_queue_lead(&app, lead, &added, &err), 0);
    assert_int_equal(added, 1);
    assert_int_equal(sa_crm_sync_queue_lead(&app, lead, &added, &err), 0);
    assert_int_equal(added, 0); /* the same version: queued once */
    assert_int_equal(deliver(), 1);
    assert_int_equal(fake_hubspot_count(fake, "contacts"), 1);
    json_t *st = status_of(lead);
    assert_string_equal(json_string_value(json_object_get(st, "provider")), "hubspot");
    json_t *s0 = json_array_get(json_object_get(st, "syncs"), 0);
    assert_string_equal(json_string_value(json_object_get(s0, "status")), "sent");
    json_t *nancy = fake_hubspot_contact(fake, "nancy@northwindtraders.com");
    assert_string_equal(json_string_value(json_object_get(s0, "crm_id")),
                        json_string_value(json_object_get(nancy, "id")));
    json_decref(nancy);
    json_decref(st);
    /* re-qualified with another tier: a new version, pushed again onto the same contact */
    save_lead_as(lead, "nancy@northwindtraders.com", 64, "B");
    assert_int_equal(sa_crm_sync_queue_lead(&app, lead, &added, &err), 0);
    assert_int_equal(added, 1);
    assert_int_equal(deliver(), 1);
    assert_int_equal(fake_hubspot_count(fake, "contacts"), 1);
    nancy = fake_hubspot_contact(fake, "nancy@northwindtraders.com");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(nancy, "properties"), "lead_tier")), "B");
    json_decref(nancy);
    /* the backlog sees the stored version only: nothing new */
    int queued = 0, seen = 0;
    assert_int_equal(sa_crm_sync_backlog(&app, NULL, &queued, &seen, &err), 0);
    assert_int_equal(seen, 1);
    assert_int_equal(queued, 0);
    assert_int_equal(sa_crm_sync_backlog(&app, "2999-01-01T00:00:00Z", &queued, &seen, &err), 0);
    assert_int_equal(seen, 0);
    assert_int_equal(sa_crm_sync_backlog(&app, "not a time", &queued, &seen, &err), SA_EINVAL);
    /* an activity, twice: one item, one note */
    assert_int_equal(sa_crm_sync_queue_activity(&app, lead, "nancy@northwindtraders.com", "reply",
                                                "turn:1", NULL, "Reply received",
                                                "Thursday works for us.", &err),
                     0);
    assert_int_equal(sa_crm_sync_queue_activity(&app, lead, "nancy@northwindtraders.com", "reply",
                                                "turn:1", NULL, "Reply received",
                                                "Thursday works for us.", &err),
                     0);
    assert_int_equal(deliver(), 1);
    assert_int_equal(fake_hubspot_count(fake, "notes"), 1);
}

static void test_outcomes_recorded(void **state)
{
    (void)state;
    struct sa_err err = {0};
    char daily[SA_UUID_LEN], broken[SA_UUID_LEN];
    snprintf(daily, sizeof daily, "%s", save_lead("andrew@northwindtraders.com", 70, "B"));
    assert_int_equal(sa_crm_sync_queue_lead(&app, daily, NULL, &err), 0);
    fake_hubspot_fault(fake, "/crm/v3/objects/companies/batch/upsert", FAKE_HS_429_DAILY, 1, 0);
    long long now = (long long)sa_wall_time();
    assert_int_equal(deliver(), 0);
    json_t *st = status_of(daily);
    json_t *s0 = json_array_get(json_object_get(st, "syncs"), 0);
    assert_string_equal(json_string_value(json_object_get(s0, "status")), "queued");
    assert_non_null(strstr(json_string_value(json_object_get(s0, "last_error")), "429"));
    assert_int_equal(json_integer_value(json_object_get(s0, "attempts")), 0); /* no attempt */
    json_decref(st);
    json_t *due = NULL;
    assert_int_equal(sa_store_outbox_due(app.store, now + 60, 10, &due, &err), 0);
    assert_int_equal(json_array_size(due), 0); /* deferred past the next minutes */
    json_decref(due);
    assert_int_equal(sa_store_outbox_due(app.store, now + 3700, 10, &due, &err), 0);
    assert_int_equal(json_array_size(due), 1); /* and due again within the hour after */
    json_decref(due);

    /* a payload the CRM refuses (4xx) fails with its message */
    snprintf(broken, sizeof broken, "%s", save_lead("not-an-email", 60, "B"));
    assert_int_equal(sa_crm_sync_queue_lead(&app, broken, NULL, &err), 0);
    assert_int_equal(deliver(), 0);
    st = status_of(broken);
    s0 = json_array_get(json_object_get(st, "syncs"), 0);
    assert_string_equal(json_string_value(json_object_get(s0, "status")), "failed");
    assert_non_null(strstr(json_string_value(json_object_get(s0, "last_error")), "400"));
    json_t *counts = json_object_get(st, "counts");
    assert_int_equal(json_integer_value(json_object_get(counts, "failed")), 1);
    assert_int_equal(json_integer_value(json_object_get(counts, "queued")), 1);
    json_decref(st);
    /* `crm sync` queues a push that failed for good once more (the operator fixed the
     * data or the CRM), and only once however often it runs; the others stand */
    int queued = -1, seen = -1;
    assert_int_equal(sa_crm_sync_backlog(&app, NULL, &queued, &seen, &err), 0);
    assert_int_equal(queued, 1);
    assert_int_equal(sa_crm_sync_backlog(&app, NULL, &queued, &seen, &err), 0);
    assert_int_equal(queued, 0);
    st = status_of(broken);
    counts = json_object_get(st, "counts");
    assert_int_equal(json_integer_value(json_object_get(counts, "failed")), 1);
    assert_int_equal(json_integer_value(json_object_get(counts, "queued")), 2);
    json_decref(st);
    /* the fake saw a malformed request on purpose: forget it for teardown */
    const char *why = NULL;
    assert_int_equal(fake_hubspot_invalid(fake, &why), 1);
    assert_non_null(strstr(why, "not an e-mail"));
    fake_hubspot_stop(fake);
    fake = fake_hubspot_start(TOKEN);
    assert_non_null(fake);
}

static void test_without_a_crm_the_pushes_wait(void **state)
{
    (void)state;
    struct sa_err err = {0};
    char lead[SA_UUID_LEN];
    snprintf(lead, sizeof lead, "%s", save_lead("janet@northwindtraders.com", 90, "A"));
    assert_int_equal(sa_crm_sync_queue_lead(&app, lead, NULL, &err), 0);
    struct sa_crm *crm = app.crm;
    app.crm = NULL; /* CRM_PROVIDER switched to none after the push was queued */
    int added = 1;
    assert_int_equal(sa_crm_sync_queue_lead(&app, lead, &added, &err), 0);
    assert_int_equal(added, 0); /* nothing is queued without a CRM */
    long long now = (long long)sa_wall_time();
    assert_int_equal(deliver(), 0);
    json_t *due = NULL;
    assert_int_equal(sa_store_outbox_due(app.store, now + 3600, 10, &due, &err), 0);
    assert_int_equal(json_array_size(due), 0); /* moved a day on, not blocking the mail */
    json_decref(due);
    json_t *st = status_of(lead);
    assert_string_equal(json_string_value(json_object_get(st, "provider")), "none");
    json_t *s0 = json_array_get(json_object_get(st, "syncs"), 0);
    assert_int_equal(json_integer_value(json_object_get(s0, "attempts")), 0);
    json_decref(st);
    app.crm = crm;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_once_per_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outcomes_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_without_a_crm_the_pushes_wait, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
