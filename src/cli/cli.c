/* The command-line driver shared by every subcommand (see cli.h); called by main.c. */
#include "cli/cli.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "app/app.h"
#include "app/imap_poller.h"
#include "app/outbox.h"
#include "app/runs.h"
#include "base/clock.h"
#include "base/log.h"
#include "connectors/calendar/calendar.h"
#include "store/store.h"

/* The settings that every one of `commands` reads: "  PORT, --port N", padded, then the
 * default; the doc and the allowed values below. */
static void print_settings(FILE *out, unsigned commands)
{
    size_t n;
    const struct sa_setting *s = sa_config_settings(&n);
    for (size_t i = 0; i < n; i++) {
        if ((s[i].commands & commands) != commands)
            continue;
        char name[96], range[200];
        if (s[i].flag)
            snprintf(name, sizeof name, "%s, --%s %s", s[i].env, s[i].flag, s[i].metavar);
        else
            snprintf(name, sizeof name, "%s", s[i].env);
        fprintf(out, "  %-38s default: %s\n      %s\n      allowed: %s\n", name,
                sa_setting_default(&s[i]), s[i].doc, sa_setting_range(&s[i], range, sizeof range));
    }
}

static const char settings_intro[] =
    "  (each an environment variable; its flag, when it has one, wins; an empty value\n"
    "  means the default; a bad value stops start-up)\n";

static void print_help(FILE *out, const struct sa_cli_command *cmd)
{
    fprintf(out, "usage: sales-agent %s [options]%s%s\n\n%s\n\noptions:\n", cmd->name,
            *cmd->args ? " " : "", cmd->args, cmd->help);
    for (const struct sa_cli_switch *sw = cmd->switches; sw && sw->name; sw++)
        fprintf(out, "  %-12s %s\n", sw->name, sw->doc);
    for (const struct sa_cli_option *o = cmd->options; o && o->name; o++) {
        char both[64];
        snprintf(both, sizeof both, "%s %s", o->name, o->metavar);
        fprintf(out, "  %-12s %s\n", both, o->doc);
    }
    fprintf(out, "  %-12s %s\n\nsettings it reads:\n%s", "-h, --help", "show this help",
            settings_intro);
    print_settings(out, cmd->settings);
}

void sa_cli_usage(FILE *out, const struct sa_cli_command *const *cmds, size_t n)
{
    fputs("usage: sales-agent <command> [options] [arguments]\n\ncommands:\n", out);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %-10s %s\n", cmds[i]->name, cmds[i]->summary);
    fprintf(out, "  %-10s %s\n\n", "version", "print the version");
    fputs("`sales-agent <command> --help` shows a command's options and every setting it reads.\n"
          "\nsettings every command reads:\n",
          out);
    fputs(settings_intro, out);
    print_settings(out, SA_CMD_ALL);
}

static bool wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    return false;
}

/* Sorts what the settings' flags left into switches and positional arguments. Returns 0,
 * or 2 after saying what is wrong. */
static int sort_args(const struct sa_cli_command *cmd, int argc, char **argv, struct sa_cli_args *a)
{
    *a = (struct sa_cli_args){0};
    int npos = 0;
    bool options = true;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (options && strcmp(arg, "--") == 0) {
            options = false;
            continue;
        }
        if (options && arg[0] == '-' && arg[1] != '\0') { /* "-" alone is stdin */
            const char *eq = strchr(arg, '=');
            size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
            const struct sa_cli_option *o = cmd->options;
            while (o && o->name && !(strlen(o->name) == len && strncmp(arg, o->name, len) == 0))
                o++;
            if (o && o->name) {
                const char *v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
                if (!v) {
                    fprintf(stderr, "sales-agent %s: %s needs a value: %s %s\n", cmd->name, o->name,
                            o->name, o->metavar);
                    return 2;
                }
                a->opt[o - cmd->options] = v;
                continue;
            }
            unsigned bit = 0;
            for (const struct sa_cli_switch *sw = cmd->switches; sw && sw->name && !bit; sw++)
                if (strcmp(arg, sw->name) == 0)
                    bit = 1u << (unsigned)(sw - cmd->switches);
            if (!bit) {
                fprintf(stderr, "sales-agent %s: unknown option %s (see sales-agent %s --help)\n",
                        cmd->name, arg, cmd->name);
                return 2;
            }
            a->switches |= bit;
            continue;
        }
        if (npos == cmd->nargs) {
            npos++;
            break;
        }
        a->pos[npos++] = arg;
    }
    a->npos = npos;
    if (npos > cmd->nargs || npos < cmd->nargs - cmd->optional) {
        fprintf(stderr, "usage: sales-agent %s [options]%s%s (see sales-agent %s --help)\n",
                cmd->name, *cmd->args ? " " : "", cmd->args, cmd->name);
        return 2;
    }
    return 0;
}

