/* Meetings: GET /api/calendar/slots, GET /api/meetings, GET /api/meetings/{meeting_id}
 * and POST /api/meetings/{meeting_id}/rsvp (JSON {partstat} or an iCalendar REPLY). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "app/app.h"
#include "app/crm_sync.h"
#include "app/meetings.h"
#include "base/clock.h"
#include "base/detail.h"
#include "http/http.h"
#include "http/params.h"

/* Query parameter name as an ISO 8601 UTC instant into *out (0 when absent). */
static void query_time(struct sa_req *r, const char *name, time_t *out, json_t *detail)
{
    *out = 0;
    const char *v = sa_req_query(r, name);
    double t;
    char loc[64];
    snprintf(loc, sizeof loc, "query.%s", name);
    if (v && (sa_iso8601_parse(v, &t) || t < 0))
        sa_detail_add(detail, loc, "datetime_parsing",
                      "Input should be an ISO 8601 UTC time, e.g. 2026-12-07T09:00:00Z");
    else if (v)
        *out = (time_t)t;
}

void sa_route_calendar_slots(struct sa_req *r)
{
    json_t *detail = json_array();
    time_t from;
    long days;
    query_time(r, "from", &from, detail);
    sa_query_long(r, "days", 1, 14, 7, &days, detail);
    const char *tz = sa_req_query(r, "timezone");
    json_t *out = NULL;
    struct sa_err err = {0};
    int rc = json_array_size(detail)
                 ? SA_EINVAL
                 : sa_app_calendar_slots(r->app->booking, from, (int)days, tz, &out, &err);
    if (rc == SA_EINVAL && !json_array_size(detail))
        sa_detail_add(detail, "query.timezone", "value_error", "%s", err.msg);
    if (json_array_size(detail)) {
        sa_reply_problem(r, 422, "validation_error", detail);
        return;
    }
    json_decref(detail);
    if (rc)
        sa_reply_unavailable(r, rc, &err, "Reading the calendar");
    else
        sa_reply_json(r, 200, out);
}

void sa_route_meetings_list(struct sa_req *r)
{
    static const char *const statuses[] = {"active",   "held",      "confirmed", "tentative",
                                           "declined", "cancelled", "expired",   NULL};
    json_t *detail = json_array();
    const char *status = sa_query_enum(r, "status", statuses, detail);
    time_t from, to;
    query_time(r, "from", &from, detail);
    query_time(r, "to", &to, detail);
    if (json_array_size(detail)) {
        sa_reply_problem(r, 422, "validation_error", detail);
        return;
    }
    json_decref(detail);
    json_t *out = NULL;
    struct sa_err err = {0};
    int rc = sa_app_meetings_list(r->app->booking, status, from, to, &out, &err);
    if (rc)
        sa_reply_unavailable(r, rc, &err, "Listing meetings");
    else
        sa_reply_json(r, 200, out);
}

void sa_route_meeting_get(struct sa_req *r)
{
    char id[37];
    if (!sa_param_uuid(r, 0, "path.meeting_id", id))
        return;
    json_t *out = NULL;
    struct sa_err err = {0};
    int rc = sa_app_meeting_get(r->app->booking, id, &out, &err);
    if (rc)
        sa_reply_failure(r, rc, &err, "path.meeting_id", "Reading the meeting");
    else
        sa_reply_json(r, 200, out);
}

/* A meeting the RSVP confirmed reaches the CRM (CRM_PROVIDER, issue 15), under the same
 * key as one a conversation turn confirmed (app/invoke.c), so it is pushed once. */
static void crm_meeting(struct sa_app *app, const json_t *m)
{
    const char *status = json_string_value(json_object_get(m, "status"));
    const char *id = json_string_value(json_object_get(m, "id"));
    const json_t *who = json_object_get(m, "attendee");
    const char *email = json_is_string(who) ? json_string_value(who)
                                            : json_string_value(json_object_get(who, "email"));
    if (!app->crm || !status || strcmp(status, "confirmed") != 0 || !id)
        return;
    char activity[96];
    snprintf(activity, sizeof activity, "meeting:%s:%s", id, status);
    sa_crm_sync_activity_logged(app, json_string_value(json_object_get(m, "lead_id")), email,
                                "meeting", activity,
                                json_string_value(json_object_get(m, "summary")),
                                json_string_value(json_object_get(m, "text")));
}

void sa_route_meeting_rsvp(struct sa_req *r)
{
    char id[37];
    if (!sa_param_uuid(r, 0, "path.meeting_id", id))
        return;
    const char *ct = sa_req_header(r, "Content-Type");
    bool ics = ct && strncasecmp(ct, "text/calendar", 13) == 0;
    json_t *body = NULL;
    const char *partstat = NULL;
    if (!ics) {
        if (!(body = sa_req_json(r)))
            return;
        partstat = json_string_value(json_object_get(body, "partstat"));
        if (!partstat || (strcmp(partstat, "ACCEPTED") != 0 && strcmp(partstat, "DECLINED") != 0 &&
                          strcmp(partstat, "TENTATIVE") != 0)) {
            json_decref(body);
            sa_reply_error(r, 422, "validation_error", "body.partstat", "enum",
                           "Input should be 'ACCEPTED', 'DECLINED' or 'TENTATIVE'");
            return;
        }
    }
    const char *data = NULL;
    size_t len = 0;
    sa_req_body(r, &data, &len);
    json_t *out = NULL;
    struct sa_err err = {0};
    int rc = sa_app_meeting_rsvp(r->app->booking, id, partstat, data, len, &out, &err);
    json_decref(body);
    if (rc == SA_EINVAL)
        sa_reply_error(r, 422, "validation_error", "body", "value_error", "%s", err.msg);
    else if (rc)
        sa_reply_failure(r, rc, &err, "path.meeting_id", "Recording the RSVP");
    else {
        crm_meeting(r->app, out);
        sa_reply_json(r, 200, out);
    }
}
