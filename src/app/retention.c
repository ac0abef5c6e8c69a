/* Retention (see retention.h): one pass over every kind of stored data that grows, and the
 * server's sweep thread that runs it periodically. */
#include "app/retention.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agents/conversation.h"
#include "agents/pipeline.h"
#include "app/app.h"
#include "base/clock.h"
#include "base/log.h"
#include "connectors/mail/transport.h"
#include "graph/graph.h"
#include "graph/saver.h"
#include "store/store.h"

#define THREAD_PAGE 200 /* finished threads asked of the store at a time */

struct counts {
    long long threads, records; /* compacted threads, checkpoints deleted */
};

/* True when the thread's latest state waits for a human: a task with an interrupt. */
static bool waits_for_human(const json_t *snap)
{
    size_t i;
    json_t *t;
    /* nodes still to run: the thread is mid-run (perhaps on another instance, which this
     * process's busy marker cannot see), or stopped before a node for a person */
    if (json_array_size(json_object_get(snap, "next")) > 0)
        return true;
    json_array_foreach(json_object_get(snap, "tasks"), i,
                       t) if (json_array_size(json_object_get(t, "interrupts")) > 0) return true;
    return false;
}

/* Compacts one finished thread to its final state, with whichever graph wrote it (the
 * pipeline, else the conversation graph: a thread decodes only with its own). A thread
 * with one checkpoint is compact already; one that waits for a human is left alone. */
static int compact_thread(struct sa_app *app, const char *thread, bool dry_run, struct counts *c,
                          struct sa_err *err)
{
    char(*ids)[GRAPH_ID_LEN] = NULL;
    int n = 0;
    int rc = graph_saver_list(app->saver, thread, 0, &ids, &n, err);
    free(ids);
    if (rc || n < 2)
        return rc;
    const struct graph *g[2] = {sa_pipeline_graph(app->pipeline),
                                app->conversation ? sa_conversation_graph(app->conversation)
                                                  : NULL};
    rc = SA_ENOTFOUND;
    for (int i = 0; i < 2 && g[i] && (i == 0 || rc == SA_ECONFLICT); i++) {
        json_t *snap = NULL;
        rc = graph_get_state(g[i], thread, NULL, &snap, err);
        bool waiting = rc == 0 && waits_for_human(snap);
        json_decref(snap);
        if (rc || waiting)
            continue;
        if (!dry_run)
            rc = graph_prune_thread(g[i], thread, err);
        if (!rc) {
            c->threads++;
            c->records += n - 1;
        }
        return rc;
    }
    /* another graph's thread, or busy (a run resumed it meanwhile): not ours to compact */
    return rc == SA_ECONFLICT || rc == SA_ENOTFOUND ? 0 : rc;
}

static int compact_checkpoints(struct sa_app *app, double since, double before, bool dry_run,
                               struct counts *c, struct sa_err *err)
{
    char after[256] = "";
    for (;;) {
        json_t *page = NULL;
        int rc = sa_store_threads_finished(app->store, since, before, after[0] ? after : NULL,
                                           THREAD_PAGE, &page, err);
        if (rc)
            return rc;
        size_t i, n = json_array_size(page);
        json_t *t;
        json_array_foreach(page, i, t)
        {
            const char *id = json_string_value(t);
            struct sa_err e = {0};
            if (!id || compact_thread(app, id, dry_run, c, &e) == 0)
                continue;
            /* one thread that cannot be read does not stop the others */
            sa_log(SA_LOG_WARN, "retention: thread not compacted",
                   json_pack("{s:s, s:s}", "thread_id", id, "error", e.msg));
        }
        if (n > 0)
            snprintf(after, sizeof after, "%s", json_string_value(json_array_get(page, n - 1)));
        json_decref(page);
        if (n < THREAD_PAGE)
            return 0;
    }
}

