/* The access checks before each handler and the audit record after it (see guard.h). */
#include "http/guard.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/access.h"
#include "app/app.h"
#include "base/charset.h"
#include "base/detail.h"
#include "base/json.h"
#include "base/log.h"
#include "http/http.h"
#include "http/router.h"
#include "http/server.h"

/* The media type of a Content-Type value (parameters and spaces cut) equals type. */
static bool media_type_is(const char *ct, const char *type)
{
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return n == strlen(type) && strncasecmp(ct, type, n) == 0;
}

/* application/json or application/<x>+json. */
static bool is_json_type(const char *ct)
{
    if (media_type_is(ct, "application/json"))
        return true;
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
           strncasecmp(ct + n - 5, "+json", 5) == 0;
}

/* A request that sends no body: no Transfer-Encoding, and no Content-Length or one of 0
 * (the edge has already refused a malformed or repeated one). */
static bool sends_no_body(struct sa_req *r)
{
    if (sa_req_header(r, "Transfer-Encoding"))
        return false;
    const char *cl = sa_req_header(r, "Content-Length");
    return !cl || (cl[0] != '\0' && cl[strspn(cl, "0")] == '\0');
}

/* A credential header with a value that only a script can send: X-API-Key, or
 * Authorization with the Bearer scheme. A page elsewhere cannot add either to a
 * cross-site request without a preflight, which CORS_ORIGINS refuses. Other schemes
 * (Basic, Digest, Negotiate) do not count: a browser adds them by itself when it holds
 * HTTP-auth credentials for the site, e.g. for a proxy in front of AUTH=off. */
static bool has_credential_header(struct sa_req *r)
{
    const char *key = sa_req_header(r, "X-API-Key"), *auth = sa_req_header(r, "Authorization");
    return (key && key[0]) || (auth && strncasecmp(auth, "Bearer ", 7) == 0 && auth[7]);
}

/* A state-changing request must name its type, one a browser cannot send cross-site
 * without a preflight: a missing type, text/plain, a form or multipart is 415, so a page
 * elsewhere cannot post to us (docs/security.md, CSRF).
 *
 * One exception: a POST to a route that reads no body, sent with no body and no
 * Content-Type, that carries a credential header only a script can send (the LangGraph
 * SDK's runs.cancel is such a POST, and it retries a 415 for 20 s). A route that takes an
 * optional body (an empty one read as {}) never gets the exception. The
 * header is what a cross-site page cannot send without a preflight, so it stands for the
 * content type here; without it (AUTH=off and no key) the POST is still 415. */
static bool check_content_type(struct sa_req *r)
{
    if (r->route->body == SA_BODY_NONE && strcmp(r->method, "POST") != 0)
        return true;
    const char *ct = sa_req_header(r, "Content-Type");
    if (!ct && r->route->body == SA_BODY_NONE && strcmp(r->method, "POST") == 0 &&
        sends_no_body(r) && has_credential_header(r))
        return true;
    bool csv = r->route->body == SA_BODY_CSV, form = r->route->body == SA_BODY_FORM;
    bool ics = r->route->body == SA_BODY_JSON_ICS, mail = r->route->body == SA_BODY_MAIL;
    /* a raw message may come as text/plain: the route needs a credential or a signature
     * header, which no cross-site form can send */
    bool ok = ct && (csv    ? media_type_is(ct, "text/csv") || media_type_is(ct, "application/csv")
                     : form ? media_type_is(ct, "application/x-www-form-urlencoded") ||
                                  media_type_is(ct, "multipart/form-data")
                     : mail ? media_type_is(ct, "message/rfc822") || media_type_is(ct, "text/plain")
                            : is_json_type(ct) || (ics && media_type_is(ct, "text/calendar")));
    if (ok)
        return true;
    sa_reply_error(r, 415, "unsupported_media_type", "header.content-type",
                   "unsupported_media_type", "Content-Type %.*s is not accepted here; send %s",
                   sa_utf8_cut(ct ? ct : "(none)", 100), ct ? ct : "(none)",
                   csv    ? "text/csv"
                   : mail ? "message/rfc822 or text/plain"
                   : form ? "application/x-www-form-urlencoded"
                   : ics  ? "application/json or text/calendar"
                          : "application/json");
    return false;
}

/* ---- the query string ---------------------------------------------------------------- */

static bool text_ok(const char *s, size_t n)
{
    return memchr(s, '\0', n) == NULL && sa_utf8_valid_prefix(s, n) == n;
}

/* Adds a detail entry for each query parameter whose name or value is not UTF-8 text
 * (a NUL decoded from %00 counts as not text). */
