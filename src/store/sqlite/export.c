/* Leads for an export in SQLite: keyset pages of the stored inputs in id order, and the
 * field names those inputs carry (the CSV's extra columns). Part of the SQLite backend
 * (db.h); called through store.h by the export service (app/export.c). */
#include <stdio.h>

#include "store/sqlite/db.h"

/* The list's filter (leads.c LEAD_FILTER) with the table named, since json_each has
 * columns of the same names. Keep the two in step when the search changes. */
#define EXPORT_FILTER                                                                              \
    " WHERE (?1 IS NULL OR leads.qualification_tier = ?1)"                                         \
    " AND (?2 < 0 OR leads.qualification_score >= ?2)"                                             \
    " AND (?3 IS NULL OR leads.company_name LIKE ?3 ESCAPE '\\' OR leads.contact_name LIKE ?3 "    \
    "ESCAPE '\\' OR leads.contact_email LIKE ?3 ESCAPE '\\' OR leads.industry LIKE ?3 ESCAPE "     \
    "'\\')"

static const struct db_sql EXPORT_PAGE = {
    "export leads", "SELECT leads.id AS id, leads.data AS data FROM leads" EXPORT_FILTER
                    " AND (?4 IS NULL OR leads.id > ?4) ORDER BY leads.id LIMIT ?5"};
static const struct db_sql EXPORT_FIELDS = {
    "export fields",
    "SELECT DISTINCT j.key AS k FROM leads, json_each(leads.data) AS j" EXPORT_FILTER
    " AND json_valid(leads.data) ORDER BY k LIMIT ?4"};

/* %term% with LIKE's wildcards escaped (as the list does). */
static void like_of(const char *term, char *like, size_t cap)
{
    size_t o = 0;
    like[o++] = '%';
    for (const char *p = term; *p && o + 3 < cap; p++) {
        if (*p == '%' || *p == '_' || *p == '\\')
            like[o++] = '\\';
        like[o++] = *p;
    }
    like[o++] = '%';
    like[o] = '\0';
}

static json_t *key_of_row(sqlite3_stmt *st)
{
    return db_col_text(st, 0);
}

int sa_sqlite_lead_export_page(struct sa_store *s, const struct sa_lead_query *q,
                               const char *after_id, int limit, json_t **out, struct sa_err *err)
{
    *out = NULL;
    char like[2 * 4 * 200 + 3];
    if (q->search)
        like_of(q->search, like, sizeof like);
    const struct db_arg a[] = {TXT(q->tier), NUM(q->min_score), TXT(q->search ? like : NULL),
                               TXT(after_id), NUM(limit)};
    return db_query_rows(s, &EXPORT_PAGE, a, DB_N(a), NULL, out, err);
}

int sa_sqlite_lead_export_fields(struct sa_store *s, const struct sa_lead_query *q, int limit,
                                 json_t **out, struct sa_err *err)
{
    *out = NULL;
    char like[2 * 4 * 200 + 3];
    if (q->search)
        like_of(q->search, like, sizeof like);
    const struct db_arg a[] = {TXT(q->tier), NUM(q->min_score), TXT(q->search ? like : NULL),
                               NUM(limit)};
    return db_query_rows(s, &EXPORT_FIELDS, a, DB_N(a), key_of_row, out, err);
}
