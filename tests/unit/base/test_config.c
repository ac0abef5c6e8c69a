/* Pins configuration from the environment: defaults, overrides, PORT=0 (any free port),
 * and a clear error naming the variable for a bad value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/config.h"

static void test_env(void **state)
{
    (void)state;
    struct sa_config cfg;
    struct sa_err err = {0};
    unsetenv("PORT");
    unsetenv("DATABASE_URL");
    assert_int_equal(sa_config_from_env(&cfg, &err), 0);
    assert_int_equal(cfg.port, 8001);
    assert_string_equal(cfg.database_url, "sqlite://var/sales-agent.db");
    assert_string_equal(cfg.host, "127.0.0.1");
    assert_true(cfg.max_body == 1024 * 1024);
    setenv("PORT", "0", 1);
    assert_int_equal(sa_config_from_env(&cfg, &err), 0);
    assert_int_equal(cfg.port, 0);
    setenv("PORT", "80x", 1);
    assert_int_equal(sa_config_from_env(&cfg, &err), SA_ECONFIG);
    assert_non_null(strstr(err.msg, "PORT=80x"));
    unsetenv("PORT");
    setenv("LOG_LEVEL", "loud", 1);
    assert_int_equal(sa_config_from_env(&cfg, &err), SA_ECONFIG);
    assert_non_null(strstr(err.msg, "LOG_LEVEL"));
    unsetenv("LOG_LEVEL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_env)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
