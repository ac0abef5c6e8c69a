/* The access service on a real SQLite store with a moved clock: keys to principals,
 * expiry, revocation here and on another instance (the 5 s cache), the first admin key,
 * last-use throttling, key validation, rate limits, audit, and the start-up refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/access.h"
#include "base/config.h"
#include "store/store.h"

static double now_s = 1.8e9; /* 2027-01-15 */
static double test_now(void)
{
    return now_s;
}

struct fx {
    char dir[64], url[128];
    struct sa_config cfg;
    struct sa_store *store;
    struct sa_access *a;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/sa-access-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->url, sizeof f->url, "sqlite://%s/db.sqlite", f->dir);
    struct sa_err err = {0};
    if (sa_config_from_env(&f->cfg, &err))
        return -1;
    f->cfg.agent_rate_limits = "100,marketing=2";
    f->cfg.rate_limit_per_minute = 3;
    if (sa_store_open(f->url, 2, &f->store, &err) || sa_store_migrate(f->store, &err) ||
        sa_access_open(&f->cfg, f->store, &f->a, &err)) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    sa_access_set_clock(f->a, test_now);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sa_access_close(f->a);
    sa_store_close(f->store);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

/* Creates a key; returns its secret (static buffer) and id. */
static const char *key(struct sa_access *a, const char *scopes, const char *expires, char id[32])
{
    static char secret[128];
    json_t *k = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_access_key_create(a, "test", scopes, expires, "cli:test", now_s, &k, &err),
                     0);
    snprintf(secret, sizeof secret, "%s", json_string_value(json_object_get(k, "key")));
    if (id)
        snprintf(id, 32, "%s", json_string_value(json_object_get(k, "id")));
    json_decref(k);
    return secret;
}

static int auth(struct sa_access *a, const char *cred, struct sa_principal *p, char *why)
{
    struct sa_err err = {0};
    int rc = sa_access_authenticate(a, cred, true, now_s, p, &err);
    if (why)
        snprintf(why, 256, "%s", err.msg);
    return rc;
}

static void test_key_to_principal(void **state)
{
    struct fx *f = *state;
    char id[32], why[256];
    const char *k = key(f->a, "read write", NULL, id);
    struct sa_principal p;
    assert_int_equal(auth(f->a, k, &p, NULL), 0);
    assert_int_equal(p.kind, SA_PRINCIPAL_KEY);
    assert_true(strncmp(p.id, "key:", 4) == 0 && strcmp(p.id + 4, id) == 0);
    assert_true(sa_scopes_allow(p.scopes, SA_SCOPE_READ));
    assert_true(sa_scopes_allow(p.scopes, SA_SCOPE_WRITE));
    assert_false(sa_scopes_allow(p.scopes, SA_SCOPE_APPROVE));
    /* one character changed in the secret, a wrong id, garbage */
    char bad[128];
    snprintf(bad, sizeof bad, "%s", k);
    bad[40] = bad[40] == 'A' ? 'B' : 'A';
    assert_int_equal(auth(f->a, bad, &p, why), SA_EINVAL);
    assert_string_equal(why, "unknown API key");
    assert_int_equal(p.kind, SA_PRINCIPAL_NONE);
    assert_int_equal(auth(f->a, "sa_nothex", &p, why), SA_EINVAL);
    assert_int_equal(auth(f->a, "", &p, why), SA_EINVAL);
    /* no JWT configured: a token is refused with that reason */
    assert_int_equal(auth(f->a, "eyJhbGciOiJIUzI1NiJ9.e30.x", &p, why), SA_EINVAL);
    assert_non_null(strstr(why, "not configured"));
}

