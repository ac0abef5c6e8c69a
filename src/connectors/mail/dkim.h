/* DKIM signing (RFC 6376) of rendered messages: relaxed/relaxed canonicalization, rsa-sha256
 * or ed25519-sha256 (RFC 8463) with OpenSSL's libcrypto. The mail transport signs each
 * message just before it leaves (connectors/mail/transport.h, DKIM_KEY_FILE), so a
 * Maildir delivery is signed exactly as an SMTP one. */
#ifndef SA_MAIL_DKIM_H
#define SA_MAIL_DKIM_H

#include <stddef.h>

#include "base/err.h"

struct sa_buf;
struct sa_dkim;

/* Loads the private key (PEM: an RSA key of 1024 bits or more, signed rsa-sha256, or an
 * Ed25519 key, signed ed25519-sha256) from key_file. selector is the s= tag (letters,
 * digits, '-', '_' and '.'); domain the d= tag, or NULL to sign each message with its From
 * address's domain. Returns 0 with *out (free it with sa_dkim_free); SA_ECONFIG when the
 * file cannot be read, holds no usable key (a short RSA key, another key type) or the
 * selector or domain is malformed, with err saying which; SA_ENOMEM. Nothing of the key
 * reaches err. */
int sa_dkim_open(const char *key_file, const char *selector, const char *domain,
                 struct sa_dkim **out, struct sa_err *err) SA_WUR;

/* Frees d (NULL is fine). */
void sa_dkim_free(struct sa_dkim *d);

/* "rsa-sha256" or "ed25519-sha256". */
const char *sa_dkim_algorithm(const struct sa_dkim *d);

/* Signs msg[0..len) (CRLF line endings, headers, an empty line, the body) and returns a
 * new message in *out (malloc'd, NUL-terminated; the caller frees it), *out_len bytes:
 * a DKIM-Signature header field, then msg unchanged. Signed fields (h=): From, To, Cc,
 * Subject, Date, Message-ID, In-Reply-To, References, MIME-Version, Content-Type,
 * List-Unsubscribe and List-Unsubscribe-Post, those present, each as often as it occurs.
 * No t= tag, so the same message and key always give the same bytes (a retried delivery
 * sends what the first attempt sent). Returns 0; SA_EINVAL when msg has no From field
 * (or, without a configured domain, no domain in it); SA_ENOMEM; SA_EINTERNAL when
 * libcrypto fails. */
int sa_dkim_sign(const struct sa_dkim *d, const char *msg, size_t len, char **out, size_t *out_len,
                 struct sa_err *err) SA_WUR;

/* The TXT record to publish at SELECTOR._domainkey.DOMAIN ("v=DKIM1; k=rsa; p=BASE64" or
 * k=ed25519) into *out (malloc'd; the caller frees it). Returns 0, SA_ENOMEM or
 * SA_EINTERNAL. */
int sa_dkim_dns_record(const struct sa_dkim *d, char **out, struct sa_err *err) SA_WUR;

/* Relaxed header canonicalization (RFC 6376 section 3.4.2) of one header field,
 * field[0..len) with or without its final CRLF: appends "name:value\r\n" to out (name
 * lower-cased, the value unfolded, runs of spaces and tabs made one space, none at either
 * end of the value). Returns 0 or a buffer error. */
int sa_dkim_canon_header(const char *field, size_t len, struct sa_buf *out) SA_WUR;

/* Relaxed body canonicalization (section 3.4.4) of body[0..len): spaces and tabs at a
 * line's end removed and runs of them made one space, empty lines at the end removed, and
 * a CRLF ending a non-empty body. Appends to out; returns 0 or a buffer error. */
int sa_dkim_canon_body(const char *body, size_t len, struct sa_buf *out) SA_WUR;

#endif
