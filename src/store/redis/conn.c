/* The Redis connection pool (see redis.h): a fixed array of hiredis contexts handed out
 * one per call, connected lazily and dropped when they break, so a Redis that restarts
 * costs the calls in flight and nothing after. Used by saver.c and limiter.c. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "store/redis/redis.h"

struct slot {
    redisContext *c; /* NULL until first use, and after it broke */
    bool busy;
};

struct sa_redis {
    char host[256];
    int port;
    long db;
    char user[128];
    char password[256];
    int timeout_ms;
    pthread_mutex_t lock; /* slots' busy flags, scripts' SHAs */
    pthread_cond_t freed;
    int n;
    struct slot slots[];
};

/* ---- the URL ---- */

/* Copies [b, e) into dst (cap bytes); false when it does not fit. */
static bool copy_part(char *dst, size_t cap, const char *b, const char *e)
{
    size_t n = (size_t)(e - b);
    if (n >= cap)
        return false;
    memcpy(dst, b, n);
    dst[n] = '\0';
    return true;
}

/* A decimal integer in [min, max] filling [b, e). */
static bool parse_num(const char *b, const char *e, long min, long max, long *out)
{
    if (b == e || e - b > 10)
        return false;
    long v = 0;
    for (const char *p = b; p < e; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
    }
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* Fills r's address and credentials from url. The message never repeats the URL: it may
 * hold a password. */
static int parse_url(struct sa_redis *r, const char *url, struct sa_err *err)
{
    static const char prefix[] = "redis://";
    if (strncmp(url, prefix, sizeof prefix - 1) != 0)
        return sa_err_set(err, SA_ECONFIG,
                          "REDIS_URL: expected redis://[:password@]host:port[/db]");
    const char *s = url + sizeof prefix - 1, *end = s + strlen(s);
    const char *at = strrchr(s, '@');
    if (at) {
        const char *colon = memchr(s, ':', (size_t)(at - s));
        bool ok = colon ? copy_part(r->user, sizeof r->user, s, colon) &&
                              copy_part(r->password, sizeof r->password, colon + 1, at)
                        : copy_part(r->password, sizeof r->password, s, at);
        if (!ok)
            return sa_err_set(err, SA_ECONFIG, "REDIS_URL: user name or password too long");
        s = at + 1;
    }
    const char *slash = memchr(s, '/', (size_t)(end - s));
    const char *hend = slash ? slash : end, *port = NULL;
    if (*s == '[') { /* [IPv6] */
        const char *close = memchr(s, ']', (size_t)(hend - s));
        if (!close || !copy_part(r->host, sizeof r->host, s + 1, close))
            return sa_err_set(err, SA_ECONFIG, "REDIS_URL: bad IPv6 host");
        if (close + 1 < hend && close[1] != ':')
            return sa_err_set(err, SA_ECONFIG, "REDIS_URL: bad host");
        port = close + 1 < hend ? close + 2 : NULL;
    } else {
        const char *colon = memchr(s, ':', (size_t)(hend - s));
        if (!copy_part(r->host, sizeof r->host, s, colon ? colon : hend))
            return sa_err_set(err, SA_ECONFIG, "REDIS_URL: host name too long");
        port = colon ? colon + 1 : NULL;
    }
    if (!r->host[0])
        return sa_err_set(err, SA_ECONFIG, "REDIS_URL: no host");
    long v = 6379;
    if (port && !parse_num(port, hend, 1, 65535, &v))
        return sa_err_set(err, SA_ECONFIG, "REDIS_URL: port: expected 1-65535");
    r->port = (int)v;
    r->db = 0;
    if (slash && slash + 1 < end && !parse_num(slash + 1, end, 0, 1000000, &r->db))
        return sa_err_set(err, SA_ECONFIG, "REDIS_URL: database: expected a number after '/'");
    return 0;
}

int sa_redis_open(const char *url, int timeout_ms, int pool_size, struct sa_redis **out,
                  struct sa_err *err)
{
    *out = NULL;
    if (pool_size < 1)
        pool_size = 1;
    if (pool_size > SA_REDIS_POOL_MAX)
        pool_size = SA_REDIS_POOL_MAX;
    struct sa_redis *r = calloc(1, sizeof *r + (size_t)pool_size * sizeof r->slots[0]);
    if (!r)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    int rc = parse_url(r, url ? url : "", err);
    if (rc) {
        free(r);
        return rc;
    }
    r->n = pool_size;
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : SA_REDIS_TIMEOUT_MS;
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->freed, &ca);
    pthread_condattr_destroy(&ca);
    *out = r;
    return 0;
}

