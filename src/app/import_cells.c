/* Reading the cells of a CRM export (see import_cells.h): Excel link cells, "no value"
 * placeholders, signal lists, and the 422 detail of a text the CSV reader refused. Called
 * by the import (import.c) and, for signals, the export (export.c). */
#include "app/import_cells.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/import.h"
#include "base/csv.h"

/* A quoted formula argument at *pp ("" inside for a quote) into out; *pp moves past its
 * closing quote. false when there is none there. */
static bool formula_string(const char **pp, char *out, size_t cap)
{
    const char *p = *pp;
    while (*p == ' ')
        p++;
    if (*p++ != '"')
        return false;
    size_t o = 0;
    for (; *p && o + 1 < cap; p++) {
        if (*p == '"' && p[1] == '"') {
            out[o++] = '"';
            p++;
        } else if (*p == '"') {
            break;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
    if (*p != '"')
        return false;
    *pp = p + 1;
    return true;
}

bool sa_import_hyperlink(const char *v, char *out, size_t cap, char *label, size_t lcap)
{
    label[0] = '\0';
    if (strncasecmp(v, "=hyperlink(", 11) != 0)
        return false;
    const char *p = v + 11;
    if (!formula_string(&p, out, cap) || !out[0])
        return false;
    while (*p == ' ')
        p++;
    if (*p == ',' || *p == ';') {
        p++;
        if (!formula_string(&p, label, lcap))
            label[0] = '\0';
    }
    return true;
}

json_t *sa_import_signals(const char *v)
{
    const char *p = v;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '[') { /* our export's form of a list that "; " would not give back */
        json_t *arr = json_loads(p, JSON_REJECT_DUPLICATES, NULL);
        bool strings = json_is_array(arr);
        size_t i;
        json_t *x;
        json_array_foreach(arr, i, x) strings &= json_is_string(x);
        if (strings)
            return arr;
        json_decref(arr);
    }
    /* one separator per cell: a comma inside "raised Series B, $20M; hiring" is text */
    const char *sep = strchr(v, ';') ? ";" : strchr(v, '|') ? "|" : ",";
    json_t *sig = json_array();
    while (sig && *v) {
        size_t n = strcspn(v, sep);
        size_t b = 0, e = n;
        while (b < e && isspace((unsigned char)v[b]))
            b++;
        while (e > b && isspace((unsigned char)v[e - 1]))
            e--;
        if (e > b)
            json_array_append_new(sig, json_stringn(v + b, e - b));
        v += n + (v[n] != '\0');
    }
    return sig;
}

bool sa_import_placeholder(const char *v)
{
    static const char *const none[] = {
        "-",    "--",      "---",     "\xe2\x80\x94", "\xe2\x80\x93",  "n/a",
        "#n/a", "(blank)", "unknown", "(none)",       "not available", NULL};
    while (*v == ' ')
        v++;
    size_t n = strlen(v);
    while (n && v[n - 1] == ' ')
        n--;
    for (int i = 0; none[i]; i++)
        if (strlen(none[i]) == n && strncasecmp(v, none[i], n) == 0)
            return true;
    return false;
}

/* The row of a fault at w counted from the header as 0, as rows of data are counted
 * everywhere else (0: the header itself). The rows before the fault's row are indexed
 * again: a report title or blank lines above the header (strip_report_lines' rule: the
 * header is the first row with two cells filled) are not rows of data. When no row before
 * it has two cells, the fault's row may be the header after a title or a row of a
 * one-column file: it is counted from the file's first row, as before. */
static size_t fault_row(const char *data, size_t len, char delim, const struct sa_csv_where *w)
{
    size_t cut = w->row_offset < len ? w->row_offset : len;
    struct sa_csv_row *rows = NULL;
    size_t n = 0, head = 0;
    struct sa_err e = {0};
    if (cut && sa_csv_index(data, cut, delim, SA_IMPORT_MAX_ROWS + 64, &rows, &n, NULL, &e) != 0)
        n = w->row; /* cannot happen (the text before the fault was read); as the parser counts */
    while (rows && head < n && rows[head].filled < 2)
        head++;
    free(rows);
    return head < n ? n - head : n; /* no header before it: counted from the first row */
}

void sa_import_fault_detail(const char *data, size_t len, char delim, const struct sa_csv_where *w,
                            const char *charset, json_t *detail)
{
    char msg[400], where[160];
    json_t *e;
    size_t row = fault_row(data, len, delim, w);
    if (row)
        snprintf(where, sizeof where, "Row %zu (line %zu", row, w->line);
    else
        snprintf(where, sizeof where, "The header (line %zu", w->line);
    if (w->fault == SA_CSV_SYNTAX) {
        if (w->unclosed)
            snprintf(msg, sizeof msg,
                     "%s), column %zu opens a quoted cell that is never closed: the rest of "
                     "the file would be one cell; close the quote",
                     where, w->column + 1);
        else
            snprintf(msg, sizeof msg,
                     "%s), column %zu is not valid CSV: a quote inside a cell that is not "
                     "quoted, or text after a closing quote; quote the whole cell and double "
                     "the quotes inside it (\"Ana \"\"Nina\"\" Petrovic\")",
                     where, w->column + 1);
        json_int_t column = (json_int_t)w->column + 1;
        e = json_pack("{s:[s, I, I], s:s, s:s, s:I, s:I}", "loc", "body", (json_int_t)row, column,
                      "msg", msg, "type", "csv_syntax", "row", (json_int_t)row, "line",
                      (json_int_t)w->line);
    } else if (w->fault == SA_CSV_UTF8) {
        snprintf(msg, sizeof msg, "%s, byte offset %zu) is not valid UTF-8%s", where, w->offset,
                 charset ? ""
                         : "; if the file is Windows-1252 or Latin-1 (Excel on Windows), "
                           "send it again with charset windows-1252 (?charset=windows-1252, "
                           "on the command line --charset windows-1252)");
        e = json_pack("{s:[s, I], s:s, s:s, s:I, s:I, s:I}", "loc", "body", (json_int_t)row, "msg",
                      msg, "type", "unicode_decode_error", "row", (json_int_t)row, "line",
                      (json_int_t)w->line, "offset", (json_int_t)w->offset);
    } else {
        snprintf(msg, sizeof msg,
                 "%s), column %zu holds a control character (such as NUL, or U+0080-U+009F: "
                 "Windows-1252 text such as € or curly quotes decoded as Latin-1); only tab and "
                 "line breaks inside quotes are allowed",
                 where, w->column + 1);
        json_int_t column = (json_int_t)w->column + 1; /* 1-based, as spreadsheets count */
        e = json_pack("{s:[s, I, I], s:s, s:s, s:I, s:I}", "loc", "body", (json_int_t)row, column,
                      "msg", msg, "type", "control_character", "row", (json_int_t)row, "line",
                      (json_int_t)w->line);
    }
    json_array_append_new(detail, e);
}
