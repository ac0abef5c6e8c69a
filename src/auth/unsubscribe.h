/* Unsubscribe tokens: the e-mail address a link opts out, signed so that nobody can opt
 * out someone else by guessing. A token is base64url(e-mail) "." base64url(first 16 bytes
 * of HMAC-SHA256(secret, "unsubscribe:" e-mail)); no I/O. The outbox puts one in every
 * message's links; POST /unsubscribe/{token} (http/routes/unsubscribe.c) checks it. */
#ifndef SA_AUTH_UNSUBSCRIBE_H
#define SA_AUTH_UNSUBSCRIBE_H

#include <stddef.h>

#include "base/err.h"

/* Room for the token of any e-mail address of at most 254 characters, with its NUL. */
#define SA_UNSUB_TOKEN_MAX 384
/* Longest e-mail a token carries. */
#define SA_UNSUB_EMAIL_MAX 254

/* Writes the token for email (at most SA_UNSUB_EMAIL_MAX characters) signed with
 * secret (secret_len bytes) into out. Returns 0, SA_EINVAL (e-mail too long or empty),
 * or SA_ENOMEM when the digest cannot be computed. */
int sa_unsub_token(const char *secret, size_t secret_len, const char *email,
                   char out[SA_UNSUB_TOKEN_MAX]) SA_WUR;

/* Checks token against secret and writes the e-mail it carries into email (NUL-
 * terminated). Returns 0, or SA_ENOTFOUND for a malformed token or a wrong signature (the
 * comparison takes constant time). */
int sa_unsub_verify(const char *secret, size_t secret_len, const char *token,
                    char email[SA_UNSUB_EMAIL_MAX + 1]) SA_WUR;

/* Writes a new random secret (32 bytes from getrandom(2), as 64 hex digits) into out.
 * Returns 0, or SA_EIO when the kernel gives no randomness. */
int sa_unsub_secret_generate(char out[65]) SA_WUR;

#endif
