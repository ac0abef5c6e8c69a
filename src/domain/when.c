/* Times named in replies (see when.h): a small tokenizer and word tables in four
 * languages, then the date and time put together relative to today. */
#include "domain/when.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOK_MAX 48
#define TOKS_MAX 64

struct word {
    const char *text;
    int value;
    bool foreign; /* French, German or Spanish: numeric dates read day/month */
};

/* Weekdays, Monday = 0. */
static const struct word weekdays[] = {
    {"monday", 0, false},   {"mon", 0, false},      {"tuesday", 1, false},
    {"tue", 1, false},      {"tues", 1, false},     {"wednesday", 2, false},
    {"wed", 2, false},      {"thursday", 3, false}, {"thu", 3, false},
    {"thur", 3, false},     {"thurs", 3, false},    {"friday", 4, false},
    {"fri", 4, false},      {"saturday", 5, false}, {"sat", 5, false},
    {"sunday", 6, false},   {"lundi", 0, true},     {"mardi", 1, true},
    {"mercredi", 2, true},  {"jeudi", 3, true},     {"vendredi", 4, true},
    {"samedi", 5, true},    {"dimanche", 6, true},  {"montag", 0, true},
    {"dienstag", 1, true},  {"mittwoch", 2, true},  {"donnerstag", 3, true},
    {"freitag", 4, true},   {"samstag", 5, true},   {"sonntag", 6, true},
    {"lunes", 0, true},     {"martes", 1, true},    {"miércoles", 2, true},
    {"miercoles", 2, true}, {"jueves", 3, true},    {"viernes", 4, true},
    {"sábado", 5, true},    {"sabado", 5, true},    {"domingo", 6, true},
};

/* Days from today. */
static const struct word relative[] = {
    {"today", 0, false},
    {"tomorrow", 1, false},
    {"aujourd'hui", 0, true},
    {"demain", 1, true},
    {"heute", 0, true},
    {"morgen", 1, true},
    {"hoy", 0, true},
    {"mañana", 1, true},
    {"manana", 1, true},
    /* a day gone: the time it names has passed, so it is never booked */
    {"yesterday", -1, false},
    {"gestern", -1, true},
    {"ayer", -1, true},
};

/* Months, January = 1; the three-letter English forms too ("Dec 10th"). */
static const struct word months[] = {
    {"january", 1, false},   {"jan", 1, false},       {"february", 2, false},
    {"feb", 2, false},       {"march", 3, false},     {"mar", 3, false},
    {"april", 4, false},     {"apr", 4, false},       {"may", 5, false},
    {"june", 6, false},      {"jun", 6, false},       {"july", 7, false},
    {"jul", 7, false},       {"august", 8, false},    {"aug", 8, false},
    {"september", 9, false}, {"sep", 9, false},       {"sept", 9, false},
    {"october", 10, false},  {"oct", 10, false},      {"november", 11, false},
    {"nov", 11, false},      {"december", 12, false}, {"dec", 12, false},
    {"januar", 1, true},     {"jänner", 1, true},     {"februar", 2, true},
    {"märz", 3, true},       {"maerz", 3, true},      {"mai", 5, true},
    {"juni", 6, true},       {"juli", 7, true},       {"oktober", 10, true},
    {"dezember", 12, true},  {"janvier", 1, true},    {"février", 2, true},
    {"fevrier", 2, true},    {"mars", 3, true},       {"avril", 4, true},
    {"juin", 6, true},       {"juillet", 7, true},    {"août", 8, true},
    {"aout", 8, true},       {"septembre", 9, true},  {"octobre", 10, true},
    {"novembre", 11, true},  {"décembre", 12, true},  {"decembre", 12, true},
    {"enero", 1, true},      {"febrero", 2, true},    {"marzo", 3, true},
    {"abril", 4, true},      {"mayo", 5, true},       {"junio", 6, true},
    {"julio", 7, true},      {"agosto", 8, true},     {"septiembre", 9, true},
    {"setiembre", 9, true},  {"octubre", 10, true},   {"noviembre", 11, true},
    {"diciembre", 12, true},
};

/* Words before a dotted date ("am 10.12", "le 10.12"): without one (or a trailing dot or
 * a year) "1.5" is a decimal, not the first of May. */
static const struct word date_preps[] = {
    {"am", 0, true},  {"den", 0, true}, {"vom", 0, true}, {"ab", 0, true},
    {"bis", 0, true}, {"le", 0, true},  {"el", 0, true},  {"on", 0, false},
};

