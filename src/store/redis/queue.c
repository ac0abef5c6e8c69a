/* The run queue on Redis Streams (see store/queue.h), shared by every instance on one
 * REDIS_URL: opened by sa_queue_open for redis:// URLs.
 *
 * Keys (each under the handle's prefix, "" unless a test sets one):
 *   runs:queue            a stream, one entry {run: ID} per submitted run, read by the
 *                         consumer group "workers"; each handle is one consumer
 *   run:{ID}:events       a stream per run: {sse: TEXT} entries, then {end: 1}; readers
 *                         XREAD it from 0, so a late joiner sees the whole run
 *   run:{ID}:cancel       a key whose presence asks the run to stop
 *
 * Delivery is at least once. A consumer takes an entry with XREADGROUP, which leaves it
 * pending on that consumer until XACK; while it works it touches the entry (XCLAIM to
 * itself, JUSTID, which resets the entry's idle time, in a script that first checks the
 * consumer still holds it). When an instance dies its entries
 * stop being touched, and once one has been idle for the visibility timeout the next take
 * of any consumer claims it (XAUTOCLAIM) and runs it again: the runs service continues the
 * run's thread from its last checkpoint, and the outbox's idempotency keys keep its side
 * effects single. Acknowledged entries are deleted (XDEL), so the stream holds only
 * queued and running runs.
 *
 * Connections come from the Redis pool of store/redis/conn.c (redis.h), a pool of the
 * queue's own: a blocking read holds its connection for its whole wait, so waits are kept
 * under half the pool's command timeout, and the pool's reconnect-on-next-use is the
 * queue's too. The pool may resend a command on a reused connection that turns out broken;
 * a repeated XADD can thus duplicate a queue entry or an event. The runs service skips a
 * fresh delivery of a run already running (app/runs.c), and a repeated event is cosmetic.
 * Redis's error text goes to the log (the pool's sa_redis_reply_ok), never to a client. */
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "store/queue.h"
#include "store/redis/redis.h"

#define ARGS_MAX 16            /* arguments of one command */
#define POOL_SIZE 32           /* connections: workers, the keeper, stream reads */
#define EVENTS_MAXLEN "100000" /* entries a run's event stream keeps (approximately) */
#define LIVE_TTL "86400"       /* a run's events and cancel flag while it runs: a day */

struct rqueue {
    struct sa_queue super;
    struct sa_redis *redis;
    struct sa_redis *waiter; /* one connection of its own for the stream clients' wait */
    char prefix[64];
    char consumer[96];
    int visibility_ms, events_ttl_s, max_wait_ms;
    char queue_key[96];
    int group_ready; /* the consumer group is known to exist (atomic) */
};

static unsigned long consumer_seq; /* handles opened by this process, for consumer names */

/* ---- commands ---- */

/* Runs one command (argv texts; lens NULL: NUL-terminated) and hands back its reply, an
 * error reply included (*out: free with freeReplyObject). Returns 0, or the pool's
 * SA_ESTORE / SA_ENOMEM when there was no reply. */
static int call_raw(struct rqueue *q, int argc, const char **argv, const size_t *lens,
                    redisReply **out, struct sa_err *err)
{
    *out = NULL;
    struct sa_redis_cmd cmd = {argc, argv, lens};
    redisReply *reply = NULL;
    int rc = sa_redis_run(q->redis, 1, &cmd, &reply, argv[0], err);
    if (rc) {
        sa_redis_replies_free(1, &reply);
        return rc;
    }
    *out = reply;
    return 0;
}

/* True when r is an error reply whose text contains what (BUSYGROUP, NOGROUP). */
static bool error_says(const redisReply *r, const char *what)
{
    return r && r->type == REDIS_REPLY_ERROR && r->str && strstr(r->str, what);
}

/* call_raw with the arguments listed (NULL-terminated), an error reply turned into
 * SA_ESTORE (its text logged by the pool). */
