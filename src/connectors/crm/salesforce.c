/* The Salesforce backend of the CRM slot (crm.h): REST API with an OAuth 2.0
 * client-credentials token from the org's My Domain host (wire-formats.md §5).
 *
 * A lead is upserted on an External ID field of Lead (SALESFORCE_EXTERNAL_ID_FIELD, our
 * contact e-mail): PATCH /sobjects/Lead/{Field}/{value}; 201 created, 200/204 updated, and
 * 300 when several Leads hold that value: that item fails naming the matches, nothing is
 * guessed. Batches go as one composite request (allOrNone false, at most 25 subrequests,
 * one API call); the top level answers 200 even when a subrequest failed, so each
 * subrequest's own status is read. An activity is a completed Task on the Lead: a GET of
 * the Lead by its external id and a POST of the Task with WhoId "@{ref.Id}" in the same
 * composite (12 activities a request).
 *
 * The token is asked for at the first call and again once when a call answers 401
 * INVALID_SESSION_ID. REQUEST_LIMIT_EXCEEDED (403: the org's rolling 24-hour API limit) is a
 * rate limit: the items are deferred an hour, not failed. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/config.h"
#include "connectors/crm/crm.h"
#include "connectors/http.h"

#define SF_COMPOSITE_MAX 25
#define LIMIT_DEFER_SECONDS 3600
#define BREAKER_DEFER_SECONDS 60

struct salesforce {
    struct sa_crm super;
    char login[512];
    char client_id[256];
    char secret[256];     /* never logged */
    char version[16];     /* "62.0" */
    char field[128];      /* the external id field */
    pthread_mutex_t lock; /* guards the token */
    char auth[2048];      /* "Authorization: Bearer ..." or "" before the first token */
    char instance[512];
};

