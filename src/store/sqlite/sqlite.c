/* The SQLite store (see store.h): WAL mode, a pool of connections each with its own
 * prepared statements, and one in-process write lock.
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
#include "store/store.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/clock.h"
#include "store/migrations.h"

enum stmt_id {
    ST_UPSERT_LEAD,
    ST_INSERT_LEAD_NEW,
    ST_INSERT_EXEC,
    ST_GET_LEAD,
    ST_LIST_LEADS,
    ST_COUNT_LEADS,
    ST_LIST_EXECS,
    ST_HEALTH,
    ST_CACHE_GET,
    ST_CONTACT_DNC,
    ST_CONTACT_GET,
    ST_RUN_CREATE,
    ST_RUN_UPDATE,
    ST_RUN_GET,
    ST_RUNS_OPEN,
    ST_FIND_EMAIL,
    ST_FIND_NAME,
    ST_CACHE_PUT,
    ST_APPROVAL_PUT,
    ST_APPROVAL_ID,
    ST_APPROVAL_GET,
    ST_APPROVAL_LIST,
    ST_APPROVAL_DECIDE,
    ST_OUTBOX_ADD,
    ST_OUTBOX_LIST,
    ST_OUTBOX_DUE,
    ST_OUTBOX_MARK,
    ST_OUTBOX_CANCEL,
    ST_OUTBOX_TOUCHES,
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_COUNT
};

#define LEAD_COLS                                                                                  \
    "id, company_name, industry, company_size, employees_min, employees_max, "                     \
    "annual_revenue, website, country, contact_name, contact_title, contact_email, "               \
    "contact_phone, linkedin_url, data, qualification_score, qualification_tier, "                 \
    "qualification_reasoning, qualified_at, created_at, updated_at"

#define LEAD_FILTER                                                                                \
    " WHERE (?1 IS NULL OR qualification_tier = ?1)"                                               \
    " AND (?2 < 0 OR qualification_score >= ?2)"                                                   \
    " AND (?3 IS NULL OR company_name LIKE ?3 ESCAPE '\\' OR contact_name LIKE ?3 ESCAPE "         \
    "'\\' OR contact_email LIKE ?3 ESCAPE '\\' OR industry LIKE ?3 ESCAPE '\\')"

#define APPROVAL_COLS                                                                              \
    "id, thread_id, interrupt_id, lead_id, status, request, response, reviewer, changes, "         \
    "created_at, decided_at"
#define OUTBOX_COLS                                                                                \
    "id, idempotency_key, kind, thread_id, lead_id, to_email, payload, status, due_at, "           \
    "attempts, last_error, delivered_id, created_at, updated_at, sent_at"

static const char *const stmt_sql[ST_COUNT] = {
    [ST_UPSERT_LEAD] =
        "INSERT INTO leads (" LEAD_COLS ") VALUES "
        "(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?20) "
        "ON CONFLICT (id) DO UPDATE SET company_name=excluded.company_name, "
        "industry=excluded.industry, company_size=excluded.company_size, "
        "employees_min=excluded.employees_min, employees_max=excluded.employees_max, "
        "annual_revenue=excluded.annual_revenue, website=excluded.website, "
        "country=excluded.country, contact_name=excluded.contact_name, "
        "contact_title=excluded.contact_title, contact_email=excluded.contact_email, "
        "contact_phone=excluded.contact_phone, linkedin_url=excluded.linkedin_url, "
        "data=excluded.data, "
        "qualification_score=COALESCE(excluded.qualification_score, qualification_score), "
        "qualification_tier=COALESCE(excluded.qualification_tier, qualification_tier), "
        "qualification_reasoning=COALESCE(excluded.qualification_reasoning, "
        "qualification_reasoning), qualified_at=COALESCE(excluded.qualified_at, qualified_at), "
        "updated_at=excluded.updated_at",
    [ST_INSERT_LEAD_NEW] =
        "INSERT INTO leads (" LEAD_COLS ") VALUES "
        "(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?20) "
        "ON CONFLICT (id) DO NOTHING",
    [ST_INSERT_EXEC] =
        "INSERT INTO agent_executions (id, lead_id, agent_type, thread_id, status, input, "
        "output, error_message, processing_time_ms, success, created_at) VALUES "
        "(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
    [ST_GET_LEAD] = "SELECT " LEAD_COLS " FROM leads WHERE id = ?1",
    [ST_LIST_LEADS] = "SELECT " LEAD_COLS " FROM leads" LEAD_FILTER
                      " ORDER BY created_at DESC, id LIMIT ?4 OFFSET ?5",
    [ST_COUNT_LEADS] = "SELECT count(*) FROM leads" LEAD_FILTER,
    [ST_LIST_EXECS] =
        "SELECT id, agent_type, thread_id, status, input, output, error_message, "
        "processing_time_ms, success, created_at FROM agent_executions WHERE lead_id = ?1 "
        "ORDER BY created_at DESC, id LIMIT ?2",
    [ST_HEALTH] = "SELECT max(version) FROM schema_migrations",
    [ST_FIND_EMAIL] = "SELECT id FROM leads WHERE contact_email = ?1 COLLATE NOCASE "
                      "ORDER BY created_at LIMIT 1",
    [ST_FIND_NAME] = "SELECT id, website, contact_email FROM leads WHERE company_name = ?1 "
                     "COLLATE NOCASE ORDER BY created_at",
    [ST_CONTACT_DNC] = "INSERT INTO contacts (email, do_not_contact, reason, source, updated_at) "
                       "VALUES (?1, 1, ?2, ?3, ?4) ON CONFLICT (email) DO UPDATE SET "
                       "do_not_contact = 1, reason = excluded.reason, source = excluded.source, "
                       "updated_at = excluded.updated_at",
    [ST_CONTACT_GET] = "SELECT email, do_not_contact, reason, source, updated_at FROM contacts "
                       "WHERE email = ?1",
    [ST_RUN_CREATE] = "INSERT INTO runs (id, lead_id, thread_id, status, input, created_at, "
                      "updated_at) VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?5)",
    [ST_RUN_UPDATE] = "UPDATE runs SET status = ?2, output = COALESCE(?3, output), "
                      "error = COALESCE(?4, error), updated_at = ?5 WHERE id = ?1",
    [ST_RUN_GET] = "SELECT id, lead_id, thread_id, status, input, output, error, created_at, "
                   "updated_at FROM runs WHERE id = ?1",
    [ST_RUNS_OPEN] = "SELECT id, lead_id, thread_id, input FROM runs WHERE status IN "
                     "('queued', 'running') ORDER BY created_at, id",
    [ST_CACHE_GET] = "SELECT data FROM enrichment_cache WHERE cache_key = ?1 AND expires_at > ?2",
    [ST_CACHE_PUT] = "INSERT INTO enrichment_cache (cache_key, provider, data, created_at, "
                     "expires_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (cache_key) DO UPDATE "
                     "SET provider = excluded.provider, data = excluded.data, "
                     "created_at = excluded.created_at, expires_at = excluded.expires_at",
    [ST_APPROVAL_PUT] = "INSERT INTO approvals (id, thread_id, interrupt_id, lead_id, status, "
                        "request, created_at) VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6) "
                        "ON CONFLICT (thread_id, interrupt_id) DO NOTHING",
    [ST_APPROVAL_ID] = "SELECT id FROM approvals WHERE thread_id = ?1 AND interrupt_id = ?2",
    [ST_APPROVAL_GET] = "SELECT " APPROVAL_COLS " FROM approvals WHERE id = ?1",
    [ST_APPROVAL_LIST] = "SELECT " APPROVAL_COLS " FROM approvals WHERE (?1 IS NULL OR status = "
                         "?1) ORDER BY created_at DESC, id DESC LIMIT ?2",
    [ST_APPROVAL_DECIDE] = "UPDATE approvals SET status = ?2, response = ?3, reviewer = ?4, "
                           "changes = ?5, decided_at = ?6 WHERE id = ?1 AND status = 'pending'",
    [ST_OUTBOX_ADD] = "INSERT INTO outbox (id, idempotency_key, kind, thread_id, lead_id, "
                      "to_email, payload, status, due_at, created_at, updated_at) VALUES "
                      "(?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', ?8, ?9, ?9) "
                      "ON CONFLICT (idempotency_key) DO NOTHING",
    [ST_OUTBOX_LIST] = "SELECT " OUTBOX_COLS " FROM outbox WHERE (?1 IS NULL OR status = ?1) "
                       "AND (?2 IS NULL OR to_email = ?2) ORDER BY created_at DESC, id DESC "
                       "LIMIT ?3",
    [ST_OUTBOX_DUE] = "SELECT " OUTBOX_COLS " FROM outbox WHERE status = 'queued' AND due_at <= "
                      "?1 ORDER BY due_at, id LIMIT ?2",
    [ST_OUTBOX_MARK] =
        "UPDATE outbox SET status = ?2, delivered_id = COALESCE(?3, delivered_id), "
        "last_error = COALESCE(?4, last_error), "
        "due_at = CASE WHEN ?5 > 0 THEN ?5 ELSE due_at END, "
        "attempts = attempts + (?2 IN ('sent', 'failed') OR ?5 > 0), "
        "sent_at = CASE WHEN ?2 = 'sent' THEN ?6 ELSE sent_at END, updated_at = ?6 WHERE id = ?1",
    [ST_OUTBOX_CANCEL] = "UPDATE outbox SET status = 'cancelled', last_error = ?5, updated_at = "
                         "?3 WHERE (?1 IS NULL OR thread_id = ?1) AND (?4 IS NULL OR to_email = "
                         "?4) AND kind = ?2 AND status = 'queued'",
    [ST_OUTBOX_TOUCHES] = "SELECT count(*) AS n FROM outbox WHERE to_email = ?1 AND status IN "
                          "('queued', 'sending', 'sent') AND due_at >= ?2",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
};

struct conn {
    sqlite3 *db;
    sqlite3_stmt *stmts[ST_COUNT];
    bool busy;
};

/* One queued write: a lead and its execution, waiting for the group commit. Lives on
 * the waiting caller's stack; the leader fills rc/inserted/err, then sets done. */
