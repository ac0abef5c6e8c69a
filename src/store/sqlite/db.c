/* The SQLite backend's core: connections (a reader pool and one writer), prepared
 * statements, the group commit, the statement helpers every aggregate file uses (db.h),
 * migrations and the health check; and the backend's ops, assembled from the aggregate
 * files into sa_backend_sqlite for the registry in store/store.c. */
#include "store/sqlite/db.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zstd.h>

#include "store/backend.h"
#include "store/migrations.h"
#include "store/sqlite/search.h"

/* WAL mode, a pool of connections each with its own prepared statements, and one
 * in-process write lock.
 *
 * Writes go through group commit on one dedicated writer connection. SQLite admits one
 * writer at a time and makes the others wait in its busy handler, which sleeps in
 * millisecond steps; and a commit costs the same whether it carries one row or fifty,
 * because each changed page (the row's and every index's) is written to the WAL once per
 * transaction. So a thread that wants to write queues its job; if no other thread is
 * committing, it becomes the leader, takes every queued job, and commits them all in one
 * transaction, each inside its own SAVEPOINT so one failing job rolls back alone; threads
 * that queued meanwhile sleep until the leader marks their job done. A caller returns
 * only after its own job is durable in the WAL, exactly as with one transaction each.
 * One writer connection also keeps its page cache warm: a connection that sees another
 * connection's commit must drop its cache. Readers use the pool and never wait (WAL).
 * synchronous=NORMAL in WAL mode keeps the database consistent after a crash; a power
 * loss can drop the last commits. */

/* A connection keeps each statement it has prepared, for its lifetime: the backend has
 * about 140 distinct ones (db_sql definitions), so the cache grows to what a connection
 * has run and stays there. (It was a fixed 64 entries: a server up long enough for one
 * connection to run 65 distinct statements answered "statement cache full" to them.) */
struct db_cached {
    const struct db_sql *q; /* the cache key: the definition's address */
    sqlite3_stmt *st;
};

struct db_conn {
    sqlite3 *db;
    struct db_cached *stmts;
    int nstmts, cap;
    bool busy;
    bool in_txn;         /* inside db_transaction / a group commit: no statement may run outside it */
    int wal_restart_at;  /* the writer: WAL frames at which wal_cap tries a RESTART (0: the cap) */
};

/* One queued write, waiting for the group commit. Lives on the waiting caller's stack;
 * the leader fills rc/err, then sets done. */
struct write_job {
    db_write_fn fn;
    void *arg;
    bool done;
    int rc;
    struct sa_err err;
    struct write_job *next;
};

struct sqlite_store {
    struct sa_store base;  /* first: callers see a struct sa_store */
    struct db_conn *conns; /* readers */
    int nconns;
    pthread_mutex_t pool_lock;
    pthread_cond_t pool_cond;
    bool read_gate; /* wal_cap: no reader may start (pool_lock) */
    struct db_conn writer;      /* used only by the current leader (or migrate) */
    pthread_mutex_t queue_lock; /* guards the queue, leader_active and jobs' done */
    pthread_cond_t queue_cond;
    struct write_job *head, *tail;
    bool leader_active;
    bool memory; /* ":memory:": the one reader borrows the writer's handle */
};

static const struct sa_store_ops store_ops; /* at the end of the file */
static int wal_cap(void *arg, sqlite3 *db, const char *name, int frames); /* the WAL's cap */

static const struct db_sql BEGIN = {"begin", "BEGIN IMMEDIATE"};
static const struct db_sql COMMIT = {"commit", "COMMIT"};
/* The search index's queued changes (migration 011), applied once per transaction. */
static const struct db_sql FTS_PENDING = {"search index",
                                          "SELECT EXISTS (SELECT 1 FROM lead_fts_queue)"};
static const struct db_sql FTS_APPLY = {"search index",
                                        "INSERT INTO lead_fts (lead_fts, rowid, text) "
                                        "SELECT op, seq, text FROM lead_fts_queue ORDER BY id"};
static const struct db_sql FTS_CLEAR = {"search index", "DELETE FROM lead_fts_queue"};
static const struct db_sql ROLLBACK = {"rollback", "ROLLBACK"};
/* A group-commit job's own savepoint (apply_job), prepared once like every statement:
 * sqlite3_exec would parse and plan it again on every invocation. */
static const struct db_sql SAVEPOINT = {"savepoint", "SAVEPOINT job"};
static const struct db_sql SAVEPOINT_UNDO = {"savepoint", "ROLLBACK TO job"};
static const struct db_sql SAVEPOINT_RELEASE = {"savepoint", "RELEASE job"};
static const struct db_sql HEALTH = {"health check",
                                     "SELECT max(version) AS version FROM schema_migrations"};

static int db_error(struct sa_err *err, sqlite3 *db, const char *what)
{
    /* our triggers refuse a write that conflicts with the data's state with
     * RAISE(ABORT, 'sa:conflict: <words for the client>') */
    const char *m = db ? sqlite3_errmsg(db) : "?";
    if (strncmp(m, "sa:conflict: ", 13) == 0)
        return sa_err_set(err, SA_ECONFLICT, "%s", m + 13);
    return sa_err_set(err, SA_ESTORE, "sqlite: %s: %s", what, m);
}

