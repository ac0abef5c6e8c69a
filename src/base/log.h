/* Structured logging: one JSON object per line on stderr, with e-mail addresses and
 * phone numbers masked in every string value. Thread-safe; each line is one write(2). */
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

/* Writes {"ts","level","msg",...fields}. Takes ownership of fields (may be NULL); string
 * values are masked, except those of "ts" and of keys ending in "_id". */
void sa_log(enum sa_log_level level, const char *msg, json_t *fields);
/* Convenience: sa_log with printf-formatted msg and no fields. */
void sa_logf(enum sa_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Copies in to out (capacity cap, always NUL-terminated) with PII masked:
 * "jane.doe@acme.io" becomes "j***@acme.io" and a phone number such as
 * "+1 (415) 555-0134" keeps only its last two digits ("+* (***) ***-**34").
 * Returns the length written. */
size_t sa_mask_pii(const char *in, char *out, size_t cap);

#endif
