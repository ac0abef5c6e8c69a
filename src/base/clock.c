/* Monotonic and wall-clock time helpers (see clock.h). */
#include "base/clock.h"

#include <math.h>
#include <stdio.h>
#include <time.h>

uint64_t sa_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void sa_iso8601_now(char out[SA_ISO8601_LEN])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, SA_ISO8601_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             ts.tv_nsec / 1000000L);
}

double sa_ns_to_ms(uint64_t ns)
{
    return round((double)ns / 1000.0) / 1000.0;
}
