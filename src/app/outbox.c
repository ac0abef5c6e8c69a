/* The outbox's delivery worker (see outbox.h). */
#include "app/outbox.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "app/app.h"
#include "app/consent.h"
#include "app/crm_sync.h"
#include "app/invoke.h"
#include "agents/booking.h"
#include "base/log.h"
#include "base/uuid.h"
#include "connectors/calendar/calendar.h"
#include "connectors/mail/message.h"
#include "connectors/mail/transport.h"
#include "domain/send_policy.h"
#include "store/store.h"

#define MAX_ATTEMPTS 5
/* due items read per poll; CRM pushes among them go out in batches (app/crm_sync.h) */
#define DUE_PAGE 100

/* The claim's lease. A worker claims an item (queued -> sending), delivers it, then marks
 * it sent; a worker killed between the claim and the mark (SIGKILL, OOM, a lost host)
 * used to leave the item "sending" for ever, neither delivered again nor failed. Now
 * every poll re-queues the items claimed more than OUTBOX_LEASE_SECONDS ago
 * (store.h outbox_requeue_expired), counting an attempt, so another worker (or this one
 * after a restart) delivers them; MAX_ATTEMPTS still ends an item that kills every worker (the
 * store fails it at its fifth expired claim) that takes it.
 *
 * The window this leaves, honestly: the lease cannot tell a worker that died before
 * delivering from one that delivered and died before marking "sent". In the second case
 * the item is delivered again after the lease: at-least-once, not exactly-once, for that
 * one crash. The lease is long (300 s, far longer than any delivery with its timeouts),
 * so a slow but live worker is never overtaken by a second one. What makes that second
 * delivery harmless is the transport, not the lease: the Maildir transport's send_once
 * names the file by the item's id, so it lands on the same file; an SMTP server cannot be
 * asked whether it took a message, so the second copy goes out with the same Message-ID,
 * by which receivers that deduplicate collapse it (README: Sending by SMTP; the SMTP
 * deadlines are kept shorter than the lease, base/config.c). Exactly-once between
 * live workers and instances is unchanged: outbox_claim succeeds for one claimer only
 * (a conditional update; FOR UPDATE SKIP LOCKED on PostgreSQL).
 *
 * Each claim carries a token of its own (outbox_claim_as), and the outcome is recorded
 * only under it (outbox_mark_as): a worker that stalled past the lease while another
 * claimed the item again cannot overwrite the new holder's outcome (a late "failed" over
 * its "sent"); one that delivered just after its lease, before anyone claimed the item
 * again, still records "sent", which saves the second delivery. */
static const char LEASE_REASON[] =
    "lease expired: the worker that claimed it stopped before marking it; queued again "
    "(it may have been delivered already)";
/* A first e-mail is a duplicate while another sequence to the contact has mail queued,
 * or sent within this long (its follow-ups may still be thought of as "in flight"). */
#define SEQUENCE_QUIET_SECONDS SA_SEND_WEEK

struct sa_outbox_worker {
    struct sa_app *app;
    struct sa_transport *transport;
    long poll_ms;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock; /* guards stop and kicked */
    pthread_cond_t cond;
    bool stop, kicked;
    struct sa_send_window window; /* SEND_WINDOW */
    time_t swept;                 /* when sa_booking_sweep last ran (the worker's thread) */
};

/* How often the worker looks for meetings to cancel (sa_booking_sweep), in business time. */
#define SWEEP_SECONDS 60

