/* The fake HubSpot CRM API (see fake_hubspot.h). */
#include "fake_hubspot.h"

#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fake_http.h"

#define BODY_MAX ((size_t)8 << 20)
#define BATCH_MAX 100
#define NOTE_BODY_MAX 65536

struct fake_hubspot {
    struct fake_http *http; /* the server, the request log and the scripted faults */
    char auth[512];
    pthread_mutex_t lock;
    size_t max_batch;
    json_t *contacts;  /* id -> {id, properties} */
    json_t *companies; /* id -> {id, properties} */
    json_t *assocs;    /* "contact:company" -> true */
    json_t *notes;     /* [{id, properties, contact}] */
    json_t *index;     /* "email:<lowercase>" / "domain:<lowercase>" -> record (borrowed) */
    long next_id;
    char seeded[32];
};

/* Records why a request is malformed (see fake_http_bad); false. */
#define bad(f, ...) fake_http_bad((f)->http, __VA_ARGS__)

static void now_iso(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

static void index_key(const char *prop, const char *value, char *key, size_t cap)
{
    size_t n = (size_t)snprintf(key, cap, "%s:", prop);
    for (const char *v = value; *v && n + 1 < cap; v++)
        key[n++] = (char)tolower((unsigned char)*v);
    key[n] = '\0';
}

/* The record whose prop (email, domain) is value, ASCII case ignored. */
static json_t *record_of(struct fake_hubspot *f, const char *prop, const char *value)
{
    if (!value)
        return NULL;
    char key[512];
    index_key(prop, value, key, sizeof key);
    return json_object_get(f->index, key);
}

static void index_record(struct fake_hubspot *f, json_t *r)
{
    static const char *const props[] = {"email", "domain"};
    for (int i = 0; i < 2; i++) {
        const char *v =
            json_string_value(json_object_get(json_object_get(r, "properties"), props[i]));
        if (v) {
            char key[512];
            index_key(props[i], v, key, sizeof key);
            json_object_set(f->index, key, r); /* a reference: freed with the index */
        }
    }
}

static json_t *new_record(struct fake_hubspot *f, json_t *by_id, json_t *props)
{
    char id[32], at[32];
    snprintf(id, sizeof id, "%ld", ++f->next_id);
    now_iso(at);
    json_t *r = json_pack("{s:s, s:O, s:s, s:s}", "id", id, "properties", props, "createdAt", at,
                          "updatedAt", at);
    json_object_set_new(by_id, id, r);
    index_record(f, r);
    return r;
}

static void merge_props(json_t *r, json_t *props)
{
    json_object_update(json_object_get(r, "properties"), props);
    char at[32];
    now_iso(at);
    json_object_set_new(r, "updatedAt", json_string(at));
}

/* Properties: an object of strings (HubSpot's values are strings). */
static bool check_props(struct fake_hubspot *f, const json_t *props, const char *where)
{
    if (!json_is_object(props))
        return bad(f, "%s: properties is not an object", where);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)props, k, v)
    {
        if (!json_is_string(v))
            return bad(f, "%s: property %s is not a string", where, k);
    }
    return true;
}

static bool check_inputs(struct fake_hubspot *f, const json_t *body, const char *where)
{
    const json_t *in = json_object_get(body, "inputs");
    if (!json_is_array(in) || json_array_size(in) == 0)
        return bad(f, "%s: inputs missing or empty", where);
    if (json_array_size(in) > BATCH_MAX)
        return bad(f, "%s: %zu inputs, over %d", where, json_array_size(in), BATCH_MAX);
    if (json_array_size(in) > f->max_batch)
        f->max_batch = json_array_size(in);
    return true;
}

static bool is_email(const char *s)
{
    const char *at = s ? strchr(s, '@') : NULL;
    return at && at > s && strchr(at, '.') && !strchr(s, ' ');
}

