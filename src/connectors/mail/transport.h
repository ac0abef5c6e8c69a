/* Mail transports: where a rendered message goes. A backend is a const vtable chosen once
 * from a spec string ("maildir:DIR", "smtp://...", "smtps://..."); the outbox calls
 * sa_transport_send_once for each message and records the delivered id with the outbox row.
 * With DKIM configured every backend's messages are signed on their way out. */
#ifndef SA_MAIL_TRANSPORT_H
#define SA_MAIL_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

/* Room for any delivered id a built-in transport writes, NUL included. */
#define SA_TRANSPORT_ID_MAX 384

struct sa_transport;
struct sa_metrics;

/* A backend. send and free are required; send_once is optional (see
 * sa_transport_send_once for its default). */
struct sa_transport_ops {
    const char *name; /* "maildir" */
    /* Delivers msg[0..len) (a rendered message, sent byte for byte) to to_addr. On success
     * writes the backend's id for the delivery (NUL-terminated) into delivered_id, which
     * has id_cap bytes; delivered_id may be NULL when id_cap is 0. Returns 0 or a negative
     * SA_E* code with err filled. MUST be safe to call from several threads at once on the
     * same transport. */
    int (*send)(struct sa_transport *t, const char *to_addr, const char *msg, size_t len,
                char *delivered_id, size_t id_cap, struct sa_err *err);
    /* Delivers at most once per key (letters, digits, '-', up to 64): a key delivered
     * before is not delivered again and sets *already. This is how the outbox stays
     * exactly-once when a crash falls between the delivery and recording it. Optional
     * (NULL: the backend cannot tell, and callers fall back to send). */
    int (*send_once)(struct sa_transport *t, const char *key, const char *to_addr, const char *msg,
                     size_t len, char *delivered_id, size_t id_cap, bool *already,
                     struct sa_err *err);
    /* Optional (default: deletes nothing, for transports that keep no copy). Deletes the
     * delivered messages the transport keeps whose files were last changed before before
     * (unix seconds; retention, app/retention.h); with dry_run only counts them. *n: how
     * many. A key given to send_once whose message is deleted can be delivered again, so
     * retention MUST be far longer than any retry of a delivery. */
    int (*prune)(struct sa_transport *t, double before, bool dry_run, long *n,
                 struct sa_err *err);
    /* Optional (default: none). The state of the backend's circuit breaker ("closed",
     * "open", "half_open"), or NULL for a backend without one (Maildir): for /health. */
    const char *(*breaker)(struct sa_transport *t);
    /* Releases the transport and everything it owns. */
    void (*free)(struct sa_transport *t);
};

/* The base every backend embeds first. */
struct sa_transport {
    const struct sa_transport_ops *ops;
};

/* What a transport may need besides its spec: the settings (base/config.h) it reads and
 * where it counts. Every field may be zero or NULL. Strings are borrowed for the
 * duration of sa_transport_open_with (the transport copies what it keeps). */
struct sa_transport_options {
    /* SMTP (connectors/mail/smtp.h) */
    const char *smtp_username;   /* SMTP_USERNAME: used when the URL names no user */
    const char *smtp_password;   /* SMTP_PASSWORD: used when the URL has no password */
    const char *smtp_mail_from;  /* SMTP_MAIL_FROM: envelope sender; NULL: each From */
    const char *smtp_ca_file;    /* SMTP_CA_FILE: CA bundle to verify the server with;
                                    NULL: the system's (a cafile= URL parameter wins) */
    int smtp_connect_timeout_ms; /* SMTP_CONNECT_TIMEOUT_MS; 0: 10000 */
    int smtp_timeout_ms;         /* SMTP_TIMEOUT_MS: one whole delivery; 0: 60000 */
    int breaker_failures;        /* BREAKER_FAILURES; 0: the breaker's default */
    double breaker_open_seconds; /* BREAKER_OPEN_SECONDS; 0: the breaker's default */
    /* connector_requests_total, connector_request_seconds (registered here once per
     * registry) and circuit_breaker_state, whose family id is m_breaker; NULL: none */
    struct sa_metrics *metrics;
    int m_breaker;
    /* DKIM (connectors/mail/dkim.h): signing is on when dkim_key_file is set */
    const char *dkim_key_file; /* DKIM_KEY_FILE: PEM, RSA >= 1024 bits or Ed25519 */
    const char *dkim_selector; /* DKIM_SELECTOR: required with a key */
    const char *dkim_domain;   /* DKIM_DOMAIN; NULL: each message's From domain */
};