/* Words that start a new clause: a negation before them is not about what follows. */
static const struct word clause_words[] = {
    {"but", 0, false},    {"however", 0, false}, {"instead", 0, false}, {"aber", 0, true},
    {"sondern", 0, true}, {"mais", 0, true},     {"pero", 0, true},     {"sino", 0, true},
};

/* Words that say a time named in their clause does not suit ("Tuesday at 2pm does not
 * work", "Dienstag um 14 Uhr geht nicht", "mardi 14h ne me convient pas"). */
static const struct word negations[] = {
    {"not", 0, false},
    {"can't", 0, false},
    {"cant", 0, false},
    {"cannot", 0, false},
    {"don't", 0, false},
    {"doesn't", 0, false},
    {"won't", 0, false},
    {"isn't", 0, false},
    {"wouldn't", 0, false},
    {"can\xe2\x80\x99t", 0, false},
    {"don\xe2\x80\x99t", 0, false},
    {"doesn\xe2\x80\x99t", 0, false},
    {"won\xe2\x80\x99t", 0, false},
    {"isn\xe2\x80\x99t", 0, false},
    {"unable", 0, false},
    {"unavailable", 0, false},
    {"busy", 0, false},
    {"bad", 0, false},
    {"clashes", 0, false},
    {"clash", 0, false},
    {"conflicts", 0, false},
    {"travelling", 0, false},
    {"traveling", 0, false},
    {"ausgebucht", 0, true},
    {"nicht", 0, true},
    {"pas", 0, true},
    {"impossible", 0, true},
};

/* Words after a negation that turn it into a yes: "not a problem", "pas de problème". */
static const struct word no_trouble[] = {
    {"problem", 0, false}, {"issue", 0, false}, {"problème", 0, true},
    {"probleme", 0, true}, {"souci", 0, true},  {"soucis", 0, true},
};

/* Words that say the next weekday is in the following week. */
static const struct word nexts[] = {
    {"next", 0, false},     {"prochain", 0, true},  {"nächsten", 0, true}, {"nächster", 0, true},
    {"naechsten", 0, true}, {"kommenden", 0, true}, {"próximo", 0, true},  {"proximo", 0, true},
};

/* Words before a bare hour: "at 10", "um 10", "a las 11", "à 10". */
static const struct word markers[] = {
    {"at", 0, false}, {"@", 0, false}, {"um", 0, true}, {"las", 0, true}, {"à", 0, true},
};

/* Zone abbreviations, after a time. */
static const struct {
    const char *abbr, *zone;
} zones[] = {
    {"et", "America/New_York"},
    {"est", "America/New_York"},
    {"edt", "America/New_York"},
    {"ct", "America/Chicago"},
    {"cst", "America/Chicago"},
    {"cdt", "America/Chicago"},
    {"mt", "America/Denver"},
    {"mst", "America/Denver"},
    {"mdt", "America/Denver"},
    {"pt", "America/Los_Angeles"},
    {"pst", "America/Los_Angeles"},
    {"pdt", "America/Los_Angeles"},
    {"gmt", "UTC"},
    {"utc", "UTC"},
    {"bst", "Europe/London"},
    {"cet", "Europe/Berlin"},
    {"cest", "Europe/Berlin"},
    {"eet", "Europe/Athens"},
    {"eest", "Europe/Athens"},
    {"aest", "Australia/Sydney"},
    {"aedt", "Australia/Sydney"},
    {"acst", "Australia/Adelaide"},
    {"acdt", "Australia/Adelaide"},
    {"awst", "Australia/Perth"},
    {"nzst", "Pacific/Auckland"},
    {"nzdt", "Pacific/Auckland"},
    {"jst", "Asia/Tokyo"},
    {"sgt", "Asia/Singapore"},
    {"hkt", "Asia/Hong_Kong"},
    {"brt", "America/Sao_Paulo"},
};

static const struct word *lookup(const struct word *t, size_t n, const char *tok)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].text, tok) == 0)
            return &t[i];
    return NULL;
}
#define LOOKUP(table, tok) lookup((table), sizeof(table) / sizeof((table)[0]), (tok))

/* True when s[0..len) is "D.M": one or two digits, a dot, one or two digits. */
static bool day_month(const char *s, size_t len)
{
    size_t i = 0, a = 0, b = 0;
    while (i < len && isdigit((unsigned char)s[i]))
        i++, a++;
    if (i == len || s[i++] != '.')
        return false;
    while (i < len && isdigit((unsigned char)s[i]))
        i++, b++;
    return i == len && a >= 1 && a <= 2 && b >= 1 && b <= 2;
}

