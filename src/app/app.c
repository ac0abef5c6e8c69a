/* The composition root (see app.h): opens the data, the store and checkpoint saver, the
 * agents and the graphs from the configuration, and closes them. Wiring only: the
 * operations live in the service files beside it. */
#include "app/app.h"
#include "app/consent.h"
#include "app/import_jobs.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agents/bdr.h"
#include "agents/booking.h"
#include "app/access.h"
#include "connectors/crm/crm.h"
#include "connectors/calendar/calendar.h"
#include "agents/conversation.h"
#include "app/agentserver.h"
#include "connectors/enrichment/provider.h"
#include "domain/dataset.h"
#include "domain/intent.h"
#include "agents/llm_use.h"
#include "agents/pipeline.h"
#include "graph/saver.h"
#include "llm/provider.h"
#include "domain/lead.h"
#include "domain/profile.h"
#include "domain/send_policy.h"
#include "domain/scoring.h"
#include "domain/template.h"
#include "base/detail.h"
#include "base/json.h"
#include "base/log.h"
#include "metrics/metrics.h"
#include "store/redis/redis.h"
#include "store/session.h"
#include "store/store.h"

/* Buckets start at 10 us so that our latencies, far below the seed's 0.1 s, show, and
 * reach 120 s for agents that call a model (one LLM call is bucketed up to 60 s in
 * llm_request_seconds; a pipeline makes several), so p95/p99 do not stick at the top. */
static const double agent_buckets[] = {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
                                       0.0025,  0.005,    0.01,    0.025,  0.05,    0.1,    0.5,
                                       1,       2,        5,       10,     30,      60,     120};
static const struct sa_metric_desc m_agent_seconds = {
    "agent_processing_seconds",
    "Time agents spend processing one invocation.",
    SA_HISTOGRAM,
    {"agent_type", NULL},
    agent_buckets,
    (int)(sizeof agent_buckets / sizeof agent_buckets[0])};
static const struct sa_metric_desc m_agent_success = {"agent_success_total",
                                                      "Successful agent invocations.",
                                                      SA_COUNTER,
                                                      {"agent_type", NULL},
                                                      NULL,
                                                      0};
static const struct sa_metric_desc m_agent_errors = {"agent_errors_total",
                                                     "Failed agent invocations by error code.",
                                                     SA_COUNTER,
                                                     {"agent_type", "error_code", NULL},
                                                     NULL,
                                                     0};
static const struct sa_metric_desc m_breaker = {
    "circuit_breaker_state",
    "Circuit breaker per provider: 0 closed, 1 open, 2 half-open.",
    SA_GAUGE,
    {"provider", NULL},
    NULL,
    0};

/* inbound mail (issue 15): messages received, by what they were (app/inbound.c) */
static const struct sa_metric_desc m_inbound = {
    "inbound_messages_total",
    "Received e-mails by kind: reply, bounce, auto_reply, unmatched, duplicate, invalid.",
    SA_COUNTER,
    {"kind", NULL},
    NULL,
    0};

/* Scrape-time gauges (Grafana dashboard, issue 16): read from the store when /metrics is
 * rendered (sa_app_metrics_refresh, health.h), so every instance sharing the store reports
 * the same. */
static const struct sa_metric_desc m_run_queue = {
    "run_queue_depth",
    "Pipeline runs queued or running (the store's runs not finished).",
    SA_GAUGE,
    {NULL},
    NULL,
    0};
static const struct sa_metric_desc m_outbox = {
    "outbox_items",
    "Outbox items by channel (mail: e-mails and follow-ups; crm: CRM pushes) and status.",
    SA_GAUGE,
    {"channel", "status", NULL},
    NULL,
    0};

/* The optional data behind enrichment, growth and marketing: a file that is absent turns
 * its agent off (501); a file that is present but wrong stops start-up. */
