/* The approvals service: the BDR workflow's human step. Interrupts of a run become
 * stored approvals; an answer (an Agent Inbox HumanResponse) is recorded once and the
 * run continues from its checkpoint; at start-up, answered approvals whose run a stopped
 * server did not continue are resumed.
 *
 * Recording an answer once is not enough: the request that stored it, a duplicate of it
 * (the same answer, on any instance), and another instance's start-up all go on to
 * continue the thread, and two of them doing so at once would run the steps after the
 * approval twice (the outbox's idempotency keys stop a second e-mail, not a second
 * execution). So the continuation is claimed in the store first (approval_claim_resume,
 * a lease held for RESUME_LEASE visibility timeouts and released when done): whoever
 * loses answers with the approval as stored and no run, as for a thread already
 * continued. */
#include "app/approvals.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agents/bdr.h"
#include "agents/pipeline.h"
#include "app/app.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "base/uuid.h"
#include "graph/graph.h"
#include "store/store.h"

int sa_app_record_interrupts(struct sa_store *store, const char *thread_id, const char *lead_id,
                             const json_t *interrupts, json_t **approvals, struct sa_err *err)
{
    *approvals = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(interrupts, i, it)
    {
        const char *iid = json_string_value(json_object_get(it, "id"));
        json_t *value = json_object_get(it, "value");
        json_t *req = json_is_array(value) ? json_array_get(value, 0) : value;
        char *text = json_dumps(req, JSON_COMPACT);
        char id[SA_UUID_LEN], got[37];
        sa_uuid_v7(id);
        int rc = text && iid
                     ? sa_store_approval_put(store, id, thread_id, iid, lead_id, text, got, err)
                     : sa_err_set(err, SA_ENOMEM, "out of memory");
        free(text);
        if (rc) {
            json_decref(*approvals);
            *approvals = NULL;
            return rc;
        }
        char link[80];
        snprintf(link, sizeof link, "/api/approvals/%s", got);
        json_array_append_new(*approvals,
                              json_pack("{s:s, s:s, s:O, s:s}", "approval_id", got, "node",
                                        json_string_value(json_object_get(it, "node")) ?: "",
                                        "request", req, "link", link));
    }
    return 0;
}

/* Whether approval a (a stored approval) was superseded by a newer run on its thread. */
static bool superseded(const json_t *a)
{
    return strcmp(json_string_value(json_object_get(a, "status")) ?: "", "superseded") == 0;
}

/* SA_ECONFLICT for an answer to superseded approval a, naming the run that did it. */
static int superseded_conflict(const json_t *a, struct sa_err *err)
{
    const char *by = json_string_value(json_object_get(a, "superseded_by"));
    return sa_err_set(err, SA_ECONFLICT,
                      "approval %s was superseded by %s%s (new input started its thread over): "
                      "nothing is left to answer; answer the newer run's approval",
                      json_string_value(json_object_get(a, "id")) ?: "?",
                      by ? "run " : "a newer run", by ? by : "");
}

int sa_app_supersede_approvals(struct sa_app *app, const char *thread_id, const char *by,
                               struct sa_err *err)
{
    int n = 0;
    int rc = sa_store_approval_supersede(app->store, thread_id, by, &n, err);
    if (!rc && n > 0)
        sa_log(SA_LOG_INFO, "approvals superseded by a new run on their thread",
               json_pack("{s:s, s:s?, s:i}", "thread_id", thread_id, "superseded_by", by,
                         "approvals", n));
    return rc;
}

void sa_app_unsupersede_approvals(struct sa_app *app, const char *thread_id, const char *by)
{
    int n = 0;
    struct sa_err e = {0};
    if (sa_store_approval_unsupersede(app->store, thread_id, by, &n, &e))
        sa_log(SA_LOG_ERROR, "approvals superseded by a run that saved nothing not restored",
               json_pack("{s:s, s:s?, s:s}", "thread_id", thread_id, "superseded_by", by, "error",
                         e.msg));
    else if (n > 0)
        sa_log(SA_LOG_INFO, "approvals pending again: the run that superseded them saved nothing",
               json_pack("{s:s, s:s?, s:i}", "thread_id", thread_id, "superseded_by", by,
                         "approvals", n));
}

/* Where the thread stands: 2 when its latest checkpoint still waits on interrupt_id, 1
 * when it has other steps left and waits on no interrupt (a run stopped after the answer,
 * e.g. a killed server), 0 when it has finished or waits on another interrupt (a later
 * run on the same thread id asks its own question: not this approval's to continue). */
