/* Background pipeline runs: POST /api/runs, GET /api/runs/{id}, GET /api/runs/{id}/stream
 * (SSE, joinable at any point: the events so far, then live) and
 * POST /api/runs/{id}/cancel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/lead.h"
#include "app/app.h"
#include "base/buf.h"
#include "base/detail.h"
#include "base/json.h"
#include "base/log.h"
#include "http/http.h"
#include "app/runs.h"
#include "store/store.h"

static bool runs_enabled(struct sa_req *r)
{
    if (r->app->runs)
        return true;
    sa_reply_error(r, 503, "service_unavailable", "", "runs_disabled",
                   "Background runs are not enabled in this process");
    return false;
}

static bool run_id_ok(struct sa_req *r)
{
    if (sa_uuid_valid(r->params[0], strlen(r->params[0])))
        return true;
    sa_reply_error(r, 422, "validation_error", "path.run_id", "uuid_parsing",
                   "Input should be a valid UUID");
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
    char lead_id[SA_UUID_LEN] = "";
    const char *thread_id = NULL;
    json_t *lid = json_object_get(body, "lead_id"), *tid = json_object_get(body, "thread_id");
    if (lid && !json_is_null(lid)) {
        if (!json_is_string(lid) || !sa_uuid_valid(json_string_value(lid), json_string_length(lid)))
            sa_detail_add(detail, "body.lead_id", "uuid_parsing", "Input should be a valid UUID");
        else
            sa_uuid_lower(json_string_value(lid), lead_id);
    }
    if (tid && !json_is_null(tid)) {
        size_t n = json_string_length(tid);
        bool ok = json_is_string(tid) && n > 0 && n <= SA_THREAD_ID_MAX;
        for (const char *p = json_string_value(tid); ok && *p; p++)
            ok = strchr("-_.:", *p) || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
                 (*p >= 'A' && *p <= 'Z');
        if (!ok)
            sa_detail_add(detail, "body.thread_id", "string_pattern_mismatch",
                          "thread_id should be 1-%d characters of letters, digits, - _ . :",
                          SA_THREAD_ID_MAX);
        else
            thread_id = json_string_value(tid);
    }
    json_t *in = json_object_get(body, "input");
    if (json_array_size(detail) == 0) {
        if (in && !json_is_null(in)) {
            input = json_incref(in);
        } else if (lead_id[0]) {
            json_t *lead = NULL;
            struct sa_err err = {0};
            int rc = sa_store_get_lead(r->app->store, lead_id, &lead, &err);
            if (rc == SA_ENOTFOUND) {
                sa_reply_error(r, 404, "not_found", "body.lead_id", "not_found",
                               "No lead with id %s", lead_id);
                goto out;
            }
            input = rc ? NULL : json_incref(json_object_get(lead, "data"));
            json_decref(lead);
        } else {
            sa_detail_add(detail, "body.input", "missing",
                          "Field required (the lead to run; or give lead_id of a stored lead)");
        }
    }
    struct sa_lead lead = {0};
    if (input && !json_is_object(input))
        sa_detail_add(detail, "body.input", "dict_type", "Input should be a valid object");
    else if (input && sa_lead_parse(input, "body.input", &lead, detail) == 0 &&
             json_array_size(detail) > 0)
        sa_lead_clear(&lead);
    if (json_array_size(detail) > 0 || !lead.raw) {
        sa_reply_problem(r, 422, "validation_error", json_incref(detail));
        sa_lead_clear(&lead);
        goto out;
    }
    char run_id[40], lead_out[40], thread_out[129];
    struct sa_err err = {0};
    int rc = sa_runs_submit(r->app->runs, &lead, lead_id[0] ? lead_id : NULL, thread_id, run_id,
                            lead_out, thread_out, &err);
    sa_lead_clear(&lead);
    if (rc) {
        sa_reply_error(r, 503, "service_unavailable", "", "store_error",
                       "The run could not be queued: %s", err.msg);
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

/* The stored run (consumed) in the API's shape: its id as run_id, first, then the other
 * fields in their stored order. NULL when out of memory. */
