/* The fake LLM vendor (fake_llm.h), on the fakes' shared server (fake_http.h). */
#include "fake_llm.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fake_http.h"

#define BODY_MAX ((size_t)8 << 20)

struct reply {
    int status;
    char **headers; /* NULL-terminated */
    char *body;
    char **chunks; /* NULL-terminated, or NULL */
    int gap_ms, hang_ms;
    bool drop;
    char *for_schema; /* only for a request with this schema name, or NULL: any */
    struct reply *next;
};

/* Stream piece `chunk` of the reply to request `req` was written whole at ns. */
struct written {
    size_t req, chunk;
    uint64_t ns;
};

struct fake_llm {
    enum fake_wire wire;
    struct fake_http *http;
    char base_url[64];
    pthread_mutex_t lock;
    char *key;
    struct reply *head, *tail;
    json_t *requests;        /* array of bodies (null when not JSON) */
    struct written *written; /* when each of them was, in the order they were */
    size_t nwritten, capwritten;
};

/* ---- small helpers ------------------------------------------------------------------- */

static void *xalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p)
        abort();
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s);
    char *p = xalloc(n + 1);
    memcpy(p, s, n + 1);
    return p;
}

static char **copy_list(const char *const *list)
{
    if (!list)
        return NULL;
    size_t n = 0;
    while (list[n])
        n++;
    char **out = xalloc((n + 1) * sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = xstrdup(list[i]);
    return out;
}

static void free_list(char **list)
{
    for (size_t i = 0; list && list[i]; i++)
        free(list[i]);
    free(list);
}

static void reply_free(struct reply *r)
{
    if (!r)
        return;
    free_list(r->headers);
    free_list(r->chunks);
    free(r->body);
    free(r->for_schema);
    free(r);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static char *dump(json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (!s)
        abort();
    return s;
}

/* ---- answer bodies ------------------------------------------------------------------- */

char *fake_openai_answer(const char *model, const char *content, long prompt_tokens,
                         long completion_tokens, long cached_tokens)
{
    return dump(json_pack(
        "{s:s, s:s, s:i, s:s, s:[{s:i, s:{s:s, s:s, s:n}, s:s}], s:{s:I, s:I, s:I, s:{s:I}}}", "id",
        "chatcmpl-fake", "object", "chat.completion", "created", 1764633600, "model", model,
        "choices", "index", 0, "message", "role", "assistant", "content", content, "refusal",
        "finish_reason", "stop", "usage", "prompt_tokens", (json_int_t)prompt_tokens,
        "completion_tokens", (json_int_t)completion_tokens, "total_tokens",
        (json_int_t)prompt_tokens + (json_int_t)completion_tokens, "prompt_tokens_details",
        "cached_tokens", (json_int_t)cached_tokens));
}

static void append(char **s, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void append(char **s, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = realloc(*s, *len + (size_t)n + 1);
    if (!p)
        abort();
    va_start(ap, fmt);
    vsnprintf(p + *len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *s = p;
    *len += (size_t)n;
}

static void append_event(char **s, size_t *len, const char *event, json_t *data)
{
    char *d = dump(data);
    if (event)
        append(s, len, "event: %s\n", event);
    append(s, len, "data: %s\n\n", d);
    free(d);
}

char *fake_openai_stream(const char *model, const char *const *pieces, bool usage)
{
    char *s = NULL;
    size_t len = 0;
    append_event(&s, &len, NULL,
                 json_pack("{s:s, s:s, s:s, s:[{s:i, s:{s:s, s:s}, s:n}]}", "id", "chatcmpl-f",
                           "object", "chat.completion.chunk", "model", model, "choices", "index", 0,
                           "delta", "role", "assistant", "content", "", "finish_reason"));
    for (size_t i = 0; pieces && pieces[i]; i++)
        append_event(&s, &len, NULL,
                     json_pack("{s:s, s:s, s:s, s:[{s:i, s:{s:s}, s:n}]}", "id", "chatcmpl-f",
                               "object", "chat.completion.chunk", "model", model, "choices",
                               "index", 0, "delta", "content", pieces[i], "finish_reason"));
    append_event(&s, &len, NULL,
                 json_pack("{s:s, s:s, s:s, s:[{s:i, s:{}, s:s}]}", "id", "chatcmpl-f", "object",
                           "chat.completion.chunk", "model", model, "choices", "index", 0, "delta",
                           "finish_reason", "stop"));
    if (usage)
        append_event(&s, &len, NULL,
                     json_pack("{s:s, s:s, s:s, s:[], s:{s:i, s:i, s:i}}", "id", "chatcmpl-f",
                               "object", "chat.completion.chunk", "model", model, "choices",
                               "usage", "prompt_tokens", 11, "completion_tokens", 7, "total_tokens",
                               18));
    append(&s, &len, "data: [DONE]\n\n");
    return s;
}

char *fake_anthropic_text(const char *model, const char *text, long input_tokens,
                          long output_tokens)
{
    return dump(json_pack("{s:s, s:s, s:s, s:s, s:[{s:s, s:s}], s:s, s:n, s:{s:I, s:I, s:i, "
                          "s:i}}",
                          "id", "msg_fake", "type", "message", "role", "assistant", "model", model,
                          "content", "type", "text", "text", text, "stop_reason", "end_turn",
                          "stop_sequence", "usage", "input_tokens", (json_int_t)input_tokens,
                          "output_tokens", (json_int_t)output_tokens, "cache_creation_input_tokens",
                          0, "cache_read_input_tokens", 0));
}

char *fake_anthropic_tool(const char *model, const char *name, const json_t *input,
                          long input_tokens, long output_tokens)
{
    return dump(json_pack("{s:s, s:s, s:s, s:s, s:[{s:s, s:s, s:s, s:O}], s:s, s:n, s:{s:I, "
                          "s:I}}",
                          "id", "msg_fake", "type", "message", "role", "assistant", "model", model,
                          "content", "type", "tool_use", "id", "toolu_fake", "name", name, "input",
                          input, "stop_reason", "tool_use", "stop_sequence", "usage",
                          "input_tokens", (json_int_t)input_tokens, "output_tokens",
                          (json_int_t)output_tokens));
}

char *fake_anthropic_stream(const char *model, const char *tool, const char *const *pieces,
                            long input_tokens, long output_tokens)
{
    char *s = NULL;
    size_t len = 0;
    append_event(&s, &len, "message_start",
                 json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:[], s:n, s:{s:I, s:i, s:i}}}", "type",
                           "message_start", "message", "id", "msg_fake", "type", "message", "role",
                           "assistant", "model", model, "content", "stop_reason", "usage",
                           "input_tokens", (json_int_t)input_tokens, "output_tokens", 1,
                           "cache_read_input_tokens", 0));
    json_t *block = tool ? json_pack("{s:s, s:s, s:s, s:{}}", "type", "tool_use", "id",
                                     "toolu_fake", "name", tool, "input")
                         : json_pack("{s:s, s:s}", "type", "text", "text", "");
    append_event(&s, &len, "content_block_start",
                 json_pack("{s:s, s:i, s:o}", "type", "content_block_start", "index", 0,
                           "content_block", block));
    append(&s, &len, "event: ping\ndata: {\"type\": \"ping\"}\n\n");
    for (size_t i = 0; pieces && pieces[i]; i++) {
        json_t *delta =
            tool ? json_pack("{s:s, s:s}", "type", "input_json_delta", "partial_json", pieces[i])
                 : json_pack("{s:s, s:s}", "type", "text_delta", "text", pieces[i]);
        append_event(&s, &len, "content_block_delta",
                     json_pack("{s:s, s:i, s:o}", "type", "content_block_delta", "index", 0,
                               "delta", delta));
    }
    append_event(&s, &len, "content_block_stop",
                 json_pack("{s:s, s:i}", "type", "content_block_stop", "index", 0));
    append_event(&s, &len, "message_delta",
                 json_pack("{s:s, s:{s:s, s:n}, s:{s:I}}", "type", "message_delta", "delta",
                           "stop_reason", tool ? "tool_use" : "end_turn", "stop_sequence", "usage",
                           "output_tokens", (json_int_t)output_tokens));
    append_event(&s, &len, "message_stop", json_pack("{s:s}", "type", "message_stop"));
    return s;
}

/* ---- the default answer -------------------------------------------------------------- */

/* A value valid against schema, as far as the answer schemas go: required properties
 * filled by type ("fake" for strings, an enum's first value). */
static json_t *sample(const json_t *schema)
{
    const json_t *en = json_object_get(schema, "enum");
    if (json_array_size(en))
        return json_incref(json_array_get(en, 0));
    const json_t *t = json_object_get(schema, "type");
    const char *type =
        json_is_array(t) ? json_string_value(json_array_get(t, 0)) : json_string_value(t);
    if (!type || strcmp(type, "string") == 0)
        return json_string("fake");
    if (strcmp(type, "integer") == 0 || strcmp(type, "number") == 0) {
        const json_t *min = json_object_get(schema, "minimum");
        return json_integer(json_is_number(min) ? (json_int_t)json_number_value(min) : 0);
    }
    if (strcmp(type, "boolean") == 0)
        return json_false();
    if (strcmp(type, "null") == 0)
        return json_null();
    if (strcmp(type, "array") == 0) {
        json_t *a = json_array();
        long min = (long)json_integer_value(json_object_get(schema, "minItems"));
        for (long i = 0; i < min; i++)
            json_array_append_new(a, sample(json_object_get(schema, "items")));
        return a;
    }
    json_t *o = json_object();
    const json_t *props = json_object_get(schema, "properties");
    const json_t *req;
    size_t i;
    json_array_foreach(json_object_get(schema, "required"), i, req)
    {
        const char *k = json_string_value(req);
        if (k)
            json_object_set_new(o, k, sample(json_object_get(props, k)));
    }
    return o;
}

/* The schema a request asked its answer to follow, or NULL (borrowed, or *owned new). */
static const json_t *asked_schema(const struct fake_llm *f, const json_t *body, json_t **owned)
{
    *owned = NULL;
    if (f->wire == FAKE_ANTHROPIC)
        return json_object_get(json_array_get(json_object_get(body, "tools"), 0), "input_schema");
    const json_t *rf = json_object_get(body, "response_format");
    const char *type = json_string_value(json_object_get(rf, "type"));
    if (type && strcmp(type, "json_schema") == 0)
        return json_object_get(json_object_get(rf, "json_schema"), "schema");
    if (!type || strcmp(type, "json_object") != 0)
        return NULL;
    const json_t *m;
    size_t i;
    json_array_foreach(json_object_get(body, "messages"), i, m)
    {
        const char *c = json_string_value(json_object_get(m, "content"));
        const char *at = c ? strstr(c, "JSON Schema: ") : NULL;
        if (at && (*owned = json_loads(at + 13, JSON_DISABLE_EOF_CHECK, NULL)))
            return *owned;
    }
    return *owned = json_object();
}

static struct reply *default_reply(const struct fake_llm *f, const json_t *body)
{
    struct reply *r = xalloc(sizeof *r);
    r->status = 200;
    const char *model = json_string_value(json_object_get(body, "model"));
    model = model ? model : "fake-model";
    bool stream = json_is_true(json_object_get(body, "stream"));
    json_t *owned = NULL;
    const json_t *schema = asked_schema(f, body, &owned);
    json_t *value = schema ? sample(schema) : NULL;
    char *text = value ? dump(json_incref(value)) : xstrdup("fake answer");
    const char *tool = NULL;
    if (f->wire == FAKE_ANTHROPIC && schema)
        tool = json_string_value(
            json_object_get(json_array_get(json_object_get(body, "tools"), 0), "name"));
    /* streamed: the text in two pieces, cut in the middle */
    size_t half = strlen(text) / 2;
    char *first = strndup(text, half);
    if (!first)
        abort();
    const char *pieces[] = {first, text + half, NULL};
    char *out;
    if (f->wire == FAKE_OPENAI)
        out = stream ? fake_openai_stream(model, pieces,
                                          json_is_object(json_object_get(body, "stream_options")))
                     : fake_openai_answer(model, text, 11, 7, 0);
    else if (stream)
        out = fake_anthropic_stream(model, tool, pieces, 11, 7);
    else
        out = tool ? fake_anthropic_tool(model, tool, value, 11, 7)
                   : fake_anthropic_text(model, text, 11, 7);
    if (stream) {
        r->chunks = xalloc(2 * sizeof *r->chunks);
        r->chunks[0] = out;
    } else {
        r->body = out;
    }
    free(first);
    free(text);
    json_decref(value);
    json_decref(owned);
    return r;
}

/* ---- request validation -------------------------------------------------------------- */

struct check {
    char why[512];
};

static bool fail(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(struct check *c, const char *fmt, ...)
{
    if (!c->why[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->why, sizeof c->why, fmt, ap);
        va_end(ap);
    }
    return false;
}

static bool only_keys(struct check *c, const json_t *o, const char *what,
                      const char *const *allowed)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(k, allowed[i]) == 0;
        if (!ok)
            return fail(c, "%s: unknown field \"%s\"", what, k);
    }
    return true;
}

