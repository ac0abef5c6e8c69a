/* The access service (see access.h): credentials to principals through a small key cache,
 * the keys' life cycle, rate limits and the audit log. */
#include "app/access.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "base/clock.h"
#include "auth/apikey.h"
#include "auth/jwt.h"
#include "auth/scope.h"
#include "base/log.h"
#include "store/redis/redis.h"
#include "store/store.h"

/* How long a key read from the store is trusted before it is read again: revocation on
 * another instance takes effect within this. */
#define KEY_CACHE_SECONDS 5.0
/* last_used_at is written at most this often per key. */
#define KEY_TOUCH_SECONDS 60.0
#define KEY_CACHE_SLOTS 1024
/* Limiter entries: principals and principal-agent pairs. */
#define LIMITER_KEYS 65536

struct key_slot {
    bool used;
    bool found; /* false: the id is not in the store (a cached miss) */
    bool revoked;
    char id[SA_APIKEY_ID_LEN + 1];
    char name[100];
    sa_scopes scopes;
    char salt[SA_APIKEY_SALT_LEN + 1];
    char hash[SA_APIKEY_HASH_LEN + 1];
    double expires; /* 0: never */
    double fetched, touched;
};

struct sa_access {
    struct sa_store *store;
    bool required;
    struct sa_jwt_verifier *jwt; /* NULL: no JWT configured */
    struct sa_limiter *limiter;
    bool shared_limiter; /* the Redis one (REDIS_URL) */
    long per_minute;
    long failures_per_minute; /* AUTH_FAILURES_PER_MINUTE, per client address */
    struct sa_limit_spec agent_limits;
    double (*now)(void);
    pthread_mutex_t lock; /* the key cache */
    struct key_slot slots[KEY_CACHE_SLOTS];
    /* Bumped by key_forget: a lookup that read the store before a revocation must not
     * put what it read back into the slot after it (the revoked key would work on). */
    unsigned gens[KEY_CACHE_SLOTS];
};

static double real_now(void)
{
    return sa_wall_seconds();
}

double sa_access_now(const struct sa_access *a)
{
    return a->now();
}

void sa_access_set_clock(struct sa_access *a, double (*now)(void))
{
    a->now = now ? now : real_now;
}

bool sa_access_required(const struct sa_access *a)
{
    return a->required;
}

void sa_access_iso(double t, char *out, size_t cap)
{
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    char day[32];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    int ms = (int)((t - (double)s) * 1000.0);
    snprintf(out, cap, "%s.%03dZ", day, ms < 0 ? 0 : ms > 999 ? 999 : ms);
}

int sa_access_parse_iso(const char *s, double *out)
{
    return sa_iso8601_parse(s, out) ? SA_EINVAL : 0;
}

/* True when every address host names is a loopback address. */
static bool is_loopback_host(const char *host)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, NULL, &hints, &ai) != 0)
        return false;
    bool all = ai != NULL;
    for (const struct addrinfo *p = ai; p; p = p->ai_next) {
        if (p->ai_family == AF_INET) {
            const struct sockaddr_in *in = (const void *)p->ai_addr;
            all &= (ntohl(in->sin_addr.s_addr) >> 24) == 127;
        } else if (p->ai_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const void *)p->ai_addr;
            all &= IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) != 0;
        } else {
            all = false;
        }
    }
    freeaddrinfo(ai);
    return all;
}

/* With REDIS_URL, the limits live in Redis so that they hold across instances (it fails
 * open when Redis is down: store/redis/limiter.c says why); else in this process. */
static int open_limiter(const struct sa_config *cfg, struct sa_limiter **out, struct sa_err *err)
{
    if (!cfg->redis_url)
        return sa_limiter_memory_open(LIMITER_KEYS, out, err);
    struct sa_redis *r = NULL;
    int rc = sa_redis_open(cfg->redis_url, cfg->redis_timeout_ms, cfg->threads + 1, &r, err);
    return rc ? rc : sa_limiter_redis_new(r, true, out, err);
}

