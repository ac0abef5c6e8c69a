/* Pipeline runs started through the API (POST /api/runs): a queue and worker threads that
 * run the pipeline in the background, each run's events kept for SSE clients who join at
 * any point, cancellation, and, at start-up, the runs a stopped process left queued or
 * running are resumed from their thread's last checkpoint. Created by `serve` (cli/cmd_serve.c). */
#ifndef SA_RUNS_H
#define SA_RUNS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/err.h"

struct sa_app;
struct sa_lead;
struct sa_runs;
struct sa_run_stream;
struct sa_store;

/* Starts workers threads and re-queues the unfinished runs found in the store. */
int sa_runs_start(struct sa_app *app, int workers, struct sa_runs **out, struct sa_err *err) SA_WUR;
/* Stops taking runs, lets the running ones finish their current step... and joins. Runs
 * still queued stay queued in the store (resumed at the next start). */
void sa_runs_stop(struct sa_runs *r);

/* Queues a run of the pipeline for lead (its raw input is copied). lead_id (NULL: the
 * stored lead the identity rule finds, else a new one) and thread_id (NULL: new) as for
 * invoke. Fills run_id, the lead and thread ids (out, 40 bytes each, thread 129). */
int sa_runs_submit(struct sa_runs *r, const struct sa_lead *lead, const char *lead_id,
                   const char *thread_id, char run_id[40], char lead_out[40], char thread_out[129],
                   struct sa_err *err) SA_WUR;

/* Asks a queued or running run to stop. SA_ENOTFOUND (not in this process), SA_ECONFLICT
 * (already finished). */
int sa_runs_cancel(struct sa_runs *r, const char *run_id, struct sa_err *err) SA_WUR;

/* A reader of a run's SSE text from its start, or NULL when the run is not known to this
 * process. Release with sa_run_stream_free. */
struct sa_run_stream *sa_run_stream_open(struct sa_runs *r, const char *run_id);
/* Copies up to max bytes of events not read yet into buf, waiting up to wait_ms for some.
 * Returns the count, 0 after a wait with nothing new (send a keep-alive), or -1 at the end
 * of a finished run. */
ssize_t sa_run_stream_read(struct sa_run_stream *s, char *buf, size_t max, int wait_ms);
void sa_run_stream_free(struct sa_run_stream *s);

/* The run (new reference) as the API shows it ({run_id, status, ...}), or, when this
 * process finished it but could not
 * record its status, with that status and status_recorded false. r may be NULL (the
 * store only). SA_ENOTFOUND with a message for the client. */
int sa_app_run_get(struct sa_store *store, struct sa_runs *r, const char *run_id, json_t **out,
                   struct sa_err *err) SA_WUR;

#endif
