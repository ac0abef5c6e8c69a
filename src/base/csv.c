/* CSV reading (see csv.h). libcsv calls back per field and per row end; we collect the
 * fields of the current row and count newlines ourselves for line numbers. */
#include "base/csv.h"

#include <csv.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/detail.h"

struct collect {
    json_t *rows;
    json_t *fields;
    size_t max_rows;
    size_t row_start; /* line where the current row started */
    size_t cur_line;  /* line of the chunk being parsed (chunks end at newlines) */
    bool too_many;
};

static void on_field(void *s, size_t len, void *arg)
{
    struct collect *c = arg;
    if (!c->fields)
        c->fields = json_array();
    char *copy = malloc(len + 1);
    if (!copy)
        return;
    if (len)
        memcpy(copy, s, len);
    copy[len] = '\0';
    sa_utf8_sanitize_all(copy); /* a CSV from a spreadsheet may not be UTF-8 */
    json_array_append_new(c->fields, json_string(copy));
    free(copy);
}

static void on_row(int term, void *arg)
{
    (void)term;
    struct collect *c = arg;
    json_t *f = c->fields ? c->fields : json_array();
    c->fields = NULL;
    size_t start = c->row_start;
    c->row_start = c->cur_line + 1; /* a row ends at the newline closing this chunk */
    if (json_array_size(c->rows) >= c->max_rows) {
        c->too_many = true;
        json_decref(f);
        return;
    }
    json_array_append_new(c->rows, json_pack("{s:I, s:o}", "line", (json_int_t)start, "fields", f));
}

int sa_csv_parse(const char *data, size_t len, size_t max_rows, json_t **rows, struct sa_err *err)
{
    *rows = NULL;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
        data += 3;
        len -= 3;
    }
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    struct collect c = {.rows = json_array(), .max_rows = max_rows, .row_start = 1, .cur_line = 1};
    /* Parse a line at a time, so a row knows the line it started on. */
    size_t pos = 0;
    int rc = 0;
    while (pos < len && !rc) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t chunk = nl ? (size_t)(nl - (data + pos)) + 1 : len - pos;
        if (csv_parse(&p, data + pos, chunk, on_field, on_row, &c) != chunk)
            rc = sa_err_set(err, SA_EINVAL, "CSV line %zu: %s", c.cur_line,
                            csv_strerror(csv_error(&p)));
        c.cur_line++;
        pos += chunk;
    }
    if (!rc && csv_fini(&p, on_field, on_row, &c) != 0)
        rc = sa_err_set(err, SA_EINVAL, "CSV line %zu: %s", c.row_start,
                        csv_strerror(csv_error(&p)));
    csv_free(&p);
    json_decref(c.fields);
    if (!rc && c.too_many)
        rc = sa_err_set(err, SA_ETOOBIG, "CSV has more than %zu rows", max_rows);
    if (rc)
        json_decref(c.rows);
    else
        *rows = c.rows;
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
