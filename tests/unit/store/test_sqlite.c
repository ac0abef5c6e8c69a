/* Pins the SQLite store: migrations are idempotent, an invocation writes lead and
 * execution together or not at all, upserts keep created_at, insert-if-new is a no-op
 * for a known id, and list filters work. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/migrations.h"
#include "store/store.h"

static char dir[64];
static char url[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/sa_store_XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(url, sizeof url, "sqlite://%s/sub/db.sqlite", dir); /* parent dir is created */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static struct sa_store *open_store(void)
{
    struct sa_store *s = NULL;
    struct sa_err err = {0};
    if (sa_store_open(url, 3, &s, &err) || sa_store_migrate(s, &err))
        fail_msg("open: %s", err.msg);
    return s;
}

static struct sa_lead_row lead(const char *id, const char *name, int score, const char *tier)
{
    return (struct sa_lead_row){.id = id,
                                .company_name = name,
                                .employees_min = -1,
                                .employees_max = -1,
                                .annual_revenue = -1,
                                .data = "{}",
                                .score = score,
                                .tier = tier,
                                .reasoning = "r",
                                .contact_email = "x@acme.io"};
}

static struct sa_exec_row exec(const char *id, const char *lead_id)
{
    return (struct sa_exec_row){.id = id,
                                .lead_id = lead_id,
                                .agent_type = "qualification",
                                .thread_id = "t1",
                                .success = true,
                                .input = "{}",
                                .output = "{\"score\":1}",
                                .processing_time_ms = 0.01};
}

/* Rows in table, counted with sqlite3 on the store's file (the store interface speaks the
 * domain and has no row count). */
static long count(const char *table)
{
    char path[160], sql[64];
    snprintf(path, sizeof path, "%s/sub/db.sqlite", dir);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long n = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void test_migrate_twice_and_health(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    assert_int_equal(sa_store_migrate(s, &err), 0);
    char detail[64];
    assert_int_equal(sa_store_health(s, detail, sizeof detail, &err), 0);
    char want[32];
    snprintf(want, sizeof want, "schema version %d",
             sa_sqlite_migrations[sa_sqlite_migrations_count - 1].version);
    assert_string_equal(detail, want); /* the newest migration */
    sa_store_close(s);
}

static void test_invocation_is_atomic(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    const char *l1 = "11111111-1111-4111-8111-111111111111";
    struct sa_lead_row lr = lead(l1, "Acme", 70, "B");
    struct sa_exec_row er = exec("e1", l1);
    long leads0 = count("leads"), execs0 = count("agent_executions");
    assert_int_equal(sa_store_save_invocation(s, &lr, &er, &err), 0);
    assert_int_equal(count("leads"), leads0 + 1);
    assert_int_equal(count("agent_executions"), execs0 + 1);
    /* same execution id again: the execution insert fails, so the lead update must not land */
    struct sa_lead_row changed = lead(l1, "Renamed", 10, "D");
    assert_int_equal(sa_store_save_invocation(s, &changed, &er, &err), SA_ESTORE);
    json_t *got = NULL;
    assert_int_equal(sa_store_get_lead(s, l1, &got, &err), 0);
    assert_string_equal(json_string_value(json_object_get(got, "company_name")), "Acme");
    json_decref(got);
    assert_int_equal(count("agent_executions"), execs0 + 1);
    sa_store_close(s);
}

static void test_upsert_and_insert_if_new(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    const char *l2 = "22222222-2222-4222-8222-222222222222";
    struct sa_lead_row lr = lead(l2, "Beta", 50, "C");
    struct sa_exec_row e1 = exec("e2a", l2), e2 = exec("e2b", l2), e3 = exec("e2c", l2);
    assert_int_equal(sa_store_save_invocation(s, &lr, &e1, &err), 0);
    json_t *first = NULL, *second = NULL;
    assert_int_equal(sa_store_get_lead(s, l2, &first, &err), 0);
    usleep(2000);
    lr.score = 90;
    lr.tier = "A";
    assert_int_equal(sa_store_save_invocation(s, &lr, &e2, &err), 0);
    assert_int_equal(sa_store_get_lead(s, l2, &second, &err), 0);
    assert_string_equal(json_string_value(json_object_get(first, "created_at")),
                        json_string_value(json_object_get(second, "created_at")));
    json_t *q = json_object_get(second, "qualification");
    assert_int_equal(json_integer_value(json_object_get(q, "score")), 90);
    json_decref(first);
    json_decref(second);
    bool inserted = true;
    assert_int_equal(sa_store_insert_lead_if_new(s, &lr, &e3, &inserted, &err), 0);
    assert_false(inserted);
    json_t *execs = NULL;
    assert_int_equal(sa_store_list_executions(s, l2, 10, &execs, &err), 0);
    assert_int_equal(json_array_size(execs), 2); /* e3 was not written */
    json_decref(execs);
    assert_int_equal(sa_store_get_lead(s, "33333333-3333-4333-8333-333333333333", &first, &err),
                     SA_ENOTFOUND);
    sa_store_close(s);
}

static void test_list_filters(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    const char *ids[] = {"44444444-4444-4444-8444-444444444441",
                         "44444444-4444-4444-8444-444444444442",
                         "44444444-4444-4444-8444-444444444443"};
    const char *names[] = {"Gamma 100% Corp", "Delta_Co", "Epsilon"};
    int scores[] = {85, 60, 30};
    const char *tiers[] = {"A", "C", "D"};
    for (int i = 0; i < 3; i++) {
        struct sa_lead_row lr = lead(ids[i], names[i], scores[i], tiers[i]);
        char eid[16];
        snprintf(eid, sizeof eid, "f%d", i);
        struct sa_exec_row er = exec(eid, ids[i]);
        assert_int_equal(sa_store_save_invocation(s, &lr, &er, &err), 0);
    }
    struct sa_lead_query q = {.limit = 50, .min_score = -1, .tier = "A"};
    json_t *out = NULL;
    assert_int_equal(sa_store_list_leads(s, &q, &out, &err), 0);
    json_t *items = json_object_get(out, "items");
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        json_t *qual = json_object_get(it, "qualification");
        assert_string_equal(json_string_value(json_object_get(qual, "tier")), "A");
    }
    json_decref(out);
    q = (struct sa_lead_query){.limit = 50, .min_score = -1, .search = "100%"};
    assert_int_equal(sa_store_list_leads(s, &q, &out, &err), 0);
    assert_int_equal(json_integer_value(json_object_get(out, "total")), 1); /* % is literal */
    json_decref(out);
    q = (struct sa_lead_query){.limit = 1, .offset = 0, .min_score = 55};
    assert_int_equal(sa_store_list_leads(s, &q, &out, &err), 0);
    assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
    assert_true(json_integer_value(json_object_get(out, "total")) >= 2);
    json_decref(out);
    sa_store_close(s);
}

