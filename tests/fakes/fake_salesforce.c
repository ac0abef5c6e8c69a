/* The fake Salesforce org (see fake_salesforce.h). */
#include "fake_salesforce.h"

#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fake_http.h"

#define BODY_MAX ((size_t)8 << 20)
#define SUBS_MAX 25

struct fake_salesforce {
    struct fake_http *http; /* the server, the request log and the scripted faults */
    char id[256], secret[256], version[16], field[128];
    pthread_mutex_t lock;
    size_t tokens;
    char token[128]; /* the valid bearer token, "" before the first */
    json_t *leads;   /* [{Id, <field>, fields...}] */
    json_t *tasks;   /* [{Id, WhoId, Subject, ...}] */
    long next;
};

/* Records why a request is malformed (see fake_http_bad); false. */
#define bad(f, ...) fake_http_bad((f)->http, __VA_ARGS__)

static json_t *errors(const char *code, const char *message)
{
    return json_pack("[{s:s, s:s, s:[]}]", "message", message, "errorCode", code, "fields");
}

static void new_id(struct fake_salesforce *f, const char *prefix, char out[19])
{
    snprintf(out, 19, "%s5g000%010ld", prefix, ++f->next); /* 18 characters, like Salesforce */
}

/* Percent-decodes s (len bytes) into out. */
static void unpct(const char *s, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < cap; i++) {
        if (s[i] == '%' && i + 2 < len && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            char h[3] = {s[i + 1], s[i + 2], 0};
            out[n++] = (char)strtol(h, NULL, 16);
            i += 2;
        } else {
            out[n++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    out[n] = '\0';
}

/* A form field's decoded value. */
static bool form_value(const char *body, const char *name, char *out, size_t cap)
{
    size_t k = strlen(name);
    for (const char *p = body; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n > k && strncmp(p, name, k) == 0 && p[k] == '=') {
            unpct(p + k + 1, n - k - 1, out, cap);
            return true;
        }
        p = amp ? amp + 1 : NULL;
    }
    return false;
}

static int token(struct fake_salesforce *f, const char *ctype, const char *body, json_t **out)
{
    char grant[64], id[256], secret[256];
    if (!ctype || strncasecmp(ctype, "application/x-www-form-urlencoded", 33) != 0)
        return bad(f, "token: not a form"), 400;
    if (!form_value(body, "grant_type", grant, sizeof grant) ||
        strcmp(grant, "client_credentials") != 0 || !form_value(body, "client_id", id, sizeof id) ||
        !form_value(body, "client_secret", secret, sizeof secret))
        return bad(f, "token: grant_type=client_credentials, client_id, client_secret expected"),
               400;
    if (strcmp(id, f->id) != 0 || strcmp(secret, f->secret) != 0) {
        *out = json_pack("{s:s, s:s}", "error", "invalid_client", "error_description",
                         "invalid client credentials");
        return 400;
    }
    f->tokens++;
    snprintf(f->token, sizeof f->token, "00D5g000004Xq1R!AQ0AQtoken%zu", f->tokens);
    *out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "access_token", f->token, "instance_url",
                     fake_http_url(f->http), "id",
                     "https://login.salesforce.com/id/00D5g000004Xq1R/0055g00000A1", "token_type",
                     "Bearer", "issued_at", "1764752400000", "signature",
                     "bm90IGEgcmVhbCBzaWduYXR1cmU=");
    return 200;
}

static json_t *leads_with(struct fake_salesforce *f, const char *value)
{
    json_t *out = json_array();
    size_t i;
    json_t *l;
    json_array_foreach(f->leads, i, l)
    {
        const char *v = json_string_value(json_object_get(l, f->field));
        if (v && strcasecmp(v, value) == 0)
            json_array_append(out, l);
    }
    return out;
}

/* The external id of a Lead URL (…/sobjects/Lead/<field>/<value>), into value. */
static bool lead_url(struct fake_salesforce *f, const char *url, char *value, size_t cap)
{
    char prefix[256];
    snprintf(prefix, sizeof prefix, "/services/data/v%s/sobjects/Lead/%s/", f->version, f->field);
    size_t k = strlen(prefix);
    if (strncmp(url, prefix, k) != 0 || !url[k] || strchr(url + k, '/'))
        return false;
    if (strchr(url + k, '@'))
        return false; /* the value must be percent-encoded */
    unpct(url + k, strlen(url + k), value, cap);
    return true;
}

