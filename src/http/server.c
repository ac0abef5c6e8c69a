/* libmicrohttpd glue: per-request state, body collection with a cap, routing, response
 * building, one JSON log line and the HTTP metrics per request.
 *
 * MHD calls the access handler several times per request: once when the headers are
 * in, once per chunk of body, and once more with no data when the body is complete. We
 * answer on the last call. Answering on the first call makes MHD close the connection
 * (measured: 5x fewer requests/s), so we do that only to refuse a body whose declared
 * size is over the cap, where closing is what we want, and for the edge's refusals
 * (framing, Host, path), where closing is required: bytes after a request whose framing
 * we do not trust must never be read as another request.
 *
 * A request's state is made earlier than that first call, in the URI log callback, which
 * sees the raw request target before MHD decodes it: the path is decoded there by our
 * own strict rules (http/edge.h), so nothing is cut and no %00 ends it. */
#include "http/server.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "app/app.h"
#include "base/clock.h"
#include "base/detail.h"
#include "base/json.h"
#include "base/log.h"
#include "base/uuid.h"
#include "http/edge.h"
#include "http/guard.h"
#include "http/http.h"
#include "http/router.h"
#include "metrics/metrics.h"

struct sa_http_server {
    struct MHD_Daemon *daemon;
    struct sa_app *app;
    struct sa_edge *edge; /* connection deadlines */
    int port;
    int m_requests, m_seconds;      /* metric family ids */
    pthread_mutex_t park_lock;      /* guards every waker's state, parked, stopping */
    struct sa_stream_waker *parked; /* suspended connections (sa_http_park) */
    bool stopping;                  /* no stream parks any more: sa_http_stop resumed them */
    int holds;                      /* background work of requests (sa_req_try_hold) */
    pthread_cond_t released;        /* signalled whenever holds drops */

    /* what it answers: sa_routes, or metrics_routes (SA_HTTP_METRICS_ONLY) */
    const struct sa_route *routes;
    size_t n_routes;
    struct sa_route metrics_routes[2]; /* GET /health and GET /metrics, copied from sa_routes */
};

/* The whole header block (request line included) we read: larger is 431, from us up to
 * MHD's memory limit (below) and from MHD beyond it. */
#define MAX_HEADER_BYTES ((size_t)32 * 1024)
/* MHD's memory pool per connection: it holds the request line, the headers and the read
 * buffer, and MHD answers 414/431 itself (an HTML page) when they do not fit. Large
 * enough that our own limits (SA_EDGE_MAX_PATH, MAX_HEADER_BYTES) are what clients meet. */
#define CONNECTION_MEMORY ((size_t)128 * 1024)

static_assert(sizeof(((struct sa_req *)0)->path) == SA_EDGE_MAX_PATH + 1,
              "struct sa_req's path holds the longest path the edge accepts");

/* The server's view of a request: what handlers see first (so a struct sa_req * is also
 * a struct srv_req *), then what only the server uses. */
struct srv_req {
    struct sa_req r;
    enum sa_path_verdict path_verdict; /* from the raw request target */
    size_t raw_path_len;
    bool answered;  /* we queued a response (else MHD answered, or nobody did) */
    bool streaming; /* an event stream was queued: it is observed when it ends */
};

/* From 100 us (a cached GET) to 120 s: event streams and the waits for a run or a join
 * are answered when the run ends, so they last as long as a pipeline does (the agents'
 * histogram, agent_processing_seconds, also reaches 120 s). Longer ones fall in +Inf. */
static const double http_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                      0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5,
                                      5,      10,      30,     60,    120};

static const struct sa_metric_desc m_http_requests = {
    "http_requests_total",
    "HTTP requests by method, route template and status.",
    SA_COUNTER,
    {"method", "route", "status", NULL},
    NULL,
    0};
static const struct sa_metric_desc m_http_seconds = {
    "http_request_duration_seconds",
    "HTTP request handling time by route template.",
    SA_HISTOGRAM,
    {"method", "route", NULL},
    http_buckets,
    (int)(sizeof http_buckets / sizeof http_buckets[0])};

/* Records a finished request in the metrics: its route template ("unmatched" for none)
 * keeps the label set bounded. */
static void observe(struct sa_req *r)
{
    char st[8];
    snprintf(st, sizeof st, "%d", r->status);
    const char *v[] = {r->route ? r->route->method : "other",
                       r->route ? r->route->path : "unmatched", st};
    sa_metrics_add(r->app->metrics, r->srv->m_requests, v, 1);
    sa_metrics_observe(r->app->metrics, r->srv->m_seconds, v,
                       (double)(sa_now_ns() - r->start_ns) / 1e9);
}

