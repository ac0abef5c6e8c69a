/* The connectors' HTTP client against a scripted server on 127.0.0.1: what is retried and
 * after how long, what is not, the deadline, the breaker, the answer's headers, one
 * connection for many calls, and the metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <pthread.h>

#include "base/buf.h"
#include "base/clock.h"
#include "connectors/http.h"
#include "metrics/metrics.h"

/* ---- the scripted server ---- */

struct answer {
    int status;
    const char *header; /* "Name: value", or NULL */
    const char *body;
    int hang_ms;
};

static struct {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t lock;
    struct answer script[16];
    int next, n, requests, connections;
    char last_method[16], last_body[256];
} srv = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void script(const struct answer *a, int n)
{
    pthread_mutex_lock(&srv.lock);
    memcpy(srv.script, a, (size_t)n * sizeof *a);
    srv.n = n;
    srv.next = 0;
    srv.requests = 0;
    pthread_mutex_unlock(&srv.lock);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **ctx,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    (void)c;
    (void)ctx;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        pthread_mutex_lock(&srv.lock);
        srv.connections++;
        pthread_mutex_unlock(&srv.lock);
    }
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **ctx)
{
    (void)cls;
    (void)url;
    (void)version;
    struct sa_buf *body = *ctx;
    if (!body) { /* the headers: a buffer for the body */
        body = calloc(1, sizeof *body);
        sa_buf_init(body, 4096);
        *ctx = body;
        return MHD_YES;
    }
    if (*size) {
        if (sa_buf_append(body, data, *size))
            return MHD_NO;
        *size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&srv.lock);
    struct answer a = srv.next < srv.n ? srv.script[srv.next++] : (struct answer){.status = 200};
    srv.requests++;
    snprintf(srv.last_method, sizeof srv.last_method, "%s", method);
    snprintf(srv.last_body, sizeof srv.last_body, "%s", body->data ? body->data : "");
    pthread_mutex_unlock(&srv.lock);
    sa_buf_free(body);
    free(body);
    *ctx = NULL;
    if (a.hang_ms)
        usleep((useconds_t)a.hang_ms * 1000);
    const char *b = a.body ? a.body : "{}";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(b), (void *)b, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (a.header) {
        char name[64];
        const char *colon = strchr(a.header, ':');
        snprintf(name, sizeof name, "%.*s", (int)(colon - a.header), a.header);
        MHD_add_response_header(r, name, colon + 2);
    }
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)a.status, r);
    MHD_destroy_response(r);
    return ok;
}

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    srv.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                             NULL, NULL, handle, NULL, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
                             NULL, MHD_OPTION_END);
    if (!srv.d)
        return -1;
    srv.port = MHD_get_daemon_info(srv.d, MHD_DAEMON_INFO_BIND_PORT)->port;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    MHD_stop_daemon(srv.d);
    curl_global_cleanup();
    return 0;
}

static struct sa_conn_http *client(struct sa_metrics *m, int breaker_failures)
{
    struct sa_conn_http_config cfg = {.name = "testvendor",
                                      .timeout_ms = 5000,
                                      .max_retries = 2,
                                      .breaker_failures = breaker_failures,
                                      .breaker_open_s = 60,
                                      .metrics = m,
                                      .breaker_gauge = true};
    struct sa_conn_http *c = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_conn_http_new(&cfg, &c, &err), 0);
    return c;
}

static int call(struct sa_conn_http *c, const char *method, const char *body,
                struct sa_conn_resp *r, struct sa_err *err)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/x", srv.port);
    const char *const headers[] = {"Content-Type: application/json", "X-Api-Key: k", NULL};
    struct sa_conn_req req = {.method = method,
                              .url = url,
                              .headers = headers,
                              .body = body,
                              .body_len = body ? strlen(body) : 0};
    return sa_conn_http_do(c, &req, r, err);
}

/* 503 and 429 are retried (Retry-After: 0 honoured), a 404 is the caller's to read. */
static void test_retries(void **state)
{
    (void)state;
    struct sa_conn_http *c = client(NULL, 50);
    struct sa_conn_resp r;
    struct sa_err err = {0};
    script(
        (struct answer[]){
            {.status = 503},
            {.status = 429, .header = "Retry-After: 0"},
            {.status = 200, .header = "X-Rate-Limit-Remaining: 7", .body = "{\"ok\":true}"}},
        3);
    assert_int_equal(call(c, "POST", "{\"email\":\"a@b.io\"}", &r, &err), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.attempts, 3);
    assert_string_equal(r.body, "{\"ok\":true}");
    char v[16];
    assert_string_equal(sa_conn_resp_header(&r, "x-rate-limit-remaining", v, sizeof v), "7");
    assert_null(sa_conn_resp_header(&r, "x-missing", v, sizeof v));
    assert_string_equal(srv.last_method, "POST");
    assert_string_equal(srv.last_body, "{\"email\":\"a@b.io\"}");
    sa_conn_resp_free(&r);
    script((struct answer[]){{.status = 404, .body = "{\"error\":\"no\"}"}}, 1);
    assert_int_equal(call(c, "GET", NULL, &r, &err), 0);
    assert_int_equal(r.status, 404);
    assert_int_equal(r.attempts, 1);
    assert_string_equal(srv.last_method, "GET");
    sa_conn_resp_free(&r);
    /* three 500s: two retries, then the last answer is returned */
    script((struct answer[]){{.status = 500}, {.status = 500}, {.status = 500}, {.status = 200}},
           4);
    assert_int_equal(call(c, "PATCH", "{}", &r, &err), 0);
    assert_int_equal(r.status, 500);
    assert_int_equal(r.attempts, 3);
    sa_conn_resp_free(&r);
    sa_conn_http_free(c);
}

