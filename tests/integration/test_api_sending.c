/* Integration tests of the sending policy, threading and consent, through the binary with
 * time moved by CLOCK_FILE (never by sleeping): a downtime burst spread over the sending
 * windows of the recipient's zone with the sequence's spacing kept; the threading and
 * consent headers of the delivered messages, parsed by Python's email package; the
 * one-click unsubscribe with no credentials; the do-not-contact history and its lift; one
 * sequence per contact; the frequency cap applied when a message leaves; the edit of each
 * follow-up. Each test runs its own server (runs_srv) on a fresh directory. */
#include "harness.h"

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NY "America/New_York"
#define ADDRESS "Pipewise Ltd, 9 Harbour Road, Bristol BS1 5AA, UK"

static const char lead_csv[] =
    "Company,First Name,Last Name,Job Title,Email,Website,Industry,Employees,Tags\r\n"
    "Quorvianta Software,Maya,Okafor,VP of Sales,maya@quorvianta.io,quorvianta.io,SaaS,201-500,"
    "requested_demo;pricing_page_visit\r\n";

/* ---- helpers -------------------------------------------------------------------------- */

static char clock_path[600];

/* Moves the server's "now" to t (the file's instant; it flows on from there). */
static void set_clock(time_t t)
{
    clock_file_set(clock_path, t);
}

static time_t iso_time(const char *s)
{
    struct tm tm = {0};
    assert_non_null(s);
    assert_non_null(strptime(s, "%Y-%m-%dT%H:%M:%S", &tm));
    return timegm(&tm);
}

/* Starts runs_srv with the clock at t and the given settings (name=value pairs). */
static void start_at(time_t t, const char *const *env)
{
    snprintf(clock_path, sizeof clock_path, "%s/clock", runs_srv.dir);
    set_clock(t);
    setenv("CLOCK_FILE", clock_path, 1);
    for (size_t i = 0; env && env[i]; i += 2)
        setenv(env[i], env[i + 1], 1);
    assert_int_equal(server_start(&runs_srv, false), 0);
    harness_use(&runs_srv);
    unsetenv("CLOCK_FILE");
    for (size_t i = 0; env && env[i]; i += 2)
        unsetenv(env[i]);
}

/* Imports the lead; returns its id (static buffer). */
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

/* Starts a pipeline run on lead and waits for it to stop; returns the run (owned by r). */
static json_t *run_pipeline(const char *lead, struct resp *r)
{
    char *body = strf("{\"lead_id\":\"%s\"}", lead);
    json_t *j = http_json("POST", "/api/runs", body, r);
    free(body);
    assert_int_equal(r->status, 202);
    char id[64];
    snprintf(id, sizeof id, "%s", jstr(j, "run_id"));
    resp_free(r);
    return wait_run(id, r);
}

/* POSTs a HumanResponse to the approval; returns the decision (owned by r). */
static json_t *decide(const char *approval, const char *response, struct resp *r)
{
    char *path = strf("/api/approvals/%s", approval);
    json_t *j = http_json("POST", path, response, r);
    free(path);
    return j;
}

/* GET /api/outbox?status=... (NULL: all); owned by r. */
static json_t *outbox(const char *status, struct resp *r)
{
    char *path =
        status ? strf("/api/outbox?status=%s&limit=100", status) : strf("/api/outbox?limit=100");
    json_t *j = http_json("GET", path, NULL, r);
    free(path);
    assert_int_equal(r->status, 200);
    return j;
}

static long count_of(const char *status)
{
    struct resp r;
    json_t *j = outbox(status, &r);
    long n = (long)json_integer_value(jget(j, "count"));
    resp_free(&r);
    return n;
}

/* Polls until the outbox holds want items with status (5 s at most); returns the count. */
static long wait_count(const char *status, long want)
{
    long n = -1;
    for (int i = 0; i < 100; i++) {
        if ((n = count_of(status)) == want)
            return n;
        usleep(50 * 1000);
    }
    return n;
}

/* Polls until every queued item carries a deferred_reason (5 s at most). */
static void wait_deferred(long queued)
{
    for (int i = 0; i < 100; i++) {
        struct resp r;
        json_t *j = outbox("queued", &r);
        long with = 0;
        for (size_t k = 0; k < json_array_size(jget(j, "items")); k++)
            with += json_is_string(
                json_object_get(json_array_get(jget(j, "items"), k), "deferred_reason"));
        resp_free(&r);
        if (with == queued)
            return;
        usleep(50 * 1000);
    }
    fail_msg("the queued items were not all deferred");
}

/* The local weekday (0 Sunday) and minute of the day of t in New York: EST/EDT rules of
 * 2026 (EDT from 2026-03-08 07:00Z to 2026-11-01 06:00Z), enough for these dates. */
static void ny_local(time_t t, int *wday, int *minute)
{
    bool edt = t >= utc(2026, 3, 8, 7, 0) && t < utc(2026, 11, 1, 6, 0);
    time_t local = t - (edt ? 4 : 5) * 3600;
    struct tm tm;
    gmtime_r(&local, &tm);
    *wday = tm.tm_wday;
    *minute = tm.tm_hour * 60 + tm.tm_min;
}

