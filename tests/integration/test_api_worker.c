/* Integration tests of the split between API instances and workers: `serve` with
 * RUN_WORKERS=0 only queues runs; `sales-agent worker` on the same database runs them to
 * the end while the API answers for them, and it stops cleanly on SIGTERM; its --help
 * lists the settings it reads; with WORKER_METRICS_PORT it serves its own /metrics and
 * /health (and nothing else) under serve's access control, and a port already taken stops
 * it before it claims anything. On the default backends
 * (SQLite, the in-process queue: the worker takes the store's unfinished runs at
 * start-up). With SA_TEST_REDIS_URL set, the queue is Redis (database 9 of that server, so
 * other programs' workers cannot take these runs): the API's stream carries the events the
 * worker published, and a worker killed mid-run (SIGKILL) has its run taken over by
 * another, continued from its checkpoint. */
#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct server api;   /* serve, RUN_WORKERS=0 */
static char redis_url[600]; /* "" on the memory queue */

/* Starts `sales-agent worker` on api's database (and Redis, in the environment) with
 * stdout to out_path, PIPELINE_STEP_DELAY_MS=step_delay and, unless metrics_port is NULL,
 * WORKER_METRICS_PORT=metrics_port. Returns its pid. */
static pid_t start_worker(const char *out_path, const char *step_delay, const char *metrics_port)
{
    char data_dir[1024], mail[600], log_path[600];
    snprintf(data_dir, sizeof data_dir, "%s/data", SA_SOURCE_DIR);
    snprintf(mail, sizeof mail, "maildir:%s/mail", api.dir);
    snprintf(log_path, sizeof log_path, "%s/worker.log", api.dir);
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* the test dies, the worker goes with it */
    if (getppid() != parent)
        _exit(125);
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out < 0 || log < 0)
        _exit(126);
    dup2(out, 1);
    dup2(log, 2);
    setenv("MAIL_TRANSPORT", mail, 1);
    setenv("RUN_WORKERS", "1", 1);
    setenv("PIPELINE_STEP_DELAY_MS", step_delay, 1);
    setenv("RUN_VISIBILITY_TIMEOUT_MS", "1000", 1); /* a dead worker's run moves on soon */
    if (metrics_port)
        setenv("WORKER_METRICS_PORT", metrics_port, 1);
    else
        unsetenv("WORKER_METRICS_PORT");
    execl(SA_BINARY, SA_BINARY, "worker", "--database-url", api.db_url, "--data-dir", data_dir,
          (char *)NULL);
    _exit(127);
}

/* The file's text (malloc'd; "" when it cannot be read). */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    char buf[4096] = "";
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    return strf("%s", buf);
}

/* Waits (60 s at most: a sanitizer build starts slowly) for the file to contain text. */
static bool wait_for_text(const char *path, const char *text, pid_t pid)
{
    for (int i = 0; i < 600; i++) {
        char *got = read_text(path);
        bool found = strstr(got, text) != NULL;
        free(got);
        if (found)
            return true;
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return false; /* it exited */
        usleep(100 * 1000);
    }
    return false;
}

/* Stops a worker with SIGTERM; fails the test unless it exits with status 0 (under
 * ASan/LSan: no leak, no sanitizer report). */
static void stop_worker(pid_t worker)
{
    kill(worker, SIGTERM);
    int st = -1;
    for (int i = 0; i < 600 && waitpid(worker, &st, WNOHANG) != worker; i++)
        usleep(100 * 1000);
    if (!exited_ok(st)) {
        kill(worker, SIGKILL);
        waitpid(worker, NULL, 0);
        fail_msg("the worker did not exit with status 0 on SIGTERM (wait status 0x%x)", st);
    }
}

/* An API instance with RUN_WORKERS=0 queues a run and never runs it; a worker on the same
 * database runs it to the BDR approval; the API then serves its result (its stream too,
 * from the stored result: the events were the worker's); SIGTERM stops the worker with
 * status 0. */
