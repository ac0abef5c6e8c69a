/* Inbound mail (see inbound.h): parse, classify, match, claim the Message-ID, act, record.
 *
 * Why the claim comes before the effects: two deliveries of one message (a webhook's
 * retry racing the first attempt, the pipe and the webhook both configured) must not make
 * two conversation turns. inbound_claim inserts under the Message-ID's unique key, so of
 * concurrent deliveries exactly one goes on; the others answer the stored outcome (or,
 * while the first is still at work, its claim without a result). When an effect fails the
 * claim is deleted again, so the sender's retry is processed rather than swallowed. */
#include "app/inbound.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/conversation.h"
#include "app/app.h"
#include "app/invoke.h"
#include "auth/inbound_sig.h"
#include "base/charset.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/uuid.h"
#include "connectors/mail/bounce.h"
#include "connectors/mail/mime.h"
#include "domain/contact.h"
#include "domain/reply.h"
#include "metrics/metrics.h"
#include "store/store.h"

/* The longest message handed to a conversation turn (its limit is 5,000 characters). */
#define TURN_TEXT_MAX 4000
/* A claim without a result this old belongs to a process that died before finishing it:
 * the next delivery of the message takes it over (longer than any processing, a turn
 * with a model call included). */
#define RECLAIM_SECONDS 600
/* How many queued items of a bounced address one message fails (more stay queued and are
 * cancelled by the sending policy: the address is do-not-contact). */
#define FAIL_BATCH 500

void sa_inbound_thread_id(const char *lead_id, char *out, size_t cap)
{
    snprintf(out, cap, "mail-%s", lead_id);
}

/* What a message was matched to. */
struct match {
    json_t *item; /* the outbox item it answers or reports on, or NULL */
    char lead_id[SA_UUID_LEN];
    char email[256]; /* the address it concerns */
    const char *by;  /* static: how it was matched, NULL when it was not */
};

/* The msg-ids in v ("<a> <b>"), in order, as an array of strings. */
static json_t *msgids(const char *v)
{
    json_t *a = json_array();
    for (const char *p = v ? strchr(v, '<') : NULL; p && a; p = strchr(p + 1, '<')) {
        const char *gt = strchr(p, '>');
        if (!gt)
            break;
        json_array_append_new(a, json_stringn(p, (size_t)(gt - p) + 1));
        p = gt;
    }
    return a;
}

/* The outbox item one of the message's ids names: the returned original's, In-Reply-To,
 * then References from the newest. */
static int match_ids(struct sa_app *app, const struct sa_mime_msg *m, struct match *mt,
                     struct sa_err *err)
{
    struct {
        const char *id;
        const char *by;
    } tries[2] = {{m->original_message_id, "original_message_id"}, {m->in_reply_to, "in_reply_to"}};
    for (int i = 0; i < 2; i++) {
        if (!tries[i].id)
            continue;
        int rc = sa_store_outbox_by_message_id(app->store, tries[i].id, &mt->item, err);
        if (rc == 0) {
            mt->by = tries[i].by;
            return 0;
        }
        if (rc != SA_ENOTFOUND)
            return rc;
    }
    json_t *refs = msgids(m->references);
    int rc = 0;
    for (size_t i = json_array_size(refs); i-- > 0 && !mt->by;) {
        rc = sa_store_outbox_by_message_id(app->store, json_string_value(json_array_get(refs, i)),
                                           &mt->item, err);
        if (rc == 0)
            mt->by = "references";
        else if (rc != SA_ENOTFOUND)
            break;
        rc = 0;
    }
    json_decref(refs);
    return rc;
}

/* The lead whose contact e-mail is email, into mt->lead_id (left empty when none). */
static int lead_of(struct sa_app *app, const char *email, struct match *mt, struct sa_err *err)
{
    if (!email || !*email)
        return 0;
    int rc = sa_store_lead_by_email(app->store, email, mt->lead_id, NULL, err);
    if (rc == SA_ENOTFOUND) {
        mt->lead_id[0] = '\0';
        return 0;
    }
    return rc;
}

