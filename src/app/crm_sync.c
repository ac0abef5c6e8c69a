/* CRM sync through the outbox (see crm_sync.h). */
#include "app/crm_sync.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/uuid.h"
#include "connectors/crm/crm.h"
#include "connectors/http.h"
#include "store/store.h"

#define KIND_LEAD "crm_lead"
#define KIND_ACTIVITY "crm_activity"
/* with no CRM configured, queued pushes wait this long before they are looked at again */
#define NO_CRM_DEFER_SECONDS 86400

bool sa_crm_sync_kind(const char *kind)
{
    return kind && strncmp(kind, "crm_", 4) == 0;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v && *v)
        json_object_set_new(o, k, json_string(v));
}

/* The push of a stored lead (get_lead's shape): our fields, see crm.h. NULL when the lead
 * is not qualified or has no contact e-mail. */
static json_t *lead_payload(const json_t *lead)
{
    const json_t *q = json_object_get(lead, "qualification");
    const json_t *ci = json_object_get(lead, "contact_info");
    const char *email = json_string_value(json_object_get(ci, "email"));
    if (!json_is_object(q) || !email || !*email)
        return NULL;
    json_t *p = json_object();
    set_str(p, "lead_id", json_string_value(json_object_get(lead, "id")));
    set_str(p, "email", email);
    const char *name = json_string_value(json_object_get(ci, "name"));
    if (name && *name) { /* "Jane Q. Doe": first word, then the rest */
        const char *sp = strchr(name, ' ');
        if (sp) {
            json_object_set_new(p, "first_name", json_stringn(name, (size_t)(sp - name)));
            while (*sp == ' ')
                sp++;
            set_str(p, "last_name", sp);
        } else {
            set_str(p, "last_name", name);
        }
    }
    set_str(p, "title", json_string_value(json_object_get(ci, "title")));
    set_str(p, "phone", json_string_value(json_object_get(ci, "phone")));
    set_str(p, "company", json_string_value(json_object_get(lead, "company_name")));
    set_str(p, "domain",
            json_string_value(json_object_get(json_object_get(lead, "company"), "domain")));
    set_str(p, "website", json_string_value(json_object_get(lead, "website")));
    set_str(p, "industry", json_string_value(json_object_get(lead, "industry")));
    set_str(p, "country", json_string_value(json_object_get(lead, "country")));
    json_t *emp = json_object_get(lead, "employees_max");
    if (json_is_integer(emp) && json_integer_value(emp) >= 0)
        json_object_set(p, "employees", emp);
    json_object_set(p, "score", json_object_get(q, "score"));
    set_str(p, "tier", json_string_value(json_object_get(q, "tier")));
    set_str(p, "reasoning", json_string_value(json_object_get(q, "reasoning")));
    return p;
}

static int add_item(struct sa_app *app, const char *key, const char *kind, const char *lead_id,
                    const char *email, json_t *payload, int *added, struct sa_err *err)
{
    char *text = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    char id[SA_UUID_LEN];
    sa_uuid_v7(id);
    const struct sa_outbox_item it = {.id = id,
                                      .idempotency_key = key,
                                      .kind = kind,
                                      .lead_id = lead_id,
                                      .to_email = email,
                                      .payload = text,
                                      .due_at = (long long)sa_wall_time()};
    int n = 0;
    int rc = sa_store_outbox_add(app->store, &it, 1, &n, err);
    free(text);
    if (added)
        *added = n;
    if (!rc && n && app->outbox_kick)
        app->outbox_kick(app->outbox_kick_arg);
    return rc;
}

/* For a push already queued under key: when the newest item of that push (key, or a
 * retry of it, "key:retry:ID") failed for good, the key of its retry (keyed by the failed
 * item, so a second `crm sync` queues it once); else "" (queued, sent or pending). */
static int retry_key(struct sa_app *app, const char *lead_id, const char *key, char *out,
                     size_t cap, struct sa_err *err)
{
    out[0] = '\0';
    json_t *items = NULL;
    int rc = sa_store_outbox_kind_list(app->store, KIND_LEAD, lead_id, 200, &items, err);
    size_t i, n = strlen(key);
    json_t *it;
    json_array_foreach(items, i, it)
    {
        const char *k = json_string_value(json_object_get(it, "idempotency_key"));
        if (!k || strncmp(k, key, n) != 0 || (k[n] != '\0' && k[n] != ':'))
            continue;
        const char *status = json_string_value(json_object_get(it, "status"));
        if (status && strcmp(status, "failed") == 0)
            snprintf(out, cap, "%s:retry:%s", key, json_string_value(json_object_get(it, "id")));
        break; /* the newest of this push decides */
    }
    json_decref(items);
    return rc;
}

/* Queues p (a lead payload, taken); with retry_failed (the backlog), a push that failed
 * for good is queued again. */
