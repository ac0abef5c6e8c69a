/* The leads service: reading leads for the API (list with filters, one with its
 * executions, the stored input of one to run again). Writes go through invoke and
 * import. */
#ifndef SA_APP_LEADS_H
#define SA_APP_LEADS_H

#include <jansson.h>
#include <stdbool.h>

#include "base/err.h"

struct sa_store;
struct sa_lead;
struct sa_lead_row;

/* {"items": [...], "total": N} (new reference): leads in sort's order (NULL: newest
 * first; else a name sa_app_lead_sort_valid accepts, anything else is SA_EINVAL), at most
 * limit (1-500) from offset, with tier ("A".."D" or NULL), a score of at least min_score
 * (-1: any) and search (NULL, or a substring of the company, contact, e-mail or industry,
 * case and Latin diacritics ignored). */
int sa_app_leads_list(struct sa_store *store, int limit, int offset, const char *tier,
                      int min_score, const char *search, const char *sort, json_t **out,
                      struct sa_err *err) SA_WUR;

/* True when name is an order of the lead list: score (lowest first), -score,
 * created_at (oldest first), -created_at or company (SA_LEAD_SORT_NAMES, for messages). */
bool sa_app_lead_sort_valid(const char *name);
#define SA_LEAD_SORT_NAMES "score, -score, created_at, -created_at or company"
/* The store's order (enum sa_lead_sort) for such a name, or -1. */
int sa_app_lead_sort_code(const char *name);
/* The lead id (lowercase UUID) with its 50 newest executions under "executions" (new
 * reference), or SA_ENOTFOUND with a message for the client. */
int sa_app_lead_get(struct sa_store *store, const char *id, json_t **out,
                    struct sa_err *err) SA_WUR;
/* The stored lead's input data (new reference): what a re-run of lead id starts from.
 * SA_ENOTFOUND with a message for the client. */
int sa_app_lead_input(struct sa_store *store, const char *id, json_t **out,
                      struct sa_err *err) SA_WUR;

/* Fills *row, the lead as the store writes it, from the validated lead l with record id,
 * data (its input as JSON text) and qual (the qualification output, or NULL: the row
 * then carries no score). A numeric company_size is stored as the text the user sent
 * ("350"), written into size_text. Everything stays borrowed. */
void sa_app_lead_row(struct sa_lead_row *row, const struct sa_lead *l, const char *id,
                     const char *data, const json_t *qual, char size_text[32]);

/* ---- edit and erase (issue 11) ---- */

struct sa_app;

/* Applies patch (a JSON object, RFC 7396 merge patch: null removes a field, an object
 * merges into an object, anything else replaces) to lead id's stored input, validates
 * the result like a new lead, runs the qualification agent on it and stores lead and
 * score. On success *out is the lead as sa_app_lead_get answers it and *changed the
 * patched field names ("industry", "contact_info.title"), both new references.
 * SA_EINVAL when the patched input is invalid: detail (borrowed) got one entry per bad
 * field, loc starting "body", and nothing was written. SA_ENOTFOUND for an unknown id,
 * SA_ECONFLICT when the new e-mail is another lead's (messages for the client).
 * Edits of one lead are serialised in this process, so two concurrent patches both land
 * (neither is lost). With if_match (an If-Match header: "*" or a list of ETags), the
 * patch applies only when the lead's current tag is listed: SA_EPRECONDITION otherwise,
 * so a client that read the lead, changed it and sends it back never overwrites an edit
 * made in between (across instances too: the check and the write are under the lock,
 * which one instance holds; see docs/leads.md for the window across instances). */
int sa_app_lead_update(struct sa_app *app, const char *id, const json_t *patch,
                       const char *if_match, json_t *detail, json_t **changed, json_t **out,
                       struct sa_err *err) SA_WUR;

/* A lead's entity tag (quoted, as the ETag header carries it): a hash of the lead as
 * sa_app_lead_get answers it, so any change to it, the score included, changes the tag. */
#define SA_ETAG_LEN 24
void sa_app_lead_etag(const json_t *lead, char out[SA_ETAG_LEN]);

/* Erases lead id and the person's data everywhere they appear (store.h lead_erase, then
 * the checkpoints of the lead's threads); keeps the do-not-contact record. *out (new
 * reference): rows erased per table plus "checkpoint_threads", the threads whose
 * checkpoints went. SA_ENOTFOUND for an unknown id, SA_ECONFLICT while a run of the lead
 * is under way (nothing erased), SA_ESTORE when the checkpoints could not be removed
 * after the records were (logged with the thread ids). */
int sa_app_lead_erase(struct sa_app *app, const char *id, json_t **out, struct sa_err *err) SA_WUR;

#endif
