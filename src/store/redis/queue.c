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
 * Connections: a blocking read holds its connection for the whole wait, so every call
 * takes a connection of its own from a small pool of idle ones and gives it back after;
 * a connection that failed is dropped, and the next call connects again (that is the
 * reconnect). Redis's error text goes to err for the log, never to an API client. */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "store/queue.h"

#define IDLE_MAX 8           /* idle connections kept */
#define ARGS_MAX 16          /* arguments of one command */
#define EVENTS_MAXLEN "100000" /* entries a run's event stream keeps (approximately) */
#define LIVE_TTL "86400"     /* a run's events and cancel flag while it runs: a day */

struct rqueue {
    struct sa_queue super;
    char host[256];
    int port, db;
    char password[256];
    char prefix[64];
    char consumer[96];
    int visibility_ms, events_ttl_s, timeout_ms;
    char queue_key[96];
    pthread_mutex_t lock; /* guards idle */
    redisContext *idle[IDLE_MAX];
    int nidle;
};

static unsigned long consumer_seq; /* handles opened by this process, for consumer names */

/* ---- connections ---- */

static struct timeval tv_ms(int ms)
{
    return (struct timeval){.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
}

static void conn_put(struct rqueue *q, redisContext *c, bool ok)
{
    if (!c)
        return;
    pthread_mutex_lock(&q->lock);
    if (ok && !c->err && q->nidle < IDLE_MAX) {
        q->idle[q->nidle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&q->lock);
    if (c)
        redisFree(c);
}

/* Sends one command on c and checks the reply: 0 with *out (free with freeReplyObject),
 * SA_EIO when the connection failed (c is then unusable), SA_ESTORE for an error reply. */
static int send_argv(redisContext *c, int wait_ms, int timeout_ms, int argc, const char **argv,
                     const size_t *lens, redisReply **out, struct sa_err *err)
{
    *out = NULL;
    redisSetTimeout(c, tv_ms(timeout_ms + wait_ms));
    redisReply *r = redisCommandArgv(c, argc, argv, lens);
    if (!r)
        return sa_err_set(err, SA_EIO, "redis %s: %s", argv[0], c->errstr[0] ? c->errstr : "no reply");
    if (r->type == REDIS_REPLY_ERROR) {
        sa_err_set(err, SA_ESTORE, "redis %s: %.*s", argv[0], (int)r->len, r->str);
        freeReplyObject(r);
        return SA_ESTORE;
    }
    *out = r;
    return 0;
}

static int conn_get(struct rqueue *q, redisContext **out, struct sa_err *err)
{
    *out = NULL;
    pthread_mutex_lock(&q->lock);
    redisContext *c = q->nidle ? q->idle[--q->nidle] : NULL;
    pthread_mutex_unlock(&q->lock);
    if (c) {
        *out = c;
        return 0;
    }
    c = redisConnectWithTimeout(q->host, q->port, tv_ms(q->timeout_ms));
    if (!c || c->err) {
        int rc = sa_err_set(err, SA_EIO, "redis %s:%d: %s", q->host, q->port,
                            c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return rc;
    }
    redisReply *r = NULL;
    int rc = 0;
    if (q->password[0]) {
        const char *argv[] = {"AUTH", q->password};
        rc = send_argv(c, 0, q->timeout_ms, 2, argv, NULL, &r, err);
        if (rc == SA_ESTORE) /* the server's words may repeat what was sent: keep them out */
            sa_err_set(err, SA_ECONFIG, "REDIS_URL: the server refused the password");
        freeReplyObject(r);
    }
    if (!rc && q->db) {
        char db[16];
        snprintf(db, sizeof db, "%d", q->db);
        const char *argv[] = {"SELECT", db};
        rc = send_argv(c, 0, q->timeout_ms, 2, argv, NULL, &r, err);
        freeReplyObject(r);
    }
    if (rc) {
        redisFree(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* Runs one command on a pooled connection: argv strings (lens NULL: NUL-terminated).
 * Returns as send_argv; *out is the caller's to free. */
static int call_argv(struct rqueue *q, int wait_ms, int argc, const char **argv,
                     const size_t *lens, redisReply **out, struct sa_err *err)
{
    *out = NULL;
    redisContext *c;
    int rc = conn_get(q, &c, err);
    if (rc)
        return rc;
    rc = send_argv(c, wait_ms, q->timeout_ms, argc, argv, lens, out, err);
    conn_put(q, c, rc != SA_EIO);
    return rc;
}

/* call_argv with the arguments listed, NULL-terminated. */
static int call(struct rqueue *q, int wait_ms, redisReply **out, struct sa_err *err, ...)
{
    const char *argv[ARGS_MAX];
    int argc = 0;
    va_list ap;
    va_start(ap, err);
    for (const char *a; argc < ARGS_MAX && (a = va_arg(ap, const char *));)
        argv[argc++] = a;
    va_end(ap);
    return call_argv(q, wait_ms, argc, argv, NULL, out, err);
}

/* Runs a command whose reply does not matter beyond success. */
static int exec(struct rqueue *q, struct sa_err *err, ...)
{
    const char *argv[ARGS_MAX];
    int argc = 0;
    va_list ap;
    va_start(ap, err);
    for (const char *a; argc < ARGS_MAX && (a = va_arg(ap, const char *));)
        argv[argc++] = a;
    va_end(ap);
    redisReply *r = NULL;
    int rc = call_argv(q, 0, argc, argv, NULL, &r, err);
    freeReplyObject(r);
    return rc;
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
    struct sa_err e = {0};
    int rc = exec(q, &e, "XGROUP", "CREATE", q->queue_key, "workers", "0", "MKSTREAM", NULL);
    if (rc == SA_ESTORE && strstr(e.msg, "BUSYGROUP"))
        return 0;
    if (rc && err)
        *err = e;
    return rc;
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
    redisReply *r = NULL;
    int rc = call(q, 0, &r, err, "XAUTOCLAIM", q->queue_key, "workers", q->consumer, idle, "0-0",
                  "COUNT", "1", NULL);
    if (rc)
        return rc;
    rc = SA_ENOTFOUND;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
        r->element[1]->type == REDIS_REPLY_ARRAY && r->element[1]->elements > 0) {
        if (delivery_from(r->element[1]->element[0], d)) {
            d->reclaimed = true;
            rc = 0;
        } else if (r->element[1]->element[0]->type == REDIS_REPLY_ARRAY) {
            /* an entry without a run id: nobody can run it; drop it */
            struct sa_err e = {0};
            (void)exec(q, &e, "XACK", q->queue_key, "workers",
                       r->element[1]->element[0]->element[0]->str, NULL);
        }
    }
    freeReplyObject(r);
    return rc;
}

static int r_take(struct sa_queue *sq, int wait_ms, struct sa_queue_delivery *d, struct sa_err *err)
{
    struct rqueue *q = (struct rqueue *)sq;
    *d = (struct sa_queue_delivery){0};
    int rc = reclaim(q, d, err);
    if (rc != SA_ENOTFOUND)
        return rc;
    char block[24];
    snprintf(block, sizeof block, "%d", wait_ms > 0 ? wait_ms : 1);
    redisReply *r = NULL;
    for (int attempt = 0;; attempt++) {
        struct sa_err e = {0};
        rc = call(q, wait_ms, &r, &e, "XREADGROUP", "GROUP", "workers", q->consumer, "COUNT", "1",
                  "BLOCK", block, "STREAMS", q->queue_key, ">", NULL);
        /* the stream was deleted (FLUSHDB, a restarted server without persistence) */
        if (rc == SA_ESTORE && strstr(e.msg, "NOGROUP") && attempt == 0 && !ensure_group(q, err))
            continue;
        if (rc && err)
            *err = e;
        break;
    }
    if (rc)
        return rc;
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
static const char TOUCH_SCRIPT[] =
    "local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2]) "
    "if #p == 0 then return 0 end "
    "redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID') "
    "return 1";

static int r_touch(struct sa_queue *sq, const struct sa_queue_delivery *d, struct sa_err *err)
{
    struct rqueue *q = (struct rqueue *)sq;
    redisReply *r = NULL;
    int rc = call(q, 0, &r, err, "EVAL", TOUCH_SCRIPT, "1", q->queue_key, "workers", q->consumer,
                  d->handle, NULL);
    if (rc)
        return rc;
    bool kept = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    /* acknowledged, or taken over: no longer ours (another consumer runs it) */
    return kept ? 0 : sa_err_set(err, SA_ECONFLICT, "run %s is no longer held by this worker",
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
    int rc = call_argv(q, 0, 8, argv, lens, &r, err);
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
static int append_entries(const redisReply *entries, char pos[SA_QUEUE_POS_LEN],
                          struct sa_buf *out, bool *ended, struct sa_err *err)
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
    snprintf(block, sizeof block, "%d", wait_ms);
    const char *from = pos[0] ? pos : "0-0";
    redisReply *r = NULL;
    int rc = wait_ms > 0 ? call(q, wait_ms, &r, err, "XREAD", "COUNT", "256", "BLOCK", block,
                                "STREAMS", key, from, NULL)
                         : call(q, 0, &r, err, "XREAD", "COUNT", "256", "STREAMS", key, from, NULL);
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
    int rc = call(q, 0, &r, err, "EXISTS", key, NULL);
    if (rc)
        return rc;
    *yes = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
    freeReplyObject(r);
    return 0;
}

static int r_health(struct sa_queue *sq, char *detail, size_t cap, struct sa_err *err)
{
    int rc = exec((struct rqueue *)sq, err, "PING", NULL);
    snprintf(detail, cap, "%s", rc ? "unreachable" : "ok");
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
    if (call(q, 0, &r, &err, "XPENDING", q->queue_key, "workers", "-", "+", "1", q->consumer,
             NULL))
        return;
    bool idle = r->type == REDIS_REPLY_ARRAY && r->elements == 0;
    freeReplyObject(r);
    if (idle)
        (void)exec(q, &err, "XGROUP", "DELCONSUMER", q->queue_key, "workers", q->consumer, NULL);
}

static void r_free(struct sa_queue *sq)
{
    struct rqueue *q = (struct rqueue *)sq;
    if (q->nidle) /* it has talked to the server */
        forget_consumer(q);
    for (int i = 0; i < q->nidle; i++)
        redisFree(q->idle[i]);
    pthread_mutex_destroy(&q->lock);
    explicit_bzero(q->password, sizeof q->password);
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
    .cancel = r_cancel,
    .cancelled = r_cancelled,
    .health = r_health,
    .free = r_free,
};

/* redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] into q. Returns 0 or SA_ECONFIG (the message
 * never repeats the URL: it may hold the password). */
static int parse_url(struct rqueue *q, const char *url, struct sa_err *err)
{
    const char *p = url + strlen("redis://");
    const char *slash = strchr(p, '/');
    const char *end = slash ? slash : p + strlen(p);
    const char *at = memchr(p, '@', (size_t)(end - p));
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p;
        if ((size_t)(at - pw) >= sizeof q->password)
            return sa_err_set(err, SA_ECONFIG, "REDIS_URL: the password is too long");
        memcpy(q->password, pw, (size_t)(at - pw));
        p = at + 1;
    }
    const char *colon = memchr(p, ':', (size_t)(end - p));
    const char *host_end = colon ? colon : end;
    if (host_end == p || (size_t)(host_end - p) >= sizeof q->host)
        return sa_err_set(err, SA_ECONFIG, "REDIS_URL: expected redis://HOST[:PORT][/DB]");
    memcpy(q->host, p, (size_t)(host_end - p));
    q->port = 6379;
    if (colon) {
        char port[8] = "";
        char *e = NULL;
        if ((size_t)(end - colon - 1) >= sizeof port)
            return sa_err_set(err, SA_ECONFIG, "REDIS_URL: bad port");
        memcpy(port, colon + 1, (size_t)(end - colon - 1));
        long v = strtol(port, &e, 10);
        if (!port[0] || *e || v < 1 || v > 65535)
            return sa_err_set(err, SA_ECONFIG, "REDIS_URL: bad port");
        q->port = (int)v;
    }
    if (slash && slash[1]) {
        char *e = NULL;
        long v = strtol(slash + 1, &e, 10);
        if (*e || v < 0 || v > 15)
            return sa_err_set(err, SA_ECONFIG, "REDIS_URL: the database is a number 0-15");
        q->db = (int)v;
    }
    return 0;
}

int sa_queue_redis_open(const char *url, const struct sa_queue_opts *opts, struct sa_queue **out,
                        struct sa_err *err)
{
    *out = NULL;
    struct rqueue *q = calloc(1, sizeof *q);
    if (!q)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    q->super.ops = &redis_ops;
    pthread_mutex_init(&q->lock, NULL);
    q->visibility_ms = opts && opts->visibility_ms > 0 ? opts->visibility_ms : 30000;
    q->events_ttl_s = opts && opts->events_ttl_s > 0 ? opts->events_ttl_s : 3600;
    q->timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : 2000;
    snprintf(q->prefix, sizeof q->prefix, "%s", opts && opts->prefix ? opts->prefix : "");
    snprintf(q->queue_key, sizeof q->queue_key, "%sruns:queue", q->prefix);
    char host[64] = "";
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "host");
    host[sizeof host - 1] = '\0';
    snprintf(q->consumer, sizeof q->consumer, "%s:%ld:%lu", host, (long)getpid(),
             __atomic_add_fetch(&consumer_seq, 1, __ATOMIC_RELAXED));
    int rc = parse_url(q, url, err);
    if (!rc)
        rc = ensure_group(q, err);
    if (rc) {
        r_free(&q->super);
        return rc;
    }
    *out = &q->super;
    return 0;
}