/* ---- the pool ----------------------------------------------------------------------- */

static struct db_conn *conn_get(struct sqlite_store *s)
{
    pthread_mutex_lock(&s->pool_lock);
    for (;;) {
        for (int i = 0; i < s->nconns && !s->read_gate; i++) {
            if (!s->conns[i].busy) {
                s->conns[i].busy = true;
                pthread_mutex_unlock(&s->pool_lock);
                return &s->conns[i];
            }
        }
        pthread_cond_wait(&s->pool_cond, &s->pool_lock);
    }
}

static void conn_put(struct sqlite_store *s, struct db_conn *c)
{
    pthread_mutex_lock(&s->pool_lock);
    c->busy = false;
    if (s->read_gate) /* wal_cap waits for the last reader, readers for the gate */
        pthread_cond_broadcast(&s->pool_cond);
    else
        pthread_cond_signal(&s->pool_cond);
    pthread_mutex_unlock(&s->pool_lock);
}

/* Closes the gate to new reads and waits, at most ms, for the pool's reads in progress
 * to end (none then holds a snapshot in the WAL). True: quiet, the gate stays closed
 * until readers_resume. False: a read went on too long, the gate is open again. */
static bool readers_quiesce(struct sqlite_store *s, int ms)
{
    struct timespec until; /* pool_cond waits on the monotonic clock (sqlite_open) */
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += (long)ms * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&s->pool_lock);
    s->read_gate = true;
    for (;;) {
        bool busy = false;
        for (int i = 0; i < s->nconns; i++)
            busy |= s->conns[i].busy;
        if (!busy || pthread_cond_timedwait(&s->pool_cond, &s->pool_lock, &until) == ETIMEDOUT)
            break;
    }
    bool quiet = true;
    for (int i = 0; i < s->nconns; i++)
        quiet &= !s->conns[i].busy;
    if (!quiet) {
        s->read_gate = false;
        pthread_cond_broadcast(&s->pool_cond);
    }
    pthread_mutex_unlock(&s->pool_lock);
    return quiet;
}

static void readers_resume(struct sqlite_store *s)
{
    pthread_mutex_lock(&s->pool_lock);
    s->read_gate = false;
    pthread_cond_broadcast(&s->pool_cond);
    pthread_mutex_unlock(&s->pool_lock);
}

/* Takes the writer for the caller alone (as a group-commit leader would), so a
 * statement or a multi-row transaction does not interleave with the queue. */
static void writer_acquire(struct sqlite_store *s)
{
    pthread_mutex_lock(&s->queue_lock);
    while (s->leader_active)
        pthread_cond_wait(&s->queue_cond, &s->queue_lock);
    s->leader_active = true;
    pthread_mutex_unlock(&s->queue_lock);
}

static void writer_release(struct sqlite_store *s)
{
    pthread_mutex_lock(&s->queue_lock);
    s->leader_active = false;
    pthread_cond_broadcast(&s->queue_cond);
    pthread_mutex_unlock(&s->queue_lock);
}

/* ---- statements --------------------------------------------------------------------- */

/* The prepared statement for q on c, reset and unbound, ready for new bindings. */
static sqlite3_stmt *db_stmt(struct db_conn *c, const struct db_sql *q, struct sa_err *err)
{
    for (int i = 0; i < c->nstmts; i++) {
        if (c->stmts[i].q == q) {
            sqlite3_reset(c->stmts[i].st);
            sqlite3_clear_bindings(c->stmts[i].st);
            return c->stmts[i].st;
        }
    }
    if (c->nstmts == c->cap) {
        int cap = c->cap ? 2 * c->cap : 32;
        struct db_cached *grown = realloc(c->stmts, (size_t)cap * sizeof *grown);
        if (!grown) {
            sa_err_set(err, SA_ENOMEM, "out of memory");
            return NULL;
        }
        c->stmts = grown;
        c->cap = cap;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(c->db, q->text, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        db_error(err, c->db, q->what);
        sqlite3_finalize(st);
        return NULL;
    }
    c->stmts[c->nstmts].q = q;
    c->stmts[c->nstmts].st = st;
    c->nstmts++;
    return st;
}

static void bind_args(sqlite3_stmt *st, const struct db_arg *a, int n)
{
    for (int i = 0; i < n; i++) {
        if (a[i].type == DB_ARG_INT)
            sqlite3_bind_int64(st, i + 1, a[i].num);
        else if (a[i].type == DB_ARG_REAL)
            sqlite3_bind_double(st, i + 1, a[i].real);
        else if (a[i].type == DB_ARG_BLOB && a[i].text)
            sqlite3_bind_blob64(st, i + 1, a[i].text, a[i].len, SQLITE_STATIC);
        else if (a[i].text)
            sqlite3_bind_text(st, i + 1, a[i].text, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, i + 1);
    }
}

json_t *db_col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? json_stringn((const char *)t, (size_t)sqlite3_column_bytes(st, i)) : json_null();
}

json_t *db_col_int(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null()
                                                     : json_integer(sqlite3_column_int64(st, i));
}

