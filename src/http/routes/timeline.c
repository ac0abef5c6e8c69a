/* GET /api/leads/{id}/timeline: one lead's history, newest first. */
#include "app/app.h"
#include "app/timeline.h"
#include "base/detail.h"
#include "http/http.h"
#include "http/params.h"

void sa_route_lead_timeline(struct sa_req *r)
{
    char id[37];
    if (!sa_param_uuid(r, 0, "path.id", id))
        return;
    json_t *detail = json_array();
    long limit;
    sa_query_long(r, "limit", 1, 500, 100, &limit, detail);
    if (json_array_size(detail) > 0) {
        sa_reply_problem(r, 422, "validation_error", detail);
        return;
    }
    json_decref(detail);
    json_t *out = NULL;
    struct sa_err err = {0};
    int rc = sa_app_lead_timeline(r->app->store, id, (int)limit, &out, &err);
    if (rc) {
        sa_reply_failure(r, rc, &err, "path.id", "Reading the lead's timeline");
        return;
    }
    sa_reply_json(r, 200, out);
}
