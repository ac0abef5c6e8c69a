/* Pins CSV reading: RFC 4180 quoting (commas, quotes, newlines in fields), a BOM, the
 * line where each row starts, and errors that name the line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/charset.h"
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

/* Delimiters are sniffed from the lines (a title line above the header does not decide);
 * CR-only line ends count lines; control characters are refused with their place, tab
 * and newlines inside quotes are kept; text that is not UTF-8 is refused, never altered. */
static void test_formats(void **state)
{
    (void)state;
    assert_int_equal(sa_csv_sniff("a;b;c\n1;2;3\n", 12), ';');
    assert_int_equal(sa_csv_sniff("a\tb\tc\r", 6), '\t');
    const char titled[] = "\"Report, with a comma\"\na;b;c\n";
    assert_int_equal(sa_csv_sniff(titled, strlen(titled)), ';');
    assert_int_equal(sa_csv_sniff("name\n", 5), ',');
    /* commas inside the text cells of a ;-separated file (German Excel) do not win */
    const char semi[] = "Company;Email;Notes\r\n"
                        "Weber AG;lena@weber.example;Trade fair, wants demo, budget Q3\r\n";
    assert_int_equal(sa_csv_sniff(semi, strlen(semi)), ';');
    const char semi2[] = "Company;Email;Notes\n\nA;a@a.example;x, y\nB;b@b.example;one, two, three\n";
    assert_int_equal(sa_csv_sniff(semi2, strlen(semi2)), ';');
    /* a row after a blank line knows its own line (it was the blank line's) */
    {
        json_t *r2 = NULL;
        struct sa_err e2 = {0};
        const char gap[] = "Company,Email\nA Co,a@a.example\n\nB Co,b@b.example\n";
        assert_int_equal(sa_csv_parse(gap, strlen(gap), 100, &r2, &e2), 0);
        assert_int_equal(json_array_size(r2), 3);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(r2, 2), "line")), 4);
        json_decref(r2);
    }
    /* a plain comma file with one title line */
    const char comma[] = "Leads report\nCompany,Email\nA,a@a.example\nB,b@b.example\n";
    assert_int_equal(sa_csv_sniff(comma, strlen(comma)), ',');
    json_t *rows = NULL;
    struct sa_err err = {0};
    struct sa_csv_where w;
    const char cr[] = "a\tb\rx\t\"two\rlines\"\ry\tz\r";
    assert_int_equal(sa_csv_parse_delim(cr, strlen(cr), '\t', 100, &rows, &w, &err), 0);
    assert_int_equal(json_array_size(rows), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 2), "line")), 4);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(json_array_get(rows, 1), "fields"), 1)),
        "two\rlines");
    json_decref(rows);
    const char nul[] = "a,b\nok,\"x\ty\"\nc,VP\0Sales\n";
    assert_int_equal(sa_csv_parse_delim(nul, sizeof nul - 1, ',', 100, &rows, &w, &err), SA_EINVAL);
    assert_null(rows);
    assert_int_equal(w.fault, SA_CSV_CONTROL);
    assert_int_equal(w.row, 2);
    assert_int_equal(w.column, 1);
    assert_int_equal(w.line, 3);
    assert_int_equal(w.row_offset, 13); /* where "c,VP..." starts */
    /* C1 controls: "’" (E2 80 99) read as Latin-1 and written as UTF-8 is "â" U+0080
     * U+0099; a no-break space (C2 A0) and "é" (C3 A9) are letters, not controls */
    const char c1[] = "name,note\nok,caf\xc3\xa9\xc2\xa0ok\nDon,it\xc3\xa2\xc2\x80\xc2\x99s\n";
    assert_int_equal(sa_csv_parse_delim(c1, sizeof c1 - 1, ',', 100, &rows, &w, &err), SA_EINVAL);
    assert_int_equal(w.fault, SA_CSV_CONTROL);
    assert_int_equal(w.row, 2);
    assert_int_equal(w.column, 1);
    const char nbsp[] = "name,note\nok,caf\xc3\xa9\xc2\xa0ok\xc2\xbf\n";
    assert_int_equal(sa_csv_parse_delim(nbsp, sizeof nbsp - 1, ',', 100, &rows, &w, &err), 0);
    json_decref(rows);
    /* quoting: where the row starts and which cell, for a quote never closed and for a
     * quote in an unquoted cell */
    const char unclosed[] = "a,b\nok,x\nc,\"open\nmore\n";
    assert_int_equal(sa_csv_parse_delim(unclosed, sizeof unclosed - 1, ',', 100, &rows, &w, &err),
                     SA_EINVAL);
    assert_int_equal(w.fault, SA_CSV_SYNTAX);
    assert_true(w.unclosed);
    assert_int_equal(w.row, 2);
    assert_int_equal(w.column, 1);
    assert_int_equal(w.line, 3);
    assert_int_equal(w.row_offset, 9);
    assert_non_null(strstr(err.msg, "never closed"));
    const char stray[] = "a,b,c\nok,x,y\nc,d,Ana \"Nina\"\n";
    assert_int_equal(sa_csv_parse_delim(stray, sizeof stray - 1, ',', 100, &rows, &w, &err),
                     SA_EINVAL);
    assert_int_equal(w.fault, SA_CSV_SYNTAX);
    assert_false(w.unclosed);
    assert_int_equal(w.row, 2);
    assert_int_equal(w.column, 2);
    assert_int_equal(w.line, 3);
    assert_int_equal(w.row_offset, 13);
    assert_non_null(strstr(err.msg, "a quote inside a cell that is not quoted"));
    const char latin1[] = "name\nok\n\"multi\nline\",x\nRen\xe9\n";
    assert_int_equal(sa_csv_parse_delim(latin1, strlen(latin1), ',', 100, &rows, &w, &err),
                     SA_EINVAL);
    assert_int_equal(w.fault, SA_CSV_UTF8);
    assert_int_equal(w.offset, 26);
    assert_int_equal(w.line, 5);
    assert_int_equal(w.row, 3);
    assert_int_equal(w.row_offset, 23); /* where "Ren" starts, after the two-line row */
    assert_non_null(strstr(err.msg, "byte offset 26"));
}

