/* Contact normalisation (see contact.h). */
#include "domain/contact.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/fold.h"
#include "domain/lead.h"
#include "domain/scoring.h"
#include "domain/timezone.h"

/* Calling codes and whether national numbers start with a trunk "0" to drop. */
static const struct {
    const char *iso, *code;
    int national_digits; /* digits after the trunk prefix: 0 = any 6-12 */
} countries[] = {
    {"US", "1", 10}, {"CA", "1", 10},  {"GB", "44", 0}, {"UK", "44", 0},  {"IE", "353", 0},
    {"DE", "49", 0}, {"FR", "33", 9},  {"NL", "31", 9}, {"BE", "32", 0},  {"ES", "34", 9},
    {"IT", "39", 0}, {"SE", "46", 0},  {"NO", "47", 8}, {"DK", "45", 8},  {"FI", "358", 0},
    {"CH", "41", 9}, {"AT", "43", 0},  {"AU", "61", 9}, {"NZ", "64", 0},  {"IN", "91", 10},
    {"SG", "65", 8}, {"JP", "81", 0},  {"BR", "55", 0}, {"MX", "52", 10}, {"IL", "972", 0},
    {"PL", "48", 9}, {"PT", "351", 9}, {"ZA", "27", 9},
};

bool sa_phone_e164(const char *phone, const char *country, char *out, size_t cap)
{
    char d[32];
    size_t n = 0;
    const char *p = phone;
    while (*p == ' ')
        p++;
    bool plus = *p == '+';
    for (; *p && n + 1 < sizeof d; p++) {
        if (*p == 'x' || *p == 'X' || strncasecmp(p, "ext", 3) == 0)
            break; /* an extension is not part of the number */
        /* "+49 (0)30 ...", "+44 (0)20 ...": the trunk prefix a national call dials, written
         * into the international number; it is not dialled from abroad */
        if ((plus || n) && p[0] == '(' && p[1] == '0' && p[2] == ')') {
            p += 2;
            continue;
        }
        if (isdigit((unsigned char)*p))
            d[n++] = *p;
    }
    d[n] = '\0';
    if (plus || strncmp(d, "00", 2) == 0) {
        const char *num = plus ? d : d + 2;
        size_t len = strlen(num);
        if (len < 8 || len > 15)
            return false;
        snprintf(out, cap, "+%s", num);
        return true;
    }
    const char *iso = sa_country_iso2(country); /* "Germany", "Deutschland", "DEU": DE */
    if (!iso)
        iso = country;
    for (size_t i = 0; iso && i < sizeof countries / sizeof countries[0]; i++) {
        if (strcasecmp(iso, countries[i].iso) != 0)
            continue;
        const char *nat = d;
        size_t cl = strlen(countries[i].code);
        /* a national trunk prefix: 0, or NANP's leading 1 on eleven digits */
        if ((strcmp(countries[i].code, "1") == 0 && n == 11 && d[0] == '1') || d[0] == '0')
            nat = d + 1;
        else if (strncmp(d, countries[i].code, cl) == 0 && n > cl + 6)
            nat = d + cl; /* already has the country code, without + */
        size_t len = strlen(nat);
        if (countries[i].national_digits ? len != (size_t)countries[i].national_digits
                                         : (len < 6 || len > 12))
            return false;
        snprintf(out, cap, "+%s%s", countries[i].code, nat);
        return true;
    }
    return false;
}

bool sa_email_role_account(const char *email)
{
    static const char *const roles[] = {
        "info",    "sales",     "admin",      "support",    "contact",   "hello",     "team",
        "office",  "marketing", "billing",    "noreply",    "no-reply",  "hr",        "jobs",
        "careers", "webmaster", "postmaster", "help",       "enquiries", "inquiries", "accounts",
        "press",   "media",     "legal",      "privacy",    "security",  "kontakt",   "vertrieb",
        "verkauf", "service",   "zentrale",   "buero",      "empfang",   "anfrage",   "contacto",
        "ventas",  "contato",   "vendas",     "commercial", "reception", NULL};
    const char *at = email ? strchr(email, '@') : NULL;
    if (!at)
        return false;
    size_t n = strcspn(email, "+@"); /* sales+emea@: still the sales mailbox */
    for (int i = 0; roles[i]; i++)
        if (strlen(roles[i]) == n && strncasecmp(email, roles[i], n) == 0)
            return true;
    return false;
}

static void host_of(const char *url, char *out, size_t cap)
{
    if (strncasecmp(url, "https://", 8) == 0)
        url += 8;
    else if (strncasecmp(url, "http://", 7) == 0)
        url += 7;
    if (strncasecmp(url, "www.", 4) == 0)
        url += 4;
    size_t o = 0;
    for (; *url && !strchr("/?#:", *url) && o + 1 < cap; url++)
        out[o++] = (char)tolower((unsigned char)*url);
    out[o] = '\0';
}

