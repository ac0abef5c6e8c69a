/* CSV lead import (see import.h). */
#include "app/import.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agents/agent.h"
#include "domain/contact.h"
#include "domain/lead.h"
#include "app/app.h"
#include "app/invoke.h"
#include "app/leads.h"
#include "base/charset.h"
#include "base/csv.h"
#include "base/detail.h"
#include "base/json.h"
#include "base/uuid.h"
#include "store/store.h"

/* Where a column goes: a lead field, a contact_info field, or a special. */
enum target { T_NONE, T_FIELD, T_CONTACT, T_FIRST, T_LAST, T_SIGNALS };

static const struct {
    const char *header; /* normalised: lowercase letters and digits */
    enum target t;
    const char *field;
} columns[] = {
    {"companyname", T_FIELD, "company_name"},
    {"companyaccount", T_FIELD, "company_name"},     /* Salesforce reports */
    {"organizationname", T_FIELD, "company_name"},   /* Pipedrive: Organization - Name */
    {"personorganization", T_FIELD, "company_name"}, /* Pipedrive: Person - Organization */
    {"associatedcompany", T_FIELD, "company_name"},  /* HubSpot */
    {"noofemployees", T_FIELD, "company_size"},      /* Salesforce: No. of Employees */
    {"organizationnumberofemployees", T_FIELD, "company_size"},
    {"organizationannualrevenue", T_FIELD, "annual_revenue"},
    {"websiteurl", T_FIELD, "website"},          /* HubSpot */
    {"companydomainname", T_FIELD, "website"},   /* HubSpot companies */
    {"organizationwebsite", T_FIELD, "website"}, /* Pipedrive */
    {"countryregion", T_FIELD, "country"},       /* HubSpot: Country/Region */
    {"organizationcountry", T_FIELD, "country"},
    {"companycountry", T_FIELD, "country"}, /* Apollo */
    {"personname", T_CONTACT, "name"},      /* Pipedrive: Person - Name */
    {"personfirstname", T_FIRST, NULL},
    {"personlastname", T_LAST, NULL},
    {"personjobtitle", T_CONTACT, "title"},
    {"persontitle", T_CONTACT, "title"},
    {"personemail", T_CONTACT, "email"},
    {"personemailwork", T_CONTACT, "email"},
    {"personphone", T_CONTACT, "phone"},
    {"personphonework", T_CONTACT, "phone"},
    {"workdirectphone", T_CONTACT, "phone"}, /* Apollo */
    {"mobilephonenumber", T_CONTACT, "phone"},
    {"company", T_FIELD, "company_name"},
    {"accountname", T_FIELD, "company_name"},
    {"organization", T_FIELD, "company_name"},
    {"organisation", T_FIELD, "company_name"},
    {"industry", T_FIELD, "industry"},
    {"companysize", T_FIELD, "company_size"},
    {"employees", T_FIELD, "company_size"},
    {"numberofemployees", T_FIELD, "company_size"},
    {"employeecount", T_FIELD, "company_size"},
    {"headcount", T_FIELD, "company_size"},
    {"size", T_FIELD, "company_size"},
    {"annualrevenue", T_FIELD, "annual_revenue"},
    {"revenue", T_FIELD, "annual_revenue"},
    {"website", T_FIELD, "website"},
    {"companywebsite", T_FIELD, "website"},
    {"domain", T_FIELD, "website"},
    {"url", T_FIELD, "website"},
    {"country", T_FIELD, "country"},
    {"billingcountry", T_FIELD, "country"},
    {"mailingcountry", T_FIELD, "country"},
    {"notes", T_FIELD, "notes"},
    {"description", T_FIELD, "notes"},
    {"name", T_CONTACT, "name"},
    {"fullname", T_CONTACT, "name"},
    {"contactname", T_CONTACT, "name"},
    {"contact", T_CONTACT, "name"},
    {"firstname", T_FIRST, NULL},
    {"lastname", T_LAST, NULL},
    {"title", T_CONTACT, "title"},
    {"jobtitle", T_CONTACT, "title"},
    {"contacttitle", T_CONTACT, "title"},
    {"email", T_CONTACT, "email"},
    {"emailaddress", T_CONTACT, "email"},
    {"workemail", T_CONTACT, "email"},
    {"contactemail", T_CONTACT, "email"},
    {"phone", T_CONTACT, "phone"},
    {"phonenumber", T_CONTACT, "phone"},
    {"workphone", T_CONTACT, "phone"},
    {"mobile", T_CONTACT, "phone"},
    {"mobilephone", T_CONTACT, "phone"},
    {"linkedin", T_CONTACT, "linkedin_url"},
    {"linkedinurl", T_CONTACT, "linkedin_url"},
    {"personlinkedinurl", T_CONTACT, "linkedin_url"},
    {"signals", T_SIGNALS, NULL},
    {"tags", T_SIGNALS, NULL},
};

