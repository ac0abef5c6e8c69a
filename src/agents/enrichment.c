/* The enrichment agent: company data from a provider waterfall, contact normalisation,
 * and a cache with a TTL in the store's enrichment_cache table.
 *
 * Providers (connectors/enrichment/provider.h) are tried in order until one finds the
 * company; each call goes through its own circuit breaker, so a provider that keeps
 * failing is skipped (state "open") instead of slowing every lead down. The built-in
 * provider is the local reference dataset (data/companies.csv); HTTP providers (Apollo)
 * take the slots ENRICHMENT_PROVIDERS gives them. A cache hit skips the waterfall and says
 * so. Every field of the output's company (and person) is named in field_sources with the
 * provider it came from, also on a cache hit (the entry keeps it). */
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
    struct sa_enrich_provider *p; /* owned when owned, else the app's */
    bool owned;
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

/* A source entry's status for a provider's return code. SA_ECANCELED: the provider did
 * not ask (its rate limit), which is not an answer either: nothing is cached. */
static const char *status_of(int rc)
{
    return rc == 0              ? "found"
           : rc == SA_ENOTFOUND ? "not_found"
           : rc == SA_ECANCELED ? "skipped: rate limited"
                                : "error";
}

/* Asks provider p through its breaker: the company (what == 0) or the person. */
static int ask(struct enrichment_agent *e, struct provider *p, int what, const char *domain,
               const char *name, const struct sa_enrich_person_query *q, json_t *sources,
               json_t **found, const char **matched_by)
{
    const char *pname = sa_enrich_provider_name(p->p);
    if (!sa_breaker_allow(&p->breaker)) {
        json_array_append_new(sources, json_pack("{s:s, s:s, s:s}", "provider", pname, "for",
                                                 what ? "person" : "company", "status",
                                                 "skipped: circuit open"));
        breaker_gauge(e, p);
        return SA_EIO;
    }
    uint64_t t0 = sa_now_ns();
    struct sa_err err = {0};
    int rc = what ? sa_enrich_person(p->p, q, found, &err)
                  : sa_enrich_lookup(p->p, domain, name, found, matched_by, &err);
    /* "not found" is an answer, and a call the provider's limiter held back is not a
     * failure of the provider */
    sa_breaker_record(&p->breaker, rc == 0 || rc == SA_ENOTFOUND || rc == SA_ECANCELED);
    breaker_gauge(e, p);
    json_array_append_new(sources, json_pack("{s:s, s:s, s:s, s:f}", "provider", pname, "for",
                                             what ? "person" : "company", "status", status_of(rc),
                                             "latency_ms", sa_ns_to_ms(sa_now_ns() - t0)));
    return rc;
}

/* The waterfall: the first provider that finds the company wins. */
static json_t *waterfall(struct enrichment_agent *e, const char *domain, const char *name,
                         json_t *sources, const char **matched_by, const char **found_by)
{
    for (int i = 0; i < e->nproviders; i++) {
        json_t *company = NULL;
        if (ask(e, &e->providers[i], 0, domain, name, NULL, sources, &company, matched_by) == 0) {
            *found_by = sa_enrich_provider_name(e->providers[i].p);
            return company;
        }
    }
    *matched_by = NULL;
    return NULL;
}

/* Records that each field of obj came from provider, as field_sources[prefix + field]. */
static void note_fields(json_t *field_sources, const char *prefix, const json_t *obj,
                        const char *provider)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0) ||
            (json_is_string(v) && !*json_string_value(v)))
            continue;
        char key[128];
        snprintf(key, sizeof key, "%s%s", prefix, k);
        json_object_set_new(field_sources, key, json_string(provider));
    }
}

/* Whether every source entry is an answer (found or not_found): only then is "nothing"
 * worth caching. */
static bool all_answered(const json_t *sources, size_t from)
{
    for (size_t i = from; i < json_array_size(sources); i++) {
        const char *st = json_string_value(json_object_get(json_array_get(sources, i), "status"));
        if (!st || (strcmp(st, "found") != 0 && strcmp(st, "not_found") != 0))
            return false;
    }
    return true;
}

/* The contact as a person, from the providers that know people (none by default: the
 * local dataset knows companies only), asked only for a lead with an e-mail and cached
 * under it (so erasing the person finds the entry). Returns the person (new reference)
 * or NULL; by gets the provider's name, or "". */
