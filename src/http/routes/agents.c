/* The seed's agent endpoints: POST /api/langgraph/invoke, GET /api/agents/status and
 * POST /api/agents/{agent_type}/reset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agent.h"
#include "app/app.h"
#include "app/invoke.h"
#include "app/leads.h"
#include "base/buf.h"
#include "base/detail.h"
#include "base/json.h"
#include "base/log.h"
#include "domain/lead.h"
#include "http/guard.h"
#include "http/http.h"
#include "http/params.h"

static const char *const stream_modes[] = {"values",   "updates", "custom",
                                           "messages", "debug",   NULL};

static bool stream_mode_known(const char *s)
{
    for (int i = 0; stream_modes[i]; i++)
        if (strcmp(s, stream_modes[i]) == 0)
            return true;
    return false;
}

/* The request's envelope: agent_type, thread_id, lead_id, stream_mode/stream. */
struct envelope {
    int type;
    const char *thread_id, *lead_id; /* lead_id points to lead_id_buf, lowercased */
    char lead_id_buf[SA_UUID_LEN];
    bool stream;
    bool modes[5]; /* by index in stream_modes */
};

static void parse_envelope(json_t *body, struct envelope *env, json_t *detail)
{
    *env = (struct envelope){.type = -1};
    json_t *at = json_object_get(body, "agent_type");
    if (!at || json_is_null(at))
        sa_detail_add(detail, "body.agent_type", "missing", "Field required");
    else if (!json_is_string(at))
        sa_detail_add(detail, "body.agent_type", "string_type", "Input should be a valid string");
    else if (strcmp(json_string_value(at), "pipeline") == 0)
        env->type = SA_AGENT_PIPELINE;
    else if ((env->type = sa_agent_type_parse(json_string_value(at))) < 0)
        sa_detail_add(detail, "body.agent_type", "enum",
                      "Input should be one of: %s, pipeline (got \"%.*s\")", sa_agent_type_names(),
                      sa_utf8_cut(json_string_value(at), 60), json_string_value(at));

    sa_body_thread_id(body, &env->thread_id, detail);
    sa_body_lead_id(body, env->lead_id_buf, detail);
    if (env->lead_id_buf[0])
        env->lead_id = env->lead_id_buf;
    json_t *stream = json_object_get(body, "stream");
    if (stream && !json_is_null(stream)) {
        if (!json_is_boolean(stream))
            sa_detail_add(detail, "body.stream", "bool_type", "Input should be a valid boolean");
        else
            env->stream = json_is_true(stream);
    }
    json_t *sm = json_object_get(body, "stream_mode");
    if (sm && !json_is_null(sm)) {
        json_t *list = json_is_string(sm) ? json_pack("[O]", sm) : json_incref(sm);
        if (!json_is_array(list) || json_array_size(list) == 0) {
            sa_detail_add(detail, "body.stream_mode", "list_type",
                          "stream_mode should be a mode or a list of modes: values, updates, "
                          "custom, messages, debug");
        } else {
            size_t i;
            json_t *x;
            json_array_foreach(list, i, x)
            {
                const char *m = json_string_value(x);
                if (!m || !stream_mode_known(m)) {
                    char loc[48];
                    snprintf(loc, sizeof loc, "body.stream_mode.%zu", i);
                    sa_detail_add(detail, loc, "enum",
                                  "Input should be one of: values, updates, custom, messages, "
                                  "debug");
                    continue;
                }
                for (int k = 0; stream_modes[k]; k++)
                    env->modes[k] |= strcmp(m, stream_modes[k]) == 0;
            }
            env->stream = true;
        }
        json_decref(list);
    }
    if (env->stream && !env->modes[0] && !env->modes[1] && !env->modes[2] && !env->modes[3] &&
        !env->modes[4])
        env->modes[0] = true; /* LangGraph's default stream mode */
}

/* The input to score: the body's "input", or the stored lead's data when only lead_id is
 * given. Returns a new reference, or NULL after answering the request. */
static json_t *resolve_input(struct sa_req *r, json_t *body, const struct envelope *env,
                             json_t *detail)
{
    json_t *input = json_object_get(body, "input");
    if (input && !json_is_null(input))
        return json_incref(input);
    if (!env->lead_id) {
        sa_detail_add(detail, "body.input", "missing",
                      "Field required (the lead to process; or give lead_id of a stored lead)");
        return NULL;
    }
    json_t *data = NULL;
    struct sa_err err = {0};
    int rc = sa_app_lead_input(r->app->store, env->lead_id, &data, &err);
    if (rc == SA_ENOTFOUND)
        sa_reply_error(r, 404, "not_found", "body.lead_id", "not_found",
                       "No lead with id %s; send \"input\" to create it", env->lead_id);
    else if (rc)
        sa_reply_unavailable(r, rc, &err, "Reading the lead");
    return data;
}

static void sse_event(struct sa_buf *b, const char *event, json_t *data)
{
    char *text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(12));
    if (sa_buf_printf(b, "event: %s\ndata: %s\n\n", event, text ? text : "null") != 0)
        sa_log(SA_LOG_ERROR, "stream buffer full", NULL);
    free(text);
}