int sa_access_open(const struct sa_config *cfg, struct sa_store *store, struct sa_access **out,
                   struct sa_err *err)
{
    *out = NULL;
    bool required = cfg->auth == SA_AUTH_ON;
    if (!required && !is_loopback_host(cfg->host))
        return sa_err_set(err, SA_ECONFIG,
                          "AUTH=off is only allowed when HOST is a loopback address (HOST=%.60s): "
                          "anyone who reaches the port could read every contact and send mail",
                          cfg->host);
    struct sa_access *a = calloc(1, sizeof *a);
    if (!a)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    a->store = store;
    a->required = required;
    a->per_minute = cfg->rate_limit_per_minute;
    a->failures_per_minute = cfg->auth_failures_per_minute;
    a->now = real_now;
    pthread_mutex_init(&a->lock, NULL);
    int rc = sa_limit_spec_parse(cfg->agent_rate_limits, &a->agent_limits, err);
    if (rc) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        rc = sa_err_set(err, SA_ECONFIG, "AGENT_RATE_LIMIT_PER_HOUR: %s", msg);
        goto fail;
    }
    struct sa_jwt_config jc = {.secret = cfg->jwt_secret,
                               .public_key_file = cfg->jwt_public_key_file,
                               .jwks_file = cfg->jwt_jwks_file,
                               .issuer = cfg->jwt_issuer,
                               .audience = cfg->jwt_audience,
                               .leeway_seconds = 60};
    if ((rc = sa_jwt_open(&jc, &a->jwt, err)))
        goto fail;
    if ((rc = open_limiter(cfg, &a->limiter, err)))
        goto fail;
    a->shared_limiter = cfg->redis_url != NULL;
    *out = a;
    return 0;
fail:
    sa_access_close(a);
    return rc == SA_ENOMEM ? rc : SA_ECONFIG;
}