/* Where one column of a file goes: field is the lead or contact_info field (T_FIELD,
 * T_CONTACT), borrowed from columns[] or the user's map; NULL otherwise. */
struct colmap {
    enum target t;
    const char *field;
};

static void norm_header(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 1 < cap; s++)
        if (isalnum((unsigned char)*s))
            out[o++] = (char)tolower((unsigned char)*s);
    out[o] = '\0';
}

/* A header as an extra field name: "Lead Source" -> "lead_source". */
static void extra_name(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 1 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c))
            out[o++] = (char)tolower(c);
        else if (o && out[o - 1] != '_')
            out[o++] = '_';
    }
    while (o && out[o - 1] == '_')
        o--;
    out[o] = '\0';
}

/* One CSV row as an AgentInput object (new reference). */
static json_t *row_input(const json_t *header, const struct colmap *map, const json_t *fields)
{
    json_t *in = json_object(), *contact = json_object();
    const char *first = NULL, *last = NULL;
    size_t i;
    json_t *h;
    json_array_foreach(header, i, h)
    {
        const char *v = json_string_value(json_array_get(fields, i));
        if (!v || !*v)
            continue;
        const char *field = map[i].field;
        switch (map[i].t) {
        case T_FIELD: json_object_set_new(in, field, json_string(v)); break;
        case T_CONTACT: json_object_set_new(contact, field, json_string(v)); break;
        case T_FIRST: first = v; break;
        case T_LAST: last = v; break;
        case T_SIGNALS: {
            json_t *sig = json_array();
            while (*v) {
                size_t n = strcspn(v, ";,|");
                size_t b = 0, e = n;
                while (b < e && isspace((unsigned char)v[b]))
                    b++;
                while (e > b && isspace((unsigned char)v[e - 1]))
                    e--;
                if (e > b)
                    json_array_append_new(sig, json_stringn(v + b, e - b));
                v += n + (v[n] != '\0');
            }
            json_object_set_new(in, "signals", sig);
            break;
        }
        case T_NONE: {
            static const char *const reserved[] = {"company_name",
                                                   "industry",
                                                   "company_size",
                                                   "annual_revenue",
                                                   "website",
                                                   "country",
                                                   "notes",
                                                   "contact_info",
                                                   "signals",
                                                   "revenue_currency",
                                                   NULL};
            char name[64], extra[72];
            extra_name(json_string_value(h), name, sizeof name);
            bool taken = false;
            for (int k = 0; reserved[k]; k++)
                taken |= strcmp(name, reserved[k]) == 0;
            snprintf(extra, sizeof extra, taken ? "extra_%s" : "%s", name);
            if (name[0] && !json_object_get(in, extra))
                json_object_set_new(in, extra, json_string(v));
            break;
        }
        }
    }
    if ((first || last) && !json_object_get(contact, "name")) {
        /* built whole, so validation sees (and can refuse) the full length */
        size_t n = (first ? strlen(first) : 0) + (last ? strlen(last) : 0) + 2;
        char *full = malloc(n);
        if (full) {
            snprintf(full, n, "%s%s%s", first ? first : "", first && last ? " " : "",
                     last ? last : "");
            json_object_set_new(contact, "name", json_string(full));
            free(full);
        }
    }
    if (json_object_size(contact))
        json_object_set_new(in, "contact_info", contact);
    else
        json_decref(contact);
    /* a plain number of employees or of revenue stays a number, as the API would get it */
    return in;
}

/* ---- reading an export: encoding, delimiter, report lines, columns ------------------ */

/* The targets a user's map may name. */
static const struct {
    const char *name;
    enum target t;
    const char *field;
} targets[] = {
    {"company_name", T_FIELD, "company_name"},
    {"industry", T_FIELD, "industry"},
    {"company_size", T_FIELD, "company_size"},
    {"annual_revenue", T_FIELD, "annual_revenue"},
    {"revenue_currency", T_FIELD, "revenue_currency"},
    {"website", T_FIELD, "website"},
    {"country", T_FIELD, "country"},
    {"notes", T_FIELD, "notes"},
    {"signals", T_SIGNALS, NULL},
    {"first_name", T_FIRST, NULL},
    {"last_name", T_LAST, NULL},
    {"contact_info.name", T_CONTACT, "name"},
    {"contact_info.title", T_CONTACT, "title"},
    {"contact_info.email", T_CONTACT, "email"},
    {"contact_info.phone", T_CONTACT, "phone"},
    {"contact_info.linkedin_url", T_CONTACT, "linkedin_url"},
};

