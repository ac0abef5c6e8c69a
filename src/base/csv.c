/* CSV reading (see csv.h). libcsv calls back per field and per row end; we collect the
 * fields of the current row and count line ends ourselves for line numbers. */
#include "base/csv.h"

#include <csv.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/charset.h"

/* The parse's state, shared by the two modes: collecting rows as JSON (rows set) or
 * indexing them (index set: no cell is kept, each row is counted and located). */
struct collect {
    json_t *rows;
    json_t *fields;
    struct sa_csv_row *index; /* index mode: grown as rows end */
    size_t count, cap;        /* rows so far; index capacity */
    size_t row_off;           /* offset of the current row's first byte */
    size_t chunk_end;         /* offset just past the chunk being parsed */
    unsigned nfields, nfilled;
    size_t max_rows;
    size_t row_start; /* line where the current row started */
    size_t cur_line;  /* line of the chunk being parsed (chunks end at line ends) */
    bool too_many;
    bool nomem;
    bool control; /* a cell held a control character: where says which */
    struct sa_csv_where *where;
};

static bool is_control(unsigned char c)
{
    return (c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7F;
}

/* The C1 controls U+0080-U+009F (C2 80 - C2 9F in UTF-8; the text is valid UTF-8, so a C2
 * byte starts a character). No CRM writes them: in a cell they are the bytes 0x80-0x9F
 * of Windows-1252 (€ ‚ „ … ‘ ’ “ ” – —) decoded as Latin-1 somewhere on the way, invisible
 * characters where the letters were. */
static bool is_c1(const char *t, size_t i, size_t len)
{
    return (unsigned char)t[i] == 0xC2 && i + 1 < len && (unsigned char)t[i + 1] >= 0x80 &&
           (unsigned char)t[i + 1] <= 0x9F;
}

static void on_field(void *s, size_t len, void *arg)
{
    struct collect *c = arg;
    const char *text = s ? s : "";
    for (size_t i = 0; i < len && !c->control; i++) {
        if (is_control((unsigned char)text[i]) || is_c1(text, i, len)) {
            c->control = true;
            *c->where = (struct sa_csv_where){.fault = SA_CSV_CONTROL,
                                              .line = c->cur_line,
                                              .row = c->count,
                                              .column = c->nfields,
                                              .offset = i,
                                              .row_offset = c->row_off};
        }
    }
    c->nfields++;
    c->nfilled += strspn(text, " \t") < len;
    if (!c->rows)
        return;
    if (!c->fields)
        c->fields = json_array();
    /* the text was validated as UTF-8 before parsing, so jansson takes every cell */
    json_array_append_new(c->fields, json_stringn(text, len));
}

static void on_row(int term, void *arg)
{
    (void)term;
    struct collect *c = arg;
    size_t start = c->row_start, off = c->row_off;
    unsigned nfields = c->nfields, nfilled = c->nfilled;
    c->row_start = c->cur_line + 1; /* a row ends at the line end closing this chunk */
    c->row_off = c->chunk_end;
    c->nfields = c->nfilled = 0;
    json_t *f = c->fields;
    c->fields = NULL;
    if (c->count >= c->max_rows || c->too_many) {
        c->too_many = true;
        json_decref(f);
        return;
    }
    if (c->rows) {
        json_array_append_new(c->rows, json_pack("{s:I, s:o}", "line", (json_int_t)start, "fields",
                                                 f ? f : json_array()));
    } else {
        if (c->count == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 1024;
            struct sa_csv_row *n = realloc(c->index, cap * sizeof *n);
            if (!n) {
                c->too_many = c->nomem = true;
                return;
            }
            c->index = n;
            c->cap = cap;
        }
        c->index[c->count] = (struct sa_csv_row){
            .offset = off, .len = c->chunk_end - off, .line = start, .fields = nfields,
            .filled = nfilled};
    }
    c->count++;
}

/* The length of the line starting at data[0..len), its end (CRLF, LF or CR) included. */
static size_t line_len(const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n')
            return i + 1;
        if (data[i] == '\r')
            return i + 1 < len && data[i + 1] == '\n' ? i + 2 : i + 1;
    }
    return len;
}

