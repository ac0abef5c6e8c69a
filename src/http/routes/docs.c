/* GET /openapi.json and GET /docs: the API document (http/openapi.c), built once and served
 * from memory, and the page that renders it (no network: the page fetches /openapi.json
 * from this server and nothing else). */
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "http/http.h"
#include "http/openapi.h"

/* A malloc'd copy of len bytes (sa_reply_text takes ownership of its text), or NULL. */
static char *copy(const char *s, size_t len)
{
    char *c = malloc(len + 1);
    if (c) {
        memcpy(c, s, len);
        c[len] = '\0';
    }
    return c;
}

void sa_route_openapi(struct sa_req *r)
{
    struct sa_openapi_opts opts = {.metrics_open = r->app->cfg.metrics_access == SA_METRICS_OPEN};
    const char *json;
    size_t len;
    struct sa_err err = {0};
    int rc = sa_openapi_json(r->app->agents, &opts, &json, &len, &err);
    char *body = rc ? NULL : copy(json, len);
    if (!body) {
        sa_reply_unavailable(r, rc ? rc : SA_ENOMEM, &err, "Building the API document");
        return;
    }
    sa_reply_text(r, 200, "application/json", body, len);
}

void sa_route_docs(struct sa_req *r)
{
    size_t len;
    const char *html = sa_openapi_docs_html(&len);
    char *body = copy(html, len);
    if (!body) {
        sa_reply_error(r, 500, "internal_error", "", "internal_error", "out of memory");
        return;
    }
    /* the page loads nothing from elsewhere: its one script and style are inline */
    sa_reply_header(r, "Content-Security-Policy",
                    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                    "connect-src 'self'; base-uri 'none'; form-action 'none'; "
                    "frame-ancestors 'none'");
    sa_reply_text(r, 200, "text/html; charset=utf-8", body, len);
}
