/* Availability slots and RFC 5545 invites (see calendar.h). */
#include "base/clock.h"
#include "connectors/calendar/calendar.h"

#include <ctype.h>
#include <libical/ical.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Why one lock around every libical time zone call.
 *
 * libical (3.0 as Debian 12 ships it) loads its table of zones lazily and not safely:
 * icaltimezone_get_builtin_timezone() publishes the table pointer before filling it, so a
 * second thread can walk a half-built table; a zone missing from zone.tab ("US/Eastern")
 * is appended to the table with no lock held; and a zone's VTIMEZONE is loaded behind a
 * check made outside libical's own mutex. Its conversions do lock the cache of DST
 * changes, but a conversion can load a zone first (libical issues #319, #468, PR #1029).
 * We cannot fix the library, so this module takes zone_lock around every call that
 * resolves a zone or converts a time. The calls take microseconds; a slot search holds it
 * for well under a millisecond. Other modules MUST NOT call libical's time zone functions
 * directly: they would bypass the lock. setenv("TZ")/tzset()/localtime() are no
 * alternative, since TZ is process-global. */
static pthread_mutex_t zone_lock = PTHREAD_MUTEX_INITIALIZER;

static const char day_names[7][4] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

void sa_calendar_init(struct sa_calendar *c)
{
    *c = (struct sa_calendar){
        .tz = "UTC",
        .days = SA_CAL_MON | SA_CAL_TUE | SA_CAL_WED | SA_CAL_THU | SA_CAL_FRI,
        .start_min = 9 * 60,
        .end_min = 17 * 60,
        .slot_minutes = 30,
        .notice_minutes = 120,
    };
}

/* ---- Zones (callers hold zone_lock) ---- */

/* An IANA name is ASCII letters, digits and "_+-/" in components ("America/New_York",
 * "Etc/GMT+5"). Checked before libical sees it, since libical turns an unlisted name into
 * a path under the zoneinfo directory. */
static bool zone_name_ok(const char *name)
{
    size_t len = strnlen(name, SA_CAL_TZ_MAX);
    if (len == 0 || len >= SA_CAL_TZ_MAX || name[0] == '/' || name[0] == '-' ||
        name[len - 1] == '/')
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (!isalnum(ch) && ch != '_' && ch != '+' && ch != '-' && ch != '/')
            return false;
        if (ch == '/' && name[i + 1] == '/')
            return false;
    }
    return true;
}

static icaltimezone *zone_find_locked(const char *name)
{
    if (!zone_name_ok(name))
        return NULL;
    return icaltimezone_get_builtin_timezone(name);
}

/* The UTC instant of local wall-clock time y-mo-d hh:mm in zone, into *out. False when
 * that local time does not exist (the hour a spring-forward change skips): libical maps
 * 02:30 on such a day to 01:30 standard time, a slot we must not propose as "02:30". */
static bool local_to_utc_locked(icaltimezone *zone, int y, int mo, int d, int minute, time_t *out)
{
    struct icaltimetype tt = icaltime_null_time();
    tt.year = y;
    tt.month = mo;
    tt.day = d;
    tt.hour = minute / 60;
    tt.minute = minute % 60;
    time_t t = icaltime_as_timet_with_zone(tt, zone);
    struct icaltimetype back = icaltime_from_timet_with_zone(t, 0, zone);
    if (back.year != y || back.month != mo || back.day != d || back.hour != tt.hour ||
        back.minute != tt.minute)
        return false;
    *out = t;
    return true;
}

/* ---- Parsing ---- */

static size_t trim(const char **p, size_t len)
{
    while (len && isspace((unsigned char)**p)) {
        (*p)++;
        len--;
    }
    while (len && isspace((unsigned char)(*p)[len - 1]))
        len--;
    return len;
}

static int day_index(const char *p, size_t len)
{
    if (len != 3)
        return -1;
    for (int i = 0; i < 7; i++)
        if (strncasecmp(p, day_names[i], 3) == 0)
            return i;
    return -1;
}

