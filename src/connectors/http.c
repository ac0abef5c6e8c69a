/* The connectors' HTTP client (see http.h). */
#include "connectors/http.h"

#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/curl_share.h"
#include "metrics/metrics.h"
#include "resilience/breaker.h"

#define BODY_MAX ((size_t)8 << 20)
#define HEADERS_MAX ((size_t)64 << 10)

struct sa_conn_http {
    struct sa_conn_http_config cfg;
    char name[32];
    struct sa_curl_share share;
    struct sa_breaker breaker;
    int m_requests, m_seconds, m_breaker; /* metric families, or -1 */
};

static const double seconds_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
static const struct sa_metric_desc m_requests = {
    .name = "connector_requests_total",
    .help = "Calls to external services by connector and outcome (an HTTP status, timeout, "
            "error, breaker_open)",
    .kind = SA_COUNTER,
    .labels = {"connector", "status", NULL}};
static const struct sa_metric_desc m_seconds = {
    .name = "connector_request_seconds",
    .help = "Time of a call to an external service, retries included",
    .kind = SA_HISTOGRAM,
    .labels = {"connector", NULL},
    .buckets = seconds_buckets,
    .nbuckets = (int)(sizeof seconds_buckets / sizeof seconds_buckets[0])};

static const struct sa_metric_desc m_breaker = {
    .name = "circuit_breaker_state", /* the app's family of that name (deduplicated) */
    .help = "Circuit breaker per provider: 0 closed, 1 open, 2 half-open.",
    .kind = SA_GAUGE,
    .labels = {"provider", NULL}};

int sa_conn_http_new(const struct sa_conn_http_config *cfg, struct sa_conn_http **out,
                     struct sa_err *err)
{
    *out = NULL;
    struct sa_conn_http *c = calloc(1, sizeof *c);
    if (!c)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    c->cfg = *cfg;
    snprintf(c->name, sizeof c->name, "%s", cfg->name ? cfg->name : "connector");
    c->cfg.name = c->name;
    if (c->cfg.timeout_ms <= 0)
        c->cfg.timeout_ms = 10000;
    if (c->cfg.max_retries < 0)
        c->cfg.max_retries = 2;
    struct sa_breaker_config bc = {.failure_threshold = cfg->breaker_failures,
                                   .open_seconds = cfg->breaker_open_s};
    sa_breaker_init(&c->breaker, c->name, &bc);
    c->m_requests = c->m_seconds = c->m_breaker = -1;
    if (cfg->metrics) {
        c->m_requests = sa_metrics_register(cfg->metrics, &m_requests);
        c->m_seconds = sa_metrics_register(cfg->metrics, &m_seconds);
        if (cfg->breaker_gauge) {
            c->m_breaker = sa_metrics_register(cfg->metrics, &m_breaker);
            const char *v[] = {c->name};
            if (c->m_breaker >= 0)
                sa_metrics_set(cfg->metrics, c->m_breaker, v, 0);
        }
    }
    if (sa_curl_share_init(&c->share)) {
        sa_conn_http_free(c);
        return sa_err_set(err, SA_ENOMEM, "%s: cannot create a curl share handle", cfg->name);
    }
    *out = c;
    return 0;
}

void sa_conn_http_free(struct sa_conn_http *c)
{
    if (!c)
        return;
    sa_curl_share_destroy(&c->share);
    sa_breaker_destroy(&c->breaker);
    free(c);
}

const char *sa_conn_http_breaker(struct sa_conn_http *c)
{
    return sa_breaker_state_name(sa_breaker_state(&c->breaker));
}

const char *sa_conn_http_name(const struct sa_conn_http *c)
{
    return c->name;
}

void sa_conn_resp_free(struct sa_conn_resp *r)
{
    free(r->body);
    free(r->headers);
    r->body = r->headers = NULL;
    r->len = 0;
}

const char *sa_conn_resp_header(const struct sa_conn_resp *r, const char *name, char *buf,
                                size_t cap)
{
    size_t k = strlen(name);
    for (const char *p = r->headers; p && *p;) {
        const char *eol = strstr(p, "\r\n");
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        if (n > k && strncasecmp(p, name, k) == 0 && p[k] == ':') {
            const char *v = p + k + 1, *end = p + n;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
            size_t len = (size_t)(end - v) < cap - 1 ? (size_t)(end - v) : cap - 1;
            memcpy(buf, v, len);
            buf[len] = '\0';
            return buf;
        }
        p = eol ? eol + 2 : p + n;
    }
    return NULL;
}

double sa_conn_backoff_seconds(int n, double jitter)
{
    double base = 0.5 * pow(2.0, n);
    if (base > 8.0)
        base = 8.0;
    return base * (1.0 - 0.25 * jitter);
}

double sa_conn_retry_after_seconds(const char *value, double now_unix)
{
    char *end = NULL;
    double s = strtod(value, &end);
    if (end != value && *end == '\0')
        return s >= 0 ? s : -1;
    time_t t = curl_getdate(value, NULL);
    if (t < 0)
        return -1;
    double d = (double)t - now_unix;
    return d > 0 ? d : 0;
}

struct attempt {
    struct sa_buf body, headers;
    bool too_big;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct attempt *a = arg;
    if (sa_buf_append(&a->body, p, size * n)) {
        a->too_big = true;
        return 0;
    }
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct attempt *a = arg;
    size_t len = size * n;
    if (len > 5 && strncmp(p, "HTTP/", 5) == 0) /* a new answer (after a 100 or a redirect) */
        sa_buf_reset(&a->headers);
    else if (sa_buf_append(&a->headers, p, len))
        a->too_big = true;
    return a->too_big ? 0 : len;
}