/* POST .../{contacts,companies}/batch/upsert */
static int batch_upsert(struct fake_hubspot *f, json_t *body, bool contacts, json_t **out)
{
    const char *where = contacts ? "contacts/batch/upsert" : "companies/batch/upsert";
    const char *idprop = contacts ? "email" : "domain";
    if (!check_inputs(f, body, where))
        return 400;
    json_t *by_id = contacts ? f->contacts : f->companies;
    size_t i;
    json_t *in;
    json_array_foreach(json_object_get(body, "inputs"), i, in)
    {
        const char *id = json_string_value(json_object_get(in, "id"));
        const char *ip = json_string_value(json_object_get(in, "idProperty"));
        json_t *props = json_object_get(in, "properties");
        if (!id || !*id || !ip || strcmp(ip, idprop) != 0)
            return bad(f, "%s: input %zu needs id and idProperty %s", where, i, idprop), 400;
        if (contacts && !is_email(id))
            return bad(f, "%s: id %s is not an e-mail", where, id), 400;
        if (!check_props(f, props, where))
            return 400;
        const char *same = json_string_value(json_object_get(props, idprop));
        if (same && strcasecmp(same, id) != 0)
            return bad(f, "%s: properties.%s differs from id", where, idprop), 400;
    }
    json_t *results = json_array();
    json_array_foreach(json_object_get(body, "inputs"), i, in)
    {
        const char *id = json_string_value(json_object_get(in, "id"));
        json_t *props = json_deep_copy(json_object_get(in, "properties"));
        json_object_set_new(props, idprop, json_string(id));
        json_t *r = record_of(f, idprop, id);
        bool created = !r;
        if (r)
            merge_props(r, props);
        else
            r = new_record(f, by_id, props);
        json_decref(props);
        json_t *res = json_deep_copy(r);
        json_object_set_new(res, "new", json_boolean(created));
        json_array_append_new(results, res);
    }
    char at[32];
    now_iso(at);
    *out = json_pack("{s:s, s:o, s:s, s:s}", "status", "COMPLETE", "results", results, "startedAt",
                     at, "completedAt", at);
    return 200;
}

static bool check_types(struct fake_hubspot *f, const json_t *types, int type, const char *where)
{
    const json_t *t = json_array_get(types, 0);
    if (json_array_size(types) != 1 ||
        strcmp(json_string_value(json_object_get(t, "associationCategory")) ?: "",
               "HUBSPOT_DEFINED") != 0 ||
        json_integer_value(json_object_get(t, "associationTypeId")) != type)
        return bad(f, "%s: types must be [{HUBSPOT_DEFINED, %d}]", where, type);
    return true;
}

/* POST /crm/v4/associations/contacts/companies/batch/create */
static int assoc_create(struct fake_hubspot *f, json_t *body, json_t **out)
{
    const char *where = "associations batch/create";
    if (!check_inputs(f, body, where))
        return 400;
    size_t i;
    json_t *in;
    json_t *results = json_array();
    json_array_foreach(json_object_get(body, "inputs"), i, in)
    {
        const char *from = json_string_value(json_object_get(json_object_get(in, "from"), "id"));
        const char *to = json_string_value(json_object_get(json_object_get(in, "to"), "id"));
        if (!from || !to || !json_object_get(f->contacts, from) ||
            !json_object_get(f->companies, to)) {
            json_decref(results);
            return bad(f, "%s: input %zu: from/to must be an existing contact/company", where, i),
                   400;
        }
        if (!check_types(f, json_object_get(in, "types"), 279, where)) {
            json_decref(results);
            return 400;
        }
        char key[80];
        snprintf(key, sizeof key, "%s:%s", from, to);
        json_object_set_new(f->assocs, key, json_true());
        json_array_append_new(results, json_pack("{s:s, s:s, s:s, s:s, s:[]}", "fromObjectTypeId",
                                                 "0-1", "fromObjectId", from, "toObjectTypeId",
                                                 "0-2", "toObjectId", to, "labels"));
    }
    char at[32];
    now_iso(at);
    *out = json_pack("{s:s, s:o, s:s, s:s}", "status", "COMPLETE", "results", results, "startedAt",
                     at, "completedAt", at);
    return 201;
}