static void test_api_queues_worker_runs(void **state)
{
    (void)state;
    struct resp r;
    char *body = strf("{\"input\":%s}", strong_known);
    json_t *j = http_json("POST", "/api/runs", body, &r);
    free(body);
    assert_int_equal(r.status, 202);
    char id[64];
    snprintf(id, sizeof id, "%s", jstr(j, "run_id"));
    resp_free(&r);
    /* no worker here: the run stays queued (a second is ample for a wrongly started worker
     * to have taken it; the pipeline's first step takes milliseconds) */
    sleep(1);
    char *path = strf("/api/runs/%s", id);
    j = http_json("GET", path, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "status"), "queued");
    resp_free(&r);

    char *out = strf("%s/worker.out", api.dir);
    pid_t worker = start_worker(out, "0", NULL);
    assert_true(worker > 0);
    bool started = wait_for_text(out,
                                 redis_url[0] ? "worker: 1 run workers on the redis queue"
                                              : "worker: 1 run workers on the memory queue",
                                 worker);
    if (!started) {
        kill(worker, SIGKILL);
        waitpid(worker, NULL, 0);
        fail_msg("the worker did not start (see %s/worker.log)", api.dir);
    }
    char *status = run_wait_settled(id, 60);
    assert_non_null(status);
    assert_string_equal(status, "awaiting_approval");
    free(status);
    char *said = read_text(out);
    assert_null(strstr(said, "Metrics:")); /* no WORKER_METRICS_PORT: no listener */
    free(said);
    j = http_json("GET", path, NULL, &r);
    assert_string_equal(jstr(j, "output.state.qualification_score.tier"), "A");
    resp_free(&r);
    char *stream = strf("/api/runs/%s/stream", id);
    http("GET", stream, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "event: result"));
    assert_non_null(strstr(r.body, "awaiting_approval"));
    assert_non_null(strstr(r.body, "event: end"));
    if (redis_url[0]) { /* the worker's own events, through Redis, from the start */
        assert_non_null(strstr(r.body, "event: metadata"));
        assert_non_null(strstr(r.body, "event: updates\ndata: {\"marketing\""));
    }
    resp_free(&r);

    stop_worker(worker);
    free(stream);
    free(out);
    free(path);
}

/* The status of GET path on the current port with the credential header line auth ("" for
 * none). */
static long status_of(const char *path, const char *auth)
{
    harness_auth(auth);
    struct resp r;
    http("GET", path, NULL, NULL, 0, &r);
    long status = r.status;
    resp_free(&r);
    harness_auth(NULL);
    return status;
}

/* WORKER_METRICS_PORT=0: the worker prints the port it bound, and serves there GET
 * /metrics and GET /health through serve's server and guard (METRICS_AUTH=key, the
 * default: 401 without a key, 403 for a key without the read scope, 200 with one), and
 * nothing else (the API's routes, the console and OPTIONS are 404 even with an admin key).
 * Its /metrics counts what it did: a run the API queued and this worker ran shows in
 * agent_processing_seconds, which the API instance (RUN_WORKERS=0) never reports. */
