/* The SMTP mail transport (libcurl's SMTP): opened by sa_transport_open_with for
 * "smtp://" and "smtps://" specs; the outbox sends through it like any transport. */
#ifndef SA_MAIL_SMTP_H
#define SA_MAIL_SMTP_H

#include "base/err.h"

struct sa_transport;
struct sa_transport_options;

/* Opens an SMTP transport for url:
 *   smtp://[USER[:PASS]@]HOST[:PORT][?PARAMS]   port 587 by default; STARTTLS required
 *   smtps://[USER[:PASS]@]HOST[:PORT][?PARAMS]  port 465 by default; TLS from the start
 * USER and PASS are percent-decoded; without them opts' smtp_username / smtp_password
 * (SMTP_USERNAME, SMTP_PASSWORD) are used, and without either no AUTH is sent. PARAMS,
 * joined by '&':
 *   starttls=required|none  smtp:// only; none (a local relay) refuses credentials, which
 *                           would cross the network in clear
 *   auth=plain|login        the SASL mechanism (default: the best the server offers)
 *   cafile=PATH             CA bundle for a private CA (overrides SMTP_CA_FILE)
 *   helo=NAME               the EHLO name (default: this host's name)
 * The server's certificate and name are always verified.
 *
 * send() delivers one message to to_addr, the envelope sender being opts->smtp_mail_from
 * or the message's From address. Connections are kept and reused: one libcurl handle per
 * concurrent sender, each keeping its connection open across messages. Every delivery
 * goes through the transport's circuit breaker ("smtp") and is counted in
 * connector_requests_total{connector="smtp",status} and connector_request_seconds.
 * Returns 0 after the server's 250 to the end of DATA, with the delivered id: the
 * server's queue id when its reply names one ("queued as ID", "id=ID"), else the
 * message's Message-ID. Failures:
 *   SA_EINVAL      a 5xx to MAIL, RCPT or DATA: this message or recipient is refused for
 *                  good (the outbox fails the item and goes on with the others); also a
 *                  malformed to_addr or a message without a usable From address
 *   SA_EIO         a 4xx (temporary: retry later), a lost connection, an open breaker
 *   SA_ETIMEDOUT   the connect or whole-delivery deadline passed
 *   SA_ECONFIG     the server refused our credentials, offers no STARTTLS, or its
 *                  certificate did not verify (retried: an operator has to act)
 * err->msg carries the server's reply (e-mail addresses masked), never the credentials.
 * Returns SA_ECONFIG (err says what) for a malformed URL, SA_ENOMEM. */
int sa_smtp_open(const char *url, const struct sa_transport_options *opts,
                 struct sa_transport **out, struct sa_err *err) SA_WUR;

#endif
