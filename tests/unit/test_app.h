/* The whole app in process for a unit test: the configuration from the environment, the
 * repository's data/, an in-memory SQLite store and one HTTP thread's worth of pools. The
 * including file has cmocka.h (and its prerequisites) included first. Close it with
 * sa_app_close. */
#ifndef SA_TEST_APP_H
#define SA_TEST_APP_H

#include "app/app.h"
#include "base/config.h"

static inline struct sa_app *test_app_open(void)
{
    struct sa_config cfg;
    struct sa_err err = {0};
    assert_int_equal(sa_config_from_env(&cfg, &err), 0);
    cfg.data_dir = SA_SOURCE_DIR "/data";
    cfg.database_url = "sqlite::memory:";
    cfg.threads = 1;
    struct sa_app *app = NULL;
    if (sa_app_open(&cfg, &app, &err))
        fail_msg("app: %s", err.msg);
    return app;
}

#endif