/* Encodings: UTF-8 well-formedness (overlong, surrogate, cut short), Windows-1252 letters
 * and the euro sign, a byte Windows-1252 leaves undefined named by offset, UTF-16 by its
 * byte-order mark, an unknown charset. */
static void test_charset(void **state)
{
    (void)state;
    assert_int_equal(sa_utf8_valid_prefix("Zo\xc3\xab", 4), 4);
    assert_int_equal(sa_utf8_valid_prefix("ab\xc0\xaf", 4), 2);       /* overlong '/' */
    assert_int_equal(sa_utf8_valid_prefix("a\xed\xa0\x80", 4), 1);    /* surrogate */
    assert_int_equal(sa_utf8_valid_prefix("a\xe2\x82", 3), 1);        /* cut short */
    assert_int_equal(sa_utf8_valid_prefix("\xf4\x90\x80\x80", 4), 0); /* > U+10FFFF */
    char *out = NULL;
    size_t len, bad;
    struct sa_err err = {0};
    assert_int_equal(sa_charset_to_utf8("windows-1252", "Zo\xeb \x80", 5, &out, &len, &bad, &err),
                     0);
    assert_string_equal(out, "Zo\xc3\xab \xe2\x82\xac");
    free(out);
    assert_int_equal(sa_charset_to_utf8("latin1", "Ren\xe9", 4, &out, &len, &bad, &err), 0);
    assert_string_equal(out, "Ren\xc3\xa9");
    free(out);
    assert_int_equal(sa_charset_to_utf8("cp1252", "ab\x81", 3, &out, &len, &bad, &err), SA_EINVAL);
    assert_int_equal(bad, 2);
    assert_null(out);
    assert_int_equal(sa_charset_to_utf8(NULL, "\xff\xfeZ\0\xfc\0", 6, &out, &len, &bad, &err), 0);
    assert_string_equal(out, "Z\xc3\xbc");
    free(out);
    assert_int_equal(sa_charset_to_utf8(NULL, "ok\xe9", 3, &out, &len, &bad, &err), SA_EINVAL);
    assert_int_equal(bad, 2);
    assert_int_equal(sa_charset_to_utf8("ebcdic", "x", 1, &out, &len, &bad, &err), SA_ECONFIG);
    assert_false(sa_charset_known("ebcdic"));
    assert_true(sa_charset_known("Windows-1252"));
}

/* The index locates each row (offset, length, line, cells, filled cells) without keeping
 * a cell, and a row read back from it has the cells the whole-text parse gives. */
static void test_index(void **state)
{
    (void)state;
    const char text[] = "\xEF\xBB\xBF" "a;b\r\n\"multi\nline\"; x \r\n ;\n\nlast;1";
    size_t len = sizeof text - 1;
    struct sa_csv_row *rows = NULL;
    size_t n = 0;
    struct sa_err err = {0};
    assert_int_equal(sa_csv_index(text, len, ';', 100, &rows, &n, NULL, &err), 0);
    json_t *whole = NULL;
    assert_int_equal(sa_csv_parse_delim(text, len, ';', 100, &whole, NULL, &err), 0);
    assert_int_equal(n, json_array_size(whole));
    assert_int_equal(n, 4);
    assert_int_equal(rows[0].offset, 3); /* after the BOM */
    assert_int_equal(rows[1].line, 2);
    assert_int_equal(rows[1].filled, 2);
    assert_int_equal(rows[2].filled, 0); /* " ;" is blank */
    assert_int_equal(rows[2].fields, 2);
    for (size_t i = 0; i < n; i++) {
        json_t *f = NULL;
        assert_int_equal(sa_csv_row_fields(text, &rows[i], ';', &f), 0);
        json_t *expect = json_object_get(json_array_get(whole, i), "fields");
        assert_true(json_equal(f, expect));
        assert_int_equal(rows[i].line,
                         json_integer_value(json_object_get(json_array_get(whole, i), "line")));
        json_decref(f);
    }
    free(rows);
    json_decref(whole);
    /* the same refusals and row cap as the whole parse */
    assert_int_equal(sa_csv_index("a\nb\nc\n", 6, ',', 2, &rows, &n, NULL, &err), SA_ETOOBIG);
    assert_null(rows);
    struct sa_csv_where w;
    assert_int_equal(sa_csv_index("a,b\nc,\x01\n", 9, ',', 10, &rows, &n, &w, &err), SA_EINVAL);
    assert_int_equal(w.fault, SA_CSV_CONTROL);
    assert_int_equal(w.row, 1);
    assert_int_equal(w.column, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_parse), cmocka_unit_test(test_errors),
                                       cmocka_unit_test(test_formats),
                                       cmocka_unit_test(test_charset),
                                       cmocka_unit_test(test_index)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