static int queue_payload(struct sa_app *app, json_t *p, bool retry_failed, int *added,
                         struct sa_err *err)
{
    /* the version: a hash of what is pushed, so the same push is queued once */
    char *text = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text) {
        json_decref(p);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    const char *lead_id = json_string_value(json_object_get(p, "lead_id"));
    char key[128];
    snprintf(key, sizeof key, KIND_LEAD ":%s:%016llx", lead_id ? lead_id : "",
             (unsigned long long)fnv1a(text));
    free(text);
    int n = 0;
    const char *email = json_string_value(json_object_get(p, "email"));
    int rc = add_item(app, key, KIND_LEAD, lead_id, email, p, &n, err);
    char again[256];
    if (!rc && n == 0 && retry_failed &&
        !(rc = retry_key(app, lead_id, key, again, sizeof again, err)) && again[0])
        rc = add_item(app, again, KIND_LEAD, lead_id, email, p, &n, err);
    if (added)
        *added = n;
    json_decref(p);
    return rc;
}

int sa_crm_sync_queue_lead(struct sa_app *app, const char *lead_id, int *added, struct sa_err *err)
{
    if (added)
        *added = 0;
    if (!app->crm || !lead_id)
        return 0;
    json_t *lead = NULL;
    int rc = sa_store_get_lead(app->store, lead_id, &lead, err);
    if (rc)
        return rc;
    json_t *p = lead_payload(lead);
    json_decref(lead);
    return p ? queue_payload(app, p, false, added, err) : 0;
}

int sa_crm_sync_queue_activity(struct sa_app *app, const char *lead_id, const char *email,
                               const char *type, const char *activity_id, const char *at,
                               const char *subject, const char *body, struct sa_err *err)
{
    if (!app->crm || !email || !*email || !activity_id)
        return 0;
    char now[SA_ISO8601_LEN];
    sa_iso8601_format(sa_wall_time(), now);
    json_t *p = json_pack("{s:s, s:s?, s:s, s:s, s:s, s:s?, s:s?}", "activity_id", activity_id,
                          "lead_id", lead_id, "email", email, "type", type, "at", at ? at : now,
                          "subject", subject, "body", body);
    if (!p)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    char key[160];
    snprintf(key, sizeof key, KIND_ACTIVITY ":%s", activity_id);
    int rc = add_item(app, key, KIND_ACTIVITY, lead_id, email, p, NULL, err);
    json_decref(p);
    return rc;
}

void sa_crm_sync_lead_logged(struct sa_app *app, const char *lead_id)
{
    struct sa_err err = {0};
    if (app->crm && sa_crm_sync_queue_lead(app, lead_id, NULL, &err))
        sa_log(SA_LOG_WARN, "crm: the lead's push was not queued",
               json_pack("{s:s?, s:s}", "lead_id", lead_id, "error", err.msg));
}

void sa_crm_sync_activity_logged(struct sa_app *app, const char *lead_id, const char *email,
                                 const char *type, const char *activity_id, const char *subject,
                                 const char *body)
{
    struct sa_err err = {0};
    if (app->crm && sa_crm_sync_queue_activity(app, lead_id, email, type, activity_id, NULL,
                                               subject, body, &err))
        sa_log(SA_LOG_WARN, "crm: the activity's push was not queued",
               json_pack("{s:s?, s:s, s:s}", "lead_id", lead_id, "activity_id", activity_id,
                         "error", err.msg));
}

/* ---- delivery ---- */

/* An item's payload (the store gives it parsed; text is read too), new reference. */
static json_t *payload_of(const json_t *item)
{
    json_t *p = json_object_get(item, "payload");
    if (json_is_object(p))
        return json_incref(p);
    return json_loads(json_string_value(p) ? json_string_value(p) : "", 0, NULL);
}

struct claimed {
    const json_t *item;
    json_t *payload; /* parsed */
    char token[SA_UUID_LEN];
};

