/* The compiled graph's layout, shared by the engine's files (graph.c builds it, run.c
 * runs it, checkpoint.c saves and rebuilds run state). Not part of the public API. */
#ifndef SA_GRAPH_INTERNAL_H
#define SA_GRAPH_INTERNAL_H

#include <pthread.h>

#include "graph/graph.h"
#include "graph/saver.h"

#define GRAPH_END_IDX (-2) /* "not found" is -1 */

enum chan_kind { CH_STATE, CH_TRIGGER, CH_BARRIER };

struct chan_def {
    char *name;
    enum chan_kind kind;
    enum graph_reducer reducer; /* CH_STATE only */
    json_t *initial;            /* owned, may be NULL */
    graph_reduce_fn fn;
    void *arg;
    int node;     /* CH_TRIGGER, CH_BARRIER: the node it triggers */
    int *sources; /* CH_BARRIER: the nodes it waits for */
    int nsources;
};

struct cond_edge {
    graph_router_fn fn;
    void *arg;
    json_t *path_map; /* owned, may be NULL */
};

struct node_def {
    char *name;
    graph_node_fn fn; /* NULL for START */
    void *arg;
    struct graph_retry retry;
    double timeout;
    int *succ; /* static successors: node index or GRAPH_END_IDX */
    int nsucc;
    int *conds; /* conditional edges out of this node (indices into graph.conds) */
    int nconds;
    int *barriers; /* barrier channels this node feeds */
    int nbarriers;
    int *triggers; /* channels whose update triggers this node */
    int ntriggers;
    int trigger_chan; /* its "branch:to:NAME" channel */
    bool interrupt_before, interrupt_after;
};

struct graph {
    struct chan_def *chans;
    int nchans;
    struct node_def *nodes; /* nodes[0] is START */
    int nnodes;
    struct cond_edge *conds;
    int nconds;
    struct graph_saver *saver;
    int recursion_limit;
    int threads;
    enum graph_durability durability;
    int full_every;
    double thread_ttl;
    pthread_mutex_t busy_lock; /* guards busy: the threads a run or maintenance holds */
    pthread_cond_t busy_left;  /* signalled when maintenance leaves a thread */
    struct busy {
        char *thread_id;
        bool maintenance; /* compaction: runs wait for it instead of failing */
    } * busy;
    int nbusy, capbusy;
};

/* The node function that runs a subgraph (arg: the compiled subgraph). */
int graph_subgraph_node(const json_t *state, json_t **update, struct graph_ctx *ctx, void *arg);

/* Index of a node or channel by name, or -1 (GRAPH_END gives GRAPH_END_IDX for nodes
 * when allow_end). */
int graph_node_index(const struct graph *g, const char *name, bool allow_end);
int graph_chan_index(const struct graph *g, const char *name);

#endif
