/* The LangGraph Agent Server API subset (issue 16): /assistants, /threads and /runs as
 * the official @langchain/langgraph-sdk and Agent Inbox call them, over the service in
 * app/agentserver.h. Streams, waits and joins answer with parked streams, so a client
 * waiting on a run holds no HTTP thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agent.h"
#include "app/agentserver.h"
#include "app/app.h"
#include "app/invoke.h"
#include "base/detail.h"
#include "base/json.h"
#include "base/uuid.h"
#include "http/guard.h"
#include "http/http.h"
#include "http/params.h"

/* GET /info: what Agent Inbox asks first (without credentials) to check the URL is a
 * deployment: the flags of what this server offers. */
void sa_route_as_info(struct sa_req *r)
{
    sa_reply_json(r, 200,
                  json_pack("{s:s, s:{s:b, s:b, s:b}, s:{s:s, s:n, s:s, s:n}}", "version",
                            SA_VERSION, "flags", "assistants", 1, "crons", 0, "langsmith", 0,
                            "host", "kind", "self-hosted", "project_id", "revision_id", SA_VERSION,
                            "tenant_id"));
}

/* ---- assistants -------------------------------------------------------------------- */

/* POST /assistants/search {graph_id?, name?, limit?, offset?, metadata?}. */
void sa_route_as_assistants_search(struct sa_req *r)
{
    json_t *body = sa_req_json(r);
    if (!body)
        return;
    json_t *detail = json_array();
    const json_t *gid = json_object_get(body, "graph_id");
    const json_t *name = json_object_get(body, "name");
    const json_t *lim = json_object_get(body, "limit");
    const json_t *off = json_object_get(body, "offset");
    if (gid && !json_is_null(gid) && !json_is_string(gid))
        sa_detail_add(detail, "body.graph_id", "string_type", "Input should be a valid string");
    if (name && !json_is_null(name) && !json_is_string(name))
        sa_detail_add(detail, "body.name", "string_type", "Input should be a valid string");
    if (lim && !json_is_null(lim) &&
        (!json_is_integer(lim) || json_integer_value(lim) < 1 || json_integer_value(lim) > 1000))
        sa_detail_add(detail, "body.limit", "int_type", "Input should be an integer 1-1000");
    if (off && !json_is_null(off) && (!json_is_integer(off) || json_integer_value(off) < 0))
        sa_detail_add(detail, "body.offset", "int_type", "Input should be an integer >= 0");
    if (json_array_size(detail)) {
        sa_reply_problem(r, 422, "validation_error", detail);
        json_decref(body);
        return;
    }
    json_decref(detail);
    json_int_t limit = json_is_integer(lim) ? json_integer_value(lim) : 10;
    json_int_t offset = json_is_integer(off) ? json_integer_value(off) : 0;
    json_t *all = sa_as_assistants(r->app), *out = json_array();
    size_t i, matched = 0;
    json_t *a;
    json_array_foreach(all, i, a)
    {
        if (json_is_string(gid) && strcmp(json_string_value(gid), sa_json_str(a, "graph_id")) != 0)
            continue;
        if (json_is_string(name) && !strstr(sa_json_str(a, "name"), json_string_value(name)))
            continue;
        if ((json_int_t)matched++ >= offset && (json_int_t)json_array_size(out) < limit)
            json_array_append(out, a);
    }
    if ((json_int_t)matched > offset + limit)
        sa_reply_header(r, "X-Pagination-Next", "%lld", (long long)(offset + limit));
    sa_reply_header(r, "X-Pagination-Total", "%zu", matched);
    json_decref(all);
    json_decref(body);
    sa_reply_json(r, 200, out);
}

void sa_route_as_assistant_get(struct sa_req *r)
{
    json_t *a = sa_as_assistant(r->app, r->params[0]);
    if (!a)
        sa_reply_error(r, 404, "not_found", "path.assistant_id", "not_found",
                       "Assistant %.60s not found", r->params[0]);
    else
        sa_reply_json(r, 200, a);
}

