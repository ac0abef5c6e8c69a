/* RFC 5322 / MIME rendering of outgoing mail (see message.h): validation of every header
 * input first, then one pass that writes headers, quoted-printable text and base64 parts. */
#include "connectors/mail/message.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/charset.h"

#define HDR_LINE 78       /* RFC 5322 2.1.1: header lines SHOULD stay within 78 */
#define BODY_LINE 76      /* RFC 2045 6.7 and 6.8: encoded lines MUST stay within 76 */
#define EW_MAX_B64 60     /* base64 characters per encoded-word: 12 + 60 <= 75 (RFC 2047 2) */
#define PLAIN_WORD_MAX 60 /* longer ASCII words are sent as encoded-words, which can split */
#define PLAIN_NAME_MAX 64 /* longest display name written as a plain or quoted phrase */
#define NAME_CAP 256
#define SUBJECT_CAP 2048
#define KEY_CAP 200
#define REPLY_CAP 400

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---- character classes --------------------------------------------------------------- */

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(unsigned char c)
{
    return is_alpha(c) || (c >= '0' && c <= '9');
}

/* RFC 5322 3.2.3 atext. */
static bool is_atext(unsigned char c)
{
    return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* RFC 5322 dot-atom-text: atext runs joined by single dots. */
static bool dot_atom(const char *s, size_t n)
{
    if (n == 0 || s[0] == '.' || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            if (s[i + 1] == '.')
                return false;
        } else if (!is_atext((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

/* Length of the UTF-8 character starting s[0] (n > 0 bytes available), or 0 when it is
 * malformed (sa_utf8_decode's rules). */
static size_t utf8_char(const unsigned char *s, size_t n)
{
    uint32_t cp;
    return sa_utf8_decode((const char *)s, n, &cp);
}

static bool utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t c = utf8_char(p + i, n - i);
        if (c == 0)
            return false;
        i += c;
    }
    return true;
}

/* ---- validation ---------------------------------------------------------------------- */

bool sa_mail_addr_valid(const char *addr)
{
    if (!addr)
        return false;
    size_t n = strlen(addr);
    const char *at = strchr(addr, '@');
    if (n > 254 || !at || at == addr || (size_t)(at - addr) > 64)
        return false;
    if (!dot_atom(addr, (size_t)(at - addr)))
        return false;
    /* The domain: LDH labels of 1..63, no hyphen at either end, two or more labels, an
     * all-letter top-level label of two or more. */
    size_t label = 0, labels = 0;
    bool tld_alpha = true;
    for (const char *p = at + 1;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '.' || c == '\0') {
            if (label == 0 || label > 63 || p[-1] == '-')
                return false;
            labels++;
            if (c == '\0')
                break;
            label = 0;
            tld_alpha = true;
            continue;
        }
        if (!is_alnum(c) && c != '-')
            return false;
        if (label == 0 && c == '-')
            return false;
        tld_alpha = tld_alpha && is_alpha(c);
        label++;
    }
    return labels >= 2 && tld_alpha && label >= 2;
}

/* A header input: no CR or LF (that is how a header is injected), no other control
 * character but TAB, valid UTF-8, at most cap bytes. */
static int check_header(const char *field, const char *s, size_t cap, struct sa_err *err)
{
    if (strpbrk(s, "\r\n"))
        return sa_err_set(err, SA_EINVAL, "%s contains CR or LF", field);
    size_t n = strlen(s);
    if (n > cap)
        return sa_err_set(err, SA_ETOOBIG, "%s is longer than %zu bytes", field, cap);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7F)
            return sa_err_set(err, SA_EINVAL, "%s contains a control character", field);
    }
    if (!utf8_valid(s, n))
        return sa_err_set(err, SA_EINVAL, "%s is not valid UTF-8", field);
    return 0;
}

static int check_addr(const char *field, const char *addr, struct sa_err *err)
{
    if (!addr)
        return sa_err_set(err, SA_EINVAL, "%s is required", field);
    int rc = check_header(field, addr, 254, err);
    if (rc)
        return rc;
    if (!sa_mail_addr_valid(addr))
        return sa_err_set(err, SA_EINVAL, "%s is not a valid e-mail address", field);
    return 0;
}