static int call(struct rqueue *q, redisReply **out, struct sa_err *err, ...)
{
    const char *argv[ARGS_MAX] = {0};
    int argc = 0;
    va_list ap;
    va_start(ap, err);
    for (const char *a; argc < ARGS_MAX && (a = va_arg(ap, const char *));)
        argv[argc++] = a;
    va_end(ap);
    int rc = call_raw(q, argc, argv, NULL, out, err);
    if (!rc && (rc = sa_redis_reply_ok(*out, argv[0], err))) {
        freeReplyObject(*out);
        *out = NULL;
    }
    return rc;
}

/* Runs a command whose reply does not matter beyond success. */
static int exec(struct rqueue *q, struct sa_err *err, ...)
{
    const char *argv[ARGS_MAX] = {0};
    int argc = 0;
    va_list ap;
    va_start(ap, err);
    for (const char *a; argc < ARGS_MAX && (a = va_arg(ap, const char *));)
        argv[argc++] = a;
    va_end(ap);
    redisReply *r = NULL;
    int rc = call_raw(q, argc, argv, NULL, &r, err);
    if (!rc)
        rc = sa_redis_reply_ok(r, argv[0], err);
    if (r)
        freeReplyObject(r);
    return rc;
}

/* A wait asked by a caller, as a BLOCK argument the pool's timeout allows. */
static void block_ms(const struct rqueue *q, int wait_ms, char buf[24])
{
    snprintf(buf, 24, "%d", wait_ms < 1 ? 1 : wait_ms > q->max_wait_ms ? q->max_wait_ms : wait_ms);
}

static void key_of(const struct rqueue *q, const char *run_id, const char *what, char *buf,
                   size_t cap)
{
    snprintf(buf, cap, "%srun:%s:%s", q->prefix, run_id, what);
}

/* ---- the queue ---- */

/* Creates the stream and the group when missing (BUSYGROUP: both exist already). */
static int ensure_group(struct rqueue *q, struct sa_err *err)
{
    if (__atomic_load_n(&q->group_ready, __ATOMIC_ACQUIRE))
        return 0;
    const char *argv[] = {"XGROUP", "CREATE", q->queue_key, "workers", "0", "MKSTREAM"};
    redisReply *r = NULL;
    int rc = call_raw(q, 6, argv, NULL, &r, err);
    if (!rc && !error_says(r, "BUSYGROUP"))
        rc = sa_redis_reply_ok(r, "XGROUP CREATE", err);
    if (r)
        freeReplyObject(r);
    if (!rc)
        __atomic_store_n(&q->group_ready, 1, __ATOMIC_RELEASE);
    return rc;
}

/* After a NOGROUP answer (the stream was deleted: FLUSHDB, a restarted server without
 * persistence) the group is made again at the next take. */
static void group_lost(struct rqueue *q)
{
    __atomic_store_n(&q->group_ready, 0, __ATOMIC_RELEASE);
}

static int r_submit(struct sa_queue *sq, const char *run_id, struct sa_err *err)
{
    struct rqueue *q = (struct rqueue *)sq;
    return exec(q, err, "XADD", q->queue_key, "*", "run", run_id, NULL);
}

/* Fills d from one stream entry [id, [field, value, ...]]; false when it has no run. */
static bool delivery_from(const redisReply *entry, struct sa_queue_delivery *d)
{
    if (!entry || entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
        entry->element[0]->type != REDIS_REPLY_STRING ||
        entry->element[1]->type != REDIS_REPLY_ARRAY)
        return false;
    snprintf(d->handle, sizeof d->handle, "%s", entry->element[0]->str);
    const redisReply *f = entry->element[1];
    for (size_t i = 0; i + 1 < f->elements; i += 2)
        if (f->element[i]->type == REDIS_REPLY_STRING && strcmp(f->element[i]->str, "run") == 0 &&
            f->element[i + 1]->type == REDIS_REPLY_STRING) {
            snprintf(d->run_id, sizeof d->run_id, "%s", f->element[i + 1]->str);
            return true;
        }
    return false;
}