/* Splits text into lowercase tokens: runs of letters (any non-ASCII byte counts as one),
 * digits and the characters ":/'@"; a trailing '.' is dropped, inner ones kept ("p.m"),
 * but for a dotted date's ("10.12."). */
static int tokenize(const char *text, char toks[TOKS_MAX][TOK_MAX], int clause[TOKS_MAX],
                    int sentence[TOKS_MAX])
{
    int n = 0, c = 0, sn = 0;
    const unsigned char *p = (const unsigned char *)text;
    while (*p && n < TOKS_MAX) {
        while (*p && !(isalnum(*p) || *p >= 0x80 || *p == '@')) {
            if (strchr(",!?;\n", *p))
                c = n ? clause[n - 1] + 1 : 0; /* a clause ends (c <= n: runs collapse) */
            if (strchr("!?\n", *p))
                sn = n ? sentence[n - 1] + 1 : 0; /* and a sentence */
            p++;
        }
        size_t len = 0;
        while (*p && (isalnum(*p) || *p >= 0x80 || strchr(":/'.@", *p))) {
            if (len < TOK_MAX - 1)
                toks[n][len++] = (char)tolower(*p);
            p++;
        }
        size_t full = len;
        bool dot = false;
        while (len && (toks[n][len - 1] == '.' || toks[n][len - 1] == '\'')) {
            dot |= toks[n][len - 1] == '.';
            len--;
        }
        if (full == len + 1 && toks[n][len] == '.' && day_month(toks[n], len)) {
            len++; /* "10.12.": the dot says it is a German date */
            dot = false;
        }
        toks[n][len] = '\0';
        if (!len)
            continue;
        if (LOOKUP(clause_words, toks[n]))
            c = n ? clause[n - 1] + 1 : 0; /* "..., but Wednesday at 2pm would" */
        clause[n] = c;
        sentence[n++] = sn;
        size_t tl = strlen(toks[n - 1]);
        /* "Thu. 2pm", "Dec. 10": an abbreviated day or month's dot ends no sentence */
        bool abbrev = (tl <= 5 && LOOKUP(weekdays, toks[n - 1])) ||
                      ((tl <= 3 || strcmp(toks[n - 1], "sept") == 0) &&
                       strcmp(toks[n - 1], "may") != 0 && LOOKUP(months, toks[n - 1]));
        if (dot && !abbrev && strcmp(toks[n - 1], "p.m") != 0 && strcmp(toks[n - 1], "a.m") != 0) {
            c = clause[n - 1] + 1; /* a full stop */
            sn = sentence[n - 1] + 1;
        }
    }
    return n;
}

/* Parses a whole number of 1..max digits at *s; advances. */
static bool number(const char **s, int max_digits, int *out)
{
    int v = 0, d = 0;
    while (isdigit((unsigned char)**s) && d < max_digits) {
        v = v * 10 + (**s - '0');
        (*s)++;
        d++;
    }
    if (d == 0 || isdigit((unsigned char)**s))
        return false;
    *out = v;
    return true;
}

/* 0: none; 1: am; 2: pm ("pm", "p.m", "p"). */
static int meridiem(const char *s)
{
    if (strcmp(s, "am") == 0 || strcmp(s, "a.m") == 0)
        return 1;
    if (strcmp(s, "pm") == 0 || strcmp(s, "p.m") == 0)
        return 2;
    return 0;
}

struct found_time {
    int hour, minute;
    int ampm;      /* 0, 1 am, 2 pm */
    bool explicit; /* a colon, an "h" or "Uhr", or am/pm: not just a number */
};

/* A time token: "2pm", "2:30pm", "14:00", "14h", "10h30", "10" (bare; the caller decides). */
static bool time_token(const char *tok, struct found_time *t)
{
    const char *s = tok;
    int h, m = 0;
    if (!number(&s, 2, &h))
        return false;
    bool expl = false;
    if (*s == ':' || *s == 'h') {
        bool colon = *s == ':';
        s++;
        expl = true;
        if (isdigit((unsigned char)*s)) {
            if (!number(&s, 2, &m) || m > 59)
                return false;
        } else if (colon) {
            return false;
        }
    }
    int ap = meridiem(s);
    if (*s && !ap)
        return false;
    if (h > 23 || (ap && (h < 1 || h > 12)))
        return false;
    *t = (struct found_time){.hour = h, .minute = m, .ampm = ap, .explicit = expl || ap};
    return true;
}

