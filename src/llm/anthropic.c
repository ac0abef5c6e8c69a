/* The Anthropic Messages wire format (wire-formats.md §4), whole or streamed. A structured
 * answer is asked for as one forced tool whose input_schema is the answer's schema: the
 * answer is that tool call's input. llm.c's "anthropic" preset points here; agents reach
 * it through sa_llm_complete. */
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "llm/http.h"
#include "llm/provider.h"
#include "llm/wire.h"

#define VERSION_HEADER "anthropic-version: 2023-06-01"
#define TOOL_DESCRIPTION                                                                           \
    "Give your answer by calling this tool once: its input is the answer, one object valid "       \
    "against the input schema."
#define MAX_BLOCKS 64
#define ANSWER_MAX ((size_t)4 << 20)

static const char *tool_name(const struct sa_llm_request *req)
{
    return req->schema_name && *req->schema_name ? req->schema_name : "answer";
}

/* The request body, or NULL when out of memory. */
static json_t *request_body(const struct sa_llm_provider *p, const struct sa_llm_request *req)
{
    json_t *msgs = json_array();
    json_t *body = json_pack("{s:s, s:i, s:o}", "model", req->model ? req->model : p->model,
                             "max_tokens", sa_llm_max_tokens(req), "messages", msgs);
    if (!body)
        return NULL;
    for (size_t i = 0; i < req->nmessages; i++) {
        const struct sa_llm_message *m = &req->messages[i];
        const char *role = m->role == SA_LLM_ASSISTANT ? "assistant" : "user";
        if (json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", role, "content",
                                                  m->content ? m->content : "")))
            goto fail;
    }
    if (req->system && json_object_set_new(body, "system", json_string(req->system)))
        goto fail;
    /* Anthropic's range is [0, 1] (OpenAI's [0, 2]): a caller's 1.2 means "most varied" */
    double t = req->temperature > 1 ? 1 : req->temperature;
    if (t >= 0 && json_object_set_new(body, "temperature", json_real(t)))
        goto fail;
    if (req->schema) {
        const char *name = tool_name(req);
        if (json_object_set_new(body, "tools",
                                json_pack("[{s:s, s:s, s:O}]", "name", name, "description",
                                          TOOL_DESCRIPTION, "input_schema", req->schema)) ||
            json_object_set_new(body, "tool_choice",
                                json_pack("{s:s, s:s}", "type", "tool", "name", name)))
            goto fail;
    }
    if (req->on_text && json_object_set_new(body, "stream", json_true()))
        goto fail;
    return body;
fail:
    json_decref(body);
    return NULL;
}

static enum sa_llm_finish finish_of(const char *s)
{
    if (!s)
        return SA_LLM_FINISH_OTHER;
    if (strcmp(s, "end_turn") == 0 || strcmp(s, "stop_sequence") == 0)
        return SA_LLM_FINISH_STOP;
    if (strcmp(s, "max_tokens") == 0)
        return SA_LLM_FINISH_LENGTH;
    if (strcmp(s, "tool_use") == 0)
        return SA_LLM_FINISH_TOOL;
    if (strcmp(s, "refusal") == 0)
        return SA_LLM_FINISH_FILTER;
    return SA_LLM_FINISH_OTHER;
}

/* Anthropic's usage as it reports it: input_tokens leaves out the prompt tokens read from
 * or written to the cache, and a stream's message_delta repeats the counts cumulatively,
 * some or all of them. */
struct counts {
    long input, cache_read, cache_write, output;
};

/* Takes the counts usage carries, keeping the others; then fills out (ours counts every
 * prompt token as input). */
static void take_usage(const json_t *usage, struct counts *c, struct sa_llm_usage *out)
{
    static const char *const names[] = {"input_tokens", "cache_read_input_tokens",
                                        "cache_creation_input_tokens", "output_tokens"};
    long *fields[] = {&c->input, &c->cache_read, &c->cache_write, &c->output};
    for (size_t i = 0; i < 4; i++) {
        const json_t *v = json_object_get(usage, names[i]);
        if (json_is_integer(v))
            *fields[i] = (long)json_integer_value(v);
    }
    out->input_tokens = c->input + c->cache_read + c->cache_write;
    out->cached_tokens = c->cache_read;
    out->output_tokens = c->output;
}

