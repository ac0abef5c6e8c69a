/* Pins routing: exact paths, {param} capture, 405 with the allowed methods, HEAD as GET,
 * and no match for extra or missing segments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/router.h"

static void h(struct sa_req *r)
{
    (void)r;
}

#define ROUTE(m, p, body) {m, p, h, body, SA_SCOPE_READ, NULL, "s", NULL, NULL, 0, NULL, NULL}
static const struct sa_route routes[] = {
    ROUTE("GET", "/health", SA_BODY_NONE),
    ROUTE("GET", "/api/leads", SA_BODY_NONE),
    ROUTE("POST", "/api/leads", SA_BODY_JSON),
    ROUTE("GET", "/api/leads/{id}", SA_BODY_NONE),
    ROUTE("POST", "/api/agents/{agent_type}/reset", SA_BODY_NONE),
};

static enum sa_match match(const char *method, const char *path, const struct sa_route **r,
                           const char **params, char *allow)
{
    static char buf[256];
    return sa_route_match(routes, 5, method, path, r, params, buf, sizeof buf, allow, 64);
}

static void test_routes(void **state)
{
    (void)state;
    const struct sa_route *r = NULL;
    const char *p[SA_MAX_PARAMS];
    char allow[64];
    assert_int_equal(match("GET", "/health", &r, p, allow), SA_MATCH_OK);
    assert_ptr_equal(r, &routes[0]);
    assert_int_equal(match("HEAD", "/health", &r, p, allow), SA_MATCH_OK);
    assert_int_equal(match("POST", "/api/leads", &r, p, allow), SA_MATCH_OK);
    assert_ptr_equal(r, &routes[2]);
    assert_int_equal(match("GET", "/api/leads/abc", &r, p, allow), SA_MATCH_OK);
    assert_string_equal(p[0], "abc");
    assert_int_equal(match("POST", "/api/agents/growth/reset", &r, p, allow), SA_MATCH_OK);
    assert_string_equal(p[0], "growth");
    assert_int_equal(match("DELETE", "/api/leads", &r, p, allow), SA_MATCH_BAD_METHOD);
    assert_string_equal(allow, "GET, HEAD, POST");
    assert_int_equal(match("GET", "/api/leads/a/b", &r, p, allow), SA_MATCH_NO_ROUTE);
    assert_int_equal(match("GET", "/api", &r, p, allow), SA_MATCH_NO_ROUTE);
    assert_int_equal(match("GET", "/api/agents//reset", &r, p, allow), SA_MATCH_NO_ROUTE);
    assert_int_equal(match("GET", "/healthz", &r, p, allow), SA_MATCH_NO_ROUTE);
}

/* The server's own table: every route has a summary, a response schema, a known scope, a
 * body kind that matches its method, and is the one that matches its own path (no
 * earlier template shadows it); only the index, /health, the API document, the
 * unsubscribe link (its token is the credential), the web console's files and the Agent
 * Server API's /info are public, and only
 * the unsubscribe link reads a form; what sends mail needs approve. */
static void test_route_table(void **state)
{
    (void)state;
    assert_true(sa_routes_count >= 24);
    for (unsigned i = 0; i < sa_routes_count; i++) {
        const struct sa_route *rt = &sa_routes[i];
        assert_non_null(rt->summary);
        assert_true(strlen(rt->summary) > 10);
        assert_non_null(rt->response);
        assert_string_not_equal(sa_scope_name(rt->scope), "?");
        assert_int_equal(rt->body != SA_BODY_NONE, rt->request != NULL);
        if (strcmp(rt->method, "GET") == 0)
            assert_int_equal(rt->body, SA_BODY_NONE);
        bool unsubscribe = strcmp(rt->path, "/unsubscribe/{token}") == 0;
        bool public_ok = strcmp(rt->path, "/") == 0 || strcmp(rt->path, "/health") == 0 ||
                         strcmp(rt->path, "/openapi.json") == 0 || strcmp(rt->path, "/docs") == 0 ||
                         unsubscribe;
        /* the web console's files and redirects (issue 16): no data in them */
        public_ok |= strcmp(rt->path, "/ui") == 0 || strcmp(rt->path, "/dashboard") == 0 ||
                     strncmp(rt->path, "/assets/", 8) == 0;
        /* the Agent Server API's /info: version and flags, which Agent Inbox reads first */
        public_ok |= strcmp(rt->path, "/info") == 0;
        assert_int_equal(rt->body == SA_BODY_FORM, unsubscribe && strcmp(rt->method, "POST") == 0);
        assert_int_equal(rt->scope == SA_SCOPE_PUBLIC, public_ok);
        /* a concrete path made from the template must route to this entry */
        char path[256], buf[256], allow[64];
        size_t n = 0;
        for (const char *p = rt->path; *p && n < sizeof path - 2;) {
            if (*p == '{') {
                path[n++] = 'x';
                p = strchr(p, '}') + 1;
            } else {
                path[n++] = *p++;
            }
        }
        path[n] = '\0';
        const struct sa_route *got = NULL;
        const char *params[SA_MAX_PARAMS];
        assert_int_equal(sa_route_match(sa_routes, sa_routes_count, rt->method, path, &got, params,
                                        buf, sizeof buf, allow, sizeof allow),
                         SA_MATCH_OK);
        if (got != rt) /* two templates for one handler (the original's alias) are fine */
            assert_ptr_equal(got->handler, rt->handler);
    }
    const struct sa_route *got = NULL;
    const char *params[SA_MAX_PARAMS];
    char buf[256], allow[64];
    assert_int_equal(sa_route_match(sa_routes, sa_routes_count, "POST", "/api/approvals/x", &got,
                                    params, buf, sizeof buf, allow, sizeof allow),
                     SA_MATCH_OK);
    assert_int_equal(got->scope, SA_SCOPE_APPROVE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_routes),
                                       cmocka_unit_test(test_route_table)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
