/* Fuzz driver for the IMAP session's parsers (connectors/mail/imap.h): a server's SEARCH
 * answer and a response line's code. The UIDs that come out MUST be ascending and not 0,
 * and written back as one "* SEARCH" line they MUST parse to the same list. Never a crash,
 * a hang or a leak. Built like fuzz_invoke_body (see tests/CMakeLists.txt). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "connectors/mail/imap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    (void)sa_imap_resp_code(text, size, "UIDVALIDITY");
    (void)sa_imap_resp_code(text, size, "UIDNEXT");
    uint32_t *u = NULL;
    size_t n = 0;
    struct sa_err err = {0};
    if (sa_imap_parse_search(text, size, &u, &n, &err) != 0) {
        if (u || n)
            abort();
        return 0;
    }
    struct sa_buf b;
    sa_buf_init(&b, (size_t)1 << 26);
    if (sa_buf_puts(&b, "* SEARCH") != 0)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (u[i] == 0 || (i && u[i] < u[i - 1]))
            abort();
        if (sa_buf_printf(&b, " %u", u[i]) != 0)
            abort();
    }
    if (sa_buf_puts(&b, "\r\n") != 0)
        abort();
    uint32_t *again = NULL;
    size_t m = 0;
    if (sa_imap_parse_search(b.data, b.len, &again, &m, &err) != 0 || m != n ||
        (n && memcmp(u, again, n * sizeof *u) != 0))
        abort();
    free(again);
    free(u);
    sa_buf_free(&b);
    return 0;
}
