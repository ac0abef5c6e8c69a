/* The transport both wire formats share: POST a JSON body to a provider over libcurl,
 * with the vendors' retry policy and a deadline, and read the answer whole or as a
 * server-sent event stream.
 *
 * Retries (wire-formats.md §3, the OpenAI and Anthropic SDKs' policy): a response with
 * `x-should-retry: true|false` is retried or not as it says; else 408, 409, 429, 5xx and
 * 529 are retried, and so is a connection that failed before any answer. The wait is
 * `retry-after-ms`, else `retry-after` (seconds or an HTTP date) when it is more than 0
 * and at most max_retry_wait_ms (longer: no retry), else min(0.5 x 2^n, 8) s less up to
 * 25 % jitter. A quota or spend-limit refusal (the wire format's is_quota says which) is
 * never retried, nor is a wait that would pass the deadline. A stream that has begun
 * (a 200 with events) is never retried: its text may already be relayed. */
#ifndef SA_LLM_HTTP_H
#define SA_LLM_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "llm/provider.h"

struct sa_llm_http;

struct sa_llm_http_config {
    int max_retries;       /* < 0: 2 */
    int max_retry_wait_ms; /* 0: 120000 */
};

/* Creates the transport (its curl share handle: connections, DNS and TLS sessions reused
 * across calls and threads). */
int sa_llm_http_new(const struct sa_llm_http_config *cfg, struct sa_llm_http **out,
                    struct sa_err *err) SA_WUR;
void sa_llm_http_free(struct sa_llm_http *h);

/* One server-sent event of a 200 stream (sse.h). Returns 0 to go on; anything else ends
 * the transfer, and sa_llm_http_post returns it. */
typedef int (*sa_llm_event_fn)(void *arg, const char *event, const char *data, size_t len);

struct sa_llm_post {
    const char *url;
    const char *const *headers; /* "Name: value" strings, NULL-terminated; borrowed */
    const char *body;           /* the JSON request */
    size_t body_len;
    uint64_t deadline_ns; /* sa_now_ns() time past which the call fails with SA_ETIMEDOUT */
    sa_llm_event_fn on_event; /* non-NULL: a 200 answer is read as an event stream */
    void *arg;
    /* true when an error answer's body is a quota or spend-limit refusal: never retried.
     * Optional. */
    bool (*is_quota)(int status, const char *body, size_t len);
};

struct sa_llm_reply {
    int status;      /* the last answer's HTTP status, or 0 when none came */
    char *body;      /* its body (owned; empty for a consumed stream), capped at 4 MB */
    size_t len;
    int attempts;    /* requests made */
    bool streamed;   /* a 200 stream was read */
    enum sa_llm_failure failure; /* on error: why */
};

/* Posts, retrying per the policy, until an answer that is not retried. Returns 0 with a
 * 2xx reply; else a negative code, *out describing the last attempt and err set:
 * SA_ETIMEDOUT (deadline), SA_EIO (transport, or a non-2xx answer not retried), or the
 * event callback's code. Free *out with sa_llm_reply_free. */
int sa_llm_http_post(struct sa_llm_http *h, const struct sa_llm_post *post,
                     struct sa_llm_reply *out, struct sa_err *err) SA_WUR;
void sa_llm_reply_free(struct sa_llm_reply *r);

/* The wait before retry n (0-based) when the answer gave none: min(0.5 x 2^n, 8) s less up
 * to 25 % (jitter in [0, 1)). Exposed for tests. */
double sa_llm_backoff_seconds(int n, double jitter);
/* A retry-after header value in seconds ("2", "1.5" or an HTTP date, relative to now_unix),
 * or -1 when unreadable. Exposed for tests. */
double sa_llm_retry_after_seconds(const char *value, double now_unix);

#endif
