/* The lead pipeline (see pipeline.h). Each node runs one agent on the lead in the state,
 * with the outputs of the agents before it as context, and writes its output to the
 * seed's channel for it. An agent that is not available (its data is missing) leaves an
 * entry in "errors" and the pipeline goes on. */
#include "agents/pipeline.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agents/agent.h"
#include "agents/llm_use.h"
#include "base/clock.h"
#include "domain/lead.h"
#include "domain/scoring.h"

struct step {
    struct sa_agents *agents;
    enum sa_agent_type type;
    const char *channel;
    int delay_ms;       /* PIPELINE_STEP_DELAY_MS (see sa_pipeline_new) */
    bool explain_later; /* qualification: the "explain" node writes the narrative */
};

struct sa_pipeline {
    struct graph *g;
    struct step steps[5];
    bool with_bdr; /* the bdr nodes and channels are in the graph */
    bool explain;  /* qualification explains itself in the "explain" node */
};

static json_t *or_null(json_t *v)
{
    return v ? v : json_null();
}

static json_t *context_of(const json_t *state)
{
    return json_pack("{s:O, s:O, s:O}", "qualification",
                     or_null(json_object_get(state, "qualification_score")), "enrichment",
                     or_null(json_object_get(state, "enrichment_data")), "growth",
                     or_null(json_object_get(state, "growth_insights")));
}

/* Fills what the lead does not say from the company enrichment found (the dataset or a
 * provider), so qualification scores a known company on its real size, industry, revenue
 * and country instead of "unknown". The lead's own values always win. Returns the names
 * of the fields filled (a new array, maybe empty). */
