/* The SQLite checkpoint saver (graph/saver.h), opened by the registry (sa_saver_open) on
 * the store's file: one table keyed by (thread_id, id), WAL with synchronous=NORMAL,
 * prepared statements on one connection behind a mutex (a checkpoint write is a
 * single-row insert; the engine saves once per super-step). */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/saver.h"
#include "store/sqlite/db.h"

enum {
    Q_PUT,
    Q_WRITES,
    Q_GET,
    Q_LATEST,
    Q_LIST,
    Q_DELETE,
    Q_BYTES,
    Q_EXCEPT,
    Q_EXPIRED,
    Q_SWEEP,
    Q_HOLD,
    Q_COUNT
};

static const char *const sql[Q_COUNT] = {
    [Q_PUT] = "INSERT INTO graph_checkpoints (thread_id, id, parent_id, step, full, blob, "
              "expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [Q_EXCEPT] = "DELETE FROM graph_checkpoints WHERE thread_id = ?1 AND id <> ?2",
    /* a thread expires when its newest record does */
    [Q_EXPIRED] = "SELECT count(*) FROM (SELECT thread_id FROM graph_checkpoints GROUP BY "
                  "thread_id HAVING max(id) = max(CASE WHEN expires_at > 0 AND expires_at <= "
                  "?1 THEN id END))",
    [Q_SWEEP] = "DELETE FROM graph_checkpoints WHERE thread_id IN (SELECT thread_id FROM "
                "graph_checkpoints GROUP BY thread_id HAVING max(id) = max(CASE WHEN "
                "expires_at > 0 AND expires_at <= ?1 THEN id END))",
    /* the newest record's expiry decides the sweep: cleared, the thread stays */
    [Q_HOLD] = "UPDATE graph_checkpoints SET expires_at = 0 WHERE thread_id = ?1 AND "
               "expires_at > 0 AND id = (SELECT max(id) FROM graph_checkpoints WHERE "
               "thread_id = ?1)",
    [Q_WRITES] = "UPDATE graph_checkpoints SET writes = ?3 WHERE thread_id = ?1 AND id = ?2",
    [Q_GET] = "SELECT id, parent_id, step, full, blob, writes FROM graph_checkpoints "
              "WHERE thread_id = ?1 AND id = ?2",
    [Q_LATEST] = "SELECT id, parent_id, step, full, blob, writes FROM graph_checkpoints "
                 "WHERE thread_id = ?1 ORDER BY id DESC LIMIT 1",
    [Q_LIST] = "SELECT id FROM graph_checkpoints WHERE thread_id = ?1 ORDER BY id DESC LIMIT ?2",
    [Q_DELETE] = "DELETE FROM graph_checkpoints WHERE thread_id = ?1",
    [Q_BYTES] = "SELECT count(*), COALESCE(sum(length(blob) + COALESCE(length(writes), 0) + "
                "length(id) + length(parent_id) + length(thread_id) + 16), 0) "
                "FROM graph_checkpoints WHERE thread_id = ?1",
};

struct sqlite_saver {
    struct graph_saver base; /* first */
    sqlite3 *db;
    sqlite3_stmt *q[Q_COUNT];
    pthread_mutex_t lock;
};

static int db_err(struct sqlite_saver *s, struct sa_err *err, const char *what)
{
    return sa_err_set(err, SA_ESTORE, "checkpoint store: %s: %s", what, sqlite3_errmsg(s->db));
}

static sqlite3_stmt *q(struct sqlite_saver *s, int i)
{
    sqlite3_reset(s->q[i]);
    sqlite3_clear_bindings(s->q[i]);
    return s->q[i];
}

