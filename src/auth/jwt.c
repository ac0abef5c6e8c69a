/* JWT verification (see jwt.h): key loading (a secret, a PEM file, a JWK Set turned into PEM
 * with OpenSSL 3), our own header and claim checks, libjwt 1.10 for the signature.
 *
 * Why so much is done here rather than by libjwt. libjwt 1.10's jwt_decode trusts the token
 * to name its algorithm: given no key it accepts "alg":"none" and even turns a signed token
 * into an unsigned one without checking the signature; given a key it uses it for whatever
 * algorithm the header names, so an RSA public key (public knowledge) would work as an HMAC
 * secret for a forged HS256 token. It matches algorithm names case-insensitively, accepts
 * duplicate header members (the last wins), compares HMACs with strcmp (a timing oracle),
 * copies the token onto the stack with alloca, and checks no claim at all. So we: cap the
 * token's length; decode the header ourselves (strict base64url, duplicates refused); accept
 * only the exact names HS256, RS256 and ES256; pick the key of the right kind for that name;
 * check an HS256 MAC ourselves in constant time before libjwt sees the token; let libjwt
 * verify the signature and confirm it used the algorithm we chose; then check every claim. */
#include "auth/jwt.h"

#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <math.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/json.h"

#define MIN_SECRET 32
#define MAX_LEEWAY 3600
#define MAX_HEADER_B64 1024 /* a header is a few dozen bytes; 1 KiB of base64 is generous */
#define MAX_KID 256
#define MIN_RSA_BITS 2048
#define MAX_RSA_BYTES 1024 /* 8192-bit modulus */
#define P256_COORD 32

enum key_kind { KEY_RSA, KEY_EC };

/* A public key as libjwt wants it: SubjectPublicKeyInfo PEM text. */
struct pubkey {
    char *kid; /* NULL for the PEM file's key or a JWK without kid */
    enum key_kind kind;
    char *pem;
    int pem_len;
};

struct sa_jwt_verifier {
    unsigned char *secret; /* NULL: HS256 refused */
    size_t secret_len;
    struct pubkey file_key; /* pem NULL: no PEM file */
    struct pubkey keys[SA_JWT_MAX_KEYS];
    size_t n_keys;
    char *issuer, *audience;
    long leeway;
};

/* ---- base64url ---------------------------------------------------------------------- */

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Strict unpadded base64url of s[0..len) into out (cap bytes): 0 and *n, or -1 for a
 * character outside the alphabet, an impossible length, non-zero unused bits (so each byte
 * string has exactly one encoding) or an output over cap. */
static int b64url_decode(const char *s, size_t len, unsigned char *out, size_t cap, size_t *n)
{
    if (len % 4 == 1 || len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0) > cap)
        return -1;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0)
        return -1;
    *n = o;
    return 0;
}

/* ---- keys --------------------------------------------------------------------------- */

/* Checks pkey is a key we verify with (RSA of at least 2048 bits, or EC on P-256) and
 * writes it as PEM into *k. what names the key in errors. */
static int key_to_pem(EVP_PKEY *pkey, const char *what, struct pubkey *k, struct sa_err *err)
{
    int base = EVP_PKEY_get_base_id(pkey);
    if (base == EVP_PKEY_RSA) {
        int bits = EVP_PKEY_get_bits(pkey);
        if (bits < MIN_RSA_BITS)
            return sa_err_set(err, SA_ECONFIG, "%s: RSA key of %d bits; at least %d required",
                              what, bits, MIN_RSA_BITS);
        k->kind = KEY_RSA;
    } else if (base == EVP_PKEY_EC) {
        char group[64] = "";
        size_t glen = 0;
        if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                            sizeof group, &glen) ||
            (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0))
            return sa_err_set(err, SA_ECONFIG, "%s: EC key on curve %s; only P-256 (ES256)",
                              what, group[0] ? group : "?");
        k->kind = KEY_EC;
    } else {
        return sa_err_set(err, SA_ECONFIG, "%s: unsupported key type; RSA or EC P-256 expected",
                          what);
    }
    BIO *mem = BIO_new(BIO_s_mem());
    if (!mem || !PEM_write_bio_PUBKEY(mem, pkey)) {
        BIO_free(mem);
        return sa_err_set(err, SA_ENOMEM, "%s: cannot write the key as PEM", what);
    }
    char *data = NULL;
    long len = BIO_get_mem_data(mem, &data);
    int rc = SA_ENOMEM;
    if (len > 0 && len < 65536 && (k->pem = malloc((size_t)len + 1))) {
        memcpy(k->pem, data, (size_t)len);
        k->pem[len] = '\0';
        k->pem_len = (int)len;
        rc = 0;
    } else {
        sa_err_set(err, SA_ENOMEM, "%s: out of memory", what);
    }
    BIO_free(mem);
    return rc;
}