struct write_job {
    const struct sa_lead_row *lead;
    const struct sa_exec_row *exec;
    bool only_new;
    bool inserted;
    bool done;
    int rc;
    struct sa_err err;
    struct write_job *next;
};

struct sqlite_store {
    struct sa_store base; /* first: callers see a struct sa_store */
    struct conn *conns;   /* readers */
    int nconns;
    pthread_mutex_t pool_lock;
    pthread_cond_t pool_cond;
    struct conn writer;         /* used only by the current leader (or migrate) */
    pthread_mutex_t queue_lock; /* guards the queue, leader_active and jobs' done */
    pthread_cond_t queue_cond;
    struct write_job *head, *tail;
    bool leader_active;
    bool memory; /* ":memory:": the one reader borrows the writer's handle */
};

static int db_error(struct sa_err *err, sqlite3 *db, const char *what)
{
    return sa_err_set(err, SA_ESTORE, "sqlite: %s: %s", what, db ? sqlite3_errmsg(db) : "?");
}

static struct conn *conn_get(struct sqlite_store *s)
{
    pthread_mutex_lock(&s->pool_lock);
    for (;;) {
        for (int i = 0; i < s->nconns; i++) {
            if (!s->conns[i].busy) {
                s->conns[i].busy = true;
                pthread_mutex_unlock(&s->pool_lock);
                return &s->conns[i];
            }
        }
        pthread_cond_wait(&s->pool_cond, &s->pool_lock);
    }
}

