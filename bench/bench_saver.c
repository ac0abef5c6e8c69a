/* Checkpoint saver benchmark: the latency of one checkpoint save (one super-step: a
 * record with a delta blob and pending writes) and of reading a thread's latest record,
 * on each saver named on the command line, with the in-process memory saver as the
 * baseline of the same run and the target per backend beside each. Usage: bench_saver [-n puts] URL...
 * URLs as DATABASE_URL / REDIS_URL take them: sqlite://PATH, postgresql://...,
 * redis://HOST:PORT[/DB]; "memory" is the in-process saver. Each put goes to one of 64
 * threads in turn, ten steps per thread, like 64 pipeline runs side by side. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/uuid.h"
#include "graph/saver.h"
#include "store/store.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* A checkpoint delta like the pipeline's: JSON channel values, ~2 KB. */
static void fill_blob(char *b, size_t n)
{
    size_t off = 0;
    for (int i = 0; off + 120 < n; i++)
        off += (size_t)snprintf(b + off, n - off,
                                "{\"channel\":\"lead\",\"version\":%d,\"value\":{\"company_name\":"
                                "\"Acme Cloud %d\",\"score\":%d,\"tier\":\"A\"}},",
                                i, i * 7, 40 + i % 60);
    memset(b + off, ' ', n - off - 1);
    b[n - 1] = '\0';
}

struct figures {
    double put_p50, put_p99, get_p50;
};

static int run(const char *url, long puts, struct figures *f)
{
    struct sa_err err = {0};
    struct graph_saver *sv = NULL;
    int rc = strcmp(url, "memory") == 0 ? ((sv = graph_saver_memory_new()) ? 0 : SA_ENOMEM)
                                         : sa_saver_open(url, &sv, &err);
    if (rc) {
        fprintf(stderr, "bench_saver: %s: %s\n", url, err.msg[0] ? err.msg : sa_strerror(rc));
        return rc;
    }
    enum { THREADS = 64 };
    char threads[THREADS][GRAPH_ID_LEN], last[THREADS][GRAPH_ID_LEN];
    for (int t = 0; t < THREADS; t++) {
        sa_uuid_v7(threads[t]);
        last[t][0] = '\0';
    }
    static char blob[2048], writes[256];
    fill_blob(blob, sizeof blob);
    fill_blob(writes, sizeof writes);
    uint64_t *put_ns = calloc((size_t)puts, sizeof *put_ns);
    uint64_t *get_ns = calloc((size_t)puts, sizeof *get_ns);
    if (!put_ns || !get_ns) {
        free(put_ns);
        free(get_ns);
        graph_saver_free(sv);
        return SA_ENOMEM;
    }
    for (long i = 0; i < puts && !rc; i++) {
        int t = (int)(i % THREADS);
        struct graph_record r = {.step = (int)(i / THREADS), .full = i / THREADS % 10 == 0,
                                 .blob = blob, .blob_len = sizeof blob - 1,
                                 .writes = writes, .writes_len = sizeof writes - 1,
                                 .expires_at = sa_wall_seconds() + 3600};
        sa_uuid_v7(r.id);
        snprintf(r.parent_id, sizeof r.parent_id, "%s", last[t]);
        uint64_t t0 = sa_now_ns();
        rc = graph_saver_put(sv, threads[t], &r, &err);
        put_ns[i] = sa_now_ns() - t0;
        snprintf(last[t], sizeof last[t], "%s", r.id);
        struct graph_record got = {0};
        t0 = sa_now_ns();
        if (!rc)
            rc = graph_saver_get(sv, threads[t], NULL, &got, &err);
        get_ns[i] = sa_now_ns() - t0;
        graph_record_clear(&got);
    }
    for (int t = 0; t < THREADS && !rc; t++)
        rc = graph_saver_delete_thread(sv, threads[t], &err);
    if (rc)
        fprintf(stderr, "bench_saver: %s: %s\n", url, err.msg);
    qsort(put_ns, (size_t)puts, sizeof *put_ns, cmp_u64);
    qsort(get_ns, (size_t)puts, sizeof *get_ns, cmp_u64);
    f->put_p50 = (double)put_ns[puts / 2] / 1e3;
    f->put_p99 = (double)put_ns[puts * 99 / 100] / 1e3;
    f->get_p50 = (double)get_ns[puts / 2] / 1e3;
    free(put_ns);
    free(get_ns);
    graph_saver_free(sv);
    return rc;
}

int main(int argc, char **argv)
{
    long puts = 5000;
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "-n") == 0) {
        puts = strtol(argv[2], NULL, 10);
        first = 3;
    }
    if (puts < 100 || first >= argc) {
        fprintf(stderr, "usage: bench_saver [-n puts>=100] URL... (memory, sqlite://PATH, "
                        "postgresql://..., redis://...)\n");
        return 2;
    }
    struct figures base;
    if (run("memory", puts, &base))
        return 1;
    printf("%-10s %12s %12s %12s %10s %8s\n", "saver", "put_p50_us", "put_p99_us", "get_p50_us",
           "target_us", "p50/tgt");
    printf("%-10s %12.1f %12.1f %12.1f %10s %8s\n", "memory", base.put_p50, base.put_p99,
           base.get_p50, "-", "-");
    int failed = 0;
    for (int i = first; i < argc; i++) {
        if (strcmp(argv[i], "memory") == 0)
            continue;
        struct figures f;
        if (run(argv[i], puts, &f)) {
            failed = 1;
            continue;
        }
        char scheme[16];
        snprintf(scheme, sizeof scheme, "%.*s", (int)strcspn(argv[i], ":"), argv[i]);
        /* the targets at p50 */
        double target = strcmp(scheme, "sqlite") == 0  ? 50
                        : strcmp(scheme, "redis") == 0 ? 300
                                                       : 1000;
        printf("%-10s %12.1f %12.1f %12.1f %10.0f %8.2f\n", scheme, f.put_p50, f.put_p99,
               f.get_p50, target, f.put_p50 / target);
    }
    printf("(%ld puts of a 2 KB delta + 256 B of writes over 64 threads, one at a time)\n", puts);
    return failed;
}
