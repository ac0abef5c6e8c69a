/* The OpenAI-compatible wire format (src/llm/openai.c) against the fake vendor
 * (tests/fakes/fake_llm.c), which checks every request the client sends against the
 * documented format: answers whole and streamed (split inside JSON strings and UTF-8
 * characters), structured answers per preset, the retry policy, deadlines, the breaker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_llm.h"
#include "llm/provider.h"

#define KEY "sk-test-5ecret-key"

struct fixture {
    struct fake_llm *fake;
    struct sa_llm_provider *p;
};

static struct sa_llm_provider *open_preset(struct fake_llm *fake, const char *preset,
                                           const char *key, int max_retries, int breaker)
{
    struct sa_llm_config cfg = {.preset = preset,
                                .base_url = fake_llm_base_url(fake),
                                .api_key = key,
                                .model = "gpt-test",
                                .max_retries = max_retries,
                                .max_retry_wait_ms = 2000,
                                .breaker_failures = breaker};
    struct sa_llm_provider *p = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_llm_open(&cfg, &p, &err), 0);
    assert_string_equal(sa_llm_wire(p), "openai");
    fake_llm_expect_key(fake, key);
    return p;
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->fake = fake_llm_start(FAKE_OPENAI);
    assert_non_null(fx->fake);
    fx->p = open_preset(fx->fake, "openai", KEY, 2, 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    const char *first = NULL;
    size_t bad = fake_llm_invalid(fx->fake, &first);
    char why[512];
    snprintf(why, sizeof why, "%s", first); /* first is the fake's */
    sa_llm_close(fx->p);
    fake_llm_stop(fx->fake);
    free(fx);
    if (bad)
        fail_msg("the client sent %zu malformed request(s): %s", bad, why);
    return 0;
}

static const struct sa_llm_message hello[] = {{SA_LLM_USER, "Write to Ann about the demo."}};

static struct sa_llm_request text_request(void)
{
    return (struct sa_llm_request){.system = "You write short sales emails.",
                                   .messages = hello,
                                   .nmessages = 1,
                                   .max_tokens = 200,
                                   .temperature = 0.25};
}

static json_t *email_schema(void)
{
    json_t *s = json_pack("{s:s, s:{s:{s:s}, s:{s:s}}, s:[s, s], s:b}", "type", "object",
                          "properties", "subject", "type", "string", "body", "type", "string",
                          "required", "subject", "body", "additionalProperties", 0);
    assert_non_null(s);
    return s;
}

/* on_text's pieces, in order */
struct pieces {
    char all[1024];
    char log[2048];
    int n;
    int stop_after; /* > 0: stop the call after this many */
};

static int collect(void *arg, const char *text, size_t len)
{
    struct pieces *pc = arg;
    size_t n = strlen(pc->all);
    assert_true(n + len < sizeof pc->all);
    memcpy(pc->all + n, text, len);
    pc->all[n + len] = '\0';
    n = strlen(pc->log);
    snprintf(pc->log + n, sizeof pc->log - n, "[%.*s]", (int)len, text);
    pc->n++;
    return pc->stop_after && pc->n >= pc->stop_after;
}

/* Pushes stream cut at each of the offsets where the byte sequence at[k] begins, plus
 * shift[k] bytes: e.g. inside a JSON string or a multi-byte character. */
static void push_cut(struct fake_llm *fake, const char *stream, const char *const *at,
                     const int *shift, bool drop)
{
    char *chunks[16] = {0};
    size_t n = 0, from = 0, len = strlen(stream);
    for (size_t k = 0; at[k]; k++) {
        const char *hit = strstr(stream + from, at[k]);
        assert_non_null(hit);
        size_t cut = (size_t)(hit - stream) + (size_t)shift[k];
        assert_true(cut > from && cut < len);
        chunks[n++] = strndup(stream + from, cut - from);
        from = cut;
    }
    chunks[n++] = strdup(stream + from);
    fake_llm_push(fake, &(struct fake_reply){
                            .chunks = (const char *const *)chunks, .gap_ms = 5, .drop = drop});
    for (size_t i = 0; i < n; i++)
        free(chunks[i]);
}