/* Claims one entry idle for longer than the visibility timeout. 0 with *d filled, or
 * SA_ENOTFOUND when there is none. */
static int reclaim(struct rqueue *q, struct sa_queue_delivery *d, struct sa_err *err)
{
    char idle[24];
    snprintf(idle, sizeof idle, "%d", q->visibility_ms);
    const char *argv[] = {"XAUTOCLAIM", q->queue_key, "workers", q->consumer,
                          idle,         "0-0",        "COUNT",   "1"};
    redisReply *r = NULL;
    int rc = call_raw(q, 8, argv, NULL, &r, err);
    if (rc)
        return rc;
    if (error_says(r, "NOGROUP"))
        group_lost(q);
    if ((rc = sa_redis_reply_ok(r, "XAUTOCLAIM", err))) {
        freeReplyObject(r);
        return rc;
    }
    rc = SA_ENOTFOUND;
    /* [next cursor, [[id, [field, value]]], [deleted ids]] */
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
        r->element[1]->type == REDIS_REPLY_ARRAY && r->element[1]->elements > 0) {
        const redisReply *entry = r->element[1]->element[0];
        if (delivery_from(entry, d)) {
            d->reclaimed = true;
            rc = 0;
        } else if (entry->type == REDIS_REPLY_ARRAY && entry->elements > 0 &&
                   entry->element[0]->type == REDIS_REPLY_STRING) {
            /* an entry without a run id: nobody can run it; drop it */
            struct sa_err e = {0};
            (void)exec(q, &e, "XACK", q->queue_key, "workers", entry->element[0]->str, NULL);
        }
    }
    freeReplyObject(r);
    return rc;
}

static int r_take(struct sa_queue *sq, int wait_ms, struct sa_queue_delivery *d, struct sa_err *err)
{
    struct rqueue *q = (struct rqueue *)sq;
    *d = (struct sa_queue_delivery){0};
    int rc = ensure_group(q, err);
    if (rc)
        return rc;
    if ((rc = reclaim(q, d, err)) != SA_ENOTFOUND)
        return rc;
    char block[24];
    block_ms(q, wait_ms, block);
    const char *argv[] = {"XREADGROUP", "GROUP", "workers", q->consumer,  "COUNT", "1",
                          "BLOCK",      block,   "STREAMS", q->queue_key, ">"};
    redisReply *r = NULL;
    if ((rc = call_raw(q, 11, argv, NULL, &r, err)))
        return rc;
    if (error_says(r, "NOGROUP"))
        group_lost(q);
    if ((rc = sa_redis_reply_ok(r, "XREADGROUP", err))) {
        freeReplyObject(r);
        return rc;
    }
    /* [[key, [[id, [field, value]]]]], or nil after the wait */
    bool got = r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
               r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2 &&
               r->element[0]->element[1]->type == REDIS_REPLY_ARRAY &&
               r->element[0]->element[1]->elements > 0 &&
               delivery_from(r->element[0]->element[1]->element[0], d);
    freeReplyObject(r);
    if (!got) {
        *d = (struct sa_queue_delivery){0};
        return sa_err_set(err, SA_ETIMEDOUT, "no run queued");
    }
    return 0;
}

/* XCLAIM with an idle time of 0 would take the entry from whoever holds it, so a stalled
 * worker waking up would steal back a run another has taken over: the script claims it
 * only while this consumer still holds it, atomically. */
static struct sa_redis_script touch_script = {
    .text = "local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2]) "
            "if #p == 0 then return 0 end "
            "redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID') "
            "return 1"};

