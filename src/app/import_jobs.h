/* Import jobs: a large CSV import (a body the server spooled to a file) run in the
 * background, one thread per job, its progress and result polled or followed by id. Used
 * by POST /api/leads/import (202), GET /api/imports/{id} and GET /api/imports/{id}/stream. Jobs live in memory: the last
 * SA_IMPORT_JOBS_KEPT finished ones are kept (results as text), and a restart forgets them. */
#ifndef SA_IMPORT_JOBS_H
#define SA_IMPORT_JOBS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "base/uuid.h"

struct sa_app;
struct sa_import_jobs;

#define SA_IMPORT_JOBS_KEPT 16

/* A registry for app's imports (app is borrowed and MUST outlive it); NULL when out of
 * memory. */
struct sa_import_jobs *sa_import_jobs_new(struct sa_app *app);

/* Waits for the jobs still running, then frees every job and the registry. */
void sa_import_jobs_free(struct sa_import_jobs *jobs);

/* Starts importing the file fd holds (len bytes from offset 0) as sa_app_import_csv_as
 * would with charset (copied; NULL for UTF-8), map (borrowed, copied) and partial. Takes
 * ownership of fd (closed when the job ends, also on failure). Sets id. Returns 0,
 * SA_ENOMEM, or SA_EINTERNAL when no thread could be started. */
int sa_import_job_start(struct sa_import_jobs *jobs, int fd, size_t len, const char *charset,
                        const json_t *map, bool partial, char id[SA_UUID_LEN],
                        struct sa_err *err) SA_WUR;

/* The job as served (new reference): {import_id, status (running, done, failed),
 * created_at, rows_done, rows_total, report (done; failed with invalid rows), detail (failed
 * on the file or its rows: [{loc, msg, type, ...}]), error (failed: why), links: {self}}.
 * Returns 0 or SA_ENOTFOUND. */
int sa_import_job_get(struct sa_import_jobs *jobs, const char *id, json_t **out,
                      struct sa_err *err) SA_WUR;

/* A client following an import without a thread of its own (GET /api/imports/{id}/stream):
 * the caller's, zeroed before its first park, and it MUST stay put while parked. */
struct sa_import_follower {
    /* the registry's, guarded by its lock */
    void (*wake)(void *arg);
    void *arg;
    char id[SA_UUID_LEN];
    size_t seen;
    bool parked, waking;
    struct sa_import_follower *prev, *next, *batch_next;
};

/* Whether job id has written more than seen rows or has finished: 0 (read it now),
 * SA_ENOTFOUND (no such job, or no longer kept), or 1: not yet, and f is parked: wake(arg)
 * is called once, from the import's thread, at the job's next progress step or its end
 * (possibly before this returns). A follower is woken at the latest when its import
 * ends; it gets no wake while the import is quiet (no keep-alives). */
int sa_import_job_park(struct sa_import_jobs *jobs, const char *id, size_t seen,
                       struct sa_import_follower *f, void (*wake)(void *arg), void *arg) SA_WUR;
/* Takes f out of the registry's list if parked, and waits for a wake being called on it
 * to return, so wake's arg may be freed right after. */
void sa_import_job_unpark(struct sa_import_jobs *jobs, struct sa_import_follower *f);

#endif
