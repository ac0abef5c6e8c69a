/* Integration tests of the BDR side: the conversation agent (turns on a thread, intents
 * and stages, do-not-contact through /api/contacts) on the main server (empty database,
 * see harness.h); then the approval workflow end to end on runs_srv, restarted by the
 * test: approvals, the outbox, delivery to the server's Maildir across a SIGKILL, and a
 * reply cancelling the queued follow-ups. */
#include "harness.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the conversation agent -------------------------------------------------------- */

/* One conversation turn: POSTs {"agent_type":"conversation","thread_id":thread,"input":input}
 * (thread NULL: a new conversation) and returns the answer (200 asserted). */
static json_t *converse(const char *thread, const char *input, struct resp *r)
{
    char *body = thread ? strf("{\"agent_type\":\"conversation\",\"thread_id\":\"%s\","
                               "\"input\":%s}",
                               thread, input)
                        : strf("{\"agent_type\":\"conversation\",\"input\":%s}", input);
    json_t *j = invoke(body, r);
    free(body);
    if (r->status != 200)
        fail_msg("conversation %s: status %ld: %.400s", input, r->status, r->body);
    return j;
}

/* Pins the conversation agent: a thread carries the history across requests; each turn
 * names the intent (with its confidence and alternatives) and moves the sales stage;
 * a meeting request proposes slots; an unsubscribe marks the contact do-not-contact,
 * which GET /api/contacts/{email} shows; bad turns get 422 and change nothing. */
