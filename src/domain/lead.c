/* Lead validation and normalisation (see lead.h). Everything a client can type passes
 * through here first, so each check names its field and says what would be accepted. */
#include "domain/lead.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/detail.h"

/* ---- small text helpers ------------------------------------------------------------ */

/* Copies s without surrounding whitespace into out (lowercased when lower). */
static void trim_copy(const char *s, char *out, size_t cap, bool lower)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    if (n >= cap)
        n = cap - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = lower ? (char)tolower((unsigned char)s[i]) : s[i];
    out[n] = '\0';
}

/* Parses a non-negative decimal number with an optional k/m/b multiplier word at p.
 * Thousands separators (",") between digits are skipped. *mult is the multiplier found
 * (0 when none; *out already includes it). Advances *p past what it read. */
static int parse_scaled(const char **p, double *out, double *mult)
{
    const char *s = *p;
    while (*s == ' ')
        s++;
    char digits[64];
    size_t n = 0;
    bool dot = false;
    while ((isdigit((unsigned char)*s) || *s == ',' || (*s == '.' && !dot)) &&
           n + 1 < sizeof digits) {
        if (*s == ',') {
            /* a thousands separator: exactly three digits follow ("1,000", not "5,00") */
            if (!(n > 0 && isdigit((unsigned char)s[1]) && isdigit((unsigned char)s[2]) &&
                  isdigit((unsigned char)s[3]) && !isdigit((unsigned char)s[4])))
                return SA_EINVAL;
        } else {
            dot |= *s == '.';
            digits[n++] = *s;
        }
        s++;
    }
    digits[n] = '\0';
    if (n == 0 || (n == 1 && dot))
        return SA_EINVAL;
    errno = 0;
    double v = strtod(digits, NULL);
    if (errno || !isfinite(v))
        return SA_EINVAL;
    while (*s == ' ')
        s++;
    static const struct {
        const char *word;
        double mult;
    } suffixes[] = {{"thousand", 1e3}, {"million", 1e6}, {"billion", 1e9}, {"mm", 1e6},
                    {"bn", 1e9},       {"k", 1e3},       {"m", 1e6},       {"b", 1e9}};
    *mult = 0;
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        size_t wl = strlen(suffixes[i].word);
        if (strncmp(s, suffixes[i].word, wl) == 0 && !isalpha((unsigned char)s[wl])) {
            v *= suffixes[i].mult;
            s += wl;
            *mult = suffixes[i].mult;
            break;
        }
    }
    *out = v;
    *p = s;
    return 0;
}

static const char *skip_words(const char *s, const char *const *words)
{
    for (;;) {
        while (*s == ' ')
            s++;
        bool hit = false;
        for (size_t i = 0; words[i]; i++) {
            size_t wl = strlen(words[i]);
            /* strncmp matched wl bytes, so s[wl] exists (at worst its NUL); the analyser does
             * not model strncmp */
            // NOLINTNEXTLINE(clang-analyzer-core.uninitialized.ArraySubscript)
            if (strncmp(s, words[i], wl) == 0 && !isalpha((unsigned char)s[wl])) {
                s += wl;
                hit = true;
                break;
            }
        }
        if (!hit)
            return s;
    }
}

/* ---- company size ------------------------------------------------------------------ */

#define SIZE_LIMIT 10000000L /* more employees than any company has */