/* ---- request lifecycle ------------------------------------------------------------- */

static void req_free(struct sa_req *r)
{
    if (r->stream_resp)
        MHD_destroy_response(r->stream_resp);
    sa_reply_reset(r);
    json_decref(r->audit_detail);
    sa_buf_free(&r->body);
    if (r->body_map)
        munmap(r->body_map, r->body_file_len);
    if (r->body_spooled)
        close(r->body_fd);
    free((struct srv_req *)r); /* r is the first member of the struct srv_req allocated */
}

static bool has_header(const struct sa_req *r, const char *name)
{
    for (int i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return true;
    return false;
}

/* The headers every response carries: its request id, those the guard and handler added
 * (CORS, rate limits, WWW-Authenticate, Retry-After), X-Content-Type-Options: nosniff (a
 * 404 echoes the path it was given: no browser may read a body as another type than the
 * one sent) and the caching rule: an answer to a credential holds that caller's data
 * (contacts, drafts), so no cache may keep it (no-store) unless the handler said
 * otherwise; cache (the stream's no-cache) applies to the others. */
static void add_headers(struct sa_req *r, struct MHD_Response *resp, const char *cache)
{
    MHD_add_response_header(resp, "X-Request-ID", r->request_id);
    for (int i = 0; i < r->n_headers; i++)
        MHD_add_response_header(resp, r->headers[i].name, r->headers[i].value);
    if (!has_header(r, "X-Content-Type-Options"))
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    /* No HTML page of ours may be framed (clickjacking: a page elsewhere overlays the
     * console's approve button or the unsubscribe form): X-Frame-Options for browsers
     * without CSP's frame-ancestors, and a policy that forbids it when the page set none.
     * A page that sets its own policy MUST put frame-ancestors 'none' in it. */
    if (r->content_type && strncasecmp(r->content_type, "text/html", 9) == 0) {
        if (!has_header(r, "X-Frame-Options"))
            MHD_add_response_header(resp, "X-Frame-Options", "DENY");
        if (!has_header(r, "Content-Security-Policy"))
            MHD_add_response_header(resp, "Content-Security-Policy",
                                    "default-src 'none'; base-uri 'none'; form-action 'none'; "
                                    "frame-ancestors 'none'");
    }
    if (!has_header(r, "Cache-Control")) {
        if (r->principal.kind != SA_PRINCIPAL_NONE)
            cache = "no-store";
        if (cache)
            MHD_add_response_header(resp, "Cache-Control", cache);
    }
}

static enum MHD_Result send_reply(struct sa_req *r)
{
    ((struct srv_req *)r)->answered = true;
    if (r->stream_resp) {
        struct MHD_Response *resp = r->stream_resp;
        r->stream_resp = NULL;
        MHD_add_response_header(resp, "Content-Type", r->content_type);
        add_headers(r, resp, "no-cache");
        enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)r->status, resp);
        MHD_destroy_response(resp);
        /* Its duration is the stream's: observed and logged when it ends (stream_ended). */
        ((struct srv_req *)r)->streaming = ok == MHD_YES;
        if (ok != MHD_YES)
            observe(r);
        return ok;
    }
    if (!r->json && !r->text && !r->static_text)
        sa_reply_error(r, 500, "internal_error", "", "internal_error",
                       "the handler produced no response");
    char *body = NULL;
    size_t len = 0;
    struct MHD_Response *resp = NULL;
    if (r->json) {
        body = sa_json_dumps(r->json, 12, &len);
    } else if (r->text) {
        body = r->text;
        len = r->text_len;
        r->text = NULL;
    } else { /* lives for the process: MHD sends it from where it is */
        resp = MHD_create_response_from_buffer(r->text_len, (void *)(uintptr_t)r->static_text,
                                               MHD_RESPMEM_PERSISTENT);
    }
    if (body)
        resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", r->content_type);
    add_headers(r, resp, NULL);
    if (r->allow[0])
        MHD_add_response_header(resp, "Allow", r->allow);
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);

    double secs = (double)(sa_now_ns() - r->start_ns) / 1e9;
    const char *route = r->route ? r->route->path : "unmatched";
    observe(r);
    enum sa_log_level lvl = r->status >= 500 ? SA_LOG_ERROR : SA_LOG_INFO;
    if (sa_log_enabled(lvl)) {
        json_t *f = json_pack("{s:s, s:s, s:s, s:i, s:f, s:s}", "method", r->method, "path",
                              r->path, "route", route, "status", r->status, "duration_ms",
                              secs * 1e3, "request_id", r->request_id);
        if (r->status >= 500 && r->json)
            json_object_set(f, "detail", json_object_get(r->json, "detail"));
        sa_log(lvl, "request", f);
    }
    return ok;
}