/* The id inside an In-Reply-To value, without its optional angle brackets: printable
 * ASCII with an '@' inside, and nothing that could end the msg-id early. */
static int reply_id(const char *s, const char **id, size_t *n, struct sa_err *err)
{
    int rc = check_header("in_reply_to", s, REPLY_CAP, err);
    if (rc)
        return rc;
    size_t len = strlen(s);
    if (len >= 2 && s[0] == '<' && s[len - 1] == '>')
        s++, len -= 2;
    const char *at = memchr(s, '@', len);
    if (len == 0 || !at || at == s || at == s + len - 1)
        return sa_err_set(err, SA_EINVAL, "in_reply_to is not a Message-ID");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7F || c == '<' || c == '>' || c == '"' || c == '\\')
            return sa_err_set(err, SA_EINVAL, "in_reply_to is not a Message-ID");
    }
    *id = s;
    *n = len;
    return 0;
}

/* A URI written inside <...> of List-Unsubscribe: printable ASCII with no space, angle
 * bracket, comma or quote (RFC 2369 2: such characters would end the URI early). */
static int check_uri(const char *field, const char *s, struct sa_err *err)
{
    size_t n = strlen(s);
    if (n == 0 || n > REPLY_CAP)
        return sa_err_set(err, SA_EINVAL, "%s should be 1 to %d characters", field, REPLY_CAP);
    if (strncmp(s, "mailto:", 7) != 0 && strncmp(s, "https://", 8) != 0 &&
        strncmp(s, "http://", 7) != 0)
        return sa_err_set(err, SA_EINVAL, "%s should be a mailto:, http:// or https:// URI",
                          field);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7F || strchr("<>,\"\\", c))
            return sa_err_set(err, SA_EINVAL, "%s has a character not allowed in a URI", field);
    }
    return 0;
}

static int check_body(const char *field, const char *s, struct sa_err *err)
{
    if (!utf8_valid(s, strlen(s)))
        return sa_err_set(err, SA_EINVAL, "%s is not valid UTF-8", field);
    return 0;
}

static int validate(const struct sa_mail *m, struct sa_err *err)
{
    if (!m)
        return sa_err_set(err, SA_EINVAL, "mail is NULL");
    if (!m->subject)
        return sa_err_set(err, SA_EINVAL, "subject is required");
    if (!m->text)
        return sa_err_set(err, SA_EINVAL, "text is required");
    int rc = check_addr("from_addr", m->from_addr, err);
    if (!rc)
        rc = check_addr("to_addr", m->to_addr, err);
    if (!rc && m->from_name)
        rc = check_header("from_name", m->from_name, NAME_CAP, err);
    if (!rc && m->to_name)
        rc = check_header("to_name", m->to_name, NAME_CAP, err);
    if (!rc)
        rc = check_header("subject", m->subject, SUBJECT_CAP, err);
    if (!rc)
        rc = check_body("text", m->text, err);
    if (!rc && m->ics)
        rc = check_body("ics", m->ics, err);
    if (!rc && m->unsubscribe_url)
        rc = check_uri("unsubscribe_url", m->unsubscribe_url, err);
    if (!rc && m->unsubscribe_mailto)
        rc = check_uri("unsubscribe_mailto", m->unsubscribe_mailto, err);
    if (!rc && m->sender_address)
        rc = check_header("sender_address", m->sender_address, NAME_CAP, err);
    return rc;
}

/* ---- output -------------------------------------------------------------------------- */

/* The message under construction. The first failed append is kept in rc and later
 * appends are skipped, so the writers need not check each call; render checks once. */
struct out {
    struct sa_buf b;
    int rc;
    size_t col; /* characters on the current line so far */
};

static void put(struct out *o, const char *p, size_t n)
{
    if (o->rc)
        return;
    o->rc = sa_buf_append(&o->b, p, n);
    if (o->rc)
        return;
    for (size_t i = 0; i < n; i++)
        o->col = p[i] == '\n' ? 0 : o->col + 1;
}