static int match(struct sa_app *app, const struct sa_mime_msg *m, enum sa_inbound_kind kind,
                 const struct sa_bounce *b, struct match *mt, struct sa_err *err)
{
    memset(mt, 0, sizeof *mt);
    int rc = match_ids(app, m, mt, err);
    if (rc)
        return rc;
    /* the address concerned: a bounce's failed recipient, else what we wrote to, else the
     * sender */
    const char *to = json_string_value(json_object_get(mt->item, "to_email"));
    const char *email = kind == SA_INBOUND_BOUNCE ? (b->recipient[0] ? b->recipient : to)
                        : to                      ? to
                                                  : m->from_addr;
    snprintf(mt->email, sizeof mt->email, "%s", email ? email : "");
    const char *lead = json_string_value(json_object_get(mt->item, "lead_id"));
    if (lead && *lead) {
        snprintf(mt->lead_id, sizeof mt->lead_id, "%s", lead);
        return 0;
    }
    if ((rc = lead_of(app, mt->email, mt, err)))
        return rc;
    if (mt->lead_id[0] && !mt->by)
        mt->by = kind == SA_INBOUND_BOUNCE ? "recipient" : "sender";
    return 0;
}

/* ---- effects ----------------------------------------------------------------------- */

/* The reply's own words, cut for a turn; falls back to the whole text, then (when the
 * body is empty or blank) the subject, when stripping leaves nothing. Malloc'd. */
static char *turn_text(const struct sa_mime_msg *m)
{
    const char *text = m->text ? m->text : "";
    size_t n = strlen(text);
    char *out = malloc(n + 1 > TURN_TEXT_MAX + 1 ? n + 1 : TURN_TEXT_MAX + 1);
    if (!out)
        return NULL;
    size_t len = sa_mail_reply_text(text, out, TURN_TEXT_MAX + 1);
    if (!len) { /* a body of blank lines is no body: the subject speaks ("Declined: ...") */
        bool blank = text[strspn(text, " \t\r\n")] == '\0';
        snprintf(out, TURN_TEXT_MAX + 1, "%s", !blank ? text : m->subject ? m->subject : "");
        len = strlen(out);
    }
    len = sa_utf8_valid_prefix(out, len); /* a cut never splits a character */
    out[len] = '\0';
    return out;
}

/* The name key (sa_contact_name_key) an address's local part reads as: "anna.schmidt",
 * "anna_schmidt" -> "anna schmidt"; "" for a role account (info@, sales@). */
static void local_key(const char *email, char *out, size_t cap)
{
    char raw[256];
    size_t n = strcspn(email, "@+");
    if (n >= sizeof raw || sa_email_role_account(email)) {
        out[0] = '\0';
        return;
    }
    for (size_t i = 0; i < n; i++)
        raw[i] = strchr("._-", email[i]) ? ' ' : email[i];
    raw[n] = '\0';
    if (!sa_contact_name_key(raw, out, cap))
        out[0] = '\0';
}

/* Whether two name keys plausibly name one person: the same, one the given name of the other
 * ("anna" and "anna schmidt"), or an initial for the given name ("a schmidt"). */
static bool keys_match(const char *a, const char *b)
{
    if (!*a || !*b)
        return false;
    if (strcmp(a, b) == 0)
        return true;
    size_t la = strlen(a), lb = strlen(b);
    const char *s = la < lb ? a : b, *l = la < lb ? b : a;
    size_t ls = la < lb ? la : lb;
    if (strncmp(s, l, ls) == 0 && l[ls] == ' ' && ls >= 3)
        return true;
    const char *rs = strchr(s, ' '), *rl = strchr(l, ' ');
    return rs && rl && rs - s == 1 && s[0] == l[0] && strcmp(rs, rl) == 0;
}

