/* The MIME reader (see mime.h): a header block parser, an entity walker over nested
 * multiparts, the two content-transfer decoders, RFC 2047 header words and an HTML-to-text
 * pass. Every size comes from the message, so each loop is bounded by a cap. */
#include "connectors/mail/mime.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/charset.h"

/* What a walk over the entities collects. */
struct walk {
    struct sa_mime_msg *m;
    char *html; /* the first text/html, decoded, waiting for a text/plain that may follow */
    size_t html_len;
    struct sa_mime_charset_note html_charset; /* html's, as m->text_charset */
    struct sa_err *err;
};

/* ---- small helpers ------------------------------------------------------------------- */

static bool wsp(char c)
{
    return c == ' ' || c == '\t';
}

/* The line at p (before end): *len without its CR LF or LF, *next after it. */
static void line_at(const char *p, const char *end, size_t *len, const char **next)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *stop = nl ? nl : end;
    *next = nl ? nl + 1 : end;
    if (stop > p && stop[-1] == '\r')
        stop--;
    *len = (size_t)(stop - p);
}

static char *dup_range(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static void trim(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

static void fields_free(struct sa_mime_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(f[i].name);
        free(f[i].value);
    }
    free(f);
}

static const char *field_in(const struct sa_mime_field *f, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(f[i].name, name) == 0)
            return f[i].value;
    return NULL;
}

const char *sa_mime_field(const struct sa_mime_msg *m, const char *name)
{
    return field_in(m->fields, m->n_fields, name);
}

/* ---- header blocks --------------------------------------------------------------------- */

/* Reads the header fields from p up to the blank line (or end): *body is where the body
 * starts. Continuation lines (starting with a space or tab) are unfolded into the field
 * before them. */
static int read_header_block(const char *p, const char *end, struct sa_mime_field **out,
                             size_t *n_out, const char **body, struct sa_err *err)
{
    *out = NULL;
    *n_out = 0;
    struct sa_mime_field *f = NULL;
    size_t n = 0, line_no = 0;
    const char *start = p;
    int rc = 0;
    while (p < end) {
        size_t len;
        const char *next;
        line_at(p, end, &len, &next);
        line_no++;
        if (len == 0) {
            p = next;
            break;
        }
        if ((size_t)(next - start) > SA_MIME_MAX_HEADER_BYTES) {
            rc = sa_err_set(err, SA_ETOOBIG, "a header block is larger than %zu bytes",
                            SA_MIME_MAX_HEADER_BYTES);
            goto out;
        }
        if (wsp(p[0])) {
            if (!n) {
                rc = sa_err_set(err, SA_EINVAL, "header line %zu continues no field", line_no);
                goto out;
            }
            size_t old = strlen(f[n - 1].value);
            char *v = realloc(f[n - 1].value, old + len + 1);
            if (!v) {
                rc = sa_err_set(err, SA_ENOMEM, "out of memory");
                goto out;
            }
            memcpy(v + old, p, len);
            v[old + len] = '\0';
            f[n - 1].value = v;
            p = next;
            continue;
        }
        const char *colon = memchr(p, ':', len);
        size_t name_len = colon ? (size_t)(colon - p) : 0;
        while (name_len && wsp(p[name_len - 1])) /* "Subject :" of old mailers */
            name_len--;
        bool ok = name_len > 0;
        for (size_t i = 0; ok && i < name_len; i++)
            ok = p[i] > 32 && p[i] < 127;
        if (!ok) {
            rc = sa_err_set(err, SA_EINVAL, "header line %zu is not a header field (name: value)",
                            line_no);
            goto out;
        }
        if (n >= SA_MIME_MAX_FIELDS) {
            rc = sa_err_set(err, SA_ETOOBIG, "more than %d header fields", SA_MIME_MAX_FIELDS);
            goto out;
        }
        struct sa_mime_field *g = realloc(f, (n + 1) * sizeof *f);
        if (!g) {
            rc = sa_err_set(err, SA_ENOMEM, "out of memory");
            goto out;
        }
        f = g;
        const char *v = colon + 1;
        size_t vl = len - (size_t)(v - p);
        f[n].name = dup_range(p, name_len);
        f[n].value = dup_range(v, vl);
        n++;
        if (!f[n - 1].name || !f[n - 1].value) {
            rc = sa_err_set(err, SA_ENOMEM, "out of memory");
            goto out;
        }
        p = next;
    }
    *body = p;
out:
    if (rc) {
        fields_free(f, n);
        return rc;
    }
    /* values are trimmed once unfolded */
    for (size_t i = 0; i < n; i++) {
        const char *s = f[i].value;
        size_t l = strlen(s);
        trim(&s, &l);
        memmove(f[i].value, s, l);
        f[i].value[l] = '\0';
    }
    *out = f;
    *n_out = n;
    return 0;
}

/* ---- parameters (RFC 2045 5.1) ----------------------------------------------------------- */

/* The media type of a Content-Type value, lowercased into out ("" when malformed). */
static void media_type(const char *v, char *out, size_t cap)
{
    size_t i = 0;
    if (v)
        for (; v[i] && v[i] != ';' && !isspace((unsigned char)v[i]) && i + 1 < cap; i++)
            out[i] = (char)tolower((unsigned char)v[i]);
    out[i] = '\0';
    if (!strchr(out, '/'))
        out[0] = '\0';
}

/* The value of parameter name in a structured field value (after the first ';'),
 * unquoted into out; false when absent. */