/* Percent-encodes s (RFC 3986 unreserved kept) into out. */
static void pct(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (; s && *s && n + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    out[n] = '\0';
}

/* Asks for a token (client credentials); 0, or an outcome for the items. */
static int fetch_token(struct salesforce *s, char *error, size_t cap)
{
    char url[600], id[768], secret[768], body[1700];
    snprintf(url, sizeof url, "%s/services/oauth2/token", s->login);
    pct(s->client_id, id, sizeof id);
    pct(s->secret, secret, sizeof secret);
    snprintf(body, sizeof body, "grant_type=client_credentials&client_id=%s&client_secret=%s", id,
             secret);
    const char *headers[] = {"Content-Type: application/x-www-form-urlencoded",
                             "Accept: application/json", NULL};
    struct sa_conn_req req = {
        .method = "POST", .url = url, .headers = headers, .body = body, .body_len = strlen(body)};
    struct sa_conn_resp r = {0};
    struct sa_err err = {0};
    int rc = sa_conn_http_do(s->super.http, &req, &r, &err);
    json_t *j = !rc && r.status == 200 ? json_loads(r.body, 0, NULL) : NULL;
    const char *token = json_string_value(json_object_get(j, "access_token"));
    const char *inst = json_string_value(json_object_get(j, "instance_url"));
    int out = 0;
    if (token && inst) {
        pthread_mutex_lock(&s->lock);
        snprintf(s->auth, sizeof s->auth, "Authorization: Bearer %s", token);
        snprintf(s->instance, sizeof s->instance, "%s", inst);
        pthread_mutex_unlock(&s->lock);
    } else {
        /* the token endpoint's error ({error, error_description}) never holds the secret */
        json_t *e = json_loads(r.body ? r.body : "", 0, NULL);
        snprintf(error, cap, "salesforce token: %s %s",
                 rc ? err.msg : json_string_value(json_object_get(e, "error")) ?: "no token",
                 json_string_value(json_object_get(e, "error_description")) ?: "");
        json_decref(e);
        /* down, or credentials to fix: the items wait (5 attempts); while the breaker is
         * open nothing was tried, and the items wait without using one up */
        out = r.breaker_open ? SA_CRM_DEFER : SA_CRM_RETRY;
    }
    json_decref(j);
    sa_conn_resp_free(&r);
    return out;
}

/* The answer's first errorCode (Salesforce's [{message, errorCode}]), or "". */
static const char *error_code(const json_t *body)
{
    const char *c = json_string_value(json_object_get(json_array_get(body, 0), "errorCode"));
    return c ? c : "";
}

/* POSTs the composite request; on 401 INVALID_SESSION_ID asks for a new token once and
 * sends it again. Returns 0 with *answer (compositeResponse's array, new reference), or
 * the items' outcome with error filled (and *retry_at for a deferral). */
static int composite(struct salesforce *s, json_t *subs, json_t **answer, char *error, size_t cap,
                     long long *retry_at)
{
    *answer = NULL;
    if (!s->auth[0]) {
        int o = fetch_token(s, error, cap);
        if (o)
            return o;
    }
    json_t *body = json_pack("{s:b, s:O}", "allOrNone", 0, "compositeRequest", subs);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text) {
        snprintf(error, cap, "out of memory");
        return SA_CRM_RETRY;
    }
    int out = SA_CRM_RETRY;
    for (int round = 0; round < 2; round++) {
        char url[700], auth[sizeof s->auth];
        pthread_mutex_lock(&s->lock);
        snprintf(url, sizeof url, "%s/services/data/v%s/composite", s->instance, s->version);
        memcpy(auth, s->auth, sizeof auth);
        pthread_mutex_unlock(&s->lock);
        const char *headers[] = {auth, "Content-Type: application/json", "Accept: application/json",
                                 NULL};
        struct sa_conn_req req = {.method = "POST",
                                  .url = url,
                                  .headers = headers,
                                  .body = text,
                                  .body_len = strlen(text)};
        struct sa_conn_resp r = {0};
        struct sa_err err = {0};
        int rc = sa_conn_http_do(s->super.http, &req, &r, &err);
        json_t *j = rc ? NULL : json_loads(r.body, 0, NULL);
        if (!rc && r.status == 200 && json_is_array(json_object_get(j, "compositeResponse"))) {
            *answer = json_incref(json_object_get(j, "compositeResponse"));
            out = 0;
        } else if (!rc && r.status == 401 && round == 0 &&
                   strcmp(error_code(j), "INVALID_SESSION_ID") == 0) {
            out = fetch_token(s, error, cap);
            json_decref(j);
            sa_conn_resp_free(&r);
            if (out)
                break;
            continue; /* once, with the new token */
        } else if (!rc && r.status == 403 && strcmp(error_code(j), "REQUEST_LIMIT_EXCEEDED") == 0) {
            *retry_at = (long long)sa_wall_seconds() + LIMIT_DEFER_SECONDS;
            sa_crm_error_text(r.status, r.body, error, cap);
            out = SA_CRM_DEFER;
        } else if (rc && r.breaker_open) { /* Salesforce is down: wait for the breaker */
            *retry_at = (long long)sa_wall_seconds() + BREAKER_DEFER_SECONDS;
            snprintf(error, cap, "salesforce: %s", err.msg);
            out = SA_CRM_DEFER;
        } else {
            if (rc)
                snprintf(error, cap, "salesforce: %s", err.msg);
            else
                sa_crm_error_text(r.status, r.body, error, cap);
            out = rc || r.status >= 500 || r.status == 401 || r.status == 403 ? SA_CRM_RETRY
                                                                              : SA_CRM_FAIL;
        }
        json_decref(j);
        sa_conn_resp_free(&r);
        break;
    }
    free(text);
    return out;
}

/* The subrequest answer with referenceId ref. */
static const json_t *sub_answer(const json_t *answer, const char *ref)
{
    size_t i;
    json_t *a;
    json_array_foreach((json_t *)answer, i, a)
    {
        const char *r = json_string_value(json_object_get(a, "referenceId"));
        if (r && strcmp(r, ref) == 0)
            return a;
    }
    return NULL;
}

