/* Proposing, re-checking and booking meetings with prospects (see booking.h). */
#include "agents/booking.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/uuid.h"
#include "connectors/calendar/calendar.h"
#include "domain/timezone.h"
#include "domain/when.h"
#include "store/store.h"

#define PROPOSE_TRIES 6 /* free slots tried in turn when others win them first */
#define ALTERNATIVES 3

static long long hold_until(const struct sa_booking *b, time_t now)
{
    return (long long)now + (long long)(b->hold_hours > 0 ? b->hold_hours : 48) * 3600;
}

/* The seller's calendar limited to the prospect's zone and free of the store's active
 * meetings (other than skip_id): fills *c and *busy (malloc'd, the caller frees it;
 * c->busy points into it). */
static int calendar_for(const struct sa_booking *b, const char *guest_tz, const char *skip_id,
                        time_t now, struct sa_calendar *c, struct sa_busy **busy,
                        struct sa_err *err)
{
    *busy = NULL;
    *c = *b->calendar;
    snprintf(c->guest_tz, sizeof c->guest_tz, "%s", guest_tz ? guest_tz : "");
    json_t *rows = NULL;
    const struct sa_meeting_query q = {.status = "active",
                                       .from = (long long)now - 86400,
                                       .to = (long long)now + (SA_CAL_HORIZON_DAYS + 2) * 86400LL,
                                       .now = (long long)now,
                                       .limit = 1000};
    int rc = sa_store_meeting_list(b->store, &q, &rows, err);
    if (rc)
        return rc;
    size_t n = json_array_size(rows), k = 0;
    *busy = calloc(n ? n : 1, sizeof **busy);
    if (!*busy) {
        json_decref(rows);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *m = json_array_get(rows, i);
        const char *id = json_string_value(json_object_get(m, "id"));
        if (skip_id && id && strcmp(id, skip_id) == 0)
            continue;
        (*busy)[k++] =
            (struct sa_busy){.start = (time_t)json_integer_value(json_object_get(m, "start_unix")),
                             .end = (time_t)json_integer_value(json_object_get(m, "end_unix"))};
    }
    json_decref(rows);
    c->busy = *busy;
    c->n_busy = k;
    return 0;
}

static void iso(time_t t, char out[SA_ISO8601_LEN])
{
    sa_iso8601_format(t, out);
}

static void summary_for(const struct sa_booking *b, const struct sa_booking_who *who, char *out,
                        size_t cap)
{
    snprintf(out, cap, "Intro call: %s and %s",
             who->company && *who->company ? who->company : "you",
             b->organizer_name ? b->organizer_name : "us");
}

static int ics_for(const struct sa_booking *b, const struct sa_booking_who *who,
                   const json_t *meeting, bool confirmed, bool cancelled, char **ics,
                   struct sa_err *err)
{
    char summary[300];
    summary_for(b, who, summary, sizeof summary);
    const char *text = json_string_value(json_object_get(meeting, "text"));
    struct sa_ics inv = {
        .uid = json_string_value(json_object_get(meeting, "ics_uid")),
        .start = (time_t)json_integer_value(json_object_get(meeting, "start_unix")),
        .end = (time_t)json_integer_value(json_object_get(meeting, "end_unix")),
        .summary = summary,
        .description = text ? text : "A short call to see whether we can help.",
        .location = b->meeting_link,
        .url = b->meeting_link,
        .organizer_name = b->organizer_name,
        .organizer_email = b->organizer_email,
        .attendee_name = who->name,
        .attendee_email = who->email,
        .sequence = (int)json_integer_value(json_object_get(meeting, "sequence")),
        .confirmed = confirmed,
        .cancelled = cancelled,
    };
    return sa_ics_invite(&inv, ics, err);
}

int sa_booking_ics(const struct sa_booking *b, const struct sa_booking_who *who,
                   const json_t *meeting, bool confirmed, char **ics, struct sa_err *err)
{
    return ics_for(b, who, meeting, confirmed, false, ics, err);
}

/* The meeting as the agents carry it: the stored row plus how the prospect reads it, the
 * e-mail's sentence and the invite. Takes row; returns a new object or NULL. */
static json_t *decorate(const struct sa_booking *b, const struct sa_booking_who *who, json_t *row,
                        struct sa_err *err)
{
    const char *tz = json_string_value(json_object_get(row, "timezone"));
    time_t start = (time_t)json_integer_value(json_object_get(row, "start_unix"));
    time_t end = (time_t)json_integer_value(json_object_get(row, "end_unix"));
    char local[96], local_end[96], start_iso[SA_ISO8601_LEN], summary[300];
    sa_calendar_format_local(tz, start, local, sizeof local);
    sa_calendar_format_local(tz, end, local_end, sizeof local_end);
    iso(start, start_iso);
    summary_for(b, who, summary, sizeof summary);
    const char *status = json_string_value(json_object_get(row, "status"));
    bool confirmed = status && strcmp(status, "confirmed") == 0;
    char text[700];
    if (confirmed)
        snprintf(text, sizeof text,
                 "You are booked for %s (%s) for %d minutes. The invite is attached; the call "
                 "is at %s.",
                 local, start_iso, (int)((end - start) / 60), b->meeting_link);
    else
        snprintf(text, sizeof text,
                 "Would %s (%s) suit you for a %d-minute call? I am holding that time for you "
                 "and attached an invite: accept it and it is booked. The call is at %s.",
                 local, start_iso, (int)((end - start) / 60), b->meeting_link);
    json_object_set_new(row, "uid", json_incref(json_object_get(row, "ics_uid")));
    json_object_set_new(row, "minutes", json_integer((json_int_t)((end - start) / 60)));
    json_object_set_new(row, "local", json_string(local));
    json_object_set_new(row, "local_end", json_string(local_end));
    json_object_set_new(row, "summary", json_string(summary));
    json_object_set_new(row, "text", json_string(text));
    char *ics = NULL;
    if (sa_booking_ics(b, who, row, confirmed, &ics, err)) {
        json_decref(row);
        return NULL;
    }
    json_object_set_new(row, "ics", json_string(ics));
    free(ics);
    return row;
}