static int load_pem_file(const char *path, struct pubkey *k, struct sa_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return sa_err_set(err, SA_ECONFIG, "public key file %s: %s", path, strerror(errno));
    EVP_PKEY *pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (!pkey)
        return sa_err_set(err, SA_ECONFIG,
                          "public key file %s: no PEM public key (-----BEGIN PUBLIC KEY-----)",
                          path);
    char what[300];
    snprintf(what, sizeof what, "public key file %s", path);
    int rc = key_to_pem(pkey, what, k, err);
    EVP_PKEY_free(pkey);
    return rc;
}

/* Decodes a JWK member (base64url, trailing '=' tolerated) into out; -1 when absent or bad. */
static int jwk_bytes(const json_t *jwk, const char *name, unsigned char *out, size_t cap,
                     size_t *n)
{
    const char *s = sa_json_str(jwk, name);
    if (!s)
        return -1;
    size_t len = strlen(s);
    while (len > 0 && s[len - 1] == '=')
        len--;
    return len == 0 ? -1 : b64url_decode(s, len, out, cap, n);
}

/* EVP_PKEY from OSSL_PARAMs built by the caller: the OpenSSL 3 way to import raw key parts. */
static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    if (pkey) {
        /* fromdata takes the parts as given; make sure they form a valid public key (an EC
         * point on the curve, a sane RSA modulus and exponent). */
        EVP_PKEY_CTX *check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        if (!check || EVP_PKEY_public_check(check) != 1) {
            EVP_PKEY_free(pkey);
            pkey = NULL;
        }
        EVP_PKEY_CTX_free(check);
    }
    return pkey;
}

