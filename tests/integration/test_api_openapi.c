/* The API document from outside: GET /openapi.json is an OpenAPI 3.1 document naming every
 * route GET / lists, with the security its scope asks for; GET /docs is the page that
 * renders it. (tests/openapi/ validates the document itself and every recorded response
 * against it.) */
#include <string.h>

#include "harness.h"

static json_t *get_document(struct resp *r)
{
    json_t *doc = http_json("GET", "/openapi.json", NULL, r);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->content_type, "application/json");
    assert_non_null(doc);
    return doc;
}

static void test_document_is_openapi_31(void **state)
{
    (void)state;
    struct resp r;
    json_t *doc = get_document(&r);
    const char *v = jstr(doc, "openapi");
    assert_non_null(v);
    assert_true(strncmp(v, "3.1.", 4) == 0);
    assert_string_equal(jstr(doc, "info.title"), "sales-agent");
    assert_non_null(jget(doc, "components.securitySchemes.apiKey"));
    assert_string_equal(jstr(doc, "components.securitySchemes.apiKey.name"), "X-API-Key");
    assert_string_equal(jstr(doc, "components.securitySchemes.bearer.scheme"), "bearer");
    assert_non_null(jget(doc, "components.schemas.Problem"));
    resp_free(&r);
}

/* Each route of GET / is an operation of the document, public exactly when its scope is. */
static void test_every_route_documented(void **state)
{
    (void)state;
    struct resp ri, rd;
    json_t *index = http_json("GET", "/", NULL, &ri);
    assert_int_equal(ri.status, 200);
    json_t *doc = get_document(&rd);
    json_t *routes = json_object_get(index, "routes");
    assert_true(json_array_size(routes) > 20);
    size_t i, ops = 0;
    json_t *rt;
    json_array_foreach(routes, i, rt)
    {
        char method[16] = "";
        const char *m = jstr(rt, "method"), *path = jstr(rt, "path"), *scope = jstr(rt, "scope");
        for (size_t k = 0; m[k] && k + 1 < sizeof method; k++)
            method[k] = (char)(m[k] >= 'A' && m[k] <= 'Z' ? m[k] + 32 : m[k]);
        json_t *op = json_object_get(json_object_get(json_object_get(doc, "paths"), path), method);
        if (!op)
            fail_msg("%s %s is not in /openapi.json", m, path);
        json_t *sec = json_object_get(op, "security");
        assert_true(json_is_array(sec));
        bool public = strcmp(scope, "public") == 0;
        if (public != (json_array_size(sec) == 0) && strcmp(path, "/metrics") != 0)
            fail_msg("%s %s: scope %s but security %s", m, path, scope, jdump(sec));
        assert_string_equal(jstr(op, "x-scope"), scope);
        if (!public && !strstr(jstr(op, "description"), scope))
            fail_msg("%s %s: the description does not name scope %s", m, path, scope);
        assert_non_null(jget(op, "responses.400"));
        ops++;
    }
    size_t in_doc = 0;
    const char *key;
    json_t *item;
    json_object_foreach(json_object_get(doc, "paths"), key, item) in_doc += json_object_size(item);
    assert_int_equal(in_doc, ops); /* and nothing the server does not route */
    resp_free(&ri);
    resp_free(&rd);
}

/* Served from one cached build: two requests give the same bytes. */
static void test_document_is_stable(void **state)
{
    (void)state;
    struct resp a, b;
    assert_int_equal(http("GET", "/openapi.json", NULL, NULL, 0, &a), 0);
    assert_int_equal(http("GET", "/openapi.json", NULL, NULL, 0, &b), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.body, b.body, a.len);
    resp_free(&a);
    resp_free(&b);
}

static void test_docs_page(void **state)
{
    (void)state;
    struct resp r;
    assert_int_equal(http("GET", "/docs", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    assert_true(strncmp(r.content_type, "text/html", 9) == 0);
    assert_non_null(strstr(r.body, "<!doctype html>"));
    assert_non_null(strstr(r.body, "fetch(\"/openapi.json\")"));
    assert_null(strstr(r.body, "http://")); /* nothing loaded from elsewhere */
    assert_null(strstr(r.body, "https://"));
    /* never framed (clickjacking): CSP's frame-ancestors, and X-Frame-Options for older
     * browsers */
    char buf[512];
    const char *csp = resp_header(&r, "Content-Security-Policy", buf, sizeof buf);
    if (!csp || !strstr(csp, "frame-ancestors 'none'"))
        fail_msg("/docs: Content-Security-Policy is %s", csp ? csp : "(none)");
    assert_string_equal(resp_header(&r, "X-Frame-Options", buf, sizeof buf), "DENY");
    resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document_is_openapi_31),
        cmocka_unit_test(test_every_route_documented),
        cmocka_unit_test(test_document_is_stable),
        cmocka_unit_test(test_docs_page),
    };
    return api_exit_status(cmocka_run_group_tests(tests, api_group_setup, api_group_teardown));
}
