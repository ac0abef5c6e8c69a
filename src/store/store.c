/* The registry of storage backends by DATABASE_URL scheme, for the store and the
 * checkpoint saver alike (see store.h), and the defaults of the store's optional ops.
 * A new backend adds one line to the table below. */
#include "store/store.h"

#include <stdio.h>
#include <string.h>

#include "store/backend.h"
#include "store/redis/redis.h"

static const struct sa_backend *const backends[] = {&sa_backend_sqlite};

/* Backends that hold checkpoints but no store: sa_saver_open takes their URLs,
 * sa_store_open refuses them with a message. */
static const struct {
    const char *scheme;
    int (*saver_open)(const char *location, struct graph_saver **out, struct sa_err *err);
} saver_only[] = {{"redis", sa_redis_saver_open}};

/* The saver-only backend named by url's scheme ("redis://..."), with *location as for
 * find_backend; -1 when there is none. */
static int find_saver_only(const char *url, const char **location)
{
    for (size_t i = 0; i < sizeof saver_only / sizeof saver_only[0]; i++) {
        size_t n = strlen(saver_only[i].scheme);
        if (strncmp(url, saver_only[i].scheme, n) == 0 && url[n] == ':') {
            *location = url + n + 1;
            if (strncmp(*location, "//", 2) == 0)
                *location += 2;
            return (int)i;
        }
    }
    return -1;
}

/* The backend named by url's scheme, with *location set to what follows "scheme:" and an
 * optional "//"; NULL (and err set) for an unknown scheme. */
static const struct sa_backend *find_backend(const char *url, const char **location,
                                             struct sa_err *err)
{
    const char *colon = strchr(url, ':');
    size_t n = colon ? (size_t)(colon - url) : 0;
    for (size_t i = 0; colon && i < sizeof backends / sizeof backends[0]; i++) {
        const char *scheme = backends[i]->store->scheme;
        if (strlen(scheme) == n && strncmp(url, scheme, n) == 0) {
            *location = colon + 1;
            if (strncmp(*location, "//", 2) == 0)
                *location += 2;
            return backends[i];
        }
    }
    sa_err_set(err, SA_ECONFIG,
               "DATABASE_URL=%s: unsupported; expected sqlite://PATH (e.g. "
               "sqlite://var/sales-agent.db) or sqlite::memory:",
               url);
    return NULL;
}

int sa_store_open(const char *url, int pool_size, struct sa_store **out, struct sa_err *err)
{
    *out = NULL;
    const char *location = NULL;
    int so = find_saver_only(url, &location);
    if (so >= 0)
        return sa_err_set(err, SA_ECONFIG,
                          "%s://... is not a store; set DATABASE_URL to sqlite:// or postgresql://",
                          saver_only[so].scheme);
    const struct sa_backend *b = find_backend(url, &location, err);
    return b ? b->store->open(location, pool_size, out, err) : SA_ECONFIG;
}

int sa_saver_open(const char *url, struct graph_saver **out, struct sa_err *err)
{
    *out = NULL;
    const char *location = NULL;
    int so = find_saver_only(url, &location);
    if (so >= 0)
        return saver_only[so].saver_open(location, out, err);
    const struct sa_backend *b = find_backend(url, &location, err);
    return b ? b->saver_open(location, out, err) : SA_ECONFIG;
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