static enum MHD_Result query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    json_t *detail = cls;
    bool key_ok = text_ok(key, key_size);
    if (key_ok && (!value || text_ok(value, value_size)))
        return MHD_YES;
    char loc[160] = "query";
    if (key_ok && key_size < sizeof loc - 7)
        snprintf(loc, sizeof loc, "query.%s", key);
    sa_detail_add(detail, loc, "string_unicode",
                  "Input should be UTF-8 text: percent-decoded, it has a NUL or a byte "
                  "sequence that is not UTF-8");
    return MHD_YES;
}

/* Every query parameter's name and value must be UTF-8 text: a handler then never reads a
 * value cut at a NUL or searches with bytes a database refuses (PostgreSQL's "invalid
 * byte sequence" would be a 503), and never silently ignores one (a search for invalid
 * bytes matched every lead). 422 naming each bad parameter otherwise. */
static bool check_query(struct sa_req *r)
{
    json_t *detail = json_array();
    MHD_get_connection_values_n(r->conn, MHD_GET_ARGUMENT_KIND, query_arg, detail);
    if (json_array_size(detail) == 0) {
        json_decref(detail);
        return true;
    }
    sa_reply_problem(r, 422, "validation_error", detail);
    return false;
}

/* ---- Host ------------------------------------------------------------------------- */

/* The host part of a Host header value: "[::1]:8001" -> "[::1]", "example.com:80" ->
 * "example.com". Returns its length. */
static size_t host_part(const char *h)
{
    if (h[0] == '[') {
        const char *e = strchr(h, ']');
        return e ? (size_t)(e - h) + 1 : strlen(h);
    }
    return strcspn(h, ":");
}

/* What follows the host part is nothing, or ":" and a port of 1-5 digits. */
static bool port_ok(const char *p)
{
    if (!*p)
        return true;
    size_t d = strspn(p + 1, "0123456789");
    return p[0] == ':' && d >= 1 && d <= 5 && p[1 + d] == '\0';
}

/* True when the comma-separated list holds item (n bytes), ignoring case and spaces;
 * "*" in the list matches anything. */
static bool list_has(const char *list, const char *item, size_t n)
{
    const char *p = list;
    while (p && *p) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, ",");
        size_t k = len;
        while (k > 0 && (p[k - 1] == ' ' || p[k - 1] == '\t'))
            k--;
        if ((k == 1 && p[0] == '*') || (k == n && k > 0 && strncasecmp(p, item, n) == 0))
            return true;
        p += len;
    }
    return false;
}

/* TRUSTED_HOSTS, or localhost, 127.0.0.1, [::1] and HOST (DNS rebinding: a page that
 * made its own name resolve to us still sends its own name as Host). */
static bool host_trusted(const struct sa_config *cfg, const char *host, size_t n)
{
    if (cfg->trusted_hosts)
        return list_has(cfg->trusted_hosts, host, n);
    if (list_has("localhost,127.0.0.1,[::1]", host, n))
        return true;
    size_t hn = strlen(cfg->host);
    if (strchr(cfg->host, ':')) /* an IPv6 HOST is written in brackets in a Host header */
        return n == hn + 2 && host[0] == '[' && strncasecmp(host + 1, cfg->host, hn) == 0;
    return n == hn && strncasecmp(host, cfg->host, hn) == 0;
}

static bool check_host(struct sa_req *r)
{
    /* an absolute-form target's host stands for the Host header (RFC 9112 section 3.2.2) */
    const char *h = r->target_host[0] ? r->target_host : sa_req_header(r, "Host");
    if (!h) /* HTTP/1.0 may omit it; the server refuses HTTP/1.1 without one */
        return true;
    size_t n = host_part(h);
    if (port_ok(h + n) && host_trusted(&r->app->cfg, h, n))
        return true;
    sa_reply_error(r, 400, "untrusted_host", "header.host", "untrusted_host",
                   "Host %.*s is not served here (TRUSTED_HOSTS)", (int)(n > 100 ? 100 : n), h);
    return false;
}

/* ---- CORS --------------------------------------------------------------------------- */

/* The request headers a page may send: credentials, conditional requests and the
 * LangGraph SDK's Last-Event-ID (joinStream resuming after an event). */
#define CORS_ALLOW_HEADERS                                                                         \
    "Authorization, X-API-Key, Content-Type, X-Request-ID, If-Match, If-None-Match, "              \
    "Last-Event-ID"
/* Every response header a route or the guard sets that is not CORS-safelisted, so a page
 * can read it: the SDK reads Content-Location (a run's id), Location (a stream to resume)
 * and X-Pagination-* (assistants.search). test_api_auth checks real responses against it. */
