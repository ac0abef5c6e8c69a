/* Background pipeline runs (see runs.h).
 *
 * Each run has an event log: the SSE text of its graph events, appended by the worker and
 * read by any number of stream clients, each from its own offset, under the log's mutex;
 * a condition variable wakes readers. Logs are reference-counted: the run table holds one
 * reference, each open stream another, so a client can finish reading after the run is
 * done and forgotten. The run table keeps the last RUNS_KEPT runs. */
#include "app/runs.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domain/lead.h"
#include "app/app.h"
#include "app/invoke.h"
#include "base/buf.h"
#include "base/detail.h"
#include "base/json.h"
#include "base/log.h"
#include "store/store.h"

#define RUNS_KEPT 1024

struct event_log {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct sa_buf text;
    bool done;
    int refs;
};

struct run_job {
    char id[40], lead_id[40], thread_id[SA_THREAD_ID_MAX + 1];
    json_t *input; /* the lead */
    bool resume;   /* found unfinished at start-up: continue its thread */
    volatile int cancel;
    bool finished;
    struct event_log *log;
    struct run_job *next_queued;
};

/* A finished run whose final status the store would not take. Kept until a retry writes
 * it (the workers retry every second), so GET /api/runs/{id} answers with the status the
 * run reached instead of the stored "running", also after the run left the table of
 * recent runs. Pushed at the head under the runs' lock; removed only by the one retrier. */
struct unrecorded {
    char id[40];
    char status[24];
    char *output, *error; /* owned; may be NULL */
    bool written;         /* set by the retrier, outside the lock, read by it under it */
    struct unrecorded *next;
};

struct sa_runs {
    struct sa_app *app;
    struct unrecorded *unrecorded;
    bool retrying; /* a worker is writing the unrecorded statuses */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct run_job *jobs[RUNS_KEPT]; /* ring of known runs */
    size_t njobs;                    /* total ever added; slot = n % RUNS_KEPT */
    struct run_job *head, *tail;     /* queue */
    bool stop;
    pthread_t *threads;
    int nthreads;
};

struct sa_run_stream {
    struct event_log *log;
    size_t off;
};

static void log_release(struct event_log *l)
{
    pthread_mutex_lock(&l->lock);
    bool last = --l->refs == 0;
    pthread_mutex_unlock(&l->lock);
    if (!last)
        return;
    sa_buf_free(&l->text);
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->cond);
    free(l);
}

static void log_append(struct event_log *l, const char *event, const json_t *data)
{
    char *text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
    pthread_mutex_lock(&l->lock);
    if (sa_buf_printf(&l->text, "event: %s\ndata: %s\n\n", event, text ? text : "null") != 0)
        sa_log(SA_LOG_WARN, "run event log full", NULL);
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
    free(text);
}

static void log_finish(struct event_log *l)
{
    pthread_mutex_lock(&l->lock);
    l->done = true;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
}

static void on_event(enum graph_stream_mode mode, const json_t *data, void *arg)
{
    struct event_log *l = arg;
    const char *name = mode == GRAPH_STREAM_UPDATES  ? "updates"
                       : mode == GRAPH_STREAM_CUSTOM ? "custom"
                                                     : "values";
    json_t *d = json_deep_copy(data);
    if (mode == GRAPH_STREAM_VALUES)
        json_object_del(d, "lead_data");
    log_append(l, name, d);
    json_decref(d);
}

static void job_free(struct run_job *j)
{
    json_decref(j->input);
    log_release(j->log);
    free(j);
}

/* Writes a finished run's status, retrying a failed write (20 ms, 100 ms, 500 ms): a run
 * whose status stays "running" in the store looks alive forever. Returns 0, or the
 * error of the last attempt after logging it (the caller keeps the status for later). */
