/* The prospect's time zone: the lead's own field, its state or city in a multi-zone
 * country, its country, its phone's calling code, else the calendar's zone; each checked
 * against the system zoneinfo through the calendar connector. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "connectors/calendar/calendar.h"
#include "domain/timezone.h"

static void expect(const char *lead_json, const char *zone, enum sa_tz_source src)
{
    json_error_t jerr;
    json_t *lead = json_loads(lead_json, 0, &jerr);
    if (!lead)
        fail_msg("bad test JSON %s: %s", lead_json, jerr.text);
    struct sa_lead_tz tz;
    sa_lead_timezone(lead, "Europe/Berlin", sa_calendar_zone_known, &tz);
    json_decref(lead);
    if (strcmp(tz.zone, zone) != 0 || tz.source != src)
        fail_msg("%s: got %s (%s), want %s (%s)", lead_json, tz.zone, sa_tz_source_name(tz.source),
                 zone, sa_tz_source_name(src));
}

static void test_sources(void **state)
{
    (void)state;
    /* the lead's own zone wins, when the system knows it */
    expect("{\"timezone\":\"Asia/Tokyo\",\"country\":\"US\"}", "Asia/Tokyo", SA_TZ_FROM_LEAD);
    expect("{\"contact_info\":{\"timezone\":\"America/Chicago\"}}", "America/Chicago",
           SA_TZ_FROM_LEAD);
    /* an unknown zone name falls through to the next source */
    expect("{\"timezone\":\"Mars/Olympus_Mons\",\"country\":\"France\"}", "Europe/Paris",
           SA_TZ_FROM_COUNTRY);
    expect("{\"timezone\":\"../../etc/passwd\",\"country\":\"FR\"}", "Europe/Paris",
           SA_TZ_FROM_COUNTRY);
    /* a multi-zone country: the state (code or name), else the city, else the main zone */
    expect("{\"country\":\"United States\",\"state\":\"CA\"}", "America/Los_Angeles",
           SA_TZ_FROM_REGION);
    expect("{\"country\":\"USA\",\"state\":\"colorado\"}", "America/Denver", SA_TZ_FROM_REGION);
    expect("{\"country\":\"US\",\"city\":\"San Francisco\"}", "America/Los_Angeles",
           SA_TZ_FROM_REGION);
    expect("{\"country\":\"US\"}", "America/New_York", SA_TZ_FROM_COUNTRY);
    expect("{\"country\":\"Canada\",\"province\":\"BC\"}", "America/Vancouver", SA_TZ_FROM_REGION);
    expect("{\"country\":\"AU\",\"state\":\"WA\"}", "Australia/Perth", SA_TZ_FROM_REGION);
    /* the same state code means another zone in another country */
    expect("{\"country\":\"US\",\"state\":\"WA\"}", "America/Los_Angeles", SA_TZ_FROM_REGION);
    expect("{\"country\":\"Deutschland\",\"city\":\"Munich\"}", "Europe/Berlin",
           SA_TZ_FROM_COUNTRY);
    expect("{\"country\":\"gbr\"}", "Europe/London", SA_TZ_FROM_COUNTRY);
    /* the phone's calling code: the longest one that matches */
    expect("{\"contact_info\":{\"phone\":\"+44 20 7946 0958\"}}", "Europe/London",
           SA_TZ_FROM_PHONE);
    expect("{\"contact_info\":{\"phone\":\"+353 1 234 5678\"}}", "Europe/Dublin", SA_TZ_FROM_PHONE);
    expect("{\"contact_info\":{\"phone\":\"0049 30 1234567\"}}", "Europe/Berlin", SA_TZ_FROM_PHONE);
    expect("{\"contact_info\":{\"phone\":\"+1 (415) 555-0100\"}}", "America/New_York",
           SA_TZ_FROM_PHONE);
    /* a national number says nothing; nothing at all: the calendar's zone */
    expect("{\"contact_info\":{\"phone\":\"030 1234567\"}}", "Europe/Berlin", SA_TZ_FROM_CALENDAR);
    expect("{\"country\":\"Atlantis\"}", "Europe/Berlin", SA_TZ_FROM_CALENDAR);
    expect("{}", "Europe/Berlin", SA_TZ_FROM_CALENDAR);
}

static void test_no_lead(void **state)
{
    (void)state;
    struct sa_lead_tz tz;
    sa_lead_timezone(NULL, NULL, NULL, &tz);
    assert_string_equal(tz.zone, "UTC");
    assert_int_equal(tz.source, SA_TZ_FROM_CALENDAR);
    assert_string_equal(sa_country_timezone("japan"), "Asia/Tokyo");
    assert_null(sa_country_timezone(""));
    assert_null(sa_country_timezone(NULL));
    assert_string_equal(sa_tz_source_name(SA_TZ_FROM_PHONE), "phone");
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
        cmocka_unit_test(test_sources),
        cmocka_unit_test(test_no_lead),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
