/* Integration tests of the web console's serving (issue 16, http/routes/console.c): GET /
 * answers the console to a browser and the JSON index to everyone else; its files come
 * from the binary with their content types, the console's security headers and an ETag
 * (304 when the client has them); names outside the embedded table (path traversal in
 * every spelling, unknown files) are 404 or 400, never a file from disk; /ui and
 * /dashboard redirect; /api/whoami and /api/leads/import/columns answer what the console
 * needs; one outreach draft at a time per lead (POST /api/runs and invokes of the pipeline
 * with lead_id answer 409 naming what is under way, and create nothing); the conversation
 * list. One server (empty
 * database), tests in order, and a second one that only queues runs. */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CSP                                                                                        \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "                   \
    "frame-ancestors 'none'"

/* Asserts the console's security headers on r. */
static void expect_console_headers(const char *what, const struct resp *r)
{
    char buf[256];
    const char *csp = resp_header(r, "Content-Security-Policy", buf, sizeof buf);
    if (!csp || strcmp(csp, CSP) != 0)
        fail_msg("%s: Content-Security-Policy is %s", what, csp ? csp : "(none)");
    assert_string_equal(resp_header(r, "X-Content-Type-Options", buf, sizeof buf), "nosniff");
    assert_string_equal(resp_header(r, "Referrer-Policy", buf, sizeof buf), "no-referrer");
    /* never framed: CSP's frame-ancestors (above) and, for older browsers, X-Frame-Options */
    if (strncmp(r->content_type, "text/html", 9) == 0) {
        const char *xfo = resp_header(r, "X-Frame-Options", buf, sizeof buf);
        if (!xfo || strcmp(xfo, "DENY") != 0)
            fail_msg("%s: X-Frame-Options is %s", what, xfo ? xfo : "(none)");
    }
}

/* A browser gets the console's page at /, a client asking for JSON (or nothing) the index
 * the API always answered. */
static void test_root_by_accept(void **state)
{
    (void)state;
    struct resp r;
    harness_extra_header("Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");
    http("GET", "/", NULL, NULL, 0, &r);
    harness_extra_header(NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "text/html; charset=utf-8");
    expect_console_headers("GET / (html)", &r);
    assert_non_null(strstr(r.body, "<script type=\"module\" src=\"/assets/app.js\"></script>"));
    assert_null(strstr(r.body, "<script>")); /* no inline script: the CSP forbids it */
    assert_null(strstr(r.body, "style=\""));
    char buf[128], line[200];
    assert_string_equal(resp_header(&r, "Cache-Control", buf, sizeof buf), "no-cache");
    assert_non_null(resp_header(&r, "ETag", buf, sizeof buf));
    resp_free(&r);
    snprintf(line, sizeof line, "If-None-Match: %s", buf); /* a browser's reload */
    harness_extra_header(line);
    harness_auth("Accept: text/html"); /* the credential's header line: / needs none */
    http("GET", "/", NULL, NULL, 0, &r);
    harness_auth(NULL);
    harness_extra_header(NULL);
    assert_int_equal(r.status, 304);
    resp_free(&r);

    harness_extra_header("Accept: application/json");
    json_t *j = http_json("GET", "/", NULL, &r);
    harness_extra_header(NULL);
    assert_int_equal(r.status, 200);
    assert_true(strncmp(r.content_type, "application/json", 16) == 0);
    assert_string_equal(jstr(j, "name"), "sales-agent");
    resp_free(&r);

    j = http_json("GET", "/", NULL, &r); /* curl's default Accept: no html */
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "name"), "sales-agent");
    resp_free(&r);
}

/* GET / weighs the Accept header's q-values (HTML only when preferred to JSON; a tie is
 * JSON) and says Vary: Accept on both answers, so a cache keeps them apart. */