static bool good_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
            return false;
    return true;
}

static bool check_messages(struct check *c, const json_t *msgs, const char *const *roles)
{
    if (!json_is_array(msgs) || !json_array_size(msgs))
        return fail(c, "messages: a non-empty array is required");
    const json_t *m;
    size_t i;
    json_array_foreach(msgs, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        bool known = false;
        for (size_t k = 0; role && roles[k] && !known; k++)
            known = strcmp(role, roles[k]) == 0;
        if (!known)
            return fail(c, "messages[%zu].role: \"%s\" is not a role", i, role ? role : "");
        const json_t *content = json_object_get(m, "content");
        if (!json_is_string(content) && !json_is_array(content))
            return fail(c, "messages[%zu].content: a string or an array is required", i);
        if (i && strcmp(role, "system") == 0)
            return fail(c, "messages[%zu]: a system message after the first", i);
    }
    return true;
}

static bool check_openai_format(struct check *c, const json_t *body, const json_t *rf)
{
    static const char *const rf_keys[] = {"type", "json_schema", NULL};
    static const char *const js_keys[] = {"name", "description", "schema", "strict", NULL};
    if (!json_is_object(rf) || !only_keys(c, rf, "response_format", rf_keys))
        return fail(c, "response_format: an object is required");
    const char *type = json_string_value(json_object_get(rf, "type"));
    if (type && strcmp(type, "text") == 0)
        return true;
    if (type && strcmp(type, "json_object") == 0) {
        /* OpenAI refuses JSON mode unless the word JSON is in the context */
        const json_t *m;
        size_t i;
        json_array_foreach(json_object_get(body, "messages"), i, m)
        {
            const char *s = json_string_value(json_object_get(m, "content"));
            if (s && strstr(s, "JSON"))
                return true;
        }
        return fail(c, "response_format json_object: no message mentions JSON");
    }
    if (!type || strcmp(type, "json_schema") != 0)
        return fail(c, "response_format.type: not json_schema, json_object or text");
    const json_t *js = json_object_get(rf, "json_schema");
    if (!json_is_object(js) || !only_keys(c, js, "response_format.json_schema", js_keys))
        return fail(c, "response_format.json_schema: an object is required");
    if (!good_name(json_string_value(json_object_get(js, "name"))))
        return fail(c, "response_format.json_schema.name: [a-zA-Z0-9_-]{1,64} required");
    if (!json_is_object(json_object_get(js, "schema")))
        return fail(c, "response_format.json_schema.schema: an object is required");
    const json_t *strict = json_object_get(js, "strict");
    if (strict && !json_is_boolean(strict))
        return fail(c, "response_format.json_schema.strict: a boolean");
    return true;
}