/* A file as the import reads it: rows[0] is the header, then the data rows; map has one
 * entry per header column; columns and skipped are the report's. All owned. */
struct layout {
    json_t *rows;
    struct colmap *map;
    json_t *columns; /* [{column, mapped_to} | {column, kept_as}] */
    json_t *skipped; /* [{line, reason}]: title, footer and blank lines */
    char *text;      /* the UTF-8 text, when it had to be converted */
};

static void layout_free(struct layout *lay)
{
    json_decref(lay->rows);
    json_decref(lay->columns);
    json_decref(lay->skipped);
    free(lay->map);
    free(lay->text);
    *lay = (struct layout){0};
}

static void problem(json_t *detail, json_t *loc, const char *type, const char *msg)
{
    json_array_append_new(detail,
                          json_pack("{s:o, s:s, s:s}", "loc", loc, "msg", msg, "type", type));
}

static const char *cell(const json_t *row, size_t i)
{
    const char *v = json_string_value(json_array_get(json_object_get(row, "fields"), i));
    return v ? v : "";
}

static size_t filled(const json_t *row)
{
    size_t n = 0, i;
    json_t *f;
    json_array_foreach(json_object_get(row, "fields"), i, f)
    {
        const char *v = json_string_value(f);
        n += v && v[strspn(v, " \t")] != '\0';
    }
    return n;
}

/* Why a one-cell line after the data is a report footer (Salesforce writes these), or
 * NULL when it does not look like one. */
static const char *footer_reason(const char *v)
{
    static const struct {
        const char *prefix, *reason;
    } footers[] = {
        {"grand totals", "report footer: grand totals"},
        {"total", "report footer: totals"},
        {"copyright", "report footer: copyright notice"},
        {"\xc2\xa9", "report footer: copyright notice"},
        {"confidential information", "report footer: confidentiality notice"},
        {"generated by", "report footer: generated by"},
    };
    for (size_t i = 0; i < sizeof footers / sizeof footers[0]; i++)
        if (strncasecmp(v, footers[i].prefix, strlen(footers[i].prefix)) == 0)
            return footers[i].reason;
    return strstr(v, "salesforce.com") ? "report footer: copyright notice" : NULL;
}

static void skip(json_t *skipped, const json_t *row, const char *reason)
{
    json_array_append_new(
        skipped, json_pack("{s:O, s:s}", "line", json_object_get(row, "line"), "reason", reason));
}

/* Drops the title lines above the header and the footer and blank lines below it from
 * lay->rows, listing each in lay->skipped. The header is the first row with two or more
 * filled cells (a one-column file: its first row). The footer is the run of blank and
 * one-cell lines at the end, when one of them reads like a report footer: a one-cell row
 * that does not is data (it will be validated, and fail or import, like any row). */
static void strip_report_lines(struct layout *lay)
{
    json_t *in = lay->rows, *out = json_array();
    size_t n = json_array_size(in), head = 0;
    while (head < n && filled(json_array_get(in, head)) < 2)
        head++;
    if (head == n)
        head = 0;
    for (size_t r = 0; r < head; r++)
        skip(lay->skipped, json_array_get(in, r),
             filled(json_array_get(in, r)) ? "report title above the header" : "blank line");
    size_t ncols = json_array_size(json_object_get(json_array_get(in, head), "fields"));
    size_t tail = n;
    bool footer = false;
    while (tail > head + 1) {
        const json_t *row = json_array_get(in, tail - 1);
        size_t f = filled(row);
        if (f > 1 || (f == 1 && (ncols < 2 || json_array_size(json_object_get(row, "fields")) > 1)))
            break;
        footer |= f == 0 || footer_reason(cell(row, 0));
        tail--;
    }
    if (!footer)
        tail = n;
    for (size_t r = head; r < n; r++) {
        json_t *row = json_array_get(in, r);
        if (r >= tail) {
            const char *why = filled(row) ? footer_reason(cell(row, 0)) : "blank line";
            skip(lay->skipped, row, why ? why : "report footer");
        } else if (r > head && filled(row) == 0) {
            skip(lay->skipped, row, "blank line");
        } else {
            json_array_append(out, row);
        }
    }
    json_decref(in);
    lay->rows = out;
}

