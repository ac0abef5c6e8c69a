/* The invoke service (see invoke.h). */
#include "app/invoke.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/conversation.h"
#include "agents/pipeline.h"
#include "graph/graph.h"
#include "app/app.h"
#include "app/approvals.h"
#include "app/crm_sync.h"
#include "app/drafts.h"
#include "app/leads.h"
#include "base/clock.h"
#include "base/detail.h"
#include "base/json.h"
#include "domain/contact.h"
#include "domain/lead.h"
#include "metrics/metrics.h"
#include "store/session.h"
#include "store/store.h"

void sa_invoke_res_clear(struct sa_invoke_res *res)
{
    json_decref(res->output);
    res->output = NULL;
}

static void record_agent_name(struct sa_app *app, const char *name, double seconds,
                              const char *error_code)
{
    if (error_code) {
        const char *v[] = {name, error_code};
        sa_metrics_add(app->metrics, app->m_agent_errors, v, 1);
    } else {
        const char *v[] = {name};
        sa_metrics_add(app->metrics, app->m_agent_success, v, 1);
    }
    if (seconds >= 0) {
        const char *v[] = {name};
        sa_metrics_observe(app->metrics, app->m_agent_seconds, v, seconds);
    }
}

static const char *error_code_label(int rc)
{
    switch (rc) {
    case SA_ENOTIMPL: return "not_implemented";
    case SA_ESTORE: return "store_error";
    case SA_ENOMEM: return "out_of_memory";
    case SA_EINVAL: return "invalid_input";
    case SA_ECANCELED: return "cancelled";
    case SA_ECONFLICT: return "conflict"; /* a client's busy or foreign thread, not ours */
    case SA_ENOTFOUND: return "not_found";
    case SA_ETIMEDOUT: return "timeout";
    default: return "internal_error";
    }
}

/* Marketing works from the earlier agents' outputs: when it is invoked on its own, they
 * run first (in-process, microseconds) and their outputs are its context. */
static json_t *standalone_context(struct sa_app *app, const struct sa_lead *lead,
                                  enum sa_agent_type type)
{
    if (type != SA_AGENT_MARKETING)
        return NULL;
    /* the facts marketing needs, without the model narratives it does not read */
    json_t *ctx = json_pack("{s:b}", "skip_explain", 1);
    static const enum sa_agent_type deps[] = {SA_AGENT_QUALIFICATION, SA_AGENT_ENRICHMENT,
                                              SA_AGENT_GROWTH};
    for (size_t i = 0; i < sizeof deps / sizeof deps[0]; i++) {
        struct sa_agent *a = sa_agents_get(app->agents, deps[i]);
        json_t *out = NULL;
        struct sa_err e = {0};
        if (sa_agent_available(a) && sa_agent_run(a, lead, ctx, &out, &e) == 0)
            json_object_set_new(ctx, sa_agent_type_name(deps[i]), out);
    }
    json_object_del(ctx, "skip_explain");
    return ctx;
}

/* The supersession of a thread's approvals by a run with new input (run_pipeline). */
struct supersede {
    struct sa_app *app;
    const char *thread_id, *by;
};

static int supersede_before_input(void *arg, struct sa_err *err)
{
    const struct supersede *s = arg;
    return sa_app_supersede_approvals(s->app, s->thread_id, s->by, err);
}

static void supersede_undo(void *arg)
{
    const struct supersede *s = arg;
    sa_app_unsupersede_approvals(s->app, s->thread_id, s->by);
}

/* Runs the pipeline on the lead in thread_id (continued from its checkpoint when the
 * request asks and there is one). New input on a thread the caller named starts its
 * graph over from START: the approvals still pending there answer interrupts that are
 * gone, so they are superseded by this run (by: its id), and answering one is 409 instead
 * of an accept that sends nothing (see README, "Agent Server API: approvals stay
 * consistent"). That happens once the thread is this run's, just before its input
 * checkpoint is saved, and is undone when that save fails: a run that saved no input
 * (busy thread, a store or saver error) leaves the approvals pending as they were. */
