/* Running a compiled graph (see graph.h, docs/graph.md): super-steps, writes and
 * reducers, routing, tasks and retries, interrupts and resume, streaming, and
 * graph_invoke. Checkpoint records live in checkpoint.c, the thread API in state.c.
 *
 * A run holds every channel's value and version, and per node the versions it has seen.
 * A step: prepare the tasks (nodes whose trigger channels moved past what they saw, plus
 * the Sends of the last step), run them on the same snapshot (in parallel when the graph
 * has threads), then apply every task's writes in task order, so the result never
 * depends on scheduling. A checkpoint records only the channels the step changed; every
 * full_every records it records them all, so reading a state replays at most that many
 * records and a thread's storage grows linearly with its steps. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "graph/run.h"

/* ---- small helpers ------------------------------------------------------------------ */

const char *graph_r_chan_name(const struct run *r, int c)
{
    return r->g->chans[c].name;
}

uint64_t *graph_r_seen_at(struct run *r, int node, int chan)
{
    return &r->seen[(size_t)node * (size_t)r->g->nchans + (size_t)chan];
}

void graph_r_emit(struct run *r, enum graph_stream_mode mode, json_t *data)
{
    const struct graph_run_opts *o = r->opts;
    if (o && o->on_event && (o->stream_modes & mode)) {
        pthread_mutex_lock(&r->emit_lock);
        o->on_event(mode, data, o->event_arg);
        pthread_mutex_unlock(&r->emit_lock);
    }
    json_decref(data);
}

bool graph_r_wants(const struct run *r, unsigned modes)
{
    return r->opts && r->opts->on_event && (r->opts->stream_modes & modes);
}

json_t *graph_r_pending_new(void)
{
    return json_pack("{s:{}, s:{}, s:[], s:b}", "tasks", "resume", "interrupts", "before", 0);
}

int graph_r_run_init(struct run *r, const struct graph *g, const struct graph_run_opts *opts)
{
    memset(r, 0, sizeof *r);
    r->g = g;
    r->opts = opts;
    r->thread_id = opts ? opts->thread_id : NULL;
    size_t nc = (size_t)g->nchans, nn = (size_t)g->nnodes;
    r->vals = calloc(nc, sizeof(json_t *));
    r->ver = calloc(nc, sizeof *r->ver);
    r->seen = calloc(nc * nn, sizeof *r->seen);
    r->dirty = calloc(nc, sizeof *r->dirty);
    r->seen_dirty = calloc(nn, sizeof *r->seen_dirty);
    r->sends = json_array();
    r->pending = graph_r_pending_new();
    r->step_writes = json_object();
    r->step = -1;
    pthread_mutex_init(&r->emit_lock, NULL);
    pthread_mutex_init(&r->pending_lock, NULL);
    if (!r->vals || !r->ver || !r->seen || !r->dirty || !r->seen_dirty)
        return SA_ENOMEM;
    for (int c = 0; c < g->nchans; c++)
        r->vals[c] = json_incref(g->chans[c].initial);
    return 0;
}

void graph_r_run_free(struct run *r)
{
    for (int c = 0; r->vals && c < r->g->nchans; c++)
        json_decref(r->vals[c]);
    free(r->vals);
    free(r->ver);
    free(r->seen);
    free(r->dirty);
    free(r->seen_dirty);
    json_decref(r->sends);
    json_decref(r->pending);
    json_decref(r->step_writes);
    pthread_mutex_destroy(&r->emit_lock);
    pthread_mutex_destroy(&r->pending_lock);
}

/* The state as nodes see it: every state channel that has a value (new reference; the
 * values are shared, nodes MUST NOT modify them). */
json_t *graph_r_snapshot(const struct run *r)
{
    json_t *s = json_object();
    for (int c = 0; c < r->g->nchans; c++)
        if (r->g->chans[c].kind == CH_STATE && r->vals[c])
            json_object_set(s, graph_r_chan_name(r, c), r->vals[c]);
    return s;
}

/* ---- reducers ----------------------------------------------------------------------- */

/* Folds writes (an array, in task order) into channel c's current value. Sets *out (new
 * reference, or NULL for "no value") or returns SA_EINVAL with err. */
static int reduce(const struct run *r, int c, const json_t *current, const json_t *writes,
                  json_t **out, struct sa_err *err)
{
    const struct chan_def *ch = &r->g->chans[c];
    size_t n = json_array_size(writes);
    *out = NULL;
    switch (ch->reducer) {
    case GRAPH_LAST_VALUE:
    case GRAPH_EPHEMERAL:
        if (n > 1)
            return sa_err_set(err, SA_EINVAL,
                              "InvalidUpdateError: channel \"%s\" can receive only one value "
                              "per step; got %zu (use a reducer such as GRAPH_APPEND)",
                              ch->name, n);
        *out = json_incref(json_array_get(writes, 0));
        return 0;
    case GRAPH_TOPIC: *out = json_copy((json_t *)writes); return 0;
    case GRAPH_APPEND: {
        json_t *acc = json_is_array(current) ? json_copy((json_t *)current) : json_array();
        size_t i;
        json_t *w;
        json_array_foreach(writes, i, w)
        {
            if (json_is_array(w))
                json_array_extend(acc, w);
            else
                json_array_append(acc, w);
        }
        *out = acc;
        return 0;
    }
    case GRAPH_MERGE: {
        json_t *acc = json_is_object(current) ? json_copy((json_t *)current) : json_object();
        size_t i;
        json_t *w;
        json_array_foreach(writes, i, w)
        {
            if (!json_is_object(w)) {
                json_decref(acc);
                return sa_err_set(err, SA_EINVAL,
                                  "InvalidUpdateError: channel \"%s\" merges objects; got a %s",
                                  ch->name, json_is_array(w) ? "list" : "non-object value");
            }
            json_object_update(acc, w);
        }
        *out = acc;
        return 0;
    }
    case GRAPH_SUM: {
        double sum = json_is_number(current) ? json_number_value(current) : 0;
        bool all_int = !current || json_is_integer(current);
        size_t i;
        json_t *w;
        json_array_foreach(writes, i, w)
        {
            if (!json_is_number(w))
                return sa_err_set(err, SA_EINVAL, "InvalidUpdateError: channel \"%s\" sums numbers",
                                  ch->name);
            all_int &= json_is_integer(w) != 0;
            sum += json_number_value(w);
        }
        *out = all_int && fabs(sum) < 9e15 ? json_integer((json_int_t)sum) : json_real(sum);
        return 0;
    }
    case GRAPH_CUSTOM: {
        json_t *acc = json_incref((json_t *)current);
        size_t i;
        json_t *w;
        json_array_foreach(writes, i, w)
        {
            json_t *next = ch->fn(acc, w, ch->arg);
            json_decref(acc);
            if (!next)
                return sa_err_set(err, SA_EINVAL,
                                  "InvalidUpdateError: the reducer of \"%s\" refused a write",
                                  ch->name);
            acc = next;
        }
        *out = acc;
        return 0;
    }
    }
    return sa_err_set(err, SA_EINVAL, "unknown reducer");
}

