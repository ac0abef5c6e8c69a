/* Human approvals of the BDR workflow and the outbox:
 *   GET  /api/approvals?status=pending&limit=   the approvals, newest first
 *   GET  /api/approvals/{id}                    one approval
 *   POST /api/approvals/{id}                    answer it: an Agent Inbox HumanResponse
 *                                               {type, args}; the run continues, the key's
 *                                               name recorded as the reviewer; 409 once
 *                                               answered or superseded by a newer run
 *   GET  /api/outbox?status=&email=&limit=      queued, sent, failed and cancelled items */
#include <string.h>

#include "app/app.h"
#include "app/approvals.h"
#include "app/outbox.h"
#include "base/detail.h"
#include "base/json.h"
#include "base/log.h"
#include "domain/lead.h"
#include "http/http.h"
#include "http/params.h"

/* Answers a list query: 422 with detail when the query was bad, 503 when the store
 * failed, else {items, count}. Takes detail and items. */
static void reply_list(struct sa_req *r, json_t *detail, int rc, json_t *items,
                       const struct sa_err *err)
{
    if (json_array_size(detail)) {
        sa_reply_problem(r, 422, "validation_error", detail);
        return;
    }
    json_decref(detail);
    if (rc) {
        sa_reply_unavailable(r, rc, err, "Reading the list");
        return;
    }
    sa_reply_json(
        r, 200,
        json_pack("{s:o, s:I}", "items", items, "count", (json_int_t)json_array_size(items)));
}

void sa_route_approvals_list(struct sa_req *r)
{
    static const char *const statuses[] = {"pending", "accepted",   "edited", "responded",
                                           "ignored", "superseded", NULL};
    json_t *detail = json_array();
    long limit;
    sa_query_long(r, "limit", 1, 500, 50, &limit, detail);
    const char *status = sa_query_enum(r, "status", statuses, detail);
    json_t *items = NULL;
    struct sa_err err = {0};
    int rc = json_array_size(detail)
                 ? 0
                 : sa_app_approvals_list(r->app->store, status, (int)limit, &items, &err);
    reply_list(r, detail, rc, items, &err);
}

void sa_route_approval_get(struct sa_req *r)
{
    json_t *a = NULL;
    struct sa_err err = {0};
    int rc = sa_app_approval_get(r->app->store, r->params[0], &a, &err);
    if (rc)
        sa_reply_failure(r, rc, &err, "path.approval_id", "Reading the approval");
    else
        sa_reply_json(r, 200, a);
}

/* 409 for an answer the approval no longer takes (err: the service's words): superseded
 * by a newer run on its thread (type "superseded", ctx.superseded_by naming that run when
 * known), else answered before ("already_decided"). */
static void reply_conflict(struct sa_req *r, const struct sa_err *err)
{
    json_t *a = NULL;
    struct sa_err e = {0};
    if (sa_app_approval_get(r->app->store, r->params[0], &a, &e) != 0 ||
        strcmp(sa_json_str(a, "status") ?: "", "superseded") != 0) {
        json_decref(a);
        sa_reply_error(r, 409, "conflict", "body.type", "already_decided", "%s", err->msg);
        return;
    }
    json_t *detail = json_array();
    sa_detail_add(detail, "path.approval_id", "superseded", "%s", err->msg);
    json_t *by = json_object_get(a, "superseded_by");
    json_object_set_new(json_array_get(detail, 0), "ctx",
                        json_pack("{s:O}", "superseded_by", by ? by : json_null()));
    json_decref(a);
    sa_reply_problem(r, 409, "conflict", detail);
}

void sa_route_approval_decide(struct sa_req *r)
{
    json_t *body = sa_req_json(r);
    if (!body)
        return;
    json_t *detail = json_array();
    /* the HumanResponse itself, or {response: HumanResponse, reviewer} */
    json_t *response = json_object_get(body, "response") ? json_object_get(body, "response") : body;
    json_t *rv = json_object_get(body, "reviewer");
    if (rv && (!json_is_string(rv) || json_string_length(rv) == 0 || json_string_length(rv) > 200))
        sa_detail_add(detail, "body.reviewer", "string_type",
                      "reviewer should be a name or e-mail of 1 to 200 characters");
    /* the reviewer is who the credential says, as on the Agent Server API's resume: the
     * body's reviewer (checked above for old clients) is not what is recorded. With
     * AUTH=off there is no credential, only the client's address (a proxy's, behind one):
     * there the body's reviewer is the best account of who decided, when it is given. */
    const char *who = r->principal.name[0] ? r->principal.name : r->principal.id;
    if (r->principal.kind == SA_PRINCIPAL_ADDRESS && json_is_string(rv) &&
        !json_array_size(detail))
        who = json_string_value(rv);
    json_t *out = NULL;
    struct sa_err err = {0};
    bool recorded = false;
    int rc = json_array_size(detail)
                 ? SA_EINVAL
                 : sa_app_decide(r->app, r->params[0], response, who[0] ? who : NULL, detail, &out,
                                 &recorded, &err);
    if (rc == SA_EINVAL && json_array_size(detail))
        sa_reply_problem(r, 422, "validation_error", json_incref(detail));
    else if (rc == SA_ENOTFOUND)
        sa_reply_error(r, 404, "not_found", "path.approval_id", "not_found", "No approval %.60s",
                       r->params[0]);
    else if (rc == SA_ECONFLICT)
        reply_conflict(r, &err);
    else if (rc && recorded) /* the answer is kept: only the run's next steps wait */
        sa_reply_unavailable(r, rc, &err,
                             "The answer was recorded; continuing the run (it continues when "
                             "the server next starts)");
    else if (rc)
        sa_reply_unavailable(r, rc, &err, "Recording the answer");
    else {
        /* the audit record says which answer and whether it was a repeat */
        r->audit_detail =
            json_pack("{s:O?, s:s?, s:O?, s:O?}", "type", json_object_get(response, "type"),
                      "reviewer", who[0] ? who : NULL, "reviewer_given", rv, "duplicate",
                      json_object_get(out, "duplicate"));
        sa_reply_json(r, 200, out);
    }
    json_decref(detail);
    json_decref(body);
}

void sa_route_outbox_list(struct sa_req *r)
{
    static const char *const statuses[] = {"queued", "sending",   "sent",
                                           "failed", "cancelled", NULL};
    json_t *detail = json_array();
    long limit;
    sa_query_long(r, "limit", 1, 500, 50, &limit, detail);
    const char *status = sa_query_enum(r, "status", statuses, detail);
    const char *email = sa_req_query(r, "email");
    if (email && !sa_email_valid(email))
        sa_detail_add(detail, "query.email", "value_error", "Value is not a valid email address");
    json_t *items = NULL;
    struct sa_err err = {0};
    int rc = json_array_size(detail)
                 ? 0
                 : sa_app_outbox_list(r->app->store, status, email, (int)limit, &items, &err);
    reply_list(r, detail, rc, items, &err);
}
