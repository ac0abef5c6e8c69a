/* CSV (RFC 4180) reading over libcsv: a whole text or file into rows of fields, with the
 * 1-based line of each row for error messages. Used by the reference dataset loader and
 * the lead import. */
#ifndef SA_BASE_CSV_H
#define SA_BASE_CSV_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

/* Where a text was refused, for a message that names the place. */
enum sa_csv_fault {
    SA_CSV_SYNTAX = 1, /* quoting: line, row, column (the cell it is in), unclosed */
    SA_CSV_UTF8,       /* not UTF-8: line, row, offset (bytes from the start of the text) */
    SA_CSV_CONTROL,    /* a control character (C0, DEL, C1) in a cell: line, row, column */
};

struct sa_csv_where {
    enum sa_csv_fault fault; /* 0 when the refusal was not about the text (too many rows) */
    size_t line;             /* 1-based */
    size_t row;              /* 0-based index into the rows (the first row is 0) */
    size_t column;           /* 0-based */
    size_t offset;
    size_t row_offset; /* of the first byte of the row the fault is in */
    bool unclosed;     /* SA_CSV_SYNTAX: a quoted cell still open at the end of the text */
};

/* Parses data[0..len) into *rows: a JSON array of rows, each {"line": N, "fields":
 * [strings]} (new reference), cells separated by delim (',' ';' or '\t'). Strict RFC 4180
 * quoting; a UTF-8 BOM is skipped; rows end at CRLF, LF or CR. The text MUST be UTF-8
 * and cells MUST NOT hold control characters other than tab, CR and LF (C1 U+0080-U+009F
 * included: Windows-1252 punctuation read as Latin-1): anything else is
 * refused rather than altered. At most max_rows rows (SA_ETOOBIG past it). Returns 0, or
 * SA_EINVAL with err naming the line and *where (may be NULL) saying what and where. */
int sa_csv_parse_delim(const char *data, size_t len, char delim, size_t max_rows, json_t **rows,
                       struct sa_csv_where *where, struct sa_err *err) SA_WUR;

/* One row of a text as sa_csv_index found it. */
struct sa_csv_row {
    size_t offset;   /* of its first byte in the text (after a BOM) */
    size_t len;      /* its bytes, the line end closing it included */
    size_t line;     /* 1-based line it starts on */
    unsigned fields; /* cells */
    unsigned filled; /* cells holding a character other than space and tab */
};

/* Checks data[0..len) as sa_csv_parse_delim does, keeping no cell: *rows (an array of
 * *nrows entries; free() it, NULL when there are none) locates each row, so a caller can
 * read a file of any number of rows one row at a time (sa_csv_row_fields) in 40 bytes a
 * row. Returns what sa_csv_parse_delim returns, and SA_ENOMEM. */
int sa_csv_index(const char *data, size_t len, char delim, size_t max_rows,
                 struct sa_csv_row **rows, size_t *nrows, struct sa_csv_where *where,
                 struct sa_err *err) SA_WUR;

/* The cells of one indexed row of the same data and delimiter: *fields is a new JSON array
 * of strings. Returns 0, SA_ENOMEM, or SA_EINVAL when row is not a row of data. */
int sa_csv_row_fields(const char *data, const struct sa_csv_row *row, char delim,
                      json_t **fields) SA_WUR;

/* sa_csv_parse_delim with ',' and no where. */
int sa_csv_parse(const char *data, size_t len, size_t max_rows, json_t **rows,
                 struct sa_err *err) SA_WUR;

/* The delimiter of data[0..len): of ',' ';' and tab, the one whose count (outside quotes)
 * is the same on the most of the first ten non-blank lines (then the higher count, then
 * that order), so a report title above the header or a comma inside the text cells of a
 * ;-separated file does not decide; ',' when none occurs. */
char sa_csv_sniff(const char *data, size_t len);

/* Reads a file and parses it as above; SA_ECONFIG when it cannot be read. */
int sa_csv_load_file(const char *path, size_t max_rows, json_t **rows, struct sa_err *err) SA_WUR;

#endif
