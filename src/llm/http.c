#include "llm/http.h"

#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/curl_share.h"
#include "llm/sse.h"

#define REPLY_MAX ((size_t)4 << 20)

struct sa_llm_http {
    struct sa_llm_http_config cfg;
    struct sa_curl_share share;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    /* the retries' jitter differs between processes, so instances do not retry in step */
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
}

int sa_llm_http_new(const struct sa_llm_http_config *cfg, struct sa_llm_http **out,
                    struct sa_err *err)
{
    *out = NULL;
    pthread_once(&global_once, global_init);
    struct sa_llm_http *h = calloc(1, sizeof *h);
    if (!h)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    h->cfg = *cfg;
    if (h->cfg.max_retries < 0)
        h->cfg.max_retries = 2;
    if (h->cfg.max_retry_wait_ms <= 0)
        h->cfg.max_retry_wait_ms = 120000;
    if (sa_curl_share_init(&h->share)) {
        sa_llm_http_free(h);
        return sa_err_set(err, SA_ENOMEM, "llm: cannot create a curl share handle");
    }
    *out = h;
    return 0;
}

void sa_llm_http_free(struct sa_llm_http *h)
{
    if (!h)
        return;
    sa_curl_share_destroy(&h->share);
    free(h);
}

void sa_llm_reply_free(struct sa_llm_reply *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}

double sa_llm_backoff_seconds(int n, double jitter)
{
    double d = 0.5 * pow(2.0, n);
    if (d > 8.0)
        d = 8.0;
    return d * (1.0 - 0.25 * jitter);
}

double sa_llm_retry_after_seconds(const char *value, double now_unix)
{
    if (!value || !*value)
        return -1;
    char *end = NULL;
    double s = strtod(value, &end);
    if (end != value && *end == '\0')
        return s;
    time_t t = curl_getdate(value, NULL);
    return t < 0 ? -1 : (double)t - now_unix;
}

/* ---- one attempt ------------------------------------------------------------------- */

struct attempt {
    const struct sa_llm_post *post;
    CURL *curl;
    struct sa_buf body;
    struct sa_sse sse;
    bool streaming; /* this answer is a 200 stream: bytes go to the parser */
    bool decided;   /* streaming was decided from the status */
    int cb_rc;      /* the event callback's (or the parser's) stop code */
    struct sa_err cb_err;
    char retry_after_ms[32], retry_after[64], should_retry[8];
};

static void header_value(const char *line, size_t n, const char *name, char *out, size_t cap)
{
    size_t k = strlen(name);
    if (n <= k + 1 || strncasecmp(line, name, k) != 0 || line[k] != ':')
        return;
    const char *v = line + k + 1;
    const char *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    size_t len = (size_t)(end - v) < cap - 1 ? (size_t)(end - v) : cap - 1;
    memcpy(out, v, len);
    out[len] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct attempt *a = arg;
    size_t len = size * n;
    if (len > 5 && strncmp(p, "HTTP/", 5) == 0) { /* a new response (after a 100) */
        a->retry_after_ms[0] = a->retry_after[0] = a->should_retry[0] = '\0';
        return len;
    }
    header_value(p, len, "retry-after-ms", a->retry_after_ms, sizeof a->retry_after_ms);
    header_value(p, len, "retry-after", a->retry_after, sizeof a->retry_after);
    header_value(p, len, "x-should-retry", a->should_retry, sizeof a->should_retry);
    return len;
}

static int on_sse_event(void *arg, const char *event, const char *data, size_t len)
{
    struct attempt *a = arg;
    return a->post->on_event(a->post->arg, event, data, len);
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct attempt *a = arg;
    size_t len = size * n;
    if (!a->decided) {
        long status = 0;
        curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &status);
        a->streaming = a->post->on_event && status == 200;
        a->decided = true;
    }
    if (a->streaming) {
        int rc = sa_sse_feed(&a->sse, p, len, &a->cb_err);
        if (rc) {
            a->cb_rc = rc;
            return 0; /* stops the transfer: CURLE_WRITE_ERROR */
        }
        return len;
    }
    if (sa_buf_append(&a->body, p, len)) {
        a->cb_rc = sa_err_set(&a->cb_err, SA_ETOOBIG, "llm: answer over %zu bytes", REPLY_MAX);
        return 0;
    }
    return len;
}

/* Makes one request. Returns 0 when an answer came (any status), or a code: SA_ETIMEDOUT,
 * SA_EIO for a connection that failed, or the stream callback's. */
