/* `sales-agent worker`: runs the background work without the HTTP API (the run workers
 * taking runs from the queue, the outbox's delivery worker and, with IMAP_URL, the mailbox
 * poller) until SIGINT or SIGTERM, so workers and API instances scale separately (several
 * instances share the work through REDIS_URL and DATABASE_URL). With WORKER_METRICS_PORT it
 * also serves GET /metrics and GET /health, so Prometheus sees what this process counts. */
#include <signal.h>
#include <stdio.h>

#include "app/app.h"
#include "app/runs.h"
#include "base/log.h"
#include "cli/cli.h"
#include "http/server.h"
#include "store/store.h"

/* The listener's threads: a scrape and a probe at a time; nothing there streams. */
#define METRICS_THREADS 2

/* WORKER_METRICS_PORT: the HTTP server restricted to /metrics and /health, on HOST. *srv
 * stays NULL when the setting is -1. Returns 0, or SA_EIO/SA_ECONFIG with err. The port
 * bound is printed with the start-up line (port 0: the tests read it there). */
static int start_metrics(struct sa_app *app, const struct sa_config *cfg,
                         struct sa_http_server **srv, struct sa_err *err)
{
    *srv = NULL;
    if (cfg->worker_metrics_port < 0)
        return 0;
    int rc = sa_http_start(app, cfg->host, cfg->worker_metrics_port, METRICS_THREADS,
                           SA_HTTP_METRICS_ONLY, srv, err);
    if (rc)
        return rc;
    sa_log(SA_LOG_INFO, "metrics listening",
           json_pack("{s:s, s:i, s:s}", "host", cfg->host, "port", sa_http_port(*srv), "routes",
                     "/metrics /health"));
    return 0;
}

static int work(const struct sa_config *cfg, const struct sa_cli_args *args)
{
    (void)args;
    sigset_t stop;
    sa_cli_block_stop_signals(&stop);
    struct sa_err err = {0};
    struct sa_app *app;
    if (sa_app_open(cfg, &app, &err))
        return sa_cli_fail(&err);
    /* The listener first: a port in use stops the worker before it has claimed a run or an
     * outbox item. */
    struct sa_http_server *srv;
    if (start_metrics(app, cfg, &srv, &err)) {
        sa_app_close(app);
        return sa_cli_fail(&err);
    }
    struct sa_outbox_worker *outbox;
    if (sa_cli_background_start(app, cfg, &outbox, &err)) {
        sa_http_stop(srv);
        sa_app_close(app);
        return sa_cli_fail(&err);
    }
    sa_log(SA_LOG_INFO, "worker started",
           json_pack("{s:i, s:s, s:s, s:b}", "run_workers", cfg->run_workers, "queue",
                     sa_runs_queue_name(app->runs), "database", sa_store_scheme(app->store),
                     "outbox", outbox != NULL));
    printf("sales-agent %s worker: %d run workers on the %s queue; outbox %s. "
           "Stop with SIGTERM or Ctrl-C.\n",
           SA_VERSION, cfg->run_workers, sa_runs_queue_name(app->runs),
           outbox ? "delivering" : "held (OUTBOX_POLL_MS=0)");
    if (srv)
        printf("Metrics: http://%s:%d/metrics (and /health)%s\n", sa_cli_url_host(cfg->host),
               sa_http_port(srv),
               cfg->metrics_access == SA_METRICS_OPEN ? " (METRICS_AUTH=open)"
                                                      : "; send a key with the read scope");
    fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    sa_log(SA_LOG_INFO, "stopping", json_pack("{s:i}", "signal", sig));
    sa_http_stop(srv); /* first: its scrapes read the run queue and the store */
    sa_cli_background_stop(app, outbox);
    return 0;
}

const struct sa_cli_command sa_cli_worker = {
    .name = "worker",
    .args = "",
    .summary = "run queued pipeline runs and deliver the outbox, without the HTTP API",
    .help = "Takes pipeline runs from the run queue and delivers the outbox's mail until\n"
            "SIGINT or SIGTERM, with no HTTP API. With REDIS_URL and a shared\n"
            "DATABASE_URL, any number of workers and API instances (RUN_WORKERS=0 to only\n"
            "queue) share the runs; a run whose worker dies is continued by another from\n"
            "its last checkpoint after RUN_VISIBILITY_TIMEOUT_MS. With IMAP_URL it also\n"
            "polls that mailbox for replies (one process at a time per mailbox).\n"
            "Without REDIS_URL the queue is this process's own: a worker then runs only\n"
            "the runs it finds unfinished in the store at start-up. WORKER_METRICS_PORT\n"
            "(--metrics-port) serves GET /metrics and GET /health on HOST for Prometheus,\n"
            "with serve's access control (METRICS_AUTH, API keys); every other path is 404.",
    .settings = SA_CMD_WORKER,
    .run = work,
};
