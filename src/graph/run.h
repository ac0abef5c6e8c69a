/* The engine's run state, shared by its files: run.c (super-steps), checkpoint.c
 * (records, savers, the async writer) and state.c (the thread API, subgraphs,
 * retention). Not part of the public API (graph.h). */
#ifndef SA_GRAPH_RUN_H
#define SA_GRAPH_RUN_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/clock.h"
#include "graph/internal.h"

struct async_writer;

#define TASK_ID_MAX 160

struct task {
    int node;
    json_t *arg; /* Send input, or NULL: the snapshot */
    char id[TASK_ID_MAX];
    json_t *writes;    /* [[channel, value], ...] incl. triggers and ["__send__", {..}] */
    json_t *update;    /* what the node returned (streamed, recorded in metadata) */
    json_t *resume;    /* borrowed: resume values for this task, or NULL */
    json_t *interrupt; /* {id, value, node} when the task interrupted */
    json_t *sends;     /* graph_send calls */
    int interrupts_called;
    int rc;
    char msg[256];
    bool restored;    /* writes replayed from the checkpoint's pending writes */
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
    bool unsaved;            /* state changed since the last saved record */
    bool force_full;         /* the next record is a full snapshot with no parent (prune) */
    struct async_writer *aw; /* durability async: the writer thread, else NULL */
    pthread_mutex_t emit_lock;
    pthread_mutex_t pending_lock; /* tasks of a parallel step record their writes */
    bool record_each;             /* this step records each finished task at once */
};

struct graph_ctx {
    struct run *r;
    struct task *t;
    int attempt;
    uint64_t deadline_ns; /* 0: none */
};

/* run.c: run state, events, writes. Ownership as in the code they came from: a run owns
 * its values (graph_r_run_free releases them); snapshots and next_nodes return new
 * references. */
int graph_r_run_init(struct run *r, const struct graph *g, const struct graph_run_opts *opts);
void graph_r_run_free(struct run *r);
const char *graph_r_chan_name(const struct run *r, int c);
uint64_t *graph_r_seen_at(struct run *r, int node, int chan);
void graph_r_emit(struct run *r, enum graph_stream_mode mode, json_t *data);
bool graph_r_wants(const struct run *r, unsigned modes);
json_t *graph_r_pending_new(void);
json_t *graph_r_snapshot(const struct run *r);
int graph_r_build_writes(struct run *r, struct task *t, json_t *returned, struct sa_err *err);
int graph_r_apply_writes(struct run *r, struct task *tasks, int n, struct sa_err *err);
bool graph_r_triggered(struct run *r, int node);
void graph_r_mark_seen(struct run *r, const struct task *ts, int n);
/* Who holds a thread: a run (or a state update) fails another run with SA_ECONFLICT;
 * maintenance (compaction) makes a run wait up to GRAPH_MAINTENANCE_WAIT_S for it, and
 * never waits itself (the retention pass skips a busy thread). */
enum graph_hold { GRAPH_HOLD_RUN, GRAPH_HOLD_MAINTENANCE };
#define GRAPH_MAINTENANCE_WAIT_S 5
int graph_r_busy_enter(const struct graph *cg, const char *thread_id, enum graph_hold hold,
                       struct sa_err *err);
void graph_r_busy_leave(const struct graph *cg, const char *thread_id);

/* checkpoint.c: saving (sync, or queued to the async writer) and loading records; each
 * returns 0 or an SA_* code with err set. */
json_t *graph_r_next_nodes(struct run *r);
int graph_r_writer_start(struct run *r, struct sa_err *err);
int graph_r_writer_finish(struct run *r, struct sa_err *err);
int graph_r_save_checkpoint(struct run *r, const char *source, struct sa_err *err);
int graph_r_save_pending(struct run *r, struct sa_err *err);
int graph_r_load_checkpoint(struct run *r, const char *id, struct sa_err *err);

#endif