static int run_pipeline(struct sa_app *app, const struct sa_invoke_req *req,
                        const struct sa_lead *lead, json_t **output, const char *thread_id,
                        const char *lead_id, const char *by, struct sa_err *err)
{
    struct graph_result gr;
    int rc = SA_ENOTFOUND;
    if (req->continue_thread)
        rc = sa_pipeline_continue(app->pipeline, thread_id, req->stream_modes, req->on_event,
                                  req->event_arg, req->cancel, &gr, err);
    struct supersede sup = {app, thread_id, by};
    const struct graph_input_hook hook = {supersede_before_input, supersede_undo, &sup};
    if (rc == SA_ENOTFOUND)
        rc = sa_pipeline_run(app->pipeline, lead->raw, thread_id, lead_id, req->stream_modes,
                             req->on_event, req->event_arg, req->cancel,
                             req->thread_id ? &hook : NULL, &gr, err);
    if (rc)
        return rc;
    json_object_del(gr.values, "lead_data"); /* the lead is stored as the lead */
    json_t *approvals = NULL;
    if (gr.status == GRAPH_INTERRUPTED &&
        (rc = sa_app_record_interrupts(app->store, thread_id, lead_id, gr.interrupts, &approvals,
                                       err))) {
        graph_result_clear(&gr);
        return rc;
    }
    *output = json_pack("{s:O, s:s, s:i, s:s}", "state", gr.values, "status",
                        gr.status == GRAPH_DONE ? "done" : "interrupted", "steps", gr.steps,
                        "checkpoint_id", gr.checkpoint_id);
    if (approvals)
        json_object_set_new(*output, "approvals", approvals);
    graph_result_clear(&gr);
    return *output ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}

/* Whether a later contact name only drops the salutation of the earlier ("Herr Müller",
 * then "Müller"): the earlier stays, so that the lead is not then taken for "Frau
 * Müller" of the same shared mailbox (docs/leads.md). */
static bool drops_salutation(const json_t *earlier, const json_t *later)
{
    const char *e = json_string_value(earlier), *l = json_string_value(later);
    return e && l && sa_contact_salutation(e) && !sa_contact_salutation(l) &&
           sa_contact_same_person(e, l);
}

void sa_app_lead_merge(json_t *earlier, const json_t *later)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)later, k, v)
    {
        json_t *old = json_object_get(earlier, k);
        if (strcmp(k, "name") == 0 && drops_salutation(old, v))
            continue;
        if (json_is_object(old) && json_is_object(v)) {
            sa_app_lead_merge(old, v);
        } else if (json_is_array(old) && json_is_array(v) && strcmp(k, "signals") == 0) {
            size_t i;
            json_t *x;
            json_array_foreach(v, i, x)
            {
                bool seen = false;
                size_t j;
                json_t *y;
                json_array_foreach(old, j, y) seen |= json_equal(x, y);
                if (!seen)
                    json_array_append(old, x);
            }
        } else {
            /* a copy: the merged input is normalised in place (domain/lead.h), which
             * must not reach the request's own objects */
            json_object_set_new(earlier, k, json_deep_copy(v));
        }
    }
}

/* The identity rule for a shared mailbox (docs/leads.md), on the mailbox's leads
 * (earliest first), names compared by sa_contact_same_person (the name key, and "Herr"
 * is not "Frau"): a named input is the lead of
 * the same name, else the earliest lead without a name (which takes the name), else a
 * new lead; an input without a name is the mailbox's earliest lead (its only one, when
 * it has one). */
