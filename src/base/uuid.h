/* Random (version 4) UUIDs for record ids, and validation of ids from clients. */
#ifndef SA_BASE_UUID_H
#define SA_BASE_UUID_H

#include <stdbool.h>
#include <stddef.h>

#define SA_UUID_LEN 37 /* 36 characters and the NUL */

/* Writes a new lowercase v4 (random) UUID into out. Uses getrandom(2); thread-safe. */
void sa_uuid_v4(char out[SA_UUID_LEN]);

/* Writes a new lowercase v7 UUID (RFC 9562: 48-bit Unix milliseconds, then random bits)
 * into out. Record ids use v7: ids made later sort later, so a primary-key insert lands
 * on the right edge of the B-tree, the page the previous insert touched, instead of a
 * random page. Ids made by one process increase strictly, even within a millisecond.
 * Thread-safe. */
void sa_uuid_v7(char out[SA_UUID_LEN]);

/* True when s[0..len) is a UUID in canonical 8-4-4-4-12 hex form (any case). */
bool sa_uuid_valid(const char *s, size_t len);

/* Copies a valid UUID into out in lowercase (the stored form); returns out. */
char *sa_uuid_lower(const char *s, char out[SA_UUID_LEN]);

#endif