/* "3/12", "3/12/2026", "10.12", "10.12." or "7.1.2027": two numbers a/b (and a year).
 * *dotted: written with dots (day.month); *marked: with a year or a trailing dot. */
static bool date_token(const char *tok, int *a, int *b, int *year, bool *dotted, bool *marked)
{
    const char *s = tok;
    *year = 0;
    *dotted = *marked = false;
    if (!number(&s, 2, a) || (*s != '/' && *s != '.'))
        return false;
    char sep = *s++;
    *dotted = sep == '.';
    if (!number(&s, 2, b))
        return false;
    if (*s == sep) {
        s++;
        *marked = true;
        if (*s && !number(&s, 4, year))
            return false;
        if (sep == '/' && !*year)
            return false;
        if (*year && *year < 100)
            *year += 2000;
    }
    return *s == '\0' && *a >= 1 && *b >= 1;
}

/* A day of the month: "10", "10th", "1st", "2nd", "3rd", "1er". */
static bool day_token(const char *tok, int *day)
{
    const char *s = tok;
    if (!number(&s, 2, day) || *day < 1 || *day > 31)
        return false;
    return !*s || strcmp(s, "st") == 0 || strcmp(s, "nd") == 0 || strcmp(s, "rd") == 0 ||
           strcmp(s, "th") == 0 || strcmp(s, "er") == 0;
}

/* A four-digit year 2000-2100 after a date ("December 10, 2026"). */
static bool year_token(const char *tok, int *year)
{
    const char *s = tok;
    return strlen(tok) == 4 && number(&s, 4, year) && !*s && *year >= 2000 && *year <= 2100;
}

/* ---- calendar arithmetic (proleptic Gregorian; H. Hinnant's algorithms) ---- */

static long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(long z, int *y, int *m, int *d)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static bool valid_date(int y, int m, int d)
{
    if (m < 1 || m > 12 || d < 1 || d > 31)
        return false;
    int cy, cm, cd;
    civil_from_days(days_from_civil(y, m, d), &cy, &cm, &cd);
    return cy == y && cm == m && cd == d;
}

/* ---- the parse ---- */

/* A day a text names, at token pos. */
struct day_named {
    int pos;
    enum { DAY_WEEKDAY, DAY_RELATIVE, DAY_DATE } kind;
    int value;      /* the weekday (Monday = 0) or the days from today */
    int da, db, dy; /* a date a/b[/y] */
    bool dm;        /* a/b is day/month for sure (dotted, or a month's name) */
};

#define DAYS_MAX 16

struct scan {
    struct day_named days[DAYS_MAX];
    int n_days;
    bool next;
    bool foreign;
    bool have_time;
    int time_pos;
    struct found_time t;
    const char *zone;
};

static void add_day(struct scan *sc, struct day_named d)
{
    if (sc->n_days < DAYS_MAX)
        sc->days[sc->n_days++] = d;
}

/* Token i is a month's name: with a day number next to it ("December 10", "10th of
 * December", "10. Dezember", "el 10 de diciembre") and perhaps a year after, a date.
 * Returns how many tokens after i it used, or -1 when it is no date ("May we ..."). */
static int scan_month(char toks[][TOK_MAX], int n, int i, int month, struct scan *sc)
{
    int day, year = 0, used = 0, pos = i;
    if (i + 1 < n && day_token(toks[i + 1], &day)) {
        used = 1;
        pos = i + 1;
    } else if (i > 0 && day_token(toks[i - 1], &day)) {
        pos = i - 1;
    } else if (i > 1 && (strcmp(toks[i - 1], "of") == 0 || strcmp(toks[i - 1], "de") == 0) &&
               day_token(toks[i - 2], &day)) {
        pos = i - 2;
    } else {
        return -1;
    }
    if (i + used + 1 < n && year_token(toks[i + used + 1], &year))
        used++;
    add_day(sc, (struct day_named){
                    .pos = pos, .kind = DAY_DATE, .da = day, .db = month, .dy = year, .dm = true});
    return used;
}

