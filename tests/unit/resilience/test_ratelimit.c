/* Pins the rate limiter on a fake clock: a bucket's burst, refusal and Retry-After, its
 * partial and full refill; a window's reset at its aligned boundary; independent keys; no
 * limit; bad arguments; the memory bound (reclaim before evict, LRU eviction, lazy
 * draining); exact admission under four threads; and AGENT_RATE_LIMIT_PER_HOUR's parser. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "resilience/ratelimit.h"

static struct sa_limit take(struct sa_limiter *l, const char *key, long per_minute, double now)
{
    struct sa_limit r;
    struct sa_err err = {0};
    int rc = sa_limiter_take(l, key, per_minute, now, &r, &err);
    if (rc)
        fail_msg("take %s: %s", key, err.msg);
    return r;
}

static struct sa_limit hit(struct sa_limiter *l, const char *key, long limit, long window,
                           double now)
{
    struct sa_limit r;
    struct sa_err err = {0};
    int rc = sa_limiter_hit(l, key, limit, window, now, &r, &err);
    if (rc)
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

static struct sa_limiter *open_limiter(size_t max_keys)
{
    struct sa_limiter *l = NULL;
    struct sa_err err = {0};
    if (sa_limiter_memory_open(max_keys, &l, &err))
        fail_msg("open: %s", err.msg);
    assert_string_equal(l->ops->name, "memory");
    return l;
}

/* 60 per minute: 60 at once, then one a second; the 61st waits 1 s. */
static void test_bucket_burst(void **state)
{
    (void)state;
    struct sa_limiter *l = open_limiter(1024);
    double t = 1000;
    for (long i = 1; i <= 60; i++)
        EXPECT(take(l, "key:a", 60, t), true, 60, 60 - i, i, 0);
    EXPECT(take(l, "key:a", 60, t), false, 60, 0, 60, 1);
    EXPECT(take(l, "key:a", 60, t), false, 60, 0, 60, 1); /* refusals take nothing */
    EXPECT(take(l, "key:a", 60, t + 0.5), false, 60, 0, 60, 1);
    EXPECT(take(l, "key:a", 60, t + 1), true, 60, 0, 60, 0);
    EXPECT(take(l, "key:a", 60, t + 1), false, 60, 0, 60, 1);
    sa_limiter_close(l);
}

/* Slow and uneven rates: Retry-After is rounded up, and waiting it is always enough. */
static void test_bucket_retry_after(void **state)
{
    (void)state;
    struct sa_limiter *l = open_limiter(1024);
    for (int i = 0; i < 6; i++)
        assert_true(take(l, "slow", 6, 0).allowed);
    EXPECT(take(l, "slow", 6, 0), false, 6, 0, 60, 10); /* one token per 10 s */
    EXPECT(take(l, "slow", 6, 9.99), false, 6, 0, 51, 1);
    EXPECT(take(l, "slow", 6, 10), true, 6, 0, 60, 0);
    /* 7 per minute: a token every 8.571 s, advertised as 9. */
    for (int i = 0; i < 7; i++)
        assert_true(take(l, "odd", 7, 50).allowed);
    EXPECT(take(l, "odd", 7, 50), false, 7, 0, 60, 9);
    EXPECT(take(l, "odd", 7, 58), false, 7, 0, 52, 1);
    EXPECT(take(l, "odd", 7, 59), true, 7, 0, 60, 0); /* 50 + 9 */
    /* Exactly one token's time after an empty bucket is enough, though the refill
     * computed in doubles falls a hair short of one token: (60/11) * 11 / 60 < 1. */
    for (int i = 0; i < 11; i++)
        assert_true(take(l, "odd2", 11, 0).allowed);
    EXPECT(take(l, "odd2", 11, 60.0 / 11.0), true, 11, 0, 60, 0);
    EXPECT(take(l, "odd2", 11, 60.0 / 11.0 * 2.0), true, 11, 0, 60, 0);
    EXPECT(take(l, "odd2", 11, 60.0 / 11.0 * 2.0), false, 11, 0, 60, 6);
    sa_limiter_close(l);
}

