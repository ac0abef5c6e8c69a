/* The template renderer (see template.h): sections, articles, sentence capitals and the
 * whitespace tidy-up. */
#include "domain/template.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <strings.h>

#include "base/buf.h"

#define TEMPLATE_MAX ((size_t)64 << 10)

/* Letters whose English names start with a vowel sound: "an F", "an MBA", "an SDR". */
static bool letter_name_vowel(char c)
{
    return strchr("AEFHILMNORSX", toupper((unsigned char)c)) != NULL;
}

const char *sa_article(const char *text)
{
    const char *w = text ? text : "";
    while (*w && !isalnum((unsigned char)*w))
        w++;
    size_t n = 0; /* the first word: letters and digits */
    while (isalnum((unsigned char)w[n]))
        n++;
    if (n == 0)
        return "a";
    if (isdigit((unsigned char)w[0])) { /* "an 8", "an 11", "an 18", "an 80" */
        size_t digits = strspn(w, "0123456789");
        if (w[0] == '8')
            return "an";
        if ((strncmp(w, "11", 2) == 0 || strncmp(w, "18", 2) == 0) && (digits == 2 || digits == 5))
            return "an";
        return "a";
    }
    bool caps = true; /* an acronym is read letter by letter: "an IT", "a CRM" */
    for (size_t i = 0; i < n; i++)
        caps &= isupper((unsigned char)w[i]) || isdigit((unsigned char)w[i]);
    if (caps && (n > 1 || !strchr("AEIOU", w[0])))
        return letter_name_vowel(w[0]) ? "an" : "a";
    static const char *const silent_h[] = {"hour", "honest", "honor", "honour", "heir"};
    for (size_t i = 0; i < sizeof silent_h / sizeof silent_h[0]; i++)
        if (strncasecmp(w, silent_h[i], strlen(silent_h[i])) == 0)
            return "an";
    /* a vowel letter with a consonant sound: "a user", "a European", "a one-off" */
    static const char *const you[] = {"uni", "use", "usu", "uti", "ura", "uro",
                                      "ubi", "eu",  "ewe", "one", "once"};
    for (size_t i = 0; i < sizeof you / sizeof you[0]; i++)
        if (strncasecmp(w, you[i], strlen(you[i])) == 0)
            return "a";
    return strchr("aeiouAEIOU", w[0]) ? "an" : "a";
}

/* The value of a variable, or NULL when it has none. */
static const char *value_of(const json_t *vars, const char *name, size_t len)
{
    char key[64];
    if (len == 0 || len >= sizeof key)
        return NULL;
    memcpy(key, name, len);
    key[len] = '\0';
    const char *v = json_string_value(json_object_get(vars, key));
    return v && *v ? v : NULL;
}

/* True when text appended to b now would start a sentence. */
static bool sentence_start(const struct sa_buf *b)
{
    size_t i = b->len;
    if (i == 0)
        return true;
    size_t line = i; /* "Subject: " opens a sentence */
    while (line > 0 && b->data[line - 1] != '\n')
        line--;
    const char *l = b->data + line;
    size_t ll = i - line;
    while (ll > 0 && l[ll - 1] == ' ')
        ll--;
    if (ll == 8 && strncmp(l, "Subject:", 8) == 0)
        return true;
    if (b->data[i - 1] == '\n')
        return true;
    if (b->data[i - 1] != ' ')
        return false;
    while (i > 0 && b->data[i - 1] == ' ')
        i--;
    return i == 0 || strchr(".!?\n", b->data[i - 1]) != NULL;
}

/* Appends a value, with a capital when it starts a sentence (never inside a URL or an
 * e-mail address). */
static int put_value(struct sa_buf *b, const char *v)
{
    bool cap =
        islower((unsigned char)v[0]) && sentence_start(b) && !strstr(v, "://") && !strchr(v, '@');
    size_t start = b->len;
    int rc = sa_buf_puts(b, v);
    if (!rc && cap)
        b->data[start] = (char)toupper((unsigned char)b->data[start]);
    return rc;
}

/* Where the section {{/name}} that closes the one opened just before p ends: sets *close
 * to its "{{" and returns the text after its "}}", or NULL when it is never closed. */
static const char *section_end(const char *p, const char *end, const char *name, size_t len,
                               const char **close)
{
    int depth = 1;
    while (p < end) {
        const char *o = strstr(p, "{{");
        if (!o || o >= end)
            return NULL;
        const char *c = strstr(o + 2, "}}");
        if (!c || c >= end)
            return NULL;
        const char *t = o + 2;
        size_t tl = (size_t)(c - t);
        if ((t[0] == '#' || t[0] == '^') && tl - 1 == len && strncmp(t + 1, name, len) == 0)
            depth++;
        else if (t[0] == '/' && tl - 1 == len && strncmp(t + 1, name, len) == 0 && --depth == 0) {
            *close = o;
            return c + 2;
        }
        p = c + 2;
    }
    return NULL;
}

static void note_missing(json_t *missing, const char *name, size_t len)
{
    if (!missing)
        return;
    size_t i;
    json_t *x;
    json_array_foreach(missing, i, x)
    {
        const char *s = json_string_value(x);
        if (strlen(s) == len && strncmp(s, name, len) == 0)
            return;
    }
    json_t *s = json_stringn(name, len);
    json_array_append_new(missing, s ? s : json_string("(a name that is not UTF-8)"));
}

/* Renders [p, end) into b. A variable with no value sets *lacking and is noted in missing
 * (NULL inside a section, whose caller drops it instead). */
