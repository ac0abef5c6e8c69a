/* The HTTP plumbing the fake vendor servers share (fake_llm, fake_apollo, fake_hubspot,
 * fake_salesforce): a libmicrohttpd daemon on 127.0.0.1 (a free port), one thread per
 * connection so a hanging or slowly streamed answer holds only its own connection, the
 * request body collected up to a cap, a record of every request's path and of the
 * malformed ones, scripted faults by path prefix, and the helpers that answer. What a
 * request must look like, and what the answer says, stays in each fake: this file knows
 * no vendor. */
#ifndef SA_TESTS_FAKE_HTTP_H
#define SA_TESTS_FAKE_HTTP_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

/* A request whose body has arrived whole (or passed the cap). */
struct fake_http_request {
    const char *method, *url;
    const char *body; /* NUL-terminated, "" when none; only the first body_max bytes */
    size_t len;       /* bytes in body */
    bool too_big;     /* the body passed body_max (what came after the cap is dropped) */
};

/* Answers one request; called on the connection's thread, once per request. Returns
 * what libmicrohttpd's access handler returns: MHD_NO closes the connection. */
typedef enum MHD_Result (*fake_http_handler)(void *cls, struct MHD_Connection *conn,
                                             const struct fake_http_request *req);

struct fake_http;

/* Starts a server on 127.0.0.1 (a free port) that calls handler(cls, ...) for each request
 * once its body has arrived (the first body_max bytes of it; too_big says when there was
 * more). NULL when it cannot listen. */
struct fake_http *fake_http_start(size_t body_max, fake_http_handler handler, void *cls);
/* Stops it: fake_http_sleep_ms and fake_http_stopping see the stop at once, then the
 * daemon closes every connection and joins its threads; frees h. NULL is fine. */
void fake_http_stop(struct fake_http *h);
int fake_http_port(const struct fake_http *h);
/* "http://127.0.0.1:PORT", owned by h. */
const char *fake_http_url(const struct fake_http *h);
/* Whether fake_http_stop has begun (a streamed answer ends early then). */
bool fake_http_stopping(const struct fake_http *h);
/* Sleeps ms milliseconds, cut short by fake_http_stop. */
void fake_http_sleep_ms(const struct fake_http *h, long ms);

/* Requests received so far (valid or not) whose path starts with prefix (NULL: all). */
size_t fake_http_requests(struct fake_http *h, const char *prefix);

/* The malformed requests: a fake's checks call fake_http_bad with the reason a request
 * breaks the wire format; it counts them and keeps the first reason. Returns false, for a
 * check's `return fake_http_bad(...)`. */
bool fake_http_bad(struct fake_http *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* How many requests were malformed; *first (when non-NULL) gets the first reason (owned by
 * h, valid until fake_http_stop), or "" when none was. */
size_t fake_http_invalid(struct fake_http *h, const char **first);
/* Forgets the malformed requests seen so far (for a test of the checks themselves). */
void fake_http_clear_invalid(struct fake_http *h);

/* Scripted faults: the next `times` requests whose path starts with path get fault `kind`
 * (a value of the fake's own enum) with arg; at most 16 are scripted. */
void fake_http_fault(struct fake_http *h, const char *path, int kind, int times, long arg);
/* Takes one use of the first scripted fault that fits url: true with *kind and *arg set,
 * or false when none fits. */
bool fake_http_take_fault(struct fake_http *h, const char *url, int *kind, long *arg);

/* A response holding a copy of body (NULL: empty) with Content-Type type and the extra
 * "Name: value" headers (NULL-terminated list, or NULL); NULL when out of memory. Add
 * more headers, then pass it to fake_http_queue. */
struct MHD_Response *fake_http_response(const char *type, const char *body,
                                        const char *const *headers);
/* Adds each "Name: value" of headers (NULL-terminated, or NULL) to resp; a line without
 * a colon, or with a name of 128 bytes or more, is skipped. */
void fake_http_add_headers(struct MHD_Response *resp, const char *const *headers);
/* Queues resp (which it releases; NULL gives MHD_NO) with status on conn. */
enum MHD_Result fake_http_queue(struct MHD_Connection *conn, int status, struct MHD_Response *resp);
/* Answers body as compact JSON (it takes the reference; NULL: an empty body) with
 * Content-Type type and the extra headers. */
enum MHD_Result fake_http_json(struct MHD_Connection *conn, int status, const char *type,
                               json_t *body, const char *const *headers);

#endif
