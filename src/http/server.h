/* The HTTP server: libmicrohttpd with an epoll thread pool, serving the route table
 * (http/routes.c) for one application. Started and stopped by cli/cmd_serve.c. */
#ifndef SA_HTTP_SERVER_H
#define SA_HTTP_SERVER_H

#include "base/err.h"

struct sa_app;
struct sa_http_server;

/* Binds host:port (host is an IPv4/IPv6 literal or a name; port 0 picks a free one) and
 * starts serving with threads worker threads. Returns 0 and *out, or SA_EIO with err
 * saying why (port in use, bad host). app is borrowed and MUST outlive the server. */
int sa_http_start(struct sa_app *app, const char *host, int port, int threads,
                  struct sa_http_server **out, struct sa_err *err) SA_WUR;
/* The port actually bound. */
int sa_http_port(const struct sa_http_server *s);
/* Stops accepting, finishes in-flight requests, frees the server. */
void sa_http_stop(struct sa_http_server *s);

#endif
