/* Retention in PostgreSQL (store.h's retention group): deletes old executions, expired
 * enrichment cache entries and the list rows of quiet conversations in batches, and finds
 * the finished threads whose checkpoints app/retention.c may compact. Ported from
 * store/sqlite/retention.c; the write probe is in db.c, beside the health check that
 * shares its statement. Part of the PostgreSQL backend (pg.h). */
#include <stdlib.h>

#include "base/log.h"

#include "store/postgres/pg.h"

/* Rows per delete statement: large enough that a million old rows take a thousand
 * commits, small enough that a batch holds its row locks for milliseconds, not seconds,
 * so writes that touch the same rows (an erasure) barely wait. */
#define PRUNE_BATCH 1000

/* Each batch is one statement outside any transaction block, so it commits on its own
 * (the contract's "each batch its own transaction"). SKIP LOCKED: two instances pruning
 * at once take different rows instead of the second waiting on the first's locks and
 * then finding them gone; a row locked by anything else is left to the next sweep. */
static const struct pg_sql COUNT_EXECS = {
    "count old executions",
    "SELECT count(*) AS n FROM agent_executions WHERE created_at < $1::text"};
static const struct pg_sql DELETE_EXECS = {
    "delete old executions",
    "DELETE FROM agent_executions WHERE id IN (SELECT id FROM agent_executions "
    "WHERE created_at < $1::text LIMIT $2::bigint FOR UPDATE SKIP LOCKED)"};
static const struct pg_sql COUNT_CACHE = {
    "count expired cache",
    "SELECT count(*) AS n FROM enrichment_cache WHERE expires_at <= $1::text"};
static const struct pg_sql DELETE_CACHE = {
    "delete expired cache",
    "DELETE FROM enrichment_cache WHERE cache_key IN (SELECT cache_key FROM enrichment_cache "
    "WHERE expires_at <= $1::text LIMIT $2::bigint FOR UPDATE SKIP LOCKED)"};
/* The conversation list's rows whose thread went quiet (app/retention.c passes its last
 * turn + SESSION_TTL_SECONDS), found by their index on updated_at (migration 059). A
 * turn touching a row the delete has locked waits, then inserts it anew; one the touch has
 * locked is skipped, and a row touched meanwhile no longer matches (FOR UPDATE rechecks
 * the newest version). */
static const struct pg_sql COUNT_CONVS = {
    "count quiet conversations",
    "SELECT count(*) AS n FROM conversations WHERE updated_at < $1::text"};
static const struct pg_sql DELETE_CONVS = {
    "delete quiet conversations",
    "DELETE FROM conversations WHERE thread_id IN (SELECT thread_id FROM conversations "
    "WHERE updated_at < $1::text LIMIT $2::bigint FOR UPDATE SKIP LOCKED)"};
/* A thread's activity: its runs' status changes and its executions. Candidates are the
 * threads with activity inside the window; each is then refused if it has activity after
 * it, a run not finished or an approval pending (indexes, migration 002: runs by
 * updated_at and thread_id, executions by created_at and thread_id; approvals by
 * (thread_id, interrupt_id)). */
static const struct pg_sql THREADS_FINISHED = {
    "finished threads",
    "SELECT t AS thread_id FROM (SELECT thread_id AS t FROM runs WHERE updated_at >= $1::text "
    "AND updated_at < $2::text UNION SELECT thread_id FROM agent_executions WHERE "
    "created_at >= $1::text AND created_at < $2::text AND thread_id IS NOT NULL) AS active "
    "WHERE ($3::text IS NULL OR t > $3::text) "
    "AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.thread_id = t AND (r.updated_at >= $2::text "
    "OR r.status IN ('queued', 'running', 'awaiting_approval'))) "
    "AND NOT EXISTS (SELECT 1 FROM agent_executions e WHERE e.thread_id = t AND "
    "e.created_at >= $2::text) "
    "AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.thread_id = t AND a.status = 'pending') "
    "ORDER BY t LIMIT $4::bigint"};

/* Deletes (or, dry, counts) the rows before cutoff; *n: how many. */
static int prune_kind(struct sa_store *s, const struct pg_sql *count, const struct pg_sql *del,
                      double cutoff, bool dry, long long *n, struct sa_err *err)
{
    *n = 0;
    if (cutoff <= 0)
        return 0;
    char at[SA_ISO8601_LEN];
    sa_iso8601_format_ms(cutoff, at);
    if (dry) {
        json_t *row = NULL;
        const struct pg_arg a[] = {TXT(at)};
        int rc = pg_query_one(s, count, a, DB_N(a), NULL, &row, err);
        *n = json_integer_value(json_object_get(row, "n"));
        json_decref(row);
        return rc;
    }
    int changed;
    do {
        const struct pg_arg a[] = {TXT(at), NUM(PRUNE_BATCH)};
        int rc = pg_exec_args(s, del, a, DB_N(a), &changed, err);
        if (rc)
            return rc;
        *n += changed;
    } while (changed == PRUNE_BATCH);
    return 0;
}

/* The tables retention deletes from (the checkpoints' only when the checkpoints are in
 * this database: CHECKPOINT_STORE=database). */
