/* Response building for route handlers: JSON and text bodies, problem+json errors in
 * FastAPI's detail shape, streamed bodies, and the one mapping from a service's error code
 * to a status. That mapping is where a backend's error text stops: a 5xx names the kind
 * of failure and the request id, and the text goes to the log only. */
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/detail.h"
#include "base/json.h"
#include "base/log.h"
#include "http/http.h"
#include "http/server.h"

void sa_reply_reset(struct sa_req *r)
{
    json_decref(r->json);
    free(r->text);
    r->json = NULL;
    r->text = NULL;
    r->static_text = NULL;
    r->text_len = 0;
}

void sa_reply_json(struct sa_req *r, int status, json_t *body)
{
    sa_reply_reset(r);
    r->status = status;
    r->json = body;
    r->content_type = "application/json";
}

void sa_reply_text(struct sa_req *r, int status, const char *content_type, char *text, size_t len)
{
    sa_reply_reset(r);
    r->status = status;
    r->text = text;
    r->text_len = len;
    r->content_type = content_type;
}

void sa_reply_static(struct sa_req *r, int status, const char *content_type, const char *data,
                     size_t len)
{
    sa_reply_reset(r);
    r->status = status;
    r->static_text = data;
    r->text_len = len;
    r->content_type = content_type;
}

static const char *status_title(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

void sa_reply_problem(struct sa_req *r, int status, const char *code, json_t *detail)
{
    json_t *body =
        json_pack("{s:s, s:s, s:i, s:s, s:o, s:s, s:s}", "type", "about:blank", "title",
                  status_title(status), "status", status, "code", code, "detail",
                  detail ? detail : json_array(), "instance", r->path, "request_id", r->request_id);
    if (!body) /* out of memory: still answer with the status */
        body = json_pack("{s:i, s:s}", "status", status, "code", code);
    sa_reply_json(r, status, body);
    r->content_type = "application/problem+json";
}

void sa_reply_error(struct sa_req *r, int status, const char *code, const char *loc,
                    const char *type, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *detail = json_array();
    sa_detail_add(detail, loc, type, "%s", msg);
    sa_reply_problem(r, status, code, detail);
}

struct stream_cb {
    long (*read)(void *cls, char *buf, size_t max);
    long (*read_parked)(void *cls, char *buf, size_t max, struct sa_stream_waker *waker);
    void *cls;
    void (*done)(void *cls);
    struct sa_stream_waker waker; /* for read_parked */
};

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct stream_cb *s = cls;
    long n;
    if (!s->read_parked) {
        n = s->read(s->cls, buf, max);
    } else {
        sa_http_park_begin(&s->waker);
        n = s->read_parked(s->cls, buf, max, &s->waker);
        /* suspended (1): nothing to send, MHD asks again after the wake; a wake that came
         * already (0): ask again now; the server stops (-1): end the stream */
        if (n == SA_STREAM_PARKED)
            n = sa_http_park(&s->waker) >= 0 ? 0 : -1;
    }
    return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void stream_done(void *cls)
{
    struct stream_cb *s = cls;
    if (s->done)
        s->done(s->cls);
    free(s);
}

static void reply_stream(struct sa_req *r, const char *content_type, struct stream_cb *s,
                         void (*done)(void *cls), void *cls)
{
    sa_reply_reset(r);
    if (s) {
        s->waker.srv = r->srv;
        s->waker.conn = r->conn;
        r->stream_resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_reader, s,
                                                           stream_done);
    }
    if (!r->stream_resp) {
        free(s);
        if (done)
            done(cls);
        sa_reply_error(r, 500, "internal_error", "", "internal_error", "out of memory");
        return;
    }
    r->status = 200;
    r->content_type = content_type;
}

void sa_reply_stream(struct sa_req *r, const char *content_type,
                     long (*read)(void *cls, char *buf, size_t max), void *cls,
                     void (*done)(void *cls))
{
    struct stream_cb *s = calloc(1, sizeof *s);
    if (s)
        *s = (struct stream_cb){.read = read, .cls = cls, .done = done};
    reply_stream(r, content_type, s, done, cls);
}

