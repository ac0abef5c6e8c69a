/* The OpenAI-compatible wire format (wire-formats.md §3): Chat Completions as OpenAI,
 * Cerebras, Groq, vLLM and Ollama speak it, whole or streamed, with the structured answer
 * asked for through response_format as far as the preset enforces it. llm.c's presets
 * point here; agents reach it through sa_llm_complete. */
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "llm/http.h"
#include "llm/provider.h"
#include "llm/wire.h"

#define SCHEMA_PROMPT "Answer with one JSON object valid against this JSON Schema: "

/* The system prompt: the request's, and in JSON mode the schema after it. Returns a new
 * string, or NULL when there is no system prompt (or out of memory: *oom). */
static char *system_prompt(const struct sa_llm_provider *p, const struct sa_llm_request *req,
                           bool *oom)
{
    *oom = false;
    bool in_prompt = req->schema && p->structured == SA_LLM_JSON_OBJECT;
    if (!in_prompt)
        return req->system ? strdup(req->system) : NULL;
    char *schema = json_dumps(req->schema, JSON_COMPACT | JSON_SORT_KEYS);
    struct sa_buf b;
    sa_buf_init(&b, (size_t)1 << 24);
    int rc = schema ? 0 : SA_ENOMEM;
    if (!rc && req->system)
        rc = sa_buf_printf(&b, "%s\n\n", req->system);
    if (!rc)
        rc = sa_buf_printf(&b, SCHEMA_PROMPT "%s", schema);
    free(schema);
    if (rc) {
        sa_buf_free(&b);
        *oom = true;
        return NULL;
    }
    return sa_buf_steal(&b, NULL);
}

static json_t *response_format(const struct sa_llm_provider *p, const struct sa_llm_request *req)
{
    if (p->structured == SA_LLM_JSON_OBJECT)
        return json_pack("{s:s}", "type", "json_object");
    const char *name = req->schema_name && *req->schema_name ? req->schema_name : "answer";
    return json_pack("{s:s, s:{s:s, s:O, s:b}}", "type", "json_schema", "json_schema", "name", name,
                     "schema", req->schema, "strict", p->structured == SA_LLM_JSON_SCHEMA_STRICT);
}

/* The request body, or NULL when out of memory. */
static json_t *request_body(const struct sa_llm_provider *p, const struct sa_llm_request *req)
{
    bool oom = false;
    char *system = system_prompt(p, req, &oom);
    json_t *msgs = json_array();
    json_t *body = json_pack("{s:s, s:o, s:i}", "model", req->model ? req->model : p->model,
                             "messages", msgs, "max_completion_tokens", sa_llm_max_tokens(req));
    if (oom || !body)
        goto fail;
    if (system &&
        json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system", "content", system)))
        goto fail;
    for (size_t i = 0; i < req->nmessages; i++) {
        const struct sa_llm_message *m = &req->messages[i];
        const char *role = m->role == SA_LLM_ASSISTANT ? "assistant" : "user";
        if (json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", role, "content",
                                                  m->content ? m->content : "")))
            goto fail;
    }
    if (req->temperature >= 0 &&
        json_object_set_new(body, "temperature", json_real(req->temperature)))
        goto fail;
    if (req->schema && json_object_set_new(body, "response_format", response_format(p, req)))
        goto fail;
    if (req->on_text) {
        if (json_object_set_new(body, "stream", json_true()))
            goto fail;
        if (p->include_usage &&
            json_object_set_new(body, "stream_options", json_pack("{s:b}", "include_usage", 1)))
            goto fail;
    }
    free(system);
    return body;
fail:
    free(system);
    json_decref(body);
    return NULL;
}

static enum sa_llm_finish finish_of(const char *s)
{
    if (!s)
        return SA_LLM_FINISH_OTHER;
    if (strcmp(s, "stop") == 0)
        return SA_LLM_FINISH_STOP;
    if (strcmp(s, "length") == 0)
        return SA_LLM_FINISH_LENGTH;
    if (strcmp(s, "tool_calls") == 0 || strcmp(s, "function_call") == 0)
        return SA_LLM_FINISH_TOOL;
    if (strcmp(s, "content_filter") == 0)
        return SA_LLM_FINISH_FILTER;
    return SA_LLM_FINISH_OTHER;
}

static void take_usage(const json_t *usage, struct sa_llm_usage *u)
{
    if (!json_is_object(usage))
        return;
    u->input_tokens = (long)json_integer_value(json_object_get(usage, "prompt_tokens"));
    u->output_tokens = (long)json_integer_value(json_object_get(usage, "completion_tokens"));
    const json_t *details = json_object_get(usage, "prompt_tokens_details");
    u->cached_tokens = (long)json_integer_value(json_object_get(details, "cached_tokens"));
}