static bool check_openai(struct fake_llm *f, struct check *c, struct MHD_Connection *conn,
                         const json_t *body)
{
    static const char *const keys[] = {"model",
                                       "messages",
                                       "max_completion_tokens",
                                       "temperature",
                                       "top_p",
                                       "stop",
                                       "seed",
                                       "n",
                                       "stream",
                                       "stream_options",
                                       "response_format",
                                       "tools",
                                       "tool_choice",
                                       "parallel_tool_calls",
                                       "user",
                                       NULL};
    static const char *const roles[] = {"system", "developer", "user", "assistant", "tool", NULL};
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (f->key) {
        char want[512];
        snprintf(want, sizeof want, "Bearer %s", f->key);
        if (!auth || strcmp(auth, want) != 0)
            return fail(c, "Authorization: not Bearer and the configured key");
    } else if (auth) {
        return fail(c, "Authorization: sent without a key configured");
    }
    if (json_object_get(body, "max_tokens"))
        return fail(c, "max_tokens: deprecated, max_completion_tokens is the field");
    if (!only_keys(c, body, "body", keys))
        return false;
    const char *model = json_string_value(json_object_get(body, "model"));
    if (!model || !*model)
        return fail(c, "model: a non-empty string is required");
    if (!check_messages(c, json_object_get(body, "messages"), roles))
        return false;
    const json_t *mct = json_object_get(body, "max_completion_tokens");
    if (mct && (!json_is_integer(mct) || json_integer_value(mct) < 1))
        return fail(c, "max_completion_tokens: a positive integer");
    const json_t *t = json_object_get(body, "temperature");
    if (t && (!json_is_number(t) || json_number_value(t) < 0 || json_number_value(t) > 2))
        return fail(c, "temperature: a number in [0, 2]");
    const json_t *stream = json_object_get(body, "stream");
    if (stream && !json_is_boolean(stream))
        return fail(c, "stream: a boolean");
    const json_t *so = json_object_get(body, "stream_options");
    if (so) {
        static const char *const so_keys[] = {"include_usage", "include_obfuscation", NULL};
        if (!json_is_true(stream))
            return fail(c, "stream_options: only with stream: true");
        if (!json_is_object(so) || !only_keys(c, so, "stream_options", so_keys) ||
            !json_is_boolean(json_object_get(so, "include_usage")))
            return fail(c, "stream_options: {include_usage: boolean}");
    }
    const json_t *rf = json_object_get(body, "response_format");
    return !rf || check_openai_format(c, body, rf);
}

