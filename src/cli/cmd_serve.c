/* `sales-agent serve`: opens the application, loads the seed leads, starts the run
 * workers, the outbox's delivery worker and the HTTP server, and stops them in reverse
 * order on SIGINT or SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "app/access.h"
#include "app/app.h"
#include "app/approvals.h"
#include "app/consent.h"
#include "app/retention.h"
#include "app/seed.h"
#include "base/log.h"
#include "cli/cli.h"
#include "http/server.h"
#include "store/store.h"

/* How to call the server, on stdout (the JSON log is on stderr): the URL, and the first
 * admin key of a fresh install (shown this once; never logged) or how to make a key. */
static void print_welcome(const struct sa_config *cfg, int port, const char *key)
{
    const char *host = sa_cli_url_host(cfg->host);
    printf("sales-agent %s is listening on http://%s:%d (API document: /docs)\n", SA_VERSION, host,
           port);
    printf("Web console: http://%s:%d/ (sign in with an API key)\n", host, port);
    if (cfg->auth == SA_AUTH_OFF) {
        printf("AUTH=off: no credentials are asked (loopback only). Try:\n"
               "  curl http://%s:%d/api/agents/status\n",
               host, port);
    } else if (key) {
        printf("No API key existed, so an admin key was created. It is shown only now and "
               "never logged; keep it safe (and sign in to the console with it):\n\n  %s\n\nTry:\n"
               "  curl -H 'Authorization: Bearer %s' http://%s:%d/api/agents/status\n"
               "Make narrower keys with: sales-agent keys create --name NAME --scopes read,write\n",
               key, key, host, port);
    } else {
        printf("Every /api/ route needs a key: curl -H 'Authorization: Bearer KEY' "
               "http://%s:%d/api/agents/status\n"
               "(new key: sales-agent keys create --name NAME --scopes read,write)\n",
               host, port);
    }
    fflush(stdout);
}

static int serve(const struct sa_config *cfg, const struct sa_cli_args *args)
{
    (void)args;
    sigset_t stop;
    sa_cli_block_stop_signals(&stop);
    struct sa_err err = {0};
    struct sa_app *app;
    if (sa_app_open(cfg, &app, &err))
        return sa_cli_fail(&err);
    if (cfg->seed_file) {
        int added, present;
        if (sa_app_seed(app, cfg->seed_file, &added, &present, &err)) {
            sa_app_close(app);
            return sa_cli_fail(&err);
        }
        sa_log(SA_LOG_INFO, "seed leads loaded",
               json_pack("{s:s, s:i, s:i}", "file", cfg->seed_file, "added", added,
                         "already_present", present));
    }
    struct sa_outbox_worker *outbox;
    if (sa_cli_background_start(app, cfg, &outbox, &err)) {
        sa_app_close(app);
        return sa_cli_fail(&err);
    }
    char first_key[128] = "";
    bool created = false;
    if (cfg->auth == SA_AUTH_ON &&
        sa_access_bootstrap(app->access, sa_access_now(app->access), first_key, sizeof first_key,
                            &created, &err)) {
        sa_cli_background_stop(app, outbox);
        return sa_cli_fail(&err);
    }
    int resumed = 0;
    if (sa_app_resume_decided(app, NULL, NULL, &resumed, &err))
        sa_log(SA_LOG_ERROR, "approved runs not resumed", json_pack("{s:s}", "error", err.msg));
    else if (resumed)
        sa_log(SA_LOG_INFO, "approved runs resumed", json_pack("{s:i}", "runs", resumed));
    struct sa_http_server *srv;
    if (sa_http_start(app, cfg->host, cfg->port, cfg->threads, 0, &srv, &err)) {
        sa_cli_background_stop(app, outbox);
        return sa_cli_fail(&err);
    }
    sa_consent_bind(app->consent, sa_http_port(srv)); /* PORT 0: the links' port */
    struct sa_retention *retention = NULL;
    if (sa_retention_start(app, &retention, &err))
        sa_log(SA_LOG_ERROR, "retention sweep not started", json_pack("{s:s}", "error", err.msg));
    sa_log(SA_LOG_INFO, "listening",
           json_pack("{s:s, s:i, s:s, s:i, s:s}", "host", cfg->host, "port", sa_http_port(srv),
                     "database", sa_store_scheme(app->store), "threads", cfg->threads, "version",
                     SA_VERSION));
    print_welcome(cfg, sa_http_port(srv), created ? first_key : NULL);
    explicit_bzero(first_key, sizeof first_key);
    int sig = 0;
    sigwait(&stop, &sig);
    sa_log(SA_LOG_INFO, "stopping", json_pack("{s:i}", "signal", sig));
    sa_http_stop(srv);
    sa_retention_stop(retention);
    sa_cli_background_stop(app, outbox);
    return 0;
}

const struct sa_cli_command sa_cli_serve = {
    .name = "serve",
    .args = "",
    .summary = "start the HTTP API (default port 8001)",
    .help = "Serves the HTTP API until SIGINT or SIGTERM: runs pipelines in the\n"
            "background and delivers the outbox's mail.",
    .settings = SA_CMD_SERVE,
    .run = serve,
};
