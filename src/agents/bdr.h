/* The BDR workflow: drafts the outreach from the marketing plan, interrupts for a human
 * approval (Agent Inbox's HumanInterrupt / HumanResponse), then queues the e-mail and its
 * follow-ups into the outbox with idempotency keys, so a side effect happens once however
 * often the step runs. Respects do-not-contact, one active sequence per contact and a
 * per-contact frequency cap. The approval lists every message (args.messages) and an
 * edit can change or drop each; follow-ups thread under the first e-mail (In-Reply-To,
 * References, "Re: " subject). Each outbox item records its sequence, day, recipient zone
 * and Message-ID for the sending policy (app/outbox.c).
 *
 * In the pipeline it is three nodes after marketing:
 *   bdr (draft) -> bdr_approval (interrupt) -> bdr_send (outbox) -> __end__
 * Each node does nothing when an earlier one decided there is nothing to send. */
#ifndef SA_AGENTS_BDR_H
#define SA_AGENTS_BDR_H

#include <jansson.h>

#include "base/err.h"

struct sa_agent;
struct sa_agent_deps;
struct graph_builder;

/* Its settings, from struct sa_agent_deps (config: SENDER_NAME, SENDER_EMAIL,
 * BDR_MAX_TOUCHES_PER_WEEK). */
struct sa_bdr_config {
    const char *sender_name, *sender_email;
    int max_touches_per_week; /* 0: no cap */
};

/* The registry's bdr agent (needs deps->store); NULL when out of memory. */
struct sa_agent *sa_bdr_new(const struct sa_agent_deps *deps);

/* Validates an Agent Inbox HumanResponse {type: accept|edit|response|ignore, args} (also
 * "respond", our first name for response) for the given request (its config's allow_*
 * flags; response is allow_respond) into detail entries under loc. An edit's message
 * fields equal to the request's pass as unchanged; its action must be the request's. An
 * accept's args must be null, absent or the request's action_request unchanged. */
int sa_bdr_validate_response(const json_t *response, const json_t *request, const char *loc,
                             json_t *detail);
/* What an edit changed: [{field, from, to}] (new reference; empty when nothing). */
json_t *sa_bdr_changes(const json_t *request, const json_t *response);

#endif