static void assert_in_window(time_t t, const char *what)
{
    int wday, minute;
    ny_local(t, &wday, &minute);
    if (wday == 0 || wday == 6 || minute < 8 * 60 || minute >= 18 * 60)
        fail_msg("%s at %lld: weekday %d, %02d:%02d New York time is outside Mon-Fri "
                 "08:00-18:00",
                 what, (long long)t, wday, minute / 60, minute % 60);
}

/* The messages in the server's Maildir, parsed by Python's email package: a JSON array
 * of {subject, message_id, in_reply_to, references, list_unsubscribe,
 * list_unsubscribe_post, date (unix), text}, oldest Date first. */
static json_t *parse_maildir(const struct server *s)
{
    static const char script[] =
        "import email, email.policy, email.utils, json, os, sys\n"
        "d = sys.argv[1]\n"
        "out = []\n"
        "for n in sorted(os.listdir(d)) if os.path.isdir(d) else []:\n"
        "    with open(os.path.join(d, n), 'rb') as f:\n"
        "        m = email.message_from_binary_file(f, policy=email.policy.default)\n"
        "    body = m.get_body(preferencelist=('plain',))\n"
        "    out.append({'subject': str(m['Subject']), 'message_id': m['Message-ID'],\n"
        "                'in_reply_to': m['In-Reply-To'], 'references': m['References'],\n"
        "                'list_unsubscribe': ' '.join(str(m['List-Unsubscribe'] or '').split()),\n"
        "                'list_unsubscribe_post': m['List-Unsubscribe-Post'],\n"
        "                'date': int(email.utils.parsedate_to_datetime(m['Date']).timestamp()),\n"
        "                'has_calendar': any(p.get_content_type() == 'text/calendar'\n"
        "                                    for p in m.walk()),\n"
        "                'text': body.get_content() if body else ''})\n"
        "out.sort(key=lambda x: x['date'])\n"
        "print(json.dumps(out))\n";
    char *py = strf("%s/parse_mail.py", s->dir);
    FILE *f = fopen(py, "w");
    assert_non_null(f);
    fputs(script, f);
    fclose(f);
    char *cmd = strf("python3 %s %s/mail/new", py, s->dir);
    FILE *p = popen(cmd, "r");
    free(cmd);
    free(py);
    assert_non_null(p);
    json_error_t e;
    json_t *j = json_loadf(p, 0, &e);
    pclose(p);
    if (!json_is_array(j))
        fail_msg("the mail parser printed no JSON array: %s", e.text);
    return j;
}

/* Runs sql on the server's database file (staging what the API cannot produce on
 * purpose: a race). */