static void conn_put(struct sqlite_store *s, struct conn *c)
{
    pthread_mutex_lock(&s->pool_lock);
    c->busy = false;
    pthread_cond_signal(&s->pool_cond);
    pthread_mutex_unlock(&s->pool_lock);
}

/* The prepared statement, reset and unbound, ready for new bindings. */
static sqlite3_stmt *stmt(struct conn *c, enum stmt_id id, struct sa_err *err)
{
    if (!c->stmts[id]) {
        if (sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->stmts[id],
                               NULL) != SQLITE_OK) {
            db_error(err, c->db, "prepare");
            return NULL;
        }
    }
    sqlite3_reset(c->stmts[id]);
    sqlite3_clear_bindings(c->stmts[id]);
    return c->stmts[id];
}

static int run_simple(struct conn *c, enum stmt_id id, struct sa_err *err)
{
    sqlite3_stmt *st = stmt(c, id, err);
    if (!st)
        return SA_ESTORE;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : db_error(err, c->db, stmt_sql[id]);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* Finalises c's statements and closes its handle unless it is borrowed (in-memory). */
static void close_conn(struct conn *c, bool close_db)
{
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(c->stmts[i]);
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

static int open_conn(const char *path, struct conn *c, bool shared, struct sa_err *err)
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
    static const char pragmas[] = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                                  "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000; "
                                  "PRAGMA mmap_size=268435456;";
    char *msg = NULL;
    if (sqlite3_exec(c->db, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = sa_err_set(err, SA_ESTORE, "sqlite: %s: %s", path, msg ? msg : "pragma failed");
        sqlite3_free(msg);
        return rc;
    }
    return 0;
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
    s->base.ops = &sa_store_sqlite;
    /* An in-memory database is private to its connection: there the one reader borrows
     * the writer's handle (opened serialised) with its own statements. */
    s->memory = memory;
    s->nconns = memory ? 1 : (pool_size < 1 ? 1 : pool_size);
    s->conns = calloc((size_t)s->nconns + 1, sizeof *s->conns);
    pthread_mutex_init(&s->pool_lock, NULL);
    pthread_cond_init(&s->pool_cond, NULL);
    pthread_mutex_init(&s->queue_lock, NULL);
    pthread_cond_init(&s->queue_cond, NULL);
    if (!s->conns) {
        sqlite_close(&s->base);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    if (open_conn(url, &s->writer, memory, err)) {
        sqlite_close(&s->base);
        return err->code;
    }
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

/* Runs before the store is shared (at start-up), on the writer connection. */
static int sqlite_migrate(struct sa_store *base, struct sa_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    struct conn *c = &s->writer;
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

static int sqlite_health(struct sa_store *base, char *detail, size_t cap, struct sa_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    struct conn *c = conn_get(s);
    int rc = SA_ESTORE;
    sqlite3_stmt *st = stmt(c, ST_HEALTH, err);
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        snprintf(detail, cap, "schema version %d", sqlite3_column_int(st, 0));
        rc = 0;
    } else if (st) {
        db_error(err, c->db, "health check");
    }
    if (st)
        sqlite3_reset(st);
    conn_put(s, c);
    return rc;
}

static void bind_lead(sqlite3_stmt *st, const struct sa_lead_row *l, const char *now)
{
    bind_text(st, 1, l->id);
    bind_text(st, 2, l->company_name);
    bind_text(st, 3, l->industry);
    bind_text(st, 4, l->company_size);
    if (l->employees_min >= 0)
        sqlite3_bind_int64(st, 5, l->employees_min);
    if (l->employees_max >= 0)
        sqlite3_bind_int64(st, 6, l->employees_max);
    if (l->annual_revenue >= 0)
        sqlite3_bind_double(st, 7, l->annual_revenue);
    bind_text(st, 8, l->website);
    bind_text(st, 9, l->country);
    bind_text(st, 10, l->contact_name);
    bind_text(st, 11, l->contact_title);
    bind_text(st, 12, l->contact_email);
    bind_text(st, 13, l->contact_phone);
    bind_text(st, 14, l->linkedin_url);
    bind_text(st, 15, l->data);
    if (l->score >= 0) {
        sqlite3_bind_int(st, 16, l->score);
        bind_text(st, 17, l->tier);
        bind_text(st, 18, l->reasoning);
        bind_text(st, 19, now);
    }
    bind_text(st, 20, now);
}

static int insert_exec(struct conn *c, const struct sa_exec_row *e, const char *now,
                       struct sa_err *err)
{
    sqlite3_stmt *st = stmt(c, ST_INSERT_EXEC, err);
    if (!st)
        return SA_ESTORE;
    bind_text(st, 1, e->id);
    bind_text(st, 2, e->lead_id);
    bind_text(st, 3, e->agent_type);
    bind_text(st, 4, e->thread_id);
    bind_text(st, 5, e->success ? "success" : "error");
    bind_text(st, 6, e->input);
    bind_text(st, 7, e->output);
    bind_text(st, 8, e->error_message);
    sqlite3_bind_double(st, 9, e->processing_time_ms);
    sqlite3_bind_int(st, 10, e->success);
    bind_text(st, 11, now);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_error(err, c->db, "insert execution");
    sqlite3_reset(st);
    return rc;
}

/* Applies one job inside the open transaction, under its own savepoint. */
static void apply_job(struct conn *c, struct write_job *j, const char *now)
{
    j->rc = 0;
    if (sqlite3_exec(c->db, "SAVEPOINT job", NULL, NULL, NULL) != SQLITE_OK) {
        j->rc = db_error(&j->err, c->db, "savepoint");
        return;
    }
    sqlite3_stmt *st = stmt(c, j->only_new ? ST_INSERT_LEAD_NEW : ST_UPSERT_LEAD, &j->err);
    if (!st) {
        j->rc = SA_ESTORE;
    } else {
        bind_lead(st, j->lead, now);
        if (sqlite3_step(st) != SQLITE_DONE)
            j->rc = db_error(&j->err, c->db, "write lead");
        sqlite3_reset(st);
    }
    if (!j->rc) {
        j->inserted = sqlite3_changes(c->db) > 0;
        if (j->exec && (j->inserted || !j->only_new))
            j->rc = insert_exec(c, j->exec, now, &j->err);
    }
    /* Some errors (I/O, disk full, out of memory) make SQLite roll back the whole
     * transaction itself; then there is no savepoint left to undo (commit_batch sees it). */
    if (sqlite3_get_autocommit(c->db))
        return;
    if (j->rc)
        sqlite3_exec(c->db, "ROLLBACK TO job", NULL, NULL, NULL);
    sqlite3_exec(c->db, "RELEASE job", NULL, NULL, NULL);
}

/* Fails every job of the batch with err: nothing of the batch was committed. */
static void fail_batch(struct write_job *batch, int rc, const struct sa_err *err)
{
    for (struct write_job *j = batch; j; j = j->next) {
        j->rc = rc;
        j->err = *err;
        j->inserted = false;
    }
}

/* The leader's work: every job of the batch in one transaction. */
static void commit_batch(struct sqlite_store *s, struct write_job *batch)
{
    struct conn *c = &s->writer;
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    struct sa_err err = {0};
    if (!sqlite3_get_autocommit(c->db)) /* a failed ROLLBACK left a transaction open */
        (void)run_simple(c, ST_ROLLBACK, NULL);
    int rc = run_simple(c, ST_BEGIN, &err);
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
            fail_batch(batch, SA_ESTORE, &lost);
            return;
        }
    }
    if ((rc = run_simple(c, ST_COMMIT, &err)) != 0) {
        if (!sqlite3_get_autocommit(c->db))
            (void)run_simple(c, ST_ROLLBACK, NULL);
        fail_batch(batch, rc, &err);
    }
}

/* Queues a job and returns when it is committed (or failed); see the file comment. */
static int write_invocation(struct sa_store *base, const struct sa_lead_row *l,
                            const struct sa_exec_row *e, bool only_new, bool *inserted,
                            struct sa_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    struct write_job job = {.lead = l, .exec = e, .only_new = only_new};
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
    if (inserted)
        *inserted = job.inserted;
    if (job.rc && err)
        *err = job.err;
    return job.rc;
}

static int sqlite_save_invocation(struct sa_store *base, const struct sa_lead_row *l,
                                  const struct sa_exec_row *e, struct sa_err *err)
{
    return write_invocation(base, l, e, false, NULL, err);
}

static int sqlite_insert_lead_if_new(struct sa_store *base, const struct sa_lead_row *l,
                                     const struct sa_exec_row *e, bool *inserted,
                                     struct sa_err *err)
{
    *inserted = false;
    return write_invocation(base, l, e, true, inserted, err);
}

static json_t *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? json_stringn((const char *)t, (size_t)sqlite3_column_bytes(st, i)) : json_null();
}

static json_t *col_int(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null()
                                                     : json_integer(sqlite3_column_int64(st, i));
}

static json_t *col_json(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t)
        return json_null();
    json_t *v = json_loadb((const char *)t, (size_t)sqlite3_column_bytes(st, i), 0, NULL);
    return v ? v : json_null();
}