static void test_text_answer(void **state)
{
    struct fixture *fx = *state;
    char *body =
        fake_openai_answer("gpt-test-2025-01-01", "Hi Ann, see you at the demo.", 42, 9, 16);
    fake_llm_push(fx->fake, &(struct fake_reply){.body = body});
    free(body);
    struct sa_llm_request req = text_request();
    struct sa_llm_result res;
    struct sa_err err = {0};
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), 0);
    assert_string_equal(res.text, "Hi Ann, see you at the demo.");
    assert_null(res.json);
    assert_int_equal(res.finish, SA_LLM_FINISH_STOP);
    assert_int_equal(res.usage.input_tokens, 42);
    assert_int_equal(res.usage.output_tokens, 9);
    assert_int_equal(res.usage.cached_tokens, 16);
    assert_string_equal(res.model, "gpt-test-2025-01-01");
    assert_int_equal(res.attempts, 1);
    assert_int_equal(res.http_status, 200);
    assert_int_equal(res.failure, SA_LLM_FAIL_NONE);
    sa_llm_result_clear(&res);

    assert_int_equal(fake_llm_requests(fx->fake), 1);
    json_t *sent = fake_llm_request(fx->fake, 0);
    assert_string_equal(json_string_value(json_object_get(sent, "model")), "gpt-test");
    json_t *msgs = json_object_get(sent, "messages");
    assert_int_equal(json_array_size(msgs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "role")),
                        "system");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "content")),
                        "You write short sales emails.");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "role")),
                        "user");
    assert_int_equal(json_integer_value(json_object_get(sent, "max_completion_tokens")), 200);
    assert_true(json_number_value(json_object_get(sent, "temperature")) == 0.25);
    assert_null(json_object_get(sent, "response_format"));
    assert_null(json_object_get(sent, "stream"));

    /* a request's own model wins; no temperature when below 0; the default max tokens */
    req = (struct sa_llm_request){
        .model = "gpt-other", .messages = hello, .nmessages = 1, .temperature = -1};
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), 0);
    assert_string_equal(res.text, "fake answer");
    sa_llm_result_clear(&res);
    sent = fake_llm_request(fx->fake, 1);
    assert_string_equal(json_string_value(json_object_get(sent, "model")), "gpt-other");
    assert_null(json_object_get(sent, "temperature"));
    assert_int_equal(json_integer_value(json_object_get(sent, "max_completion_tokens")), 1024);
    assert_int_equal(json_array_size(json_object_get(sent, "messages")), 1);
}

/* openai: json_schema with strict true; the answer is checked and parsed. */
static void test_structured_strict(void **state)
{
    struct fixture *fx = *state;
    json_t *schema = email_schema();
    struct sa_llm_request req = text_request();
    req.schema = schema;
    req.schema_name = "email";
    struct sa_llm_result res;
    struct sa_err err = {0};
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), 0);
    assert_string_equal(json_string_value(json_object_get(res.json, "subject")), "fake");
    assert_string_equal(json_string_value(json_object_get(res.json, "body")), "fake");
    sa_llm_result_clear(&res);
    json_t *rf = json_object_get(fake_llm_request(fx->fake, 0), "response_format");
    assert_string_equal(json_string_value(json_object_get(rf, "type")), "json_schema");
    json_t *js = json_object_get(rf, "json_schema");
    assert_string_equal(json_string_value(json_object_get(js, "name")), "email");
    assert_true(json_equal(json_object_get(js, "schema"), schema));
    assert_true(json_is_true(json_object_get(js, "strict")));
    /* the system prompt is the request's alone */
    json_t *m0 = json_array_get(json_object_get(fake_llm_request(fx->fake, 0), "messages"), 0);
    assert_string_equal(json_string_value(json_object_get(m0, "content")),
                        "You write short sales emails.");

    /* no name given: "answer" */
    req.schema_name = NULL;
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), 0);
    sa_llm_result_clear(&res);
    js = json_object_get(json_object_get(fake_llm_request(fx->fake, 1), "response_format"),
                         "json_schema");
    assert_string_equal(json_string_value(json_object_get(js, "name")), "answer");
    json_decref(schema);
}

