/* Times named in replies, relative to a fixed "today": weekdays in four languages, next,
 * tomorrow, numeric dates and their ambiguity, 12- and 24-hour times, zones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "domain/when.h"

/* Wednesday 2 December 2026, 10:30 local. */
static const struct sa_when_today wed = {
    .year = 2026, .month = 12, .day = 2, .weekday = 2, .minute = 10 * 60 + 30};
/* Monday 30 November 2026, 08:00. */
static const struct sa_when_today mon = {
    .year = 2026, .month = 11, .day = 30, .weekday = 0, .minute = 8 * 60};

static void expect(const struct sa_when_today *today, const char *text, int y, int mo, int d, int h,
                   int mi, const char *zone)
{
    struct sa_when w;
    if (!sa_when_parse(text, today, &w))
        fail_msg("\"%s\": no time found", text);
    char got[96], want[96];
    snprintf(got, sizeof got, "%04d-%02d-%02d %02d:%02d [%s]", w.year, w.month, w.day,
             w.minute / 60, w.minute % 60, w.zone);
    snprintf(want, sizeof want, "%04d-%02d-%02d %02d:%02d [%s]", y, mo, d, h, mi, zone);
    if (strcmp(got, want) != 0)
        fail_msg("\"%s\": got %s, want %s", text, got, want);
}

static void test_examples(void **state)
{
    (void)state;
    /* the brief's examples, said on Wednesday 2 December 2026 */
    expect(&wed, "Tuesday at 2pm ET works", 2026, 12, 8, 14, 0, "America/New_York");
    expect(&wed, "next Wed 3:30pm", 2026, 12, 9, 15, 30, "");
    expect(&wed, "tomorrow at 10", 2026, 12, 3, 10, 0, "");
    expect(&wed, "jeudi 10h", 2026, 12, 3, 10, 0, "");
    expect(&wed, "Donnerstag um 14 Uhr", 2026, 12, 3, 14, 0, "");
    expect(&wed, "el martes a las 11", 2026, 12, 8, 11, 0, "");
    /* US reading of an English numeric date: March 12, next year (it has passed) */
    expect(&wed, "3/12 at 9am", 2027, 3, 12, 9, 0, "");
}

static void test_dates(void **state)
{
    (void)state;
    /* a weekday alone is its next occurrence, today excluded */
    expect(&wed, "Wednesday 9:00", 2026, 12, 9, 9, 0, "");
    expect(&wed, "fri 4pm PT", 2026, 12, 4, 16, 0, "America/Los_Angeles");
    /* "next Wed" on a Monday is the Wednesday of the following week */
    expect(&mon, "next Wed 3:30pm", 2026, 12, 9, 15, 30, "");
    expect(&mon, "Wed 3:30pm", 2026, 12, 2, 15, 30, "");
    /* today's weekday is a week on, and the result says today was the other reading */
    struct sa_when w;
    assert_true(sa_when_parse("Monday at 9am", &mon, &w));
    assert_int_equal(w.day, 7);
    assert_true(w.weekday_is_today);
    assert_true(sa_when_parse("next Monday at 9am", &mon, &w));
    assert_false(w.weekday_is_today);
    assert_true(sa_when_parse("Wed 3:30pm", &mon, &w));
    assert_false(w.weekday_is_today);
    /* day/month: a first number over 12, or a non-English text */
    expect(&wed, "25/12 at 10am", 2026, 12, 25, 10, 0, "");
    expect(&wed, "le 3/12 à 9h", 2026, 12, 3, 9, 0, "");
    expect(&wed, "12/24/2026 at 1pm", 2026, 12, 24, 13, 0, "");
    expect(&wed, "mañana a las 9", 2026, 12, 3, 9, 0, "");
    expect(&wed, "morgen um 9:30", 2026, 12, 3, 9, 30, "");
    /* a time alone: today while ahead, else tomorrow */
    expect(&wed, "2pm works", 2026, 12, 2, 14, 0, "");
    expect(&wed, "9am?", 2026, 12, 3, 9, 0, "");
    /* a day gone is named as such (the booking calls it passed), not read as today */
    expect(&wed, "Yesterday at 2pm was good", 2026, 12, 1, 14, 0, "");
    expect(&wed, "gestern um 14 Uhr", 2026, 12, 1, 14, 0, "");
    /* the year wraps */
    const struct sa_when_today dec31 = {2026, 12, 31, 3, 600};
    expect(&dec31, "tomorrow at noon", 2027, 1, 1, 12, 0, "");
}

