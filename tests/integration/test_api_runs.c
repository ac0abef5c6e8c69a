/* Integration tests of background runs: POST /api/runs, its SSE stream and cancel on the
 * main server (empty database, see harness.h); then durability on runs_srv, restarted by
 * the tests: a run a stopped process left "running" resumes at start-up, and a run
 * killed (SIGKILL) mid-pipeline resumes from its last checkpoint. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Pins background runs: POST /api/runs answers 202 at once, the run finishes with the
 * pipeline's state, its stream replays every event to a late client, a finished run
 * cannot be cancelled, and bad requests get problems. */
static void test_runs(void **state)
{
    (void)state;
    struct resp r;
    char *body = strf("{\"input\":%s}", strong_known);
    json_t *j = http_json("POST", "/api/runs", body, &r);
    free(body);
    assert_int_equal(r.status, 202);
    assert_string_equal(jstr(j, "status"), "queued");
    char id[64];
    snprintf(id, sizeof id, "%s", jstr(j, "run_id"));
    resp_free(&r);
    j = wait_run(id, &r);
    assert_string_equal(jstr(j, "status"), "awaiting_approval"); /* the BDR approval */
    assert_string_equal(jstr(j, "output.state.qualification_score.tier"), "A");
    assert_non_null(jget(j, "output.state.marketing_plan"));
    resp_free(&r);
    char *path = strf("/api/runs/%s/stream", id);
    http("GET", path, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.content_type, "text/event-stream"));
    assert_non_null(strstr(r.body, "event: metadata"));
    assert_non_null(strstr(r.body, "event: updates\ndata: {\"marketing\""));
    assert_non_null(strstr(r.body, "event: result"));
    assert_non_null(strstr(r.body, "event: end"));
    resp_free(&r);
    free(path);
    path = strf("/api/runs/%s/cancel", id);
    http("POST", path, "application/json", NULL, 0, &r);
    expect_problem("cancel a finished run", &r, 409, NULL, NULL);
    resp_free(&r);
    free(path);
    http("GET", "/api/runs/0b7e9a52-7c1f-4d3e-9a6b-3f2c1d0e9f8a", NULL, NULL, 0, &r);
    expect_problem("unknown run", &r, 404, NULL, NULL);
    resp_free(&r);
    http("GET", "/api/runs/nope", NULL, NULL, 0, &r);
    expect_problem("bad run id", &r, 422, "[\"path\",\"run_id\"]", NULL);
    resp_free(&r);
    http("POST", "/api/runs", "application/json", "{}", 2, &r);
    expect_problem("run without input", &r, 422, "[\"body\",\"input\"]", NULL);
    resp_free(&r);
}

/* Pins durability of runs across a restart: a run the stopped process left "running"
 * (its row written straight into the database here, as a crash would leave it) is
 * resumed at start-up and finishes, with its lead stored. */
static void test_runs_resume_after_restart(void **state)
{
    (void)state;
    SKIP_ON_PG("it writes the crashed run's row into the server's SQLite file with sqlite3");
    assert_int_equal(server_start(&runs_srv, false), 0);
    assert_true(exited_ok(server_stop(&runs_srv))); /* creates and migrates the database */
    const char *run_id = "0b7e9a52-7c1f-4d3e-9a6b-3f2c1d0e9f8b";
    char *sql = strf("INSERT INTO runs (id, lead_id, thread_id, status, input, created_at, "
                     "updated_at) VALUES ('%s', '0b7e9a52-7c1f-4d3e-9a6b-3f2c1d0e9f8c', "
                     "'crash-thread', 'running', '%s', '2026-01-01T00:00:00.000Z', "
                     "'2026-01-01T00:00:00.000Z')",
                     run_id, strong_known);
    /* the lead JSON has quotes: the SQL goes to sqlite3 through a file */
    char *sql_path = strf("%s/insert.sql", runs_srv.dir);
    FILE *f = fopen(sql_path, "w");
    assert_non_null(f);
    fprintf(f, "%s;\n", sql);
    fclose(f);
    char *cmd = strf("sqlite3 %s/db.sqlite < %s", runs_srv.dir, sql_path);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(sql_path);
    free(sql);
    assert_int_equal(server_start(&runs_srv, false), 0);
    harness_use(&runs_srv);
    struct resp r;
    json_t *j = wait_run(run_id, &r);
    assert_string_equal(jstr(j, "status"), "awaiting_approval");
    assert_string_equal(jstr(j, "output.state.qualification_score.tier"), "A");
    resp_free(&r);
    j = http_json("GET", "/api/leads/0b7e9a52-7c1f-4d3e-9a6b-3f2c1d0e9f8c", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "company_name"), "Quorvianta Software");
    resp_free(&r);
    j = http_json("GET", "/api/threads/crash-thread/state", NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    assert_true(exited_ok(server_stop(&runs_srv)));
}