/* Queues the meeting's (updated) invite to the attendee through the outbox, under the key
 * meeting:<id>:<sequence>, so a turn or RSVP that runs twice queues it once; consent is
 * checked by the outbox when it leaves. Sets meeting.invite_queued. */
static int queue_invite(const struct sa_booking *b, const struct sa_booking_who *who,
                        json_t *meeting, time_t now, struct sa_err *err)
{
    const char *mid = json_string_value(json_object_get(meeting, "id"));
    if (!who->email || !mid)
        return 0;
    char key[96], id[SA_UUID_LEN], subject[400];
    snprintf(key, sizeof key, "meeting:%s:%lld", mid,
             (long long)json_integer_value(json_object_get(meeting, "sequence")));
    sa_uuid_v7(id);
    snprintf(subject, sizeof subject, "Invitation: %s @ %s",
             json_string_value(json_object_get(meeting, "summary")) ?: "Meeting",
             json_string_value(json_object_get(meeting, "local")) ?: "");
    json_t *p = json_pack("{s:{s:s?, s:s?}, s:s?, s:s, s:O, s:O, s:s}", "from", "name",
                          b->organizer_name, "email", b->organizer_email, "to_name", who->name,
                          "subject", subject, "body", json_object_get(meeting, "text"), "ics",
                          json_object_get(meeting, "ics"), "meeting_id", mid);
    char *payload = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    if (!payload)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    const struct sa_outbox_item it = {.id = id,
                                      .idempotency_key = key,
                                      .kind = "invite",
                                      .thread_id = who->thread_id,
                                      .lead_id = who->lead_id,
                                      .to_email = who->email,
                                      .payload = payload,
                                      .due_at = (long long)now};
    int added = 0;
    int rc = sa_store_outbox_add(b->store, &it, 1, &added, err);
    free(payload);
    if (!rc)
        json_object_set_new(meeting, "invite_queued", json_true());
    return rc;
}

/* {start, end, start_unix, local} for each slot. */
static json_t *slot_list(const char *tz, const time_t *starts, int n, int minutes)
{
    json_t *out = json_array();
    for (int i = 0; i < n; i++) {
        char s[SA_ISO8601_LEN], e[SA_ISO8601_LEN], local[96];
        iso(starts[i], s);
        iso(starts[i] + (time_t)minutes * 60, e);
        sa_calendar_format_local(tz, starts[i], local, sizeof local);
        json_array_append_new(out,
                              json_pack("{s:s, s:s, s:i, s:I, s:s, s:s}", "start", s, "end", e,
                                        "minutes", minutes, "start_unix", (json_int_t)starts[i],
                                        "local", local, "timezone", tz));
    }
    return out;
}

/* Holds the first of starts[0..n) the store grants as a new meeting (status: "held" or
 * "confirmed"); *row is the stored meeting, or NULL when every one was taken. */
static int hold_first(const struct sa_booking *b, const struct sa_booking_who *who,
                      const struct sa_lead_tz *tz, const time_t *starts, int n, const char *status,
                      time_t now, int *used, json_t **row, struct sa_err *err)
{
    *row = NULL;
    *used = -1;
    for (int i = 0; i < n; i++) {
        char id[SA_UUID_LEN], uid[SA_ICS_UID_LEN];
        sa_uuid_v7(id);
        sa_ics_uid(id, uid);
        const struct sa_meeting_row m = {
            .id = id,
            .lead_id = who->lead_id,
            .thread_id = who->thread_id,
            .attendee = who->email,
            .timezone = tz->zone,
            .tz_source = sa_tz_source_name(tz->source),
            .ics_uid = uid,
            .start = starts[i],
            .end = starts[i] + (long long)b->calendar->slot_minutes * 60,
            .hold_until = hold_until(b, now),
            .status = status,
        };
        int rc = sa_store_meeting_hold(b->store, &m, (long long)now, row, err);
        if (rc == 0) {
            *used = i;
            return 0;
        }
        if (rc != SA_ECONFLICT)
            return rc;
    }
    return 0;
}

/* Why a lost race re-reads the calendar: a slot another draft took a moment ago shifts
 * the next free one (its half hour's neighbour, not the next half day), so after a
 * conflict the slots are computed again from the store rather than taken from the list. */
int sa_booking_propose(const struct sa_booking *b, const struct sa_booking_who *who, time_t now,
                       json_t **meeting, json_t **alternatives, struct sa_err *err)
{
    *meeting = NULL;
    if (alternatives)
        *alternatives = NULL;
    struct sa_lead_tz tz;
    sa_lead_timezone(who->lead, b->calendar->tz, sa_calendar_zone_known, &tz);
    time_t starts[1 + ALTERNATIVES];
    int n = 0;
    json_t *row = NULL;
    for (int attempt = 0; attempt < PROPOSE_TRIES && !row; attempt++) {
        struct sa_calendar c;
        struct sa_busy *busy = NULL;
        int rc = calendar_for(b, tz.zone, NULL, now, &c, &busy, err);
        n = rc ? 0 : sa_calendar_slots(&c, now, 1 + ALTERNATIVES, starts);
        free(busy);
        if (rc)
            return rc;
        if (n < 0)
            return sa_err_set(err, n, "the calendar cannot propose slots");
        if (n == 0)
            break;
        int used = -1;
        if ((rc = hold_first(b, who, &tz, starts, 1, "held", now, &used, &row, err)))
            return rc;
    }
    if (!row) {
        *meeting = json_null();
        if (alternatives)
            *alternatives = json_array();
        return 0;
    }
    if (!(*meeting = decorate(b, who, row, err)))
        return err->code ? err->code : SA_ENOMEM;
    if (alternatives)
        *alternatives = slot_list(tz.zone, starts + 1, n - 1, b->calendar->slot_minutes);
    return 0;
}

