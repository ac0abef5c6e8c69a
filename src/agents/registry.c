/* The agent registry and its status counters (see agent.h). */
#include "agents/agent.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "agents/bdr.h"
#include "agents/conversation.h"
#include "base/clock.h"

struct agent_stats {
    unsigned long invocations, errors;
    double last_latency_ms, total_latency_ms;
    char last_invoked_at[SA_ISO8601_LEN];
    char reset_at[SA_ISO8601_LEN];
};

struct sa_agents {
    struct sa_agent *agents[SA_AGENT_COUNT];
    struct agent_stats stats[SA_AGENT_COUNT];
    pthread_mutex_t lock;
};

static const char *const type_names[SA_AGENT_COUNT] = {
    "qualification", "enrichment", "growth", "marketing", "bdr", "conversation"};

/* Agents not built yet: a placeholder with a description and no run op. */
static const struct sa_agent_ops placeholder_ops[SA_AGENT_COUNT] = {
    [SA_AGENT_QUALIFICATION] = {.name = "qualification", .description = "Lead scoring"},
    [SA_AGENT_ENRICHMENT] = {.name = "enrichment",
                             .description = "Company and contact enrichment (not built yet)"},
    [SA_AGENT_GROWTH] = {.name = "growth",
                         .description = "Market and growth-potential analysis (not built yet)"},
    [SA_AGENT_MARKETING] = {.name = "marketing",
                            .description = "Campaign strategy and content (not built yet)"},
    [SA_AGENT_BDR] = {.name = "bdr",
                      .description = "BDR workflow with human approval (not built yet)"},
    [SA_AGENT_CONVERSATION] = {.name = "conversation",
                               .description = "Multi-turn sales conversation (not built yet)"},
};
static struct sa_agent placeholders[SA_AGENT_COUNT] = {
    [SA_AGENT_QUALIFICATION] = {&placeholder_ops[SA_AGENT_QUALIFICATION]},
    [SA_AGENT_ENRICHMENT] = {&placeholder_ops[SA_AGENT_ENRICHMENT]},
    [SA_AGENT_GROWTH] = {&placeholder_ops[SA_AGENT_GROWTH]},
    [SA_AGENT_MARKETING] = {&placeholder_ops[SA_AGENT_MARKETING]},
    [SA_AGENT_BDR] = {&placeholder_ops[SA_AGENT_BDR]},
    [SA_AGENT_CONVERSATION] = {&placeholder_ops[SA_AGENT_CONVERSATION]},
};

int sa_agent_type_parse(const char *name)
{
    for (int i = 0; name && i < SA_AGENT_COUNT; i++)
        if (strcmp(name, type_names[i]) == 0)
            return i;
    return -1;
}

const char *sa_agent_type_name(enum sa_agent_type t)
{
    if (t == SA_AGENT_COUNT) /* SA_AGENT_PIPELINE (app/invoke.h) */
        return "pipeline";
    return (unsigned)t < SA_AGENT_COUNT ? type_names[t] : "?";
}

const char *sa_agent_type_names(void)
{
    return "qualification, enrichment, growth, marketing, bdr, conversation";
}

