/* The wall clock: real by default, fixed for unit tests, or moved by a clock file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/clock.h"

static void test_parse_format(void **state)
{
    (void)state;
    double t;
    assert_int_equal(sa_iso8601_parse("2026-12-04T09:30:00Z", &t), 0);
    assert_true(t == 1796376600.0);
    assert_int_equal(sa_iso8601_parse("2026-12-04T09:30:00.250Z", &t), 0);
    assert_true(t == 1796376600.25);
    assert_int_equal(sa_iso8601_parse("2026-12-04T09:30:00+00:00", &t), 0);
    assert_int_equal(sa_iso8601_parse("2026-12-04T09:30:00+01:00", &t), -1);
    assert_int_equal(sa_iso8601_parse("2026-12-04T09:30:00", &t), -1);
    assert_int_equal(sa_iso8601_parse("2026-12-04T09:30:00.Z", &t), -1);
    assert_int_equal(sa_iso8601_parse("yesterday", &t), -1);
    assert_int_equal(sa_iso8601_parse(NULL, &t), -1);
    char out[SA_ISO8601_LEN];
    sa_iso8601_format(1796376600, out);
    assert_string_equal(out, "2026-12-04T09:30:00Z");
}

static void test_fixed(void **state)
{
    (void)state;
    time_t real = time(NULL);
    sa_clock_set_fixed(1796376600);
    assert_int_equal(sa_wall_time(), 1796376600);
    char stamp[SA_ISO8601_LEN];
    sa_iso8601_now(stamp);
    assert_string_equal(stamp, "2026-12-04T09:30:00.000Z");
    sa_clock_set_fixed(0);
    assert_true(sa_wall_time() >= real);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void test_file(void **state)
{
    (void)state;
    char path[] = "/tmp/sa-clock-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(sa_clock_set_file(path), -1); /* empty: refused, clock unchanged */
    write_file(path, "2027-01-01T00:00:00Z\n");
    assert_int_equal(sa_clock_set_file(path), 0);
    time_t t = sa_wall_time();
    assert_true(t >= 1798761600 && t < 1798761600 + 5);
    /* Moving time: a new instant in the file (a later mtime) is read on the next call. */
    write_file(path, "2027-03-01T12:00:00Z");
    struct timespec times[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = time(NULL) + 10}};
    assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
    t = sa_wall_time();
    assert_true(t >= 1803902400 && t < 1803902400 + 5);
    /* A file that turns unreadable keeps the last instant. */
    write_file(path, "garbage");
    times[1].tv_sec += 10;
    assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
    t = sa_wall_time();
    assert_true(t >= 1803902400 && t < 1803902400 + 5);
    sa_clock_set_fixed(0);
    time_t real = time(NULL);
    t = sa_wall_time();
    assert_true(t >= real && t <= real + 2); /* back on the real clock */
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_format),
        cmocka_unit_test(test_fixed),
        cmocka_unit_test(test_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
