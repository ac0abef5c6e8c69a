/* Fuzz driver for the parsers of what prospects send: the time named in a reply
 * (sa_when_parse, domain/when.h) and an RSVP's iCalendar REPLY (sa_ics_reply_parse). A
 * found time MUST be a real calendar date with a minute of the day (a date with an
 * explicit past year may lie before today); a parsed reply MUST give a NUL-terminated UID and one
 * of the three answers. Never a crash, a hang or a leak. Built like fuzz_invoke_body (see
 * tests/CMakeLists.txt). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connectors/calendar/calendar.h"
#include "domain/when.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    static const struct sa_when_today today = {2026, 12, 2, 2, 630};
    struct sa_when w;
    if (sa_when_parse(text, &today, &w)) {
        struct tm tm = {.tm_year = w.year - 1900, .tm_mon = w.month - 1, .tm_mday = w.day};
        time_t t = timegm(&tm);
        struct tm back;
        if (w.month < 1 || w.month > 12 || w.day < 1 || w.minute < 0 || w.minute >= 24 * 60 ||
            !gmtime_r(&t, &back) || back.tm_mday != w.day || back.tm_mon != w.month - 1 ||
            !memchr(w.zone, '\0', sizeof w.zone))
            abort();
    }
    char uid[256], partstat[16];
    struct sa_err err = {0};
    if (sa_ics_reply_parse((const char *)data, size, uid, sizeof uid, partstat, &err) == 0 &&
        (!memchr(uid, '\0', sizeof uid) ||
         (strcmp(partstat, "ACCEPTED") != 0 && strcmp(partstat, "DECLINED") != 0 &&
          strcmp(partstat, "TENTATIVE") != 0)))
        abort();
    free(text);
    return 0;
}
