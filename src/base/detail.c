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

void sa_detail_add(json_t *detail, const char *loc, const char *type, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_array_append_new(detail, json_pack("{s:o, s:s, s:s}", "loc", loc_array(loc), "msg", msg,
                                            "type", type));
}

size_t sa_utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}
