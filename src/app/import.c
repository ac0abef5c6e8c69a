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
        /* our export (and careful spreadsheets) neutralise a cell that a spreadsheet would
         * run as a formula with a leading ': "'+1 415 555 0100" is the phone +1 415 555 0100
         * (OWASP CSV injection advice); taking it back makes export then import give the
         * same leads */
        if (v[0] == '\'' && v[1] && strchr("=+-@\t\r", v[1]))
            v++;
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

/* Drops the title lines above the header and the footer and blank lines below the data
 * from lay->rows, listing each in lay->skipped (a blank row between data rows stays: the
 * report counts it among the rows, as skipped). The header is the first row with two or more
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
        } else {
            json_array_append(out, row); /* a blank row among the data counts as skipped */
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

/* Whether every cell of the row is empty or blank: a spacer line, counted as skipped. */
static bool blank_row(const json_t *fields)
{
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f)
    {
        for (const char *p = json_string_value(f); p && *p; p++)
            if (!isspace((unsigned char)*p))
                return false;
    }
    return true;
}

/* The in-file identity key (the rule of sa_app_lead_identify, docs/leads.md): the
 * e-mail, else company name, company domain and contact name; ASCII case folded.
 * Returns a new string (free it), NULL when out of memory. */
static char *identity_key(const struct sa_lead *l, const struct sa_model *m)
{
    char dom[256];
    sa_lead_domain(l, m, dom, sizeof dom);
    const char *name = l->contact_name ? l->contact_name : "";
    size_t n = (l->contact_email ? strlen(l->contact_email)
                                 : strlen(l->company_name) + strlen(dom) + strlen(name)) +
               8;
    char *key = malloc(n);
    if (!key)
        return NULL;
    if (l->contact_email)
        snprintf(key, n, "e:%s", l->contact_email);
    else
        snprintf(key, n, "n:%s|%s|%s", l->company_name, dom, name);
    for (char *p = key; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return key;
}

/* An open-addressing hash table from identity key to the index of the file's lead
 * entry: in-file deduplication costs one probe per row, not a scan of earlier rows. Keys
 * are borrowed from the entries. */
struct key_table {
    const char **keys;
    size_t *vals;
    size_t cap; /* a power of two, at least twice the entries */
};

static uint64_t hash_key(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int table_init(struct key_table *t, size_t entries)
{
    t->cap = 16;
    while (t->cap < entries * 2)
        t->cap <<= 1;
    t->keys = calloc(t->cap, sizeof *t->keys);
    t->vals = calloc(t->cap, sizeof *t->vals);
    return t->keys && t->vals ? 0 : SA_ENOMEM;
}

static void table_free(struct key_table *t)
{
    free(t->keys);
    free(t->vals);
}

/* The slot of key: where it is, or the empty slot where it goes. */
static size_t table_slot(const struct key_table *t, const char *key)
{
    size_t i = (size_t)hash_key(key) & (t->cap - 1);
    while (t->keys[i] && strcmp(t->keys[i], key) != 0)
        i = (i + 1) & (t->cap - 1);
    return i;
}

/* One lead of the file: the first row of its identity and the rows folded into it. */
struct prepared {
    json_t *input;  /* merged input of the rows that are the same lead */
    size_t row;     /* first row (1-based, header is row 0) */
    char *key;      /* identity key (owned) */
    json_t *merged; /* the later rows folded into this one: [row, ...] */
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
    /* one at a time: the identity lookups and the write must see each other's leads */
    pthread_mutex_lock(&import_lock);
    int rc = import_csv(app, fmt, data, len, partial, progress, arg, report, err);
    pthread_mutex_unlock(&import_lock);
    return rc;
}

/* What the write phase needs per lead, allocated together. */
struct batch {
    struct sa_lead_row *lrows;
    struct sa_exec_row *erows;
    struct sa_lead *leads;
    char (*ids)[SA_UUID_LEN];
    char (*eids)[SA_UUID_LEN];
    char (*domains)[256];
    char **texts;
    json_t **outs;
    char (*sizes)[32];
    bool *updated;
    size_t n;
};

static int batch_alloc(struct batch *b, size_t n)
{
    *b = (struct batch){.n = n};
    b->lrows = calloc(n + 1, sizeof *b->lrows);
    b->erows = calloc(n + 1, sizeof *b->erows);
    b->leads = calloc(n + 1, sizeof *b->leads);
    b->ids = calloc(n + 1, sizeof *b->ids);
    b->eids = calloc(n + 1, sizeof *b->eids);
    b->domains = calloc(n + 1, sizeof *b->domains);
    b->texts = calloc(n * 2 + 2, sizeof *b->texts);
    b->outs = calloc(n + 1, sizeof(json_t *));
    b->sizes = calloc(n + 1, sizeof *b->sizes);
    b->updated = calloc(n + 1, sizeof *b->updated);
    return b->lrows && b->erows && b->leads && b->ids && b->eids && b->domains && b->texts &&
                   b->outs && b->sizes && b->updated
               ? 0
               : SA_ENOMEM;
}

static void batch_free(struct batch *b)
{
    for (size_t p = 0; b->leads && p < b->n; p++) {
        sa_lead_clear(&b->leads[p]);
        json_decref(b->outs ? b->outs[p] : NULL);
        if (b->texts) {
            free(b->texts[2 * p]);
            free(b->texts[2 * p + 1]);
        }
    }
    free(b->lrows);
    free(b->erows);
    free(b->leads);
    free(b->ids);
    free(b->eids);
    free(b->domains);
    free(b->texts);
    free(b->outs);
    free(b->sizes);
    free(b->updated);
}

/* Lead p of the file: found by the identity rule (then the stored input with the file's
 * folded over it) or new, qualified, and its rows filled in b. */
static int prepare_lead(struct sa_app *app, struct sa_agent *q, struct prepared *pr,
                        struct batch *b, size_t p, struct key_table *ids_seen, struct sa_err *err)
{
    json_t *detail = json_array();
    int rc = sa_lead_parse(pr->input, "", &b->leads[p], detail);
    json_decref(detail);
    if (rc)
        return sa_err_set(err, SA_EINVAL, "row %zu: invalid after merging duplicates", pr->row);
    struct sa_err ferr = {0};
    rc = sa_app_lead_identify(app, &b->leads[p], b->ids[p], &ferr);
    if (rc && rc != SA_ENOTFOUND) {
        *err = ferr;
        return rc;
    }
    b->updated[p] = rc == 0;
    if (b->updated[p]) {
        /* two leads of this file are one stored lead: cannot happen under the rule (each
         * key finds its own), checked so that one can never overwrite the other */
        size_t slot = table_slot(ids_seen, b->ids[p]);
        if (ids_seen->keys[slot])
            return sa_err_set(err, SA_ECONFLICT,
                              "rows %zu and %zu are the same stored lead (%s): merge them in "
                              "the file",
                              ids_seen->vals[slot], pr->row, b->ids[p]);
        ids_seen->keys[slot] = b->ids[p];
        ids_seen->vals[slot] = pr->row;
        /* the stored lead's fields stay unless the file gives new ones */
        json_t *old = NULL;
        if ((rc = sa_store_get_lead(app->store, b->ids[p], &old, err)))
            return rc;
        json_t *merged_in = json_deep_copy(json_object_get(old, "data"));
        json_decref(old);
        if (json_is_object(merged_in)) {
            sa_app_lead_merge(merged_in, b->leads[p].raw);
            json_t *d2 = json_array();
            struct sa_lead nl;
            if (sa_lead_parse(merged_in, "", &nl, d2) == 0) {
                sa_lead_clear(&b->leads[p]);
                b->leads[p] = nl;
            }
            json_decref(d2);
        }
        json_decref(merged_in);
    } else {
        sa_uuid_v7(b->ids[p]);
    }
    const struct sa_lead *l = &b->leads[p];
    sa_uuid_v7(b->eids[p]);
    if ((rc = sa_agent_run(q, l, NULL, &b->outs[p], err)))
        return rc;
    b->texts[2 * p] = json_dumps(l->raw, JSON_COMPACT);
    b->texts[2 * p + 1] = json_dumps(b->outs[p], JSON_COMPACT);
    if (!b->texts[2 * p] || !b->texts[2 * p + 1])
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    sa_app_lead_row(&b->lrows[p], l, b->ids[p], b->texts[2 * p], b->outs[p], b->sizes[p]);
    sa_lead_domain(l, app->model, b->domains[p], sizeof b->domains[p]);
    b->lrows[p].company_domain = b->domains[p];
    b->erows[p] = (struct sa_exec_row){.id = b->eids[p],
                                       .lead_id = b->ids[p],
                                       .agent_type = "qualification",
                                       .thread_id = b->eids[p],
                                       .success = true,
                                       .input = b->texts[2 * p],
                                       .output = b->texts[2 * p + 1]};
    return 0;
}

/* The report's lead entries: one per lead (created or updated, with the rows folded into
 * it) and one per folded row (merged_in_file, naming the row it went into), in row order
 * of the leads. */
static json_t *lead_entries(const struct prepared *prep, const struct batch *b, size_t n)
{
    json_t *out = json_array();
    for (size_t p = 0; p < n; p++) {
        json_t *score = json_object_get(b->outs[p], "score"),
               *tier = json_object_get(b->outs[p], "tier");
        json_array_append_new(
            out, json_pack("{s:I, s:s, s:s, s:O, s:O, s:O}", "row", (json_int_t)prep[p].row,
                           "lead_id", b->ids[p], "action", b->updated[p] ? "updated" : "created",
                           "merged_rows", prep[p].merged, "score", score, "tier", tier));
        size_t i;
        json_t *r;
        json_array_foreach(prep[p].merged, i, r)
        {
            json_array_append_new(
                out, json_pack("{s:O, s:s, s:s, s:I, s:O, s:O}", "row", r, "lead_id", b->ids[p],
                               "action", "merged_in_file", "into_row", (json_int_t)prep[p].row,
                               "score", score, "tier", tier));
        }
    }
    return out;
}

static int import_csv(struct sa_app *app, struct sa_import_format *fmt, const char *data,
                      size_t len, bool partial, sa_import_progress_fn progress, void *arg,
                      json_t **report, struct sa_err *err)
{
    *report = NULL;
    struct layout lay;
    int rc = read_export(data, len, fmt, &lay, err); /* encoding, delimiter, report lines */
    if (rc)
        return rc;
    json_t *rows = json_incref(lay.rows);
    json_t *header = json_object_get(json_array_get(rows, 0), "fields");
    size_t nrows = json_array_size(rows) ? json_array_size(rows) - 1 : 0;
    struct colmap *map = lay.map;
    lay.map = NULL;
    struct prepared *prep = calloc(nrows + 1, sizeof *prep);
    json_t *errors = json_array(), *skipped_rows = json_array();
    struct key_table keys = {0}, ids_seen = {0};
    struct batch b = {0};
    size_t nprep = 0, failed = 0, folded = 0;
    if (!map || !prep || table_init(&keys, nrows) || table_init(&ids_seen, nrows)) {
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t r = 1; r <= nrows; r++) {
        json_t *row = json_array_get(rows, r);
        json_t *fields = json_object_get(row, "fields");
        if (progress)
            progress(r, nrows, arg);
        if (blank_row(fields)) {
            json_array_append_new(skipped_rows, json_integer((json_int_t)r));
            continue;
        }
        json_t *in = row_input(header, map, fields);
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
            char *key = identity_key(&lead, app->model);
            size_t slot = key ? table_slot(&keys, key) : 0;
            if (!key) {
                rc = sa_err_set(err, SA_ENOMEM, "out of memory");
            } else if (keys.keys[slot]) {
                struct prepared *pr = &prep[keys.vals[slot]];
                sa_app_lead_merge(pr->input, in); /* a later row adds to the earlier */
                json_array_append_new(pr->merged, json_integer((json_int_t)r));
                folded++;
                free(key);
            } else {
                prep[nprep] = (struct prepared){
                    .input = json_incref(in), .row = r, .key = key, .merged = json_array()};
                keys.keys[slot] = key;
                keys.vals[slot] = nprep++;
            }
            sa_lead_clear(&lead);
        }
        json_decref(detail);
        json_decref(in);
        if (rc)
            goto out;
    }
    if (failed && !partial) {
        rc = sa_err_set(err, SA_EINVAL, "%zu of %zu rows are invalid; nothing was imported", failed,
                        nrows);
        *report = json_pack("{s:I, s:i, s:i, s:i, s:I, s:I, s:O, s:O, s:[]}", "rows",
                            (json_int_t)nrows, "created", 0, "updated", 0, "merged_in_file", 0,
                            "skipped", (json_int_t)json_array_size(skipped_rows), "failed",
                            (json_int_t)failed, "skipped_rows", skipped_rows, "errors", errors,
                            "leads");
        layout_report(*report, &lay); /* columns and skipped_lines */
        goto out;
    }
    /* each lead of the file: identified against the stored leads, qualified; then all
     * written in one transaction */
    if (batch_alloc(&b, nprep)) {
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
        goto out;
    }
    struct sa_agent *q = sa_agents_get(app->agents, SA_AGENT_QUALIFICATION);
    size_t updated = 0;
    for (size_t p = 0; p < nprep && !rc; p++) {
        rc = prepare_lead(app, q, &prep[p], &b, p, &ids_seen, err);
        updated += !rc && b.updated[p];
    }
    if (!rc && nprep)
        rc = sa_store_save_many(app->store, b.lrows, b.erows, (int)nprep, err);
    if (!rc) {
        size_t skipped = json_array_size(skipped_rows);
        SA_ASSERT(nrows == (nprep - updated) + updated + folded + skipped + failed);
        *report = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:O, s:O, s:o}", "rows",
                            (json_int_t)nrows, "created", (json_int_t)(nprep - updated),
                            "updated", (json_int_t)updated, "merged_in_file", (json_int_t)folded,
                            "skipped", (json_int_t)skipped, "failed", (json_int_t)failed,
                            "skipped_rows", skipped_rows, "errors", errors, "leads",
                            lead_entries(prep, &b, nprep));
        layout_report(*report, &lay);
    }
out:
    batch_free(&b);
    for (size_t p = 0; prep && p < nprep; p++) {
        json_decref(prep[p].input);
        json_decref(prep[p].merged);
        free(prep[p].key);
    }
    table_free(&keys);
    table_free(&ids_seen);
    free(prep);
    free(map);
    json_decref(errors);
    json_decref(skipped_rows);
    json_decref(rows);
    layout_free(&lay);
    return rc;
}
