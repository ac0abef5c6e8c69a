/* The in-process rate limiter (a sharded hash table of token buckets and fixed windows)
 * and the parser of AGENT_RATE_LIMIT_PER_HOUR; see ratelimit.h. */
#include "resilience/ratelimit.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SHARDS 64
#define MIN_PER_SHARD 16
#define MAX_KEYS ((size_t)1 << 24)
#define RECLAIM_SCAN 32 /* LRU entries a full shard looks at before it evicts */
#define TAIL_CHECKS 2   /* cold entries each call may free, reclaimable ones only */

/* Tolerance in tokens. Refills are sums of products of doubles, so a bucket that has
 * waited exactly the advertised Retry-After may hold 0.999999999... tokens; it counts as
 * one. The same tolerance goes into the seconds we advertise, so the two agree: waiting
 * retry_after seconds always lets the next request through. */
#define EPS 1e-9

enum kind { KIND_BUCKET, KIND_WINDOW };

/* One key's state. The key's bytes follow the struct (len bytes, NUL-terminated). */
struct entry {
    struct entry *chain;         /* next in the shard's hash chain */
    struct entry *newer, *older; /* the shard's LRU list */
    uint64_t hash;
    enum kind kind;
    long limit; /* the bucket's capacity or the window's limit, as of the last call */
    union {
        struct {
            double tokens, last; /* tokens at time last */
        } b;
        struct {
            double index; /* floor(now / seconds) of the window counted */
            long seconds;
            long count;
        } w;
    } u;
    size_t len;
    char key[];
};

/* Aligned to a cache line so that two threads on neighbouring shards do not share one. */
struct shard {
    alignas(64) pthread_mutex_t lock;
    struct entry **table; /* mask + 1 chains */
    size_t mask;
    size_t count, cap;
    struct entry *newest, *oldest;
};

struct memory {
    struct sa_limiter super;
    unsigned nshards; /* a power of two */
    struct shard *shards;
};

/* FNV-1a over the key and the kind, then a finaliser (MurmurHash3's fmix64) so that the
 * low bits (the chain) and bits 32 up (the shard) are both well mixed. */
