/* Pins the meeting calendar: parsing the seller's availability, the slots proposed to a
 * prospect (weekends, notice, busy time, two a day, DST in Berlin and New York, the hour a
 * spring-forward skips) and the RFC 5545 invite, read back with libical's own parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <libical/ical.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "connectors/calendar/calendar.h"

/* A UTC instant; timegm does not depend on TZ. */
static time_t utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    return timegm(&tm);
}

static void assert_slot(time_t got, int y, int mo, int d, int h, int mi)
{
    char g[32], w[32];
    time_t want = utc(y, mo, d, h, mi);
    struct tm tm;
    strftime(g, sizeof g, "%Y-%m-%d %H:%MZ %a", gmtime_r(&got, &tm));
    strftime(w, sizeof w, "%Y-%m-%d %H:%MZ %a", gmtime_r(&want, &tm));
    assert_string_equal(g, w);
}

static void test_parse_good(void **state)
{
    (void)state;
    struct sa_calendar c;
    struct sa_err err = {0};
    assert_int_equal(sa_calendar_parse(&c, NULL, NULL, NULL, 0, &err), 0);
    assert_string_equal(c.tz, "UTC");
    assert_int_equal(c.days, 0x1f);
    assert_int_equal(c.start_min, 9 * 60);
    assert_int_equal(c.end_min, 17 * 60);
    assert_int_equal(c.slot_minutes, 30);
    assert_int_equal(c.notice_minutes, 120);
    assert_null(c.busy);

    assert_int_equal(sa_calendar_parse(&c, "Europe/Berlin", "Sun-Thu", "8:30-12:00", 45, &err), 0);
    assert_string_equal(c.tz, "Europe/Berlin");
    assert_int_equal(c.days, SA_CAL_SUN | SA_CAL_MON | SA_CAL_TUE | SA_CAL_WED | SA_CAL_THU);
    assert_int_equal(c.start_min, 8 * 60 + 30);
    assert_int_equal(c.end_min, 12 * 60);
    assert_int_equal(c.slot_minutes, 45);

    assert_int_equal(sa_calendar_parse(&c, "America/New_York", "Mon,Wed,Fri", "", 0, &err), 0);
    assert_int_equal(c.days, SA_CAL_MON | SA_CAL_WED | SA_CAL_FRI);
    assert_int_equal(sa_calendar_parse(&c, "UTC", " mon - wed , FRI ", "09:00 - 24:00", 0, &err),
                     0);
    assert_int_equal(c.days, SA_CAL_MON | SA_CAL_TUE | SA_CAL_WED | SA_CAL_FRI);
    assert_int_equal(c.end_min, 24 * 60);
    assert_int_equal(sa_calendar_parse(&c, "Sat-Mon", NULL, NULL, 0, &err), SA_ECONFIG);
    assert_int_equal(sa_calendar_parse(&c, NULL, "Sat-Mon", NULL, 0, &err), 0);
    assert_int_equal(c.days, SA_CAL_SAT | SA_CAL_SUN | SA_CAL_MON);
}

/* Each bad value fails with SA_ECONFIG, a message naming it, and c back at the defaults. */
static void expect_bad(const char *tz, const char *days, const char *hours, long slot,
                       const char *needle)
{
    struct sa_calendar c;
    struct sa_err err = {0};
    assert_int_equal(sa_calendar_parse(&c, tz, days, hours, slot, &err), SA_ECONFIG);
    assert_int_equal(err.code, SA_ECONFIG);
    if (!strstr(err.msg, needle))
        fail_msg("message \"%s\" does not mention \"%s\"", err.msg, needle);
    assert_string_equal(c.tz, "UTC");
    assert_int_equal(c.days, 0x1f);
}

