/* The signature on inbound mail posted to POST /api/inbound/email: HMAC-SHA256 with
 * INBOUND_SECRET over "<X-Timestamp>.<body>", sent as "X-Signature: sha256=<hex>", the
 * timestamp within INBOUND_MAX_AGE_SECONDS of now so a captured request cannot be replayed
 * later (README "Inbound mail"). No I/O: the route verifies, tests and the CLI sign. */
#ifndef SA_AUTH_INBOUND_SIG_H
#define SA_AUTH_INBOUND_SIG_H

#include <stddef.h>

#include "base/err.h"

/* Room for "sha256=" and 64 hex digits with the NUL. */
#define SA_INBOUND_SIG_LEN 72

/* Writes "sha256=<hex of HMAC-SHA256(secret, timestamp "." body)>" into out. */
void sa_inbound_sig_sign(const char *secret, size_t secret_len, const char *timestamp,
                         const char *body, size_t len, char out[SA_INBOUND_SIG_LEN]);

/* Checks signature (the X-Signature value) over timestamp (X-Timestamp: unix seconds,
 * digits only) and body, comparing in constant time, and that timestamp is at most
 * max_age seconds away from now (either way). Returns 0, or SA_EINVAL with err saying
 * which check failed (missing, malformed, stale, or not matching): all of them a 401. */
int sa_inbound_sig_verify(const char *secret, size_t secret_len, const char *timestamp,
                          const char *signature, const char *body, size_t len, long long now,
                          long long max_age, struct sa_err *err) SA_WUR;

/* The SHA-256 of data as 64 lowercase hex digits (the key of a message without a
 * Message-ID). */
void sa_sha256_hex(const void *data, size_t len, char out[65]);

#endif