static json_t *run_for_api(json_t *run)
{
    json_t *out = json_pack("{s:O}", "run_id", json_object_get(run, "id"));
    const char *key;
    json_t *v;
    json_object_foreach(run, key, v)
    {
        if (out && strcmp(key, "id") != 0 && json_object_set(out, key, v)) {
            json_decref(out);
            out = NULL;
        }
    }
    json_decref(run);
    return out;
}

void sa_route_run_get(struct sa_req *r)
{
    if (!run_id_ok(r))
        return;
    json_t *run = NULL;
    struct sa_err err = {0};
    int rc = sa_store_run_get(r->app->store, r->params[0], &run, &err);
    if (rc == SA_ENOTFOUND)
        sa_reply_error(r, 404, "not_found", "path.run_id", "not_found", "No run %s", r->params[0]);
    else if (rc)
        sa_reply_error(r, 503, "service_unavailable", "", "store_error", "%s", err.msg);
    else if (!(run = run_for_api(run)))
        sa_reply_error(r, 500, "internal_error", "", "internal_error", "out of memory");
    else
        sa_reply_json(r, 200, run);
}

struct live {
    struct sa_run_stream *s;
    int idle; /* reads with nothing new since the last byte */
};

static long live_read(void *cls, char *buf, size_t max)
{
    struct live *l = cls;
    ssize_t n = sa_run_stream_read(l->s, buf, max, 100);
    if (n < 0)
        return -1;
    if (n > 0) {
        l->idle = 0;
        return (long)n;
    }
    if (++l->idle >= 150 && max >= 14) { /* ~15 s quiet: a comment keeps proxies open */
        l->idle = 0;
        memcpy(buf, ": keep-alive\n\n", 14);
        return 14;
    }
    return 0;
}

static void live_done(void *cls)
{
    struct live *l = cls;
    sa_run_stream_free(l->s);
    free(l);
}

void sa_route_run_stream(struct sa_req *r)
{
    if (!run_id_ok(r) || !runs_enabled(r))
        return;
    struct sa_run_stream *s = sa_run_stream_open(r->app->runs, r->params[0]);
    if (s) {
        struct live *l = calloc(1, sizeof *l);
        if (!l) {
            sa_run_stream_free(s);
            sa_reply_error(r, 500, "internal_error", "", "internal_error", "out of memory");
            return;
        }
        l->s = s;
        sa_reply_stream(r, "text/event-stream", live_read, l, live_done);
        return;
    }
    /* not in this process (finished before a restart): its stored result, as SSE */
    json_t *run = NULL;
    struct sa_err err = {0};
    int rc = sa_store_run_get(r->app->store, r->params[0], &run, &err);
    if (rc) {
        sa_reply_error(r, rc == SA_ENOTFOUND ? 404 : 503,
                       rc == SA_ENOTFOUND ? "not_found" : "service_unavailable", "path.run_id",
                       rc == SA_ENOTFOUND ? "not_found" : "store_error", "No run %s", r->params[0]);
        return;
    }
    struct sa_buf b;
    sa_buf_init(&b, 16 * 1024 * 1024);
    run = run_for_api(run);
    char *meta = run ? json_dumps(run, JSON_COMPACT) : NULL;
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
    if (!run_id_ok(r) || !runs_enabled(r))
        return;
    struct sa_err err = {0};
    int rc = sa_runs_cancel(r->app->runs, r->params[0], &err);
    if (rc == SA_ENOTFOUND)
        sa_reply_error(r, 404, "not_found", "path.run_id", "not_found",
                       "No queued or running run %s", r->params[0]);
    else if (rc == SA_ECONFLICT)
        sa_reply_error(r, 409, "conflict", "path.run_id", "run_finished",
                       "Run %s has already finished", r->params[0]);
    else
        sa_reply_json(r, 202,
                      json_pack("{s:s, s:s}", "run_id", r->params[0], "status", "cancelling"));
}
