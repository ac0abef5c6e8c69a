/* Reads an incoming RFC 5322 / MIME message (a reply, an auto-reply or a delivery status
 * notification) into what the inbound service needs: the decoded headers it matches and
 * classifies on, the body text in UTF-8, and a delivery report's machine-readable parts.
 * Pure parsing, no I/O; called by app/inbound.c and by connectors/mail/bounce.c's tests. */
#ifndef SA_MAIL_MIME_H
#define SA_MAIL_MIME_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

/* Caps, each an error past it (SA_ETOOBIG, err naming it): the raw message, the header
 * block of one entity, the number of header fields of one entity, the nesting of
 * multiparts and attached messages, the number of entities, and the decoded text kept. */
#define SA_MIME_MAX_BYTES ((size_t)25 * 1024 * 1024)
#define SA_MIME_MAX_HEADER_BYTES ((size_t)256 * 1024)
#define SA_MIME_MAX_FIELDS 500
#define SA_MIME_MAX_DEPTH 10
#define SA_MIME_MAX_PARTS 200
#define SA_MIME_MAX_TEXT ((size_t)1024 * 1024)

/* One header field: its name as written and its value unfolded (CRLF + WSP removed,
 * RFC 5322 2.2.3), not decoded. Both malloc'd, owned by the message. */
struct sa_mime_field {
    char *name;
    char *value;
};

/* A text part whose declared charset could not decode its bytes but another could (see
 * sa_mime_parse): the charset declared ("utf-8", "us-ascii", "none") and the one used
 * ("windows-1252" or "utf-8"); both "" when the declared charset decoded it. */
struct sa_mime_charset_note {
    char declared[64];
    char decoded_as[16];
};

struct sa_mime_msg {
    struct sa_mime_field *fields; /* the top-level entity's header fields, in order */
    size_t n_fields;
    /* Decoded top-level headers (malloc'd UTF-8, or NULL when absent): Subject and the
     * From display name with RFC 2047 encoded-words decoded; From's address lowercased;
     * Message-ID and In-Reply-To as "<id>" (the first msg-id of the field); References as
     * written, unfolded. */
    char *subject, *from_name, *from_addr, *message_id, *in_reply_to, *references;
    /* The top-level media type, lowercase ("multipart/report"), and its report-type
     * parameter (lowercase, "" when none). */
    char content_type[96];
    char report_type[48];
    /* The message's text (malloc'd, NUL-terminated UTF-8 with "\n" line breaks, or NULL
     * when it has none): the first inline text/plain entity outside attached messages,
     * else the first text/html one turned into text (text_from_html). */
    char *text;
    bool text_from_html;
    struct sa_mime_charset_note text_charset; /* text's, when decoded in another charset */
    /* A delivery report's parts (malloc'd, or NULL): the message/delivery-status entity
     * (RFC 3464 fields, US-ASCII) and the Message-ID of the returned original (from its
     * message/rfc822 or text/rfc822-headers entity, "<id>"). */
    char *delivery_status;
    char *original_message_id;
    /* The first text/calendar entity (else application/ics) outside attached messages,
     * inline or attached, decoded to UTF-8 (malloc'd, or NULL): a calendar client's
     * answer to an invite (METHOD:REPLY) rides in it. */
    char *calendar;
    size_t parts; /* entities read, the top one included */
};

/* Parses raw[0..len) (CRLF or LF line endings; a leading mbox "From " line is skipped)
 * into *m, which the caller clears with sa_mime_clear (also after a failure). Text parts
 * are decoded (quoted-printable, base64) and converted from their charset to UTF-8
 * (base/charset.h); a byte that is invalid in its charset is an error, never replaced,
 * except in a body text part labelled utf-8 or us-ascii (or not labelled): older Outlook and
 * Exchange send windows-1252 under those labels, so such a part is decoded as utf-8, then
 * windows-1252, whichever decodes every byte, and m->text_charset says so. Bytes that fit
 * neither are still an error.
 * Returns 0; SA_EINVAL for a message that cannot be read (err says what and where: a
 * header line that is no field, a bad encoding, an unknown charset, a multipart without
 * its boundary, no From address); SA_ETOOBIG past a cap; SA_ENOMEM. */
int sa_mime_parse(const char *raw, size_t len, struct sa_mime_msg *m, struct sa_err *err) SA_WUR;
void sa_mime_clear(struct sa_mime_msg *m);

/* The unfolded value of m's first top-level field called name (ASCII case ignored), or
 * NULL. Borrowed from m. */
const char *sa_mime_field(const struct sa_mime_msg *m, const char *name);

/* Decodes RFC 2047 encoded-words in a header value (whitespace between two adjacent
 * encoded-words dropped) into *out (malloc'd UTF-8). Text outside encoded-words must be
 * UTF-8 (ASCII, or raw UTF-8 as RFC 6532 allows). Returns 0, SA_EINVAL (err says which
 * word or byte), SA_ENOMEM. */
int sa_mime_decode_header(const char *in, size_t len, char **out, struct sa_err *err) SA_WUR;

/* Turns HTML into plain text: tags dropped, block ends as line breaks, <blockquote>
 * content as "> " lines (quoted history), <script>/<style>/<head> dropped, entities
 * decoded, runs of blank lines collapsed. Returns a malloc'd string, or NULL when out of
 * memory. */
char *sa_mime_html_to_text(const char *html, size_t len);

#endif