void sa_access_close(struct sa_access *a)
{
    if (!a)
        return;
    sa_jwt_close(a->jwt);
    if (a->limiter)
        sa_limiter_close(a->limiter);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

void sa_access_anonymous(const char *client_addr, struct sa_principal *out)
{
    *out = (struct sa_principal){.kind = SA_PRINCIPAL_ADDRESS, .scopes = SA_SCOPES_ALL};
    snprintf(out->id, sizeof out->id, "addr:%s", client_addr);
    snprintf(out->name, sizeof out->name, "%s", client_addr);
}

/* ---- the key cache ------------------------------------------------------------------ */

static unsigned slot_of(const char *id)
{
    unsigned h = 2166136261u;
    for (const char *p = id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h % KEY_CACHE_SLOTS;
}

/* Reads key id from the store into *k. 0, or SA_ESTORE (a miss is k->found false). */
static int load_key(struct sa_access *a, const char *id, double now, struct key_slot *k,
                    struct sa_err *err)
{
    *k = (struct key_slot){.used = true, .fetched = now};
    snprintf(k->id, sizeof k->id, "%s", id);
    json_t *row = NULL;
    int rc = sa_store_key_get(a->store, id, &row, err);
    if (rc == SA_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    k->found = true;
    snprintf(k->name, sizeof k->name, "%s", json_string_value(json_object_get(row, "name")));
    snprintf(k->salt, sizeof k->salt, "%s", json_string_value(json_object_get(row, "salt")));
    snprintf(k->hash, sizeof k->hash, "%s", json_string_value(json_object_get(row, "hash")));
    struct sa_err serr = {0};
    const char *scopes = json_string_value(json_object_get(row, "scopes"));
    if (sa_scopes_parse(scopes, &k->scopes, &serr))
        k->scopes = 0; /* a stored key with no known scope opens nothing */
    k->revoked = json_is_string(json_object_get(row, "revoked_at"));
    const char *exp = json_string_value(json_object_get(row, "expires_at"));
    if (exp && sa_access_parse_iso(exp, &k->expires))
        k->expires = 1; /* unparsable: treat as long expired */
    json_decref(row);
    return 0;
}

/* The key's cache entry as of now (read from the store when absent or stale) into *k. */
static int key_lookup(struct sa_access *a, const char *id, double now, struct key_slot *k,
                      struct sa_err *err)
{
    unsigned i = slot_of(id);
    pthread_mutex_lock(&a->lock);
    struct key_slot *s = &a->slots[i];
    bool fresh = s->used && strcmp(s->id, id) == 0 && now - s->fetched < KEY_CACHE_SECONDS &&
                 now >= s->fetched;
    if (fresh)
        *k = *s;
    unsigned gen = a->gens[i];
    pthread_mutex_unlock(&a->lock);
    if (fresh)
        return 0;
    int rc = load_key(a, id, now, k, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&a->lock);
    bool same = s->used && strcmp(s->id, id) == 0;
    if (same)
        k->touched = s->touched; /* keep the throttle of last_used_at */
    /* Cache what was read unless a revocation came in meanwhile, and never let an id that
     * does not exist (anyone can send one) push out a key that does. */
    if (a->gens[i] == gen && (k->found || same || !s->used || !s->found))
        *s = *k;
    pthread_mutex_unlock(&a->lock);
    return 0;
}

static void key_forget(struct sa_access *a, const char *id)
{
    unsigned i = slot_of(id);
    pthread_mutex_lock(&a->lock);
    struct key_slot *s = &a->slots[i];
    if (s->used && strcmp(s->id, id) == 0)
        s->used = false;
    a->gens[i]++;
    pthread_mutex_unlock(&a->lock);
}

/* Writes last_used_at when the last write is older than KEY_TOUCH_SECONDS. */
static void key_touch(struct sa_access *a, const char *id, double now)
{
    bool due = false;
    pthread_mutex_lock(&a->lock);
    struct key_slot *s = &a->slots[slot_of(id)];
    if (s->used && strcmp(s->id, id) == 0 && now - s->touched >= KEY_TOUCH_SECONDS) {
        s->touched = now;
        due = true;
    }
    pthread_mutex_unlock(&a->lock);
    if (!due)
        return;
    char at[32];
    sa_access_iso(now, at, sizeof at);
    struct sa_err err = {0};
    if (sa_store_key_touch(a->store, id, at, &err))
        sa_log(SA_LOG_WARN, "key last_used_at not written",
               json_pack("{s:s, s:s}", "key_id", id, "error", err.msg));
}

static int authenticate_key(struct sa_access *a, const char *key, double now,
                            struct sa_principal *out, struct sa_err *err)
{
    char id[SA_APIKEY_ID_LEN + 1];
    if (sa_apikey_parse(key, id))
        return sa_err_set(err, SA_EINVAL, "malformed API key");
    struct key_slot k;
    int rc = key_lookup(a, id, now, &k, err);
    if (rc)
        return rc;
    if (!k.found || !sa_apikey_verify(key, k.salt, k.hash))
        return sa_err_set(err, SA_EINVAL, "unknown API key");
    if (k.revoked)
        return sa_err_set(err, SA_EINVAL, "API key revoked");
    if (k.expires > 0 && now >= k.expires)
        return sa_err_set(err, SA_EINVAL, "API key expired");
    *out = (struct sa_principal){.kind = SA_PRINCIPAL_KEY, .scopes = k.scopes};
    snprintf(out->id, sizeof out->id, "key:%s", id);
    snprintf(out->name, sizeof out->name, "%s", k.name);
    key_touch(a, id, now);
    return 0;
}

int sa_access_authenticate(struct sa_access *a, const char *credential, bool bearer, double now,
                           struct sa_principal *out, struct sa_err *err)
{
    *out = (struct sa_principal){.kind = SA_PRINCIPAL_NONE};
    if (!credential || !*credential)
        return sa_err_set(err, SA_EINVAL, "empty credential");
    if (strncmp(credential, "sa_", 3) == 0)
        return authenticate_key(a, credential, now, out, err);
    if (!bearer)
        return sa_err_set(err, SA_EINVAL, "malformed API key");
    if (!a->jwt)
        return sa_err_set(err, SA_EINVAL,
                          "not an API key, and bearer tokens (JWT) are not configured");
    struct sa_jwt_claims c;
    int rc = sa_jwt_verify(a->jwt, credential, (long long)now, &c, err);
    if (rc)
        return rc;
    *out = (struct sa_principal){.kind = SA_PRINCIPAL_TOKEN, .scopes = c.scopes};
    snprintf(out->id, sizeof out->id, "jwt:%s", c.subject);
    snprintf(out->name, sizeof out->name, "%s", c.subject);
    return 0;
}

/* ---- keys --------------------------------------------------------------------------- */

/* The JSON array of a "read,write" scope list. */
static json_t *scope_array(const char *scopes)
{
    json_t *arr = json_array();
    const char *p = scopes ? scopes : "";
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n)
            json_array_append_new(arr, json_stringn(p, n));
        p += n;
        p += *p == ',';
    }
    return arr;
}

/* A stored key as clients see it: scopes as an array. */
static void key_for_client(json_t *k)
{
    const char *scopes = json_string_value(json_object_get(k, "scopes"));
    json_object_set_new(k, "scopes", scope_array(scopes));
}

static bool valid_name(const char *name, struct sa_err *err)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 100) {
        sa_err_set(err, SA_EINVAL, "name must be 1 to 100 characters");
        return false;
    }
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            sa_err_set(err, SA_EINVAL, "name must not contain control characters");
            return false;
        }
    }
    return true;
}

