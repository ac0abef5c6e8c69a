/* Pins the Redis backends against a real Redis (SA_TEST_REDIS_URL; every test is skipped,
 * saying why, when it is unset): the rate limiter gives the in-process limiter's answers
 * on the same moved clock (resilience/test_ratelimit.c's cases) and fails open when Redis
 * is gone; the checkpoint saver's operations, its TTL and hold (PERSIST) rule (read back with
 * TTL), the zstd round trip of a large blob; and the pool's reconnect after a Redis
 * restart (a redis-server this test starts on a free port). Keys are prefixed with this
 * process's id and deleted after. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "app/access.h"
#include "base/config.h"
#include "graph/saver.h"
#include "resilience/ratelimit.h"
#include "store/redis/redis.h"
#include "store/store.h"

/* ---- helpers ---------------------------------------------------------------------- */

static const char *redis_url(void)
{
    const char *u = getenv("SA_TEST_REDIS_URL");
    if (!u || !*u) {
        print_message("skipped: SA_TEST_REDIS_URL is not set (the backends fixture sets it; "
                      "or point it at a redis-server: redis://127.0.0.1:PORT/DB)\n");
        skip();
    }
    return u;
}

static struct sa_redis *open_pool(const char *url, int pool)
{
    struct sa_redis *r = NULL;
    struct sa_err err = {0};
    if (sa_redis_open(url, 2000, pool, &r, &err))
        fail_msg("open %s: %s", url, err.msg);
    return r;
}

/* One command on r, given as NUL-terminated words; the reply (caller frees). */
static redisReply *cmd(struct sa_redis *r, int argc, const char **argv)
{
    redisReply *rep = NULL;
    struct sa_err err = {0};
    struct sa_redis_cmd c = {.argc = argc, .argv = argv, .argvlen = NULL};
    if (sa_redis_run(r, 1, &c, &rep, "test", &err))
        fail_msg("%s: %s", argv[0], err.msg);
    return rep;
}

static long long cmd_int(struct sa_redis *r, int argc, const char **argv)
{
    redisReply *rep = cmd(r, argc, argv);
    if (rep->type != REDIS_REPLY_INTEGER)
        fail_msg("%s: not an integer reply (%d)", argv[0], rep->type);
    long long v = rep->integer;
    freeReplyObject(rep);
    return v;
}