/* Whether a reply from sender (address and display name) is plausibly from the person we
 * wrote to at contact (address, the lead's contact name or NULL) from another of their
 * addresses: the same domain, and the sender's display name or local part reads as the
 * contact's name (or, without one, as the local part we wrote to). */
static bool same_person_elsewhere(const char *contact, const char *contact_name, const char *sender,
                                  const char *sender_name)
{
    const char *dc = strrchr(contact, '@'), *ds = strrchr(sender, '@');
    if (!dc || !ds || strcasecmp(dc, ds) != 0)
        return false;
    char want[512], got[512];
    if (!contact_name || !*contact_name || !sa_contact_name_key(contact_name, want, sizeof want))
        want[0] = '\0';
    if (!want[0])
        local_key(contact, want, sizeof want);
    if (!want[0])
        return false;
    /* a display name speaks for the sender: one that differs is another person ("Anna
     * Becker" <anna@> is not Anna Schmidt though "anna" matches); the address's local part
     * only when there is none */
    if (sender_name && *sender_name && sa_contact_name_key(sender_name, got, sizeof got))
        return keys_match(got, want);
    local_key(sender, got, sizeof got);
    return keys_match(got, want);
}

/* A reply from another address than the one we wrote to (written): the removal it asks
 * (sa_reply_removal_of on text, the reply's own words; name: the contact's name), recorded
 * as do-not-contact with who asked in the reason. *who: the removal; *same_person: the
 * sender is the person we wrote to at another address (same_person_elsewhere), and both
 * addresses were opted out. Answers do_not_contact_email(s). */
static int removal_elsewhere(struct sa_app *app, const struct sa_mime_msg *m, const char *written,
                             const char *lead_name, const char *name, const char *text, json_t *res,
                             enum sa_reply_removal *who, bool *same_person, struct sa_err *err)
{
    char *norm = malloc(2 * strlen(text) + 3);
    const char *cue = NULL;
    *who = SA_REMOVAL_NONE;
    if (norm) {
        sa_reply_normalise(text, norm);
        *who = sa_reply_removal_of(norm, written, name, &cue);
    }
    free(norm);
    *same_person = *who == SA_REMOVAL_SENDER &&
                   same_person_elsewhere(written, lead_name, m->from_addr, m->from_name);
    if (*who == SA_REMOVAL_NONE)
        return 0;
    const char *target = *who == SA_REMOVAL_SENDER ? m->from_addr : written;
    char reason[640];
    snprintf(reason, sizeof reason, "unsubscribe asked by %.255s (%.80s%s) in a reply to %.255s",
             m->from_addr, cue ? cue : "", *same_person ? ", the same person" : "", written);
    int rc = sa_store_contact_dnc(app->store, target, reason, "conversation", err);
    if (!rc && *same_person)
        rc = sa_store_contact_dnc(app->store, written, reason, "conversation", err);
    if (rc)
        return rc;
    if (*same_person)
        json_object_set_new(res, "do_not_contact_emails",
                            json_pack("[s, s]", written, m->from_addr));
    json_object_set_new(res, "do_not_contact_email", json_string(*same_person ? written : target));
    return 0;
}

/* A removal asked by someone else than the person we wrote to, from another address: their
 * own opt-out is applied, and a person checks whether the one we wrote to was meant too. */
static void flag_other_sender(json_t *res)
{
    json_object_set_new(res, "needs_human", json_true());
    json_object_set_new(res, "needs_human_reason", json_string("removal_from_other_address"));
}