static void set_client_addr(struct sa_req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                  r->client_addr, sizeof r->client_addr);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                  r->client_addr, sizeof r->client_addr);
    else
        snprintf(r->client_addr, sizeof r->client_addr, "unknown");
}

static void set_request_id(struct sa_req *r)
{
    const char *given = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Request-ID");
    bool ok = given && *given && strlen(given) < sizeof r->request_id;
    for (const char *p = given; ok && *p; p++)
        ok = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
             *p == '-' || *p == '_' || *p == '.';
    if (ok)
        snprintf(r->request_id, sizeof r->request_id, "%s", given);
    else
        sa_uuid_v4(r->request_id);
}

static size_t body_cap(const struct sa_req *r)
{
    if (r->route && r->route->body == SA_BODY_MAIL) /* inbound mail: attachments and all */
        return r->app->cfg.inbound_max_bytes;
    return r->route && r->route->body == SA_BODY_CSV ? r->app->cfg.max_import_bytes
                                                     : r->app->cfg.max_body;
}

static void reply_too_large(struct sa_req *r)
{
    if (r->route && r->route->body == SA_BODY_CSV)
        sa_reply_error(r, 413, "payload_too_large", "body", "too_large",
                       "The CSV is larger than %zu bytes (MAX_IMPORT_BYTES): import it with the "
                       "CLI (sales-agent import FILE.csv reads a file of any size), or split it "
                       "into files under the limit",
                       r->app->cfg.max_import_bytes);
    else if (r->route && r->route->body == SA_BODY_MAIL)
        sa_reply_error(r, 413, "payload_too_large", "body", "too_large",
                       "The message is larger than %zu bytes (INBOUND_MAX_BYTES)",
                       r->app->cfg.inbound_max_bytes);
    else
        sa_reply_error(r, 413, "payload_too_large", "body", "too_large",
                       "Request body is larger than %zu bytes", r->app->cfg.max_body);
}

void sa_req_body(const struct sa_req *r, const char **data, size_t *len)
{
    if (r->body_map) {
        *data = r->body_map;
        *len = r->body_file_len;
    } else {
        *data = r->body.data ? r->body.data : "";
        *len = r->body.len;
    }
}