static bool check_tools(struct check *c, const json_t *body)
{
    static const char *const tool_keys[] = {
        "name", "description", "input_schema", "strict", "type", "cache_control", NULL};
    const json_t *tools = json_object_get(body, "tools");
    const json_t *choice = json_object_get(body, "tool_choice");
    if (tools && (!json_is_array(tools) || !json_array_size(tools)))
        return fail(c, "tools: a non-empty array");
    const json_t *tool;
    size_t i;
    json_array_foreach(tools, i, tool)
    {
        if (!json_is_object(tool) || !only_keys(c, tool, "tools[]", tool_keys))
            return fail(c, "tools[%zu]: an object", i);
        if (!good_name(json_string_value(json_object_get(tool, "name"))))
            return fail(c, "tools[%zu].name: [a-zA-Z0-9_-]{1,64} required", i);
        const json_t *d = json_object_get(tool, "description");
        if (d && !json_is_string(d))
            return fail(c, "tools[%zu].description: a string", i);
        const json_t *is = json_object_get(tool, "input_schema");
        const char *type = json_string_value(json_object_get(is, "type"));
        if (!json_is_object(is) || !type || strcmp(type, "object") != 0)
            return fail(c, "tools[%zu].input_schema: an object schema of type object", i);
    }
    if (!choice)
        return true;
    const char *type = json_string_value(json_object_get(choice, "type"));
    if (!json_is_object(choice) || !type)
        return fail(c, "tool_choice: {type} required");
    if (strcmp(type, "auto") != 0 && strcmp(type, "any") != 0 && strcmp(type, "tool") != 0 &&
        strcmp(type, "none") != 0)
        return fail(c, "tool_choice.type: not auto, any, tool or none");
    if (strcmp(type, "tool") != 0)
        return true;
    const char *name = json_string_value(json_object_get(choice, "name"));
    json_array_foreach(tools, i, tool)
    {
        const char *tn = json_string_value(json_object_get(tool, "name"));
        if (name && tn && strcmp(name, tn) == 0)
            return true;
    }
    return fail(c, "tool_choice.name: names no tool");
}