static void test_root_q_values(void **state)
{
    (void)state;
    static const struct {
        const char *accept;
        bool html;
    } cases[] = {
        {"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", true},
        {"Accept: application/json;q=0.9, text/html", true},
        {"Accept: text/*, application/json;q=0.1", true},
        {"Accept: TEXT/HTML", true},
        {"Accept: text/html;q=0, application/json", false},
        {"Accept: text/html;q=0", false},
        {"Accept: text/html;q=0.5, application/json", false},
        {"Accept: */*", false},
        {"Accept: application/json, text/html", false},
        {"Accept: text/htmlx, application/json;q=0.1", false},
        {"Accept: text/html;level=1;q=0.000, */*;q=0.1", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct resp r;
        harness_extra_header(cases[i].accept);
        http("GET", "/", NULL, NULL, 0, &r);
        harness_extra_header(NULL);
        if (r.status != 200)
            fail_msg("%s: %ld", cases[i].accept, r.status);
        bool html = strncmp(r.content_type, "text/html", 9) == 0;
        if (html != cases[i].html)
            fail_msg("%s: answered %s", cases[i].accept, r.content_type);
        char buf[64];
        const char *vary = resp_header(&r, "Vary", buf, sizeof buf);
        if (!vary || strcmp(vary, "Accept") != 0)
            fail_msg("%s: Vary is %s", cases[i].accept, vary ? vary : "(none)");
        resp_free(&r);
    }
}

/* The files: content types, security headers, ETag and a 304 on revalidation; no key
 * needed (they carry no data). */
static void test_assets(void **state)
{
    (void)state;
    static const struct {
        const char *path, *type, *needle;
    } files[] = {
        {"/assets/app.js", "text/javascript; charset=utf-8", "export"},
        {"/assets/lib.js", "text/javascript; charset=utf-8", "export async function api("},
        {"/assets/style.css", "text/css; charset=utf-8", "@media"},
        {"/assets/pages/inbox.js", "text/javascript; charset=utf-8",
         "export async function render("},
        {"/assets/pages/leads.js", "text/javascript; charset=utf-8",
         "export async function render("},
    };
    harness_auth("");
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        struct resp r;
        http("GET", files[i].path, NULL, NULL, 0, &r);
        if (r.status != 200)
            fail_msg("%s: %ld", files[i].path, r.status);
        assert_string_equal(r.content_type, files[i].type);
        assert_non_null(strstr(r.body, files[i].needle));
        expect_console_headers(files[i].path, &r);
        char etag[128], line[200];
        assert_non_null(resp_header(&r, "ETag", etag, sizeof etag));
        resp_free(&r);
        snprintf(line, sizeof line, "If-None-Match: %s", etag);
        harness_extra_header(line);
        http("GET", files[i].path, NULL, NULL, 0, &r);
        harness_extra_header(NULL);
        assert_int_equal(r.status, 304);
        assert_int_equal(r.len, 0);
        resp_free(&r);
        harness_extra_header("If-None-Match: \"0000000000000000\"");
        http("GET", files[i].path, NULL, NULL, 0, &r);
        harness_extra_header(NULL);
        assert_int_equal(r.status, 200); /* another version: the whole file */
        resp_free(&r);
        /* "*" in a list matches any version */
        harness_extra_header("If-None-Match: W/\"x\", *");
        http("GET", files[i].path, NULL, NULL, 0, &r);
        harness_extra_header(NULL);
        assert_int_equal(r.status, 304);
        resp_free(&r);
    }
    /* extra.css is linked by the page even before a build has one: never a failed load */
    struct resp r;
    http("GET", "/assets/extra.css", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "text/css; charset=utf-8");
    resp_free(&r);
    harness_auth(NULL);
}

/* Status of a raw GET of path (sent byte for byte: curl would normalise the dots). */
static int raw_get(const char *path)
{
    char req[512], line[256];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", path,
                     harness_port());
    if (raw_exchange(req, (size_t)n, line, sizeof line) != 1)
        return -1;
    return status_code_of(line);
}

