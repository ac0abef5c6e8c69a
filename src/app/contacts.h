/* The contacts service: a contact's consent. Do-not-contact is recorded here by the API,
 * and by the conversation agent and the outbox through the store. */
#ifndef SA_APP_CONTACTS_H
#define SA_APP_CONTACTS_H

#include <jansson.h>

#include "base/err.h"

struct sa_store;

/* {email, do_not_contact, reason, source, updated_at} (new reference); a contact never
 * recorded is {email, do_not_contact: false}. email MUST be valid. */
int sa_app_contact_get(struct sa_store *store, const char *email, json_t **out,
                       struct sa_err *err) SA_WUR;
/* Marks email do-not-contact for reason (source "api"), then answers as
 * sa_app_contact_get. */
int sa_app_contact_dnc(struct sa_store *store, const char *email, const char *reason, json_t **out,
                       struct sa_err *err) SA_WUR;

#endif
