/* A lead's timeline: what happened to one lead, from every part that records it (the
 * agents' executions, the BDR approvals, the outbox's e-mails and follow-ups, the audit
 * log), in one list, newest first. */
#ifndef SA_APP_TIMELINE_H
#define SA_APP_TIMELINE_H

#include <jansson.h>

#include "base/err.h"

struct sa_store;

/* {"lead_id", "items": [{at, kind, id, thread_id, ...}], "count"} for lead id (a lowercase
 * UUID), at most limit (1-500) items. SA_ENOTFOUND (a message for the client) for an
 * unknown lead. */
int sa_app_lead_timeline(struct sa_store *store, const char *id, int limit, json_t **out,
                         struct sa_err *err) SA_WUR;

#endif