static void test_bucket_partial_refill(void **state)
{
    (void)state;
    struct sa_limiter *l = open_limiter(1024);
    for (int i = 0; i < 60; i++)
        assert_true(take(l, "p", 60, 100).allowed);
    assert_false(take(l, "p", 60, 100).allowed);
    /* 30 s later: 30 tokens, 31 s to be full after this one. */
    EXPECT(take(l, "p", 60, 130), true, 60, 29, 31, 0);
    for (int i = 0; i < 29; i++)
        assert_true(take(l, "p", 60, 130).allowed);
    EXPECT(take(l, "p", 60, 130), false, 60, 0, 60, 1);
    /* 2.5 s: 2.5 tokens, 2 whole ones. */
    EXPECT(take(l, "p", 60, 132.5), true, 60, 1, 59, 0);
    EXPECT(take(l, "p", 60, 132.5), true, 60, 0, 60, 0);
    EXPECT(take(l, "p", 60, 132.5), false, 60, 0, 60, 1);
    sa_limiter_close(l);
}

/* A long pause refills to the capacity and no further. */
static void test_bucket_full_refill(void **state)
{
    (void)state;
    struct sa_limiter *l = open_limiter(1024);
    for (int i = 0; i < 60; i++)
        assert_true(take(l, "f", 60, 0).allowed);
    EXPECT(take(l, "f", 60, 100000), true, 60, 59, 1, 0);
    for (int i = 0; i < 59; i++)
        assert_true(take(l, "f", 60, 100000).allowed);
    assert_false(take(l, "f", 60, 100000).allowed);
    /* A clock that steps back counts as no time passed: nothing refills. */
    EXPECT(take(l, "f", 60, 50), false, 60, 0, 60, 1);
    sa_limiter_close(l);
}

/* Hour windows are aligned to multiples of 3600: the count resets at the boundary, not
 * 3600 s after the first hit. */
static void test_window_boundary(void **state)
{
    (void)state;
    struct sa_limiter *l = open_limiter(1024);
    double t = 3 * 3600 - 600; /* 600 s before the third hour ends */
    EXPECT(hit(l, "agent:bdr:key:1", 3, 3600, t), true, 3, 2, 600, 0);
    EXPECT(hit(l, "agent:bdr:key:1", 3, 3600, t + 10), true, 3, 1, 590, 0);
    EXPECT(hit(l, "agent:bdr:key:1", 3, 3600, t + 10), true, 3, 0, 590, 0);
    EXPECT(hit(l, "agent:bdr:key:1", 3, 3600, t + 10), false, 3, 0, 590, 590);
    EXPECT(hit(l, "agent:bdr:key:1", 3, 3600, 3 * 3600 - 0.5), false, 3, 0, 1, 1);
    EXPECT(hit(l, "agent:bdr:key:1", 3, 3600, 3 * 3600), true, 3, 2, 3600, 0);
    EXPECT(hit(l, "agent:bdr:key:1", 3, 3600, 3 * 3600 + 1), true, 3, 1, 3599, 0);
    /* Refused hits are not counted: one allowed in the next window after many refusals. */
    for (int i = 0; i < 5; i++)
        assert_true(hit(l, "w1", 1, 60, 30).allowed == (i == 0));
    EXPECT(hit(l, "w1", 1, 60, 60), true, 1, 0, 60, 0);
    sa_limiter_close(l);
}

/* Keys do not share counts, and take and hit under one key are two counters. */
static void test_keys_independent(void **state)
{
    (void)state;
    struct sa_limiter *l = open_limiter(1024);
    for (int i = 0; i < 5; i++)
        assert_true(take(l, "key:a", 5, 0).allowed);
    assert_false(take(l, "key:a", 5, 0).allowed);
    EXPECT(take(l, "key:b", 5, 0), true, 5, 4, 12, 0);
    EXPECT(hit(l, "key:a", 2, 3600, 0), true, 2, 1, 3600, 0);
    EXPECT(hit(l, "key:b", 2, 3600, 0), true, 2, 1, 3600, 0);
    /* Keys that differ in one byte, or are prefixes of each other. */
    assert_true(take(l, "key:a2", 5, 0).allowed);
    assert_true(take(l, "key:", 5, 0).allowed);
    assert_int_equal(sa_limiter_memory_count(l), 6);
    sa_limiter_close(l);
}

/* 0 is no limit: allowed, limit 0 (no headers), nothing stored. */
static void test_no_limit(void **state)
{
    (void)state;
    struct sa_limiter *l = open_limiter(1024);
    for (int i = 0; i < 1000; i++) {
        EXPECT(take(l, "free", 0, 0), true, 0, 0, 0, 0);
        EXPECT(hit(l, "free", 0, 3600, 0), true, 0, 0, 0, 0);
    }
    assert_int_equal(sa_limiter_memory_count(l), 0);
    sa_limiter_close(l);
}

