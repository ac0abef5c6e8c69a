/* Text encodings for imported files: UTF-8 validation, and conversion to UTF-8 from the
 * single-byte encodings spreadsheets and CRM exports use (Windows-1252, Latin-1, Latin-9)
 * and from UTF-16 with a byte-order mark, through glibc's iconv. Used by the CSV import. */
#ifndef SA_BASE_CHARSET_H
#define SA_BASE_CHARSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Decodes the well-formed UTF-8 sequence at s (n > 0 bytes left) into *cp; returns its
 * length, or 0 when the bytes there are not one (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF). The one decoder: validation, folding and mail
 * encoding all step through text with it. */
size_t sa_utf8_decode(const char *s, size_t n, uint32_t *cp);

/* The length of the longest prefix of s[0..len) that is well-formed UTF-8 (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF): len when all of it is. */
size_t sa_utf8_valid_prefix(const char *s, size_t len);

/* True when name is a charset the CSV import takes: utf-8, windows-1252 (cp1252), latin1
 * (iso-8859-1), iso-8859-15 (latin9), any case. */
bool sa_charset_known(const char *name);
/* True when name is one of those or a charset received mail declares: us-ascii,
 * iso-8859-2, windows-1250, windows-1251, koi8-r, iso-8859-9, shift_jis, iso-2022-jp,
 * euc-jp, gb2312, gbk, gb18030, big5, euc-kr, any case (connectors/mail/mime.c).
 * sa_charset_to_utf8 converts from every one of them. */
bool sa_charset_known_mail(const char *name);

/* Converts in[0..len) from charset (see sa_charset_known_mail; NULL means UTF-8) to UTF-8 in
 * *out (malloc'd, NUL-terminated, the caller frees it) of *out_len bytes. UTF-8 input is
 * validated and copied. Input that starts with a UTF-16 byte-order mark is converted from
 * UTF-16 whatever charset says (the mark is unambiguous). Returns 0; SA_EINVAL when a byte
 * is invalid in the charset (*bad_offset = its offset in in), SA_ECONFIG for an unknown
 * charset, SA_ENOMEM. */
int sa_charset_to_utf8(const char *charset, const char *in, size_t len, char **out, size_t *out_len,
                       size_t *bad_offset, struct sa_err *err) SA_WUR;

#endif
