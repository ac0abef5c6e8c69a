/* Backend selection from DATABASE_URL (see store.h). */
#include "store/store.h"

#include <stdio.h>
#include <string.h>

static const struct sa_store_ops *const backends[] = {&sa_store_sqlite};

int sa_store_open(const char *url, int pool_size, struct sa_store **out, struct sa_err *err)
{
    *out = NULL;
    const char *colon = strchr(url, ':');
    size_t n = colon ? (size_t)(colon - url) : 0;
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
        const char *scheme = backends[i]->scheme;
        if (colon && strlen(scheme) == n && strncmp(url, scheme, n) == 0) {
            const char *rest = colon + 1;
            if (strncmp(rest, "//", 2) == 0)
                rest += 2;
            return backends[i]->open(rest, pool_size, out, err);
        }
    }
    return sa_err_set(err, SA_ECONFIG,
                      "DATABASE_URL=%s: unsupported; expected sqlite://PATH (e.g. "
                      "sqlite://var/sales-agent.db) or sqlite::memory:",
                      url);
}

int sa_store_def_migrate(struct sa_store *s, struct sa_err *err)
{
    (void)s;
    (void)err;
    return 0;
}

int sa_store_def_health(struct sa_store *s, char *detail, size_t cap, struct sa_err *err)
{
    (void)s;
    (void)err;
    snprintf(detail, cap, "ok");
    return 0;
}
