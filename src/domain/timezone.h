/* The prospect's time zone, from what a lead says about where they are: the BDR agent
 * proposes meeting times in it, the conversation agent reads times named in replies in
 * it, and the outbox's sending windows can use it. Pure lookups over built-in tables;
 * whether a zone name exists is asked of the caller (the calendar connector checks it
 * against the system zoneinfo), so this module needs no I/O. */
#ifndef SA_DOMAIN_TIMEZONE_H
#define SA_DOMAIN_TIMEZONE_H

#include <jansson.h>
#include <stdbool.h>

#define SA_TZ_NAME_MAX 64 /* longest zone name kept, with its NUL */

/* Where a resolved zone came from, most trusted first. */
enum sa_tz_source {
    SA_TZ_FROM_LEAD,     /* the lead's own "timezone" field */
    SA_TZ_FROM_REGION,   /* its state/province or city within a multi-zone country */
    SA_TZ_FROM_COUNTRY,  /* its country's main zone (the most populous one) */
    SA_TZ_FROM_PHONE,    /* the country calling code of its phone number */
    SA_TZ_FROM_CALENDAR, /* nothing said: the seller's calendar zone */
};

struct sa_lead_tz {
    char zone[SA_TZ_NAME_MAX]; /* IANA name, "America/Los_Angeles" */
    enum sa_tz_source source;
};

/* Answers whether an IANA zone name exists (sa_calendar_zone_known). */
typedef bool (*sa_zone_known_fn)(const char *zone);

/* Resolves the time zone of lead, a lead object as the API takes it (borrowed):
 *   1. "timezone" (top level or in contact_info), when known(zone) says it exists;
 *   2. for a country with several zones (US, CA, AU, BR, MX, RU), "state" (or "region",
 *      "province"; code or name, e.g. "CA" or "California") or else "city", top level or
 *      in contact_info;
 *   3. "country" (ISO 3166 alpha-2/alpha-3 code or English name, any case): its main zone;
 *   4. the phone's country calling code ("+49 30 ...", "0044 ..."; contact_info.phone or
 *      "phone"), longest prefix first; a number without + or 00 says nothing;
 *   5. fallback (the calendar's zone; "UTC" when NULL).
 * Each candidate is checked with known (NULL: trusted), so a zone missing from the
 * system's zoneinfo falls through to the next step. Fills *out; never fails.
 * Thread-safe. */
void sa_lead_timezone(const json_t *lead, const char *fallback, sa_zone_known_fn known,
                      struct sa_lead_tz *out);

/* "lead", "region", "country", "phone" or "calendar". */
const char *sa_tz_source_name(enum sa_tz_source s);

/* The zone of a country (code or name as in sa_lead_timezone, step 3), or NULL. */
const char *sa_country_timezone(const char *country);

/* The ISO 3166 alpha-2 code of a country (code or name as in sa_lead_timezone, step 3:
 * "Germany", "Deutschland", "DEU", "de" are "DE"), or NULL when the table lacks it. */
const char *sa_country_iso2(const char *country);

#endif