/* Records r for c; returns 1 when it landed, 0 when not, -1 on a store error. */
static int record(struct sa_app *app, const struct claimed *c, const struct sa_crm_result *r,
                  int max_attempts, struct sa_err *err)
{
    const char *id = json_string_value(json_object_get(c->item, "id"));
    long long attempts = json_integer_value(json_object_get(c->item, "attempts")) + 1;
    const char *status = "sent", *why = NULL;
    long long retry = 0;
    switch (r->outcome) {
    case SA_CRM_DONE: break;
    case SA_CRM_DEFER:
        status = "queued";
        retry = r->retry_at > 0 ? r->retry_at : (long long)sa_wall_time() + 3600;
        why = r->error;
        break;
    case SA_CRM_RETRY:
        why = r->error;
        if (attempts >= max_attempts) {
            status = "failed";
        } else {
            status = "queued";
            retry = (long long)sa_wall_time() + 60LL * (1LL << (attempts - 1));
        }
        break;
    case SA_CRM_FAIL:
        status = "failed";
        why = r->error;
        break;
    }
    struct sa_err e = {0};
    /* a deferral is no attempt: queued again as it was (a retry_at would count one), then
     * moved to its time like the sending policy's deferrals */
    bool defer = r->outcome == SA_CRM_DEFER;
    int rc = sa_store_outbox_mark_as(app->store, id, c->token, status,
                                     r->outcome == SA_CRM_DONE ? r->id : NULL, why,
                                     defer ? 0 : retry, &e);
    if (!rc && defer) {
        rc = sa_store_outbox_defer(app->store, id, retry, why, &e);
        if (rc == SA_ECONFLICT) /* claimed again meanwhile: that worker decides */
            rc = 0;
    }
    if (rc == SA_ECONFLICT)
        return 0; /* the claim passed to another worker: its outcome stands */
    if (rc) {
        *err = e;
        return -1;
    }
    const char *kind = json_string_value(json_object_get(c->item, "kind"));
    if (r->outcome == SA_CRM_DONE)
        sa_log(SA_LOG_INFO, "crm pushed",
               json_pack("{s:s, s:s, s:s?, s:s}", "outbox_id", id, "kind", kind, "lead_id",
                         json_string_value(json_object_get(c->item, "lead_id")), "crm_id", r->id));
    else
        sa_log(r->outcome == SA_CRM_FAIL || !strcmp(status, "failed") ? SA_LOG_ERROR : SA_LOG_WARN,
               "crm push not done",
               json_pack("{s:s, s:s, s:s, s:s, s:I}", "outbox_id", id, "kind", kind, "outcome",
                         status, "error", why ? why : "", "due_at", (json_int_t)retry));
    return r->outcome == SA_CRM_DONE;
}