static int by_mailbox(struct sa_app *app, const struct sa_lead *lead,
                      const struct sa_identify_taken *taken, char id[SA_UUID_LEN], json_t **data,
                      struct sa_err *err)
{
    if (data)
        *data = NULL;
    char want[512];
    char have[512];
    if (!sa_contact_name_key(lead->contact_name, want, sizeof want))
        snprintf(want, sizeof want, "%s", lead->contact_name); /* too long: as given */
    /* A page at a time, so one lookup holds at most a page of the mailbox's leads
     * (a list imported onto info@ can hold thousands); past SA_MAILBOX_SCAN_MAX a name
     * not found is a new lead (docs/leads.md). */
    char wg = sa_contact_gender(lead->contact_name, lead->raw);
    json_t *same = NULL, *unnamed = NULL; /* owned */
    int rc = 0;
    for (int offset = 0; !same && offset < SA_MAILBOX_SCAN_MAX; offset += SA_MAILBOX_PAGE) {
        json_t *rows = NULL;
        if ((rc = sa_store_leads_by_mailbox(app->store, lead->contact_email, SA_MAILBOX_PAGE,
                                            offset, &rows, err)))
            break;
        size_t i;
        json_t *r;
        json_array_foreach(rows, i, r)
        {
            const char *name = json_string_value(json_object_get(r, "contact_name"));
            const char *given = NULL; /* the name an earlier lead of an import gives it */
            if (taken &&
                taken->name_of(taken->arg, json_string_value(json_object_get(r, "id")), &given))
                name = given;
            if (!sa_contact_name_key(name, have, sizeof have))
                snprintf(have, sizeof have, "%s", name);
            char g = sa_contact_gender(name, json_object_get(r, "data"));
            if (!want[0] || sa_contact_same_person_as(name, g, lead->contact_name, wg)) {
                same = json_incref(r);
                break;
            }
            if (!have[0] && !unnamed)
                unnamed = json_incref(r);
        }
        size_t n = json_array_size(rows);
        json_decref(rows);
        if (n < SA_MAILBOX_PAGE)
            break;
    }
    const json_t *got = same ? same : unnamed;
    if (!rc && got) {
        snprintf(id, SA_UUID_LEN, "%s", json_string_value(json_object_get(got, "id")));
        if (data)
            *data = json_incref(json_object_get(got, "data"));
    } else if (!rc) {
        rc = sa_err_set(err, SA_ENOTFOUND, "no such lead");
    }
    json_decref(same);
    json_decref(unnamed);
    return rc;
}

int sa_app_lead_identify(struct sa_app *app, const struct sa_lead *lead, char id[SA_UUID_LEN],
                         json_t **data, struct sa_err *err)
{
    return sa_app_lead_identify_taken(app, lead, NULL, id, data, err);
}

int sa_app_lead_identify_taken(struct sa_app *app, const struct sa_lead *lead,
                               const struct sa_identify_taken *taken, char id[SA_UUID_LEN],
                               json_t **data, struct sa_err *err)
{
    id[0] = '\0';
    /* a shared mailbox (info@, sales@) is not a person: the people writing from it are
     * told apart by name (docs/leads.md) */
    if (lead->contact_email && sa_email_role_account(lead->contact_email))
        return by_mailbox(app, lead, taken, id, data, err);
    if (lead->contact_email)
        return sa_store_lead_by_email(app->store, lead->contact_email, id, data, err);
    char domain[256];
    sa_lead_domain(lead, app->model, domain, sizeof domain);
    return sa_store_lead_match(app->store, lead->company_name, domain[0] ? domain : NULL,
                               lead->contact_name, id, data, err);
}

/* First writes of invokes for the same contact serialise on one of these, chosen by a
 * hash of the identity key (the e-mail, else company and contact name, ASCII case
 * folded). An invoke that found no stored lead looks again under the lock just before it
 * writes, so two concurrent first invokes for one contact give one lead. The agents run outside
 * it: holding it across a run would queue a second invoke behind the first instead of
 * answering 409 for a busy thread. */
#define STRIPES 64
static pthread_mutex_t stripes[STRIPES] = {[0 ... STRIPES - 1] = PTHREAD_MUTEX_INITIALIZER};

