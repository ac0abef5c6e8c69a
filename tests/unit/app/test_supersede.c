/* A run with new input on a pipeline thread waiting on its BDR approval supersedes that
 * approval only when it gets as far as saving its input (app/invoke.c, graph_input_hook):
 * a run that fails before (the thread busy with another run, the checkpoint saver
 * failing) leaves the approval pending as it was, still answerable, and its answer sends
 * the draft once. In process, on an in-memory app, so the failures are exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/pipeline.h"
#include "app/app.h"
#include "app/approvals.h"
#include "app/invoke.h"
#include "base/config.h"
#include "domain/lead.h"
#include "graph/run.h"
#include "graph/saver.h"
#include "store/store.h"
#include "../test_app.h"

/* Invokes the pipeline on thread with the lead of contact/email; returns the SA_* code
 * (err says why) and, when it stopped at an approval, that approval's id in approval. */
static int invoke_lead(struct sa_app *app, const char *thread, const char *contact,
                       const char *email, char approval[SA_UUID_LEN], struct sa_err *err)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"company_name\":\"Marlowe Biotech\",\"industry\":\"SaaS\",\"company_size\":"
             "\"201-500\",\"annual_revenue\":38000000,\"country\":\"US\",\"website\":"
             "\"https://marlowe.example\",\"contact_info\":{\"name\":\"%s\",\"title\":\"VP of "
             "Sales\",\"email\":\"%s\"},\"signals\":[\"requested_demo\",\"hiring_sales\"]}",
             contact, email);
    json_t *in = json_loads(text, 0, NULL);
    json_t *detail = json_array();
    struct sa_lead lead;
    assert_int_equal(sa_lead_parse(in, "", &lead, detail), 0);
    struct sa_invoke_req req = {.type = SA_AGENT_PIPELINE, .lead = &lead, .thread_id = thread};
    struct sa_invoke_res res;
    int rc = sa_app_invoke(app, &req, &res, err);
    if (approval) {
        const char *id = json_string_value(json_object_get(
            json_array_get(json_object_get(res.output, "approvals"), 0), "approval_id"));
        snprintf(approval, SA_UUID_LEN, "%s", id ? id : "");
    }
    sa_invoke_res_clear(&res);
    sa_lead_clear(&lead);
    json_decref(detail);
    json_decref(in);
    return rc;
}

/* Approval id's status and superseded_by (NULL when none) as stored. */
static void expect_status(struct sa_app *app, const char *id, const char *status)
{
    json_t *a = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_store_approval_get(app->store, id, &a, &err), 0);
    assert_string_equal(json_string_value(json_object_get(a, "status")), status);
    if (strcmp(status, "pending") == 0) {
        assert_true(json_is_null(json_object_get(a, "superseded_by")));
        assert_true(json_is_null(json_object_get(a, "decided_at")));
    }
    json_decref(a);
}

static size_t outbox_to(struct sa_app *app, const char *email)
{
    json_t *items = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_store_outbox_list(app->store, NULL, email, 500, &items, &err), 0);
    size_t n = json_array_size(items);
    json_decref(items);
    return n;
}

/* The approval is still the one its thread waits on; accepting it continues the thread to
 * the end and queues its draft to email, once. */
static void expect_answerable(struct sa_app *app, const char *thread, const char *approval,
                              const char *email)
{
    char waiting[SA_UUID_LEN];
    json_t *request = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_app_approval_pending(app, thread, waiting, &request, &err), 0);
    json_decref(request);
    assert_string_equal(waiting, approval);
    json_t *accept = json_pack("{s:s, s:n}", "type", "accept", "args");
    json_t *detail = json_array(), *out = NULL;
    bool stored = false;
    int rc = sa_app_decide(app, approval, accept, "kim", detail, &out, &stored, &err);
    if (rc)
        fail_msg("accept %s: %d %s", approval, rc, err.msg);
    assert_true(stored);
    assert_string_equal(json_string_value(json_object_get(json_object_get(out, "run"), "status")),
                        "done");
    expect_status(app, approval, "accepted");
    size_t queued = outbox_to(app, email); /* the draft and its sequence's follow-ups */
    assert_true(queued >= 1);
    json_decref(out);
    /* the same answer again, and a start-up's pass over answered approvals: nothing more */
    assert_int_equal(sa_app_decide(app, approval, accept, "kim", detail, &out, &stored, &err), 0);
    assert_true(json_is_true(json_object_get(out, "duplicate")));
    json_decref(out);
    int resumed = -1;
    assert_int_equal(sa_app_resume_decided(app, NULL, NULL, &resumed, &err), 0);
    assert_int_equal(resumed, 0);
    assert_int_equal(outbox_to(app, email), queued);
    json_decref(detail);
    json_decref(accept);
}

