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

static int import_csv(struct sa_app *app, const char *data, size_t len, bool partial,
                      sa_import_progress_fn progress, void *arg, json_t **report,
                      struct sa_err *err);

int sa_app_import_csv(struct sa_app *app, const char *data, size_t len, bool partial,
                      sa_import_progress_fn progress, void *arg, json_t **report,
                      struct sa_err *err)
{
    /* one at a time: the dedupe lookups and the write must see each other's leads */
    pthread_mutex_lock(&import_lock);
    int rc = import_csv(app, data, len, partial, progress, arg, report, err);
    pthread_mutex_unlock(&import_lock);
    return rc;
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
    json_t *errors = json_array(), *done = json_array();
    size_t nprep = 0, failed = 0;
    if (!map || !prep) {
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
out:
    for (size_t p = 0; prep && p < nprep; p++)
        json_decref(prep[p].input);
    free(prep);
    free(map);
    json_decref(errors);
    json_decref(done);
    json_decref(rows);
    return rc;
}