/* A JSON value stored as a zstd frame, parsed; NULL when unreadable. */
static json_t *zjson(const void *p, size_t n)
{
    unsigned long long size = ZSTD_getFrameContentSize(p, n);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ||
        size > DB_DECOMPRESS_MAX)
        return NULL;
    char *text = malloc(size ? (size_t)size : 1);
    json_t *v = NULL;
    if (text) {
        size_t got = ZSTD_decompress(text, (size_t)size, p, n);
        if (!ZSTD_isError(got) && got == size)
            v = json_loadb(text, got, 0, NULL);
    }
    free(text);
    return v;
}

json_t *db_col_json(sqlite3_stmt *st, int i)
{
    json_t *v = NULL;
    if (sqlite3_column_type(st, i) == SQLITE_BLOB) {
        const void *p = sqlite3_column_blob(st, i);
        v = p ? zjson(p, (size_t)sqlite3_column_bytes(st, i)) : NULL;
    } else {
        const unsigned char *t = sqlite3_column_text(st, i);
        if (t)
            v = json_loadb((const char *)t, (size_t)sqlite3_column_bytes(st, i), 0, NULL);
    }
    return v ? v : json_null();
}

/* Each thread keeps its compression context: ZSTD_compress makes and frees one per call,
 * about a third of the compression's time on a 2 KB output (its tables zeroed each time),
 * and every invocation compresses one. Freed when the thread ends. */
static pthread_key_t zctx_key;
static bool zctx_ok; /* the key exists */
static pthread_once_t zctx_once = PTHREAD_ONCE_INIT;

static void zctx_free(void *p)
{
    ZSTD_freeCCtx(p);
}

static void zctx_init(void)
{
    zctx_ok = pthread_key_create(&zctx_key, zctx_free) == 0;
}

/* This thread's context, or NULL (then ZSTD_compress makes one). */
static ZSTD_CCtx *zctx(void)
{
    pthread_once(&zctx_once, zctx_init);
    if (!zctx_ok)
        return NULL;
    ZSTD_CCtx *z = pthread_getspecific(zctx_key);
    if (!z && (z = ZSTD_createCCtx()) != NULL && pthread_setspecific(zctx_key, z) != 0) {
        ZSTD_freeCCtx(z);
        z = NULL;
    }
    return z;
}

struct db_arg db_json_arg(const char *text, char **owned)
{
    *owned = NULL;
    size_t len = text ? strlen(text) : 0;
    if (len <= DB_COMPRESS_ABOVE)
        return TXT(text);
    size_t cap = ZSTD_compressBound(len);
    char *z = malloc(cap);
    ZSTD_CCtx *cc = z ? zctx() : NULL;
    size_t n = 0;
    if (cc)
        n = ZSTD_compressCCtx(cc, z, cap, text, len, 1);
    else if (z)
        n = ZSTD_compress(z, cap, text, len, 1);
    if (!z || ZSTD_isError(n) || n >= len) {
        free(z);
        return TXT(text); /* stored as it is */
    }
    *owned = z;
    return BLOB(z, n);
}