static void test_parse_bad(void **state)
{
    (void)state;
    expect_bad("Mars/Olympus_Mons", NULL, NULL, 0, "Mars/Olympus_Mons");
    expect_bad("../../etc/passwd", NULL, NULL, 0, "../../etc/passwd");
    expect_bad("Europe/Berlin\n", NULL, NULL, 0, "time zone");
    expect_bad("Europe/Berlin", "Mon-Fry", NULL, 0, "Fry");
    expect_bad(NULL, "Mon,,Fri", NULL, 0, "Mon,,Fri");
    expect_bad(NULL, "Monday", NULL, 0, "Monday");
    expect_bad(NULL, "Mon-", NULL, 0, "Mon-");
    expect_bad(NULL, NULL, "9-17", 0, "9-17");
    expect_bad(NULL, NULL, "09:00-17:00x", 0, "09:00-17:00x");
    expect_bad(NULL, NULL, "09:60-17:00", 0, "09:60-17:00");
    expect_bad(NULL, NULL, "25:00-26:00", 0, "25:00-26:00");
    expect_bad(NULL, NULL, "17:00-09:00", 0, "not after");
    expect_bad(NULL, NULL, "09:00-09:00", 0, "not after");
    expect_bad(NULL, NULL, NULL, 3, "3 minutes");
    expect_bad(NULL, NULL, NULL, -30, "-30 minutes");
    expect_bad(NULL, NULL, NULL, 600, "600 minutes");
    expect_bad(NULL, NULL, "09:00-10:00", 90, "longer than the working day");
}

static void test_weekend_skipped(void **state)
{
    (void)state;
    struct sa_calendar c;
    sa_calendar_init(&c);
    time_t s[4];
    /* Friday 15:30 with two hours' notice: nothing left on Friday, nothing at the weekend. */
    assert_int_equal(sa_calendar_slots(&c, utc(2026, 3, 27, 15, 30), 4, s), 4);
    assert_slot(s[0], 2026, 3, 30, 9, 0);
    assert_slot(s[1], 2026, 3, 30, 13, 0);
    assert_slot(s[2], 2026, 3, 31, 9, 0);
    assert_slot(s[3], 2026, 3, 31, 13, 0);
    /* Friday 14:00: 16:00 is still two hours away and ends by 17:00. */
    assert_int_equal(sa_calendar_slots(&c, utc(2026, 3, 27, 14, 0), 2, s), 2);
    assert_slot(s[0], 2026, 3, 27, 16, 0);
    assert_slot(s[1], 2026, 3, 30, 9, 0);
}

static void test_notice(void **state)
{
    (void)state;
    struct sa_calendar c;
    sa_calendar_init(&c);
    time_t s[2];
    assert_int_equal(sa_calendar_slots(&c, utc(2026, 3, 30, 8, 10), 2, s), 2);
    assert_slot(s[0], 2026, 3, 30, 10, 30); /* 10:10 is the earliest; next on the grid */
    assert_slot(s[1], 2026, 3, 30, 13, 0);
    c.notice_minutes = 0;
    assert_int_equal(sa_calendar_slots(&c, utc(2026, 3, 30, 8, 10), 1, s), 1);
    assert_slot(s[0], 2026, 3, 30, 9, 0);
    c.notice_minutes = 30;
    assert_int_equal(sa_calendar_slots(&c, utc(2026, 3, 30, 8, 30), 1, s), 1);
    assert_slot(s[0], 2026, 3, 30, 9, 0); /* exactly the notice away is fine */
    c.notice_minutes = 24 * 60;
    assert_int_equal(sa_calendar_slots(&c, utc(2026, 3, 30, 8, 0), 1, s), 1);
    assert_slot(s[0], 2026, 3, 31, 9, 0);
    /* Bad arguments. */
    assert_int_equal(sa_calendar_slots(&c, utc(2026, 3, 30, 8, 0), 0, s), 0);
    assert_int_equal(sa_calendar_slots(&c, utc(2026, 3, 30, 8, 0), -1, s), SA_EINVAL);
    assert_int_equal(sa_calendar_slots(&c, -86400, 1, s), SA_EINVAL);
    assert_int_equal(sa_calendar_slots(&c, INT64_MAX, 1, s), SA_EINVAL);
    c.days = 0;
    assert_int_equal(sa_calendar_slots(&c, utc(2026, 3, 30, 8, 0), 1, s), SA_EINVAL);
    sa_calendar_init(&c);
    snprintf(c.tz, sizeof c.tz, "Nowhere/Land");
    assert_int_equal(sa_calendar_slots(&c, utc(2026, 3, 30, 8, 0), 1, s), SA_ECONFIG);
}