static void expect_msg(const struct sa_err *err, const char *part)
{
    if (!strstr(err->msg, part))
        fail_msg("message \"%s\" lacks \"%s\"", err->msg, part);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct sa_limiter *l = open_limiter(1024);
    struct sa_limit r;
    struct sa_err err = {0};
    char long_key[SA_LIMIT_KEY_MAX + 2];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    assert_int_equal(sa_limiter_take(l, NULL, 5, 0, &r, &err), SA_EINVAL);
    expect_msg(&err, "no key");
    assert_int_equal(sa_limiter_take(l, "", 5, 0, &r, &err), SA_EINVAL);
    expect_msg(&err, "empty key");
    assert_int_equal(sa_limiter_take(l, long_key, 5, 0, &r, &err), SA_EINVAL);
    expect_msg(&err, "longer than 256 bytes");
    long_key[SA_LIMIT_KEY_MAX] = '\0'; /* exactly the maximum is fine */
    assert_int_equal(sa_limiter_take(l, long_key, 5, 0, &r, &err), 0);
    assert_int_equal(sa_limiter_take(l, "k", -1, 0, &r, &err), SA_EINVAL);
    expect_msg(&err, "-1 per minute: expected 0-1000000000");
    assert_int_equal(sa_limiter_take(l, "k", SA_LIMIT_MAX + 1, 0, &r, &err), SA_EINVAL);
    expect_msg(&err, "1000000001 per minute");
    EXPECT(take(l, "k", SA_LIMIT_MAX, 0), true, SA_LIMIT_MAX, SA_LIMIT_MAX - 1, 1, 0);
    assert_int_equal(sa_limiter_take(l, "k", 5, NAN, &r, &err), SA_EINVAL);
    expect_msg(&err, "not a finite number");
    assert_int_equal(sa_limiter_hit(l, "k", 5, 0, 0, &r, &err), SA_EINVAL);
    expect_msg(&err, "window of 0 s: expected 1-1000000000");
    assert_int_equal(sa_limiter_hit(l, "k", 5, SA_LIMIT_MAX + 1, 0, &r, &err), SA_EINVAL);
    expect_msg(&err, "window of 1000000001 s");
    assert_int_equal(sa_limiter_hit(l, "k", -3, 60, 0, &r, &err), SA_EINVAL);
    expect_msg(&err, "limit -3: expected 0-1000000000");
    assert_int_equal(sa_limiter_hit(l, "k", 5, 60, INFINITY, &r, &err), SA_EINVAL);
    assert_false(r.allowed); /* cleared, not a stale answer */
    assert_int_equal(r.limit, 0);
    assert_int_equal(sa_limiter_memory_count(l), 2);
    sa_limiter_close(l);
    struct sa_limiter *none = l;
    assert_int_equal(sa_limiter_memory_open(0, &none, &err), SA_EINVAL);
    assert_null(none);
    expect_msg(&err, "0 keys: expected 1-16777216");
    sa_limiter_close(NULL);
}

/* One shard of 8 (fewer than 32 keys): a new key at a full shard first frees an entry
 * that has nothing to remember, and only then evicts the least recently used one. */
static void test_reclaim_before_evict(void **state)
{
    (void)state;
    struct sa_limiter *l = open_limiter(8);
    char key[16];
    EXPECT(take(l, "k1", 60, 0), true, 60, 59, 1, 0);       /* the least recently used */
    EXPECT(take(l, "k0", 6000, 0), true, 6000, 5999, 1, 0); /* full again at 0.01 s */
    for (int i = 2; i < 8; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert_true(take(l, key, 60, 0).allowed);
    }
    assert_int_equal(sa_limiter_memory_count(l), 8);
    assert_true(take(l, "k8", 60, 0.5).allowed); /* frees k0, not k1 */
    assert_int_equal(sa_limiter_memory_count(l), 8);
    EXPECT(take(l, "k1", 60, 0.5), true, 60, 58, 2, 0); /* kept: 59.5 - 1 */
    assert_true(take(l, "k9", 60, 0.5).allowed);        /* nothing free: evicts k2 */
    assert_int_equal(sa_limiter_memory_count(l), 8);
    EXPECT(take(l, "k2", 60, 0.5), true, 60, 59, 1, 0); /* forgotten: starts full */
    EXPECT(take(l, "k9", 60, 0.5), true, 60, 58, 2, 0); /* the newest kept its count */
    sa_limiter_close(l);
}

