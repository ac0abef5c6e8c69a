/* The growth-analysis agent: market opportunity from the industry growth table
 * (data/industry_growth.json), the competitive landscape from the reference dataset,
 * and a growth-potential score 0-100 whose factors add up to it. It looks the company
 * up itself, so it can run beside enrichment in the pipeline. With a model configured
 * (LLM_PROVIDER) it adds a "narrative" of the opportunity citing the figures it used;
 * the score, factors and summary stay the rules' (agents/llm_use.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agents/agent.h"
#include "agents/llm_use.h"
#include "base/clock.h"
#include "domain/dataset.h"
#include "domain/lead.h"
#include "domain/scoring.h"
#include "domain/contact.h"
#include "base/detail.h"

struct growth_agent {
    struct sa_agent base; /* first */
    const struct sa_model *model;
    const struct sa_dataset *dataset;
    const json_t *table; /* {industry: {market_size_usd_b, cagr_pct, maturity, ...}} */
    struct sa_llm_use *llm;
};

static const char narrative_task[] =
    "You write a short narrative, two to four plain sentences, of a B2B company's growth "
    "opportunity for a sales representative, from the growth analysis given: its market, "
    "its funding, its size and its competitors. Cite the figures you use exactly as the "
    "analysis states them, and state no other figure. The growth score was computed by "
    "rules and is final.";

static json_t *factor(const char *name, const char *value, int points, int max)
{
    return json_pack("{s:s, s:s, s:i, s:i}", "name", name, "value", value, "points", points,
                     "max_points", max);
}

static int funding_points(const char *stage)
{
    static const struct {
        const char *stage;
        int points;
    } t[] = {{"seed", 12},      {"series_a", 17},       {"series_b", 20}, {"series_c", 18},
             {"series_d+", 14}, {"private_equity", 10}, {"public", 8},    {"bootstrapped", 8}};
    for (size_t i = 0; stage && i < sizeof t / sizeof t[0]; i++)
        if (strcmp(stage, t[i].stage) == 0)
            return t[i].points;
    return 0;
}

static bool has_signal(const struct sa_lead *l, const char *name)
{
    size_t i;
    json_t *s;
    json_array_foreach(l->signals, i, s) if (strcmp(json_string_value(s), name) == 0) return true;
    return false;
}

