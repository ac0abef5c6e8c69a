/* The BDR workflow (see bdr.h). */
#include "agents/bdr.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "agents/agent.h"
#include "agents/booking.h"
#include "connectors/calendar/calendar.h"
#include "connectors/mail/message.h"
#include "base/clock.h"
#include "base/detail.h"
#include "base/uuid.h"
#include "domain/scoring.h"
#include "domain/timezone.h"
#include "graph/graph.h"
#include "store/store.h"

struct bdr {
    struct sa_agent base; /* first: the registry sees a struct sa_agent */
    struct sa_store *store;
    const struct sa_model *model;       /* the free-mail list (no domain cap for gmail.com) */
    const struct sa_calendar *calendar; /* meeting slots; NULL: no meeting proposed */
    struct sa_bdr_config cfg;
    struct sa_booking booking; /* meetings: proposed, held and re-checked */
    void *step;                /* the pipeline step it joined as (its status counters), or NULL */
};

static json_t *action(const char *what, json_t *extra)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    json_t *a = json_pack("{s:s, s:s}", "action", what, "at", now);
    if (extra)
        json_object_update(a, extra);
    json_decref(extra);
    return a;
}

/* Nothing to send: the reason goes to the decision and the action log. */
static int skip(json_t **update, const char *reason, const char *detail)
{
    *update =
        json_pack("{s:n, s:{s:s, s:s, s:s?}, s:[o], s:s}", "bdr_draft", "bdr_decision", "status",
                  "skipped", "reason", reason, "detail", detail, "bdr_actions",
                  action("skipped", json_pack("{s:s}", "reason", reason)), "current_agent", "bdr");
    return 0;
}

/* Whether the contact has a sequence other than except (NULL: none) still going: mail
 * queued, or sent within the week. */
static int active_sequence(struct bdr *b, const char *email, const char *except, bool *active,
                           struct sa_err *err)
{
    json_t *rows = NULL;
    int rc = sa_store_outbox_active_sequences(b->store, email, except,
                                              (long long)sa_wall_time() - 7LL * 86400, &rows, err);
    *active = json_array_size(rows) > 0;
    json_decref(rows);
    return rc;
}

/* The contact's consent, sequences and recent touches: "do_not_contact",
 * "active_sequence", "frequency_cap" or NULL. */
static const char *blocked(struct bdr *b, const char *email, struct sa_err *err, int *rc)
{
    *rc = 0;
    json_t *c = NULL;
    int r = sa_store_contact_get(b->store, email, &c, err);
    if (r && r != SA_ENOTFOUND) {
        *rc = r;
        return NULL;
    }
    bool dnc = json_is_true(json_object_get(c, "do_not_contact"));
    json_decref(c);
    if (dnc)
        return "do_not_contact";
    bool active = false;
    if ((*rc = active_sequence(b, email, NULL, &active, err)))
        return NULL;
    if (active)
        return "active_sequence";
    if (b->cfg.max_touches_per_week > 0) {
        long n = 0;
        if ((*rc = sa_store_outbox_touches(b->store, email, (long long)sa_wall_time() - 7LL * 86400,
                                           &n, err)))
            return NULL;
        if (n >= b->cfg.max_touches_per_week)
            return "frequency_cap";
    }
    return NULL;
}

/* "Re: " and subject (a JSON string, new reference), unless it starts with "Re:" already. */
static json_t *re_subject(const json_t *subject)
{
    const char *s = json_string_value(subject);
    if (!s)
        s = "";
    if (strncasecmp(s, "Re:", 3) == 0)
        return json_string(s);
    char *text = NULL;
    if (asprintf(&text, "Re: %s", s) < 0)
        return json_string("Re:");
    json_t *out = json_string(text);
    free(text);
    return out;
}

/* Who the draft's meeting is with: the lead in the state. */
static struct sa_booking_who who_of(const json_t *state, const char *email)
{
    const json_t *lead = json_object_get(state, "lead_data");
    return (struct sa_booking_who){
        .lead = lead,
        .lead_id = json_string_value(json_object_get(state, "lead_id")),
        .thread_id = json_string_value(json_object_get(state, "thread_id")),
        .email = email,
        .name = json_string_value(json_object_get(json_object_get(lead, "contact_info"), "name")),
        .company = json_string_value(json_object_get(lead, "company_name"))};
}

static json_t *ready_message(const json_t *content, const char *tmpl)
{
    json_t *m = json_object_get(content, tmpl);
    return json_is_true(json_object_get(m, "ready")) ? m : NULL;
}

