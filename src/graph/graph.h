/* The state-graph engine: LangGraph's semantics in C. A graph is a set of named channels
 * (the state, each with a reducer) and nodes (functions of the state) joined by static,
 * joining and conditional edges. A run proceeds in super-steps (Pregel/BSP): every node
 * triggered in a step runs on the same snapshot, their writes are applied after the step
 * in a deterministic order, then a checkpoint is saved. Runs can stop at interrupts and be
 * resumed, live on threads with a history, and stream events. docs/graph.md explains the
 * design; agents (src/agents/) and the API stand on this header.
 *
 * Values are JSON (jansson). Ownership: every json_t the engine passes to a callback is
 * borrowed for the call; every json_t a callback returns through an out-parameter is a
 * new reference the engine takes. Functions returning json_t * return new references.
 *
 * Thread-safety: building a graph is single-threaded. A compiled graph is immutable and
 * may be invoked from many threads at once, on different thread ids; two concurrent runs
 * on the same thread id are refused (SA_ECONFLICT). Node functions MUST be thread-safe
 * when the graph runs with threads > 1 (nodes of one step then run in parallel). */
#ifndef SA_GRAPH_GRAPH_H
#define SA_GRAPH_GRAPH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"

#define GRAPH_START "__start__"
#define GRAPH_END "__end__"

struct graph_builder;
struct graph;
struct graph_ctx;
struct graph_saver;

/* ---- channels ---------------------------------------------------------------------- */

enum graph_reducer {
    GRAPH_LAST_VALUE, /* one write per step; two writes in a step fail (InvalidUpdateError) */
    GRAPH_APPEND,     /* list concatenation: a write of a list appends its items, of a
                         value appends it (LangGraph's operator.add on lists) */
    GRAPH_MERGE,      /* object merge: keys of the write replace the current ones */
    GRAPH_SUM,        /* numeric sum */
    GRAPH_TOPIC,      /* a list of this step's writes only: cleared before each step */
    GRAPH_EPHEMERAL,  /* last value, visible only to the next step, then cleared */
    GRAPH_CUSTOM      /* a binary operator: reduce(current, write) */
};

/* A custom reducer: returns the new value (new reference) from the current value (may be
 * NULL: no value yet) and one write. NULL means the write is invalid (the step fails). */
typedef json_t *(*graph_reduce_fn)(const json_t *current, const json_t *write, void *arg);

/* ---- nodes and edges --------------------------------------------------------------- */

/* A node. state is the step's snapshot, an object of every channel with a value
 * (borrowed). Return 0 with *update set to an object {channel: value} (new reference) or
 * NULL for no writes, or with *update set by graph_command() for update + goto; return a
 * negative SA_* code (with graph_ctx_fail for a message) to fail the task. A node may call
 * graph_interrupt() and graph_send(), graph_emit() through ctx. */
typedef int (*graph_node_fn)(const json_t *state, json_t **update, struct graph_ctx *ctx,
                             void *arg);

/* A router for conditional edges: reads the state as the node's own writes left it and
 * sets *next (new reference) to a node name, a list of names, a Send (graph_send_value),
 * a list mixing both, or a key of the path map given with the edge. Return 0 or an error. */
typedef int (*graph_router_fn)(const json_t *state, json_t **next, void *arg);

struct graph_retry {
    int max_attempts;        /* 1 = no retry (default) */
    double initial_interval; /* seconds before the 2nd attempt (default 0.5) */
    double backoff_factor;   /* multiplier per attempt (default 2) */
    double max_interval;     /* cap (default 128 s) */
    bool jitter;             /* add up to 100 % random jitter (default false here) */
    /* Which error codes are retried: retry_on[0..n) (0-terminated); empty: every code
     * except SA_EINVAL (a bad input does not get better by retrying). */
    int retry_on[8];
};

struct graph_node_opts {
    struct graph_retry retry;
    /* Seconds an attempt may take; 0: no limit. A running C function cannot be stopped
     * safely, so the timeout is cooperative: a long node polls graph_ctx_expired() and
     * returns; an attempt that returns after its deadline fails with SA_ETIMEDOUT either
     * way (and is retried when the policy allows). */
    double timeout;
};

