/* Enrichment: a cache hit against a provider call (issue 15). The enrichment agent of an
 * sa_app with ENRICHMENT_PROVIDERS=local,apollo and SQLite, against the tests' fake Apollo
 * on loopback: each of N companies unknown to the local dataset is enriched once (the
 * local miss, Apollo's HTTP call, the cache write) and then again (the cache read). Prints
 * the median and p90 of each and the ratio of the medians. The fake answers at once, so
 * the provider figure is our own cost plus a loopback round trip: a real Apollo call adds
 * its network and service time on top. Usage: bench_enrich [companies] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agent.h"
#include "app/app.h"
#include "base/clock.h"
#include "base/config.h"
#include "base/log.h"
#include "domain/lead.h"
#include "fake_apollo.h"

#define KEY "bench-apollo-key"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Runs the agent on company i; its nanoseconds, or 0 after printing why it failed. */
static uint64_t run_one(struct sa_agent *a, long i, bool want_hit)
{
    json_t *in = json_object();
    char name[64], site[96];
    snprintf(name, sizeof name, "Bench Freight %ld", i);
    snprintf(site, sizeof site, "https://bench-freight-%ld.com", i);
    json_object_set_new(in, "company_name", json_string(name));
    json_object_set_new(in, "website", json_string(site));
    struct sa_lead lead;
    json_t *detail = json_array();
    int rc = sa_lead_parse(in, "", &lead, detail);
    json_decref(detail);
    json_decref(in);
    if (rc)
        return 0;
    json_t *out = NULL;
    struct sa_err err = {0};
    uint64_t t0 = sa_now_ns();
    rc = sa_agent_run(a, &lead, NULL, &out, &err);
    uint64_t ns = sa_now_ns() - t0;
    bool hit = json_is_true(json_object_get(out, "cache_hit"));
    bool apollo = json_is_object(json_object_get(out, "company"));
    sa_lead_clear(&lead);
    json_decref(out);
    if (rc || hit != want_hit || !apollo) {
        fprintf(stderr, "bench_enrich: company %ld: rc %d (%s), cache_hit %d, found %d\n", i, rc,
                err.msg, hit, apollo);
        return 0;
    }
    return ns;
}

static void report(const char *what, uint64_t *ns, long n, double *p50)
{
    qsort(ns, (size_t)n, sizeof *ns, cmp_u64);
    *p50 = (double)ns[n / 2] / 1e3;
    printf("%-34s p50=%8.1f us  p90=%8.1f us\n", what, *p50, (double)ns[(size_t)n * 9 / 10] / 1e3);
}

int main(int argc, char **argv)
{
    long n = 500;
    if (argc > 1 && sa_parse_long(argv[1], 10, 1000000L, &n)) {
        fprintf(stderr, "usage: bench_enrich [companies]\n");
        return 2;
    }
    sa_log_setup(SA_LOG_OFF, 2);
    struct fake_apollo *fake = fake_apollo_start(KEY);
    if (!fake)
        return 1;
    fake_apollo_usage(fake, 1000000, 1000000, 0, 0);
    for (long i = 0; i < n; i++) {
        char domain[64], name[64];
        snprintf(domain, sizeof domain, "bench-freight-%ld.com", i);
        snprintf(name, sizeof name, "Bench Freight %ld", i);
        json_t *org = fake_apollo_sample_org(name, domain);
        fake_apollo_add_org(fake, domain, org);
        json_decref(org);
    }
    char dir[] = "/tmp/sa_bench_enrich_XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char url[128];
    snprintf(url, sizeof url, "sqlite://%s/bench.db", dir);
    struct sa_config cfg;
    struct sa_err err = {0};
    if (sa_config_from_env(&cfg, &err))
        return 1;
    cfg.database_url = url;
    cfg.data_dir = SA_SOURCE_DIR "/data";
    cfg.enrichment_providers = "local,apollo";
    cfg.apollo_api_key = KEY;
    cfg.apollo_base_url = fake_apollo_base_url(fake);
    cfg.apollo_minute_limit = 100000;
    cfg.apollo_hourly_limit = 1000000;
    struct sa_app *app;
    if (sa_app_open(&cfg, &app, &err)) {
        fprintf(stderr, "bench_enrich: %s\n", err.msg);
        return 1;
    }
    struct sa_agent *a = sa_agents_get(app->agents, SA_AGENT_ENRICHMENT);
    uint64_t *call = malloc((size_t)n * sizeof *call), *hit = malloc((size_t)n * sizeof *hit);
    int rc = 0;
    for (long i = 0; i < n && !rc; i++)
        rc = !(call[i] = run_one(a, i, false));
    for (long i = 0; i < n && !rc; i++)
        rc = !(hit[i] = run_one(a, i, true));
    size_t requests = fake_apollo_requests(fake);
    if (!rc && requests != (size_t)n) {
        fprintf(stderr, "bench_enrich: %zu requests at the fake for %ld companies\n", requests, n);
        rc = 1;
    }
    if (!rc) {
        printf("enrichment agent, %ld companies not in the local dataset, SQLite cache\n", n);
        double p_call, p_hit;
        report("provider call (local miss, Apollo)", call, n, &p_call);
        report("cache hit", hit, n, &p_hit);
        printf("cache hit is %.1fx faster than the provider call (p50); requests at the fake: "
               "%zu\n",
               p_call / p_hit, requests);
    }
    free(call);
    free(hit);
    sa_app_close(app);
    fake_apollo_stop(fake);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