/* Deletes every key matching pattern. */
static void del_matching(struct sa_redis *r, const char *pattern)
{
    char cursor[32] = "0";
    do {
        redisReply *rep =
            cmd(r, 6, (const char *[]){"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
        assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
        snprintf(cursor, sizeof cursor, "%s", rep->element[0]->str);
        const redisReply *keys = rep->element[1];
        for (size_t i = 0; i < keys->elements; i++)
            freeReplyObject(cmd(r, 2, (const char *[]){"DEL", keys->element[i]->str}));
        freeReplyObject(rep);
    } while (strcmp(cursor, "0") != 0);
}

static long long count_matching(struct sa_redis *r, const char *pattern)
{
    long long n = 0;
    char cursor[32] = "0";
    do {
        redisReply *rep =
            cmd(r, 6, (const char *[]){"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
        snprintf(cursor, sizeof cursor, "%s", rep->element[0]->str);
        n += (long long)rep->element[1]->elements;
        freeReplyObject(rep);
    } while (strcmp(cursor, "0") != 0);
    return n;
}

/* ---- the rate limiter ------------------------------------------------------------- */

struct lim {
    struct sa_redis *raw; /* for inspecting and cleaning up */
    struct sa_limiter *l;
    char prefix[40]; /* keys: PREFIX + the test's key */
};

static int lim_setup(void **state)
{
    const char *url = getenv("SA_TEST_REDIS_URL");
    if (!url || !*url) {
        *state = NULL;
        return 0;
    }
    static int n;
    struct lim *f = calloc(1, sizeof *f);
    struct sa_err err = {0};
    f->raw = open_pool(url, 1);
    if (sa_limiter_redis_new(open_pool(url, 4), true, &f->l, &err))
        return -1;
    snprintf(f->prefix, sizeof f->prefix, "t%ld.%d.", (long)getpid(), ++n);
    *state = f;
    return 0;
}

static int lim_teardown(void **state)
{
    struct lim *f = *state;
    if (!f)
        return 0;
    char pattern[80];
    snprintf(pattern, sizeof pattern, "ratelimit:{%s*", f->prefix);
    del_matching(f->raw, pattern);
    sa_limiter_close(f->l);
    sa_redis_close(f->raw);
    free(f);
    return 0;
}

static struct lim *lim_of(void **state)
{
    redis_url(); /* skips without Redis */
    assert_non_null(*state);
    return *state;
}

static struct sa_limit take(struct lim *f, const char *key, long per_minute, double now)
{
    char k[SA_LIMIT_KEY_MAX + 1];
    snprintf(k, sizeof k, "%s%s", f->prefix, key);
    struct sa_limit r;
    struct sa_err err = {0};
    if (sa_limiter_take(f->l, k, per_minute, now, &r, &err))
        fail_msg("take %s: %s", key, err.msg);
    return r;
}

static struct sa_limit hit(struct lim *f, const char *key, long limit, long window, double now)
{
    char k[SA_LIMIT_KEY_MAX + 1];
    snprintf(k, sizeof k, "%s%s", f->prefix, key);
    struct sa_limit r;
    struct sa_err err = {0};
    if (sa_limiter_hit(f->l, k, limit, window, now, &r, &err))
        fail_msg("hit %s: %s", key, err.msg);
    return r;
}

/* Every field of an answer, so a failure names the one that differs. */
#define EXPECT(r, allowed_, limit_, remaining_, reset_, retry_)                                    \
    do {                                                                                           \
        struct sa_limit r_ = (r);                                                                  \
        assert_int_equal(r_.allowed, (allowed_));                                                  \
        assert_int_equal(r_.limit, (limit_));                                                      \
        assert_int_equal(r_.remaining, (remaining_));                                              \
        assert_int_equal(r_.reset_seconds, (reset_));                                              \
        assert_int_equal(r_.retry_after, (retry_));                                                \
    } while (0)

/* 60 per minute: 60 at once, then one a second; the 61st waits 1 s. */
static void test_bucket_burst(void **state)
{
    struct lim *f = lim_of(state);
    assert_string_equal(f->l->ops->name, "redis");
    double t = 1000;
    for (long i = 1; i <= 60; i++)
        EXPECT(take(f, "key:a", 60, t), true, 60, 60 - i, i, 0);
    EXPECT(take(f, "key:a", 60, t), false, 60, 0, 60, 1);
    EXPECT(take(f, "key:a", 60, t), false, 60, 0, 60, 1); /* refusals take nothing */
    EXPECT(take(f, "key:a", 60, t + 0.5), false, 60, 0, 60, 1);
    EXPECT(take(f, "key:a", 60, t + 1), true, 60, 0, 60, 0);
    EXPECT(take(f, "key:a", 60, t + 1), false, 60, 0, 60, 1);
}

/* Slow and uneven rates: Retry-After rounded up, and waiting it is always enough (the
 * state survives the trip through Redis at full precision). */
static void test_bucket_retry_after(void **state)
{
    struct lim *f = lim_of(state);
    for (int i = 0; i < 6; i++)
        assert_true(take(f, "slow", 6, 0).allowed);
    EXPECT(take(f, "slow", 6, 0), false, 6, 0, 60, 10);
    EXPECT(take(f, "slow", 6, 9.99), false, 6, 0, 51, 1);
    EXPECT(take(f, "slow", 6, 10), true, 6, 0, 60, 0);
    for (int i = 0; i < 7; i++)
        assert_true(take(f, "odd", 7, 50).allowed);
    EXPECT(take(f, "odd", 7, 50), false, 7, 0, 60, 9);
    EXPECT(take(f, "odd", 7, 58), false, 7, 0, 52, 1);
    EXPECT(take(f, "odd", 7, 59), true, 7, 0, 60, 0);
    for (int i = 0; i < 11; i++)
        assert_true(take(f, "odd2", 11, 0).allowed);
    EXPECT(take(f, "odd2", 11, 60.0 / 11.0), true, 11, 0, 60, 0);
    EXPECT(take(f, "odd2", 11, 60.0 / 11.0 * 2.0), true, 11, 0, 60, 0);
    EXPECT(take(f, "odd2", 11, 60.0 / 11.0 * 2.0), false, 11, 0, 60, 6);
}

static void test_bucket_partial_refill(void **state)
{
    struct lim *f = lim_of(state);
    for (int i = 0; i < 60; i++)
        assert_true(take(f, "p", 60, 100).allowed);
    assert_false(take(f, "p", 60, 100).allowed);
    EXPECT(take(f, "p", 60, 130), true, 60, 29, 31, 0);
    for (int i = 0; i < 29; i++)
        assert_true(take(f, "p", 60, 130).allowed);
    EXPECT(take(f, "p", 60, 130), false, 60, 0, 60, 1);
    EXPECT(take(f, "p", 60, 132.5), true, 60, 1, 59, 0);
    EXPECT(take(f, "p", 60, 132.5), true, 60, 0, 60, 0);
    EXPECT(take(f, "p", 60, 132.5), false, 60, 0, 60, 1);
}

/* A long pause refills to the capacity and no further; a clock that steps back refills
 * nothing. */
static void test_bucket_full_refill(void **state)
{
    struct lim *f = lim_of(state);
    for (int i = 0; i < 60; i++)
        assert_true(take(f, "f", 60, 0).allowed);
    EXPECT(take(f, "f", 60, 100000), true, 60, 59, 1, 0);
    for (int i = 0; i < 59; i++)
        assert_true(take(f, "f", 60, 100000).allowed);
    assert_false(take(f, "f", 60, 100000).allowed);
    EXPECT(take(f, "f", 60, 50), false, 60, 0, 60, 1);
}

/* Hour windows aligned to multiples of 3600; refused hits change no later answer. */
static void test_window_boundary(void **state)
{
    struct lim *f = lim_of(state);
    double t = 3 * 3600 - 600;
    EXPECT(hit(f, "agent:bdr:key:1", 3, 3600, t), true, 3, 2, 600, 0);
    EXPECT(hit(f, "agent:bdr:key:1", 3, 3600, t + 10), true, 3, 1, 590, 0);
    EXPECT(hit(f, "agent:bdr:key:1", 3, 3600, t + 10), true, 3, 0, 590, 0);
    EXPECT(hit(f, "agent:bdr:key:1", 3, 3600, t + 10), false, 3, 0, 590, 590);
    EXPECT(hit(f, "agent:bdr:key:1", 3, 3600, 3 * 3600 - 0.5), false, 3, 0, 1, 1);
    EXPECT(hit(f, "agent:bdr:key:1", 3, 3600, 3 * 3600), true, 3, 2, 3600, 0);
    EXPECT(hit(f, "agent:bdr:key:1", 3, 3600, 3 * 3600 + 1), true, 3, 1, 3599, 0);
    for (int i = 0; i < 5; i++)
        assert_true(hit(f, "w1", 1, 60, 30).allowed == (i == 0));
    EXPECT(hit(f, "w1", 1, 60, 60), true, 1, 0, 60, 0);
    /* the original's key: ratelimit:{KEY}:3600:HOUR, expiring after the hour (+60 s) */
    char key[128];
    snprintf(key, sizeof key, "ratelimit:{%sagent:bdr:key:1}:3600:3", f->prefix);
    long long ttl = cmd_int(f->raw, 2, (const char *[]){"TTL", key});
    assert_in_range(ttl, 1, 3660);
}

/* Keys do not share counts, and take and hit under one key are two counters. */
static void test_keys_independent(void **state)
{
    struct lim *f = lim_of(state);
    for (int i = 0; i < 5; i++)
        assert_true(take(f, "key:a", 5, 0).allowed);
    assert_false(take(f, "key:a", 5, 0).allowed);
    EXPECT(take(f, "key:b", 5, 0), true, 5, 4, 12, 0);
    EXPECT(hit(f, "key:a", 2, 3600, 0), true, 2, 1, 3600, 0);
    EXPECT(hit(f, "key:b", 2, 3600, 0), true, 2, 1, 3600, 0);
    EXPECT(take(f, "key:a2", 5, 0), true, 5, 4, 12, 0);
    EXPECT(take(f, "key:", 5, 0), true, 5, 4, 12, 0);
    char pattern[80];
    snprintf(pattern, sizeof pattern, "ratelimit:{%s*", f->prefix);
    assert_int_equal(count_matching(f->raw, pattern), 6);
}

/* 0 is no limit: allowed, limit 0, nothing stored. */
static void test_no_limit(void **state)
{
    struct lim *f = lim_of(state);
    for (int i = 0; i < 100; i++) {
        EXPECT(take(f, "free", 0, 0), true, 0, 0, 0, 0);
        EXPECT(hit(f, "free", 0, 3600, 0), true, 0, 0, 0, 0);
    }
    char pattern[80];
    snprintf(pattern, sizeof pattern, "ratelimit:{%s*", f->prefix);
    assert_int_equal(count_matching(f->raw, pattern), 0);
}

static void expect_msg(const struct sa_err *err, const char *part)
{
    if (!strstr(err->msg, part))
        fail_msg("message \"%s\" lacks \"%s\"", err->msg, part);
}

static void test_bad_arguments(void **state)
{
    struct lim *f = lim_of(state);
    struct sa_limiter *l = f->l;
    struct sa_limit r;
    struct sa_err err = {0};
    char long_key[SA_LIMIT_KEY_MAX + 2];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    memcpy(long_key, f->prefix, strlen(f->prefix)); /* cleaned up with the rest */
    assert_int_equal(sa_limiter_take(l, NULL, 5, 0, &r, &err), SA_EINVAL);
    expect_msg(&err, "no key");
    assert_int_equal(sa_limiter_take(l, "", 5, 0, &r, &err), SA_EINVAL);
    expect_msg(&err, "empty key");
    assert_int_equal(sa_limiter_take(l, long_key, 5, 0, &r, &err), SA_EINVAL);
    expect_msg(&err, "longer than 256 bytes");
    long_key[SA_LIMIT_KEY_MAX] = '\0';
    assert_int_equal(sa_limiter_take(l, long_key, 5, 0, &r, &err), 0);
    assert_true(r.allowed);
    assert_int_equal(sa_limiter_take(l, "k", -1, 0, &r, &err), SA_EINVAL);
    expect_msg(&err, "-1 per minute: expected 0-1000000000");
    assert_int_equal(sa_limiter_take(l, "k", SA_LIMIT_MAX + 1, 0, &r, &err), SA_EINVAL);
    EXPECT(take(f, "k", SA_LIMIT_MAX, 0), true, SA_LIMIT_MAX, SA_LIMIT_MAX - 1, 1, 0);
    assert_int_equal(sa_limiter_take(l, "k", 5, NAN, &r, &err), SA_EINVAL);
    expect_msg(&err, "not a finite number");
    assert_int_equal(sa_limiter_hit(l, "k", 5, 0, 0, &r, &err), SA_EINVAL);
    expect_msg(&err, "window of 0 s: expected 1-1000000000");
    assert_int_equal(sa_limiter_hit(l, "k", -3, 60, 0, &r, &err), SA_EINVAL);
    expect_msg(&err, "limit -3: expected 0-1000000000");
    assert_int_equal(sa_limiter_hit(l, "k", 5, 60, INFINITY, &r, &err), SA_EINVAL);
    assert_false(r.allowed);
    assert_int_equal(r.limit, 0);
    assert_int_equal(sa_limiter_redis_failures(l), 0);
}

struct hammer {
    struct lim *f;
    pthread_barrier_t *go;
    long allowed;
    int failed;
};

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;
    char k[64];
    snprintf(k, sizeof k, "%sshared", h->f->prefix);
    pthread_barrier_wait(h->go);
    for (int i = 0; i < 500; i++) {
        struct sa_limit r;
        struct sa_err err = {0};
        if (sa_limiter_take(h->f->l, k, 1000, 42, &r, &err))
            h->failed++;
        h->allowed += r.allowed;
    }
    return NULL;
}

/* Four threads (two limiters would do the same: the state is in Redis), 2,000 takes on
 * one key of capacity 1,000, time frozen: exactly 1,000 pass. */
static void test_threads_exact(void **state)
{
    struct lim *f = lim_of(state);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 4);
    struct hammer h[4];
    pthread_t tid[4];
    for (int i = 0; i < 4; i++) {
        h[i] = (struct hammer){.f = f, .go = &go};
        assert_int_equal(pthread_create(&tid[i], NULL, hammer_run, &h[i]), 0);
    }
    long total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(tid[i], NULL);
        assert_int_equal(h[i].failed, 0);
        total += h[i].allowed;
    }
    assert_int_equal(total, 1000);
    EXPECT(take(f, "shared", 1000, 42), false, 1000, 0, 60, 1);
    assert_int_equal(sa_limiter_redis_failures(f->l), 0);
    pthread_barrier_destroy(&go);
}

/* ---- the checkpoint saver --------------------------------------------------------- */

struct sv {
    struct sa_redis *raw;
    struct graph_saver *s;
    char thread[64];
};

static int sv_setup(void **state)
{
    const char *url = getenv("SA_TEST_REDIS_URL");
    *state = NULL;
    if (!url || !*url)
        return 0;
    static int n;
    struct sv *f = calloc(1, sizeof *f);
    struct sa_err err = {0};
    f->raw = open_pool(url, 1);
    if (sa_redis_saver_new(open_pool(url, 2), true, 100, &f->s, &err))
        return -1;
    snprintf(f->thread, sizeof f->thread, "test_redis:%ld:%d", (long)getpid(), ++n);
    *state = f;
    return 0;
}

static int sv_teardown(void **state)
{
    struct sv *f = *state;
    if (!f)
        return 0;
    struct sa_err err = {0};
    assert_int_equal(graph_saver_delete_thread(f->s, f->thread, &err), 0);
    graph_saver_free(f->s);
    sa_redis_close(f->raw);
    free(f);
    return 0;
}

static struct sv *sv_of(void **state)
{
    redis_url();
    assert_non_null(*state);
    return *state;
}

static void put(struct sv *f, const char *id, const char *parent, const char *blob,
                double expires_at)
{
    struct graph_record r = {.step = 1,
                             .full = true,
                             .blob = (char *)blob,
                             .blob_len = strlen(blob),
                             .expires_at = expires_at};
    snprintf(r.id, sizeof r.id, "%s", id);
    snprintf(r.parent_id, sizeof r.parent_id, "%s", parent);
    struct sa_err err = {0};
    if (graph_saver_put(f->s, f->thread, &r, &err))
        fail_msg("put %s: %s", id, err.msg);
}

static long long key_ttl(struct sv *f, const char *suffix)
{
    char key[160];
    snprintf(key, sizeof key, "agent:checkpoint:{%s}:%s", f->thread, suffix);
    return cmd_int(f->raw, 2, (const char *[]){"TTL", key});
}

/* Every op: latest and by id, history newest first with a limit, pending writes (only on
 * a record that exists), prune to one, byte counts, delete. */
static void test_saver_ops(void **state)
{
    struct sv *f = sv_of(state);
    struct sa_err err = {0};
    assert_string_equal(graph_saver_name(f->s), "redis");
    struct graph_record got;
    assert_int_equal(graph_saver_get(f->s, f->thread, NULL, &got, &err), SA_ENOTFOUND);
    put(f, "0001", "", "{\"a\":1}", 5);
    put(f, "0002", "0001", "{\"a\":2}", 5);
    put(f, "0003", "0002", "{\"a\":3}", 5);
    assert_int_equal(graph_saver_get(f->s, f->thread, NULL, &got, &err), 0);
    assert_string_equal(got.id, "0003");
    assert_string_equal(got.parent_id, "0002");
    assert_int_equal(got.step, 1);
    assert_true(got.full);
    assert_true(got.expires_at == 5);
    assert_string_equal(got.blob, "{\"a\":3}");
    assert_null(got.writes);
    graph_record_clear(&got);
    assert_int_equal(graph_saver_get(f->s, f->thread, "0001", &got, &err), 0);
    assert_string_equal(got.parent_id, "");
    assert_string_equal(got.blob, "{\"a\":1}");
    graph_record_clear(&got);
    assert_int_equal(graph_saver_get(f->s, f->thread, "0009", &got, &err), SA_ENOTFOUND);
    char(*ids)[GRAPH_ID_LEN] = NULL;
    int n = 0;
    assert_int_equal(graph_saver_list(f->s, f->thread, 0, &ids, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(ids[0], "0003");
    assert_string_equal(ids[2], "0001");
    free(ids);
    assert_int_equal(graph_saver_list(f->s, f->thread, 2, &ids, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(ids[1], "0002");
    free(ids);
    assert_int_equal(graph_saver_put_writes(f->s, f->thread, "0002", "[1,2]", 5, &err), 0);
    assert_int_equal(graph_saver_put_writes(f->s, f->thread, "0404", "[]", 2, &err), SA_ENOTFOUND);
    assert_int_equal(graph_saver_get(f->s, f->thread, "0002", &got, &err), 0);
    assert_string_equal(got.writes, "[1,2]");
    assert_int_equal(got.writes_len, 5);
    graph_record_clear(&got);
    assert_int_equal(graph_saver_put_writes(f->s, f->thread, "0002", NULL, 0, &err), 0);
    assert_int_equal(graph_saver_get(f->s, f->thread, "0002", &got, &err), 0);
    assert_null(got.writes);
    graph_record_clear(&got);
    size_t bytes = 0;
    int recs = 0;
    assert_int_equal(graph_saver_thread_bytes(f->s, f->thread, &bytes, &recs, &err), 0);
    assert_int_equal(recs, 3);
    assert_true(bytes > 3 * 7);
    assert_int_equal(graph_saver_delete_except(f->s, f->thread, "0404", &err), SA_ENOTFOUND);
    assert_int_equal(graph_saver_delete_except(f->s, f->thread, "0002", &err), 0);
    assert_int_equal(graph_saver_list(f->s, f->thread, 0, &ids, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], "0002");
    free(ids);
    assert_int_equal(graph_saver_get(f->s, f->thread, NULL, &got, &err), 0);
    assert_string_equal(got.id, "0002");
    graph_record_clear(&got);
    assert_int_equal(key_ttl(f, "rec") > 0, 1); /* pruning kept the TTL */
    int swept = -1;
    assert_int_equal(graph_saver_sweep(f->s, 1e12, &swept, &err), 0);
    assert_int_equal(swept, 0); /* Redis expires keys itself */
    assert_int_equal(graph_saver_delete_thread(f->s, f->thread, &err), 0);
    assert_int_equal(graph_saver_get(f->s, f->thread, NULL, &got, &err), SA_ENOTFOUND);
    assert_int_equal(key_ttl(f, "rec"), -2); /* gone */
}

/* The TTL rule: each put gives the thread's three keys CHECKPOINT_TTL_SECONDS (100 here),
 * whatever the record's own expiry; hold (a run stopped waiting on a person) makes them
 * persistent, pending writes leave that alone, and the next put (the resumed run) gives
 * them a TTL again. */
static void test_saver_ttl_and_persist(void **state)
{
    struct sv *f = sv_of(state);
    const char *keys[] = {"latest", "index", "rec"};
    put(f, "0001", "", "{}", 1e9);
    for (int i = 0; i < 3; i++)
        assert_in_range(key_ttl(f, keys[i]), 1, 100);
    put(f, "0002", "0001", "{}", 0);
    for (int i = 0; i < 3; i++)
        assert_in_range(key_ttl(f, keys[i]), 1, 100);
    struct sa_err err = {0};
    assert_int_equal(graph_saver_hold(f->s, f->thread, &err), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(key_ttl(f, keys[i]), -1);
    assert_int_equal(graph_saver_put_writes(f->s, f->thread, "0002", "[]", 2, &err), 0);
    assert_int_equal(key_ttl(f, "rec"), -1); /* writes do not change the rule */
    put(f, "0003", "0002", "{}", 0);
    for (int i = 0; i < 3; i++)
        assert_in_range(key_ttl(f, keys[i]), 1, 100);
}

/* A large blob is stored zstd-compressed (header byte 1) and reads back byte for byte;
 * a blob the engine compressed already is stored as it is (header byte 0). */
static void test_saver_zstd_round_trip(void **state)
{
    struct sv *f = sv_of(state);
    size_t n = 200000;
    char *big = malloc(n + 1);
    assert_non_null(big);
    static const char text[] = "{\"lead\": \"the quick brown fox\", ";
    for (size_t i = 0; i < n; i++)
        big[i] = (char)(text[i % (sizeof text - 1)] + (i % 1000 == 0));
    big[n] = '\0';
    put(f, "0001", "", big, 1e9);
    struct graph_record got;
    struct sa_err err = {0};
    assert_int_equal(graph_saver_put_writes(f->s, f->thread, "0001", big, n, &err), 0);
    assert_int_equal(graph_saver_get(f->s, f->thread, "0001", &got, &err), 0);
    assert_int_equal(got.blob_len, n);
    assert_memory_equal(got.blob, big, n);
    assert_int_equal(got.writes_len, n);
    assert_memory_equal(got.writes, big, n);
    graph_record_clear(&got);
    char key[160];
    snprintf(key, sizeof key, "agent:checkpoint:{%s}:rec", f->thread);
    long long stored = cmd_int(f->raw, 3, (const char *[]){"HSTRLEN", key, "0001"});
    if (stored <= 1 || stored > (long long)n / 10)
        fail_msg("%zu bytes stored as %lld: not compressed", n, stored);
    redisReply *rep = cmd(f->raw, 3, (const char *[]){"HGET", key, "0001"});
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    assert_int_equal(rep->str[0], 1);
    freeReplyObject(rep);
    /* already a zstd frame: stored with header byte 0, returned unchanged */
    const char frame[] = "\x28\xB5\x2F\xFD rest of a frame, long enough to pass the threshold "
                         "of two hundred and fifty-six bytes that the saver compresses above, "
                         "so that only the magic number keeps it from being compressed again "
                         "......................................................................";
    put(f, "0002", "0001", frame, 1e9);
    rep = cmd(f->raw, 3, (const char *[]){"HGET", key, "0002"});
    assert_int_equal(rep->str[0], 0);
    assert_int_equal(rep->len, strlen(frame) + 1);
    freeReplyObject(rep);
    assert_int_equal(graph_saver_get(f->s, f->thread, "0002", &got, &err), 0);
    assert_string_equal(got.blob, frame);
    graph_record_clear(&got);
    free(big);
}

/* The registry: redis:// opens a saver, and is refused as a store. */
static void test_registry(void **state)
{
    (void)state;
    const char *url = redis_url();
    struct graph_saver *s = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_saver_open(url, &s, &err), 0);
    assert_string_equal(graph_saver_name(s), "redis");
    graph_saver_free(s);
    struct sa_store *st = NULL;
    assert_int_equal(sa_store_open(url, 1, &st, &err), SA_ECONFIG);
    assert_null(st);
    expect_msg(&err, "redis://... is not a store; set DATABASE_URL to sqlite:// or postgresql://");
    /* a malformed URL never echoes its password */
    struct sa_redis *r = NULL;
    assert_int_equal(sa_redis_open("redis://:s3cret@host:99999", 100, 1, &r, &err), SA_ECONFIG);
    assert_null(strstr(err.msg, "s3cret"));
    assert_int_equal(sa_redis_open("http://host", 100, 1, &r, &err), SA_ECONFIG);
}

/* ---- the access service ----------------------------------------------------------- */

/* With REDIS_URL, two access services (two instances) share the limits: 3 per minute
 * means 3 across both. */
static void test_access_shares_limits(void **state)
{
    (void)state;
    const char *url = redis_url();
    struct sa_config cfg;
    struct sa_err err = {0};
    assert_int_equal(sa_config_from_env(&cfg, &err), 0);
    cfg.redis_url = url;
    cfg.rate_limit_per_minute = 3;
    cfg.agent_rate_limits = "2";
    struct sa_store *st = NULL;
    struct sa_access *a1 = NULL, *a2 = NULL;
    assert_int_equal(sa_store_open("sqlite::memory:", 1, &st, &err), 0);
    assert_int_equal(sa_access_open(&cfg, st, &a1, &err), 0);
    assert_int_equal(sa_access_open(&cfg, st, &a2, &err), 0);
    struct sa_principal p = {.kind = SA_PRINCIPAL_KEY};
    snprintf(p.id, sizeof p.id, "key:test_redis.%ld", (long)getpid());
    struct sa_limit l;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sa_access_limit_request(i % 2 ? a2 : a1, &p, 500, &l, &err), 0);
        assert_true(l.allowed);
        assert_int_equal(l.remaining, 2 - i);
    }
    assert_int_equal(sa_access_limit_request(a2, &p, 500, &l, &err), 0);
    assert_false(l.allowed);
    assert_int_equal(l.retry_after, 20);
    assert_int_equal(sa_access_limit_agent(a1, &p, "bdr", 500, &l, &err), 0);
    assert_int_equal(sa_access_limit_agent(a2, &p, "bdr", 500, &l, &err), 0);
    assert_int_equal(l.remaining, 0);
    assert_int_equal(sa_access_limit_agent(a1, &p, "bdr", 500, &l, &err), 0);
    assert_false(l.allowed);
    assert_int_equal(sa_access_limiter_failures(a1), 0);
    sa_access_close(a1);
    sa_access_close(a2);
    sa_store_close(st);
    struct sa_redis *raw = open_pool(url, 1);
    char pattern[96];
    snprintf(pattern, sizeof pattern, "ratelimit:{%s*", p.id);
    del_matching(raw, pattern);
    sa_redis_close(raw);
}

/* ---- reconnect -------------------------------------------------------------------- */

/* A free loopback port: bound and released (the server binds it right after). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Starts redis-server on port (in the foreground of a child) and waits for its PING. */
static pid_t start_redis(int port)
{
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) { /* its start-up banner would drown the test's output */
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
        }
        execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", "/tmp", "--loglevel", "warning", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        redisContext *c = redisConnect("127.0.0.1", port);
        redisReply *rep = c && !c->err ? redisCommand(c, "PING") : NULL;
        bool up = rep && rep->type == REDIS_REPLY_STATUS;
        if (rep)
            freeReplyObject(rep);
        if (c)
            redisFree(c);
        if (up)
            return pid;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            fail_msg("redis-server exited with %d", WEXITSTATUS(status));
        usleep(25 * 1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg("redis-server did not answer on port %d", port);
    return -1;
}

static void stop_redis(pid_t pid)
{
    kill(pid, SIGKILL); /* as a crash: no goodbye to the clients */
    waitpid(pid, NULL, 0);
}

/* Redis goes away: calls fail with our words (the limiter lets them through and counts
 * it); Redis comes back on the same port: the same pool, saver and limiter work again
 * without being reopened (the scripts loaded again on NOSCRIPT). A Redis that hangs
 * (SIGSTOP) fails the call at the timeout and leaves no stale reply behind. */
static void test_reconnect_after_restart(void **state)
{
    (void)state;
    redis_url(); /* part of the backends suite */
    if (system("command -v redis-server >/dev/null 2>&1") != 0) {
        print_message("skipped: redis-server is not installed\n");
        skip();
    }
    int port = free_port();
    pid_t pid = start_redis(port);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    struct sa_redis *r = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_redis_open(url, 1000, 2, &r, &err), 0);
    struct graph_saver *s = NULL;
    struct sa_limiter *l = NULL;
    assert_int_equal(sa_redis_saver_new(r, false, 60, &s, &err), 0);
    assert_int_equal(sa_limiter_redis_new(r, false, &l, &err), 0);
    double ms = -1;
    assert_int_equal(sa_redis_ping(r, &ms, &err), 0);
    assert_true(ms >= 0);
    struct graph_record rec = {.id = "0001", .blob = "{}", .blob_len = 2, .expires_at = 1};
    assert_int_equal(graph_saver_put(s, "t", &rec, &err), 0);
    assert_int_equal(graph_saver_put_writes(s, "t", "0001", "[]", 2, &err), 0); /* a script */
    struct sa_limit lim;
    assert_int_equal(sa_limiter_take(l, "k", 10, 0, &lim, &err), 0);
    assert_int_equal(lim.remaining, 9);

    stop_redis(pid);
    assert_int_equal(sa_redis_ping(r, &ms, &err), SA_ESTORE);
    expect_msg(&err, "Redis");
    assert_null(strstr(err.msg, "Connection refused")); /* Redis's/the OS's words: logged */
    assert_int_equal(graph_saver_put(s, "t", &rec, &err), SA_ESTORE);
    struct graph_record got;
    assert_int_equal(graph_saver_get(s, "t", NULL, &got, &err), SA_ESTORE);
    assert_int_equal(sa_limiter_take(l, "k", 10, 0, &lim, &err), 0); /* fails open */
    assert_true(lim.allowed);
    assert_int_equal(lim.limit, 0);
    assert_int_equal(sa_limiter_hit(l, "k", 10, 3600, 0, &lim, &err), 0);
    assert_true(lim.allowed);
    assert_int_equal(sa_limiter_redis_failures(l), 2);

    pid = start_redis(port); /* empty: the data went with the old process */
    assert_int_equal(sa_redis_ping(r, &ms, &err), 0);
    assert_int_equal(graph_saver_put(s, "t", &rec, &err), 0);
    assert_int_equal(graph_saver_put_writes(s, "t", "0001", "[1]", 3, &err), 0); /* NOSCRIPT */
    assert_int_equal(graph_saver_get(s, "t", NULL, &got, &err), 0);
    assert_string_equal(got.writes, "[1]");
    graph_record_clear(&got);
    assert_int_equal(sa_limiter_take(l, "k", 10, 0, &lim, &err), 0);
    assert_int_equal(lim.limit, 10);
    assert_int_equal(lim.remaining, 9);
    assert_int_equal(sa_limiter_redis_failures(l), 2);

    /* a Redis that hangs: the call fails after the timeout; the late answer must not be
     * read as the next call's (the connection that timed out is dropped) */
    assert_int_equal(graph_saver_put(s, "t2", &rec, &err), 0);
    kill(pid, SIGSTOP);
    assert_int_equal(sa_redis_ping(r, &ms, &err), SA_ESTORE);
    kill(pid, SIGCONT);
    assert_int_equal(graph_saver_get(s, "t2", "0001", &got, &err), 0);
    assert_string_equal(got.blob, "{}");
    graph_record_clear(&got);
    char(*ids)[GRAPH_ID_LEN] = NULL;
    int n = 0;
    assert_int_equal(graph_saver_list(s, "t2", 0, &ids, &n, &err), 0);
    assert_int_equal(n, 1);
    free(ids);

    /* and once more, now with idle pooled connections that the restart broke */
    stop_redis(pid);
    pid = start_redis(port);
    assert_int_equal(sa_redis_ping(r, &ms, &err), 0);
    assert_int_equal(sa_limiter_take(l, "k", 10, 0, &lim, &err), 0);
    assert_int_equal(lim.limit, 10);
    assert_int_equal(sa_limiter_redis_failures(l), 2);
    sa_limiter_close(l);
    graph_saver_free(s);
    sa_redis_close(r);
    stop_redis(pid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bucket_burst, lim_setup, lim_teardown),
        cmocka_unit_test_setup_teardown(test_bucket_retry_after, lim_setup, lim_teardown),
        cmocka_unit_test_setup_teardown(test_bucket_partial_refill, lim_setup, lim_teardown),
        cmocka_unit_test_setup_teardown(test_bucket_full_refill, lim_setup, lim_teardown),
        cmocka_unit_test_setup_teardown(test_window_boundary, lim_setup, lim_teardown),
        cmocka_unit_test_setup_teardown(test_keys_independent, lim_setup, lim_teardown),
        cmocka_unit_test_setup_teardown(test_no_limit, lim_setup, lim_teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, lim_setup, lim_teardown),
        cmocka_unit_test_setup_teardown(test_threads_exact, lim_setup, lim_teardown),
        cmocka_unit_test_setup_teardown(test_saver_ops, sv_setup, sv_teardown),
        cmocka_unit_test_setup_teardown(test_saver_ttl_and_persist, sv_setup, sv_teardown),
        cmocka_unit_test_setup_teardown(test_saver_zstd_round_trip, sv_setup, sv_teardown),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_access_shares_limits),
        cmocka_unit_test(test_reconnect_after_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
