/* Guarded JSON parsing and data-file loading (see json.h). */
#include "base/json.h"

#include <string.h>

int sa_json_depth(const char *p, size_t len, int limit)
{
    int depth = 0, max = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max) {
                max = depth;
                if (max > limit)
                    return max;
            }
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

int sa_json_parse_body(const char *p, size_t len, int max_depth, json_t **out, long *pos,
                       struct sa_err *err)
{
    *out = NULL;
    *pos = -1;
    if (len == 0)
        return sa_err_set(err, SA_EINVAL, "request body is empty; expected a JSON object");
    if (sa_json_depth(p, len, max_depth) > max_depth)
        return sa_err_set(err, SA_EINVAL, "JSON nesting is deeper than %d levels", max_depth);
    json_error_t je;
    json_t *v = json_loadb(p, len, JSON_REJECT_DUPLICATES, &je);
    if (!v) {
        *pos = je.position;
        return sa_err_set(err, SA_EINVAL, "invalid JSON at line %d, column %d: %s", je.line,
                          je.column, je.text);
    }
    *out = v;
    return 0;
}

int sa_json_load_file(const char *path, json_t **out, struct sa_err *err)
{
    *out = NULL;
    json_error_t je;
    json_t *v = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!v) {
        if (je.line < 0)
            return sa_err_set(err, SA_ECONFIG, "%s: %s", path, je.text);
        return sa_err_set(err, SA_ECONFIG, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    }
    *out = v;
    return 0;
}

const char *sa_json_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}
