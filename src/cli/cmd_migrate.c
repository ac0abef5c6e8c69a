/* `sales-agent migrate`: creates or upgrades the database schema (opening the
 * application does it), then exits. */
#include <stdio.h>

#include "app/app.h"
#include "cli/cli.h"

static int migrate(const struct sa_config *cfg, const struct sa_cli_args *args)
{
    (void)args;
    struct sa_err err = {0};
    struct sa_app *app;
    if (sa_app_open(cfg, &app, &err))
        return sa_cli_fail(&err);
    printf("database %s is up to date\n", cfg->database_url);
    sa_app_close(app);
    return 0;
}

const struct sa_cli_command sa_cli_migrate = {
    .name = "migrate",
    .args = "",
    .summary = "create or upgrade the database schema, then exit",
    .help = "Creates or upgrades the database schema, then exits.",
    .settings = SA_CMD_MIGRATE,
    .run = migrate,
};