int sa_access_key_create(struct sa_access *a, const char *name, const char *scopes,
                         const char *expires_at, const char *created_by, double now, json_t **out,
                         struct sa_err *err)
{
    *out = NULL;
    if (!valid_name(name, err))
        return SA_EINVAL;
    sa_scopes set;
    int rc = sa_scopes_parse(scopes, &set, err);
    if (rc)
        return rc;
    double exp = 0;
    if (expires_at && sa_access_parse_iso(expires_at, &exp))
        return sa_err_set(err, SA_EINVAL,
                          "expires_at must be a UTC time such as 2027-01-31T00:00:00Z");
    if (expires_at && exp <= now)
        return sa_err_set(err, SA_EINVAL, "expires_at must be in the future");
    struct sa_apikey_secret k;
    if ((rc = sa_apikey_generate(&k, err)))
        return rc;
    char canon[64], created[32], expires[32];
    sa_scopes_format(set, canon, sizeof canon);
    sa_access_iso(now, created, sizeof created);
    if (expires_at)
        sa_access_iso(exp, expires, sizeof expires);
    struct sa_key_row row = {.id = k.id,
                             .name = name,
                             .scopes = canon,
                             .salt = k.salt,
                             .hash = k.hash,
                             .created_at = created,
                             .expires_at = expires_at ? expires : NULL,
                             .created_by = created_by};
    if ((rc = sa_store_key_insert(a->store, &row, err)))
        return rc;
    *out = json_pack("{s:s, s:s, s:o, s:s, s:s?, s:s, s:s}", "id", k.id, "name", name, "scopes",
                     scope_array(canon), "created_at", created, "expires_at",
                     expires_at ? expires : NULL, "created_by", created_by, "key", k.key);
    explicit_bzero(&k, sizeof k);
    return *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}

int sa_access_key_list(struct sa_access *a, json_t **out, struct sa_err *err)
{
    json_t *items = NULL;
    int rc = sa_store_key_list(a->store, &items, err);
    if (rc)
        return rc;
    size_t i;
    json_t *k;
    json_array_foreach(items, i, k) key_for_client(k);
    *out = json_pack("{s:o}", "items", items);
    return 0;
}

int sa_access_key_revoke(struct sa_access *a, const char *id, double now, json_t **out,
                         bool *changed, struct sa_err *err)
{
    char at[32];
    sa_access_iso(now, at, sizeof at);
    *changed = false;
    /* revoked already? then nothing changes (the store keeps the first time); asked
     * before, since two revocations within one millisecond would carry the same time */
    json_t *before = NULL;
    int rc = sa_store_key_get(a->store, id, &before, err);
    if (rc)
        return rc;
    bool was = json_is_string(json_object_get(before, "revoked_at"));
    json_decref(before);
    rc = sa_store_key_revoke(a->store, id, at, out, err);
    key_forget(a, id);
    if (rc)
        return rc;
    *changed = !was;
    key_for_client(*out);
    return 0;
}

