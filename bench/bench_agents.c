/* Agents and pipeline, in process: per-agent median/p99 over the sample leads against the
 * original design's budgets (qualification 633 ms, enrichment 3 s, growth 5 s, marketing
 * 4 s), and the whole pipeline with SQLite checkpoints (runs/s). Goes through sa_app, so
 * the cost includes storing each lead and execution as the API does. Then conversation
 * turns (four-turn threads on SQLite checkpoints) and intent recognition alone (held-out
 * accuracy, the most frequent confusions, the cost of one message).
 * Usage: bench_agents [iterations] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/intent.h"
#include "domain/lead.h"
#include "app/app.h"
#include "app/approvals.h"
#include "app/invoke.h"
#include "base/config.h"
#include "base/json.h"
#include "base/log.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    long iters = 2000;
    if (argc > 1 && sa_parse_long(argv[1], 1, 10000000L, &iters)) {
        fprintf(stderr, "usage: bench_agents [iterations]\n");
        return 2;
    }
    sa_log_setup(SA_LOG_OFF, 2);
    char dir[] = "/tmp/sa_bench_agents_XXXXXX";
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
    struct sa_app *app;
    if (sa_app_open(&cfg, &app, &err)) {
        fprintf(stderr, "bench_agents: %s\n", err.msg);
        return 1;
    }
    json_t *root;
    if (sa_json_load_file(SA_SOURCE_DIR "/data/sample_leads.json", &root, &err))
        return 1;
    json_t *leads = json_object_get(root, "leads");
    size_t nl = json_array_size(leads);
    struct sa_lead *ls = calloc(nl, sizeof *ls);
    json_t *detail = json_array();
    for (size_t i = 0; i < nl; i++) {
        json_t *in = json_deep_copy(json_array_get(leads, i));
        json_object_del(in, "id");
        if (sa_lead_parse(in, "", &ls[i], detail))
            return 1;
        json_decref(in);
    }
    static const struct {
        int type;
        const char *name;
        double budget_ms;
    } runs[] = {{SA_AGENT_QUALIFICATION, "qualification", 633},
                {SA_AGENT_ENRICHMENT, "enrichment", 3000},
                {SA_AGENT_GROWTH, "growth", 5000},
                {SA_AGENT_MARKETING, "marketing", 4000},
                {SA_AGENT_PIPELINE, "pipeline (to bdr approval)", 12633}};
    uint64_t *ns = malloc((size_t)iters * sizeof *ns);
    printf("agents through sa_app (agent + SQLite write of lead and execution), %zu sample "
           "leads, %ld runs each\n",
           nl, iters);
    for (size_t k = 0; k < sizeof runs / sizeof runs[0]; k++) {
        uint64_t total = 0;
        for (long i = 0; i < iters; i++) {
            struct sa_invoke_req req = {.type = runs[k].type, .lead = &ls[(size_t)i % nl]};
            struct sa_invoke_res res;
            uint64_t t0 = sa_now_ns();
            if (sa_app_invoke(app, &req, &res, &err)) {
                fprintf(stderr, "bench_agents: %s: %s\n", runs[k].name, err.msg);
                return 1;
            }
            ns[i] = sa_now_ns() - t0;
            total += ns[i];
            sa_invoke_res_clear(&res);
        }
        qsort(ns, (size_t)iters, sizeof *ns, cmp_u64);
        double p50 = (double)ns[iters / 2] / 1e6, p99 = (double)ns[(size_t)iters * 99 / 100] / 1e6;
        printf("%-22s p50=%.3f ms  p99=%.3f ms  %.0f/s   vs seed budget %.0f ms: %.0fx faster\n",
               runs[k].name, p50, p99, (double)iters / ((double)total / 1e9), runs[k].budget_ms,
               runs[k].budget_ms / p50);
    }

    /* bdr: answering the approval (accept) resumes the thread and queues the e-mail and
     * follow-ups into the outbox: the seed's budget is 2 s per node. Distinct contacts, so
     * the frequency cap does not skip the drafts. */
    long nb = iters / 4 > 0 ? iters / 4 : 1;
    uint64_t btotal = 0;
    long timed = 0;
    json_t *accept = json_pack("{s:s}", "type", "accept");
    for (long i = 0; i < nb; i++) {
        json_t *in = json_deep_copy(ls[0].raw);
        char email[96];
        snprintf(email, sizeof email, "bench%ld@quorvianta-bench.io", i);
        json_t *ci = json_object_get(in, "contact_info");
        if (!json_is_object(ci)) {
            ci = json_object();
            json_object_set_new(in, "contact_info", ci);
        }
        json_object_set_new(ci, "email", json_string(email));
        struct sa_lead lead;
        json_t *d = json_array();
        int prc = sa_lead_parse(in, "", &lead, d);
        json_decref(d);
        json_decref(in);
        if (prc)
            return 1;
        struct sa_invoke_req req = {.type = SA_AGENT_PIPELINE, .lead = &lead};
        struct sa_invoke_res res;
        if (sa_app_invoke(app, &req, &res, &err)) {
            fprintf(stderr, "bench_agents: bdr: %s\n", err.msg);
            return 1;
        }
        const char *aid = json_string_value(json_object_get(
            json_array_get(json_object_get(res.output, "approvals"), 0), "approval_id"));
        if (aid) {
            json_t *detail2 = json_array(), *out = NULL;
            bool recorded;
            uint64_t t0 = sa_now_ns();
            int drc = sa_app_decide(app, aid, accept, "bench", detail2, &out, &recorded, &err);
            uint64_t dt = sa_now_ns() - t0;
            json_decref(detail2);
            json_decref(out);
            if (drc) {
                fprintf(stderr, "bench_agents: approval: %s\n", err.msg);
                return 1;
            }
            ns[timed++] = dt;
            btotal += dt;
        }
        sa_invoke_res_clear(&res);
        sa_lead_clear(&lead);
    }
    json_decref(accept);
    if (timed > 0) {
        qsort(ns, (size_t)timed, sizeof *ns, cmp_u64);
        double p50 = (double)ns[timed / 2] / 1e6;
        printf("%-22s p50=%.3f ms  p99=%.3f ms  %.0f/s   vs seed budget 2000 ms per node: %.0fx "
               "faster\n",
               "bdr approval -> outbox", p50, (double)ns[(size_t)timed * 99 / 100] / 1e6,
               (double)timed / ((double)btotal / 1e9), 2000 / p50);
    }

    /* conversation: four-turn threads (greeting, pricing, objection, meeting), each turn a
     * graph run on the thread's SQLite checkpoints */
    static const char *const turns[] = {
        "Hi, Dana from Northwind here", "How much does it cost for 40 seats?",
        "Honestly that is too expensive for us", "Can we book a call next week?"};
    long threads = iters / 4 > 0 ? iters / 4 : 1;
    uint64_t total = 0;
    for (long t = 0; t < threads; t++) {
        char thread[48];
        snprintf(thread, sizeof thread, "bench-conv-%ld", t);
        for (int k = 0; k < 4; k++) {
            json_t *in = json_pack("{s:s}", "message", turns[k]);
            struct sa_invoke_res res;
            uint64_t t0 = sa_now_ns();
            if (sa_app_converse(app, thread, in, &res, &err)) {
                fprintf(stderr, "bench_agents: conversation: %s\n", err.msg);
                return 1;
            }
            ns[t * 4 + k] = sa_now_ns() - t0;
            total += ns[t * 4 + k];
            sa_invoke_res_clear(&res);
            json_decref(in);
        }
    }
    size_t nt = (size_t)threads * 4;
    qsort(ns, nt, sizeof *ns, cmp_u64);
    printf("%-22s p50=%.3f ms  p99=%.3f ms  %.0f turns/s (%ld four-turn threads)   vs seed "
           "budget 1000 ms per turn: %.0fx faster\n",
           "conversation turn", (double)ns[nt / 2] / 1e6, (double)ns[nt * 99 / 100] / 1e6,
           (double)nt / ((double)total / 1e9), threads, 1000 / ((double)ns[nt / 2] / 1e6));
    free(ns);

    /* intent recognition alone: training time, held-out accuracy, per-message cost */
    struct sa_intent_model *im = NULL;
    struct sa_intent_eval ev = {0};
    uint64_t t0 = sa_now_ns();
    if (sa_intent_train(SA_SOURCE_DIR "/data/intents", &im, &ev, &err)) {
        fprintf(stderr, "bench_agents: intents: %s\n", err.msg);
        return 1;
    }
    double train_ms = (double)(sa_now_ns() - t0) / 1e6;
    long reps = iters * 10;
    t0 = sa_now_ns();
    double conf = 0;
    for (long i = 0; i < reps; i++)
        (void)sa_intent_classify(im, turns[i % 4], &conf, NULL);
    double per_us = (double)(sa_now_ns() - t0) / 1e3 / (double)reps;
    printf("intent recognition     held-out accuracy %.1f%% (%zu/%zu; trained on %zu), "
           "train+eval %.1f ms, classify %.1f us/message\n",
           100 * ev.accuracy, ev.correct, ev.test, ev.train, train_ms, per_us);
    /* the most frequent confusions, actual -> predicted */
    printf("  confusions (actual -> predicted: count):");
    const char *actual, *pred;
    json_t *row, *v;
    int shown = 0;
    json_object_foreach(ev.confusion, actual, row) json_object_foreach(row, pred, v)
    {
        if (strcmp(actual, pred) != 0 && json_integer_value(v) >= 2 && shown < 8) {
            printf(" %s->%s:%lld", actual, pred, (long long)json_integer_value(v));
            shown++;
        }
    }
    printf("%s\n", shown ? "" : " none twice");
    json_decref(ev.confusion);
    sa_intent_free(im);
    for (size_t i = 0; i < nl; i++)
        sa_lead_clear(&ls[i]);
    free(ls);
    json_decref(detail);
    json_decref(root);
    sa_app_close(app);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
