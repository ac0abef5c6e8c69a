/* A scriptable fake LLM vendor for tests: an HTTP server on 127.0.0.1 (a free port) in a
 * thread of the test process, speaking the OpenAI Chat Completions or the Anthropic
 * Messages wire format (wire-formats.md §3, §4). It checks every request against the
 * documented format, records it, and answers with the replies a test queued, or with a
 * default valid answer when none is queued. Unit tests call the client against it; the
 * integration tests point the sales-agent binary at it (LLM_BASE_URL=fake_llm_base_url).
 * Tests MUST assert fake_llm_invalid() == 0: a malformed request is a client bug. */
#ifndef SA_TESTS_FAKE_LLM_H
#define SA_TESTS_FAKE_LLM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fake_wire {
    FAKE_OPENAI,    /* POST /v1/chat/completions */
    FAKE_ANTHROPIC, /* POST /v1/messages */
};

/* One scripted answer. Everything is copied by fake_llm_push. */
struct fake_reply {
    int status;                 /* 0: 200 */
    const char *const *headers; /* extra "Name: value" headers, NULL-terminated, or NULL */
    const char *body;           /* the whole body (application/json) */
    /* or raw event-stream pieces (text/event-stream), NULL-terminated: each is written and
     * flushed on its own, gap_ms apart, so a test splits JSON and UTF-8 where it likes */
    const char *const *chunks;
    int gap_ms;  /* between chunks; 0: 5 */
    int hang_ms; /* wait this long before answering */
    /* close the connection: with chunks, after them (a stream cut short); else at once,
     * before any answer */
    bool drop;
    /* neither body nor chunks (nor drop): the default answer, with status and headers */
    /* only for a request whose schema is named so (OpenAI's response_format.json_schema
     * name, Anthropic's forced tool): the first queued reply that fits is taken, so
     * concurrent agents each get theirs. NULL: any request. */
    const char *for_schema;
};

struct fake_llm;

/* Starts a fake speaking wire; NULL when it cannot listen. */
struct fake_llm *fake_llm_start(enum fake_wire wire);
/* Stops it (a hanging answer is cut short) and frees it. NULL is fine. */
void fake_llm_stop(struct fake_llm *f);
int fake_llm_port(const struct fake_llm *f);
/* The base URL a client is given: http://127.0.0.1:PORT/v1 (OpenAI) or
 * http://127.0.0.1:PORT (Anthropic). Owned by the fake. */
const char *fake_llm_base_url(const struct fake_llm *f);
/* The API key requests must carry (Authorization: Bearer KEY, or x-api-key: KEY); NULL
 * (the default): requests MUST carry none. Copied. */
void fake_llm_expect_key(struct fake_llm *f, const char *key);
/* Queues a reply (first in, first out). */
void fake_llm_push(struct fake_llm *f, const struct fake_reply *r);
/* Requests received so far (valid or not). */
size_t fake_llm_requests(struct fake_llm *f);
/* When piece `chunk` (0 is the first) of the streamed reply to request `request`
 * (fake_llm_request's numbering) was written whole: CLOCK_MONOTONIC nanoseconds, taken as
 * its last byte is handed to libmicrohttpd, which sends it right after. 0 when that piece
 * has not been written (yet), or the request got no such piece. */
uint64_t fake_llm_chunk_written_ns(struct fake_llm *f, size_t request, size_t chunk);
/* Request i's body (borrowed; valid until fake_llm_stop), or NULL. */
json_t *fake_llm_request(struct fake_llm *f, size_t i);
/* How many requests broke the wire format; *first (when non-NULL) gets the first reason
 * (borrowed; valid until fake_llm_stop), or "" when none did. */
size_t fake_llm_invalid(struct fake_llm *f, const char **first);

/* Bodies for replies; each returns a string the caller frees. */
/* A chat.completion answer. */
char *fake_openai_answer(const char *model, const char *content, long prompt_tokens,
                         long completion_tokens, long cached_tokens);
/* A chat.completion.chunk stream of the pieces (NULL-terminated), finish "stop", with a
 * usage chunk (choices: []) when usage, then data: [DONE]. */
char *fake_openai_stream(const char *model, const char *const *pieces, bool usage);
/* An Anthropic message answering text. */
char *fake_anthropic_text(const char *model, const char *text, long input_tokens,
                          long output_tokens);
/* An Anthropic message calling tool name with input (stop_reason tool_use). */
char *fake_anthropic_tool(const char *model, const char *name, const json_t *input,
                          long input_tokens, long output_tokens);
/* An Anthropic event stream: text pieces in one text block, or (tool non-NULL) the pieces
 * as one tool_use block's partial_json; message_delta with stop_reason end_turn or
 * tool_use and output_tokens, then message_stop. */
char *fake_anthropic_stream(const char *model, const char *tool, const char *const *pieces,
                            long input_tokens, long output_tokens);

#endif
