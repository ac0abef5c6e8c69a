/* Intent benchmark: trains the conversation agent's classifier on data/intents/ (timed),
 * then scores it on the held-out replies (tests/data/replies_holdout.tsv): accuracy,
 * macro-F1, expected calibration error (10 bins), per-label precision/recall/F1, and the
 * latency of one sa_intent_analyse turn (median and p99 over the set, repeated).
 * Usage: bench_intent [rounds] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/config.h"
#include "domain/intent.h"

#define MAX_LABELS 32
#define MAX_EXAMPLES 2048

struct labelled {
    char *label, *text;
};

/* label<TAB>text lines, "\n" escapes, # comments; returns the count, or 0 on error. */
static size_t read_set(const char *path, char **buf, struct labelled *ex)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc((size_t)(size > 0 ? size : 0) + 1);
    if (!*buf) {
        fclose(f);
        return 0;
    }
    size_t got = fread(*buf, 1, (size_t)(size > 0 ? size : 0), f), n = 0;
    fclose(f);
    (*buf)[got] = '\0';
    for (char *line = *buf, *next; line && *line && n < MAX_EXAMPLES; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *tab = strchr(line, '\t');
        if (line[0] == '#' || !tab)
            continue;
        *tab = '\0';
        char *o = tab + 1;
        for (char *p = tab + 1; *p; p++) {
            if (p[0] == '\\' && p[1] == 'n') {
                *o++ = '\n';
                p++;
            } else {
                *o++ = *p;
            }
        }
        *o = '\0';
        ex[n++] = (struct labelled){line, tab + 1};
    }
    return n;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double f1(size_t tp, size_t fp, size_t fn)
{
    double d = 2.0 * (double)tp + (double)fp + (double)fn;
    return d > 0 ? 2.0 * (double)tp / d : 0;
}

int main(int argc, char **argv)
{
    long rounds = 20;
    if (argc > 1 && sa_parse_long(argv[1], 1, 100000L, &rounds)) {
        fprintf(stderr, "usage: bench_intent [rounds]\n");
        return 2;
    }
    struct sa_err err = {0};
    struct sa_intent_model *m = NULL;
    struct sa_intent_eval ev = {0};
    uint64_t t0 = sa_now_ns();
    if (sa_intent_train(SA_SOURCE_DIR "/data/intents", &m, &ev, &err)) {
        fprintf(stderr, "bench_intent: %s\n", err.msg);
        return 1;
    }
    uint64_t t1 = sa_now_ns();
    printf("training (80 %% run + temperature fit + full run): %.0f ms; calibration split: "
           "accuracy %.3f, ECE %.3f, temperature %.2f\n",
           (double)(t1 - t0) / 1e6, ev.accuracy, ev.ece, ev.temperature);
    json_decref(ev.confusion);
    /* CPU time beside wall time: on a shared machine the wall clock also counts waiting */
    struct timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    t0 = sa_now_ns();
    struct sa_intent_model *m2 = NULL;
    if (sa_intent_train(SA_SOURCE_DIR "/data/intents", &m2, NULL, &err) == 0) {
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
        printf("start-up training (what the server does): %.0f ms wall, %.0f ms CPU\n",
               (double)(sa_now_ns() - t0) / 1e6,
               (double)(c1.tv_sec - c0.tv_sec) * 1e3 + (double)(c1.tv_nsec - c0.tv_nsec) / 1e6);
    }
    sa_intent_free(m2);

    static struct labelled ex[MAX_EXAMPLES];
    char *buf = NULL;
    size_t n = read_set(SA_SOURCE_DIR "/tests/data/replies_holdout.tsv", &buf, ex);
    if (n == 0) {
        fprintf(stderr, "bench_intent: cannot read tests/data/replies_holdout.tsv\n");
        sa_intent_free(m);
        return 1;
    }
    size_t labels = sa_intent_label_count(m), correct = 0;
    size_t tp[MAX_LABELS] = {0}, fp[MAX_LABELS] = {0}, fn[MAX_LABELS] = {0}, bin_n[10] = {0};
    double bin_conf[10] = {0}, bin_acc[10] = {0};
    time_t now = time(NULL);
    for (size_t i = 0; i < n; i++) {
        struct sa_intent_result r;
        sa_intent_analyse(m, ex[i].text, now, &r);
        int ok = strcmp(r.intent, ex[i].label) == 0;
        correct += (size_t)ok;
        int b = r.confidence >= 1.0 ? 9 : (int)(r.confidence * 10);
        bin_n[b]++;
        bin_conf[b] += r.confidence;
        bin_acc[b] += ok;
        for (size_t l = 0; l < labels && l < MAX_LABELS; l++) {
            const char *name = sa_intent_label(m, l);
            int actual = strcmp(name, ex[i].label) == 0, got = strcmp(name, r.intent) == 0;
            tp[l] += (size_t)(actual && got);
            fp[l] += (size_t)(!actual && got);
            fn[l] += (size_t)(actual && !got);
        }
    }
    double macro = 0, ece = 0;
    for (size_t l = 0; l < labels; l++)
        macro += f1(tp[l], fp[l], fn[l]);
    for (int b = 0; b < 10; b++)
        if (bin_n[b]) {
            double gap = (bin_acc[b] - bin_conf[b]) / (double)n;
            ece += gap < 0 ? -gap : gap;
        }
    printf("held-out replies (%zu): accuracy %.3f  macro-F1 %.3f  ECE %.3f (10 bins)\n", n,
           (double)correct / (double)n, macro / (double)labels, ece);
    printf("%-22s %6s %6s %6s %8s\n", "label", "prec", "recall", "F1", "support");
    for (size_t l = 0; l < labels; l++) {
        double prec = tp[l] + fp[l] ? (double)tp[l] / (double)(tp[l] + fp[l]) : 0;
        double rec = tp[l] + fn[l] ? (double)tp[l] / (double)(tp[l] + fn[l]) : 0;
        printf("%-22s %6.3f %6.3f %6.3f %8zu\n", sa_intent_label(m, l), prec, rec,
               f1(tp[l], fp[l], fn[l]), tp[l] + fn[l]);
    }
    printf("reliability: confidence bin, replies, mean confidence, accuracy\n");
    for (int b = 0; b < 10; b++)
        if (bin_n[b])
            printf("  [%.1f,%.1f) %4zu  %.3f  %.3f\n", b / 10.0, (b + 1) / 10.0, bin_n[b],
                   bin_conf[b] / (double)bin_n[b], bin_acc[b] / (double)bin_n[b]);

    /* turn latency: every held-out reply, rounds times */
    size_t total = n * (size_t)rounds;
    uint64_t *ns = malloc(total * sizeof *ns);
    if (!ns) {
        free(buf);
        sa_intent_free(m);
        return 1;
    }
    for (size_t k = 0; k < total; k++) {
        struct sa_intent_result r;
        uint64_t a = sa_now_ns();
        sa_intent_analyse(m, ex[k % n].text, now, &r);
        ns[k] = sa_now_ns() - a;
    }
    qsort(ns, total, sizeof *ns, cmp_u64);
    printf("sa_intent_analyse: n=%zu  median %.1f us  p99 %.1f us\n", total,
           (double)ns[total / 2] / 1e3, (double)ns[total * 99 / 100] / 1e3);
    free(ns);
    free(buf);
    sa_intent_free(m);
    return 0;
}