void sa_reply_parked_stream(struct sa_req *r, const char *content_type,
                            long (*read)(void *cls, char *buf, size_t max,
                                         struct sa_stream_waker *waker),
                            void *cls, void (*done)(void *cls))
{
    struct stream_cb *s = calloc(1, sizeof *s);
    if (s)
        *s = (struct stream_cb){.read_parked = read, .cls = cls, .done = done};
    reply_stream(r, content_type, s, done, cls);
}

void sa_reply_header(struct sa_req *r, const char *name, const char *fmt, ...)
{
    int i = 0;
    while (i < r->n_headers && strcasecmp(r->headers[i].name, name) != 0)
        i++;
    if (i == SA_MAX_HEADERS)
        return;
    /* Vary lists what the answer depends on: a second one adds to the first (CORS sets
     * Origin, GET / adds Accept) instead of replacing it */
    size_t at = 0;
    if (i < r->n_headers && strcasecmp(name, "Vary") == 0 && r->headers[i].value[0]) {
        at = strlen(r->headers[i].value);
        if (at + 2 < sizeof r->headers[0].value) {
            memcpy(r->headers[i].value + at, ", ", 3);
            at += 2;
        }
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->headers[i].value + at, sizeof r->headers[0].value - at, fmt, ap);
    va_end(ap);
    r->headers[i].name = name;
    if (i == r->n_headers)
        r->n_headers++;
}

const char *sa_req_header(struct sa_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *sa_req_query(struct sa_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

json_t *sa_req_json(struct sa_req *r)
{
    json_t *v;
    long pos;
    struct sa_err err = {0};
    if (sa_json_parse_body(r->body.data, r->body.len, SA_JSON_MAX_DEPTH, &v, &pos, &err)) {
        json_t *detail = json_array();
        char loc[32] = "body";
        if (pos >= 0)
            snprintf(loc, sizeof loc, "body.%ld", pos);
        sa_detail_add(detail, loc, "json_invalid", "%s", err.msg);
        sa_reply_problem(r, 400, "invalid_json", detail);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        sa_reply_error(r, 422, "validation_error", "body", "dict_type",
                       "Request body should be a JSON object");
        return NULL;
    }
    return v;
}

/* The 5xx answers: what failed, in words a client can act on. */
static void reply_5xx(struct sa_req *r, int rc, const struct sa_err *err, const char *what)
{
    sa_log(SA_LOG_ERROR, "request failed",
           json_pack("{s:s, s:s, s:s, s:s}", "what", what, "error_code", sa_errname(rc), "error",
                     err && err->msg[0] ? err->msg : sa_strerror(rc), "request_id", r->request_id));
    switch (rc) {
    case SA_ENOTIMPL:
        sa_reply_error(r, 501, "not_implemented", "", "not_implemented", "%s: not available", what);
        break;
    case SA_ESTORE:
    case SA_EIO:
    case SA_ETIMEDOUT:
        sa_reply_error(r, 503, "service_unavailable", "", "store_error",
                       "%s failed: the database is unavailable. Try again (request %s).", what,
                       r->request_id);
        break;
    default:
        sa_reply_error(r, 500, "internal_error", "", "internal_error", "%s failed: %s (request %s)",
                       what, sa_strerror(rc), r->request_id);
    }
}

void sa_reply_failure(struct sa_req *r, int rc, const struct sa_err *err, const char *loc,
                      const char *what)
{
    const char *msg = err && err->msg[0] ? err->msg : sa_strerror(rc);
    switch (rc) {
    case SA_ENOTFOUND: sa_reply_error(r, 404, "not_found", loc, "not_found", "%s", msg); break;
    case SA_ECONFLICT: sa_reply_error(r, 409, "conflict", loc, "conflict", "%s", msg); break;
    case SA_EPRECONDITION:
        sa_reply_error(r, 412, "precondition_failed", "header.If-Match", "stale", "%s", msg);
        break;
    default: reply_5xx(r, rc, err, what);
    }
}

void sa_reply_unavailable(struct sa_req *r, int rc, const struct sa_err *err, const char *what)
{
    reply_5xx(r, rc ? rc : SA_ESTORE, err, what);
}