static void take_model(const json_t *message, struct sa_llm_result *res)
{
    const char *model = json_string_value(json_object_get(message, "model"));
    if (model && *model)
        snprintf(res->model, sizeof res->model, "%s", model);
}


/* A billing refusal (402 billing_error) or a spent limit (429 with error.details.error_code
 * enforced_spend_limit_reached): never retried. */
static bool is_quota(int status, const char *body, size_t len)
{
    if (status == 402)
        return true;
    json_t *v = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    const json_t *error = json_object_get(v, "error");
    const char *type = json_string_value(json_object_get(error, "type"));
    const char *code =
        json_string_value(json_object_get(json_object_get(error, "details"), "error_code"));
    bool q = (type && strcmp(type, "billing_error") == 0) ||
             (code && strcmp(code, "enforced_spend_limit_reached") == 0);
    json_decref(v);
    return q;
}

/* ---- a streamed answer --------------------------------------------------------------- */

struct block {
    bool tool;          /* a tool_use block */
    bool answer;        /* the answer tool's */
    struct sa_buf json; /* its partial_json so far */
};

struct stream {
    const struct sa_llm_request *req;
    struct sa_llm_result *res;
    uint64_t t0;
    struct sa_buf text;
    struct block blocks[MAX_BLOCKS];
    int answer_block; /* the answer tool's block, or -1 */
    struct counts counts;
    bool done; /* message_stop came */
    enum sa_llm_failure failure;
    struct sa_err err;
};

static int stream_fail(struct stream *s, enum sa_llm_failure f, int code, const char *msg)
{
    s->failure = f;
    return sa_err_set(&s->err, code, "%s", msg);
}

static int relay(struct stream *s, struct sa_buf *into, const char *piece, size_t n)
{
    if (!piece || !n)
        return 0;
    if (sa_buf_append(into, piece, n))
        return stream_fail(s, SA_LLM_FAIL_INVALID_OUTPUT, SA_EIO, "llm: the answer is too long");
    if (s->res->first_token_seconds <= 0)
        s->res->first_token_seconds = (double)(sa_now_ns() - s->t0) / 1e9;
    if (s->req->on_text(s->req->on_text_arg, piece, n))
        return stream_fail(s, SA_LLM_FAIL_CANCELED, SA_ECANCELED,
                           "llm: the caller stopped the answer");
    return 0;
}

/* The event's block index, or -1 when it has none we keep. */
static int block_index(const json_t *ev)
{
    const json_t *index = json_object_get(ev, "index");
    json_int_t i = json_integer_value(index);
    return json_is_integer(index) && i >= 0 && i < MAX_BLOCKS ? (int)i : -1;
}

static int on_block_start(struct stream *s, const json_t *ev)
{
    int i = block_index(ev);
    if (i < 0)
        return stream_fail(s, SA_LLM_FAIL_INVALID_OUTPUT, SA_EIO,
                           "llm: anthropic streamed a block without a usable index");
    struct block *b = &s->blocks[i];
    const json_t *cb = json_object_get(ev, "content_block");
    const char *type = json_string_value(json_object_get(cb, "type"));
    const char *name = json_string_value(json_object_get(cb, "name"));
    b->tool = type && strcmp(type, "tool_use") == 0;
    b->answer = b->tool && s->req->schema && name && strcmp(name, tool_name(s->req)) == 0;
    if (b->answer && s->answer_block < 0)
        s->answer_block = i;
    return 0;
}

