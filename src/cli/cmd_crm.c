/* `sales-agent crm sync [--since ISO]`: queues the push of every qualified lead (qualified
 * at or after --since) whose current version the CRM has not been sent yet, through the
 * outbox (app/crm_sync.h); a running server's delivery worker (or the next `serve`)
 * pushes them. Prints {provider, seen, queued} as JSON. */
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "app/crm_sync.h"
#include "cli/cli.h"
#include "connectors/crm/crm.h"

enum { OPT_SINCE }; /* options[] below, in order */

static const struct sa_cli_option options[] = {
    {"--since", "ISO", "only leads qualified at or after this time (ISO 8601 UTC)"},
    {NULL, NULL, NULL},
};

static int crm(const struct sa_config *cfg, const struct sa_cli_args *args)
{
    if (strcmp(args->pos[0], "sync") != 0) {
        fprintf(stderr, "sales-agent crm: unknown action %s (try: sales-agent crm sync)\n",
                args->pos[0]);
        return 2;
    }
    struct sa_err err = {0};
    struct sa_app *app;
    if (sa_app_open(cfg, &app, &err))
        return sa_cli_fail(&err);
    int queued = 0, seen = 0;
    int rc = sa_crm_sync_backlog(app, args->opt[OPT_SINCE], &queued, &seen, &err);
    const char *provider = app->crm ? sa_crm_name(app->crm) : "none";
    if (!rc)
        printf("{\"provider\":\"%s\",\"seen\":%d,\"queued\":%d}\n", provider, seen, queued);
    sa_app_close(app);
    if (rc) {
        fprintf(stderr, "sales-agent crm sync: %s\n", err.msg);
        return rc == SA_ECONFIG || rc == SA_EINVAL ? 2 : 1;
    }
    return 0;
}

const struct sa_cli_command sa_cli_crm = {
    .name = "crm",
    .args = "sync",
    .nargs = 1,
    .summary = "queue the CRM push of qualified leads not pushed yet (CRM_PROVIDER)",
    .help = "Queues, through the outbox, the push of every qualified lead with a contact\n"
            "e-mail whose current version (score, tier, reasoning, contact and company) has\n"
            "not been queued yet; the server's delivery worker pushes them to CRM_PROVIDER.\n"
            "Prints {provider, seen, queued}. Exits 2 when CRM_PROVIDER is none.",
    .settings = SA_CMD_CRM,
    .options = options,
    .run = crm,
};
