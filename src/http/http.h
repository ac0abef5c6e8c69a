/* What route handlers see: the request (method, path, path parameters, query, body) and
 * the calls that set the response. One struct sa_req lives per HTTP request, created by
 * the server on the request's first callback and freed when MHD reports it complete. */
#ifndef SA_HTTP_HTTP_H
#define SA_HTTP_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth/principal.h"
#include "auth/scope.h"
#include "base/buf.h"
#include "base/err.h"

struct sa_app;
struct sa_http_server;
struct sa_req;

typedef void (*sa_handler_fn)(struct sa_req *r);

/* FORM: an HTML form or a mail client's RFC 8058 one-click POST
 * (application/x-www-form-urlencoded or multipart/form-data); only public routes whose
 * effect a token authorises take it (a form can be posted cross-site).
 * JSON_ICS: a JSON body, or an iCalendar object (text/calendar; an RSVP).
 * MAIL: a raw RFC 5322 message (message/rfc822 or text/plain; inbound mail). */
enum sa_body {
    SA_BODY_NONE,
    SA_BODY_JSON,
    SA_BODY_CSV,
    SA_BODY_FORM,
    SA_BODY_JSON_ICS,
    SA_BODY_MAIL
};

/* A route: method, path template with {name} segments, its handler, the body it reads,
 * the scope it needs (auth/scope.h: the access check in http/guard.c reads it, so no
 * route exists without one), the audit action its success records (NULL: none), and what
 * documents it. The template is also the "route" label in metrics and logs, so
 * cardinality stays bounded. request/response name schemas ("InvokeRequest"; NULL: no
 * body), the names of the OpenAPI document's components/schemas (http/openapi.c; the
 * {name} segments of the template name components/parameters/path_<name>). */
struct sa_route {
    const char *method;
    const char *path;
    sa_handler_fn handler;
    enum sa_body body; /* the body the handler reads: content type and size are checked */
    enum sa_scope scope;
    const char *audit;   /* "approval.decide", or NULL */
    const char *summary; /* one line */
    const char *request, *response;
    int status;        /* the success status; 0: 200 */
    const char *query; /* its query parameters: components/parameters names, "limit q" */
    /* The problem statuses the handler itself answers, "404 409 503"; "503:Health" for one
     * answered with a schema of its own. Those of the checks before the handler (401, 403,
     * 415, 413, 429, ...) follow from scope, method and body: http/openapi.c adds them. */
    const char *problems;
};

#define SA_MAX_HEADERS 16

#define SA_MAX_PARAMS 4

struct sa_req {
    struct MHD_Connection *conn;
    struct sa_app *app;
    struct sa_http_server *srv; /* the server's own state (metrics); not for handlers */
    const char *method;         /* points to method_buf: the request's method, valid UTF-8 */
    char method_buf[32];
    char version[16];      /* "HTTP/1.1" */
    char target_host[256]; /* the host of an absolute-form target ("GET http://h/p"), or "" */
    char client_addr[64];  /* the peer's address, "127.0.0.1" or "::1" */
    struct sa_principal principal; /* who asks (kind NONE: nobody, or bad credentials) */
    bool cred_failed;              /* its credential failed and was counted (guard.c) */
    bool no_audit;                 /* set by a handler whose success changed nothing (no record) */
    json_t *audit_detail;          /* owned; what a handler adds to its audit record, or NULL; its
                                    * "target" (a string), when set, names the record's target */
    char path[2048 + 1];           /* decoded path, trailing slash removed (SA_EDGE_MAX_PATH + 1) */
    const struct sa_route *route;
    const char *params[SA_MAX_PARAMS]; /* path parameters, pointing into param_buf */
    char param_buf[512];
    struct sa_buf body; /* the body in memory, unless spooled (read it with sa_req_body) */
    bool body_too_large;
    bool body_spooled; /* a CSV body over MAX_BODY_BYTES: in body_fd, not in memory */
    bool body_spool_failed;
    int body_fd; /* the spooled body's temporary file (already unlinked) */
    size_t body_file_len;
    void *body_map; /* the spooled body mapped once it is all in, or NULL */
    bool called;    /* the access handler has seen this request before */
    uint64_t start_ns;
    char request_id[64];
    /* response, set by the handler through the calls below */
    int status;
    json_t *json; /* owned */
    char *text;   /* owned; used when json is NULL */
    size_t text_len;
    const char *static_text; /* not owned, lives for the process (sa_reply_static) */
    const char *content_type; /* static string */
    char allow[64];           /* the Allow header of a 405, or "" */
    struct {
        const char *name; /* static */
        char value[240];
    } headers[SA_MAX_HEADERS]; /* more response headers (sa_reply_header) */
    int n_headers;
    struct MHD_Response *stream_resp; /* set by sa_reply_stream */
};

