/* CSV (RFC 4180) reading over libcsv: a whole text or file into rows of fields, with the
 * 1-based line of each row for error messages. Used by the reference dataset loader and
 * the lead import. */
#ifndef SA_BASE_CSV_H
#define SA_BASE_CSV_H

#include <jansson.h>
#include <stddef.h>

#include "base/err.h"

/* Parses data[0..len) into *rows: a JSON array of rows, each {"line": N, "fields":
 * [strings]} (new reference). Strict RFC 4180 quoting; a UTF-8 BOM is skipped; at most
 * max_rows rows (SA_ETOOBIG past it). Returns 0, or SA_EINVAL with err naming the line. */
int sa_csv_parse(const char *data, size_t len, size_t max_rows, json_t **rows,
                 struct sa_err *err) SA_WUR;

/* Reads a file and parses it as above; SA_ECONFIG when it cannot be read. */
int sa_csv_load_file(const char *path, size_t max_rows, json_t **rows, struct sa_err *err) SA_WUR;

#endif
