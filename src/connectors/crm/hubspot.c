/* The HubSpot backend of the CRM slot (crm.h): CRM API v3 objects and v4 associations with
 * a private app's bearer token (wire-formats.md §5).
 *
 * A batch of leads costs three calls: the companies upserted on their domain
 * (companies/batch/upsert, idProperty "domain", which the portal must have as a
 * unique-valued property), the contacts upserted on their e-mail (contacts/batch/upsert,
 * idProperty "email"), and the contact-company associations (v4 batch/create, type 279).
 * Upserts are what make a retry harmless: pushing the same lead twice updates one contact.
 * When HubSpot answers the contacts' batch with 409 "Contact already exists. Existing ID:
 * N" (an address held by another contact, e.g. as a secondary e-mail), each contact is
 * created alone and a 409 is resolved by updating contact N.
 *
 * An activity is a note (notes have no idempotency key in HubSpot: the outbox item's
 * "sent" status is what keeps it single; a crash between HubSpot's answer and that mark
 * can repeat one note, see README "CRM sync"): its contact is upserted first (so a note
 * never waits for the lead's push), then the note is created associated to it (type 202).
 *
 * Rate limits: a 429 of the TEN_SECONDLY_ROLLING policy is waited out and retried inside
 * the call (Retry-After, else the client's backoff); one of the DAILY policy is not worth
 * waiting for: the items are deferred an hour (the daily window resets at midnight in the
 * portal's own time zone, which we do not know). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/clock.h"
#include "base/config.h"
#include "base/log.h"
#include "connectors/crm/crm.h"
#include "connectors/http.h"

#define HS_BATCH_MAX 100
#define DAILY_DEFER_SECONDS 3600
#define BREAKER_DEFER_SECONDS 60
#define ASSOC_CONTACT_COMPANY 279
#define ASSOC_NOTE_CONTACT 202

struct hubspot {
    struct sa_crm super;
    char base[512];
    char auth[1024]; /* "Authorization: Bearer ..." (secret: never logged) */
};

/* 429 of the DAILY policy: not retried inside the call. */
static double retry_hook(void *arg, const struct sa_conn_resp *r, int attempt)
{
    (void)arg;
    (void)attempt;
    if (r->status == 429 && r->body && strstr(r->body, "\"DAILY\""))
        return -2;
    return -1;
}

/* An answer's outcome when it is not a success: what the items become. */
static enum sa_crm_outcome classify(int rc, const struct sa_conn_resp *r, long long *retry_at)
{
    if (rc && r->breaker_open) { /* HubSpot is down: wait for the breaker, not an attempt */
        *retry_at = (long long)sa_wall_seconds() + BREAKER_DEFER_SECONDS;
        return SA_CRM_DEFER;
    }
    if (rc || r->status >= 500 || r->status == 0)
        return SA_CRM_RETRY;
    if (r->status == 429) {
        if (r->body && strstr(r->body, "\"DAILY\"")) {
            *retry_at = (long long)sa_wall_seconds() + DAILY_DEFER_SECONDS;
            return SA_CRM_DEFER;
        }
        return SA_CRM_RETRY; /* the rolling window, still over after the retries */
    }
    if (r->status == 401 || r->status == 403)
        return SA_CRM_RETRY; /* a token to fix: the items wait for it (5 attempts) */
    return SA_CRM_FAIL;
}

static int call(struct hubspot *h, const char *method, const char *path, const json_t *body,
                struct sa_conn_resp *resp, struct sa_err *err)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", h->base, path);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (body && !text)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    const char *headers[] = {h->auth, "Content-Type: application/json", "Accept: application/json",
                             NULL};
    struct sa_conn_req req = {.method = method,
                              .url = url,
                              .headers = headers,
                              .body = text,
                              .body_len = text ? strlen(text) : 0,
                              .retry = retry_hook};
    int rc = sa_conn_http_do(h->super.http, &req, resp, err);
    free(text);
    return rc;
}

/* Runs one call and, unless it answered 2xx, gives every result its outcome. Returns 1
 * on a 2xx (*answer: the parsed body, new reference), 0 when the items have their
 * outcome. */
