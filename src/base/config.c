/* Configuration from the environment (see config.h). */
#include "base/config.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

int sa_parse_long(const char *s, long min, long max, long *out)
{
    if (!s || !*s)
        return SA_EINVAL;
    errno = 0;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (errno || *end != '\0' || v < min || v > max)
        return SA_EINVAL;
    *out = v;
    return 0;
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

int sa_config_from_env(struct sa_config *cfg, struct sa_err *err)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    *cfg = (struct sa_config){
        .host = env_or("HOST", "127.0.0.1"),
        .port = 8001,
        .database_url = env_or("DATABASE_URL", "sqlite://var/sales-agent.db"),
        .data_dir = env_or("DATA_DIR", "data"),
        .seed_file = env_or("SEED_FILE", NULL),
        /* Two per CPU: while one thread waits on a commit, another parses and scores,
         * and the group commit gets more than one write per transaction. */
        .threads = ncpu > 0 ? 2 * (int)ncpu : 4,
        .max_body = 1024 * 1024,
        .log_level = SA_LOG_INFO,
        .enrichment_ttl = 86400,
        .companies_csv = env_or("COMPANIES_CSV", NULL),
        .breaker_failures = 5,
        .breaker_open_seconds = 30,
    };
    long v;
    const char *s;
    if ((s = env_or("PORT", NULL))) {
        if (sa_parse_long(s, 0, 65535, &v))
            return sa_err_set(err, SA_ECONFIG, "PORT=%s: expected an integer 0-65535 (0: any)", s);
        cfg->port = (int)v;
    }
    if ((s = env_or("THREADS", NULL))) {
        if (sa_parse_long(s, 1, 256, &v))
            return sa_err_set(err, SA_ECONFIG, "THREADS=%s: expected an integer 1-256", s);
        cfg->threads = (int)v;
    }
    if ((s = env_or("MAX_BODY_BYTES", NULL))) {
        if (sa_parse_long(s, 1024, 64L * 1024 * 1024, &v))
            return sa_err_set(err, SA_ECONFIG,
                              "MAX_BODY_BYTES=%s: expected an integer 1024-67108864", s);
        cfg->max_body = (size_t)v;
    }
    if ((s = env_or("ENRICHMENT_TTL_SECONDS", NULL))) {
        if (sa_parse_long(s, 1, 365L * 86400, &v))
            return sa_err_set(err, SA_ECONFIG,
                              "ENRICHMENT_TTL_SECONDS=%s: expected seconds, 1 to 31536000", s);
        cfg->enrichment_ttl = (double)v;
    }
    if ((s = env_or("BREAKER_FAILURES", NULL))) {
        if (sa_parse_long(s, 1, 1000, &v))
            return sa_err_set(err, SA_ECONFIG, "BREAKER_FAILURES=%s: expected 1 to 1000", s);
        cfg->breaker_failures = (int)v;
    }
    if ((s = env_or("BREAKER_OPEN_SECONDS", NULL))) {
        if (sa_parse_long(s, 1, 86400, &v))
            return sa_err_set(err, SA_ECONFIG, "BREAKER_OPEN_SECONDS=%s: expected 1 to 86400", s);
        cfg->breaker_open_seconds = (double)v;
    }
    if ((s = env_or("LOG_LEVEL", NULL)) && sa_log_level_parse(s, &cfg->log_level))
        return sa_err_set(err, SA_ECONFIG, "LOG_LEVEL=%s: expected debug, info, warn, error or off",
                          s);
    return 0;
}