/* vllm: json_schema, strict false, and no Authorization header without a key. */
static void test_structured_vllm(void **state)
{
    struct fixture *fx = *state;
    struct sa_llm_provider *p = open_preset(fx->fake, "vllm", NULL, 0, 0);
    json_t *schema = email_schema();
    struct sa_llm_request req = text_request();
    req.schema = schema;
    struct sa_llm_result res;
    struct sa_err err = {0};
    assert_int_equal(sa_llm_complete(p, &req, &res, &err), 0);
    assert_non_null(res.json);
    sa_llm_result_clear(&res);
    json_t *js = json_object_get(json_object_get(fake_llm_request(fx->fake, 0), "response_format"),
                                 "json_schema");
    assert_true(json_is_false(json_object_get(js, "strict")));
    sa_llm_close(p);
    json_decref(schema);
}

/* groq: JSON mode, the schema in the system prompt; streamed without stream_options. */
static void test_structured_groq(void **state)
{
    struct fixture *fx = *state;
    struct sa_llm_provider *p = open_preset(fx->fake, "groq", "gsk-groq-key", 0, 0);
    json_t *schema = email_schema();
    struct sa_llm_request req = text_request();
    req.schema = schema;
    struct sa_llm_result res;
    struct sa_err err = {0};
    assert_int_equal(sa_llm_complete(p, &req, &res, &err), 0);
    assert_string_equal(json_string_value(json_object_get(res.json, "subject")), "fake");
    sa_llm_result_clear(&res);
    json_t *sent = fake_llm_request(fx->fake, 0);
    json_t *rf = json_object_get(sent, "response_format");
    assert_string_equal(json_string_value(json_object_get(rf, "type")), "json_object");
    assert_null(json_object_get(rf, "json_schema"));
    const char *sys = json_string_value(
        json_object_get(json_array_get(json_object_get(sent, "messages"), 0), "content"));
    assert_non_null(strstr(sys, "You write short sales emails.\n\n"));
    assert_non_null(strstr(sys, "Answer with one JSON object valid against this JSON Schema: "));
    assert_non_null(strstr(sys, "\"required\":[\"subject\",\"body\"]"));

    /* without a system prompt of its own, the schema is the system prompt; streamed */
    struct pieces pc = {0};
    req.system = NULL;
    req.on_text = collect;
    req.on_text_arg = &pc;
    assert_int_equal(sa_llm_complete(p, &req, &res, &err), 0);
    assert_string_equal(pc.all, res.text);
    assert_string_equal(json_string_value(json_object_get(res.json, "body")), "fake");
    sa_llm_result_clear(&res);
    sent = fake_llm_request(fx->fake, 1);
    assert_true(json_is_true(json_object_get(sent, "stream")));
    assert_null(json_object_get(sent, "stream_options"));
    sys = json_string_value(
        json_object_get(json_array_get(json_object_get(sent, "messages"), 0), "content"));
    assert_true(strncmp(sys, "Answer with one JSON object", 27) == 0);

    /* Groq sends a stream's usage in its last chunk's x_groq.usage */
    static const char *const groq_chunks[] = {
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":"
        "\"llama-3.1-8b-instant\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
        "\"content\":\"{\\\"subject\\\":\\\"s\\\",\\\"body\\\":\\\"b\\\"}\"},"
        "\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":"
        "\"llama-3.1-8b-instant\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
        "\"stop\"}],\"x_groq\":{\"id\":\"req_1\",\"usage\":{\"prompt_tokens\":12,"
        "\"completion_tokens\":5,\"total_tokens\":17}}}\n\n",
        "data: [DONE]\n\n", NULL};
    fake_llm_push(fx->fake, &(struct fake_reply){.chunks = groq_chunks});
    memset(&pc, 0, sizeof pc);
    assert_int_equal(sa_llm_complete(p, &req, &res, &err), 0);
    assert_int_equal(res.usage.input_tokens, 12);
    assert_int_equal(res.usage.output_tokens, 5);
    sa_llm_result_clear(&res);
    sa_llm_close(p);
    json_decref(schema);
}

/* A stream cut inside JSON strings, inside 2- and 3-byte UTF-8 characters and inside
 * [DONE]: the pieces arrive in order and make the answer. */
