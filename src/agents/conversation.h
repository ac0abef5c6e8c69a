/* The conversation agent: multi-turn chat on a thread. Each turn recognises the
 * prospect's intent (domain/intent.h), moves the sales stage, answers from reply
 * templates and suggests next actions; an unsubscribe marks the contact do-not-contact,
 * a meeting request proposes slots. The history lives in the thread's checkpoints (the
 * graph engine), so a thread can be continued by any later request, for SESSION_TTL_SECONDS
 * after its last turn (its session, store/session.h); then it is forgotten. */
#ifndef SA_AGENTS_CONVERSATION_H
#define SA_AGENTS_CONVERSATION_H

#include <jansson.h>
#include <stdbool.h>

#include "base/err.h"

/* The default of SESSION_TTL_SECONDS (30 days), for callers given 0. */
#define SA_CONVERSATION_SESSION_TTL 2592000.0

struct sa_intent_model;
struct graph;
struct graph_saver;
struct sa_store;
struct sa_conversation;
struct sa_calendar;
struct sa_profile;
struct sa_session_store;

/* Builds the conversation graph; all arguments borrowed (MUST outlive it). The replies
 * come from profile's templates in the turn's language; a turn whose intent confidence is
 * below review_threshold (CONVERSATION_REVIEW_THRESHOLD) is left to a human. A thread
 * lives session_ttl seconds (SESSION_TTL_SECONDS; 0: SA_CONVERSATION_SESSION_TTL) after
 * its last turn: its checkpoints carry that expiry (graph_compile_opts.thread_ttl), so the
 * Redis saver keeps their keys that long and the database savers' sweep deletes them
 * after it; a turn on a thread past it starts a new conversation. */
int sa_conversation_new(const struct sa_intent_model *intents, struct graph_saver *saver,
                        struct sa_store *store, const struct sa_calendar *calendar,
                        const struct sa_profile *profile, double review_threshold,
                        double session_ttl, struct sa_conversation **out,
                        struct sa_err *err) SA_WUR;
void sa_conversation_free(struct sa_conversation *c);

/* The conversation's graph (its threads' state and history); borrowed. */
const struct graph *sa_conversation_graph(const struct sa_conversation *c);

/* An out-of-office notice that says the contact is back on back ("YYYY-MM-DD"; anything
 * else moves nothing): the follow-ups queued for email move so that the first arrives the
 * day after, the others keeping their spacing; the sending policy then fits each into the
 * contact's window. *n counts the items moved. Used by the turn on an out_of_office
 * intent and by inbound mail's automatic replies (app/inbound.h). Returns 0 or the
 * store's error. */
int sa_conversation_postpone_followups(struct sa_store *store, const char *email,
                                       const char *back, int *n, struct sa_err *err) SA_WUR;

/* The conversation agent's registry entry (status and metrics); NULL when out of memory. */
struct sa_agent *sa_conversation_agent_new(void);

/* Validates a turn's input ({message, contact?: {name, email}, company_name?}) into
 * detail entries under loc_prefix. Returns 0 when valid. */
int sa_conversation_validate(const json_t *input, const char *loc_prefix, json_t *detail);

/* One turn on thread_id: *output (new reference) = {reply, intent, confidence,
 * alternatives, stage, previous_stage, suggested_actions, meeting_slots?,
 * do_not_contact, turn, history: [...]}. A thread whose session expired is deleted first,
 * so the turn starts a new conversation. With session not NULL, *session (new reference)
 * is the thread's session after the turn (below), for the caller to store. When the input
 * names a contact e-mail of a stored lead (input.contact or contact_info), the session
 * links that lead (lead_id) from then on. SA_ECONFLICT: the thread is another graph's. */
int sa_conversation_turn(struct sa_conversation *c, const char *thread_id, const json_t *input,
                         json_t **output, json_t **session, struct sa_err *err) SA_WUR;

/* A conversation's session, derived from its thread's latest checkpoint: {thread_id,
 * stage, previous_stage, turns, language, last_intent, last_confidence, do_not_contact,
 * lead_id, created_at, updated_at, expires_at}; strings or null, times ISO 8601 UTC;
 * expires_at is updated_at + SESSION_TTL_SECONDS. No personal data: the contact is its
 * lead's. */

/* Whether session (as above) has expired at now (Unix seconds, business clock): now at or
 * past its expires_at. A session without one (a thread from before sessions) never does. */
bool sa_conversation_session_expired(const json_t *session, double now);

/* The session store derived from c's checkpoints (store/session.h, name "checkpoints"):
 * get reads the thread's latest state (SA_ENOTFOUND for none, or another graph's thread);
 * put and del do nothing (the turn's checkpoint holds the session, deleting the thread
 * deletes it). c MUST outlive it. Free with sa_session_store_free. Returns 0 or
 * SA_ENOMEM. */
int sa_conversation_sessions_new(struct sa_conversation *c, struct sa_session_store **out,
                                 struct sa_err *err) SA_WUR;

/* Lets turns book meetings (agents/booking.h; borrowed, outliving c): a reply naming a
 * free time books it, else the nearest free slots are offered. Without it a meeting
 * request gets the calendar's next slots. */
struct sa_booking;
void sa_conversation_set_booking(struct sa_conversation *c, const struct sa_booking *booking);
/* The model that may word the replies (agents/llm_use.h), borrowed; NULL: the profile's
 * templates alone. The intent, the stage, consent and meetings stay the rules' whatever
 * the model says: it only rewords a reply the templates wrote, never an unsubscribe's
 * confirmation, a meeting's confirmation or a reply to a do-not-contact contact. */
struct sa_llm_use;
void sa_conversation_set_llm(struct sa_conversation *c, struct sa_llm_use *llm);

#endif
