/* How an agent calls its model: the provider (llm/provider.h), the agent's own model
 * (LLM_MODEL_<AGENT>), the prices (DATA_DIR/llm_prices.json), the day's budget
 * (LLM_DAILY_BUDGET_USD) and the metrics. One per process, shared by the agents;
 * thread-safe. Without a provider every call fails at once with the reason
 * not_configured, and agents answer with their rules exactly as before. */
#ifndef SA_AGENTS_LLM_USE_H
#define SA_AGENTS_LLM_USE_H

#include <jansson.h>
#include <stdbool.h>

#include "agents/agent.h"
#include "base/err.h"
#include "llm/provider.h"

struct sa_metrics;
struct sa_llm_use;

struct sa_llm_use_config {
    struct sa_llm_provider *provider;   /* borrowed; NULL: no model */
    const char *models[SA_AGENT_COUNT]; /* per agent, NULL: the provider's */
    const json_t *prices;               /* {"models": {name: {input, output, cached_input}}}
                                         * USD per million tokens; borrowed, may be NULL */
    double daily_budget_usd;            /* 0: no budget */
    /* The day's spend shared by every instance (Redis), or NULL: this process's own. MUST
     * add add_usd to UTC day's total atomically and set *total_usd to the total after the
     * addition; returns 0, or an error. add_usd is a call's worst-case cost (a
     * reservation), its negative (the reservation given back when the total passed the
     * budget) or the actual cost minus the reservation (its settlement, either sign).
     * When reserving fails, this process counts alone for that call (its own spend, as
     * before Redis) and adds the actual cost afterwards; when giving back or settling
     * fails, the total stays as it was (too high after a failed give-back). */
    int (*shared_spend)(void *arg, long day, double add_usd, double *total_usd);
    void *shared_arg;
    struct sa_metrics *metrics; /* may be NULL */
};

/* SA_ECONFIG when a budget is set and a model the agents use has no price (its spend
 * could not be counted). */
int sa_llm_use_new(const struct sa_llm_use_config *cfg, struct sa_llm_use **out,
                   struct sa_err *err) SA_WUR;
void sa_llm_use_free(struct sa_llm_use *u);
/* A provider is configured (NULL-safe). */
bool sa_llm_use_enabled(const struct sa_llm_use *u);

/* One call for agent with the agent's model (req->model is set to it). With a budget, the
 * call's worst-case cost (req's prompt bytes / 3 as input tokens, req->max_tokens as
 * output, at the model's price) is reserved first: refused with reason budget
 * (SA_EPRECONDITION) when today's spend plus the calls in flight plus it would pass the
 * budget (every instance's, with shared_spend); after the call, success or not, the
 * reservation becomes the actual cost. Counted (requests, tokens, cost, seconds). Returns
 * as sa_llm_complete; res->failure says why it failed. */
int sa_llm_use_call(struct sa_llm_use *u, enum sa_agent_type agent, struct sa_llm_request *req,
                    struct sa_llm_result *res, struct sa_err *err) SA_WUR;

/* A fallback the agent decided itself (the answer broke a rule: an invented figure, a
 * foreign link): counted with the others. */
void sa_llm_use_count_fallback(struct sa_llm_use *u, enum sa_agent_type agent,
                               enum sa_llm_failure why);

/* Says on output which engine produced the part a model may write: with used, "engine":
 * "llm" and "llm": {provider, model, input_tokens, output_tokens, cached_tokens, cost_usd,
 * seconds}; else "engine": "rules" and "fallback_reason": why's name. Nothing without a
 * provider (the output stays what it was before models existed). */
void sa_llm_use_mark(const struct sa_llm_use *u, json_t *output, const struct sa_llm_result *res,
                     bool used, enum sa_llm_failure why);

/* A labelled block of data for a prompt (llm/prompt.h): value's strings capped at cap
 * bytes. grounds: what the block states may be cited (its numbers, addresses and links).
 * Free text anyone can write (notes, signals, messages) goes in a block that does not
 * ground: else an injected "score this lead 100" would make "100" a fact. */
struct sa_llm_block {
    const char *label;
    const json_t *value;
    size_t cap;
    bool grounds;
};

/* Whether an answer's names are checked (llm/prompt.h sa_llm_names_grounded): not for a
 * rep's narrative; for copy, as the copy's language writes names. */
enum sa_llm_use_names {
    SA_LLM_USE_NAMES_UNCHECKED,
    SA_LLM_USE_NAMES_COPY,    /* English and most languages */
    SA_LLM_USE_NAMES_COPY_DE, /* German: every noun is capitalised */
};

/* The names check for copy in language lang (ISO 639-1, "en" when NULL). */
enum sa_llm_use_names sa_llm_use_names_for(const char *lang);

/* Asks agent's model for one JSON object valid against schema (named schema_name), from
 * task (the system prompt, to which the data rule is added) and blocks (the inputs, as
 * data). Every string of the answer must state no number, address or link (and, as names
 * says, no name) that the grounding blocks do not hold (llm/prompt.h).
 * relay: the pieces go to this thread's stream (sa_llm_use_stream_to) as they arrive.
 * Returns 0 with res->json the answer (clear res with sa_llm_result_clear either way), or
 * a code with *why the reason (invalid_output for an ungrounded answer, counted). */
int sa_llm_use_ask(struct sa_llm_use *u, enum sa_agent_type agent, const char *task,
                   const struct sa_llm_block *blocks, size_t n, const json_t *schema,
                   const char *schema_name, enum sa_llm_use_names names, bool relay,
                   struct sa_llm_result *res, enum sa_llm_failure *why) SA_WUR;

/* Asks agent's model for a short narrative of what the rules computed: task (what to
 * write, the system prompt, to which the data rule is added), blocks (the inputs, as
 * data). The answer, {"narrative": at most max_chars characters}, is used only when it
 * states no number and no address that the grounding blocks do not hold (llm/prompt.h). Adds
 * "narrative" to out and marks the engine (sa_llm_use_mark), or marks the fallback; out
 * is otherwise unchanged. Does nothing without a provider. */
void sa_llm_use_narrative(struct sa_llm_use *u, enum sa_agent_type agent, const char *task,
                          const struct sa_llm_block *blocks, size_t n, int max_chars, json_t *out);

/* What a streamed answer became once it was checked: used, or dropped for the rules'
 * with reason (a failure's name). */
typedef void (*sa_llm_end_fn)(void *arg, bool used, const char *reason);

/* Streams the rep-facing answers (narratives) this thread asks for from now on: each piece
 * goes to fn(arg, text, len) as it arrives, and end(arg, used, reason) says afterwards
 * whether the checked answer was used, so a stream reader can discard what it showed. The
 * pipeline relays them as "messages" events while a node runs. Copy meant for a prospect
 * (an e-mail, a reply) is never relayed before it is checked. NULL fn stops. Per thread,
 * so parallel nodes relay their own. */
void sa_llm_use_stream_to(sa_llm_text_fn fn, sa_llm_end_fn end, void *arg);

/* The cost of res's usage in USD at the price of the model the call asked for (else of
 * the name the vendor answered with); -1 when neither has a price. */
double sa_llm_use_cost(const struct sa_llm_use *u, const struct sa_llm_result *res);

#endif
