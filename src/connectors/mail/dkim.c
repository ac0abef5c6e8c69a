/* DKIM signing (see dkim.h). Called by the mail transport's signing layer for each
 * message it delivers. */
#include "connectors/mail/dkim.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/buf.h"
#include "connectors/mail/message.h"

struct sa_dkim {
    EVP_PKEY *key;
    bool ed25519;
    char selector[64];
    char domain[256]; /* "" = the From address's */
};

/* The fields we sign when present (RFC 6376 section 5.4.1's recommendations, plus
 * List-Unsubscribe and List-Unsubscribe-Post, which RFC 8058 requires a valid signature
 * to cover before a receiver offers one-click unsubscribe). */
static const char *const SIGNED[] = {
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
};
#define NSIGNED (sizeof SIGNED / sizeof SIGNED[0])
#define MAX_FIELDS 256

static bool is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

/* A DNS name of LDH labels, as d= carries it (no trailing dot). */
static bool domain_ok(const char *s, size_t n)
{
    if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.' || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if ((!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.') ||
            (s[i] == '.' && s[i + 1] == '.'))
            return false;
    return true;
}

static bool selector_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

int sa_dkim_open(const char *key_file, const char *selector, const char *domain,
                 struct sa_dkim **out, struct sa_err *err)
{
    *out = NULL;
    if (!selector || !selector_ok(selector))
        return sa_err_set(err, SA_ECONFIG,
                          "DKIM_SELECTOR should be 1-63 letters, digits, '-', '_' or '.'");
    if (domain && *domain && !domain_ok(domain, strlen(domain)))
        return sa_err_set(err, SA_ECONFIG, "DKIM_DOMAIN is not a domain name");
    FILE *f = key_file ? fopen(key_file, "re") : NULL;
    if (!f)
        return sa_err_set(err, SA_ECONFIG, "DKIM_KEY_FILE cannot be read");
    EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!key)
        return sa_err_set(err, SA_ECONFIG, "DKIM_KEY_FILE holds no PEM private key");
    int type = EVP_PKEY_get_base_id(key);
    int rc = 0;
    if (type == EVP_PKEY_RSA && EVP_PKEY_get_bits(key) < 1024)
        rc = sa_err_set(err, SA_ECONFIG, "DKIM_KEY_FILE: an RSA key needs 1024 bits or more");
    else if (type != EVP_PKEY_RSA && type != EVP_PKEY_ED25519)
        rc = sa_err_set(err, SA_ECONFIG, "DKIM_KEY_FILE: expected an RSA or Ed25519 key");
    struct sa_dkim *d = NULL;
    if (!rc && !(d = calloc(1, sizeof *d)))
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    if (!d) {
        EVP_PKEY_free(key);
        return rc;
    }
    d->key = key;
    d->ed25519 = type == EVP_PKEY_ED25519;
    snprintf(d->selector, sizeof d->selector, "%s", selector);
    snprintf(d->domain, sizeof d->domain, "%s", domain ? domain : "");
    *out = d;
    return 0;
}

void sa_dkim_free(struct sa_dkim *d)
{
    if (!d)
        return;
    EVP_PKEY_free(d->key);
    free(d);
}

const char *sa_dkim_algorithm(const struct sa_dkim *d)
{
    return d->ed25519 ? "ed25519-sha256" : "rsa-sha256";
}

/* ---- canonicalization ---------------------------------------------------------------- */

int sa_dkim_canon_header(const char *field, size_t len, struct sa_buf *out)
{
    const char *colon = memchr(field, ':', len);
    size_t name_end = colon ? (size_t)(colon - field) : len;
    while (name_end > 0 && is_wsp(field[name_end - 1]))
        name_end--;
    int rc = sa_buf_reserve(out, out->len + len + 3);
    if (rc)
        return rc;
    for (size_t i = 0; i < name_end; i++)
        out->data[out->len++] = (char)tolower((unsigned char)field[i]);
    out->data[out->len++] = ':';
    /* the value: CR and LF dropped (unfolding), runs of WSP one SP, none at either end */
    bool pending_space = false, started = false;
    for (size_t i = colon ? (size_t)(colon - field) + 1 : len; i < len; i++) {
        char c = field[i];
        if (c == '\r' || c == '\n')
            continue;
        if (is_wsp(c)) {
            pending_space = started;
            continue;
        }
        if (pending_space)
            out->data[out->len++] = ' ';
        pending_space = false;
        started = true;
        out->data[out->len++] = c;
    }
    out->data[out->len++] = '\r';
    out->data[out->len++] = '\n';
    out->data[out->len] = '\0';
    return 0;
}

