/* CSV lead import (see import.h). */
#include "app/import.h"

#include <ctype.h>
#include <malloc.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agents/agent.h"
#include "domain/contact.h"
#include "domain/lead.h"
#include "app/app.h"
#include "app/crm_sync.h"
#include "app/export.h"
#include "app/import_cells.h"
#include "app/invoke.h"
#include "app/leads.h"
#include "base/buf.h"
#include "base/charset.h"
#include "base/csv.h"
#include "base/detail.h"
#include "base/json.h"
#include "base/uuid.h"
#include "store/store.h"

/* Where a column goes: a lead field, a contact_info field, or a special. */
/* T_SKIP: a column of our own export that is computed, not input (Score, Tier): ignored. */
enum target { T_NONE, T_FIELD, T_CONTACT, T_FIRST, T_LAST, T_SIGNALS, T_SKIP };

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
    {"revenuecurrency", T_FIELD, "revenue_currency"},
    {"website", T_FIELD, "website"},
    {"companywebsite", T_FIELD, "website"},
    {"domain", T_FIELD, "website"},
    {"url", T_FIELD, "website"},
    {"country", T_FIELD, "country"},
    {"billingcountry", T_FIELD, "country"},
    {"mailingcountry", T_FIELD, "country"},
    /* where the contact is: the prospect's time zone comes from these (domain/timezone.h) */
    {"state", T_FIELD, "state"},
    {"stateregion", T_FIELD, "state"}, /* HubSpot: State/Region */
    {"stateprovince", T_FIELD, "state"},
    {"mailingstateprovince", T_FIELD, "state"}, /* Salesforce */
    {"billingstateprovince", T_FIELD, "state"},
    {"province", T_FIELD, "state"},
    {"companystate", T_FIELD, "state"}, /* Apollo */
    {"city", T_FIELD, "city"},
    {"mailingcity", T_FIELD, "city"},
    {"billingcity", T_FIELD, "city"},
    {"companycity", T_FIELD, "city"},
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
    {"designation", T_CONTACT, "title"},
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
    {"score", T_SKIP, NULL},
    {"tier", T_SKIP, NULL},
};

/* Where one column of a file goes: field is the lead or contact_info field (T_FIELD,
 * T_CONTACT), borrowed from columns[] or the user's map; NULL otherwise. */
