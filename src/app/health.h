/* The health service: each backend's check, for GET /health and the operator. A check is
 * a real round trip, a committed write where the backend takes writes, so /health says
 * "degraded" when writes fail (a full disk, a lock held elsewhere) and not only when the
 * process is gone. */
#ifndef SA_APP_HEALTH_H
#define SA_APP_HEALTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

struct sa_app;

/* One backend's probe, a row of health.c's table (a new backend, e.g. Redis, adds one
 * row). check proves the backend works now (a write or a round trip), writing the
 * backend's kind ("sqlite") to backend and a short status text to detail (each cap
 * bytes); it returns 0, SA_ENOTFOUND when the app has no such backend (the probe is left
 * out), or another SA_* code when the backend fails. */
struct sa_health_probe {
    const char *name; /* the key in the body: "database", "redis" */
    int (*check)(struct sa_app *app, char *backend, char *detail, size_t cap, struct sa_err *err);
};

/* Runs every probe (or answers the result of the last run when it is younger than
 * SA_HEALTH_CACHE_MS) and returns {status: "healthy"|"degraded", version, uptime_s,
 * started_at, timestamp, checks: {database: {status, backend, latency_ms, detail},
 * scoring_model: {...}}, backends: {NAME: {status: "ok"|"fail", backend, latency_ms,
 * detail}}, failing: [NAME...] (only when degraded)} (new reference); *healthy is false
 * when a probe failed. A failing probe's detail names the kind of failure, never the
 * backend's own text (that goes to the log). Thread-safe: one caller at a time runs the
 * probes; the others answer the previous result meanwhile (or wait for the first one). */
json_t *sa_app_health(struct sa_app *app, bool *healthy);

/* How long one run of the probes answers /health. A load balancer or a benchmark may ask
 * thousands of times a second; each run is a committed write through the one writer, so
 * without this /health would compete with the real writes (and grow the WAL) in
 * proportion to how often it is asked. One second keeps a failure visible within a
 * second and costs at most one probe write per second per instance. */
#define SA_HEALTH_CACHE_MS 1000

/* Sets the gauges read from the store at scrape time (run_queue_depth, outbox_items; the
 * Grafana dashboard, issue 16): called by GET /metrics before it renders. A store error
 * keeps the last values (and is logged). */
void sa_app_metrics_refresh(struct sa_app *app);

#endif