static int thread_position(struct sa_app *app, const char *thread_id, const char *interrupt_id)
{
    json_t *snap = NULL;
    struct sa_err e = {0};
    if (graph_get_state(sa_pipeline_graph(app->pipeline), thread_id, NULL, &snap, &e))
        return 0;
    bool pending = false, other = false;
    size_t i, k;
    json_t *t, *it;
    json_array_foreach(json_object_get(snap, "tasks"), i, t)
    {
        json_array_foreach(json_object_get(t, "interrupts"), k, it)
        {
            bool mine =
                strcmp(json_string_value(json_object_get(it, "id")) ?: "", interrupt_id) == 0;
            pending |= mine;
            other |= !mine;
        }
    }
    int pos = pending ? 2 : !other && json_array_size(json_object_get(snap, "next")) > 0 ? 1 : 0;
    json_decref(snap);
    return pos;
}

/* The resumption's lease, in run visibility timeouts (5 minutes by default). Nothing
 * renews it (the steps run in the answering request's thread), so it must outlast any
 * continuation with its model calls and their timeouts; a holder that dies keeps others
 * out only this long. */
#define RESUME_LEASE 10
/* A holder that dies mid-way is repaired by the run workers' keeper, which calls
 * sa_app_resume_decided every few reconciler passes (app/runs.c): once the lease ended,
 * the thread is continued there (or at a start-up). */

/* The lease's time: the real wall clock, not the business clock (see app/runs.c). */
static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Continues the thread from position pos (thread_position); see resume_approval. */
static int resume_thread(struct sa_app *app, const json_t *approval, const char *thread,
                         const char *iid, int pos, const struct sa_decide_stream *stream,
                         json_t **run, struct sa_err *err)
{
    json_t *resume =
        pos == 2 ? json_pack("{s:O}", iid, json_object_get(approval, "response")) : NULL;
    struct graph_result gr;
    int rc;
    if (stream) {
        struct graph_run_opts o = {.thread_id = thread,
                                   .resume = resume,
                                   .stream_modes = stream->modes,
                                   .on_event = stream->on_event,
                                   .event_arg = stream->arg,
                                   .cancel = stream->cancel};
        rc = graph_invoke(sa_pipeline_graph(app->pipeline), NULL, &o, &gr, err);
    } else {
        rc = sa_pipeline_resume(app->pipeline, thread, resume, &gr, err);
    }
    json_decref(resume);
    /* Two answers racing: the other request is resuming the thread right now (busy), or
     * resumed it between our look and our resume, so the graph says no interrupt is
     * pending. Either way the run goes on without us. Any other failure is one. */
    if (rc == SA_ECONFLICT ||
        (rc == SA_EINVAL && pos == 2 && thread_position(app, thread, iid) != 2))
        return 0;
    if (rc)
        return rc;
    json_t *approvals = NULL;
    if (gr.status == GRAPH_INTERRUPTED &&
        (rc = sa_app_record_interrupts(app->store, thread,
                                       json_string_value(json_object_get(approval, "lead_id")),
                                       gr.interrupts, &approvals, err))) {
        graph_result_clear(&gr);
        return rc;
    }
    *run =
        json_pack("{s:s, s:O?, s:O?}", "status", gr.status == GRAPH_DONE ? "done" : "interrupted",
                  "bdr_decision", json_object_get(gr.values, "bdr_decision"), "bdr_actions",
                  json_object_get(gr.values, "bdr_actions"));
    if (approvals)
        json_object_set_new(*run, "approvals", approvals);
    graph_result_clear(&gr);
    if (app->outbox_kick)
        app->outbox_kick(app->outbox_kick_arg);
    return 0;
}

/* Continues the approval's thread: with its recorded response when the thread still
 * waits for it, from its checkpoint when steps are left after it; *run (new reference,
 * may stay NULL) gets {status, bdr_decision, bdr_actions}. Only under the resumption's
 * claim (see the top of the file): when another request or instance holds it, *run
 * stays NULL and 0 is returned. */
