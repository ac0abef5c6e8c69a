/* Background pipeline runs: POST /api/runs (409 while the lead named by lead_id has a draft
 * under way: app/drafts.h), GET /api/runs/{id}, GET /api/runs/{id}/stream
 * (SSE, joinable at any point: the events so far, then live) and
 * POST /api/runs/{id}/cancel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/drafts.h"
#include "app/invoke.h"
#include "app/leads.h"
#include "app/runs.h"
#include "base/buf.h"
#include "base/detail.h"
#include "base/log.h"
#include "domain/lead.h"
#include "http/guard.h"
#include "http/http.h"
#include "http/params.h"

static bool runs_enabled(struct sa_req *r)
{
    if (r->app->runs)
        return true;
    sa_reply_error(r, 503, "service_unavailable", "", "runs_disabled",
                   "Background runs are not enabled in this process");
    return false;
}

void sa_route_runs_create(struct sa_req *r)
{
    if (!runs_enabled(r))
        return;
    json_t *body = sa_req_json(r);
    if (!body)
        return;
    json_t *detail = json_array(), *input = NULL;
    char lead_id[SA_UUID_LEN];
    const char *thread_id = NULL;
    sa_body_lead_id(body, lead_id, detail);
    sa_body_thread_id(body, &thread_id, detail);
    json_t *in = json_object_get(body, "input");
    if (json_array_size(detail) == 0) {
        if (in && !json_is_null(in)) {
            input = json_incref(in);
        } else if (lead_id[0]) {
            struct sa_err err = {0};
            int rc = sa_app_lead_input(r->app->store, lead_id, &input, &err);
            if (rc) {
                sa_reply_failure(r, rc, &err, "body.lead_id", "Reading the lead");
                goto out;
            }
        } else {
            sa_detail_add(detail, "body.input", "missing",
                          "Field required (the lead to run; or give lead_id of a stored lead)");
        }
    }
    struct sa_lead lead = {0};
    if (input)
        (void)sa_app_invoke_input(r->app, SA_AGENT_PIPELINE, input, "body.input", &lead, detail);
    if (json_array_size(detail) > 0 || !lead.raw) {
        sa_reply_problem(r, 422, "validation_error", json_incref(detail));
        sa_lead_clear(&lead);
        goto out;
    }
    if (!sa_guard_agent(r, sa_agent_type_name(SA_AGENT_PIPELINE))) {
        sa_lead_clear(&lead);
        goto out; /* 429 */
    }
    char run_id[40], lead_out[40], thread_out[129];
    struct sa_err err = {0};
    struct sa_draft_blocker blocker = {0};
    int rc = sa_runs_submit(r->app->runs, &lead, lead_id[0] ? lead_id : NULL, thread_id, run_id,
                            lead_out, thread_out, &blocker, &err);
    sa_lead_clear(&lead);
    if (rc == SA_ECONFLICT && blocker.kind[0]) { /* the one-draft rule: nothing was queued */
        sa_reply_problem(r, 409, "conflict",
                         sa_draft_conflict_detail(&blocker, lead_id, "body.lead_id", err.msg));
        goto out;
    }
    if (rc) {
        sa_reply_unavailable(r, rc, &err, "Queueing the run (nothing was queued)");
        goto out;
    }
    char self[96], stream[104], cancel[104];
    snprintf(self, sizeof self, "/api/runs/%s", run_id);
    snprintf(stream, sizeof stream, "%s/stream", self);
    snprintf(cancel, sizeof cancel, "%s/cancel", self);
    sa_reply_json(r, 202,
                  json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}}", "run_id", run_id, "status",
                            "queued", "lead_id", lead_out, "thread_id", thread_out, "links", "self",
                            self, "stream", stream, "cancel", cancel));
out:
    json_decref(input);
    json_decref(detail);
    json_decref(body);
}

/* GET /api/runs?status=&limit=&offset=: the web console's list (issue 16), from the store
 * (every instance's runs), newest first. */