int sa_booking_release(const struct sa_booking *b, const char *meeting_id, time_t now,
                       struct sa_err *err)
{
    return sa_booking_cancel(b, meeting_id, "released", now, NULL, err);
}

/* Moves the stored meeting id to the next free slot for its zone; *updated the new
 * meeting, or JSON null (and the hold cancelled) when none is free. */
static int move_to_next(const struct sa_booking *b, const struct sa_booking_who *who,
                        const json_t *stored, time_t now, json_t **updated, struct sa_err *err)
{
    const char *id = json_string_value(json_object_get(stored, "id"));
    const char *tz = json_string_value(json_object_get(stored, "timezone"));
    for (int attempt = 0; attempt < PROPOSE_TRIES; attempt++) { /* see sa_booking_propose */
        struct sa_calendar c;
        struct sa_busy *busy = NULL;
        time_t start;
        int rc = calendar_for(b, tz, id, now, &c, &busy, err);
        int n = rc ? 0 : sa_calendar_slots(&c, now, 1, &start);
        free(busy);
        if (rc)
            return rc;
        if (n <= 0)
            break;
        json_t *row = NULL;
        long long end = start + (long long)b->calendar->slot_minutes * 60;
        rc = sa_store_meeting_move(b->store, id, start, end, hold_until(b, now), (long long)now,
                                   &row, err);
        if (rc == 0) {
            *updated = decorate(b, who, row, err);
            return *updated ? 0 : (err->code ? err->code : SA_ENOMEM);
        }
        if (rc != SA_ECONFLICT)
            return rc;
    }
    *updated = json_null();
    return sa_booking_release(b, id, now, err);
}

int sa_booking_keep(const struct sa_booking *b, const char *meeting_id, long long proposed,
                    time_t now, bool *ok, bool *release, struct sa_err *err)
{
    *ok = *release = false;
    json_t *m = NULL;
    int rc = sa_store_meeting_get(b->store, meeting_id, (long long)now, &m, err);
    if (rc)
        return rc == SA_ENOTFOUND ? 0 : rc;
    const char *status = json_string_value(json_object_get(m, "status"));
    long long start = json_integer_value(json_object_get(m, "start_unix"));
    long long end = json_integer_value(json_object_get(m, "end_unix"));
    bool ahead = start >= (long long)now + (long long)b->calendar->notice_minutes * 60;
    bool open = status && (strcmp(status, "held") == 0 || strcmp(status, "expired") == 0);
    bool answered =
        status && (strcmp(status, "tentative") == 0 || strcmp(status, "confirmed") == 0);
    if (start != proposed) {
        /* moved since it was proposed (the prospect named another time): theirs is newer */
    } else if (ahead && answered) {
        *ok = true;
    } else if (ahead && open) {
        json_t *row = NULL;
        rc = sa_store_meeting_move(b->store, meeting_id, start, end, hold_until(b, now),
                                   (long long)now, &row, err);
        json_decref(row);
        *ok = rc == 0;
        *release = rc == SA_ECONFLICT; /* lapsed, and another meeting has the slot */
        if (rc == SA_ECONFLICT || rc == SA_ENOTFOUND)
            rc = 0;
    } else if (!ahead && (open || answered)) {
        *release = true; /* passed */
    }
    json_decref(m);
    return rc;
}

int sa_booking_recheck(const struct sa_booking *b, const struct sa_booking_who *who,
                       const json_t *meeting, time_t now, json_t **updated, struct sa_err *err)
{
    *updated = NULL;
    const char *id = json_string_value(json_object_get(meeting, "id"));
    if (!id)
        return 0;
    json_t *stored = NULL;
    int rc = sa_store_meeting_get(b->store, id, (long long)now, &stored, err);
    if (rc == SA_ENOTFOUND)
        return 0; /* erased with its lead: nothing to re-check */
    if (rc)
        return rc;
    const char *status = json_string_value(json_object_get(stored, "status"));
    time_t start = (time_t)json_integer_value(json_object_get(stored, "start_unix"));
    time_t end = (time_t)json_integer_value(json_object_get(stored, "end_unix"));
    const char *reason = NULL;
    if (start < now + (time_t)b->calendar->notice_minutes * 60)
        reason = "passed";
    else if (strcmp(status, "expired") == 0 || strcmp(status, "cancelled") == 0 ||
             strcmp(status, "declined") == 0) {
        /* the hold lapsed: renew it on the same slot if nobody took it meanwhile */
        json_t *row = NULL;
        rc = sa_store_meeting_move(b->store, id, start, end, hold_until(b, now), (long long)now,
                                   &row, err);
        if (rc == 0) {
            json_decref(stored);
            *updated = decorate(b, who, row, err);
            return *updated ? 0 : (err->code ? err->code : SA_ENOMEM);
        }
        if (rc != SA_ECONFLICT) {
            json_decref(stored);
            return rc;
        }
        reason = "taken";
    }
    if (!reason) {
        json_decref(stored);
        return 0;
    }
    rc = move_to_next(b, who, stored, now, updated, err);
    if (!rc && json_is_object(*updated))
        json_object_set_new(
            *updated, "rescheduled",
            json_pack("{s:O, s:O, s:s}", "from", json_object_get(stored, "start"), "from_local",
                      json_object_get(meeting, "local") ? json_object_get(meeting, "local")
                                                        : json_null(),
                      "reason", reason));
    json_decref(stored);
    return rc;
}

/* ---- a reply naming a time --------------------------------------------------------- */

