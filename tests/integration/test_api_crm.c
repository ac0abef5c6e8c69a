/* Integration tests of CRM sync through the outbox, through the binary against the fake
 * HubSpot (tests/fakes/fake_hubspot.h) in this process, with time moved by CLOCK_FILE:
 * a lead qualified by a pipeline run lands in HubSpot once (contact with score, tier and
 * reasoning, its company and the association) after a lasting 500 made the outbox retry
 * it; the e-mail the approved run sends becomes one note, the prospect's reply another; a restart
 * pushes nothing again; `crm sync` queues nothing already pushed; GET /api/crm/status and
 * /api/outbox show the pushes. With CRM_DRY_RUN=1 nothing reaches HubSpot. Each test runs its own
 * server. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fake_hubspot.h"
#include "fake_salesforce.h"

#define TOKEN "pat-na1-0b7e5c1d-9a4f-4e2b-8c3d-6f1a2b3c4d5e"

static const char lead_csv[] =
    "Company,First Name,Last Name,Job Title,Email,Website,Industry,Employees,Tags\r\n"
    "Quorvianta Software,Maya,Okafor,VP of Sales,maya@quorvianta.io,quorvianta.io,SaaS,201-500,"
    "requested_demo;pricing_page_visit\r\n";

static char clock_path[600];
static struct fake_hubspot *fake;

static void set_clock(time_t t)
{
    clock_file_set(clock_path, t);
}

/* The settings every test's server gets, then the test's own (name, value pairs). */
static void start_at(time_t t, const char *const *extra)
{
    snprintf(clock_path, sizeof clock_path, "%s/clock", runs_srv.dir);
    set_clock(t);
    const char *const env[] = {"CLOCK_FILE",
                               clock_path,
                               "OUTBOX_POLL_MS",
                               "50",
                               "CRM_PROVIDER",
                               "hubspot",
                               "HUBSPOT_ACCESS_TOKEN",
                               TOKEN,
                               "HUBSPOT_BASE_URL",
                               fake_hubspot_base_url(fake),
                               "CALENDAR_TZ",
                               "America/New_York",
                               "SENDER_ADDRESS",
                               "Pipewise Ltd, 9 Harbour Road, Bristol BS1 5AA, UK",
                               NULL};
    for (size_t i = 0; env[i]; i += 2)
        setenv(env[i], env[i + 1], 1);
    for (size_t i = 0; extra && extra[i]; i += 2)
        setenv(extra[i], extra[i + 1], 1);
    assert_int_equal(server_start(&runs_srv, false), 0);
    harness_use(&runs_srv);
    for (size_t i = 0; env[i]; i += 2)
        unsetenv(env[i]);
    for (size_t i = 0; extra && extra[i]; i += 2)
        unsetenv(extra[i]);
}

static int crm_setup(void **state)
{
    fake = fake_hubspot_start(TOKEN);
    return fake ? runs_setup(state) : -1;
}

static int crm_teardown(void **state)
{
    const char *why = NULL;
    size_t invalid = fake_hubspot_invalid(fake, &why);
    if (invalid)
        fprintf(stderr, "fake HubSpot: %zu malformed requests, first: %s\n", invalid, why);
    int rc = runs_teardown(state);
    fake_hubspot_stop(fake);
    fake = NULL;
    return invalid ? -1 : rc;
}

static const char *import_lead(void)
{
    static char id[64];
    struct resp r;
    http("POST", "/api/leads/import", "text/csv", lead_csv, strlen(lead_csv), &r);
    if (r.status != 200)
        fail_msg("import: %ld %.300s", r.status, r.body);
    json_t *j = json_loadb(r.body, r.len, 0, NULL);
    snprintf(id, sizeof id, "%s", jstr(j, "leads.0.lead_id"));
    json_decref(j);
    resp_free(&r);
    return id;
}

static void run_pipeline(const char *lead)
{
    struct resp r;
    char *body = strf("{\"lead_id\":\"%s\"}", lead);
    json_t *j = http_json("POST", "/api/runs", body, &r);
    free(body);
    assert_int_equal(r.status, 202);
    char id[64];
    snprintf(id, sizeof id, "%s", jstr(j, "run_id"));
    resp_free(&r);
    j = wait_run(id, &r);
    assert_string_equal(jstr(j, "status"), "awaiting_approval");
    resp_free(&r);
}

