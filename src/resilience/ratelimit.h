/* Rate limits: a token bucket per key (requests per minute per principal) and a fixed
 * window per key (agent invocations per hour per principal and agent type, the original's
 * `ratelimit:{agent_type}:{hour}`), behind a backend interface so that a shared store
 * (Redis) can hold them across instances. The HTTP edge calls it on every request; this
 * file holds the interface, the in-process backend's constructor and the parser of
 * AGENT_RATE_LIMIT_PER_HOUR. */
#ifndef SA_RESILIENCE_RATELIMIT_H
#define SA_RESILIENCE_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

/* Longest key a limiter accepts, in bytes; a longer one is SA_EINVAL. */
#define SA_LIMIT_KEY_MAX 256
/* Largest limit (per_minute, limit) and window_seconds a limiter accepts (SA_EINVAL above). */
#define SA_LIMIT_MAX 1000000000L

/* What a limit check answers: enough for 429 + Retry-After and the RateLimit-Limit /
 * RateLimit-Remaining / RateLimit-Reset headers (IETF draft-ietf-httpapi-ratelimit-headers).
 *
 * With a limit of 0 ("no limit") the answer is {allowed = true, limit = 0, remaining = 0,
 * reset_seconds = 0, retry_after = 0}, nothing is stored or counted, and the caller sends
 * no RateLimit headers: limit == 0 is how it tells. */
struct sa_limit {
    bool allowed;
    long limit;         /* the configured capacity */
    long remaining;     /* after this request (0 when refused) */
    long reset_seconds; /* until the bucket is full again / the window ends; >= 0, rounded up */
    long retry_after;   /* seconds until a refused request would pass (rounded up, >= 1);
                           0 when allowed */
};

struct sa_limiter;

/* A limiter backend. Every slot is required; callers go through the wrappers below.
 *
 * Keys of `take` and of `hit` are separate namespaces: the same text names two
 * independent counters. The caller builds keys from what it limits ("key:ID",
 * "agent:bdr:key:ID"); a key is 1 to SA_LIMIT_KEY_MAX bytes of any text.
 *
 * The wrappers check the arguments (sa_limit_check) and answer a limit of 0 themselves, so
 * a slot is called only with a valid key, a finite now, a limit of 1-SA_LIMIT_MAX and a
 * window of 1-SA_LIMIT_MAX seconds, and *out set to {allowed = true}. It fills *out and
 * returns 0; a backend that talks to a server may also return SA_EIO. A backend MUST be
 * safe to call from many threads at once. */
struct sa_limiter_ops {
    const char *name; /* "memory"; Redis later */
    /* Token bucket under key: capacity per_minute, refilled continuously at per_minute/60
     * tokens per second; takes one token when there is one. A key seen for the first time
     * starts full. now: seconds on any monotonic or wall clock (the caller's; tests move
     * it); a now earlier than the key's last call counts as no time passed. */
    int (*take)(struct sa_limiter *l, const char *key, long per_minute, double now,
                struct sa_limit *out, struct sa_err *err);
    /* Fixed window: at most limit hits per window of window_seconds aligned to multiples
     * of it (hour windows: floor(now / 3600)); counts this hit when allowed, not when
     * refused. */
    int (*hit)(struct sa_limiter *l, const char *key, long limit, long window_seconds, double now,
               struct sa_limit *out, struct sa_err *err);
    /* Frees the limiter and everything it holds. No call may be in flight. */
    void (*close)(struct sa_limiter *l);
};

/* The base every backend embeds first. */
struct sa_limiter {
    const struct sa_limiter_ops *ops;
};

/* The checks of every call, before its backend's slot: key 1-SA_LIMIT_KEY_MAX bytes, now
 * finite, limit 0-SA_LIMIT_MAX and, for a window (not a bucket), window_seconds
 * 1-SA_LIMIT_MAX. Sets *out to {allowed = true} (the answer for a limit of 0) and returns
 * 0, or clears *out and returns SA_EINVAL with err set. */
int sa_limit_check(const char *key, long limit, bool window, long window_seconds, double now,
                   struct sa_limit *out, struct sa_err *err) SA_WUR;