static pthread_mutex_t *stripe_of(const struct sa_lead *l)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    const char *parts[] = {l->contact_email ? l->contact_email : l->company_name,
                           l->contact_email ? "" : (l->contact_name ? l->contact_name : "")};
    for (size_t i = 0; i < 2; i++)
        for (const char *p = parts[i]; p && *p; p++) {
            char c = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;
            h = (h ^ (uint8_t)c) * 16777619u;
        }
    return &stripes[h % STRIPES];
}

/* Sets res->lead_id and res->action for req (see sa_app_invoke). When the identity rule
 * finds a stored lead, *merged is its stored input with req's folded over it (clear it
 * with sa_lead_clear). */
static int resolve_lead(struct sa_app *app, const struct sa_invoke_req *req,
                        struct sa_invoke_res *res, struct sa_lead *merged, struct sa_err *err)
{
    if (req->lead_id) {
        snprintf(res->lead_id, sizeof res->lead_id, "%s", req->lead_id);
        json_t *old = NULL;
        struct sa_err e = {0};
        res->action =
            sa_store_get_lead(app->store, req->lead_id, &old, &e) == 0 ? "updated" : "created";
        json_decref(old);
        return 0;
    }
    if (!req->lead) { /* a turn agent's input: no lead */
        sa_uuid_v7(res->lead_id);
        return 0;
    }
    /* the stored input comes with the id: one read (store.h lead_by_email) */
    json_t *in = NULL;
    int rc = sa_app_lead_identify(app, req->lead, res->lead_id, &in, err);
    if (rc == SA_ENOTFOUND) {
        sa_uuid_v7(res->lead_id);
        res->action = "created";
        return 0;
    }
    if (rc)
        return rc;
    res->action = "updated";
    if (json_is_object(in)) {
        sa_app_lead_merge(in, req->lead->raw);
        json_t *detail = json_array();
        if (sa_lead_parse(in, "", merged, detail)) /* then the input alone, as given */
            memset(merged, 0, sizeof *merged);
        json_decref(detail);
    }
    json_decref(in);
    return 0;
}

int sa_app_invoke(struct sa_app *app, const struct sa_invoke_req *req, struct sa_invoke_res *res,
                  struct sa_err *err)
{
    memset(res, 0, sizeof *res);
    struct sa_agent *agent =
        req->type == SA_AGENT_PIPELINE ? NULL : sa_agents_get(app->agents, req->type);
    const char *name = agent ? sa_agent_name(agent) : "pipeline";
    if (agent && !sa_agent_available(agent)) {
        record_agent_name(app, name, -1, "not_implemented");
        sa_agents_record(app->agents, req->type, 0, false);
        return sa_err_set(err, SA_ENOTIMPL, "the %s agent is not available", name);
    }
    /* The agent says how it is reached: a turn on a thread, a step of the pipeline graph
     * (invoking it runs the pipeline through it), or one run on the lead. */
    enum sa_agent_entry entry = agent ? sa_agent_entry(agent) : SA_AGENT_ENTRY_PIPELINE;
    if (entry == SA_AGENT_ENTRY_TURN)
        return sa_app_converse(app, req->thread_id, req->input, res, err);
    bool pipeline = entry == SA_AGENT_ENTRY_PIPELINE;
    res->engine = "rules";
    /* Which lead this is: the caller's lead_id, else the identity rule's stored lead
     * (updated with this input folded over its stored one), else a new lead. */
    struct sa_lead merged = {0};
    const struct sa_lead *lead = req->lead;
    pthread_mutex_t *stripe = NULL;
    bool qualified = false; /* a qualification was written: the CRM hears of it */
    int rc = resolve_lead(app, req, res, &merged, err);
    if (rc)
        return rc;
    if (merged.raw)
        lead = &merged;
    if (req->thread_id)
        snprintf(res->thread_id, sizeof res->thread_id, "%s", req->thread_id);
    else
        sa_uuid_v7(res->thread_id);
    sa_uuid_v7(res->execution_id);
    /* one draft at a time for a stored lead the caller named: claimed while the pipeline
     * runs, until its approval (pending) is stored and keeps the next start out */
    struct sa_draft_claim claim = {0};
    if (pipeline && req->one_draft && req->lead_id && !req->continue_thread &&
        (rc = sa_app_draft_claim(app, res->lead_id, "invoke", res->thread_id, res->thread_id,
                                 &claim, req->one_draft, err))) {
        sa_lead_clear(&merged);
        res->action = NULL;
        return rc;
    }
    if (pipeline && req->on_ids)
        req->on_ids(res, req->event_arg);