static json_t *lead_from_row(sqlite3_stmt *st)
{
    json_t *contact = json_pack("{s:o, s:o, s:o, s:o, s:o}", "name", col_text(st, 9), "title",
                                col_text(st, 10), "email", col_text(st, 11), "phone",
                                col_text(st, 12), "linkedin_url", col_text(st, 13));
    json_t *qual =
        sqlite3_column_type(st, 15) == SQLITE_NULL
            ? json_null()
            : json_pack("{s:o, s:o, s:o, s:o}", "score", col_int(st, 15), "tier", col_text(st, 16),
                        "reasoning", col_text(st, 17), "qualified_at", col_text(st, 18));
    json_t *rev = sqlite3_column_type(st, 6) == SQLITE_NULL
                      ? json_null()
                      : json_real(sqlite3_column_double(st, 6));
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
                     col_text(st, 0), "company_name", col_text(st, 1), "industry", col_text(st, 2),
                     "company_size", col_text(st, 3), "employees_min", col_int(st, 4),
                     "employees_max", col_int(st, 5), "annual_revenue", rev, "website",
                     col_text(st, 7), "country", col_text(st, 8), "contact_info", contact, "data",
                     col_json(st, 14), "qualification", qual, "created_at", col_text(st, 19),
                     "updated_at", col_text(st, 20));
}

static int sqlite_get_lead(struct sa_store *base, const char *id, json_t **out, struct sa_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    *out = NULL;
    struct conn *c = conn_get(s);
    int rc = SA_ESTORE;
    sqlite3_stmt *st = stmt(c, ST_GET_LEAD, err);
    if (!st)
        goto out;
    bind_text(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        *out = lead_from_row(st);
        rc = *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
    } else if (step == SQLITE_DONE) {
        rc = sa_err_set(err, SA_ENOTFOUND, "lead %s not found", id);
    } else {
        db_error(err, c->db, "get lead");
    }
    sqlite3_reset(st);
out:
    conn_put(s, c);
    return rc;
}

static void bind_filter(sqlite3_stmt *st, const struct sa_lead_query *q, char *like, size_t cap)
{
    bind_text(st, 1, q->tier);
    sqlite3_bind_int(st, 2, q->min_score);
    if (q->search) {
        /* %term% with LIKE's wildcards in the term escaped */
        size_t o = 0;
        like[o++] = '%';
        for (const char *p = q->search; *p && o + 3 < cap; p++) {
            if (*p == '%' || *p == '_' || *p == '\\')
                like[o++] = '\\';
            like[o++] = *p;
        }
        like[o++] = '%';
        like[o] = '\0';
        bind_text(st, 3, like);
    } else {
        sqlite3_bind_null(st, 3);
    }
}

