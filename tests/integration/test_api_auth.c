/* Access control over a real socket (issue 10): nothing under /api/ answers without a
 * credential; each scope opens exactly its routes; keys are created once, listed without
 * secrets and revoked at once; JWTs; trusted hosts; CORS; the content types that stop
 * cross-site posts; rate limits; the audit log; the first admin key of a fresh install. */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------------------ */

/* One request with the given credential header line ("" for none). */
static long with_auth(const char *auth, const char *method, const char *path, const char *ct,
                      const char *body, struct resp *r)
{
    harness_auth(auth);
    http(method, path, ct, body, body ? strlen(body) : 0, r);
    harness_auth(NULL);
    return r->status;
}

static long status_with(const char *auth, const char *method, const char *path, const char *ct,
                        const char *body)
{
    struct resp r;
    long st = with_auth(auth, method, path, ct, body, &r);
    resp_free(&r);
    return st;
}

static char *bearer(const char *key)
{
    return strf("Authorization: Bearer %s", key);
}

static const char lead_body[] =
    "{\"agent_type\":\"qualification\",\"input\":{\"company_name\":\"Acme Robotics\","
    "\"contact_name\":\"Dana Ortiz\",\"contact_email\":\"dana@acme-robotics.example\","
    "\"job_title\":\"VP Sales\",\"company_size\":\"201-500\",\"industry\":\"Software\"}}";

/* ---- nothing without a key ----------------------------------------------------------- */