/* GET /api/crm/status (owned by r). */
static json_t *crm_status(const char *query, struct resp *r)
{
    char *path = strf("/api/crm/status%s", query ? query : "");
    json_t *j = http_json("GET", path, NULL, r);
    free(path);
    assert_int_equal(r->status, 200);
    return j;
}

/* Polls the status until counts.<status> is want (10 s at most). */
static void wait_crm_count(const char *status, long want)
{
    long n = -1;
    for (int i = 0; i < 200; i++) {
        struct resp r;
        json_t *j = crm_status(NULL, &r);
        n = (long)json_integer_value(json_object_get(jget(j, "counts"), status));
        resp_free(&r);
        if (n == want)
            return;
        usleep(50 * 1000);
    }
    fail_msg("CRM pushes %s: %ld, expected %ld", status, n, want);
}

static long crm_count(const char *status)
{
    struct resp r;
    json_t *j = crm_status(NULL, &r);
    long n = (long)json_integer_value(json_object_get(jget(j, "counts"), status));
    resp_free(&r);
    return n;
}

/* Polls until no push is queued or sending (10 s at most); returns the sent count. */
static long wait_idle(void)
{
    for (int i = 0; i < 200; i++) {
        if (crm_count("queued") == 0 && crm_count("sending") == 0)
            return crm_count("sent");
        usleep(50 * 1000);
    }
    fail_msg("CRM pushes still queued");
    return -1;
}

static void wait_fake(const char *what, size_t want)
{
    for (int i = 0; i < 200 && fake_hubspot_count(fake, what) != want; i++)
        usleep(50 * 1000);
    assert_int_equal(fake_hubspot_count(fake, what), want);
}

static const char *pending_approval(void)
{
    static char id[64];
    struct resp r;
    json_t *j = http_json("GET", "/api/approvals?status=pending", NULL, &r);
    assert_int_equal(json_integer_value(jget(j, "count")), 1);
    snprintf(id, sizeof id, "%s", jstr(j, "items.0.id"));
    resp_free(&r);
    return id;
}

/* Runs `sales-agent crm sync` on the server's database; returns its stdout (static). */
static const char *crm_sync_cli(void)
{
    static char out[512];
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "CRM_PROVIDER=hubspot HUBSPOT_ACCESS_TOKEN=%s HUBSPOT_BASE_URL=%s LOG_LEVEL=error "
             "'%s' crm sync --database-url '%s' --data-dir '%s/data' 2>>'%s'",
             TOKEN, fake_hubspot_base_url(fake), SA_BINARY, runs_srv.db_url, SA_SOURCE_DIR,
             runs_srv.log_path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("crm sync exited %d: %s", st, out);
    return out;
}