static int draft(const json_t *state, json_t **update, struct graph_ctx *ctx, void *arg)
{
    struct bdr *b = arg;
    const json_t *lead = json_object_get(state, "lead_data");
    const json_t *plan = json_object_get(state, "marketing_plan");
    const json_t *ci = json_object_get(lead, "contact_info");
    const char *email = json_string_value(json_object_get(ci, "email"));
    if (!json_is_object(plan) || json_is_true(json_object_get(plan, "nurture")))
        return skip(update, "nurture", "tier D leads get no outreach from a rep");
    if (!email || !*email)
        return skip(update, "no_contact_email", "the lead has no contact e-mail");
    struct sa_err err = {0};
    int rc;
    const char *why = blocked(b, email, &err, &rc);
    if (rc)
        return graph_ctx_fail(ctx, SA_ESTORE, "bdr: %s", err.msg);
    if (why)
        return skip(update, why,
                    strcmp(why, "do_not_contact") == 0 ? "the contact asked not to be contacted"
                    : strcmp(why, "active_sequence") == 0
                        ? "the contact already has a sequence in progress (mail queued or sent "
                          "this week); a second one is not drafted"
                        : "the contact reached the weekly touch limit (BDR_MAX_TOUCHES_PER_WEEK)");
    const json_t *content = json_object_get(plan, "content");
    json_t *first = NULL, *followups = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(plan, "channels"), i, t)
    {
        if (strcmp(json_string_value(json_object_get(t, "channel")) ?: "", "email") != 0)
            continue;
        const char *tmpl = json_string_value(json_object_get(t, "template"));
        json_t *m = tmpl ? ready_message(content, tmpl) : NULL;
        json_int_t day = json_integer_value(json_object_get(t, "day"));
        if (!m)
            continue;
        /* the first ready e-mail opens: the day-0 one, or when it was withheld (a required
         * fact missing) the best one that could be written */
        if (!first && (day == 0 || json_array_size(followups) == 0))
            first = m;
        else if (day > 0)
            json_array_append_new(followups,
                                  json_pack("{s:I, s:s, s:O, s:O}", "day", day, "template", tmpl,
                                            "subject", json_object_get(m, "subject"), "body",
                                            json_object_get(m, "body")));
    }
    if (!first) {
        json_decref(followups);
        return skip(update, "no_ready_email", "the marketing plan has no ready first e-mail");
    }
    /* the follow-ups answer the first e-mail: one thread in the prospect's mailbox */
    json_array_foreach(followups, i, t)
    {
        json_object_set_new(t, "index", json_integer((json_int_t)i + 1));
        json_object_set_new(t, "subject", re_subject(json_object_get(first, "subject")));
    }
    char id[SA_UUID_LEN];
    sa_uuid_v7(id);
    /* the meeting the first e-mail proposes: the first free slot in both sides' working
     * hours, held in the store for this prospect (booking.h) */
    json_t *meeting = NULL, *slots = NULL;
    if (b->calendar) {
        const struct sa_booking_who who = who_of(state, email);
        if ((rc = sa_booking_propose(&b->booking, &who, sa_wall_time(), &meeting, &slots, &err))) {
            json_decref(followups);
            return graph_ctx_fail(ctx, SA_ESTORE, "bdr: could not hold a meeting slot: %s",
                                  err.msg);
        }
    } else {
        meeting = json_null();
        slots = json_array();
    }
    json_t *draft = json_pack(
        "{s:s, s:s, s:O, s:{s:s, s:s}, s:O, s:O, s:o, s:o, s:o}", "id", id, "to", email, "to_name",
        json_object_get(ci, "name") ? json_object_get(ci, "name") : json_null(), "from", "name",
        b->cfg.sender_name, "email", b->cfg.sender_email, "subject",
        json_object_get(first, "subject"), "body", json_object_get(first, "body"), "followups",
        followups, "meeting", meeting, "meeting_slots", slots);
    *update =
        json_pack("{s:o, s:n, s:[o], s:s}", "bdr_draft", draft, "bdr_decision", "bdr_actions",
                  action("drafted", json_pack("{s:s}", "draft_id", id)), "current_agent", "bdr");
    return 0;
}

/* Every message of a draft, in sending order: [{index, kind, day, subject, body}]. */
static json_t *draft_messages(const json_t *draft)
{
    json_t *all =
        json_pack("[{s:i, s:s, s:i, s:O, s:O}]", "index", 0, "kind", "email", "day", 0, "subject",
                  json_object_get(draft, "subject"), "body", json_object_get(draft, "body"));
    size_t i;
    const json_t *f;
    json_array_foreach(json_object_get(draft, "followups"), i, f) json_array_append_new(
        all, json_pack("{s:I, s:s, s:O, s:O, s:O}", "index", (json_int_t)i + 1, "kind", "followup",
                       "day", json_object_get(f, "day"), "subject", json_object_get(f, "subject"),
                       "body", json_object_get(f, "body")));
    return all;
}

/* The HumanInterrupt for a draft (Agent Inbox's schema): args lists every message of the
 * sequence, so nothing goes out unreviewed. */
