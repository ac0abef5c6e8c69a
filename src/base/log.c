/* JSON-lines logger with PII masking (see log.h). */
#include "base/log.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"

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

static bool is_local_char(char c)
{
    return isalnum((unsigned char)c) || strchr("._%+-", c) != NULL;
}

static bool is_domain_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '-';
}

static bool is_phone_char(char c)
{
    return isdigit((unsigned char)c) || strchr("+()-. ", c) != NULL;
}

/* Mask e-mails first (a local part may hold digits that look like a phone), into a
 * scratch copy, then phones. A phone is a run of digits and separators holding 7 to 15
 * digits, not glued to letters on either side (so ids and hashes stay readable). */
static size_t mask_emails(const char *in, char *out, size_t cap)
{
    size_t n = strlen(in), o = 0, i = 0;
    while (i < n && o + 1 < cap) {
        if (in[i] == '@' && i > 0 && is_local_char(in[i - 1])) {
            size_t ls = i;
            while (ls > 0 && is_local_char(in[ls - 1]))
                ls--;
            size_t de = i + 1;
            bool dot = false;
            while (de < n && is_domain_char(in[de])) {
                dot |= in[de] == '.';
                de++;
            }
            if (dot && de > i + 1) {
                /* rewind what we copied of the local part and write the mask */
                o -= (i - ls);
                const char *m = "***";
                if (o + 1 < cap)
                    out[o++] = in[ls];
                for (const char *p = m; *p && o + 1 < cap; p++)
                    out[o++] = *p;
                for (size_t k = i; k < de && o + 1 < cap; k++)
                    out[o++] = in[k];
                i = de;
                continue;
            }
        }
        out[o++] = in[i++];
    }
    out[o] = '\0';
    return o;
}

size_t sa_mask_pii(const char *in, char *out, size_t cap)
{
    if (cap == 0)
        return 0;
    size_t n = strlen(in);
    char *tmp = malloc(n + 1);
    if (!tmp) {
        out[0] = '\0';
        return 0;
    }
    size_t tn = mask_emails(in, tmp, n + 1);
    size_t o = 0, i = 0;
    while (i < tn && o + 1 < cap) {
        bool starts = is_phone_char(tmp[i]) &&
                      (isdigit((unsigned char)tmp[i]) || tmp[i] == '+' || tmp[i] == '(');
        if (starts && (i == 0 || !isalnum((unsigned char)tmp[i - 1]))) {
            size_t e = i, digits = 0;
            while (e < tn && is_phone_char(tmp[e])) {
                digits += isdigit((unsigned char)tmp[e]) != 0;
                e++;
            }
            while (e > i && !isdigit((unsigned char)tmp[e - 1]) && tmp[e - 1] != ')')
                e--; /* trailing separators are not part of the number */
            bool glued = e < tn && isalnum((unsigned char)tmp[e]);
            if (digits >= 7 && digits <= 15 && !glued) {
                size_t seen = 0;
                for (size_t k = i; k < e && o + 1 < cap; k++) {
                    char c = tmp[k];
                    if (isdigit((unsigned char)c))
                        c = ++seen + 2 > digits ? c : '*';
                    out[o++] = c;
                }
                i = e;
                continue;
            }
            /* not a phone: copy the run unchanged (at least one byte, to progress) */
            if (e == i)
                e = i + 1;
            for (; i < e && o + 1 < cap; i++)
                out[o++] = tmp[i];
            continue;
        }
        out[o++] = tmp[i++];
    }
    out[o] = '\0';
    free(tmp);
    return o;
}

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
    if (n == 0 || (!strchr(in, '@') && strpbrk(in, "0123456789") == NULL))
        return;
    char small[512];
    char *out = n * 2 + 16 <= sizeof small ? small : malloc(n * 2 + 16);
    if (!out)
        return;
    sa_mask_pii(in, out, n * 2 + 16);
    json_string_set(s, out);
    if (out != small)
        free(out);
}

static void mask_value(json_t *v)
{
    if (json_is_string(v)) {
        mask_string(v);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            if (!key_exempt(k))
                mask_value(x);
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
    mask_value(line);
    char *text = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    if (!text)
        return;
    size_t n = strlen(text);
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
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sa_log(level, msg, NULL);
}
