/* The enrichment providers by name (ENRICHMENT_PROVIDERS): the one table a new vendor adds
 * a row to. Called by the app at start-up; each constructor reads its own settings. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/config.h"
#include "connectors/enrichment/provider.h"

static int open_local(const struct sa_config *cfg, const struct sa_dataset *d,
                      struct sa_metrics *metrics, struct sa_enrich_provider **out,
                      struct sa_err *err)
{
    (void)cfg;
    (void)metrics;
    *out = NULL;
    if (!d) /* no data/companies.csv: skipped, as without the setting */
        return SA_ENOTFOUND;
    return sa_enrich_local_new(d, out, err);
}

static int open_apollo(const struct sa_config *cfg, const struct sa_dataset *d,
                       struct sa_metrics *metrics, struct sa_enrich_provider **out,
                       struct sa_err *err)
{
    (void)d;
    *out = NULL;
    if (!cfg->apollo_api_key || !*cfg->apollo_api_key)
        return sa_err_set(err, SA_ECONFIG,
                          "ENRICHMENT_PROVIDERS names apollo: set APOLLO_API_KEY (README: "
                          "Enrichment providers)");
    struct sa_apollo_config ac = {.base_url = cfg->apollo_base_url,
                                  .api_key = cfg->apollo_api_key,
                                  .timeout_ms = cfg->apollo_timeout_ms,
                                  .max_retries = -1,
                                  .hourly_limit = cfg->apollo_hourly_limit,
                                  .minute_limit = cfg->apollo_minute_limit,
                                  .breaker_failures = cfg->breaker_failures,
                                  .breaker_open_s = cfg->breaker_open_seconds,
                                  .metrics = metrics};
    return sa_enrich_apollo_new(&ac, out, err);
}

static const struct {
    const char *name;
    int (*open)(const struct sa_config *cfg, const struct sa_dataset *d, struct sa_metrics *metrics,
                struct sa_enrich_provider **out, struct sa_err *err);
} table[] = {
    {"local", open_local},
    {"apollo", open_apollo},
};

int sa_enrich_providers_open(const struct sa_config *cfg, const struct sa_dataset *d,
                             struct sa_metrics *metrics, struct sa_enrich_provider **out, int cap,
                             int *n, struct sa_err *err)
{
    *n = 0;
    const char *list = cfg->enrichment_providers ? cfg->enrichment_providers : "local";
    bool used[sizeof table / sizeof table[0]] = {false};
    int rc = 0;
    for (const char *p = list; *p && !rc;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ", ");
        if (!len)
            break;
        size_t i = 0;
        while (i < sizeof table / sizeof table[0] &&
               (strlen(table[i].name) != len || strncmp(table[i].name, p, len) != 0))
            i++;
        if (i == sizeof table / sizeof table[0])
            rc = sa_err_set(err, SA_ECONFIG,
                            "ENRICHMENT_PROVIDERS: unknown provider '%.*s' (known: local, apollo)",
                            (int)(len > 40 ? 40 : len), p);
        else if (used[i])
            rc = sa_err_set(err, SA_ECONFIG, "ENRICHMENT_PROVIDERS names %s twice", table[i].name);
        else if (*n == cap)
            rc = sa_err_set(err, SA_ECONFIG, "ENRICHMENT_PROVIDERS: at most %d providers", cap);
        else if (!(rc = table[i].open(cfg, d, metrics, &out[*n], err))) {
            used[i] = true;
            (*n)++;
        } else if (rc == SA_ENOTFOUND) {
            rc = 0;
        }
        p += len;
    }
    if (rc) {
        while (*n > 0)
            sa_enrich_provider_free(out[--*n]);
    }
    return rc;
}