static int load_agent_data(struct sa_app *app, struct sa_err *err)
{
    char path[1024];
    const char *dir = app->cfg.data_dir;
    /* the product profile is required: every message is written from it */
    snprintf(path, sizeof path, "%s/product.json", dir);
    const char *profile = app->cfg.product_profile ? app->cfg.product_profile : path;
    if (access(profile, R_OK) != 0)
        return sa_err_set(err, SA_ECONFIG,
                          "%s: cannot read the product profile (PRODUCT_PROFILE; README: "
                          "Product profile)",
                          profile);
    const struct sa_config *cfg = &app->cfg;
    if (sa_profile_load(profile, &app->profile, err) ||
        sa_profile_override(app->profile, cfg->sender_name, cfg->sender_title, cfg->sender_email,
                            cfg->meeting_link, err))
        return err->code;
    snprintf(path, sizeof path, "%s/companies.csv", dir);
    const char *paths[2];
    int n = 0;
    if (access(path, R_OK) == 0)
        paths[n++] = path;
    if (app->cfg.companies_csv)
        paths[n++] = app->cfg.companies_csv;
    if (n && sa_dataset_load(paths, n, &app->dataset, err))
        return err->code;
    snprintf(path, sizeof path, "%s/industry_growth.json", dir);
    if (access(path, R_OK) == 0) {
        json_t *root;
        if (sa_json_load_file(path, &root, err))
            return err->code;
        app->growth_table = json_incref(json_object_get(root, "industries"));
        json_decref(root);
        if (!json_is_object(app->growth_table))
            return sa_err_set(err, SA_ECONFIG, "%s: expected {\"industries\": {...}}", path);
    }
    snprintf(path, sizeof path, "%s/intents", dir); /* every .tsv file in it */
    if (access(path, R_OK) == 0 && sa_intent_train(path, &app->intents, NULL, err))
        return err->code;
    snprintf(path, sizeof path, "%s/templates", dir);
    DIR *d = opendir(path);
    if (d) {
        app->templates = json_object();
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t len = strlen(e->d_name);
            if (len < 5 || strcmp(e->d_name + len - 4, ".txt") != 0)
                continue;
            char file[1300];
            snprintf(file, sizeof file, "%s/%s", path, e->d_name);
            FILE *f = fopen(file, "r");
            if (!f)
                continue;
            char text[16384];
            size_t got = fread(text, 1, sizeof text - 1, f);
            fclose(f);
            text[got] = '\0';
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(len - 4), e->d_name);
            json_t *t = json_string(text);
            char why[160];
            if (!t || sa_template_check(text, why, sizeof why)) {
                closedir(d);
                json_decref(t);
                return sa_err_set(err, SA_ECONFIG, "%s: %s", file, t ? why : "not valid UTF-8");
            }
            json_object_set_new(app->templates, name, t);
        }
        closedir(d);
    }
    return 0;
}

static int setup_metrics(struct sa_app *app, struct sa_err *err)
{
    if (!(app->metrics = sa_metrics_new()))
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    app->m_agent_seconds = sa_metrics_register(app->metrics, &m_agent_seconds);
    app->m_agent_success = sa_metrics_register(app->metrics, &m_agent_success);
    app->m_agent_errors = sa_metrics_register(app->metrics, &m_agent_errors);
    app->m_breaker = sa_metrics_register(app->metrics, &m_breaker);
    app->m_inbound = sa_metrics_register(app->metrics, &m_inbound); /* inbound mail */
    app->m_run_queue = sa_metrics_register(app->metrics, &m_run_queue); /* dashboard gauges */
    app->m_outbox = sa_metrics_register(app->metrics, &m_outbox);
    /* Every agent type appears from the start, at zero, so rates work from boot. */
    for (int t = 0; t < SA_AGENT_COUNT; t++) {
        const char *v[] = {sa_agent_type_name((enum sa_agent_type)t)};
        sa_metrics_add(app->metrics, app->m_agent_success, v, 0);
    }
    return 0;
}

