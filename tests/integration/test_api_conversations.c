/* Integration tests of conversation sessions through the binary: GET
 * /api/conversations/{thread_id} follows the turns (stage, turns, the lead the contact's
 * e-mail names); a prospect who replies the next day (past the pipeline's 1 h
 * CHECKPOINT_TTL_SECONDS) continues the conversation with its history; after
 * SESSION_TTL_SECONDS (30 days) of silence the session is gone (404) and the next message
 * starts a new conversation. Business time moves with CLOCK_FILE, never by sleeping. On
 * PostgreSQL+Redis (test_api_conversations_pg) Redis expires keys on its own real clock,
 * which these seconds of test never advance: there the keys' lives are read back with the
 * TTL command (redis-cli) instead, 30 days for the conversation's checkpoints and session,
 * at most the hour for a pipeline's. runs_srv (harness.h) is the server with the clock. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SESSION_TTL 2592000L /* the default SESSION_TTL_SECONDS */

static char clock_path[600];

/* Moves the server's "now" to t (the file's instant; it flows on from there). */
static void set_clock(time_t t)
{
    clock_file_set(clock_path, t);
}

/* "2026-12-02T16:00:00.123Z" to Unix seconds (the fraction dropped); fails the test on
 * anything else. */
static time_t iso_secs(const char *s)
{
    struct tm tm = {0};
    const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!end)
        fail_msg("not an ISO 8601 time: %s", s ? s : "(null)");
    return timegm(&tm);
}

/* The TTL Redis reports for key in runs_srv's Redis database (-2: no such key). */
static long long redis_ttl(const char *key)
{
    char *cmd = strf("redis-cli -u '%s' TTL '%s'", runs_srv.redis_url, key);
    FILE *p = popen(cmd, "r");
    free(cmd);
    assert_non_null(p);
    char out[64] = "";
    if (!fgets(out, sizeof out, p))
        out[0] = '\0';
    int status = pclose(p);
    if (status != 0)
        fail_msg("redis-cli TTL %s: status %d", key, status);
    char *end;
    long long v = strtoll(out, &end, 10);
    if (end == out)
        fail_msg("redis-cli TTL %s: %s", key, out);
    return v;
}

/* On Redis: the conversation's checkpoint keys and session key live SESSION_TTL_SECONDS
 * from its last turn (a minute of slack for a slow run), not the pipeline's hour. */
static void expect_conversation_keys_live(const char *thread)
{
    if (!harness_on_pg())
        return;
    static const char *const keys[] = {"agent:checkpoint:{%s}:latest",
                                       "agent:checkpoint:{%s}:index", "agent:checkpoint:{%s}:rec",
                                       "session:{%s}:state"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char key[256];
        snprintf(key, sizeof key, keys[i], thread);
        long long ttl = redis_ttl(key);
        if (ttl < SESSION_TTL - 60 || ttl > SESSION_TTL)
            fail_msg("TTL %s = %lld; expected about %ld", key, ttl, SESSION_TTL);
    }
}

/* One turn; returns the answer (200 asserted), owned by r. */
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

/* GET /api/conversations/{thread}: the session, owned by r (status not asserted). */
static json_t *session(const char *thread, struct resp *r)
{
    char *path = strf("/api/conversations/%s", thread);
    json_t *j = http_json("GET", path, NULL, r);
    free(path);
    return j;
}

static const char dana_lead[] =
    "{\"company_name\":\"Northwind Conversations\",\"industry\":\"Technology\","
    "\"company_size\":\"51-200\",\"country\":\"US\",\"contact_info\":{\"name\":\"Dana Reyes\","
    "\"email\":\"dana@northwind-conv.example\"}}";

static const char weak_lead[] =
    "{\"company_name\":\"Tiny Bakery\",\"industry\":\"Food\",\"company_size\":\"1-10\","
    "\"country\":\"US\",\"contact_info\":{\"name\":\"Bo Baker\",\"email\":"
    "\"bo@tinybakery-conv.example\"}}";