static int sqlite_list_leads(struct sa_store *base, const struct sa_lead_query *q, json_t **out,
                             struct sa_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    *out = NULL;
    char like[2 * 4 * 200 + 3]; /* q: 200 characters, each up to 4 bytes, each escaped */
    struct conn *c = conn_get(s);
    int rc = SA_ESTORE;
    json_t *items = json_array();
    long total = 0;
    sqlite3_stmt *st = stmt(c, ST_COUNT_LEADS, err);
    if (!st)
        goto out;
    bind_filter(st, q, like, sizeof like);
    if (sqlite3_step(st) != SQLITE_ROW) {
        db_error(err, c->db, "count leads");
        sqlite3_reset(st);
        goto out;
    }
    total = (long)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (!(st = stmt(c, ST_LIST_LEADS, err)))
        goto out;
    bind_filter(st, q, like, sizeof like);
    sqlite3_bind_int(st, 4, q->limit);
    sqlite3_bind_int(st, 5, q->offset);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(items, lead_from_row(st));
    sqlite3_reset(st);
    if (step != SQLITE_DONE) {
        db_error(err, c->db, "list leads");
        goto out;
    }
    *out = json_pack("{s:O, s:I, s:i, s:i}", "items", items, "total", (json_int_t)total, "limit",
                     q->limit, "offset", q->offset);
    rc = *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
out:
    json_decref(items);
    conn_put(s, c);
    return rc;
}

static int sqlite_list_executions(struct sa_store *base, const char *lead_id, int limit,
                                  json_t **out, struct sa_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    *out = NULL;
    struct conn *c = conn_get(s);
    int rc = SA_ESTORE;
    json_t *items = json_array();
    sqlite3_stmt *st = stmt(c, ST_LIST_EXECS, err);
    if (!st)
        goto out;
    bind_text(st, 1, lead_id);
    sqlite3_bind_int(st, 2, limit);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        json_array_append_new(
            items, json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:f, s:b, s:o}", "id",
                             col_text(st, 0), "agent_type", col_text(st, 1), "thread_id",
                             col_text(st, 2), "status", col_text(st, 3), "input", col_json(st, 4),
                             "output", col_json(st, 5), "error_message", col_text(st, 6),
                             "processing_time_ms", sqlite3_column_double(st, 7), "success",
                             sqlite3_column_int(st, 8), "created_at", col_text(st, 9)));
    }
    sqlite3_reset(st);
    if (step != SQLITE_DONE) {
        db_error(err, c->db, "list executions");
        goto out;
    }
    *out = json_incref(items);
    rc = 0;
out:
    json_decref(items);
    conn_put(s, c);
    return rc;
}

/* Takes the writer for the caller alone (as a group-commit leader would), so a
 * multi-row transaction does not interleave with the queue. */
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

static int sqlite_save_many(struct sa_store *base, const struct sa_lead_row *leads,
                            const struct sa_exec_row *execs, int n, struct sa_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    struct conn *c = &s->writer;
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    writer_acquire(s);
    if (!sqlite3_get_autocommit(c->db))
        (void)run_simple(c, ST_ROLLBACK, NULL);
    int rc = run_simple(c, ST_BEGIN, err);
    for (int i = 0; i < n && !rc; i++) {
        struct write_job j = {.lead = &leads[i], .exec = execs ? &execs[i] : NULL};
        apply_job(c, &j, now);
        if (j.rc) {
            rc = j.rc;
            if (err)
                *err = j.err;
        } else if (sqlite3_get_autocommit(c->db)) {
            rc = sa_err_set(err, SA_ESTORE, "sqlite: transaction rolled back: %s",
                            sqlite3_errmsg(c->db));
        }
    }
    if (!rc)
        rc = run_simple(c, ST_COMMIT, err);
    if (rc && !sqlite3_get_autocommit(c->db))
        (void)run_simple(c, ST_ROLLBACK, NULL);
    writer_release(s);
    return rc;
}

/* The domain of an e-mail or a website URL, lowercased, into out. */
static void domain_of(const char *s, char *out, size_t cap)
{
    out[0] = '\0';
    if (!s)
        return;
    const char *at = strrchr(s, '@');
    if (at)
        s = at + 1;
    else if (strncasecmp(s, "https://", 8) == 0)
        s += 8;
    else if (strncasecmp(s, "http://", 7) == 0)
        s += 7;
    if (strncasecmp(s, "www.", 4) == 0)
        s += 4;
    size_t o = 0;
    for (; *s && !strchr("/?#:", *s) && o + 1 < cap; s++)
        out[o++] = (char)tolower((unsigned char)*s);
    out[o] = '\0';
}

static int sqlite_find_lead(struct sa_store *base, const char *email, const char *name,
                            const char *domain, char id[37], struct sa_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    id[0] = '\0';
    struct conn *c = conn_get(s);
    int rc = SA_ENOTFOUND;
    sqlite3_stmt *st;
    if (email && (st = stmt(c, ST_FIND_EMAIL, err))) {
        bind_text(st, 1, email);
        if (sqlite3_step(st) == SQLITE_ROW) {
            snprintf(id, 37, "%s", (const char *)sqlite3_column_text(st, 0));
            rc = 0;
        }
        sqlite3_reset(st);
    }
    if (rc && name && domain && *domain && (st = stmt(c, ST_FIND_NAME, err))) {
        bind_text(st, 1, name);
        while (rc && sqlite3_step(st) == SQLITE_ROW) {
            char d1[256], d2[256];
            domain_of((const char *)sqlite3_column_text(st, 1), d1, sizeof d1);
            domain_of((const char *)sqlite3_column_text(st, 2), d2, sizeof d2);
            if (strcmp(d1, domain) == 0 || strcmp(d2, domain) == 0) {
                snprintf(id, 37, "%s", (const char *)sqlite3_column_text(st, 0));
                rc = 0;
            }
        }
        sqlite3_reset(st);
    }
    conn_put(s, c);
    if (rc)
        sa_err_set(err, SA_ENOTFOUND, "no such lead");
    return rc;
}

