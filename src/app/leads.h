/* The leads service: reading leads for the API (list with filters, one with its
 * executions, the stored input of one to run again). Writes go through invoke and
 * import. */
#ifndef SA_APP_LEADS_H
#define SA_APP_LEADS_H

#include <jansson.h>

#include "base/err.h"

struct sa_store;

/* {"items": [...], "total": N} (new reference): leads newest first, at most limit (1-500)
 * from offset, with tier ("A".."D" or NULL), a score of at least min_score (-1: any) and
 * search (NULL, or a case-insensitive substring of the company or contact). */
int sa_app_leads_list(struct sa_store *store, int limit, int offset, const char *tier,
                      int min_score, const char *search, json_t **out, struct sa_err *err) SA_WUR;
/* The lead id (lowercase UUID) with its 50 newest executions under "executions" (new
 * reference), or SA_ENOTFOUND with a message for the client. */
int sa_app_lead_get(struct sa_store *store, const char *id, json_t **out,
                    struct sa_err *err) SA_WUR;
/* The stored lead's input data (new reference): what a re-run of lead id starts from.
 * SA_ENOTFOUND with a message for the client. */
int sa_app_lead_input(struct sa_store *store, const char *id, json_t **out,
                      struct sa_err *err) SA_WUR;

#endif
