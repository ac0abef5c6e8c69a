/* Human approvals of the BDR workflow and the outbox:
 *   GET  /api/approvals?status=pending&limit=   the approvals, newest first
 *   GET  /api/approvals/{id}                    one approval
 *   POST /api/approvals/{id}                    answer it: an Agent Inbox HumanResponse
 *                                               {type, args, reviewer?}; the run continues
 *   GET  /api/outbox?status=&email=&limit=      queued, sent, failed and cancelled items */
#include <string.h>

#include "domain/lead.h"
#include "app/app.h"
#include "base/config.h"
#include "base/detail.h"
#include "base/log.h"
#include "http/http.h"
#include "store/store.h"

static void store_error(struct sa_req *r, const struct sa_err *err)
{
    sa_log(SA_LOG_ERROR, "store failed",
           json_pack("{s:s, s:s}", "error", err->msg, "request_id", r->request_id));
    sa_reply_error(r, 503, "service_unavailable", "", "store_error",
                   "The database is unavailable; try again");
}

static bool limit_param(struct sa_req *r, long *limit, json_t *detail)
{
    const char *q = sa_req_query(r, "limit");
    *limit = 50;
    if (q && sa_parse_long(q, 1, 500, limit)) {
        sa_detail_add(detail, "query.limit", "int_parsing", "Input should be an integer 1-500");
        return false;
    }
    return true;
}

static bool enum_param(struct sa_req *r, const char *name, const char *const *allowed,
                       const char **out, json_t *detail)
{
    *out = sa_req_query(r, name);
    if (!*out)
        return true;
    for (const char *const *a = allowed; *a; a++)
        if (strcmp(*out, *a) == 0)
            return true;
    char loc[64], msg[200] = "Input should be one of:";
    snprintf(loc, sizeof loc, "query.%s", name);
    for (const char *const *a = allowed; *a; a++)
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg), " %s", *a);
    sa_detail_add(detail, loc, "enum", "%s", msg);
    return false;
}

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
        store_error(r, err);
        return;
    }
    sa_reply_json(
        r, 200,
        json_pack("{s:o, s:I}", "items", items, "count", (json_int_t)json_array_size(items)));
}

void sa_route_approvals_list(struct sa_req *r)
{
    static const char *const statuses[] = {"pending",   "accepted", "edited",
                                           "responded", "ignored",  NULL};
    json_t *detail = json_array();
    long limit;
    const char *status;
    limit_param(r, &limit, detail);
    enum_param(r, "status", statuses, &status, detail);
    json_t *items = NULL;
    struct sa_err err = {0};
    int rc = json_array_size(detail)
                 ? 0
                 : sa_store_approval_list(r->app->store, status, (int)limit, &items, &err);
    reply_list(r, detail, rc, items, &err);
}

void sa_route_approval_get(struct sa_req *r)
{
    json_t *a = NULL;
    struct sa_err err = {0};
    int rc = sa_store_approval_get(r->app->store, r->params[0], &a, &err);
    if (rc == SA_ENOTFOUND)
        sa_reply_error(r, 404, "not_found", "path.approval_id", "not_found", "No approval %.60s",
                       r->params[0]);
    else if (rc)
        store_error(r, &err);
    else
        sa_reply_json(r, 200, a);
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
    json_t *out = NULL;
    struct sa_err err = {0};
    int rc = json_array_size(detail) ? SA_EINVAL
                                     : sa_app_decide(r->app, r->params[0], response,
                                                     json_string_value(rv), detail, &out, &err);
    if (rc == SA_EINVAL)
        sa_reply_problem(r, 422, "validation_error", json_incref(detail));
    else if (rc == SA_ENOTFOUND)
        sa_reply_error(r, 404, "not_found", "path.approval_id", "not_found", "No approval %.60s",
                       r->params[0]);
    else if (rc == SA_ECONFLICT)
        sa_reply_error(r, 409, "conflict", "body.type", "already_decided", "%s", err.msg);
    else if (rc == SA_ESTORE)
        store_error(r, &err);
    else if (rc) {
        sa_log(SA_LOG_ERROR, "approval failed",
               json_pack("{s:s, s:s}", "error", err.msg, "request_id", r->request_id));
        sa_reply_error(r, 500, "internal_error", "", "internal_error",
                       "The approval was recorded but the run could not continue: %s",
                       sa_strerror(rc));
    } else
        sa_reply_json(r, 200, out);
    json_decref(detail);
    json_decref(body);
}

void sa_route_outbox_list(struct sa_req *r)
{
    static const char *const statuses[] = {"queued", "sending",   "sent",
                                           "failed", "cancelled", NULL};
    json_t *detail = json_array();
    long limit;
    const char *status;
    limit_param(r, &limit, detail);
    enum_param(r, "status", statuses, &status, detail);
    const char *email = sa_req_query(r, "email");
    if (email && !sa_email_valid(email))
        sa_detail_add(detail, "query.email", "value_error", "Value is not a valid email address");
    json_t *items = NULL;
    struct sa_err err = {0};
    int rc = json_array_size(detail)
                 ? 0
                 : sa_store_outbox_list(r->app->store, status, email, (int)limit, &items, &err);
    reply_list(r, detail, rc, items, &err);
}
