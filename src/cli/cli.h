/* The command line: one struct sa_cli_command per subcommand (cmd_<name>.c), and the
 * shared driver that main.c dispatches to. The driver answers --help from the command's
 * description and the settings table (base/config), builds the configuration (defaults <
 * environment < flags), checks the remaining arguments and runs the command. */
#ifndef SA_CLI_CLI_H
#define SA_CLI_CLI_H

#include <jansson.h>
#include <signal.h>
#include <stdio.h>

#include "base/config.h"
#include "base/err.h"

#define SA_CLI_MAX_ARGS 4

/* One of a command's own options (not a setting): an on/off switch such as --partial. */
struct sa_cli_switch {
    const char *name; /* "--partial" */
    const char *doc;  /* one line for --help */
};

/* One of a command's own options that takes a value: --name NAME or --name=NAME. */
struct sa_cli_option {
    const char *name;    /* "--name" */
    const char *metavar; /* "NAME" */
    const char *doc;     /* one line for --help */
};

#define SA_CLI_MAX_OPTIONS 8

/* What the driver hands a command: its positional arguments, which switches were given
 * and the options' values. Strings are borrowed from argv. */
struct sa_cli_args {
    const char *pos[SA_CLI_MAX_ARGS];    /* nargs of them (the optional ones may be NULL) */
    int npos;                            /* how many were given */
    unsigned switches;                   /* bit i: switches[i] was given */
    const char *opt[SA_CLI_MAX_OPTIONS]; /* options[i]'s value, or NULL */
};

struct sa_cli_command {
    const char *name;    /* "import" */
    const char *args;    /* its positional arguments in the usage line: "FILE.csv", or "" */
    int nargs;           /* how many it takes, at most SA_CLI_MAX_ARGS */
    int optional;        /* how many of the last of them may be left out */
    const char *summary; /* one line for sales-agent --help */
    const char *help;    /* what it does, for its --help (one or more lines) */
    unsigned settings;   /* its SA_CMD_* bit: the settings (and flags) it reads */
    const struct sa_cli_switch *switches; /* terminated by a NULL name; NULL: none */
    const struct sa_cli_option *options;  /* terminated by a NULL name; NULL: none */
    /* Runs the command; returns the process exit status (0 ok, 1 failed). cfg and args
     * are valid for the call. */
    int (*run)(const struct sa_config *cfg, const struct sa_cli_args *args);
};

extern const struct sa_cli_command sa_cli_serve, sa_cli_migrate, sa_cli_qualify, sa_cli_pipeline,
    sa_cli_import, sa_cli_keys;
extern const struct sa_cli_command sa_cli_export, sa_cli_worker;
extern const struct sa_cli_command sa_cli_prune;
extern const struct sa_cli_command sa_cli_inbound; /* inbound mail (issue 15) */
extern const struct sa_cli_command sa_cli_crm; /* CRM sync (issue 15) */

/* Runs cmd with argv[0..argc) (the arguments after the command's name): prints its help
 * for -h or --help (0); builds the configuration; refuses unknown options and a wrong
 * number of arguments (2); sets up the log; then returns cmd->run's status. A bad setting
 * prints the variable or flag and the allowed range on stderr and returns 2. */
int sa_cli_main(const struct sa_cli_command *cmd, int argc, char **argv);

/* Writes `sales-agent --help`: the usage line, the commands (n of them) with their
 * summaries, and the settings every command reads. */
void sa_cli_usage(FILE *out, const struct sa_cli_command *const *cmds, size_t n);

/* Logs and prints err (a start-up failure); returns the exit status: 2 for a configuration
 * or data-file error (SA_ECONFIG), 1 for any other. */
int sa_cli_fail(const struct sa_err *err);

/* Blocks SIGINT and SIGTERM in the calling thread (call it before any thread starts, so
 * that only a later sigwait(stop) sees them) and ignores SIGPIPE; *stop gets the set. */
void sa_cli_block_stop_signals(sigset_t *stop);

/* The background work of `serve` and `worker`: the run workers (RUN_WORKERS, into
 * app->runs) and, unless OUTBOX_POLL_MS=0 holds the mail, the outbox's delivery worker
 * (*outbox; NULL when held). On failure nothing is left running and app stays open. */
struct sa_app;
struct sa_outbox_worker;
int sa_cli_background_start(struct sa_app *app, const struct sa_config *cfg,
                            struct sa_outbox_worker **outbox, struct sa_err *err) SA_WUR;
/* Stops what sa_cli_background_start started, then closes app (and the calendar
 * connectors' shared state). */
void sa_cli_background_stop(struct sa_app *app, struct sa_outbox_worker *outbox);

/* The host of a URL to print for a server bound to HOST=host: "127.0.0.1" for 0.0.0.0,
 * "[::1]" for an IPv6 address, else host itself (borrowed). */
const char *sa_cli_url_host(const char *host);

/* Reads JSON from the file at path, or stdin for "-". Returns a new reference, or NULL
 * after printing the file, line, column and problem on stderr. */
json_t *sa_cli_read_json(const char *path);

#endif