/* True when the saver holds a checkpoint of the thread (one is enough). */
static int has_checkpoints(struct sa_app *app, const char *thread, bool *any, struct sa_err *err)
{
    char(*ids)[GRAPH_ID_LEN] = NULL;
    int n = 0;
    int rc = graph_saver_list(app->saver, thread, 1, &ids, &n, err);
    free(ids);
    *any = rc == 0 && n > 0;
    return rc;
}

/* The Agent Server's thread records (POST /threads) untouched since before whose thread
 * the saver no longer holds a checkpoint: never run, or its checkpoints swept (expired).
 * Compaction keeps a thread's final checkpoint and a thread waiting for a human is held
 * (never expires), so neither loses its record. A record stamped by a run meanwhile
 * stays (the store rechecks updated_at). *n: how many went (or would, dry). */
static int prune_thread_records(struct sa_app *app, double before, bool dry_run, long long *n,
                                struct sa_err *err)
{
    *n = 0;
    char after[256] = "";
    for (;;) {
        json_t *page = NULL;
        int rc = sa_store_as_threads_idle(app->store, before, after[0] ? after : NULL, THREAD_PAGE,
                                          &page, err);
        if (rc)
            return rc;
        size_t i, count = json_array_size(page);
        json_t *t;
        json_array_foreach(page, i, t)
        {
            const char *id = json_string_value(t);
            bool kept = true, gone = false;
            if (id && (rc = has_checkpoints(app, id, &kept, err)) == 0 && !kept)
                rc = dry_run ? 0
                             : sa_store_as_thread_delete_idle(app->store, id, before, &gone, err);
            if (rc) {
                json_decref(page);
                return rc;
            }
            *n += !kept && (dry_run || gone);
        }
        if (count > 0)
            snprintf(after, sizeof after, "%s", json_string_value(json_array_get(page, count - 1)));
        json_decref(page);
        if (count < THREAD_PAGE)
            return 0;
    }
}

static int prune_mail(const struct sa_config *cfg, double before, bool dry_run, long *n,
                      struct sa_err *err)
{
    *n = 0;
    if (cfg->mail_retention <= 0 || !cfg->mail_transport)
        return 0;
    struct sa_transport *t = NULL;
    int rc = sa_transport_open(cfg->mail_transport, &t, err);
    if (rc == SA_ENOTIMPL) /* a transport that is not built keeps nothing of ours */
        return 0;
    if (!rc)
        rc = sa_transport_prune(t, before, dry_run, n, err);
    sa_transport_free(t);
    return rc;
}

