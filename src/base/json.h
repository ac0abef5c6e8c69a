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

struct sa_buf;

/* Appends v as compact JSON to b: the same text as json_dumps(v, JSON_COMPACT |
 * JSON_ENCODE_ANY) but several times faster (no callbacks, no printf for integers); the
 * checkpoint writer runs it on every super-step. Returns 0 or the buffer's error. */
int sa_json_write(struct sa_buf *b, const json_t *v) SA_WUR;
/* The text of json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(precision))
 * (precision 0 means 17, as in jansson), byte for byte, written by sa_json_write's writer:
 * for the texts every request makes (a reply, a log line, an invocation's stored input and
 * output). Returns a NUL-terminated string the caller frees, its length in *len when len
 * is not NULL; NULL when out of memory. */
char *sa_json_dumps(const json_t *v, int precision, size_t *len);
/* Appends an integer in decimal. */
int sa_json_write_int(struct sa_buf *b, long long v) SA_WUR;
/* Appends s[0..len) as a JSON string literal (quoted, escaped). */
int sa_json_write_string(struct sa_buf *b, const char *s, size_t len) SA_WUR;

/* Borrowed string member of obj, or NULL when absent or not a string. */
const char *sa_json_str(const json_t *obj, const char *key);

#endif
