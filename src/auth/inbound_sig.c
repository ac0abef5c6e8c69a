/* The inbound mail signature (see inbound_sig.h), on OpenSSL's HMAC and SHA-256. */
#include "auth/inbound_sig.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hex(const unsigned char *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

/* HMAC-SHA256(secret, timestamp "." body) into mac. False when OpenSSL fails. */
static int mac_of(const char *secret, size_t secret_len, const char *timestamp, const char *body,
                  size_t len, unsigned char mac[32])
{
    int ok = 0;
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = m ? EVP_MAC_CTX_new(m) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
                           OSSL_PARAM_construct_end()};
    size_t out_len = 0;
    if (ctx && EVP_MAC_init(ctx, (const unsigned char *)secret, secret_len, params) &&
        EVP_MAC_update(ctx, (const unsigned char *)timestamp, strlen(timestamp)) &&
        EVP_MAC_update(ctx, (const unsigned char *)".", 1) &&
        EVP_MAC_update(ctx, (const unsigned char *)body, len) &&
        EVP_MAC_final(ctx, mac, &out_len, 32) && out_len == 32)
        ok = 1;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(m);
    return ok;
}

void sa_inbound_sig_sign(const char *secret, size_t secret_len, const char *timestamp,
                         const char *body, size_t len, char out[SA_INBOUND_SIG_LEN])
{
    unsigned char mac[32];
    if (!mac_of(secret, secret_len, timestamp, body, len, mac)) {
        out[0] = '\0';
        return;
    }
    memcpy(out, "sha256=", 7);
    hex(mac, 32, out + 7);
}

int sa_inbound_sig_verify(const char *secret, size_t secret_len, const char *timestamp,
                          const char *signature, const char *body, size_t len, long long now,
                          long long max_age, struct sa_err *err)
{
    if (!timestamp || !*timestamp)
        return sa_err_set(err, SA_EINVAL,
                          "X-Timestamp is missing: it is part of the signed "
                          "text");
    if (!signature || !*signature)
        return sa_err_set(err, SA_EINVAL, "X-Signature is missing");
    size_t tl = strlen(timestamp);
    if (tl > 12 || strspn(timestamp, "0123456789") != tl)
        return sa_err_set(err, SA_EINVAL, "X-Timestamp must be unix seconds");
    long long ts = strtoll(timestamp, NULL, 10);
    if (ts < now - max_age || ts > now + max_age)
        return sa_err_set(err, SA_EINVAL,
                          "X-Timestamp is more than %lld seconds from the server's time", max_age);
    if (strncmp(signature, "sha256=", 7) != 0 || strlen(signature) != 7 + 64 ||
        strspn(signature + 7, "0123456789abcdefABCDEF") != 64)
        return sa_err_set(err, SA_EINVAL, "X-Signature must be sha256=<64 hex digits>");
    char want[SA_INBOUND_SIG_LEN];
    sa_inbound_sig_sign(secret, secret_len, timestamp, body, len, want);
    char got[SA_INBOUND_SIG_LEN];
    for (size_t i = 0; i <= 7 + 64; i++) /* hex compared in one case */
        got[i] =
            (char)(signature[i] >= 'A' && signature[i] <= 'F' ? signature[i] + 32 : signature[i]);
    if (!want[0] || CRYPTO_memcmp(want, got, 7 + 64) != 0)
        return sa_err_set(err, SA_EINVAL, "X-Signature does not match the body");
    return 0;
}

void sa_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char d[32];
    unsigned int n = 0;
    if (!EVP_Digest(data, len, d, &n, EVP_sha256(), NULL) || n != 32) {
        out[0] = '\0';
        return;
    }
    hex(d, 32, out);
}
