/* The prospect's time zone (see timezone.h): tables of countries, regions of the
 * multi-zone countries, cities and calling codes, searched in the order the header gives. */
#include "domain/timezone.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* One country: its codes, English names (alternatives separated by '|'), main zone (for a
 * country with several, the most populous one) and calling code. */
struct country {
    const char *iso2, *iso3, *names, *zone, *calling;
};

static const struct country countries[] = {
    {"US", "USA", "United States|United States of America|U.S.|U.S.A.|America", "America/New_York",
     "1"},
    {"CA", "CAN", "Canada", "America/Toronto", "1"},
    {"MX", "MEX", "Mexico", "America/Mexico_City", "52"},
    {"BR", "BRA", "Brazil|Brasil", "America/Sao_Paulo", "55"},
    {"AR", "ARG", "Argentina", "America/Argentina/Buenos_Aires", "54"},
    {"CL", "CHL", "Chile", "America/Santiago", "56"},
    {"CO", "COL", "Colombia", "America/Bogota", "57"},
    {"PE", "PER", "Peru", "America/Lima", "51"},
    {"GB", "GBR", "United Kingdom|UK|U.K.|Great Britain|England|Scotland|Wales", "Europe/London",
     "44"},
    {"IE", "IRL", "Ireland", "Europe/Dublin", "353"},
    {"DE", "DEU", "Germany|Deutschland", "Europe/Berlin", "49"},
    {"FR", "FRA", "France", "Europe/Paris", "33"},
    {"ES", "ESP", "Spain|Espana", "Europe/Madrid", "34"},
    {"PT", "PRT", "Portugal", "Europe/Lisbon", "351"},
    {"IT", "ITA", "Italy|Italia", "Europe/Rome", "39"},
    {"NL", "NLD", "Netherlands|The Netherlands|Holland", "Europe/Amsterdam", "31"},
    {"BE", "BEL", "Belgium", "Europe/Brussels", "32"},
    {"LU", "LUX", "Luxembourg", "Europe/Luxembourg", "352"},
    {"CH", "CHE", "Switzerland|Schweiz|Suisse", "Europe/Zurich", "41"},
    {"AT", "AUT", "Austria|Osterreich", "Europe/Vienna", "43"},
    {"DK", "DNK", "Denmark", "Europe/Copenhagen", "45"},
    {"SE", "SWE", "Sweden", "Europe/Stockholm", "46"},
    {"NO", "NOR", "Norway", "Europe/Oslo", "47"},
    {"FI", "FIN", "Finland", "Europe/Helsinki", "358"},
    {"PL", "POL", "Poland|Polska", "Europe/Warsaw", "48"},
    {"CZ", "CZE", "Czech Republic|Czechia", "Europe/Prague", "420"},
    {"GR", "GRC", "Greece", "Europe/Athens", "30"},
    {"RO", "ROU", "Romania", "Europe/Bucharest", "40"},
    {"HU", "HUN", "Hungary", "Europe/Budapest", "36"},
    {"UA", "UKR", "Ukraine", "Europe/Kyiv", "380"},
    {"RU", "RUS", "Russia|Russian Federation", "Europe/Moscow", "7"},
    {"TR", "TUR", "Turkey|Turkiye", "Europe/Istanbul", "90"},
    {"IL", "ISR", "Israel", "Asia/Jerusalem", "972"},
    {"AE", "ARE", "United Arab Emirates|UAE", "Asia/Dubai", "971"},
    {"SA", "SAU", "Saudi Arabia", "Asia/Riyadh", "966"},
    {"EG", "EGY", "Egypt", "Africa/Cairo", "20"},
    {"ZA", "ZAF", "South Africa", "Africa/Johannesburg", "27"},
    {"NG", "NGA", "Nigeria", "Africa/Lagos", "234"},
    {"KE", "KEN", "Kenya", "Africa/Nairobi", "254"},
    {"IN", "IND", "India", "Asia/Kolkata", "91"},
    {"SG", "SGP", "Singapore", "Asia/Singapore", "65"},
    {"MY", "MYS", "Malaysia", "Asia/Kuala_Lumpur", "60"},
    {"ID", "IDN", "Indonesia", "Asia/Jakarta", "62"},
    {"PH", "PHL", "Philippines", "Asia/Manila", "63"},
    {"TH", "THA", "Thailand", "Asia/Bangkok", "66"},
    {"VN", "VNM", "Vietnam|Viet Nam", "Asia/Ho_Chi_Minh", "84"},
    {"CN", "CHN", "China", "Asia/Shanghai", "86"},
    {"HK", "HKG", "Hong Kong", "Asia/Hong_Kong", "852"},
    {"TW", "TWN", "Taiwan", "Asia/Taipei", "886"},
    {"JP", "JPN", "Japan", "Asia/Tokyo", "81"},
    {"KR", "KOR", "South Korea|Korea|Republic of Korea", "Asia/Seoul", "82"},
    {"AU", "AUS", "Australia", "Australia/Sydney", "61"},
    {"NZ", "NZL", "New Zealand", "Pacific/Auckland", "64"},
};