/* ---- routing: a task's writes -------------------------------------------------------- */

/* Appends the write [name, value] to list (value borrowed; NULL: null). Built by hand:
 * json_pack parses its format string on every call, and writes are made per task. */
static void push_write(json_t *list, const char *name, json_t *value)
{
    json_t *w = json_array();
    json_array_append_new(w, json_string_nocheck(name));
    json_array_append(w, value ? value : json_null());
    json_array_append_new(list, w);
}

static int add_target(struct run *r, struct task *t, const json_t *target, const json_t *path_map,
                      struct sa_err *err)
{
    const struct graph *g = r->g;
    if (json_is_array(target)) {
        size_t i;
        json_t *x;
        json_array_foreach(target, i, x)
        {
            int rc = add_target(r, t, x, path_map, err);
            if (rc)
                return rc;
        }
        return 0;
    }
    if (json_is_object(target) && json_object_get(target, "__send__")) {
        const char *node = json_string_value(json_object_get(target, "__send__"));
        if (!node || graph_node_index(g, node, false) <= 0)
            return sa_err_set(err, SA_EINVAL, "Send to unknown node \"%s\"", node ? node : "?");
        json_t *arg = json_object_get(target, "arg");
        json_t *send = json_pack("{s:s, s:O}", "node", node, "arg", arg ? arg : json_null());
        push_write(t->writes, "__send__", send);
        json_decref(send);
        return 0;
    }
    const char *name = json_string_value(target);
    if (name && path_map) {
        json_t *mapped = json_object_get(path_map, name);
        if (!mapped)
            return sa_err_set(err, SA_EINVAL,
                              "router of \"%s\" returned \"%s\", not in its path map",
                              g->nodes[t->node].name, name);
        name = json_string_value(mapped);
    }
    if (!name)
        return sa_err_set(err, SA_EINVAL, "router of \"%s\" returned neither a node nor a Send",
                          g->nodes[t->node].name);
    int n = graph_node_index(g, name, true);
    if (n == GRAPH_END_IDX)
        return 0;
    if (n <= 0)
        return sa_err_set(err, SA_EINVAL, "\"%s\" routes to unknown node \"%s\"",
                          g->nodes[t->node].name, name);
    push_write(t->writes, graph_r_chan_name(r, g->nodes[n].trigger_chan), NULL);
    return 0;
}

/* The state a router reads: the snapshot with the task's own state writes applied. */
static int local_state(struct run *r, const json_t *state_writes, json_t **out, struct sa_err *err)
{
    json_t *s = graph_r_snapshot(r);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)state_writes, key, v)
    {
        int c = graph_chan_index(r->g, key);
        json_t *one = json_pack("[O]", v), *nv = NULL;
        int rc = reduce(r, c, r->vals[c], one, &nv, err);
        json_decref(one);
        if (rc) {
            json_decref(s);
            return rc;
        }
        if (nv)
            json_object_set_new(s, key, nv);
        else
            json_object_del(s, key);
    }
    *out = s;
    return 0;
}

/* Turns what node t returned (an update object, or a Command) into t->writes: its state
 * writes, then the writes that route: triggers of its successors, its barrier names,
 * the targets of its conditional edges and Command goto, and its Sends. */
