/* Unsubscribe tokens (see unsubscribe.h): base64url without padding, HMAC-SHA256. */
#include "auth/unsubscribe.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "auth/apikey.h"

#define MAC_BYTES 16 /* 128 bits: forging one takes 2^128 tries */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


static int b64_value(char c)
{
    const char *at = c ? strchr(b64url, c) : NULL;
    return at ? (int)(at - b64url) : -1;
}

/* Decodes n characters (canonical base64url, no padding) into out (capacity cap);
 * returns the byte count or -1. */
static long b64_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
    if (n % 4 == 1)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        size_t k = n - i < 4 ? n - i : 4;
        unsigned v = 0;
        for (size_t j = 0; j < 4; j++) {
            int d = j < k ? b64_value(s[i + j]) : 0;
            if (d < 0)
                return -1;
            v = (v << 6) | (unsigned)d;
        }
        /* the bits a short last group leaves over MUST be zero: one token per address */
        if ((k == 2 && (v >> 12) & 0xf) || (k == 3 && (v >> 6) & 0x3))
            return -1;
        for (size_t j = 0; j + 1 < k; j++) {
            if (o >= cap)
                return -1;
            out[o++] = (unsigned char)(v >> (16 - 8 * j));
        }
    }
    return (long)o;
}

static int mac(const char *secret, size_t secret_len, const char *email, size_t len,
               unsigned char out[EVP_MAX_MD_SIZE])
{
    static const unsigned char label[12] = {'u', 'n', 's', 'u', 'b', 's', 'c', 'r', 'i', 'b', 'e', ':'};
    unsigned char msg[sizeof label + SA_UNSUB_EMAIL_MAX]; /* bytes, not a string */
    memcpy(msg, label, sizeof label);
    memcpy(msg + sizeof label, email, len);
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), secret, (int)secret_len, msg, 12 + len, out, &n) || n < MAC_BYTES)
        return SA_ENOMEM;
    return 0;
}

int sa_unsub_token(const char *secret, size_t secret_len, const char *email,
                   char out[SA_UNSUB_TOKEN_MAX])
{
    out[0] = '\0';
    size_t len = email ? strlen(email) : 0;
    if (len == 0 || len > SA_UNSUB_EMAIL_MAX)
        return SA_EINVAL;
    unsigned char d[EVP_MAX_MD_SIZE];
    int rc = mac(secret, secret_len, email, len, d);
    if (rc)
        return rc;
    size_t o = sa_b64url_encode((const unsigned char *)email, len, out);
    out[o++] = '.';
    sa_b64url_encode(d, MAC_BYTES, out + o);
    return 0;
}

int sa_unsub_verify(const char *secret, size_t secret_len, const char *token,
                    char email[SA_UNSUB_EMAIL_MAX + 1])
{
    email[0] = '\0';
    size_t n = token ? strnlen(token, SA_UNSUB_TOKEN_MAX) : 0;
    const char *dot = n ? memchr(token, '.', n) : NULL;
    if (!dot || n >= SA_UNSUB_TOKEN_MAX)
        return SA_ENOTFOUND;
    unsigned char addr[SA_UNSUB_EMAIL_MAX + 1], given[MAC_BYTES + 2];
    long alen = b64_decode(token, (size_t)(dot - token), addr, SA_UNSUB_EMAIL_MAX);
    long mlen = b64_decode(dot + 1, n - (size_t)(dot - token) - 1, given, sizeof given);
    if (alen <= 0 || mlen != MAC_BYTES || memchr(addr, '\0', (size_t)alen))
        return SA_ENOTFOUND;
    unsigned char want[EVP_MAX_MD_SIZE];
    if (mac(secret, secret_len, (const char *)addr, (size_t)alen, want) ||
        CRYPTO_memcmp(want, given, MAC_BYTES) != 0)
        return SA_ENOTFOUND;
    memcpy(email, addr, (size_t)alen);
    email[alen] = '\0';
    return 0;
}

int sa_unsub_secret_generate(char out[65])
{
    unsigned char b[32];
    size_t got = 0;
    out[0] = '\0';
    while (got < sizeof b) {
        ssize_t r = getrandom(b + got, sizeof b - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return SA_EIO;
        got += (size_t)r;
    }
    for (size_t i = 0; i < sizeof b; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    return 0;
}