/* The UTC instant a parsed time means: in the zone the text named, else the prospect's. */
static int when_to_utc(const struct sa_when *w, const char *prospect_tz, time_t *out)
{
    const char *tz = w->zone[0] ? w->zone : prospect_tz;
    return sa_calendar_utc(tz, w->year, w->month, w->day, w->minute, out);
}

/* The prospect's own meeting still ahead: held for them by a draft (its hold perhaps
 * lapsed), tentative or booked; the earliest when several. A reply naming a time answers
 * it or moves it, so the prospect never gets a second invite beside the first. Sets *own
 * to a new reference or NULL. */
static int own_meeting(const struct sa_booking *b, const char *email, time_t now, json_t **own,
                       struct sa_err *err)
{
    *own = NULL;
    if (!email)
        return 0;
    json_t *rows = NULL;
    const struct sa_meeting_query q = {.from = (long long)now + 1,
                                       .to = (long long)now + (SA_CAL_HORIZON_DAYS + 2) * 86400LL,
                                       .now = (long long)now,
                                       .limit = 1000};
    int rc = sa_store_meeting_list(b->store, &q, &rows, err);
    if (rc)
        return rc;
    size_t i;
    json_t *m;
    json_array_foreach(rows, i, m)
    {
        const char *to = json_string_value(json_object_get(m, "attendee"));
        const char *st = json_string_value(json_object_get(m, "status"));
        bool mine = to && strcasecmp(to, email) == 0;
        bool live = st && (strcmp(st, "held") == 0 || strcmp(st, "expired") == 0 ||
                           strcmp(st, "tentative") == 0 || strcmp(st, "confirmed") == 0);
        if (mine && live &&
            json_integer_value(json_object_get(m, "start_unix")) > (json_int_t)now) {
            *own = json_incref(m);
            break;
        }
    }
    json_decref(rows);
    return 0;
}

/* Books the prospect's own meeting at `at`: the one held for them is confirmed where it is,
 * or moved there (same invite UID, next SEQUENCE) and confirmed; the updated invite is
 * queued. Sets extra.meeting; SA_ECONFLICT when another meeting took the time meanwhile. */
static int book_own(const struct sa_booking *b, const struct sa_booking_who *who, const json_t *own,
                    time_t at, time_t now, json_t *extra, struct sa_err *err)
{
    const char *id = json_string_value(json_object_get(own, "id"));
    const char *status = json_string_value(json_object_get(own, "status"));
    bool same = (time_t)json_integer_value(json_object_get(own, "start_unix")) == at;
    json_t *row = NULL;
    int rc = 0;
    if (same && status && strcmp(status, "confirmed") == 0) {
        /* booked already: say so again, no new invite */
        if ((rc = sa_store_meeting_get(b->store, id, (long long)now, &row, err)))
            return rc;
        json_t *m = decorate(b, who, row, err);
        if (!m)
            return err->code ? err->code : SA_ENOMEM;
        json_object_set_new(extra, "meeting", m);
        return 0;
    }
    if (!same) {
        long long end = (long long)at + (long long)b->calendar->slot_minutes * 60;
        if ((rc = sa_store_meeting_move(b->store, id, (long long)at, end, hold_until(b, now),
                                        (long long)now, &row, err)))
            return rc;
        json_decref(row);
        row = NULL;
    }
    if ((rc = sa_store_meeting_set_status(b->store, id, "confirmed", "ACCEPTED", (long long)now,
                                          &row, err)))
        return rc;
    json_t *m = decorate(b, who, row, err);
    if (!m)
        return err->code ? err->code : SA_ENOMEM;
    if (!same) {
        char from_local[96];
        sa_calendar_format_local(json_string_value(json_object_get(own, "timezone")),
                                 (time_t)json_integer_value(json_object_get(own, "start_unix")),
                                 from_local, sizeof from_local);
        json_object_set_new(m, "rescheduled",
                            json_pack("{s:O, s:s, s:s}", "from", json_object_get(own, "start"),
                                      "from_local", from_local, "reason", "requested"));
    }
    rc = queue_invite(b, who, m, now, err);
    json_object_set_new(extra, "meeting", m);
    return rc;
}

static bool intent_is(const char *intent, const char *name)
{
    return intent && strcmp(intent, name) == 0;
}

/* The intents a plain "yes" may come with: a reply the model files as a request of its
 * own ("Yes, send the pricing") is not read as accepting the meeting. With no intent (the
 * model was unsure) only the strict reading of the words vouches for it. */
static bool accepting_intent(const char *intent, const char *message)
{
    static const char *const ok[] = {"meeting_scheduling", "demo_request", "greeting", "other"};
    if (!intent)
        return sa_when_is_strict_acceptance(message);
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (intent_is(intent, ok[i]))
            return true;
    return false;
}

/* "Yes, that works" to the one time we proposed: confirms the prospect's own meeting (see
 * sa_booking_reply). Returns 0 when it did (extra.meeting set), 1 when the reply is not
 * read as that acceptance (the caller goes on as for any reply), or a store error. */
static int accept_own(const struct sa_booking *b, const struct sa_booking_who *who,
                      const struct sa_when_today *today, const char *tz, const char *message,
                      const char *intent, time_t now, json_t *extra, struct sa_err *err)
{
    if (who->offered_slots > 1 || !accepting_intent(intent, message))
        return 1; /* several were offered, or it asks for something else: a person reads it */
    json_t *own = NULL;
    int rc = own_meeting(b, who->email, now, &own, err);
    if (rc)
        return rc;
    const char *st = json_string_value(json_object_get(own, "status"));
    time_t start = (time_t)json_integer_value(json_object_get(own, "start_unix"));
    bool proposed = st && (strcmp(st, "held") == 0 || strcmp(st, "expired") == 0 ||
                           strcmp(st, "tentative") == 0);
    /* "Parfait, à jeudi": a day it names must be the meeting's */
    struct sa_when d;
    struct sa_local_time lt;
    if (proposed && sa_when_parse_day(message, today, &d) && d.day_only &&
        (sa_calendar_local(tz, start, &lt) || lt.year != d.year || lt.month != d.month ||
         lt.day != d.day))
        proposed = false;
    if (!proposed) {
        json_decref(own);
        return 1;
    }
    rc = book_own(b, who, own, start, now, extra, err);
    json_decref(own);
    if (rc == SA_ECONFLICT) { /* the lapsed hold's slot went to another meanwhile */
        json_object_del(extra, "meeting");
        return 1;
    }
    if (!rc)
        json_object_set_new(extra, "meeting_accepted", json_true());
    return rc;
}

