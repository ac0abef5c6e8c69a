/* An approval whose continuation was claimed by a process that then died mid-way (the
 * answer stored, the thread still at the approval, the resumption claim held by the dead
 * process until its lease ends) is continued once the lease ends, by the run workers'
 * keeper of the restarted process: its start-up finds the claim held and leaves it, and
 * nothing else would try again. Single instance, SQLite (the crash state is written with
 * sqlite3), memory queue; the _pg variant skips. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static struct server a;

static void configure(struct server *s, const char *step_ms)
{
    server_setenv(s, "REDIS_URL", "");
    server_setenv(s, "CHECKPOINT_STORE", "database");
    server_setenv(s, "RUN_WORKERS", "1");
    server_setenv(s, "RUN_VISIBILITY_TIMEOUT_MS", "500"); /* the keeper looks every 2 s */
    server_setenv(s, "PIPELINE_STEP_DELAY_MS", step_ms);
}

static void test_crashed_continuation_is_repaired(void **state)
{
    (void)state;
    assert_int_equal(server_make_dir(&a), 0);
    configure(&a, "0");
    assert_int_equal(server_start(&a, false), 0);
    harness_use(&a);
    char *body = strf("{\"thread_id\":\"restart-%d\",\"input\":%s}", (int)getpid(), strong_known);
    struct resp r;
    json_t *j = http_json("POST", "/api/runs", body, &r);
    free(body);
    assert_int_equal(r.status, 202);
    char id[64], thread[160];
    snprintf(id, sizeof id, "%s", jstr(j, "run_id"));
    snprintf(thread, sizeof thread, "%s", jstr(j, "thread_id"));
    resp_free(&r);
    char *st = NULL;
    for (int i = 0; i < 600; i++) {
        free(st);
        st = run_status_now(id);
        if (st && strcmp(st, "awaiting_approval") == 0)
            break;
        usleep(100 * 1000);
    }
    assert_non_null(st);
    assert_string_equal(st, "awaiting_approval");
    free(st);
    j = http_json("GET", "/api/approvals?status=pending&limit=100", NULL, &r);
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
    /* The state a crash mid-continuation leaves (the window is the continuation's length:
     * model calls in production): the approval decided, its thread still at the approval,
     * its resumption claimed by the dead process, here for 15 more seconds of real
     * time: longer than a sanitizer build takes to start on a loaded machine, so that the
     * start-up finds it held. */
    int stopped = server_stop(&a);
    (void)stopped;
    if (harness_on_pg())
        skip(); /* SQLite file edited below */
    char *sql = strf("sqlite3 %s/db.sqlite \"UPDATE approvals SET status = 'accepted', "
                     "response = '{\\\"type\\\":\\\"accept\\\"}', resume_owner = 'crashed', "
                     "resume_until = CAST(strftime('%%s','now') AS INTEGER) * 1000 + 15000 "
                     "WHERE id = '%s'\"",
                     a.dir, approval);
    assert_int_equal(system(sql), 0);
    free(sql);
    /* restarted at once (systemd Restart=on-failure), the only process there is */
    assert_int_equal(server_start(&a, false), 0);
    harness_use(&a);
    char *path = strf("/api/threads/%s/state", thread);
    bool done = false;
    for (int k = 0; k < 600 && !done; k++) { /* 60 s */
        j = http_json("GET", path, NULL, &r);
        done = r.status == 200 && json_array_size(jget(j, "next")) == 0;
        resp_free(&r);
        if (!done)
            usleep(100 * 1000);
    }
    free(path);
    /* the start-up left it to the claim's holder; the keeper continued it after the lease */
    bool left = server_log_has(&a, "approval's thread is being continued elsewhere");
    bool continued = server_log_has(&a, "decided approvals continued");
    if (!done || !left || !continued) {
        server_print_log(&a);
        fail_msg("the decided approval was not continued after its dead holder's lease "
                 "(thread finished=%d, start-up left it=%d, keeper continued it=%d)",
                 done, left, continued);
    }
}

static int teardown(void **state)
{
    (void)state;
    int st = a.pid ? server_stop(&a) : 0;
    server_remove_dir(&a);
    return st == 0 || exited_ok(st) ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_crashed_continuation_is_repaired, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