static void test_no_key_no_data(void **state)
{
    (void)state;
    /* what the issue found open: every contact's e-mail, every e-mail body, approvals */
    const char *gets[] = {"/api/leads?q=@",
                          "/api/outbox",
                          "/api/agents/status",
                          "/api/approvals",
                          "/api/keys",
                          "/api/audit",
                          "/api/contacts/dana@acme-robotics.example",
                          "/api/no-such-route",
                          "/api/leads/00000000-0000-4000-8000-000000000000",
                          NULL};
    for (const char **p = gets; *p; p++) {
        struct resp r;
        with_auth("", "GET", *p, NULL, NULL, &r);
        char buf[200];
        if (r.status != 401)
            fail_msg("GET %s without a key: %ld, expected 401: %.200s", *p, r.status, r.body);
        const char *www = resp_header(&r, "WWW-Authenticate", buf, sizeof buf);
        assert_non_null(www);
        assert_non_null(strstr(www, "Bearer"));
        expect_problem(*p, &r, 401, "[\"header\",\"authorization\"]", "unauthorized");
        /* the message says what to send, nothing about what is stored */
        assert_null(strstr(jstr(r.json, "detail.0.msg"), "@"));
        resp_free(&r);
    }
    assert_int_equal(status_with("", "POST", INVOKE, "application/json", lead_body), 401);
    /* OPTIONS is no way around it: without a key (and not a CORS preflight) it is 401 */
    assert_int_equal(status_with("", "OPTIONS", "/api/leads", NULL, NULL), 401);
    assert_int_equal(status_with(NULL, "OPTIONS", "/api/leads", NULL, NULL), 204);
    assert_int_equal(status_with("", "POST", "/api/approvals/00000000-0000-4000-8000-000000000000",
                                 "application/json", "{\"type\":\"accept\"}"),
                     401);
    /* bad credentials: a wrong key, a malformed one, another scheme, a JWT with none set */
    const char *bad[] = {
        "Authorization: Bearer sa_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "Authorization: Bearer not-a-key",
        "Authorization: Basic YWRtaW46YWRtaW4=",
        "X-API-Key: sa_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "Authorization: Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        NULL};
    for (const char **b = bad; *b; b++) {
        struct resp r;
        with_auth(*b, "GET", "/api/leads", NULL, NULL, &r);
        char buf[200];
        if (r.status != 401)
            fail_msg("%s: %ld, expected 401", *b, r.status);
        assert_non_null(
            strstr(resp_header(&r, "WWW-Authenticate", buf, sizeof buf), "invalid_token"));
        resp_free(&r);
    }
    /* the public routes stay open; /health says only its status without a key */
    struct resp r;
    with_auth("", "GET", "/health", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *h = json_loadb(r.body, r.len, 0, NULL);
    assert_non_null(h);
    assert_int_equal(json_object_size(h), 1);
    assert_string_equal(json_string_value(json_object_get(h, "status")), "healthy");
    json_decref(h);
    resp_free(&r);
    json_t *full = http_json("GET", "/health", NULL, &r); /* the admin key: the details */
    assert_non_null(jget(full, "checks"));
    resp_free(&r);
    assert_int_equal(status_with("", "GET", "/metrics", NULL, NULL), 401); /* METRICS_AUTH=key */
}

/* ---- scopes --------------------------------------------------------------------------- */

static void test_scopes(void **state)
{
    (void)state;
    char rid[32], wid[32], aid[32];
    char *rk = create_api_key("dashboard", "[\"read\"]", rid);
    char *wk = create_api_key("crm-sync", "[\"write\"]", wid);
    char *ak = create_api_key("sales-manager", "[\"approve\",\"read\"]", aid);
    char *read = bearer(rk), *write = bearer(wk), *appr = bearer(ak);
    const char *approval = "/api/approvals/00000000-0000-4000-8000-000000000000";

    /* read: lists and records, nothing that changes state */
    assert_int_equal(status_with(read, "GET", "/api/leads", NULL, NULL), 200);
    assert_int_equal(status_with(read, "GET", "/api/agents/status", NULL, NULL), 200);
    assert_int_equal(status_with(read, "GET", "/metrics", NULL, NULL), 200);
    struct resp r;
    with_auth(read, "POST", INVOKE, "application/json", lead_body, &r);
    expect_problem("read key invokes", &r, 403, "[\"header\",\"authorization\"]", "missing_scope");
    assert_non_null(strstr(r.body, "'write'"));
    resp_free(&r);
    assert_int_equal(
        status_with(read, "POST", approval, "application/json", "{\"type\":\"accept\"}"), 403);
    assert_int_equal(status_with(read, "GET", "/api/keys", NULL, NULL), 403);

    /* write: invokes and imports, but neither reads lists nor answers approvals */
    assert_int_equal(status_with(write, "POST", INVOKE, "application/json", lead_body), 200);
    assert_int_equal(status_with(write, "GET", "/api/leads", NULL, NULL), 403);
    with_auth(write, "POST", approval, "application/json", "{\"type\":\"accept\"}", &r);
    expect_problem("write key approves", &r, 403, NULL, "missing_scope");
    assert_non_null(strstr(r.body, "'approve'"));
    resp_free(&r);
    assert_int_equal(
        status_with(write, "POST", "/api/agents/qualification/reset", "application/json", NULL),
        403);

    /* approve: passes the scope check (the approval does not exist: 404, not 403) */
    assert_int_equal(
        status_with(appr, "POST", approval, "application/json", "{\"type\":\"accept\"}"), 404);
    assert_int_equal(status_with(appr, "GET", "/api/audit", NULL, NULL), 403);

    /* X-API-Key works like Bearer; two credentials that disagree are refused */
    char *xk = strf("X-API-Key: %s", rk);
    assert_int_equal(status_with(xk, "GET", "/api/leads", NULL, NULL), 200);
    free(xk);

    /* admin (the first key) includes the rest */
    assert_int_equal(status_with(NULL, "GET", "/api/keys", NULL, NULL), 200);
    assert_int_equal(status_with(NULL, "GET", "/api/leads", NULL, NULL), 200);

    /* the list never shows a secret or a hash; last use is recorded */
    json_t *list = http_json("GET", "/api/keys", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_null(strstr(r.body, rk));
    assert_null(strstr(r.body, "\"hash\""));
    assert_null(strstr(r.body, "\"salt\""));
    assert_true(json_array_size(json_object_get(list, "items")) >= 4);
    resp_free(&r);

    /* revoked: refused at once, with the reason */
    char *path = strf("/api/keys/%s", rid);
    json_t *rev = http_json("DELETE", path, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(jstr(rev, "revoked_at"));
    resp_free(&r);
    with_auth(read, "GET", "/api/leads", NULL, NULL, &r);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.body, "revoked"));
    resp_free(&r);
    free(path);
    assert_int_equal(status_with(NULL, "DELETE", "/api/keys/ffffffffffffffff", NULL, NULL), 404);

    /* bad requests to create keys name the field */
    json_t *j = http_json("POST", "/api/keys", "{\"name\":\"x\",\"scopes\":[\"root\"]}", &r);
    (void)j;
    expect_problem("unknown scope", &r, 422, "[\"body\",\"scopes\"]", NULL);
    resp_free(&r);
    http_json("POST", "/api/keys", "{\"scopes\":[\"read\"]}", &r);
    expect_problem("no name", &r, 422, "[\"body\",\"name\"]", NULL);
    resp_free(&r);
    http_json("POST", "/api/keys",
              "{\"name\":\"old\",\"scopes\":[\"read\"],\"expires_at\":\"2001-01-01T00:00:00Z\"}",
              &r);
    expect_problem("expiry in the past", &r, 422, "[\"body\",\"expires_at\"]", NULL);
    resp_free(&r);
    free(rk), free(wk), free(ak), free(read), free(write), free(appr);
}

/* ---- the command line ------------------------------------------------------------------ */

static void test_cli_keys(void **state)
{
    (void)state;
    /* keys create prints the key alone on the last line; the running server takes it */
    char *cmd = strf("DATABASE_URL='%s' '%s' keys create --name 'ci job' --scopes read 2>&1",
                     main_srv.db_url, SA_BINARY);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[512], last[512] = "";
    while (fgets(line, sizeof line, p))
        snprintf(last, sizeof last, "%s", line);
    assert_int_equal(pclose(p), 0);
    free(cmd);
    last[strcspn(last, "\n")] = '\0';
    assert_int_equal(strncmp(last, "sa_", 3), 0);
    assert_int_equal(strlen(last), 63);
    char *auth = bearer(last);
    assert_int_equal(status_with(auth, "GET", "/api/leads", NULL, NULL), 200);
    assert_int_equal(status_with(auth, "POST", INVOKE, "application/json", lead_body), 403);
    free(auth);
    /* a bad scope is a usage error (exit 2) naming it */
    cmd = strf("DATABASE_URL='%s' '%s' keys create --name x --scopes sudo 2>&1", main_srv.db_url,
               SA_BINARY);
    p = popen(cmd, "r");
    char out[1024] = "";
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    assert_non_null(strstr(out, "sudo"));
    free(cmd);
}

/* ---- cross-site requests ---------------------------------------------------------------- */

#define NO_RUN "/api/runs/00000000-0000-4000-8000-000000000000/cancel"

/* A raw POST of path with the extra header lines (each ending in CRLF) and no body;
 * returns the status code. */
static int raw_post(const char *path, const char *headers)
{
    char req[1024], line[256];
    int n = snprintf(req, sizeof req,
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sConnection: close\r\n\r\n", path,
                     headers);
    assert_int_equal(raw_exchange(req, (size_t)n, line, sizeof line), 1);
    return status_code_of(line);
}

/* The LangGraph SDK's runs.cancel: a POST with no body and no Content-Type. With a
 * credential header (which no cross-site page can send without a preflight) it reaches
 * the handler (its 404 names the run); with a body, or a type a form can send, it is
 * still 415. */
static void cancel_without_type(void)
{
    const char *key = harness_auth_header() + strlen("Authorization: Bearer ");
    char *xk = strf("X-API-Key: %s", key);
    struct resp r;
    with_auth(xk, "POST", NO_RUN, NULL, NULL, &r); /* Content-Length: 0 */
    expect_problem("bodyless cancel with X-API-Key", &r, 404, "[\"path\",\"run_id\"]", NULL);
    resp_free(&r);
    http("POST", NO_RUN, NULL, NULL, 0, &r); /* Authorization: Bearer */
    expect_problem("bodyless cancel with a bearer", &r, 404, "[\"path\",\"run_id\"]", NULL);
    resp_free(&r);
    /* the Agent Server API's cancel, the SDK's own call */
    with_auth(xk, "POST",
              "/threads/00000000-0000-4000-8000-000000000001/runs/"
              "00000000-0000-4000-8000-000000000002/cancel",
              NULL, NULL, &r);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    /* no Content-Length at all */
    char *hdr = strf("%s\r\n", xk);
    assert_int_equal(raw_post(NO_RUN, hdr), 404);
    free(hdr);
    /* a body without a type, even "{}" or an empty chunked one: 415 */
    with_auth(xk, "POST", NO_RUN, NULL, "{}", &r);
    expect_problem("cancel with a body and no type", &r, 415, "[\"header\",\"content-type\"]",
                   NULL);
    resp_free(&r);
    hdr = strf("%s\r\nTransfer-Encoding: chunked\r\n", xk);
    char req[1024], line[256];
    int n = snprintf(req, sizeof req,
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sConnection: close\r\n\r\n0\r\n\r\n",
                     NO_RUN, hdr);
    assert_int_equal(raw_exchange(req, (size_t)n, line, sizeof line), 1);
    assert_int_equal(status_code_of(line), 415);
    free(hdr);
    /* a type a form or no-cors fetch may send stays 415, key or not */
    with_auth(xk, "POST", NO_RUN, "text/plain", "", &r);
    expect_problem("bodyless text/plain with a key", &r, 415, "[\"header\",\"content-type\"]",
                   NULL);
    resp_free(&r);
    assert_int_equal(status_with(xk, "POST", NO_RUN, "application/x-www-form-urlencoded", ""), 415);
    /* an empty credential header is no credential: 401 before the type is looked at */
    assert_int_equal(raw_post(NO_RUN, "X-API-Key: \r\nContent-Length: 0\r\n"), 401);
    free(xk);
}

static void test_cross_site(void **state)
{
    (void)state;
    /* a Blob sent with fetch(no-cors) has no Content-Type; a form has its own: both 415
     * before anything happens */
    struct resp r;
    http("POST", INVOKE, NULL, lead_body, strlen(lead_body), &r);
    expect_problem("no content type", &r, 415, "[\"header\",\"content-type\"]", NULL);
    resp_free(&r);
    http("POST", "/api/approvals/00000000-0000-4000-8000-000000000000", "text/plain",
         "{\"type\":\"accept\"}", 16, &r);
    assert_int_equal(r.status, 415);
    resp_free(&r);
    const char csv[] = "company_name,contact_email\nAcme,a@acme.example\n";
    http("POST", "/api/leads/import", "text/plain", csv, sizeof csv - 1, &r);
    expect_problem("csv as text/plain", &r, 415, "[\"header\",\"content-type\"]", NULL);
    resp_free(&r);
    http("POST", "/api/leads/import", "multipart/form-data; boundary=x", csv, sizeof csv - 1, &r);
    assert_int_equal(r.status, 415);
    resp_free(&r);
    cancel_without_type();

    /* DNS rebinding: the page's own name arrives as Host */
    struct resp hr;
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /api/leads HTTP/1.1\r\nHost: attacker.example\r\n%s\r\n"
                     "Connection: close\r\n\r\n",
                     harness_auth_header());
    char line[256];
    assert_int_equal(raw_exchange(req, (size_t)n, line, sizeof line), 1);
    assert_int_equal(status_code_of(line), 400);
    n = snprintf(req, sizeof req,
                 "GET /api/leads?limit=1 HTTP/1.1\r\nHost: localhost:%d\r\n%s\r\n"
                 "Connection: close\r\n\r\n",
                 harness_port(), harness_auth_header());
    assert_int_equal(raw_exchange(req, (size_t)n, line, sizeof line), 1);
    assert_int_equal(status_code_of(line), 200);
    n = snprintf(req, sizeof req,
                 "GET /api/leads?limit=1 HTTP/1.1\r\nHost: localhost:80:evil.example\r\n%s\r\n"
                 "Connection: close\r\n\r\n",
                 harness_auth_header());
    assert_int_equal(raw_exchange(req, (size_t)n, line, sizeof line), 1);
    assert_int_equal(status_code_of(line), 400);
    /* absolute-form targets are served (RFC 9112 3.2.2), their host checked instead of
     * Host's */
    n = snprintf(req, sizeof req,
                 "GET http://localhost:%d/api/leads?limit=1 HTTP/1.1\r\nHost: x\r\n%s\r\n"
                 "Connection: close\r\n\r\n",
                 harness_port(), harness_auth_header());
    assert_int_equal(raw_exchange(req, (size_t)n, line, sizeof line), 1);
    assert_int_equal(status_code_of(line), 200);
    n = snprintf(req, sizeof req,
                 "GET http://attacker.example/api/leads HTTP/1.1\r\nHost: localhost\r\n%s\r\n"
                 "Connection: close\r\n\r\n",
                 harness_auth_header());
    assert_int_equal(raw_exchange(req, (size_t)n, line, sizeof line), 1);
    assert_int_equal(status_code_of(line), 400);
    /* no CORS configured: no Access-Control-* header for any origin */
    harness_auth(NULL);
    http("OPTIONS", "/api/leads", NULL, NULL, 0, &hr);
    char buf[200];
    assert_null(resp_header(&hr, "Access-Control-Allow-Origin", buf, sizeof buf));
    resp_free(&hr);
}

