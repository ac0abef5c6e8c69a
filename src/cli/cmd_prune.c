/* `sales-agent prune`: one retention pass (app/retention.h) over the database, the
 * checkpoints and the Maildir, printing what it deleted as JSON; for a cron job when the
 * server's own sweep is off (RETENTION_SWEEP_SECONDS=0), or to see what it would delete. */
#include <stdio.h>
#include <stdlib.h>

#include "app/app.h"
#include "app/retention.h"
#include "base/clock.h"
#include "cli/cli.h"

enum { DRY_RUN = 1u << 0 }; /* switches[] below, in order */

static const struct sa_cli_switch switches[] = {
    {"--dry-run", "count what would be deleted, delete nothing"},
    {NULL, NULL},
};

static int prune(const struct sa_config *cfg, const struct sa_cli_args *args)
{
    struct sa_err err = {0};
    struct sa_app *app;
    if (sa_app_open(cfg, &app, &err))
        return sa_cli_fail(&err);
    json_t *counts = NULL;
    int rc =
        sa_retention_run(app, sa_wall_seconds(), 0, (args->switches & DRY_RUN) != 0, &counts, &err);
    sa_app_close(app);
    if (rc)
        return sa_cli_fail(&err);
    char *text = json_dumps(counts, JSON_COMPACT);
    json_decref(counts);
    if (!text) {
        sa_err_set(&err, SA_ENOMEM, "out of memory");
        return sa_cli_fail(&err);
    }
    printf("%s\n", text);
    free(text);
    return 0;
}

const struct sa_cli_command sa_cli_prune = {
    .name = "prune",
    .args = "",
    .summary = "delete what the retention settings allow, print the counts as JSON",
    .help = "Deletes the agent executions older than EXECUTION_RETENTION_SECONDS, the expired\n"
            "enrichment cache entries, the delivered mail in MAIL_TRANSPORT's Maildir older\n"
            "than MAIL_RETENTION_SECONDS, the conversation list's rows of conversations\n"
            "silent longer than SESSION_TTL_SECONDS, and the history of threads finished\n"
            "longer than CHECKPOINT_RETENTION_SECONDS ago (each keeps its final state; a\n"
            "thread waiting for an approval keeps everything), and the Agent Server's thread\n"
            "records untouched as long whose thread holds no checkpoint any more; then\n"
            "truncates SQLite's WAL. Prints {dry_run, executions, enrichment_cache,\n"
            "checkpoint_threads, checkpoints, expired_threads, conversations, thread_records,\n"
            "mail_files}. The server does the same every RETENTION_SWEEP_SECONDS.",
    .settings = SA_CMD_PRUNE,
    .switches = switches,
    .run = prune,
};
