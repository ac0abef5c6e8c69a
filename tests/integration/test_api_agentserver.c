/* Integration tests of the LangGraph Agent Server API subset (issue 16): the official JS
 * SDK and Agent Inbox's raw calls run unchanged against the server (tests/langgraph-sdk/,
 * node), then bad input as problems naming the field, the scopes (a write-only key cannot
 * answer the BDR approval by resuming its thread), resumes of threads with nothing to
 * answer, and a busy thread and a cancel on a server whose pipeline steps are slowed. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A path built in a static buffer (valid until the next PATH). */
static char path_buf[600];
#define PATH(...) (snprintf(path_buf, sizeof path_buf, __VA_ARGS__), path_buf)

/* A key with the given scopes (a JSON array); the caller frees the header line. */
static char *key_header(const char *name, const char *scopes_json)
{
    char *key = create_api_key(name, scopes_json, NULL);
    char *line = strf("X-API-Key: %s", key);
    free(key);
    return line;
}

/* Runs node SCRIPT (in tests/langgraph-sdk) against the current server with the key of
 * header line auth ("X-API-Key: KEY") and extra arguments; asserts it exits 0. */
static void run_node(const char *script, const char *auth, const char *extra)
{
    const char *node = getenv("SA_NODE") ? getenv("SA_NODE") : "node";
    const char *key = strchr(auth, ' ') + 1;
    char *cmd = strf("cd '%s/tests/langgraph-sdk' && [ -d node_modules/@langchain/langgraph-sdk ] "
                     "|| { echo 'tests/langgraph-sdk: run scripts/deps.sh openapi (npm ci)' >&2; "
                     "exit 3; }; '%s' %s http://127.0.0.1:%d '%s' %s",
                     SA_SOURCE_DIR, node, script, harness_port(), key, extra ? extra : "");
    int st = system(cmd);
    free(cmd);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("%s failed (wait status %d)", script, st);
}

/* The SDK's flow: threads, streamed run, interrupt, edit and accept, history, wait. */
static void test_official_sdk(void **state)
{
    (void)state;
    char *auth = key_header("langgraph-sdk", "[\"read\",\"write\",\"approve\"]");
    run_node("check_langgraph_sdk.mjs", auth, NULL);
    free(auth);
}

/* Agent Inbox's resumes; the approvals show the key's name as the reviewer. */
static void test_agent_inbox(void **state)
{
    (void)state;
    char *auth = key_header("agent-inbox", "[\"read\",\"write\",\"approve\"]");
    run_node("check_agent_inbox.mjs", auth, "agent-inbox");
    free(auth);
}

static const char maya[] =
    "{\"company_name\":\"Larkspur Analytics\",\"industry\":\"SaaS\",\"company_size\":\"201-500\","
    "\"annual_revenue\":38000000,\"country\":\"US\",\"website\":\"https://larkspur.example\","
    "\"contact_info\":{\"name\":\"Priya Natarajan\",\"title\":\"VP of Sales\",\"email\":"
    "\"priya@larkspur.example\"},\"signals\":[\"requested_demo\",\"hiring_sales\"]}";

/* A lead like maya's at another company and contact (malloc'd): outreach already sent to
 * one contact is not drafted again, so each approval test needs its own. */
static char *lead_of(const char *company, const char *contact, const char *email)
{
    return strf("{\"company_name\":\"%s\",\"industry\":\"SaaS\",\"company_size\":\"201-500\","
                "\"annual_revenue\":38000000,\"country\":\"US\",\"website\":\"https://%s\","
                "\"contact_info\":{\"name\":\"%s\",\"title\":\"VP of Sales\",\"email\":\"%s\"},"
                "\"signals\":[\"requested_demo\",\"hiring_sales\"]}",
                company, strchr(email, '@') + 1, contact, email);
}

/* POST path with body; checks the problem's status, loc and type. */
static void expect_post(const char *what, const char *path, const char *body, long status,
                        const char *loc, const char *type)
{
    struct resp r;
    http("POST", path, "application/json", body, strlen(body), &r);
    expect_problem(what, &r, status, loc, type);
    resp_free(&r);
}

/* A new thread's id (malloc'd). */
static char *new_thread(void)
{
    struct resp r;
    json_t *j = http_json("POST", "/threads", "{}", &r);
    assert_int_equal(r.status, 200);
    char *id = strdup(jstr(j, "thread_id"));
    resp_free(&r);
    return id;
}