static void test_busy(void **state)
{
    (void)state;
    struct sa_calendar c;
    sa_calendar_init(&c);
    const struct sa_busy busy[] = {
        {utc(2026, 3, 31, 9, 0), utc(2026, 3, 31, 9, 1)},    /* Tue: a minute blocks 09:00 */
        {utc(2026, 3, 30, 12, 45), utc(2026, 3, 30, 18, 0)}, /* Mon afternoon gone */
        {utc(2026, 3, 30, 9, 0), utc(2026, 3, 30, 11, 30)},  /* ends as 11:30 starts */
    };
    c.busy = busy;
    c.n_busy = sizeof busy / sizeof busy[0];
    time_t s[4];
    assert_int_equal(sa_calendar_slots(&c, utc(2026, 3, 29, 12, 0), 4, s), 4);
    assert_slot(s[0], 2026, 3, 30, 11, 30);
    assert_slot(s[1], 2026, 3, 31, 9, 30);
    assert_slot(s[2], 2026, 3, 31, 13, 0);
    assert_slot(s[3], 2026, 4, 1, 9, 0);
    c.busy = NULL; /* a count without a list is a caller bug */
    assert_int_equal(sa_calendar_slots(&c, utc(2026, 3, 29, 12, 0), 4, s), SA_EINVAL);
    /* Busy for the whole horizon: fewer slots than asked, not an error. */
    const struct sa_busy all = {utc(2026, 1, 1, 0, 0), utc(2027, 1, 1, 0, 0)};
    c.busy = &all;
    c.n_busy = 1;
    assert_int_equal(sa_calendar_slots(&c, utc(2026, 3, 29, 12, 0), 4, s), 0);
}

static void test_two_per_day(void **state)
{
    (void)state;
    struct sa_calendar c;
    struct sa_err err = {0};
    assert_int_equal(sa_calendar_parse(&c, "UTC", "Mon-Sun", "08:00-18:00", 20, &err), 0);
    c.notice_minutes = 0;
    time_t s[20];
    assert_int_equal(sa_calendar_slots(&c, utc(2026, 3, 30, 0, 0), 20, s), 20);
    for (int i = 0; i < 20; i++) {
        struct tm tm;
        gmtime_r(&s[i], &tm);
        int minute = tm.tm_hour * 60 + tm.tm_min;
        assert_true(minute >= 8 * 60 && minute + 20 <= 18 * 60);
        assert_int_equal((minute - 8 * 60) % 20, 0); /* on the grid */
        if (i % 2 == 0) {
            assert_int_equal(minute, 8 * 60); /* morning */
            assert_int_equal(tm.tm_mday, 30 + i / 2 > 31 ? 30 + i / 2 - 31 : 30 + i / 2);
        } else {
            assert_int_equal(minute, 13 * 60); /* afternoon */
            assert_int_equal(s[i] - s[i - 1], 5 * 3600);
        }
    }
}

static void test_berlin_dst(void **state)
{
    (void)state;
    struct sa_calendar c;
    struct sa_err err = {0};
    assert_int_equal(sa_calendar_parse(&c, "Europe/Berlin", "Mon-Fri", "09:00-17:00", 30, &err), 0);
    time_t s[3];
    /* Friday 27 March 2026 13:00 CET; clocks go forward on Sunday 29 March. */
    assert_int_equal(sa_calendar_slots(&c, utc(2026, 3, 27, 12, 0), 3, s), 3);
    assert_slot(s[0], 2026, 3, 27, 14, 0); /* 15:00 CET */
    assert_slot(s[1], 2026, 3, 30, 7, 0);  /* 09:00 CEST */
    assert_slot(s[2], 2026, 3, 30, 11, 0); /* 13:00 CEST */
    /* The week before, 09:00 local was 08:00 UTC. */
    assert_int_equal(sa_calendar_slots(&c, utc(2026, 3, 23, 5, 0), 2, s), 2);
    assert_slot(s[0], 2026, 3, 23, 8, 0);
    assert_slot(s[1], 2026, 3, 23, 12, 0);
    /* And back on Sunday 25 October. */
    assert_int_equal(sa_calendar_slots(&c, utc(2026, 10, 23, 4, 0), 3, s), 3);
    assert_slot(s[0], 2026, 10, 23, 7, 0); /* 09:00 CEST */
    assert_slot(s[1], 2026, 10, 23, 11, 0);
    assert_slot(s[2], 2026, 10, 26, 8, 0); /* 09:00 CET */
}