static bool param(const char *v, const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    if (!v)
        return false;
    size_t nl = strlen(name);
    const char *p = strchr(v, ';');
    while (p) {
        p++;
        while (isspace((unsigned char)*p))
            p++;
        const char *eq = p;
        while (*eq && *eq != '=' && *eq != ';')
            eq++;
        size_t kl = (size_t)(eq - p);
        while (kl && isspace((unsigned char)p[kl - 1]))
            kl--;
        if (*eq != '=') {
            p = strchr(eq, ';');
            continue;
        }
        const char *val = eq + 1;
        while (isspace((unsigned char)*val))
            val++;
        size_t o = 0;
        const char *q = val;
        if (*q == '"') {
            for (q++; *q && *q != '"'; q++) {
                if (*q == '\\' && q[1])
                    q++;
                if (o + 1 < cap)
                    out[o++] = *q;
            }
            if (*q == '"')
                q++;
        } else {
            for (; *q && *q != ';' && !isspace((unsigned char)*q); q++)
                if (o + 1 < cap)
                    out[o++] = *q;
        }
        out[o] = '\0';
        if (kl == nl && strncasecmp(p, name, nl) == 0)
            return true;
        out[0] = '\0';
        p = strchr(q, ';');
    }
    return false;
}

/* ---- transfer encodings ---------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Quoted-printable (RFC 2045 6.7): soft line breaks removed, =XX decoded, trailing
 * whitespace of each line dropped; a '=' not followed by two hex digits stays as it is
 * (the rule's "robust" decoder). */
static int qp_decode(const char *in, size_t len, struct sa_buf *b)
{
    const char *end = in + len;
    for (const char *p = in; p < end;) {
        size_t l;
        const char *next;
        line_at(p, end, &l, &next);
        bool soft = false;
        while (l && wsp(p[l - 1]))
            l--;
        if (l && p[l - 1] == '=') {
            soft = true;
            l--;
        }
        for (size_t i = 0; i < l; i++) {
            char c = p[i];
            int hi, lo;
            if (c == '=' && i + 2 < l && (hi = hexval(p[i + 1])) >= 0 &&
                (lo = hexval(p[i + 2])) >= 0) {
                c = (char)(hi * 16 + lo);
                i += 2;
            }
            if (sa_buf_append(b, &c, 1))
                return SA_ETOOBIG;
        }
        if (!soft && next > p + l && (next[-1] == '\n') && sa_buf_append(b, "\n", 1))
            return SA_ETOOBIG;
        p = next;
    }
    return 0;
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Base64 (RFC 2045 6.8): whitespace and line breaks skipped, '=' ends the data; any other
 * character outside the alphabet is an error (SA_EINVAL, *bad its offset). */
static int b64_decode(const char *in, size_t len, struct sa_buf *b, size_t *bad)
{
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (isspace((unsigned char)c))
            continue;
        if (c == '=')
            break;
        int v = b64val(c);
        if (v < 0) {
            *bad = i;
            return SA_EINVAL;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            char o = (char)((acc >> bits) & 0xFF);
            if (sa_buf_append(b, &o, 1))
                return SA_ETOOBIG;
        }
    }
    return 0;
}

/* ---- charsets ----------------------------------------------------------------------------- */

/* The names mail clients write for the charsets we read, beside their preferred MIME names
 * (IANA aliases and common spellings: "utf8", "iso8859-1", "ISO_8859-1:1987", "cp1252",
 * "ks_c_5601-1987"...), compared lowercase without "-", "_", "." and a ":year" suffix. */
/* clang-format off */
static const struct {
    const char *alias, *name;
} charset_aliases[] = {
    {"utf8", "utf-8"},               {"iso88591", "iso-8859-1"},     {"latin1", "iso-8859-1"},
    {"l1", "iso-8859-1"},            {"isoir100", "iso-8859-1"},     {"cp819", "iso-8859-1"},
    {"ibm819", "iso-8859-1"},        {"csisolatin1", "iso-8859-1"},  {"iso885915", "iso-8859-15"},
    {"latin9", "iso-8859-15"},       {"l9", "iso-8859-15"},          {"iso88592", "iso-8859-2"},
    {"latin2", "iso-8859-2"},        {"l2", "iso-8859-2"},           {"isoir101", "iso-8859-2"},
    {"iso88599", "iso-8859-9"},      {"latin5", "iso-8859-9"},       {"l5", "iso-8859-9"},
    {"windows1250", "windows-1250"}, {"cp1250", "windows-1250"},     {"xcp1250", "windows-1250"},
    {"windows1251", "windows-1251"}, {"cp1251", "windows-1251"},     {"xcp1251", "windows-1251"},
    {"windows1252", "windows-1252"}, {"cp1252", "windows-1252"},     {"xcp1252", "windows-1252"},
    {"koi8r", "koi8-r"},             {"cskoi8r", "koi8-r"},          {"shiftjis", "shift_jis"},
    {"sjis", "shift_jis"},           {"xsjis", "shift_jis"},         {"mskanji", "shift_jis"},
    {"csshiftjis", "shift_jis"},     {"iso2022jp", "iso-2022-jp"},   {"csiso2022jp", "iso-2022-jp"},
    {"eucjp", "euc-jp"},             {"xeucjp", "euc-jp"},           {"euckr", "euc-kr"},
    {"cseuckr", "euc-kr"},           {"ksc56011987", "euc-kr"},      {"gb2312", "gb2312"},
    {"euccn", "gb2312"},             {"xeuccn", "gb2312"},           {"csgb2312", "gb2312"},
    {"gbk", "gbk"},                  {"cp936", "gbk"},               {"xgbk", "gbk"},
    {"gb18030", "gb18030"},          {"big5", "big5"},               {"csbig5", "big5"},
    {"xxbig5", "big5"},              {"usascii", "us-ascii"},        {"ascii", "us-ascii"},
    {"ansix341968", "us-ascii"},     {"iso646us", "us-ascii"},       {"csascii", "us-ascii"},
    {"us", "us-ascii"},
};
/* clang-format on */

