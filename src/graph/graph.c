/* Building and compiling graphs (see graph.h): the builder records declarations by name;
 * graph_compile resolves names, validates the shape and lays the graph out for run.c.
 *
 * Edges become channels, as in LangGraph: every node has a trigger channel
 * "branch:to:NAME" that its predecessors write after they run, and every joining edge
 * add_join([a, b], c) is a barrier channel "join:a+b:c" that collects the names of the
 * nodes that ran and triggers c once all are there. A node runs in the step after one of
 * its trigger channels got a version it has not seen. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graph/internal.h"

struct b_chan {
    char *name;
    enum graph_reducer reducer;
    json_t *initial;
    graph_reduce_fn fn;
    void *arg;
};
struct b_node {
    char *name;
    graph_node_fn fn;
    void *arg;
    struct graph_node_opts opts;
};
struct b_edge {
    char *from, *to;
};
struct b_join {
    char **from;
    int n;
    char *to;
};
struct b_cond {
    char *from;
    graph_router_fn fn;
    void *arg;
    json_t *path_map;
};

struct graph_builder {
    struct b_chan *chans;
    int nchans;
    struct b_node *nodes;
    int nnodes;
    struct b_edge *edges;
    int nedges;
    struct b_join *joins;
    int njoins;
    struct b_cond *conds;
    int nconds;
    char error[256]; /* the first declaration error, reported by graph_compile */
};

