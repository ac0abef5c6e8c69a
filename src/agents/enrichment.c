/* The enrichment agent: company data from a provider waterfall, contact normalisation,
 * and a cache with a TTL in the store's enrichment_cache table.
 *
 * Providers (connectors/enrichment/provider.h) are tried in order until one finds the
 * company; each call goes through its own circuit breaker, so a provider that keeps
 * failing is skipped (state "open") instead of slowing every lead down. The built-in
 * provider is the local reference dataset (data/companies.csv); HTTP providers (Apollo
 * style) take the next slots. A cache hit skips the waterfall and says so. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agent.h"
#include "domain/contact.h"
#include "domain/dataset.h"
#include "domain/lead.h"
#include "base/clock.h"
#include "base/detail.h"
#include "connectors/enrichment/provider.h"
#include "metrics/metrics.h"
#include "resilience/breaker.h"
#include "store/store.h"

#define MAX_PROVIDERS 4

struct provider {
    struct sa_enrich_provider *p; /* owned */
    struct sa_breaker breaker;
};

struct enrichment_agent {
    struct sa_agent base; /* first */
    const struct sa_model *model;
    struct sa_store *store;
    double ttl;
    struct sa_metrics *metrics;
    int m_breaker;
    struct provider providers[MAX_PROVIDERS];
    int nproviders;
};

static void breaker_gauge(struct enrichment_agent *e, struct provider *p)
{
    if (!e->metrics)
        return;
    const char *v[] = {sa_enrich_provider_name(p->p)};
    sa_metrics_set(e->metrics, e->m_breaker, v, (double)sa_breaker_state(&p->breaker));
}

/* The waterfall: the first provider that finds the company wins. */
static json_t *waterfall(struct enrichment_agent *e, const char *domain, const char *name,
                         json_t *sources, const char **matched_by, const char **found_by)
{
    for (int i = 0; i < e->nproviders; i++) {
        struct provider *p = &e->providers[i];
        if (!sa_breaker_allow(&p->breaker)) {
            json_array_append_new(sources,
                                  json_pack("{s:s, s:s}", "provider", sa_enrich_provider_name(p->p),
                                            "status", "skipped: circuit open"));
            breaker_gauge(e, p);
            continue;
        }
        uint64_t t0 = sa_now_ns();
        json_t *company = NULL;
        struct sa_err err = {0};
        int rc = sa_enrich_lookup(p->p, domain, name, &company, matched_by, &err);
        /* "not found" is an answer, not a failure of the provider */
        sa_breaker_record(&p->breaker, rc == 0 || rc == SA_ENOTFOUND);
        breaker_gauge(e, p);
        json_array_append_new(sources, json_pack("{s:s, s:s, s:f}", "provider",
                                                 sa_enrich_provider_name(p->p), "status",
                                                 rc == 0              ? "found"
                                                 : rc == SA_ENOTFOUND ? "not_found"
                                                                      : "error",
                                                 "latency_ms", sa_ns_to_ms(sa_now_ns() - t0)));
        if (rc == 0) {
            *found_by = sa_enrich_provider_name(p->p);
            return company;
        }
    }
    *matched_by = NULL;
    return NULL;
}