int sa_parse_company_size(const char *in, long *min, long *max)
{
    static const struct {
        const char *word;
        long min, max;
    } words[] = {
        {"self-employed", 1, 1},
        {"solo", 1, 1},
        {"freelancer", 1, 1},
        {"micro", 1, 10},
        {"startup", 1, 50},
        {"small", 11, 50},
        {"small business", 1, 100},
        {"smb", 1, 100},
        {"sme", 1, 250},
        {"mid-market", 101, 1000},
        {"midmarket", 101, 1000},
        {"mid market", 101, 1000},
        {"medium", 51, 1000},
        {"mid-size", 101, 1000},
        {"midsize", 101, 1000},
        {"large", 1001, SA_UNKNOWN},
        {"enterprise", 1001, SA_UNKNOWN},
        {"large enterprise", 5001, SA_UNKNOWN},
    };
    char s[128] = ""; /* zeroed: the thousands scan below may read the byte after a digit */
    trim_copy(in, s, sizeof s, true);
    /* a head count is a whole number: a "." between digits with exactly three digits after
     * it is a thousands separator ("1.000", "10.000-50.000", as German and Dutch exports
     * write them; it read as 1 and 10 before), not a decimal point ("1.5k" keeps it) */
    size_t w = 0;
    for (size_t r = 0; s[r]; r++) {
        const char *after = s + r + 1;
        size_t d = s[r] == '.' ? strspn(after, "0123456789") : 0;
        bool thousands = d == 3 && r > 0 && isdigit((unsigned char)s[r - 1]) &&
                         !isalpha((unsigned char)after[3]);
        if (!thousands)
            s[w++] = s[r];
    }
    s[w] = '\0';
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (strcmp(s, words[i].word) == 0) {
            *min = words[i].min;
            *max = words[i].max;
            return 0;
        }
    }
    static const char *const lead_words[] = {"under", "less than", "fewer than",
                                             "<",     "up to",     NULL};
    static const char *const tail_words[] = {"employees", "employee", "people",    "staff",
                                             "ftes",      "fte",      "headcount", NULL};
    const char *p = s;
    bool under = false, over = false;
    const char *q = skip_words(p, lead_words);
    under = q != p;
    p = q;
    if (!under) {
        static const char *const over_words[] = {">", "over", "more than", NULL};
        q = skip_words(p, over_words);
        over = q != p;
        p = q;
    }
    double a, b = -1, sfx;
    if (parse_scaled(&p, &a, &sfx))
        return SA_EINVAL;
    p = skip_words(p, tail_words);
    bool plus = false;
    if (*p == '+') {
        plus = true;
        p++;
    } else if (*p == '-' || strncmp(p, "to ", 3) == 0 || strncmp(p, "\xe2\x80\x93", 3) == 0) {
        p += *p == '-' ? 1 : 3;
        if (parse_scaled(&p, &b, &sfx))
            return SA_EINVAL;
    } else if (strncmp(p, "or more", 7) == 0) {
        plus = true;
        p += 7;
    }
    p = skip_words(p, tail_words);
    if (*p == '+' && b < 0 && !plus) {
        plus = true;
        p++;
    }
    p = skip_words(p, tail_words);
    if (*p != '\0')
        return SA_EINVAL;
    if (a != floor(a) || (b >= 0 && b != floor(b)) || a > SIZE_LIMIT || b > SIZE_LIMIT)
        return SA_EINVAL;
    if (under) {
        if (a < 2 || plus || b >= 0)
            return SA_EINVAL;
        *min = 1;
        *max = (long)a - 1;
    } else if (over || plus) {
        if (b >= 0 || a < 1)
            return SA_EINVAL;
        *min = over ? (long)a + 1 : (long)a;
        *max = SA_UNKNOWN;
        if (*min > SIZE_LIMIT)
            return SA_EINVAL;
    } else if (b >= 0) {
        if (a < 1 || b < a)
            return SA_EINVAL;
        *min = (long)a;
        *max = (long)b;
    } else {
        if (a < 1)
            return SA_EINVAL;
        *min = *max = (long)a;
    }
    return 0;
}

/* ---- money ------------------------------------------------------------------------- */

int sa_parse_money(const char *in, double *usd)
{
    char s[128];
    trim_copy(in, s, sizeof s, true);
    const char *p = s;
    static const char *const currency[] = {"usd",     "us$",    "$", "about",
                                           "approx.", "approx", "~", NULL};
    p = skip_words(p, currency);
    if (*p == '$')
        p++;
    double a, b = -1, ma, mb = 0;
    if (parse_scaled(&p, &a, &ma))
        return SA_EINVAL;
    while (*p == ' ')
        p++;
    bool plus = false;
    if (*p == '+') {
        plus = true;
        p++;
    } else if (*p == '-' || strncmp(p, "to ", 3) == 0) {
        p += *p == '-' ? 1 : 3;
        p = skip_words(p, currency);
        if (*p == '$')
            p++;
        if (parse_scaled(&p, &b, &mb))
            return SA_EINVAL;
    }
    static const char *const tail[] = {"usd", "dollars", "per year", "/year",
                                       "/yr", "arr",     "revenue",  NULL};
    p = skip_words(p, tail);
    if (*p == '+' && !plus && b < 0) /* "10M+" */
        p++;
    if (*p != '\0')
        return SA_EINVAL;
    if (b >= 0) {
        /* "10-50M": a multiplier on the upper bound only applies to both */
        if (mb > 0 && ma == 0)
            a *= mb;
        if (b < a)
            return SA_EINVAL;
        a = (a + b) / 2;
    }
    if (a < 0 || a > 1e13)
        return SA_EINVAL;
    *usd = a;
    return 0;
}