    json_t *own_ctx = pipeline || req->context ? NULL : standalone_context(app, lead, req->type);
    uint64_t t0 = sa_now_ns();
    rc = pipeline
             ? run_pipeline(app, req, lead, &res->output, res->thread_id, res->lead_id,
                            req->run_id ? req->run_id : res->execution_id, err)
             : sa_agent_run(agent, lead, req->context ? req->context : own_ctx, &res->output, err);
    json_decref(own_ctx);
    uint64_t ns = sa_now_ns() - t0;
    res->processing_ms = sa_ns_to_ms(ns);
    if (rc) {
        record_agent_name(app, name, (double)ns / 1e9, error_code_label(rc));
        if (!pipeline)
            sa_agents_record(app->agents, req->type, res->processing_ms, false);
        goto out;
    }
    json_object_set_new(res->output, "processing_time", json_real(res->processing_ms));
    /* an agent whose model wrote part of its answer says so (agents/llm_use.h) */
    const char *engine = json_string_value(json_object_get(res->output, "engine"));
    if (!pipeline && engine && strcmp(engine, "llm") == 0)
        res->engine = "llm";
    /* the lead's qualification, when this invocation produced one */
    json_t *qual =
        pipeline ? json_object_get(json_object_get(res->output, "state"), "qualification_score")
        : req->type == SA_AGENT_QUALIFICATION ? res->output
                                              : NULL;

    const struct sa_lead *l = lead;
    char *data = sa_json_dumps(l->raw, 0, NULL);
    char *output = sa_json_dumps(res->output, 0, NULL);
    struct sa_lead_row row;
    char size_text[32];
    sa_app_lead_row(&row, l, res->lead_id, data, qual, size_text);
    char domain[256];
    sa_lead_domain(l, app->model, domain, sizeof domain);
    row.company_domain = domain;
    struct sa_exec_row exec = {
        .id = res->execution_id,
        .lead_id = res->lead_id,
        .agent_type = name,
        .thread_id = res->thread_id,
        .success = true,
        .input = data,
        .output = output,
        .processing_time_ms = res->processing_ms,
    };
    /* Only a first write for the contact takes its stripe: an invoke that found the stored
     * lead writes onto that id (an upsert), which needs no look again, and holding the
     * stripe there would make every invoke for one contact commit alone instead of in a
     * shared group commit. */
    if (!req->lead_id && req->lead && strcmp(res->action, "created") == 0) {
        stripe = stripe_of(req->lead);
        pthread_mutex_lock(stripe);
        char again[SA_UUID_LEN];
        struct sa_err e = {0};
        if (sa_app_lead_identify(app, lead, again, NULL, &e) == 0) {
            /* another invoke created this contact meanwhile: write onto it */
            memcpy(res->lead_id, again, sizeof again);
            res->action = "updated";
        }
    }
    if (!data || !output) {
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    } else if (req->only_if_new) {
        rc = sa_store_insert_lead_if_new(app->store, &row, &exec, &res->written, err);
    } else {
        rc = sa_store_save_invocation(app->store, &row, &exec, err);
        res->written = rc == 0;
    }
    free(data);
    free(output);
    record_agent_name(app, name, (double)ns / 1e9, rc ? error_code_label(rc) : NULL);
    if (!pipeline)
        sa_agents_record(app->agents, req->type, res->processing_ms, rc == 0);
    if (!rc && req->only_if_new)
        res->action = res->written ? "created" : NULL;
    qualified = !rc && res->written && json_is_object(qual);
out:
    if (stripe)
        pthread_mutex_unlock(stripe);
    sa_app_draft_release(&claim);
    if (qualified) /* the CRM gets this version of the lead (CRM_PROVIDER; once per version) */
        sa_crm_sync_lead_logged(app, res->lead_id);
    sa_lead_clear(&merged);
    if (rc) {
        sa_invoke_res_clear(res);
        res->action = NULL;
    }
    return rc;
}

