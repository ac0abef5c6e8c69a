/* The outbox's delivery worker: a thread that sends due outbox items (the BDR workflow's
 * e-mails and follow-ups) through a mail transport (connectors/mail/transport.h, MAIL_TRANSPORT,
 * default maildir:var/mail). Each item is rendered as an RFC 5322 message whose
 * Message-ID and Maildir file name derive from the item's id, and delivered with
 * send_once, so a crash between the delivery and marking it sent never sends twice.
 * Before an item leaves, the sending policy (domain/send_policy.h) is applied: a
 * do-not-contact recipient's item and a duplicate sequence are cancelled; an item over a
 * cap (per contact, company domain, sender), outside SEND_WINDOW in the recipient's zone,
 * or sooner than its sequence's spacing allows is rescheduled to the next allowed moment
 * with the reason recorded. Each message carries the consent headers and footer
 * (app/consent.h). Failures retry with backoff (1, 2, 4, ... minutes) and fail after 5
 * attempts. An item left "sending" by a worker that stopped between claim and mark is
 * queued again after OUTBOX_LEASE_SECONDS (outbox.c says what that costs).
 * Created by `serve` (cli/cmd_serve.c). */
#ifndef SA_OUTBOX_H
#define SA_OUTBOX_H

#include <jansson.h>

#include "base/err.h"

/* How long a claimed item may stay "sending" before the worker takes it for abandoned
 * and queues it again (longer than any delivery, timeouts included). */

struct sa_app;
struct sa_store;
struct sa_outbox_worker;

/* Opens the transport named by spec and starts the worker; poll_ms: how often it looks
 * for due items (it is also woken through app->outbox_kick when items are queued).
 * SA_ECONFIG when app->cfg.send_window is not a window (err says why). */
int sa_outbox_start(struct sa_app *app, const char *spec, long poll_ms,
                    struct sa_outbox_worker **out, struct sa_err *err) SA_WUR;
/* Stops the worker after the item it is sending, and frees it. */
void sa_outbox_stop(struct sa_outbox_worker *w);
/* Sends every item due now, in the calling thread; returns how many were sent (tests and
 * the CLI). */
int sa_outbox_drain(struct sa_outbox_worker *w, int *sent, struct sa_err *err) SA_WUR;

/* The outbox's items, newest first, filtered by status and/or e-mail (NULL: any), at
 * most limit (new reference, an array). */
int sa_app_outbox_list(struct sa_store *store, const char *status, const char *email, int limit,
                       json_t **out, struct sa_err *err) SA_WUR;

#endif
