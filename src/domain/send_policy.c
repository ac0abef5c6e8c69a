/* The sending policy (see send_policy.h): windows, rolling caps, sequence spacing. */
#include "domain/send_policy.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const char day_names[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

#define SA_SEND_REASON_NAME(name, text) text,
static const char *const reason_names[] = {SA_SEND_REASONS(SA_SEND_REASON_NAME)};
#undef SA_SEND_REASON_NAME

const char *sa_send_reason_name(enum sa_send_reason r)
{
    return (unsigned)r < SA_SEND_REASON_COUNT ? reason_names[r] : "";
}

/* ---- parsing --------------------------------------------------------------------------- */

static int day_of(const char *p, size_t n)
{
    for (int i = 0; n == 3 && i < 7; i++)
        if (strncasecmp(p, day_names[i], 3) == 0)
            return i;
    return -1;
}

/* "Mon-Fri", "Sun-Thu" (ranges wrap), "Mon,Wed,Fri" over [p, p + n). */
static bool parse_days(const char *p, size_t n, unsigned *mask)
{
    *mask = 0;
    const char *end = p + n;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        const char *dash = memchr(p, '-', (size_t)(stop - p));
        int from = day_of(p, (size_t)((dash ? dash : stop) - p));
        int to = dash ? day_of(dash + 1, (size_t)(stop - dash - 1)) : from;
        if (from < 0 || to < 0)
            return false;
        for (int i = from;; i = (i + 1) % 7) {
            *mask |= 1u << i;
            if (i == to)
                break;
        }
        if (!comma)
            return true;
        p = comma + 1;
        if (p == end)
            return false; /* a trailing comma */
    }
    return false;
}

/* "HH:MM" (00:00..24:00) at *p, into minutes; advances *p. */
static bool parse_hhmm(const char **p, int *out)
{
    const char *s = *p;
    if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != ':' ||
        !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
        return false;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m != 0))
        return false;
    *out = h * 60 + m;
    *p = s + 5;
    return true;
}

int sa_send_window_parse(const char *spec, struct sa_send_window *w, struct sa_err *err)
{
    *w = (struct sa_send_window){0};
    if (!spec)
        return sa_err_set(err, SA_EINVAL, "SEND_WINDOW is empty");
    if (strcasecmp(spec, "any") == 0) {
        w->any = true;
        return 0;
    }
    const char *space = strchr(spec, ' ');
    const char *p = space;
    while (p && *p == ' ')
        p++;
    int start = 0, end = 0;
    if (!space || !parse_days(spec, (size_t)(space - spec), &w->days) ||
        !parse_hhmm(&p, &start) || *p++ != '-' || !parse_hhmm(&p, &end) || *p != '\0')
        return sa_err_set(err, SA_EINVAL,
                          "SEND_WINDOW \"%.80s\": want DAYS HH:MM-HH:MM such as \"Mon-Fri "
                          "08:00-18:00\", or \"any\"",
                          spec);
    if (end <= start)
        return sa_err_set(err, SA_EINVAL, "SEND_WINDOW \"%.80s\": the end is not after the start",
                          spec);
    w->start_min = start;
    w->end_min = end;
    return 0;
}

/* ---- time zones ------------------------------------------------------------------------ */

static int utc_offset(sa_utc_offset_fn off, void *arg, time_t t, int *out)
{
    *out = 0;
    return off ? off(arg, t, out) : 0;
}

/* The instant whose local time in the zone is `local` (seconds of a UTC-based local
 * clock). Two passes settle the offset away from a change; in a spring-forward gap the
 * local time does not exist and the answer is the first instant after the gap, which
 * shows a later local time: still inside a window that began in the gap. */
static int local_to_utc(sa_utc_offset_fn off, void *arg, time_t local, time_t *out)
{
    int o1, o2;
    int rc = utc_offset(off, arg, local, &o1);
    if (!rc)
        rc = utc_offset(off, arg, local - o1, &o2);
    if (rc)
        return rc;
    time_t t = local - o2;
    int o3;
    if ((rc = utc_offset(off, arg, t, &o3)))
        return rc;
    if (t + o3 != local) { /* in a gap: take the later offset's side */
        time_t a = local - o1, b = local - o2;
        t = a > b ? a : b;
    }
    *out = t;
    return 0;
}

