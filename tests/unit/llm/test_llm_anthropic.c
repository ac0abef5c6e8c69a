/* The Anthropic Messages wire format (src/llm/anthropic.c) against the fake vendor
 * (tests/fakes/fake_llm.c), which checks every request against the documented format:
 * text and forced-tool answers, whole and streamed (split inside JSON strings and UTF-8
 * characters, tool input over several input_json_delta events), the retry policy with
 * 529, spend limits, deadlines, mid-stream errors and the breaker. */
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

#define KEY "sk-ant-test-5ecret"

struct fixture {
    struct fake_llm *fake;
    struct sa_llm_provider *p;
};

static struct sa_llm_provider *open_anthropic(struct fake_llm *fake, const char *key,
                                              int max_retries, int breaker)
{
    struct sa_llm_config cfg = {.preset = "anthropic",
                                .base_url = fake_llm_base_url(fake),
                                .api_key = key,
                                .model = "claude-test",
                                .max_retries = max_retries,
                                .max_retry_wait_ms = 2000,
                                .breaker_failures = breaker};
    struct sa_llm_provider *p = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_llm_open(&cfg, &p, &err), 0);
    assert_string_equal(sa_llm_wire(p), "anthropic");
    fake_llm_expect_key(fake, key);
    return p;
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->fake = fake_llm_start(FAKE_ANTHROPIC);
    assert_non_null(fx->fake);
    fx->p = open_anthropic(fx->fake, KEY, 2, 0);
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

static const struct sa_llm_message convo[] = {
    {SA_LLM_USER, "Write to Ann about the demo."},
    {SA_LLM_ASSISTANT, "Which day?"},
    {SA_LLM_USER, "Thursday."},
};

static struct sa_llm_request text_request(void)
{
    return (struct sa_llm_request){.system = "You write short sales emails.",
                                   .messages = convo,
                                   .nmessages = 3,
                                   .max_tokens = 300,
                                   .temperature = 0.5};
}

static json_t *email_schema(void)
{
    json_t *s = json_pack("{s:s, s:{s:{s:s}, s:{s:s}}, s:[s, s], s:b}", "type", "object",
                          "properties", "subject", "type", "string", "body", "type", "string",
                          "required", "subject", "body", "additionalProperties", 0);
    assert_non_null(s);
    return s;
}

struct pieces {
    char all[1024];
    char log[2048];
    int n;
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
    return 0;
}

/* Pushes stream cut where each at[k] begins (after the previous cut), plus shift[k]. */
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
    const char *body =
        "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":"
        "\"claude-test-20250101\",\"content\":[{\"type\":\"text\",\"text\":\"Hi Ann, \"},"
        "{\"type\":\"text\",\"text\":\"Thursday works.\"}],\"stop_reason\":\"end_turn\","
        "\"stop_sequence\":null,\"usage\":{\"input_tokens\":20,\"output_tokens\":8,"
        "\"cache_creation_input_tokens\":3,\"cache_read_input_tokens\":5}}";
    fake_llm_push(fx->fake, &(struct fake_reply){.body = body});
    struct sa_llm_request req = text_request();
    struct sa_llm_result res;
    struct sa_err err = {0};
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), 0);
    assert_string_equal(res.text, "Hi Ann, Thursday works.");
    assert_null(res.json);
    assert_int_equal(res.finish, SA_LLM_FINISH_STOP);
    assert_int_equal(res.usage.input_tokens, 28); /* 20 + the cache's 5 read and 3 written */
    assert_int_equal(res.usage.cached_tokens, 5);
    assert_int_equal(res.usage.output_tokens, 8);
    assert_string_equal(res.model, "claude-test-20250101");
    assert_int_equal(res.attempts, 1);
    assert_int_equal(res.http_status, 200);
    sa_llm_result_clear(&res);

    json_t *sent = fake_llm_request(fx->fake, 0);
    assert_string_equal(json_string_value(json_object_get(sent, "model")), "claude-test");
    assert_int_equal(json_integer_value(json_object_get(sent, "max_tokens")), 300);
    assert_string_equal(json_string_value(json_object_get(sent, "system")),
                        "You write short sales emails.");
    assert_true(json_number_value(json_object_get(sent, "temperature")) == 0.5);
    json_t *msgs = json_object_get(sent, "messages");
    assert_int_equal(json_array_size(msgs), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "role")),
                        "assistant");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 2), "content")),
                        "Thursday.");
    assert_null(json_object_get(sent, "tools"));
    assert_null(json_object_get(sent, "stream"));

    /* no system, no temperature; max_tokens is always sent */
    req = (struct sa_llm_request){.messages = convo, .nmessages = 1, .temperature = -1};
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), 0);
    assert_string_equal(res.text, "fake answer");
    sa_llm_result_clear(&res);
    sent = fake_llm_request(fx->fake, 1);
    assert_null(json_object_get(sent, "system"));
    assert_null(json_object_get(sent, "temperature"));
    assert_int_equal(json_integer_value(json_object_get(sent, "max_tokens")), 1024);
}