/* Looks at token i (with its neighbours) for a time; returns how many tokens it used. */
static int scan_time(char toks[][TOK_MAX], int n, int i, struct scan *sc)
{
    struct found_time t;
    const char *tok = toks[i];
    bool apres = i > 0 && strcmp(toks[i - 1], "après") == 0; /* "après-midi": afternoon */
    if (strcmp(tok, "noon") == 0 || (strcmp(tok, "midi") == 0 && !apres) ||
        strcmp(tok, "mittag") == 0 || strcmp(tok, "mediodía") == 0) {
        sc->t = (struct found_time){.hour = 12, .explicit = true};
        sc->have_time = true;
        return 1;
    }
    if (!time_token(tok, &t))
        return 0;
    int used = 1;
    if (i + 1 < n && !t.ampm && (t.ampm = meridiem(toks[i + 1])) != 0) {
        if (t.hour < 1 || t.hour > 12)
            return 0;
        t.explicit = true;
        used = 2;
    } else if (i + 1 < n && strcmp(toks[i + 1], "uhr") == 0) {
        t.explicit = true;
        sc->foreign = true;
        used = 2;
    }
    bool after_marker = i > 0 && LOOKUP(markers, toks[i - 1]);
    if (!t.explicit && !after_marker)
        return 0; /* "40 seats": a number, not a time */
    /* "at 3", "at 3:30": the afternoon, like "3pm" */
    bool bare_afternoon = !t.ampm && !strchr(tok, 'h') && t.hour >= 1 && t.hour <= 7 && used == 1;
    if (bare_afternoon || (t.ampm == 2 && t.hour < 12))
        t.hour += 12;
    else if (t.ampm == 1 && t.hour == 12)
        t.hour = 0;
    sc->t = t;
    sc->have_time = true;
    return used;
}

/* Words for a part of the day, with the minute it starts (the calendar's hours apply). */
static const struct word parts[] = {
    {"morning", 0, false},
    {"vormittag", 0, true},
    {"vormittags", 0, true},
    {"morgens", 0, true},
    {"matin", 0, true},
    {"afternoon", 12 * 60, false},
    {"nachmittag", 12 * 60, true},
    {"nachmittags", 12 * 60, true},
    {"tarde", 12 * 60, true},
};

/* Token k says its clause rules the time out: a negation word ("not", "busy"), or "fully
 * booked"; but not "not a problem", "not an issue", "pas de problème", "pas un souci". */
static bool negates(char toks[][TOK_MAX], int n, int k)
{
    if (strcmp(toks[k], "booked") == 0)
        return k > 0 && strcmp(toks[k - 1], "fully") == 0;
    if (!LOOKUP(negations, toks[k]))
        return false;
    int j = k + 1;
    if (j < n && (strcmp(toks[j], "a") == 0 || strcmp(toks[j], "an") == 0 ||
                  strcmp(toks[j], "de") == 0 || strcmp(toks[j], "un") == 0))
        j++;
    return !(j < n && LOOKUP(no_trouble, toks[j]));
}

