/* Meetings with prospects, for the agents that propose and book them: the BDR agent
 * (a draft holds a slot; the approval and the send re-check it) and the conversation agent
 * (a reply naming a time books it, or gets the nearest free slots). Slots come from the
 * seller's calendar, limited to the prospect's working hours in the prospect's zone
 * (domain/timezone.h), minus the meetings the store holds; a proposal holds its slot in
 * the store for hold_hours, so two prospects never get the same half hour. */
#ifndef SA_AGENTS_BOOKING_H
#define SA_AGENTS_BOOKING_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

#include "base/err.h"

struct sa_store;
struct sa_calendar;

/* What booking works with; all borrowed and outliving every call. */
struct sa_booking {
    struct sa_store *store;
    const struct sa_calendar *calendar; /* the seller's availability */
    const char *organizer_name, *organizer_email;
    const char *meeting_link; /* the invite's LOCATION and URL */
    int hold_hours;           /* how long a proposal holds its slot (<= 0: 48) */
};

/* Who a meeting is with. Strings borrowed for the call; lead is the lead object as the API
 * takes it (its time zone fields, see sa_lead_timezone), or NULL. */
struct sa_booking_who {
    const json_t *lead;
    const char *lead_id, *thread_id;
    const char *email; /* required: the attendee */
    const char *name;  /* or NULL */
    const char *company;
    /* How many slots our last message in the conversation offered to choose from (0: none,
     * only the held proposal): a plain "yes" to several is not guessed (sa_booking_reply). */
    int offered_slots;
};

/* Proposes a meeting: the first of the next free slots (seller's and prospect's working
 * hours, not held or booked) that the store lets it hold, as *meeting (new reference):
 * {id, uid, start, end, start_unix, end_unix, minutes, timezone, tz_source, local,
 * local_end, status: "held", hold_until, sequence, summary, text, ics}, where local is
 * the start as the prospect reads it ("Tuesday 3 December, 10:00 PST"), text the sentence
 * for the e-mail and ics the invite (TENTATIVE). *alternatives (new reference, may be
 * NULL to skip): the other free slots as {start, end, start_unix, local}. *meeting is JSON
 * null when no slot is free in the calendar's horizon. Returns 0 or a store error. */
int sa_booking_propose(const struct sa_booking *b, const struct sa_booking_who *who, time_t now,
                       json_t **meeting, json_t **alternatives, struct sa_err *err) SA_WUR;

/* The last check of a proposal, when the e-mail inviting to meeting_id at proposed (unix
 * seconds) leaves (it may have waited days for a window or a cap): *ok when the slot is
 * still ahead (the notice included) and still the prospect's. A hold, even a lapsed one
 * nobody took, is renewed from now (hold_hours: the prospect gets the whole hold from
 * when they read the invite); a tentative or confirmed meeting stays as it is. *ok false
 * when the time passed, the meeting was cancelled or declined, another meeting took the
 * slot after the hold lapsed, or the meeting moved since (the prospect named another
 * time): the caller sends the e-mail without the invite. *release: the caller cancels the
 * meeting (it passed, or lost its slot; never one that moved). Returns 0 or a store
 * error. */
int sa_booking_keep(const struct sa_booking *b, const char *meeting_id, long long proposed,
                    time_t now, bool *ok, bool *release, struct sa_err *err) SA_WUR;

/* Re-checks a proposed meeting (as sa_booking_propose made it) before it goes out: the
 * stored meeting's slot must still be ahead (the calendar's notice included) and its hold
 * active or renewable. When it is, *updated is NULL. Otherwise the meeting moves (same id
 * and uid, sequence + 1) to the next free slot and *updated is the new meeting (as from
 * sa_booking_propose, new reference) with "rescheduled": {from, reason: "passed" |
 * "taken" | "expired"}; JSON null when no slot is free (the hold is then cancelled).
 * Returns 0 or a store error. */
int sa_booking_recheck(const struct sa_booking *b, const struct sa_booking_who *who,
                       const json_t *meeting, time_t now, json_t **updated,
                       struct sa_err *err) SA_WUR;

/* Lets a proposal go (an ignored draft): the meeting is cancelled and frees its slot, as
 * sa_booking_cancel with reason "released". Unknown ids are not an error. Returns 0 or a
 * store error. */
int sa_booking_release(const struct sa_booking *b, const char *meeting_id, time_t now,
                       struct sa_err *err) SA_WUR;

