/* JSON-lines logger with PII masking (see log.h). */
#include "base/log.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/json.h"

static enum sa_log_level log_min = SA_LOG_INFO;
static int log_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void sa_log_setup(enum sa_log_level min, int fd)
{
    log_min = min;
    log_fd = fd;
}

int sa_log_level_parse(const char *s, enum sa_log_level *out)
{
    for (int i = SA_LOG_DEBUG; i <= SA_LOG_OFF; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum sa_log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = SA_LOG_WARN;
        return 0;
    }
    return SA_EINVAL;
}

int sa_log_enabled(enum sa_log_level level)
{
    return level >= log_min && level < SA_LOG_OFF;
}

/* ---- masking ----------------------------------------------------------------------- */

/* Masking runs in two passes over a string: e-mail addresses first (a local part may
 * hold digits that look like a phone number), into a scratch copy, then phone numbers.
 *
 * An e-mail address is a local part, '@' and a domain with at least one dot. The local
 * part is RFC 5322's: the longest run of atext and dots before the '@', and quoted
 * strings ("john doe") joined by dots. It is masked whole, keeping its first character
 * when that is a letter or digit: o'brien@x.com becomes o***@x.com and "john doe"@x.com
 * becomes ***@x.com. '/' is atext too, so a run that starts with '/' is read as a URL
 * path whose last segment is the address: /api/leads/jane@x.com becomes
 * /api/leads/j***@x.com, the path staying readable (an address that itself starts with
 * '/' would keep what precedes its last '/'; a run not starting with '/' is masked
 * whole, so a/b@x.com becomes a***@x.com). '=', '?' and '&' are atext as well: in
 * /api/leads?email=jane@x.com everything after the last '/' is masked, too much
 * rather than too little. The '@' may be percent-encoded ("%40"): a path escaped twice
 * reaches the request log decoded once, so /api/contacts/jane%2540x.com is logged as
 * /api/contacts/j***%40x.com.
 *
 * A phone number is read as a sequence of "chains": a chain is a maximal run of words
 * (letters, digits, '_') joined by single '-' or '.', so a UUID, a hex id, a slug, a
 * version or "2026-12-02T07" is one chain, and a chain holding any letter or '_' is an
 * id, never part of a number. A phone number is one or more all-digit chains separated
 * by at most three of " ()-." (so "+49 30 1234567", "(415) 555-0123", "415.555.0123",
 * "0049 (0)30 12345678"), 7 to 15 digits in all. Some all-digit chains are not numbers
 * anyone dials and break a run: a date (2026-12-02, 02.12.2026), a decimal (1234.5678),
 * an IPv4 address and a UUID. Every digit but the last two becomes '*'; a run of 7 to 15
 * bare digits is masked too (it may be a phone number; ids in fields named *_id are not
 * masked at all). */

#define LOCAL_MAX 64 /* RFC 5321's limit on a local part: bounds the quoted-string scan */