static void test_expiry_and_revocation(void **state)
{
    struct fx *f = *state;
    char id[32], why[256];
    char exp[32];
    sa_access_iso(now_s + 60, exp, sizeof exp);
    char k[128];
    snprintf(k, sizeof k, "%s", key(f->a, "read", exp, id));
    struct sa_principal p;
    assert_int_equal(auth(f->a, k, &p, NULL), 0);
    now_s += 61; /* past its expiry: no sleeping, the clock moved */
    assert_int_equal(auth(f->a, k, &p, why), SA_EINVAL);
    assert_string_equal(why, "API key expired");

    /* revoked here: refused at once */
    char id2[32];
    snprintf(k, sizeof k, "%s", key(f->a, "read", NULL, id2));
    assert_int_equal(auth(f->a, k, &p, NULL), 0);
    json_t *out = NULL;
    struct sa_err err = {0};
    bool changed = false;
    assert_int_equal(sa_access_key_revoke(f->a, id2, now_s, &out, &changed, &err), 0);
    assert_true(changed);
    assert_true(json_is_string(json_object_get(out, "revoked_at")));
    assert_true(json_is_array(json_object_get(out, "scopes")));
    json_decref(out);
    assert_int_equal(auth(f->a, k, &p, why), SA_EINVAL);
    assert_string_equal(why, "API key revoked");
    now_s += 1; /* revoked again later: nothing changes, the first time stays */
    assert_int_equal(sa_access_key_revoke(f->a, id2, now_s, &out, &changed, &err), 0);
    assert_false(changed);
    json_decref(out);
    assert_int_equal(sa_access_key_revoke(f->a, "ffffffffffffffff", now_s, &out, &changed, &err),
                     SA_ENOTFOUND);

    /* revoked by another instance on the same database: this one notices within the
     * key cache's 5 s, not before */
    char id3[32];
    snprintf(k, sizeof k, "%s", key(f->a, "read", NULL, id3));
    assert_int_equal(auth(f->a, k, &p, NULL), 0); /* cached now */
    struct sa_store *s2 = NULL;
    struct sa_access *other = NULL;
    assert_int_equal(sa_store_open(f->url, 1, &s2, &err), 0);
    assert_int_equal(sa_access_open(&f->cfg, s2, &other, &err), 0);
    assert_int_equal(sa_access_key_revoke(other, id3, now_s, &out, &changed, &err), 0);
    json_decref(out);
    now_s += 1;
    assert_int_equal(auth(f->a, k, &p, NULL), 0); /* still in the cache */
    now_s += 5;
    assert_int_equal(auth(f->a, k, &p, why), SA_EINVAL);
    assert_string_equal(why, "API key revoked");
    sa_access_close(other);
    sa_store_close(s2);
}

static void test_bootstrap_and_list(void **state)
{
    struct fx *f = *state;
    char first[128];
    bool created = false;
    struct sa_err err = {0};
    assert_int_equal(sa_access_bootstrap(f->a, now_s, first, sizeof first, &created, &err), 0);
    assert_true(created);
    struct sa_principal p;
    assert_int_equal(auth(f->a, first, &p, NULL), 0);
    assert_true(sa_scopes_allow(p.scopes, SA_SCOPE_ADMIN));
    assert_true(sa_scopes_allow(p.scopes, SA_SCOPE_APPROVE));
    char again[128] = "";
    assert_int_equal(sa_access_bootstrap(f->a, now_s, again, sizeof again, &created, &err), 0);
    assert_false(created);
    assert_string_equal(again, "");
    /* the list: no secret, no salt, no hash; last use written (once a minute at most) */
    json_t *list = NULL;
    assert_int_equal(sa_access_key_list(f->a, &list, &err), 0);
    char *text = json_dumps(list, 0);
    assert_null(strstr(text, first));
    assert_null(strstr(text, "salt"));
    assert_null(strstr(text, "hash"));
    assert_non_null(strstr(text, "last_used_at\": \"20"));
    free(text);
    json_decref(list);
}

static void test_key_validation(void **state)
{
    struct fx *f = *state;
    json_t *k = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_access_key_create(f->a, "", "read", NULL, "t", now_s, &k, &err), SA_EINVAL);
    assert_int_equal(sa_access_key_create(f->a, "a\nb", "read", NULL, "t", now_s, &k, &err),
                     SA_EINVAL);
    assert_int_equal(sa_access_key_create(f->a, "x", "read,root", NULL, "t", now_s, &k, &err),
                     SA_EINVAL);
    assert_non_null(strstr(err.msg, "root"));
    assert_int_equal(sa_access_key_create(f->a, "x", "", NULL, "t", now_s, &k, &err), SA_EINVAL);
    assert_int_equal(sa_access_key_create(f->a, "x", "read", "tomorrow", "t", now_s, &k, &err),
                     SA_EINVAL);
    assert_int_equal(
        sa_access_key_create(f->a, "x", "read", "2001-01-01T00:00:00Z", "t", now_s, &k, &err),
        SA_EINVAL);
    assert_non_null(strstr(err.msg, "future"));
    assert_null(k);
}

