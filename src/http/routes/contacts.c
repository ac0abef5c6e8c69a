/* Contacts' consent: POST /api/contacts/{email}/do-not-contact (optional JSON body
 * {reason}), GET /api/contacts/{email}, GET and DELETE (a consent record)
 * /api/contacts/{email}/do-not-contact, GET /api/contacts?do_not_contact=true. */
#include <stdio.h>
#include <string.h>

#include "base/detail.h"
#include "app/app.h"
#include "app/contacts.h"
#include "http/http.h"
#include "http/params.h"

void sa_route_contact_dnc(struct sa_req *r)
{
    if (!sa_param_email(r, 0))
        return;
    const char *reason = "operator request";
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

void sa_route_contacts_list(struct sa_req *r)
{
    json_t *detail = json_array();
    long limit, offset;
    sa_query_long(r, "limit", 1, 500, 50, &limit, detail);
    sa_query_long(r, "offset", 0, 1000000000L, 0, &offset, detail);
    const char *dnc = sa_req_query(r, "do_not_contact");
    if (!dnc)
        sa_detail_add(detail, "query.do_not_contact", "missing",
                      "Field required: do_not_contact=true lists the do-not-contact contacts");
    else if (strcmp(dnc, "true") != 0)
        sa_detail_add(detail, "query.do_not_contact", "enum", "Input should be 'true'");
    if (json_array_size(detail) > 0) {
        sa_reply_problem(r, 422, "validation_error", detail);
        return;
    }
    json_decref(detail);
    json_t *page = NULL;
    struct sa_err err = {0};
    int rc = sa_app_contacts_dnc_page(r->app->store, (int)limit, (int)offset, &page, &err);
    if (rc)
        sa_reply_unavailable(r, rc, &err, "Listing the contacts");
    else
        sa_reply_json(r, 200, page);
}

/* GET /api/contacts/suppression: the do-not-contact contacts as a CSV suppression list. */
void sa_route_contacts_suppression(struct sa_req *r)
{
    char *csv = NULL;
    size_t len = 0;
    struct sa_err err = {0};
    int rc = sa_app_contacts_suppression_csv(r->app->store, &csv, &len, &err);
    if (rc) {
        sa_reply_unavailable(r, rc, &err, "Listing the contacts");
        return;
    }
    sa_reply_header(r, "Content-Disposition", "attachment; filename=\"suppression.csv\"");
    sa_reply_text(r, 200, "text/csv; charset=utf-8", csv, len);
}

void sa_route_contact_dnc_history(struct sa_req *r)
{
    if (!sa_param_email(r, 0))
        return;
    json_t *out = NULL;
    struct sa_err err = {0};
    int rc = sa_app_contact_history(r->app->store, r->params[0], &out, &err);
    if (rc)
        sa_reply_unavailable(r, rc, &err, "Reading the contact's history");
    else
        sa_reply_json(r, 200, out);
}

/* A required string field of 1 to max characters, into detail when it is not one. */
static const char *required_text(const json_t *body, const char *field, size_t max, json_t *detail)
{
    char loc[64];
    snprintf(loc, sizeof loc, "body.%s", field);
    const json_t *v = json_object_get(body, field);
    if (!v) {
        sa_detail_add(detail, loc, "missing", "Field required: %s", field);
        return NULL;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max) {
        sa_detail_add(detail, loc, "string_type", "%s should be a string of 1 to %zu characters",
                      field, max);
        return NULL;
    }
    return json_string_value(v);
}

void sa_route_contact_dnc_lift(struct sa_req *r)
{
    if (!sa_param_email(r, 0))
        return;
    json_t *body = sa_req_json(r);
    if (!body)
        return;
    json_t *detail = json_array();
    if (!json_is_object(body))
        sa_detail_add(detail, "body", "dict_type", "Input should be {consent_source, note}");
    const char *source = required_text(body, "consent_source", 200, detail);
    const char *note = required_text(body, "note", 1000, detail);
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v)
    {
        if (strcmp(k, "consent_source") != 0 && strcmp(k, "note") != 0) {
            char loc[80];
            snprintf(loc, sizeof loc, "body.%.60s", k);
            sa_detail_add(detail, loc, "extra_forbidden", "Only consent_source and note are read");
        }
    }
    if (json_array_size(detail) > 0) {
        json_decref(body);
        sa_reply_problem(r, 422, "validation_error", detail);
        return;
    }
    json_decref(detail);
    json_t *contact = NULL;
    struct sa_err err = {0};
    int rc = sa_app_contact_lift(r->app->store, r->params[0], source, note, &contact, &err);
    json_decref(body);
    if (rc)
        sa_reply_failure(r, rc, &err, "path.email", "Lifting do-not-contact");
    else
        sa_reply_json(r, 200, contact);
}
