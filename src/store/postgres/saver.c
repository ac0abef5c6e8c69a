/* The PostgreSQL checkpoint saver (graph/saver.h), opened by the registry (sa_saver_open)
 * on the store's database: the table graph_checkpoints (migrations/050_checkpoints.sql,
 * applied by the store's migrate), on one connection of its own behind a mutex (a
 * checkpoint write is a single-row insert; the engine saves once per super-step).
 *
 * Statements go out with PQsendQueryParams (the unnamed statement: nothing prepared per
 * session, so it works behind PgBouncer in transaction mode), blobs as binary parameters,
 * and each waits at most the store's statement timeout (sa_store_set_timeouts, read at
 * open) before it is cancelled (SA_ETIMEDOUT); connecting has the store's connect timeout.
 * A connection found broken is replaced and the statement sent once more (run), so the
 * saver recovers by itself when PostgreSQL returns. PostgreSQL's own error text goes to
 * the log only. One connection serialises the saver's calls: a put is one short
 * round trip, and the store's pool stays free for requests. */
#include <arpa/inet.h>
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "graph/saver.h"
#include "store/backend.h"
#include "store/postgres/pg.h"

#define RECORD_COLS "id, parent_id, step, \"full\", blob, writes"

static const char Q_PUT[] =
    "INSERT INTO graph_checkpoints (thread_id, id, parent_id, step, \"full\", blob, expires_at) "
    "VALUES ($1, $2, $3, $4::integer, $5::boolean, $6::bytea, $7::float8)";
static const char Q_WRITES[] =
    "UPDATE graph_checkpoints SET writes = $3::bytea WHERE thread_id = $1 AND id = $2";
static const char Q_GET[] =
    "SELECT " RECORD_COLS " FROM graph_checkpoints WHERE thread_id = $1 AND id = $2";
static const char Q_LATEST[] = "SELECT " RECORD_COLS " FROM graph_checkpoints WHERE thread_id = "
                               "$1 ORDER BY id DESC LIMIT 1";
static const char Q_LIST[] = "SELECT id FROM graph_checkpoints WHERE thread_id = $1 ORDER BY id "
                             "DESC LIMIT $2::bigint";
static const char Q_DELETE[] = "DELETE FROM graph_checkpoints WHERE thread_id = $1";
static const char Q_EXCEPT[] = "DELETE FROM graph_checkpoints WHERE thread_id = $1 AND id <> $2";
/* A thread expires when its newest record does: the expired records (found through the
 * partial index on expires_at) that no newer record of their thread follows. Counted and
 * deleted in one statement. */
static const char Q_SWEEP[] =
    "WITH gone AS (SELECT DISTINCT c.thread_id FROM graph_checkpoints c WHERE c.expires_at > 0 "
    "AND c.expires_at <= $1::float8 AND NOT EXISTS (SELECT 1 FROM graph_checkpoints n WHERE "
    "n.thread_id = c.thread_id AND n.id > c.id)), del AS (DELETE FROM graph_checkpoints WHERE "
    "thread_id IN (SELECT thread_id FROM gone)) SELECT count(*) FROM gone";
static const char Q_BYTES[] =
    "SELECT count(*), COALESCE(sum(octet_length(blob) + COALESCE(octet_length(writes), 0) + "
    "octet_length(id) + octet_length(parent_id) + octet_length(thread_id) + 16), 0) "
    "FROM graph_checkpoints WHERE thread_id = $1";
/* the newest record's expiry decides the sweep: cleared, the thread stays (hold) */
static const char Q_HOLD[] =
    "UPDATE graph_checkpoints SET expires_at = 0 WHERE thread_id = $1 AND expires_at > 0 AND "
    "id = (SELECT max(id) FROM graph_checkpoints WHERE thread_id = $1)";
static const char Q_TABLE[] = "SELECT to_regclass('graph_checkpoints') IS NOT NULL";

