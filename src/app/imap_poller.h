/* The IMAP poller: a background thread of `serve` and `worker` (cli/cli.c) that reads the
 * mailbox IMAP_URL names every IMAP_POLL_SECONDS (the business clock, base/clock.h) and
 * hands each new message to the inbound mail service (app/inbound.h), the code path of
 * POST /api/inbound/email and `sales-agent inbound`. Its place in the mailbox (UIDVALIDITY
 * and the last UID done) is kept in the store under a lease, so a restart neither imports
 * again nor misses, and of several processes one polls at a time. imap_poller.c says what
 * happens to each message and after a failure. */
#ifndef SA_APP_IMAP_POLLER_H
#define SA_APP_IMAP_POLLER_H

#include <stddef.h>

#include "base/err.h"

struct sa_app;
struct sa_imap_poller;

/* The keyword set on a message the inbound service refuses (it stays in the mailbox). */
#define SA_IMAP_REJECTED_KEYWORD "$SalesAgentRejected"

/* Starts the poller of app->cfg's IMAP_URL; its first poll is at once. The poller borrows
 * app (which MUST outlive it) and publishes itself as app->imap for /health. Returns 0
 * and *out, SA_ENOMEM. */
int sa_imap_poller_start(struct sa_app *app, struct sa_imap_poller **out,
                         struct sa_err *err) SA_WUR;
/* Stops the thread after the message it is on, clears app->imap and frees; NULL is a
 * no-op. */
void sa_imap_poller_stop(struct sa_imap_poller *p);

/* For /health: detail (NUL-terminated, at most cap) says how polling goes: "ok, last poll
 * ...", "backing off: N failed polls (...); next at ...", "standby: another process polls
 * the mailbox". Thread-safe. */
void sa_imap_poller_status(struct sa_imap_poller *p, char *detail, size_t cap);

#endif
