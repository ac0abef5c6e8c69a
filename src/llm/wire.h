/* What every wire format's complete() shares (llm.c): the call's frame (the breaker, the
 * deadline, the timing) and the structured answer's check. Only openai.c and anthropic.c
 * include it. */
#ifndef SA_LLM_WIRE_H
#define SA_LLM_WIRE_H

#include <stdint.h>

#include "llm/http.h"
#include "llm/provider.h"

/* Starts a call: clears res, refuses it while the breaker is open (SA_EPRECONDITION,
 * failure breaker_open) and sets *deadline_ns from the request's or the provider's
 * timeout. *t0 is the call's start (sa_now_ns). */
int sa_llm_call_begin(struct sa_llm_provider *p, const struct sa_llm_request *req,
                      struct sa_llm_result *res, uint64_t *t0, uint64_t *deadline_ns,
                      struct sa_err *err) SA_WUR;
/* Ends a call that returns rc: records the outcome on the breaker (an answer, even an
 * invalid one, is the provider working; a timeout, a transport failure, a 429 or a 5xx is
 * not), fills res->seconds (and first_token_seconds when no piece was streamed), and
 * returns rc. */
int sa_llm_call_end(struct sa_llm_provider *p, struct sa_llm_result *res, uint64_t t0, int rc);
/* With a schema: parses res->text as the answer object into res->json and checks it
 * (schema.h). SA_EINVAL with failure invalid_output when it is not valid JSON or not
 * valid against the schema. Without one: 0. */
int sa_llm_take_json(const struct sa_llm_request *req, struct sa_llm_result *res,
                     struct sa_err *err) SA_WUR;
/* The request's max_tokens, or the default (1024). */
int sa_llm_max_tokens(const struct sa_llm_request *req);

/* The vendor's error word (error.code, else error.type: "insufficient_quota",
 * "overloaded_error") into out when it is a plain word ([a-z0-9_.-], 48 bytes at most),
 * else "": never the vendor's message. */
void sa_llm_error_word(const json_t *error, char *out, size_t cap);
/* A refused or failed answer of wire ("openai"): a short classification in err, never the
 * vendor's message. rc: sa_llm_http_post's; returns the code complete() returns. */
int sa_llm_answer_failed(const char *wire, const struct sa_llm_reply *reply, int rc,
                         struct sa_err *err);

#endif