int graph_r_build_writes(struct run *r, struct task *t, json_t *returned, struct sa_err *err)
{
    const struct graph *g = r->g;
    const struct node_def *n = &g->nodes[t->node];
    json_t *update = returned, *gotos = NULL;
    if (json_is_object(returned) && json_object_get(returned, "__command__")) {
        update = json_object_get(returned, "update");
        gotos = json_object_get(returned, "goto");
    }
    if (update && !json_is_null(update) && !json_is_object(update))
        return sa_err_set(err, SA_EINVAL,
                          "InvalidUpdateError: node \"%s\" returned a %s; expected an object of "
                          "channel values",
                          n->name, json_is_array(update) ? "list" : "non-object value");
    json_decref(t->writes);
    json_decref(t->update);
    t->writes = json_array();
    t->update = json_is_object(update) ? json_incref(update) : json_null();
    const char *key;
    json_t *v;
    json_object_foreach(update, key, v)
    {
        int c = graph_chan_index(g, key);
        if (c < 0 || g->chans[c].kind != CH_STATE)
            return sa_err_set(
                err, SA_EINVAL,
                "InvalidUpdateError: node \"%s\" wrote \"%s\", which is not a channel", n->name,
                key);
        push_write(t->writes, key, v);
    }
    for (int k = 0; k < n->nsucc; k++)
        if (n->succ[k] != GRAPH_END_IDX)
            push_write(t->writes, graph_r_chan_name(r, g->nodes[n->succ[k]].trigger_chan), NULL);
    for (int k = 0; k < n->nbarriers; k++) {
        json_t *name = json_string(n->name);
        push_write(t->writes, graph_r_chan_name(r, n->barriers[k]), name);
        json_decref(name);
    }
    int rc = 0;
    if (n->nconds) {
        json_t *local = NULL;
        rc = local_state(r, update, &local, err);
        for (int k = 0; k < n->nconds && !rc; k++) {
            const struct cond_edge *ce = &g->conds[n->conds[k]];
            json_t *next = NULL;
            rc = ce->fn(local, &next, ce->arg);
            if (rc)
                sa_err_set(err, rc, "router of \"%s\" failed", n->name);
            else
                rc = add_target(r, t, next, ce->path_map, err);
            json_decref(next);
        }
        json_decref(local);
    }
    if (!rc && gotos)
        rc = add_target(r, t, gotos, NULL, err);
    if (!rc && t->sends)
        rc = add_target(r, t, t->sends, NULL, err);
    return rc;
}

/* ---- applying a step ---------------------------------------------------------------- */

static bool barrier_complete(const struct run *r, int c)
{
    const struct chan_def *ch = &r->g->chans[c];
    const json_t *set = r->vals[c];
    for (int k = 0; k < ch->nsources; k++) {
        bool found = false;
        size_t i;
        json_t *x;
        json_array_foreach(set, i, x) found |=
            strcmp(json_string_value(x), r->g->nodes[ch->sources[k]].name) == 0;
        if (!found)
            return false;
    }
    return true;
}

static void set_val(struct run *r, int c, json_t *v)
{
    json_decref(r->vals[c]);
    r->vals[c] = v;
    r->dirty[c] = true;
    r->unsaved = true;
}

/* Applies the writes of tasks[0..n) in task order; collects next step's Sends. */
int graph_r_apply_writes(struct run *r, struct task *tasks, int n, struct sa_err *err)
{
    const struct graph *g = r->g;
    int nc = g->nchans;
    json_t *small[64] = {NULL};
    json_t **lists = nc <= 64 ? small : calloc((size_t)nc, sizeof(json_t *));
    if (!lists)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    json_t *sends = json_array();
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        size_t k;
        json_t *w;
        json_array_foreach(tasks[i].writes, k, w)
        {
            const char *name = json_string_value(json_array_get(w, 0));
            json_t *val = json_array_get(w, 1);
            if (name && strcmp(name, "__send__") == 0) {
                json_array_append(sends, val);
                continue;
            }
            int c = name ? graph_chan_index(g, name) : -1;
            if (c < 0) {
                rc = sa_err_set(err, SA_EINVAL, "write to unknown channel \"%s\"",
                                name ? name : "?");
                break;
            }
            if (!lists[c])
                lists[c] = json_array();
            json_array_append(lists[c], val);
        }
    }
    /* Barriers consumed by the nodes that ran start empty again. */
    for (int i = 0; i < n && !rc; i++) {
        const struct node_def *nd = &g->nodes[tasks[i].node];
        for (int k = 0; k < nd->ntriggers; k++) {
            int c = nd->triggers[k];
            if (g->chans[c].kind == CH_BARRIER && r->vals[c] && barrier_complete(r, c))
                set_val(r, c, NULL);
        }
    }
    for (int c = 0; c < nc && !rc; c++) {
        const struct chan_def *ch = &g->chans[c];
        if (!lists[c]) {
            bool clears = ch->kind == CH_TRIGGER ||
                          (ch->kind == CH_STATE &&
                           (ch->reducer == GRAPH_EPHEMERAL || ch->reducer == GRAPH_TOPIC));
            if (clears && r->vals[c])
                set_val(r, c, NULL);
            continue;
        }
        json_t *nv = NULL;
        if (ch->kind == CH_TRIGGER) {
            nv = json_null();
        } else if (ch->kind == CH_BARRIER) {
            nv = r->vals[c] ? json_copy(r->vals[c]) : json_array();
            size_t i;
            json_t *x;
            json_array_foreach(lists[c], i, x)
            {
                bool dup = false;
                size_t j;
                json_t *y;
                json_array_foreach(nv, j, y) dup |= json_equal(x, y);
                if (!dup)
                    json_array_append(nv, x);
            }
        } else if ((rc = reduce(r, c, r->vals[c], lists[c], &nv, err)) != 0) {
            break;
        }
        set_val(r, c, nv);
        r->ver[c]++;
    }
    for (int c = 0; c < nc; c++)
        json_decref(lists[c]);
    if (lists != small)
        free(lists);
    if (rc) {
        json_decref(sends);
        return rc;
    }
    json_decref(r->sends);
    r->sends = sends;
    return 0;
}

/* ---- preparing tasks ---------------------------------------------------------------- */

bool graph_r_triggered(struct run *r, int node)
{
    const struct node_def *nd = &r->g->nodes[node];
    for (int k = 0; k < nd->ntriggers; k++) {
        int c = nd->triggers[k];
        if (r->ver[c] > *graph_r_seen_at(r, node, c) &&
            (r->g->chans[c].kind != CH_BARRIER || barrier_complete(r, c)))
            return true;
    }
    return false;
}

/* The next step's tasks, in a fixed order: triggered nodes by declaration, then Sends in
 * the order they were made. Task ids are "STEP:NODE" (":sendK" for Sends): the same
 * tasks get the same ids when a checkpoint is resumed. Caller frees with tasks_free. */