static json_t *human_interrupt(const json_t *draft, const json_t *lead)
{
    const char *company = json_string_value(json_object_get(lead, "company_name"));
    const char *name = json_string_value(json_object_get(draft, "to_name"));
    char desc[900], when[160] = "";
    const char *local =
        json_string_value(json_object_get(json_object_get(draft, "meeting"), "local"));
    if (local)
        snprintf(when, sizeof when, " It proposes a call on %s (their time), held for them.",
                 local);
    snprintf(desc, sizeof desc,
             "Approve the first e-mail to %s at %s and its %zu follow-ups (args.messages, "
             "sent days apart in one thread).%s Accept to send them as drafted, edit the "
             "subject or body of the first (args.subject, args.body) or of any message "
             "(args.messages: [{index, subject, body, drop}]), respond with a note (nothing "
             "is sent), or ignore it.",
             name ? name : "the contact", company ? company : "the company",
             json_array_size(json_object_get(draft, "followups")), when);
    const json_t *mt = json_object_get(draft, "meeting");
    json_t *meeting =
        json_is_object(mt)
            ? json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "start",
                        json_object_get(mt, "start"), "end", json_object_get(mt, "end"), "summary",
                        json_object_get(mt, "summary"), "local", json_object_get(mt, "local"),
                        "timezone", json_object_get(mt, "timezone"), "hold_until",
                        json_object_get(mt, "hold_until"), "text", json_object_get(mt, "text"))
            : json_null();
    return json_pack("{s:{s:s, s:{s:O, s:O, s:O, s:o, s:o}}, s:{s:b, s:b, s:b, s:b}, s:s}",
                     "action_request", "action", "send_outreach", "args", "to",
                     json_object_get(draft, "to"), "subject", json_object_get(draft, "subject"),
                     "body", json_object_get(draft, "body"), "messages", draft_messages(draft),
                     "meeting", meeting, "config", "allow_accept", 1, "allow_edit", 1,
                     "allow_respond", 1, "allow_ignore", 1, "description", desc);
}

/* Applies an edit's args (validated by sa_bdr_validate_response) to final, a copy of the
 * draft: the first e-mail's subject and body, then each message of args.messages by
 * index; dropped follow-ups are removed. Follow-ups whose subject was not edited keep
 * answering the first e-mail's (possibly new) subject. */
static void apply_edit(json_t *final, const json_t *edited)
{
    const char *fields[] = {"subject", "body"};
    /* the draft as the request showed it: a message field sent back unchanged (Agent Inbox
     * returns every message whole) is no edit, so it neither undoes an edit of args.subject
     * nor pins a follow-up's "Re: " subject */
    json_t *orig = json_deep_copy(final);
    for (size_t i = 0; i < 2; i++)
        if (json_is_string(json_object_get(edited, fields[i])))
            json_object_set(final, fields[i], json_object_get(edited, fields[i]));
    json_t *fups = json_object_get(final, "followups");
    size_t n = json_array_size(fups);
    bool *subject_set = calloc(n + 1, sizeof *subject_set), *drop = calloc(n + 1, sizeof *drop);
    if (!subject_set || !drop) {
        free(subject_set);
        free(drop);
        json_decref(orig);
        return;
    }
    size_t k;
    const json_t *m;
    json_array_foreach(json_object_get(edited, "messages"), k, m)
    {
        json_int_t idx = json_integer_value(json_object_get(m, "index"));
        if (idx < 0 || (size_t)idx > n)
            continue;
        json_t *target = idx == 0 ? final : json_array_get(fups, (size_t)idx - 1);
        const json_t *was =
            idx == 0 ? orig : json_array_get(json_object_get(orig, "followups"), (size_t)idx - 1);
        bool changed[2] = {false, false};
        for (size_t i = 0; i < 2; i++) {
            const json_t *v = json_object_get(m, fields[i]);
            changed[i] =
                json_is_string(v) && !json_equal((json_t *)v, json_object_get(was, fields[i]));
            if (changed[i])
                json_object_set(target, fields[i], (json_t *)v);
        }
        subject_set[idx] = changed[0];
        drop[idx] = idx > 0 && json_is_true(json_object_get(m, "drop"));
    }
    for (size_t i = 0; i < n; i++) {
        json_t *f = json_array_get(fups, i);
        if (!subject_set[i + 1])
            json_object_set_new(f, "subject", re_subject(json_object_get(final, "subject")));
        else if (json_is_string(json_object_get(f, "subject")))
            json_object_set_new(f, "subject", re_subject(json_object_get(f, "subject")));
    }
    for (size_t i = n; i > 0; i--)
        if (drop[i])
            json_array_remove(fups, i - 1);
    free(subject_set);
    free(drop);
    json_decref(orig);
}

/* The agent's work in the pipeline, counted in its status like the other agents. */
static int draft_node(const json_t *state, json_t **update, struct graph_ctx *ctx, void *arg)
{
    struct bdr *b = arg;
    uint64_t t0 = sa_now_ns();
    int rc = draft(state, update, ctx, arg);
    sa_agent_step_record(b->step, sa_ns_to_ms(sa_now_ns() - t0), rc == 0);
    return rc;
}