/* GET /assistants/{id}/graph: assistants.getGraph, the graph the assistant runs as GET
 * /api/agents/{type}/graph describes it (xray is not supported: subgraphs stay nodes). */
void sa_route_as_assistant_graph(struct sa_req *r)
{
    json_t *a = sa_as_assistant(r->app, r->params[0]);
    if (!a) {
        sa_reply_error(r, 404, "not_found", "path.assistant_id", "not_found",
                       "Assistant %.60s not found", r->params[0]);
        return;
    }
    json_decref(a);
    int t = strcmp(r->params[0], "pipeline") == 0 ? SA_AGENT_PIPELINE
                                                  : sa_agent_type_parse(r->params[0]);
    json_t *g = NULL;
    struct sa_err err = {0};
    int rc = sa_app_agent_graph(r->app, t, &g, &err);
    if (rc)
        sa_reply_failure(r, rc, &err, "path.assistant_id", "Describing the graph");
    else
        sa_reply_json(r, 200, g);
}

/* ---- threads ----------------------------------------------------------------------- */

static void reply_service(struct sa_req *r, int rc, const struct sa_err *err, json_t *detail,
                          const char *loc, const char *what)
{
    if (rc == SA_EINVAL && json_array_size(detail))
        sa_reply_problem(r, 422, "validation_error", json_incref(detail));
    else if (rc == SA_ECONFLICT)
        sa_reply_error(r, 409, "conflict", loc, "conflict", "%s", err->msg);
    else
        sa_reply_failure(r, rc, err, loc, what);
}

void sa_route_as_threads_create(struct sa_req *r)
{
    json_t *body = sa_req_json(r);
    if (!body)
        return;
    json_t *detail = json_array(), *out = NULL;
    const char *tid = NULL;
    sa_body_thread_id(body, &tid, detail);
    struct sa_err err = {0};
    int rc = json_array_size(detail) ? SA_EINVAL
                                     : sa_as_thread_create(r->app, tid, body, detail, &out, &err);
    if (rc)
        reply_service(r, rc, &err, detail, "body.thread_id", "Creating the thread");
    else
        sa_reply_json(r, 200, out);
    json_decref(detail);
    json_decref(body);
}

void sa_route_as_threads_search(struct sa_req *r)
{
    json_t *body = sa_req_json(r);
    if (!body)
        return;
    json_t *detail = json_array(), *out = NULL;
    struct sa_err err = {0};
    int rc = sa_as_thread_search(r->app, body, detail, &out, &err);
    if (rc)
        reply_service(r, rc, &err, detail, "body", "Searching the threads");
    else
        sa_reply_json(r, 200, out);
    json_decref(detail);
    json_decref(body);
}

void sa_route_as_thread_get(struct sa_req *r)
{
    if (!sa_param_thread_id(r, 0))
        return;
    json_t *out = NULL;
    struct sa_err err = {0};
    int rc = sa_as_thread_get(r->app, r->params[0], &out, &err);
    if (rc)
        sa_reply_failure(r, rc, &err, "path.thread_id", "Reading the thread");
    else
        sa_reply_json(r, 200, out);
}

void sa_route_as_thread_state(struct sa_req *r)
{
    if (!sa_param_thread_id(r, 0))
        return;
    json_t *out = NULL;
    struct sa_err err = {0};
    int rc = sa_as_thread_state(r->app, r->params[0], &out, &err);
    if (rc)
        sa_reply_failure(r, rc, &err, "path.thread_id", "Reading the thread's state");
    else
        sa_reply_json(r, 200, out);
}

static void reply_state_at(struct sa_req *r, const char *checkpoint_id)
{
    json_t *out = NULL;
    struct sa_err err = {0};
    int rc = sa_as_thread_state_at(r->app, r->params[0], checkpoint_id, &out, &err);
    if (rc)
        sa_reply_failure(r, rc, &err, "path.checkpoint_id", "Reading the thread's state");
    else
        sa_reply_json(r, 200, out);
}

