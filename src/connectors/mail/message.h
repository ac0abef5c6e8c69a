/* Renders an outgoing e-mail as an RFC 5322 / MIME message (CRLF line endings, RFC 2047
 * encoded-words, quoted-printable text, an optional base64 text/calendar invite). The outbox
 * renders a message once from its stored inputs and hands the bytes to a transport. */
#ifndef SA_MAIL_MESSAGE_H
#define SA_MAIL_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "base/err.h"

/* The largest message sa_mail_render produces (the common provider limit); past it the
 * render fails with SA_ETOOBIG. */
#define SA_MAIL_MAX_BYTES ((size_t)25 * 1024 * 1024)
/* Room for a Message-ID with its angle brackets and the NUL. */
#define SA_MAIL_MSGID_MAX 512

/* One message. Every string is UTF-8 and borrowed for the duration of the call; none may
 * contain CR or LF except text and ics. */
struct sa_mail {
    const char *from_name;      /* optional display name (NULL or "" for none) */
    const char *from_addr;      /* required; a plain addr-spec, see sa_mail_addr_valid */
    const char *to_name;        /* optional display name */
    const char *to_addr;        /* required */
    const char *subject;        /* required; may be "" */
    const char *text;           /* required plain-text body; "\n" or "\r\n" line breaks */
    const char *ics;            /* optional text/calendar body (METHOD:REQUEST), sent as is */
    const char *message_id_key; /* required stable key: Message-ID <key@from-domain> */
    const char *in_reply_to;    /* optional Message-ID ("<id>" or "id") for threading */
    time_t date;                /* Date header, rendered in UTC */
    /* Consent (RFC 2369, RFC 8058), each optional: the one-click unsubscribe link
     * (https:// or http://) and the mailto: URI of List-Unsubscribe, and the sender's
     * postal address. With any of them the text ends with a footer: the unsubscribe line
     * and the address. */
    const char *unsubscribe_url;    /* e.g. https://host/unsubscribe/TOKEN */
    const char *unsubscribe_mailto; /* e.g. mailto:alex@example.com?subject=unsubscribe */
    const char *sender_address;     /* one line */
};

/* True when addr is a plain ASCII addr-spec we are willing to put in a header: a dot-atom
 * local part of at most 64 characters, '@', and a domain of two or more LDH labels with an
 * alphabetic top-level label; at most 254 characters. Quoted local parts, comments,
 * address literals and internationalised addresses are refused. */
bool sa_mail_addr_valid(const char *addr);

/* Writes the Message-ID that sa_mail_render puts on m, "<key@domain>" with the domain of
 * m->from_addr, into out (capacity cap, at least SA_MAIL_MSGID_MAX is always enough).
 * Returns 0, or SA_EINVAL (err names the field) when the key or from_addr is unusable. */
int sa_mail_message_id(const struct sa_mail *m, char *out, size_t cap, struct sa_err *err) SA_WUR;

/* Renders m into a newly allocated NUL-terminated message that the caller frees with free();
 * *len (may be NULL) receives its length without the NUL. The output depends only on m: the
 * same inputs give the same bytes, so a retried delivery sends an identical message.
 *
 * Headers: Date, From, To, Subject, Message-ID, In-Reply-To and References (when
 * in_reply_to is set), List-Unsubscribe (the mailto and the URL, when set) and
 * List-Unsubscribe-Post: List-Unsubscribe=One-Click (with the URL), MIME-Version. Display names and subjects that are not short plain
 * ASCII become =?UTF-8?B?...?= encoded-words; header lines are folded to 78 characters
 * (only an address, a Message-ID or an unsubscribe URI too long for any line exceeds
 * it, never past 998).
 * Without ics the body is text/plain in quoted-printable; with ics the message is
 * multipart/mixed of a multipart/alternative (the text, then the invite inline as
 * text/calendar; method=REQUEST; charset=UTF-8, so mail clients show Accept/Decline) and
 * the invite again as an attachment "invite.ics" (application/ics), both in base64. The text always ends with a line break (one
 * is added when it has none).
 *
 * Returns 0; SA_EINVAL when a field is missing or unsafe (CR or LF in any header input,
 * other control characters, invalid UTF-8, an invalid address or key), with err naming the
 * field; SA_ETOOBIG past SA_MAIL_MAX_BYTES or a header input's cap; SA_ENOMEM. On failure
 * *out is NULL and *len is 0. */
int sa_mail_render(const struct sa_mail *m, char **out, size_t *len, struct sa_err *err) SA_WUR;

#endif
