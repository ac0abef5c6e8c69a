/* Path and query parameters: one rule per kind of value, shared by every route. Each
 * check either answers the request with a 422 naming the parameter (the one-value forms)
 * or appends to a detail list (the list forms), so handlers never repeat a rule. */
#ifndef SA_HTTP_PARAMS_H
#define SA_HTTP_PARAMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct sa_req;

#define SA_THREAD_ID_RULE "1-128 characters of letters, digits, - _ . :"

/* True when s[0..n) is a thread id: SA_THREAD_ID_RULE (SA_THREAD_ID_MAX, app/invoke.h).
 * The one rule for every thread id a client sends. */
bool sa_thread_id_valid(const char *s, size_t n);

/* Path parameter index i as a UUID, lowercased into out (37 bytes); false after
 * answering 422 at loc ("path.run_id"). */
bool sa_param_uuid(struct sa_req *r, int i, const char *loc, char out[37]);
/* Path parameter index i as a thread to read: a thread id, or a subgraph's checkpoint
 * namespace "THREAD|STEP:NODE" (graph.h) whose parts each follow the rule; false after
 * answering 422 at "path.thread_id". */
bool sa_param_thread_id(struct sa_req *r, int i);
/* Path parameter index i as an e-mail address; false after answering 422 at "path.email". */
bool sa_param_email(struct sa_req *r, int i);

/* Query integer name in [min, max], dflt when absent; a bad value adds an int_parsing
 * entry at "query.NAME" to detail and leaves dflt. */
void sa_query_long(struct sa_req *r, const char *name, long min, long max, long dflt, long *out,
                   json_t *detail);
/* Query value name that must be one of allowed (NULL-terminated); NULL when absent; a bad
 * value adds an enum entry at "query.NAME" listing the allowed values. */
const char *sa_query_enum(struct sa_req *r, const char *name, const char *const *allowed,
                          json_t *detail);
/* Body field thread_id of obj (may be absent or null: *out NULL); a bad one adds a
 * string_pattern_mismatch entry at "body.thread_id". *out borrows from obj. */
void sa_body_thread_id(const json_t *obj, const char **out, json_t *detail);
/* Body field lead_id of obj as a lowercased UUID in out ("" when absent or null); a bad
 * one adds a uuid_parsing entry at "body.lead_id". */
void sa_body_lead_id(const json_t *obj, char out[37], json_t *detail);

#endif