static void test_conversation(void **state)
{
    (void)state;
    struct resp r;
    json_t *j = converse(NULL,
                         "{\"message\":\"Hi there, Dana from Northwind here\",\"contact\":"
                         "{\"name\":\"Dana Reyes\",\"email\":\"dana@northwind-test.example\"}}",
                         &r);
    char thread[80];
    snprintf(thread, sizeof thread, "%s", jstr(j, "thread_id"));
    assert_true(strlen(thread) > 0);
    assert_string_equal(jstr(j, "output.intent"), "greeting");
    assert_string_equal(jstr(j, "output.stage"), "introduction");
    assert_true(json_is_null(jget(j, "output.previous_stage")));
    assert_int_equal(json_integer_value(jget(j, "output.turn")), 1);
    assert_non_null(strstr(jstr(j, "output.reply"), "Dana"));
    double conf = json_number_value(jget(j, "output.confidence"));
    assert_true(conf > 0 && conf <= 1);
    assert_true(json_array_size(jget(j, "output.alternatives")) >= 1);
    assert_false(json_is_true(jget(j, "output.do_not_contact")));
    resp_free(&r);

    j = converse(thread, "{\"message\":\"How much does it cost for 40 seats? Send me pricing\"}",
                 &r);
    assert_string_equal(jstr(j, "thread_id"), thread);
    assert_string_equal(jstr(j, "output.intent"), "pricing");
    assert_string_equal(jstr(j, "output.previous_stage"), "introduction");
    assert_string_equal(jstr(j, "output.stage"), "solution");
    assert_int_equal(json_integer_value(jget(j, "output.turn")), 2);
    /* the history: both user messages and both replies, in order */
    assert_int_equal(json_array_size(jget(j, "output.history")), 4);
    assert_string_equal(jstr(j, "output.history.0.role"), "user");
    assert_string_equal(jstr(j, "output.history.0.content"), "Hi there, Dana from Northwind here");
    assert_string_equal(jstr(j, "output.history.3.content"), jstr(j, "output.reply"));
    resp_free(&r);

    j = converse(thread, "{\"message\":\"Honestly that is way too expensive for our budget\"}", &r);
    assert_string_equal(jstr(j, "output.intent"), "objection_price");
    assert_string_equal(jstr(j, "output.stage"), "objection_handling");
    resp_free(&r);

    j = converse(thread, "{\"message\":\"ok, can we book a call next week to go over it?\"}", &r);
    assert_string_equal(jstr(j, "output.intent"), "meeting_scheduling");
    assert_string_equal(jstr(j, "output.stage"), "close");
    assert_true(json_array_size(jget(j, "output.meeting_slots")) >= 2);
    assert_true(json_array_size(jget(j, "output.suggested_actions")) >= 1);
    assert_int_equal(json_integer_value(jget(j, "output.turn")), 4);
    resp_free(&r);

    /* the thread's state is the graph's: GET /api/threads/{id}/state shows the same turn */
    char *path = strf("/api/threads/%s/state", thread);
    j = http_json("GET", path, NULL, &r);
    free(path);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(jget(j, "values.turn")), 4);
    resp_free(&r);

    /* unsubscribe: the contact is do-not-contact from now on, in the store */
    const char *email = "leave.me@quiet-test.example";
    j = http_json("GET", "/api/contacts/leave.me@quiet-test.example", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_false(json_is_true(jget(j, "do_not_contact")));
    resp_free(&r);
    j = converse(NULL,
                 "{\"message\":\"Please remove me from your mailing list and stop emailing me\","
                 "\"contact\":{\"email\":\"leave.me@quiet-test.example\"}}",
                 &r);
    assert_string_equal(jstr(j, "output.intent"), "unsubscribe");
    assert_true(json_is_true(jget(j, "output.do_not_contact")));
    char qthread[80];
    snprintf(qthread, sizeof qthread, "%s", jstr(j, "thread_id"));
    resp_free(&r);
    /* later turns of that contact still say so, and start nothing new */
    j = converse(qthread, "{\"message\":\"Actually can we book a call next week?\"}", &r);
    assert_true(json_is_true(jget(j, "output.do_not_contact")));
    assert_null(jget(j, "output.meeting_slots"));
    resp_free(&r);
    j = http_json("GET", "/api/contacts/leave.me@quiet-test.example", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "email"), email);
    assert_true(json_is_true(jget(j, "do_not_contact")));
    resp_free(&r);

    /* the operator's route marks a contact too, with a reason */
    j = http_json("POST", "/api/contacts/ops.marked@quiet-test.example/do-not-contact",
                  "{\"reason\":\"asked on the phone\"}", &r);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(jget(j, "do_not_contact")));
    resp_free(&r);
    http("POST", "/api/contacts/not-an-email/do-not-contact", "application/json", NULL, 0, &r);
    expect_problem("dnc with a bad e-mail", &r, 422, "[\"path\",\"email\"]", "value_error");
    resp_free(&r);
    http("POST", "/api/contacts/a@b.example/do-not-contact", "application/json", "{\"reason\":42}",
         13, &r);
    expect_problem("dnc with a bad reason", &r, 422, "[\"body\",\"reason\"]", "string_type");
    resp_free(&r);

    /* bad turns: 422 naming the field; the thread is unchanged */
    static const struct {
        const char *input, *loc, *type;
    } bad[] = {
        {"{}", "[\"body\",\"input\",\"message\"]", "missing"},
        {"{\"message\":42}", "[\"body\",\"input\",\"message\"]", "string_type"},
        {"{\"message\":\"\"}", "[\"body\",\"input\",\"message\"]", "string_too_long"},
        {"{\"message\":\"hi\",\"contact\":{\"email\":\"nope\"}}",
         "[\"body\",\"input\",\"contact\",\"email\"]", "value_error"},
        {"\"hello\"", "[\"body\",\"input\"]", "dict_type"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *body = strf("{\"agent_type\":\"conversation\",\"thread_id\":\"%s\",\"input\":%s}",
                          thread, bad[i].input);
        bad_invoke(bad[i].input, "application/json", body, strlen(body), 422, bad[i].loc,
                   bad[i].type);
        free(body);
    }
    j = converse(thread, "{\"message\":\"Great, thanks!\"}", &r);
    assert_int_equal(json_integer_value(jget(j, "output.turn")), 5);
    resp_free(&r);

    /* a pipeline's thread is not a conversation: 409, and the run's state is untouched */
    j = run_agent("pipeline", strong_known, &r);
    char pthread[80];
    snprintf(pthread, sizeof pthread, "%s", jstr(j, "thread_id"));
    resp_free(&r);
    char *body = strf("{\"agent_type\":\"conversation\",\"thread_id\":\"%s\",\"input\":"
                      "{\"message\":\"hello\"}}",
                      pthread);
    bad_invoke("conversation on a pipeline thread", "application/json", body, strlen(body), 409,
               "[\"body\",\"thread_id\"]", "thread_conflict");
    free(body);

    /* and the other way round: a pipeline on a conversation's thread */
    body = strf("{\"agent_type\":\"pipeline\",\"thread_id\":\"%s\",\"input\":%s}", thread,
                strong_known);
    bad_invoke("pipeline on a conversation thread", "application/json", body, strlen(body), 409,
               "[\"body\",\"thread_id\"]", "thread_conflict");
    free(body);

    /* streamed like the other agents: SSE with the turn as an update */
    body = strf("{\"agent_type\":\"conversation\",\"thread_id\":\"%s\",\"stream_mode\":"
                "\"updates\",\"input\":{\"message\":\"Could we see a demo?\"}}",
                thread);
    http("POST", INVOKE, "application/json", body, strlen(body), &r);
    free(body);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.content_type, "text/event-stream"));
    assert_non_null(strstr(r.body, "event: updates\ndata: {\"conversation\""));
    assert_non_null(strstr(r.body, "\"intent\":\"demo_request\""));
    assert_non_null(strstr(r.body, "event: end"));
    resp_free(&r);

    /* its schema is published like the other agents' */
    j = http_json("GET", "/api/agents/conversation/schema", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "input.required.0"), "message");
    resp_free(&r);
}