const char *sa_lead_domain(const struct sa_lead *l, const struct sa_model *m, char *out, size_t cap)
{
    const char *ed = sa_email_domain(l->contact_email);
    if (ed && !sa_model_free_mail(m, ed)) {
        host_of(ed, out, cap);
        return "email";
    }
    if (l->website) {
        host_of(l->website, out, cap);
        if (out[0])
            return "website";
    }
    out[0] = '\0';
    return NULL;
}

json_t *sa_contact_check(const struct sa_lead *l, const struct sa_model *m, const char *country)
{
    json_t *out = json_object();
    const char *ed = sa_email_domain(l->contact_email);
    json_object_set_new(out, "email",
                        l->contact_email
                            ? json_pack("{s:s, s:b, s:s, s:b, s:b}", "value", l->contact_email,
                                        "valid", 1, "domain", ed, "free_mail",
                                        sa_model_free_mail(m, ed), "role_account",
                                        sa_email_role_account(l->contact_email))
                            : json_null());
    char e164[24];
    json_object_set_new(out, "phone",
                        l->contact_phone
                            ? json_pack("{s:s, s:o}", "value", l->contact_phone, "e164",
                                        sa_phone_e164(l->contact_phone, country, e164, sizeof e164)
                                            ? json_string(e164)
                                            : json_null())
                            : json_null());
    if (l->linkedin_url) {
        /* https://www.linkedin.com/in/slug (no query, no trailing slash) */
        const char *path = strstr(l->linkedin_url, "linkedin.com");
        path = path ? path + strlen("linkedin.com") : "";
        char norm[300];
        size_t n = strcspn(path, "?#");
        while (n > 0 && path[n - 1] == '/')
            n--;
        snprintf(norm, sizeof norm, "https://www.linkedin.com%.*s", (int)n, path);
        const char *kind = strncmp(path, "/in/", 4) == 0        ? "profile"
                           : strncmp(path, "/company/", 9) == 0 ? "company"
                                                                : "other";
        json_object_set_new(out, "linkedin",
                            json_pack("{s:s, s:s, s:s}", "value", l->linkedin_url, "normalized",
                                      norm, "kind", kind));
    } else {
        json_object_set_new(out, "linkedin", json_null());
    }
    char dom[256];
    const char *src = sa_lead_domain(l, m, dom, sizeof dom);
    json_object_set_new(out, "domain",
                        src ? json_pack("{s:s, s:s}", "value", dom, "source", src) : json_null());
    return out;
}

/* An honorific or academic title (folded, without its dot). */
static bool honorific(const char *w, size_t n)
{
    static const char *const titles[] = {
        "mr",      "mrs", "ms",  "miss", "mx",     "dr",  "prof", "sir",  "madam", "herr",  "frau",
        "hr",      "fr",  "m",   "mme",  "mlle",   "sr",  "sra",  "srta", "sig",   "sigra", "dott",
        "dottssa", "ing", "mag", "dipl", "dr med", "drs", "ir",   "mevr", "dhr"};
    char f[16];
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < sizeof f; i++)
        if (w[i] != '.')
            f[k++] = (char)tolower((unsigned char)w[i]);
    f[k] = '\0';
    for (size_t i = 0; i < sizeof titles / sizeof titles[0]; i++)
        if (strcmp(f, titles[i]) == 0)
            return true;
    return false;
}

/* Whether the word w[0..n) (folded), without its dots, is one of list's. */
static bool word_in(const char *w, size_t n, const char *const *list, size_t count)
{
    char f[16];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (w[i] == '.')
            continue;
        if (k + 1 >= sizeof f)
            return false; /* longer than any word listed */
        f[k++] = w[i];
    }
    f[k] = '\0';
    for (size_t i = 0; i < count; i++)
        if (strcmp(f, list[i]) == 0)
            return true;
    return false;
}

/* A generational or academic suffix written after a name ("Smith, Jr.", "Meyer, PhD"),
 * folded. */
static bool name_suffix(const char *w, size_t n)
{
    static const char *const suffixes[] = {"jr",  "sr",  "ii",  "iii", "iv",   "phd", "md",
                                           "mba", "esq", "msc", "bsc", "dipl", "ma",  "ba"};
    return word_in(w, n, suffixes, sizeof suffixes / sizeof suffixes[0]);
}

/* A word of a company's name ("Acme, Inc.", "Schmidt, Meyer GmbH"), folded. */
static bool company_word(const char *w, size_t n)
{
    static const char *const words[] = {
        "inc",  "llc", "ltd", "gmbh",    "ag",      "kg",       "co",    "corp",    "plc",    "sa",
        "sarl", "bv",  "nv",  "srl",     "spa",     "oy",       "ab",    "llp",     "ug",     "ohg",
        "gbr",  "sas", "pty", "limited", "partner", "partners", "group", "holding", "company"};
    return word_in(w, n, words, sizeof words / sizeof words[0]);
}

