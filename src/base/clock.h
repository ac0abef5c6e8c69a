/* Time: a monotonic clock for measuring, and wall-clock ISO 8601 stamps for records. */
#ifndef SA_BASE_CLOCK_H
#define SA_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

#include "base/err.h"

#define SA_ISO8601_LEN 32

/* Monotonic nanoseconds (CLOCK_MONOTONIC); only differences are meaningful. */
uint64_t sa_now_ns(void);

/* The wall clock. Everything that depends on "now" (slots, follow-ups, sending windows,
 * TTLs, record stamps) reads it here, so tests can move time instead of sleeping:
 *   - sa_clock_set_file(path): now is the ISO 8601 UTC instant written in that file, plus
 *     the time elapsed since the file last changed (re-read when its mtime changes). The
 *     server uses it when CLOCK_FILE is set (a test setting, like faketime's timestamp
 *     file, without LD_PRELOAD).
 *   - sa_clock_set_fixed(t): now is t, frozen (unit tests); 0 goes back to the real clock.
 * Thread-safe. Deadlines for condition waits and sockets stay on CLOCK_REALTIME/MONOTONIC:
 * they measure real waiting, not business time. */
void sa_wall_now(struct timespec *ts);
time_t sa_wall_time(void);
double sa_wall_seconds(void);
/* Returns 0, or -1 when the file cannot be read or holds no ISO 8601 instant (the clock
 * is then unchanged). */
int sa_clock_set_file(const char *path);
void sa_clock_set_fixed(time_t t);

/* Parses "YYYY-MM-DDTHH:MM:SS[.fff](Z|+00:00)" into epoch seconds (fraction kept).
 * Returns 0, or -1 for anything else (other offsets included). */
int sa_iso8601_parse(const char *s, double *out);

/* Writes an epoch time as "2026-11-24T10:15:30Z" (no fraction); out NUL-terminated. */
void sa_iso8601_format(time_t t, char out[SA_ISO8601_LEN]);

/* Writes an epoch time with its fraction as "2026-11-24T10:15:30.123Z" (milliseconds,
 * truncated; negative times as 0), the stores' form; out NUL-terminated. */
void sa_iso8601_format_ms(double t, char out[SA_ISO8601_LEN]);

/* Writes the current UTC time as "2026-11-24T10:15:30.123Z" into out (NUL-terminated). */
void sa_iso8601_now(char out[SA_ISO8601_LEN]);

/* Checks a caller's ISO 8601 UTC time, YYYY-MM-DDTHH:MM:SS[.fraction]Z (a real calendar
 * date; 1 to 9 fraction digits, kept to milliseconds), and writes it to out in the form
 * the stores keep, "2026-12-02T07:10:00.000Z", so stored times compare as text in time
 * order. Returns 0, or SA_EINVAL with err naming the field (what) and out empty. Every
 * store backend checks the times callers pass (API keys, the audit log, cache expiries)
 * with this one function. */
int sa_iso8601_canonical(const char *in, const char *what, char out[SA_ISO8601_LEN],
                         struct sa_err *err) SA_WUR;

/* Nanoseconds to milliseconds as a double, rounded to microseconds. */
double sa_ns_to_ms(uint64_t ns);

#endif