/* Nothing but the embedded files: traversal in every spelling, the repository's files,
 * index.html under /assets (it is served at /), an unknown file or extension: 404 (400
 * for a path the server refuses to decode). */
static void test_no_escape(void **state)
{
    (void)state;
    static const char *const paths[] = {
        "/assets/../CMakeLists.txt",
        "/assets/..%2FCMakeLists.txt",
        "/assets/..%2fCMakeLists.txt",
        "/assets/%2e%2e/CMakeLists.txt",
        "/assets/%2e%2e%2fCMakeLists.txt",
        "/assets/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/assets/..%5cCMakeLists.txt",
        "/assets/pages/../../CMakeLists.txt",
        "/assets/pages/..%2f..%2fREADME.md",
        "/assets/%252e%252e%252fCMakeLists.txt",
        "/assets/app.js%00.css",
        "/assets/CMakeLists.txt",
        "/assets/index.html",
        "/assets/nope.js",
        "/assets/pages/nope.js",
        "/assets/app.js.bak",
        "/assets/.hidden.js",
        "/assets/web/app.js",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        int st = raw_get(paths[i]);
        if (st != 404 && st != 400)
            fail_msg("%s: %d (404 or 400 expected)", paths[i], st);
    }
    /* the same through curl: a problem body naming the asset, no file content */
    struct resp r;
    http("GET", "/assets/nope.js", NULL, NULL, 0, &r);
    expect_problem("unknown asset", &r, 404, "[\"path\",\"asset\"]", "not_found");
    assert_null(strstr(r.body, "cmake_minimum_required"));
    resp_free(&r);
    http("GET", "/assets/..%2FCMakeLists.txt", NULL, NULL, 0, &r);
    assert_true(r.status == 404 || r.status == 400);
    assert_null(strstr(r.body, "cmake_minimum_required"));
    resp_free(&r);
}

/* /ui and /dashboard send a browser to the console. */
static void test_redirects(void **state)
{
    (void)state;
    static const char *const paths[] = {"/ui", "/dashboard", "/ui/"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct resp r;
        http("GET", paths[i], NULL, NULL, 0, &r);
        assert_int_equal(r.status, 302);
        char buf[64];
        assert_string_equal(resp_header(&r, "Location", buf, sizeof buf), "/");
        expect_console_headers(paths[i], &r); /* an HTML page too: not framed */
        resp_free(&r);
    }
}

/* The sign-in's check: the key's principal and scopes; without a key 401, with a narrow
 * key its own scopes. The import preview's column names. */
static void test_whoami_and_columns(void **state)
{
    (void)state;
    struct resp r;
    json_t *j = http_json("GET", "/api/whoami", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "kind"), "key");
    assert_string_equal(jstr(j, "name"), "first admin key");
    assert_string_equal(jdump(json_object_get(j, "scopes")), "[\"admin\"]");
    resp_free(&r);

    harness_auth("");
    http_json("GET", "/api/whoami", NULL, &r);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    harness_auth(
        "Authorization: Bearer sa_0123456789abcdef_notARealKeyAtAllButLongEnoughToLookLikeOne0");
    http_json("GET", "/api/whoami", NULL, &r);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    harness_auth(NULL);

    j = http_json("POST", "/api/keys",
                  "{\"name\":\"dana@pipewise.example\",\"scopes\":[\"read\",\"approve\"]}", &r);
    assert_int_equal(r.status, 201);
    char line[200];
    snprintf(line, sizeof line, "Authorization: Bearer %s", jstr(j, "key"));
    resp_free(&r);
    harness_auth(line);
    j = http_json("GET", "/api/whoami", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "name"), "dana@pipewise.example");
    assert_string_equal(jdump(json_object_get(j, "scopes")), "[\"read\",\"approve\"]");
    assert_true(strncmp(jstr(j, "id"), "key:", 4) == 0);
    resp_free(&r);

    j = http_json("GET", "/api/leads/import/columns", NULL, &r);
    assert_int_equal(r.status, 200);
    bool company = false, account = false, title = false;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(j, "columns"), i, c)
    {
        const char *hdr = json_string_value(json_object_get(c, "header"));
        const char *to = json_string_value(json_object_get(c, "mapped_to"));
        company |= strcmp(hdr, "companyname") == 0 && to && strcmp(to, "company_name") == 0;
        account |= strcmp(hdr, "companyaccount") == 0 && to && strcmp(to, "company_name") == 0;
        title |= strcmp(hdr, "jobtitle") == 0 && to && strcmp(to, "contact_info.title") == 0;
    }
    assert_true(company);
    assert_true(account);
    assert_true(title);
    resp_free(&r);
    harness_auth(NULL);
}