/* /health answers 503 when this check fails: a database whose schema is gone fails it. */
static void test_health_fails_without_schema(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char detail[64];
    assert_int_equal(sa_store_health(s, detail, sizeof detail, &err), 0);
    char path[160];
    snprintf(path, sizeof path, "%s/sub/db.sqlite", dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "DROP TABLE schema_migrations", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(sa_store_health(s, detail, sizeof detail, &err), SA_ESTORE);
    assert_non_null(strstr(err.msg, "schema_migrations"));
    sa_store_close(s);
}

static void test_bad_url(void **state)
{
    (void)state;
    struct sa_store *s = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_store_open("mysql://x", 1, &s, &err), SA_ECONFIG);
    assert_non_null(strstr(err.msg, "unsupported"));
    assert_int_equal(sa_store_open("sqlite::memory:", 4, &s, &err), 0);
    assert_int_equal(sa_store_migrate(s, &err), 0);
    sa_store_close(s);
}

/* Pins approvals and the outbox: one approval per (thread, interrupt), decided once;
 * outbox items added twice under the same key are stored once; due, mark, cancel and
 * the frequency count. */
static void test_approvals_and_outbox(void **state)
{
    (void)state;
    struct sa_store *s = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_store_open("sqlite::memory:", 2, &s, &err), 0);
    assert_int_equal(sa_store_migrate(s, &err), 0);
    char id1[37], id2[37];
    assert_int_equal(sa_store_approval_put(s, "019a0000-0000-7000-8000-00000000000a", "t1", "i1",
                                           NULL, "{\"action_request\":{}}", id1, &err),
                     0);
    assert_string_equal(id1, "019a0000-0000-7000-8000-00000000000a");
    /* a replay of the same interrupt (a resumed run) gets the same approval */
    assert_int_equal(sa_store_approval_put(s, "019a0000-0000-7000-8000-00000000000b", "t1", "i1",
                                           NULL, "{}", id2, &err),
                     0);
    assert_string_equal(id2, id1);
    json_t *list = NULL;
    assert_int_equal(sa_store_approval_list(s, "pending", 10, &list, &err), 0);
    assert_int_equal(json_array_size(list), 1);
    assert_true(json_is_object(json_object_get(json_array_get(list, 0), "request")));
    json_decref(list);
    assert_int_equal(
        sa_store_approval_decide(s, id1, "accepted", "{\"type\":\"accept\"}", "kim", NULL, &err),
        0);
    assert_int_equal(sa_store_approval_decide(s, id1, "ignored", "{}", "lee", NULL, &err),
                     SA_ECONFLICT);
    assert_int_equal(sa_store_approval_decide(s, "nope", "ignored", "{}", "lee", NULL, &err),
                     SA_ENOTFOUND);
    json_t *a = NULL;
    assert_int_equal(sa_store_approval_get(s, id1, &a, &err), 0);
    assert_string_equal(json_string_value(json_object_get(a, "status")), "accepted");
    assert_string_equal(json_string_value(json_object_get(a, "reviewer")), "kim");
    json_decref(a);

    struct sa_outbox_item items[] = {
        {"019a0000-0000-7000-8000-000000000101", "t1:email", "email", "t1", NULL,
         "Dana@Example.com", "{\"subject\":\"hi\"}", 1000},
        {"019a0000-0000-7000-8000-000000000102", "t1:followup:3", "followup", "t1", NULL,
         "dana@example.com", "{\"subject\":\"re\"}", 5000},
    };
    int added = 0;
    assert_int_equal(sa_store_outbox_add(s, items, 2, &added, &err), 0);
    assert_int_equal(added, 2);
    /* the same keys again (a resumed run, a repeated approval): nothing new */
    items[0].id = "019a0000-0000-7000-8000-000000000103";
    assert_int_equal(sa_store_outbox_add(s, items, 2, &added, &err), 0);
    assert_int_equal(added, 0);
    long n = 0;
    assert_int_equal(sa_store_outbox_touches(s, "dana@example.com", 0, &n, &err), 0);
    assert_int_equal(n, 2);
    json_t *due = NULL;
    assert_int_equal(sa_store_outbox_due(s, 2000, 10, &due, &err), 0);
    assert_int_equal(json_array_size(due), 1);
    const char *due_id = json_string_value(json_object_get(json_array_get(due, 0), "id"));
    assert_string_equal(due_id, "019a0000-0000-7000-8000-000000000101");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(due, 0), "payload"), "subject")),
                        "hi");
    assert_int_equal(sa_store_outbox_mark(s, due_id, "sent", "123.M1P1Q1.host", NULL, 0, &err), 0);
    json_decref(due);
    assert_int_equal(sa_store_outbox_due(s, 2000, 10, &due, &err), 0);
    assert_int_equal(json_array_size(due), 0);
    json_decref(due);
    int cancelled = 0;
    assert_int_equal(sa_store_outbox_cancel(s, NULL, "DANA@example.com", "followup", "replied",
                                            &cancelled, &err),
                     0);
    assert_int_equal(cancelled, 1);
    assert_int_equal(sa_store_outbox_list(s, NULL, "DANA@example.com", 10, &list, &err), 0);
    assert_int_equal(json_array_size(list), 2);
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it)
    {
        const char *st = json_string_value(json_object_get(it, "status"));
        const char *kind = json_string_value(json_object_get(it, "kind"));
        assert_string_equal(st, strcmp(kind, "email") == 0 ? "sent" : "cancelled");
        if (strcmp(kind, "email") == 0)
            assert_int_equal(json_integer_value(json_object_get(it, "attempts")), 1);
    }
    json_decref(list);
    assert_int_equal(sa_store_outbox_touches(s, "dana@example.com", 0, &n, &err), 0);
    assert_int_equal(n, 1); /* a cancelled follow-up is not a touch */
    assert_int_equal(sa_store_outbox_mark(s, "nope", "sent", NULL, NULL, 0, &err), SA_ENOTFOUND);
    sa_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_twice_and_health),
        cmocka_unit_test(test_invocation_is_atomic),
        cmocka_unit_test(test_upsert_and_insert_if_new),
        cmocka_unit_test(test_list_filters),
        cmocka_unit_test(test_health_fails_without_schema),
        cmocka_unit_test(test_bad_url),
        cmocka_unit_test(test_approvals_and_outbox),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