static void test_bad_input(void **state)
{
    (void)state;
    struct resp r;
    http("POST", "/threads", "application/json", "{\"metadata\":", 12, &r);
    assert_int_equal(r.status, 400);
    resp_free(&r);
    expect_post("metadata not an object", "/threads", "{\"metadata\":[1]}", 422,
                "[\"body\",\"metadata\"]", "dict_type");
    expect_post("bad thread id", "/threads", "{\"thread_id\":\"no spaces please\"}", 422,
                "[\"body\",\"thread_id\"]", NULL);
    expect_post("bad if_exists", "/threads", "{\"if_exists\":\"replace\"}", 422,
                "[\"body\",\"if_exists\"]", "enum");
    char *t = new_thread();
    char *dup = strf("{\"thread_id\":\"%s\"}", t);
    expect_post("thread exists", "/threads", dup, 409, "[\"body\",\"thread_id\"]", NULL);
    free(dup);
    char *wait = strf("/threads/%s/runs/wait", t);
    expect_post("no assistant", wait, "{\"input\":{}}", 422, "[\"body\",\"assistant_id\"]",
                "missing");
    expect_post("assistant not a string", wait, "{\"assistant_id\":7,\"input\":{}}", 422,
                "[\"body\",\"assistant_id\"]", "string_type");
    expect_post("unknown assistant", wait, "{\"assistant_id\":\"closer\",\"input\":{}}", 404,
                "[\"body\",\"assistant_id\"]", NULL);
    char *body = strf("{\"assistant_id\":\"pipeline\",\"input\":%s,\"stream_mode\":"
                      "[\"values\",\"everything\"]}",
                      maya);
    expect_post("unknown stream mode", wait, body, 422, "[\"body\",\"stream_mode\",1]", "enum");
    free(body);
    body = strf("{\"assistant_id\":\"pipeline\",\"input\":%s,\"multitask_strategy\":\"enqueue\"}",
                maya);
    expect_post("multitask enqueue", wait, body, 422, "[\"body\",\"multitask_strategy\"]", "enum");
    free(body);
    expect_post("no input", wait, "{\"assistant_id\":\"pipeline\"}", 422, "[\"body\",\"input\"]",
                "missing");
    expect_post("lead with a number for a name", wait,
                "{\"assistant_id\":\"pipeline\",\"input\":{\"company_name\":42}}", 422, NULL, NULL);
    expect_post("command not an object", wait, "{\"assistant_id\":\"pipeline\",\"command\":\"go\"}",
                422, "[\"body\",\"command\"]", "dict_type");
    expect_post("command.goto", wait,
                "{\"assistant_id\":\"pipeline\",\"command\":{\"goto\":\"bdr_send\",\"resume\":1}}",
                422, "[\"body\",\"command\"]", "not_supported");
    /* a thread that never ran has nothing to resume */
    expect_post("resume without an interrupt", wait,
                "{\"assistant_id\":\"pipeline\",\"command\":{\"resume\":[{\"type\":\"accept\"}]}}",
                409, "[\"body\",\"command\",\"resume\"]", NULL);
    expect_post("stateless resume", "/runs/wait",
                "{\"assistant_id\":\"pipeline\",\"command\":{\"resume\":[{\"type\":\"accept\"}]}}",
                409, "[\"body\",\"command\",\"resume\"]", NULL);
    expect_post("a subgraph's namespace", "/threads/abc%7C1:bdr/runs/wait",
                "{\"assistant_id\":\"qualification\",\"input\":{}}", 422,
                "[\"path\",\"thread_id\"]", "string_pattern_mismatch");
    expect_post("unknown thread", "/threads/never-made/runs/wait",
                "{\"assistant_id\":\"qualification\",\"input\":{}}", 404,
                "[\"path\",\"thread_id\"]", NULL);
    expect_post("history filter", PATH("/threads/%s/history", t), "{\"before\":{\"x\":1}}", 422,
                "[\"body\",\"before\"]", "not_supported");
    char *path = strf("/threads/%s/runs/not-a-uuid", t);
    http("GET", path, NULL, NULL, 0, &r);
    expect_problem("run id not a uuid", &r, 422, "[\"path\",\"run_id\"]", NULL);
    resp_free(&r);
    free(path);
    path = strf("/threads/%s/runs/00000000-0000-4000-8000-000000000000", t);
    http("GET", path, NULL, NULL, 0, &r);
    expect_problem("unknown run", &r, 404, "[\"path\",\"run_id\"]", NULL);
    resp_free(&r);
    free(path);
    http("GET", "/assistants/closer", NULL, NULL, 0, &r);
    expect_problem("unknown assistant", &r, 404, "[\"path\",\"assistant_id\"]", NULL);
    resp_free(&r);
    expect_post("state at a checkpoint without its id", PATH("/threads/%s/state/checkpoint", t),
                "{\"checkpoint\":{\"checkpoint_ns\":\"\"}}", 422,
                "[\"body\",\"checkpoint\",\"checkpoint_id\"]", NULL);
    http("GET", PATH("/threads/%s/state/01a23ae4-0000-7000-8000-000000000000", t), NULL, NULL, 0,
         &r);
    expect_problem("unknown checkpoint", &r, 404, "[\"path\",\"checkpoint_id\"]", NULL);
    resp_free(&r);
    http("GET", "/threads/never-made/state", NULL, NULL, 0, &r);
    expect_problem("unknown thread's state", &r, 404, "[\"path\",\"thread_id\"]", NULL);
    resp_free(&r);
    /* outside /api/ too, nothing but /info answers without a valid key */
    harness_auth("X-API-Key: sa_not_a_real_key");
    http("POST", "/threads", "application/json", "{}", 2, &r);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    harness_auth("");
    http("GET", "/assistants/pipeline", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    http("GET", "/info", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    harness_auth(NULL);
    expect_post("threads.search status", "/threads/search", "{\"status\":\"stuck\"}", 422,
                "[\"body\",\"status\"]", "enum");
    expect_post("threads.search by values", "/threads/search", "{\"values\":{\"a\":1}}", 422,
                "[\"body\",\"values\"]", "not_supported");
    expect_post("assistants.search limit", "/assistants/search", "{\"limit\":\"ten\"}", 422,
                "[\"body\",\"limit\"]", NULL);
    /* fields that would change what happens are refused, not ignored */
    body = strf("{\"assistant_id\":\"qualification\",\"input\":{\"company_name\":\"Tidewater\"},"
                "\"on_disconnect\":\"cancel\"}");
    expect_post("on_disconnect cancel of a background run", PATH("/threads/%s/runs", t), body, 422,
                "[\"body\",\"on_disconnect\"]", "not_supported");
    free(body);
    expect_post("on_disconnect unknown", wait,
                "{\"assistant_id\":\"qualification\",\"input\":{},\"on_disconnect\":\"explode\"}",
                422, "[\"body\",\"on_disconnect\"]", "enum");
    expect_post("after_seconds", wait,
                "{\"assistant_id\":\"qualification\",\"input\":{},\"after_seconds\":30}", 422,
                "[\"body\",\"after_seconds\"]", "not_supported");
    expect_post("webhook", wait,
                "{\"assistant_id\":\"qualification\",\"input\":{},\"webhook\":"
                "\"https://hooks.example/run-done\"}",
                422, "[\"body\",\"webhook\"]", "not_supported");
    expect_post("resume as a map", wait,
                "{\"assistant_id\":\"pipeline\",\"command\":{\"resume\":{\"42fa8f6928e5eaee\":"
                "{\"type\":\"accept\"}}}}",
                422, "[\"body\",\"command\",\"resume\"]", "not_supported");
    /* ids of a search are capped */
    enum { IDS_CAP = 20000 };
    char *ids = malloc(IDS_CAP);
    assert_non_null(ids);
    size_t n = (size_t)snprintf(ids, IDS_CAP, "{\"ids\":[");
    for (int k = 0; k < 1001; k++)
        n += (size_t)snprintf(ids + n, IDS_CAP - n, "%s\"t-%d\"", k ? "," : "", k);
    snprintf(ids + n, IDS_CAP - n, "]}");
    expect_post("threads.search ids over 1000", "/threads/search", ids, 422, "[\"body\",\"ids\"]",
                "too_long");
    free(ids);
    /* the assistant's graph, as /api/agents/{type}/graph */
    json_t *g = http_json("GET", "/assistants/pipeline/graph", NULL, &r);
    assert_int_equal(r.status, 200);
    bool approval_node = false;
    json_t *node;
    size_t ni;
    json_array_foreach(jget(g, "nodes"), ni, node) approval_node |=
        strcmp(jstr(node, "id") ?: "", "bdr_approval") == 0;
    assert_true(approval_node);
    resp_free(&r);
    http("GET", "/assistants/closer/graph", NULL, NULL, 0, &r);
    expect_problem("unknown assistant's graph", &r, 404, "[\"path\",\"assistant_id\"]", NULL);
    resp_free(&r);
    /* a finished run cannot be cancelled */
    json_t *run = http_json("POST", PATH("/threads/%s/runs", t),
                            "{\"assistant_id\":\"qualification\",\"input\":{\"company_name\":"
                            "\"Tidewater Freight\",\"industry\":\"Logistics\"}}",
                            &r);
    assert_int_equal(r.status, 200);
    char *rid = strdup(jstr(run, "run_id"));
    resp_free(&r);
    path = strf("/threads/%s/runs/%s/join", t, rid);
    json_t *j = http_json("GET", path, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(jstr(j, "tier"));
    resp_free(&r);
    free(path);
    path = strf("/threads/%s/runs/%s/cancel", t, rid);
    http_json("POST", path, NULL, &r);
    expect_problem("cancel of a finished run", &r, 409, "[\"path\",\"run_id\"]", NULL);
    resp_free(&r);
    free(path);
    free(rid);
    free(wait);
    free(t);
}

/* A write-only key runs the pipeline but cannot answer its approval: neither by resuming
 * the thread nor by writing its state; the approval stays pending. The same resume with
 * the approve scope goes through, and a second one is 409. */
static void test_scopes(void **state)
{
    (void)state;
    char *writer = key_header("crm-bot", "[\"read\",\"write\"]");
    char *approver = key_header("sales-lead", "[\"read\",\"write\",\"approve\"]");
    harness_auth(writer);
    char *t = new_thread();
    char *wait = strf("/threads/%s/runs/wait", t);
    char *body = strf("{\"assistant_id\":\"pipeline\",\"input\":%s}", maya);
    struct resp r;
    json_t *j = http_json("POST", wait, body, &r);
    free(body);
    if (r.status != 200)
        fail_msg("pipeline run: %ld %.300s", r.status, r.body);
    assert_int_equal(json_array_size(jget(j, "__interrupt__")), 1);
    resp_free(&r);
    const char accept[] =
        "{\"assistant_id\":\"pipeline\",\"command\":{\"resume\":[{\"type\":\"accept\"}]}}";
    expect_post("write key resumes the approval", wait, accept, 403,
                "[\"header\",\"authorization\"]", "missing_scope");
    char *st = strf("/threads/%s/state", t);
    expect_post("write key writes the decision", st,
                "{\"values\":{\"bdr_decision\":{\"status\":\"approved\"}},\"as_node\":"
                "\"bdr_approval\"}",
                403, "[\"header\",\"authorization\"]", "missing_scope");
    j = http_json("GET", st, NULL, &r);
    assert_string_equal(jstr(j, "next.0"), "bdr_approval");
    resp_free(&r);
    j = http_json("GET", "/api/approvals?status=pending", NULL, &r);
    const char *aid = NULL;
    size_t i;
    json_t *a;
    json_array_foreach(jget(j, "items"), i, a) if (strcmp(jstr(a, "thread_id"), t) == 0) aid =
        jstr(a, "id");
    assert_non_null(aid);
    char *apath = strf("/api/approvals/%s", aid);
    resp_free(&r);
    harness_auth(approver);
    j = http_json("POST", wait, accept, &r);
    if (r.status != 200)
        fail_msg("approver's resume: %ld %.300s", r.status, r.body);
    assert_string_equal(jstr(j, "bdr_decision.status"), "approved");
    resp_free(&r);
    j = http_json("GET", apath, NULL, &r);
    assert_string_equal(jstr(j, "status"), "accepted");
    assert_string_equal(jstr(j, "reviewer"), "sales-lead");
    resp_free(&r);
    expect_post("resume twice", wait, accept, 409, "[\"body\",\"command\",\"resume\"]", NULL);
    harness_auth(NULL);
    /* the audit log: one record of the answer, by the approver (none for the 403s) */
    j = http_json("GET", "/api/audit?action=approval.resume", NULL, &r);
    assert_int_equal(r.status, 200);
    int mine = 0;
    json_array_foreach(jget(j, "items"), i, a)
    {
        if (strcmp(jstr(a, "target") ?: "", apath + strlen("/api/approvals/")) != 0)
            continue;
        mine++;
        assert_non_null(strstr(jstr(a, "principal"), "key:"));
        assert_string_equal(jstr(a, "detail.type"), "accept");
    }
    assert_int_equal(mine, 1);
    resp_free(&r);
    free(apath);
    free(st);
    free(wait);
    free(t);
    free(writer);
    free(approver);
}

/* The calls the scripts make, as the C harness records them for the API document's
 * response check: streams, lists, history, stateless runs. */
static void test_shapes(void **state)
{
    (void)state;
    struct resp r;
    char *t = new_thread();
    const char q[] =
        "{\"assistant_id\":\"qualification\",\"stream_mode\":[\"updates\",\"values\"],"
        "\"input\":{\"company_name\":\"Tidewater Freight\",\"industry\":\"Logistics\"}}";
    http("POST", PATH("/threads/%s/runs/stream", t), "application/json", q, strlen(q), &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.content_type, "text/event-stream"));
    const char first[] = "event: metadata\ndata: {\"run_id\":\"";
    assert_true(strncmp(r.body, first, strlen(first)) == 0);
    assert_non_null(strstr(r.body, "event: updates\ndata: {\"qualification\":{"));
    assert_non_null(strstr(r.body, "event: values\n"));
    assert_non_null(strstr(r.body, "event: end\ndata: null\n\n"));
    char loc[256];
    assert_non_null(resp_header(&r, "Content-Location", loc, sizeof loc));
    resp_free(&r);
    char first_run[256]; /* the streamed run's joinStream */
    snprintf(first_run, sizeof first_run, "%s/stream", loc);
    http("GET", first_run, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_true(strncmp(r.body, first, strlen(first)) == 0);
    resp_free(&r);
    json_t *j = http_json("GET", PATH("/threads/%s/runs?limit=5", t), NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(j), 1);
    assert_string_equal(jstr(j, "0.status"), "success");
    resp_free(&r);
    j = http_json("GET", PATH("/threads/%s/history?limit=5", t), NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(json_is_array(j)); /* an agent that is no graph writes no checkpoint */
    resp_free(&r);
    http("POST", "/runs/stream", "application/json", q, strlen(q), &r);
    assert_int_equal(r.status, 200);
    assert_non_null(resp_header(&r, "Content-Location", loc, sizeof loc));
    assert_true(strncmp(loc, "/runs/", 6) == 0);
    resp_free(&r);
    j = http_json("POST", "/runs", q, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "assistant_id"), "qualification");
    resp_free(&r);
    j = http_json("POST", "/threads/search", "{\"status\":\"idle\",\"limit\":100}", &r);
    assert_int_equal(r.status, 200);
    bool listed = false;
    size_t i;
    json_t *x;
    json_array_foreach(j, i, x) listed |= strcmp(jstr(x, "thread_id"), t) == 0;
    assert_true(listed);
    resp_free(&r);
    /* 64 runs later the first one's events are dropped: a stream of it is its summary */
    for (int k = 0; k < 64; k++) {
        http("POST", "/runs/wait", "application/json", q, strlen(q), &r);
        assert_int_equal(r.status, 200);
        resp_free(&r);
    }
    http("GET", first_run, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_true(strncmp(r.body, first, strlen(first)) == 0);
    assert_null(strstr(r.body, "event: updates"));
    assert_non_null(strstr(r.body, "event: values\ndata: {\"score\":"));
    assert_non_null(strstr(r.body, "event: end\ndata: null\n\n"));
    resp_free(&r);
    j = http_json("GET", "/threads/never-made/runs", NULL, &r);
    expect_problem("runs of an unknown thread", &r, 404, "[\"path\",\"thread_id\"]", NULL);
    resp_free(&r);
    free(t);
}

/* On a server whose pipeline steps take 300 ms each: a second run on a busy thread is
 * 409 (multitask "reject"), and a cancelled run stops before its next step. */
static void test_busy_and_cancel(void **state)
{
    (void)state;
    assert_int_equal(server_setenv(&runs_srv, "PIPELINE_STEP_DELAY_MS", "300"), 0);
    assert_int_equal(server_start(&runs_srv, false), 0);
    harness_use(&runs_srv);
    char *t = new_thread();
    char *runs = strf("/threads/%s/runs", t);
    char *body = strf("{\"assistant_id\":\"pipeline\",\"input\":%s}", maya);
    struct resp r;
    json_t *j = http_json("POST", runs, body, &r);
    assert_int_equal(r.status, 200);
    char *rid = strdup(jstr(j, "run_id"));
    char loc[256];
    assert_non_null(resp_header(&r, "Content-Location", loc, sizeof loc));
    char *want = strf("/threads/%s/runs/%s", t, rid);
    assert_string_equal(loc, want);
    free(want);
    resp_free(&r);
    expect_post("busy thread", runs, body, 409, "[\"path\",\"thread_id\"]", NULL);
    j = http_json("GET", PATH("/threads/%s", t), NULL, &r);
    assert_string_equal(jstr(j, "status"), "busy");
    resp_free(&r);
    char *path = strf("/threads/%s/runs/%s/cancel?wait=0&action=interrupt", t, rid);
    j = http_json("POST", path, NULL, &r);
    assert_int_equal(r.status, 202);
    free(path);
    resp_free(&r);
    path = strf("/threads/%s/runs/%s/join", t, rid);
    j = http_json("GET", path, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_null(jget(j, "__interrupt__")); /* stopped before the approval */
    resp_free(&r);
    free(path);
    j = http_json("GET", PATH("/threads/%s/runs/%s", t, rid), NULL, &r);
    assert_string_equal(jstr(j, "status"), "interrupted");
    resp_free(&r);
    j = http_json("GET", PATH("/threads/%s", t), NULL, &r);
    assert_string_equal(jstr(j, "status"), "idle");
    resp_free(&r);
    /* a wait on a slow run: keep-alive newlines (however many) before the JSON */
    char *t2 = new_thread();
    http("POST", PATH("/threads/%s/runs/wait", t2), "application/json", body, strlen(body), &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.content_type, "application/json"));
    size_t lead = strspn(r.body, "\n");
    json_t *done = json_loads(r.body + lead, 0, NULL);
    assert_non_null(done);
    assert_int_equal(json_array_size(jget(done, "__interrupt__")), 1);
    json_decref(done);
    resp_free(&r);
    free(t2);
    free(body);
    free(runs);
    free(rid);
    free(t);
}

/* The pending approval's id of thread t (malloc'd), or NULL. */
static char *pending_approval(const char *t)
{
    struct resp r;
    json_t *j = http_json("GET", "/api/approvals?status=pending&limit=100", NULL, &r);
    char *id = NULL;
    size_t i;
    json_t *a;
    json_array_foreach(jget(j, "items"), i, a) if (!id && strcmp(jstr(a, "thread_id"), t) == 0) id =
        strdup(jstr(a, "id"));
    resp_free(&r);
    return id;
}

/* A pipeline thread waiting on its approval keeps it consistent: a state update (which
 * would drop the interrupt and leave the approval pending with nothing to resume) is 409
 * naming the approval; an edit must keep the request's action and an accept sends what
 * was asked; each interrupt has an id of its own. */
static void test_approval_consistency(void **state)
{
    (void)state;
    char *t = new_thread(), *t2 = new_thread();
    char *wait = strf("/threads/%s/runs/wait", t);
    char *lead = lead_of("Fernhill Robotics", "Ines Albrecht", "ines@fernhill.example");
    char *body = strf("{\"assistant_id\":\"pipeline\",\"input\":%s}", lead);
    free(lead);
    struct resp r;
    json_t *j = http_json("POST", wait, body, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(jget(j, "__interrupt__")), 1);
    char *iid = strdup(jstr(j, "__interrupt__.0.id"));
    resp_free(&r);
    lead = lead_of("Quillon Health", "Marcus Oyelaran", "marcus@quillon.example");
    char *body2 = strf("{\"assistant_id\":\"pipeline\",\"input\":%s}", lead);
    free(lead);
    j = http_json("POST", PATH("/threads/%s/runs/wait", t2), body2, &r);
    free(body2);
    assert_int_equal(r.status, 200);
    assert_string_not_equal(jstr(j, "__interrupt__.0.id"), iid); /* one id per interrupt */
    resp_free(&r);
    char *aid = pending_approval(t);
    assert_non_null(aid);
    char *st = strf("/threads/%s/state", t);
    const char garbage[] = "{\"values\":{\"bdr_draft\":\"garbage\"}}";
    http("POST", st, "application/json", garbage, strlen(garbage), &r);
    expect_problem("state update of an interrupted thread", &r, 409, "[\"path\",\"thread_id\"]",
                   NULL);
    assert_non_null(strstr(r.body, aid));
    resp_free(&r);
    j = http_json("GET", st, NULL, &r);
    assert_string_equal(jstr(j, "next.0"), "bdr_approval");
    assert_string_equal(jstr(j, "interrupts.0.id"), iid);
    resp_free(&r);
    j = http_json("GET", PATH("/threads/%s", t), NULL, &r);
    assert_string_equal(jstr(j, "status"), "interrupted");
    resp_free(&r);
    expect_post(
        "edit with another action", wait,
        "{\"assistant_id\":\"pipeline\",\"command\":{\"resume\":[{\"type\":\"edit\",\"args\":"
        "{\"action\":\"delete_everything\",\"args\":{\"subject\":\"Hello\"}}}]}}",
        422, "[\"body\",\"command\",\"resume\",0,\"args\",\"action\"]", "value_error");
    expect_post(
        "edit without an action", wait,
        "{\"assistant_id\":\"pipeline\",\"command\":{\"resume\":[{\"type\":\"edit\",\"args\":"
        "{\"args\":{\"subject\":\"Hello\"}}}]}}",
        422, "[\"body\",\"command\",\"resume\",0,\"args\",\"action\"]", "missing");
    expect_post("accept with args", wait,
                "{\"assistant_id\":\"pipeline\",\"command\":{\"resume\":[{\"type\":\"accept\","
                "\"args\":{\"foo\":1}}]}}",
                422, "[\"body\",\"command\",\"resume\",0,\"args\"]", "not_editable");
    char *still = pending_approval(t);
    assert_non_null(still);
    assert_string_equal(still, aid);
    free(still);
    j = http_json("POST", wait,
                  "{\"assistant_id\":\"pipeline\",\"command\":{\"resume\":[{\"type\":\"accept\","
                  "\"args\":null}]}}",
                  &r);
    if (r.status != 200)
        fail_msg("accept: %ld %.300s", r.status, r.body);
    assert_string_equal(jstr(j, "bdr_decision.status"), "approved");
    resp_free(&r);
    /* answered: the thread takes state updates again */
    const char note[] = "{\"values\":{\"current_agent\":\"reviewed\"}}";
    http("POST", st, "application/json", note, strlen(note), &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    free(st);
    free(aid);
    free(iid);
    free(body);
    free(wait);
    free(t2);
    free(t);
}

/* How many outbox items are addressed to email. */
static size_t outbox_to(const char *email)
{
    struct resp r;
    json_t *j = http_json("GET", PATH("/api/outbox?email=%s&limit=500", email), NULL, &r);
    assert_int_equal(r.status, 200);
    size_t n = json_array_size(jget(j, "items"));
    resp_free(&r);
    return n;
}

/* Answers approval id with accept; expects 409 "superseded" naming run by. */
static void expect_superseded(const char *id, const char *by)
{
    struct resp r;
    const char accept[] = "{\"type\":\"accept\",\"args\":null}";
    http("POST", PATH("/api/approvals/%s", id), "application/json", accept, strlen(accept), &r);
    expect_problem("answer to a superseded approval", &r, 409, "[\"path\",\"approval_id\"]",
                   "superseded");
    assert_string_equal(jstr(r.json, "detail.0.ctx.superseded_by"), by);
    assert_non_null(strstr(jstr(r.json, "detail.0.msg"), by));
    resp_free(&r);
    json_t *a = http_json("GET", PATH("/api/approvals/%s", id), NULL, &r);
    assert_string_equal(jstr(a, "status"), "superseded");
    assert_string_equal(jstr(a, "superseded_by"), by);
    assert_true(json_is_null(jget(a, "reviewer")));
    resp_free(&r);
}

/* A new run with new input on a pipeline thread waiting on its approval starts the thread
 * over (LangGraph's semantics) and supersedes that approval: answering it is 409 naming
 * the newer run, the pending list holds only the newer run's approval, and nothing of the
 * superseded draft is ever sent. The same through POST /api/langgraph/invoke. */
static void test_new_input_supersedes_approval(void **state)
{
    (void)state;
    char *t = new_thread();
    char *wait = strf("/threads/%s/runs/wait", t);
    char *lead = lead_of("Marlowe Biotech", "Ada Lindqvist", "ada@marlowe.example");
    char *body = strf("{\"assistant_id\":\"pipeline\",\"input\":%s}", lead);
    free(lead);
    struct resp r;
    json_t *j = http_json("POST", wait, body, &r);
    free(body);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(jget(j, "__interrupt__")), 1);
    resp_free(&r);
    char *first = pending_approval(t);
    assert_non_null(first);
    /* the Agent Server: a new run with another lead */
    lead = lead_of("Marlowe Biotech", "Ravi Menon", "ravi@marlowe.example");
    body = strf("{\"assistant_id\":\"pipeline\",\"input\":%s}", lead);
    free(lead);
    j = http_json("POST", wait, body, &r);
    free(body);
    if (r.status != 200 || jget(j, "__error__"))
        fail_msg("new input on a thread waiting on its approval: %ld %.300s", r.status, r.body);
    assert_non_null(strstr(jstr(j, "__interrupt__.0.value.0.action_request.args.to") ?: "",
                           "ravi@marlowe.example"));
    char loc[256];
    assert_non_null(resp_header(&r, "Content-Location", loc, sizeof loc));
    char *run_id = strdup(strrchr(loc, '/') + 1);
    resp_free(&r);
    char *second = pending_approval(t);
    assert_non_null(second);
    assert_string_not_equal(second, first);
    expect_superseded(first, run_id);
    j = http_json("GET", "/api/approvals?status=superseded&limit=500", NULL, &r);
    bool listed = false;
    size_t i;
    json_t *a;
    json_array_foreach(jget(j, "items"), i, a) listed |= strcmp(jstr(a, "id"), first) == 0;
    assert_true(listed);
    resp_free(&r);
    /* invoke: another new input supersedes the Agent Server run's approval in its turn */
    lead = lead_of("Marlowe Biotech", "Ines Duarte", "ines@marlowe.example");
    body = strf("{\"agent_type\":\"pipeline\",\"thread_id\":\"%s\",\"input\":%s}", t, lead);
    free(lead);
    j = invoke(body, &r);
    free(body);
    assert_int_equal(r.status, 200);
    char *exec_id = strdup(jstr(j, "execution_id"));
    resp_free(&r);
    expect_superseded(second, exec_id);
    char *third = pending_approval(t);
    assert_non_null(third);
    assert_string_not_equal(third, second);
    /* the thread's own approval is the one that counts: answered once, sent once */
    j = http_json("POST", PATH("/api/approvals/%s", third), "{\"type\":\"accept\",\"args\":null}",
                  &r);
    if (r.status != 200)
        fail_msg("accept the newest approval: %ld %.300s", r.status, r.body);
    assert_string_equal(jstr(j, "run.status"), "done");
    resp_free(&r);
    expect_post("resume after the answer", wait,
                "{\"assistant_id\":\"pipeline\",\"command\":{\"resume\":[{\"type\":\"accept\"}]}}",
                409, "[\"body\",\"command\",\"resume\"]", NULL);
    assert_int_equal(outbox_to("ada@marlowe.example"), 0);
    assert_int_equal(outbox_to("ravi@marlowe.example"), 0);
    assert_true(outbox_to("ines@marlowe.example") >= 1);
    free(third);
    free(exec_id);
    free(second);
    free(run_id);
    free(first);
    free(wait);
    free(t);
}

/* Agent Inbox lists interrupted threads however many threads were created since. */
static void test_search_finds_interrupted(void **state)
{
    (void)state;
    /* a pipeline thread interrupted at its approval by invoke, not by this API's runs */
    const char *t = "inbox-after-1000";
    char *lead = lead_of("Brightwater Logistics", "Tomas Ekberg", "tomas@brightwater.example");
    char *body = strf("{\"agent_type\":\"pipeline\",\"thread_id\":\"%s\",\"input\":%s}", t, lead);
    free(lead);
    struct resp r;
    invoke(body, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    json_t *j = http_json("GET", PATH("/threads/%s", t), NULL, &r);
    assert_string_equal(jstr(j, "status"), "interrupted");
    resp_free(&r);
    for (int k = 0; k < 1001; k++)
        free(new_thread());
    j = http_json("POST", "/threads/search", "{\"status\":\"interrupted\",\"limit\":1000}", &r);
    assert_int_equal(r.status, 200);
    bool found = false;
    size_t i;
    json_t *x;
    json_array_foreach(j, i, x) found |= strcmp(jstr(x, "thread_id"), t) == 0;
    assert_true(found);
    resp_free(&r);
    free(body);
}

/* Sends a raw request with the admin key and leaves after its status line (the server
 * then writes to a closed connection); returns the status code. */
static int post_and_leave(const char *path, const char *json)
{
    char *req = strf("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\nContent-Type: "
                     "application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     path, harness_auth_header(), strlen(json), json);
    char line[256];
    int got = raw_exchange(req, strlen(req), line, sizeof line);
    free(req);
    return got == 1 ? status_code_of(line) : -1;
}

/* On a server of two HTTP threads whose steps take 300 ms: a run past THREADS is 503 with
 * Retry-After at once (the HTTP thread stays free: /info answers), and cancel's wait=1
 * answers with the run once it ended. */
static void test_full_pool_and_cancel_wait(void **state)
{
    (void)state;
    assert_int_equal(server_setenv(&runs_srv, "PIPELINE_STEP_DELAY_MS", "300"), 0);
    assert_int_equal(server_start(&runs_srv, false), 0); /* THREADS 2 (harness) */
    harness_use(&runs_srv);
    char *t = new_thread(), *t2 = new_thread(), *t3 = new_thread();
    char *body = strf("{\"assistant_id\":\"pipeline\",\"input\":%s}", maya);
    struct resp r;
    json_t *j = http_json("POST", PATH("/threads/%s/runs", t), body, &r);
    assert_int_equal(r.status, 200);
    char *rid = strdup(jstr(j, "run_id"));
    resp_free(&r);
    http_json("POST", PATH("/threads/%s/runs", t2), body, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    http("POST", PATH("/threads/%s/runs", t3), "application/json", body, strlen(body), &r);
    expect_problem("a run past THREADS", &r, 503, NULL, NULL);
    char ra[32];
    assert_non_null(resp_header(&r, "Retry-After", ra, sizeof ra));
    assert_true(strtol(ra, NULL, 10) > 0);
    resp_free(&r);
    http("GET", "/info", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    json_t *run = http_json("POST", PATH("/threads/%s/runs/%s/cancel?wait=1", t, rid), NULL, &r);
    if (r.status != 202 || !run)
        fail_msg("cancel wait=1: %ld %.300s", r.status, r.body);
    assert_string_equal(jstr(run, "run_id"), rid);
    assert_string_equal(jstr(run, "status"), "interrupted"); /* ended, cancelled */
    resp_free(&r);
    j = http_json("GET", PATH("/threads/%s", t), NULL, &r);
    assert_string_equal(jstr(j, "status"), "idle");
    resp_free(&r);
    http_json("POST", PATH("/threads/%s/runs/%s/cancel?wait=maybe", t, rid), NULL, &r);
    expect_problem("cancel wait not a flag", &r, 422, "[\"query\",\"wait\"]", NULL);
    resp_free(&r);
    free(rid);
    free(body);
    free(t3);
    free(t2);
    free(t);
}

/* On a server whose steps take 300 ms: a streamed run with on_disconnect "cancel" stops
 * when its client leaves; a state update while another request runs the thread's graph
 * is 409 (not 404). */
static void test_disconnect_and_busy_graph(void **state)
{
    (void)state;
    assert_int_equal(server_setenv(&runs_srv, "PIPELINE_STEP_DELAY_MS", "300"), 0);
    assert_int_equal(server_start(&runs_srv, false), 0);
    harness_use(&runs_srv);
    char *t = new_thread();
    char *body = strf("{\"assistant_id\":\"pipeline\",\"input\":%s,\"on_disconnect\":\"cancel\","
                      "\"stream_mode\":[\"updates\",\"values\"]}",
                      maya);
    char *path = strf("/threads/%s/runs/stream", t);
    assert_int_equal(post_and_leave(path, body), 200);
    free(path);
    struct resp r;
    json_t *j = http_json("GET", PATH("/threads/%s/runs", t), NULL, &r);
    assert_int_equal(json_array_size(j), 1);
    char *rid = strdup(jstr(j, "0.run_id"));
    resp_free(&r);
    j = http_json("GET", PATH("/threads/%s/runs/%s/join", t, rid), NULL, &r);
    assert_int_equal(r.status, 200);
    assert_null(jget(j, "__interrupt__")); /* cancelled before the approval */
    resp_free(&r);
    j = http_json("GET", PATH("/threads/%s/runs/%s", t, rid), NULL, &r);
    assert_string_equal(jstr(j, "status"), "interrupted");
    resp_free(&r);
    free(rid);
    /* the thread's graph run by /api/langgraph/stream (not an Agent Server run) */
    char *live = strf("{\"agent_type\":\"pipeline\",\"thread_id\":\"%s\",\"input\":%s}", t, maya);
    assert_int_equal(post_and_leave("/api/langgraph/stream", live), 200);
    free(live);
    const char note[] = "{\"values\":{\"current_agent\":\"reviewed\"}}";
    http("POST", PATH("/threads/%s/state", t), "application/json", note, strlen(note), &r);
    expect_problem("state update while the graph runs", &r, 409, "[\"path\",\"thread_id\"]", NULL);
    resp_free(&r);
    free(body);
    free(t);
}

/* Polls thread t's state (every 20 ms, 10 s at most) until its next step includes node;
 * fails the test when it does not come. */
static void wait_next(const char *t, const char *node)
{
    for (int i = 0; i < 500; i++) {
        struct resp r;
        json_t *j = http_json("GET", PATH("/threads/%s/state", t), NULL, &r);
        bool there = false;
        size_t k;
        json_t *x;
        json_array_foreach(jget(j, "next"), k, x) there |=
            strcmp(json_string_value(x) ?: "", node) == 0;
        resp_free(&r);
        if (there)
            return;
        usleep(20 * 1000);
    }
    fail_msg("thread %s never got to %s", t, node);
}

/* On a server whose steps take 300 ms: a pipeline run cancelled mid-way leaves a
 * checkpoint with tasks still to run; a new run with new input on the thread starts again
 * from START (LangGraph's semantics: the input goes on top of the thread's state and the
 * old pending tasks are discarded), so it does not run marketing on the state the new
 * lead just reset ("marketing needs the lead's qualification first") and reaches the new
 * lead's approval. */
static void test_new_input_after_cancel(void **state)
{
    (void)state;
    assert_int_equal(server_setenv(&runs_srv, "PIPELINE_STEP_DELAY_MS", "300"), 0);
    assert_int_equal(server_start(&runs_srv, false), 0);
    harness_use(&runs_srv);
    char *t = new_thread();
    char *lead = lead_of("Halcyon Freight", "Dara Okafor", "dara@halcyon.example");
    char *body = strf("{\"assistant_id\":\"pipeline\",\"input\":%s}", lead);
    free(lead);
    struct resp r;
    json_t *j = http_json("POST", PATH("/threads/%s/runs", t), body, &r);
    free(body);
    assert_int_equal(r.status, 200);
    char *rid = strdup(jstr(j, "run_id"));
    resp_free(&r);
    wait_next(t, "growth"); /* cancelled while growth runs: marketing is left pending */
    http_json("POST", PATH("/threads/%s/runs/%s/cancel?wait=1", t, rid), NULL, &r);
    assert_int_equal(r.status, 202);
    resp_free(&r);
    j = http_json("GET", PATH("/threads/%s/state", t), NULL, &r);
    const char *left = jstr(j, "next.0");
    if (!left || strcmp(left, "enrichment") == 0 || strcmp(left, "bdr_approval") == 0)
        fail_msg("the cancelled run left no stale task: next %s", left ? left : "(none)");
    resp_free(&r);
    lead = lead_of("Corvid Labs", "Noor Haddad", "noor@corvid.example");
    body = strf("{\"assistant_id\":\"pipeline\",\"input\":%s}", lead);
    free(lead);
    http("POST", PATH("/threads/%s/runs/wait", t), "application/json", body, strlen(body), &r);
    free(body);
    assert_int_equal(r.status, 200);
    json_t *done = json_loads(r.body + strspn(r.body, "\n"), 0, NULL);
    if (!done || jget(done, "__error__"))
        fail_msg("new input after a cancel: %.400s", r.body);
    assert_int_equal(json_array_size(jget(done, "__interrupt__")), 1);
    assert_non_null(strstr(jstr(done, "__interrupt__.0.value.0.action_request.args.to") ?: "",
                           "noor@corvid.example"));
    assert_non_null(jget(done, "qualification_score.tier"));
    json_decref(done);
    resp_free(&r);
    /* the step after the new input ran START's successor alone */
    j = http_json("GET", PATH("/threads/%s/history?limit=20", t), NULL, &r);
    assert_int_equal(r.status, 200);
    size_t k = 0;
    while (k < json_array_size(j) &&
           strcmp(jstr(json_array_get(j, k), "metadata.source") ?: "", "input") != 0)
        k++;
    assert_true(k > 0 && k < json_array_size(j));
    json_t *after = jget(json_array_get(j, k - 1), "metadata.writes");
    assert_int_equal(json_object_size(after), 1);
    assert_non_null(json_object_get(after, "enrichment"));
    resp_free(&r);
    free(rid);
    free(t);
}

int main(void)
{
    setenv("SEND_WINDOW", "any", 1);  /* whatever the day and hour the test runs */
    setenv("OUTBOX_POLL_MS", "0", 1); /* hold the mail */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_official_sdk),
        cmocka_unit_test(test_agent_inbox),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_scopes),
        cmocka_unit_test(test_shapes),
        cmocka_unit_test_setup_teardown(test_busy_and_cancel, runs_setup, runs_teardown),
        cmocka_unit_test(test_approval_consistency),
        cmocka_unit_test(test_new_input_supersedes_approval),
        cmocka_unit_test(test_search_finds_interrupted),
        cmocka_unit_test_setup_teardown(test_full_pool_and_cancel_wait, runs_setup, runs_teardown),
        cmocka_unit_test_setup_teardown(test_disconnect_and_busy_graph, runs_setup, runs_teardown),
        cmocka_unit_test_setup_teardown(test_new_input_after_cancel, runs_setup, runs_teardown),
    };
    return api_exit_status(cmocka_run_group_tests(tests, api_group_setup, api_group_teardown));
}
