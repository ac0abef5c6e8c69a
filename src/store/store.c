/* The registry of storage backends by DATABASE_URL scheme, for the store and the
 * checkpoint saver alike (see store.h), and the defaults of the store's optional ops.
 * A new backend adds one line to the table below. */
#include "store/store.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "store/backend.h"
#include "store/redis/redis.h"

static const struct sa_backend *const backends[] = {&sa_backend_sqlite, &sa_backend_pg};

struct sa_store_timeouts sa_store_timeouts = {.connect_ms = 3000, .statement_ms = 5000};

void sa_store_set_timeouts(int connect_ms, int statement_ms)
{
    if (connect_ms > 0)
        sa_store_timeouts.connect_ms = connect_ms;
    if (statement_ms > 0)
        sa_store_timeouts.statement_ms = statement_ms;
}

static bool scheme_is(const char *scheme, const char *url, size_t n)
{
    return scheme && strlen(scheme) == n && strncmp(url, scheme, n) == 0;
}

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
        if (scheme_is(backends[i]->store->scheme, url, n) ||
            scheme_is(backends[i]->alias, url, n)) {
            *location = colon + 1;
            if (strncmp(*location, "//", 2) == 0)
                *location += 2;
            return backends[i];
        }
    }
    /* only the scheme is echoed: the rest may hold a password */
    sa_err_set(err, SA_ECONFIG,
               "DATABASE_URL=%.*s:...: unsupported; expected sqlite://PATH (e.g. "
               "sqlite://var/sales-agent.db), sqlite::memory: or "
               "postgresql://USER[:PASSWORD]@HOST[:PORT]/DB (or postgres://)",
               colon && n < 32 ? (int)n : 0, url);
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

int sa_store_def_prune(struct sa_store *s, const struct sa_prune_query *q, json_t **counts,
                       struct sa_err *err)
{
    (void)s;
    (void)q;
    *counts =
        json_pack("{s:i, s:i, s:i}", "executions", 0, "enrichment_cache", 0, "conversations", 0);
    return *counts ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}

int sa_store_def_threads_finished(struct sa_store *s, double since, double before,
                                  const char *after, int limit, json_t **out, struct sa_err *err)
{
    (void)s;
    (void)since;
    (void)before;
    (void)after;
    (void)limit;
    *out = json_array();
    return *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}

/* A backend without a write probe is asked for its read round trip: the best it offers. */
int sa_store_def_write_probe(struct sa_store *s, const char *who, double at, struct sa_err *err)
{
    (void)who;
    (void)at;
    char detail[64];
    return sa_store_health(s, detail, sizeof detail, err);
}

json_t *sa_store_page_by_seq(json_t *rows, int limit, const char *key)
{
    json_t *next = json_null();
    if (json_array_size(rows) > (size_t)limit) {
        json_array_remove(rows, (size_t)limit);
        json_decref(next);
        next = json_incref(json_object_get(json_array_get(rows, (size_t)limit - 1), key));
    }
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) json_object_del(row, key);
    return json_pack("{s:o, s:o}", "items", rows ? rows : json_array(), "next_before",
                     next ? next : json_null());
}

int sa_store_metadata_text(const char *text, const char *what, char **out, struct sa_err *err)
{
    *out = NULL;
    if (!text)
        return 0;
    json_error_t je;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        return sa_err_set(err, SA_EINVAL, "%s: metadata must be a JSON object", what);
    }
    *out = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}

void sa_store_as_thread_rows(json_t *rows)
{
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        json_t *md = json_object_get(row, "metadata");
        json_t *parsed = json_is_string(md) ? json_loads(json_string_value(md), 0, NULL) : NULL;
        if (json_is_object(parsed))
            json_object_set_new(row, "metadata", parsed);
        else if (!json_is_object(md)) {
            json_decref(parsed);
            json_object_set_new(row, "metadata", json_object());
        } else
            json_decref(parsed);
    }
}

const char *sa_store_mailbox(const char *email, char *buf, size_t cap)
{
    const char *at = email ? strrchr(email, '@') : NULL;
    const char *plus = at ? memchr(email, '+', (size_t)(at - email)) : NULL;
    if (!plus || plus == email)
        return email;
    size_t n = (size_t)(plus - email), rest = strlen(at);
    if (n + rest + 1 > cap)
        return email;
    memcpy(buf, email, n);
    memcpy(buf + n, at, rest + 1);
    return buf;
}

int sa_store_contact_get(struct sa_store *s, const char *email, json_t **out, struct sa_err *err)
{
    char buf[320];
    const char *box = sa_store_mailbox(email, buf, sizeof buf);
    int rc = s->ops->contact_get(s, box, out, err);
    if (box == email || (rc && rc != SA_ENOTFOUND) ||
        (!rc && json_is_true(json_object_get(*out, "do_not_contact"))))
        return rc;
    /* the tagged record, an opt-out from before consent was per mailbox */
    json_t *tagged = NULL;
    struct sa_err e2 = {0};
    if (s->ops->contact_get(s, email, &tagged, &e2) == 0 &&
        json_is_true(json_object_get(tagged, "do_not_contact"))) {
        json_decref(*out);
        *out = tagged;
        return 0;
    }
    json_decref(tagged);
    return rc;
}

int sa_store_contact_lift(struct sa_store *s, const char *email, const char *consent_source,
                          const char *note, struct sa_err *err)
{
    char buf[320];
    const char *box = sa_store_mailbox(email, buf, sizeof buf);
    int rc = s->ops->contact_lift(s, box, consent_source, note, err);
    if (box == email || (rc && rc != SA_ECONFLICT))
        return rc;
    struct sa_err e2 = {0};
    int r2 = s->ops->contact_lift(s, email, consent_source, note, &e2); /* the tagged record */
    if (r2 == 0)
        return 0;
    if (r2 != SA_ECONFLICT) {
        if (err)
            *err = e2;
        return r2;
    }
    return rc;
}