static json_t *find_person(struct enrichment_agent *e, const struct sa_lead *lead,
                           const char *domain, json_t *sources, char by[64])
{
    by[0] = '\0';
    bool any = false;
    for (int i = 0; i < e->nproviders; i++)
        any |= sa_enrich_provider_knows_people(e->providers[i].p);
    if (!any || !lead->contact_email || !*lead->contact_email)
        return NULL;
    char key[400];
    snprintf(key, sizeof key, "person:email:%.*s", sa_utf8_cut(lead->contact_email, 300),
             lead->contact_email);
    for (char *p = key + 13; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    json_t *cached = NULL, *person = NULL;
    struct sa_err cerr = {0};
    if (e->store && sa_store_cache_get(e->store, key, &cached, &cerr) == 0) {
        json_array_append_new(sources, json_pack("{s:s, s:s, s:s}", "provider", "cache", "for",
                                                 "person", "status", "found"));
        person = json_incref(json_object_get(cached, "person"));
        snprintf(by, 64, "%s", json_string_value(json_object_get(cached, "provider")) ?: "");
        json_decref(cached);
        if (json_is_null(person)) {
            json_decref(person);
            person = NULL;
        }
        return person;
    }
    char first[128] = "", last[128] = "";
    if (lead->contact_name) {
        const char *sp = strrchr(lead->contact_name, ' ');
        if (sp) {
            snprintf(first, sizeof first, "%.*s", (int)(sp - lead->contact_name),
                     lead->contact_name);
            snprintf(last, sizeof last, "%s", sp + 1);
        }
    }
    struct sa_enrich_person_query q = {.email = lead->contact_email,
                                       .first_name = first,
                                       .last_name = last,
                                       .domain = domain,
                                       .organization_name = lead->company_name};
    size_t from = json_array_size(sources);
    for (int i = 0; i < e->nproviders && !person; i++) {
        if (!sa_enrich_provider_knows_people(e->providers[i].p))
            continue;
        const char *unused = NULL;
        if (ask(e, &e->providers[i], 1, NULL, NULL, &q, sources, &person, &unused) == 0)
            snprintf(by, 64, "%s", sa_enrich_provider_name(e->providers[i].p));
    }
    if (e->store && (person || all_answered(sources, from))) {
        json_t *entry = json_pack("{s:O?, s:s?}", "person", person, "provider", by[0] ? by : NULL);
        if (sa_store_cache_put(e->store, key, by[0] ? by : "none", entry, e->ttl, &cerr) != 0)
            json_array_append_new(
                sources, json_pack("{s:s, s:s}", "provider", "cache", "status", "write failed"));
        json_decref(entry);
    }
    return person;
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
        /* entries written before field sources were kept name no provider: the local
         * dataset was the only one then */
        found_by = json_string_value(json_object_get(cached, "provider"))
                       ?: (json_is_object(company) ? "local_dataset" : "none");
        json_array_append_new(sources,
                              json_pack("{s:s, s:s}", "provider", "cache", "status", "found"));
    } else {
        company = waterfall(e, domain, lead->company_name, sources, &matched_by, &found_by);
        key = company && matched_by && strcmp(matched_by, "domain") == 0 && dkey[0] ? dkey
              : company                                                             ? nkey
              : dkey[0]                                                             ? dkey
                                                                                    : nkey;
        if (e->store && (company || all_answered(sources, 0))) {
            json_t *entry = json_pack("{s:o, s:s?, s:s}", "company",
                                      company ? json_incref(company) : json_null(), "matched_by",
                                      matched_by, "provider", found_by);
            if (sa_store_cache_put(e->store, key, found_by, entry, e->ttl, &cerr) != 0)
                json_array_append_new(sources, json_pack("{s:s, s:s}", "provider", "cache",
                                                         "status", "write failed"));
            json_decref(entry);
        }
    }
    json_t *field_sources = json_object();
    if (json_is_object(company))
        note_fields(field_sources, "company.", company, found_by);
    char person_by[64];
    json_t *person = find_person(e, lead, domain, sources, person_by);
    if (person)
        note_fields(field_sources, "person.", person, person_by);
    const char *country = lead->country;
    if (!country && json_is_object(company))
        country = json_string_value(json_object_get(company, "country"));
    json_t *contact = sa_contact_check(lead, e->model, country);
    double confidence = !json_is_object(company)                          ? 0
                        : matched_by && strcmp(matched_by, "domain") == 0 ? 0.95
                                                                          : 0.75;
    *output =
        json_pack("{s:o, s:o, s:b, s:s?, s:f, s:o, s:s, s:o}", "company",
                  company ? company : json_null(), "contact", contact, "cache_hit", hit,
                  "matched_by", json_is_object(company) ? matched_by : NULL, "confidence",
                  confidence, "sources", sources, "cache_key", key, "field_sources", field_sources);
    if (*output && person)
        json_object_set_new(*output, "person", person);
    else
        json_decref(person);
    json_decref(cached);
    return *output ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}

static void enrichment_destroy(struct sa_agent *a)
{
    struct enrichment_agent *e = (struct enrichment_agent *)a;
    for (int i = 0; i < e->nproviders; i++) {
        sa_breaker_destroy(&e->providers[i].breaker);
        if (e->providers[i].owned)
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
    if (deps->n_enrich_providers > 0) {
        for (int i = 0; i < deps->n_enrich_providers && i < MAX_PROVIDERS; i++)
            e->providers[e->nproviders++].p = deps->enrich_providers[i];
    } else {
        struct sa_err err = {0};
        if (sa_enrich_local_new(deps->dataset, &e->providers[0].p, &err)) {
            free(e);
            return NULL;
        }
        e->providers[0].owned = true;
        e->nproviders = 1;
    }
    struct sa_breaker_config bc = {.failure_threshold = deps->breaker_failures,
                                   .open_seconds = deps->breaker_open_seconds};
    for (int i = 0; i < e->nproviders; i++) {
        sa_breaker_init(&e->providers[i].breaker, sa_enrich_provider_name(e->providers[i].p), &bc);
        breaker_gauge(e, &e->providers[i]);
    }
    return &e->base;
}