static void test_session_outlives_checkpoint_ttl(void **state)
{
    (void)state;
    time_t t0 = time(NULL);
    snprintf(clock_path, sizeof clock_path, "%s/clock", runs_srv.dir);
    set_clock(t0);
    assert_int_equal(server_setenv(&runs_srv, "CLOCK_FILE", clock_path), 0);
    assert_int_equal(server_start(&runs_srv, false), 0);
    harness_use(&runs_srv);

    /* Dana is a stored lead: her conversation links to it */
    struct resp r;
    json_t *j = run_agent("qualification", dana_lead, &r);
    char lead[64];
    snprintf(lead, sizeof lead, "%s", jstr(j, "lead_id"));
    assert_true(is_uuid(lead));
    resp_free(&r);

    j = converse(NULL,
                 "{\"message\":\"Hi there, Dana from Northwind here\",\"contact\":"
                 "{\"name\":\"Dana Reyes\",\"email\":\"dana@northwind-conv.example\"}}",
                 &r);
    char thread[80];
    snprintf(thread, sizeof thread, "%s", jstr(j, "thread_id"));
    resp_free(&r);
    j = session(thread, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "thread_id"), thread);
    assert_int_equal(json_integer_value(jget(j, "turns")), 1);
    assert_string_equal(jstr(j, "stage"), "introduction");
    assert_true(json_is_null(jget(j, "previous_stage")));
    assert_string_equal(jstr(j, "last_intent"), "greeting");
    assert_string_equal(jstr(j, "lead_id"), lead);
    assert_null(jget(j, "contact_email")); /* no personal data: the lead holds it */
    assert_false(json_is_true(jget(j, "do_not_contact")));
    time_t created = iso_secs(jstr(j, "created_at"));
    assert_true(created >= t0 && created < t0 + 60); /* the business clock's, not the host's */
    assert_string_equal(jstr(j, "updated_at"), jstr(j, "created_at"));
    assert_int_equal(iso_secs(jstr(j, "expires_at")) - iso_secs(jstr(j, "updated_at")),
                     SESSION_TTL);
    resp_free(&r);
    expect_conversation_keys_live(thread);

    /* a pipeline's thread keeps the hour (and is no conversation) */
    j = run_agent("pipeline", weak_lead, &r);
    char pthread[80];
    snprintf(pthread, sizeof pthread, "%s", jstr(j, "thread_id"));
    assert_string_equal(jstr(j, "output.status"), "done");
    resp_free(&r);
    if (harness_on_pg()) {
        char *key = strf("agent:checkpoint:{%s}:latest", pthread);
        long long ttl = redis_ttl(key);
        free(key);
        assert_true(ttl > 0 && ttl <= 3600);
    }
    j = session(pthread, &r);
    expect_problem("a pipeline's thread", &r, 404, "[\"path\",\"thread_id\"]", "not_found");
    resp_free(&r);

    /* the next day: past the 1 h checkpoint TTL, the conversation goes on with its history */
    set_clock(t0 + 25 * 3600);
    j = converse(thread, "{\"message\":\"How much does it cost for 40 seats? Send me pricing\"}",
                 &r);
    assert_int_equal(json_integer_value(jget(j, "output.turn")), 2);
    assert_string_equal(jstr(j, "output.previous_stage"), "introduction");
    assert_int_equal(json_array_size(jget(j, "output.history")), 4);
    assert_string_equal(jstr(j, "output.history.0.content"), "Hi there, Dana from Northwind here");
    resp_free(&r);
    j = session(thread, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(jget(j, "turns")), 2);
    assert_string_equal(jstr(j, "previous_stage"), "introduction");
    assert_string_equal(jstr(j, "stage"), "solution");
    assert_string_equal(jstr(j, "last_intent"), "pricing");
    assert_int_equal(iso_secs(jstr(j, "created_at")), created);
    time_t updated = iso_secs(jstr(j, "updated_at"));
    assert_true(updated >= t0 + 25 * 3600 && updated < t0 + 25 * 3600 + 60);
    resp_free(&r);
    expect_conversation_keys_live(thread);

    /* a day short of SESSION_TTL_SECONDS of silence: still there */
    set_clock(t0 + 25 * 3600 + SESSION_TTL - 86400);
    j = session(thread, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    /* past it: gone, with the API's problem body, and the next message starts afresh */
    set_clock(t0 + 25 * 3600 + SESSION_TTL + 120);
    j = session(thread, &r);
    expect_problem("an expired session", &r, 404, "[\"path\",\"thread_id\"]", "not_found");
    assert_non_null(strstr(jstr(r.json, "detail.0.msg"), "SESSION_TTL_SECONDS"));
    resp_free(&r);
    j = converse(thread, "{\"message\":\"Hello again, are you still there?\"}", &r);
    assert_int_equal(json_integer_value(jget(j, "output.turn")), 1);
    assert_true(json_is_null(jget(j, "output.previous_stage")));
    assert_int_equal(json_array_size(jget(j, "output.history")), 2);
    resp_free(&r);
    j = session(thread, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(jget(j, "turns")), 1);
    assert_true(iso_secs(jstr(j, "created_at")) >= t0 + 25 * 3600 + SESSION_TTL);
    resp_free(&r);
    expect_conversation_keys_live(thread);

    /* unknown and malformed ids */
    j = session("no-such-conversation", &r);
    expect_problem("an unknown session", &r, 404, "[\"path\",\"thread_id\"]", "not_found");
    resp_free(&r);
    j = session("bad%20id", &r);
    expect_problem("a malformed thread id", &r, 422, "[\"path\",\"thread_id\"]", NULL);
    resp_free(&r);
    (void)j;
}