static bool parse(const char *text, const struct sa_when_today *today, bool day_only_ok,
                  struct sa_when *out)
{
    *out = (struct sa_when){0};
    if (!text || !today)
        return false;
    char toks[TOKS_MAX][TOK_MAX] = {{0}};
    int clause[TOKS_MAX] = {0}, sentence[TOKS_MAX] = {0};
    int n = tokenize(text, toks, clause, sentence);
    bool neg[TOKS_MAX + 1] = {false}; /* by clause: it holds a negation */
    for (int k = 0; k < n; k++)
        if (negates(toks, n, k))
            neg[clause[k]] = true;
    struct scan sc = {0};
    for (int i = 0; i < n; i++) {
        const struct word *w;
        int a, b, y, used;
        bool dotted, marked;
        if ((w = LOOKUP(weekdays, toks[i]))) {
            add_day(&sc, (struct day_named){.pos = i, .kind = DAY_WEEKDAY, .value = w->value});
            sc.foreign |= w->foreign;
        } else if ((w = LOOKUP(nexts, toks[i]))) {
            sc.next = true;
            sc.foreign |= w->foreign;
        } else if ((w = LOOKUP(relative, toks[i]))) {
            add_day(&sc, (struct day_named){.pos = i, .kind = DAY_RELATIVE, .value = w->value});
            sc.foreign |= w->foreign;
        } else if ((w = LOOKUP(months, toks[i])) &&
                   (used = scan_month(toks, n, i, w->value, &sc)) >= 0) {
            sc.foreign |= w->foreign;
            i += used;
        } else if (LOOKUP(markers, toks[i])) {
            sc.foreign |= LOOKUP(markers, toks[i])->foreign;
        } else if (date_token(toks[i], &a, &b, &y, &dotted, &marked) &&
                   (!dotted || marked || (i > 0 && LOOKUP(date_preps, toks[i - 1])))) {
            add_day(&sc, (struct day_named){
                             .pos = i, .kind = DAY_DATE, .da = a, .db = b, .dy = y, .dm = dotted});
            sc.foreign |= dotted;
        } else if (!sc.have_time || (neg[clause[sc.time_pos]] && !neg[clause[i]])) {
            /* the first time, or a later one when the first's clause rules it out
             * ("Tuesday at 2pm does not work, how about Thursday at 10?") */
            used = scan_time(toks, n, i, &sc);
            if (used) {
                sc.time_pos = i;
                sc.zone = NULL;
                i += used - 1;
                /* a zone abbreviation right after the time */
                for (size_t z = 0; i + 1 < n && z < sizeof zones / sizeof zones[0]; z++)
                    if (strcmp(toks[i + 1], zones[z].abbr) == 0) {
                        sc.zone = zones[z].zone;
                        i++;
                        break;
                    }
            }
        }
    }
    if (!sc.have_time) {
        /* "tomorrow morning", "Thursday afternoon": a day without a time */
        const struct day_named *d = NULL;
        for (int k = 0; k < sc.n_days && !d; k++)
            if (!neg[clause[sc.days[k].pos]])
                d = &sc.days[k];
        if (!day_only_ok || !d)
            return false;
        sc.time_pos = d->pos;
        for (int k = 0; k < n; k++) {
            const struct word *w = LOOKUP(parts, toks[k]);
            if (w || (k > 0 && strcmp(toks[k], "midi") == 0 && strcmp(toks[k - 1], "après") == 0))
                sc.t.hour = (w ? w->value : 12 * 60) / 60;
        }
        out->day_only = true;
    }
    /* Of several days the one said with the time is meant: in the time's clause ("Tuesday
     * does not work, but Wednesday at 2pm would"), else in its sentence ("Thursday works,
     * at 2pm?"), else one said before it ("Thursday works. 2pm? Monday I'm out"), else any;
     * a day its clause rules out last; and of equals, the nearest. A day in another clause
     * is not the time's however near ("Thursday at 2pm. Friday I'm out": Thursday). */
    const struct day_named *named = NULL;
    int named_rank = 0;
    for (int k = 0; k < sc.n_days; k++) {
        const struct day_named *d = &sc.days[k];
        int rank = clause[d->pos] == clause[sc.time_pos]       ? 0
                   : sentence[d->pos] == sentence[sc.time_pos] ? 1
                   : d->pos < sc.time_pos                      ? 2
                                                               : 3;
        if (rank && neg[clause[d->pos]])
            rank += 4;
        if (!named || rank < named_rank ||
            (rank == named_rank && abs(d->pos - sc.time_pos) < abs(named->pos - sc.time_pos))) {
            named = d;
            named_rank = rank;
        }
    }
    long base = days_from_civil(today->year, today->month, today->day);
    long day = base;
    int minute = sc.t.hour * 60 + sc.t.minute;
    if (named && named->kind == DAY_DATE) {
        /* a/b: day/month outside English or when a cannot be a month; else month/day */
        bool dm = named->dm || named->da > 12 || (sc.foreign && named->db <= 12);
        int d = dm ? named->da : named->db, m = dm ? named->db : named->da;
        int y = named->dy ? named->dy : today->year;
        if (!valid_date(y, m, d))
            return false;
        day = days_from_civil(y, m, d);
        if (!named->dy && day < base) {
            if (!valid_date(y + 1, m, d))
                return false;
            day = days_from_civil(y + 1, m, d);
        }
    } else if (named && named->kind == DAY_WEEKDAY) {
        int delta = (named->value - today->weekday + 7) % 7;
        if (sc.next)
            delta = 7 - today->weekday + named->value;
        else if (delta == 0) {
            delta = 7;
            out->weekday_is_today = true;
        }
        day = base + delta;
    } else if (named) {
        day = base + named->value;
    } else if (minute <= today->minute) {
        day = base + 1; /* a time alone that has passed today: tomorrow */
    }
    /* a negation in the clause of the time or of its day: named, but not wanted */
    out->negated = neg[clause[sc.time_pos]] || (named && neg[clause[named->pos]]);
    civil_from_days(day, &out->year, &out->month, &out->day);
    out->minute = minute;
    if (sc.zone)
        snprintf(out->zone, sizeof out->zone, "%s", sc.zone);
    return true;
}