struct colmap {
    enum target t;
    const char *field;
    char extra[96]; /* T_NONE: the extra field the column is kept as (unique in the file) */
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

/* The extra field column i (header name) is kept as, into map[i].extra: its name in
 * snake case ("Lead Source": lead_source), "extra_" before a lead field's own name, a
 * column number for a name with no letters or digits ("#": column_5), and "_2", "_3"...
 * when an earlier column of the file has it already ("Lead Source", "Lead-Source"), so no
 * column's values are dropped. Names are cut at 80 characters, before the suffix. */
static void keep_as(struct colmap *map, size_t i, const char *header)
{
    static const char *const reserved[] = {
        "company_name", "industry",     "company_size", "annual_revenue",   "website", "country",
        "notes",        "contact_info", "signals",      "revenue_currency", NULL};
    char name[81], base[90];
    extra_name(header ? header : "", name, sizeof name);
    /* a contact field's name would move the value into contact_info (domain/lead.h) */
    bool taken = sa_lead_flat_contact_key(name);
    for (int k = 0; reserved[k]; k++)
        taken |= strcmp(name, reserved[k]) == 0;
    if (!name[0])
        snprintf(base, sizeof base, "column_%zu", i + 1);
    else
        snprintf(base, sizeof base, taken ? "extra_%s" : "%s", name);
    snprintf(map[i].extra, sizeof map[i].extra, "%s", base);
    for (int n = 2;; n++) {
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = map[j].t == T_NONE && strcmp(map[j].extra, map[i].extra) == 0;
        if (!dup)
            break;
        snprintf(map[i].extra, sizeof map[i].extra, "%s_%d", base, n);
    }
}

/* Whether column m holds addresses: the website, the LinkedIn URL, or an extra field
 * named for one (profile_url, company_linkedin_url, homepage_link). */
static bool url_column(const struct colmap *m)
{
    if (m->field && (strcmp(m->field, "website") == 0 || strcmp(m->field, "linkedin_url") == 0))
        return true;
    return m->t == T_NONE && (strstr(m->extra, "url") || strstr(m->extra, "link") ||
                              strstr(m->extra, "website") || strstr(m->extra, "homepage"));
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
        if (v[0] == '\'' && sa_export_formula_like(v + 1, strlen(v + 1)))
            v++;
        /* Excel keeps a link as =HYPERLINK("https://...", "label"): in a column of
         * addresses the address is the value (a website or a profile URL, refused as a URL
         * before); in any other column the label is, as the spreadsheet showed it (a
         * company name linked to its site stays the name, not the address) */
        char link[1024], label[1024];
        if (sa_import_hyperlink(v, link, sizeof link, label, sizeof label))
            v = url_column(&map[i]) || !label[0] ? link : label;
        if (map[i].t != T_NONE && sa_import_placeholder(v))
            continue; /* an extra field keeps the cell as written */
        const char *field = map[i].field;
        switch (map[i].t) {
        case T_FIELD: json_object_set_new(in, field, json_string(v)); break;
        case T_CONTACT: json_object_set_new(contact, field, json_string(v)); break;
        case T_FIRST: first = v; break;
        case T_LAST: last = v; break;
        case T_SIGNALS: json_object_set_new(in, "signals", sa_import_signals(v)); break;
        case T_SKIP: break; /* computed by the qualification: never imported */
        case T_NONE:
            /* named once per file by map_columns: unique, never a lead field's name */
            if (map[i].extra[0] && !json_object_get(in, map[i].extra))
                json_object_set_new(in, map[i].extra, json_string(v));
            break;
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
    {"state", T_FIELD, "state"},
    {"city", T_FIELD, "city"},
    {"timezone", T_FIELD, "timezone"},
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

/* A file as the import reads it: an index of its rows (no cell is kept: a row's cells are
 * read again when they are needed, so memory does not grow with the cells of the file),
 * rows[head] the header and rows[head + 1 .. end) the data rows; map has one entry per
 * header column; columns and skipped are the report's. All owned but data, which is the
 * caller's text or this layout's converted text. */
struct layout {
    const char *data; /* the UTF-8 text */
    char delim;
    struct sa_csv_row *rows;
    size_t nrows, head, end;
    json_t *header; /* the header's cells */
    struct colmap *map;
    json_t *columns; /* [{column, mapped_to} | {column, kept_as}] */
    json_t *skipped; /* [{line, reason}]: title, footer and blank lines */
    char *text;      /* the UTF-8 text, when it had to be converted */
};

static void layout_free(struct layout *lay)
{
    free(lay->rows);
    json_decref(lay->header);
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

/* The cells of rows[i] (new reference; NULL when out of memory). */
static json_t *row_cells(const struct layout *lay, size_t i)
{
    json_t *fields = NULL;
    if (sa_csv_row_fields(lay->data, &lay->rows[i], lay->delim, &fields))
        return NULL;
    return fields;
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

static void skip(json_t *skipped, const struct sa_csv_row *row, const char *reason)
{
    json_array_append_new(skipped,
                          json_pack("{s:I, s:s}", "line", (json_int_t)row->line, "reason", reason));
}

/* The footer reason of one-cell row i, or NULL. */
static const char *row_footer(const struct layout *lay, size_t i)
{
    json_t *f = row_cells(lay, i);
    const char *v = json_string_value(json_array_get(f, 0));
    const char *why = v ? footer_reason(v) : NULL;
    json_decref(f);
    return why;
}

/* Drops the title lines above the header and the footer and blank lines below the data
 * from lay->rows, listing each in lay->skipped (a blank row between data rows stays: the
 * report counts it among the rows, as skipped). The header is the first row with two or more
 * filled cells (a one-column file: its first row). The footer is the run of blank and
 * one-cell lines at the end, when one of them reads like a report footer: a one-cell row
 * that does not is data (it will be validated, and fail or import, like any row). */
static void strip_report_lines(struct layout *lay)
{
    const struct sa_csv_row *in = lay->rows;
    size_t n = lay->nrows, head = 0;
    while (head < n && in[head].filled < 2)
        head++;
    if (head == n)
        head = 0;
    for (size_t r = 0; r < head; r++)
        skip(lay->skipped, &in[r], in[r].filled ? "report title above the header" : "blank line");
    size_t ncols = n ? in[head].fields : 0;
    size_t tail = n;
    bool footer = false;
    while (tail > head + 1) {
        const struct sa_csv_row *row = &in[tail - 1];
        size_t f = row->filled;
        const char *why = f == 1 ? row_footer(lay, tail - 1) : NULL;
        /* a one-cell line, or one padded with empty cells (Excel and Salesforce's
         * formatted export fill every line to the header's width) that reads as a footer */
        if (f > 1 || (f == 1 && !why && (ncols < 2 || row->fields > 1)))
            break;
        footer |= f == 0 || why;
        tail--;
    }
    if (!footer)
        tail = n;
    for (size_t r = tail; r < n; r++) {
        const char *why = in[r].filled ? row_footer(lay, r) : "blank line";
        skip(lay->skipped, &in[r], why ? why : "report footer");
    }
    lay->head = head;
    lay->end = tail; /* a blank row among the data counts as skipped */
}

/* Refuses a header that names a lead field's column twice (which one is the person's
 * e-mail?). A name no lead field takes ("Created Date" of two objects in a Salesforce
 * report) is no question: each column is kept, the second as created_date_2. */
static void check_duplicates(const json_t *header, const struct colmap *map, json_t *detail)
{
    size_t n = json_array_size(header);
    for (size_t i = 0; i < n; i++) {
        const char *a = json_string_value(json_array_get(header, i));
        if (map[i].t == T_NONE || map[i].t == T_SKIP)
            continue;
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
    const json_t *header = lay->header;
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
        struct colmap m = {.t = T_NONE};
        const char *label = NULL;
        for (size_t t = 0; ut && t < sizeof targets / sizeof targets[0]; t++)
            if (strcmp(targets[t].name, json_string_value(ut)) == 0) {
                m = (struct colmap){.t = targets[t].t, .field = targets[t].field};
                label = targets[t].name;
            }
        char hn[64];
        norm_header(name, hn, sizeof hn);
        for (size_t c = 0; !ut && c < sizeof columns / sizeof columns[0]; c++)
            if (strcmp(columns[c].header, hn) == 0) {
                m = (struct colmap){.t = columns[c].t, .field = columns[c].field};
                for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++)
                    if (targets[t].t == m.t &&
                        (!m.field ||
                         strcmp(targets[t].field ? targets[t].field : "", m.field) == 0))
                        label = targets[t].name;
            }
        for (size_t j = 0; m.t != T_NONE && m.t != T_SKIP && j < i; j++)
            if (lay->map[j].t == m.t &&
                (m.field == lay->map[j].field ||
                 (m.field && lay->map[j].field && strcmp(m.field, lay->map[j].field) == 0)))
                m = (struct colmap){.t = T_NONE};
        lay->map[i] = m;
        if (m.t == T_SKIP) {
            json_array_append_new(lay->columns,
                                  json_pack("{s:s, s:s}", "column", name, "ignored",
                                            "computed by the qualification, not imported"));
        } else if (m.t != T_NONE) {
            json_array_append_new(lay->columns, json_pack("{s:s, s:s}", "column", name, "mapped_to",
                                                          label ? label : m.field));
        } else {
            keep_as(lay->map, i, name);
            json_array_append_new(lay->columns, json_pack("{s:s, s:s}", "column", name, "kept_as",
                                                          lay->map[i].extra));
        }
    }
}

json_t *sa_import_columns(void)
{
    json_t *out = json_array();
    for (size_t c = 0; c < sizeof columns / sizeof columns[0]; c++) {
        if (columns[c].t == T_SKIP) {
            json_array_append_new(out,
                                  json_pack("{s:s, s:s}", "header", columns[c].header, "ignored",
                                            "computed by the qualification, not imported"));
            continue;
        }
        const char *label = columns[c].field; /* as map_columns names it in the report */
        for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++)
            if (targets[t].t == columns[c].t &&
                (!columns[c].field ||
                 strcmp(targets[t].field ? targets[t].field : "", columns[c].field) == 0))
                label = targets[t].name;
        json_array_append_new(
            out, json_pack("{s:s, s:s?}", "header", columns[c].header, "mapped_to", label));
    }
    return out;
}

/* Reads data[0..len) as fmt says into lay (cleared on entry; freed on failure). Returns 0;
 * SA_EINVAL with fmt->detail entries for a problem the client must fix (encoding, quoting,
 * control characters, duplicate or missing columns, the map); SA_ETOOBIG; SA_ENOMEM. */
static int read_export(const char *data, size_t len, struct sa_import_format *fmt,
                       struct layout *lay, struct sa_err *err)
{
    *lay = (struct layout){.columns = json_array(), .skipped = json_array()};
    const char *charset = fmt ? fmt->charset : NULL;
    int rc = 0;
    bool utf16 = len >= 2 && ((unsigned char)data[0] == 0xFF || (unsigned char)data[0] == 0xFE) &&
                 ((unsigned char)data[1] == 0xFE || (unsigned char)data[1] == 0xFF);
    bool utf8 = !charset || strcasecmp(charset, "utf-8") == 0 || strcasecmp(charset, "utf8") == 0;
    if (!utf16 && !utf8 && sa_utf8_valid_prefix(data, len) == len) {
        /* declared single-byte, but the bytes are valid UTF-8 with letters beyond ASCII:
         * converting would turn "Müller" into "MÃ¼ller" without a word. A real
         * Windows-1252 file with such letters is almost never valid UTF-8. */
        bool high = false;
        for (size_t i = 0; i < len && !high; i++)
            high = (unsigned char)data[i] >= 0x80;
        if (high) {
            if (fmt && fmt->detail)
                problem(fmt->detail, json_pack("[s, s]", "query", "charset"), "value_error",
                        "The file is UTF-8 (its non-ASCII letters are valid UTF-8): send it "
                        "without charset, or with charset=utf-8");
            rc = sa_err_set(err, SA_EINVAL, "the file is UTF-8, not %s", charset);
            goto fail;
        }
    }
    if (utf16 || !utf8) {
        size_t tlen, bad;
        /* Latin-1 as the WHATWG encoding standard (and so every browser) reads it: as
         * Windows-1252. The two differ only at 0x80-0x9F, invisible C1 controls in Latin-1
         * and € ‚ „ … ‘ ’ “ ” – — in the Windows files people call Latin-1 */
        bool latin1 = charset && (strcasecmp(charset, "latin1") == 0 ||
                                  strcasecmp(charset, "iso-8859-1") == 0);
        rc = sa_charset_to_utf8(latin1 ? "windows-1252" : charset, data, len, &lay->text, &tlen,
                                &bad, err);
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
    lay->data = data;
    lay->delim = sa_csv_sniff(data, len);
    rc = sa_csv_index(data, len, lay->delim, SA_IMPORT_MAX_ROWS + 64, &lay->rows, &lay->nrows,
                      &where, err);
    if (rc == SA_EINVAL && where.fault && fmt && fmt->detail)
        sa_import_fault_detail(data, len, lay->delim, &where, charset, fmt->detail);
    if (rc)
        goto fail;
    strip_report_lines(lay);
    size_t nrows = lay->end > lay->head ? lay->end - lay->head - 1 : 0;
    if (nrows > SA_IMPORT_MAX_ROWS) {
        rc = SA_ETOOBIG;
        goto fail;
    }
    lay->header = lay->nrows ? row_cells(lay, lay->head) : json_array();
    if (!lay->header) {
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
        goto fail;
    }
    const json_t *header = lay->header;
    lay->map = calloc(json_array_size(header) + 1, sizeof *lay->map);
    if (!lay->map) {
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
        goto fail;
    }
    json_t *own = json_array();
    if (fmt && fmt->map && sa_import_map_check(fmt->map, own) == 0)
        map_columns(lay, fmt->map, own);
    else if (!fmt || !fmt->map)
        map_columns(lay, NULL, own);
    check_duplicates(header, lay->map, own);
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
 * e-mail (with the contact name for a shared mailbox, as sa_contact_name_key compares
 * it), else company name, company domain and contact name; ASCII case folded. A shared
 * mailbox's rows without a name, or of a new name, see file_lead_of.
 * Returns a new string (free it), NULL when out of memory. */
static char *identity_key(const struct sa_lead *l, const struct sa_model *m)
{
    char dom[256];
    sa_lead_domain(l, m, dom, sizeof dom);
    const char *name = l->contact_name ? l->contact_name : "";
    char nkey[512];
    bool role = l->contact_email && sa_email_role_account(l->contact_email);
    if (role && sa_contact_name_key(name, nkey, sizeof nkey))
        name = nkey; /* "Dr. Anna Schmidt" is "anna schmidt" */
    /* "Herr Müller" and "Frau Müller" share the name key: the salutation follows it
     * (file_lead_of) */
    char sal = role && name[0] ? sa_contact_gender(l->contact_name, l->raw) : 0;
    size_t n = (l->contact_email ? strlen(l->contact_email) + strlen(name)
                                 : strlen(l->company_name) + strlen(dom) + strlen(name)) +
               8;
    char *key = malloc(n);
    if (!key)
        return NULL;
    if (role)
        snprintf(key, n, "r:%s|%s%s%c", l->contact_email, name, sal ? "\x01" : "",
                 sal); /* a shared mailbox */
    else if (l->contact_email)
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

/* A lead of the file, from the validation pass to the report: its first and last rows,
 * then what its write gave (id, action, score and tier). */
struct file_lead {
    size_t row, last;
    char id[SA_UUID_LEN];
    bool updated;
    bool nameless; /* a shared mailbox's first lead of the file, still without a name */
    char sal;      /* a shared mailbox's lead: its salutation's gender (file_lead_of) */
    char *given;   /* owned: the contact name it gives the stored lead it updates (NULL:
                      none), for the next file leads of the mailbox (taken_name) */
    json_t *score; /* owned */
    char tier[16];
};

/* One lead ready to write: the input of its rows folded together. */
struct prepared {
    json_t *input; /* owned */
    size_t lead;   /* index into the file's leads */
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
    /* an import allocates and frees many small blocks; give the freed pages back to the
     * system instead of keeping the peak for the life of the server */
    malloc_trim(0);
    return rc;
}

/* What the write of one chunk needs per lead, allocated together. */
struct batch {
    struct sa_lead_row *lrows;
    struct sa_exec_row *erows;
    struct sa_lead *leads;
    char (*eids)[SA_UUID_LEN];
    char (*domains)[256];
    char **texts;
    json_t **outs;
    char (*sizes)[32];
    size_t n;
};

static int batch_alloc(struct batch *b, size_t n)
{
    *b = (struct batch){.n = n};
    b->lrows = calloc(n + 1, sizeof *b->lrows);
    b->erows = calloc(n + 1, sizeof *b->erows);
    b->leads = calloc(n + 1, sizeof *b->leads);
    b->eids = calloc(n + 1, sizeof *b->eids);
    b->domains = calloc(n + 1, sizeof *b->domains);
    b->texts = calloc(n * 2 + 2, sizeof *b->texts);
    b->outs = calloc(n + 1, sizeof(json_t *));
    b->sizes = calloc(n + 1, sizeof *b->sizes);
    return b->lrows && b->erows && b->leads && b->eids && b->domains && b->texts && b->outs &&
                   b->sizes
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
    free(b->eids);
    free(b->domains);
    free(b->texts);
    free(b->outs);
    free(b->sizes);
    *b = (struct batch){0};
}

/* The stored leads taken by the file's leads identified so far: stored id (borrowed from
 * the file lead's) -> index of the file lead. */
struct taken {
    struct key_table *ids_seen;
    const struct file_lead *leads;
};

/* sa_identify_taken.name_of: the name the file lead that took id gives it. */
static bool taken_name(void *arg, const char *id, const char **name)
{
    const struct taken *t = arg;
    if (!id)
        return false;
    size_t slot = table_slot(t->ids_seen, id);
    if (!t->ids_seen->keys[slot])
        return false;
    *name = t->leads[t->ids_seen->vals[slot]].given;
    return true;
}

/* Lead pr of the file: found by the identity rule (then the stored input with the file's
 * folded over it) or new, qualified, and its rows filled in b at p. fl->id and
 * fl->updated are set. The file is identified a chunk ahead of its writes, so the rule
 * sees a stored lead an earlier file lead took with the name that lead gives it
 * (sa_app_lead_identify_taken): as if the file's leads were invoked in turn, two people
 * of a shared mailbox never both take one stored lead ("Frau Müller" takes the stored
 * "Müller", "Herr Müller" then finds his own or is new). ids_seen (borrowing fl->id, to
 * the index in leads) refuses two file leads that are still one stored lead. */
static int prepare_lead(struct sa_app *app, struct sa_agent *q, const struct prepared *pr,
                        struct file_lead *fl, struct batch *b, size_t p, struct key_table *ids_seen,
                        struct file_lead *leads, struct sa_err *err)
{
    json_t *detail = json_array();
    int rc = sa_lead_parse(pr->input, "", &b->leads[p], detail);
    json_decref(detail);
    if (rc)
        return sa_err_set(err, SA_EINVAL, "row %zu: invalid after merging duplicates", fl->row);
    struct sa_err ferr = {0};
    struct taken t = {ids_seen, leads};
    const struct sa_identify_taken taken = {taken_name, &t};
    rc = sa_app_lead_identify_taken(app, &b->leads[p], &taken, fl->id, NULL, &ferr);
    if (rc && rc != SA_ENOTFOUND) {
        *err = ferr;
        return rc;
    }
    fl->updated = rc == 0;
    size_t slot = fl->updated ? table_slot(ids_seen, fl->id) : 0;
    if (fl->updated) {
        /* two leads of this file are one stored lead: cannot happen under the rule (each
         * key finds its own), checked so that one can never overwrite the other */
        if (ids_seen->keys[slot])
            return sa_err_set(err, SA_ECONFLICT,
                              "rows %zu and %zu are the same stored lead (%s): merge them in "
                              "the file",
                              leads[ids_seen->vals[slot]].row, fl->row, fl->id);
        ids_seen->keys[slot] = fl->id;
        ids_seen->vals[slot] = (size_t)(fl - leads);
        /* the stored lead's fields stay unless the file gives new ones */
        json_t *old = NULL;
        if ((rc = sa_store_get_lead(app->store, fl->id, &old, err)))
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
        const struct sa_lead *m = &b->leads[p];
        if (m->contact_name && m->contact_email && sa_email_role_account(m->contact_email) &&
            !(fl->given = strdup(m->contact_name)))
            return sa_err_set(err, SA_ENOMEM, "out of memory");
    } else {
        sa_uuid_v7(fl->id);
    }
    const struct sa_lead *l = &b->leads[p];
    sa_uuid_v7(b->eids[p]);
    /* no model narrative per imported row: one paid call each would turn an import of
     * thousands of rows into hours (agents/agent.h, skip_explain) */
    json_t *ctx = json_pack("{s:b}", "skip_explain", 1);
    rc = ctx ? sa_agent_run(q, l, ctx, &b->outs[p], err) : sa_err_set(err, SA_ENOMEM, "out of memory");
    json_decref(ctx);
    if (rc)
        return rc;
    b->texts[2 * p] = json_dumps(l->raw, JSON_COMPACT);
    b->texts[2 * p + 1] = json_dumps(b->outs[p], JSON_COMPACT);
    if (!b->texts[2 * p] || !b->texts[2 * p + 1])
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    sa_app_lead_row(&b->lrows[p], l, fl->id, b->texts[2 * p], b->outs[p], b->sizes[p]);
    sa_lead_domain(l, app->model, b->domains[p], sizeof b->domains[p]);
    b->lrows[p].company_domain = b->domains[p];
    b->erows[p] = (struct sa_exec_row){.id = b->eids[p],
                                       .lead_id = fl->id,
                                       .agent_type = "qualification",
                                       .thread_id = b->eids[p],
                                       .success = true,
                                       .input = b->texts[2 * p],
                                       .output = b->texts[2 * p + 1]};
    return 0;
}

/* The state of one import across its two passes over the file. */
struct run {
    struct sa_app *app;
    const struct layout *lay;
    size_t nrows;            /* data rows */
    uint32_t *lead_of;       /* per data row: 1 + its lead's index, 0 for no lead */
    struct file_lead *leads; /* in the order of their first rows */
    size_t nleads, cap;
    struct key_table keys;     /* identity key (owned) -> lead index */
    struct key_table ids_seen; /* stored lead id (borrowed from leads[].id) -> its index */
    json_t *errors, *skipped_rows;
    json_t *replaced; /* [[row, [field...]]...] in row order: see note_replaced */
    size_t failed, folded, errors_omitted, written, replaced_omitted;
    size_t opted_out; /* contacts the export says opted out: marked do-not-contact */
};

/* The cells of data row r (1-based); NULL when out of memory. */
static json_t *data_row(const struct run *ru, size_t r)
{
    return row_cells(ru->lay, ru->lay->head + r);
}

/* The file's column(s) a validation error of a row is about, by its loc ["rows", r,
 * "contact_info", "email"]: "Email", "Person - Email - Work", "First Name + Last Name"
 * for a name built from two; NULL when no column fills the field (a new string: free it).
 * A user reads the errors against their file, where the field is a column's header. */
static char *error_column(const struct layout *lay, const json_t *loc)
{
    char key[160] = "";
    size_t o = 0;
    for (size_t k = 2; k < json_array_size(loc) && o + 1 < sizeof key; k++) {
        const char *part = json_string_value(json_array_get(loc, k));
        if (!part)
            break; /* an index into signals: the column is the signals' */
        int n = snprintf(key + o, sizeof key - o, "%s%s", o ? "." : "", part);
        if (n < 0 || (size_t)n >= sizeof key - o)
            return NULL;
        o += (size_t)n;
    }
    struct sa_buf out;
    sa_buf_init(&out, 4096);
    for (size_t i = 0; i < json_array_size(lay->header); i++) {
        const struct colmap *m = &lay->map[i];
        char full[160];
        snprintf(full, sizeof full, "%s%s", m->t == T_CONTACT ? "contact_info." : "",
                 m->field ? m->field : "");
        bool hit = ((m->t == T_FIELD || m->t == T_CONTACT) && strcmp(full, key) == 0) ||
                   ((m->t == T_FIRST || m->t == T_LAST) && strcmp(key, "contact_info.name") == 0) ||
                   (m->t == T_SIGNALS && strcmp(key, "signals") == 0) ||
                   (m->t == T_NONE && m->extra[0] && strcmp(m->extra, key) == 0);
        if (hit && ((out.len && sa_buf_puts(&out, " + ")) ||
                    sa_buf_puts(&out, json_string_value(json_array_get(lay->header, i))))) {
            sa_buf_free(&out);
            return NULL;
        }
    }
    char *name = out.len ? strdup(out.data) : NULL;
    sa_buf_free(&out);
    return name;
}

/* Row r (lead, identity key: owned, taken) joins the file's lead of its key, else a new
 * one. A shared mailbox's rows follow the rule of sa_app_lead_identify as if invoked in
 * file order: a row without a name joins the mailbox's first lead of the file; a named
 * row the file has no lead of that name for joins that first lead while it has no name
 * (and names it), else it is a new lead. The mailbox is keyed "m:<email>" (case folded).
 * 0 or SA_ENOMEM. */
static int file_lead_of(struct run *ru, const struct sa_lead *lead, char *key, size_t r)
{
    size_t slot = table_slot(&ru->keys, key);
    if (ru->keys.keys[slot]) {
        size_t p = ru->keys.vals[slot];
        ru->lead_of[r] = (uint32_t)(p + 1);
        ru->leads[p].last = r; /* a later row adds to the earlier */
        ru->folded++;
        free(key);
        return 0;
    }
    /* A salutation ("Frau Müller": key "r:<email>|muller\1f") is told apart from another
     * ("Herr Müller") but not from none: the row joins the file's first lead of the name
     * (key without the salutation) while that lead has none or the same, and names it so;
     * with another it is a new lead (sa_contact_same_person). The name's key then points
     * at the first lead of the name, which a row without a salutation joins. */
    char *sep = key[0] == 'r' ? strchr(key, '\x01') : NULL;
    char sal = sep ? sep[1] : 0;
    char *bkey = NULL; /* the key of the name without the salutation, when not yet held */
    if (sep) {
        *sep = '\0';
        size_t bslot = table_slot(&ru->keys, key);
        if (ru->keys.keys[bslot] && !ru->leads[ru->keys.vals[bslot]].sal) {
            size_t p = ru->keys.vals[bslot];
            *sep = '\x01';
            ru->lead_of[r] = (uint32_t)(p + 1);
            ru->leads[p].last = r;
            ru->leads[p].sal = sal;
            ru->folded++;
            ru->keys.keys[slot] = key;
            ru->keys.vals[slot] = p;
            return 0;
        }
        if (!ru->keys.keys[bslot] && !(bkey = strdup(key))) {
            *sep = '\x01';
            free(key);
            return SA_ENOMEM;
        }
        *sep = '\x01';
    }
    char *mkey = NULL;
    if (key[0] == 'r') { /* a shared mailbox (identity_key) */
        size_t n = strlen(lead->contact_email) + 3;
        if (!(mkey = malloc(n))) {
            free(key);
            free(bkey);
            return SA_ENOMEM;
        }
        snprintf(mkey, n, "m:%s", lead->contact_email);
        for (char *p = mkey; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        size_t mslot = table_slot(&ru->keys, mkey);
        bool named = key[strlen(key) - 1] != '|';
        if (ru->keys.keys[mslot] && (!named || ru->leads[ru->keys.vals[mslot]].nameless)) {
            size_t p = ru->keys.vals[mslot];
            ru->lead_of[r] = (uint32_t)(p + 1);
            ru->leads[p].last = r;
            ru->folded++;
            free(mkey);
            if (!named) {
                free(key);
                free(bkey); /* NULL: a salutation comes with a name */
                return 0;
            }
            ru->leads[p].nameless = false; /* it takes this row's name */
            ru->leads[p].sal = sal;
            ru->keys.keys[slot] = key;
            ru->keys.vals[slot] = p;
            if (bkey) {
                size_t bslot = table_slot(&ru->keys, bkey);
                ru->keys.keys[bslot] = bkey;
                ru->keys.vals[bslot] = p;
            }
            return 0;
        }
        if (ru->keys.keys[mslot]) {
            free(mkey);
            mkey = NULL;
        }
    }
    if (ru->nleads == ru->cap &&
        !(ru->leads = reallocarray(ru->leads, ru->cap = ru->cap * 2 + 64, sizeof *ru->leads))) {
        free(key);
        free(mkey);
        free(bkey);
        return SA_ENOMEM;
    }
    ru->leads[ru->nleads] = (struct file_lead){.row = r, .last = r, .sal = sal};
    ru->keys.keys[slot] = key;
    ru->keys.vals[slot] = ru->nleads;
    if (bkey) {
        size_t bslot = table_slot(&ru->keys, bkey);
        ru->keys.keys[bslot] = bkey;
        ru->keys.vals[bslot] = ru->nleads;
    }
    if (mkey) { /* the mailbox's first lead of the file */
        ru->leads[ru->nleads].nameless = key[strlen(key) - 1] == '|';
        ru->keys.keys[table_slot(&ru->keys, mkey)] = mkey;
        ru->keys.vals[table_slot(&ru->keys, mkey)] = ru->nleads;
    }
    ru->lead_of[r] = (uint32_t)++ru->nleads;
    return 0;
}

/* Pass 1: every row validated and given its lead by the identity rule (one probe of the
 * key table per row); nothing is kept of a row but its lead's index, so this pass holds
 * one key per lead (and one per shared mailbox) whatever the size of the file. */
static int validate_rows(struct run *ru, sa_import_progress_fn progress, void *arg,
                         struct sa_err *err)
{
    const json_t *header = ru->lay->header;
    for (size_t r = 1; r <= ru->nrows; r++) {
        if (progress)
            progress(SA_IMPORT_CHECKING, r, ru->nrows, arg);
        const struct sa_csv_row *raw = &ru->lay->rows[ru->lay->head + r];
        json_t *fields = data_row(ru, r);
        if (!fields)
            return sa_err_set(err, SA_ENOMEM, "out of memory");
        if (blank_row(fields)) {
            json_array_append_new(ru->skipped_rows, json_integer((json_int_t)r));
            json_decref(fields);
            continue;
        }
        json_t *in = row_input(header, ru->lay->map, fields);
        json_decref(fields);
        json_t *detail = json_array();
        char prefix[48];
        snprintf(prefix, sizeof prefix, "rows.%zu", r);
        struct sa_lead lead;
        int rc = 0;
        if (sa_lead_parse(in, prefix, &lead, detail)) {
            size_t k;
            json_t *d;
            json_array_foreach(detail, k, d)
            {
                if (json_array_size(ru->errors) >= SA_IMPORT_REPORT_MAX) {
                    ru->errors_omitted++;
                    continue;
                }
                json_object_set_new(d, "row", json_integer((json_int_t)r));
                json_object_set_new(d, "line", json_integer((json_int_t)raw->line));
                char *column = error_column(ru->lay, json_object_get(d, "loc"));
                if (column)
                    json_object_set_new(d, "column", json_string(column));
                free(column);
                json_array_append(ru->errors, d);
            }
            ru->failed++;
        } else {
            char *key = identity_key(&lead, ru->app->model);
            if (!key || file_lead_of(ru, &lead, key, r))
                rc = sa_err_set(err, SA_ENOMEM, "out of memory");
            sa_lead_clear(&lead);
        }
        json_decref(detail);
        json_decref(in);
        if (rc)
            return rc;
    }
    return 0;
}

/* The opt-out columns CRMs export (as kept extra fields: HubSpot "Unsubscribed from all
 * email", Salesforce "Email Opt Out" / HasOptedOutOfEmail, Pipedrive and Zoho "Email Opt
 * Out", "Do Not Email", "Unsubscribed"), or NULL when the lead has none set. A careful SDR
 * does not mail someone who opted out in the CRM: the contact is marked do-not-contact. */
static const char *opt_out_column(const json_t *in)
{
    static const char *const names[] = {"email_opt_out",
                                        "has_opted_out_of_email",
                                        "hasoptedoutofemail",
                                        "opted_out_of_email",
                                        "do_not_email",
                                        "unsubscribed",
                                        "unsubscribed_from_all_email",
                                        "email_opted_out",
                                        "do_not_contact",
                                        NULL};
    static const char *const yes[] = {"true",      "yes", "y",   "1",  "x",
                                      "opted out", "ja",  "oui", "si", NULL};
    for (int i = 0; names[i]; i++) {
        const char *v = json_string_value(json_object_get(in, names[i]));
        for (int k = 0; v && yes[k]; k++)
            if (strcasecmp(v, yes[k]) == 0)
                return names[i];
    }
    return NULL;
}

/* One chunk of leads on its way to the store: prepared (identified, qualified, rows
 * filled) on a worker thread while the import's thread writes the chunk before it and
 * reads the rows of the chunk after it. */
struct chunk_job {
    struct run *ru;
    struct sa_agent *q;
    struct prepared *chunk;
    size_t n;
    struct batch b;
    int rc;
    struct sa_err err;
};

static void *prepare_chunk(void *arg)
{
    struct chunk_job *j = arg;
    j->rc = batch_alloc(&j->b, j->n) ? sa_err_set(&j->err, SA_ENOMEM, "out of memory") : 0;
    for (size_t i = 0; i < j->n && !j->rc; i++)
        j->rc = prepare_lead(j->ru->app, j->q, &j->chunk[i], &j->ru->leads[j->chunk[i].lead], &j->b,
                             i, &j->ru->ids_seen, j->ru->leads, &j->err);
    return NULL;
}

/* Writes a prepared chunk in one transaction; its inputs and batch are released. */
static int write_chunk(struct run *ru, struct chunk_job *j, struct sa_err *err)
{
    struct prepared *chunk = j->chunk;
    size_t n = j->n;
    struct batch b = j->b;
    int rc = j->rc;
    if (rc)
        *err = j->err;
    if (!rc && n)
        rc = sa_store_save_many(ru->app->store, b.lrows, b.erows, (int)n, err);
    for (size_t i = 0; i < n && !rc; i++) {
        const char *col = opt_out_column(b.leads[i].raw);
        const char *email = b.leads[i].contact_email;
        if (!col || !email)
            continue;
        char reason[160];
        snprintf(reason, sizeof reason, "opted out in the CRM export (%s)", col);
        rc = sa_store_contact_dnc(ru->app->store, email, reason, "import", err);
        ru->opted_out += rc == 0;
    }
    /* the CRM gets each qualified lead (CRM_PROVIDER; once per version, app/crm_sync.h) */
    for (size_t i = 0; i < n && !rc && ru->app->crm; i++)
        if (b.lrows[i].score >= 0 && b.lrows[i].contact_email)
            sa_crm_sync_lead_logged(ru->app, b.lrows[i].id);
    for (size_t i = 0; i < n; i++) {
        struct file_lead *fl = &ru->leads[chunk[i].lead];
        if (!rc) {
            fl->score = json_incref(json_object_get(b.outs[i], "score"));
            snprintf(fl->tier, sizeof fl->tier, "%s",
                     json_string_value(json_object_get(b.outs[i], "tier"))
                         ? json_string_value(json_object_get(b.outs[i], "tier"))
                         : "");
        }
        json_decref(chunk[i].input);
        chunk[i].input = NULL;
    }
    ru->written += rc ? 0 : n;
    batch_free(&b);
    j->b = (struct batch){0};
    j->n = 0;
    return rc;
}

/* Pass 2: the rows read again in order, each folded into its lead's input; a lead is
 * written once its last row has been read, IMPORT_CHUNK leads to a transaction. Only
 * the leads whose rows are still to come are held (pending), so memory follows the
 * spread of duplicates in the file, not its size. */
#define IMPORT_CHUNK 2000

/* Starts preparing job's chunk on a worker thread (*running set), or prepares it here
 * when no thread can be made. */
static void chunk_start(struct chunk_job *job, pthread_t *tid, bool *running)
{
    *running = pthread_create(tid, NULL, prepare_chunk, job) == 0;
    if (!*running)
        prepare_chunk(job);
}

static void chunk_wait(pthread_t tid, bool *running)
{
    if (*running)
        pthread_join(tid, NULL);
    *running = false;
}

/* A row folded into earlier rows of its lead (pending) replaces the values they gave
 * whenever it gives another (sa_app_lead_merge: the later row wins, as an update does).
 * Which fields it replaced is kept for the report, [row, ["notes", "contact_info.title"...]],
 * so that a person exported twice with two different notes does not lose one without a
 * word. Values are not kept (they are the person's data; the file has them). At most
 * SA_IMPORT_REPORT_MAX rows are listed, the rest counted. */
static void note_replaced(struct run *ru, size_t r, const json_t *pending, const json_t *in)
{
    json_t *fields = NULL;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)in, k, v)
    {
        const json_t *old = json_object_get(pending, k);
        if (json_is_object(old) && json_is_object(v)) {
            const char *k2;
            json_t *v2;
            json_object_foreach(v, k2, v2)
            {
                const json_t *o2 = json_object_get(old, k2);
                if (o2 && !json_equal((json_t *)o2, v2)) {
                    if (!fields)
                        fields = json_array();
                    char name[160];
                    snprintf(name, sizeof name, "%s.%s", k, k2);
                    json_array_append_new(fields, json_string(name));
                }
            }
        } else if (old && !json_is_array(old) && !json_equal((json_t *)old, v)) {
            if (!fields)
                fields = json_array();
            json_array_append_new(fields, json_string(k)); /* signals are united, not replaced */
        }
    }
    if (!fields)
        return;
    if (json_array_size(ru->replaced) >= SA_IMPORT_REPORT_MAX)
        ru->replaced_omitted++;
    else
        json_array_append_new(ru->replaced, json_pack("[I, O]", (json_int_t)r, fields));
    json_decref(fields);
}

/* The fields row r replaced (note_replaced), or NULL: a binary search of rows in order. */
static json_t *replaced_of(const struct run *ru, size_t r)
{
    size_t lo = 0, hi = json_array_size(ru->replaced);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const json_t *e = json_array_get(ru->replaced, mid);
        size_t at = (size_t)json_integer_value(json_array_get(e, 0));
        if (at == r)
            return json_array_get(e, 1);
        if (at < r)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int write_leads(struct run *ru, sa_import_progress_fn progress, void *arg,
                       struct sa_err *err)
{
    struct sa_agent *q = sa_agents_get(ru->app->agents, SA_AGENT_QUALIFICATION);
    json_t **pending = calloc(ru->nleads + 1, sizeof(json_t *));
    /* two chunks: one filled here while the other is prepared, then written here */
    struct prepared *chunks[2] = {calloc(IMPORT_CHUNK, sizeof(struct prepared)),
                                  calloc(IMPORT_CHUNK, sizeof(struct prepared))};
    struct chunk_job jobs[2] = {{.ru = ru, .q = q, .chunk = chunks[0]},
                                {.ru = ru, .q = q, .chunk = chunks[1]}};
    struct prepared *chunk = chunks[0];
    int cur = 0; /* the chunk being filled */
    pthread_t tid = 0;
    bool running = false; /* a thread prepares jobs[1 - cur] */
    bool waiting = false; /* jobs[1 - cur] holds a chunk (being) prepared, not yet written */
    size_t n = 0;
    int rc = pending && chunks[0] && chunks[1] ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
    for (size_t r = 1; r <= ru->nrows && !rc; r++) {
        if (progress)
            progress(SA_IMPORT_WRITING, r, ru->nrows, arg);
        if (!ru->lead_of[r])
            continue;
        size_t p = ru->lead_of[r] - 1;
        json_t *fields = data_row(ru, r);
        json_t *in = fields ? row_input(ru->lay->header, ru->lay->map, fields) : NULL;
        json_decref(fields);
        if (!in) {
            rc = sa_err_set(err, SA_ENOMEM, "out of memory");
            break;
        }
        if (pending[p]) {
            note_replaced(ru, r, pending[p], in);
            sa_app_lead_merge(pending[p], in);
            json_decref(in);
        } else {
            pending[p] = in;
        }
        if (r == ru->leads[p].last) {
            chunk[n++] = (struct prepared){.input = pending[p], .lead = p};
            pending[p] = NULL;
            if (n == IMPORT_CHUNK) {
                /* the previous chunk is prepared: start this one, write that one (also
                 * when no thread could be made and this one was prepared here) */
                chunk_wait(tid, &running);
                jobs[cur].n = n;
                chunk_start(&jobs[cur], &tid, &running);
                if (waiting)
                    rc = write_chunk(ru, &jobs[1 - cur], err);
                waiting = true;
                cur = 1 - cur;
                chunk = chunks[cur];
                n = 0;
            }
        }
    }
    chunk_wait(tid, &running);
    if (!rc && waiting)
        rc = write_chunk(ru, &jobs[1 - cur], err);
    if (!rc && n) {
        jobs[cur].n = n;
        prepare_chunk(&jobs[cur]);
        rc = write_chunk(ru, &jobs[cur], err);
        n = 0;
    }
    /* whatever a failure left: the inputs of unwritten chunks and their batches */
    for (int k = 0; k < 2; k++) {
        size_t m = k == cur ? (n ? n : jobs[k].n) : jobs[k].n;
        for (size_t i = 0; chunks[k] && i < m; i++)
            json_decref(chunks[k][i].input);
        batch_free(&jobs[k].b);
    }
    for (size_t p = 0; pending && p < ru->nleads; p++)
        json_decref(pending[p]);
    free(pending);
    free(chunks[0]);
    free(chunks[1]);
    return rc;
}

/* The report's lead entries: one per lead (created or updated, with the rows folded into
 * it) and one per folded row (merged_in_file, naming the row it went into), in row order
 * of the leads; at most SA_IMPORT_REPORT_MAX, the rest counted in *omitted. */
static json_t *lead_entries(const struct run *ru, size_t *omitted)
{
    json_t *out = json_array();
    *omitted = 0;
    /* the rows folded into each lead, grouped by lead (a counting sort: one pass) */
    size_t *start = calloc(ru->nleads + 2, sizeof *start);
    size_t *folded = calloc(ru->folded + 1, sizeof *folded);
    if (!out || !start || !folded) {
        free(start);
        free(folded);
        json_decref(out);
        return NULL;
    }
    for (size_t r = 1; r <= ru->nrows; r++)
        if (ru->lead_of[r] && ru->leads[ru->lead_of[r] - 1].row != r)
            start[ru->lead_of[r] + 1]++;
    for (size_t p = 1; p <= ru->nleads + 1; p++)
        start[p] += start[p - 1];
    for (size_t r = 1; r <= ru->nrows; r++)
        if (ru->lead_of[r] && ru->leads[ru->lead_of[r] - 1].row != r)
            folded[start[ru->lead_of[r]]++] = r; /* start[p + 1] ends as the end of lead p */
    for (size_t p = 0; p < ru->nleads; p++) {
        const struct file_lead *fl = &ru->leads[p];
        size_t from = p ? start[p] : 0, to = start[p + 1];
        if (json_array_size(out) + 1 + (to - from) > SA_IMPORT_REPORT_MAX) {
            *omitted += 1 + (to - from);
            continue;
        }
        json_t *rows = json_array();
        for (size_t i = from; i < to; i++)
            json_array_append_new(rows, json_integer((json_int_t)folded[i]));
        json_array_append_new(out, json_pack("{s:I, s:s, s:s, s:o, s:O, s:s}", "row",
                                             (json_int_t)fl->row, "lead_id", fl->id, "action",
                                             fl->updated ? "updated" : "created", "merged_rows",
                                             rows, "score", fl->score, "tier", fl->tier));
        for (size_t i = from; i < to; i++) {
            json_t *e = json_pack("{s:I, s:s, s:s, s:I, s:O, s:s}", "row", (json_int_t)folded[i],
                                  "lead_id", fl->id, "action", "merged_in_file", "into_row",
                                  (json_int_t)fl->row, "score", fl->score, "tier", fl->tier);
            json_t *replaced = replaced_of(ru, folded[i]);
            if (e && replaced)
                json_object_set(e, "replaced", replaced);
            json_array_append_new(out, e);
        }
    }
    free(start);
    free(folded);
    return out;
}

/* The report: counts, lists and the layout's columns and skipped lines. */
static json_t *make_report(const struct run *ru, size_t created, size_t updated, json_t *leads,
                           size_t leads_omitted)
{
    json_t *report =
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:O, s:O, s:o}", "rows", (json_int_t)ru->nrows,
                  "created", (json_int_t)created, "updated", (json_int_t)updated, "merged_in_file",
                  (json_int_t)ru->folded, "skipped", (json_int_t)json_array_size(ru->skipped_rows),
                  "failed", (json_int_t)ru->failed, "skipped_rows", ru->skipped_rows, "errors",
                  ru->errors, "leads", leads ? leads : json_array());
    if (report && ru->opted_out)
        json_object_set_new(report, "do_not_contact", json_integer((json_int_t)ru->opted_out));
    if (report && ru->errors_omitted)
        json_object_set_new(report, "errors_omitted", json_integer((json_int_t)ru->errors_omitted));
    if (report && leads_omitted)
        json_object_set_new(report, "leads_omitted", json_integer((json_int_t)leads_omitted));
    if (report && ru->replaced_omitted)
        json_object_set_new(report, "replaced_omitted",
                            json_integer((json_int_t)ru->replaced_omitted));
    if (report)
        layout_report(report, ru->lay);
    return report;
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
    struct run ru = {.app = app,
                     .lay = &lay,
                     .nrows = lay.end > lay.head ? lay.end - lay.head - 1 : 0,
                     .errors = json_array(),
                     .skipped_rows = json_array(),
                     .replaced = json_array()};
    ru.lead_of = calloc(ru.nrows + 1, sizeof *ru.lead_of);
    if (!ru.lead_of || table_init(&ru.keys, ru.nrows * 2) /* a lead's key, a mailbox's; a salutation's
                                                             adds one (under 3/4 full) */) {
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = validate_rows(&ru, progress, arg, err)))
        goto out;
    if (ru.failed && !partial) {
        rc = sa_err_set(err, SA_EINVAL, "%zu of %zu rows are invalid; nothing was imported",
                        ru.failed, ru.nrows);
        ru.folded = 0; /* nothing was merged: nothing was imported */
        *report = make_report(&ru, 0, 0, NULL, 0);
        /* the valid rows this refusal left unwritten, so the rows still add up */
        size_t skipped = json_array_size(ru.skipped_rows);
        if (*report)
            json_object_set_new(*report, "not_imported",
                                json_integer((json_int_t)(ru.nrows - skipped - ru.failed)));
        goto out;
    }
    if (table_init(&ru.ids_seen, ru.nleads)) {
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = write_leads(&ru, progress, arg, err))) {
        if (ru.written) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg,
                     "%s (the import stopped there: the %zu leads of the rows "
                     "before were written)",
                     err->msg, ru.written);
            sa_err_set(err, rc, "%s", msg);
        }
        goto out;
    }
    size_t updated = 0, omitted = 0;
    for (size_t p = 0; p < ru.nleads; p++)
        updated += ru.leads[p].updated;
    SA_ASSERT(ru.nrows == (ru.nleads - updated) + updated + ru.folded +
                              json_array_size(ru.skipped_rows) + ru.failed);
    *report = make_report(&ru, ru.nleads - updated, updated, lead_entries(&ru, &omitted), omitted);
out:
    for (size_t p = 0; p < ru.nleads; p++) {
        json_decref(ru.leads[p].score);
        free(ru.leads[p].given);
    }
    for (size_t i = 0; ru.keys.keys && i < ru.keys.cap; i++)
        free((char *)ru.keys.keys[i]);
    table_free(&ru.keys);
    table_free(&ru.ids_seen);
    free(ru.leads);
    free(ru.lead_of);
    json_decref(ru.errors);
    json_decref(ru.skipped_rows);
    json_decref(ru.replaced);
    layout_free(&lay);
    return rc;
}