static bool is_word(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static bool is_atext(char c)
{
    return c != '\0' && (isalnum((unsigned char)c) || strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static bool is_label_char(char c)
{
    return isalnum((unsigned char)c) || c == '-';
}

/* The index of the '"' opening the quoted string that closes at s[close], not before
 * floor, or SIZE_MAX when there is none within LOCAL_MAX bytes. */
static size_t quoted_start(const char *s, size_t close, size_t floor)
{
    for (size_t k = close; k > floor && close - k < LOCAL_MAX;) {
        k--;
        if (s[k] != '"')
            continue;
        size_t bs = 0; /* an escaped quote (\") is part of the string */
        while (k - bs > floor && s[k - bs - 1] == '\\')
            bs++;
        if (bs % 2 == 0)
            return k;
    }
    return SIZE_MAX;
}

/* Where the local part ending at s[at] ('@') starts, not before floor; at when none. */
static size_t local_start(const char *s, size_t at, size_t floor)
{
    size_t ls = at;
    bool quoted_ok = true; /* a quoted string may end at the '@' or before a dot */
    while (ls > floor) {
        char c = s[ls - 1];
        if (is_atext(c) || c == '.') {
            quoted_ok = c == '.';
            ls--;
        } else if (c == '"' && quoted_ok && ls - 1 > floor) {
            size_t q = quoted_start(s, ls - 1, floor);
            if (q == SIZE_MAX)
                break;
            ls = q;
            if (ls == floor || s[ls - 1] != '.')
                break; /* only a dot joins more local part before a quoted string */
        } else {
            break;
        }
    }
    return ls;
}

/* The end of the domain starting at s[from]: labels joined by single dots, at least two
 * of them; from when there is no such domain. */
static size_t domain_end(const char *s, size_t from, size_t n)
{
    size_t e = from, labels = 0;
    while (e < n && is_label_char(s[e])) {
        size_t l = e;
        while (l < n && is_label_char(s[l]))
            l++;
        labels++;
        e = l;
        if (!(e + 1 < n && s[e] == '.' && is_label_char(s[e + 1])))
            break;
        e++; /* the dot, followed by another label */
    }
    return labels >= 2 ? e : from;
}

/* The length of the '@' at s[i]: 1, or 3 for "%40" (an address in a URL escaped once
 * more than the request log decodes, or in a query string); 0 when there is none. */
static size_t at_sign(const char *s, size_t i, size_t n)
{
    if (s[i] == '@')
        return 1;
    if (s[i] == '%' && i + 2 < n && s[i + 1] == '4' && s[i + 2] == '0')
        return 3;
    return 0;
}

/* Pass one: e-mail addresses. out has room for every address to grow by 3 bytes
 * ("a@b.c" becomes "a***@b.c"): 2 * n + 16 is enough. */
static size_t mask_emails(const char *in, size_t n, char *out)
{
    size_t o = 0, floor = 0; /* floor: nothing before it may be rewritten */
    for (size_t i = 0; i < n;) {
        size_t at = at_sign(in, i, n);
        if (at) {
            size_t ls = local_start(in, i, floor), de = domain_end(in, i + at, n);
            if (ls < i && in[ls] == '/') /* a path: its segments stay, the last is the address */
                ls = (size_t)((const char *)memrchr(in + ls, '/', i - ls) - in) + 1;
            if (ls < i && de > i + at) {
                o -= i - ls; /* take back the local part copied already */
                if (isalnum((unsigned char)in[ls]))
                    out[o++] = in[ls];
                for (int k = 0; k < 3; k++)
                    out[o++] = '*';
                memcpy(out + o, in + i, de - i);
                o += de - i;
                i = floor = de;
                continue;
            }
        }
        out[o++] = in[i++];
    }
    return o;
}

/* The end of the chain starting at s[i]: words joined by single '-' or '.'. */
static size_t chain_end(const char *s, size_t i, size_t n)
{
    for (;;) {
        while (i < n && is_word(s[i]))
            i++;
        if (i + 1 < n && (s[i] == '-' || s[i] == '.') && is_word(s[i + 1]))
            i++;
        else
            return i;
    }
}

/* The digits of a chain in groups (split at '-' and '.'): at most 8 recorded. */
struct groups {
    size_t len[8];
    int n, dots, dashes;
    bool letters; /* a letter or '_' */
};

static struct groups chain_groups(const char *s, size_t n)
{
    struct groups g = {.n = 1};
    size_t cur = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '-' || s[i] == '.') {
            g.dots += s[i] == '.';
            g.dashes += s[i] == '-';
            if (g.n <= 8)
                g.len[g.n - 1] = cur;
            g.n++;
            cur = 0;
        } else {
            g.letters |= !isdigit((unsigned char)s[i]);
            cur++;
        }
    }
    if (g.n <= 8)
        g.len[g.n - 1] = cur;
    return g;
}

/* Whether a chain of digits reads as a date: three groups, one of 4 digits (the year)
 * and two of 1 or 2 (2026-12-02, 02.12.2026). */
static bool is_date(const struct groups *g)
{
    if (g->n != 3)
        return false;
    int years = 0, short_groups = 0;
    for (int k = 0; k < 3; k++) {
        years += g->len[k] == 4;
        short_groups += g->len[k] >= 1 && g->len[k] <= 2;
    }
    return years == 1 && short_groups == 2;
}

/* The digits a chain adds to a phone number, or -1 when it cannot be part of one: it
 * holds a letter, or it is a UUID, a date, a decimal or an IPv4 address. */
static int phone_digits(const char *s, size_t n)
{
    struct groups g = chain_groups(s, n);
    if (g.letters || g.n > 8)
        return -1;
    bool uuid = g.n == 5 && g.dashes == 4 && g.len[0] == 8 && g.len[1] == 4 && g.len[2] == 4 &&
                g.len[3] == 4 && g.len[4] == 12;
    bool ipv4 =
        g.n == 4 && g.dots == 3 && g.len[0] <= 3 && g.len[1] <= 3 && g.len[2] <= 3 && g.len[3] <= 3;
    bool decimal = g.n == 2 && g.dots == 1;
    if (uuid || ipv4 || decimal || is_date(&g))
        return -1;
    return (int)(n - (size_t)(g.n - 1));
}

/* Where a phone number starting with the chain s[i..ce) ends (at a chain's end), with
 * *digits its count; ce and the chain's own digits when no other chain joins. */
static size_t phone_end(const char *s, size_t i, size_t ce, size_t n, int *digits)
{
    size_t end = ce;
    *digits = phone_digits(s + i, ce - i);
    for (;;) {
        size_t j = end;
        while (j < n && j - end < 3 && strchr(" ()-.", s[j]) && s[j] != '\0')
            j++;
        if (j == end || j >= n || !is_word(s[j]))
            return end;
        size_t next = chain_end(s, j, n);
        int d = phone_digits(s + j, next - j);
        if (d < 0 || *digits + d > 15)
            return end;
        *digits += d;
        end = next;
    }
}

/* Pass two: phone numbers, from in (n bytes) to out (at most cap - 1 bytes). */
static size_t mask_phones(const char *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap;) {
        if (!is_word(in[i])) {
            out[o++] = in[i++];
            continue;
        }
        size_t ce = chain_end(in, i, n), end = ce;
        int digits = -1;
        if (phone_digits(in + i, ce - i) >= 0)
            end = phone_end(in, i, ce, n, &digits);
        if (digits >= 7 && digits <= 15) {
            int seen = 0;
            for (; i < end && o + 1 < cap; i++) {
                bool digit = isdigit((unsigned char)in[i]);
                seen += digit;
                out[o++] = digit && seen <= digits - 2 ? '*' : in[i];
            }
        }
        for (; i < ce && o + 1 < cap; i++) /* not a phone number: the chain as it is */
            out[o++] = in[i];
    }
    out[o] = '\0';
    return o;
}

