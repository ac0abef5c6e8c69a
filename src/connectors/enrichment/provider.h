/* Enrichment providers: where company data comes from. The enrichment agent tries its
 * providers in order (a waterfall), each behind its own circuit breaker, until one finds
 * the company. A provider is a const vtable with the base struct embedded first, like
 * every backend here; the built-in one is the local reference dataset (local.c), and an
 * HTTP provider (Apollo-style, a later issue) plugs in as another file in this folder. */
#ifndef SA_CONNECTORS_ENRICHMENT_PROVIDER_H
#define SA_CONNECTORS_ENRICHMENT_PROVIDER_H

#include <jansson.h>

#include "base/err.h"

struct sa_dataset;
struct sa_enrich_provider;

struct sa_enrich_provider_ops {
    const char *name; /* "local_dataset": metrics label, output's "sources", cache rows */
    /* Finds a company by domain (preferred; may be NULL or "") or name (may be NULL).
     * Returns 0 with *company (new reference, the fields of sa_company_json) and
     * *matched_by ("domain" or "name", static); SA_ENOTFOUND when it does not know the
     * company (an answer, not a failure: breakers do not count it); another code when
     * the provider failed (counted by its breaker). Required. MUST be thread-safe. */
    int (*lookup)(struct sa_enrich_provider *p, const char *domain, const char *name,
                  json_t **company, const char **matched_by, struct sa_err *err);
    /* Frees the provider. Optional: NULL for a provider that owns nothing. */
    void (*free)(struct sa_enrich_provider *p);
};

struct sa_enrich_provider {
    const struct sa_enrich_provider_ops *ops; /* providers embed this struct first */
};

static inline const char *sa_enrich_provider_name(const struct sa_enrich_provider *p)
{
    return p->ops->name;
}

/* See sa_enrich_provider_ops.lookup; clears the outputs first. */
static inline int sa_enrich_lookup(struct sa_enrich_provider *p, const char *domain,
                                   const char *name, json_t **company, const char **matched_by,
                                   struct sa_err *err) SA_WUR;
static inline int sa_enrich_lookup(struct sa_enrich_provider *p, const char *domain,
                                   const char *name, json_t **company, const char **matched_by,
                                   struct sa_err *err)
{
    *company = NULL;
    *matched_by = NULL;
    return p->ops->lookup(p, domain, name, company, matched_by, err);
}

static inline void sa_enrich_provider_free(struct sa_enrich_provider *p)
{
    if (p && p->ops->free)
        p->ops->free(p);
}

/* The local reference dataset as a provider (data/companies.csv plus COMPANIES_CSV). d is
 * borrowed and MUST outlive the provider. Returns 0 and *out (free it with
 * sa_enrich_provider_free), or SA_ENOMEM. */
int sa_enrich_local_new(const struct sa_dataset *d, struct sa_enrich_provider **out,
                        struct sa_err *err) SA_WUR;

#endif