static bool check_anthropic(struct fake_llm *f, struct check *c, struct MHD_Connection *conn,
                            const json_t *body)
{
    static const char *const keys[] = {"model", "max_tokens",  "messages",       "system",
                                       "tools", "tool_choice", "stream",         "temperature",
                                       "top_p", "top_k",       "stop_sequences", "metadata",
                                       NULL};
    static const char *const roles[] = {"user", "assistant", NULL};
    const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-api-key");
    if (f->key ? !key || strcmp(key, f->key) != 0 : key != NULL)
        return fail(c, "x-api-key: not the configured key");
    if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization"))
        return fail(c, "Authorization: the key goes in x-api-key");
    const char *version = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "anthropic-version");
    if (!version || strcmp(version, "2023-06-01") != 0)
        return fail(c, "anthropic-version: 2023-06-01 required");
    if (!only_keys(c, body, "body", keys))
        return false;
    const char *model = json_string_value(json_object_get(body, "model"));
    if (!model || !*model)
        return fail(c, "model: a non-empty string is required");
    const json_t *mt = json_object_get(body, "max_tokens");
    if (!json_is_integer(mt) || json_integer_value(mt) < 1)
        return fail(c, "max_tokens: a positive integer is required");
    const json_t *msgs = json_object_get(body, "messages");
    if (!check_messages(c, msgs, roles))
        return false;
    const char *first = json_string_value(json_object_get(json_array_get(msgs, 0), "role"));
    if (strcmp(first, "user") != 0)
        return fail(c, "messages[0].role: user");
    const json_t *sys = json_object_get(body, "system");
    if (sys && !json_is_string(sys) && !json_is_array(sys))
        return fail(c, "system: a string or an array of text blocks");
    const json_t *t = json_object_get(body, "temperature");
    if (t && (!json_is_number(t) || json_number_value(t) < 0 || json_number_value(t) > 1))
        return fail(c, "temperature: a number in [0, 1]");
    const json_t *stream = json_object_get(body, "stream");
    if (stream && !json_is_boolean(stream))
        return fail(c, "stream: a boolean");
    return check_tools(c, body);
}