static int reply(const struct sa_booking *b, const struct sa_booking_who *who, const char *message,
                 const char *intent, time_t now, json_t *extra, struct sa_err *err)
{
    struct sa_lead_tz tz;
    sa_lead_timezone(who->lead, b->calendar->tz, sa_calendar_zone_known, &tz);
    struct sa_local_time lt;
    if (sa_calendar_local(tz.zone, now, &lt))
        return 0;
    const struct sa_when_today today = {.year = lt.year,
                                        .month = lt.month,
                                        .day = lt.day,
                                        .weekday = lt.weekday,
                                        .minute = lt.hour * 60 + lt.minute};
    struct sa_when w;
    /* a time the reply rules out ("Monday at 9 does not work") is not booked */
    bool named = message && sa_when_parse(message, &today, &w) && !w.negated;
    time_t at = 0;
    if (named && when_to_utc(&w, tz.zone, &at))
        named = false;
    if (!named && message && who->email && sa_when_is_acceptance(message)) {
        int ar = accept_own(b, who, &today, tz.zone, message, intent, now, extra, err);
        if (ar != 1)
            return ar;
    }
    if (!named && !intent_is(intent, "meeting_scheduling") && !intent_is(intent, "demo_request"))
        return 0;
    /* the prospect's own meeting does not make their named time "taken" */
    json_t *own = NULL;
    int rc = named ? own_meeting(b, who->email, now, &own, err) : 0;
    if (rc)
        return rc;
    /* "Monday at 9 works", said on the Monday of the 9:00 they were offered: today's */
    time_t today_at;
    if (own && w.weekday_is_today &&
        !sa_calendar_utc(w.zone[0] ? w.zone : tz.zone, today.year, today.month, today.day, w.minute,
                         &today_at) &&
        today_at > now &&
        (time_t)json_integer_value(json_object_get(own, "start_unix")) == today_at)
        at = today_at;
    struct sa_calendar c;
    struct sa_busy *busy = NULL;
    rc = calendar_for(b, tz.zone, json_string_value(json_object_get(own, "id")), now, &c, &busy,
                      err);
    if (rc) {
        json_decref(own);
        return rc;
    }
    const char *why = NULL;
    if (named) {
        char at_iso[SA_ISO8601_LEN], local[96];
        iso(at, at_iso);
        sa_calendar_format_local(tz.zone, at, local, sizeof local);
        bool own_time =
            own && at > now && (time_t)json_integer_value(json_object_get(own, "start_unix")) == at;
        if (own && (own_time || sa_calendar_slot_ok(&c, now, at))) {
            /* the time held for them (even within the notice: it is theirs), or another
             * free one their meeting moves to */
            rc = book_own(b, who, own, at, now, extra, err);
            json_decref(own);
            own = NULL;
            if (rc != SA_ECONFLICT) {
                free(busy);
                return rc;
            }
            json_object_del(extra, "meeting");
            why = "taken";
        } else if (!who->email)
            why = "no_contact_email";
        else if (sa_calendar_slot_ok(&c, now, at)) {
            json_t *row = NULL;
            int used = -1;
            rc = hold_first(b, who, &tz, &at, 1, "confirmed", now, &used, &row, err);
            if (rc) {
                free(busy);
                return rc;
            }
            if (row) {
                free(busy);
                char mid[64];
                snprintf(mid, sizeof mid, "%s",
                         json_string_value(json_object_get(row, "id")) ?: "");
                json_t *m = decorate(b, who, row, err);
                rc = m ? queue_invite(b, who, m, now, err) : err->code ? err->code : SA_ENOMEM;
                if (m)
                    json_object_set_new(extra, "meeting", m);
                if (rc && mid[0]) { /* no invite went out: the booking is withdrawn, not left
                                     * confirmed with nobody told */
                    struct sa_err e2 = {0};
                    if (sa_store_meeting_set_status(b->store, mid, "cancelled", NULL,
                                                    (long long)now, NULL, &e2))
                        sa_log(SA_LOG_WARN, "booking: withdrawing the meeting failed",
                               json_pack("{s:s, s:s}", "meeting_id", mid, "error", e2.msg));
                }
                return rc;
            }
            why = "taken";
        } else {
            struct sa_calendar open = c; /* free but for the store's meetings? */
            open.busy = NULL;
            open.n_busy = 0;
            why = at < now + (time_t)c.notice_minutes * 60 ? "passed"
                  : sa_calendar_slot_ok(&open, now, at)    ? "taken"
                                                           : "unavailable";
        }
        json_object_set_new(extra, "meeting_requested",
                            json_pack("{s:s, s:s, s:s, s:s}", "start", at_iso, "local", local,
                                      "timezone", w.zone[0] ? w.zone : tz.zone, "reason", why));
    }
    /* the nearest free slots from the named time on (from now when none was named) */
    time_t from = now;
    if (named && at - (time_t)12 * 3600 > now)
        from = at - (time_t)12 * 3600;
    struct sa_when d; /* "tomorrow morning", "Thursday afternoon": from then */
    time_t day_from;
    if (!named && message && sa_when_parse_day(message, &today, &d) && d.day_only &&
        !sa_calendar_utc(tz.zone, d.year, d.month, d.day, d.minute, &day_from) && day_from > now)
        from = day_from;
    time_t starts[ALTERNATIVES];
    int n = sa_calendar_slots(&c, from, ALTERNATIVES, starts);
    free(busy);
    json_decref(own);
    json_object_set_new(extra, "meeting_slots",
                        slot_list(tz.zone, starts, n > 0 ? n : 0, b->calendar->slot_minutes));
    return 0;
}