/* Revenue as CRM exports write it. The currency and the European unit words are taken
 * off first, the number is rewritten to the form sa_parse_money reads ("25.000.000" to
 * "25000000", "2,5" to "2.5", "1.234.567,89" to "1234567.89"), and sa_parse_money does
 * the rest. A single "." followed by three digits and no unit ("25.000") is refused: it
 * is 25 thousand in Germany and 25 in the US, and guessing would change the data. */
static const struct {
    const char *mark, *code;
} currencies[] = {{"us$", "USD"}, {"usd", "USD"},      {"$", "USD"},   {"\xe2\x82\xac", "EUR"},
                  {"eur", "EUR"}, {"\xc2\xa3", "GBP"}, {"gbp", "GBP"}, {"chf", "CHF"},
                  {"cad", "CAD"}, {"aud", "AUD"},      {"jpy", "JPY"}, {"\xc2\xa5", "JPY"},
                  {"sek", "SEK"}, {"nok", "NOK"},      {"dkk", "DKK"}, {"inr", "INR"}};

/* The currency written at the start of s (prefix) or at its end; removes it from s. */
static int take_currency(char *s, char code[4])
{
    for (size_t i = 0; i < sizeof currencies / sizeof currencies[0]; i++) {
        size_t ml = strlen(currencies[i].mark), n = strlen(s);
        bool word = isalpha((unsigned char)currencies[i].mark[0]);
        if (strncmp(s, currencies[i].mark, ml) == 0 && !(word && isalpha((unsigned char)s[ml]))) {
            memmove(s, s + ml, n - ml + 1);
        } else if (n >= ml && strcmp(s + n - ml, currencies[i].mark) == 0 &&
                   !(word && n > ml && isalpha((unsigned char)s[n - ml - 1]))) {
            s[n - ml] = '\0';
        } else {
            continue;
        }
        if (code[0] && strcmp(code, currencies[i].code) != 0)
            return SA_EINVAL; /* "$25M EUR" */
        memcpy(code, currencies[i].code, 4);
        trim_copy(s, s, strlen(s) + 1, true);
        i = (size_t)-1; /* another mark may remain ("25 Mio. EUR" after "$") */
    }
    return 0;
}

int sa_parse_revenue(const char *in, double *amount, char currency[4])
{
    static const struct {
        const char *word, *as;
    } units[] = {{"mio.", "m"}, {"mio", "m"},      {"mln", "m"},      {"mn", "m"},   {"mrd.", "b"},
                 {"mrd", "b"},  {"millions", "m"}, {"billions", "b"}, {"tsd.", "k"}, {"tsd", "k"}};
    char s[128], t[128];
    currency[0] = '\0';
    trim_copy(in, s, sizeof s, true);
    if (take_currency(s, currency))
        return SA_EINVAL;
    size_t o = 0, dots = 0, commas = 0, after_dot = 0, after_comma = 0;
    bool unit = false, continental = false;
    for (const char *p = s; *p && o + 8 < sizeof t;) {
        bool start = p == s || !isalpha((unsigned char)p[-1]);
        size_t k = 0;
        for (; start && k < sizeof units / sizeof units[0]; k++) {
            size_t wl = strlen(units[k].word);
            if (strncmp(p, units[k].word, wl) == 0 && !isalpha((unsigned char)p[wl]))
                break;
        }
        if (start && k < sizeof units / sizeof units[0]) {
            o += (size_t)snprintf(t + o, sizeof t - o, "%s", units[k].as);
            p += strlen(units[k].word);
            unit = true;
            /* Mio, Mrd, Tsd, mln: a continental unit, with continental numbers */
            continental |= units[k].word[0] != 'b' && strncmp(units[k].word, "millions", 8) != 0;
            continue;
        }
        if (isalpha((unsigned char)*p) && start)
            unit = true; /* "m", "million", "bn": sa_parse_money's own words */
        if (*p == '.' && isdigit((unsigned char)p[1])) {
            dots++;
            after_dot = strspn(p + 1, "0123456789");
        } else if (*p == ',' && isdigit((unsigned char)p[1])) {
            commas++;
            after_comma = strspn(p + 1, "0123456789");
        }
        t[o++] = *p++;
    }
    t[o] = '\0';
    /* "250.000,00", "1.234.567,89 €" (German Excel's currency format): groups of three
     * between the dots, one comma after the last dot, the cents after it */
    const char *last_dot = strrchr(t, '.'), *comma = strchr(t, ',');
    bool decimal_comma =
        dots && commas == 1 && after_dot == 3 && comma && comma > last_dot && after_comma <= 2;
    for (const char *q = strchr(t, '.'); decimal_comma && q && q < last_dot; q = strchr(q + 1, '.'))
        decimal_comma = strspn(q + 1, "0123456789") == 3;
    if (decimal_comma) {
        size_t w = 0;
        for (size_t r = 0; t[r]; r++)
            if (t[r] != '.')
                t[w++] = t[r] == ',' ? '.' : t[r];
        t[w] = '\0';
    } else if ((dots >= 2 && commas == 0 && after_dot == 3) ||
               (continental && dots && after_dot == 3)) {
        /* "25.000.000"; or "1.500 Mio. €", "2.500 Tsd. EUR" (continental: 1,500 million,
         * 2,500 thousand): every "." is a thousands separator */
        size_t w = 0;
        for (size_t r = 0; t[r]; r++)
            if (t[r] != '.')
                t[w++] = continental && t[r] == ',' ? '.' : t[r]; /* "1.500,5 Mio" */
        t[w] = '\0';
    } else if (dots == 1 && commas == 0 && after_dot == 3 && !unit) {
        return SA_EINVAL; /* "25.000": thousands or decimals? */
    } else if (commas == 1 && dots == 0 && after_comma < 3) {
        char *c = strchr(t, ',');
        *c = '.'; /* "2,5 Mio": a decimal comma */
    }
    return sa_parse_money(t, amount);
}

