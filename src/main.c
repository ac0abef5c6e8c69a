/* sales-agent: the command-line entry point. Picks the subcommand and hands it the rest
 * of the arguments (cli/); `version` and `--help` are answered here. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct sa_cli_command *const commands[] = {
    &sa_cli_serve, &sa_cli_migrate, &sa_cli_qualify, &sa_cli_pipeline, &sa_cli_import, &sa_cli_keys,
    &sa_cli_export, &sa_cli_prune, &sa_cli_worker,
    &sa_cli_inbound, /* inbound mail (issue 15) */
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

int main(int argc, char **argv)
{
    if (argc < 2) {
        sa_cli_usage(stderr, commands, N_COMMANDS);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        sa_cli_usage(stdout, commands, N_COMMANDS);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("sales-agent %s\n", SA_VERSION);
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(cmd, commands[i]->name) == 0)
            return sa_cli_main(commands[i], argc - 2, argv + 2);
    fprintf(stderr, "sales-agent: unknown command \"%s\"\n\n", cmd);
    sa_cli_usage(stderr, commands, N_COMMANDS);
    return 2;
}