int sa_cli_main(const struct sa_cli_command *cmd, int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        print_help(stdout, cmd);
        return 0;
    }
    struct sa_config cfg;
    struct sa_err err = {0};
    if (sa_config_load(&cfg, cmd->settings, &argc, argv, &err)) {
        fprintf(stderr, "sales-agent: %s\n", err.msg);
        return 2;
    }
    struct sa_cli_args a;
    int rc = sort_args(cmd, argc, argv, &a);
    if (rc)
        return rc;
    sa_log_setup(cfg.log_level, 2);
    /* every command that opens a network store (serve, worker, migrate, keys, prune...) */
    sa_store_set_timeouts(cfg.pg_connect_timeout_ms, cfg.pg_statement_timeout_ms);
    /* set only for the commands that read CLOCK_FILE (serve, worker, prune) */
    if (cfg.clock_file && sa_clock_set_file(cfg.clock_file)) {
        sa_err_set(&err, SA_ECONFIG, "CLOCK_FILE %.200s: cannot read an ISO 8601 UTC instant",
                   cfg.clock_file);
        return sa_cli_fail(&err);
    }
    return cmd->run(&cfg, &a);
}

void sa_cli_block_stop_signals(sigset_t *stop)
{
    sigemptyset(stop);
    sigaddset(stop, SIGINT);
    sigaddset(stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, stop, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int sa_cli_background_start(struct sa_app *app, const struct sa_config *cfg,
                            struct sa_outbox_worker **outbox, struct sa_err *err)
{
    *outbox = NULL;
    /* Mail that leaves this machine carries an unsubscribe link the prospect's mail client
     * must reach; the default, http://HOST:PORT, is this host's own address. */
    const char *t = cfg->mail_transport ? cfg->mail_transport : "";
    if ((strncmp(t, "smtp://", 7) == 0 || strncmp(t, "smtps://", 8) == 0) &&
        cfg->outbox_poll_ms != 0 && !(cfg->public_url && *cfg->public_url))
        return sa_err_set(err, SA_ECONFIG,
                          "PUBLIC_URL is required with MAIL_TRANSPORT=smtp(s): every e-mail "
                          "carries an unsubscribe link to this server, and the default "
                          "(http://HOST:PORT) is not an address a prospect can reach");
    int rc = sa_runs_start(app, cfg->run_workers, &app->runs, err);
    /* OUTBOX_POLL_MS=0 holds outgoing mail: items queue up, nothing is sent */
    if (!rc && cfg->outbox_poll_ms != 0 &&
        (rc = sa_outbox_start(app, cfg->mail_transport, cfg->outbox_poll_ms, outbox, err))) {
        sa_runs_stop(app->runs);
        app->runs = NULL;
    }
    /* IMAP_URL: the mailbox poller (app/imap_poller.h), published as app->imap */
    struct sa_imap_poller *imap;
    if (!rc && cfg->imap_url && (rc = sa_imap_poller_start(app, &imap, err))) {
        sa_outbox_stop(*outbox);
        *outbox = NULL;
        sa_runs_stop(app->runs);
        app->runs = NULL;
    }
    return rc;
}

void sa_cli_background_stop(struct sa_app *app, struct sa_outbox_worker *outbox)
{
    sa_imap_poller_stop(app->imap); /* first: it hands messages to the agents */
    sa_runs_stop(app->runs);
    app->runs = NULL;
    sa_outbox_stop(outbox);
    sa_calendar_shutdown();
    sa_app_close(app);
}

int sa_cli_fail(const struct sa_err *err)
{
    sa_log(SA_LOG_ERROR, "start-up failed", json_pack("{s:s}", "error", err->msg));
    fprintf(stderr, "sales-agent: %s\n", err->msg);
    return err->code == SA_ECONFIG ? 2 : 1; /* 2: fix the configuration or the data files */
}

const char *sa_cli_url_host(const char *host)
{
    if (strchr(host, ':'))
        return "[::1]";
    return strcmp(host, "0.0.0.0") == 0 ? "127.0.0.1" : host;
}

json_t *sa_cli_read_json(const char *path)
{
    json_error_t je;
    json_t *j = strcmp(path, "-") == 0 ? json_loadf(stdin, 0, &je) : json_load_file(path, 0, &je);
    if (!j)
        fprintf(stderr, "sales-agent: %s:%d:%d: %s\n", path, je.line, je.column, je.text);
    return j;
}