static void test_new_york(void **state)
{
    (void)state;
    struct sa_calendar c;
    struct sa_err err = {0};
    assert_int_equal(sa_calendar_parse(&c, "America/New_York", NULL, NULL, 0, &err), 0);
    time_t s[3];
    /* Friday 6 March 2026 13:00 EST; clocks go forward on Sunday 8 March. */
    assert_int_equal(sa_calendar_slots(&c, utc(2026, 3, 6, 18, 0), 3, s), 3);
    assert_slot(s[0], 2026, 3, 6, 20, 0); /* 15:00 EST */
    assert_slot(s[1], 2026, 3, 9, 13, 0); /* 09:00 EDT */
    assert_slot(s[2], 2026, 3, 9, 17, 0); /* 13:00 EDT */

    /* Sundays 02:00-04:00 in hour slots: on 8 March 02:00 does not exist (the clocks jump
     * from 01:59 EST to 03:00 EDT), so that morning offers nothing rather than a shifted
     * "02:00"; the afternoon half still offers 03:00. */
    assert_int_equal(sa_calendar_parse(&c, "America/New_York", "Sun", "02:00-04:00", 60, &err), 0);
    assert_int_equal(sa_calendar_slots(&c, utc(2026, 3, 7, 12, 0), 3, s), 3);
    assert_slot(s[0], 2026, 3, 8, 7, 0);  /* 03:00 EDT */
    assert_slot(s[1], 2026, 3, 15, 6, 0); /* 02:00 EDT a week later */
    assert_slot(s[2], 2026, 3, 15, 7, 0);
    /* The Sunday before, both exist in EST. */
    assert_int_equal(sa_calendar_slots(&c, utc(2026, 2, 28, 12, 0), 2, s), 2);
    assert_slot(s[0], 2026, 3, 1, 7, 0);
    assert_slot(s[1], 2026, 3, 1, 8, 0);
}

/* The lock around libical's zone table: threads asking at once agree with one thread. */
struct slot_job {
    const char *tz;
    time_t now, want[4];
    int bad;
};

static void *slot_thread(void *arg)
{
    struct slot_job *j = arg;
    struct sa_calendar c;
    struct sa_err err = {0};
    if (sa_calendar_parse(&c, j->tz, NULL, NULL, 0, &err) != 0) {
        j->bad++;
        return NULL;
    }
    for (int round = 0; round < 50; round++) {
        time_t s[4];
        if (sa_calendar_slots(&c, j->now, 4, s) != 4 || memcmp(s, j->want, sizeof s) != 0)
            j->bad++;
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    sa_calendar_shutdown(); /* make the threads race to load the zone table */
    static const char *zones[] = {"Europe/Berlin", "America/New_York", "Asia/Kolkata",
                                  "US/Pacific"};
    struct slot_job jobs[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        jobs[i] = (struct slot_job){.tz = zones[i % 4], .now = utc(2026, 3, 27, 12, 0)};
        struct sa_calendar c;
        struct sa_err err = {0};
        assert_int_equal(sa_calendar_parse(&c, jobs[i].tz, NULL, NULL, 0, &err), 0);
        assert_int_equal(sa_calendar_slots(&c, jobs[i].now, 4, jobs[i].want), 4);
    }
    sa_calendar_shutdown();
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&th[i], NULL, slot_thread, &jobs[i]), 0);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(jobs[i].bad, 0);
    }
}

