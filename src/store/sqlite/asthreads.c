/* The Agent Server API's thread records (migration 020) in SQLite: what POST /threads
 * makes, read by every instance (app/agentserver.c). Part of the SQLite backend (db.h). */
#include <stdlib.h>

#include "store/backend.h"
#include "store/sqlite/db.h"

static const struct db_sql PUT = {
    "put agent server thread",
    "INSERT INTO as_threads (thread_id, metadata, created_at, updated_at) VALUES (?1, "
    "COALESCE(?2, '{}'), ?3, ?3) ON CONFLICT (thread_id) DO NOTHING"};

static const struct db_sql GET = {
    "get agent server thread",
    "SELECT thread_id, created_at, updated_at, metadata FROM as_threads WHERE thread_id = ?1"};

/* A json_each row's value as JSON text (json_each gives true and false as 1 and 0). */
#define JTEXT                                                                                      \
    "CASE type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'object' THEN value "        \
    "WHEN 'array' THEN value ELSE json_quote(value) END"

/* The winner's keys (the record's when ?3 keeps them, else the given), then the loser's
 * that the winner lacks. Built from json_each rather than json_patch, whose null values
 * delete keys. */
static const struct db_sql UPDATE = {
    "update agent server thread",
    "UPDATE as_threads SET metadata = (SELECT json_group_object(key, json(j)) FROM (SELECT "
    "key, " JTEXT
    " AS j FROM json_each(CASE WHEN ?3 THEN as_threads.metadata ELSE ?2 END) UNION ALL "
    "SELECT key, " JTEXT " FROM json_each(CASE WHEN ?3 THEN ?2 ELSE as_threads.metadata END) "
    "WHERE key NOT IN (SELECT key FROM json_each(CASE WHEN ?3 THEN as_threads.metadata ELSE ?2 "
    "END)))), updated_at = ?4 WHERE thread_id = ?1"};

/* Every key of the filter ?1 is the record's with the same type and value (a number equal to
 * a number, 1 to 1.0, as jsonb has it); an object or array value only the same type here,
 * its value compared in C (object_values_equal: json text depends on key order). */
static const struct db_sql SEARCH = {
    "search agent server threads",
    "SELECT thread_id, created_at, updated_at, metadata FROM as_threads t WHERE ?1 IS NULL OR "
    "NOT EXISTS (SELECT 1 FROM json_each(?1) f WHERE NOT EXISTS (SELECT 1 FROM "
    "json_each(t.metadata) m WHERE m.key = f.key AND (m.type = f.type OR (m.type IN "
    "('integer', 'real') AND f.type IN ('integer', 'real'))) AND (f.type IN ('object', "
    "'array') OR m.value IS f.value))) "
    "ORDER BY updated_at DESC, thread_id DESC LIMIT ?2 OFFSET ?3"};

static const struct db_sql DELETE = {"delete agent server thread",
                                     "DELETE FROM as_threads WHERE thread_id = ?1"};

int sa_sqlite_as_thread_put(struct sa_store *s, const char *thread_id, const char *metadata,
                            const char *at, bool *inserted, struct sa_err *err)
{
    *inserted = false;
    if (!thread_id || !*thread_id || !at)
        return sa_err_set(err, SA_EINVAL, "thread: thread_id and at are required");
    char *md = NULL;
    int rc = sa_store_metadata_text(metadata, "thread", &md, err);
    if (rc)
        return rc;
    int changes = 0;
    const struct db_arg a[] = {TXT(thread_id), TXT(md), TXT(at)};
    rc = db_exec_args(s, &PUT, a, DB_N(a), &changes, err);
    free(md);
    *inserted = rc == 0 && changes > 0;
    return rc;
}

int sa_sqlite_as_thread_get(struct sa_store *s, const char *thread_id, json_t **out,
                            struct sa_err *err)
{
    *out = NULL;
    json_t *rows = NULL;
    int rc = db_query_rows(s, &GET, &TXT(thread_id), 1, NULL, &rows, err);
    if (rc)
        return rc;
    sa_store_as_thread_rows(rows);
    *out = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return *out ? 0 : sa_err_set(err, SA_ENOTFOUND, "thread %.128s not found", thread_id);
}

