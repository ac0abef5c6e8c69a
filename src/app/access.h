/* The access service: who is calling (API keys and JWT bearer tokens, resolved to a
 * principal with scopes), the keys' life cycle (create, list, revoke, the first admin key
 * of a fresh install), the rate limits per principal and per agent type, and the audit
 * log. The HTTP guard (http/guard.c) and the `keys` command call it; it owns the key
 * cache, the JWT verifier and the limiter. Every function that depends on "now" takes it
 * (Unix seconds) so tests move time instead of sleeping. Thread-safe. */
#ifndef SA_APP_ACCESS_H
#define SA_APP_ACCESS_H

#include <jansson.h>
#include <stdbool.h>

#include "auth/principal.h"
#include "base/config.h"
#include "base/err.h"
#include "resilience/ratelimit.h"

struct sa_store;
struct sa_access;

/* Opens the service over store (borrowed) with cfg's AUTH, JWT_*, RATE_LIMIT_PER_MINUTE
 * and AGENT_RATE_LIMIT_PER_HOUR; the limits are kept in Redis when REDIS_URL is set (shared
 * by every instance; allowed when Redis is down), else in this process. SA_ECONFIG (err says what to fix) for AUTH=off with a HOST
 * that is not loopback, a bad JWT setting or a bad AGENT_RATE_LIMIT_PER_HOUR. */
int sa_access_open(const struct sa_config *cfg, struct sa_store *store, struct sa_access **out,
                   struct sa_err *err) SA_WUR;
void sa_access_close(struct sa_access *a);

/* True when AUTH=on (credentials are asked for). */
bool sa_access_required(const struct sa_access *a);

/* The wall clock in Unix seconds: the real one, or the one a test set. */
double sa_access_now(const struct sa_access *a);
void sa_access_set_clock(struct sa_access *a, double (*now)(void));

/* Resolves a credential to a principal. bearer: it came as "Authorization: Bearer X" (an
 * API key or a JWT); else as X-API-Key (an API key). Returns 0 and *out; SA_EINVAL when
 * the credential is not valid, with err a client-safe reason ("API key revoked", "token
 * expired"); SA_ESTORE when the key store failed (the caller answers 503). A key is read
 * from the store at most every few seconds (a cache), so revocation elsewhere takes
 * effect within that; revocation through this service takes effect at once. */
int sa_access_authenticate(struct sa_access *a, const char *credential, bool bearer, double now,
                           struct sa_principal *out, struct sa_err *err) SA_WUR;

/* The principal of a request when AUTH=off: every scope, named by the client address. */
void sa_access_anonymous(const char *client_addr, struct sa_principal *out);

/* ---- keys ---- */

/* Creates a key: name (1-100 printable characters), scopes, optional expiry (ISO 8601,
 * after now). *out: {id, name, scopes: [...], created_at, expires_at, key} where key is
 * the secret, shown this once. SA_EINVAL for a bad name, scope or expiry, naming it. */
int sa_access_key_create(struct sa_access *a, const char *name, const char *scopes,
                         const char *expires_at, const char *created_by, double now,
                         json_t **out, struct sa_err *err) SA_WUR;
/* {"items": [key...]}, newest first; never a secret or a hash. */
int sa_access_key_list(struct sa_access *a, json_t **out, struct sa_err *err) SA_WUR;
/* Revokes the key: this instance refuses it from now on, others within the key cache's
 * 5 s (SA_ENOTFOUND for an unknown id). *out is the key; *changed is false when it was
 * revoked already (the first time stays; nothing to audit). */
int sa_access_key_revoke(struct sa_access *a, const char *id, double now, json_t **out,
                         bool *changed, struct sa_err *err) SA_WUR;
/* A fresh install's first key: when no key exists at all, creates an admin key named
 * "first admin key", audits it (principal "server:first-start") and writes its secret into
 * key (*created true). Else *created false. */
int sa_access_bootstrap(struct sa_access *a, double now, char *key, size_t cap, bool *created,
                        struct sa_err *err) SA_WUR;

/* ---- rate limits ---- */

/* One request of principal against RATE_LIMIT_PER_MINUTE (a token bucket). out->limit
 * is 0 when there is no limit. */
int sa_access_limit_request(struct sa_access *a, const struct sa_principal *p, double now,
                            struct sa_limit *out, struct sa_err *err) SA_WUR;
/* One run of agent (its name) by principal against AGENT_RATE_LIMIT_PER_HOUR (a window
 * per clock hour). out->limit is 0 when there is no limit. */
int sa_access_limit_agent(struct sa_access *a, const struct sa_principal *p, const char *agent,
                          double now, struct sa_limit *out, struct sa_err *err) SA_WUR;

/* Failed authentications per client address (AUTH_FAILURES_PER_MINUTE, a window per clock
 * minute in the shared limiter, so the count holds across instances on Redis): counts
 * one failure. out->allowed false: one too many, answer 429 with out->retry_after;
 * out->limit is 0 when there is no limit. */
int sa_access_failure_count(struct sa_access *a, const char *client_addr, double now,
                            struct sa_limit *out, struct sa_err *err) SA_WUR;
/* Limit checks let through because the shared limiter (Redis) failed, since open: for a
 * metric. Always 0 with the in-process limiter. */
unsigned long sa_access_limiter_failures(struct sa_access *a);

/* ---- audit ---- */

/* Appends a record: who (principal id), what (action), on what (target), the request id
 * and detail (borrowed; NULL: {}), at now. */
int sa_access_audit(struct sa_access *a, const char *principal, const char *action,
                    const char *target, const char *request_id, const json_t *detail, double now,
                    struct sa_err *err) SA_WUR;
/* The audit log's filters: exact action, principal and target (NULL: any), since <= at <
 * until (ISO 8601, NULL: open), records older than before_id (0: from the newest), limit
 * 1-500. */
struct sa_audit_filter {
    const char *action, *principal, *target, *since, *until;
    long before_id;
    int limit;
};
/* {"items": [{id, at, principal, action, target, request_id, detail}], "next_before_id"},
 * newest first. */
int sa_access_audit_list(struct sa_access *a, const struct sa_audit_filter *f, json_t **out,
                         struct sa_err *err) SA_WUR;

/* Formats Unix seconds as "2026-12-02T07:10:00.123Z" (out: at least 25 bytes). */
void sa_access_iso(double t, char *out, size_t cap);
/* Parses "2026-12-02T07:10:00Z" (also with fractional seconds or +00:00) into Unix
 * seconds. SA_EINVAL when it is not such a UTC time. */
int sa_access_parse_iso(const char *s, double *out) SA_WUR;

#endif
