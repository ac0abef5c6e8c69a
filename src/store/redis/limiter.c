/* The Redis rate limiter (resilience/ratelimit.h, "redis"), chosen by the access service
 * when REDIS_URL is set so that limits hold across instances. Answers exactly as the
 * in-process limiter does (resilience/ratelimit.c; tests/unit/store/test_redis.c runs the
 * same cases), with two keys per limited key:
 *
 *   ratelimit:{KEY}:bucket        hash {t: tokens, l: last time, c: capacity}: the token
 *                                 bucket, updated by one Lua script (atomic; EVALSHA,
 *                                 EVAL when Redis answers NOSCRIPT); expires 120 s after
 *                                 its last use (a bucket is full again after 60 s)
 *   ratelimit:{KEY}:SECONDS:INDEX the fixed window INDEX = floor(now / SECONDS): a counter
 *                                 (SET NX EX, then INCR, in one MULTI/EXEC), expiring
 *                                 SECONDS + 60 s after the window's first hit. The
 *                                 original's `ratelimit:{agent_type}:{hour}` is this key
 *                                 with SECONDS = 3600.
 *
 * `now` is the caller's clock (the wall clock; tests move it), never Redis TIME: the
 * answers must agree with the in-process limiter's for the same calls. Expiry, though, is
 * Redis's real time; it only forgets state that has nothing left to say (a full bucket,
 * an ended window) as long as the caller's clock runs at real speed.
 *
 * A refused hit is counted by INCR too, unlike the in-process limiter; no answer shows
 * it: once the count has passed the limit every later hit of that window is refused
 * whatever the count, and the next window is another key.
 *
 * Failure mode: OPEN. When Redis cannot be reached (or answers an error), the call is
 * allowed with limit 0 (no RateLimit headers), a warning is logged at most every 10 s and
 * the failure is counted (sa_limiter_redis_failures). Every request is authenticated
 * before it is limited, so what fails open is fairness between known principals, not
 * access; failing closed would turn a Redis outage into an outage of the whole API,
 * health and checkpoints on other stores included. The one limit that guards against
 * abuse by strangers, failed authentications per address, is weakened while Redis is
 * down; API keys are 256-bit random, so guessing stays hopeless without it. */
#include <hiredis/hiredis.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "resilience/ratelimit.h"
#include "store/redis/redis.h"

#define BUCKET_TTL "120"
#define WARN_EVERY_NS (10ULL * 1000000000ULL)
#define KEY_BYTES (SA_LIMIT_KEY_MAX + 64)

/* KEYS[1] the bucket; ARGV: capacity, now, TTL. Returns {allowed, tokens left}. The state
 * is written with %.17g: Redis would turn a Lua number into text with 14 digits only. */
static const char bucket_lua[] =
    "local cap = tonumber(ARGV[1])\n"
    "local now = tonumber(ARGV[2])\n"
    "local h = redis.call('HMGET', KEYS[1], 't', 'l', 'c')\n"
    "local t, last\n"
    "if h[1] and h[2] and h[3] then\n"
    "  t = tonumber(h[1]); last = tonumber(h[2])\n"
    "  local old = tonumber(h[3])\n"
    "  if now > last then t = t + (now - last) * old / 60.0; last = now end\n"
    "  if t > old then t = old end\n"
    "else\n"
    "  t = cap; last = now\n"
    "end\n"
    "if t > cap then t = cap end\n"
    "local allowed = 0\n"
    "if t >= 1.0 - 1e-9 then\n"
    "  if t >= 1.0 then t = t - 1.0 else t = 0.0 end\n"
    "  allowed = 1\n"
    "end\n"
    "local ts = string.format('%.17g', t)\n"
    "redis.call('HSET', KEYS[1], 't', ts, 'l', string.format('%.17g', last), 'c', ARGV[1])\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[3])\n"
    "return {allowed, ts}\n";

struct redis_limiter {
    struct sa_limiter super; /* first */
    struct sa_redis *r;
    bool owns_r;
    struct sa_redis_script bucket;
    atomic_ulong failures;
    _Atomic uint64_t warned_ns; /* when the last warning was logged */
};

/* Redis failed: let the call through (see the file comment), count it, warn now and then. */
static int fail_open(struct redis_limiter *l, const char *what, const struct sa_err *why,
                     struct sa_limit *out)
{
    *out = (struct sa_limit){.allowed = true};
    atomic_fetch_add(&l->failures, 1);
    uint64_t now = sa_now_ns(), last = atomic_load(&l->warned_ns);
    if ((last == 0 || now - last >= WARN_EVERY_NS) &&
        atomic_compare_exchange_strong(&l->warned_ns, &last, now))
        sa_logf(SA_LOG_WARN,
                "rate limit %s: %s; allowing requests without a limit until Redis "
                "answers (%lu so far)",
                what, why->msg, atomic_load(&l->failures));
    return 0;
}

