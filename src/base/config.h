/* Process configuration: defaults, then environment variables, then command-line flags
 * (applied by main.c). Strings point into the environment or argv and are not owned. */
#ifndef SA_BASE_CONFIG_H
#define SA_BASE_CONFIG_H

#include <stddef.h>

#include "base/err.h"
#include "base/log.h"

struct sa_config {
    const char *host;            /* HOST, default 127.0.0.1 */
    int port;                    /* PORT, default 8001 */
    const char *database_url;    /* DATABASE_URL, default sqlite://var/sales-agent.db */
    const char *data_dir;        /* DATA_DIR, default "data" (scoring model, tables) */
    const char *seed_file;       /* SEED_FILE, default none: leads loaded at start-up */
    int threads;                 /* THREADS, default: 2 x the number of CPUs */
    size_t max_body;             /* MAX_BODY_BYTES, default 1 MiB */
    enum sa_log_level log_level; /* LOG_LEVEL, default info */
    double enrichment_ttl;       /* ENRICHMENT_TTL_SECONDS, default 86400 */
    const char *companies_csv;   /* COMPANIES_CSV: the user's own company data, or NULL */
    int breaker_failures;        /* BREAKER_FAILURES: failures that open a breaker, default 5 */
    double breaker_open_seconds; /* BREAKER_OPEN_SECONDS: how long it stays open, default 30 */
};

/* Fills cfg with defaults overridden by the environment. Returns 0, or SA_ECONFIG with
 * err naming the variable and the problem. */
int sa_config_from_env(struct sa_config *cfg, struct sa_err *err) SA_WUR;

/* Parses a decimal integer in [min, max] from the whole of s. Returns 0 or SA_EINVAL. */
int sa_parse_long(const char *s, long min, long max, long *out) SA_WUR;

#endif
