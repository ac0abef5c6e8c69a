/* The Redis run queue (store/redis/queue.c) against a real server: the shared queue
 * cases, and what only a shared queue does: a run taken by a consumer that dies (never
 * acknowledges) is reclaimed by another after the visibility timeout and reported as
 * taken over, and the first consumer then learns it lost it. Needs SA_TEST_REDIS_URL;
 * without it, says why and exits 77 (skipped). Keys go under a prefix of this process's
 * own, so programs sharing a server do not meet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <unistd.h>

#include "queue_cases.h"

static const char *redis_url;
static char prefix[64];

static struct sa_queue *open_with(int visibility_ms)
{
    struct sa_queue *q = NULL;
    struct sa_err err = {0};
    struct sa_queue_opts opts = {.visibility_ms = visibility_ms, .prefix = prefix};
    int rc = sa_queue_open(redis_url, &opts, &q, &err);
    if (rc)
        fail_msg("opening the Redis queue: %s", err.msg);
    assert_string_equal(sa_queue_name(q), "redis");
    assert_true(sa_queue_durable(q));
    return q;
}

static struct sa_queue *open_queue(void)
{
    return open_with(30000);
}

static struct sa_queue *second_handle(struct sa_queue *q)
{
    (void)q;
    return open_queue(); /* another consumer of the same queue */
}

static void close_second(struct sa_queue *q2)
{
    sa_queue_free(q2);
}

/* Consumer A takes a run and dies without acknowledging it. Consumer B, with a short
 * visibility timeout, gets it once it has been idle that long, marked as taken over; A's
 * touch then fails (it no longer holds it), and after B's ack nobody gets it again. */
static void test_reclaim_after_visibility_timeout(void **state)
{
    (void)state;
    struct sa_queue *a = open_with(200), *b = open_with(200);
    struct sa_err err = {0};
    char id[40];
    new_id(id);
    assert_int_equal(sa_queue_submit(a, id, &err), 0);
    struct sa_queue_delivery da, db;
    assert_int_equal(sa_queue_take(a, 1000, &da, &err), 0);
    assert_string_equal(da.run_id, id);
    assert_false(da.reclaimed);
    /* A is gone: it neither touches nor acknowledges. B polls until the entry is idle
     * long enough (bounded, so a broken reclaim fails instead of hanging) */
    int rc = SA_ETIMEDOUT;
    for (int i = 0; i < 100 && rc == SA_ETIMEDOUT; i++)
        rc = sa_queue_take(b, 100, &db, &err);
    assert_int_equal(rc, 0);
    assert_string_equal(db.run_id, id);
    assert_true(db.reclaimed);
    assert_string_equal(db.handle, da.handle);
    assert_int_equal(sa_queue_touch(a, &da, &err), SA_ECONFLICT);
    assert_int_equal(sa_queue_touch(b, &db, &err), 0);
    assert_int_equal(sa_queue_ack(b, &db, &err), 0);
    struct sa_queue_delivery none;
    assert_int_equal(sa_queue_take(a, 300, &none, &err), SA_ETIMEDOUT);
    assert_int_equal(sa_queue_take(b, 300, &none, &err), SA_ETIMEDOUT);
    sa_queue_free(a);
    sa_queue_free(b);
}

/* Two consumers never get the same new run. */
static void test_one_consumer_per_run(void **state)
{
    (void)state;
    struct sa_queue *a = open_queue(), *b = open_queue();
    struct sa_err err = {0};
    char x[40], y[40];
    new_id(x);
    new_id(y);
    assert_int_equal(sa_queue_submit(a, x, &err), 0);
    assert_int_equal(sa_queue_submit(a, y, &err), 0);
    struct sa_queue_delivery d1, d2, none;
    assert_int_equal(sa_queue_take(a, 1000, &d1, &err), 0);
    assert_int_equal(sa_queue_take(b, 1000, &d2, &err), 0);
    assert_string_equal(d1.run_id, x);
    assert_string_equal(d2.run_id, y);
    assert_int_equal(sa_queue_take(b, 100, &none, &err), SA_ETIMEDOUT);
    assert_int_equal(sa_queue_ack(a, &d1, &err), 0);
    assert_int_equal(sa_queue_ack(b, &d2, &err), 0);
    sa_queue_free(a);
    sa_queue_free(b);
}

/* A server nobody listens on: the open succeeds (the service must start while Redis is
 * down), the calls fail with SA_ESTORE, and no message names the password. */
static void test_unreachable(void **state)
{
    (void)state;
    struct sa_queue *q = NULL;
    struct sa_err err = {0};
    struct sa_queue_opts opts = {.timeout_ms = 200};
    assert_int_equal(sa_queue_open("redis://:pw-not-shown@127.0.0.1:1", &opts, &q, &err), 0);
    assert_null(strstr(err.msg, "pw-not-shown"));
    char id[40];
    new_id(id);
    assert_int_equal(sa_queue_submit(q, id, &err), SA_ESTORE);
    assert_null(strstr(err.msg, "pw-not-shown"));
    struct sa_queue_delivery d;
    assert_int_equal(sa_queue_take(q, 100, &d, &err), SA_ESTORE);
    bool yes = true;
    assert_int_equal(sa_queue_cancelled(q, id, &yes, &err), SA_ESTORE);
    sa_queue_free(q);
}

int main(void)
{
    redis_url = getenv("SA_TEST_REDIS_URL");
    if (!redis_url || !*redis_url) {
        printf("test_redis_queue: skipped: SA_TEST_REDIS_URL is not set (a Redis server to "
               "test against, e.g. redis://127.0.0.1:6379)\n");
        return 77;
    }
    snprintf(prefix, sizeof prefix, "test:%ld:", (long)getpid());
    const struct CMUnitTest tests[] = {
        QUEUE_CASES,
        cmocka_unit_test(test_reclaim_after_visibility_timeout),
        cmocka_unit_test(test_one_consumer_per_run),
        cmocka_unit_test(test_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