/* The meeting a turn booked, wherever the output carries it ({"meeting": {id, status}}). */
static const json_t *find_meeting(const json_t *o, int depth)
{
    const json_t *m = json_object_get(o, "meeting");
    if (json_is_object(m) && json_is_string(json_object_get(m, "id")))
        return m;
    const char *k;
    const json_t *v;
    if (depth > 0 && json_is_object(o))
        json_object_foreach((json_t *)o, k, v)
        {
            if ((m = find_meeting(v, depth - 1)))
                return m;
        }
    return NULL;
}

/* The CRM hears of the turn: the reply received and the meeting it booked (CRM_PROVIDER;
 * once each: the execution's id and the meeting's id and status key the pushes). */
static void crm_turn(struct sa_app *app, const char *lead_id, const char *email,
                     const json_t *input, const struct sa_invoke_res *res)
{
    if (!app->crm)
        return;
    char activity[96];
    snprintf(activity, sizeof activity, "turn:%s", res->execution_id);
    const json_t *msg = json_object_get(input, "message");
    const char *text = json_is_string(msg) ? json_string_value(msg)
                                           : json_string_value(json_object_get(msg, "content"));
    sa_crm_sync_activity_logged(app, lead_id, email, "reply", activity, "Reply received", text);
    const json_t *m = find_meeting(res->output, 3);
    const char *status = json_string_value(json_object_get(m, "status"));
    if (m && status && (strcmp(status, "confirmed") == 0 || strcmp(status, "booked") == 0)) {
        snprintf(activity, sizeof activity, "meeting:%s:%s",
                 json_string_value(json_object_get(m, "id")), status);
        sa_crm_sync_activity_logged(app, lead_id, email, "meeting", activity,
                                    json_string_value(json_object_get(m, "summary")),
                                    json_string_value(json_object_get(m, "text")));
    }
}

/* A turn whose contact is a stored lead (by e-mail, the identity rule) is recorded as an
 * execution of that lead: the lead's timeline shows the conversation, and erasing the
 * lead finds the thread and deletes its checkpoints. A failed record is logged: the turn
 * itself stands. */
static void link_turn_to_lead(struct sa_app *app, const json_t *input, struct sa_invoke_res *res)
{
    const json_t *contact = json_object_get(input, "contact");
    if (!contact)
        contact = json_object_get(input, "contact_info");
    const char *email = json_string_value(json_object_get(contact, "email"));
    struct sa_err err = {0};
    char id[SA_UUID_LEN];
    if (!email || sa_store_lead_by_email(app->store, email, id, NULL, &err) != 0)
        return;
    char *in = sa_json_dumps(input, 0, NULL), *out = sa_json_dumps(res->output, 0, NULL);
    sa_uuid_v7(res->execution_id);
    struct sa_exec_row e = {.id = res->execution_id,
                            .lead_id = id,
                            .agent_type = "conversation",
                            .thread_id = res->thread_id,
                            .success = true,
                            .input = in ? in : "{}",
                            .output = out,
                            .processing_time_ms = res->processing_ms};
    if (sa_store_execution_add(app->store, &e, &err) == 0) {
        snprintf(res->lead_id, sizeof res->lead_id, "%s", id);
        crm_turn(app, id, email, input, res);
    } else
        sa_log(SA_LOG_WARN, "conversation turn not linked to its lead",
               json_pack("{s:s, s:s}", "thread_id", res->thread_id, "error", err.msg));
    free(in);
    free(out);
}