static int step(struct hubspot *h, const char *what, const char *path, const json_t *body,
                struct sa_crm_result *res, int n, json_t **answer, int *status)
{
    struct sa_conn_resp r = {0};
    struct sa_err err = {0};
    *answer = NULL;
    int rc = call(h, "POST", path, body, &r, &err);
    if (status)
        *status = r.status;
    if (!rc && r.status >= 200 && r.status < 300) {
        *answer = json_loads(r.body, 0, NULL);
        sa_conn_resp_free(&r);
        return 1;
    }
    long long retry_at = 0;
    enum sa_crm_outcome o = classify(rc, &r, &retry_at);
    char msg[SA_CRM_ERROR_MAX], text[SA_CRM_ERROR_MAX - 40];
    if (rc)
        snprintf(text, sizeof text, "%s", err.msg);
    else
        sa_crm_error_text(r.status, r.body, text, sizeof text);
    snprintf(msg, sizeof msg, "hubspot %s: %s", what, text);
    if (!(status && r.status == 409)) /* the caller resolves a 409 */
        for (int i = 0; i < n; i++) {
            res[i].outcome = o;
            res[i].retry_at = retry_at;
            snprintf(res[i].error, sizeof res[i].error, "%s", msg);
        }
    sa_conn_resp_free(&r);
    return 0;
}

/* The id results[] gives the input whose property prop is value (ASCII case ignored). */
static const char *result_id(const json_t *answer, const char *prop, const char *value)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(answer, "results"), i, r)
    {
        const char *v = json_string_value(json_object_get(json_object_get(r, "properties"), prop));
        if (v && value && strcasecmp(v, value) == 0)
            return json_string_value(json_object_get(r, "id"));
    }
    return NULL;
}

/* HubSpot's property values are strings: numbers are written as text. */
static void stringify(json_t *props)
{
    const char *k;
    json_t *v;
    json_object_foreach(props, k, v)
    {
        char num[64];
        if (json_is_integer(v))
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        else if (json_is_real(v))
            snprintf(num, sizeof num, "%.17g", json_real_value(v));
        else
            continue;
        json_object_set_new(props, k, json_string(num));
    }
}

static json_t *assoc(long type, const char *to)
{
    return json_pack("{s:{s:s}, s:[{s:s, s:i}]}", "to", "id", to, "types", "associationCategory",
                     "HUBSPOT_DEFINED", "associationTypeId", (int)type);
}

/* Companies of the leads' domains (each once) upserted on domain; *ids: the answer. */
static int upsert_companies(struct hubspot *h, json_t *const *leads, int n,
                            struct sa_crm_result *res, json_t **ids)
{
    json_t *inputs = json_array(), *seen = json_object();
    for (int i = 0; i < n; i++) {
        const char *domain = json_string_value(json_object_get(leads[i], "domain"));
        if (!domain || !*domain || json_object_get(seen, domain))
            continue;
        json_object_set_new(seen, domain, json_true());
        const char *name = json_string_value(json_object_get(leads[i], "company"));
        json_array_append_new(inputs,
                              json_pack("{s:s, s:s, s:{s:s, s:s?}}", "id", domain, "idProperty",
                                        "domain", "properties", "domain", domain, "name", name));
    }
    json_decref(seen);
    int ok = 1;
    *ids = NULL;
    if (json_array_size(inputs)) {
        json_t *body = json_pack("{s:o}", "inputs", inputs);
        ok = step(h, "companies upsert", "/crm/v3/objects/companies/batch/upsert", body, res, n,
                  ids, NULL);
        json_decref(body);
    } else {
        json_decref(inputs);
    }
    return ok;
}

/* The 409's existing id, from its message. */
static int existing_id(const char *body, char *id, size_t cap)
{
    const char *p = body ? strstr(body, "Existing ID: ") : NULL;
    if (!p)
        return -1;
    p += strlen("Existing ID: ");
    size_t n = strspn(p, "0123456789");
    if (!n || n >= cap)
        return -1;
    memcpy(id, p, n);
    id[n] = '\0';
    return 0;
}

/* Contacts created one by one after the batch answered 409. */
static void contacts_one_by_one(struct hubspot *h, json_t *const *props, int n,
                                struct sa_crm_result *res)
{
    for (int i = 0; i < n; i++) {
        json_t *body = json_pack("{s:O}", "properties", props[i]);
        struct sa_conn_resp r = {0};
        struct sa_err err = {0};
        int rc = call(h, "POST", "/crm/v3/objects/contacts", body, &r, &err);
        char id[SA_CRM_ID_MAX];
        if (!rc && r.status == 409 && existing_id(r.body, id, sizeof id) == 0) {
            char path[128];
            snprintf(path, sizeof path, "/crm/v3/objects/contacts/%s", id);
            sa_conn_resp_free(&r);
            rc = call(h, "PATCH", path, body, &r, &err);
            if (!rc && r.status == 200)
                snprintf(res[i].id, sizeof res[i].id, "%s", id);
        } else if (!rc && r.status == 201) {
            json_t *a = json_loads(r.body, 0, NULL);
            snprintf(res[i].id, sizeof res[i].id, "%s",
                     json_string_value(json_object_get(a, "id")) ?: "");
            json_decref(a);
        }
        if (!rc && r.status >= 200 && r.status < 300 && res[i].id[0]) {
            res[i].outcome = SA_CRM_DONE;
        } else {
            long long retry_at = 0;
            res[i].outcome = classify(rc, &r, &retry_at);
            res[i].retry_at = retry_at;
            char text[SA_CRM_ERROR_MAX - 40];
            if (rc)
                snprintf(text, sizeof text, "%s", err.msg);
            else
                sa_crm_error_text(r.status, r.body, text, sizeof text);
            snprintf(res[i].error, sizeof res[i].error, "hubspot contact: %s", text);
        }
        sa_conn_resp_free(&r);
        json_decref(body);
    }
}