static int write_all(int fd, const char *data, size_t n)
{
    while (n) {
        ssize_t w = write(fd, data, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return SA_EIO;
        data += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Keeps n more bytes of the body. A CSV body (the import) that outgrows MAX_BODY_BYTES
 * moves to a temporary file under TMPDIR, unlinked at once so nothing is left behind
 * whatever happens to the process: an import of MAX_IMPORT_BYTES costs the server disk,
 * not heap. Returns 0, SA_ETOOBIG past the route's cap, SA_EIO, SA_ENOMEM. */
static int body_append(struct sa_req *r, const char *data, size_t n)
{
    size_t cap = body_cap(r), have = r->body_spooled ? r->body_file_len : r->body.len;
    if (n > cap - have)
        return SA_ETOOBIG;
    if (r->route->body == SA_BODY_MAIL) /* held in memory up to INBOUND_MAX_BYTES */
        r->body.max = cap;
    if (!r->body_spooled && (r->route->body != SA_BODY_CSV || n <= r->app->cfg.max_body - have))
        return sa_buf_append(&r->body, data, n);
    if (!r->body_spooled) {
        char path[4096];
        snprintf(path, sizeof path, "%s/sales-agent-body-XXXXXX", r->app->cfg.tmp_dir);
        int fd = mkostemp(path, O_CLOEXEC);
        if (fd < 0) {
            sa_log(SA_LOG_ERROR, "spooling a request body",
                   json_pack("{s:s, s:s, s:s}", "request_id", r->request_id, "dir",
                             r->app->cfg.tmp_dir, "error", strerror(errno)));
            return SA_EIO;
        }
        unlink(path);
        r->body_fd = fd;
        r->body_spooled = true;
        r->body_file_len = r->body.len;
        int rc = write_all(fd, r->body.data ? r->body.data : "", r->body.len);
        sa_buf_free(&r->body);
        if (rc)
            return rc;
    }
    if (write_all(r->body_fd, data, n))
        return SA_EIO;
    r->body_file_len += n;
    return 0;
}

/* Maps a spooled body once it is all in. */
static int body_finish(struct sa_req *r)
{
    if (!r->body_spooled || r->body_file_len == 0)
        return 0;
    void *m = mmap(NULL, r->body_file_len, PROT_READ, MAP_PRIVATE, r->body_fd, 0);
    if (m == MAP_FAILED)
        return SA_EIO;
    r->body_map = m;
    return 0;
}

/* Routing and the checks that do not need the body: the guard's (Host, CORS,
 * credentials), unknown route, bad method, the guard's route checks (scope, content type,
 * rate limit), declared size over the cap. Sets a reply when the request is refused. */
static void route_request(struct sa_req *r)
{
    if (!sa_guard_pre(r))
        return;
    char allow[64];
    enum sa_match m =
        sa_route_match(r->srv->routes, r->srv->n_routes, r->method, r->path, &r->route, r->params,
                       r->param_buf, sizeof r->param_buf, allow, sizeof allow);
    if (m == SA_MATCH_NO_ROUTE) {
        sa_reply_error(r, 404, "not_found", "path", "not_found", "No route for %s %s", r->method,
                       r->path);
        return;
    }
    if (m == SA_MATCH_BAD_METHOD) {
        sa_reply_error(r, 405, "method_not_allowed", "method", "method_not_allowed",
                       "%s is not allowed on %s; allowed: %s", r->method, r->path, allow);
        snprintf(r->allow, sizeof r->allow, "%s", allow);
        return;
    }
    if (!sa_guard_route(r))
        return;
    if (r->route->body == SA_BODY_NONE)
        return;
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > body_cap(r))
        reply_too_large(r);
}

/* ---- the edge: checks before the guard ---------------------------------------------- */

/* RFC 9110's tchar: what a header name may be made of. */
#define TOKEN_CHARS "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

/* What the header pass counts: the headers whose number and form decide how the
 * request is framed (RFC 9112 section 6) and where it goes. */
struct header_scan {
    unsigned host, content_length, transfer_encoding;
    const char *cl_value, *te_value; /* the first of each */
    const char *cr_key;              /* the first header whose value holds a CR */
};

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct header_scan *h = cls;
    if (value && strchr(value, '\r') && !h->cr_key)
        h->cr_key = key;
    if (strcasecmp(key, "Host") == 0) {
        h->host++;
    } else if (strcasecmp(key, "Content-Length") == 0) {
        if (h->content_length++ == 0)
            h->cl_value = value ? value : "";
    } else if (strcasecmp(key, "Transfer-Encoding") == 0) {
        if (h->transfer_encoding++ == 0)
            h->te_value = value ? value : "";
    }
    return MHD_YES;
}

/* 1 to 19 digits, nothing else (no sign, no space, no list): a length we can add to. */
static bool content_length_ok(const char *v)
{
    size_t n = strspn(v, "0123456789");
    return n > 0 && n <= 19 && v[n] == '\0';
}

/* The request's framing: Content-Length and Transfer-Encoding together are how one
 * request hides another (RFC 9112 section 6.1: a server MAY reject it, and MUST close
 * after it), as are two lengths; a coding other than chunked MHD cannot decode, and it
 * would read the body until the connection ends. Sets the refusal and returns false. */
static bool check_framing(struct sa_req *r, const struct header_scan *h)
{
    if (h->content_length && h->transfer_encoding) {
        sa_reply_error(r, 400, "bad_request", "header.transfer-encoding", "ambiguous_framing",
                       "Content-Length and Transfer-Encoding must not be sent together");
        return false;
    }
    if (h->transfer_encoding && strcmp(r->version, "HTTP/1.1") != 0) {
        /* RFC 9112 section 6.1: Transfer-Encoding in HTTP/1.0 is faulty framing */
        sa_reply_error(r, 400, "bad_request", "header.transfer-encoding", "ambiguous_framing",
                       "Transfer-Encoding is not allowed in an %.16s request", r->version);
        return false;
    }
    if (h->content_length > 1) {
        sa_reply_error(r, 400, "bad_request", "header.content-length", "duplicate_header",
                       "Content-Length must be sent once (got %u)", h->content_length);
        return false;
    }
    if (h->content_length && !content_length_ok(h->cl_value)) {
        sa_reply_error(r, 400, "bad_request", "header.content-length", "invalid_header",
                       "Content-Length must be a decimal number of at most 19 digits");
        return false;
    }
    if (h->transfer_encoding &&
        (h->transfer_encoding > 1 || strcasecmp(h->te_value, "chunked") != 0)) {
        sa_reply_error(r, 501, "not_implemented", "header.transfer-encoding",
                       "unsupported_transfer_coding",
                       "Transfer-Encoding %.*s is not supported; only chunked is",
                       sa_utf8_cut(h->te_value, 100),
                       h->transfer_encoding > 1 ? "(several headers)" : h->te_value);
        return false;
    }
    return true;
}

/* The checks every request passes before the guard, on the first call (headers in):
 * path, header size, Host, framing. Sets a refusal (the connection then closes) and
 * returns false. */
static bool edge_check(struct srv_req *q)
{
    struct sa_req *r = &q->r;
    switch (q->path_verdict) {
    case SA_PATH_OK: break;
    case SA_PATH_TOO_LONG:
        sa_reply_error(r, 414, "uri_too_long", "path", "too_long",
                       "The path is %zu bytes long; at most %d are accepted", q->raw_path_len,
                       SA_EDGE_MAX_PATH);
        return false;
    case SA_PATH_NUL:
        sa_reply_error(r, 400, "bad_request", "path", "invalid_path",
                       "The path must not contain %%00");
        return false;
    case SA_PATH_BAD_ESCAPE:
        sa_reply_error(r, 400, "bad_request", "path", "invalid_path",
                       "The path has a %% not followed by two hexadecimal digits");
        return false;
    case SA_PATH_CONTROL:
        sa_reply_error(r, 400, "bad_request", "path", "invalid_path",
                       "The path must not contain control characters");
        return false;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (ci && ci->header_size > MAX_HEADER_BYTES) {
        sa_reply_error(r, 431, "header_fields_too_large", "header", "too_large",
                       "The request's headers are %zu bytes; at most %zu are accepted",
                       ci->header_size, MAX_HEADER_BYTES);
        return false;
    }
    struct header_scan h = {0};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, scan_header, &h);
    if (h.host > 1 || (h.host == 0 && strcmp(r->version, "HTTP/1.1") == 0)) {
        sa_reply_error(r, 400, "bad_request", "header.host",
                       h.host ? "duplicate_header" : "missing",
                       "An HTTP/1.1 request must carry exactly one Host header (got %u)", h.host);
        return false;
    }
    if (h.cr_key) {
        /* RFC 9110 section 5.5: a bare CR in a field value is rejected (or replaced); MHD
         * keeps it, and a proxy that ends the line there sees another header (a second
         * Content-Length) than we do */
        char loc[80] = "header";
        size_t n = strlen(h.cr_key);
        if (n < sizeof loc - 7 && strspn(h.cr_key, TOKEN_CHARS) == n) {
            snprintf(loc, sizeof loc, "header.%s", h.cr_key);
            for (char *c = loc; *c; c++)
                *c = (char)tolower((unsigned char)*c);
        }
        sa_reply_error(r, 400, "bad_request", loc, "invalid_header",
                       "A header value must not contain a carriage return");
        return false;
    }
    return check_framing(r, &h);
}

/* ---- MHD callbacks ------------------------------------------------------------------- */

/* The connection's deadline slot (NULL when it is not tracked). */
static struct sa_edge_conn *edge_slot(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* MHD_OPTION_URI_LOG_CALLBACK: the request line is in. Makes the request's state (MHD
 * hands it back as *req_cls) and decodes the raw path; a refused path is kept raw (cut to
 * the limit) for the log and the problem's instance. Returns NULL when out of memory:
 * the access handler then drops the connection. */
static void *uri_received(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct sa_http_server *srv = cls;
    struct srv_req *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    struct sa_req *r = &q->r;
    r->start_ns = sa_now_ns();
    r->conn = conn;
    r->app = srv->app;
    r->srv = srv;
    snprintf(r->method_buf, sizeof r->method_buf, "-"); /* until the first call says */
    r->method = r->method_buf;
    sa_buf_init(&r->body, srv->app->cfg.max_body);
    /* absolute-form ("GET http://host:8001/api/leads"): RFC 9112 section 3.2.2 says to accept
     * it and to take the host from it, not from the Host header (the guard checks it) */
    size_t scheme = strncasecmp(uri, "http://", 7) == 0    ? 7
                    : strncasecmp(uri, "https://", 8) == 0 ? 8
                                                           : 0;
    if (scheme) {
        size_t alen = strcspn(uri + scheme, "/?#");
        snprintf(r->target_host, sizeof r->target_host, "%.*s",
                 (int)(alen < sizeof r->target_host ? alen : sizeof r->target_host - 1),
                 uri + scheme);
        uri += scheme + alen;
        if (*uri != '/')
            uri = "/"; /* no path (only a query, or nothing): the root */
    }
    q->raw_path_len = strcspn(uri, "?");
    q->path_verdict = sa_edge_decode_path(uri, q->raw_path_len, r->path, sizeof r->path);
    if (q->path_verdict != SA_PATH_OK) {
        size_t n = q->raw_path_len < sizeof r->path ? q->raw_path_len : sizeof r->path - 1;
        memcpy(r->path, uri, n);
        r->path[n] = '\0';
    } else {
        size_t n = strlen(r->path);
        while (n > 1 && r->path[n - 1] == '/')
            r->path[--n] = '\0';
    }
    sa_utf8_sanitize(r->path); /* decoded %XX may be any bytes; logs and bodies need UTF-8 */
    return q;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **req_cls)
{
    struct sa_http_server *srv = cls;
    (void)url; /* MHD's decoding of the path; ours is in r->path (uri_received) */
    struct srv_req *q = *req_cls;
    if (!q)
        return MHD_NO; /* uri_received ran out of memory: drop the connection */
    struct sa_req *r = &q->r;
    if (!r->called) {
        r->called = true;
        snprintf(r->method_buf, sizeof r->method_buf, "%s", method);
        sa_utf8_sanitize(r->method_buf);
        snprintf(r->version, sizeof r->version, "%s", version);
        set_client_addr(r);
        set_request_id(r);
        if (!edge_check(q)) {
            sa_reply_header(r, "Connection", "close");
            return send_reply(r);
        }
        route_request(r);
        /* A declared body over the cap: answer now and let MHD close the connection. */
        if (r->status == 413)
            return send_reply(r);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        /* A body is kept only for routes that read one; others discard it unread. */
        if (!r->status && !r->body_too_large && !r->body_spool_failed && r->route &&
            r->route->body != SA_BODY_NONE) {
            int rc = body_append(r, upload_data, *upload_data_size);
            if (rc == SA_ETOOBIG)
                r->body_too_large = true;
            else if (rc == SA_EIO)
                r->body_spool_failed = true;
            else if (rc)
                return MHD_NO;
        }
        *upload_data_size = 0; /* consumed (or discarded) */
        return MHD_YES;
    }
    /* The request is all in: no deadline while we answer (an event stream may be long). */
    sa_edge_disarm(srv->edge, edge_slot(conn));
    if (r->status)
        return send_reply(r); /* refused while routing */
    if (r->body_too_large) {
        reply_too_large(r);
        return send_reply(r);
    }
    if (r->body_spool_failed || body_finish(r)) {
        sa_reply_error(r, 503, "service_unavailable", "body", "spool_failed",
                       "The body could not be kept in a temporary file (TMPDIR); request "
                       "id %s",
                       r->request_id);
        return send_reply(r);
    }
    r->route->handler(r);
    sa_guard_done(r);
    return send_reply(r);
}

/* A request MHD refused on its own (a malformed header line, headers beyond its memory)
 * after uri_received: it gets the log line and the metrics ours get. */
static void observe_mhd_reply(struct sa_req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_HTTP_STATUS);
    if (!ci || ci->http_status == 0 || ci->http_status > INT_MAX)
        return; /* no response: the client left or the connection failed */
    r->status = (int)ci->http_status;
    observe(r);
    if (sa_log_enabled(SA_LOG_INFO))
        sa_log(SA_LOG_INFO, "request",
               json_pack("{s:s, s:s, s:s, s:i, s:s}", "method", r->method, "path", r->path, "route",
                         "unmatched", "status", r->status, "answered_by", "libmicrohttpd"));
}