static int on_block_delta(struct stream *s, const json_t *ev)
{
    int i = block_index(ev);
    const json_t *delta = json_object_get(ev, "delta");
    const char *type = json_string_value(json_object_get(delta, "type"));
    if (i < 0 || !type)
        return stream_fail(s, SA_LLM_FAIL_INVALID_OUTPUT, SA_EIO,
                           "llm: anthropic streamed a malformed delta");
    struct block *b = &s->blocks[i];
    if (strcmp(type, "text_delta") == 0) {
        const json_t *t = json_object_get(delta, "text");
        return relay(s, &s->text, json_string_value(t), json_string_length(t));
    }
    if (strcmp(type, "input_json_delta") == 0) {
        const json_t *t = json_object_get(delta, "partial_json");
        return relay(s, &b->json, json_string_value(t), json_string_length(t));
    }
    return 0; /* thinking, signatures, citations: not part of the answer */
}

static int on_error_event(struct stream *s, const json_t *ev)
{
    const json_t *error = json_object_get(ev, "error");
    const char *type = json_string_value(json_object_get(error, "type"));
    char word[64];
    sa_llm_error_word(error, word, sizeof word);
    s->failure = type && strcmp(type, "rate_limit_error") == 0 ? SA_LLM_FAIL_RATE_LIMITED
                                                               : SA_LLM_FAIL_SERVER_ERROR;
    return sa_err_set(&s->err, SA_EIO, "llm: anthropic sent an error mid-stream (%s)",
                      *word ? word : "unknown");
}

static int on_event(void *arg, const char *event, const char *data, size_t len)
{
    (void)event; /* the data's type names it too */
    struct stream *s = arg;
    json_t *ev = json_loadb(data, len, 0, NULL);
    const char *type = json_string_value(json_object_get(ev, "type"));
    int rc = 0;
    if (!type)
        rc = stream_fail(s, SA_LLM_FAIL_INVALID_OUTPUT, SA_EIO,
                         "llm: anthropic streamed an event that is not JSON");
    else if (strcmp(type, "message_start") == 0) {
        const json_t *msg = json_object_get(ev, "message");
        take_model(msg, s->res);
        take_usage(json_object_get(msg, "usage"), &s->counts, &s->res->usage);
    } else if (strcmp(type, "content_block_start") == 0)
        rc = on_block_start(s, ev);
    else if (strcmp(type, "content_block_delta") == 0)
        rc = on_block_delta(s, ev);
    else if (strcmp(type, "message_delta") == 0) {
        const char *stop =
            json_string_value(json_object_get(json_object_get(ev, "delta"), "stop_reason"));
        if (stop)
            s->res->finish = finish_of(stop);
        take_usage(json_object_get(ev, "usage"), &s->counts, &s->res->usage);
    } else if (strcmp(type, "message_stop") == 0)
        s->done = true;
    else if (strcmp(type, "error") == 0)
        rc = on_error_event(s, ev);
    /* ping, content_block_stop and event types added later mean nothing here */
    json_decref(ev);
    return rc;
}

/* The streamed answer's text: with a schema, the answer tool's input as streamed. */
static char *stream_text(struct stream *s)
{
    if (s->answer_block >= 0) {
        struct sa_buf *j = &s->blocks[s->answer_block].json;
        return j->len ? sa_buf_steal(j, NULL) : strdup("{}");
    }
    return sa_buf_steal(&s->text, NULL);
}

/* ---- the call ------------------------------------------------------------------------ */

