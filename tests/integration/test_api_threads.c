/* Integration tests of the pipeline's threads: a synchronous pipeline run stops at the BDR
 * approval; its thread's state and checkpoint history (/api/threads/{id}/state and
 * /history, /api/langgraph/state/{id}); a thread reused by a new lead; the pipeline's SSE
 * stream and /api/langgraph/stream. One server (empty database, see harness.h). */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

/* Pins the pipeline: qualification, then enrichment and growth, then marketing, all in
 * the seed's AgentState; a tier-D lead is nurtured and ends after qualification; the
 * stream carries the graph's updates and custom events. */
static void test_pipeline(void **state)
{
    (void)state;
    struct resp r;
    json_t *j = run_agent("pipeline", strong_known, &r);
    assert_string_equal(jstr(j, "agent_type"), "pipeline");
    /* it stops at the BDR workflow's approval, with the draft and one pending approval */
    assert_string_equal(jstr(j, "output.status"), "interrupted");
    assert_string_equal(jstr(j, "output.state.qualification_score.tier"), "A");
    assert_non_null(jget(j, "output.state.enrichment_data.company"));
    assert_non_null(jget(j, "output.state.growth_insights.growth_score"));
    assert_non_null(jget(j, "output.state.marketing_plan.channels"));
    assert_string_equal(jstr(j, "output.state.current_agent"), "bdr");
    assert_int_equal(json_array_size(jget(j, "output.approvals")), 1);
    assert_string_equal(jstr(j, "output.approvals.0.request.action_request.action"),
                        "send_outreach");
    char *lead_path = strf("/api/leads/%s", jstr(j, "lead_id"));
    char *state_path = strf("/api/threads/%s/state", jstr(j, "thread_id"));
    char *hist_path = strf("/api/threads/%s/history", jstr(j, "thread_id"));
    char *seed_state = strf("/api/langgraph/state/%s", jstr(j, "thread_id"));
    resp_free(&r);
    /* the run's thread: its state, and one checkpoint per super-step */
    json_t *st = http_json("GET", state_path, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(st, "values.qualification_score.tier"), "A");
    assert_string_equal(jstr(st, "next.0"), "bdr_approval");
    resp_free(&r);
    json_t *h = http_json("GET", hist_path, NULL, &r);
    assert_int_equal(r.status, 200);
    /* input, enrich, qual, growth, mkt, bdr (the draft) */
    assert_int_equal(json_array_size(jget(h, "history")), 6);
    resp_free(&r);
    http("GET", seed_state, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    http("GET", "/api/threads/no-such-thread/state", NULL, NULL, 0, &r);
    expect_problem("unknown thread", &r, 404, "[\"path\",\"thread_id\"]", NULL);
    resp_free(&r);
    free(state_path);
    free(hist_path);
    free(seed_state);
    json_t *lead = http_json("GET", lead_path, NULL, &r);
    assert_string_equal(jstr(lead, "qualification.tier"), "A");
    assert_string_equal(jstr(lead, "executions.0.agent_type"), "pipeline");
    resp_free(&r);
    free(lead_path);
    j = run_agent("pipeline",
                  "{\"company_name\":\"Paws Rescue\",\"industry\":\"Non-profit\","
                  "\"company_size\":\"1-10\",\"contact_info\":{\"email\":\"paws@gmail.com\"}}",
                  &r);
    assert_string_equal(jstr(j, "output.state.qualification_score.tier"), "D");
    assert_true(json_is_true(jget(j, "output.state.marketing_plan.nurture")));
    /* enriched first (to be scored on what is known), nurtured, never analysed for growth */
    assert_non_null(jget(j, "output.state.enrichment_data.contact"));
    json_t *gr = jget(j, "output.state.growth_insights");
    assert_true(gr == NULL || json_is_null(gr));
    resp_free(&r);
    /* regression: a new lead on a thread that ran before does not inherit its results */
    char *reuse =
        strf("{\"agent_type\":\"pipeline\",\"thread_id\":\"reuse-1\",\"input\":%s}", strong_known);
    j = invoke(reuse, &r);
    free(reuse);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    j = invoke("{\"agent_type\":\"pipeline\",\"thread_id\":\"reuse-1\",\"input\":"
               "{\"company_name\":\"Other\",\"industry\":\"Retail\"}}",
               &r);
    assert_int_equal(r.status, 200);
    /* its own enrichment (nothing known about "Other"), not the earlier lead's company, and
     * no growth analysis left over from that lead */
    json_t *co = jget(j, "output.state.enrichment_data.company");
    assert_true(co == NULL || json_is_null(co));
    gr = jget(j, "output.state.growth_insights");
    assert_true(gr == NULL || json_is_null(gr));
    resp_free(&r);
    char *body = strf("{\"agent_type\":\"pipeline\",\"stream_mode\":[\"updates\",\"custom\"],"
                      "\"input\":%s}",
                      strong_known);
    http("POST", INVOKE, "application/json", body, strlen(body), &r);
    free(body);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.content_type, "text/event-stream"));
    assert_non_null(strstr(r.body, "event: updates\ndata: {\"qualification\""));
    assert_non_null(strstr(r.body, "event: custom"));
    assert_non_null(strstr(r.body, "event: result"));
    assert_non_null(strstr(r.body, "event: end"));
    resp_free(&r);
    /* the original's stream route answers SSE without asking */
    body = strf("{\"agent_type\":\"qualification\",\"input\":%s}", strong_known);
    http("POST", "/api/langgraph/stream", "application/json", body, strlen(body), &r);
    free(body);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.content_type, "text/event-stream"));
    assert_non_null(strstr(r.body, "event: values"));
    resp_free(&r);
}

