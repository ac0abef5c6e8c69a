/* The thread API (get_state, history, update_state), subgraphs as nodes, and retention
 * (prune, delete, TTL sweep): everything that reads or rewrites a thread's checkpoints
 * outside a run. See graph.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "graph/run.h"

/* ---- state API ---------------------------------------------------------------------- */

static json_t *state_of(struct run *r)
{
    json_t *tasks = json_array();
    json_t *ints = json_object_get(r->pending, "interrupts");
    json_t *next = graph_r_next_nodes(r);
    size_t i;
    json_t *nm;
    json_array_foreach(next, i, nm)
    {
        json_t *mine = json_array();
        size_t k;
        json_t *it;
        json_array_foreach(ints, k, it) if (json_equal(json_object_get(it, "node"), nm))
            json_array_append(mine, it);
        json_array_append_new(tasks, json_pack("{s:O, s:o}", "name", nm, "interrupts", mine));
    }
    return json_pack("{s:o, s:o, s:{s:s, s:s}, s:o, s:{s:s, s:i, s:O}, s:s, s:o}", "values",
                     graph_r_snapshot(r), "next", next, "config", "thread_id", r->thread_id,
                     "checkpoint_id", r->cp_id, "parent_config",
                     r->parent_id[0] ? json_pack("{s:s, s:s}", "thread_id", r->thread_id,
                                                 "checkpoint_id", r->parent_id)
                                     : json_null(),
                     "metadata", "source", r->source, "step", r->step, "writes", r->step_writes,
                     "created_at", r->created_at, "tasks", tasks);
}

int graph_get_state(const struct graph *g, const char *thread_id, const char *checkpoint_id,
                    json_t **out, struct sa_err *err)
{
    *out = NULL;
    if (!g->saver)
        return sa_err_set(err, SA_EINVAL, "the graph has no checkpointer");
    struct graph_run_opts o = {.thread_id = thread_id};
    struct run r;
    int rc = graph_r_run_init(&r, g, &o) ? sa_err_set(err, SA_ENOMEM, "out of memory") : 0;
    if (!rc)
        rc = graph_r_load_checkpoint(&r, checkpoint_id, err);
    if (!rc)
        *out = state_of(&r);
    graph_r_run_free(&r);
    return rc;
}

int graph_get_state_history(const struct graph *g, const char *thread_id, int limit, json_t **out,
                            struct sa_err *err)
{
    *out = NULL;
    if (!g->saver)
        return sa_err_set(err, SA_EINVAL, "the graph has no checkpointer");
    char(*ids)[GRAPH_ID_LEN] = NULL;
    int n = 0;
    int rc = graph_saver_list(g->saver, thread_id, limit, &ids, &n, err);
    json_t *arr = json_array();
    for (int i = 0; i < n && !rc; i++) {
        json_t *s;
        rc = graph_get_state(g, thread_id, ids[i], &s, err);
        if (!rc)
            json_array_append_new(arr, s);
    }
    free(ids);
    if (rc)
        json_decref(arr);
    else
        *out = arr;
    return rc;
}

/* Enters o->thread_id as hold (see graph_r_busy_enter) and loads its checkpoint (the
 * latest when checkpoint_id is NULL) into r, whose opts is o (MUST outlive r). On success
 * the caller frees r and leaves the thread when done; on failure nothing is left to undo. */
static int thread_open(const struct graph *g, const struct graph_run_opts *o,
                       const char *checkpoint_id, enum graph_hold hold, struct run *r,
                       struct sa_err *err)
{
    int rc = graph_r_busy_enter(g, o->thread_id, hold, err);
    if (rc)
        return rc;
    rc = graph_r_run_init(r, g, o) ? sa_err_set(err, SA_ENOMEM, "out of memory") : 0;
    if (!rc)
        rc = graph_r_load_checkpoint(r, checkpoint_id, err);
    if (rc) {
        graph_r_run_free(r);
        graph_r_busy_leave(g, o->thread_id);
    }
    return rc;
}

int graph_update_state(const struct graph *g, const char *thread_id, const char *checkpoint_id,
                       const json_t *values, const char *as_node, char new_id[40],
                       struct sa_err *err)
{
    new_id[0] = '\0';
    if (!g->saver)
        return sa_err_set(err, SA_EINVAL, "the graph has no checkpointer");
    if (!json_is_object(values))
        return sa_err_set(err, SA_EINVAL, "update_state needs an object of channel values");
    int node = 0;
    if (as_node && (node = graph_node_index(g, as_node, false)) <= 0)
        return sa_err_set(err, SA_EINVAL, "update_state as unknown node \"%s\"", as_node);
    struct graph_run_opts o = {.thread_id = thread_id};
    struct run r;
    int rc = thread_open(g, &o, checkpoint_id, GRAPH_HOLD_RUN, &r, err);
    if (rc)
        return rc;
    struct task t = {.node = node};
    if (!rc) {
        if (as_node) {
            /* as if as_node ran: its triggers are consumed, its edges fire */
            rc = graph_r_build_writes(&r, &t, (json_t *)values, err);
            if (!rc)
                graph_r_mark_seen(&r, &t, 1);
        } else {
            /* values only: no routing, the pending triggers stay as they were */
            t.writes = json_array();
            const char *key;
            json_t *v;
            json_object_foreach((json_t *)values, key, v)
            {
                int c = graph_chan_index(g, key);
                if (c < 0 || g->chans[c].kind != CH_STATE) {
                    rc = sa_err_set(err, SA_EINVAL, "\"%s\" is not a channel", key);
                    break;
                }
                json_array_append_new(t.writes, json_pack("[s, O]", key, v));
            }
        }
    }
    if (!rc)
        rc = graph_r_apply_writes(&r, &t, 1, err);
    if (!rc) {
        r.step++;
        json_decref(r.step_writes);
        r.step_writes = json_pack("{s:O}", as_node ? as_node : "__update__", values);
        rc = graph_r_save_checkpoint(&r, "update", err);
    }
    if (!rc)
        memcpy(new_id, r.cp_id, GRAPH_ID_LEN);
    json_decref(t.writes);
    json_decref(t.update);
    graph_r_run_free(&r);
    graph_r_busy_leave(g, thread_id);
    return rc;
}

