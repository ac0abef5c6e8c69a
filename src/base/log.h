/* Structured logging: one JSON object per line on stderr, with e-mail addresses and
 * phone numbers masked in every string value and secrets redacted. Thread-safe; each
 * line is one write(2). Nothing is cut: a value is logged whole however long. */
#ifndef SA_BASE_LOG_H
#define SA_BASE_LOG_H

#include <jansson.h>
#include <stddef.h>

enum sa_log_level { SA_LOG_DEBUG, SA_LOG_INFO, SA_LOG_WARN, SA_LOG_ERROR, SA_LOG_OFF };

/* Sets the minimum level written (default INFO) and the file descriptor (default 2). */
void sa_log_setup(enum sa_log_level min, int fd);
/* Parses "debug|info|warn|error|off" (any case). Returns 0 or SA_EINVAL. */
int sa_log_level_parse(const char *s, enum sa_log_level *out);
/* True when a message at this level would be written. */
int sa_log_enabled(enum sa_log_level level);

/* Writes {"ts","level","msg",...fields}. Takes ownership of fields (may be NULL); the
 * values it holds are not changed (the line is masked on a copy), so fields may borrow
 * the caller's. At any depth, the value of a field named authorization, x-api-key,
 * api_key, token, secret or password (ASCII case ignored) becomes "[redacted]" whatever
 * it is; other string values are masked (sa_mask_pii), except those of "ts" and of keys
 * ending in "_id". */
void sa_log(enum sa_log_level level, const char *msg, json_t *fields);
/* Convenience: sa_log with printf-formatted msg (any length) and no fields. */
void sa_logf(enum sa_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Copies in to out (capacity cap, always NUL-terminated; at most cap - 1 bytes written)
 * with PII masked. An e-mail address loses its whole RFC 5322 local part (atext, dots,
 * quoted strings) but a first letter or digit: "jane.doe@acme.io" becomes "j***@acme.io",
 * "o'brien@x.com" "o***@x.com", "\"john doe\"@x.com" "***@x.com"; in a URL path only the
 * last segment is the address ("/api/leads/j***@x.com"). A phone number (7 to 15
 * digits in all-digit groups joined by spaces, parentheses, '-' or '.') keeps only its
 * last two digits: "+1 (415) 555-0134" becomes "+* (***) ***-**34". Ids stay: any group
 * joined by '-' or '.' to letters (UUIDs, hex ids, "2026-12-02T07:10:00Z", "12.5ms"),
 * UUIDs, dates, decimals and IPv4 addresses. 2 * strlen(in) + 16 bytes always suffice.
 * An '@' written "%40" counts too (a path escaped twice is logged decoded once).
 * Returns the length written. See log.c for the exact rules. */
size_t sa_mask_pii(const char *in, char *out, size_t cap);

#endif
