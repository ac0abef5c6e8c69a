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
static json_t *row_input(const json_t *header, const enum target *map, const json_t *fields)
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
        const char *field = NULL;
        char hn[64];
        norm_header(json_string_value(h), hn, sizeof hn);
        for (size_t k = 0; k < sizeof columns / sizeof columns[0]; k++)
            if (strcmp(columns[k].header, hn) == 0)
                field = columns[k].field;
        switch (map[i]) {
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
            static const char *const reserved[] = {
                "company_name", "industry", "company_size", "annual_revenue", "website",
                "country",      "notes",    "contact_info", "signals",        NULL};
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

static int import_csv(struct sa_app *app, const char *data, size_t len, bool partial,
                      sa_import_progress_fn progress, void *arg, json_t **report,
                      struct sa_err *err);

int sa_app_import_csv(struct sa_app *app, const char *data, size_t len, bool partial,
                      sa_import_progress_fn progress, void *arg, json_t **report,
                      struct sa_err *err)
{
    /* one at a time: the identity lookups and the write must see each other's leads */
    pthread_mutex_lock(&import_lock);
    int rc = import_csv(app, data, len, partial, progress, arg, report, err);
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

static int import_csv(struct sa_app *app, const char *data, size_t len, bool partial,
                      sa_import_progress_fn progress, void *arg, json_t **report,
                      struct sa_err *err)
{
    *report = NULL;
    json_t *rows = NULL;
    int rc = sa_csv_parse(data, len, SA_IMPORT_MAX_ROWS + 1, &rows, err);
    if (rc == SA_ETOOBIG)
        return sa_err_set(err, rc, "the CSV has more than %d rows; split it", SA_IMPORT_MAX_ROWS);
    if (rc)
        return rc;
    json_t *header = json_object_get(json_array_get(rows, 0), "fields");
    size_t nrows = json_array_size(rows) ? json_array_size(rows) - 1 : 0;
    enum target *map = calloc(json_array_size(header) + 1, sizeof *map);
    struct prepared *prep = calloc(nrows + 1, sizeof *prep);
    json_t *errors = json_array(), *skipped_rows = json_array();
    struct key_table keys = {0}, ids_seen = {0};
    struct batch b = {0};
    size_t nprep = 0, failed = 0, folded = 0;
    if (!map || !prep || table_init(&keys, nrows) || table_init(&ids_seen, nrows)) {
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
        goto out;
    }
    bool has_company = false;
    size_t i;
    json_t *h;
    json_array_foreach(header, i, h)
    {
        char hn[64];
        norm_header(json_string_value(h), hn, sizeof hn);
        for (size_t k = 0; k < sizeof columns / sizeof columns[0]; k++)
            if (strcmp(columns[k].header, hn) == 0) {
                map[i] = columns[k].t;
                has_company |= columns[k].field && strcmp(columns[k].field, "company_name") == 0;
            }
    }
    if (!has_company) {
        rc = sa_err_set(err, SA_EINVAL,
                        "the CSV header has no company column (company, company_name, account "
                        "name or organization)");
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
    return rc;
}