/* Whether s[0..n) (folded) reads as part of a person's name: one to four words of
 * letters (any non-ASCII letter), hyphens, apostrophes and initials' dots, none of them a
 * company word; with need_name, at least one word that is not a title or a suffix. */
static bool name_part(const char *s, size_t n, bool need_name)
{
    size_t words = 0;
    bool named = false;
    for (size_t i = 0; i < n;) {
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        size_t j = i;
        while (j < n && s[j] != ' ' && s[j] != '\t') {
            unsigned char c = (unsigned char)s[j];
            if (!(c >= 0x80 || (c >= 'a' && c <= 'z') || c == '-' || c == '\'' || c == '.'))
                return false; /* a digit, "&", "/", "(": not a person's name */
            j++;
        }
        if (j == i)
            break;
        if (company_word(s + i, j - i) || ++words > 4)
            return false;
        named |= !honorific(s + i, j - i) && !name_suffix(s + i, j - i);
        i = j;
    }
    return words > 0 && (named || !need_name);
}

static bool name_key_words(const char *f, char *out, size_t cap);

bool sa_contact_name_key(const char *name, char *out, size_t cap)
{
    if (cap == 0)
        return false;
    out[0] = '\0';
    size_t len = name ? strlen(name) : 0;
    char *f = len ? malloc(len + 1) : NULL;
    if (!f)
        return len == 0;
    sa_fold(name, len, f);
    /* "Schmidt, Anna" (CRM exports, address books): the given name after one comma is
     * written first, so it is "Anna Schmidt". Only one comma between two parts that read
     * as a person's name: "Schmidt, Anna, Dr.", "Smith, Jr.", "Acme, Inc." and
     * "Schmidt & Partner, Berlin" are left as written. */
    const char *comma = strchr(f, ',');
    bool ok;
    if (comma && !strchr(comma + 1, ',') && name_part(f, (size_t)(comma - f), false) &&
        name_part(comma + 1, strlen(comma + 1), true)) {
        /* each part loses its own leading titles: "Dr. Schmidt, Anna", "Schmidt, Dr. Anna" */
        char *family = strndup(f, (size_t)(comma - f));
        char *rest = family ? malloc(len + 1) : NULL;
        ok = rest && name_key_words(comma + 1, out, cap) && name_key_words(family, rest, len + 1);
        size_t k = strlen(out), r = ok ? strlen(rest) : 0;
        if (ok && k + 1 + r + 1 > cap)
            ok = false;
        else if (ok && r) {
            out[k] = ' ';
            memcpy(out + k + 1, rest, r + 1);
        }
        if (!ok)
            out[0] = '\0';
        free(family);
        free(rest);
    } else {
        ok = name_key_words(f, out, cap);
    }
    free(f);
    return ok;
}

/* sa_contact_name_key on the folded f: blanks collapsed, leading titles dropped. */
static bool name_key_words(const char *f, char *out, size_t cap)
{
    out[0] = '\0';
    size_t k = 0;
    bool lead = true; /* still among the leading titles */
    for (const char *p = f;;) {
        p += strspn(p, " \t");
        size_t n = strcspn(p, " \t");
        if (n == 0)
            break;
        const char *next = p + n;
        /* a title before the name ("Dr.", "Herr"); "M" without its dot is an initial */
        bool title = lead && honorific(p, n) && !(n == 1 && p[0] == 'm') &&
                     next[strspn(next, " \t")] != '\0';
        lead &= title;
        if (!title) {
            if (k + n + 1 >= cap) {
                out[0] = '\0';
                return false;
            }
            if (k)
                out[k++] = ' ';
            memcpy(out + k, p, n);
            k += n;
            out[k] = '\0';
        }
        p = next;
    }
    return true;
}

/* The gender a salutation states (folded, without its dot): 'm', 'f', or 0 for a title
 * that states none (Dr., Prof.) or a word that is no salutation. */
static char salutation_of(const char *w, size_t n)
{
    static const char *const male[] = {"herr", "hr", "mr", "m", "sr", "sig", "dhr", "sir"};
    static const char *const female[] = {"frau", "fr",  "mrs",  "ms",    "miss", "mme",
                                         "mlle", "sra", "srta", "sigra", "mevr", "madam"};
    char f[16];
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < sizeof f; i++)
        if (w[i] != '.')
            f[k++] = w[i];
    f[k] = '\0';
    for (size_t i = 0; i < sizeof male / sizeof male[0]; i++)
        if (strcmp(f, male[i]) == 0)
            return 'm';
    for (size_t i = 0; i < sizeof female / sizeof female[0]; i++)
        if (strcmp(f, female[i]) == 0)
            return 'f';
    return 0;
}

