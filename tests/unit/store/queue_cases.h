/* The run queue's behaviour every backend shares (store/queue.h), included by
 * test_queue_memory.c and test_redis_queue.c. Each includes cmocka first and defines
 * open_queue (a new queue handle), second_handle (another handle on the same queue, as
 * another instance holds it: for memory, the same handle) and close_second. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/uuid.h"
#include "store/queue.h"

static struct sa_queue *open_queue(void);
static struct sa_queue *second_handle(struct sa_queue *q);
static void close_second(struct sa_queue *q2);

static void new_id(char id[40])
{
    sa_uuid_v7(id);
}

/* Reads everything there is of run_id from the start (no waiting) into out. */
static void read_all(struct sa_queue *q, const char *run_id, struct sa_buf *out, bool *ended)
{
    char pos[SA_QUEUE_POS_LEN] = "";
    struct sa_err err = {0};
    *ended = false;
    for (int i = 0; i < 100 && !*ended; i++) {
        size_t before = out->len;
        assert_int_equal(sa_queue_read(q, run_id, pos, 0, out, ended, &err), 0);
        if (out->len == before && !*ended)
            break;
    }
}

/* Runs come out in the order they went in; nothing comes when nothing is queued. */
static void test_submit_take_ack(void **state)
{
    (void)state;
    struct sa_queue *q = open_queue();
    struct sa_err err = {0};
    char a[40], b[40];
    new_id(a);
    new_id(b);
    assert_int_equal(sa_queue_submit(q, a, &err), 0);
    assert_int_equal(sa_queue_submit(q, b, &err), 0);
    struct sa_queue_delivery d1, d2, d3;
    assert_int_equal(sa_queue_take(q, 1000, &d1, &err), 0);
    assert_string_equal(d1.run_id, a);
    assert_false(d1.reclaimed);
    assert_int_equal(sa_queue_touch(q, &d1, &err), 0);
    assert_int_equal(sa_queue_ack(q, &d1, &err), 0);
    assert_int_equal(sa_queue_take(q, 1000, &d2, &err), 0);
    assert_string_equal(d2.run_id, b);
    assert_int_equal(sa_queue_ack(q, &d2, &err), 0);
    assert_int_equal(sa_queue_take(q, 50, &d3, &err), SA_ETIMEDOUT);
    assert_string_equal(d3.run_id, "");
    sa_queue_free(q);
}

/* A reader that joins after the run ended reads every event from the start, then the
 * end; one that reads in small pieces gets the same text. */
static void test_events_late_reader(void **state)
{
    (void)state;
    struct sa_queue *q = open_queue();
    struct sa_err err = {0};
    char id[40];
    new_id(id);
    static const char *const events[] = {"event: metadata\ndata: {}\n\n",
                                         "event: updates\ndata: {\"n\":1}\n\n",
                                         "event: end\ndata: null\n\n"};
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(sa_queue_publish(q, id, events[i], strlen(events[i]), &err), 0);
    assert_int_equal(sa_queue_end(q, id, &err), 0);

    struct sa_queue *late = second_handle(q);
    struct sa_buf all;
    sa_buf_init(&all, 1 << 20);
    bool ended = false;
    read_all(late, id, &all, &ended);
    assert_true(ended);
    char want[256];
    snprintf(want, sizeof want, "%s%s%s", events[0], events[1], events[2]);
    assert_string_equal(all.data, want);

    /* 40 bytes at a time: no event is longer, so every backend can give each one whole */
    struct sa_buf piece, joined;
    sa_buf_init(&piece, 40);
    sa_buf_init(&joined, 1 << 20);
    char pos[SA_QUEUE_POS_LEN] = "";
    ended = false;
    for (int i = 0; i < 50 && !ended; i++) {
        sa_buf_reset(&piece);
        assert_int_equal(sa_queue_read(late, id, pos, 0, &piece, &ended, &err), 0);
        assert_true(piece.len > 0 || ended);
        if (piece.len)
            assert_int_equal(sa_buf_append(&joined, piece.data, piece.len), 0);
    }
    assert_true(ended);
    assert_string_equal(joined.data, want);
    sa_buf_free(&piece);
    sa_buf_free(&joined);
    sa_buf_free(&all);
    close_second(late);
    sa_queue_free(q);
}

/* Nothing was ever published for a run: a read that does not wait says so; a read that
 * waits on a live run returns without events. */
static void test_events_unknown_and_quiet(void **state)
{
    (void)state;
    struct sa_queue *q = open_queue();
    struct sa_err err = {0};
    char id[40];
    new_id(id);
    struct sa_buf out;
    sa_buf_init(&out, 1 << 20);
    char pos[SA_QUEUE_POS_LEN] = "";
    bool ended = true;
    assert_int_equal(sa_queue_read(q, id, pos, 0, &out, &ended, &err), SA_ENOTFOUND);
    assert_int_equal(sa_queue_publish(q, id, "x\n\n", 3, &err), 0);
    assert_int_equal(sa_queue_read(q, id, pos, 0, &out, &ended, &err), 0);
    assert_string_equal(out.data, "x\n\n");
    assert_false(ended);
    sa_buf_reset(&out);
    assert_int_equal(sa_queue_read(q, id, pos, 50, &out, &ended, &err), 0);
    assert_int_equal(out.len, 0);
    assert_false(ended);
    sa_buf_free(&out);
    sa_queue_free(q);
}

struct waiting_reader {
    struct sa_queue *q;
    const char *id;
    struct sa_buf out;
    bool ended;
    int rc;
};

