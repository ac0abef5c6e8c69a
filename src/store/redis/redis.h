/* Redis behind our interfaces (docs/redis.md): a small pool of hiredis connections with
 * timeouts and reconnect-on-next-use, the checkpoint saver (graph/saver.h) and the rate
 * limiter (resilience/ratelimit.h) built on it. The composition root (app/app.c), the
 * access service (app/access.c) and the store registry (store/store.c) call the openers;
 * the health service calls sa_redis_ping. Redis's own error text never leaves this folder:
 * it is logged, and callers get SA_ESTORE with our words. */
#ifndef SA_STORE_REDIS_H
#define SA_STORE_REDIS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

struct sa_redis;
struct redisReply; /* hiredis */
struct graph_saver;
struct sa_limiter;

/* Connections a pool holds at most (sa_redis_open's pool_size is clamped to 1-this). */
#define SA_REDIS_POOL_MAX 64
/* Defaults of REDIS_TIMEOUT_MS and CHECKPOINT_TTL_SECONDS, for openers given 0. */
#define SA_REDIS_TIMEOUT_MS 1000
#define SA_REDIS_CHECKPOINT_TTL 3600L

/* ---- connections (conn.c) ---- */

/* Opens a pool of at most pool_size connections to url: redis://[[user]:password@]host
 * [:port][/db] (port 6379 and db 0 when absent; host a name, an IPv4 address or an IPv6
 * address in brackets). timeout_ms (0: SA_REDIS_TIMEOUT_MS) bounds the connect, each
 * command's round trip and the wait for a free connection. Connections are made on first
 * use, so the pool opens while Redis is down; a connection that breaks (I/O error,
 * timeout, Redis restarted) is dropped and the next use connects again, so the service
 * recovers without a restart. Returns 0, SA_ECONFIG (a malformed URL: err names what,
 * never the password) or SA_ENOMEM. *out is freed with sa_redis_close. */
int sa_redis_open(const char *url, int timeout_ms, int pool_size, struct sa_redis **out,
                  struct sa_err *err) SA_WUR;
/* Closes every connection and frees r (NULL is a no-op). No call may be in flight. */
void sa_redis_close(struct sa_redis *r);

/* A PING round trip, for /health: *ms its latency in milliseconds (0 on failure). Returns
 * 0, or SA_ESTORE with err saying Redis did not answer (its text is in the log). */
int sa_redis_ping(struct sa_redis *r, double *ms, struct sa_err *err) SA_WUR;

/* One command: argc arguments of argvlen bytes each (binary-safe), or NUL-terminated
 * texts when argvlen is NULL. */
struct sa_redis_cmd {
    int argc;
    const char *const *argv;
    const size_t *argvlen;
};

/* Sends the n commands on one connection at once (a pipeline; wrap them in MULTI/EXEC for
 * atomicity) and reads their n replies into replies[0..n) (caller frees them with
 * sa_redis_replies_free, also on error: the ones not read are NULL). A connection that
 * was reused and turns out broken is replaced and the commands sent once more (what a
 * restarted Redis never saw), so commands MUST be safe to repeat. An error reply
 * (REDIS_REPLY_ERROR) is a reply, not a failure: callers check with sa_redis_reply_ok.
 * what names the operation in the log and err. Returns 0 or SA_ESTORE (no connection,
 * I/O error, timeout) or SA_ENOMEM. */
int sa_redis_run(struct sa_redis *r, int n, const struct sa_redis_cmd *cmds,
                 struct redisReply **replies, const char *what, struct sa_err *err) SA_WUR;
/* Frees replies[0..n) (NULL entries skipped) and sets them to NULL. */
void sa_redis_replies_free(int n, struct redisReply **replies);

/* The number a reply carries (a bulk string such as INCRBYFLOAT's, or an integer) into
 * *out. Returns 0, or SA_ESTORE for any other reply. */
int sa_redis_reply_double(const struct redisReply *reply, double *out) SA_WUR;

/* 0 when reply is not an error reply; else logs Redis's text with what and returns
 * SA_ESTORE with err saying only that what failed. A NULL reply is an error too. */
int sa_redis_reply_ok(const struct redisReply *reply, const char *what, struct sa_err *err) SA_WUR;

/* A Lua script run with EVALSHA, falling back to EVAL when Redis answers NOSCRIPT (a
 * restarted or flushed server); the SHA comes from SCRIPT LOAD on first use and is kept
 * in the struct (guarded by the pool). Declare one per script, zero-initialised apart
 * from text, beside its user; it MUST outlive every sa_redis_eval on it. */
struct sa_redis_script {
    const char *text;
    char sha[41]; /* "" until loaded */
};

/* Runs script with nkeys keys (NUL-terminated text) then nargs arguments of arglen bytes
 * each (arglen NULL: NUL-terminated text; binary-safe otherwise). *reply is
 * the script's reply (caller frees it with sa_redis_replies_free(1, reply)); an error
 * reply is logged and returned as SA_ESTORE (no reply left). Returns 0, SA_ESTORE or
 * SA_ENOMEM. */
int sa_redis_eval(struct sa_redis *r, struct sa_redis_script *script, int nkeys,
                  const char *const *keys, int nargs, const char *const *args, const size_t *arglen,
                  struct redisReply **reply, const char *what, struct sa_err *err) SA_WUR;

/* ---- the checkpoint saver (saver.c) ---- */

/* Opens the checkpoint saver over r. owns_r: the saver closes r when it is freed (else r is
 * borrowed and MUST outlive it). ttl_seconds (0: SA_REDIS_CHECKPOINT_TTL) is the life of a
 * thread's keys after its last checkpoint, or longer when that checkpoint carries a later
 * expiry of its graph's (expires_at, graph_compile_opts.thread_ttl: a conversation's
 * session): then the keys expire then. hold makes them persistent until the next put (docs/redis.md).
 * Returns 0 or SA_ENOMEM (r is then closed when owned). Free with graph_saver_free. */
int sa_redis_saver_new(struct sa_redis *r, bool owns_r, long ttl_seconds, struct graph_saver **out,
                       struct sa_err *err) SA_WUR;

/* The registry's opener (store/store.c): location is what follows "redis://"; the saver
 * gets its own pool of 4 with the default timeout and TTL. */
int sa_redis_saver_open(const char *location, struct graph_saver **out, struct sa_err *err) SA_WUR;

/* ---- the rate limiter (limiter.c) ---- */

/* Opens the limiter "redis" over r (owns_r as for the saver): the token bucket in a Lua
 * script, the fixed window with INCR + EXPIRE, with the in-process limiter's answers, so
 * limits hold across instances. When Redis cannot be reached it fails OPEN: the call is
 * allowed with limit 0 (no RateLimit headers), a warning is logged (at most once every
 * 10 s) and sa_limiter_redis_failures counts it. Returns 0 or SA_ENOMEM. */
int sa_limiter_redis_new(struct sa_redis *r, bool owns_r, struct sa_limiter **out,
                         struct sa_err *err) SA_WUR;
/* Calls let through because Redis failed, since open (for metrics and tests). l MUST come
 * from sa_limiter_redis_new. */
unsigned long sa_limiter_redis_failures(struct sa_limiter *l);

#endif
