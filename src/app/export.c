/* The CSV export (see export.h). A row is built from the stored input ("data"): the
 * fields the import maps by name, then each extra field under its own name, so an export
 * imported again gives the same leads. */
#include "app/export.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "app/import_cells.h"
#include "app/leads.h"
#include "base/buf.h"
#include "store/store.h"

#define PAGE 200

/* The import's column names for the lead's fields: header, top-level field, or the field
 * of contact_info when contact is set. */
static const struct {
    const char *header, *field;
    bool contact;
} columns[] = {
    {"Company Name", "company_name", false},
    {"Industry", "industry", false},
    {"Company Size", "company_size", false},
    {"Annual Revenue", "annual_revenue", false},
    {"Website", "website", false},
    {"Country", "country", false},
    {"Notes", "notes", false},
    {"Contact Name", "name", true},
    {"Contact Title", "title", true},
    {"Email", "email", true},
    {"Phone", "phone", true},
    {"LinkedIn URL", "linkedin_url", true},
    {"Signals", "signals", false},
};
#define N_COLUMNS (sizeof columns / sizeof columns[0])

struct sa_export {
    struct sa_store *store;
    char *tier, *search;
    int min_score;
    json_t *extra; /* the extra fields' names, in column order */
    json_t *page;  /* the current page of {id, data} */
    size_t next;   /* its next row */
    json_t *last;  /* the keyset: the last row written ({id, k, ...}), or NULL */
    int sort;      /* enum sa_lead_sort, or -1 for id order */
    bool started, done;
    size_t rows;
    struct sa_buf out; /* rendered, not yet read */
    size_t out_pos;
    bool bom;
};

static bool is_known(const char *k)
{
    if (strcmp(k, "contact_info") == 0)
        return true;
    for (size_t i = 0; i < N_COLUMNS; i++)
        if (!columns[i].contact && strcmp(columns[i].field, k) == 0)
            return true;
    return false;
}

/* Why the blanks: Excel leaves " =1+1" as text, but an import that trims cells (Google
 * Sheets', LibreOffice's "Trim spaces") would then see the formula. Too much rather than
 * too little: " - item" gets its apostrophe too. */
bool sa_export_formula_like(const char *v, size_t len)
{
    if (len > 0 && (v[0] == '\t' || v[0] == '\r'))
        return true;
    size_t i = 0;
    while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n'))
        i++;
    return i < len && strchr("=+-@", v[i]) != NULL;
}

int sa_export_cell(struct sa_buf *b, const char *v, size_t len)
{
    int rc = 0;
    bool quote = false;
    for (size_t i = 0; i < len && !quote; i++)
        quote = v[i] == ',' || v[i] == '"' || v[i] == '\r' || v[i] == '\n';
    if (quote)
        rc = sa_buf_append(b, "\"", 1);
    if (!rc && sa_export_formula_like(v, len))
        rc = sa_buf_append(b, "'", 1);
    for (size_t i = 0; i < len && !rc; i++)
        rc = v[i] == '"' ? sa_buf_append(b, "\"\"", 2) : sa_buf_append(b, &v[i], 1);
    if (!rc && quote)
        rc = sa_buf_append(b, "\"", 1);
    return rc;
}

/* Whether v, an array, comes back from the import as it is when written joined by "; ". */
static bool joins_back(const json_t *v)
{
    struct sa_buf t;
    sa_buf_init(&t, (size_t)1 << 20);
    size_t i;
    const json_t *x;
    bool ok = true;
    json_array_foreach(v, i, x)
    {
        ok = ok && json_is_string(x) && (!i || sa_buf_puts(&t, "; ") == 0) &&
             sa_buf_puts(&t, json_string_value(x)) == 0;
    }
    json_t *back = ok ? sa_import_signals(t.len ? t.data : "") : NULL;
    ok = ok && back && json_equal(back, (json_t *)v);
    json_decref(back);
    sa_buf_free(&t);
    return ok;
}