static void take_model(const json_t *answer, struct sa_llm_result *res)
{
    const char *model = json_string_value(json_object_get(answer, "model"));
    if (model && *model)
        snprintf(res->model, sizeof res->model, "%s", model);
}


static bool error_says(const json_t *error, const char *word)
{
    const char *code = json_string_value(json_object_get(error, "code"));
    const char *type = json_string_value(json_object_get(error, "type"));
    return (code && strcmp(code, word) == 0) || (type && strcmp(type, word) == 0);
}

/* An insufficient_quota refusal (OpenAI's error-codes guide): never retried. */
static bool is_quota(int status, const char *body, size_t len)
{
    (void)status;
    if (!body || !len)
        return false;
    json_t *v = json_loadb(body, len, 0, NULL);
    bool q = error_says(json_object_get(v, "error"), "insufficient_quota");
    json_decref(v);
    return q;
}

/* ---- a streamed answer --------------------------------------------------------------- */

struct stream {
    const struct sa_llm_request *req;
    struct sa_llm_result *res;
    uint64_t t0;
    struct sa_buf text;
    bool done;    /* data: [DONE] came */
    bool refused; /* a delta carried a refusal */
    enum sa_llm_failure failure;
    struct sa_err err;
};

static int chunk_choice(struct stream *s, const json_t *choice)
{
    const json_t *delta = json_object_get(choice, "delta");
    const char *piece = json_string_value(json_object_get(delta, "content"));
    size_t n = json_string_length(json_object_get(delta, "content"));
    if (json_is_string(json_object_get(delta, "refusal")))
        s->refused = true;
    const char *finish = json_string_value(json_object_get(choice, "finish_reason"));
    if (finish)
        s->res->finish = finish_of(finish);
    if (!piece || !n)
        return 0;
    if (sa_buf_append(&s->text, piece, n)) {
        s->failure = SA_LLM_FAIL_INVALID_OUTPUT;
        return sa_err_set(&s->err, SA_EIO, "llm: the answer is too long");
    }
    if (s->res->first_token_seconds <= 0)
        s->res->first_token_seconds = (double)(sa_now_ns() - s->t0) / 1e9;
    if (s->req->on_text(s->req->on_text_arg, piece, n)) {
        s->failure = SA_LLM_FAIL_CANCELED;
        return sa_err_set(&s->err, SA_ECANCELED, "llm: the caller stopped the answer");
    }
    return 0;
}

static int on_event(void *arg, const char *event, const char *data, size_t len)
{
    (void)event;
    struct stream *s = arg;
    if (s->done)
        return 0;
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        s->done = true;
        return 0;
    }
    json_t *chunk = json_loadb(data, len, 0, NULL);
    int rc = 0;
    if (!json_is_object(chunk)) {
        s->failure = SA_LLM_FAIL_INVALID_OUTPUT;
        rc = sa_err_set(&s->err, SA_EIO, "llm: openai streamed an event that is not JSON");
        goto out;
    }
    const json_t *error = json_object_get(chunk, "error");
    if (error && !json_is_null(error)) {
        char word[64];
        sa_llm_error_word(error, word, sizeof word);
        bool limited =
            error_says(error, "rate_limit_exceeded") || error_says(error, "rate_limit_error");
        s->failure = limited ? SA_LLM_FAIL_RATE_LIMITED : SA_LLM_FAIL_SERVER_ERROR;
        rc = sa_err_set(&s->err, SA_EIO, "llm: openai sent an error mid-stream (%s)",
                        *word ? word : "unknown");
        goto out;
    }
    take_model(chunk, s->res);
    take_usage(json_object_get(chunk, "usage"), &s->res->usage);
    /* Groq reports a stream's usage in its last chunk's x_groq.usage, not usage */
    take_usage(json_object_get(json_object_get(chunk, "x_groq"), "usage"), &s->res->usage);
    const json_t *choice;
    size_t i;
    json_array_foreach(json_object_get(chunk, "choices"), i, choice)
    {
        if (json_integer_value(json_object_get(choice, "index")) == 0 &&
            (rc = chunk_choice(s, choice)))
            break;
    }
out:
    json_decref(chunk);
    return rc;
}

/* ---- the call ------------------------------------------------------------------------ */