/* ---- the BDR workflow -------------------------------------------------------------- */

/* The files in DIR/mail/new (the server's Maildir), as one string each in out (at most
 * cap); returns how many. */
static int maildir_files(const struct server *s, char **out, int cap)
{
    char *path = strf("%s/mail/new", s->dir);
    DIR *d = opendir(path);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (n < cap) {
            char *f = strf("%s/%s", path, e->d_name);
            FILE *fp = fopen(f, "rb");
            free(f);
            char *buf = calloc(1, 1 << 20);
            size_t len = fp ? fread(buf, 1, (1 << 20) - 1, fp) : 0;
            buf[len] = '\0';
            if (fp)
                fclose(fp);
            out[n] = buf;
        }
        n++;
    }
    if (d)
        closedir(d);
    free(path);
    return n;
}

/* Pins the BDR workflow end to end: an imported lead's pipeline run stops at the
 * approval; the reviewer's edit is applied and recorded; posting it twice is harmless and
 * a different answer is 409; with mail held, the server is killed (SIGKILL) between the
 * approval and the delivery; after a restart exactly one message is in the Maildir: RFC
 * 5322 with the edited subject and the meeting invite as text/calendar. Another restart
 * sends nothing again.
 *
 * Business time starts at a fixed instant (CLOCK_FILE) and flows on from there, across the
 * restarts. The draft proposes the first free slot at least the calendar's notice (two
 * hours) ahead, and the outbox drops the invite when, at delivery, that slot is closer
 * than the notice (app/outbox.c: it never invites to a passed slot). On the real clock the
 * slot could fall seconds after the notice ran out (a run at 10:29:58 proposes 12:30), and
 * a slow restart then sent the mail without its invite: no multipart/mixed. At 13:10 the
 * first slot is 15:30, twenty minutes past the notice. */