/* Stores the turn's session (store/session.h) for SESSION_TTL_SECONDS: in Redis, the key
 * other instances read; without Redis the store derives it and this does nothing. A
 * failed write is logged: the turn itself stands (its checkpoint holds the same state), and
 * failing the request would have the client send the message twice. */
static void keep_session(struct sa_app *app, const char *thread_id, const json_t *session)
{
    struct sa_err err = {0};
    if (app->sessions && session &&
        sa_session_put(app->sessions, thread_id, session, (long)app->cfg.session_ttl, &err))
        sa_log(SA_LOG_WARN, "conversation session not stored",
               json_pack("{s:s, s:s}", "thread_id", thread_id, "error", err.msg));
}

/* Puts the turn in the conversation list (the web console's Conversations page): the
 * thread's stage, last intent and turns after it, the lead it is linked to, and the names
 * the input gave. A failed write is logged: the turn itself stands. */
static void list_conversation(struct sa_app *app, const json_t *input, const json_t *session,
                              const struct sa_invoke_res *res)
{
    const json_t *contact = json_object_get(input, "contact");
    if (!contact)
        contact = json_object_get(input, "contact_info");
    const char *lead = res->lead_id[0] ? res->lead_id : sa_json_str(session, "lead_id");
    const json_t *stage = json_object_get(res->output, "stage");
    char at[SA_ISO8601_LEN];
    sa_iso8601_now(at);
    struct sa_conversation_row row = {
        .thread_id = res->thread_id,
        .lead_id = lead && *lead ? lead : NULL,
        .company_name = sa_json_str(input, "company_name"),
        .contact_name = sa_json_str(contact, "name"),
        .contact_email = sa_json_str(contact, "email"),
        .stage = json_is_string(stage) ? json_string_value(stage) : sa_json_str(session, "stage"),
        .last_intent = sa_json_str(res->output, "intent"),
        .turns = (int)json_integer_value(json_object_get(
            session && json_is_integer(json_object_get(session, "turns")) ? session : res->output,
            session && json_is_integer(json_object_get(session, "turns")) ? "turns" : "turn")),
        .at = at,
    };
    struct sa_err err = {0};
    if (sa_store_conversation_touch(app->store, &row, &err))
        sa_log(SA_LOG_WARN, "conversation not listed",
               json_pack("{s:s, s:s}", "thread_id", res->thread_id, "error", err.msg));
}

int sa_app_converse(struct sa_app *app, const char *thread_id, const json_t *input,
                    struct sa_invoke_res *res, struct sa_err *err)
{
    memset(res, 0, sizeof *res);
    if (!app->conversation)
        return sa_err_set(err, SA_ENOTIMPL, "the conversation agent is not available");
    if (thread_id)
        snprintf(res->thread_id, sizeof res->thread_id, "%s", thread_id);
    else
        sa_uuid_v7(res->thread_id);
    uint64_t t0 = sa_now_ns();
    json_t *session = NULL;
    int rc =
        sa_conversation_turn(app->conversation, res->thread_id, input, &res->output, &session, err);
    uint64_t ns = sa_now_ns() - t0;
    res->processing_ms = sa_ns_to_ms(ns);
    res->engine = "naive_bayes";
    record_agent_name(app, "conversation", (double)ns / 1e9, rc ? error_code_label(rc) : NULL);
    sa_agents_record(app->agents, SA_AGENT_CONVERSATION, res->processing_ms, rc == 0);
    if (!rc)
        json_object_set_new(res->output, "processing_time", json_real(res->processing_ms));
    if (!rc) {
        link_turn_to_lead(app, input, res);
        keep_session(app, res->thread_id, session);
        list_conversation(app, input, session, res);
    }
    json_decref(session);
    return rc;
}