static bool is_b64url(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_';
}

/* API keys ("sa_" + 16 hex + "_" + 43 base64url: auth/apikey.h) keep their public id and
 * lose the secret, in place: a key pasted into a path or a message never reaches the log. */
static size_t mask_keys(char *s, size_t n)
{
    size_t o = 0, i = 0;
    while (i < n) {
        bool key = i + 63 <= n && strncmp(s + i, "sa_", 3) == 0 && (i == 0 || !is_b64url(s[i - 1])) &&
                   s[i + 19] == '_' && (i + 63 == n || !is_b64url(s[i + 63]));
        for (size_t k = 3; key && k < 19; k++)
            key = isxdigit((unsigned char)s[i + k]) != 0;
        for (size_t k = 20; key && k < 63; k++)
            key = is_b64url(s[i + k]);
        if (key) {
            memmove(s + o, s + i, 20);
            memcpy(s + o + 20, "***", 3);
            o += 23;
            i += 63;
            continue;
        }
        /* an unsubscribe link's token: the address (base64) and a working opt-out */
        static const char unsub[] = "/unsubscribe/";
        if (i + sizeof unsub - 1 < n && strncmp(s + i, unsub, sizeof unsub - 1) == 0) {
            memmove(s + o, s + i, sizeof unsub - 1);
            o += sizeof unsub - 1;
            i += sizeof unsub - 1;
            size_t j = i;
            while (j < n && (is_b64url(s[j]) || s[j] == '.' || s[j] == '%'))
                j++;
            if (j - i >= 3) { /* never longer than what it replaces: masked in place */
                memcpy(s + o, "***", 3);
                o += 3;
                i = j;
            }
            continue;
        }
        s[o++] = s[i++];
    }
    s[o] = '\0';
    return o;
}