/* The stored lead whose contact is email (its input, for the zone, and its id), or NULL. */
static json_t *lead_of(const struct sa_booking *b, const char *email, char id[37])
{
    id[0] = '\0';
    json_t *lead = NULL;
    struct sa_err e = {0};
    if (!email || sa_store_lead_by_email(b->store, email, id, NULL, &e) ||
        sa_store_get_lead(b->store, id, &lead, &e)) {
        id[0] = '\0';
        return NULL;
    }
    json_t *data = json_incref(json_object_get(lead, "data"));
    json_decref(lead);
    return data;
}

int sa_booking_reply(const struct sa_booking *b, const struct sa_booking_who *in,
                     const char *message, const char *intent, time_t now, json_t *extra,
                     struct sa_err *err)
{
    /* a reply from a stored lead's contact: read the time in that lead's zone */
    char lead_id[37];
    json_t *data = in->lead ? NULL : lead_of(b, in->email, lead_id);
    struct sa_booking_who w = *in;
    if (data) {
        w.lead = data;
        w.lead_id = lead_id;
    }
    int rc = reply(b, &w, message, intent, now, extra, err);
    json_decref(data);
    return rc;
}

/* ---- the calendar view and RSVPs ---------------------------------------------------- */

int sa_booking_calendar(const struct sa_booking *b, time_t from, int days, const char *tz,
                        time_t now, json_t **out, struct sa_err *err)
{
    *out = NULL;
    if (tz && *tz && !sa_calendar_zone_known(tz))
        return sa_err_set(err, SA_EINVAL, "unknown time zone %.80s", tz);
    const char *shown = tz && *tz ? tz : b->calendar->tz;
    json_t *rows = NULL;
    const long long to = (long long)from + (long long)days * 86400;
    const struct sa_meeting_query q = {.status = "active",
                                       .from = (long long)from,
                                       .to = to,
                                       .now = (long long)now,
                                       .limit = 1000};
    int rc = sa_store_meeting_list(b->store, &q, &rows, err);
    if (rc)
        return rc;
    struct sa_calendar c = *b->calendar;
    snprintf(c.guest_tz, sizeof c.guest_tz, "%s", tz && *tz ? tz : "");
    c.busy = NULL;
    c.n_busy = 0;
    const time_t step = (time_t)c.slot_minutes * 60;
    time_t t = from - from % 1800 + (from % 1800 ? 1800 : 0);
    json_t *slots = json_array();
    for (; t < (time_t)to && json_array_size(slots) < 2000; t += 1800) {
        if (!sa_calendar_slot_ok(&c, now, t))
            continue;
        const json_t *taken = NULL;
        for (size_t i = 0; i < json_array_size(rows) && !taken; i++) {
            const json_t *m = json_array_get(rows, i);
            if (t < (time_t)json_integer_value(json_object_get(m, "end_unix")) &&
                t + step > (time_t)json_integer_value(json_object_get(m, "start_unix")))
                taken = m;
        }
        char s[SA_ISO8601_LEN], e[SA_ISO8601_LEN], local[96];
        iso(t, s);
        iso(t + step, e);
        sa_calendar_format_local(shown, t, local, sizeof local);
        json_t *slot = json_pack(
            "{s:s, s:s, s:I, s:s, s:s}", "start", s, "end", e, "start_unix", (json_int_t)t, "local",
            local, "status", taken ? json_string_value(json_object_get(taken, "status")) : "free");
        if (taken)
            json_object_set(slot, "meeting_id", json_object_get(taken, "id"));
        json_array_append_new(slots, slot);
    }
    json_decref(rows);
    char f[SA_ISO8601_LEN];
    iso(from, f);
    *out = json_pack("{s:s, s:s, s:s, s:i, s:i, s:o}", "timezone", shown, "seller_timezone",
                     b->calendar->tz, "from", f, "days", days, "minutes", c.slot_minutes, "slots",
                     slots);
    return *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}

int sa_booking_rsvp(const struct sa_booking *b, const char *id, const char *partstat, time_t now,
                    json_t **out, struct sa_err *err)
{
    *out = NULL;
    const char *status = NULL;
    if (partstat && strcmp(partstat, "ACCEPTED") == 0)
        status = "confirmed";
    else if (partstat && strcmp(partstat, "DECLINED") == 0)
        status = "declined";
    else if (partstat && strcmp(partstat, "TENTATIVE") == 0)
        status = "tentative";
    if (!status)
        return sa_err_set(err, SA_EINVAL, "partstat is ACCEPTED, DECLINED or TENTATIVE");
    json_t *row = NULL;
    /* an answer that comes after the meeting began changes nothing (a late "yes" to a call
     * that has passed would otherwise confirm it and send a new invite) */
    int rc = sa_store_meeting_get(b->store, id, (long long)now, &row, err);
    if (rc)
        return rc;
    double start = 0;
    bool begun = sa_iso8601_parse(json_string_value(json_object_get(row, "start")), &start) == 0 &&
                 start <= (double)now;
    /* nor does one to a cancelled meeting (opted out, or a lapsed hold withdrawn): it would
     * confirm it and send an invite, and the sweep a second CANCEL */
    const char *was = json_string_value(json_object_get(row, "status"));
    bool cancelled = was && strcmp(was, "cancelled") == 0;
    json_decref(row);
    row = NULL;
    if (cancelled)
        return sa_err_set(err, SA_ECONFLICT,
                          "the meeting was cancelled: propose a new time instead of answering "
                          "this one");
    if (begun)
        return sa_err_set(err, SA_ECONFLICT,
                          "the meeting began already: propose a new time instead of answering "
                          "this one");
    rc = sa_store_meeting_set_status(b->store, id, status, partstat, (long long)now, &row, err);
    if (rc)
        return rc;
    const struct sa_booking_who who = {
        .lead_id = json_string_value(json_object_get(row, "lead_id")),
        .thread_id = json_string_value(json_object_get(row, "thread_id")),
        .email = json_string_value(json_object_get(row, "attendee"))};
    /* an invite needs an attendee: a meeting without one is returned as stored */
    if (!who.email) {
        *out = row;
        return 0;
    }
    if (!(*out = decorate(b, &who, row, err)))
        return err->code ? err->code : SA_ENOMEM;
    /* accepted: the organiser confirms with the updated invite (STATUS:CONFIRMED) */
    return strcmp(status, "confirmed") == 0 ? queue_invite(b, &who, *out, now, err) : 0;
}

