/* Conversations: GET /api/conversations, the list (last turn first, a page at a time), and
 * GET /api/conversations/{thread_id}, a conversation's session (its stage, turns, language,
 * last intent, consent and linked lead), from the conversations service. */
#include <limits.h>
#include <string.h>

#include "app/app.h"
#include "app/conversations.h"
#include "base/detail.h"
#include "http/http.h"
#include "http/params.h"

/* GET /api/conversations?limit=&cursor= (the web console's Conversations page). */
void sa_route_conversations_list(struct sa_req *r)
{
    json_t *detail = json_array();
    long limit, cursor;
    sa_query_long(r, "limit", 1, 500, 50, &limit, detail);
    sa_query_long(r, "cursor", 1, LONG_MAX, 0, &cursor, detail);
    if (json_array_size(detail)) {
        sa_reply_problem(r, 422, "validation_error", detail);
        return;
    }
    json_decref(detail);
    json_t *page = NULL;
    struct sa_err err = {0};
    int rc = sa_app_conversations_list(r->app->store, (int)limit, cursor, &page, &err);
    if (rc)
        sa_reply_unavailable(r, rc, &err, "Reading the conversations");
    else
        sa_reply_json(r, 200, page);
}

void sa_route_conversation_get(struct sa_req *r)
{
    if (!sa_param_thread_id(r, 0))
        return;
    json_t *session = NULL;
    struct sa_err err = {0};
    int rc = sa_app_conversation_get(r->app, r->params[0], &session, &err);
    if (rc)
        sa_reply_failure(r, rc, &err, "path.thread_id", "Reading the conversation");
    else
        sa_reply_json(r, 200, session);
}

/* POST /api/conversations/{thread_id}/reply {message} (issue 16, the web console): a
 * person's reply recorded on the thread, attributed to the caller's principal; not sent. */
#define REPLY_MAX 5000 /* characters, as the conversation agent's own message limit */

void sa_route_conversation_reply(struct sa_req *r)
{
    if (!sa_param_thread_id(r, 0))
        return;
    json_t *body = sa_req_json(r);
    if (!body)
        return;
    json_t *v = json_object_get(body, "message");
    const char *msg = json_string_value(v);
    size_t chars = msg ? sa_utf8_chars(msg, json_string_length(v)) : 0;
    if (!v || !msg || chars == 0 || chars > REPLY_MAX) {
        sa_reply_error(r, 422, "validation_error", "body.message", v ? "string_type" : "missing",
                       "message: the reply's text, 1-%d characters", REPLY_MAX);
        json_decref(body);
        return;
    }
    json_t *out = NULL;
    struct sa_err err = {0};
    const char *author = r->principal.name[0] ? r->principal.name : r->principal.id;
    int rc = sa_app_conversation_reply(r->app, r->params[0], msg, author[0] ? author : "operator",
                                       &out, &err);
    json_decref(body);
    if (rc)
        sa_reply_failure(r, rc, &err, "path.thread_id", "Recording the reply");
    else
        sa_reply_json(r, 201, out);
}