static bool iso_or_ms(const char *s)
{
    if (!s || !*s)
        return false;
    if (strspn(s, "0123456789") == strlen(s))
        return true;
    return strlen(s) >= 20 && isdigit((unsigned char)s[0]) && s[4] == '-' && s[10] == 'T';
}

/* POST /crm/v3/objects/notes */
static int note_create(struct fake_hubspot *f, json_t *body, json_t **out)
{
    const char *where = "notes";
    json_t *props = json_object_get(body, "properties");
    if (!check_props(f, props, where))
        return 400;
    if (!iso_or_ms(json_string_value(json_object_get(props, "hs_timestamp"))))
        return bad(f, "notes: hs_timestamp missing or not ISO 8601/ms"), 400;
    const char *text = json_string_value(json_object_get(props, "hs_note_body"));
    if (text && strlen(text) > NOTE_BODY_MAX)
        return bad(f, "notes: hs_note_body over 65,536 characters"), 400;
    const json_t *as = json_object_get(body, "associations");
    const json_t *a0 = json_array_get(as, 0);
    const char *to = json_string_value(json_object_get(json_object_get(a0, "to"), "id"));
    if (json_array_size(as) != 1 || !to || !json_object_get(f->contacts, to))
        return bad(f, "notes: one association to an existing contact expected"), 400;
    if (!check_types(f, json_object_get(a0, "types"), 202, where))
        return 400;
    char id[32], at[32];
    snprintf(id, sizeof id, "%ld", ++f->next_id);
    now_iso(at);
    json_t *n = json_pack("{s:s, s:O, s:s, s:s, s:s}", "id", id, "properties", props, "contact", to,
                          "createdAt", at, "updatedAt", at);
    json_array_append(f->notes, n);
    *out = n;
    return 201;
}

static json_t *error_body(const char *message, const char *category)
{
    return json_pack("{s:s, s:s, s:s, s:s}", "status", "error", "message", message, "correlationId",
                     "aeb5f871-7f07-4993-9211-075dc63e7cbf", "category", category);
}

/* POST /crm/v3/objects/contacts and PATCH /crm/v3/objects/contacts/{id} */
static int contact_write(struct fake_hubspot *f, const char *method, const char *id, json_t *body,
                         json_t **out)
{
    json_t *props = json_object_get(body, "properties");
    if (!check_props(f, props, "contacts"))
        return 400;
    if (strcmp(method, "PATCH") == 0) {
        json_t *r = id ? json_object_get(f->contacts, id) : NULL;
        if (!r) {
            *out = error_body("resource not found", "OBJECT_NOT_FOUND");
            return 404;
        }
        json_t *p = json_deep_copy(props);
        json_object_del(p, "email"); /* the e-mail of an existing contact is kept */
        merge_props(r, p);
        json_decref(p);
        *out = json_incref(r);
        return 200;
    }
    const char *email = json_string_value(json_object_get(props, "email"));
    if (!is_email(email))
        return bad(f, "contacts: create without properties.email"), 400;
    json_t *r = record_of(f, "email", email);
    if (r) {
        char msg[96];
        snprintf(msg, sizeof msg, "Contact already exists. Existing ID: %s",
                 json_string_value(json_object_get(r, "id")));
        *out = error_body(msg, "CONFLICT");
        return 409;
    }
    *out = json_incref(new_record(f, f->contacts, props));
    return 201;
}

