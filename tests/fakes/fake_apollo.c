/* The fake Apollo (see fake_apollo.h). */
#include "fake_apollo.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fake_http.h"

#define BODY_MAX ((size_t)1 << 20)

struct reply {
    struct fake_apollo_reply r; /* strings and headers owned */
    struct reply *next;
};

struct fake_apollo {
    struct fake_http *http;
    char *key;
    pthread_mutex_t lock;
    struct reply *head;
    json_t *orgs, *people; /* {domain: org}, {email: person} */
    json_t *requests;      /* array of {method, path, query, body, key} */
    int minute_limit, hourly_limit, minute_used, hourly_used;
};

static void *xalloc(size_t n)
{
    void *p = calloc(1, n);
    if (!p)
        abort();
    return p;
}

static char *xstrdup(const char *s)
{
    char *p = s ? strdup(s) : NULL;
    if (s && !p)
        abort();
    return p;
}

static void reply_free(struct reply *r)
{
    if (!r)
        return;
    free((char *)r->r.path);
    free((char *)r->r.body);
    if (r->r.headers) {
        for (const char *const *h = r->r.headers; *h; h++)
            free((char *)*h);
        free((void *)r->r.headers);
    }
    free(r);
}

/* Records why a request is malformed (see fake_http_bad); false. */
#define bad(f, ...) fake_http_bad((f)->http, __VA_ARGS__)

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    json_object_set_new(cls, key, json_string(value ? value : ""));
    return MHD_YES;
}

/* A host name as Apollo's domain parameter wants it: no scheme, path or spaces. */
static bool hostname_like(const char *s)
{
    if (!*s || strlen(s) > 253 || *s == '.' || *s == '-')
        return false;
    bool dot = false;
    for (const char *p = s; *p; p++) {
        if (*p == '.')
            dot = true;
        else if (!isalnum((unsigned char)*p) && *p != '-')
            return false;
    }
    return dot;
}

/* The documented people/match parameters and their types (wire-formats.md §5). */
static bool people_field_ok(const char *k, const json_t *v)
{
    static const char *const strings[] = {
        "email", "first_name",   "last_name",    "name",       "domain", "organization_name",
        "id",    "linkedin_url", "hashed_email", "webhook_url"};
    static const char *const bools[] = {"reveal_personal_emails", "reveal_phone_number"};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        if (strcmp(k, strings[i]) == 0)
            return json_is_string(v) && json_string_length(v) > 0;
    for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++)
        if (strcmp(k, bools[i]) == 0)
            return json_is_boolean(v);
    return false;
}

static bool has(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k)) != NULL;
}

/* Checks a request; returns whether it is well-formed (a reason is recorded if not). */
static bool check(struct fake_apollo *f, struct MHD_Connection *conn,
                  const struct fake_http_request *u, const json_t *query, json_t **body)
{
    const char *method = u->method, *url = u->url;
    *body = NULL;
    const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Api-Key");
    if (!key || !*key)
        return bad(f, "%s %s: no X-Api-Key header", method, url);
    if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization"))
        return bad(f, "%s %s: an Authorization header beside X-Api-Key", method, url);
    if (json_object_get(query, "api_key"))
        return bad(f, "%s %s: the key in the query", method, url);
    const char *cc = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Cache-Control");
    if (!cc || strcasecmp(cc, "no-cache") != 0)
        return bad(f, "%s %s: Cache-Control is not no-cache", method, url);
    if (strcmp(url, FAKE_APOLLO_ORG_PATH) == 0) {
        if (strcmp(method, "GET") != 0)
            return bad(f, "%s %s: expected GET", method, url);
        if (u->len)
            return bad(f, "GET %s: a body", url);
        const char *d = json_string_value(json_object_get(query, "domain"));
        if (!d || json_object_size(query) != 1)
            return bad(f, "GET %s: the query must be domain= alone", url);
        if (!hostname_like(d))
            return bad(f, "GET %s: domain '%.80s' is not a host name", url, d);
        return true;
    }
    if (strcmp(url, FAKE_APOLLO_PEOPLE_PATH) == 0) {
        if (strcmp(method, "POST") != 0)
            return bad(f, "%s %s: expected POST", method, url);
        const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
        if (!ct || strncasecmp(ct, "application/json", 16) != 0)
            return bad(f, "POST %s: Content-Type is not application/json", url);
        if (u->too_big || !u->len)
            return bad(f, "POST %s: no body, or one too big", url);
        json_error_t je;
        *body = json_loadb(u->body, u->len, JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(*body))
            return bad(f, "POST %s: the body is not a JSON object (%s)", url, je.text);
        const char *k;
        json_t *v;
        json_object_foreach(*body, k, v)
        {
            if (strcmp(k, "api_key") == 0)
                return bad(f, "POST %s: the key in the body (Apollo rejects it)", url);
            if (!people_field_ok(k, v))
                return bad(f, "POST %s: field %s is unknown or of the wrong type", url, k);
        }
        const char *email = json_string_value(json_object_get(*body, "email"));
        if (email && !strchr(email, '@'))
            return bad(f, "POST %s: email '%s' has no @", url, email);
        bool named = (has(*body, "first_name") && has(*body, "last_name")) || has(*body, "name");
        bool company = has(*body, "domain") || has(*body, "organization_name");
        if (!email && !has(*body, "linkedin_url") && !has(*body, "id") && !(named && company))
            return bad(f, "POST %s: nothing identifies a person", url);
        return true;
    }
    return bad(f, "%s %s: not an Apollo enrichment endpoint", method, url);
}

