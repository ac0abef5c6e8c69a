#include "agents/llm_use.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "llm/prompt.h"
#include "metrics/metrics.h"

static const double seconds_buckets[] = {0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60};

static const struct sa_metric_desc m_requests = {"llm_requests_total",
                                                 "Model calls by provider, model and outcome.",
                                                 SA_COUNTER,
                                                 {"provider", "model", "status", NULL},
                                                 NULL,
                                                 0};
static const struct sa_metric_desc m_tokens = {
    "llm_tokens_total",
    "Tokens by provider, model and kind (input, output, cached_input).",
    SA_COUNTER,
    {"provider", "model", "kind", NULL},
    NULL,
    0};
static const struct sa_metric_desc m_cost = {
    "llm_cost_usd_total",
    "Model spend in US dollars at DATA_DIR/llm_prices.json.",
    SA_COUNTER,
    {"provider", "model", NULL},
    NULL,
    0};
static const struct sa_metric_desc m_seconds = {
    "llm_request_seconds",
    "Model call time: phase total (the whole call) or first_token (a streamed call).",
    SA_HISTOGRAM,
    {"provider", "model", "phase", NULL},
    seconds_buckets,
    (int)(sizeof seconds_buckets / sizeof seconds_buckets[0])};
static const struct sa_metric_desc m_fallbacks = {
    "llm_fallbacks_total",
    "Agent answers that fell back to the rules, by agent and reason.",
    SA_COUNTER,
    {"agent_type", "reason", NULL},
    NULL,
    0};

/* The calling thread's relay of streamed pieces (sa_llm_use_stream_to). */
static _Thread_local sa_llm_text_fn stream_fn;
static _Thread_local sa_llm_end_fn stream_end;
static _Thread_local void *stream_arg;

void sa_llm_use_stream_to(sa_llm_text_fn fn, sa_llm_end_fn end, void *arg)
{
    stream_fn = fn;
    stream_end = fn ? end : NULL;
    stream_arg = fn ? arg : NULL;
}

struct sa_llm_use {
    struct sa_llm_use_config cfg;
    int m_requests, m_tokens, m_cost, m_seconds, m_fallbacks;
    pthread_mutex_t lock;
    long day;        /* the UTC day the spend is of */
    double spent;    /* USD that day: the settled calls' actual cost */
    double reserved; /* USD that day: the worst case of the calls in flight */
};

/* The price entry of model, or NULL. */
static const json_t *price_of(const struct sa_llm_use *u, const char *model)
{
    return json_object_get(json_object_get(u->cfg.prices, "models"), model);
}

static const char *model_of(const struct sa_llm_use *u, enum sa_agent_type agent)
{
    const char *m = u->cfg.models[agent];
    return m && *m ? m : u->cfg.provider->model;
}

int sa_llm_use_new(const struct sa_llm_use_config *cfg, struct sa_llm_use **out, struct sa_err *err)
{
    *out = NULL;
    struct sa_llm_use *u = calloc(1, sizeof *u);
    if (!u)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    u->cfg = *cfg;
    pthread_mutex_init(&u->lock, NULL);
    u->day = -1;
    if (cfg->provider && cfg->daily_budget_usd > 0) {
        for (int a = 0; a < SA_AGENT_COUNT; a++) {
            const char *m = model_of(u, (enum sa_agent_type)a);
            if (!price_of(u, m)) {
                sa_llm_use_free(u);
                return sa_err_set(err, SA_ECONFIG,
                                  "LLM_DAILY_BUDGET_USD: the model \"%.100s\" has no price in "
                                  "llm_prices.json, so its spend cannot be counted",
                                  m);
            }
        }
    }
    if (cfg->metrics && cfg->provider) {
        u->m_requests = sa_metrics_register(cfg->metrics, &m_requests);
        u->m_tokens = sa_metrics_register(cfg->metrics, &m_tokens);
        u->m_cost = sa_metrics_register(cfg->metrics, &m_cost);
        u->m_seconds = sa_metrics_register(cfg->metrics, &m_seconds);
        u->m_fallbacks = sa_metrics_register(cfg->metrics, &m_fallbacks);
    }
    *out = u;
    return 0;
}