static void b_fail(struct graph_builder *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void b_fail(struct graph_builder *b, const char *fmt, ...)
{
    if (b->error[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->error, sizeof b->error, fmt, ap);
    va_end(ap);
}

/* Grows *arr (of n items of size sz) by one zeroed item; returns it or NULL. */
static void *push(void *arr_ptr, int *n, size_t sz)
{
    void **arr = arr_ptr;
    void *p = realloc(*arr, (size_t)(*n + 1) * sz);
    if (!p)
        return NULL;
    *arr = p;
    void *item = (char *)p + (size_t)*n * sz;
    memset(item, 0, sz);
    (*n)++;
    return item;
}

struct graph_builder *graph_builder_new(void)
{
    return calloc(1, sizeof(struct graph_builder));
}

void graph_builder_free(struct graph_builder *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->nchans; i++) {
        free(b->chans[i].name);
        json_decref(b->chans[i].initial);
    }
    for (int i = 0; i < b->nnodes; i++)
        free(b->nodes[i].name);
    for (int i = 0; i < b->nedges; i++) {
        free(b->edges[i].from);
        free(b->edges[i].to);
    }
    for (int i = 0; i < b->njoins; i++) {
        for (int k = 0; k < b->joins[i].n; k++)
            free(b->joins[i].from[k]);
        free(b->joins[i].from);
        free(b->joins[i].to);
    }
    for (int i = 0; i < b->nconds; i++) {
        free(b->conds[i].from);
        json_decref(b->conds[i].path_map);
    }
    free(b->chans);
    free(b->nodes);
    free(b->edges);
    free(b->joins);
    free(b->conds);
    free(b);
}

static bool reserved(const char *name)
{
    return strcmp(name, GRAPH_START) == 0 || strcmp(name, GRAPH_END) == 0 ||
           strncmp(name, "branch:", 7) == 0 || strncmp(name, "join:", 5) == 0 ||
           strncmp(name, "__", 2) == 0;
}

void graph_add_channel(struct graph_builder *b, const char *name, enum graph_reducer reducer,
                       const json_t *initial, graph_reduce_fn reduce, void *arg)
{
    if (!name || !*name || reserved(name))
        return b_fail(b, "channel name \"%s\" is empty or reserved", name ? name : "");
    for (int i = 0; i < b->nchans; i++)
        if (strcmp(b->chans[i].name, name) == 0)
            return b_fail(b, "channel \"%s\" is declared twice", name);
    if (reducer == GRAPH_CUSTOM && !reduce)
        return b_fail(b, "channel \"%s\" is GRAPH_CUSTOM without a reducer", name);
    struct b_chan *c = push(&b->chans, &b->nchans, sizeof *c);
    if (!c || !(c->name = strdup(name)))
        return b_fail(b, "out of memory");
    c->reducer = reducer;
    c->initial = initial ? json_deep_copy(initial) : NULL;
    c->fn = reduce;
    c->arg = arg;
}

void graph_add_node(struct graph_builder *b, const char *name, graph_node_fn fn, void *arg,
                    const struct graph_node_opts *opts)
{
    if (!name || !*name || reserved(name))
        return b_fail(b, "node name \"%s\" is empty or reserved", name ? name : "");
    if (!fn)
        return b_fail(b, "node \"%s\" has no function", name);
    for (int i = 0; i < b->nnodes; i++)
        if (strcmp(b->nodes[i].name, name) == 0)
            return b_fail(b, "node \"%s\" is declared twice", name);
    struct b_node *n = push(&b->nodes, &b->nnodes, sizeof *n);
    if (!n || !(n->name = strdup(name)))
        return b_fail(b, "out of memory");
    n->fn = fn;
    n->arg = arg;
    if (opts)
        n->opts = *opts;
}

void graph_add_subgraph(struct graph_builder *b, const char *name, const struct graph *sub)
{
    if (!sub)
        return b_fail(b, "subgraph \"%s\" is NULL", name ? name : "");
    graph_add_node(b, name, graph_subgraph_node, (void *)sub, NULL);
}

void graph_add_edge(struct graph_builder *b, const char *from, const char *to)
{
    struct b_edge *e = push(&b->edges, &b->nedges, sizeof *e);
    if (!e || !(e->from = strdup(from ? from : "")) || !(e->to = strdup(to ? to : "")))
        return b_fail(b, "out of memory");
}

void graph_add_join(struct graph_builder *b, const char *const *from, int n, const char *to)
{
    if (n < 1)
        return b_fail(b, "a join into \"%s\" needs at least one source", to ? to : "");
    if (n == 1)
        return graph_add_edge(b, from[0], to);
    struct b_join *j = push(&b->joins, &b->njoins, sizeof *j);
    if (!j || !(j->from = calloc((size_t)n, sizeof *j->from)) || !(j->to = strdup(to ? to : "")))
        return b_fail(b, "out of memory");
    j->n = n;
    for (int i = 0; i < n; i++)
        if (!(j->from[i] = strdup(from[i] ? from[i] : "")))
            return b_fail(b, "out of memory");
}

void graph_add_conditional_edges(struct graph_builder *b, const char *from, graph_router_fn router,
                                 void *arg, const json_t *path_map)
{
    if (!router)
        return b_fail(b, "conditional edges from \"%s\" have no router", from ? from : "");
    if (path_map && !json_is_object(path_map))
        return b_fail(b, "the path map of \"%s\" is not an object", from ? from : "");
    struct b_cond *c = push(&b->conds, &b->nconds, sizeof *c);
    if (!c || !(c->from = strdup(from ? from : "")))
        return b_fail(b, "out of memory");
    c->fn = router;
    c->arg = arg;
    c->path_map = path_map ? json_deep_copy(path_map) : NULL;
}

void graph_set_entry_point(struct graph_builder *b, const char *node)
{
    graph_add_edge(b, GRAPH_START, node);
}

void graph_set_finish_point(struct graph_builder *b, const char *node)
{
    graph_add_edge(b, node, GRAPH_END);
}

/* ---- compile ----------------------------------------------------------------------- */

int graph_node_index(const struct graph *g, const char *name, bool allow_end)
{
    if (allow_end && strcmp(name, GRAPH_END) == 0)
        return GRAPH_END_IDX;
    for (int i = 0; i < g->nnodes; i++)
        if (strcmp(g->nodes[i].name, name) == 0)
            return i;
    return -1;
}

int graph_chan_index(const struct graph *g, const char *name)
{
    for (int i = 0; i < g->nchans; i++)
        if (strcmp(g->chans[i].name, name) == 0)
            return i;
    return -1;
}

static int add_int(int **arr, int *n, int v)
{
    int *p = realloc(*arr, (size_t)(*n + 1) * sizeof *p);
    if (!p)
        return SA_ENOMEM;
    p[(*n)++] = v;
    *arr = p;
    return 0;
}

static struct chan_def *new_chan(struct graph *g, const char *name, enum chan_kind kind)
{
    struct chan_def *c = push(&g->chans, &g->nchans, sizeof *c);
    if (!c || !(c->name = strdup(name)))
        return NULL;
    c->kind = kind;
    return c;
}

void graph_free(struct graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->nchans; i++) {
        free(g->chans[i].name);
        json_decref(g->chans[i].initial);
        free(g->chans[i].sources);
    }
    for (int i = 0; i < g->nnodes; i++) {
        struct node_def *n = &g->nodes[i];
        free(n->name);
        free(n->succ);
        free(n->conds);
        free(n->barriers);
        free(n->triggers);
    }
    for (int i = 0; i < g->nconds; i++)
        json_decref(g->conds[i].path_map);
    for (int i = 0; i < g->nbusy; i++)
        free(g->busy[i].thread_id);
    free(g->busy);
    free(g->chans);
    free(g->nodes);
    free(g->conds);
    pthread_mutex_destroy(&g->busy_lock);
    pthread_cond_destroy(&g->busy_left);
    free(g);
}