static void put_str(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* Folding whitespace: the rest of the header continues on the next line. */
static void fold(struct out *o)
{
    put(o, "\r\n ", 3);
}

/* Base64 of p[0..n) on the current line, without line breaks. */
static void put_b64(struct out *o, const unsigned char *p, size_t n)
{
    char q[4];
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        q[0] = b64_alphabet[(v >> 18) & 63];
        q[1] = b64_alphabet[(v >> 12) & 63];
        q[2] = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
        q[3] = i + 2 < n ? b64_alphabet[v & 63] : '=';
        put(o, q, sizeof q);
    }
}

/* Base64 body (RFC 2045 6.8): 57 bytes, so 76 characters, per line; lines are joined by
 * CRLF and the last one has none, because the CRLF before the next boundary delimiter
 * belongs to the delimiter. */
static void put_b64_lines(struct out *o, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i += 57) {
        if (i > 0)
            put(o, "\r\n", 2);
        put_b64(o, p + i, n - i < 57 ? n - i : 57);
    }
}

/* Writes s[0..n) (valid UTF-8) as =?UTF-8?B?...?= encoded-words separated by a space or a
 * fold. Each word stays within 75 characters and carries whole characters only (RFC 2047
 * 2 and 5), so a decoder never sees half a character; a word is sized to what is left of
 * the line, so no line passes 78. Whitespace between encoded-words is dropped when they are
 * decoded, so the split is invisible to the reader. */
static void put_encoded_words(struct out *o, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    bool need_sep = false;
    for (size_t i = 0; i < n;) {
        if (o->rc)
            return;
        size_t used = o->col + (need_sep ? 1 : 0) + 12; /* "=?UTF-8?B?" and "?=" */
        size_t room = used < HDR_LINE ? HDR_LINE - used : 0;
        size_t max = (room < EW_MAX_B64 ? room : EW_MAX_B64) / 4 * 3;
        size_t take = 0;
        while (i + take < n) {
            size_t c = utf8_char(p + i + take, n - i - take);
            SA_ASSERT(c > 0); /* validated before rendering */
            if (c == 0 || take + c > max)
                break;
            take += c;
        }
        if (take == 0) {
            SA_ASSERT(o->col > 1); /* a fresh continuation line has room for 45 bytes */
            fold(o);
            need_sep = false;
            continue;
        }
        if (need_sep)
            put(o, " ", 1);
        put(o, "=?UTF-8?B?", 10);
        put_b64(o, p + i, take);
        put(o, "?=", 2);
        i += take;
        need_sep = true;
    }
}

/* True when s can go into a header as it is: printable ASCII words of at most
 * PLAIN_WORD_MAX characters joined by single spaces, nothing that looks like the start of
 * an encoded-word. Anything else is sent as encoded-words. */
static bool plain_words(const char *s)
{
    size_t word = 0;
    if (s[0] == ' ' || strstr(s, "=?"))
        return false;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == ' ') {
            if (p[1] == ' ' || p[1] == '\0')
                return false;
            word = 0;
        } else if (c < 0x21 || c > 0x7E || ++word > PLAIN_WORD_MAX) {
            return false;
        }
    }
    return true;
}

/* Subject (RFC 5322 unstructured): plain words folded at spaces, else encoded-words. */
static void put_subject(struct out *o, const char *s)
{
    put_str(o, "Subject:");
    if (*s) {
        put(o, " ", 1);
        if (!plain_words(s)) {
            put_encoded_words(o, s, strlen(s));
        } else {
            for (bool first = true; *s; first = false) {
                size_t w = strcspn(s, " ");
                if (!first) {
                    if (o->col + 1 + w > HDR_LINE)
                        fold(o);
                    else
                        put(o, " ", 1);
                }
                put(o, s, w);
                s += w + (s[w] == ' ');
            }
        }
    }
    put(o, "\r\n", 2);
}

/* A display name (RFC 5322 phrase): atoms when every character is atext or a space, a
 * quoted-string when it is short printable ASCII with specials ('.', ',', '"', ...),
 * encoded-words otherwise. */
