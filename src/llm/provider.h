/* The LLM strategy: one call to a model, whatever its vendor. A provider is a struct that
 * embeds struct sa_llm_provider first and exports its ops; one implementation per wire
 * format (openai.c: the OpenAI-compatible Chat Completions that OpenAI, Cerebras, Groq,
 * vLLM and Ollama speak; anthropic.c: Anthropic's Messages API). sa_llm_open (llm.c)
 * picks one from a preset name. Agents get a provider through struct sa_agent_deps and
 * keep their deterministic engine as the fallback: a failed call is an error with a
 * reason (enum sa_llm_failure), never a worse answer.
 *
 * Every call has a deadline (the request's timeout_ms, retries and their waits included),
 * retries what the vendors say to retry (http.c: 408, 409, 429, 5xx, 529, honouring
 * retry-after-ms / retry-after, never a quota or spend-limit refusal), and is refused at
 * once while the provider's circuit breaker is open. Thread-safe: requests call it
 * concurrently; connections are reused across calls (one curl share handle). */
#ifndef SA_LLM_PROVIDER_H
#define SA_LLM_PROVIDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

struct sa_breaker;
struct sa_llm_http;

enum sa_llm_role { SA_LLM_USER, SA_LLM_ASSISTANT };

struct sa_llm_message {
    enum sa_llm_role role;
    const char *content; /* borrowed */
};

/* Called with each piece of the answer's text as it arrives from the provider (a
 * streamed call); for a structured answer, the pieces of its JSON. Returns 0 to go on;
 * anything else stops the call (SA_ECANCELED). */
typedef int (*sa_llm_text_fn)(void *arg, const char *text, size_t len);

/* One call; everything is borrowed for the call's duration. */
struct sa_llm_request {
    const char *model;  /* NULL: the provider's configured model */
    const char *system; /* the instructions, or NULL */
    const struct sa_llm_message *messages;
    size_t nmessages; /* at least one; the first is the user's */
    /* Structured output: the answer is one JSON object valid against schema (a JSON Schema
     * of type object), named schema_name ([A-Za-z0-9_-], at most 64). NULL: free text. */
    const json_t *schema;
    const char *schema_name;
    int max_tokens;     /* 0: 1024 */
    double temperature; /* < 0: the provider's default */
    int timeout_ms;     /* the whole call's deadline; 0: the provider's (LLM_TIMEOUT_MS) */
    sa_llm_text_fn on_text; /* non-NULL: stream the answer, calling this per piece */
    void *on_text_arg;
};

enum sa_llm_finish {
    SA_LLM_FINISH_STOP,   /* the model ended its answer */
    SA_LLM_FINISH_LENGTH, /* max_tokens cut it */
    SA_LLM_FINISH_TOOL,   /* a tool call (the structured answer, on Anthropic) */
    SA_LLM_FINISH_FILTER, /* a content filter or a refusal */
    SA_LLM_FINISH_OTHER,
};

/* Why a call gave no usable answer: the agents' fallback reason ("rules" with this). */
#define SA_LLM_FAILURE_MAP(X)                                                                      \
    X(NONE, "none")                                                                                \
    X(NOT_CONFIGURED, "not_configured")                                                            \
    X(TIMEOUT, "timeout")                                                                          \
    X(BREAKER_OPEN, "breaker_open")                                                                \
    X(RATE_LIMITED, "rate_limited")                                                                \
    X(QUOTA, "quota")                                                                              \
    X(SERVER_ERROR, "server_error")                                                                \
    X(REQUEST_REFUSED, "request_refused")                                                          \
    X(TRANSPORT, "transport")                                                                      \
    X(INVALID_OUTPUT, "invalid_output")                                                            \
    X(BUDGET, "budget")                                                                            \
    X(CANCELED, "canceled")

enum sa_llm_failure {
#define SA_LLM_FAILURE_ENUM(name, text) SA_LLM_FAIL_##name,
    SA_LLM_FAILURE_MAP(SA_LLM_FAILURE_ENUM)
#undef SA_LLM_FAILURE_ENUM
};

/* The failure's stable name ("timeout"), for outputs, logs and metrics labels. */
const char *sa_llm_failure_name(enum sa_llm_failure f);

struct sa_llm_usage {
    long input_tokens;  /* prompt tokens, cached ones included */
    long output_tokens; /* completion tokens */
    long cached_tokens; /* of the input, read from the provider's prompt cache */
};