static int fail(struct sa_err *err, const char *fmt, const char *a, const char *b)
{
    return sa_err_set(err, SA_EINVAL, fmt, a, b);
}

/* Marks what START reaches through static edges, joins (a barrier's target is reachable
 * when all its sources are) and conditional edges (through the path map's values, or
 * anywhere when there is none, as LangGraph assumes). */
static int check_reachable(const struct graph *g, struct sa_err *err)
{
    bool *seen = calloc((size_t)g->nnodes, sizeof *seen);
    if (!seen)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    seen[0] = true;
    for (bool grew = true; grew;) {
        grew = false;
        for (int i = 0; i < g->nnodes; i++) {
            if (!seen[i])
                continue;
            const struct node_def *n = &g->nodes[i];
            for (int k = 0; k < n->nsucc; k++)
                if (n->succ[k] >= 0 && !seen[n->succ[k]])
                    seen[n->succ[k]] = grew = true;
            for (int k = 0; k < n->nconds; k++) {
                const json_t *pm = g->conds[n->conds[k]].path_map;
                if (!pm) {
                    for (int t = 1; t < g->nnodes; t++)
                        if (!seen[t])
                            seen[t] = grew = true;
                    continue;
                }
                const char *key;
                json_t *v;
                json_object_foreach((json_t *)pm, key, v)
                {
                    int t = graph_node_index(g, json_string_value(v), true);
                    if (t >= 0 && !seen[t])
                        seen[t] = grew = true;
                }
            }
        }
        for (int c = 0; c < g->nchans; c++) {
            const struct chan_def *ch = &g->chans[c];
            if (ch->kind != CH_BARRIER || seen[ch->node])
                continue;
            bool all = true;
            for (int k = 0; k < ch->nsources; k++)
                all &= seen[ch->sources[k]];
            if (all)
                seen[ch->node] = grew = true;
        }
    }
    int rc = 0;
    for (int i = 1; i < g->nnodes && !rc; i++)
        if (!seen[i])
            rc = fail(err, "node \"%s\" is not reachable from %s", g->nodes[i].name, GRAPH_START);
    free(seen);
    return rc;
}

