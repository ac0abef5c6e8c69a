/* In-process qualification benchmark: per-lead latency of (a) the model alone on a
 * validated lead and (b) the agent's whole path from JSON text (parse, validate, score,
 * output JSON), over the sample leads repeated, with the ratio against the original
 * Python design's 633 ms per lead. Usage: bench_score [iterations] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/lead.h"
#include "domain/scoring.h"
#include "base/clock.h"
#include "base/config.h"
#include "base/json.h"

#define SEED_MS 633.0

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *name, uint64_t *ns, size_t n)
{
    qsort(ns, n, sizeof *ns, cmp_u64);
    double p50 = (double)ns[n / 2] / 1e3, p99 = (double)ns[n * 99 / 100] / 1e3;
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += (double)ns[i];
    printf("%-34s n=%zu  p50=%.2f us  p99=%.2f us  mean=%.2f us  "
           "vs seed 633 ms: %.0fx faster (p50)\n",
           name, n, p50, p99, total / (double)n / 1e3, SEED_MS * 1e3 / p50);
}

int main(int argc, char **argv)
{
    long iters = 200000;
    if (argc > 1 && sa_parse_long(argv[1], 1, 100000000L, &iters)) {
        fprintf(stderr, "usage: bench_score [iterations]\n");
        return 2;
    }
    struct sa_err err = {0};
    struct sa_model *model;
    if (sa_model_load(SA_SOURCE_DIR "/data", &model, &err)) {
        fprintf(stderr, "bench_score: %s\n", err.msg);
        return 1;
    }
    json_t *root;
    if (sa_json_load_file(SA_SOURCE_DIR "/data/sample_leads.json", &root, &err)) {
        fprintf(stderr, "bench_score: %s\n", err.msg);
        return 1;
    }
    json_t *arr = json_object_get(root, "leads");
    size_t nl = json_array_size(arr);
    struct sa_lead *leads = calloc(nl, sizeof *leads);
    char **texts = calloc(nl, sizeof *texts);
    json_t *detail = json_array();
    for (size_t i = 0; i < nl; i++) {
        json_t *in = json_deep_copy(json_array_get(arr, i));
        json_object_del(in, "id");
        texts[i] = json_dumps(in, JSON_COMPACT);
        if (sa_lead_parse(in, "", &leads[i], detail)) {
            fprintf(stderr, "bench_score: sample lead %zu invalid\n", i);
            return 1;
        }
        json_decref(in);
    }
    uint64_t *ns = malloc((size_t)iters * sizeof *ns);
    volatile int sink = 0;
    struct sa_score s;
    for (long i = 0; i < 1000; i++) /* warm-up */
        sa_model_score(model, &leads[(size_t)i % nl], &s);
    for (long i = 0; i < iters; i++) {
        uint64_t t0 = sa_now_ns();
        sa_model_score(model, &leads[(size_t)i % nl], &s);
        ns[i] = sa_now_ns() - t0;
        sink += s.score;
    }
    printf("qualification benchmark: %zu sample leads, %ld iterations each mode\n", nl, iters);
    report("model score (validated lead)", ns, (size_t)iters);
    for (long i = 0; i < iters; i++) {
        uint64_t t0 = sa_now_ns();
        const char *t = texts[(size_t)i % nl];
        json_t *in = json_loads(t, 0, NULL);
        struct sa_lead l;
        json_array_clear(detail);
        if (sa_lead_parse(in, "body.input", &l, detail) == 0) {
            sa_model_score(model, &l, &s);
            json_t *out = sa_score_to_json(model, &s);
            char *text = json_dumps(out, JSON_COMPACT);
            sink += (int)strlen(text);
            free(text);
            json_decref(out);
            sa_lead_clear(&l);
        }
        json_decref(in);
        ns[i] = sa_now_ns() - t0;
    }
    report("agent path (JSON in -> JSON out)", ns, (size_t)iters);
    (void)sink;
    free(ns);
    for (size_t i = 0; i < nl; i++) {
        sa_lead_clear(&leads[i]);
        free(texts[i]);
    }
    free(leads);
    free(texts);
    json_decref(detail);
    json_decref(root);
    sa_model_free(model);
    return 0;
}