/* "Mon-Fri", "Mon,Wed,Fri", "Sun-Thu", "Mon-Wed,Fri": comma-separated days or ranges. */
static int parse_days(const char *s, unsigned *out, struct sa_err *err)
{
    unsigned mask = 0;
    const char *p = s;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *tok = p;
        len = trim(&tok, len);
        const char *dash = memchr(tok, '-', len);
        int from, to;
        if (dash) {
            const char *a = tok, *b = dash + 1;
            size_t alen = trim(&a, (size_t)(dash - tok));
            size_t blen = trim(&b, len - (size_t)(dash - tok) - 1);
            from = day_index(a, alen);
            to = day_index(b, blen);
        } else {
            from = to = day_index(tok, len);
        }
        if (from < 0 || to < 0)
            return sa_err_set(err, SA_ECONFIG,
                              "working days \"%s\": bad day \"%.*s\" (want Mon..Sun, e.g. "
                              "\"Mon-Fri\" or \"Mon,Wed,Fri\")",
                              s, (int)len, tok);
        for (int i = from;; i = (i + 1) % 7) { /* a range may wrap: Sun-Thu */
            mask |= 1u << i;
            if (i == to)
                break;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    *out = mask;
    return 0;
}

/* "H:MM" or "HH:MM", 00:00 to 24:00, into minutes after midnight; advances *p. */
static bool parse_hhmm(const char **p, int *out)
{
    const char *s = *p;
    while (*s == ' ')
        s++;
    int h = 0, digits = 0;
    while (isdigit((unsigned char)*s) && digits < 2) {
        h = h * 10 + (*s++ - '0');
        digits++;
    }
    if (digits == 0 || *s++ != ':')
        return false;
    if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]))
        return false;
    int m = (s[0] - '0') * 10 + (s[1] - '0');
    s += 2;
    if (m > 59 || h > 24 || (h == 24 && m != 0))
        return false;
    while (*s == ' ')
        s++;
    *p = s;
    *out = h * 60 + m;
    return true;
}

static int parse_hours(const char *s, int *start, int *end, struct sa_err *err)
{
    const char *p = s;
    if (!parse_hhmm(&p, start) || *p++ != '-' || !parse_hhmm(&p, end) || *p != '\0')
        return sa_err_set(err, SA_ECONFIG,
                          "working hours \"%s\": want HH:MM-HH:MM, e.g. \"09:00-17:00\"", s);
    if (*end <= *start)
        return sa_err_set(err, SA_ECONFIG, "working hours \"%s\": the end is not after the start",
                          s);
    return 0;
}

int sa_calendar_parse(struct sa_calendar *c, const char *tz, const char *days, const char *hours,
                      long slot_minutes, struct sa_err *err)
{
    sa_calendar_init(c);
    int rc = SA_ECONFIG;
    if (tz && *tz) {
        pthread_mutex_lock(&zone_lock);
        bool known = zone_find_locked(tz) != NULL;
        pthread_mutex_unlock(&zone_lock);
        if (!known) {
            sa_err_set(err, SA_ECONFIG,
                       "time zone \"%.80s\" is unknown (want an IANA name such as "
                       "\"Europe/Berlin\"; is tzdata installed?)",
                       tz);
            goto out;
        }
        snprintf(c->tz, sizeof c->tz, "%s", tz);
    }
    if (days && *days && (rc = parse_days(days, &c->days, err)) != 0)
        goto out;
    if (hours && *hours && (rc = parse_hours(hours, &c->start_min, &c->end_min, err)) != 0)
        goto out;
    rc = SA_ECONFIG;
    if (slot_minutes != 0) {
        if (slot_minutes < 5 || slot_minutes > 480) {
            sa_err_set(err, SA_ECONFIG, "slot length %ld minutes is out of range (5 to 480)",
                       slot_minutes);
            goto out;
        }
        c->slot_minutes = (int)slot_minutes;
    }
    if (c->slot_minutes > c->end_min - c->start_min) {
        sa_err_set(err, SA_ECONFIG,
                   "slot length %d minutes is longer than the working day (%02d:%02d-%02d:%02d)",
                   c->slot_minutes, c->start_min / 60, c->start_min % 60, c->end_min / 60,
                   c->end_min % 60);
        goto out;
    }
    rc = 0;
out:
    if (rc)
        sa_calendar_init(c);
    return rc;
}

