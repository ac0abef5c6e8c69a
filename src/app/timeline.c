/* A lead's timeline (see timeline.h). */
#include "app/timeline.h"

#include "app/leads.h"
#include "store/store.h"

int sa_app_lead_timeline(struct sa_store *store, const char *id, int limit, json_t **out,
                         struct sa_err *err)
{
    *out = NULL;
    json_t *lead = NULL;
    int rc = sa_app_lead_get(store, id, &lead, err); /* SA_ENOTFOUND says which */
    json_decref(lead);
    if (rc)
        return rc;
    json_t *items = NULL;
    if ((rc = sa_store_lead_timeline(store, id, limit, &items, err)))
        return rc;
    *out = json_pack("{s:s, s:I, s:o}", "lead_id", id, "count",
                     (json_int_t)json_array_size(items), "items", items);
    return *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}
