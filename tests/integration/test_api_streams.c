/* Integration tests of waiting SSE clients (GET /api/runs/{id}/stream): a stream with
 * nothing to send parks its connection and holds no HTTP thread, so many more streams than
 * the server has HTTP threads (the harness starts it with 2) wait side by side while
 * other requests are answered, each stream still gets its run's whole event sequence, and
 * a server stopped with streams parked exits cleanly (no leak, no libmicrohttpd panic),
 * and the HTTP metrics observe a stream when it ends.
 * On runs_srv (see harness.h); as test_api_streams_pg on PostgreSQL and Redis, where more
 * streams wait than the Redis queue's pool has connections (32). */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RUNS 4
#define STREAMS_PER_RUN 50 /* 200 streams: 100 per HTTP thread */

/* One stream client on a curl multi handle. */
struct client {
    CURL *h;
    char *body;
    size_t len;
    bool headers_done; /* the response's header block arrived */
    bool finished;
    CURLcode result;
    long status;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct client *c = arg;
    size_t len = size * n;
    char *grown = realloc(c->body, c->len + len + 1);
    if (!grown)
        return 0;
    c->body = grown;
    memcpy(c->body + c->len, data, len);
    c->len += len;
    c->body[c->len] = '\0';
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct client *c = arg;
    if (size * n == 2 && data[0] == '\r' && data[1] == '\n')
        c->headers_done = true;
    return size * n;
}

static struct curl_slist *auth_headers(void)
{
    return curl_slist_append(NULL, harness_auth_header());
}

static void client_open(CURLM *m, struct client *c, const char *path, struct curl_slist *hdrs)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", harness_port(), path);
    c->h = curl_easy_init();
    assert_non_null(c->h);
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c->h, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(c->h, CURLOPT_PRIVATE, c);
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT, 180L); /* a hung stream fails, not hangs */
    assert_int_equal(curl_multi_add_handle(m, c->h), CURLM_OK);
}

/* Drives m until done(clients, n) holds, or budget_ms passed (then fails the test). */
static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void drive(CURLM *m, struct client *cs, int n, bool (*done)(const struct client *, int),
                  int budget_ms, const char *what)
{
    for (long long until = now_ms() + budget_ms; !done(cs, n);) {
        if (now_ms() > until)
            fail_msg("%s: not within %d s", what, budget_ms / 1000);
        int running = 0;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct client *c = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
            c->finished = true;
            c->result = msg->data.result;
            curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &c->status);
        }
        int numfds;
        curl_multi_poll(m, NULL, 0, 100, &numfds);
    }
}

static bool all_connected(const struct client *cs, int n)
{
    for (int i = 0; i < n; i++)
        if (!cs[i].headers_done && !cs[i].finished)
            return false;
    return true;
}

static bool all_finished(const struct client *cs, int n)
{
    for (int i = 0; i < n; i++)
        if (!cs[i].finished)
            return false;
    return true;
}

static void clients_free(CURLM *m, struct client *cs, int n)
{
    for (int i = 0; i < n; i++) {
        if (cs[i].h) {
            curl_multi_remove_handle(m, cs[i].h);
            curl_easy_cleanup(cs[i].h);
        }
        free(cs[i].body);
    }
}

/* The sample leads (data/sample_leads.json), the first n as JSON texts (new leads). */
static char **sample_leads(int n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/data/sample_leads.json", SA_SOURCE_DIR);
    json_t *all = json_load_file(path, 0, NULL);
    assert_non_null(all);
    json_t *leads = json_object_get(all, "leads");
    char **out = calloc((size_t)n, sizeof *out);
    assert_non_null(out);
    for (int i = 0; i < n; i++) {
        json_t *lead = json_deep_copy(json_array_get(leads, (size_t)i));
        json_object_del(lead, "id");
        out[i] = json_dumps(lead, JSON_COMPACT);
        json_decref(lead);
    }
    json_decref(all);
    return out;
}

/* body without its keep-alive comments (their number depends on timing), malloc'd. */
static char *without_keepalives(const char *body)
{
    static const char ka[] = ": keep-alive\n\n";
    char *out = strdup(body ? body : "");
    assert_non_null(out);
    char *p;
    while ((p = strstr(out, ka)))
        memmove(p, p + sizeof ka - 1, strlen(p + sizeof ka - 1) + 1);
    return out;
}