/* ---- Slots ---- */

static bool calendar_ok(const struct sa_calendar *c)
{
    return memchr(c->tz, '\0', sizeof c->tz) && (c->days & 0x7fu) && c->start_min >= 0 &&
           c->end_min <= 24 * 60 && c->start_min < c->end_min && c->slot_minutes >= 5 &&
           c->slot_minutes <= c->end_min - c->start_min && c->notice_minutes >= 0 &&
           c->notice_minutes <= SA_CAL_HORIZON_DAYS * 24 * 60 && (c->busy || !c->n_busy);
}

static bool is_busy(const struct sa_calendar *c, time_t start, time_t end)
{
    for (size_t i = 0; i < c->n_busy; i++)
        if (start < c->busy[i].end && end > c->busy[i].start)
            return true;
    return false;
}

/* Monday = 0 of an icaltimetype (libical counts from Sunday = 1). */
static int weekday_of(struct icaltimetype tt)
{
    return (icaltime_day_of_week(tt) + 5) % 7;
}

/* True when [start, end) lies within one weekday's SA_CAL_GUEST_START..END in guest. */
static bool guest_hours_locked(icaltimezone *guest, time_t start, time_t end)
{
    struct icaltimetype a = icaltime_from_timet_with_zone(start, 0, guest);
    struct icaltimetype b = icaltime_from_timet_with_zone(end, 0, guest);
    int am = a.hour * 60 + a.minute, bm = b.hour * 60 + b.minute;
    bool same_day = a.year == b.year && a.month == b.month && a.day == b.day;
    return same_day && weekday_of(a) < 5 && am >= SA_CAL_GUEST_START && bm <= SA_CAL_GUEST_END;
}

/* Why the halves: proposing the first n free slots would offer 09:00, 09:30 and 10:00 on
 * the same morning. A prospect picks more easily from "Tuesday morning, Tuesday
 * afternoon, Wednesday morning", so each local day gives at most the first free slot
 * starting before the middle of the working day and the first one starting after. */
static int slots_locked(const struct sa_calendar *c, icaltimezone *zone, icaltimezone *guest,
                        time_t now, int n, time_t *starts_out)
{
    struct icaltimetype today = icaltime_from_timet_with_zone(now, 0, zone);
    if (icaltime_is_null_time(today) || today.year < 1970 || today.year > 9000)
        return SA_EINVAL; /* also keeps the sums below far from overflow */
    const time_t earliest = now + (time_t)c->notice_minutes * 60;
    const time_t slot_secs = (time_t)c->slot_minutes * 60;
    const int mid = c->start_min + (c->end_min - c->start_min) / 2;
    today.hour = today.minute = today.second = 0;
    today.zone = NULL;
    int found = 0;
    for (int d = 0; d < SA_CAL_HORIZON_DAYS && found < n; d++) {
        struct icaltimetype day = today;
        icaltime_adjust(&day, d, 0, 0, 0);
        int weekday = weekday_of(day);
        if (!(c->days & (1u << weekday)))
            continue;
        bool taken[2] = {false, false};
        for (int m = c->start_min; m + c->slot_minutes <= c->end_min && found < n;
             m += c->slot_minutes) {
            int half = m >= mid;
            time_t start;
            if (taken[half] || !local_to_utc_locked(zone, day.year, day.month, day.day, m, &start))
                continue;
            if (start < earliest || is_busy(c, start, start + slot_secs) ||
                (guest && !guest_hours_locked(guest, start, start + slot_secs)))
                continue;
            starts_out[found++] = start;
            taken[half] = true;
            if (taken[0] && taken[1])
                break;
        }
    }
    return found;
}