/* GET /threads/{id}/state/{checkpoint_id}: threads.getState with a checkpoint id. */
void sa_route_as_thread_state_at(struct sa_req *r)
{
    if (!sa_param_thread_id(r, 0))
        return;
    if (strlen(r->params[1]) > 64) {
        sa_reply_error(r, 422, "validation_error", "path.checkpoint_id", "string_too_long",
                       "checkpoint_id should be at most 64 characters");
        return;
    }
    reply_state_at(r, r->params[1]);
}

/* POST /threads/{id}/state/checkpoint {checkpoint: {checkpoint_id}}: threads.getState with
 * a checkpoint object (its checkpoint_ns must be the root's, ""). */
void sa_route_as_thread_state_checkpoint(struct sa_req *r)
{
    if (!sa_param_thread_id(r, 0))
        return;
    json_t *body = sa_req_json(r);
    if (!body)
        return;
    const json_t *cp = json_object_get(body, "checkpoint");
    const json_t *id = json_object_get(cp, "checkpoint_id");
    const json_t *ns = json_object_get(cp, "checkpoint_ns");
    if (!json_is_object(cp))
        sa_reply_error(r, 422, "validation_error", "body.checkpoint", "dict_type",
                       "Input should be an object {checkpoint_id}");
    else if (!json_is_string(id) || json_string_length(id) == 0 || json_string_length(id) > 64)
        sa_reply_error(r, 422, "validation_error", "body.checkpoint.checkpoint_id", "string_type",
                       "checkpoint_id should be a string of 1 to 64 characters");
    else if (ns && !json_is_null(ns) && !(json_is_string(ns) && json_string_length(ns) == 0))
        sa_reply_error(r, 422, "validation_error", "body.checkpoint.checkpoint_ns", "not_supported",
                       "Only the root namespace (\"\") is supported");
    else
        reply_state_at(r, json_string_value(id));
    json_decref(body);
}

/* Writing a pipeline thread's state can stand in for its human approval (the approval
 * step reads the decision from the state), so it needs the approve scope there. */
void sa_route_as_thread_state_update(struct sa_req *r)
{
    if (!sa_param_thread_id(r, 0))
        return;
    json_t *body = sa_req_json(r);
    if (!body)
        return;
    json_t *detail = json_array(), *out = NULL;
    struct sa_err err = {0};
    if (sa_as_thread_guarded(r->app, r->params[0]) &&
        !sa_scopes_allow(r->principal.scopes, SA_SCOPE_APPROVE)) {
        sa_reply_error(r, 403, "forbidden", "header.authorization", "missing_scope",
                       "Writing a pipeline thread's state can decide its approval: it needs the "
                       "'approve' scope");
    } else {
        int rc = sa_as_thread_update(r->app, r->params[0], body, detail, &out, &err);
        if (rc)
            reply_service(r, rc, &err, detail, "path.thread_id", "Updating the thread's state");
        else
            sa_reply_json(r, 200, out);
    }
    json_decref(detail);
    json_decref(body);
}

static void history(struct sa_req *r, long limit)
{
    json_t *out = NULL;
    struct sa_err err = {0};
    int rc = sa_as_thread_history(r->app, r->params[0], (int)limit, &out, &err);
    if (rc)
        sa_reply_failure(r, rc, &err, "path.thread_id", "Reading the thread's history");
    else
        sa_reply_json(r, 200, out);
}

/* A path's thread id and the ?limit= (1-1000, default 10) of a GET list; false when
 * either was refused (the answer is sent). */
static bool thread_and_limit(struct sa_req *r, long *limit)
{
    if (!sa_param_thread_id(r, 0))
        return false;
    json_t *detail = json_array();
    sa_query_long(r, "limit", 1, 1000, 10, limit, detail);
    if (json_array_size(detail)) {
        sa_reply_problem(r, 422, "validation_error", detail);
        return false;
    }
    json_decref(detail);
    return true;
}

void sa_route_as_thread_history_get(struct sa_req *r)
{
    long limit;
    if (!thread_and_limit(r, &limit))
        return;
    history(r, limit);
}

