/* The graph engine against LangGraph's documented behaviour. Each test names the
 * behaviour it pins (LangGraph docs: "Graph API concepts", "Persistence", "Human-in-the-
 * loop", "Time travel", "Streaming"; the Pregel/BSP super-step model). */
#include <setjmp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "graph/graph.h"
#include "graph/saver.h"
#include "store/store.h"

/* ---- helpers ---------------------------------------------------------------------- */

/* A node that writes {key: value} given as "key=json" in its arg, and counts its runs. */
struct setter {
    const char *key;
    const char *json;
    int runs;
    int fail_first; /* fail this many runs with SA_EIO */
};

static int set_node(const json_t *state, json_t **update, struct graph_ctx *ctx, void *arg)
{
    (void)state;
    struct setter *s = arg;
    s->runs++;
    if (s->fail_first > 0) {
        s->fail_first--;
        return graph_ctx_fail(ctx, SA_EIO, "%s failed on purpose", graph_ctx_node(ctx));
    }
    if (!s->key) {
        *update = NULL;
        return 0;
    }
    json_t *v = json_loads(s->json, JSON_DECODE_ANY, NULL);
    *update = json_pack("{s:o}", s->key, v);
    return 0;
}

static struct graph *compile(struct graph_builder *b, const struct graph_compile_opts *o)
{
    struct graph *g = NULL;
    struct sa_err err = {0};
    if (graph_compile(b, o, &g, &err))
        fail_msg("compile: %s", err.msg);
    graph_builder_free(b);
    return g;
}

static int invoke(struct graph *g, const char *input, const char *thread, const json_t *resume,
                  struct graph_result *res, struct sa_err *err)
{
    json_t *in = input ? json_loads(input, 0, NULL) : NULL;
    struct graph_run_opts o = {.thread_id = thread, .resume = resume};
    int rc = graph_invoke(g, in, &o, res, err);
    json_decref(in);
    return rc;
}