/* ---- audit ------------------------------------------------------------------------------ */

static void test_audit(void **state)
{
    (void)state;
    struct resp r;
    char kid[32];
    char *k = create_api_key("audited", "[\"read\"]", kid);
    free(k);
    char *path = strf("/api/keys/%s", kid);
    http_json("DELETE", path, NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    http_json("DELETE", path, NULL, &r); /* again: the same answer, no second record */
    assert_int_equal(r.status, 200);
    resp_free(&r);
    free(path);
    http_json("POST", "/api/contacts/jane.doe@acme-robotics.example/do-not-contact",
              "{\"reason\":\"asked by phone\"}", &r);
    assert_int_equal(r.status, 200);
    char rid[128];
    assert_non_null(resp_header(&r, "X-Request-ID", rid, sizeof rid));
    resp_free(&r);
    const char csv[] = "company_name,contact_name,contact_email\n"
                       "Helio Robotics,Dan Ortiz,dan.ortiz@heliorobotics.example\n";
    http("POST", "/api/leads/import", "text/csv", csv, sizeof csv - 1, &r);
    assert_true(r.status == 200 || r.status == 201);
    resp_free(&r);

    json_t *page = http_json("GET", "/api/audit?limit=100", NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(page, "items");
    bool created = false, dnc = false, imported = false, first = false;
    int revoked = 0;
    size_t i;
    json_t *e;
    json_array_foreach(items, i, e)
    {
        const char *action = jstr(e, "action"), *target = jstr(e, "target");
        assert_non_null(jstr(e, "at"));
        assert_non_null(jstr(e, "principal"));
        const char *who = jstr(e, "principal");
        assert_true(strncmp(who, "key:", 4) == 0 || strncmp(who, "cli:", 4) == 0 ||
                    strcmp(who, "server:first-start") == 0);
        created |= strcmp(action, "key.create") == 0 && strcmp(target, kid) == 0;
        revoked += strcmp(action, "key.revoke") == 0 && strcmp(target, kid) == 0;
        first |= strcmp(action, "key.create") == 0 &&
                 strcmp(jstr(e, "principal"), "server:first-start") == 0;
        if (strcmp(action, "contact.do_not_contact") == 0 &&
            strcmp(target, "jane.doe@acme-robotics.example") == 0) {
            dnc = true;
            assert_string_equal(jstr(e, "request_id"), rid);
        }
        imported |= strcmp(action, "leads.import") == 0;
    }
    assert_true(created && dnc && imported && first);
    assert_int_equal(revoked, 1);
    resp_free(&r);
    /* filters */
    page = http_json("GET", "/api/audit?action=key.revoke", NULL, &r);
    assert_int_equal(r.status, 200);
    json_array_foreach(json_object_get(page, "items"), i, e)
        assert_string_equal(jstr(e, "action"), "key.revoke");
    assert_true(json_array_size(json_object_get(page, "items")) >= 1);
    resp_free(&r);
    http_json("GET", "/api/audit?since=yesterday", NULL, &r);
    expect_problem("bad since", &r, 422, "[\"query\",\"since\"]", NULL);
    resp_free(&r);
    /* refused changes are not audited: a 403 leaves no record */
    long before = -1;
    page = http_json("GET", "/api/audit?action=agent.reset", NULL, &r);
    before = (long)json_array_size(json_object_get(page, "items"));
    resp_free(&r);
    char *rk = create_api_key("no-admin", "[\"read\",\"write\"]", NULL);
    char *auth = bearer(rk);
    assert_int_equal(
        status_with(auth, "POST", "/api/agents/qualification/reset", "application/json", NULL),
        403);
    page = http_json("GET", "/api/audit?action=agent.reset", NULL, &r);
    assert_int_equal((long)json_array_size(json_object_get(page, "items")), before);
    resp_free(&r);
    free(rk);
    free(auth);
}

/* ---- a second server: CORS, rate limits, JWT, first start ----------------------------- */

static char *b64url(const unsigned char *d, size_t n)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *o = malloc(n * 4 / 3 + 4);
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)d[i] << 16 | (i + 1 < n ? (unsigned)d[i + 1] << 8 : 0) |
                     (i + 2 < n ? d[i + 2] : 0);
        o[k++] = t[v >> 18 & 63];
        o[k++] = t[v >> 12 & 63];
        if (i + 1 < n)
            o[k++] = t[v >> 6 & 63];
        if (i + 2 < n)
            o[k++] = t[v & 63];
    }
    o[k] = '\0';
    return o;
}