static int r_touch(struct sa_queue *sq, const struct sa_queue_delivery *d, struct sa_err *err)
{
    struct rqueue *q = (struct rqueue *)sq;
    const char *keys[] = {q->queue_key};
    const char *args[] = {"workers", q->consumer, d->handle};
    redisReply *r = NULL;
    int rc = sa_redis_eval(q->redis, &touch_script, 1, keys, 3, args, NULL, &r, "touch run", err);
    if (rc)
        return rc;
    bool kept = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    sa_redis_replies_free(1, &r);
    /* acknowledged, or taken over: no longer ours (another consumer runs it) */
    return kept ? 0
                : sa_err_set(err, SA_ECONFLICT, "run %s is no longer held by this worker",
                             d->run_id);
}

static int r_ack(struct sa_queue *sq, const struct sa_queue_delivery *d, struct sa_err *err)
{
    struct rqueue *q = (struct rqueue *)sq;
    int rc = exec(q, err, "XACK", q->queue_key, "workers", d->handle, NULL);
    return rc ? rc : exec(q, err, "XDEL", q->queue_key, d->handle, NULL);
}

/* ---- events and cancellation ---- */

static int r_publish(struct sa_queue *sq, const char *run_id, const char *text, size_t len,
                     struct sa_err *err)
{
    struct rqueue *q = (struct rqueue *)sq;
    char key[160];
    key_of(q, run_id, "events", key, sizeof key);
    const char *argv[] = {"XADD", key, "MAXLEN", "~", EVENTS_MAXLEN, "*", "sse", text};
    const size_t lens[] = {4, strlen(key), 6, 1, strlen(EVENTS_MAXLEN), 1, 3, len};
    redisReply *r = NULL;
    int rc = call_raw(q, 8, argv, lens, &r, err);
    if (!rc)
        rc = sa_redis_reply_ok(r, "XADD", err);
    if (r)
        freeReplyObject(r);
    /* a run whose worker dies and is never reclaimed must not keep its events forever */
    return rc ? rc : exec(q, err, "EXPIRE", key, LIVE_TTL, NULL);
}

static int r_end(struct sa_queue *sq, const char *run_id, struct sa_err *err)
{
    struct rqueue *q = (struct rqueue *)sq;
    char key[160], ttl[24];
    key_of(q, run_id, "events", key, sizeof key);
    snprintf(ttl, sizeof ttl, "%d", q->events_ttl_s);
    int rc = exec(q, err, "XADD", key, "MAXLEN", "~", EVENTS_MAXLEN, "*", "end", "1", NULL);
    return rc ? rc : exec(q, err, "EXPIRE", key, ttl, NULL);
}

/* Appends the entries of one XREAD reply to out; see the read op. */
static int append_entries(const redisReply *entries, char pos[SA_QUEUE_POS_LEN], struct sa_buf *out,
                          bool *ended, struct sa_err *err)
{
    for (size_t i = 0; i < entries->elements && !*ended; i++) {
        const redisReply *e = entries->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
        const redisReply *f = e->element[1];
        for (size_t k = 0; k + 1 < f->elements; k += 2) {
            const char *name = f->element[k]->str ? f->element[k]->str : "";
            const redisReply *v = f->element[k + 1];
            if (strcmp(name, "end") == 0) {
                *ended = true;
            } else if (strcmp(name, "sse") == 0 && v->type == REDIS_REPLY_STRING) {
                if (out->len + v->len > out->max) {
                    if (i == 0)
                        return sa_err_set(err, SA_ETOOBIG, "an event of %zu bytes does not fit",
                                          v->len);
                    return 0; /* the next read starts with it */
                }
                if (sa_buf_append(out, v->str, v->len) != 0)
                    return sa_err_set(err, SA_ENOMEM, "out of memory");
            }
        }
        snprintf(pos, SA_QUEUE_POS_LEN, "%s", e->element[0]->str);
    }
    return 0;
}