/* Resolves "@{ref.Field}" against earlier results. */
static const char *resolve(const json_t *results, const char *v)
{
    if (!v || strncmp(v, "@{", 2) != 0)
        return v;
    const char *dot = strchr(v, '.');
    const char *end = strchr(v, '}');
    if (!dot || !end || dot > end)
        return NULL;
    char ref[64], field[64];
    snprintf(ref, sizeof ref, "%.*s", (int)(dot - v - 2), v + 2);
    snprintf(field, sizeof field, "%.*s", (int)(end - dot - 1), dot + 1);
    const json_t *r = json_object_get(results, ref);
    if (!r || json_integer_value(json_object_get(r, "httpStatusCode")) >= 300)
        return NULL;
    const json_t *b = json_object_get(r, "body");
    const char *x = json_string_value(json_object_get(b, field));
    if (!x && strcmp(field, "Id") == 0)
        x = json_string_value(json_object_get(b, "id"));
    return x;
}

/* One subrequest (the lock held): its {body, httpHeaders, httpStatusCode, referenceId}. */
static json_t *sub(struct fake_salesforce *f, const json_t *s, json_t *results)
{
    const char *method = json_string_value(json_object_get(s, "method"));
    const char *url = json_string_value(json_object_get(s, "url"));
    const char *ref = json_string_value(json_object_get(s, "referenceId"));
    json_t *body = json_object_get(s, "body");
    int status = 200;
    json_t *out = NULL;
    char value[512], tasks[128];
    snprintf(tasks, sizeof tasks, "/services/data/v%s/sobjects/Task", f->version);
    /* a reference to a failed subrequest halts this one */
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v)
    {
        if (json_is_string(v) && strncmp(json_string_value(v), "@{", 2) == 0 &&
            !resolve(results, json_string_value(v))) {
            status = 400;
            out = errors("PROCESSING_HALTED",
                         "The transaction was rolled back since another operation in the same "
                         "transaction failed.");
            goto done;
        }
    }
    if (method && url && strcmp(method, "PATCH") == 0 && lead_url(f, url, value, sizeof value)) {
        if (!json_is_object(body) || json_object_get(body, "Id") ||
            json_object_get(body, f->field)) {
            bad(f, "Lead upsert: a body without Id and without the external id field expected");
            status = 400;
            out = errors("INVALID_FIELD", "bad body");
            goto done;
        }
        json_t *same = leads_with(f, value);
        if (json_array_size(same) > 1) {
            status = 300;
            out = json_array();
            size_t i;
            json_t *l;
            json_array_foreach(same, i, l)
            {
                char u[160];
                snprintf(u, sizeof u, "/services/data/v%s/sobjects/Lead/%s", f->version,
                         json_string_value(json_object_get(l, "Id")));
                json_array_append_new(out, json_string(u));
            }
        } else if (json_array_size(same) == 1) {
            json_t *l = json_array_get(same, 0);
            json_object_update(l, body);
            status = 200;
            out = json_pack("{s:O, s:b, s:[], s:b}", "id", json_object_get(l, "Id"), "success", 1,
                            "errors", "created", 0);
        } else if (!json_is_string(json_object_get(body, "LastName")) ||
                   !json_is_string(json_object_get(body, "Company"))) {
            status = 400;
            out = errors("REQUIRED_FIELD_MISSING",
                         "Required fields are missing: [LastName, Company]");
        } else {
            char id[19];
            new_id(f, "00Q", id);
            json_t *l = json_deep_copy(body);
            json_object_set_new(l, "Id", json_string(id));
            json_object_set_new(l, f->field, json_string(value));
            json_array_append_new(f->leads, l);
            status = 201;
            out =
                json_pack("{s:s, s:b, s:[], s:b}", "id", id, "success", 1, "errors", "created", 1);
        }
        json_decref(same);
    } else if (method && url && strcmp(method, "GET") == 0 &&
               lead_url(f, url, value, sizeof value)) {
        json_t *same = leads_with(f, value);
        if (json_array_size(same) == 1) {
            out = json_deep_copy(json_array_get(same, 0));
            json_object_set_new(out, "attributes", json_pack("{s:s}", "type", "Lead"));
        } else {
            status = json_array_size(same) ? 300 : 404;
            out = errors("NOT_FOUND", "The requested resource does not exist");
        }
        json_decref(same);
    } else if (method && url && strcmp(method, "POST") == 0 && strcmp(url, tasks) == 0) {
        const char *who = resolve(results, json_string_value(json_object_get(body, "WhoId")));
        bool found = false;
        size_t i;
        json_t *l;
        json_array_foreach(f->leads, i, l)
        {
            found |= who && strcmp(json_string_value(json_object_get(l, "Id")), who) == 0;
        }
        if (!found || !json_is_string(json_object_get(body, "Subject"))) {
            bad(f, "Task: WhoId must name an existing Lead, Subject is required");
            status = 400;
            out = errors("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id");
        } else {
            char id[19];
            new_id(f, "00T", id);
            json_t *t = json_deep_copy(body);
            json_object_set_new(t, "Id", json_string(id));
            json_object_set_new(t, "WhoId", json_string(who));
            json_array_append_new(f->tasks, t);
            status = 201;
            out = json_pack("{s:s, s:b, s:[]}", "id", id, "success", 1, "errors");
        }
    } else {
        bad(f, "composite: unexpected subrequest %s %s", method ? method : "?", url ? url : "?");
        status = 404;
        out = errors("NOT_FOUND", "The requested resource does not exist");
    }