/* Checks the request; records it and, when it breaks the format, why. *index gets its
 * number (fake_llm_request's). */
static void check_request(struct fake_llm *f, struct MHD_Connection *conn, const char *method,
                          const char *url, const char *data, size_t len, json_t **body,
                          size_t *index)
{
    struct check c = {{0}};
    const char *path = f->wire == FAKE_OPENAI ? "/v1/chat/completions" : "/v1/messages";
    *body = json_loadb(data ? data : "", len, JSON_REJECT_DUPLICATES, NULL);
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    if (strcmp(method, "POST") != 0)
        fail(&c, "%s: the method is POST", method);
    else if (strcmp(url, path) != 0)
        fail(&c, "%s: the path is %s", url, path);
    else if (!ct || strncasecmp(ct, "application/json", 16) != 0)
        fail(&c, "Content-Type: application/json required");
    else if (!json_is_object(*body))
        fail(&c, "the body is not a JSON object");
    else if (f->wire == FAKE_OPENAI)
        check_openai(f, &c, conn, *body);
    else
        check_anthropic(f, &c, conn, *body);
    pthread_mutex_lock(&f->lock);
    *index = json_array_size(f->requests);
    json_array_append(f->requests, *body ? *body : json_null());
    pthread_mutex_unlock(&f->lock);
    if (c.why[0])
        fake_http_bad(f->http, "%s", c.why);
}