static int resolve(struct graph_builder *b, struct graph *g, struct sa_err *err)
{
    /* state channels first, then nodes with their trigger channels */
    for (int i = 0; i < b->nchans; i++) {
        struct chan_def *c = new_chan(g, b->chans[i].name, CH_STATE);
        if (!c)
            return sa_err_set(err, SA_ENOMEM, "out of memory");
        c->reducer = b->chans[i].reducer;
        c->initial = json_incref(b->chans[i].initial);
        c->fn = b->chans[i].fn;
        c->arg = b->chans[i].arg;
    }
    g->nnodes = b->nnodes + 1;
    if (!(g->nodes = calloc((size_t)g->nnodes, sizeof *g->nodes)) ||
        !(g->nodes[0].name = strdup(GRAPH_START)))
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    g->nodes[0].trigger_chan = -1;
    for (int i = 0; i < b->nnodes; i++) {
        struct node_def *n = &g->nodes[i + 1];
        if (!(n->name = strdup(b->nodes[i].name)))
            return sa_err_set(err, SA_ENOMEM, "out of memory");
        n->fn = b->nodes[i].fn;
        n->arg = b->nodes[i].arg;
        n->retry = b->nodes[i].opts.retry;
        n->timeout = b->nodes[i].opts.timeout;
        if (graph_chan_index(g, n->name) >= 0)
            return fail(err, "\"%s\" names both a node and a channel%s", n->name, "");
        char tname[96];
        snprintf(tname, sizeof tname, "branch:to:%s", n->name);
        struct chan_def *tc = new_chan(g, tname, CH_TRIGGER);
        if (!tc)
            return sa_err_set(err, SA_ENOMEM, "out of memory");
        tc->node = i + 1;
        n->trigger_chan = g->nchans - 1;
        if (add_int(&n->triggers, &n->ntriggers, n->trigger_chan))
            return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    for (int i = 0; i < b->nedges; i++) {
        int from = graph_node_index(g, b->edges[i].from, true);
        int to = graph_node_index(g, b->edges[i].to, true);
        if (from == GRAPH_END_IDX)
            return fail(err, "edge %s -> %s starts at END", b->edges[i].from, b->edges[i].to);
        if (from < 0)
            return fail(err, "edge %s -> %s starts at an unknown node", b->edges[i].from,
                        b->edges[i].to);
        if (to < 0 && to != GRAPH_END_IDX)
            return fail(err, "edge %s -> %s ends at an unknown node", b->edges[i].from,
                        b->edges[i].to);
        if (to == 0)
            return fail(err, "edge %s -> %s ends at START", b->edges[i].from, b->edges[i].to);
        if (add_int(&g->nodes[from].succ, &g->nodes[from].nsucc, to))
            return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    for (int i = 0; i < b->njoins; i++) {
        struct b_join *j = &b->joins[i];
        int to = graph_node_index(g, j->to, false);
        if (to <= 0)
            return fail(err, "join into unknown node \"%s\"%s", j->to, "");
        char cname[256] = "join:";
        for (int k = 0; k < j->n; k++) {
            strncat(cname, j->from[k], sizeof cname - strlen(cname) - 2);
            strncat(cname, k + 1 < j->n ? "+" : ":", sizeof cname - strlen(cname) - 1);
        }
        strncat(cname, j->to, sizeof cname - strlen(cname) - 1);
        struct chan_def *bc = new_chan(g, cname, CH_BARRIER);
        if (!bc)
            return sa_err_set(err, SA_ENOMEM, "out of memory");
        int ci = g->nchans - 1;
        bc->node = to;
        for (int k = 0; k < j->n; k++) {
            int from = graph_node_index(g, j->from[k], false);
            if (from <= 0)
                return fail(err, "join into \"%s\" from unknown node \"%s\"", j->to, j->from[k]);
            if (add_int(&g->chans[ci].sources, &g->chans[ci].nsources, from) ||
                add_int(&g->nodes[from].barriers, &g->nodes[from].nbarriers, ci))
                return sa_err_set(err, SA_ENOMEM, "out of memory");
        }
        if (add_int(&g->nodes[to].triggers, &g->nodes[to].ntriggers, ci))
            return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    g->nconds = b->nconds;
    if (b->nconds && !(g->conds = calloc((size_t)b->nconds, sizeof *g->conds)))
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    for (int i = 0; i < b->nconds; i++) {
        struct b_cond *c = &b->conds[i];
        int from = graph_node_index(g, c->from, true);
        if (from < 0)
            return fail(err, "conditional edges from unknown node \"%s\"%s", c->from, "");
        g->conds[i] = (struct cond_edge){c->fn, c->arg, json_incref(c->path_map)};
        const char *key;
        json_t *v;
        json_object_foreach(c->path_map, key, v)
        {
            if (!json_is_string(v) || graph_node_index(g, json_string_value(v), true) <= 0)
                if (!json_is_string(v) || strcmp(json_string_value(v), GRAPH_END) != 0)
                    return fail(err, "path map of \"%s\" names unknown node for key \"%s\"",
                                c->from, key);
        }
        if (add_int(&g->nodes[from].conds, &g->nodes[from].nconds, i))
            return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    return 0;
}

static int mark_interrupts(struct graph *g, const char *const *names, bool before,
                           struct sa_err *err)
{
    for (int i = 0; names && names[i]; i++) {
        int n = graph_node_index(g, names[i], false);
        if (n <= 0)
            return fail(err, "interrupt_%s names unknown node \"%s\"", before ? "before" : "after",
                        names[i]);
        if (before)
            g->nodes[n].interrupt_before = true;
        else
            g->nodes[n].interrupt_after = true;
    }
    return 0;
}

int graph_compile(struct graph_builder *b, const struct graph_compile_opts *opts,
                  struct graph **out, struct sa_err *err)
{
    *out = NULL;
    if (b->error[0])
        return sa_err_set(err, SA_EINVAL, "%s", b->error);
    if (b->nnodes == 0)
        return sa_err_set(err, SA_EINVAL, "the graph has no nodes");
    struct graph *g = calloc(1, sizeof *g);
    if (!g)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    pthread_mutex_init(&g->busy_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->busy_left, &ca);
    pthread_condattr_destroy(&ca);
    struct graph_compile_opts o = opts ? *opts : (struct graph_compile_opts){0};
    g->saver = o.saver;
    g->recursion_limit = o.recursion_limit > 0 ? o.recursion_limit : 25;
    g->threads = o.threads > 1 ? o.threads : 1;
    g->durability = o.durability;
    g->full_every = o.full_snapshot_every > 0 ? o.full_snapshot_every : 16;
    g->thread_ttl = o.thread_ttl > 0 ? o.thread_ttl : 0;
    int rc = resolve(b, g, err);
    if (!rc && g->nodes[0].nsucc == 0 && g->nodes[0].nconds == 0)
        rc = sa_err_set(err, SA_EINVAL,
                        "the graph has no entry point: add an edge from __start__ "
                        "(graph_set_entry_point)");
    if (!rc)
        rc = check_reachable(g, err);
    if (!rc)
        rc = mark_interrupts(g, o.interrupt_before, true, err);
    if (!rc)
        rc = mark_interrupts(g, o.interrupt_after, false, err);
    if (rc) {
        graph_free(g);
        return rc;
    }
    *out = g;
    return 0;
}
