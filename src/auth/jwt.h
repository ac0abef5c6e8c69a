/* JWT bearer tokens: a verifier over libjwt 1.10 that checks the signature with the
 * configured key(s) and then the claims libjwt leaves alone (exp, nbf, iss, aud, sub, scopes).
 * Opened once at start-up from the settings (JWT_SECRET, JWT_PUBLIC_KEY_FILE, JWT_JWKS_FILE,
 * JWT_ISSUER, JWT_AUDIENCE) and called by the access service on each Bearer credential. */
#ifndef SA_AUTH_JWT_H
#define SA_AUTH_JWT_H

#include "auth/scope.h"
#include "base/err.h"

/* Longest token accepted; longer ones are refused before any decoding. */
#define SA_JWT_MAX_TOKEN 8192
/* Most keys taken from a JWK Set. */
#define SA_JWT_MAX_KEYS 32

/* What sa_jwt_open reads. Every pointer is borrowed for the call only (the verifier copies
 * what it keeps). Key sources may be combined: a secret for HS256 and a PEM file and/or a
 * JWK Set for RS256/ES256. */
struct sa_jwt_config {
    const char *secret;          /* HS256 key (at least 32 bytes), NULL: none */
    const char *public_key_file; /* PEM public key, RSA (>= 2048 bits) or EC P-256, NULL: none */
    const char *jwks_file;       /* JWK Set (RSA and EC P-256 keys), NULL: none */
    const char *issuer;          /* required "iss", NULL: not checked */
    const char *audience;        /* required "aud" (or member of it), NULL: not checked */
    long leeway_seconds;         /* clock skew allowed on exp and nbf, 0-3600, e.g. 60 */
};

struct sa_jwt_verifier;

/* Opens a verifier from cfg. *out is NULL (and 0 returned) when no key source is set (JWT
 * disabled). SA_ECONFIG with err saying what is wrong (never quoting the secret) for: a secret
 * shorter than 32 bytes, an unreadable or unparsable PEM / JWKS file, a PEM key that is not
 * RSA >= 2048 bits or EC P-256, a JWKS with a malformed RSA or EC key, duplicate kids or no
 * usable RSA or EC P-256 key, a leeway outside 0-3600. SA_ENOMEM when memory runs out. The
 * caller owns *out and frees it with sa_jwt_close. */
int sa_jwt_open(const struct sa_jwt_config *cfg, struct sa_jwt_verifier **out,
                struct sa_err *err) SA_WUR;

/* Frees v and wipes the secret it held. NULL is a no-op. */
void sa_jwt_close(struct sa_jwt_verifier *v);

struct sa_jwt_claims {
    char subject[128]; /* "sub": non-empty, printable, shorter than 128 bytes */
    sa_scopes scopes;
    long long expires; /* exp, 0 when absent (never, as exp is required) */
};

/* Verifies a compact JWS at time now (Unix seconds): signature with the configured key(s)
 * for the token's alg (HS256 only with the secret; RS256/ES256 only with public keys: no alg
 * confusion, "none" always refused), then the claims: exp required and > now - leeway, nbf
 * (when present) <= now + leeway, iss == issuer when configured, aud equal to or (array)
 * containing audience when configured, a non-empty "sub". Scopes from "scope" (a
 * space-separated string, OAuth style) and/or "scopes" (array of strings or a string);
 * unknown scope names are ignored, no known scope at all is an error. The key is chosen by
 * the header's "kid" among the JWK Set's keys (the PEM file's key when no JWK matches);
 * without a kid, the PEM file's key, else the JWK Set's key when it holds exactly one.
 *
 * Returns 0 and *out, or SA_EINVAL (*out cleared) with err giving a short client-safe reason
 * ("token expired", "bad signature", "issuer mismatch", "no scope claim", "malformed token",
 * ...) that never echoes the token; SA_ENOMEM when memory runs out. v MUST NOT be NULL.
 * Safe to call from many threads at once on one verifier: it reads v only. */
int sa_jwt_verify(const struct sa_jwt_verifier *v, const char *token, long long now,
                  struct sa_jwt_claims *out, struct sa_err *err) SA_WUR;

#endif