/* Enrichment runs before qualification: a company the dataset knows, given by name alone,
 * is scored on its real size, industry, revenue and country (it scored 0 before), and the
 * output says which fields came from enrichment. */
static void test_enrichment_before_scoring(void **state)
{
    (void)state;
    struct resp r;
    json_t *j = run_agent("pipeline", "{\"company_name\":\"Quorvianta Software\"}", &r);
    json_t *q = jget(j, "output.state.qualification_score");
    assert_non_null(q);
    assert_true(json_integer_value(json_object_get(q, "score")) >= 30);
    json_t *filled = json_object_get(q, "enriched_fields");
    bool size = false, industry = false;
    size_t i;
    json_t *f;
    json_array_foreach (filled, i, f) {
        size |= strcmp(json_string_value(f), "company_size") == 0;
        industry |= strcmp(json_string_value(f), "industry") == 0;
    }
    assert_true(size && industry);
    long pipeline_score = (long)json_integer_value(json_object_get(q, "score"));
    resp_free(&r);
    /* the same company by a plain qualification invoke and by an import scores the same:
     * the score no longer depends on the path the lead came by */
    j = run_agent("qualification", "{\"company_name\":\"Quorvianta Software\"}", &r);
    assert_int_equal(json_integer_value(jget(j, "output.score")), pipeline_score);
    assert_non_null(jget(j, "output.enriched_fields"));
    resp_free(&r);
    const char csv[] = "Company\nQuorvianta Software\n";
    http("POST", "/api/leads/import", "text/csv", csv, sizeof csv - 1, &r);
    assert_int_equal(r.status, 200);
    json_t *rep = json_loadb(r.body, r.len, 0, NULL);
    assert_int_equal(json_integer_value(jget(rep, "leads.0.score")), pipeline_score);
    json_decref(rep);
    /* the lead's own values win: a size given is not replaced */
    resp_free(&r);
    j = run_agent("pipeline",
                  "{\"company_name\":\"Quorvianta Software\",\"company_size\":\"1-10\"}", &r);
    filled = jget(j, "output.state.qualification_score.enriched_fields");
    json_array_foreach (filled, i, f)
        assert_string_not_equal(json_string_value(f), "company_size");
    resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline),
        cmocka_unit_test(test_enrichment_before_scoring),
    };
    return api_exit_status(cmocka_run_group_tests(tests, api_group_setup, api_group_teardown));
}