void sa_llm_use_free(struct sa_llm_use *u)
{
    if (!u)
        return;
    pthread_mutex_destroy(&u->lock);
    free(u);
}

bool sa_llm_use_enabled(const struct sa_llm_use *u)
{
    return u && u->cfg.provider;
}

double sa_llm_use_cost(const struct sa_llm_use *u, const struct sa_llm_result *res)
{
    /* the model asked for first: vendors answer with dated names (gpt-4o-2024-08-06)
     * that a price table does not list */
    const json_t *p = res->asked_model[0] ? price_of(u, res->asked_model) : NULL;
    if (!p)
        p = price_of(u, res->model);
    if (!p)
        return -1;
    double in = json_number_value(json_object_get(p, "input"));
    double outp = json_number_value(json_object_get(p, "output"));
    const json_t *c = json_object_get(p, "cached_input");
    double cached = json_is_number(c) ? json_number_value(c) : in;
    long fresh = res->usage.input_tokens - res->usage.cached_tokens;
    if (fresh < 0)
        fresh = 0;
    return ((double)fresh * in + (double)res->usage.cached_tokens * cached +
            (double)res->usage.output_tokens * outp) /
           1e6;
}

static long today(void)
{
    return (long)floor(sa_wall_seconds() / 86400.0);
}

/* The budget is a reservation, not a check followed by an addition: before a call its
 * worst-case cost (estimate) is reserved, atomically with the check that it fits, and
 * after the call the reservation is replaced by what the call cost. Checking first and
 * adding afterwards let N concurrent calls all pass the check, overshooting by N calls.
 *
 * The worst case: the prompt's bytes (system, messages, schema and its name) at
 * ESTIMATE_BYTES_PER_TOKEN, priced as fresh input (no cache discount), plus max_tokens of
 * output. We cannot tokenize; English runs at about four characters a token, other scripts
 * at fewer characters but more bytes per character, so three bytes a token errs high. A
 * vendor's hidden framing (a tool definition's system prompt) may still make a call cost
 * more than its estimate: the settlement then counts the difference, as it counts any
 * actual cost.
 *
 * This process keeps spent + reserved for its UTC day (sa_wall_seconds); with shared_spend
 * (Redis) every instance's are in one counter too, and a call must fit both. A reservation
 * settles into the day it was made on: one made before midnight leaves today's counters
 * alone (yesterday's local one is gone; the shared one is yesterday's key). */
#define ESTIMATE_BYTES_PER_TOKEN 3

struct reservation {
    long day;    /* the UTC day it counts in */
    double usd;  /* the estimate reserved */
    bool shared; /* also reserved in shared_spend's counter (to settle there) */
};

/* The worst-case cost in USD of req (its model set) at the price table; 0 without a
 * price (nothing can be counted). */
static double estimate(const struct sa_llm_use *u, const struct sa_llm_request *req)
{
    const json_t *p = price_of(u, req->model);
    if (!p)
        return 0;
    size_t bytes = req->system ? strlen(req->system) : 0;
    for (size_t i = 0; i < req->nmessages; i++)
        bytes += req->messages[i].content ? strlen(req->messages[i].content) : 0;
    if (req->schema)
        bytes += json_dumpb(req->schema, NULL, 0, JSON_COMPACT);
    if (req->schema_name)
        bytes += strlen(req->schema_name);
    size_t in_tokens = (bytes + ESTIMATE_BYTES_PER_TOKEN - 1) / ESTIMATE_BYTES_PER_TOKEN;
    int out_tokens = req->max_tokens > 0 ? req->max_tokens : 1024; /* provider.h's 0 */
    return ((double)in_tokens * json_number_value(json_object_get(p, "input")) +
            (double)out_tokens * json_number_value(json_object_get(p, "output"))) /
           1e6;
}

/* Starts counting a new UTC day when day is not the one counted. Under u->lock. */
static void roll_day(struct sa_llm_use *u, long day)
{
    if (day != u->day) {
        u->day = day;
        u->spent = 0;
        u->reserved = 0;
    }
}

