/* The access checks every request passes before its handler, in this order (see
 * docs/security.md): Host (present for HTTP/1.1, and trusted), CORS (preflight answered,
 * headers for allowed origins), credentials (401 under /api/ without a valid key or
 * token), the route's scope (403), its content type (415) and the rate limits (429). And
 * after a state-changing handler succeeded, its audit record. Each check that refuses
 * sets the reply (a problem body) and returns false. Called by the server only. */
#ifndef SA_HTTP_GUARD_H
#define SA_HTTP_GUARD_H

#include <stdbool.h>

#include "http/http.h"

/* Before routing: Host, CORS (an OPTIONS preflight is answered here) and credentials. */
bool sa_guard_pre(struct sa_req *r);
/* After routing (r->route set): scope, content type and the per-principal rate limit. */
bool sa_guard_route(struct sa_req *r);
/* The per-agent hourly limit, for the routes that run agent_type (invoke, stream, runs):
 * false with a 429 set when the principal used it up. */
bool sa_guard_agent(struct sa_req *r, const char *agent_type);
/* After the handler: records the audit entry of a route that has one, when it
 * succeeded (status below 400). */
void sa_guard_done(struct sa_req *r);

#endif
