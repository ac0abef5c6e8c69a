/* A run on an Agent Server thread leaves the thread with a record (app/agentserver.c,
 * stamp_thread): when retention deletes the idle record of a thread without checkpoints
 * between sa_as_run_prepare reading it and the run starting, the start puts it back with
 * the metadata the run read and the run's graph_id and assistant_id. In process, on an
 * in-memory app, so the deletion falls exactly between the two. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/agentserver.h"
#include "app/app.h"
#include "base/config.h"
#include "store/store.h"
#include "../test_app.h"

struct done {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
};

static void run_done(void *arg)
{
    struct done *d = arg;
    pthread_mutex_lock(&d->lock);
    d->done = true;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

static const char LEAD[] =
    "{\"company_name\":\"Marlowe Biotech\",\"industry\":\"SaaS\",\"company_size\":\"201-500\","
    "\"annual_revenue\":38000000,\"country\":\"US\",\"website\":\"https://marlowe.example\","
    "\"contact_info\":{\"name\":\"Ada Park\",\"title\":\"VP of Sales\",\"email\":"
    "\"ada@marlowe.example\"},\"signals\":[\"requested_demo\",\"hiring_sales\"]}";

/* Prepares a pipeline run on thread, lets gone() act on the store, starts the run and
 * waits for it; returns the thread's record afterwards (NULL: none). */
static json_t *run_on(struct sa_app *app, const char *thread,
                      void (*gone)(struct sa_app *app, const char *thread))
{
    char body_text[1024];
    snprintf(body_text, sizeof body_text, "{\"assistant_id\":\"pipeline\",\"input\":%s}", LEAD);
    json_t *body = json_loads(body_text, 0, NULL);
    assert_non_null(body);
    json_t *detail = json_array();
    struct sa_as_start st;
    const char *loc = NULL;
    struct sa_err err = {0};
    if (sa_as_run_prepare(app, thread, body, NULL, detail, &st, &loc, &err))
        fail_msg("prepare: %s (%s)", err.msg, loc);
    json_decref(detail);
    json_decref(body);
    char id[160];
    snprintf(id, sizeof id, "%s", st.thread_id);
    if (gone)
        gone(app, thread);
    struct done d = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
    if (sa_as_run_start(app, &st, run_done, &d, &err))
        fail_msg("start: %s", err.msg);
    pthread_mutex_lock(&d.lock);
    while (!d.done)
        pthread_cond_wait(&d.cond, &d.lock);
    pthread_mutex_unlock(&d.lock);
    json_t *rec = NULL;
    int rc = sa_store_as_thread_get(app->store, id, &rec, &err);
    assert_true(rc == 0 || rc == SA_ENOTFOUND);
    return rec;
}

static void delete_record(struct sa_app *app, const char *thread)
{
    struct sa_err err = {0};
    assert_int_equal(sa_store_as_thread_delete(app->store, thread, &err), 0);
}

static void create_thread(struct sa_app *app, const char *thread, const char *body_text)
{
    json_t *body = json_loads(body_text, 0, NULL);
    json_t *detail = json_array();
    json_t *t = NULL;
    struct sa_err err = {0};
    if (sa_as_thread_create(app, thread, body, detail, &t, &err))
        fail_msg("create: %s", err.msg);
    json_decref(t);
    json_decref(detail);
    json_decref(body);
}

static void test_deleted_record_restored(void **state)
{
    (void)state;
    struct sa_app *app = test_app_open();
    const char *thread = "as-stamp-gone";
    create_thread(app, thread, "{\"metadata\":{\"owner\":\"ana\",\"team\":{\"region\":\"emea\"}}}");
    json_t *rec = run_on(app, thread, delete_record);
    if (!rec)
        fail_msg("the run left the thread without a record");
    const json_t *md = json_object_get(rec, "metadata");
    assert_string_equal(json_string_value(json_object_get(md, "owner")), "ana");
    assert_string_equal(json_string_value(json_object_get(json_object_get(md, "team"), "region")),
                        "emea");
    assert_string_equal(json_string_value(json_object_get(md, "graph_id")), "pipeline");
    assert_string_equal(json_string_value(json_object_get(md, "assistant_id")), "pipeline");
    json_decref(rec);
    sa_app_close(app);
}

/* Recreated by another caller meanwhile: that record stays, stamped, its keys kept. */
static void recreate_record(struct sa_app *app, const char *thread)
{
    delete_record(app, thread);
    bool inserted = false;
    struct sa_err err = {0};
    assert_int_equal(sa_store_as_thread_put(app->store, thread, "{\"owner\":\"bo\"}",
                                            "2026-04-01T09:00:00Z", &inserted, &err),
                     0);
    assert_true(inserted);
}

static void test_recreated_record_stamped(void **state)
{
    (void)state;
    struct sa_app *app = test_app_open();
    const char *thread = "as-stamp-again";
    create_thread(app, thread, "{\"metadata\":{\"owner\":\"ana\"}}");
    json_t *rec = run_on(app, thread, recreate_record);
    assert_non_null(rec);
    const json_t *md = json_object_get(rec, "metadata");
    assert_string_equal(json_string_value(json_object_get(md, "owner")), "bo");
    assert_string_equal(json_string_value(json_object_get(md, "graph_id")), "pipeline");
    json_decref(rec);
    sa_app_close(app);
}

/* A stateless run (no thread given) still makes no record. */
static void test_stateless_run_no_record(void **state)
{
    (void)state;
    struct sa_app *app = test_app_open();
    json_t *rec = run_on(app, NULL, NULL);
    assert_null(rec);
    sa_app_close(app);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deleted_record_restored),
        cmocka_unit_test(test_recreated_record_stamped),
        cmocka_unit_test(test_stateless_run_no_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