static void put_phrase(struct out *o, const char *s)
{
    size_t n = strlen(s);
    if (!plain_words(s) || n > PLAIN_NAME_MAX) {
        put_encoded_words(o, s, n);
        return;
    }
    bool atoms = true;
    for (size_t i = 0; i < n; i++)
        atoms = atoms && (s[i] == ' ' || is_atext((unsigned char)s[i]));
    if (atoms) {
        put(o, s, n);
        return;
    }
    put(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            put(o, "\\", 1);
        put(o, s + i, 1);
    }
    put(o, "\"", 1);
}

/* "From: name <addr>" or "From: addr"; the address moves to a continuation line when it
 * does not fit after the name. */
static void put_mailbox(struct out *o, const char *header, const char *name, const char *addr)
{
    put_str(o, header);
    put(o, ": ", 2);
    if (name && *name) {
        put_phrase(o, name);
        if (o->col + 1 + strlen(addr) + 2 > HDR_LINE)
            fold(o);
        else
            put(o, " ", 1);
        put(o, "<", 1);
        put_str(o, addr);
        put(o, ">", 1);
    } else {
        put_str(o, addr);
    }
    put(o, "\r\n", 2);
}

/* One token of quoted-printable for byte s[0] of a line with n bytes left (s[n-1] ends
 * the line), at the start of an encoded line or not; returns its length. Besides the rules
 * of RFC 2045 6.7 (no '=' or non-printable literal, no space or tab at the end of a line)
 * a '.' or the "F" of "From " that begins an encoded line is escaped, so relays that treat
 * a lone "." as the end of DATA or mbox writers that mangle "From " leave the text alone. */
static size_t qp_token(const unsigned char *s, size_t n, bool line_start, char tok[3])
{
    static const char hex[] = "0123456789ABCDEF";
    unsigned char c = s[0];
    bool lit = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && n > 1);
    if (line_start && (c == '.' || (c == 'F' && n >= 5 && memcmp(s, "From ", 5) == 0)))
        lit = false;
    if (lit) {
        tok[0] = (char)c;
        return 1;
    }
    tok[0] = '=';
    tok[1] = hex[c >> 4];
    tok[2] = hex[c & 15];
    return 3;
}

/* One line of text (without its line break) in quoted-printable, with soft line breaks
 * ("=" CRLF) keeping every encoded line within 76 characters: a token other than the
 * line's last must leave column 76 free for the '='. An escape is never split. */
static void put_qp_line(struct out *o, const char *line, size_t n)
{
    const unsigned char *s = (const unsigned char *)line;
    char tok[3];
    for (size_t i = 0; i < n; i++) {
        size_t w = qp_token(s + i, n - i, o->col == 0, tok);
        size_t limit = i + 1 == n ? BODY_LINE : BODY_LINE - 1;
        if (o->col + w > limit) {
            put(o, "=\r\n", 3);
            w = qp_token(s + i, n - i, true, tok);
        }
        put(o, tok, w);
    }
}

/* The text in quoted-printable; its line breaks ("\n" or "\r\n") become CRLF hard breaks,
 * and a lone CR is encoded as =0D. No CRLF is added after the last line. */
static void put_qp(struct out *o, const char *text)
{
    for (const char *p = text;;) {
        size_t n = strcspn(p, "\n");
        size_t end = n > 0 && p[n - 1] == '\r' ? n - 1 : n;
        put_qp_line(o, p, end);
        if (p[n] == '\0')
            return;
        put(o, "\r\n", 2);
        p += n + 1;
    }
}

/* The text part's body: quoted-printable ending with a line break, so the text reads the
 * same whether or not an invite follows it. */
static void put_text(struct out *o, const struct sa_mail *m)
{
    put_qp(o, m->text);
    if (o->col > 0)
        put(o, "\r\n", 2);
    if (!m->unsubscribe_url && !m->unsubscribe_mailto && !m->sender_address)
        return;
    /* the footer the law asks for (CAN-SPAM, the GDPR's right to object): how to stop
     * the mail, and who sends it */
    put_str(o, "\r\n--\r\n");
    if (m->unsubscribe_url) {
        put_qp(o, "To stop receiving these e-mails, unsubscribe here: ");
        put_qp(o, m->unsubscribe_url);
        put(o, "\r\n", 2);
    } else if (m->unsubscribe_mailto) {
        put_qp(o, "To stop receiving these e-mails, reply with \"unsubscribe\".");
        put(o, "\r\n", 2);
    }
    if (m->sender_address) {
        put_qp(o, m->sender_address);
        put(o, "\r\n", 2);
    }
}