static bool is_json_column(const char *name)
{
    static const char *const names[] = {"input",    "output",  "data",   "request",
                                        "response", "changes", "payload"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return false;
}

json_t *db_row_object(sqlite3_stmt *st)
{
    json_t *o = json_object();
    int n = sqlite3_column_count(st);
    for (int i = 0; o && i < n; i++) {
        const char *name = sqlite3_column_name(st, i);
        int type = sqlite3_column_type(st, i);
        json_t *v = type == SQLITE_INTEGER ? db_col_int(st, i)
                    : type == SQLITE_FLOAT ? json_real(sqlite3_column_double(st, i))
                    : is_json_column(name) ? db_col_json(st, i)
                                           : db_col_text(st, i);
        if (json_object_set_new(o, name, v)) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

int db_query_rows(struct sa_store *base, const struct db_sql *q, const struct db_arg *a, int n,
                  db_row_fn row, json_t **out, struct sa_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    *out = NULL;
    if (!row)
        row = db_row_object;
    struct db_conn *c = conn_get(s);
    int rc = SA_ESTORE;
    sqlite3_stmt *st = db_stmt(c, q, err);
    if (!st)
        goto out;
    bind_args(st, a, n);
    json_t *rows = json_array();
    int step = SQLITE_DONE;
    rc = rows ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW)
        if (json_array_append_new(rows, row(st)))
            rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    if (!rc && step != SQLITE_DONE)
        rc = db_error(err, c->db, q->what);
    sqlite3_reset(st);
    if (rc)
        json_decref(rows);
    else
        *out = rows;
out:
    conn_put(s, c);
    return rc;
}

int db_query_one(struct sa_store *s, const struct db_sql *q, const struct db_arg *a, int n,
                 db_row_fn row, json_t **out, struct sa_err *err)
{
    json_t *rows = NULL;
    int rc = db_query_rows(s, q, a, n, row, &rows, err);
    *out = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return rc;
}

int db_exec_locked(struct db_conn *c, const struct db_sql *q, const struct db_arg *a, int n,
                   int *changes, struct sa_err *err)
{
    if (changes)
        *changes = 0;
    /* Some errors (I/O, disk full, out of memory) make SQLite roll back the transaction
     * itself; a statement run after that would commit on its own, outside it. */
    if (c->in_txn && sqlite3_get_autocommit(c->db))
        return sa_err_set(err, SA_ESTORE, "sqlite: transaction rolled back: %s",
                          sqlite3_errmsg(c->db));
    sqlite3_stmt *st = db_stmt(c, q, err);
    if (!st)
        return SA_ESTORE;
    bind_args(st, a, n);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_error(err, c->db, q->what);
    if (changes && !rc)
        *changes = sqlite3_changes(c->db);
    sqlite3_reset(st);
    return rc;
}

int db_exec_args(struct sa_store *base, const struct db_sql *q, const struct db_arg *a, int n,
                 int *changes, struct sa_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    writer_acquire(s);
    int rc = db_exec_locked(&s->writer, q, a, n, changes, err);
    writer_release(s);
    return rc;
}

/* ---- transactions and the group commit --------------------------------------------- */

/* Rolls back the open transaction, if any. A failed ROLLBACK leaves it open: the next
 * txn_begin tries again. */
static void txn_rollback(struct db_conn *c)
{
    c->in_txn = false;
    if (sqlite3_get_autocommit(c->db))
        return;
    int rc = db_exec_locked(c, &ROLLBACK, NULL, 0, NULL, NULL);
    (void)rc;
}

static int txn_begin(struct db_conn *c, struct sa_err *err)
{
    txn_rollback(c); /* a failed ROLLBACK left a transaction open */
    int rc = db_exec_locked(c, &BEGIN, NULL, 0, NULL, err);
    c->in_txn = rc == 0;
    return rc;
}

/* Applies the search index's queued changes in one statement (one FTS5 segment for the
 * whole transaction, see migration 011). */
static int fts_apply(struct db_conn *c, struct sa_err *err)
{
    sqlite3_stmt *st = db_stmt(c, &FTS_PENDING, err);
    if (!st)
        return SA_ESTORE;
    int step = sqlite3_step(st);
    bool pending = step == SQLITE_ROW && sqlite3_column_int(st, 0) != 0;
    int rc = step == SQLITE_ROW ? 0 : db_error(err, c->db, FTS_PENDING.what);
    sqlite3_reset(st);
    if (!rc && pending)
        rc = db_exec_locked(c, &FTS_APPLY, NULL, 0, NULL, err);
    if (!rc && pending)
        rc = db_exec_locked(c, &FTS_CLEAR, NULL, 0, NULL, err);
    return rc;
}

/* Commits when rc is 0, else rolls back what is left; returns the outcome. */
static int txn_end(struct db_conn *c, int rc, struct sa_err *err)
{
    if (!rc && sqlite3_get_autocommit(c->db))
        rc = sa_err_set(err, SA_ESTORE, "sqlite: transaction rolled back: %s",
                        sqlite3_errmsg(c->db));
    if (!rc)
        rc = fts_apply(c, err);
    c->in_txn = false;
    if (!rc)
        rc = db_exec_locked(c, &COMMIT, NULL, 0, NULL, err);
    if (rc)
        txn_rollback(c);
    return rc;
}

int db_transaction(struct sa_store *base, db_write_fn fn, void *arg, struct sa_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    writer_acquire(s);
    struct db_conn *c = &s->writer;
    int rc = txn_begin(c, err);
    if (!rc) {
        rc = fn(c, arg, now, err);
        rc = txn_end(c, rc, err);
    }
    writer_release(s);
    return rc;
}

/* Applies one job inside the open transaction, under its own savepoint. */
static void apply_job(struct db_conn *c, struct write_job *j, const char *now)
{
    j->rc = db_exec_locked(c, &SAVEPOINT, NULL, 0, NULL, &j->err);
    if (j->rc)
        return;
    j->rc = j->fn(c, j->arg, now, &j->err);
    /* When SQLite rolled back the whole transaction itself there is no savepoint left
     * to undo (commit_batch sees it). */
    if (sqlite3_get_autocommit(c->db))
        return;
    /* a failure of either is left to the end of the transaction, as it always was */
    int undone = j->rc ? db_exec_locked(c, &SAVEPOINT_UNDO, NULL, 0, NULL, NULL) : 0;
    int released = db_exec_locked(c, &SAVEPOINT_RELEASE, NULL, 0, NULL, NULL);
    (void)undone;
    (void)released;
}

/* Fails every job of the batch with err: nothing of the batch was committed. */
static void fail_batch(struct write_job *batch, int rc, const struct sa_err *err)
{
    for (struct write_job *j = batch; j; j = j->next) {
        j->rc = rc;
        j->err = *err;
    }
}

/* The leader's work: every job of the batch in one transaction. */
static void commit_batch(struct sqlite_store *s, struct write_job *batch)
{
    struct db_conn *c = &s->writer;
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    struct sa_err err = {0};
    int rc = txn_begin(c, &err);
    if (rc) {
        fail_batch(batch, rc, &err);
        return;
    }
    for (struct write_job *j = batch; j; j = j->next) {
        apply_job(c, j, now);
        if (sqlite3_get_autocommit(c->db)) {
            /* SQLite rolled the transaction back: the jobs before this one are gone too,
             * and running the rest would commit them one by one outside the batch. */
            struct sa_err lost = j->rc ? j->err : err;
            if (!j->rc)
                sa_err_set(&lost, SA_ESTORE, "sqlite: transaction rolled back: %s",
                           sqlite3_errmsg(c->db));
            c->in_txn = false;
            fail_batch(batch, SA_ESTORE, &lost);
            return;
        }
    }
    if ((rc = txn_end(c, 0, &err)) != 0)
        fail_batch(batch, rc, &err);
}

int db_group_write(struct sa_store *base, db_write_fn fn, void *arg, struct sa_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    struct write_job job = {.fn = fn, .arg = arg};
    pthread_mutex_lock(&s->queue_lock);
    if (s->tail)
        s->tail->next = &job;
    else
        s->head = &job;
    s->tail = &job;
    while (!job.done) {
        if (s->leader_active) {
            pthread_cond_wait(&s->queue_cond, &s->queue_lock);
            continue;
        }
        s->leader_active = true;
        struct write_job *batch = s->head;
        s->head = s->tail = NULL;
        pthread_mutex_unlock(&s->queue_lock);
        commit_batch(s, batch);
        pthread_mutex_lock(&s->queue_lock);
        for (struct write_job *j = batch, *next; j; j = next) {
            next = j->next; /* read before done: a finished waiter's job leaves the stack */
            j->done = true;
        }
        s->leader_active = false;
        pthread_cond_broadcast(&s->queue_cond);
    }
    pthread_mutex_unlock(&s->queue_lock);
    if (job.rc && err)
        *err = job.err;
    return job.rc;
}

/* ---- open, close, migrate, health ---------------------------------------------------- */

/* Finalises c's statements and closes its handle unless it is borrowed (in-memory). */
static void close_conn(struct db_conn *c, bool close_db)
{
    for (int i = 0; i < c->nstmts; i++)
        sqlite3_finalize(c->stmts[i].st);
    free(c->stmts);
    c->stmts = NULL;
    c->nstmts = c->cap = 0;
    if (close_db)
        sqlite3_close(c->db);
}

static void sqlite_close(struct sa_store *base)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    for (int i = 0; i < s->nconns; i++)
        close_conn(&s->conns[i], !s->memory);
    close_conn(&s->writer, true);
    free(s->conns);
    pthread_mutex_destroy(&s->pool_lock);
    pthread_cond_destroy(&s->pool_cond);
    pthread_mutex_destroy(&s->queue_lock);
    pthread_cond_destroy(&s->queue_cond);
    free(s);
}

/* Creates the directories leading to path (like mkdir -p on its dirname). */
static int make_parent_dirs(const char *path, struct sa_err *err)
{
    char tmp[1024];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return sa_err_set(err, SA_ECONFIG, "database path too long");
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return sa_err_set(err, SA_ECONFIG, "cannot create directory %s: %s", tmp,
                              strerror(errno));
        *p = '/';
    }
    return 0;
}

