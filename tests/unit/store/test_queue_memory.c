/* The in-process run queue (store/queue_memory.c): the shared queue cases, plus what
 * only memory does (a bounded ring of runs' events). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "queue_cases.h"

static struct sa_queue *open_queue(void)
{
    struct sa_queue *q = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_queue_open(NULL, NULL, &q, &err), 0);
    assert_string_equal(sa_queue_name(q), "memory");
    assert_false(sa_queue_durable(q));
    return q;
}

static struct sa_queue *second_handle(struct sa_queue *q)
{
    return q; /* one process, one queue */
}

static void close_second(struct sa_queue *q2)
{
    (void)q2;
}

/* The events of the oldest runs are dropped past the ring's size (1024 runs): a reader
 * then finds nothing, and the newest runs are still readable. */
static void test_ring_drops_oldest(void **state)
{
    (void)state;
    struct sa_queue *q = open_queue();
    struct sa_err err = {0};
    char first[40], last[40];
    for (int i = 0; i < 1100; i++) {
        char id[40];
        new_id(id);
        if (i == 0)
            memcpy(first, id, sizeof first);
        memcpy(last, id, sizeof last);
        assert_int_equal(sa_queue_publish(q, id, "e\n\n", 3, &err), 0);
    }
    struct sa_buf out;
    sa_buf_init(&out, 1024);
    char pos[SA_QUEUE_POS_LEN] = "";
    bool ended = false;
    assert_int_equal(sa_queue_read(q, first, pos, 0, &out, &ended, &err), SA_ENOTFOUND);
    assert_int_equal(sa_queue_read(q, last, pos, 0, &out, &ended, &err), 0);
    assert_string_equal(out.data, "e\n\n");
    sa_buf_free(&out);
    sa_queue_free(q);
}

/* A URL the queue cannot use stops start-up with a message that does not repeat it (a
 * Redis URL may hold a password). */
static void test_bad_url(void **state)
{
    (void)state;
    struct sa_queue *q = (struct sa_queue *)1;
    struct sa_err err = {0};
    assert_int_equal(sa_queue_open("rediss://:hunter2@x:1", NULL, &q, &err), SA_ECONFIG);
    assert_null(q);
    assert_null(strstr(err.msg, "hunter2"));
    assert_int_equal(sa_queue_open("redis://:hunter2@x:99999", NULL, &q, &err), SA_ECONFIG);
    assert_null(strstr(err.msg, "hunter2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        QUEUE_CASES,
        cmocka_unit_test(test_ring_drops_oldest),
        cmocka_unit_test(test_bad_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