char sa_csv_sniff(const char *data, size_t len)
{
    enum { LINES = 10, ND = 3 };
    static const char delims[ND] = {',', ';', '\t'};
    size_t count[ND][LINES] = {{0}};
    size_t pos = 0;
    int lines = 0;
    bool quoted = false;
    while (lines < LINES && pos < len) {
        size_t n = line_len(data + pos, len - pos);
        bool blank = true;
        for (size_t i = pos; i < pos + n; i++) {
            blank &= data[i] == '\r' || data[i] == '\n' || data[i] == ' ';
            if (data[i] == '"')
                quoted = !quoted;
            for (int d = 0; d < ND && !quoted; d++)
                count[d][lines] += data[i] == delims[d];
        }
        pos += n;
        lines += !blank || quoted; /* a blank line says nothing (and is not counted) */
    }
    /* The delimiter is the one the lines agree on: for each, the most common non-zero
     * count per line and how many lines have it. A comma inside the text cells of a
     * ;-separated file varies from line to line; the real delimiter repeats. */
    int pick = 0;
    size_t best_lines = 0, best_count = 0;
    for (int d = 0; d < ND; d++) {
        for (int a = 0; a < lines; a++) {
            size_t v = count[d][a], agree = 0;
            if (v == 0)
                continue;
            for (int b = 0; b < lines; b++)
                agree += count[d][b] == v;
            if (agree > best_lines || (agree == best_lines && v > best_count)) {
                best_lines = agree;
                best_count = v;
                pick = d;
            }
        }
    }
    return delims[pick];
}

/* The 1-based line, the row (counting row ends outside quotes) and where that row starts
 * of data[off]. */
static void locate(const char *data, size_t off, struct sa_csv_where *w)
{
    size_t line = 1, row = 0, row_offset = 0;
    bool quoted = false;
    for (size_t i = 0; i < off; i++) {
        bool end = data[i] == '\n' || (data[i] == '\r' && data[i + 1] != '\n');
        if (data[i] == '"')
            quoted = !quoted;
        line += end;
        row += end && !quoted;
        if (end && !quoted)
            row_offset = i + 1;
    }
    w->line = line;
    w->row = row;
    w->row_offset = row_offset;
}

int sa_csv_parse(const char *data, size_t len, size_t max_rows, json_t **rows, struct sa_err *err)
{
    return sa_csv_parse_delim(data, len, ',', max_rows, rows, NULL, err);
}

/* Parses data[0..len) into c (rows or index mode), checking what csv.h promises. */
static int parse(const char *data, size_t len, char delim, struct collect *c,
                 struct sa_csv_where *where, struct sa_err *err)
{
    struct sa_csv_where scratch;
    if (!where)
        where = &scratch;
    *where = (struct sa_csv_where){0};
    size_t bom = len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    size_t valid = sa_utf8_valid_prefix(data, len);
    if (valid < len) {
        locate(data, valid, where);
        where->fault = SA_CSV_UTF8;
        where->offset = valid;
        return sa_err_set(err, SA_EINVAL, "CSV line %zu (byte offset %zu): not valid UTF-8",
                          where->line, valid);
    }
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    csv_set_delim(&p, (unsigned char)delim);
    c->row_start = c->cur_line = 1;
    c->where = where;
    c->row_off = bom;
    /* Parse a line at a time, so a row knows the line it started on. */
    size_t pos = bom;
    int rc = 0;
    while (pos < len && !rc) {
        size_t chunk = line_len(data + pos, len - pos);
        c->chunk_end = pos + chunk;
        if (p.pstate == 0) { /* no row begun yet (libcsv's ROW_NOT_BEGUN): one starts here,
                              * after however many blank lines libcsv skipped */
            c->row_start = c->cur_line;
            c->row_off = pos;
        }
        if (csv_parse(&p, data + pos, chunk, on_field, on_row, c) != chunk) {
            *where = (struct sa_csv_where){.fault = SA_CSV_SYNTAX,
                                           .line = c->cur_line,
                                           .row = c->count,
                                           .column = c->nfields,
                                           .row_offset = c->row_off};
            rc = csv_error(&p) == CSV_EPARSE
                     ? sa_err_set(err, SA_EINVAL,
                                  "CSV line %zu, column %zu: a quote inside a cell that is not "
                                  "quoted, or text after a closing quote",
                                  c->cur_line, (size_t)c->nfields + 1)
                     : sa_err_set(err, SA_EINVAL, "CSV line %zu: %s", c->cur_line,
                                  csv_strerror(csv_error(&p)));
        } else if (c->control) {
            rc = sa_err_set(err, SA_EINVAL,
                            "CSV line %zu, row %zu, column %zu: a control character (such as "
                            "NUL) in a cell",
                            where->line, where->row, where->column + 1);
        }
        c->cur_line++;
        pos += chunk;
    }
    if (!rc && csv_fini(&p, on_field, on_row, c) != 0) {
        *where = (struct sa_csv_where){.fault = SA_CSV_SYNTAX,
                                       .line = c->row_start,
                                       .row = c->count,
                                       .column = c->nfields,
                                       .row_offset = c->row_off,
                                       .unclosed = true};
        rc = csv_error(&p) == CSV_EPARSE
                 ? sa_err_set(err, SA_EINVAL,
                              "CSV line %zu, column %zu: a quoted cell is never closed",
                              c->row_start, (size_t)c->nfields + 1)
                 : sa_err_set(err, SA_EINVAL, "CSV line %zu: %s", c->row_start,
                              csv_strerror(csv_error(&p)));
    }
    if (!rc && c->control)
        rc = sa_err_set(err, SA_EINVAL,
                        "CSV line %zu, row %zu, column %zu: a control character (such as NUL) "
                        "in a cell",
                        where->line, where->row, where->column + 1);
    csv_free(&p);
    json_decref(c->fields);
    c->fields = NULL;
    if (!rc && c->nomem)
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    if (!rc && c->too_many)
        rc = sa_err_set(err, SA_ETOOBIG, "CSV has more than %zu rows", c->max_rows);
    return rc;
}