static int enrichment_run(struct sa_agent *a, const struct sa_lead *lead, const json_t *context,
                          json_t **output, struct sa_err *err)
{
    (void)context;
    struct enrichment_agent *e = (struct enrichment_agent *)a;
    char domain[256];
    sa_lead_domain(lead, e->model, domain, sizeof domain);
    /* Two cache keys: the domain's and the name's. A company found by its domain is cached
     * under the domain; one found by name only under the name (so another company on the
     * same domain never gets it); "nothing found" only when every provider answered. */
    char dkey[320] = "", nkey[320];
    if (domain[0])
        snprintf(dkey, sizeof dkey, "company:domain:%s", domain);
    snprintf(nkey, sizeof nkey, "company:name:%.*s", sa_utf8_cut(lead->company_name, 200),
             lead->company_name);
    for (char *p = nkey + 13; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    json_t *cached = NULL, *company = NULL, *sources = json_array();
    const char *matched_by = NULL, *key = dkey[0] ? dkey : nkey, *found_by = "none";
    bool hit = false;
    struct sa_err cerr = {0};
    if (e->store && ((dkey[0] && sa_store_cache_get(e->store, dkey, &cached, &cerr) == 0) ||
                     sa_store_cache_get(e->store, nkey, &cached, &cerr) == 0)) {
        hit = true;
        company = json_incref(json_object_get(cached, "company"));
        matched_by = json_string_value(json_object_get(cached, "matched_by"));
        json_array_append_new(sources,
                              json_pack("{s:s, s:s}", "provider", "cache", "status", "found"));
    } else {
        company = waterfall(e, domain, lead->company_name, sources, &matched_by, &found_by);
        bool all_answered = true;
        size_t i;
        json_t *src;
        json_array_foreach(sources, i, src)
        {
            const char *st = json_string_value(json_object_get(src, "status"));
            all_answered &= st && (strcmp(st, "found") == 0 || strcmp(st, "not_found") == 0);
        }
        key = company && matched_by && strcmp(matched_by, "domain") == 0 && dkey[0] ? dkey
              : company                                                             ? nkey
              : dkey[0]                                                             ? dkey
                                                                                    : nkey;
        if (e->store && (company || all_answered)) {
            json_t *entry =
                json_pack("{s:o, s:s?}", "company", company ? json_incref(company) : json_null(),
                          "matched_by", matched_by);
            if (sa_store_cache_put(e->store, key, found_by, entry, e->ttl, &cerr) != 0)
                json_array_append_new(sources, json_pack("{s:s, s:s}", "provider", "cache",
                                                         "status", "write failed"));
            json_decref(entry);
        }
    }
    const char *country = lead->country;
    if (!country && json_is_object(company))
        country = json_string_value(json_object_get(company, "country"));
    json_t *contact = sa_contact_check(lead, e->model, country);
    double confidence = !json_is_object(company)                          ? 0
                        : matched_by && strcmp(matched_by, "domain") == 0 ? 0.95
                                                                          : 0.75;
    *output = json_pack("{s:o, s:o, s:b, s:s?, s:f, s:o, s:s}", "company",
                        company ? company : json_null(), "contact", contact, "cache_hit", hit,
                        "matched_by", json_is_object(company) ? matched_by : NULL, "confidence",
                        confidence, "sources", sources, "cache_key", key);
    json_decref(cached);
    return *output ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}

static void enrichment_destroy(struct sa_agent *a)
{
    struct enrichment_agent *e = (struct enrichment_agent *)a;
    for (int i = 0; i < e->nproviders; i++) {
        sa_breaker_destroy(&e->providers[i].breaker);
        sa_enrich_provider_free(e->providers[i].p);
    }
    free(e);
}

static const struct sa_agent_ops enrichment_ops = {
    .name = "enrichment",
    .input_schema = sa_schema_lead_input,
    .output_schema = sa_schema_enrichment_output,
    .description = "Company and contact data from a provider waterfall, cached with a TTL",
    .run = enrichment_run,
    .destroy = enrichment_destroy,
};

struct sa_agent *sa_enrichment_new(const struct sa_agent_deps *deps)
{
    struct enrichment_agent *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->base.ops = &enrichment_ops;
    e->model = deps->model;
    e->store = deps->store;
    e->ttl = deps->enrichment_ttl > 0 ? deps->enrichment_ttl : 24 * 3600;
    e->metrics = deps->metrics;
    e->m_breaker = deps->m_breaker;
    struct sa_err err = {0};
    if (sa_enrich_local_new(deps->dataset, &e->providers[0].p, &err)) {
        free(e);
        return NULL;
    }
    struct sa_breaker_config bc = {.failure_threshold = deps->breaker_failures,
                                   .open_seconds = deps->breaker_open_seconds};
    sa_breaker_init(&e->providers[0].breaker, sa_enrich_provider_name(e->providers[0].p), &bc);
    e->nproviders = 1;
    breaker_gauge(e, &e->providers[0]);
    return &e->base;
}
