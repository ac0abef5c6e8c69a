/* The HTTP server: libmicrohttpd with an epoll thread pool, serving the route table
 * (http/routes.c) for one application. Started and stopped by cli/cmd_serve.c, and by
 * cli/cmd_worker.c for its metrics listener (the same server on two routes). */
#ifndef SA_HTTP_SERVER_H
#define SA_HTTP_SERVER_H

#include <stdbool.h>

#include "base/err.h"

#include <stddef.h>

struct sa_app;
struct sa_http_server;
struct sa_route;
struct MHD_Connection;

/* sa_http_start's options. */
enum {
    /* Only GET (and HEAD) /health and /metrics: every other path is 404, OPTIONS included.
     * `sales-agent worker`'s listener (WORKER_METRICS_PORT). The guard, the limits, the
     * log and the metrics are those of the whole table. */
    SA_HTTP_METRICS_ONLY = 1u << 0,
};

/* Binds host:port (host is an IPv4/IPv6 literal or a name; port 0 picks a free one) and
 * starts serving with threads worker threads: the whole route table (sa_routes), or the
 * part opts (SA_HTTP_* bits, 0 for none) leave. Returns 0 and *out, or SA_EIO with err
 * saying why (port in use, bad host). app is borrowed and MUST outlive the server. */
int sa_http_start(struct sa_app *app, const char *host, int port, int threads, unsigned opts,
                  struct sa_http_server **out, struct sa_err *err) SA_WUR;
/* The port actually bound. */
int sa_http_port(const struct sa_http_server *s);
/* The routes s answers (all of sa_routes, or the part its options leave), for the guard's
 * OPTIONS answer: *routes stays valid while s runs. */
void sa_http_routes(const struct sa_http_server *s, const struct sa_route **routes, size_t *n);
/* Stops accepting, ends every parked stream (they are resumed first, as libmicrohttpd
 * requires), finishes in-flight requests, frees the server. */
void sa_http_stop(struct sa_http_server *s);

/* ---- parked streams: for http/reply.c only ----
 *
 * A streamed response whose reader has nothing to send suspends its connection
 * (MHD_suspend_connection, allowed from a content reader callback) instead of holding a
 * pool thread, and sa_stream_wake (http.h) resumes it. The wake may come from another
 * thread at any moment, also between the reader's "nothing yet" and the suspend: the
 * server's park lock orders the two, and a wake that comes first is kept in `woken`, so
 * the reader asks again at once instead of suspending. */
struct sa_stream_waker {
    struct sa_http_server *srv;
    struct MHD_Connection *conn;
    /* guarded by the server's park lock */
    bool suspended, woken;
    struct sa_stream_waker *prev, *next; /* in the server's list while suspended */
};

/* The reader is about to ask for data: a wake before this point is not needed. */
void sa_http_park_begin(struct sa_stream_waker *w);
/* The reader found nothing and arranged a wake. Returns 1 when the connection is now
 * suspended (the reader MUST then return 0 at once), 0 when a wake already came (ask
 * again), or -1 when the server is stopping (end the stream). Called only from the
 * content reader callback of w's connection. */
int sa_http_park(struct sa_stream_waker *w);

#endif