static const char long_description[] =
    "Hi Jane,\nthanks for your time. In this call we walk through how Acme's pipeline "
    "reviews could run on sales-agent: scoring, enrichment; and handoff to your AEs. "
    "Agenda: introductions, your current process, a short demo, next steps. Grüße aus "
    "Berlin!";

/* A guest zone limits slots to the guest's 09:00-17:00 too: a New York seller and a San
 * Francisco prospect share 12:00-17:00 Eastern, so every slot starts between 12:00 and
 * 16:30 Eastern (09:00-13:30 Pacific). */
static void test_guest_hours(void **state)
{
    (void)state;
    struct sa_calendar c;
    struct sa_err err = {0};
    assert_int_equal(sa_calendar_parse(&c, "America/New_York", NULL, NULL, 30, &err), 0);
    snprintf(c.guest_tz, sizeof c.guest_tz, "%s", "America/Los_Angeles");
    time_t now = utc(2026, 12, 4, 13, 0); /* Friday 08:00 Eastern */
    time_t starts[8];
    int n = sa_calendar_slots(&c, now, 8, starts);
    assert_int_equal(n, 8);
    for (int i = 0; i < n; i++) {
        struct sa_local_time et, pt;
        assert_int_equal(sa_calendar_local("America/New_York", starts[i], &et), 0);
        assert_int_equal(sa_calendar_local("America/Los_Angeles", starts[i], &pt), 0);
        assert_true(et.hour >= 12 && et.hour * 60 + et.minute + 30 <= 17 * 60);
        assert_true(pt.hour >= 9 && pt.hour * 60 + pt.minute + 30 <= 17 * 60);
        assert_true(pt.weekday < 5 && et.weekday < 5);
        assert_string_equal(pt.abbrev, "PST");
        assert_true(sa_calendar_slot_ok(&c, now, starts[i]));
    }
    /* the first: Friday 12:00 Eastern, 09:00 Pacific */
    assert_slot(starts[0], 2026, 12, 4, 17, 0);
    char text[96];
    sa_calendar_format_local("America/Los_Angeles", starts[0], text, sizeof text);
    assert_string_equal(text, "Friday 4 December, 09:00 PST");
    sa_calendar_format_local("Europe/Berlin", utc(2026, 7, 1, 8, 0), text, sizeof text);
    assert_string_equal(text, "Wednesday 1 July, 10:00 CEST");
    sa_calendar_format_local("No/Such_Zone", starts[0], text, sizeof text);
    assert_string_equal(text, "");
    /* outside the guest's hours, though inside the seller's: 10:00 Eastern is 07:00 Pacific */
    assert_false(sa_calendar_slot_ok(&c, now, utc(2026, 12, 7, 15, 0)));
    c.guest_tz[0] = '\0';
    assert_true(sa_calendar_slot_ok(&c, now, utc(2026, 12, 7, 15, 0)));
    /* Saturday, too soon, or after hours */
    assert_false(sa_calendar_slot_ok(&c, now, utc(2026, 12, 5, 15, 0)));
    assert_false(sa_calendar_slot_ok(&c, now, now + 60));
    assert_false(sa_calendar_slot_ok(&c, now, utc(2026, 12, 7, 21, 45)));
    /* a guest with no shared hours gets no slot */
    snprintf(c.guest_tz, sizeof c.guest_tz, "%s", "Asia/Tokyo");
    assert_int_equal(sa_calendar_slots(&c, now, 8, starts), 0);
    snprintf(c.guest_tz, sizeof c.guest_tz, "%s", "Nowhere/Land");
    assert_int_equal(sa_calendar_slots(&c, now, 8, starts), SA_ECONFIG);
    /* local <-> UTC; a skipped local time and an unknown zone are refused */
    time_t t;
    assert_int_equal(sa_calendar_utc("America/New_York", 2026, 12, 8, 14 * 60, &t), 0);
    assert_slot(t, 2026, 12, 8, 19, 0);
    assert_int_equal(sa_calendar_utc("America/New_York", 2026, 3, 8, 2 * 60 + 30, &t), SA_EINVAL);
    assert_int_equal(sa_calendar_utc("America/New_York", 2026, 2, 30, 600, &t), SA_EINVAL);
    assert_int_equal(sa_calendar_utc("Nowhere/Land", 2026, 2, 3, 600, &t), SA_EINVAL);
    assert_true(sa_calendar_zone_known("Asia/Kolkata"));
    assert_false(sa_calendar_zone_known("Asia/../Kolkata"));
    struct sa_local_time lt;
    assert_int_equal(sa_calendar_local("Asia/Kolkata", utc(2026, 1, 1, 0, 0), &lt), 0);
    assert_int_equal(lt.utc_offset, 19800);
    assert_string_equal(lt.abbrev, "IST");
}