static void test_structured_tool(void **state)
{
    struct fixture *fx = *state;
    json_t *schema = email_schema();
    struct sa_llm_request req = text_request();
    req.schema = schema;
    req.schema_name = "email";
    struct sa_llm_result res;
    struct sa_err err = {0};
    /* the fake's default: a tool_use with the required strings */
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), 0);
    assert_int_equal(res.finish, SA_LLM_FINISH_TOOL);
    assert_string_equal(json_string_value(json_object_get(res.json, "subject")), "fake");
    sa_llm_result_clear(&res);
    json_t *sent = fake_llm_request(fx->fake, 0);
    json_t *tool = json_array_get(json_object_get(sent, "tools"), 0);
    assert_string_equal(json_string_value(json_object_get(tool, "name")), "email");
    assert_true(json_equal(json_object_get(tool, "input_schema"), schema));
    json_t *choice = json_object_get(sent, "tool_choice");
    assert_string_equal(json_string_value(json_object_get(choice, "type")), "tool");
    assert_string_equal(json_string_value(json_object_get(choice, "name")), "email");

    /* a given input, with UTF-8 */
    json_t *input = json_pack("{s:s, s:s}", "subject", "Gr\xc3\xbc\xc3\x9f\x65", "body",
                              "Thursday \xe2\x80\x94 10:00");
    char *body = fake_anthropic_tool("claude-test", "email", input, 50, 20);
    fake_llm_push(fx->fake, &(struct fake_reply){.body = body});
    free(body);
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), 0);
    assert_true(json_equal(res.json, input));
    assert_int_equal(res.usage.input_tokens, 50);
    assert_int_equal(res.usage.output_tokens, 20);
    sa_llm_result_clear(&res);
    json_decref(input);

    /* no name given: the tool is "answer" */
    req.schema_name = NULL;
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), 0);
    assert_non_null(res.json);
    sa_llm_result_clear(&res);
    choice = json_object_get(fake_llm_request(fx->fake, 2), "tool_choice");
    assert_string_equal(json_string_value(json_object_get(choice, "name")), "answer");
    json_decref(schema);
}

static void test_streamed_text_awkward_splits(void **state)
{
    struct fixture *fx = *state;
    const char *const pieces[] = {"Gr\xc3\xbc\xc3\x9f\x65", ", \"Ann\" \xe2\x80\x94 ", "see you",
                                  NULL};
    char *stream = fake_anthropic_stream("claude-test-2", NULL, pieces, 25, 14);
    const char *const at[] = {"\xc3\xbc", "Ann", "\xe2\x80\x94", "see you", "message_stop", NULL};
    const int shift[] = {1, 2, 1, 3, 4};
    push_cut(fx->fake, stream, at, shift, false);
    free(stream);
    struct pieces pc = {0};
    struct sa_llm_request req = text_request();
    req.on_text = collect;
    req.on_text_arg = &pc;
    struct sa_llm_result res;
    struct sa_err err = {0};
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), 0);
    const char *want = "Gr\xc3\xbc\xc3\x9f\x65, \"Ann\" \xe2\x80\x94 see you";
    assert_string_equal(res.text, want);
    assert_string_equal(pc.all, want);
    assert_int_equal(pc.n, 3);
    assert_string_equal(pc.log, "[Gr\xc3\xbc\xc3\x9f\x65][, \"Ann\" \xe2\x80\x94 ][see you]");
    assert_int_equal(res.finish, SA_LLM_FINISH_STOP);
    assert_int_equal(res.usage.input_tokens, 25);  /* message_start */
    assert_int_equal(res.usage.output_tokens, 14); /* message_delta, cumulative */
    assert_string_equal(res.model, "claude-test-2");
    assert_true(res.first_token_seconds > 0 && res.first_token_seconds <= res.seconds);
    sa_llm_result_clear(&res);
    assert_true(json_is_true(json_object_get(fake_llm_request(fx->fake, 0), "stream")));
}

