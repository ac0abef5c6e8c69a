/* Retention in SQLite (store.h's retention group): deletes old executions, expired
 * enrichment cache entries and the list rows of quiet conversations in batches, finds the
 * finished threads whose checkpoints app/retention.c may compact, and truncates the WAL
 * afterwards. Part of the SQLite backend (db.h). */
#include <math.h>
#include <stdio.h>
#include <time.h>

#include "store/sqlite/db.h"

/* Rows per delete transaction: large enough that a million old rows take a thousand
 * commits, small enough that a batch holds the writer for milliseconds, not seconds, so
 * invocations queued behind it barely notice. */
#define PRUNE_BATCH 1000

static const struct db_sql COUNT_EXECS = {
    "count old executions", "SELECT count(*) AS n FROM agent_executions WHERE created_at < ?1"};
static const struct db_sql DELETE_EXECS = {
    "delete old executions",
    "DELETE FROM agent_executions WHERE rowid IN (SELECT rowid FROM agent_executions "
    "WHERE created_at < ?1 LIMIT ?2)"};
static const struct db_sql COUNT_CACHE = {
    "count expired cache", "SELECT count(*) AS n FROM enrichment_cache WHERE expires_at <= ?1"};
static const struct db_sql DELETE_CACHE = {
    "delete expired cache",
    "DELETE FROM enrichment_cache WHERE rowid IN (SELECT rowid FROM enrichment_cache "
    "WHERE expires_at <= ?1 LIMIT ?2)"};
/* The conversation list's rows whose thread went quiet (app/retention.c passes its last
 * turn + SESSION_TTL_SECONDS), found by their index on updated_at (migration 019). */
static const struct db_sql COUNT_CONVS = {
    "count quiet conversations", "SELECT count(*) AS n FROM conversations WHERE updated_at < ?1"};
static const struct db_sql DELETE_CONVS = {
    "delete quiet conversations",
    "DELETE FROM conversations WHERE rowid IN (SELECT rowid FROM conversations "
    "WHERE updated_at < ?1 LIMIT ?2)"};
/* A thread's activity: its runs' status changes and its executions. Candidates are the
 * threads with activity inside the window; each is then refused if it has activity after
 * it, a run not finished or an approval pending (indexes: runs by updated_at and
 * thread_id, executions by created_at and thread_id, approvals by thread_id). */
static const struct db_sql THREADS_FINISHED = {
    "finished threads",
    "SELECT t AS thread_id FROM (SELECT thread_id AS t FROM runs WHERE updated_at >= ?1 AND "
    "updated_at < ?2 UNION SELECT thread_id FROM agent_executions WHERE created_at >= ?1 AND "
    "created_at < ?2 AND thread_id IS NOT NULL) "
    "WHERE t > ?3 "
    "AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.thread_id = t AND (r.updated_at >= ?2 OR "
    "r.status IN ('queued', 'running', 'awaiting_approval'))) "
    "AND NOT EXISTS (SELECT 1 FROM agent_executions e WHERE e.thread_id = t AND "
    "e.created_at >= ?2) "
    "AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.thread_id = t AND a.status = 'pending') "
    "ORDER BY t LIMIT ?4"};

struct batch {
    const struct db_sql *q;
    const char *cutoff;
    int changed;
};

static int delete_batch(struct db_conn *c, void *arg, const char *now, struct sa_err *err)
{
    (void)now;
    struct batch *b = arg;
    const struct db_arg a[] = {TXT(b->cutoff), NUM(PRUNE_BATCH)};
    return db_exec_locked(c, b->q, a, DB_N(a), &b->changed, err);
}

/* Deletes (or, dry, counts) the rows q selects before cutoff; *n: how many. */
static int prune_kind(struct sa_store *s, const struct db_sql *count, const struct db_sql *del,
                      double cutoff, bool dry, long long *n, struct sa_err *err)
{
    *n = 0;
    if (cutoff <= 0)
        return 0;
    char at[SA_ISO8601_LEN];
    sa_iso8601_format_ms(cutoff, at);
    if (dry) {
        json_t *row = NULL;
        const struct db_arg a[] = {TXT(at)};
        int rc = db_query_one(s, count, a, DB_N(a), NULL, &row, err);
        *n = json_integer_value(json_object_get(row, "n"));
        json_decref(row);
        return rc;
    }
    struct batch b = {.q = del, .cutoff = at};
    do {
        int rc = db_transaction(s, delete_batch, &b, err);
        if (rc)
            return rc;
        *n += b.changed;
    } while (b.changed == PRUNE_BATCH);
    return 0;
}