/* A reply: one conversation turn on the lead's mail thread. */
static int act_reply(struct sa_app *app, const struct sa_mime_msg *m, const struct match *mt,
                     const char *thread, json_t *res, struct sa_err *err)
{
    char *text = turn_text(m);
    if (!text)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    json_object_set_new(res, "text", json_string(text));
    if (!*text) {
        free(text);
        json_object_set_new(res, "intent", json_null());
        return 0; /* an empty message: recorded, nothing to understand */
    }
    json_t *lead = NULL;
    struct sa_err lerr = {0};
    if (mt->lead_id[0] && sa_store_get_lead(app->store, mt->lead_id, &lead, &lerr))
        lead = NULL;
    const char *lead_name =
        json_string_value(json_object_get(json_object_get(lead, "contact_info"), "name"));
    const char *name = lead_name ? lead_name : m->from_name;
    /* a request to be removed from another address than the one we wrote to (a colleague's)
     * opts out its sender, whom the turn is then with, or the person we wrote to when it
     * names them ("Anna has left the company, please remove her"); the reason says who asked.
     * The same person writing from another of their addresses (same domain, their name) opts
     * out both, and the turn stays with the address we wrote to; another person asking for
     * themself is flagged for a human, who checks that the person we wrote to was not meant */
    const char *contact = mt->email;
    bool same_person = false, other_asks = false;
    if (m->from_addr && *m->from_addr && strcasecmp(m->from_addr, mt->email) != 0) {
        enum sa_reply_removal who = SA_REMOVAL_NONE;
        int drc = removal_elsewhere(app, m, mt->email, lead_name, name, text, res, &who,
                                    &same_person, err);
        if (drc) {
            free(text);
            json_decref(lead);
            return drc;
        }
        other_asks = who == SA_REMOVAL_SENDER && !same_person;
        if (other_asks) {
            contact = m->from_addr;
            name = m->from_name;
        }
    }
    json_t *input = json_pack("{s:s, s:{s:s, s:s?}, s:s?}", "message", text, "contact", "email",
                              contact, "name", name, "company_name",
                              json_string_value(json_object_get(lead, "company_name")));
    free(text);
    json_decref(lead);
    if (!input)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    /* a turn takes what its check takes: a display name over its limit is dropped; an
     * address it refuses leaves the reply recorded without a turn */
    json_t *detail = json_array();
    if (sa_conversation_validate(input, "input", detail)) {
        json_object_del(json_object_get(input, "contact"), "name");
        json_array_clear(detail);
    }
    bool valid = detail && sa_conversation_validate(input, "input", detail) == 0;
    json_decref(detail);
    if (!valid) {
        json_decref(input);
        json_object_set_new(res, "intent", json_null());
        return 0;
    }
    struct sa_invoke_res r;
    int rc = sa_app_converse(app, thread, input, &r, err);
    json_decref(input);
    if (rc == SA_ENOTIMPL) {
        /* no intent model: the reply still stops the follow-ups, as a turn would */
        int n = 0;
        rc = sa_store_outbox_cancel(app->store, NULL, mt->email, "followup", "the contact replied",
                                    &n, err);
        json_object_set_new(res, "intent", json_null());
        json_object_set_new(res, "followups_cancelled", json_integer(n));
        if (other_asks)
            flag_other_sender(res);
        return rc;
    }
    if (rc)
        return rc;
    const char *keys[] = {"intent",         "confidence",        "stage",
                          "do_not_contact", "suggested_actions", "needs_human",
                          "meeting",        "meeting_slots"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(r.output, keys[i]);
        if (v)
            json_object_set(res, keys[i], v);
    }
    json_object_set(res, "suggested_reply", json_object_get(r.output, "reply"));
    json_t *fc = json_object_get(r.output, "followups_cancelled");
    if (fc)
        json_object_set(res, "followups_cancelled", fc);
    sa_invoke_res_clear(&r);
    if (other_asks)
        flag_other_sender(res);
    if (same_person) { /* the address we wrote to gets no more follow-ups, whatever the turn */
        int n = 0;
        if ((rc = sa_store_outbox_cancel(app->store, NULL, mt->email, "followup",
                                         "the contact asked to be removed", &n, err)))
            return rc;
        json_object_set_new(
            res, "followups_cancelled",
            json_integer(json_integer_value(json_object_get(res, "followups_cancelled")) + n));
    }
    return 0;
}

