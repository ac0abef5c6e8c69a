/* GET /api/leads (list with filters) and GET /api/leads/{id} (with its executions). */
#include <string.h>

#include "app/app.h"
#include "app/import.h"
#include "base/config.h"
#include "base/detail.h"
#include "base/log.h"
#include "http/http.h"
#include "store/store.h"

static void store_unavailable(struct sa_req *r, const struct sa_err *err)
{
    sa_log(SA_LOG_ERROR, "store read failed",
           json_pack("{s:s, s:s}", "error", err->msg, "request_id", r->request_id));
    sa_reply_error(r, 503, "service_unavailable", "", "store_error",
                   "The database is unavailable; try again");
}

static void int_param(struct sa_req *r, const char *name, long min, long max, long dflt, long *out,
                      json_t *detail)
{
    const char *s = sa_req_query(r, name);
    *out = dflt;
    if (!s)
        return;
    if (sa_parse_long(s, min, max, out)) {
        char loc[64];
        snprintf(loc, sizeof loc, "query.%s", name);
        sa_detail_add(detail, loc, "int_parsing", "Input should be an integer from %ld to %ld", min,
                      max);
        *out = dflt;
    }
}

void sa_route_leads_list(struct sa_req *r)
{
    json_t *detail = json_array();
    long limit, offset, min_score;
    int_param(r, "limit", 1, 500, 50, &limit, detail);
    int_param(r, "offset", 0, 1000000000L, 0, &offset, detail);
    int_param(r, "min_score", 0, 100, -1, &min_score, detail);
    const char *tier = sa_req_query(r, "tier");
    if (tier && (strlen(tier) != 1 || tier[0] < 'A' || tier[0] > 'D'))
        sa_detail_add(detail, "query.tier", "enum", "Input should be A, B, C or D");
    const char *q = sa_req_query(r, "q");
    if (q && (strlen(q) == 0 || sa_utf8_chars(q, strlen(q)) > 200))
        sa_detail_add(detail, "query.q", "string_too_long",
                      "Search text should have 1 to 200 characters");
    if (json_array_size(detail) > 0) {
        sa_reply_problem(r, 422, "validation_error", detail);
        return;
    }
    json_decref(detail);
    struct sa_lead_query query = {.limit = (int)limit,
                                  .offset = (int)offset,
                                  .tier = tier,
                                  .min_score = (int)min_score,
                                  .search = q};
    json_t *out;
    struct sa_err err = {0};
    if (sa_store_list_leads(r->app->store, &query, &out, &err)) {
        store_unavailable(r, &err);
        return;
    }
    sa_reply_json(r, 200, out);
}

void sa_route_lead_get(struct sa_req *r)
{
    char id[SA_UUID_LEN];
    if (!sa_uuid_valid(r->params[0], strlen(r->params[0]))) {
        sa_reply_error(r, 422, "validation_error", "path.id", "uuid_parsing",
                       "Input should be a valid UUID");
        return;
    }
    sa_uuid_lower(r->params[0], id);
    json_t *lead, *execs;
    struct sa_err err = {0};
    int rc = sa_store_get_lead(r->app->store, id, &lead, &err);
    if (rc == SA_ENOTFOUND) {
        sa_reply_error(r, 404, "not_found", "path.id", "not_found", "No lead with id %s", id);
        return;
    }
    if (rc) {
        store_unavailable(r, &err);
        return;
    }
    if (sa_store_list_executions(r->app->store, id, 50, &execs, &err)) {
        json_decref(lead);
        store_unavailable(r, &err);
        return;
    }
    json_object_set_new(lead, "executions", execs);
    sa_reply_json(r, 200, lead);
}

/* POST /api/leads/import: a CSV body (text/csv); ?partial=true imports the valid rows. */
void sa_route_leads_import(struct sa_req *r)
{
    const char *p = sa_req_query(r, "partial");
    bool partial = p && (strcmp(p, "true") == 0 || strcmp(p, "1") == 0);
    if (p && !partial && strcmp(p, "false") != 0 && strcmp(p, "0") != 0) {
        sa_reply_error(r, 422, "validation_error", "query.partial", "bool_parsing",
                       "Input should be true or false");
        return;
    }
    if (r->body.len == 0) {
        sa_reply_error(r, 400, "invalid_csv", "body", "csv_invalid",
                       "The body is empty; send the CSV with a header row");
        return;
    }
    json_t *report = NULL;
    struct sa_err err = {0};
    int rc =
        sa_app_import_csv(r->app, r->body.data, r->body.len, partial, NULL, NULL, &report, &err);
    if (rc == 0) {
        sa_reply_json(r, 200, report);
        return;
    }
    if (report) { /* invalid rows: each one named, nothing imported */
        json_t *detail = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(report, "errors"), i, e)
        {
            json_t *loc = json_pack("[s]", "body");
            json_array_extend(loc, json_object_get(e, "loc"));
            json_array_append_new(detail, json_pack("{s:o, s:O, s:O, s:O, s:O}", "loc", loc, "msg",
                                                    json_object_get(e, "msg"), "type",
                                                    json_object_get(e, "type"), "row",
                                                    json_object_get(e, "row"), "line",
                                                    json_object_get(e, "line")));
        }
        sa_reply_problem(r, 422, "validation_error", detail);
        json_object_set_new(r->json, "report", report);
        return;
    }
    if (rc == SA_ECONFLICT)
        sa_reply_error(r, 409, "conflict", "body", "duplicate_rows", "%s", err.msg);
    else if (rc == SA_EINVAL || rc == SA_ETOOBIG)
        sa_reply_error(r, rc == SA_ETOOBIG ? 413 : 400, "invalid_csv", "body", "csv_invalid", "%s",
                       err.msg);
    else
        store_unavailable(r, &err);
}
