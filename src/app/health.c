/* The health service (see health.h): the probes of every backend the app has, run at
 * most once per SA_HEALTH_CACHE_MS. */
#include "app/health.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app/app.h"
#include "app/imap_poller.h"
#include "base/clock.h"
#include "base/log.h"
#include "metrics/metrics.h"
#include "connectors/enrichment/provider.h"
#include "connectors/crm/crm.h"
#include "connectors/http.h"
#include "connectors/mail/transport.h"
#include "store/redis/redis.h"
#include "store/store.h"

/* The store: a committed upsert of this host's row in the store's probe table, then the
 * read that says the schema version. */
static int probe_store(struct sa_app *app, char *backend, char *detail, size_t cap,
                       struct sa_err *err)
{
    snprintf(backend, cap, "%s", sa_store_scheme(app->store));
    char who[128] = "host:";
    if (gethostname(who + 5, sizeof who - 5) != 0)
        snprintf(who, sizeof who, "host:unknown");
    who[sizeof who - 1] = '\0';
    int rc = sa_store_write_probe(app->store, who, sa_wall_seconds(), err);
    if (!rc)
        rc = sa_store_health(app->store, detail, cap, err);
    return rc;
}

/* Redis (REDIS_URL): a PING round trip on the app's pool; SA_ENOTFOUND (no entry) without
 * REDIS_URL. */
static int probe_redis(struct sa_app *app, char *backend, char *detail, size_t cap,
                       struct sa_err *err)
{
    snprintf(backend, cap, "redis");
    if (!app->redis)
        return SA_ENOTFOUND;
    double ms;
    int rc = sa_redis_ping(app->redis, &ms, err);
    if (!rc)
        snprintf(detail, cap, "PONG");
    return rc;
}

/* The enrichment providers' connection breakers ("apollo: closed"): SA_ENOTFOUND when no
 * provider calls out. An open breaker is reported, not failed: enrichment degrades to the
 * providers left, and a load balancer should not take the instance out for it. */
static int probe_enrichment(struct sa_app *app, char *backend, char *detail, size_t cap,
                            struct sa_err *err)
{
    (void)err;
    snprintf(backend, cap, "providers");
    size_t len = 0;
    for (int i = 0; i < app->n_enrich; i++) {
        const char *state = sa_enrich_provider_breaker(app->enrich[i]);
        if (state && len < cap)
            len += (size_t)snprintf(detail + len, cap - len, "%s%s: %s", len ? ", " : "",
                                    sa_enrich_provider_name(app->enrich[i]), state);
    }
    return len ? 0 : SA_ENOTFOUND;
}

/* The CRM (CRM_PROVIDER, issue 15): its circuit breaker's state, with no call to the vendor
 * (a health check must not spend the CRM's API quota). An open breaker is reported, not
 * failed: the pushes wait in the outbox, the service itself is up. SA_ENOTFOUND (no entry)
 * without a CRM. */
static int probe_crm(struct sa_app *app, char *backend, char *detail, size_t cap,
                     struct sa_err *err)
{
    (void)err;
    if (!app->crm)
        return SA_ENOTFOUND;
    snprintf(backend, cap, "%s", sa_crm_name(app->crm));
    snprintf(detail, cap, "breaker %s%s", sa_conn_http_breaker(app->crm->http),
             app->crm->dry_run ? ", dry run" : "");
    return 0;
}

/* The delivery worker's mail transport when it has a circuit breaker (SMTP): its state,
 * with no call to the server. Reported, not failed, like the CRM's: the mail waits in the
 * outbox. SA_ENOTFOUND (no entry) for Maildir or without a worker in this process. */
static int probe_mail(struct sa_app *app, char *backend, char *detail, size_t cap,
                      struct sa_err *err)
{
    (void)err;
    struct sa_transport *t = app->mail_transport;
    const char *state = t ? sa_transport_breaker(t) : NULL;
    if (!state)
        return SA_ENOTFOUND;
    snprintf(backend, cap, "smtp");
    snprintf(detail, cap, "breaker %s%s", state,
             strcmp(sa_transport_name(t), "dkim") == 0 ? ", DKIM signing" : "");
    return 0;
}

