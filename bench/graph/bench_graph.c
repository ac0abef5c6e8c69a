/* Our side of the graph-engine comparison (bench/graph/run.sh runs it beside peer.mjs,
 * LangGraph.js): the same three workloads, the same measurement, the same JSON line per
 * workload. Usage: bench_graph linear|fanout|linear_sqlite  (env BENCH_GRAPH_N, default
 * 2000 measured invocations after BENCH_GRAPH_WARMUP, default 200). One workload per
 * process, so peak RSS is the workload's own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/config.h"
#include "graph/graph.h"
#include "graph/saver.h"
#include "store/store.h"

/* ---- linear: six nodes over ten last-value fields ---- */

static int n1(const json_t *s, json_t **u, struct graph_ctx *c, void *a)
{
    (void)c, (void)a;
    *u = json_pack("{s:I, s:s}", "step", json_integer_value(json_object_get(s, "step")) + 1,
                   "company", "ACME CORP");
    return 0;
}

/* n2..n6: {step: step + 1, <field>: <value>} */
struct set {
    const char *key;
    json_t *value;
};

static int nk(const json_t *s, json_t **u, struct graph_ctx *c, void *a)
{
    (void)c;
    const struct set *st = a;
    *u = json_pack("{s:I, s:O}", "step", json_integer_value(json_object_get(s, "step")) + 1,
                   st->key, st->value);
    return 0;
}

static struct set sets[5];

static struct graph *build_linear(struct graph_saver *sv)
{
    struct graph_builder *b = graph_builder_new();
    const char *fields[] = {"lead_id",  "company", "score", "tier",  "step",
                            "industry", "size",    "notes", "flags", "done"};
    for (int i = 0; i < 10; i++)
        graph_add_channel(b, fields[i], GRAPH_LAST_VALUE, NULL, NULL, NULL);
    sets[0] = (struct set){"score", json_integer(42)};
    sets[1] = (struct set){"tier", json_string("A")};
    sets[2] = (struct set){"industry", json_string("SaaS")};
    sets[3] = (struct set){"size", json_integer(250)};
    sets[4] = (struct set){"done", json_true()};
    graph_add_node(b, "n1", n1, NULL, NULL);
    char name[8];
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "n%d", i + 2);
        graph_add_node(b, name, nk, &sets[i], NULL);
    }
    graph_add_edge(b, GRAPH_START, "n1");
    for (int i = 1; i < 6; i++) {
        char from[8], to[8];
        snprintf(from, sizeof from, "n%d", i);
        snprintf(to, sizeof to, "n%d", i + 1);
        graph_add_edge(b, from, to);
    }
    graph_add_edge(b, "n6", GRAPH_END);
    struct graph_compile_opts o = {.saver = sv};
    struct graph *g = NULL;
    struct sa_err err = {0};
    if (graph_compile(b, &o, &g, &err)) {
        fprintf(stderr, "bench_graph: %s\n", err.msg);
        exit(1);
    }
    graph_builder_free(b);
    return g;
}

static json_t *linear_input(void)
{
    return json_pack("{s:s, s:s, s:i, s:s, s:i, s:s, s:i, s:s, s:[s, s], s:b}", "lead_id", "lead-1",
                     "company", "acme corp", "score", 0, "tier", "", "step", 0, "industry", "",
                     "size", 0, "notes", "met at a conference", "flags", "new", "inbound", "done",
                     0);
}

static int check_linear(const json_t *v)
{
    return json_integer_value(json_object_get(v, "step")) == 6 &&
           json_is_true(json_object_get(v, "done")) &&
           strcmp(json_string_value(json_object_get(v, "company")), "ACME CORP") == 0;
}

/* ---- fanout: split -> p1, p2, p3 -> join ---- */

static int split(const json_t *s, json_t **u, struct graph_ctx *c, void *a)
{
    (void)s, (void)c, (void)a;
    *u = json_pack("{s:s}", "input", "x");
    return 0;
}

static int pk(const json_t *s, json_t **u, struct graph_ctx *c, void *a)
{
    (void)s, (void)c;
    *u = json_pack("{s:[s]}", "results", (const char *)a);
    return 0;
}

static int join(const json_t *s, json_t **u, struct graph_ctx *c, void *a)
{
    (void)c, (void)a;
    *u = json_pack("{s:I}", "joined", (json_int_t)json_array_size(json_object_get(s, "results")));
    return 0;
}

