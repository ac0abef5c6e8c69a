/* The local reference dataset as an enrichment provider (see provider.h): a lookup in
 * memory, by domain first, then by name. */
#include <stdlib.h>

#include "connectors/enrichment/provider.h"
#include "domain/dataset.h"

struct local_provider {
    struct sa_enrich_provider base; /* first */
    const struct sa_dataset *dataset;
};

static int local_lookup(struct sa_enrich_provider *p, const char *domain, const char *name,
                        json_t **company, const char **matched_by, struct sa_err *err)
{
    const struct sa_dataset *d = ((struct local_provider *)p)->dataset;
    const struct sa_company *c = domain && *domain ? sa_dataset_by_domain(d, domain) : NULL;
    *matched_by = "domain";
    if (!c && name) {
        c = sa_dataset_by_name(d, name);
        *matched_by = "name";
    }
    if (!c) {
        *matched_by = NULL;
        return sa_err_set(err, SA_ENOTFOUND, "not in the local dataset");
    }
    *company = sa_company_json(c);
    return *company ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}

static void local_free(struct sa_enrich_provider *p)
{
    free(p);
}

static const struct sa_enrich_provider_ops local_ops = {
    .name = "local_dataset", .lookup = local_lookup, .free = local_free};

int sa_enrich_local_new(const struct sa_dataset *d, struct sa_enrich_provider **out,
                        struct sa_err *err)
{
    struct local_provider *p = calloc(1, sizeof *p);
    if (!p) {
        *out = NULL;
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    p->base.ops = &local_ops;
    p->dataset = d;
    *out = &p->base;
    return 0;
}