static void db_write(const struct server *s, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(s->db_url + strlen("sqlite://"), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    sqlite3_close(db);
}

/* The one pending approval's id (static buffer). */
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

/* ---- downtime, threading, consent ------------------------------------------------------ */

/* Pins the catch-up after downtime: the first e-mail goes out on Monday 2026-11-02; the
 * server is stopped and comes back on Sunday 2026-11-22 at 04:25 New York time with the
 * day-3, day-7 and break-up e-mails all overdue. None goes out then: each waits for a
 * window (Mon-Fri 08:00-18:00 New York time) and keeps its distance from the one before;
 * moving the clock to each due time sends exactly that one. The delivered messages form
 * one thread (In-Reply-To and References of the first, "Re: " subjects) and carry the
 * consent headers, the unsubscribe line and the postal address. Then the prospect's
 * one-click unsubscribe (no credentials) and the do-not-contact rules. */
static void test_downtime_threading_consent(void **state)
{
    (void)state;
    const char *const env[] = {"OUTBOX_POLL_MS", "100",   "CALENDAR_TZ", NY,
                               "SENDER_ADDRESS", ADDRESS, NULL};
    time_t monday = utc(2026, 11, 2, 15, 0); /* 10:00 in New York */
    start_at(monday, env);
    json_t *j;
    struct resp r;
    j = run_pipeline(import_lead(), &r);
    assert_string_equal(jstr(j, "status"), "awaiting_approval");
    resp_free(&r);
    /* the approval lists every message of the sequence */
    j = http_json("GET", "/api/approvals?status=pending", NULL, &r);
    json_t *msgs = jget(j, "items.0.request.action_request.args.messages");
    size_t n_msgs = json_array_size(msgs);
    assert_int_equal(n_msgs, 4); /* tier A: days 0, 3, 7 and 12 */
    int days[4];
    for (size_t i = 0; i < n_msgs; i++) {
        json_t *m = json_array_get(msgs, i);
        assert_int_equal(json_integer_value(json_object_get(m, "index")), (json_int_t)i);
        days[i] = (int)json_integer_value(json_object_get(m, "day"));
        assert_true(strlen(json_string_value(json_object_get(m, "body"))) > 20);
        if (i > 0)
            assert_int_equal(strncmp(json_string_value(json_object_get(m, "subject")), "Re: ", 4),
                             0);
    }
    assert_int_equal(days[0], 0);
    resp_free(&r);
    j = decide(pending_approval(), "{\"type\":\"accept\"}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    assert_int_equal(wait_count("sent", 1), 1);
    assert_int_equal(count_of("queued"), 3);
    /* the dashboard's outbox gauges agree with the list (issue 16) */
    assert_true(metric_value("outbox_items{channel=\"mail\",status=\"sent\"}") == 1);
    assert_true(metric_value("outbox_items{channel=\"mail\",status=\"queued\"}") == 3);
    assert_true(metric_value("outbox_items{channel=\"crm\",status=\"queued\"}") == 0);
    assert_true(exited_ok(server_stop(&runs_srv)));

    /* down for three weeks; back on a Sunday at 04:25 in New York */
    time_t sunday = utc(2026, 11, 22, 9, 25);
    start_at(sunday, env);
    wait_deferred(3);
    usleep(300 * 1000);
    assert_int_equal(count_of("sent"), 1); /* no burst */
    j = outbox(NULL, &r);
    time_t due[4] = {0};
    char reasons[4][40] = {{0}};
    json_t *it;
    size_t i;
    json_array_foreach(jget(j, "items"), i, it)
    {
        long long day = json_integer_value(json_object_get(it, "seq_day"));
        int k = day == days[1] ? 1 : day == days[2] ? 2 : day == days[3] ? 3 : 0;
        const char *when = json_string_value(json_object_get(it, k == 0 ? "sent_at" : "due_at"));
        due[k] = iso_time(when);
        const char *why = json_string_value(json_object_get(it, "deferred_reason"));
        snprintf(reasons[k], sizeof reasons[k], "%s", why ? why : "");
        assert_string_equal(json_string_value(json_object_get(it, "recipient_tz")), NY);
        assert_non_null(json_string_value(json_object_get(it, "message_id")));
    }
    resp_free(&r);
    for (int k = 1; k < 4; k++) {
        assert_true(due[k] > sunday);
        assert_in_window(due[k], "a rescheduled follow-up");
        /* the original spacing is kept */
        if (due[k] - due[k - 1] < (time_t)(days[k] - days[k - 1]) * 86400)
            fail_msg("follow-up %d is %lld s after the one before, less than %d days", k,
                     (long long)(due[k] - due[k - 1]), days[k] - days[k - 1]);
    }
    assert_string_equal(reasons[1], "sending_window"); /* Monday 08:00 */
    assert_true(due[1] == utc(2026, 11, 23, 13, 0));
    assert_string_equal(reasons[2], "sequence_spacing"); /* after the first, in a window */

    /* each moment sends exactly its own message */
    for (int k = 1; k < 4; k++) {
        set_clock(due[k] + 120 * k);
        if (wait_count("sent", 1 + k) != 1 + k)
            fail_msg("follow-up %d was not sent at its time", k);
        usleep(200 * 1000);
        assert_int_equal(count_of("sent"), 1 + k);
    }

    /* the delivered messages, as a mail client reads them */
    json_t *mail = parse_maildir(&runs_srv);
    assert_int_equal(json_array_size(mail), 4);
    const char *first_id = jstr(mail, "0.message_id");
    const char *first_subject = jstr(mail, "0.subject");
    assert_non_null(first_id);
    assert_true(json_is_null(jget(mail, "0.in_reply_to")));
    for (size_t k = 0; k < 4; k++) {
        json_t *m = json_array_get(mail, k);
        const char *lu = json_string_value(json_object_get(m, "list_unsubscribe"));
        assert_non_null(lu);
        assert_non_null(strstr(lu, "<mailto:"));
        assert_non_null(strstr(lu, "/unsubscribe/"));
        assert_string_equal(json_string_value(json_object_get(m, "list_unsubscribe_post")),
                            "List-Unsubscribe=One-Click");
        const char *text = json_string_value(json_object_get(m, "text"));
        assert_non_null(strstr(text, "unsubscribe here: http"));
        assert_non_null(strstr(text, ADDRESS));
        if (k > 0) {
            assert_in_window((time_t)json_integer_value(json_object_get(m, "date")),
                             "a follow-up's Date");
            assert_string_equal(json_string_value(json_object_get(m, "in_reply_to")), first_id);
            assert_string_equal(json_string_value(json_object_get(m, "references")), first_id);
            char *re = strf("Re: %s", first_subject);
            assert_string_equal(json_string_value(json_object_get(m, "subject")), re);
            free(re);
        }
    }
    /* the link's path, from the first message's List-Unsubscribe: <mailto:...>, <URL> */
    const char *lu = jstr(mail, "0.list_unsubscribe");
    const char *u = strstr(lu, "/unsubscribe/");
    char link[512];
    snprintf(link, sizeof link, "%.*s", (int)strcspn(u, ">"), u);
    json_decref(mail);

    /* a week later the sequence is over and a new one may start */
    set_clock(due[3] + 8 * 86400);
    j = run_pipeline(import_lead(), &r);
    assert_string_equal(jstr(j, "status"), "awaiting_approval");
    resp_free(&r);
    j = decide(pending_approval(), "{\"type\":\"accept\"}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    long queued = count_of("queued");
    assert_true(queued >= 3);

    /* the link's page, before: a button that posts the one-click form; nothing changes */
    harness_auth("");
    http("GET", link, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.content_type, "text/html"));
    assert_non_null(strstr(r.body, "<form method=\"post\">"));
    assert_non_null(strstr(r.body, "name=\"List-Unsubscribe\" value=\"One-Click\""));
    {
        /* never framed: a page elsewhere could overlay the button (clickjacking) */
        char buf[512];
        const char *csp = resp_header(&r, "Content-Security-Policy", buf, sizeof buf);
        if (!csp || !strstr(csp, "frame-ancestors 'none'"))
            fail_msg("the unsubscribe page's Content-Security-Policy is %s", csp ? csp : "(none)");
        assert_string_equal(resp_header(&r, "X-Frame-Options", buf, sizeof buf), "DENY");
    }
    resp_free(&r);
    harness_auth(NULL);
    j = http_json("GET", "/api/contacts/maya@quorvianta.io", NULL, &r);
    assert_false(json_is_true(jget(j, "do_not_contact")));
    resp_free(&r);

    /* one-click unsubscribe, as a mail client does it: no credentials, a form body */
    harness_auth("");
    const char form[] = "List-Unsubscribe=One-Click";
    http("POST", link, "application/x-www-form-urlencoded", form, strlen(form), &r);
    assert_int_equal(r.status, 200);
    j = json_loadb(r.body, r.len, 0, NULL);
    assert_string_equal(jstr(j, "email"), "maya@quorvianta.io");
    assert_true(json_is_true(jget(j, "do_not_contact")));
    /* what was queued for her (the new sequence, perhaps minus a first e-mail sent) goes */
    long cancelled = (long)json_integer_value(jget(j, "cancelled"));
    assert_true(cancelled >= queued - 1 && cancelled >= 2);
    json_decref(j);
    resp_free(&r);
    harness_auth(NULL);
    assert_int_equal(count_of("queued"), 0);
    harness_auth("");
    /* idempotent */
    http("POST", link, "application/x-www-form-urlencoded", form, strlen(form), &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    /* the page behind the link: a confirmation */
    http("GET", link, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.content_type, "text/html"));
    assert_non_null(strstr(r.body, "maya@quorvianta.io is unsubscribed"));
    resp_free(&r);
    /* a token that is not ours: 404 with a JSON problem */
    char bad[600];
    snprintf(bad, sizeof bad, "%.*sA", (int)strlen(link) - 1, link);
    if (strcmp(bad, link) == 0)
        bad[strlen(bad) - 1] = 'B';
    http("POST", bad, "application/x-www-form-urlencoded", form, strlen(form), &r);
    expect_problem("forged token", &r, 404, "[\"path\",\"token\"]", NULL);
    resp_free(&r);
    http("GET", "/unsubscribe/nonsense", NULL, NULL, 0, &r);
    expect_problem("nonsense token", &r, 404, "[\"path\",\"token\"]", NULL);
    resp_free(&r);
    harness_auth(NULL);

    /* the operator's later POST never overwrites the prospect's own opt-out */
    j = http_json("POST", "/api/contacts/maya@quorvianta.io/do-not-contact",
                  "{\"reason\":\"asked on the phone\"}", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "source"), "prospect");
    assert_string_equal(jstr(j, "reason"), "one-click unsubscribe");
    resp_free(&r);
    j = http_json("GET", "/api/contacts/maya@quorvianta.io/do-not-contact", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(jget(j, "history")), 2);
    assert_string_equal(jstr(j, "history.0.source"), "prospect");
    assert_string_equal(jstr(j, "history.0.action"), "opt_out");
    assert_string_equal(jstr(j, "history.1.source"), "operator");
    assert_string_equal(jstr(j, "history.1.reason"), "asked on the phone");
    resp_free(&r);
    j = http_json("GET", "/api/contacts?do_not_contact=true&limit=10", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(jget(j, "total")), 1);
    assert_string_equal(jstr(j, "items.0.email"), "maya@quorvianta.io");
    resp_free(&r);
    http("GET", "/api/contacts", NULL, NULL, 0, &r);
    expect_problem("list without the filter", &r, 422, "[\"query\",\"do_not_contact\"]", "missing");
    resp_free(&r);

    /* lifting needs a consent record: each missing field is named */
    static const struct {
        const char *body, *loc, *type;
    } bad_lift[] = {
        {"{}", "[\"body\",\"consent_source\"]", "missing"},
        {"{\"consent_source\":\"signed form\"}", "[\"body\",\"note\"]", "missing"},
        {"{\"consent_source\":\"\",\"note\":\"x\"}", "[\"body\",\"consent_source\"]",
         "string_type"},
        {"{\"consent_source\":\"form\",\"note\":\"x\",\"by\":\"me\"}", "[\"body\",\"by\"]",
         "extra_forbidden"},
    };
    for (size_t k = 0; k < sizeof bad_lift / sizeof bad_lift[0]; k++) {
        http("DELETE", "/api/contacts/maya@quorvianta.io/do-not-contact", "application/json",
             bad_lift[k].body, strlen(bad_lift[k].body), &r);
        expect_problem(bad_lift[k].body, &r, 422, bad_lift[k].loc, bad_lift[k].type);
        resp_free(&r);
    }
    const char lift[] = "{\"consent_source\":\"signed form at the fair\",\"note\":\"asked for "
                        "the newsletter again\"}";
    http("DELETE", "/api/contacts/maya@quorvianta.io/do-not-contact", "application/json", lift,
         strlen(lift), &r);
    assert_int_equal(r.status, 200);
    j = json_loadb(r.body, r.len, 0, NULL);
    assert_false(json_is_true(jget(j, "do_not_contact")));
    json_decref(j);
    resp_free(&r);
    http("DELETE", "/api/contacts/maya@quorvianta.io/do-not-contact", "application/json", lift,
         strlen(lift), &r);
    expect_problem("lift twice", &r, 409, NULL, NULL);
    resp_free(&r);
    /* the opt-outs stay in the history; the lift is the last entry */
    j = http_json("GET", "/api/contacts/maya@quorvianta.io/do-not-contact", NULL, &r);
    assert_int_equal(json_array_size(jget(j, "history")), 3);
    assert_string_equal(jstr(j, "history.0.source"), "prospect");
    assert_string_equal(jstr(j, "history.2.action"), "lift");
    assert_string_equal(jstr(j, "history.2.source"), "signed form at the fair");
    resp_free(&r);
    assert_true(exited_ok(server_stop(&runs_srv)));
}

/* ---- one sequence per contact, the cap at dispatch, edits ------------------------------ */

/* Pins one active sequence per contact and the per-message edit: a second run for Maya's
 * lead by lead_id is refused while her first draft waits (409), one given her data stops
 * at a second approval; the first is edited (a follow-up's subject and body changed, one
 * dropped; bad edits are 422 naming the field) and queued; approving the second, stale
 * one queues nothing and says why; a third run drafts nothing and says why. Then the
 * weekly cap (BDR_MAX_TOUCHES_PER_WEEK=1) holds the day-3 follow-up when it is due and
 * moves it past the week, into a window. */
static void test_sequence_cap_edit(void **state)
{
    (void)state;
    const char *const env[] = {"OUTBOX_POLL_MS",           "100", "CALENDAR_TZ", NY,
                               "BDR_MAX_TOUCHES_PER_WEEK", "1",   NULL};
    time_t monday = utc(2026, 11, 2, 15, 0);
    start_at(monday, env);
    struct resp r;
    const char *lead = import_lead();
    char lead_id[64];
    snprintf(lead_id, sizeof lead_id, "%s", lead);
    json_t *j = run_pipeline(lead_id, &r);
    assert_string_equal(jstr(j, "status"), "awaiting_approval");
    char a1[64];
    snprintf(a1, sizeof a1, "%s", jstr(j, "output.approvals.0.approval_id"));
    resp_free(&r);
    /* a second draft for the lead named by lead_id waits for the first one's answer (the
     * console's one-draft rule: 409 naming the pending approval) ... */
    char *again = strf("{\"lead_id\":\"%s\"}", lead_id);
    http_json("POST", "/api/runs", again, &r);
    free(again);
    expect_problem("a second draft for the lead", &r, 409, "[\"body\",\"lead_id\"]",
                   "draft_pending");
    assert_string_equal(jstr(r.json, "detail.0.ctx.approval_id"), a1);
    resp_free(&r);
    /* ... but a run given Maya's data is her lead too (the identity rule), and its draft a
     * stale duplicate the sending policy must catch */
    j = http_json("POST", "/api/runs",
                  "{\"input\":{\"company_name\":\"Quorvianta Software\",\"website\":"
                  "\"quorvianta.io\",\"industry\":\"SaaS\",\"company_size\":\"201-500\","
                  "\"signals\":[\"requested_demo\",\"pricing_page_visit\"],\"contact_info\":"
                  "{\"name\":\"Maya Okafor\",\"title\":\"VP of Sales\",\"email\":"
                  "\"maya@quorvianta.io\"}}}",
                  &r);
    assert_int_equal(r.status, 202);
    assert_string_equal(jstr(j, "lead_id"), lead_id);
    char run2[64];
    snprintf(run2, sizeof run2, "%s", jstr(j, "run_id"));
    resp_free(&r);
    j = wait_run(run2, &r);
    assert_string_equal(jstr(j, "status"), "awaiting_approval");
    char a2[64];
    snprintf(a2, sizeof a2, "%s", jstr(j, "output.approvals.0.approval_id"));
    resp_free(&r);

    /* bad edits of the messages: 422 naming the field, nothing decided */
    static const struct {
        const char *messages, *loc, *type;
    } bad[] = {
        {"[{\"index\":9,\"subject\":\"x\"}]",
         "[\"body\",\"args\",\"args\",\"messages\",0,\"index\"]", "value_error"},
        {"[{\"index\":0,\"drop\":true}]", "[\"body\",\"args\",\"args\",\"messages\",0,\"drop\"]",
         "not_allowed"},
        {"[{\"index\":1,\"subject\":\"two\\nlines\"}]",
         "[\"body\",\"args\",\"args\",\"messages\",0,\"subject\"]", "value_error"},
        {"[{\"index\":1,\"body\":\"\"}]", "[\"body\",\"args\",\"args\",\"messages\",0,\"body\"]",
         "value_error"},
        {"[{\"index\":1,\"day\":9}]", "[\"body\",\"args\",\"args\",\"messages\",0,\"day\"]",
         "not_editable"},
        {"[{\"index\":2},{\"index\":2}]", "[\"body\",\"args\",\"args\",\"messages\",1,\"index\"]",
         "value_error"},
        {"{\"index\":1}", "[\"body\",\"args\",\"args\",\"messages\"]", "list_type"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char *body = strf("{\"type\":\"edit\",\"args\":{\"action\":\"send_outreach\",\"args\":"
                          "{\"messages\":%s}}}",
                          bad[k].messages);
        char *path = strf("/api/approvals/%s", a1);
        http("POST", path, "application/json", body, strlen(body), &r);
        expect_problem(bad[k].messages, &r, 422, bad[k].loc, bad[k].type);
        resp_free(&r);
        free(path);
        free(body);
    }
    /* the edit: the day-3 follow-up rewritten, the day-7 one dropped */
    j = decide(a1,
               "{\"type\":\"edit\",\"args\":{\"action\":\"send_outreach\",\"args\":{\"messages\":"
               "[{\"index\":1,\"subject\":\"The case study, Maya\",\"body\":\"Maya, here is the "
               "case study I mentioned.\"},{\"index\":2,\"drop\":true}]}}}",
               &r);
    if (r.status != 200)
        fail_msg("edit: %ld %.400s", r.status, r.body);
    assert_string_equal(jstr(j, "approval.status"), "edited");
    assert_string_equal(jstr(j, "approval.changes.0.field"), "messages[1].subject");
    assert_string_equal(jstr(j, "approval.changes.0.to"), "The case study, Maya");
    assert_string_equal(jstr(j, "approval.changes.2.field"), "messages[2]");
    resp_free(&r);
    assert_int_equal(wait_count("sent", 1), 1);
    j = outbox("queued", &r);
    assert_int_equal(json_integer_value(jget(j, "count")), 2); /* days 3 and 12 */
    bool edited = false;
    json_t *it;
    size_t i;
    json_array_foreach(jget(j, "items"), i, it)
    {
        assert_int_not_equal(json_integer_value(json_object_get(it, "seq_day")), 7);
        if (json_integer_value(json_object_get(it, "seq_day")) == 3) {
            edited = true;
            assert_string_equal(jstr(it, "payload.subject"), "Re: The case study, Maya");
            assert_string_equal(jstr(it, "payload.body"),
                                "Maya, here is the case study I mentioned.");
            assert_non_null(jstr(it, "payload.in_reply_to"));
        }
    }
    assert_true(edited);
    resp_free(&r);

    /* the stale duplicate: approved, it queues nothing and says why */
    j = decide(a2, "{\"type\":\"accept\"}", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "run.bdr_decision.status"), "skipped");
    assert_string_equal(jstr(j, "run.bdr_decision.reason"), "active_sequence");
    resp_free(&r);
    assert_int_equal(count_of("queued"), 2);
    assert_int_equal(count_of("sent"), 1);
    /* a third run drafts nothing */
    j = run_pipeline(lead_id, &r);
    assert_string_equal(jstr(j, "status"), "done");
    if (!strstr(r.body, "\"active_sequence\""))
        fail_msg("the third run does not say why: %.600s", r.body);
    resp_free(&r);

    /* day 3: the weekly cap (1) holds the follow-up until a week after the first e-mail,
     * then the window: Monday 2026-11-09 10:00 New York time at the earliest */
    set_clock(monday + 3 * 86400 + 60);
    for (int k = 0; k < 100; k++) {
        j = outbox("queued", &r);
        bool held = false;
        json_array_foreach(jget(j, "items"), i, it) held |=
            json_integer_value(json_object_get(it, "seq_day")) == 3 &&
            jstr(it, "deferred_reason") &&
            strcmp(jstr(it, "deferred_reason"), "contact_weekly_cap") == 0;
        resp_free(&r);
        if (held)
            break;
        usleep(50 * 1000);
    }
    j = outbox("queued", &r);
    time_t held_until = 0;
    json_array_foreach(jget(j, "items"), i,
                       it) if (json_integer_value(json_object_get(it, "seq_day")) == 3)
    {
        assert_string_equal(jstr(it, "deferred_reason"), "contact_weekly_cap");
        held_until = iso_time(jstr(it, "due_at"));
    }
    resp_free(&r);
    assert_true(held_until > monday + 7 * 86400);
    assert_true(held_until < monday + 7 * 86400 + 3600);
    assert_in_window(held_until, "the capped follow-up");
    assert_int_equal(count_of("sent"), 1);
    set_clock(held_until + 30);
    assert_int_equal(wait_count("sent", 2), 2);

    /* a race the queue-time check cannot see (two approvals queued at once): a newer
     * sequence's first e-mail, staged in the database, is cancelled when it is due, with
     * the rest of its sequence, and nothing more is sent (staged in the SQLite file: not
     * on PostgreSQL) */
    if (harness_on_pg()) {
        print_message("[ SKIP     ] %s on PostgreSQL: the duplicate-sequence race (staged in "
                      "the server's SQLite file)\n",
                      __func__);
    } else {
        char *sql = strf("INSERT INTO outbox (id, idempotency_key, kind, to_email, payload, "
                         "status, due_at, created_at, updated_at, sequence_id, seq_day, "
                         "recipient_tz, to_domain, sender) VALUES "
                         "('race-1', 'race:email', 'email', "
                         "'maya@quorvianta.io', '{}', 'queued', %lld, '2026-11-09T15:00:00Z', "
                         "'2026-11-09T15:00:00Z', 'ffffffff-race', 0, '" NY "', 'quorvianta.io', "
                         "'alex@sales-agent.local'), ('race-2', 'race:followup', 'followup', "
                         "'maya@quorvianta.io', '{}', 'queued', %lld, '2026-11-09T15:00:00Z', "
                         "'2026-11-09T15:00:00Z', 'ffffffff-race', 3, '" NY "', 'quorvianta.io', "
                         "'alex@sales-agent.local')",
                         (long long)held_until, (long long)held_until + 3 * 86400);
        db_write(&runs_srv, sql);
        free(sql);
        assert_int_equal(wait_count("cancelled", 2), 2);
        j = outbox("cancelled", &r);
        json_array_foreach(jget(j, "items"), i, it)
            assert_string_equal(jstr(it, "last_error"), "duplicate_sequence");
        resp_free(&r);
        usleep(200 * 1000);
        assert_int_equal(count_of("sent"), 2);
    }
    assert_true(exited_ok(server_stop(&runs_srv)));
}

/* Pins the recipient's zone: a lead's own "timezone" (an IANA name) is stored on its
 * outbox items and used for the window; a name no zone answers to falls back to
 * CALENDAR_TZ. */
/* The prospect's out-of-office auto-reply says when they are back: no answer goes out,
 * and their queued follow-ups move to the day after the return date, keeping their
 * spacing; a reply without a date leaves them where they were (held, not cancelled). */
static void test_out_of_office(void **state)
{
    (void)state;
    const char *const env[] = {"OUTBOX_POLL_MS", "100", "CALENDAR_TZ", NY, NULL};
    start_at(utc(2027, 1, 4, 15, 0), env); /* Monday 10:00 in New York */
    struct resp r;
    json_t *j = run_pipeline(import_lead(), &r);
    assert_string_equal(jstr(j, "status"), "awaiting_approval");
    resp_free(&r);
    j = decide(pending_approval(), "{\"type\":\"accept\"}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    assert_int_equal(wait_count("sent", 1), 1);
    assert_int_equal(count_of("queued"), 3);
    time_t before[3];
    j = outbox("queued", &r);
    for (size_t i = 0; i < 3; i++)
        before[i] = iso_time(jstr(json_array_get(jget(j, "items"), i), "due_at"));
    resp_free(&r);

    /* an auto-reply without a date: held, nothing moved */
    const char *plain = "{\"agent_type\":\"conversation\",\"input\":{\"message\":"
                        "\"Automatic reply: I am currently out of the office with limited "
                        "access to e-mail.\",\"contact\":{\"email\":\"maya@quorvianta.io\"}}}";
    j = invoke(plain, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "output.intent"), "out_of_office");
    assert_true(json_is_null(jget(j, "output.reply")));
    assert_int_equal(json_integer_value(jget(j, "output.followups_postponed")), 0);
    resp_free(&r);
    assert_int_equal(count_of("queued"), 3);

    const char *dated =
        "{\"agent_type\":\"conversation\",\"input\":{\"message\":\"Thank you for your "
        "message. I am out of the office until 25 January 2027 and will reply when I am "
        "back.\\n\\nMaya\",\"contact\":{\"email\":\"maya@quorvianta.io\"}}}";
    j = invoke(dated, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "output.intent"), "out_of_office");
    assert_string_equal(jstr(j, "output.return_date"), "2027-01-25");
    assert_true(json_is_null(jget(j, "output.reply")));
    assert_true(json_is_true(jget(j, "output.hold_followups")));
    assert_int_equal(json_integer_value(jget(j, "output.followups_postponed")), 3);
    resp_free(&r);
    j = outbox("queued", &r);
    assert_int_equal(json_array_size(jget(j, "items")), 3);
    time_t after[3];
    for (size_t i = 0; i < 3; i++) {
        json_t *it = json_array_get(jget(j, "items"), i);
        after[i] = iso_time(jstr(it, "due_at"));
        assert_true(after[i] >= utc(2027, 1, 26, 0, 0)); /* the day after the return */
        assert_non_null(strstr(jstr(it, "deferred_reason"), "2027-01-25"));
    }
    for (size_t i = 1; i < 3; i++) /* same spacing as before */
        assert_true(after[i] - after[i - 1] == before[i] - before[i - 1]);
    resp_free(&r);
}

