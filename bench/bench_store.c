/* SQLite store benchmark: latency of one invocation write (lead upsert + execution row
 * in one transaction) on a temporary file database, from 1 and from 4 threads (group
 * commit batches the concurrent ones). Usage: bench_store [writes-per-thread] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/config.h"
#include "base/uuid.h"
#include "store/store.h"

static struct sa_store *store;
static long per_thread = 5000;
static char data[1200], output[2600];

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void *writer(void *arg)
{
    uint64_t *ns = arg;
    for (long i = 0; i < per_thread; i++) {
        char id[SA_UUID_LEN], eid[SA_UUID_LEN];
        sa_uuid_v7(id);
        sa_uuid_v7(eid);
        struct sa_lead_row l = {.id = id,
                                .company_name = "Acme Cloud",
                                .industry = "SaaS",
                                .company_size = "201-500",
                                .employees_min = 201,
                                .employees_max = 500,
                                .annual_revenue = 4e7,
                                .contact_email = "jane@acmecloud.io",
                                .data = data,
                                .score = 88,
                                .tier = "A",
                                .reasoning = "Acme scores 88"};
        struct sa_exec_row e = {.id = eid,
                                .lead_id = id,
                                .agent_type = "qualification",
                                .thread_id = id,
                                .success = true,
                                .input = data,
                                .output = output,
                                .processing_time_ms = 0.002};
        struct sa_err err = {0};
        uint64_t t0 = sa_now_ns();
        if (sa_store_save_invocation(store, &l, &e, &err)) {
            fprintf(stderr, "bench_store: %s\n", err.msg);
            exit(1);
        }
        ns[i] = sa_now_ns() - t0;
    }
    return NULL;
}

static void run(int threads)
{
    uint64_t *ns = calloc((size_t)(threads * per_thread), sizeof *ns);
    pthread_t t[16];
    uint64_t t0 = sa_now_ns();
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, writer, ns + i * per_thread);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double secs = (double)(sa_now_ns() - t0) / 1e9;
    size_t n = (size_t)(threads * per_thread);
    qsort(ns, n, sizeof *ns, cmp_u64);
    printf("store write, %d thread(s): n=%zu  p50=%.1f us  p99=%.1f us  %.0f writes/s\n", threads,
           n, (double)ns[n / 2] / 1e3, (double)ns[n * 99 / 100] / 1e3, (double)n / secs);
    free(ns);
}

int main(int argc, char **argv)
{
    if (argc > 1 && sa_parse_long(argv[1], 1, 10000000L, &per_thread)) {
        fprintf(stderr, "usage: bench_store [writes-per-thread]\n");
        return 2;
    }
    memset(data, 'd', sizeof data - 1);
    memset(output, 'o', sizeof output - 1);
    memcpy(data, "\"", 1);
    data[sizeof data - 2] = '"';
    output[0] = '"';
    output[sizeof output - 2] = '"';
    char dir[] = "/tmp/sa_bench_store_XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char url[128];
    snprintf(url, sizeof url, "sqlite://%s/bench.db", dir);
    struct sa_err err = {0};
    if (sa_store_open(url, 4, &store, &err) || sa_store_migrate(store, &err)) {
        fprintf(stderr, "bench_store: %s\n", err.msg);
        return 1;
    }
    run(1);
    run(4);
    sa_store_close(store);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
