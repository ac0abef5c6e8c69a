/* Integration tests of POST /api/langgraph/invoke with the qualification agent: the happy
 * path, determinism and tiers, company sizes and ids, every kind of bad input (with the
 * problem shape the other routes share), and SSE streaming; then the request log of that
 * traffic. One server (empty database, see harness.h) serves the tests in this order; the
 * request log test comes last because its masking check reads the log of the server that
 * received the e-mail addresses the earlier tests sent. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Every e-mail address any test sends: none may appear unmasked in the server log. */
static const char *const sent_emails[] = {
    "dana.reyes@strongco.io",      "tinyhelpers@gmail.com", "ana.lima@happypath.com",
    "zelda.quux@example-corp.com", "sizes.test@sizeco.com",
};

/* ---- leads used by several tests --------------------------------------------------- */

/* A well-qualified lead: should score tier A. */
static const char strong_input[] =
    "{\"company_name\":\"Strongco Analytics\",\"industry\":\"SaaS\",\"company_size\":\"201-500\","
    "\"annual_revenue\":\"$40M\",\"contact_info\":{\"name\":\"Dana Reyes\",\"title\":\"VP Sales\","
    "\"email\":\"dana.reyes@strongco.io\"},"
    "\"signals\":[\"requested_demo\",\"pricing_page_visit\",\"recent_funding\"]}";

/* A poorly qualified lead: should score tier D. */
static const char weak_input[] =
    "{\"company_name\":\"Tiny Helpers\",\"industry\":\"Non-profit\",\"company_size\":\"1-10\","
    "\"contact_info\":{\"email\":\"tinyhelpers@gmail.com\"}}";

/* The happy-path lead, with an extra field the schema does not know (crm_owner). */
static const char happy_input[] =
    "{\"company_name\":\"Happy Path Corp\",\"industry\":\"FinTech\",\"company_size\":\"50-200\","
    "\"annual_revenue\":25000000,\"contact_info\":{\"name\":\"Ana Lima\",\"title\":\"Head of "
    "Sales\",\"email\":\"ana.lima@happypath.com\",\"phone\":\"+1 415 555 0100\"},"
    "\"signals\":[\"trial_signup\"],\"crm_owner\":\"jdoe\"}";

/* ---- helpers ----------------------------------------------------------------------- */

/* {"agent_type":"qualification","input":INPUT} */
static char *qual_body(const char *input)
{
    return strf("{\"agent_type\":\"qualification\",\"input\":%s}", input);
}

/* bad_invoke with {"agent_type":"qualification","input":INPUT} as application/json. */
static void bad_input(const char *what, const char *input, const char *loc, const char *type)
{
    char *body = qual_body(input);
    bad_invoke(what, "application/json", body, strlen(body), 422, loc, type);
    free(body);
}

/* Invokes qualification on input and returns the response (200 asserted). */
static json_t *qualify(const char *input, struct resp *r)
{
    char *body = qual_body(input);
    json_t *j = invoke(body, r);
    free(body);
    if (r->status != 200)
        fail_msg("qualify %.200s: status %ld: %.300s", input, r->status, r->body);
    assert_non_null(j);
    return j;
}

