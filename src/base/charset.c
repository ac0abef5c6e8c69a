/* Encodings (see charset.h). The single-byte encodings go through iconv so that every
 * byte maps to the character it stands for; nothing is ever replaced by '?'. */
#include "base/charset.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

size_t sa_utf8_decode(const char *str, size_t n, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned char b = s[0];
    size_t len;
    uint32_t v, min;
    if (b < 0x80) {
        *cp = b;
        return 1;
    } else if (b >= 0xC2 && b <= 0xDF) {
        len = 2, v = b & 0x1Fu, min = 0x80;
    } else if (b >= 0xE0 && b <= 0xEF) {
        len = 3, v = b & 0x0Fu, min = 0x800;
    } else if (b >= 0xF0 && b <= 0xF4) {
        len = 4, v = b & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3Fu);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

size_t sa_utf8_valid_prefix(const char *s, size_t len)
{
    size_t i = 0;
    uint32_t cp;
    while (i < len) {
        size_t n = sa_utf8_decode(s + i, len - i, &cp);
        if (n == 0)
            return i;
        i += n;
    }
    return len;
}

/* Our names for a charset and glibc's. */
static const struct {
    const char *name, *iconv;
    bool mail_only; /* sa_charset_known_mail's, not sa_charset_known's */
} charsets[] = {
    {"utf-8", NULL, false},
    {"utf8", NULL, false},
    {"windows-1252", "CP1252", false},
    {"cp1252", "CP1252", false},
    {"latin1", "ISO-8859-1", false},
    {"iso-8859-1", "ISO-8859-1", false},
    {"latin9", "ISO-8859-15", false},
    {"iso-8859-15", "ISO-8859-15", false},
    /* what received mail declares besides (connectors/mail/mime.c): not the import's */
    {"us-ascii", "ASCII", true},
    {"iso-8859-2", "ISO-8859-2", true},
    {"windows-1250", "CP1250", true},
    {"windows-1251", "CP1251", true},
    {"koi8-r", "KOI8-R", true},
    {"iso-8859-9", "ISO-8859-9", true},
    {"shift_jis", "SHIFT_JIS", true},
    {"iso-2022-jp", "ISO-2022-JP", true},
    {"euc-jp", "EUC-JP", true},
    {"gb2312", "GB2312", true},
    {"gbk", "GBK", true},
    {"gb18030", "GB18030", true},
    {"big5", "BIG5", true},
    {"euc-kr", "EUC-KR", true},
};

static int lookup(const char *name)
{
    for (size_t i = 0; i < sizeof charsets / sizeof charsets[0]; i++)
        if (strcasecmp(name, charsets[i].name) == 0)
            return (int)i;
    return -1;
}

bool sa_charset_known(const char *name)
{
    int k = name ? lookup(name) : -1;
    return k >= 0 && !charsets[k].mail_only;
}

bool sa_charset_known_mail(const char *name)
{
    return name && lookup(name) >= 0;
}

static int convert(const char *from, const char *in, size_t len, char **out, size_t *out_len,
                   size_t *bad_offset, struct sa_err *err)
{
    iconv_t cd = iconv_open("UTF-8", from);
    if (cd == (iconv_t)-1)
        return sa_err_set(err, SA_ECONFIG, "charset %s is not available", from);
    size_t cap = len * 3 + 4, left_in = len, left_out = cap;
    char *buf = malloc(cap + 1);
    int rc = 0;
    if (!buf) {
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
        goto out;
    }
    char *ip = (char *)in, *op = buf;
    if (iconv(cd, &ip, &left_in, &op, &left_out) == (size_t)-1) {
        /* EILSEQ: a byte the charset leaves undefined; EINVAL: cut short at the end */
        *bad_offset = (size_t)(ip - in);
        rc = sa_err_set(err, SA_EINVAL, "byte offset %zu: not valid %s", *bad_offset, from);
        goto out;
    }
    *op = '\0';
    *out_len = (size_t)(op - buf);
    *out = buf;
    buf = NULL;
out:
    free(buf);
    iconv_close(cd);
    return rc;
}

int sa_charset_to_utf8(const char *charset, const char *in, size_t len, char **out, size_t *out_len,
                       size_t *bad_offset, struct sa_err *err)
{
    *out = NULL;
    *out_len = 0;
    *bad_offset = 0;
    bool le = len >= 2 && (unsigned char)in[0] == 0xFF && (unsigned char)in[1] == 0xFE;
    bool be = len >= 2 && (unsigned char)in[0] == 0xFE && (unsigned char)in[1] == 0xFF;
    if (le || be) {
        int rc =
            convert(le ? "UTF-16LE" : "UTF-16BE", in + 2, len - 2, out, out_len, bad_offset, err);
        if (rc == SA_EINVAL)
            *bad_offset += 2; /* counted from the start of the file, mark included */
        return rc;
    }
    int k = charset ? lookup(charset) : 0;
    if (k < 0)
        return sa_err_set(err, SA_ECONFIG, "unknown charset %.40s", charset);
    if (charsets[k].iconv)
        return convert(charsets[k].iconv, in, len, out, out_len, bad_offset, err);
    size_t ok = sa_utf8_valid_prefix(in, len);
    if (ok < len) {
        *bad_offset = ok;
        return sa_err_set(err, SA_EINVAL, "byte offset %zu: not valid UTF-8", ok);
    }
    *out = malloc(len + 1);
    if (!*out)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    if (len)
        memcpy(*out, in, len);
    (*out)[len] = '\0';
    *out_len = len;
    return 0;
}
