/* Exactly once across processes (docs/scale-out.md): two instances on one database
 * (SQLite file, or PostgreSQL as test_api_claims_pg), each with its run workers on an
 * in-process queue (no REDIS_URL), the case where nothing but the store can keep them
 * from running one run twice.
 * - A runs a run slowly; B starts and queues every unfinished run again (as a memory
 *   queue does at start), that one too: its claim finds A's lease and B does not run it.
 * - A is killed mid-run: B's reconciler finds the run's lease ended, queues it again, and
 *   B continues it from its checkpoint.
 * - The run's approval is answered on both instances at once (A back): one decision, and
 *   the steps after the approval run on one instance only. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static struct server a, b;

/* The same settings on both: the memory queue, checkpoints in the shared database, a
 * short lease (the visibility timeout) and slow steps (step_ms before each agent) to race
 * in. A's run must outlast B's start on a loaded machine: its five agents take 25 s. */
static void configure(struct server *s, const char *step_ms)
{
    server_setenv(s, "REDIS_URL", "");
    server_setenv(s, "CHECKPOINT_STORE", "database");
    server_setenv(s, "RUN_WORKERS", "1");
    server_setenv(s, "RUN_VISIBILITY_TIMEOUT_MS", "1500");
    server_setenv(s, "PIPELINE_STEP_DELAY_MS", step_ms);
}

struct decision {
    int port;
    char path[160];
    long status;
    bool duplicate;
    bool resumed; /* this request continued the thread ("run" not null) */
};

static void *decide(void *arg)
{
    struct decision *d = arg;
    CURL *h = curl_easy_init();
    struct resp r;
    static const char accept[] = "{\"type\":\"accept\"}";
    http_on(h, d->port, "POST", d->path, "application/json", accept, strlen(accept), &r);
    d->status = r.status;
    json_t *j = r.body ? json_loads(r.body, 0, NULL) : NULL;
    d->duplicate = json_is_true(json_object_get(j, "duplicate"));
    json_t *run = json_object_get(j, "run");
    d->resumed = run && !json_is_null(run);
    json_decref(j);
    resp_free(&r);
    curl_easy_cleanup(h);
    return NULL;
}

static void test_one_execution_across_instances(void **state)
{
    (void)state;
    assert_int_equal(server_make_dir(&a), 0);
    configure(&a, "5000");
    assert_int_equal(server_start(&a, false), 0);
    assert_int_equal(server_make_peer(&b, &a), 0);
    configure(&b, "1000");

    /* 1. a run on A; B starts while it runs and queues it again */
    harness_use(&a);
    char *body = strf("{\"thread_id\":\"claims-%d\",\"input\":%s}", (int)getpid(), strong_known);
    struct resp r;
    json_t *j = http_json("POST", "/api/runs", body, &r);
    free(body);
    assert_int_equal(r.status, 202);
    char id[64], thread[160];
    snprintf(id, sizeof id, "%s", jstr(j, "run_id"));
    snprintf(thread, sizeof thread, "%s", jstr(j, "thread_id"));
    resp_free(&r);
    bool running = false;
    for (int i = 0; i < 600 && !running; i++) {
        char *st = run_status_now(id);
        running = st && strcmp(st, "running") == 0;
        free(st);
        if (!running)
            usleep(50 * 1000);
    }
    assert_true(running);
    assert_int_equal(server_start(&b, false), 0);
    /* B's start queued the unfinished run and its worker took it: the claim stops it */
    bool dropped = false;
    for (int i = 0; i < 400 && !dropped; i++) {
        dropped = server_log_has(&b, "run held by another worker");
        if (!dropped)
            usleep(50 * 1000);
    }
    if (!dropped) {
        server_print_log(&b);
        fail_msg("B did not find the run held by A");
    }
    assert_false(server_log_has(&b, "resuming a run from its checkpoint"));

    /* 2. A dies mid-run: B's reconciler takes the run over after A's lease */
    char *st = run_status_now(id);
    assert_non_null(st);
    assert_string_equal(st, "running"); /* five slow steps: still on its way */
    free(st);
    server_kill(&a);
    harness_use(&b);
    st = run_wait_settled(id, 120);
    if (!st)
        server_print_log(&b);
    assert_non_null(st);
    assert_string_equal(st, "awaiting_approval");
    free(st);
    assert_true(server_log_has(&b, "stale runs queued again"));
    assert_true(server_log_has(&b, "resuming a run from its checkpoint"));

    /* 3. its approval answered on A and B at once: the thread continues on one of them */
    server_setenv(&a, "PIPELINE_STEP_DELAY_MS", "1000");
    assert_int_equal(server_start(&a, false), 0);
    j = http_json("GET", "/api/approvals?status=pending&limit=100", NULL, &r);
    assert_int_equal(r.status, 200);
    char approval[64] = "";
    size_t i;
    json_t *item;
    json_array_foreach(jget(j, "items"), i, item)
    {
        if (strcmp(jstr(item, "thread_id") ?: "", thread) == 0)
            snprintf(approval, sizeof approval, "%s", jstr(item, "id"));
    }
    resp_free(&r);
    assert_true(approval[0] != '\0');
    struct decision da = {.port = a.port}, db = {.port = b.port};
    snprintf(da.path, sizeof da.path, "/api/approvals/%s", approval);
    snprintf(db.path, sizeof db.path, "/api/approvals/%s", approval);
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, decide, &da), 0);
    assert_int_equal(pthread_create(&tb, NULL, decide, &db), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    /* the same answer twice: both 200, one of them the duplicate */
    assert_int_equal(da.status, 200);
    assert_int_equal(db.status, 200);
    assert_int_equal(da.duplicate + db.duplicate, 1);
    if (da.resumed + db.resumed != 1)
        fail_msg("the thread was continued by %d requests", da.resumed + db.resumed);
}

static int teardown(void **state)
{
    (void)state;
    int st_a = a.pid ? server_stop(&a) : 0, st_b = b.pid ? server_stop(&b) : 0;
    server_remove_dir(&b);
    server_remove_dir(&a);
    return (st_a == 0 || exited_ok(st_a)) && (st_b == 0 || exited_ok(st_b)) ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_one_execution_across_instances, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