/* cs (NUL-terminated, cap bytes) rewritten to the preferred name when it is an alias. */
static void charset_name(char *cs, size_t cap)
{
    char key[64];
    size_t k = 0;
    for (const char *p = cs; *p && *p != ':' && k < sizeof key - 1; p++)
        if (*p != '-' && *p != '_' && *p != '.' && *p != ' ')
            key[k++] = (char)tolower((unsigned char)*p);
    key[k] = '\0';
    for (size_t i = 0; i < sizeof charset_aliases / sizeof charset_aliases[0]; i++)
        if (strcmp(key, charset_aliases[i].alias) == 0) {
            snprintf(cs, cap, "%s", charset_aliases[i].name);
            return;
        }
}

/* Converts in[0..len) from charset (NULL or "": UTF-8 expected) to UTF-8 in *out, with
 * line breaks as "\n". what names the part for errors. decoded_as (16 bytes, or NULL for
 * strict decoding) receives the charset actually used when the declared one could not
 * decode the bytes and a fallback could ("" when the declared one did).
 *
 * Why a fallback: older Outlook and Exchange label Latin-1 / windows-1252 text as utf-8 (or
 * us-ascii), and a us-ascii label sometimes carries UTF-8. Refusing such a part bounces a
 * real customer's reply, so a part labelled utf-8 or us-ascii (or not labelled) that fails
 * strictly is decoded as utf-8, then windows-1252, whichever decodes every byte; the
 * caller records which, so nothing is changed silently. Other charsets (multi-byte ones
 * above all) are not guessed at, and bytes that fit neither stay an error. */
static int to_utf8(const char *charset, const char *in, size_t len, const char *what, char **out,
                   size_t *out_len, char *decoded_as, struct sa_err *err)
{
    *out = NULL;
    if (decoded_as)
        decoded_as[0] = '\0';
    char cs[64];
    snprintf(cs, sizeof cs, "%s", charset && *charset ? charset : "utf-8");
    char *star = strchr(cs, '*'); /* RFC 2231 language suffix */
    if (star)
        *star = '\0';
    charset_name(cs, sizeof cs);
    bool ascii = strcmp(cs, "us-ascii") == 0;
    if (!ascii && !sa_charset_known_mail(cs))
        return sa_err_set(err, SA_EINVAL, "%s: unsupported charset '%.40s'", what, cs);
    size_t bad = 0;
    struct sa_err e = {0};
    char *conv = NULL;
    size_t n = 0;
    int rc = 0;
    if (ascii) { /* us-ascii is utf-8 without its high bytes */
        while (bad < len && (unsigned char)in[bad] < 0x80)
            bad++;
        rc = bad < len ? SA_EINVAL : sa_charset_to_utf8("utf-8", in, len, &conv, &n, &bad, &e);
    } else {
        rc = sa_charset_to_utf8(cs, in, len, &conv, &n, &bad, &e);
    }
    size_t bad2 = 0;
    if (rc == SA_EINVAL && decoded_as && (ascii || strcmp(cs, "utf-8") == 0)) {
        static const char *const tries[] = {"utf-8", "windows-1252"};
        for (size_t i = 0; i < sizeof tries / sizeof tries[0] && rc == SA_EINVAL; i++) {
            if (!ascii && strcmp(tries[i], cs) == 0)
                continue;
            rc = sa_charset_to_utf8(tries[i], in, len, &conv, &n, &bad2, &e);
            if (rc == 0)
                snprintf(decoded_as, 16, "%s", tries[i]);
        }
        if (rc == SA_EINVAL)
            return sa_err_set(err, SA_EINVAL,
                              "%s: byte 0x%02X at offset %zu is not valid %s, nor is byte 0x%02X "
                              "at offset %zu valid windows-1252",
                              what, bad < len ? (unsigned char)in[bad] : 0, bad, cs,
                              bad2 < len ? (unsigned char)in[bad2] : 0, bad2);
    }
    if (rc == SA_EINVAL)
        return sa_err_set(err, SA_EINVAL, "%s: byte 0x%02X at offset %zu is not valid %s", what,
                          bad < len ? (unsigned char)in[bad] : 0, bad, cs);
    if (rc)
        return sa_err_set(err, rc, "%s: %s", what, e.msg);
    if (memchr(conv, '\0', n)) {
        free(conv);
        return sa_err_set(err, SA_EINVAL, "%s: contains a NUL character", what);
    }
    /* CR LF and lone CR become LF */
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (conv[i] == '\r') {
            conv[o++] = '\n';
            if (i + 1 < n && conv[i + 1] == '\n')
                i++;
        } else {
            conv[o++] = conv[i];
        }
    }
    conv[o] = '\0';
    *out = conv;
    if (out_len)
        *out_len = o;
    return 0;
}

