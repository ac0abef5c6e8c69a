/* The enrichment cache in PostgreSQL: a provider's answer for a normalised key (domain or
 * company name) until it expires. Part of the PostgreSQL backend (pg.h); the enrichment
 * agent is the caller. */
#include <stdlib.h>
#include <time.h>

#include "base/clock.h"
#include "store/postgres/pg.h"

static const struct pg_sql CACHE_GET = {
    "cache get", "SELECT data FROM enrichment_cache WHERE cache_key = $1 AND expires_at > $2"};
static const struct pg_sql CACHE_PUT = {
    "cache put", "INSERT INTO enrichment_cache (cache_key, provider, data, created_at, "
                 "expires_at) VALUES ($1, $2, $3::jsonb, $4, $5) ON CONFLICT (cache_key) DO "
                 "UPDATE SET provider = excluded.provider, data = excluded.data, "
                 "created_at = excluded.created_at, expires_at = excluded.expires_at"};

int sa_pg_cache_get(struct sa_store *s, const char *key, json_t **out, struct sa_err *err)
{
    *out = NULL;
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const struct pg_arg a[] = {TXT(key), TXT(now)};
    json_t *row = NULL;
    int rc = pg_query_one(s, &CACHE_GET, a, DB_N(a), NULL, &row, err);
    if (!rc && !row)
        rc = sa_err_set(err, SA_ENOTFOUND, "not cached");
    json_t *data = json_object_get(row, "data");
    if (!rc && (!data || json_is_null(data)))
        rc = sa_err_set(err, SA_ENOTFOUND, "cache entry unreadable");
    if (!rc)
        *out = json_incref(data);
    json_decref(row);
    return rc;
}

int sa_pg_cache_put(struct sa_store *s, const char *key, const char *provider, const json_t *data,
                    double ttl_seconds, struct sa_err *err)
{
    /* the expiry in the stored form ("...:SS.000Z", whole seconds: plenty for a TTL), so
     * it compares as text with the millisecond stamps cache_get passes */
    char now[SA_ISO8601_LEN], at[SA_ISO8601_LEN], until[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    sa_iso8601_format((time_t)(sa_wall_seconds() + ttl_seconds), at);
    int rc = sa_iso8601_canonical(at, "cache expiry", until, err);
    if (rc)
        return rc;
    char *text = json_dumps(data, JSON_COMPACT);
    if (!text)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    const struct pg_arg a[] = {TXT(key), TXT(provider), TXT(text), TXT(now), TXT(until)};
    rc = pg_exec_args(s, &CACHE_PUT, a, DB_N(a), NULL, err);
    free(text);
    return rc;
}