/* ---- e-mail, phone, URLs ----------------------------------------------------------- */

bool sa_email_valid(const char *s)
{
    size_t n = strlen(s);
    const char *at = strrchr(s, '@');
    if (n > 254 || !at || at == s || (size_t)(at - s) > 64)
        return false;
    static const char local_ok[] = "!#$%&'*+/=?^_`{|}~.-";
    for (const char *p = s; p < at; p++) {
        if (!isalnum((unsigned char)*p) && !strchr(local_ok, *p))
            return false;
        if (*p == '.' && (p == s || p + 1 == at || p[1] == '.'))
            return false;
    }
    const char *d = at + 1;
    size_t label = 0, labels = 0, tld_alpha = 0;
    if (*d == '\0' || *d == '.' || *d == '-')
        return false;
    for (const char *p = d;; p++) {
        if (*p == '.' || *p == '\0') {
            if (label == 0 || label > 63 || p[-1] == '-')
                return false;
            labels++;
            if (*p == '\0')
                break;
            label = 0;
            tld_alpha = 0;
            continue;
        }
        if (!isalnum((unsigned char)*p) && *p != '-')
            return false;
        label++;
        tld_alpha += isalpha((unsigned char)*p) != 0;
    }
    return labels >= 2 && tld_alpha >= 2 && tld_alpha == label;
}

const char *sa_email_domain(const char *s)
{
    const char *at = s ? strrchr(s, '@') : NULL;
    return at ? at + 1 : NULL;
}

static bool phone_valid(const char *s)
{
    size_t digits = 0;
    for (const char *p = s; *p; p++) {
        if (isdigit((unsigned char)*p)) {
            digits++;
        } else if (strchr("+-(). /", *p) == NULL) {
            /* an extension: "x123", "ext 123", "ext. 123" */
            size_t skip = strncasecmp(p, "ext", 3) == 0 ? 3 : (*p == 'x' || *p == 'X') ? 1 : 0;
            if (skip == 0 || digits < 7 || digits > 15)
                return false;
            p += skip;
            while (*p == '.' || *p == ' ')
                p++;
            if (!isdigit((unsigned char)*p))
                return false;
            while (isdigit((unsigned char)*p))
                p++;
            return *p == '\0';
        }
    }
    return digits >= 7 && digits <= 15;
}

/* The host of an http(s) URL or bare "host/path" into out; false when malformed. */
static bool url_host(const char *s, char *out, size_t cap)
{
    if (strncasecmp(s, "https://", 8) == 0)
        s += 8;
    else if (strncasecmp(s, "http://", 7) == 0)
        s += 7;
    size_t n = strcspn(s, "/?#");
    if (n == 0 || n >= cap)
        return false;
    bool dot = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!isalnum((unsigned char)c) && c != '.' && c != '-' && c != ':')
            return false;
        dot |= c == '.';
        out[i] = (char)tolower((unsigned char)c);
    }
    out[n] = '\0';
    for (const char *p = s + n; *p; p++)
        if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
            return false;
    return dot && out[0] != '.' && out[n - 1] != '.';
}