/* A call's outcome. Cleared by the call on entry; free with sa_llm_result_clear. */
struct sa_llm_result {
    char *text;   /* the answer's text (owned, NUL-terminated), or NULL */
    json_t *json; /* with a schema: the answer object (owned), valid against it */
    enum sa_llm_finish finish;
    struct sa_llm_usage usage;
    char model[128]; /* the model that answered, as the provider named it */
    char asked_model[128]; /* the model the call asked for (agents/llm_use.c prices it) */
    int attempts;    /* HTTP requests made (1 + retries) */
    double seconds;  /* the whole call, waits included */
    double first_token_seconds; /* a streamed call: until the first piece; else seconds */
    enum sa_llm_failure failure; /* on error: why (SA_LLM_FAIL_NONE on success) */
    int http_status;             /* the last response's status, or 0 */
    bool refused_early;          /* refused before the breaker was asked (a bad request) */
};

void sa_llm_result_clear(struct sa_llm_result *r);

struct sa_llm_provider;

struct sa_llm_provider_ops {
    const char *wire; /* "openai" or "anthropic" */
    /* Makes one call (with its retries) and fills res. Returns 0 with res->text (and
     * res->json with a schema), or a negative code with err and res->failure set:
     * SA_ETIMEDOUT past the deadline, SA_EPRECONDITION while the breaker is open,
     * SA_EINVAL for an answer that is not valid against the schema, SA_EIO otherwise.
     * Required. */
    int (*complete)(struct sa_llm_provider *p, const struct sa_llm_request *req,
                    struct sa_llm_result *res, struct sa_err *err);
    /* Frees the provider. Optional. */
    void (*destroy)(struct sa_llm_provider *p);
};

/* What a provider is opened from (the LLM_* settings, resolved by sa_llm_open). */
struct sa_llm_config {
    const char *preset;   /* openai, anthropic, cerebras, groq, vllm, ollama */
    const char *base_url; /* NULL: the preset's; OpenAI-compatible URLs end in /v1 */
    const char *api_key;  /* NULL or "": none sent (vLLM, Ollama) */
    const char *model;    /* required */
    int timeout_ms;       /* the default deadline of a call; 0: 30000 */
    int max_retries;      /* after the first attempt; < 0: 2 (the vendors' SDKs) */
    int max_retry_wait_ms; /* the longest retry-after honoured; 0: 120000 (SDKs: 120 s) */
    int breaker_failures;  /* consecutive failed calls that open the breaker; 0: 5 */
    double breaker_open_seconds; /* 0: 30 */
};

/* The preset's known capabilities, from the vendors' documents (wire-formats.md §3). */
enum sa_llm_structured {
    SA_LLM_JSON_SCHEMA_STRICT, /* response_format json_schema with strict: true */
    SA_LLM_JSON_SCHEMA,        /* json_schema accepted, strictness not enforced */
    SA_LLM_JSON_OBJECT,        /* JSON mode only: the schema goes in the prompt */
    SA_LLM_TOOL_INPUT,         /* Anthropic: one forced tool whose input_schema it is */
};

struct sa_llm_provider {
    const struct sa_llm_provider_ops *ops;
    char preset[16];
    char model[128];
    char base_url[512]; /* without a trailing slash */
    char *api_key;      /* owned, or NULL: none sent; never logged */
    enum sa_llm_structured structured;
    bool include_usage; /* OpenAI-compatible: stream_options.include_usage is accepted */
    int timeout_ms;
    struct sa_llm_http *http;   /* the transport with its retry policy (http.h) */
    struct sa_breaker *breaker; /* owned */
};

/* Opens the provider cfg names. SA_ECONFIG for an unknown preset or a missing model. */
int sa_llm_open(const struct sa_llm_config *cfg, struct sa_llm_provider **out,
                struct sa_err *err) SA_WUR;
/* Frees p (NULL is fine). */
void sa_llm_close(struct sa_llm_provider *p);

/* The wrappers every caller uses. */
static inline SA_WUR int sa_llm_complete(struct sa_llm_provider *p,
                                         const struct sa_llm_request *req,
                                         struct sa_llm_result *res, struct sa_err *err)
{
    return p->ops->complete(p, req, res, err);
}
static inline const char *sa_llm_wire(const struct sa_llm_provider *p)
{
    return p->ops->wire;
}

/* The presets' wire formats: openai.c and anthropic.c. */
extern const struct sa_llm_provider_ops sa_llm_openai_ops;
extern const struct sa_llm_provider_ops sa_llm_anthropic_ops;

#endif
