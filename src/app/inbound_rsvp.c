/* Calendar replies by mail: the sa_inbound_rsvp half of the inbound service (inbound.h). */
#include "app/inbound.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "agents/booking.h"
#include "app/app.h"
#include "app/meetings.h"
#include "base/clock.h"
#include "base/log.h"
#include "connectors/calendar/calendar.h"
#include "connectors/mail/mime.h"
#include "store/store.h"

/* The stored meeting whose invite UID is uid (a new reference in *out), or NULL: looked
 * up by the indexed UID, however many meetings there are (an answer to one long past is
 * still recorded as its own; the RSVP itself refuses a meeting that began). */
static int meeting_by_uid(struct sa_store *st, const char *uid, time_t now, json_t **out,
                          struct sa_err *err)
{
    *out = NULL;
    json_t *rows = NULL;
    const struct sa_meeting_query q = {.ics_uid = uid, .now = (long long)now, .limit = 1};
    int rc = sa_store_meeting_list(st, &q, &rows, err);
    if (!rc && json_array_size(rows))
        *out = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return rc;
}

int sa_inbound_rsvp(struct sa_app *app, const struct sa_mime_msg *m, json_t *res, bool *handled,
                    struct sa_err *err)
{
    *handled = false;
    if (!m->calendar)
        return 0;
    char uid[256], partstat[16], attendee[320];
    struct sa_err pe = {0};
    if (sa_ics_reply_read(m->calendar, strlen(m->calendar), uid, sizeof uid, partstat, attendee,
                          sizeof attendee, &pe))
        return 0; /* not an answer to an invite: the mail is read as a reply */
    *handled = true;
    json_t *rsvp = json_pack("{s:s, s:s, s:s, s:b}", "uid", uid, "partstat", partstat, "attendee",
                             attendee, "applied", 0);
    if (!rsvp)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    json_object_set_new(res, "rsvp", rsvp);
    json_object_set_new(res, "intent", json_null());
    /* an answer is a reply: the follow-ups stop, as for any other */
    int n = 0;
    int rc = m->from_addr ? sa_store_outbox_cancel(app->store, NULL, m->from_addr, "followup",
                                                   "the contact answered the invite", &n, err)
                          : 0;
    json_object_set_new(res, "followups_cancelled", json_integer(n));
    if (rc)
        return rc;
    const char *reason = NULL;
    json_t *meeting = NULL;
    if (!app->booking)
        reason = "no_calendar";
    else if ((rc = meeting_by_uid(app->store, uid, sa_wall_time(), &meeting, err)))
        return rc;
    else if (!meeting)
        reason = "unknown_uid";
    /* the same mailbox (docs/leads.md, "Sub-addresses"): "Maya+cal@X.io" is maya@x.io */
    const char *to = json_string_value(json_object_get(meeting, "attendee"));
    char box_to[320], box_att[320];
    if (!reason && (!to || strcasecmp(sa_store_mailbox(to, box_to, sizeof box_to),
                                      sa_store_mailbox(attendee, box_att, sizeof box_att)) != 0))
        reason = "wrong_attendee"; /* someone else's answer, or another's invite forwarded */
    const char *id = json_string_value(json_object_get(meeting, "id"));
    if (id)
        json_object_set_new(rsvp, "meeting_id", json_string(id));
    json_t *out = NULL;
    struct sa_err re = {0};
    if (!reason) {
        rc = sa_app_meeting_rsvp(app->booking, id, NULL, m->calendar, strlen(m->calendar), &out,
                                 &re);
        if (rc == SA_ECONFLICT || rc == SA_EINVAL || rc == SA_ENOTFOUND) {
            reason = rc == SA_ECONFLICT ? "conflict" : "invalid";
            json_object_set_new(rsvp, "detail", json_string(re.msg));
        } else if (rc) {
            json_decref(meeting);
            return sa_err_set(err, rc, "%s", re.msg);
        }
    }
    if (out) {
        json_object_set_new(rsvp, "applied", json_true());
        json_object_set(rsvp, "status", json_object_get(json_object_get(out, "meeting"), "status"));
        json_decref(out);
    }
    if (reason)
        json_object_set_new(rsvp, "reason", json_string(reason));
    sa_log(reason ? SA_LOG_WARN : SA_LOG_INFO, "inbound calendar reply",
           json_pack("{s:s, s:s, s:s?, s:s?}", "uid", uid, "partstat", partstat, "meeting_id", id,
                     "not_applied", reason));
    json_decref(meeting);
    return 0;
}
