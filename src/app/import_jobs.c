/* Import jobs (see import_jobs.h): one thread per job runs the import on the spooled file;
 * the registry's lock guards each job's progress and result, which the thread sets and
 * GET /api/imports/{id} reads, and the parked stream clients, which the thread wakes at
 * each progress step and at the end. */
#include "app/import_jobs.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "app/import.h"
#include "base/clock.h"
#include "base/log.h"

struct job {
    struct sa_import_jobs *jobs;
    char id[SA_UUID_LEN];
    char created_at[SA_ISO8601_LEN];
    int fd;
    size_t len;
    char *charset;
    json_t *map;
    bool partial;
    pthread_t thread;
    /* guarded by jobs->lock */
    bool finished;
    bool exited; /* the thread is done with the lock: it may be joined under it */
    size_t done, total;
    bool failed;
    char *result; /* once finished: {status, report?, detail?, error?} as compact text (a
                   * report of 10,000 entries is ~1.7 MB as text, ~8 MB as a JSON tree) */
    struct job *next;
};

struct sa_import_jobs {
    struct sa_app *app;
    pthread_mutex_t lock;
    pthread_cond_t woken;                 /* the wakes of a batch returned (unpark waits) */
    struct job *head;                     /* newest first */
    struct sa_import_follower *followers; /* parked */
};

struct sa_import_jobs *sa_import_jobs_new(struct sa_app *app)
{
    struct sa_import_jobs *jobs = calloc(1, sizeof *jobs);
    if (!jobs)
        return NULL;
    jobs->app = app;
    pthread_mutex_init(&jobs->lock, NULL);
    pthread_cond_init(&jobs->woken, NULL);
    return jobs;
}

static void job_free(struct job *j)
{
    pthread_join(j->thread, NULL);
    free(j->charset);
    json_decref(j->map);
    free(j->result);
    free(j);
}

void sa_import_jobs_free(struct sa_import_jobs *jobs)
{
    if (!jobs)
        return;
    for (struct job *j = jobs->head, *next; j; j = next) {
        next = j->next;
        job_free(j); /* joins: a running import finishes first */
    }
    pthread_mutex_destroy(&jobs->lock);
    SA_ASSERT(jobs->followers == NULL); /* the HTTP server stopped first */
    pthread_cond_destroy(&jobs->woken);
    free(jobs);
}

/* Lock held. */
static void unlink_follower(struct sa_import_jobs *jobs, struct sa_import_follower *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        jobs->followers = f->next;
    if (f->next)
        f->next->prev = f->prev;
    f->prev = f->next = NULL;
    f->parked = false;
}

/* Wakes the followers of j. Lock held; released while the wakes run (they take the HTTP
 * server's lock), so each is marked waking and unpark waits for it. */
static void wake_followers(struct job *j)
{
    struct sa_import_jobs *jobs = j->jobs;
    struct sa_import_follower *batch = NULL;
    for (struct sa_import_follower *f = jobs->followers, *next; f; f = next) {
        next = f->next;
        if (strcmp(f->id, j->id) != 0)
            continue;
        unlink_follower(jobs, f);
        f->waking = true;
        f->batch_next = batch;
        batch = f;
    }
    if (!batch)
        return;
    pthread_mutex_unlock(&jobs->lock);
    for (struct sa_import_follower *f = batch; f; f = f->batch_next)
        f->wake(f->arg);
    pthread_mutex_lock(&jobs->lock);
    for (struct sa_import_follower *f = batch, *next; f; f = next) {
        next = f->batch_next;
        f->waking = false;
    }
    pthread_cond_broadcast(&jobs->woken);
}

static void on_progress(enum sa_import_phase phase, size_t done, size_t total, void *arg)
{
    struct job *j = arg;
    if (phase != SA_IMPORT_WRITING || (done % 256 != 0 && done != total))
        return;
    pthread_mutex_lock(&j->jobs->lock);
    j->done = done;
    j->total = total;
    wake_followers(j);
    pthread_mutex_unlock(&j->jobs->lock);
}

/* The job's result from what the import returned (takes report and detail). */
static json_t *job_result(int rc, json_t *report, json_t *detail, const struct sa_err *err)
{
    json_t *res = json_pack("{s:s}", "status", rc ? "failed" : "done");
    if (report)
        json_object_set_new(res, "report", report);
    if (rc && json_array_size(detail))
        json_object_set(res, "detail", detail);
    if (rc)
        json_object_set_new(res, "error", json_string(err->msg[0] ? err->msg : "import failed"));
    json_decref(detail);
    return res;
}

static void *job_run(void *arg)
{
    struct job *j = arg;
    struct sa_err err = {0};
    json_t *report = NULL, *detail = json_array();
    int rc = 0;
    void *text = j->len ? mmap(NULL, j->len, PROT_READ, MAP_PRIVATE, j->fd, 0) : NULL;
    close(j->fd);
    if (text == MAP_FAILED) {
        text = NULL;
        rc = sa_err_set(&err, SA_EIO, "the spooled body could not be read");
    } else {
        struct sa_import_format fmt = {.charset = j->charset, .map = j->map, .detail = detail};
        rc = sa_app_import_csv_as(j->jobs->app, &fmt, text ? text : "", j->len, j->partial,
                                  on_progress, j, &report, &err);
    }
    if (text)
        munmap(text, j->len);
    json_t *res = job_result(rc, report, detail, &err);
    char *dumped = json_dumps(res, JSON_COMPACT);
    json_decref(res);
    sa_log(rc ? SA_LOG_WARN : SA_LOG_INFO, "import job finished",
           json_pack("{s:s, s:s, s:s}", "import_id", j->id, "status", rc ? "failed" : "done",
                     "error", rc ? err.msg : ""));
    pthread_mutex_lock(&j->jobs->lock);
    j->result = dumped; /* NULL when out of memory: served as failed, without the report */
    j->failed = rc != 0 || !dumped;
    j->finished = true;
    wake_followers(j); /* unlocks while the wakes run */
    j->exited = true;
    pthread_mutex_unlock(&j->jobs->lock);
    return NULL;
}

