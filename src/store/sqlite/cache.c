/* The enrichment cache in SQLite: a provider's answer for a normalised key (domain or
 * company name) until it expires. Part of the SQLite backend (db.h); the enrichment agent
 * is the caller. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/clock.h"
#include "store/sqlite/db.h"

static const struct db_sql CACHE_GET = {
    "cache get", "SELECT data FROM enrichment_cache WHERE cache_key = ?1 AND expires_at > ?2"};
static const struct db_sql CACHE_PUT = {
    "cache put", "INSERT INTO enrichment_cache (cache_key, provider, data, created_at, "
                 "expires_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (cache_key) DO UPDATE "
                 "SET provider = excluded.provider, data = excluded.data, "
                 "created_at = excluded.created_at, expires_at = excluded.expires_at"};

/* ISO 8601 UTC stamp of now + offset seconds (same format as sa_iso8601_now, so the
 * strings compare in time order). */
static void iso_in(double offset, char out[SA_ISO8601_LEN])
{
    double t = sa_wall_seconds() + offset;
    time_t sec = (time_t)t;
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(out, SA_ISO8601_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)((t - (double)sec) * 1000) % 1000);
}

int sa_sqlite_cache_get(struct sa_store *s, const char *key, json_t **out, struct sa_err *err)
{
    *out = NULL;
    char now[SA_ISO8601_LEN];
    iso_in(0, now);
    const struct db_arg a[] = {TXT(key), TXT(now)};
    json_t *row = NULL;
    int rc = db_query_one(s, &CACHE_GET, a, DB_N(a), NULL, &row, err);
    if (!rc && !row)
        rc = sa_err_set(err, SA_ENOTFOUND, "not cached");
    json_t *data = json_object_get(row, "data");
    if (!rc && json_is_null(data))
        rc = sa_err_set(err, SA_ENOTFOUND, "cache entry unreadable");
    if (!rc)
        *out = json_incref(data);
    json_decref(row);
    return rc;
}

int sa_sqlite_cache_put(struct sa_store *s, const char *key, const char *provider,
                        const json_t *data, double ttl_seconds, struct sa_err *err)
{
    char now[SA_ISO8601_LEN], until[SA_ISO8601_LEN];
    iso_in(0, now);
    iso_in(ttl_seconds, until);
    char *text = json_dumps(data, JSON_COMPACT);
    if (!text)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    /* a cache write is its own small transaction on the writer connection */
    const struct db_arg a[] = {TXT(key), TXT(provider), TXT(text), TXT(now), TXT(until)};
    int rc = db_exec_args(s, &CACHE_PUT, a, DB_N(a), NULL, err);
    free(text);
    return rc;
}