/* Re-checks the draft's meeting (booking.h) at now: when it moved, final gets the new one
 * and *moved (new reference) says from what and why; when no slot is left, the meeting is
 * dropped from final. */
static int recheck_meeting(struct bdr *b, const json_t *state, json_t *final, json_t **moved,
                           struct sa_err *err)
{
    *moved = NULL;
    const json_t *mt = json_object_get(final, "meeting");
    if (!json_is_object(mt))
        return 0;
    const struct sa_booking_who who =
        who_of(state, json_string_value(json_object_get(final, "to")));
    json_t *updated = NULL;
    int rc = sa_booking_recheck(&b->booking, &who, mt, sa_wall_time(), &updated, err);
    if (rc || !updated)
        return rc;
    json_t *re = json_object_get(updated, "rescheduled");
    if (json_is_object(updated) && re)
        *moved = json_pack(
            "{s:O, s:O, s:O, s:O, s:O}", "reason", json_object_get(re, "reason"), "from",
            json_object_get(re, "from"), "from_local", json_object_get(re, "from_local"), "to",
            json_object_get(updated, "start"), "to_local", json_object_get(updated, "local"));
    else if (!json_is_object(updated))
        *moved = json_pack("{s:s, s:O, s:n}", "reason", "no_free_slot", "from",
                           json_object_get(mt, "start"), "to");
    json_object_set_new(final, "meeting", updated);
    return 0;
}

static int approval_node(const json_t *state, json_t **update, struct graph_ctx *ctx, void *arg)
{
    struct bdr *b = arg;
    const json_t *draft = json_object_get(state, "bdr_draft");
    if (!json_is_object(draft)) { /* skipped: nothing to approve */
        *update = json_pack("{s:s}", "current_agent", "bdr");
        return 0;
    }
    json_t *req = human_interrupt(draft, json_object_get(state, "lead_data"));
    json_t *reqs = json_pack("[o]", req);
    const json_t *resp = graph_interrupt(ctx, reqs);
    json_decref(reqs);
    if (!resp)
        return SA_EINTERRUPT;
    if (json_is_array(resp)) /* Agent Inbox answers a list of requests with a list */
        resp = json_array_get(resp, 0);
    const char *type = json_string_value(json_object_get(resp, "type"));
    if (!type)
        return graph_ctx_fail(ctx, SA_EINVAL, "bdr: the approval has no type");
    json_t *final = json_deep_copy(draft);
    const char *status = "approved";
    json_t *note = NULL;
    if (strcmp(type, "edit") == 0) {
        apply_edit(final, json_object_get(json_object_get(resp, "args"), "args"));
    } else if (strcmp(type, "respond") == 0 || strcmp(type, "response") == 0) {
        status = "returned";
        note = json_incref(json_object_get(resp, "args"));
    } else if (strcmp(type, "ignore") == 0) {
        status = "ignored";
    }
    /* the slot was proposed when the draft was made: it may have passed, or lapsed and
     * been taken, while the draft waited */
    struct sa_err err = {0};
    json_t *moved = NULL;
    int rc = 0;
    if (strcmp(status, "approved") == 0)
        rc = recheck_meeting(b, state, final, &moved, &err);
    else
        rc = sa_booking_release(
            &b->booking,
            json_string_value(json_object_get(json_object_get(final, "meeting"), "id")),
            sa_wall_time(), &err);
    if (rc) {
        json_decref(final);
        json_decref(note);
        return graph_ctx_fail(ctx, SA_ESTORE, "bdr: re-checking the meeting: %s", err.msg);
    }
    const json_t *reviewer = json_object_get(resp, "reviewer");
    *update =
        json_pack("{s:o, s:{s:s, s:s, s:O?, s:o?, s:o?}, s:[o], s:s}", "bdr_draft", final,
                  "bdr_decision", "status", status, "type", type, "reviewer", reviewer, "note",
                  note, "meeting_rescheduled", moved, "bdr_actions",
                  action("approval", json_pack("{s:s, s:O?}", "type", type, "reviewer", reviewer)),
                  "current_agent", "bdr");
    return 0;
}

/* The recipient's time zone for the sending window (stored on each outbox item): the
 * lead's own, else its region, country or phone's (domain/timezone.h), else CALENDAR_TZ. */
static const char *recipient_zone(const struct bdr *b, const json_t *lead, char *out, size_t cap)
{
    struct sa_lead_tz tz;
    sa_lead_timezone(lead, b->calendar && b->calendar->tz[0] ? b->calendar->tz : "UTC",
                     sa_calendar_zone_known, &tz);
    snprintf(out, cap, "%s", tz.zone);
    return out;
}

/* The body with the meeting's sentence as its own paragraph, before the signature (the
 * last paragraph starting with the sender's name) when there is one, else at the end. A
 * new string, or NULL when out of memory. */
