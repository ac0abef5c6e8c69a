/* The audit log in SQLite: one record per state change (who, when, what, on which
 * target, under which request), appended by the services and read by GET /api/audit.
 * Append-only: the table's triggers (migration 006) refuse any UPDATE or DELETE, so not
 * even a bug here can rewrite history. Part of the SQLite backend (db.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite/db.h"

static const struct db_sql AUDIT_APPEND = {
    "append audit record", "INSERT INTO audit_log (at, principal, action, target, request_id, "
                           "detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"};

/* One statement per leading filter, so the planner sees an equality on the column it has
 * an index for ((target, id), (principal, id), (action, id)) and walks that index
 * backwards from before_id: a page costs its own rows, not a scan of the table. The
 * other filters are checked on the rows it finds. Without one, the newest records come
 * first by id; but a window that ends (until), likely in the past, is found through the
 * (at, id) index and its rows sorted, rather than walking every newer record. ?4 and ?5
 * are always bound (the open ends as "" and "~", outside every stored time). */
#define AUDIT_LIST_SQL(index, lead)                                                                \
    "SELECT id, at, principal, action, target, request_id, detail FROM audit_log " index           \
    " WHERE " lead " AND (?1 IS NULL OR action = ?1) AND (?2 IS NULL OR principal = ?2) "          \
    "AND (?3 IS NULL OR target = ?3) AND at >= ?4 AND at < ?5 AND id < ?6 "                        \
    "ORDER BY id DESC LIMIT ?7"
static const struct db_sql AUDIT_BY_TARGET = {"list audit log", AUDIT_LIST_SQL("", "target = ?3")};
static const struct db_sql AUDIT_BY_PRINCIPAL = {"list audit log",
                                                 AUDIT_LIST_SQL("", "principal = ?2")};
static const struct db_sql AUDIT_BY_ACTION = {"list audit log", AUDIT_LIST_SQL("", "action = ?1")};
static const struct db_sql AUDIT_IN_WINDOW = {"list audit log",
                                              AUDIT_LIST_SQL("INDEXED BY audit_log_at", "1")};
static const struct db_sql AUDIT_ALL = {"list audit log", AUDIT_LIST_SQL("", "1")};

#define AUDIT_MAX_LIMIT 500

/* ---- append ------------------------------------------------------------------------- */

struct append {
    const struct sa_audit_row *row;
    const char *at;     /* the stored form of row->at */
    const char *detail; /* JSON text */
};

static int write_record(struct db_conn *c, void *arg, const char *now, struct sa_err *err)
{
    (void)now; /* the record's time is the caller's */
    const struct append *w = arg;
    const struct db_arg a[] = {TXT(w->at),          TXT(w->row->principal),  TXT(w->row->action),
                               TXT(w->row->target), TXT(w->row->request_id), TXT(w->detail)};
    return db_exec_locked(c, &AUDIT_APPEND, a, DB_N(a), NULL, err);
}

int sa_sqlite_audit_append(struct sa_store *s, const struct sa_audit_row *a, struct sa_err *err)
{
    if (!a->principal || !*a->principal)
        return sa_err_set(err, SA_EINVAL, "audit record: principal is required");
    if (!a->action || !*a->action)
        return sa_err_set(err, SA_EINVAL, "audit record: action is required");
    if (a->detail && !json_is_object(a->detail))
        return sa_err_set(err, SA_EINVAL, "audit record: detail must be a JSON object");
    char at[SA_ISO8601_LEN];
    int rc = sa_iso8601_canonical(a->at, "audit record: at", at, err);
    if (rc)
        return rc;
    char *detail = a->detail ? json_dumps(a->detail, JSON_COMPACT) : NULL;
    if (a->detail && !detail)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    struct append w = {.row = a, .at = at, .detail = detail ? detail : "{}"};
    rc = db_group_write(s, write_record, &w, err);
    free(detail);
    return rc;
}

/* ---- list --------------------------------------------------------------------------- */

static json_t *record_from_row(sqlite3_stmt *st)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id", db_col_int(st, 0), "at",
                     db_col_text(st, 1), "principal", db_col_text(st, 2), "action",
                     db_col_text(st, 3), "target", db_col_text(st, 4), "request_id",
                     db_col_text(st, 5), "detail", db_col_json(st, 6));
}

int sa_sqlite_audit_list(struct sa_store *s, const struct sa_audit_query *q, json_t **out,
                         struct sa_err *err)
{
    *out = NULL;
    if (q->limit < 1 || q->limit > AUDIT_MAX_LIMIT)
        return sa_err_set(err, SA_EINVAL, "audit log: limit must be 1..%d, not %d", AUDIT_MAX_LIMIT,
                          q->limit);
    if (q->before_id < 0)
        return sa_err_set(err, SA_EINVAL, "audit log: before_id must be 0 or positive");
    char since[SA_ISO8601_LEN] = "", until[SA_ISO8601_LEN] = "~";
    int rc = q->since ? sa_iso8601_canonical(q->since, "since", since, err) : 0;
    if (!rc && q->until)
        rc = sa_iso8601_canonical(q->until, "until", until, err);
    if (rc)
        return rc;
    const struct db_sql *sql = q->target      ? &AUDIT_BY_TARGET
                               : q->principal ? &AUDIT_BY_PRINCIPAL
                               : q->action    ? &AUDIT_BY_ACTION
                               : q->until     ? &AUDIT_IN_WINDOW
                                              : &AUDIT_ALL;
    /* one row more than the page: whether it exists says if there is a next page */
    const struct db_arg a[] = {TXT(q->action),   TXT(q->principal),
                               TXT(q->target),   TXT(since),
                               TXT(until),       NUM(q->before_id > 0 ? q->before_id : INT64_MAX),
                               NUM(q->limit + 1)};
    json_t *items = NULL;
    rc = db_query_rows(s, sql, a, DB_N(a), record_from_row, &items, err);
    if (rc)
        return rc;
    json_t *next = json_null();
    if (json_array_size(items) > (size_t)q->limit) {
        json_array_remove(items, (size_t)q->limit);
        json_t *last = json_array_get(items, (size_t)q->limit - 1);
        json_decref(next);
        next = json_incref(json_object_get(last, "id"));
    }
    *out = json_pack("{s:o, s:o}", "items", items, "next_before_id", next);
    return *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}