/* ---- one outreach draft at a time per lead ------------------------------------------ */

static const char draft_csv[] =
    "Company,First Name,Last Name,Job Title,Email,Website,Industry,Employees,Tags\r\n"
    "Quorvianta Software,Maya,Okafor,VP of Sales,maya@quorvianta.io,quorvianta.io,SaaS,"
    "201-500,requested_demo;pricing_page_visit\r\n";

/* Imports draft_csv on the current server; its lead's id into id. */
static void import_draft_lead(char id[64])
{
    struct resp r;
    http("POST", "/api/leads/import", "text/csv", draft_csv, strlen(draft_csv), &r);
    if (r.status != 200)
        fail_msg("import: %ld %.300s", r.status, r.body);
    json_t *j = json_loadb(r.body, r.len, 0, NULL);
    snprintf(id, 64, "%s", jstr(j, "leads.0.lead_id"));
    json_decref(j);
    resp_free(&r);
}

/* Asserts r is the one-draft 409: at body.lead_id, type draft_pending, its ctx naming the
 * lead and key = value (approval_id or run_id), and the message naming value too. */
static void expect_draft_conflict(const char *what, struct resp *r, const char *lead,
                                  const char *key, const char *value)
{
    expect_problem(what, r, 409, "[\"body\",\"lead_id\"]", "draft_pending");
    assert_string_equal(jstr(r->json, "code"), "conflict");
    assert_string_equal(jstr(jget(r->json, "detail.0.ctx"), "lead_id"), lead);
    const char *got = jstr(jget(r->json, "detail.0.ctx"), key);
    if (!got || strcmp(got, value) != 0)
        fail_msg("%s: ctx.%s is %s, expected %s (%.300s)", what, key, got ? got : "(none)", value,
                 r->body);
    assert_non_null(strstr(jstr(r->json, "detail.0.msg"), value));
}

/* How many approvals of lead have status (NULL: any). */
static int lead_approvals(const char *lead, const char *status)
{
    struct resp r;
    char *path =
        strf("/api/approvals?limit=500%s%s", status ? "&status=" : "", status ? status : "");
    json_t *j = http_json("GET", path, NULL, &r);
    free(path);
    int n = 0;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(j, "items"), i, a) n +=
        strcmp(jstr(a, "lead_id"), lead) == 0;
    resp_free(&r);
    return n;
}

/* How many runs the store holds (every status). */
static long runs_total(void)
{
    struct resp r;
    json_t *j = http_json("GET", "/api/runs?limit=1", NULL, &r);
    long n = r.status == 200 ? (long)json_integer_value(jget(j, "total")) : -1;
    resp_free(&r);
    return n;
}

/* A lead whose draft waits for approval gets no second one: another invoke of bdr or the
 * pipeline (plain or streamed) or POST /api/runs for it answers 409 naming the approval
 * and writes nothing (no approval, run or execution); other agents still run on it; once
 * the approval is answered a new draft is made. */
