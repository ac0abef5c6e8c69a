#include "llm/schema.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 16

static bool type_is(const char *t, const json_t *v)
{
    if (strcmp(t, "object") == 0)
        return json_is_object(v);
    if (strcmp(t, "array") == 0)
        return json_is_array(v);
    if (strcmp(t, "string") == 0)
        return json_is_string(v);
    if (strcmp(t, "integer") == 0)
        return json_is_integer(v) ||
               (json_is_real(v) && floor(json_real_value(v)) == json_real_value(v));
    if (strcmp(t, "number") == 0)
        return json_is_number(v);
    if (strcmp(t, "boolean") == 0)
        return json_is_boolean(v);
    if (strcmp(t, "null") == 0)
        return json_is_null(v);
    return false;
}

static bool type_ok(const json_t *type, const json_t *v)
{
    if (json_is_string(type))
        return type_is(json_string_value(type), v);
    if (!json_is_array(type))
        return true;
    size_t i;
    const json_t *t;
    json_array_foreach(type, i, t) if (json_is_string(t) && type_is(json_string_value(t), v))
        return true;
    return false;
}

/* Characters of a UTF-8 string (continuation bytes not counted). */
static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int check(const json_t *s, const json_t *v, const char *path, int depth, struct sa_err *err)
{
    if (!json_is_object(s))
        return 0;
    if (depth > MAX_DEPTH)
        return sa_err_set(err, SA_EINVAL, "%s: nested too deeply", path);
    const json_t *type = json_object_get(s, "type");
    if (type && !type_ok(type, v))
        return sa_err_set(err, SA_EINVAL, "%s: not of the type the schema asks", path);
    const json_t *en = json_object_get(s, "enum");
    if (json_is_array(en)) {
        bool found = false;
        size_t i;
        const json_t *x;
        json_array_foreach(en, i, x) found |= json_equal(x, v);
        if (!found)
            return sa_err_set(err, SA_EINVAL, "%s: not one of the allowed values", path);
    }
    if (json_is_string(v)) {
        size_t n = chars(json_string_value(v));
        const json_t *mx = json_object_get(s, "maxLength"), *mn = json_object_get(s, "minLength");
        if (json_is_integer(mx) && (json_int_t)n > json_integer_value(mx))
            return sa_err_set(err, SA_EINVAL, "%s: longer than %lld characters", path,
                              (long long)json_integer_value(mx));
        if (json_is_integer(mn) && (json_int_t)n < json_integer_value(mn))
            return sa_err_set(err, SA_EINVAL, "%s: shorter than %lld characters", path,
                              (long long)json_integer_value(mn));
    }
    if (json_is_number(v)) {
        double x = json_number_value(v);
        const json_t *mx = json_object_get(s, "maximum"), *mn = json_object_get(s, "minimum");
        if (json_is_number(mx) && x > json_number_value(mx))
            return sa_err_set(err, SA_EINVAL, "%s: above the maximum", path);
        if (json_is_number(mn) && x < json_number_value(mn))
            return sa_err_set(err, SA_EINVAL, "%s: below the minimum", path);
    }
    char sub[256];
    if (json_is_array(v)) {
        const json_t *mx = json_object_get(s, "maxItems"), *mn = json_object_get(s, "minItems");
        if (json_is_integer(mx) && (json_int_t)json_array_size(v) > json_integer_value(mx))
            return sa_err_set(err, SA_EINVAL, "%s: more than %lld items", path,
                              (long long)json_integer_value(mx));
        if (json_is_integer(mn) && (json_int_t)json_array_size(v) < json_integer_value(mn))
            return sa_err_set(err, SA_EINVAL, "%s: fewer than %lld items", path,
                              (long long)json_integer_value(mn));
        const json_t *items = json_object_get(s, "items");
        size_t i;
        const json_t *x;
        json_array_foreach(v, i, x)
        {
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            int rc = check(items, x, sub, depth + 1, err);
            if (rc)
                return rc;
        }
    }
    if (json_is_object(v)) {
        const json_t *props = json_object_get(s, "properties");
        const json_t *req = json_object_get(s, "required");
        size_t i;
        const json_t *x;
        json_array_foreach(req, i, x)
        {
            if (json_is_string(x) && !json_object_get(v, json_string_value(x)))
                return sa_err_set(err, SA_EINVAL, "%s: \"%s\" is missing", path,
                                  json_string_value(x));
        }
        const char *k;
        json_t *pv;
        json_object_foreach((json_t *)v, k, pv)
        {
            const json_t *ps = json_object_get(props, k);
            snprintf(sub, sizeof sub, "%s.%s", path, k);
            if (!ps && json_is_false(json_object_get(s, "additionalProperties")))
                return sa_err_set(err, SA_EINVAL, "%s: not a field of the schema", sub);
            int rc = check(ps, pv, sub, depth + 1, err);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int sa_llm_schema_check(const json_t *schema, const json_t *value, struct sa_err *err)
{
    if (!value)
        return sa_err_set(err, SA_EINVAL, "$: no answer");
    return check(schema, value, "$", 0, err);
}