static void test_ics_invite(void **state)
{
    (void)state;
    char uid[SA_ICS_UID_LEN];
    sa_ics_uid("meeting:lead-42:2026-03-30T07:00Z", uid);
    struct sa_ics m = {
        .uid = uid,
        .start = utc(2026, 3, 30, 7, 0),
        .end = utc(2026, 3, 30, 7, 30),
        .dtstamp = utc(2026, 3, 27, 12, 0),
        .summary = "Intro call: Acme, Inc.; pricing",
        .description = long_description,
        .location = "https://meet.example.com/abc-defg-hij",
        .organizer_name = "Dana Seller",
        .organizer_email = "dana@seller.io",
        .attendee_name = "Jane \"JJ\" Doe, VP",
        .attendee_email = "jane@acme.io",
        .sequence = 1,
        .url = "https://meet.example.com/abc-defg-hij",
    };
    struct sa_err err = {0};
    char *ics = NULL;
    assert_int_equal(sa_ics_invite(&m, &ics, &err), 0);
    assert_non_null(ics);

    /* Wire form: CRLF everywhere, no line over 75 octets, folded lines continue with SP. */
    assert_true(strncmp(ics, "BEGIN:VCALENDAR\r\n", 17) == 0);
    size_t len = strlen(ics);
    assert_true(len > 17 && strcmp(ics + len - 15, "END:VCALENDAR\r\n") == 0);
    int continued = 0;
    for (const char *line = ics; *line;) {
        const char *nl = strchr(line, '\n');
        assert_non_null(nl);
        assert_true(nl > line && nl[-1] == '\r');
        assert_true((size_t)(nl - 1 - line) <= 75);
        continued += line[0] == ' ';
        line = nl + 1;
    }
    assert_true(continued >= 2); /* the description folds */
    assert_non_null(strstr(ics, "\r\nMETHOD:REQUEST\r\n"));
    assert_non_null(strstr(ics, "\r\nPRODID:-//sales-agent//EN\r\n"));
    assert_non_null(strstr(ics, "\r\nVERSION:2.0\r\n"));
    assert_non_null(strstr(ics, "\r\nDTSTART:20260330T070000Z\r\n"));
    assert_non_null(strstr(ics, "\r\nDTEND:20260330T073000Z\r\n"));
    assert_non_null(strstr(ics, "\r\nDTSTAMP:20260327T120000Z\r\n"));
    assert_non_null(strstr(ics, "\r\nSEQUENCE:1\r\n"));
    /* a proposal nobody accepted yet is tentative */
    assert_non_null(strstr(ics, "\r\nSTATUS:TENTATIVE\r\n"));
    assert_non_null(strstr(ics, "\r\nURL:https://meet.example.com/abc-defg-hij\r\n"));
    assert_non_null(strstr(ics, "SUMMARY:Intro call: Acme\\, Inc.\\; pricing\r\n"));

    /* Read back with libical's parser. */
    icalcomponent *cal = icalparser_parse_string(ics);
    assert_non_null(cal);
    assert_int_equal(icalcomponent_isa(cal), ICAL_VCALENDAR_COMPONENT);
    assert_int_equal(icalcomponent_get_method(cal), ICAL_METHOD_REQUEST);
    assert_int_equal(icalcomponent_count_components(cal, ICAL_VEVENT_COMPONENT), 1);
    icalcomponent *ev = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);
    assert_string_equal(icalcomponent_get_uid(ev), uid);
    struct icaltimetype start = icalcomponent_get_dtstart(ev);
    assert_true(icaltime_is_utc(start));
    assert_int_equal(icaltime_as_timet(start), m.start);
    assert_int_equal(icaltime_as_timet(icalcomponent_get_dtend(ev)), m.end);
    assert_string_equal(icalcomponent_get_summary(ev), m.summary);
    assert_string_equal(icalcomponent_get_description(ev), long_description);
    assert_string_equal(icalcomponent_get_location(ev), m.location);
    assert_int_equal(icalcomponent_get_sequence(ev), 1);
    assert_int_equal(icalcomponent_get_status(ev), ICAL_STATUS_TENTATIVE);

    icalproperty *org = icalcomponent_get_first_property(ev, ICAL_ORGANIZER_PROPERTY);
    assert_non_null(org);
    assert_string_equal(icalproperty_get_organizer(org), "mailto:dana@seller.io");
    icalparameter *cn = icalproperty_get_first_parameter(org, ICAL_CN_PARAMETER);
    assert_non_null(cn);
    assert_string_equal(icalparameter_get_cn(cn), "Dana Seller");

    assert_int_equal(icalcomponent_count_properties(ev, ICAL_ATTENDEE_PROPERTY), 1);
    icalproperty *att = icalcomponent_get_first_property(ev, ICAL_ATTENDEE_PROPERTY);
    assert_string_equal(icalproperty_get_attendee(att), "mailto:jane@acme.io");
    icalparameter *p = icalproperty_get_first_parameter(att, ICAL_RSVP_PARAMETER);
    assert_non_null(p);
    assert_int_equal(icalparameter_get_rsvp(p), ICAL_RSVP_TRUE);
    p = icalproperty_get_first_parameter(att, ICAL_ROLE_PARAMETER);
    assert_non_null(p);
    assert_int_equal(icalparameter_get_role(p), ICAL_ROLE_REQPARTICIPANT);
    p = icalproperty_get_first_parameter(att, ICAL_PARTSTAT_PARAMETER);
    assert_non_null(p);
    assert_int_equal(icalparameter_get_partstat(p), ICAL_PARTSTAT_NEEDSACTION);
    assert_non_null(icalproperty_get_first_parameter(att, ICAL_CN_PARAMETER));
    icalcomponent_free(cal);
    free(ics);

    /* Optional fields left out. */
    m.description = NULL;
    m.location = NULL;
    m.organizer_name = NULL;
    m.summary = NULL;
    m.sequence = 0;
    m.url = NULL;
    m.confirmed = true;
    assert_int_equal(sa_ics_invite(&m, &ics, &err), 0);
    assert_non_null(strstr(ics, "\r\nSTATUS:CONFIRMED\r\n"));
    assert_null(strstr(ics, "\r\nURL:"));
    assert_null(strstr(ics, "DESCRIPTION"));
    assert_null(strstr(ics, "LOCATION"));
    assert_non_null(strstr(ics, "\r\nORGANIZER:mailto:dana@seller.io\r\n"));
    assert_non_null(strstr(ics, "\r\nSUMMARY:Meeting\r\n"));
    assert_non_null(strstr(ics, "\r\nSEQUENCE:0\r\n"));
    free(ics);
}

