/* The approvals service (the BDR workflow's human-in-the-loop step): recording a run's
 * interrupts as approvals, answering one, and resuming answered runs at start-up. */
#ifndef SA_APP_APPROVALS_H
#define SA_APP_APPROVALS_H

#include <jansson.h>
#include <stdbool.h>

#include "base/err.h"
#include "base/uuid.h"
#include "graph/graph.h"

struct sa_app;
struct sa_store;

/* Records a graph's interrupts (GRAPH_INTERRUPTED's [{id, value, node}]) as pending
 * approvals, once per (thread, interrupt); *approvals (new reference) gets
 * [{approval_id, node, request, link}]. */
int sa_app_record_interrupts(struct sa_store *store, const char *thread_id, const char *lead_id,
                             const json_t *interrupts, json_t **approvals,
                             struct sa_err *err) SA_WUR;

/* Answers approval id with an Agent Inbox HumanResponse (borrowed) by reviewer (may be
 * NULL), then continues its run. SA_EINVAL with detail filled (never empty) for a bad
 * response; SA_ENOTFOUND; SA_ECONFLICT when it was answered differently before or was
 * superseded by a newer run on its thread (err says which, and by which run). The same
 * answer twice, also from two requests at once, is 200 with duplicate true. *out (new
 * reference): {approval, duplicate, run}. *stored says whether the answer is stored
 * (also when an error came after that: the run then continues at the next start). */
int sa_app_decide(struct sa_app *app, const char *id, const json_t *response, const char *reviewer,
                  json_t *detail, json_t **out, bool *stored, struct sa_err *err) SA_WUR;

/* Where a continuation's events go (sa_app_decide_run): the graph's stream modes and
 * subscriber, and a cancel flag (may be NULL); all borrowed for the call. */
struct sa_decide_stream {
    unsigned modes;
    graph_stream_fn on_event;
    void *arg;
    const volatile int *cancel;
};
/* sa_app_decide whose continuation streams its events (stream may be NULL: none), for
 * the Agent Server API's resume of a BDR thread (app/agentserver.c). */
int sa_app_decide_run(struct sa_app *app, const char *id, const json_t *response,
                      const char *reviewer, const struct sa_decide_stream *stream, json_t *detail,
                      json_t **out, bool *stored, struct sa_err *err) SA_WUR;

/* The pending approval that thread_id's latest checkpoint waits on: its id and request
 * (*request: new reference). SA_ENOTFOUND when the thread is no pipeline thread or waits
 * on no pending approval (never asked, or decided already). */
int sa_app_approval_pending(struct sa_app *app, const char *thread_id, char id[SA_UUID_LEN],
                            json_t **request, struct sa_err *err) SA_WUR;

/* A new run with new input on thread_id starts its graph over from START, so the
 * interrupts its pending approvals answer are gone: marks them superseded by run by (its
 * run id, or the invoke's execution id; NULL: not known), so that answering one is 409
 * and the newer run's own approval is the one that counts. Called by the new run once the
 * thread is its own, just before its input checkpoint is saved (graph_input_hook; an
 * approval answered after the save would be accepted with nothing left to continue).
 * SA_ESTORE when the store failed: the run MUST NOT save its input then. */
int sa_app_supersede_approvals(struct sa_app *app, const char *thread_id, const char *by,
                               struct sa_err *err) SA_WUR;
/* Undoes sa_app_supersede_approvals(thread_id, by) when the run's input checkpoint was not
 * saved after all (the thread still waits on the old interrupt): the approvals run by
 * superseded are pending again. A store failure is logged. */
void sa_app_unsupersede_approvals(struct sa_app *app, const char *thread_id, const char *by);

/* At start-up, and every few passes of the run workers' keeper: continues the threads
 * whose approval was answered but which nobody continued (a stopped server, a request
 * that died mid-way; each under the approval's resumption claim), among the 500 newest
 * approvals; *resumed counts them. A thread with a queued or running run is that run's.
 * stop (may be NULL) is asked between approvals, so a stopping process does not finish
 * the pass. An approval that fails is logged and the others still go on; the first
 * failure is returned. */
int sa_app_resume_decided(struct sa_app *app, bool (*stop)(void *arg), void *stop_arg, int *resumed,
                          struct sa_err *err) SA_WUR;

/* Approvals with status (NULL: any), newest first, at most limit (new reference). */
int sa_app_approvals_list(struct sa_store *store, const char *status, int limit, json_t **out,
                          struct sa_err *err) SA_WUR;
/* One approval (new reference), or SA_ENOTFOUND with a message for the client. */
int sa_app_approval_get(struct sa_store *store, const char *id, json_t **out,
                        struct sa_err *err) SA_WUR;

#endif