static int r_read(struct sa_queue *sq, const char *run_id, char pos[SA_QUEUE_POS_LEN], int wait_ms,
                  struct sa_buf *out, bool *ended, struct sa_err *err)
{
    struct rqueue *q = (struct rqueue *)sq;
    *ended = false;
    char key[160], block[24];
    key_of(q, run_id, "events", key, sizeof key);
    block_ms(q, wait_ms, block);
    const char *from = pos[0] ? pos : "0-0";
    redisReply *r = NULL;
    int rc = wait_ms > 0 ? call(q, &r, err, "XREAD", "COUNT", "256", "BLOCK", block, "STREAMS", key,
                                from, NULL)
                         : call(q, &r, err, "XREAD", "COUNT", "256", "STREAMS", key, from, NULL);
    if (rc)
        return rc;
    /* [[key, [entries]]], or nil: nothing new (or no such stream) */
    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2 &&
        r->element[0]->element[1]->type == REDIS_REPLY_ARRAY)
        rc = append_entries(r->element[0]->element[1], pos, out, ended, err);
    else if (!pos[0] && wait_ms == 0)
        rc = sa_err_set(err, SA_ENOTFOUND, "no events for run %s", run_id);
    freeReplyObject(r);
    return rc;
}

/* One XREAD BLOCK over every waiting client's run, on the waiter's own connection: the
 * process's stream clients cost one connection however many wait, and none of the pool's
 * (which the workers need). COUNT 1: only whether a run has news matters here; the client
 * reads them itself. */
static int r_wait(struct sa_queue *sq, int n, const char *const *run_ids, const char *const *poss,
                  int wait_ms, bool *ready, struct sa_err *err)
{
    struct rqueue *q = (struct rqueue *)sq;
    for (int i = 0; i < n; i++)
        ready[i] = false;
    if (n <= 0)
        return 0;
    enum { KEY_CAP = 160 };
    char block[24];
    block_ms(q, wait_ms, block);
    size_t argc = 6 + 2 * (size_t)n;
    const char **argv = calloc(argc, sizeof *argv);
    char *keys = calloc((size_t)n, KEY_CAP);
    int rc = SA_ENOMEM;
    redisReply *r = NULL;
    if (!argv || !keys) {
        sa_err_set(err, rc, "out of memory");
        goto out;
    }
    argv[0] = "XREAD", argv[1] = "COUNT", argv[2] = "1", argv[3] = "BLOCK", argv[4] = block;
    argv[5] = "STREAMS";
    for (int i = 0; i < n; i++) {
        key_of(q, run_ids[i], "events", keys + (size_t)i * KEY_CAP, KEY_CAP);
        argv[6 + i] = keys + (size_t)i * KEY_CAP;
        argv[6 + n + i] = poss[i][0] ? poss[i] : "0-0";
    }
    struct sa_redis_cmd cmd = {(int)argc, argv, NULL};
    if ((rc = sa_redis_run(q->waiter, 1, &cmd, &r, "XREAD", err)) ||
        (rc = sa_redis_reply_ok(r, "XREAD", err)))
        goto out;
    /* [[key, [entries]], ...] for the keys with news, or nil after the wait */
    for (size_t k = 0; r->type == REDIS_REPLY_ARRAY && k < r->elements; k++) {
        const redisReply *e = r->element[k];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 1 ||
            e->element[0]->type != REDIS_REPLY_STRING)
            continue;
        for (int i = 0; i < n; i++)
            if (strcmp(e->element[0]->str, argv[6 + i]) == 0)
                ready[i] = true;
    }
out:
    sa_redis_replies_free(1, &r);
    free(keys);
    free(argv);
    return rc;
}

static int r_cancel(struct sa_queue *sq, const char *run_id, struct sa_err *err)
{
    struct rqueue *q = (struct rqueue *)sq;
    char key[160];
    key_of(q, run_id, "cancel", key, sizeof key);
    return exec(q, err, "SET", key, "1", "EX", LIVE_TTL, NULL);
}

static int r_cancelled(struct sa_queue *sq, const char *run_id, bool *yes, struct sa_err *err)
{
    struct rqueue *q = (struct rqueue *)sq;
    *yes = false;
    char key[160];
    key_of(q, run_id, "cancel", key, sizeof key);
    redisReply *r = NULL;
    int rc = call(q, &r, err, "EXISTS", key, NULL);
    if (rc)
        return rc;
    *yes = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
    freeReplyObject(r);
    return 0;
}

