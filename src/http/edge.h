/* The HTTP server's edge defences that libmicrohttpd 0.9.75 has no option for: a deadline
 * per connection that trickled bytes do not extend (a watchdog thread shuts overdue
 * sockets), and the strict decoding of a request's raw path. Used by http/server.c only. */
#ifndef SA_HTTP_EDGE_H
#define SA_HTTP_EDGE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct sa_edge;
struct sa_edge_conn;

/* Monotonic nanoseconds; the edge's only source of "now" (sa_now_ns in the server). */
typedef uint64_t (*sa_edge_clock_fn)(void);

/* Makes the connection table and, when watchdog is nonzero, starts the thread that shuts
 * connections whose deadline passed (without it, sa_edge_sweep does that when called).
 * timeout_ns is the time a request's headers and body have to arrive. Returns 0 and *out,
 * SA_ENOMEM, or SA_EIO when the thread cannot start. The caller frees it with
 * sa_edge_free. */
int sa_edge_new(uint64_t timeout_ns, sa_edge_clock_fn now, int watchdog,
                struct sa_edge **out) SA_WUR;
/* Stops the watchdog and frees the table. Every connection MUST be closed before
 * (sa_edge_close): call it after the HTTP daemon stopped. e may be NULL. */
void sa_edge_free(struct sa_edge *e);

/* A connection opened on socket fd: tracked, deadline armed (now + timeout). Returns its
 * slot (owned by e; freed by sa_edge_close), or NULL when out of memory: the connection
 * is then not tracked, and the calls below accept a NULL slot. */
struct sa_edge_conn *sa_edge_open(struct sa_edge *e, int fd);
/* The connection is about to be closed (its socket still open): its slot is freed, and
 * the watchdog MUST NOT touch fd afterwards (the table lock makes that so). When its
 * client sent bytes nobody read, the socket lingers (edge.c: a dup of fd, its writing
 * side shut, read out and closed by the watchdog within 2 s), so that the client sees
 * the answer and a FIN rather than a reset. The caller MUST have removed fd from any
 * epoll set first or do so before closing it (MHD 0.9.75 does). c may be NULL. */
void sa_edge_close(struct sa_edge *e, struct sa_edge_conn *c);
/* The request's body is complete: no deadline while the server answers it (an answer
 * may be a long event stream, parked and suspended for most of its life: a suspended
 * connection stays disarmed, so the sweep never shuts it). */
void sa_edge_disarm(struct sa_edge *e, struct sa_edge_conn *c);
/* The response is complete and the connection stays open for the next request: a new
 * deadline, now + timeout. No effect on a connection the watchdog already shut. */
void sa_edge_rearm(struct sa_edge *e, struct sa_edge_conn *c);
/* Shuts (shutdown(2), both ways) every connection whose deadline passed; the server
 * then sees the socket end and closes it; and reads out lingering sockets. Returns how
 * many it shut. The watchdog calls
 * it; O(shut connections): deadlines are kept in the order they expire. */
unsigned sa_edge_sweep(struct sa_edge *e);
/* Connections shut at their deadline since e was made. */
uint64_t sa_edge_expired_total(struct sa_edge *e);

/* The longest raw path (request target before '?') the server accepts: longer is 414. */
#define SA_EDGE_MAX_PATH 2048

enum sa_path_verdict {
    SA_PATH_OK,
    SA_PATH_TOO_LONG,   /* 414 */
    SA_PATH_NUL,        /* %00: 400 */
    SA_PATH_BAD_ESCAPE, /* %zz, %4, a trailing %: 400 */
    SA_PATH_CONTROL,    /* a control byte (0x01-0x1f, 0x7f), raw or escaped: 400 */
};

/* Decodes the path of a raw request target (the part before '?', len bytes of raw, not
 * NUL-terminated) into out (cap bytes, at least SA_EDGE_MAX_PATH + 1), percent-escapes
 * decoded, NUL-terminated. Nothing is cut: a path that does not fit, a NUL, a malformed
 * escape or a control byte is refused with its verdict (out is then ""). The decoded
 * bytes may be any others (not necessarily UTF-8). */
enum sa_path_verdict sa_edge_decode_path(const char *raw, size_t len, char *out, size_t cap);

#endif
