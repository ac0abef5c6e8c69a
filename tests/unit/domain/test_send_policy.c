/* Pins the sending policy: SEND_WINDOW parsing, the next instant inside a window in the
 * recipient's zone (weekends, evenings, DST changes in New York and Berlin, the hour a
 * spring-forward skips), rolling caps, and the verdict that combines them with a
 * sequence's spacing (a catch-up after downtime keeps the follow-ups days apart). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <time.h>

#include "connectors/calendar/calendar.h"
#include "domain/send_policy.h"

static time_t utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    return timegm(&tm);
}

static void assert_time(time_t got, time_t want)
{
    if (got != want) {
        char g[32], w[32];
        struct tm a, b;
        strftime(g, sizeof g, "%Y-%m-%d %H:%M:%S", gmtime_r(&got, &a));
        strftime(w, sizeof w, "%Y-%m-%d %H:%M:%S", gmtime_r(&want, &b));
        fail_msg("got %s UTC, want %s UTC", g, w);
    }
}

/* The real zone, through the calendar module's libical (its lock). */
static int zone(void *arg, time_t t, int *off)
{
    return sa_zone_utc_offset(arg, t, off);
}

static struct sa_send_window window(const char *spec)
{
    struct sa_send_window w;
    struct sa_err err = {0};
    if (sa_send_window_parse(spec, &w, &err))
        fail_msg("%s: %s", spec, err.msg);
    return w;
}

static time_t next_in(const char *spec, const char *tz, time_t t)
{
    struct sa_send_window w = window(spec);
    time_t out = 0;
    assert_int_equal(sa_send_window_next(&w, zone, (void *)tz, t, &out), 0);
    return out;
}

static void test_parse(void **state)
{
    (void)state;
    struct sa_send_window w = window("Mon-Fri 08:00-18:00");
    assert_false(w.any);
    assert_int_equal(w.days, 0x3e); /* Mon..Fri, Sunday is bit 0 */
    assert_int_equal(w.start_min, 480);
    assert_int_equal(w.end_min, 1080);
    w = window("Sun-Thu 09:30-17:00");
    assert_int_equal(w.days, 0x1f);
    w = window("Mon,Wed,Fri 10:00-12:00");
    assert_int_equal(w.days, (1u << 1) | (1u << 3) | (1u << 5));
    w = window("ANY");
    assert_true(w.any);
    static const char *const bad[] = {"",
                                      "Mon-Fri",
                                      "Mon-Fri 18:00-08:00",
                                      "Mon-Fri 08:00-08:00",
                                      "Xyz 08:00-10:00",
                                      "Mon-Fri 8:00-18:00",
                                      "Mon-Fri 08:00-25:00",
                                      "Mon, 08:00-10:00",
                                      "Mon-Fri 08:00-18:00 extra"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sa_err err = {0};
        if (sa_send_window_parse(bad[i], &w, &err) != SA_EINVAL)
            fail_msg("\"%s\" was accepted", bad[i]);
        assert_non_null(strstr(err.msg, "SEND_WINDOW"));
    }
}

static void test_window_utc(void **state)
{
    (void)state;
    const char *w = "Mon-Fri 08:00-18:00";
    /* 2026-12-02 is a Wednesday: inside stays, before moves to 08:00, after to tomorrow */
    assert_time(next_in(w, "UTC", utc(2026, 12, 2, 10, 15)), utc(2026, 12, 2, 10, 15));
    assert_time(next_in(w, "UTC", utc(2026, 12, 2, 4, 25)), utc(2026, 12, 2, 8, 0));
    assert_time(next_in(w, "UTC", utc(2026, 12, 2, 18, 0)), utc(2026, 12, 3, 8, 0));
    /* Friday evening, Saturday and Sunday all go to Monday 08:00 */
    assert_time(next_in(w, "UTC", utc(2026, 12, 4, 19, 0)), utc(2026, 12, 7, 8, 0));
    assert_time(next_in(w, "UTC", utc(2026, 12, 5, 12, 0)), utc(2026, 12, 7, 8, 0));
    assert_time(next_in(w, "UTC", utc(2026, 12, 6, 4, 25)), utc(2026, 12, 7, 8, 0));
    /* any: now */
    assert_time(next_in("any", "UTC", utc(2026, 12, 6, 4, 25)), utc(2026, 12, 6, 4, 25));
}

