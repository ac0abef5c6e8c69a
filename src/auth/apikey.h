/* API keys: generation, parsing, and the salted hash the store keeps in place of the key.
 * Called by the key service (creating keys, resolving X-API-Key and Bearer credentials) and
 * the CLI's `keys create`. Nothing here touches the store: it is pure crypto over strings. */
#ifndef SA_AUTH_APIKEY_H
#define SA_AUTH_APIKEY_H

#include <stdbool.h>

#include "base/err.h"

/* API keys: "sa_" + 16 lowercase hex (the key id, public, the store's primary key) + "_" +
 * 43 base64url chars (256 random bits from getrandom). Stored only as salt + SHA-256(salt ||
 * secret). */
#define SA_APIKEY_ID_LEN 16
#define SA_APIKEY_LEN (3 + SA_APIKEY_ID_LEN + 1 + 43) /* 63 */
#define SA_APIKEY_SALT_LEN 32                          /* hex chars of a 16-byte salt */
#define SA_APIKEY_HASH_LEN 64                          /* hex chars of SHA-256 */

/* A freshly generated key. `key` is the only copy of the secret: show it once, store id, salt
 * and hash. Plain arrays, nothing to free; clear it (OPENSSL_cleanse or explicit_bzero) when
 * done. */
struct sa_apikey_secret {
    char key[SA_APIKEY_LEN + 1];
    char id[SA_APIKEY_ID_LEN + 1];
    char salt[SA_APIKEY_SALT_LEN + 1];
    char hash[SA_APIKEY_HASH_LEN + 1];
};

/* A new random key with its id, a new salt and the hash to store. Returns 0, or SA_EIO (err
 * saying so, *out cleared) when getrandom fails. Thread-safe. */
int sa_apikey_generate(struct sa_apikey_secret *out, struct sa_err *err) SA_WUR;

/* Splits a presented key: 0 and its id (NUL-terminated) when it has the format above, else
 * SA_EINVAL (no other work is done for a malformed key; id is then the empty string). A NULL
 * key is malformed. Reads at most SA_APIKEY_LEN + 1 bytes of key. */
int sa_apikey_parse(const char *key, char id[SA_APIKEY_ID_LEN + 1]) SA_WUR;

/* hex SHA-256 of salt (the hex text as stored) followed by the key's secret part (the 43
 * characters after the id). key SHOULD be well-formed (sa_apikey_parse); a malformed key is
 * hashed whole, so it can never match a well-formed key's hash. Never allocates per call
 * (each thread keeps one digest context, freed when it exits); thread-safe. */
void sa_apikey_hash(const char *salt, const char *key, char hash[SA_APIKEY_HASH_LEN + 1]);

/* True when key is well-formed and hashes to hash with salt; the hashes are compared in
 * constant time (CRYPTO_memcmp). False for any NULL argument or a hash of the wrong length. */
bool sa_apikey_verify(const char *key, const char *salt, const char *hash);

/* Unpadded base64url (RFC 4648, section 5) of n bytes into out, which holds 4 * n / 3
 * rounded up characters and a NUL; returns the characters written. Shared by the keys
 * and the unsubscribe tokens (auth/unsubscribe.c). */
size_t sa_b64url_encode(const unsigned char *p, size_t n, char *out);

#endif
