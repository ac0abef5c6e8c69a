/* The invoke service: runs one agent, or the pipeline graph, on a lead and records it
 * (the lead and an execution, in one transaction), with the agents' status counters and
 * metrics; and one conversation turn. Shared by POST /api/langgraph/invoke, background
 * runs, seeding and `sales-agent pipeline`. */
#ifndef SA_APP_INVOKE_H
#define SA_APP_INVOKE_H

#include <jansson.h>
#include <stdbool.h>

#include "agents/agent.h"
#include "base/err.h"
#include "base/uuid.h"
#include "graph/graph.h"

struct sa_app;
struct sa_draft_blocker;
struct sa_lead;
struct sa_invoke_res;

/* The longest thread id accepted (a LangGraph thread id of a run or conversation). */
#define SA_THREAD_ID_MAX 128
/* The agent_type "pipeline": the six agents' graph rather than one agent. */
#define SA_AGENT_PIPELINE SA_AGENT_COUNT

struct sa_invoke_req {
    enum sa_agent_type type;
    const struct sa_lead *lead; /* validated */
    const char *lead_id;        /* NULL: a new lead; else that lead is written (upsert) */
    const char *thread_id;      /* NULL: a new thread id is made */
    bool only_if_new;           /* write nothing when lead_id already exists (seeding) */
    const json_t *context;      /* outputs of earlier agents (see sa_agent_ops.run), or NULL */
    /* SA_AGENT_PIPELINE only: graph events as they happen (see graph.h) */
    unsigned stream_modes;
    graph_stream_fn on_event;
    void *event_arg;
    /* SA_AGENT_PIPELINE only, optional: the run's ids (lead_id, thread_id, execution_id of
     * res), once known and before the graph runs; called with event_arg */
    void (*on_ids)(const struct sa_invoke_res *res, void *arg);
    const volatile int *cancel; /* set to stop the pipeline before its next step */
    bool continue_thread;       /* continue thread_id from its checkpoint when it has one */
    const json_t *input;        /* a turn agent's input (validated); lead is NULL then */
    /* SA_AGENT_PIPELINE only, optional: the caller's id of this run (an Agent Server or
     * queued run's), recorded on the approvals it supersedes; NULL: res's execution_id */
    const char *run_id;
    /* Not NULL: the one-draft rule (app/drafts.h) applies to a run of the pipeline graph on
     * the stored lead lead_id (not to continue_thread): while the lead has a draft under
     * way nothing runs and SA_ECONFLICT comes with *one_draft saying what is under way
     * (kind stays "" for any other conflict, a busy thread). */
    struct sa_draft_blocker *one_draft;
};

struct sa_invoke_res {
    char lead_id[SA_UUID_LEN];
    char thread_id[SA_THREAD_ID_MAX + 1];
    char execution_id[SA_UUID_LEN];
    json_t *output; /* owned by the result: release with sa_invoke_res_clear */
    double processing_ms;
    bool written;       /* false only when only_if_new found the lead already there */
    const char *engine; /* static: "rules", or "naive_bayes" for conversation turns */
    /* static: "created" (a new lead) or "updated" (the stored lead of lead_id, or the one
     * the identity rule found); NULL for a conversation turn or a lead not written */
    const char *action;
};

/* Runs the agent on the lead, measures it, and writes the lead and an execution row in
 * one transaction; an agent that is a step of the pipeline runs the pipeline, and a turn
 * agent takes req->input as one conversation turn (sa_app_converse: no lead, lead_id
 * ""). Updates status counters and metrics. Returns 0 with res filled;
 * SA_ENOTIMPL for agents not available; SA_ESTORE when the write failed (nothing
 * written); SA_ECONFLICT when the thread is busy or another graph's, or the one-draft
 * rule refused the run (req->one_draft); other codes from the agent. */
int sa_app_invoke(struct sa_app *app, const struct sa_invoke_req *req, struct sa_invoke_res *res,
                  struct sa_err *err) SA_WUR;
void sa_invoke_res_clear(struct sa_invoke_res *res);