/* Contacts upserted on e-mail: each result's id, or the batch's outcome. */
static void upsert_contacts(struct hubspot *h, json_t *const *props, int n,
                            struct sa_crm_result *res)
{
    json_t *inputs = json_array();
    for (int i = 0; i < n; i++) {
        const char *email = json_string_value(json_object_get(props[i], "email"));
        json_array_append_new(inputs, json_pack("{s:s, s:s, s:O}", "id", email ? email : "",
                                                "idProperty", "email", "properties", props[i]));
    }
    json_t *body = json_pack("{s:o}", "inputs", inputs), *answer = NULL;
    int status = 0;
    if (step(h, "contacts upsert", "/crm/v3/objects/contacts/batch/upsert", body, res, n, &answer,
             &status)) {
        for (int i = 0; i < n; i++) {
            const char *id =
                result_id(answer, "email", json_string_value(json_object_get(props[i], "email")));
            if (id) {
                res[i].outcome = SA_CRM_DONE;
                snprintf(res[i].id, sizeof res[i].id, "%s", id);
            } else {
                res[i].outcome = SA_CRM_FAIL;
                snprintf(res[i].error, sizeof res[i].error,
                         "hubspot contacts upsert: no result for this contact");
            }
        }
    } else if (status == 409) {
        contacts_one_by_one(h, props, n, res);
    }
    json_decref(body);
    json_decref(answer);
}

static int hs_upsert_leads(struct sa_crm *c, json_t *const *leads, int n, struct sa_crm_result *res)
{
    struct hubspot *h = (struct hubspot *)c;
    json_t *companies = NULL;
    if (!upsert_companies(h, leads, n, res, &companies))
        return 0;
    json_t **props = calloc((size_t)n, sizeof(json_t *));
    if (!props) {
        json_decref(companies);
        return SA_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        props[i] = sa_crm_properties(c, leads[i]);
        /* the identity property is always the e-mail, whatever the map says */
        json_object_set(props[i], "email", json_object_get(leads[i], "email"));
        stringify(props[i]);
    }
    upsert_contacts(h, props, n, res);
    json_t *inputs = json_array();
    for (int i = 0; i < n; i++) {
        const char *domain = json_string_value(json_object_get(leads[i], "domain"));
        const char *company = result_id(companies, "domain", domain);
        if (res[i].outcome != SA_CRM_DONE || !company)
            continue;
        json_t *in = assoc(ASSOC_CONTACT_COMPANY, company);
        json_object_set_new(in, "from", json_pack("{s:s}", "id", res[i].id));
        json_array_append_new(inputs, in);
    }
    for (int i = 0; i < n; i++)
        json_decref(props[i]);
    free(props);
    json_decref(companies);
    if (!json_array_size(inputs)) {
        json_decref(inputs);
        return 0;
    }
    /* the association is the last step: when it fails, the contacts are retried whole
     * (their upserts repeat harmlessly) */
    struct sa_crm_result *ares = calloc((size_t)n, sizeof *ares);
    if (!ares) {
        json_decref(inputs);
        return SA_ENOMEM;
    }
    json_t *body = json_pack("{s:o}", "inputs", inputs), *answer = NULL;
    if (!step(h, "associations", "/crm/v4/associations/contacts/companies/batch/create", body, ares,
              n, &answer, NULL))
        for (int i = 0; i < n; i++)
            if (res[i].outcome == SA_CRM_DONE) {
                char id[SA_CRM_ID_MAX];
                memcpy(id, res[i].id, sizeof id);
                res[i] = ares[i];
                memcpy(res[i].id, id, sizeof id);
            }
    json_decref(body);
    json_decref(answer);
    free(ares);
    return 0;
}