/* One statement on the writer, outside the group commit (runs change rarely). */
static int write_one(struct sqlite_store *s, enum stmt_id id, const char *const *args, int n,
                     bool must_change, struct sa_err *err)
{
    writer_acquire(s);
    struct conn *c = &s->writer;
    int rc = SA_ESTORE;
    sqlite3_stmt *st = stmt(c, id, err);
    if (st) {
        for (int i = 0; i < n; i++)
            bind_text(st, i + 1, args[i]);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_error(err, c->db, stmt_sql[id]);
        if (!rc && must_change && sqlite3_changes(c->db) == 0)
            rc = sa_err_set(err, SA_ENOTFOUND, "no such run");
        sqlite3_reset(st);
    }
    writer_release(s);
    return rc;
}

static int sqlite_contact_dnc(struct sa_store *base, const char *email, const char *reason,
                              const char *source, struct sa_err *err)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const char *args[] = {email, reason, source, now};
    return write_one((struct sqlite_store *)base, ST_CONTACT_DNC, args, 4, false, err);
}

static int sqlite_contact_get(struct sa_store *base, const char *email, json_t **out,
                              struct sa_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    *out = NULL;
    struct conn *c = conn_get(s);
    int rc = SA_ESTORE;
    sqlite3_stmt *st = stmt(c, ST_CONTACT_GET, err);
    if (st) {
        bind_text(st, 1, email);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            *out = json_pack("{s:o, s:b, s:o, s:o, s:o}", "email", col_text(st, 0),
                             "do_not_contact", sqlite3_column_int(st, 1), "reason", col_text(st, 2),
                             "source", col_text(st, 3), "updated_at", col_text(st, 4));
            rc = 0;
        } else if (step == SQLITE_DONE) {
            rc = sa_err_set(err, SA_ENOTFOUND, "no such contact");
        } else {
            db_error(err, c->db, "get contact");
        }
        sqlite3_reset(st);
    }
    conn_put(s, c);
    return rc;
}

static int sqlite_run_create(struct sa_store *base, const char *id, const char *lead_id,
                             const char *thread_id, const char *input, struct sa_err *err)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const char *args[] = {id, lead_id, thread_id, input, now};
    return write_one((struct sqlite_store *)base, ST_RUN_CREATE, args, 5, false, err);
}

static int sqlite_run_update(struct sa_store *base, const char *id, const char *status,
                             const char *output, const char *error, struct sa_err *err)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const char *args[] = {id, status, output, error, now};
    return write_one((struct sqlite_store *)base, ST_RUN_UPDATE, args, 5, true, err);
}

static int sqlite_run_get(struct sa_store *base, const char *id, json_t **out, struct sa_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    *out = NULL;
    struct conn *c = conn_get(s);
    int rc = SA_ESTORE;
    sqlite3_stmt *st = stmt(c, ST_RUN_GET, err);
    if (st) {
        bind_text(st, 1, id);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            *out = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "run_id",
                             col_text(st, 0), "lead_id", col_text(st, 1), "thread_id",
                             col_text(st, 2), "status", col_text(st, 3), "input", col_json(st, 4),
                             "output", col_json(st, 5), "error", col_text(st, 6), "created_at",
                             col_text(st, 7), "updated_at", col_text(st, 8));
            rc = 0;
        } else if (step == SQLITE_DONE) {
            rc = sa_err_set(err, SA_ENOTFOUND, "no run %s", id);
        } else {
            db_error(err, c->db, "get run");
        }
        sqlite3_reset(st);
    }
    conn_put(s, c);
    return rc;
}

static int sqlite_runs_unfinished(struct sa_store *base, json_t **out, struct sa_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    *out = json_array();
    struct conn *c = conn_get(s);
    int rc = SA_ESTORE;
    sqlite3_stmt *st = stmt(c, ST_RUNS_OPEN, err);
    if (st) {
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW)
            json_array_append_new(*out, json_pack("{s:o, s:o, s:o, s:o}", "id", col_text(st, 0),
                                                  "lead_id", col_text(st, 1), "thread_id",
                                                  col_text(st, 2), "input", col_json(st, 3)));
        rc = step == SQLITE_DONE ? 0 : db_error(err, c->db, "unfinished runs");
        sqlite3_reset(st);
    }
    conn_put(s, c);
    return rc;
}

/* ISO 8601 UTC stamp of now + offset seconds (same format as sa_iso8601_now, so the
 * strings compare in time order). */
static void iso_in(double offset, char out[SA_ISO8601_LEN])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double t = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + offset;
    time_t sec = (time_t)t;
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(out, SA_ISO8601_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)((t - (double)sec) * 1000) % 1000);
}

static int sqlite_cache_get(struct sa_store *base, const char *key, json_t **out,
                            struct sa_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    *out = NULL;
    char now[SA_ISO8601_LEN];
    iso_in(0, now);
    struct conn *c = conn_get(s);
    int rc = SA_ESTORE;
    sqlite3_stmt *st = stmt(c, ST_CACHE_GET, err);
    if (st) {
        bind_text(st, 1, key);
        bind_text(st, 2, now);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            *out = col_json(st, 0);
            rc = json_is_null(*out) ? sa_err_set(err, SA_ENOTFOUND, "cache entry unreadable") : 0;
            if (rc) {
                json_decref(*out);
                *out = NULL;
            }
        } else if (step == SQLITE_DONE) {
            rc = sa_err_set(err, SA_ENOTFOUND, "not cached");
        } else {
            db_error(err, c->db, "cache get");
        }
        sqlite3_reset(st);
    }
    conn_put(s, c);
    return rc;
}