/* POST /threads/{id}/history {limit?, before?, metadata?, checkpoint?}: only limit is
 * honoured; the filters are refused rather than ignored. */
void sa_route_as_thread_history_post(struct sa_req *r)
{
    if (!sa_param_thread_id(r, 0))
        return;
    json_t *body = sa_req_json(r);
    if (!body)
        return;
    json_t *detail = json_array();
    const json_t *lim = json_object_get(body, "limit");
    long limit = 10;
    if (lim && !json_is_null(lim)) {
        if (!json_is_integer(lim) || json_integer_value(lim) < 1 || json_integer_value(lim) > 1000)
            sa_detail_add(detail, "body.limit", "int_type", "Input should be an integer 1-1000");
        else
            limit = (long)json_integer_value(lim);
    }
    static const char *const filters[] = {"before", "metadata", "checkpoint", NULL};
    for (int i = 0; filters[i]; i++) {
        const json_t *v = json_object_get(body, filters[i]);
        if (v && !json_is_null(v) && !(json_is_object(v) && json_object_size(v) == 0)) {
            char loc[32];
            snprintf(loc, sizeof loc, "body.%s", filters[i]);
            sa_detail_add(detail, loc, "not_supported", "Filtering by %s is not supported",
                          filters[i]);
        }
    }
    json_decref(body);
    if (json_array_size(detail)) {
        sa_reply_problem(r, 422, "validation_error", detail);
        return;
    }
    json_decref(detail);
    history(r, limit);
}

/* ---- runs -------------------------------------------------------------------------- */

enum run_answer { ANSWER_RUN, ANSWER_STREAM, ANSWER_WAIT };

/* Retry-After of a run refused because THREADS runs are going */
#define AS_RETRY_AFTER_S 2

static void release(void *srv)
{
    sa_http_release(srv);
}

static void wake(void *waker)
{
    sa_stream_wake(waker);
}

static long reader_read(void *cls, char *buf, size_t max, struct sa_stream_waker *waker)
{
    ssize_t n = sa_as_reader_read(cls, buf, max, wake, waker);
    return n == SA_AS_PARKED ? SA_STREAM_PARKED : (long)n;
}

static void reader_done(void *cls)
{
    sa_as_reader_free(cls);
}

/* Answers with a parked stream of the run's events (or, WAIT, its final values). */
static void reply_reader(struct sa_req *r, const char *thread_id, const char *run_id,
                         enum sa_as_read kind, bool cancels)
{
    struct sa_as_reader *rd = sa_as_reader_open(r->app, thread_id, run_id, kind);
    if (!rd) {
        sa_reply_error(r, 404, "not_found", "path.run_id", "not_found", "Run %.60s not found",
                       run_id);
        return;
    }
    if (cancels)
        sa_as_reader_cancel_on_close(rd);
    sa_reply_parked_stream(r, kind == SA_AS_READ_EVENTS ? "text/event-stream" : "application/json",
                           reader_read, rd, reader_done);
}

