/* sales-agent: the command-line entry point. Parses the subcommand and flags, builds the
 * configuration (defaults < environment < flags) and runs serve, migrate, qualify or
 * version. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "connectors/calendar/calendar.h"
#include "domain/lead.h"
#include "domain/scoring.h"
#include "app/app.h"
#include "app/approvals.h"
#include "app/invoke.h"
#include "app/seed.h"
#include "base/buf.h"
#include "base/config.h"
#include "base/detail.h"
#include "base/json.h"
#include "base/log.h"
#include "http/server.h"
#include "app/import.h"
#include "app/outbox.h"
#include "app/runs.h"
#include "store/store.h"

static const char usage[] =
    "usage: sales-agent <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve      start the HTTP API (default port 8001)\n"
    "  migrate    create or upgrade the database schema, then exit\n"
    "  qualify    score a lead from a JSON file (or - for stdin) and print the result\n"
    "  pipeline   run the agent pipeline on a lead from a JSON file (or -), store it, print it\n"
    "  import     import leads from a CSV file (CRM export columns), qualify and store them\n"
    "             (--partial: import the valid rows and report the others)\n"
    "  version    print the version\n"
    "\n"
    "options (each overrides its environment variable):\n"
    "  --host HOST          address to bind (HOST, default 127.0.0.1)\n"
    "  --port N             port to listen on, 0 for any free one (PORT, default 8001)\n"
    "  --database-url URL   sqlite://PATH or sqlite::memory: (DATABASE_URL,\n"
    "                       default sqlite://var/sales-agent.db)\n"
    "  --data-dir DIR       scoring model and tables (DATA_DIR, default data)\n"
    "  --seed FILE          load these leads at start-up if not stored yet (SEED_FILE)\n"
    "  --threads N          worker threads (THREADS, default: 2 x number of CPUs)\n"
    "  --log-level LEVEL    debug, info, warn, error or off (LOG_LEVEL, default info)\n"
    "  -h, --help           show this help\n";

static bool import_partial;

static int parse_flags(int argc, char **argv, struct sa_config *cfg)
{
    static const struct option opts[] = {{"host", required_argument, NULL, 'H'},
                                         {"port", required_argument, NULL, 'p'},
                                         {"database-url", required_argument, NULL, 'd'},
                                         {"data-dir", required_argument, NULL, 'D'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"log-level", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"partial", no_argument, NULL, 'P'},
                                         {NULL, 0, NULL, 0}};
    int c;
    long v;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'H': cfg->host = optarg; break;
        case 'p':
            if (sa_parse_long(optarg, 0, 65535, &v)) {
                fprintf(stderr, "sales-agent: --port %s: expected an integer 0-65535\n", optarg);
                return 2;
            }
            cfg->port = (int)v;
            break;
        case 'd': cfg->database_url = optarg; break;
        case 'D': cfg->data_dir = optarg; break;
        case 's': cfg->seed_file = optarg; break;
        case 't':
            if (sa_parse_long(optarg, 1, 256, &v)) {
                fprintf(stderr, "sales-agent: --threads %s: expected an integer 1-256\n", optarg);
                return 2;
            }
            cfg->threads = (int)v;
            break;
        case 'l':
            if (sa_log_level_parse(optarg, &cfg->log_level)) {
                fprintf(stderr,
                        "sales-agent: --log-level %s: expected debug, info, warn, "
                        "error or off\n",
                        optarg);
                return 2;
            }
            break;
        case 'h': fputs(usage, stdout); exit(0);
        case 'P': import_partial = true; break;
        default: fputs(usage, stderr); return 2;
        }
    }
    return 0;
}

static int fail(const struct sa_err *err)
{
    sa_log(SA_LOG_ERROR, "start-up failed", json_pack("{s:s}", "error", err->msg));
    fprintf(stderr, "sales-agent: %s\n", err->msg);
    return 1;
}

static int cmd_serve(struct sa_config *cfg)
{
    /* Block the stop signals before any thread starts, so only sigwait sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sa_err err = {0};
    struct sa_app *app;
    if (sa_app_open(cfg, &app, &err))
        return fail(&err);
    if (cfg->seed_file) {
        int added, present;
        if (sa_app_seed(app, cfg->seed_file, &added, &present, &err)) {
            sa_app_close(app);
            return fail(&err);
        }
        sa_log(SA_LOG_INFO, "seed leads loaded",
               json_pack("{s:s, s:i, s:i}", "file", cfg->seed_file, "added", added,
                         "already_present", present));
    }
    if (sa_runs_start(app, 2, &app->runs, &err)) {
        sa_app_close(app);
        return fail(&err);
    }
    struct sa_outbox_worker *outbox = NULL;
    /* OUTBOX_POLL_MS=0 holds outgoing mail: items queue up, nothing is sent */
    if (cfg->outbox_poll_ms != 0 &&
        sa_outbox_start(app, cfg->mail_transport, cfg->outbox_poll_ms, &outbox, &err)) {
        sa_runs_stop(app->runs);
        sa_app_close(app);
        return fail(&err);
    }
    int resumed = 0;
    if (sa_app_resume_decided(app, &resumed, &err))
        sa_log(SA_LOG_ERROR, "approved runs not resumed", json_pack("{s:s}", "error", err.msg));
    else if (resumed)
        sa_log(SA_LOG_INFO, "approved runs resumed", json_pack("{s:i}", "runs", resumed));
    struct sa_http_server *srv;
    if (sa_http_start(app, cfg->host, cfg->port, cfg->threads, &srv, &err)) {
        sa_outbox_stop(outbox);
        sa_runs_stop(app->runs);
        sa_app_close(app);
        return fail(&err);
    }
    sa_log(SA_LOG_INFO, "listening",
           json_pack("{s:s, s:i, s:s, s:i, s:s}", "host", cfg->host, "port", sa_http_port(srv),
                     "database", app->store->ops->scheme, "threads", cfg->threads, "version",
                     SA_VERSION));
    int sig = 0;
    sigwait(&stop, &sig);
    sa_log(SA_LOG_INFO, "stopping", json_pack("{s:i}", "signal", sig));
    sa_http_stop(srv);
    sa_runs_stop(app->runs);
    sa_outbox_stop(outbox);
    sa_calendar_shutdown();
    sa_app_close(app);
    return 0;
}