static int prepare_tasks(struct run *r, struct task **out, int *nout)
{
    const struct graph *g = r->g;
    int cap = g->nnodes + (int)json_array_size(r->sends);
    struct task *ts = calloc((size_t)(cap > 0 ? cap : 1), sizeof *ts);
    if (!ts)
        return SA_ENOMEM;
    int n = 0;
    for (int i = 1; i < g->nnodes; i++) {
        if (!graph_r_triggered(r, i))
            continue;
        ts[n].node = i;
        snprintf(ts[n].id, sizeof ts[n].id, "%d:%s", r->step + 1, g->nodes[i].name);
        n++;
    }
    size_t k;
    json_t *s;
    json_array_foreach(r->sends, k, s)
    {
        int node = graph_node_index(g, json_string_value(json_object_get(s, "node")), false);
        if (node <= 0)
            continue;
        ts[n].node = node;
        ts[n].arg = json_incref(json_object_get(s, "arg"));
        snprintf(ts[n].id, sizeof ts[n].id, "%d:%s:send%zu", r->step + 1, g->nodes[node].name, k);
        n++;
    }
    *out = ts;
    *nout = n;
    return 0;
}

/* Marks the triggers of the tasks' nodes seen: done when their step is applied, so a
 * checkpoint saved before that (an interrupt, a failure) still triggers them on resume. */
void graph_r_mark_seen(struct run *r, const struct task *ts, int n)
{
    for (int i = 0; i < n; i++) {
        const struct node_def *nd = &r->g->nodes[ts[i].node];
        if (ts[i].arg) /* a Send is not triggered by a channel */
            continue;
        for (int k = 0; k < nd->ntriggers; k++)
            *graph_r_seen_at(r, ts[i].node, nd->triggers[k]) = r->ver[nd->triggers[k]];
        r->seen_dirty[ts[i].node] = true;
    }
}

static void tasks_free(struct task *ts, int n)
{
    for (int i = 0; i < n; i++) {
        json_decref(ts[i].arg);
        json_decref(ts[i].writes);
        json_decref(ts[i].update);
        json_decref(ts[i].interrupt);
        json_decref(ts[i].sends);
    }
    free(ts);
}

/* ---- running tasks ------------------------------------------------------------------ */

static bool retryable(const struct graph_retry *rp, int rc)
{
    if (rc == SA_EINTERRUPT)
        return false;
    if (rp->retry_on[0] == 0)
        return rc != SA_EINVAL;
    for (int i = 0; i < 8 && rp->retry_on[i]; i++)
        if (rp->retry_on[i] == rc)
            return true;
    return false;
}

