/* Fuzz driver for the parsers of outgoing mail: the SMTP URL of MAIL_TRANSPORT (the first
 * byte picks smtp:// or smtps://, the rest follows it; opening connects to nothing) and
 * DKIM's relaxed canonicalization of a header field and of a body. A canonical body MUST
 * end in CRLF unless empty, hold no space or tab before a CRLF, no run of them, and no
 * empty line at its end; canonicalizing it again MUST change nothing (the same for a
 * header field). Never a crash, a hang or a leak. Built like fuzz_invoke_body (see
 * tests/CMakeLists.txt). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "connectors/mail/dkim.h"
#include "connectors/mail/transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_body(const char *in, size_t n)
{
    struct sa_buf a, b;
    sa_buf_init(&a, 1 << 22);
    sa_buf_init(&b, 1 << 22);
    if (sa_dkim_canon_body(in, n, &a) != 0)
        abort();
    const char *p = a.data ? a.data : "";
    if (a.len && (a.len < 2 || memcmp(p + a.len - 2, "\r\n", 2) != 0))
        abort();
    /* no empty line at the end (a body of one empty line included) */
    if (a.len == 2 || (a.len >= 4 && memcmp(p + a.len - 4, "\r\n\r\n", 4) == 0))
        abort();
    for (size_t i = 0; i + 1 < a.len; i++) {
        bool wsp = p[i] == ' ' || p[i] == '\t';
        bool eol = i + 2 < a.len && p[i + 1] == '\r' && p[i + 2] == '\n'; /* a bare CR is not */
        if (wsp && (eol || p[i + 1] == ' ' || p[i + 1] == '\t'))
            abort();
    }
    if (sa_dkim_canon_body(p, a.len, &b) != 0 || b.len != a.len ||
        (a.len && memcmp(a.data, b.data, a.len) != 0))
        abort();
    sa_buf_free(&a);
    sa_buf_free(&b);
}

static void check_header(const char *in, size_t n)
{
    struct sa_buf a, b;
    sa_buf_init(&a, 1 << 22);
    sa_buf_init(&b, 1 << 22);
    if (sa_dkim_canon_header(in, n, &a) != 0 || a.len < 3)
        abort();
    /* once more, on what came out (without its CRLF): the same (when the name held no
     * CR or LF, which real field names never do) */
    const char *colon = memchr(in, ':', n);
    size_t name_n = colon ? (size_t)(colon - in) : n;
    if (!memchr(in, '\r', name_n) && !memchr(in, '\n', name_n)) {
        if (sa_dkim_canon_header(a.data, a.len - 2, &b) != 0)
            abort();
        if (colon && (b.len != a.len || memcmp(a.data, b.data, a.len) != 0))
            abort();
    }
    sa_buf_free(&a);
    sa_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *scheme = data[0] & 1 ? "smtps://" : "smtp://";
    size_t sl = strlen(scheme);
    char *url = malloc(sl + size);
    if (!url)
        return 0;
    memcpy(url, scheme, sl);
    memcpy(url + sl, data + 1, size - 1);
    url[sl + size - 1] = '\0';
    struct sa_transport *t = NULL;
    struct sa_err err = {0};
    if (sa_transport_open(url, &t, &err) == 0)
        sa_transport_free(t);
    else if (t || !memchr(err.msg, '\0', sizeof err.msg))
        abort();
    free(url);
    check_body((const char *)data, size);
    check_header((const char *)data, size);
    return 0;
}
