/* `sales-agent migrate`: creates or upgrades the database schema (opening the
 * application does it), then exits. */
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "cli/cli.h"

/* Prints url with the password of its user info (scheme://user:PASSWORD@host/...), if
 * any, as "***": a postgresql:// URL may carry one, and this line goes to a terminal or a
 * deployment log. */
static void print_url(FILE *f, const char *url)
{
    const char *auth = strstr(url, "://");
    if (!auth) {
        fputs(url, f);
        return;
    }
    auth += 3;
    size_t len = strcspn(auth, "/?#"); /* the authority */
    const char *at = memchr(auth, '@', len);
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    /* scheme://[user[:***]@]host[:port][/path], never the query: libpq takes a password
     * as ?password=... too */
    if (colon)
        fprintf(f, "%.*s***", (int)(colon + 1 - url), url);
    else
        fprintf(f, "%.*s", (int)(auth - url), url);
    const char *rest = colon ? at : auth;
    fprintf(f, "%.*s", (int)strcspn(rest, "?#"), rest);
}

static int migrate(const struct sa_config *cfg, const struct sa_cli_args *args)
{
    (void)args;
    struct sa_err err = {0};
    struct sa_app *app;
    if (sa_app_open(cfg, &app, &err))
        return sa_cli_fail(&err);
    fputs("database ", stdout);
    print_url(stdout, cfg->database_url);
    fputs(" is up to date\n", stdout);
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