static void start_run(struct sa_req *r, const char *thread_id, enum run_answer answer)
{
    if (thread_id && strchr(thread_id, '|')) { /* a subgraph's namespace is read-only */
        sa_reply_error(r, 422, "validation_error", "path.thread_id", "string_pattern_mismatch",
                       "A run's thread_id should be %s (a subgraph's namespace is read-only)",
                       SA_THREAD_ID_RULE);
        return;
    }
    json_t *body = sa_req_json(r);
    if (!body)
        return;
    /* a resume answers an interrupt, which only the approval has: the scope is checked
     * first, so a key without it learns nothing of the thread or its approval */
    const json_t *resume = json_object_get(json_object_get(body, "command"), "resume");
    if (resume && !json_is_null(resume) &&
        !sa_scopes_allow(r->principal.scopes, SA_SCOPE_APPROVE)) {
        json_decref(body);
        sa_reply_error(r, 403, "forbidden", "header.authorization", "missing_scope",
                       "Resuming a thread answers its approval (the outreach is sent): it "
                       "needs the 'approve' scope");
        return;
    }
    json_t *detail = json_array();
    struct sa_as_start st;
    const char *loc = "body";
    struct sa_err err = {0};
    /* the principal answers an approval the run resumes: its name, else its id */
    const char *who = r->principal.name[0] ? r->principal.name : r->principal.id;
    int rc =
        sa_as_run_prepare(r->app, thread_id, body, who[0] ? who : NULL, detail, &st, &loc, &err);
    json_decref(body);
    if (rc) {
        reply_service(r, rc, &err, detail, loc, "Starting the run");
        json_decref(detail);
        return;
    }
    json_decref(detail);
    if (answer == ANSWER_RUN && st.cancel_on_disconnect) {
        sa_as_run_discard(&st);
        sa_reply_error(r, 422, "validation_error", "body.on_disconnect", "not_supported",
                       "on_disconnect 'cancel' needs a client connection to watch: use it with "
                       "runs.stream or runs.wait (a background run always continues)");
        return;
    }
    if (st.answers_approval && !sa_scopes_allow(r->principal.scopes, SA_SCOPE_APPROVE)) {
        sa_as_run_discard(&st);
        sa_reply_error(r, 403, "forbidden", "header.authorization", "missing_scope",
                       "Resuming this thread answers its approval (the outreach is sent): it "
                       "needs the 'approve' scope");
        return;
    }
    /* the run uses the app to its end, also after its client left: the server's stop
     * waits for it. At most THREADS at once, as the live invoke; past them the answer is
     * 503 at once: waiting for a hold here would keep an HTTP thread (a burst of runs
     * would stall every route) and could start the run after its client gave up. */
    if (!sa_req_try_hold(r, r->app->cfg.threads)) {
        sa_as_run_discard(&st);
        sa_reply_header(r, "Retry-After", "%d", AS_RETRY_AFTER_S);
        sa_reply_error(r, 503, "service_unavailable", "", "overloaded",
                       "The server runs %d runs already; try again in %d s", r->app->cfg.threads,
                       AS_RETRY_AFTER_S);
        return;
    }
    if (!sa_guard_agent(r, st.assistant_id)) { /* 429: this agent's runs this hour */
        sa_as_run_discard(&st);
        sa_http_release(r->srv);
        return;
    }
    char run_id[SA_UUID_LEN], tid[SA_THREAD_ID_MAX + 1];
    bool st_cancels = st.cancel_on_disconnect; /* st.run is the service's once started */
    snprintf(run_id, sizeof run_id, "%s", st.run_id);
    snprintf(tid, sizeof tid, "%s", st.thread_id);
    /* the audit log records a run that answers an approval (as POST /api/approvals/{id}
     * does), not every run */
    if (st.answers_approval)
        r->audit_detail = json_pack("{s:s, s:s, s:s?, s:s}", "target", st.approval_id, "thread_id",
                                    tid, "type", st.decision, "run_id", run_id);
    else
        r->no_audit = true;
    if ((rc = sa_as_run_start(r->app, &st, release, r->srv, &err))) {
        reply_service(r, rc, &err, NULL, "path.thread_id", "Starting the run");
        return;
    }
    if (thread_id)
        sa_reply_header(r, "Content-Location", "/threads/%s/runs/%s", tid, run_id);
    else
        sa_reply_header(r, "Content-Location", "/runs/%s", run_id);
    if (answer == ANSWER_RUN) {
        json_t *run = NULL;
        if (sa_as_run_get(r->app, NULL, run_id, &run, &err))
            sa_reply_failure(r, SA_EINTERNAL, &err, "path.run_id", "Reading the run");
        else
            sa_reply_json(r, 200, run);
        return;
    }
    /* a client that leaves the stream or wait cancels the run when it asked so */
    reply_reader(r, NULL, run_id, answer == ANSWER_WAIT ? SA_AS_READ_WAIT : SA_AS_READ_EVENTS,
                 st_cancels);
}