static char tier_for(long score)
{
    return score >= 80 ? 'A' : score >= 65 ? 'B' : score >= 50 ? 'C' : 'D';
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ---- the qualification happy path -------------------------------------------------- */

/* A valid lead is scored (score 0-100, tier by the cut-offs, factors adding up to the
 * score) and stored with its unknown fields and exactly one successful execution. */
static void test_invoke_happy_path(void **state)
{
    (void)state;
    struct resp r;
    json_t *j = qualify(happy_input, &r);
    assert_true(strncmp(r.content_type, "application/json", 16) == 0);
    assert_string_equal(jstr(j, "status"), "success");
    assert_string_equal(jstr(j, "agent_type"), "qualification");
    assert_true(is_uuid(jstr(j, "lead_id")));
    assert_true(is_uuid(jstr(j, "execution_id")));
    assert_non_null(jstr(j, "thread_id"));
    assert_true(strlen(jstr(j, "thread_id")) > 0);

    json_t *score = jget(j, "output.score");
    assert_true(json_is_integer(score));
    long s = (long)json_integer_value(score);
    assert_in_range(s, 0, 100);
    const char *tier = jstr(j, "output.tier");
    assert_non_null(tier);
    assert_int_equal(strlen(tier), 1);
    assert_int_equal(tier[0], tier_for(s));
    const char *reasoning = jstr(j, "output.reasoning");
    assert_non_null(reasoning);
    assert_true(strlen(reasoning) > 0);

    json_t *factors = jget(j, "output.factors");
    assert_true(json_is_array(factors));
    assert_true(json_array_size(factors) > 0);
    long sum = 0;
    size_t i;
    json_t *f;
    json_array_foreach(factors, i, f)
    {
        json_t *pts = json_object_get(f, "points");
        assert_true(json_is_integer(pts));
        assert_true(json_integer_value(pts) >= 0);
        assert_true(json_integer_value(pts) <=
                    json_integer_value(json_object_get(f, "max_points")));
        sum += (long)json_integer_value(pts);
    }
    assert_int_equal(sum, s);

    json_t *pt = jget(j, "output.processing_time");
    assert_true(json_is_number(pt));
    assert_true(json_number_value(pt) >= 0);
    assert_true(json_is_number(jget(j, "metadata.latency_ms")));
    const char *ts = jstr(j, "timestamp");
    assert_non_null(ts);
    assert_true(ends_with(ts, "Z"));

    char path[128];
    snprintf(path, sizeof path, "/api/leads/%s", jstr(j, "lead_id"));
    struct resp lr;
    json_t *lead = http_json("GET", path, NULL, &lr);
    assert_int_equal(lr.status, 200);
    assert_string_equal(jstr(lead, "id"), jstr(j, "lead_id"));
    assert_string_equal(jstr(lead, "company_name"), "Happy Path Corp");
    assert_string_equal(jstr(lead, "data.crm_owner"), "jdoe");
    assert_true(json_is_integer(jget(lead, "qualification.score")));
    assert_int_equal(json_integer_value(jget(lead, "qualification.score")), s);
    assert_string_equal(jstr(lead, "qualification.tier"), tier);
    json_t *execs = json_object_get(lead, "executions");
    assert_true(json_is_array(execs));
    assert_int_equal(json_array_size(execs), 1);
    assert_true(json_is_true(jget(execs, "0.success")));
    assert_string_equal(jstr(execs, "0.agent_type"), "qualification");
    assert_string_equal(jstr(execs, "0.id"), jstr(j, "execution_id"));
    resp_free(&lr);
    resp_free(&r);
}

/* ---- determinism and tiers --------------------------------------------------------- */

/* The same input scores the same twice; a strong lead is tier A, a weak one tier D. */
static void test_determinism_and_tiers(void **state)
{
    (void)state;
    struct resp r1, r2;
    json_t *a = qualify(strong_input, &r1);
    json_t *b = qualify(strong_input, &r2);
    assert_int_equal(json_integer_value(jget(a, "output.score")),
                     json_integer_value(jget(b, "output.score")));
    assert_true(json_equal(jget(a, "output.factors"), jget(b, "output.factors")));
    assert_string_equal(jstr(a, "output.reasoning"), jstr(b, "output.reasoning"));
    if (strcmp(jstr(a, "output.tier"), "A") != 0)
        fail_msg("strong lead: tier %s (score %lld), expected A", jstr(a, "output.tier"),
                 (long long)json_integer_value(jget(a, "output.score")));
    /* the same contact twice is one lead (docs/leads.md): the second updates it */
    assert_string_equal(jstr(a, "lead_id"), jstr(b, "lead_id"));
    assert_string_equal(jstr(b, "action"), "updated");
    resp_free(&r1);
    resp_free(&r2);

    json_t *w = qualify(weak_input, &r1);
    if (strcmp(jstr(w, "output.tier"), "D") != 0)
        fail_msg("weak lead: tier %s (score %lld), expected D", jstr(w, "output.tier"),
                 (long long)json_integer_value(jget(w, "output.score")));
    resp_free(&r1);
}

/* ---- company sizes, thread_id and lead_id ------------------------------------------ */

/* Every documented company_size form is accepted; a given thread_id is echoed; lead_id
 * alone re-scores the stored lead; an unknown lead_id is 404, a malformed one 422. */
static void test_sizes_and_ids(void **state)
{
    (void)state;
    static const char *const sizes[] = {"\"1-10\"", "\"50-200\"", "\"1000+\"", "\"Enterprise\"",
                                        "\"SMB\"",  "350",        "\"1,200\""};
    char input[512];
    struct resp r;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        snprintf(input, sizeof input,
                 "{\"company_name\":\"Size Co %zu\",\"company_size\":%s,"
                 "\"contact_info\":{\"email\":\"sizes.test@sizeco.com\"}}",
                 i, sizes[i]);
        char *body = qual_body(input);
        invoke(body, &r);
        free(body);
        if (r.status != 200)
            fail_msg("company_size %s: status %ld: %.300s", sizes[i], r.status, r.body);
        resp_free(&r);
    }

    /* a numeric size is stored as its text; "1,200" parses to 1200 employees */
    json_t *j = qualify("{\"company_name\":\"Numeric Size\",\"company_size\":350}", &r);
    char path[128];
    snprintf(path, sizeof path, "/api/leads/%s", jstr(j, "lead_id"));
    resp_free(&r);
    j = http_json("GET", path, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "company_size"), "350");
    assert_int_equal(json_integer_value(jget(j, "employees_min")), 350);
    resp_free(&r);
    j = qualify("{\"company_name\":\"Comma Size\",\"company_size\":\"1,200\"}", &r);
    snprintf(path, sizeof path, "/api/leads/%s", jstr(j, "lead_id"));
    resp_free(&r);
    j = http_json("GET", path, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(jget(j, "employees_min")), 1200);
    assert_int_equal(json_integer_value(jget(j, "employees_max")), 1200);
    resp_free(&r);

    /* thread_id is echoed back */
    char *body = strf("{\"agent_type\":\"qualification\",\"thread_id\":\"thread-42:abc\","
                      "\"input\":%s}",
                      weak_input);
    j = invoke(body, &r);
    free(body);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "thread_id"), "thread-42:abc");
    resp_free(&r);

    /* lead_id without input re-scores the stored lead */
    struct resp first;
    json_t *f = qualify(strong_input, &first);
    char lead_id[64];
    snprintf(lead_id, sizeof lead_id, "%s", jstr(f, "lead_id"));
    long total = leads_total();
    long runs = lead_executions(lead_id);
    body = strf("{\"agent_type\":\"qualification\",\"lead_id\":\"%s\"}", lead_id);
    j = invoke(body, &r);
    free(body);
    if (r.status != 200)
        fail_msg("re-score by lead_id: status %ld: %.300s", r.status, r.body);
    assert_string_equal(jstr(j, "lead_id"), lead_id);
    assert_int_equal(json_integer_value(jget(j, "output.score")),
                     json_integer_value(jget(f, "output.score")));
    resp_free(&r);
    assert_int_equal(leads_total(), total);               /* no new lead */
    assert_int_equal(lead_executions(lead_id), runs + 1); /* but one more execution */
    resp_free(&first);

    /* Regression (found by this suite): UUIDs are accepted in upper case but not normalised, so the
     * stored lead is not found by its own id in capitals (404), and an invoke with the capitalised
     * lead_id and an input creates a second lead for the same UUID. Expected: 200 with
     * the same lead. */
    {
        char upper[64];
        snprintf(upper, sizeof upper, "/api/leads/%s", lead_id);
        for (char *c = upper + strlen("/api/leads/"); *c; c++)
            *c = (char)(*c >= 'a' && *c <= 'f' ? *c - 'a' + 'A' : *c);
        http("GET", upper, NULL, NULL, 0, &r);
        assert_int_equal(r.status, 200);
        resp_free(&r);
    }

    /* an unknown lead_id without input: 404 naming body.lead_id */
    invoke("{\"agent_type\":\"qualification\","
           "\"lead_id\":\"0b7e9a52-7c1f-4d3e-9a6b-3f2c1d0e9f8a\"}",
           &r);
    expect_problem("unknown lead_id", &r, 404, "[\"body\",\"lead_id\"]", NULL);
    resp_free(&r);

    /* a malformed lead_id: 422 naming body.lead_id */
    invoke("{\"agent_type\":\"qualification\",\"lead_id\":\"not-a-uuid\"}", &r);
    expect_problem("malformed lead_id", &r, 422, "[\"body\",\"lead_id\"]", NULL);
    resp_free(&r);
}