/* Refuses a header that names one column twice (which one would win?). */
static void check_duplicates(const json_t *header, json_t *detail)
{
    size_t n = json_array_size(header);
    for (size_t i = 0; i < n; i++) {
        const char *a = json_string_value(json_array_get(header, i));
        for (size_t j = i + 1; a && *a && j < n; j++) {
            const char *b = json_string_value(json_array_get(header, j));
            if (b && strcasecmp(a, b) == 0) {
                char msg[256];
                snprintf(msg, sizeof msg,
                         "Column \"%.*s\" appears twice in the header (columns %zu and %zu); "
                         "rename or remove one",
                         sa_utf8_cut(a, 100), a, i + 1, j + 1);
                problem(detail, json_pack("[s, s, s]", "body", "header", a), "duplicate_column",
                        msg);
                break;
            }
        }
    }
}

/* The user's map entry for column h (compared like the built-in headers), or NULL. */
static const json_t *user_target(const json_t *map, const char *h)
{
    const char *k;
    json_t *v;
    char a[64], b[64];
    norm_header(h, a, sizeof a);
    json_object_foreach((json_t *)map, k, v)
    {
        norm_header(k, b, sizeof b);
        if (a[0] && strcmp(a, b) == 0)
            return v;
    }
    return NULL;
}

int sa_import_map_check(const json_t *map, json_t *detail)
{
    if (!json_is_object(map)) {
        problem(detail, json_pack("[s, s]", "query", "map"), "dict_type",
                "The map should be a JSON object {\"Their Column\": \"company_name\", ...}");
        return SA_EINVAL;
    }
    const char *k;
    json_t *v;
    size_t before = json_array_size(detail);
    json_object_foreach((json_t *)map, k, v)
    {
        const char *t = json_string_value(v);
        size_t i = 0;
        while (t && i < sizeof targets / sizeof targets[0] && strcmp(targets[i].name, t) != 0)
            i++;
        if (!t || i == sizeof targets / sizeof targets[0])
            problem(detail, json_pack("[s, s, s]", "query", "map", k), "enum",
                    "Input should be one of company_name, industry, company_size, "
                    "annual_revenue, revenue_currency, website, country, notes, signals, "
                    "first_name, last_name, contact_info.name, contact_info.title, "
                    "contact_info.email, contact_info.phone, contact_info.linkedin_url");
    }
    return json_array_size(detail) > before ? SA_EINVAL : 0;
}

/* Maps each header column: the user's map first, then the built-in names; a column whose
 * target an earlier column already took is kept as an extra field, so two columns never
 * overwrite each other. */
static void map_columns(struct layout *lay, const json_t *user, json_t *detail)
{
    const json_t *header = json_object_get(json_array_get(lay->rows, 0), "fields");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)user, k, v)
    {
        size_t i;
        json_t *h;
        bool found = false;
        char a[64], b[64];
        norm_header(k, a, sizeof a);
        json_array_foreach(header, i, h)
        {
            norm_header(json_string_value(h), b, sizeof b);
            found |= a[0] && strcmp(a, b) == 0;
        }
        if (!found)
            problem(detail, json_pack("[s, s, s]", "query", "map", k), "value_error",
                    "The map names a column the CSV header does not have");
    }
    size_t i;
    json_t *h;
    json_array_foreach(header, i, h)
    {
        const char *name = json_string_value(h);
        const json_t *ut = user ? user_target(user, name) : NULL;
        struct colmap m = {T_NONE, NULL};
        const char *label = NULL;
        for (size_t t = 0; ut && t < sizeof targets / sizeof targets[0]; t++)
            if (strcmp(targets[t].name, json_string_value(ut)) == 0) {
                m = (struct colmap){targets[t].t, targets[t].field};
                label = targets[t].name;
            }
        char hn[64];
        norm_header(name, hn, sizeof hn);
        for (size_t c = 0; !ut && c < sizeof columns / sizeof columns[0]; c++)
            if (strcmp(columns[c].header, hn) == 0) {
                m = (struct colmap){columns[c].t, columns[c].field};
                for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++)
                    if (targets[t].t == m.t &&
                        (!m.field ||
                         strcmp(targets[t].field ? targets[t].field : "", m.field) == 0))
                        label = targets[t].name;
            }
        for (size_t j = 0; m.t != T_NONE && j < i; j++)
            if (lay->map[j].t == m.t &&
                (m.field == lay->map[j].field ||
                 (m.field && lay->map[j].field && strcmp(m.field, lay->map[j].field) == 0)))
                m = (struct colmap){T_NONE, NULL};
        lay->map[i] = m;
        if (m.t != T_NONE) {
            json_array_append_new(lay->columns,
                                  json_pack("{s:s, s:s}", "column", name, "mapped_to", label));
        } else {
            char extra[64];
            extra_name(name, extra, sizeof extra);
            json_array_append_new(lay->columns, json_pack("{s:s, s:s*}", "column", name, "kept_as",
                                                          extra[0] ? extra : NULL));
        }
    }
}

