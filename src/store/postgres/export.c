/* Leads for an export in PostgreSQL: keyset pages of the stored inputs in the list's
 * orders or id order, and the field names those inputs carry (the CSV's extra columns).
 * Part of the PostgreSQL backend (pg.h); called through store.h by the export service
 * (app/export.c). */
#include <stdlib.h>

#include "store/postgres/pg.h"
#include "store/postgres/search.h"

/* The list's filter (search.h), shared with leads.c, so both select the same leads. $4 is
 * the page's size. A page after the first starts after the previous page's last row:
 * its sort key $5 and id $6, as a range on the order's index ("key >= $5", then past the
 * ties by id). The row's k is what the next page passes back as $5: the sort key itself,
 * except for the company order, whose key is the lowercased name (lower() over a "C"
 * column: ASCII only, SQLite's NOCASE) while k stays the name as stored, as SQLite's. The
 * first page's statement does not mention $5 and $6 (PostgreSQL refuses a parameter it
 * cannot type), so it gets four arguments. */
#define EXPORT_COLS(sel)                                                                           \
    "SELECT leads.id AS id, " sel " AS k, leads.data AS data, leads.qualification_score AS "       \
    "score, leads.qualification_tier AS tier FROM leads"
#define EXPORT_AFTER(key, cur, op)                                                                 \
    " AND " key " " op "= " cur " AND (" key " " op " " cur " OR leads.id " op " $6::text)"
#define EXPORT_PAGE_SQL(filter, after, sel, key, dir)                                              \
    EXPORT_COLS(sel) filter after " ORDER BY " key dir ", leads.id" dir " LIMIT $4::bigint"
#define SCORE_KEY "COALESCE(leads.qualification_score, -1)"
#define COMPANY_KEY "lower(leads.company_name)"
#define COMPANY_CUR "lower($5::text COLLATE \"C\")"
/* the first page (next 0) and the pages after a row (next 1) of each order */
#define EXPORT_ORDER(filter, sel, key, cur, op, dir)                                               \
    {                                                                                              \
        {"export leads", EXPORT_PAGE_SQL(filter, "", sel, key, dir)},                              \
        {                                                                                          \
            "export leads", EXPORT_PAGE_SQL(filter, EXPORT_AFTER(key, cur, op), sel, key, dir)     \
        }                                                                                          \
    }
#define EXPORT_ORDERS(filter)                                                                      \
    {                                                                                              \
        EXPORT_ORDER(filter, "leads.created_at", "leads.created_at", "$5::text", "<", " DESC"),    \
            EXPORT_ORDER(filter, "leads.created_at", "leads.created_at", "$5::text", ">", ""),     \
            EXPORT_ORDER(filter, SCORE_KEY, SCORE_KEY, "$5::bigint", ">", ""),                     \
            EXPORT_ORDER(filter, SCORE_KEY, SCORE_KEY, "$5::bigint", "<", " DESC"),                \
            EXPORT_ORDER(filter, "leads.company_name", COMPANY_KEY, COMPANY_CUR, ">", ""),         \
            EXPORT_ORDER(filter, "leads.id", "leads.id", "$5::text", ">", "")                      \
    }
/* The keys of each lead's input that is an object (jsonb_object_keys refuses any other
 * value, and a WHERE does not run before it), in bytewise order as SQLite's. */
#define EXPORT_FIELDS_SQL(filter)                                                                  \
    "SELECT DISTINCT j.k COLLATE \"C\" AS k FROM leads, jsonb_object_keys(CASE WHEN "              \
    "jsonb_typeof(leads.data) = 'object' THEN leads.data ELSE '{}'::jsonb END) AS j(k)" filter     \
    " ORDER BY 1 LIMIT $4::bigint"

static const struct pg_sql EXPORT_PAGE[PG_SEARCH_MODES][SA_LEAD_SORTS + 1][2] = {
    EXPORT_ORDERS(PG_LEAD_FILTER_NONE),
    EXPORT_ORDERS(PG_LEAD_FILTER_INDEX),
    EXPORT_ORDERS(PG_LEAD_FILTER_SCAN),
};
static const struct pg_sql EXPORT_FIELDS[PG_SEARCH_MODES] = {
    {"export fields", EXPORT_FIELDS_SQL(PG_LEAD_FILTER_NONE)},
    {"export fields", EXPORT_FIELDS_SQL(PG_LEAD_FILTER_INDEX)},
    {"export fields", EXPORT_FIELDS_SQL(PG_LEAD_FILTER_SCAN)},
};

static json_t *key_of_row(const PGresult *res, int r)
{
    return pg_col_text(res, r, 0);
}

/* A JSON value (a row's sort key: text or integer) as a statement argument. */
static struct pg_arg arg_of(const json_t *v)
{
    return json_is_integer(v) ? NUM(json_integer_value(v)) : TXT(json_string_value(v));
}

int sa_pg_lead_export_page(struct sa_store *s, const struct sa_lead_query *q, const json_t *after,
                           int limit, json_t **out, struct sa_err *err)
{
    *out = NULL;
    char *arg = NULL;
    enum pg_search mode;
    int rc = pg_search_arg(q->search, &arg, &mode, err);
    if (rc)
        return rc;
    const struct pg_arg a[] = {TXT(q->tier),
                               NUM(q->min_score),
                               TXT(arg),
                               NUM(limit),
                               arg_of(json_object_get(after, "k")),
                               TXT(json_string_value(json_object_get(after, "id")))};
    int order = q->sorted && q->sort >= 0 && q->sort < SA_LEAD_SORTS ? (int)q->sort : SA_LEAD_SORTS;
    rc = pg_query_rows(s, &EXPORT_PAGE[mode][order][after != NULL], a, after ? 6 : 4, NULL, out,
                       err);
    free(arg);
    return rc;
}

int sa_pg_lead_export_fields(struct sa_store *s, const struct sa_lead_query *q, int limit,
                             json_t **out, struct sa_err *err)
{
    *out = NULL;
    char *arg = NULL;
    enum pg_search mode;
    int rc = pg_search_arg(q->search, &arg, &mode, err);
    if (rc)
        return rc;
    const struct pg_arg a[] = {TXT(q->tier), NUM(q->min_score), TXT(arg), NUM(limit)};
    rc = pg_query_rows(s, &EXPORT_FIELDS[mode], a, DB_N(a), key_of_row, out, err);
    free(arg);
    return rc;
}
