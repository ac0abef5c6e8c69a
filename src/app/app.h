/* The application's composition root: what the configuration names, opened once at
 * start-up (model, store, checkpoint saver, agents, graphs, metrics) and closed at exit.
 * The services beside it (app/invoke.h, approvals.h, leads.h, threads.h, runs.h,
 * outbox.h, import.h, seed.h, conversations.h) are the operations the HTTP routes and the CLI
 * share; each takes the narrowest part of this struct it needs. */
#ifndef SA_APP_H
#define SA_APP_H

#include <jansson.h>
#include <stdint.h>

#include "agents/agent.h"
#include "base/clock.h"
#include "base/config.h"
#include "base/err.h"

struct sa_redis;
struct sa_session_store;

#define SA_APP_ENRICH_MAX 4
struct sa_enrich_provider;
struct sa_imap_poller;

struct sa_app {
    struct sa_config cfg; /* copy; its strings are borrowed from env/argv */
    struct sa_model *model;
    struct sa_store *store;
    struct sa_access *access; /* credentials, keys, rate limits, audit (app/access.h) */
    struct sa_agents *agents;
    struct sa_metrics *metrics;
    struct sa_dataset *dataset; /* NULL when data/companies.csv is absent */
    json_t *growth_table;       /* NULL when data/industry_growth.json is absent */
    json_t *templates;          /* NULL when data/templates/ is absent */
    struct sa_profile *profile; /* PRODUCT_PROFILE or DATA_DIR/product.json (required) */
    struct graph_saver *saver;  /* pipeline checkpoints: Redis, SQLite beside the store, or
                                   memory (CHECKPOINT_STORE) */
    struct sa_redis *redis;     /* REDIS_URL's pool, or NULL: the Redis saver borrows it;
                                   /health can call sa_redis_ping on it */
    struct sa_pipeline *pipeline;
    struct sa_runs *runs;            /* background runs; set by cmd_serve.c, else NULL */
    struct sa_import_jobs *imports;  /* background CSV imports (app/import_jobs.h) */
    struct sa_as *agentserver;       /* Agent Server API runs and threads (app/agentserver.h) */
    struct sa_intent_model *intents; /* NULL when data/intents/ is absent */
    struct sa_conversation *conversation; /* NULL with no intents */
    /* conversation sessions (store/session.h): Redis with REDIS_URL, else derived from the
     * conversation's checkpoints; NULL when conversation is */
    struct sa_session_store *sessions;
    struct sa_calendar *calendar;         /* CALENDAR_TZ, _DAYS, _HOURS, MEETING_MINUTES */
    struct sa_consent *consent; /* unsubscribe links and their secret (app/consent.h) */
    struct sa_booking *booking;           /* meetings: the store, calendar and organiser */
    /* the enrichment waterfall (ENRICHMENT_PROVIDERS), borrowed by the enrichment agent */
    struct sa_enrich_provider *enrich[SA_APP_ENRICH_MAX];
    int n_enrich;
    /* the model the agents may use (LLM_PROVIDER): NULL provider with none; llm always
     * exists (it answers "not configured" without a provider) */
    struct sa_llm_provider *llm_provider;
    struct sa_llm_use *llm;
    json_t *llm_prices; /* DATA_DIR/llm_prices.json, or NULL when absent */
    struct sa_crm *crm; /* CRM_PROVIDER's backend (connectors/crm/crm.h), or NULL: none */
    /* Set by the delivery worker: wakes it when new outbox items are queued (NULL: no
     * worker runs, e.g. in the CLI). */
    void (*outbox_kick)(void *arg);
    void *outbox_kick_arg;
    /* Set by the delivery worker while it runs: its mail transport, for /health's mail
     * entry (its circuit breaker). NULL: no worker in this process. */
    struct sa_transport *mail_transport;
    /* Set by the IMAP poller while it runs (app/imap_poller.h), for /health's imap entry.
     * NULL: no poller in this process. */
    struct sa_imap_poller *imap;
    /* metric family ids */
    int m_agent_seconds, m_agent_success, m_agent_errors, m_breaker;
    int m_inbound; /* inbound_messages_total{kind} (app/inbound.c) */
    int m_run_queue, m_outbox; /* run_queue_depth, outbox_items{channel,status} (health.h) */
    uint64_t started_ns;
    char started_at[SA_ISO8601_LEN];
};

/* Opens everything cfg names: loads and validates the model from cfg->data_dir, opens
 * and migrates the store, creates the agents and metrics. Returns 0 and *out, or an
 * error (SA_ECONFIG for bad data files or settings) with err saying what to fix. */
int sa_app_open(const struct sa_config *cfg, struct sa_app **out, struct sa_err *err) SA_WUR;
void sa_app_close(struct sa_app *app);

#endif
