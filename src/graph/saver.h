/* The checkpoint saver interface: where a thread's checkpoints live. Savers store opaque
 * records (the engine serialises state into them, src/graph/checkpoint.c); they never
 * parse them, so a new backend (PostgreSQL, Redis) is only storage. Implementations:
 * memory (saver_memory.c, here), SQLite (store/sqlite/saver.c). Every op is thread-safe. */
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

struct graph_saver_ops {
    const char *name;
    /* Stores a new record (copies its buffers). */
    int (*put)(struct graph_saver *s, const char *thread_id, const struct graph_record *r,
               struct sa_err *err);
    /* Replaces the pending writes of an existing record (copies). */
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
    /* Deletes the threads whose newest expiry has passed (now: Unix seconds); *n counts
     * the threads deleted. */
    int (*sweep)(struct graph_saver *s, double now, int *n, struct sa_err *err);
    /* Bytes held for a thread (records and writes): for benchmarks and metrics. */
    int (*thread_bytes)(struct graph_saver *s, const char *thread_id, size_t *bytes, int *records,
                        struct sa_err *err);
    void (*free)(struct graph_saver *s);
};

struct graph_saver {
    const struct graph_saver_ops *ops; /* implementations embed this struct first */
};

/* The in-process saver. NULL when out of memory. */
struct graph_saver *graph_saver_memory_new(void);

static inline void graph_saver_free(struct graph_saver *s)
{
    if (s)
        s->ops->free(s);
}

#endif
