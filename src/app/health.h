/* The health service: each backend's check, for GET /health and the operator. */
#ifndef SA_APP_HEALTH_H
#define SA_APP_HEALTH_H

#include <jansson.h>
#include <stdbool.h>

struct sa_app;

/* Runs every check and returns {status: "healthy"|"degraded", version, uptime_s,
 * started_at, timestamp, checks: {database: {status, backend, latency_ms, detail},
 * scoring_model: {...}}} (new reference); *healthy is false when a check failed. A
 * failing check's detail names the kind of failure, never the backend's own text. */
json_t *sa_app_health(struct sa_app *app, bool *healthy);

#endif
