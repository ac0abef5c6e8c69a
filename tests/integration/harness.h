/* A tiny harness for the integration tests: runs the real sales-agent binary as a child
 * process on a free port with its own temporary directory (database, log), and talks to
 * it over HTTP (libcurl) or over a raw socket for bytes curl would never send.
 *
 * Two backend sets, the same test code. By default each server directory has its own
 * SQLite file and the server keeps checkpoints in it. With SA_TEST_BACKENDS=pg (the *_pg
 * ctest entries, run through tests/harness/with-backends.sh, which also sets
 * SA_TEST_PG_URL and SA_TEST_REDIS_URL) each directory gets a fresh PostgreSQL database of
 * its own instead, named after SA_TEST_PG_URL's database plus "_N", and a Redis logical
 * database of its own, SA_TEST_REDIS_URL's number plus N (when SA_TEST_REDIS_DBS says the
 * run has more than that one; else all share it), which its server gets as REDIS_URL: each
 * directory is a fresh world on both backend sets, kept across restarts. Those databases
 * are not dropped or flushed here: with-backends.sh does it after a passing run and keeps
 * them after a failure.
 *
 * Nothing here links the server's code: the tests see the server only from outside. The
 * last part holds what the test_api_* programs share: their fixtures and the assertion
 * helpers (these fail the current cmocka test). */
#ifndef SA_TEST_HARNESS_H
#define SA_TEST_HARNESS_H

/* cmocka.h needs these four first; the test programs include cmocka through here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

/* ---- the server process ------------------------------------------------------------ */

#define SERVER_ENV_MAX 8

struct server {
    pid_t pid; /* 0 when not running */
    int port;
    char dir[256];      /* temporary directory: db.sqlite and server.log live here */
    char log_path[512]; /* the server's stderr */
    char db_url[512]; /* sqlite://DIR/db.sqlite, or postgresql://.../DB with SA_TEST_BACKENDS=pg */
    char redis_url[256]; /* its REDIS_URL with SA_TEST_BACKENDS=pg, else "" */
    char out_path[512];  /* the server's stdout: the first admin key is printed there */
    char key[128]; /* that key, read at the first start on this directory ("" with AUTH=off) */
    /* Settings for this server only, "NAME=VALUE", put in its environment at every start
     * over what the test process has (unused slots ""). For instances that differ. */
    char env[SERVER_ENV_MAX][256];
};

/* Makes a new temporary directory (mkdtemp under /tmp) into s->dir and, with
 * SA_TEST_BACKENDS=pg, a new PostgreSQL database and a Redis database for it. Returns 0,
 * or -1 after printing why (nothing left behind). */
int server_make_dir(struct server *s);

/* For several instances of one service: makes peer a directory of its own (log, stdout,
 * Maildir) whose server uses first's database (the same SQLite file, or the same
 * PostgreSQL database, and the same Redis), and sends first's admin key. Start first once
 * before (it creates the database and prints the key); then server_start(peer, false).
 * Returns 0 or -1. */
int server_make_peer(struct server *peer, const struct server *first);

/* Adds "NAME=VALUE" to s->env (replacing an earlier NAME). Returns 0, or -1 when full. */
int server_setenv(struct server *s, const char *name, const char *value);

/* True when the servers run on PostgreSQL and Redis (SA_TEST_BACKENDS=pg). */
bool harness_on_pg(void);

/* For tests that open or damage the server's SQLite file themselves: on PostgreSQL, prints
 * why the test cannot run there and skips it (cmocka counts it as skipped, not passed). */