static void test_times_and_zones(void **state)
{
    (void)state;
    expect(&wed, "Tuesday at 3", 2026, 12, 8, 15, 0, ""); /* "at 3": the afternoon */
    expect(&wed, "Tuesday 12am", 2026, 12, 8, 0, 0, "");
    expect(&wed, "Tuesday 12 pm", 2026, 12, 8, 12, 0, "");
    expect(&wed, "Thursday 16:45 CET", 2026, 12, 3, 16, 45, "Europe/Berlin");
    expect(&wed, "Thu 2 p.m. GMT", 2026, 12, 3, 14, 0, "UTC");
    expect(&wed, "Thursday 10am BST", 2026, 12, 3, 10, 0, "Europe/London");
    expect(&wed, "Friday 10h30 CEST", 2026, 12, 4, 10, 30, "Europe/Berlin");
    /* the Pacific's and Asia's: an Adelaide or Auckland prospect names their own */
    expect(&wed, "Thursday 9:30am ACDT", 2026, 12, 3, 9, 30, "Australia/Adelaide");
    expect(&wed, "Friday 8am NZDT", 2026, 12, 4, 8, 0, "Pacific/Auckland");
    expect(&wed, "Monday 10am AEST", 2026, 12, 7, 10, 0, "Australia/Sydney");
    expect(&wed, "Tuesday 11:00 BRT", 2026, 12, 8, 11, 0, "America/Sao_Paulo");
    expect(&wed, "Dienstag um 10 ist gut", 2026, 12, 8, 10, 0, "");
    /* "est" is a French word too: only a zone right after a time counts */
    expect(&wed, "jeudi 10h, c'est parfait", 2026, 12, 3, 10, 0, "");
}

/* A date spelled with its month, in four languages, or dotted the German way: "December
 * 10 at 2pm" is 10 December, not today. */
static void test_month_names(void **state)
{
    (void)state;
    expect(&wed, "Could we do December 10 at 2pm?", 2026, 12, 10, 14, 0, "");
    expect(&wed, "Dec 10th at 2pm ET", 2026, 12, 10, 14, 0, "America/New_York");
    expect(&wed, "on the 15th of December at 11am", 2026, 12, 15, 11, 0, "");
    expect(&wed, "Tuesday, 8 December, 2:30pm", 2026, 12, 8, 14, 30, "");
    expect(&wed, "January 5, 2027 at 10am", 2027, 1, 5, 10, 0, "");
    expect(&wed, "Jan 5 at 10am", 2027, 1, 5, 10, 0, ""); /* passed this year: next year's */
    expect(&wed, "am 10. Dezember um 14 Uhr", 2026, 12, 10, 14, 0, "");
    expect(&wed, "Wie wäre es am 10.12. um 14 Uhr?", 2026, 12, 10, 14, 0, "");
    expect(&wed, "am 10.12 um 14 Uhr", 2026, 12, 10, 14, 0, "");
    expect(&wed, "Donnerstag, 7.1.2027, 9:30 Uhr", 2027, 1, 7, 9, 30, "");
    expect(&wed, "le 10 décembre à 14h", 2026, 12, 10, 14, 0, "");
    expect(&wed, "el 10 de diciembre a las 11", 2026, 12, 10, 11, 0, "");
    /* "may" the verb is no month; a decimal is no date */
    expect(&wed, "May we talk Tuesday at 2pm?", 2026, 12, 8, 14, 0, "");
    expect(&wed, "we raised 1.5 million; Tuesday at 2pm works", 2026, 12, 8, 14, 0, "");
}

