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

#endif