static int attempt_once(struct sa_llm_http *h, struct attempt *a, long *status,
                        struct sa_err *err)
{
    const struct sa_llm_post *post = a->post;
    uint64_t now = sa_now_ns();
    if (now >= post->deadline_ns)
        return sa_err_set(err, SA_ETIMEDOUT, "llm: the call's deadline passed");
    long left_ms = (long)((post->deadline_ns - now) / 1000000) + 1;
    CURL *c = curl_easy_init();
    if (!c)
        return sa_err_set(err, SA_ENOMEM, "llm: cannot create a curl handle");
    a->curl = c;
    struct curl_slist *hdrs = NULL;
    for (const char *const *hd = post->headers; hd && *hd; hd++)
        hdrs = curl_slist_append(hdrs, *hd);
    hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
    curl_easy_setopt(c, CURLOPT_URL, post->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, post->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)post->body_len);
    sa_curl_share_use(&h->share, c, left_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    a->curl = NULL;
    if (a->cb_rc) {
        *err = a->cb_err;
        return a->cb_rc;
    }
    if (cc == CURLE_OPERATION_TIMEDOUT)
        return sa_err_set(err, SA_ETIMEDOUT, "llm: no complete answer within the deadline");
    if (cc != CURLE_OK)
        /* curl's text names the host and the cause; it stays in the log, not the API */
        return sa_err_set(err, SA_EIO, "llm: %s", curl_easy_strerror(cc));
    return 0;
}

static bool status_retried(long status)
{
    return status == 408 || status == 409 || status == 429 || status >= 500;
}

static enum sa_llm_failure status_failure(long status)
{
    if (status == 429)
        return SA_LLM_FAIL_RATE_LIMITED;
    if (status == 408)
        return SA_LLM_FAIL_TIMEOUT;
    return status >= 500 ? SA_LLM_FAIL_SERVER_ERROR : SA_LLM_FAIL_REQUEST_REFUSED;
}

/* Seconds to wait before retry n after this answer, or -1: not retried. */
static double retry_wait(const struct sa_llm_http *h, const struct attempt *a, long status,
                         const struct sa_llm_reply *reply, int n)
{
    if (n >= h->cfg.max_retries)
        return -1;
    if (status && reply->failure == SA_LLM_FAIL_QUOTA)
        return -1;
    if (strcasecmp(a->should_retry, "false") == 0)
        return -1;
    if (status && strcasecmp(a->should_retry, "true") != 0 && !status_retried(status))
        return -1;
    double max = h->cfg.max_retry_wait_ms / 1000.0;
    double wait = -1;
    char *end = NULL;
    double ms = a->retry_after_ms[0] ? strtod(a->retry_after_ms, &end) : -1;
    if (a->retry_after_ms[0] && end && *end == '\0' && ms >= 0)
        wait = ms / 1000.0;
    else if (a->retry_after[0])
        wait = sa_llm_retry_after_seconds(a->retry_after, sa_wall_seconds());
    if (wait > max)
        return -1; /* the server asks for longer than a caller waits: give up now */
    if (wait <= 0)
        wait = sa_llm_backoff_seconds(n, (double)(rand() % 1000) / 1000.0);
    return wait;
}

int sa_llm_http_post(struct sa_llm_http *h, const struct sa_llm_post *post,
                     struct sa_llm_reply *out, struct sa_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = SA_EIO;
    for (int n = 0;; n++) {
        struct attempt a = {.post = post};
        sa_buf_init(&a.body, REPLY_MAX);
        if (post->on_event)
            sa_sse_init(&a.sse, on_sse_event, &a);
        long status = 0;
        struct sa_err aerr = {0};
        rc = attempt_once(h, &a, &status, &aerr);
        out->attempts = n + 1;
        out->status = (int)status;
        out->streamed = a.streaming;
        free(out->body);
        out->body = sa_buf_steal(&a.body, &out->len);
        if (post->on_event)
            sa_sse_free(&a.sse);
        if (!rc && status >= 200 && status < 300) {
            out->failure = SA_LLM_FAIL_NONE;
            return 0;
        }
        if (rc == SA_ETIMEDOUT)
            out->failure = SA_LLM_FAIL_TIMEOUT;
        else if (rc == SA_EIO)
            out->failure = SA_LLM_FAIL_TRANSPORT;
        else if (rc == SA_ETOOBIG)
            out->failure = SA_LLM_FAIL_INVALID_OUTPUT; /* an answer or event past the cap */
        else if (rc)
            out->failure = SA_LLM_FAIL_CANCELED; /* the caller's callback stopped it */
        else
            out->failure = status_failure(status);
        if (!rc && post->is_quota && post->is_quota((int)status, out->body, out->len))
            out->failure = SA_LLM_FAIL_QUOTA;
        if (rc && rc != SA_EIO) { /* a deadline, or a stream the caller stopped */
            *err = aerr;
            return rc;
        }
        if (a.streaming) { /* a begun stream that broke: its text may be out already */
            *err = aerr;
            return rc ? rc : SA_EIO;
        }
        double wait = retry_wait(h, &a, status, out, n);
        uint64_t now = sa_now_ns();
        if (wait < 0 || now + (uint64_t)(wait * 1e9) >= post->deadline_ns) {
            if (rc)
                *err = aerr;
            else
                sa_err_set(err, SA_EIO, "llm: the provider answered %ld", status);
            return SA_EIO;
        }
        struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
        nanosleep(&ts, NULL);
    }
}
