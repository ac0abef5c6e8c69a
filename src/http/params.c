/* Parameter rules shared by the routes (see params.h). */
#include "http/params.h"

#include <stdio.h>
#include <string.h>

#include "app/invoke.h"
#include "base/config.h"
#include "base/detail.h"
#include "base/uuid.h"
#include "domain/lead.h"
#include "http/http.h"

bool sa_thread_id_valid(const char *s, size_t n)
{
    if (!s || n == 0 || n > SA_THREAD_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-' || c == '_' || c == '.' || c == ':'))
            return false;
    }
    return true;
}

bool sa_param_uuid(struct sa_req *r, int i, const char *loc, char out[37])
{
    const char *v = r->params[i];
    if (v && sa_uuid_valid(v, strlen(v))) {
        sa_uuid_lower(v, out);
        return true;
    }
    sa_reply_error(r, 422, "validation_error", loc, "uuid_parsing", "Input should be a valid UUID");
    return false;
}

bool sa_param_thread_id(struct sa_req *r, int i)
{
    const char *v = r->params[i];
    bool ok = v && *v;
    for (const char *p = v; ok && p;) {
        const char *bar = strchr(p, '|');
        ok = sa_thread_id_valid(p, bar ? (size_t)(bar - p) : strlen(p));
        p = bar ? bar + 1 : NULL;
    }
    if (ok && strlen(v) <= (size_t)4 * SA_THREAD_ID_MAX)
        return true;
    sa_reply_error(r, 422, "validation_error", "path.thread_id", "string_pattern_mismatch",
                   "thread_id should be %s", SA_THREAD_ID_RULE);
    return false;
}

bool sa_param_email(struct sa_req *r, int i)
{
    if (r->params[i] && sa_email_valid(r->params[i]))
        return true;
    sa_reply_error(r, 422, "validation_error", "path.email", "value_error",
                   "Value is not a valid email address");
    return false;
}

void sa_query_long(struct sa_req *r, const char *name, long min, long max, long dflt, long *out,
                   json_t *detail)
{
    const char *s = sa_req_query(r, name);
    *out = dflt;
    if (!s || sa_parse_long(s, min, max, out) == 0)
        return;
    char loc[64];
    snprintf(loc, sizeof loc, "query.%s", name);
    sa_detail_add(detail, loc, "int_parsing", "Input should be an integer from %ld to %ld", min,
                  max);
    *out = dflt;
}

const char *sa_query_enum(struct sa_req *r, const char *name, const char *const *allowed,
                          json_t *detail)
{
    const char *v = sa_req_query(r, name);
    if (!v)
        return NULL;
    for (const char *const *a = allowed; *a; a++)
        if (strcmp(v, *a) == 0)
            return v;
    char loc[64], msg[200] = "Input should be one of:";
    snprintf(loc, sizeof loc, "query.%s", name);
    for (const char *const *a = allowed; *a; a++)
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg), " %s", *a);
    sa_detail_add(detail, loc, "enum", "%s", msg);
    return NULL;
}

void sa_body_thread_id(const json_t *obj, const char **out, json_t *detail)
{
    *out = NULL;
    json_t *v = json_object_get(obj, "thread_id");
    if (!v || json_is_null(v))
        return;
    if (json_is_string(v) && sa_thread_id_valid(json_string_value(v), json_string_length(v)))
        *out = json_string_value(v);
    else
        sa_detail_add(detail, "body.thread_id", "string_pattern_mismatch", "thread_id should be %s",
                      SA_THREAD_ID_RULE);
}

void sa_body_lead_id(const json_t *obj, char out[37], json_t *detail)
{
    out[0] = '\0';
    json_t *v = json_object_get(obj, "lead_id");
    if (!v || json_is_null(v))
        return;
    if (json_is_string(v) && sa_uuid_valid(json_string_value(v), json_string_length(v)))
        sa_uuid_lower(json_string_value(v), out);
    else
        sa_detail_add(detail, "body.lead_id", "uuid_parsing",
                      "Input should be a valid UUID, such as "
                      "\"123e4567-e89b-42d3-a456-426614174000\"");
}
