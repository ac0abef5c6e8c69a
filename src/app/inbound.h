/* Inbound mail: a raw RFC 5322 message (a reply, an automatic reply or a delivery report)
 * read (connectors/mail/mime.h), classified (connectors/mail/bounce.h), matched to the
 * lead and thread it answers, and acted on: a reply becomes a conversation turn on the
 * lead's mail thread (intent, stage, consent, meetings; follow-ups cancelled), a hard
 * bounce makes the address do-not-contact (source "bounce") and fails its queued mail, an
 * out-of-office reply moves the follow-ups past the return date. Each message is
 * processed once, by its Message-ID, and shows on the lead's timeline. Shared by
 * POST /api/inbound/email and `sales-agent inbound`. */
#ifndef SA_APP_INBOUND_H
#define SA_APP_INBOUND_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

struct sa_app;

/* The mail thread of a lead's replies ("mail-" and the lead id), into out (cap >= 48). */
void sa_inbound_thread_id(const char *lead_id, char *out, size_t cap);

/* Processes raw[0..len). *out (new reference) says what happened:
 * {message_id, kind: reply|bounce|auto_reply|unmatched, duplicate, matched: null |
 * {lead_id, thread_id, by, outbox_id}, email, subject, and per kind: reply: text (the
 * reply's own words), intent, confidence, stage, do_not_contact, followups_cancelled,
 * suggested_reply, suggested_actions, meeting; bounce: bounce {recipient, status,
 * action, hard, diagnostic}, do_not_contact, outbox_failed; auto_reply: return_date,
 * followups_postponed}. A message seen before answers its first outcome with duplicate
 * true and changes nothing. Returns 0; SA_EINVAL for a message that cannot be read (err
 * names the problem, for a 422); SA_ETOOBIG past a cap; SA_ECONFLICT when the lead's
 * thread is busy (retry); a store error (nothing recorded: the message may be retried). */
int sa_app_inbound(struct sa_app *app, const char *raw, size_t len, json_t **out,
                   struct sa_err *err) SA_WUR;

/* ---- calendar replies by mail (app/inbound_rsvp.c) ----
 * A calendar client's answer to our invite: Outlook's and Google's "Accepted: ..." /
 * "Declined: ..." messages carry a text/calendar METHOD:REPLY part, applied to the meeting
 * whose invite UID it answers exactly as POST /api/meetings/{id}/rsvp with that iCalendar
 * would (app/meetings.h), instead of becoming a conversation turn. */
struct sa_mime_msg;

/* When m carries a calendar part that is a METHOD:REPLY (sa_ics_reply_read), *handled is
 * set and res (the inbound answer, borrowed) gets "rsvp": {uid, partstat, attendee,
 * applied, meeting_id?, status?, reason?}, where reason says why it was not applied:
 * unknown_uid (no meeting has that invite UID), wrong_attendee (the REPLY's ATTENDEE is
 * not the meeting's invitee), conflict (the meeting began, or an accepted hold's slot went
 * to another), invalid, or no_calendar (meetings are not configured). The queued
 * follow-ups to the sender are cancelled as for any reply. A calendar part that is no
 * REPLY (a forwarded invite) leaves *handled false and res untouched. Returns 0 (also
 * when the reply is recorded unapplied) or a store error (nothing to keep: retry). */
int sa_inbound_rsvp(struct sa_app *app, const struct sa_mime_msg *m, json_t *res, bool *handled,
                    struct sa_err *err) SA_WUR;

#endif