static void test_worker_metrics_listener(void **state)
{
    (void)state;
    char *read_key = create_api_key("prometheus", "[\"read\"]", NULL);
    char *inbound_key = create_api_key("mailer", "[\"inbound\"]", NULL);
    char *run_id = run_submit(strong_known);
    char *out = strf("%s/worker-metrics.out", api.dir);
    pid_t worker = start_worker(out, "0", "0");
    assert_true(worker > 0);
    if (!wait_for_text(out, "/metrics (and /health)", worker)) {
        kill(worker, SIGKILL);
        waitpid(worker, NULL, 0);
        fail_msg("the worker did not start its listener (see %s/worker.log)", api.dir);
    }
    char *said = read_text(out);
    const char *at = strstr(said, "Metrics: http://127.0.0.1:");
    assert_non_null(at);
    int port = (int)strtol(at + strlen("Metrics: http://127.0.0.1:"), NULL, 10);
    assert_true(port > 0 && port != api.port);
    assert_non_null(strstr(said, "send a key with the read scope"));
    free(said);

    char *status = run_wait_settled(run_id, 60); /* asked of the API */
    assert_non_null(status);
    assert_string_equal(status, "awaiting_approval");
    free(status);

    char *read_auth = strf("X-API-Key: %s", read_key);
    char *inbound_auth = strf("X-API-Key: %s", inbound_key);
    harness_use_port(port, read_key);
    harness_record(false); /* not the API /openapi.json describes: its API paths are 404 */
    assert_int_equal(status_of("/metrics", ""), 401);
    assert_int_equal(status_of("/metrics", inbound_auth), 403);
    assert_int_equal(status_of("/metrics", read_auth), 200);
    /* the run it executed (a run is one invocation of agent_type pipeline) */
    assert_true(metric_value("agent_processing_seconds_count{agent_type=\"pipeline\"}") >= 1);
    assert_true(metric_value("agent_success_total{agent_type=\"pipeline\"}") >= 1);
    /* the gauges read from the shared store, and the listener's own requests */
    assert_true(metric_value("run_queue_depth") >= 0);
    struct resp r;
    http("GET", "/metrics", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.content_type, "text/plain"));
    assert_non_null(strstr(
        r.body, "http_requests_total{method=\"GET\",route=\"/metrics\",status=\"401\"} 1\n"));
    assert_non_null(strstr(
        r.body,
        "http_request_duration_seconds_bucket{method=\"GET\",route=\"/metrics\",le=\"120\"}"));
    resp_free(&r);
    /* /health: public status, the backends for a read key */
    json_t *j = http_json("GET", "/health", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "status"), "healthy");
    assert_non_null(jget(j, "backends"));
    resp_free(&r);
    assert_int_equal(status_of("/health", ""), 200);
    /* nothing else, whatever the key: the admin key of api's is valid here too */
    char *admin_auth = strf("X-API-Key: %s", api.key);
    assert_int_equal(status_of("/api/leads", admin_auth), 404);
    assert_int_equal(status_of("/api/runs/x", admin_auth), 404);
    assert_int_equal(status_of("/", admin_auth), 404);
    assert_int_equal(status_of("/docs", admin_auth), 404);
    assert_int_equal(status_of("/api/leads", ""), 401); /* the guard comes first, as in serve */
    harness_auth(admin_auth);
    http("OPTIONS", "/api/leads", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    http("POST", "/metrics", "application/json", "{}", 2, &r);
    assert_int_equal(r.status, 405);
    resp_free(&r);
    harness_auth(NULL);

    /* the API instance ran no run: the worker's numbers are its own */
    harness_record(true);
    harness_use(&api);
    http("GET", "/metrics", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_null(strstr(r.body, "agent_type=\"pipeline\""));
    resp_free(&r);
    stop_worker(worker);
    free(admin_auth);
    free(read_auth);
    free(inbound_auth);
    free(out);
    free(run_id);
    free(inbound_key);
    free(read_key);
}

/* WORKER_METRICS_PORT on a port already taken: the worker binds its listener before it
 * starts its run workers and its outbox, so it exits non-zero with a message naming the
 * port, having opened no run queue (the log has no "run queue" line) and claimed nothing:
 * a run the API queued is still queued. */
static void test_worker_metrics_port_taken(void **state)
{
    (void)state;
    int taker = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(taker >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY)};
    assert_int_equal(bind(taker, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(taker, 1), 0);
    socklen_t alen = sizeof a;
    assert_int_equal(getsockname(taker, (struct sockaddr *)&a, &alen), 0);
    char port[16];
    snprintf(port, sizeof port, "%d", ntohs(a.sin_port));

    char *run_id = run_submit(strong_known);
    char *log_path = strf("%s/worker.log", api.dir);
    struct stat st;
    off_t log_before = stat(log_path, &st) == 0 ? st.st_size : 0;
    char *out = strf("%s/worker-taken.out", api.dir);
    pid_t worker = start_worker(out, "0", port);
    assert_true(worker > 0);
    int wst = 0;
    assert_int_equal(waitpid(worker, &wst, 0), worker); /* it must exit by itself */
    close(taker);
    assert_true(WIFEXITED(wst));
    assert_int_not_equal(WEXITSTATUS(wst), 0);

    char *said = read_text(out);
    assert_null(strstr(said, "run workers")); /* it never said it started */
    free(said);
    FILE *f = fopen(log_path, "r");
    assert_non_null(f);
    fseeko(f, log_before, SEEK_SET);
    static char log[1 << 16];
    size_t n = fread(log, 1, sizeof log - 1, f);
    fclose(f);
    log[n] = '\0';
    char *names_port = strf(":%s (port in use", port); /* "cannot listen on HOST:PORT (..." */
    if (!strstr(log, "cannot listen on") || !strstr(log, names_port))
        fail_msg("the worker's error does not say \"%s\":\n%s", names_port, log);
    if (strstr(log, "\"msg\":\"run queue\""))
        fail_msg("the worker opened its run queue before binding its listener:\n%s", log);

    char *status = run_status_now(run_id);
    assert_non_null(status);
    assert_string_equal(status, "queued");
    free(status);
    /* left queued, for a later worker to take (as test_cancel_queued leaves its run) */
    free(names_port);
    free(out);
    free(log_path);
    free(run_id);
}

/* Redis only: a worker killed (SIGKILL) in the middle of a run never acknowledges it;
 * another worker takes it over after the visibility timeout and continues it from its
 * last checkpoint to the approval; the API's stream shows the whole run, the second
 * worker's part marked resumed, and the result once. */
static void test_takeover_after_kill(void **state)
{
    (void)state;
    if (!redis_url[0]) {
        printf("test_takeover_after_kill: skipped: needs SA_TEST_REDIS_URL\n");
        skip();
    }
    char *out_a = strf("%s/worker-a.out", api.dir), *out_b = strf("%s/worker-b.out", api.dir);
    pid_t a = start_worker(out_a, "2000", NULL); /* two seconds before each agent */
    assert_true(a > 0);
    if (!wait_for_text(out_a, "worker: 1 run workers", a)) {
        kill(a, SIGKILL);
        waitpid(a, NULL, 0);
        fail_msg("worker A did not start (see %s/worker.log)", api.dir);
    }
    struct resp r;
    char *body = strf("{\"input\":%s}", strong_known);
    json_t *j = http_json("POST", "/api/runs", body, &r);
    free(body);
    assert_int_equal(r.status, 202);
    char id[64];
    snprintf(id, sizeof id, "%s", jstr(j, "run_id"));
    resp_free(&r);
    /* wait until A runs it and has finished a step (its first update is published) */
    char *stream = strf("/api/runs/%s/stream", id), *path = strf("/api/runs/%s", id);
    bool running = false;
    for (int i = 0; i < 300 && !running; i++) {
        j = http_json("GET", path, NULL, &r);
        running = jstr(j, "status") && strcmp(jstr(j, "status"), "running") == 0;
        resp_free(&r);
        if (!running)
            usleep(100 * 1000);
    }
    assert_true(running);
    sleep(3); /* inside the pipeline: past the first agent, before the last */
    kill(a, SIGKILL);
    waitpid(a, NULL, 0);
    pid_t b = start_worker(out_b, "0", NULL);
    assert_true(b > 0);
    char *status = run_wait_settled(id, 60);
    assert_non_null(status);
    assert_string_equal(status, "awaiting_approval");
    free(status);
    http("GET", stream, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"resumed\":true"));
    const char *result = strstr(r.body, "event: result");
    assert_non_null(result);
    assert_null(strstr(result + 1, "event: result"));
    resp_free(&r);
    kill(b, SIGTERM);
    int st = -1;
    for (int i = 0; i < 600 && waitpid(b, &st, WNOHANG) != b; i++)
        usleep(100 * 1000);
    assert_true(exited_ok(st));
    free(path);
    free(stream);
    free(out_a);
    free(out_b);
}

