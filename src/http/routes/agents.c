/* The seed's agent endpoints: POST /api/langgraph/invoke, GET /api/agents/status and
 * POST /api/agents/{agent_type}/reset. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agent.h"
#include "app/app.h"
#include "app/drafts.h"
#include "app/invoke.h"
#include "app/leads.h"
#include "base/buf.h"
#include "base/detail.h"
#include "base/json.h"
#include "base/log.h"
#include "base/thread.h"
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

/* The answer to an invoke (its body, or the stream's "result" event). */
static json_t *invoke_response(const struct sa_invoke_req *req, const struct sa_invoke_res *res,
                               uint64_t start_ns)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    double latency = sa_ns_to_ms(sa_now_ns() - start_ns);
    /* a conversation turn writes no lead and no execution: lead_id is null */
    json_t *resp = json_pack(
        "{s:s, s:s, s:s, s:o, s:O, s:{s:f, s:f, s:s}, s:s}", "status", "success", "agent_type",
        req->type == SA_AGENT_PIPELINE ? "pipeline" : sa_agent_type_name(req->type), "thread_id",
        res->thread_id, "lead_id", res->lead_id[0] ? json_string(res->lead_id) : json_null(),
        "output", res->output, "metadata", "latency_ms", latency, "processing_time_ms",
        res->processing_ms, "engine", res->engine, "timestamp", now);
    if (resp && res->execution_id[0])
        json_object_set_new(resp, "execution_id", json_string(res->execution_id));
    if (resp && res->action)
        json_object_set_new(resp, "action", json_string(res->action));
    return resp;
}

static void reply_invoke_failure(struct sa_req *r, const struct sa_invoke_req *req, int rc,
                                 const struct sa_err *err)
{
    if (rc == SA_ECONFLICT && req->one_draft && req->one_draft->kind[0]) /* app/drafts.h */
        sa_reply_problem(
            r, 409, "conflict",
            sa_draft_conflict_detail(req->one_draft, req->lead_id, "body.lead_id", err->msg));
    else if (rc == SA_ECONFLICT) /* the thread is busy, or another agent's */
        sa_reply_error(r, 409, "conflict", "body.thread_id", "thread_conflict", "%s", err->msg);
    else if (rc == SA_ESTORE)
        sa_reply_unavailable(r, rc, err, "Saving the lead and its execution (nothing was written)");
    else
        sa_reply_failure(r, rc, err, "body", "Running the agent");
}

/* ---- a streamed invoke of the graph, relayed while it runs ----
 * The run goes on a thread of its own; the request waits for its first event (or its end)
 * and then answers with a parked stream the run's events are appended to, so a model's
 * tokens reach the client as they come. A run that fails before any event (a busy thread:
 * 409; the store: 503) is answered as an unstreamed invoke is; one that fails later ends
 * its stream with an "error" event. A client that leaves does not stop the run (it is
 * recorded as an unstreamed invoke is); the server's stop waits for it (sa_req_try_hold). */
struct live {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* the request waits on it for the first event or the end */
    int refs;            /* the worker's, and the request's (then its stream's) */
    struct sa_buf out;   /* SSE the stream has not read yet, from out.data + sent */
    size_t sent;
    bool first;                    /* an event came: metadata and it are in out */
    bool finished;                 /* the run is over: out is complete */
    bool gone;                     /* the stream ended (its client left): nothing is kept */
    struct sa_stream_waker *waker; /* while the stream is parked on us; NULL after done */
    struct sa_app *app;
    struct sa_http_server *srv;
    uint64_t start_ns;
    char request_id[64];
    struct envelope env; /* its thread_id points into body */
    json_t *body, *input;
    struct sa_lead lead;
    struct sa_invoke_req req;
    char run_id[SA_UUID_LEN], thread_id[SA_THREAD_ID_MAX + 1], lead_id[SA_UUID_LEN];
    int rc; /* when finished with no event: what the request answers */
    struct sa_err err;
    json_t *response;
    struct sa_draft_blocker blocker; /* req.one_draft's */
};