static int ss_put(struct graph_saver *base, const char *thread_id, const struct graph_record *r,
                  struct sa_err *err)
{
    struct sqlite_saver *s = (struct sqlite_saver *)base;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = q(s, Q_PUT);
    sqlite3_bind_text(st, 1, thread_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->parent_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, r->step);
    sqlite3_bind_int(st, 5, r->full);
    sqlite3_bind_blob(st, 6, r->blob, (int)r->blob_len, SQLITE_STATIC);
    sqlite3_bind_double(st, 7, r->expires_at);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(s, err, "put");
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int ss_put_writes(struct graph_saver *base, const char *thread_id, const char *id,
                         const char *writes, size_t len, struct sa_err *err)
{
    struct sqlite_saver *s = (struct sqlite_saver *)base;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = q(s, Q_WRITES);
    sqlite3_bind_text(st, 1, thread_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    if (writes)
        sqlite3_bind_blob(st, 3, writes, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(s, err, "put writes");
    if (!rc && sqlite3_changes(s->db) == 0)
        rc = sa_err_set(err, SA_ENOTFOUND, "checkpoint %s not found", id);
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static char *copy_col(sqlite3_stmt *st, int i, size_t *len)
{
    const void *p = sqlite3_column_blob(st, i);
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    *len = 0;
    if (!p)
        return NULL;
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, p, n);
        d[n] = '\0';
        *len = n;
    }
    return d;
}

static int ss_get(struct graph_saver *base, const char *thread_id, const char *id,
                  struct graph_record *out, struct sa_err *err)
{
    struct sqlite_saver *s = (struct sqlite_saver *)base;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = q(s, id ? Q_GET : Q_LATEST);
    sqlite3_bind_text(st, 1, thread_id, -1, SQLITE_STATIC);
    if (id)
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    int rc = 0, step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        const char *cid = (const char *)sqlite3_column_text(st, 0);
        const char *pid = (const char *)sqlite3_column_text(st, 1);
        snprintf(out->id, sizeof out->id, "%s", cid ? cid : "");
        snprintf(out->parent_id, sizeof out->parent_id, "%s", pid ? pid : "");
        out->step = sqlite3_column_int(st, 2);
        out->full = sqlite3_column_int(st, 3) != 0;
        out->blob = copy_col(st, 4, &out->blob_len);
        out->writes = copy_col(st, 5, &out->writes_len);
        if (!out->blob)
            rc = sa_err_set(err, SA_EIO, "checkpoint %s has no data", out->id);
    } else if (step == SQLITE_DONE) {
        rc = sa_err_set(err, SA_ENOTFOUND, "no checkpoint %s for thread %s", id ? id : "",
                        thread_id);
    } else {
        rc = db_err(s, err, "get");
    }
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->lock);
    if (rc)
        graph_record_clear(out);
    return rc;
}

static int ss_list(struct graph_saver *base, const char *thread_id, int limit,
                   char (**ids)[GRAPH_ID_LEN], int *n, struct sa_err *err)
{
    struct sqlite_saver *s = (struct sqlite_saver *)base;
    *ids = NULL;
    *n = 0;
    int rc = 0, cap = 0;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = q(s, Q_LIST);
    sqlite3_bind_text(st, 1, thread_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, limit > 0 ? limit : -1);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            char(*nids)[GRAPH_ID_LEN] = realloc(*ids, (size_t)cap * sizeof **ids);
            if (!nids) {
                rc = sa_err_set(err, SA_ENOMEM, "out of memory");
                break;
            }
            *ids = nids;
        }
        snprintf((*ids)[*n], GRAPH_ID_LEN, "%s", (const char *)sqlite3_column_text(st, 0));
        (*n)++;
    }
    if (!rc && step != SQLITE_DONE)
        rc = db_err(s, err, "list");
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->lock);
    if (rc) {
        free(*ids);
        *ids = NULL;
        *n = 0;
    }
    return rc;
}

