/* Integration tests of the server as a whole: /health, / and the command line, raw-socket
 * garbage, 4 clients invoking at once, /metrics (fed by those invocations), and a clean
 * SIGTERM exit, which under ASan/LSan also means "no leak and no sanitizer report in the
 * server". One server (empty database, see harness.h) serves the tests in this order. */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Runs a shell command and returns its exit status (-1 when it did not exit). */
static int run_status(const char *cmd)
{
    int st = system(cmd);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- health, root and the command line --------------------------------------------- */

/* /health reports a healthy database, / lists the endpoints, and the binary's version,
 * --help and an unknown command exit with 0, 0 and 2. */
static void test_health_root_cli(void **state)
{
    (void)state;
    struct resp r;
    json_t *j = http_json("GET", "/health", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(strncmp(r.content_type, "application/json", 16) == 0);
    assert_string_equal(jstr(j, "status"), "healthy");
    assert_string_equal(jstr(j, "checks.database.status"), "ok");
    resp_free(&r);

    j = http_json("GET", "/", NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *eps = json_object_get(j, "endpoints");
    assert_true(json_is_array(eps));
    bool has_invoke = false, has_health = false;
    size_t i;
    json_t *e;
    json_array_foreach(eps, i, e)
    {
        const char *s = json_string_value(e);
        has_invoke |= s && strcmp(s, "POST /api/langgraph/invoke") == 0;
        has_health |= s && strcmp(s, "GET /health") == 0;
    }
    assert_true(has_invoke);
    assert_true(has_health);
    resp_free(&r);

    FILE *p = popen(SA_BINARY " version", "r");
    assert_non_null(p);
    char line[256] = "";
    assert_non_null(fgets(line, sizeof line, p));
    int st = pclose(p);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_true(strncmp(line, "sales-agent ", 12) == 0);

    p = popen(SA_BINARY " --help", "r");
    assert_non_null(p);
    assert_non_null(fgets(line, sizeof line, p));
    assert_true(strncmp(line, "usage: sales-agent", 18) == 0);
    while (fgets(line, sizeof line, p)) /* read the rest */
        ;
    st = pclose(p);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    assert_int_equal(run_status(SA_BINARY " no-such-command >/dev/null 2>&1"), 2);
    /* the CLI runs the pipeline on a lead file and prints the result */
    char *cmd = strf("printf '%%s' '{\"company_name\":\"Cli Co\",\"industry\":\"SaaS\","
                     "\"company_size\":\"201-500\",\"signals\":[\"requested_demo\","
                     "\"recent_funding\",\"pricing_page_visit\"]}' | " SA_BINARY
                     " pipeline - --data-dir " SA_SOURCE_DIR "/data --database-url "
                     "sqlite://%s/cli.sqlite > %s/cli.out 2>&1",
                     main_srv.dir, main_srv.dir);
    assert_int_equal(run_status(cmd), 0);
    free(cmd);
    char *out_path = strf("%s/cli.out", main_srv.dir);
    FILE *f = fopen(out_path, "r");
    assert_non_null(f);
    char out[65536];
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
    free(out_path);
    assert_non_null(strstr(out, "\"current_agent\": \"bdr\"")); /* waits for approval */
    assert_int_equal(run_status(SA_BINARY " pipeline /nonexistent.json >/dev/null 2>&1"), 1);
}

/* ---- raw-socket garbage ------------------------------------------------------------ */

/* Bytes that are not HTTP, and a request line with a 100 KB URL, are refused with a 4xx
 * status line or a closed connection, and the server keeps serving. */
static void test_raw_garbage(void **state)
{
    (void)state;
    char line[256];
    static const char garbage[] = "GARBAGE\r\n\r\n";
    int got = raw_exchange(garbage, sizeof garbage - 1, line, sizeof line);
    assert_true(got >= 0);
    if (got == 1 && (status_code_of(line) < 400 || status_code_of(line) > 499))
        fail_msg("GARBAGE: status line \"%s\", expected 4xx or a closed connection", line);

    size_t ulen = 100 * 1024;
    char *req = malloc(ulen + 64);
    assert_non_null(req);
    memcpy(req, "GET /", 5);
    memset(req + 5, 'a', ulen);
    int n = snprintf(req + 5 + ulen, 64, " HTTP/1.1\r\nHost: x\r\n\r\n");
    got = raw_exchange(req, 5 + ulen + (size_t)n, line, sizeof line);
    free(req);
    assert_true(got >= 0);
    if (got == 1 && (status_code_of(line) < 400 || status_code_of(line) > 499))
        fail_msg("100 KB URL: status line \"%s\", expected 4xx or a closed connection", line);

    static const char no_colon[] = "GET /health HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n";
    got = raw_exchange(no_colon, sizeof no_colon - 1, line, sizeof line);
    assert_true(got >= 0);
    if (got == 1 && (status_code_of(line) < 400 || status_code_of(line) > 499))
        fail_msg("header without colon: status line \"%s\", expected 4xx or close", line);

    expect_health_ok();
}

/* ---- concurrency ------------------------------------------------------------------- */

struct worker {
    int id, port;
    int ok, failed;
    long last_status;
};

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    for (int i = 0; i < 50; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"agent_type\":\"qualification\",\"input\":{\"company_name\":\"Conc %d-%d\","
                 "\"industry\":\"SaaS\",\"company_size\":%d}}",
                 w->id, i, 10 + i);
        struct resp r;
        if (http_on(h, w->port, "POST", INVOKE, "application/json", body, strlen(body), &r) == 0 &&
            r.status == 200)
            w->ok++;
        else
            w->failed++, w->last_status = r.status;
        resp_free(&r);
    }
    curl_easy_cleanup(h);
    return NULL;
}

/* 4 clients x 50 invocations at once all succeed and store exactly 200 new leads. */
static void test_concurrency(void **state)
{
    (void)state;
    long before = leads_total();
    assert_true(before >= 0);
    struct worker w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.id = i, .port = harness_port()};
        assert_int_equal(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++)
        if (w[i].ok != 50)
            fail_msg("worker %d: %d ok, %d failed (last status %ld)", i, w[i].ok, w[i].failed,
                     w[i].last_status);
    assert_int_equal(leads_total(), before + 200);
    expect_health_ok();
}

