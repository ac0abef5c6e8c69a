/* The meetings service (see meetings.h). */
#include "app/meetings.h"

#include <string.h>

#include "agents/booking.h"
#include "base/clock.h"
#include "connectors/calendar/calendar.h"
#include "store/store.h"

int sa_app_calendar_slots(const struct sa_booking *b, time_t from, int days, const char *tz,
                          json_t **out, struct sa_err *err)
{
    time_t now = sa_wall_time();
    return sa_booking_calendar(b, from > now ? from : now, days, tz, now, out, err);
}

int sa_app_meetings_list(const struct sa_booking *b, const char *status, time_t from, time_t to,
                         json_t **out, struct sa_err *err)
{
    *out = NULL;
    const struct sa_meeting_query q = {.status = status,
                                       .from = (long long)from,
                                       .to = (long long)to,
                                       .now = (long long)sa_wall_time(),
                                       .limit = 500};
    json_t *items = NULL;
    int rc = sa_store_meeting_list(b->store, &q, &items, err);
    if (rc)
        return rc;
    *out = json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(items), "items", items);
    return 0;
}

int sa_app_meeting_get(const struct sa_booking *b, const char *id, json_t **out, struct sa_err *err)
{
    return sa_store_meeting_get(b->store, id, (long long)sa_wall_time(), out, err);
}

int sa_app_meeting_rsvp(const struct sa_booking *b, const char *id, const char *partstat,
                        const char *ics, size_t ics_len, json_t **out, struct sa_err *err)
{
    *out = NULL;
    char uid[256], ps[16];
    time_t now = sa_wall_time();
    if (!partstat) {
        int rc = sa_ics_reply_parse(ics, ics_len, uid, sizeof uid, ps, err);
        if (rc)
            return rc;
        json_t *m = NULL;
        if ((rc = sa_store_meeting_get(b->store, id, (long long)now, &m, err)))
            return rc;
        bool same = strcmp(json_string_value(json_object_get(m, "ics_uid")) ?: "", uid) == 0;
        json_decref(m);
        if (!same)
            return sa_err_set(err, SA_EINVAL, "the reply's UID is not this meeting's invite");
        partstat = ps;
    }
    json_t *meeting = NULL;
    int rc = sa_booking_rsvp(b, id, partstat, now, &meeting, err);
    if (rc)
        return rc;
    *out = json_pack("{s:o, s:s}", "meeting", meeting, "partstat", partstat);
    return 0;
}
