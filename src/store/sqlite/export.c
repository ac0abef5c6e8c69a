/* Leads for an export in SQLite: keyset pages of the stored inputs in id order, and the
 * field names those inputs carry (the CSV's extra columns). Part of the SQLite backend
 * (db.h); called through store.h by the export service (app/export.c). */
#include <stdlib.h>

#include "store/sqlite/db.h"
#include "store/sqlite/search.h"

/* The list's filter (search.h), shared with leads.c, so both select the same leads. */
#define EXPORT_PAGE_SQL(filter)                                                                    \
    "SELECT leads.id AS id, leads.data AS data, leads.qualification_score AS score, "             \
    "leads.qualification_tier AS tier FROM leads" filter                                           \
    " AND (?4 IS NULL OR leads.id > ?4) ORDER BY leads.id LIMIT ?5"
#define EXPORT_FIELDS_SQL(filter)                                                                  \
    "SELECT DISTINCT j.key AS k FROM leads, json_each(leads.data) AS j" filter                     \
    " AND json_valid(leads.data) ORDER BY k LIMIT ?4"

static const struct db_sql EXPORT_PAGE[DB_SEARCH_MODES] = {
    {"export leads", EXPORT_PAGE_SQL(DB_LEAD_FILTER_NONE)},
    {"export leads", EXPORT_PAGE_SQL(DB_LEAD_FILTER_INDEX)},
    {"export leads", EXPORT_PAGE_SQL(DB_LEAD_FILTER_SCAN)},
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

int sa_sqlite_lead_export_page(struct sa_store *s, const struct sa_lead_query *q,
                               const char *after_id, int limit, json_t **out, struct sa_err *err)
{
    *out = NULL;
    char *arg = NULL;
    enum db_search mode;
    int rc = db_search_arg(q->search, &arg, &mode, err);
    if (rc)
        return rc;
    const struct db_arg a[] = {TXT(q->tier), NUM(q->min_score), TXT(arg), TXT(after_id),
                               NUM(limit)};
    rc = db_query_rows(s, &EXPORT_PAGE[mode], a, DB_N(a), NULL, out, err);
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