bool sa_when_parse(const char *text, const struct sa_when_today *today, struct sa_when *out)
{
    return parse(text, today, false, out);
}

bool sa_when_parse_day(const char *text, const struct sa_when_today *today, struct sa_when *out)
{
    return parse(text, today, true, out);
}

/* ---- plain acceptances --------------------------------------------------------------- */

/* Why a small closed lexicon and not the intent model: "Yes, that works" carries no
 * time, and the model was trained on no such short answers, so it often files them under
 * "other" with low confidence. The question the booking asks is narrow (does this short
 * reply say yes to the one time we proposed?), and a wrong yes books a call, so the
 * rules are strict: an acceptance phrase, no negation, hedge or deferral anywhere ("let
 * me check", "I'll think about it", "I'll forward this to my colleague": a yes to
 * something else, or a yes later), no question, at most ACCEPT_MAX_WORDS words and at
 * most ACCEPT_MAX_EXTRA of them (ACCEPT_STRICT_EXTRA for the strict reading) outside the
 * acceptance phrases and courtesy words. Phrases are token sequences as tokenize makes
 * them (lowercase, apostrophes kept). */
#define ACCEPT_MAX_WORDS 20
#define ACCEPT_MAX_EXTRA 4
#define ACCEPT_STRICT_EXTRA 2

static const char *const accept_phrases[] = {
    /* English */
    "yes", "yeah", "yep", "yup", "sure", "ok", "okay", "perfect", "great", "sounds good",
    "sounds great", "sounds perfect", "that works", "works for me", "works", "see you then",
    "see you", "confirmed", "i'll be there", "looking forward", "count me in", "absolutely", "fine",
    "excellent", "booked",
    /* German */
    "ja", "passt", "gerne", "gern", "klingt gut", "bis dann", "einverstanden", "perfekt", "super",
    "geht klar", "prima", "abgemacht", "bestätigt", "alles klar", "wunderbar",
    /* French */
    "oui", "parfait", "ça marche", "Ça marche", "ca marche", "Ça me va", "d'accord", "entendu",
    "ça me va", "ca me va", "c'est noté", "c'est note", "très bien", "tres bien", "volontiers",
    "génial", "à bientôt",
    /* Spanish */
    "sí", "perfecto", "vale", "de acuerdo", "me va bien", "me parece bien", "genial", "nos vemos",
    "confirmado", "claro", "listo", "estupendo"};

/* Any of these words makes a reply more than a plain yes ("no, that won't work", "yes,
 * but can we...", "leider nicht", "pas possible", "pero no puedo"). */
static const char *const accept_vetoes[] = {
    "no", "not", "nope", "never", "cannot", "cant", "but", "however", "unfortunately", "instead",
    "busy", "conflict", "clash", "clashes", "reschedule", "another", "other", "else", "if",
    "cancel", "decline", "stop", "unsubscribe", "remove", "later", "nein", "nicht", "kein", "keine",
    "leider", "aber", "andere", "anderen", "anderer", "verschieben", "absagen", "wenn", "falls",
    "non", "pas", "ne", "mais", "malheureusement", "autre", "impossible", "empêché", "annuler",
    "si", "pero", "otro", "otra", "lamentablemente", "desafortunadamente", "imposible", "ocupado",
    "ocupada", "nunca", "cancelar",
    /* deferrals and actions still pending: "let me
     * check", "I'll think about it", "I'll
     * forward this to my colleague", "get back" */
    "let", "lets", "let's", "check", "checking", "think", "thinking", "consider", "forward",
    "forwarding", "colleague", "colleagues", "team", "boss", "manager", "ask", "discuss", "maybe",
    "perhaps", "probably", "get", "prüfen", "pruefen", "überlegen", "ueberlegen", "nachdenken",
    "weiterleiten", "leite", "kollege", "kollegen", "kollegin", "später", "spaeter", "melde",
    "schaue", "schauen", "muss", "lass", "lassen", "werde", "vielleicht", "vérifier", "verifier",
    "vérifie", "réfléchir", "reflechir", "réfléchis", "transférer", "transferer", "transmettre",
    "transmets", "collègue", "collegue", "collègues", "tard", "reviens", "laissez", "laisse",
    "vais", "peut-être", "peut", "revisar", "reviso", "compruebo", "comprobar", "pensar",
    "pensarlo", "pienso", "reenviar", "reenvío", "reenvio", "colega", "compañero", "compañera",
    "luego", "déjame", "dejame", "voy", "quizás", "quizas", "tal",
    /* hedges: "Sure, possibly", "Yes, depends on my schedule", "OK, I might make it" */
    "possibly", "hopefully", "tentatively", "tentative", "depends", "depending", "might", "may",
    "try", "trying", "pending", "need", "needs", "have", "unsure", "should", "eventuell",
    "möglicherweise", "moeglicherweise", "hoffentlich", "vorläufig", "vorlaeufig", "depende",
    "posiblemente", "ojalá", "ojala", "provisional", "provisoire", "dépend", "depend"};