static int cmd_migrate(struct sa_config *cfg)
{
    struct sa_err err = {0};
    struct sa_app *app;
    if (sa_app_open(cfg, &app, &err))
        return fail(&err);
    printf("database %s is up to date\n", cfg->database_url);
    sa_app_close(app);
    return 0;
}

static int cmd_qualify(struct sa_config *cfg, const char *path)
{
    struct sa_err err = {0};
    struct sa_model *model;
    if (sa_model_load(cfg->data_dir, &model, &err))
        return fail(&err);
    json_error_t je;
    json_t *input =
        strcmp(path, "-") == 0 ? json_loadf(stdin, 0, &je) : json_load_file(path, 0, &je);
    if (!input) {
        fprintf(stderr, "sales-agent: %s:%d:%d: %s\n", path, je.line, je.column, je.text);
        sa_model_free(model);
        return 1;
    }
    json_t *detail = json_array();
    struct sa_lead lead;
    int rc = 1;
    if (sa_lead_parse(input, "", &lead, detail)) {
        char *d = json_dumps(detail, JSON_INDENT(2));
        fprintf(stderr, "sales-agent: invalid lead:\n%s\n", d ? d : "");
        free(d);
    } else {
        struct sa_score s;
        sa_model_score(model, &lead, &s);
        json_t *out = sa_score_to_json(model, &s);
        char *text = json_dumps(out, JSON_INDENT(2));
        puts(text ? text : "{}");
        free(text);
        json_decref(out);
        sa_lead_clear(&lead);
        rc = 0;
    }
    json_decref(detail);
    json_decref(input);
    sa_model_free(model);
    return rc;
}

static void progress_bar(size_t done, size_t total, void *arg)
{
    (void)arg;
    if (total == 0 || (done % 100 != 0 && done != total))
        return;
    int width = 40, filled = (int)((double)done / (double)total * width);
    fprintf(stderr, "\r[%.*s%*s] %3d%% %zu/%zu rows", filled,
            "========================================", width - filled, "",
            (int)(100.0 * (double)done / (double)total), done, total);
    if (done == total)
        fputc('\n', stderr);
}

