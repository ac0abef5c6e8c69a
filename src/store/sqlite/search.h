/* Private to the SQLite backend: the lead search (docs/leads.md, "Search and sort"). The
 * lead list (leads.c) and the export (export.c) filter through the same text below, so
 * the two always select the same leads. */
#ifndef SA_STORE_SQLITE_SEARCH_H
#define SA_STORE_SQLITE_SEARCH_H

#include <sqlite3.h>

#include "base/err.h"

/* The three ways a lead query searches, each its own statement: a parameter-dependent
 * OR would keep the planner from using the index. */
enum db_search { DB_SEARCH_NONE, DB_SEARCH_INDEX, DB_SEARCH_SCAN, DB_SEARCH_MODES };

/* The filter of a lead query, ?1 tier (NULL: any), ?2 minimum score (< 0: any), ?3 the
 * search argument (search_arg), in each mode's form. DB_SEARCH_INDEX reads the FTS5
 * trigram index of the folded text (lead_fts, migration 009); DB_SEARCH_SCAN, for
 * queries of fewer than three folded characters (a trigram index cannot serve them),
 * scans the folded text (lead_search), which is smaller than the leads table. */
#define DB_LEAD_FILTER_BASE                                                                        \
    " WHERE (?1 IS NULL OR leads.qualification_tier = ?1)"                                         \
    " AND (?2 < 0 OR leads.qualification_score >= ?2)"
#define DB_LEAD_FILTER_NONE DB_LEAD_FILTER_BASE " AND ?3 IS NULL"
#define DB_LEAD_FILTER_INDEX                                                                       \
    DB_LEAD_FILTER_BASE " AND leads.id IN (SELECT s.lead_id FROM lead_fts f JOIN lead_search s "   \
                        "ON s.seq = f.rowid WHERE lead_fts MATCH ?3)"
#define DB_LEAD_FILTER_SCAN                                                                        \
    DB_LEAD_FILTER_BASE " AND leads.id IN (SELECT lead_id FROM lead_search WHERE "                 \
                        "instr(text, ?3) > 0)"

/* The ?3 argument for search text q (NULL: no search) into *arg (malloc'd, the caller
 * frees it; NULL when q is NULL) and the mode. q is folded (base/fold.h); with three or
 * more folded characters it becomes an FTS5 phrase ("..." with inner quotes doubled),
 * which the trigram tokenizer matches as a substring. Returns 0 or SA_ENOMEM. */
int db_search_arg(const char *q, char **arg, enum db_search *mode, struct sa_err *err) SA_WUR;

/* Registers sa_fold(a, b, ...) on db: the folded text of each non-NULL argument, joined
 * by newlines (which folded text never holds, so no match spans two fields). Migration
 * 009's triggers call it on every lead write. Returns 0 or SA_ESTORE. */
int db_search_register(sqlite3 *db, struct sa_err *err) SA_WUR;

#endif
