/* A compiled graph's shape as JSON (graph_describe in graph.h): the nodes and edges the
 * builder declared, in the shape LangGraph's getGraph().toJSON() gives, so the web
 * console draws the pipeline and an Agent Server API can answer GET
 * /assistants/{id}/graph from the engine's own definitions, never a hand-written copy. */
#include <string.h>

#include "graph/internal.h"

/* The node name at index i (GRAPH_END_IDX: END). */
static const char *node_name(const struct graph *g, int i)
{
    return i == GRAPH_END_IDX ? GRAPH_END : g->nodes[i].name;
}

/* LangGraph's node entries: START and END are "schema" nodes (the input and output
 * state), every other node a "runnable" whose data names it. */
static json_t *node_json(const char *name, bool schema)
{
    if (schema)
        return json_pack("{s:s, s:s, s:s, s:{s:s}}", "id", name, "name", name, "type", "schema",
                         "data", "title", name);
    return json_pack("{s:s, s:s, s:s, s:{s:[s, s], s:s}}", "id", name, "name", name, "type",
                     "runnable", "data", "id", "sales_agent", "graph_node", "name", name);
}

/* Appends source -> target unless that edge is there already; label (may be NULL) is a
 * router's key when it differs from the target's name (LangGraph's edge data). */
static void add_edge(json_t *edges, const char *source, const char *target, bool conditional,
                     const char *label)
{
    size_t i;
    json_t *e;
    json_array_foreach(edges, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "source")), source) == 0 &&
            strcmp(json_string_value(json_object_get(e, "target")), target) == 0 &&
            json_is_true(json_object_get(e, "conditional")) == conditional)
            return;
    }
    e = json_pack("{s:s, s:s, s:b}", "source", source, "target", target, "conditional",
                  conditional);
    if (e && label && strcmp(label, target) != 0)
        json_object_set_new(e, "data", json_string(label));
    json_array_append_new(edges, e);
}

/* A conditional edge's targets: its path map's values, or, without one (the router may
 * name any node), every node but START, and END (as LangGraph draws it). */
static void add_conditional(const struct graph *g, const char *from, const struct cond_edge *c,
                            json_t *edges, bool *reaches_end)
{
    if (c->path_map) {
        const char *key;
        json_t *v;
        json_object_foreach(c->path_map, key, v)
        {
            const char *target = json_string_value(v);
            if (!target)
                continue;
            *reaches_end |= strcmp(target, GRAPH_END) == 0;
            add_edge(edges, from, target, true, key);
        }
        return;
    }
    for (int n = 1; n < g->nnodes; n++)
        add_edge(edges, from, g->nodes[n].name, true, NULL);
    add_edge(edges, from, GRAPH_END, true, NULL);
    *reaches_end = true;
}

json_t *graph_describe(const struct graph *g)
{
    json_t *nodes = json_array(), *edges = json_array();
    bool reaches_end = false;
    for (int i = 0; i < g->nnodes; i++) {
        const struct node_def *n = &g->nodes[i];
        json_array_append_new(nodes, node_json(n->name, i == 0));
        for (int k = 0; k < n->nsucc; k++) {
            reaches_end |= n->succ[k] == GRAPH_END_IDX;
            add_edge(edges, n->name, node_name(g, n->succ[k]), false, NULL);
        }
        /* a joining edge: this node is one of the sources its target waits for */
        for (int k = 0; k < n->nbarriers; k++)
            add_edge(edges, n->name, node_name(g, g->chans[n->barriers[k]].node), false, NULL);
        for (int k = 0; k < n->nconds; k++)
            add_conditional(g, n->name, &g->conds[n->conds[k]], edges, &reaches_end);
    }
    if (reaches_end)
        json_array_append_new(nodes, node_json(GRAPH_END, true));
    return json_pack("{s:o, s:o}", "nodes", nodes, "edges", edges);
}
