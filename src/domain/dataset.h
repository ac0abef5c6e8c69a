/* The company reference dataset: the built-in enrichment provider's data and the growth
 * agent's competitor map. Loaded from CSV (data/companies.csv, and optionally the user's
 * own file in the same columns) and indexed by domain and by normalised name. Immutable
 * once loaded: safe to share between threads. */
#ifndef SA_AGENTS_DATASET_H
#define SA_AGENTS_DATASET_H

#include <jansson.h>
#include <stddef.h>

#include "base/err.h"

struct sa_company {
    const char *domain, *name, *industry, *revenue_band, *country, *city, *funding_stage,
        *description;
    long employees;
    int founded_year;
    json_t *tech_stack;  /* array of strings */
    json_t *competitors; /* array of domains */
};

struct sa_dataset;

/* Loads the companies of each CSV file in paths[0..n) (later files override earlier rows
 * with the same domain). The header row MUST name the columns: domain, name, industry,
 * employees, revenue_band, country, city, founded_year, funding_stage, tech_stack,
 * competitors, description (any order; extra columns ignored). Returns 0 and *out, or
 * SA_ECONFIG with err naming the file, line and field. */
int sa_dataset_load(const char *const *paths, int n, struct sa_dataset **out,
                    struct sa_err *err) SA_WUR;
void sa_dataset_free(struct sa_dataset *d);
size_t sa_dataset_count(const struct sa_dataset *d);

/* Lookups (borrowed results, or NULL). Domains match case-insensitively, with or without
 * "www."; names match on lowercase letters and digits, ignoring legal suffixes such as
 * "Inc", "Ltd", "GmbH". */
const struct sa_company *sa_dataset_by_domain(const struct sa_dataset *d, const char *domain);
const struct sa_company *sa_dataset_by_name(const struct sa_dataset *d, const char *name);

/* The company as a JSON object (new reference). */
json_t *sa_company_json(const struct sa_company *c);

#endif