/* Another run holds the thread (as graph_invoke does while it runs): the new input is 409
 * before it saved anything, and the approval is not superseded. */
static void test_busy_thread_supersedes_nothing(void **state)
{
    (void)state;
    struct sa_app *app = test_app_open();
    struct sa_err err = {0};
    char first[SA_UUID_LEN];
    assert_int_equal(
        invoke_lead(app, "sup-busy", "Ada Lindqvist", "ada@marlowe.example", first, &err), 0);
    assert_true(first[0]);
    expect_status(app, first, "pending");
    const struct graph *g = sa_pipeline_graph(app->pipeline);
    assert_int_equal(graph_r_busy_enter(g, "sup-busy", GRAPH_HOLD_RUN, &err), 0);
    int rc = invoke_lead(app, "sup-busy", "Ravi Menon", "ravi@marlowe.example", NULL, &err);
    graph_r_busy_leave(g, "sup-busy");
    assert_int_equal(rc, SA_ECONFLICT);
    expect_status(app, first, "pending");
    expect_answerable(app, "sup-busy", first, "ada@marlowe.example");
    assert_int_equal(outbox_to(app, "ravi@marlowe.example"), 0);
    sa_app_close(app);
}

static int failing_put(struct graph_saver *s, const char *thread_id, const struct graph_record *r,
                       struct sa_err *err)
{
    (void)s;
    (void)r;
    return sa_err_set(err, SA_ESTORE, "checkpoint of %s not stored (test)", thread_id);
}

/* The saver fails on the new run's input checkpoint: the run fails, and the supersession
 * it made just before is undone; a new run that saves its input supersedes as usual. */
static void test_saver_failure_supersedes_nothing(void **state)
{
    (void)state;
    struct sa_app *app = test_app_open();
    struct sa_err err = {0};
    char first[SA_UUID_LEN], second[SA_UUID_LEN];
    assert_int_equal(
        invoke_lead(app, "sup-saver", "Ada Lindqvist", "ada@marlowe.example", first, &err), 0);
    const struct graph_saver_ops *ops = app->saver->ops;
    struct graph_saver_ops broken = *ops;
    broken.put = failing_put;
    app->saver->ops = &broken;
    int rc = invoke_lead(app, "sup-saver", "Ravi Menon", "ravi@marlowe.example", NULL, &err);
    app->saver->ops = ops;
    assert_int_equal(rc, SA_ESTORE);
    expect_status(app, first, "pending");
    /* the thread still waits on it: a new run that saves its input supersedes it */
    assert_int_equal(
        invoke_lead(app, "sup-saver", "Ines Duarte", "ines@marlowe.example", second, &err), 0);
    expect_status(app, first, "superseded");
    expect_answerable(app, "sup-saver", second, "ines@marlowe.example");
    assert_int_equal(outbox_to(app, "ada@marlowe.example"), 0);
    assert_int_equal(outbox_to(app, "ravi@marlowe.example"), 0);
    sa_app_close(app);
}

/* Two new runs failing on their input checkpoint in a row leave the approval pending;
 * the reviewer's answer then sends its draft once. */
static void test_saver_failure_then_answer(void **state)
{
    (void)state;
    struct sa_app *app = test_app_open();
    struct sa_err err = {0};
    char first[SA_UUID_LEN];
    assert_int_equal(
        invoke_lead(app, "sup-saver2", "Ada Lindqvist", "ada@marlowe.example", first, &err), 0);
    const struct graph_saver_ops *ops = app->saver->ops;
    struct graph_saver_ops broken = *ops;
    broken.put = failing_put;
    app->saver->ops = &broken;
    for (int i = 0; i < 2; i++)
        assert_int_equal(
            invoke_lead(app, "sup-saver2", "Ravi Menon", "ravi@marlowe.example", NULL, &err),
            SA_ESTORE);
    app->saver->ops = ops;
    expect_status(app, first, "pending");
    expect_answerable(app, "sup-saver2", first, "ada@marlowe.example");
    assert_int_equal(outbox_to(app, "ravi@marlowe.example"), 0);
    sa_app_close(app);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_busy_thread_supersedes_nothing),
        cmocka_unit_test(test_saver_failure_supersedes_nothing),
        cmocka_unit_test(test_saver_failure_then_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