/* ---- the server ---------------------------------------------------------------------- */

struct streaming {
    struct fake_llm *f;
    struct reply *r;
    size_t req; /* the request it answers (fake_llm_request's number) */
    size_t chunk, off;
};

static ssize_t read_chunk(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct streaming *s = cls;
    struct reply *r = s->r;
    if (fake_http_stopping(s->f->http))
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (!r->chunks[s->chunk])
        return r->drop ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
    if (s->off == 0 && s->chunk > 0)
        fake_http_sleep_ms(s->f->http, r->gap_ms > 0 ? r->gap_ms : 5);
    const char *c = r->chunks[s->chunk];
    size_t left = strlen(c) - s->off;
    size_t n = left < max ? left : max;
    memcpy(buf, c + s->off, n);
    s->off += n;
    if (s->off == strlen(c)) {
        /* stamped as its last byte is handed to libmicrohttpd, which sends it when this
         * returns (the next call is the one that sleeps the gap) */
        struct written w = {s->req, s->chunk, now_ns()};
        s->chunk++;
        s->off = 0;
        struct fake_llm *f = s->f;
        pthread_mutex_lock(&f->lock);
        if (f->nwritten == f->capwritten) {
            size_t cap = f->capwritten ? 2 * f->capwritten : 64;
            struct written *more = realloc(f->written, cap * sizeof *more);
            if (!more)
                abort();
            f->written = more;
            f->capwritten = cap;
        }
        f->written[f->nwritten++] = w;
        pthread_mutex_unlock(&f->lock);
    }
    return (ssize_t)n;
}

static void free_streaming(void *cls)
{
    struct streaming *s = cls;
    reply_free(s->r);
    free(s);
}