static void test_one_draft_while_approval_pending(void **state)
{
    (void)state;
    char lead[64];
    import_draft_lead(lead);
    struct resp r;
    char *bdr = strf("{\"agent_type\":\"bdr\",\"lead_id\":\"%s\"}", lead);
    json_t *j = invoke(bdr, &r);
    if (r.status != 200)
        fail_msg("first draft: %ld %.300s", r.status, r.body);
    char aid[64];
    snprintf(aid, sizeof aid, "%s", jstr(j, "output.approvals.0.approval_id"));
    assert_true(is_uuid(aid));
    resp_free(&r);
    long execs = lead_executions(lead), runs = runs_total();
    assert_int_equal(lead_approvals(lead, "pending"), 1);

    invoke(bdr, &r);
    expect_draft_conflict("bdr again", &r, lead, "approval_id", aid);
    resp_free(&r);
    char *pipeline = strf("{\"agent_type\":\"pipeline\",\"lead_id\":\"%s\"}", lead);
    invoke(pipeline, &r);
    expect_draft_conflict("the pipeline", &r, lead, "approval_id", aid);
    resp_free(&r);
    http("POST", "/api/langgraph/stream", "application/json", pipeline, strlen(pipeline), &r);
    expect_draft_conflict("the pipeline streamed", &r, lead, "approval_id", aid);
    resp_free(&r);
    char *run = strf("{\"lead_id\":\"%s\"}", lead);
    http_json("POST", "/api/runs", run, &r);
    expect_draft_conflict("a run", &r, lead, "approval_id", aid);
    resp_free(&r);
    /* nothing was made */
    assert_int_equal(lead_approvals(lead, NULL), 1);
    assert_int_equal(lead_executions(lead), execs);
    assert_int_equal(runs_total(), runs);

    /* one agent on the lead drafts nothing: it runs */
    char *qual = strf("{\"agent_type\":\"qualification\",\"lead_id\":\"%s\"}", lead);
    invoke(qual, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);

    /* new input on the draft's own thread replaces that draft (its approval superseded):
     * still one draft, so it is not refused */
    char *path = strf("/api/approvals/%s", aid);
    j = http_json("GET", path, NULL, &r);
    char *restart = strf("{\"agent_type\":\"pipeline\",\"lead_id\":\"%s\",\"thread_id\":\"%s\"}",
                         lead, jstr(j, "thread_id"));
    resp_free(&r);
    j = invoke(restart, &r);
    if (r.status != 200)
        fail_msg("new input on the draft's own thread: %ld %.300s", r.status, r.body);
    resp_free(&r);
    j = http_json("GET", path, NULL, &r);
    assert_string_equal(jstr(j, "status"), "superseded");
    resp_free(&r);
    assert_int_equal(lead_approvals(lead, "pending"), 1);
    assert_int_equal(lead_approvals(lead, "superseded"), 1);
    /* ... and the draft now waiting is the one to answer */
    j = http_json("GET", "/api/approvals?status=pending&limit=500", NULL, &r);
    size_t k;
    json_t *a;
    json_array_foreach(json_object_get(j, "items"), k, a) if (strcmp(jstr(a, "lead_id"), lead) == 0)
        snprintf(aid, sizeof aid, "%s", jstr(a, "id"));
    resp_free(&r);
    free(path);
    free(restart);

    /* answered: the next draft is made */
    path = strf("/api/approvals/%s", aid);
    http_json("POST", path, "{\"type\":\"ignore\"}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    j = invoke(bdr, &r);
    if (r.status != 200)
        fail_msg("draft after the answer: %ld %.300s", r.status, r.body);
    assert_string_not_equal(jstr(j, "output.approvals.0.approval_id"), aid);
    resp_free(&r);
    assert_int_equal(lead_approvals(lead, "pending"), 1);
    free(path);
    free(qual);
    free(run);
    free(pipeline);
    free(bdr);
}

struct racer {
    int port;
    const char *body;
    long status;
};

static void *race_run(void *arg)
{
    struct racer *x = arg;
    CURL *h = curl_easy_init();
    struct resp r;
    http_on(h, x->port, "POST", "/api/runs", "application/json", x->body, strlen(x->body), &r);
    x->status = r.status;
    resp_free(&r);
    curl_easy_cleanup(h);
    return NULL;
}

/* A queued run is a draft under way (a server that only queues keeps it queued): a second
 * run or an invoke of bdr for the lead answers 409 naming the run; of 8 concurrent
 * POST /api/runs for another lead exactly one is queued. */
static void test_one_draft_while_run_queued(void **state)
{
    (void)state;
    assert_int_equal(server_make_dir(&runs_srv), 0);
    server_setenv(&runs_srv, "RUN_WORKERS", "0");
    assert_int_equal(server_start(&runs_srv, false), 0);
    harness_use(&runs_srv);
    char lead[64];
    import_draft_lead(lead);
    struct resp r;
    char *run = strf("{\"lead_id\":\"%s\"}", lead);
    json_t *j = http_json("POST", "/api/runs", run, &r);
    assert_int_equal(r.status, 202);
    char run_id[64];
    snprintf(run_id, sizeof run_id, "%s", jstr(j, "run_id"));
    resp_free(&r);
    http_json("POST", "/api/runs", run, &r);
    expect_draft_conflict("a second run", &r, lead, "run_id", run_id);
    resp_free(&r);
    char *bdr = strf("{\"agent_type\":\"bdr\",\"lead_id\":\"%s\"}", lead);
    invoke(bdr, &r);
    expect_draft_conflict("bdr while the run is queued", &r, lead, "run_id", run_id);
    resp_free(&r);
    assert_int_equal(runs_total(), 1);
    assert_int_equal(lead_approvals(lead, NULL), 0);

    /* concurrent starts for one lead: one wins */
    const char csv[] = "Company,First Name,Last Name,Email,Industry\r\n"
                       "Ledgerwisp,Jonas,Berg,jonas.berg@ledgerwisp.example,Fintech\r\n";
    http("POST", "/api/leads/import", "text/csv", csv, strlen(csv), &r);
    assert_int_equal(r.status, 200);
    j = json_loadb(r.body, r.len, 0, NULL);
    char *body = strf("{\"lead_id\":\"%s\"}", jstr(j, "leads.0.lead_id"));
    json_decref(j);
    resp_free(&r);
    struct racer x[8];
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        x[i] = (struct racer){.port = runs_srv.port, .body = body};
        assert_int_equal(pthread_create(&t[i], NULL, race_run, &x[i]), 0);
    }
    int queued = 0, refused = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        queued += x[i].status == 202;
        refused += x[i].status == 409;
    }
    assert_int_equal(queued, 1);
    assert_int_equal(refused, 7);
    assert_int_equal(runs_total(), 2);
    free(body);
    free(bdr);
    free(run);
    assert_true(exited_ok(server_stop(&runs_srv)));
    server_remove_dir(&runs_srv);
    harness_use(&main_srv);
}