/* Opens the transport named by spec:
 *   "maildir:DIR"  delivers into the Maildir DIR (created with its tmp/, new/ and cur/,
 *                  mode 0700, parents included); the delivered id is the file's name in
 *                  DIR/new. to_addr is validated but every message lands in the one DIR.
 *   "smtp://[USER[:PASS]@]HOST[:PORT][?PARAMS]" and "smtps://..." send through an SMTP
 *                  server (see connectors/mail/smtp.h for the parameters, the replies and
 *                  the delivered id). Opening connects to nothing.
 * With opts->dkim_key_file every message is DKIM-signed before the backend sees it.
 * opts may be NULL (no DKIM, defaults). Returns 0 with *out (free it with
 * sa_transport_free); SA_ECONFIG for an unknown or empty spec, a malformed SMTP URL or
 * an unusable DKIM key; SA_EIO when DIR cannot be created; SA_ENOMEM. On failure *out is
 * NULL. */
int sa_transport_open_with(const char *spec, const struct sa_transport_options *opts,
                           struct sa_transport **out, struct sa_err *err) SA_WUR;

/* sa_transport_open_with(spec, NULL, out, err). */
int sa_transport_open(const char *spec, struct sa_transport **out, struct sa_err *err) SA_WUR;

/* The backend's name: "maildir", "smtp", or "dkim" for the signing layer around one. */
static inline const char *sa_transport_name(const struct sa_transport *t)
{
    return t->ops->name;
}

/* Frees t (NULL is fine). */
void sa_transport_free(struct sa_transport *t);

/* See sa_transport_ops.breaker: NULL for a backend without a breaker. */
static inline const char *sa_transport_breaker(struct sa_transport *t)
{
    return t->ops->breaker ? t->ops->breaker(t) : NULL;
}

/* Sends through t; see sa_transport_ops.send. For Maildir: returns SA_EINVAL for an invalid
 * to_addr or an id_cap below the id's length (nothing is written then), SA_EIO when a
 * write, fsync or rename fails (the partial file in tmp/ is removed). */
static inline int sa_transport_send(struct sa_transport *t, const char *to_addr, const char *msg,
                                    size_t len, char *delivered_id, size_t id_cap,
                                    struct sa_err *err) SA_WUR;
static inline int sa_transport_send(struct sa_transport *t, const char *to_addr, const char *msg,
                                    size_t len, char *delivered_id, size_t id_cap,
                                    struct sa_err *err)
{
    return t->ops->send(t, to_addr, msg, len, delivered_id, id_cap, err);
}

/* Delivers at most once per key where the backend can tell (its send_once slot); a
 * backend without one sends (*already stays false), so exactly-once then rests on the
 * caller's own record. See sa_transport_ops.send_once. */
static inline int sa_transport_send_once(struct sa_transport *t, const char *key,
                                         const char *to_addr, const char *msg, size_t len,
                                         char *delivered_id, size_t id_cap, bool *already,
                                         struct sa_err *err) SA_WUR;
static inline int sa_transport_send_once(struct sa_transport *t, const char *key,
                                         const char *to_addr, const char *msg, size_t len,
                                         char *delivered_id, size_t id_cap, bool *already,
                                         struct sa_err *err)
{
    *already = false;
    if (!t->ops->send_once)
        return t->ops->send(t, to_addr, msg, len, delivered_id, id_cap, err);
    return t->ops->send_once(t, key, to_addr, msg, len, delivered_id, id_cap, already, err);
}

/* Deletes what t keeps of delivered mail changed before before (see
 * sa_transport_ops.prune); a transport without the slot deletes nothing (*n = 0). For
 * Maildir: the files of new/ and cur/ (read or not), and leftovers in tmp/ (a crashed
 * delivery's), judged by their mtime, which delivery sets to the business time of the
 * delivery (base/clock.h); SA_EIO when a directory cannot be read. */
static inline SA_WUR int sa_transport_prune(struct sa_transport *t, double before, bool dry_run,
                                            long *n, struct sa_err *err)
{
    *n = 0;
    return t->ops->prune ? t->ops->prune(t, before, dry_run, n, err) : 0;
}

#endif
