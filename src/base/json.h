/* JSON helpers over jansson: guarded parsing of untrusted bodies and loading of data files. */
#ifndef SA_BASE_JSON_H
#define SA_BASE_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

/* Default nesting limit for request bodies: deeper documents are refused before parsing. */
#define SA_JSON_MAX_DEPTH 32

/* Returns the maximum nesting depth of the JSON text p[0..len) (objects and arrays,
 * brackets inside strings ignored), stopping early once it passes limit. Linear and
 * allocation-free: it guards the recursive parser against deep documents. */
int sa_json_depth(const char *p, size_t len, int limit);

/* Parses an untrusted JSON body. On success returns 0 and *out (caller owns it).
 * On failure returns SA_EINVAL with err->msg saying what is wrong and *pos the byte
 * offset (or -1): syntax, invalid UTF-8, NUL bytes, duplicate keys, nesting > max_depth. */
int sa_json_parse_body(const char *p, size_t len, int max_depth, json_t **out, long *pos,
                       struct sa_err *err) SA_WUR;

/* Loads a JSON data file. Returns 0 and *out (caller owns it), or SA_ECONFIG with
 * err naming the file, line and column. */
int sa_json_load_file(const char *path, json_t **out, struct sa_err *err) SA_WUR;

/* Borrowed string member of obj, or NULL when absent or not a string. */
const char *sa_json_str(const json_t *obj, const char *key);

#endif