/* An event stream ended: it sent its last event, its client left, or the server stopped.
 * Its request is observed now, so http_request_duration_seconds holds how long the stream
 * lasted, not how long its headers took. */
static void stream_ended(struct sa_req *r, enum MHD_RequestTerminationCode toe)
{
    observe(r);
    if (!sa_log_enabled(SA_LOG_INFO))
        return;
    const char *how = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK      ? "completed"
                      : toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT    ? "client_left"
                      : toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN ? "server_stopped"
                      : toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "timeout"
                      : toe == MHD_REQUEST_TERMINATED_READ_ERROR      ? "read_error"
                      : toe == MHD_REQUEST_TERMINATED_WITH_ERROR      ? "error"
                                                                      : "other";
    sa_log(SA_LOG_INFO, "request",
           json_pack("{s:s, s:s, s:s, s:i, s:f, s:s, s:b, s:s}", "method", r->method, "path",
                     r->path, "route", r->route ? r->route->path : "unmatched", "status", r->status,
                     "duration_ms", (double)(sa_now_ns() - r->start_ns) / 1e6, "request_id",
                     r->request_id, "stream", 1, "ended", how));
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                              enum MHD_RequestTerminationCode toe)
{
    struct sa_http_server *srv = cls;
    struct srv_req *q = *req_cls;
    if (q) {
        if (!q->answered)
            observe_mhd_reply(&q->r);
        else if (q->streaming)
            stream_ended(&q->r, toe);
        req_free(&q->r);
    }
    *req_cls = NULL;
    /* Kept alive for another request: its headers have REQUEST_TIMEOUT from now. */
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        sa_edge_rearm(srv->edge, edge_slot(conn));
}