static bool linkedin_valid(const char *s)
{
    char host[256];
    if (!url_host(s, host, sizeof host))
        return false;
    size_t n = strlen(host);
    return strcmp(host, "linkedin.com") == 0 ||
           (n > 13 && strcmp(host + n - 13, ".linkedin.com") == 0);
}

/* ---- field validation -------------------------------------------------------------- */

struct checker {
    json_t *detail;
    const char *prefix;
};

static void add(struct checker *c, const char *field, const char *type, const char *msg)
{
    char loc[160];
    snprintf(loc, sizeof loc, "%s%s%s", c->prefix, *c->prefix ? "." : "", field);
    sa_detail_add(c->detail, loc, type, "%s", msg);
}

/* Trims obj[key] in place and checks its type and length. Returns the string, NULL when
 * absent, null or empty-after-trim (an empty optional string counts as not given). */
static const char *opt_string(struct checker *c, json_t *obj, const char *key, const char *loc,
                              size_t max, bool required)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (required)
            add(c, loc, "missing", "Field required");
        return NULL;
    }
    if (!json_is_string(v)) {
        add(c, loc, "string_type", "Input should be a valid string");
        return NULL;
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    size_t b = 0, e = len;
    while (b < e && isspace((unsigned char)s[b]))
        b++;
    while (e > b && isspace((unsigned char)s[e - 1]))
        e--;
    if (memchr(s, '\0', len)) {
        add(c, loc, "string_type", "String must not contain NUL characters");
        return NULL;
    }
    if (b == e) {
        if (required)
            add(c, loc, "string_too_short", "String should have at least 1 character");
        return NULL;
    }
    if (sa_utf8_chars(s + b, e - b) > max) {
        char msg[96];
        snprintf(msg, sizeof msg, "String should have at most %zu characters", max);
        add(c, loc, "string_too_long", msg);
        return NULL;
    }
    if (b != 0 || e != len) {
        json_object_set_new(obj, key, json_stringn(s + b, e - b));
        v = json_object_get(obj, key);
    }
    return json_string_value(v);
}

static void parse_size(struct checker *c, json_t *input, struct sa_lead *lead)
{
    json_t *v = json_object_get(input, "company_size");
    lead->employees_min = lead->employees_max = SA_UNKNOWN;
    if (!v || json_is_null(v))
        return;
    static const char msg[] = "Company size should be a number of employees or a range such as "
                              "\"1-10\", \"50-200\", \"1000+\", \"Enterprise\", \"SMB\"";
    if (json_is_integer(v) || json_is_real(v)) {
        double d = json_number_value(v);
        if (d < 1 || d > SIZE_LIMIT || d != floor(d)) {
            add(c, "company_size", "value_error",
                "Company size should be a whole number of employees from 1 to 10000000");
            return;
        }
        lead->employees_min = lead->employees_max = (long)d;
        return;
    }
    const char *s = opt_string(c, input, "company_size", "company_size", SA_LEAD_SHORT_MAX, false);
    if (!s)
        return;
    if (sa_parse_company_size(s, &lead->employees_min, &lead->employees_max)) {
        lead->employees_min = lead->employees_max = SA_UNKNOWN;
        add(c, "company_size", "value_error", msg);
        return;
    }
    lead->company_size = s;
}

static void parse_revenue(struct checker *c, json_t *input, struct sa_lead *lead)
{
    json_t *v = json_object_get(input, "annual_revenue");
    lead->annual_revenue = SA_UNKNOWN;
    const char *given = opt_string(c, input, "revenue_currency", "revenue_currency", 3, false);
    if (given && (strlen(given) != 3 || !isupper((unsigned char)given[0]) ||
                  !isupper((unsigned char)given[1]) || !isupper((unsigned char)given[2]))) {
        add(c, "revenue_currency", "value_error",
            "Revenue currency should be an ISO 4217 code such as USD, EUR or GBP");
        given = NULL;
    }
    if (!v || json_is_null(v))
        return;
    if (json_is_integer(v) || json_is_real(v)) {
        double d = json_number_value(v);
        if (d < 0 || d > 1e13)
            add(c, "annual_revenue", "value_error",
                "Annual revenue should be an amount from 0 to 10 trillion");
        else
            lead->annual_revenue = d + 0.0; /* -0.0 becomes 0 */
        return;
    }
    const char *s =
        opt_string(c, input, "annual_revenue", "annual_revenue", SA_LEAD_SHORT_MAX, false);
    char code[4];
    if (s && sa_parse_revenue(s, &lead->annual_revenue, code)) {
        lead->annual_revenue = SA_UNKNOWN;
        add(c, "annual_revenue", "value_error",
            "Annual revenue should be an amount such as 25000000, \"$12M\", \"1.2B\", "
            "\"10-50M\", \"EUR 25M\", \"25 Mio. \xe2\x82\xac\" or \"25.000.000\"");
    } else if (s && code[0]) {
        /* the currency is kept beside the amount, never converted */
        if (given && strcmp(given, code) != 0)
            add(c, "revenue_currency", "value_error",
                "Revenue currency contradicts the currency written in annual_revenue");
        else
            json_object_set_new(input, "revenue_currency", json_string(code));
    }
}