/* The answer of a token bucket of capacity per_minute (> 0) holding `tokens` after this
 * call, which took one when allowed: remaining, retry_after and reset_seconds, rounded up
 * to whole seconds. Shared by the backends, so they answer alike. */
void sa_limit_bucket_answer(long per_minute, double tokens, bool allowed, struct sa_limit *out);

/* The answer of a fixed window of window_seconds (limit > 0), numbered index (floor(now /
 * window_seconds)), at now, with `used` hits counted in it including this one; allowed
 * when used <= limit. */
void sa_limit_window_answer(long limit, long window_seconds, double index, double now,
                            long long used, struct sa_limit *out);

/* See sa_limiter_ops.take. */
SA_WUR static inline int sa_limiter_take(struct sa_limiter *l, const char *key, long per_minute,
                                         double now, struct sa_limit *out, struct sa_err *err)
{
    int rc = sa_limit_check(key, per_minute, false, 0, now, out, err);
    return rc || per_minute == 0 ? rc : l->ops->take(l, key, per_minute, now, out, err);
}

/* See sa_limiter_ops.hit. */
SA_WUR static inline int sa_limiter_hit(struct sa_limiter *l, const char *key, long limit,
                                        long window_seconds, double now, struct sa_limit *out,
                                        struct sa_err *err)
{
    int rc = sa_limit_check(key, limit, true, window_seconds, now, out, err);
    return rc || limit == 0 ? rc : l->ops->hit(l, key, limit, window_seconds, now, out, err);
}

/* Frees l (NULL is a no-op). l is invalid afterwards. */
static inline void sa_limiter_close(struct sa_limiter *l)
{
    if (l)
        l->ops->close(l);
}

/* Opens the in-process limiter ("memory") holding at most max_keys entries (1 to
 * 16,777,216), each a struct of about 80 bytes plus its key. Thread-safe: the keys are
 * spread by hash over up to 64 shards, each with its own mutex, hash table and LRU list,
 * so threads on different keys rarely wait for each other.
 *
 * Memory stays bounded: each shard holds at most max_keys / shards entries (shards: 64
 * when max_keys >= 1024, else fewer, so that a shard holds 16 or more; 1 below 32). An
 * entry that has nothing to remember (its bucket is full again, its window has ended) is
 * freed lazily: the call that finds it at the cold end of its shard's LRU list frees it;
 * forgetting it changes no answer. When a new key arrives at a full shard, the call frees
 * such an entry among the shard's 32 least recently used; when none of them qualifies, it
 * evicts the least recently used entry of the shard, which forgets that key's count (its
 * next call starts afresh: a full bucket, an empty window). Size max_keys to the number of
 * principals and agent types active at once so that eviction stays rare.
 *
 * On success *out is the limiter, which the caller frees with sa_limiter_close. Returns 0,
 * SA_EINVAL (max_keys out of range) or SA_ENOMEM. */
int sa_limiter_memory_open(size_t max_keys, struct sa_limiter **out, struct sa_err *err) SA_WUR;

/* The number of entries an in-process limiter holds now (for tests and metrics). l MUST
 * come from sa_limiter_memory_open. */
size_t sa_limiter_memory_count(struct sa_limiter *l);

/* AGENT_RATE_LIMIT_PER_HOUR's text: "N" or "N,name=N,..." (a default and overrides; 0 = no
 * limit; names [a-z_]+ of at most 31 characters, each once; N an integer 0-SA_LIMIT_MAX;
 * spaces and tabs around items and around '=' allowed; at most 16 overrides). */
struct sa_limit_spec {
    long dflt;
    int n;
    struct {
        char name[32];
        long limit;
    } over[16];
};

/* Parses text into *out (cleared on entry). Returns 0 or SA_EINVAL with a message naming
 * the bad item and what was expected. */
int sa_limit_spec_parse(const char *text, struct sa_limit_spec *out, struct sa_err *err) SA_WUR;

/* The limit for name: its override, else the default (also for a NULL name). */
long sa_limit_spec_for(const struct sa_limit_spec *s, const char *name);

#endif