void sa_route_runs_list(struct sa_req *r)
{
    static const char *const statuses[] = {
        "queued", "running", "awaiting_approval", "done", "failed", "cancelled", NULL};
    json_t *detail = json_array();
    long limit, offset;
    sa_query_long(r, "limit", 1, 500, 50, &limit, detail);
    sa_query_long(r, "offset", 0, 1000000000, 0, &offset, detail);
    const char *status = sa_query_enum(r, "status", statuses, detail);
    if (json_array_size(detail)) {
        sa_reply_problem(r, 422, "validation_error", detail);
        return;
    }
    json_decref(detail);
    json_t *page = NULL;
    struct sa_err err = {0};
    int rc = sa_app_runs_list(r->app->store, status, (int)limit, (int)offset, &page, &err);
    if (rc)
        sa_reply_unavailable(r, rc, &err, "Reading the runs");
    else
        sa_reply_json(r, 200, page);
}

void sa_route_run_get(struct sa_req *r)
{
    char id[SA_UUID_LEN];
    if (!sa_param_uuid(r, 0, "path.run_id", id))
        return;
    json_t *run = NULL;
    struct sa_err err = {0};
    int rc = sa_app_run_get(r->app->store, r->app->runs, id, &run, &err);
    if (rc)
        sa_reply_failure(r, rc, &err, "path.run_id", "Reading the run");
    else
        sa_reply_json(r, 200, run);
}

/* The run's events as they come. With nothing new the stream parks (no HTTP thread
 * waits for it) and the runs service wakes it; after ~15 s of quiet it sends an SSE
 * comment so proxies keep the connection open. */
static void live_wake(void *arg)
{
    sa_stream_wake(arg);
}

static long live_read(void *cls, char *buf, size_t max, struct sa_stream_waker *waker)
{
    ssize_t n = sa_run_stream_read(cls, buf, max, live_wake, waker);
    if (n == SA_RUN_STREAM_PARKED)
        return SA_STREAM_PARKED;
    if (n < 0)
        return -1;
    if (n > 0)
        return (long)n;
    static const char keep_alive[] = ": keep-alive\n\n"; /* an SSE comment: bytes, no NUL */
    if (max < sizeof keep_alive - 1)
        return 0; /* MHD's buffer is 4 KB: not reached */
    memcpy(buf, keep_alive, sizeof keep_alive - 1);
    return (long)(sizeof keep_alive - 1);
}

static void live_done(void *cls)
{
    sa_run_stream_free(cls);
}

void sa_route_run_stream(struct sa_req *r)
{
    char id[SA_UUID_LEN];
    if (!sa_param_uuid(r, 0, "path.run_id", id) || !runs_enabled(r))
        return;
    struct sa_run_stream *s = sa_run_stream_open(r->app->runs, id);
    if (s) {
        sa_reply_parked_stream(r, "text/event-stream", live_read, s, live_done);
        return;
    }
    /* not in this process (finished before a restart): its stored result, as SSE */
    json_t *run = NULL;
    struct sa_err err = {0};
    int rc = sa_app_run_get(r->app->store, r->app->runs, id, &run, &err);
    if (rc) {
        sa_reply_failure(r, rc, &err, "path.run_id", "Reading the run");
        return;
    }
    struct sa_buf b;
    sa_buf_init(&b, (size_t)16 << 20);
    char *meta = json_dumps(run, JSON_COMPACT);
    if (sa_buf_printf(&b, "event: result\ndata: %s\n\nevent: end\ndata: null\n\n",
                      meta ? meta : "null") != 0)
        sa_log(SA_LOG_WARN, "run result too large to stream", NULL);
    free(meta);
    json_decref(run);
    size_t len;
    char *text = sa_buf_steal(&b, &len);
    sa_reply_text(r, 200, "text/event-stream", text, len);
}

void sa_route_run_cancel(struct sa_req *r)
{
    char id[SA_UUID_LEN];
    if (!sa_param_uuid(r, 0, "path.run_id", id) || !runs_enabled(r))
        return;
    struct sa_err err = {0};
    int rc = sa_runs_cancel(r->app->runs, id, &err);
    if (rc == SA_ENOTFOUND)
        sa_reply_error(r, 404, "not_found", "path.run_id", "not_found",
                       "No queued or running run %s", id);
    else if (rc == SA_ECONFLICT)
        sa_reply_error(r, 409, "conflict", "path.run_id", "run_finished",
                       "Run %s has already finished", id);
    else
        sa_reply_json(r, 202, json_pack("{s:s, s:s}", "run_id", id, "status", "cancelling"));
}
