/* Fuzz driver for checkpoint deserialisation: the input is stored as a thread's latest
 * checkpoint record (and, split at the first NUL or halfway, as its pending writes), then
 * read back through graph_get_state and continued with graph_invoke. A corrupt record
 * must give an error, never a crash, a hang or a leak. Built like fuzz_invoke_body (see
 * tests/CMakeLists.txt). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "graph/saver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct graph *g;
static struct graph_saver *sv;

static int step(const json_t *state, json_t **update, struct graph_ctx *ctx, void *arg)
{
    (void)ctx;
    (void)arg;
    json_int_t n = json_integer_value(json_object_get(state, "n"));
    *update = json_pack("{s:I, s:[s]}", "n", n + 1, "log", "x");
    return 0;
}

static int more(const json_t *state, json_t **next, void *arg)
{
    (void)arg;
    *next = json_string(json_integer_value(json_object_get(state, "n")) < 3 ? "b" : GRAPH_END);
    return 0;
}

static void teardown(void)
{
    graph_free(g);
    graph_saver_free(sv);
}

static void setup(void)
{
    sv = graph_saver_memory_new();
    struct graph_builder *b = graph_builder_new();
    graph_add_channel(b, "n", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(b, "log", GRAPH_APPEND, NULL, NULL, NULL);
    graph_add_node(b, "a", step, NULL, NULL);
    graph_add_node(b, "b", step, NULL, NULL);
    graph_add_edge(b, GRAPH_START, "a");
    graph_add_edge(b, "a", "b");
    graph_add_conditional_edges(b, "b", more, NULL, NULL);
    struct graph_compile_opts o = {.saver = sv, .recursion_limit = 10};
    struct sa_err err = {0};
    if (graph_compile(b, &o, &g, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        abort();
    }
    graph_builder_free(b);
    atexit(teardown);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g)
        setup();
    static unsigned long run;
    char thread[32];
    snprintf(thread, sizeof thread, "fuzz-%lu", run++);
    size_t split = size / 2;
    const void *nul = memchr(data, 0, size);
    if (nul)
        split = (size_t)((const uint8_t *)nul - data);
    struct graph_record r = {.id = "019a0000-0000-7000-8000-000000000001",
                             .step = 1,
                             .full = true,
                             .blob = (char *)data,
                             .blob_len = split,
                             .writes = split < size ? (char *)data + split + 1 : NULL,
                             .writes_len = split < size ? size - split - 1 : 0};
    struct sa_err err = {0};
    if (graph_saver_put(sv, thread, &r, &err))
        return 0;
    json_t *snap = NULL;
    if (graph_get_state(g, thread, NULL, &snap, &err) == 0)
        json_decref(snap);
    struct graph_run_opts o = {.thread_id = thread};
    struct graph_result res;
    if (graph_invoke(g, NULL, &o, &res, &err) == 0)
        graph_result_clear(&res);
    /* the memory saver drops a thread it holds; failing to would leak, which ASan reports */
    if (graph_saver_delete_thread(sv, thread, &err))
        abort();
    return 0;
}
