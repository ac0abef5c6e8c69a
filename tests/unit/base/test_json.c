/* Pins the guarded body parser: depth is refused before parsing, invalid UTF-8, duplicate
 * keys and syntax errors are errors with a position, valid bodies parse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/detail.h"
#include "base/json.h"

static int parse(const char *s, json_t **out)
{
    long pos;
    struct sa_err err = {0};
    return sa_json_parse_body(s, strlen(s), SA_JSON_MAX_DEPTH, out, &pos, &err);
}

static void test_depth(void **state)
{
    (void)state;
    assert_int_equal(sa_json_depth("{\"a\":[1,{\"b\":2}]}", 17, 32), 3);
    assert_int_equal(sa_json_depth("\"[[[[\"", 6, 32), 0); /* brackets inside a string */
    char deep[200];
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = '\0';
    assert_true(sa_json_depth(deep, strlen(deep), 32) > 32);
    json_t *v = NULL;
    assert_int_equal(parse(deep, &v), SA_EINVAL);
    assert_null(v);
}

static void test_errors_and_success(void **state)
{
    (void)state;
    json_t *v = NULL;
    assert_int_equal(parse("", &v), SA_EINVAL);
    assert_int_equal(parse("{\"a\":", &v), SA_EINVAL);
    assert_int_equal(parse("{\"a\":1,\"a\":2}", &v), SA_EINVAL);
    assert_int_equal(parse("{\"a\":\"\xff\xfe\"}", &v), SA_EINVAL);
    assert_int_equal(parse("{\"a\":\"\\u0000\"}", &v), SA_EINVAL);
    assert_int_equal(parse("{\"a\":[1,2,{\"b\":\"caf\xc3\xa9\"}]}", &v), 0);
    assert_non_null(v);
    json_decref(v);
}

static void test_detail_loc(void **state)
{
    (void)state;
    json_t *d = json_array();
    sa_detail_add(d, "body.input.signals.3", "string_type", "bad %d", 3);
    json_t *e = json_array_get(d, 0);
    json_t *loc = json_object_get(e, "loc");
    assert_int_equal(json_array_size(loc), 4);
    assert_string_equal(json_string_value(json_array_get(loc, 2)), "signals");
    assert_int_equal(json_integer_value(json_array_get(loc, 3)), 3);
    assert_string_equal(json_string_value(json_object_get(e, "msg")), "bad 3");
    assert_int_equal(sa_utf8_chars("caf\xc3\xa9", 5), 4);
    json_decref(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_errors_and_success),
        cmocka_unit_test(test_detail_loc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