int sa_calendar_slots(const struct sa_calendar *c, time_t now, int n, time_t *starts_out)
{
    if (!c || n < 0 || (n > 0 && !starts_out) || !calendar_ok(c))
        return SA_EINVAL;
    if (n == 0)
        return 0;
    pthread_mutex_lock(&zone_lock);
    icaltimezone *zone = zone_find_locked(c->tz);
    icaltimezone *guest = c->guest_tz[0] ? zone_find_locked(c->guest_tz) : NULL;
    int rc = zone && (guest || !c->guest_tz[0]) ? slots_locked(c, zone, guest, now, n, starts_out)
                                                : SA_ECONFIG;
    pthread_mutex_unlock(&zone_lock);
    return rc;
}

bool sa_calendar_slot_ok(const struct sa_calendar *c, time_t now, time_t start)
{
    if (!c || !calendar_ok(c))
        return false;
    const time_t end = start + (time_t)c->slot_minutes * 60;
    if (start < now + (time_t)c->notice_minutes * 60 || is_busy(c, start, end))
        return false;
    pthread_mutex_lock(&zone_lock);
    icaltimezone *zone = zone_find_locked(c->tz);
    icaltimezone *guest = c->guest_tz[0] ? zone_find_locked(c->guest_tz) : NULL;
    bool ok = zone && (guest || !c->guest_tz[0]);
    if (ok) {
        struct icaltimetype a = icaltime_from_timet_with_zone(start, 0, zone);
        struct icaltimetype b = icaltime_from_timet_with_zone(end, 0, zone);
        int am = a.hour * 60 + a.minute, bm = b.hour * 60 + b.minute;
        bool same_day = a.year == b.year && a.month == b.month && a.day == b.day;
        if (!same_day && b.hour == 0 && b.minute == 0) /* ends at midnight: 24:00 */
            bm = 24 * 60;
        ok = (c->days & (1u << weekday_of(a))) && am >= c->start_min && bm <= c->end_min &&
             bm > am && (!guest || guest_hours_locked(guest, start, end));
    }
    pthread_mutex_unlock(&zone_lock);
    return ok;
}

bool sa_calendar_zone_known(const char *tz)
{
    if (!tz || !*tz)
        return false;
    if (strcmp(tz, "UTC") == 0)
        return true;
    pthread_mutex_lock(&zone_lock);
    bool known = zone_find_locked(tz) != NULL;
    pthread_mutex_unlock(&zone_lock);
    return known;
}

/* The zone's abbreviation at t: libical's TZNAME list is "STD/DST" ("PST/PDT") or one
 * name; a numeric name ("+0630") or none becomes "UTC+06:30". */
static void abbrev_locked(icaltimezone *zone, int offset, int is_daylight, char out[16])
{
    const char *names =
        zone == icaltimezone_get_utc_timezone() ? "UTC" : icaltimezone_get_tznames(zone);
    if (names) {
        const char *slash = strchr(names, '/');
        const char *p = is_daylight && slash ? slash + 1 : names;
        size_t len = (!is_daylight && slash) ? (size_t)(slash - names) : strcspn(p, "/");
        if (len > 0 && len < 16 && isalpha((unsigned char)p[0])) {
            snprintf(out, 16, "%.*s", (int)len, p);
            return;
        }
    }
    int a = offset < 0 ? -offset : offset;
    if (a == 0)
        snprintf(out, 16, "UTC");
    else
        snprintf(out, 16, "UTC%c%02d:%02d", offset < 0 ? '-' : '+', (a / 3600) % 100,
                 (a / 60) % 60);
}

