/* Contacts' consent: POST /api/contacts/{email}/do-not-contact (optional JSON body
 * {reason}) and GET /api/contacts/{email}. */
#include <string.h>

#include "domain/lead.h"
#include "app/app.h"
#include "base/detail.h"
#include "base/json.h"
#include "base/log.h"
#include "http/http.h"
#include "store/store.h"

static bool email_ok(struct sa_req *r)
{
    if (sa_email_valid(r->params[0]))
        return true;
    sa_reply_error(r, 422, "validation_error", "path.email", "value_error",
                   "Value is not a valid email address");
    return false;
}

void sa_route_contact_dnc(struct sa_req *r)
{
    if (!email_ok(r))
        return;
    const char *reason = "api";
    json_t *body = NULL;
    if (r->body.len > 0) {
        body = sa_req_json(r);
        if (!body)
            return;
        json_t *v = json_object_get(body, "reason");
        if (v && (!json_is_string(v) || json_string_length(v) > 200)) {
            sa_reply_error(r, 422, "validation_error", "body.reason", "string_type",
                           "reason should be a string of up to 200 characters");
            json_decref(body);
            return;
        }
        if (v)
            reason = json_string_value(v);
    }
    struct sa_err err = {0};
    json_t *contact = NULL;
    int rc = sa_store_contact_dnc(r->app->store, r->params[0], reason, "api", &err);
    if (!rc)
        rc = sa_store_contact_get(r->app->store, r->params[0], &contact, &err);
    json_decref(body);
    if (rc) {
        sa_log(SA_LOG_ERROR, "contact store failed", json_pack("{s:s}", "error", err.msg));
        sa_reply_error(r, 503, "service_unavailable", "", "store_error",
                       "The database is unavailable; try again");
        return;
    }
    sa_reply_json(r, 200, contact);
}

void sa_route_contact_get(struct sa_req *r)
{
    if (!email_ok(r))
        return;
    json_t *contact = NULL;
    struct sa_err err = {0};
    int rc = sa_store_contact_get(r->app->store, r->params[0], &contact, &err);
    if (rc == SA_ENOTFOUND)
        contact = json_pack("{s:s, s:b}", "email", r->params[0], "do_not_contact", 0);
    else if (rc) {
        sa_reply_error(r, 503, "service_unavailable", "", "store_error",
                       "The database is unavailable; try again");
        return;
    }
    sa_reply_json(r, 200, contact);
}