static enum MHD_Result answer(struct fake_llm *f, struct MHD_Connection *conn, struct reply *r,
                              size_t req)
{
    fake_http_sleep_ms(f->http, r->hang_ms);
    if (fake_http_stopping(f->http) || (r->drop && !r->chunks)) {
        reply_free(r);
        return MHD_NO; /* closes the connection: no answer */
    }
    struct MHD_Response *resp;
    const char *type;
    if (r->chunks) {
        struct streaming *s = xalloc(sizeof *s);
        s->f = f;
        s->r = r;
        s->req = req;
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, read_chunk, s,
                                                 free_streaming);
        type = "text/event-stream";
    } else {
        const char *b = r->body ? r->body : "";
        resp = MHD_create_response_from_buffer(strlen(b), (void *)b, MHD_RESPMEM_MUST_COPY);
        type = "application/json";
    }
    if (!resp) {
        reply_free(r);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", type);
    fake_http_add_headers(resp, (const char *const *)r->headers);
    enum MHD_Result ret = fake_http_queue(conn, r->status ? r->status : 200, resp);
    if (!r->chunks)
        reply_free(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const struct fake_http_request *req)
{
    struct fake_llm *f = cls;
    json_t *body = NULL;
    size_t index;
    check_request(f, conn, req->method, req->url, req->too_big ? "" : req->body,
                  req->too_big ? 0 : req->len, &body, &index);
    /* the request's schema name: OpenAI's response_format, Anthropic's forced tool */
    const char *schema = json_string_value(json_object_get(
        json_object_get(json_object_get(body, "response_format"), "json_schema"), "name"));
    if (!schema)
        schema = json_string_value(json_object_get(json_object_get(body, "tool_choice"), "name"));
    pthread_mutex_lock(&f->lock);
    struct reply *r = f->head, *prev = NULL;
    while (r && r->for_schema && (!schema || strcmp(r->for_schema, schema) != 0)) {
        prev = r;
        r = r->next;
    }
    if (r) {
        if (prev)
            prev->next = r->next;
        else
            f->head = r->next;
        if (f->tail == r)
            f->tail = prev;
        r->next = NULL;
    }
    pthread_mutex_unlock(&f->lock);
    if (!r) {
        r = default_reply(f, body);
    } else if (!r->body && !r->chunks && !r->drop) { /* the default answer, as scripted */
        struct reply *d = default_reply(f, body);
        d->status = r->status ? r->status : 200;
        d->headers = r->headers;
        d->hang_ms = r->hang_ms;
        r->headers = NULL;
        reply_free(r);
        r = d;
    }
    json_decref(body);
    return answer(f, conn, r, index);
}

struct fake_llm *fake_llm_start(enum fake_wire wire)
{
    struct fake_llm *f = xalloc(sizeof *f);
    f->wire = wire;
    pthread_mutex_init(&f->lock, NULL);
    f->requests = json_array();
    f->http = fake_http_start(BODY_MAX, on_request, f);
    if (!f->http) {
        fake_llm_stop(f);
        return NULL;
    }
    snprintf(f->base_url, sizeof f->base_url, "%s%s", fake_http_url(f->http),
             wire == FAKE_OPENAI ? "/v1" : "");
    return f;
}

void fake_llm_stop(struct fake_llm *f)
{
    if (!f)
        return;
    fake_http_stop(f->http);
    while (f->head) {
        struct reply *r = f->head;
        f->head = r->next;
        reply_free(r);
    }
    json_decref(f->requests);
    free(f->written);
    free(f->key);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

int fake_llm_port(const struct fake_llm *f)
{
    return fake_http_port(f->http);
}

const char *fake_llm_base_url(const struct fake_llm *f)
{
    return f->base_url;
}

void fake_llm_expect_key(struct fake_llm *f, const char *key)
{
    pthread_mutex_lock(&f->lock);
    free(f->key);
    f->key = key ? xstrdup(key) : NULL;
    pthread_mutex_unlock(&f->lock);
}

void fake_llm_push(struct fake_llm *f, const struct fake_reply *in)
{
    struct reply *r = xalloc(sizeof *r);
    r->status = in->status ? in->status : 200;
    r->headers = copy_list(in->headers);
    r->body = in->body ? xstrdup(in->body) : NULL;
    r->chunks = copy_list(in->chunks);
    r->gap_ms = in->gap_ms;
    r->hang_ms = in->hang_ms;
    r->drop = in->drop;
    r->for_schema = in->for_schema ? xstrdup(in->for_schema) : NULL;
    pthread_mutex_lock(&f->lock);
    if (f->tail)
        f->tail->next = r;
    else
        f->head = r;
    f->tail = r;
    pthread_mutex_unlock(&f->lock);
}

uint64_t fake_llm_chunk_written_ns(struct fake_llm *f, size_t request, size_t chunk)
{
    uint64_t ns = 0;
    pthread_mutex_lock(&f->lock);
    for (size_t i = f->nwritten; i > 0 && !ns; i--)
        if (f->written[i - 1].req == request && f->written[i - 1].chunk == chunk)
            ns = f->written[i - 1].ns;
    pthread_mutex_unlock(&f->lock);
    return ns;
}

size_t fake_llm_requests(struct fake_llm *f)
{
    pthread_mutex_lock(&f->lock);
    size_t n = json_array_size(f->requests);
    pthread_mutex_unlock(&f->lock);
    return n;
}

json_t *fake_llm_request(struct fake_llm *f, size_t i)
{
    pthread_mutex_lock(&f->lock);
    json_t *v = json_array_get(f->requests, i);
    pthread_mutex_unlock(&f->lock);
    return v;
}

size_t fake_llm_invalid(struct fake_llm *f, const char **first)
{
    return fake_http_invalid(f->http, first);
}