/* Pipeline checkpoints: in Redis when CHECKPOINT_STORE=redis (config.c makes that the
 * default with REDIS_URL set), on the app's pool, as large as the server's worker threads
 * so a step's save never waits for a connection; else beside the store, chosen by the
 * same DATABASE_URL (for SQLite: the same file, their own table; in memory for an
 * in-memory store). With REDIS_URL set the pool is opened either way, for /health. A
 * Redis that does not answer yet is not fatal: the pool connects when it does. */
static int open_saver(struct sa_app *app, struct sa_err *err)
{
    const struct sa_config *cfg = &app->cfg;
    if (cfg->redis_url) {
        int rc = sa_redis_open(cfg->redis_url, cfg->redis_timeout_ms, cfg->threads + 1,
                               &app->redis, err);
        if (rc)
            return rc;
        double ms;
        struct sa_err why = {0};
        if (sa_redis_ping(app->redis, &ms, &why))
            sa_logf(SA_LOG_WARN, "REDIS_URL: Redis does not answer yet: %s", why.msg);
    }
    if (cfg->checkpoint_store != SA_CHECKPOINT_REDIS)
        return sa_saver_open(cfg->database_url, &app->saver, err);
    return sa_redis_saver_new(app->redis, false, (long)cfg->checkpoint_ttl, &app->saver, err);
}

/* Conversation sessions (store/session.h), chosen by REDIS_URL like the run queue and the
 * limiter: with it, Redis's session:{thread_id}:state on the app's pool, which every
 * instance reads; without it, derived from the conversation's checkpoints (beside the
 * store), which every instance on the same database reads too and a restart keeps. None
 * without the conversation agent. */
static int open_sessions(struct sa_app *app, struct sa_err *err)
{
    if (!app->conversation)
        return 0;
    if (app->redis)
        return sa_session_redis_new(app->redis, false, NULL, &app->sessions, err);
    return sa_conversation_sessions_new(app->conversation, &app->sessions, err);
}

/* The settings whose form base/config cannot check (it knows no e-mail rule): refused
 * here, before anything opens, with the variable's name. Unset, the profile's values
 * stand (checked when it loads). */
static int check_settings(const struct sa_config *cfg, struct sa_err *err)
{
    if (cfg->sender_email && !sa_email_valid(cfg->sender_email))
        return sa_err_set(err, SA_ECONFIG, "SENDER_EMAIL=%.100s: expected an e-mail address",
                          cfg->sender_email);
    if (cfg->meeting_link && strncmp(cfg->meeting_link, "https://", 8) != 0 &&
        strncmp(cfg->meeting_link, "http://", 7) != 0)
        return sa_err_set(err, SA_ECONFIG, "MEETING_LINK=%.100s: expected an http(s):// URL",
                          cfg->meeting_link);
    struct sa_send_window w;
    struct sa_err werr = {0};
    if (cfg->send_window && sa_send_window_parse(cfg->send_window, &w, &werr))
        return sa_err_set(err, SA_ECONFIG, "%s", werr.msg);
    if (cfg->public_url && strncmp(cfg->public_url, "https://", 8) != 0 &&
        strncmp(cfg->public_url, "http://", 7) != 0)
        return sa_err_set(err, SA_ECONFIG, "PUBLIC_URL=%.100s: expected an http(s):// URL",
                          cfg->public_url);
    return 0;
}

/* The model spend across instances (agents/llm_use.h's shared_spend): llm:spend:{day} in
 * Redis, a float that INCRBYFLOAT adds to atomically and answers with the new total, kept
 * two days. add_usd is a reservation, its give-back (negative) or a settlement (either
 * sign), to nanodollars. sa_redis_run sends a command again when a reused connection
 * turns out closed; had Redis applied it before the connection dropped, it counts twice:
 * a reservation or a cost errs towards spending less, a give-back or a negative
 * settlement towards spending more (by that one amount). */
