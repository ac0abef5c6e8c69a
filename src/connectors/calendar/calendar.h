/* Availability and meeting invites for the agents that book meetings (the BDR agent, the
 * conversation agent): which slots to propose in the seller's time zone and working
 * hours, and the RFC 5545 METHOD:REQUEST invite that goes out once a prospect picks one.
 * Time zones come from libical reading the system zoneinfo (tzdata), never from TZ. */
#ifndef SA_AGENTS_CALENDAR_H
#define SA_AGENTS_CALENDAR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "base/err.h"

#define SA_CAL_TZ_MAX 64       /* longest zone name kept, with its NUL */
#define SA_CAL_HORIZON_DAYS 62 /* how far ahead sa_calendar_slots looks */
#define SA_CAL_SLOTS_PER_DAY 2 /* at most one in each half of the working day */
#define SA_ICS_UID_LEN 64

/* Working-day bits, Monday first. */
enum {
    SA_CAL_MON = 1 << 0,
    SA_CAL_TUE = 1 << 1,
    SA_CAL_WED = 1 << 2,
    SA_CAL_THU = 1 << 3,
    SA_CAL_FRI = 1 << 4,
    SA_CAL_SAT = 1 << 5,
    SA_CAL_SUN = 1 << 6,
};

/* A busy interval [start, end) in UTC. */
struct sa_busy {
    time_t start, end;
};

/* A seller's availability. Plain data: copy it freely. The busy list is NOT owned: the
 * caller keeps it alive (and unchanged) for as long as it passes this calendar around. */
struct sa_calendar {
    char tz[SA_CAL_TZ_MAX];     /* IANA zone name, default "UTC" */
    unsigned days;              /* SA_CAL_* bits, default Mon-Fri */
    int start_min, end_min;     /* working hours in local minutes after midnight, 540-1020 */
    int slot_minutes;           /* default 30 */
    int notice_minutes;         /* no slot sooner than this after now, default 120 */
    const struct sa_busy *busy; /* may be NULL when n_busy is 0; any order, may overlap */
    size_t n_busy;
    /* The guest's (prospect's) zone, or "" for none: when set, a slot must also lie whole
     * within the guest's local working hours, SA_CAL_GUEST_START..SA_CAL_GUEST_END on
     * Monday to Friday of the guest's calendar. */
    char guest_tz[SA_CAL_TZ_MAX];
};

/* The prospect's working hours, in local minutes after midnight, Monday to Friday. */
#define SA_CAL_GUEST_START (9 * 60)
#define SA_CAL_GUEST_END (17 * 60)

/* An instant as a wall clock in some zone shows it. */
struct sa_local_time {
    int year, month, day; /* 2026, 1..12, 1..31 */
    int hour, minute;
    int weekday;     /* 0 = Monday .. 6 = Sunday */
    int utc_offset;  /* seconds east of UTC */
    char abbrev[16]; /* "PST", "CEST", "UTC"; "UTC+05:30" when the zone names none */
};

/* Fills c with the defaults: UTC, Mon-Fri, 09:00-17:00, 30-minute slots, 2 hours' notice,
 * nothing busy. */
void sa_calendar_init(struct sa_calendar *c);

/* Resets c to the defaults, then applies the given settings; NULL or "" keeps a default,
 * as does slot_minutes 0.
 *   tz:    an IANA name known to the system zoneinfo ("Europe/Berlin", "UTC").
 *   days:  comma-separated days and ranges of three-letter English names, any case:
 *          "Mon-Fri", "Mon,Wed,Fri", "Sun-Thu" (ranges may wrap past Sunday).
 *   hours: "HH:MM-HH:MM" in local time, end after start ("24:00" allowed as the end).
 *   slot_minutes: 5 to 480, and no longer than the working day.
 * notice_minutes and the busy list are reset too: set them after the call. Returns 0, or
 * SA_ECONFIG with err naming the setting and the bad value (c then holds the defaults).
 * Thread-safe. */
int sa_calendar_parse(struct sa_calendar *c, const char *tz, const char *days, const char *hours,
                      long slot_minutes, struct sa_err *err) SA_WUR;

/* Writes into starts_out (room for n) the UTC start times of the next slots to propose
 * after now, in increasing order: starts on the calendar's slot grid (working-hours start
 * plus a multiple of the slot length) in its zone, on working days, at least
 * notice_minutes after now, whole slot inside working hours, overlapping no busy interval,
 * and at most SA_CAL_SLOTS_PER_DAY per local day (the first free one in each half of the
 * working day) so a prospect gets a choice across days. Local times that do not exist
 * (skipped by a DST change) are never proposed. Looks SA_CAL_HORIZON_DAYS ahead.
 * Returns how many it wrote (0..n; fewer when the horizon runs out), SA_EINVAL for a bad
 * calendar or n < 0, or SA_ECONFIG when the zone is unknown. Thread-safe. */
int sa_calendar_slots(const struct sa_calendar *c, time_t now, int n, time_t *starts_out) SA_WUR;

/* The next n (at most 8) slots as JSON [{start, end, minutes, timezone, start_unix}]
 * (ISO 8601 UTC; new reference, an empty array when none is free). */
json_t *sa_calendar_slots_json(const struct sa_calendar *c, time_t now, int n);

