/* Presets, opening a provider, and the frame every call runs in (wire.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "llm/http.h"
#include "llm/provider.h"
#include "llm/schema.h"
#include "llm/wire.h"
#include "resilience/breaker.h"

static const char *const failure_names[] = {
#define SA_LLM_FAILURE_NAME(name, text) text,
    SA_LLM_FAILURE_MAP(SA_LLM_FAILURE_NAME)
#undef SA_LLM_FAILURE_NAME
};

const char *sa_llm_failure_name(enum sa_llm_failure f)
{
    size_t n = sizeof failure_names / sizeof failure_names[0];
    return (size_t)f < n ? failure_names[f] : "unknown";
}

void sa_llm_result_clear(struct sa_llm_result *r)
{
    free(r->text);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* The presets (wire-formats.md §3 and §4): where each vendor is, which wire format it
 * speaks and how much of structured output it enforces. */
static const struct preset {
    const char *name;
    const struct sa_llm_provider_ops *ops;
    const char *base_url;
    enum sa_llm_structured structured;
    bool include_usage;
} presets[] = {
    {"openai", &sa_llm_openai_ops, "https://api.openai.com/v1", SA_LLM_JSON_SCHEMA_STRICT, true},
    {"cerebras", &sa_llm_openai_ops, "https://api.cerebras.ai/v1", SA_LLM_JSON_SCHEMA_STRICT,
     true},
    /* Groq enforces a schema on select models only: JSON mode, the schema in the prompt */
    {"groq", &sa_llm_openai_ops, "https://api.groq.com/openai/v1", SA_LLM_JSON_OBJECT, false},
    {"vllm", &sa_llm_openai_ops, "http://127.0.0.1:8000/v1", SA_LLM_JSON_SCHEMA, true},
    /* Ollama reads json_schema.schema and ignores name and strict */
    {"ollama", &sa_llm_openai_ops, "http://127.0.0.1:11434/v1", SA_LLM_JSON_SCHEMA, true},
    {"anthropic", &sa_llm_anthropic_ops, "https://api.anthropic.com", SA_LLM_TOOL_INPUT, false},
};