static int render_span(const char *p, const char *end, const json_t *vars, struct sa_buf *b,
                       json_t *missing, bool *lacking)
{
    int rc = 0;
    while (!rc && p < end) {
        const char *o = strstr(p, "{{");
        if (!o || o >= end)
            return sa_buf_append(b, p, (size_t)(end - p));
        const char *c = strstr(o + 2, "}}");
        if (!c || c >= end)
            return sa_buf_append(b, p, (size_t)(end - p));
        if ((rc = sa_buf_append(b, p, (size_t)(o - p))))
            return rc;
        const char *t = o + 2;
        size_t tl = (size_t)(c - t);
        p = c + 2;
        if (tl > 1 && (t[0] == '#' || t[0] == '^')) {
            const char *close = NULL;
            const char *after = section_end(p, end, t + 1, tl - 1, &close);
            if (!after) /* unclosed: the tag is text, so the copy test finds it */
                return sa_buf_append(b, o, (size_t)(end - o));
            bool has = value_of(vars, t + 1, tl - 1) != NULL;
            if (has == (t[0] == '#')) {
                size_t mark = b->len;
                bool inner = false;
                rc = render_span(p, close, vars, b, NULL, &inner);
                if (!rc && inner) { /* an optional section lacking a fact: dropped whole */
                    b->len = mark;
                    if (b->data)
                        b->data[mark] = '\0';
                }
            }
            p = after;
            continue;
        }
        if (t[0] == '/') /* a stray close: dropped */
            continue;
        bool art = tl > 2 && t[0] == 'a' && t[1] == ':';
        const char *name = art ? t + 2 : t;
        size_t nl = art ? tl - 2 : tl;
        const char *v = value_of(vars, name, nl);
        if (!v) {
            *lacking = true;
            note_missing(missing, name, nl);
            continue;
        }
        if (art) {
            if (!(rc = put_value(b, sa_article(v))))
                rc = sa_buf_printf(b, " %s", v);
        } else {
            rc = put_value(b, v);
        }
    }
    return rc;
}

/* The whitespace a dropped section leaves: runs of spaces inside a line, a space before a
 * full stop or comma (not before ; : ! ?, which French typography spaces), trailing spaces, more
 * than one blank line, blank lines and spaces at either end. */
static void tidy(char *s)
{
    char *w = s;
    bool line_start = true;
    int newlines = 0;
    for (const char *r = s; *r; r++) {
        char ch = *r;
        if (ch == '\n') {
            while (w > s && w[-1] == ' ')
                w--;
            if (w == s || ++newlines > 2)
                continue;
            *w++ = ch;
            line_start = true;
            continue;
        }
        if (ch == ' ' && !line_start && w > s && w[-1] == ' ')
            continue;
        if ((ch == '.' || ch == ',') && !line_start && w > s && w[-1] == ' ' &&
            (r[1] == '\0' || r[1] == ' ' || r[1] == '\n'))
            while (w > s && w[-1] == ' ')
                w--;
        if (ch != ' ') {
            line_start = false;
            newlines = 0;
        }
        *w++ = ch;
    }
    while (w > s && (w[-1] == ' ' || w[-1] == '\n'))
        w--;
    *w = '\0';
}

int sa_template_check(const char *text, char *why, size_t n)
{
    const char *open[16]; /* the sections open here, innermost last */
    size_t lens[16], depth = 0;
    for (const char *p = text; (p = strstr(p, "{{"));) {
        const char *c = strstr(p + 2, "}}");
        if (!c) {
            snprintf(why, n, "a \"{{\" is never closed by \"}}\"");
            return SA_EINVAL;
        }
        const char *t = p + 2;
        size_t tl = (size_t)(c - t);
        bool sec = tl > 0 && (t[0] == '#' || t[0] == '^' || t[0] == '/');
        const char *name = sec ? t + 1 : tl > 2 && t[0] == 'a' && t[1] == ':' ? t + 2 : t;
        size_t nl = tl - (size_t)(name - t);
        if (nl == 0 || nl >= 64 || memchr(name, '{', nl) || memchr(name, ' ', nl)) {
            snprintf(why, n, "\"%.*s\" is not a variable's name", (int)(tl < 60 ? tl : 60), t);
            return SA_EINVAL;
        }
        if (sec && t[0] != '/') {
            if (depth == sizeof open / sizeof open[0]) {
                snprintf(why, n, "sections nested more than 16 deep");
                return SA_EINVAL;
            }
            open[depth] = name;
            lens[depth++] = nl;
        } else if (sec) {
            if (depth == 0 || lens[depth - 1] != nl || strncmp(open[depth - 1], name, nl) != 0) {
                snprintf(why, n, "{{/%.*s}} closes no open section", (int)nl, name);
                return SA_EINVAL;
            }
            depth--;
        }
        p = c + 2;
    }
    if (depth > 0) {
        snprintf(why, n, "section {{%c%.*s}} is never closed", open[depth - 1][-1],
                 (int)lens[depth - 1], open[depth - 1]);
        return SA_EINVAL;
    }
    return 0;
}

int sa_template_render(const char *text, const json_t *vars, char **out, json_t *missing)
{
    *out = NULL;
    struct sa_buf b;
    sa_buf_init(&b, TEMPLATE_MAX);
    bool lacking = false;
    int rc = render_span(text, text + strlen(text), vars, &b, missing, &lacking);
    if (!rc && lacking)
        rc = SA_EINVAL;
    char *s = rc ? NULL : sa_buf_steal(&b, NULL);
    sa_buf_free(&b);
    if (!rc && !s)
        rc = SA_ENOMEM;
    if (rc)
        return rc;
    tidy(s); /* in place: it only removes */
    *out = s;
    return 0;
}
