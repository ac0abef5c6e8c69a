/* The OpenAPI 3.1 document of the API, derived from the route table (http/routes.c), the
 * schemas of src/http/openapi/components.json (embedded at build time) and the agents'
 * published JSON Schemas; and the page that renders it. Called by routes/docs.c. */
#ifndef SA_HTTP_OPENAPI_H
#define SA_HTTP_OPENAPI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

struct sa_agents;
struct sa_route;

/* Options that change the document: what the running configuration says. */
struct sa_openapi_opts {
    bool metrics_open; /* METRICS_AUTH=open: GET /metrics needs no credentials */
};

/* Builds the document for the n routes (borrowed) and the agents' schemas (agents
 * borrowed). Returns 0 and *out (a new reference, the caller's), or SA_EINVAL with err
 * naming a route whose schema or parameter is not in components.json, or SA_ENOMEM. */
int sa_openapi_build(const struct sa_route *routes, size_t n, struct sa_agents *agents,
                     const struct sa_openapi_opts *opts, json_t **out, struct sa_err *err) SA_WUR;

/* The document of sa_routes as compact JSON: built on the first call (thread-safe) and
 * kept for the life of the process, so later calls cost nothing. *json is borrowed and
 * stays valid until exit. Returns 0, or the error of sa_openapi_build (tried again on
 * the next call). */
int sa_openapi_json(struct sa_agents *agents, const struct sa_openapi_opts *opts, const char **json,
                    size_t *len, struct sa_err *err) SA_WUR;

/* The /docs page (src/http/openapi/docs.html): static bytes, no NUL inside. */
const char *sa_openapi_docs_html(size_t *len);

#endif