static int ss_delete_thread(struct graph_saver *base, const char *thread_id, struct sa_err *err)
{
    struct sqlite_saver *s = (struct sqlite_saver *)base;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = q(s, Q_DELETE);
    sqlite3_bind_text(st, 1, thread_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(s, err, "delete thread");
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int ss_delete_except(struct graph_saver *base, const char *thread_id, const char *keep_id,
                            struct sa_err *err)
{
    struct sqlite_saver *s = (struct sqlite_saver *)base;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = q(s, Q_EXCEPT);
    sqlite3_bind_text(st, 1, thread_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, keep_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(s, err, "prune");
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int ss_hold(struct graph_saver *base, const char *thread_id, struct sa_err *err)
{
    struct sqlite_saver *s = (struct sqlite_saver *)base;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = q(s, Q_HOLD);
    sqlite3_bind_text(st, 1, thread_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(s, err, "hold");
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int ss_sweep(struct graph_saver *base, double now, int *n, struct sa_err *err)
{
    struct sqlite_saver *s = (struct sqlite_saver *)base;
    *n = 0;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = q(s, Q_EXPIRED);
    sqlite3_bind_double(st, 1, now);
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : db_err(s, err, "sweep");
    if (!rc)
        *n = sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    if (!rc && *n > 0) {
        st = q(s, Q_SWEEP);
        sqlite3_bind_double(st, 1, now);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(s, err, "sweep");
        sqlite3_reset(st);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int ss_thread_bytes(struct graph_saver *base, const char *thread_id, size_t *bytes,
                           int *records, struct sa_err *err)
{
    struct sqlite_saver *s = (struct sqlite_saver *)base;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = q(s, Q_BYTES);
    sqlite3_bind_text(st, 1, thread_id, -1, SQLITE_STATIC);
    int rc = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *records = sqlite3_column_int(st, 0);
        *bytes = (size_t)sqlite3_column_int64(st, 1);
    } else {
        rc = db_err(s, err, "thread bytes");
    }
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static void ss_free(struct graph_saver *base)
{
    struct sqlite_saver *s = (struct sqlite_saver *)base;
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(s->q[i]);
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static const struct graph_saver_ops sqlite_ops = {
    .name = "sqlite",
    .put = ss_put,
    .put_writes = ss_put_writes,
    .get = ss_get,
    .list = ss_list,
    .delete_thread = ss_delete_thread,
    .delete_except = ss_delete_except,
    .sweep = ss_sweep,
    .thread_bytes = ss_thread_bytes,
    .hold = ss_hold,
    .free = ss_free,
};

/* The saver on the file at path (created with its table). */
static int open_file(const char *path, struct graph_saver **out, struct sa_err *err)
{
    *out = NULL;
    struct sqlite_saver *s = calloc(1, sizeof *s);
    if (!s)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    s->base.ops = &sqlite_ops;
    pthread_mutex_init(&s->lock, NULL);
    /* the store's connections' settings (db.c says why): this connection writes to the
     * same WAL, and the one that restarts the WAL is the one that cuts it back */
    static const char schema[] =
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;"
        "PRAGMA mmap_size=0; PRAGMA journal_size_limit=16777216;"
        "CREATE TABLE IF NOT EXISTS graph_checkpoints ("
        " thread_id TEXT NOT NULL, id TEXT NOT NULL, parent_id TEXT NOT NULL, step INTEGER "
        "NOT NULL, full INTEGER NOT NULL, blob BLOB NOT NULL, writes BLOB, expires_at REAL "
        "NOT NULL DEFAULT 0,"
        " PRIMARY KEY (thread_id, id));";
    int rc = 0;
    if (sqlite3_open_v2(path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK)
        rc = sa_err_set(err, SA_ESTORE, "checkpoint store %s: %s", path,
                        s->db ? sqlite3_errmsg(s->db) : "out of memory");
    for (int i = 0; i < Q_COUNT && !rc; i++)
        if (sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->q[i], NULL) !=
            SQLITE_OK)
            rc = db_err(s, err, "prepare");
    if (rc) {
        ss_free(&s->base);
        return rc;
    }
    *out = &s->base;
    return 0;
}

int sa_sqlite_saver_open(const char *location, struct graph_saver **out, struct sa_err *err)
{
    *out = NULL;
    if (strcmp(location, ":memory:") != 0)
        return open_file(location, out, err);
    *out = graph_saver_memory_new();
    return *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}
