/* The health service (see health.h). */
#include "app/health.h"

#include "app/app.h"
#include "base/clock.h"
#include "base/log.h"
#include "store/store.h"

json_t *sa_app_health(struct sa_app *app, bool *healthy)
{
    char detail[128] = "";
    struct sa_err err = {0};
    uint64_t t0 = sa_now_ns();
    int rc = sa_store_health(app->store, detail, sizeof detail, &err);
    double ms = sa_ns_to_ms(sa_now_ns() - t0);
    if (rc)
        sa_log(SA_LOG_ERROR, "health check failed",
               json_pack("{s:s, s:s}", "check", "database", "error", err.msg));
    json_t *db = json_pack("{s:s, s:s, s:f, s:s}", "status", rc ? "fail" : "ok", "backend",
                           sa_store_scheme(app->store), "latency_ms", ms, "detail",
                           rc ? sa_strerror(rc) : detail);
    json_t *model = json_pack("{s:s, s:s}", "status", "ok", "data_dir", app->cfg.data_dir);
    double uptime = (double)(sa_now_ns() - app->started_ns) / 1e9;
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    *healthy = rc == 0;
    return json_pack("{s:s, s:s, s:f, s:s, s:s, s:{s:o, s:o}}", "status",
                     rc ? "degraded" : "healthy", "version", SA_VERSION, "uptime_s", uptime,
                     "started_at", app->started_at, "timestamp", now, "checks", "database", db,
                     "scoring_model", model);
}