/* s without its surrounding whitespace: *len bytes from the returned pointer. */
static const char *trimmed(const char *s, size_t *len)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    *len = n;
    return s;
}

/* The contact_info fields, in the order of struct lifted's keys. */
enum contact_field {
    CF_NAME,
    CF_TITLE,
    CF_EMAIL,
    CF_PHONE,
    CF_LINKEDIN,
    CF_COUNT,
    CF_FIRST,
    CF_LAST
};
static const char *const contact_fields[CF_COUNT] = {"name", "title", "email", "phone",
                                                     "linkedin_url"};

/* Contact fields a flat record gives at the top level, by their names lowercased with
 * only letters and digits kept ("Email", "E-mail", "FirstName" and "first_name" match),
 * and where each goes; for one field, the earlier entry wins. */
static const struct {
    const char *key;
    enum contact_field f;
} flat_keys[] = {
    {"email", CF_EMAIL},       {"emailaddress", CF_EMAIL},
    {"workemail", CF_EMAIL},   {"contactemail", CF_EMAIL},
    {"name", CF_NAME},         {"fullname", CF_NAME},
    {"contactname", CF_NAME},  {"title", CF_TITLE},
    {"jobtitle", CF_TITLE},    {"contacttitle", CF_TITLE},
    {"phone", CF_PHONE},       {"phonenumber", CF_PHONE},
    {"workphone", CF_PHONE},   {"linkedinurl", CF_LINKEDIN},
    {"linkedin", CF_LINKEDIN}, {"firstname", CF_FIRST},
    {"lastname", CF_LAST},
};

/* The flat_keys entry key names (-1 when none). */
static int flat_key(const char *key)
{
    char n[24];
    size_t o = 0;
    for (const char *k = key; *k; k++) {
        if (!isalnum((unsigned char)*k))
            continue;
        if (o + 1 >= sizeof n)
            return -1;
        n[o++] = (char)tolower((unsigned char)*k);
    }
    n[o] = '\0';
    for (size_t i = 0; i < sizeof flat_keys / sizeof flat_keys[0]; i++)
        if (strcmp(n, flat_keys[i].key) == 0)
            return (int)i;
    return -1;
}

bool sa_lead_flat_contact_key(const char *key)
{
    return flat_key(key) >= 0;
}

/* The top-level key each contact_info field was moved from ("" when none): an error in
 * the value is reported under the name the client gave it. */
struct lifted {
    char key[CF_COUNT][64];
};

/* Whether obj[key] holds text: a string that is not only whitespace. */
static bool has_text(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    size_t n = 0;
    if (json_is_string(v))
        trimmed(json_string_value(v), &n);
    return n > 0;
}

/* The first flat_keys entry of field f. */
static size_t entry_of(enum contact_field f)
{
    size_t i = 0;
    while (i + 1 < sizeof flat_keys / sizeof flat_keys[0] && flat_keys[i].f != f)
        i++;
    return i;
}

/* The first top-level key (input's order) that flat_keys entry i names and that holds
 * text; NULL when none. */
static const char *flat_source(json_t *input, size_t i)
{
    const char *k;
    json_t *v;
    json_object_foreach(input, k, v)
    {
        if (flat_key(k) == (int)i && has_text(input, k))
            return k;
    }
    return NULL;
}

/* Contact fields given at the top level, as a flat CRM record or a web form has them
 * ({"email": ..., "FirstName": ..., "job_title": ...}), move into contact_info where it
 * has no text for them: ignored, they left the lead without a contact (the scoring said
 * "no e-mail address"). Where contact_info has the field, or another key already gave
 * it, the top-level key stays as given, an extra field like any other: a stored lead's
 * extra fields are merged and parsed again on every update, so this never refuses or
 * drops anything. First and last name make contact_info's name when it has none. */
