/* The audit log in PostgreSQL: one record per state change (who, when, what, on which
 * target, under which request), appended by the services and read by GET /api/audit.
 * Append-only: nothing here updates or deletes a record (and the schema refuses it). Part of the
 * PostgreSQL backend (pg.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/postgres/pg.h"

static const struct pg_sql AUDIT_APPEND = {
    "append audit record", "INSERT INTO audit_log (at, principal, action, target, request_id, "
                           "detail) VALUES ($1, $2, $3, $4, $5, $6::jsonb)"};

/* One statement per leading filter, so the planner sees an equality on the column it has
 * an index for ((target, id), (principal, id), (action, id)) and walks that index
 * backwards from before_id: a page costs its own rows, not a scan of the table. The
 * other filters are checked on the rows it finds. The open ends of the time window are
 * NULL, not sentinel strings: how "" or "~" sort against a time depends on the database's
 * collation. */
#define AUDIT_LIST_SQL(lead)                                                                       \
    "SELECT id, at, principal, action, target, request_id, detail FROM audit_log WHERE " lead      \
    " AND ($1::text IS NULL OR action = $1::text) AND ($2::text IS NULL OR principal = "           \
    "$2::text) AND ($3::text IS NULL OR target = $3::text) AND ($4::text IS NULL OR at >= "        \
    "$4::text) AND ($5::text IS NULL OR at < $5::text) AND id < $6::bigint "                       \
    "ORDER BY id DESC LIMIT $7::bigint"
static const struct pg_sql AUDIT_BY_TARGET = {"list audit log", AUDIT_LIST_SQL("target = $3")};
static const struct pg_sql AUDIT_BY_PRINCIPAL = {"list audit log",
                                                 AUDIT_LIST_SQL("principal = $2")};
static const struct pg_sql AUDIT_BY_ACTION = {"list audit log", AUDIT_LIST_SQL("action = $1")};
static const struct pg_sql AUDIT_ALL = {"list audit log", AUDIT_LIST_SQL("true")};

#define AUDIT_MAX_LIMIT 500

/* ---- append ------------------------------------------------------------------------- */

int sa_pg_audit_append(struct sa_store *s, const struct sa_audit_row *a, struct sa_err *err)
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
    /* one statement, its own transaction: the id comes from the table's sequence, so a
     * record appended after another returned has the larger id on every instance */
    const struct pg_arg w[] = {TXT(at),        TXT(a->principal),  TXT(a->action),
                               TXT(a->target), TXT(a->request_id), TXT(detail ? detail : "{}")};
    rc = pg_exec_args(s, &AUDIT_APPEND, w, DB_N(w), NULL, err);
    free(detail);
    return rc;
}

/* ---- list --------------------------------------------------------------------------- */

static json_t *record_from_row(const PGresult *res, int row)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id", pg_col_int(res, row, 0), "at",
                     pg_col_text(res, row, 1), "principal", pg_col_text(res, row, 2), "action",
                     pg_col_text(res, row, 3), "target", pg_col_text(res, row, 4), "request_id",
                     pg_col_text(res, row, 5), "detail", pg_col_json(res, row, 6));
}

int sa_pg_audit_list(struct sa_store *s, const struct sa_audit_query *q, json_t **out,
                     struct sa_err *err)
{
    *out = NULL;
    if (q->limit < 1 || q->limit > AUDIT_MAX_LIMIT)
        return sa_err_set(err, SA_EINVAL, "audit log: limit must be 1..%d, not %d", AUDIT_MAX_LIMIT,
                          q->limit);
    if (q->before_id < 0)
        return sa_err_set(err, SA_EINVAL, "audit log: before_id must be 0 or positive");
    char since[SA_ISO8601_LEN] = "", until[SA_ISO8601_LEN] = "";
    int rc = q->since ? sa_iso8601_canonical(q->since, "since", since, err) : 0;
    if (!rc && q->until)
        rc = sa_iso8601_canonical(q->until, "until", until, err);
    if (rc)
        return rc;
    const struct pg_sql *sql = q->target      ? &AUDIT_BY_TARGET
                               : q->principal ? &AUDIT_BY_PRINCIPAL
                               : q->action    ? &AUDIT_BY_ACTION
                                              : &AUDIT_ALL;
    /* one row more than the page: whether it exists says if there is a next page */
    const struct pg_arg a[] = {TXT(q->action),
                               TXT(q->principal),
                               TXT(q->target),
                               TXT(q->since ? since : NULL),
                               TXT(q->until ? until : NULL),
                               NUM(q->before_id > 0 ? q->before_id : INT64_MAX),
                               NUM(q->limit + 1)};
    json_t *items = NULL;
    rc = pg_query_rows(s, sql, a, DB_N(a), record_from_row, &items, err);
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