/* A reply that rules one day out and names another: the day said with the time wins. */
static void test_several_days(void **state)
{
    (void)state;
    expect(&wed, "Tuesday does not work for me, but Wednesday at 2pm would.", 2026, 12, 9, 14, 0,
           "");
    expect(&wed, "Tomorrow is full. Friday at 10am?", 2026, 12, 4, 10, 0, "");
    expect(&wed, "at 2pm on Friday, not Thursday", 2026, 12, 4, 14, 0, "");
    expect(&wed, "Monday is a holiday here; December 10 at 9am then", 2026, 12, 10, 9, 0, "");
    /* a time ruled out, then another: the other */
    expect(&wed, "Tuesday at 2pm does not work, how about next Thursday 10:30 CET?", 2026, 12, 10,
           10, 30, "Europe/Berlin");
    expect(&wed, "I'm not available Monday, Tuesday at 2pm works", 2026, 12, 8, 14, 0, "");
    /* a day in another clause or sentence than the time is not the time's day, however
     * near: the one said with the time wins */
    expect(&wed, "Tuesday does not work, Wednesday at 2pm", 2026, 12, 9, 14, 0, "");
    expect(&wed, "Let's do Thursday at 2pm. Friday I'm out.", 2026, 12, 3, 14, 0, "");
    expect(&wed, "Great, Thursday at 2pm, Monday is a holiday here.", 2026, 12, 3, 14, 0, "");
    expect(&wed, "I am travelling on Thursday at 2pm. Friday at 10am is good.", 2026, 12, 4, 10, 0,
           "");
    expect(&wed, "Thursday works, at 2pm? Friday is bad for me", 2026, 12, 3, 14, 0, "");
    /* an abbreviated day's dot ends no sentence (second review: Friday was booked) */
    expect(&wed, "Thu. 2pm works, Friday I'm out", 2026, 12, 3, 14, 0, "");
    expect(&wed, "Thursday works. 2pm? Monday I'm out", 2026, 12, 3, 14, 0, "");
}

/* A time its clause rules out is found but marked negated; one after "but" is not. */
static void test_negated(void **state)
{
    (void)state;
    static const char *const no[] = {
        "Monday at 9am does not work for me", "I can't do Tuesday at 2pm.",
        "I can’t make Tuesday at 2pm",        "Dienstag um 14 Uhr geht leider nicht",
        "mardi 14h ne me convient pas",       "Sorry, Tuesday works. 2pm is not possible",
        "Thursday at 2pm is fully booked",    "Thursday at 2pm I'm busy",
        "Thursday at 2pm is bad for me",      "Thursday at 2pm clashes with a board meeting",
        "I am travelling on Thursday at 2pm", "Thursday at 2pm conflicts with our offsite",
    };
    struct sa_when w;
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        if (!sa_when_parse(no[i], &wed, &w))
            fail_msg("\"%s\": no time found", no[i]);
        if (!w.negated)
            fail_msg("\"%s\": not read as ruled out", no[i]);
    }
    static const char *const yes[] = {
        "Tuesday does not work for me, but Wednesday at 2pm would.",
        "Tuesday is not possible. Wednesday at 2pm?",
        "Dienstag geht nicht, aber Mittwoch um 14 Uhr",
        "Tuesday at 2pm does not work, how about Thursday at 10am?",
        "Tuesday at 2pm, if that is not too late",
        "Tuesday at 2 p.m. works",
        "Tuesday at 2pm works",
        "Thursday at 11am is not a problem",
        "Thursday at 11am is no problem",
        "Donnerstag um 11 Uhr ist kein Problem",
        "jeudi à 11h, pas de problème",
        "jeudi à 11h ce n'est pas un problème",
        "Thursday at 11am is not an issue",
    };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (!sa_when_parse(yes[i], &wed, &w))
            fail_msg("\"%s\": no time found", yes[i]);
        if (w.negated)
            fail_msg("\"%s\": read as ruled out", yes[i]);
    }
    /* far more clauses than tokens (the clause index stays within the tokens) */
    static char many[8192];
    size_t k = 0;
    while (k + 20 < sizeof many) {
        memcpy(many + k, ",;!?\n. not at 2pm", 18);
        k += 18;
    }
    many[k] = '\0';
    assert_true(sa_when_parse(many, &wed, &w));
    assert_true(w.negated);
}

/* A day without a time, for offering slots from then. */
static void test_day_only(void **state)
{
    (void)state;
    struct sa_when w;
    assert_true(sa_when_parse_day("tomorrow morning works", &wed, &w));
    assert_true(w.day_only);
    assert_int_equal(w.day, 3);
    assert_int_equal(w.minute, 0);
    assert_true(sa_when_parse_day("Thursday afternoon would be best", &mon, &w));
    assert_int_equal(w.day, 3);
    assert_int_equal(w.minute, 12 * 60);
    assert_true(sa_when_parse_day("demain après-midi", &wed, &w));
    assert_int_equal(w.day, 3);
    assert_int_equal(w.minute, 12 * 60);
    assert_true(sa_when_parse_day("Tuesday at 2pm", &wed, &w)); /* a time: as sa_when_parse */
    assert_false(w.day_only);
    assert_int_equal(w.minute, 14 * 60);
    assert_false(sa_when_parse_day("How much does it cost?", &wed, &w));
    assert_false(sa_when_parse_day("Tuesday does not work", &wed, &w));
    /* sa_when_parse wants a time; "après-midi" is none */
    assert_false(sa_when_parse("tomorrow morning", &wed, &w));
    assert_false(sa_when_parse("demain après-midi", &wed, &w));
}