/* Gives back a reservation of this process's counters, counting actual_usd instead; a
 * reservation of a day already over changes nothing here. */
static void settle_local(struct sa_llm_use *u, const struct reservation *r, double actual_usd)
{
    pthread_mutex_lock(&u->lock);
    if (r->day == u->day) {
        u->reserved -= r->usd;
        if (u->reserved < 0) /* rounding */
            u->reserved = 0;
        u->spent += actual_usd;
    }
    pthread_mutex_unlock(&u->lock);
}

/* Reserves usd of today's budget in *r. Returns 0, or SA_EPRECONDITION when spent +
 * reserved + usd would pass the budget: this process's counters, then the shared one (when
 * shared_spend answers; when it fails, this process counts alone, as before the
 * reservation, and *r is not shared). */
static int reserve(struct sa_llm_use *u, double usd, struct reservation *r)
{
    double budget = u->cfg.daily_budget_usd;
    pthread_mutex_lock(&u->lock);
    roll_day(u, today());
    bool fits = u->spent + u->reserved + usd <= budget;
    if (fits)
        u->reserved += usd;
    *r = (struct reservation){.day = u->day, .usd = usd, .shared = false};
    pthread_mutex_unlock(&u->lock);
    if (!fits)
        return SA_EPRECONDITION;
    double total;
    if (u->cfg.shared_spend && u->cfg.shared_spend(u->cfg.shared_arg, r->day, usd, &total) == 0) {
        if (total > budget) {
            /* give it back: other calls, of any instance, filled the budget */
            (void)u->cfg.shared_spend(u->cfg.shared_arg, r->day, -usd, &total);
            settle_local(u, r, 0);
            return SA_EPRECONDITION;
        }
        r->shared = true;
    }
    return 0;
}

/* Replaces reservation r by the call's actual cost (0 for a call that used nothing). */
static void settle(struct sa_llm_use *u, const struct reservation *r, double actual_usd)
{
    settle_local(u, r, actual_usd);
    if (!u->cfg.shared_spend)
        return;
    double total, delta = r->shared ? actual_usd - r->usd : actual_usd;
    /* an error leaves the shared counter high (a reservation not given back) or low (a cost
     * not added, as before reservations); this process's own counters stay right */
    if (delta != 0)
        (void)u->cfg.shared_spend(u->cfg.shared_arg, r->day, delta, &total);
}

void sa_llm_use_count_fallback(struct sa_llm_use *u, enum sa_agent_type agent,
                               enum sa_llm_failure why)
{
    if (!u || !u->cfg.metrics || !u->cfg.provider)
        return;
    const char *v[] = {sa_agent_type_name(agent), sa_llm_failure_name(why)};
    sa_metrics_add(u->cfg.metrics, u->m_fallbacks, v, 1);
}

