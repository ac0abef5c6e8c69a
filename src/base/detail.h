/* Validation error lists in FastAPI's 422 shape: [{"loc": [...], "msg": "...", "type": "..."}].
 * Modules that validate input append to a detail array; the HTTP layer sends it. */
#ifndef SA_BASE_DETAIL_H
#define SA_BASE_DETAIL_H

#include <jansson.h>
#include <stddef.h>

/* Appends {loc, msg, type} to detail (a JSON array). loc is a dotted path such as
 * "body.input.contact_info.email"; all-digit parts become array indices ("signals.3").
 * msg is printf-formatted. */
void sa_detail_add(json_t *detail, const char *loc, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Makes s valid UTF-8 in place: a character cut short at the end of s (by a byte-length
 * truncation) is dropped; any other byte that does not start or continue a well-formed
 * sequence becomes '?'. Text built by
 * truncating client input ("%.60s") MUST pass through this before it reaches jansson,
 * which refuses invalid UTF-8. Returns s. */
char *sa_utf8_sanitize(char *s);

/* The length in bytes of the longest prefix of s, at most max bytes, that does not end
 * inside a UTF-8 character: for quoting client text with "%.*s". */
int sa_utf8_cut(const char *s, int max);

/* Like sa_utf8_sanitize, but every invalid byte becomes '?', also at the end of s: for
 * text that was not cut by us (a CSV field in Latin-1 keeps its last letter). */
char *sa_utf8_sanitize_all(char *s);

/* Number of characters (Unicode code points) in the valid UTF-8 string s[0..len). */
size_t sa_utf8_chars(const char *s, size_t len);

#endif