static void lift_contact(json_t *input, struct lifted *lf)
{
    memset(lf, 0, sizeof *lf);
    json_t *ci = json_object_get(input, "contact_info");
    if (ci && !json_is_object(ci) && !json_is_null(ci))
        return; /* parse_contact reports it */
    json_t *made = NULL;
    if (!json_is_object(ci))
        ci = made = json_object();
    if (!ci)
        return;
    for (size_t i = 0; i < sizeof flat_keys / sizeof flat_keys[0]; i++) {
        enum contact_field f = flat_keys[i].f;
        if (f >= CF_COUNT || lf->key[f][0])
            continue;
        json_t *have = json_object_get(ci, contact_fields[f]);
        if (has_text(ci, contact_fields[f]) ||
            (have && !json_is_null(have) && !json_is_string(have)))
            continue; /* contact_info's own value (a wrong type is reported there) */
        const char *k = flat_source(input, i);
        if (!k || strlen(k) >= sizeof lf->key[f])
            continue;
        if (json_object_set(ci, contact_fields[f], json_object_get(input, k)))
            continue;
        snprintf(lf->key[f], sizeof lf->key[f], "%s", k);
        json_object_del(input, lf->key[f]);
    }
    json_t *nm = json_object_get(ci, "name");
    if (!lf->key[CF_NAME][0] && !has_text(ci, "name") &&
        (!nm || json_is_string(nm) || json_is_null(nm))) {
        const char *fk = flat_source(input, entry_of(CF_FIRST));
        const char *lk = flat_source(input, entry_of(CF_LAST));
        size_t nf = 0, nl = 0;
        const char *f = fk ? trimmed(json_string_value(json_object_get(input, fk)), &nf) : "";
        const char *l = lk ? trimmed(json_string_value(json_object_get(input, lk)), &nl) : "";
        char *full = (nf || nl) ? malloc(nf + nl + 2) : NULL;
        /* built whole, so validation sees (and can refuse) the full length */
        if (full) {
            snprintf(full, nf + nl + 2, "%.*s%s%.*s", (int)nf, f, nf && nl ? " " : "", (int)nl, l);
            const char *from = fk ? fk : lk;
            if (strlen(from) < sizeof lf->key[CF_NAME] &&
                json_object_set_new(ci, "name", json_string(full)) == 0) {
                snprintf(lf->key[CF_NAME], sizeof lf->key[CF_NAME], "%s", from);
                char lkey[64] = "";
                if (fk && lk && strlen(lk) < sizeof lkey)
                    snprintf(lkey, sizeof lkey, "%s", lk);
                json_object_del(input, lf->key[CF_NAME]);
                if (lkey[0])
                    json_object_del(input, lkey);
            }
            free(full);
        }
    }
    if (made && json_object_size(made))
        json_object_set(input, "contact_info", made);
    json_decref(made);
}

static void parse_contact(struct checker *c, json_t *input, struct sa_lead *lead,
                          const struct lifted *lf)
{
    json_t *ci = json_object_get(input, "contact_info");
    if (!ci || json_is_null(ci))
        return;
    if (!json_is_object(ci)) {
        add(c, "contact_info", "dict_type", "Input should be a valid object");
        return;
    }
    struct checker cc = *c;
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s%scontact_info", c->prefix, *c->prefix ? "." : "");
    cc.prefix = prefix;
    /* each field's checker and loc: contact_info's, or the top-level key it came from */
    struct checker *at[CF_COUNT];
    const char *loc[CF_COUNT];
    for (int f = 0; f < CF_COUNT; f++) {
        at[f] = lf->key[f][0] ? c : &cc;
        loc[f] = lf->key[f][0] ? lf->key[f] : contact_fields[f];
    }
    lead->contact_name = opt_string(at[CF_NAME], ci, "name", loc[CF_NAME], SA_LEAD_NAME_MAX, false);
    lead->contact_title =
        opt_string(at[CF_TITLE], ci, "title", loc[CF_TITLE], SA_LEAD_NAME_MAX, false);
    lead->contact_email = opt_string(at[CF_EMAIL], ci, "email", loc[CF_EMAIL], 254, false);
    if (lead->contact_email && !sa_email_valid(lead->contact_email)) {
        add(at[CF_EMAIL], loc[CF_EMAIL], "value_error",
            "Value is not a valid email address: expected name@company.com");
        lead->contact_email = NULL;
    }
    lead->contact_phone = opt_string(at[CF_PHONE], ci, "phone", loc[CF_PHONE], 50, false);
    if (lead->contact_phone && !phone_valid(lead->contact_phone)) {
        add(at[CF_PHONE], loc[CF_PHONE], "value_error",
            "Value is not a valid phone number: expected 7 to 15 digits, optionally with +, "
            "spaces, dashes, dots or parentheses");
        lead->contact_phone = NULL;
    }
    lead->linkedin_url =
        opt_string(at[CF_LINKEDIN], ci, "linkedin_url", loc[CF_LINKEDIN], SA_LEAD_URL_MAX, false);
    if (lead->linkedin_url && !linkedin_valid(lead->linkedin_url)) {
        add(at[CF_LINKEDIN], loc[CF_LINKEDIN], "url_parsing",
            "Value is not a LinkedIn URL: expected https://www.linkedin.com/in/...");
        lead->linkedin_url = NULL;
    }
}