/* A state or province of a multi-zone country: code, names, zone. For a state split
 * between zones, the zone most of its people live in. */
struct region {
    const char *country, *code, *names, *zone;
};

static const struct region regions[] = {
    /* United States */
    {"US", "AL", "Alabama", "America/Chicago"},
    {"US", "AK", "Alaska", "America/Anchorage"},
    {"US", "AZ", "Arizona", "America/Phoenix"},
    {"US", "AR", "Arkansas", "America/Chicago"},
    {"US", "CA", "California", "America/Los_Angeles"},
    {"US", "CO", "Colorado", "America/Denver"},
    {"US", "CT", "Connecticut", "America/New_York"},
    {"US", "DE", "Delaware", "America/New_York"},
    {"US", "DC", "District of Columbia|Washington DC|Washington, D.C.", "America/New_York"},
    {"US", "FL", "Florida", "America/New_York"},
    {"US", "GA", "Georgia", "America/New_York"},
    {"US", "HI", "Hawaii", "Pacific/Honolulu"},
    {"US", "ID", "Idaho", "America/Boise"},
    {"US", "IL", "Illinois", "America/Chicago"},
    {"US", "IN", "Indiana", "America/Indiana/Indianapolis"},
    {"US", "IA", "Iowa", "America/Chicago"},
    {"US", "KS", "Kansas", "America/Chicago"},
    {"US", "KY", "Kentucky", "America/New_York"},
    {"US", "LA", "Louisiana", "America/Chicago"},
    {"US", "ME", "Maine", "America/New_York"},
    {"US", "MD", "Maryland", "America/New_York"},
    {"US", "MA", "Massachusetts", "America/New_York"},
    {"US", "MI", "Michigan", "America/Detroit"},
    {"US", "MN", "Minnesota", "America/Chicago"},
    {"US", "MS", "Mississippi", "America/Chicago"},
    {"US", "MO", "Missouri", "America/Chicago"},
    {"US", "MT", "Montana", "America/Denver"},
    {"US", "NE", "Nebraska", "America/Chicago"},
    {"US", "NV", "Nevada", "America/Los_Angeles"},
    {"US", "NH", "New Hampshire", "America/New_York"},
    {"US", "NJ", "New Jersey", "America/New_York"},
    {"US", "NM", "New Mexico", "America/Denver"},
    {"US", "NY", "New York", "America/New_York"},
    {"US", "NC", "North Carolina", "America/New_York"},
    {"US", "ND", "North Dakota", "America/Chicago"},
    {"US", "OH", "Ohio", "America/New_York"},
    {"US", "OK", "Oklahoma", "America/Chicago"},
    {"US", "OR", "Oregon", "America/Los_Angeles"},
    {"US", "PA", "Pennsylvania", "America/New_York"},
    {"US", "RI", "Rhode Island", "America/New_York"},
    {"US", "SC", "South Carolina", "America/New_York"},
    {"US", "SD", "South Dakota", "America/Chicago"},
    {"US", "TN", "Tennessee", "America/Chicago"},
    {"US", "TX", "Texas", "America/Chicago"},
    {"US", "UT", "Utah", "America/Denver"},
    {"US", "VT", "Vermont", "America/New_York"},
    {"US", "VA", "Virginia", "America/New_York"},
    {"US", "WA", "Washington", "America/Los_Angeles"},
    {"US", "WV", "West Virginia", "America/New_York"},
    {"US", "WI", "Wisconsin", "America/Chicago"},
    {"US", "WY", "Wyoming", "America/Denver"},
    {"US", "PR", "Puerto Rico", "America/Puerto_Rico"},
    /* Canada */
    {"CA", "AB", "Alberta", "America/Edmonton"},
    {"CA", "BC", "British Columbia", "America/Vancouver"},
    {"CA", "MB", "Manitoba", "America/Winnipeg"},
    {"CA", "NB", "New Brunswick", "America/Moncton"},
    {"CA", "NL", "Newfoundland and Labrador|Newfoundland", "America/St_Johns"},
    {"CA", "NS", "Nova Scotia", "America/Halifax"},
    {"CA", "ON", "Ontario", "America/Toronto"},
    {"CA", "PE", "Prince Edward Island", "America/Halifax"},
    {"CA", "QC", "Quebec", "America/Toronto"},
    {"CA", "SK", "Saskatchewan", "America/Regina"},
    {"CA", "YT", "Yukon", "America/Whitehorse"},
    /* Australia */
    {"AU", "NSW", "New South Wales", "Australia/Sydney"},
    {"AU", "VIC", "Victoria", "Australia/Melbourne"},
    {"AU", "QLD", "Queensland", "Australia/Brisbane"},
    {"AU", "WA", "Western Australia", "Australia/Perth"},
    {"AU", "SA", "South Australia", "Australia/Adelaide"},
    {"AU", "TAS", "Tasmania", "Australia/Hobart"},
    {"AU", "ACT", "Australian Capital Territory", "Australia/Sydney"},
    {"AU", "NT", "Northern Territory", "Australia/Darwin"},
    /* Brazil, Mexico, Russia: the regions off their main zone that leads name most */
    {"BR", "AM", "Amazonas", "America/Manaus"},
    {"BR", "BA", "Bahia", "America/Bahia"},
    {"MX", "BC", "Baja California", "America/Tijuana"},
    {"MX", "NL", "Nuevo Leon", "America/Monterrey"},
    {"RU", "", "Novosibirsk", "Asia/Novosibirsk"},
    {"RU", "", "Yekaterinburg|Sverdlovsk", "Asia/Yekaterinburg"},
    {"RU", "", "Vladivostok|Primorsky", "Asia/Vladivostok"},
};