void sa_route_as_runs_create(struct sa_req *r)
{
    if (sa_param_thread_id(r, 0))
        start_run(r, r->params[0], ANSWER_RUN);
}

void sa_route_as_runs_stream(struct sa_req *r)
{
    if (sa_param_thread_id(r, 0))
        start_run(r, r->params[0], ANSWER_STREAM);
}

void sa_route_as_runs_wait(struct sa_req *r)
{
    if (sa_param_thread_id(r, 0))
        start_run(r, r->params[0], ANSWER_WAIT);
}

void sa_route_as_stateless_create(struct sa_req *r)
{
    start_run(r, NULL, ANSWER_RUN);
}

void sa_route_as_stateless_stream(struct sa_req *r)
{
    start_run(r, NULL, ANSWER_STREAM);
}

void sa_route_as_stateless_wait(struct sa_req *r)
{
    start_run(r, NULL, ANSWER_WAIT);
}

void sa_route_as_runs_list(struct sa_req *r)
{
    long limit;
    if (!thread_and_limit(r, &limit))
        return;
    json_t *st = NULL;
    struct sa_err err = {0};
    int rc = sa_as_thread_state(r->app, r->params[0], &st, &err);
    json_decref(st);
    if (rc)
        sa_reply_failure(r, rc, &err, "path.thread_id", "Reading the thread");
    else
        sa_reply_json(r, 200, sa_as_thread_runs(r->app, r->params[0], (int)limit));
}

/* The {thread_id} and {run_id} of the path; false after answering 422. */
static bool run_path(struct sa_req *r, char run_id[SA_UUID_LEN])
{
    return sa_param_thread_id(r, 0) && sa_param_uuid(r, 1, "path.run_id", run_id);
}

void sa_route_as_run_get(struct sa_req *r)
{
    char run_id[SA_UUID_LEN];
    if (!run_path(r, run_id))
        return;
    json_t *run = NULL;
    struct sa_err err = {0};
    int rc = sa_as_run_get(r->app, r->params[0], run_id, &run, &err);
    if (rc)
        sa_reply_failure(r, rc, &err, "path.run_id", "Reading the run");
    else
        sa_reply_json(r, 200, run);
}

void sa_route_as_run_join(struct sa_req *r)
{
    char run_id[SA_UUID_LEN];
    if (run_path(r, run_id))
        reply_reader(r, r->params[0], run_id, SA_AS_READ_WAIT, false);
}

void sa_route_as_run_join_stream(struct sa_req *r)
{
    char run_id[SA_UUID_LEN];
    if (run_path(r, run_id))
        reply_reader(r, r->params[0], run_id, SA_AS_READ_EVENTS, false);
}

void sa_route_as_run_cancel(struct sa_req *r)
{
    char run_id[SA_UUID_LEN];
    if (!run_path(r, run_id))
        return;
    json_t *detail = json_array();
    static const char *const actions[] = {"interrupt", NULL};
    static const char *const waits[] = {"0", "1", "false", "true", NULL};
    (void)sa_query_enum(r, "action", actions, detail);
    const char *w = sa_query_enum(r, "wait", waits, detail);
    bool wait = w && (strcmp(w, "1") == 0 || strcmp(w, "true") == 0);
    if (json_array_size(detail)) {
        sa_reply_problem(r, 422, "validation_error", detail);
        return;
    }
    json_decref(detail);
    struct sa_err err = {0};
    json_t *run = NULL;
    int rc = sa_as_run_cancel(r->app, r->params[0], run_id, &err);
    if (!rc && wait) {
        /* wait=1: the Run once it ended, from a parked reader (no HTTP thread waits) */
        reply_reader(r, r->params[0], run_id, SA_AS_READ_RUN, false);
        if (r->status == 200)
            r->status = 202;
        return;
    }
    if (!rc)
        rc = sa_as_run_get(r->app, r->params[0], run_id, &run, &err);
    if (rc)
        sa_reply_failure(r, rc, &err, "path.run_id", "Cancelling the run");
    else
        sa_reply_json(r, 202, run);
}