static int sqlite_cache_put(struct sa_store *base, const char *key, const char *provider,
                            const json_t *data, double ttl_seconds, struct sa_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    char now[SA_ISO8601_LEN], until[SA_ISO8601_LEN];
    iso_in(0, now);
    iso_in(ttl_seconds, until);
    char *text = json_dumps(data, JSON_COMPACT);
    if (!text)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    /* a cache write is its own small transaction on the writer connection */
    writer_acquire(s);
    struct conn *c = &s->writer;
    int rc = SA_ESTORE;
    sqlite3_stmt *st = stmt(c, ST_CACHE_PUT, err);
    if (st) {
        bind_text(st, 1, key);
        bind_text(st, 2, provider);
        bind_text(st, 3, text);
        bind_text(st, 4, now);
        bind_text(st, 5, until);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_error(err, c->db, "cache put");
        sqlite3_reset(st);
    }
    writer_release(s);
    free(text);
    return rc;
}

static int sqlite_count(struct sa_store *base, const char *table, long *out, struct sa_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    *out = 0;
    if (strcmp(table, "leads") != 0 && strcmp(table, "agent_executions") != 0 &&
        strcmp(table, "enrichment_cache") != 0)
        return sa_err_set(err, SA_EINVAL, "unknown table %s", table);
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    struct conn *c = conn_get(s);
    sqlite3_stmt *st = NULL;
    int rc = SA_ESTORE;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        *out = (long)sqlite3_column_int64(st, 0);
        rc = 0;
    } else {
        db_error(err, c->db, "count");
    }
    sqlite3_finalize(st);
    conn_put(s, c);
    return rc;
}

/* ---- approvals and the outbox ------------------------------------------------------- */

/* A row as a JSON object keyed by column name; the JSON columns parsed. */
static json_t *row_object(sqlite3_stmt *st)
{
    json_t *o = json_object();
    int n = sqlite3_column_count(st);
    for (int i = 0; i < n; i++) {
        const char *name = sqlite3_column_name(st, i);
        bool is_json = strcmp(name, "request") == 0 || strcmp(name, "response") == 0 ||
                       strcmp(name, "changes") == 0 || strcmp(name, "payload") == 0;
        json_t *v = sqlite3_column_type(st, i) == SQLITE_INTEGER ? col_int(st, i)
                    : is_json                                    ? col_json(st, i)
                                                                 : col_text(st, i);
        json_object_set_new(o, name, v);
    }
    return o;
}

/* A statement argument: text (NULL binds NULL) or, with is_int, an integer. */
struct arg {
    const char *text;
    long long num;
    bool is_int;
};
#define TXT(v) ((struct arg){.text = (v)})
#define NUM(v) ((struct arg){.num = (v), .is_int = true})

static void bind_args(sqlite3_stmt *st, const struct arg *a, int n)
{
    for (int i = 0; i < n; i++) {
        if (a[i].is_int)
            sqlite3_bind_int64(st, i + 1, a[i].num);
        else
            bind_text(st, i + 1, a[i].text);
    }
}

/* Runs a read statement on a pooled connection: *out (new reference) gets its rows as
 * objects keyed by column name. */
static int query_rows(struct sqlite_store *s, enum stmt_id id, const struct arg *a, int n,
                      json_t **out, struct sa_err *err)
{
    *out = NULL;
    struct conn *c = conn_get(s);
    int rc = SA_ESTORE;
    sqlite3_stmt *st = stmt(c, id, err);
    if (st) {
        bind_args(st, a, n);
        *out = json_array();
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW)
            json_array_append_new(*out, row_object(st));
        rc = step == SQLITE_DONE ? 0 : db_error(err, c->db, stmt_sql[id]);
        sqlite3_reset(st);
        if (rc) {
            json_decref(*out);
            *out = NULL;
        }
    }
    conn_put(s, c);
    return rc;
}

/* Runs a write statement on the writer (the caller holds it); *changes (optional) gets
 * the rows it changed. */
static int exec_locked(struct conn *c, enum stmt_id id, const struct arg *a, int n, int *changes,
                       struct sa_err *err)
{
    sqlite3_stmt *st = stmt(c, id, err);
    if (!st)
        return SA_ESTORE;
    bind_args(st, a, n);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_error(err, c->db, stmt_sql[id]);
    if (changes)
        *changes = rc ? 0 : sqlite3_changes(c->db);
    sqlite3_reset(st);
    return rc;
}

/* exec_locked on its own: takes and releases the writer. */
static int exec_args(struct sqlite_store *s, enum stmt_id id, const struct arg *a, int n,
                     int *changes, struct sa_err *err)
{
    writer_acquire(s);
    int rc = exec_locked(&s->writer, id, a, n, changes, err);
    writer_release(s);
    return rc;
}

static int sqlite_approval_put(struct sa_store *base, const char *id, const char *thread_id,
                               const char *interrupt_id, const char *lead_id, const char *request,
                               char out_id[37], struct sa_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    out_id[0] = '\0';
    const struct arg a[] = {TXT(id),      TXT(thread_id), TXT(interrupt_id),
                            TXT(lead_id), TXT(request),   TXT(now)};
    int rc = exec_args(s, ST_APPROVAL_PUT, a, 6, NULL, err);
    json_t *rows = NULL;
    if (!rc) /* new or already there: the id of the row for this interrupt */
        rc = query_rows(s, ST_APPROVAL_ID, a + 1, 2, &rows, err);
    const char *got = json_string_value(json_object_get(json_array_get(rows, 0), "id"));
    if (!rc && !got)
        rc = sa_err_set(err, SA_ESTORE, "approval %s vanished", id);
    if (!rc)
        snprintf(out_id, 37, "%s", got);
    json_decref(rows);
    return rc;
}