/* Pins the HubSpot sync end to end (see the file's comment). */
static void test_hubspot_once_across_retry_and_restart(void **state)
{
    (void)state;
    time_t monday = utc(2026, 11, 2, 15, 0); /* 10:00 in New York */
    /* HubSpot is down for the first push: the client's own retries fail too */
    fake_hubspot_fault(fake, "/crm/v3/objects/companies/batch/upsert", FAKE_HS_500, 4, 0);
    start_at(monday, NULL);
    char lead[64];
    snprintf(lead, sizeof lead, "%s", import_lead()); /* the import qualifies it */
    /* the push waits for the outbox's retry, its error visible */
    struct resp r;
    json_t *j = NULL;
    for (int i = 0; i < 200; i++) {
        j = crm_status(NULL, &r);
        if (json_integer_value(jget(j, "syncs.0.attempts")) == 1)
            break;
        resp_free(&r);
        j = NULL;
        usleep(50 * 1000);
    }
    assert_non_null(j);
    assert_string_equal(jstr(j, "provider"), "hubspot");
    assert_false(json_is_true(jget(j, "dry_run")));
    assert_string_equal(jstr(j, "syncs.0.kind"), "crm_lead");
    assert_string_equal(jstr(j, "syncs.0.status"), "queued");
    assert_string_equal(jstr(j, "syncs.0.lead_id"), lead);
    assert_non_null(strstr(jstr(j, "syncs.0.last_error"), "500"));
    resp_free(&r);
    assert_int_equal(fake_hubspot_count(fake, "contacts"), 0);

    /* two minutes later the retry lands it */
    set_clock(monday + 120);
    wait_crm_count("sent", 1);
    assert_int_equal(fake_hubspot_count(fake, "contacts"), 1);
    /* the pipeline qualifies it again: a new version (if any) updates the same contact */
    run_pipeline(lead);
    long base = wait_idle();
    assert_true(base == 1 || base == 2);
    assert_int_equal(fake_hubspot_count(fake, "contacts"), 1);
    json_t *maya = fake_hubspot_contact(fake, "maya@quorvianta.io");
    assert_non_null(maya);
    json_t *props = json_object_get(maya, "properties");
    assert_string_equal(json_string_value(json_object_get(props, "lead_tier")), "A");
    long score = strtol(json_string_value(json_object_get(props, "lead_score")), NULL, 10);
    assert_true(score >= 70 && score <= 100);
    assert_true(strlen(json_string_value(json_object_get(props, "lead_reasoning"))) > 10);
    assert_string_equal(json_string_value(json_object_get(props, "firstname")), "Maya");
    assert_string_equal(json_string_value(json_object_get(props, "company")),
                        "Quorvianta Software");
    json_t *co = fake_hubspot_company(fake, "quorvianta.io");
    assert_non_null(co);
    assert_true(fake_hubspot_associated(fake, json_string_value(json_object_get(maya, "id")),
                                        json_string_value(json_object_get(co, "id"))));
    json_decref(co);
    /* the push is an outbox item like the e-mails */
    j = http_json("GET", "/api/outbox?limit=100", NULL, &r);
    bool seen = false;
    for (size_t i = 0; i < json_array_size(jget(j, "items")); i++) {
        json_t *it = json_array_get(jget(j, "items"), i);
        if (strcmp(json_string_value(json_object_get(it, "kind")), "crm_lead") == 0) {
            seen = true;
            assert_string_equal(json_string_value(json_object_get(it, "status")), "sent");
            assert_string_equal(json_string_value(json_object_get(it, "delivered_id")),
                                json_string_value(json_object_get(maya, "id")));
        }
    }
    assert_true(seen);
    resp_free(&r);

    /* the approved run's e-mail becomes one note on the contact */
    char *path = strf("/api/approvals/%s", pending_approval());
    j = http_json("POST", path, "{\"type\":\"accept\"}", &r);
    free(path);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    wait_fake("notes", 1);
    json_t *notes = fake_hubspot_notes(fake);
    assert_string_equal(json_string_value(json_object_get(json_array_get(notes, 0), "contact")),
                        json_string_value(json_object_get(maya, "id")));
    assert_non_null(
        strstr(json_string_value(json_object_get(
                   json_object_get(json_array_get(notes, 0), "properties"), "hs_note_body")),
               "E-mail sent"));
    json_decref(notes);
    wait_crm_count("sent", base + 1);
    /* Maya replies: the reply becomes a second note */
    j = invoke("{\"agent_type\":\"conversation\",\"input\":{\"message\":\"Thanks for the "
               "note. Could you send pricing for 300 seats?\",\"contact\":{\"email\":"
               "\"maya@quorvianta.io\",\"name\":\"Maya Okafor\"}}}",
               &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    wait_fake("notes", 2);
    notes = fake_hubspot_notes(fake);
    const char *reply = json_string_value(
        json_object_get(json_object_get(json_array_get(notes, 1), "properties"), "hs_note_body"));
    assert_non_null(strstr(reply, "Reply received"));
    assert_non_null(strstr(reply, "pricing for 300 seats"));
    json_decref(notes);
    wait_crm_count("sent", base + 2);
    /* she names a time: the meeting booked is a note, and so are her reply and the invite
     * the outbox sends */
    j = invoke("{\"agent_type\":\"conversation\",\"input\":{\"message\":\"Wednesday at "
               "11am works for me.\",\"contact\":{\"email\":\"maya@quorvianta.io\","
               "\"name\":\"Maya Okafor\"}}}",
               &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    wait_crm_count("sent", base + 5);
    notes = fake_hubspot_notes(fake);
    int meetings = 0;
    for (size_t i = 0; i < json_array_size(notes); i++)
        meetings +=
            strstr(json_string_value(json_object_get(
                       json_object_get(json_array_get(notes, i), "properties"), "hs_note_body")),
                   "Meeting booked") != NULL;
    assert_int_equal(meetings, 1);
    assert_int_equal(json_array_size(notes), 5);
    json_decref(notes);
    char *query = strf("?lead_id=%s&limit=5", lead);
    j = crm_status(query, &r);
    free(query);
    assert_int_equal(json_array_size(jget(j, "syncs")), 5); /* limit 5 of 6 */
    resp_free(&r);

    /* a restart pushes nothing again, and the backlog holds nothing new */
    size_t requests = fake_hubspot_requests(fake, NULL);
    assert_true(exited_ok(server_stop(&runs_srv)));
    const char *out = crm_sync_cli();
    assert_non_null(strstr(out, "\"queued\":0"));
    start_at(monday + 600, NULL);
    usleep(500 * 1000);
    wait_crm_count("sent", base + 5);
    assert_int_equal(fake_hubspot_count(fake, "contacts"), 1);
    assert_int_equal(fake_hubspot_count(fake, "notes"), 5);
    assert_int_equal(fake_hubspot_requests(fake, NULL), requests);
    char *log = server_read_log(&runs_srv);
    assert_non_null(log);
    assert_null(strstr(log, TOKEN));                /* the token never reaches the log */
    assert_null(strstr(log, "maya@quorvianta.io")); /* e-mails are masked */
    free(log);
    json_decref(maya);
}

/* The same through Salesforce: the lead is upserted once by its external id after a
 * lasting 500, the sent e-mail becomes one Task on it, and a restart adds nothing. */
static void test_salesforce_once_across_retry_and_restart(void **state)
{
    (void)state;
    struct fake_salesforce *sf =
        fake_salesforce_start("3MVG9.sales-agent.test", "s3cr3t-value", "62.0", "Email__c");
    assert_non_null(sf);
    const char *composite = "/services/data/v62.0/composite";
    fake_salesforce_fault(sf, composite, FAKE_SF_500, 4, 0);
    const char *const env[] = {"CRM_PROVIDER",
                               "salesforce",
                               "SALESFORCE_LOGIN_URL",
                               fake_salesforce_url(sf),
                               "SALESFORCE_CLIENT_ID",
                               "3MVG9.sales-agent.test",
                               "SALESFORCE_CLIENT_SECRET",
                               "s3cr3t-value",
                               NULL};
    time_t monday = utc(2026, 11, 2, 15, 0);
    start_at(monday, env);
    char lead[64];
    snprintf(lead, sizeof lead, "%s", import_lead());
    struct resp r;
    json_t *j = NULL;
    for (int i = 0; i < 200; i++) {
        j = crm_status(NULL, &r);
        if (json_integer_value(jget(j, "syncs.0.attempts")) == 1)
            break;
        resp_free(&r);
        j = NULL;
        usleep(50 * 1000);
    }
    assert_non_null(j);
    assert_string_equal(jstr(j, "provider"), "salesforce");
    assert_string_equal(jstr(j, "syncs.0.status"), "queued");
    resp_free(&r);
    assert_int_equal(fake_salesforce_count(sf, "leads"), 0);
    set_clock(monday + 120);
    wait_crm_count("sent", 1);
    run_pipeline(lead); /* qualified again: a new version (if any) updates the same Lead */
    long base = wait_idle();
    json_t *leads = fake_salesforce_leads(sf, "maya@quorvianta.io");
    assert_int_equal(json_array_size(leads), 1);
    json_t *maya = json_array_get(leads, 0);
    assert_string_equal(json_string_value(json_object_get(maya, "Lead_Tier__c")), "A");
    assert_string_equal(json_string_value(json_object_get(maya, "Company")), "Quorvianta Software");
    assert_true(json_integer_value(json_object_get(maya, "Lead_Score__c")) >= 70);
    char *path = strf("/api/approvals/%s", pending_approval());
    j = http_json("POST", path, "{\"type\":\"accept\"}", &r);
    free(path);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    wait_crm_count("sent", base + 1);
    assert_int_equal(fake_salesforce_count(sf, "tasks"), 1);
    json_t *tasks = fake_salesforce_tasks(sf);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tasks, 0), "WhoId")),
                        json_string_value(json_object_get(maya, "Id")));
    json_decref(tasks);
    size_t requests = fake_salesforce_requests(sf, NULL);
    assert_true(exited_ok(server_stop(&runs_srv)));
    start_at(monday + 600, env);
    usleep(500 * 1000);
    wait_crm_count("sent", base + 1);
    assert_int_equal(fake_salesforce_count(sf, "leads"), 1);
    assert_int_equal(fake_salesforce_count(sf, "tasks"), 1);
    assert_int_equal(fake_salesforce_requests(sf, NULL), requests);
    char *log = server_read_log(&runs_srv);
    assert_non_null(log);
    assert_null(strstr(log, "s3cr3t-value")); /* the secret never reaches the log */
    free(log);
    json_decref(leads);
    const char *why = NULL;
    size_t invalid = fake_salesforce_invalid(sf, &why);
    if (invalid)
        fail_msg("fake Salesforce: %zu malformed requests, first: %s", invalid, why);
    fake_salesforce_stop(sf);
}