static int resume_approval(struct sa_app *app, const json_t *approval,
                           const struct sa_decide_stream *stream, json_t **run, struct sa_err *err)
{
    *run = NULL;
    const char *id = json_string_value(json_object_get(approval, "id"));
    const char *thread = json_string_value(json_object_get(approval, "thread_id"));
    const char *iid = json_string_value(json_object_get(approval, "interrupt_id"));
    /* a finished thread needs no claim: a start-up looks at every decided approval; a
     * superseded approval's thread is its newer run's */
    if (!id || !thread || !iid || superseded(approval) || thread_position(app, thread, iid) == 0)
        return 0;
    char owner[SA_UUID_LEN];
    sa_uuid_v7(owner);
    long long visibility = app->cfg.run_visibility_ms > 0 ? app->cfg.run_visibility_ms : 30000;
    long long now = wall_ms();
    int rc = sa_store_approval_claim_resume(app->store, id, owner, now,
                                            now + RESUME_LEASE * visibility, err);
    if (rc == SA_ECONFLICT) {
        sa_log(SA_LOG_INFO, "approval's thread is being continued elsewhere",
               json_pack("{s:s, s:s}", "approval_id", id, "thread_id", thread));
        return 0;
    }
    if (rc)
        return rc;
    /* where the thread stands now, under the claim: the holder before us may have moved it */
    int pos = thread_position(app, thread, iid);
    rc = pos ? resume_thread(app, approval, thread, iid, pos, stream, run, err) : 0;
    struct sa_err e2 = {0};
    now = wall_ms();
    int rrc = sa_store_approval_claim_resume(app->store, id, owner, now, now, &e2);
    if (rrc) /* the lease ends by itself */
        sa_log(SA_LOG_WARN, "approval resumption not released",
               json_pack("{s:s, s:s}", "approval_id", id, "error", e2.msg));
    return rc;
}

int sa_app_decide(struct sa_app *app, const char *id, const json_t *response, const char *reviewer,
                  json_t *detail, json_t **out, bool *stored, struct sa_err *err)
{
    return sa_app_decide_run(app, id, response, reviewer, NULL, detail, out, stored, err);
}

int sa_app_decide_run(struct sa_app *app, const char *id, const json_t *response,
                      const char *reviewer, const struct sa_decide_stream *stream, json_t *detail,
                      json_t **out, bool *stored, struct sa_err *err)
{
    *out = NULL;
    *stored = false;
    json_t *approval = NULL;
    int rc = sa_store_approval_get(app->store, id, &approval, err);
    if (rc)
        return rc;
    if (superseded(approval)) {
        superseded_conflict(approval, err);
        json_decref(approval);
        return SA_ECONFLICT;
    }
    const json_t *request = json_object_get(approval, "request");
    if (sa_bdr_validate_response(response, request, "body", detail)) {
        json_decref(approval);
        return SA_EINVAL;
    }
    const char *type = json_string_value(json_object_get(response, "type"));
    static const char *const status_of[][2] = {{"accept", "accepted"},
                                               {"edit", "edited"},
                                               {"respond", "responded"},
                                               {"response", "responded"},
                                               {"ignore", "ignored"}};
    const char *status = "accepted";
    for (size_t i = 0; i < sizeof status_of / sizeof status_of[0]; i++)
        if (strcmp(type, status_of[i][0]) == 0)
            status = status_of[i][1];
    json_t *recorded = json_pack("{s:s, s:O?, s:s?}", "type", type, "args",
                                 json_object_get(response, "args"), "reviewer", reviewer);
    json_t *changes = sa_bdr_changes(request, response);
    char *rtext = json_dumps(recorded, JSON_COMPACT), *ctext = json_dumps(changes, JSON_COMPACT);
    rc = sa_store_approval_decide(app->store, id, status, rtext, reviewer, ctext, err);
    free(rtext);
    free(ctext);
    json_decref(changes);
    bool duplicate = false;
    if (rc == SA_ECONFLICT) {
        /* Answered before: the same answer is harmless, another one is a conflict. Compare
         * with the answer as stored now: the copy read above may predate a concurrent
         * request's answer. */
        json_decref(approval);
        approval = NULL;
        if ((rc = sa_store_approval_get(app->store, id, &approval, err))) {
            json_decref(recorded);
            return rc;
        }
        if (superseded(approval)) { /* by a new run, meanwhile */
            superseded_conflict(approval, err);
            json_decref(recorded);
            json_decref(approval);
            return SA_ECONFLICT;
        }
        const json_t *was = json_object_get(approval, "response");
        json_t *cmp = json_deep_copy(recorded);
        json_object_del(cmp, "reviewer");
        json_t *was_cmp = json_deep_copy(was);
        json_object_del(was_cmp, "reviewer");
        duplicate = json_equal(cmp, was_cmp);
        json_decref(cmp);
        json_decref(was_cmp);
        if (!duplicate) {
            sa_err_set(err, SA_ECONFLICT, "approval %s was already answered '%s' by %s", id,
                       json_string_value(json_object_get(was, "type")) ?: "another answer",
                       json_string_value(json_object_get(approval, "reviewer")) ?: "someone");
            json_decref(recorded);
            json_decref(approval);
            return SA_ECONFLICT;
        }
        rc = 0;
    }
    json_decref(recorded);
    json_decref(approval);
    if (rc)
        return rc;
    *stored = true;
    if ((rc = sa_store_approval_get(app->store, id, &approval, err)))
        return rc;
    json_t *run = NULL;
    rc = resume_approval(app, approval, stream, &run, err);
    if (rc) {
        json_decref(approval);
        return rc;
    }
    *out = json_pack("{s:o, s:b, s:o}", "approval", approval, "duplicate", duplicate, "run",
                     run ? run : json_null());
    return 0;
}