/* One meeting for sa_ics_invite. Strings are borrowed for the call. */
struct sa_ics {
    const char *uid;            /* required; stable per meeting (see sa_ics_uid) */
    time_t start, end;          /* required, start < end; written in UTC */
    time_t dtstamp;             /* when the invite was made; 0 = now */
    const char *summary;        /* NULL = "Meeting" */
    const char *description;    /* optional */
    const char *location;       /* optional (a room, a phone number or a video link) */
    const char *organizer_name; /* optional CN */
    const char *organizer_email;
    const char *attendee_name; /* optional CN */
    const char *attendee_email;
    int sequence;    /* 0 for a new invite; bump it for each update of the same uid */
    const char *url; /* optional URL property (the video link) */
    bool confirmed;  /* STATUS:CONFIRMED once the prospect accepted; else TENTATIVE */
    bool cancelled;  /* METHOD:CANCEL and STATUS:CANCELLED (RFC 5546 3.2.5): withdraws the
                      * event of uid; sequence MUST be above every one sent for it */
};

/* Builds a VCALENDAR (PRODID "-//sales-agent//EN", VERSION 2.0, METHOD:REQUEST, or
 * METHOD:CANCEL with STATUS:CANCELLED when m->cancelled) holding
 * one VEVENT with UID, DTSTAMP, DTSTART/DTEND in UTC, SUMMARY, DESCRIPTION and LOCATION
 * when given, ORGANIZER and one ATTENDEE (REQ-PARTICIPANT, NEEDS-ACTION, RSVP=TRUE) as
 * mailto: addresses, SEQUENCE, URL when given, and STATUS:TENTATIVE (CONFIRMED when
 * m->confirmed: nobody agreed to a proposal yet). libical escapes the text, encodes
 * the CN parameters (RFC 6868) and folds lines at 75 octets; lines end in CRLF.
 * On success *out is a NUL-terminated malloc'd string the caller MUST free(); on failure
 * *out is NULL. Returns 0, SA_EINVAL with err naming the field (missing uid or e-mail, an
 * e-mail with a line break, control character or no '@', a uid with a line break,
 * start >= end, a negative sequence), or SA_ENOMEM. Thread-safe. */
int sa_ics_invite(const struct sa_ics *m, char **out, struct sa_err *err) SA_WUR;

/* Reads an RSVP: an iCalendar object (len bytes, not NUL-terminated) with METHOD:REPLY
 * and a VEVENT whose first ATTENDEE carries PARTSTAT. Writes the event's UID into uid
 * (cap bytes) and the PARTSTAT (ACCEPTED, DECLINED or TENTATIVE) into partstat. Returns
 * 0, or SA_EINVAL with err saying what is missing or wrong. Thread-safe. */
int sa_ics_reply_parse(const char *text, size_t len, char *uid, size_t cap, char partstat[16],
                       struct sa_err *err) SA_WUR;

/* sa_ics_reply_parse that also writes the answering ATTENDEE's address (its mailto: URI
 * without the scheme, as written; "" when it is not a mailto:) into attendee (acap
 * bytes). Same returns. Thread-safe. */
int sa_ics_reply_read(const char *text, size_t len, char *uid, size_t cap, char partstat[16],
                      char *attendee, size_t acap, struct sa_err *err) SA_WUR;

/* Writes a stable UID for key into out: 32 hex digits of a 128-bit hash of the key, then
 * "@sales-agent". The same key always gives the same UID, so re-sending an invite for one
 * meeting (with a higher sequence) updates it in the prospect's calendar. Not a secret:
 * do not derive it from anything that must stay private. */
void sa_ics_uid(const char *key, char out[SA_ICS_UID_LEN]);

/* The UTC offset (seconds east) of IANA zone tz at instant t into *offset, under this
 * module's zone lock (the sending policy's windows, domain/send_policy.h). "UTC" and an
 * empty or NULL tz are UTC. Returns 0, or SA_EINVAL for an unknown zone. Thread-safe. */
int sa_zone_utc_offset(const char *tz, time_t t, int *offset) SA_WUR;
/* True when a meeting of the calendar's slot length may start at start: on a working day,
 * whole inside working hours (any minute, not only the slot grid), at least
 * notice_minutes after now, overlapping no busy interval, and within the guest's hours
 * when guest_tz is set. False for a bad calendar or zone. Thread-safe. */
bool sa_calendar_slot_ok(const struct sa_calendar *c, time_t now, time_t start);

/* True when tz is an IANA zone name the system zoneinfo knows ("America/Los_Angeles"),
 * or "UTC"; false for NULL or "". Thread-safe (under this module's zone lock). */
bool sa_calendar_zone_known(const char *tz);

/* The local time of t in zone tz into *out. Returns 0, or SA_EINVAL for an unknown zone
 * or a time outside years 1970..9000. Thread-safe. */
int sa_calendar_local(const char *tz, time_t t, struct sa_local_time *out) SA_WUR;

/* The UTC instant of local time y-mo-d at minute (minutes after midnight) in tz into
 * *out. Returns 0; SA_EINVAL for an unknown zone, a date that does not exist, or a local
 * time a DST change skips. Thread-safe. */
int sa_calendar_utc(const char *tz, int y, int mo, int d, int minute, time_t *out) SA_WUR;

/* Writes t as the prospect reads it in tz, "Tuesday 3 December, 10:00 PST", into out
 * (cap bytes, NUL-terminated; "" for an unknown zone). */
void sa_calendar_format_local(const char *tz, time_t t, char *out, size_t cap);

/* Frees libical's cache of loaded time zones (the zone table and each zone used). The
 * application MUST call it once at shutdown, after every thread that uses this module has
 * stopped. LeakSanitizer does not flag the cache (a global still points at it), but
 * valgrind's reachable-memory report does. Safe to call earlier: no zone pointer outlives
 * a call into this module, and the cache reloads on the next use. */
void sa_calendar_shutdown(void);

#endif