static int exec_pragma(sqlite3 *db, const char *sql, struct sa_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    int rc = sa_err_set(err, SA_ESTORE, "sqlite: %s: %s", sql, msg ? msg : "failed");
    sqlite3_free(msg);
    return rc;
}

static int open_conn(const char *path, struct db_conn *c, bool shared, struct sa_err *err)
{
    /* A handle shared by two conns (in-memory) serialises its calls itself. */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI |
                (shared ? SQLITE_OPEN_FULLMUTEX : SQLITE_OPEN_NOMUTEX);
    if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK) {
        int rc = sa_err_set(err, SA_ESTORE, "sqlite: cannot open %s: %s", path,
                            c->db ? sqlite3_errmsg(c->db) : "out of memory");
        sqlite3_close(c->db);
        c->db = NULL;
        return rc;
    }
    /* temp_store=MEMORY keeps statement journals in memory: a statement with triggers
     * inside a transaction (every lead write) journals the pages it changes, and past 64 KB
     * SQLite spilt that journal to a file in /var/tmp: 26 writes per imported lead.
     *
     * mmap_size=0, said explicitly though it is Debian's default: reads go through the
     * page cache, so resident memory is what the process allocates, not the file's size;
     * and a mapped database page that cannot be backed (a full disk) is a SIGBUS, not an
     * error. (The WAL index, -shm, is always mapped; SQLite writes its pages out when it
     * grows it, so a full disk fails there as an I/O error.)
     *
     * journal_size_limit: a checkpoint copies the WAL into the database and the next write
     * starts the WAL over from its beginning, but the file keeps the size a burst or a
     * long reader gave it (62-123 MB measured under load). With this limit the file is cut
     * back to 16 MB when it is restarted: four times what the default auto-checkpoint at
     * 1000 pages (4 MB) lets it reach in steady use, so steady use never truncates and
     * re-grows it, and a burst's high-water is given back. The retention sweep also
     * truncates it to zero when the writer is idle (db_wal_truncate). */
    static const char pragmas[] = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                                  "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000; "
                                  "PRAGMA temp_store=MEMORY; PRAGMA mmap_size=0; "
                                  "PRAGMA journal_size_limit=16777216;";
    char *msg = NULL;
    if (sqlite3_exec(c->db, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = sa_err_set(err, SA_ESTORE, "sqlite: %s: %s", path, msg ? msg : "pragma failed");
        sqlite3_free(msg);
        return rc;
    }
    return db_search_register(c->db, err); /* the search index's triggers call sa_fold */
}

