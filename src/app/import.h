/* Lead import from CSV: the usual CRM export columns mapped to the lead's fields, each
 * row validated like an API input and qualified, duplicates merged (by e-mail, or by
 * domain and company name, within the file and against stored leads), all written in one
 * transaction. Used by POST /api/leads/import and `sales-agent import`. */
#ifndef SA_IMPORT_H
#define SA_IMPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

struct sa_app;

/* Rows a file may have: memory grows by about 150 bytes a row (the row index, its lead, the
 * identity key), whatever the width of the rows (docs/leads.md, "Import at scale"). */
#define SA_IMPORT_MAX_ROWS 1000000

/* Entries the report lists in errors and in leads; past it they are counted
 * (errors_omitted, leads_omitted), the totals stay exact. */
#define SA_IMPORT_REPORT_MAX 10000

/* The import's two passes over the rows (docs/leads.md, "Import at scale"). */
enum sa_import_phase {
    SA_IMPORT_CHECKING, /* validating every row; nothing is written */
    SA_IMPORT_WRITING,  /* folding, qualifying and writing */
};

/* Called as rows are done in each phase (done of total; done == total once at the end of
 * a phase). It MUST NOT call back into the import. */
typedef void (*sa_import_progress_fn)(enum sa_import_phase phase, size_t done, size_t total,
                                      void *arg);

/* Imports data[0..len). Imports run one at a time (a lock), so two imports of the same
 * leads cannot both create them. With partial=false any invalid row imports nothing (SA_EINVAL);
 * with partial=true valid rows are imported and invalid ones reported. *report (new
 * reference, also on SA_EINVAL): {imported, merged, failed, rows, errors: [{row, line,
 * loc, msg, type}], leads: [{row, lead_id, action, score, tier}]}. Other errors: CSV
 * syntax (SA_EINVAL with err naming the line), too many rows (SA_ETOOBIG), the store. */
int sa_app_import_csv(struct sa_app *app, const char *data, size_t len, bool partial,
                      sa_import_progress_fn progress, void *arg, json_t **report,
                      struct sa_err *err) SA_WUR;

/* How to read an export (all optional). The map is {"Their Column": target}, target one of
 * company_name, industry, company_size, annual_revenue, revenue_currency, website, country,
 * notes, signals, first_name, last_name, contact_info.{name,title,email,phone,linkedin_url};
 * it overrides the built-in column names (HubSpot, Salesforce, Pipedrive, Apollo). */
struct sa_import_format {
    const char *charset; /* NULL or "utf-8"; "windows-1252", "latin1", "iso-8859-15" convert */
    const json_t *map;   /* borrowed; NULL: the built-in names only */
    json_t *detail;      /* borrowed array, or NULL: gets FastAPI-style entries ({loc, msg,
                          * type}, some with row, line, offset) when the file or the map is
                          * refused as a client error (SA_EINVAL) */
};

/* sa_app_import_csv reading data as fmt says (fmt may be NULL). Besides the checks above it
 * refuses (SA_EINVAL, fmt->detail naming the place): text that is not valid in its charset
 * (row, line and byte offset), control characters in a cell (row and column), a header
 * naming one column twice, a map with an unknown target or a column the header lacks, a
 * header without a company column. The report also has columns: [{column, mapped_to} |
 * {column, kept_as}] and skipped_lines: [{line, reason}] (report titles, footers, blank
 * lines; not counted in rows). */
int sa_app_import_csv_as(struct sa_app *app, struct sa_import_format *fmt, const char *data,
                         size_t len, bool partial, sa_import_progress_fn progress, void *arg,
                         json_t **report, struct sa_err *err) SA_WUR;

/* The column names the import knows (the web console's preview, issue 16): a new array
 * (the caller owns it) of {header, mapped_to} or {header, ignored}, header normalised as
 * the import compares names: ASCII letters and digits only, lowercase ("Company /
 * Account" is "companyaccount"); mapped_to is what the report's columns say. When two
 * columns of a file map to one field, the first fills it and the other is kept as an
 * extra field. */
json_t *sa_import_columns(void);

/* Appends the map's problems to detail: SA_EINVAL when map is not an object of known
 * targets (see struct sa_import_format), else 0. */
int sa_import_map_check(const json_t *map, json_t *detail) SA_WUR;

#endif