static void test_no_time(void **state)
{
    (void)state;
    struct sa_when w;
    static const char *const none[] = {
        "How much does it cost for 40 seats?",
        "Tuesday works",
        "next week sometime",
        "we have 3 people",
        "13pm on Tuesday",
        "Tuesday 25:00",
        "",
        "31/02 at 10am",
        "February 30 at 10am",
    };
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
        if (sa_when_parse(none[i], &wed, &w))
            fail_msg("\"%s\": found %04d-%02d-%02d %d", none[i], w.year, w.month, w.day, w.minute);
    assert_false(sa_when_parse(NULL, &wed, &w));
}

/* Plain acceptances of the one time proposed, in four languages; negations, hedges,
 * questions and long messages are not. */
static void test_acceptance(void **state)
{
    (void)state;
    static const char *const yes[] = {"Yes, that works",
                                      "Sounds good, see you then",
                                      "Passt, bis dann",
                                      "Parfait, à jeudi",
                                      "Perfecto",
                                      "Works for me!",
                                      "Yes that works for me. Thanks, Maya",
                                      "Klingt gut, bis Montag",
                                      "Ça marche, merci",
                                      "Sí, nos vemos el lunes",
                                      "Great, I'll be there. Thanks!",
                                      "ok"};
    static const char *const no[] = {
        "that doesn't work", "no, that won't work for me", "That doesn’t work for me",
        "Yes, but could we do Friday instead", "Sounds good, is the call on Zoom?",
        "Passt leider nicht", "Ça ne marche pas pour moi", "Perfecto, pero no puedo el lunes",
        "I can't make it", "Unfortunately I am busy then", "Please remove me from your list",
        "Thanks for reaching out",
        /* deferrals and pending actions: a yes to something else, or a yes later */
        "Sure, let me check my calendar", "Fine, I'll think about it",
        "Great, thanks. I'll forward this to my colleague who handles this.",
        "Ok, I will get back to you", "Ja, ich muss das noch prüfen",
        "Super, ich leite das an meine Kollegin weiter", "D'accord, je vais vérifier mon agenda",
        "Parfait, je reviens vers vous plus tard", "Vale, déjame revisar mi agenda",
        "Genial, lo pienso y te digo",
        /* hedges */
        "Sure, possibly", "Yes, hopefully", "Sure, tentatively", "Sure, depends",
        "Yes, depends on my schedule", "OK, I might make it", "Yes, I'd have to confirm",
        "Fine, need to confirm", "Ja, eventuell", "Sí, depende",
        "Yes great, we are all very excited about this whole thing here", "",
        "Yes it works and we also wanted to ask about pricing for forty sales reps and "
        "whether the integration with our CRM can be set up by the team this quarter"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!sa_when_is_acceptance(yes[i]))
            fail_msg("\"%s\" should be an acceptance", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (sa_when_is_acceptance(no[i]))
            fail_msg("\"%s\" should not be an acceptance", no[i]);
    assert_false(sa_when_is_acceptance(NULL));
    /* the strict reading (no sure intent): few words beyond the yes */
    assert_true(sa_when_is_strict_acceptance("Yes, that works"));
    assert_true(sa_when_is_strict_acceptance("Parfait, à jeudi"));
    assert_false(sa_when_is_strict_acceptance("Fine, I'll think about it"));
    assert_true(sa_when_is_acceptance("Yes that works, the whole crew"));
    assert_false(sa_when_is_strict_acceptance("Yes that works, the whole crew"));
    assert_false(sa_when_is_strict_acceptance(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples),        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_times_and_zones), cmocka_unit_test(test_month_names),
        cmocka_unit_test(test_several_days),    cmocka_unit_test(test_negated),
        cmocka_unit_test(test_day_only),        cmocka_unit_test(test_no_time),
        cmocka_unit_test(test_acceptance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
