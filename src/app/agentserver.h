/* The LangGraph Agent Server API's subset that the official SDK (@langchain/langgraph-sdk)
 * and Agent Inbox use, mapped onto our graphs: assistants (the pipeline and each agent),
 * threads (their checkpoints, plus threads created before their first run), and runs
 * streamed, waited for, joined and cancelled. A run executes on a thread of its own; its
 * events (LangGraph's SSE text) are kept with the run so a stream, a join or a wait reads
 * them from the start without holding an HTTP thread (a reader parks; the run wakes it).
 * Runs and created-but-empty threads live in this process's memory (the last 512 runs);
 * a thread's state is the checkpointer's, shared by every instance. Called by
 * http/routes/agentserver.c. */
#ifndef SA_APP_AGENTSERVER_H
#define SA_APP_AGENTSERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/err.h"

struct sa_app;
struct sa_as;
struct sa_as_run;
struct sa_as_reader;

/* The registry of runs and created threads; NULL when out of memory. Freed by
 * sa_as_free after every run ended (the HTTP server's stop waits for them). */
struct sa_as *sa_as_new(void);
void sa_as_free(struct sa_as *as);

/* ---- assistants ---- */

/* Every assistant (new reference, an array of Assistant objects): "pipeline" and each
 * available agent; assistant_id is the graph name. */
json_t *sa_as_assistants(struct sa_app *app);
/* One assistant by id (new reference), or NULL. */
json_t *sa_as_assistant(struct sa_app *app, const char *id);

/* ---- threads ---- */

/* Creates thread_id (validated by the caller; NULL: a new UUID) from POST /threads's body
 * ({metadata?, if_exists?}). SA_EINVAL with detail; SA_ECONFLICT when it exists and
 * if_exists is "raise". *out: the Thread (new reference). */
int sa_as_thread_create(struct sa_app *app, const char *thread_id, const json_t *body,
                        json_t *detail, json_t **out, struct sa_err *err) SA_WUR;
/* The Thread {thread_id, created_at, updated_at, metadata, status, values, interrupts}.
 * SA_ENOTFOUND for a thread nobody created or ran. */
int sa_as_thread_get(struct sa_app *app, const char *thread_id, json_t **out,
                     struct sa_err *err) SA_WUR;
/* The ThreadState (LangGraph's shape: values, next, checkpoint, tasks[].interrupts,
 * interrupts, ...); an empty one for a created thread with no run yet. */
int sa_as_thread_state(struct sa_app *app, const char *thread_id, json_t **out,
                       struct sa_err *err) SA_WUR;
/* The ThreadState at one of the thread's checkpoints. SA_ENOTFOUND. */
int sa_as_thread_state_at(struct sa_app *app, const char *thread_id, const char *checkpoint_id,
                          json_t **out, struct sa_err *err) SA_WUR;
/* The ThreadStates, newest first, at most limit (an array; empty for a created thread). */
int sa_as_thread_history(struct sa_app *app, const char *thread_id, int limit, json_t **out,
                         struct sa_err *err) SA_WUR;
/* POST /threads/search {status?, metadata?, ids?, limit?, offset?}: Threads among the
 * threads of the 500 newest pending approvals, then this process's runs' and created
 * threads and the threads of the newest 500 approvals, each newest first (at most 1,000
 * looked at), or among ids (at most 1,000). SA_EINVAL with detail. */
int sa_as_thread_search(struct sa_app *app, const json_t *body, json_t *detail, json_t **out,
                        struct sa_err *err) SA_WUR;
/* Whether writing state to the thread can stand in for a human's approval: true for a
 * thread of the pipeline (its approval step reads the state), false for others. */
bool sa_as_thread_guarded(struct sa_app *app, const char *thread_id);
/* POST /threads/{id}/state: {values, as_node?, checkpoint_id?} written as a new
 * checkpoint; *out {checkpoint: {thread_id, checkpoint_ns, checkpoint_id}}. SA_EINVAL
 * with detail; SA_ENOTFOUND; SA_ECONFLICT while a run holds the thread. */
int sa_as_thread_update(struct sa_app *app, const char *thread_id, const json_t *body,
                        json_t *detail, json_t **out, struct sa_err *err) SA_WUR;

/* ---- runs ---- */