static const struct pg_sql CHECKPOINTS_HERE = {
    "find checkpoint table", "SELECT (to_regclass('graph_checkpoints') IS NOT NULL)::int AS here"};
static const struct pg_sql VACUUM_PRUNED = {
    "vacuum pruned tables",
    "VACUUM (SKIP_LOCKED) agent_executions, enrichment_cache, conversations"};
static const struct pg_sql VACUUM_PRUNED_CHECKPOINTS = {
    "vacuum pruned tables",
    "VACUUM (SKIP_LOCKED) agent_executions, enrichment_cache, conversations, "
    "graph_checkpoints"};

/* Marks the space of the rows this sweep deleted (and the checkpoints app/retention.c
 * compacted just before) free for reuse now. Autovacuum would, but only after its nap
 * (a minute by default) and a share of dead rows: under steady writes the tables grew by
 * ~70 MB in a 60 s soak before it came. Plain VACUUM takes no lock that blocks reads or
 * writes; SKIP_LOCKED passes over a table another instance's sweep is vacuuming. A failure
 * (e.g. the statement deadline on a huge table) costs only the early reuse: logged. */
static void vacuum_pruned(struct sa_store *s)
{
    struct sa_err err = {0};
    json_t *row = NULL;
    int rc = pg_query_one(s, &CHECKPOINTS_HERE, NULL, 0, NULL, &row, &err);
    if (!rc)
        rc = pg_exec_args(s,
                          json_integer_value(json_object_get(row, "here")) == 1
                              ? &VACUUM_PRUNED_CHECKPOINTS
                              : &VACUUM_PRUNED,
                          NULL, 0, NULL, &err);
    json_decref(row);
    if (rc)
        sa_log(SA_LOG_WARN, "retention: pruned tables not vacuumed (autovacuum will)",
               json_pack("{s:s}", "error", err.msg));
}

/* PostgreSQL does not shrink a table's file after deletes (as SQLite does not): the space
 * is reused once VACUUM marks it free, done here rather than left to autovacuum. */
int sa_pg_prune(struct sa_store *s, const struct sa_prune_query *q, json_t **counts,
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
    if (rc)
        return rc;
    if (!q->dry_run)
        vacuum_pruned(s);
    *counts = json_pack("{s:I, s:I, s:I}", "executions", execs, "enrichment_cache", cache,
                        "conversations", convs);
    return *counts ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}

static json_t *thread_id_of(const PGresult *res, int row)
{
    return pg_col_text(res, row, 0);
}

int sa_pg_threads_finished(struct sa_store *s, double since, double before, const char *after,
                           int limit, json_t **out, struct sa_err *err)
{
    *out = NULL;
    if (limit < 1 || limit > 1000)
        return sa_err_set(err, SA_EINVAL, "limit must be 1-1000");
    char from[SA_ISO8601_LEN], until[SA_ISO8601_LEN];
    sa_iso8601_format_ms(since > 0 ? since : 0, from);
    sa_iso8601_format_ms(before, until);
    const struct pg_arg a[] = {TXT(from), TXT(until), TXT(after), NUM(limit)};
    return pg_query_rows(s, &THREADS_FINISHED, a, DB_N(a), thread_id_of, out, err);
}

/* Agent Server thread records untouched since the cutoff (index as_threads_updated, by
 * updated_at), a page at a time by id; each is deleted alone, and only if no run stamped
 * it meanwhile (the delete rechecks the row's newest version). */
static const struct pg_sql AS_THREADS_IDLE = {
    "idle agent server threads",
    "SELECT thread_id FROM as_threads WHERE updated_at < $1::text AND thread_id > $2::text "
    "ORDER BY thread_id LIMIT $3::bigint"};
static const struct pg_sql AS_THREAD_DELETE_IDLE = {
    "delete idle agent server thread",
    "DELETE FROM as_threads WHERE thread_id = $1 AND updated_at < $2::text"};

int sa_pg_as_threads_idle(struct sa_store *s, double before, const char *after, int limit,
                          json_t **out, struct sa_err *err)
{
    *out = NULL;
    if (limit < 1 || limit > 1000)
        return sa_err_set(err, SA_EINVAL, "limit must be 1-1000");
    char until[SA_ISO8601_LEN];
    sa_iso8601_format_ms(before, until);
    const struct pg_arg a[] = {TXT(until), TXT(after ? after : ""), NUM(limit)};
    return pg_query_rows(s, &AS_THREADS_IDLE, a, DB_N(a), thread_id_of, out, err);
}

int sa_pg_as_thread_delete_idle(struct sa_store *s, const char *thread_id, double before,
                                bool *deleted, struct sa_err *err)
{
    *deleted = false;
    char until[SA_ISO8601_LEN];
    sa_iso8601_format_ms(before, until);
    const struct pg_arg a[] = {TXT(thread_id), TXT(until)};
    int changes = 0;
    int rc = pg_exec_args(s, &AS_THREAD_DELETE_IDLE, a, DB_N(a), &changes, err);
    *deleted = rc == 0 && changes > 0;
    return rc;
}