/* A cancel request for a queued run is accepted (the worker that takes it stops it
 * before its first step); an unknown run is 404. */
static void test_cancel_queued(void **state)
{
    (void)state;
    struct resp r;
    char *body = strf("{\"input\":%s}", strong_known);
    json_t *j = http_json("POST", "/api/runs", body, &r);
    free(body);
    assert_int_equal(r.status, 202);
    char *path = strf("/api/runs/%s/cancel", jstr(j, "run_id"));
    resp_free(&r);
    j = http_json("POST", path, NULL, &r);
    assert_int_equal(r.status, 202);
    assert_string_equal(jstr(j, "status"), "cancelling");
    resp_free(&r);
    free(path);
    http("POST", "/api/runs/0b7e9a52-7c1f-4d3e-9a6b-3f2c1d0e9f8a/cancel", "application/json", NULL,
         0, &r);
    expect_problem("cancel an unknown run", &r, 404, NULL, NULL);
    resp_free(&r);
}

/* `sales-agent worker --help` lists the queue's, the runs' and the outbox's settings, and
 * none of the HTTP server's. */
static void test_worker_help(void **state)
{
    (void)state;
    FILE *p = popen(SA_BINARY " worker --help", "r");
    assert_non_null(p);
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = '\0';
    assert_int_equal(pclose(p), 0);
    assert_non_null(strstr(buf, "usage: sales-agent worker"));
    static const char *const listed[] = {
        "REDIS_URL",      "RUN_WORKERS",    "RUN_VISIBILITY_TIMEOUT_MS", "DATABASE_URL",
        "OUTBOX_POLL_MS", "MAIL_TRANSPORT", "PIPELINE_STEP_DELAY_MS"};
    for (size_t i = 0; i < sizeof listed / sizeof listed[0]; i++)
        if (!strstr(buf, listed[i]))
            fail_msg("worker --help does not list %s", listed[i]);
    assert_null(strstr(buf, "PORT, --port"));
    assert_null(strstr(buf, "THREADS"));
}