static int sqlite_approval_get(struct sa_store *base, const char *id, json_t **out,
                               struct sa_err *err)
{
    json_t *rows = NULL;
    int rc = query_rows((struct sqlite_store *)base, ST_APPROVAL_GET, &TXT(id), 1, &rows, err);
    *out = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    if (!rc && !*out)
        rc = sa_err_set(err, SA_ENOTFOUND, "no such approval");
    return rc;
}

static int sqlite_approval_list(struct sa_store *base, const char *status, int limit, json_t **out,
                                struct sa_err *err)
{
    const struct arg a[] = {TXT(status), NUM(limit)};
    return query_rows((struct sqlite_store *)base, ST_APPROVAL_LIST, a, 2, out, err);
}

static int sqlite_approval_decide(struct sa_store *base, const char *id, const char *status,
                                  const char *response, const char *reviewer, const char *changes,
                                  struct sa_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const struct arg a[] = {TXT(id),       TXT(status),  TXT(response),
                            TXT(reviewer), TXT(changes), TXT(now)};
    int changed = 0;
    int rc = exec_args(s, ST_APPROVAL_DECIDE, a, 6, &changed, err);
    if (rc || changed)
        return rc;
    json_t *was = NULL; /* not pending: decided already, or no such approval */
    rc = sqlite_approval_get(base, id, &was, err);
    json_decref(was);
    return rc ? rc : sa_err_set(err, SA_ECONFLICT, "the approval was decided already");
}

static int sqlite_outbox_add(struct sa_store *base, const struct sa_outbox_item *items, int n,
                             int *added, struct sa_err *err)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    *added = 0;
    writer_acquire(s);
    struct conn *c = &s->writer;
    int rc = run_simple(c, ST_BEGIN, err);
    for (int i = 0; !rc && i < n; i++) {
        const struct sa_outbox_item *it = &items[i];
        const struct arg a[] = {TXT(it->id),        TXT(it->idempotency_key), TXT(it->kind),
                                TXT(it->thread_id), TXT(it->lead_id),         TXT(it->to_email),
                                TXT(it->payload),   NUM(it->due_at),          TXT(now)};
        int changed = 0;
        rc = exec_locked(c, ST_OUTBOX_ADD, a, 9, &changed, err);
        *added += changed;
    }
    if (!rc)
        rc = run_simple(c, ST_COMMIT, err);
    if (rc && !sqlite3_get_autocommit(c->db))
        (void)run_simple(c, ST_ROLLBACK, NULL);
    if (rc)
        *added = 0;
    writer_release(s);
    return rc;
}

static int sqlite_outbox_list(struct sa_store *base, const char *status, const char *email,
                              int limit, json_t **out, struct sa_err *err)
{
    const struct arg a[] = {TXT(status), TXT(email), NUM(limit)};
    return query_rows((struct sqlite_store *)base, ST_OUTBOX_LIST, a, 3, out, err);
}

static int sqlite_outbox_due(struct sa_store *base, long long now, int limit, json_t **out,
                             struct sa_err *err)
{
    const struct arg a[] = {NUM(now), NUM(limit)};
    return query_rows((struct sqlite_store *)base, ST_OUTBOX_DUE, a, 2, out, err);
}

static int sqlite_outbox_mark(struct sa_store *base, const char *id, const char *status,
                              const char *delivered_id, const char *error, long long retry_at,
                              struct sa_err *err)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const struct arg a[] = {TXT(id),    TXT(status),   TXT(delivered_id),
                            TXT(error), NUM(retry_at), TXT(now)};
    int changed = 0;
    int rc = exec_args((struct sqlite_store *)base, ST_OUTBOX_MARK, a, 6, &changed, err);
    return rc || changed ? rc : sa_err_set(err, SA_ENOTFOUND, "no such outbox item");
}

static int sqlite_outbox_cancel(struct sa_store *base, const char *thread_id, const char *email,
                                const char *kind, const char *reason, int *n, struct sa_err *err)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const struct arg a[] = {TXT(thread_id), TXT(kind), TXT(now), TXT(email), TXT(reason)};
    return exec_args((struct sqlite_store *)base, ST_OUTBOX_CANCEL, a, 5, n, err);
}

static int sqlite_outbox_touches(struct sa_store *base, const char *email, long long since, long *n,
                                 struct sa_err *err)
{
    const struct arg a[] = {TXT(email), NUM(since)};
    json_t *rows = NULL;
    int rc = query_rows((struct sqlite_store *)base, ST_OUTBOX_TOUCHES, a, 2, &rows, err);
    *n = (long)json_integer_value(json_object_get(json_array_get(rows, 0), "n"));
    json_decref(rows);
    return rc;
}

const struct sa_store_ops sa_store_sqlite = {
    .scheme = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .migrate = sqlite_migrate,
    .health = sqlite_health,
    .save_invocation = sqlite_save_invocation,
    .insert_lead_if_new = sqlite_insert_lead_if_new,
    .get_lead = sqlite_get_lead,
    .list_leads = sqlite_list_leads,
    .list_executions = sqlite_list_executions,
    .save_many = sqlite_save_many,
    .find_lead = sqlite_find_lead,
    .contact_dnc = sqlite_contact_dnc,
    .contact_get = sqlite_contact_get,
    .approval_put = sqlite_approval_put,
    .approval_get = sqlite_approval_get,
    .approval_list = sqlite_approval_list,
    .approval_decide = sqlite_approval_decide,
    .outbox_add = sqlite_outbox_add,
    .outbox_list = sqlite_outbox_list,
    .outbox_due = sqlite_outbox_due,
    .outbox_mark = sqlite_outbox_mark,
    .outbox_cancel = sqlite_outbox_cancel,
    .outbox_touches = sqlite_outbox_touches,
    .run_create = sqlite_run_create,
    .run_update = sqlite_run_update,
    .run_get = sqlite_run_get,
    .runs_unfinished = sqlite_runs_unfinished,
    .cache_get = sqlite_cache_get,
    .cache_put = sqlite_cache_put,
    .count = sqlite_count,
};
