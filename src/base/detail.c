/* Validation detail lists (see detail.h). */
#include "base/detail.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *loc_array(const char *loc)
{
    json_t *arr = json_array();
    const char *p = loc;
    while (p && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        bool digits = n > 0 && n < 10;
        for (size_t i = 0; i < n && digits; i++)
            digits = isdigit((unsigned char)p[i]) != 0;
        if (digits)
            json_array_append_new(arr, json_integer(strtol(p, NULL, 10)));
        else
            json_array_append_new(arr, json_stringn(p, n));
        p = dot ? dot + 1 : NULL;
    }
    return arr;
}

/* Length of the well-formed UTF-8 sequence at p (1-4), or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *p)
{
    unsigned c = p[0];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || (n == 2 && c < 0xC2) || (n == 4 && c > 0xF4))
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if (n == 3) {
        unsigned cp = ((c & 0x0F) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
        if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
    }
    if (n == 4) {
        unsigned cp = ((c & 0x07) << 18) | ((p[1] & 0x3Fu) << 12);
        if (cp < 0x10000 || cp > 0x10FFFF)
            return 0;
    }
    return n;
}

/* True when p holds only the first bytes of a multi-byte sequence, up to the string's
 * end: what a byte-length cut ("%.100s") leaves of the last character. */
static bool cut_at_end(const unsigned char *p)
{
    unsigned c = p[0];
    size_t n = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    size_t have = 1;
    while (have < n && p[have] && (p[have] & 0xC0) == 0x80)
        have++;
    return n > 0 && have < n && p[have] == '\0';
}

char *sa_utf8_sanitize(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        size_t n = utf8_seq(p);
        if (n == 0 && cut_at_end(p)) {
            *p = '\0';
            break;
        }
        if (n == 0) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
    return s;
}

char *sa_utf8_sanitize_all(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        size_t n = utf8_seq(p);
        if (n == 0)
            *p++ = '?';
        else
            p += n;
    }
    return s;
}

void sa_detail_add(json_t *detail, const char *loc, const char *type, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sa_utf8_sanitize(msg);
    char loc_copy[256];
    snprintf(loc_copy, sizeof loc_copy, "%s", loc);
    sa_utf8_sanitize(loc_copy);
    json_t *e = json_pack("{s:o, s:s, s:s}", "loc", loc_array(loc_copy), "msg", msg, "type", type);
    /* An entry must never be lost: callers count entries to decide validity. */
    json_array_append_new(detail, e ? e
                                    : json_pack("{s:[], s:s, s:s}", "loc", "msg", "invalid value",
                                                "type", "value_error"));
}

int sa_utf8_cut(const char *s, int max)
{
    size_t n = strnlen(s, (size_t)max);
    if (n < (size_t)max)
        return (int)n;
    /* s[n] exists: step back while it continues the character before it */
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return (int)n;
}

size_t sa_utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}