int sa_csv_parse_delim(const char *data, size_t len, char delim, size_t max_rows, json_t **rows,
                       struct sa_csv_where *where, struct sa_err *err)
{
    *rows = NULL;
    struct collect c = {.rows = json_array(), .max_rows = max_rows};
    int rc = parse(data, len, delim, &c, where, err);
    if (rc)
        json_decref(c.rows);
    else
        *rows = c.rows;
    return rc;
}

int sa_csv_index(const char *data, size_t len, char delim, size_t max_rows,
                 struct sa_csv_row **rows, size_t *nrows, struct sa_csv_where *where,
                 struct sa_err *err)
{
    *rows = NULL;
    *nrows = 0;
    struct collect c = {.max_rows = max_rows};
    int rc = parse(data, len, delim, &c, where, err);
    if (rc) {
        free(c.index);
        return rc;
    }
    *rows = c.index;
    *nrows = c.count;
    return 0;
}

static void cell_field(void *s, size_t len, void *arg)
{
    json_array_append_new(arg, json_stringn(s ? s : "", len));
}

int sa_csv_row_fields(const char *data, const struct sa_csv_row *row, char delim, json_t **fields)
{
    *fields = json_array();
    struct csv_parser p;
    if (!*fields || csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        json_decref(*fields);
        *fields = NULL;
        return SA_ENOMEM;
    }
    csv_set_delim(&p, (unsigned char)delim);
    /* the row was parsed whole when it was indexed: it parses again the same way */
    int rc = csv_parse(&p, data + row->offset, row->len, cell_field, NULL, *fields) == row->len &&
                     csv_fini(&p, cell_field, NULL, *fields) == 0
                 ? 0
                 : SA_EINVAL;
    csv_free(&p);
    if (rc) {
        json_decref(*fields);
        *fields = NULL;
    }
    return rc;
}

int sa_csv_load_file(const char *path, size_t max_rows, json_t **rows, struct sa_err *err)
{
    *rows = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return sa_err_set(err, SA_ECONFIG, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 65536 > cap) {
            cap = cap ? cap * 2 : 131072;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return sa_err_set(err, SA_ENOMEM, "out of memory");
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    int rc = sa_csv_parse(buf ? buf : "", len, max_rows, rows, err);
    free(buf);
    if (rc) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s: %s", path, err->msg);
        sa_err_set(err, rc == SA_EINVAL ? SA_ECONFIG : rc, "%s", msg);
    }
    return rc;
}