int sa_calendar_local(const char *tz, time_t t, struct sa_local_time *out)
{
    *out = (struct sa_local_time){0};
    pthread_mutex_lock(&zone_lock);
    icaltimezone *zone = tz ? zone_find_locked(tz) : NULL;
    int rc = SA_EINVAL;
    if (zone) {
        struct icaltimetype tt = icaltime_from_timet_with_zone(t, 0, zone);
        if (!icaltime_is_null_time(tt) && tt.year >= 1970 && tt.year <= 9000) {
            struct icaltimetype u =
                icaltime_from_timet_with_zone(t, 0, icaltimezone_get_utc_timezone());
            int dl = 0;
            int off = icaltimezone_get_utc_offset_of_utc_time(zone, &u, &dl);
            *out = (struct sa_local_time){.year = tt.year,
                                          .month = tt.month,
                                          .day = tt.day,
                                          .hour = tt.hour,
                                          .minute = tt.minute,
                                          .weekday = weekday_of(tt),
                                          .utc_offset = off};
            abbrev_locked(zone, off, dl, out->abbrev);
            rc = 0;
        }
    }
    pthread_mutex_unlock(&zone_lock);
    return rc;
}

int sa_calendar_utc(const char *tz, int y, int mo, int d, int minute, time_t *out)
{
    *out = 0;
    if (y < 1970 || y > 9000 || mo < 1 || mo > 12 || d < 1 || minute < 0 || minute >= 24 * 60 ||
        d > icaltime_days_in_month(mo, y))
        return SA_EINVAL;
    pthread_mutex_lock(&zone_lock);
    icaltimezone *zone = tz ? zone_find_locked(tz) : NULL;
    bool ok = zone && local_to_utc_locked(zone, y, mo, d, minute, out);
    pthread_mutex_unlock(&zone_lock);
    return ok ? 0 : SA_EINVAL;
}

void sa_calendar_format_local(const char *tz, time_t t, char *out, size_t cap)
{
    static const char *const days[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                        "Friday", "Saturday", "Sunday"};
    static const char *const months[12] = {"January",   "February", "March",    "April",
                                           "May",       "June",     "July",     "August",
                                           "September", "October",  "November", "December"};
    struct sa_local_time lt;
    if (cap == 0)
        return;
    out[0] = '\0';
    if (sa_calendar_local(tz, t, &lt) == 0)
        snprintf(out, cap, "%s %d %s, %02d:%02d %s", days[lt.weekday], lt.day, months[lt.month - 1],
                 lt.hour, lt.minute, lt.abbrev);
}

void sa_calendar_shutdown(void)
{
    pthread_mutex_lock(&zone_lock);
    icaltimezone_free_builtin_timezones();
    pthread_mutex_unlock(&zone_lock);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static long long days_from_civil(long long y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int sa_zone_utc_offset(const char *tz, time_t t, int *offset)
{
    *offset = 0;
    if (!tz || !*tz || strcmp(tz, "UTC") == 0)
        return 0;
    pthread_mutex_lock(&zone_lock);
    icaltimezone *zone = zone_find_locked(tz);
    struct icaltimetype lt =
        zone ? icaltime_from_timet_with_zone(t, 0, zone) : icaltime_null_time();
    pthread_mutex_unlock(&zone_lock);
    if (!zone)
        return SA_EINVAL;
    long long local = days_from_civil(lt.year, lt.month, lt.day) * 86400LL + lt.hour * 3600LL +
                      lt.minute * 60LL + lt.second;
    *offset = (int)(local - (long long)t);
    return 0;
}

/* ---- Invites ---- */

/* A CAL-ADDRESS goes out verbatim after "mailto:" (libical escapes TEXT values and
 * parameters, not URIs), so an address is checked strictly: a line break or any other
 * control character would let a prospect's data write its own properties. */
static int check_email(const char *v, const char *field, struct sa_err *err)
{
    if (!v || !*v)
        return sa_err_set(err, SA_EINVAL, "%s is missing", field);
    size_t len = strnlen(v, 255);
    if (len > 254)
        return sa_err_set(err, SA_EINVAL, "%s is longer than 254 characters", field);
    const char *at = NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch == '\r' || ch == '\n')
            return sa_err_set(err, SA_EINVAL, "%s contains a line break", field);
        if (ch < 0x20 || ch == 0x7f || ch == ' ' || strchr("\"<>,;:\\", ch))
            return sa_err_set(err, SA_EINVAL,
                              "%s \"%.*s\" contains a character not allowed "
                              "in an e-mail address",
                              field, (int)len, v);
        if (ch == '@') {
            if (at)
                return sa_err_set(err, SA_EINVAL, "%s \"%s\" has more than one '@'", field, v);
            at = v + i;
        }
    }
    if (!at || at == v || at[1] == '\0')
        return sa_err_set(err, SA_EINVAL, "%s \"%s\" is not an e-mail address", field, v);
    return 0;
}