static json_t *with_meeting(const char *body, const char *text, const char *sender)
{
    size_t blen = strlen(body), tlen = strlen(text);
    const char *sig = NULL;
    char needle[160];
    snprintf(needle, sizeof needle, "\n\n%s", sender ? sender : "");
    for (const char *p = body; sender && *sender && (p = strstr(p, needle)); p++)
        sig = p;
    size_t at = sig ? (size_t)(sig - body) : blen;
    char *full = malloc(blen + tlen + 3);
    if (!full)
        return NULL;
    snprintf(full, blen + tlen + 3, "%.*s\n\n%s%s", (int)at, body, text, body + at);
    json_t *out = json_string(full);
    free(full);
    return out;
}

static int send_node(const json_t *state, json_t **update, struct graph_ctx *ctx, void *arg)
{
    struct bdr *b = arg;
    const json_t *decision = json_object_get(state, "bdr_decision");
    const json_t *draft = json_object_get(state, "bdr_draft");
    if (strcmp(json_string_value(json_object_get(decision, "status")) ?: "", "approved") != 0 ||
        !json_is_object(draft)) {
        *update = json_pack("{s:s}", "current_agent", "bdr");
        return 0;
    }
    const char *to = json_string_value(json_object_get(draft, "to"));
    const char *draft_id = json_string_value(json_object_get(draft, "id"));
    struct sa_err err = {0};
    int rc = 0;
    /* consent can change while a draft waits for its approval */
    json_t *c = NULL;
    rc = sa_store_contact_get(b->store, to, &c, &err);
    if (rc && rc != SA_ENOTFOUND)
        return graph_ctx_fail(ctx, SA_ESTORE, "bdr: %s", err.msg);
    bool dnc = json_is_true(json_object_get(c, "do_not_contact"));
    json_decref(c);
    /* a stale duplicate: another run's sequence was approved while this one waited */
    bool active = false;
    if (!dnc && active_sequence(b, to, draft_id, &active, &err))
        return graph_ctx_fail(ctx, SA_ESTORE, "bdr: %s", err.msg);
    if (dnc || active) { /* nothing goes out: the slot the draft held is free again */
        const char *mid =
            json_string_value(json_object_get(json_object_get(draft, "meeting"), "id"));
        if (mid && b->store &&
            sa_store_meeting_set_status(b->store, mid, "cancelled", NULL, (long long)sa_wall_time(),
                                        NULL, &err) &&
            err.code != SA_ENOTFOUND)
            return graph_ctx_fail(ctx, SA_ESTORE, "bdr: releasing the meeting: %s", err.msg);
    }
    if (dnc)
        return skip(update, "do_not_contact", "the contact opted out before the approval");
    if (active)
        return skip(update, "active_sequence",
                    "another sequence to the contact was approved while this one waited; "
                    "nothing is queued");
    /* and once more as the message leaves */
    json_t *final = json_deep_copy(draft), *moved = NULL;
    if ((rc = recheck_meeting(b, state, final, &moved, &err))) {
        json_decref(final);
        return graph_ctx_fail(ctx, SA_ESTORE, "bdr: re-checking the meeting: %s", err.msg);
    }
    draft = final;
    const json_t *followups = json_object_get(draft, "followups");
    char zone_buf[SA_CAL_TZ_MAX];
    const char *zone =
        recipient_zone(b, json_object_get(state, "lead_data"), zone_buf, sizeof zone_buf);
    const char *at = strchr(to, '@');
    char domain[256];
    snprintf(domain, sizeof domain, "%s", at ? at + 1 : "");
    for (char *d = domain; *d; d++)
        *d = (char)tolower((unsigned char)*d);
    if (b->model && sa_model_free_mail(b->model, domain))
        domain[0] = '\0'; /* many companies share gmail.com: no domain cap there */
    char(*msgids)[SA_MAIL_MSGID_MAX] = calloc(1 + json_array_size(followups), sizeof *msgids);
    size_t n = 1 + json_array_size(followups);
    struct sa_outbox_item *items = calloc(n, sizeof *items);
    char(*ids)[SA_UUID_LEN] = calloc(n, sizeof *ids);
    char(*keys)[96] = calloc(n, sizeof *keys);
    json_t *payloads = json_array();
    long long now = (long long)sa_wall_time();
    for (size_t i = 0; items && ids && keys && i < n; i++) {
        const json_t *m = i == 0 ? draft : json_array_get(followups, i - 1);
        json_int_t day = i == 0 ? 0 : json_integer_value(json_object_get(m, "day"));
        sa_uuid_v7(ids[i]);
        if (i == 0)
            snprintf(keys[i], sizeof keys[i], "%s:email", draft_id);
        else
            snprintf(keys[i], sizeof keys[i], "%s:followup:%lld", draft_id, (long long)day);
        /* the Message-ID it will carry (the worker renders it from the item id) */
        struct sa_err merr = {0};
        if (msgids && sa_mail_message_id(&(struct sa_mail){.from_addr = b->cfg.sender_email,
                                                           .message_id_key = ids[i]},
                                         msgids[i], sizeof msgids[i], &merr))
            msgids[i][0] = '\0';
        json_t *p = json_pack(
            "{s:O, s:O, s:O, s:O, s:O, s:I}", "from", json_object_get(draft, "from"), "to_name",
            json_object_get(draft, "to_name"), "subject", json_object_get(m, "subject"), "body",
            json_object_get(m, "body"), "draft_id", json_object_get(draft, "id"), "day", day);
        if (i > 0 && p && msgids && msgids[0][0]) /* follow-ups answer the first e-mail */
            json_object_set_new(p, "in_reply_to", json_string(msgids[0]));
        const json_t *mt = json_object_get(draft, "meeting");
        const json_t *ics = json_object_get(mt, "ics");
        if (i == 0 && p && json_is_string(ics)) { /* the invite rides on the first e-mail */
            json_object_set(p, "ics", (json_t *)ics);
            /* what the worker needs to withdraw the proposal if the time passes while the
             * message waits for its window (app/outbox.c) */
            json_object_set(p, "meeting_id", json_object_get(mt, "id"));
            json_object_set(p, "meeting_start", json_object_get(mt, "start"));
            json_object_set(p, "meeting_text", json_object_get(mt, "text"));
            /* and the e-mail says when, in the prospect's time and in UTC */
            const char *text = json_string_value(json_object_get(mt, "text"));
            const char *body = json_string_value(json_object_get(m, "body"));
            if (text && body) {
                json_t *full = with_meeting(body, text, b->cfg.sender_name);
                if (full)
                    json_object_set_new(p, "body", full);
            }
        }
        char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
        json_decref(p);
        json_array_append_new(payloads, json_string(text ? text : "{}"));
        free(text);
        items[i] = (struct sa_outbox_item){
            .id = ids[i],
            .idempotency_key = keys[i],
            .kind = i == 0 ? "email" : "followup",
            /* the lead's timeline finds its e-mails by these (see sa_pipeline_run) */
            .thread_id = json_string_value(json_object_get(state, "thread_id")),
            .lead_id = json_string_value(json_object_get(state, "lead_id")),
            .to_email = to,
            .due_at = now + day * 86400,
            .sequence_id = draft_id,
            .seq_day = day,
            .recipient_tz = zone,
            .to_domain = domain[0] ? domain : NULL,
            .sender = b->cfg.sender_email,
            .message_id = msgids && msgids[i][0] ? msgids[i] : NULL};
    }
    int added = 0;
    if (!items || !ids || !keys || !msgids)
        rc = sa_err_set(&err, SA_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++)
        items[i].payload = json_string_value(json_array_get(payloads, i));
    if (!rc)
        rc = sa_store_outbox_add(b->store, items, (int)n, &added, &err);
    free(items);
    free(ids);
    free(keys);
    free(msgids);
    json_decref(payloads);
    if (rc) {
        json_decref(final);
        json_decref(moved);
        return graph_ctx_fail(ctx, SA_ESTORE, "bdr: could not queue the outreach: %s", err.msg);
    }
    *update =
        json_pack("{s:[o], s:s}", "bdr_actions",
                  action("queued", json_pack("{s:I, s:I, s:o?}", "items", (json_int_t)n, "new",
                                             (json_int_t)added, "meeting_rescheduled", moved)),
                  "current_agent", "bdr");
    if (moved) /* the draft as sent */
        json_object_set_new(*update, "bdr_draft", final);
    else
        json_decref(final);
    return 0;
}