int sa_dkim_canon_body(const char *body, size_t len, struct sa_buf *out)
{
    size_t empty_lines = 0; /* held back: written only when a non-empty line follows */
    size_t i = 0;
    while (i < len) {
        const char *eol = NULL;
        for (size_t j = i; j + 1 < len; j++)
            if (body[j] == '\r' && body[j + 1] == '\n') {
                eol = body + j;
                break;
            }
        size_t line_end = eol ? (size_t)(eol - body) : len;
        size_t next = eol ? line_end + 2 : len;
        /* the line with its trailing WSP gone */
        size_t e = line_end;
        while (e > i && is_wsp(body[e - 1]))
            e--;
        if (e == i) {
            empty_lines++;
            i = next;
            continue;
        }
        int rc = sa_buf_reserve(out, out->len + empty_lines * 2 + (e - i) + 3);
        if (rc)
            return rc;
        for (; empty_lines > 0; empty_lines--) {
            out->data[out->len++] = '\r';
            out->data[out->len++] = '\n';
        }
        bool in_wsp = false;
        for (size_t k = i; k < e; k++) {
            if (is_wsp(body[k])) {
                in_wsp = true;
                continue;
            }
            if (in_wsp)
                out->data[out->len++] = ' ';
            in_wsp = false;
            out->data[out->len++] = body[k];
        }
        out->data[out->len++] = '\r';
        out->data[out->len++] = '\n';
        out->data[out->len] = '\0';
        i = next;
    }
    return 0;
}

/* ---- signing ------------------------------------------------------------------------- */

struct field {
    const char *p;
    size_t len;      /* with its CRLF */
    size_t name_len; /* up to the colon, trailing WSP excluded */
    bool used;
};

/* Splits the header section of msg into fields; *body gets the offset of the body (len
 * when there is none). Returns the number of fields, or -1 past MAX_FIELDS. */
static int split_fields(const char *msg, size_t len, struct field *f, size_t *body)
{
    int n = 0;
    size_t i = 0;
    *body = len;
    while (i < len) {
        if (len - i >= 2 && msg[i] == '\r' && msg[i + 1] == '\n') {
            *body = i + 2;
            break;
        }
        size_t start = i;
        for (;;) { /* to the end of the field: a CRLF not followed by WSP */
            const char *lf = memchr(msg + i, '\n', len - i);
            i = lf ? (size_t)(lf - msg) + 1 : len;
            if (i >= len || !is_wsp(msg[i]))
                break;
        }
        if (n == MAX_FIELDS)
            return -1;
        const char *colon = memchr(msg + start, ':', i - start);
        size_t nl = colon ? (size_t)(colon - msg) - start : 0;
        while (nl > 0 && is_wsp(msg[start + nl - 1]))
            nl--;
        f[n++] = (struct field){.p = msg + start, .len = i - start, .name_len = nl};
    }
    return n;
}

static bool field_is(const struct field *f, const char *name)
{
    return f->name_len == strlen(name) && strncasecmp(f->p, name, f->name_len) == 0;
}

/* The domain of the last address in the From field: after the last '@', up to '>',
 * whitespace or the end. */
static bool from_domain(const struct field *from, char *out, size_t cap)
{
    const char *at = NULL;
    for (size_t i = 0; i < from->len; i++)
        if (from->p[i] == '@')
            at = from->p + i;
    if (!at)
        return false;
    size_t n = 0;
    for (const char *p = at + 1; p < from->p + from->len && n + 1 < cap; p++) {
        if (*p == '>' || *p == '\r' || *p == '\n' || is_wsp(*p))
            break;
        out[n++] = (char)tolower((unsigned char)*p);
    }
    out[n] = '\0';
    return domain_ok(out, n);
}