#define SKIP_ON_PG(why)                                                                            \
    do {                                                                                           \
        if (harness_on_pg()) {                                                                     \
            print_message("[ SKIP     ] %s on PostgreSQL: %s\n", __func__, why);                   \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* Starts SA_BINARY serve on a free 127.0.0.1 port, using the database in s->dir (call
 * server_make_dir first; a directory may be reused by several runs, one at a time), the
 * repository's data directory and 2 worker threads; with seed, also
 * --seed SA_SOURCE_DIR/data/sample_leads.json. stderr goes to s->log_path (appended).
 * With SA_TEST_BACKENDS=pg, also REDIS_URL=s->redis_url; then s->env. Waits until
 * GET /health answers 200 (30 s at most: a sanitized binary starts slowly on a loaded
 * machine). Returns 0, or -1 after printing why and the log. */
int server_start(struct server *s, bool seed);

/* Sends SIGTERM and waits for the process to exit (SIGKILL after 60 s). Returns the
 * wait status (see waitpid), or -1 when the server was not running. Prints the log when
 * the server did not exit with status 0 (a sanitizer report, for instance). */
int server_stop(struct server *s);
/* Kills the server with SIGKILL (a crash: no shutdown, no leak check) and reaps it. */
void server_kill(struct server *s);

/* True when a wait status means "exited normally with status 0". */
bool exited_ok(int wait_status);

/* Removes s->dir and everything in it (nftw). */
void server_remove_dir(struct server *s);

/* Prints the server's log file to stderr (for failure diagnostics). */
void server_print_log(const struct server *s);

/* Reads the whole log file into a malloc'd NUL-terminated string (NULL on error). */
char *server_read_log(const struct server *s);

/* ---- nginx in front of several instances ------------------------------------------ */

struct proxy {
    int port;      /* where nginx listens (127.0.0.1) */
    char dir[256]; /* its configuration, logs and temporary files */
};

/* Starts nginx (tests/harness/nginx.sh) on a free port, round-robin over the n running
 * servers' ports except /threads/{thread_id}/... (a consistent hash of the thread id picks
 * the server), responses unbuffered (SSE); p->dir/upstreams.log records which server
 * answered each request. Returns 0, or -1 after printing why. */
int proxy_start(struct proxy *p, const struct server *const *upstreams, int n);
/* Stops it and removes p->dir. */
void proxy_stop(struct proxy *p);

/* The server http() and friends talk to, and the key they send (its first admin key). */
void harness_use(const struct server *s);
/* The same for any port (nginx's, say) with the key of one of the servers behind it. */
void harness_use_port(int port, const char *key);
int harness_port(void);

/* The credential header http() sends: NULL restores the default ("Authorization: Bearer"
 * with the current server's admin key), "" sends none, anything else is sent as that
 * header line ("X-API-Key: sa_..."). The text is copied. */
void harness_auth(const char *header_line);
/* One more request header line ("If-Match: \"...\"") sent by http() until cleared with
 * NULL. The text is copied. */
void harness_extra_header(const char *header_line);

/* "Authorization: Bearer KEY" for the current server's admin key, for raw requests. */
const char *harness_auth_header(void);

/* ---- HTTP -------------------------------------------------------------------------- */

struct resp {
    long status; /* HTTP status; 0 when the transfer failed */
    char *body;  /* malloc'd, NUL-terminated (len excludes the NUL) */
    size_t len;
    char content_type[128]; /* the Content-Type header, "" when absent */
    char allow[128];        /* the Allow header, "" when absent */
    char headers[4096];     /* every response header line, as received (cut when longer) */
    json_t *json;           /* the body parsed as JSON by the *_json helpers, else NULL */
};

/* One request to the current server. method is any HTTP method; path includes the
 * query; content_type NULL sends no Content-Type at all; body may be NULL (no body) or
 * body_len bytes (sent with POST/PUT/... as is). Returns 0 when a response arrived (any
 * status), -1 on a transport error (out->status 0). Free out with resp_free. With
 * SA_RESPONSE_LOG set, each response received is appended to that file as a JSON line for
 * the OpenAPI response check (tests/openapi/check_responses.js). */
int http(const char *method, const char *path, const char *content_type, const char *body,
         size_t body_len, struct resp *out);
/* Stops (false) or resumes (true) that recording: for a listener that is not the API the
 * document describes (a worker's metrics-only one, whose API paths are 404). */
void harness_record(bool on);

/* Same, on a caller-owned curl handle (one per thread) and an explicit port. */
int http_on(CURL *h, int port, const char *method, const char *path, const char *content_type,
            const char *body, size_t body_len, struct resp *out);

/* http() with an application/json body (NULL for none; a POST says application/json
 * even then) that also parses the response body as JSON into out->json (NULL when it is
 * not JSON). Returns out->json. */
json_t *http_json(const char *method, const char *path, const char *json_body, struct resp *out);

/* POST /api/langgraph/invoke with the given body; the response parsed into out->json. */
json_t *invoke(const char *json_body, struct resp *out);

/* POST /api/keys on the current server: a key named name with the scopes (a JSON array);
 * fails the test unless it is created. Returns the key (malloc'd) and, when id is not
 * NULL, its id. */
char *create_api_key(const char *name, const char *scopes_json, char id[32]);

void resp_free(struct resp *r);

/* The value of response header name (case-insensitive) copied into buf, or NULL. */
const char *resp_header(const struct resp *r, const char *name, char *buf, size_t cap);

/* Silences (or restores) the harness's messages about transport errors, for requests
 * expected to get no answer. */
void http_set_quiet(bool on);

/* Releases the shared curl handle used by http(). */
void http_cleanup(void);

/* ---- raw socket -------------------------------------------------------------------- */

/* Connects to the current server, sends len bytes (a send error after connecting is not
 * an error: the server may close early) and reads the reply's first line into
 * status_line (cap bytes, without CRLF). Returns 1 when a status line arrived, 0 when the
 * server closed the connection (or timed out, 5 s) without one, -1 when it could not
 * connect. */
int raw_exchange(const void *data, size_t len, char *status_line, size_t cap);

/* The status code of an "HTTP/1.1 NNN ..." line, or -1. */
int status_code_of(const char *status_line);

/* ---- counting rows ----------------------------------------------------------------- */

/* GET /api/leads?limit=1 "total"; -1 on any failure. */
long leads_total(void);

/* Length of GET /api/leads/{id} "executions"; -1 on any failure. */
long lead_executions(const char *lead_id);

/* ---- small helpers ----------------------------------------------------------------- */

/* True when s is a canonical 8-4-4-4-12 hex UUID. */
bool is_uuid(const char *s);

/* The string at a path of object keys/array indexes in j, e.g. jstr(j, "output.tier"),
 * jget(j, "detail.0.loc"); NULL when any step is missing. Numeric steps index arrays. */
json_t *jget(json_t *j, const char *path);
const char *jstr(json_t *j, const char *path);

/* A JSON array of strings/integers printed compactly ("[\"body\",\"input\"]"), for
 * comparing a problem's loc; the result is a static buffer. */
const char *jdump(json_t *j);

/* ---- shared by the test_api_* programs --------------------------------------------- */
/* These were static in the one test_api.c; now that each resource has its own program,
 * they live here once instead of in a copy per program. */

#define INVOKE "/api/langgraph/invoke"

/* The main server (empty database) that serves every test of a program, in order:
 * api_group_setup starts it, api_group_teardown stops it unless a test already did. */
extern struct server main_srv;

/* Group fixtures of every test_api_* program. Setup initialises libcurl, makes main_srv's
 * directory, starts it without seed and points http() at it; returns 0, or -1 with
 * nothing left behind. Teardown stops main_srv if it still runs, removes its directory and
 * releases libcurl; it returns -1 when that stop saw an exit status other than 0 (under
 * ASan/LSan: a leak or a sanitizer report in the server), so every program keeps the
 * check the single test_api made once at its end. */
int api_group_setup(void **state);
int api_group_teardown(void **state);

/* cmocka 1.1 prints a failed group teardown but leaves it out of the count it returns, so
 * main() returns api_exit_status(cmocka_run_group_tests(...)): failed when not 0, else 1
 * when api_group_teardown failed, else 0. */
int api_exit_status(int failed);

/* A second server, for the tests that stop, kill and restart one (runs, the BDR outbox).
 * runs_setup makes its directory (0, or -1); the test starts it. runs_teardown stops it if
 * it still runs, removes the directory and points http() back at main_srv (0). */
extern struct server runs_srv;
int runs_setup(void **state);
int runs_teardown(void **state);

/* A strong lead whose company (by its e-mail domain) is in data/companies.csv. */
extern const char strong_known[];

/* A malloc'd printf (the caller frees it); out of memory fails the test. */
char *strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Asserts that r is an RFC 9457 problem with this status whose detail[0].loc is loc
 * (compact JSON, e.g. "[\"body\",\"input\"]"; NULL: not checked) and detail[0].type is
 * type (NULL: not checked). what names the case in the failure message. Parses r->body
 * into r->json when that is still NULL (freed by resp_free). */
void expect_problem(const char *what, struct resp *r, long status, const char *loc,
                    const char *type);

/* POSTs body (len bytes, content type ct) to the invoke route and expects a problem. */
void bad_invoke(const char *what, const char *ct, const char *body, size_t len, long status,
                const char *loc, const char *type);

/* Asserts that GET /health answers 200 with "status": "healthy". */
void expect_health_ok(void);

/* Invokes agent_type on input; returns the response's JSON, owned by r (200 asserted). */
json_t *run_agent(const char *type, const char *input, struct resp *r);

/* Polls GET /api/runs/ID until it leaves queued/running (5 s at most); returns it, owned
 * by r. A run still unfinished fails the test. */
json_t *wait_run(const char *id, struct resp *r);

/* strong_known's person as a CSV import (the header line and her row): Maya Okafor, VP of
 * Sales at Quorvianta Software, maya@quorvianta.io, who asked for a demo. */
extern const char strong_known_csv[];

/* Imports csv (one lead; 200 asserted), starts the pipeline on it (POST /api/runs with its
 * lead_id; 202 asserted) and waits until the run stops at its approval (awaiting_approval
 * asserted). Returns the run as GET /api/runs/ID answers it (run_id, lead_id, thread_id,
 * output.approvals.0.approval_id), owned by r. */
json_t *approval_pending(const char *csv, struct resp *r);

/* POST /api/runs with {"input": input_json}: the new run's id (malloc'd); fails the test
 * unless the answer is 202. */
char *run_submit(const char *input_json);
/* GET /api/runs/ID's status now (malloc'd), or NULL when it does not answer 200. */
char *run_status_now(const char *id);
/* Polls (every 100 ms, seconds at most) until the run is neither queued nor running: its
 * status (malloc'd), or NULL when it did not settle in time. */
char *run_wait_settled(const char *id, int seconds);
/* Whether s's log (so far) contains text. */
bool server_log_has(const struct server *s, const char *text);

/* Business time for a server started with CLOCK_FILE=path: writes instant t (Unix
 * seconds) to path atomically (a temporary file renamed over it), so the server's "now"
 * moves to t and flows on from there. Fails the test when it cannot. */
void clock_file_set(const char *path, time_t t);
/* y-mo-d h:mi UTC as Unix seconds. */
time_t utc(int y, int mo, int d, int h, int mi);

/* The Grafana dashboard's gauges (issue 16): GET /metrics (200 asserted) and the value of
 * the sample written exactly as series (name and labels, e.g.
 * "outbox_items{channel=\"mail\",status=\"sent\"}"); fails the test when it is absent. */
double metric_value(const char *series);

#endif