/* The row (counted from the header as 0) and line of a fault at file row `row`. */
static void fault_detail(const struct sa_csv_where *w, const char *charset, json_t *detail)
{
    char msg[400];
    json_t *e;
    if (w->fault == SA_CSV_UTF8) {
        snprintf(msg, sizeof msg, "Row %zu (line %zu, byte offset %zu) is not valid UTF-8%s",
                 w->row, w->line, w->offset,
                 charset ? ""
                         : "; if the file is Windows-1252 or Latin-1 (Excel on Windows), "
                           "send it again with ?charset=windows-1252");
        e = json_pack("{s:[s, I], s:s, s:s, s:I, s:I, s:I}", "loc", "body", (json_int_t)w->row,
                      "msg", msg, "type", "unicode_decode_error", "row", (json_int_t)w->row, "line",
                      (json_int_t)w->line, "offset", (json_int_t)w->offset);
    } else {
        snprintf(msg, sizeof msg,
                 "Row %zu (line %zu), column %zu holds a control character (such as NUL); "
                 "only tab and line breaks inside quotes are allowed",
                 w->row, w->line, w->column + 1);
        json_int_t column = (json_int_t)w->column + 1; /* 1-based, as spreadsheets count */
        e = json_pack("{s:[s, I, I], s:s, s:s, s:I, s:I}", "loc", "body", (json_int_t)w->row,
                      column, "msg", msg, "type", "control_character", "row", (json_int_t)w->row,
                      "line", (json_int_t)w->line);
    }
    json_array_append_new(detail, e);
}

/* Reads data[0..len) as fmt says into lay (cleared on entry; freed on failure). Returns 0;
 * SA_EINVAL with fmt->detail entries for a problem the client must fix (encoding, control
 * characters, duplicate or missing columns, the map), or with err alone for CSV syntax;
 * SA_ETOOBIG; SA_ENOMEM. */
static int read_export(const char *data, size_t len, struct sa_import_format *fmt,
                       struct layout *lay, struct sa_err *err)
{
    *lay = (struct layout){.columns = json_array(), .skipped = json_array()};
    const char *charset = fmt ? fmt->charset : NULL;
    int rc = 0;
    bool utf16 = len >= 2 && ((unsigned char)data[0] == 0xFF || (unsigned char)data[0] == 0xFE) &&
                 ((unsigned char)data[1] == 0xFE || (unsigned char)data[1] == 0xFF);
    bool utf8 = !charset || strcasecmp(charset, "utf-8") == 0 || strcasecmp(charset, "utf8") == 0;
    if (utf16 || !utf8) {
        size_t tlen, bad;
        rc = sa_charset_to_utf8(charset, data, len, &lay->text, &tlen, &bad, err);
        if (rc == SA_EINVAL && fmt && fmt->detail) {
            char msg[200];
            snprintf(msg, sizeof msg, "Byte offset %zu is not valid %s", bad,
                     utf16 ? "UTF-16" : charset);
            problem(fmt->detail, json_pack("[s]", "body"), "unicode_decode_error", msg);
        }
        if (rc)
            goto fail;
        data = lay->text;
        len = tlen;
    }
    struct sa_csv_where where;
    rc = sa_csv_parse_delim(data, len, sa_csv_sniff(data, len), SA_IMPORT_MAX_ROWS + 64, &lay->rows,
                            &where, err);
    if (rc == SA_EINVAL && where.fault != SA_CSV_SYNTAX && fmt && fmt->detail)
        fault_detail(&where, charset, fmt->detail);
    if (rc)
        goto fail;
    strip_report_lines(lay);
    size_t nrows = json_array_size(lay->rows) ? json_array_size(lay->rows) - 1 : 0;
    if (nrows > SA_IMPORT_MAX_ROWS) {
        rc = SA_ETOOBIG;
        goto fail;
    }
    const json_t *header = json_object_get(json_array_get(lay->rows, 0), "fields");
    lay->map = calloc(json_array_size(header) + 1, sizeof *lay->map);
    if (!lay->map) {
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
        goto fail;
    }
    json_t *own = json_array();
    check_duplicates(header, own);
    if (fmt && fmt->map && sa_import_map_check(fmt->map, own) == 0)
        map_columns(lay, fmt->map, own);
    else if (!fmt || !fmt->map)
        map_columns(lay, NULL, own);
    bool has_company = false;
    for (size_t i = 0; i < json_array_size(header); i++)
        has_company |= lay->map[i].field && strcmp(lay->map[i].field, "company_name") == 0;
    if (!json_array_size(own) && !has_company)
        problem(own, json_pack("[s, s]", "body", "header"), "missing",
                "The CSV header has no company column (Company, Company Name, Account Name, "
                "Company / Account, Organization - Name), and ?map= maps none to company_name");
    if (json_array_size(own)) {
        rc = sa_err_set(err, SA_EINVAL, "%s",
                        json_string_value(json_object_get(json_array_get(own, 0), "msg")));
        if (fmt && fmt->detail)
            json_array_extend(fmt->detail, own);
    }
    json_decref(own);
    if (!rc)
        return 0;
fail:
    if (rc == SA_ETOOBIG)
        sa_err_set(err, rc, "the CSV has more than %d rows; split it", SA_IMPORT_MAX_ROWS);
    layout_free(lay);
    return rc;
}

