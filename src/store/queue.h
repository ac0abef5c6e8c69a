/* The run queue: where background pipeline runs wait for a worker, and where a run's
 * events go so that any stream client, on any instance, can follow it from its start.
 * Implementations: memory (queue_memory.c: one process, the default) and Redis Streams
 * (store/redis/queue.c: shared by every instance on the same REDIS_URL). Opened with
 * sa_queue_open; used by the runs service (app/runs.c). Every op is thread-safe. */
#ifndef SA_STORE_QUEUE_H
#define SA_STORE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

struct sa_buf;
struct sa_queue;

/* A run taken from the queue: its id, and what ack and touch need to find the delivery
 * again (opaque: a stream entry id for Redis, empty for memory). */
struct sa_queue_delivery {
    char run_id[40];
    char handle[48];
    bool reclaimed; /* taken over from a consumer that stopped acknowledging it */
};

/* A reader's place in a run's events: "" is the start. Opaque text (a byte offset for
 * memory, a stream entry id for Redis) that read advances. */
#define SA_QUEUE_POS_LEN 48

/* How a queue behaves; zeros take the defaults given. */
struct sa_queue_opts {
    int visibility_ms;  /* a delivery not acknowledged nor touched this long is handed to
                         * another consumer (default 30000; memory ignores it) */
    int events_ttl_s;   /* how long a run's events stay readable after its end (3600) */
    int timeout_ms;     /* bounds each server round trip; a blocking read waits at most
                         * half of it, whatever was asked (REDIS_TIMEOUT_MS, 1000) */
    const char *prefix; /* before every key name, so tests or tenants can share a server
                         * (NULL: none); copied */
};

/* The ops a queue implements. Every slot is required except those marked optional: an
 * optional slot may be NULL and its wrapper below applies the default. Fallible ops return
 * 0 or a negative SA_* code with err set; the server's own error text goes to err (for the
 * log), never to an API client. Callers use the wrappers, never the slots. */
struct sa_queue_ops {
    const char *name;
    /* Whether queued runs outlive the process (Redis). When false, the runs service queues
     * the unfinished runs it finds in the store again at start-up. */
    bool durable;
    /* Appends run_id to the queue. */
    int (*submit)(struct sa_queue *q, const char *run_id, struct sa_err *err);
    /* Takes the next run, waiting up to wait_ms (> 0; Redis may wait less) for one: 0 with
     * *d filled, or SA_ETIMEDOUT when none came. A delivery MUST be acknowledged (ack) once its run
     * is finished; until then, durable queues hand it to another consumer when it is neither
     * acknowledged nor touched within the visibility timeout (the consumer died). */
    int (*take)(struct sa_queue *q, int wait_ms, struct sa_queue_delivery *d, struct sa_err *err);
    /* Optional (default: nothing to do). Tells the queue the consumer of d is alive and
     * still working on it, restarting its visibility timeout. */
    int (*touch)(struct sa_queue *q, const struct sa_queue_delivery *d, struct sa_err *err);
    /* Marks d done: it is never delivered again. */
    int (*ack)(struct sa_queue *q, const struct sa_queue_delivery *d, struct sa_err *err);
    /* Appends one event (text, len bytes: a complete SSE event) to run_id's events. */
    int (*publish)(struct sa_queue *q, const char *run_id, const char *text, size_t len,
                   struct sa_err *err);
    /* Appends the end marker to run_id's events: readers see the end after the events
     * before it. The events then expire after events_ttl_s. */
    int (*end)(struct sa_queue *q, const char *run_id, struct sa_err *err);
    /* Appends to out the text of run_id's events after pos, as much as out's cap takes
     * (memory may split a long event between two reads; Redis keeps events whole and
     * returns SA_ETOOBIG when the next one does not fit), waiting up to wait_ms (0: no
     * wait) when there is nothing yet, and advances pos past what it appended. *ended is
     * set once the end marker is reached (everything before it appended). Returns 0
     * (possibly with nothing appended after a wait), or SA_ENOTFOUND when pos is the
     * start, nothing exists for the run and wait_ms is 0: it never started on this queue,
     * or its events expired. */
    int (*read)(struct sa_queue *q, const char *run_id, char pos[SA_QUEUE_POS_LEN], int wait_ms,
                struct sa_buf *out, bool *ended, struct sa_err *err);
    /* Waits up to wait_ms until one of the n runs run_ids[i] has events after poss[i] (a
     * position read left) or its end, and sets ready[i] for each that has; one thread
     * serves every waiting stream client this way (app/runs.c). It may return sooner with
     * nothing set (memory: anything was published; the caller looks again with its
     * current list). A run with no events yet waits for its first. Redis: one XREAD
     * BLOCK over all the runs' keys on a connection of its own, so waiting clients hold
     * none of the pool's; it waits at most half the command timeout. Returns 0 or an
     * error (nothing is set). */
    int (*wait)(struct sa_queue *q, int n, const char *const *run_ids, const char *const *poss,
                int wait_ms, bool *ready, struct sa_err *err);
    /* Asks run_id to stop: sets a flag any consumer of this queue sees with cancelled. */
    int (*cancel)(struct sa_queue *q, const char *run_id, struct sa_err *err);
    /* *yes: whether cancel was called for run_id. */
    int (*cancelled)(struct sa_queue *q, const char *run_id, bool *yes, struct sa_err *err);
    /* Optional (default: "ok"). A round trip to the backend, for /health. */
    int (*health)(struct sa_queue *q, char *detail, size_t cap, struct sa_err *err);
    /* Frees the handle (not the shared queue: its runs and events stay in the backend). */
    void (*free)(struct sa_queue *q);
};