/* Cities of the multi-zone countries, for a lead with a city and no state. */
static const struct region cities[] = {
    {"US", "",
     "San Francisco|Los Angeles|San Diego|San Jose|Palo Alto|Mountain View|Seattle|"
     "Portland|Las Vegas|Sacramento|Oakland|Menlo Park|Sunnyvale|Santa Monica",
     "America/Los_Angeles"},
    {"US", "", "Denver|Salt Lake City|Boulder|Albuquerque", "America/Denver"},
    {"US", "", "Phoenix|Scottsdale|Tucson", "America/Phoenix"},
    {"US", "",
     "Chicago|Austin|Dallas|Houston|San Antonio|Minneapolis|Nashville|Kansas City|"
     "St. Louis|New Orleans|Milwaukee",
     "America/Chicago"},
    {"US", "",
     "New York|New York City|NYC|Boston|Washington|Philadelphia|Atlanta|Miami|"
     "Pittsburgh|Charlotte|Raleigh|Baltimore|Orlando|Tampa|Cambridge",
     "America/New_York"},
    {"US", "", "Detroit", "America/Detroit"},
    {"US", "", "Honolulu", "Pacific/Honolulu"},
    {"US", "", "Anchorage", "America/Anchorage"},
    {"CA", "", "Vancouver|Victoria", "America/Vancouver"},
    {"CA", "", "Calgary|Edmonton", "America/Edmonton"},
    {"CA", "", "Winnipeg", "America/Winnipeg"},
    {"CA", "", "Toronto|Montreal|Ottawa|Quebec City|Waterloo", "America/Toronto"},
    {"CA", "", "Halifax", "America/Halifax"},
    {"AU", "", "Sydney|Canberra", "Australia/Sydney"},
    {"AU", "", "Melbourne", "Australia/Melbourne"},
    {"AU", "", "Brisbane", "Australia/Brisbane"},
    {"AU", "", "Perth", "Australia/Perth"},
    {"AU", "", "Adelaide", "Australia/Adelaide"},
    {"BR", "", "Manaus", "America/Manaus"},
    {"MX", "", "Tijuana", "America/Tijuana"},
    {"MX", "", "Monterrey", "America/Monterrey"},
};

/* s (trimmed, any case, '.' and spaces around ignored) equals one of the '|'-separated
 * alternatives of names. */
static bool name_in(const char *s, const char *names)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    if (len == 0)
        return false;
    for (const char *p = names; *p;) {
        size_t n = strcspn(p, "|");
        if (n == len && strncasecmp(p, s, n) == 0)
            return true;
        p += n + (p[n] == '|');
    }
    return false;
}