struct pg_saver {
    struct graph_saver base; /* first */
    PGconn *conn;
    char *url;          /* pg_url(location), for reconnects */
    char connect_s[16]; /* libpq's connect_timeout (whole seconds) */
    int statement_ms;   /* each statement's deadline */
    pthread_mutex_t lock;
};

/* ---- the connection --------------------------------------------------------------- */

static PGconn *connect_to(const struct pg_saver *s)
{
    /* the URL's own settings win over the defaults given before it (expand_dbname) */
    const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *const values[] = {s->connect_s, "sales-agent-saver", s->url, NULL};
    return PQconnectdbParams(keys, values, 1);
}

/* A connection that answers: the current one, or a new one when it broke. */
static int ensure_conn(struct pg_saver *s, struct sa_err *err)
{
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK)
        return 0;
    if (s->conn)
        PQreset(s->conn);
    else
        s->conn = connect_to(s);
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK)
        return 0;
    sa_logf(SA_LOG_ERROR, "checkpoint store: cannot connect to PostgreSQL: %s",
            s->conn ? PQerrorMessage(s->conn) : "out of memory");
    return sa_err_set(err, SA_ESTORE, "checkpoint store: PostgreSQL is unavailable");
}

/* Waits for the result of the query sent on c until deadline_ms (a CLOCK_MONOTONIC
 * time); past it, cancels the query. Returns 0, SA_ETIMEDOUT or SA_ESTORE. */
static int await_result(PGconn *c, long long deadline_ms)
{
    while (PQisBusy(c)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        long long left = deadline_ms - ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
        if (left <= 0) {
            PGcancel *cancel = PQgetCancel(c);
            char why[256];
            if (cancel) {
                (void)PQcancel(cancel, why, (int)sizeof why);
                PQfreeCancel(cancel);
            }
            return SA_ETIMEDOUT;
        }
        struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};
        if (p.fd < 0 || (poll(&p, 1, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR))
            return SA_ESTORE;
        if (!PQconsumeInput(c))
            return SA_ESTORE;
    }
    return 0;
}

/* Runs sql with n parameters (values[i] NULL: NULL; lens[i] > 0 or binary[i]: sent as
 * binary of that length) and returns its result in *res (PQclear it), rows in binary
 * when binary_rows. The caller holds s->lock. what names the op in err. */