/* Drops the oldest finished jobs past SA_IMPORT_JOBS_KEPT; called with the lock held.
 * Only jobs whose thread is past its last use of the lock (exited, set last) go, so the
 * joins do not wait long; and never for the lock, which prune holds (a thread still
 * waking its followers needs it once more). */
static void prune(struct sa_import_jobs *jobs)
{
    size_t n = 0;
    for (struct job **p = &jobs->head; *p;) {
        struct job *j = *p;
        if (j->finished && ++n > SA_IMPORT_JOBS_KEPT && j->exited) {
            *p = j->next;
            job_free(j);
        } else {
            p = &j->next;
        }
    }
}

int sa_import_job_start(struct sa_import_jobs *jobs, int fd, size_t len, const char *charset,
                        const json_t *map, bool partial, char id[SA_UUID_LEN], struct sa_err *err)
{
    id[0] = '\0';
    struct job *j = calloc(1, sizeof *j);
    if (!j || (charset && !(j->charset = strdup(charset))) ||
        (map && !(j->map = json_deep_copy(map)))) {
        if (j) {
            free(j->charset);
            free(j);
        }
        close(fd);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    j->jobs = jobs;
    j->fd = fd;
    j->len = len;
    j->partial = partial;
    sa_uuid_v7(j->id);
    sa_iso8601_now(j->created_at);
    pthread_mutex_lock(&jobs->lock);
    if (pthread_create(&j->thread, NULL, job_run, j) != 0) {
        pthread_mutex_unlock(&jobs->lock);
        close(fd);
        free(j->charset);
        json_decref(j->map);
        free(j);
        return sa_err_set(err, SA_EINTERNAL, "no thread for the import");
    }
    j->next = jobs->head;
    jobs->head = j;
    prune(jobs);
    snprintf(id, SA_UUID_LEN, "%s", j->id);
    pthread_mutex_unlock(&jobs->lock);
    return 0;
}

int sa_import_job_get(struct sa_import_jobs *jobs, const char *id, json_t **out, struct sa_err *err)
{
    *out = NULL;
    pthread_mutex_lock(&jobs->lock);
    struct job *j = jobs->head;
    while (j && strcmp(j->id, id) != 0)
        j = j->next;
    if (j) {
        char self[64], stream[72];
        snprintf(self, sizeof self, "/api/imports/%s", j->id);
        snprintf(stream, sizeof stream, "%s/stream", self);
        *out =
            json_pack("{s:s, s:s, s:s, s:I, s:I, s:{s:s, s:s}}", "import_id", j->id, "status",
                      !j->finished ? "running"
                      : j->failed  ? "failed"
                                   : "done",
                      "created_at", j->created_at, "rows_done", (json_int_t)j->done, "rows_total",
                      (json_int_t)j->total, "links", "self", self, "stream", stream);
        json_t *res = *out && j->result ? json_loads(j->result, 0, NULL) : NULL;
        if (res)
            json_object_update_missing(*out, res);
        else if (*out && j->finished && !j->result)
            json_object_set_new(*out, "error", json_string("out of memory keeping the result"));
        json_decref(res);
    }
    pthread_mutex_unlock(&jobs->lock);
    if (!j)
        return sa_err_set(err, SA_ENOTFOUND, "No import %s", id);
    return *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}

int sa_import_job_park(struct sa_import_jobs *jobs, const char *id, size_t seen,
                       struct sa_import_follower *f, void (*wake)(void *arg), void *arg)
{
    pthread_mutex_lock(&jobs->lock);
    struct job *j = jobs->head;
    while (j && strcmp(j->id, id) != 0)
        j = j->next;
    int rc = !j ? SA_ENOTFOUND : j->finished || j->done != seen ? 0 : 1;
    /* parked already: asked again without a wake (the server resumed it to stop). It may
     * also still be waking (its wake came while its reader ran, see app/runs.c). */
    if (rc == 1 && !f->parked) {
        f->wake = wake;
        f->arg = arg;
        snprintf(f->id, sizeof f->id, "%s", id);
        f->seen = seen;
        f->parked = true;
        f->prev = NULL;
        f->next = jobs->followers;
        if (jobs->followers)
            jobs->followers->prev = f;
        jobs->followers = f;
    }
    pthread_mutex_unlock(&jobs->lock);
    return rc;
}

void sa_import_job_unpark(struct sa_import_jobs *jobs, struct sa_import_follower *f)
{
    pthread_mutex_lock(&jobs->lock);
    if (f->parked)
        unlink_follower(jobs, f);
    while (f->waking)
        pthread_cond_wait(&jobs->woken, &jobs->lock);
    pthread_mutex_unlock(&jobs->lock);
}