/* Entries whose bucket is full or whose window ended are freed by later calls. */
static void test_lazy_reclaim(void **state)
{
    (void)state;
    struct sa_limiter *l = open_limiter(8);
    char key[16];
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof key, "b%d", i);
        assert_true(take(l, key, 60, 0).allowed);
        snprintf(key, sizeof key, "w%d", i);
        assert_true(hit(l, key, 5, 60, 0).allowed);
    }
    assert_int_equal(sa_limiter_memory_count(l), 8);
    for (int i = 0; i < 5; i++)
        assert_true(take(l, "x", 60, 1000).allowed);
    assert_int_equal(sa_limiter_memory_count(l), 1); /* x alone */
    /* A window entry in its window is kept; one whose window ended goes. */
    assert_true(hit(l, "w", 5, 3600, 3600).allowed);
    assert_true(take(l, "x", 60, 4000).allowed);
    assert_int_equal(sa_limiter_memory_count(l), 2);
    assert_true(take(l, "x", 60, 7200).allowed);
    assert_int_equal(sa_limiter_memory_count(l), 1);
    sa_limiter_close(l);
}

/* Many more keys than room, time frozen (nothing reclaimable): the count never exceeds
 * max_keys, a key used all along keeps its count, the oldest is forgotten. */
static void test_eviction_bound(void **state)
{
    (void)state;
    struct sa_limiter *l = open_limiter(1024);
    char key[32];
    EXPECT(take(l, "cold", 100, 0), true, 100, 99, 1, 0);
    long hot = 0;
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "key:%d", i);
        assert_true(take(l, key, 100, 0).allowed);
        if (i % 8 == 0) {
            assert_true(hit(l, "hot", 100000, 3600, 0).allowed);
            hot++;
        }
        if (i % 1000 == 999)
            assert_in_range(sa_limiter_memory_count(l), 0, 1024);
    }
    assert_int_equal(sa_limiter_memory_count(l), 1024); /* 64 shards of 16, all full */
    EXPECT(hit(l, "hot", 100000, 3600, 0), true, 100000, 100000 - hot - 1, 3600, 0);
    EXPECT(take(l, "key:19999", 100, 0), true, 100, 98, 2, 0); /* recent: kept */
    EXPECT(take(l, "cold", 100, 0), true, 100, 99, 1, 0);      /* evicted: starts full */
    sa_limiter_close(l);
}

struct hammer {
    struct sa_limiter *l;
    pthread_barrier_t *go;
    long allowed;
    int failed;
};

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;
    pthread_barrier_wait(h->go);
    for (int i = 0; i < 1000; i++) {
        struct sa_limit r;
        struct sa_err err = {0};
        if (sa_limiter_take(h->l, "shared", 1000, 42, &r, &err))
            h->failed++;
        h->allowed += r.allowed;
    }
    return NULL;
}

/* Four threads, 4,000 takes on one key of capacity 1,000, time frozen: exactly 1,000 pass. */
static void test_threads_exact(void **state)
{
    (void)state;
    struct sa_limiter *l = open_limiter(1024);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 4);
    struct hammer h[4];
    pthread_t tid[4];
    for (int i = 0; i < 4; i++) {
        h[i] = (struct hammer){.l = l, .go = &go};
        assert_int_equal(pthread_create(&tid[i], NULL, hammer_run, &h[i]), 0);
    }
    long total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(tid[i], NULL);
        assert_int_equal(h[i].failed, 0);
        total += h[i].allowed;
    }
    assert_int_equal(total, 1000);
    EXPECT(take(l, "shared", 1000, 42), false, 1000, 0, 60, 1);
    pthread_barrier_destroy(&go);
    sa_limiter_close(l);
}

static struct sa_limit_spec parse_ok(const char *text)
{
    struct sa_limit_spec s;
    struct sa_err err = {0};
    if (sa_limit_spec_parse(text, &s, &err))
        fail_msg("parse \"%s\": %s", text, err.msg);
    return s;
}

