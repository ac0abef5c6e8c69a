/* Contacts' consent: POST /api/contacts/{email}/do-not-contact (optional JSON body
 * {reason}) and GET /api/contacts/{email}. */
#include <string.h>

#include "app/app.h"
#include "app/contacts.h"
#include "http/http.h"
#include "http/params.h"

void sa_route_contact_dnc(struct sa_req *r)
{
    if (!sa_param_email(r, 0))
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
    int rc = sa_app_contact_dnc(r->app->store, r->params[0], reason, &contact, &err);
    json_decref(body);
    if (rc)
        sa_reply_unavailable(r, rc, &err, "Recording do-not-contact");
    else
        sa_reply_json(r, 200, contact);
}

void sa_route_contact_get(struct sa_req *r)
{
    if (!sa_param_email(r, 0))
        return;
    json_t *contact = NULL;
    struct sa_err err = {0};
    int rc = sa_app_contact_get(r->app->store, r->params[0], &contact, &err);
    if (rc)
        sa_reply_unavailable(r, rc, &err, "Reading the contact");
    else
        sa_reply_json(r, 200, contact);
}