done:;
    json_t *r = json_pack("{s:o, s:{}, s:i, s:s}", "body", out ? out : json_null(), "httpHeaders",
                          "httpStatusCode", status, "referenceId", ref ? ref : "");
    json_object_set(results, ref ? ref : "", r);
    return r;
}

static int composite(struct fake_salesforce *f, json_t *body, json_t **out)
{
    const json_t *subs = json_object_get(body, "compositeRequest");
    if (!json_is_boolean(json_object_get(body, "allOrNone")))
        return bad(f, "composite: allOrNone missing"), 400;
    if (!json_is_array(subs) || json_array_size(subs) == 0 || json_array_size(subs) > SUBS_MAX)
        return bad(f, "composite: 1 to 25 subrequests expected, got %zu", json_array_size(subs)),
               400;
    json_t *refs = json_object();
    size_t i;
    json_t *s;
    json_array_foreach((json_t *)subs, i, s)
    {
        const char *ref = json_string_value(json_object_get(s, "referenceId"));
        bool ok = ref && *ref &&
                  strspn(ref, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "0123456789_") == strlen(ref);
        if (!ok || json_object_get(refs, ref) || !json_is_string(json_object_get(s, "method")) ||
            !json_is_string(json_object_get(s, "url"))) {
            json_decref(refs);
            return bad(f, "composite: subrequest %zu needs method, url, a unique referenceId", i),
                   400;
        }
        json_object_set_new(refs, ref, json_true());
    }
    json_decref(refs);
    json_t *results = json_object(), *answers = json_array();
    json_array_foreach((json_t *)subs, i, s)
    {
        json_array_append_new(answers, sub(f, s, results));
    }
    json_decref(results);
    *out = json_pack("{s:o}", "compositeResponse", answers);
    return 200;
}