struct sa_queue {
    const struct sa_queue_ops *ops; /* implementations embed this struct first */
};

/* Opens the queue url names: NULL or "" for memory (this process only), redis://[:PASSWORD@]
 * HOST[:PORT][/DB] for Redis. opts may be NULL (defaults). Each Redis handle is its own
 * consumer in the group "workers". *out is freed with sa_queue_free. Returns 0, SA_ECONFIG
 * for a URL it cannot use, or SA_ENOMEM. An unreachable server does not fail the open: the
 * calls fail (SA_ESTORE) until it answers, without a restart. */
int sa_queue_open(const char *url, const struct sa_queue_opts *opts, struct sa_queue **out,
                  struct sa_err *err) SA_WUR;

/* The in-process queue. NULL when out of memory. */
struct sa_queue *sa_queue_memory_new(void);
/* The Redis queue (store/redis/queue.c) for url; sa_queue_open calls it for redis:// URLs,
 * with the same contract. */
int sa_queue_redis_open(const char *url, const struct sa_queue_opts *opts, struct sa_queue **out,
                        struct sa_err *err) SA_WUR;

/* ---- the defaults of the optional slots ---- */

int sa_queue_def_touch(struct sa_queue *q, const struct sa_queue_delivery *d,
                       struct sa_err *err) SA_WUR;
int sa_queue_def_health(struct sa_queue *q, char *detail, size_t cap, struct sa_err *err) SA_WUR;

/* ---- the wrappers callers use, one per slot (see struct sa_queue_ops) ---- */

/* The implementation's name ("memory", "redis"): for logs and tests. */
static inline const char *sa_queue_name(const struct sa_queue *q)
{
    return q->ops->name;
}
static inline bool sa_queue_durable(const struct sa_queue *q)
{
    return q->ops->durable;
}
static inline SA_WUR int sa_queue_submit(struct sa_queue *q, const char *run_id, struct sa_err *err)
{
    return q->ops->submit(q, run_id, err);
}
static inline SA_WUR int sa_queue_take(struct sa_queue *q, int wait_ms, struct sa_queue_delivery *d,
                                       struct sa_err *err)
{
    return q->ops->take(q, wait_ms, d, err);
}
static inline SA_WUR int sa_queue_touch(struct sa_queue *q, const struct sa_queue_delivery *d,
                                        struct sa_err *err)
{
    return (q->ops->touch ? q->ops->touch : sa_queue_def_touch)(q, d, err);
}
static inline SA_WUR int sa_queue_ack(struct sa_queue *q, const struct sa_queue_delivery *d,
                                      struct sa_err *err)
{
    return q->ops->ack(q, d, err);
}
static inline SA_WUR int sa_queue_publish(struct sa_queue *q, const char *run_id, const char *text,
                                          size_t len, struct sa_err *err)
{
    return q->ops->publish(q, run_id, text, len, err);
}
static inline SA_WUR int sa_queue_end(struct sa_queue *q, const char *run_id, struct sa_err *err)
{
    return q->ops->end(q, run_id, err);
}
static inline SA_WUR int sa_queue_read(struct sa_queue *q, const char *run_id,
                                       char pos[SA_QUEUE_POS_LEN], int wait_ms, struct sa_buf *out,
                                       bool *ended, struct sa_err *err)
{
    return q->ops->read(q, run_id, pos, wait_ms, out, ended, err);
}
static inline SA_WUR int sa_queue_wait(struct sa_queue *q, int n, const char *const *run_ids,
                                       const char *const *poss, int wait_ms, bool *ready,
                                       struct sa_err *err)
{
    return q->ops->wait(q, n, run_ids, poss, wait_ms, ready, err);
}
static inline SA_WUR int sa_queue_cancel(struct sa_queue *q, const char *run_id, struct sa_err *err)
{
    return q->ops->cancel(q, run_id, err);
}
static inline SA_WUR int sa_queue_cancelled(struct sa_queue *q, const char *run_id, bool *yes,
                                            struct sa_err *err)
{
    return q->ops->cancelled(q, run_id, yes, err);
}
static inline SA_WUR int sa_queue_health(struct sa_queue *q, char *detail, size_t cap,
                                         struct sa_err *err)
{
    return (q->ops->health ? q->ops->health : sa_queue_def_health)(q, detail, cap, err);
}
/* Frees q; NULL is allowed. */
static inline void sa_queue_free(struct sa_queue *q)
{
    if (q)
        q->ops->free(q);
}

#endif
