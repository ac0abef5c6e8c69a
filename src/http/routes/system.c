/* GET /, GET /health and GET /metrics. */
#include <stdlib.h>

#include "domain/scoring.h"
#include "app/app.h"
#include "base/buf.h"
#include "http/http.h"
#include "metrics/metrics.h"
#include "store/store.h"

void sa_route_root(struct sa_req *r)
{
    json_t *eps = json_array();
    for (unsigned i = 0; i < sa_routes_count; i++) {
        char line[160];
        snprintf(line, sizeof line, "%s %s", sa_routes[i].method, sa_routes[i].path);
        json_array_append_new(eps, json_string(line));
    }
    sa_reply_json(r, 200,
                  json_pack("{s:s, s:s, s:s, s:o}", "name", "sales-agent", "version", SA_VERSION,
                            "description", "Multi-agent B2B sales platform", "endpoints", eps));
}

void sa_route_health(struct sa_req *r)
{
    struct sa_app *app = r->app;
    char detail[128] = "";
    struct sa_err err = {0};
    uint64_t t0 = sa_now_ns();
    int rc = sa_store_health(app->store, detail, sizeof detail, &err);
    double ms = sa_ns_to_ms(sa_now_ns() - t0);
    json_t *db =
        json_pack("{s:s, s:s, s:f, s:s}", "status", rc ? "fail" : "ok", "backend",
                  app->store->ops->scheme, "latency_ms", ms, "detail", rc ? err.msg : detail);
    json_t *model = json_pack("{s:s, s:s}", "status", "ok", "data_dir", app->cfg.data_dir);
    double uptime = (double)(sa_now_ns() - app->started_ns) / 1e9;
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    json_t *body =
        json_pack("{s:s, s:s, s:f, s:s, s:s, s:{s:o, s:o}}", "status", rc ? "degraded" : "healthy",
                  "version", SA_VERSION, "uptime_s", uptime, "started_at", app->started_at,
                  "timestamp", now, "checks", "database", db, "scoring_model", model);
    sa_reply_json(r, rc ? 503 : 200, body);
}

void sa_route_metrics(struct sa_req *r)
{
    struct sa_buf b;
    sa_buf_init(&b, 16 * 1024 * 1024);
    if (sa_metrics_render(r->app->metrics, &b)) {
        sa_buf_free(&b);
        sa_reply_error(r, 500, "internal_error", "", "internal_error", "could not render metrics");
        return;
    }
    size_t len;
    char *text = sa_buf_steal(&b, &len);
    sa_reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}
