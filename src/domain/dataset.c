/* The company reference dataset (see dataset.h): rows parsed once, two sorted indexes
 * (domain, normalised name) searched with bsearch. */
#include "domain/dataset.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/config.h"
#include "base/csv.h"

enum col {
    C_DOMAIN,
    C_NAME,
    C_INDUSTRY,
    C_EMPLOYEES,
    C_REVENUE,
    C_COUNTRY,
    C_CITY,
    C_FOUNDED,
    C_FUNDING,
    C_TECH,
    C_COMPETITORS,
    C_DESCRIPTION,
    C_COUNT
};
static const char *const col_names[C_COUNT] = {
    "domain", "name",         "industry",      "employees",  "revenue_band", "country",
    "city",   "founded_year", "funding_stage", "tech_stack", "competitors",  "description"};

struct key {
    char *key;
    size_t company;
};

struct sa_dataset {
    struct sa_company *companies;
    size_t n, cap;
    json_t *strings; /* owns the rows' strings: company fields point into it */
    struct key *by_domain, *by_name;
};

static int key_cmp(const void *a, const void *b)
{
    return strcmp(((const struct key *)a)->key, ((const struct key *)b)->key);
}

/* "https://WWW.Acme.io/x" -> "acme.io" */
static void norm_domain(const char *in, char *out, size_t cap)
{
    if (strncasecmp(in, "https://", 8) == 0)
        in += 8;
    else if (strncasecmp(in, "http://", 7) == 0)
        in += 7;
    if (strncasecmp(in, "www.", 4) == 0)
        in += 4;
    size_t o = 0;
    for (; *in && *in != '/' && *in != '?' && *in != '#' && *in != ':' && o + 1 < cap; in++)
        out[o++] = (char)tolower((unsigned char)*in);
    out[o] = '\0';
}

/* "Acme Cloud, Inc." -> "acmecloud" */
static void norm_name(const char *in, char *out, size_t cap)
{
    static const char *const suffixes[] = {"inc",  "incorporated", "llc", "ltd", "limited", "gmbh",
                                           "corp", "corporation",  "co",  "plc", "sa",      "ag",
                                           "bv",   "llp",          "pty", NULL};
    char words[512];
    size_t o = 0;
    for (const char *p = in; *p && o + 1 < sizeof words; p++)
        words[o++] = isalnum((unsigned char)*p) ? (char)tolower((unsigned char)*p) : ' ';
    words[o] = '\0';
    /* keep the words that are not legal suffixes, joined */
    const char *p = words;
    o = 0;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n == 0)
            break;
        bool suffix = false;
        for (int i = 0; suffixes[i]; i++)
            suffix |= strlen(suffixes[i]) == n && strncmp(p, suffixes[i], n) == 0;
        if (!suffix)
            for (size_t k = 0; k < n && o + 1 < cap; k++)
                out[o++] = p[k];
        p += n;
    }
    out[o] = '\0';
}

void sa_dataset_free(struct sa_dataset *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        json_decref(d->companies[i].tech_stack);
        json_decref(d->companies[i].competitors);
        free(d->by_domain ? d->by_domain[i].key : NULL);
        free(d->by_name ? d->by_name[i].key : NULL);
    }
    free(d->by_domain);
    free(d->by_name);
    free(d->companies);
    json_decref(d->strings);
    free(d);
}

size_t sa_dataset_count(const struct sa_dataset *d)
{
    return d->n;
}

/* A ";"-separated list as a JSON array of trimmed, non-empty strings. */
static json_t *split_list(const char *s)
{
    json_t *arr = json_array();
    while (s && *s) {
        size_t n = strcspn(s, ";");
        size_t b = 0, e = n;
        while (b < e && isspace((unsigned char)s[b]))
            b++;
        while (e > b && isspace((unsigned char)s[e - 1]))
            e--;
        if (e > b)
            json_array_append_new(arr, json_stringn(s + b, e - b));
        s += n + (s[n] == ';');
    }
    return arr;
}

static const char *keep(struct sa_dataset *d, const char *s)
{
    json_t *j = json_string(s ? s : "");
    json_array_append_new(d->strings, j);
    return json_string_value(j);
}