static int redis_spend(void *arg, long day, double add_usd, double *total_usd)
{
    struct sa_redis *r = arg;
    char key[48], add[48];
    snprintf(key, sizeof key, "llm:spend:%ld", day);
    snprintf(add, sizeof add, "%.9f", add_usd);
    const char *incr[] = {"INCRBYFLOAT", key, add};
    const char *expire[] = {"EXPIRE", key, "172800"};
    struct sa_redis_cmd cmds[] = {{3, incr, NULL}, {3, expire, NULL}};
    struct redisReply *replies[2] = {NULL, NULL};
    struct sa_err err = {0};
    int rc = sa_redis_run(r, 2, cmds, replies, "llm spend", &err);
    if (!rc)
        rc = sa_redis_reply_ok(replies[0], "llm spend", &err);
    if (!rc)
        rc = sa_redis_reply_double(replies[0], total_usd);
    sa_redis_replies_free(2, replies);
    return rc;
}

/* The model (LLM_* settings, llm/provider.h) and its accounting (agents/llm_use.h). With
 * LLM_PROVIDER=none nothing is opened and the agents answer as they always did. The key:
 * LLM_API_KEY, else the vendor's own variable. The prices: DATA_DIR/llm_prices.json when
 * present (a budget needs a price for every model the agents use). */
static int open_llm(struct sa_app *app, struct sa_err *err)
{
    const struct sa_config *cfg = &app->cfg;
    static const char *const presets[] = {"none", "openai", "anthropic", "cerebras",
                                          "groq", "vllm",   "ollama"};
    double budget = 0;
    if (cfg->llm_daily_budget) {
        char *end = NULL;
        budget = strtod(cfg->llm_daily_budget, &end);
        if (end == cfg->llm_daily_budget || *end || !(budget > 0) || budget > 1e9)
            return sa_err_set(err, SA_ECONFIG,
                              "LLM_DAILY_BUDGET_USD=%.40s: expected a positive number of US "
                              "dollars, e.g. 5 or 12.50",
                              cfg->llm_daily_budget);
    }
    if (cfg->llm_provider != SA_LLM_NONE) {
        const char *key = cfg->llm_api_key;
        if (!key || !*key) {
            switch (cfg->llm_provider) {
            case SA_LLM_OPENAI: key = cfg->openai_api_key; break;
            case SA_LLM_ANTHROPIC: key = cfg->anthropic_api_key; break;
            case SA_LLM_CEREBRAS: key = cfg->cerebras_api_key; break;
            case SA_LLM_GROQ: key = cfg->groq_api_key; break;
            default: break;
            }
        }
        bool hosted = cfg->llm_provider == SA_LLM_OPENAI || cfg->llm_provider == SA_LLM_ANTHROPIC ||
                      cfg->llm_provider == SA_LLM_CEREBRAS || cfg->llm_provider == SA_LLM_GROQ;
        if (hosted && (!key || !*key))
            return sa_err_set(err, SA_ECONFIG,
                              "LLM_PROVIDER=%s needs an API key: LLM_API_KEY, or the vendor's "
                              "own variable (README: LLM providers)",
                              presets[cfg->llm_provider]);
        struct sa_llm_config lc = {.preset = presets[cfg->llm_provider],
                                   .base_url = cfg->llm_base_url,
                                   .api_key = key,
                                   .model = cfg->llm_model,
                                   .timeout_ms = cfg->llm_timeout_ms,
                                   .max_retries = -1,
                                   .breaker_failures = cfg->breaker_failures,
                                   .breaker_open_seconds = cfg->breaker_open_seconds};
        int rc = sa_llm_open(&lc, &app->llm_provider, err);
        if (rc)
            return rc;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/llm_prices.json", cfg->data_dir);
    if (access(path, R_OK) == 0) {
        json_error_t je;
        app->llm_prices = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(json_object_get(app->llm_prices, "models")))
            return sa_err_set(err, SA_ECONFIG, "%s: expected {\"models\": {name: {input, output}}}"
                              " (line %d: %s)", path, je.line, app->llm_prices ? "no models" : je.text);
    }
    struct sa_llm_use_config uc = {.provider = app->llm_provider,
                                   .prices = app->llm_prices,
                                   .daily_budget_usd = budget,
                                   .shared_spend = app->redis ? redis_spend : NULL,
                                   .shared_arg = app->redis,
                                   .metrics = app->metrics};
    uc.models[SA_AGENT_QUALIFICATION] = cfg->llm_model_qualification;
    uc.models[SA_AGENT_GROWTH] = cfg->llm_model_growth;
    uc.models[SA_AGENT_MARKETING] = cfg->llm_model_marketing;
    uc.models[SA_AGENT_CONVERSATION] = cfg->llm_model_conversation;
    return sa_llm_use_new(&uc, &app->llm, err);
}