static int r_health(struct sa_queue *sq, char *detail, size_t cap, struct sa_err *err)
{
    double ms = 0;
    int rc = sa_redis_ping(((struct rqueue *)sq)->redis, &ms, err);
    if (rc)
        snprintf(detail, cap, "unreachable");
    else
        snprintf(detail, cap, "ok (%.1f ms)", ms);
    return rc;
}

/* Removes this handle's consumer from the group when it holds nothing (each process
 * start makes a new consumer name; without this the group lists them forever). A consumer
 * with pending entries stays: deleting it would drop them instead of letting another
 * consumer reclaim them. */
static void forget_consumer(struct rqueue *q)
{
    redisReply *r = NULL;
    struct sa_err err = {0};
    if (call(q, &r, &err, "XPENDING", q->queue_key, "workers", "-", "+", "1", q->consumer, NULL))
        return;
    bool idle = r->type == REDIS_REPLY_ARRAY && r->elements == 0;
    freeReplyObject(r);
    if (idle)
        (void)exec(q, &err, "XGROUP", "DELCONSUMER", q->queue_key, "workers", q->consumer, NULL);
}

static void r_free(struct sa_queue *sq)
{
    struct rqueue *q = (struct rqueue *)sq;
    if (__atomic_load_n(&q->group_ready, __ATOMIC_ACQUIRE)) /* it has talked to the server */
        forget_consumer(q);
    sa_redis_close(q->waiter);
    sa_redis_close(q->redis);
    free(q);
}

static const struct sa_queue_ops redis_ops = {
    .name = "redis",
    .durable = true,
    .submit = r_submit,
    .take = r_take,
    .touch = r_touch,
    .ack = r_ack,
    .publish = r_publish,
    .end = r_end,
    .read = r_read,
    .wait = r_wait,
    .cancel = r_cancel,
    .cancelled = r_cancelled,
    .health = r_health,
    .free = r_free,
};

int sa_queue_redis_open(const char *url, const struct sa_queue_opts *opts, struct sa_queue **out,
                        struct sa_err *err)
{
    *out = NULL;
    struct rqueue *q = calloc(1, sizeof *q);
    if (!q)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    q->super.ops = &redis_ops;
    q->visibility_ms = opts && opts->visibility_ms > 0 ? opts->visibility_ms : 30000;
    q->events_ttl_s = opts && opts->events_ttl_s > 0 ? opts->events_ttl_s : 3600;
    int timeout = opts && opts->timeout_ms > 0 ? opts->timeout_ms : SA_REDIS_TIMEOUT_MS;
    q->max_wait_ms = timeout / 2 > 1 ? timeout / 2 : 1;
    snprintf(q->prefix, sizeof q->prefix, "%s", opts && opts->prefix ? opts->prefix : "");
    snprintf(q->queue_key, sizeof q->queue_key, "%sruns:queue", q->prefix);
    char host[64] = "";
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "host");
    host[sizeof host - 1] = '\0';
    snprintf(q->consumer, sizeof q->consumer, "%s:%ld:%lu", host, (long)getpid(),
             __atomic_add_fetch(&consumer_seq, 1, __ATOMIC_RELAXED));
    /* connections are made on first use: a process with no stream client never opens
     * the waiter's */
    int rc = sa_redis_open(url, timeout, POOL_SIZE, &q->redis, err);
    if (!rc && (rc = sa_redis_open(url, timeout, 1, &q->waiter, err)))
        sa_redis_close(q->redis);
    if (rc) {
        free(q);
        return rc;
    }
    /* the group now if Redis answers; else at the first take (the pool reconnects) */
    struct sa_err e = {0};
    if (ensure_group(q, &e))
        sa_log(SA_LOG_WARN, "run queue: Redis not reachable yet",
               json_pack("{s:s}", "error", e.msg));
    *out = &q->super;
    return 0;
}
