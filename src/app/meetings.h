/* The meetings service behind /api/calendar/slots and /api/meetings: the seller's
 * calendar with holds and bookings marked, the meetings themselves, and prospects'
 * RSVPs (JSON or an iCalendar REPLY). "Now" is the wall clock (base/clock.h). */
#ifndef SA_APP_MEETINGS_H
#define SA_APP_MEETINGS_H

#include <jansson.h>
#include <stddef.h>
#include <time.h>

#include "base/err.h"

struct sa_booking;

/* The calendar from `from` (0: now) for days, shown in tz (NULL: the seller's zone; a
 * prospect's zone also limits slots to their working hours); see sa_booking_calendar.
 * SA_EINVAL (err's message is for the client) for an unknown zone. */
int sa_app_calendar_slots(const struct sa_booking *b, time_t from, int days, const char *tz,
                          json_t **out, struct sa_err *err) SA_WUR;

/* {count, items: [meeting]} of the meetings with status (NULL: any; "active") overlapping
 * [from, to) (0: open), by start time, at most 500. */
int sa_app_meetings_list(const struct sa_booking *b, const char *status, time_t from, time_t to,
                         json_t **out, struct sa_err *err) SA_WUR;

/* The meeting, or SA_ENOTFOUND. */
int sa_app_meeting_get(const struct sa_booking *b, const char *id, json_t **out,
                       struct sa_err *err) SA_WUR;

/* Applies an RSVP to meeting id: partstat is ACCEPTED, DECLINED or TENTATIVE, or NULL when
 * ics (ics_len bytes, an iCalendar METHOD:REPLY) carries it, whose UID MUST be the
 * meeting's. *out {meeting, partstat}. SA_EINVAL (message for the client) for a bad
 * reply or another meeting's UID, SA_ENOTFOUND, SA_ECONFLICT when the slot was lost. */
int sa_app_meeting_rsvp(const struct sa_booking *b, const char *id, const char *partstat,
                        const char *ics, size_t ics_len, json_t **out, struct sa_err *err) SA_WUR;

#endif
