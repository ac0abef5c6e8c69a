/* The agent plug-in interface and the registry of the six agent types the original
 * service exposes (qualification, enrichment, growth, marketing, bdr, conversation).
 * Each agent is a struct that embeds struct sa_agent first and exports its ops; the
 * registry creates one of each at start-up, and keeps per-type status counters
 * (invocations, errors, latencies) for GET /api/agents/status. */
#ifndef SA_AGENTS_AGENT_H
#define SA_AGENTS_AGENT_H

#include <jansson.h>
#include <stdbool.h>

#include "base/err.h"
#include "domain/schemas.h"

struct sa_lead;
struct sa_model;
struct sa_agent;
struct sa_dataset;
struct sa_store;
struct sa_metrics;
struct sa_enrich_provider;
struct graph_builder;

/* What agents are built from; all borrowed, and MUST outlive the registry. Optional
 * parts may be NULL: the agents that need them then answer 501 (not available). */
struct sa_calendar;
struct sa_profile;
struct sa_llm_use;
struct sa_agent_deps {
    const struct sa_model *model;       /* required: scoring, free-mail list */
    const struct sa_dataset *dataset;   /* enrichment's local provider, growth's competitors */
    struct sa_store *store;             /* enrichment cache */
    double enrichment_ttl;              /* seconds a cached enrichment is fresh */
    const json_t *growth_table;         /* data/industry_growth.json "industries" */
    const json_t *templates;            /* {template name: text} from data/templates/ */
    const struct sa_profile *profile;   /* required: what is sold, by whom (domain/profile.h) */
    bool conversation;                  /* the intent model loaded: conversation available */
    struct sa_metrics *metrics;         /* for the circuit breakers' gauge */
    int m_breaker;                      /* that gauge's family id */
    int breaker_failures;               /* consecutive failures that open a breaker (0: 5) */
    double breaker_open_seconds;        /* how long it stays open (0: 30) */
    const struct sa_calendar *calendar; /* bdr's and conversation's meeting slots */
    /* Who the messages come from: the profile's sender and meeting link after the
     * SENDER_* and MEETING_LINK overrides; required, not NULL. */
    const char *sender_name;      /* signs marketing and BDR messages, organises meetings */
    const char *sender_title;     /* the signer's title in marketing messages */
    const char *sender_email;     /* the BDR e-mails' From and the invites' organizer */
    const char *meeting_link;     /* the meeting link in marketing messages */
    int bdr_max_touches_per_week; /* bdr's frequency cap per contact (0: no cap) */
    int meeting_hold_hours;       /* how long a proposed meeting holds its slot (0: 48) */
    /* The model the agents may use (agents/llm_use.h), or NULL: the rules alone. */
    struct sa_llm_use *llm;
    /* The enrichment waterfall in order (ENRICHMENT_PROVIDERS), borrowed; n 0: the local
     * dataset alone, which the agent then opens itself from dataset. */
    struct sa_enrich_provider *const *enrich_providers;
    int n_enrich_providers;
};

enum sa_agent_type {
    SA_AGENT_QUALIFICATION,
    SA_AGENT_ENRICHMENT,
    SA_AGENT_GROWTH,
    SA_AGENT_MARKETING,
    SA_AGENT_BDR,
    SA_AGENT_CONVERSATION,
    SA_AGENT_COUNT
};

/* How the API reaches an agent (invoke and runs dispatch on it, not on agent names). */
enum sa_agent_entry {
    /* run(lead, context): one call on a lead (input: the lead, sa_schema_lead_input) */
    SA_AGENT_ENTRY_RUN,
    /* a step of the pipeline graph that can interrupt it (a human approval): invoking the
     * agent runs the pipeline on the lead up to and through it */
    SA_AGENT_ENTRY_PIPELINE,
    /* one turn of a conversation thread: the input is the agent's own (check_input), no
     * lead is written, the thread carries the history */
    SA_AGENT_ENTRY_TURN,
};