#define CORS_EXPOSE_HEADERS                                                                        \
    "X-Request-ID, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, "           \
    "WWW-Authenticate, ETag, Location, Content-Location, Content-Disposition, Allow, "             \
    "X-Pagination-Next, X-Pagination-Total"

/* Adds the CORS headers for an allowed Origin; returns whether it was allowed. */
static bool cors_headers(struct sa_req *r)
{
    const char *list = r->app->cfg.cors_origins;
    if (!list)
        return false;
    sa_reply_header(r, "Vary", "Origin");
    const char *origin = sa_req_header(r, "Origin");
    if (!origin || !list_has(list, origin, strlen(origin)) || strlen(origin) > 200)
        return false;
    sa_reply_header(r, "Access-Control-Allow-Origin", "%s", origin);
    sa_reply_header(r, "Access-Control-Expose-Headers", "%s", CORS_EXPOSE_HEADERS);
    return true;
}

/* OPTIONS: a CORS preflight from an allowed origin gets the methods and headers it may
 * use; any other OPTIONS gets the Allow list alone (no CORS headers: the browser then
 * refuses the cross-site request). Never needs credentials (browsers send none). */
static void answer_options(struct sa_req *r, bool allowed_origin)
{
    const struct sa_route *route, *routes;
    size_t n_routes;
    sa_http_routes(r->srv, &routes, &n_routes); /* the server's: all, or the metrics' */
    const char *params[SA_MAX_PARAMS];
    char buf[512], allow[64] = "";
    enum sa_match m = sa_route_match(routes, n_routes, "OPTIONS", r->path, &route, params, buf,
                                     sizeof buf, allow, sizeof allow);
    if (m == SA_MATCH_NO_ROUTE) {
        sa_reply_error(r, 404, "not_found", "path", "not_found", "No route for OPTIONS %.200s",
                       r->path);
        return;
    }
    snprintf(r->allow, sizeof r->allow, "%s, OPTIONS", allow);
    if (allowed_origin && sa_req_header(r, "Access-Control-Request-Method")) {
        sa_reply_header(r, "Access-Control-Allow-Methods", "%s", allow);
        sa_reply_header(r, "Access-Control-Allow-Headers", "%s", CORS_ALLOW_HEADERS);
        sa_reply_header(r, "Access-Control-Max-Age", "600");
    }
    char *empty = calloc(1, 1);
    if (empty)
        sa_reply_text(r, 204, "text/plain", empty, 0);
    else
        sa_reply_error(r, 500, "internal_error", "", "internal_error", "out of memory");
}

/* ---- credentials -------------------------------------------------------------------- */

static void unauthorized(struct sa_req *r, bool presented, const char *why)
{
    if (presented)
        sa_reply_header(r, "WWW-Authenticate",
                        "Bearer realm=\"sales-agent\", error=\"invalid_token\"");
    else
        sa_reply_header(r, "WWW-Authenticate", "Bearer realm=\"sales-agent\"");
    sa_reply_error(r, 401, "unauthorized", "header.authorization", "unauthorized", "%s", why);
}

/* Finds the credential: "Authorization: Bearer X" or "X-API-Key: X". Returns NULL when
 * none was sent; *bad when a header was sent in a form we do not take. */
static const char *credential(struct sa_req *r, bool *bearer, const char **bad)
{
    *bad = NULL;
    const char *auth = sa_req_header(r, "Authorization");
    const char *key = sa_req_header(r, "X-API-Key");
    if (auth) {
        *bearer = true;
        if (strncasecmp(auth, "Bearer ", 7) != 0) {
            *bad = "Authorization must be \"Bearer <API key or token>\"";
            return NULL;
        }
        const char *v = auth + 7;
        while (*v == ' ')
            v++;
        if (key && strcmp(key, v) != 0) {
            *bad = "Authorization and X-API-Key disagree: send one credential";
            return NULL;
        }
        return v;
    }
    *bearer = false;
    return key;
}

/* 429 for too many failed authentications from the client's address (rc and l from
 * sa_access_failure_count). A limiter that fails lets the request on: Redis's
 * limiter fails open by itself, and the in-process one fails only on a bad key. */
static bool failures_refused(struct sa_req *r, int rc, const struct sa_limit *l)
{
    if (rc || l->allowed)
        return false;
    sa_reply_header(r, "Retry-After", "%ld", l->retry_after);
    sa_reply_error(r, 429, "rate_limited", "header.authorization", "rate_limited",
                   "Too many failed authentications from %.64s (%ld a minute); retry in %ld s",
                   r->client_addr, l->limit, l->retry_after);
    return true;
}

