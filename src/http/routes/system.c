/* GET /, GET /health and GET /metrics. */
#include <stdlib.h>

#include "app/app.h"
#include "app/health.h"
#include "base/buf.h"
#include "http/http.h"
#include "metrics/metrics.h"

void sa_route_root(struct sa_req *r)
{
    sa_reply_header(r, "Vary", "Accept"); /* the answer depends on it: caches must know */
    if (sa_console_wanted(r)) {           /* a browser: the web console (http/routes/console.c) */
        sa_route_console(r);
        return;
    }
    json_t *eps = json_array(), *routes = json_array();
    for (unsigned i = 0; i < sa_routes_count; i++) {
        const struct sa_route *rt = &sa_routes[i];
        char line[160];
        snprintf(line, sizeof line, "%s %s", rt->method, rt->path);
        json_array_append_new(eps, json_string(line));
        json_array_append_new(routes, json_pack("{s:s, s:s, s:s, s:s}", "method", rt->method,
                                                "path", rt->path, "summary", rt->summary, "scope",
                                                sa_scope_name(rt->scope)));
    }
    sa_reply_json(r, 200,
                  json_pack("{s:s, s:s, s:s, s:o, s:o}", "name", "sales-agent", "version",
                            SA_VERSION, "description", "Multi-agent B2B sales platform",
                            "endpoints", eps, "routes", routes));
}

void sa_route_health(struct sa_req *r)
{
    bool healthy;
    json_t *body = sa_app_health(r->app, &healthy);
    /* open to load balancers: without a read credential, the status alone (backend names,
     * versions and errors help an attacker more than a prober) */
    if (!sa_scopes_allow(r->principal.scopes, SA_SCOPE_READ)) {
        json_t *brief = json_pack("{s:O}", "status", json_object_get(body, "status"));
        json_decref(body);
        body = brief;
    }
    sa_reply_json(r, healthy ? 200 : 503, body);
}

void sa_route_metrics(struct sa_req *r)
{
    struct sa_buf b;
    sa_buf_init(&b, (size_t)16 << 20);
    sa_app_metrics_refresh(r->app);
    if (sa_metrics_render(r->app->metrics, &b)) {
        sa_buf_free(&b);
        sa_reply_error(r, 500, "internal_error", "", "internal_error", "could not render metrics");
        return;
    }
    size_t len;
    char *text = sa_buf_steal(&b, &len);
    sa_reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}