static json_t *fill_from_enrichment(json_t *input, const json_t *state)
{
    json_t *filled = json_array();
    const json_t *company = json_object_get(json_object_get(state, "enrichment_data"), "company");
    if (!json_is_object(company) || !json_is_object(input))
        return filled;
    static const struct {
        const char *lead, *company;
    } map[] = {{"industry", "industry"},
               {"annual_revenue", "revenue_band"},
               {"country", "country"},
               {"website", "domain"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        json_t *have = json_object_get(input, map[i].lead);
        const char *v = json_string_value(json_object_get(company, map[i].company));
        if (v && *v &&
            (!have || json_is_null(have) ||
             (json_is_string(have) && json_string_length(have) == 0))) {
            json_object_set_new(input, map[i].lead, json_string(v));
            json_array_append_new(filled, json_string(map[i].lead));
        }
    }
    json_t *size = json_object_get(input, "company_size");
    json_t *emp = json_object_get(company, "employees");
    if (json_is_integer(emp) && json_integer_value(emp) > 0 &&
        (!size || json_is_null(size) || (json_is_string(size) && json_string_length(size) == 0))) {
        json_object_set_new(input, "company_size", json_integer(json_integer_value(emp)));
        json_array_append_new(filled, json_string("company_size"));
    }
    return filled;
}

/* The lead an agent of type works on: the state's lead_data, for qualification with what
 * enrichment found filled in (*enriched: the fields filled; NULL for other agents). On 0
 * *lead is parsed (clear it) over *input (free it); else free *input and *enriched. */
static int step_lead(const json_t *state, enum sa_agent_type type, struct sa_lead *lead,
                     json_t **input, json_t **enriched)
{
    *input = json_deep_copy(json_object_get(state, "lead_data"));
    *enriched = type == SA_AGENT_QUALIFICATION ? fill_from_enrichment(*input, state) : NULL;
    json_t *detail = json_array();
    int rc = sa_lead_parse(*input, "lead_data", lead, detail);
    if (rc && *enriched && json_array_size(*enriched) > 0) {
        /* a value enrichment gave that the lead parser does not take (an unusual revenue
         * band): score the lead as it came rather than fail the run */
        json_decref(*input);
        json_decref(*enriched);
        json_array_clear(detail);
        *input = json_deep_copy(json_object_get(state, "lead_data"));
        *enriched = json_array();
        rc = sa_lead_parse(*input, "lead_data", lead, detail);
    }
    json_decref(detail);
    return rc;
}

/* A node's model answer relayed piece by piece (stream mode "messages"). */
struct relay {
    struct graph_ctx *ctx;
    const char *agent;
    int pieces;
};

/* The end of a relayed answer: an empty chunk saying whether the checked answer was kept
 * (response_metadata.kept), and when not, why: a reader discards what it showed. */
static void relay_end(void *arg, bool used, const char *reason)
{
    struct relay *rl = arg;
    char id[64];
    snprintf(id, sizeof id, "%s-%s", rl->agent, "llm");
    json_t *chunk = json_pack("{s:s, s:s, s:s, s:i, s:{s:b, s:s?}}", "type", "AIMessageChunk",
                              "content", "", "id", id, "index", rl->pieces++, "response_metadata",
                              "kept", used, "fallback_reason", reason);
    if (chunk)
        graph_emit_message(rl->ctx, chunk);
    json_decref(chunk);
}

static int relay_piece(void *arg, const char *text, size_t len)
{
    struct relay *rl = arg;
    char id[64];
    snprintf(id, sizeof id, "%s-%s", rl->agent, "llm");
    json_t *chunk = json_pack("{s:s, s:s%, s:s, s:i}", "type", "AIMessageChunk", "content", text,
                              len, "id", id, "index", rl->pieces++);
    if (chunk)
        graph_emit_message(rl->ctx, chunk);
    json_decref(chunk);
    return 0;
}

static int agent_node(const json_t *state, json_t **update, struct graph_ctx *ctx, void *arg)
{
    const struct step *s = arg;
    if (s->delay_ms > 0) {
        struct timespec ts = {s->delay_ms / 1000, (s->delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    const char *name = sa_agent_type_name(s->type);
    struct sa_agent *a = sa_agents_get(s->agents, s->type);
    if (!sa_agent_available(a)) {
        *update = json_pack("{s:[{s:s, s:s}], s:s}", "errors", "agent", name, "msg",
                            "not available: its data files are missing", "current_agent", name);
        return 0;
    }
    json_t *input = NULL, *enriched = NULL;
    struct sa_lead lead;
    int rc = step_lead(state, s->type, &lead, &input, &enriched);
    if (rc) {
        json_decref(input);
        json_decref(enriched);
        return graph_ctx_fail(ctx, SA_EINVAL, "the lead in the pipeline state is invalid");
    }
    json_t *context = context_of(state);
    if (s->explain_later)
        json_object_set_new(context, "skip_explain", json_true());
    json_t *out = NULL;
    struct sa_err err = {0};
    uint64_t t0 = sa_now_ns();
    struct relay rl = {ctx, name, 0};
    if (graph_ctx_streams(ctx, GRAPH_STREAM_MESSAGES))
        sa_llm_use_stream_to(relay_piece, relay_end, &rl); /* a model's pieces, as they come */
    rc = sa_agent_run(a, &lead, context, &out, &err);
    sa_llm_use_stream_to(NULL, NULL, NULL);
    sa_agent_step_record(arg, sa_ns_to_ms(sa_now_ns() - t0), rc == 0);
    json_decref(context);
    sa_lead_clear(&lead);
    json_decref(input);
    if (rc) {
        json_decref(enriched);
        return graph_ctx_fail(ctx, rc, "%s: %s", name, err.msg);
    }
    if (enriched) /* which of the scored fields came from enrichment, not from the lead */
        json_object_set_new(out, "enriched_fields", enriched);
    json_t *ev = json_pack("{s:s, s:s}", "agent", name, "status", "done");
    graph_emit(ctx, ev); /* borrows ev */
    json_decref(ev);
    *update = json_pack("{s:o, s:s}", s->channel, out, "current_agent", name);
    return 0;
}

/* Qualification's narrative, beside growth (sa_pipeline_new with explain_apart): the
 * score as qualification wrote it, explained by the model. */
static int explain_node(const json_t *state, json_t **update, struct graph_ctx *ctx, void *arg)
{
    const struct step *s = arg;
    struct sa_agent *a = sa_agents_get(s->agents, SA_AGENT_QUALIFICATION);
    json_t *out = json_deep_copy(json_object_get(state, "qualification_score"));
    json_t *input = NULL, *enriched = NULL;
    struct sa_lead lead;
    if (!json_is_object(out) ||
        step_lead(state, SA_AGENT_QUALIFICATION, &lead, &input, &enriched)) {
        json_decref(out);
        json_decref(input);
        json_decref(enriched);
        *update = NULL; /* nothing to explain: the score stands as it is */
        return 0;
    }
    struct relay rl = {ctx, "qualification", 0};
    if (graph_ctx_streams(ctx, GRAPH_STREAM_MESSAGES))
        sa_llm_use_stream_to(relay_piece, relay_end, &rl);
    sa_agent_explain(a, &lead, out);
    sa_llm_use_stream_to(NULL, NULL, NULL);
    sa_lead_clear(&lead);
    json_decref(input);
    json_decref(enriched);
    *update = json_pack("{s:o}", "qualification_score", out);
    return 0;
}

void sa_agent_step_record(void *step, double latency_ms, bool ok)
{
    const struct step *s = step;
    if (s)
        sa_agents_record(s->agents, s->type, latency_ms, ok);
}

int sa_agent_graph_node(struct sa_agent *a, struct graph_builder *b, const char *node,
                        const char *channel, void *arg)
{
    (void)a;
    (void)channel; /* the step (arg) carries the channel agent_node writes */
    graph_add_node(b, node, agent_node, arg, NULL);
    return 0;
}

static int nurture_node(const json_t *state, json_t **update, struct graph_ctx *ctx, void *arg)
{
    (void)ctx;
    (void)arg;
    json_t *q = json_object_get(state, "qualification_score");
    *update = json_pack(
        "{s:{s:b, s:{s:s, s:s}, s:[], s:O, s:i}, s:s}", "marketing_plan", "nurture", 1, "strategy",
        "tier", "D", "approach", "Long-term nurture only: no rep time", "channels", "reason",
        or_null(json_object_get(q, "reasoning")), "review_in_days", 90, "current_agent", "nurture");
    return 0;
}

static int route_tier(const json_t *state, json_t **next, void *arg)
{
    (void)arg;
    const char *tier =
        json_string_value(json_object_get(json_object_get(state, "qualification_score"), "tier"));
    *next = json_string(tier && strcmp(tier, "D") == 0 ? "nurture" : "growth");
    return 0;
}

/* route_tier with the narrative beside it: D -> nurture and explain, else growth and
 * explain (a tier-D lead's score is explained too; the join before marketing never fires
 * for it, as growth does not run). */
static int route_tier_explain(const json_t *state, json_t **next, void *arg)
{
    int rc = route_tier(state, next, arg);
    if (!rc) {
        json_t *both = json_pack("[O, s]", *next, "explain");
        json_decref(*next);
        *next = both;
    }
    return rc;
}

/* errors: appends lists; a null write empties it (a new lead on the thread). */
static json_t *errors_reducer(const json_t *current, const json_t *write, void *arg)
{
    (void)arg;
    if (json_is_null(write))
        return json_array();
    json_t *acc = json_is_array(current) ? json_copy((json_t *)current) : json_array();
    if (json_is_array(write))
        json_array_extend(acc, (json_t *)write);
    else
        json_array_append(acc, (json_t *)write);
    return acc;
}

/* current_agent: parallel nodes both write it; the later write in task order wins. */
static json_t *last_write(const json_t *current, const json_t *write, void *arg)
{
    (void)current;
    (void)arg;
    return json_incref((json_t *)write);
}

int sa_pipeline_new(struct sa_agents *agents, const struct sa_model *model,
                    struct graph_saver *saver, int step_delay_ms, bool explain_apart,
                    struct sa_pipeline **out, struct sa_err *err)
{
    (void)model;
    *out = NULL;
    struct sa_pipeline *p = calloc(1, sizeof *p);
    if (!p)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    p->steps[0] =
        (struct step){agents, SA_AGENT_QUALIFICATION, "qualification_score", step_delay_ms, false};
    p->steps[1] =
        (struct step){agents, SA_AGENT_ENRICHMENT, "enrichment_data", step_delay_ms, false};
    p->steps[2] = (struct step){agents, SA_AGENT_GROWTH, "growth_insights", step_delay_ms, false};
    p->steps[3] = (struct step){agents, SA_AGENT_MARKETING, "marketing_plan", step_delay_ms, false};
    p->steps[4] = (struct step){agents, SA_AGENT_BDR, "bdr_actions", step_delay_ms, false};
    struct graph_builder *b = graph_builder_new();
    const char *last_value[] = {"lead_data",       "qualification_score", "enrichment_data",
                                "growth_insights", "marketing_plan",      "lead_id",
                                "thread_id"};
    for (size_t i = 0; i < sizeof last_value / sizeof last_value[0]; i++)
        graph_add_channel(b, last_value[i], GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(b, "bdr_actions", GRAPH_APPEND, NULL, NULL, NULL);
    graph_add_channel(b, "conversation_history", GRAPH_APPEND, NULL, NULL, NULL);
    graph_add_channel(b, "errors", GRAPH_CUSTOM, NULL, errors_reducer, NULL);
    graph_add_channel(b, "current_agent", GRAPH_CUSTOM, NULL, last_write, NULL);
    const char *names[] = {"qualification", "enrichment", "growth", "marketing", "bdr"};
    /* bdr joins when it can run (it needs the store): it adds bdr, bdr_approval and
     * bdr_send */
    bool with_bdr = p->with_bdr = sa_agents_implemented(agents, SA_AGENT_BDR);
    for (int i = 0; i < (with_bdr ? 5 : 4); i++) {
        /* each agent puts itself in the graph (build_graph), by default as one node */
        struct sa_agent *a = sa_agents_get(agents, p->steps[i].type);
        if (sa_agent_build_graph(a, b, names[i], p->steps[i].channel, &p->steps[i])) {
            graph_builder_free(b);
            free(p);
            return sa_err_set(err, SA_EINVAL, "agent %s could not join the pipeline", names[i]);
        }
    }
    graph_add_node(b, "nurture", nurture_node, NULL, NULL);
    p->explain = explain_apart && sa_agent_explains(sa_agents_get(agents, SA_AGENT_QUALIFICATION));
    if (p->explain) {
        p->steps[0].explain_later = true;
        graph_add_node(b, "explain", explain_node, &p->steps[0], NULL);
    }
    /* enrichment first, so qualification scores what is known about the company */
    graph_add_edge(b, GRAPH_START, "enrichment");
    graph_add_edge(b, "enrichment", "qualification");
    json_t *pm = json_pack("{s:s, s:s}", "nurture", "nurture", "growth", "growth");
    if (p->explain)
        json_object_set_new(pm, "explain", json_string("explain"));
    graph_add_conditional_edges(b, "qualification", p->explain ? route_tier_explain : route_tier,
                                NULL, pm);
    json_decref(pm);
    if (p->explain) { /* marketing waits for both: the narrative and growth */
        const char *both[] = {"growth", "explain"};
        graph_add_join(b, both, 2, "marketing");
    } else {
        graph_add_edge(b, "growth", "marketing");
    }
    if (with_bdr) {
        graph_add_edge(b, "marketing", "bdr");
        graph_add_edge(b, "bdr_send", GRAPH_END);
    } else {
        graph_add_edge(b, "marketing", GRAPH_END);
    }
    graph_add_edge(b, "nurture", GRAPH_END);
    /* two threads: growth and the narrative, each waiting on a model, run at once */
    struct graph_compile_opts o = {.saver = saver, .threads = p->explain ? 2 : 0};
    int rc = graph_compile(b, &o, &p->g, err);
    graph_builder_free(b);
    if (rc) {
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void sa_pipeline_free(struct sa_pipeline *p)
{
    if (!p)
        return;
    graph_free(p->g);
    free(p);
}

int sa_pipeline_run(struct sa_pipeline *p, const json_t *lead, const char *thread_id,
                    const char *lead_id, unsigned stream_modes, graph_stream_fn on_event,
                    void *event_arg, const volatile int *cancel,
                    const struct graph_input_hook *input_hook, struct graph_result *res,
                    struct sa_err *err)
{
    /* A new lead on a thread that ran before starts its results afresh: the per-lead
     * channels are reset with the input (errors: null resets the list). */
    json_t *input =
        json_pack("{s:O, s:n, s:n, s:n, s:n, s:n, s:s?, s:s?}", "lead_data", lead,
                  "qualification_score", "enrichment_data", "growth_insights", "marketing_plan",
                  "errors", "thread_id", thread_id, "lead_id", lead_id);
    if (p->with_bdr) {
        json_object_set_new(input, "bdr_draft", json_null());
        json_object_set_new(input, "bdr_decision", json_null());
    }
    struct graph_run_opts o = {.thread_id = thread_id,
                               .stream_modes = stream_modes,
                               .on_event = on_event,
                               .event_arg = event_arg,
                               .cancel = cancel,
                               .input_hook = input_hook};
    int rc = graph_invoke(p->g, input, &o, res, err);
    json_decref(input);
    return rc;
}

int sa_pipeline_continue(struct sa_pipeline *p, const char *thread_id, unsigned stream_modes,
                         graph_stream_fn on_event, void *event_arg, const volatile int *cancel,
                         struct graph_result *res, struct sa_err *err)
{
    struct graph_run_opts o = {.thread_id = thread_id,
                               .stream_modes = stream_modes,
                               .on_event = on_event,
                               .event_arg = event_arg,
                               .cancel = cancel};
    int rc = graph_invoke(p->g, NULL, &o, res, err);
    if (rc == SA_EINVAL && strstr(err->msg, "no checkpoint"))
        rc = sa_err_set(err, SA_ENOTFOUND, "thread %s has no checkpoint", thread_id);
    return rc;
}

int sa_pipeline_resume(struct sa_pipeline *p, const char *thread_id, const json_t *resume,
                       struct graph_result *res, struct sa_err *err)
{
    struct graph_run_opts o = {.thread_id = thread_id, .resume = resume};
    return graph_invoke(p->g, NULL, &o, res, err);
}

const struct graph *sa_pipeline_graph(const struct sa_pipeline *p)
{
    return p->g;
}
