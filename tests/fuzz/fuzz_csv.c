/* Fuzz driver for the CSV reader the import uses: the input is indexed (sa_csv_index) with
 * each delimiter, and every indexed row read back (sa_csv_row_fields) MUST give the cells
 * and the line the whole-text parse (sa_csv_parse_delim) gives; both MUST agree on
 * refusing a text. Never a crash, a hang or a leak. Built like fuzz_invoke_body (see
 * tests/CMakeLists.txt). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char delims[] = {',', ';', '\t'};
    const char *text = (const char *)data;
    for (size_t d = 0; d < sizeof delims; d++) {
        struct sa_err e1 = {0}, e2 = {0};
        struct sa_csv_row *rows = NULL;
        size_t n = 0;
        json_t *whole = NULL;
        int a = sa_csv_index(text, size, delims[d], 1000, &rows, &n, NULL, &e1);
        int b = sa_csv_parse_delim(text, size, delims[d], 1000, &whole, NULL, &e2);
        if (a != b)
            abort(); /* the two readers disagree on refusing the text */
        for (size_t i = 0; !a && i < n; i++) {
            json_t *f = NULL;
            const json_t *row = json_array_get(whole, i);
            if (sa_csv_row_fields(text, &rows[i], delims[d], &f) ||
                !json_equal(f, json_object_get(row, "fields")) ||
                (json_int_t)rows[i].line != json_integer_value(json_object_get(row, "line")))
                abort(); /* a row read back differs from the whole parse */
            json_decref(f);
        }
        if (!a && n != json_array_size(whole))
            abort();
        free(rows);
        json_decref(whole);
    }
    return 0;
}