static void kick(void *arg)
{
    struct sa_outbox_worker *w = arg;
    pthread_mutex_lock(&w->lock);
    w->kicked = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* The recipient's zone for the window: the item's (filled when it was queued), else
 * CALENDAR_TZ, else UTC; a zone this build does not know falls back the same way. */
static const char *item_zone(const struct sa_outbox_worker *w, const json_t *item)
{
    const char *tz = json_string_value(json_object_get(item, "recipient_tz"));
    if (tz && sa_calendar_zone_known(tz))
        return tz;
    tz = w->app->cfg.calendar_tz;
    return tz && sa_calendar_zone_known(tz) ? tz : "UTC";
}

static int zone_offset(void *arg, time_t t, int *off)
{
    return sa_zone_utc_offset(arg, t, off);
}

/* The send times of scope/key since (new array in *out, an empty one for no key). */
static int sent_times(struct sa_store *st, enum sa_send_scope scope, const char *key,
                      long long since, json_t **out, struct sa_err *err)
{
    if (!key || !*key) {
        *out = json_array();
        return *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    return sa_store_outbox_sent_times(st, scope, key, since, out, err);
}

/* The array of integers a as a C array (malloc'd, or NULL when empty) into cap. */
static int cap_of(const json_t *a, int limit, long long **buf, struct sa_send_cap *cap)
{
    size_t n = json_array_size(a);
    *buf = n ? calloc(n, sizeof **buf) : NULL;
    if (n && !*buf)
        return SA_ENOMEM;
    for (size_t i = 0; i < n; i++)
        (*buf)[i] = json_integer_value(json_array_get(a, i));
    *cap = (struct sa_send_cap){.times = *buf, .n = n, .limit = limit};
    return 0;
}

/* The earliest instant the sequence allows item: the previous live message's send time
 * (or due time, while it waits) plus the days between the two. 0 when there is none. */
static int sequence_not_before(struct sa_store *st, const json_t *item, time_t *out,
                               struct sa_err *err)
{
    *out = 0;
    const char *seq = json_string_value(json_object_get(item, "sequence_id"));
    json_int_t day = json_integer_value(json_object_get(item, "seq_day"));
    if (!seq || day <= 0)
        return 0;
    json_t *items = NULL;
    int rc = sa_store_outbox_sequence(st, seq, &items, err);
    if (rc)
        return rc;
    size_t i;
    json_t *it;
    const json_t *prev = NULL;
    json_array_foreach(items, i, it)
    {
        const char *status = json_string_value(json_object_get(it, "status"));
        json_int_t d = json_integer_value(json_object_get(it, "seq_day"));
        if (d < day && status && strcmp(status, "cancelled") != 0 && strcmp(status, "failed") != 0)
            prev = it; /* ordered by day: the last one before this day */
    }
    if (prev) {
        const json_t *sent = json_object_get(prev, "sent_ts");
        json_int_t base = json_is_integer(sent)
                              ? json_integer_value(sent)
                              : json_integer_value(json_object_get(prev, "due_at"));
        *out =
            (time_t)(base + (day - json_integer_value(json_object_get(prev, "seq_day"))) * 86400);
    }
    json_decref(items);
    return 0;
}

/* A first e-mail while another sequence to the contact is active: an older one still
 * queued, or any that sent within SEQUENCE_QUIET_SECONDS. */
static int is_duplicate(struct sa_store *st, const json_t *item, const char *to, bool *dup,
                        struct sa_err *err)
{
    *dup = false;
    const char *seq = json_string_value(json_object_get(item, "sequence_id"));
    const char *kind = json_string_value(json_object_get(item, "kind"));
    if (!seq || !kind || strcmp(kind, "email") != 0)
        return 0;
    json_t *rows = NULL;
    int rc = sa_store_outbox_active_sequences(
        st, to, seq, (long long)sa_wall_time() - SEQUENCE_QUIET_SECONDS, &rows, err);
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        const char *other = json_string_value(json_object_get(r, "sequence_id"));
        bool sent = json_is_integer(json_object_get(r, "last_sent"));
        if (sent || (other && strcmp(other, seq) < 0)) /* ids are UUIDv7: older sorts first */
            *dup = true;
    }
    json_decref(rows);
    return rc;
}

/* The policy's verdict for item (see domain/send_policy.h). */
static int decide(struct sa_outbox_worker *w, const json_t *item, const char *to,
                  struct sa_send_decision *d, struct sa_err *err)
{
    struct sa_store *st = w->app->store;
    const struct sa_config *cfg = &w->app->cfg;
    time_t now = sa_wall_time();
    struct sa_send_facts f = {.now = now, .window = &w->window, .offset = zone_offset};
    f.offset_arg = (void *)item_zone(w, item);
    json_t *c = NULL, *tc = NULL, *td = NULL, *ts = NULL;
    long long *bc = NULL, *bd = NULL, *bs = NULL;
    int rc = sa_store_contact_get(st, to, &c, err);
    if (rc == SA_ENOTFOUND)
        rc = 0;
    f.do_not_contact = json_is_true(json_object_get(c, "do_not_contact"));
    const char *src = json_string_value(json_object_get(c, "source"));
    bool bounced = f.do_not_contact && src && strcmp(src, "bounce") == 0;
    json_decref(c);
    /* An invite to a meeting the prospect booked or accepted answers them: it goes at once,
     * outside the windows and the caps (which count prospecting, not replies); consent
     * still applies. */
    const char *kind = json_string_value(json_object_get(item, "kind"));
    bool cancel = kind && strcmp(kind, "cancel") == 0;
    if (!rc && kind && (strcmp(kind, "invite") == 0 || cancel)) {
        static const struct sa_send_window anytime = {.any = true};
        f.window = &anytime;
        /* A cancellation withdraws an event we put in the prospect's calendar: it is
         * transactional, so it goes to an opted-out contact too (README: Cancellations);
         * not to an address that bounced (nobody reads it) */
        if (cancel && !bounced)
            f.do_not_contact = false;
        if (sa_send_decide(&f, d))
            rc = sa_err_set(err, SA_EINTERNAL, "the sending policy could not place the message");
        return rc;
    }
    if (!rc)
        rc = is_duplicate(st, item, to, &f.duplicate, err);
    if (!rc)
        rc = sequence_not_before(st, item, &f.not_before, err);
    if (!rc)
        rc = sent_times(st, SA_SEND_CONTACT, to, (long long)now - SA_SEND_WEEK, &tc, err);
    if (!rc)
        rc = sent_times(st, SA_SEND_DOMAIN, json_string_value(json_object_get(item, "to_domain")),
                        (long long)now - SA_SEND_WEEK, &td, err);
    if (!rc)
        rc = sent_times(st, SA_SEND_SENDER, json_string_value(json_object_get(item, "sender")),
                        (long long)now - SA_SEND_DAY, &ts, err);
    if (!rc && (cap_of(tc, cfg->bdr_max_touches_per_week, &bc, &f.contact) ||
                cap_of(td, cfg->max_touches_per_domain_week, &bd, &f.domain) ||
                cap_of(ts, cfg->sender_daily_limit, &bs, &f.sender)))
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    if (!rc && sa_send_decide(&f, d))
        rc = sa_err_set(err, SA_EINTERNAL, "the sending policy could not place the message");
    json_decref(tc);
    json_decref(td);
    json_decref(ts);
    free(bc);
    free(bd);
    free(bs);
    return rc;
}

/* Applies a verdict other than "send now"; returns 0 or -1 (err set). */
static int hold(struct sa_outbox_worker *w, const json_t *item, const struct sa_send_decision *d,
                struct sa_err *err)
{
    struct sa_store *st = w->app->store;
    const char *id = json_string_value(json_object_get(item, "id"));
    const char *why = sa_send_reason_name(d->reason);
    int rc = 0;
    if (d->verdict == SA_SEND_CANCEL && d->reason == SA_SEND_R_DUPLICATE) {
        rc = sa_store_outbox_cancel_sequence(
            st, json_string_value(json_object_get(item, "sequence_id")), why, NULL, err);
    } else if (d->verdict == SA_SEND_CANCEL) {
        /* claimed first, so a worker sending the item meanwhile is never overruled */
        char token[SA_UUID_LEN];
        sa_uuid_v7(token);
        rc = sa_store_outbox_claim_as(st, id, token, err);
        if (rc == SA_ECONFLICT)
            return 0; /* another worker has it, or it is done */
        if (!rc)
            rc = sa_store_outbox_mark_as(st, id, token, "cancelled", NULL, why, 0, err);
    } else {
        rc = sa_store_outbox_defer(st, id, (long long)d->at, why, err);
        if (rc == SA_ECONFLICT) /* cancelled or claimed meanwhile: nothing to move */
            rc = 0;
    }
    if (rc)
        return -1;
    char at[SA_ISO8601_LEN];
    sa_iso8601_format(d->at, at);
    sa_log(SA_LOG_INFO, d->verdict == SA_SEND_CANCEL ? "outbox cancelled" : "outbox deferred",
           json_pack("{s:s, s:s, s:s?}", "outbox_id", id, "reason", why, "until",
                     d->verdict == SA_SEND_DEFER ? at : NULL));
    return 0;
}

/* Records the outcome of the claim token holds (outbox_mark_as). Returns 0; 1 when the
 * claim is no longer this worker's (its lease expired and another worker claimed the
 * item: that one's outcome stands, logged); -1 on a store error (err set). */
static int mark(struct sa_store *st, const char *id, const char *token, const char *status,
                const char *delivered, const char *error, long long retry_at, struct sa_err *err)
{
    struct sa_err e = {0};
    int rc = sa_store_outbox_mark_as(st, id, token, status, delivered, error, retry_at, &e);
    if (rc == SA_ECONFLICT) {
        sa_log(SA_LOG_WARN, "outbox: the claim passed to another worker; its outcome stands",
               json_pack("{s:s, s:s, s:s}", "outbox_id", id, "outcome", status, "detail", e.msg));
        return 1;
    }
    if (rc) {
        *err = e;
        return -1;
    }
    return 0;
}

/* A cancellation whose meeting's invite never reached the prospect (the e-mail carrying
 * it left without it, or was cancelled) is dropped: there is no event to withdraw.
 * Returns 0 to send it, 1 when dropped, -1 on a store error (err set). */
static int cancel_unsent(struct sa_outbox_worker *w, const json_t *item, struct sa_err *err)
{
    const char *kind = json_string_value(json_object_get(item, "kind"));
    if (!kind || strcmp(kind, "cancel") != 0 || !w->app->booking)
        return 0;
    const char *id = json_string_value(json_object_get(item, "id"));
    bool sent = false, pending = false;
    if (sa_booking_invite_state(
            w->app->booking,
            json_string_value(json_object_get(json_object_get(item, "payload"), "meeting_id")),
            json_string_value(json_object_get(item, "to_email")), &sent, &pending, err))
        return -1;
    if (sent)
        return 0;
    if (pending) { /* the invite has not left yet: the cancellation waits behind it */
        int rc = sa_store_outbox_defer(w->app->store, id, (long long)sa_wall_time() + 60,
                                       "waiting for the invite it withdraws to leave", err);
        return rc && rc != SA_ECONFLICT ? -1 : 1;
    }
    char token[SA_UUID_LEN];
    sa_uuid_v7(token);
    int rc = sa_store_outbox_claim_as(w->app->store, id, token, err);
    if (rc == SA_ECONFLICT)
        return 1;
    if (!rc)
        rc = sa_store_outbox_mark_as(w->app->store, id, token, "cancelled", NULL,
                                     "no invite to this meeting was sent: nothing to withdraw", 0,
                                     err);
    return rc ? -1 : 1;
}

/* Sends one item; returns 1 when delivered, 0 when not (cancelled, deferred or retried
 * later), -1 on a store error (err set). */
static int send_item(struct sa_outbox_worker *w, const json_t *item, struct sa_err *err)
{
    struct sa_store *st = w->app->store;
    const char *id = json_string_value(json_object_get(item, "id"));
    const char *to = json_string_value(json_object_get(item, "to_email"));
    const json_t *p = json_object_get(item, "payload");
    if (!id || !to)
        return 0;
    /* the policy is checked when the message leaves, not only when it was queued:
     * consent, duplicates, the sequence's spacing, the caps and the window */
    struct sa_send_decision d;
    struct sa_err e = {0};
    int rc = decide(w, item, to, &d, &e);
    if (rc) {
        *err = e;
        return -1;
    }
    if (d.verdict != SA_SEND_NOW)
        return hold(w, item, &d, err);
    if ((rc = cancel_unsent(w, item, err)) != 0)
        return rc < 0 ? -1 : 0;
    char token[SA_UUID_LEN]; /* this claim's: only it records the outcome */
    sa_uuid_v7(token);
    if ((rc = sa_store_outbox_claim_as(st, id, token, err)))
        return rc == SA_ECONFLICT ? 0 : -1; /* another worker has it, or it is done */
    /* The meeting the message proposes may have passed while it waited for its window
     * or a cap, or its hold lapsed and another meeting took the slot, or the prospect moved
     * it meanwhile: it leaves without the invite and without the sentence proposing the
     * time, and the proposal's hold is released (a careful SDR never invites to a passed
     * slot, nor two prospects to one), but never a meeting the prospect moved. A proposal
     * still the prospect's is held again from now (sa_booking_keep). When the store cannot
     * tell (an error), the time alone decides, as without a booking: an invite to a slot
     * still ahead goes, one that passed does not, and nothing is released on a guess (the
     * prospect may have moved it). */
    const char *ics = json_string_value(json_object_get(p, "ics"));
    const char *body = json_string_value(json_object_get(p, "body"));
    char *trimmed = NULL;
    double start;
    int notice = w->app->calendar ? w->app->calendar->notice_minutes : 120;
    const char *meeting = json_string_value(json_object_get(p, "meeting_id"));
    bool dated =
        sa_iso8601_parse(json_string_value(json_object_get(p, "meeting_start")), &start) == 0;
    bool kept = true, release = false;
    if (ics && meeting && dated && w->app->booking) {
        struct sa_err ke = {0};
        if (sa_booking_keep(w->app->booking, meeting, (long long)start, sa_wall_time(), &kept,
                            &release, &ke)) {
            kept = start >= (double)sa_wall_time() + 60.0 * notice;
            release = false;
            sa_log(SA_LOG_WARN, "outbox: the proposed meeting could not be re-checked",
                   json_pack("{s:s, s:s, s:b}", "meeting_id", meeting, "error", ke.msg,
                             "slot_ahead", kept));
        }
    } else if (ics && dated && start < (double)sa_wall_time() + 60.0 * notice) {
        kept = false;
        release = true;
    }
    if (ics && !kept) {
        ics = NULL;
        const char *said = json_string_value(json_object_get(p, "meeting_text"));
        const char *at = said && body ? strstr(body, said) : NULL;
        if (at && (trimmed = malloc(strlen(body) + 1))) {
            size_t head = (size_t)(at - body), n = strlen(said);
            while (head > 0 && body[head - 1] == '\n') /* the paragraph break before it */
                head--;
            size_t tail = strlen(at + n);
            memcpy(trimmed, body, head);
            memcpy(trimmed + head, at + n, tail + 1); /* with its NUL */
            body = trimmed;
        }
        const char *mid = json_string_value(json_object_get(p, "meeting_id"));
        struct sa_err me = {0};
        if (mid && release &&
            sa_store_meeting_set_status(st, mid, "cancelled", NULL, (long long)sa_wall_time(), NULL,
                                        &me))
            sa_log(SA_LOG_WARN, "outbox: the passed meeting was not released",
                   json_pack("{s:s, s:s}", "meeting_id", mid, "error", me.msg));
        sa_log(SA_LOG_INFO, "outbox: the proposed meeting passed or changed; sent without it",
               json_pack("{s:s, s:s?}", "outbox_id", id, "meeting_id", mid));
    }
    char unsub[SA_CONSENT_URL_MAX];
    const char *mailto = NULL, *address = NULL;
    bool linked =
        w->app->consent && sa_consent_links(w->app->consent, to, unsub, &mailto, &address) == 0;
    const json_t *from = json_object_get(p, "from");
    struct sa_mail m = {
        .from_name = json_string_value(json_object_get(from, "name")),
        .from_addr = json_string_value(json_object_get(from, "email")),
        .to_name = json_string_value(json_object_get(p, "to_name")),
        .to_addr = to,
        .subject = json_string_value(json_object_get(p, "subject")),
        .text = body,
        .ics = ics,
        .message_id_key = id,
        .in_reply_to = json_string_value(json_object_get(p, "in_reply_to")),
        .date = sa_wall_time(),
        .unsubscribe_url = linked ? unsub : NULL,
        .unsubscribe_mailto = linked ? mailto : NULL,
        .sender_address = address,
    };
    char *msg = NULL;
    size_t len = 0;
    char delivered[SA_TRANSPORT_ID_MAX];
    bool already = false;
    rc = sa_mail_render(&m, &msg, &len, &e);
    if (!rc)
        rc = sa_transport_send_once(w->transport, id, to, msg, len, delivered, sizeof delivered,
                                    &already, &e);
    free(msg);
    if (rc) { /* the body (trimmed or not) is kept only for the CRM's note of a sent one */
        free(trimmed);
        trimmed = NULL;
        body = NULL;
    }
    /* SA_EINVAL is for good: a message that cannot be rendered never will be, and one the
     * receiving server refused (an SMTP 5xx) would be refused again; everything else (a
     * 4xx, a lost connection) is retried with backoff */
    bool permanent = rc == SA_EINVAL;
    if (rc == 0) {
        const char *note = json_string_value(json_object_get(p, "ics")) && !ics
                               ? SA_BOOKING_NO_INVITE_NOTE " (its meeting passed or changed)"
                               : NULL;
        if ((rc = mark(st, id, token, "sent", delivered, note, 0, err)) != 0) {
            free(trimmed);
            return rc < 0 ? -1 : 0;
        }
        sa_log(SA_LOG_INFO, "outbox sent",
               json_pack("{s:s, s:s, s:s, s:b}", "outbox_id", id, "to", to, "delivered_id",
                         delivered, "already_delivered", already));
        /* the CRM hears of it (CRM_PROVIDER; once per item: its id keys the push) */
        char activity[64];
        snprintf(activity, sizeof activity, "outbox:%s", id);
        /* what was sent: without the proposal of a meeting that had passed */
        sa_crm_sync_activity_logged(w->app, json_string_value(json_object_get(item, "lead_id")), to,
                                    "email", activity, m.subject, body);
        free(trimmed);
        return 1;
    }
    /* the server is known down (the transport's breaker is open): no attempt is counted,
     * the item waits for the breaker's next trial, so an outage fails no mail however long
     * it lasts (as the CRM's pushes) */
    const char *breaker = sa_transport_breaker(w->transport);
    if (!permanent && breaker && strcmp(breaker, "open") == 0) {
        double wait = w->app->cfg.breaker_open_seconds > 0 ? w->app->cfg.breaker_open_seconds : 30;
        long long at = (long long)sa_wall_time() + (long long)wait + 1;
        int marked = mark(st, id, token, "queued", NULL, e.msg, 0, err);
        if (marked < 0)
            return -1;
        if (marked == 0) {
            struct sa_err de = {0};
            int moved =
                sa_store_outbox_defer(st, id, at, "mail server unavailable (breaker open)", &de);
            if (moved && moved != SA_ECONFLICT) {
                *err = de;
                return -1;
            }
        }
        return 0;
    }
    long long attempts = json_integer_value(json_object_get(item, "attempts")) + 1;
    if (permanent || attempts >= MAX_ATTEMPTS) {
        sa_log(SA_LOG_ERROR, "outbox failed",
               json_pack("{s:s, s:s, s:I}", "outbox_id", id, "error", e.msg, "attempts",
                         (json_int_t)attempts));
        return mark(st, id, token, "failed", NULL, e.msg, 0, err) < 0 ? -1 : 0;
    }
    long long retry = (long long)sa_wall_time() + 60LL * (1LL << (attempts - 1));
    sa_log(SA_LOG_WARN, "outbox retry",
           json_pack("{s:s, s:s, s:I}", "outbox_id", id, "error", e.msg, "retry_at",
                     (json_int_t)retry));
    return mark(st, id, token, "queued", NULL, e.msg, retry, err) < 0 ? -1 : 0;
}

/* Re-queues the items whose lease expired (see LEASE_REASON above), with the wall clock. */
static int requeue_expired(struct sa_outbox_worker *w, struct sa_err *err)
{
    int n = 0;
    int rc =
        sa_store_outbox_requeue_expired(w->app->store, (long long)sa_wall_time(),
                                        w->app->cfg.outbox_lease_seconds, LEASE_REASON, &n, err);
    if (!rc && n > 0)
        sa_log(
            SA_LOG_WARN, "outbox: items whose claim expired were queued again",
            json_pack("{s:i, s:i}", "items", n, "lease_seconds", w->app->cfg.outbox_lease_seconds));
    return rc;
}

int sa_outbox_drain(struct sa_outbox_worker *w, int *sent, struct sa_err *err)
{
    *sent = 0;
    int rc0 = requeue_expired(w, err);
    if (rc0)
        return rc0;
    /* meetings to withdraw (an opt-out, a lapsed hold whose invite went): their
     * cancellations join this pass; a failed sweep is retried at the next poll */
    time_t now = sa_wall_time();
    if (w->app->booking && (w->swept == 0 || now - w->swept >= SWEEP_SECONDS || now < w->swept)) {
        int n = 0;
        struct sa_err se = {0};
        if (sa_booking_sweep(w->app->booking, now, &n, &se))
            sa_log(SA_LOG_WARN, "outbox: the meetings sweep failed",
                   json_pack("{s:s}", "error", se.msg));
        else
            w->swept = now;
    }
    for (;;) {
        json_t *due = NULL;
        int rc = sa_store_outbox_due(w->app->store, (long long)sa_wall_time(), DUE_PAGE, &due, err);
        if (rc)
            return rc;
        size_t n = json_array_size(due), i, ncrm = 0;
        json_t *item;
        json_t **crm = calloc(n ? n : 1, sizeof(json_t *)); /* the CRM pushes, sent batched */
        if (!crm) {
            json_decref(due);
            return sa_err_set(err, SA_ENOMEM, "out of memory");
        }
        json_array_foreach(due, i, item)
        {
            if (sa_crm_sync_kind(json_string_value(json_object_get(item, "kind")))) {
                crm[ncrm++] = item;
                continue;
            }
            int r = send_item(w, item, err);
            if (r < 0) {
                free(crm);
                json_decref(due);
                return err->code ? err->code : SA_ESTORE;
            }
            *sent += r;
        }
        int pushed = 0;
        rc = sa_crm_sync_deliver(w->app, crm, (int)ncrm, MAX_ATTEMPTS, &pushed, err);
        *sent += pushed;
        free(crm);
        json_decref(due);
        if (rc)
            return rc;
        if (n < DUE_PAGE)
            return 0;
    }
}

static void *worker(void *arg)
{
    struct sa_outbox_worker *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        if (!w->stop && !w->kicked) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += w->poll_ms / 1000;
            ts.tv_nsec += (w->poll_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&w->cond, &w->lock, &ts);
        }
        bool stop = w->stop;
        w->kicked = false;
        pthread_mutex_unlock(&w->lock);
        if (stop)
            return NULL;
        int sent = 0;
        struct sa_err err = {0};
        if (sa_outbox_drain(w, &sent, &err))
            sa_log(SA_LOG_ERROR, "outbox worker", json_pack("{s:s}", "error", err.msg));
    }
}