static void test_window_zones_and_dst(void **state)
{
    (void)state;
    const char *w = "Mon-Fri 08:00-18:00";
    /* New York, winter (UTC-5): 12:00 UTC is 07:00 local, so 13:00 UTC */
    assert_time(next_in(w, "America/New_York", utc(2026, 12, 2, 12, 0)), utc(2026, 12, 2, 13, 0));
    /* 22:30 UTC Wednesday is 17:30 local: inside */
    assert_time(next_in(w, "America/New_York", utc(2026, 12, 2, 22, 30)),
                utc(2026, 12, 2, 22, 30));
    /* a Sunday 04:25 UTC is Saturday night in New York: Monday 08:00 EST */
    assert_time(next_in(w, "America/New_York", utc(2026, 12, 6, 4, 25)), utc(2026, 12, 7, 13, 0));
    /* across spring forward (Sunday 2026-03-08): Friday evening EST -> Monday 08:00 EDT */
    assert_time(next_in(w, "America/New_York", utc(2026, 3, 7, 0, 0)), utc(2026, 3, 9, 12, 0));
    /* across fall back (Sunday 2026-11-01): Friday evening EDT -> Monday 08:00 EST */
    assert_time(next_in(w, "America/New_York", utc(2026, 10, 30, 23, 0)), utc(2026, 11, 2, 13, 0));
    /* Berlin across its spring change (Sunday 2026-03-29): Monday 08:00 CEST = 06:00 UTC */
    assert_time(next_in(w, "Europe/Berlin", utc(2026, 3, 28, 10, 0)), utc(2026, 3, 30, 6, 0));
    /* and in winter, 08:00 CET = 07:00 UTC */
    assert_time(next_in(w, "Europe/Berlin", utc(2026, 12, 2, 5, 0)), utc(2026, 12, 2, 7, 0));
    /* a window opening at 02:00 on the day 02:00 does not exist starts after the gap:
     * 03:00 EDT = 07:00 UTC */
    assert_time(next_in("Sun 02:00-04:00", "America/New_York", utc(2026, 3, 8, 5, 0)),
                utc(2026, 3, 8, 7, 0));
    /* an unknown zone is an error, not a guess */
    struct sa_send_window sw = window(w);
    time_t out;
    assert_int_equal(sa_send_window_next(&sw, zone, (void *)"Mars/Olympus", utc(2026, 12, 2, 5, 0),
                                         &out),
                     SA_EINVAL);
}

static void test_caps(void **state)
{
    (void)state;
    const long long times[] = {100, 200, 300};
    assert_int_equal(sa_send_cap_next(times, 3, 0, 1000, 500), 500);  /* no cap */
    assert_int_equal(sa_send_cap_next(times, 3, 4, 1000, 500), 500);  /* room left */
    assert_int_equal(sa_send_cap_next(times, 3, 3, 1000, 500), 1101); /* the oldest must go */
    assert_int_equal(sa_send_cap_next(times, 3, 2, 1000, 500), 1201); /* two must go */
    assert_int_equal(sa_send_cap_next(times, 3, 1, 1000, 500), 1301);
    /* sends older than the period do not count */
    assert_int_equal(sa_send_cap_next(times, 3, 2, 1000, 1250), 1250);
    assert_int_equal(sa_send_cap_next(NULL, 0, 1, 1000, 7), 7);
}

