/* Monotonic and wall-clock time helpers (see clock.h). */
#include "base/clock.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

uint64_t sa_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void sa_iso8601_now(char out[SA_ISO8601_LEN])
{
    /* The date part is computed once per second per thread: records are stamped on every
     * checkpoint, and gmtime_r + snprintf cost more than the rest of the stamp. */
    static _Thread_local time_t last_sec = -1;
    static _Thread_local char last[24];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != last_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        snprintf(last, sizeof last, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        last_sec = ts.tv_sec;
    }
    long ms = ts.tv_nsec / 1000000L;
    memcpy(out, last, 19);
    out[19] = '.';
    out[20] = (char)('0' + ms / 100);
    out[21] = (char)('0' + ms / 10 % 10);
    out[22] = (char)('0' + ms % 10);
    out[23] = 'Z';
    out[24] = '\0';
}

double sa_ns_to_ms(uint64_t ns)
{
    return round((double)ns / 1000.0) / 1000.0;
}