/* ---- RFC 2047 encoded-words ---------------------------------------------------------------- */

/* One encoded-word at p ("=?charset?B|Q?text?="): its parts; false when p is not one. */
static bool encoded_word(const char *p, const char *end, const char **cs, size_t *cs_len, char *enc,
                         const char **text, size_t *text_len, const char **after)
{
    if (end - p < 8 || p[0] != '=' || p[1] != '?')
        return false;
    const char *c = p + 2, *q = c;
    while (q < end && *q != '?' && !isspace((unsigned char)*q))
        q++;
    if (q + 3 >= end || *q != '?' || q == c)
        return false;
    char e = (char)toupper((unsigned char)q[1]);
    if ((e != 'B' && e != 'Q') || q[2] != '?')
        return false;
    const char *t = q + 3, *s = t;
    while (s + 1 < end && !(s[0] == '?' && s[1] == '=') && !isspace((unsigned char)*s))
        s++;
    if (s + 1 >= end || s[0] != '?' || s[1] != '=')
        return false;
    *cs = c;
    *cs_len = (size_t)(q - c);
    *enc = e;
    *text = t;
    *text_len = (size_t)(s - t);
    *after = s + 2;
    return true;
}

/* The pending bytes of adjacent encoded-words in one charset, converted and appended. */
static int flush_words(struct sa_buf *raw, const char *cs, struct sa_buf *out, struct sa_err *err)
{
    if (!raw->len)
        return 0;
    char *u = NULL;
    size_t ul = 0;
    int rc = to_utf8(cs, raw->data, raw->len, "encoded-word", &u, &ul, NULL, err);
    if (!rc && sa_buf_append(out, u, ul))
        rc = sa_err_set(err, SA_ETOOBIG, "a header is too long");
    free(u);
    sa_buf_reset(raw);
    return rc;
}

int sa_mime_decode_header(const char *in, size_t len, char **out, struct sa_err *err)
{
    *out = NULL;
    struct sa_buf b, raw;
    sa_buf_init(&b, SA_MIME_MAX_HEADER_BYTES);
    sa_buf_init(&raw, SA_MIME_MAX_HEADER_BYTES);
    char cs[64] = "";
    int rc = 0;
    const char *end = in + len, *p = in;
    bool last_word = false;
    while (!rc && p < end) {
        const char *c, *t, *after;
        size_t cl, tl;
        char enc;
        if (encoded_word(p, end, &c, &cl, &enc, &t, &tl, &after)) {
            char this_cs[64];
            snprintf(this_cs, sizeof this_cs, "%.*s", (int)(cl < 63 ? cl : 63), c);
            if (raw.len && strcasecmp(this_cs, cs) != 0)
                rc = flush_words(&raw, cs, &b, err);
            snprintf(cs, sizeof cs, "%s", this_cs);
            if (!rc && enc == 'B') {
                size_t bad = 0;
                if (b64_decode(t, tl, &raw, &bad))
                    rc = sa_err_set(err, SA_EINVAL, "an encoded-word is not valid base64");
            } else {
                for (size_t i = 0; !rc && i < tl; i++) {
                    char ch = t[i];
                    int hi, lo;
                    if (ch == '_')
                        ch = ' ';
                    else if (ch == '=' && i + 2 < tl && (hi = hexval(t[i + 1])) >= 0 &&
                             (lo = hexval(t[i + 2])) >= 0) {
                        ch = (char)(hi * 16 + lo);
                        i += 2;
                    }
                    if (sa_buf_append(&raw, &ch, 1))
                        rc = sa_err_set(err, SA_ETOOBIG, "a header is too long");
                }
            }
            p = after;
            last_word = true;
            continue;
        }
        /* whitespace between two encoded-words is dropped (RFC 2047 6.2) */
        if (last_word && isspace((unsigned char)*p)) {
            const char *q = p;
            while (q < end && isspace((unsigned char)*q))
                q++;
            if (encoded_word(q, end, &c, &cl, &enc, &t, &tl, &after)) {
                p = q;
                continue;
            }
        }
        if (raw.len)
            rc = flush_words(&raw, cs, &b, err);
        last_word = false;
        if (!rc && sa_buf_append(&b, p, 1))
            rc = sa_err_set(err, SA_ETOOBIG, "a header is too long");
        p++;
    }
    if (!rc)
        rc = flush_words(&raw, cs, &b, err);
    sa_buf_free(&raw);
    if (!rc && b.len && sa_utf8_valid_prefix(b.data, b.len) != b.len)
        rc = sa_err_set(err, SA_EINVAL,
                        "a header has bytes that are not UTF-8 outside encoded-words");
    if (!rc) {
        size_t n;
        *out = sa_buf_steal(&b, &n);
        if (!*out)
            rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    sa_buf_free(&b);
    return rc;
}

/* ---- addresses and ids -------------------------------------------------------------------- */

/* The first msg-id in v, as "<id>" (malloc'd), or NULL. A value without angle brackets
 * (some mailers) is taken whole. */
static char *first_msgid(const char *v)
{
    if (!v)
        return NULL;
    const char *lt = strchr(v, '<');
    const char *gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt && gt > lt + 1)
        return dup_range(lt, (size_t)(gt - lt) + 1);
    size_t n = strlen(v);
    const char *s = v;
    trim(&s, &n);
    if (!n || memchr(s, ' ', n) || n > 990)
        return NULL;
    char *id = malloc(n + 3);
    if (id)
        snprintf(id, n + 3, "<%.*s>", (int)n, s);
    return id;
}