/* One subrequest's result into res. */
static void read_sub(const json_t *a, struct sa_crm_result *res, const char *id_key)
{
    int status = (int)json_integer_value(json_object_get(a, "httpStatusCode"));
    const json_t *body = json_object_get(a, "body");
    if (!a) {
        res->outcome = SA_CRM_RETRY;
        snprintf(res->error, sizeof res->error, "salesforce: no answer for this item");
    } else if (status >= 200 && status < 300) {
        res->outcome = SA_CRM_DONE;
        snprintf(res->id, sizeof res->id, "%s",
                 json_string_value(json_object_get(body, id_key)) ?: "");
    } else if (status == 300) { /* several records hold the external id: report, not guess */
        char ids[SA_CRM_ERROR_MAX - 80] = "";
        size_t n = 0, i;
        json_t *u;
        json_array_foreach((json_t *)body, i, u)
        {
            const char *url = json_string_value(u);
            const char *slash = url ? strrchr(url, '/') : NULL;
            if (slash && n + strlen(slash) + 2 < sizeof ids)
                n += (size_t)snprintf(ids + n, sizeof ids - n, "%s%s", n ? ", " : "", slash + 1);
        }
        res->outcome = SA_CRM_FAIL;
        snprintf(res->error, sizeof res->error,
                 "salesforce: several Leads match this external id (HTTP 300): %s", ids);
    } else {
        const char *code = error_code(body);
        char *text = json_dumps(body, JSON_COMPACT);
        sa_crm_error_text(status, text, res->error, sizeof res->error);
        free(text);
        if (strcmp(code, "REQUEST_LIMIT_EXCEEDED") == 0) {
            res->outcome = SA_CRM_DEFER;
            res->retry_at = (long long)sa_wall_seconds() + LIMIT_DEFER_SECONDS;
        } else if (status >= 500 || strcmp(code, "PROCESSING_HALTED") == 0 ||
                   strcmp(code, "UNABLE_TO_LOCK_ROW") == 0 || strcmp(code, "NOT_FOUND") == 0) {
            res->outcome = SA_CRM_RETRY; /* NOT_FOUND: the Lead's push may still be queued */
        } else {
            res->outcome = SA_CRM_FAIL;
        }
    }
}

static void fail_all(struct sa_crm_result *res, int n, int outcome, const char *error,
                     long long retry_at)
{
    for (int i = 0; i < n; i++) {
        res[i].outcome = (enum sa_crm_outcome)outcome;
        res[i].retry_at = retry_at;
        snprintf(res[i].error, sizeof res[i].error, "%s", error);
    }
}

static void lead_path(const struct salesforce *s, const char *email, char *out, size_t cap)
{
    char v[600];
    pct(email, v, sizeof v);
    snprintf(out, cap, "/services/data/v%s/sobjects/Lead/%s/%s", s->version, s->field, v);
}

static int sf_upsert_leads(struct sa_crm *c, json_t *const *leads, int n, struct sa_crm_result *res)
{
    struct salesforce *s = (struct salesforce *)c;
    json_t *subs = json_array();
    for (int i = 0; i < n; i++) {
        const char *email = json_string_value(json_object_get(leads[i], "email"));
        char path[900], ref[32];
        lead_path(s, email, path, sizeof path);
        snprintf(ref, sizeof ref, "lead%d", i);
        json_t *fields = sa_crm_properties(c, leads[i]);
        json_object_del(fields, s->field); /* the URL names it */
        /* a Lead needs LastName and Company: Salesforce's own placeholder when unknown */
        if (!json_object_get(fields, "LastName"))
            json_object_set_new(fields, "LastName", json_string("[not provided]"));
        if (!json_object_get(fields, "Company"))
            json_object_set_new(fields, "Company", json_string("[not provided]"));
        json_array_append_new(subs, json_pack("{s:s, s:s, s:s, s:o}", "method", "PATCH", "url",
                                              path, "referenceId", ref, "body", fields));
    }
    json_t *answer = NULL;
    char error[SA_CRM_ERROR_MAX];
    long long retry_at = 0;
    int o = composite(s, subs, &answer, error, sizeof error, &retry_at);
    json_decref(subs);
    if (o) {
        fail_all(res, n, o, error, retry_at);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        char ref[32];
        snprintf(ref, sizeof ref, "lead%d", i);
        read_sub(sub_answer(answer, ref), &res[i], "id");
    }
    json_decref(answer);
    return 0;
}

