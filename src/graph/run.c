/* Running a compiled graph (see graph.h, docs/graph.md): super-steps, writes and
 * reducers, routing, interrupts and resume, checkpoints (deltas with periodic full
 * snapshots), streaming, and the thread state API.
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
#include <zstd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/uuid.h"
#include "graph/internal.h"

#define TASK_ID_MAX 160

struct task {
    int node;
    json_t *arg; /* Send input, or NULL: the snapshot */
    char id[TASK_ID_MAX];
    json_t *writes;  /* [[channel, value], ...] incl. triggers and ["__send__", {..}] */
    json_t *update;  /* what the node returned (streamed, recorded in metadata) */
    json_t *resume;  /* borrowed: resume values for this task, or NULL */
    json_t *interrupt; /* {id, value, node} when the task interrupted */
    json_t *sends;   /* graph_send calls */
    int interrupts_called;
    int rc;
    char msg[256];
    bool restored; /* writes replayed from the checkpoint's pending writes */
    json_t *snapshot; /* borrowed: the step's state, shared by its tasks */
    double ms;
};

struct run {
    const struct graph *g;
    const struct graph_run_opts *opts;
    const char *thread_id;
    json_t **vals;
    uint64_t *ver;
    uint64_t *seen; /* nnodes x nchans */
    bool *dirty;    /* channel changed since the last saved record */
    bool *seen_dirty;
    json_t *sends;
    int step;
    char cp_id[GRAPH_ID_LEN];
    char parent_id[GRAPH_ID_LEN];
    int since_full;
    json_t *pending;     /* {tasks, resume, interrupts, before} of the current checkpoint */
    json_t *step_writes; /* {node: update} of the last step */
    char source[16];
    char created_at[SA_ISO8601_LEN];
    bool unsaved;    /* state changed since the last saved record */
    bool force_full; /* the next record is a full snapshot with no parent (prune) */
    struct async_writer *aw; /* durability async: the writer thread, else NULL */
    pthread_mutex_t emit_lock;
    pthread_mutex_t pending_lock; /* tasks of a parallel step record their writes */
    bool record_each;             /* this step records each finished task at once */
};

/* Durability "async": records and pending writes go, in order, to a writer thread that
 * stores them while the next step runs. */
struct wjob {
    struct graph_record rec; /* a put (owns rec.blob), or writes for rec.id (owns .writes) */
    bool is_writes;
    struct wjob *next;
};

struct async_writer {
    pthread_t th;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct wjob *head, *tail;
    bool stop;
    int rc; /* the first failure; later jobs are dropped */
    struct sa_err err;
    struct graph_saver *sv;
    const char *thread_id; /* borrowed from the run's options */
};

struct graph_ctx {
    struct run *r;
    struct task *t;
    int attempt;
    uint64_t deadline_ns; /* 0: none */
};

/* ---- small helpers ------------------------------------------------------------------ */

static const char *chan_name(const struct run *r, int c)
{
    return r->g->chans[c].name;
}

static uint64_t *seen_at(struct run *r, int node, int chan)
{
    return &r->seen[(size_t)node * (size_t)r->g->nchans + (size_t)chan];
}

static void emit(struct run *r, enum graph_stream_mode mode, json_t *data)
{
    const struct graph_run_opts *o = r->opts;
    if (o && o->on_event && (o->stream_modes & mode)) {
        pthread_mutex_lock(&r->emit_lock);
        o->on_event(mode, data, o->event_arg);
        pthread_mutex_unlock(&r->emit_lock);
    }
    json_decref(data);
}

static bool wants(const struct run *r, unsigned modes)
{
    return r->opts && r->opts->on_event && (r->opts->stream_modes & modes);
}

static json_t *pending_new(void)
{
    return json_pack("{s:{}, s:{}, s:[], s:b}", "tasks", "resume", "interrupts", "before", 0);
}