int sa_llm_open(const struct sa_llm_config *cfg, struct sa_llm_provider **out, struct sa_err *err)
{
    *out = NULL;
    const struct preset *pr = NULL;
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (cfg->preset && strcmp(cfg->preset, presets[i].name) == 0)
            pr = &presets[i];
    if (!pr)
        return sa_err_set(err, SA_ECONFIG,
                          "LLM_PROVIDER: unknown provider \"%s\" (none, openai, anthropic, "
                          "cerebras, groq, vllm or ollama)",
                          cfg->preset ? cfg->preset : "");
    if (!cfg->model || !*cfg->model)
        return sa_err_set(err, SA_ECONFIG, "LLM_MODEL: required with LLM_PROVIDER=%s", pr->name);
    const char *url = cfg->base_url && *cfg->base_url ? cfg->base_url : pr->base_url;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return sa_err_set(err, SA_ECONFIG, "LLM_BASE_URL: not an http:// or https:// URL");
    struct sa_llm_provider *p = calloc(1, sizeof *p);
    struct sa_breaker *b = calloc(1, sizeof *b);
    if (!p || !b) {
        free(p);
        free(b);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    p->ops = pr->ops;
    snprintf(p->preset, sizeof p->preset, "%s", pr->name);
    snprintf(p->model, sizeof p->model, "%s", cfg->model);
    snprintf(p->base_url, sizeof p->base_url, "%s", url);
    size_t n = strlen(p->base_url);
    while (n && p->base_url[n - 1] == '/')
        p->base_url[--n] = '\0';
    p->structured = pr->structured;
    p->include_usage = pr->include_usage;
    p->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000;
    if (cfg->api_key && *cfg->api_key && !(p->api_key = strdup(cfg->api_key))) {
        sa_llm_close(p);
        free(b);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    struct sa_breaker_config bc = {.failure_threshold = cfg->breaker_failures,
                                   .open_seconds = cfg->breaker_open_seconds};
    char name[48];
    snprintf(name, sizeof name, "llm:%s", pr->name);
    sa_breaker_init(b, name, &bc);
    p->breaker = b;
    struct sa_llm_http_config hc = {.max_retries = cfg->max_retries,
                                    .max_retry_wait_ms = cfg->max_retry_wait_ms};
    int rc = sa_llm_http_new(&hc, &p->http, err);
    if (rc) {
        sa_llm_close(p);
        return rc;
    }
    *out = p;
    return 0;
}

void sa_llm_close(struct sa_llm_provider *p)
{
    if (!p)
        return;
    if (p->ops->destroy)
        p->ops->destroy(p);
    sa_llm_http_free(p->http);
    if (p->breaker) {
        sa_breaker_destroy(p->breaker);
        free(p->breaker);
    }
    if (p->api_key) {
        memset(p->api_key, 0, strlen(p->api_key));
        free(p->api_key);
    }
    free(p);
}

int sa_llm_call_begin(struct sa_llm_provider *p, const struct sa_llm_request *req,
                      struct sa_llm_result *res, uint64_t *t0, uint64_t *deadline_ns,
                      struct sa_err *err)
{
    memset(res, 0, sizeof *res);
    *t0 = sa_now_ns();
    int ms = req->timeout_ms > 0 ? req->timeout_ms : p->timeout_ms;
    *deadline_ns = *t0 + (uint64_t)ms * 1000000u;
    if (!req->nmessages || !req->messages) {
        res->failure = SA_LLM_FAIL_REQUEST_REFUSED;
        res->refused_early = true; /* no probe reserved: the breaker hears nothing */
        return sa_err_set(err, SA_EINVAL, "llm: a call needs a message");
    }
    if (!sa_breaker_allow(p->breaker)) {
        res->failure = SA_LLM_FAIL_BREAKER_OPEN;
        return sa_err_set(err, SA_EPRECONDITION, "llm: %s's circuit breaker is open", p->preset);
    }
    return 0;
}

int sa_llm_call_end(struct sa_llm_provider *p, struct sa_llm_result *res, uint64_t t0, int rc)
{
    if (res->failure != SA_LLM_FAIL_BREAKER_OPEN && !res->refused_early) {
        enum sa_llm_failure f = res->failure;
        bool down = rc && (f == SA_LLM_FAIL_TIMEOUT || f == SA_LLM_FAIL_TRANSPORT ||
                           f == SA_LLM_FAIL_RATE_LIMITED || f == SA_LLM_FAIL_SERVER_ERROR);
        sa_breaker_record(p->breaker, !down);
    }
    res->seconds = (double)(sa_now_ns() - t0) / 1e9;
    if (res->first_token_seconds <= 0)
        res->first_token_seconds = res->seconds;
    if (!res->model[0])
        snprintf(res->model, sizeof res->model, "%s", p->model);
    return rc;
}

int sa_llm_take_json(const struct sa_llm_request *req, struct sa_llm_result *res,
                     struct sa_err *err)
{
    if (!req->schema)
        return 0;
    json_error_t je;
    json_decref(res->json);
    res->json = res->text ? json_loads(res->text, JSON_REJECT_DUPLICATES, &je) : NULL;
    int rc = 0;
    if (!json_is_object(res->json))
        rc = sa_err_set(err, SA_EINVAL, "llm: the answer is not a JSON object");
    else
        rc = sa_llm_schema_check(req->schema, res->json, err);
    if (rc) {
        json_decref(res->json);
        res->json = NULL;
        res->failure = SA_LLM_FAIL_INVALID_OUTPUT;
    }
    return rc;
}

int sa_llm_max_tokens(const struct sa_llm_request *req)
{
    return req->max_tokens > 0 ? req->max_tokens : 1024;
}

void sa_llm_error_word(const json_t *error, char *out, size_t cap)
{
    out[0] = '\0';
    const char *w = json_string_value(json_object_get(error, "code"));
    if (!w || !*w)
        w = json_string_value(json_object_get(error, "type"));
    if (!w)
        return;
    size_t n = 0;
    for (; w[n] && n < cap - 1 && n < 48; n++) {
        char c = w[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            break;
        out[n] = c;
    }
    out[w[n] ? 0 : n] = '\0';
}

int sa_llm_answer_failed(const char *wire, const struct sa_llm_reply *reply, int rc,
                         struct sa_err *err)
{
    if (rc == SA_ETOOBIG) /* an answer or an event past the caps (http.h, sse.h) */
        return sa_err_set(err, SA_EIO, "llm: %s's answer is over the size cap", wire);
    if (rc != SA_EIO || !reply->status || reply->streamed)
        return rc;
    json_t *v = json_loadb(reply->body ? reply->body : "", reply->len, 0, NULL);
    char word[64];
    sa_llm_error_word(json_object_get(v, "error"), word, sizeof word);
    json_decref(v);
    if (*word)
        return sa_err_set(err, SA_EIO, "llm: %s answered %d (%s)", wire, reply->status, word);
    return sa_err_set(err, SA_EIO, "llm: %s answered %d", wire, reply->status);
}