/* The tool's input over several input_json_delta events, each cut across chunks. */
static void test_streamed_tool_input(void **state)
{
    struct fixture *fx = *state;
    const char *const pieces[] = {
        "", "{\"subj", "ect\": \"Gr\xc3\xbc", "\xc3\x9f\x65\", \"bo", "dy\": \"Thursday\"}", NULL};
    char *stream = fake_anthropic_stream("claude-test", "email", pieces, 40, 22);
    const char *const at[] = {"subj", "\xc3\xbc", "\\\"bo", "Thursday", NULL};
    const int shift[] = {3, 1, 2, 4};
    push_cut(fx->fake, stream, at, shift, false);
    free(stream);
    json_t *schema = email_schema();
    struct pieces pc = {0};
    struct sa_llm_request req = text_request();
    req.schema = schema;
    req.schema_name = "email";
    req.on_text = collect;
    req.on_text_arg = &pc;
    struct sa_llm_result res;
    struct sa_err err = {0};
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), 0);
    assert_int_equal(pc.n, 4); /* the empty first partial_json is not relayed */
    assert_string_equal(pc.all,
                        "{\"subject\": \"Gr\xc3\xbc\xc3\x9f\x65\", \"body\": \"Thursday\"}");
    assert_string_equal(res.text, pc.all);
    assert_string_equal(json_string_value(json_object_get(res.json, "subject")),
                        "Gr\xc3\xbc\xc3\x9f\x65");
    assert_string_equal(json_string_value(json_object_get(res.json, "body")), "Thursday");
    assert_int_equal(res.finish, SA_LLM_FINISH_TOOL);
    assert_int_equal(res.usage.output_tokens, 22);
    sa_llm_result_clear(&res);
    json_decref(schema);
}

/* message_delta repeats some counts cumulatively; the cache's counts stay in input_tokens.
 * A temperature past Anthropic's 1 is sent as 1. */
static void test_stream_usage_and_temperature(void **state)
{
    struct fixture *fx = *state;
    const char *stream =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\","
        "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-test\",\"content\":"
        "[],\"stop_reason\":null,\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":4,"
        "\"cache_creation_input_tokens\":2,\"output_tokens\":1}}}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
        "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
        "\"max_tokens\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":9,"
        "\"input_tokens\":10,\"cache_read_input_tokens\":4}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    fake_llm_push(fx->fake, &(struct fake_reply){.chunks = (const char *const[]){stream, NULL}});
    struct pieces pc = {0};
    struct sa_llm_request req = text_request();
    req.temperature = 1.5;
    req.on_text = collect;
    req.on_text_arg = &pc;
    struct sa_llm_result res;
    struct sa_err err = {0};
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), 0);
    assert_string_equal(res.text, "Hi");
    assert_int_equal(res.finish, SA_LLM_FINISH_LENGTH);
    assert_int_equal(res.usage.input_tokens, 16);
    assert_int_equal(res.usage.cached_tokens, 4);
    assert_int_equal(res.usage.output_tokens, 9);
    sa_llm_result_clear(&res);
    json_t *sent = fake_llm_request(fx->fake, 0);
    assert_true(json_number_value(json_object_get(sent, "temperature")) == 1.0);
}

static void expect_invalid(struct fixture *fx, const struct sa_llm_request *req)
{
    struct sa_llm_result res;
    struct sa_err err = {0};
    assert_int_equal(sa_llm_complete(fx->p, req, &res, &err), SA_EINVAL);
    assert_int_equal(res.failure, SA_LLM_FAIL_INVALID_OUTPUT);
    assert_null(res.json);
    assert_int_equal(res.attempts, 1);
    sa_llm_result_clear(&res);
}

static void test_invalid_output(void **state)
{
    struct fixture *fx = *state;
    json_t *schema = email_schema();
    struct sa_llm_request req = text_request();
    req.schema = schema;
    /* a tool input against the schema */
    json_t *input = json_pack("{s:i, s:s}", "subject", 5, "body", "x");
    char *body = fake_anthropic_tool("claude-test", "answer", input, 1, 1);
    fake_llm_push(fx->fake, &(struct fake_reply){.body = body});
    free(body);
    json_decref(input);
    expect_invalid(fx, &req);
    /* prose instead of the tool */
    body = fake_anthropic_text("claude-test", "Sure, here it is: {\"subject\"", 1, 1);
    fake_llm_push(fx->fake, &(struct fake_reply){.body = body});
    free(body);
    expect_invalid(fx, &req);
    /* a streamed tool input that is not JSON */
    struct pieces pc = {0};
    req.on_text = collect;
    req.on_text_arg = &pc;
    char *stream = fake_anthropic_stream(
        "claude-test", "answer", (const char *const[]){"{\"subject\": \"a\", ", NULL}, 1, 1);
    fake_llm_push(fx->fake, &(struct fake_reply){.chunks = (const char *const[]){stream, NULL}});
    free(stream);
    expect_invalid(fx, &req);
    json_decref(schema);
}