/* An HS256 JWT over claims, signed with secret (OpenSSL's HMAC, not our code). */
static char *hs256(const char *secret, const char *claims)
{
    const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char *h = b64url((const unsigned char *)header, strlen(header));
    char *c = b64url((const unsigned char *)claims, strlen(claims));
    char *signing = strf("%s.%s", h, c);
    unsigned char mac[32];
    unsigned len = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)signing, strlen(signing),
         mac, &len);
    char *s = b64url(mac, len);
    char *tok = strf("%s.%s", signing, s);
    free(h), free(c), free(signing), free(s);
    return tok;
}

#define SECRET "test-secret-of-at-least-32-bytes-long!!"

/* True when the comma-separated list names name (any case). */
static bool names(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        p += strspn(p, " ,");
        size_t len = strcspn(p, ",");
        if (len == n && strncasecmp(p, name, n) == 0)
            return true;
        p += len;
    }
    return false;
}

/* A page on an allowed origin can read every header of r that it needs: each one that
 * is not CORS-safelisted (nor CORS's own, nor one only the browser acts on) is in
 * Access-Control-Expose-Headers. */
static void expect_exposed(const char *what, const struct resp *r)
{
    static const char *const browser_only[] = {"Cache-Control",
                                               "Content-Language",
                                               "Content-Length",
                                               "Content-Type",
                                               "Expires",
                                               "Last-Modified",
                                               "Pragma",
                                               "Date",
                                               "Connection",
                                               "Keep-Alive",
                                               "Transfer-Encoding",
                                               "Vary",
                                               "Content-Security-Policy",
                                               "X-Content-Type-Options",
                                               "Referrer-Policy",
                                               "X-Frame-Options"};
    char exposed[512];
    if (!resp_header(r, "Access-Control-Expose-Headers", exposed, sizeof exposed))
        fail_msg("%s: no Access-Control-Expose-Headers", what);
    for (const char *line = r->headers; *line;) {
        size_t len = strcspn(line, "\r\n"), n = strcspn(line, ":");
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(n < len ? n : 0), line);
        bool skip = !name[0] || strncasecmp(name, "Access-Control-", 15) == 0;
        for (size_t i = 0; i < sizeof browser_only / sizeof *browser_only; i++)
            skip |= strcasecmp(name, browser_only[i]) == 0;
        if (!skip && !names(exposed, name))
            fail_msg("%s: the response's %s is not in Access-Control-Expose-Headers (%s)", what,
                     name, exposed);
        line += len;
        line += strspn(line, "\r\n");
    }
}