/* A JSON value as a cell: strings as they are, signals joined by "; ", numbers and other
 * values as JSON text; null and absent as an empty cell. A list the import would not read
 * back from its "; "-joined text (sa_import_signals: a signal holding ';', or a lone one
 * holding ',' or '|') is written as JSON text, ["raised Series B, $20M"], which the
 * import reads as it is: an export imported again gives the same signals (and score). */
static int value_cell(struct sa_buf *b, const json_t *v)
{
    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v))
        return sa_export_cell(b, json_string_value(v), json_string_length(v));
    struct sa_buf t;
    sa_buf_init(&t, (size_t)1 << 20);
    int rc = 0;
    if (json_is_array(v) && json_array_size(v) > 0 && !joins_back(v)) {
        char *s = json_dumps(v, JSON_COMPACT);
        rc = s ? sa_export_cell(b, s, strlen(s)) : SA_ENOMEM;
        free(s);
        sa_buf_free(&t);
        return rc;
    }
    if (json_is_array(v) && json_array_size(v) > 0) {
        size_t i;
        const json_t *x;
        json_array_foreach(v, i, x)
        {
            if (i && (rc = sa_buf_puts(&t, "; ")))
                break;
            char *s = json_is_string(x) ? NULL : json_dumps(x, JSON_COMPACT | JSON_ENCODE_ANY);
            rc = sa_buf_puts(&t, s ? s : json_string_value(x) ? json_string_value(x) : "");
            free(s);
            if (rc)
                break;
        }
    } else if (!json_is_array(v)) {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        rc = s ? sa_buf_puts(&t, s) : SA_ENOMEM;
        free(s);
    }
    if (!rc && t.len)
        rc = sa_export_cell(b, t.data, t.len);
    sa_buf_free(&t);
    return rc;
}

/* After the lead's fields and its extra ones: what the qualification made of it. The
 * import ignores these columns (a score is computed, not imported), so an export still
 * imports back to the same leads. */
static const char *const computed[] = {"Score", "Tier"};

static int render_header(struct sa_export *x)
{
    int rc = x->bom ? sa_buf_append(&x->out, "\xEF\xBB\xBF", 3) : 0;
    for (size_t i = 0; i < N_COLUMNS && !rc; i++)
        rc = (i ? sa_buf_append(&x->out, ",", 1) : 0) ||
             sa_export_cell(&x->out, columns[i].header, strlen(columns[i].header));
    size_t i;
    json_t *k;
    json_array_foreach(x->extra, i, k)
    {
        if (rc)
            break;
        rc = sa_buf_append(&x->out, ",", 1) ||
             sa_export_cell(&x->out, json_string_value(k), json_string_length(k));
    }
    for (size_t c = 0; c < sizeof computed / sizeof computed[0] && !rc; c++)
        rc = sa_buf_append(&x->out, ",", 1) ||
             sa_export_cell(&x->out, computed[c], strlen(computed[c]));
    return rc ? rc : sa_buf_append(&x->out, "\r\n", 2);
}

static int render_row(struct sa_export *x, const json_t *data, const json_t *row)
{
    const json_t *contact = json_object_get(data, "contact_info");
    int rc = 0;
    for (size_t i = 0; i < N_COLUMNS && !rc; i++) {
        const json_t *v = json_object_get(columns[i].contact ? contact : data, columns[i].field);
        rc = (i ? sa_buf_append(&x->out, ",", 1) : 0) || value_cell(&x->out, v);
    }
    size_t i;
    json_t *k;
    json_array_foreach(x->extra, i, k)
    {
        if (rc)
            break;
        rc = sa_buf_append(&x->out, ",", 1) ||
             value_cell(&x->out, json_object_get(data, json_string_value(k)));
    }
    rc = rc || sa_buf_append(&x->out, ",", 1) || value_cell(&x->out, json_object_get(row, "score"));
    rc = rc || sa_buf_append(&x->out, ",", 1) || value_cell(&x->out, json_object_get(row, "tier"));
    return rc ? rc : sa_buf_append(&x->out, "\r\n", 2);
}