int sa_retention_run(struct sa_app *app, double now, double since, bool dry_run, json_t **out,
                     struct sa_err *err)
{
    *out = NULL;
    const struct sa_config *cfg = &app->cfg;
    struct counts c = {0};
    int rc = 0;
    /* checkpoints first: the finished threads are found through the executions */
    if (cfg->checkpoint_retention > 0)
        rc = compact_checkpoints(app, since, now - cfg->checkpoint_retention, dry_run, &c, err);
    int expired = 0;
    if (!rc && !dry_run)
        rc = graph_sweep(sa_pipeline_graph(app->pipeline), &expired, err);
    json_t *store_counts = NULL;
    if (!rc) {
        double keep = cfg->execution_retention;
        if (keep > 0 && cfg->checkpoint_retention > keep)
            keep = cfg->checkpoint_retention;
        /* a conversation's list row goes with its session: SESSION_TTL_SECONDS after its
         * last turn, when GET /api/conversations/{id} answers 404, the next turn starts a
         * new conversation and graph_sweep deletes the thread. Not CHECKPOINT_RETENTION:
         * compaction keeps a thread's final state, its turns with it. */
        double session = cfg->session_ttl > 0 ? cfg->session_ttl : SA_CONVERSATION_SESSION_TTL;
        struct sa_prune_query q = {.executions_before = keep > 0 ? now - keep : 0,
                                   .cache_expired_at = now,
                                   .conversations_before = now - session,
                                   .dry_run = dry_run};
        rc = sa_store_prune(app->store, &q, &store_counts, err);
    }
    /* after the sweep: a record goes once its expired checkpoints did */
    long long records = 0;
    if (!rc && cfg->checkpoint_retention > 0)
        rc = prune_thread_records(app, now - cfg->checkpoint_retention, dry_run, &records, err);
    long mail = 0;
    if (!rc)
        rc = prune_mail(cfg, now - cfg->mail_retention, dry_run, &mail, err);
    if (!rc) {
        *out =
            json_pack("{s:b, s:O, s:O, s:I, s:I, s:i, s:O, s:I, s:I}", "dry_run", dry_run,
                      "executions", json_object_get(store_counts, "executions"), "enrichment_cache",
                      json_object_get(store_counts, "enrichment_cache"), "checkpoint_threads",
                      c.threads, "checkpoints", c.records, "expired_threads", expired,
                      "conversations", json_object_get(store_counts, "conversations"),
                      "thread_records", records, "mail_files", (long long)mail);
        if (!*out)
            rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    json_decref(store_counts);
    return rc;
}

/* ---- the sweep thread ---------------------------------------------------------------- */

/* How often the thread looks at the business clock, in real time: a moved CLOCK_FILE is
 * seen within this, and stopping never waits longer. */
#define POLL_MS 250
/* A full pass (since 0) this often, besides the incremental ones: a thread excluded while
 * it waited for an approval, then finished without new activity in a later window, is
 * found then. */
#define FULL_PASS_SECONDS 86400.0

struct sa_retention {
    struct sa_app *app;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
};

static void sweep_once(struct sa_retention *r, double now, double *since, double *last_full)
{
    bool full = now - *last_full >= FULL_PASS_SECONDS;
    json_t *counts = NULL;
    struct sa_err err = {0};
    if (sa_retention_run(r->app, now, full ? 0 : *since, false, &counts, &err)) {
        sa_log(SA_LOG_ERROR, "retention sweep failed", json_pack("{s:s}", "error", err.msg));
        return;
    }
    if (full)
        *last_full = now;
    if (r->app->cfg.checkpoint_retention > 0)
        *since = now - r->app->cfg.checkpoint_retention;
    bool any = false;
    const char *k;
    json_t *v;
    json_object_foreach(counts, k, v) any |= json_integer_value(v) > 0;
    if (any || sa_log_enabled(SA_LOG_DEBUG))
        sa_log(any ? SA_LOG_INFO : SA_LOG_DEBUG, "retention sweep", counts);
    else
        json_decref(counts);
}

static void *sweep_main(void *arg)
{
    struct sa_retention *r = arg;
    double interval = r->app->cfg.retention_sweep;
    double since = 0, last_full = -FULL_PASS_SECONDS;
    double next = sa_wall_seconds() + 1;
    pthread_mutex_lock(&r->lock);
    while (!r->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += POLL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&r->cond, &r->lock, &until);
        double now = sa_wall_seconds();
        if (now < next - interval - 1) /* the clock moved back (CLOCK_FILE): start over */
            next = now;
        if (r->stop || now < next)
            continue;
        pthread_mutex_unlock(&r->lock);
        sweep_once(r, now, &since, &last_full);
        next = now + interval;
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

int sa_retention_start(struct sa_app *app, struct sa_retention **out, struct sa_err *err)
{
    *out = NULL;
    if (app->cfg.retention_sweep <= 0)
        return 0;
    struct sa_retention *r = calloc(1, sizeof *r);
    if (!r)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    r->app = app;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    if (pthread_create(&r->thread, NULL, sweep_main, r) != 0) {
        pthread_mutex_destroy(&r->lock);
        pthread_cond_destroy(&r->cond);
        free(r);
        return sa_err_set(err, SA_EIO, "cannot start the retention sweep thread");
    }
    *out = r;
    return 0;
}

void sa_retention_stop(struct sa_retention *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    free(r);
}