/* ---- cancellations (METHOD:CANCEL) ----------------------------------------------------- */

/* Why the invite's paper trail, not a flag on the meeting, says whether the prospect has
 * an event to withdraw: an invite reaches them only in an outbox item (the BDR's first
 * e-mail or an "invite"), so the item that was sent with its ics is the proof, and one
 * still queued or sending may yet go (its CANCEL waits for it, ordered after it, and is
 * dropped at send time when it went without the invite). The worker marks an e-mail that
 * left without its invite with SA_BOOKING_NO_INVITE_NOTE (outbox.c), so a proposal that
 * passed before it left never earns a cancellation. */
int sa_booking_invite_state(const struct sa_booking *b, const char *meeting_id, const char *email,
                            bool *sent, bool *pending, struct sa_err *err)
{
    *sent = *pending = false;
    if (!meeting_id || !email)
        return 0;
    json_t *items = NULL;
    int rc = sa_store_outbox_list(b->store, NULL, email, 1000, &items, err);
    if (rc)
        return rc;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        const json_t *p = json_object_get(it, "payload");
        const char *kind = json_string_value(json_object_get(it, "kind"));
        const char *mid = json_string_value(json_object_get(p, "meeting_id"));
        const char *st = json_string_value(json_object_get(it, "status"));
        const char *note = json_string_value(json_object_get(it, "last_error"));
        if (!kind || (strcmp(kind, "email") != 0 && strcmp(kind, "invite") != 0) || !mid ||
            strcmp(mid, meeting_id) != 0 || !json_is_string(json_object_get(p, "ics")) || !st)
            continue;
        if (strcmp(st, "sent") == 0 &&
            !(note &&
              strncmp(note, SA_BOOKING_NO_INVITE_NOTE, sizeof SA_BOOKING_NO_INVITE_NOTE - 1) == 0))
            *sent = true;
        else if (strcmp(st, "queued") == 0 || strcmp(st, "sending") == 0)
            *pending = true;
    }
    json_decref(items);
    return 0;
}

/* The e-mail's sentence for a cancellation, by reason. Each is bare: no offer, no
 * question, no call to action, only what the attached cancellation does, since a
 * cancellation is transactional and goes outside the send windows and caps (outbox.c);
 * a sales line in it would be a prospecting mail sent past those rules. */
static void cancel_text(const char *reason, const char *local, char *out, size_t cap)
{
    if (reason && strcmp(reason, "opt_out") == 0)
        snprintf(out, cap,
                 "As you asked, we will not contact you again. This withdraws the invitation "
                 "for %s from your calendar.",
                 local);
    else if (reason && strcmp(reason, "expired") == 0)
        snprintf(out, cap,
                 "I had held %s for you; as I did not hear back, I have released that time and "
                 "withdrawn the invitation from your calendar.",
                 local);
    else
        snprintf(out, cap,
                 "The call proposed for %s is cancelled and the invitation withdrawn from your "
                 "calendar. Sorry for the change.",
                 local);
}

/* Queues the cancellation of the stored (cancelled) meeting row under key
 * meeting:<id>:cancel:<seq>, seq the sequence the meeting had while it was live, so two
 * callers cancelling it at once, or one retried after a crash, queue one item. */
static int queue_cancel(const struct sa_booking *b, const json_t *row, long long live_seq,
                        const char *reason, time_t now, bool *queued, struct sa_err *err)
{
    const char *mid = json_string_value(json_object_get(row, "id"));
    const char *email = json_string_value(json_object_get(row, "attendee"));
    char lead_id[37];
    json_t *data = lead_of(b, email, lead_id);
    const struct sa_booking_who who = {
        .lead = data,
        .lead_id = json_string_value(json_object_get(row, "lead_id")),
        .thread_id = json_string_value(json_object_get(row, "thread_id")),
        .email = email,
        .company = json_string_value(json_object_get(data, "company_name"))};
    char local[96], summary[300], text[600], subject[420], key[96], id[SA_UUID_LEN];
    sa_calendar_format_local(json_string_value(json_object_get(row, "timezone")),
                             (time_t)json_integer_value(json_object_get(row, "start_unix")), local,
                             sizeof local);
    summary_for(b, &who, summary, sizeof summary);
    cancel_text(reason, local, text, sizeof text);
    snprintf(subject, sizeof subject, "Cancelled: %s @ %s", summary, local);
    snprintf(key, sizeof key, "meeting:%s:cancel:%lld", mid, live_seq);
    sa_uuid_v7(id);
    char *ics = NULL;
    int rc = ics_for(b, &who, row, false, true, &ics, err);
    json_t *p =
        rc ? NULL
           : json_pack("{s:{s:s?, s:s?}, s:s, s:s, s:s, s:s, s:s, s:I}", "from", "name",
                       b->organizer_name, "email", b->organizer_email, "subject", subject, "body",
                       text, "ics", ics, "meeting_id", mid, "reason", reason ? reason : "cancelled",
                       "sequence", json_integer_value(json_object_get(row, "sequence")));
    free(ics);
    char *payload = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    if (!rc && !payload)
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    int added = 0;
    if (!rc) {
        const struct sa_outbox_item it = {.id = id,
                                          .idempotency_key = key,
                                          .kind = "cancel",
                                          .thread_id = who.thread_id,
                                          .lead_id = who.lead_id,
                                          .to_email = email,
                                          .payload = payload,
                                          .due_at = (long long)now};
        rc = sa_store_outbox_add(b->store, &it, 1, &added, err);
    }
    free(payload);
    json_decref(data);
    if (!rc && queued)
        *queued = added > 0;
    return rc;
}