int sa_outbox_start(struct sa_app *app, const char *spec, long poll_ms,
                    struct sa_outbox_worker **out, struct sa_err *err)
{
    *out = NULL;
    struct sa_outbox_worker *w = calloc(1, sizeof *w);
    if (!w)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    w->app = app;
    w->poll_ms = poll_ms > 0 ? poll_ms : 1000;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    int rc =
        sa_send_window_parse(app->cfg.send_window ? app->cfg.send_window : "any", &w->window, err);
    if (rc)
        rc = SA_ECONFIG; /* err says what is wrong with SEND_WINDOW */
    const struct sa_config *cfg = &app->cfg;
    struct sa_transport_options topts = {
        .smtp_username = cfg->smtp_username,
        .smtp_password = cfg->smtp_password,
        .smtp_mail_from = cfg->smtp_mail_from,
        .smtp_ca_file = cfg->smtp_ca_file,
        .smtp_connect_timeout_ms = cfg->smtp_connect_timeout_ms,
        .smtp_timeout_ms = cfg->smtp_timeout_ms,
        .breaker_failures = cfg->breaker_failures,
        .breaker_open_seconds = cfg->breaker_open_seconds,
        .metrics = app->metrics,
        .m_breaker = app->metrics ? app->m_breaker : -1,
        .dkim_key_file = cfg->dkim_key_file,
        .dkim_selector = cfg->dkim_selector,
        .dkim_domain = cfg->dkim_domain,
    };
    if (!rc)
        rc = sa_transport_open_with(spec, &topts, &w->transport, err);
    if (!rc && pthread_create(&w->thread, NULL, worker, w) != 0)
        rc = sa_err_set(err, SA_ENOMEM, "cannot start the outbox worker");
    if (rc) {
        sa_outbox_stop(w);
        return rc;
    }
    w->started = true;
    app->outbox_kick_arg = w;
    app->outbox_kick = kick;
    app->mail_transport = w->transport;
    *out = w;
    return 0;
}

void sa_outbox_stop(struct sa_outbox_worker *w)
{
    if (!w)
        return;
    if (w->started) {
        w->app->outbox_kick = NULL;
        w->app->mail_transport = NULL;
        pthread_mutex_lock(&w->lock);
        w->stop = true;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->thread, NULL);
    }
    sa_transport_free(w->transport);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
}

int sa_app_outbox_list(struct sa_store *store, const char *status, const char *email, int limit,
                       json_t **out, struct sa_err *err)
{
    return sa_store_outbox_list(store, status, email, limit, out, err);
}