/* sa_mask_pii for n bytes (which may hold NULs). */
static size_t mask_pii(const char *in, size_t n, char *out, size_t cap)
{
    if (cap == 0)
        return 0;
    char *tmp = calloc(2 * n + 16, 1); /* zeroed: the analyser cannot see pass one fill it */
    if (!tmp) {
        out[0] = '\0';
        return 0;
    }
    size_t tn = mask_keys(tmp, mask_emails(in, n, tmp));
    size_t o = mask_phones(tmp, tn, out, cap);
    free(tmp);
    return o;
}

size_t sa_mask_pii(const char *in, char *out, size_t cap)
{
    return mask_pii(in, strlen(in), out, cap);
}

/* Fields whose values are secrets: replaced whole, whatever they hold. */
static bool key_secret(const char *key)
{
    static const char *const names[] = {"authorization", "x-api-key", "api_key",
                                        "token",         "secret",    "password"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(key, names[i]) == 0)
            return true;
    return false;
}

/* Fields never masked: the time stamp and ids (*_id), which logs are correlated by. */
static bool key_exempt(const char *key)
{
    size_t n = strlen(key);
    return strcmp(key, "ts") == 0 || (n >= 3 && strcmp(key + n - 3, "_id") == 0);
}

static void mask_value(json_t *v);

static void mask_string(json_t *s)
{
    const char *in = json_string_value(s);
    size_t n = json_string_length(s);
    bool candidate = memchr(in, '@', n) != NULL;
    for (size_t i = 0; !candidate && i < n; i++)
        candidate = isdigit((unsigned char)in[i]);
    if (!candidate)
        return;
    size_t cap = 2 * n + 16; /* masking never grows a string by more */
    char *out = malloc(cap);
    size_t len = out ? mask_pii(in, n, out, cap) : 0;
    /* never leave the unmasked text behind: if it cannot be replaced, say so instead */
    if (!out || json_string_setn(s, out, len))
        json_string_set(s, "[unmaskable]");
    free(out);
}

static void mask_value(json_t *v)
{
    if (json_is_string(v)) {
        mask_string(v);
    } else if (json_is_object(v)) {
        for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
            const char *k = json_object_iter_key(it);
            if (key_secret(k))
                json_object_iter_set_new(v, it, json_string("[redacted]"));
            else if (!key_exempt(k))
                mask_value(json_object_iter_value(it));
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) mask_value(x);
    }
}

void sa_log(enum sa_log_level level, const char *msg, json_t *fields)
{
    if (!sa_log_enabled(level)) {
        json_decref(fields);
        return;
    }
    char ts[SA_ISO8601_LEN];
    sa_iso8601_now(ts);
    json_t *line = json_object();
    json_object_set_new(line, "ts", json_string(ts));
    json_object_set_new(line, "level", json_string(level_names[level]));
    json_object_set_new(line, "msg", json_string(msg));
    if (fields)
        json_object_update(line, fields);
    json_decref(fields);
    /* Masked on a copy: fields may hold values the caller still uses (a reply's body, a
     * request's headers), and masking rewrites strings and replaces secrets in place. */
    json_t *masked = json_deep_copy(line);
    json_decref(line);
    if (!masked)
        return;
    mask_value(masked);
    size_t n = 0;
    char *text = sa_json_dumps(masked, 0, &n);
    json_decref(masked);
    if (!text)
        return;
    text[n] = '\n'; /* replace the NUL: we write exactly n + 1 bytes */
    const char *p = text;
    size_t left = n + 1;
    while (left > 0) {
        ssize_t w = write(log_fd, p, left);
        if (w <= 0)
            break;
        p += w;
        left -= (size_t)w;
    }
    free(text);
}

void sa_logf(enum sa_log_level level, const char *fmt, ...)
{
    if (!sa_log_enabled(level))
        return;
    /* sized to the message, so a long one (a path, a query) is never cut */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *msg = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!msg)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sa_log(level, msg, NULL);
    free(msg);
}
