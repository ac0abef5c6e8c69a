/* The PostgreSQL backend's core: the connection pool, statements with a client-side
 * deadline, transactions, error mapping, the row helpers every aggregate file uses (pg.h),
 * migrations and the health check; and the backend's ops, assembled from the aggregate
 * files into sa_backend_pg for the registry in store/store.c. */
#include "store/postgres/pg.h"

#include <errno.h>
#include <time.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "store/backend.h"
#include "store/migrations.h"

/* A pool of libpq connections, each held by one caller at a time; a caller that finds
 * none free waits on a condition variable. Connections open lazily, on first use, so a
 * store opens (and the server starts) while PostgreSQL is still coming up; a connection
 * found broken (its status is not CONNECTION_OK, or a statement failed with a
 * connection-class error) is closed when it goes back to the pool and reopened by its
 * next user, so the service recovers without a restart when PostgreSQL returns.
 *
 * PgBouncer in transaction mode hands each transaction (each statement outside one) to
 * whichever server connection is free, so nothing may rely on session state: every
 * statement goes through the unnamed statement of the extended protocol
 * (PQsendQueryParams: parse, bind and execute in one round trip, parameters as text), no
 * session-level prepared statement, no SET, no session advisory lock (migrate takes a
 * transaction-level one). The startup packet carries only what PgBouncer passes
 * (application_name, client_encoding).
 *
 * Every statement has a deadline (PG_STATEMENT_TIMEOUT_MS), kept on our side rather than
 * by the server's statement_timeout (a session setting, which PgBouncer would not keep):
 * the connection is non-blocking and we poll() its socket; past the deadline the query
 * is cancelled (PQcancel), its result drained, and the call fails with SA_ETIMEDOUT.
 * Connecting has its own deadline (PG_CONNECT_TIMEOUT_MS), in milliseconds rather than
 * libpq's connect_timeout (whole seconds, at least 2). */

#define PG_MAX_ARGS 64
#define PG_CANCEL_GRACE_MS 1000 /* how long a cancelled query may take to answer */
#define PG_TXN_ATTEMPTS 4       /* a transaction's tries on serialization failure or deadlock */
/* The transaction-level advisory lock migrate holds ("sa-migr" in ASCII): two instances
 * starting at once apply each migration once. */
#define PG_MIGRATE_LOCK 0x73612d6d696772LL

struct pg_conn {
    PGconn *pg; /* NULL: not open (yet, or since it broke) */
    struct pg_store *store;
    bool busy;
    bool broken;      /* close it when it goes back to the pool */
    bool in_txn;      /* inside pg_transaction: a broken connection is not reopened */
    char sqlstate[6]; /* of the last failed statement, "" when none */
};

struct pg_store {
    struct sa_store base; /* first: callers see a struct sa_store */
    char *url;            /* the whole postgresql:// URL, for libpq */
    struct pg_conn *conns;
    int nconns;
    int connect_ms, statement_ms;
    pthread_mutex_t lock;
    pthread_cond_t cond;
};

static const struct sa_store_ops store_ops; /* at the end of the file */

static const struct pg_sql BEGIN = {"begin", "BEGIN"};
static const struct pg_sql COMMIT = {"commit", "COMMIT"};
static const struct pg_sql ROLLBACK = {"rollback", "ROLLBACK"};

static long long mono_ms(void)
{
    return (long long)(sa_now_ns() / 1000000u);
}

/* ---- errors ------------------------------------------------------------------------- */

/* PostgreSQL's own text goes to the log only, never into err, and only its primary
 * message: the DETAIL of a constraint violation quotes the row's key values ("Key
 * (contact_email)=(jane@acme.io) already exists"), and the CONTEXT and the statement may
 * quote arguments, so neither is logged. The primary message rarely quotes a value (an
 * invalid input's text does: 'invalid input syntax for type json: "..."'); sa_log masks
 * the e-mail addresses and phone numbers of every string field it writes (base/log.h,
 * sa_mask_pii), this one included. The SQLSTATE, what (the statement's name) and the
 * table and constraint the server names say what failed without any value. */
static void log_pg(const char *what, const char *sqlstate, const PGresult *res, const char *msg)
{
    const char *table = res ? PQresultErrorField(res, PG_DIAG_TABLE_NAME) : NULL;
    const char *constraint = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
    if (res && PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY))
        msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    /* libpq's own text (no result: a lost connection) has the same shape: the first line
     * only, never a DETAIL line after it */
    size_t len = msg ? strcspn(msg, "\n") : 0;
    json_t *f = json_pack("{s:s, s:s, s:s%}", "what", what ? what : "?", "sqlstate",
                          sqlstate && *sqlstate ? sqlstate : "-", "error", msg && len ? msg : "-",
                          msg && len ? len : 1);
    if (f && table)
        json_object_set_new(f, "table", json_string(table));
    if (f && constraint)
        json_object_set_new(f, "constraint", json_string(constraint));
    sa_log(SA_LOG_ERROR, "postgresql statement failed", f);
}