/* Pins "nothing lost" across a real crash mid-run: with a pause before each agent, a run
 * is killed (SIGKILL) after qualification's checkpoint; the restarted server resumes it
 * from that checkpoint, so qualification's step is not run again, and it finishes. */
static void test_runs_kill_mid_run(void **state)
{
    (void)state;
    setenv("PIPELINE_STEP_DELAY_MS", "400", 1);
    assert_int_equal(server_start(&runs_srv, false), 0);
    harness_use(&runs_srv);
    struct resp r;
    char *body = strf("{\"thread_id\":\"killed-run\",\"input\":%s}", strong_known);
    json_t *j = http_json("POST", "/api/runs", body, &r);
    free(body);
    assert_int_equal(r.status, 202);
    char id[64];
    snprintf(id, sizeof id, "%s", jstr(j, "run_id"));
    resp_free(&r);
    /* wait for qualification's checkpoint (input + qualification = 2) */
    int seen = 0;
    for (int i = 0; i < 250 && seen < 2; i++) {
        j = http_json("GET", "/api/threads/killed-run/history", NULL, &r);
        seen = r.status == 200 ? (int)json_array_size(jget(j, "history")) : 0;
        resp_free(&r);
        if (seen < 2)
            usleep(20 * 1000);
    }
    assert_true(seen >= 2 && seen < 4);
    /* the dashboard's queue gauge counts it while it runs (issue 16) */
    assert_true(metric_value("run_queue_depth") == 1);
    j = http_json("GET", "/api/threads/killed-run/history", NULL, &r);
    char first_ckpt[64];
    snprintf(first_ckpt, sizeof first_ckpt, "%s",
             jstr(jget(j, "history"), "0.config.checkpoint_id"));
    resp_free(&r);
    server_kill(&runs_srv);
    unsetenv("PIPELINE_STEP_DELAY_MS");
    /* on the Redis queue the killed process's delivery stays pending until its visibility
     * timeout (30 s by default) passes; the restarted process then takes it over (on the
     * memory queue the restart queues the unfinished run again at once) */
    setenv("RUN_VISIBILITY_TIMEOUT_MS", "1500", 1);
    assert_int_equal(server_start(&runs_srv, false), 0);
    unsetenv("RUN_VISIBILITY_TIMEOUT_MS");
    harness_use(&runs_srv);
    j = wait_run(id, &r);
    assert_string_equal(jstr(j, "status"), "awaiting_approval");
    assert_string_equal(jstr(j, "output.state.current_agent"), "bdr");
    resp_free(&r);
    assert_true(metric_value("run_queue_depth") == 0); /* awaiting approval: not queued */
    /* the checkpoint written before the kill is still in the history, with only the
     * remaining steps after it: input, enrichment, qualification, growth, marketing */
    j = http_json("GET", "/api/threads/killed-run/history", NULL, &r);
    json_t *h = jget(j, "history");
    assert_int_equal(json_array_size(h), 6);
    bool kept = false;
    size_t i;
    json_t *c;
    json_array_foreach(h, i, c) kept |= strcmp(jstr(c, "config.checkpoint_id"), first_ckpt) == 0;
    assert_true(kept);
    resp_free(&r);
    assert_true(exited_ok(server_stop(&runs_srv)));
}