void sa_redis_close(struct sa_redis *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n; i++)
        if (r->slots[i].c)
            redisFree(r->slots[i].c);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->freed);
    explicit_bzero(r->password, sizeof r->password);
    free(r);
}

/* ---- connections ---- */

static struct timeval tv_of(int ms)
{
    return (struct timeval){.tv_sec = ms / 1000, .tv_usec = (long)(ms % 1000) * 1000};
}

/* A free slot, marked busy: one already connected when there is one. Waits up to the
 * timeout for a slot to be released. */
static int acquire(struct sa_redis *r, struct slot **out, const char *what, struct sa_err *err)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += r->timeout_ms / 1000;
    deadline.tv_nsec += (long)(r->timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    *out = NULL;
    pthread_mutex_lock(&r->lock);
    for (;;) {
        struct slot *pick = NULL;
        for (int i = 0; i < r->n; i++) {
            if (r->slots[i].busy)
                continue;
            if (!pick || (!pick->c && r->slots[i].c))
                pick = &r->slots[i];
            if (pick->c)
                break;
        }
        if (pick) {
            pick->busy = true;
            *out = pick;
            break;
        }
        if (pthread_cond_timedwait(&r->freed, &r->lock, &deadline) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&r->lock);
    if (!*out) {
        sa_logf(SA_LOG_WARN, "redis %s: all %d connections busy for %d ms", what, r->n,
                r->timeout_ms);
        sa_err_set(err, SA_ESTORE, "Redis %s: no free connection", what);
        return SA_ESTORE; /* (a literal: the analyzer cannot see that sa_err_set returns it) */
    }
    return 0;
}

/* Gives the slot back; a broken connection is dropped (the next user reconnects). When
 * the peer had closed it, Redis most likely restarted and closed every other connection
 * too: the idle ones are dropped as well, so the retry and the calls after it connect
 * afresh instead of each finding a dead socket. */
static void release(struct sa_redis *r, struct slot *s, bool broken, bool closed)
{
    if (broken && s->c) {
        redisFree(s->c);
        s->c = NULL;
    }
    pthread_mutex_lock(&r->lock);
    for (int i = 0; closed && i < r->n; i++)
        if (!r->slots[i].busy && r->slots[i].c) {
            redisFree(r->slots[i].c);
            r->slots[i].c = NULL;
        }
    s->busy = false;
    pthread_cond_signal(&r->freed);
    pthread_mutex_unlock(&r->lock);
}

/* One command on c, its reply checked, for the connection's set-up (AUTH, SELECT). */
static int setup_cmd(redisContext *c, int argc, const char **argv, const char *what,
                     struct sa_err *err)
{
    redisReply *rep = redisCommandArgv(c, argc, argv, NULL);
    if (!rep) {
        sa_logf(SA_LOG_WARN, "redis %s: %s", what, c->errstr);
        return sa_err_set(err, SA_ESTORE, "Redis is unreachable");
    }
    int rc = sa_redis_reply_ok(rep, what, err);
    freeReplyObject(rep);
    return rc;
}

/* Connects s: TCP with the timeout, keepalive, AUTH and SELECT as the URL says. */
static int connect_slot(struct sa_redis *r, struct slot *s, struct sa_err *err)
{
    redisContext *c = redisConnectWithTimeout(r->host, r->port, tv_of(r->timeout_ms));
    if (!c || c->err) {
        sa_logf(SA_LOG_WARN, "redis: cannot connect to %s:%d: %s", r->host, r->port,
                c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return sa_err_set(err, SA_ESTORE, "Redis is unreachable");
    }
    int rc = 0;
    if (redisSetTimeout(c, tv_of(r->timeout_ms)) != REDIS_OK ||
        redisEnableKeepAlive(c) != REDIS_OK) {
        sa_logf(SA_LOG_WARN, "redis: socket options: %s", c->errstr);
        rc = sa_err_set(err, SA_ESTORE, "Redis is unreachable");
    }
    if (!rc && r->password[0]) {
        const char *a[] = {"AUTH", r->user, r->password};
        rc = r->user[0] ? setup_cmd(c, 3, a, "AUTH", err)
                        : setup_cmd(c, 2, (const char *[]){"AUTH", r->password}, "AUTH", err);
    }
    if (!rc && r->db) {
        char db[24];
        snprintf(db, sizeof db, "%ld", r->db);
        rc = setup_cmd(c, 2, (const char *[]){"SELECT", db}, "SELECT", err);
    }
    if (rc) {
        redisFree(c);
        return rc;
    }
    s->c = c;
    return 0;
}

/* Did the connection die under us (Redis restarted, an idle connection cut), as opposed
 * to a slow answer? Only then is a reused connection worth one more try. */
static bool was_closed(const redisContext *c, int saved_errno)
{
    return c->err == REDIS_ERR_EOF ||
           (c->err == REDIS_ERR_IO &&
            (saved_errno == ECONNRESET || saved_errno == EPIPE || saved_errno == ENOTCONN));
}

/* Sends the commands and reads the replies. Returns 0, SA_ENOMEM, or SA_ESTORE with
 * *closed telling whether the peer had closed the connection. */
static int exchange(redisContext *c, int n, const struct sa_redis_cmd *cmds,
                    struct redisReply **replies, const char *what, bool *closed, struct sa_err *err)
{
    *closed = false;
    for (int i = 0; i < n; i++)
        if (redisAppendCommandArgv(c, cmds[i].argc, (const char **)cmds[i].argv, cmds[i].argvlen) !=
            REDIS_OK)
            return sa_err_set(err, SA_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        void *rep = NULL;
        if (redisGetReply(c, &rep) != REDIS_OK) {
            int e = errno;
            *closed = was_closed(c, e);
            sa_logf(SA_LOG_WARN, "redis %s: %s", what, c->errstr);
            return sa_err_set(err, SA_ESTORE, "Redis %s failed: Redis is unreachable", what);
        }
        replies[i] = rep;
    }
    return 0;
}

int sa_redis_run(struct sa_redis *r, int n, const struct sa_redis_cmd *cmds,
                 struct redisReply **replies, const char *what, struct sa_err *err)
{
    for (int i = 0; i < n; i++)
        replies[i] = NULL;
    for (int attempt = 0;; attempt++) {
        struct slot *s = NULL;
        int rc = acquire(r, &s, what, err);
        if (rc || !s)
            return rc ? rc : SA_ESTORE;
        bool reused = s->c != NULL;
        if (!reused && (rc = connect_slot(r, s, err))) {
            release(r, s, true, false);
            return rc;
        }
        bool closed;
        rc = exchange(s->c, n, cmds, replies, what, &closed, err);
        release(r, s, rc != 0, rc != 0 && closed);
        if (!rc)
            return 0;
        sa_redis_replies_free(n, replies);
        if (!(closed && reused && attempt == 0))
            return rc;
    }
}

void sa_redis_replies_free(int n, struct redisReply **replies)
{
    for (int i = 0; i < n; i++) {
        if (replies[i])
            freeReplyObject(replies[i]);
        replies[i] = NULL;
    }
}

int sa_redis_reply_ok(const struct redisReply *reply, const char *what, struct sa_err *err)
{
    if (reply && reply->type != REDIS_REPLY_ERROR)
        return 0;
    sa_logf(SA_LOG_WARN, "redis %s: %.*s", what, reply ? (int)reply->len : 8,
            reply ? reply->str : "no reply");
    return sa_err_set(err, SA_ESTORE, "Redis %s failed", what);
}

int sa_redis_ping(struct sa_redis *r, double *ms, struct sa_err *err)
{
    *ms = 0;
    uint64_t t0 = sa_now_ns();
    redisReply *rep = NULL;
    const char *argv[] = {"PING"};
    const size_t len[] = {4};
    struct sa_redis_cmd cmd = {.argc = 1, .argv = argv, .argvlen = len};
    int rc = sa_redis_run(r, 1, &cmd, &rep, "PING", err);
    if (!rc && (rc = sa_redis_reply_ok(rep, "PING", err)) == 0)
        *ms = (double)(sa_now_ns() - t0) / 1e6;
    sa_redis_replies_free(1, &rep);
    return rc;
}

/* ---- scripts ---- */

/* EVAL or EVALSHA: verb, the script or its SHA, the key count, keys, then args. */
static int eval_cmd(struct sa_redis *r, const char *verb, const char *body, int nkeys,
                    const char *const *keys, int nargs, const char *const *args,
                    const size_t *arglen, redisReply **reply, const char *what, struct sa_err *err)
{
    int argc = 3 + nkeys + nargs;
    const char **argv = calloc((size_t)argc, sizeof *argv);
    size_t *len = calloc((size_t)argc, sizeof *len);
    if (!argv || !len) {
        free(argv);
        free(len);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    char nk[16];
    snprintf(nk, sizeof nk, "%d", nkeys);
    argv[0] = verb;
    argv[1] = body;
    argv[2] = nk;
    for (int i = 0; i < nkeys; i++)
        argv[3 + i] = keys[i];
    for (int i = 0; i < nargs; i++)
        argv[3 + nkeys + i] = args[i];
    for (int i = 0; i < argc; i++)
        len[i] = i >= 3 + nkeys && arglen ? arglen[i - 3 - nkeys] : (argv[i] ? strlen(argv[i]) : 0);
    struct sa_redis_cmd cmd = {.argc = argc, .argv = argv, .argvlen = len};
    int rc = sa_redis_run(r, 1, &cmd, reply, what, err);
    free(argv);
    free(len);
    return rc;
}

static bool is_noscript(const redisReply *rep)
{
    return rep && rep->type == REDIS_REPLY_ERROR && rep->len >= 8 &&
           strncmp(rep->str, "NOSCRIPT", 8) == 0;
}

int sa_redis_eval(struct sa_redis *r, struct sa_redis_script *script, int nkeys,
                  const char *const *keys, int nargs, const char *const *args, const size_t *arglen,
                  struct redisReply **reply, const char *what, struct sa_err *err)
{
    *reply = NULL;
    char sha[41];
    pthread_mutex_lock(&r->lock);
    memcpy(sha, script->sha, sizeof sha);
    pthread_mutex_unlock(&r->lock);
    int rc = 0;
    if (!sha[0]) { /* first use: load it, so that later calls send 40 bytes, not the script */
        redisReply *rep = NULL;
        const char *argv[] = {"SCRIPT", "LOAD", script->text};
        const size_t len[] = {6, 4, strlen(script->text)};
        struct sa_redis_cmd cmd = {.argc = 3, .argv = argv, .argvlen = len};
        if (!(rc = sa_redis_run(r, 1, &cmd, &rep, what, err)) &&
            !(rc = sa_redis_reply_ok(rep, what, err)) && rep) {
            if (rep->type == REDIS_REPLY_STRING && rep->len == 40) {
                memcpy(sha, rep->str, 40);
                sha[40] = '\0';
                pthread_mutex_lock(&r->lock);
                memcpy(script->sha, sha, sizeof sha);
                pthread_mutex_unlock(&r->lock);
            } else {
                rc = sa_redis_reply_ok(NULL, what, err);
            }
        }
        sa_redis_replies_free(1, &rep);
        if (rc)
            return rc;
    }
    if ((rc = eval_cmd(r, "EVALSHA", sha, nkeys, keys, nargs, args, arglen, reply, what, err)))
        return rc;
    if (is_noscript(*reply)) { /* Redis restarted or SCRIPT FLUSH: EVAL loads it again */
        sa_redis_replies_free(1, reply);
        if ((rc = eval_cmd(r, "EVAL", script->text, nkeys, keys, nargs, args, arglen, reply, what,
                           err)))
            return rc;
    }
    if ((rc = sa_redis_reply_ok(*reply, what, err)))
        sa_redis_replies_free(1, reply);
    return rc;
}

int sa_redis_reply_double(const struct redisReply *reply, double *out)
{
    *out = 0;
    if (reply && reply->type == REDIS_REPLY_INTEGER) {
        *out = (double)reply->integer;
        return 0;
    }
    if (!reply || reply->type != REDIS_REPLY_STRING || !reply->str)
        return SA_ESTORE;
    char *end = NULL;
    double v = strtod(reply->str, &end);
    if (end == reply->str || *end)
        return SA_ESTORE;
    *out = v;
    return 0;
}
