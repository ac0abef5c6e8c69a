/* Retention: bounds what the service stores. One pass deletes the agent executions older
 * than EXECUTION_RETENTION_SECONDS, the expired enrichment cache entries, the delivered
 * mail files older than MAIL_RETENTION_SECONDS and the conversation list's rows of
 * conversations silent longer than SESSION_TTL_SECONDS (their session expired), and
 * compacts the checkpoints of threads finished longer than CHECKPOINT_RETENTION_SECONDS
 * ago to their final state; the store then gives space back (SQLite truncates its WAL).
 * `sales-agent prune` runs one pass; the server runs one every RETENTION_SWEEP_SECONDS on
 * a thread of its own. */
#ifndef SA_APP_RETENTION_H
#define SA_APP_RETENTION_H

#include <jansson.h>
#include <stdbool.h>

#include "base/err.h"

struct sa_app;

/* One pass at now (unix seconds, business time: sa_wall_seconds), over the threads whose
 * last activity is at or after since (0: every thread; the sweep passes where its last
 * pass stopped). A thread waiting for a human (a pending approval, an interrupt in its
 * state) or still running is never compacted; a finished one keeps its final state as one
 * full checkpoint (with a new checkpoint id) and loses its history. Executions are kept at
 * least as long as checkpoints, since finished threads are found through them. With
 * dry_run nothing is deleted and the counts say what would be. *out (new reference):
 * {dry_run, executions, enrichment_cache, checkpoint_threads, checkpoints,
 * expired_threads, conversations, thread_records, mail_files}, each a count
 * (expired_threads is 0 when dry). thread_records: the Agent Server's thread records
 * untouched for CHECKPOINT_RETENTION_SECONDS whose thread holds no checkpoint (a thread
 * with a checkpoint, compacted or waiting for a human, keeps its record). Returns 0, or the first failure (the kinds before it are done). */
int sa_retention_run(struct sa_app *app, double now, double since, bool dry_run, json_t **out,
                     struct sa_err *err) SA_WUR;

/* The background sweep. */
struct sa_retention;

/* Starts the sweep thread: a pass every app->cfg.retention_sweep seconds of business time
 * (so a test moving CLOCK_FILE forward triggers one within a second, without waiting), the
 * first one a second after start. *out is NULL, and nothing runs, when the setting is 0.
 * Returns 0, or SA_EIO when the thread cannot be created. */
int sa_retention_start(struct sa_app *app, struct sa_retention **out, struct sa_err *err) SA_WUR;

/* Stops the sweep (waits for a pass in progress to end) and frees it; NULL is fine. MUST be
 * called before the app is closed. */
void sa_retention_stop(struct sa_retention *r);

#endif