/* Counts r's failed credential against its client's address, once per request (a public
 * route's check and a scope check may both look at it). True when that made it one too
 * many: a 429 is set. */
static bool failure_counted(struct sa_req *r)
{
    if (r->cred_failed)
        return false;
    r->cred_failed = true;
    struct sa_access *a = r->app->access;
    struct sa_limit l;
    struct sa_err err = {0};
    int rc = sa_access_failure_count(a, r->client_addr, sa_access_now(a), &l, &err);
    return failures_refused(r, rc, &l);
}

/* A presented credential failed (why): counted against the client's address, then 401,
 * or 429 when this failure is one too many (another instance counted meanwhile). */
static void failed(struct sa_req *r, const char *why)
{
    if (!failure_counted(r))
        unauthorized(r, true, why);
}

/* Resolves r->principal. required: answer 401 when there is no valid credential; else
 * (a public route) a missing or bad one just leaves the request anonymous.
 *
 * Guessing is limited per client address (AUTH_FAILURES_PER_MINUTE): each presented key or
 * token that fails counts, on a public route too (/health answers more to a valid key);
 * past the limit for the minute, a failing one is 429 instead of 401 (on a public route
 * too, instead of going on anonymously). The credential is always checked first: a valid
 * one is never refused for others' failures from the same address (behind a proxy or a
 * NAT, that would let anyone lock everyone out), and with 256-bit keys a right guess is
 * not what the limit is for. A request without a credential is not counted (it guesses
 * nothing) and stays a 401; successful requests are never counted. */
static bool authenticate(struct sa_req *r, bool required)
{
    struct sa_access *a = r->app->access;
    if (!sa_access_required(a)) {
        sa_access_anonymous(r->client_addr, &r->principal);
        return true;
    }
    bool bearer;
    const char *bad;
    const char *cred = credential(r, &bearer, &bad);
    struct sa_err err = {0};
    if (!cred && !bad) {
        if (required)
            unauthorized(r, false,
                         "Credentials required: send Authorization: Bearer <API key or token>, "
                         "or X-API-Key: <API key>");
        return !required;
    }
    /* a header in a form we do not take (another scheme, two that disagree) checks nothing,
     * so it tells a guesser nothing and is neither counted nor refused: a browser adds
     * Basic by itself when a proxy in front asks for it */
    if (bad) {
        if (required)
            unauthorized(r, true, bad);
        return !required;
    }
    int rc = sa_access_authenticate(a, cred, bearer, sa_access_now(a), &r->principal, &err);
    if (!required) {
        if (rc)
            r->principal = (struct sa_principal){.kind = SA_PRINCIPAL_NONE};
        return rc != SA_EINVAL || !failure_counted(r); /* anonymous, unless one too many */
    }
    if (rc == 0)
        return true;
    if (rc != SA_EINVAL) {
        sa_reply_unavailable(r, rc, &err, "Checking the credentials");
        return false;
    }
    failed(r, err.msg);
    return false;
}

static bool take_token(struct sa_req *r);

/* A mail gateway's POST /api/inbound/email signed with INBOUND_SECRET (X-Signature): it
 * carries no credential, and the route's handler verifies the signature before anything
 * else (http/routes/inbound.c), so the credential and scope checks step aside for it. Only
 * with INBOUND_SECRET set; a request without the header needs the inbound scope. */
static bool signed_inbound(struct sa_req *r)
{
    const char *secret = r->app->cfg.inbound_secret;
    return secret && *secret && strcmp(r->method, "POST") == 0 &&
           strcmp(r->path, "/api/inbound/email") == 0 && sa_req_header(r, "X-Signature");
}

bool sa_guard_pre(struct sa_req *r)
{
    if (!check_host(r))
        return false;
    bool allowed_origin = cors_headers(r);
    bool options = strcmp(r->method, "OPTIONS") == 0;
    /* a CORS preflight carries no credentials (browsers never send them): answered as is */
    if (options && allowed_origin && sa_req_header(r, "Access-Control-Request-Method")) {
        answer_options(r, true);
        return false;
    }
    /* Nothing under /api/ answers without credentials, not even a 404 or an Allow list. */
    bool api = strncmp(r->path, "/api/", 5) == 0 || strcmp(r->path, "/api") == 0;
    if (!authenticate(r, api && !signed_inbound(r)) || (api && !take_token(r)))
        return false;
    if (options) {
        answer_options(r, false);
        return false;
    }
    return true;
}

/* ---- scope and rate limits ---------------------------------------------------------- */

