/* /api/keys (list, create, revoke) and /api/audit: the admin scope's routes. */
#include <stdio.h>
#include <string.h>

#include "app/access.h"
#include "app/app.h"
#include "base/detail.h"
#include "http/http.h"
#include "http/params.h"

void sa_route_keys_list(struct sa_req *r)
{
    json_t *out = NULL;
    struct sa_err err = {0};
    int rc = sa_access_key_list(r->app->access, &out, &err);
    if (rc) {
        sa_reply_unavailable(r, rc, &err, "Listing the keys");
        return;
    }
    sa_reply_json(r, 200, out);
}

/* scopes: an array of names or one "read,write" string, into buf as "read,write". */
static bool body_scopes(json_t *v, char *buf, size_t cap, json_t *detail)
{
    buf[0] = '\0';
    if (json_is_string(v)) {
        snprintf(buf, cap, "%s", json_string_value(v));
        return true;
    }
    if (!json_is_array(v) || json_array_size(v) == 0) {
        sa_detail_add(detail, "body.scopes", v ? "list_type" : "missing",
                      "scopes should be a non-empty list of read, write, approve, admin, inbound");
        return false;
    }
    size_t i;
    json_t *s;
    json_array_foreach (v, i, s) {
        if (!json_is_string(s) || strlen(buf) + json_string_length(s) + 2 > cap) {
            sa_detail_add(detail, "body.scopes", "string_type",
                          "scopes should be a list of read, write, approve, admin, inbound");
            return false;
        }
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", i ? "," : "",
                 json_string_value(s));
    }
    return true;
}

void sa_route_keys_create(struct sa_req *r)
{
    json_t *body = sa_req_json(r);
    if (!body)
        return;
    json_t *detail = json_array();
    json_t *name = json_object_get(body, "name");
    json_t *exp = json_object_get(body, "expires_at");
    char scopes[128];
    if (!json_is_string(name))
        sa_detail_add(detail, "body.name", name ? "string_type" : "missing",
                      "name should be a string (who or what uses the key)");
    bool scopes_ok = body_scopes(json_object_get(body, "scopes"), scopes, sizeof scopes, detail);
    if (exp && !json_is_null(exp) && !json_is_string(exp))
        sa_detail_add(detail, "body.expires_at", "string_type",
                      "expires_at should be a UTC time such as 2027-01-31T00:00:00Z");
    const char *known[] = {"name", "scopes", "expires_at", NULL};
    const char *k;
    json_t *v;
    json_object_foreach (body, k, v) {
        bool ok = false;
        for (const char **p = known; *p; p++)
            ok |= strcmp(k, *p) == 0;
        if (!ok) {
            char loc[96];
            snprintf(loc, sizeof loc, "body.%.60s", k);
            sa_detail_add(detail, loc, "extra_forbidden", "Extra inputs are not permitted");
        }
    }
    json_t *out = NULL;
    struct sa_err err = {0};
    if (json_array_size(detail) == 0 && scopes_ok) {
        int rc = sa_access_key_create(r->app->access, json_string_value(name), scopes,
                                      json_is_string(exp) ? json_string_value(exp) : NULL,
                                      r->principal.id, sa_access_now(r->app->access), &out, &err);
        if (rc == SA_EINVAL) {
            const char *loc = strstr(err.msg, "scope")        ? "body.scopes"
                              : strstr(err.msg, "expires_at") ? "body.expires_at"
                                                              : "body.name";
            sa_detail_add(detail, loc, "value_error", "%s", err.msg);
        } else if (rc) {
            sa_reply_unavailable(r, rc, &err, "Creating the key (no key was created)");
            goto done;
        }
    }
    if (json_array_size(detail) > 0 || !out) {
        sa_reply_problem(r, 422, "validation_error", json_incref(detail));
        goto done;
    }
    /* the audit record's target is the new key */
    r->audit_detail = json_pack("{s:O, s:O, s:O}", "target", json_object_get(out, "id"), "name",
                                json_object_get(out, "name"), "scopes",
                                json_object_get(out, "scopes"));
    char self[64];
    snprintf(self, sizeof self, "/api/keys/%s", json_string_value(json_object_get(out, "id")));
    sa_reply_header(r, "Location", "%s", self);
    sa_reply_header(r, "Cache-Control", "no-store");
    sa_reply_json(r, 201, out);
done:
    json_decref(detail);
    json_decref(body);
}

void sa_route_key_revoke(struct sa_req *r)
{
    const char *id = r->params[0];
    json_t *out = NULL;
    struct sa_err err = {0};
    bool changed = false;
    int rc = sa_access_key_revoke(r->app->access, id, sa_access_now(r->app->access), &out,
                                  &changed, &err);
    if (rc) {
        sa_reply_failure(r, rc, &err, "path.key_id", "Revoking the key");
        return;
    }
    r->no_audit = !changed; /* revoked before: the same answer, no new record */
    sa_reply_json(r, 200, out);
}

void sa_route_audit_list(struct sa_req *r)
{
    json_t *detail = json_array();
    long limit, before;
    sa_query_long(r, "limit", 1, 500, 50, &limit, detail);
    sa_query_long(r, "before_id", 1, 9007199254740991L, 0, &before, detail);
    struct sa_audit_filter q = {.action = sa_req_query(r, "action"),
                               .principal = sa_req_query(r, "principal"),
                               .target = sa_req_query(r, "target"),
                               .since = sa_req_query(r, "since"),
                               .until = sa_req_query(r, "until"),
                               .before_id = before,
                               .limit = (int)limit};
    double t;
    if (q.since && sa_access_parse_iso(q.since, &t))
        sa_detail_add(detail, "query.since", "datetime_parsing",
                      "since should be a UTC time such as 2026-12-01T00:00:00Z");
    if (q.until && sa_access_parse_iso(q.until, &t))
        sa_detail_add(detail, "query.until", "datetime_parsing",
                      "until should be a UTC time such as 2026-12-01T00:00:00Z");
    if (json_array_size(detail) > 0) {
        sa_reply_problem(r, 422, "validation_error", detail);
        return;
    }
    json_decref(detail);
    json_t *out = NULL;
    struct sa_err err = {0};
    int rc = sa_access_audit_list(r->app->access, &q, &out, &err);
    if (rc) {
        sa_reply_unavailable(r, rc, &err, "Reading the audit log");
        return;
    }
    sa_reply_json(r, 200, out);
}