static void *wait_for_events(void *arg)
{
    struct waiting_reader *w = arg;
    char pos[SA_QUEUE_POS_LEN] = "";
    struct sa_err err = {0};
    /* the reader starts before the run published anything, and follows it to its end */
    for (int i = 0; i < 100 && !w->ended && !w->rc; i++)
        w->rc = sa_queue_read(w->q, w->id, pos, 2000, &w->out, &w->ended, &err);
    return NULL;
}

/* A reader waiting before the run's first event is woken by it and follows to the end. */
static void test_events_live_reader(void **state)
{
    (void)state;
    struct sa_queue *q = open_queue(), *reader = second_handle(q);
    struct sa_err err = {0};
    char id[40];
    new_id(id);
    struct waiting_reader w = {.q = reader, .id = id};
    sa_buf_init(&w.out, 1 << 20);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, wait_for_events, &w), 0);
    assert_int_equal(sa_queue_publish(q, id, "a\n\n", 3, &err), 0);
    assert_int_equal(sa_queue_publish(q, id, "b\n\n", 3, &err), 0);
    assert_int_equal(sa_queue_end(q, id, &err), 0);
    pthread_join(t, NULL);
    assert_int_equal(w.rc, 0);
    assert_true(w.ended);
    assert_string_equal(w.out.data, "a\n\nb\n\n");
    sa_buf_free(&w.out);
    close_second(reader);
    sa_queue_free(q);
}

struct waiting_many {
    struct sa_queue *q;
    const char *ids[2];
    bool ready[2];
    int rc;
};

static void *wait_for_any(void *arg)
{
    struct waiting_many *w = arg;
    const char *poss[2] = {"", ""};
    struct sa_err err = {0};
    for (int i = 0; i < 100 && !w->rc && !w->ready[0] && !w->ready[1]; i++)
        w->rc = sa_queue_wait(w->q, 2, w->ids, poss, 2000, w->ready, &err);
    return NULL;
}

/* One wait over several runs (the stream clients' waiter): it names the runs with news
 * after their positions, an event or the end, and none when there are none; a wait begun
 * before a run's first event is woken by it. */
static void test_events_wait_many(void **state)
{
    (void)state;
    struct sa_queue *q = open_queue(), *reader = second_handle(q);
    struct sa_err err = {0};
    char a[40], b[40];
    new_id(a);
    new_id(b);
    assert_int_equal(sa_queue_publish(q, a, "x\n\n", 3, &err), 0);
    struct sa_buf out;
    sa_buf_init(&out, 1 << 20);
    char pos_a[SA_QUEUE_POS_LEN] = "";
    bool ended = true;
    assert_int_equal(sa_queue_read(reader, a, pos_a, 0, &out, &ended, &err), 0);
    assert_string_equal(out.data, "x\n\n");
    const char *ids[2] = {a, b}, *poss[2] = {pos_a, ""};
    bool ready[2] = {true, true};
    assert_int_equal(sa_queue_wait(reader, 2, ids, poss, 50, ready, &err), 0);
    assert_false(ready[0]); /* read to its last event */
    assert_false(ready[1]); /* nothing yet */
    assert_int_equal(sa_queue_publish(q, b, "y\n\n", 3, &err), 0);
    assert_int_equal(sa_queue_wait(reader, 2, ids, poss, 50, ready, &err), 0);
    assert_false(ready[0]);
    assert_true(ready[1]);
    assert_int_equal(sa_queue_end(q, a, &err), 0);
    poss[1] = ""; /* b still unread */
    assert_int_equal(sa_queue_wait(reader, 2, ids, poss, 50, ready, &err), 0);
    assert_true(ready[0]); /* its end */
    assert_true(ready[1]);

    char c[40], d[40];
    new_id(c);
    new_id(d);
    struct waiting_many w = {.q = reader, .ids = {c, d}};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, wait_for_any, &w), 0);
    assert_int_equal(sa_queue_publish(q, d, "z\n\n", 3, &err), 0);
    pthread_join(t, NULL);
    assert_int_equal(w.rc, 0);
    assert_false(w.ready[0]);
    assert_true(w.ready[1]);
    sa_buf_free(&out);
    close_second(reader);
    sa_queue_free(q);
}

/* A cancel request made through one handle is seen through another, for that run only. */
static void test_cancel_across_handles(void **state)
{
    (void)state;
    struct sa_queue *api = open_queue(), *worker = second_handle(api);
    struct sa_err err = {0};
    char id[40], other[40];
    new_id(id);
    new_id(other);
    bool yes = true;
    assert_int_equal(sa_queue_cancelled(worker, id, &yes, &err), 0);
    assert_false(yes);
    assert_int_equal(sa_queue_cancel(api, id, &err), 0);
    assert_int_equal(sa_queue_cancelled(worker, id, &yes, &err), 0);
    assert_true(yes);
    assert_int_equal(sa_queue_cancelled(worker, other, &yes, &err), 0);
    assert_false(yes);
    close_second(worker);
    sa_queue_free(api);
}

#define QUEUE_CASES                                                                                \
    cmocka_unit_test(test_submit_take_ack), cmocka_unit_test(test_events_late_reader),             \
        cmocka_unit_test(test_events_unknown_and_quiet),                                           \
        cmocka_unit_test(test_events_live_reader), cmocka_unit_test(test_events_wait_many),        \
        cmocka_unit_test(test_cancel_across_handles)
