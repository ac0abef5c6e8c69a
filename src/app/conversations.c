/* The conversations service (see conversations.h). */
#include "app/conversations.h"

#include <stdio.h>

#include "agents/conversation.h"
#include "app/app.h"
#include "base/clock.h"
#include "graph/graph.h"
#include "store/session.h"
#include "store/store.h"

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

int sa_app_conversation_reply(struct sa_app *app, const char *thread_id, const char *message,
                              const char *author, json_t **out, struct sa_err *err)
{
    *out = NULL;
    json_t *session = NULL;
    int rc = sa_app_conversation_get(app, thread_id, &session, err);
    json_decref(session);
    if (rc)
        return rc;
    if (!app->conversation)
        return sa_err_set(err, SA_ENOTIMPL, "the conversation agent is not available");
    char at[SA_ISO8601_LEN];
    sa_iso8601_now(at);
    json_t *msg = json_pack("{s:s, s:s, s:s, s:s, s:s}", "role", "assistant", "content", message,
                            "source", "human", "author", author, "at", at);
    json_t *values = msg ? json_pack("{s:[O]}", "messages", msg) : NULL;
    char id[40] = "";
    rc = values ? graph_update_state(sa_conversation_graph(app->conversation), thread_id, NULL,
                                     values, "respond", id, err)
                : sa_err_set(err, SA_ENOMEM, "out of memory");
    json_decref(values);
    if (rc == SA_ENOTFOUND)
        rc = sa_err_set(err, SA_ENOTFOUND, "No conversation %s", thread_id);
    if (!rc && !(*out = json_pack("{s:s, s:s, s:O}", "thread_id", thread_id, "checkpoint_id", id,
                                  "message", msg)))
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    json_decref(msg);
    return rc;
}

int sa_app_conversations_list(struct sa_store *store, int limit, long long before, json_t **out,
                              struct sa_err *err)
{
    *out = NULL;
    json_t *page = NULL;
    int rc = sa_store_conversation_list(store, limit, before, &page, err);
    if (rc)
        return rc;
    /* the store's place number goes out as an opaque cursor */
    json_t *next = json_object_get(page, "next_before");
    char cursor[32];
    snprintf(cursor, sizeof cursor, "%lld", (long long)json_integer_value(next));
    *out = json_pack("{s:O, s:o, s:i}", "items", json_object_get(page, "items"), "next_cursor",
                     json_is_integer(next) ? json_string(cursor) : json_null(), "limit", limit);
    json_decref(page);
    return *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}