/* A conversation turn: a plain acceptance naming no time ("Yes, that works", "Passt, bis
 * dann": sa_when_is_acceptance), from a prospect with one meeting ahead proposed to them
 * (held, lapsed or tentative) and offered no other slots (who->offered_slots <= 1), with an
 * intent that is no other request (not pricing, support, an objection, ...), confirms that
 * meeting as an RSVP accept would: "meeting" (confirmed, its CONFIRMED invite queued) and
 * "meeting_accepted": true; a day it names must be the meeting's. When message names a time
 * (domain/when.h, read in the prospect's zone) or intent is meeting_scheduling or demo_request,
 * adds to extra (a JSON object) either "meeting" (the named slot was free: booked, status
 * confirmed, with its ics, which is also queued to the prospect through the outbox, kind "invite")
 * or "meeting_slots" (the nearest free slots to the named time, or the next ones) and
 * "meeting_requested" (the named time, when one was named, with why it was not booked).
 * Returns 0 (also when nothing applies) or a store error. */
int sa_booking_reply(const struct sa_booking *b, const struct sa_booking_who *who,
                     const char *message, const char *intent, time_t now, json_t *extra,
                     struct sa_err *err) SA_WUR;

/* The seller's calendar from from for days (1..14), in 30-minute steps of the slot grid:
 * *out (new reference) {timezone, seller_timezone, from, days, slots: [{start, end,
 * start_unix, local, status: free | held | confirmed | tentative, meeting_id?}]}, every
 * slot inside the seller's working hours (and the hours of tz, when given: a prospect's
 * zone) and after now plus the notice; held and booked ones are marked with their
 * meeting. tz NULL or "" shows the seller's zone. Returns 0, SA_EINVAL for an unknown
 * zone, or a store error. */
int sa_booking_calendar(const struct sa_booking *b, time_t from, int days, const char *tz,
                        time_t now, json_t **out, struct sa_err *err) SA_WUR;

/* Applies a prospect's RSVP to meeting id: ACCEPTED confirms it, TENTATIVE keeps the slot
 * as tentative, DECLINED frees it (sequence + 1 each time). *out (new reference) the
 * meeting with its updated invite (ics); an accepted one's CONFIRMED invite is queued to
 * the prospect through the outbox (kind "invite"). SA_ENOTFOUND, SA_EINVAL for another partstat,
 * or SA_ECONFLICT when an accepted hold had lapsed and its slot went to someone else. */
int sa_booking_rsvp(const struct sa_booking *b, const char *id, const char *partstat, time_t now,
                    json_t **out, struct sa_err *err) SA_WUR;

/* The note the outbox worker records on an e-mail that left without the invite it
 * carried (its meeting passed or changed): such an e-mail is no invite to withdraw. */
#define SA_BOOKING_NO_INVITE_NOTE "sent without its invite"

/* Cancels meeting_id (held, expired, tentative or confirmed: status cancelled, sequence
 * + 1, its slot freed) and, when an invite to it was sent to the attendee or is still
 * queued, queues the cancellation through the outbox (kind "cancel": METHOD:CANCEL, the
 * same UID, the new SEQUENCE, STATUS:CANCELLED; reason "released", "expired" or
 * "opt_out" picks the e-mail's sentence) under a key of the meeting's live sequence, so
 * a retry or a concurrent caller queues it once. A meeting cancelled already queues the
 * same key again (a retry after a crash between the two writes); a declined one, an
 * unknown id or a meeting that ended queue nothing. *queued (may be NULL) says whether
 * an item was added. Returns 0 or a store error. */
int sa_booking_cancel(const struct sa_booking *b, const char *meeting_id, const char *reason,
                      time_t now, bool *queued, struct sa_err *err) SA_WUR;

/* Whether an outbox item carrying meeting_id's invite to email was sent (*sent: delivered
 * with it; not one marked SA_BOOKING_NO_INVITE_NOTE) or may still be (*pending: queued or
 * sending). Returns 0 or a store error. */
int sa_booking_invite_state(const struct sa_booking *b, const char *meeting_id, const char *email,
                            bool *sent, bool *pending, struct sa_err *err) SA_WUR;

/* The outbox worker's periodic pass over the meetings still ahead: one whose attendee is
 * do-not-contact now is cancelled (reason "opt_out"), and a hold that lapsed after its
 * invite was sent is cancelled (reason "expired"), each with its cancellation queued as
 * sa_booking_cancel says. *cancelled counts them. Returns 0 or a store error. */
int sa_booking_sweep(const struct sa_booking *b, time_t now, int *cancelled,
                     struct sa_err *err) SA_WUR;

/* The meeting's invite (METHOD:REQUEST, TENTATIVE or CONFIRMED, LOCATION and URL from the
 * link, SEQUENCE from the meeting) for a stored or proposed meeting object; *ics is a
 * malloc'd string the caller frees. Returns 0 or SA_EINVAL/SA_ENOMEM. */
int sa_booking_ics(const struct sa_booking *b, const struct sa_booking_who *who,
                   const json_t *meeting, bool confirmed, char **ics, struct sa_err *err) SA_WUR;

#endif