int sa_llm_use_call(struct sa_llm_use *u, enum sa_agent_type agent, struct sa_llm_request *req,
                    struct sa_llm_result *res, struct sa_err *err)
{
    memset(res, 0, sizeof *res);
    if (!sa_llm_use_enabled(u)) {
        res->failure = SA_LLM_FAIL_NOT_CONFIGURED;
        return sa_err_set(err, SA_ENOTIMPL, "llm: no provider configured");
    }
    struct sa_llm_provider *p = u->cfg.provider;
    req->model = model_of(u, agent);
    bool budgeted = u->cfg.daily_budget_usd > 0;
    struct reservation held = {0};
    if (budgeted && reserve(u, estimate(u, req), &held)) {
        res->failure = SA_LLM_FAIL_BUDGET;
        sa_llm_use_count_fallback(u, agent, SA_LLM_FAIL_BUDGET);
        return sa_err_set(err, SA_EPRECONDITION, "llm: today's budget is spent");
    }
    int rc = sa_llm_complete(p, req, res, err);
    snprintf(res->asked_model, sizeof res->asked_model, "%s", req->model);
    double cost = sa_llm_use_cost(u, res);
    if (budgeted)
        settle(u, &held, cost > 0 ? cost : 0);
    if (u->cfg.metrics && res->failure != SA_LLM_FAIL_BREAKER_OPEN) {
        const char *model = res->model[0] ? res->model : req->model;
        const char *status = rc ? sa_llm_failure_name(res->failure) : "ok";
        const char *rv[] = {p->preset, model, status};
        sa_metrics_add(u->cfg.metrics, u->m_requests, rv, 1);
        const char *ti[] = {p->preset, model, "input"}, *to[] = {p->preset, model, "output"},
                   *tc[] = {p->preset, model, "cached_input"};
        sa_metrics_add(u->cfg.metrics, u->m_tokens, ti, (double)res->usage.input_tokens);
        sa_metrics_add(u->cfg.metrics, u->m_tokens, to, (double)res->usage.output_tokens);
        sa_metrics_add(u->cfg.metrics, u->m_tokens, tc, (double)res->usage.cached_tokens);
        if (cost > 0) {
            const char *cv[] = {p->preset, model};
            sa_metrics_add(u->cfg.metrics, u->m_cost, cv, cost);
        }
        const char *st[] = {p->preset, model, "total"};
        sa_metrics_observe(u->cfg.metrics, u->m_seconds, st, res->seconds);
        if (req->on_text && !rc) {
            const char *sf[] = {p->preset, model, "first_token"};
            sa_metrics_observe(u->cfg.metrics, u->m_seconds, sf, res->first_token_seconds);
        }
    }
    if (rc)
        sa_llm_use_count_fallback(u, agent, res->failure);
    return rc;
}

void sa_llm_use_mark(const struct sa_llm_use *u, json_t *output, const struct sa_llm_result *res,
                     bool used, enum sa_llm_failure why)
{
    if (!sa_llm_use_enabled(u) || !output)
        return;
    if (!used) {
        json_object_set_new(output, "engine", json_string("rules"));
        json_object_set_new(output, "fallback_reason", json_string(sa_llm_failure_name(why)));
        return;
    }
    double cost = sa_llm_use_cost(u, res);
    json_object_set_new(output, "engine", json_string("llm"));
    json_object_set_new(
        output, "llm",
        json_pack("{s:s, s:s, s:I, s:I, s:I, s:o, s:f}", "provider", u->cfg.provider->preset,
                  "model", res->model, "input_tokens", (json_int_t)res->usage.input_tokens,
                  "output_tokens", (json_int_t)res->usage.output_tokens, "cached_tokens",
                  (json_int_t)res->usage.cached_tokens, "cost_usd",
                  cost >= 0 ? json_real(cost) : json_null(), "seconds", res->seconds));
}

/* Checks every string of an answer against facts (llm/prompt.h). */
enum sa_llm_use_names sa_llm_use_names_for(const char *lang)
{
    /* German (and Luxembourgish) capitalise every noun */
    if (lang && (strcmp(lang, "de") == 0 || strcmp(lang, "lb") == 0))
        return SA_LLM_USE_NAMES_COPY_DE;
    return SA_LLM_USE_NAMES_COPY;
}

static int answer_grounded(const json_t *v, const char *facts, enum sa_llm_use_names names,
                           struct sa_err *err)
{
    if (json_is_string(v)) {
        int rc = sa_llm_grounded(json_string_value(v), facts, err);
        if (!rc && names != SA_LLM_USE_NAMES_UNCHECKED)
            rc = sa_llm_names_grounded(json_string_value(v), facts,
                                       names == SA_LLM_USE_NAMES_COPY_DE
                                           ? SA_LLM_NAMES_NOUNS_CAPITALISED
                                           : SA_LLM_NAMES_CAPITALISED,
                                       err);
        return rc;
    }
    size_t i;
    const char *k;
    json_t *x;
    if (json_is_array(v))
        json_array_foreach(v, i, x) if (answer_grounded(x, facts, names, err)) return SA_EINVAL;
    if (json_is_object(v))
        json_object_foreach((json_t *)v, k,
                            x) if (answer_grounded(x, facts, names, err)) return SA_EINVAL;
    return 0;
}