static EVP_PKEY *jwk_rsa(const json_t *jwk)
{
    unsigned char nb[MAX_RSA_BYTES], eb[16];
    size_t nlen = 0, elen = 0;
    if (jwk_bytes(jwk, "n", nb, sizeof nb, &nlen) != 0 ||
        jwk_bytes(jwk, "e", eb, sizeof eb, &elen) != 0)
        return NULL;
    EVP_PKEY *pkey = NULL;
    BIGNUM *n = BN_bin2bn(nb, (int)nlen, NULL), *e = BN_bin2bn(eb, (int)elen, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (n && e && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
        pkey = pkey_from_params("RSA", bld);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pkey;
}

static EVP_PKEY *jwk_ec(const json_t *jwk)
{
    /* An uncompressed point: 0x04 || x || y, each coordinate exactly 32 bytes. */
    unsigned char point[1 + 2 * P256_COORD] = {0x04};
    size_t xlen = 0, ylen = 0;
    if (jwk_bytes(jwk, "x", point + 1, P256_COORD, &xlen) != 0 || xlen != P256_COORD ||
        jwk_bytes(jwk, "y", point + 1 + P256_COORD, P256_COORD, &ylen) != 0 ||
        ylen != P256_COORD)
        return NULL;
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (bld &&
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point))
        pkey = pkey_from_params("EC", bld);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

/* Adds the JWK at index i to v when it is a signing key we use; skips other key types,
 * curves, uses and algorithms; fails on a usable-looking key that does not decode. */
static int add_jwk(struct sa_jwt_verifier *v, const char *path, size_t i, const json_t *jwk,
                   struct sa_err *err)
{
    const char *kty = sa_json_str(jwk, "kty");
    const char *use = sa_json_str(jwk, "use");
    const char *alg = sa_json_str(jwk, "alg");
    const json_t *kid_v = json_object_get(jwk, "kid");
    if (!json_is_object(jwk) || !kty)
        return sa_err_set(err, SA_ECONFIG, "JWKS %s: key %zu has no \"kty\"", path, i);
    if (use && strcmp(use, "sig") != 0)
        return 0;
    bool rsa = strcmp(kty, "RSA") == 0, ec = strcmp(kty, "EC") == 0;
    if (ec) {
        const char *crv = sa_json_str(jwk, "crv");
        if (!crv || strcmp(crv, "P-256") != 0)
            return 0;
    }
    if ((!rsa && !ec) || (alg && strcmp(alg, rsa ? "RS256" : "ES256") != 0))
        return 0;
    if (kid_v && (!json_is_string(kid_v) || json_string_length(kid_v) == 0 ||
                  json_string_length(kid_v) >= MAX_KID))
        return sa_err_set(err, SA_ECONFIG, "JWKS %s: key %zu: \"kid\" must be a string of 1-%d "
                          "bytes", path, i, MAX_KID - 1);
    const char *kid = json_string_value(kid_v);
    for (size_t j = 0; kid && j < v->n_keys; j++)
        if (v->keys[j].kid && strcmp(v->keys[j].kid, kid) == 0)
            return sa_err_set(err, SA_ECONFIG, "JWKS %s: key %zu: duplicate kid", path, i);
    if (v->n_keys == SA_JWT_MAX_KEYS)
        return sa_err_set(err, SA_ECONFIG, "JWKS %s: more than %d usable keys", path,
                          SA_JWT_MAX_KEYS);

    EVP_PKEY *pkey = rsa ? jwk_rsa(jwk) : jwk_ec(jwk);
    if (!pkey)
        return sa_err_set(err, SA_ECONFIG, "JWKS %s: key %zu: malformed %s key", path, i,
                          rsa ? "RSA (n, e)" : "EC P-256 (x, y)");
    char what[300];
    snprintf(what, sizeof what, "JWKS %s: key %zu", path, i);
    struct pubkey *k = &v->keys[v->n_keys];
    int rc = key_to_pem(pkey, what, k, err);
    EVP_PKEY_free(pkey);
    if (rc == 0 && kid && !(k->kid = strdup(kid))) {
        free(k->pem);
        k->pem = NULL;
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    if (rc == 0)
        v->n_keys++;
    return rc;
}

static int load_jwks(struct sa_jwt_verifier *v, const char *path, struct sa_err *err)
{
    json_t *root = NULL;
    int rc = sa_json_load_file(path, &root, err);
    if (rc)
        return rc;
    const json_t *keys = json_object_get(root, "keys");
    if (!json_is_array(keys)) {
        rc = sa_err_set(err, SA_ECONFIG, "JWKS %s: not a JWK Set (no \"keys\" array)", path);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(keys); i++)
        if ((rc = add_jwk(v, path, i, json_array_get(keys, i), err)) != 0)
            goto out;
    if (v->n_keys == 0)
        rc = sa_err_set(err, SA_ECONFIG, "JWKS %s: no usable key (RSA, or EC on P-256, for "
                        "signatures)", path);
out:
    json_decref(root);
    return rc;
}

static void free_key(struct pubkey *k)
{
    free(k->kid);
    free(k->pem);
}

void sa_jwt_close(struct sa_jwt_verifier *v)
{
    if (!v)
        return;
    if (v->secret) {
        OPENSSL_cleanse(v->secret, v->secret_len);
        free(v->secret);
    }
    free_key(&v->file_key);
    for (size_t i = 0; i < v->n_keys; i++)
        free_key(&v->keys[i]);
    free(v->issuer);
    free(v->audience);
    free(v);
}

static int copy_opt(const char *s, char **out)
{
    *out = NULL;
    return s && !(*out = strdup(s)) ? -1 : 0;
}

int sa_jwt_open(const struct sa_jwt_config *cfg, struct sa_jwt_verifier **out,
                struct sa_err *err)
{
    *out = NULL;
    if (!cfg || (!cfg->secret && !cfg->public_key_file && !cfg->jwks_file))
        return 0;
    if (cfg->leeway_seconds < 0 || cfg->leeway_seconds > MAX_LEEWAY)
        return sa_err_set(err, SA_ECONFIG, "JWT leeway %ld s: expected 0-%d", cfg->leeway_seconds,
                          MAX_LEEWAY);
    size_t secret_len = cfg->secret ? strlen(cfg->secret) : 0;
    if (cfg->secret && secret_len < MIN_SECRET)
        return sa_err_set(err, SA_ECONFIG,
                          "JWT secret is %zu bytes: at least %d required for HS256", secret_len,
                          MIN_SECRET);
    if (secret_len > 4096)
        return sa_err_set(err, SA_ECONFIG, "JWT secret is %zu bytes: at most 4096", secret_len);

    int rc = SA_ENOMEM;
    struct sa_jwt_verifier *v = calloc(1, sizeof *v);
    if (!v)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    v->leeway = cfg->leeway_seconds;
    if (copy_opt(cfg->issuer, &v->issuer) || copy_opt(cfg->audience, &v->audience)) {
        sa_err_set(err, SA_ENOMEM, "out of memory");
        goto out;
    }
    if (cfg->secret) {
        if (!(v->secret = malloc(secret_len))) {
            sa_err_set(err, SA_ENOMEM, "out of memory");
            goto out;
        }
        memcpy(v->secret, cfg->secret, secret_len);
        v->secret_len = secret_len;
    }
    if (cfg->public_key_file && (rc = load_pem_file(cfg->public_key_file, &v->file_key, err)))
        goto out;
    if (cfg->jwks_file && (rc = load_jwks(v, cfg->jwks_file, err)))
        goto out;
    rc = 0;
out:
    if (rc)
        sa_jwt_close(v);
    else
        *out = v;
    return rc;
}

/* ---- verification ------------------------------------------------------------------- */

/* The parts of a compact JWS: header.payload.signature, each a base64url run. */
struct parts {
    const char *p[3];
    size_t len[3];
};

static int split(const char *token, size_t len, struct parts *out)
{
    size_t part = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && token[i] != '.') {
            if (b64url_value((unsigned char)token[i]) < 0)
                return -1;
            continue;
        }
        /* a fourth part, or an empty header or payload; an empty signature gets as far as
         * the header's check, so an unsigned token is refused for its algorithm */
        if (part == 3 || (i == start && part < 2))
            return -1;
        out->p[part] = token + start;
        out->len[part] = i - start;
        part++;
        start = i + 1;
    }
    return part == 3 ? 0 : -1;
}

/* Decodes a base64url JSON object (duplicates refused); NULL when it is not one. */
static json_t *decode_object(const char *s, size_t len, unsigned char *buf, size_t cap)
{
    size_t n = 0;
    if (b64url_decode(s, len, buf, cap, &n) != 0)
        return NULL;
    json_t *v = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
    if (v && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

/* The key for a kid (NULL: the token has none), as jwt.h describes. */
static const struct pubkey *select_key(const struct sa_jwt_verifier *v, const char *kid)
{
    if (kid)
        for (size_t i = 0; i < v->n_keys; i++)
            if (v->keys[i].kid && strcmp(v->keys[i].kid, kid) == 0)
                return &v->keys[i];
    if (v->file_key.pem)
        return &v->file_key;
    if (!kid && v->n_keys == 1)
        return &v->keys[0];
    return NULL;
}

/* HMAC-SHA256 of header.payload against the signature, compared in constant time. */
static bool hs256_ok(const struct sa_jwt_verifier *v, const char *token, const struct parts *pt)
{
    unsigned char want[32], got[32];
    unsigned mlen = 0;
    size_t slen = 0;
    size_t signed_len = (size_t)(pt->p[2] - 1 - token);
    if (b64url_decode(pt->p[2], pt->len[2], got, sizeof got, &slen) != 0 || slen != sizeof got)
        return false;
    if (!HMAC(EVP_sha256(), v->secret, (int)v->secret_len, (const unsigned char *)token,
              signed_len, want, &mlen) ||
        mlen != sizeof want)
        return false;
    return CRYPTO_memcmp(want, got, sizeof want) == 0;
}

/* A NumericDate claim: 0 and *out, 1 when absent, -1 when not a finite number in range. */
static int numeric_date(const json_t *claims, const char *name, long long *out)
{
    const json_t *c = json_object_get(claims, name);
    if (!c)
        return 1;
    if (json_is_integer(c)) {
        *out = json_integer_value(c);
        return 0;
    }
    double d = json_is_real(c) ? json_real_value(c) : NAN;
    if (!isfinite(d) || d < -1e15 || d > 1e15)
        return -1;
    *out = (long long)floor(d);
    return 0;
}

/* Adds each known name of a space- or comma-separated list to *set; unknown names are
 * skipped (a token may carry scopes of other services). */
static void add_scopes(const char *s, sa_scopes *set)
{
    while (*s) {
        size_t n = strcspn(s, " ,");
        char name[16];
        sa_scopes one = 0;
        if (n > 0 && n < sizeof name) {
            memcpy(name, s, n);
            name[n] = '\0';
            if (sa_scopes_parse(name, &one, NULL) == 0)
                *set |= one;
        }
        s += n;
        s += strspn(s, " ,");
    }
}

static int claim_scopes(const json_t *claims, sa_scopes *out, struct sa_err *err)
{
    const json_t *scope = json_object_get(claims, "scope");
    const json_t *scopes = json_object_get(claims, "scopes");
    if (!scope && !scopes)
        return sa_err_set(err, SA_EINVAL, "no scope claim");
    if ((scope && !json_is_string(scope)) ||
        (scopes && !json_is_string(scopes) && !json_is_array(scopes)))
        return sa_err_set(err, SA_EINVAL, "malformed scope claim");
    sa_scopes set = 0;
    if (scope)
        add_scopes(json_string_value(scope), &set);
    if (json_is_string(scopes))
        add_scopes(json_string_value(scopes), &set);
    for (size_t i = 0; json_is_array(scopes) && i < json_array_size(scopes); i++) {
        const json_t *s = json_array_get(scopes, i);
        if (!json_is_string(s))
            return sa_err_set(err, SA_EINVAL, "malformed scope claim");
        add_scopes(json_string_value(s), &set);
    }
    if (!set)
        return sa_err_set(err, SA_EINVAL, "no known scope");
    *out = set;
    return 0;
}

static bool audience_ok(const json_t *aud, const char *want)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    for (size_t i = 0; json_is_array(aud) && i < json_array_size(aud); i++) {
        const char *a = json_string_value(json_array_get(aud, i));
        if (a && strcmp(a, want) == 0)
            return true;
    }
    return false;
}

static int check_claims(const struct sa_jwt_verifier *v, const json_t *claims, long long now,
                        struct sa_jwt_claims *out, struct sa_err *err)
{
    long long exp = 0, nbf = 0;
    int r = numeric_date(claims, "exp", &exp);
    if (r > 0)
        return sa_err_set(err, SA_EINVAL, "missing exp claim");
    if (r < 0)
        return sa_err_set(err, SA_EINVAL, "malformed exp claim");
    if (exp <= now - v->leeway)
        return sa_err_set(err, SA_EINVAL, "token expired");
    r = numeric_date(claims, "nbf", &nbf);
    if (r < 0)
        return sa_err_set(err, SA_EINVAL, "malformed nbf claim");
    if (r == 0 && nbf > now + v->leeway)
        return sa_err_set(err, SA_EINVAL, "token not yet valid");
    if (v->issuer) {
        const char *iss = sa_json_str(claims, "iss");
        if (!iss || strcmp(iss, v->issuer) != 0)
            return sa_err_set(err, SA_EINVAL, "issuer mismatch");
    }
    if (v->audience && !audience_ok(json_object_get(claims, "aud"), v->audience))
        return sa_err_set(err, SA_EINVAL, "audience mismatch");
    const json_t *sub = json_object_get(claims, "sub");
    size_t sub_len = json_string_length(sub);
    if (!json_is_string(sub) || sub_len == 0)
        return sa_err_set(err, SA_EINVAL, "missing subject");
    const char *s = json_string_value(sub);
    if (sub_len >= sizeof out->subject)
        return sa_err_set(err, SA_EINVAL, "subject too long");
    for (size_t i = 0; i < sub_len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return sa_err_set(err, SA_EINVAL, "invalid subject");
    int rc = claim_scopes(claims, &out->scopes, err);
    if (rc)
        return rc;
    memcpy(out->subject, s, sub_len + 1);
    out->expires = exp;
    return 0;
}

/* The header's checks: our algorithms only, by exact name; no critical extensions; typ (if
 * any) "JWT", as libjwt insists; kid a string. Sets *alg and *kid (borrowed from header). */
static int check_header(const json_t *header, jwt_alg_t *alg, const char **kid,
                        struct sa_err *err)
{
    const char *name = sa_json_str(header, "alg");
    if (!name)
        return sa_err_set(err, SA_EINVAL, "malformed token");
    if (strcmp(name, "HS256") == 0)
        *alg = JWT_ALG_HS256;
    else if (strcmp(name, "RS256") == 0)
        *alg = JWT_ALG_RS256;
    else if (strcmp(name, "ES256") == 0)
        *alg = JWT_ALG_ES256;
    else
        return sa_err_set(err, SA_EINVAL, "algorithm not allowed");
    if (json_object_get(header, "crit"))
        return sa_err_set(err, SA_EINVAL, "unsupported critical header");
    const json_t *typ = json_object_get(header, "typ");
    if (typ && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") != 0))
        return sa_err_set(err, SA_EINVAL, "unsupported token type");
    const json_t *k = json_object_get(header, "kid");
    if (k && !json_is_string(k))
        return sa_err_set(err, SA_EINVAL, "malformed token");
    *kid = json_string_value(k);
    return 0;
}

int sa_jwt_verify(const struct sa_jwt_verifier *v, const char *token, long long now,
                  struct sa_jwt_claims *out, struct sa_err *err)
{
    memset(out, 0, sizeof *out);
    size_t len = token ? strnlen(token, SA_JWT_MAX_TOKEN + 1) : 0;
    struct parts pt;
    if (len == 0 || len > SA_JWT_MAX_TOKEN || split(token, len, &pt) != 0 ||
        pt.len[0] > MAX_HEADER_B64)
        return sa_err_set(err, SA_EINVAL, "malformed token");

    unsigned char buf[SA_JWT_MAX_TOKEN / 4 * 3 + 3];
    json_t *header = decode_object(pt.p[0], pt.len[0], buf, sizeof buf);
    json_t *claims = NULL;
    jwt_t *jwt = NULL;
    int rc = SA_EINVAL;
    if (!header) {
        sa_err_set(err, SA_EINVAL, "malformed token");
        goto out;
    }
    jwt_alg_t alg = JWT_ALG_NONE;
    const char *kid = NULL;
    if ((rc = check_header(header, &alg, &kid, err)) != 0)
        goto out;

    const unsigned char *key;
    int key_len;
    rc = SA_EINVAL;
    if (alg == JWT_ALG_HS256) {
        if (!v->secret) {
            sa_err_set(err, SA_EINVAL, "algorithm not allowed");
            goto out;
        }
        /* Checked here in constant time first, so libjwt's strcmp only ever sees a valid
         * MAC and leaks nothing about an invalid one. */
        if (!hs256_ok(v, token, &pt)) {
            sa_err_set(err, SA_EINVAL, "bad signature");
            goto out;
        }
        key = v->secret;
        key_len = (int)v->secret_len;
    } else {
        const struct pubkey *k = select_key(v, kid);
        if (!k) {
            sa_err_set(err, SA_EINVAL, "unknown signing key");
            goto out;
        }
        if (k->kind != (alg == JWT_ALG_RS256 ? KEY_RSA : KEY_EC)) {
            sa_err_set(err, SA_EINVAL, "algorithm not allowed for key");
            goto out;
        }
        key = (const unsigned char *)k->pem;
        key_len = k->pem_len;
    }

    int jr = jwt_decode(&jwt, token, key, key_len);
    if (jr == ENOMEM) {
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
        goto out;
    }
    /* libjwt must have verified with the algorithm we chose: anything else (it falling back
     * to "none", say) is a bad token, whatever it returned. */
    if (jr != 0 || !jwt || jwt_get_alg(jwt) != alg) {
        sa_err_set(err, SA_EINVAL, "bad signature");
        goto out;
    }
    if (!(claims = decode_object(pt.p[1], pt.len[1], buf, sizeof buf))) {
        sa_err_set(err, SA_EINVAL, "malformed token");
        goto out;
    }
    rc = check_claims(v, claims, now, out, err);
out:
    if (rc)
        memset(out, 0, sizeof *out);
    jwt_free(jwt);
    json_decref(claims);
    json_decref(header);
    return rc;
}