/* RFC 5322 3.3 date-time in UTC, spelt out here so the locale cannot change it. */
static int format_date(time_t t, char *out, size_t cap, struct sa_err *err)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year < 0 || tm.tm_year > 9999 - 1900)
        return sa_err_set(err, SA_EINVAL, "date is outside the years 1900 to 9999");
    snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return 0;
}

/* The multipart boundary, derived from the message key so the same inputs render the same
 * bytes. It starts with "=_", which can occur neither in quoted-printable (where '=' is
 * followed by two hex digits or a line break) nor in base64 (where '=' is only trailing
 * padding): every part is one or the other, so no body can contain a delimiter whatever
 * the hash. FNV-1a only spreads keys so nested forwards of our mail differ. */
static void boundary_for(const char *key, char out[32])
{
    uint64_t h = 0xcbf29ce484222325u;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 0x100000001b3u;
    snprintf(out, 32, "=_sa_%016llx", (unsigned long long)h);
}

int sa_mail_message_id(const struct sa_mail *m, char *out, size_t cap, struct sa_err *err)
{
    if (cap)
        out[0] = '\0';
    if (!m)
        return sa_err_set(err, SA_EINVAL, "mail is NULL");
    int rc = check_addr("from_addr", m->from_addr, err);
    if (rc)
        return rc;
    if (!m->message_id_key)
        return sa_err_set(err, SA_EINVAL, "message_id_key is required");
    rc = check_header("message_id_key", m->message_id_key, KEY_CAP, err);
    if (rc)
        return rc;
    if (!dot_atom(m->message_id_key, strlen(m->message_id_key)))
        return sa_err_set(err, SA_EINVAL,
                          "message_id_key must be letters, digits, interior dots and "
                          "!#$%%&'*+-/=?^_`{|}~");
    const char *domain = strchr(m->from_addr, '@') + 1;
    int n = snprintf(out, cap, "<%s@%s>", m->message_id_key, domain);
    if (n < 0 || (size_t)n >= cap) {
        if (cap)
            out[0] = '\0';
        return sa_err_set(err, SA_EINVAL, "Message-ID does not fit in %zu bytes", cap);
    }
    return 0;
}