/* A refused invite: SA_EINVAL, no output, and a message naming the field. */
static void expect_refused(const struct sa_ics *m, const char *needle)
{
    struct sa_err err = {0};
    char *ics = (char *)"untouched";
    assert_int_equal(sa_ics_invite(m, &ics, &err), SA_EINVAL);
    assert_null(ics);
    if (!strstr(err.msg, needle))
        fail_msg("message \"%s\" does not mention \"%s\"", err.msg, needle);
}

static void test_ics_refused(void **state)
{
    (void)state;
    const struct sa_ics good = {
        .uid = "abc@sales-agent",
        .start = utc(2026, 3, 30, 7, 0),
        .end = utc(2026, 3, 30, 7, 30),
        .dtstamp = utc(2026, 3, 27, 12, 0),
        .organizer_email = "dana@seller.io",
        .attendee_email = "jane@acme.io",
    };
    struct sa_ics m = good;
    m.uid = NULL;
    expect_refused(&m, "uid");
    m.uid = "";
    expect_refused(&m, "uid");
    m.uid = "abc\r\nATTENDEE:mailto:evil@x.io";
    expect_refused(&m, "uid");
    m = good;
    m.organizer_email = "dana@seller.io\r\nATTENDEE:mailto:evil@x.io";
    expect_refused(&m, "organizer_email");
    m.organizer_email = NULL;
    expect_refused(&m, "organizer_email");
    m = good;
    m.attendee_email = "jane@acme.io\nBEGIN:VALARM";
    expect_refused(&m, "attendee_email");
    m.attendee_email = "";
    expect_refused(&m, "attendee_email");
    m.attendee_email = "jane.acme.io";
    expect_refused(&m, "attendee_email");
    m.attendee_email = "jane@acme.io;RSVP=FALSE";
    expect_refused(&m, "attendee_email");
    m = good;
    m.end = m.start;
    expect_refused(&m, "start");
    m = good;
    m.sequence = -1;
    expect_refused(&m, "sequence");
    m = good;
    m.url = "https://meet.example.com/x\r\nATTENDEE:mailto:evil@x.io";
    expect_refused(&m, "url");
    expect_refused(NULL, "meeting");

    /* Line breaks in text and names are escaped by libical, never new properties. */
    m = good;
    m.summary = "Hi\r\nATTENDEE:mailto:evil@x.io";
    m.description = "a\r\nORGANIZER:mailto:evil@x.io";
    m.attendee_name = "Jane\r\nATTENDEE:mailto:evil@x.io";
    m.organizer_name = "Dana\nX";
    struct sa_err err = {0};
    char *ics = NULL;
    assert_int_equal(sa_ics_invite(&m, &ics, &err), 0);
    assert_null(strstr(ics, "\nATTENDEE:mailto:evil"));
    assert_null(strstr(ics, "\nORGANIZER:mailto:evil"));
    icalcomponent *cal = icalparser_parse_string(ics);
    assert_non_null(cal);
    icalcomponent *ev = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT);
    assert_int_equal(icalcomponent_count_properties(ev, ICAL_ATTENDEE_PROPERTY), 1);
    assert_int_equal(icalcomponent_count_properties(ev, ICAL_ORGANIZER_PROPERTY), 1);
    icalcomponent_free(cal);
    free(ics);
}

static void test_uid(void **state)
{
    (void)state;
    char a[SA_ICS_UID_LEN], b[SA_ICS_UID_LEN], c[SA_ICS_UID_LEN];
    sa_ics_uid("lead-42/meeting-1", a);
    sa_ics_uid("lead-42/meeting-1", b);
    sa_ics_uid("lead-42/meeting-2", c);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_int_equal(strlen(a), 32 + strlen("@sales-agent"));
    assert_string_equal(a + 32, "@sales-agent");
    assert_int_equal(strspn(a, "0123456789abcdef"), 32);
    sa_ics_uid("", b);
    sa_ics_uid(NULL, c);
    assert_string_equal(b, c);
    assert_string_not_equal(a, b);
}

static int teardown(void **state)
{
    (void)state;
    sa_calendar_shutdown();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_weekend_skipped),
        cmocka_unit_test(test_notice),
        cmocka_unit_test(test_busy),
        cmocka_unit_test(test_two_per_day),
        cmocka_unit_test(test_berlin_dst),
        cmocka_unit_test(test_new_york),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_guest_hours),
        cmocka_unit_test(test_ics_invite),
        cmocka_unit_test(test_ics_refused),
        cmocka_unit_test(test_uid),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