static int growth_run(struct sa_agent *a, const struct sa_lead *lead, const json_t *context,
                      json_t **output, struct sa_err *err)
{
    struct growth_agent *g = (struct growth_agent *)a;
    /* the company: from enrichment when it ran first, else the dataset directly */
    const struct sa_company *c = NULL;
    json_t *enriched = json_object_get(json_object_get(context, "enrichment"), "company");
    char domain[256];
    sa_lead_domain(lead, g->model, domain, sizeof domain);
    if (json_is_object(enriched))
        c = sa_dataset_by_domain(g->dataset,
                                 json_string_value(json_object_get(enriched, "domain")));
    if (!c && domain[0])
        c = sa_dataset_by_domain(g->dataset, domain);
    if (!c)
        c = sa_dataset_by_name(g->dataset, lead->company_name);
    const char *industry = c ? c->industry : sa_model_industry(g->model, lead->industry);
    json_t *market = industry ? json_object_get(g->table, industry) : NULL;

    json_t *factors = json_array();
    char v[128];
    int total = 0, pts;
    /* market growth: up to 35 points at 20 % CAGR or more */
    double cagr = json_number_value(json_object_get(market, "cagr_pct"));
    pts = market ? (int)lround(fmin(cagr / 20.0, 1.0) * 35) : 0;
    snprintf(v, sizeof v, market ? "%s, %.1f %% a year" : "industry unknown",
             industry ? industry : "", cagr);
    json_array_append_new(factors, factor("market_growth", v, pts, 35));
    total += pts;
    /* funding momentum: up to 20 */
    pts = c ? funding_points(c->funding_stage) : 0;
    json_array_append_new(factors,
                          factor("funding_momentum", c ? c->funding_stage : "unknown", pts, 20));
    total += pts;
    /* company age: younger companies grow faster; up to 15 */
    time_t now = sa_wall_time();
    struct tm tm;
    gmtime_r(&now, &tm);
    int age = c && c->founded_year ? tm.tm_year + 1900 - c->founded_year : -1;
    pts = age < 0 ? 0 : age < 5 ? 15 : age < 10 ? 12 : age < 20 ? 8 : 4;
    snprintf(v, sizeof v, age < 0 ? "unknown" : "%d years", age);
    json_array_append_new(factors, factor("company_age", v, pts, 15));
    total += pts;
    /* size headroom: up to 15 */
    long emp = c ? c->employees : lead->employees_min;
    pts = emp < 0 ? 0 : emp <= 10 ? 8 : emp <= 200 ? 15 : emp <= 1000 ? 12 : emp <= 5000 ? 8 : 5;
    snprintf(v, sizeof v, emp < 0 ? "unknown" : "%ld employees", emp);
    json_array_append_new(factors, factor("size_headroom", v, pts, 15));
    total += pts;
    /* growth signals: 5 each, up to 15 */
    const char *sig[] = {"hiring_sales", "expansion", "recent_funding"};
    int n = 0;
    for (int i = 0; i < 3; i++)
        n += has_signal(lead, sig[i]);
    pts = n * 5;
    snprintf(v, sizeof v, "%d of hiring, expansion, funding", n);
    json_array_append_new(factors, factor("growth_signals", v, pts, 15));
    total += pts;

    /* competitors from the dataset, sized against the company */
    json_t *comps = json_array();
    size_t i;
    json_t *d;
    json_array_foreach(c ? c->competitors : NULL, i, d)
    {
        const struct sa_company *k = sa_dataset_by_domain(g->dataset, json_string_value(d));
        if (!k)
            continue;
        const char *rel = emp <= 0 || k->employees < 0 ? "unknown"
                          : k->employees > emp * 2     ? "larger"
                          : k->employees * 2 < emp     ? "smaller"
                                                       : "similar";
        json_array_append_new(
            comps, json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "domain", k->domain, "name", k->name,
                             "employees", (json_int_t)k->employees, "revenue_band", k->revenue_band,
                             "funding_stage", k->funding_stage, "relative_size", rel));
    }
    size_t larger = 0;
    json_array_foreach(comps, i, d) larger +=
        strcmp(json_string_value(json_object_get(d, "relative_size")), "larger") == 0;
    const char *position = json_array_size(comps) == 0            ? "unknown"
                           : larger == 0                          ? "leader"
                           : larger * 2 >= json_array_size(comps) ? "challenger"
                                                                  : "contender";
    const char *band = total >= 70 ? "high" : total >= 45 ? "moderate" : "low";
    char summary[512], mkt[160];
    if (market)
        snprintf(mkt, sizeof mkt, "a %s market growing %.1f %% a year",
                 json_string_value(json_object_get(market, "maturity")), cagr);
    else
        snprintf(mkt, sizeof mkt, "market data unknown");
    snprintf(summary, sizeof summary,
             "%.*s has %s growth potential (%d/100): %s; %s among %zu known competitors.",
             sa_utf8_cut(lead->company_name, 100), lead->company_name, band, total, mkt, position,
             json_array_size(comps));
    *output = json_pack("{s:O, s:{s:o, s:s, s:I}, s:i, s:s, s:o, s:s, s:s?}", "market",
                        market ? market : json_null(), "competitive_landscape", "competitors",
                        comps, "position", position, "count", (json_int_t)json_array_size(comps),
                        "growth_score", total, "growth_band", band, "factors", factors, "summary",
                        summary, "industry", industry);
    if (*output && sa_llm_use_enabled(g->llm) &&
        !json_is_true(json_object_get(context, "skip_explain"))) {
        json_t *facts =
            json_pack("{s:s, s:O}", "company_name", lead->company_name, "analysis", *output);
        const struct sa_llm_block blocks[] = {{"growth_analysis", facts, 1000, true}};
        sa_llm_use_narrative(g->llm, SA_AGENT_GROWTH, narrative_task, blocks, 1, 800, *output);
        json_decref(facts);
    }
    return *output ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}

static void growth_destroy(struct sa_agent *a)
{
    free(a);
}

static const struct sa_agent_ops growth_ops = {
    .name = "growth",
    .input_schema = sa_schema_lead_input,
    .output_schema = sa_schema_growth_output,
    .description = "Market opportunity, competitive landscape and growth-potential score",
    .run = growth_run,
    .destroy = growth_destroy,
};

struct sa_agent *sa_growth_new(const struct sa_agent_deps *deps)
{
    struct growth_agent *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->base.ops = &growth_ops;
    g->model = deps->model;
    g->dataset = deps->dataset;
    g->table = deps->growth_table;
    g->llm = deps->llm;
    return &g->base;
}