int sa_agents_new(const struct sa_agent_deps *deps, struct sa_agents **out, struct sa_err *err)
{
    *out = NULL;
    struct sa_agents *r = calloc(1, sizeof *r);
    if (!r)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    pthread_mutex_init(&r->lock, NULL);
    for (int i = 0; i < SA_AGENT_COUNT; i++)
        r->agents[i] = &placeholders[i];
    r->agents[SA_AGENT_QUALIFICATION] = sa_qualification_new(deps);
    bool oom = !r->agents[SA_AGENT_QUALIFICATION];
    if (deps->dataset || deps->n_enrich_providers > 0) {
        r->agents[SA_AGENT_ENRICHMENT] = sa_enrichment_new(deps);
        oom |= !r->agents[SA_AGENT_ENRICHMENT];
    }
    if (deps->dataset && deps->growth_table) {
        r->agents[SA_AGENT_GROWTH] = sa_growth_new(deps);
        oom |= !r->agents[SA_AGENT_GROWTH];
    }
    if (deps->templates) {
        r->agents[SA_AGENT_MARKETING] = sa_marketing_new(deps);
        oom |= !r->agents[SA_AGENT_MARKETING];
    }
    if (deps->store && deps->templates) {
        r->agents[SA_AGENT_BDR] = sa_bdr_new(deps);
        oom |= !r->agents[SA_AGENT_BDR];
    }
    if (deps->conversation) {
        r->agents[SA_AGENT_CONVERSATION] = sa_conversation_agent_new();
        oom |= !r->agents[SA_AGENT_CONVERSATION];
    }
    if (oom) {
        for (int i = 0; i < SA_AGENT_COUNT; i++)
            if (!r->agents[i])
                r->agents[i] = &placeholders[i]; /* valid slots for sa_agents_free */
        sa_agents_free(r);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    for (int i = 0; i < SA_AGENT_COUNT; i++)
        memcpy(r->stats[i].reset_at, now, sizeof now);
    *out = r;
    return 0;
}

void sa_agents_free(struct sa_agents *r)
{
    if (!r)
        return;
    for (int i = 0; i < SA_AGENT_COUNT; i++)
        sa_agent_destroy(r->agents[i]);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

struct sa_agent *sa_agents_get(struct sa_agents *r, enum sa_agent_type t)
{
    return r->agents[t];
}

bool sa_agents_implemented(struct sa_agents *r, enum sa_agent_type t)
{
    return sa_agent_available(r->agents[t]);
}

void sa_agents_record(struct sa_agents *r, enum sa_agent_type t, double latency_ms, bool ok)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    pthread_mutex_lock(&r->lock);
    struct agent_stats *s = &r->stats[t];
    s->invocations++;
    s->errors += !ok;
    s->last_latency_ms = latency_ms;
    s->total_latency_ms += latency_ms;
    memcpy(s->last_invoked_at, now, sizeof now);
    pthread_mutex_unlock(&r->lock);
}

void sa_agents_reset(struct sa_agents *r, enum sa_agent_type t)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    pthread_mutex_lock(&r->lock);
    r->stats[t] = (struct agent_stats){0};
    memcpy(r->stats[t].reset_at, now, sizeof now);
    pthread_mutex_unlock(&r->lock);
}

/* Caller holds r->lock. */
static json_t *status_locked(struct sa_agents *r, enum sa_agent_type t)
{
    const struct agent_stats *s = &r->stats[t];
    bool impl = sa_agents_implemented(r, t);
    const char *state = !impl ? "not_implemented" : s->invocations ? "active" : "idle";
    return json_pack(
        "{s:s, s:s, s:s, s:b, s:I, s:I, s:f, s:f, s:o, s:s}", "agent_type", type_names[t], "state",
        state, "description", sa_agent_description(r->agents[t]), "available", impl, "invocations",
        (json_int_t)s->invocations, "errors", (json_int_t)s->errors, "last_latency_ms",
        s->last_latency_ms, "avg_latency_ms",
        s->invocations ? s->total_latency_ms / (double)s->invocations : 0.0, "last_invoked_at",
        s->last_invoked_at[0] ? json_string(s->last_invoked_at) : json_null(), "reset_at",
        s->reset_at);
}

json_t *sa_agents_status_one(struct sa_agents *r, enum sa_agent_type t)
{
    pthread_mutex_lock(&r->lock);
    json_t *o = status_locked(r, t);
    pthread_mutex_unlock(&r->lock);
    return o;
}

json_t *sa_agents_status(struct sa_agents *r)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < SA_AGENT_COUNT; i++)
        json_array_append_new(arr, status_locked(r, (enum sa_agent_type)i));
    pthread_mutex_unlock(&r->lock);
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    return json_pack("{s:o, s:s}", "agents", arr, "timestamp", now);
}

json_t *sa_agent_schemas(const struct sa_agent *a)
{
    const struct sa_agent_ops *ops = a->ops;
    json_t *in = ops->input_schema ? json_loads(ops->input_schema, 0, NULL) : NULL;
    json_t *out = ops->output_schema ? json_loads(ops->output_schema, 0, NULL) : NULL;
    return json_pack("{s:s, s:b, s:o, s:o}", "agent_type", ops->name, "available",
                     sa_agent_available(a), "input", in ? in : json_null(), "output",
                     out ? out : json_null());
}