/* From: the address (lowercased) and the display name, decoded. */
static int parse_from(const char *v, char **addr, char **name, struct sa_err *err)
{
    *addr = *name = NULL;
    if (!v)
        return 0;
    const char *lt = strrchr(v, '<');
    const char *gt = lt ? strchr(lt, '>') : NULL;
    const char *a = NULL;
    size_t al = 0;
    if (lt && gt) {
        a = lt + 1;
        al = (size_t)(gt - a);
        const char *n = v;
        size_t nl = (size_t)(lt - v);
        trim(&n, &nl);
        if (nl >= 2 && n[0] == '"' && n[nl - 1] == '"') {
            n++;
            nl -= 2;
        }
        if (nl) {
            char *unq = malloc(nl + 1);
            if (!unq)
                return sa_err_set(err, SA_ENOMEM, "out of memory");
            size_t o = 0;
            for (size_t i = 0; i < nl; i++) {
                if (n[i] == '\\' && i + 1 < nl)
                    i++;
                unq[o++] = n[i];
            }
            int rc = sa_mime_decode_header(unq, o, name, err);
            free(unq);
            if (rc)
                return rc;
        }
    } else {
        /* addr-spec, maybe with a comment: "MAILER-DAEMON@x (Mail Delivery System)" */
        a = v;
        while (isspace((unsigned char)*a))
            a++;
        al = strcspn(a, " \t(");
    }
    trim(&a, &al);
    const char *at = al ? memchr(a, '@', al) : NULL;
    if (!at || at == a || at == a + al - 1 || al > 254)
        return 0;
    for (size_t i = 0; i < al; i++)
        if ((unsigned char)a[i] <= 32 || a[i] == '<' || a[i] == '>' || a[i] == ',')
            return 0;
    *addr = dup_range(a, al);
    if (!*addr)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    for (char *p = *addr; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return 0;
}

/* ---- HTML to text ---------------------------------------------------------------------------- */

/* Appends to the text; past SA_MIME_MAX_TEXT the rest is dropped (the text is cut). */
static void put(struct sa_buf *b, const char *s, size_t n)
{
    if (sa_buf_append(b, s, n) != 0)
        return;
}

static void put_utf8(struct sa_buf *b, uint32_t cp)
{
    char o[4];
    size_t n;
    if (cp < 0x80) {
        o[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        o[0] = (char)(0xF0 | (cp >> 18));
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    put(b, o, n);
}

/* The entity at p ("&amp;"), decoded into b; returns the bytes consumed (0: not one). */
static size_t entity(const char *p, const char *end, struct sa_buf *b)
{
    static const struct {
        const char *name;
        uint32_t cp;
    } named[] = {{"amp", '&'},      {"lt", '<'},        {"gt", '>'},       {"quot", '"'},
                 {"apos", '\''},    {"nbsp", ' '},      {"copy", 0xA9},    {"reg", 0xAE},
                 {"euro", 0x20AC},  {"hellip", 0x2026}, {"mdash", 0x2014}, {"ndash", 0x2013},
                 {"lsquo", 0x2018}, {"rsquo", 0x2019},  {"ldquo", 0x201C}, {"rdquo", 0x201D},
                 {"bdquo", 0x201E}, {"auml", 0xE4},     {"ouml", 0xF6},    {"uuml", 0xFC},
                 {"Auml", 0xC4},    {"Ouml", 0xD6},     {"Uuml", 0xDC},    {"szlig", 0xDF},
                 {"eacute", 0xE9},  {"egrave", 0xE8},   {"ecirc", 0xEA},   {"agrave", 0xE0},
                 {"acirc", 0xE2},   {"ccedil", 0xE7},   {"ocirc", 0xF4},   {"icirc", 0xEE},
                 {"ugrave", 0xF9},  {"Eacute", 0xC9},   {"ntilde", 0xF1},  {"aacute", 0xE1},
                 {"iacute", 0xED},  {"oacute", 0xF3},   {"uacute", 0xFA}};
    const char *semi = memchr(p, ';', (size_t)(end - p) < 12 ? (size_t)(end - p) : 12);
    if (!semi || semi == p + 1)
        return 0;
    const char *n = p + 1;
    size_t nl = (size_t)(semi - n);
    if (n[0] == '#') {
        char digits[12];
        bool hex = nl > 1 && (n[1] == 'x' || n[1] == 'X');
        size_t off = hex ? 2 : 1;
        if (nl <= off || nl - off >= sizeof digits)
            return 0;
        memcpy(digits, n + off, nl - off);
        digits[nl - off] = '\0';
        char *e = NULL;
        unsigned long cp = strtoul(digits, &e, hex ? 16 : 10);
        if (!e || *e || cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        put_utf8(b, cp == 0xA0 ? ' ' : (uint32_t)cp);
        return (size_t)(semi - p) + 1;
    }
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (strlen(named[i].name) == nl && strncmp(named[i].name, n, nl) == 0) {
            put_utf8(b, named[i].cp);
            return (size_t)(semi - p) + 1;
        }
    return 0;
}

/* Ends the current line (at most one blank line in a row). */
static void html_newline(struct sa_buf *b)
{
    while (b->len && b->data[b->len - 1] == ' ')
        b->len--;
    if (b->len >= 2 && b->data[b->len - 1] == '\n' && b->data[b->len - 2] == '\n')
        return;
    if (b->len)
        put(b, "\n", 1);
}

/* True when the tag name at p (after '<' and an optional '/') is name. */
static bool tag_is(const char *p, const char *end, const char *name)
{
    size_t n = strlen(name);
    if ((size_t)(end - p) < n || strncasecmp(p, name, n) != 0)
        return false;
    return p + n == end || !isalnum((unsigned char)p[n]);
}

char *sa_mime_html_to_text(const char *html, size_t len)
{
    struct sa_buf b;
    sa_buf_init(&b, SA_MIME_MAX_TEXT);
    const char *p = html, *end = html + len;
    int quote = 0;
    bool line_start = true;
    while (p < end) {
        if (*p == '<') {
            if (end - p >= 4 && strncmp(p, "<!--", 4) == 0) {
                const char *c = p + 4;
                while (c + 2 < end && strncmp(c, "-->", 3) != 0)
                    c++;
                p = c + 2 < end ? c + 3 : end;
                continue;
            }
            const char *t = p + 1;
            bool closing = t < end && *t == '/';
            if (closing)
                t++;
            const char *gt = t;
            char q = 0;
            while (gt < end && (q || *gt != '>')) {
                if (q && *gt == q)
                    q = 0;
                else if (!q && (*gt == '"' || *gt == '\''))
                    q = *gt;
                gt++;
            }
            const char *after = gt < end ? gt + 1 : end;
            static const char *const skipped[] = {"script", "style", "head", "title"};
            bool skip = false;
            for (size_t i = 0; !closing && i < 4; i++) {
                if (!tag_is(t, end, skipped[i]))
                    continue;
                /* to the matching close tag */
                const char *c = after;
                size_t n = strlen(skipped[i]);
                while (c + n + 2 < end &&
                       !(c[0] == '<' && c[1] == '/' && strncasecmp(c + 2, skipped[i], n) == 0))
                    c++;
                const char *cg = memchr(c, '>', (size_t)(end - c));
                p = cg ? cg + 1 : end;
                skip = true;
                break;
            }
            if (skip)
                continue;
            if (tag_is(t, end, "blockquote")) {
                html_newline(&b);
                quote += closing ? (quote > 0 ? -1 : 0) : 1;
                line_start = true;
            } else if (tag_is(t, end, "br")) {
                while (b.len && b.data[b.len - 1] == ' ')
                    b.len--;
                put(&b, "\n", 1);
                line_start = true;
            } else {
                static const char *const blocks[] = {"p",     "div", "tr", "li",  "h1",
                                                     "h2",    "h3",  "h4", "h5",  "h6",
                                                     "table", "ul",  "ol", "pre", "hr"};
                for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
                    if (tag_is(t, end, blocks[i])) {
                        html_newline(&b);
                        line_start = true;
                        break;
                    }
            }
            p = after;
            continue;
        }
        if (isspace((unsigned char)*p)) {
            if (!line_start && b.len && b.data[b.len - 1] != ' ' && b.data[b.len - 1] != '\n')
                put(&b, " ", 1);
            p++;
            continue;
        }
        if (line_start) {
            for (int i = 0; i < quote; i++)
                put(&b, "> ", 2);
            line_start = false;
        }
        size_t used = *p == '&' ? entity(p, end, &b) : 0;
        if (used) {
            p += used;
            continue;
        }
        put(&b, p, 1);
        p++;
    }
    while (b.len && isspace((unsigned char)b.data[b.len - 1]))
        b.len--;
    if (b.data)
        b.data[b.len] = '\0';
    size_t n;
    char *out = sa_buf_steal(&b, &n);
    sa_buf_free(&b);
    return out;
}

/* ---- entities -------------------------------------------------------------------------------- */

static int walk_entity(struct walk *w, const struct sa_mime_field *f, size_t nf, const char *body,
                       size_t body_len, int depth, bool attached);

/* The body decoded from its Content-Transfer-Encoding into *out (malloc'd). */
static int decode_body(const struct sa_mime_field *f, size_t nf, const char *body, size_t len,
                       const char *what, char **out, size_t *out_len, struct sa_err *err)
{
    *out = NULL;
    char cte[32];
    media_type(NULL, cte, sizeof cte);
    const char *v = field_in(f, nf, "Content-Transfer-Encoding");
    size_t i = 0;
    for (; v && v[i] && !isspace((unsigned char)v[i]) && v[i] != ';' && i + 1 < sizeof cte; i++)
        cte[i] = (char)tolower((unsigned char)v[i]);
    cte[i] = '\0';
    struct sa_buf b;
    sa_buf_init(&b, SA_MIME_MAX_BYTES);
    int rc = 0;
    if (strcmp(cte, "quoted-printable") == 0) {
        rc = qp_decode(body, len, &b);
    } else if (strcmp(cte, "base64") == 0) {
        size_t bad = 0;
        rc = b64_decode(body, len, &b, &bad);
        if (rc == SA_EINVAL) {
            sa_buf_free(&b);
            return sa_err_set(err, SA_EINVAL, "%s: invalid base64 character 0x%02X at offset %zu",
                              what, (unsigned char)body[bad], bad);
        }
    } else if (!cte[0] || strcmp(cte, "7bit") == 0 || strcmp(cte, "8bit") == 0 ||
               strcmp(cte, "binary") == 0) {
        rc = sa_buf_append(&b, body, len);
    } else {
        sa_buf_free(&b);
        return sa_err_set(err, SA_EINVAL, "%s: unknown Content-Transfer-Encoding '%.32s'", what,
                          cte);
    }
    if (rc) {
        sa_buf_free(&b);
        return sa_err_set(err, rc, "%s: too large", what);
    }
    *out = sa_buf_steal(&b, out_len);
    sa_buf_free(&b);
    return *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}

/* A text entity's content in UTF-8 (decoded, converted). note (NULL: strict decoding) is
 * filled when a mislabelled charset was decoded as another (see to_utf8). */
static int entity_text(const struct sa_mime_field *f, size_t nf, const char *body, size_t len,
                       const char *what, char **out, size_t *out_len,
                       struct sa_mime_charset_note *note, struct sa_err *err)
{
    char *raw = NULL;
    size_t rl = 0;
    int rc = decode_body(f, nf, body, len, what, &raw, &rl, err);
    if (rc)
        return rc;
    char cs[64];
    param(field_in(f, nf, "Content-Type"), "charset", cs, sizeof cs);
    rc = to_utf8(cs, raw, rl, what, out, out_len, note ? note->decoded_as : NULL, err);
    if (!rc && note && note->decoded_as[0])
        snprintf(note->declared, sizeof note->declared, "%s", cs[0] ? cs : "none");
    free(raw);
    if (!rc && *out_len > SA_MIME_MAX_TEXT) { /* kept, cut at a character boundary */
        size_t n = sa_utf8_valid_prefix(*out, SA_MIME_MAX_TEXT);
        (*out)[n] = '\0';
        *out_len = n;
    }
    return rc;
}

/* The Message-ID among an attached message's (or its headers') fields. */
static int attached_headers(struct walk *w, const char *body, size_t len)
{
    struct sa_mime_field *f = NULL;
    size_t n = 0;
    const char *rest;
    struct sa_err e = {0};
    /* a returned original that cannot be read is no reason to refuse the report */
    if (read_header_block(body, body + len, &f, &n, &rest, &e) == 0 && !w->m->original_message_id)
        w->m->original_message_id = first_msgid(field_in(f, n, "Message-ID"));
    fields_free(f, n);
    return 0;
}

static bool is_attachment(const struct sa_mime_field *f, size_t nf)
{
    char d[32];
    media_type(NULL, d, sizeof d);
    const char *v = field_in(f, nf, "Content-Disposition");
    size_t i = 0;
    for (; v && v[i] && v[i] != ';' && !isspace((unsigned char)v[i]) && i + 1 < sizeof d; i++)
        d[i] = (char)tolower((unsigned char)v[i]);
    d[i] = '\0';
    return strcmp(d, "attachment") == 0;
}

/* The parts of a multipart body between its boundary lines ("--boundary"), each walked. */
static int walk_multipart(struct walk *w, const char *body, size_t len, const char *boundary,
                          int depth, bool attached)
{
    size_t bl = strlen(boundary);
    const char *end = body + len, *p = body, *part = NULL;
    bool closed = false;
    int rc = 0;
    while (!rc && p < end && !closed) {
        size_t l;
        const char *next;
        line_at(p, end, &l, &next);
        bool delim = l >= bl + 2 && p[0] == '-' && p[1] == '-' && memcmp(p + 2, boundary, bl) == 0;
        if (delim) {
            const char *tail = p + 2 + bl;
            size_t tl = l - 2 - bl;
            bool close = tl >= 2 && tail[0] == '-' && tail[1] == '-';
            for (size_t i = close ? 2 : 0; delim && i < tl; i++)
                delim = wsp(tail[i]);
            if (delim) {
                if (part) {
                    /* the line break before the delimiter belongs to it */
                    const char *pe = p;
                    if (pe > part && pe[-1] == '\n')
                        pe--;
                    if (pe > part && pe[-1] == '\r')
                        pe--;
                    struct sa_mime_field *f = NULL;
                    size_t nf = 0;
                    const char *pb;
                    rc = read_header_block(part, pe, &f, &nf, &pb, w->err);
                    if (!rc)
                        rc = walk_entity(w, f, nf, pb, (size_t)(pe - pb), depth + 1, attached);
                    fields_free(f, nf);
                }
                part = next;
                closed = close;
            }
        }
        p = next;
    }
    if (!rc && !part)
        rc = sa_err_set(w->err, SA_EINVAL, "a multipart body has no '--%.70s' boundary line",
                        boundary);
    /* a missing close delimiter (a truncated message): the last part runs to the end */
    if (!rc && part && !closed && part < end) {
        struct sa_mime_field *f = NULL;
        size_t nf = 0;
        const char *pb;
        rc = read_header_block(part, end, &f, &nf, &pb, w->err);
        if (!rc)
            rc = walk_entity(w, f, nf, pb, (size_t)(end - pb), depth + 1, attached);
        fields_free(f, nf);
    }
    return rc;
}

static int walk_entity(struct walk *w, const struct sa_mime_field *f, size_t nf, const char *body,
                       size_t body_len, int depth, bool attached)
{
    if (depth > SA_MIME_MAX_DEPTH)
        return sa_err_set(w->err, SA_ETOOBIG, "parts are nested deeper than %d", SA_MIME_MAX_DEPTH);
    if (++w->m->parts > SA_MIME_MAX_PARTS)
        return sa_err_set(w->err, SA_ETOOBIG, "more than %d MIME parts", SA_MIME_MAX_PARTS);
    const char *ctv = field_in(f, nf, "Content-Type");
    char type[96];
    media_type(ctv, type, sizeof type);
    if (!type[0])
        snprintf(type, sizeof type, "text/plain");
    if (depth == 0) {
        snprintf(w->m->content_type, sizeof w->m->content_type, "%s", type);
        char rt[48];
        param(ctv, "report-type", rt, sizeof rt);
        for (char *c = rt; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        snprintf(w->m->report_type, sizeof w->m->report_type, "%s", rt);
    }
    if (strncmp(type, "multipart/", 10) == 0) {
        char boundary[200];
        if (!param(ctv, "boundary", boundary, sizeof boundary) || !boundary[0])
            return sa_err_set(w->err, SA_EINVAL, "%s without a boundary parameter", type);
        return walk_multipart(w, body, body_len, boundary, depth, attached);
    }
    if (strcmp(type, "message/rfc822") == 0 || strcmp(type, "message/global") == 0 ||
        strcmp(type, "text/rfc822-headers") == 0 || strcmp(type, "message/global-headers") == 0) {
        char *dec = NULL;
        size_t dl = 0;
        int rc = decode_body(f, nf, body, body_len, type, &dec, &dl, w->err);
        if (!rc)
            rc = attached_headers(w, dec, dl);
        free(dec);
        return rc;
    }
    if (strcmp(type, "message/delivery-status") == 0 ||
        strcmp(type, "message/global-delivery-status") == 0) {
        if (w->m->delivery_status)
            return 0;
        size_t dl = 0;
        return entity_text(f, nf, body, body_len, type, &w->m->delivery_status, &dl, NULL, w->err);
    }
    if (!attached && !w->m->calendar &&
        (strcmp(type, "text/calendar") == 0 || strcmp(type, "application/ics") == 0)) {
        /* a calendar answer, inline or as invite.ics (not a forwarded one); one that
         * cannot be decoded is left unread, the message's text still counts */
        size_t cl = 0;
        struct sa_err ce = {0};
        int rc = entity_text(f, nf, body, body_len, "text/calendar part", &w->m->calendar, &cl,
                             NULL, &ce);
        if (rc == SA_ENOMEM)
            return sa_err_set(w->err, rc, "%s", ce.msg);
        if (rc) {
            free(w->m->calendar);
            w->m->calendar = NULL;
        }
        return 0;
    }
    if (attached || is_attachment(f, nf))
        return 0;
    if (strcmp(type, "text/plain") == 0 && !w->m->text) {
        size_t tl = 0;
        return entity_text(f, nf, body, body_len, "text/plain part", &w->m->text, &tl,
                           &w->m->text_charset, w->err);
    }
    if (strcmp(type, "text/html") == 0 && !w->html)
        return entity_text(f, nf, body, body_len, "text/html part", &w->html, &w->html_len,
                           &w->html_charset, w->err);
    return 0; /* images, calendars, other attachments: not read */
}

/* ---- the message ------------------------------------------------------------------------------
 */

void sa_mime_clear(struct sa_mime_msg *m)
{
    fields_free(m->fields, m->n_fields);
    free(m->subject);
    free(m->from_name);
    free(m->from_addr);
    free(m->message_id);
    free(m->in_reply_to);
    free(m->references);
    free(m->text);
    free(m->delivery_status);
    free(m->original_message_id);
    free(m->calendar);
    memset(m, 0, sizeof *m);
}

int sa_mime_parse(const char *raw, size_t len, struct sa_mime_msg *m, struct sa_err *err)
{
    memset(m, 0, sizeof *m);
    if (len > SA_MIME_MAX_BYTES)
        return sa_err_set(err, SA_ETOOBIG, "the message is larger than %zu bytes",
                          SA_MIME_MAX_BYTES);
    const char *p = raw, *end = raw + len;
    if (len >= 5 && strncmp(raw, "From ", 5) == 0) { /* an mbox separator */
        size_t l;
        line_at(p, end, &l, &p);
    }
    const char *body;
    int rc = read_header_block(p, end, &m->fields, &m->n_fields, &body, err);
    if (rc)
        return rc;
    if (!m->n_fields)
        return sa_err_set(err, SA_EINVAL, "the message has no header fields");
    const char *subj = sa_mime_field(m, "Subject");
    if (subj && (rc = sa_mime_decode_header(subj, strlen(subj), &m->subject, err)))
        return sa_err_set(err, rc, "Subject: %s", err->msg);
    if ((rc = parse_from(sa_mime_field(m, "From"), &m->from_addr, &m->from_name, err)))
        return sa_err_set(err, rc, "From: %s", err->msg);
    if (!m->from_addr)
        return sa_err_set(err, SA_EINVAL, "the message has no From address");
    m->message_id = first_msgid(sa_mime_field(m, "Message-ID"));
    m->in_reply_to = first_msgid(sa_mime_field(m, "In-Reply-To"));
    const char *refs = sa_mime_field(m, "References");
    if (refs && !(m->references = strdup(refs)))
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    struct walk w = {.m = m, .err = err};
    rc = walk_entity(&w, m->fields, m->n_fields, body, (size_t)(end - body), 0, false);
    if (!rc && !m->text && w.html) {
        m->text = sa_mime_html_to_text(w.html, w.html_len);
        m->text_from_html = true;
        m->text_charset = w.html_charset;
        if (!m->text)
            rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    free(w.html);
    return rc;
}