/* A reply from nobody we wrote to (a lead erased since, an address we do not know the
 * person by, a client that dropped the ids): no conversation, but a request to stop is
 * honoured, so the address is not written to if it becomes a lead later. */
static int act_unmatched(struct sa_app *app, const struct sa_mime_msg *m, const char *email,
                         json_t *res, struct sa_err *err)
{
    char *text = turn_text(m);
    if (!text)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    char *norm = malloc(2 * strlen(text) + 3);
    if (!norm) {
        free(text);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    sa_reply_normalise(text, norm);
    bool stop = *email && sa_reply_is_unsubscribe(norm);
    /* the words of someone who is no lead are not kept: only what they asked */
    json_object_set_new(res, "intent", stop ? json_string("unsubscribe") : json_null());
    free(norm);
    free(text);
    int rc = stop ? sa_store_contact_dnc(app->store, email, "unsubscribe", "conversation", err) : 0;
    json_object_set_new(res, "do_not_contact", json_boolean(stop && rc == 0));
    return rc;
}

/* A calendar client's answer to our invite with words typed into it (Outlook's "Declined:
 * ..." with "not interested, please remove me from your list"): the answer goes to its
 * meeting, not to the conversation, but a request to stop in the words is honoured by the
 * rules of a reply (the address we wrote to, or another's removal, act_reply). The words
 * are read without the subject's fallback: "Declined: Intro call" asks nothing. */
static int act_rsvp_words(struct sa_app *app, const struct sa_mime_msg *m, const struct match *mt,
                          json_t *res, struct sa_err *err)
{
    const char *written = mt->email[0] ? mt->email : m->from_addr ? m->from_addr : "";
    if (!m->text || !*written)
        return 0;
    char *text = malloc(TURN_TEXT_MAX + 1);
    if (!text)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    size_t len = sa_mail_reply_text(m->text, text, TURN_TEXT_MAX + 1);
    len = sa_utf8_valid_prefix(text, len);
    text[len] = '\0';
    int rc = 0;
    bool stop = false, other_asks = false;
    if (m->from_addr && *m->from_addr && strcasecmp(m->from_addr, written) != 0) {
        json_t *lead = NULL;
        struct sa_err lerr = {0};
        if (mt->lead_id[0] && sa_store_get_lead(app->store, mt->lead_id, &lead, &lerr))
            lead = NULL;
        const char *lead_name =
            json_string_value(json_object_get(json_object_get(lead, "contact_info"), "name"));
        enum sa_reply_removal who = SA_REMOVAL_NONE;
        bool same = false;
        rc = removal_elsewhere(app, m, written, lead_name, lead_name ? lead_name : m->from_name,
                               text, res, &who, &same, err);
        json_decref(lead);
        stop = who != SA_REMOVAL_NONE;
        other_asks = who == SA_REMOVAL_SENDER && !same;
        if (!rc && same) { /* the address we wrote to: the answer cancelled the sender's */
            int n = 0;
            rc = sa_store_outbox_cancel(app->store, NULL, written, "followup",
                                        "the contact asked to be removed", &n, err);
        }
    } else {
        char *norm = malloc(2 * len + 3);
        if (!norm) {
            free(text);
            return sa_err_set(err, SA_ENOMEM, "out of memory");
        }
        sa_reply_normalise(text, norm);
        stop = sa_reply_is_unsubscribe(norm);
        free(norm);
        if (stop)
            rc = sa_store_contact_dnc(app->store, written, "unsubscribe in a calendar reply",
                                      "conversation", err);
    }
    free(text);
    if (rc || !stop)
        return rc;
    json_object_set_new(res, "intent", json_string("unsubscribe"));
    json_object_set_new(res, "do_not_contact", json_true());
    if (other_asks)
        flag_other_sender(res);
    return 0;
}

/* A hard bounce: the address becomes do-not-contact (source "bounce") and its queued
 * e-mails and follow-ups fail (claimed first, so a delivery worker cannot take one
 * meanwhile). */
static int act_bounce(struct sa_app *app, const struct sa_bounce *b, const char *email, json_t *res,
                      struct sa_err *err)
{
    json_object_set_new(res, "bounce",
                        json_pack("{s:s, s:s, s:s, s:b, s:s}", "recipient", email, "status",
                                  b->status, "action", b->action, "hard", b->hard, "diagnostic",
                                  b->diagnostic));
    int failed = 0;
    json_object_set_new(res, "do_not_contact", json_boolean(b->hard && *email));
    if (!b->hard || !*email) {
        json_object_set_new(res, "outbox_failed", json_integer(0));
        return 0;
    }
    char reason[320];
    snprintf(reason, sizeof reason, "hard bounce %s%s%.250s", b->status[0] ? b->status : "5.0.0",
             b->diagnostic[0] ? ": " : "", b->diagnostic);
    int rc = sa_store_contact_dnc(app->store, email, reason, "bounce", err);
    json_t *items = NULL;
    if (!rc)
        rc = sa_store_outbox_list(app->store, "queued", email, FAIL_BATCH, &items, err);
    char why[64];
    snprintf(why, sizeof why, "hard bounce (%s)", b->status[0] ? b->status : "5.0.0");
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        const char *id = json_string_value(json_object_get(it, "id"));
        const char *kind = json_string_value(json_object_get(it, "kind"));
        /* mail to the address only: a CRM push about the lead still goes (its e-mail
         * bounced, which the CRM should hear of) */
        if (kind && strcmp(kind, "email") != 0 && strcmp(kind, "followup") != 0 &&
            strcmp(kind, "invite") != 0)
            continue;
        struct sa_err e = {0};
        int c = rc ? rc : sa_store_outbox_claim(app->store, id, &e);
        if (c == SA_ECONFLICT || c == SA_ENOTFOUND) /* left the queue meanwhile */
            continue;
        if (!rc && c)
            rc = sa_err_set(err, c, "%s", e.msg);
        if (!rc && !(rc = sa_store_outbox_mark(app->store, id, "failed", NULL, why, 0, err)))
            failed++;
    }
    json_decref(items);
    json_object_set_new(res, "outbox_failed", json_integer(failed));
    return rc;
}