/* Meetings the sweep reads at a time. */
#define SWEEP_PAGE 200

static bool live_status(const char *st)
{
    return st && (strcmp(st, "held") == 0 || strcmp(st, "expired") == 0 ||
                  strcmp(st, "tentative") == 0 || strcmp(st, "confirmed") == 0);
}

int sa_booking_cancel(const struct sa_booking *b, const char *meeting_id, const char *reason,
                      time_t now, bool *queued, struct sa_err *err)
{
    if (queued)
        *queued = false;
    if (!meeting_id)
        return 0;
    json_t *row = NULL;
    int rc = sa_store_meeting_get(b->store, meeting_id, (long long)now, &row, err);
    if (rc)
        return rc == SA_ENOTFOUND ? 0 : rc;
    const char *st = json_string_value(json_object_get(row, "status"));
    long long seq = json_integer_value(json_object_get(row, "sequence"));
    bool live = live_status(st);
    if (!live && !(st && strcmp(st, "cancelled") == 0)) {
        json_decref(row); /* declined: the prospect's calendar dropped it already */
        return 0;
    }
    if (live) {
        json_decref(row);
        row = NULL;
        if ((rc = sa_store_meeting_set_status(b->store, meeting_id, "cancelled", NULL,
                                              (long long)now, &row, err)))
            return rc == SA_ENOTFOUND ? 0 : rc;
    } else {
        seq--; /* a retry: set_status made it cancelled with sequence + 1 */
    }
    const char *email = json_string_value(json_object_get(row, "attendee"));
    bool sent = false, pending = false;
    bool ahead = json_integer_value(json_object_get(row, "end_unix")) > (json_int_t)now;
    if (email && ahead)
        rc = sa_booking_invite_state(b, meeting_id, email, &sent, &pending, err);
    if (!rc && email && ahead && (sent || pending))
        rc = queue_cancel(b, row, seq, reason, now, queued, err);
    json_decref(row);
    return rc;
}

/* One page of the sweep: the live meetings after q's cursor; moves the cursor (into
 * last_id, which it points at) past them. *more when the page was full. */
static int sweep_page(const struct sa_booking *b, time_t now, struct sa_meeting_query *q,
                      char *last_id, size_t last_cap, bool *more, int *cancelled,
                      struct sa_err *err)
{
    json_t *rows = NULL;
    int rc = sa_store_meeting_list(b->store, q, &rows, err);
    *more = !rc && json_array_size(rows) == (size_t)q->limit;
    json_t *tail = json_array_get(rows, json_array_size(rows) - 1);
    if (tail) {
        snprintf(last_id, last_cap, "%s", json_string_value(json_object_get(tail, "id")) ?: "");
        q->after_id = last_id;
        q->after_start = json_integer_value(json_object_get(tail, "start_unix"));
    }
    size_t i;
    json_t *m;
    json_array_foreach(rows, i, m)
    {
        if (rc)
            break;
        const char *st = json_string_value(json_object_get(m, "status"));
        const char *id = json_string_value(json_object_get(m, "id"));
        const char *email = json_string_value(json_object_get(m, "attendee"));
        if (!live_status(st) || !email)
            continue;
        const char *reason = NULL;
        json_t *c = NULL;
        rc = sa_store_contact_get(b->store, email, &c, err);
        if (rc == SA_ENOTFOUND)
            rc = 0;
        if (!rc && json_is_true(json_object_get(c, "do_not_contact")))
            reason = "opt_out";
        json_decref(c);
        bool sent = false, pending = false;
        if (!rc && !reason && strcmp(st, "expired") == 0 &&
            !(rc = sa_booking_invite_state(b, id, email, &sent, &pending, err)) && sent)
            reason = "expired"; /* one still waiting to leave is renewed then (keep) */
        bool queued = false;
        if (!rc && reason && !(rc = sa_booking_cancel(b, id, reason, now, &queued, err))) {
            (*cancelled)++;
            sa_log(SA_LOG_INFO, "booking: meeting cancelled",
                   json_pack("{s:s, s:s, s:b}", "meeting_id", id, "reason", reason,
                             "cancellation_queued", queued));
        }
    }
    json_decref(rows);
    return rc;
}

/* Every live meeting ahead, page by page (however many there are: a fixed window would
 * leave the ones past it, lapsed holds among them, never cancelled). */
int sa_booking_sweep(const struct sa_booking *b, time_t now, int *cancelled, struct sa_err *err)
{
    *cancelled = 0;
    struct sa_meeting_query q = {.status = "live",
                                 .from = (long long)now,
                                 .to = (long long)now + (SA_CAL_HORIZON_DAYS + 2) * 86400LL,
                                 .now = (long long)now,
                                 .limit = SWEEP_PAGE};
    char last_id[64] = "";
    bool more = true;
    int rc = 0;
    while (!rc && more)
        rc = sweep_page(b, now, &q, last_id, sizeof last_id, &more, cancelled, err);
    return rc;
}