/* SQLSTATEs after which the connection cannot be trusted: connection exceptions (08),
 * the server shutting down or not yet up (57P01-57P03), and a connection with no state. */
static bool connection_class(const char *st)
{
    return !*st || strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 ||
           strcmp(st, "57P02") == 0 || strcmp(st, "57P03") == 0;
}

int pg_fail(struct pg_conn *c, const PGresult *res, const char *what, struct sa_err *err)
{
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    bool lost = !c || !c->pg || PQstatus(c->pg) != CONNECTION_OK || !st;
    if (c)
        snprintf(c->sqlstate, sizeof c->sqlstate, "%s", st ? st : "");
    const char *msg = c && c->pg ? PQerrorMessage(c->pg) : NULL;
    log_pg(what, st, res, msg);
    if (lost || connection_class(st)) {
        if (c)
            c->broken = true;
        return sa_err_set(err, SA_ESTORE, "postgresql: %s: database unavailable", what);
    }
    /* our triggers raise SA409 with words meant for the client (migration 001) */
    if (strcmp(st, "SA409") == 0)
        return sa_err_set(err, SA_ECONFLICT, "%s",
                          PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
    /* A constraint violation (a duplicate key included) is a storage error, as SQLite's
     * are: the contract suite expects SA_ESTORE for a duplicate execution or outbox id.
     * An op that means "already exists" says so itself (ON CONFLICT, then SA_ECONFLICT). */
    if (strncmp(st, "23", 2) == 0)
        return sa_err_set(err, SA_ESTORE, "postgresql: %s: refused by a constraint (SQLSTATE %s)",
                          what, st);
    if (strncmp(st, "22", 2) == 0)
        return sa_err_set(err, SA_EINVAL, "%s: a value was refused", what);
    if (strcmp(st, "57014") == 0)
        return sa_err_set(err, SA_ETIMEDOUT, "postgresql: %s: timed out", what);
    return sa_err_set(err, SA_ESTORE, "postgresql: %s failed (SQLSTATE %s)", what, st);
}

/* ---- connections -------------------------------------------------------------------- */

/* Waits until c's socket is ready for events or deadline (mono_ms; 0: none) passes.
 * Returns 1 when ready, 0 at the deadline, -1 on error. */
static int wait_socket(PGconn *pg, short events, long long deadline)
{
    struct pollfd p = {.fd = PQsocket(pg), .events = events};
    if (p.fd < 0)
        return -1;
    for (;;) {
        int ms = -1;
        if (deadline) {
            long long left = deadline - mono_ms();
            if (left <= 0)
                return 0;
            ms = left > 60000 ? 60000 : (int)left;
        }
        int n = poll(&p, 1, ms);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

/* The server's notices ("relation ... already exists, skipping") are not errors: libpq
 * would print them on stderr, outside the structured log. */
static void on_notice(void *arg, const char *message)
{
    (void)arg;
    sa_logf(SA_LOG_DEBUG, "postgresql notice: %s", message);
}

static void conn_close(struct pg_conn *c)
{
    if (c->pg)
        PQfinish(c->pg);
    c->pg = NULL;
    c->broken = false;
}

/* Opens c's connection within the connect deadline (PQconnectStartParams +
 * PQconnectPoll, so the deadline is ours, in milliseconds). */
static int conn_open(struct pg_conn *c, struct sa_err *err)
{
    conn_close(c);
    /* Our defaults first: the URL, expanded in dbname's place, overrides any of them
     * (?application_name=...). TCP keepalives find a peer gone silent (a network
     * partition) within about a minute instead of the system's two hours. */
    const char *const keys[] = {"application_name",
                                "client_encoding",
                                "keepalives_idle",
                                "keepalives_interval",
                                "keepalives_count",
                                "dbname",
                                NULL};
    const char *const vals[] = {"sales-agent", "UTF8", "30", "10", "3", c->store->url, NULL};
    PGconn *pg = PQconnectStartParams(keys, vals, 1); /* 1: dbname is a URL to expand */
    if (!pg)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    long long deadline = mono_ms() + c->store->connect_ms;
    PostgresPollingStatusType ps = PGRES_POLLING_WRITING;
    bool timed_out = false;
    while (PQstatus(pg) != CONNECTION_BAD && ps != PGRES_POLLING_OK && ps != PGRES_POLLING_FAILED) {
        int w = wait_socket(pg, ps == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
        if (w <= 0) {
            timed_out = w == 0;
            break;
        }
        ps = PQconnectPoll(pg);
    }
    if (ps != PGRES_POLLING_OK || PQstatus(pg) != CONNECTION_OK) {
        log_pg("connect", NULL, NULL, timed_out ? "connect timed out" : PQerrorMessage(pg));
        PQfinish(pg);
        return sa_err_set(err, SA_ESTORE, "postgresql: cannot connect%s",
                          timed_out ? " (timed out)" : "");
    }
    if (PQsetnonblocking(pg, 1) != 0) {
        PQfinish(pg);
        return sa_err_set(err, SA_ESTORE, "postgresql: cannot connect");
    }
    PQsetNoticeProcessor(pg, on_notice, NULL);
    c->pg = pg;
    return 0;
}

/* A free connection, waiting for one at most a statement's deadline (every holder gives
 * its connection back within about that), so a request behind an exhausted pool still
 * gets its answer (503) within the timeouts; NULL, with err set, when none came free. */
static struct pg_conn *conn_get(struct pg_store *s, struct sa_err *err)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    long long ns = until.tv_nsec + (long long)s->statement_ms * 1000000LL;
    until.tv_sec += (time_t)(ns / 1000000000LL);
    until.tv_nsec = (long)(ns % 1000000000LL);
    pthread_mutex_lock(&s->lock);
    for (;;) {
        for (int i = 0; i < s->nconns; i++) {
            if (!s->conns[i].busy) {
                s->conns[i].busy = true;
                pthread_mutex_unlock(&s->lock);
                s->conns[i].sqlstate[0] = '\0';
                return &s->conns[i];
            }
        }
        if (pthread_cond_timedwait(&s->cond, &s->lock, &until) == ETIMEDOUT) {
            pthread_mutex_unlock(&s->lock);
            sa_err_set(err, SA_ETIMEDOUT,
                       "postgresql: no database connection came free in %d ms (DB_POOL_SIZE)",
                       s->statement_ms);
            return NULL;
        }
    }
}

/* Gives c back; a connection that broke, or is left inside a transaction (a failed
 * ROLLBACK), is closed first, to be reopened by its next user. */
static void conn_put(struct pg_store *s, struct pg_conn *c)
{
    if (c->pg && (c->broken || PQstatus(c->pg) != CONNECTION_OK ||
                  PQtransactionStatus(c->pg) != PQTRANS_IDLE))
        conn_close(c);
    c->in_txn = false;
    pthread_mutex_lock(&s->lock);
    c->busy = false;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/* ---- statements --------------------------------------------------------------------- */

/* Cancels the running query and drains its result. The connection is left usable when
 * the server answers within the grace period, else marked broken. PQcancel opens a
 * connection of its own and, in libpq 15, has no timeout: refused at once when the
 * server is down, it could wait for the system's connect timeout only if the server's
 * host stopped answering altogether mid-query. */
static void cancel_query(struct pg_conn *c)
{
    char buf[256];
    PGcancel *cn = PQgetCancel(c->pg);
    if (!cn || !PQcancel(cn, buf, (int)sizeof buf))
        c->broken = true;
    PQfreeCancel(cn);
    long long deadline = mono_ms() + PG_CANCEL_GRACE_MS;
    while (!c->broken && PQisBusy(c->pg)) {
        if (wait_socket(c->pg, POLLIN, deadline) <= 0 || !PQconsumeInput(c->pg))
            c->broken = true;
    }
    for (PGresult *r; !c->broken && (r = PQgetResult(c->pg)) != NULL;)
        PQclear(r);
}

/* Makes c ready for q: opens it when it is not open or broke (unless inside a
 * transaction, which died with it). Outside a transaction it first notices a connection
 * the server closed while it sat idle in the pool (a restart, pg_terminate_backend, an
 * idle timeout): the server sends a FATAL error and closes the socket, which then polls
 * readable. An idle connection of ours is otherwise never sent anything (no LISTEN, no
 * SET), so any input there means it is going: it is replaced before a statement is lost
 * on it. */
static int conn_ready(struct pg_conn *c, const struct pg_sql *q, struct sa_err *err)
{
    if (c->pg && !c->broken && !c->in_txn && PQstatus(c->pg) == CONNECTION_OK) {
        struct pollfd p = {.fd = PQsocket(c->pg), .events = POLLIN};
        if (poll(&p, 1, 0) != 0)
            c->broken = true;
    }
    if (c->pg && !c->broken && PQstatus(c->pg) == CONNECTION_OK)
        return 0;
    if (c->in_txn)
        return pg_fail(c, NULL, q->what, err);
    return conn_open(c, err);
}

/* Sends q with its arguments (simple: q->text as a simple query, which may hold several
 * statements and takes no arguments: migrations) and waits for its result, within the
 * statement deadline (timeout_ms; 0: none). *res is the result (its first error, if any);
 * a failure is already mapped (pg_fail) and *res NULL. */
static int run_statement(struct pg_conn *c, const struct pg_sql *q, const struct pg_arg *a, int n,
                         bool simple, int timeout_ms, PGresult **res, struct sa_err *err)
{
    *res = NULL;
    c->sqlstate[0] = '\0';
    int rc = conn_ready(c, q, err);
    if (rc)
        return rc;
    SA_ASSERT(n >= 0 && n <= PG_MAX_ARGS);
    if (n < 0 || n > PG_MAX_ARGS)
        return sa_err_set(err, SA_ESTORE, "postgresql: %s: too many arguments", q->what);
    const char *values[PG_MAX_ARGS];
    char nums[PG_MAX_ARGS][32];
    for (int i = 0; i < n; i++) {
        if (a[i].type == PG_ARG_INT) {
            snprintf(nums[i], sizeof nums[i], "%lld", a[i].num);
            values[i] = nums[i];
        } else if (a[i].type == PG_ARG_REAL) {
            snprintf(nums[i], sizeof nums[i], "%.17g", a[i].real);
            values[i] = nums[i];
        } else {
            values[i] = a[i].text;
        }
    }
    int sent = simple ? PQsendQuery(c->pg, q->text)
                      : PQsendQueryParams(c->pg, q->text, n, NULL, values, NULL, NULL, 0);
    if (!sent)
        return pg_fail(c, NULL, q->what, err);
    long long deadline = timeout_ms > 0 ? mono_ms() + timeout_ms : 0;
    int f;
    /* a non-blocking connection may hold part of a large statement: flush it */
    while ((f = PQflush(c->pg)) == 1) {
        int w = wait_socket(c->pg, POLLIN | POLLOUT, deadline);
        if (w == 0)
            goto timed_out;
        if (w < 0 || !PQconsumeInput(c->pg))
            return pg_fail(c, NULL, q->what, err);
    }
    if (f < 0)
        return pg_fail(c, NULL, q->what, err);
    while (PQisBusy(c->pg)) {
        int w = wait_socket(c->pg, POLLIN, deadline);
        if (w == 0)
            goto timed_out;
        if (w < 0 || !PQconsumeInput(c->pg))
            return pg_fail(c, NULL, q->what, err);
    }
    PGresult *keep = NULL;
    for (PGresult *r; (r = PQgetResult(c->pg)) != NULL;) {
        ExecStatusType st = PQresultStatus(keep);
        if (keep && (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE)) {
            PQclear(r); /* the first error is the one that says what went wrong */
            continue;
        }
        PQclear(keep);
        keep = r;
        if (PQstatus(c->pg) != CONNECTION_OK)
            break;
    }
    ExecStatusType st = PQresultStatus(keep);
    if (!keep || (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)) {
        rc = pg_fail(c, keep, q->what, err);
        PQclear(keep);
        return rc;
    }
    *res = keep;
    return 0;
timed_out:
    cancel_query(c);
    snprintf(c->sqlstate, sizeof c->sqlstate, "57014");
    log_pg(q->what, "57014", NULL, "statement deadline passed; cancelled");
    return sa_err_set(err, SA_ETIMEDOUT, "postgresql: %s: timed out", q->what);
}

static int run(struct pg_conn *c, const struct pg_sql *q, const struct pg_arg *a, int n,
               PGresult **res, struct sa_err *err)
{
    return run_statement(c, q, a, n, false, c->store->statement_ms, res, err);
}

/* ---- reading a row ------------------------------------------------------------------ */

json_t *pg_col_text(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return json_null();
    return json_stringn(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
}

json_t *pg_col_int(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return json_null();
    const char *v = PQgetvalue(res, row, col);
    if (v[0] == 't' || v[0] == 'f') /* a boolean, as SQLite's 1/0 */
        return json_integer(v[0] == 't');
    return json_integer(strtoll(v, NULL, 10));
}

json_t *pg_col_json(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return json_null();
    json_t *v = json_loadb(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col), 0, NULL);
    return v ? v : json_null();
}

/* Type OIDs (catalog/pg_type_d.h, stable across versions). */
enum {
    OID_BOOL = 16,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_JSON = 114,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
    OID_NUMERIC = 1700,
    OID_JSONB = 3802,
};

static bool is_json_column(const char *name)
{
    static const char *const names[] = {"input",    "output",  "data",   "request",
                                        "response", "changes", "payload"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return false;
}

static json_t *col_value(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return json_null();
    Oid t = PQftype(res, col);
    const char *v = PQgetvalue(res, row, col);
    switch (t) {
    case OID_BOOL:
    case OID_INT2:
    case OID_INT4:
    case OID_INT8: return pg_col_int(res, row, col);
    case OID_NUMERIC: /* sum() of integers is numeric: an integer when it is one */
        if (!strpbrk(v, ".eEN"))
            return pg_col_int(res, row, col);
        return json_real(strtod(v, NULL));
    case OID_FLOAT4:
    case OID_FLOAT8: return json_real(strtod(v, NULL));
    case OID_JSON:
    case OID_JSONB: return pg_col_json(res, row, col);
    default:
        return is_json_column(PQfname(res, col)) ? pg_col_json(res, row, col)
                                                 : pg_col_text(res, row, col);
    }
}

json_t *pg_row_object(const PGresult *res, int row)
{
    json_t *o = json_object();
    int n = PQnfields(res);
    for (int i = 0; o && i < n; i++) {
        if (json_object_set_new(o, PQfname(res, i), col_value(res, row, i))) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

/* ---- statements --------------------------------------------------------------------- */

static int rows_of(const PGresult *res, pg_row_fn row, json_t **out, struct sa_err *err)
{
    if (!row)
        row = pg_row_object;
    json_t *rows = json_array();
    int rc = rows ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
    for (int i = 0; !rc && i < PQntuples(res); i++)
        if (json_array_append_new(rows, row(res, i)))
            rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    if (rc)
        json_decref(rows);
    else
        *out = rows;
    return rc;
}

int pg_conn_rows(struct pg_conn *c, const struct pg_sql *q, const struct pg_arg *a, int n,
                 pg_row_fn row, json_t **out, struct sa_err *err)
{
    *out = NULL;
    PGresult *res = NULL;
    int rc = run(c, q, a, n, &res, err);
    if (!rc)
        rc = rows_of(res, row, out, err);
    PQclear(res);
    return rc;
}

int pg_conn_one(struct pg_conn *c, const struct pg_sql *q, const struct pg_arg *a, int n,
                pg_row_fn row, json_t **out, struct sa_err *err)
{
    json_t *rows = NULL;
    int rc = pg_conn_rows(c, q, a, n, row, &rows, err);
    *out = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return rc;
}

int pg_query_rows(struct sa_store *base, const struct pg_sql *q, const struct pg_arg *a, int n,
                  pg_row_fn row, json_t **out, struct sa_err *err)
{
    struct pg_store *s = (struct pg_store *)base;
    struct pg_conn *c = conn_get(s, err);
    if (!c)
        return SA_ETIMEDOUT;
    int rc = pg_conn_rows(c, q, a, n, row, out, err);
    if (rc == SA_ESTORE && c->broken) /* lost under it: a read is safe to run again */
        rc = pg_conn_rows(c, q, a, n, row, out, err);
    conn_put(s, c);
    return rc;
}

int pg_query_one(struct sa_store *s, const struct pg_sql *q, const struct pg_arg *a, int n,
                 pg_row_fn row, json_t **out, struct sa_err *err)
{
    json_t *rows = NULL;
    int rc = pg_query_rows(s, q, a, n, row, &rows, err);
    *out = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return rc;
}

int pg_exec_locked(struct pg_conn *c, const struct pg_sql *q, const struct pg_arg *a, int n,
                   int *changes, struct sa_err *err)
{
    if (changes)
        *changes = 0;
    PGresult *res = NULL;
    int rc = run(c, q, a, n, &res, err);
    if (!rc && changes) {
        const char *t = PQcmdTuples(res);
        *changes = *t ? (int)strtol(t, NULL, 10) : 0;
    }
    PQclear(res);
    return rc;
}

int pg_exec_args(struct sa_store *base, const struct pg_sql *q, const struct pg_arg *a, int n,
                 int *changes, struct sa_err *err)
{
    struct pg_store *s = (struct pg_store *)base;
    struct pg_conn *c = conn_get(s, err);
    if (!c)
        return SA_ETIMEDOUT;
    int rc = pg_exec_locked(c, q, a, n, changes, err);
    conn_put(s, c);
    return rc;
}

int pg_query_raw(struct sa_store *base, struct pg_conn *c, const struct pg_sql *q,
                 const struct pg_arg *a, int n, PGresult **res, struct sa_err *err)
{
    *res = NULL;
    if (c)
        return run(c, q, a, n, res, err);
    struct pg_store *s = (struct pg_store *)base;
    if (!(c = conn_get(s, err)))
        return SA_ETIMEDOUT;
    int rc = run(c, q, a, n, res, err);
    conn_put(s, c);
    return rc;
}

/* ---- transactions ------------------------------------------------------------------- */

static bool retryable(const char *sqlstate)
{
    return strcmp(sqlstate, "40001") == 0 || strcmp(sqlstate, "40P01") == 0;
}

/* Rolls back what is open on c; a connection that cannot is dropped by conn_put. */
static void txn_rollback(struct pg_conn *c)
{
    c->in_txn = false;
    if (!c->pg || c->broken || PQtransactionStatus(c->pg) == PQTRANS_IDLE)
        return;
    PGresult *res = NULL;
    char keep[6];
    memcpy(keep, c->sqlstate, sizeof keep); /* the failure's, for the retry decision */
    if (run(c, &ROLLBACK, NULL, 0, &res, NULL) != 0)
        c->broken = true;
    PQclear(res);
    memcpy(c->sqlstate, keep, sizeof keep);
}

/* One attempt: BEGIN, fn, COMMIT on c. */
static int txn_once(struct pg_conn *c, pg_write_fn fn, void *arg, struct sa_err *err)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    PGresult *res = NULL;
    int rc = run(c, &BEGIN, NULL, 0, &res, err);
    if (rc == SA_ESTORE && c->broken) /* lost under it: nothing ran, begin again */
        rc = run(c, &BEGIN, NULL, 0, &res, err);
    PQclear(res);
    res = NULL;
    if (rc)
        return rc;
    c->in_txn = true;
    rc = fn(c, arg, now, err);
    if (!rc) {
        rc = run(c, &COMMIT, NULL, 0, &res, err);
        /* COMMIT of a transaction an error aborted answers ROLLBACK, not an error: fn
         * went on past a failed statement */
        if (!rc && strcmp(PQcmdStatus(res), "COMMIT") != 0)
            rc = sa_err_set(err, SA_ESTORE, "postgresql: transaction rolled back");
        PQclear(res);
    }
    if (rc)
        txn_rollback(c);
    c->in_txn = false;
    return rc;
}

int pg_transaction(struct sa_store *base, pg_write_fn fn, void *arg, struct sa_err *err)
{
    struct pg_store *s = (struct pg_store *)base;
    int rc = 0;
    for (int attempt = 0; attempt < PG_TXN_ATTEMPTS; attempt++) {
        struct pg_conn *c = conn_get(s, err);
        if (!c)
            return SA_ETIMEDOUT;
        rc = txn_once(c, fn, arg, err);
        bool again = rc && retryable(c->sqlstate);
        conn_put(s, c);
        if (!again)
            break;
        usleep((useconds_t)(1000 << attempt)); /* 1, 2, 4 ms: let the other side finish */
    }
    return rc;
}

/* ---- open, close, migrate, health ---------------------------------------------------- */

static void pg_close(struct sa_store *base)
{
    struct pg_store *s = (struct pg_store *)base;
    for (int i = 0; i < s->nconns; i++)
        conn_close(&s->conns[i]);
    free(s->conns);
    free(s->url);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s);
}

char *pg_url(const char *location)
{
    size_t n = strlen(location);
    char *url = malloc(n + sizeof "postgresql://");
    if (url)
        snprintf(url, n + sizeof "postgresql://", "postgresql://%s", location);
    return url;
}

static int pg_open(const char *location, int pool_size, struct sa_store **out, struct sa_err *err)
{
    *out = NULL;
    if (!*location)
        return sa_err_set(err, SA_ECONFIG,
                          "DATABASE_URL: postgresql:// needs a host and a database "
                          "(postgresql://USER@HOST:PORT/DB)");
    char *msg = NULL;
    char *url = pg_url(location);
    PQconninfoOption *opts = url ? PQconninfoParse(url, &msg) : NULL;
    if (!opts) {
        /* libpq's message may quote the URL, password included: not echoed */
        PQfreemem(msg);
        free(url);
        return url ? sa_err_set(err, SA_ECONFIG, "DATABASE_URL: not a valid postgresql:// URL")
                   : sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    PQconninfoFree(opts);
    struct pg_store *s = calloc(1, sizeof *s);
    int n = pool_size < 1 ? 1 : pool_size;
    struct pg_conn *conns = s ? calloc((size_t)n, sizeof *conns) : NULL;
    if (!conns) {
        free(s);
        free(url);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    s->base.ops = &store_ops;
    s->url = url;
    s->conns = conns;
    s->nconns = n;
    s->connect_ms = sa_store_timeouts.connect_ms;
    s->statement_ms = sa_store_timeouts.statement_ms;
    for (int i = 0; i < n; i++)
        conns[i].store = s;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca; /* conn_get's deadline is on the monotonic clock */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    *out = &s->base;
    return 0;
}

static const struct pg_sql MIGRATE_LOCK = {"migrate", "SELECT pg_advisory_xact_lock($1::bigint)"};
static const struct pg_sql MIGRATE_TABLE = {
    "migrate", "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
               "name text NOT NULL, applied_at text NOT NULL)"};
static const struct pg_sql MIGRATE_APPLIED = {
    "migrate", "SELECT count(*) FROM schema_migrations WHERE version = $1::integer"};
static const struct pg_sql MIGRATE_RECORD = {
    "migrate", "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)"};

/* Applies mg on c in its own transaction, under the migration lock, unless it is applied
 * already (by this run's predecessor or by another instance that held the lock first).
 * Applied means recorded under its own version, not "below the highest recorded": the
 * saver's 050 was numbered apart from the store's, so a database migrated before 002
 * existed holds 001 and 050 and must still get 002.
 * No statement deadline: a migration may rewrite a large table. */
static int migrate_one(struct pg_conn *c, const struct sa_migration *mg, struct sa_err *err)
{
    PGresult *res = NULL;
    const struct pg_arg lock = NUM(PG_MIGRATE_LOCK);
    int rc = run_statement(c, &BEGIN, NULL, 0, false, 0, &res, err);
    c->in_txn = rc == 0;
    const struct pg_arg version = NUM(mg->version);
    for (int step = 0; !rc && step < 3; step++) {
        PQclear(res);
        res = NULL;
        const struct pg_sql *q = step == 0   ? &MIGRATE_LOCK
                                 : step == 1 ? &MIGRATE_TABLE
                                             : &MIGRATE_APPLIED;
        rc = run_statement(c, q, step == 0 ? &lock : &version, step == 1 ? 0 : 1, false, 0, &res,
                           err);
    }
    bool pending = !rc && strtol(PQgetvalue(res, 0, 0), NULL, 10) == 0;
    PQclear(res);
    res = NULL;
    if (!rc && pending) {
        const struct pg_sql body = {mg->name, mg->sql};
        rc = run_statement(c, &body, NULL, 0, true, 0, &res, err);
        PQclear(res);
        res = NULL;
        char ts[SA_ISO8601_LEN];
        sa_iso8601_now(ts);
        const struct pg_arg rec[] = {NUM(mg->version), TXT(mg->name), TXT(ts)};
        if (!rc)
            rc = run_statement(c, &MIGRATE_RECORD, rec, DB_N(rec), false, 0, &res, err);
        PQclear(res);
        res = NULL;
    }
    if (!rc)
        rc = run_statement(c, &COMMIT, NULL, 0, false, 0, &res, err);
    PQclear(res);
    if (rc) {
        sa_logf(SA_LOG_ERROR, "postgresql: migration %s failed", mg->name);
        txn_rollback(c);
    }
    c->in_txn = false;
    return rc;
}

/* Each pending migration of store/postgres/migrations/ in its own transaction, recorded
 * in schema_migrations (store/migrations.h). Safe when several instances start at once:
 * each transaction first takes a transaction-level advisory lock (released at its
 * COMMIT, so it works through PgBouncer), and then reads the applied version. */
static int pg_migrate(struct sa_store *base, struct sa_err *err)
{
    struct pg_store *s = (struct pg_store *)base;
    struct pg_conn *c = conn_get(s, err);
    if (!c)
        return SA_ETIMEDOUT;
    int rc = 0;
    for (unsigned i = 0; !rc && i < sa_pg_migrations_count; i++)
        rc = migrate_one(c, &sa_pg_migrations[i], err);
    conn_put(s, c);
    return rc;
}

/* The write probe (store.h write_probe): an upsert of the prober's row in health_probe
 * (migration 002), a real committed write, so a database that answers reads but refuses
 * writes (a full disk, a read-only standby, a lock held too long) fails it. One
 * statement, written once here: write_probe runs it alone, and the health check runs it
 * with the schema version read in the same round trip, so both make the same write to
 * the same row (app/health.c calls both: with the same who, the second is an update of
 * the row the first wrote). */
#define PROBE_UPSERT                                                                               \
    "INSERT INTO health_probe (who, at) VALUES ($1, $2::float8) ON CONFLICT (who) DO UPDATE "      \
    "SET at = excluded.at, probes = health_probe.probes + 1"
static const struct pg_sql PROBE = {"health probe", PROBE_UPSERT};
static const struct pg_sql HEALTH = {
    "health check", "WITH w AS (" PROBE_UPSERT " RETURNING 1) SELECT (SELECT max(version) FROM "
                    "schema_migrations) AS version, (SELECT count(*) FROM w) AS wrote"};

static int pg_write_probe(struct sa_store *s, const char *who, double at, struct sa_err *err)
{
    const struct pg_arg a[] = {TXT(who), DBL(at)};
    int changed = 0;
    int rc = pg_exec_args(s, &PROBE, a, DB_N(a), &changed, err);
    if (!rc && changed != 1)
        rc = sa_err_set(err, SA_ESTORE, "postgresql: health probe: the write was not made");
    return rc;
}

/* The health check probes as this host ("host:NAME", app/health.c's name for it). */
static int pg_health(struct sa_store *s, char *detail, size_t cap, struct sa_err *err)
{
    char who[128] = "host:";
    if (gethostname(who + 5, sizeof who - 6) != 0)
        snprintf(who, sizeof who, "host:unknown");
    who[sizeof who - 1] = '\0';
    const struct pg_arg a[] = {TXT(who), DBL(sa_wall_seconds())};
    json_t *row = NULL;
    int rc = pg_query_one(s, &HEALTH, a, DB_N(a), NULL, &row, err);
    if (!rc && json_integer_value(json_object_get(row, "wrote")) != 1)
        rc = sa_err_set(err, SA_ESTORE, "postgresql: health check: the write was not made");
    if (!rc)
        snprintf(detail, cap, "schema version %d, write ok",
                 (int)json_integer_value(json_object_get(row, "version")));
    json_decref(row);
    return rc;
}

/* ---- the backend --------------------------------------------------------------------- */

static const struct sa_store_ops store_ops = {
    .scheme = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .migrate = pg_migrate,
    .health = pg_health,
    /* retention.c, and the write probe above */
    .prune = sa_pg_prune,
    .threads_finished = sa_pg_threads_finished,
    .write_probe = pg_write_probe,
    /* leads.c */
    .save_invocation = sa_pg_save_invocation,
    .insert_lead_if_new = sa_pg_insert_lead_if_new,
    .get_lead = sa_pg_get_lead,
    .list_leads = sa_pg_list_leads,
    .save_many = sa_pg_save_many,
    .lead_by_email = sa_pg_lead_by_email,
    .leads_by_mailbox = sa_pg_leads_by_mailbox,
    .leads_by_company = sa_pg_leads_by_company,
    .lead_match = sa_pg_lead_match,
    .company_get = sa_pg_company_get,
    /* executions.c */
    .list_executions = sa_pg_list_executions,
    /* runs.c */
    .run_create = sa_pg_run_create,
    .run_update = sa_pg_run_update,
    .run_get = sa_pg_run_get,
    .runs_unfinished = sa_pg_runs_unfinished,
    .runs_list = sa_pg_runs_list,
    .run_claim = sa_pg_run_claim,
    .run_renew = sa_pg_run_renew,
    .run_finish = sa_pg_run_finish,
    .runs_stale = sa_pg_runs_stale,
    /* approvals.c */
    .approval_put = sa_pg_approval_put,
    .approval_get = sa_pg_approval_get,
    .approval_list = sa_pg_approval_list,
    .approval_decide = sa_pg_approval_decide,
    .approval_claim_resume = sa_pg_approval_claim_resume,
    .approval_supersede = sa_pg_approval_supersede,
    .approval_unsupersede = sa_pg_approval_unsupersede,
    /* outbox.c */
    .outbox_add = sa_pg_outbox_add,
    .outbox_list = sa_pg_outbox_list,
    .outbox_kind_list = sa_pg_outbox_kind_list,
    .outbox_kind_counts = sa_pg_outbox_kind_counts,
    .execution_add = sa_pg_execution_add,
    .outbox_due = sa_pg_outbox_due,
    .outbox_claim = sa_pg_outbox_claim,
    .outbox_mark = sa_pg_outbox_mark,
    .outbox_cancel = sa_pg_outbox_cancel,
    .outbox_touches = sa_pg_outbox_touches,
    .outbox_defer = sa_pg_outbox_defer,
    .outbox_sent_times = sa_pg_outbox_sent_times,
    .outbox_sequence = sa_pg_outbox_sequence,
    .outbox_active_sequences = sa_pg_outbox_active_sequences,
    .outbox_cancel_sequence = sa_pg_outbox_cancel_sequence,
    .outbox_requeue_expired = sa_pg_outbox_requeue_expired,
    .outbox_claim_as = sa_pg_outbox_claim_as,
    .outbox_mark_as = sa_pg_outbox_mark_as,
    /* inbound.c */
    .outbox_by_message_id = sa_pg_outbox_by_message_id,
    .inbound_claim = sa_pg_inbound_claim,
    .inbound_finish = sa_pg_inbound_finish,
    /* console.c */
    .lead_draft_pending = sa_pg_lead_draft_pending,
    .conversation_touch = sa_pg_conversation_touch,
    .conversation_list = sa_pg_conversation_list,
    .as_thread_put = sa_pg_as_thread_put,
    .as_thread_get = sa_pg_as_thread_get,
    .as_thread_update = sa_pg_as_thread_update,
    .as_thread_search = sa_pg_as_thread_search,
    .as_thread_delete = sa_pg_as_thread_delete,
    .as_threads_idle = sa_pg_as_threads_idle,
    .as_thread_delete_idle = sa_pg_as_thread_delete_idle,
    /* timeline.c */
    .lead_timeline = sa_pg_lead_timeline,
    /* contacts.c */
    .contact_dnc = sa_pg_contact_dnc,
    .contact_get = sa_pg_contact_get,
    .contact_lift = sa_pg_contact_lift,
    .contact_history = sa_pg_contact_history,
    .contact_list_dnc = sa_pg_contact_list_dnc,
    .secret_get_or_put = sa_pg_secret_get_or_put,
    /* cache.c */
    .cache_get = sa_pg_cache_get,
    .cache_put = sa_pg_cache_put,
    /* keys.c */
    .key_insert = sa_pg_key_insert,
    .key_get = sa_pg_key_get,
    .key_list = sa_pg_key_list,
    .key_revoke = sa_pg_key_revoke,
    .key_touch = sa_pg_key_touch,
    .key_count = sa_pg_key_count,
    /* audit.c */
    .audit_append = sa_pg_audit_append,
    .audit_list = sa_pg_audit_list,
    /* export.c, erase.c */
    .lead_export_page = sa_pg_lead_export_page,
    .lead_export_fields = sa_pg_lead_export_fields,
    .lead_threads = sa_pg_lead_threads,
    .lead_erase = sa_pg_lead_erase,
    /* meetings.c */
    .meeting_hold = sa_pg_meeting_hold,
    .meeting_move = sa_pg_meeting_move,
    .meeting_set_status = sa_pg_meeting_set_status,
    .meeting_get = sa_pg_meeting_get,
    .meeting_list = sa_pg_meeting_list,
    /* mailbox.c */
    .mailbox_claim = sa_pg_mailbox_claim,
    .mailbox_advance = sa_pg_mailbox_advance,
};

/* The registry's entry (store/backend.h): this store, and the saver of saver.c. URLs
 * spelled postgres:// name it too (libpq takes both). */
const struct sa_backend sa_backend_pg = {
    .store = &store_ops,
    .alias = "postgres",
    .saver_open = sa_pg_saver_open,
};