/* A run checked and ready to start (sa_as_run_prepare), or started. */
struct sa_as_start {
    struct sa_as_run *run;    /* owned until sa_as_run_start takes it */
    bool answers_approval;    /* command.resume answers a BDR approval: needs 'approve' */
    const char *thread_id;    /* the run's thread (points into run) */
    const char *run_id;       /* points into run */
    const char *assistant_id; /* points into run: "pipeline" or an agent's name */
    /* answers_approval: the approval's id and the HumanResponse's type (into run) */
    const char *approval_id, *decision;
    bool cancel_on_disconnect; /* on_disconnect "cancel": only a streamed or waited run */
};

/* Checks a run body (assistant_id, input, command, stream_mode, metadata,
 * multitask_strategy, ...) for thread_id (NULL: a stateless run on a new thread).
 * SA_EINVAL with detail (the field named); SA_ENOTFOUND for an unknown assistant or
 * thread (err's message, loc in *loc); SA_ECONFLICT when the thread has a run going
 * (multitask "reject") or a resume finds no interrupt to answer. reviewer (borrowed for
 * the call, may be NULL) is who answers an approval this run resumes. */
int sa_as_run_prepare(struct sa_app *app, const char *thread_id, const json_t *body,
                      const char *reviewer, json_t *detail, struct sa_as_start *out,
                      const char **loc, struct sa_err *err) SA_WUR;
/* Drops a prepared run that will not start. */
void sa_as_run_discard(struct sa_as_start *s);
/* Starts the prepared run on a thread of its own; takes s->run. done(arg) is called
 * once, from the run's thread, when it no longer uses the app (also when starting
 * failed: then before this returns). SA_ECONFLICT when another run took the thread
 * meanwhile; SA_ENOMEM when no thread could start. */
int sa_as_run_start(struct sa_app *app, struct sa_as_start *s, void (*done)(void *arg), void *arg,
                    struct sa_err *err) SA_WUR;
/* The Run {run_id, thread_id, assistant_id, created_at, updated_at, status, metadata,
 * multitask_strategy} (new reference). thread_id NULL: any thread. SA_ENOTFOUND. */
int sa_as_run_get(struct sa_app *app, const char *thread_id, const char *run_id, json_t **out,
                  struct sa_err *err) SA_WUR;
/* The thread's runs, newest first (new reference). */
json_t *sa_as_thread_runs(struct sa_app *app, const char *thread_id, int limit);
/* Asks a run to stop before its next step. SA_ENOTFOUND; SA_ECONFLICT when finished. */
int sa_as_run_cancel(struct sa_app *app, const char *thread_id, const char *run_id,
                     struct sa_err *err) SA_WUR;

/* What a reader produces: the run's SSE events from its start (for a finished run older
 * than the newest 64, whose events are dropped: metadata, its last values or error, end),
 * or (WAIT) newlines every second while it runs, then the final JSON: its last values
 * (with "__interrupt__" when it stopped at one) or {"__error__": {error, message}}, or
 * (RUN: cancel's wait) the same newlines, then the ended Run. */
enum sa_as_read { SA_AS_READ_EVENTS, SA_AS_READ_WAIT, SA_AS_READ_RUN };
/* A reader of run_id's output (thread_id NULL: any), or NULL when the run is unknown. */
struct sa_as_reader *sa_as_reader_open(struct sa_app *app, const char *thread_id,
                                       const char *run_id, enum sa_as_read kind);
/* What sa_as_reader_read returns when nothing is there yet and a wake is arranged. */
#define SA_AS_PARKED (-2)
/* Copies up to max bytes into buf without waiting: the count; -1 at the end; or
 * SA_AS_PARKED after arranging that wake(arg) is called (under the registry's lock, from
 * the run's thread) when there is more. */
ssize_t sa_as_reader_read(struct sa_as_reader *rd, char *buf, size_t max, void (*wake)(void *arg),
                          void *arg);
/* Makes freeing rd before its run ended cancel the run (on_disconnect "cancel": the
 * HTTP layer frees a stream's reader when its client leaves). */
void sa_as_reader_cancel_on_close(struct sa_as_reader *rd);
/* Frees rd; after it returns no wake for it is called. */
void sa_as_reader_free(struct sa_as_reader *rd);

#endif