static int record_status(struct sa_store *store, const char *id, const char *status,
                         const char *output, const char *error)
{
    static const long backoff_ms[] = {20, 100, 500};
    struct sa_err err = {0};
    int rc = 0;
    for (size_t attempt = 0;; attempt++) {
        if (!(rc = sa_store_run_update(store, id, status, output, error, &err)) ||
            attempt == sizeof backoff_ms / sizeof backoff_ms[0])
            break;
        struct timespec ts = {0, backoff_ms[attempt] * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (rc)
        sa_log(SA_LOG_ERROR, "run status not recorded",
               json_pack("{s:s, s:s, s:s}", "run_id", id, "status", status, "error", err.msg));
    return rc;
}

static const char *client_error(int rc, const struct sa_err *err, const char *run_id, char *buf,
                                size_t cap)
{
    switch (rc) {
    case SA_ESTORE:
    case SA_EIO:
    case SA_ETIMEDOUT:
    case SA_ENOMEM:
    case SA_EINTERNAL:
        sa_log(SA_LOG_ERROR, "run failed",
               json_pack("{s:s, s:s, s:s}", "run_id", run_id, "error_code", sa_errname(rc),
                         "error", err->msg));
        snprintf(buf, cap, "%s (the server log has the details under run_id %s)",
                 sa_strerror(rc), run_id);
        return buf;
    default: return err->msg; /* the graph's and the agents' own words: no backend text */
    }
}

/* Keeps a status the store would not take (see struct unrecorded). Caller holds r->lock. */
static void keep_unrecorded(struct sa_runs *r, const char *id, const char *status,
                            const char *output, const char *error)
{
    struct unrecorded *u = calloc(1, sizeof *u);
    if (!u)
        return; /* the run stays "running" in the store and is resumed at the next start */
    snprintf(u->id, sizeof u->id, "%s", id);
    snprintf(u->status, sizeof u->status, "%s", status);
    u->output = output ? strdup(output) : NULL;
    u->error = error ? strdup(error) : NULL;
    u->next = r->unrecorded;
    r->unrecorded = u;
}

static void unrecorded_free(struct unrecorded *u)
{
    free(u->output);
    free(u->error);
    free(u);
}

/* Tries to write the kept statuses once more; drops the ones written. One worker at a
 * time; the writes run outside the lock (entries are never freed by anyone else, and
 * new ones go in at the head, so the chain from the snapshot stays valid). */
static void retry_unrecorded(struct sa_runs *r)
{
    pthread_mutex_lock(&r->lock);
    struct unrecorded *list = r->retrying ? NULL : r->unrecorded;
    r->retrying = list != NULL;
    pthread_mutex_unlock(&r->lock);
    if (!list)
        return;
    for (struct unrecorded *u = list; u; u = u->next) {
        struct sa_err err = {0};
        u->written = sa_store_run_update(r->app->store, u->id, u->status, u->output, u->error,
                                         &err) == 0;
    }
    pthread_mutex_lock(&r->lock);
    for (struct unrecorded **pp = &r->unrecorded; *pp;) {
        struct unrecorded *u = *pp;
        if (u->written) {
            sa_log(SA_LOG_INFO, "run status recorded late",
                   json_pack("{s:s, s:s}", "run_id", u->id, "status", u->status));
            *pp = u->next;
            unrecorded_free(u);
        } else {
            pp = &u->next;
        }
    }
    r->retrying = false;
    pthread_mutex_unlock(&r->lock);
}

static void execute(struct sa_runs *r, struct run_job *j)
{
    struct sa_app *app = r->app;
    struct sa_err err = {0};
    json_t *meta = json_pack("{s:s, s:s, s:s}", "run_id", j->id, "thread_id", j->thread_id,
                             "lead_id", j->lead_id);
    log_append(j->log, "metadata", meta);
    json_decref(meta);
    if (sa_store_run_update(app->store, j->id, "running", NULL, NULL, &err))
        sa_log(SA_LOG_WARN, "run status",
               json_pack("{s:s, s:s}", "run_id", j->id, "error", err.msg));
    json_t *detail = json_array();
    struct sa_lead lead;
    int rc = sa_lead_parse(j->input, "input", &lead, detail);
    json_decref(detail);
    struct sa_invoke_res res = {0};
    if (!rc) {
        struct sa_invoke_req req = {.type = SA_AGENT_PIPELINE,
                                    .lead = &lead,
                                    .lead_id = j->lead_id,
                                    .thread_id = j->thread_id,
                                    .stream_modes = GRAPH_STREAM_UPDATES | GRAPH_STREAM_CUSTOM,
                                    .on_event = on_event,
                                    .event_arg = j->log,
                                    .cancel = &j->cancel,
                                    .continue_thread = j->resume};
        rc = sa_app_invoke(app, &req, &res, &err);
        sa_lead_clear(&lead);
    } else {
        sa_err_set(&err, rc, "the stored input is not a valid lead");
    }
    /* a pipeline that stopped at the BDR approval waits for a human (GET /api/approvals) */
    bool waiting = rc == 0 && strcmp(json_string_value(json_object_get(res.output, "status")) ?: "",
                                     "interrupted") == 0;
    const char *status = rc == 0              ? (waiting ? "awaiting_approval" : "done")
                         : rc == SA_ECANCELED ? "cancelled"
                                              : "failed";
    char *out = rc == 0 ? json_dumps(res.output, JSON_COMPACT) : NULL;
    /* The error as clients read it (the run's record and its stream): a storage or
     * internal failure is named by its kind, its detail (SQL, file names) goes to the log. */
    char safe[160];
    const char *error = rc ? client_error(rc, &err, j->id, safe, sizeof safe) : NULL;
    bool recorded = record_status(app->store, j->id, status, out, error) == 0;
    json_t *result = json_pack("{s:s, s:s, s:O?, s:s?}", "run_id", j->id, "status", status,
                               "output", res.output, "error", error);
    pthread_mutex_lock(&r->lock);
    if (!recorded)
        keep_unrecorded(r, j->id, status, out, error);
    j->finished = true; /* before the stream ends: a client reading "end" sees it finished */
    pthread_mutex_unlock(&r->lock);
    log_append(j->log, "result", result);
    log_append(j->log, "end", json_null());
    json_decref(result);
    free(out);
    sa_invoke_res_clear(&res);
    log_finish(j->log);
}

static void *worker(void *arg)
{
    struct sa_runs *r = arg;
    pthread_mutex_lock(&r->lock);
    for (;;) {
        while (!r->head && !r->stop) {
            if (!r->unrecorded) {
                pthread_cond_wait(&r->cond, &r->lock);
                continue;
            }
            /* statuses to write again: look once a second */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            if (pthread_cond_timedwait(&r->cond, &r->lock, &until) != 0) {
                pthread_mutex_unlock(&r->lock);
                retry_unrecorded(r);
                pthread_mutex_lock(&r->lock);
            }
        }
        if (r->stop)
            break;
        struct run_job *j = r->head;
        r->head = j->next_queued;
        if (!r->head)
            r->tail = NULL;
        pthread_mutex_unlock(&r->lock);
        execute(r, j);
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

/* Adds a job to the table and the queue. Caller holds r->lock. */
static void enqueue(struct sa_runs *r, struct run_job *j)
{
    size_t slot = r->njobs % RUNS_KEPT;
    struct run_job *old = r->jobs[slot];
    if (old && old->finished)
        job_free(old);
    else if (old)
        sa_log(SA_LOG_WARN, "run table full: a running run is no longer streamable", NULL);
    r->jobs[slot] = j;
    r->njobs++;
    if (r->tail)
        r->tail->next_queued = j;
    else
        r->head = j;
    r->tail = j;
    pthread_cond_signal(&r->cond);
}

static struct run_job *job_new(const char *id, const char *lead_id, const char *thread_id,
                               json_t *input, bool resume)
{
    struct run_job *j = calloc(1, sizeof *j);
    struct event_log *l = calloc(1, sizeof *l);
    if (!j || !l) {
        free(j);
        free(l);
        return NULL;
    }
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->cond, NULL);
    sa_buf_init(&l->text, (size_t)16 << 20);
    l->refs = 1;
    j->log = l;
    snprintf(j->id, sizeof j->id, "%s", id);
    snprintf(j->lead_id, sizeof j->lead_id, "%s", lead_id);
    snprintf(j->thread_id, sizeof j->thread_id, "%s", thread_id);
    j->input = json_incref(input);
    j->resume = resume;
    return j;
}

int sa_runs_start(struct sa_app *app, int workers, struct sa_runs **out, struct sa_err *err)
{
    *out = NULL;
    struct sa_runs *r = calloc(1, sizeof *r);
    if (!r)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    r->app = app;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    json_t *open = NULL;
    int rc = sa_store_runs_unfinished(app->store, &open, err);
    size_t i;
    json_t *o;
    json_array_foreach(rc ? NULL : open, i, o)
    {
        struct run_job *j = job_new(sa_json_str(o, "id"), sa_json_str(o, "lead_id"),
                                    sa_json_str(o, "thread_id"), json_object_get(o, "input"), true);
        if (!j) {
            rc = sa_err_set(err, SA_ENOMEM, "out of memory");
            break;
        }
        enqueue(r, j);
    }
    if (!rc && json_array_size(open))
        sa_log(SA_LOG_INFO, "resuming unfinished runs",
               json_pack("{s:I}", "runs", (json_int_t)json_array_size(open)));
    json_decref(open);
    r->threads = calloc((size_t)(workers > 0 ? workers : 1), sizeof *r->threads);
    for (int k = 0; !rc && k < (workers > 0 ? workers : 1); k++) {
        if (pthread_create(&r->threads[k], NULL, worker, r) != 0)
            rc = sa_err_set(err, SA_ENOMEM, "cannot start a run worker");
        else
            r->nthreads++;
    }
    if (rc) {
        sa_runs_stop(r);
        return rc;
    }
    *out = r;
    return 0;
}

void sa_runs_stop(struct sa_runs *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    for (int k = 0; k < r->nthreads; k++)
        pthread_join(r->threads[k], NULL);
    free(r->threads);
    retry_unrecorded(r); /* a last try; what is left is resumed from its checkpoint at start */
    while (r->unrecorded) {
        struct unrecorded *u = r->unrecorded;
        r->unrecorded = u->next;
        sa_log(SA_LOG_WARN, "run status not recorded at exit",
               json_pack("{s:s, s:s}", "run_id", u->id, "status", u->status));
        unrecorded_free(u);
    }
    for (size_t k = 0; k < RUNS_KEPT; k++)
        if (r->jobs[k]) {
            log_finish(r->jobs[k]->log); /* wake readers of runs that will not finish here */
            job_free(r->jobs[k]);
        }
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    free(r);
}

int sa_runs_submit(struct sa_runs *r, const struct sa_lead *lead, const char *lead_id,
                   const char *thread_id, char run_id[40], char lead_out[40], char thread_out[129],
                   struct sa_err *err)
{
    sa_uuid_v7(run_id);
    if (lead_id) {
        snprintf(lead_out, 40, "%s", lead_id);
    } else {
        /* the identity rule (docs/leads.md): a run for a stored person updates that lead */
        char found[SA_UUID_LEN];
        int irc = sa_app_lead_identify(r->app, lead, found, err);
        if (irc == 0)
            snprintf(lead_out, 40, "%s", found);
        else if (irc == SA_ENOTFOUND)
            sa_uuid_v7(lead_out);
        else
            return irc;
    }
    if (thread_id)
        snprintf(thread_out, 129, "%s", thread_id);
    else
        sa_uuid_v7(thread_out);
    char *input = json_dumps(lead->raw, JSON_COMPACT);
    if (!input)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    int rc = sa_store_run_create(r->app->store, run_id, lead_out, thread_out, input, err);
    free(input);
    if (rc)
        return rc;
    struct run_job *j = job_new(run_id, lead_out, thread_out, lead->raw, false);
    if (!j)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    pthread_mutex_lock(&r->lock);
    enqueue(r, j);
    pthread_mutex_unlock(&r->lock);
    return 0;
}

/* The job of run_id, or NULL. Caller holds r->lock. */
static struct run_job *find(struct sa_runs *r, const char *run_id)
{
    for (size_t k = 0; k < RUNS_KEPT; k++)
        if (r->jobs[k] && strcmp(r->jobs[k]->id, run_id) == 0)
            return r->jobs[k];
    return NULL;
}

int sa_runs_cancel(struct sa_runs *r, const char *run_id, struct sa_err *err)
{
    pthread_mutex_lock(&r->lock);
    struct run_job *j = find(r, run_id);
    int rc = 0;
    if (!j)
        rc = sa_err_set(err, SA_ENOTFOUND, "run %s is not running here", run_id);
    else if (j->finished)
        rc = sa_err_set(err, SA_ECONFLICT, "run %s has already finished", run_id);
    else
        __atomic_store_n(&j->cancel, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&r->lock);
    return rc;
}

struct sa_run_stream *sa_run_stream_open(struct sa_runs *r, const char *run_id)
{
    pthread_mutex_lock(&r->lock);
    struct run_job *j = find(r, run_id);
    struct sa_run_stream *s = j ? calloc(1, sizeof *s) : NULL;
    if (s) {
        s->log = j->log;
        pthread_mutex_lock(&s->log->lock);
        s->log->refs++;
        pthread_mutex_unlock(&s->log->lock);
    }
    pthread_mutex_unlock(&r->lock);
    return s;
}

ssize_t sa_run_stream_read(struct sa_run_stream *s, char *buf, size_t max, int wait_ms)
{
    struct event_log *l = s->log;
    pthread_mutex_lock(&l->lock);
    if (l->text.len <= s->off && !l->done) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += wait_ms / 1000;
        until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (l->text.len <= s->off && !l->done)
            if (pthread_cond_timedwait(&l->cond, &l->lock, &until) != 0)
                break;
    }
    ssize_t n;
    if (l->text.len > s->off) {
        size_t take = l->text.len - s->off < max ? l->text.len - s->off : max;
        memcpy(buf, l->text.data + s->off, take);
        s->off += take;
        n = (ssize_t)take;
    } else {
        n = l->done ? -1 : 0;
    }
    pthread_mutex_unlock(&l->lock);
    return n;
}

void sa_run_stream_free(struct sa_run_stream *s)
{
    if (!s)
        return;
    log_release(s->log);
    free(s);
}

/* The stored run (consumed) in the API's shape: its id as run_id, first, then the other
 * fields in their stored order. NULL when out of memory. */
static json_t *run_for_api(json_t *run)
{
    json_t *out = json_pack("{s:O}", "run_id", json_object_get(run, "id"));
    const char *key;
    json_t *v;
    json_object_foreach(run, key, v)
    {
        if (out && strcmp(key, "id") != 0 && json_object_set(out, key, v)) {
            json_decref(out);
            out = NULL;
        }
    }
    json_decref(run);
    return out;
}

int sa_app_run_get(struct sa_store *store, struct sa_runs *r, const char *run_id, json_t **out,
                   struct sa_err *err)
{
    *out = NULL;
    json_t *stored = NULL;
    int rc = sa_store_run_get(store, run_id, &stored, err);
    if (rc == SA_ENOTFOUND)
        return sa_err_set(err, rc, "No run %s", run_id);
    if (rc)
        return rc;
    if (!(*out = run_for_api(stored)))
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    if (!r)
        return 0;
    pthread_mutex_lock(&r->lock);
    for (struct unrecorded *u = r->unrecorded; u; u = u->next) {
        if (strcmp(u->id, run_id) != 0)
            continue;
        json_object_set_new(*out, "status", json_string(u->status));
        if (u->error)
            json_object_set_new(*out, "error", json_string(u->error));
        json_object_set_new(*out, "status_recorded", json_false());
        json_object_set_new(*out, "status_note",
                            json_string("the run finished but its status could not be saved "
                                        "yet; the server writes it again every second"));
        break;
    }
    pthread_mutex_unlock(&r->lock);
    return 0;
}
