/* The leads service (see leads.h). */
#include "app/leads.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/invoke.h"
#include "base/json.h"
#include "base/log.h"
#include "domain/lead.h"
#include "graph/saver.h"
#include "store/session.h"
#include "store/store.h"

/* The store's order for a ?sort= name; false for an unknown name. */
static bool lead_sort(const char *name, enum sa_lead_sort *out)
{
    static const struct {
        const char *name;
        enum sa_lead_sort sort;
    } sorts[] = {{"-created_at", SA_LEAD_SORT_NEWEST},
                 {"created_at", SA_LEAD_SORT_OLDEST},
                 {"score", SA_LEAD_SORT_SCORE},
                 {"-score", SA_LEAD_SORT_SCORE_DESC},
                 {"company", SA_LEAD_SORT_COMPANY}};
    for (size_t i = 0; i < sizeof sorts / sizeof sorts[0]; i++) {
        if (strcmp(name, sorts[i].name) == 0) {
            *out = sorts[i].sort;
            return true;
        }
    }
    return false;
}

bool sa_app_lead_sort_valid(const char *name)
{
    enum sa_lead_sort ignored;
    return lead_sort(name, &ignored);
}

int sa_app_lead_sort_code(const char *name)
{
    enum sa_lead_sort s;
    return name && lead_sort(name, &s) ? (int)s : -1;
}

int sa_app_leads_list(struct sa_store *store, int limit, int offset, const char *tier,
                      int min_score, const char *search, const char *sort, json_t **out,
                      struct sa_err *err)
{
    *out = NULL;
    struct sa_lead_query q = {.limit = limit,
                              .offset = offset,
                              .tier = tier,
                              .min_score = min_score,
                              .search = search,
                              .sort = SA_LEAD_SORT_NEWEST};
    if (sort && !lead_sort(sort, &q.sort))
        return sa_err_set(err, SA_EINVAL, "sort should be " SA_LEAD_SORT_NAMES);
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

/* ---- edit and erase ----------------------------------------------------------------- */

/* RFC 7396 on target (an object) in place; the names of the patched fields, dotted, are
 * appended to changed. */
static void merge_patch(json_t *target, const json_t *patch, const char *prefix, json_t *changed)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)patch, k, v)
    {
        char name[160];
        snprintf(name, sizeof name, "%s%s%.100s", prefix, *prefix ? "." : "", k);
        json_t *old = json_object_get(target, k);
        if (json_is_object(v)) {
            if (!json_is_object(old)) {
                old = json_object();
                json_object_set_new(target, k, old);
            }
            merge_patch(old, v, name, changed);
        } else if (json_is_null(v)) {
            json_object_del(target, k);
            json_array_append_new(changed, json_string(name));
        } else {
            json_object_set(target, k, v);
            json_array_append_new(changed, json_string(name));
        }
    }
}