static void live_unref(struct live *l)
{
    pthread_mutex_lock(&l->lock);
    bool last = --l->refs == 0;
    pthread_mutex_unlock(&l->lock);
    if (!last)
        return;
    sa_buf_free(&l->out);
    json_decref(l->response);
    json_decref(l->input);
    json_decref(l->body);
    sa_lead_clear(&l->lead);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

/* Lock held: the stream has more to read. */
static void live_more(struct live *l)
{
    pthread_cond_broadcast(&l->cond);
    if (l->waker)
        sa_stream_wake(l->waker);
}

/* The run's ids, known before it starts (run thread). */
static void live_ids(const struct sa_invoke_res *res, void *arg)
{
    struct live *l = arg;
    pthread_mutex_lock(&l->lock);
    memcpy(l->run_id, res->execution_id, sizeof l->run_id);
    memcpy(l->thread_id, res->thread_id, sizeof l->thread_id);
    /* a lead created by this invoke may turn out to be another invoke's that created the
     * same contact meanwhile (app/invoke.c): its id is only in the result */
    if (!l->req.lead_id && res->action && strcmp(res->action, "created") == 0)
        l->lead_id[0] = '\0';
    else
        memcpy(l->lead_id, res->lead_id, sizeof l->lead_id);
    pthread_mutex_unlock(&l->lock);
}

/* Lock held: LangGraph's first event, before the run's first. */
static void live_metadata(struct live *l)
{
    json_t *meta = json_pack("{s:s, s:s, s:s?}", "run_id", l->run_id, "thread_id", l->thread_id,
                             "lead_id", l->lead_id[0] ? l->lead_id : NULL);
    sse_event(&l->out, "metadata", meta);
    json_decref(meta);
}

/* A graph event (run thread). */
static void live_event(enum graph_stream_mode mode, const json_t *data, void *arg)
{
    struct live *l = arg;
    json_t *d = json_deep_copy(data);
    if (mode == GRAPH_STREAM_VALUES)
        json_object_del(d, "lead_data"); /* the client sent it: do not echo it per step */
    pthread_mutex_lock(&l->lock);
    if (!l->first)
        live_metadata(l);
    l->first = true;
    if (!l->gone)
        sse_event(&l->out, mode_name(mode), d);
    live_more(l);
    pthread_mutex_unlock(&l->lock);
    json_decref(d);
}

/* What a stream's client reads about a run that failed after its first event: what an
 * unstreamed invoke's problem body would say (reply_invoke_failure), never a backend's or
 * the engine's own text (that is logged). */
static json_t *live_error(const struct live *l)
{
    char text[320];
    if (l->rc == SA_ECONFLICT || l->rc == SA_ENOTFOUND || l->rc == SA_EPRECONDITION)
        snprintf(text, sizeof text, "%s", l->err.msg[0] ? l->err.msg : sa_strerror(l->rc));
    else if (l->rc == SA_ESTORE)
        snprintf(text, sizeof text,
                 "Saving the lead and its execution failed: the database is unavailable; "
                 "nothing was written. Try again (request %s).",
                 l->request_id);
    else
        snprintf(text, sizeof text, "Running the agent failed: %s (request %s)", sa_strerror(l->rc),
                 l->request_id);
    return json_pack("{s:s, s:s}", "error", sa_errname(l->rc), "message", text);
}

static void *live_main(void *arg)
{
    struct live *l = arg;
    struct sa_invoke_res res;
    struct sa_err err = {0};
    int rc = sa_app_invoke(l->app, &l->req, &res, &err);
    json_t *resp = rc ? NULL : invoke_response(&l->req, &res, l->start_ns);
    if (!rc && !resp)
        rc = sa_err_set(&err, SA_ENOMEM, "out of memory");
    sa_invoke_res_clear(&res);
    if (rc)
        sa_log(SA_LOG_ERROR, "streamed invoke failed",
               json_pack("{s:s, s:s, s:s}", "error_code", sa_errname(rc), "error", err.msg,
                         "request_id", l->request_id));
    pthread_mutex_lock(&l->lock);
    l->rc = rc;
    l->err = err;
    if (l->first && !l->gone) {
        if (rc) {
            json_t *e = live_error(l);
            sse_event(&l->out, "error", e);
            json_decref(e);
        } else {
            sse_event(&l->out, "result", resp);
        }
        sse_event(&l->out, "end", json_null());
        json_decref(resp);
    } else if (!l->first) {
        l->response = resp; /* the request answers it */
    } else {
        json_decref(resp);
    }
    l->finished = true;
    live_more(l);
    pthread_mutex_unlock(&l->lock);
    struct sa_http_server *srv = l->srv;
    live_unref(l);
    sa_http_release(srv);
    return NULL;
}

static long live_read(void *cls, char *buf, size_t max, struct sa_stream_waker *waker)
{
    struct live *l = cls;
    pthread_mutex_lock(&l->lock);
    long n;
    if (l->sent < l->out.len) {
        size_t k = l->out.len - l->sent < max ? l->out.len - l->sent : max;
        memcpy(buf, l->out.data + l->sent, k);
        l->sent += k;
        if (l->sent == l->out.len) {
            sa_buf_reset(&l->out);
            l->sent = 0;
        } else if (l->sent > l->out.len / 2) { /* a slow reader: keep only what is unread */
            memmove(l->out.data, l->out.data + l->sent, l->out.len - l->sent + 1);
            l->out.len -= l->sent;
            l->sent = 0;
        }
        n = (long)k;
    } else if (l->finished) {
        n = -1;
    } else {
        l->waker = waker; /* live_more wakes it */
        n = SA_STREAM_PARKED;
    }
    pthread_mutex_unlock(&l->lock);
    return n;
}

static void live_done(void *cls)
{
    struct live *l = cls;
    pthread_mutex_lock(&l->lock);
    l->waker = NULL;
    l->gone = true;
    sa_buf_free(&l->out);
    l->sent = 0;
    pthread_mutex_unlock(&l->lock);
    live_unref(l);
}

/* Starts the streamed invoke of l->req and answers the request; takes l. */
static void live_invoke(struct sa_req *r, struct live *l)
{
    l->refs = 2;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->cond, NULL);
    sa_buf_init(&l->out, (size_t)8 << 20);
    l->app = r->app;
    l->srv = r->srv;
    l->start_ns = r->start_ns;
    snprintf(l->request_id, sizeof l->request_id, "%s", r->request_id);
    if (l->env.lead_id)
        l->env.lead_id = l->env.lead_id_buf;
    l->req.lead_id = l->env.lead_id;
    l->req.thread_id = l->env.thread_id;
    l->req.lead = l->lead.raw ? &l->lead : NULL;
    if (l->req.one_draft)
        l->req.one_draft = &l->blocker;
    l->req.on_event = live_event;
    l->req.on_ids = live_ids;
    l->req.event_arg = l;
    /* at most THREADS live runs (with the Agent Server API's runs), as when each ran on an
     * HTTP thread; past them 503 at once: waiting here would keep the HTTP thread, so a
     * burst would stall every route and start runs whose clients gave up */
    if (!sa_req_try_hold(r, r->app->cfg.threads)) {
        l->refs = 1;
        live_unref(l);
        sa_reply_header(r, "Retry-After", "2");
        sa_reply_error(r, 503, "service_unavailable", "", "overloaded",
                       "The server runs %d streamed runs already; try again in 2 s",
                       r->app->cfg.threads);
        return;
    }
    int prc = sa_thread_detached(live_main, l);
    if (prc != 0) {
        sa_http_release(r->srv);
        l->refs = 1;
        live_unref(l);
        sa_reply_error(r, 503, "service_unavailable", "", "overloaded",
                       "Cannot start the run now (no thread); try again");
        return;
    }
    pthread_mutex_lock(&l->lock);
    while (!l->first && !l->finished)
        pthread_cond_wait(&l->cond, &l->lock);
    bool events = l->first;
    pthread_mutex_unlock(&l->lock);
    if (events) {
        sa_reply_parked_stream(r, "text/event-stream", live_read, l, live_done);
        return;
    }
    /* over before any event: answered as an unstreamed invoke's failure, or its result
     * as the one-shot stream the graph would have sent */
    if (l->rc) {
        reply_invoke_failure(r, &l->req, l->rc, &l->err);
    } else {
        json_t *resp = l->response;
        struct sa_buf b;
        sa_buf_init(&b, (size_t)8 << 20);
        sse_metadata(&b, resp);
        sse_event(&b, "result", resp);
        sse_event(&b, "end", json_null());
        size_t len;
        char *text = sa_buf_steal(&b, &len);
        sa_reply_text(r, 200, "text/event-stream", text, len);
    }
    live_unref(l);
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
    /* a stored lead named by lead_id gets one outreach draft at a time (app/drafts.h) */
    struct sa_draft_blocker blocker = {0};
    struct sa_invoke_req req = {.type = (enum sa_agent_type)env.type,
                                .lead = lead.raw ? &lead : NULL,
                                .input = lead.raw ? NULL : input,
                                .lead_id = env.lead_id,
                                .thread_id = env.thread_id,
                                .one_draft = env.lead_id ? &blocker : NULL};
    if (env.stream && sa_app_invoke_runs_graph(r->app, env.type)) {
        struct live *l = calloc(1, sizeof *l);
        if (!l) {
            sa_reply_error(r, 503, "service_unavailable", "", "overloaded", "out of memory");
            goto out;
        }
        req.stream_modes =
            (env.modes[0] ? GRAPH_STREAM_VALUES : 0) | (env.modes[1] ? GRAPH_STREAM_UPDATES : 0) |
            (env.modes[2] ? GRAPH_STREAM_CUSTOM : 0) | (env.modes[3] ? GRAPH_STREAM_MESSAGES : 0) |
            (env.modes[4] ? GRAPH_STREAM_DEBUG : 0);
        /* the run outlives this handler: it owns what the request points into */
        l->req = req;
        l->env = env;
        l->body = json_incref(body);
        l->input = json_incref(input);
        l->lead = lead;
        lead = (struct sa_lead){0};
        live_invoke(r, l);
        goto out;
    }
    struct sa_invoke_res res;
    struct sa_err err = {0};
    int rc = sa_app_invoke(r->app, &req, &res, &err);
    if (rc) {
        reply_invoke_failure(r, &req, rc, &err);
        goto out;
    }
    json_t *resp = invoke_response(&req, &res, r->start_ns);
    sa_invoke_res_clear(&res);
    if (!resp)
        sa_reply_error(r, 503, "service_unavailable", "", "overloaded", "out of memory");
    else if (env.stream)
        reply_stream(r, &env, resp);
    else
        sa_reply_json(r, 200, json_incref(resp));
    json_decref(resp);
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
/* GET /api/agents/{agent_type}/graph (issue 16): the graph invoking it runs, as the
 * engine describes it (LangGraph's getGraph JSON); "pipeline" is an agent type here. */
void sa_route_agent_graph(struct sa_req *r)
{
    int t = strcmp(r->params[0], "pipeline") == 0 ? SA_AGENT_PIPELINE
                                                  : sa_agent_type_parse(r->params[0]);
    if (t < 0) {
        sa_reply_error(r, 404, "not_found", "path.agent_type", "enum",
                       "Unknown agent type \"%.*s\"; expected pipeline or one of: %s",
                       sa_utf8_cut(r->params[0], 60), r->params[0], sa_agent_type_names());
        return;
    }
    json_t *g = NULL;
    struct sa_err err = {0};
    int rc = sa_app_agent_graph(r->app, t, &g, &err);
    if (rc)
        sa_reply_failure(r, rc, &err, "path.agent_type", "Describing the graph");
    else
        sa_reply_json(r, 200, g);
}

void sa_route_agent_schema(struct sa_req *r)
{
    int t = path_agent_type(r);
    if (t < 0)
        return;
    sa_reply_json(r, 200, sa_agent_schemas(sa_agents_get(r->app->agents, (enum sa_agent_type)t)));
}