/* ---- building ---------------------------------------------------------------------- */

/* Creates an empty builder. NULL when out of memory. */
struct graph_builder *graph_builder_new(void);
void graph_builder_free(struct graph_builder *b);

/* Declares a channel. initial (borrowed, may be NULL) is its value before any write.
 * reduce/arg are used by GRAPH_CUSTOM only. Errors (kept in the builder, reported by
 * graph_compile): duplicate or reserved name. */
void graph_add_channel(struct graph_builder *b, const char *name, enum graph_reducer reducer,
                       const json_t *initial, graph_reduce_fn reduce, void *arg);
/* Adds a node; opts may be NULL. */
void graph_add_node(struct graph_builder *b, const char *name, graph_node_fn fn, void *arg,
                    const struct graph_node_opts *opts);
/* Adds a compiled graph as a node (a subgraph). The node passes the parent's state to
 * the subgraph as its input (the keys that are channels of the subgraph), and the
 * subgraph's final values, for keys that are channels of the parent, become the node's
 * update. When the subgraph has a checkpointer it runs on its own thread,
 * "PARENT_THREAD|STEP:NODE": its checkpoint namespace, readable with graph_get_state.
 * An interrupt inside the subgraph interrupts the parent with the same value, and
 * resuming the parent resumes the subgraph with the answer. sub is borrowed and MUST
 * outlive the parent. */
void graph_add_subgraph(struct graph_builder *b, const char *name, const struct graph *sub);
/* A static edge from -> to (GRAPH_START and GRAPH_END allowed). */
void graph_add_edge(struct graph_builder *b, const char *from, const char *to);
/* A joining edge: to runs once every node of from[0..n) has run (a named barrier). */
void graph_add_join(struct graph_builder *b, const char *const *from, int n, const char *to);
/* Conditional edges out of from: router picks the next node(s). path_map (borrowed, may
 * be NULL) maps router results to node names ({"yes": "approve", "no": "__end__"}). */
void graph_add_conditional_edges(struct graph_builder *b, const char *from, graph_router_fn router,
                                 void *arg, const json_t *path_map);
/* LangGraph's set_entry_point / set_finish_point: edges from START / to END. */
void graph_set_entry_point(struct graph_builder *b, const char *node);
void graph_set_finish_point(struct graph_builder *b, const char *node);

enum graph_durability {
    GRAPH_DURABILITY_SYNC,  /* each checkpoint saved before the next step starts */
    GRAPH_DURABILITY_ASYNC, /* saved by a writer thread while the next step runs; the run
                               returns after every save (and reports a failed one) */
    GRAPH_DURABILITY_EXIT   /* saved only when the run ends, fails or interrupts */
};

struct graph_compile_opts {
    struct graph_saver *saver;           /* NULL: no checkpoints, no threads (borrowed) */
    const char *const *interrupt_before; /* NULL-terminated node names, or NULL */
    const char *const *interrupt_after;
    int recursion_limit; /* max super-steps per run; 0: 25 (LangGraph.js) */
    int threads;         /* parallel tasks per step; 0 or 1: sequential */
    enum graph_durability durability;
    int full_snapshot_every; /* a full checkpoint every N steps; 0: 16 */
    double thread_ttl;       /* seconds a thread lives after its last
                                checkpoint (see graph_sweep); 0: forever */
};

/* Validates the builder and compiles it: unknown nodes in edges, nodes no edge reaches,
 * no entry point, edges out of END, nodes with no way out, duplicate names. On error
 * returns SA_EINVAL with err listing the first problem. The builder is not consumed;
 * free it when convenient (the graph copies what it needs). */
int graph_compile(struct graph_builder *b, const struct graph_compile_opts *opts,
                  struct graph **out, struct sa_err *err) SA_WUR;
void graph_free(struct graph *g);

/* ---- running ----------------------------------------------------------------------- */