void sa_app_lead_etag(const json_t *lead, char out[SA_ETAG_LEN])
{
    char *text = json_dumps(lead, JSON_COMPACT | JSON_SORT_KEYS);
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (const char *p = text ? text : ""; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    free(text);
    snprintf(out, SA_ETAG_LEN, "\"%016llx\"", (unsigned long long)h);
}

/* True when the If-Match value lists tag (or is "*"). */
static bool etag_listed(const char *if_match, const char *tag)
{
    size_t n = strlen(tag);
    for (const char *p = if_match; *p;) {
        p += strspn(p, " \t,");
        if (*p == '*')
            return true;
        /* a weak tag never matches (If-Match compares strongly: RFC 9110, 13.1.1) */
        bool weak = strncmp(p, "W/", 2) == 0;
        if (!weak && strncmp(p, tag, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

/* Edits of one lead queue on one of these, chosen by a hash of its id. */
#define EDIT_STRIPES 64
static pthread_mutex_t edit_stripes[EDIT_STRIPES] = {[0 ... EDIT_STRIPES - 1] =
                                                         PTHREAD_MUTEX_INITIALIZER};

static pthread_mutex_t *edit_stripe(const char *id)
{
    uint32_t h = 2166136261u;
    for (const char *p = id; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return &edit_stripes[h % EDIT_STRIPES];
}

static int lead_update(struct sa_app *app, const char *id, const json_t *patch,
                       const char *if_match, json_t *detail, json_t **changed, json_t **out,
                       struct sa_err *err);

int sa_app_lead_update(struct sa_app *app, const char *id, const json_t *patch,
                       const char *if_match, json_t *detail, json_t **changed, json_t **out,
                       struct sa_err *err)
{
    pthread_mutex_t *m = edit_stripe(id);
    pthread_mutex_lock(m);
    int rc = lead_update(app, id, patch, if_match, detail, changed, out, err);
    pthread_mutex_unlock(m);
    return rc;
}

static int lead_update(struct sa_app *app, const char *id, const json_t *patch,
                       const char *if_match, json_t *detail, json_t **changed, json_t **out,
                       struct sa_err *err)
{
    *out = NULL;
    *changed = NULL;
    json_t *current = NULL;
    int rc = sa_app_lead_get(app->store, id, &current, err);
    if (rc)
        return rc;
    if (if_match) {
        char tag[SA_ETAG_LEN];
        sa_app_lead_etag(current, tag);
        if (!etag_listed(if_match, tag)) {
            json_decref(current);
            return sa_err_set(err, SA_EPRECONDITION,
                              "Lead %s changed since that version (its ETag is now %s): read "
                              "it again and apply the change to the new version",
                              id, tag);
        }
    }
    json_t *merged = json_deep_copy(json_object_get(current, "data"));
    json_decref(current);
    json_t *names = json_array();
    if (!merged || !names) {
        json_decref(merged);
        json_decref(names);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    /* the stored revenue_currency was derived from the stored annual_revenue: a new
     * revenue brings its own ("$30M" over "€30M" is dollars, not a contradiction) */
    if (json_object_get(patch, "annual_revenue") && !json_object_get(patch, "revenue_currency"))
        json_object_del(merged, "revenue_currency");
    merge_patch(merged, patch, "", names);
    struct sa_lead lead = {0};
    if (!sa_app_invoke_input(app, SA_AGENT_QUALIFICATION, merged, "body", &lead, detail)) {
        json_decref(merged);
        json_decref(names);
        return sa_err_set(err, SA_EINVAL, "the patched lead is not valid");
    }
    json_decref(merged); /* the lead holds its own reference */
    char other[37] = "";
    struct sa_err e2 = {0};
    if (lead.contact_email && sa_app_lead_identify(app, &lead, other, NULL, &e2) == 0 &&
        strcmp(other, id) != 0) {
        rc = sa_err_set(err, SA_ECONFLICT, "Lead %s has this e-mail address; edit or erase it",
                        other);
        goto out;
    }
    struct sa_invoke_req req = {.type = SA_AGENT_QUALIFICATION, .lead = &lead, .lead_id = id};
    struct sa_invoke_res res = {0};
    rc = sa_app_invoke(app, &req, &res, err);
    sa_invoke_res_clear(&res);
    if (!rc)
        rc = sa_app_lead_get(app->store, id, out, err);
out:
    sa_lead_clear(&lead);
    if (rc)
        json_decref(names);
    else
        *changed = names;
    return rc;
}

int sa_app_lead_erase(struct sa_app *app, const char *id, json_t **out, struct sa_err *err)
{
    *out = NULL;
    json_t *lead = NULL, *threads = NULL, *counts = NULL;
    int rc = lead_or_404(app->store, id, &lead, err);
    if (rc)
        return rc;
    char *thread_text = NULL;
    if ((rc = sa_store_lead_threads(app->store, id, &threads, err)))
        goto out;
    thread_text = json_dumps(threads, JSON_COMPACT);
    const char *email = sa_json_str(json_object_get(lead, "contact_info"), "email");
    rc = sa_store_lead_erase(app->store, id, email, thread_text, &counts, err);
    if (rc == SA_ENOTFOUND)
        sa_err_set(err, rc, "No lead with id %s", id);
    else if (rc == SA_ECONFLICT)
        sa_err_set(err, rc, "A run of lead %s is queued or running; cancel it, then erase", id);
    if (rc)
        goto out;
    /* The records are gone; the checkpoints live behind the saver (maybe another
     * database), so they follow. A failure here is logged with the thread ids, which
     * carry no personal data, so an operator can finish the job. */
    size_t i, gone = 0;
    json_t *t;
    json_array_foreach(threads, i, t)
    {
        struct sa_err e2 = {0};
        /* a conversation's session copy (store/session.h) goes with its thread; it holds
         * no personal data, so a failure only logs */
        if (app->sessions && sa_session_del(app->sessions, json_string_value(t), &e2))
            sa_log(SA_LOG_WARN, "erasure: conversation session not deleted",
                   json_pack("{s:O, s:s}", "thread_id", t, "error", e2.msg));
        e2 = (struct sa_err){0};
        if (graph_saver_delete_thread(app->saver, json_string_value(t), &e2) == 0) {
            gone++;
            continue;
        }
        sa_log(SA_LOG_ERROR, "erasure: checkpoints not deleted",
               json_pack("{s:s, s:O, s:s}", "lead_id", id, "thread_id", t, "error", e2.msg));
        rc = sa_err_set(err, SA_ESTORE, "deleting the checkpoints of thread %s: %s",
                        json_string_value(t), e2.msg);
    }
    json_object_set_new(counts, "checkpoint_threads", json_integer((json_int_t)gone));
    if (!rc) {
        *out = counts;
        counts = NULL;
    }
out:
    free(thread_text);
    json_decref(counts);
    json_decref(threads);
    json_decref(lead);
    return rc;
}
