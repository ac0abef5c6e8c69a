/* Consent for outgoing mail: the unsubscribe links every message carries (RFC 2369
 * List-Unsubscribe with a mailto: and a one-click https:// link, RFC 8058), their signing
 * secret (UNSUBSCRIBE_SECRET, or one generated once and kept in the store), the sender's
 * postal address, and the one-click unsubscribe itself. Opened by sa_app_open; read by
 * the outbox worker (links) and the public /unsubscribe/{token} route. */
#ifndef SA_APP_CONSENT_H
#define SA_APP_CONSENT_H

#include <jansson.h>
#include <stdbool.h>

#include "base/err.h"

struct sa_config;
struct sa_store;
struct sa_consent;

/* Room for an unsubscribe URL (base URL, "/unsubscribe/" and a token) with its NUL. */
#define SA_CONSENT_URL_MAX 1024

/* Reads the secret (cfg->unsubscribe_secret, at least 32 bytes, else the store's,
 * generated at the first start) and the base URL (PUBLIC_URL, else http://HOST:PORT).
 * Returns 0 and *out (freed with sa_consent_free), SA_ECONFIG for a short secret, or the
 * store's error. */
/* sender_email and postal_address: the profile's, after the settings' overrides (the
 * mailto link and the postal address in every e-mail's footer). */
int sa_consent_open(const struct sa_config *cfg, struct sa_store *store, const char *sender_email,
                    const char *postal_address, struct sa_consent **out,
                    struct sa_err *err) SA_WUR;
void sa_consent_free(struct sa_consent *c);

/* The links for a message to email: the one-click URL written into url, the mailto: URI
 * (borrowed from c) into *mailto, the postal address (borrowed, NULL when none) into
 * *address. Returns 0, or SA_EINVAL for an address no token can carry. */
int sa_consent_links(const struct sa_consent *c, const char *email, char url[SA_CONSENT_URL_MAX],
                     const char **mailto, const char **address) SA_WUR;

/* The port the HTTP server bound (cmd_serve): with PORT 0 and no PUBLIC_URL the links
 * carry it instead of ":0". Call it once, before the first request is served. */
void sa_consent_bind(struct sa_consent *c, int port);

/* Checks token and, with apply, opts its address out (source "prospect"), idempotently,
 * and cancels the mail still queued for it. *out: {email, do_not_contact, cancelled}
 * (cancelled: 0 without apply). SA_ENOTFOUND for a token that is not ours. */
int sa_consent_unsubscribe(const struct sa_consent *c, struct sa_store *store, const char *token,
                           bool apply, json_t **out, struct sa_err *err) SA_WUR;

/* Cancels every queued e-mail and follow-up to email with reason; *n counts them. */
int sa_consent_cancel_queued(struct sa_store *store, const char *email, const char *reason,
                             int *n, struct sa_err *err) SA_WUR;

#endif
