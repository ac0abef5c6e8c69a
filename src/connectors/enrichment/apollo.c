/* Apollo as an enrichment provider (see provider.h): GET /api/v1/organizations/enrich?domain=
 * for a company, POST /api/v1/people/match for a person, through the connectors' HTTP
 * client (deadline, retries, breaker, metrics) with the key in X-Api-Key.
 *
 * Apollo answers 200 with "organization": null or {} (and "person": null) when it knows
 * nobody: that is SA_ENOTFOUND, an answer. 401 and 403 are a configuration failure (the
 * key), logged without the key. Apollo limits each team per endpoint in fixed minute, hour
 * and day windows and says so on every answer: x-rate-limit-minute, x-rate-limit-hourly,
 * x-rate-limit-24-hour (the limits), x-minute-requests-left, x-hourly-requests-left,
 * x-24-hour-requests-left (what is left), and Retry-After on a 429.
 *
 * The limiter is two token buckets, a minute one and an hour one, each sized to the lower
 * of our own cap (APOLLO_MINUTE_LIMIT, APOLLO_HOURLY_LIMIT) and Apollo's limit header, and
 * refilled evenly over its window. Every answer feeds them: a bucket never holds more than
 * the "requests-left" Apollo just reported, so another process spending the same team's
 * quota shrinks ours. A 429 empties the bucket its headers name (both when they name none)
 * and blocks every call until its Retry-After (else a minute; an hour when the hourly or
 * daily quota is gone). A call the buckets cannot pay for is not made: the lookup answers
 * SA_ECANCELED at once rather than wait, since the lead is better processed without Apollo
 * than held for minutes. The buckets count both endpoints together (Apollo counts each
 * endpoint on its own): conservative. Time is the wall clock of base/clock.h. */
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "connectors/enrichment/provider.h"
#include "connectors/http.h"

#define MINUTE 60.0
#define HOUR 3600.0

/* A token bucket over one of Apollo's windows. */
struct bucket {
    double window; /* seconds */
    double cap;    /* our own limit */
    double limit;  /* min(cap, Apollo's x-rate-limit-*) */
    double tokens;
    double at; /* wall seconds of the last refill */
};

struct apollo {
    struct sa_enrich_provider base; /* first */
    struct sa_conn_http *http;
    char *base_url;
    char *key_header; /* "X-Api-Key: ..." */
    int timeout_ms;
    pthread_mutex_t lock; /* the buckets */
    struct bucket minute, hour;
    double blocked_until; /* wall seconds; 0: not blocked */
};

static void bucket_init(struct bucket *b, double window, double cap, double now)
{
    *b = (struct bucket){.window = window, .cap = cap, .limit = cap, .tokens = cap, .at = now};
}

static void bucket_refill(struct bucket *b, double now)
{
    if (now > b->at)
        b->tokens = fmin(b->limit, b->tokens + (now - b->at) * b->limit / b->window);
    b->at = now;
}

/* Takes one token from each bucket, or none when either is empty or a 429 blocks. */
static bool limiter_take(struct apollo *a)
{
    double now = sa_wall_seconds();
    pthread_mutex_lock(&a->lock);
    bucket_refill(&a->minute, now);
    bucket_refill(&a->hour, now);
    bool ok = now >= a->blocked_until && a->minute.tokens >= 1 && a->hour.tokens >= 1;
    if (ok) {
        a->minute.tokens -= 1;
        a->hour.tokens -= 1;
    }
    pthread_mutex_unlock(&a->lock);
    return ok;
}

/* A header as a number >= 0, or -1 when absent or not a number. */
static double header_num(const struct sa_conn_resp *r, const char *name)
{
    char v[64];
    if (!sa_conn_resp_header(r, name, v, sizeof v))
        return -1;
    char *end = NULL;
    double d = strtod(v, &end);
    return end != v && *end == '\0' && d >= 0 ? d : -1;
}

static void bucket_feed(struct bucket *b, double limit, double left)
{
    if (limit > 0)
        b->limit = fmin(b->cap, limit);
    if (left >= 0)
        b->tokens = fmin(b->tokens, left);
    b->tokens = fmin(b->tokens, b->limit);
}