/* Adds name: value unless a scripted header named it already. */
static void add_header(struct MHD_Response *resp, const char *name, const char *v)
{
    if (!MHD_get_response_header(resp, name))
        MHD_add_response_header(resp, name, v);
}

static void usage_headers(struct fake_apollo *f, struct MHD_Response *resp)
{
    char v[32];
    pthread_mutex_lock(&f->lock);
    int ml = f->minute_limit, hl = f->hourly_limit, mu = f->minute_used, hu = f->hourly_used;
    pthread_mutex_unlock(&f->lock);
    int left_m = ml - mu > 0 ? ml - mu : 0, left_h = hl - hu > 0 ? hl - hu : 0;
    snprintf(v, sizeof v, "%d", ml);
    add_header(resp, "x-rate-limit-minute", v);
    snprintf(v, sizeof v, "%d", hl);
    add_header(resp, "x-rate-limit-hourly", v);
    add_header(resp, "x-rate-limit-24-hour", "2000");
    snprintf(v, sizeof v, "%d", mu);
    add_header(resp, "x-minute-usage", v);
    snprintf(v, sizeof v, "%d", hu);
    add_header(resp, "x-hourly-usage", v);
    snprintf(v, sizeof v, "%d", left_m);
    add_header(resp, "x-minute-requests-left", v);
    snprintf(v, sizeof v, "%d", left_h);
    add_header(resp, "x-hourly-requests-left", v);
}

/* The default answer's body to a well-formed request (new string). */
static char *default_body(struct fake_apollo *f, const char *url, const json_t *query,
                          const json_t *body)
{
    json_t *out;
    pthread_mutex_lock(&f->lock);
    if (strcmp(url, FAKE_APOLLO_ORG_PATH) == 0) {
        json_t *o = json_object_get(f->orgs, json_string_value(json_object_get(query, "domain")));
        out = json_pack("{s:O}", "organization", o ? o : json_null());
    } else {
        const char *email = json_string_value(json_object_get(body, "email"));
        json_t *p = email ? json_object_get(f->people, email) : NULL;
        out = json_pack("{s:O}", "person", p ? p : json_null());
    }
    pthread_mutex_unlock(&f->lock);
    char *s = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    return s;
}

static enum MHD_Result answer(struct fake_apollo *f, struct MHD_Connection *conn, int status,
                              const char *body, const char *const *headers)
{
    struct MHD_Response *resp = fake_http_response(
        body[0] == '{' ? "application/json; charset=utf-8" : "text/plain; charset=utf-8", body,
        headers);
    if (resp)
        usage_headers(f, resp); /* after the scripted ones, which win */
    return fake_http_queue(conn, status, resp);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const struct fake_http_request *req)
{
    struct fake_apollo *f = cls;
    const char *url = req->url, *method = req->method;
    json_t *query = json_object(), *body = NULL;
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, query);
    bool ok = check(f, conn, req, query, &body);
    const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Api-Key");
    pthread_mutex_lock(&f->lock);
    json_array_append_new(f->requests,
                          json_pack("{s:s, s:s, s:O, s:O?, s:s?}", "method", method, "path", url,
                                    "query", query, "body", body, "key", key));
    f->minute_used++;
    f->hourly_used++;
    struct reply *r = f->head, *prev = NULL;
    while (r && r->r.path && strcmp(r->r.path, url) != 0) {
        prev = r;
        r = r->next;
    }
    if (r) {
        if (prev)
            prev->next = r->next;
        else
            f->head = r->next;
    }
    bool key_ok = key && f->key && strcmp(key, f->key) == 0;
    pthread_mutex_unlock(&f->lock);
    enum MHD_Result ret;
    if (r && r->r.hang_ms)
        fake_http_sleep_ms(f->http, r->r.hang_ms);
    if (r && r->r.drop) {
        ret = MHD_NO;
    } else if (!ok) {
        ret = answer(f, conn, 422, "{\"error\":\"malformed request\"}", NULL);
    } else if (!key_ok) { /* Apollo's answer to a wrong key */
        ret = answer(f, conn, 401, "Invalid access credentials.", NULL);
    } else if (r && r->r.body) {
        ret = answer(f, conn, r->r.status ? r->r.status : 200, r->r.body, r->r.headers);
    } else {
        char *b = default_body(f, url, query, body);
        ret = answer(f, conn, r && r->r.status ? r->r.status : 200, b ? b : "{}",
                     r ? r->r.headers : NULL);
        free(b);
    }
    reply_free(r);
    json_decref(query);
    json_decref(body);
    return ret;
}