/* One conversation turn (input: {message, contact?, company_name?}, validated) on
 * thread_id (NULL: a new thread). Measures and records it like an agent invocation.
 * res->output and res->thread_id are set; no lead is written. */
int sa_app_converse(struct sa_app *app, const char *thread_id, const json_t *input,
                    struct sa_invoke_res *res, struct sa_err *err) SA_WUR;

/* Validates an invoke's input for agent type into detail at loc: the agent's own check
 * for turn agents (a conversation message), else the lead, parsed into *lead (clear it
 * with sa_lead_clear; lead->raw stays NULL for turn agents). True when valid. */
bool sa_app_invoke_input(struct sa_app *app, int type, json_t *input, const char *loc,
                         struct sa_lead *lead, json_t *detail);

/* True when invoking type runs the pipeline graph (the pipeline, or an agent that is a
 * step of it): its events can stream as they happen. */
bool sa_app_invoke_runs_graph(struct sa_app *app, int type);

/* The graph invoking type runs, as graph_describe gives it (GET
 * /api/agents/{agent_type}/graph): the pipeline's for the pipeline and its steps that
 * interrupt it (bdr), the conversation's for conversation, and for an agent invoked as one
 * call the one-node graph its build_graph makes (START -> agent -> END). *out: a new
 * reference. SA_ENOTIMPL when the agent (or the conversation's data) is not available. */
int sa_app_agent_graph(struct sa_app *app, int type, json_t **out, struct sa_err *err) SA_WUR;

/* A shared mailbox's leads are read SA_MAILBOX_PAGE at a time, at most SA_MAILBOX_SCAN_MAX
 * of them (the earliest) by one identification (docs/leads.md). */
#define SA_MAILBOX_PAGE 200
#define SA_MAILBOX_SCAN_MAX 10000

/* The identity rule (docs/leads.md): the stored lead that lead is. With a contact e-mail,
 * the earliest lead with the same e-mail (ASCII case ignored) and nothing else, unless
 * the e-mail is a shared mailbox (sa_email_role_account: info@, sales@...): then the
 * earliest lead with that e-mail and the same contact name (sa_contact_same_person), else
 * the earliest one without a name; an input without a name takes the mailbox's earliest
 * (only) lead; without
 * one, the earliest lead without an e-mail with the same company name, company domain
 * (sa_lead_domain: corporate e-mail, else website; none matches none) and contact name
 * (case ignored; none matches none). Returns 0 with id, SA_ENOTFOUND, or a store error.
 * When data is not NULL, *data (new reference) is the found lead's stored input, read
 * with its id. */
int sa_app_lead_identify(struct sa_app *app, const struct sa_lead *lead, char id[SA_UUID_LEN],
                         json_t **data, struct sa_err *err) SA_WUR;

/* Stored leads an import has given to an earlier lead of its file but not yet written:
 * name_of answers true for such an id, with *name the contact name that lead will have
 * once written (NULL: none; borrowed), so that the shared mailbox's rule compares the
 * next file lead with that name, as if the earlier had been written first. */
struct sa_identify_taken {
    bool (*name_of)(void *arg, const char *id, const char **name);
    void *arg;
};

/* sa_app_lead_identify with the stored leads an import has taken (see above; NULL for
 * none): the in-file rule is then the same as invoking the file's leads in turn. */
int sa_app_lead_identify_taken(struct sa_app *app, const struct sa_lead *lead,
                               const struct sa_identify_taken *taken, char id[SA_UUID_LEN],
                               json_t **data, struct sa_err *err) SA_WUR;

/* Folds later into earlier (two lead inputs, JSON objects): a later value replaces an
 * earlier one, except that objects (contact_info) merge key by key and signals are
 * united, so a later input that gives only a phone keeps the title an earlier one gave;
 * a later contact name that only leaves out the earlier's salutation ("Müller" after
 * "Frau Müller") keeps the earlier. earlier is changed in place; later is only read. */
void sa_app_lead_merge(json_t *earlier, const json_t *later);

/* The agents that can run now, comma-separated ("qualification, enrichment, ..."). */
void sa_app_agents_available(struct sa_app *app, char *buf, size_t cap);

#endif
