/* Fuzz driver for Apollo's answers as the provider reads them (sa_enrich_apollo_parse,
 * connectors/enrichment/apollo.c): the input is read as an organizations/enrich answer
 * and as a people/match answer. A company MUST be an object whose employees and
 * founded_year, when present, are non-negative integers, whose revenue_band is one of
 * ours and whose tech_stack holds strings; a person MUST be an object of strings. Never a
 * crash, a hang or a leak. Built like fuzz_invoke_body (see tests/CMakeLists.txt). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/enrichment/provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_company(const json_t *c)
{
    static const char *const bands[] = {"<1M",       "1M-10M",  "10M-50M", "50M-100M",
                                        "100M-500M", "500M-1B", "1B+"};
    json_t *v = json_object_get(c, "employees");
    if (v && (!json_is_integer(v) || json_integer_value(v) < 0))
        abort();
    v = json_object_get(c, "founded_year");
    if (v && (!json_is_integer(v) || json_integer_value(v) < 0))
        abort();
    const char *band = json_string_value(json_object_get(c, "revenue_band"));
    bool ok = !json_object_get(c, "revenue_band");
    for (size_t i = 0; band && i < sizeof bands / sizeof bands[0]; i++)
        ok |= strcmp(band, bands[i]) == 0;
    if (!ok || !json_is_string(json_object_get(c, "domain")))
        abort();
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(c, "tech_stack"), i, t)
    {
        if (!json_is_string(t))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *out = NULL;
    struct sa_err err = {0};
    int rc = sa_enrich_apollo_parse(SA_APOLLO_ORGANIZATION, (const char *)data, size,
                                    "brightlinefreight.com", &out, &err);
    if (rc == 0) {
        if (!json_is_object(out))
            abort();
        check_company(out);
    } else if (out) {
        abort();
    }
    json_decref(out);
    out = NULL;
    rc = sa_enrich_apollo_parse(SA_APOLLO_PERSON, (const char *)data, size, NULL, &out, &err);
    if (rc == 0) {
        const char *k;
        json_t *v;
        if (!json_is_object(out))
            abort();
        json_object_foreach(out, k, v)
        {
            if (!json_is_string(v))
                abort();
        }
    } else if (out) {
        abort();
    }
    json_decref(out);
    return 0;
}
