/* Integration tests of bounded storage and a truthful /health: the server's retention
 * sweep, driven by moving the clock (CLOCK_FILE), never by sleeping through the retention
 * periods; `sales-agent prune` on the same database; and /health answering 503 "degraded"
 * naming the database while another process holds SQLite's write lock, then recovering;
 * the conversation list's rows going with their sessions.
 * runs_srv for the sweep (see harness.h), main_srv for /health. */
#include "harness.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char clock_path[600];

/* Moves the server's "now" to t (the file's instant; it flows on from there). */
static void set_clock(time_t t)
{
    clock_file_set(clock_path, t);
}

/* Writes a file into the server's Maildir subdirectory sub ("new", "cur") last changed at
 * mtime. */
static void put_mail(const char *sub, const char *name, time_t mtime)
{
    char *path = strf("%s/mail/%s/%s", runs_srv.dir, sub, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("Subject: old\r\n\r\nhello\r\n", f);
    fclose(f);
    struct timespec ts[2] = {{.tv_sec = mtime}, {.tv_sec = mtime}};
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
    free(path);
}

static bool mail_exists(const char *sub, const char *name)
{
    char *path = strf("%s/mail/%s/%s", runs_srv.dir, sub, name);
    bool there = access(path, F_OK) == 0;
    free(path);
    return there;
}

/* The number of checkpoints in the thread's history (-1 when it cannot be read). */
static long history_len(const char *thread)
{
    struct resp r;
    char *path = strf("/api/threads/%s/history", thread);
    json_t *j = http_json("GET", path, NULL, &r);
    free(path);
    long n = r.status == 200 ? (long)json_array_size(jget(j, "history")) : -1;
    resp_free(&r);
    return n;
}

/* Queues a pipeline run on thread for input and waits for it; returns its lead id (into
 * lead, 64 bytes) and asserts its final status. */
static void run_pipeline(const char *thread, const char *input, const char *status, char *lead)
{
    struct resp r;
    char *body = strf("{\"thread_id\":\"%s\",\"input\":%s}", thread, input);
    json_t *j = http_json("POST", "/api/runs", body, &r);
    free(body);
    assert_int_equal(r.status, 202);
    char id[64];
    snprintf(id, sizeof id, "%s", jstr(j, "run_id"));
    snprintf(lead, 64, "%s", jstr(j, "lead_id"));
    resp_free(&r);
    j = wait_run(id, &r);
    assert_string_equal(jstr(j, "status"), status);
    resp_free(&r);
}

static const char weak_lead[] =
    "{\"company_name\":\"Tiny Bakery\",\"industry\":\"Food\",\"company_size\":\"1-10\","
    "\"country\":\"US\",\"contact_info\":{\"name\":\"Bo Baker\",\"email\":"
    "\"bo@tinybakery.example\"}}";

/* Runs `sales-agent prune` (extra: more arguments) on runs_srv's database with the clock
 * file and the settings in env ("NAME=value ..."); returns its JSON output (NULL when it
 * failed). */
static json_t *prune_cli(const char *env, const char *extra)
{
    char *cmd =
        strf("env %s CLOCK_FILE=%s MAIL_TRANSPORT=maildir:%s/mail LOG_LEVEL=error "
             "%s prune --database-url %s --data-dir %s/data %s",
             env, clock_path, runs_srv.dir, SA_BINARY, runs_srv.db_url, SA_SOURCE_DIR, extra);
    FILE *p = popen(cmd, "r");
    free(cmd);
    assert_non_null(p);
    char out[4096];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    if (status != 0)
        fail_msg("sales-agent prune: status %d, output %s", status, out);
    json_t *j = json_loads(out, 0, NULL);
    if (!j)
        fail_msg("sales-agent prune printed no JSON: %s", out);
    return j;
}

/* `sales-agent prune` with env: --dry-run counts n of key, the run deletes those n, and a
 * second run finds none left. */
static void prune_deletes(const char *env, const char *key, long n)
{
    json_t *j = prune_cli(env, "--dry-run");
    assert_int_equal(json_integer_value(jget(j, key)), n);
    json_decref(j);
    j = prune_cli(env, "");
    assert_int_equal(json_integer_value(jget(j, key)), n);
    json_decref(j);
    j = prune_cli(env, "");
    assert_int_equal(json_integer_value(jget(j, key)), 0);
    json_decref(j);
}

/* Starts runs_srv with its clock at t0 (CLOCK_FILE) and the settings env ({NAME, value}
 * pairs up to a {NULL}), which then leave this process's environment again. */
static void start_clocked(time_t t0, const char *const (*env)[2])
{
    snprintf(clock_path, sizeof clock_path, "%s/clock", runs_srv.dir);
    set_clock(t0);
    setenv("CLOCK_FILE", clock_path, 1);
    for (size_t i = 0; env[i][0]; i++)
        setenv(env[i][0], env[i][1], 1);
    assert_int_equal(server_start(&runs_srv, false), 0);
    harness_use(&runs_srv);
    unsetenv("CLOCK_FILE");
    for (size_t i = 0; env[i][0]; i++)
        unsetenv(env[i][0]);
}

/* The settings of the session tests: two-hour sessions, an hour's checkpoint retention. */
static const char *const session_env[][2] = {{"SESSION_TTL_SECONDS", "7200"},
                                             {"CHECKPOINT_RETENTION_SECONDS", "3600"},
                                             {"RETENTION_SWEEP_SECONDS", "60"},
                                             {NULL}};

/* The sweep: a finished run's thread keeps only its final state, a run waiting for an
 * approval keeps every checkpoint, executions and old mail go, newer mail stays; then
 * `sales-agent prune` deletes what a later clock allows, counting first with --dry-run. */
static void test_sweep_and_prune(void **state)
{
    (void)state;
    time_t t0 = time(NULL);
    static const char *const settings[][2] = {{"SEND_WINDOW", "any"},
                                              {"CHECKPOINT_RETENTION_SECONDS", "3600"},
                                              {"EXECUTION_RETENTION_SECONDS", "7200"},
                                              {"MAIL_RETENTION_SECONDS", "7200"},
                                              {"RETENTION_SWEEP_SECONDS", "60"},
                                              {NULL}};
    start_clocked(t0, settings);

    char done_lead[64], waiting_lead[64];
    run_pipeline("ret-done", weak_lead, "done", done_lead);
    run_pipeline("ret-waiting", strong_known, "awaiting_approval", waiting_lead);
    long done_before = history_len("ret-done"), waiting_before = history_len("ret-waiting");
    assert_true(done_before >= 3);
    assert_true(waiting_before >= 3);
    struct resp r;
    json_t *j = http_json("GET", "/api/threads/ret-done/state", NULL, &r);
    assert_int_equal(r.status, 200);
    char *final_values = json_dumps(jget(j, "values"), JSON_COMPACT | JSON_SORT_KEYS);
    resp_free(&r);
    assert_true(lead_executions(done_lead) >= 1);
    assert_true(lead_executions(waiting_lead) >= 1);
    put_mail("new", "old-unread", t0 - 60);
    put_mail("cur", "old-read:2,S", t0 - 60);
    put_mail("new", "young", t0 + 2 * 3600); /* younger than the cutoff below */

    /* three hours on: every period has passed; the sweep runs within a second */
    set_clock(t0 + 3 * 3600);
    long done_after = done_before;
    for (int i = 0; i < 200 && done_after != 1; i++) {
        done_after = history_len("ret-done");
        if (done_after != 1)
            usleep(50 * 1000);
    }
    assert_int_equal(done_after, 1);
    /* the final state is kept whole */
    j = http_json("GET", "/api/threads/ret-done/state", NULL, &r);
    assert_int_equal(r.status, 200);
    char *kept_values = json_dumps(jget(j, "values"), JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(kept_values, final_values);
    free(kept_values);
    free(final_values);
    resp_free(&r);
    /* the thread waiting for a human keeps every checkpoint and its interrupt */
    assert_int_equal(history_len("ret-waiting"), waiting_before);
    j = http_json("GET", "/api/threads/ret-waiting/state", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(jget(j, "tasks.0.interrupts.0"));
    resp_free(&r);
    j = http_json("GET", "/api/approvals?status=pending", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(json_integer_value(jget(j, "count")) >= 1);
    resp_free(&r);
    /* executions older than two hours are gone, mail too, except the young file */
    for (int i = 0; i < 100 && lead_executions(done_lead) != 0; i++)
        usleep(50 * 1000);
    assert_int_equal(lead_executions(done_lead), 0);
    assert_int_equal(lead_executions(waiting_lead), 0);
    assert_false(mail_exists("new", "old-unread"));
    assert_false(mail_exists("cur", "old-read:2,S"));
    assert_true(mail_exists("new", "young"));
    /* the lead itself stays */
    char *path = strf("/api/leads/%s", done_lead);
    http_json("GET", path, NULL, &r);
    free(path);
    assert_int_equal(r.status, 200);
    resp_free(&r);

    /* one more execution now, then the command line, five hours on */
    j = run_agent("qualification", weak_lead, &r);
    resp_free(&r);
    assert_int_equal(server_stop(&runs_srv), 0);
    set_clock(t0 + 5 * 3600);
    const char *env = "EXECUTION_RETENTION_SECONDS=3600 CHECKPOINT_RETENTION_SECONDS=0 "
                      "MAIL_RETENTION_SECONDS=7200";
    j = prune_cli(env, "--dry-run");
    assert_true(json_is_true(jget(j, "dry_run")));
    assert_int_equal(json_integer_value(jget(j, "executions")), 1);
    assert_int_equal(json_integer_value(jget(j, "mail_files")), 1);
    json_decref(j);
    assert_true(mail_exists("new", "young")); /* a dry run deletes nothing */
    j = prune_cli(env, "");
    assert_false(json_is_true(jget(j, "dry_run")));
    assert_int_equal(json_integer_value(jget(j, "executions")), 1);
    assert_int_equal(json_integer_value(jget(j, "mail_files")), 1);
    assert_int_equal(json_integer_value(jget(j, "checkpoint_threads")), 0);
    json_decref(j);
    assert_false(mail_exists("new", "young"));
    j = prune_cli(env, "");
    assert_int_equal(json_integer_value(jget(j, "executions")), 0);
    assert_int_equal(json_integer_value(jget(j, "mail_files")), 0);
    json_decref(j);
    /* the waiting thread is untouched by all of it */
    assert_int_equal(server_start(&runs_srv, false), 0);
    harness_use(&runs_srv);
    assert_int_equal(history_len("ret-waiting"), waiting_before);
}

/* ---- the conversation list ---------------------------------------------------------- */

/* One conversation turn; the thread id into thread (""): a new one. */
static void turn(char thread[80], const char *message)
{
    struct resp r;
    char *body = thread[0] ? strf("{\"agent_type\":\"conversation\",\"thread_id\":\"%s\","
                                  "\"input\":{\"message\":\"%s\"}}",
                                  thread, message)
                           : strf("{\"agent_type\":\"conversation\",\"input\":{\"message\":"
                                  "\"%s\",\"company_name\":\"Quiet Quarry Ltd\"}}",
                                  message);
    json_t *j = invoke(body, &r);
    free(body);
    if (r.status != 200)
        fail_msg("turn: %ld %.300s", r.status, r.body);
    snprintf(thread, 80, "%s", jstr(j, "thread_id"));
    resp_free(&r);
}

/* The list row of thread in the whole conversation list (a new reference), or NULL. */
static json_t *listed(const char *thread)
{
    struct resp r;
    json_t *j = http_json("GET", "/api/conversations?limit=500", NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *row = NULL;
    size_t i;
    json_t *it;
    json_array_foreach(jget(j, "items"), i, it) if (strcmp(jstr(it, "thread_id"), thread) == 0)
        row = json_incref(it);
    resp_free(&r);
    return row;
}

static long conversation_status(const char *thread)
{
    struct resp r;
    char *path = strf("/api/conversations/%s", thread);
    http_json("GET", path, NULL, &r);
    free(path);
    long status = r.status;
    resp_free(&r);
    return status;
}

/* A conversation's list row lives as long as its session (SESSION_TTL_SECONDS after its
 * last turn, as GET /api/conversations/{id}): the sweep that deletes a quiet one's row
 * keeps one whose first turn is as old but whose last is recent, through checkpoint
 * retention; a new turn on the quiet thread lists it again as a new conversation; and
 * `sales-agent prune [--dry-run]` counts and deletes the rows of a later clock. */
static void test_conversations_follow_sessions(void **state)
{
    (void)state;
    time_t t0 = time(NULL);
    start_clocked(t0, session_env);

    char quiet[80] = "", busy[80] = "";
    turn(quiet, "Hi, what does the Growth plan cost for 30 seats?");
    turn(busy, "Hello, we are looking at tools for our sales team");
    set_clock(t0 + 3600); /* the busy one's second turn, an hour on */
    turn(busy, "Could we see a demo next Tuesday afternoon?");
    json_t *row = listed(quiet);
    assert_non_null(row);
    json_decref(row);

    /* 2 h 10 min after the quiet one's only turn: its session is over, the busy one's
     * (last turn 70 minutes ago, past checkpoint retention) is not; the sweep runs within
     * a second and takes the quiet row alone */
    set_clock(t0 + 2L * 3600 + 600);
    row = listed(quiet);
    for (int i = 0; i < 200 && row; i++) {
        json_decref(row);
        usleep(50 * 1000);
        row = listed(quiet);
    }
    assert_null(row);
    assert_int_equal(conversation_status(quiet), 404);
    row = listed(busy);
    assert_non_null(row);
    assert_int_equal(json_integer_value(jget(row, "turns")), 2);
    json_decref(row);
    assert_int_equal(conversation_status(busy), 200);

    /* a new turn on the quiet thread is a new conversation, listed first */
    turn(quiet, "Hi again, is the Growth plan still available?");
    struct resp r;
    json_t *j = http_json("GET", "/api/conversations?limit=1", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "items.0.thread_id"), quiet);
    assert_int_equal(json_integer_value(jget(j, "items.0.turns")), 1);
    resp_free(&r);

    /* the command line, 3 h 20 min on: the busy one's session is over, the quiet one's
     * second conversation (70 minutes old) is not */
    assert_int_equal(server_stop(&runs_srv), 0);
    set_clock(t0 + 3L * 3600 + 1200);
    const char *env = "SESSION_TTL_SECONDS=7200";
    prune_deletes(env, "conversations", 1);
    assert_int_equal(server_start(&runs_srv, false), 0);
    harness_use(&runs_srv);
    row = listed(busy);
    assert_null(row);
    row = listed(quiet);
    assert_non_null(row);
    json_decref(row);
}

/* ---- the Agent Server's thread records ------------------------------------------------ */

/* POST /threads: a new thread's id into id (80 bytes). */
static void new_as_thread(char id[80])
{
    struct resp r;
    json_t *j = http_json("POST", "/threads", "{\"metadata\":{\"owner\":\"retention\"}}", &r);
    assert_int_equal(r.status, 200);
    snprintf(id, 80, "%s", jstr(j, "thread_id"));
    resp_free(&r);
}

/* A run of assistant on the thread with input, waited for; its answer's interrupts. */
static size_t as_run(const char *thread, const char *assistant, const char *input)
{
    struct resp r;
    char *path = strf("/threads/%s/runs/wait", thread);
    char *body = strf("{\"assistant_id\":\"%s\",\"input\":%s}", assistant, input);
    json_t *j = http_json("POST", path, body, &r);
    free(path);
    free(body);
    if (r.status != 200 || jget(j, "__error__"))
        fail_msg("%s run: %ld %.300s", assistant, r.status, r.body);
    size_t n = json_array_size(jget(j, "__interrupt__"));
    resp_free(&r);
    return n;
}

/* Whether the thread still has its record: GET /threads/{id} answers a thread with
 * checkpoints without one too, but only the record holds the metadata POST /threads gave. */
static bool has_record(const char *thread)
{
    struct resp r;
    char *path = strf("/threads/%s", thread);
    json_t *j = http_json("GET", path, NULL, &r);
    free(path);
    if (r.status != 200 && r.status != 404)
        fail_msg("GET /threads/%s: %ld %.300s", thread, r.status, r.body);
    bool kept = r.status == 200 && strcmp(jstr(j, "metadata.owner") ?: "", "retention") == 0;
    resp_free(&r);
    return kept;
}

/* Whether the sweep takes the thread's record within ten seconds (polled). */
static bool record_swept(const char *thread)
{
    bool kept = true;
    for (int i = 0; i < 200 && (kept = has_record(thread)); i++)
        usleep(50 * 1000);
    return !kept;
}

/* A thread record (POST /threads) untouched for CHECKPOINT_RETENTION_SECONDS goes once its
 * thread holds no checkpoint: one never run, and a conversation's whose checkpoints expired
 * with its session (SESSION_TTL_SECONDS) in the same sweep. A finished pipeline thread
 * (compacted to its final state) and one waiting for its approval (held) keep theirs, as
 * long as they are idle. `sales-agent prune [--dry-run]` counts and deletes the same. */
static void test_thread_records_follow_checkpoints(void **state)
{
    (void)state;
    time_t t0 = time(NULL);
    start_clocked(t0, session_env);

    char unused[80], done[80], waiting[80], conv[80];
    new_as_thread(unused);
    new_as_thread(done);
    new_as_thread(waiting);
    new_as_thread(conv);
    assert_int_equal(as_run(done, "pipeline", weak_lead), 0);
    assert_int_equal(as_run(waiting, "pipeline", strong_known), 1);
    as_run(conv, "conversation",
           "{\"message\":\"Hi, what does the Growth plan cost for 30 seats?\"}");
    long waiting_before = history_len(waiting);
    assert_true(waiting_before >= 3);

    /* an hour and a half on, past checkpoint retention: the sweep (within a second) takes
     * the unused record; the conversation's session (two hours) still holds checkpoints */
    set_clock(t0 + 5400);
    assert_true(record_swept(unused));
    assert_true(has_record(conv));
    assert_true(has_record(done));
    assert_true(has_record(waiting));

    /* three hours on: the sweep takes a record made (and left unused) at an hour and a
     * half, and the conversation's once its checkpoints expired: with the database saver
     * the sweep deletes them (business time); Redis expires them on its own clock (two
     * real hours), so there the record stays. The pipeline threads keep theirs. */
    char unused2[80];
    new_as_thread(unused2);
    set_clock(t0 + 3L * 3600);
    assert_true(record_swept(unused2));
    assert_true(has_record(conv) == harness_on_pg());
    assert_true(has_record(done));
    assert_true(has_record(waiting));
    assert_int_equal(history_len(waiting), waiting_before);
    /* a record made now, never run; the command line five hours on takes it alone */
    char late[80];
    new_as_thread(late);
    assert_int_equal(server_stop(&runs_srv), 0);
    set_clock(t0 + 5L * 3600);
    /* with the server's checkpoint store: its REDIS_URL on PostgreSQL runs */
    char *env = strf("CHECKPOINT_RETENTION_SECONDS=3600 SESSION_TTL_SECONDS=7200%s%s",
                     runs_srv.redis_url[0] ? " REDIS_URL=" : "", runs_srv.redis_url);
    prune_deletes(env, "thread_records", 1);
    free(env);
    assert_int_equal(server_start(&runs_srv, false), 0);
    harness_use(&runs_srv);
    assert_false(has_record(late));
    assert_true(has_record(done));
    assert_true(has_record(waiting));
    assert_int_equal(history_len(waiting), waiting_before);
}

/* /health while another process holds the database's write lock: 503 "degraded" naming
 * the database, within a few probes; healthy again once the lock is released. */
static void test_health_degraded(void **state)
{
    (void)state;
    SKIP_ON_PG("it locks the SQLite file (test_api_outage stops PostgreSQL instead)");
    harness_use(&main_srv);
    expect_health_ok();
    char *path = strf("%s/db.sqlite", main_srv.dir);
    char *cmd = strf("sqlite3 %s", path);
    FILE *lock = popen(cmd, "w");
    free(cmd);
    free(path);
    assert_non_null(lock);
    fputs(".timeout 10000\nBEGIN EXCLUSIVE;\n", lock);
    fflush(lock);
    struct resp r = {0};
    json_t *j = NULL;
    long status = 0;
    for (int i = 0; i < 100 && status != 503; i++) {
        j = http_json("GET", "/health", NULL, &r);
        status = r.status;
        if (status != 503) {
            resp_free(&r);
            usleep(100 * 1000);
        }
    }
    assert_int_equal(status, 503);
    assert_string_equal(jstr(j, "status"), "degraded");
    assert_string_equal(jstr(j, "failing.0"), "database");
    assert_string_equal(jstr(j, "backends.database.status"), "fail");
    assert_string_equal(jstr(j, "checks.database.status"), "fail");
    /* the client gets the kind of failure, not SQLite's words */
    assert_null(strstr(r.body, "locked"));
    resp_free(&r);
    /* without a credential: the status alone */
    harness_auth("");
    j = http_json("GET", "/health", NULL, &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(jstr(j, "status"), "degraded");
    assert_null(jget(j, "backends"));
    resp_free(&r);
    harness_auth(NULL);

    fputs("COMMIT;\n.quit\n", lock);
    assert_int_equal(pclose(lock), 0);
    status = 0;
    for (int i = 0; i < 100 && status != 200; i++) {
        http_json("GET", "/health", NULL, &r);
        status = r.status;
        resp_free(&r);
        if (status != 200)
            usleep(100 * 1000);
    }
    assert_int_equal(status, 200);
    j = http_json("GET", "/health", NULL, &r);
    assert_string_equal(jstr(j, "backends.database.status"), "ok");
    assert_string_equal(jstr(j, "backends.database.backend"), "sqlite");
    assert_null(jget(j, "failing"));
    resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sweep_and_prune, runs_setup, runs_teardown),
        cmocka_unit_test_setup_teardown(test_conversations_follow_sessions, runs_setup,
                                        runs_teardown),
        cmocka_unit_test_setup_teardown(test_thread_records_follow_checkpoints, runs_setup,
                                        runs_teardown),
        cmocka_unit_test(test_health_degraded),
    };
    return api_exit_status(cmocka_run_group_tests(tests, api_group_setup, api_group_teardown));
}
