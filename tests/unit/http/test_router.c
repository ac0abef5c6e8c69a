/* Pins routing: exact paths, {param} capture, 405 with the allowed methods, HEAD as GET,
 * and no match for extra or missing segments. */
#include <setjmp.h>
#include <stdarg.h>
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

static const struct sa_route routes[] = {
    {"GET", "/health", h, SA_BODY_NONE},
    {"GET", "/api/leads", h, SA_BODY_NONE},
    {"POST", "/api/leads", h, SA_BODY_JSON},
    {"GET", "/api/leads/{id}", h, SA_BODY_NONE},
    {"POST", "/api/agents/{agent_type}/reset", h, SA_BODY_NONE},
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

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_routes)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
