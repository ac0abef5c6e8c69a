/* The conversations service (see conversations.h). */
#include "app/conversations.h"

#include "agents/conversation.h"
#include "app/app.h"
#include "base/clock.h"
#include "store/session.h"

int sa_app_conversation_get(struct sa_app *app, const char *thread_id, json_t **out,
                            struct sa_err *err)
{
    *out = NULL;
    if (!app->sessions)
        return sa_err_set(err, SA_ENOTIMPL, "the conversation agent is not available");
    json_t *s = NULL;
    int rc = sa_session_get(app->sessions, thread_id, &s, err);
    if (rc == 0 && sa_conversation_session_expired(s, sa_wall_seconds())) {
        json_decref(s);
        rc = SA_ENOTFOUND;
    }
    if (rc == SA_ENOTFOUND) /* one message for unknown and expired: Redis cannot tell them apart */
        return sa_err_set(err, SA_ENOTFOUND,
                          "No conversation %s: unknown, or silent longer than "
                          "SESSION_TTL_SECONDS",
                          thread_id);
    if (rc == 0)
        *out = s;
    return rc;
}