/* With CRM_DRY_RUN=1 the pushes are recorded as sent ("dry-run") and HubSpot hears nothing. */
static void test_dry_run_sends_nothing(void **state)
{
    (void)state;
    const char *const dry[] = {"CRM_DRY_RUN", "1", NULL};
    start_at(utc(2026, 11, 2, 15, 0), dry);
    run_pipeline(import_lead());
    assert_true(wait_idle() >= 1);
    struct resp r;
    json_t *j = crm_status(NULL, &r);
    assert_true(json_is_true(jget(j, "dry_run")));
    assert_string_equal(jstr(j, "syncs.0.crm_id"), "dry-run");
    resp_free(&r);
    assert_int_equal(fake_hubspot_requests(fake, NULL), 0);
    /* /health names the CRM and its breaker, without calling it */
    j = http_json("GET", "/health", NULL, &r);
    assert_string_equal(jstr(j, "backends.crm.backend"), "hubspot");
    assert_string_equal(jstr(j, "backends.crm.detail"), "breaker closed, dry run");
    resp_free(&r);
    char *log = server_read_log(&runs_srv);
    assert_non_null(log);
    assert_non_null(strstr(log, "crm dry run: would push"));
    assert_null(strstr(log, TOKEN)); /* the token never reaches the log */
    free(log);
}