struct sa_agent_ops {
    const char *name;          /* the agent_type string */
    enum sa_agent_entry entry; /* default (0): SA_AGENT_ENTRY_RUN */
    const char *description;   /* one line for the status endpoint */
    const char *input_schema;  /* JSON Schema text of the input, or NULL (domain/schemas.c) */
    const char *output_schema; /* JSON Schema text of the output, or NULL */
    /* Runs the agent on a validated lead. context (borrowed, may be NULL) holds the
     * outputs of agents that ran before it on this lead: {"qualification": ...,
     * "enrichment": ..., "growth": ...}. Sets *output (new reference) and returns 0, or
     * returns a negative code with err set. Optional: NULL for an agent that only works
     * inside the pipeline (its own build_graph) or on turns; with no run, build_graph or
     * turn entry the agent is not available, and the API answers 501. MUST be
     * thread-safe: requests call it concurrently. */
    int (*run)(struct sa_agent *a, const struct sa_lead *lead, const json_t *context,
               json_t **output, struct sa_err *err);
    /* Adds the agent to a graph as the node `node`: reads the lead from the "lead_data"
     * channel and the earlier agents' outputs from the state, writes its output to
     * `channel` (and "current_agent"). Returns 0 or an error. Optional: NULL uses
     * sa_agent_graph_node (one node around run); an agent with internal steps (a
     * provider waterfall, an LLM with a fallback) adds its own subgraph here. */
    int (*build_graph)(struct sa_agent *a, struct graph_builder *b, const char *node,
                       const char *channel, void *arg);
    /* Validates an input that is not a lead (SA_AGENT_ENTRY_TURN agents) against the
     * agent's input schema, adding {loc, msg, type} entries under loc to detail. Returns 0
     * when valid. Optional: NULL for agents whose input is the lead (checked by
     * sa_lead_parse in the service). */
    int (*check_input)(const json_t *input, const char *loc, json_t *detail);
    /* Adds a model's explanation to output, an output run gave for lead (qualification:
     * the score's narrative), when a model is configured. run and its like in other
     * agents (growth's narrative) leave theirs out when context has "skip_explain": true:
     * the pipeline asks for it in a node of its own beside growth (the two calls
     * overlap), and an import, or the context a marketing invoke builds, wants none (one
     * paid call per imported row). Optional: NULL explains nothing. */
    void (*explain)(struct sa_agent *a, const struct sa_lead *lead, json_t *output);
    /* Frees the agent. Optional. */
    void (*destroy)(struct sa_agent *a);
};

struct sa_agent {
    const struct sa_agent_ops *ops;
};

/* The default build_graph: one node that runs the agent (agents/pipeline.c). arg MUST be
 * the step the pipeline passes (opaque here) and outlive the graph. */
int sa_agent_graph_node(struct sa_agent *a, struct graph_builder *b, const char *node,
                        const char *channel, void *arg);
/* Counts one run of an agent inside the pipeline in its status counters (GET
 * /api/agents/status): step is the arg its build_graph got (NULL: nothing). An agent that
 * adds its own nodes calls it from the node that does its work. */
void sa_agent_step_record(void *step, double latency_ms, bool ok);

/* The wrappers every caller uses (no caller writes ->ops->). */
static inline const char *sa_agent_name(const struct sa_agent *a)
{
    return a->ops->name;
}
static inline const char *sa_agent_description(const struct sa_agent *a)
{
    return a->ops->description;
}
static inline enum sa_agent_entry sa_agent_entry(const struct sa_agent *a)
{
    return a->ops->entry;
}
/* True when the agent can work: it runs on a lead, adds itself to the pipeline, or takes
 * conversation turns. A placeholder for an agent whose data is missing has none. */
static inline bool sa_agent_available(const struct sa_agent *a)
{
    return a->ops->run || a->ops->build_graph || a->ops->entry == SA_AGENT_ENTRY_TURN;
}
/* Checks a non-lead input (see sa_agent_ops.check_input); 0 for lead agents. */
static inline int sa_agent_check_input(const struct sa_agent *a, const json_t *input,
                                       const char *loc, json_t *detail) SA_WUR;