/* The web console's human reply (issue 16): POST /api/conversations/{thread_id}/reply
 * records a person's reply on the thread as the seller's side, attributed to the key, not
 * sent, without moving the stage or counting a turn; the prospect's next turn sees it in
 * the history; the audit log names it; bad input gets problems naming the field. */
static void test_human_reply(void **state)
{
    (void)state;
    harness_use(&main_srv);
    struct resp r;
    const char *thread = "reply-quorvianta-1";
    converse(thread, "{\"message\":\"Hi, what does the Growth plan cost for 30 seats?\"}", &r);
    resp_free(&r);
    json_t *before = session(thread, &r);
    assert_int_equal(r.status, 200);
    char stage[32];
    snprintf(stage, sizeof stage, "%s", jstr(before, "stage"));
    resp_free(&r);

    const char reply[] = "Hi Maya, a quote for 30 seats on the Growth plan is on its way. Kim";
    char *path = strf("/api/conversations/%s/reply", thread);
    char *body = strf("{\"message\":\"%s\"}", reply);
    json_t *j = http_json("POST", path, body, &r);
    free(body);
    assert_int_equal(r.status, 201);
    assert_string_equal(jstr(j, "thread_id"), thread);
    assert_string_equal(jstr(j, "message.content"), reply);
    assert_string_equal(jstr(j, "message.source"), "human");
    assert_string_equal(jstr(j, "message.role"), "assistant");
    assert_true(strlen(jstr(j, "message.author")) > 0);
    assert_non_null(jstr(j, "checkpoint_id"));
    resp_free(&r);

    /* on the thread, as its last message; the stage and the turn count as they were */
    char *spath = strf("/api/threads/%s/state", thread);
    j = http_json("GET", spath, NULL, &r);
    free(spath);
    assert_int_equal(r.status, 200);
    json_t *msgs = jget(j, "values.messages");
    assert_int_equal(json_array_size(msgs), 3);
    assert_string_equal(jstr(json_array_get(msgs, 2), "content"), reply);
    assert_string_equal(jstr(j, "values.stage"), stage);
    assert_int_equal(json_integer_value(jget(j, "values.turn")), 1);
    resp_free(&r);
    j = session(thread, &r);
    assert_int_equal(json_integer_value(jget(j, "turns")), 1);
    resp_free(&r);

    /* the prospect's next turn carries on with the reply in its history */
    j = converse(thread, "{\"message\":\"Thanks! Could we meet next Tuesday?\"}", &r);
    json_t *hist = jget(j, "output.history");
    assert_int_equal(json_array_size(hist), 5);
    assert_string_equal(jstr(json_array_get(hist, 2), "source"), "human");
    assert_string_equal(jstr(json_array_get(hist, 3), "role"), "user");
    assert_int_equal(json_integer_value(jget(j, "output.turn")), 2);
    resp_free(&r);

    j = http_json("GET", "/api/audit?action=conversation.reply", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(json_array_size(jget(j, "items")) >= 1);
    resp_free(&r);

    /* problems */
    http("POST", path, "application/json", "{\"message\":\"\"}", 14, &r);
    expect_problem("an empty reply", &r, 422, "[\"body\",\"message\"]", NULL);
    resp_free(&r);
    http("POST", path, "application/json", "{\"text\":\"hello\"}", 16, &r);
    expect_problem("no message", &r, 422, "[\"body\",\"message\"]", NULL);
    resp_free(&r);
    char *longer = malloc(5001 + 20);
    assert_non_null(longer);
    memcpy(longer, "{\"message\":\"", 12);
    memset(longer + 12, 'a', 5001);
    memcpy(longer + 12 + 5001, "\"}", 3);
    http("POST", path, "application/json", longer, strlen(longer), &r);
    free(longer);
    expect_problem("a reply over 5000 characters", &r, 422, "[\"body\",\"message\"]", NULL);
    resp_free(&r);
    free(path);
    http("POST", "/api/conversations/reply-nobody-1/reply", "application/json",
         "{\"message\":\"hello\"}", 19, &r);
    expect_problem("a reply to no conversation", &r, 404, "[\"path\",\"thread_id\"]", NULL);
    resp_free(&r);
    http("POST", "/api/conversations/bad%20id/reply", "application/json", "{\"message\":\"hi\"}",
         16, &r);
    expect_problem("a malformed thread id", &r, 422, "[\"path\",\"thread_id\"]", NULL);
    resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_human_reply), /* on main_srv (issue 16) */
        cmocka_unit_test_setup_teardown(test_session_outlives_checkpoint_ttl, runs_setup,
                                        runs_teardown),
    };
    return api_exit_status(cmocka_run_group_tests(tests, api_group_setup, api_group_teardown));
}