static int sf_add_activities(struct sa_crm *c, json_t *const *acts, int n,
                             struct sa_crm_result *res)
{
    struct salesforce *s = (struct salesforce *)c;
    const int per = SF_COMPOSITE_MAX / 2; /* two subrequests an activity */
    for (int off = 0; off < n; off += per) {
        int k = n - off < per ? n - off : per;
        json_t *subs = json_array();
        for (int i = off; i < off + k; i++) {
            const json_t *a = acts[i];
            char path[900], ref[32], who[48], tasks[64];
            lead_path(s, json_string_value(json_object_get(a, "email")), path, sizeof path);
            snprintf(ref, sizeof ref, "who%d", i);
            snprintf(who, sizeof who, "@{who%d.Id}", i);
            snprintf(tasks, sizeof tasks, "/services/data/v%s/sobjects/Task", s->version);
            const char *at = json_string_value(json_object_get(a, "at"));
            char day[11] = "";
            if (at && strlen(at) >= 10)
                memcpy(day, at, 10);
            const char *type = json_string_value(json_object_get(a, "type"));
            const char *subject = json_string_value(json_object_get(a, "subject"));
            char subj[256];
            snprintf(subj, sizeof subj, "%s%s%s",
                     type && !strcmp(type, "email")     ? "Email: "
                     : type && !strcmp(type, "meeting") ? "Meeting: "
                                                        : "Reply: ",
                     subject ? subject : "", "");
            char desc[32000];
            snprintf(desc, sizeof desc, "%s\n\n[sales-agent %s]",
                     json_string_value(json_object_get(a, "body")) ?: "",
                     json_string_value(json_object_get(a, "activity_id")) ?: "");
            json_array_append_new(subs, json_pack("{s:s, s:s, s:s}", "method", "GET", "url", path,
                                                  "referenceId", ref));
            snprintf(ref, sizeof ref, "task%d", i);
            json_array_append_new(subs, json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s?}}",
                                                  "method", "POST", "url", tasks, "referenceId",
                                                  ref, "body", "WhoId", who, "Subject", subj,
                                                  "Description", desc, "Status", "Completed",
                                                  "ActivityDate", day[0] ? day : NULL));
        }
        json_t *answer = NULL;
        char error[SA_CRM_ERROR_MAX];
        long long retry_at = 0;
        int o = composite(s, subs, &answer, error, sizeof error, &retry_at);
        json_decref(subs);
        if (o) {
            fail_all(res + off, k, o, error, retry_at);
            continue;
        }
        for (int i = off; i < off + k; i++) {
            char ref[32];
            snprintf(ref, sizeof ref, "who%d", i);
            const json_t *w = sub_answer(answer, ref);
            int ws = (int)json_integer_value(json_object_get(w, "httpStatusCode"));
            snprintf(ref, sizeof ref, "task%d", i);
            /* the Lead's look-up failing explains the Task's PROCESSING_HALTED */
            read_sub(ws >= 200 && ws < 300 ? sub_answer(answer, ref) : w, &res[i], "id");
        }
        json_decref(answer);
    }
    return 0;
}

static void sf_destroy(struct sa_crm *c)
{
    struct salesforce *s = (struct salesforce *)c;
    pthread_mutex_destroy(&s->lock);
}

static const struct sa_crm_ops salesforce_ops = {
    .name = "salesforce",
    .batch_max = SF_COMPOSITE_MAX,
    .upsert_leads = sf_upsert_leads,
    .add_activities = sf_add_activities,
    .destroy = sf_destroy,
};

static int copy(char *dst, size_t cap, const char *src)
{
    return !src || !*src || (size_t)snprintf(dst, cap, "%s", src) >= cap;
}

int sa_crm_salesforce_new(const struct sa_config *cfg, struct sa_crm **out, struct sa_err *err)
{
    *out = NULL;
    struct salesforce *s = calloc(1, sizeof *s);
    if (!s)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    const char *missing =
        copy(s->login, sizeof s->login, cfg->salesforce_login_url) ? "SALESFORCE_LOGIN_URL"
        : copy(s->client_id, sizeof s->client_id, cfg->salesforce_client_id)
            ? "SALESFORCE_CLIENT_ID"
        : copy(s->secret, sizeof s->secret, cfg->salesforce_client_secret)
            ? "SALESFORCE_CLIENT_SECRET"
        : copy(s->version, sizeof s->version,
               cfg->salesforce_api_version ? cfg->salesforce_api_version : "62.0")
            ? "SALESFORCE_API_VERSION"
        : copy(s->field, sizeof s->field,
               cfg->salesforce_external_id_field ? cfg->salesforce_external_id_field : "Email__c")
            ? "SALESFORCE_EXTERNAL_ID_FIELD"
            : NULL;
    if (missing) {
        free(s);
        return sa_err_set(err, SA_ECONFIG, "CRM_PROVIDER=salesforce needs %s", missing);
    }
    size_t n = strlen(s->login);
    while (n && s->login[n - 1] == '/')
        s->login[--n] = '\0';
    pthread_mutex_init(&s->lock, NULL);
    s->super.ops = &salesforce_ops;
    *out = &s->super;
    return 0;
}