/* Adds columns and skipped_lines to the report (NULL: nothing). */
static void layout_report(json_t *report, const struct layout *lay)
{
    if (!report)
        return;
    json_object_set(report, "columns", lay->columns);
    json_object_set(report, "skipped_lines", lay->skipped);
}

/* Folds later into earlier: a later value replaces an earlier one, except that objects
 * (contact_info) merge key by key and signals are united, so a row that gives only a
 * phone does not erase the title an earlier row gave. */
static void merge_input(json_t *earlier, const json_t *later)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)later, k, v)
    {
        json_t *old = json_object_get(earlier, k);
        if (json_is_object(old) && json_is_object(v)) {
            merge_input(old, v);
        } else if (json_is_array(old) && json_is_array(v) && strcmp(k, "signals") == 0) {
            size_t i;
            json_t *x;
            json_array_foreach(v, i, x)
            {
                bool seen = false;
                size_t j;
                json_t *y;
                json_array_foreach(old, j, y) seen |= json_equal(x, y);
                if (!seen)
                    json_array_append(old, x);
            }
        } else {
            json_object_set(earlier, k, v);
        }
    }
}

/* The key that identifies the same lead: e-mail, else company name + domain. */
static void dedupe_key(const struct sa_lead *l, const struct sa_model *m, char *out, size_t cap)
{
    if (l->contact_email) {
        snprintf(out, cap, "e:%s", l->contact_email);
    } else {
        char dom[256];
        sa_lead_domain(l, m, dom, sizeof dom);
        snprintf(out, cap, "n:%s|%s", l->company_name, dom);
    }
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

/* The domain of an e-mail or a website URL, lowercased, into out. */
static void domain_of(const char *s, char *out, size_t cap)
{
    out[0] = '\0';
    if (!s)
        return;
    const char *at = strrchr(s, '@');
    if (at)
        s = at + 1;
    else if (strncasecmp(s, "https://", 8) == 0)
        s += 8;
    else if (strncasecmp(s, "http://", 7) == 0)
        s += 7;
    if (strncasecmp(s, "www.", 4) == 0)
        s += 4;
    size_t o = 0;
    for (; *s && !strchr("/?#:", *s) && o + 1 < cap; s++)
        out[o++] = (char)tolower((unsigned char)*s);
    out[o] = '\0';
}

/* The id of the stored lead this one merges into: the same contact e-mail (any case),
 * else the same company name (any case) whose website or e-mail has domain. Any argument
 * may be NULL. SA_ENOTFOUND when there is none. */
static int find_stored_lead(struct sa_store *st, const char *email, const char *name,
                            const char *domain, char id[SA_UUID_LEN], struct sa_err *err)
{
    id[0] = '\0';
    if (email && sa_store_lead_by_email(st, email, id, err) == 0)
        return 0;
    json_t *cands = NULL;
    if (name && domain && *domain && sa_store_leads_by_company(st, name, &cands, err) == 0) {
        size_t i;
        json_t *c;
        json_array_foreach(cands, i, c)
        {
            char d1[256], d2[256];
            domain_of(json_string_value(json_object_get(c, "website")), d1, sizeof d1);
            domain_of(json_string_value(json_object_get(c, "contact_email")), d2, sizeof d2);
            if (strcmp(d1, domain) == 0 || strcmp(d2, domain) == 0) {
                snprintf(id, SA_UUID_LEN, "%s", json_string_value(json_object_get(c, "id")));
                break;
            }
        }
    }
    json_decref(cands);
    return id[0] ? 0 : sa_err_set(err, SA_ENOTFOUND, "no such lead");
}

struct prepared {
    json_t *input; /* merged input of the rows that are the same lead */
    size_t row;    /* first row (1-based, header is row 0) */
    char key[400];
};

static pthread_mutex_t import_lock = PTHREAD_MUTEX_INITIALIZER;

static int import_csv(struct sa_app *app, struct sa_import_format *fmt, const char *data,
                      size_t len, bool partial, sa_import_progress_fn progress, void *arg,
                      json_t **report, struct sa_err *err);

int sa_app_import_csv(struct sa_app *app, const char *data, size_t len, bool partial,
                      sa_import_progress_fn progress, void *arg, json_t **report,
                      struct sa_err *err)
{
    return sa_app_import_csv_as(app, NULL, data, len, partial, progress, arg, report, err);
}

int sa_app_import_csv_as(struct sa_app *app, struct sa_import_format *fmt, const char *data,
                         size_t len, bool partial, sa_import_progress_fn progress, void *arg,
                         json_t **report, struct sa_err *err)
{
    /* one at a time: the dedupe lookups and the write must see each other's leads */
    pthread_mutex_lock(&import_lock);
    int rc = import_csv(app, fmt, data, len, partial, progress, arg, report, err);
    pthread_mutex_unlock(&import_lock);
    return rc;
}

static int import_csv(struct sa_app *app, struct sa_import_format *fmt, const char *data,
                      size_t len, bool partial, sa_import_progress_fn progress, void *arg,
                      json_t **report, struct sa_err *err)
{
    *report = NULL;
    struct layout lay;
    int rc = read_export(data, len, fmt, &lay, err);
    if (rc)
        return rc;
    json_t *rows = json_incref(lay.rows);
    json_t *header = json_object_get(json_array_get(rows, 0), "fields");
    size_t nrows = json_array_size(rows) ? json_array_size(rows) - 1 : 0;
    struct colmap *map = lay.map;
    lay.map = NULL;
    struct prepared *prep = calloc(nrows + 1, sizeof *prep);
    json_t *errors = json_array(), *done = json_array();
    size_t nprep = 0, failed = 0;
    if (!map || !prep) {
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t r = 1; r <= nrows; r++) {
        json_t *row = json_array_get(rows, r);
        json_t *in = row_input(header, map, json_object_get(row, "fields"));
        json_t *detail = json_array();
        char prefix[48];
        snprintf(prefix, sizeof prefix, "rows.%zu", r);
        struct sa_lead lead;
        if (sa_lead_parse(in, prefix, &lead, detail)) {
            size_t k;
            json_t *d;
            json_array_foreach(detail, k, d)
            {
                json_object_set_new(d, "row", json_integer((json_int_t)r));
                json_object_set(d, "line", json_object_get(row, "line"));
                json_array_append(errors, d);
            }
            failed++;
        } else {
            char key[400];
            dedupe_key(&lead, app->model, key, sizeof key);
            size_t p = 0;
            while (p < nprep && strcmp(prep[p].key, key) != 0)
                p++;
            if (p < nprep) {
                merge_input(prep[p].input, in); /* a later row adds to the earlier */
            } else {
                prep[nprep].input = json_incref(in);
                prep[nprep].row = r;
                memcpy(prep[nprep].key, key, sizeof key);
                nprep++;
            }
            sa_lead_clear(&lead);
        }
        json_decref(detail);
        json_decref(in);
        if (progress)
            progress(r, nrows, arg);
    }
    if (failed && !partial) {
        rc = sa_err_set(err, SA_EINVAL, "%zu of %zu rows are invalid; nothing was imported", failed,
                        nrows);
        goto report;
    }
    /* qualify each lead, find the stored one it merges into, then write them all at once */
    struct sa_lead_row *lrows = calloc(nprep + 1, sizeof *lrows);
    struct sa_exec_row *erows = calloc(nprep + 1, sizeof *erows);
    struct sa_lead *leads = calloc(nprep + 1, sizeof *leads);
    char(*ids)[SA_UUID_LEN] = calloc(nprep + 1, sizeof *ids);
    char(*eids)[SA_UUID_LEN] = calloc(nprep + 1, sizeof *eids);
    char **texts = calloc(nprep * 2 + 2, sizeof *texts);
    json_t **outs = calloc(nprep + 1, sizeof(json_t *));
    char(*sizes)[32] = calloc(nprep + 1, sizeof *sizes);
    size_t merged = 0;
    if (!lrows || !erows || !leads || !ids || !eids || !texts || !outs || !sizes) {
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
        goto free_rows;
    }
    struct sa_agent *q = sa_agents_get(app->agents, SA_AGENT_QUALIFICATION);
    for (size_t p = 0; p < nprep && !rc; p++) {
        json_t *detail = json_array();
        if (sa_lead_parse(prep[p].input, "", &leads[p], detail)) {
            rc = sa_err_set(err, SA_EINVAL, "row %zu: invalid after merging duplicates",
                            prep[p].row);
            json_decref(detail);
            break;
        }
        json_decref(detail);
        const struct sa_lead *l = &leads[p];
        char dom[256];
        sa_lead_domain(l, app->model, dom, sizeof dom);
        struct sa_err ferr = {0};
        bool is_merge = find_stored_lead(app->store, l->contact_email, l->company_name,
                                         dom[0] ? dom : NULL, ids[p], &ferr) == 0;
        size_t same = p;
        for (size_t q2 = 0; is_merge && q2 < p; q2++)
            if (strcmp(ids[q2], ids[p]) == 0)
                same = q2;
        if (same != p) {
            /* two entries of this file (one found by e-mail, one by name and domain) are
             * the same stored lead: refuse rather than let one overwrite the other */
            rc = sa_err_set(err, SA_ECONFLICT,
                            "rows %zu and %zu are the same stored lead (%s): merge them in "
                            "the file",
                            prep[same].row, prep[p].row, ids[p]);
            break;
        }
        if (is_merge) {
            /* the stored lead's fields stay unless this row gives new ones */
            json_t *old = NULL;
            if (sa_store_get_lead(app->store, ids[p], &old, &ferr) == 0) {
                json_t *merged_in = json_deep_copy(json_object_get(old, "data"));
                if (json_is_object(merged_in)) {
                    merge_input(merged_in, l->raw);
                    json_t *d2 = json_array();
                    struct sa_lead nl;
                    if (sa_lead_parse(merged_in, "", &nl, d2) == 0) {
                        sa_lead_clear(&leads[p]);
                        leads[p] = nl;
                    }
                    json_decref(d2);
                }
                json_decref(merged_in);
                json_decref(old);
            }
            merged++;
        } else {
            sa_uuid_v7(ids[p]);
        }
        l = &leads[p];
        sa_uuid_v7(eids[p]);
        rc = sa_agent_run(q, l, NULL, &outs[p], err);
        if (rc)
            break;
        texts[2 * p] = json_dumps(l->raw, JSON_COMPACT);
        texts[2 * p + 1] = json_dumps(outs[p], JSON_COMPACT);
        sa_app_lead_row(&lrows[p], l, ids[p], texts[2 * p], outs[p], sizes[p]);
        erows[p] = (struct sa_exec_row){.id = eids[p],
                                        .lead_id = ids[p],
                                        .agent_type = "qualification",
                                        .thread_id = eids[p],
                                        .success = true,
                                        .input = texts[2 * p],
                                        .output = texts[2 * p + 1]};
        json_array_append_new(done, json_pack("{s:I, s:s, s:s, s:O, s:O}", "row",
                                              (json_int_t)prep[p].row, "lead_id", ids[p], "action",
                                              is_merge ? "merged" : "created", "score",
                                              json_object_get(outs[p], "score"), "tier",
                                              json_object_get(outs[p], "tier")));
    }
    if (!rc && nprep)
        rc = sa_store_save_many(app->store, lrows, erows, (int)nprep, err);
    if (!rc)
        *report =
            json_pack("{s:I, s:I, s:I, s:I, s:O, s:O}", "imported", (json_int_t)(nprep - merged),
                      "merged", (json_int_t)merged, "failed", (json_int_t)failed, "rows",
                      (json_int_t)nrows, "errors", errors, "leads", done);
    layout_report(*report, &lay);
free_rows:
    for (size_t p = 0; leads && p < nprep; p++) {
        sa_lead_clear(&leads[p]);
        json_decref(outs ? outs[p] : NULL);
        if (texts) {
            free(texts[2 * p]);
            free(texts[2 * p + 1]);
        }
    }
    free(lrows);
    free(erows);
    free(leads);
    free(ids);
    free(eids);
    free(texts);
    free(outs);
    free(sizes);
    goto out;
report:
    *report = json_pack("{s:I, s:I, s:I, s:I, s:O, s:[]}", "imported", (json_int_t)0, "merged",
                        (json_int_t)0, "failed", (json_int_t)failed, "rows", (json_int_t)nrows,
                        "errors", errors, "leads");
    layout_report(*report, &lay);
out:
    layout_free(&lay);
    for (size_t p = 0; prep && p < nprep; p++)
        json_decref(prep[p].input);
    free(prep);
    free(map);
    json_decref(errors);
    json_decref(done);
    json_decref(rows);
    return rc;
}
