/* The CRM slot's shared part (see crm.h): choosing the backend, the field map, dry-run. */
#include "connectors/crm/crm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "base/log.h"
#include "connectors/http.h"

/* Default maps: {ours, HubSpot's, Salesforce's}. The score, tier and reasoning go to
 * custom properties the CRM's admin creates (README "CRM sync"). */
static const struct {
    const char *ours, *hubspot, *salesforce;
} FIELDS[] = {
    {"email", "email", "Email"},           {"first_name", "firstname", "FirstName"},
    {"last_name", "lastname", "LastName"}, {"title", "jobtitle", "Title"},
    {"phone", "phone", "Phone"},           {"company", "company", "Company"},
    {"website", "website", "Website"},     {"industry", "industry", "Industry"},
    {"country", "country", "Country"},     {"score", "lead_score", "Lead_Score__c"},
    {"tier", "lead_tier", "Lead_Tier__c"}, {"reasoning", "lead_reasoning", "Lead_Reasoning__c"},
};

static int map_pairs(const char *spec, json_t *into, struct sa_err *err)
{
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (!eq || eq == p || eq + 1 == p + n)
            return sa_err_set(err, SA_ECONFIG,
                              "CRM_FIELD_MAP: expected ours=theirs pairs separated by commas");
        char ours[128], theirs[128];
        size_t a = (size_t)(eq - p), b = n - a - 1;
        if (a >= sizeof ours || b >= sizeof theirs)
            return sa_err_set(err, SA_ECONFIG, "CRM_FIELD_MAP: a field name is too long");
        memcpy(ours, p, a);
        ours[a] = '\0';
        memcpy(theirs, eq + 1, b);
        theirs[b] = '\0';
        json_object_set_new(into, ours, json_string(theirs));
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

int sa_crm_field_map_parse(const char *spec, json_t *into, struct sa_err *err)
{
    if (!spec || !*spec)
        return 0;
    json_error_t je;
    json_t *m = NULL;
    if (spec[0] == '{')
        m = json_loads(spec, 0, &je);
    else if (!strchr(spec, '='))
        m = json_load_file(spec, 0, &je);
    else
        return map_pairs(spec, into, err);
    if (!json_is_object(m)) {
        json_decref(m);
        return sa_err_set(err, SA_ECONFIG, "CRM_FIELD_MAP: not a JSON object of names (%s)",
                          je.text);
    }
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v)
    {
        if (!json_is_string(v)) {
            sa_err_set(err, SA_ECONFIG, "CRM_FIELD_MAP: %s must map to a string", k);
            json_decref(m);
            return SA_ECONFIG;
        }
        json_object_set(into, k, v);
    }
    json_decref(m);
    return 0;
}

json_t *sa_crm_properties(const struct sa_crm *c, const json_t *payload)
{
    json_t *props = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(c->field_map, k, v)
    {
        json_t *val = json_object_get(payload, k);
        const char *name = json_string_value(v);
        if (!name || !*name || !val || json_is_null(val))
            continue;
        if (json_is_string(val) || json_is_number(val))
            json_object_set(props, name, val);
    }
    return props;
}

void sa_crm_result_all(struct sa_crm_result *res, int n, enum sa_crm_outcome outcome,
                       const char *error)
{
    for (int i = 0; i < n; i++) {
        res[i].outcome = outcome;
        snprintf(res[i].error, sizeof res[i].error, "%s", error ? error : "");
    }
}

void sa_crm_error_text(int status, const char *body, char *buf, size_t cap)
{
    json_t *j = json_loads(body ? body : "", 0, NULL);
    const char *msg = NULL, *code = NULL;
    if (json_is_array(j)) { /* Salesforce: [{message, errorCode, fields}] */
        msg = json_string_value(json_object_get(json_array_get(j, 0), "message"));
        code = json_string_value(json_object_get(json_array_get(j, 0), "errorCode"));
    } else if (json_is_object(j)) { /* HubSpot: {status, message, category} */
        msg = json_string_value(json_object_get(j, "message"));
        code = json_string_value(json_object_get(j, "category"));
    }
    if (msg)
        snprintf(buf, cap, "HTTP %d %s: %.200s", status, code ? code : "", msg);
    else
        snprintf(buf, cap, "HTTP %d", status);
    json_decref(j);
}

static void dry_run(const char *what, json_t *const *items, int n, struct sa_crm_result *res)
{
    for (int i = 0; i < n; i++) {
        res[i].outcome = SA_CRM_DONE;
        snprintf(res[i].id, sizeof res[i].id, "dry-run");
        sa_log(SA_LOG_INFO, "crm dry run: would push",
               json_pack("{s:s, s:O}", "what", what, "item", items[i]));
    }
}

int sa_crm_upsert_leads(struct sa_crm *c, json_t *const *leads, int n, struct sa_crm_result *res)
{
    memset(res, 0, (size_t)n * sizeof *res);
    if (c->dry_run) {
        dry_run("lead", leads, n, res);
        return 0;
    }
    return c->ops->upsert_leads(c, leads, n, res);
}

int sa_crm_add_activities(struct sa_crm *c, json_t *const *acts, int n, struct sa_crm_result *res)
{
    memset(res, 0, (size_t)n * sizeof *res);
    if (c->dry_run) {
        dry_run("activity", acts, n, res);
        return 0;
    }
    return c->ops->add_activities(c, acts, n, res);
}

int sa_crm_open(const struct sa_config *cfg, struct sa_metrics *metrics, struct sa_crm **out,
                struct sa_err *err)
{
    *out = NULL;
    if (cfg->crm_provider == SA_CRM_NONE)
        return 0;
    bool hubspot = cfg->crm_provider == SA_CRM_HUBSPOT;
    struct sa_crm *c = NULL;
    int rc = hubspot ? sa_crm_hubspot_new(cfg, &c, err) : sa_crm_salesforce_new(cfg, &c, err);
    if (rc)
        return rc;
    c->dry_run = cfg->crm_dry_run != 0;
    c->field_map = json_object();
    for (size_t i = 0; i < sizeof FIELDS / sizeof FIELDS[0]; i++)
        json_object_set_new(c->field_map, FIELDS[i].ours,
                            json_string(hubspot ? FIELDS[i].hubspot : FIELDS[i].salesforce));
    struct sa_conn_http_config hc = {
        .name = c->ops->name,
        .timeout_ms = cfg->crm_timeout_ms > 0 ? cfg->crm_timeout_ms : 15000,
        .max_retries = 3,
        .breaker_failures = cfg->breaker_failures,
        .breaker_open_s = cfg->breaker_open_seconds,
        .metrics = metrics,
        .breaker_gauge = true,
    };
    rc = sa_crm_field_map_parse(cfg->crm_field_map, c->field_map, err);
    if (!rc)
        rc = sa_conn_http_new(&hc, &c->http, err);
    if (rc) {
        sa_crm_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void sa_crm_free(struct sa_crm *c)
{
    if (!c)
        return;
    sa_conn_http_free(c->http);
    json_decref(c->field_map);
    if (c->ops->destroy)
        c->ops->destroy(c);
    free(c);
}