static uint64_t hash_key(const char *key, size_t len, enum kind kind)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 0x100000001b3ULL;
    }
    h ^= (uint64_t)kind + 1;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static void lru_unlink(struct shard *s, struct entry *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        s->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        s->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void lru_push(struct shard *s, struct entry *e)
{
    e->older = s->newest;
    e->newer = NULL;
    if (s->newest)
        s->newest->newer = e;
    s->newest = e;
    if (!s->oldest)
        s->oldest = e;
}

/* Unlinks e from its chain and the LRU list and frees it. */
static void drop(struct shard *s, struct entry *e)
{
    struct entry **pp = &s->table[e->hash & s->mask];
    while (*pp != e)
        pp = &(*pp)->chain;
    *pp = e->chain;
    lru_unlink(s, e);
    s->count--;
    free(e);
}

/* Tokens in a bucket entry at now, capped at its capacity (no time passes backwards). */
static double tokens_at(const struct entry *e, double now)
{
    double cap = (double)e->limit, t = e->u.b.tokens;
    if (now > e->u.b.last)
        t += (now - e->u.b.last) * cap / 60.0;
    return t > cap ? cap : t;
}

/* Would forgetting e change any answer? A full bucket and an ended window are exactly
 * what a key seen for the first time gets. */
static bool reclaimable(const struct entry *e, double now)
{
    if (e->kind == KIND_BUCKET)
        return tokens_at(e, now) >= (double)e->limit - EPS;
    return floor(now / (double)e->u.w.seconds) > e->u.w.index;
}

/* Makes room in a full shard: the first reclaimable entry among the RECLAIM_SCAN least
 * recently used, else the least recently used one. */
static void make_room(struct shard *s, double now)
{
    struct entry *e = s->oldest;
    for (int i = 0; e && i < RECLAIM_SCAN; i++, e = e->newer)
        if (reclaimable(e, now)) {
            drop(s, e);
            return;
        }
    if (s->oldest)
        drop(s, s->oldest);
}

/* The entry for (kind, key), made most recently used; a new one when absent (*fresh set,
 * state left for the caller to fill). NULL when out of memory. Caller holds the lock. */
static struct entry *get(struct shard *s, uint64_t h, enum kind kind, const char *key, size_t len,
                         double now, bool *fresh)
{
    for (int i = 0; i < TAIL_CHECKS && s->oldest && reclaimable(s->oldest, now); i++)
        drop(s, s->oldest);
    struct entry **head = &s->table[h & s->mask];
    for (struct entry *e = *head; e; e = e->chain)
        if (e->hash == h && e->kind == kind && e->len == len && !memcmp(e->key, key, len)) {
            if (s->newest != e) {
                lru_unlink(s, e);
                lru_push(s, e);
            }
            *fresh = false;
            return e;
        }
    if (s->count >= s->cap)
        make_room(s, now);
    struct entry *e = malloc(sizeof *e + len + 1);
    if (!e)
        return NULL;
    *e = (struct entry){.hash = h, .kind = kind, .len = len};
    memcpy(e->key, key, len);
    e->key[len] = '\0';
    head = &s->table[h & s->mask]; /* make_room may have emptied this chain */
    e->chain = *head;
    *head = e;
    lru_push(s, e);
    s->count++;
    *fresh = true;
    return e;
}

/* Whole seconds (rounded up) to gain `deficit` tokens at `rate` per second; 0 when none
 * are missing. EPS is taken off the deficit as it is taken off the admission test. */
static long seconds_for(double deficit, double rate)
{
    deficit -= EPS;
    if (deficit <= 0)
        return 0;
    double s = ceil(deficit / rate);
    return s > (double)LONG_MAX ? LONG_MAX : (long)s;
}

int sa_limit_check(const char *key, long limit, bool window, long window_seconds, double now,
                   struct sa_limit *out, struct sa_err *err)
{
    *out = (struct sa_limit){0};
    if (!isfinite(now))
        return sa_err_set(err, SA_EINVAL, "rate limit: the time is not a finite number");
    if (!key)
        return sa_err_set(err, SA_EINVAL, "rate limit: no key");
    size_t len = strnlen(key, SA_LIMIT_KEY_MAX + 1);
    if (len == 0)
        return sa_err_set(err, SA_EINVAL, "rate limit: empty key");
    if (len > SA_LIMIT_KEY_MAX)
        return sa_err_set(err, SA_EINVAL, "rate limit: key longer than %d bytes", SA_LIMIT_KEY_MAX);
    if (limit < 0 || limit > SA_LIMIT_MAX)
        return window_seconds == 0
                   ? sa_err_set(err, SA_EINVAL, "rate limit: %ld per minute: expected 0-%ld", limit,
                                SA_LIMIT_MAX)
                   : sa_err_set(err, SA_EINVAL, "rate limit: limit %ld: expected 0-%ld", limit,
                                SA_LIMIT_MAX);
    if (window && (window_seconds < 1 || window_seconds > SA_LIMIT_MAX))
        return sa_err_set(err, SA_EINVAL, "rate limit: window of %ld s: expected 1-%ld",
                          window_seconds, SA_LIMIT_MAX);
    out->allowed = true; /* the backend refuses, when it does */
    return 0;
}

void sa_limit_bucket_answer(long per_minute, double tokens, bool allowed, struct sa_limit *out)
{
    double rate = (double)per_minute / 60.0;
    out->limit = per_minute;
    out->allowed = allowed;
    if (allowed) {
        out->remaining = (long)floor(tokens + EPS);
    } else {
        long ra = seconds_for(1.0 - tokens, rate);
        out->retry_after = ra < 1 ? 1 : ra;
    }
    out->reset_seconds = seconds_for((double)per_minute - tokens, rate);
}

void sa_limit_window_answer(long limit, long window_seconds, double index, double now,
                            long long used, struct sa_limit *out)
{
    double ws = (double)window_seconds, left = ceil((index + 1.0) * ws - now);
    out->limit = limit;
    out->reset_seconds = left < 0 ? 0 : left > ws ? window_seconds : (long)left;
    if (used <= limit) {
        out->allowed = true;
        out->remaining = limit - (long)used;
    } else {
        out->allowed = false;
        out->retry_after = out->reset_seconds < 1 ? 1 : out->reset_seconds;
    }
}

static struct shard *shard_of(struct memory *m, uint64_t h)
{
    return &m->shards[(h >> 32) & (m->nshards - 1)];
}

static int memory_take(struct sa_limiter *l, const char *key, long per_minute, double now,
                       struct sa_limit *out, struct sa_err *err)
{
    struct memory *m = (struct memory *)l;
    size_t len = strlen(key);
    uint64_t h = hash_key(key, len, KIND_BUCKET);
    struct shard *s = shard_of(m, h);
    double cap = (double)per_minute;
    pthread_mutex_lock(&s->lock);
    bool fresh;
    struct entry *e = get(s, h, KIND_BUCKET, key, len, now, &fresh);
    if (!e) {
        pthread_mutex_unlock(&s->lock);
        return sa_err_set(err, SA_ENOMEM, "rate limit: out of memory");
    }
    /* A changed capacity applies from now on: what the bucket holds is capped to it. */
    double t = fresh ? cap : tokens_at(e, now);
    if (t > cap)
        t = cap;
    e->limit = per_minute;
    if (fresh || now > e->u.b.last)
        e->u.b.last = now;
    bool allowed = t >= 1.0 - EPS;
    if (allowed)
        t = t >= 1.0 ? t - 1.0 : 0.0;
    e->u.b.tokens = t;
    pthread_mutex_unlock(&s->lock);
    sa_limit_bucket_answer(per_minute, t, allowed, out);
    return 0;
}

static int memory_hit(struct sa_limiter *l, const char *key, long limit, long window_seconds,
                      double now, struct sa_limit *out, struct sa_err *err)
{
    size_t len = strlen(key);
    struct memory *m = (struct memory *)l;
    uint64_t h = hash_key(key, len, KIND_WINDOW);
    struct shard *s = shard_of(m, h);
    double ws = (double)window_seconds, index = floor(now / ws);
    pthread_mutex_lock(&s->lock);
    bool fresh;
    struct entry *e = get(s, h, KIND_WINDOW, key, len, now, &fresh);
    if (!e) {
        pthread_mutex_unlock(&s->lock);
        return sa_err_set(err, SA_ENOMEM, "rate limit: out of memory");
    }
    /* A clock that steps back into an earlier window keeps counting the later one. */
    if (fresh || e->u.w.seconds != window_seconds || index > e->u.w.index) {
        e->u.w.index = index;
        e->u.w.seconds = window_seconds;
        e->u.w.count = 0;
    }
    e->limit = limit;
    long long used = limit + 1LL; /* refused: not counted */
    if (e->u.w.count < limit)
        used = ++e->u.w.count;
    double counted = e->u.w.index; /* later than index when the clock stepped back */
    pthread_mutex_unlock(&s->lock);
    sa_limit_window_answer(limit, window_seconds, counted, now, used, out);
    return 0;
}

static void memory_close(struct sa_limiter *l)
{
    struct memory *m = (struct memory *)l;
    for (unsigned i = 0; i < m->nshards; i++) {
        struct shard *s = &m->shards[i];
        for (struct entry *e = s->oldest, *next; e; e = next) {
            next = e->newer;
            free(e);
        }
        free(s->table);
        pthread_mutex_destroy(&s->lock);
    }
    free(m->shards);
    free(m);
}

static const struct sa_limiter_ops memory_ops = {
    .name = "memory", .take = memory_take, .hit = memory_hit, .close = memory_close};

int sa_limiter_memory_open(size_t max_keys, struct sa_limiter **out, struct sa_err *err)
{
    *out = NULL;
    if (max_keys < 1 || max_keys > MAX_KEYS)
        return sa_err_set(err, SA_EINVAL, "rate limit: %zu keys: expected 1-%zu", max_keys,
                          MAX_KEYS);
    unsigned n = 1;
    while (n < MAX_SHARDS && max_keys / ((size_t)n * 2) >= MIN_PER_SHARD)
        n *= 2;
    size_t cap = max_keys / n, buckets = 1;
    while (buckets < cap)
        buckets *= 2;
    struct memory *m = calloc(1, sizeof *m);
    if (!m)
        return sa_err_set(err, SA_ENOMEM, "rate limit: out of memory");
    m->super.ops = &memory_ops;
    m->shards = aligned_alloc(alignof(struct shard), n * sizeof *m->shards);
    if (!m->shards) {
        free(m);
        return sa_err_set(err, SA_ENOMEM, "rate limit: out of memory");
    }
    /* Shards are counted in as they are initialised, so close frees exactly those. */
    for (unsigned i = 0; i < n; i++) {
        struct shard *s = &m->shards[i];
        *s = (struct shard){.mask = buckets - 1, .cap = cap};
        s->table = calloc(buckets, sizeof(struct entry *));
        if (!s->table) {
            memory_close(&m->super);
            return sa_err_set(err, SA_ENOMEM, "rate limit: out of memory");
        }
        pthread_mutex_init(&s->lock, NULL);
        m->nshards = i + 1;
    }
    *out = &m->super;
    return 0;
}

size_t sa_limiter_memory_count(struct sa_limiter *l)
{
    SA_ASSERT(l->ops == &memory_ops);
    struct memory *m = (struct memory *)l;
    size_t total = 0;
    for (unsigned i = 0; i < m->nshards; i++) {
        pthread_mutex_lock(&m->shards[i].lock);
        total += m->shards[i].count;
        pthread_mutex_unlock(&m->shards[i].lock);
    }
    return total;
}

/* ---- AGENT_RATE_LIMIT_PER_HOUR ---- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static void trim(const char **b, const char **e)
{
    while (*b < *e && is_space(**b))
        (*b)++;
    while (*e > *b && is_space((*e)[-1]))
        (*e)--;
}

/* A decimal integer 0-SA_LIMIT_MAX filling [b, e). Returns false otherwise. */
static bool parse_count(const char *b, const char *e, long *out)
{
    if (b == e)
        return false;
    long v = 0;
    for (; b < e; b++) {
        if (*b < '0' || *b > '9')
            return false;
        v = v * 10 + (*b - '0');
        if (v > SA_LIMIT_MAX)
            return false;
    }
    *out = v;
    return true;
}

/* The printable length of an item quoted in a message (long ones are cut). */
static int shown(const char *b, const char *e)
{
    return e - b > 64 ? 64 : (int)(e - b);
}

/* One "name=N" item, [b, e) trimmed, number item (2 for the first override). */
static int parse_override(const char *b, const char *e, int item, struct sa_limit_spec *out,
                          struct sa_err *err)
{
    const char *eq = memchr(b, '=', (size_t)(e - b));
    if (!eq)
        return sa_err_set(err, SA_EINVAL,
                          "rate limit item %d \"%.*s\": expected name=N (an agent name and "
                          "its limit)",
                          item, shown(b, e), b);
    const char *nb = b, *ne = eq, *vb = eq + 1, *ve = e;
    trim(&nb, &ne);
    trim(&vb, &ve);
    if (nb == ne || ne - nb > 31)
        return sa_err_set(err, SA_EINVAL,
                          "rate limit item %d \"%.*s\": expected an agent name of 1-31 "
                          "characters before '='",
                          item, shown(b, e), b);
    for (const char *p = nb; p < ne; p++)
        if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
            return sa_err_set(err, SA_EINVAL,
                              "rate limit item %d \"%.*s\": an agent name has only a-z and _", item,
                              shown(b, e), b);
    size_t nlen = (size_t)(ne - nb);
    for (int i = 0; i < out->n; i++)
        if (strlen(out->over[i].name) == nlen && !memcmp(out->over[i].name, nb, nlen))
            return sa_err_set(err, SA_EINVAL,
                              "rate limit item %d \"%.*s\": agent %.*s is already given", item,
                              shown(b, e), b, (int)nlen, nb);
    long v;
    if (!parse_count(vb, ve, &v))
        return sa_err_set(err, SA_EINVAL,
                          "rate limit item %d \"%.*s\": expected an integer 0-%ld after '='", item,
                          shown(b, e), b, SA_LIMIT_MAX);
    int max = (int)(sizeof out->over / sizeof out->over[0]);
    if (out->n >= max)
        return sa_err_set(err, SA_EINVAL, "rate limit item %d \"%.*s\": at most %d agent overrides",
                          item, shown(b, e), b, max);
    memcpy(out->over[out->n].name, nb, nlen);
    out->over[out->n].name[nlen] = '\0';
    out->over[out->n].limit = v;
    out->n++;
    return 0;
}

/* The items of text, one by one, into *out (which the caller clears on failure). */
static int parse_items(const char *text, struct sa_limit_spec *out, struct sa_err *err)
{
    const char *p = text;
    for (int item = 1;; item++) {
        const char *comma = strchr(p, ',');
        const char *b = p, *e = comma ? comma : p + strlen(p);
        trim(&b, &e);
        if (b == e)
            return sa_err_set(err, SA_EINVAL, "rate limit item %d is empty: expected %s", item,
                              item == 1 ? "a default limit N" : "name=N");
        if (item > 1) {
            int rc = parse_override(b, e, item, out, err);
            if (rc)
                return rc;
        } else if (!parse_count(b, e, &out->dflt)) {
            return sa_err_set(err, SA_EINVAL,
                              "rate limit item 1 \"%.*s\": expected the default limit, an "
                              "integer 0-%ld (as in \"100,bdr=10\")",
                              shown(b, e), b, SA_LIMIT_MAX);
        }
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

int sa_limit_spec_parse(const char *text, struct sa_limit_spec *out, struct sa_err *err)
{
    *out = (struct sa_limit_spec){0};
    if (!text)
        return sa_err_set(err, SA_EINVAL, "rate limit: no text");
    int rc = parse_items(text, out, err);
    if (rc)
        *out = (struct sa_limit_spec){0};
    return rc;
}

long sa_limit_spec_for(const struct sa_limit_spec *s, const char *name)
{
    if (name)
        for (int i = 0; i < s->n; i++)
            if (!strcmp(s->over[i].name, name))
                return s->over[i].limit;
    return s->dflt;
}