/* A hard bounce of the lead's address fails the mail queued to it, never the CRM's pushes
 * about the lead (the worker held: OUTBOX_POLL_MS=0, so both are still queued when the
 * bounce comes). */
static void test_bounce_keeps_crm_pushes(void **state)
{
    (void)state;
    const char *const held[] = {"OUTBOX_POLL_MS", "0", NULL};
    start_at(utc(2026, 11, 2, 15, 0), held);
    import_lead();
    assert_int_equal(crm_count("queued"), 1);
    static const char dsn[] =
        "From: MAILER-DAEMON@mx.quorvianta.io (Mail Delivery System)\r\n"
        "To: sales@pipewise.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Date: Mon, 2 Nov 2026 15:05:00 +0000\r\n"
        "Message-ID: <20261102150500.ABC123@mx.quorvianta.io>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n"
        "\r\n"
        "--b1\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        "--b1\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        "Reporting-MTA: dns; mx.quorvianta.io\r\n"
        "\r\n"
        "Final-Recipient: rfc822; maya@quorvianta.io\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <maya@quorvianta.io>: Recipient address rejected\r\n"
        "--b1--\r\n";
    struct resp r;
    http("POST", "/api/inbound/email", "message/rfc822", dsn, strlen(dsn), &r);
    if (r.status != 200)
        fail_msg("inbound: %ld %.300s", r.status, r.body);
    json_t *j = json_loadb(r.body, r.len, 0, NULL);
    assert_string_equal(jstr(j, "kind"), "bounce");
    assert_true(json_is_true(jget(j, "do_not_contact")));
    json_decref(j);
    resp_free(&r);
    assert_int_equal(crm_count("queued"), 1);
    assert_int_equal(crm_count("failed"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hubspot_once_across_retry_and_restart, crm_setup,
                                        crm_teardown),
        cmocka_unit_test_setup_teardown(test_salesforce_once_across_retry_and_restart, crm_setup,
                                        crm_teardown),
        cmocka_unit_test_setup_teardown(test_dry_run_sends_nothing, crm_setup, crm_teardown),
        cmocka_unit_test_setup_teardown(test_bounce_keeps_crm_pushes, crm_setup, crm_teardown),
    };
    return api_exit_status(cmocka_run_group_tests(tests, api_group_setup, api_group_teardown));
}
