/* The leads service (see leads.h). */
#include "app/leads.h"

#include <stdio.h>

#include "base/json.h"
#include "domain/lead.h"
#include "store/store.h"

int sa_app_leads_list(struct sa_store *store, int limit, int offset, const char *tier,
                      int min_score, const char *search, json_t **out, struct sa_err *err)
{
    struct sa_lead_query q = {
        .limit = limit, .offset = offset, .tier = tier, .min_score = min_score, .search = search};
    return sa_store_list_leads(store, &q, out, err);
}

static int lead_or_404(struct sa_store *store, const char *id, json_t **out, struct sa_err *err)
{
    int rc = sa_store_get_lead(store, id, out, err);
    if (rc == SA_ENOTFOUND)
        sa_err_set(err, rc, "No lead with id %s", id);
    return rc;
}

int sa_app_lead_get(struct sa_store *store, const char *id, json_t **out, struct sa_err *err)
{
    *out = NULL;
    json_t *lead = NULL, *execs = NULL;
    int rc = lead_or_404(store, id, &lead, err);
    if (rc)
        return rc;
    if ((rc = sa_store_list_executions(store, id, 50, &execs, err))) {
        json_decref(lead);
        return rc;
    }
    json_object_set_new(lead, "executions", execs);
    *out = lead;
    return 0;
}

int sa_app_lead_input(struct sa_store *store, const char *id, json_t **out, struct sa_err *err)
{
    *out = NULL;
    json_t *lead = NULL;
    int rc = lead_or_404(store, id, &lead, err);
    if (rc)
        return rc;
    *out = json_incref(json_object_get(lead, "data"));
    json_decref(lead);
    return *out ? 0 : sa_err_set(err, SA_ESTORE, "lead %s has no stored input", id);
}

void sa_app_lead_row(struct sa_lead_row *row, const struct sa_lead *l, const char *id,
                     const char *data, const json_t *qual, char size_text[32])
{
    json_t *score = json_object_get(qual, "score");
    *row = (struct sa_lead_row){
        .id = id,
        .company_name = l->company_name,
        .industry = l->industry,
        .company_size = l->company_size,
        .employees_min = l->employees_min,
        .employees_max = l->employees_max,
        .annual_revenue = l->annual_revenue,
        .website = l->website,
        .country = l->country,
        .contact_name = l->contact_name,
        .contact_title = l->contact_title,
        .contact_email = l->contact_email,
        .contact_phone = l->contact_phone,
        .linkedin_url = l->linkedin_url,
        .data = data,
        .score = json_is_integer(score) ? (int)json_integer_value(score) : -1,
        .tier = sa_json_str(qual, "tier"),
        .reasoning = sa_json_str(qual, "reasoning"),
    };
    json_t *size = json_object_get(l->raw, "company_size");
    if (!row->company_size && json_is_number(size)) {
        snprintf(size_text, 32, "%.0f", json_number_value(size));
        row->company_size = size_text;
    }
}