/* An automatic reply: an out-of-office notice's return date moves the follow-ups. */
static int act_auto_reply(struct sa_app *app, const struct sa_mime_msg *m, const char *email,
                          json_t *res, struct sa_err *err)
{
    char back[11] = "";
    char *text = turn_text(m);
    if (!text)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    /* a read receipt's date is when the mail was read, not a return */
    if (!sa_mail_is_read_receipt(m))
        sa_reply_return_date(text, sa_wall_time(), back);
    free(text);
    int n = 0, rc = 0;
    if (back[0] && *email)
        rc = sa_conversation_postpone_followups(app->store, email, back, &n, err);
    json_object_set_new(res, "return_date", back[0] ? json_string(back) : json_null());
    json_object_set_new(res, "followups_postponed", json_integer(n));
    return rc;
}

/* ---- the service ----------------------------------------------------------------------- */

/* The timeline's kind and summary for a message. */
static const char *timeline_kind(enum sa_inbound_kind k, bool matched)
{
    if (k == SA_INBOUND_BOUNCE)
        return "bounce";
    if (k == SA_INBOUND_AUTO_REPLY)
        return "auto_reply";
    return matched ? "reply_received" : "unmatched";
}

/* The answer's kind for a timeline kind (reply_received is a reply). */
static const char *answer_kind(const char *timeline_kind)
{
    return timeline_kind && strcmp(timeline_kind, "reply_received") == 0 ? "reply" : timeline_kind;
}