static int run_init(struct run *r, const struct graph *g, const struct graph_run_opts *opts)
{
    memset(r, 0, sizeof *r);
    r->g = g;
    r->opts = opts;
    r->thread_id = opts ? opts->thread_id : NULL;
    size_t nc = (size_t)g->nchans, nn = (size_t)g->nnodes;
    r->vals = calloc(nc, sizeof *r->vals);
    r->ver = calloc(nc, sizeof *r->ver);
    r->seen = calloc(nc * nn, sizeof *r->seen);
    r->dirty = calloc(nc, sizeof *r->dirty);
    r->seen_dirty = calloc(nn, sizeof *r->seen_dirty);
    r->sends = json_array();
    r->pending = pending_new();
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

static void run_free(struct run *r)
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
static json_t *snapshot(const struct run *r)
{
    json_t *s = json_object();
    for (int c = 0; c < r->g->nchans; c++)
        if (r->g->chans[c].kind == CH_STATE && r->vals[c])
            json_object_set(s, chan_name(r, c), r->vals[c]);
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
    case GRAPH_TOPIC:
        *out = json_copy((json_t *)writes);
        return 0;
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
                return sa_err_set(err, SA_EINVAL,
                                  "InvalidUpdateError: channel \"%s\" sums numbers", ch->name);
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
            return sa_err_set(err, SA_EINVAL, "router of \"%s\" returned \"%s\", not in its path map",
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
    push_write(t->writes, chan_name(r, g->nodes[n].trigger_chan), NULL);
    return 0;
}

/* The state a router reads: the snapshot with the task's own state writes applied. */
static int local_state(struct run *r, const json_t *state_writes, json_t **out,
                       struct sa_err *err)
{
    json_t *s = snapshot(r);
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
static int build_writes(struct run *r, struct task *t, json_t *returned, struct sa_err *err)
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
            return sa_err_set(err, SA_EINVAL,
                              "InvalidUpdateError: node \"%s\" wrote \"%s\", which is not a channel",
                              n->name, key);
        push_write(t->writes, key, v);
    }
    for (int k = 0; k < n->nsucc; k++)
        if (n->succ[k] != GRAPH_END_IDX)
            push_write(t->writes, chan_name(r, g->nodes[n->succ[k]].trigger_chan), NULL);
    for (int k = 0; k < n->nbarriers; k++) {
        json_t *name = json_string(n->name);
        push_write(t->writes, chan_name(r, n->barriers[k]), name);
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
        json_array_foreach(set, i, x) found |= strcmp(json_string_value(x),
                                                      r->g->nodes[ch->sources[k]].name) == 0;
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
static int apply_writes(struct run *r, struct task *tasks, int n, struct sa_err *err)
{
    const struct graph *g = r->g;
    int nc = g->nchans;
    json_t *small[64] = {NULL};
    json_t **lists = nc <= 64 ? small : calloc((size_t)nc, sizeof *lists);
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

static bool triggered(struct run *r, int node)
{
    const struct node_def *nd = &r->g->nodes[node];
    for (int k = 0; k < nd->ntriggers; k++) {
        int c = nd->triggers[k];
        if (r->ver[c] > *seen_at(r, node, c) &&
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
        if (!triggered(r, i))
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
static void mark_seen(struct run *r, const struct task *ts, int n)
{
    for (int i = 0; i < n; i++) {
        const struct node_def *nd = &r->g->nodes[ts[i].node];
        if (ts[i].arg) /* a Send is not triggered by a channel */
            continue;
        for (int k = 0; k < nd->ntriggers; k++)
            *seen_at(r, ts[i].node, nd->triggers[k]) = r->ver[nd->triggers[k]];
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

static int save_pending(struct run *r, struct sa_err *err);

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
    (void)save_pending(r, &err);
    pthread_mutex_unlock(&r->pending_lock);
}

static void run_task(struct run *r, struct task *t)
{
    const struct node_def *nd = &r->g->nodes[t->node];
    if (wants(r, GRAPH_STREAM_TASKS | GRAPH_STREAM_DEBUG)) {
        json_t *ev = json_pack("{s:s, s:s, s:i}", "id", t->id, "name", nd->name, "step", r->step + 1);
        if (wants(r, GRAPH_STREAM_DEBUG))
            emit(r, GRAPH_STREAM_DEBUG, json_pack("{s:s, s:O}", "type", "task", "payload", ev));
        emit(r, GRAPH_STREAM_TASKS, ev);
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
        struct graph_ctx ctx = {.r = r, .t = t, .attempt = attempt,
                                .deadline_ns = nd->timeout > 0
                                                   ? start + (uint64_t)(nd->timeout * 1e9)
                                                   : 0};
        json_t *update = NULL;
        t->interrupts_called = 0;
        json_decref(t->sends);
        t->sends = NULL;
        t->msg[0] = '\0';
        t->rc = nd->fn(state, &update, &ctx, nd->arg);
        if (t->rc != SA_EINTERRUPT && graph_ctx_expired(&ctx)) {
            t->rc = SA_ETIMEDOUT;
            snprintf(t->msg, sizeof t->msg, "node \"%s\" exceeded its timeout of %g s",
                     nd->name, nd->timeout);
        }
        if (t->rc == 0) {
            struct sa_err err = {0};
            t->rc = build_writes(r, t, update, &err);
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
    if (wants(r, GRAPH_STREAM_TASKS | GRAPH_STREAM_DEBUG)) {
        json_t *ev = json_pack("{s:s, s:s, s:f, s:O, s:s?, s:O?}", "id", t->id, "name", nd->name,
                               "duration_ms", t->ms, "result",
                               t->writes ? t->writes : json_null(), "error",
                               t->rc && t->rc != SA_EINTERRUPT ? t->msg : NULL, "interrupt",
                               t->interrupt);
        if (wants(r, GRAPH_STREAM_DEBUG))
            emit(r, GRAPH_STREAM_DEBUG,
                 json_pack("{s:s, s:O}", "type", "task_result", "payload", ev));
        emit(r, GRAPH_STREAM_TASKS, ev);
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
    json_t *snap = snapshot(r);
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

static void fnv_hex(const char *s, int idx, char out[17])
{
    uint64_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
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
    fnv_hex(t->id, idx, id);
    json_decref(t->interrupt);
    t->interrupt = json_pack("{s:s, s:O, s:s, s:s, s:i}", "id", id, "value",
                             value ? value : json_null(), "node",
                             ctx->r->g->nodes[t->node].name, "task_id", t->id, "index", idx);
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
    if (wants(ctx->r, GRAPH_STREAM_CUSTOM))
        emit(ctx->r, GRAPH_STREAM_CUSTOM, json_incref((json_t *)data));
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

/* ---- checkpoints -------------------------------------------------------------------- */

/* The next nodes to run from the current state (for snapshots), without marking. */
static json_t *next_nodes(struct run *r)
{
    json_t *next = json_array();
    for (int i = 1; i < r->g->nnodes; i++)
        if (triggered(r, i))
            json_array_append_new(next, json_string(r->g->nodes[i].name));
    size_t k;
    json_t *s;
    json_array_foreach(r->sends, k, s) json_array_append(next, json_object_get(s, "node"));
    return next;
}

/* Serialises the run as a record: the channels changed since the last record (all of
 * them when full), their versions, what the nodes that ran have seen, pending Sends and
 * the step's metadata. Written straight into a buffer (sa_json_write): building a jansson
 * tree and dumping it cost more than the rest of the super-step together.
 * {"v":1,"step":N,"source":S,"created_at":T,"writes":{..},"values":{..},"cleared":[..],
 *  "versions":{..},"seen":{node:{chan:ver}},"sends":[..]} */
static char *serialise(struct run *r, bool full, size_t *len)
{
    const struct graph *g = r->g;
    struct sa_buf b;
    sa_buf_init(&b, (size_t)1 << 30);
    int rc = sa_buf_reserve(&b, 2048); /* most records fit: one allocation */
    rc = rc ? rc : sa_buf_puts(&b, "{\"v\":1,\"step\":");
    rc = rc ? rc : sa_json_write_int(&b, r->step);
    rc = rc ? rc : sa_buf_puts(&b, ",\"source\":\"");
    rc = rc ? rc : sa_buf_puts(&b, r->source);
    rc = rc ? rc : sa_buf_puts(&b, "\",\"created_at\":\"");
    rc = rc ? rc : sa_buf_puts(&b, r->created_at);
    rc = rc ? rc : sa_buf_puts(&b, "\",\"writes\":");
    rc = rc ? rc : sa_json_write(&b, r->step_writes);
    rc = rc ? rc : sa_buf_puts(&b, ",\"values\":{");
    bool first = true;
    for (int c = 0; c < g->nchans && !rc; c++) {
        if ((!full && !r->dirty[c]) || !r->vals[c])
            continue;
        rc = sa_buf_puts(&b, first ? "" : ",");
        first = false;
        rc = rc ? rc : sa_json_write_string(&b, chan_name(r, c), strlen(chan_name(r, c)));
        rc = rc ? rc : sa_buf_puts(&b, ":");
        rc = rc ? rc : sa_json_write(&b, r->vals[c]);
    }
    rc = rc ? rc : sa_buf_puts(&b, "},\"cleared\":[");
    first = true;
    for (int c = 0; c < g->nchans && !rc && !full; c++) {
        if (!r->dirty[c] || r->vals[c])
            continue;
        rc = sa_buf_puts(&b, first ? "" : ",");
        first = false;
        rc = rc ? rc : sa_json_write_string(&b, chan_name(r, c), strlen(chan_name(r, c)));
    }
    rc = rc ? rc : sa_buf_puts(&b, "],\"versions\":{");
    first = true;
    for (int c = 0; c < g->nchans && !rc; c++) {
        if ((!full && !r->dirty[c]) || !r->ver[c])
            continue;
        rc = sa_buf_puts(&b, first ? "" : ",");
        first = false;
        rc = rc ? rc : sa_json_write_string(&b, chan_name(r, c), strlen(chan_name(r, c)));
        rc = rc ? rc : sa_buf_puts(&b, ":");
        rc = rc ? rc : sa_json_write_int(&b, (long long)r->ver[c]);
    }
    rc = rc ? rc : sa_buf_puts(&b, "},\"seen\":{");
    first = true;
    for (int n = 1; n < g->nnodes && !rc; n++) {
        if (!full && !r->seen_dirty[n])
            continue;
        rc = sa_buf_puts(&b, first ? "" : ",");
        first = false;
        const char *name = g->nodes[n].name;
        rc = rc ? rc : sa_json_write_string(&b, name, strlen(name));
        rc = rc ? rc : sa_buf_puts(&b, ":{");
        bool f2 = true;
        for (int k = 0; k < g->nodes[n].ntriggers && !rc; k++) {
            int c = g->nodes[n].triggers[k];
            if (!*seen_at(r, n, c))
                continue;
            rc = sa_buf_puts(&b, f2 ? "" : ",");
            f2 = false;
            rc = rc ? rc : sa_json_write_string(&b, chan_name(r, c), strlen(chan_name(r, c)));
            rc = rc ? rc : sa_buf_puts(&b, ":");
            rc = rc ? rc : sa_json_write_int(&b, (long long)*seen_at(r, n, c));
        }
        rc = rc ? rc : sa_buf_puts(&b, "}");
    }
    rc = rc ? rc : sa_buf_puts(&b, "},\"sends\":");
    rc = rc ? rc : sa_json_write(&b, r->sends);
    rc = rc ? rc : sa_buf_puts(&b, "}");
    if (rc) {
        sa_buf_free(&b);
        *len = 0;
        return NULL;
    }
    return sa_buf_steal(&b, len);
}

static void *writer_main(void *arg)
{
    struct async_writer *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->head && !w->stop)
            pthread_cond_wait(&w->cond, &w->lock);
        struct wjob *j = w->head;
        if (!j)
            break; /* stopped and drained */
        w->head = j->next;
        if (!w->head)
            w->tail = NULL;
        bool skip = w->rc != 0;
        pthread_mutex_unlock(&w->lock);
        struct sa_err err = {0};
        int rc = 0;
        if (!skip && j->is_writes)
            rc = w->sv->ops->put_writes(w->sv, w->thread_id, j->rec.id, j->rec.writes,
                                        j->rec.writes_len, &err);
        else if (!skip)
            rc = w->sv->ops->put(w->sv, w->thread_id, &j->rec, &err);
        graph_record_clear(&j->rec);
        free(j);
        pthread_mutex_lock(&w->lock);
        if (rc && !w->rc) {
            w->rc = rc;
            w->err = err;
        }
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static int writer_start(struct run *r, struct sa_err *err)
{
    struct async_writer *w = calloc(1, sizeof *w);
    if (!w)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->sv = r->g->saver;
    w->thread_id = r->thread_id;
    if (pthread_create(&w->th, NULL, writer_main, w) != 0) {
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        free(w);
        return sa_err_set(err, SA_ENOMEM, "cannot start the checkpoint writer");
    }
    r->aw = w;
    return 0;
}

/* Queues a job (taken). */
static void writer_push(struct async_writer *w, struct wjob *j)
{
    pthread_mutex_lock(&w->lock);
    if (w->tail)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* Waits for every queued save; returns the first failure. */
static int writer_finish(struct run *r, struct sa_err *err)
{
    struct async_writer *w = r->aw;
    if (!w)
        return 0;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->th, NULL);
    int rc = w->rc;
    if (rc && err)
        *err = w->err;
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
    r->aw = NULL;
    return rc;
}

/* Records larger than this are stored zstd-compressed (when that makes them smaller);
 * readers tell the two apart by zstd's frame magic, which JSON text cannot start with. */
#define COMPRESS_ABOVE 4096
#define DECOMPRESS_MAX ((size_t)64 << 20) /* a record claiming more is corrupt */

static void maybe_compress(struct graph_record *rec)
{
    if (rec->blob_len <= COMPRESS_ABOVE)
        return;
    size_t cap = ZSTD_compressBound(rec->blob_len);
    char *z = malloc(cap);
    if (!z)
        return; /* stored as it is */
    size_t n = ZSTD_compress(z, cap, rec->blob, rec->blob_len, 1);
    if (ZSTD_isError(n) || n >= rec->blob_len) {
        free(z);
        return;
    }
    free(rec->blob);
    rec->blob = z;
    rec->blob_len = n;
}

/* The record's JSON text: blob itself, or decompressed into *owned (caller frees). */
static int record_text(const char *id, const char *blob, size_t len, const char **text,
                       size_t *text_len, char **owned, struct sa_err *err)
{
    *owned = NULL;
    static const unsigned char magic[4] = {0x28, 0xB5, 0x2F, 0xFD}; /* ZSTD_MAGICNUMBER, LE */
    if (len < 4 || memcmp(blob, magic, 4) != 0) {
        *text = blob;
        *text_len = len;
        return 0;
    }
    unsigned long long size = ZSTD_getFrameContentSize(blob, len);
    if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR ||
        size > DECOMPRESS_MAX)
        return sa_err_set(err, SA_EIO, "checkpoint %s is corrupt: bad compressed size", id);
    char *out = malloc((size_t)size + 1);
    if (!out)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    size_t n = ZSTD_decompress(out, (size_t)size, blob, len);
    if (ZSTD_isError(n) || n != size) {
        free(out);
        return sa_err_set(err, SA_EIO, "checkpoint %s is corrupt: bad compressed data", id);
    }
    out[n] = '\0';
    *owned = out;
    *text = out;
    *text_len = n;
    return 0;
}

/* Saves the run as a new checkpoint (a no-op without a saver or thread). */
static int save_checkpoint(struct run *r, const char *source, struct sa_err *err)
{
    snprintf(r->source, sizeof r->source, "%s", source);
    sa_iso8601_now(r->created_at);
    if (!r->g->saver || !r->thread_id) {
        r->unsaved = false;
        return 0;
    }
    bool full = r->force_full || !r->cp_id[0] || r->since_full + 1 >= r->g->full_every;
    struct graph_record rec = {.step = r->step, .full = full};
    if (r->g->thread_ttl > 0) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        rec.expires_at = (double)now.tv_sec + (double)now.tv_nsec / 1e9 + r->g->thread_ttl;
    }
    sa_uuid_v7(rec.id);
    snprintf(rec.parent_id, sizeof rec.parent_id, "%s", r->force_full ? "" : r->cp_id);
    rec.blob = serialise(r, full, &rec.blob_len);
    if (!rec.blob)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    maybe_compress(&rec);
    int rc = 0;
    struct wjob *job = r->aw ? calloc(1, sizeof *job) : NULL;
    if (r->aw && !job) {
        free(rec.blob);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    if (job) {
        job->rec = rec; /* the writer frees the blob */
        writer_push(r->aw, job);
    } else {
        rc = r->g->saver->ops->put(r->g->saver, r->thread_id, &rec, err);
        free(rec.blob);
    }
    if (rc)
        return rc;
    snprintf(r->parent_id, sizeof r->parent_id, "%s", r->cp_id);
    memcpy(r->cp_id, rec.id, sizeof r->cp_id);
    r->since_full = full ? 0 : r->since_full + 1;
    memset(r->dirty, 0, (size_t)r->g->nchans * sizeof *r->dirty);
    memset(r->seen_dirty, 0, (size_t)r->g->nnodes * sizeof *r->seen_dirty);
    r->unsaved = false;
    json_decref(r->pending);
    r->pending = pending_new();
    if (wants(r, GRAPH_STREAM_CHECKPOINTS | GRAPH_STREAM_DEBUG)) {
        json_t *ev = json_pack("{s:{s:s, s:s}, s:o, s:{s:s, s:i, s:O}, s:o, s:s}", "config",
                               "thread_id", r->thread_id, "checkpoint_id", r->cp_id, "values",
                               snapshot(r), "metadata", "source", r->source, "step", r->step,
                               "writes", r->step_writes, "next", next_nodes(r), "parent_id",
                               r->parent_id);
        if (wants(r, GRAPH_STREAM_DEBUG))
            emit(r, GRAPH_STREAM_DEBUG, json_pack("{s:s, s:O}", "type", "checkpoint", "payload", ev));
        emit(r, GRAPH_STREAM_CHECKPOINTS, ev);
    }
    return 0;
}

/* Records the current checkpoint's pending writes and interrupts. */
static int save_pending(struct run *r, struct sa_err *err)
{
    if (!r->g->saver || !r->thread_id || !r->cp_id[0])
        return 0;
    struct sa_buf b;
    sa_buf_init(&b, (size_t)1 << 30);
    size_t text_len = 0;
    char *text = sa_json_write(&b, r->pending) ? NULL : sa_buf_steal(&b, &text_len);
    sa_buf_free(&b);
    if (!text)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    struct wjob *job = r->aw ? calloc(1, sizeof *job) : NULL;
    if (r->aw && !job) {
        free(text);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    if (job) {
        job->is_writes = true;
        memcpy(job->rec.id, r->cp_id, sizeof job->rec.id);
        job->rec.writes = text; /* the writer frees it */
        job->rec.writes_len = text_len;
        writer_push(r->aw, job);
        return 0;
    }
    int rc = r->g->saver->ops->put_writes(r->g->saver, r->thread_id, r->cp_id, text, text_len,
                                          err);
    free(text);
    return rc;
}

static int corrupt(struct sa_err *err, const char *id, const char *what)
{
    return sa_err_set(err, SA_EIO, "checkpoint %s is corrupt: %s", id, what);
}

/* Applies one record's document to the run. Validates what it reads: a corrupt or
 * foreign record is an error, never a crash. */
static int apply_record(struct run *r, const char *id, const char *blob, size_t len,
                        struct sa_err *err)
{
    const struct graph *g = r->g;
    const char *text = NULL;
    size_t text_len = 0;
    char *owned = NULL;
    int rc = record_text(id, blob, len, &text, &text_len, &owned, err);
    if (rc)
        return rc;
    json_t *doc = json_loadb(text, text_len, 0, NULL);
    free(owned);
    json_t *values = json_object_get(doc, "values"), *cleared = json_object_get(doc, "cleared");
    json_t *versions = json_object_get(doc, "versions"), *seen = json_object_get(doc, "seen");
    json_t *sends = json_object_get(doc, "sends"), *step = json_object_get(doc, "step");
    if (!json_is_object(doc) || !json_is_object(values) || !json_is_array(cleared) ||
        !json_is_object(versions) || !json_is_object(seen) || !json_is_array(sends) ||
        !json_is_integer(step)) {
        rc = corrupt(err, id, "missing or mistyped fields");
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(values, key, v)
    {
        int c = graph_chan_index(g, key);
        if (c < 0) {
            rc = corrupt(err, id, "a channel this graph does not have");
            goto out;
        }
        json_decref(r->vals[c]);
        r->vals[c] = json_incref(v);
    }
    size_t i;
    json_array_foreach(cleared, i, v)
    {
        int c = json_is_string(v) ? graph_chan_index(g, json_string_value(v)) : -1;
        if (c < 0) {
            rc = corrupt(err, id, "a cleared channel this graph does not have");
            goto out;
        }
        json_decref(r->vals[c]);
        r->vals[c] = NULL;
    }
    json_object_foreach(versions, key, v)
    {
        int c = graph_chan_index(g, key);
        if (c < 0 || !json_is_integer(v) || json_integer_value(v) < 0) {
            rc = corrupt(err, id, "bad channel version");
            goto out;
        }
        r->ver[c] = (uint64_t)json_integer_value(v);
    }
    json_object_foreach(seen, key, v)
    {
        int n = graph_node_index(g, key, false);
        if (n <= 0 || !json_is_object(v)) {
            rc = corrupt(err, id, "versions seen by an unknown node");
            goto out;
        }
        const char *ck;
        json_t *cv;
        json_object_foreach(v, ck, cv)
        {
            int c = graph_chan_index(g, ck);
            if (c < 0 || !json_is_integer(cv) || json_integer_value(cv) < 0) {
                rc = corrupt(err, id, "bad seen version");
                goto out;
            }
            *seen_at(r, n, c) = (uint64_t)json_integer_value(cv);
        }
    }
    json_array_foreach(sends, i, v)
    {
        if (!json_is_object(v) || !json_is_string(json_object_get(v, "node"))) {
            rc = corrupt(err, id, "bad pending Send");
            goto out;
        }
    }
    json_decref(r->sends);
    r->sends = json_incref(sends);
    r->step = (int)json_integer_value(step);
    json_t *w = json_object_get(doc, "writes");
    json_decref(r->step_writes);
    r->step_writes = json_is_object(w) ? json_incref(w) : json_object();
    snprintf(r->source, sizeof r->source, "%s", json_string_value(json_object_get(doc, "source")) ? json_string_value(json_object_get(doc, "source")) : "");
    snprintf(r->created_at, sizeof r->created_at, "%s",
             json_string_value(json_object_get(doc, "created_at")) ? json_string_value(json_object_get(doc, "created_at")) : "");
out:
    json_decref(doc);
    return rc;
}

/* Loads checkpoint id (NULL: latest) of the run's thread: walks parents back to a full
 * record, then applies the records forward. SA_ENOTFOUND when there is none. */
static int load_checkpoint(struct run *r, const char *id, struct sa_err *err)
{
    struct graph_saver *sv = r->g->saver;
    int cap = r->g->full_every + 2, n = 0;
    struct graph_record *chain = calloc((size_t)cap, sizeof *chain);
    if (!chain)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    int rc = sv->ops->get(sv, r->thread_id, id, &chain[0], err);
    if (!rc)
        n = 1;
    while (!rc && !chain[n - 1].full) {
        if (n == cap || !chain[n - 1].parent_id[0]) {
            rc = corrupt(err, chain[0].id, "no full snapshot in its parent chain");
            break;
        }
        rc = sv->ops->get(sv, r->thread_id, chain[n - 1].parent_id, &chain[n], err);
        if (rc == SA_ENOTFOUND)
            rc = corrupt(err, chain[0].id, "a parent checkpoint is missing");
        if (!rc)
            n++;
    }
    for (int i = n - 1; i >= 0 && !rc; i--)
        rc = apply_record(r, chain[i].id, chain[i].blob, chain[i].blob_len, err);
    if (!rc) {
        memcpy(r->cp_id, chain[0].id, sizeof r->cp_id);
        memcpy(r->parent_id, chain[0].parent_id, sizeof r->parent_id);
        r->since_full = n - 1;
        json_decref(r->pending);
        r->pending = NULL;
        if (chain[0].writes)
            r->pending = json_loadb(chain[0].writes, chain[0].writes_len, 0, NULL);
        if (!json_is_object(r->pending) || !json_is_object(json_object_get(r->pending, "tasks")) ||
            !json_is_object(json_object_get(r->pending, "resume")) ||
            !json_is_array(json_object_get(r->pending, "interrupts"))) {
            if (chain[0].writes)
                rc = corrupt(err, chain[0].id, "bad pending writes");
            json_decref(r->pending);
            r->pending = pending_new();
        }
    }
    for (int i = 0; i < n; i++)
        graph_record_clear(&chain[i]);
    free(chain);
    return rc;
}

/* ---- invoke ------------------------------------------------------------------------- */

static int busy_enter(const struct graph *cg, const char *thread_id, struct sa_err *err)
{
    struct graph *g = (struct graph *)cg; /* the busy set is the one mutable part */
    if (!thread_id)
        return 0;
    int rc = 0;
    pthread_mutex_lock(&g->busy_lock);
    for (int i = 0; i < g->nbusy && !rc; i++)
        if (strcmp(g->busy[i], thread_id) == 0)
            rc = sa_err_set(err, SA_ECONFLICT, "thread %s already has a run in progress",
                            thread_id);
    if (!rc && g->nbusy == g->capbusy) {
        int cap = g->capbusy ? g->capbusy * 2 : 8;
        char **nb = realloc(g->busy, (size_t)cap * sizeof *nb);
        if (!nb)
            rc = sa_err_set(err, SA_ENOMEM, "out of memory");
        else {
            g->busy = nb;
            g->capbusy = cap;
        }
    }
    if (!rc && !(g->busy[g->nbusy] = strdup(thread_id)))
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    if (!rc)
        g->nbusy++;
    pthread_mutex_unlock(&g->busy_lock);
    return rc;
}

static void busy_leave(const struct graph *cg, const char *thread_id)
{
    struct graph *g = (struct graph *)cg;
    if (!thread_id)
        return;
    pthread_mutex_lock(&g->busy_lock);
    for (int i = 0; i < g->nbusy; i++) {
        if (strcmp(g->busy[i], thread_id) == 0) {
            free(g->busy[i]);
            g->busy[i] = g->busy[--g->nbusy];
            break;
        }
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
        json_array_foreach(ints, i, it) found |= strcmp(json_string_value(json_object_get(it, "id")),
                                                        key) == 0;
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
    if (wants(r, GRAPH_STREAM_VALUES))
        emit(r, GRAPH_STREAM_VALUES, snapshot(r));
}

/* The input step: START writes the input and routes to its successors. */
static int input_step(struct run *r, const json_t *input, struct sa_err *err)
{
    struct task t = {.node = 0};
    int rc = build_writes(r, &t, (json_t *)input, err);
    if (!rc)
        rc = apply_writes(r, &t, 1, err);
    if (!rc) {
        /* LangGraph numbers the input checkpoint of a new thread -1; the first step is 0 */
        r->step = r->cp_id[0] ? r->step + 1 : -1;
        json_decref(r->step_writes);
        r->step_writes = json_pack("{s:O}", GRAPH_START, input);
        emit_values(r);
        rc = save_checkpoint(r, "input", err);
    }
    json_decref(t.writes);
    json_decref(t.update);
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
        if (!json_is_array(x) || json_array_size(x) != 2 ||
            !json_is_string(json_array_get(x, 0)))
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
    return save_pending(r, err);
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
            if (r->unsaved && (rc = save_checkpoint(r, "loop", err)))
                return rc;
            json_object_set_new(r->pending, "before", json_true());
            res->status = GRAPH_INTERRUPTED;
            return save_pending(r, err);
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
            if (r->unsaved && (rc = save_checkpoint(r, "loop", err))) {
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
        mark_seen(r, ts, n);
        if ((rc = apply_writes(r, ts, n, err))) {
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
            if (wants(r, GRAPH_STREAM_UPDATES))
                emit(r, GRAPH_STREAM_UPDATES,
                     json_pack("{s:O}", name, ts[i].update ? ts[i].update : json_null()));
        }
        json_decref(r->step_writes);
        r->step_writes = meta;
        tasks_free(ts, n);
        emit_values(r);
        if (g->durability != GRAPH_DURABILITY_EXIT && (rc = save_checkpoint(r, "loop", err)))
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
    int rc = busy_enter(g, g->saver ? opts->thread_id : NULL, err);
    if (rc)
        return rc;
    struct run r;
    if (run_init(&r, g, opts)) {
        run_free(&r);
        busy_leave(g, g->saver ? opts->thread_id : NULL);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    if (!g->saver)
        r.thread_id = NULL;
    bool loaded = false;
    if (g->saver) {
        rc = load_checkpoint(&r, opts->checkpoint_id, err);
        if (rc == SA_ENOTFOUND && !opts->checkpoint_id)
            rc = 0; /* a new thread */
        else if (!rc)
            loaded = true;
    }
    if (!rc && g->saver && g->durability == GRAPH_DURABILITY_ASYNC)
        rc = writer_start(&r, err);
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
        int rc2 = save_checkpoint(&r, "loop", &e2);
        if (!rc && rc2) {
            rc = rc2;
            *err = e2;
        }
    }
    struct sa_err e3 = {0};
    int rc3 = writer_finish(&r, &e3); /* every async save is stored before we return */
    if (!rc && rc3) {
        rc = rc3;
        *err = e3;
    }
    if (!rc) {
        res->values = snapshot(&r);
        res->interrupts = json_deep_copy(json_object_get(r.pending, "interrupts"));
        if (!res->interrupts)
            res->interrupts = json_array();
        memcpy(res->checkpoint_id, r.cp_id, sizeof res->checkpoint_id);
    }
    run_free(&r);
    busy_leave(g, g->saver ? opts->thread_id : NULL);
    return rc;
}

void graph_result_clear(struct graph_result *res)
{
    json_decref(res->values);
    json_decref(res->interrupts);
    res->values = res->interrupts = NULL;
}

/* ---- state API ---------------------------------------------------------------------- */

static json_t *state_of(struct run *r)
{
    json_t *tasks = json_array();
    json_t *ints = json_object_get(r->pending, "interrupts");
    json_t *next = next_nodes(r);
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
                     snapshot(r), "next", next, "config", "thread_id", r->thread_id,
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
    int rc = run_init(&r, g, &o) ? sa_err_set(err, SA_ENOMEM, "out of memory") : 0;
    if (!rc)
        rc = load_checkpoint(&r, checkpoint_id, err);
    if (!rc)
        *out = state_of(&r);
    run_free(&r);
    return rc;
}

int graph_get_state_history(const struct graph *g, const char *thread_id, int limit,
                            json_t **out, struct sa_err *err)
{
    *out = NULL;
    if (!g->saver)
        return sa_err_set(err, SA_EINVAL, "the graph has no checkpointer");
    char(*ids)[GRAPH_ID_LEN] = NULL;
    int n = 0;
    int rc = g->saver->ops->list(g->saver, thread_id, limit, &ids, &n, err);
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
    int rc = busy_enter(g, thread_id, err);
    if (rc)
        return rc;
    struct graph_run_opts o = {.thread_id = thread_id};
    struct run r;
    rc = run_init(&r, g, &o) ? sa_err_set(err, SA_ENOMEM, "out of memory") : 0;
    if (!rc)
        rc = load_checkpoint(&r, checkpoint_id, err);
    struct task t = {.node = node};
    if (!rc) {
        if (as_node) {
            /* as if as_node ran: its triggers are consumed, its edges fire */
            rc = build_writes(&r, &t, (json_t *)values, err);
            if (!rc)
                mark_seen(&r, &t, 1);
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
        rc = apply_writes(&r, &t, 1, err);
    if (!rc) {
        r.step++;
        json_decref(r.step_writes);
        r.step_writes = json_pack("{s:O}", as_node ? as_node : "__update__", values);
        rc = save_checkpoint(&r, "update", err);
    }
    if (!rc)
        memcpy(new_id, r.cp_id, GRAPH_ID_LEN);
    json_decref(t.writes);
    json_decref(t.update);
    run_free(&r);
    busy_leave(g, thread_id);
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
    return g->saver->ops->delete_thread(g->saver, thread_id, err);
}

int graph_prune_thread(const struct graph *g, const char *thread_id, struct sa_err *err)
{
    if (!g->saver)
        return sa_err_set(err, SA_EINVAL, "the graph has no checkpointer");
    int rc = busy_enter(g, thread_id, err);
    if (rc)
        return rc;
    struct graph_run_opts o = {.thread_id = thread_id};
    struct run r;
    rc = run_init(&r, g, &o) ? sa_err_set(err, SA_ENOMEM, "out of memory") : 0;
    if (!rc)
        rc = load_checkpoint(&r, NULL, err);
    json_t *pending = NULL;
    if (!rc) {
        /* the same state, as one full record with no parent; then the rest goes */
        pending = json_incref(r.pending);
        char source[16];
        memcpy(source, r.source, sizeof source);
        r.force_full = true;
        rc = save_checkpoint(&r, source, err);
        r.force_full = false;
    }
    if (!rc) {
        json_decref(r.pending);
        r.pending = pending;
        pending = NULL;
        rc = save_pending(&r, err);
    }
    if (!rc)
        rc = g->saver->ops->delete_except(g->saver, thread_id, r.cp_id, err);
    json_decref(pending);
    run_free(&r);
    busy_leave(g, thread_id);
    return rc;
}

int graph_sweep(const struct graph *g, int *n, struct sa_err *err)
{
    *n = 0;
    if (!g->saver)
        return 0;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return g->saver->ops->sweep(g->saver, (double)now.tv_sec + (double)now.tv_nsec / 1e9, n, err);
}
