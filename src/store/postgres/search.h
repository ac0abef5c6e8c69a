/* Private to the PostgreSQL backend: the lead search (docs/leads.md, "Search and sort"),
 * the same matches as SQLite's (store/sqlite/search.h). The lead list (leads.c) and the
 * export (export.c) filter through the same text below, so the two always select the
 * same leads. */
#ifndef SA_STORE_POSTGRES_SEARCH_H
#define SA_STORE_POSTGRES_SEARCH_H

#include "base/err.h"
#include "store/store.h"

/* The three ways a lead query searches, each its own statement: a parameter-dependent
 * OR would keep the planner from using the index. */
enum pg_search { PG_SEARCH_NONE, PG_SEARCH_INDEX, PG_SEARCH_SCAN, PG_SEARCH_MODES };

/* The filter of a lead query, $1 tier (NULL: any), $2 minimum score (< 0: any), $3 the
 * search argument (pg_search_arg), in each mode's form. PG_SEARCH_INDEX is a LIKE pattern
 * served by the trigram index over the folded text (lead_search, migration 001);
 * PG_SEARCH_SCAN, for queries of fewer than three folded characters (no trigram to look
 * up), scans the folded text, which is smaller than the leads table. */
#define PG_LEAD_FILTER_BASE                                                                        \
    " WHERE ($1::text IS NULL OR leads.qualification_tier = $1)"                                   \
    " AND ($2::bigint < 0 OR leads.qualification_score >= $2)"
#define PG_LEAD_FILTER_NONE PG_LEAD_FILTER_BASE " AND $3::text IS NULL"
#define PG_LEAD_FILTER_INDEX                                                                       \
    PG_LEAD_FILTER_BASE " AND leads.id IN (SELECT lead_id FROM lead_search WHERE "                 \
                        "text LIKE $3::text)"
#define PG_LEAD_FILTER_SCAN                                                                        \
    PG_LEAD_FILTER_BASE " AND leads.id IN (SELECT lead_id FROM lead_search WHERE "                 \
                        "strpos(text, $3::text) > 0)"

/* The $3 argument for search text q (NULL: no search) into *arg (malloc'd, the caller
 * frees it; NULL when q is NULL) and the mode. q is folded (base/fold.h); with three or
 * more folded characters it becomes a LIKE pattern, "%q%" with \, % and _ escaped by a
 * backslash. Returns 0 or SA_ENOMEM. */
int pg_search_arg(const char *q, char **arg, enum pg_search *mode, struct sa_err *err) SA_WUR;

/* The folded search text of a lead (lead_search.text): the folded company name, contact
 * name, e-mail and industry that are not NULL, joined by newlines (which folded text
 * never holds, so no match spans two fields), exactly as SQLite's sa_fold() computes it.
 * Returns a malloc'd string the caller frees, or NULL when out of memory. */
char *pg_search_text(const struct sa_lead_row *l);

#endif