/* ---- metrics ----------------------------------------------------------------------- */

/* /metrics is Prometheus text with the agent and HTTP series the earlier tests fed. */
static void test_metrics(void **state)
{
    (void)state;
    struct resp r;
    http("GET", "/metrics", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_true(strncmp(r.content_type, "text/plain", 10) == 0);
    static const char *const must[] = {
        "# TYPE agent_processing_seconds histogram",
        "agent_processing_seconds_bucket{agent_type=\"qualification\",le=\"0.0001\"}",
        /* LLM-backed agents take seconds to minutes: buckets up to 120 s */
        "agent_processing_seconds_bucket{agent_type=\"qualification\",le=\"60\"}",
        "agent_processing_seconds_bucket{agent_type=\"qualification\",le=\"120\"}",
        "agent_success_total{agent_type=\"qualification\"}",
        "http_requests_total{method=\"POST\",route=\"/api/langgraph/invoke\",status=\"200\"}",
        "http_request_duration_seconds_bucket",
        /* event streams and run waits last as long as a run: buckets up to 120 s */
        "http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/langgraph/invoke\","
        "le=\"30\"}",
        "http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/langgraph/invoke\","
        "le=\"120\"}",
    };
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
        if (!strstr(r.body, must[i]))
            fail_msg("/metrics lacks %s", must[i]);
    /* the success counter has counted the earlier invocations */
    const char *p = strstr(r.body, "\nagent_success_total{agent_type=\"qualification\"} ");
    assert_non_null(p);
    assert_true(strtod(strchr(p, '}') + 2, NULL) > 0);
    resp_free(&r);
}

/* ---- clean shutdown ---------------------------------------------------------------- */

/* SIGTERM stops the server with exit status 0: under ASan this also means no leak and no
 * sanitizer report during the whole run. */
static void test_server_stops_cleanly(void **state)
{
    (void)state;
    int st = server_stop(&main_srv);
    assert_true(exited_ok(st));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_root_cli),
        cmocka_unit_test(test_raw_garbage),
        cmocka_unit_test(test_concurrency),
        cmocka_unit_test(test_metrics),              /* reads the series test_concurrency fed */
        cmocka_unit_test(test_server_stops_cleanly), /* last: it stops the server */
    };
    return api_exit_status(cmocka_run_group_tests(tests, api_group_setup, api_group_teardown));
}