/* ---- the conversation list ---------------------------------------------------------- */

/* One conversation turn as a prospect; the thread id into thread (NULL: a new one). */
static void turn(char thread[80], const char *input)
{
    struct resp r;
    char *body = thread[0] ? strf("{\"agent_type\":\"conversation\",\"thread_id\":\"%s\","
                                  "\"input\":%s}",
                                  thread, input)
                           : strf("{\"agent_type\":\"conversation\",\"input\":%s}", input);
    json_t *j = invoke(body, &r);
    free(body);
    if (r.status != 200)
        fail_msg("turn: %ld %.300s", r.status, r.body);
    snprintf(thread, 80, "%s", jstr(j, "thread_id"));
    resp_free(&r);
}

/* GET /api/conversations lists the conversations, last turn first, with the linked lead's
 * company (or the one the prospect named), the contact, stage, last intent and turns; pages
 * follow next_cursor; bad parameters are 422 naming them; a key needs the read scope. */
static void test_conversation_list(void **state)
{
    (void)state;
    char lead[64];
    import_draft_lead(lead); /* maya@quorvianta.io: a conversation from her links to it */
    char a[80] = "", b[80] = "", c[80] = "";
    turn(a, "{\"message\":\"Hi, what does the Growth plan cost for 30 seats?\",\"contact\":"
            "{\"name\":\"Maya Okafor\",\"email\":\"maya@quorvianta.io\"}}");
    turn(b, "{\"message\":\"Hi there, Avery from Northwind Freight here\",\"company_name\":"
            "\"Northwind Freight\",\"contact\":{\"name\":\"Avery Quinn\"}}");
    turn(c, "{\"message\":\"Hi there\"}");
    turn(a, "{\"message\":\"Could we see a demo next Tuesday afternoon?\"}");

    struct resp r;
    json_t *j = http_json("GET", "/api/conversations?limit=10", NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *items = jget(j, "items");
    assert_true(json_array_size(items) >= 3);
    assert_string_equal(jstr(j, "items.0.thread_id"), a); /* its second turn: the newest */
    assert_string_equal(jstr(j, "items.1.thread_id"), c);
    assert_string_equal(jstr(j, "items.2.thread_id"), b);
    assert_string_equal(jstr(j, "items.0.lead_id"), lead);
    assert_string_equal(jstr(j, "items.0.company_name"), "Quorvianta Software");
    assert_string_equal(jstr(j, "items.0.contact_name"), "Maya Okafor");
    assert_string_equal(jstr(j, "items.0.last_intent"), "demo_request");
    assert_int_equal(json_integer_value(jget(j, "items.0.turns")), 2);
    assert_non_null(jstr(j, "items.0.stage"));
    assert_string_equal(jstr(j, "items.2.company_name"), "Northwind Freight");
    assert_string_equal(jstr(j, "items.2.contact_name"), "Avery Quinn");
    assert_true(json_is_null(jget(j, "items.2.lead_id")));
    assert_string_equal(jstr(j, "items.2.last_intent"), "greeting");
    assert_true(json_is_null(jget(j, "items.1.company_name")));
    assert_true(json_is_null(jget(j, "next_cursor")));
    resp_free(&r);

    /* a page at a time */
    j = http_json("GET", "/api/conversations?limit=2", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(jget(j, "items")), 2);
    assert_string_equal(jstr(j, "items.1.thread_id"), c);
    char *next = strf("/api/conversations?limit=2&cursor=%s", jstr(j, "next_cursor"));
    resp_free(&r);
    j = http_json("GET", next, NULL, &r);
    free(next);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "items.0.thread_id"), b);
    resp_free(&r);

    http("GET", "/api/conversations?limit=0", NULL, NULL, 0, &r);
    expect_problem("limit 0", &r, 422, "[\"query\",\"limit\"]", NULL);
    resp_free(&r);
    http("GET", "/api/conversations?cursor=abc", NULL, NULL, 0, &r);
    expect_problem("a cursor that is no cursor", &r, 422, "[\"query\",\"cursor\"]", NULL);
    resp_free(&r);
    harness_auth("");
    http("GET", "/api/conversations", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    harness_auth(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root_by_accept),
        cmocka_unit_test(test_root_q_values),
        cmocka_unit_test(test_assets),
        cmocka_unit_test(test_no_escape),
        cmocka_unit_test(test_redirects),
        cmocka_unit_test(test_whoami_and_columns),
        cmocka_unit_test(test_one_draft_while_approval_pending),
        cmocka_unit_test(test_one_draft_while_run_queued),
        cmocka_unit_test(test_conversation_list),
    };
    return api_exit_status(cmocka_run_group_tests(tests, api_group_setup, api_group_teardown));
}