/* An invite to a meeting the prospect booked answers them: it leaves at once although the
 * contact's weekly cap is already reached and it is night where the seller is. */
static void test_invite_not_capped(void **state)
{
    (void)state;
    const char *const env[] = {"OUTBOX_POLL_MS",           "100", "CALENDAR_TZ", NY,
                               "BDR_MAX_TOUCHES_PER_WEEK", "1",   NULL};
    start_at(utc(2027, 1, 4, 15, 0), env); /* Monday 10:00 in New York */
    struct resp r;
    json_t *j = run_pipeline(import_lead(), &r);
    assert_string_equal(jstr(j, "status"), "awaiting_approval");
    resp_free(&r);
    j = decide(pending_approval(), "{\"type\":\"accept\"}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    assert_int_equal(wait_count("sent", 1), 1); /* the cap of 1 is reached */
    set_clock(utc(2027, 1, 5, 3, 0));           /* Monday 22:00 in New York: outside the window */
    j = invoke("{\"agent_type\":\"conversation\",\"input\":{\"message\":\"Thanks! "
               "Thursday at 11am ET works for me.\",\"contact\":{\"email\":"
               "\"maya@quorvianta.io\"}}}",
               &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "output.meeting.status"), "confirmed");
    resp_free(&r);
    assert_int_equal(wait_count("sent", 2), 2); /* the invite went out at once */
    j = outbox("sent", &r);
    bool invite = false;
    for (size_t i = 0; i < json_array_size(jget(j, "items")); i++)
        invite |= strcmp(jstr(json_array_get(jget(j, "items"), i), "kind"), "invite") == 0;
    assert_true(invite);
    resp_free(&r);
}