/* The agents, from the data and the profile (its sender, after the settings' overrides),
 * and the enrichment waterfall ENRICHMENT_PROVIDERS names (the app owns its providers). */
static int open_agents(struct sa_app *app, struct sa_err *err)
{
    const struct sa_config *cfg = &app->cfg;
    const struct sa_profile *pr = app->profile;
    int rc = sa_enrich_providers_open(cfg, app->dataset, app->metrics, app->enrich,
                                      SA_APP_ENRICH_MAX, &app->n_enrich, err);
    if (rc)
        return rc;
    return sa_agents_new(
        &(struct sa_agent_deps){.model = app->model,
                                .dataset = app->dataset,
                                .store = app->store,
                                .enrichment_ttl = cfg->enrichment_ttl,
                                .growth_table = app->growth_table,
                                .templates = app->templates,
                                .profile = pr,
                                .conversation = app->intents != NULL,
                                .metrics = app->metrics,
                                .m_breaker = app->m_breaker,
                                .breaker_failures = cfg->breaker_failures,
                                .breaker_open_seconds = cfg->breaker_open_seconds,
                                .enrich_providers = app->enrich,
                                .n_enrich_providers = app->n_enrich,
                                .calendar = app->calendar,
                                .sender_name = sa_profile_str(pr, "sender.name"),
                                .sender_title = sa_profile_str(pr, "sender.title"),
                                .sender_email = sa_profile_str(pr, "sender.email"),
                                .meeting_link = sa_profile_str(pr, "meeting_link"),
                                .bdr_max_touches_per_week = cfg->bdr_max_touches_per_week,
                                .meeting_hold_hours = cfg->meeting_hold_hours,
                                .llm = app->llm},
        &app->agents, err);
}

/* DB_POOL_SIZE, or one connection per HTTP thread and run worker plus the outbox's and
 * the retention sweep's (and the IMAP poller's), so that none of them waits for another's
 * connection. */
static int store_pool_size(const struct sa_config *cfg)
{
    return cfg->db_pool_size > 0 ? cfg->db_pool_size
                                 : cfg->threads + cfg->run_workers + 2 + (cfg->imap_url ? 1 : 0);
}