static int load_one(struct sa_dataset *d, const char *path, struct sa_err *err)
{
    json_t *rows;
    if (sa_csv_load_file(path, 1000000, &rows, err))
        return err->code;
    int rc = 0, col[C_COUNT];
    json_t *header = json_object_get(json_array_get(rows, 0), "fields");
    for (int c = 0; c < C_COUNT; c++) {
        col[c] = -1;
        for (size_t i = 0; i < json_array_size(header); i++)
            if (strcasecmp(json_string_value(json_array_get(header, i)), col_names[c]) == 0)
                col[c] = (int)i;
        if (col[c] < 0 && (c == C_DOMAIN || c == C_NAME)) {
            rc = sa_err_set(err, SA_ECONFIG, "%s: the header has no \"%s\" column", path,
                            col_names[c]);
            goto out;
        }
    }
    for (size_t r = 1; r < json_array_size(rows); r++) {
        json_t *row = json_array_get(rows, r);
        json_t *f = json_object_get(row, "fields");
        long line = (long)json_integer_value(json_object_get(row, "line"));
        const char *v[C_COUNT];
        for (int c = 0; c < C_COUNT; c++)
            v[c] = col[c] >= 0 ? json_string_value(json_array_get(f, (size_t)col[c])) : NULL;
        char dom[256];
        norm_domain(v[C_DOMAIN] ? v[C_DOMAIN] : "", dom, sizeof dom);
        if (!dom[0] || !strchr(dom, '.') || !v[C_NAME] || !*v[C_NAME]) {
            rc = sa_err_set(err, SA_ECONFIG, "%s:%ld: a company needs a domain and a name", path,
                            line);
            goto out;
        }
        long emp = -1, year = 0;
        if (v[C_EMPLOYEES] && *v[C_EMPLOYEES] &&
            sa_parse_long(v[C_EMPLOYEES], 0, 10000000L, &emp)) {
            rc = sa_err_set(err, SA_ECONFIG, "%s:%ld: employees: expected a whole number", path,
                            line);
            goto out;
        }
        if (v[C_FOUNDED] && *v[C_FOUNDED] && sa_parse_long(v[C_FOUNDED], 1600, 2100, &year)) {
            rc = sa_err_set(err, SA_ECONFIG, "%s:%ld: founded_year: expected a year", path, line);
            goto out;
        }
        if (d->n == d->cap) {
            size_t cap = d->cap ? d->cap * 2 : 1024;
            struct sa_company *nc = realloc(d->companies, cap * sizeof *nc);
            if (!nc) {
                rc = sa_err_set(err, SA_ENOMEM, "out of memory");
                goto out;
            }
            d->companies = nc;
            d->cap = cap;
        }
        d->companies[d->n++] = (struct sa_company){
            .domain = keep(d, dom),
            .name = keep(d, v[C_NAME]),
            .industry = keep(d, v[C_INDUSTRY]),
            .revenue_band = keep(d, v[C_REVENUE]),
            .country = keep(d, v[C_COUNTRY]),
            .city = keep(d, v[C_CITY]),
            .funding_stage = keep(d, v[C_FUNDING]),
            .description = keep(d, v[C_DESCRIPTION]),
            .employees = emp,
            .founded_year = (int)year,
            .tech_stack = split_list(v[C_TECH]),
            .competitors = split_list(v[C_COMPETITORS]),
        };
    }
out:
    json_decref(rows);
    return rc;
}

/* Builds the two indexes; a later row with the same key wins. */
static int index_all(struct sa_dataset *d, struct sa_err *err)
{
    d->by_domain = calloc(d->n ? d->n : 1, sizeof *d->by_domain);
    d->by_name = calloc(d->n ? d->n : 1, sizeof *d->by_name);
    if (!d->by_domain || !d->by_name)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    for (size_t i = 0; i < d->n; i++) {
        char name[256];
        norm_name(d->companies[i].name, name, sizeof name);
        d->by_domain[i] = (struct key){strdup(d->companies[i].domain), i};
        d->by_name[i] = (struct key){strdup(name), i};
        if (!d->by_domain[i].key || !d->by_name[i].key)
            return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    qsort(d->by_domain, d->n, sizeof *d->by_domain, key_cmp);
    qsort(d->by_name, d->n, sizeof *d->by_name, key_cmp);
    return 0;
}

int sa_dataset_load(const char *const *paths, int n, struct sa_dataset **out, struct sa_err *err)
{
    *out = NULL;
    struct sa_dataset *d = calloc(1, sizeof *d);
    if (!d)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    d->strings = json_array();
    int rc = 0;
    for (int i = 0; i < n && !rc; i++)
        rc = load_one(d, paths[i], err);
    if (!rc)
        rc = index_all(d, err);
    if (rc) {
        sa_dataset_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

/* The last entry with key k (later rows override earlier ones), or NULL. */
static const struct sa_company *find(const struct sa_dataset *d, const struct key *idx,
                                     const char *k)
{
    if (!k[0] || d->n == 0)
        return NULL;
    struct key probe = {(char *)k, 0};
    const struct key *hit = bsearch(&probe, idx, d->n, sizeof *idx, key_cmp);
    if (!hit)
        return NULL;
    size_t best = hit->company;
    for (const struct key *p = hit + 1; p < idx + d->n && strcmp(p->key, k) == 0; p++)
        best = p->company > best ? p->company : best;
    for (const struct key *p = hit; p > idx && strcmp((p - 1)->key, k) == 0; p--)
        best = (p - 1)->company > best ? (p - 1)->company : best;
    return &d->companies[best];
}

const struct sa_company *sa_dataset_by_domain(const struct sa_dataset *d, const char *domain)
{
    char k[256];
    norm_domain(domain ? domain : "", k, sizeof k);
    return find(d, d->by_domain, k);
}

const struct sa_company *sa_dataset_by_name(const struct sa_dataset *d, const char *name)
{
    char k[256];
    norm_name(name ? name : "", k, sizeof k);
    return find(d, d->by_name, k);
}

json_t *sa_company_json(const struct sa_company *c)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:O, s:s}", "domain", c->domain, "name",
                  c->name, "industry", c->industry, "revenue_band", c->revenue_band, "country",
                  c->country, "city", c->city, "funding_stage", c->funding_stage, "tech_stack",
                  c->tech_stack, "competitors", c->competitors, "description", c->description);
    json_object_set_new(o, "employees",
                        c->employees >= 0 ? json_integer(c->employees) : json_null());
    json_object_set_new(o, "founded_year",
                        c->founded_year ? json_integer(c->founded_year) : json_null());
    return o;
}