/* Words that add nothing to a yes and do not count as words beyond it. */
static const char *const accept_courtesy[] = {
    "thanks", "thank", "you",     "then", "for",   "me",    "danke",   "dir", "ihnen",
    "merci",  "vous",  "gracias", "hi",   "hello", "hallo", "bonjour", "hola"};

/* "I'll", "we’ll", "will": a promise of something still to do ("I'll think about it"),
 * unless it is "I'll be there" or "I'll see you then". */
static bool future_tok(const char *tok)
{
    size_t n = strlen(tok);
    return strcmp(tok, "will") == 0 || strcmp(tok, "shall") == 0 ||
           (n > 3 && strcmp(tok + n - 3, "'ll") == 0) ||
           (n > 5 && strcmp(tok + n - 5, "\xe2\x80\x99ll") == 0);
}

static bool in_list(const char *const *list, size_t n, const char *tok)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], tok) == 0)
            return true;
    return false;
}

/* True when the tokens from at spell phrase (space-separated tokens). */
static bool phrase_at(char toks[TOKS_MAX][TOK_MAX], int n, int at, const char *phrase)
{
    const char *p = phrase;
    for (int i = at; i < n; i++) {
        size_t len = strcspn(p, " ");
        if (strlen(toks[i]) != len || strncmp(toks[i], p, len) != 0)
            return false;
        if (!p[len])
            return true;
        p += len + 1;
    }
    return false;
}

/* "doesn't", "won't", "can’t" (a typographic apostrophe too). */
static bool contracted_not(const char *tok)
{
    size_t n = strlen(tok);
    return (n > 3 && strcmp(tok + n - 3, "n't") == 0) ||
           (n > 5 && strcmp(tok + n - 5, "n\xe2\x80\x99t") == 0);
}

/* Words outside the acceptance phrases and courtesy words, or -1 when text is no
 * acceptance at all (see above). */
static int acceptance_extra(const char *text)
{
    if (!text || strchr(text, '?'))
        return -1;
    char toks[TOKS_MAX][TOK_MAX];
    int clause[TOKS_MAX], sentence[TOKS_MAX];
    int n = tokenize(text, toks, clause, sentence);
    if (n == 0 || n > ACCEPT_MAX_WORDS)
        return -1;
    const size_t np = sizeof accept_phrases / sizeof accept_phrases[0];
    const size_t nv = sizeof accept_vetoes / sizeof accept_vetoes[0];
    const size_t nc = sizeof accept_courtesy / sizeof accept_courtesy[0];
    bool yes = false;
    bool covered[TOKS_MAX] = {false};
    for (int i = 0; i < n; i++) {
        if (in_list(accept_vetoes, nv, toks[i]) || contracted_not(toks[i]))
            return -1;
        if (future_tok(toks[i]) && !phrase_at(toks, n, i + 1, "be there") &&
            !phrase_at(toks, n, i + 1, "see you"))
            return -1;
        for (size_t k = 0; k < np; k++)
            if (phrase_at(toks, n, i, accept_phrases[k])) {
                yes = true;
                int words = 1;
                for (const char *q = accept_phrases[k]; *q; q++)
                    words += *q == ' ';
                for (int j = i; j < i + words && j < n; j++)
                    covered[j] = true;
            }
    }
    if (!yes)
        return -1;
    int extra = 0;
    for (int i = 0; i < n; i++)
        extra += !covered[i] && !future_tok(toks[i]) && !in_list(accept_courtesy, nc, toks[i]);
    return extra;
}

bool sa_when_is_acceptance(const char *text)
{
    int extra = acceptance_extra(text);
    return extra >= 0 && extra <= ACCEPT_MAX_EXTRA;
}

bool sa_when_is_strict_acceptance(const char *text)
{
    int extra = acceptance_extra(text);
    return extra >= 0 && extra <= ACCEPT_STRICT_EXTRA;
}
