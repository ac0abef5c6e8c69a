/* Pipeline runs started through the API (POST /api/runs): submitted to the run queue
 * (store/queue.h: in this process, or Redis shared by every instance), run by worker
 * threads of whichever instance takes them (serve, or `sales-agent worker`), their events
 * published to the queue for SSE clients who join at any point on any instance, and
 * cancellation. The run's status lives in the store. A run whose worker died is taken
 * over (Redis: after RUN_VISIBILITY_TIMEOUT_MS; memory: at the next start) and continued
 * from its thread's last checkpoint. Created by cli/cmd_serve.c and cli/cmd_worker.c. */
#ifndef SA_RUNS_H
#define SA_RUNS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/err.h"

struct sa_app;
struct sa_draft_blocker;
struct sa_lead;
struct sa_runs;
struct sa_run_stream;
struct sa_store;

/* Opens the run queue (app->cfg.redis_url: Redis, else memory) and starts `workers`
 * threads taking runs from it (0: none; this process only queues), plus one thread that
 * keeps their deliveries alive and watches for cancel requests. With the memory queue the
 * unfinished runs found in the store are queued again (Redis keeps its own). */
int sa_runs_start(struct sa_app *app, int workers, struct sa_runs **out, struct sa_err *err) SA_WUR;
/* Stops taking runs, lets the running ones finish... and joins. Runs still queued stay
 * queued (memory: in the store, queued again at the next start). NULL is allowed. */
void sa_runs_stop(struct sa_runs *r);

/* The queue's name ("memory", "redis"): for logs and /health. */
const char *sa_runs_queue_name(const struct sa_runs *r);

/* Queues a run of the pipeline for lead (its raw input is copied). lead_id (NULL: the
 * stored lead the identity rule finds, else a new one) and thread_id (NULL: new) as for
 * invoke. Fills run_id, the lead and thread ids (out, 40 bytes each, thread 129). With
 * one_draft not NULL and lead_id given, the one-draft rule applies (app/drafts.h): while
 * the lead has a draft under way nothing is stored or queued, and SA_ECONFLICT comes with
 * *one_draft saying what is under way. */
int sa_runs_submit(struct sa_runs *r, const struct sa_lead *lead, const char *lead_id,
                   const char *thread_id, char run_id[40], char lead_out[40], char thread_out[129],
                   struct sa_draft_blocker *one_draft, struct sa_err *err) SA_WUR;

/* Asks a queued or running run to stop, wherever it runs. SA_ENOTFOUND (no such run),
 * SA_ECONFLICT (already finished). */
int sa_runs_cancel(struct sa_runs *r, const char *run_id, struct sa_err *err) SA_WUR;

/* A reader of a run's SSE text from its start, wherever it runs, or NULL when the run is
 * unknown or finished with its events expired (read its stored result instead). Release
 * with sa_run_stream_free. */
struct sa_run_stream *sa_run_stream_open(struct sa_runs *r, const char *run_id);
/* What sa_run_stream_read returns when it parked the stream. */
#define SA_RUN_STREAM_PARKED (-2)
/* Copies up to max bytes of events not read yet into buf, without waiting. Returns the
 * count; -1 at the end of a finished run (or when the queue fails: the client
 * reconnects); SA_RUN_STREAM_PARKED when there is nothing new: the stream then waits
 * without a thread, and wake(arg) is called once, from the runs service's waiter thread
 * (possibly before this returns; by this call itself after a short wait when that thread
 * cannot start), when there may be news, or after 5 s of quiet (the
 * stream then asks the store whether its run finished); read again after it. 0 after
 * ~15 s of quiet: send a keep-alive, then read again. */
ssize_t sa_run_stream_read(struct sa_run_stream *s, char *buf, size_t max, void (*wake)(void *arg),
                           void *arg);
/* Frees s; when it is parked it leaves the waiter first, and waits for a wake being
 * called on it to return, so wake's arg may be freed right after. */
void sa_run_stream_free(struct sa_run_stream *s);

/* The run (new reference) as the API shows it ({run_id, status, ...}), or, when this
 * process finished it but could not
 * record its status, with that status and status_recorded false. r may be NULL (the
 * store only). SA_ENOTFOUND with a message for the client. */
int sa_app_run_get(struct sa_store *store, struct sa_runs *r, const char *run_id, json_t **out,
                   struct sa_err *err) SA_WUR;

/* The web console's run list (issue 16, GET /api/runs): runs newest first, of status
 * (NULL: any), at most limit from offset: *out (new reference) {items: [{run_id, lead_id,
 * thread_id, status, error, company_name, created_at, updated_at}], total, limit,
 * offset}. */
int sa_app_runs_list(struct sa_store *store, const char *status, int limit, int offset,
                     json_t **out, struct sa_err *err) SA_WUR;

#endif
