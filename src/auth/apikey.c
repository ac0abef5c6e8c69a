/* API keys (see apikey.h): random keys from getrandom(2), their salted SHA-256 through
 * OpenSSL's EVP one-shot digest, and a constant-time check of a presented key. */
#include "auth/apikey.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>

#define PREFIX "sa_"
#define PREFIX_LEN 3
#define SECRET_OFF (PREFIX_LEN + SA_APIKEY_ID_LEN + 1) /* where the 43 secret chars start */
#define SECRET_LEN (SA_APIKEY_LEN - SECRET_OFF)
#define SECRET_BYTES 32
#define SALT_BYTES (SA_APIKEY_SALT_LEN / 2)
#define ID_BYTES (SA_APIKEY_ID_LEN / 2)

_Static_assert(SA_APIKEY_LEN == 63, "the documented key length");
_Static_assert(SECRET_LEN == (SECRET_BYTES * 8 + 5) / 6, "43 base64url chars carry 256 bits");

static const char hexdigits[] = "0123456789abcdef";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* OpenSSL 3 looks an algorithm up by name on every EVP_sha256() digest (an "implicit
 * fetch": a lock and a hash-table probe). Fetching SHA-256 once and keeping it for the life
 * of the process saves that on every request's key check. The fetched object is never
 * freed: it is one small, reachable allocation, shared by every thread. */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_fetched;

static void fetch_sha256(void)
{
    sha256_fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256(void)
{
    (void)pthread_once(&sha256_once, fetch_sha256);
    return sha256_fetched ? sha256_fetched : EVP_sha256();
}

static void hex_encode(const unsigned char *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdigits[p[i] >> 4];
        out[2 * i + 1] = hexdigits[p[i] & 0xf];
    }
    out[2 * n] = '\0';
}

/* Unpadded base64url of n bytes into out (4 * n / 3 rounded up chars and a NUL). */
static void b64url_encode(const unsigned char *p, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = b64url[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = b64url[v & 63];
    }
    out[o] = '\0';
}

static int fill_random(unsigned char *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(p + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

static bool is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool is_b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

int sa_apikey_parse(const char *key, char id[SA_APIKEY_ID_LEN + 1])
{
    id[0] = '\0';
    if (!key || strnlen(key, SA_APIKEY_LEN + 1) != SA_APIKEY_LEN ||
        memcmp(key, PREFIX, PREFIX_LEN) != 0 || key[SECRET_OFF - 1] != '_')
        return SA_EINVAL;
    for (size_t i = PREFIX_LEN; i < PREFIX_LEN + SA_APIKEY_ID_LEN; i++)
        if (!is_lower_hex(key[i]))
            return SA_EINVAL;
    for (size_t i = SECRET_OFF; i < SA_APIKEY_LEN; i++)
        if (!is_b64url(key[i]))
            return SA_EINVAL;
    memcpy(id, key + PREFIX_LEN, SA_APIKEY_ID_LEN);
    id[SA_APIKEY_ID_LEN] = '\0';
    return 0;
}

/* SHA-256 of salt || secret into hash as hex; 0, or -1 (hash empty) when OpenSSL fails. The
 * two parts go into one stack buffer so the digest is a single EVP_Digest call. */
static int digest(const char *salt, const char *key, char hash[SA_APIKEY_HASH_LEN + 1])
{
    hash[0] = '\0';
    const char *secret = key;
    if (sa_apikey_parse(key, (char[SA_APIKEY_ID_LEN + 1]){0}) == 0)
        secret = key + SECRET_OFF;
    size_t salt_len = strlen(salt), secret_len = strlen(secret);
    unsigned char stackbuf[256];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    int ok;
    if (salt_len + secret_len <= sizeof stackbuf) {
        /* stackbuf is the digest's input bytes, not a string: no NUL belongs in it. */
        // NOLINTNEXTLINE(bugprone-not-null-terminated-result)
        memcpy(stackbuf, salt, salt_len);
        // NOLINTNEXTLINE(bugprone-not-null-terminated-result)
        memcpy(stackbuf + salt_len, secret, secret_len);
        ok = EVP_Digest(stackbuf, salt_len + secret_len, md, &md_len, sha256(), NULL);
        OPENSSL_cleanse(stackbuf, salt_len + secret_len);
    } else {
        /* Only a malformed (over-long) key or salt gets here: hash it incrementally. */
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        ok = ctx && EVP_DigestInit_ex(ctx, sha256(), NULL) &&
             EVP_DigestUpdate(ctx, salt, salt_len) && EVP_DigestUpdate(ctx, secret, secret_len) &&
             EVP_DigestFinal_ex(ctx, md, &md_len);
        EVP_MD_CTX_free(ctx);
    }
    if (!ok || md_len != SA_APIKEY_HASH_LEN / 2)
        return -1;
    hex_encode(md, md_len, hash);
    return 0;
}

void sa_apikey_hash(const char *salt, const char *key, char hash[SA_APIKEY_HASH_LEN + 1])
{
    (void)digest(salt, key, hash);
}

int sa_apikey_generate(struct sa_apikey_secret *out, struct sa_err *err)
{
    memset(out, 0, sizeof *out);
    unsigned char rnd[ID_BYTES + SALT_BYTES + SECRET_BYTES];
    int rc = SA_EIO;
    if (fill_random(rnd, sizeof rnd) != 0) {
        sa_err_set(err, SA_EIO, "getrandom failed: %s", strerror(errno));
        goto out;
    }
    memcpy(out->key, PREFIX, PREFIX_LEN);
    hex_encode(rnd, ID_BYTES, out->key + PREFIX_LEN);
    out->key[SECRET_OFF - 1] = '_';
    b64url_encode(rnd + ID_BYTES + SALT_BYTES, SECRET_BYTES, out->key + SECRET_OFF);
    memcpy(out->id, out->key + PREFIX_LEN, SA_APIKEY_ID_LEN);
    hex_encode(rnd + ID_BYTES, SALT_BYTES, out->salt);
    if (digest(out->salt, out->key, out->hash) != 0) {
        rc = sa_err_set(err, SA_EINTERNAL, "SHA-256 failed (OpenSSL)");
        goto out;
    }
    rc = 0;
out:
    OPENSSL_cleanse(rnd, sizeof rnd);
    if (rc)
        OPENSSL_cleanse(out, sizeof *out);
    return rc;
}

bool sa_apikey_verify(const char *key, const char *salt, const char *hash)
{
    char id[SA_APIKEY_ID_LEN + 1];
    if (!key || !salt || !hash || sa_apikey_parse(key, id) != 0 ||
        strnlen(hash, SA_APIKEY_HASH_LEN + 1) != SA_APIKEY_HASH_LEN)
        return false;
    char computed[SA_APIKEY_HASH_LEN + 1];
    if (digest(salt, key, computed) != 0)
        return false;
    return CRYPTO_memcmp(computed, hash, SA_APIKEY_HASH_LEN) == 0;
}
