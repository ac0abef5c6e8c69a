/* Conversations: GET /api/conversations/{thread_id}, a conversation's session (its stage,
 * turns, language, last intent, consent and linked lead), from the conversations service. */
#include "app/app.h"
#include "app/conversations.h"
#include "http/http.h"
#include "http/params.h"

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
