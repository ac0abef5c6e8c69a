/* Fuzz driver for reading e-mail replies (domain/reply.h): cleaning, normalising, language,
 * lexicons, return dates and referrals on arbitrary bytes. The cleaned text MUST fit its
 * buffer with its length reported right, normalised text MUST be space-delimited, a return
 * date MUST be "YYYY-MM-DD" or "", and the referral fields MUST be NUL-terminated inside
 * their buffers. Never a crash, a
 * hang or a leak. Built like fuzz_invoke_body (see tests/CMakeLists.txt). */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    static const size_t caps[] = {1, 7, 64, 4096};
    for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
        char *out = malloc(caps[k]);
        if (!out)
            break;
        size_t n = sa_reply_clean(text, out, caps[k]);
        if (n >= caps[k] || strlen(out) != n)
            abort(); /* the cleaned text overflows its buffer or misreports its length */
        free(out);
    }
    size_t len = strlen(text);
    char *norm = malloc(2 * len + 3);
    if (norm) {
        size_t n = sa_reply_normalise(text, norm);
        if (n != strlen(norm) || norm[0] != ' ' || (n > 1 && norm[n - 1] != ' '))
            abort(); /* normalised text is always space-delimited */
        (void)sa_reply_is_unsubscribe(norm);
        (void)sa_reply_is_out_of_office(norm);
        (void)sa_reply_mentions_security(norm);
        (void)sa_reply_mentions_integration(norm);
        free(norm);
    }
    const char *lang = sa_reply_language(text);
    if (strlen(lang) != 0 && strlen(lang) != 2)
        abort();
    char date[11];
    bool found = sa_reply_return_date(text, (time_t)1796205600, date);
    if (found != (date[0] != '\0') ||
        (found && (strlen(date) != 10 || date[4] != '-' || date[7] != '-' ||
                   !isdigit((unsigned char)date[0]))))
        abort(); /* a return date is YYYY-MM-DD or nothing */
    char name[96], email[256];
    (void)sa_reply_referral(text, name, email);
    if (strnlen(name, sizeof name) == sizeof name || strnlen(email, sizeof email) == sizeof email)
        abort();
    free(text);
    return 0;
}