int sa_app_open(const struct sa_config *cfg, struct sa_app **out, struct sa_err *err)
{
    *out = NULL;
    int rc = check_settings(cfg, err);
    if (rc)
        return rc;
    struct sa_app *app = calloc(1, sizeof *app);
    if (!app)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    app->cfg = *cfg;
    app->started_ns = sa_now_ns();
    sa_iso8601_now(app->started_at);
    app->calendar = calloc(1, sizeof *app->calendar);
    if (!app->calendar) {
        sa_app_close(app);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    if ((rc = sa_calendar_parse(app->calendar, cfg->calendar_tz, cfg->calendar_days,
                                cfg->calendar_hours, cfg->meeting_minutes, err))) {
        struct sa_err why = *err; /* name the settings: config.c leaves their structure here */
        sa_err_set(err, rc, "CALENDAR_TZ, CALENDAR_DAYS, CALENDAR_HOURS, MEETING_MINUTES: %s",
                   why.msg);
        sa_app_close(app);
        return rc;
    }
    if ((rc = setup_metrics(app, err)) || (rc = sa_model_load(cfg->data_dir, &app->model, err)) ||
        (rc = sa_store_open(cfg->database_url, store_pool_size(cfg), &app->store, err)) ||
        (rc = sa_store_migrate(app->store, err)) ||
        (rc = sa_access_open(cfg, app->store, &app->access, err)) ||
        (rc = load_agent_data(app, err)) ||
        (rc = sa_consent_open(cfg, app->store, sa_profile_str(app->profile, "sender.email"),
                              cfg->sender_address && *cfg->sender_address
                                  ? cfg->sender_address
                                  : sa_profile_str(app->profile, "company.postal_address"),
                              &app->consent, err)) ||
        (rc = open_saver(app, err)) || /* before the model: its budget may live in Redis */
        (rc = open_llm(app, err)) ||
        (rc = sa_crm_open(cfg, app->metrics, &app->crm, err)) || /* CRM_PROVIDER */
        (rc = open_agents(app, err)) ||
        (rc = sa_pipeline_new(app->agents, app->model, app->saver, cfg->pipeline_step_delay_ms,
                              app->llm_provider != NULL, &app->pipeline, err)) ||
        (app->intents &&
         (rc = sa_conversation_new(app->intents, app->saver, app->store, app->calendar,
                                   app->profile, cfg->conversation_review_threshold,
                                   cfg->session_ttl, &app->conversation, err))) ||
        (rc = open_sessions(app, err))) {
        sa_app_close(app);
        return rc;
    }
    app->booking = calloc(1, sizeof *app->booking);
    if (!app->booking) {
        sa_app_close(app);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    *app->booking =
        (struct sa_booking){.store = app->store,
                            .calendar = app->calendar,
                            /* the profile's, after the settings' overrides */
                            .organizer_name = sa_profile_str(app->profile, "sender.name"),
                            .organizer_email = sa_profile_str(app->profile, "sender.email"),
                            .meeting_link = sa_profile_str(app->profile, "meeting_link"),
                            .hold_hours = cfg->meeting_hold_hours};
    if (app->conversation) {
        sa_conversation_set_booking(app->conversation, app->booking);
        sa_conversation_set_llm(app->conversation, app->llm);
    }
    if (!(app->imports = sa_import_jobs_new(app))) {
        sa_app_close(app);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    /* the Agent Server API's runs and created threads (issue 16, app/agentserver.h) */
    if (!(app->agentserver = sa_as_new())) {
        sa_app_close(app);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    *out = app;
    return 0;
}

void sa_app_close(struct sa_app *app)
{
    if (!app)
        return;
    sa_import_jobs_free(app->imports); /* first: a running import uses all the rest */
    /* the Agent Server API's records: its runs ended (the HTTP server's stop waited) */
    sa_as_free(app->agentserver);
    sa_session_store_free(app->sessions); /* before the conversation it may derive from */
    sa_conversation_free(app->conversation);
    sa_intent_free(app->intents);
    sa_pipeline_free(app->pipeline);
    graph_saver_free(app->saver);
    sa_redis_close(app->redis); /* after the saver, which borrows it */
    sa_agents_free(app->agents);
    for (int i = 0; i < app->n_enrich; i++) /* after the agents, which borrow them */
        sa_enrich_provider_free(app->enrich[i]);
    sa_llm_use_free(app->llm); /* after the agents, which borrow it */
    sa_llm_close(app->llm_provider);
    json_decref(app->llm_prices);
    sa_crm_free(app->crm);
    sa_access_close(app->access);
    sa_consent_free(app->consent);
    sa_store_close(app->store);
    sa_model_free(app->model);
    sa_dataset_free(app->dataset);
    json_decref(app->growth_table);
    json_decref(app->templates);
    sa_profile_free(app->profile);
    sa_metrics_free(app->metrics);
    free(app->booking);
    free(app->calendar);
    free(app);
}
