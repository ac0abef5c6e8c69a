/* The checkpoint saver interface: where a thread's checkpoints live. Savers store opaque
 * records (the engine serialises state into them, src/graph/checkpoint.c); they never
 * parse them, so a new backend (PostgreSQL, Redis) is only storage. Implementations:
 * memory (saver_memory.c, here), SQLite (store/sqlite/saver.c, opened through the store's
 * registry: sa_saver_open). Every op is thread-safe. */
#ifndef SA_GRAPH_SAVER_H
#define SA_GRAPH_SAVER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

#define GRAPH_ID_LEN 40

/* One checkpoint as stored. blob: the serialised checkpoint (a delta of the channels the
 * step changed, or a full snapshot when full); writes: the pending writes and interrupts
 * recorded while executing the step that starts from this checkpoint (may be empty). */
struct graph_record {
    char id[GRAPH_ID_LEN];        /* UUIDv7: ids sort by creation */
    char parent_id[GRAPH_ID_LEN]; /* "" for the first checkpoint of a thread */
    int step;
    bool full;
    char *blob; /* owned (malloc) */
    size_t blob_len;
    char *writes; /* owned (malloc), or NULL */
    size_t writes_len;
    double expires_at; /* Unix seconds after which the thread may be swept; 0: never */
};

/* Frees the record's buffers (not the record). */
void graph_record_clear(struct graph_record *r);

struct graph_saver;

/* The ops a saver implements. Every slot is required except those marked optional: an
 * optional slot may be NULL, and its wrapper below then runs the default
 * (graph_saver_def_*, which a saver may also name explicitly). Each fallible op returns 0
 * or a negative SA_* code with err set. Callers use the wrappers, never the slots. */
struct graph_saver_ops {
    const char *name;
    /* Stores a new record (copies its buffers). */
    int (*put)(struct graph_saver *s, const char *thread_id, const struct graph_record *r,
               struct sa_err *err);
    /* Replaces the pending writes of an existing record (copies); SA_ENOTFOUND when the
     * record does not exist. */
    int (*put_writes)(struct graph_saver *s, const char *thread_id, const char *id,
                      const char *writes, size_t len, struct sa_err *err);
    /* Fills out (caller clears it) with record id, or the latest when id is NULL.
     * SA_ENOTFOUND when there is none. */
    int (*get)(struct graph_saver *s, const char *thread_id, const char *id,
               struct graph_record *out, struct sa_err *err);
    /* Ids of the thread's records, newest first, at most limit (0: all): *ids is a
     * malloc'd array of GRAPH_ID_LEN strings the caller frees. */
    int (*list)(struct graph_saver *s, const char *thread_id, int limit, char (**ids)[GRAPH_ID_LEN],
                int *n, struct sa_err *err);
    /* Deletes every record of the thread. */
    int (*delete_thread)(struct graph_saver *s, const char *thread_id, struct sa_err *err);
    /* Deletes every record of the thread except keep_id. */
    int (*delete_except)(struct graph_saver *s, const char *thread_id, const char *keep_id,
                         struct sa_err *err);
    /* Optional (default: sweeps nothing, for savers whose records expire by themselves).
     * Deletes the threads whose newest record's expiry has passed (now: Unix seconds);
     * *n counts the threads deleted. */
    int (*sweep)(struct graph_saver *s, double now, int *n, struct sa_err *err);
    /* Optional (default: SA_ENOTIMPL). Bytes held for a thread (records and writes) and
     * its record count: for benchmarks and metrics. */
    int (*thread_bytes)(struct graph_saver *s, const char *thread_id, size_t *bytes, int *records,
                        struct sa_err *err);
    /* Optional (default: nothing to do, for savers that never expire a record whose
     * expires_at is 0). Keeps the thread from expiring until its next put: the engine calls
     * it when a run stops at an interrupt, waiting for a human, so an approval answered
     * days later still finds its thread. A saver with an expiry of its own (Redis:
     * CHECKPOINT_TTL_SECONDS on every put) or records with a TTL clears it. */
    int (*hold)(struct graph_saver *s, const char *thread_id, struct sa_err *err);
    /* Frees the saver and its records. */
    void (*free)(struct graph_saver *s);
};