/* The first e-mail proposes a call before Tuesday, is approved at once, and waits for
 * its window (Tue-Thu mornings): by then the time has passed, so it leaves without the
 * invite and without the sentence proposing it, and the meeting's hold is released. */
static void test_passed_meeting_at_dispatch(void **state)
{
    (void)state;
    const char *const env[] = {"OUTBOX_POLL_MS",      "100", "CALENDAR_TZ", NY, "SEND_WINDOW",
                               "Tue-Thu 08:00-11:00", NULL};
    start_at(utc(2027, 3, 5, 15, 0), env); /* Friday 10:00 in New York */
    struct resp r;
    json_t *j = run_pipeline(import_lead(), &r);
    assert_string_equal(jstr(j, "status"), "awaiting_approval");
    resp_free(&r);
    j = http_json("GET", "/api/meetings?status=active", NULL, &r);
    assert_int_equal(json_array_size(jget(j, "items")), 1);
    char proposed[64];
    snprintf(proposed, sizeof proposed, "%s", jstr(j, "items.0.local"));
    assert_true(iso_time(jstr(j, "items.0.start")) < utc(2027, 3, 9, 13, 0)); /* before Tue */
    resp_free(&r);
    j = decide(pending_approval(), "{\"type\":\"accept\"}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    /* the first e-mail waits for Tuesday: the worker defers it to the window */
    bool deferred = false;
    for (int i = 0; i < 100 && !deferred; i++) {
        j = outbox("queued", &r);
        json_t *it;
        size_t k;
        json_array_foreach(jget(j, "items"), k, it)
        {
            deferred |= strcmp(jstr(it, "kind"), "email") == 0 &&
                        json_is_string(json_object_get(it, "deferred_reason"));
        }
        resp_free(&r);
        if (!deferred)
            usleep(50 * 1000);
    }
    assert_true(deferred);
    assert_int_equal(count_of("sent"), 0);
    set_clock(utc(2027, 3, 9, 13, 0)); /* Tuesday 08:00 in New York */
    assert_int_equal(wait_count("sent", 1), 1);
    j = parse_maildir(&runs_srv);
    assert_int_equal(json_array_size(j), 1);
    const char *text = jstr(json_array_get(j, 0), "text");
    assert_true(strlen(text) > 100);
    assert_null(strstr(text, proposed));
    assert_false(json_is_true(jget(json_array_get(j, 0), "has_calendar")));
    json_decref(j);
    j = http_json("GET", "/api/meetings?status=active", NULL, &r);
    assert_int_equal(json_array_size(jget(j, "items")), 0); /* the hold is released */
    resp_free(&r);
}

static void test_recipient_zone(void **state)
{
    (void)state;
    const char *const env[] = {"OUTBOX_POLL_MS", "0", "CALENDAR_TZ", NY, NULL};
    start_at(utc(2026, 11, 2, 15, 0), env);
    static const struct {
        const char *email, *tz, *want;
    } cases[] = {{"dana@quorvianta.io", "Europe/Berlin", "Europe/Berlin"},
                 {"li@quorvianta.io", "Mars/Olympus_Mons", NY}};
    for (size_t k = 0; k < 2; k++) {
        char *input = strf("{\"company_name\":\"Quorvianta Software\",\"industry\":\"SaaS\","
                           "\"company_size\":\"201-500\",\"annual_revenue\":42000000,"
                           "\"country\":\"US\",\"website\":\"https://www.quorvianta.io\","
                           "\"timezone\":\"%s\",\"contact_info\":{\"name\":\"Dana Li\","
                           "\"title\":\"VP of Sales\",\"email\":\"%s\"},\"signals\":"
                           "[\"requested_demo\",\"hiring_sales\",\"recent_funding\"]}",
                           cases[k].tz, cases[k].email);
        struct resp r;
        run_agent("pipeline", input, &r);
        free(input);
        resp_free(&r);
        json_t *j = decide(pending_approval(), "{\"type\":\"accept\"}", &r);
        assert_string_equal(jstr(j, "run.bdr_decision.status"), "approved");
        resp_free(&r);
        char *path = strf("/api/outbox?email=%s&limit=10", cases[k].email);
        j = http_json("GET", path, NULL, &r);
        free(path);
        assert_true(json_array_size(jget(j, "items")) >= 2);
        json_t *it;
        size_t i;
        json_array_foreach(jget(j, "items"), i, it)
            assert_string_equal(jstr(it, "recipient_tz"), cases[k].want);
        resp_free(&r);
    }
    assert_true(exited_ok(server_stop(&runs_srv)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_downtime_threading_consent, runs_setup, runs_teardown),
        cmocka_unit_test_setup_teardown(test_sequence_cap_edit, runs_setup, runs_teardown),
        cmocka_unit_test_setup_teardown(test_recipient_zone, runs_setup, runs_teardown),
        cmocka_unit_test_setup_teardown(test_out_of_office, runs_setup, runs_teardown),
        cmocka_unit_test_setup_teardown(test_invite_not_capped, runs_setup, runs_teardown),
        cmocka_unit_test_setup_teardown(test_passed_meeting_at_dispatch, runs_setup, runs_teardown),
    };
    return api_exit_status(cmocka_run_group_tests(tests, api_group_setup, api_group_teardown));
}