enum graph_stream_mode {
    GRAPH_STREAM_VALUES = 1 << 0,      /* the full state after each step */
    GRAPH_STREAM_UPDATES = 1 << 1,     /* {node: update} per finished task */
    GRAPH_STREAM_CUSTOM = 1 << 2,      /* what nodes emit with graph_emit */
    GRAPH_STREAM_CHECKPOINTS = 1 << 3, /* each checkpoint as saved */
    GRAPH_STREAM_TASKS = 1 << 4,       /* task start and result */
    GRAPH_STREAM_DEBUG = 1 << 5,       /* tasks with timings, checkpoints */
    GRAPH_STREAM_MESSAGES = 1 << 6     /* LLM tokens (graph_emit_message) */
};

/* A stream subscriber: mode is one GRAPH_STREAM_* bit, data borrowed for the call. Called
 * on the thread running the step, in event order. */
typedef void (*graph_stream_fn)(enum graph_stream_mode mode, const json_t *data, void *arg);

/* What a caller does as new input replaces a thread's state, tied to the input checkpoint
 * (e.g. marking the answers to the thread's old interrupts void). before_save is called
 * once, with new input only, when the thread is this run's (a busy thread fails before)
 * and its checkpoint is loaded, just before the input checkpoint is saved: non-zero (an
 * SA_* code, err set) fails the run with nothing saved. When that save then fails,
 * not_saved (may be NULL) is called, the thread still held: undo what before_save did.
 * The input checkpoint is stored synchronously whatever the durability, so after
 * before_save either it is stored or not_saved is called. */
struct graph_input_hook {
    int (*before_save)(void *arg, struct sa_err *err);
    void (*not_saved)(void *arg);
    void *arg;
};

struct graph_run_opts {
    const char *thread_id;     /* required with a saver */
    const char *checkpoint_id; /* resume or fork from this checkpoint; NULL: latest */
    const json_t *resume;      /* Command(resume=...): a value for the pending interrupt,
                                  or an object {interrupt_id: value}; borrowed */
    unsigned stream_modes;     /* GRAPH_STREAM_* bits */
    graph_stream_fn on_event;
    void *event_arg;
    /* When non-NULL and set (by another thread), the run stops before its next step with
     * SA_ECANCELED; the checkpoint of the last finished step stays. */
    const volatile int *cancel;
    const struct graph_input_hook *input_hook; /* NULL: none (see above) */
};

enum graph_status { GRAPH_DONE, GRAPH_INTERRUPTED };

struct graph_result {
    enum graph_status status;
    json_t *values;     /* final state (new reference) */
    json_t *interrupts; /* GRAPH_INTERRUPTED: [{id, value, node}] (new reference) */
    int steps;          /* super-steps run by this call */
    char checkpoint_id[40];
};

/* Runs the graph. input (borrowed) is written to the channels as START's update; NULL
 * (or JSON null) with a saver continues the thread from its checkpoint (after an
 * interrupt, with opts->resume). Returns 0 with res filled (release with
 * graph_result_clear) or an error: SA_EINVAL invalid update (two writes to a last-value
 * channel, unknown channel), SA_ETOOBIG recursion limit, SA_ECONFLICT the thread is busy,
 * a node's own code after its retries. On error the last checkpoint stays as it was
 * after the last completed step. */
int graph_invoke(const struct graph *g, const json_t *input, const struct graph_run_opts *opts,
                 struct graph_result *res, struct sa_err *err) SA_WUR;
void graph_result_clear(struct graph_result *res);

/* ---- inside a node ----------------------------------------------------------------- */

/* Interrupts the run with value (borrowed), like LangGraph's interrupt(): the first time,
 * returns NULL and the node MUST return SA_EINTERRUPT at once (its writes are dropped);
 * after a resume, the node runs again from the start and its n-th call returns the n-th
 * resume value (borrowed, valid until the node returns). */
const json_t *graph_interrupt(struct graph_ctx *ctx, const json_t *value);
/* Schedules node to run in the next step with arg (borrowed) as its whole input (Send). */
void graph_send(struct graph_ctx *ctx, const char *node, const json_t *arg);
/* A Send value for routers: {"__send__": node, "arg": arg} (new reference). */
json_t *graph_send_value(const char *node, const json_t *arg);
/* A Command for a node's *update: apply update (taken, may be NULL) and go to goto_nodes
 * (a name or a list; taken, may be NULL). Returns a new reference. */