/* GET /health on its own connection while the streams wait, with a deadline: a server
 * whose HTTP threads sat in the streams' reads (100 ms per stream per turn, 100 streams
 * per thread) could not answer it in time. */
static void expect_health_while_streams_wait(void)
{
    CURL *h = curl_easy_init();
    assert_non_null(h);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/health", harness_port());
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 8L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    struct client c = {0};
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK)
        fail_msg("GET /health while 200 streams wait: %s", curl_easy_strerror(rc));
    assert_int_equal(status, 200);
    free(c.body);
}

static void start_streams_server(const char *workers)
{
    server_setenv(&runs_srv, "RUN_WORKERS", workers);
    server_setenv(&runs_srv, "PIPELINE_STEP_DELAY_MS", "700"); /* the streams wait between steps */
    server_setenv(&runs_srv, "MAX_CONNECTIONS_PER_IP", "1024");
    assert_int_equal(server_start(&runs_srv, false), 0);
    harness_use(&runs_srv);
}

/* Pins parked streams: 200 streams on 4 running runs wait on a server with 2 HTTP
 * threads; /health answers meanwhile; every stream gets its run's whole sequence (the
 * same bytes as every other stream of that run, and as a client reading the finished run
 * later), ended by "end". */
static void test_many_streams_wait_without_threads(void **state)
{
    (void)state;
    start_streams_server("2");
    char **leads = sample_leads(RUNS);
    char *ids[RUNS];
    for (int i = 0; i < RUNS; i++)
        ids[i] = run_submit(leads[i]);
    CURLM *m = curl_multi_init();
    assert_non_null(m);
    struct curl_slist *hdrs = auth_headers();
    static struct client cs[RUNS * STREAMS_PER_RUN];
    memset(cs, 0, sizeof cs);
    for (int i = 0; i < RUNS * STREAMS_PER_RUN; i++) {
        char *path = strf("/api/runs/%s/stream", ids[i / STREAMS_PER_RUN]);
        client_open(m, &cs[i], path, hdrs);
        free(path);
    }
    drive(m, cs, RUNS * STREAMS_PER_RUN, all_connected, 60000, "200 streams answered");
    expect_health_while_streams_wait();
    drive(m, cs, RUNS * STREAMS_PER_RUN, all_finished, 150000, "200 streams ended");
    for (int i = 0; i < RUNS * STREAMS_PER_RUN; i++) {
        struct client *c = &cs[i];
        if (c->result != CURLE_OK || c->status != 200)
            fail_msg("stream %d: %s, status %ld", i, curl_easy_strerror(c->result), c->status);
        const char *body = c->body ? c->body : "";
        assert_non_null(strstr(body, "event: metadata"));
        assert_non_null(strstr(body, "event: updates"));
        assert_non_null(strstr(body, "event: result"));
        static const char end[] = "event: end\ndata: null\n\n";
        size_t n = strlen(body);
        if (n < sizeof end - 1 || strcmp(body + n - (sizeof end - 1), end) != 0)
            fail_msg("stream %d does not end with its end event: ...%.200s", i,
                     body + (n > 200 ? n - 200 : 0));
    }
    for (int run = 0; run < RUNS; run++) {
        char *path = strf("/api/runs/%s/stream", ids[run]);
        struct resp late;
        http("GET", path, NULL, NULL, 0, &late);
        assert_int_equal(late.status, 200);
        char *want = without_keepalives(late.body);
        for (int k = 0; k < STREAMS_PER_RUN; k++) {
            char *got = without_keepalives(cs[run * STREAMS_PER_RUN + k].body);
            if (strcmp(got, want) != 0)
                fail_msg("run %d, stream %d differs from the late reader's:\n%.2000s\n---\n%.2000s",
                         run, k, got, want);
            free(got);
        }
        free(want);
        resp_free(&late);
        free(path);
    }
    /* nothing ended early, and the waiter's queue wait never failed (on Redis: one XREAD
     * over 200 streams' keys on its own connection, none of the pool's 32) */
    char *log = server_read_log(&runs_srv);
    assert_non_null(log);
    assert_null(strstr(log, "run stream ended early"));
    assert_null(strstr(log, "waiting on the queue failed"));
    free(log);
    clients_free(m, cs, RUNS * STREAMS_PER_RUN);
    curl_slist_free_all(hdrs);
    curl_multi_cleanup(m);
    for (int i = 0; i < RUNS; i++) {
        free(ids[i]);
        free(leads[i]);
    }
    free(leads);
    assert_true(exited_ok(server_stop(&runs_srv)));
}