/* LangGraph's first event: the ids of the run, thread and lead. */
static void sse_metadata(struct sa_buf *b, json_t *response)
{
    json_t *meta = json_pack(
        "{s:O?, s:O?, s:O?}", "run_id", json_object_get(response, "execution_id"), "thread_id",
        json_object_get(response, "thread_id"), "lead_id", json_object_get(response, "lead_id"));
    sse_event(b, "metadata", meta);
    json_decref(meta);
}

/* Streaming answer in LangGraph's SSE shape: metadata, the requested modes, end. The
 * qualification agent is a single step, so each mode has one event. */
static void reply_stream(struct sa_req *r, const struct envelope *env, json_t *response)
{
    struct sa_buf b;
    sa_buf_init(&b, (size_t)8 << 20);
    sse_metadata(&b, response);
    const char *agent = json_string_value(json_object_get(response, "agent_type"));
    json_t *output = json_object_get(response, "output");
    if (env->modes[1]) {
        json_t *upd = json_pack("{s:O}", agent, output);
        sse_event(&b, "updates", upd);
        json_decref(upd);
    }
    if (env->modes[0])
        sse_event(&b, "values", response);
    if (env->modes[4]) {
        json_t *dbg = json_pack("{s:s, s:{s:s, s:O}}", "type", "task_result", "payload", "name",
                                agent, "result", output);
        sse_event(&b, "debug", dbg);
        json_decref(dbg);
    }
    sse_event(&b, "end", json_null());
    size_t len;
    char *text = sa_buf_steal(&b, &len);
    sa_reply_text(r, 200, "text/event-stream", text, len);
}

static const char *mode_name(enum graph_stream_mode mode)
{
    switch (mode) {
    case GRAPH_STREAM_VALUES: return "values";
    case GRAPH_STREAM_UPDATES: return "updates";
    case GRAPH_STREAM_CUSTOM: return "custom";
    case GRAPH_STREAM_MESSAGES: return "messages";
    case GRAPH_STREAM_DEBUG: return "debug";
    default: return "event";
    }
}

/* A graph event as an SSE event in the buffer (called on the run's thread). */
static void graph_event_to_sse(enum graph_stream_mode mode, const json_t *data, void *arg)
{
    json_t *d = json_deep_copy(data);
    if (mode == GRAPH_STREAM_VALUES)
        json_object_del(d, "lead_data"); /* the client sent it: do not echo it per step */
    sse_event(arg, mode_name(mode), d);
    json_decref(d);
}

/* The pipeline's SSE answer: metadata, the graph's events in order, the final response as
 * "values" when asked, then end. */
static void reply_graph_stream(struct sa_req *r, json_t *response, struct sa_buf *events)
{
    struct sa_buf b;
    sa_buf_init(&b, (size_t)16 << 20);
    sse_metadata(&b, response);
    if (sa_buf_append(&b, events->data ? events->data : "", events->len) != 0)
        sa_log(SA_LOG_ERROR, "stream buffer full", NULL);
    sse_event(&b, "result", response);
    sse_event(&b, "end", json_null());
    size_t len;
    char *text = sa_buf_steal(&b, &len);
    sa_reply_text(r, 200, "text/event-stream", text, len);
}

static void invoke(struct sa_req *r, bool force_stream);

void sa_route_invoke(struct sa_req *r)
{
    invoke(r, false);
}

/* The original's POST /api/langgraph/stream: invoke, always answered as SSE. */
void sa_route_stream(struct sa_req *r)
{
    invoke(r, true);
}

