/* The Agent Server API's thread records (migration 060) in PostgreSQL: what POST /threads
 * makes, read by every instance (app/agentserver.c). Part of the PostgreSQL backend
 * (pg.h). */
#include <stdlib.h>

#include "store/backend.h"
#include "store/postgres/pg.h"

static const struct pg_sql PUT = {
    "put agent server thread",
    "INSERT INTO as_threads (thread_id, metadata, created_at, updated_at) VALUES ($1, "
    "COALESCE($2::jsonb, '{}'::jsonb), $3, $3) ON CONFLICT (thread_id) DO NOTHING"};

static const struct pg_sql GET = {
    "get agent server thread",
    "SELECT thread_id, created_at, updated_at, metadata FROM as_threads WHERE thread_id = $1"};

/* jsonb's || keeps the right operand's value of a key both have. */
static const struct pg_sql UPDATE = {
    "update agent server thread",
    "UPDATE as_threads SET metadata = CASE WHEN $3::integer = 1 THEN $2::jsonb || metadata ELSE "
    "metadata || $2::jsonb END, updated_at = $4 WHERE thread_id = $1"};

/* @> narrows by the index; the NOT EXISTS makes each key's value equal (not contained). */
static const struct pg_sql SEARCH = {
    "search agent server threads",
    "SELECT thread_id, created_at, updated_at, metadata FROM as_threads t WHERE $1::jsonb IS "
    "NULL OR (t.metadata @> $1::jsonb AND NOT EXISTS (SELECT 1 FROM jsonb_each($1::jsonb) f "
    "WHERE t.metadata -> f.key IS DISTINCT FROM f.value)) ORDER BY updated_at DESC, thread_id "
    "DESC LIMIT $2::bigint OFFSET $3::bigint"};

static const struct pg_sql DELETE = {"delete agent server thread",
                                     "DELETE FROM as_threads WHERE thread_id = $1"};

int sa_pg_as_thread_put(struct sa_store *s, const char *thread_id, const char *metadata,
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
    const struct pg_arg a[] = {TXT(thread_id), TXT(md), TXT(at)};
    rc = pg_exec_args(s, &PUT, a, DB_N(a), &changes, err);
    free(md);
    *inserted = rc == 0 && changes > 0;
    return rc;
}

int sa_pg_as_thread_get(struct sa_store *s, const char *thread_id, json_t **out, struct sa_err *err)
{
    *out = NULL;
    json_t *rows = NULL;
    int rc = pg_query_rows(s, &GET, &TXT(thread_id), 1, NULL, &rows, err);
    if (rc)
        return rc;
    sa_store_as_thread_rows(rows);
    *out = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return *out ? 0 : sa_err_set(err, SA_ENOTFOUND, "thread %.128s not found", thread_id);
}

int sa_pg_as_thread_update(struct sa_store *s, const char *thread_id, const char *metadata,
                           bool keep_existing, const char *at, struct sa_err *err)
{
    if (!at)
        return sa_err_set(err, SA_EINVAL, "thread: at is required");
    char *md = NULL;
    int rc = sa_store_metadata_text(metadata ? metadata : "{}", "thread", &md, err);
    if (rc)
        return rc;
    int changes = 0;
    const struct pg_arg a[] = {TXT(thread_id), TXT(md), NUM(keep_existing), TXT(at)};
    rc = pg_exec_args(s, &UPDATE, a, DB_N(a), &changes, err);
    free(md);
    if (!rc && changes == 0)
        rc = sa_err_set(err, SA_ENOTFOUND, "thread %.128s not found", thread_id);
    return rc;
}

int sa_pg_as_thread_search(struct sa_store *s, const char *filter, int limit, int offset,
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
    const struct pg_arg a[] = {TXT(f), NUM(limit), NUM(offset)};
    rc = pg_query_rows(s, &SEARCH, a, DB_N(a), NULL, out, err);
    free(f);
    if (!rc)
        sa_store_as_thread_rows(*out);
    return rc;
}

int sa_pg_as_thread_delete(struct sa_store *s, const char *thread_id, struct sa_err *err)
{
    int changes = 0;
    int rc = pg_exec_args(s, &DELETE, &TXT(thread_id), 1, &changes, err);
    if (!rc && changes == 0)
        rc = sa_err_set(err, SA_ENOTFOUND, "thread %.128s not found", thread_id);
    return rc;
}