static int check_invite(const struct sa_ics *m, struct sa_err *err)
{
    if (!m)
        return sa_err_set(err, SA_EINVAL, "meeting is missing");
    if (!m->uid || !*m->uid)
        return sa_err_set(err, SA_EINVAL, "uid is missing");
    if (strpbrk(m->uid, "\r\n"))
        return sa_err_set(err, SA_EINVAL, "uid contains a line break");
    int rc = check_email(m->organizer_email, "organizer_email", err);
    if (rc)
        return rc;
    if ((rc = check_email(m->attendee_email, "attendee_email", err)) != 0)
        return rc;
    if (m->start >= m->end)
        return sa_err_set(err, SA_EINVAL, "start (%lld) is not before end (%lld)",
                          (long long)m->start, (long long)m->end);
    for (const char *u = m->url; u && *u; u++)
        if ((unsigned char)*u <= 0x20 || *u == 0x7f)
            return sa_err_set(err, SA_EINVAL, "url contains a space or control character");
    if (m->sequence < 0)
        return sa_err_set(err, SA_EINVAL, "sequence %d is negative", m->sequence);
    return 0;
}

/* Adds p to c; false (and nothing added) when libical could not allocate p. */
static bool add_prop(icalcomponent *c, icalproperty *p)
{
    if (!p)
        return false;
    icalcomponent_add_property(c, p);
    return true;
}

static bool add_param(icalproperty *p, icalparameter *param)
{
    if (!param)
        return false;
    icalproperty_add_parameter(p, param);
    return true;
}

/* ORGANIZER or ATTENDEE: "mailto:" + email, with CN when name is given. */
static icalproperty *address_prop(bool attendee, const char *name, const char *email)
{
    char uri[8 + 255];
    snprintf(uri, sizeof uri, "mailto:%s", email);
    icalproperty *p = attendee ? icalproperty_new_attendee(uri) : icalproperty_new_organizer(uri);
    if (!p)
        return NULL;
    bool ok = !name || !*name || add_param(p, icalparameter_new_cn(name));
    if (ok && attendee)
        ok = add_param(p, icalparameter_new_role(ICAL_ROLE_REQPARTICIPANT)) &&
             add_param(p, icalparameter_new_partstat(ICAL_PARTSTAT_NEEDSACTION)) &&
             add_param(p, icalparameter_new_rsvp(ICAL_RSVP_TRUE));
    if (!ok) {
        icalproperty_free(p);
        return NULL;
    }
    return p;
}