static void invoke(struct sa_req *r, bool force_stream)
{
    json_t *body = sa_req_json(r);
    if (!body)
        return;
    json_t *detail = json_array();
    json_t *input = NULL;
    struct sa_lead lead = {0};
    struct envelope env;
    parse_envelope(body, &env, detail);
    if (force_stream && !env.stream) {
        env.stream = true;
        env.modes[0] = env.modes[1] = env.modes[2] = true; /* values, updates, custom */
    }
    if (env.type >= 0 && env.type != SA_AGENT_PIPELINE &&
        !sa_agents_implemented(r->app->agents, (enum sa_agent_type)env.type) &&
        json_array_size(detail) == 0) {
        struct sa_invoke_req req = {.type = (enum sa_agent_type)env.type};
        struct sa_invoke_res res;
        struct sa_err err = {0};
        int rc = sa_app_invoke(r->app, &req, &res, &err); /* counts the attempt */
        (void)rc;
        char avail[160];
        sa_app_agents_available(r->app, avail, sizeof avail);
        sa_reply_error(r, 501, "not_implemented", "body.agent_type", "not_implemented",
                       "The %s agent is not available yet; available now: %s%spipeline",
                       sa_agent_type_name((enum sa_agent_type)env.type), avail,
                       avail[0] ? ", " : "");
        goto out;
    }
    if (json_array_size(detail) == 0)
        input = resolve_input(r, body, &env, detail);
    if (r->status) /* resolve_input answered (404/503) */
        goto out;
    if (input)
        (void)sa_app_invoke_input(r->app, env.type, input, "body.input", &lead, detail);
    if (json_array_size(detail) > 0 || env.type < 0) {
        sa_reply_problem(r, 422, "validation_error", json_incref(detail));
        goto out;
    }
    if (!sa_guard_agent(r, sa_agent_type_name((enum sa_agent_type)env.type)))
        goto out; /* 429: this principal's runs of this agent this hour are used up */
    struct sa_buf events; /* the pipeline's graph events, as SSE, while it runs */
    sa_buf_init(&events, (size_t)8 << 20);
    struct sa_invoke_req req = {.type = (enum sa_agent_type)env.type,
                                .lead = lead.raw ? &lead : NULL,
                                .input = lead.raw ? NULL : input,
                                .lead_id = env.lead_id,
                                .thread_id = env.thread_id};
    bool graph = sa_app_invoke_runs_graph(r->app, env.type);
    if (graph && env.stream) {
        req.stream_modes =
            (env.modes[0] ? GRAPH_STREAM_VALUES : 0) | (env.modes[1] ? GRAPH_STREAM_UPDATES : 0) |
            (env.modes[2] ? GRAPH_STREAM_CUSTOM : 0) | (env.modes[3] ? GRAPH_STREAM_MESSAGES : 0) |
            (env.modes[4] ? GRAPH_STREAM_DEBUG : 0);
        req.on_event = graph_event_to_sse;
        req.event_arg = &events;
    }
    struct sa_invoke_res res;
    struct sa_err err = {0};
    int rc = sa_app_invoke(r->app, &req, &res, &err);
    if (rc) {
        sa_buf_free(&events);
        if (rc == SA_ECONFLICT) /* the thread is busy, or another agent's */
            sa_reply_error(r, 409, "conflict", "body.thread_id", "thread_conflict", "%s", err.msg);
        else if (rc == SA_ESTORE)
            sa_reply_unavailable(r, rc, &err,
                                 "Saving the lead and its execution (nothing was written)");
        else
            sa_reply_failure(r, rc, &err, "body", "Running the agent");
        goto out;
    }
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    double latency = sa_ns_to_ms(sa_now_ns() - r->start_ns);
    /* a conversation turn writes no lead and no execution: lead_id is null */
    json_t *resp = json_pack(
        "{s:s, s:s, s:s, s:o, s:o, s:{s:f, s:f, s:s}, s:s}", "status", "success", "agent_type",
        req.type == SA_AGENT_PIPELINE ? "pipeline" : sa_agent_type_name(req.type), "thread_id",
        res.thread_id, "lead_id", res.lead_id[0] ? json_string(res.lead_id) : json_null(), "output",
        json_incref(res.output), "metadata", "latency_ms", latency, "processing_time_ms",
        res.processing_ms, "engine", res.engine, "timestamp", now);
    if (res.execution_id[0])
        json_object_set_new(resp, "execution_id", json_string(res.execution_id));
    if (res.action)
        json_object_set_new(resp, "action", json_string(res.action));
    sa_invoke_res_clear(&res);
    if (env.stream && graph) {
        reply_graph_stream(r, resp, &events);
        json_decref(resp);
    } else if (env.stream) {
        reply_stream(r, &env, resp);
        json_decref(resp);
    } else {
        sa_reply_json(r, 200, resp);
    }
    sa_buf_free(&events);
out:
    sa_lead_clear(&lead);
    json_decref(input);
    json_decref(detail);
    json_decref(body);
}

void sa_route_agents_status(struct sa_req *r)
{
    sa_reply_json(r, 200, sa_agents_status(r->app->agents));
}

/* The {agent_type} of the path, or -1 after answering 404. */
static int path_agent_type(struct sa_req *r)
{
    int t = sa_agent_type_parse(r->params[0]);
    if (t < 0)
        sa_reply_error(r, 404, "not_found", "path.agent_type", "enum",
                       "Unknown agent type \"%.*s\"; expected one of: %s",
                       sa_utf8_cut(r->params[0], 60), r->params[0], sa_agent_type_names());
    return t;
}

void sa_route_agent_reset(struct sa_req *r)
{
    int t = path_agent_type(r);
    if (t < 0)
        return;
    sa_agents_reset(r->app->agents, (enum sa_agent_type)t);
    sa_reply_json(r, 200,
                  json_pack("{s:s, s:s, s:o}", "status", "reset", "agent_type",
                            sa_agent_type_name((enum sa_agent_type)t), "agent",
                            sa_agents_status_one(r->app->agents, (enum sa_agent_type)t)));
}

/* GET /api/agents/{agent_type}/schema: the agent's input and output JSON Schemas. */
void sa_route_agent_schema(struct sa_req *r)
{
    int t = path_agent_type(r);
    if (t < 0)
        return;
    sa_reply_json(r, 200, sa_agent_schemas(sa_agents_get(r->app->agents, (enum sa_agent_type)t)));
}
