/* The CRM slot: where qualified leads and their activities are pushed (HubSpot,
 * Salesforce), chosen by CRM_PROVIDER. The outbox's delivery worker (app/outbox.c through
 * app/crm_sync.c) hands it batches of queued items; each backend says per item whether it
 * landed, should be retried, waits for a rate limit, or failed for good. Every call goes
 * through the connectors' HTTP client (connectors/http.h: deadline, breaker, metrics).
 *
 * What crosses this interface is ours, not the vendor's: a lead is the crm_lead item's
 * payload {lead_id, email, first_name, last_name, title, phone, company, domain, website,
 * industry, country, employees, score, tier, reasoning, qualified_at} and an activity the
 * crm_activity item's {activity_id, lead_id, email, type: email|meeting|reply, at (ISO
 * 8601), subject, body}. The field map (CRM_FIELD_MAP) turns our field names into the
 * CRM's property names; the backend adds the identity fields its API needs. */
#ifndef SA_CONNECTORS_CRM_H
#define SA_CONNECTORS_CRM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

struct sa_config;
struct sa_metrics;
struct sa_conn_http;
struct sa_crm;

/* What became of one item. */
enum sa_crm_outcome {
    SA_CRM_DONE,  /* landed; id holds the CRM's record id */
    SA_CRM_RETRY, /* a transient failure (5xx, network, deadline): retry with backoff */
    SA_CRM_DEFER, /* a rate limit that waiting out inside the call is not worth (HubSpot's
                   * DAILY policy, Salesforce's REQUEST_LIMIT_EXCEEDED) or the open circuit
                   * breaker: due again at retry_at, never failed for it */
    SA_CRM_FAIL,  /* refused for good (a 4xx, several matches): error says why */
};

#define SA_CRM_ID_MAX 64
#define SA_CRM_ERROR_MAX 320

struct sa_crm_result {
    enum sa_crm_outcome outcome;
    char id[SA_CRM_ID_MAX];
    char error[SA_CRM_ERROR_MAX]; /* no secrets; e-mail addresses masked by the log */
    long long retry_at;           /* SA_CRM_DEFER: unix seconds */
};

/* A backend. upsert_leads and add_activities get n (1..batch_max) payloads and fill n
 * results (cleared by the caller); they return 0, or an error only when nothing could be
 * attempted (out of memory). */
struct sa_crm_ops {
    const char *name; /* "hubspot", "salesforce" */
    int batch_max;    /* the most items one call takes */
    int (*upsert_leads)(struct sa_crm *c, json_t *const *leads, int n, struct sa_crm_result *res);
    int (*add_activities)(struct sa_crm *c, json_t *const *acts, int n, struct sa_crm_result *res);
    void (*destroy)(struct sa_crm *c); /* frees the backend's own state, not c */
};

/* The slot's shared part; a backend embeds it first. */
struct sa_crm {
    const struct sa_crm_ops *ops;
    struct sa_conn_http *http;
    json_t *field_map; /* {our field: CRM property}, defaults overlaid with CRM_FIELD_MAP */
    bool dry_run;
};

/* Opens the backend CRM_PROVIDER names, with its credentials from cfg. *out is NULL for
 * "none". SA_ECONFIG (err says which setting) when a credential is missing or the field
 * map cannot be read. The caller frees *out with sa_crm_free. */
int sa_crm_open(const struct sa_config *cfg, struct sa_metrics *metrics, struct sa_crm **out,
                struct sa_err *err) SA_WUR;
void sa_crm_free(struct sa_crm *c);

/* Parses a field map: a JSON object {"score": "hs_lead_score"} in a file (a path) or
 * inline ("{...}"), or "ours=theirs,ours=theirs"; overlays it on into. */
int sa_crm_field_map_parse(const char *spec, json_t *into, struct sa_err *err) SA_WUR;

/* The CRM properties for payload under the field map: each mapped field of ours that the
 * payload has (a string or a number), under its CRM name; new reference. */
json_t *sa_crm_properties(const struct sa_crm *c, const json_t *payload);

/* In dry-run mode the calls log what would be pushed and report DONE with id "dry-run". */
int sa_crm_upsert_leads(struct sa_crm *c, json_t *const *leads, int n,
                        struct sa_crm_result *res) SA_WUR;
int sa_crm_add_activities(struct sa_crm *c, json_t *const *acts, int n,
                          struct sa_crm_result *res) SA_WUR;

static inline const char *sa_crm_name(const struct sa_crm *c)
{
    return c->ops->name;
}
static inline int sa_crm_batch_max(const struct sa_crm *c)
{
    return c->dry_run ? 100 : c->ops->batch_max;
}

/* The backends (hubspot.c, salesforce.c): each makes its struct sa_crm (embedding the
 * shared part) from cfg. */
int sa_crm_hubspot_new(const struct sa_config *cfg, struct sa_crm **out, struct sa_err *err) SA_WUR;
int sa_crm_salesforce_new(const struct sa_config *cfg, struct sa_crm **out,
                          struct sa_err *err) SA_WUR;

/* Helpers the backends share. */
/* Fills every result with outcome and error. */
void sa_crm_result_all(struct sa_crm_result *res, int n, enum sa_crm_outcome outcome,
                       const char *error);
/* The CRM's own error text from an answer's body (HubSpot's "message", Salesforce's
 * [{"message", "errorCode"}]), shortened, into buf. */
void sa_crm_error_text(int status, const char *body, char *buf, size_t cap);

#endif