static bool build_event_locked(const struct sa_ics *m, icalcomponent *ev)
{
    icaltimezone *utc = icaltimezone_get_utc_timezone();
    time_t stamp = m->dtstamp ? m->dtstamp : sa_wall_time();
    bool ok =
        add_prop(ev, icalproperty_new_uid(m->uid)) &&
        add_prop(ev, icalproperty_new_dtstamp(icaltime_from_timet_with_zone(stamp, 0, utc))) &&
        add_prop(ev, icalproperty_new_dtstart(icaltime_from_timet_with_zone(m->start, 0, utc))) &&
        add_prop(ev, icalproperty_new_dtend(icaltime_from_timet_with_zone(m->end, 0, utc))) &&
        add_prop(ev, icalproperty_new_summary(m->summary ? m->summary : "Meeting"));
    if (ok && m->description && *m->description)
        ok = add_prop(ev, icalproperty_new_description(m->description));
    if (ok && m->location && *m->location)
        ok = add_prop(ev, icalproperty_new_location(m->location));
    if (ok && m->url && *m->url)
        ok = add_prop(ev, icalproperty_new_url(m->url));
    return ok && add_prop(ev, address_prop(false, m->organizer_name, m->organizer_email)) &&
           add_prop(ev, address_prop(true, m->attendee_name, m->attendee_email)) &&
           add_prop(ev, icalproperty_new_sequence(m->sequence)) &&
           add_prop(ev, icalproperty_new_status(m->cancelled   ? ICAL_STATUS_CANCELLED
                                                : m->confirmed ? ICAL_STATUS_CONFIRMED
                                                               : ICAL_STATUS_TENTATIVE));
}

int sa_ics_invite(const struct sa_ics *m, char **out, struct sa_err *err)
{
    *out = NULL;
    int rc = check_invite(m, err);
    if (rc)
        return rc;
    rc = SA_ENOMEM;
    icalcomponent *ev = NULL;
    icalcomponent *cal = icalcomponent_new_vcalendar();
    if (!cal)
        goto out;
    if (!add_prop(cal, icalproperty_new_prodid("-//sales-agent//EN")) ||
        !add_prop(cal, icalproperty_new_version("2.0")) ||
        !add_prop(cal,
                  icalproperty_new_method(m->cancelled ? ICAL_METHOD_CANCEL : ICAL_METHOD_REQUEST)))
        goto out;
    if (!(ev = icalcomponent_new_vevent()))
        goto out;
    pthread_mutex_lock(&zone_lock); /* the UTC zone comes from libical's zone table */
    bool built = build_event_locked(m, ev);
    pthread_mutex_unlock(&zone_lock);
    if (!built)
        goto out;
    icalcomponent_add_component(cal, ev);
    ev = NULL; /* owned by cal now */
    *out = icalcomponent_as_ical_string_r(cal);
    if (!*out)
        goto out;
    rc = 0;
out:
    if (ev)
        icalcomponent_free(ev);
    if (cal)
        icalcomponent_free(cal);
    if (rc == SA_ENOMEM)
        sa_err_set(err, SA_ENOMEM, "out of memory building the invite");
    return rc;
}

/* ---- Replies ---- */

int sa_ics_reply_parse(const char *text, size_t len, char *uid, size_t cap, char partstat[16],
                       struct sa_err *err)
{
    char attendee[320];
    return sa_ics_reply_read(text, len, uid, cap, partstat, attendee, sizeof attendee, err);
}