/* MHD_OPTION_NOTIFY_CONNECTION: tracks each connection's socket for the deadline. MHD
 * 0.9.75 reports CLOSED before it closes the socket (see http/edge.c). */
static void connection_event(void *cls, struct MHD_Connection *conn, void **socket_context,
                             enum MHD_ConnectionNotificationCode code)
{
    struct sa_http_server *srv = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? sa_edge_open(srv->edge, ci->connect_fd) : NULL;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        sa_edge_close(srv->edge, *socket_context);
        *socket_context = NULL;
    }
}

/* libmicrohttpd's own messages. It writes one per connection it turns away (the
 * per-address cap), so one address could flood the log: at most MHD_LOG_PER_SECOND lines a
 * second are written, and the next line written says how many were left out. */
#define MHD_LOG_PER_SECOND 10
static pthread_mutex_t mhd_log_lock = PTHREAD_MUTEX_INITIALIZER;
static time_t mhd_log_second;
static int mhd_log_lines;
static long mhd_log_dropped;

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    time_t now = time(NULL);
    pthread_mutex_lock(&mhd_log_lock);
    if (now != mhd_log_second) {
        mhd_log_second = now;
        mhd_log_lines = 0;
    }
    bool write = mhd_log_lines < MHD_LOG_PER_SECOND;
    long dropped = 0;
    if (write) {
        mhd_log_lines++;
        dropped = mhd_log_dropped;
        mhd_log_dropped = 0;
    } else {
        mhd_log_dropped++;
    }
    pthread_mutex_unlock(&mhd_log_lock);
    if (!write)
        return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    sa_log(SA_LOG_WARN, msg,
           json_pack("{s:s, s:I}", "component", "libmicrohttpd", "dropped_before",
                     (json_int_t)dropped));
}

