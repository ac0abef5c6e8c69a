/* The per-request cost of access control in process: resolving an API key to a principal
 * (parse, key cache, salted SHA-256, constant-time compare, revocation and expiry checks)
 * plus one token from the per-principal rate limiter, which is what http/guard.c does for
 * every /api/ request. The store is an in-memory SQLite database: after the first call the key comes from the cache, as on a
 * busy server. Each case runs ROUNDS rounds of OPS calls; the median round is the figure.
 * Usage: bench_access [ops_per_round] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/access.h"
#include "base/clock.h"
#include "base/config.h"
#include "store/store.h"

#define ROUNDS 7

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A fixed clock moving 1 us per call, so the 5 s key cache is refreshed as on a real
 * server (once every 5 s of calls) and the bucket refills. */
static double fake_now_s = 1.8e9;
static double fake_now(void)
{
    return fake_now_s;
}

static void die(const char *what, const struct sa_err *err)
{
    fprintf(stderr, "bench_access: %s: %s\n", what, err->msg);
    exit(1);
}

int main(int argc, char **argv)
{
    long ops = argc > 1 ? atol(argv[1]) : 200000;
    struct sa_config cfg;
    struct sa_err err = {0};
    if (sa_config_from_env(&cfg, &err))
        die("config", &err);
    cfg.rate_limit_per_minute = 10000000; /* counted, never refused: the cost is measured */
    struct sa_store *store = NULL;
    struct sa_access *a = NULL;
    if (sa_store_open("sqlite::memory:", 1, &store, &err) || sa_store_migrate(store, &err) ||
        sa_access_open(&cfg, store, &a, &err))
        die("open", &err);
    sa_access_set_clock(a, fake_now);
    json_t *k = NULL;
    if (sa_access_key_create(a, "bench", "read,write", NULL, "bench", fake_now(), &k, &err))
        die("key", &err);
    char key[128];
    snprintf(key, sizeof key, "%s", json_string_value(json_object_get(k, "key")));
    json_decref(k);

    double key_ns[ROUNDS], all_ns[ROUNDS];
    long refused = 0;
    for (int round = 0; round < ROUNDS; round++) {
        uint64_t t0 = sa_now_ns();
        for (long i = 0; i < ops; i++) {
            struct sa_principal p;
            fake_now_s += 1e-6;
            if (sa_access_authenticate(a, key, true, fake_now_s, &p, &err))
                die("authenticate", &err);
        }
        uint64_t t1 = sa_now_ns();
        for (long i = 0; i < ops; i++) {
            struct sa_principal p;
            struct sa_limit l;
            fake_now_s += 1e-6;
            if (sa_access_authenticate(a, key, true, fake_now_s, &p, &err) ||
                sa_access_limit_request(a, &p, fake_now_s, &l, &err))
                die("authenticate and limit", &err);
            refused += !l.allowed;
        }
        uint64_t t2 = sa_now_ns();
        key_ns[round] = (double)(t1 - t0) / (double)ops;
        all_ns[round] = (double)(t2 - t1) / (double)ops;
    }
    qsort(key_ns, ROUNDS, sizeof key_ns[0], cmp);
    qsort(all_ns, ROUNDS, sizeof all_ns[0], cmp);
    printf("%-52s %8.0f ns  (min %.0f, max %.0f)\n", "API key -> principal (cached key)",
           key_ns[ROUNDS / 2], key_ns[0], key_ns[ROUNDS - 1]);
    printf("%-52s %8.0f ns  (min %.0f, max %.0f)  target < 2000 ns\n",
           "API key -> principal + rate-limit token", all_ns[ROUNDS / 2], all_ns[0],
           all_ns[ROUNDS - 1]);
    if (refused)
        printf("(refused %ld: the bucket was not meant to empty)\n", refused);
    sa_access_close(a);
    sa_store_close(store);
    return 0;
}