static void query_of(const struct sa_export *x, struct sa_lead_query *q)
{
    *q = (struct sa_lead_query){.limit = PAGE,
                                .tier = x->tier,
                                .min_score = x->min_score,
                                .search = x->search,
                                .sort = x->sort >= 0 ? (enum sa_lead_sort)x->sort : 0,
                                .sorted = x->sort >= 0};
}

int sa_export_open(struct sa_store *store, const struct sa_export_opts *o, struct sa_export **out,
                   struct sa_err *err)
{
    *out = NULL;
    struct sa_export *x = calloc(1, sizeof *x);
    if (!x)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    x->store = store;
    x->min_score = o->min_score;
    x->bom = o->bom;
    x->sort = sa_app_lead_sort_code(o->sort); /* -1 (id order) when NULL */
    if (o->sort && x->sort < 0) {
        free(x);
        return sa_err_set(err, SA_EINVAL, "sort: expected " SA_LEAD_SORT_NAMES);
    }
    x->tier = o->tier ? strdup(o->tier) : NULL;
    x->search = o->search ? strdup(o->search) : NULL;
    sa_buf_init(&x->out, (size_t)64 << 20);
    if ((o->tier && !x->tier) || (o->search && !x->search)) {
        sa_export_free(x);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    struct sa_lead_query q;
    query_of(x, &q);
    json_t *fields = NULL;
    int rc = sa_store_lead_export_fields(store, &q, SA_EXPORT_MAX_EXTRA + 16, &fields, err);
    if (rc) {
        sa_export_free(x);
        return rc;
    }
    x->extra = json_array();
    size_t i;
    json_t *k;
    json_array_foreach(fields, i, k)
    {
        if (!is_known(json_string_value(k)) && json_array_size(x->extra) < SA_EXPORT_MAX_EXTRA)
            json_array_append(x->extra, k);
    }
    json_decref(fields);
    *out = x;
    return 0;
}

/* Renders the next page into x->out (the header first); sets done after the last. */
static int fill(struct sa_export *x, struct sa_err *err)
{
    if (!x->started) {
        x->started = true;
        return render_header(x) ? sa_err_set(err, SA_ENOMEM, "export: out of memory") : 0;
    }
    if (!x->page || x->next >= json_array_size(x->page)) {
        json_decref(x->page);
        x->page = NULL;
        x->next = 0;
        struct sa_lead_query q;
        query_of(x, &q);
        int rc = sa_store_lead_export_page(x->store, &q, x->last, PAGE, &x->page, err);
        if (rc)
            return rc;
        if (json_array_size(x->page) == 0) {
            x->done = true;
            return 0;
        }
    }
    /* a page's worth of rows per fill, so one read never renders the whole store */
    for (; x->next < json_array_size(x->page); x->next++) {
        const json_t *row = json_array_get(x->page, x->next);
        if (render_row(x, json_object_get(row, "data"), row))
            return sa_err_set(err, SA_ENOMEM, "export: out of memory");
        json_decref(x->last);
        x->last = json_incref((json_t *)row);
        x->rows++;
    }
    return 0;
}

ssize_t sa_export_read(struct sa_export *x, char *buf, size_t max, struct sa_err *err)
{
    while (x->out_pos >= x->out.len) {
        if (x->done)
            return 0;
        sa_buf_reset(&x->out);
        x->out_pos = 0;
        if (fill(x, err))
            return -1;
    }
    size_t n = x->out.len - x->out_pos;
    if (n > max)
        n = max;
    memcpy(buf, x->out.data + x->out_pos, n);
    x->out_pos += n;
    return (ssize_t)n;
}

size_t sa_export_rows(const struct sa_export *x)
{
    return x->rows;
}

void sa_export_free(struct sa_export *x)
{
    if (!x)
        return;
    free(x->tier);
    free(x->search);
    json_decref(x->extra);
    json_decref(x->page);
    json_decref(x->last);
    sa_buf_free(&x->out);
    free(x);
}