/* The IMAP poller's state (IMAP_URL), from its last poll, with no call to the server.
 * Reported, not failed, like the mail transport's: replies wait in the mailbox.
 * SA_ENOTFOUND (no entry) without a poller in this process. */
static int probe_imap(struct sa_app *app, char *backend, char *detail, size_t cap,
                      struct sa_err *err)
{
    (void)err;
    if (!app->imap)
        return SA_ENOTFOUND;
    snprintf(backend, cap, "imap");
    sa_imap_poller_status(app->imap, detail, cap);
    return 0;
}

/* Every backend's probe; a new backend adds one row. */
static const struct sa_health_probe probes[] = {
    {"database", probe_store},
    {"redis", probe_redis},
    {"enrichment", probe_enrichment}, /* issue 15: the HTTP providers' breakers */
    {"crm", probe_crm},               /* CRM sync (issue 15) */
    {"mail", probe_mail},             /* the SMTP transport's breaker (issue 15) */
    {"imap", probe_imap},             /* the IMAP poller's last polls */
};
#define N_PROBES (sizeof probes / sizeof probes[0])

/* The last run of the probes. One app per process serves /health; the owner check keeps
 * another app (a test opening two) from reading this one's results. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t done; /* a run finished */
    const struct sa_app *owner;
    uint64_t at_ns; /* sa_now_ns of the run */
    json_t *backends;
    bool healthy;
    bool running; /* a caller is running the probes */
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

/* Runs every probe: {NAME: {status, backend, latency_ms, detail}}; *healthy says none
 * failed. */
static json_t *run_probes(struct sa_app *app, bool *healthy)
{
    json_t *out = json_object();
    *healthy = true;
    for (size_t i = 0; i < N_PROBES; i++) {
        char backend[64] = "", detail[128] = "";
        struct sa_err err = {0};
        uint64_t t0 = sa_now_ns();
        int rc = probes[i].check(app, backend, detail, sizeof detail, &err);
        double ms = sa_ns_to_ms(sa_now_ns() - t0);
        if (rc == SA_ENOTFOUND)
            continue;
        if (rc) {
            *healthy = false;
            sa_log(SA_LOG_ERROR, "health check failed",
                   json_pack("{s:s, s:s}", "check", probes[i].name, "error", err.msg));
        }
        json_object_set_new(out, probes[i].name,
                            json_pack("{s:s, s:s, s:f, s:s}", "status", rc ? "fail" : "ok",
                                      "backend", backend, "latency_ms", ms, "detail",
                                      rc ? sa_strerror(rc) : detail));
    }
    return out;
}

/* The probes' results (new reference), from the cache while it is fresh. When it is
 * stale one caller runs the probes, outside the lock; the others answer the previous
 * result meanwhile (a second old at most, so /health never queues behind a slow write),
 * or wait for the run when there is none yet. */
static json_t *backends_now(struct sa_app *app, bool *healthy)
{
    pthread_mutex_lock(&cache.lock);
    for (;;) {
        bool mine = cache.owner == app && cache.backends;
        bool fresh = mine && sa_now_ns() - cache.at_ns < (uint64_t)SA_HEALTH_CACHE_MS * 1000000u;
        if (fresh || (mine && cache.running))
            break;
        if (cache.running) { /* another app's run, or the first one: wait for it */
            pthread_cond_wait(&cache.done, &cache.lock);
            continue;
        }
        cache.running = true;
        pthread_mutex_unlock(&cache.lock);
        bool ok;
        json_t *b = run_probes(app, &ok);
        pthread_mutex_lock(&cache.lock);
        json_decref(cache.backends);
        cache.backends = b;
        cache.healthy = ok;
        cache.owner = app;
        cache.at_ns = sa_now_ns();
        cache.running = false;
        pthread_cond_broadcast(&cache.done);
        break;
    }
    json_t *b = json_deep_copy(cache.backends);
    *healthy = cache.healthy;
    pthread_mutex_unlock(&cache.lock);
    return b;
}