static void limit_headers(struct sa_req *r, const struct sa_limit *l)
{
    if (l->limit <= 0)
        return;
    sa_reply_header(r, "RateLimit-Limit", "%ld", l->limit);
    sa_reply_header(r, "RateLimit-Remaining", "%ld", l->remaining < 0 ? 0 : l->remaining);
    sa_reply_header(r, "RateLimit-Reset", "%ld", l->reset_seconds);
}

static bool limited(struct sa_req *r, int rc, const struct sa_err *err, const struct sa_limit *l,
                    const char *what)
{
    if (rc) {
        sa_reply_unavailable(r, rc, err, "Checking the rate limit");
        return true;
    }
    limit_headers(r, l);
    if (l->allowed)
        return false;
    sa_reply_header(r, "Retry-After", "%ld", l->retry_after);
    sa_reply_error(r, 429, "rate_limited", "header.authorization", "rate_limited",
                   "Rate limit reached: %ld %s; retry in %ld s", l->limit, what, l->retry_after);
    return true;
}

/* One request of the principal against RATE_LIMIT_PER_MINUTE: every authenticated
 * request under /api/ counts, whatever it answers (404s and 403s too, so probing costs
 * the same as using). False with a 429 set when the bucket is empty. */
static bool take_token(struct sa_req *r)
{
    if (r->principal.kind == SA_PRINCIPAL_NONE)
        return true;
    struct sa_limit l;
    struct sa_err err = {0};
    int rc = sa_access_limit_request(r->app->access, &r->principal, sa_access_now(r->app->access),
                                     &l, &err);
    return !limited(r, rc, &err, &l, "requests per minute");
}

/* The scope the route needs: /metrics is public with METRICS_AUTH=open. */
static enum sa_scope needed_scope(const struct sa_req *r)
{
    if (r->app->cfg.metrics_access == SA_METRICS_OPEN && strcmp(r->route->path, "/metrics") == 0)
        return SA_SCOPE_PUBLIC;
    return r->route->scope;
}

bool sa_guard_route(struct sa_req *r)
{
    enum sa_scope need = needed_scope(r);
    if (need != SA_SCOPE_PUBLIC && !signed_inbound(r)) {
        if (r->principal.kind == SA_PRINCIPAL_NONE && !authenticate(r, true))
            return false;
        if (!sa_scopes_allow(r->principal.scopes, need)) {
            char have[64];
            sa_scopes_format(r->principal.scopes, have, sizeof have);
            sa_reply_error(r, 403, "forbidden", "header.authorization", "missing_scope",
                           "%s %s needs the '%s' scope; this credential has: %s", r->method,
                           r->route->path, sa_scope_name(need), have[0] ? have : "none");
            return false;
        }
    }
    return check_query(r) && check_content_type(r);
}

bool sa_guard_agent(struct sa_req *r, const char *agent_type)
{
    if (r->principal.kind == SA_PRINCIPAL_NONE)
        return true;
    struct sa_limit l;
    struct sa_err err = {0};
    int rc = sa_access_limit_agent(r->app->access, &r->principal, agent_type,
                                   sa_access_now(r->app->access), &l, &err);
    if (!rc && l.allowed)
        return true; /* the headers stay the per-minute bucket's: one set, not two */
    char what[96];
    snprintf(what, sizeof what, "%s runs per hour", agent_type);
    return !limited(r, rc, &err, &l, what); /* a refusal: its limit replaces the headers */
}

/* ---- audit -------------------------------------------------------------------------- */

void sa_guard_done(struct sa_req *r)
{
    if (!r->route || !r->route->audit || r->status >= 400 || r->status == 0 || r->no_audit)
        return;
    json_t *detail = r->audit_detail ? json_deep_copy(r->audit_detail) : json_object();
    char target[256];
    const char *given = json_string_value(json_object_get(detail, "target"));
    snprintf(target, sizeof target, "%s",
             given          ? given
             : r->params[0] ? r->params[0]
                            : r->route->path);
    json_object_del(detail, "target");
    json_object_set_new(detail, "status", json_integer(r->status));
    struct sa_err err = {0};
    if (sa_access_audit(r->app->access, r->principal.id[0] ? r->principal.id : "anonymous",
                        r->route->audit, target, r->request_id, detail,
                        sa_access_now(r->app->access), &err))
        /* the change is made and cannot be undone here: the log keeps the trace */
        sa_log(SA_LOG_ERROR, "audit record not written",
               json_pack("{s:s, s:s, s:s, s:s}", "action", r->route->audit, "principal",
                         r->principal.id, "request_id", r->request_id, "error", err.msg));
    json_decref(detail);
}