static void expect_ok(struct graph *g, const char *input, const char *thread, const json_t *resume,
                      struct graph_result *res)
{
    struct sa_err err = {0};
    int rc = invoke(g, input, thread, resume, res, &err);
    if (rc)
        fail_msg("invoke failed (%d): %s", rc, err.msg);
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* ---- the saver under test ----------------------------------------------------------- */

/* The engine's tests run on every saver: SA_TEST_SAVER_URL names one (redis://...,
 * sqlite://PATH, postgresql://...) opened through the registry; unset, the memory saver.
 * A shared saver outlives the test and may hold other runs' threads, so it is wrapped:
 * thread ids get a prefix unique to this process and test, and the threads written are
 * deleted when the wrapper is freed (tests leave nothing behind). */
struct scoped_saver {
    struct graph_saver base; /* first */
    struct graph_saver *inner;
    char prefix[48];
    char (*threads)[96];
    int nthreads;
};

static void scoped_id(const struct scoped_saver *s, const char *thread_id, char out[160])
{
    snprintf(out, 160, "%s%s", s->prefix, thread_id);
}

static void scoped_remember(struct scoped_saver *s, const char *thread_id)
{
    for (int i = 0; i < s->nthreads; i++)
        if (strcmp(s->threads[i], thread_id) == 0)
            return;
    s->threads = realloc(s->threads, (size_t)(s->nthreads + 1) * sizeof *s->threads);
    assert_non_null(s->threads);
    snprintf(s->threads[s->nthreads++], sizeof s->threads[0], "%s", thread_id);
}

static int sc_put(struct graph_saver *b, const char *t, const struct graph_record *r,
                  struct sa_err *err)
{
    struct scoped_saver *s = (struct scoped_saver *)b;
    char id[160];
    scoped_id(s, t, id);
    scoped_remember(s, id);
    return graph_saver_put(s->inner, id, r, err);
}
static int sc_put_writes(struct graph_saver *b, const char *t, const char *cid, const char *w,
                         size_t len, struct sa_err *err)
{
    struct scoped_saver *s = (struct scoped_saver *)b;
    char id[160];
    scoped_id(s, t, id);
    return graph_saver_put_writes(s->inner, id, cid, w, len, err);
}
static int sc_get(struct graph_saver *b, const char *t, const char *cid, struct graph_record *out,
                  struct sa_err *err)
{
    struct scoped_saver *s = (struct scoped_saver *)b;
    char id[160];
    scoped_id(s, t, id);
    return graph_saver_get(s->inner, id, cid, out, err);
}
static int sc_list(struct graph_saver *b, const char *t, int limit, char (**ids)[GRAPH_ID_LEN],
                   int *n, struct sa_err *err)
{
    struct scoped_saver *s = (struct scoped_saver *)b;
    char id[160];
    scoped_id(s, t, id);
    return graph_saver_list(s->inner, id, limit, ids, n, err);
}
static int sc_delete_thread(struct graph_saver *b, const char *t, struct sa_err *err)
{
    struct scoped_saver *s = (struct scoped_saver *)b;
    char id[160];
    scoped_id(s, t, id);
    return graph_saver_delete_thread(s->inner, id, err);
}
static int sc_delete_except(struct graph_saver *b, const char *t, const char *keep,
                            struct sa_err *err)
{
    struct scoped_saver *s = (struct scoped_saver *)b;
    char id[160];
    scoped_id(s, t, id);
    return graph_saver_delete_except(s->inner, id, keep, err);
}
static int sc_sweep(struct graph_saver *b, double now, int *n, struct sa_err *err)
{
    return graph_saver_sweep(((struct scoped_saver *)b)->inner, now, n, err);
}
static int sc_thread_bytes(struct graph_saver *b, const char *t, size_t *bytes, int *records,
                           struct sa_err *err)
{
    struct scoped_saver *s = (struct scoped_saver *)b;
    char id[160];
    scoped_id(s, t, id);
    return graph_saver_thread_bytes(s->inner, id, bytes, records, err);
}
static int sc_hold(struct graph_saver *b, const char *t, struct sa_err *err)
{
    struct scoped_saver *s = (struct scoped_saver *)b;
    char id[160];
    scoped_id(s, t, id);
    return graph_saver_hold(s->inner, id, err);
}
static void sc_free(struct graph_saver *b)
{
    struct scoped_saver *s = (struct scoped_saver *)b;
    for (int i = 0; i < s->nthreads; i++) {
        struct sa_err err = {0};
        if (graph_saver_delete_thread(s->inner, s->threads[i], &err))
            fprintf(stderr, "cleanup of thread %s: %s\n", s->threads[i], err.msg);
    }
    graph_saver_free(s->inner);
    free(s->threads);
    free(s);
}

static const struct graph_saver_ops scoped_ops = {
    .name = "scoped",
    .put = sc_put,
    .put_writes = sc_put_writes,
    .get = sc_get,
    .list = sc_list,
    .delete_thread = sc_delete_thread,
    .delete_except = sc_delete_except,
    .sweep = sc_sweep,
    .thread_bytes = sc_thread_bytes,
    .hold = sc_hold,
    .free = sc_free,
};

/* The saver SA_TEST_SAVER_URL names, or NULL when it is unset. */
static struct graph_saver *env_saver(void)
{
    const char *url = getenv("SA_TEST_SAVER_URL");
    if (!url || !*url)
        return NULL;
    struct graph_saver *inner = NULL;
    struct sa_err err = {0};
    if (sa_saver_open(url, &inner, &err))
        fail_msg("SA_TEST_SAVER_URL: %s", err.msg);
    static int opened;
    struct scoped_saver *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->base.ops = &scoped_ops;
    s->inner = inner;
    snprintf(s->prefix, sizeof s->prefix, "test_graph:%ld:%d:", (long)getpid(), ++opened);
    return &s->base;
}

/* The saver a test that uses one generically runs on (see env_saver). */
static struct graph_saver *test_saver(void)
{
    struct graph_saver *sv = env_saver();
    if (!sv)
        sv = graph_saver_memory_new();
    assert_non_null(sv);
    return sv;
}

/* ---- channels and reducers --------------------------------------------------------- */

/* Pins: "two writes to a LastValue channel in one step raise InvalidUpdateError". */
static void test_last_value_two_writes_fail(void **state)
{
    (void)state;
    struct setter a = {.key = "x", .json = "1"}, b = {.key = "x", .json = "2"};
    struct graph_builder *bd = graph_builder_new();
    graph_add_channel(bd, "x", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_node(bd, "a", set_node, &a, NULL);
    graph_add_node(bd, "b", set_node, &b, NULL);
    graph_add_edge(bd, GRAPH_START, "a");
    graph_add_edge(bd, GRAPH_START, "b");
    struct graph *g = compile(bd, NULL);
    struct graph_result res;
    struct sa_err err = {0};
    assert_int_equal(invoke(g, "{}", NULL, NULL, &res, &err), SA_EINVAL);
    assert_non_null(strstr(err.msg, "InvalidUpdateError"));
    assert_non_null(strstr(err.msg, "\"x\""));
    graph_free(g);
}

/* Pins: "parallel branches writing to a reducer channel (operator.add) are combined in a
 * deterministic order", whatever the scheduling (threads > 1 here). */
static void test_append_order_is_deterministic(void **state)
{
    (void)state;
    struct setter p[4] = {{.key = "log", .json = "[\"p1\"]"},
                          {.key = "log", .json = "[\"p2\"]"},
                          {.key = "log", .json = "[\"p3\"]"},
                          {.key = "log", .json = "\"p4\""}};
    struct graph_builder *bd = graph_builder_new();
    graph_add_channel(bd, "log", GRAPH_APPEND, NULL, NULL, NULL);
    const char *names[] = {"p1", "p2", "p3", "p4"};
    for (int i = 0; i < 4; i++) {
        graph_add_node(bd, names[i], set_node, &p[i], NULL);
        graph_add_edge(bd, GRAPH_START, names[i]);
    }
    struct graph_compile_opts o = {.threads = 4};
    struct graph *g = compile(bd, &o);
    for (int run = 0; run < 30; run++) {
        struct graph_result res;
        expect_ok(g, "{\"log\": [\"in\"]}", NULL, NULL, &res);
        char *got = json_dumps(json_object_get(res.values, "log"), JSON_COMPACT);
        assert_string_equal(got, "[\"in\",\"p1\",\"p2\",\"p3\",\"p4\"]");
        free(got);
        graph_result_clear(&res);
    }
    graph_free(g);
}

static json_t *max_reducer(const json_t *cur, const json_t *w, void *arg)
{
    (void)arg;
    if (!json_is_integer(w))
        return NULL;
    return json_integer(cur && json_integer_value(cur) > json_integer_value(w)
                            ? json_integer_value(cur)
                            : json_integer_value(w));
}

static int reader_node(const json_t *state, json_t **update, struct graph_ctx *ctx, void *arg)
{
    (void)ctx;
    json_t **seen = arg;
    json_decref(*seen);
    *seen = json_deep_copy(state);
    *update = NULL;
    return 0;
}

/* Pins the binary-operator reducers (merge, sum, custom), Topic (a step's writes only)
 * and EphemeralValue (visible to the next step only). */
static void test_reducers(void **state)
{
    (void)state;
    struct setter a = {.key = "m", .json = "{\"a\": 1, \"b\": 1}"},
                  b = {.key = "m", .json = "{\"b\": 2}"};
    struct setter s1 = {.key = "n", .json = "2"}, s2 = {.key = "n", .json = "3"},
                  c1 = {.key = "mx", .json = "7"}, c2 = {.key = "mx", .json = "4"};
    struct setter t1 = {.key = "topic", .json = "\"t\""}, e1 = {.key = "eph", .json = "\"e\""};
    json_t *seen_next = NULL, *seen_later = NULL;
    struct graph_builder *bd = graph_builder_new();
    graph_add_channel(bd, "m", GRAPH_MERGE, NULL, NULL, NULL);
    json_t *ten = json_integer(10);
    graph_add_channel(bd, "n", GRAPH_SUM, ten, NULL, NULL); /* copied: ours to release */
    json_decref(ten);
    graph_add_channel(bd, "mx", GRAPH_CUSTOM, NULL, max_reducer, NULL);
    graph_add_channel(bd, "topic", GRAPH_TOPIC, NULL, NULL, NULL);
    graph_add_channel(bd, "eph", GRAPH_EPHEMERAL, NULL, NULL, NULL);
    struct setter *ws[] = {&a, &b, &s1, &s2, &c1, &c2, &t1, &e1};
    const char *names[] = {"a", "b", "s1", "s2", "c1", "c2", "t1", "e1"};
    for (int i = 0; i < 8; i++) {
        graph_add_node(bd, names[i], set_node, ws[i], NULL);
        graph_add_edge(bd, GRAPH_START, names[i]);
        graph_add_edge(bd, names[i], "next");
    }
    graph_add_node(bd, "next", reader_node, &seen_next, NULL);
    graph_add_node(bd, "later", reader_node, &seen_later, NULL);
    graph_add_edge(bd, "next", "later");
    struct graph *g = compile(bd, NULL);
    struct graph_result res;
    expect_ok(g, "{}", NULL, NULL, &res);
    char *m = json_dumps(json_object_get(res.values, "m"), JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(m, "{\"a\":1,\"b\":2}");
    free(m);
    assert_int_equal(json_integer_value(json_object_get(res.values, "n")), 15);
    assert_int_equal(json_integer_value(json_object_get(res.values, "mx")), 7);
    /* the step after the writes sees topic and eph; the one after that does not */
    assert_string_equal(str(seen_next, "eph"), "e");
    assert_int_equal(json_array_size(json_object_get(seen_next, "topic")), 1);
    assert_null(json_object_get(seen_later, "eph"));
    assert_null(json_object_get(seen_later, "topic"));
    graph_result_clear(&res);
    json_decref(seen_next);
    json_decref(seen_later);
    graph_free(g);
}

/* ---- edges ------------------------------------------------------------------------- */

static int route_by_score(const json_t *state, json_t **next, void *arg)
{
    (void)arg;
    json_int_t s = json_integer_value(json_object_get(state, "score"));
    *next = json_string(s >= 50 ? "high" : "low");
    return 0;
}

/* Pins conditional edges with a path map: the router reads the state including the
 * node's own write, its result is mapped to a node, END ends the run. */
static void test_conditional_edges(void **state)
{
    (void)state;
    struct setter score = {.key = "score", .json = "70"}, hi = {.key = "route", .json = "\"hi\""},
                  lo = {.key = "route", .json = "\"lo\""};
    json_t *pm = json_pack("{s:s, s:s}", "high", "hi", "low", GRAPH_END);
    struct graph_builder *bd = graph_builder_new();
    graph_add_channel(bd, "score", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(bd, "route", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_node(bd, "scorer", set_node, &score, NULL);
    graph_add_node(bd, "hi", set_node, &hi, NULL);
    graph_add_node(bd, "lo", set_node, &lo, NULL);
    graph_set_entry_point(bd, "scorer");
    graph_add_conditional_edges(bd, "scorer", route_by_score, NULL, pm);
    graph_add_edge(bd, GRAPH_START, "lo"); /* lo is reachable, runs in step 1 */
    json_decref(pm);
    struct graph *g = compile(bd, NULL);
    struct graph_result res;
    expect_ok(g, "{}", NULL, NULL, &res);
    assert_string_equal(str(res.values, "route"), "hi");
    assert_int_equal(hi.runs, 1);
    assert_int_equal(res.steps, 2);
    graph_result_clear(&res);
    score.json = "10";
    expect_ok(g, "{}", NULL, NULL, &res);
    assert_string_equal(str(res.values, "route"), "lo"); /* mapped to END: hi not run */
    assert_int_equal(hi.runs, 1);
    graph_result_clear(&res);
    graph_free(g);
}

/* Pins add_edge([a, b, c], d): d waits for all of its predecessors, even when they
 * finish in different steps, and runs once. */
static void test_join_waits_for_all(void **state)
{
    (void)state;
    struct setter a = {.key = "log", .json = "[\"a\"]"}, b1 = {.key = "log", .json = "[\"b1\"]"},
                  b2 = {.key = "log", .json = "[\"b2\"]"}, c = {.key = "log", .json = "[\"c\"]"},
                  d = {.key = "log", .json = "[\"d\"]"};
    struct graph_builder *bd = graph_builder_new();
    graph_add_channel(bd, "log", GRAPH_APPEND, NULL, NULL, NULL);
    graph_add_node(bd, "a", set_node, &a, NULL);
    graph_add_node(bd, "b1", set_node, &b1, NULL);
    graph_add_node(bd, "b2", set_node, &b2, NULL);
    graph_add_node(bd, "c", set_node, &c, NULL);
    graph_add_node(bd, "d", set_node, &d, NULL);
    graph_add_edge(bd, GRAPH_START, "a");
    graph_add_edge(bd, GRAPH_START, "b1");
    graph_add_edge(bd, "b1", "b2");
    graph_add_edge(bd, GRAPH_START, "c");
    const char *from[] = {"a", "b2", "c"};
    graph_add_join(bd, from, 3, "d");
    graph_add_edge(bd, "d", GRAPH_END);
    struct graph *g = compile(bd, NULL);
    struct graph_result res;
    expect_ok(g, "{}", NULL, NULL, &res);
    char *log = json_dumps(json_object_get(res.values, "log"), JSON_COMPACT);
    assert_string_equal(log, "[\"a\",\"b1\",\"c\",\"b2\",\"d\"]");
    free(log);
    assert_int_equal(d.runs, 1);
    assert_int_equal(res.steps, 3);
    graph_result_clear(&res);
    graph_free(g);
}

/* Send: a router returns one Send per item; each task gets its own input (map-reduce). */
static int fan_out(const json_t *state, json_t **next, void *arg)
{
    (void)arg;
    *next = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(state, "items"), i, x)
    {
        json_t *a = json_pack("{s:O}", "item", x);
        json_array_append_new(*next, graph_send_value("square", a));
        json_decref(a);
    }
    return 0;
}

static int square(const json_t *state, json_t **update, struct graph_ctx *ctx, void *arg)
{
    (void)ctx;
    (void)arg;
    json_int_t v = json_integer_value(json_object_get(state, "item"));
    *update = json_pack("{s:[I]}", "squares", v * v);
    return 0;
}

/* Pins Send: N tasks of one node in one step, each with its own input, results reduced. */
static void test_send_fan_out(void **state)
{
    (void)state;
    struct setter gen = {.key = "items", .json = "[1,2,3,4,5,6,7,8,9,10]"};
    struct graph_builder *bd = graph_builder_new();
    graph_add_channel(bd, "items", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(bd, "squares", GRAPH_APPEND, NULL, NULL, NULL);
    graph_add_node(bd, "gen", set_node, &gen, NULL);
    graph_add_node(bd, "square", square, NULL, NULL);
    graph_set_entry_point(bd, "gen");
    graph_add_conditional_edges(bd, "gen", fan_out, NULL, NULL);
    struct graph_compile_opts o = {.threads = 3};
    struct graph *g = compile(bd, &o);
    struct graph_result res;
    expect_ok(g, "{}", NULL, NULL, &res);
    char *sq = json_dumps(json_object_get(res.values, "squares"), JSON_COMPACT);
    assert_string_equal(sq, "[1,4,9,16,25,36,49,64,81,100]");
    free(sq);
    assert_int_equal(res.steps, 2);
    graph_result_clear(&res);
    graph_free(g);
}

static int commander(const json_t *state, json_t **update, struct graph_ctx *ctx, void *arg)
{
    (void)state;
    (void)ctx;
    (void)arg;
    *update = graph_command(json_pack("{s:s}", "route", "cmd"), json_string("target"));
    return 0;
}

/* Pins Command(update=..., goto=...): the update is applied and goto picks the next node
 * with no edge declared. */
static void test_command_goto(void **state)
{
    (void)state;
    struct setter target = {.key = "done", .json = "true"};
    struct graph_builder *bd = graph_builder_new();
    graph_add_channel(bd, "route", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(bd, "done", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_node(bd, "cmd", commander, NULL, NULL);
    graph_add_node(bd, "target", set_node, &target, NULL);
    graph_set_entry_point(bd, "cmd");
    graph_add_conditional_edges(bd, "cmd", route_by_score, NULL, NULL); /* makes target reachable */
    struct graph *g = compile(bd, NULL);
    (void)g;
    graph_free(g);
    /* without a router: goto alone (reachability through a path-less router above) */
    bd = graph_builder_new();
    graph_add_channel(bd, "route", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(bd, "done", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(bd, "score", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_node(bd, "cmd", commander, NULL, NULL);
    graph_add_node(bd, "target", set_node, &target, NULL);
    graph_set_entry_point(bd, "cmd");
    json_t *pm = json_pack("{s:s, s:s}", "high", "target", "low", GRAPH_END);
    graph_add_conditional_edges(bd, "cmd", route_by_score, NULL, pm);
    json_decref(pm);
    g = compile(bd, NULL);
    struct graph_result res;
    expect_ok(g, "{\"score\": 0}", NULL, NULL, &res); /* router says END; goto says target */
    assert_string_equal(str(res.values, "route"), "cmd");
    assert_true(json_is_true(json_object_get(res.values, "done")));
    assert_int_equal(target.runs, 1);
    graph_result_clear(&res);
    graph_free(g);
}

/* Pins the recursion limit (default 25 as LangGraph.js): a cycle without a stop
 * condition fails with GraphRecursionError after the limit. */
static void test_recursion_limit(void **state)
{
    (void)state;
    struct setter a = {.key = "n", .json = "1"}, b = {.key = "n", .json = "1"};
    struct graph_builder *bd = graph_builder_new();
    graph_add_channel(bd, "n", GRAPH_SUM, NULL, NULL, NULL);
    graph_add_node(bd, "a", set_node, &a, NULL);
    graph_add_node(bd, "b", set_node, &b, NULL);
    graph_add_edge(bd, GRAPH_START, "a");
    graph_add_edge(bd, "a", "b");
    graph_add_edge(bd, "b", "a");
    struct graph *g = compile(bd, NULL);
    struct graph_result res;
    struct sa_err err = {0};
    assert_int_equal(invoke(g, "{}", NULL, NULL, &res, &err), SA_ETOOBIG);
    assert_non_null(strstr(err.msg, "GraphRecursionError"));
    assert_int_equal(a.runs + b.runs, 25);
    graph_free(g);
}

/* Pins a retry policy: a failing node is attempted again with backoff up to
 * max_attempts; a node that keeps failing fails the run with its own message. */
static void test_retry(void **state)
{
    (void)state;
    struct setter flaky = {.key = "x", .json = "1", .fail_first = 2};
    struct graph_node_opts opts = {
        .retry = {.max_attempts = 3, .initial_interval = 0.001, .backoff_factor = 2}};
    struct graph_builder *bd = graph_builder_new();
    graph_add_channel(bd, "x", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_node(bd, "flaky", set_node, &flaky, &opts);
    graph_add_edge(bd, GRAPH_START, "flaky");
    struct graph *g = compile(bd, NULL);
    struct graph_result res;
    expect_ok(g, "{}", NULL, NULL, &res);
    assert_int_equal(flaky.runs, 3);
    graph_result_clear(&res);
    flaky.runs = 0;
    flaky.fail_first = 5;
    struct sa_err err = {0};
    assert_int_equal(invoke(g, "{}", NULL, NULL, &res, &err), SA_EIO);
    assert_int_equal(flaky.runs, 3);
    assert_non_null(strstr(err.msg, "failed on purpose"));
    graph_free(g);
}

/* ---- compile-time validation --------------------------------------------------------- */

/* Pins validation at compile time: unknown nodes, unreachable nodes, no entry point. */
static void test_validation(void **state)
{
    (void)state;
    struct setter s = {.key = NULL};
    struct {
        const char *want;
        int kind;
    } cases[] = {{.want = "unknown node", .kind = 0},
                 {.want = "not reachable", .kind = 1},
                 {.want = "no entry point", .kind = 2},
                 {.want = "declared twice", .kind = 3}};
    for (int i = 0; i < 4; i++) {
        struct graph_builder *bd = graph_builder_new();
        graph_add_node(bd, "a", set_node, &s, NULL);
        if (cases[i].kind != 2)
            graph_add_edge(bd, GRAPH_START, "a");
        if (cases[i].kind == 0)
            graph_add_edge(bd, "a", "ghost");
        if (cases[i].kind == 1)
            graph_add_node(bd, "island", set_node, &s, NULL);
        if (cases[i].kind == 3)
            graph_add_node(bd, "a", set_node, &s, NULL);
        struct graph *g = NULL;
        struct sa_err err = {0};
        assert_int_equal(graph_compile(bd, NULL, &g, &err), SA_EINVAL);
        if (!strstr(err.msg, cases[i].want))
            fail_msg("expected \"%s\" in \"%s\"", cases[i].want, err.msg);
        assert_null(g);
        graph_builder_free(bd);
    }
}

/* ---- persistence --------------------------------------------------------------------- */

/* A 3-node chain on a saver; n3 can fail. */
struct chain {
    struct setter n1, n2, n3;
    struct graph *g;
};

static void chain_build(struct chain *c, struct graph_saver *sv, const char *const *before,
                        const char *const *after)
{
    c->n1 = (struct setter){.key = "a", .json = "1"};
    c->n2 = (struct setter){.key = "b", .json = "2"};
    c->n3 = (struct setter){.key = "c", .json = "3"};
    struct graph_builder *bd = graph_builder_new();
    graph_add_channel(bd, "a", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(bd, "b", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(bd, "c", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_node(bd, "n1", set_node, &c->n1, NULL);
    graph_add_node(bd, "n2", set_node, &c->n2, NULL);
    graph_add_node(bd, "n3", set_node, &c->n3, NULL);
    graph_add_edge(bd, GRAPH_START, "n1");
    graph_add_edge(bd, "n1", "n2");
    graph_add_edge(bd, "n2", "n3");
    graph_add_edge(bd, "n3", GRAPH_END);
    struct graph_compile_opts o = {
        .saver = sv, .interrupt_before = before, .interrupt_after = after};
    c->g = compile(bd, &o);
}

/* The chain (no interrupts) with n3 failing the first time, run once on thread ({}):
 * the run fails in step 3. */
static void chain_failed_in_n3(struct chain *c, struct graph_saver *sv, const char *thread)
{
    chain_build(c, sv, NULL, NULL);
    c->n3.fail_first = 1;
    struct graph_result res;
    struct sa_err err = {0};
    assert_int_equal(invoke(c->g, "{}", thread, NULL, &res, &err), SA_EIO);
}

/* Pins durable execution: a failure (a crash) in step 3 leaves the checkpoint of step 2;
 * continuing the thread runs only what had not finished. */
static void test_resume_after_failure(void **state)
{
    (void)state;
    struct graph_saver *sv = test_saver();
    struct chain c;
    chain_failed_in_n3(&c, sv, "t1");
    struct graph_result res;
    expect_ok(c.g, NULL, "t1", NULL, &res);
    assert_int_equal(c.n1.runs, 1);
    assert_int_equal(c.n2.runs, 1);
    assert_int_equal(c.n3.runs, 2);
    assert_int_equal(json_integer_value(json_object_get(res.values, "c")), 3);
    graph_result_clear(&res);
    graph_free(c.g);
    graph_saver_free(sv);
}

/* Pins pending writes: when one task of a parallel step fails, the tasks that finished
 * are recorded on the checkpoint and are not run again on resume. */
static void test_parallel_step_partial_failure(void **state)
{
    (void)state;
    struct graph_saver *sv = test_saver();
    struct setter p1 = {.key = "log", .json = "[\"p1\"]"},
                  p2 = {.key = "log", .json = "[\"p2\"]", .fail_first = 1};
    struct graph_builder *bd = graph_builder_new();
    graph_add_channel(bd, "log", GRAPH_APPEND, NULL, NULL, NULL);
    graph_add_node(bd, "p1", set_node, &p1, NULL);
    graph_add_node(bd, "p2", set_node, &p2, NULL);
    graph_add_edge(bd, GRAPH_START, "p1");
    graph_add_edge(bd, GRAPH_START, "p2");
    struct graph_compile_opts o = {.saver = sv};
    struct graph *g = compile(bd, &o);
    struct graph_result res;
    struct sa_err err = {0};
    assert_int_equal(invoke(g, "{}", "t", NULL, &res, &err), SA_EIO);
    expect_ok(g, NULL, "t", NULL, &res);
    assert_int_equal(p1.runs, 1);
    assert_int_equal(p2.runs, 2);
    char *log = json_dumps(json_object_get(res.values, "log"), JSON_COMPACT);
    assert_string_equal(log, "[\"p1\",\"p2\"]");
    free(log);
    graph_result_clear(&res);
    graph_free(g);
    graph_saver_free(sv);
}

/* A node that asks for approval twice (two interrupts in one node). */
static int approver(const json_t *state, json_t **update, struct graph_ctx *ctx, void *arg)
{
    (void)state;
    int *runs = arg;
    (*runs)++;
    json_t *q1 = json_pack("{s:s}", "question", "send the e-mail?");
    const json_t *a1 = graph_interrupt(ctx, q1);
    json_decref(q1);
    if (!a1)
        return SA_EINTERRUPT;
    json_t *q2 = json_pack("{s:s}", "question", "book the meeting?");
    const json_t *a2 = graph_interrupt(ctx, q2);
    json_decref(q2);
    if (!a2)
        return SA_EINTERRUPT;
    *update = json_pack("{s:O, s:O}", "email", a1, "meeting", a2);
    return 0;
}

/* Pins interrupt() inside a node and Command(resume=...): the run stops with the
 * interrupt's value visible; each resume re-runs the node and its n-th interrupt call
 * returns the n-th resume value; state shows the pending interrupt. */
static void test_interrupt_and_resume(void **state)
{
    (void)state;
    struct graph_saver *sv = test_saver();
    int runs = 0;
    struct setter after = {.key = "done", .json = "true"};
    struct graph_builder *bd = graph_builder_new();
    graph_add_channel(bd, "email", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(bd, "meeting", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(bd, "done", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_node(bd, "approve", approver, &runs, NULL);
    graph_add_node(bd, "after", set_node, &after, NULL);
    graph_add_edge(bd, GRAPH_START, "approve");
    graph_add_edge(bd, "approve", "after");
    struct graph_compile_opts o = {.saver = sv};
    struct graph *g = compile(bd, &o);
    struct graph_result res;
    expect_ok(g, "{}", "hitl", NULL, &res);
    assert_int_equal(res.status, GRAPH_INTERRUPTED);
    assert_int_equal(json_array_size(res.interrupts), 1);
    json_t *i1 = json_array_get(res.interrupts, 0);
    assert_string_equal(str(json_object_get(i1, "value"), "question"), "send the e-mail?");
    graph_result_clear(&res);

    json_t *snap = NULL;
    struct sa_err err = {0};
    assert_int_equal(graph_get_state(g, "hitl", NULL, &snap, &err), 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(snap, "next"), 0)),
                        "approve");
    json_t *task = json_array_get(json_object_get(snap, "tasks"), 0);
    assert_int_equal(json_array_size(json_object_get(task, "interrupts")), 1);
    json_decref(snap);

    json_t *yes = json_string("yes");
    expect_ok(g, NULL, "hitl", yes, &res); /* second interrupt now */
    assert_int_equal(res.status, GRAPH_INTERRUPTED);
    assert_string_equal(
        str(json_object_get(json_array_get(res.interrupts, 0), "value"), "question"),
        "book the meeting?");
    graph_result_clear(&res);
    json_t *later = json_string("tuesday");
    expect_ok(g, NULL, "hitl", later, &res);
    assert_int_equal(res.status, GRAPH_DONE);
    assert_string_equal(str(res.values, "email"), "yes");
    assert_string_equal(str(res.values, "meeting"), "tuesday");
    assert_true(json_is_true(json_object_get(res.values, "done")));
    assert_int_equal(runs, 3);
    assert_int_equal(after.runs, 1);
    graph_result_clear(&res);
    /* resuming with nothing pending is an error, not a silent no-op */
    assert_int_equal(invoke(g, NULL, "hitl", yes, &res, &err), SA_EINVAL);
    json_decref(yes);
    json_decref(later);
    graph_free(g);
    graph_saver_free(sv);
}

/* Pins LangGraph's new input on a thread with pending tasks: it starts again from START
 * and the old checkpoint's pending task (n3, left by a failure) is discarded, not run
 * beside n1 on the new input; the run goes n1, n2, n3 once each. */
static void test_new_input_discards_pending(void **state)
{
    (void)state;
    struct graph_saver *sv = test_saver();
    struct chain c;
    chain_failed_in_n3(&c, sv, "t-new");
    struct graph_result res;
    struct sa_err err = {0};
    json_t *snap = NULL;
    assert_int_equal(graph_get_state(c.g, "t-new", NULL, &snap, &err), 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(snap, "next"), 0)), "n3");
    json_decref(snap);
    expect_ok(c.g, "{\"a\":0,\"b\":0,\"c\":0}", "t-new", NULL, &res);
    assert_int_equal(res.status, GRAPH_DONE);
    assert_int_equal(res.steps, 3);
    assert_int_equal(c.n1.runs, 2);
    assert_int_equal(c.n2.runs, 2);
    assert_int_equal(c.n3.runs, 2); /* the failed one, then once in the new run */
    assert_int_equal(json_integer_value(json_object_get(res.values, "c")), 3);
    graph_result_clear(&res);
    /* an interrupted thread: new input drops the interrupt; the node asks anew */
    int runs = 0;
    struct graph_builder *bd = graph_builder_new();
    graph_add_channel(bd, "email", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(bd, "meeting", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_node(bd, "approve", approver, &runs, NULL);
    graph_add_edge(bd, GRAPH_START, "approve");
    struct graph_compile_opts o = {.saver = sv};
    struct graph *g = compile(bd, &o);
    expect_ok(g, "{}", "t-ask", NULL, &res);
    char first[17];
    snprintf(first, sizeof first, "%s", str(json_array_get(res.interrupts, 0), "id"));
    graph_result_clear(&res);
    expect_ok(g, "{\"email\":null}", "t-ask", NULL, &res);
    assert_int_equal(res.status, GRAPH_INTERRUPTED);
    assert_int_equal(json_array_size(res.interrupts), 1);
    assert_string_not_equal(str(json_array_get(res.interrupts, 0), "id"), first);
    assert_int_equal(runs, 2);
    graph_result_clear(&res);
    json_t *snap2 = NULL;
    assert_int_equal(graph_get_state(g, "t-ask", NULL, &snap2, &err), 0);
    json_t *task = json_array_get(json_object_get(snap2, "tasks"), 0);
    assert_int_equal(json_array_size(json_object_get(snap2, "tasks")), 1);
    assert_int_equal(json_array_size(json_object_get(task, "interrupts")), 1);
    json_decref(snap2);
    graph_free(g);
    graph_free(c.g);
    graph_saver_free(sv);
}

/* Pins interrupt_before / interrupt_after: the run stops before (after) the named node
 * with a checkpoint; continuing the thread with no input runs on from there. */
static void test_interrupt_before_after(void **state)
{
    (void)state;
    struct graph_saver *sv = test_saver();
    const char *before[] = {"n2", NULL}, *after[] = {"n3", NULL};
    struct chain c;
    chain_build(&c, sv, before, after);
    struct graph_result res;
    expect_ok(c.g, "{}", "ba", NULL, &res);
    assert_int_equal(res.status, GRAPH_INTERRUPTED);
    assert_int_equal(c.n1.runs, 1);
    assert_int_equal(c.n2.runs, 0);
    graph_result_clear(&res);
    json_t *snap = NULL;
    struct sa_err err = {0};
    assert_int_equal(graph_get_state(c.g, "ba", NULL, &snap, &err), 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(snap, "next"), 0)), "n2");
    json_decref(snap);
    expect_ok(c.g, NULL, "ba", NULL, &res); /* runs n2, n3, stops after n3 */
    assert_int_equal(res.status, GRAPH_INTERRUPTED);
    assert_int_equal(c.n2.runs, 1);
    assert_int_equal(c.n3.runs, 1);
    graph_result_clear(&res);
    expect_ok(c.g, NULL, "ba", NULL, &res);
    assert_int_equal(res.status, GRAPH_DONE);
    assert_int_equal(c.n3.runs, 1);
    graph_result_clear(&res);
    graph_free(c.g);
    graph_saver_free(sv);
}

/* Pins get_state_history (newest first, one checkpoint per super-step plus the input),
 * update_state (writes as a node, source "update") and fork/replay from a past
 * checkpoint: the thread branches and the old future is untouched. */
static void test_history_update_and_fork(void **state)
{
    (void)state;
    struct graph_saver *sv = test_saver();
    struct chain c;
    chain_build(&c, sv, NULL, NULL);
    struct graph_result res;
    expect_ok(c.g, "{}", "h", NULL, &res);
    graph_result_clear(&res);
    json_t *hist = NULL;
    struct sa_err err = {0};
    assert_int_equal(graph_get_state_history(c.g, "h", 0, &hist, &err), 0);
    assert_int_equal(json_array_size(hist), 4); /* input, n1, n2, n3 */
    json_t *newest = json_array_get(hist, 0), *after_n1 = json_array_get(hist, 2);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(newest, "metadata"), "step")), 2);
    assert_string_equal(str(json_object_get(json_array_get(hist, 3), "metadata"), "source"),
                        "input");
    assert_string_equal(json_string_value(json_array_get(json_object_get(after_n1, "next"), 0)),
                        "n2");
    /* fork: from the checkpoint after n1, write b as n2 would have, and continue */
    const char *fork_from = str(json_object_get(after_n1, "config"), "checkpoint_id");
    char new_id[40];
    json_t *vals = json_pack("{s:i}", "b", 99);
    assert_int_equal(graph_update_state(c.g, "h", fork_from, vals, "n2", new_id, &err), 0);
    json_decref(vals);
    json_t *snap = NULL;
    assert_int_equal(graph_get_state(c.g, "h", NULL, &snap, &err), 0);
    assert_string_equal(str(json_object_get(snap, "config"), "checkpoint_id"), new_id);
    assert_string_equal(str(json_object_get(snap, "metadata"), "source"), "update");
    assert_string_equal(json_string_value(json_array_get(json_object_get(snap, "next"), 0)), "n3");
    json_decref(snap);
    expect_ok(c.g, NULL, "h", NULL, &res);
    assert_int_equal(json_integer_value(json_object_get(res.values, "b")), 99);
    assert_int_equal(json_integer_value(json_object_get(res.values, "c")), 3);
    assert_int_equal(c.n2.runs, 1); /* n2 never re-ran: the update stood in for it */
    graph_result_clear(&res);
    /* the original branch is still readable */
    json_t *old = NULL;
    assert_int_equal(graph_get_state(c.g, "h",
                                     str(json_object_get(newest, "config"), "checkpoint_id"), &old,
                                     &err),
                     0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(old, "values"), "b")), 2);
    json_decref(old);
    json_decref(hist);
    graph_free(c.g);
    graph_saver_free(sv);
}

/* A node that loops: counts down n. */
static int countdown(const json_t *state, json_t **update, struct graph_ctx *ctx, void *arg)
{
    (void)ctx;
    (void)arg;
    *update = json_pack("{s:I, s:s}", "n", json_integer_value(json_object_get(state, "n")) - 1,
                        "big", "a value that does not change from step to step, 64 bytes....");
    return 0;
}

static int more(const json_t *state, json_t **next, void *arg)
{
    (void)arg;
    *next = json_string(json_integer_value(json_object_get(state, "n")) > 0 ? "loop" : GRAPH_END);
    return 0;
}

static size_t thread_bytes(struct graph_saver *sv, const char *thread, int *records)
{
    size_t bytes = 0;
    struct sa_err err = {0};
    assert_int_equal(graph_saver_thread_bytes(sv, thread, &bytes, records, &err), 0);
    return bytes;
}

/* Pins our storage promise (where LangGraph's savers copy every channel per step):
 * a thread's checkpoint bytes grow linearly with its steps, and state read back from
 * deltas equals the live state. Also runs on the SQLite saver, reopened, and on
 * SA_TEST_SAVER_URL's when set. */
static void test_checkpoint_growth_and_sqlite(void **state)
{
    (void)state;
    char dir[] = "/tmp/sa_graph_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char url[128];
    snprintf(url, sizeof url, "sqlite://%s/cp.db", dir);
    for (int backend = 0; backend < 3; backend++) {
        struct graph_saver *sv = NULL;
        struct sa_err err = {0};
        if (backend == 0)
            sv = graph_saver_memory_new();
        else if (backend == 1)
            assert_int_equal(sa_saver_open(url, &sv, &err), 0);
        else if (!(sv = env_saver())) /* and SA_TEST_SAVER_URL's, when set */
            break;
        struct graph_builder *bd = graph_builder_new();
        graph_add_channel(bd, "n", GRAPH_LAST_VALUE, NULL, NULL, NULL);
        graph_add_channel(bd, "big", GRAPH_LAST_VALUE, NULL, NULL, NULL);
        graph_add_node(bd, "loop", countdown, NULL, NULL);
        graph_add_edge(bd, GRAPH_START, "loop");
        graph_add_conditional_edges(bd, "loop", more, NULL, NULL);
        struct graph_compile_opts o = {.saver = sv, .recursion_limit = 1000};
        struct graph *g = compile(bd, &o);
        struct graph_result res;
        expect_ok(g, "{\"n\": 100}", "short", NULL, &res);
        graph_result_clear(&res);
        expect_ok(g, "{\"n\": 400}", "long", NULL, &res);
        graph_result_clear(&res);
        int r1, r4;
        size_t b1 = thread_bytes(sv, "short", &r1), b4 = thread_bytes(sv, "long", &r4);
        assert_int_equal(r1, 101);
        assert_int_equal(r4, 401);
        if (b4 > b1 * 5) /* 4x the steps: ~4x the bytes, not 16x */
            fail_msg("bytes grew %zu -> %zu for 4x the steps", b1, b4);
        json_t *snap = NULL;
        assert_int_equal(graph_get_state(g, "long", NULL, &snap, &err), 0);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(snap, "values"), "n")),
                         0);
        json_decref(snap);
        graph_free(g);
        graph_saver_free(sv);
    }
    /* reopened: the thread's state is still there */
    struct graph_saver *sv = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_saver_open(url, &sv, &err), 0);
    int recs;
    assert_true(thread_bytes(sv, "long", &recs) > 0);
    assert_int_equal(recs, 401);
    graph_saver_free(sv);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- streaming --------------------------------------------------------------------- */

static int emitter(const json_t *state, json_t **update, struct graph_ctx *ctx, void *arg)
{
    (void)state;
    (void)arg;
    json_t *ev = json_pack("{s:s}", "progress", "half way");
    graph_emit(ctx, ev);
    json_decref(ev);
    *update = json_pack("{s:i}", "x", 1);
    return 0;
}

static void collect(enum graph_stream_mode mode, const json_t *data, void *arg)
{
    json_t *log = arg;
    json_array_append_new(log, json_pack("{s:i, s:O}", "mode", (int)mode, "data", data));
}

static int count_mode(const json_t *log, enum graph_stream_mode mode)
{
    int n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(log, i, e) n += json_integer_value(json_object_get(e, "mode")) == mode;
    return n;
}

/* Pins streaming modes: values (the state after the input and each step), updates
 * ({node: update}), custom (what a node emits), checkpoints, tasks (start + result),
 * debug; several at once, in order. */
static void test_streaming(void **state)
{
    (void)state;
    struct graph_saver *sv = test_saver();
    struct graph_builder *bd = graph_builder_new();
    graph_add_channel(bd, "x", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_node(bd, "emit", emitter, NULL, NULL);
    graph_add_edge(bd, GRAPH_START, "emit");
    struct graph_compile_opts o = {.saver = sv};
    struct graph *g = compile(bd, &o);
    json_t *log = json_array();
    struct graph_run_opts ro = {.thread_id = "s",
                                .on_event = collect,
                                .event_arg = log,
                                .stream_modes = GRAPH_STREAM_VALUES | GRAPH_STREAM_UPDATES |
                                                GRAPH_STREAM_CUSTOM | GRAPH_STREAM_CHECKPOINTS |
                                                GRAPH_STREAM_TASKS | GRAPH_STREAM_DEBUG};
    json_t *in = json_object();
    struct graph_result res;
    struct sa_err err = {0};
    assert_int_equal(graph_invoke(g, in, &ro, &res, &err), 0);
    assert_int_equal(count_mode(log, GRAPH_STREAM_VALUES), 2);
    assert_int_equal(count_mode(log, GRAPH_STREAM_UPDATES), 1);
    assert_int_equal(count_mode(log, GRAPH_STREAM_CUSTOM), 1);
    assert_int_equal(count_mode(log, GRAPH_STREAM_CHECKPOINTS), 2);
    assert_int_equal(count_mode(log, GRAPH_STREAM_TASKS), 2);
    assert_true(count_mode(log, GRAPH_STREAM_DEBUG) >= 4);
    /* the custom event comes between the task's start and its result */
    int start = -1, custom = -1, result = -1;
    size_t i;
    json_t *e;
    json_array_foreach(log, i, e)
    {
        int mode = (int)json_integer_value(json_object_get(e, "mode"));
        json_t *d = json_object_get(e, "data");
        if (mode == GRAPH_STREAM_TASKS && start < 0)
            start = (int)i;
        else if (mode == GRAPH_STREAM_TASKS)
            result = (int)i;
        if (mode == GRAPH_STREAM_CUSTOM) {
            custom = (int)i;
            assert_string_equal(str(d, "progress"), "half way");
        }
        if (mode == GRAPH_STREAM_UPDATES)
            assert_int_equal(json_integer_value(json_object_get(json_object_get(d, "emit"), "x")),
                             1);
    }
    assert_true(start < custom && custom < result);
    graph_result_clear(&res);
    json_decref(in);
    json_decref(log);
    graph_free(g);
    graph_saver_free(sv);
}

/* Pins durability "exit": checkpoints are saved only when the run ends. */
static void test_durability_exit(void **state)
{
    (void)state;
    struct graph_saver *sv = test_saver();
    struct setter a = {.key = "a", .json = "1"}, b = {.key = "b", .json = "2"},
                  c = {.key = "c", .json = "3"};
    struct graph_builder *bd = graph_builder_new();
    graph_add_channel(bd, "a", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(bd, "b", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(bd, "c", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_node(bd, "n1", set_node, &a, NULL);
    graph_add_node(bd, "n2", set_node, &b, NULL);
    graph_add_node(bd, "n3", set_node, &c, NULL);
    graph_add_edge(bd, GRAPH_START, "n1");
    graph_add_edge(bd, "n1", "n2");
    graph_add_edge(bd, "n2", "n3");
    struct graph_compile_opts o = {.saver = sv, .durability = GRAPH_DURABILITY_EXIT};
    struct graph *g = compile(bd, &o);
    struct graph_result res;
    expect_ok(g, "{}", "x", NULL, &res);
    graph_result_clear(&res);
    int recs;
    thread_bytes(sv, "x", &recs);
    assert_int_equal(recs, 2); /* the input checkpoint, then one at exit */
    json_t *snap = NULL;
    struct sa_err err = {0};
    assert_int_equal(graph_get_state(g, "x", NULL, &snap, &err), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(snap, "values"), "c")), 3);
    json_decref(snap);
    graph_free(g);
    graph_saver_free(sv);
}

/* A corrupt checkpoint is an error naming it, never a crash; a checkpoint with channels
 * the graph lacks (another graph's thread on a shared checkpointer) is SA_ECONFLICT. */
static void test_corrupt_checkpoint(void **state)
{
    (void)state;
    struct graph_saver *sv = test_saver();
    struct chain c;
    chain_build(&c, sv, NULL, NULL);
    const char *blobs[] = {"not json", "{\"values\": 3}",
                           "{\"v\":1,\"step\":0,\"values\":{\"zz\":1},"
                           "\"cleared\":[],\"versions\":{},\"seen\":{},\"sends\":[]}"};
    for (int i = 0; i < 3; i++) {
        char thread[16];
        snprintf(thread, sizeof thread, "bad%d", i);
        struct graph_record r = {.id = "019a0000-0000-7000-8000-000000000001",
                                 .full = true,
                                 .blob = (char *)blobs[i],
                                 .blob_len = strlen(blobs[i])};
        struct sa_err err = {0};
        assert_int_equal(graph_saver_put(sv, thread, &r, &err), 0);
        json_t *snap = NULL;
        int rc = graph_get_state(c.g, thread, NULL, &snap, &err);
        if (i < 2) {
            assert_int_equal(rc, SA_EIO);
            assert_non_null(strstr(err.msg, "corrupt"));
        } else { /* a channel this graph lacks: another graph's thread, not corruption */
            assert_int_equal(rc, SA_ECONFLICT);
            assert_non_null(strstr(err.msg, "\"zz\""));
            assert_non_null(strstr(err.msg, "another graph"));
        }
    }
    graph_free(c.g);
    graph_saver_free(sv);
}

/* Pins subgraphs: a compiled graph as a node gets the parent's state (its own keys),
 * its results come back as the node's update, it checkpoints under its own namespace,
 * and an interrupt inside it stops the parent; resuming the parent resumes it. */
static void test_subgraph(void **state)
{
    (void)state;
    struct graph_saver *sv = test_saver();
    int runs = 0;
    struct graph_builder *sb = graph_builder_new();
    graph_add_channel(sb, "email", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(sb, "meeting", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(sb, "lead", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_node(sb, "approve", approver, &runs, NULL);
    graph_add_edge(sb, GRAPH_START, "approve");
    struct graph_compile_opts so = {.saver = sv};
    struct graph *sub = compile(sb, &so);

    struct setter prep = {.key = "lead", .json = "\"acme\""}, fin = {.key = "done", .json = "true"};
    struct graph_builder *pb = graph_builder_new();
    graph_add_channel(pb, "lead", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(pb, "email", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(pb, "meeting", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(pb, "done", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_node(pb, "prep", set_node, &prep, NULL);
    graph_add_subgraph(pb, "bdr", sub);
    graph_add_node(pb, "finish", set_node, &fin, NULL);
    graph_add_edge(pb, GRAPH_START, "prep");
    graph_add_edge(pb, "prep", "bdr");
    graph_add_edge(pb, "bdr", "finish");
    struct graph_compile_opts po = {.saver = sv};
    struct graph *g = compile(pb, &po);

    struct graph_result res;
    expect_ok(g, "{}", "p", NULL, &res);
    assert_int_equal(res.status, GRAPH_INTERRUPTED);
    assert_string_equal(
        str(json_object_get(json_array_get(res.interrupts, 0), "value"), "question"),
        "send the e-mail?");
    graph_result_clear(&res);
    json_t *a1 = json_string("yes"), *a2 = json_string("friday");
    expect_ok(g, NULL, "p", a1, &res);
    assert_int_equal(res.status, GRAPH_INTERRUPTED);
    assert_string_equal(
        str(json_object_get(json_array_get(res.interrupts, 0), "value"), "question"),
        "book the meeting?");
    graph_result_clear(&res);
    expect_ok(g, NULL, "p", a2, &res);
    assert_int_equal(res.status, GRAPH_DONE);
    assert_string_equal(str(res.values, "email"), "yes");
    assert_string_equal(str(res.values, "meeting"), "friday");
    assert_true(json_is_true(json_object_get(res.values, "done")));
    assert_int_equal(fin.runs, 1);
    graph_result_clear(&res);
    /* the subgraph's own thread: its namespace under the parent's */
    json_t *snap = NULL;
    struct sa_err err = {0};
    assert_int_equal(graph_get_state(sub, "p|1:bdr", NULL, &snap, &err), 0);
    assert_string_equal(str(json_object_get(snap, "values"), "lead"), "acme");
    json_decref(snap);
    json_decref(a1);
    json_decref(a2);
    graph_free(g);
    graph_free(sub);
    graph_saver_free(sv);
}

static int slow_node(const json_t *state, json_t **update, struct graph_ctx *ctx, void *arg)
{
    (void)state;
    int *runs = arg;
    (*runs)++;
    while (!graph_ctx_expired(ctx)) /* a long job that checks its deadline */
        usleep(1000);
    *update = NULL;
    return 0;
}

/* Pins per-node timeouts: an attempt past its deadline fails with SA_ETIMEDOUT, and is
 * retried by the node's policy like any other failure. */
static void test_timeout(void **state)
{
    (void)state;
    int runs = 0;
    struct graph_node_opts opts = {.timeout = 0.01,
                                   .retry = {.max_attempts = 2, .initial_interval = 0.001}};
    struct graph_builder *bd = graph_builder_new();
    graph_add_node(bd, "slow", slow_node, &runs, &opts);
    graph_add_edge(bd, GRAPH_START, "slow");
    struct graph *g = compile(bd, NULL);
    struct graph_result res;
    struct sa_err err = {0};
    assert_int_equal(invoke(g, "{}", NULL, NULL, &res, &err), SA_ETIMEDOUT);
    assert_non_null(strstr(err.msg, "timeout"));
    assert_int_equal(runs, 2);
    graph_free(g);
}

/* Pins retention, which LangGraph's open-source savers lack: prune-to-latest keeps one
 * checkpoint with the same state (and its pending interrupt), delete_thread removes a
 * thread, and threads past their TTL are swept; on both savers. */
static void test_retention(void **state)
{
    (void)state;
    char dir[] = "/tmp/sa_graph_ret_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char url[128];
    snprintf(url, sizeof url, "sqlite://%s/cp.db", dir);
    for (int backend = 0; backend < 2; backend++) {
        struct graph_saver *sv = NULL;
        struct sa_err err = {0};
        if (backend == 0)
            sv = graph_saver_memory_new();
        else
            assert_int_equal(sa_saver_open(url, &sv, &err), 0);
        int runs = 0;
        struct graph_builder *bd = graph_builder_new();
        graph_add_channel(bd, "email", GRAPH_LAST_VALUE, NULL, NULL, NULL);
        graph_add_channel(bd, "meeting", GRAPH_LAST_VALUE, NULL, NULL, NULL);
        graph_add_node(bd, "approve", approver, &runs, NULL);
        graph_add_edge(bd, GRAPH_START, "approve");
        struct graph_compile_opts o = {.saver = sv, .thread_ttl = 0.05};
        struct graph *g = compile(bd, &o);
        struct graph_result res;
        expect_ok(g, "{\"email\": \"draft\"}", "keep", NULL, &res);
        graph_result_clear(&res);
        /* waiting on a person: held (graph_saver_hold), so the TTL does not sweep it */
        int held = -1;
        usleep(100 * 1000);
        assert_int_equal(graph_sweep(g, &held, &err), 0);
        assert_int_equal(held, 0);
        json_t *yes = json_string("yes");
        expect_ok(g, NULL, "keep", yes, &res); /* now at the second interrupt */
        graph_result_clear(&res);
        assert_int_equal(graph_prune_thread(g, "keep", &err), 0);
        json_t *hist = NULL;
        assert_int_equal(graph_get_state_history(g, "keep", 0, &hist, &err), 0);
        assert_int_equal(json_array_size(hist), 1);
        json_decref(hist);
        json_t *later = json_string("monday");
        expect_ok(g, NULL, "keep", later, &res); /* the pending interrupt survived */
        assert_int_equal(res.status, GRAPH_DONE);
        assert_string_equal(str(res.values, "email"), "yes");
        assert_string_equal(str(res.values, "meeting"), "monday");
        graph_result_clear(&res);
        expect_ok(g, "{}", "gone", NULL, &res);
        graph_result_clear(&res);
        assert_int_equal(graph_delete_thread(g, "gone", &err), 0);
        json_t *snap = NULL;
        assert_int_equal(graph_get_state(g, "gone", NULL, &snap, &err), SA_ENOTFOUND);
        int swept = -1;
        usleep(100 * 1000); /* past the 50 ms TTL */
        assert_int_equal(graph_sweep(g, &swept, &err), 0);
        assert_int_equal(swept, 1);
        assert_int_equal(graph_get_state(g, "keep", NULL, &snap, &err), SA_ENOTFOUND);
        json_decref(yes);
        json_decref(later);
        graph_free(g);
        graph_saver_free(sv);
    }
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* A memory saver whose delete_except (the last step of a prune) waits until released,
 * so a test can start a run while the prune holds the thread. */
struct slow_saver {
    struct graph_saver base; /* first */
    struct graph_saver *inner;
    struct graph_saver_ops ops;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool inside, release;
};

static int slow_delete_except(struct graph_saver *s, const char *thread_id, const char *keep_id,
                              struct sa_err *err)
{
    struct slow_saver *w = (struct slow_saver *)s;
    pthread_mutex_lock(&w->lock);
    w->inside = true;
    pthread_cond_broadcast(&w->cond);
    while (!w->release)
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
    return graph_saver_delete_except(w->inner, thread_id, keep_id, err);
}

#define SLOW_FORWARD(name, params, args)                                                           \
    static int slow_##name params                                                                  \
    {                                                                                              \
        return ((struct slow_saver *)s)->inner->ops->name args;                                    \
    }
SLOW_FORWARD(put,
             (struct graph_saver * s, const char *t, const struct graph_record *r,
              struct sa_err *e),
             (((struct slow_saver *)s)->inner, t, r, e))
SLOW_FORWARD(put_writes,
             (struct graph_saver * s, const char *t, const char *id, const char *w, size_t len,
              struct sa_err *e),
             (((struct slow_saver *)s)->inner, t, id, w, len, e))
SLOW_FORWARD(get,
             (struct graph_saver * s, const char *t, const char *id, struct graph_record *out,
              struct sa_err *e),
             (((struct slow_saver *)s)->inner, t, id, out, e))
SLOW_FORWARD(list,
             (struct graph_saver * s, const char *t, int limit, char (**ids)[GRAPH_ID_LEN], int *n,
              struct sa_err *e),
             (((struct slow_saver *)s)->inner, t, limit, ids, n, e))
SLOW_FORWARD(delete_thread, (struct graph_saver * s, const char *t, struct sa_err *e),
             (((struct slow_saver *)s)->inner, t, e))

static void slow_free(struct graph_saver *s)
{
    (void)s; /* on the test's stack; the inner saver is freed by the test */
}

struct prune_arg {
    struct graph *g;
    int rc;
};

struct run_arg {
    struct graph *g;
    int rc;
    bool done;
    struct sa_err err;
    struct graph_result res;
};

static void *run_thread_main(void *p)
{
    struct run_arg *a = p;
    a->rc = invoke(a->g, "{\"a\": 0}", "busy", NULL, &a->res, &a->err);
    __atomic_store_n(&a->done, true, __ATOMIC_SEQ_CST);
    return NULL;
}

static void *prune_thread_main(void *p)
{
    struct prune_arg *a = p;
    struct sa_err err = {0};
    a->rc = graph_prune_thread(a->g, "busy", &err);
    return NULL;
}

/* Pins the busy rules: background compaction of a thread never fails a request. A run
 * that starts while a prune holds its thread waits for the prune and then runs; a prune
 * of a thread a run holds is SA_ECONFLICT (the retention pass skips it). */
static void test_run_waits_for_compaction(void **state)
{
    (void)state;
    struct slow_saver w = {.inner = graph_saver_memory_new()};
    assert_non_null(w.inner);
    w.ops = (struct graph_saver_ops){.name = "slow",
                                     .put = slow_put,
                                     .put_writes = slow_put_writes,
                                     .get = slow_get,
                                     .list = slow_list,
                                     .delete_thread = slow_delete_thread,
                                     .delete_except = slow_delete_except,
                                     .free = slow_free};
    w.base.ops = &w.ops;
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    struct setter a = {"a", "1", 0, 0};
    struct graph_builder *bd = graph_builder_new();
    graph_add_channel(bd, "a", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_node(bd, "set", set_node, &a, NULL);
    graph_add_edge(bd, GRAPH_START, "set");
    struct graph_compile_opts o = {.saver = &w.base};
    struct graph *g = compile(bd, &o);
    struct graph_result res;
    expect_ok(g, "{\"a\": 0}", "busy", NULL, &res);
    graph_result_clear(&res);
    expect_ok(g, "{\"a\": 0}", "busy", NULL, &res); /* two checkpoints: one to prune */
    graph_result_clear(&res);

    struct prune_arg pa = {.g = g, .rc = -1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, prune_thread_main, &pa), 0);
    pthread_mutex_lock(&w.lock);
    while (!w.inside)
        pthread_cond_wait(&w.cond, &w.lock);
    pthread_mutex_unlock(&w.lock);
    /* the prune holds "busy": a second prune is refused, a run waits */
    struct sa_err err = {0};
    int second = graph_prune_thread(g, "busy", &err); /* asserted once released */
    /* a run started now waits for the prune: released a moment later, both succeed (an
     * engine without the wait fails the run at once with SA_ECONFLICT) */
    struct run_arg ra = {.g = g, .rc = -1};
    pthread_t rt;
    assert_int_equal(pthread_create(&rt, NULL, run_thread_main, &ra), 0);
    usleep(100 * 1000);
    bool ran_early = __atomic_load_n(&ra.done, __ATOMIC_SEQ_CST); /* asserted once released */
    pthread_mutex_lock(&w.lock);
    w.release = true;
    pthread_cond_broadcast(&w.cond);
    pthread_mutex_unlock(&w.lock);
    assert_int_equal(pthread_join(rt, NULL), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    if (ran_early)
        fail_msg("the run returned while the prune held its thread: rc %d (%s)", ra.rc, ra.err.msg);
    assert_int_equal(second, SA_ECONFLICT);
    assert_non_null(strstr(err.msg, "compacted"));
    if (ra.rc)
        fail_msg("the run during the prune: %s", ra.err.msg);
    assert_int_equal(json_integer_value(json_object_get(ra.res.values, "a")), 1);
    graph_result_clear(&ra.res);
    assert_int_equal(pa.rc, 0);

    graph_free(g);
    graph_saver_free(w.inner);
    pthread_cond_destroy(&w.cond);
    pthread_mutex_destroy(&w.lock);
}

/* Pins durability "async": the same checkpoints as "sync" (one per step), stored by the
 * time the run returns, and interrupts resume the same way. */
static void test_durability_async(void **state)
{
    (void)state;
    struct graph_saver *sv = test_saver();
    int runs = 0;
    struct setter a = {.key = "email", .json = "\"draft\""};
    struct graph_builder *bd = graph_builder_new();
    graph_add_channel(bd, "email", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(bd, "meeting", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_node(bd, "draft", set_node, &a, NULL);
    graph_add_node(bd, "approve", approver, &runs, NULL);
    graph_add_edge(bd, GRAPH_START, "draft");
    graph_add_edge(bd, "draft", "approve");
    struct graph_compile_opts o = {.saver = sv, .durability = GRAPH_DURABILITY_ASYNC};
    struct graph *g = compile(bd, &o);
    json_t *yes = json_string("yes"), *mon = json_string("monday");
    for (int t = 0; t < 20; t++) {
        char thread[16];
        snprintf(thread, sizeof thread, "a%d", t);
        struct graph_result res;
        expect_ok(g, "{}", thread, NULL, &res);
        assert_int_equal(res.status, GRAPH_INTERRUPTED);
        graph_result_clear(&res);
        expect_ok(g, NULL, thread, yes, &res);
        graph_result_clear(&res);
        expect_ok(g, NULL, thread, mon, &res);
        assert_int_equal(res.status, GRAPH_DONE);
        assert_string_equal(str(res.values, "meeting"), "monday");
        graph_result_clear(&res);
        json_t *hist = NULL;
        struct sa_err err = {0};
        assert_int_equal(graph_get_state_history(g, thread, 0, &hist, &err), 0);
        assert_int_equal(json_array_size(hist), 3); /* input, draft, approve */
        json_decref(hist);
    }
    json_decref(yes);
    json_decref(mon);
    graph_free(g);
    graph_saver_free(sv);
}

static int big_writer(const json_t *state, json_t **update, struct graph_ctx *ctx, void *arg)
{
    (void)state;
    (void)ctx;
    (void)arg;
    char text[20001];
    for (int i = 0; i < 20000; i++)
        text[i] = "the quick brown fox "[i % 20];
    text[20000] = '\0';
    *update = json_pack("{s:s}", "doc", text);
    return 0;
}

/* Pins compression: a record above the threshold is stored zstd-compressed and reads
 * back to the same state. */
static void test_large_state_compressed(void **state)
{
    (void)state;
    struct graph_saver *sv = test_saver();
    struct graph_builder *bd = graph_builder_new();
    graph_add_channel(bd, "doc", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_node(bd, "big", big_writer, NULL, NULL);
    graph_add_edge(bd, GRAPH_START, "big");
    struct graph_compile_opts o = {.saver = sv};
    struct graph *g = compile(bd, &o);
    struct graph_result res;
    expect_ok(g, "{}", "z", NULL, &res);
    graph_result_clear(&res);
    int recs;
    size_t bytes = thread_bytes(sv, "z", &recs);
    assert_int_equal(recs, 2);
    if (bytes > 5000)
        fail_msg("20 KB of state took %zu bytes: not compressed", bytes);
    json_t *snap = NULL;
    struct sa_err err = {0};
    assert_int_equal(graph_get_state(g, "z", NULL, &snap, &err), 0);
    const char *doc = str(json_object_get(snap, "values"), "doc");
    assert_int_equal(strlen(doc), 20000);
    assert_memory_equal(doc, "the quick brown fox the quick", 29);
    json_decref(snap);
    graph_free(g);
    graph_saver_free(sv);
}

static int crash_node(const json_t *state, json_t **update, struct graph_ctx *ctx, void *arg)
{
    (void)state;
    (void)ctx;
    if (*(int *)arg)
        _exit(3); /* the process dies mid-step, after p1 finished */
    *update = json_pack("{s:[s]}", "log", "p2");
    return 0;
}

static struct graph *crash_graph(struct graph_saver *sv, struct setter *p1, int *crash)
{
    struct graph_builder *bd = graph_builder_new();
    graph_add_channel(bd, "log", GRAPH_APPEND, NULL, NULL, NULL);
    graph_add_node(bd, "p1", set_node, p1, NULL);
    graph_add_node(bd, "p2", crash_node, crash, NULL);
    graph_add_edge(bd, GRAPH_START, "p1");
    graph_add_edge(bd, GRAPH_START, "p2");
    struct graph_compile_opts o = {.saver = sv};
    return compile(bd, &o);
}

/* Pins pending writes across a real crash: in a step of several tasks each finished task
 * is stored at once, so after the process dies mid-step (another process, SQLite saver)
 * resuming the thread runs only the task that had not finished. */
static void test_crash_mid_step(void **state)
{
    (void)state;
    char dir[] = "/tmp/sa_graph_crash_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char url[128];
    snprintf(url, sizeof url, "sqlite://%s/cp.db", dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct graph_saver *sv = NULL;
        struct sa_err err = {0};
        if (sa_saver_open(url, &sv, &err))
            _exit(1);
        struct setter p1 = {.key = "log", .json = "[\"p1\"]"};
        int crash = 1;
        struct graph *g = crash_graph(sv, &p1, &crash);
        json_t *in = json_object();
        struct graph_run_opts o = {.thread_id = "c"};
        struct graph_result res;
        if (graph_invoke(g, in, &o, &res, &err) == 0)
            _exit(4); /* finished: p2 did not crash */
        _exit(2);     /* not reached: p2 exits the process */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 3);
    struct graph_saver *sv = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_saver_open(url, &sv, &err), 0);
    struct setter p1 = {.key = "log", .json = "[\"p1\"]"};
    int crash = 0;
    struct graph *g = crash_graph(sv, &p1, &crash);
    struct graph_result res;
    expect_ok(g, NULL, "c", NULL, &res);
    assert_int_equal(p1.runs, 0); /* its writes came from the checkpoint */
    char *log = json_dumps(json_object_get(res.values, "log"), JSON_COMPACT);
    assert_string_equal(log, "[\"p1\",\"p2\"]");
    free(log);
    graph_result_clear(&res);
    graph_free(g);
    graph_saver_free(sv);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* Pins replay (time travel): invoking from a past checkpoint re-runs the steps after it
 * on a new branch; the thread's latest state becomes that branch's. */
static void test_replay_from_checkpoint(void **state)
{
    (void)state;
    struct graph_saver *sv = test_saver();
    struct chain c;
    chain_build(&c, sv, NULL, NULL);
    struct graph_result res;
    expect_ok(c.g, "{}", "r", NULL, &res);
    graph_result_clear(&res);
    json_t *hist = NULL;
    struct sa_err err = {0};
    assert_int_equal(graph_get_state_history(c.g, "r", 0, &hist, &err), 0);
    const char *after_n1 = str(json_object_get(json_array_get(hist, 2), "config"), "checkpoint_id");
    c.n3.json = "33";
    struct graph_run_opts o = {.thread_id = "r", .checkpoint_id = after_n1};
    assert_int_equal(graph_invoke(c.g, NULL, &o, &res, &err), 0);
    assert_int_equal(c.n1.runs, 1);
    assert_int_equal(c.n2.runs, 2);
    assert_int_equal(c.n3.runs, 2);
    assert_int_equal(json_integer_value(json_object_get(res.values, "c")), 33);
    graph_result_clear(&res);
    json_t *snap = NULL;
    assert_int_equal(graph_get_state(c.g, "r", NULL, &snap, &err), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(snap, "values"), "c")), 33);
    json_decref(snap);
    json_decref(hist);
    graph_free(c.g);
    graph_saver_free(sv);
}

/* The graph's shape (graph_describe, GET /api/agents/{agent_type}/graph): LangGraph's
 * getGraph JSON. Static edges, one edge per source of a join, a conditional edge to each
 * value of its path map (data: the key, when it is not the target's name), and without a
 * map to every node and END. */
static bool has_edge(const json_t *edges, const char *from, const char *to, bool cond,
                     const char *data)
{
    size_t i;
    const json_t *e;
    json_array_foreach(edges, i, e)
    {
        const char *d = json_string_value(json_object_get(e, "data"));
        if (strcmp(json_string_value(json_object_get(e, "source")), from) == 0 &&
            strcmp(json_string_value(json_object_get(e, "target")), to) == 0 &&
            json_is_true(json_object_get(e, "conditional")) == cond &&
            (data ? d && strcmp(d, data) == 0 : d == NULL))
            return true;
    }
    return false;
}

static void test_describe(void **state)
{
    (void)state;
    struct setter s = {0};
    struct graph_builder *b = graph_builder_new();
    graph_add_channel(b, "score", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    const char *names[] = {"enrich", "score_it", "check", "review", "nurture"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        graph_add_node(b, names[i], set_node, &s, NULL);
    graph_add_edge(b, GRAPH_START, "enrich");
    graph_add_edge(b, GRAPH_START, "check");
    graph_add_edge(b, "enrich", "score_it");
    const char *both[] = {"score_it", "check"};
    graph_add_join(b, both, 2, "review");
    json_t *pm = json_pack("{s:s, s:s}", "cold", "nurture", "done", GRAPH_END);
    graph_add_conditional_edges(b, "review", route_by_score, NULL, pm);
    json_decref(pm);
    graph_add_edge(b, "nurture", GRAPH_END);
    struct graph *g = compile(b, NULL);
    json_t *d = graph_describe(g);
    json_t *nodes = json_object_get(d, "nodes"), *edges = json_object_get(d, "edges");
    assert_int_equal(json_array_size(nodes), 7); /* START, five, END */
    assert_string_equal(json_string_value(json_object_get(json_array_get(nodes, 0), "id")),
                        GRAPH_START);
    assert_string_equal(json_string_value(json_object_get(json_array_get(nodes, 0), "type")),
                        "schema");
    assert_string_equal(json_string_value(json_object_get(json_array_get(nodes, 3), "id")),
                        "check");
    assert_string_equal(json_string_value(json_object_get(json_array_get(nodes, 3), "type")),
                        "runnable");
    assert_string_equal(json_string_value(json_object_get(json_array_get(nodes, 6), "id")),
                        GRAPH_END);
    assert_true(has_edge(edges, GRAPH_START, "enrich", false, NULL));
    assert_true(has_edge(edges, GRAPH_START, "check", false, NULL));
    assert_true(has_edge(edges, "enrich", "score_it", false, NULL));
    assert_true(has_edge(edges, "score_it", "review", false, NULL)); /* the join's sources */
    assert_true(has_edge(edges, "check", "review", false, NULL));
    assert_true(has_edge(edges, "review", "nurture", true, "cold"));
    assert_true(has_edge(edges, "review", GRAPH_END, true, "done"));
    assert_true(has_edge(edges, "nurture", GRAPH_END, false, NULL));
    assert_int_equal(json_array_size(edges), 8);
    json_decref(d);
    graph_free(g);

    /* a router without a path map may name any node: edges to each, and END */
    b = graph_builder_new();
    graph_add_channel(b, "score", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_node(b, "triage", set_node, &s, NULL);
    graph_add_node(b, "call", set_node, &s, NULL);
    graph_add_edge(b, GRAPH_START, "triage");
    graph_add_conditional_edges(b, "triage", route_by_score, NULL, NULL);
    graph_add_edge(b, "call", GRAPH_END);
    g = compile(b, NULL);
    d = graph_describe(g);
    edges = json_object_get(d, "edges");
    assert_true(has_edge(edges, "triage", "call", true, NULL));
    assert_true(has_edge(edges, "triage", "triage", true, NULL));
    assert_true(has_edge(edges, "triage", GRAPH_END, true, NULL));
    assert_false(has_edge(edges, "triage", GRAPH_START, true, NULL));
    assert_int_equal(json_array_size(json_object_get(d, "nodes")), 4);
    json_decref(d);
    graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_last_value_two_writes_fail),
        cmocka_unit_test(test_append_order_is_deterministic),
        cmocka_unit_test(test_reducers),
        cmocka_unit_test(test_conditional_edges),
        cmocka_unit_test(test_describe), /* the graph's shape (issue 16) */
        cmocka_unit_test(test_join_waits_for_all),
        cmocka_unit_test(test_send_fan_out),
        cmocka_unit_test(test_command_goto),
        cmocka_unit_test(test_recursion_limit),
        cmocka_unit_test(test_retry),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_resume_after_failure),
        cmocka_unit_test(test_new_input_discards_pending),
        cmocka_unit_test(test_parallel_step_partial_failure),
        cmocka_unit_test(test_interrupt_and_resume),
        cmocka_unit_test(test_interrupt_before_after),
        cmocka_unit_test(test_history_update_and_fork),
        cmocka_unit_test(test_checkpoint_growth_and_sqlite),
        cmocka_unit_test(test_streaming),
        cmocka_unit_test(test_durability_exit),
        cmocka_unit_test(test_corrupt_checkpoint),
        cmocka_unit_test(test_subgraph),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_retention),
        cmocka_unit_test(test_run_waits_for_compaction),
        cmocka_unit_test(test_durability_async),
        cmocka_unit_test(test_large_state_compressed),
        cmocka_unit_test(test_crash_mid_step),
        cmocka_unit_test(test_replay_from_checkpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