/* The agent of an invoke's type, or NULL for the pipeline. */
static struct sa_agent *agent_of(struct sa_app *app, int type)
{
    return type >= 0 && type < SA_AGENT_COUNT ? sa_agents_get(app->agents, (enum sa_agent_type)type)
                                              : NULL;
}

bool sa_app_invoke_runs_graph(struct sa_app *app, int type)
{
    struct sa_agent *a = agent_of(app, type);
    return type == SA_AGENT_PIPELINE || (a && sa_agent_entry(a) == SA_AGENT_ENTRY_PIPELINE);
}

/* An agent invoked as one call, described as the graph it would be a step of: its own
 * build_graph (the pipeline's default: one node) between START and END, compiled without
 * a saver and never run. */
static json_t *one_call_graph(struct sa_agent *a, struct sa_err *err)
{
    struct graph_builder *b = graph_builder_new();
    struct graph *g = NULL;
    json_t *out = NULL;
    const char *name = sa_agent_name(a);
    if (!b || sa_agent_build_graph(a, b, name, name, NULL)) {
        graph_builder_free(b);
        sa_err_set(err, SA_ENOMEM, "the %s agent could not build its graph", name);
        return NULL;
    }
    graph_add_edge(b, GRAPH_START, name);
    graph_add_edge(b, name, GRAPH_END);
    if (graph_compile(b, NULL, &g, err) == 0) {
        out = graph_describe(g);
        graph_free(g);
    }
    graph_builder_free(b);
    return out;
}

int sa_app_agent_graph(struct sa_app *app, int type, json_t **out, struct sa_err *err)
{
    *out = NULL;
    struct sa_agent *a = agent_of(app, type);
    if (a && !sa_agent_available(a))
        return sa_err_set(err, SA_ENOTIMPL, "the %s agent is not available", sa_agent_name(a));
    if (sa_app_invoke_runs_graph(app, type)) {
        if (!app->pipeline)
            return sa_err_set(err, SA_ENOTIMPL, "the pipeline is not available");
        *out = graph_describe(sa_pipeline_graph(app->pipeline));
    } else if (a && sa_agent_entry(a) == SA_AGENT_ENTRY_TURN) {
        if (!app->conversation)
            return sa_err_set(err, SA_ENOTIMPL, "the %s agent is not available", sa_agent_name(a));
        *out = graph_describe(sa_conversation_graph(app->conversation));
    } else if (a) {
        *out = one_call_graph(a, err);
        if (!*out && err->code)
            return err->code;
    } else {
        return sa_err_set(err, SA_ENOTFOUND, "no agent type %d", type);
    }
    return *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}

bool sa_app_invoke_input(struct sa_app *app, int type, json_t *input, const char *loc,
                         struct sa_lead *lead, json_t *detail)
{
    memset(lead, 0, sizeof *lead);
    size_t before = json_array_size(detail);
    if (!json_is_object(input)) {
        sa_detail_add(detail, loc, input ? "dict_type" : "missing",
                      input ? "Input should be a valid object" : "Field required");
        return false;
    }
    struct sa_agent *a = agent_of(app, type);
    if (a && sa_agent_entry(a) == SA_AGENT_ENTRY_TURN) {
        return sa_agent_check_input(a, input, loc, detail) == 0 &&
               json_array_size(detail) == before;
    }
    if (sa_lead_parse(input, loc, lead, detail) == 0 && json_array_size(detail) > before)
        sa_lead_clear(lead);
    return json_array_size(detail) == before;
}

void sa_app_agents_available(struct sa_app *app, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int t = 0; t < SA_AGENT_COUNT; t++) {
        if (!sa_agents_implemented(app->agents, (enum sa_agent_type)t))
            continue;
        int w = snprintf(buf + used, cap - used, "%s%s", used ? ", " : "",
                         sa_agent_type_name((enum sa_agent_type)t));
        if (w < 0 || (size_t)w >= cap - used)
            break;
        used += (size_t)w;
    }
}