/* Feeds the buckets with an answer's usage headers (any status). */
static void limiter_feed(struct apollo *a, const struct sa_conn_resp *r)
{
    double m_left = header_num(r, "x-minute-requests-left");
    double h_left = header_num(r, "x-hourly-requests-left");
    double d_left = header_num(r, "x-24-hour-requests-left");
    double m_limit = header_num(r, "x-rate-limit-minute");
    double h_limit = header_num(r, "x-rate-limit-hourly");
    double now = sa_wall_seconds();
    pthread_mutex_lock(&a->lock);
    bucket_refill(&a->minute, now);
    bucket_refill(&a->hour, now);
    bucket_feed(&a->minute, m_limit, m_left);
    bucket_feed(&a->hour, h_limit, h_left);
    if (r->status == 429) {
        bool named = m_left == 0 || h_left == 0 || d_left == 0;
        if (!named || m_left == 0)
            a->minute.tokens = 0;
        if (!named || h_left == 0)
            a->hour.tokens = 0;
        char ra[64];
        double wait = sa_conn_resp_header(r, "retry-after", ra, sizeof ra)
                          ? sa_conn_retry_after_seconds(ra, now)
                          : -1;
        if (wait < 0)
            wait = h_left == 0 || d_left == 0 ? HOUR : MINUTE;
        a->blocked_until = fmax(a->blocked_until, now + wait);
    }
    pthread_mutex_unlock(&a->lock);
}

void sa_enrich_apollo_limits(struct sa_enrich_provider *p, double *minute_left, double *hour_left,
                             double *blocked_until)
{
    struct apollo *a = (struct apollo *)p;
    double now = sa_wall_seconds();
    pthread_mutex_lock(&a->lock);
    bucket_refill(&a->minute, now);
    bucket_refill(&a->hour, now);
    *minute_left = floor(a->minute.tokens);
    *hour_left = floor(a->hour.tokens);
    *blocked_until = a->blocked_until > now ? a->blocked_until : 0;
    pthread_mutex_unlock(&a->lock);
}

/* The HTTP client's retry hook: a 429 whose hourly or daily quota is spent is not worth
 * waiting for within one call's deadline; a minute limit is (Retry-After, else backoff). */
static double retry_hook(void *arg, const struct sa_conn_resp *r, int attempt)
{
    (void)arg;
    (void)attempt;
    if (r->status != 429)
        return -1;
    if (header_num(r, "x-hourly-requests-left") == 0 ||
        header_num(r, "x-24-hour-requests-left") == 0)
        return -2;
    return -1;
}

/* Percent-encodes s (RFC 3986 unreserved kept) into b. */
static int url_encode(struct sa_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int rc = isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~'
                     ? sa_buf_append(b, p, 1)
                     : sa_buf_printf(b, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
        if (rc)
            return rc;
    }
    return 0;
}

/* One call and what its status means: 0 with the 200 answer's body in *body (NUL-
 * terminated, *len bytes; the caller frees it); SA_ECANCELED (limited: not asked, or
 * 429), SA_ECONFIG (401/403), SA_EIO/SA_ETIMEDOUT (failed). */
static int call(struct apollo *a, const char *method, const char *url, const char *payload,
                char **body, size_t *len, struct sa_err *err)
{
    *body = NULL;
    *len = 0;
    if (!limiter_take(a))
        return sa_err_set(err, SA_ECANCELED, "apollo: client-side rate limit reached");
    const char *headers[] = {a->key_header, "Content-Type: application/json",
                             "Cache-Control: no-cache", "Accept: application/json", NULL};
    struct sa_conn_req req = {.method = method,
                              .url = url,
                              .headers = headers,
                              .body = payload,
                              .body_len = payload ? strlen(payload) : 0,
                              .deadline_ns = sa_now_ns() + (uint64_t)a->timeout_ms * 1000000u,
                              .retry = retry_hook,
                              .arg = a};
    struct sa_conn_resp r;
    int rc = sa_conn_http_do(a->http, &req, &r, err);
    if (!rc) {
        limiter_feed(a, &r);
        if (r.status == 200) {
            *body = r.body;
            *len = r.len;
            r.body = NULL;
        } else if (r.status == 401 || r.status == 403) {
            /* the key is wrong or lacks the endpoint: an operator's problem, loud */
            sa_log(SA_LOG_ERROR, "apollo refused the API key (APOLLO_API_KEY)",
                   json_pack("{s:i, s:s}", "status", r.status, "path", strstr(url, "/api/v1/")));
            rc = sa_err_set(err, SA_ECONFIG, "apollo: the API key was refused (%d)", r.status);
        } else if (r.status == 429) {
            rc = sa_err_set(err, SA_ECANCELED, "apollo: rate limited (429)");
        } else {
            rc = sa_err_set(err, SA_EIO, "apollo: status %d", r.status);
        }
    }
    sa_conn_resp_free(&r);
    return rc;
}