static void test_streamed_awkward_splits(void **state)
{
    struct fixture *fx = *state;
    const char *const pieces[] = {"Gr\xc3\xbc\xc3\x9f", "e, \"Ann\" \xe2\x80\x94 ", "demo?", NULL};
    char *stream = fake_openai_stream("gpt-test-2", pieces, true);
    const char *const at[] = {"\xc3\xbc", "Ann", "\xe2\x80\x94", "demo", "[DONE]", NULL};
    const int shift[] = {1, 1, 2, 2, 3};
    push_cut(fx->fake, stream, at, shift, false);
    free(stream);
    struct pieces pc = {0};
    struct sa_llm_request req = text_request();
    req.on_text = collect;
    req.on_text_arg = &pc;
    struct sa_llm_result res;
    struct sa_err err = {0};
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), 0);
    const char *want = "Gr\xc3\xbc\xc3\x9f\x65, \"Ann\" \xe2\x80\x94 demo?";
    assert_string_equal(res.text, want);
    assert_string_equal(pc.all, want);
    assert_int_equal(pc.n, 3);
    assert_string_equal(pc.log, "[Gr\xc3\xbc\xc3\x9f][e, \"Ann\" \xe2\x80\x94 ][demo?]");
    assert_int_equal(res.finish, SA_LLM_FINISH_STOP);
    assert_int_equal(res.usage.input_tokens, 11); /* from the choices: [] chunk */
    assert_int_equal(res.usage.output_tokens, 7);
    assert_string_equal(res.model, "gpt-test-2");
    assert_true(res.first_token_seconds > 0 && res.first_token_seconds <= res.seconds);
    sa_llm_result_clear(&res);
    json_t *sent = fake_llm_request(fx->fake, 0);
    assert_true(json_is_true(json_object_get(sent, "stream")));
    assert_true(
        json_is_true(json_object_get(json_object_get(sent, "stream_options"), "include_usage")));
}

/* A structured answer streamed, its JSON cut inside a key and a value; vLLM's usage chunk
 * has choices: null. */
static void test_streamed_structured(void **state)
{
    struct fixture *fx = *state;
    const char *const pieces[] = {"{\"subj", "ect\":\"Gr\xc3\xbc", "\xc3\x9f\x65\",\"bo",
                                  "dy\":\"See you\"}", NULL};
    char *stream = fake_openai_stream("gpt-test", pieces, false);
    const char *tail = "data: {\"object\":\"chat.completion.chunk\",\"choices\":null,"
                       "\"usage\":{\"prompt_tokens\":30,\"completion_tokens\":12}}\n\n";
    char *dn = strstr(stream, "data: [DONE]");
    assert_non_null(dn);
    size_t head = (size_t)(dn - stream);
    char *full = malloc(head + strlen(tail) + 32);
    assert_non_null(full);
    snprintf(full, head + strlen(tail) + 32, "%.*s%sdata: [DONE]\n\n", (int)head, stream, tail);
    const char *const at[] = {"subj", "\xc3\x9f", "choices\":null", NULL};
    const int shift[] = {2, 1, 4};
    push_cut(fx->fake, full, at, shift, false);
    free(stream);
    free(full);
    json_t *schema = email_schema();
    struct pieces pc = {0};
    struct sa_llm_request req = text_request();
    req.schema = schema;
    req.on_text = collect;
    req.on_text_arg = &pc;
    struct sa_llm_result res;
    struct sa_err err = {0};
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), 0);
    assert_int_equal(pc.n, 4);
    assert_string_equal(pc.all, res.text);
    assert_string_equal(json_string_value(json_object_get(res.json, "subject")),
                        "Gr\xc3\xbc\xc3\x9f\x65");
    assert_string_equal(json_string_value(json_object_get(res.json, "body")), "See you");
    assert_int_equal(res.usage.input_tokens, 30);
    assert_int_equal(res.usage.output_tokens, 12);
    sa_llm_result_clear(&res);
    json_decref(schema);
}

static void expect_invalid_output(struct fixture *fx, const char *content)
{
    char *body = fake_openai_answer("gpt-test", content, 1, 1, 0);
    fake_llm_push(fx->fake, &(struct fake_reply){.body = body});
    free(body);
    json_t *schema = email_schema();
    struct sa_llm_request req = text_request();
    req.schema = schema;
    struct sa_llm_result res;
    struct sa_err err = {0};
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), SA_EINVAL);
    assert_int_equal(res.failure, SA_LLM_FAIL_INVALID_OUTPUT);
    assert_null(res.json);
    assert_int_equal(res.attempts, 1);
    sa_llm_result_clear(&res);
    json_decref(schema);
}

