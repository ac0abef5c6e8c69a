/* Pins the capped buffer's contract: appends grow it, the cap is a hard limit that leaves
 * the buffer unchanged, and steal hands over a NUL-terminated string. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"

static void test_append_and_printf(void **state)
{
    (void)state;
    struct sa_buf b;
    sa_buf_init(&b, 1 << 20);
    assert_int_equal(sa_buf_puts(&b, "hello"), 0);
    assert_int_equal(sa_buf_printf(&b, " %d %s", 42, "x"), 0);
    assert_string_equal(b.data, "hello 42 x");
    char big[1000];
    memset(big, 'a', sizeof big);
    assert_int_equal(sa_buf_append(&b, big, sizeof big), 0);
    assert_int_equal(b.len, 10 + 1000);
    /* a formatted string longer than the internal scratch */
    assert_int_equal(sa_buf_printf(&b, "%.*s", 600, big), 0);
    assert_int_equal(b.len, 1610);
    sa_buf_free(&b);
}

static void test_cap_is_hard(void **state)
{
    (void)state;
    struct sa_buf b;
    sa_buf_init(&b, 8);
    assert_int_equal(sa_buf_puts(&b, "12345678"), 0);
    assert_int_equal(sa_buf_puts(&b, "9"), SA_ETOOBIG);
    assert_int_equal(sa_buf_printf(&b, "%d", 1), SA_ETOOBIG);
    assert_string_equal(b.data, "12345678");
    size_t len;
    char *s = sa_buf_steal(&b, &len);
    assert_int_equal(len, 8);
    assert_string_equal(s, "12345678");
    assert_null(b.data);
    free(s);
    s = sa_buf_steal(&b, &len);
    assert_string_equal(s, "");
    assert_int_equal(len, 0);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_printf),
        cmocka_unit_test(test_cap_is_hard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