static void parse_signals(struct checker *c, json_t *input, struct sa_lead *lead)
{
    json_t *v = json_object_get(input, "signals");
    if (!v || json_is_null(v))
        return;
    if (!json_is_array(v)) {
        add(c, "signals", "list_type", "Input should be a valid list of strings");
        return;
    }
    if (json_array_size(v) > SA_LEAD_SIGNALS_MAX) {
        char msg[96];
        snprintf(msg, sizeof msg, "List should have at most %d items", SA_LEAD_SIGNALS_MAX);
        add(c, "signals", "too_long", msg);
        return;
    }
    size_t i;
    json_t *x;
    bool ok = true;
    json_array_foreach(v, i, x)
    {
        char loc[48];
        snprintf(loc, sizeof loc, "signals.%zu", i);
        if (!json_is_string(x)) {
            add(c, loc, "string_type", "Input should be a valid string");
            ok = false;
        } else if (json_string_length(x) == 0 ||
                   sa_utf8_chars(json_string_value(x), json_string_length(x)) > SA_LEAD_SHORT_MAX) {
            add(c, loc, "string_too_long", "Signal should have 1 to 100 characters");
            ok = false;
        }
    }
    if (ok)
        lead->signals = v;
}

int sa_lead_parse(json_t *input, const char *loc_prefix, struct sa_lead *lead, json_t *detail)
{
    *lead = (struct sa_lead){
        .employees_min = SA_UNKNOWN, .employees_max = SA_UNKNOWN, .annual_revenue = SA_UNKNOWN};
    struct checker c = {.detail = detail, .prefix = loc_prefix ? loc_prefix : ""};
    size_t before = json_array_size(detail);
    if (!json_is_object(input)) {
        char loc[64];
        snprintf(loc, sizeof loc, "%s", c.prefix);
        sa_detail_add(detail, loc, "dict_type", "Input should be a valid object");
        return SA_EINVAL;
    }
    lead->company_name =
        opt_string(&c, input, "company_name", "company_name", SA_LEAD_NAME_MAX, true);
    lead->industry = opt_string(&c, input, "industry", "industry", SA_LEAD_SHORT_MAX, false);
    parse_size(&c, input, lead);
    parse_revenue(&c, input, lead);
    struct lifted lifted;
    lift_contact(input, &lifted);
    parse_contact(&c, input, lead, &lifted);
    lead->website = opt_string(&c, input, "website", "website", SA_LEAD_URL_MAX, false);
    char host[256];
    if (lead->website && !url_host(lead->website, host, sizeof host)) {
        add(&c, "website", "url_parsing",
            "Value is not a valid URL: expected acme.com or "
            "https://www.acme.com");
        lead->website = NULL;
    }
    lead->country = opt_string(&c, input, "country", "country", SA_LEAD_SHORT_MAX, false);
    lead->notes = opt_string(&c, input, "notes", "notes", SA_LEAD_NOTES_MAX, false);
    /* where the contact is, for meeting times (domain/timezone.h): an IANA zone name, and
     * a state/city for countries with several zones; a zone the system does not know is
     * ignored there, so only its form is checked here */
    const char *tz = opt_string(&c, input, "timezone", "timezone", 63, false);
    if (tz && strspn(tz, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-") !=
                  strlen(tz))
        add(&c, "timezone", "value_error",
            "Value is not a time zone name: expected an IANA name such as America/Los_Angeles");
    (void)opt_string(&c, input, "state", "state", SA_LEAD_SHORT_MAX, false);
    (void)opt_string(&c, input, "city", "city", SA_LEAD_SHORT_MAX, false);
    parse_signals(&c, input, lead);
    if (json_array_size(detail) > before) {
        *lead = (struct sa_lead){0};
        return SA_EINVAL;
    }
    lead->raw = json_incref(input);
    return 0;
}

void sa_lead_clear(struct sa_lead *lead)
{
    json_decref(lead->raw);
    *lead = (struct sa_lead){0};
}
