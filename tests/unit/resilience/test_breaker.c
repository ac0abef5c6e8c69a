/* Pins the circuit breaker: it opens after the threshold of consecutive failures,
 * refuses calls while open, lets a probe through after open_seconds, closes on a good
 * probe and reopens on a bad one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "resilience/breaker.h"

static void test_breaker_cycle(void **state)
{
    (void)state;
    struct sa_breaker b;
    struct sa_breaker_config cfg = {
        .failure_threshold = 3, .open_seconds = 0.02, .half_open_probes = 1};
    sa_breaker_init(&b, "p", &cfg);
    for (int i = 0; i < 2; i++) {
        assert_true(sa_breaker_allow(&b));
        sa_breaker_record(&b, false);
    }
    assert_int_equal(sa_breaker_state(&b), SA_BREAKER_CLOSED);
    assert_true(sa_breaker_allow(&b));
    sa_breaker_record(&b, true); /* a success resets the count */
    for (int i = 0; i < 3; i++) {
        assert_true(sa_breaker_allow(&b));
        sa_breaker_record(&b, false);
    }
    assert_int_equal(sa_breaker_state(&b), SA_BREAKER_OPEN);
    assert_false(sa_breaker_allow(&b));
    usleep(30 * 1000);
    assert_int_equal(sa_breaker_state(&b), SA_BREAKER_HALF_OPEN);
    assert_true(sa_breaker_allow(&b));  /* the probe */
    assert_false(sa_breaker_allow(&b)); /* only one */
    sa_breaker_record(&b, false);
    assert_int_equal(sa_breaker_state(&b), SA_BREAKER_OPEN);
    usleep(30 * 1000);
    assert_true(sa_breaker_allow(&b));
    sa_breaker_record(&b, true);
    assert_int_equal(sa_breaker_state(&b), SA_BREAKER_CLOSED);
    assert_true(b.rejected >= 2);
    assert_string_equal(sa_breaker_state_name(SA_BREAKER_HALF_OPEN), "half_open");
    sa_breaker_destroy(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_breaker_cycle)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