static void test_spec_parse(void **state)
{
    (void)state;
    struct sa_limit_spec s = parse_ok("1000");
    assert_int_equal(s.dflt, 1000);
    assert_int_equal(s.n, 0);
    assert_int_equal(sa_limit_spec_for(&s, "bdr"), 1000);
    s = parse_ok(" 100 , bdr = 10 ,marketing_agent=0\t");
    assert_int_equal(s.dflt, 100);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.over[0].name, "bdr");
    assert_int_equal(sa_limit_spec_for(&s, "bdr"), 10);
    assert_int_equal(sa_limit_spec_for(&s, "marketing_agent"), 0);
    assert_int_equal(sa_limit_spec_for(&s, "bd"), 100); /* no prefix match */
    assert_int_equal(sa_limit_spec_for(&s, "qualification"), 100);
    assert_int_equal(sa_limit_spec_for(&s, NULL), 100);
    s = parse_ok("0,bdr=1000000000");
    assert_int_equal(s.dflt, 0);
    assert_int_equal(sa_limit_spec_for(&s, "bdr"), 1000000000);
    char many[512] = "5";
    for (int i = 0; i < 16; i++) {
        size_t n = strlen(many);
        snprintf(many + n, sizeof many - n, ",a%c=%d", 'a' + i, i);
    }
    /* "a" + letter: names are [a-z_]+ */
    s = parse_ok(many);
    assert_int_equal(s.n, 16);
    assert_int_equal(sa_limit_spec_for(&s, "ap"), 15);
}

static void test_spec_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"", "item 1 is empty: expected a default limit N"},
        {"  ", "item 1 is empty"},
        {"abc", "item 1 \"abc\": expected the default limit, an integer 0-1000000000"},
        {"-1", "item 1 \"-1\": expected the default limit"},
        {"1000000001", "item 1 \"1000000001\""},
        {"99999999999999999999999", "item 1 \"99999999999999999999999\""},
        {"1 0", "item 1 \"1 0\""},
        {"bdr=5", "item 1 \"bdr=5\": expected the default limit"},
        {"100,", "item 2 is empty: expected name=N"},
        {"100,,bdr=1", "item 2 is empty"},
        {"100,bdr", "item 2 \"bdr\": expected name=N"},
        {"100,=5", "item 2 \"=5\": expected an agent name of 1-31 characters"},
        {"100,Bdr=1", "item 2 \"Bdr=1\": an agent name has only a-z and _"},
        {"100,bdr-x=1", "an agent name has only a-z and _"},
        {"100,bdr=x", "item 2 \"bdr=x\": expected an integer 0-1000000000 after '='"},
        {"100,bdr=", "item 2 \"bdr=\": expected an integer"},
        {"100,bdr=1=2", "item 2 \"bdr=1=2\": expected an integer"},
        {"100,bdr=1, qualification=2 ,bdr=2", "item 4 \"bdr=2\": agent bdr is already given"},
        {"100,abcdefghijklmnopqrstuvwxyzabcdef=1", "1-31 characters"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sa_limit_spec s;
        struct sa_err err = {0};
        if (sa_limit_spec_parse(bad[i].text, &s, &err) != SA_EINVAL)
            fail_msg("\"%s\" parsed", bad[i].text);
        expect_msg(&err, bad[i].msg);
        assert_int_equal(s.dflt, 0);
        assert_int_equal(s.n, 0);
    }
    char many[512] = "5";
    for (int i = 0; i < 17; i++) {
        size_t n = strlen(many);
        snprintf(many + n, sizeof many - n, ",a%c=1", 'a' + i);
    }
    struct sa_limit_spec s;
    struct sa_err err = {0};
    assert_int_equal(sa_limit_spec_parse(many, &s, &err), SA_EINVAL);
    expect_msg(&err, "item 18 \"aq=1\": at most 16 agent overrides");
    assert_int_equal(sa_limit_spec_parse(NULL, &s, &err), SA_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_burst),
        cmocka_unit_test(test_bucket_retry_after),
        cmocka_unit_test(test_bucket_partial_refill),
        cmocka_unit_test(test_bucket_full_refill),
        cmocka_unit_test(test_window_boundary),
        cmocka_unit_test(test_keys_independent),
        cmocka_unit_test(test_no_limit),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_reclaim_before_evict),
        cmocka_unit_test(test_lazy_reclaim),
        cmocka_unit_test(test_eviction_bound),
        cmocka_unit_test(test_threads_exact),
        cmocka_unit_test(test_spec_parse),
        cmocka_unit_test(test_spec_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
