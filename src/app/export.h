/* Lead export as CSV (RFC 4180, UTF-8): the columns the import reads, then the extra
 * fields the stored inputs carry; cells a spreadsheet would run as a formula neutralised;
 * produced a page of leads at a time, so memory stays bounded whatever the store holds.
 * Used by GET /api/leads/export and `sales-agent export`. */
#ifndef SA_APP_EXPORT_H
#define SA_APP_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/err.h"

struct sa_store;
struct sa_buf;
struct sa_export;

/* Which leads, and how (strings borrowed for sa_export_open only: it copies them). */
struct sa_export_opts {
    const char *tier;   /* NULL or "A".."D" */
    int min_score;      /* -1: any */
    const char *search; /* NULL, or the list's q */
    bool bom;           /* start with a UTF-8 byte order mark (Excel reads UTF-8 then) */
    const char *sort;   /* NULL (id order), or an order of the list (sa_app_lead_sort_valid) */
};

/* At most this many extra-field columns; further field names are left out of the file. */
#define SA_EXPORT_MAX_EXTRA 100

/* Opens an export of the leads o selects from store (borrowed: it MUST outlive the
 * export). Reads the extra columns' names now, so a store failure is reported before any
 * byte is produced. Returns 0 and *out (freed with sa_export_free), or the store's code. */
int sa_export_open(struct sa_store *store, const struct sa_export_opts *o, struct sa_export **out,
                   struct sa_err *err) SA_WUR;

/* Copies up to max bytes of the CSV into buf. Returns the bytes copied (> 0), 0 at the
 * end, or -1 when the store failed mid-way (err says why; the file is then incomplete,
 * and a caller that already sent bytes can only cut the transfer short). */
ssize_t sa_export_read(struct sa_export *x, char *buf, size_t max, struct sa_err *err);

/* The leads written so far. */
size_t sa_export_rows(const struct sa_export *x);

void sa_export_free(struct sa_export *x);

/* Whether a spreadsheet could read value (len bytes) as a formula: it starts with a tab or
 * a carriage return, or its first character after spaces, tabs and line breaks is '=',
 * '+', '-' or '@'. */
bool sa_export_formula_like(const char *value, size_t len);

/* Appends one CSV cell for value (UTF-8, len bytes) to b: a value that is formula-like
 * (above) gets a leading apostrophe (OWASP's advice against CSV injection), and the cell
 * is quoted, with inner quotes doubled, when it holds a
 * comma, a quote, CR or LF (RFC 4180). Returns 0 or SA_ETOOBIG / SA_ENOMEM. */
int sa_export_cell(struct sa_buf *b, const char *value, size_t len) SA_WUR;

#endif