/* CORS for a browser client on an allowed origin (the LangGraph SDK in Agent Inbox or
 * useStream): the preflight allows Last-Event-ID, and the headers the SDK reads
 * (Content-Location, X-Pagination-*) and the others our routes set are exposed. */
static void cors_browser_client(void)
{
    harness_extra_header("Origin: https://crm.example.com");
    struct resp r;
    char buf[300];
    with_auth("Access-Control-Request-Method: GET", "OPTIONS",
              "/threads/00000000-0000-4000-8000-000000000001/runs/"
              "00000000-0000-4000-8000-000000000002/stream",
              NULL, NULL, &r);
    assert_int_equal(r.status, 204);
    assert_non_null(resp_header(&r, "Access-Control-Allow-Headers", buf, sizeof buf));
    assert_true(names(buf, "Last-Event-ID"));
    assert_true(names(buf, "X-API-Key"));
    assert_true(names(buf, "If-None-Match"));
    resp_free(&r);

    http("POST", "/assistants/search", "application/json", "{\"limit\":1}", 11, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(resp_header(&r, "X-Pagination-Next", buf, sizeof buf));
    assert_string_equal(buf, "1");
    assert_non_null(resp_header(&r, "X-Pagination-Total", buf, sizeof buf));
    expect_exposed("assistants.search", &r);
    resp_free(&r);

    const char q[] = "{\"assistant_id\":\"qualification\",\"input\":{\"company_name\":"
                     "\"Harbor Point Logistics\",\"industry\":\"Logistics\"}}";
    http("POST", "/runs/wait", "application/json", q, sizeof q - 1, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(resp_header(&r, "Content-Location", buf, sizeof buf));
    expect_exposed("runs.wait", &r);
    resp_free(&r);

    http("GET", "/api/leads?limit=1", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(resp_header(&r, "RateLimit-Remaining", buf, sizeof buf));
    expect_exposed("a rate-limited list", &r);
    resp_free(&r);

    http("DELETE", "/assistants/search", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 405);
    expect_exposed("a 405 with Allow", &r);
    resp_free(&r);
    harness_extra_header(NULL);
}

static void test_second_server(void **state)
{
    (void)state;
    setenv("CORS_ORIGINS", "https://crm.example.com", 1);
    setenv("RATE_LIMIT_PER_MINUTE", "8", 1);
    setenv("AGENT_RATE_LIMIT_PER_HOUR", "100,qualification=2", 1);
    setenv("JWT_SECRET", SECRET, 1);
    setenv("JWT_ISSUER", "https://idp.example.com", 1);
    setenv("METRICS_AUTH", "open", 1);
    int rc = server_start(&runs_srv, false);
    unsetenv("CORS_ORIGINS");
    unsetenv("RATE_LIMIT_PER_MINUTE");
    unsetenv("AGENT_RATE_LIMIT_PER_HOUR");
    unsetenv("JWT_SECRET");
    unsetenv("JWT_ISSUER");
    unsetenv("METRICS_AUTH");
    assert_int_equal(rc, 0);
    harness_use(&runs_srv);
    /* a fresh install printed its first admin key once */
    assert_int_equal(strlen(runs_srv.key), 63);
    char *log = server_read_log(&runs_srv);
    assert_null(strstr(log, runs_srv.key)); /* never in the JSON log */
    free(log);

    /* METRICS_AUTH=open */
    assert_int_equal(status_with("", "GET", "/metrics", NULL, NULL), 200);

    /* CORS: the allowed origin's preflight is answered; another origin gets nothing */
    struct resp r;
    char buf[300];
    char req[700];
    int n = snprintf(req, sizeof req,
                     "OPTIONS /api/leads HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Origin: https://crm.example.com\r\nAccess-Control-Request-Method: GET\r\n"
                     "Access-Control-Request-Headers: authorization\r\nConnection: close\r\n\r\n");
    char line[256];
    assert_int_equal(raw_exchange(req, (size_t)n, line, sizeof line), 1);
    assert_int_equal(status_code_of(line), 204);
    with_auth("Origin: https://crm.example.com", "GET", "/api/leads", NULL, NULL, &r);
    /* Origin replaced the key: 401, but CORS headers so the page can read the error */
    assert_int_equal(r.status, 401);
    assert_non_null(resp_header(&r, "Access-Control-Allow-Origin", buf, sizeof buf));
    assert_string_equal(buf, "https://crm.example.com");
    assert_non_null(resp_header(&r, "Vary", buf, sizeof buf));
    resp_free(&r);
    with_auth("Origin: https://evil.example", "GET", "/api/leads", NULL, NULL, &r);
    assert_null(resp_header(&r, "Access-Control-Allow-Origin", buf, sizeof buf));
    resp_free(&r);
    /* GET / depends on Accept as well as Origin: Vary names both (a cache must not give
     * one origin's CORS answer to another) */
    with_auth("Origin: https://crm.example.com", "GET", "/", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(resp_header(&r, "Vary", buf, sizeof buf));
    if (!strstr(buf, "Origin") || !strstr(buf, "Accept"))
        fail_msg("GET / with an Origin: Vary is %s", buf);
    resp_free(&r);
    cors_browser_client();

    /* JWT: a valid HS256 token with the write scope works; expired, wrong issuer and a
     * token without a scope for the route do not */
    long now = (long)time(NULL);
    char *claims = strf("{\"sub\":\"svc-crm\",\"iss\":\"https://idp.example.com\",\"exp\":%ld,"
                        "\"scope\":\"read write\"}",
                        now + 600);
    char *tok = hs256(SECRET, claims);
    char *auth = bearer(tok);
    assert_int_equal(status_with(auth, "GET", "/api/agents/status", NULL, NULL), 200);
    assert_int_equal(status_with(auth, "GET", "/api/keys", NULL, NULL), 403);
    free(claims), free(tok), free(auth);
    claims = strf("{\"sub\":\"svc\",\"iss\":\"https://idp.example.com\",\"exp\":%ld,"
                  "\"scope\":\"read\"}",
                  now - 3600);
    tok = hs256(SECRET, claims);
    auth = bearer(tok);
    with_auth(auth, "GET", "/api/agents/status", NULL, NULL, &r);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.body, "expired"));
    resp_free(&r);
    free(claims), free(tok), free(auth);
    claims = strf("{\"sub\":\"svc\",\"iss\":\"https://other.example\",\"exp\":%ld,"
                  "\"scope\":\"read\"}",
                  now + 600);
    tok = hs256(SECRET, claims);
    auth = bearer(tok);
    assert_int_equal(status_with(auth, "GET", "/api/agents/status", NULL, NULL), 401);
    free(claims), free(tok), free(auth);
    claims = strf("{\"sub\":\"svc\",\"iss\":\"https://idp.example.com\",\"exp\":%ld,"
                  "\"scope\":\"read\"}",
                  now + 600);
    tok = hs256("another-secret-of-at-least-32-bytes!!", claims);
    auth = bearer(tok);
    assert_int_equal(status_with(auth, "GET", "/api/agents/status", NULL, NULL), 401);
    free(claims), free(tok), free(auth);

    /* per-agent hourly limit: the third qualification this hour is refused */
    char *wk = create_api_key("agent-limit", "[\"write\"]", NULL);
    auth = bearer(wk);
    with_auth(auth, "POST", INVOKE, "application/json", lead_body, &r);
    assert_int_equal(r.status, 200);
    int sets = 0; /* one set of RateLimit headers (the per-minute bucket's), not two */
    for (const char *p = r.headers; (p = strstr(p, "RateLimit-Limit:")); p++)
        sets++;
    assert_int_equal(sets, 1);
    resp_free(&r);
    assert_int_equal(status_with(auth, "POST", INVOKE, "application/json", lead_body), 200);
    with_auth(auth, "POST", INVOKE, "application/json", lead_body, &r);
    expect_problem("third qualification", &r, 429, NULL, "rate_limited");
    assert_non_null(resp_header(&r, "Retry-After", buf, sizeof buf));
    assert_true(atol(buf) >= 1 && atol(buf) <= 3600);
    resp_free(&r);

    /* per-principal bucket of 8 a minute: this key has used 3 (the refused one counts);
     * five more pass (a 404 counts too: probing costs like using), then 429 with the
     * headers; another key is not affected */
    for (int i = 0; i < 5; i++)
        assert_int_equal(status_with(auth, "GET", "/api/no-such", NULL, NULL) != 429, 1);
    with_auth(auth, "GET", "/api/agents/status", NULL, NULL, &r);
    expect_problem("ninth request", &r, 429, NULL, "rate_limited");
    assert_string_equal(resp_header(&r, "RateLimit-Limit", buf, sizeof buf), "8");
    assert_string_equal(resp_header(&r, "RateLimit-Remaining", buf, sizeof buf), "0");
    assert_non_null(resp_header(&r, "RateLimit-Reset", buf, sizeof buf));
    assert_non_null(resp_header(&r, "Retry-After", buf, sizeof buf));
    resp_free(&r);
    free(wk), free(auth);
    assert_int_equal(status_with(NULL, "GET", "/api/agents/status", NULL, NULL), 200);

    /* guessing: after 20 invalid credentials in a clock minute from one address (the
     * default AUTH_FAILURES_PER_MINUTE, the bad tokens above and the harness's probe of
     * /health with another server's key included; more when the minute turns meanwhile),
     * a failing one is 429; the admin key still works (test_failed_auth_limit moves the
     * clock through the details) */
    long st = 0;
    int tries = 0;
    const char *guess =
        "Authorization: Bearer sa_00000000000000aa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    while (tries < 80 && (st = status_with(guess, "GET", "/api/leads", NULL, NULL)) == 401)
        tries++;
    assert_int_equal(st, 429);
    if (tries < 10 || tries > 40)
        fail_msg("429 after %d invalid credentials, expected 10-40", tries);
    assert_int_equal(status_with(NULL, "GET", "/api/agents/status", NULL, NULL), 200);

    /* restarted on the same database: no new key is printed */
    assert_true(exited_ok(server_stop(&runs_srv)));
    char first[128];
    snprintf(first, sizeof first, "%s", runs_srv.key);
    /* probed without a key: this address is still over its failures (with REDIS_URL the
     * count outlives the instance), and any key from it is 429 for the rest of the minute */
    harness_auth("");
    rc = server_start(&runs_srv, false);
    harness_auth(NULL);
    assert_int_equal(rc, 0);
    FILE *f = fopen(runs_srv.out_path, "r");
    assert_non_null(f);
    int keys = 0;
    char l[512];
    while (fgets(l, sizeof l, f))
        keys += strstr(l, "  sa_") == l;
    fclose(f);
    assert_int_equal(keys, 1);
    assert_string_equal(runs_srv.key, first);
}

/* The status of GET path with the credential header line auth, sent over a new
 * connection from source address src ("127.0.0.2": loopback accepts all of 127/8), so
 * that the server sees another client address. 0 when no status line arrived. */
static int status_from(const char *src, const char *auth, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in me = {.sin_family = AF_INET};
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)harness_port())};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(inet_pton(AF_INET, src, &me.sin_addr), 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof me), 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof to), 0);
    char *req =
        strf("GET %s HTTP/1.1\r\nHost: localhost\r\n%s\r\nConnection: close\r\n\r\n", path, auth);
    size_t len = strlen(req);
    assert_int_equal(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
    free(req);
    char line[128];
    size_t n = 0;
    while (n + 1 < sizeof line && recv(fd, line + n, 1, 0) == 1 && line[n] != '\n')
        n++;
    line[n] = '\0';
    close(fd);
    return n ? status_code_of(line) : 0;
}

