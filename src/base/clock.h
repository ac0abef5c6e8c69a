/* Time: a monotonic clock for measuring, and wall-clock ISO 8601 stamps for records. */
#ifndef SA_BASE_CLOCK_H
#define SA_BASE_CLOCK_H

#include <stdint.h>

#define SA_ISO8601_LEN 32

/* Monotonic nanoseconds (CLOCK_MONOTONIC); only differences are meaningful. */
uint64_t sa_now_ns(void);

/* Writes the current UTC time as "2026-11-24T10:15:30.123Z" into out (NUL-terminated). */
void sa_iso8601_now(char out[SA_ISO8601_LEN]);

/* Nanoseconds to milliseconds as a double, rounded to microseconds. */
double sa_ns_to_ms(uint64_t ns);

#endif