/* A run for a person already stored updates that lead (the identity rule, docs/leads.md):
 * two runs for one contact give one lead, not two. */
static void test_run_identity(void **state)
{
    (void)state;
    const char input[] = "{\"input\":{\"company_name\":\"Helio Robotics\",\"industry\":\"Robotics\","
                         "\"contact_info\":{\"name\":\"Ana Lima\",\"title\":\"CEO\","
                         "\"email\":\"ana.lima@heliorobotics.example\"}}}";
    struct resp r;
    json_t *j = http_json("POST", "/api/runs", input, &r);
    assert_int_equal(r.status, 202);
    char run[64], lead[64];
    snprintf(run, sizeof run, "%s", jstr(j, "run_id"));
    snprintf(lead, sizeof lead, "%s", jstr(j, "lead_id"));
    resp_free(&r);
    wait_run(run, &r); /* stored once its run ends */
    resp_free(&r);
    j = http_json("POST", "/api/runs", input, &r);
    assert_int_equal(r.status, 202);
    assert_string_equal(jstr(j, "lead_id"), lead);
    snprintf(run, sizeof run, "%s", jstr(j, "run_id"));
    resp_free(&r);
    wait_run(run, &r);
    resp_free(&r);
}

/* The web console's run list and graph (issue 16). GET /api/runs lists the runs the tests
 * above made, newest first, with the input's company; status filters, pages follow the
 * order, bad parameters get 422s naming them. GET /api/agents/pipeline/graph is the graph
 * the runs really ran: every node a run's checkpoints name is one of its nodes, and its
 * edges are the pipeline's (enrichment first, qualification's tier routing conditional). */
