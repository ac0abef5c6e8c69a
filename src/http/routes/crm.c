/* CRM sync (app/crm_sync.h):
 *   GET /api/crm/status?lead_id=&limit=   the provider, dry-run, the breaker, the pushes
 *                                         counted by status and the latest ones with errors */
#include <jansson.h>
#include <string.h>

#include "app/app.h"
#include "app/crm_sync.h"
#include "base/detail.h"
#include "base/uuid.h"
#include "http/http.h"
#include "http/params.h"

void sa_route_crm_status(struct sa_req *r)
{
    json_t *detail = json_array();
    long limit;
    sa_query_long(r, "limit", 1, 500, 50, &limit, detail);
    const char *lead = sa_req_query(r, "lead_id");
    if (lead && !sa_uuid_valid(lead, strlen(lead)))
        sa_detail_add(detail, "query.lead_id", "uuid_parsing", "Input should be a valid UUID");
    if (json_array_size(detail)) {
        sa_reply_problem(r, 422, "validation_error", detail);
        return;
    }
    json_decref(detail);
    json_t *out = NULL;
    struct sa_err err = {0};
    int rc = sa_crm_sync_status(r->app, lead, (int)limit, &out, &err);
    if (rc)
        sa_reply_unavailable(r, rc, &err, "Reading the CRM sync status");
    else
        sa_reply_json(r, 200, out);
}
