/* The conversations service: a conversation's session (store/session.h), for
 * GET /api/conversations/{thread_id}, and the list of conversations (GET /api/conversations). The
 * invoke service writes sessions after each turn (sa_app_converse); this reads them and applies the
 * one expiry rule of the business clock (agents/conversation.h), so a session past
 * SESSION_TTL_SECONDS is gone on every backend at the same moment, whatever Redis's own clock says.
 */
#ifndef SA_APP_CONVERSATIONS_H
#define SA_APP_CONVERSATIONS_H

#include <jansson.h>

#include "base/err.h"

struct sa_app;
struct sa_store;

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

/* The web console's conversation list (GET /api/conversations): the conversations, last
 * turn first, at most limit (1..500), before the cursor before (0: from the newest): *out
 * (new reference) {items: [{thread_id, lead_id, company_name, contact_name, stage,
 * last_intent, turns, created_at, updated_at}], next_cursor: "N"|null, limit}, next_cursor
 * the value of before for the next page. Every conversation that had a turn is listed,
 * expired sessions too (opening one then says it is gone) until retention deletes their
 * rows (app/retention.h: the next pass after SESSION_TTL_SECONDS of silence); an erased
 * lead's are not. */
int sa_app_conversations_list(struct sa_store *store, int limit, long long before, json_t **out,
                              struct sa_err *err) SA_WUR;

#endif