static int b64(const unsigned char *in, size_t n, char **out)
{
    *out = malloc(4 * ((n + 2) / 3) + 1);
    if (!*out)
        return SA_ENOMEM;
    EVP_EncodeBlock((unsigned char *)*out, in, (int)n);
    return 0;
}

/* Signs data[0..n) with the key: RSASSA-PKCS1-v1_5 over SHA-256 for RSA; for Ed25519,
 * RFC 8463's PureEdDSA over the SHA-256 digest of data. *sig is malloc'd. */
static int sign_data(const struct sa_dkim *d, const char *data, size_t n, unsigned char **sig,
                     size_t *sig_len)
{
    unsigned char digest[32];
    const unsigned char *msg = (const unsigned char *)data;
    size_t mlen = n;
    if (d->ed25519) {
        if (!EVP_Digest(data, n, digest, NULL, EVP_sha256(), NULL))
            return SA_EINTERNAL;
        msg = digest;
        mlen = sizeof digest;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = SA_EINTERNAL;
    *sig = NULL;
    if (!ctx || EVP_DigestSignInit(ctx, NULL, d->ed25519 ? NULL : EVP_sha256(), NULL, d->key) != 1)
        goto out;
    if (EVP_DigestSign(ctx, NULL, sig_len, msg, mlen) != 1)
        goto out;
    *sig = malloc(*sig_len);
    if (!*sig) {
        rc = SA_ENOMEM;
        goto out;
    }
    if (EVP_DigestSign(ctx, *sig, sig_len, msg, mlen) != 1)
        goto out;
    rc = 0;
out:
    if (rc) {
        free(*sig);
        *sig = NULL;
    }
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* Appends the DKIM-Signature field without the b= value: what is signed (after
 * canonicalization) and what the value is appended to. */
static int signature_head(const struct sa_dkim *d, const char *domain, const struct field *f,
                          int nf, const char *bh, struct sa_buf *out)
{
    int rc = sa_buf_printf(out, "DKIM-Signature: v=1; a=%s; c=relaxed/relaxed; d=%s; s=%s;\r\n\th=",
                           sa_dkim_algorithm(d), domain, d->selector);
    bool first = true;
    for (size_t s = 0; !rc && s < NSIGNED; s++)
        for (int i = 0; !rc && i < nf; i++)
            if (field_is(&f[i], SIGNED[s])) {
                rc = sa_buf_printf(out, "%s%s", first ? "" : ":", SIGNED[s]);
                first = false;
            }
    if (!rc)
        rc = sa_buf_printf(out, ";\r\n\tbh=%s;\r\n\tb=", bh);
    return rc;
}

/* Appends the canonicalized fields h= names, in its order; each name takes the last of
 * its instances not taken yet (RFC 6376 section 5.4.2). */
static int signed_fields(struct field *f, int nf, struct sa_buf *out)
{
    int rc = 0;
    for (size_t s = 0; !rc && s < NSIGNED; s++)
        for (int i = 0; !rc && i < nf; i++) {
            if (!field_is(&f[i], SIGNED[s]))
                continue;
            int j = nf - 1;
            while (j >= 0 && (f[j].used || !field_is(&f[j], SIGNED[s])))
                j--;
            f[j].used = true;
            rc = sa_dkim_canon_header(f[j].p, f[j].len, out);
        }
    return rc;
}

int sa_dkim_sign(const struct sa_dkim *d, const char *msg, size_t len, char **out, size_t *out_len,
                 struct sa_err *err)
{
    *out = NULL;
    *out_len = 0;
    struct field *f = calloc(MAX_FIELDS, sizeof *f);
    struct sa_buf body, data, head;
    sa_buf_init(&body, SA_MAIL_MAX_BYTES * 2);
    sa_buf_init(&data, 1 << 20);
    sa_buf_init(&head, 1 << 20);
    char *bh = NULL, *b = NULL;
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    int rc = SA_ENOMEM;
    if (!f) {
        sa_err_set(err, rc, "out of memory");
        goto out;
    }
    size_t body_at;
    int nf = split_fields(msg, len, f, &body_at);
    const struct field *from = NULL;
    for (int i = 0; i < nf && !from; i++)
        from = field_is(&f[i], "From") ? &f[i] : NULL;
    char domain[256];
    snprintf(domain, sizeof domain, "%s", d->domain);
    if (nf < 0 || !from || (!domain[0] && !from_domain(from, domain, sizeof domain))) {
        rc = sa_err_set(err, SA_EINVAL, "dkim: %s",
                        nf < 0  ? "too many header fields"
                        : !from ? "the message has no From field"
                                : "no domain in the From field");
        goto out;
    }
    unsigned char hash[32];
    if ((rc = sa_dkim_canon_body(msg + body_at, len - body_at, &body)) ||
        (rc = EVP_Digest(body.data ? body.data : "", body.len, hash, NULL, EVP_sha256(), NULL)
                  ? 0
                  : SA_EINTERNAL) ||
        (rc = b64(hash, sizeof hash, &bh)) || (rc = signature_head(d, domain, f, nf, bh, &head)) ||
        (rc = signed_fields(f, nf, &data)) ||
        (rc = sa_dkim_canon_header(head.data, head.len, &data))) {
        sa_err_set(err, rc, "dkim: %s", rc == SA_EINTERNAL ? "hashing failed" : "out of memory");
        goto out;
    }
    data.len -= 2; /* the signature field is signed without its CRLF (section 3.7) */
    if ((rc = sign_data(d, data.data, data.len, &sig, &sig_len)) || (rc = b64(sig, sig_len, &b))) {
        sa_err_set(err, rc, "dkim: %s", rc == SA_EINTERNAL ? "signing failed" : "out of memory");
        goto out;
    }
    /* b= folded at 72 columns: whitespace inside the value is ignored by verifiers */
    size_t bl = strlen(b);
    for (size_t i = 0; !rc && i < bl; i += 72)
        rc = sa_buf_printf(&head, "%s%.*s", i ? "\r\n\t " : "", (int)(bl - i < 72 ? bl - i : 72),
                           b + i);
    if (!rc)
        rc = sa_buf_append(&head, "\r\n", 2);
    if (!rc)
        rc = sa_buf_reserve(&head, head.len + len + 1);
    if (rc) {
        sa_err_set(err, rc, "out of memory");
        goto out;
    }
    memcpy(head.data + head.len, msg, len);
    head.len += len;
    head.data[head.len] = '\0';
    *out = sa_buf_steal(&head, out_len);
    rc = *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
out:
    free(f);
    free(bh);
    free(b);
    free(sig);
    sa_buf_free(&body);
    sa_buf_free(&data);
    sa_buf_free(&head);
    return rc;
}

int sa_dkim_dns_record(const struct sa_dkim *d, char **out, struct sa_err *err)
{
    *out = NULL;
    unsigned char *der = NULL;
    size_t n = 0;
    int rc = SA_EINTERNAL;
    if (d->ed25519) {
        /* k=ed25519: p= is the raw 32-byte public key (RFC 8463 section 4.2) */
        der = malloc(32);
        n = 32;
        if (!der || EVP_PKEY_get_raw_public_key(d->key, der, &n) != 1)
            goto out;
    } else {
        /* k=rsa: p= is the DER SubjectPublicKeyInfo */
        int l = i2d_PUBKEY(d->key, &der);
        if (l <= 0)
            goto out;
        n = (size_t)l;
    }
    char *p = NULL;
    if ((rc = b64(der, n, &p)))
        goto out;
    size_t cap = strlen(p) + 40;
    *out = malloc(cap);
    if (*out)
        snprintf(*out, cap, "v=DKIM1; k=%s; p=%s", d->ed25519 ? "ed25519" : "rsa", p);
    rc = *out ? 0 : SA_ENOMEM;
    free(p);
out:
    if (d->ed25519)
        free(der);
    else
        OPENSSL_free(der);
    return rc ? sa_err_set(err, rc, "dkim: cannot export the public key") : 0;
}