static int cmd_pipeline(struct sa_config *cfg, const char *path)
{
    json_error_t je;
    json_t *input =
        strcmp(path, "-") == 0 ? json_loadf(stdin, 0, &je) : json_load_file(path, 0, &je);
    if (!input) {
        fprintf(stderr, "sales-agent: %s:%d:%d: %s\n", path, je.line, je.column, je.text);
        return 1;
    }
    json_t *detail = json_array();
    struct sa_lead lead;
    if (sa_lead_parse(input, "", &lead, detail)) {
        char *d = json_dumps(detail, JSON_INDENT(2));
        fprintf(stderr, "sales-agent: invalid lead:\n%s\n", d ? d : "");
        free(d);
        json_decref(detail);
        json_decref(input);
        return 1;
    }
    json_decref(detail);
    struct sa_err err = {0};
    struct sa_app *app;
    int rc = 1;
    if (sa_app_open(cfg, &app, &err)) {
        rc = fail(&err);
    } else {
        struct sa_invoke_req req = {.type = SA_AGENT_PIPELINE, .lead = &lead};
        struct sa_invoke_res res;
        if (sa_app_invoke(app, &req, &res, &err)) {
            fprintf(stderr, "sales-agent: pipeline: %s\n", err.msg);
        } else {
            json_t *out = json_pack("{s:s, s:s, s:O}", "lead_id", res.lead_id, "thread_id",
                                    res.thread_id, "output", res.output);
            char *text = json_dumps(out, JSON_INDENT(2));
            puts(text ? text : "{}");
            free(text);
            json_decref(out);
            sa_invoke_res_clear(&res);
            rc = 0;
        }
        sa_app_close(app);
    }
    sa_lead_clear(&lead);
    json_decref(input);
    return rc;
}

static int cmd_import(struct sa_config *cfg, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "sales-agent: %s: %s\n", path, strerror(errno));
        return 1;
    }
    struct sa_buf b;
    sa_buf_init(&b, (size_t)256 << 20);
    char chunk[65536];
    size_t n;
    int rc = 0;
    while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = sa_buf_append(&b, chunk, n);
    fclose(f);
    if (rc) {
        fprintf(stderr, "sales-agent: %s: too large\n", path);
        sa_buf_free(&b);
        return 1;
    }
    struct sa_err err = {0};
    struct sa_app *app;
    if (sa_app_open(cfg, &app, &err)) {
        sa_buf_free(&b);
        return fail(&err);
    }
    json_t *report = NULL;
    rc = sa_app_import_csv(app, b.data ? b.data : "", b.len, import_partial,
                           isatty(2) ? progress_bar : NULL, NULL, &report, &err);
    sa_buf_free(&b);
    if (report) {
        char *text = json_dumps(report, JSON_INDENT(2));
        puts(text ? text : "{}");
        free(text);
        json_decref(report);
    }
    if (rc)
        fprintf(stderr, "sales-agent: %s: %s\n", path, err.msg);
    sa_app_close(app);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("sales-agent %s\n", SA_VERSION);
        return 0;
    }
    struct sa_config cfg;
    struct sa_err err = {0};
    if (sa_config_from_env(&cfg, &err)) {
        fprintf(stderr, "sales-agent: %s\n", err.msg);
        return 2;
    }
    int rc = parse_flags(argc - 1, argv + 1, &cfg);
    if (rc)
        return rc;
    sa_log_setup(cfg.log_level, 2);
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(&cfg);
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate(&cfg);
    if (strcmp(cmd, "pipeline") == 0) {
        if (optind + 1 >= argc) {
            fprintf(stderr, "usage: sales-agent pipeline LEAD.json (or - for stdin)\n");
            return 2;
        }
        return cmd_pipeline(&cfg, argv[optind + 1]);
    }
    if (strcmp(cmd, "import") == 0) {
        if (optind + 1 >= argc) {
            fprintf(stderr, "usage: sales-agent import FILE.csv [--partial]\n");
            return 2;
        }
        return cmd_import(&cfg, argv[optind + 1]);
    }
    if (strcmp(cmd, "qualify") == 0) {
        if (optind + 1 >= argc) {
            fprintf(stderr, "usage: sales-agent qualify FILE.json (or - for stdin)\n");
            return 2;
        }
        return cmd_qualify(&cfg, argv[optind + 1]);
    }
    fprintf(stderr, "sales-agent: unknown command \"%s\"\n\n%s", cmd, usage);
    return 2;
}
