/* What an incoming message is (a person's reply, an automatic reply, or a delivery
 * failure) and, for a failure, which address failed and how: RFC 3464 delivery status
 * notifications and the common non-standard forms (Postfix, Exchange/Outlook, Gmail
 * mailer-daemon texts). Pure functions over a parsed message (mime.h); app/inbound.c acts
 * on the answer. */
#ifndef SA_MAIL_BOUNCE_H
#define SA_MAIL_BOUNCE_H

#include <stdbool.h>
#include <stddef.h>

struct sa_mime_msg;

enum sa_inbound_kind { SA_INBOUND_REPLY, SA_INBOUND_BOUNCE, SA_INBOUND_AUTO_REPLY };

/* A delivery report's outcome for the recipient it is about. */
struct sa_bounce {
    char recipient[256];  /* the failed address, lowercase; "" when the report names none */
    char status[16];      /* the enhanced status code ("5.1.1"), "" when none is given */
    char action[16];      /* RFC 3464 Action (failed, delayed, delivered, ...), lowercase */
    bool hard;            /* a permanent failure: action failed with a 5.x.x status (or a
                           * non-standard report's permanent wording) */
    char diagnostic[256]; /* the remote server's answer, when the report quotes it */
};

/* The kind of m: a bounce when it is a delivery report (multipart/report with
 * report-type=delivery-status, or a mailer-daemon's non-standard report with a failure's
 * wording or status code), else an automatic reply when its headers say so
 * (Auto-Submitted other than "no", X-Autoreply, X-Autorespond, Precedence: auto_reply), its
 * subject is an automatic reply's ("Out of Office", "Automatic reply:", "Automatische
 * Antwort:", "Abwesenheitsnotiz", "Réponse automatique"...), it is a read receipt, or its
 * text is an out-of-office notice (domain/reply.h) that asks no question, does not ask to
 * be removed and quotes no earlier message, else a reply. For a bounce *b is filled (else
 * cleared). A delivery report whose recipients were all delivered is a bounce with hard
 * false and action "delivered"; a permanent refusal of the message or its sender rather
 * than the address (5.7.x, 5.2.2...) has hard false and action "failed". */
enum sa_inbound_kind sa_mail_classify(const struct sa_mime_msg *m, struct sa_bounce *b);

/* Whether m is a read receipt: multipart/report with report-type=disposition-notification
 * (RFC 8098). sa_mail_classify calls it an automatic reply; it names no return date. */
bool sa_mail_is_read_receipt(const struct sa_mime_msg *m);

/* The reply's own words from a message's text into out (cap bytes, NUL-terminated):
 * quoted history ("On ... wrote:", "Am ... schrieb", "Le ... a écrit :", Outlook's
 * "-----Original Message-----" and "From:/Von: ... Sent:/Gesendet:" blocks, "> " lines)
 * and the signature ("-- ", "Sent from my iPhone", a closing formula and what follows it)
 * removed, by domain/reply.h's sa_reply_clean applied twice: the first pass cuts the
 * quoted history, so the second finds a closing formula at the end of what is left.
 * Returns the length written. */
size_t sa_mail_reply_text(const char *text, char *out, size_t cap);

/* The kind's name: "reply", "bounce", "auto_reply". */
const char *sa_inbound_kind_name(enum sa_inbound_kind k);

#endif
