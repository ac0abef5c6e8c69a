/* Times people name in replies ("Tuesday at 2pm ET works", "jeudi 10h", "tomorrow at
 * 10"), read relative to today in the prospect's zone. The conversation agent's booking
 * (agents/booking.c) turns the result into a UTC instant with the calendar connector.
 * Pure text handling: no clock, no zone database. */
#ifndef SA_DOMAIN_WHEN_H
#define SA_DOMAIN_WHEN_H

#include <stdbool.h>

#define SA_WHEN_ZONE_MAX 64

/* Today as the prospect's wall clock shows it. */
struct sa_when_today {
    int year, month, day; /* 2026, 1..12, 1..31 */
    int weekday;          /* 0 = Monday .. 6 = Sunday */
    int minute;           /* minutes after midnight now */
};

/* A time named in a text. */
struct sa_when {
    int year, month, day; /* the local date meant */
    int minute;           /* minutes after midnight */
    /* The zone the text named ("2pm ET": "America/New_York"), as an IANA name, or "" when
     * it named none (the prospect's zone applies). */
    char zone[SA_WHEN_ZONE_MAX];
    /* The text named today's weekday without "next" ("Monday at 9" said on a Monday), so
     * the date is a week on; today is the other reading (the caller may prefer it when
     * today's time is one it offered). */
    bool weekday_is_today;
    /* The time's clause says it does not suit ("Tuesday at 2pm does not work for me", "geht
     * leider nicht", "is fully booked", "I'm busy", "clashes with"; but "is not a problem"
     * is a yes): the caller must not book it. */
    bool negated;
    /* From sa_when_parse_day: the text named a day but no time; minute is where the part
     * of the day it named begins (0: the whole day or the morning; 720: the afternoon). */
    bool day_only;
};

/* Finds the first date-and-time named in text (UTF-8, any case) relative to today.
 *
 * Dates: weekdays in English, French, German and Spanish ("Tuesday", "Tue", "mardi",
 * "Dienstag", "martes"), "next <weekday>" (the one in the following week when today is
 * before it in this week, so "next Wed" said on a Monday is nine days away; else as the
 * bare weekday), "today", "tomorrow" ("demain", "morgen", "mañana"), numeric dates
 * D/M or M/D, dotted dates D.M (after "am", "le", "on"... or written "10.12." or with a
 * year: "1.5 million" is no date), and a month's name with a day ("December 10", "Dec
 * 10th", "10. Dezember", "le 10 décembre", "el 10 de diciembre", a year may follow). When
 * several days are named ("Tuesday does not work, Wednesday at 2pm would"), the one in
 * the time's clause is meant, else one in its sentence, else one before it ("Thursday at
 * 2pm. Friday I'm out" is Thursday); the nearest of equals. A weekday alone means its
 * next occurrence, today excluded. A numeric date a/b is read day/month when a > 12, or
 * when the text is not English (a French, German or Spanish word was seen) and b <= 12;
 * else month/day (US usage: "3/12" is March 12th). A date that has passed this year means
 * next year.
 *
 * Times: "2pm", "2 pm", "2:30pm", "14:00", "14h", "10h30", "14 Uhr", "at 10" / "um 10" /
 * "a las 11" / "à 10" (a bare hour of 1 to 7 after "at" means the afternoon: nobody
 * books 3 a.m.), "noon". Zones: ET, EST, EDT, CT, CST, CDT, MT, MST, MDT, PT, PST, PDT,
 * GMT, UTC, BST, CET, CEST, EET, EEST, AEST, AEDT, ACST, ACDT, AWST, NZST, NZDT, JST,
 * SGT, HKT, BRT (daylight or standard spelled either way: the zone's rules decide the
 * offset; IST is not read: India, Israel or Ireland, and a German "ist").
 *
 * Returns true with *out when the text names a time of day (with a date, or today when
 * the time is still ahead, else tomorrow); false when it names none. */
bool sa_when_parse(const char *text, const struct sa_when_today *today, struct sa_when *out);

/* As sa_when_parse, and when the text names no time but a day ("tomorrow morning",
 * "Thursday afternoon", "Dienstag nachmittags", "demain après-midi"), that day with
 * out->day_only set (a day in a clause that rules it out does not count). Returns false
 * when it names neither. */
bool sa_when_parse_day(const char *text, const struct sa_when_today *today, struct sa_when *out);

/* True when text is a plain acceptance of a time proposed to its writer, naming none:
 * "Yes, that works", "Sounds good, see you then", "Passt, bis dann", "Parfait, à jeudi",
 * "Perfecto" (English, German, French and Spanish phrases). False when it holds a
 * negation or hedge ("that doesn't work", "no, that won't work for me", "yes, but ...",
 * "leider nicht", "pas possible"), a deferral or action still pending ("Sure, let me
 * check my calendar", "Fine, I'll think about it", "I'll forward this to my colleague",
 * "je reviens vers vous", "lo pienso"), a question mark, more than 20 words, or more
 * than 4 words beyond the acceptance phrases and courtesy words ("thanks", "merci"):
 * such a reply is no plain yes, and a person reads it. */
bool sa_when_is_acceptance(const char *text);

/* sa_when_is_acceptance, with at most 2 words beyond the acceptance: the reading used
 * when the intent model gave no intent it is sure of ("Yes, that works", "Parfait, à
 * jeudi"), since nothing else then vouches for the reply. */
bool sa_when_is_strict_acceptance(const char *text);

#endif