/* Pushes the claimed items of one kind in batches and records each outcome. */
static int push(struct sa_app *app, struct claimed *cs, int n, bool leads, int max_attempts,
                int *sent, struct sa_err *err)
{
    int batch = sa_crm_batch_max(app->crm);
    json_t **payloads = calloc((size_t)(n ? n : 1), sizeof(json_t *));
    struct sa_crm_result *res = calloc((size_t)(n ? n : 1), sizeof *res);
    int rc = 0;
    if (!payloads || !res) {
        free(payloads);
        free(res);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    for (int i = 0; !rc && i < n; i++)
        payloads[i] = cs[i].payload;
    for (int off = 0; !rc && off < n; off += batch) {
        int k = n - off < batch ? n - off : batch;
        int crc = leads ? sa_crm_upsert_leads(app->crm, payloads + off, k, res + off)
                        : sa_crm_add_activities(app->crm, payloads + off, k, res + off);
        if (crc)
            sa_crm_result_all(res + off, k, SA_CRM_RETRY, "out of memory");
        for (int i = off; i < off + k; i++) {
            int r = record(app, &cs[i], &res[i], max_attempts, err);
            if (r < 0) {
                rc = err->code ? err->code : SA_ESTORE;
                break;
            }
            *sent += r;
        }
    }
    free(payloads);
    free(res);
    return rc;
}

int sa_crm_sync_deliver(struct sa_app *app, json_t *const *items, int n, int max_attempts,
                        int *sent, struct sa_err *err)
{
    *sent = 0;
    if (n <= 0)
        return 0;
    if (!app->crm) { /* CRM_PROVIDER=none: nothing can take them; they must not block mail */
        for (int i = 0; i < n; i++) {
            const char *id = json_string_value(json_object_get(items[i], "id"));
            int rc = sa_store_outbox_defer(app->store, id,
                                           (long long)sa_wall_time() + NO_CRM_DEFER_SECONDS,
                                           "CRM_PROVIDER is none", err);
            if (rc && rc != SA_ECONFLICT)
                return rc;
        }
        return 0;
    }
    struct claimed *leads = calloc((size_t)n, sizeof *leads);
    struct claimed *acts = calloc((size_t)n, sizeof *acts);
    int nl = 0, na = 0, rc = 0;
    if (!leads || !acts) {
        free(leads);
        free(acts);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    for (int i = 0; !rc && i < n; i++) {
        const char *id = json_string_value(json_object_get(items[i], "id"));
        const char *kind = json_string_value(json_object_get(items[i], "kind"));
        bool lead = kind && strcmp(kind, KIND_LEAD) == 0;
        struct claimed *c = lead ? &leads[nl] : &acts[na];
        sa_uuid_v7(c->token);
        int r = sa_store_outbox_claim_as(app->store, id, c->token, err);
        if (r == SA_ECONFLICT || r == SA_ENOTFOUND)
            continue; /* another worker has it, or it is done */
        if (r) {
            rc = r;
            break;
        }
        c->item = items[i];
        c->payload = payload_of(items[i]);
        if (!json_is_object(c->payload)) {
            struct sa_crm_result bad = {.outcome = SA_CRM_FAIL};
            snprintf(bad.error, sizeof bad.error, "the item's payload is not a JSON object");
            json_decref(c->payload);
            c->payload = NULL;
            if (record(app, c, &bad, max_attempts, err) < 0)
                rc = err->code ? err->code : SA_ESTORE;
            continue;
        }
        if (lead)
            nl++;
        else
            na++;
    }
    int s1 = 0, s2 = 0;
    if (!rc)
        rc = push(app, leads, nl, true, max_attempts, &s1, err);
    if (!rc)
        rc = push(app, acts, na, false, max_attempts, &s2, err);
    *sent = s1 + s2;
    for (int i = 0; i < nl; i++)
        json_decref(leads[i].payload);
    for (int i = 0; i < na; i++)
        json_decref(acts[i].payload);
    free(leads);
    free(acts);
    return rc;
}

/* ---- the backlog and the status ---- */

int sa_crm_sync_backlog(struct sa_app *app, const char *since, int *queued, int *seen,
                        struct sa_err *err)
{
    *queued = *seen = 0;
    if (!app->crm)
        return sa_err_set(err, SA_ECONFIG, "CRM_PROVIDER is none: there is nowhere to push");
    double from = 0;
    if (since && sa_iso8601_parse(since, &from))
        return sa_err_set(err, SA_EINVAL, "--since: not an ISO 8601 time: %s", since);
    enum { PAGE = 200 };
    for (int offset = 0;; offset += PAGE) {
        struct sa_lead_query q = {.limit = PAGE, .offset = offset, .min_score = 0};
        json_t *page = NULL;
        int rc = sa_store_list_leads(app->store, &q, &page, err);
        if (rc)
            return rc;
        json_t *items = json_object_get(page, "items");
        size_t n = json_array_size(items), i;
        json_t *lead;
        json_array_foreach(items, i, lead)
        {
            const json_t *qual = json_object_get(lead, "qualification");
            double at = 0;
            if (!json_is_object(qual))
                continue;
            if (since &&
                (sa_iso8601_parse(json_string_value(json_object_get(qual, "qualified_at")), &at) ||
                 at < from))
                continue;
            (*seen)++;
            json_t *p = lead_payload(lead);
            int added = 0;
            if (p && (rc = queue_payload(app, p, true, &added, err))) {
                json_decref(page);
                return rc;
            }
            *queued += added;
        }
        json_decref(page);
        if (n < PAGE)
            return 0;
    }
}

int sa_crm_sync_status(struct sa_app *app, const char *lead_id, int limit, json_t **out,
                       struct sa_err *err)
{
    *out = NULL;
    json_t *rows = NULL, *items = NULL;
    int rc = sa_store_outbox_kind_counts(app->store, "crm_", &rows, err);
    if (!rc)
        rc = sa_store_outbox_kind_list(app->store, "crm_", lead_id, limit, &items, err);
    if (rc) {
        json_decref(rows);
        return rc;
    }
    json_t *counts = json_pack("{s:i, s:i, s:i, s:i, s:i}", "queued", 0, "sending", 0, "sent", 0,
                               "failed", 0, "cancelled", 0);
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        const char *st = json_string_value(json_object_get(r, "status"));
        if (st)
            json_object_set(counts, st, json_object_get(r, "n"));
    }
    json_decref(rows);
    json_t *syncs = json_array();
    json_array_foreach(items, i, r)
    {
        json_t *p = payload_of(r);
        json_array_append_new(
            syncs,
            json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}", "id",
                      json_object_get(r, "id"), "lead_id", json_object_get(r, "lead_id"), "kind",
                      json_object_get(r, "kind"), "activity",
                      json_object_get(p, "type") ? json_object_get(p, "type") : json_null(),
                      "status", json_object_get(r, "status"), "attempts",
                      json_object_get(r, "attempts"), "last_error",
                      json_object_get(r, "last_error"), "crm_id",
                      json_object_get(r, "delivered_id"), "due_at", json_object_get(r, "due_at"),
                      "updated_at", json_object_get(r, "updated_at")));
        json_decref(p);
    }
    json_decref(items);
    const char *provider = app->crm ? sa_crm_name(app->crm) : "none";
    *out = json_pack("{s:s, s:b, s:s?, s:o, s:o}", "provider", provider, "dry_run",
                     app->crm && app->crm->dry_run, "breaker",
                     app->crm ? sa_conn_http_breaker(app->crm->http) : NULL, "counts", counts,
                     "syncs", syncs);
    return *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}
