/* Reading the cells of a CRM export: what import.c does with one cell before the lead's
 * validation sees it, and the message for a text the CSV reader refused. Pure functions. */
#ifndef SA_APP_IMPORT_CELLS_H
#define SA_APP_IMPORT_CELLS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct sa_csv_where;

/* The arguments of a cell =HYPERLINK("target", "label") (any case, spaces allowed, ',' or
 * the ';' of a continental Excel between them, "" inside quotes for a quote): target into
 * out (cap bytes), the label (what the spreadsheet shows; "" when it has none) into label
 * (lcap bytes). false when v is not such a cell. */
bool sa_import_hyperlink(const char *v, char *out, size_t cap, char *label, size_t lcap);

/* Whether v is what exports and spreadsheets write for "no value": "-", "--", "—", "N/A",
 * "#N/A" (Excel's error for a failed lookup), "(blank)", "(none)", "Unknown", "not
 * available" (any case, spaces around). A mapped column takes it as an empty cell: "N/A"
 * employees is not a head count to refuse, and refusing it refused the whole file. */
bool sa_import_placeholder(const char *v);

/* The signals a Signals or Tags cell v holds (a new array of strings; NULL when out of
 * memory): a JSON array of strings as our export writes an ambiguous list
 * (["raised Series B, $20M"]), else v split on the first of ';' '|' ',' it contains
 * (HubSpot's multi-selects use ';', Pipedrive's labels ','), each part trimmed, empty
 * parts dropped. */
json_t *sa_import_signals(const char *v);

/* Appends to detail (a FastAPI 422 detail list) the entry for a text data[0..len) (cells
 * separated by delim) that the CSV reader refused at w (sa_csv_index): a quoting fault,
 * bytes that are not UTF-8 (the hint names charset=windows-1252 unless charset was
 * given), or a control character; named by its row counted from the header (a report
 * title above it aside), line, and column or byte offset. */
void sa_import_fault_detail(const char *data, size_t len, char delim, const struct sa_csv_where *w,
                            const char *charset, json_t *detail);

#endif