/* Apollo's annual_revenue (USD) as our revenue band. */
static const char *revenue_band(double usd)
{
    return usd < 1e6   ? "<1M"
           : usd < 1e7 ? "1M-10M"
           : usd < 5e7 ? "10M-50M"
           : usd < 1e8 ? "50M-100M"
           : usd < 5e8 ? "100M-500M"
           : usd < 1e9 ? "500M-1B"
                       : "1B+";
}

/* Copies o[from] into c[to] when it is a non-empty string. */
static void copy_str(json_t *c, const char *to, const json_t *o, const char *from)
{
    const char *v = json_string_value(json_object_get(o, from));
    if (v && *v)
        json_object_set_new(c, to, json_string(v));
}

/* Apollo writes countries as names ("United States"); ours are ISO codes where the
 * dataset has them. The common ones; others stay as Apollo wrote them. */
static const char *country_code(const char *name)
{
    static const char *const map[][2] = {
        {"United States", "US"}, {"United Kingdom", "GB"}, {"Germany", "DE"},
        {"France", "FR"},        {"Canada", "CA"},         {"Australia", "AU"},
        {"Netherlands", "NL"},   {"Spain", "ES"},          {"Italy", "IT"},
        {"Sweden", "SE"},        {"Switzerland", "CH"},    {"Ireland", "IE"},
        {"India", "IN"},         {"Japan", "JP"},          {"Brazil", "BR"},
        {"Singapore", "SG"},     {"Israel", "IL"},         {"Denmark", "DK"},
        {"Norway", "NO"},        {"Finland", "FI"},        {"Austria", "AT"},
        {"Belgium", "BE"},       {"Poland", "PL"},         {"Portugal", "PT"},
        {"New Zealand", "NZ"},   {"Mexico", "MX"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcasecmp(map[i][0], name) == 0)
            return map[i][1];
    return name;
}

/* Apollo's organization as our company json (provider.h's fields). */
static json_t *map_organization(const json_t *o, const char *asked_domain)
{
    json_t *c = json_object();
    copy_str(c, "name", o, "name");
    copy_str(c, "domain", o, "primary_domain");
    if (!json_object_get(c, "domain"))
        json_object_set_new(c, "domain", json_string(asked_domain));
    const char *industry = json_string_value(json_object_get(o, "industry"));
    if (industry && *industry) { /* Apollo writes them lowercase: "information technology" */
        char *t = strdup(industry);
        if (t && islower((unsigned char)t[0]))
            t[0] = (char)toupper((unsigned char)t[0]);
        json_object_set_new(c, "industry", json_string(t ? t : industry));
        free(t);
    }
    json_t *emp = json_object_get(o, "estimated_num_employees");
    if (json_is_integer(emp) && json_integer_value(emp) >= 0)
        json_object_set_new(c, "employees", json_integer(json_integer_value(emp)));
    json_t *rev = json_object_get(o, "annual_revenue");
    if (json_is_number(rev) && json_number_value(rev) >= 0) {
        json_object_set_new(c, "annual_revenue", json_real(json_number_value(rev)));
        json_object_set_new(c, "revenue_band", json_string(revenue_band(json_number_value(rev))));
    }
    const char *country = json_string_value(json_object_get(o, "country"));
    if (country && *country)
        json_object_set_new(c, "country", json_string(country_code(country)));
    copy_str(c, "city", o, "city");
    json_t *year = json_object_get(o, "founded_year");
    if (json_is_integer(year) && json_integer_value(year) > 1700)
        json_object_set_new(c, "founded_year", json_integer(json_integer_value(year)));
    const char *stage = json_string_value(json_object_get(o, "latest_funding_stage"));
    if (stage && *stage) { /* "Series B" -> "series_b", the dataset's form */
        char s[64];
        size_t i = 0;
        for (; stage[i] && i < sizeof s - 1; i++)
            s[i] =
                stage[i] == ' ' || stage[i] == '-' ? '_' : (char)tolower((unsigned char)stage[i]);
        s[i] = '\0';
        json_object_set_new(c, "funding_stage", json_string(s));
    }
    json_t *tech = json_object_get(o, "technology_names"), *stack = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(tech, i, t)
    {
        if (json_is_string(t) && json_array_size(stack) < 50)
            json_array_append(stack, t);
    }
    json_object_set_new(c, "tech_stack", stack);
    copy_str(c, "description", o, "short_description");
    copy_str(c, "linkedin_url", o, "linkedin_url");
    return c;
}

static int apollo_lookup(struct sa_enrich_provider *p, const char *domain, const char *name,
                         json_t **company, const char **matched_by, struct sa_err *err)
{
    (void)name; /* organizations/enrich finds by domain only */
    struct apollo *a = (struct apollo *)p;
    if (!domain || !*domain)
        return sa_err_set(err, SA_ENOTFOUND, "apollo: no domain to look up");
    struct sa_buf url;
    sa_buf_init(&url, 4096);
    char *body = NULL;
    size_t len;
    int rc = sa_buf_printf(&url, "%s/api/v1/organizations/enrich?domain=", a->base_url);
    if (!rc)
        rc = url_encode(&url, domain);
    if (!rc)
        rc = sa_buf_append(&url, "", 1);
    if (rc) {
        rc = sa_err_set(err, SA_ETOOBIG, "apollo: the domain is too long");
        goto out;
    }
    rc = call(a, "GET", url.data, NULL, &body, &len, err);
    if (!rc)
        rc = sa_enrich_apollo_parse(SA_APOLLO_ORGANIZATION, body, len, domain, company, err);
    if (!rc)
        *matched_by = "domain";
out:
    free(body);
    sa_buf_free(&url);
    return rc;
}

static json_t *map_person(const json_t *o)
{
    json_t *out = json_object();
    copy_str(out, "name", o, "name");
    copy_str(out, "title", o, "title");
    copy_str(out, "seniority", o, "seniority");
    copy_str(out, "linkedin_url", o, "linkedin_url");
    copy_str(out, "email_status", o, "email_status");
    copy_str(out, "headline", o, "headline");
    return out;
}

int sa_enrich_apollo_parse(enum sa_apollo_answer what, const char *body, size_t len,
                           const char *domain, json_t **out, struct sa_err *err)
{
    *out = NULL;
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    int rc = 0;
    const json_t *o =
        json_object_get(root, what == SA_APOLLO_ORGANIZATION ? "organization" : "person");
    if (!json_is_object(root))
        rc = sa_err_set(err, SA_EIO, "apollo: a 200 answer that is not a JSON object");
    else if (what == SA_APOLLO_ORGANIZATION && !json_string_value(json_object_get(o, "name")))
        rc = sa_err_set(err, SA_ENOTFOUND, "apollo: no organization for the domain");
    else if (!json_is_object(o) || json_object_size(o) == 0)
        rc = sa_err_set(err, SA_ENOTFOUND, "apollo: no person matched");
    else if (!(*out = what == SA_APOLLO_ORGANIZATION ? map_organization(o, domain ? domain : "")
                                                     : map_person(o)))
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    json_decref(root);
    return rc;
}

static bool set(const char *s)
{
    return s && *s;
}

static int apollo_person(struct sa_enrich_provider *p, const struct sa_enrich_person_query *q,
                         json_t **person, struct sa_err *err)
{
    struct apollo *a = (struct apollo *)p;
    json_t *req = json_object();
    char *body = NULL;
    size_t len;
    /* an e-mail identifies a person on its own; a name needs the company beside it */
    if (set(q->email)) {
        json_object_set_new(req, "email", json_string(q->email));
    } else if (set(q->first_name) && set(q->last_name) &&
               (set(q->domain) || set(q->organization_name))) {
        json_object_set_new(req, "first_name", json_string(q->first_name));
        json_object_set_new(req, "last_name", json_string(q->last_name));
        if (set(q->organization_name))
            json_object_set_new(req, "organization_name", json_string(q->organization_name));
        if (set(q->domain))
            json_object_set_new(req, "domain", json_string(q->domain));
    } else {
        json_decref(req);
        return sa_err_set(err, SA_ENOTFOUND, "apollo: not enough to identify a person");
    }
    json_object_set_new(req, "reveal_personal_emails", json_false());
    char url[1024];
    char *payload = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    int rc;
    if (!payload) {
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    } else if ((size_t)snprintf(url, sizeof url, "%s/api/v1/people/match", a->base_url) >=
               sizeof url) {
        rc = sa_err_set(err, SA_ETOOBIG, "apollo: the base URL is too long");
    } else if (!(rc = call(a, "POST", url, payload, &body, &len, err))) {
        rc = sa_enrich_apollo_parse(SA_APOLLO_PERSON, body, len, NULL, person, err);
    }
    free(payload);
    free(body);
    return rc;
}

static const char *apollo_breaker(struct sa_enrich_provider *p)
{
    return sa_conn_http_breaker(((struct apollo *)p)->http);
}

static void apollo_free(struct sa_enrich_provider *p)
{
    struct apollo *a = (struct apollo *)p;
    sa_conn_http_free(a->http);
    pthread_mutex_destroy(&a->lock);
    free(a->base_url);
    if (a->key_header) /* a key does not linger in freed memory */
        memset(a->key_header, 0, strlen(a->key_header));
    free(a->key_header);
    free(a);
}

static const struct sa_enrich_provider_ops apollo_ops = {
    .name = "apollo",
    .lookup = apollo_lookup,
    .person = apollo_person,
    .breaker = apollo_breaker,
    .free = apollo_free,
};

int sa_enrich_apollo_new(const struct sa_apollo_config *cfg, struct sa_enrich_provider **out,
                         struct sa_err *err)
{
    *out = NULL;
    if (!cfg->api_key || !*cfg->api_key || strpbrk(cfg->api_key, "\r\n"))
        return sa_err_set(err, SA_ECONFIG, "apollo: APOLLO_API_KEY is empty or malformed");
    struct apollo *a = calloc(1, sizeof *a);
    if (!a)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    a->base.ops = &apollo_ops;
    pthread_mutex_init(&a->lock, NULL);
    const char *base = cfg->base_url && *cfg->base_url ? cfg->base_url : "https://api.apollo.io";
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    a->base_url = strndup(base, blen);
    size_t klen = strlen(cfg->api_key) + sizeof "X-Api-Key: ";
    a->key_header = malloc(klen);
    if (a->key_header)
        snprintf(a->key_header, klen, "X-Api-Key: %s", cfg->api_key);
    a->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 5000;
    double now = sa_wall_seconds();
    bucket_init(&a->minute, MINUTE, cfg->minute_limit > 0 ? cfg->minute_limit : 50, now);
    bucket_init(&a->hour, HOUR, cfg->hourly_limit > 0 ? cfg->hourly_limit : 600, now);
    struct sa_conn_http_config hc = {.name = "apollo",
                                     .timeout_ms = a->timeout_ms,
                                     .max_retries = cfg->max_retries,
                                     .breaker_failures = cfg->breaker_failures,
                                     .breaker_open_s = cfg->breaker_open_s,
                                     .metrics = cfg->metrics};
    int rc = a->base_url && a->key_header ? sa_conn_http_new(&hc, &a->http, err)
                                          : sa_err_set(err, SA_ENOMEM, "out of memory");
    if (rc) {
        apollo_free(&a->base);
        return rc;
    }
    *out = &a->base;
    return 0;
}
