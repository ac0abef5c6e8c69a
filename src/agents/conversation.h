/* The conversation agent: multi-turn chat on a thread. Each turn recognises the
 * prospect's intent (domain/intent.h), moves the sales stage, answers from reply
 * templates and suggests next actions; an unsubscribe marks the contact do-not-contact,
 * a meeting request proposes slots. The history lives in the thread's checkpoints (the
 * graph engine), so a thread can be continued by any later request. */
#ifndef SA_AGENTS_CONVERSATION_H
#define SA_AGENTS_CONVERSATION_H

#include <jansson.h>

#include "base/err.h"

struct sa_intent_model;
struct graph;
struct graph_saver;
struct sa_store;
struct sa_conversation;
struct sa_calendar;
struct sa_profile;

/* Builds the conversation graph; all arguments borrowed (MUST outlive it). The replies
 * come from profile's templates in the turn's language; a turn whose intent confidence is
 * below review_threshold (CONVERSATION_REVIEW_THRESHOLD) is left to a human. */
int sa_conversation_new(const struct sa_intent_model *intents, struct graph_saver *saver,
                        struct sa_store *store, const struct sa_calendar *calendar,
                        const struct sa_profile *profile, double review_threshold,
                        struct sa_conversation **out, struct sa_err *err) SA_WUR;
void sa_conversation_free(struct sa_conversation *c);

/* The conversation's graph (its threads' state and history); borrowed. */
const struct graph *sa_conversation_graph(const struct sa_conversation *c);

/* The conversation agent's registry entry (status and metrics); NULL when out of memory. */
struct sa_agent *sa_conversation_agent_new(void);

/* Validates a turn's input ({message, contact?: {name, email}, company_name?}) into
 * detail entries under loc_prefix. Returns 0 when valid. */
int sa_conversation_validate(const json_t *input, const char *loc_prefix, json_t *detail);

/* One turn on thread_id: *output (new reference) = {reply, intent, confidence,
 * alternatives, stage, previous_stage, suggested_actions, meeting_slots?,
 * do_not_contact, turn, history: [...]}. */
int sa_conversation_turn(struct sa_conversation *c, const char *thread_id, const json_t *input,
                         json_t **output, struct sa_err *err) SA_WUR;

/* Lets turns book meetings (agents/booking.h; borrowed, outliving c): a reply naming a
 * free time books it, else the nearest free slots are offered. Without it a meeting
 * request gets the calendar's next slots. */
struct sa_booking;
void sa_conversation_set_booking(struct sa_conversation *c, const struct sa_booking *booking);

#endif