static inline int sa_agent_check_input(const struct sa_agent *a, const json_t *input,
                                       const char *loc, json_t *detail)
{
    return a->ops->check_input ? a->ops->check_input(input, loc, detail) : 0;
}
/* Explains output (see sa_agent_ops.explain); nothing without the slot. */
static inline void sa_agent_explain(struct sa_agent *a, const struct sa_lead *lead, json_t *output)
{
    if (a->ops->explain)
        a->ops->explain(a, lead, output);
}
static inline bool sa_agent_explains(const struct sa_agent *a)
{
    return a->ops->explain != NULL;
}
/* Runs the agent (see sa_agent_ops.run); SA_ENOTIMPL when it is not available. */
static inline int sa_agent_run(struct sa_agent *a, const struct sa_lead *lead,
                               const json_t *context, json_t **output, struct sa_err *err) SA_WUR;
static inline int sa_agent_run(struct sa_agent *a, const struct sa_lead *lead,
                               const json_t *context, json_t **output, struct sa_err *err)
{
    *output = NULL;
    if (!a->ops->run)
        return sa_err_set(err, SA_ENOTIMPL, "the %s agent does not run on its own", a->ops->name);
    return a->ops->run(a, lead, context, output, err);
}
/* Adds the agent to a graph (see sa_agent_ops.build_graph; the default is one node). */
static inline int sa_agent_build_graph(struct sa_agent *a, struct graph_builder *b,
                                       const char *node, const char *channel, void *arg) SA_WUR;
static inline int sa_agent_build_graph(struct sa_agent *a, struct graph_builder *b,
                                       const char *node, const char *channel, void *arg)
{
    return (a->ops->build_graph ? a->ops->build_graph : sa_agent_graph_node)(a, b, node, channel,
                                                                             arg);
}
/* Frees the agent (the destroy slot is optional: nothing to free). */
static inline void sa_agent_destroy(struct sa_agent *a)
{
    if (a && a->ops->destroy)
        a->ops->destroy(a);
}

struct sa_agents;

/* The agent_type for a name ("qualification"), or -1. */
int sa_agent_type_parse(const char *name);
/* The name of a type ("pipeline" for SA_AGENT_COUNT, the pipeline, "?" outside the enum). */
const char *sa_agent_type_name(enum sa_agent_type t);
/* The list of names, comma-separated, for error messages. */
const char *sa_agent_type_names(void);

/* Creates the registry with one agent per type from deps (borrowed). Returns 0 and *out,
 * or an error. */
int sa_agents_new(const struct sa_agent_deps *deps, struct sa_agents **out,
                  struct sa_err *err) SA_WUR;
void sa_agents_free(struct sa_agents *r);

/* The agent of a type (borrowed). */
struct sa_agent *sa_agents_get(struct sa_agents *r, enum sa_agent_type t);
/* True when the type's agent is available (sa_agent_available: not a placeholder). */
bool sa_agents_implemented(struct sa_agents *r, enum sa_agent_type t);

/* {agent_type, available, input, output}: the agent's published JSON Schemas (null when
 * it has none), a new reference. */
json_t *sa_agent_schemas(const struct sa_agent *a);

/* Records one invocation: its latency and whether it succeeded. Thread-safe. */
void sa_agents_record(struct sa_agents *r, enum sa_agent_type t, double latency_ms, bool ok);
/* Clears a type's counters and latencies. Thread-safe. */
void sa_agents_reset(struct sa_agents *r, enum sa_agent_type t);
/* {"agents": [{agent_type, state, description, invocations, errors, last_latency_ms,
 * avg_latency_ms, last_invoked_at, reset_at}], "timestamp"}: a new reference. */
json_t *sa_agents_status(struct sa_agents *r);
/* The status object of one type (new reference). */
json_t *sa_agents_status_one(struct sa_agents *r, enum sa_agent_type t);

/* The agents (agents/<name>.c); each returns NULL when out of memory. */
/* The qualification agent over deps->model; deps->dataset (NULL: none) fills what a lead
 * leaves out about a known company before scoring (listed in the output's
 * enriched_fields); with a model (deps->llm) it adds a narrative of the score. */
struct sa_agent *sa_qualification_new(const struct sa_agent_deps *deps);
struct sa_agent *sa_enrichment_new(const struct sa_agent_deps *deps);
struct sa_agent *sa_growth_new(const struct sa_agent_deps *deps);
struct sa_agent *sa_marketing_new(const struct sa_agent_deps *deps);

#endif
