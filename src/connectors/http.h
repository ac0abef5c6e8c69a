/* The HTTP client the SaaS connectors share (enrichment providers, CRMs): one per
 * connector, with its circuit breaker, its metrics and one curl share handle (connections,
 * DNS and TLS sessions reused across calls and threads).
 *
 * Every call has a deadline. A connection that fails before any answer, a 429 and a 5xx
 * are retried (at most max_retries times) after the answer's Retry-After (seconds or an
 * HTTP date) when it is given and fits before the deadline, else after min(0.5 x 2^n, 8) s
 * less up to 25 % jitter; a connector's retry hook may say otherwise for an answer (a
 * daily quota is not worth waiting for). Transport failures and 5xx count as failures of
 * the breaker; any other answer shows the service is up. An open breaker refuses the call
 * at once (SA_EIO, *out's status 0, breaker_open set). Metrics, registered once per
 * registry: connector_requests_total{connector,status} (status: the HTTP status, or
 * "timeout", "error", "breaker_open") and connector_request_seconds{connector}. */
#ifndef SA_CONNECTORS_HTTP_H
#define SA_CONNECTORS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct sa_metrics;
struct sa_conn_http;

struct sa_conn_http_config {
    const char *name;           /* the connector: "apollo", "hubspot" (metrics, logs) */
    int timeout_ms;             /* a call's deadline when the request gives none; 0: 10000 */
    int max_retries;            /* < 0: 2 */
    int breaker_failures;       /* consecutive failures that open the breaker; 0: 5 */
    double breaker_open_s;      /* how long it stays open; 0: 30 */
    struct sa_metrics *metrics; /* optional */
    /* with metrics: keep circuit_breaker_state{provider=name} (0 closed, 1 open, 2
     * half-open) for this breaker. Off for a connector whose caller reports its own
     * breaker under the same name (the enrichment waterfall's, for Apollo). */
    bool breaker_gauge;
};

/* One answer. */
struct sa_conn_resp {
    int status; /* the last answer's HTTP status; 0 when none came */
    char *body; /* its body, NUL-terminated (owned), capped at 8 MB */
    size_t len;
    char *headers;     /* its header lines, "name: value\r\n" each (owned) */
    int attempts;      /* requests made */
    bool breaker_open; /* refused by the open breaker: nothing was sent */
};

struct sa_conn_req {
    const char *method; /* "GET", "POST", "PATCH", "PUT", "DELETE" */
    const char *url;
    const char *const *headers; /* "Name: value", NULL-terminated; borrowed */
    const char *body;           /* NULL: none */
    size_t body_len;
    uint64_t deadline_ns; /* sa_now_ns() time; 0: now + the config's timeout */
    /* Optional: seconds to wait before retrying after this answer (>= 0), -1 for the
     * default policy, -2 for no retry. */
    double (*retry)(void *arg, const struct sa_conn_resp *r, int attempt);
    void *arg;
};

int sa_conn_http_new(const struct sa_conn_http_config *cfg, struct sa_conn_http **out,
                     struct sa_err *err) SA_WUR;
void sa_conn_http_free(struct sa_conn_http *c);

/* Sends req, retrying as above, until an answer that is not retried. Returns 0 when an
 * answer came (any status: the caller reads it), else SA_ETIMEDOUT (the deadline) or
 * SA_EIO (no answer: the network, or the open breaker) with err set; *out is filled
 * either way and freed with sa_conn_resp_free. */
int sa_conn_http_do(struct sa_conn_http *c, const struct sa_conn_req *req, struct sa_conn_resp *out,
                    struct sa_err *err) SA_WUR;
void sa_conn_resp_free(struct sa_conn_resp *r);

/* The value of the answer's header name (case-insensitive) copied into buf, or NULL. */
const char *sa_conn_resp_header(const struct sa_conn_resp *r, const char *name, char *buf,
                                size_t cap);

/* The breaker's state name ("closed", "open", "half_open"): for /health. */
const char *sa_conn_http_breaker(struct sa_conn_http *c);
const char *sa_conn_http_name(const struct sa_conn_http *c);

/* The default wait before retry n when the answer named none: min(0.5 x 2^n, 8) s less up
 * to 25 % (jitter in [0, 1)); and a Retry-After value in seconds ("2" or an HTTP date,
 * relative to now_unix), -1 when unreadable. Exposed for tests. */
double sa_conn_backoff_seconds(int n, double jitter);
double sa_conn_retry_after_seconds(const char *value, double now_unix);

#endif