static void sleep_seconds(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* In a step of several tasks, each finished task's writes are stored on the checkpoint
 * as soon as it finishes (LangGraph's put_writes), so a crash mid-step loses only the
 * tasks still running; a resume replays the stored ones. A failed store only costs that
 * guarantee: the step goes on and its checkpoint is saved as usual. */
static void record_finished(struct run *r, struct task *t)
{
    pthread_mutex_lock(&r->pending_lock);
    json_object_set_new(json_object_get(r->pending, "tasks"), t->id,
                        json_pack("{s:O, s:O}", "writes", t->writes, "update",
                                  t->update ? t->update : json_null()));
    struct sa_err err = {0};
    (void)graph_r_save_pending(r, &err);
    pthread_mutex_unlock(&r->pending_lock);
}

static void run_task(struct run *r, struct task *t)
{
    const struct node_def *nd = &r->g->nodes[t->node];
    if (graph_r_wants(r, GRAPH_STREAM_TASKS | GRAPH_STREAM_DEBUG)) {
        json_t *ev =
            json_pack("{s:s, s:s, s:i}", "id", t->id, "name", nd->name, "step", r->step + 1);
        if (graph_r_wants(r, GRAPH_STREAM_DEBUG))
            graph_r_emit(r, GRAPH_STREAM_DEBUG,
                         json_pack("{s:s, s:O}", "type", "task", "payload", ev));
        graph_r_emit(r, GRAPH_STREAM_TASKS, ev);
    }
    json_t *state = json_incref(t->arg ? t->arg : t->snapshot);
    const struct graph_retry *rp = &nd->retry;
    int max = rp->max_attempts > 0 ? rp->max_attempts : 1;
    double interval = rp->initial_interval > 0 ? rp->initial_interval : 0.5;
    double factor = rp->backoff_factor > 0 ? rp->backoff_factor : 2;
    double cap = rp->max_interval > 0 ? rp->max_interval : 128;
    uint64_t t0 = sa_now_ns();
    for (int attempt = 1;; attempt++) {
        uint64_t start = sa_now_ns();
        struct graph_ctx ctx = {.r = r,
                                .t = t,
                                .attempt = attempt,
                                .deadline_ns =
                                    nd->timeout > 0 ? start + (uint64_t)(nd->timeout * 1e9) : 0};
        json_t *update = NULL;
        t->interrupts_called = 0;
        json_decref(t->sends);
        t->sends = NULL;
        t->msg[0] = '\0';
        t->rc = nd->fn(state, &update, &ctx, nd->arg);
        if (t->rc != SA_EINTERRUPT && graph_ctx_expired(&ctx)) {
            t->rc = SA_ETIMEDOUT;
            snprintf(t->msg, sizeof t->msg, "node \"%s\" exceeded its timeout of %g s", nd->name,
                     nd->timeout);
        }
        if (t->rc == 0) {
            struct sa_err err = {0};
            t->rc = graph_r_build_writes(r, t, update, &err);
            if (t->rc)
                snprintf(t->msg, sizeof t->msg, "%s", err.msg);
            json_decref(update);
            break;
        }
        json_decref(update);
        if (attempt >= max || !retryable(rp, t->rc))
            break;
        double wait = fmin(interval * pow(factor, attempt - 1), cap);
        if (rp->jitter)
            wait += wait * ((double)(sa_now_ns() % 1000) / 1000.0);
        sleep_seconds(wait);
    }
    t->ms = sa_ns_to_ms(sa_now_ns() - t0);
    if (t->rc == 0 && r->record_each)
        record_finished(r, t);
    json_decref(state);
    if (t->rc && t->rc != SA_EINTERRUPT && !t->msg[0])
        snprintf(t->msg, sizeof t->msg, "node \"%s\" failed: %s", nd->name, sa_strerror(t->rc));
    if (graph_r_wants(r, GRAPH_STREAM_TASKS | GRAPH_STREAM_DEBUG)) {
        json_t *ev =
            json_pack("{s:s, s:s, s:f, s:O, s:s?, s:O?}", "id", t->id, "name", nd->name,
                      "duration_ms", t->ms, "result", t->writes ? t->writes : json_null(), "error",
                      t->rc && t->rc != SA_EINTERRUPT ? t->msg : NULL, "interrupt", t->interrupt);
        if (graph_r_wants(r, GRAPH_STREAM_DEBUG))
            graph_r_emit(r, GRAPH_STREAM_DEBUG,
                         json_pack("{s:s, s:O}", "type", "task_result", "payload", ev));
        graph_r_emit(r, GRAPH_STREAM_TASKS, ev);
    }
}

static void run_tasks_on(struct run *r, struct task *ts, int n);

struct worker {
    struct run *r;
    struct task *ts;
    int n;
    int *next;
    pthread_mutex_t *lock;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (;;) {
        pthread_mutex_lock(w->lock);
        int i = (*w->next)++;
        pthread_mutex_unlock(w->lock);
        if (i >= w->n)
            return NULL;
        if (!w->ts[i].restored)
            run_task(w->r, &w->ts[i]);
    }
}

static void run_tasks(struct run *r, struct task *ts, int n)
{
    /* every task of a step reads the same snapshot: build it once */
    json_t *snap = graph_r_snapshot(r);
    for (int i = 0; i < n; i++)
        ts[i].snapshot = snap;
    r->record_each = n > 1 && r->g->saver && r->thread_id && r->cp_id[0] && !r->unsaved;
    run_tasks_on(r, ts, n);
    r->record_each = false;
    json_decref(snap);
}

static void run_tasks_on(struct run *r, struct task *ts, int n)
{
    int todo = 0;
    for (int i = 0; i < n; i++)
        todo += !ts[i].restored;
    if (r->g->threads <= 1 || todo <= 1) {
        for (int i = 0; i < n; i++)
            if (!ts[i].restored)
                run_task(r, &ts[i]);
        return;
    }
    int nt = r->g->threads < todo ? r->g->threads : todo;
    pthread_t th[64];
    int next = 0;
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    struct worker w = {r, ts, n, &next, &lock};
    int started = 0;
    for (int i = 0; i < nt && i < 64; i++)
        started += pthread_create(&th[started], NULL, worker_main, &w) == 0;
    worker_main(&w); /* this thread works too, and covers a failed pthread_create */
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
}

/* ---- node API ----------------------------------------------------------------------- */

/* An interrupt's id: FNV-1a of its thread, checkpoint, task and index, so each
 * interrupt of each thread has its own (a task id alone repeats on every thread). */
static void interrupt_id(const struct run *r, const char *task, int idx, char out[17])
{
    uint64_t h = 1469598103934665603u;
    const char *parts[] = {r->thread_id ? r->thread_id : "", r->cp_id, task};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        for (const char *s = parts[i]; *s; s++)
            h = (h ^ (unsigned char)*s) * 1099511628211u;
        h = (h ^ 0xffu) * 1099511628211u; /* a separator no string holds */
    }
    h = (h ^ (uint64_t)idx) * 1099511628211u;
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

const json_t *graph_interrupt(struct graph_ctx *ctx, const json_t *value)
{
    struct task *t = ctx->t;
    int idx = t->interrupts_called++;
    if (t->resume && (size_t)idx < json_array_size(t->resume))
        return json_array_get(t->resume, (size_t)idx);
    char id[17];
    interrupt_id(ctx->r, t->id, idx, id);
    json_decref(t->interrupt);
    t->interrupt =
        json_pack("{s:s, s:O, s:s, s:s, s:i}", "id", id, "value", value ? value : json_null(),
                  "node", ctx->r->g->nodes[t->node].name, "task_id", t->id, "index", idx);
    return NULL;
}

void graph_send(struct graph_ctx *ctx, const char *node, const json_t *arg)
{
    if (!ctx->t->sends)
        ctx->t->sends = json_array();
    json_array_append_new(ctx->t->sends, graph_send_value(node, arg));
}

json_t *graph_send_value(const char *node, const json_t *arg)
{
    return json_pack("{s:s, s:O}", "__send__", node, "arg", arg ? arg : json_null());
}

json_t *graph_command(json_t *update, json_t *goto_nodes)
{
    json_t *c = json_pack("{s:b}", "__command__", 1);
    if (update)
        json_object_set_new(c, "update", update);
    if (goto_nodes)
        json_object_set_new(c, "goto", goto_nodes);
    return c;
}

void graph_emit(struct graph_ctx *ctx, const json_t *data)
{
    if (graph_r_wants(ctx->r, GRAPH_STREAM_CUSTOM))
        graph_r_emit(ctx->r, GRAPH_STREAM_CUSTOM, json_incref((json_t *)data));
}

void graph_emit_message(struct graph_ctx *ctx, const json_t *chunk)
{
    if (!graph_r_wants(ctx->r, GRAPH_STREAM_MESSAGES))
        return;
    json_t *meta = json_pack("{s:s, s:i}", "langgraph_node", graph_ctx_node(ctx), "langgraph_step",
                             ctx->r->step);
    json_t *tuple = meta ? json_pack("[O, o]", chunk, meta) : NULL;
    if (tuple)
        graph_r_emit(ctx->r, GRAPH_STREAM_MESSAGES, tuple);
}

bool graph_ctx_streams(const struct graph_ctx *ctx, unsigned mode)
{
    return graph_r_wants(ctx->r, mode);
}

int graph_ctx_fail(struct graph_ctx *ctx, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->t->msg, sizeof ctx->t->msg, fmt, ap);
    va_end(ap);
    return code;
}

bool graph_ctx_expired(const struct graph_ctx *ctx)
{
    return ctx->deadline_ns && sa_now_ns() > ctx->deadline_ns;
}

const char *graph_ctx_node(const struct graph_ctx *ctx)
{
    return ctx->r->g->nodes[ctx->t->node].name;
}

int graph_ctx_attempt(const struct graph_ctx *ctx)
{
    return ctx->attempt;
}

/* ---- invoke ------------------------------------------------------------------------- */

/* The index of thread_id in g->busy, or -1; busy_lock held. */
static int busy_find(const struct graph *g, const char *thread_id)
{
    for (int i = 0; i < g->nbusy; i++)
        if (strcmp(g->busy[i].thread_id, thread_id) == 0)
            return i;
    return -1;
}

int graph_r_busy_enter(const struct graph *cg, const char *thread_id, enum graph_hold hold,
                       struct sa_err *err)
{
    struct graph *g = (struct graph *)cg; /* the busy set is the one mutable part */
    if (!thread_id)
        return 0;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += GRAPH_MAINTENANCE_WAIT_S;
    int rc = 0, i;
    pthread_mutex_lock(&g->busy_lock);
    /* a run that finds the thread being compacted waits for it (a compaction is one
     * rewrite of one thread): a request never fails because of background housekeeping */
    while (hold == GRAPH_HOLD_RUN && (i = busy_find(g, thread_id)) >= 0 && g->busy[i].maintenance)
        if (pthread_cond_timedwait(&g->busy_left, &g->busy_lock, &until) != 0)
            break;
    if ((i = busy_find(g, thread_id)) >= 0)
        rc = g->busy[i].maintenance
                 ? sa_err_set(err, SA_ECONFLICT, "thread %s is being compacted; try again",
                              thread_id)
                 : sa_err_set(err, SA_ECONFLICT, "thread %s already has a run in progress",
                              thread_id);
    if (!rc && g->nbusy == g->capbusy) {
        int cap = g->capbusy ? g->capbusy * 2 : 8;
        struct busy *nb = realloc(g->busy, (size_t)cap * sizeof *nb);
        if (!nb)
            rc = sa_err_set(err, SA_ENOMEM, "out of memory");
        else {
            g->busy = nb;
            g->capbusy = cap;
        }
    }
    if (!rc) {
        g->busy[g->nbusy].maintenance = hold == GRAPH_HOLD_MAINTENANCE;
        if (!(g->busy[g->nbusy].thread_id = strdup(thread_id)))
            rc = sa_err_set(err, SA_ENOMEM, "out of memory");
        else
            g->nbusy++;
    }
    pthread_mutex_unlock(&g->busy_lock);
    return rc;
}

void graph_r_busy_leave(const struct graph *cg, const char *thread_id)
{
    struct graph *g = (struct graph *)cg;
    if (!thread_id)
        return;
    pthread_mutex_lock(&g->busy_lock);
    int i = busy_find(g, thread_id);
    if (i >= 0) {
        bool maintenance = g->busy[i].maintenance;
        free(g->busy[i].thread_id);
        g->busy[i] = g->busy[--g->nbusy];
        if (maintenance)
            pthread_cond_broadcast(&g->busy_left);
    }
    pthread_mutex_unlock(&g->busy_lock);
}

/* Adds the resume value(s) to the pending interrupts' tasks. */
static int apply_resume(struct run *r, const json_t *resume, struct sa_err *err)
{
    json_t *ints = json_object_get(r->pending, "interrupts");
    json_t *lists = json_object_get(r->pending, "resume");
    size_t n = json_array_size(ints);
    if (n == 0)
        return sa_err_set(err, SA_EINVAL, "resume given, but no interrupt is pending");
    /* An object whose keys are all pending interrupt ids maps ids to values. */
    bool by_id = json_is_object(resume) && json_object_size(resume) > 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)resume, key, v)
    {
        bool found = false;
        size_t i;
        json_t *it;
        json_array_foreach(ints, i, it) found |=
            strcmp(json_string_value(json_object_get(it, "id")), key) == 0;
        by_id &= found;
    }
    size_t i;
    json_t *it;
    json_array_foreach(ints, i, it)
    {
        const char *task = json_string_value(json_object_get(it, "task_id"));
        const json_t *val = resume;
        if (by_id) {
            val = json_object_get(resume, json_string_value(json_object_get(it, "id")));
            if (!val)
                continue;
        } else if (n > 1) {
            return sa_err_set(err, SA_EINVAL,
                              "%zu interrupts are pending; resume with {interrupt_id: value}", n);
        }
        json_t *list = json_object_get(lists, task);
        if (!list) {
            list = json_array();
            json_object_set_new(lists, task, list);
        }
        json_array_append(list, (json_t *)val);
    }
    json_array_clear(ints);
    return 0;
}