static void test_runs_list_and_graph(void **state)
{
    (void)state;
    struct resp r;
    json_t *j = http_json("GET", "/api/runs?limit=500", NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *items = jget(j, "items");
    assert_true(json_array_size(items) >= 3); /* test_runs' and test_run_identity's two */
    assert_int_equal(json_integer_value(jget(j, "total")), (json_int_t)json_array_size(items));
    assert_string_equal(jstr(items, "0.company_name"), "Helio Robotics"); /* the newest */
    for (size_t i = 1; i < json_array_size(items); i++) {
        const char *newer = jstr(json_array_get(items, i - 1), "created_at");
        const char *older = jstr(json_array_get(items, i), "created_at");
        assert_true(strcmp(newer, older) >= 0);
        assert_null(json_object_get(json_array_get(items, i), "output"));
    }
    char second[64], thread[160];
    snprintf(second, sizeof second, "%s", jstr(items, "1.run_id"));
    thread[0] = '\0';
    for (size_t i = 0; i < json_array_size(items); i++) /* test_runs' run, tier A */
        if (strcmp(jstr(json_array_get(items, i), "company_name"), "Helio Robotics") != 0)
            snprintf(thread, sizeof thread, "%s", jstr(json_array_get(items, i), "thread_id"));
    assert_true(thread[0] != '\0');
    resp_free(&r);

    j = http_json("GET", "/api/runs?limit=1&offset=1", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(jget(j, "items")), 1);
    assert_string_equal(jstr(j, "items.0.run_id"), second);
    assert_int_equal(json_integer_value(jget(j, "limit")), 1);
    assert_int_equal(json_integer_value(jget(j, "offset")), 1);
    resp_free(&r);
    j = http_json("GET", "/api/runs?status=awaiting_approval", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(json_array_size(jget(j, "items")) >= 1);
    for (size_t i = 0; i < json_array_size(jget(j, "items")); i++)
        assert_string_equal(jstr(json_array_get(jget(j, "items"), i), "status"),
                            "awaiting_approval");
    resp_free(&r);
    j = http_json("GET", "/api/runs?status=cancelled", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(jget(j, "total")), 0);
    resp_free(&r);
    http("GET", "/api/runs?limit=0", NULL, NULL, 0, &r);
    expect_problem("limit 0", &r, 422, "[\"query\",\"limit\"]", NULL);
    resp_free(&r);
    http("GET", "/api/runs?status=paused", NULL, NULL, 0, &r);
    expect_problem("unknown status", &r, 422, "[\"query\",\"status\"]", NULL);
    resp_free(&r);
    http("GET", "/api/runs?offset=-1", NULL, NULL, 0, &r);
    expect_problem("negative offset", &r, 422, "[\"query\",\"offset\"]", NULL);
    resp_free(&r);

    struct resp rg;
    json_t *g = http_json("GET", "/api/agents/pipeline/graph", NULL, &rg);
    assert_int_equal(rg.status, 200);
    json_t *nodes = jget(g, "nodes"), *edges = jget(g, "edges");
    assert_string_equal(jstr(nodes, "0.id"), "__start__");
    assert_string_equal(jstr(nodes, "0.type"), "schema");
    bool has_edge[4] = {false, false, false, false};
    for (size_t i = 0; i < json_array_size(edges); i++) {
        json_t *e = json_array_get(edges, i);
        const char *from = jstr(e, "source"), *to = jstr(e, "target");
        bool cond = json_is_true(json_object_get(e, "conditional"));
        has_edge[0] |= !strcmp(from, "__start__") && !strcmp(to, "enrichment") && !cond;
        has_edge[1] |= !strcmp(from, "qualification") && !strcmp(to, "growth") && cond;
        has_edge[2] |= !strcmp(from, "qualification") && !strcmp(to, "nurture") && cond;
        has_edge[3] |= !strcmp(from, "bdr_send") && !strcmp(to, "__end__") && !cond;
    }
    for (int i = 0; i < 4; i++)
        if (!has_edge[i])
            fail_msg("pipeline graph lacks edge %d: %s", i, jdump(edges));
    /* every node the run's checkpoints name is a node of the graph */
    char *path = strf("/api/threads/%s/history?limit=50", thread);
    json_t *h = http_json("GET", path, NULL, &r);
    free(path);
    assert_int_equal(r.status, 200);
    int named = 0;
    for (size_t i = 0; i < json_array_size(jget(h, "history")); i++) {
        json_t *writes = jget(json_array_get(jget(h, "history"), i), "metadata.writes");
        const char *node;
        json_t *v;
        json_object_foreach(writes, node, v)
        {
            bool found = false;
            for (size_t k = 0; k < json_array_size(nodes); k++)
                found |= strcmp(jstr(json_array_get(nodes, k), "id"), node) == 0;
            if (!found)
                fail_msg("the run wrote from node %s, which the graph lacks", node);
            named++;
        }
    }
    assert_true(named >= 5); /* enrichment, qualification, growth, marketing, bdr */
    resp_free(&r);
    resp_free(&rg);

    g = http_json("GET", "/api/agents/conversation/graph", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(g, "nodes.1.id"), "understand");
    assert_string_equal(jstr(g, "nodes.2.id"), "respond");
    resp_free(&r);
    g = http_json("GET", "/api/agents/qualification/graph", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(jget(g, "nodes")), 3); /* start, the agent, end */
    assert_string_equal(jstr(g, "edges.1.source"), "qualification");
    assert_string_equal(jstr(g, "edges.1.target"), "__end__");
    resp_free(&r);
    http("GET", "/api/agents/closer/graph", NULL, NULL, 0, &r);
    expect_problem("unknown agent type", &r, 404, "[\"path\",\"agent_type\"]", NULL);
    resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs),
        cmocka_unit_test(test_run_identity),
        cmocka_unit_test(test_runs_list_and_graph), /* reads the runs the two above made */
        cmocka_unit_test_setup_teardown(test_runs_resume_after_restart, runs_setup, runs_teardown),
        cmocka_unit_test_setup_teardown(test_runs_kill_mid_run, runs_setup, runs_teardown),
    };
    return api_exit_status(cmocka_run_group_tests(tests, api_group_setup, api_group_teardown));
}