int sa_send_window_next(const struct sa_send_window *w, sa_utc_offset_fn off, void *arg, time_t t,
                        time_t *out)
{
    *out = t;
    if (!w || w->any)
        return 0;
    int o;
    int rc = utc_offset(off, arg, t, &o);
    if (rc)
        return rc;
    time_t local = t + o;
    time_t midnight = local - (((local % 86400) + 86400) % 86400);
    int minute = (int)((local - midnight) / 60);
    for (int d = 0; d <= 8; d++) {
        time_t day = midnight + (time_t)d * 86400;
        int wday = (int)((((day / 86400) + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
        if (!(w->days & (1u << wday)))
            continue;
        if (d == 0 && minute >= w->end_min)
            continue;
        if (d == 0 && minute >= w->start_min)
            return 0; /* inside today's window */
        time_t start;
        if ((rc = local_to_utc(off, arg, day + (time_t)w->start_min * 60, &start)))
            return rc;
        if (start < t)
            continue;
        *out = start;
        return 0;
    }
    return 0; /* days is empty: never reached when parsed */
}

/* ---- caps ------------------------------------------------------------------------------ */

time_t sa_send_cap_next(const long long *times, size_t n, int limit, long period, time_t t)
{
    if (limit <= 0)
        return t;
    size_t first = 0;
    while (first < n && times[first] < (long long)t - period)
        first++;
    size_t counted = n - first;
    if (counted < (size_t)limit)
        return t;
    /* the send that must leave the period for the count to drop below limit */
    time_t free_at = (time_t)(times[first + counted - (size_t)limit] + period + 1);
    return free_at > t ? free_at : t;
}

/* ---- the verdict ----------------------------------------------------------------------- */

int sa_send_decide(const struct sa_send_facts *f, struct sa_send_decision *d)
{
    *d = (struct sa_send_decision){.verdict = SA_SEND_NOW, .at = f->now};
    if (f->do_not_contact || f->duplicate) {
        d->verdict = SA_SEND_CANCEL;
        d->reason = f->do_not_contact ? SA_SEND_R_DO_NOT_CONTACT : SA_SEND_R_DUPLICATE;
        return 0;
    }
    time_t t = f->now;
    enum sa_send_reason why = SA_SEND_R_NONE;
    if (f->not_before > t) {
        t = f->not_before;
        why = SA_SEND_R_SPACING;
    }
    /* each constraint only moves t forward, and none moves it forever (a cap frees up a
     * period after its oldest counted send, a window recurs weekly), so this settles; the
     * bound is a guard against a zone function that misbehaves */
    for (int round = 0; round < 64; round++) {
        time_t before = t, next;
        const struct {
            const struct sa_send_cap *cap;
            long period;
            enum sa_send_reason reason;
        } caps[] = {{&f->contact, SA_SEND_WEEK, SA_SEND_R_CONTACT_CAP},
                    {&f->domain, SA_SEND_WEEK, SA_SEND_R_DOMAIN_CAP},
                    {&f->sender, SA_SEND_DAY, SA_SEND_R_SENDER_CAP}};
        for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
            next = sa_send_cap_next(caps[i].cap->times, caps[i].cap->n, caps[i].cap->limit,
                                    caps[i].period, t);
            if (next > t) {
                t = next;
                why = caps[i].reason;
            }
        }
        int rc = sa_send_window_next(f->window, f->offset, f->offset_arg, t, &next);
        if (rc)
            return rc;
        if (next > t) {
            t = next;
            why = SA_SEND_R_WINDOW;
        }
        if (t == before)
            break;
    }
    if (t > f->now) {
        d->verdict = SA_SEND_DEFER;
        d->at = t;
        d->reason = why;
    }
    return 0;
}