/* The stored outcome of a message seen before, answered again: the first answer, or, for
 * one still being processed or an erased person's, its id and kind. */
static json_t *duplicate_of(const json_t *existing, const char *key)
{
    json_t *r = json_object_get(existing, "result");
    json_t *out = json_is_object(r) ? json_deep_copy(r) : json_pack("{s:b}", "processing", 1);
    if (out) {
        if (!json_object_get(out, "message_id"))
            json_object_set_new(out, "message_id", json_string(key));
        if (!json_object_get(out, "kind"))
            json_object_set_new(
                out, "kind",
                json_string(answer_kind(json_string_value(json_object_get(existing, "kind")))));
        json_object_set_new(out, "duplicate", json_true());
    }
    return out;
}

/* Deletes the claim of a message whose processing failed, so a retry processes it. */
static void release_claim(struct sa_app *app, const char *key)
{
    struct sa_err e = {0};
    if (sa_store_inbound_finish(app->store, key, NULL, NULL, &e))
        sa_log(SA_LOG_WARN, "inbound message claim not released",
               json_pack("{s:s, s:s}", "message_id", key, "error", e.msg));
}

/* inbound_messages_total{kind}: the outcome's kind, duplicate, or invalid (a 422). */
static void count(struct sa_app *app, int rc, const json_t *out)
{
    const char *k[] = {rc == SA_EINVAL || rc == SA_ETOOBIG ? "invalid"
                       : rc                                ? NULL
                       : json_is_true(json_object_get(out, "duplicate"))
                           ? "duplicate"
                           : json_string_value(json_object_get(out, "kind"))};
    if (app->metrics && app->m_inbound >= 0 && k[0])
        sa_metrics_add(app->metrics, app->m_inbound, k, 1);
}