int sa_ics_reply_read(const char *text, size_t len, char *uid, size_t cap, char partstat[16],
                      char *attendee, size_t acap, struct sa_err *err)
{
    uid[0] = partstat[0] = attendee[0] = '\0';
    if (len == 0 || len > (size_t)1024 * 1024 || memchr(text, '\0', len))
        return sa_err_set(err, SA_EINVAL, "the iCalendar body is empty, too large or binary");
    char *copy = malloc(len + 1);
    if (!copy)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    memcpy(copy, text, len);
    copy[len] = '\0';
    int rc = SA_EINVAL;
    icalcomponent *cal = icalparser_parse_string(copy);
    free(copy);
    icalcomponent *ev = cal ? icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT) : NULL;
    icalproperty *att = ev ? icalcomponent_get_first_property(ev, ICAL_ATTENDEE_PROPERTY) : NULL;
    icalparameter *ps = att ? icalproperty_get_first_parameter(att, ICAL_PARTSTAT_PARAMETER) : NULL;
    const char *u = ev ? icalcomponent_get_uid(ev) : NULL;
    if (!cal || icalcomponent_isa(cal) != ICAL_VCALENDAR_COMPONENT)
        sa_err_set(err, SA_EINVAL, "the body is not an iCalendar object (BEGIN:VCALENDAR)");
    else if (icalcomponent_get_method(cal) != ICAL_METHOD_REPLY)
        sa_err_set(err, SA_EINVAL, "an RSVP is METHOD:REPLY");
    else if (!ev || !u || !*u || strlen(u) >= cap)
        sa_err_set(err, SA_EINVAL, "the reply has no VEVENT with a UID");
    else if (!ps)
        sa_err_set(err, SA_EINVAL, "the reply's ATTENDEE has no PARTSTAT");
    else {
        icalparameter_partstat p = icalparameter_get_partstat(ps);
        const char *name = p == ICAL_PARTSTAT_ACCEPTED    ? "ACCEPTED"
                           : p == ICAL_PARTSTAT_DECLINED  ? "DECLINED"
                           : p == ICAL_PARTSTAT_TENTATIVE ? "TENTATIVE"
                                                          : NULL;
        if (!name) {
            sa_err_set(err, SA_EINVAL, "PARTSTAT is ACCEPTED, DECLINED or TENTATIVE");
        } else {
            snprintf(uid, cap, "%s", u);
            snprintf(partstat, 16, "%s", name);
            const char *a = icalproperty_get_attendee(att);
            if (a && strncasecmp(a, "mailto:", 7) == 0)
                snprintf(attendee, acap, "%s", a + 7);
            rc = 0;
        }
    }
    if (cal)
        icalcomponent_free(cal);
    return rc;
}

/* ---- UIDs ---- */

/* splitmix64's finaliser: spreads every input bit over the whole word. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

void sa_ics_uid(const char *key, char out[SA_ICS_UID_LEN])
{
    /* Two FNV-1a lanes with different seeds, each finalised: 128 bits, so distinct
     * meeting keys do not collide in practice. Stable across runs and builds. */
    uint64_t a = 0xcbf29ce484222325ULL, b = 0x84222325cbf29ce4ULL;
    size_t len = 0;
    for (const unsigned char *p = (const unsigned char *)(key ? key : ""); *p; p++, len++) {
        a = (a ^ *p) * 0x100000001b3ULL;
        b = (b ^ *p) * 0x100000001b3ULL;
        b ^= b >> 29;
    }
    a = mix64(a ^ len);
    b = mix64(b + 0x9e3779b97f4a7c15ULL * (len + 1));
    snprintf(out, SA_ICS_UID_LEN, "%016llx%016llx@sales-agent", (unsigned long long)a,
             (unsigned long long)b);
}

json_t *sa_calendar_slots_json(const struct sa_calendar *c, time_t now, int n)
{
    json_t *out = json_array();
    time_t starts[8];
    int got = sa_calendar_slots(c, now, n < 8 ? n : 8, starts);
    for (int i = 0; i < got; i++) {
        time_t end = starts[i] + (time_t)c->slot_minutes * 60;
        char s1[32], s2[32];
        struct tm tm;
        gmtime_r(&starts[i], &tm);
        strftime(s1, sizeof s1, "%Y-%m-%dT%H:%M:%SZ", &tm);
        gmtime_r(&end, &tm);
        strftime(s2, sizeof s2, "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_array_append_new(out, json_pack("{s:s, s:s, s:i, s:s, s:I}", "start", s1, "end", s2,
                                             "minutes", c->slot_minutes, "timezone", c->tz,
                                             "start_unix", (json_int_t)starts[i]));
    }
    return out;
}
