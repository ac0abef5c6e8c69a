/* The contacts service: a contact's consent. Do-not-contact is recorded here by the API
 * (source "operator"), by the one-click unsubscribe (app/consent.h, "prospect"), and by
 * the conversation agent and the import through the store; every opt-out and every lift
 * is kept in an append-only history. */
#ifndef SA_APP_CONTACTS_H
#define SA_APP_CONTACTS_H

#include <jansson.h>

#include "base/err.h"

struct sa_store;

/* {email, do_not_contact, reason, source, updated_at} (new reference); a contact never
 * recorded is {email, do_not_contact: false}. email MUST be valid. */
int sa_app_contact_get(struct sa_store *store, const char *email, json_t **out,
                       struct sa_err *err) SA_WUR;
/* Marks email do-not-contact for reason (source "operator": a prospect's own earlier
 * opt-out stays the contact's record), then answers as sa_app_contact_get. Mail still
 * queued for it is cancelled when it comes due (the outbox checks consent as it sends). */
int sa_app_contact_dnc(struct sa_store *store, const char *email, const char *reason, json_t **out,
                       struct sa_err *err) SA_WUR;
/* Lifts do-not-contact on the consent record {consent_source, note} (both required by the
 * caller), kept in the history; answers as sa_app_contact_get. SA_ECONFLICT when the
 * contact is not do-not-contact. */
int sa_app_contact_lift(struct sa_store *store, const char *email, const char *consent_source,
                        const char *note, json_t **out, struct sa_err *err) SA_WUR;
/* The contact with its consent history: {email, do_not_contact, reason, source,
 * updated_at, history: [{action, source, reason, at}]}. */
int sa_app_contact_history(struct sa_store *store, const char *email, json_t **out,
                           struct sa_err *err) SA_WUR;
/* A page of do-not-contact contacts, newest first: {items, total, limit, offset}. */
int sa_app_contacts_dnc_page(struct sa_store *store, int limit, int offset, json_t **out,
                             struct sa_err *err) SA_WUR;
/* Every do-not-contact contact as a suppression list for other mail tools: CSV (RFC 4180,
 * CRLF, cells neutralised as the lead export's), columns Email, Source, Reason, Since,
 * newest first. *out (malloc'd) holds *len bytes. SA_ETOOBIG past 256 MB. */
int sa_app_contacts_suppression_csv(struct sa_store *store, char **out, size_t *len,
                                    struct sa_err *err) SA_WUR;

#endif
