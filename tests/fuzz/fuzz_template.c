/* Fuzz driver for the template language (domain/template.h): any text is checked and
 * rendered; a text the check accepts MUST render with no tag left over, or be withheld
 * naming what is missing; a text it refuses MUST still render without a crash, a hang or a
 * leak. Built like fuzz_invoke_body (see tests/CMakeLists.txt). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    json_t *vars = json_pack("{s:s, s:s, s:s, s:s}", "a", "apple", "name", "dana", "x",
                             "IT Services", "b", "an hour");
    json_t *missing = json_array();
    char why[160], *out = NULL;
    bool valid = sa_template_check(text, why, sizeof why) == 0;
    int rc = sa_template_render(text, vars, &out, missing);
    if (rc == 0 && !out)
        abort();
    if (valid && rc == 0 && strstr(out, "{{"))
        abort(); /* a tag of a valid template left in the text (no value holds braces) */
    if (rc == SA_EINVAL && json_array_size(missing) == 0)
        abort(); /* withheld without saying why */
    free(out);
    json_decref(missing);
    json_decref(vars);
    free(text);
    return 0;
}
