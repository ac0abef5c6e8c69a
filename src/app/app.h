/* The application: the composition root that owns the model, the store, the agents and
 * the metrics, and the one service operation the API and the CLI share: invoking an
 * agent on a lead and recording it. Created once by main.c; passed explicitly (no
 * globals) to the HTTP layer. */
#ifndef SA_APP_H
#define SA_APP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "agents/agent.h"
#include "base/clock.h"
#include "base/config.h"
#include "base/err.h"
#include "base/uuid.h"
#include "graph/graph.h"

struct sa_lead;

struct sa_app {
    struct sa_config cfg; /* copy; its strings are borrowed from env/argv */
    struct sa_model *model;
    struct sa_store *store;
    struct sa_agents *agents;
    struct sa_metrics *metrics;
    struct sa_dataset *dataset; /* NULL when data/companies.csv is absent */
    json_t *growth_table;       /* NULL when data/industry_growth.json is absent */
    json_t *templates;          /* NULL when data/templates/ is absent */
    struct graph_saver *saver;  /* pipeline checkpoints: SQLite beside the store, or memory */
    struct sa_pipeline *pipeline;
    struct sa_runs *runs;            /* background runs; set by main.c when serving, else NULL */
    struct sa_intent_model *intents; /* NULL when data/intents/en.tsv is absent */
    struct sa_conversation *conversation; /* NULL with no intents */
    struct sa_calendar *calendar;         /* CALENDAR_TZ, _DAYS, _HOURS, MEETING_MINUTES */
    /* Set by the delivery worker: wakes it when new outbox items are queued (NULL: no
     * worker runs, e.g. in the CLI). */
    void (*outbox_kick)(void *arg);
    void *outbox_kick_arg;
    /* metric family ids */
    int m_agent_seconds, m_agent_success, m_agent_errors, m_http_requests, m_http_seconds,
        m_breaker;
    uint64_t started_ns;
    char started_at[SA_ISO8601_LEN];
};

#define SA_THREAD_ID_MAX 128
/* The agent_type "pipeline": the six agents' graph rather than one agent. */
#define SA_AGENT_PIPELINE SA_AGENT_COUNT

struct sa_invoke_req {
    enum sa_agent_type type;
    const struct sa_lead *lead; /* validated */
    const char *lead_id;        /* NULL: a new lead; else that lead is written (upsert) */
    const char *thread_id;      /* NULL: a new thread id is made */
    bool only_if_new;           /* write nothing when lead_id already exists (seeding) */
    const json_t *context;      /* outputs of earlier agents (see sa_agent_ops.run), or NULL */
    /* SA_AGENT_PIPELINE only: graph events as they happen (see graph.h) */
    unsigned stream_modes;
    graph_stream_fn on_event;
    void *event_arg;
    const volatile int *cancel; /* set to stop the pipeline before its next step */
    bool continue_thread;       /* continue thread_id from its checkpoint when it has one */
};

struct sa_invoke_res {
    char lead_id[SA_UUID_LEN];
    char thread_id[SA_THREAD_ID_MAX + 1];
    char execution_id[SA_UUID_LEN];
    json_t *output; /* owned by the result: release with sa_invoke_res_clear */
    double processing_ms;
    bool written; /* false only when only_if_new found the lead already there */
};

/* Opens everything cfg names: loads and validates the model from cfg->data_dir, opens
 * and migrates the store, creates the agents and metrics. Returns 0 and *out, or an
 * error (SA_ECONFIG for bad data files or settings) with err saying what to fix. */
int sa_app_open(const struct sa_config *cfg, struct sa_app **out, struct sa_err *err) SA_WUR;
void sa_app_close(struct sa_app *app);

/* Runs the agent on the lead, measures it, and writes the lead and an execution row in
 * one transaction. Updates status counters and metrics. Returns 0 with res filled;
 * SA_ENOTIMPL for agents not built yet; SA_ESTORE when the write failed (nothing
 * written); other codes from the agent. */
int sa_app_invoke(struct sa_app *app, const struct sa_invoke_req *req, struct sa_invoke_res *res,
                  struct sa_err *err) SA_WUR;
void sa_invoke_res_clear(struct sa_invoke_res *res);

/* One conversation turn (input: {message, contact?, company_name?}, validated) on
 * thread_id (NULL: a new thread). Measures and records it like an agent invocation.
 * res->output and res->thread_id are set; no lead is written. */
/* Records a graph's interrupts (GRAPH_INTERRUPTED's [{id, value, node}]) as pending
 * approvals, once per (thread, interrupt); *approvals (new reference) gets
 * [{approval_id, node, request, link}]. */
int sa_app_record_interrupts(struct sa_app *app, const char *thread_id, const char *lead_id,
                             const json_t *interrupts, json_t **approvals, struct sa_err *err);
/* Answers approval id with an Agent Inbox HumanResponse (borrowed) by reviewer (may be
 * NULL), then continues its run. SA_EINVAL with detail filled for a bad response,
 * SA_ENOTFOUND, SA_ECONFLICT when it was answered differently before; the same answer
 * twice is harmless. *out (new reference): {approval, duplicate, run}. */
int sa_app_decide(struct sa_app *app, const char *id, const json_t *response, const char *reviewer,
                  json_t *detail, json_t **out, struct sa_err *err);
/* At start-up: continues the runs whose approval was answered but which a stopped
 * server did not resume. */
int sa_app_resume_decided(struct sa_app *app, int *resumed, struct sa_err *err);
int sa_app_converse(struct sa_app *app, const char *thread_id, const json_t *input,
                    struct sa_invoke_res *res, struct sa_err *err) SA_WUR;

/* Loads leads from a JSON file ({"leads": [{"id": UUID, ...AgentInput}]}) and qualifies
 * each one not stored yet (by id). A malformed file or lead is an error naming it.
 * *added and *present count the outcome. */
int sa_app_seed(struct sa_app *app, const char *path, int *added, int *present,
                struct sa_err *err) SA_WUR;

/* Records an HTTP request in the metrics (route is the route template, or "unmatched"). */
void sa_app_observe_http(struct sa_app *app, const char *method, const char *route, int status,
                         double seconds);

#endif
