/* One timeline per lead (issue 11): a lead taken through the pipeline to its approval,
 * approved, its e-mail and follow-ups queued; GET /api/leads/{id}/timeline shows the
 * execution, the approval, every outbox item (each carrying the lead and its thread) and
 * the audit record of the approval, newest first, all times ISO 8601. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

static bool iso_utc(const char *s)
{
    /* 2026-12-02T07:10:00Z or with a fraction */
    return s && strlen(s) >= 20 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' &&
           s[strlen(s) - 1] == 'Z';
}

static void test_timeline(void **state)
{
    (void)state;
    struct resp r;
    json_t *j = run_agent("pipeline", strong_known, &r);
    char lead[64], thread[160], aid[64];
    snprintf(lead, sizeof lead, "%s", jstr(j, "lead_id"));
    snprintf(thread, sizeof thread, "%s", jstr(j, "thread_id"));
    snprintf(aid, sizeof aid, "%s", jstr(j, "output.approvals.0.approval_id"));
    resp_free(&r);
    assert_true(is_uuid(lead) && is_uuid(aid));
    char *path = strf("/api/approvals/%s", aid);
    j = http_json("POST", path, "{\"type\":\"accept\",\"reviewer\":\"kim@pipewise.io\"}", &r);
    free(path);
    assert_int_equal(r.status, 200);
    resp_free(&r);

    /* the outbox items carry the lead and the thread, and ISO times */
    j = http_json("GET", "/api/outbox?limit=50", NULL, &r);
    assert_int_equal(r.status, 200);
    size_t i, queued = 0;
    json_t *it;
    json_array_foreach (json_object_get(j, "items"), i, it) {
        if (!jstr(it, "lead_id") || strcmp(jstr(it, "lead_id"), lead) != 0)
            continue;
        queued++;
        assert_string_equal(jstr(it, "thread_id"), thread);
        assert_true(iso_utc(jstr(it, "due_at")));
    }
    assert_true(queued >= 2); /* the e-mail and its follow-ups */
    resp_free(&r);

    char *tl = strf("/api/leads/%s/timeline", lead);
    j = http_json("GET", tl, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "lead_id"), lead);
    json_t *items = json_object_get(j, "items");
    assert_int_equal(json_integer_value(json_object_get(j, "count")), (json_int_t)json_array_size(items));
    size_t executions = 0, approvals = 0, outbox = 0;
    const char *prev = NULL;
    json_array_foreach (items, i, it) {
        const char *kind = jstr(it, "kind"), *at = jstr(it, "at");
        assert_true(iso_utc(at));
        if (prev)
            assert_true(strcmp(prev, at) >= 0); /* newest first */
        prev = at;
        if (strcmp(kind, "execution") == 0) {
            executions++;
            assert_string_equal(jstr(it, "agent_type"), "pipeline");
        } else if (strcmp(kind, "approval") == 0) {
            approvals++;
            assert_string_equal(jstr(it, "id"), aid);
            assert_string_equal(jstr(it, "status"), "accepted");
            assert_string_equal(jstr(it, "thread_id"), thread);
        } else if (strcmp(kind, "outbox") == 0) {
            outbox++;
            assert_string_equal(jstr(it, "thread_id"), thread);
        }
    }
    assert_int_equal(executions, 1);
    assert_int_equal(approvals, 1);
    assert_int_equal(outbox, queued);
    resp_free(&r);
    /* limit */
    char *tl1 = strf("%s?limit=1", tl);
    j = http_json("GET", tl1, NULL, &r);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
    resp_free(&r);
    free(tl1);
    free(tl);

    /* unknown lead: 404; not a UUID: 422; a bad limit: 422 */
    http("GET", "/api/leads/00000000-0000-4000-8000-000000000000/timeline", NULL, NULL, 0, &r);
    expect_problem("unknown lead", &r, 404, "[\"path\",\"id\"]", NULL);
    resp_free(&r);
    http("GET", "/api/leads/nope/timeline", NULL, NULL, 0, &r);
    expect_problem("not a uuid", &r, 422, "[\"path\",\"id\"]", NULL);
    resp_free(&r);
    tl = strf("/api/leads/%s/timeline?limit=0", lead);
    http("GET", tl, NULL, NULL, 0, &r);
    expect_problem("limit 0", &r, 422, "[\"query\",\"limit\"]", NULL);
    resp_free(&r);
    free(tl);
}

/* A conversation with a stored lead's contact is part of that lead: it shows on the
 * timeline, and erasing the lead deletes the conversation's thread too (it used to stay
 * in the checkpoints with the prospect's words, name and e-mail). */
static void test_conversation_follows_the_lead(void **state)
{
    (void)state;
    struct resp r;
    json_t *j = run_agent("qualification",
                          "{\"company_name\":\"Helio Robotics\",\"contact_info\":{\"name\":"
                          "\"Zoë Müller\",\"email\":\"zoe.mueller@heliorobotics.example\"}}",
                          &r);
    char lead[64];
    snprintf(lead, sizeof lead, "%s", jstr(j, "lead_id"));
    resp_free(&r);
    j = invoke("{\"agent_type\":\"conversation\",\"input\":{\"message\":\"Hi, Zoë here: can we "
               "talk pricing?\",\"contact\":{\"name\":\"Zoë Müller\",\"email\":"
               "\"ZOE.MUELLER@heliorobotics.example\"}}}",
               &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "lead_id"), lead);
    char thread[160];
    snprintf(thread, sizeof thread, "%s", jstr(j, "thread_id"));
    resp_free(&r);
    char *tl = strf("/api/leads/%s/timeline", lead);
    j = http_json("GET", tl, NULL, &r);
    bool turn = false;
    size_t i;
    json_t *it;
    json_array_foreach (json_object_get(j, "items"), i, it)
        turn |= jstr(it, "agent_type") && strcmp(jstr(it, "agent_type"), "conversation") == 0 &&
                strcmp(jstr(it, "thread_id"), thread) == 0;
    assert_true(turn);
    resp_free(&r);
    free(tl);
    /* erased: the conversation's thread goes with the lead */
    char *path = strf("/api/leads/%s", lead);
    http("DELETE", path, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    free(path);
    char *st = strf("/api/threads/%s/state", thread);
    http("GET", st, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeline),
        cmocka_unit_test(test_conversation_follows_the_lead),
    };
    return api_exit_status(cmocka_run_group_tests(tests, api_group_setup, api_group_teardown));
}