static enum MHD_Result send_json(struct MHD_Connection *conn, int status, json_t *body)
{
    return fake_http_json(conn, status, "application/json;charset=UTF-8", body, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const struct fake_http_request *req)
{
    struct fake_salesforce *f = cls;
    const char *url = req->url, *method = req->method;
    const char *ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    int kind = 0;
    long arg = 0;
    bool faulted = fake_http_take_fault(f->http, url, &kind, &arg);
    enum fake_sf_fault fault = (enum fake_sf_fault)kind;
    pthread_mutex_lock(&f->lock);
    json_t *out = NULL;
    int status;
    char composite_path[64];
    snprintf(composite_path, sizeof composite_path, "/services/data/v%s/composite", f->version);
    if (strcmp(method, "POST") == 0 && strcmp(url, "/services/oauth2/token") == 0) {
        status = token(f, ctype, req->body, &out);
        pthread_mutex_unlock(&f->lock);
        return send_json(conn, status, out);
    }
    if (strcmp(method, "POST") != 0 || strcmp(url, composite_path) != 0) {
        bad(f, "unknown endpoint %s %s", method, url);
        pthread_mutex_unlock(&f->lock);
        return send_json(conn, 404, errors("NOT_FOUND", "The requested resource does not exist"));
    }
    if (faulted && fault == FAKE_SF_401)
        f->token[0] = '\0'; /* the session expires */
    char want[160];
    snprintf(want, sizeof want, "Bearer %s", f->token);
    if (!auth || !f->token[0] || strcmp(auth, want) != 0) {
        if (!faulted || fault != FAKE_SF_401)
            bad(f, "composite: not the current bearer token");
        pthread_mutex_unlock(&f->lock);
        return send_json(conn, 401, errors("INVALID_SESSION_ID", "Session expired or invalid"));
    }
    json_t *body = json_loads(req->body, 0, NULL);
    if (!ctype || strncasecmp(ctype, "application/json", 16) != 0 || !json_is_object(body)) {
        bad(f, "composite: a JSON object sent as application/json expected");
        pthread_mutex_unlock(&f->lock);
        json_decref(body);
        return send_json(conn, 400, errors("JSON_PARSER_ERROR", "bad body"));
    }
    if (faulted && fault == FAKE_SF_500) {
        pthread_mutex_unlock(&f->lock);
        json_decref(body);
        return send_json(conn, 500, errors("UNKNOWN_EXCEPTION", "An unexpected error occurred."));
    }
    if (faulted && fault == FAKE_SF_LIMIT) {
        pthread_mutex_unlock(&f->lock);
        json_decref(body);
        return send_json(conn, 403,
                         errors("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."));
    }
    pthread_mutex_unlock(&f->lock);
    if (faulted && fault == FAKE_SF_HANG)
        fake_http_sleep_ms(f->http, arg);
    pthread_mutex_lock(&f->lock);
    status = composite(f, body, &out);
    if (!out)
        out = errors("INVALID_FIELD", "bad composite request");
    pthread_mutex_unlock(&f->lock);
    json_decref(body);
    return send_json(conn, status, out);
}

struct fake_salesforce *fake_salesforce_start(const char *client_id, const char *client_secret,
                                              const char *version, const char *field)
{
    struct fake_salesforce *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    pthread_mutex_init(&f->lock, NULL);
    snprintf(f->id, sizeof f->id, "%s", client_id);
    snprintf(f->secret, sizeof f->secret, "%s", client_secret);
    snprintf(f->version, sizeof f->version, "%s", version);
    snprintf(f->field, sizeof f->field, "%s", field);
    f->leads = json_array();
    f->tasks = json_array();
    f->http = fake_http_start(BODY_MAX, on_request, f);
    if (!f->http) {
        fake_salesforce_stop(f);
        return NULL;
    }
    return f;
}

void fake_salesforce_stop(struct fake_salesforce *f)
{
    if (!f)
        return;
    fake_http_stop(f->http);
    json_decref(f->leads);
    json_decref(f->tasks);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

const char *fake_salesforce_url(const struct fake_salesforce *f)
{
    return fake_http_url(f->http);
}

void fake_salesforce_fault(struct fake_salesforce *f, const char *path, enum fake_sf_fault fault,
                           int times, long arg)
{
    fake_http_fault(f->http, path, (int)fault, times, arg);
}

size_t fake_salesforce_requests(struct fake_salesforce *f, const char *path)
{
    return fake_http_requests(f->http, path);
}

size_t fake_salesforce_tokens(struct fake_salesforce *f)
{
    pthread_mutex_lock(&f->lock);
    size_t n = f->tokens;
    pthread_mutex_unlock(&f->lock);
    return n;
}

size_t fake_salesforce_invalid(struct fake_salesforce *f, const char **first)
{
    return fake_http_invalid(f->http, first);
}

size_t fake_salesforce_count(struct fake_salesforce *f, const char *what)
{
    pthread_mutex_lock(&f->lock);
    size_t n = strcmp(what, "leads") == 0   ? json_array_size(f->leads)
               : strcmp(what, "tasks") == 0 ? json_array_size(f->tasks)
                                            : 0;
    pthread_mutex_unlock(&f->lock);
    return n;
}

json_t *fake_salesforce_leads(struct fake_salesforce *f, const char *value)
{
    pthread_mutex_lock(&f->lock);
    json_t *same = leads_with(f, value);
    json_t *r = json_deep_copy(same);
    json_decref(same);
    pthread_mutex_unlock(&f->lock);
    return r;
}

json_t *fake_salesforce_tasks(struct fake_salesforce *f)
{
    pthread_mutex_lock(&f->lock);
    json_t *r = json_deep_copy(f->tasks);
    pthread_mutex_unlock(&f->lock);
    return r;
}

void fake_salesforce_seed_lead(struct fake_salesforce *f, const char *value)
{
    pthread_mutex_lock(&f->lock);
    char id[19];
    new_id(f, "00Q", id);
    json_array_append_new(f->leads, json_pack("{s:s, s:s, s:s, s:s}", "Id", id, f->field, value,
                                              "LastName", "Seeded", "Company", "Seeded"));
    pthread_mutex_unlock(&f->lock);
}