static struct graph *build_fanout(struct graph_saver *sv)
{
    struct graph_builder *b = graph_builder_new();
    json_t *empty = json_array();
    graph_add_channel(b, "results", GRAPH_APPEND, empty, NULL, NULL);
    json_decref(empty);
    graph_add_channel(b, "input", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(b, "joined", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_node(b, "split", split, NULL, NULL);
    graph_add_node(b, "p1", pk, "p1", NULL);
    graph_add_node(b, "p2", pk, "p2", NULL);
    graph_add_node(b, "p3", pk, "p3", NULL);
    graph_add_node(b, "join", join, NULL, NULL);
    graph_add_edge(b, GRAPH_START, "split");
    const char *ps[] = {"p1", "p2", "p3"};
    for (int i = 0; i < 3; i++)
        graph_add_edge(b, "split", ps[i]);
    graph_add_join(b, ps, 3, "join");
    graph_add_edge(b, "join", GRAPH_END);
    struct graph_compile_opts o = {.saver = sv};
    struct graph *g = NULL;
    struct sa_err err = {0};
    if (graph_compile(b, &o, &g, &err)) {
        fprintf(stderr, "bench_graph: %s\n", err.msg);
        exit(1);
    }
    graph_builder_free(b);
    return g;
}

static int check_fanout(const json_t *v)
{
    return json_integer_value(json_object_get(v, "joined")) == 3 &&
           json_array_size(json_object_get(v, "results")) == 3;
}

/* ---- measurement ---- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static long env_long(const char *name, long dflt)
{
    long v;
    const char *s = getenv(name);
    return s && sa_parse_long(s, 1, 100000000L, &v) == 0 ? v : dflt;
}

int main(int argc, char **argv)
{
    const char *w = argc > 1 ? argv[1] : "linear";
    bool sqlite = strcmp(w, "linear_sqlite") == 0, fan = strcmp(w, "fanout") == 0;
    if (!sqlite && !fan && strcmp(w, "linear") != 0) {
        fprintf(stderr, "usage: bench_graph linear|fanout|linear_sqlite\n");
        return 2;
    }
    long n = env_long("BENCH_GRAPH_N", 2000), warm = env_long("BENCH_GRAPH_WARMUP", 200);
    struct sa_err err = {0};
    struct graph_saver *sv = NULL;
    char dir[] = "/tmp/sa_bench_graph_XXXXXX", url[140] = "";
    if (sqlite) {
        if (!mkdtemp(dir))
            return 1;
        snprintf(url, sizeof url, "sqlite://%s/checkpoints.db", dir);
        if (sa_saver_open(url, &sv, &err)) {
            fprintf(stderr, "bench_graph: %s\n", err.msg);
            return 1;
        }
    } else {
        sv = graph_saver_memory_new();
    }
    struct graph *g = fan ? build_fanout(sv) : build_linear(sv);
    json_t *input = fan ? json_object() : linear_input();
    uint64_t *ns = malloc((size_t)n * sizeof *ns);
    char thread[48] = "";
    uint64_t total = 0;
    for (long i = -warm; i < n; i++) {
        snprintf(thread, sizeof thread, "thread-%ld", i + warm);
        struct graph_run_opts o = {.thread_id = thread};
        struct graph_result res;
        uint64_t t0 = sa_now_ns();
        int rc = graph_invoke(g, input, &o, &res, &err);
        uint64_t dt = sa_now_ns() - t0;
        if (rc) {
            fprintf(stderr, "bench_graph: %s\n", err.msg);
            return 1;
        }
        if (i == 0 && !(fan ? check_fanout(res.values) : check_linear(res.values))) {
            fprintf(stderr, "bench_graph: unexpected final state\n");
            return 1;
        }
        graph_result_clear(&res);
        if (i >= 0) {
            ns[i] = dt;
            total += dt;
        }
    }
    size_t bytes = 0;
    int records = 0;
    if (graph_saver_thread_bytes(sv, thread, &bytes, &records, &err))
        return 1;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    qsort(ns, (size_t)n, sizeof *ns, cmp_u64);
    printf("{\"workload\":\"%s\",\"engine\":\"sales-agent\",\"version\":\"%s\",\"n\":%ld,"
           "\"median_us\":%.2f,\"p99_us\":%.2f,\"inv_per_s\":%.1f,\"peak_rss_kb\":%ld,"
           "\"checkpoint_bytes_per_thread\":%zu,\"checkpoints_per_thread\":%d}\n",
           w, SA_VERSION, n, (double)ns[n / 2] / 1e3, (double)ns[(size_t)n * 99 / 100] / 1e3,
           (double)n / ((double)total / 1e9), ru.ru_maxrss, bytes, records);
    free(ns);
    json_decref(input);
    graph_free(g);
    graph_saver_free(sv);
    for (int i = 0; i < 5; i++)
        json_decref(sets[i].value);
    if (sqlite) {
        char cmd[200];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0)
            return 1;
    }
    return 0;
}