static void test_bdr_outbox(void **state)
{
    (void)state;
    char *clock_path = strf("%s/clock", runs_srv.dir);
    clock_file_set(clock_path, utc(2026, 11, 2, 13, 10)); /* a Monday */
    assert_int_equal(server_setenv(&runs_srv, "CLOCK_FILE", clock_path), 0);
    free(clock_path);
    setenv("OUTBOX_POLL_MS", "0", 1); /* hold the mail */
    setenv("SEND_WINDOW", "any", 1);  /* whatever the day and hour the test runs */
    assert_int_equal(server_start(&runs_srv, false), 0);
    harness_use(&runs_srv);
    struct resp r;
    json_t *j = approval_pending(strong_known_csv, &r);
    char aid[64];
    snprintf(aid, sizeof aid, "%s", jstr(j, "output.approvals.0.approval_id"));
    resp_free(&r);

    /* the pending approval: Agent Inbox's HumanInterrupt with the draft and the meeting */
    j = http_json("GET", "/api/approvals?status=pending", NULL, &r);
    assert_int_equal(json_integer_value(jget(j, "count")), 1);
    assert_string_equal(jstr(j, "items.0.id"), aid);
    assert_string_equal(jstr(j, "items.0.request.action_request.args.to"), "maya@quorvianta.io");
    assert_true(json_is_true(jget(j, "items.0.request.config.allow_edit")));
    assert_non_null(jstr(j, "items.0.request.action_request.args.meeting.start"));
    assert_non_null(jstr(j, "items.0.request.description"));
    resp_free(&r);

    /* bad answers: 422 naming the field, nothing recorded */
    char *path = strf("/api/approvals/%s", aid);
    http("POST", path, "application/json", "{\"type\":\"approve\"}", 18, &r);
    expect_problem("unknown type", &r, 422, "[\"body\",\"type\"]", "enum");
    resp_free(&r);
    const char bad_edit[] = "{\"type\":\"edit\",\"args\":{\"action\":\"send_outreach\",\"args\":"
                            "{\"to\":\"someone@else.example\"}}}";
    http("POST", path, "application/json", bad_edit, strlen(bad_edit), &r);
    expect_problem("edit of to", &r, 422, "[\"body\",\"args\",\"args\",\"to\"]", "not_editable");
    resp_free(&r);
    http("POST", "/api/approvals/nope", "application/json", "{\"type\":\"accept\"}", 17, &r);
    expect_problem("unknown approval", &r, 404, "[\"path\",\"approval_id\"]", NULL);
    resp_free(&r);

    /* the edit: applied, recorded (who, what changed), the run finishes, mail is queued */
    const char edit[] = "{\"type\":\"edit\",\"args\":{\"action\":\"send_outreach\",\"args\":"
                        "{\"subject\":\"Quick question, Maya\"}},\"reviewer\":\"kim@pipewise.io\"}";
    j = http_json("POST", path, edit, &r);
    if (r.status != 200)
        fail_msg("approval: %ld %.400s", r.status, r.body);
    assert_string_equal(jstr(j, "approval.status"), "edited");
    /* the reviewer is the key that answered, whatever name the body gives */
    assert_string_equal(jstr(j, "approval.reviewer"), "first admin key");
    assert_string_equal(jstr(j, "approval.response.reviewer"), "first admin key");
    assert_non_null(jstr(j, "approval.decided_at"));
    assert_string_equal(jstr(j, "approval.changes.0.field"), "subject");
    assert_string_equal(jstr(j, "approval.changes.0.to"), "Quick question, Maya");
    assert_string_equal(jstr(j, "run.status"), "done");
    assert_string_equal(jstr(j, "run.bdr_decision.status"), "approved");
    assert_false(json_is_true(jget(j, "duplicate")));
    resp_free(&r);
    /* the same answer again: harmless */
    j = http_json("POST", path, edit, &r);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(jget(j, "duplicate")));
    resp_free(&r);
    /* a different answer: 409 */
    http("POST", path, "application/json", "{\"type\":\"ignore\"}", 17, &r);
    expect_problem("second answer", &r, 409, "[\"body\",\"type\"]", "already_decided");
    resp_free(&r);
    free(path);

    j = http_json("GET", "/api/outbox?status=queued", NULL, &r);
    long queued = (long)json_integer_value(jget(j, "count"));
    assert_true(queued >= 2); /* the e-mail and its follow-ups */
    resp_free(&r);
    char *files[4] = {0};
    assert_int_equal(maildir_files(&runs_srv, files, 4), 0); /* held */

    /* killed between the approval and the delivery; restarted with mail flowing */
    server_kill(&runs_srv);
    setenv("OUTBOX_POLL_MS", "100", 1);
    assert_int_equal(server_start(&runs_srv, false), 0);
    harness_use(&runs_srv);
    long sent = 0;
    for (int i = 0; i < 600 && sent < 1; i++) { /* 30 s: a sanitized server on a busy machine */
        j = http_json("GET", "/api/outbox?status=sent", NULL, &r);
        sent = (long)json_integer_value(jget(j, "count"));
        resp_free(&r);
        if (sent < 1)
            usleep(50 * 1000);
    }
    if (sent != 1) {
        char *cmd = strf("tail -c 3000 %s >&2", runs_srv.log_path);
        (void)!system(cmd);
        free(cmd);
    }
    assert_int_equal(sent, 1); /* the follow-ups are due in days */
    server_stop(&runs_srv);    /* and once more: nothing is delivered twice */
    assert_int_equal(server_start(&runs_srv, false), 0);
    harness_use(&runs_srv);
    usleep(300 * 1000);
    unsetenv("OUTBOX_POLL_MS");
    unsetenv("SEND_WINDOW");
    int n = maildir_files(&runs_srv, files, 4);
    assert_int_equal(n, 1);
    const char *m = files[0];
    assert_non_null(strstr(m, "Subject: Quick question, Maya\r\n"));
    assert_non_null(strstr(m, "To: Maya Okafor <maya@quorvianta.io>\r\n"));
    assert_non_null(strstr(m, "Message-ID: <"));
    assert_non_null(strstr(m, "Content-Type: multipart/mixed"));
    assert_non_null(strstr(m, "multipart/alternative"));
    assert_non_null(strstr(m, "text/calendar; method=REQUEST; charset=UTF-8"));
    assert_non_null(strstr(m, "filename=\"invite.ics\""));
    free(files[0]);
    j = http_json("GET", "/api/outbox?status=sent", NULL, &r);
    assert_int_equal(json_integer_value(jget(j, "count")), 1);
    assert_int_equal(json_integer_value(jget(j, "items.0.attempts")), 1);
    assert_string_equal(jstr(j, "items.0.kind"), "email");
    resp_free(&r);
    /* Maya replies: the follow-ups still queued for her are cancelled */
    j = http_json("POST", INVOKE,
                  "{\"agent_type\":\"conversation\",\"input\":{\"message\":\"Thanks, "
                  "what does it cost for 40 seats?\",\"contact\":{\"name\":\"Maya Okafor\","
                  "\"email\":\"maya@quorvianta.io\"}}}",
                  &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(jget(j, "output.followups_cancelled")), queued - 1);
    resp_free(&r);
    j = http_json("GET", "/api/outbox?status=cancelled", NULL, &r);
    assert_int_equal(json_integer_value(jget(j, "count")), queued - 1);
    assert_string_equal(jstr(j, "items.0.last_error"), "the contact replied");
    resp_free(&r);
    http("GET", "/api/outbox?status=bogus", NULL, NULL, 0, &r);
    expect_problem("bad outbox status", &r, 422, "[\"query\",\"status\"]", "enum");
    resp_free(&r);
    assert_true(exited_ok(server_stop(&runs_srv)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conversation),
        cmocka_unit_test_setup_teardown(test_bdr_outbox, runs_setup, runs_teardown),
    };
    return api_exit_status(cmocka_run_group_tests(tests, api_group_setup, api_group_teardown));
}