/* ---- bad input --------------------------------------------------------------------- */

/* Every malformed request gets its exact 4xx status as a problem naming the field, none
 * of them writes a lead, and the server keeps answering. */
static void test_bad_input(void **state)
{
    (void)state;
    long before = leads_total();
    assert_true(before >= 0);
    long accepted = 0; /* the valid requests in the batch, which do add a lead */
    const char *json = "application/json";
    const char *lit;
    char *body;

    /* syntax-level: 400 */
    lit = "{\"agent_type\":\"qualification\",\"input\":";
    bad_invoke("malformed JSON", json, lit, strlen(lit), 400, NULL, "json_invalid");
    bad_invoke("empty body", json, "", 0, 400, "[\"body\"]", "json_invalid");
    lit = "{\"agent_type\":\"qualification\",\"agent_type\":\"qualification\","
          "\"input\":{\"company_name\":\"Dup\"}}";
    bad_invoke("duplicate keys", json, lit, strlen(lit), 400, NULL, "json_invalid");
    lit = "{\"agent_type\":\"qualification\",\"input\":{\"company_name\":\"Bad \xff\xfe utf8\"}}";
    bad_invoke("invalid UTF-8", json, lit, strlen(lit), 400, NULL, "json_invalid");
    {
        size_t depth = 5000;
        const char *head = "{\"agent_type\":\"qualification\",\"input\":{\"company_name\":"
                           "\"Deep\",\"nested\":";
        size_t hl = strlen(head), len = hl + 2 * depth + 2;
        char *deep = malloc(len + 1);
        assert_non_null(deep);
        memcpy(deep, head, hl);
        memset(deep + hl, '[', depth);
        memset(deep + hl + depth, ']', depth);
        memcpy(deep + hl + 2 * depth, "}}", 3);
        bad_invoke("5000 nested arrays", json, deep, len, 400, NULL, "json_invalid");
        free(deep);
    }

    /* envelope: 422 */
    bad_invoke("body is an array", json, "[]", 2, 422, "[\"body\"]", NULL);
    lit = "{\"input\":{\"company_name\":\"Acme\"}}";
    bad_invoke("missing agent_type", json, lit, strlen(lit), 422, "[\"body\",\"agent_type\"]",
               "missing");
    lit = "{\"agent_type\":\"foo\",\"input\":{\"company_name\":\"Acme\"}}";
    bad_invoke("unknown agent_type", json, lit, strlen(lit), 422, "[\"body\",\"agent_type\"]",
               "enum");
    lit = "{\"agent_type\":42,\"input\":{\"company_name\":\"Acme\"}}";
    bad_invoke("numeric agent_type", json, lit, strlen(lit), 422, "[\"body\",\"agent_type\"]",
               "string_type");
    lit = "{\"agent_type\":\"qualification\"}";
    bad_invoke("missing input", json, lit, strlen(lit), 422, "[\"body\",\"input\"]", "missing");
    bad_input("input is a string", "\"Acme\"", "[\"body\",\"input\"]", NULL);
    bad_input("input is a list", "[1,2]", "[\"body\",\"input\"]", NULL);

    /* lead fields: 422 naming the field */
    const char *cn = "[\"body\",\"input\",\"company_name\"]";
    bad_input("missing company_name", "{\"industry\":\"SaaS\"}", cn, "missing");
    bad_input("empty company_name", "{\"company_name\":\"\"}", cn, NULL);
    bad_input("blank company_name", "{\"company_name\":\"   \"}", cn, NULL);
    bad_input("numeric company_name", "{\"company_name\":12}", cn, "string_type");
    {
        char name[300], input[400];
        memset(name, 'n', 256);
        name[256] = '\0';
        snprintf(input, sizeof input, "{\"company_name\":\"%s\"}", name);
        bad_input("256-character company_name", input, cn, "string_too_long");
        name[255] = '\0';
        snprintf(input, sizeof input, "{\"company_name\":\"%s\"}", name);
        struct resp r;
        qualify(input, &r); /* 255 characters is the limit: accepted */
        resp_free(&r);
        accepted++;
    }
    bad_input("invalid e-mail",
              "{\"company_name\":\"Acme\",\"contact_info\":{\"email\":\"not-an-email\"}}",
              "[\"body\",\"input\",\"contact_info\",\"email\"]", NULL);
    bad_input("contact_info is a string", "{\"company_name\":\"Acme\",\"contact_info\":\"x\"}",
              "[\"body\",\"input\",\"contact_info\"]", NULL);
    const char *cs = "[\"body\",\"input\",\"company_size\"]";
    bad_input("company_size lots", "{\"company_name\":\"Acme\",\"company_size\":\"lots\"}", cs,
              NULL);
    bad_input("company_size -5", "{\"company_name\":\"Acme\",\"company_size\":-5}", cs, NULL);
    bad_input("company_size 0", "{\"company_name\":\"Acme\",\"company_size\":0}", cs, NULL);
    bad_input("annual_revenue a lot", "{\"company_name\":\"Acme\",\"annual_revenue\":\"a lot\"}",
              "[\"body\",\"input\",\"annual_revenue\"]", NULL);
    bad_input("signals not a list", "{\"company_name\":\"Acme\",\"signals\":\"requested_demo\"}",
              "[\"body\",\"input\",\"signals\"]", NULL);

    /* transport: content type and size */
    body = qual_body("{\"company_name\":\"Plain Text\"}");
    bad_invoke("text/plain", "text/plain", body, strlen(body), 415, "[\"header\",\"content-type\"]",
               NULL);
    /* no Content-Type is refused too: a browser sends a Blob cross-site with none and no
     * preflight, so reading it as JSON let another site invoke agents (issue 10) */
    bad_invoke("no content type", NULL, body, strlen(body), 415, "[\"header\",\"content-type\"]",
               NULL);
    bad_invoke("form", "application/x-www-form-urlencoded", body, strlen(body), 415,
               "[\"header\",\"content-type\"]", NULL);
    free(body);
    {
        size_t big = 1536 * 1024;
        const char *head = "{\"agent_type\":\"qualification\",\"input\":{\"company_name\":"
                           "\"Big\",\"notes\":\"";
        size_t hl = strlen(head);
        char *b = malloc(big + 1);
        assert_non_null(b);
        memcpy(b, head, hl);
        memset(b + hl, 'x', big - hl - 3);
        memcpy(b + big - 3, "\"}}", 4);
        bad_invoke("1.5 MiB body", json, b, big, 413, "[\"body\"]", NULL);

        /* the same body chunked (no Content-Length): refused once it passes the cap */
        size_t rl = big + 512;
        char *raw = malloc(rl);
        assert_non_null(raw);
        int n = snprintf(raw, rl,
                         "POST " INVOKE " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                         "application/json\r\n%s\r\nTransfer-Encoding: chunked\r\n"
                         "Connection: close\r\n\r\n%zx\r\n",
                         harness_auth_header(), big);
        memcpy(raw + n, b, big);
        memcpy(raw + (size_t)n + big, "\r\n0\r\n\r\n", 7);
        char line[256];
        int got = raw_exchange(raw, (size_t)n + big + 7, line, sizeof line);
        if (got != 1 || status_code_of(line) != 413)
            fail_msg("chunked 1.5 MiB body: got \"%s\" (%d), expected a 413 status line", line,
                     got);
        free(raw);
        free(b);
    }

    /* Was a bug (fixed) (crash): an unknown agent_type longer than 60 bytes whose 60th byte falls
     * inside a UTF-8 character (here "a" + 40 x "é"). The enum message quotes it with
     * %.60s, the cut makes the message invalid UTF-8, jansson refuses to pack it, so
     * sa_detail_add silently adds nothing; sa_route_invoke sees an empty detail list and
     * invokes agent type -1: registry.c:100 indexes agents[-1] (UBSan abort; SIGSEGV in a
     * Release build). Expected: 422 naming body.agent_type. */
    {
        char at[128] = "a";
        for (int i = 0; i < 40; i++)
            strcat(at, "\xc3\xa9"); /* U+00E9, 2 bytes: byte 60 is the first half of one */
        body = strf("{\"agent_type\":\"%s\",\"input\":{\"company_name\":\"Acme\"}}", at);
        bad_invoke("agent_type cut inside a UTF-8 character", json, body, strlen(body), 422,
                   "[\"body\",\"agent_type\"]", "enum");
        free(body);
    }

    /* Regression (found by this suite): the same cut in other messages leaves a problem with an
     * empty detail list: a Content-Type of over 100 bytes cut inside a UTF-8 character gives 415
     * with "detail": [], expected one entry naming header.content-type. The request is sent either
     * way (the server must survive it). */
    {
        char ct[160] = "text/";
        for (int i = 0; i < 60; i++)
            strcat(ct, "\xc3\xa9");
        struct resp r;
        http("POST", INVOKE, ct, "{}", 2, &r);
        assert_int_equal(r.status, 415);
        expect_problem("long non-ASCII content type", &r, 415, "[\"header\",\"content-type\"]",
                       NULL);
        resp_free(&r);
    }

    /* Regression (found by this suite): a path that is not valid UTF-8 once decoded (GET /api/%FF)
     * gets no response at all: the problem's "instance" (the path) cannot be packed, the 500
     * fallback fails the same way and the connection is closed (no log line, no metric).
     * Expected: 404 problem. Sent either way (the server must survive). */
    {
        struct resp r;
        http("GET", "/api/%FF", NULL, NULL, 0, &r);
        expect_problem("path with invalid UTF-8", &r, 404, "[\"path\"]", NULL);
        resp_free(&r);
        expect_health_ok();
    }

    /* other routes */
    struct resp r;
    http("GET", "/api/nope", NULL, NULL, 0, &r);
    expect_problem("unknown route", &r, 404, NULL, NULL);
    resp_free(&r);
    http("DELETE", "/health", NULL, NULL, 0, &r);
    expect_problem("DELETE /health", &r, 405, NULL, NULL);
    assert_non_null(strstr(r.allow, "GET"));
    resp_free(&r);
    http("GET", "/api/leads?limit=abc", NULL, NULL, 0, &r);
    expect_problem("limit=abc", &r, 422, "[\"query\",\"limit\"]", NULL);
    resp_free(&r);
    http("GET", "/api/leads/not-a-uuid", NULL, NULL, 0, &r);
    expect_problem("lead id not a UUID", &r, 422, "[\"path\",\"id\"]", NULL);
    resp_free(&r);
    http("GET", "/api/leads/5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d", NULL, NULL, 0, &r);
    expect_problem("unknown lead id", &r, 404, "[\"path\",\"id\"]", NULL);
    resp_free(&r);
    http("POST", "/api/agents/unknown/reset", "application/json", NULL, 0, &r);
    expect_problem("reset unknown agent", &r, 404, "[\"path\",\"agent_type\"]", NULL);
    resp_free(&r);

    assert_int_equal(leads_total(), before + accepted);
    expect_health_ok();
}

