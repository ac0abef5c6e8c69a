/* Fuzz driver for what CRM sync parses: CRM_FIELD_MAP as written inline (JSON or
 * ours=theirs pairs; a path is not fuzzed: it would open random files) and the vendors'
 * error bodies (HubSpot's {message, category}, Salesforce's [{message, errorCode}]). A
 * parsed map MUST hold only strings and give properties of strings and numbers; an error
 * text MUST be NUL-terminated within its buffer. Never a crash, a hang or a leak. Built
 * like fuzz_invoke_body (see tests/CMakeLists.txt). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/crm/crm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char buf[SA_CRM_ERROR_MAX];
    memset(buf, 'x', sizeof buf);
    sa_crm_error_text(429, text, buf, sizeof buf);
    if (!memchr(buf, '\0', sizeof buf))
        abort();
    if (text[0] == '{' || strchr(text, '=')) {
        struct sa_crm c = {.field_map = json_object()};
        struct sa_err err = {0};
        if (sa_crm_field_map_parse(text, c.field_map, &err) == 0) {
            const char *k;
            json_t *v;
            json_object_foreach(c.field_map, k, v)
            {
                if (!json_is_string(v))
                    abort();
            }
            json_t *payload = json_pack("{s:s, s:i, s:s, s:n, s:[]}", "email", "a@b.example",
                                        "score", 87, "tier", "A", "reasoning", "industry");
            json_t *props = sa_crm_properties(&c, payload);
            json_object_foreach(props, k, v)
            {
                if (!json_is_string(v) && !json_is_number(v))
                    abort();
            }
            json_decref(props);
            json_decref(payload);
        }
        json_decref(c.field_map);
    }
    free(text);
    return 0;
}
