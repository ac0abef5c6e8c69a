/* The one-draft rule: a lead has at most one outreach draft under way. A pipeline run
 * started on a stored lead by the API (POST /api/runs with lead_id, an invoke of the
 * pipeline or of bdr with lead_id) is refused while the lead has an approval pending, a
 * run queued or running, or such a start in progress in this process, so an operator who
 * presses "Draft outreach" twice (or two operators at once) gets one draft, not two.
 * Called by the runs service (sa_runs_submit) and the invoke service (sa_app_invoke). */
#ifndef SA_APP_DRAFTS_H
#define SA_APP_DRAFTS_H

#include <jansson.h>
#include <stdbool.h>

#include "base/err.h"
#include "base/uuid.h"

struct sa_app;

/* What a refused start collided with: kind "approval" (id: the pending approval), "run"
 * (id: the run queued or running) or "invoke" (a pipeline invoke still running in this
 * process; id: its thread). */
struct sa_draft_blocker {
    char kind[16];
    char id[130];
    char thread_id[130];
};

/* A claim on a lead for a start in progress (sa_app_draft_claim). */
struct sa_draft_claim {
    char lead_id[SA_UUID_LEN];
    bool held;
};

/* Claims lead_id for a start named by kind ("run" or "invoke") and id (the run's id, or
 * the invoke's thread), until sa_app_draft_release. thread_id is the thread the start
 * gives its input to: a draft pending on that very thread does not refuse it, since the
 * start replaces it (its approval is superseded, app/approvals.h), leaving one draft. The check of the store and the claim
 * are one step among this process's claimers; across instances two starts in the same
 * instant may both pass (the store has no lock for it). Returns 0 with c held;
 * SA_ECONFLICT with *b filled and err's message (for clients) naming what is under way;
 * or the store's error. */
int sa_app_draft_claim(struct sa_app *app, const char *lead_id, const char *kind, const char *id,
                       const char *thread_id, struct sa_draft_claim *c,
                       struct sa_draft_blocker *b, struct sa_err *err) SA_WUR;
/* Releases a held claim (the start's record is in the store, or it failed); a claim not
 * held is left alone. */
void sa_app_draft_release(struct sa_draft_claim *c);

/* The 409's detail for a refused start (a FastAPI detail list, new reference): one entry
 * at loc ("body.lead_id") of type "draft_pending" with msg and ctx {lead_id, and
 * approval_id, run_id or thread_id as b says}. */
json_t *sa_draft_conflict_detail(const struct sa_draft_blocker *b, const char *lead_id,
                                 const char *loc, const char *msg);

#endif
