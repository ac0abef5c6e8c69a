/* The seed service: the sample leads `make run` starts with (see seed.h). */
#include "app/seed.h"

#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/invoke.h"
#include "base/detail.h"
#include "base/json.h"
#include "base/uuid.h"
#include "domain/lead.h"
#include "store/store.h"

int sa_app_seed(struct sa_app *app, const char *path, int *added, int *present, struct sa_err *err)
{
    *added = *present = 0;
    json_t *root;
    if (sa_json_load_file(path, &root, err))
        return err->code;
    int rc = 0;
    json_t *leads = json_object_get(root, "leads");
    if (!json_is_array(leads)) {
        rc = sa_err_set(err, SA_ECONFIG, "%s: expected {\"leads\": [...]}", path);
        goto out;
    }
    size_t i;
    json_t *item;
    json_array_foreach(leads, i, item)
    {
        const char *given = sa_json_str(item, "id");
        char id[SA_UUID_LEN];
        if (!given || !sa_uuid_valid(given, strlen(given))) {
            rc = sa_err_set(err, SA_ECONFIG, "%s: leads.%zu.id: expected a UUID", path, i);
            goto out;
        }
        sa_uuid_lower(given, id);
        /* A lead stored already is left alone, and its agent does not run: a restart
         * adds no invocations to the status counters. */
        json_t *stored = NULL;
        int found = sa_store_get_lead(app->store, id, &stored, err);
        json_decref(stored);
        if (found == 0) {
            ++*present;
            continue;
        }
        if (found != SA_ENOTFOUND) {
            rc = found;
            goto out;
        }
        /* The id is the record's, not the lead's data: validate the rest as input. */
        json_t *input = json_deep_copy(item);
        json_object_del(input, "id");
        json_t *detail = json_array();
        char prefix[48];
        snprintf(prefix, sizeof prefix, "leads.%zu", i);
        struct sa_lead lead;
        if (sa_lead_parse(input, prefix, &lead, detail)) {
            json_t *first = json_array_get(detail, 0);
            char *loc = json_dumps(json_object_get(first, "loc"), JSON_COMPACT);
            rc = sa_err_set(err, SA_ECONFIG, "%s: %s: %s", path, loc ? loc : "?",
                            sa_json_str(first, "msg"));
            free(loc);
            json_decref(detail);
            json_decref(input);
            goto out;
        }
        json_decref(detail);
        /* no model narrative while seeding: start-up would wait on one call per lead */
        json_t *ctx = json_pack("{s:b}", "skip_explain", 1);
        struct sa_invoke_req req = {.type = SA_AGENT_QUALIFICATION,
                                    .lead = &lead,
                                    .lead_id = id,
                                    .only_if_new = true,
                                    .context = ctx};
        struct sa_invoke_res res;
        rc = sa_app_invoke(app, &req, &res, err);
        json_decref(ctx);
        sa_lead_clear(&lead);
        json_decref(input);
        if (rc)
            goto out;
        *added += res.written;
        *present += !res.written;
        sa_invoke_res_clear(&res);
    }
out:
    json_decref(root);
    return rc;
}