int sa_access_bootstrap(struct sa_access *a, double now, char *key, size_t cap, bool *created,
                        struct sa_err *err)
{
    *created = false;
    long n = 0;
    int rc = sa_store_key_count(a->store, &n, err);
    if (rc || n > 0)
        return rc;
    json_t *k = NULL;
    if ((rc = sa_access_key_create(a, "first admin key", "admin", NULL, "server:first-start", now,
                                   &k, err)))
        return rc;
    snprintf(key, cap, "%s", json_string_value(json_object_get(k, "key")));
    json_t *detail = json_pack("{s:s, s:[s]}", "name", "first admin key", "scopes", "admin");
    const char *id = json_string_value(json_object_get(k, "id"));
    rc =
        sa_access_audit(a, "server:first-start", "key.create", id, "first-start", detail, now, err);
    json_decref(detail);
    json_decref(k);
    if (rc)
        return rc;
    *created = true;
    return 0;
}

/* ---- rate limits -------------------------------------------------------------------- */

int sa_access_limit_request(struct sa_access *a, const struct sa_principal *p, double now,
                            struct sa_limit *out, struct sa_err *err)
{
    *out = (struct sa_limit){.allowed = true};
    if (a->per_minute <= 0)
        return 0;
    return sa_limiter_take(a->limiter, p->id, a->per_minute, now, out, err);
}

int sa_access_limit_agent(struct sa_access *a, const struct sa_principal *p, const char *agent,
                          double now, struct sa_limit *out, struct sa_err *err)
{
    *out = (struct sa_limit){.allowed = true};
    long limit = sa_limit_spec_for(&a->agent_limits, agent);
    if (limit <= 0)
        return 0;
    char key[sizeof p->id + 40];
    snprintf(key, sizeof key, "%s|agent:%s", p->id, agent);
    return sa_limiter_hit(a->limiter, key, limit, 3600, now, out, err);
}

/* The failures' window key: one per client address, an IPv6 one by its /64 (a host holds
 * a whole /64: counted per address, each of its 2^64 would have a budget of its own), an
 * IPv4-mapped one as the IPv4 address it is. */
static void failure_key(const char *client_addr, char *key, size_t cap)
{
    struct in6_addr a6;
    char text[INET6_ADDRSTRLEN];
    if (strchr(client_addr, ':') && inet_pton(AF_INET6, client_addr, &a6) == 1) {
        if (IN6_IS_ADDR_V4MAPPED(&a6)) {
            if (inet_ntop(AF_INET, &a6.s6_addr[12], text, sizeof text)) {
                snprintf(key, cap, "authfail|%s", text);
                return;
            }
        } else {
            memset(&a6.s6_addr[8], 0, 8);
            if (inet_ntop(AF_INET6, &a6, text, sizeof text)) {
                snprintf(key, cap, "authfail|%s/64", text);
                return;
            }
        }
    }
    snprintf(key, cap, "authfail|%.64s", client_addr);
}

int sa_access_failure_count(struct sa_access *a, const char *client_addr, double now,
                            struct sa_limit *out, struct sa_err *err)
{
    char key[96];
    failure_key(client_addr, key, sizeof key);
    return sa_limiter_hit(a->limiter, key, a->failures_per_minute, 60, now, out, err);
}

unsigned long sa_access_limiter_failures(struct sa_access *a)
{
    return a->shared_limiter ? sa_limiter_redis_failures(a->limiter) : 0;
}

/* ---- audit -------------------------------------------------------------------------- */

int sa_access_audit(struct sa_access *a, const char *principal, const char *action,
                    const char *target, const char *request_id, const json_t *detail, double now,
                    struct sa_err *err)
{
    char at[32];
    sa_access_iso(now, at, sizeof at);
    struct sa_audit_row row = {.at = at,
                               .principal = principal,
                               .action = action,
                               .target = target,
                               .request_id = request_id,
                               .detail = detail};
    return sa_store_audit_append(a->store, &row, err);
}

int sa_access_audit_list(struct sa_access *a, const struct sa_audit_filter *f, json_t **out,
                         struct sa_err *err)
{
    struct sa_audit_query q = {.action = f->action,
                               .principal = f->principal,
                               .target = f->target,
                               .since = f->since,
                               .until = f->until,
                               .before_id = f->before_id,
                               .limit = f->limit};
    return sa_store_audit_list(a->store, &q, out, err);
}