/* Guessing credentials (AUTH_FAILURES_PER_MINUTE=5, time moved by CLOCK_FILE): an address
 * gets five failed authentications in a clock minute, whatever the key or token (made up,
 * malformed, on /api/ or on the public /health); the sixth failing one is 429 with
 * Retry-After and a problem body, on /health too. The right key from the same address
 * still works (behind a proxy or a NAT one client must not lock everyone out).
 * Successful requests are not counted; another address is not affected, with the right
 * key or a wrong one; the next minute the address may try again. */
static void test_failed_auth_limit(void **state)
{
    (void)state;
    char *clock = strf("%s/clock", runs_srv.dir);
    time_t t0 = utc(2026, 12, 3, 10, 0) + 5; /* 10:00:05: 55 s left in the minute */
    clock_file_set(clock, t0);
    assert_int_equal(server_setenv(&runs_srv, "CLOCK_FILE", clock), 0);
    assert_int_equal(server_setenv(&runs_srv, "AUTH_FAILURES_PER_MINUTE", "5"), 0);
    harness_auth(""); /* the readiness probe of /health: with no key (another server's key
                         would be a failed authentication here, counted) */
    int rc = server_start(&runs_srv, false);
    harness_auth(NULL);
    assert_int_equal(rc, 0);
    harness_use(&runs_srv);
    char *good = bearer(runs_srv.key);
    for (int i = 0; i < 8; i++) /* more successes than the limit: none counts */
        assert_int_equal(status_with(good, "GET", "/api/leads", NULL, NULL), 200);
    const char *guesses[] = {
        "Authorization: Bearer sa_00000000000000aa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "X-API-Key: sa_00000000000000ab_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
        "Authorization: Bearer not-a-key",
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
    };
    for (size_t i = 0; i < sizeof guesses / sizeof *guesses; i++) {
        long st = status_with(guesses[i], "GET", "/api/leads", NULL, NULL);
        if (st != 401)
            fail_msg("guess %zu (%s): %ld, expected 401", i + 1, guesses[i], st);
    }
    /* no credential, or a scheme we do not take, checks nothing: 401, not counted */
    assert_int_equal(status_with("", "GET", "/api/leads", NULL, NULL), 401);
    assert_int_equal(
        status_with("Authorization: Basic YWRtaW46YWRtaW4=", "GET", "/api/leads", NULL, NULL), 401);
    /* the fifth guess on a public route: /health answers more to a valid key, so a guess
     * there counts too (the answer is the anonymous one) */
    struct resp r;
    char buf[64];
    with_auth(guesses[1], "GET", "/health", NULL, NULL, &r);
    if (r.status != 200)
        fail_msg("a guess on /health: %ld, expected 200: %.300s", r.status, r.body);
    resp_free(&r);
    assert_int_equal(status_with(good, "GET", "/api/leads", NULL, NULL), 200);
    with_auth(guesses[2], "GET", "/api/leads", NULL, NULL, &r);
    expect_problem("a sixth guess", &r, 429, "[\"header\",\"authorization\"]", "rate_limited");
    assert_non_null(resp_header(&r, "Retry-After", buf, sizeof buf));
    if (atol(buf) < 1 || atol(buf) > 55)
        fail_msg("Retry-After: %s, expected the rest of the minute (at most 55 s)", buf);
    assert_non_null(strstr(jstr(r.json, "detail.0.msg"), "failed authentications"));
    resp_free(&r);
    assert_int_equal(status_with(guesses[0], "GET", "/api/leads", NULL, NULL), 429);
    assert_int_equal(status_with(guesses[0], "GET", "/health", NULL, NULL), 429);
    assert_int_equal(status_with(good, "GET", "/health", NULL, NULL), 200);
    assert_int_equal(status_with("", "GET", "/health", NULL, NULL), 200);
    /* another address: the right key works, a wrong one is a 401 of its own count */
    char *good_line = strf("Authorization: Bearer %s", runs_srv.key);
    assert_int_equal(status_from("127.0.0.2", good_line, "/api/leads"), 200);
    assert_int_equal(status_from("127.0.0.2", guesses[0], "/api/leads"), 401);
    assert_int_equal(status_from("127.0.0.2", good_line, "/api/leads"), 200);
    /* the next minute: tries again */
    clock_file_set(clock, t0 + 60);
    assert_int_equal(status_with(good, "GET", "/api/leads", NULL, NULL), 200);
    assert_int_equal(status_with(guesses[0], "GET", "/api/leads", NULL, NULL), 401);
    free(good_line), free(good), free(clock);
}