/* ---- parked streams (see server.h) ---------------------------------------------------- */

void sa_http_park_begin(struct sa_stream_waker *w)
{
    pthread_mutex_lock(&w->srv->park_lock);
    w->woken = false;
    pthread_mutex_unlock(&w->srv->park_lock);
}

int sa_http_park(struct sa_stream_waker *w)
{
    struct sa_http_server *srv = w->srv;
    pthread_mutex_lock(&srv->park_lock);
    int rc;
    if (srv->stopping) {
        rc = -1;
    } else if (w->woken) {
        w->woken = false;
        rc = 0;
    } else {
        w->suspended = true;
        w->prev = NULL;
        w->next = srv->parked;
        if (srv->parked)
            srv->parked->prev = w;
        srv->parked = w;
        MHD_suspend_connection(w->conn);
        rc = 1;
    }
    pthread_mutex_unlock(&srv->park_lock);
    return rc;
}

/* Lock held. */
static void unpark(struct sa_http_server *srv, struct sa_stream_waker *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        srv->parked = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->suspended = false;
    MHD_resume_connection(w->conn);
}

bool sa_req_try_hold(struct sa_req *r, int max)
{
    pthread_mutex_lock(&r->srv->park_lock);
    bool ok = max <= 0 || r->srv->holds < max;
    if (ok)
        r->srv->holds++;
    pthread_mutex_unlock(&r->srv->park_lock);
    return ok;
}

void sa_http_release(struct sa_http_server *srv)
{
    pthread_mutex_lock(&srv->park_lock);
    srv->holds--;
    pthread_cond_broadcast(&srv->released);
    pthread_mutex_unlock(&srv->park_lock);
}