/* Pins idle streams and the shutdown: 200 streams parked on a run nobody runs
 * (RUN_WORKERS=0: no event comes at all) on 2 HTTP threads, and /health still answers
 * (before, each thread read each of its 100 streams for 100 ms in turn: 10 s a round);
 * then half the clients leave while parked and the server stops: it exits 0 (under ASan:
 * nothing leaked; libmicrohttpd panics when stopped with a suspended connection), and the
 * clients still connected see their stream end. */
static void test_stop_with_parked_streams(void **state)
{
    (void)state;
    start_streams_server("0");
    char **leads = sample_leads(1);
    char *id = run_submit(leads[0]);
    CURLM *m = curl_multi_init();
    assert_non_null(m);
    struct curl_slist *hdrs = auth_headers();
    enum { N = RUNS * STREAMS_PER_RUN };
    static struct client cs[N];
    memset(cs, 0, sizeof cs);
    char *path = strf("/api/runs/%s/stream", id);
    for (int i = 0; i < N; i++)
        client_open(m, &cs[i], path, hdrs);
    free(path);
    drive(m, cs, N, all_connected, 60000, "200 streams answered");
    expect_health_while_streams_wait();
    for (int i = 0; i < N / 2; i++) { /* these clients leave while their streams are parked */
        curl_multi_remove_handle(m, cs[i].h);
        curl_easy_cleanup(cs[i].h);
        cs[i].h = NULL;
        cs[i].finished = true;
    }
    assert_true(exited_ok(server_stop(&runs_srv)));
    drive(m, cs, N, all_finished, 30000, "the streams end when the server stops");
    for (int i = N / 2; i < N; i++)
        assert_int_not_equal(cs[i].result, CURLE_OPERATION_TIMEDOUT);
    clients_free(m, cs, N);
    curl_slist_free_all(hdrs);
    curl_multi_cleanup(m);
    free(id);
    free(leads[0]);
    free(leads);
}

#define STREAM_SERIES "{method=\"GET\",route=\"/api/runs/{run_id}/stream\""

/* Pins a stream's duration: http_request_duration_seconds observes an event stream when it
 * ends, not when its headers are queued. A run whose steps take 700 ms each is streamed
 * from start to end (well over a second), and /metrics then has it above the le="1" bucket
 * (before, it was observed at its headers, in well under a millisecond). */
static void test_stream_duration_in_metrics(void **state)
{
    (void)state;
    start_streams_server("1");
    char **leads = sample_leads(1);
    char *id = run_submit(leads[0]);
    char *path = strf("/api/runs/%s/stream", id);
    struct resp s;
    http("GET", path, NULL, NULL, 0, &s);
    assert_int_equal(s.status, 200);
    assert_non_null(strstr(s.body, "event: end"));
    resp_free(&s);
    double le1 = metric_value("http_request_duration_seconds_bucket" STREAM_SERIES ",le=\"1\"}");
    double count = metric_value("http_request_duration_seconds_count" STREAM_SERIES "}");
    double sum = metric_value("http_request_duration_seconds_sum" STREAM_SERIES "}");
    double total = metric_value("http_requests_total" STREAM_SERIES ",status=\"200\"}");
    if (count != 1 || le1 != 0 || sum < 1 || total != 1)
        fail_msg("the stream is not observed as lasting over 1 s: le=\"1\" %g, count %g, "
                 "sum %g, http_requests_total %g",
                 le1, count, sum, total);
    free(path);
    free(id);
    free(leads[0]);
    free(leads);
    assert_true(exited_ok(server_stop(&runs_srv)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_many_streams_wait_without_threads, runs_setup,
                                        runs_teardown),
        cmocka_unit_test_setup_teardown(test_stop_with_parked_streams, runs_setup, runs_teardown),
        cmocka_unit_test_setup_teardown(test_stream_duration_in_metrics, runs_setup, runs_teardown),
    };
    return api_exit_status(cmocka_run_group_tests(tests, api_group_setup, api_group_teardown));
}
