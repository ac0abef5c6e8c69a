/* Fuzz driver for the sending policy's two parsers: the input, cut at its first NUL, is
 * parsed as a SEND_WINDOW (and, when it parses, asked for the next instant in a fixed
 * zone-less clock) and verified as an unsubscribe token, then a token is made for it as
 * an address and must verify back to it. Any input must give an answer, never a crash, a
 * hang, a leak or an out-of-bounds read. Built like fuzz_invoke_body (see
 * tests/CMakeLists.txt). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/unsubscribe.h"
#include "domain/send_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "fuzz-secret-of-thirty-two-bytes!"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    struct sa_send_window w;
    struct sa_err err = {0};
    if (sa_send_window_parse(s, &w, &err) == 0) {
        time_t out = 0;
        if (sa_send_window_next(&w, NULL, NULL, 1764670000, &out) || out < 1764670000 ||
            out > 1764670000 + 9 * 86400)
            abort(); /* a parsed window opens within the week */
    }
    char email[SA_UNSUB_EMAIL_MAX + 1], tok[SA_UNSUB_TOKEN_MAX];
    (void)!sa_unsub_verify(SECRET, 32, s, email);
    if (sa_unsub_token(SECRET, 32, s, tok) == 0) {
        if (sa_unsub_verify(SECRET, 32, tok, email) || strcmp(email, s) != 0)
            abort(); /* every token made verifies to its address */
    }
    free(s);
    return 0;
}