static void test_retries(void **state)
{
    struct fixture *fx = *state;
    const char *const wait20[] = {"retry-after-ms: 20", NULL};
    const char *rate = "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":"
                       "\"Number of requests has exceeded your rate limit\"},\"request_id\":\"r\"}";
    fake_llm_push(fx->fake, &(struct fake_reply){.status = 429, .headers = wait20, .body = rate});
    struct sa_llm_request req = text_request();
    struct sa_llm_result res;
    struct sa_err err = {0};
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), 0);
    assert_int_equal(res.attempts, 2);
    sa_llm_result_clear(&res);

    const char *over = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
                       "\"Overloaded\"}}";
    fake_llm_push(fx->fake, &(struct fake_reply){.status = 529, .body = over}); /* backoff */
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), 0);
    assert_int_equal(res.attempts, 2);
    sa_llm_result_clear(&res);

    const char *api = "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":"
                      "\"Internal server error\"}}";
    fake_llm_push(fx->fake, &(struct fake_reply){.status = 500, .headers = wait20, .body = api});
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), 0);
    assert_int_equal(res.attempts, 2);
    sa_llm_result_clear(&res);

    for (int i = 0; i < 3; i++)
        fake_llm_push(fx->fake,
                      &(struct fake_reply){.status = 529, .headers = wait20, .body = over});
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), SA_EIO);
    assert_int_equal(res.attempts, 3);
    assert_int_equal(res.failure, SA_LLM_FAIL_SERVER_ERROR);
    assert_int_equal(res.http_status, 529);
    assert_string_equal(err.msg, "llm: anthropic answered 529 (overloaded_error)");
    sa_llm_result_clear(&res);
    assert_int_equal(fake_llm_requests(fx->fake), 9);
}

static void test_spend_limits_not_retried(void **state)
{
    struct fixture *fx = *state;
    const char *spent = "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":"
                        "\"You have reached your specified API usage limits\",\"details\":{"
                        "\"error_code\":\"enforced_spend_limit_reached\"}}}";
    const char *const wait20[] = {"retry-after-ms: 20", NULL};
    fake_llm_push(fx->fake, &(struct fake_reply){.status = 429, .headers = wait20, .body = spent});
    struct sa_llm_request req = text_request();
    struct sa_llm_result res;
    struct sa_err err = {0};
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), SA_EIO);
    assert_int_equal(res.attempts, 1);
    assert_int_equal(res.failure, SA_LLM_FAIL_QUOTA);
    assert_null(strstr(err.msg, "usage limits"));
    sa_llm_result_clear(&res);

    const char *billing = "{\"type\":\"error\",\"error\":{\"type\":\"billing_error\",\"message\":"
                          "\"Your credit balance is too low\"}}";
    fake_llm_push(fx->fake, &(struct fake_reply){.status = 402, .body = billing});
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), SA_EIO);
    assert_int_equal(res.attempts, 1);
    assert_int_equal(res.failure, SA_LLM_FAIL_QUOTA);
    assert_string_equal(err.msg, "llm: anthropic answered 402 (billing_error)");
    sa_llm_result_clear(&res);
    assert_int_equal(fake_llm_requests(fx->fake), 2);
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
    char *stream =
        fake_anthropic_stream("claude-test", NULL, (const char *const[]){"Hel", "lo", NULL}, 5, 2);
    char *stop = strstr(stream, "event: content_block_stop");
    assert_non_null(stop);
    *stop = '\0'; /* the stream up to the second delta */
    const char *error = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                        "\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
    fake_llm_push(fx->fake,
                  &(struct fake_reply){.chunks = (const char *const[]){stream, error, NULL}});
    struct pieces pc = {0};
    struct sa_llm_request req = text_request();
    req.on_text = collect;
    req.on_text_arg = &pc;
    struct sa_llm_result res;
    struct sa_err err = {0};
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), SA_EIO);
    assert_int_equal(res.failure, SA_LLM_FAIL_SERVER_ERROR);
    assert_int_equal(res.attempts, 1);
    assert_int_equal(res.http_status, 200);
    assert_string_equal(pc.all, "Hello");
    assert_string_equal(err.msg, "llm: anthropic sent an error mid-stream (overloaded_error)");
    sa_llm_result_clear(&res);

    /* dropped mid-stream: not retried */
    memset(&pc, 0, sizeof pc);
    fake_llm_push(fx->fake, &(struct fake_reply){.chunks = (const char *const[]){stream, NULL},
                                                 .drop = true});
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), SA_EIO);
    assert_int_equal(res.failure, SA_LLM_FAIL_TRANSPORT);
    assert_int_equal(res.attempts, 1);
    assert_string_equal(pc.all, "Hello");
    sa_llm_result_clear(&res);

    /* ended without message_stop */
    fake_llm_push(fx->fake, &(struct fake_reply){.chunks = (const char *const[]){stream, NULL}});
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), SA_EIO);
    assert_int_equal(res.failure, SA_LLM_FAIL_TRANSPORT);
    sa_llm_result_clear(&res);
    free(stream);
}

