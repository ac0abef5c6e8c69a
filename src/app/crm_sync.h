/* CRM sync through the outbox: what queues a push (a lead qualified, an e-mail sent, a
 * meeting booked, a reply received) and how the delivery worker hands the queued pushes
 * to the CRM slot (connectors/crm/crm.h). Each push is an outbox item of kind crm_lead or
 * crm_activity under an idempotency key, so the same push is queued once: a lead's key
 * carries a hash of what is pushed (a new score or tier is a new version, queued again;
 * the same one is not), an activity's key its own id. Queueing does nothing when
 * CRM_PROVIDER is none. Callers: app/invoke.c, app/outbox.c, cli/cmd_crm.c, the routes. */
#ifndef SA_APP_CRM_SYNC_H
#define SA_APP_CRM_SYNC_H

#include <jansson.h>
#include <stdbool.h>

#include "base/err.h"

struct sa_app;

/* Whether an outbox kind is a CRM push (crm_lead, crm_activity). */
bool sa_crm_sync_kind(const char *kind);

/* Queues the push of the stored lead lead_id when it is qualified and has a contact
 * e-mail; *added (may be NULL): 1 when a new item was queued, 0 when this version was
 * queued already (or the lead does not qualify for a push). */
int sa_crm_sync_queue_lead(struct sa_app *app, const char *lead_id, int *added,
                           struct sa_err *err) SA_WUR;

/* Queues an activity of the lead: type "email", "meeting" or "reply"; activity_id unique
 * per activity (the outbox item's id, the meeting's id and status, the turn's execution
 * id); at: ISO 8601 or NULL (now); subject and body may be NULL. */
int sa_crm_sync_queue_activity(struct sa_app *app, const char *lead_id, const char *email,
                               const char *type, const char *activity_id, const char *at,
                               const char *subject, const char *body, struct sa_err *err) SA_WUR;

/* Logs instead of failing: for the hooks, where the event itself stands. */
void sa_crm_sync_lead_logged(struct sa_app *app, const char *lead_id);
void sa_crm_sync_activity_logged(struct sa_app *app, const char *lead_id, const char *email,
                                 const char *type, const char *activity_id, const char *subject,
                                 const char *body);

/* Delivers n due CRM items (outbox_due rows): claims each, pushes them in batches through
 * app->crm, and records each outcome (sent with the CRM's id; queued again with backoff;
 * deferred for a rate limit; failed). Without a CRM (CRM_PROVIDER=none) the items are
 * deferred a day. *sent counts the items that landed. */
int sa_crm_sync_deliver(struct sa_app *app, json_t *const *items, int n, int max_attempts,
                        int *sent, struct sa_err *err) SA_WUR;

/* Queues the qualified leads qualified at or after since (ISO 8601, NULL: all) whose
 * current version is not queued yet; *queued counts them, *seen the qualified leads read. */
int sa_crm_sync_backlog(struct sa_app *app, const char *since, int *queued, int *seen,
                        struct sa_err *err) SA_WUR;

/* GET /api/crm/status: {provider, dry_run, breaker, counts: {status: n}, leads: [{lead_id,
 * kind, status, attempts, last_error, delivered_id, updated_at}]} for lead_id (NULL: any),
 * newest first, at most limit. */
int sa_crm_sync_status(struct sa_app *app, const char *lead_id, int limit, json_t **out,
                       struct sa_err *err) SA_WUR;

#endif