/* One request. 0 when an answer came (any status), else SA_ETIMEDOUT or SA_EIO. */
static int attempt_once(struct sa_conn_http *c, const struct sa_conn_req *req, uint64_t deadline,
                        struct attempt *a, long *status, struct sa_err *err)
{
    uint64_t now = sa_now_ns();
    if (now >= deadline)
        return sa_err_set(err, SA_ETIMEDOUT, "%s: the call's deadline passed", c->name);
    long left_ms = (long)((deadline - now) / 1000000) + 1;
    CURL *h = curl_easy_init();
    if (!h)
        return sa_err_set(err, SA_EIO, "%s: cannot create a curl handle", c->name);
    struct curl_slist *hdrs = NULL;
    for (const char *const *hd = req->headers; hd && *hd; hd++)
        hdrs = curl_slist_append(hdrs, *hd);
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    if (req->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    } else if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    sa_curl_share_use(&c->share, h, left_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, a);
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    if (a->too_big)
        return sa_err_set(err, SA_EIO, "%s: an answer over %zu bytes", c->name, BODY_MAX);
    if (cc == CURLE_OPERATION_TIMEDOUT)
        return sa_err_set(err, SA_ETIMEDOUT, "%s: no complete answer within the deadline", c->name);
    if (cc != CURLE_OK) /* names the host and the cause: for the log, not for clients */
        return sa_err_set(err, SA_EIO, "%s: %s", c->name, curl_easy_strerror(cc));
    return 0;
}

static void count(struct sa_conn_http *c, const char *status, double seconds)
{
    if (!c->cfg.metrics)
        return;
    const char *v[] = {c->name, status};
    sa_metrics_add(c->cfg.metrics, c->m_requests, v, 1);
    if (seconds >= 0)
        sa_metrics_observe(c->cfg.metrics, c->m_seconds, v, seconds);
}

/* Seconds before retry n after this outcome, or < 0: not retried. */
static double retry_wait(const struct sa_conn_http *c, const struct sa_conn_req *req,
                         const struct sa_conn_resp *r, int rc, int n)
{
    if (n >= c->cfg.max_retries || rc == SA_ETIMEDOUT)
        return -1;
    if (!rc && req->retry) {
        double w = req->retry(req->arg, r, n);
        if (w >= 0 || w <= -2)
            return w;
    }
    if (!rc && r->status != 429 && r->status < 500)
        return -1;
    char ra[64];
    double wait = !rc && sa_conn_resp_header(r, "retry-after", ra, sizeof ra)
                      ? sa_conn_retry_after_seconds(ra, sa_wall_seconds())
                      : -1;
    if (wait < 0)
        wait = sa_conn_backoff_seconds(n, (double)(rand() % 1000) / 1000.0);
    return wait;
}

int sa_conn_http_do(struct sa_conn_http *c, const struct sa_conn_req *req, struct sa_conn_resp *out,
                    struct sa_err *err)
{
    memset(out, 0, sizeof *out);
    uint64_t t0 = sa_now_ns();
    uint64_t deadline =
        req->deadline_ns ? req->deadline_ns : t0 + (uint64_t)c->cfg.timeout_ms * 1000000u;
    if (!sa_breaker_allow(&c->breaker)) {
        out->breaker_open = true;
        count(c, "breaker_open", -1);
        return sa_err_set(err, SA_EIO, "%s: the circuit breaker is open", c->name);
    }
    int rc;
    for (int n = 0;; n++) {
        struct attempt a;
        sa_buf_init(&a.body, BODY_MAX);
        sa_buf_init(&a.headers, HEADERS_MAX);
        a.too_big = false;
        long status = 0;
        struct sa_err aerr = {0};
        rc = attempt_once(c, req, deadline, &a, &status, &aerr);
        sa_conn_resp_free(out);
        out->status = rc ? 0 : (int)status;
        out->attempts = n + 1;
        out->body = sa_buf_steal(&a.body, &out->len);
        if (!out->body)
            out->body = strdup("");
        size_t hl;
        out->headers = sa_buf_steal(&a.headers, &hl);
        double wait = retry_wait(c, req, out, rc, n);
        uint64_t now = sa_now_ns();
        if (wait < 0 || now + (uint64_t)(wait * 1e9) >= deadline) {
            if (rc)
                *err = aerr;
            break;
        }
        struct timespec ts = {(time_t)wait, (long)((wait - floor(wait)) * 1e9)};
        nanosleep(&ts, NULL);
    }
    bool down = rc != 0 || out->status >= 500;
    sa_breaker_record(&c->breaker, !down);
    if (c->m_breaker >= 0) {
        const char *v[] = {c->name};
        sa_metrics_set(c->cfg.metrics, c->m_breaker, v, (double)sa_breaker_state(&c->breaker));
    }
    char st[16];
    if (rc == SA_ETIMEDOUT)
        snprintf(st, sizeof st, "timeout");
    else if (rc)
        snprintf(st, sizeof st, "error");
    else
        snprintf(st, sizeof st, "%d", out->status);
    count(c, st, (double)(sa_now_ns() - t0) / 1e9);
    if (!out->body)
        return rc ? rc : sa_err_set(err, SA_ENOMEM, "out of memory");
    return rc;
}