static void emit_values(struct run *r)
{
    if (graph_r_wants(r, GRAPH_STREAM_VALUES))
        graph_r_emit(r, GRAPH_STREAM_VALUES, graph_r_snapshot(r));
}

/* The input step: START writes the input and routes to its successors.
 *
 * New input on a thread whose checkpoint still has tasks to run (a run that was
 * cancelled, failed, or stopped at an interrupt) starts the graph again from START, as
 * LangGraph's loop does: the checkpoint's pending tasks are discarded, not run. They are
 * applied first with no writes, so their triggers count as seen and the barriers they
 * consumed are emptied, and the pending Sends are dropped (apply_writes keeps only this
 * step's); the checkpoint saved here carries none of the old pending writes or
 * interrupts. Left triggered, a stale task would run beside START's successors on the
 * state the input just reset (marketing with no qualification). */
static int input_step(struct run *r, const json_t *input, struct sa_err *err)
{
    struct task *ts = NULL;
    int n = 0;
    if (r->cp_id[0] && prepare_tasks(r, &ts, &n))
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    /* the discarded tasks, then START's own; one array so writes apply in that order */
    struct task *all = realloc(ts, (size_t)(n + 1) * sizeof *all);
    if (!all) {
        tasks_free(ts, n);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    graph_r_mark_seen(r, all, n);
    all[n] = (struct task){.node = 0};
    struct task *t = &all[n];
    int rc = graph_r_build_writes(r, t, (json_t *)input, err);
    if (!rc)
        rc = graph_r_apply_writes(r, all, n + 1, err);
    const struct graph_input_hook *h = r->opts ? r->opts->input_hook : NULL;
    if (!rc) {
        /* LangGraph numbers the input checkpoint of a new thread -1; the first step is 0 */
        r->step = r->cp_id[0] ? r->step + 1 : -1;
        json_decref(r->step_writes);
        r->step_writes = json_pack("{s:O}", GRAPH_START, input);
        emit_values(r);
        if (h && h->before_save)
            rc = h->before_save(h->arg, err);
    }
    if (!rc) {
        /* with a hook, stored now, not by the async writer (the first save of the run:
         * nothing is queued before it), so that the hook knows it is */
        struct async_writer *aw = r->aw;
        if (h)
            r->aw = NULL;
        rc = graph_r_save_checkpoint(r, "input", err);
        r->aw = aw;
        if (rc && h && h->before_save && h->not_saved)
            h->not_saved(h->arg);
    }
    if (rc && h) /* nothing of the input is saved when the run ends either */
        r->unsaved = false;
    tasks_free(all, n + 1);
    return rc;
}

/* True when w is a list of [channel name, value] pairs (recorded writes are read back
 * from storage: anything else is ignored and the task runs again). */
static bool writes_valid(const json_t *w)
{
    if (!json_is_array(w))
        return false;
    size_t i;
    json_t *x;
    json_array_foreach(w, i, x)
    {
        if (!json_is_array(x) || json_array_size(x) != 2 || !json_is_string(json_array_get(x, 0)))
            return false;
    }
    return true;
}

/* Gives tasks that already finished from this checkpoint their recorded writes, and the
 * others their resume values. */
static void restore_tasks(struct run *r, struct task *ts, int n)
{
    json_t *done = json_object_get(r->pending, "tasks");
    json_t *resume = json_object_get(r->pending, "resume");
    for (int i = 0; i < n; i++) {
        json_t *rec = json_object_get(done, ts[i].id);
        json_t *writes = json_object_get(rec, "writes");
        if (writes_valid(writes)) {
            ts[i].writes = json_incref(writes);
            ts[i].update = json_incref(json_object_get(rec, "update"));
            ts[i].restored = true;
        }
        ts[i].resume = json_object_get(resume, ts[i].id);
    }
}

/* Records the finished tasks' writes (and raised interrupts) on the current checkpoint,
 * so a resume or a retry after a crash does not run them again. */
static int record_pending(struct run *r, struct task *ts, int n, struct sa_err *err)
{
    json_t *done = json_object_get(r->pending, "tasks");
    json_t *ints = json_object_get(r->pending, "interrupts");
    for (int i = 0; i < n; i++) {
        if (ts[i].rc == 0 && ts[i].writes && !ts[i].restored)
            json_object_set_new(done, ts[i].id,
                                json_pack("{s:O, s:O}", "writes", ts[i].writes, "update",
                                          ts[i].update ? ts[i].update : json_null()));
        if (ts[i].rc == SA_EINTERRUPT && ts[i].interrupt)
            json_array_append(ints, ts[i].interrupt);
    }
    return graph_r_save_pending(r, err);
}

static int run_loop(struct run *r, struct graph_result *res, bool skip_before, struct sa_err *err)
{
    const struct graph *g = r->g;
    int rc = 0;
    for (;;) {
        struct task *ts = NULL;
        int n = 0;
        if (prepare_tasks(r, &ts, &n))
            return sa_err_set(err, SA_ENOMEM, "out of memory");
        if (n == 0) {
            tasks_free(ts, n);
            break;
        }
        if (r->opts && r->opts->cancel && __atomic_load_n(r->opts->cancel, __ATOMIC_ACQUIRE)) {
            tasks_free(ts, n);
            return sa_err_set(err, SA_ECANCELED, "the run was cancelled");
        }
        if (res->steps >= g->recursion_limit) {
            tasks_free(ts, n);
            return sa_err_set(err, SA_ETOOBIG,
                              "GraphRecursionError: recursion limit of %d reached without "
                              "hitting a stop condition",
                              g->recursion_limit);
        }
        bool before = false;
        for (int i = 0; i < n && !skip_before; i++)
            before |= g->nodes[ts[i].node].interrupt_before;
        if (before) {
            tasks_free(ts, n);
            if (r->unsaved && (rc = graph_r_save_checkpoint(r, "loop", err)))
                return rc;
            json_object_set_new(r->pending, "before", json_true());
            res->status = GRAPH_INTERRUPTED;
            return graph_r_save_pending(r, err);
        }
        skip_before = false;
        restore_tasks(r, ts, n);
        run_tasks(r, ts, n);
        bool interrupted = false;
        int failed = -1;
        for (int i = 0; i < n; i++) {
            interrupted |= ts[i].rc == SA_EINTERRUPT;
            if (ts[i].rc && ts[i].rc != SA_EINTERRUPT && failed < 0)
                failed = i;
        }
        if (interrupted || failed >= 0) {
            if (r->unsaved && (rc = graph_r_save_checkpoint(r, "loop", err))) {
                tasks_free(ts, n);
                return rc;
            }
            /* the checkpoint may be new (exit durability): task ids follow it */
            rc = record_pending(r, ts, n, err);
            if (!rc && failed >= 0)
                rc = sa_err_set(err, ts[failed].rc, "%s", ts[failed].msg);
            if (!rc)
                res->status = GRAPH_INTERRUPTED;
            tasks_free(ts, n);
            return rc;
        }
        /* all tasks finished: apply and checkpoint */
        graph_r_mark_seen(r, ts, n);
        if ((rc = graph_r_apply_writes(r, ts, n, err))) {
            tasks_free(ts, n);
            return rc;
        }
        r->step++;
        res->steps++;
        json_t *meta = json_object();
        bool after = false;
        for (int i = 0; i < n; i++) {
            const char *name = g->nodes[ts[i].node].name;
            json_object_set(meta, name, ts[i].update ? ts[i].update : json_null());
            after |= g->nodes[ts[i].node].interrupt_after;
            if (graph_r_wants(r, GRAPH_STREAM_UPDATES))
                graph_r_emit(r, GRAPH_STREAM_UPDATES,
                             json_pack("{s:O}", name, ts[i].update ? ts[i].update : json_null()));
        }
        json_decref(r->step_writes);
        r->step_writes = meta;
        tasks_free(ts, n);
        emit_values(r);
        if (g->durability != GRAPH_DURABILITY_EXIT &&
            (rc = graph_r_save_checkpoint(r, "loop", err)))
            return rc;
        if (after) {
            res->status = GRAPH_INTERRUPTED;
            break;
        }
    }
    return 0;
}

int graph_invoke(const struct graph *g, const json_t *input, const struct graph_run_opts *opts,
                 struct graph_result *res, struct sa_err *err)
{
    memset(res, 0, sizeof *res);
    struct graph_run_opts none = {0};
    if (!opts)
        opts = &none;
    if (g->saver && !opts->thread_id)
        return sa_err_set(err, SA_EINVAL, "a graph with a checkpointer needs a thread_id");
    if (input && !json_is_null(input) && !json_is_object(input))
        return sa_err_set(err, SA_EINVAL, "the input must be an object of channel values");
    int rc = graph_r_busy_enter(g, g->saver ? opts->thread_id : NULL, GRAPH_HOLD_RUN, err);
    if (rc)
        return rc;
    struct run r;
    if (graph_r_run_init(&r, g, opts)) {
        graph_r_run_free(&r);
        graph_r_busy_leave(g, g->saver ? opts->thread_id : NULL);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    if (!g->saver)
        r.thread_id = NULL;
    bool loaded = false;
    if (g->saver) {
        rc = graph_r_load_checkpoint(&r, opts->checkpoint_id, err);
        if (rc == SA_ENOTFOUND && !opts->checkpoint_id)
            rc = 0; /* a new thread */
        else if (!rc)
            loaded = true;
    }
    if (!rc && g->saver && g->durability == GRAPH_DURABILITY_ASYNC)
        rc = graph_r_writer_start(&r, err);
    bool skip_before = false;
    if (!rc && input && !json_is_null(input)) {
        rc = input_step(&r, input, err);
    } else if (!rc) {
        if (!loaded)
            rc = sa_err_set(err, SA_EINVAL, "no input, and no checkpoint to continue from");
        else if (opts->resume)
            rc = apply_resume(&r, opts->resume, err);
        skip_before = json_is_true(json_object_get(r.pending, "before"));
        if (!rc && skip_before)
            json_object_set_new(r.pending, "before", json_false());
    }
    if (!rc)
        rc = run_loop(&r, res, skip_before, err);
    if (r.unsaved && g->saver) {
        struct sa_err e2 = {0};
        int rc2 = graph_r_save_checkpoint(&r, "loop", &e2);
        if (!rc && rc2) {
            rc = rc2;
            *err = e2;
        }
    }
    struct sa_err e3 = {0};
    int rc3 = graph_r_writer_finish(&r, &e3); /* every async save is stored before we return */
    if (!rc && rc3) {
        rc = rc3;
        *err = e3;
    }
    /* A run stopped for a human (an interrupt raised, or before/after a node) keeps its
     * thread whatever the saver's expiry: the answer may come days later. */
    if (!rc && g->saver && r.thread_id && res->status == GRAPH_INTERRUPTED)
        rc = graph_saver_hold(g->saver, r.thread_id, err);
    if (!rc) {
        res->values = graph_r_snapshot(&r);
        res->interrupts = json_deep_copy(json_object_get(r.pending, "interrupts"));
        if (!res->interrupts)
            res->interrupts = json_array();
        memcpy(res->checkpoint_id, r.cp_id, sizeof res->checkpoint_id);
    }
    graph_r_run_free(&r);
    graph_r_busy_leave(g, g->saver ? opts->thread_id : NULL);
    return rc;
}

void graph_result_clear(struct graph_result *res)
{
    json_decref(res->values);
    json_decref(res->interrupts);
    res->values = res->interrupts = NULL;
}
