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

#define SA_IMPORT_MAX_ROWS 50000

/* Called after each row is prepared (done of total). */
typedef void (*sa_import_progress_fn)(size_t done, size_t total, void *arg);

/* Imports data[0..len). Imports run one at a time (a lock), so two imports of the same
 * leads cannot both create them. With partial=false any invalid row imports nothing (SA_EINVAL);
 * with partial=true valid rows are imported and invalid ones reported. *report (new
 * reference, also on SA_EINVAL): {imported, merged, failed, rows, errors: [{row, line,
 * loc, msg, type}], leads: [{row, lead_id, action, score, tier}]}. Other errors: CSV
 * syntax (SA_EINVAL with err naming the line), too many rows (SA_ETOOBIG), the store. */
int sa_app_import_csv(struct sa_app *app, const char *data, size_t len, bool partial,
                      sa_import_progress_fn progress, void *arg, json_t **report,
                      struct sa_err *err) SA_WUR;

#endif