/* ---- streaming --------------------------------------------------------------------- */

/* stream_mode gives a LangGraph-style SSE answer (metadata, the modes, end); an unknown
 * mode is 422. */
static void test_streaming(void **state)
{
    (void)state;
    char *body = strf("{\"agent_type\":\"qualification\",\"stream_mode\":[\"values\",\"updates\"],"
                      "\"input\":%s}",
                      weak_input);
    struct resp r;
    http("POST", INVOKE, "application/json", body, strlen(body), &r);
    free(body);
    assert_int_equal(r.status, 200);
    assert_true(strncmp(r.content_type, "text/event-stream", 17) == 0);
    const char *meta = strstr(r.body, "event: metadata");
    const char *upd = strstr(r.body, "event: updates");
    const char *val = strstr(r.body, "event: values");
    const char *end = strstr(r.body, "event: end");
    assert_non_null(meta);
    assert_non_null(upd);
    assert_non_null(val);
    assert_non_null(end);
    assert_true(meta == r.body);         /* metadata first */
    assert_true(end > upd && end > val); /* end last */
    /* the values event carries the full response */
    const char *data = strstr(val, "data: ");
    assert_non_null(data);
    data += 6;
    json_t *v = json_loadb(data, strcspn(data, "\n"), 0, NULL);
    assert_non_null(v);
    assert_string_equal(jstr(v, "status"), "success");
    assert_true(json_is_integer(jget(v, "output.score")));
    json_decref(v);
    resp_free(&r);

    body = strf("{\"agent_type\":\"qualification\",\"stream_mode\":\"bogus\",\"input\":%s}",
                weak_input);
    bad_invoke("stream_mode bogus", "application/json", body, strlen(body), 422, NULL, NULL);
    free(body);
}

