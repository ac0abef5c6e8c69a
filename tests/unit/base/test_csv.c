/* Pins CSV reading: RFC 4180 quoting (commas, quotes, newlines in fields), a BOM, the
 * line where each row starts, and errors that name the line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/csv.h"

static void test_parse(void **state)
{
    (void)state;
    const char text[] = "\xEF\xBB\xBFname,notes\r\n"
                        "Acme,\"says \"\"hi\"\", then, more\"\r\n"
                        "Beta,\"two\nlines\"\n"
                        "Gamma,\n";
    json_t *rows = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_csv_parse(text, strlen(text), 100, &rows, &err), 0);
    assert_int_equal(json_array_size(rows), 4);
    json_t *r1 = json_array_get(rows, 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r1, "fields"), 1)),
                        "says \"hi\", then, more");
    json_t *r2 = json_array_get(rows, 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r2, "fields"), 1)),
                        "two\nlines");
    assert_int_equal(json_integer_value(json_object_get(r2, "line")), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 3), "line")), 5);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(json_array_get(rows, 0), "fields"), 0)),
        "name");
    json_decref(rows);
}

static void test_errors(void **state)
{
    (void)state;
    json_t *rows = NULL;
    struct sa_err err = {0};
    const char bad[] = "a,b\nc,\"unterminated\n";
    assert_int_equal(sa_csv_parse(bad, strlen(bad), 100, &rows, &err), SA_EINVAL);
    assert_non_null(strstr(err.msg, "line 2"));
    const char many[] = "a\nb\nc\n";
    assert_int_equal(sa_csv_parse(many, strlen(many), 2, &rows, &err), SA_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_parse), cmocka_unit_test(test_errors)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