json_t *sa_app_health(struct sa_app *app, bool *healthy)
{
    json_t *backends = backends_now(app, healthy);
    json_t *failing = json_array();
    const char *name;
    json_t *b;
    json_object_foreach(backends, name, b)
    {
        if (strcmp(json_string_value(json_object_get(b, "status")) ?: "", "ok") != 0)
            json_array_append_new(failing, json_string(name));
    }
    json_t *model = json_pack("{s:s, s:s}", "status", "ok", "data_dir", app->cfg.data_dir);
    double uptime = (double)(sa_now_ns() - app->started_ns) / 1e9;
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    json_t *body = json_pack("{s:s, s:s, s:f, s:s, s:s, s:{s:O*, s:o}, s:o}", "status",
                             *healthy ? "healthy" : "degraded", "version", SA_VERSION, "uptime_s",
                             uptime, "started_at", app->started_at, "timestamp", now, "checks",
                             "database", json_object_get(backends, "database"), "scoring_model",
                             model, "backends", backends);
    if (body && !*healthy)
        json_object_set_new(body, "failing", failing);
    else
        json_decref(failing);
    return body;
}

/* The dashboard's gauges (issue 16): the outbox's items by channel and status, from two
 * counts (all items, and the CRM's "crm_" kinds; mail is the rest), and the runs queued
 * or running (two counts). Every status is set, at zero when absent, so a status that
 * empties reads 0 rather than its last value. A store error keeps the last values
 * (logged). */
static const char *const outbox_statuses[] = {"queued", "sending", "sent", "failed", "cancelled"};

static double status_count(const json_t *rows, const char *status)
{
    size_t i;
    const json_t *r;
    json_array_foreach(rows, i, r)
    {
        const char *st = json_string_value(json_object_get(r, "status"));
        if (st && strcmp(st, status) == 0)
            return json_number_value(json_object_get(r, "n"));
    }
    return 0;
}

void sa_app_metrics_refresh(struct sa_app *app)
{
    struct sa_err err = {0};
    json_t *all = NULL, *crm = NULL, *runs = NULL;
    int rc = sa_store_outbox_kind_counts(app->store, "", &all, &err);
    if (!rc)
        rc = sa_store_outbox_kind_counts(app->store, "crm_", &crm, &err);
    if (!rc) {
        for (size_t i = 0; i < sizeof outbox_statuses / sizeof outbox_statuses[0]; i++) {
            double n_crm = status_count(crm, outbox_statuses[i]);
            double n_mail = status_count(all, outbox_statuses[i]) - n_crm;
            const char *v_mail[] = {"mail", outbox_statuses[i]};
            const char *v_crm[] = {"crm", outbox_statuses[i]};
            sa_metrics_set(app->metrics, app->m_outbox, v_mail, n_mail);
            sa_metrics_set(app->metrics, app->m_outbox, v_crm, n_crm);
        }
    }
    /* the list's totals: two counts, not the unfinished runs' inputs */
    double unfinished = 0;
    static const char *const open_statuses[] = {"queued", "running"};
    for (size_t i = 0; !rc && i < 2; i++) {
        rc = sa_store_runs_list(app->store, open_statuses[i], 1, 0, &runs, &err);
        unfinished += rc ? 0 : json_number_value(json_object_get(runs, "total"));
        json_decref(runs);
        runs = NULL;
    }
    if (!rc)
        sa_metrics_set(app->metrics, app->m_run_queue, NULL, unfinished);
    if (rc)
        sa_log(SA_LOG_WARN, "metrics: could not read the store's counts",
               json_pack("{s:s}", "error", err.msg));
    json_decref(all);
    json_decref(crm);
    json_decref(runs);
}
