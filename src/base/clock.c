/* Monotonic and wall-clock time helpers (see clock.h). */
#include "base/clock.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* 0: real time; 1: fixed; 2: from a file. Read without the lock on the common path. */
static atomic_int clock_mode;
static pthread_mutex_t clock_lock = PTHREAD_MUTEX_INITIALIZER;
static time_t fixed_at;
static char *clock_path;
static struct timespec file_mtime; /* of the file when base was read */
static double file_base;           /* the instant the file holds */
static uint64_t file_read_ns;      /* monotonic time when base was read */

int sa_iso8601_parse(const char *s, double *out)
{
    struct tm tm = {0};
    const char *p = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!p)
        return -1;
    double frac = 0, scale = 0.1;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        for (; isdigit((unsigned char)*p); p++, scale /= 10)
            frac += (*p - '0') * scale;
    }
    if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
        return -1;
    *out = (double)timegm(&tm) + frac;
    return 0;
}

void sa_iso8601_format(time_t t, char out[SA_ISO8601_LEN])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, SA_ISO8601_LEN, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Reads the clock file into base (lock held). */
static int read_clock_file(const char *path, const struct stat *st)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[64] = "";
    bool got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    line[strcspn(line, " \t\r\n")] = '\0';
    double t;
    if (!got || sa_iso8601_parse(line, &t))
        return -1;
    file_base = t;
    file_read_ns = sa_now_ns();
    file_mtime = st->st_mtim;
    return 0;
}

int sa_clock_set_file(const char *path)
{
    struct stat st;
    pthread_mutex_lock(&clock_lock);
    int rc = -1;
    char *copy = path ? strdup(path) : NULL;
    if (copy && stat(path, &st) == 0 && read_clock_file(path, &st) == 0) {
        free(clock_path);
        clock_path = copy;
        copy = NULL;
        atomic_store(&clock_mode, 2);
        rc = 0;
    }
    free(copy);
    pthread_mutex_unlock(&clock_lock);
    return rc;
}

void sa_clock_set_fixed(time_t t)
{
    pthread_mutex_lock(&clock_lock);
    fixed_at = t;
    atomic_store(&clock_mode, t ? 1 : 0);
    pthread_mutex_unlock(&clock_lock);
}

void sa_wall_now(struct timespec *ts)
{
    int mode = atomic_load(&clock_mode);
    if (mode == 0) {
        clock_gettime(CLOCK_REALTIME, ts);
        return;
    }
    pthread_mutex_lock(&clock_lock);
    if (mode == 1) {
        ts->tv_sec = fixed_at;
        ts->tv_nsec = 0;
    } else {
        struct stat st;
        if (stat(clock_path, &st) == 0 &&
            (st.st_mtim.tv_sec != file_mtime.tv_sec || st.st_mtim.tv_nsec != file_mtime.tv_nsec))
            (void)read_clock_file(clock_path, &st); /* unreadable: keep the last instant */
        double t = file_base + (double)(sa_now_ns() - file_read_ns) / 1e9;
        ts->tv_sec = (time_t)floor(t);
        ts->tv_nsec = (long)((t - floor(t)) * 1e9);
    }
    pthread_mutex_unlock(&clock_lock);
}

time_t sa_wall_time(void)
{
    struct timespec ts;
    sa_wall_now(&ts);
    return ts.tv_sec;
}

double sa_wall_seconds(void)
{
    struct timespec ts;
    sa_wall_now(&ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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
    sa_wall_now(&ts);
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

/* n digits at p as a number, or -1 when one is not a digit. */
static int iso_digits(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

int sa_iso8601_canonical(const char *in, const char *what, char out[SA_ISO8601_LEN],
                         struct sa_err *err)
{
    out[0] = '\0';
    size_t n = in ? strlen(in) : 0;
    int y = -1, mo = -1, d = -1, h = -1, mi = -1, sec = -1, ms = 0;
    bool ok = n >= 20 && in[4] == '-' && in[7] == '-' && in[10] == 'T' && in[13] == ':' &&
              in[16] == ':' && in[n - 1] == 'Z';
    if (ok) {
        y = iso_digits(in, 4);
        mo = iso_digits(in + 5, 2);
        d = iso_digits(in + 8, 2);
        h = iso_digits(in + 11, 2);
        mi = iso_digits(in + 14, 2);
        sec = iso_digits(in + 17, 2);
        ok = y >= 0 && mo >= 1 && mo <= 12 && d >= 1 && d <= days_in_month(y, mo) && h >= 0 &&
             h <= 23 && mi >= 0 && mi <= 59 && sec >= 0 && sec <= 59;
    }
    /* then nothing but 'Z', or a fraction of 1 to 9 digits and 'Z' (kept to milliseconds) */
    size_t frac = n > 20 ? n - 21 : 0;
    if (ok && n > 20)
        ok = in[19] == '.' && frac >= 1 && frac <= 9 && iso_digits(in + 20, (int)frac) >= 0;
    for (size_t i = 0; ok && i < 3; i++)
        ms = ms * 10 + (i < frac ? in[20 + i] - '0' : 0);
    if (!ok)
        return sa_err_set(err, SA_EINVAL,
                          "%s: expected an ISO 8601 UTC time like 2026-12-02T07:10:00Z", what);
    snprintf(out, SA_ISO8601_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, mo, d, h, mi, sec, ms);
    return 0;
}

void sa_iso8601_format_ms(double t, char out[SA_ISO8601_LEN])
{
    if (!(t > 0)) /* NaN too */
        t = 0;
    double whole = floor(t);
    time_t sec = (time_t)whole;
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(out, SA_ISO8601_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)((t - whole) * 1000) % 1000);
}
