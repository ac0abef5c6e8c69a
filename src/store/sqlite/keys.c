/* API keys in SQLite: each key's salt and hash (never the secret), its name, scopes and
 * times, for the access service (app/access.c) and the `keys` command. Every time is the
 * caller's: nothing here reads the clock. Part of the SQLite backend (db.h). */
#include <string.h>

#include "store/sqlite/db.h"

#define KEY_LIST_COLS                                                                              \
    "id, name, scopes, created_at, created_by, expires_at, revoked_at, last_used_at"

static const struct db_sql KEY_INSERT = {
    "insert API key", "INSERT INTO api_keys (id, name, scopes, salt, hash, created_at, "
                      "expires_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
                      "ON CONFLICT (id) DO NOTHING"};
static const struct db_sql KEY_GET = {
    "get API key", "SELECT id, name, scopes, salt, hash, created_at, expires_at, revoked_at, "
                   "last_used_at FROM api_keys WHERE id = ?1"};
static const struct db_sql KEY_LIST = {"list API keys", "SELECT " KEY_LIST_COLS " FROM api_keys "
                                                        "ORDER BY created_at DESC, id DESC"};
static const struct db_sql KEY_SHOW = {"show API key",
                                       "SELECT " KEY_LIST_COLS " FROM api_keys WHERE id = ?1"};
/* only a key not revoked yet changes: the first revocation time stays */
static const struct db_sql KEY_REVOKE = {
    "revoke API key", "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL"};
/* last_used_at never moves back, whatever order racing requests arrive in */
static const struct db_sql KEY_TOUCH = {"touch API key",
                                        "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1 AND "
                                        "(last_used_at IS NULL OR last_used_at < ?2)"};
static const struct db_sql KEY_EXISTS = {"touch API key", "SELECT id FROM api_keys WHERE id = ?1"};
static const struct db_sql KEY_COUNT = {"count API keys", "SELECT count(*) AS n FROM api_keys"};

static bool is_key_id(const char *id)
{
    if (!id || strlen(id) != 16)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

static int require(const char *v, const char *what, struct sa_err *err)
{
    return v && *v ? 0 : sa_err_set(err, SA_EINVAL, "API key: %s is required", what);
}

int sa_sqlite_key_insert(struct sa_store *s, const struct sa_key_row *k, struct sa_err *err)
{
    if (!is_key_id(k->id))
        return sa_err_set(err, SA_EINVAL, "API key: the id must be 16 lowercase hex digits");
    char created[SA_ISO8601_LEN], expires[SA_ISO8601_LEN];
    int rc = require(k->name, "name", err);
    if (!rc)
        rc = require(k->scopes, "scopes", err);
    if (!rc)
        rc = require(k->salt, "salt", err);
    if (!rc)
        rc = require(k->hash, "hash", err);
    if (!rc)
        rc = sa_iso8601_canonical(k->created_at, "created_at", created, err);
    if (!rc && k->expires_at)
        rc = sa_iso8601_canonical(k->expires_at, "expires_at", expires, err);
    if (rc)
        return rc;
    const struct db_arg a[] = {TXT(k->id),
                               TXT(k->name),
                               TXT(k->scopes),
                               TXT(k->salt),
                               TXT(k->hash),
                               TXT(created),
                               TXT(k->expires_at ? expires : NULL),
                               TXT(k->created_by)};
    int changed = 0;
    rc = db_exec_args(s, &KEY_INSERT, a, DB_N(a), &changed, err);
    if (!rc && !changed)
        rc = sa_err_set(err, SA_ECONFLICT, "an API key with id %s exists already", k->id);
    return rc;
}

int sa_sqlite_key_get(struct sa_store *s, const char *id, json_t **out, struct sa_err *err)
{
    int rc = db_query_one(s, &KEY_GET, &TXT(id), 1, NULL, out, err);
    if (!rc && !*out)
        rc = sa_err_set(err, SA_ENOTFOUND, "no such API key");
    return rc;
}

int sa_sqlite_key_list(struct sa_store *s, json_t **out, struct sa_err *err)
{
    return db_query_rows(s, &KEY_LIST, NULL, 0, NULL, out, err);
}

static int key_show(struct sa_store *s, const char *id, json_t **out, struct sa_err *err)
{
    int rc = db_query_one(s, &KEY_SHOW, &TXT(id), 1, NULL, out, err);
    if (!rc && !*out)
        rc = sa_err_set(err, SA_ENOTFOUND, "no such API key");
    return rc;
}

int sa_sqlite_key_revoke(struct sa_store *s, const char *id, const char *at, json_t **out,
                         struct sa_err *err)
{
    *out = NULL;
    char when[SA_ISO8601_LEN];
    int rc = sa_iso8601_canonical(at, "revoked_at", when, err);
    const struct db_arg a[] = {TXT(id), TXT(when)};
    if (!rc) /* no row changed: revoked already, or no such key (key_show tells) */
        rc = db_exec_args(s, &KEY_REVOKE, a, DB_N(a), NULL, err);
    return rc ? rc : key_show(s, id, out, err);
}

int sa_sqlite_key_touch(struct sa_store *s, const char *id, const char *at, struct sa_err *err)
{
    char when[SA_ISO8601_LEN];
    int rc = sa_iso8601_canonical(at, "last_used_at", when, err);
    if (rc)
        return rc;
    const struct db_arg a[] = {TXT(id), TXT(when)};
    int changed = 0;
    rc = db_exec_args(s, &KEY_TOUCH, a, DB_N(a), &changed, err);
    if (rc || changed)
        return rc;
    json_t *row = NULL; /* unchanged: a later use is stored, or no such key */
    rc = db_query_one(s, &KEY_EXISTS, &TXT(id), 1, NULL, &row, err);
    if (!rc && !row)
        rc = sa_err_set(err, SA_ENOTFOUND, "no such API key");
    json_decref(row);
    return rc;
}

int sa_sqlite_key_count(struct sa_store *s, long *n, struct sa_err *err)
{
    *n = 0;
    json_t *row = NULL;
    int rc = db_query_one(s, &KEY_COUNT, NULL, 0, NULL, &row, err);
    if (!rc)
        *n = (long)json_integer_value(json_object_get(row, "n"));
    json_decref(row);
    return rc;
}