int sa_sqlite_as_thread_update(struct sa_store *s, const char *thread_id, const char *metadata,
                               bool keep_existing, const char *at, struct sa_err *err)
{
    if (!at)
        return sa_err_set(err, SA_EINVAL, "thread: at is required");
    char *md = NULL;
    int rc = sa_store_metadata_text(metadata ? metadata : "{}", "thread", &md, err);
    if (rc)
        return rc;
    int changes = 0;
    const struct db_arg a[] = {TXT(thread_id), TXT(md), NUM(keep_existing), TXT(at)};
    rc = db_exec_args(s, &UPDATE, a, DB_N(a), &changes, err);
    free(md);
    if (!rc && changes == 0)
        rc = sa_err_set(err, SA_ENOTFOUND, "thread %.128s not found", thread_id);
    return rc;
}

/* a and b equal as jsonb has it: numbers by value, objects whatever their key order. */
static bool same_value(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return json_number_value(a) == json_number_value(b);
    }
    if (json_typeof(a) != json_typeof(b))
        return false;
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!same_value(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)a, k, v)
        {
            const json_t *w = json_object_get(b, k);
            if (!w || !same_value(v, w))
                return false;
        }
        return true;
    }
    return json_equal(a, b) != 0;
}

/* Whether the record's metadata has each object or array value of the filter. */
static bool object_values_equal(const json_t *row, const json_t *filter)
{
    const json_t *md = json_object_get(row, "metadata");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)filter, k, v)
    {
        if ((json_is_object(v) || json_is_array(v)) && !same_value(v, json_object_get(md, k)))
            return false;
    }
    return true;
}

/* Whether the filter has an object or array value, compared in C. */
static bool has_structured(const json_t *filter)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)filter, k, v)
    {
        if (json_is_object(v) || json_is_array(v))
            return true;
    }
    return false;
}

int sa_sqlite_as_thread_search(struct sa_store *s, const char *filter, int limit, int offset,
                               json_t **out, struct sa_err *err)
{
    *out = NULL;
    if (limit < 1 || limit > 1000)
        return sa_err_set(err, SA_EINVAL, "threads: limit must be 1..1000, not %d", limit);
    if (offset < 0)
        return sa_err_set(err, SA_EINVAL, "threads: offset must be 0 or positive");
    char *f = NULL;
    int rc = sa_store_metadata_text(filter, "threads", &f, err);
    if (rc)
        return rc;
    json_t *fj = f ? json_loads(f, 0, NULL) : NULL;
    if (f && !fj) {
        free(f);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    /* with an object or array value every candidate comes back; limit and offset after C's
     * comparison */
    bool in_c = fj && has_structured(fj);
    const struct db_arg a[] = {TXT(f), NUM(in_c ? -1 : limit), NUM(in_c ? 0 : offset)};
    rc = db_query_rows(s, &SEARCH, a, DB_N(a), NULL, out, err);
    free(f);
    if (!rc)
        sa_store_as_thread_rows(*out);
    if (!rc && in_c) {
        json_t *kept = json_array();
        int skipped = 0;
        size_t i;
        json_t *row;
        json_array_foreach(*out, i, row)
        {
            if (!kept || (int)json_array_size(kept) >= limit)
                break;
            if (!object_values_equal(row, fj))
                continue;
            if (skipped < offset) {
                skipped++;
                continue;
            }
            if (json_array_append(kept, row)) {
                json_decref(kept);
                kept = NULL;
            }
        }
        json_decref(*out);
        *out = kept;
        if (!kept)
            rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    json_decref(fj);
    return rc;
}

int sa_sqlite_as_thread_delete(struct sa_store *s, const char *thread_id, struct sa_err *err)
{
    int changes = 0;
    int rc = db_exec_args(s, &DELETE, &TXT(thread_id), 1, &changes, err);
    if (!rc && changes == 0)
        rc = sa_err_set(err, SA_ENOTFOUND, "thread %.128s not found", thread_id);
    return rc;
}
