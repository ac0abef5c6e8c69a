/* Enrichment providers: where company data comes from. The enrichment agent tries its
 * providers in order (a waterfall), each behind its own circuit breaker, until one finds
 * the company. A provider is a const vtable with the base struct embedded first, like
 * every backend here; the built-in one is the local reference dataset (local.c), Apollo
 * (apollo.c) an HTTP one. A new vendor is one more file in this folder and one row of
 * providers.c's table: nothing about a vendor reaches the agent. */
#ifndef SA_CONNECTORS_ENRICHMENT_PROVIDER_H
#define SA_CONNECTORS_ENRICHMENT_PROVIDER_H

#include <jansson.h>
#include <stdbool.h>

#include "base/err.h"

struct sa_dataset;
struct sa_config;
struct sa_metrics;
struct sa_enrich_provider;

/* Who to find with the person slot; every field may be NULL. */
struct sa_enrich_person_query {
    const char *email;
    const char *first_name, *last_name;
    const char *domain;            /* the company's */
    const char *organization_name; /* the company's name */
};

struct sa_enrich_provider_ops {
    const char *name; /* "local_dataset": metrics label, output's "sources", cache rows */
    /* Finds a company by domain (preferred; may be NULL or "") or name (may be NULL).
     * Returns 0 with *company (new reference, the fields of sa_company_json) and
     * *matched_by ("domain" or "name", static); SA_ENOTFOUND when it does not know the
     * company (an answer, not a failure: breakers do not count it); another code when
     * the provider failed (counted by its breaker). SA_ECANCELED says the provider did not
     * ask (its client-side rate limit, or its vendor's 429): neither an answer nor a
     * failure. Required. MUST be thread-safe.
     * The company's fields, each optional: name, domain, industry, employees (integer),
     * revenue_band ("<1M", "1M-10M", "10M-50M", "50M-100M", "100M-500M", "500M-1B",
     * "1B+"), annual_revenue (USD), country (ISO 3166 alpha-2 when known), city,
     * founded_year, funding_stage, tech_stack (strings), competitors (domains),
     * description, linkedin_url. */
    int (*lookup)(struct sa_enrich_provider *p, const char *domain, const char *name,
                  json_t **company, const char **matched_by, struct sa_err *err);
    /* Finds a person: *person (new reference) with any of name, title, seniority,
     * linkedin_url, email_status. Codes as lookup's. Optional: NULL answers SA_ENOTFOUND
     * (the provider knows no people). MUST be thread-safe. */
    int (*person)(struct sa_enrich_provider *p, const struct sa_enrich_person_query *q,
                  json_t **person, struct sa_err *err);
    /* The state of the provider's own connection breaker ("closed", "open", "half_open")
     * for /health. Optional: NULL for a provider that calls nothing remote. */
    const char *(*breaker)(struct sa_enrich_provider *p);
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

/* See sa_enrich_provider_ops.person; clears *person first. */
static inline int sa_enrich_person(struct sa_enrich_provider *p,
                                   const struct sa_enrich_person_query *q, json_t **person,
                                   struct sa_err *err) SA_WUR;
static inline int sa_enrich_person(struct sa_enrich_provider *p,
                                   const struct sa_enrich_person_query *q, json_t **person,
                                   struct sa_err *err)
{
    *person = NULL;
    if (!p->ops->person)
        return SA_ENOTFOUND;
    return p->ops->person(p, q, person, err);
}

/* Whether the provider has a person slot (knows people at all). */
static inline bool sa_enrich_provider_knows_people(const struct sa_enrich_provider *p)
{
    return p->ops->person != NULL;
}

/* The connection breaker's state name, or NULL when the provider has none. */
static inline const char *sa_enrich_provider_breaker(struct sa_enrich_provider *p)
{
    return p->ops->breaker ? p->ops->breaker(p) : NULL;
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

/* Apollo (apollo.c): organizations/enrich by domain, people/match for a person. */
struct sa_apollo_config {
    const char *base_url;       /* "https://api.apollo.io" (no trailing /api/v1) */
    const char *api_key;        /* required; copied; never logged */
    int timeout_ms;             /* one lookup's deadline, retries included; 0: 5000 */
    int max_retries;            /* 429/5xx retries; < 0: 2 */
    int hourly_limit;           /* client-side calls per hour; 0: 600 */
    int minute_limit;           /* client-side calls per minute; 0: 50 */
    int breaker_failures;       /* the connection breaker's; 0: 5 */
    double breaker_open_s;      /* 0: 30 */
    struct sa_metrics *metrics; /* connector_requests_total, ..._seconds; optional */
};
int sa_enrich_apollo_new(const struct sa_apollo_config *cfg, struct sa_enrich_provider **out,
                         struct sa_err *err) SA_WUR;

/* Reads a 200 answer of Apollo's: organizations/enrich's (domain: the one asked, kept
 * when the answer names none) or people/match's. Returns 0 and *out (new reference: the
 * company or person fields of sa_enrich_provider_ops), SA_ENOTFOUND for "organization" or
 * "person" null, {} or absent, SA_EIO for a body that is not a JSON object. Exposed for
 * the fuzz driver. */
enum sa_apollo_answer { SA_APOLLO_ORGANIZATION, SA_APOLLO_PERSON };
int sa_enrich_apollo_parse(enum sa_apollo_answer what, const char *body, size_t len,
                           const char *domain, json_t **out, struct sa_err *err) SA_WUR;

/* Apollo's client-side limiter, for tests: the calls it allows now in the minute and the
 * hour windows (floored), and the wall time (sa_wall_seconds) before which it allows none
 * (0: not blocked). p MUST be an Apollo provider. */
void sa_enrich_apollo_limits(struct sa_enrich_provider *p, double *minute_left, double *hour_left,
                             double *blocked_until);

/* The providers ENRICHMENT_PROVIDERS names, in its order (providers.c): "local" (left out
 * when d is NULL) and "apollo" (needs APOLLO_API_KEY). Writes up to cap providers to
 * out[] and their number to *n; the caller frees each. Returns 0, or SA_ECONFIG naming the
 * unknown, repeated or unconfigured provider (nothing is left to free then). */
int sa_enrich_providers_open(const struct sa_config *cfg, const struct sa_dataset *d,
                             struct sa_metrics *metrics, struct sa_enrich_provider **out, int cap,
                             int *n, struct sa_err *err) SA_WUR;

#endif