static void test_invalid_output(void **state)
{
    struct fixture *fx = *state;
    expect_invalid_output(fx, "{\"subject\": \"Hi\", \"body\": ");  /* not JSON */
    expect_invalid_output(fx, "Sure! Here is the email.");          /* prose */
    expect_invalid_output(fx, "{\"subject\": \"Hi\"}");             /* a required field */
    expect_invalid_output(fx, "{\"subject\": 5, \"body\": \"x\"}"); /* a wrong type */
    expect_invalid_output(fx, "{\"subject\": \"a\", \"body\": \"b\", \"x\": 1}"); /* extra */

    /* a refusal */
    const char *refusal =
        "{\"id\":\"c\",\"object\":\"chat.completion\",\"model\":\"gpt-test\",\"choices\":[{"
        "\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,\"refusal\":"
        "\"I can't help with that.\"},\"finish_reason\":\"stop\"}]}";
    fake_llm_push(fx->fake, &(struct fake_reply){.body = refusal});
    struct sa_llm_request req = text_request();
    struct sa_llm_result res;
    struct sa_err err = {0};
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), SA_EINVAL);
    assert_int_equal(res.failure, SA_LLM_FAIL_INVALID_OUTPUT);
    assert_int_equal(res.finish, SA_LLM_FINISH_FILTER);
    assert_null(strstr(err.msg, "can't help"));
    sa_llm_result_clear(&res);

    /* an answer past the transport's 4 MB cap */
    size_t big = ((size_t)4 << 20) + 100;
    char *huge = malloc(big + 1);
    assert_non_null(huge);
    memset(huge, ' ', big);
    huge[big] = '\0';
    fake_llm_push(fx->fake, &(struct fake_reply){.body = huge});
    free(huge);
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), SA_EIO);
    assert_int_equal(res.failure, SA_LLM_FAIL_INVALID_OUTPUT);
    assert_int_equal(res.attempts, 1);
    assert_string_equal(err.msg, "llm: openai's answer is over the size cap");
    sa_llm_result_clear(&res);
}

static void test_retries(void **state)
{
    struct fixture *fx = *state;
    const char *rate = "{\"error\":{\"message\":\"Rate limit reached for gpt-test\",\"type\":"
                       "\"requests\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}";
    const char *const wait20[] = {"retry-after-ms: 20", NULL};
    fake_llm_push(fx->fake, &(struct fake_reply){.status = 429, .headers = wait20, .body = rate});
    struct sa_llm_request req = text_request();
    struct sa_llm_result res;
    struct sa_err err = {0};
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), 0);
    assert_int_equal(res.attempts, 2);
    assert_string_equal(res.text, "fake answer");
    sa_llm_result_clear(&res);

    /* a 500 then an answer: the SDKs' backoff (no retry-after) */
    const char *boom = "{\"error\":{\"message\":\"The server had an error\",\"type\":"
                       "\"server_error\",\"param\":null,\"code\":null}}";
    fake_llm_push(fx->fake, &(struct fake_reply){.status = 500, .body = boom});
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), 0);
    assert_int_equal(res.attempts, 2);
    sa_llm_result_clear(&res);

    /* three 503s: the two retries spent, the last answer reported */
    for (int i = 0; i < 3; i++)
        fake_llm_push(fx->fake,
                      &(struct fake_reply){.status = 503, .headers = wait20, .body = boom});
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), SA_EIO);
    assert_int_equal(res.attempts, 3);
    assert_int_equal(res.failure, SA_LLM_FAIL_SERVER_ERROR);
    assert_int_equal(res.http_status, 503);
    assert_string_equal(err.msg, "llm: openai answered 503 (server_error)");
    sa_llm_result_clear(&res);
    assert_int_equal(fake_llm_requests(fx->fake), 7);

    /* a 400 is not retried, and its message stays out of err */
    const char *bad = "{\"error\":{\"message\":\"Invalid value for 'temperature': secret\","
                      "\"type\":\"invalid_request_error\",\"param\":\"temperature\","
                      "\"code\":null}}";
    fake_llm_push(fx->fake, &(struct fake_reply){.status = 400, .body = bad});
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), SA_EIO);
    assert_int_equal(res.attempts, 1);
    assert_int_equal(res.failure, SA_LLM_FAIL_REQUEST_REFUSED);
    assert_string_equal(err.msg, "llm: openai answered 400 (invalid_request_error)");
    sa_llm_result_clear(&res);
}

