/* Fuzz driver for the inbound mail reader (connectors/mail/mime.h) and classifier
 * (connectors/mail/bounce.h) on arbitrary bytes: a parse either fails with a message or
 * gives a message whose text is valid UTF-8 within its cap and whose From address holds
 * an '@'; the classifier's strings are NUL-terminated in their buffers; the reply stripper
 * stays in its buffer. Never a crash, a hang or a leak. Built like fuzz_reply (see
 * tests/CMakeLists.txt); the seed corpus is tests/data/inbound's fixtures. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/charset.h"
#include "connectors/mail/bounce.h"
#include "connectors/mail/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sa_mime_msg m;
    struct sa_err err = {0};
    int rc = sa_mime_parse((const char *)data, size, &m, &err);
    if (rc) {
        if (!err.msg[0])
            abort(); /* a refusal always says why */
        sa_mime_clear(&m);
        return 0;
    }
    if (!m.from_addr || !strchr(m.from_addr, '@'))
        abort();
    if (m.text) {
        size_t n = strlen(m.text);
        if (n > SA_MIME_MAX_TEXT || sa_utf8_valid_prefix(m.text, n) != n)
            abort(); /* the text is UTF-8 within its cap */
        char out[256];
        size_t k = sa_mail_reply_text(m.text, out, sizeof out);
        if (k >= sizeof out || strlen(out) != k)
            abort();
    }
    if (m.subject && sa_utf8_valid_prefix(m.subject, strlen(m.subject)) != strlen(m.subject))
        abort();
    struct sa_bounce b;
    enum sa_inbound_kind kind = sa_mail_classify(&m, &b);
    if (kind == SA_INBOUND_BOUNCE && (memchr(b.recipient, '\0', sizeof b.recipient) == NULL ||
                                      memchr(b.status, '\0', sizeof b.status) == NULL ||
                                      memchr(b.diagnostic, '\0', sizeof b.diagnostic) == NULL))
        abort();
    sa_mime_clear(&m);
    return 0;
}