json_t *graph_command(json_t *update, json_t *goto_nodes);
/* Emits a custom stream event (data borrowed). */
void graph_emit(struct graph_ctx *ctx, const json_t *data);
/* Emits a piece of a model's answer as a "messages" stream event (LangGraph's
 * messages-tuple shape): [chunk, {"langgraph_node": the running node, "langgraph_step":
 * the step}]; chunk borrowed. Nothing when the run does not stream messages. */
void graph_emit_message(struct graph_ctx *ctx, const json_t *chunk);
/* True when the run streams mode (one GRAPH_STREAM_* bit): a node can skip work only a
 * stream would show. */
bool graph_ctx_streams(const struct graph_ctx *ctx, unsigned mode);
/* Sets the failing task's message (what graph_invoke's err will say). Returns code. */
int graph_ctx_fail(struct graph_ctx *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* True once the running attempt has passed its node's timeout. */
bool graph_ctx_expired(const struct graph_ctx *ctx);
/* The name of the running node, and the attempt number (1-based). */
const char *graph_ctx_node(const struct graph_ctx *ctx);
int graph_ctx_attempt(const struct graph_ctx *ctx);

/* The code a node returns after graph_interrupt. */
#define SA_EINTERRUPT (-100)

/* ---- threads, state and history ---------------------------------------------------- */

/* The thread's state at a checkpoint (NULL: latest) as LangGraph's StateSnapshot:
 * {values, next: [nodes], config: {thread_id, checkpoint_id}, parent_config, metadata:
 * {source, step, writes}, created_at, tasks: [{id, name, interrupts}]}. SA_ENOTFOUND
 * when the thread or checkpoint does not exist; SA_ECONFLICT when another graph (sharing
 * the checkpointer) wrote the thread. */
int graph_get_state(const struct graph *g, const char *thread_id, const char *checkpoint_id,
                    json_t **out, struct sa_err *err) SA_WUR;
/* The thread's snapshots, newest first, at most limit (0: all): a JSON array. */
int graph_get_state_history(const struct graph *g, const char *thread_id, int limit, json_t **out,
                            struct sa_err *err) SA_WUR;
/* Writes values (borrowed object) to the thread's latest checkpoint as if as_node had
 * run (NULL: the last node that ran), creating a new checkpoint (source "update"); the
 * next run continues from there. Fork: give checkpoint_id to branch from a past one. */
int graph_update_state(const struct graph *g, const char *thread_id, const char *checkpoint_id,
                       const json_t *values, const char *as_node, char new_id[40],
                       struct sa_err *err) SA_WUR;

/* ---- shape -------------------------------------------------------------------------- */

/* The graph's nodes and edges as LangGraph's getGraph().toJSON() gives them (new
 * reference, NULL when out of memory): {nodes: [{id, name, type, data}], edges: [{source,
 * target, conditional, data?}]}. START and END are "schema" nodes (END only when an edge
 * reaches it), the others "runnable"; a joining edge appears once per source; a
 * conditional edge goes to each value of its path map (data: the router's key when it
 * differs from the target), or without a map to every node and END. Nodes in the order
 * they were added, edges in the order of their source. */
json_t *graph_describe(const struct graph *g);

/* ---- retention ---------------------------------------------------------------------- */

/* Deletes every checkpoint of the thread. */
int graph_delete_thread(const struct graph *g, const char *thread_id, struct sa_err *err) SA_WUR;
/* Keeps only the thread's latest state: writes it as one full checkpoint (with its pending
 * writes and interrupts) and deletes the rest, so history and forks before it are gone.
 * SA_ECONFLICT when a run holds the thread; a run that starts meanwhile waits for the
 * prune (up to a few seconds) instead of failing. */
int graph_prune_thread(const struct graph *g, const char *thread_id, struct sa_err *err) SA_WUR;
/* Deletes the threads whose TTL (graph_compile_opts.thread_ttl) has passed; *n counts
 * them. Meant to run periodically. */
int graph_sweep(const struct graph *g, int *n, struct sa_err *err) SA_WUR;

#endif