static void test_decide(void **state)
{
    (void)state;
    struct sa_send_window w = window("Mon-Fri 08:00-18:00");
    time_t now = utc(2026, 12, 6, 4, 25); /* a Sunday */
    struct sa_send_facts f = {.now = now, .window = &w};
    struct sa_send_decision d;
    /* consent and duplicates cancel */
    f.do_not_contact = true;
    assert_int_equal(sa_send_decide(&f, &d), 0);
    assert_int_equal(d.verdict, SA_SEND_CANCEL);
    assert_string_equal(sa_send_reason_name(d.reason), "do_not_contact");
    f.do_not_contact = false;
    f.duplicate = true;
    assert_int_equal(sa_send_decide(&f, &d), 0);
    assert_int_equal(d.verdict, SA_SEND_CANCEL);
    assert_string_equal(sa_send_reason_name(d.reason), "duplicate_sequence");
    f.duplicate = false;
    /* outside the window: deferred to Monday 08:00 */
    assert_int_equal(sa_send_decide(&f, &d), 0);
    assert_int_equal(d.verdict, SA_SEND_DEFER);
    assert_time(d.at, utc(2026, 12, 7, 8, 0));
    assert_string_equal(sa_send_reason_name(d.reason), "sending_window");
    /* inside it with nothing in the way: now */
    f.now = utc(2026, 12, 7, 9, 0);
    assert_int_equal(sa_send_decide(&f, &d), 0);
    assert_int_equal(d.verdict, SA_SEND_NOW);
    /* the contact's weekly cap frees up on Saturday; the window then says Monday */
    const long long sent[] = {(long long)utc(2026, 12, 5, 10, 0),
                              (long long)utc(2026, 12, 7, 8, 30)};
    f.contact = (struct sa_send_cap){.times = sent, .n = 2, .limit = 2};
    assert_int_equal(sa_send_decide(&f, &d), 0);
    assert_int_equal(d.verdict, SA_SEND_DEFER);
    assert_time(d.at, utc(2026, 12, 7, 8, 0) + SA_SEND_WEEK);
    /* the domain cap binds the same way, and its reason is named when it decides */
    f.contact = (struct sa_send_cap){0};
    const long long dom[] = {(long long)utc(2026, 12, 7, 8, 30)};
    f.domain = (struct sa_send_cap){.times = dom, .n = 1, .limit = 1};
    f.window = NULL;
    assert_int_equal(sa_send_decide(&f, &d), 0);
    assert_time(d.at, utc(2026, 12, 7, 8, 30) + SA_SEND_WEEK + 1);
    assert_string_equal(sa_send_reason_name(d.reason), "domain_weekly_cap");
    /* the sender's daily limit: a day after the oldest counted send */
    f.domain = (struct sa_send_cap){0};
    f.sender = (struct sa_send_cap){.times = dom, .n = 1, .limit = 1};
    assert_int_equal(sa_send_decide(&f, &d), 0);
    assert_time(d.at, utc(2026, 12, 7, 8, 30) + SA_SEND_DAY + 1);
    assert_string_equal(sa_send_reason_name(d.reason), "sender_daily_limit");
}

/* Downtime: the first e-mail went out on Monday 2026-11-02 at 09:00; the server came back
 * on Sunday 2026-11-22 at 04:25 UTC with the day-3, day-7 and day-14 follow-ups all
 * overdue. Deciding them in order, each not before the previous one's new time plus the
 * original gap, spreads them over the windows: none now, none on a weekend, each gap kept. */
static void test_catch_up(void **state)
{
    (void)state;
    struct sa_send_window w = window("Mon-Fri 08:00-18:00");
    time_t first = utc(2026, 11, 2, 9, 0), now = utc(2026, 11, 22, 4, 25);
    const int days[] = {0, 3, 7, 14};
    time_t at[4] = {first};
    for (int i = 1; i < 4; i++) {
        struct sa_send_facts f = {.now = now,
                                  .window = &w,
                                  .offset = zone,
                                  .offset_arg = (void *)"America/New_York",
                                  .not_before = at[i - 1] + (days[i] - days[i - 1]) * 86400};
        struct sa_send_decision d;
        assert_int_equal(sa_send_decide(&f, &d), 0);
        assert_int_equal(d.verdict, SA_SEND_DEFER);
        at[i] = d.at;
        assert_true(at[i] - at[i - 1] >= (days[i] - days[i - 1]) * 86400);
        int off = 0;
        assert_int_equal(sa_zone_utc_offset("America/New_York", at[i], &off), 0);
        time_t local = at[i] + off;
        struct tm tm;
        gmtime_r(&local, &tm);
        assert_true(tm.tm_wday >= 1 && tm.tm_wday <= 5);
        assert_true(tm.tm_hour >= 8 && tm.tm_hour < 18);
    }
    /* Monday 08:00 EST, then Friday (4 days later), then the Friday after */
    assert_time(at[1], utc(2026, 11, 23, 13, 0));
    assert_time(at[2], utc(2026, 11, 27, 13, 0));
    assert_time(at[3], utc(2026, 12, 4, 13, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),       cmocka_unit_test(test_window_utc),
        cmocka_unit_test(test_window_zones_and_dst), cmocka_unit_test(test_caps),
        cmocka_unit_test(test_decide),      cmocka_unit_test(test_catch_up),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sa_calendar_shutdown();
    return rc;
}