/* ---- the request log --------------------------------------------------------------- */

static int count_request_lines(const char *log)
{
    int n = 0;
    for (const char *p = log; (p = strstr(p, "\"msg\":\"request\"")); p++)
        n++;
    return n;
}

/* Each request writes one JSON log line ("msg":"request"); every log line is JSON; no
 * e-mail address any test sent appears unmasked, and one in a path is logged masked. */
static void test_request_log(void **state)
{
    (void)state;
    char *log = server_read_log(&main_srv);
    assert_non_null(log);
    int before = count_request_lines(log);
    free(log);

    struct resp r;
    http("GET", "/health", NULL, NULL, 0, &r);
    resp_free(&r);
    char *body = qual_body("{\"company_name\":\"Log Co\",\"contact_info\":"
                           "{\"email\":\"zelda.quux@example-corp.com\"}}");
    http("POST", INVOKE, "application/json", body, strlen(body), &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    free(body);
    http("GET", "/api/leads/zelda.quux@example-corp.com", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 422);
    resp_free(&r);
    http("GET", "/api/nope", NULL, NULL, 0, &r);
    resp_free(&r);
    const int made = 4;

    /* the line is written as the response is sent: allow it a moment to land */
    int after = 0;
    for (int tries = 0; tries < 100; tries++) {
        log = server_read_log(&main_srv);
        assert_non_null(log);
        after = count_request_lines(log);
        if (after >= before + made)
            break;
        free(log);
        log = NULL;
        usleep(20000);
    }
    assert_non_null(log);
    assert_int_equal(after, before + made);

    int lines = 0;
    for (char *line = log, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        json_t *j = json_loads(line, 0, NULL);
        if (!j)
            fail_msg("log line %d is not JSON: %.300s", lines + 1, line);
        if (strcmp(jstr(j, "msg") ? jstr(j, "msg") : "", "request") == 0) {
            assert_non_null(jstr(j, "method"));
            assert_non_null(jstr(j, "path"));
            assert_non_null(jstr(j, "request_id"));
            assert_true(json_is_integer(json_object_get(j, "status")));
        }
        json_decref(j);
        lines++;
        if (next)
            next[-1] = '\n';
    }
    assert_true(lines >= after);

    for (size_t i = 0; i < sizeof sent_emails / sizeof sent_emails[0]; i++)
        if (strstr(log, sent_emails[i]))
            fail_msg("the log holds the raw e-mail %s", sent_emails[i]);
    assert_non_null(strstr(log, "z***@example-corp.com"));
    free(log);
}

/* ---- a flat lead ------------------------------------------------------------------- */

/* A lead posted flat, as a CRM record or a web form has it, keeps its contact: scored with
 * the e-mail and title, stored in contact_info. A flat field that contradicts contact_info
 * is a 422 naming it, and nothing is stored. */
static void test_flat_contact(void **state)
{
    (void)state;
    struct resp r;
    json_t *j =
        invoke("{\"agent_type\": \"qualification\", \"input\": {\"company_name\": "
               "\"Br\u00fccke Logistik GmbH\", \"industry\": \"Logistics\", \"company_size\": "
               "\"201-500\", \"first_name\": \"J\u00fcrgen\", \"last_name\": \"Wei\u00df\", "
               "\"email\": \"juergen.weiss@bruecke-logistik.de\", \"job_title\": \"Head of "
               "Sales\", \"hs_lead_status\": \"NEW\"}}",
               &r);
    assert_int_equal(r.status, 200);
    const char *why = jstr(j, "output.reasoning");
    assert_non_null(why);
    assert_null(strstr(why, "no e-mail address"));
    assert_null(strstr(why, "no contact title"));
    char path[128];
    snprintf(path, sizeof path, "/api/leads/%s", jstr(j, "lead_id"));
    struct resp lr;
    json_t *lead = http_json("GET", path, NULL, &lr);
    assert_int_equal(lr.status, 200);
    assert_string_equal(jstr(lead, "contact_info.email"), "juergen.weiss@bruecke-logistik.de");
    assert_string_equal(jstr(lead, "contact_info.name"), "J\u00fcrgen Wei\u00df");
    assert_string_equal(jstr(lead, "contact_info.title"), "Head of Sales");
    assert_null(jget(lead, "data.email"));
    assert_string_equal(jstr(lead, "data.hs_lead_status"), "NEW");
    resp_free(&lr);
    resp_free(&r);

    /* contact_info's own value wins, the flat one is kept as given; a bad flat value is a
     * 422 naming the field as the client sent it, and nothing is stored */
    j = invoke("{\"agent_type\": \"qualification\", \"input\": {\"company_name\": \"Acme\", "
               "\"email\": \"cfo@acme.io\", \"contact_info\": {\"email\": \"ceo@acme.io\"}}}",
               &r);
    assert_int_equal(r.status, 200);
    snprintf(path, sizeof path, "/api/leads/%s", jstr(j, "lead_id"));
    lead = http_json("GET", path, NULL, &lr);
    assert_string_equal(jstr(lead, "contact_info.email"), "ceo@acme.io");
    assert_string_equal(jstr(lead, "data.email"), "cfo@acme.io");
    resp_free(&lr);
    resp_free(&r);
    long before = leads_total();
    j = invoke("{\"agent_type\": \"qualification\", \"input\": {\"company_name\": \"Acme\", "
               "\"Email\": \"ceo at acme\"}}",
               &r);
    assert_int_equal(r.status, 422);
    assert_string_equal(jdump(jget(j, "detail.0.loc")), "[\"body\",\"input\",\"Email\"]");
    assert_int_equal(leads_total(), before);
    resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invoke_happy_path), cmocka_unit_test(test_determinism_and_tiers),
        cmocka_unit_test(test_sizes_and_ids),     cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_flat_contact),      cmocka_unit_test(test_streaming),
        cmocka_unit_test(test_request_log), /* last: it reads the log of every request above */
    };
    return api_exit_status(cmocka_run_group_tests(tests, api_group_setup, api_group_teardown));
}