/* Drops a response set earlier (the server calls it before freeing the request). */
void sa_reply_reset(struct sa_req *r);
/* The request body: in memory, or the temporary file a large CSV body was spooled to,
 * mapped read-only. Valid until the request ends; *data is "" for an empty body. */
void sa_req_body(const struct sa_req *r, const char **data, size_t *len);

/* Answers with a JSON body (takes ownership of body) and status. */
void sa_reply_json(struct sa_req *r, int status, json_t *body);
/* Answers with a text body (takes ownership of text, a malloc'd buffer). */
void sa_reply_text(struct sa_req *r, int status, const char *content_type, char *text, size_t len);
/* Answers with bytes that live as long as the process (the embedded console's files):
 * sent from where they are, never copied. */
void sa_reply_static(struct sa_req *r, int status, const char *content_type, const char *data,
                     size_t len);
/* Answers with an application/problem+json body: {type, title, status, code, detail,
 * instance, request_id}. detail is a FastAPI-style list (taken; NULL for an empty list). */
void sa_reply_problem(struct sa_req *r, int status, const char *code, json_t *detail);
/* A problem with one detail entry: loc (dotted, see base/detail.h), type and message. */
void sa_reply_error(struct sa_req *r, int status, const char *code, const char *loc,
                    const char *type, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Answers a failed service call by its code: SA_ENOTFOUND 404 and SA_ECONFLICT 409 carry
 * err's message (services write those for clients) at loc; SA_ENOTIMPL is 501; storage
 * and I/O failures (SA_ESTORE, SA_EIO, SA_ETIMEDOUT) are 503 and anything else 500, both
 * saying only what failed (what: "Reading the lead") and the request id, never err's text,
 * which goes to the log with the request id. */
void sa_reply_failure(struct sa_req *r, int rc, const struct sa_err *err, const char *loc,
                      const char *what);
/* A 5xx for a failure of what (rc 0 counts as SA_ESTORE); see sa_reply_failure. */
void sa_reply_unavailable(struct sa_req *r, int rc, const struct sa_err *err, const char *what);

/* Answers 200 with a body produced while it is sent: read(cls, buf, max) returns bytes
 * written, 0 for nothing yet (it is called again at once), or -1 at the end; done(cls)
 * runs when the response is finished or the client left. For a body that is all there
 * (an export); one that waits for events is sa_reply_parked_stream's. */
void sa_reply_stream(struct sa_req *r, const char *content_type,
                     long (*read)(void *cls, char *buf, size_t max), void *cls,
                     void (*done)(void *cls));

/* Wakes a stream that parked (below). Any thread, any time, as often as wanted; a wake
 * that comes while the reader runs makes it ask again rather than park. */
struct sa_stream_waker;
void sa_stream_wake(struct sa_stream_waker *w);

/* What a parked stream's read returns: nothing yet, and a wake is arranged. */
#define SA_STREAM_PARKED (-2)

/* sa_reply_stream for an event stream (SSE) whose data comes when it comes: read(cls,
 * buf, max, waker) may also return SA_STREAM_PARKED after arranging that
 * sa_stream_wake(waker) is called when there may be more (or after a while: the reader
 * sends keep-alives). The connection is then suspended and holds no HTTP thread until the
 * wake; the wake may come before read even returns. waker stays valid until done(cls)
 * runs, which MUST make sure nobody calls sa_stream_wake(waker) afterwards. While the
 * server stops, a parked stream ends (done runs as for a client that left). */
void sa_reply_parked_stream(struct sa_req *r, const char *content_type,
                            long (*read)(void *cls, char *buf, size_t max,
                                         struct sa_stream_waker *waker),
                            void *cls, void (*done)(void *cls));

/* Background work a handler starts for its request and that may outlive it (a streamed
 * invoke's run): sa_req_try_hold before starting it, which never waits: false (nothing
 * held) when max holds are taken (max <= 0: no bound), so the handler answers 503 instead
 * of keeping its HTTP thread until a hold is released; sa_http_release(srv) (srv: the
 * request's r->srv, kept) when the work is done with the app. The server's stop waits for
 * every hold, so the work may use the app to its end. */
bool sa_req_try_hold(struct sa_req *r, int max);
void sa_http_release(struct sa_http_server *srv);

/* Sets a response header (name: a static string), replacing one set before under the
 * same name; beyond SA_MAX_HEADERS distinct names it is dropped. */
void sa_reply_header(struct sa_req *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A request header, or NULL. */
const char *sa_req_header(struct sa_req *r, const char *name);

/* A query-string argument (decoded), or NULL. */
const char *sa_req_query(struct sa_req *r, const char *name);

/* Parses the request body as a JSON object. On success returns it (new reference). On
 * failure answers the request (400 with the parse error) and returns NULL. */
json_t *sa_req_json(struct sa_req *r);

/* The routes (http/routes.c) and the handlers they name (http/routes/ *.c). */
extern const struct sa_route sa_routes[];
extern const unsigned sa_routes_count;

void sa_route_root(struct sa_req *r);
void sa_route_health(struct sa_req *r);
void sa_route_metrics(struct sa_req *r);
void sa_route_invoke(struct sa_req *r);
void sa_route_agents_status(struct sa_req *r);
void sa_route_agent_reset(struct sa_req *r);
void sa_route_agent_schema(struct sa_req *r);
void sa_route_leads_list(struct sa_req *r);
void sa_route_lead_get(struct sa_req *r);
void sa_route_leads_import(struct sa_req *r);
void sa_route_import_get(struct sa_req *r);
void sa_route_import_stream(struct sa_req *r);
void sa_route_stream(struct sa_req *r);
void sa_route_runs_create(struct sa_req *r);
void sa_route_contact_dnc(struct sa_req *r);
void sa_route_approvals_list(struct sa_req *r);
void sa_route_approval_get(struct sa_req *r);
void sa_route_approval_decide(struct sa_req *r);
void sa_route_outbox_list(struct sa_req *r);
/* CRM sync (issue 15): GET /api/crm/status */
void sa_route_crm_status(struct sa_req *r);
void sa_route_contact_get(struct sa_req *r);
/* GET /api/contacts?do_not_contact=true: the do-not-contact contacts, paginated. */
void sa_route_contacts_list(struct sa_req *r);
/* GET /api/contacts/{email}/do-not-contact: the contact with its consent history. */
void sa_route_contact_dnc_history(struct sa_req *r);
void sa_route_contacts_suppression(struct sa_req *r);
/* DELETE /api/contacts/{email}/do-not-contact {consent_source, note}: lifts it. */
void sa_route_contact_dnc_lift(struct sa_req *r);
/* inbound mail (issue 15): POST /api/inbound/email */
void sa_route_inbound_email(struct sa_req *r);
/* GET /unsubscribe/{token}: a confirmation page; POST: the one-click unsubscribe. */
void sa_route_unsubscribe_page(struct sa_req *r);
void sa_route_unsubscribe(struct sa_req *r);
void sa_route_run_get(struct sa_req *r);
void sa_route_run_stream(struct sa_req *r);
void sa_route_run_cancel(struct sa_req *r);
/* The web console's runs and graphs (issue 16): GET /api/runs, GET
 * /api/agents/{agent_type}/graph */
void sa_route_runs_list(struct sa_req *r);
void sa_route_agent_graph(struct sa_req *r);
void sa_route_thread_state(struct sa_req *r);
void sa_route_thread_history(struct sa_req *r);
void sa_route_conversation_get(struct sa_req *r);
/* GET /api/conversations: the conversation list, last turn first (the web console) */
void sa_route_conversations_list(struct sa_req *r);
/* POST /api/conversations/{thread_id}/reply: a person's reply recorded (issue 16) */
void sa_route_conversation_reply(struct sa_req *r);
void sa_route_openapi(struct sa_req *r);
void sa_route_docs(struct sa_req *r);
void sa_route_keys_list(struct sa_req *r);
void sa_route_keys_create(struct sa_req *r);
void sa_route_key_revoke(struct sa_req *r);
void sa_route_audit_list(struct sa_req *r);
void sa_route_lead_timeline(struct sa_req *r);
void sa_route_leads_export(struct sa_req *r);
void sa_route_lead_update(struct sa_req *r);
void sa_route_lead_erase(struct sa_req *r);
void sa_route_profile(struct sa_req *r);
void sa_route_calendar_slots(struct sa_req *r);
void sa_route_meetings_list(struct sa_req *r);
void sa_route_meeting_get(struct sa_req *r);
void sa_route_meeting_rsvp(struct sa_req *r);
/* the web console (issue 16, http/routes/console.c): index.html, its files, the redirects
 * of /ui and /dashboard, and GET /api/whoami (the principal of the request's credential).
 * sa_console_wanted: true when the request asks for HTML (GET / then answers the console). */
void sa_route_console(struct sa_req *r);
void sa_route_console_asset(struct sa_req *r);
void sa_route_console_page(struct sa_req *r);
void sa_route_console_redirect(struct sa_req *r);
void sa_route_whoami(struct sa_req *r);
void sa_route_import_columns(struct sa_req *r);
bool sa_console_wanted(struct sa_req *r);

/* the LangGraph Agent Server API subset (issue 16, http/routes/agentserver.c) */
void sa_route_as_info(struct sa_req *r);
void sa_route_as_assistants_search(struct sa_req *r);
void sa_route_as_assistant_get(struct sa_req *r);
void sa_route_as_assistant_graph(struct sa_req *r);
void sa_route_as_threads_create(struct sa_req *r);
void sa_route_as_threads_search(struct sa_req *r);
void sa_route_as_thread_get(struct sa_req *r);
void sa_route_as_thread_state(struct sa_req *r);
void sa_route_as_thread_state_update(struct sa_req *r);
void sa_route_as_thread_state_at(struct sa_req *r);
void sa_route_as_thread_state_checkpoint(struct sa_req *r);
void sa_route_as_thread_history_get(struct sa_req *r);
void sa_route_as_thread_history_post(struct sa_req *r);
void sa_route_as_runs_list(struct sa_req *r);
void sa_route_as_runs_create(struct sa_req *r);
void sa_route_as_runs_stream(struct sa_req *r);
void sa_route_as_runs_wait(struct sa_req *r);
void sa_route_as_run_get(struct sa_req *r);
void sa_route_as_run_join(struct sa_req *r);
void sa_route_as_run_join_stream(struct sa_req *r);
void sa_route_as_run_cancel(struct sa_req *r);
void sa_route_as_stateless_create(struct sa_req *r);
void sa_route_as_stateless_stream(struct sa_req *r);
void sa_route_as_stateless_wait(struct sa_req *r);

#endif