static void test_dropped_before_answer(void **state)
{
    struct fixture *fx = *state;
    fake_llm_push(fx->fake, &(struct fake_reply){.drop = true});
    struct sa_llm_request req = text_request();
    struct sa_llm_result res;
    struct sa_err err = {0};
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), 0);
    assert_int_equal(res.attempts, 2);
    sa_llm_result_clear(&res);
    struct sa_llm_provider *p = open_anthropic(fx->fake, KEY, 1, 0);
    fake_llm_push(fx->fake, &(struct fake_reply){.drop = true});
    fake_llm_push(fx->fake, &(struct fake_reply){.drop = true});
    assert_int_equal(sa_llm_complete(p, &req, &res, &err), SA_EIO);
    assert_int_equal(res.failure, SA_LLM_FAIL_TRANSPORT);
    assert_int_equal(res.attempts, 2);
    sa_llm_result_clear(&res);
    sa_llm_close(p);
}

static void test_breaker(void **state)
{
    struct fixture *fx = *state;
    struct sa_llm_provider *p = open_anthropic(fx->fake, KEY, 0, 2);
    const char *over = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
                       "\"Overloaded\"}}";
    for (int i = 0; i < 3; i++)
        fake_llm_push(fx->fake, &(struct fake_reply){.status = 529, .body = over});
    struct sa_llm_request req = text_request();
    struct sa_llm_result res;
    struct sa_err err = {0};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(sa_llm_complete(p, &req, &res, &err), SA_EIO);
        sa_llm_result_clear(&res);
    }
    assert_int_equal(sa_llm_complete(p, &req, &res, &err), SA_EPRECONDITION);
    assert_int_equal(res.failure, SA_LLM_FAIL_BREAKER_OPEN);
    assert_int_equal(res.attempts, 0);
    sa_llm_result_clear(&res);
    assert_int_equal(fake_llm_requests(fx->fake), 2);
    sa_llm_close(p);
}

/* x-api-key carries the key (the fake checks it on every request; none without one), and
 * it never reaches err even when the vendor's message quotes it. */
static void test_key_header(void **state)
{
    struct fixture *fx = *state;
    const char *body = "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\","
                       "\"message\":\"invalid x-api-key " KEY "\"}}";
    fake_llm_push(fx->fake, &(struct fake_reply){.status = 401, .body = body});
    struct sa_llm_request req = text_request();
    struct sa_llm_result res;
    struct sa_err err = {0};
    assert_int_equal(sa_llm_complete(fx->p, &req, &res, &err), SA_EIO);
    assert_int_equal(res.failure, SA_LLM_FAIL_REQUEST_REFUSED);
    assert_int_equal(res.attempts, 1);
    assert_null(strstr(err.msg, KEY));
    assert_string_equal(err.msg, "llm: anthropic answered 401 (authentication_error)");
    sa_llm_result_clear(&res);

    struct sa_llm_provider *p = open_anthropic(fx->fake, NULL, 0, 0); /* no key: none sent */
    assert_int_equal(sa_llm_complete(p, &req, &res, &err), 0);
    sa_llm_result_clear(&res);
    sa_llm_close(p);

    p = open_anthropic(fx->fake, "sk-ant-other", 0, 0);
    fake_llm_expect_key(fx->fake, KEY);
    assert_int_equal(sa_llm_complete(p, &req, &res, &err), 0);
    sa_llm_result_clear(&res);
    sa_llm_close(p);
    const char *why = NULL;
    assert_int_equal(fake_llm_invalid(fx->fake, &why), 1);
    assert_string_equal(why, "x-api-key: not the configured key");
    fake_llm_stop(fx->fake); /* a fresh fake for teardown's check */
    fx->fake = fake_llm_start(FAKE_ANTHROPIC);
    assert_non_null(fx->fake);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_text_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_structured_tool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streamed_text_awkward_splits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streamed_tool_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_usage_and_temperature, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spend_limits_not_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dropped_before_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_breaker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_header, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
