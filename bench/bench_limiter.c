/* In-process rate limiter benchmark: nanoseconds per sa_limiter_take on the memory
 * backend for (a) one hot key on one thread, (b) 1,000 keys in turn, (c) two threads, each
 * on its own 1,000 keys and both on one shared key (one shard's lock), plus one
 * sa_limiter_hit on an hour window (a limit high enough that every call counts). Each case runs
 * several rounds of OPS calls; the median round is the figure (min and max beside it). Time passes
 * 1 us per call (a fake clock), so buckets both refuse and refill as under load. Usage:
 * bench_limiter [ops_per_round] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/clock.h"
#include "base/config.h"
#include "resilience/ratelimit.h"

#define ROUNDS 9
#define NKEYS 1000
#define PER_MINUTE 600 /* RATE_LIMIT_PER_MINUTE's default */

enum mode { TAKE_ONE, TAKE_MANY, HIT_ONE };

struct job {
    struct sa_limiter *l;
    char (*keys)[32]; /* NKEYS keys */
    enum mode mode;
    long ops;
    double start;          /* fake time of the first call, seconds */
    pthread_barrier_t *go; /* NULL on one thread */
    uint64_t ns;
    long allowed;
    int failed;
};

static void *run_job(void *arg)
{
    struct job *j = arg;
    if (j->go)
        pthread_barrier_wait(j->go);
    struct sa_err err = {0};
    struct sa_limit r;
    uint64_t t0 = sa_now_ns();
    for (long i = 0; i < j->ops; i++) {
        double now = j->start + (double)i * 1e-6;
        int rc;
        if (j->mode == TAKE_ONE)
            rc = sa_limiter_take(j->l, j->keys[0], PER_MINUTE, now, &r, &err);
        else if (j->mode == TAKE_MANY)
            rc = sa_limiter_take(j->l, j->keys[i % NKEYS], PER_MINUTE, now, &r, &err);
        else
            rc = sa_limiter_hit(j->l, j->keys[0], 100000000, 3600, now, &r, &err);
        j->failed += rc != 0;
        j->allowed += r.allowed;
    }
    j->ns = sa_now_ns() - t0;
    return NULL;
}

/* One round on nthreads threads, each job given its keys; ns per call, per thread. */
static double round_ns(struct sa_limiter *l, char (**keys)[32], int nthreads, enum mode mode,
                       long ops)
{
    static double clock_s; /* moves on by each round's fake time */
    double start = clock_s;
    clock_s += (double)ops * 1e-6;
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, (unsigned)nthreads);
    struct job jobs[2];
    pthread_t tid[2];
    for (int t = 0; t < nthreads; t++) {
        jobs[t] = (struct job){.l = l,
                               .keys = keys[t],
                               .mode = mode,
                               .ops = ops,
                               .start = start,
                               .go = nthreads > 1 ? &go : NULL};
        if (nthreads == 1)
            run_job(&jobs[t]);
        else if (pthread_create(&tid[t], NULL, run_job, &jobs[t])) {
            fprintf(stderr, "bench_limiter: pthread_create failed\n");
            exit(1);
        }
    }
    uint64_t worst = 0;
    long allowed = 0;
    int failed = 0;
    for (int t = 0; t < nthreads; t++) {
        if (nthreads > 1)
            pthread_join(tid[t], NULL);
        allowed += jobs[t].allowed;
        failed += jobs[t].failed;
        worst = jobs[t].ns > worst ? jobs[t].ns : worst;
    }
    /* Some calls must pass and none fail, or the figure measures an error path. */
    if (failed || !allowed) {
        fprintf(stderr, "bench_limiter: %d calls failed, %ld allowed\n", failed, allowed);
        exit(1);
    }
    pthread_barrier_destroy(&go);
    return (double)worst / (double)ops;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void bench(const char *name, char (**keys)[32], int nthreads, enum mode mode, long ops)
{
    struct sa_limiter *l;
    struct sa_err err = {0};
    if (sa_limiter_memory_open(100000, &l, &err)) {
        fprintf(stderr, "bench_limiter: %s\n", err.msg);
        exit(1);
    }
    double ns[ROUNDS];
    round_ns(l, keys, nthreads, mode, ops / 10); /* warm-up: entries, caches */
    for (int r = 0; r < ROUNDS; r++)
        ns[r] = round_ns(l, keys, nthreads, mode, ops);
    qsort(ns, ROUNDS, sizeof ns[0], cmp_double);
    printf("%-46s median=%6.1f ns  min=%6.1f  max=%6.1f  (%d rounds x %ld calls%s)\n", name,
           ns[ROUNDS / 2], ns[0], ns[ROUNDS - 1], ROUNDS, ops, nthreads > 1 ? " per thread" : "");
    sa_limiter_close(l);
}

int main(int argc, char **argv)
{
    long ops = 1000000;
    if (argc > 1 && sa_parse_long(argv[1], 1000, 1000000000L, &ops)) {
        fprintf(stderr, "usage: bench_limiter [ops_per_round: 1000-1000000000]\n");
        return 2;
    }
    static char keys[2][NKEYS][32];
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < NKEYS; i++)
            snprintf(keys[t][i], sizeof keys[t][i], "key:%c%08d", 'a' + t, i);
    char(*own[2])[32] = {keys[0], keys[1]};
    char(*same[2])[32] = {keys[0], keys[0]};
    printf("rate limiter, memory backend, ns per call (per_minute %d, 1 us of fake time per "
           "call)\n",
           PER_MINUTE);
    bench("take: one hot key, 1 thread", own, 1, TAKE_ONE, ops);
    bench("take: 1,000 keys in turn, 1 thread", own, 1, TAKE_MANY, ops);
    bench("take: 2 threads, 1,000 keys each", own, 2, TAKE_MANY, ops);
    bench("take: 2 threads, one shared key", same, 2, TAKE_ONE, ops);
    bench("hit (hour window): one hot key, 1 thread", own, 1, HIT_ONE, ops);
    return 0;
}