/* ---- subgraphs ---------------------------------------------------------------------- */

/* The keys of values that are state channels of g (new reference). */
static json_t *only_channels(const struct graph *g, const json_t *values)
{
    json_t *out = json_object();
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)values, key, v)
    {
        int c = graph_chan_index(g, key);
        if (c >= 0 && g->chans[c].kind == CH_STATE)
            json_object_set(out, key, v);
    }
    return out;
}

/* The first pending interrupt of a subgraph thread's snapshot, or NULL (borrowed). */
static json_t *first_interrupt(const json_t *snap)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(snap, "tasks"), i, t)
    {
        json_t *ints = json_object_get(t, "interrupts");
        if (json_array_size(ints))
            return json_array_get(ints, 0);
    }
    return NULL;
}

/* Runs a subgraph as a node. The parent task's resume list holds the answers to the
 * subgraph's interrupts in order; the subgraph has consumed all but the newest when the
 * parent re-runs, so the newest resumes it, and a new interrupt of the subgraph is raised
 * as the parent's next one (index = answers given). */
int graph_subgraph_node(const json_t *state, json_t **update, struct graph_ctx *ctx, void *arg)
{
    const struct graph *sub = arg;
    struct run *r = ctx->r;
    struct task *t = ctx->t;
    char thread[256];
    snprintf(thread, sizeof thread, "%s|%s", r->thread_id ? r->thread_id : "-", t->id);
    size_t answers = json_array_size(t->resume);
    struct graph_run_opts o = {.thread_id = sub->saver ? thread : NULL};
    struct graph_result res = {0};
    struct sa_err err = {0};
    int rc = 0;
    json_t *snap = NULL;
    bool exists = sub->saver && graph_get_state(sub, thread, NULL, &snap, &err) == 0;
    json_t *pending = exists ? first_interrupt(snap) : NULL;
    if (!exists) {
        json_t *input = only_channels(sub, state);
        rc = graph_invoke(sub, input, &o, &res, &err);
        json_decref(input);
    } else if (pending && answers == 0) {
        /* the parent re-runs without an answer: ask again */
        t->interrupts_called = 0;
        graph_interrupt(ctx, json_object_get(pending, "value"));
        json_decref(snap);
        return SA_EINTERRUPT;
    } else if (pending) {
        o.resume = json_array_get(t->resume, answers - 1);
        rc = graph_invoke(sub, NULL, &o, &res, &err);
    } else {
        /* finished before (the parent step failed after it): its final values stand */
        res.status = GRAPH_DONE;
        res.values = json_incref(json_object_get(snap, "values"));
    }
    json_decref(snap);
    if (rc) {
        graph_result_clear(&res);
        return graph_ctx_fail(ctx, rc, "subgraph \"%s\": %s", graph_ctx_node(ctx), err.msg);
    }
    if (res.status == GRAPH_INTERRUPTED && json_array_size(res.interrupts) > 0) {
        t->interrupts_called = (int)answers;
        graph_interrupt(ctx, json_object_get(json_array_get(res.interrupts, 0), "value"));
        graph_result_clear(&res);
        return SA_EINTERRUPT;
    }
    *update = only_channels(r->g, res.values);
    graph_result_clear(&res);
    return 0;
}

/* ---- retention ---------------------------------------------------------------------- */

int graph_delete_thread(const struct graph *g, const char *thread_id, struct sa_err *err)
{
    if (!g->saver)
        return sa_err_set(err, SA_EINVAL, "the graph has no checkpointer");
    return graph_saver_delete_thread(g->saver, thread_id, err);
}

int graph_prune_thread(const struct graph *g, const char *thread_id, struct sa_err *err)
{
    if (!g->saver)
        return sa_err_set(err, SA_EINVAL, "the graph has no checkpointer");
    struct graph_run_opts o = {.thread_id = thread_id};
    struct run r;
    int rc = thread_open(g, &o, NULL, GRAPH_HOLD_MAINTENANCE, &r, err);
    if (rc)
        return rc;
    json_t *pending = NULL;
    if (!rc) {
        /* the same state, as one full record with no parent; then the rest goes */
        pending = json_incref(r.pending);
        char source[16];
        memcpy(source, r.source, sizeof source);
        r.force_full = true;
        rc = graph_r_save_checkpoint(&r, source, err);
        r.force_full = false;
    }
    if (!rc) {
        json_decref(r.pending);
        r.pending = pending;
        pending = NULL;
        rc = graph_r_save_pending(&r, err);
    }
    if (!rc)
        rc = graph_saver_delete_except(g->saver, thread_id, r.cp_id, err);
    json_decref(pending);
    graph_r_run_free(&r);
    graph_r_busy_leave(g, thread_id);
    return rc;
}

int graph_sweep(const struct graph *g, int *n, struct sa_err *err)
{
    *n = 0;
    if (!g->saver)
        return 0;
    return graph_saver_sweep(g->saver, sa_wall_seconds(), n, err);
}