static void put_headers(struct out *o, const struct sa_mail *m, const char *date, const char *msgid,
                        const char *reply, size_t reply_len)
{
    put_str(o, "Date: ");
    put_str(o, date);
    put(o, "\r\n", 2);
    put_mailbox(o, "From", m->from_name, m->from_addr);
    put_mailbox(o, "To", m->to_name, m->to_addr);
    put_subject(o, m->subject);
    put_str(o, "Message-ID: ");
    put_str(o, msgid);
    put(o, "\r\n", 2);
    if (reply) {
        static const char *const names[] = {"In-Reply-To: <", "References: <"};
        for (size_t i = 0; i < 2; i++) {
            put_str(o, names[i]);
            put(o, reply, reply_len);
            put(o, ">\r\n", 3);
        }
    }
    if (m->unsubscribe_mailto || m->unsubscribe_url) {
        /* one URI per line: the URL with its token passes 78 columns on its own */
        put_str(o, "List-Unsubscribe: ");
        const char *uris[] = {m->unsubscribe_mailto, m->unsubscribe_url};
        bool first = true;
        for (size_t i = 0; i < 2; i++) {
            if (!uris[i])
                continue;
            put_str(o, first ? "<" : ",\r\n <");
            put_str(o, uris[i]);
            put_str(o, ">");
            first = false;
        }
        put(o, "\r\n", 2);
        if (m->unsubscribe_url)
            put_str(o, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
    }
    put_str(o, "MIME-Version: 1.0\r\n");
}

static void put_body(struct out *o, const struct sa_mail *m)
{
    static const char text_headers[] = "Content-Type: text/plain; charset=UTF-8\r\n"
                                       "Content-Transfer-Encoding: quoted-printable\r\n";
    if (!m->ics || !*m->ics) {
        put_str(o, text_headers);
        put(o, "\r\n", 2);
        put_text(o, m);
        return;
    }
    /* mixed: [alternative: text, inline text/calendar (clients show Accept/Decline)],
     * and the same invite as an attachment for clients that only offer files. The inner
     * boundary differs from the outer one in its prefix ("=_sb_"), so neither delimiter
     * is a prefix of the other. */
    char boundary[32], alt[32];
    boundary_for(m->message_id_key, boundary);
    snprintf(alt, sizeof alt, "=_sb_%s", boundary + 5);
    put_str(o, "Content-Type: multipart/mixed; boundary=\"");
    put_str(o, boundary);
    put_str(o, "\"\r\n\r\n--");
    put_str(o, boundary);
    put_str(o, "\r\nContent-Type: multipart/alternative; boundary=\"");
    put_str(o, alt);
    put_str(o, "\"\r\n\r\n--");
    put_str(o, alt);
    put(o, "\r\n", 2);
    put_str(o, text_headers);
    put(o, "\r\n", 2);
    put_text(o, m);
    put_str(o, "\r\n--");
    put_str(o, alt);
    /* the part's method MUST match the object's METHOD (RFC 6047 2.4): a cancellation is
     * read as one only when both say CANCEL */
    put_str(o, strstr(m->ics, "\nMETHOD:CANCEL\r") ? "\r\nContent-Type: text/calendar; "
                                                     "method=CANCEL; charset=UTF-8\r\n"
                                                   : "\r\nContent-Type: text/calendar; "
                                                     "method=REQUEST; charset=UTF-8\r\n");
    put_str(o, "Content-Transfer-Encoding: base64\r\n\r\n");
    put_b64_lines(o, m->ics);
    put_str(o, "\r\n--");
    put_str(o, alt);
    put_str(o, "--\r\n\r\n--");
    put_str(o, boundary);
    put_str(o, "\r\nContent-Type: application/ics; name=\"invite.ics\"\r\n"
               "Content-Disposition: attachment; filename=\"invite.ics\"\r\n"
               "Content-Transfer-Encoding: base64\r\n\r\n");
    put_b64_lines(o, m->ics);
    put_str(o, "\r\n--");
    put_str(o, boundary);
    put_str(o, "--\r\n");
}

int sa_mail_render(const struct sa_mail *m, char **out, size_t *len, struct sa_err *err)
{
    *out = NULL;
    if (len)
        *len = 0;
    int rc = validate(m, err);
    char msgid[SA_MAIL_MSGID_MAX], date[48];
    if (!rc)
        rc = sa_mail_message_id(m, msgid, sizeof msgid, err);
    if (!rc)
        rc = format_date(m->date, date, sizeof date, err);
    const char *reply = NULL;
    size_t reply_len = 0;
    if (!rc && m->in_reply_to && *m->in_reply_to)
        rc = reply_id(m->in_reply_to, &reply, &reply_len, err);
    if (rc)
        return rc;

    struct out o = {.rc = 0};
    sa_buf_init(&o.b, SA_MAIL_MAX_BYTES);
    put_headers(&o, m, date, msgid, reply, reply_len);
    put_body(&o, m);
    if (o.rc) {
        sa_buf_free(&o.b);
        if (o.rc == SA_ETOOBIG)
            return sa_err_set(err, SA_ETOOBIG, "message is larger than %zu bytes",
                              (size_t)SA_MAIL_MAX_BYTES);
        return sa_err_set(err, o.rc, "cannot render message: %s", sa_strerror(o.rc));
    }
    size_t n = 0;
    char *s = sa_buf_steal(&o.b, &n);
    if (!s)
        return sa_err_set(err, SA_ENOMEM, "out of memory rendering a message");
    *out = s;
    if (len)
        *len = n;
    return 0;
}