/* Whether a run of the store's still queued or running is on thread (*busy: their
 * threads, loaded on first use). */
static bool thread_has_run(struct sa_app *app, json_t **busy, const char *thread)
{
    struct sa_err e = {0};
    if (!*busy && sa_store_runs_unfinished(app->store, busy, &e))
        return true; /* unknown: leave it to a later pass */
    size_t i;
    json_t *o;
    json_array_foreach(*busy, i, o)
    {
        if (strcmp(json_string_value(json_object_get(o, "thread_id")) ?: "", thread) == 0)
            return true;
    }
    return false;
}

int sa_app_resume_decided(struct sa_app *app, bool (*stop)(void *arg), void *stop_arg, int *resumed,
                          struct sa_err *err)
{
    *resumed = 0;
    json_t *list = NULL, *busy = NULL;
    int rc = sa_store_approval_list(app->store, NULL, 500, &list, err);
    if (rc)
        return rc;
    size_t i;
    json_t *a;
    json_array_foreach(list, i, a)
    {
        if (stop && stop(stop_arg))
            break;
        if (strcmp(json_string_value(json_object_get(a, "status")) ?: "", "pending") == 0 ||
            superseded(a))
            continue;
        const char *thread = json_string_value(json_object_get(a, "thread_id"));
        const char *iid = json_string_value(json_object_get(a, "interrupt_id"));
        /* steps left after the answer, but a run (queued or running) is on the thread: the
         * steps are that run's, not a continuation someone left */
        if (thread && iid && thread_position(app, thread, iid) == 1 &&
            thread_has_run(app, &busy, thread))
            continue;
        json_t *run = NULL;
        struct sa_err e = {0};
        int one = resume_approval(app, a, NULL, &run, &e);
        if (one) { /* one thread failing must not keep the others waiting */
            sa_log(
                SA_LOG_WARN, "decided approval not continued",
                json_pack("{s:O, s:s}", "approval_id", json_object_get(a, "id"), "error", e.msg));
            if (!rc) {
                rc = one;
                *err = e;
            }
            continue;
        }
        *resumed += run != NULL;
        json_decref(run);
    }
    json_decref(busy);
    json_decref(list);
    return rc;
}

int sa_app_approvals_list(struct sa_store *store, const char *status, int limit, json_t **out,
                          struct sa_err *err)
{
    return sa_store_approval_list(store, status, limit, out, err);
}

int sa_app_approval_get(struct sa_store *store, const char *id, json_t **out, struct sa_err *err)
{
    int rc = sa_store_approval_get(store, id, out, err);
    if (rc == SA_ENOTFOUND)
        sa_err_set(err, rc, "No approval %.60s", id);
    return rc;
}

int sa_app_approval_pending(struct sa_app *app, const char *thread_id, char id[SA_UUID_LEN],
                            json_t **request, struct sa_err *err)
{
    id[0] = '\0';
    *request = NULL;
    json_t *snap = NULL;
    int rc = graph_get_state(sa_pipeline_graph(app->pipeline), thread_id, NULL, &snap, err);
    if (rc)
        return rc == SA_ECONFLICT ? sa_err_set(err, SA_ENOTFOUND, "not a pipeline thread") : rc;
    json_t *list = NULL;
    rc = sa_store_approval_list(app->store, "pending", 500, &list, err);
    size_t i, k, m;
    json_t *t, *it, *a;
    json_array_foreach(rc ? NULL : json_object_get(snap, "tasks"), i, t)
    {
        json_array_foreach(json_object_get(t, "interrupts"), k, it)
        {
            const char *iid = json_string_value(json_object_get(it, "id"));
            json_array_foreach(list, m, a)
            {
                if (!id[0] && iid && strcmp(sa_json_str(a, "thread_id") ?: "", thread_id) == 0 &&
                    strcmp(sa_json_str(a, "interrupt_id") ?: "", iid) == 0) {
                    snprintf(id, SA_UUID_LEN, "%s", sa_json_str(a, "id") ?: "");
                    *request = json_incref(json_object_get(a, "request"));
                }
            }
        }
    }
    json_decref(list);
    json_decref(snap);
    if (!rc && !id[0])
        rc = sa_err_set(err, SA_ENOTFOUND, "thread %s waits on no approval", thread_id);
    return rc;
}