static int sqlite_open(const char *url, int pool_size, struct sa_store **out, struct sa_err *err)
{
    *out = NULL;
    bool memory = strcmp(url, ":memory:") == 0;
    if (!*url)
        return sa_err_set(err, SA_ECONFIG, "DATABASE_URL: sqlite:// needs a file path");
    if (!memory && make_parent_dirs(url, err))
        return err->code;
    struct sqlite_store *s = calloc(1, sizeof *s);
    if (!s)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    s->base.ops = &store_ops;
    /* An in-memory database is private to its connection: there the one reader borrows
     * the writer's handle (opened serialised) with its own statements. */
    s->memory = memory;
    s->nconns = memory ? 1 : (pool_size < 1 ? 1 : pool_size);
    s->conns = calloc((size_t)s->nconns + 1, sizeof *s->conns);
    pthread_mutex_init(&s->pool_lock, NULL);
    pthread_condattr_t monotonic;
    pthread_condattr_init(&monotonic);
    pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
    pthread_cond_init(&s->pool_cond, &monotonic);
    pthread_condattr_destroy(&monotonic);
    pthread_mutex_init(&s->queue_lock, NULL);
    pthread_cond_init(&s->queue_cond, NULL);
    if (!s->conns) {
        sqlite_close(&s->base);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    /* The writer's page cache holds more of an import chunk's index pages than the
     * default 2 MB. Heap, used as needed: 4 MB at most. */
    if (open_conn(url, &s->writer, memory, err) ||
        exec_pragma(s->writer.db, "PRAGMA cache_size=-4096", err)) {
        sqlite_close(&s->base);
        return err->code;
    }
    if (!memory) /* in place of the auto-checkpoint (wal_cap says why) */
        sqlite3_wal_hook(s->writer.db, wal_cap, s);
    if (memory)
        s->conns[0].db = s->writer.db;
    for (int i = 0; i < s->nconns && !memory; i++) {
        if (open_conn(url, &s->conns[i], false, err)) {
            sqlite_close(&s->base);
            return err->code;
        }
    }
    *out = &s->base;
    return 0;
}

/* Runs before the store is shared (at start-up), on the writer connection: each pending
 * migration of store/sqlite/migrations/ in its own transaction, recorded in
 * schema_migrations (store/migrations.h). */
static int sqlite_migrate(struct sa_store *base, struct sa_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    struct db_conn *c = &s->writer;
    int rc = 0;
    char *msg = NULL;
    if (sqlite3_exec(c->db,
                     "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY "
                     "KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
                     NULL, NULL, &msg) != SQLITE_OK) {
        rc = sa_err_set(err, SA_ESTORE, "sqlite: schema_migrations: %s", msg);
        goto out;
    }
    sqlite3_stmt *q = NULL;
    int current = 0;
    if (sqlite3_prepare_v2(c->db, "SELECT COALESCE(max(version), 0) FROM schema_migrations", -1, &q,
                           NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        current = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    for (unsigned i = 0; i < sa_sqlite_migrations_count; i++) {
        const struct sa_migration *mg = &sa_sqlite_migrations[i];
        if (mg->version <= current)
            continue;
        char ts[SA_ISO8601_LEN];
        sa_iso8601_now(ts);
        char *record = sqlite3_mprintf(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%d, %Q, %Q)",
            mg->version, mg->name, ts);
        if (!record) {
            rc = sa_err_set(err, SA_ENOMEM, "out of memory");
            goto out;
        }
        int ok = sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, &msg) == SQLITE_OK &&
                 sqlite3_exec(c->db, mg->sql, NULL, NULL, &msg) == SQLITE_OK &&
                 sqlite3_exec(c->db, record, NULL, NULL, &msg) == SQLITE_OK &&
                 sqlite3_exec(c->db, "COMMIT", NULL, NULL, &msg) == SQLITE_OK;
        sqlite3_free(record);
        if (!ok) {
            rc = sa_err_set(err, SA_ESTORE, "sqlite: migration %s: %s", mg->name,
                            msg ? msg : "failed");
            sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
            goto out;
        }
    }
out:
    sqlite3_free(msg);
    return rc;
}

static int sqlite_health(struct sa_store *s, char *detail, size_t cap, struct sa_err *err)
{
    json_t *row = NULL;
    int rc = db_query_one(s, &HEALTH, NULL, 0, NULL, &row, err);
    if (!rc)
        snprintf(detail, cap, "schema version %d",
                 (int)json_integer_value(json_object_get(row, "version")));
    json_decref(row);
    return rc;
}

/* ---- the write probe and the WAL ----------------------------------------------------- */

/* The WAL's cap. SQLite's auto-checkpoint (PASSIVE, every 1,000 frames) copies the WAL
 * into the database but never waits, and the WAL starts over from its beginning only when
 * a write begins while no reader still reads from it. Under a steady load some reader
 * always does (the pool's reads overlap), so the WAL was not restarted while the load
 * lasted and grew: 135-360 MB in a 60 s soak at ~1,500 invokes/s, though every row was
 * already in the database. A RESTART checkpoint that waits for readers in SQLite's busy
 * handler failed 7 times in 10 (new reads kept taking the WAL's read locks). So this hook,
 * on the writer's connection, does what the auto-checkpoint does and, once the WAL passes
 * WAL_CAP_FRAMES (16 MB, journal_size_limit), holds new reads of the pool back for a
 * moment: it waits (at most WAL_QUIESCE_MS) for the reads in progress to end, runs a
 * RESTART checkpoint (the frames left after the PASSIVE one just before, and a wait of at
 * most WAL_RESTART_BUSY_MS for another connection: the checkpoint saver, a CLI), and lets
 * the reads go on. The next write starts the WAL over and journal_size_limit cuts the file
 * back. It runs inside the commit, where the leader holds the writer: our own writes queue
 * meanwhile and commit together after. One that gives up (a long export's read) is tried
 * again 1,000 frames later. */
#define WAL_AUTOCHECKPOINT_FRAMES 1000
#define WAL_CAP_FRAMES 4096
#define WAL_QUIESCE_MS 20
#define WAL_RESTART_BUSY_MS 50
#define DB_BUSY_MS 5000

static int wal_cap(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct sqlite_store *s = arg;
    struct db_conn *c = &s->writer;
    if (frames < WAL_CAP_FRAMES)
        c->wal_restart_at = 0; /* the WAL started over (by itself, maybe): the cap again */
    if (frames < WAL_AUTOCHECKPOINT_FRAMES)
        return SQLITE_OK;
    (void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    if (frames < (c->wal_restart_at ? c->wal_restart_at : WAL_CAP_FRAMES))
        return SQLITE_OK;
    int rc = SQLITE_BUSY;
    if (readers_quiesce(s, WAL_QUIESCE_MS)) {
        sqlite3_busy_timeout(db, WAL_RESTART_BUSY_MS);
        rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
        sqlite3_busy_timeout(db, DB_BUSY_MS);
        readers_resume(s);
    }
    c->wal_restart_at = rc == SQLITE_OK ? 0 : frames + WAL_AUTOCHECKPOINT_FRAMES;
    return SQLITE_OK; /* the commit stands either way */
}

static const struct db_sql PROBE = {
    "health probe", "INSERT INTO health_probe (who, at) VALUES (?1, ?2) ON CONFLICT (who) "
                    "DO UPDATE SET at = excluded.at, probes = probes + 1"};

/* The probe's own wait for a lock: /health answers within about this, instead of the
 * 5 s every other write waits for another process's lock. */
#define PROBE_BUSY_MS 1000
#define WAL_TRUNCATE_BUSY_MS 100

static int sqlite_write_probe(struct sa_store *base, const char *who, double at, struct sa_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    const struct db_arg a[] = {TXT(who), DBL(at)};
    writer_acquire(s);
    sqlite3_busy_timeout(s->writer.db, PROBE_BUSY_MS);
    int rc = db_exec_locked(&s->writer, &PROBE, a, DB_N(a), NULL, err);
    sqlite3_busy_timeout(s->writer.db, DB_BUSY_MS);
    writer_release(s);
    return rc;
}

int db_wal_truncate(struct sa_store *base, bool *done, struct sa_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    *done = false;
    if (s->memory)
        return 0;
    int log = 0, copied = 0;
    writer_acquire(s); /* our own writes wait meanwhile */
    pthread_mutex_lock(&s->queue_lock);
    bool queued = s->head != NULL;
    pthread_mutex_unlock(&s->queue_lock);
    if (queued) { /* not idle: writes are waiting for the writer; the next sweep tries */
        writer_release(s);
        return 0;
    }
    /* A TRUNCATE checkpoint waits for every reader of the WAL and for the saver's writes;
     * a short wait keeps our queued writes from stalling behind it (docs/store.md: a
     * checkpoint that fights the writer makes the WAL grow, not shrink). */
    sqlite3_busy_timeout(s->writer.db, WAL_TRUNCATE_BUSY_MS);
    int rc =
        sqlite3_wal_checkpoint_v2(s->writer.db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log, &copied);
    sqlite3_busy_timeout(s->writer.db, DB_BUSY_MS);
    writer_release(s);
    if (rc == SQLITE_BUSY) /* a reader or the saver was busy: the next sweep tries again */
        return 0;
    if (rc != SQLITE_OK)
        return db_error(err, s->writer.db, "wal checkpoint");
    *done = true;
    return 0;
}

/* ---- the backend --------------------------------------------------------------------- */

static const struct sa_store_ops store_ops = {
    .scheme = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .migrate = sqlite_migrate,
    .health = sqlite_health,
    /* leads.c */
    .save_invocation = sa_sqlite_save_invocation,
    .insert_lead_if_new = sa_sqlite_insert_lead_if_new,
    .get_lead = sa_sqlite_get_lead,
    .list_leads = sa_sqlite_list_leads,
    .save_many = sa_sqlite_save_many,
    .lead_by_email = sa_sqlite_lead_by_email,
    .leads_by_mailbox = sa_sqlite_leads_by_mailbox,
    .leads_by_company = sa_sqlite_leads_by_company,
    .lead_match = sa_sqlite_lead_match,
    .company_get = sa_sqlite_company_get,
    /* executions.c */
    .list_executions = sa_sqlite_list_executions,
    /* runs.c */
    .run_create = sa_sqlite_run_create,
    .run_update = sa_sqlite_run_update,
    .run_get = sa_sqlite_run_get,
    .runs_unfinished = sa_sqlite_runs_unfinished,
    .runs_list = sa_sqlite_runs_list,
    .run_claim = sa_sqlite_run_claim,
    .run_renew = sa_sqlite_run_renew,
    .run_finish = sa_sqlite_run_finish,
    .runs_stale = sa_sqlite_runs_stale,
    /* approvals.c */
    .approval_put = sa_sqlite_approval_put,
    .approval_get = sa_sqlite_approval_get,
    .approval_list = sa_sqlite_approval_list,
    .approval_decide = sa_sqlite_approval_decide,
    .approval_claim_resume = sa_sqlite_approval_claim_resume,
    .approval_supersede = sa_sqlite_approval_supersede,
    .approval_unsupersede = sa_sqlite_approval_unsupersede,
    /* outbox.c */
    .outbox_add = sa_sqlite_outbox_add,
    .outbox_list = sa_sqlite_outbox_list,
    .outbox_kind_list = sa_sqlite_outbox_kind_list,
    .outbox_kind_counts = sa_sqlite_outbox_kind_counts,
    .lead_timeline = sa_sqlite_lead_timeline,
    .execution_add = sa_sqlite_execution_add,
    .outbox_due = sa_sqlite_outbox_due,
    .outbox_claim = sa_sqlite_outbox_claim,
    .outbox_mark = sa_sqlite_outbox_mark,
    .outbox_cancel = sa_sqlite_outbox_cancel,
    .outbox_touches = sa_sqlite_outbox_touches,
    .outbox_defer = sa_sqlite_outbox_defer,
    .outbox_sent_times = sa_sqlite_outbox_sent_times,
    .outbox_sequence = sa_sqlite_outbox_sequence,
    .outbox_active_sequences = sa_sqlite_outbox_active_sequences,
    .outbox_cancel_sequence = sa_sqlite_outbox_cancel_sequence,
    .outbox_requeue_expired = sa_sqlite_outbox_requeue_expired,
    .outbox_claim_as = sa_sqlite_outbox_claim_as,
    .outbox_mark_as = sa_sqlite_outbox_mark_as,
    /* inbound.c */
    .outbox_by_message_id = sa_sqlite_outbox_by_message_id,
    .inbound_claim = sa_sqlite_inbound_claim,
    .inbound_finish = sa_sqlite_inbound_finish,
    /* contacts.c */
    .contact_dnc = sa_sqlite_contact_dnc,
    .contact_get = sa_sqlite_contact_get,
    .contact_lift = sa_sqlite_contact_lift,
    .contact_history = sa_sqlite_contact_history,
    .contact_list_dnc = sa_sqlite_contact_list_dnc,
    .secret_get_or_put = sa_sqlite_secret_get_or_put,
    /* cache.c */
    .cache_get = sa_sqlite_cache_get,
    .cache_put = sa_sqlite_cache_put,
    /* keys.c */
    .key_insert = sa_sqlite_key_insert,
    .key_get = sa_sqlite_key_get,
    .key_list = sa_sqlite_key_list,
    .key_revoke = sa_sqlite_key_revoke,
    .key_touch = sa_sqlite_key_touch,
    .key_count = sa_sqlite_key_count,
    /* audit.c */
    .audit_append = sa_sqlite_audit_append,
    .audit_list = sa_sqlite_audit_list,
    /* export.c, erase.c */
    .lead_export_page = sa_sqlite_lead_export_page,
    .lead_export_fields = sa_sqlite_lead_export_fields,
    .lead_threads = sa_sqlite_lead_threads,
    .lead_erase = sa_sqlite_lead_erase,
    /* meetings.c */
    .meeting_hold = sa_sqlite_meeting_hold,
    .meeting_move = sa_sqlite_meeting_move,
    .meeting_set_status = sa_sqlite_meeting_set_status,
    .meeting_get = sa_sqlite_meeting_get,
    .meeting_list = sa_sqlite_meeting_list,
    /* retention.c, and the probe above */
    .prune = sa_sqlite_prune,
    .threads_finished = sa_sqlite_threads_finished,
    .write_probe = sqlite_write_probe,
    /* console.c */
    .lead_draft_pending = sa_sqlite_lead_draft_pending,
    .conversation_touch = sa_sqlite_conversation_touch,
    .conversation_list = sa_sqlite_conversation_list,
    .as_thread_put = sa_sqlite_as_thread_put,
    .as_thread_get = sa_sqlite_as_thread_get,
    .as_thread_update = sa_sqlite_as_thread_update,
    .as_thread_search = sa_sqlite_as_thread_search,
    .as_thread_delete = sa_sqlite_as_thread_delete,
    .as_threads_idle = sa_sqlite_as_threads_idle,
    .as_thread_delete_idle = sa_sqlite_as_thread_delete_idle,
    /* mailbox.c */
    .mailbox_claim = sa_sqlite_mailbox_claim,
    .mailbox_advance = sa_sqlite_mailbox_advance,
};

/* The registry's entry (store/backend.h): this store, and the saver of saver.c. */
const struct sa_backend sa_backend_sqlite = {
    .store = &store_ops,
    .saver_open = sa_sqlite_saver_open,
};