/* hs_note_body is HTML: the text escaped, line breaks kept. */
static char *note_html(const json_t *act)
{
    const char *type = json_string_value(json_object_get(act, "type"));
    const char *subject = json_string_value(json_object_get(act, "subject"));
    const char *text = json_string_value(json_object_get(act, "body"));
    const char *id = json_string_value(json_object_get(act, "activity_id"));
    const char *label = !type                          ? "Activity"
                        : strcmp(type, "email") == 0   ? "E-mail sent"
                        : strcmp(type, "meeting") == 0 ? "Meeting booked"
                        : strcmp(type, "reply") == 0   ? "Reply received"
                                                       : "Activity";
    size_t cap = 256 + (subject ? strlen(subject) * 6 : 0) + (text ? strlen(text) * 6 : 0);
    if (cap > 65536)
        cap = 65536; /* hs_note_body's limit */
    char *out = malloc(cap);
    if (!out)
        return NULL;
    size_t n = (size_t)snprintf(out, cap, "<p><strong>%s</strong>", label);
    const char *parts[] = {subject, text};
    for (int p = 0; p < 2; p++) {
        if (!parts[p])
            continue;
        const char *open = p ? "<p>" : ": ";
        size_t k = strlen(open);
        if (n + k + 16 < cap)
            n += (size_t)snprintf(out + n, cap - n, "%s", open);
        for (const char *s = parts[p]; *s && n + 16 < cap; s++) {
            const char *e = *s == '<'    ? "&lt;"
                            : *s == '>'  ? "&gt;"
                            : *s == '&'  ? "&amp;"
                            : *s == '\n' ? "<br>"
                                         : NULL;
            if (e)
                n += (size_t)snprintf(out + n, cap - n, "%s", e);
            else
                out[n++] = *s;
        }
        if (n + 5 < cap)
            n += (size_t)snprintf(out + n, cap - n, "</p>");
    }
    snprintf(out + n, cap - n, "<p>[sales-agent %s]</p>", id ? id : "");
    return out;
}

static int hs_add_activities(struct sa_crm *c, json_t *const *acts, int n,
                             struct sa_crm_result *res)
{
    struct hubspot *h = (struct hubspot *)c;
    json_t **props = calloc((size_t)n, sizeof(json_t *));
    if (!props)
        return SA_ENOMEM;
    for (int i = 0; i < n; i++)
        props[i] = json_pack("{s:O}", "email", json_object_get(acts[i], "email"));
    upsert_contacts(h, props, n, res);
    for (int i = 0; i < n; i++) {
        json_decref(props[i]);
        if (res[i].outcome != SA_CRM_DONE)
            continue;
        char contact[SA_CRM_ID_MAX];
        memcpy(contact, res[i].id, sizeof contact);
        char *html = note_html(acts[i]);
        const char *at = json_string_value(json_object_get(acts[i], "at"));
        char now[SA_ISO8601_LEN];
        sa_iso8601_now(now);
        json_t *body =
            json_pack("{s:{s:s, s:s?}, s:[o]}", "properties", "hs_timestamp", at ? at : now,
                      "hs_note_body", html, "associations", assoc(ASSOC_NOTE_CONTACT, contact));
        free(html);
        json_t *answer = NULL;
        memset(&res[i], 0, sizeof res[i]);
        if (step(h, "note", "/crm/v3/objects/notes", body, &res[i], 1, &answer, NULL)) {
            res[i].outcome = SA_CRM_DONE;
            snprintf(res[i].id, sizeof res[i].id, "%s",
                     json_string_value(json_object_get(answer, "id")) ?: "");
        }
        json_decref(answer);
        json_decref(body);
    }
    free(props);
    return 0;
}

static const struct sa_crm_ops hubspot_ops = {
    .name = "hubspot",
    .batch_max = HS_BATCH_MAX,
    .upsert_leads = hs_upsert_leads,
    .add_activities = hs_add_activities,
};

int sa_crm_hubspot_new(const struct sa_config *cfg, struct sa_crm **out, struct sa_err *err)
{
    *out = NULL;
    if (!cfg->hubspot_access_token || !*cfg->hubspot_access_token)
        return sa_err_set(err, SA_ECONFIG, "CRM_PROVIDER=hubspot needs HUBSPOT_ACCESS_TOKEN");
    struct hubspot *h = calloc(1, sizeof *h);
    if (!h)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    h->super.ops = &hubspot_ops;
    const char *base = cfg->hubspot_base_url ? cfg->hubspot_base_url : "https://api.hubapi.com";
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    if (n >= sizeof h->base || (size_t)snprintf(h->auth, sizeof h->auth, "Authorization: Bearer %s",
                                                cfg->hubspot_access_token) >= sizeof h->auth) {
        free(h);
        return sa_err_set(err, SA_ECONFIG, "HUBSPOT_BASE_URL or HUBSPOT_ACCESS_TOKEN too long");
    }
    memcpy(h->base, base, n);
    h->base[n] = '\0';
    *out = &h->super;
    return 0;
}