/* A whole answer: its text blocks joined, or with a schema the answer tool's input. */
static int take_answer(const struct sa_llm_request *req, const struct sa_llm_reply *reply,
                       struct sa_llm_result *res, struct sa_err *err)
{
    json_t *msg = json_loadb(reply->body, reply->len, 0, NULL);
    const json_t *content = json_object_get(msg, "content");
    int rc = 0;
    struct sa_buf text;
    sa_buf_init(&text, ANSWER_MAX);
    if (!json_is_array(content)) {
        res->failure = SA_LLM_FAIL_INVALID_OUTPUT;
        rc = sa_err_set(err, SA_EIO, "llm: anthropic's answer has no content");
        goto out;
    }
    take_model(msg, res);
    struct counts counts = {0};
    take_usage(json_object_get(msg, "usage"), &counts, &res->usage);
    res->finish = finish_of(json_string_value(json_object_get(msg, "stop_reason")));
    const json_t *block, *input = NULL;
    size_t i;
    json_array_foreach(content, i, block)
    {
        const char *type = json_string_value(json_object_get(block, "type"));
        const char *name = json_string_value(json_object_get(block, "name"));
        const json_t *t = json_object_get(block, "text");
        if (type && strcmp(type, "text") == 0 && json_is_string(t) &&
            sa_buf_append(&text, json_string_value(t), json_string_length(t))) {
            res->failure = SA_LLM_FAIL_INVALID_OUTPUT;
            rc = sa_err_set(err, SA_EIO, "llm: the answer is too long");
            goto out;
        }
        if (!input && req->schema && type && strcmp(type, "tool_use") == 0 && name &&
            strcmp(name, tool_name(req)) == 0)
            input = json_object_get(block, "input");
    }
    res->text =
        input ? json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY) : sa_buf_steal(&text, NULL);
    if (!res->text)
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
out:
    sa_buf_free(&text);
    json_decref(msg);
    return rc;
}


static void stream_free(struct stream *s)
{
    sa_buf_free(&s->text);
    for (int i = 0; i < MAX_BLOCKS; i++)
        sa_buf_free(&s->blocks[i].json);
}

/* Reads a streamed answer's outcome into res once the transfer ended with rc. */
static int stream_done(struct stream *s, struct sa_llm_result *res, struct sa_err *err)
{
    if (!s->done) {
        res->failure = SA_LLM_FAIL_TRANSPORT;
        return sa_err_set(err, SA_EIO, "llm: anthropic's stream ended before message_stop");
    }
    if (!(res->text = stream_text(s)))
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    return 0;
}

static int complete(struct sa_llm_provider *p, const struct sa_llm_request *req,
                    struct sa_llm_result *res, struct sa_err *err)
{
    uint64_t t0 = 0, deadline = 0;
    int rc = sa_llm_call_begin(p, req, res, &t0, &deadline, err);
    if (rc)
        return sa_llm_call_end(p, res, t0, rc);
    struct stream s = {.req = req, .res = res, .t0 = t0, .answer_block = -1};
    sa_buf_init(&s.text, ANSWER_MAX);
    for (int i = 0; i < MAX_BLOCKS; i++)
        sa_buf_init(&s.blocks[i].json, ANSWER_MAX);
    struct sa_buf key;
    sa_buf_init(&key, 8192);
    struct sa_llm_reply reply = {0};
    char *body = NULL;
    json_t *jbody = request_body(p, req);
    char url[600];
    snprintf(url, sizeof url, "%s/v1/messages", p->base_url);
    if (!jbody || !(body = json_dumps(jbody, JSON_COMPACT)) ||
        (p->api_key &&
         (sa_buf_puts(&key, "x-api-key: ") || sa_buf_puts(&key, p->api_key)))) { /* no stack copy */
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
        goto out;
    }
    const char *headers[] = {"content-type: application/json", VERSION_HEADER, key.data, NULL};
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
    } else if (rc) {
        rc = sa_llm_answer_failed("anthropic", &reply, rc, err);
    } else {
        rc = req->on_text ? stream_done(&s, res, err) : take_answer(req, &reply, res, err);
        if (!rc)
            rc = sa_llm_take_json(req, res, err);
    }
out:
    if (key.data)
        memset(key.data, 0, key.len);
    sa_buf_free(&key);
    stream_free(&s);
    sa_llm_reply_free(&reply);
    free(body);
    json_decref(jbody);
    return sa_llm_call_end(p, res, t0, rc);
}

const struct sa_llm_provider_ops sa_llm_anthropic_ops = {.wire = "anthropic", .complete = complete};