static const struct country *country_find(const char *s)
{
    if (!s || !*s)
        return NULL;
    for (size_t i = 0; i < sizeof countries / sizeof countries[0]; i++) {
        const struct country *c = &countries[i];
        if (name_in(s, c->iso2) || name_in(s, c->iso3) || name_in(s, c->names))
            return c;
    }
    return NULL;
}

const char *sa_country_timezone(const char *country)
{
    const struct country *c = country_find(country);
    return c ? c->zone : NULL;
}

const char *sa_country_iso2(const char *country)
{
    const struct country *c = country_find(country);
    return c ? c->iso2 : NULL;
}

/* The zone of a region (by code or name) or city in the table, within country iso2. */
static const char *region_zone(const struct region *t, size_t n, const char *iso2, const char *s)
{
    if (!s || !*s)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].country, iso2) == 0 &&
            ((t[i].code[0] && name_in(s, t[i].code)) || name_in(s, t[i].names)))
            return t[i].zone;
    return NULL;
}

/* The zone of a phone number's calling code: the longest code that prefixes its digits
 * after "+" or "00"; NULL for a national number. */
static const char *phone_zone(const char *phone)
{
    if (!phone)
        return NULL;
    while (isspace((unsigned char)*phone))
        phone++;
    if (phone[0] == '+')
        phone++;
    else if (phone[0] == '0' && phone[1] == '0')
        phone += 2;
    else
        return NULL;
    char digits[8];
    size_t nd = 0;
    for (const char *p = phone; *p && nd < sizeof digits - 1; p++)
        if (isdigit((unsigned char)*p))
            digits[nd++] = *p;
        else if (*p != ' ' && *p != '-' && *p != '(' && *p != ')' && *p != '.')
            break;
    digits[nd] = '\0';
    const struct country *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < sizeof countries / sizeof countries[0]; i++) {
        size_t len = strlen(countries[i].calling);
        /* the first row of a shared code (+1: the US) is its most populous country */
        if (len > best_len && len <= nd && strncmp(digits, countries[i].calling, len) == 0) {
            best = &countries[i];
            best_len = len;
        }
    }
    return best ? best->zone : NULL;
}

/* A string field of lead, or else of its contact_info. */
static const char *field(const json_t *lead, const char *name)
{
    const char *v = json_string_value(json_object_get(lead, name));
    if (!v || !*v)
        v = json_string_value(json_object_get(json_object_get(lead, "contact_info"), name));
    return v && *v ? v : NULL;
}

/* Takes zone as the answer when it is a name and known accepts it. */
static bool take(struct sa_lead_tz *out, const char *zone, enum sa_tz_source src,
                 sa_zone_known_fn known)
{
    if (!zone || !*zone || strlen(zone) >= sizeof out->zone || (known && !known(zone)))
        return false;
    snprintf(out->zone, sizeof out->zone, "%s", zone);
    out->source = src;
    return true;
}

void sa_lead_timezone(const json_t *lead, const char *fallback, sa_zone_known_fn known,
                      struct sa_lead_tz *out)
{
    *out = (struct sa_lead_tz){.source = SA_TZ_FROM_CALENDAR};
    if (take(out, field(lead, "timezone"), SA_TZ_FROM_LEAD, known))
        return;
    const struct country *c = country_find(field(lead, "country"));
    if (c) {
        const char *region = field(lead, "state");
        if (!region)
            region = field(lead, "region");
        if (!region)
            region = field(lead, "province");
        const char *zone =
            region_zone(regions, sizeof regions / sizeof regions[0], c->iso2, region);
        if (!zone)
            zone =
                region_zone(cities, sizeof cities / sizeof cities[0], c->iso2, field(lead, "city"));
        if (take(out, zone, SA_TZ_FROM_REGION, known) ||
            take(out, c->zone, SA_TZ_FROM_COUNTRY, known))
            return;
    }
    const char *phone = field(lead, "phone");
    if (take(out, phone_zone(phone), SA_TZ_FROM_PHONE, known))
        return;
    if (!take(out, fallback ? fallback : "UTC", SA_TZ_FROM_CALENDAR, NULL))
        snprintf(out->zone, sizeof out->zone, "UTC");
    out->source = SA_TZ_FROM_CALENDAR;
}

const char *sa_tz_source_name(enum sa_tz_source s)
{
    static const char *const names[] = {"lead", "region", "country", "phone", "calendar"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "calendar";
}