static int run_once(struct pg_saver *s, const char *what, const char *sql, int n,
                    const char *const *values, const int *lens, const int *formats,
                    bool binary_rows, PGresult **res, struct sa_err *err)
{
    *res = NULL;
    int rc = ensure_conn(s, err);
    if (rc)
        return rc;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long deadline = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + s->statement_ms;
    if (!PQsendQueryParams(s->conn, sql, n, NULL, values, lens, formats, binary_rows ? 1 : 0))
        rc = SA_ESTORE;
    else
        rc = await_result(s->conn, deadline);
    if (rc) {
        /* cancelled or broken: a server that did not answer in time may not answer the
         * rest either, so the connection goes (a new one is made on the next call) */
        sa_logf(SA_LOG_ERROR, "checkpoint store: %s: %s", what,
                rc == SA_ETIMEDOUT ? "statement timed out" : PQerrorMessage(s->conn));
        PQfinish(s->conn);
        s->conn = NULL;
        return rc == SA_ETIMEDOUT
                   ? sa_err_set(err, SA_ETIMEDOUT, "checkpoint store: %s timed out", what)
                   : sa_err_set(err, SA_ESTORE, "checkpoint store: %s failed", what);
    }
    /* every result of the query is read, so the connection is ready for the next */
    for (PGresult *r; (r = PQgetResult(s->conn));) {
        if (!*res)
            *res = r;
        else
            PQclear(r);
    }
    ExecStatusType st = *res ? PQresultStatus(*res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return 0;
    const char *state = *res ? PQresultErrorField(*res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = *res ? PQresultErrorField(*res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    sa_logf(SA_LOG_ERROR, "checkpoint store: %s: %s %s", what, state ? state : "",
            msg ? msg : PQerrorMessage(s->conn));
    /* cancelled by the server's own statement_timeout (57014) */
    bool timed_out = state && strcmp(state, "57014") == 0;
    PQclear(*res); /* state and msg point into it */
    *res = NULL;
    if (timed_out)
        return sa_err_set(err, SA_ETIMEDOUT, "checkpoint store: %s timed out", what);
    return sa_err_set(err, SA_ESTORE, "checkpoint store: %s failed", what);
}

/* run_once, and once more on a new connection when the first attempt found the
 * connection broken (PostgreSQL restarted, a proxy dropped an idle link): the first call
 * after an outage succeeds rather than failing once. A statement that failed on its own
 * merits, or timed out, is not retried. A put that committed just before its connection
 * broke fails its retry as a duplicate (SA_ESTORE), never stores twice. */
static int run(struct pg_saver *s, const char *what, const char *sql, int n,
               const char *const *values, const int *lens, const int *formats, bool binary_rows,
               PGresult **res, struct sa_err *err)
{
    bool had_conn = s->conn && PQstatus(s->conn) == CONNECTION_OK;
    int rc = run_once(s, what, sql, n, values, lens, formats, binary_rows, res, err);
    if (rc == SA_ESTORE && had_conn && (!s->conn || PQstatus(s->conn) != CONNECTION_OK))
        rc = run_once(s, what, sql, n, values, lens, formats, binary_rows, res, err);
    return rc;
}

/* A decimal count PostgreSQL printed (a row count, count(*)). */
static long long count_of(const char *text)
{
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    return end != text && v >= 0 ? v : 0;
}

/* Text parameters only. */
static int run_text(struct pg_saver *s, const char *what, const char *sql, int n,
                    const char *const *values, PGresult **res, struct sa_err *err)
{
    return run(s, what, sql, n, values, NULL, NULL, false, res, err);
}

/* A write whose result is only its row count (into *changed, when non-NULL). */
static int exec_text(struct pg_saver *s, const char *what, const char *sql, int n,
                     const char *const *values, int *changed, struct sa_err *err)
{
    PGresult *res = NULL;
    int rc = run_text(s, what, sql, n, values, &res, err);
    if (!rc && changed)
        *changed = (int)count_of(PQcmdTuples(res));
    PQclear(res);
    return rc;
}

/* ---- the ops ---------------------------------------------------------------------- */

static int ps_put(struct graph_saver *base, const char *thread_id, const struct graph_record *r,
                  struct sa_err *err)
{
    struct pg_saver *s = (struct pg_saver *)base;
    char step[16], expires[40];
    snprintf(step, sizeof step, "%d", r->step);
    snprintf(expires, sizeof expires, "%.17g", r->expires_at);
    const char *v[] = {
        thread_id, r->id, r->parent_id, step, r->full ? "t" : "f", r->blob ? r->blob : "", expires};
    const int lens[] = {0, 0, 0, 0, 0, (int)r->blob_len, 0};
    const int fmts[] = {0, 0, 0, 0, 0, 1, 0};
    if (r->blob_len > INT32_MAX)
        return sa_err_set(err, SA_ETOOBIG, "checkpoint %s is too large", r->id);
    pthread_mutex_lock(&s->lock);
    PGresult *res = NULL;
    int rc = run(s, "put", Q_PUT, 7, v, lens, fmts, false, &res, err);
    PQclear(res);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int ps_put_writes(struct graph_saver *base, const char *thread_id, const char *id,
                         const char *writes, size_t len, struct sa_err *err)
{
    struct pg_saver *s = (struct pg_saver *)base;
    if (len > INT32_MAX)
        return sa_err_set(err, SA_ETOOBIG, "the writes of checkpoint %s are too large", id);
    const char *v[] = {thread_id, id, writes};
    const int lens[] = {0, 0, (int)len};
    const int fmts[] = {0, 0, 1};
    pthread_mutex_lock(&s->lock);
    PGresult *res = NULL;
    int rc = run(s, "put writes", Q_WRITES, 3, v, lens, fmts, false, &res, err);
    if (!rc && count_of(PQcmdTuples(res)) == 0)
        rc = sa_err_set(err, SA_ENOTFOUND, "checkpoint %s not found", id);
    PQclear(res);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* A copy of a binary column (NUL-terminated past its length), or NULL for SQL NULL. */
static char *copy_col(const PGresult *res, int col, size_t *len, bool *oom)
{
    *len = 0;
    if (PQgetisnull(res, 0, col))
        return NULL;
    size_t n = (size_t)PQgetlength(res, 0, col);
    char *d = malloc(n + 1);
    if (!d) {
        *oom = true;
        return NULL;
    }
    memcpy(d, PQgetvalue(res, 0, col), n);
    d[n] = '\0';
    *len = n;
    return d;
}

/* Row 0 of a binary result of RECORD_COLS into out. */
static int read_record(const PGresult *res, struct graph_record *out, struct sa_err *err)
{
    snprintf(out->id, sizeof out->id, "%.*s", PQgetlength(res, 0, 0), PQgetvalue(res, 0, 0));
    snprintf(out->parent_id, sizeof out->parent_id, "%.*s", PQgetlength(res, 0, 1),
             PQgetvalue(res, 0, 1));
    if (PQgetlength(res, 0, 2) != 4 || PQgetlength(res, 0, 3) != 1)
        return sa_err_set(err, SA_EIO, "checkpoint %s: unexpected column format", out->id);
    uint32_t step;
    memcpy(&step, PQgetvalue(res, 0, 2), 4);
    out->step = (int)(int32_t)ntohl(step);
    out->full = PQgetvalue(res, 0, 3)[0] != 0;
    bool oom = false;
    out->blob = copy_col(res, 4, &out->blob_len, &oom);
    out->writes = copy_col(res, 5, &out->writes_len, &oom);
    if (oom)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    return out->blob ? 0 : sa_err_set(err, SA_EIO, "checkpoint %s has no data", out->id);
}

static int ps_get(struct graph_saver *base, const char *thread_id, const char *id,
                  struct graph_record *out, struct sa_err *err)
{
    struct pg_saver *s = (struct pg_saver *)base;
    memset(out, 0, sizeof *out);
    const char *v[] = {thread_id, id};
    pthread_mutex_lock(&s->lock);
    PGresult *res = NULL;
    int rc = run(s, "get", id ? Q_GET : Q_LATEST, id ? 2 : 1, v, NULL, NULL, true, &res, err);
    if (!rc && PQntuples(res) == 0)
        rc = sa_err_set(err, SA_ENOTFOUND, "no checkpoint %s for thread %s", id ? id : "",
                        thread_id);
    else if (!rc)
        rc = read_record(res, out, err);
    PQclear(res);
    pthread_mutex_unlock(&s->lock);
    if (rc)
        graph_record_clear(out);
    return rc;
}

static int ps_list(struct graph_saver *base, const char *thread_id, int limit,
                   char (**ids)[GRAPH_ID_LEN], int *n, struct sa_err *err)
{
    struct pg_saver *s = (struct pg_saver *)base;
    *ids = NULL;
    *n = 0;
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *v[] = {thread_id, limit > 0 ? lim : NULL}; /* LIMIT NULL: all */
    pthread_mutex_lock(&s->lock);
    PGresult *res = NULL;
    int rc = run_text(s, "list", Q_LIST, 2, v, &res, err);
    int rows = rc ? 0 : PQntuples(res);
    if (rows > 0 && !(*ids = malloc((size_t)rows * sizeof **ids)))
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    for (int i = 0; !rc && i < rows; i++)
        snprintf((*ids)[i], GRAPH_ID_LEN, "%s", PQgetvalue(res, i, 0));
    if (!rc)
        *n = rows;
    PQclear(res);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int ps_delete_thread(struct graph_saver *base, const char *thread_id, struct sa_err *err)
{
    struct pg_saver *s = (struct pg_saver *)base;
    const char *v[] = {thread_id};
    pthread_mutex_lock(&s->lock);
    int rc = exec_text(s, "delete thread", Q_DELETE, 1, v, NULL, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int ps_delete_except(struct graph_saver *base, const char *thread_id, const char *keep_id,
                            struct sa_err *err)
{
    struct pg_saver *s = (struct pg_saver *)base;
    const char *v[] = {thread_id, keep_id};
    pthread_mutex_lock(&s->lock);
    int rc = exec_text(s, "prune", Q_EXCEPT, 2, v, NULL, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int ps_hold(struct graph_saver *base, const char *thread_id, struct sa_err *err)
{
    struct pg_saver *s = (struct pg_saver *)base;
    const char *v[] = {thread_id};
    pthread_mutex_lock(&s->lock);
    int rc = exec_text(s, "hold thread", Q_HOLD, 1, v, NULL, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int ps_sweep(struct graph_saver *base, double now, int *n, struct sa_err *err)
{
    struct pg_saver *s = (struct pg_saver *)base;
    *n = 0;
    char at[40];
    snprintf(at, sizeof at, "%.17g", now);
    const char *v[] = {at};
    pthread_mutex_lock(&s->lock);
    PGresult *res = NULL;
    int rc = run_text(s, "sweep", Q_SWEEP, 1, v, &res, err);
    if (!rc)
        *n = (int)count_of(PQgetvalue(res, 0, 0));
    PQclear(res);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int ps_thread_bytes(struct graph_saver *base, const char *thread_id, size_t *bytes,
                           int *records, struct sa_err *err)
{
    struct pg_saver *s = (struct pg_saver *)base;
    *bytes = 0;
    *records = 0;
    const char *v[] = {thread_id};
    pthread_mutex_lock(&s->lock);
    PGresult *res = NULL;
    int rc = run_text(s, "thread bytes", Q_BYTES, 1, v, &res, err);
    if (!rc) {
        *records = (int)count_of(PQgetvalue(res, 0, 0));
        *bytes = (size_t)count_of(PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static void ps_free(struct graph_saver *base)
{
    struct pg_saver *s = (struct pg_saver *)base;
    if (s->conn)
        PQfinish(s->conn);
    free(s->url);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static const struct graph_saver_ops pg_saver_ops = {
    .name = "postgresql",
    .put = ps_put,
    .put_writes = ps_put_writes,
    .get = ps_get,
    .list = ps_list,
    .delete_thread = ps_delete_thread,
    .delete_except = ps_delete_except,
    .sweep = ps_sweep,
    .thread_bytes = ps_thread_bytes,
    .hold = ps_hold,
    .free = ps_free,
};

int sa_pg_saver_open(const char *location, struct graph_saver **out, struct sa_err *err)
{
    *out = NULL;
    struct pg_saver *s = calloc(1, sizeof *s);
    if (!s || !(s->url = pg_url(location))) {
        free(s);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    snprintf(s->connect_s, sizeof s->connect_s, "%d", (sa_store_timeouts.connect_ms + 999) / 1000);
    s->statement_ms = sa_store_timeouts.statement_ms;
    s->base.ops = &pg_saver_ops;
    pthread_mutex_init(&s->lock, NULL);
    /* the table comes from the store's migrations: say so rather than fail on first use */
    PGresult *res = NULL;
    int rc = run_text(s, "open", Q_TABLE, 0, NULL, &res, err);
    if (!rc && strcmp(PQgetvalue(res, 0, 0), "t") != 0)
        rc = sa_err_set(err, SA_ESTORE,
                        "checkpoint store: the table graph_checkpoints is missing; run "
                        "`sales-agent migrate` first");
    PQclear(res);
    if (rc) {
        ps_free(&s->base);
        return rc;
    }
    *out = &s->base;
    return 0;
}