int sa_llm_use_ask(struct sa_llm_use *u, enum sa_agent_type agent, const char *task,
                   const struct sa_llm_block *blocks, size_t n, const json_t *schema,
                   const char *schema_name, enum sa_llm_use_names names, bool relay,
                   struct sa_llm_result *res, enum sa_llm_failure *why)
{
    memset(res, 0, sizeof *res);
    *why = SA_LLM_FAIL_NOT_CONFIGURED;
    if (!sa_llm_use_enabled(u))
        return SA_ENOTIMPL;
    struct sa_buf user, system, facts;
    sa_buf_init(&user, (size_t)256 << 10);
    sa_buf_init(&system, (size_t)16 << 10);
    sa_buf_init(&facts, (size_t)256 << 10);
    int rc = sa_buf_printf(&system, "%s %s", task, sa_llm_data_rule);
    for (size_t i = 0; i < n && !rc; i++) {
        rc = sa_llm_prompt_block(&user, blocks[i].label, blocks[i].value, blocks[i].cap);
        if (!rc && blocks[i].grounds)
            rc = sa_llm_prompt_block(&facts, blocks[i].label, blocks[i].value, blocks[i].cap);
    }
    if (!rc && !facts.data)
        rc = sa_buf_puts(&facts, "");
    if (!rc)
        rc = sa_buf_puts(&user, "Answer with the JSON object asked for.");
    struct sa_err err = {0};
    if (rc) {
        *why = SA_LLM_FAIL_REQUEST_REFUSED;
        relay = false;
    } else {
        struct sa_llm_message m = {SA_LLM_USER, user.data};
        struct sa_llm_request req = {.system = system.data,
                                     .messages = &m,
                                     .nmessages = 1,
                                     .schema = schema,
                                     .schema_name = schema_name,
                                     .max_tokens = 800,
                                     .temperature = 0.2};
        relay = relay && stream_fn;
        if (relay) {
            req.on_text = stream_fn;
            req.on_text_arg = stream_arg;
        }
        rc = sa_llm_use_call(u, agent, &req, res, &err);
        *why = rc ? res->failure : SA_LLM_FAIL_NONE;
    }
    if (!rc && answer_grounded(res->json, facts.data, names, &err)) {
        /* the log says what was dropped (masked like every log line) */
        sa_log(SA_LOG_INFO, "model answer dropped for the rules'",
               json_pack("{s:s, s:s}", "agent_type", sa_agent_type_name(agent), "why", err.msg));
        *why = SA_LLM_FAIL_INVALID_OUTPUT;
        sa_llm_use_count_fallback(u, agent, *why);
        rc = SA_EINVAL;
    }
    if (relay && stream_end) /* what the reader saw: kept, or dropped and why */
        stream_end(stream_arg, rc == 0, rc ? sa_llm_failure_name(*why) : NULL);
    sa_buf_free(&user);
    sa_buf_free(&system);
    sa_buf_free(&facts);
    return rc;
}

void sa_llm_use_narrative(struct sa_llm_use *u, enum sa_agent_type agent, const char *task,
                          const struct sa_llm_block *blocks, size_t n, int max_chars, json_t *out)
{
    if (!sa_llm_use_enabled(u) || !out)
        return;
    json_t *schema =
        json_pack("{s:s, s:b, s:[s], s:{s:{s:s, s:i, s:i}}}", "type", "object",
                  "additionalProperties", 0, "required", "narrative", "properties", "narrative",
                  "type", "string", "minLength", 1, "maxLength", max_chars);
    struct sa_llm_result res = {0};
    enum sa_llm_failure why = SA_LLM_FAIL_REQUEST_REFUSED;
    char name[64]; /* qualification_narrative, growth_narrative */
    snprintf(name, sizeof name, "%s_narrative", sa_agent_type_name(agent));
    int rc = schema ? sa_llm_use_ask(u, agent, task, blocks, n, schema, name,
                                     SA_LLM_USE_NAMES_UNCHECKED, true, &res, &why)
                    : SA_ENOMEM;
    const char *text = json_string_value(json_object_get(res.json, "narrative"));
    if (!rc && text)
        json_object_set_new(out, "narrative", json_string(text));
    sa_llm_use_mark(u, out, &res, rc == 0 && text, why);
    json_decref(schema);
    sa_llm_result_clear(&res);
}