/* A whole answer: the first choice's content, its finish, the usage and the model. */
static int take_answer(const struct sa_llm_reply *reply, struct sa_llm_result *res,
                       struct sa_err *err)
{
    json_t *answer = json_loadb(reply->body, reply->len, 0, NULL);
    const json_t *choice = json_array_get(json_object_get(answer, "choices"), 0);
    const json_t *msg = json_object_get(choice, "message");
    int rc = 0;
    res->failure = SA_LLM_FAIL_INVALID_OUTPUT;
    if (!json_is_object(msg)) {
        rc = sa_err_set(err, SA_EIO, "llm: openai's answer has no message");
        goto out;
    }
    take_model(answer, res);
    take_usage(json_object_get(answer, "usage"), &res->usage);
    res->finish = finish_of(json_string_value(json_object_get(choice, "finish_reason")));
    if (json_is_string(json_object_get(msg, "refusal"))) {
        res->finish = SA_LLM_FINISH_FILTER;
        rc = sa_err_set(err, SA_EINVAL, "llm: the model refused to answer");
        goto out;
    }
    const char *content = json_string_value(json_object_get(msg, "content"));
    size_t n = json_string_length(json_object_get(msg, "content"));
    res->text = malloc(n + 1);
    if (!res->text) {
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
        goto out;
    }
    if (n)
        memcpy(res->text, content, n);
    res->text[n] = '\0';
    res->failure = SA_LLM_FAIL_NONE;
out:
    json_decref(answer);
    return rc;
}


static int complete(struct sa_llm_provider *p, const struct sa_llm_request *req,
                    struct sa_llm_result *res, struct sa_err *err)
{
    uint64_t t0 = 0, deadline = 0;
    int rc = sa_llm_call_begin(p, req, res, &t0, &deadline, err);
    if (rc)
        return sa_llm_call_end(p, res, t0, rc);
    struct stream s = {.req = req, .res = res, .t0 = t0};
    sa_buf_init(&s.text, (size_t)4 << 20);
    struct sa_buf auth;
    sa_buf_init(&auth, 8192);
    struct sa_llm_reply reply = {0};
    char *body = NULL;
    json_t *jbody = request_body(p, req);
    char url[600];
    snprintf(url, sizeof url, "%s/chat/completions", p->base_url);
    if (!jbody || !(body = json_dumps(jbody, JSON_COMPACT)) ||
        (p->api_key && (sa_buf_puts(&auth, "Authorization: Bearer ") ||
                        sa_buf_puts(&auth, p->api_key)))) { /* no stack copy of the key */
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
        goto out;
    }
    const char *headers[] = {"Content-Type: application/json", auth.data, NULL};
    struct sa_llm_post post = {.url = url,
                               .headers = headers,
                               .body = body,
                               .body_len = strlen(body),
                               .deadline_ns = deadline,
                               .on_event = req->on_text ? on_event : NULL,
                               .arg = &s,
                               .is_quota = is_quota};
    rc = sa_llm_http_post(p->http, &post, &reply, err);
    res->attempts = reply.attempts;
    res->http_status = reply.status;
    res->failure = reply.failure;
    if (s.failure) { /* the stream's own verdict wins over the transport's */
        res->failure = s.failure;
        *err = s.err;
        rc = s.err.code;
        goto out;
    }
    if (rc) {
        rc = sa_llm_answer_failed("openai", &reply, rc, err);
        goto out;
    }
    if (req->on_text) {
        if (!s.done) {
            res->failure = SA_LLM_FAIL_TRANSPORT;
            rc = sa_err_set(err, SA_EIO, "llm: openai's stream ended before [DONE]");
            goto out;
        }
        if (s.refused) {
            res->failure = SA_LLM_FAIL_INVALID_OUTPUT;
            res->finish = SA_LLM_FINISH_FILTER;
            rc = sa_err_set(err, SA_EINVAL, "llm: the model refused to answer");
            goto out;
        }
        if (!(res->text = sa_buf_steal(&s.text, NULL))) {
            rc = sa_err_set(err, SA_ENOMEM, "out of memory");
            goto out;
        }
    } else if ((rc = take_answer(&reply, res, err))) {
        goto out;
    }
    rc = sa_llm_take_json(req, res, err);
out:
    if (auth.data)
        memset(auth.data, 0, auth.len);
    sa_buf_free(&auth);
    sa_buf_free(&s.text);
    sa_llm_reply_free(&reply);
    free(body);
    json_decref(jbody);
    return sa_llm_call_end(p, res, t0, rc);
}

const struct sa_llm_provider_ops sa_llm_openai_ops = {.wire = "openai", .complete = complete};