int sa_app_inbound(struct sa_app *app, const char *raw, size_t len, json_t **out,
                   struct sa_err *err)
{
    *out = NULL;
    struct sa_mime_msg m;
    struct match mt = {0};
    json_t *res = NULL;
    char key[1024];
    int rc = sa_mime_parse(raw, len, &m, err);
    if (rc)
        goto out;
    if (m.message_id && strlen(m.message_id) < sizeof key) {
        snprintf(key, sizeof key, "%s", m.message_id);
    } else { /* no Message-ID: the message's own digest keys it */
        char hex[65];
        sa_sha256_hex(raw, len, hex);
        snprintf(key, sizeof key, "sha256:%s", hex);
    }
    struct sa_bounce b;
    enum sa_inbound_kind kind = sa_mail_classify(&m, &b);
    if ((rc = match(app, &m, kind, &b, &mt, err)))
        goto out;
    bool matched = mt.lead_id[0] || mt.item;
    const char *tl_kind = timeline_kind(kind, matched);
    char thread[SA_THREAD_ID_MAX + 1] = "";
    if (kind == SA_INBOUND_REPLY && mt.lead_id[0])
        sa_inbound_thread_id(mt.lead_id, thread, sizeof thread);
    else if (mt.item && json_string_value(json_object_get(mt.item, "thread_id")))
        snprintf(thread, sizeof thread, "%s",
                 json_string_value(json_object_get(mt.item, "thread_id")));
    char id[SA_UUID_LEN], now[SA_ISO8601_LEN], stale[SA_ISO8601_LEN];
    sa_uuid_v7(id);
    double t = sa_wall_seconds();
    sa_iso8601_format_ms(t, now);
    sa_iso8601_format_ms(t - RECLAIM_SECONDS, stale);
    struct sa_inbound_row row = {.id = id,
                                 .message_id = key,
                                 .kind = tl_kind,
                                 .lead_id = mt.lead_id[0] ? mt.lead_id : NULL,
                                 .thread_id = thread[0] ? thread : NULL,
                                 .email = mt.email[0] ? mt.email : NULL,
                                 .matched_by = mt.by,
                                 .received_at = now,
                                 .reclaim_before = stale};
    bool inserted = false;
    json_t *existing = NULL;
    if ((rc = sa_store_inbound_claim(app->store, &row, &inserted, &existing, err)))
        goto out;
    if (!inserted) {
        *out = duplicate_of(existing, key);
        json_decref(existing);
        rc = *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
        goto out;
    }
    const char *kind_name =
        matched || kind != SA_INBOUND_REPLY ? sa_inbound_kind_name(kind) : "unmatched";
    res = json_pack("{s:s, s:s, s:b, s:s?, s:s?}", "message_id", key, "kind", kind_name,
                    "duplicate", 0, "email", mt.email[0] ? mt.email : NULL, "subject", m.subject);
    if (!res) {
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
        goto forget;
    }
    json_object_set_new(res, "matched",
                        matched ? json_pack("{s:s?, s:s?, s:s?, s:O?}", "lead_id",
                                            mt.lead_id[0] ? mt.lead_id : NULL, "thread_id",
                                            thread[0] ? thread : NULL, "by", mt.by, "outbox_id",
                                            json_object_get(mt.item, "id"))
                                : json_null());
    /* a text part decoded in another charset than it declared (connectors/mail/mime.h: a
     * windows-1252 reply labelled utf-8) is said on the stored message and in the log */
    if (m.text_charset.decoded_as[0]) {
        json_object_set_new(res, "charset_note",
                            json_pack("{s:s, s:s}", "declared", m.text_charset.declared,
                                      "decoded_as", m.text_charset.decoded_as));
        sa_log(SA_LOG_WARN, "inbound mail: text decoded in another charset than declared",
               json_pack("{s:s, s:s, s:s}", "message_id", key, "declared", m.text_charset.declared,
                         "decoded_as", m.text_charset.decoded_as));
    }
    bool rsvp = false; /* a calendar client's answer to our invite (app/inbound_rsvp.c) */
    if (kind != SA_INBOUND_BOUNCE)
        rc = sa_inbound_rsvp(app, &m, res, &rsvp, err);
    if (!rc && rsvp)
        rc = act_rsvp_words(app, &m, &mt, res, err);
    if (rc || rsvp) {
        /* applied to its meeting (or failed): not a conversation turn */
    } else if (kind == SA_INBOUND_REPLY && matched)
        rc = act_reply(app, &m, &mt, thread, res, err);
    else if (kind == SA_INBOUND_REPLY)
        rc = act_unmatched(app, &m, mt.email, res, err);
    else if (kind == SA_INBOUND_BOUNCE)
        rc = act_bounce(app, &b, mt.email, res, err);
    else if (kind == SA_INBOUND_AUTO_REPLY)
        rc = act_auto_reply(app, &m, mt.email, res, err);
    if (rc)
        goto forget;
    const char *status = kind == SA_INBOUND_BOUNCE ? (b.status[0] ? b.status : b.action)
                         : kind == SA_INBOUND_AUTO_REPLY
                             ? json_string_value(json_object_get(res, "return_date"))
                             : json_string_value(json_object_get(res, "intent"));
    char *text = json_dumps(res, JSON_COMPACT);
    rc = text ? sa_store_inbound_finish(app->store, key, status, text, err)
              : sa_err_set(err, SA_ENOMEM, "out of memory");
    free(text);
    if (rc)
        goto forget;
    sa_log(SA_LOG_INFO, "inbound mail",
           json_pack("{s:s, s:s, s:s?, s:s?, s:s?}", "kind", kind_name, "message_id", key,
                     "lead_id", mt.lead_id[0] ? mt.lead_id : NULL, "matched_by", mt.by, "email",
                     mt.email[0] ? mt.email : NULL));
    *out = res;
    res = NULL;
    goto out;
forget:
    release_claim(app, key);
out:
    count(app, rc, *out);
    json_decref(res);
    json_decref(mt.item);
    sa_mime_clear(&m);
    return rc;
}
