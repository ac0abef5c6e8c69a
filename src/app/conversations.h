/* The conversations service: a conversation's session (store/session.h), for
 * GET /api/conversations/{thread_id}. The invoke service writes sessions after each turn
 * (sa_app_converse); this reads them and applies the one expiry rule of the business clock
 * (agents/conversation.h), so a session past SESSION_TTL_SECONDS is gone on every backend
 * at the same moment, whatever Redis's own clock says. */
#ifndef SA_APP_CONVERSATIONS_H
#define SA_APP_CONVERSATIONS_H

#include <jansson.h>

#include "base/err.h"

struct sa_app;

/* thread_id's session (new reference; agents/conversation.h lists its fields). Returns 0,
 * SA_ENOTFOUND with a message for the client (no such conversation, or silent longer
 * than SESSION_TTL_SECONDS), SA_ENOTIMPL without the conversation agent, or SA_ESTORE. */
int sa_app_conversation_get(struct sa_app *app, const char *thread_id, json_t **out,
                            struct sa_err *err) SA_WUR;

/* The web console's human reply (issue 16): records message, written by author (a
 * principal's name), on thread_id's conversation as a message of the seller's side
 * {role: "assistant", content, source: "human", author, at}, in a checkpoint of its own
 * (graph_update_state as the respond node), so the thread's history and the next turn's
 * conversation see it. It is NOT sent to the prospect, and it changes neither the stage nor
 * the session's expiry. *out (new reference): {thread_id, checkpoint_id, message}.
 * SA_ENOTFOUND (no such conversation, or expired), SA_ECONFLICT (a turn is running on the
 * thread), SA_ENOTIMPL without the conversation agent. */
int sa_app_conversation_reply(struct sa_app *app, const char *thread_id, const char *message,
                              const char *author, json_t **out, struct sa_err *err) SA_WUR;

#endif