static int bdr_build_graph(struct sa_agent *a, struct graph_builder *gb, const char *node,
                           const char *channel, void *arg)
{
    (void)channel;
    struct bdr *b = (struct bdr *)a;
    b->step = arg; /* its status counters: the draft is the agent's work */
    char approval[64], send[64];
    snprintf(approval, sizeof approval, "%s_approval", node);
    snprintf(send, sizeof send, "%s_send", node);
    graph_add_channel(gb, "bdr_draft", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_channel(gb, "bdr_decision", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_node(gb, node, draft_node, b, NULL);
    graph_add_node(gb, approval, approval_node, b, NULL);
    graph_add_node(gb, send, send_node, b, NULL);
    graph_add_edge(gb, node, approval);
    graph_add_edge(gb, approval, send);
    return 0;
}

static void bdr_destroy(struct sa_agent *a)
{
    free(a);
}

static const struct sa_agent_ops bdr_ops = {
    .name = "bdr",
    .description = "BDR workflow: outreach drafted from the plan, human approval, outbox",
    .input_schema = sa_schema_lead_input,
    /* it works from the marketing plan, and its approval is an interrupt of that graph */
    .entry = SA_AGENT_ENTRY_PIPELINE,
    .build_graph = bdr_build_graph,
    .destroy = bdr_destroy,
};

struct sa_agent *sa_bdr_new(const struct sa_agent_deps *deps)
{
    struct bdr *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->base.ops = &bdr_ops;
    b->store = deps->store;
    b->model = deps->model;
    b->calendar = deps->calendar;
    b->cfg = (struct sa_bdr_config){.sender_name = deps->sender_name,
                                    .sender_email = deps->sender_email,
                                    .max_touches_per_week = deps->bdr_max_touches_per_week};
    b->booking = (struct sa_booking){.store = deps->store,
                                     .calendar = deps->calendar,
                                     .organizer_name = deps->sender_name,
                                     .organizer_email = deps->sender_email,
                                     .meeting_link = deps->meeting_link,
                                     .hold_hours = deps->meeting_hold_hours};
    return &b->base;
}

/* One line of 1 to 200 characters / a text of 1 to 20000: the rules of an edit. */
static void check_text(const char *field, const json_t *v, const char *loc, json_t *detail)
{
    if (strcmp(field, "subject") == 0) {
        const char *s = json_string_value(v);
        if (!s || !*s || strlen(s) > 200 || strpbrk(s, "\r\n"))
            sa_detail_add(detail, loc, "value_error",
                          "subject should be one line of 1 to 200 characters");
    } else if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 20000) {
        sa_detail_add(detail, loc, "value_error",
                      "body should be a string of 1 to 20000 characters");
    }
}

/* An edit's args.messages: [{index, subject?, body?, drop?}], each index one of the
 * request's messages at most once; the first e-mail (index 0) cannot be dropped. */
static void check_messages(const json_t *v, const json_t *request, const char *loc, json_t *detail)
{
    const json_t *all = json_object_get(
        json_object_get(json_object_get(request, "action_request"), "args"), "messages");
    size_t n = json_array_size(all);
    if (!json_is_array(v)) {
        sa_detail_add(detail, loc, "list_type",
                      "messages should be a list of {index, subject, body, drop}");
        return;
    }
    unsigned char seen[64] = {0};
    size_t i;
    const json_t *m;
    json_array_foreach(v, i, m)
    {
        char l[200];
        snprintf(l, sizeof l, "%.150s.%zu", loc, i);
        if (!json_is_object(m)) {
            sa_detail_add(detail, l, "dict_type", "Each message is {index, subject, body, drop}");
            continue;
        }
        const json_t *ix = json_object_get(m, "index");
        char il[220];
        snprintf(il, sizeof il, "%s.index", l);
        if (!json_is_integer(ix) || json_integer_value(ix) < 0 ||
            (size_t)json_integer_value(ix) >= n || json_integer_value(ix) >= 64) {
            sa_detail_add(detail, il, "value_error",
                          "index should name one of the request's messages (0 to %zu)",
                          n ? n - 1 : 0);
            continue;
        }
        json_int_t idx = json_integer_value(ix);
        if (seen[idx]++)
            sa_detail_add(detail, il, "value_error", "message %lld is edited twice",
                          (long long)idx);
        const char *k;
        const json_t *f;
        json_object_foreach((json_t *)m, k, f)
        {
            char fl[240];
            snprintf(fl, sizeof fl, "%s.%.20s", l, k);
            if (strcmp(k, "subject") == 0 || strcmp(k, "body") == 0)
                check_text(k, f, fl, detail);
            else if (strcmp(k, "drop") == 0 && !json_is_boolean(f))
                sa_detail_add(detail, fl, "bool_type", "drop should be true or false");
            else if (strcmp(k, "drop") == 0 && json_is_true(f) && idx == 0)
                sa_detail_add(detail, fl, "not_allowed",
                              "the first e-mail cannot be dropped (ignore the approval instead)");
            else if (strcmp(k, "index") != 0 && strcmp(k, "drop") != 0 &&
                     !json_equal((json_t *)f, json_object_get(json_array_get(all, (size_t)idx), k)))
                /* a field sent back unchanged (Agent Inbox returns whole messages) is fine */
                sa_detail_add(detail, fl, "not_editable",
                              "Only subject, body and drop can be edited");
        }
    }
}

int sa_bdr_validate_response(const json_t *response, const json_t *request, const char *loc,
                             json_t *detail)
{
    size_t before = json_array_size(detail);
    char l[128];
    if (!json_is_object(response)) {
        sa_detail_add(detail, loc, "dict_type",
                      "Input should be a HumanResponse object {type, args}");
        return SA_EINVAL;
    }
    const char *type = json_string_value(json_object_get(response, "type"));
    snprintf(l, sizeof l, "%s.type", loc);
    const json_t *cfg = json_object_get(request, "config");
    if (!type) {
        sa_detail_add(detail, l, "missing", "Field required: accept, edit, response or ignore");
        return SA_EINVAL;
    }
    /* "response" is Agent Inbox's name for a reply (its config flag is allow_respond);
     * "respond", our first spelling, stays accepted */
    static const char *const types[] = {"accept", "edit", "respond", "ignore", "response"};
    int t = -1;
    for (int i = 0; i < 5; i++)
        if (strcmp(type, types[i]) == 0)
            t = i == 4 ? 2 : i;
    if (t < 0) {
        sa_detail_add(detail, l, "enum",
                      "Input should be 'accept', 'edit', 'response' (or 'respond') or 'ignore'");
        return SA_EINVAL;
    }
    char flag[32];
    snprintf(flag, sizeof flag, "allow_%s", types[t]);
    if (cfg && !json_is_true(json_object_get(cfg, flag)))
        sa_detail_add(detail, l, "not_allowed", "This request does not allow '%s'", type);
    const json_t *args = json_object_get(response, "args");
    snprintf(l, sizeof l, "%s.args", loc);
    const json_t *asked = json_object_get(request, "action_request");
    if (t == 0 && args && !json_is_null(args) && !json_equal((json_t *)args, (json_t *)asked)) {
        /* an accept sends what was asked; changes are an edit's */
        sa_detail_add(detail, l, "not_editable",
                      "An accept's args should be null (or the request's action_request "
                      "unchanged): use an edit to change it");
    } else if (t == 1) { /* edit: args is the ActionRequest {action, args: {subject?, body?}} */
        const json_t *inner = json_object_get(args, "args");
        const json_t *action = json_object_get(args, "action");
        const char *want = json_string_value(json_object_get(asked, "action"));
        if (want && (!json_is_string(action) || strcmp(json_string_value(action), want) != 0)) {
            char al[160];
            snprintf(al, sizeof al, "%s.action", l);
            sa_detail_add(detail, al, action ? "value_error" : "missing",
                          "An edit's action should be the request's, '%s'", want);
        }
        if (!json_is_object(inner)) {
            sa_detail_add(detail, l, "dict_type",
                          "An edit's args is the ActionRequest {action, args: {subject, body}}");
        } else {
            const char *k;
            const json_t *v;
            json_object_foreach((json_t *)inner, k, v)
            {
                char fl[160];
                snprintf(fl, sizeof fl, "%s.args.args.%.40s", loc, k);
                if (strcmp(k, "subject") == 0) {
                    const char *s = json_string_value(v);
                    if (!s || !*s || strlen(s) > 200 || strpbrk(s, "\r\n"))
                        sa_detail_add(detail, fl, "value_error",
                                      "subject should be one line of 1 to 200 characters");
                } else if (strcmp(k, "body") == 0) {
                    if (!json_is_string(v) || json_string_length(v) == 0 ||
                        json_string_length(v) > 20000)
                        sa_detail_add(detail, fl, "value_error",
                                      "body should be a string of 1 to 20000 characters");
                } else if (strcmp(k, "messages") == 0) {
                    check_messages(v, request, fl, detail);
                } else if (!json_equal((json_t *)v,
                                       json_object_get(
                                           json_object_get(
                                               json_object_get(request, "action_request"), "args"),
                                           k))) {
                    sa_detail_add(detail, fl, "not_editable",
                                  "Only subject and body can be edited");
                }
            }
        }
    } else if (t == 2) {
        if (!json_is_string(args) || json_string_length(args) == 0)
            sa_detail_add(detail, l, "string_type", "A response's args is the reviewer's note");
    }
    return json_array_size(detail) > before ? SA_EINVAL : 0;
}

json_t *sa_bdr_changes(const json_t *request, const json_t *response)
{
    json_t *out = json_array();
    const char *type = json_string_value(json_object_get(response, "type"));
    if (!type || strcmp(type, "edit") != 0)
        return out;
    const json_t *was = json_object_get(json_object_get(request, "action_request"), "args");
    const json_t *now = json_object_get(json_object_get(response, "args"), "args");
    const char *fields[] = {"subject", "body"};
    for (size_t i = 0; i < 2; i++) {
        const json_t *a = json_object_get(was, fields[i]), *b = json_object_get(now, fields[i]);
        if (b && !json_equal((json_t *)a, (json_t *)b))
            json_array_append_new(
                out, json_pack("{s:s, s:O?, s:O}", "field", fields[i], "from", a, "to", b));
    }
    size_t k;
    const json_t *m;
    json_array_foreach(json_object_get(now, "messages"), k, m)
    {
        json_int_t idx = json_integer_value(json_object_get(m, "index"));
        const json_t *orig = json_array_get(json_object_get(was, "messages"), (size_t)idx);
        char name[64];
        if (json_is_true(json_object_get(m, "drop"))) {
            snprintf(name, sizeof name, "messages[%lld]", (long long)idx);
            json_array_append_new(
                out, json_pack("{s:s, s:s, s:n}", "field", name, "from", "kept", "to"));
            continue;
        }
        for (size_t i = 0; i < 2; i++) {
            const json_t *a = json_object_get(orig, fields[i]), *b = json_object_get(m, fields[i]);
            snprintf(name, sizeof name, "messages[%lld].%s", (long long)idx, fields[i]);
            if (b && !json_equal((json_t *)a, (json_t *)b))
                json_array_append_new(
                    out, json_pack("{s:s, s:O?, s:O}", "field", name, "from", a, "to", b));
        }
    }
    return out;
}
