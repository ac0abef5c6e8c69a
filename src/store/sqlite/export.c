/* Leads for an export in SQLite: keyset pages of the stored inputs in id order, and the
 * field names those inputs carry (the CSV's extra columns). Part of the SQLite backend
 * (db.h); called through store.h by the export service (app/export.c). */
#include <stdlib.h>

#include "store/sqlite/db.h"
#include "store/sqlite/search.h"

/* The list's filter (search.h), shared with leads.c, so both select the same leads. A page
 * after the first starts after the previous page's last row: its sort key ?4 and id ?5,
 * as a range on the order's index ("key >= ?4", then past the ties by id: a row-value
 * comparison gives no range on an expression or a collated column). The orders are the
 * list's (enum sa_lead_sort, with the same keys, so they use the same indexes), then id
 * order. */
#define EXPORT_COLS(key)                                                                           \
    "SELECT leads.id AS id, " key " AS k, leads.data AS data, leads.qualification_score AS "       \
    "score, leads.qualification_tier AS tier FROM leads"
#define EXPORT_AFTER(key, op)                                                                      \
    " AND " key " " op "= ?4 AND (" key " " op " ?4 OR leads.id " op " ?5)"
#define EXPORT_PAGE_SQL(filter, after, key, dir)                                                   \
    EXPORT_COLS(key) filter after " ORDER BY " key dir ", leads.id" dir " LIMIT ?6"
#define SCORE_KEY "COALESCE(leads.qualification_score, -1)"
#define COMPANY_KEY "leads.company_name COLLATE NOCASE"
/* the first page (next 0) and the pages after a row (next 1) of each order */
#define EXPORT_ORDER(filter, key, op, dir)                                                         \
    {                                                                                              \
        {"export leads", EXPORT_PAGE_SQL(filter, "", key, dir)},                                   \
        {                                                                                          \
            "export leads", EXPORT_PAGE_SQL(filter, EXPORT_AFTER(key, op), key, dir)               \
        }                                                                                          \
    }
#define EXPORT_ORDERS(filter)                                                                      \
    {                                                                                              \
        EXPORT_ORDER(filter, "leads.created_at", "<", " DESC"),                                    \
            EXPORT_ORDER(filter, "leads.created_at", ">", ""),                                     \
            EXPORT_ORDER(filter, SCORE_KEY, ">", ""),                                              \
            EXPORT_ORDER(filter, SCORE_KEY, "<", " DESC"),                                         \
            EXPORT_ORDER(filter, COMPANY_KEY, ">", ""), EXPORT_ORDER(filter, "leads.id", ">", "")  \
    }
#define EXPORT_FIELDS_SQL(filter)                                                                  \
    "SELECT DISTINCT j.key AS k FROM leads, json_each(leads.data) AS j" filter                     \
    " AND json_valid(leads.data) ORDER BY k LIMIT ?4"

static const struct db_sql EXPORT_PAGE[DB_SEARCH_MODES][SA_LEAD_SORTS + 1][2] = {
    EXPORT_ORDERS(DB_LEAD_FILTER_NONE),
    EXPORT_ORDERS(DB_LEAD_FILTER_INDEX),
    EXPORT_ORDERS(DB_LEAD_FILTER_SCAN),
};
static const struct db_sql EXPORT_FIELDS[DB_SEARCH_MODES] = {
    {"export fields", EXPORT_FIELDS_SQL(DB_LEAD_FILTER_NONE)},
    {"export fields", EXPORT_FIELDS_SQL(DB_LEAD_FILTER_INDEX)},
    {"export fields", EXPORT_FIELDS_SQL(DB_LEAD_FILTER_SCAN)},
};

static json_t *key_of_row(sqlite3_stmt *st)
{
    return db_col_text(st, 0);
}

/* A JSON value (a row's sort key: text or integer) as a statement argument. */
static struct db_arg arg_of(const json_t *v)
{
    return json_is_integer(v) ? NUM(json_integer_value(v)) : TXT(json_string_value(v));
}

int sa_sqlite_lead_export_page(struct sa_store *s, const struct sa_lead_query *q,
                               const json_t *after, int limit, json_t **out, struct sa_err *err)
{
    *out = NULL;
    char *arg = NULL;
    enum db_search mode;
    int rc = db_search_arg(q->search, &arg, &mode, err);
    if (rc)
        return rc;
    const struct db_arg a[] = {TXT(q->tier),
                               NUM(q->min_score),
                               TXT(arg),
                               arg_of(json_object_get(after, "k")),
                               TXT(json_string_value(json_object_get(after, "id"))),
                               NUM(limit)};
    int order = q->sorted && q->sort >= 0 && q->sort < SA_LEAD_SORTS ? (int)q->sort : SA_LEAD_SORTS;
    rc = db_query_rows(s, &EXPORT_PAGE[mode][order][after != NULL], a, DB_N(a), NULL, out, err);
    free(arg);
    return rc;
}

int sa_sqlite_lead_export_fields(struct sa_store *s, const struct sa_lead_query *q, int limit,
                                 json_t **out, struct sa_err *err)
{
    *out = NULL;
    char *arg = NULL;
    enum db_search mode;
    int rc = db_search_arg(q->search, &arg, &mode, err);
    if (rc)
        return rc;
    const struct db_arg a[] = {TXT(q->tier), NUM(q->min_score), TXT(arg), NUM(limit)};
    rc = db_query_rows(s, &EXPORT_FIELDS[mode], a, DB_N(a), key_of_row, out, err);
    free(arg);
    return rc;
}