/* The request's answer (the lock held): status and *out. */
static int route(struct fake_hubspot *f, const char *method, const char *url, json_t *body,
                 json_t **out)
{
    bool post = strcmp(method, "POST") == 0;
    if (post && strcmp(url, "/crm/v3/objects/contacts/batch/upsert") == 0)
        return batch_upsert(f, body, true, out);
    if (post && strcmp(url, "/crm/v3/objects/companies/batch/upsert") == 0)
        return batch_upsert(f, body, false, out);
    if (post && strcmp(url, "/crm/v4/associations/contacts/companies/batch/create") == 0)
        return assoc_create(f, body, out);
    if (post && strcmp(url, "/crm/v3/objects/notes") == 0)
        return note_create(f, body, out);
    if (post && strcmp(url, "/crm/v3/objects/contacts") == 0)
        return contact_write(f, method, NULL, body, out);
    if (strcmp(method, "PATCH") == 0 && strncmp(url, "/crm/v3/objects/contacts/", 25) == 0)
        return contact_write(f, method, url + 25, body, out);
    bad(f, "unknown endpoint %s %s", method, url);
    *out = error_body("not found", "OBJECT_NOT_FOUND");
    return 404;
}

static enum MHD_Result send_json(struct MHD_Connection *conn, int status, json_t *body,
                                 const char *const *headers)
{
    return fake_http_json(conn, status, "application/json;charset=utf-8", body, headers);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const struct fake_http_request *req)
{
    struct fake_hubspot *f = cls;
    const char *url = req->url, *method = req->method;
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    const char *ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    json_t *body = json_loads(req->body, 0, NULL);
    int kind = 0;
    long arg = 0;
    bool faulted = fake_http_take_fault(f->http, url, &kind, &arg);
    enum fake_hs_fault fault = (enum fake_hs_fault)kind;
    pthread_mutex_lock(&f->lock);
    if (!auth || strcmp(auth, f->auth) != 0) {
        bad(f, "%s: missing or wrong bearer token", url);
        pthread_mutex_unlock(&f->lock);
        json_decref(body);
        return send_json(
            conn, 401,
            error_body("Authentication credentials not found.", "INVALID_AUTHENTICATION"), NULL);
    }
    if (!ctype || strncasecmp(ctype, "application/json", 16) != 0 || !json_is_object(body)) {
        bad(f, "%s: the body must be a JSON object sent as application/json", url);
        pthread_mutex_unlock(&f->lock);
        json_decref(body);
        return send_json(conn, 400, error_body("Invalid input JSON", "VALIDATION_ERROR"), NULL);
    }
    if (faulted && fault != FAKE_HS_HANG) {
        pthread_mutex_unlock(&f->lock);
        json_decref(body);
        switch (fault) {
        case FAKE_HS_500:
            return send_json(conn, 500, error_body("internal error", "INTERNAL_ERROR"), NULL);
        case FAKE_HS_409: {
            char msg[96];
            snprintf(msg, sizeof msg, "Contact already exists. Existing ID: %ld", arg);
            return send_json(conn, 409, error_body(msg, "CONFLICT"), NULL);
        }
        case FAKE_HS_429_ROLLING:
        case FAKE_HS_429_DAILY: {
            bool daily = fault == FAKE_HS_429_DAILY;
            static const char *const interval[] = {
                "X-HubSpot-RateLimit-Interval-Milliseconds: 10000", NULL};
            json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:s}", "status", "error", "message",
                                  daily ? "You have reached your daily limit."
                                        : "You have reached your ten_secondly_rolling limit.",
                                  "errorType", "RATE_LIMIT", "correlationId",
                                  "0b2b9f2c-4e5e-4b1e-9a3a-3f1f2a1b7c9d", "policyName",
                                  daily ? "DAILY" : "TEN_SECONDLY_ROLLING");
            return send_json(conn, 429, e, interval);
        }
        default: break;
        }
        return MHD_NO;
    }
    pthread_mutex_unlock(&f->lock);
    if (faulted) /* FAKE_HS_HANG: late, but the work is done */
        fake_http_sleep_ms(f->http, arg);
    pthread_mutex_lock(&f->lock);
    json_t *out = NULL;
    int status = route(f, method, url, body, &out);
    if (status == 400 && !out)
        out = error_body("Invalid input", "VALIDATION_ERROR");
    pthread_mutex_unlock(&f->lock);
    json_decref(body);
    return send_json(conn, status, out, NULL);
}