void sa_stream_wake(struct sa_stream_waker *w)
{
    struct sa_http_server *srv = w->srv;
    pthread_mutex_lock(&srv->park_lock);
    if (w->suspended)
        unpark(srv, w);
    else
        w->woken = true; /* the reader is running: it asks again instead of suspending */
    pthread_mutex_unlock(&srv->park_lock);
}

/* SA_HTTP_METRICS_ONLY: the rows of sa_routes for GET /health and GET /metrics, copied
 * (handler, scope and all) so that no second description of them can drift. */
static void keep_metrics_routes(struct sa_http_server *srv)
{
    const size_t cap = sizeof srv->metrics_routes / sizeof srv->metrics_routes[0];
    size_t n = 0;
    for (unsigned i = 0; i < sa_routes_count && n < cap; i++) {
        const struct sa_route *rt = &sa_routes[i];
        if (strcmp(rt->method, "GET") == 0 &&
            (strcmp(rt->path, "/health") == 0 || strcmp(rt->path, "/metrics") == 0))
            srv->metrics_routes[n++] = *rt;
    }
    SA_ASSERT(n == cap);
    srv->routes = srv->metrics_routes;
    srv->n_routes = n;
}

int sa_http_start(struct sa_app *app, const char *host, int port, int threads, unsigned opts,
                  struct sa_http_server **out, struct sa_err *err)
{
    *out = NULL;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%d", port);
    int gai = getaddrinfo(host, port_s, &hints, &ai);
    if (gai)
        return sa_err_set(err, SA_ECONFIG, "HOST=%s: %s", host, gai_strerror(gai));
    struct sa_http_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        freeaddrinfo(ai);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    srv->app = app;
    srv->routes = sa_routes;
    srv->n_routes = sa_routes_count;
    if (opts & SA_HTTP_METRICS_ONLY)
        keep_metrics_routes(srv);
    pthread_mutex_init(&srv->park_lock, NULL);
    pthread_cond_init(&srv->released, NULL);
    int erc = sa_edge_new((uint64_t)(app->cfg.request_timeout * 1e9), sa_now_ns, 1, &srv->edge);
    if (erc) {
        freeaddrinfo(ai);
        pthread_cond_destroy(&srv->released);
        pthread_mutex_destroy(&srv->park_lock);
        free(srv);
        return sa_err_set(err, erc, "cannot start the connection watchdog: %s", sa_strerror(erc));
    }
    srv->m_requests = sa_metrics_register(app->metrics, &m_http_requests);
    srv->m_seconds = sa_metrics_register(app->metrics, &m_http_seconds);
    /* ALLOW_SUSPEND_RESUME: a stream with nothing to send parks its connection (server.h) */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                     MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME |
                     (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, access_handler, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        NULL, MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
        MHD_OPTION_NOTIFY_COMPLETED, request_completed, srv, MHD_OPTION_NOTIFY_CONNECTION,
        connection_event, srv, MHD_OPTION_URI_LOG_CALLBACK, uri_received, srv,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)app->cfg.max_connections_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096,
        MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!srv->daemon) {
        sa_edge_free(srv->edge);
        pthread_cond_destroy(&srv->released);
        pthread_mutex_destroy(&srv->park_lock);
        free(srv);
        return sa_err_set(err, SA_EIO, "cannot listen on %s:%d (port in use or not allowed?)", host,
                          port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : port;
    *out = srv;
    return 0;
}

int sa_http_port(const struct sa_http_server *s)
{
    return s->port;
}

void sa_http_routes(const struct sa_http_server *s, const struct sa_route **routes, size_t *n)
{
    *routes = s->routes;
    *n = s->n_routes;
}

void sa_http_stop(struct sa_http_server *s)
{
    if (!s)
        return;
    /* MHD_stop_daemon with a connection still suspended is an API violation (it panics):
     * resume every parked stream, and park none from now on; their readers then end them.
     * A resume libmicrohttpd has not processed yet is processed by the stop itself. */
    pthread_mutex_lock(&s->park_lock);
    s->stopping = true;
    while (s->parked)
        unpark(s, s->parked);
    pthread_mutex_unlock(&s->park_lock);
    MHD_stop_daemon(s->daemon); /* closes every connection: the edge's table is empty */
    /* work a request started goes on to its end (it uses the app, which outlives us) */
    pthread_mutex_lock(&s->park_lock);
    while (s->holds > 0)
        pthread_cond_wait(&s->released, &s->park_lock);
    pthread_mutex_unlock(&s->park_lock);
    sa_edge_free(s->edge);
    pthread_cond_destroy(&s->released);
    pthread_mutex_destroy(&s->park_lock);
    free(s);
}