/* AUTH=off on loopback: no credential asked, every scope, the client address as the
 * principal (in the audit log and the rate limiter); no first key is made. */
static void test_auth_off(void **state)
{
    (void)state;
    setenv("AUTH", "off", 1);
    int rc = server_start(&runs_srv, false);
    unsetenv("AUTH");
    assert_int_equal(rc, 0);
    harness_use(&runs_srv);
    assert_string_equal(runs_srv.key, "");
    assert_int_equal(status_with("", "GET", "/api/leads", NULL, NULL), 200);
    struct resp r;
    with_auth("", "POST", "/api/contacts/ops@acme-robotics.example/do-not-contact",
              "application/json", "{}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    json_t *page = NULL;
    harness_auth("");
    page = http_json("GET", "/api/audit?action=contact.do_not_contact", NULL, &r);
    harness_auth(NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(page, "items.0.principal"), "addr:127.0.0.1");
    resp_free(&r);
    /* still no cross-site post: the content type is demanded with AUTH=off too */
    assert_int_equal(status_with("", "POST", "/api/contacts/x@acme-robotics.example/do-not-contact",
                                 "text/plain", "{}"),
                     415);
    /* a bodyless POST without a type needs a credential header even with AUTH=off (a
     * cross-site page can send the first, never the second); any value will do */
    with_auth("", "POST", NO_RUN, NULL, NULL, &r);
    expect_problem("bodyless cancel, AUTH=off, no key", &r, 415, "[\"header\",\"content-type\"]",
                   NULL);
    resp_free(&r);
    assert_int_equal(raw_post(NO_RUN, "Content-Length: 0\r\n"), 415);
    assert_int_equal(raw_post(NO_RUN, ""), 415);
    with_auth("X-API-Key: any-value", "POST", NO_RUN, NULL, NULL, &r);
    expect_problem("bodyless cancel, AUTH=off, a key", &r, 404, "[\"path\",\"run_id\"]", NULL);
    resp_free(&r);
    /* the schemes a browser adds by itself (HTTP auth of a proxy in front) are no proof of
     * a script: still 415 */
    with_auth("Authorization: Basic dXNlcjpwYXNz", "POST", "/api/agents/bdr/reset", NULL, NULL, &r);
    expect_problem("bodyless reset, AUTH=off, Basic", &r, 415, "[\"header\",\"content-type\"]",
                   NULL);
    resp_free(&r);
    assert_int_equal(raw_post(NO_RUN, "Authorization: Negotiate YIIBhgYGKwYBBQUCoIIBejCCAXag\r\n"
                                      "Content-Length: 0\r\n"),
                     415);
    /* a route with an optional body (empty read as {}) never takes a bodyless POST
     * without a type, whatever the credential */
    with_auth("X-API-Key: any-value", "POST",
              "/api/contacts/x@acme-robotics.example/do-not-contact", NULL, NULL, &r);
    expect_problem("bodyless do-not-contact, a key", &r, 415, "[\"header\",\"content-type\"]",
                   NULL);
    resp_free(&r);

    /* with no credential, the approval's reviewer is the name the body gives (else the
     * address): the address alone says nothing of who decided */
    harness_auth("");
    json_t *j = approval_pending(strong_known_csv, &r);
    char *path = strf("/api/approvals/%s", jstr(j, "output.approvals.0.approval_id"));
    resp_free(&r);
    j = http_json("POST", path, "{\"type\":\"ignore\",\"reviewer\":\"kim@pipewise.io\"}", &r);
    if (r.status != 200)
        fail_msg("approval: %ld %.300s", r.status, r.body);
    assert_string_equal(jstr(j, "approval.reviewer"), "kim@pipewise.io");
    resp_free(&r);
    free(path);
    harness_auth(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_key_no_data),
        cmocka_unit_test(test_scopes),
        cmocka_unit_test(test_cli_keys),
        cmocka_unit_test(test_cross_site),
        cmocka_unit_test(test_audit),
        cmocka_unit_test_setup_teardown(test_second_server, runs_setup, runs_teardown),
        cmocka_unit_test_setup_teardown(test_failed_auth_limit, runs_setup, runs_teardown),
        cmocka_unit_test_setup_teardown(test_auth_off, runs_setup, runs_teardown),
    };
    return api_exit_status(cmocka_run_group_tests(tests, api_group_setup, api_group_teardown));
}