static void test_limits_and_audit(void **state)
{
    struct fx *f = *state;
    struct sa_principal p = {.kind = SA_PRINCIPAL_KEY, .id = "key:0123456789abcdef"};
    struct sa_limit l;
    struct sa_err err = {0};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sa_access_limit_request(f->a, &p, now_s, &l, &err), 0);
        assert_true(l.allowed);
    }
    assert_int_equal(sa_access_limit_request(f->a, &p, now_s, &l, &err), 0);
    assert_false(l.allowed);
    assert_int_equal(l.retry_after, 20); /* 3 a minute: one token every 20 s */
    now_s += 20;
    assert_int_equal(sa_access_limit_request(f->a, &p, now_s, &l, &err), 0);
    assert_true(l.allowed);
    /* the agent override: marketing twice an hour; qualification has the default */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(sa_access_limit_agent(f->a, &p, "marketing", now_s, &l, &err), 0);
        assert_true(l.allowed);
    }
    assert_int_equal(sa_access_limit_agent(f->a, &p, "marketing", now_s, &l, &err), 0);
    assert_false(l.allowed);
    assert_int_equal(sa_access_limit_agent(f->a, &p, "qualification", now_s, &l, &err), 0);
    assert_true(l.allowed);
    assert_int_equal(l.limit, 100);
    /* another principal is not affected */
    struct sa_principal q = {.kind = SA_PRINCIPAL_KEY, .id = "key:fedcba9876543210"};
    assert_int_equal(sa_access_limit_agent(f->a, &q, "marketing", now_s, &l, &err), 0);
    assert_true(l.allowed);

    /* audit: appended with the time given, listed with filters */
    json_t *d = json_pack("{s:s}", "type", "accept");
    assert_int_equal(
        sa_access_audit(f->a, "key:x", "approval.decide", "appr-1", "req-1", d, now_s, &err), 0);
    json_decref(d);
    assert_int_equal(
        sa_access_audit(f->a, "cli:root", "key.create", "k1", "cli", NULL, now_s, &err), 0);
    json_t *page = NULL;
    struct sa_audit_filter flt = {.action = "approval.decide", .limit = 10};
    assert_int_equal(sa_access_audit_list(f->a, &flt, &page, &err), 0);
    json_t *items = json_object_get(page, "items");
    assert_int_equal(json_array_size(items), 1);
    json_t *e = json_array_get(items, 0);
    assert_string_equal(json_string_value(json_object_get(e, "target")), "appr-1");
    assert_string_equal(json_string_value(json_object_get(json_object_get(e, "detail"), "type")),
                        "accept");
    char at[40];
    sa_access_iso(now_s, at, sizeof at);
    assert_string_equal(json_string_value(json_object_get(e, "at")), at);
    json_decref(page);
}

/* Failed authentications count per client address: an IPv6 one by its /64 (each host
 * holds one), an IPv4-mapped one as its IPv4 address; other addresses are apart. */
static void test_failure_addresses(void **state)
{
    struct fx *f = *state;
    struct sa_limit l;
    struct sa_err err = {0};
    double t = 1798200000.0; /* 2026-12-25 ... :00: a whole clock minute ahead */
    long limit = f->cfg.auth_failures_per_minute;
    assert_true(limit > 2);
    for (long i = 0; i < limit; i++) {
        char addr[48];
        snprintf(addr, sizeof addr, "2001:db8:0:7::%lx", i + 1); /* one /64, many hosts */
        assert_int_equal(sa_access_failure_count(f->a, addr, t, &l, &err), 0);
        assert_true(l.allowed);
    }
    assert_int_equal(sa_access_failure_count(f->a, "2001:db8:0:7:ffff::9", t, &l, &err), 0);
    assert_false(l.allowed);
    assert_int_equal(sa_access_failure_count(f->a, "2001:db8:0:8::1", t, &l, &err), 0);
    assert_true(l.allowed); /* another /64 */
    for (long i = 0; i < limit; i++)
        assert_int_equal(sa_access_failure_count(f->a, "::ffff:192.0.2.7", t, &l, &err), 0);
    assert_int_equal(sa_access_failure_count(f->a, "192.0.2.7", t, &l, &err), 0);
    assert_false(l.allowed); /* the same host */
    assert_int_equal(sa_access_failure_count(f->a, "192.0.2.8", t, &l, &err), 0);
    assert_true(l.allowed);
}

static void test_startup_refusals(void **state)
{
    struct fx *f = *state;
    struct sa_config c = f->cfg;
    struct sa_access *a = NULL;
    struct sa_err err = {0};
    c.auth = SA_AUTH_OFF;
    c.host = "0.0.0.0";
    assert_int_equal(sa_access_open(&c, f->store, &a, &err), SA_ECONFIG);
    assert_non_null(strstr(err.msg, "AUTH=off"));
    c.host = "localhost";
    assert_int_equal(sa_access_open(&c, f->store, &a, &err), 0);
    assert_false(sa_access_required(a));
    sa_access_close(a);
    c.host = "::1";
    assert_int_equal(sa_access_open(&c, f->store, &a, &err), 0);
    sa_access_close(a);
    c = f->cfg;
    c.agent_rate_limits = "100,marketing=lots";
    assert_int_equal(sa_access_open(&c, f->store, &a, &err), SA_ECONFIG);
    assert_non_null(strstr(err.msg, "AGENT_RATE_LIMIT_PER_HOUR"));
    c = f->cfg;
    c.jwt_secret = "short";
    assert_int_equal(sa_access_open(&c, f->store, &a, &err), SA_ECONFIG);
    /* AUTH=off: the client address is the principal, with every scope */
    struct sa_principal p;
    sa_access_anonymous("127.0.0.1", &p);
    assert_string_equal(p.id, "addr:127.0.0.1");
    assert_true(sa_scopes_allow(p.scopes, SA_SCOPE_ADMIN));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_key_to_principal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_and_revocation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bootstrap_and_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits_and_audit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_addresses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_startup_refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