struct graph_saver {
    const struct graph_saver_ops *ops; /* implementations embed this struct first */
};

/* The in-process saver. NULL when out of memory. */
struct graph_saver *graph_saver_memory_new(void);

/* ---- the defaults of the optional slots ---- */

static inline SA_WUR int graph_saver_def_sweep(struct graph_saver *s, double now, int *n,
                                               struct sa_err *err)
{
    (void)s;
    (void)now;
    (void)err;
    *n = 0;
    return 0;
}
static inline SA_WUR int graph_saver_def_hold(struct graph_saver *s, const char *thread_id,
                                              struct sa_err *err)
{
    (void)s;
    (void)thread_id;
    (void)err;
    return 0;
}
static inline SA_WUR int graph_saver_def_thread_bytes(struct graph_saver *s, const char *thread_id,
                                                      size_t *bytes, int *records,
                                                      struct sa_err *err)
{
    *bytes = 0;
    *records = 0;
    return sa_err_set(err, SA_ENOTIMPL, "saver %s does not count bytes of thread %s", s->ops->name,
                      thread_id);
}

/* ---- the wrappers callers use, one per slot (see struct graph_saver_ops) ---- */

/* The implementation's name ("memory", "sqlite"): for logs and tests. */
static inline const char *graph_saver_name(const struct graph_saver *s)
{
    return s->ops->name;
}

static inline SA_WUR int graph_saver_put(struct graph_saver *s, const char *thread_id,
                                         const struct graph_record *r, struct sa_err *err)
{
    return s->ops->put(s, thread_id, r, err);
}
static inline SA_WUR int graph_saver_put_writes(struct graph_saver *s, const char *thread_id,
                                                const char *id, const char *writes, size_t len,
                                                struct sa_err *err)
{
    return s->ops->put_writes(s, thread_id, id, writes, len, err);
}
static inline SA_WUR int graph_saver_get(struct graph_saver *s, const char *thread_id,
                                         const char *id, struct graph_record *out,
                                         struct sa_err *err)
{
    return s->ops->get(s, thread_id, id, out, err);
}
static inline SA_WUR int graph_saver_list(struct graph_saver *s, const char *thread_id, int limit,
                                          char (**ids)[GRAPH_ID_LEN], int *n, struct sa_err *err)
{
    return s->ops->list(s, thread_id, limit, ids, n, err);
}
static inline SA_WUR int graph_saver_delete_thread(struct graph_saver *s, const char *thread_id,
                                                   struct sa_err *err)
{
    return s->ops->delete_thread(s, thread_id, err);
}
static inline SA_WUR int graph_saver_delete_except(struct graph_saver *s, const char *thread_id,
                                                   const char *keep_id, struct sa_err *err)
{
    return s->ops->delete_except(s, thread_id, keep_id, err);
}
static inline SA_WUR int graph_saver_sweep(struct graph_saver *s, double now, int *n,
                                           struct sa_err *err)
{
    return (s->ops->sweep ? s->ops->sweep : graph_saver_def_sweep)(s, now, n, err);
}
static inline SA_WUR int graph_saver_thread_bytes(struct graph_saver *s, const char *thread_id,
                                                  size_t *bytes, int *records, struct sa_err *err)
{
    return (s->ops->thread_bytes ? s->ops->thread_bytes
                                 : graph_saver_def_thread_bytes)(s, thread_id, bytes, records, err);
}
static inline SA_WUR int graph_saver_hold(struct graph_saver *s, const char *thread_id,
                                          struct sa_err *err)
{
    return (s->ops->hold ? s->ops->hold : graph_saver_def_hold)(s, thread_id, err);
}
static inline void graph_saver_free(struct graph_saver *s)
{
    if (s)
        s->ops->free(s);
}

#endif