struct fake_hubspot *fake_hubspot_start(const char *token)
{
    struct fake_hubspot *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    pthread_mutex_init(&f->lock, NULL);
    snprintf(f->auth, sizeof f->auth, "Bearer %s", token);
    f->contacts = json_object();
    f->companies = json_object();
    f->assocs = json_object();
    f->notes = json_array();
    f->index = json_object();
    f->next_id = 51000;
    f->http = fake_http_start(BODY_MAX, on_request, f);
    if (!f->http) {
        fake_hubspot_stop(f);
        return NULL;
    }
    return f;
}

void fake_hubspot_stop(struct fake_hubspot *f)
{
    if (!f)
        return;
    fake_http_stop(f->http);
    json_decref(f->contacts);
    json_decref(f->companies);
    json_decref(f->assocs);
    json_decref(f->notes);
    json_decref(f->index);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

const char *fake_hubspot_base_url(const struct fake_hubspot *f)
{
    return fake_http_url(f->http);
}

void fake_hubspot_fault(struct fake_hubspot *f, const char *path, enum fake_hs_fault fault,
                        int times, long arg)
{
    fake_http_fault(f->http, path, (int)fault, times, arg);
}

size_t fake_hubspot_requests(struct fake_hubspot *f, const char *path)
{
    return fake_http_requests(f->http, path);
}

size_t fake_hubspot_max_batch(struct fake_hubspot *f)
{
    pthread_mutex_lock(&f->lock);
    size_t n = f->max_batch;
    pthread_mutex_unlock(&f->lock);
    return n;
}

size_t fake_hubspot_invalid(struct fake_hubspot *f, const char **first)
{
    return fake_http_invalid(f->http, first);
}

size_t fake_hubspot_count(struct fake_hubspot *f, const char *what)
{
    pthread_mutex_lock(&f->lock);
    size_t n = strcmp(what, "contacts") == 0       ? json_object_size(f->contacts)
               : strcmp(what, "companies") == 0    ? json_object_size(f->companies)
               : strcmp(what, "associations") == 0 ? json_object_size(f->assocs)
               : strcmp(what, "notes") == 0        ? json_array_size(f->notes)
                                                   : 0;
    pthread_mutex_unlock(&f->lock);
    return n;
}

json_t *fake_hubspot_contact(struct fake_hubspot *f, const char *email)
{
    pthread_mutex_lock(&f->lock);
    json_t *r = json_deep_copy(record_of(f, "email", email));
    pthread_mutex_unlock(&f->lock);
    return r;
}

json_t *fake_hubspot_company(struct fake_hubspot *f, const char *domain)
{
    pthread_mutex_lock(&f->lock);
    json_t *r = json_deep_copy(record_of(f, "domain", domain));
    pthread_mutex_unlock(&f->lock);
    return r;
}

json_t *fake_hubspot_notes(struct fake_hubspot *f)
{
    pthread_mutex_lock(&f->lock);
    json_t *r = json_deep_copy(f->notes);
    pthread_mutex_unlock(&f->lock);
    return r;
}

int fake_hubspot_associated(struct fake_hubspot *f, const char *contact, const char *company)
{
    char key[80];
    snprintf(key, sizeof key, "%s:%s", contact ? contact : "", company ? company : "");
    pthread_mutex_lock(&f->lock);
    int r = json_object_get(f->assocs, key) != NULL;
    pthread_mutex_unlock(&f->lock);
    return r;
}

const char *fake_hubspot_seed_contact(struct fake_hubspot *f, const char *email)
{
    pthread_mutex_lock(&f->lock);
    json_t *props = json_pack("{s:s}", "email", email);
    json_t *r = new_record(f, f->contacts, props);
    json_decref(props);
    snprintf(f->seeded, sizeof f->seeded, "%s", json_string_value(json_object_get(r, "id")));
    pthread_mutex_unlock(&f->lock);
    return f->seeded;
}