static int redis_take(struct sa_limiter *base, const char *key, long per_minute, double now,
                      struct sa_limit *out, struct sa_err *err)
{
    (void)err; /* Redis failing lets the call through (fail_open) */
    struct redis_limiter *l = (struct redis_limiter *)base;
    char k[KEY_BYTES], cap[24], t[40];
    snprintf(k, sizeof k, "ratelimit:{%s}:bucket", key);
    snprintf(cap, sizeof cap, "%ld", per_minute);
    snprintf(t, sizeof t, "%.17g", now);
    const char *keys[] = {k}, *args[] = {cap, t, BUCKET_TTL};
    redisReply *rep = NULL;
    struct sa_err why = {0};
    if (sa_redis_eval(l->r, &l->bucket, 1, keys, 3, args, NULL, &rep, "rate limit", &why))
        return fail_open(l, "take", &why, out);
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_INTEGER ||
        rep->element[1]->type != REDIS_REPLY_STRING) {
        sa_redis_replies_free(1, &rep);
        sa_err_set(&why, SA_ESTORE, "unexpected reply");
        return fail_open(l, "take", &why, out);
    }
    bool allowed = rep->element[0]->integer == 1;
    double tokens = strtod(rep->element[1]->str, NULL);
    sa_redis_replies_free(1, &rep);
    sa_limit_bucket_answer(per_minute, tokens, allowed, out);
    return 0;
}

static int redis_hit(struct sa_limiter *base, const char *key, long limit, long window_seconds,
                     double now, struct sa_limit *out, struct sa_err *err)
{
    (void)err; /* Redis failing lets the call through (fail_open) */
    struct redis_limiter *l = (struct redis_limiter *)base;
    double index = floor(now / (double)window_seconds);
    char k[KEY_BYTES], ttl[24];
    snprintf(k, sizeof k, "ratelimit:{%s}:%ld:%.0f", key, window_seconds, index);
    snprintf(ttl, sizeof ttl, "%ld", window_seconds + 60);
    const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
    const char *set[] = {"SET", k, "0", "EX", ttl, "NX"}, *incr[] = {"INCR", k};
    struct sa_redis_cmd cmds[] = {
        {1, multi, NULL}, {6, set, NULL}, {2, incr, NULL}, {1, exec, NULL}};
    redisReply *rep[4] = {0};
    struct sa_err why = {0};
    if (sa_redis_run(l->r, 4, cmds, rep, "rate limit", &why) ||
        sa_redis_reply_ok(rep[3], "rate limit", &why)) {
        sa_redis_replies_free(4, rep);
        return fail_open(l, "hit", &why, out);
    }
    const redisReply *res = rep[3];
    if (res->type != REDIS_REPLY_ARRAY || res->elements != 2 ||
        res->element[1]->type != REDIS_REPLY_INTEGER) {
        sa_redis_replies_free(4, rep);
        sa_err_set(&why, SA_ESTORE, "unexpected reply");
        return fail_open(l, "hit", &why, out);
    }
    long long count = res->element[1]->integer;
    sa_redis_replies_free(4, rep);
    sa_limit_window_answer(limit, window_seconds, index, now, count, out);
    return 0;
}

static void redis_close(struct sa_limiter *base)
{
    struct redis_limiter *l = (struct redis_limiter *)base;
    if (l->owns_r)
        sa_redis_close(l->r);
    free(l);
}

static const struct sa_limiter_ops redis_ops = {
    .name = "redis", .take = redis_take, .hit = redis_hit, .close = redis_close};

int sa_limiter_redis_new(struct sa_redis *r, bool owns_r, struct sa_limiter **out,
                         struct sa_err *err)
{
    *out = NULL;
    struct redis_limiter *l = calloc(1, sizeof *l);
    if (!l) {
        if (owns_r)
            sa_redis_close(r);
        return sa_err_set(err, SA_ENOMEM, "rate limit: out of memory");
    }
    l->super.ops = &redis_ops;
    l->r = r;
    l->owns_r = owns_r;
    l->bucket.text = bucket_lua;
    atomic_init(&l->failures, 0);
    atomic_init(&l->warned_ns, 0);
    *out = &l->super;
    return 0;
}

unsigned long sa_limiter_redis_failures(struct sa_limiter *base)
{
    SA_ASSERT(base->ops == &redis_ops);
    return atomic_load(&((struct redis_limiter *)base)->failures);
}
