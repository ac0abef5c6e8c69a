/* Guarded JSON parsing and data-file loading (see json.h). */
#include "base/json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

int sa_json_depth(const char *p, size_t len, int limit)
{
    int depth = 0, max = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max) {
                max = depth;
                if (max > limit)
                    return max;
            }
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

int sa_json_parse_body(const char *p, size_t len, int max_depth, json_t **out, long *pos,
                       struct sa_err *err)
{
    *out = NULL;
    *pos = -1;
    if (len == 0)
        return sa_err_set(err, SA_EINVAL, "request body is empty; expected a JSON object");
    if (sa_json_depth(p, len, max_depth) > max_depth)
        return sa_err_set(err, SA_EINVAL, "JSON nesting is deeper than %d levels", max_depth);
    json_error_t je;
    json_t *v = json_loadb(p, len, JSON_REJECT_DUPLICATES, &je);
    if (!v) {
        *pos = je.position;
        /* jansson names its own flag there ("without JSON_ALLOW_NUL"): said in our words */
        const char *why = json_error_code(&je) == json_error_null_character
                              ? "a string holds \\u0000 (NUL), which is not allowed"
                              : je.text;
        return sa_err_set(err, SA_EINVAL, "invalid JSON at line %d, column %d: %s", je.line,
                          je.column, why);
    }
    *out = v;
    return 0;
}

int sa_json_load_file(const char *path, json_t **out, struct sa_err *err)
{
    *out = NULL;
    json_error_t je;
    json_t *v = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!v) {
        if (je.line < 0)
            return sa_err_set(err, SA_ECONFIG, "%s: %s", path, je.text);
        return sa_err_set(err, SA_ECONFIG, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    }
    *out = v;
    return 0;
}

const char *sa_json_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* ---- fast compact writer ------------------------------------------------------------ */

/* The writer's text is jansson's, byte for byte (tests/unit/base/test_json.c compares
 * them), so a reply or a stored row reads the same whichever wrote it. It is faster
 * because jansson's dump decodes every character of every string as UTF-8 (its strings
 * are valid UTF-8 already: json_string checks on the way in), passes each run through a
 * callback, and records each container it enters in a hash table keyed by its address
 * printed with snprintf (to refuse cycles, which our values never have). */

/* True when one of the eight bytes of w may need an escape (below 0x20, '"' or '\\'):
 * (x - 0x01...) & ~x & 0x80... is non-zero exactly when a byte of x is zero, and
 * (x - 0x20...) & ~x & 0x80... when one is below 0x20. */
static inline bool word_has_escape(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t quote = w ^ (ones * '"'), slash = w ^ (ones * '\\');
    return (((w - ones * 0x20) & ~w) | ((quote - ones) & ~quote) | ((slash - ones) & ~slash)) &
           high;
}

int sa_json_write_string(struct sa_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF"; /* jansson's "\\u%04X" */
    int rc = sa_buf_append(b, "\"", 1);
    size_t run = 0; /* bytes copied as they are, flushed before each escape */
    for (size_t i = 0; i < len && !rc; i++) {
        uint64_t w;
        while (len - i >= 8 && (memcpy(&w, s + i, 8), !word_has_escape(w)))
            i += 8; /* eight bytes that go out as they are */
        if (i == len)
            break;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rc = sa_buf_append(b, s + run, i - run);
        run = i + 1;
        char esc[7] = {'\\', 0};
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u';
            esc[2] = esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xF];
            n = 6;
        }
        if (!rc)
            rc = sa_buf_append(b, esc, n);
    }
    if (!rc)
        rc = sa_buf_append(b, s + run, len - run);
    return rc ? rc : sa_buf_append(b, "\"", 1);
}

int sa_json_write_int(struct sa_buf *b, long long v)
{
    char tmp[24];
    size_t n = sizeof tmp;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[--n] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--n] = '-';
    return sa_buf_append(b, tmp + n, sizeof tmp - n);
}

/* As jansson's jsonp_dtostr: "%.*g", ".0" when that reads as an integer, and the exponent
 * without its '+' and leading zeros (1e+300 is 1e300, 1e-07 is 1e-7). */
static int write_real(struct sa_buf *b, double d, int precision)
{
    char tmp[64];
    int n = snprintf(tmp, sizeof tmp, "%.*g", precision, d);
    if (n < 0 || (size_t)n >= sizeof tmp - 2)
        return SA_EINVAL;
    size_t len = (size_t)n;
    char *e = memchr(tmp, 'e', len);
    if (!e && !memchr(tmp, '.', len)) {
        memcpy(tmp + len, ".0", 3); /* with its NUL */
        len += 2;
    }
    if (e) {
        char *from = e + 1, *to = e + 1;
        if (*from == '+')
            from++;
        else if (*from == '-')
            from = ++to;
        while (*from == '0' && from[1])
            from++;
        memmove(to, from, (size_t)(tmp + len - from) + 1);
        len -= (size_t)(from - to);
    }
    return sa_buf_append(b, tmp, len);
}

static int write_value(struct sa_buf *b, const json_t *v, int precision)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        int rc = sa_buf_append(b, "{", 1);
        bool first = true;
        const char *key;
        json_t *x;
        json_object_foreach((json_t *)v, key, x)
        {
            if (!rc && !first)
                rc = sa_buf_append(b, ",", 1);
            first = false;
            if (!rc)
                rc = sa_json_write_string(b, key, strlen(key));
            if (!rc)
                rc = sa_buf_append(b, ":", 1);
            if (!rc)
                rc = write_value(b, x, precision);
        }
        return rc ? rc : sa_buf_append(b, "}", 1);
    }
    case JSON_ARRAY: {
        int rc = sa_buf_append(b, "[", 1);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            if (!rc && i)
                rc = sa_buf_append(b, ",", 1);
            if (!rc)
                rc = write_value(b, x, precision);
        }
        return rc ? rc : sa_buf_append(b, "]", 1);
    }
    case JSON_STRING: return sa_json_write_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER: return sa_json_write_int(b, json_integer_value(v));
    case JSON_REAL: return write_real(b, json_real_value(v), precision);
    case JSON_TRUE: return sa_buf_append(b, "true", 4);
    case JSON_FALSE: return sa_buf_append(b, "false", 5);
    default: return sa_buf_append(b, "null", 4);
    }
}

int sa_json_write(struct sa_buf *b, const json_t *v)
{
    return write_value(b, v, 17);
}

char *sa_json_dumps(const json_t *v, int precision, size_t *len)
{
    struct sa_buf b;
    sa_buf_init(&b, SIZE_MAX - 1);
    size_t n = 0;
    char *text = write_value(&b, v, precision > 0 ? precision : 17) ? NULL : sa_buf_steal(&b, &n);
    sa_buf_free(&b);
    if (len)
        *len = text ? n : 0;
    return text;
}