struct fake_apollo *fake_apollo_start(const char *key)
{
    struct fake_apollo *f = xalloc(sizeof *f);
    pthread_mutex_init(&f->lock, NULL);
    f->key = xstrdup(key);
    f->orgs = json_object();
    f->people = json_object();
    f->requests = json_array();
    f->minute_limit = 200;
    f->hourly_limit = 400;
    f->http = fake_http_start(BODY_MAX, on_request, f);
    if (!f->http) {
        fake_apollo_stop(f);
        return NULL;
    }
    return f;
}

void fake_apollo_stop(struct fake_apollo *f)
{
    if (!f)
        return;
    fake_http_stop(f->http);
    while (f->head) {
        struct reply *r = f->head;
        f->head = r->next;
        reply_free(r);
    }
    json_decref(f->orgs);
    json_decref(f->people);
    json_decref(f->requests);
    free(f->key);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

const char *fake_apollo_base_url(const struct fake_apollo *f)
{
    return fake_http_url(f->http);
}

void fake_apollo_add_org(struct fake_apollo *f, const char *domain, const json_t *organization)
{
    pthread_mutex_lock(&f->lock);
    json_object_set_new(f->orgs, domain, json_deep_copy(organization));
    pthread_mutex_unlock(&f->lock);
}

void fake_apollo_add_person(struct fake_apollo *f, const char *email, const json_t *person)
{
    pthread_mutex_lock(&f->lock);
    json_object_set_new(f->people, email, json_deep_copy(person));
    pthread_mutex_unlock(&f->lock);
}

void fake_apollo_usage(struct fake_apollo *f, int minute_limit, int hourly_limit, int minute_used,
                       int hourly_used)
{
    pthread_mutex_lock(&f->lock);
    f->minute_limit = minute_limit;
    f->hourly_limit = hourly_limit;
    f->minute_used = minute_used;
    f->hourly_used = hourly_used;
    pthread_mutex_unlock(&f->lock);
}

void fake_apollo_push(struct fake_apollo *f, const struct fake_apollo_reply *in)
{
    struct reply *r = xalloc(sizeof *r);
    r->r = *in;
    r->r.path = xstrdup(in->path);
    r->r.body = xstrdup(in->body);
    if (in->headers) {
        size_t n = 0;
        while (in->headers[n])
            n++;
        const char **h = xalloc((n + 1) * sizeof *h);
        for (size_t i = 0; i < n; i++)
            h[i] = xstrdup(in->headers[i]);
        r->r.headers = h;
    }
    pthread_mutex_lock(&f->lock);
    struct reply **tail = &f->head;
    while (*tail)
        tail = &(*tail)->next;
    *tail = r;
    pthread_mutex_unlock(&f->lock);
}

size_t fake_apollo_requests(struct fake_apollo *f)
{
    pthread_mutex_lock(&f->lock);
    size_t n = json_array_size(f->requests);
    pthread_mutex_unlock(&f->lock);
    return n;
}

size_t fake_apollo_requests_to(struct fake_apollo *f, const char *path)
{
    size_t n = 0, i;
    json_t *r;
    pthread_mutex_lock(&f->lock);
    json_array_foreach(f->requests, i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "path")), path) == 0)
            n++;
    }
    pthread_mutex_unlock(&f->lock);
    return n;
}

json_t *fake_apollo_request(struct fake_apollo *f, size_t i)
{
    pthread_mutex_lock(&f->lock);
    json_t *r = json_array_get(f->requests, i);
    pthread_mutex_unlock(&f->lock);
    return r;
}

size_t fake_apollo_invalid(struct fake_apollo *f, const char **first)
{
    return fake_http_invalid(f->http, first);
}

void fake_apollo_clear_invalid(struct fake_apollo *f)
{
    fake_http_clear_invalid(f->http);
}

json_t *fake_apollo_sample_org(const char *name, const char *domain)
{
    char website[300], linkedin[300];
    snprintf(website, sizeof website, "http://www.%s", domain);
    snprintf(linkedin, sizeof linkedin, "http://www.linkedin.com/company/%.*s",
             (int)strcspn(domain, "."), domain);
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:f, s:s, s:i, s:s, s:s, s:s, s:s, s:[s,s,s], "
        "s:s, s:n, s:i}",
        "id", "5e66b6381e05b4008c8331b8", "name", name, "website_url", website, "primary_domain",
        domain, "linkedin_url", linkedin, "industry", "information technology & services",
        "estimated_num_employees", 340, "annual_revenue", 72500000.0, "annual_revenue_printed",
        "72.5M", "founded_year", 2014, "latest_funding_stage", "Series B", "city", "Austin",
        "state", "Texas", "country", "United States", "technology_names", "Salesforce",
        "Amazon AWS", "Google Analytics", "short_description",
        "Builds warehouse-routing software for regional distributors.", "phone", "total_funding",
        41000000);
}