static void test_quota_not_retried(void **state)
{
    struct fixture *fx = *state;
    const char *quota = "{\"error\":{\"message\":\"You exceeded your current quota, please "
                        "check your plan and billing details.\",\"type\":\"insufficient_quota\","
                        "\"param\":null,\"code\":\"insufficient_quota\"}}";
    const char *const wait20[] = {"retry-after-ms: 20", NULL};
    fake_llm_push(fx->fake, &(struct fake_reply){.status = 429, .headers = wait20, .body = quota});
    struct sa_llm_request req = text_request();
    struct sa_llm_result res;
    struct sa_err err = {0};
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), SA_EIO);
    assert_int_equal(res.attempts, 1);
    assert_int_equal(res.failure, SA_LLM_FAIL_QUOTA);
    assert_int_equal(res.http_status, 429);
    assert_null(strstr(err.msg, "exceeded"));
    assert_string_equal(err.msg, "llm: openai answered 429 (insufficient_quota)");
    sa_llm_result_clear(&res);
    assert_int_equal(fake_llm_requests(fx->fake), 1);
}

static void test_deadline(void **state)
{
    struct fixture *fx = *state;
    fake_llm_push(fx->fake, &(struct fake_reply){.hang_ms = 2000});
    struct sa_llm_request req = text_request();
    req.timeout_ms = 300;
    struct sa_llm_result res;
    struct sa_err err = {0};
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), SA_ETIMEDOUT);
    assert_int_equal(res.failure, SA_LLM_FAIL_TIMEOUT);
    assert_null(res.text);
    sa_llm_result_clear(&res);
}

static void test_stream_errors(void **state)
{
    struct fixture *fx = *state;
    /* an error object mid-stream */
    const char *const mid[] = {
        "data: {\"object\":\"chat.completion.chunk\",\"model\":\"gpt-test\",\"choices\":[{"
        "\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n",
        "data: {\"error\":{\"message\":\"The server had an error while processing\","
        "\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n",
        NULL};
    fake_llm_push(fx->fake, &(struct fake_reply){.chunks = mid});
    struct pieces pc = {0};
    struct sa_llm_request req = text_request();
    req.on_text = collect;
    req.on_text_arg = &pc;
    struct sa_llm_result res;
    struct sa_err err = {0};
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), SA_EIO);
    assert_int_equal(res.failure, SA_LLM_FAIL_SERVER_ERROR);
    assert_int_equal(res.attempts, 1);
    assert_string_equal(pc.all, "Hel");
    assert_null(strstr(err.msg, "processing"));
    sa_llm_result_clear(&res);

    /* a rate limit mid-stream */
    const char *const limited[] = {
        "data: {\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\","
        "\"code\":\"rate_limit_exceeded\"}}\n\n",
        NULL};
    fake_llm_push(fx->fake, &(struct fake_reply){.chunks = limited});
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), SA_EIO);
    assert_int_equal(res.failure, SA_LLM_FAIL_RATE_LIMITED);
    sa_llm_result_clear(&res);

    /* the connection dropped mid-stream: not retried, its text may be out */
    memset(&pc, 0, sizeof pc);
    const char *const cut[] = {mid[0], NULL};
    fake_llm_push(fx->fake, &(struct fake_reply){.chunks = cut, .drop = true});
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), SA_EIO);
    assert_int_equal(res.failure, SA_LLM_FAIL_TRANSPORT);
    assert_int_equal(res.attempts, 1);
    assert_string_equal(pc.all, "Hel");
    sa_llm_result_clear(&res);

    /* a stream that ends without [DONE] */
    fake_llm_push(fx->fake, &(struct fake_reply){.chunks = cut});
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), SA_EIO);
    assert_int_equal(res.failure, SA_LLM_FAIL_TRANSPORT);
    sa_llm_result_clear(&res);

    /* the caller stops it */
    char *stream = fake_openai_stream("gpt-test", (const char *const[]){"a", "b", "c", NULL}, true);
    fake_llm_push(fx->fake, &(struct fake_reply){.chunks = (const char *const[]){stream, NULL}});
    free(stream);
    memset(&pc, 0, sizeof pc);
    pc.stop_after = 2;
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), SA_ECANCELED);
    assert_int_equal(res.failure, SA_LLM_FAIL_CANCELED);
    assert_int_equal(pc.n, 2);
    sa_llm_result_clear(&res);
}