static int setup(void **state)
{
    (void)state;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || server_make_dir(&api))
        return -1;
    const char *url = getenv("SA_TEST_REDIS_URL");
    if (api.redis_url[0]) {
        /* the pg backend set: the harness gave this directory its own Redis database, which
         * the API instance gets; the workers this test starts must use the same one */
        snprintf(redis_url, sizeof redis_url, "%s", api.redis_url);
        setenv("REDIS_URL", redis_url, 1);
    } else if (url && *url) {
        /* database 9, unless the URL names one: this program's runs stay its own */
        const char *host = strstr(url, "://");
        bool has_db = host && strchr(host + 3, '/');
        snprintf(redis_url, sizeof redis_url, "%s%s", url, has_db ? "" : "/9");
        setenv("REDIS_URL", redis_url, 1);
    }
    setenv("RUN_WORKERS", "0", 1);
    int rc = server_start(&api, false);
    unsetenv("RUN_WORKERS");
    if (rc) {
        server_remove_dir(&api);
        return -1;
    }
    harness_use(&api);
    return 0;
}

static bool unclean;

static int teardown(void **state)
{
    (void)state;
    unclean = api.pid > 0 && !exited_ok(server_stop(&api));
    server_remove_dir(&api);
    http_cleanup();
    curl_global_cleanup();
    return unclean ? -1 : 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worker_help),
        cmocka_unit_test(test_api_queues_worker_runs),
        cmocka_unit_test(test_cancel_queued),
        cmocka_unit_test(test_worker_metrics_listener), /* a worker of its own, on port 0 */
        cmocka_unit_test(test_worker_metrics_port_taken),
        cmocka_unit_test(test_takeover_after_kill),
    };
    int failed = cmocka_run_group_tests(tests, setup, teardown);
    return failed ? failed : unclean ? 1 : 0;
}
