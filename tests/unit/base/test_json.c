/* Pins the guarded body parser: depth is refused before parsing, invalid UTF-8, duplicate
 * keys and syntax errors are errors with a position, valid bodies parse. And the fast
 * writer (sa_json_dumps, sa_json_write): the same text as jansson's json_dumps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
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

/* The parser's words reach the API's 400: a NUL escape is said in ours, not with the name
 * of jansson's flag ("without JSON_ALLOW_NUL"). */
static void test_nul_message(void **state)
{
    (void)state;
    json_t *v = NULL;
    long pos;
    struct sa_err err = {0};
    const char *s = "{\"company_name\":\"a\\u0000b\"}";
    assert_int_equal(sa_json_parse_body(s, strlen(s), SA_JSON_MAX_DEPTH, &v, &pos, &err),
                     SA_EINVAL);
    assert_null(strstr(err.msg, "JSON_ALLOW_NUL"));
    assert_string_equal(err.msg, "invalid JSON at line 1, column 26: a string holds \\u0000 "
                                 "(NUL), which is not allowed");
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

/* v written by sa_json_dumps at precision p is json_dumps's text, byte for byte, and
 * sa_json_write (precision 17) writes the same as precision 0 */
static void assert_same_text(const json_t *v, int p)
{
    char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION((size_t)p));
    size_t len = 0;
    char *got = sa_json_dumps(v, p, &len);
    assert_non_null(want);
    assert_non_null(got);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    if (p == 0) {
        struct sa_buf b;
        sa_buf_init(&b, 1 << 20);
        assert_int_equal(sa_json_write(&b, v), 0);
        assert_string_equal(b.data, want);
        sa_buf_free(&b);
    }
    free(want);
    free(got);
}

static void test_writer_matches_jansson(void **state)
{
    (void)state;
    static const double reals[] = {0.0,     -0.0,         1.0,
                                   0.1,     -2.5,         100.0,
                                   1e21,    1e300,        1e-7,
                                   1.5e22,  5e-324,       1.7976931348623157e308,
                                   0.123,   3.0e-5,       123456789.123456789,
                                   -1e-300, 42.4242424242};
    static const char *const strings[] = {"",
                                          "plain",
                                          "quote \" and backslash \\",
                                          "line\nfeed\r\ttab\bback\fform",
                                          "\x01\x02\x1f control, \x7f delete",
                                          "caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80 non-ASCII",
                                          "https://acmecloud.io/a/b </script>",
                                          "\"\"\\\n"};
    static const json_int_t ints[] = {0, 1, -1, 42, 1000000, INT64_MAX, INT64_MIN};
    json_t *all = json_object();
    json_t *arr = json_array();
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++)
        json_array_append_new(arr, json_real(reals[i]));
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        json_array_append_new(arr, json_string(strings[i]));
        json_object_set_new(all, strings[i], json_integer((json_int_t)i)); /* keys escape too */
    }
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        json_array_append_new(arr, json_integer(ints[i]));
    json_array_append_new(arr, json_stringn("nul\0inside", 10));
    json_array_append_new(arr, json_pack("[b, b, n, {}, []]", 1, 0));
    json_object_set_new(all, "values", arr);
    json_object_set_new(all, "nested", json_pack("{s:{s:[{s:f}]}}", "a", "b", "c", 0.5));
    for (int p = 0; p <= 17; p += 1)
        assert_same_text(all, p);
    /* every value alone too (json_dumps needs JSON_ENCODE_ANY for those) */
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x)
    {
        assert_same_text(x, 0);
        assert_same_text(x, 12);
    }
    json_decref(all);
    /* each character that needs an escape at every offset of strings that span several
     * eight-byte words (the writer skips words without one) */
    static const char special[] = {'"', '\\', '\n', '\x01', '\x1f', ' ', '\x7f', (char)0xc3};
    for (size_t n = 1; n <= 26; n++)
        for (size_t at = 0; at < n; at++)
            for (size_t k = 0; k < sizeof special; k++) {
                char text[32];
                memset(text, 'a', n);
                text[at] = special[k];
                if (special[k] == (char)0xc3 && at + 1 < n)
                    text[at + 1] = (char)0xa9; /* a whole UTF-8 character */
                json_t *str =
                    json_stringn(text, special[k] == (char)0xc3 && at + 1 == n ? n - 1 : n);
                assert_non_null(str);
                assert_same_text(str, 0);
                json_decref(str);
            }
    /* a realistic document: the bundled sample leads */
    json_error_t je;
    json_t *leads = json_load_file(SA_SOURCE_DIR "/data/sample_leads.json", 0, &je);
    assert_non_null(leads);
    assert_same_text(leads, 0);
    assert_same_text(leads, 12);
    json_decref(leads);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_errors_and_success),
        cmocka_unit_test(test_detail_loc),
        cmocka_unit_test(test_nul_message),
        cmocka_unit_test(test_writer_matches_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