static void test_dropped_before_answer(void **state)
{
    struct fixture *fx = *state;
    /* dropped, then answered: retried */
    fake_llm_push(fx->fake, &(struct fake_reply){.drop = true});
    struct sa_llm_request req = text_request();
    struct sa_llm_result res;
    struct sa_err err = {0};
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), 0);
    assert_int_equal(res.attempts, 2);
    sa_llm_result_clear(&res);
    /* dropped every time: transport, after the retries */
    struct sa_llm_provider *p = open_preset(fx->fake, "openai", KEY, 1, 0);
    fake_llm_push(fx->fake, &(struct fake_reply){.drop = true});
    fake_llm_push(fx->fake, &(struct fake_reply){.drop = true});
    assert_int_equal(sa_llm_complete(p, &req, &res, &err), SA_EIO);
    assert_int_equal(res.failure, SA_LLM_FAIL_TRANSPORT);
    assert_int_equal(res.attempts, 2);
    assert_int_equal(res.http_status, 0);
    sa_llm_result_clear(&res);
    sa_llm_close(p);
}

static void test_breaker(void **state)
{
    struct fixture *fx = *state;
    struct sa_llm_provider *p = open_preset(fx->fake, "openai", KEY, 0, 2);
    const char *boom = "{\"error\":{\"message\":\"x\",\"type\":\"server_error\"}}";
    for (int i = 0; i < 3; i++)
        fake_llm_push(fx->fake, &(struct fake_reply){.status = 500, .body = boom});
    struct sa_llm_request req = text_request();
    struct sa_llm_result res;
    struct sa_err err = {0};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(sa_llm_complete(p, &req, &res, &err), SA_EIO);
        assert_int_equal(res.failure, SA_LLM_FAIL_SERVER_ERROR);
        sa_llm_result_clear(&res);
    }
    assert_int_equal(fake_llm_requests(fx->fake), 2);
    assert_int_equal(sa_llm_complete(p, &req, &res, &err), SA_EPRECONDITION);
    assert_int_equal(res.failure, SA_LLM_FAIL_BREAKER_OPEN);
    assert_int_equal(res.attempts, 0);
    sa_llm_result_clear(&res);
    assert_int_equal(fake_llm_requests(fx->fake), 2);
    sa_llm_close(p);
}

/* The key goes in Authorization: Bearer (the fake checks it on every request) and never
 * into err, even when the vendor's message quotes it. */
static void test_key_kept_out_of_errors(void **state)
{
    struct fixture *fx = *state;
    const char *body = "{\"error\":{\"message\":\"Incorrect API key provided: " KEY
                       ". You can find your API key at https://platform.openai.com\","
                       "\"type\":\"invalid_request_error\",\"param\":null,"
                       "\"code\":\"invalid_api_key\"}}";
    fake_llm_push(fx->fake, &(struct fake_reply){.status = 401, .body = body});
    struct sa_llm_request req = text_request();
    struct sa_llm_result res;
    struct sa_err err = {0};
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), SA_EIO);
    assert_int_equal(res.failure, SA_LLM_FAIL_REQUEST_REFUSED);
    assert_null(strstr(err.msg, KEY));
    assert_null(strstr(err.msg, "Incorrect"));
    assert_string_equal(err.msg, "llm: openai answered 401 (invalid_api_key)");
    sa_llm_result_clear(&res);
    /* a client with another key: the fake sees the wrong header and says so */
    struct sa_llm_provider *p = open_preset(fx->fake, "openai", "sk-other", 0, 0);
    fake_llm_expect_key(fx->fake, KEY);
    assert_int_equal(sa_llm_complete(p, &req, &res, &err), 0);
    sa_llm_result_clear(&res);
    sa_llm_close(p);
    const char *why = NULL;
    assert_int_equal(fake_llm_invalid(fx->fake, &why), 1);
    assert_string_equal(why, "Authorization: not Bearer and the configured key");
    /* the fresh fake for teardown's check */
    fake_llm_stop(fx->fake);
    fx->fake = fake_llm_start(FAKE_OPENAI);
    assert_non_null(fx->fake);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_text_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_structured_strict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_structured_vllm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_structured_groq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streamed_awkward_splits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streamed_structured, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota_not_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dropped_before_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_breaker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_kept_out_of_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