int sa_sqlite_prune(struct sa_store *s, const struct sa_prune_query *q, json_t **counts,
                    struct sa_err *err)
{
    *counts = NULL;
    long long execs = 0, cache = 0, convs = 0;
    int rc =
        prune_kind(s, &COUNT_EXECS, &DELETE_EXECS, q->executions_before, q->dry_run, &execs, err);
    if (!rc)
        rc = prune_kind(s, &COUNT_CACHE, &DELETE_CACHE, q->cache_expired_at, q->dry_run, &cache,
                        err);
    if (!rc)
        rc = prune_kind(s, &COUNT_CONVS, &DELETE_CONVS, q->conversations_before, q->dry_run, &convs,
                        err);
    /* the deleted pages are free for reuse in the file; the WAL that carried the deletes
     * goes back to zero bytes */
    bool truncated = false;
    if (!rc && !q->dry_run)
        rc = db_wal_truncate(s, &truncated, err);
    if (rc)
        return rc;
    *counts = json_pack("{s:I, s:I, s:I}", "executions", execs, "enrichment_cache", cache,
                        "conversations", convs);
    return *counts ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}

/* The thread_id column of the rows q selects with args a, as an array of ids (*out). */
static int query_thread_ids(struct sa_store *s, const struct db_sql *q, const struct db_arg *a,
                            int n, json_t **out, struct sa_err *err)
{
    json_t *rows = NULL;
    int rc = db_query_rows(s, q, a, n, NULL, &rows, err);
    if (rc)
        return rc;
    json_t *ids = json_array();
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) json_array_append(ids, json_object_get(row, "thread_id"));
    json_decref(rows);
    *out = ids;
    return ids ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}

int sa_sqlite_threads_finished(struct sa_store *s, double since, double before, const char *after,
                               int limit, json_t **out, struct sa_err *err)
{
    *out = NULL;
    if (limit < 1 || limit > 1000)
        return sa_err_set(err, SA_EINVAL, "limit must be 1-1000");
    char from[SA_ISO8601_LEN], until[SA_ISO8601_LEN];
    sa_iso8601_format_ms(since > 0 ? since : 0, from);
    sa_iso8601_format_ms(before, until);
    const struct db_arg a[] = {TXT(from), TXT(until), TXT(after ? after : ""), NUM(limit)};
    return query_thread_ids(s, &THREADS_FINISHED, a, DB_N(a), out, err);
}

/* Agent Server thread records untouched since the cutoff (index as_threads_updated, by
 * updated_at), a page at a time by id; each is deleted alone, and only if no run stamped
 * it meanwhile. */
static const struct db_sql AS_THREADS_IDLE = {
    "idle agent server threads",
    "SELECT thread_id FROM as_threads WHERE updated_at < ?1 AND thread_id > ?2 "
    "ORDER BY thread_id LIMIT ?3"};
static const struct db_sql AS_THREAD_DELETE_IDLE = {
    "delete idle agent server thread",
    "DELETE FROM as_threads WHERE thread_id = ?1 AND updated_at < ?2"};

int sa_sqlite_as_threads_idle(struct sa_store *s, double before, const char *after, int limit,
                              json_t **out, struct sa_err *err)
{
    *out = NULL;
    if (limit < 1 || limit > 1000)
        return sa_err_set(err, SA_EINVAL, "limit must be 1-1000");
    char until[SA_ISO8601_LEN];
    sa_iso8601_format_ms(before, until);
    const struct db_arg a[] = {TXT(until), TXT(after ? after : ""), NUM(limit)};
    return query_thread_ids(s, &AS_THREADS_IDLE, a, DB_N(a), out, err);
}

int sa_sqlite_as_thread_delete_idle(struct sa_store *s, const char *thread_id, double before,
                                    bool *deleted, struct sa_err *err)
{
    *deleted = false;
    char until[SA_ISO8601_LEN];
    sa_iso8601_format_ms(before, until);
    const struct db_arg a[] = {TXT(thread_id), TXT(until)};
    int changes = 0;
    int rc = db_exec_args(s, &AS_THREAD_DELETE_IDLE, a, DB_N(a), &changes, err);
    *deleted = rc == 0 && changes > 0;
    return rc;
}