static double no_retry(void *arg, const struct sa_conn_resp *r, int attempt)
{
    (void)arg;
    (void)attempt;
    return r->status == 429 ? -2 : -1;
}

/* The connector's hook decides for its answers; a Retry-After past the deadline is not
 * waited for; the deadline ends a hanging call. */
static void test_hook_and_deadline(void **state)
{
    (void)state;
    struct sa_conn_http *c = client(NULL, 50);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", srv.port);
    struct sa_conn_req req = {.method = "GET", .url = url, .retry = no_retry};
    struct sa_conn_resp r;
    struct sa_err err = {0};
    script((struct answer[]){{.status = 429}, {.status = 200}}, 2);
    assert_int_equal(sa_conn_http_do(c, &req, &r, &err), 0);
    assert_int_equal(r.status, 429);
    assert_int_equal(r.attempts, 1);
    sa_conn_resp_free(&r);
    req.retry = NULL;
    req.deadline_ns = sa_now_ns() + 2000000000ull;
    script((struct answer[]){{.status = 429, .header = "Retry-After: 3600"}, {.status = 200}}, 2);
    assert_int_equal(sa_conn_http_do(c, &req, &r, &err), 0);
    assert_int_equal(r.status, 429);
    assert_int_equal(r.attempts, 1);
    sa_conn_resp_free(&r);
    req.deadline_ns = sa_now_ns() + 300000000ull;
    script((struct answer[]){{.status = 200, .hang_ms = 1500}}, 1);
    assert_int_equal(sa_conn_http_do(c, &req, &r, &err), SA_ETIMEDOUT);
    assert_int_equal(r.status, 0);
    sa_conn_resp_free(&r);
    sa_conn_http_free(c);
    usleep(1300 * 1000); /* let the hanging handler finish before the next test */
}

/* Failures open the breaker: the next call is refused without reaching the server. */
static void test_breaker_and_metrics(void **state)
{
    (void)state;
    struct sa_metrics *m = sa_metrics_new();
    struct sa_conn_http *c = client(m, 2);
    struct sa_conn_http *c2 = client(m, 2); /* the families are shared, not doubled */
    struct sa_conn_resp r;
    struct sa_err err = {0};
    script((struct answer[]){{.status = 502},
                             {.status = 502},
                             {.status = 502},
                             {.status = 502},
                             {.status = 502},
                             {.status = 502}},
           6);
    assert_int_equal(call(c, "GET", NULL, &r, &err), 0);
    sa_conn_resp_free(&r);
    assert_string_equal(sa_conn_http_breaker(c), "closed");
    assert_int_equal(call(c, "GET", NULL, &r, &err), 0);
    sa_conn_resp_free(&r);
    assert_string_equal(sa_conn_http_breaker(c), "open");
    int before = srv.requests;
    assert_int_equal(call(c, "GET", NULL, &r, &err), SA_EIO);
    assert_true(r.breaker_open);
    assert_int_equal(srv.requests, before);
    sa_conn_resp_free(&r);
    struct sa_buf out;
    sa_buf_init(&out, 1 << 20);
    assert_int_equal(sa_metrics_render(m, &out), 0);
    assert_non_null(
        strstr(out.data, "connector_requests_total{connector=\"testvendor\",status=\"502\"} 2"));
    assert_non_null(strstr(out.data, "connector_requests_total{connector=\"testvendor\","
                                     "status=\"breaker_open\"} 1"));
    assert_non_null(strstr(out.data, "circuit_breaker_state{provider=\"testvendor\"} 1"));
    const char *first = strstr(out.data, "# TYPE connector_requests_total");
    assert_non_null(first);
    assert_null(strstr(first + 1, "# TYPE connector_requests_total"));
    sa_buf_free(&out);
    sa_conn_http_free(c);
    sa_conn_http_free(c2);
    sa_metrics_free(m);
}

/* Many calls, one connection (the share handle keeps it). */
static void test_connection_reused(void **state)
{
    (void)state;
    struct sa_conn_http *c = client(NULL, 50);
    script((struct answer[]){{.status = 200}}, 0);
    pthread_mutex_lock(&srv.lock);
    int before = srv.connections;
    pthread_mutex_unlock(&srv.lock);
    for (int i = 0; i < 20; i++) {
        struct sa_conn_resp r;
        struct sa_err err = {0};
        assert_int_equal(call(c, "POST", "{}", &r, &err), 0);
        assert_int_equal(r.status, 200);
        sa_conn_resp_free(&r);
    }
    pthread_mutex_lock(&srv.lock);
    int made = srv.connections - before;
    pthread_mutex_unlock(&srv.lock);
    assert_int_equal(made, 1);
    sa_conn_http_free(c);
}

static void test_retry_after_values(void **state)
{
    (void)state;
    assert_true(sa_conn_retry_after_seconds("2", 0) == 2.0);
    assert_true(sa_conn_retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", 1445412480.0) == 10.0);
    assert_true(sa_conn_retry_after_seconds("soon", 0) < 0);
    assert_true(sa_conn_backoff_seconds(0, 0) == 0.5);
    assert_true(sa_conn_backoff_seconds(10, 0) == 8.0);
    assert_true(sa_conn_backoff_seconds(1, 1) == 0.75);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retries),
        cmocka_unit_test(test_hook_and_deadline),
        cmocka_unit_test(test_breaker_and_metrics),
        cmocka_unit_test(test_connection_reused),
        cmocka_unit_test(test_retry_after_values),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