/* The salutation among the leading titles of the folded s (a title before a name, as
 * name_key_words drops it: "M" without its dot is an initial, a title alone no title). */
static char leading_salutation(const char *s)
{
    for (const char *p = s;;) {
        p += strspn(p, " \t");
        size_t n = strcspn(p, " \t,");
        if (n == 0)
            return 0;
        const char *next = p + n;
        if (!honorific(p, n) || (n == 1 && p[0] == 'm') || next[strspn(next, " \t")] == '\0' ||
            *next == ',')
            return 0;
        char g = salutation_of(p, n);
        if (g)
            return g;
        p = next;
    }
}

char sa_contact_salutation(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    char *f = len ? malloc(len + 1) : NULL;
    if (!f)
        return 0;
    sa_fold(name, len, f);
    char g = leading_salutation(f);
    const char *comma = strchr(f, ',');
    if (!g && comma && !strchr(comma + 1, ',')) /* "Müller, Frau Anna" */
        g = leading_salutation(comma + 1);
    free(f);
    return g;
}

char sa_contact_gender(const char *name, const json_t *input)
{
    char g = sa_contact_salutation(name);
    static const char *const columns[] = {"salutation", "anrede", "civilite", "tratamiento"};
    for (size_t i = 0; !g && i < sizeof columns / sizeof columns[0]; i++) {
        const char *v = json_string_value(json_object_get(input, columns[i]));
        if (!v)
            continue;
        char f[32];
        size_t len = strlen(v);
        if (len >= sizeof f)
            continue;
        sa_fold(v, len, f);
        const char *w = f + strspn(f, " \t");
        g = salutation_of(w, strcspn(w, " \t")); /* "Herr", "Mr.", "Frau Dr.": the first word */
    }
    return g;
}

bool sa_contact_same_person_as(const char *a, char ga, const char *b, char gb)
{
    char ka[512], kb[512];
    if (!sa_contact_name_key(a, ka, sizeof ka))
        snprintf(ka, sizeof ka, "%s", a ? a : "");
    if (!sa_contact_name_key(b, kb, sizeof kb))
        snprintf(kb, sizeof kb, "%s", b ? b : "");
    return strcmp(ka, kb) == 0 && (!ga || !gb || ga == gb);
}

bool sa_contact_same_person(const char *a, const char *b)
{
    char ka[512], kb[512];
    if (!sa_contact_name_key(a, ka, sizeof ka))
        snprintf(ka, sizeof ka, "%s", a ? a : "");
    if (!sa_contact_name_key(b, kb, sizeof kb))
        snprintf(kb, sizeof kb, "%s", b ? b : "");
    if (strcmp(ka, kb) != 0)
        return false;
    char ga = sa_contact_salutation(a), gb = sa_contact_salutation(b);
    return !ga || !gb || ga == gb;
}

bool sa_contact_first_name(const char *name, char *out, size_t cap)
{
    if (cap == 0)
        return false;
    out[0] = '\0';
    if (!name)
        return false;
    const char *comma = strchr(name, ',');
    const char *p = comma ? comma + 1 : name; /* "SMITH, John": the given name follows */
    if (comma) { /* unless a suffix follows: "John Smith, Jr." (and "Smith, Jr." has none) */
        const char *w = p + strspn(p, " \t");
        size_t wn = strcspn(w, " \t,");
        char f[16];
        size_t k = 0;
        for (; k < wn && k + 1 < sizeof f; k++)
            f[k] = (char)tolower((unsigned char)w[k]);
        f[k] = '\0';
        if (wn > 0 && wn < sizeof f && name_suffix(f, k)) {
            const char *sp = memchr(name, ' ', (size_t)(comma - name));
            if (!sp)
                return false;
            p = name;
        }
    }
    for (;;) {
        p += strspn(p, " \t");
        size_t n = strcspn(p, " \t,");
        if (n == 0)
            return false;
        if (honorific(p, n)) {
            p += n;
            continue;
        }
        while (n > 0 && strchr(".;:", p[n - 1])) /* trailing punctuation */
            n--;
        if (n < 2 || n + 1 > cap || memchr(p, '.', n)) /* an initial ("J.") or too long */
            return false;
        bool upper = true;
        for (size_t i = 0; i < n; i++)
            upper &= !islower((unsigned char)p[i]);
        for (size_t i = 0; i < n; i++)
            out[i] = upper && i > 0 && (unsigned char)p[i] < 0x80
                         ? (char)tolower((unsigned char)p[i])
                         : p[i];
        out[n] = '\0';
        return true;
    }
}
