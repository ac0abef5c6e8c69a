/* Classifying incoming mail (see bounce.h): RFC 3464 reports read field by field, the
 * non-standard reports by their wording, status codes and the first address they name,
 * automatic replies by their headers, subjects and text. */
#include "connectors/mail/bounce.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/fold.h"
#include "connectors/mail/mime.h"
#include "domain/reply.h"

const char *sa_inbound_kind_name(enum sa_inbound_kind k)
{
    return k == SA_INBOUND_BOUNCE ? "bounce" : k == SA_INBOUND_AUTO_REPLY ? "auto_reply" : "reply";
}

/* s folded (lowercase, no diacritics, line breaks as spaces), malloc'd; NULL for NULL. */
static char *folded(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *f = malloc(n + 1);
    if (f)
        sa_fold(s, n, f);
    return f;
}

static bool has_any(const char *hay, const char *const *needles)
{
    for (size_t i = 0; hay && needles[i]; i++)
        if (strstr(hay, needles[i]))
            return true;
    return false;
}

static void copy_trim(char *out, size_t cap, const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

/* Runs of spaces and tabs (a folded field's) as one space. */
static void squeeze(char *s)
{
    char *o = s;
    for (const char *p = s; *p; p++)
        if (!((*p == ' ' || *p == '\t') && o > s && o[-1] == ' '))
            *o++ = *p == '\t' ? ' ' : *p;
    *o = '\0';
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* ---- what a failure says about the address --------------------------------------------- */

/* Words of a refusal about the message or its sender, not the address (folded). */
/* clang-format off */
static const char *const refusal_words[] = {
    "spam", "blocked", "blocklist", "blacklist", "block list", "spamhaus", "dmarc", "spf",
    "dkim", "unauthenticated", "reputation", "rate limit", "too many", "over quota",
    "quota exceeded", "mailbox full", "mailbox is full", "message too large", "size limit",
    "exceeds the maximum", "policy", "rejected due to content", NULL};
/* clang-format on */
/* Words saying the address itself does not take mail (folded). */
/* clang-format off */
static const char *const address_words[] = {
    "user unknown", "unknown user", "does not exist", "doesn't exist", "no such user",
    "mailbox unavailable", "recipient not found", "recipientnotfound", "address not found",
    "mailbox not found", "invalid recipient", "account has been disabled", "account disabled",
    NULL};
/* clang-format on */

/* Whether a permanent failure with status (a 5.x.x code, or "" when none is given) and the
 * server's words (folded) is the address's: unknown, disabled, a domain that takes no mail.
 * A refusal of the message or its sender says nothing about the address: a policy or
 * security reason (5.7.x: spam, a block list, DMARC, SPF, DKIM), a full mailbox (5.2.2), a
 * message too long (5.2.3, 5.3.4), its content (5.6.x), or such words without a code. Making
 * that contact do-not-contact would lose a valid address for good, the whole list's at once
 * when our own authentication broke. */
static bool address_failure(const char *status, const char *words)
{
    if (status[0] == '4')
        return false;
    /* status is "C.S.D" (read_dsn and status_code keep only such codes) or "" */
    long subject = 0, detail = 0;
    if (status[0] && status[1] == '.') {
        char *end = NULL;
        subject = strtol(status + 2, &end, 10);
        if (end && *end == '.')
            detail = strtol(end + 1, NULL, 10);
    }
    bool refusal = subject == 7 || subject == 3 || subject == 6 ||
                   (subject == 2 && (detail == 2 || detail == 3)) || has_any(words, refusal_words);
    return !refusal || has_any(words, address_words);
}

/* ---- RFC 3464 ------------------------------------------------------------------------- */

/* One recipient block's fields of interest. */
struct rcpt {
    char addr[256], action[16], status[16], diag[256];
    bool original; /* addr is the Original-Recipient */
};

/* The value of a "Name: value" line (unfolded by the caller) when it is field name. */
static const char *field_value(const char *line, size_t len, const char *name, size_t *vl)
{
    size_t n = strlen(name);
    if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return NULL;
    const char *v = line + n + 1;
    *vl = len - n - 1;
    return v;
}

/* "rfc822; bob@example.com" -> "bob@example.com" */
static void typed_address(const char *v, size_t vl, char *out, size_t cap)
{
    const char *semi = memchr(v, ';', vl);
    if (semi) {
        vl -= (size_t)(semi + 1 - v);
        v = semi + 1;
    }
    copy_trim(out, cap, v, vl);
    size_t n = strlen(out);
    if (n >= 2 && out[0] == '<' && out[n - 1] == '>') {
        memmove(out, out + 1, n - 2);
        out[n - 2] = '\0';
    }
    lower(out);
}

/* Reads the per-recipient blocks of a message/delivery-status body and picks the one to
 * act on: the first failed, else the first delayed, else the first. */
static bool read_dsn(const char *ds, struct sa_bounce *b)
{
    struct rcpt best = {0}, cur = {0};
    int best_rank = -1;
    const char *p = ds;
    bool any = false;
    for (;;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        /* unfold: continuation lines are read with their field */
        char line[1024];
        size_t ll = len < sizeof line - 1 ? len : sizeof line - 1;
        memcpy(line, p, ll);
        const char *q = nl ? nl + 1 : NULL;
        while (q && (*q == ' ' || *q == '\t')) {
            const char *qn = strchr(q, '\n');
            size_t ql = qn ? (size_t)(qn - q) : strlen(q);
            if (ll + ql < sizeof line - 1) {
                memcpy(line + ll, q, ql);
                ll += ql;
            }
            q = qn ? qn + 1 : NULL;
        }
        line[ll] = '\0';
        bool blank = ll == 0 || strspn(line, " \t\r") == ll;
        size_t vl;
        const char *v;
        /* the address we wrote to (Original-Recipient) over the one a forward led to
         * (Final-Recipient): ours is the one that does not take mail */
        if ((v = field_value(line, ll, "Original-Recipient", &vl))) {
            typed_address(v, vl, cur.addr, sizeof cur.addr);
            cur.original = cur.addr[0] != '\0';
        } else if ((v = field_value(line, ll, "Final-Recipient", &vl)) && !cur.original)
            typed_address(v, vl, cur.addr, sizeof cur.addr);
        else if ((v = field_value(line, ll, "Action", &vl))) {
            copy_trim(cur.action, sizeof cur.action, v, vl);
            lower(cur.action);
        } else if ((v = field_value(line, ll, "Status", &vl))) {
            v += strspn(v, " \t");
            copy_trim(cur.status, sizeof cur.status, v, strcspn(v, " \t(\r"));
        } else if ((v = field_value(line, ll, "Diagnostic-Code", &vl))) {
            const char *semi = memchr(v, ';', vl);
            if (semi) {
                vl -= (size_t)(semi + 1 - v);
                v = semi + 1;
            }
            copy_trim(cur.diag, sizeof cur.diag, v, vl);
            squeeze(cur.diag);
        }
        if (blank || !q) {
            if (cur.addr[0] || cur.action[0]) {
                int rank = strcmp(cur.action, "failed") == 0    ? 3
                           : strcmp(cur.action, "delayed") == 0 ? 2
                                                                : 1;
                any = true;
                if (rank > best_rank) {
                    best = cur;
                    best_rank = rank;
                }
            }
            memset(&cur, 0, sizeof cur);
        }
        if (!q)
            break;
        p = q;
    }
    if (!any)
        return false;
    snprintf(b->recipient, sizeof b->recipient, "%s", best.addr);
    snprintf(b->action, sizeof b->action, "%s", best.action[0] ? best.action : "failed");
    snprintf(b->status, sizeof b->status, "%s", best.status);
    snprintf(b->diagnostic, sizeof b->diagnostic, "%s", best.diag);
    char *words = malloc(strlen(b->diagnostic) + 1);
    if (words)
        sa_fold(b->diagnostic, strlen(b->diagnostic), words);
    b->hard = strcmp(b->action, "failed") == 0 && address_failure(b->status, words ? words : "");
    free(words);
    return true;
}

/* ---- non-standard reports ---------------------------------------------------------------- */

static const char *const daemon_locals[] = {"mailer-daemon", "postmaster", "mail-daemon",
                                            "maildelivery", NULL};

static bool from_daemon(const char *addr)
{
    for (size_t i = 0; addr && daemon_locals[i]; i++) {
        size_t n = strlen(daemon_locals[i]);
        if (strncmp(addr, daemon_locals[i], n) == 0 && addr[n] == '@')
            return true;
    }
    return false;
}

/* Subjects of delivery reports (folded). */
static const char *const report_subjects[] = {"undelivered mail returned to sender",
                                              "undeliverable",
                                              "undelivered mail",
                                              "delivery status notification",
                                              "mail delivery failed",
                                              "returned mail",
                                              "delivery failure",
                                              "failure notice",
                                              "delivery has failed",
                                              "message not delivered",
                                              "address not found",
                                              "unzustellbar",
                                              "nicht zustellbar",
                                              "non remis",
                                              "non distribuable",
                                              "mail delivery subsystem",
                                              "warning: could not send message",
                                              "delayed mail",
                                              NULL};
static const char *const permanent_words[] = {"user unknown",        "unknown user",
                                              "does not exist",      "doesn't exist",
                                              "address not found",   "couldn't be found",
                                              "could not be found",  "no such user",
                                              "mailbox unavailable", "recipient address rejected",
                                              "permanent",           "delivery has failed",
                                              "wasn't delivered",    "was not delivered",
                                              "undeliverable",       "unzustellbar",
                                              "existiert nicht",     "unbekannt",
                                              "recipient not found", "mailbox not found",
                                              "invalid recipient",   NULL};
static const char *const delay_words[] = {"delayed",
                                          "will retry",
                                          "will continue to try",
                                          "temporar",
                                          "has not yet been delivered",
                                          "not been delivered yet",
                                          "vorubergehend",
                                          NULL};

/* The first enhanced status code "C.S.D" in text with class 4 or 5. */
static bool status_code(const char *text, char out[16], const char **where)
{
    for (const char *p = text; *p; p++) {
        if ((*p != '4' && *p != '5') || p[1] != '.' ||
            (p > text && isalnum((unsigned char)p[-1])) || (p > text && p[-1] == '.'))
            continue;
        const char *q = p + 2;
        size_t d1 = strspn(q, "0123456789");
        if (d1 < 1 || d1 > 3 || q[d1] != '.')
            continue;
        size_t d2 = strspn(q + d1 + 1, "0123456789");
        const char *e = q + d1 + 1 + d2;
        if (d2 < 1 || d2 > 3 || isalnum((unsigned char)*e) ||
            (*e == '.' && isdigit((unsigned char)e[1])))
            continue;
        snprintf(out, 16, "%.*s", (int)(e - p), p);
        *where = p;
        return true;
    }
    return false;
}

/* A basic SMTP reply code "550 " / "550-" / "452 " in text. */
static bool smtp_code(const char *text, char *cls, const char **where)
{
    for (const char *p = text; *p; p++) {
        if ((*p != '4' && *p != '5') || !isdigit((unsigned char)p[1]) ||
            !isdigit((unsigned char)p[2]) || (p[3] != ' ' && p[3] != '-') ||
            (p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '.')))
            continue;
        *cls = *p;
        *where = p;
        return true;
    }
    return false;
}

static bool addr_char(unsigned char c)
{
    return isalnum(c) || strchr(".!#$%&'*+/=?^_`{|}~-", c) != NULL;
}

/* The first e-mail address in text[0..len) other than skip and the daemons', lowercase. */
static bool first_address(const char *text, const char *skip, char *out, size_t cap)
{
    for (const char *at = strchr(text, '@'); at; at = strchr(at + 1, '@')) {
        const char *s = at;
        while (s > text && addr_char((unsigned char)s[-1]))
            s--;
        const char *e = at + 1;
        while (*e && (isalnum((unsigned char)*e) || *e == '-' || *e == '.'))
            e++;
        while (e > at + 1 && e[-1] == '.')
            e--;
        if (s == at || e == at + 1 || !memchr(at, '.', (size_t)(e - at)) || (size_t)(e - s) >= cap)
            continue;
        snprintf(out, cap, "%.*s", (int)(e - s), s);
        lower(out);
        if ((skip && strcmp(out, skip) == 0) || from_daemon(out))
            continue;
        return true;
    }
    out[0] = '\0';
    return false;
}

/* The text before the returned original ("----- Original message -----", Postfix's
 * "--- Below this line is a copy of the message."...), where the failed address is named. */
static size_t report_part(const char *text)
{
    static const char *const markers[] = {"Below this line is a copy of the message",
                                          "----- Original message -----",
                                          "-----Original Message-----",
                                          "Original message headers:",
                                          "------ This is a copy of the message",
                                          "----- The following addresses had",
                                          NULL};
    size_t n = strlen(text);
    for (size_t i = 0; markers[i]; i++) {
        const char *m = strstr(text, markers[i]);
        if (m && (size_t)(m - text) < n)
            n = (size_t)(m - text);
    }
    return n;
}

/* A non-standard report: from a mailer-daemon or with a report's subject, and its text
 * says the delivery failed (wording or a status code). */
static bool read_plain_report(const struct sa_mime_msg *m, struct sa_bounce *b)
{
    char *subj = folded(m->subject);
    bool daemon = from_daemon(m->from_addr);
    bool subject = has_any(subj, report_subjects);
    free(subj);
    if ((!daemon && !subject) || !m->text)
        return false;
    size_t n = report_part(m->text);
    char *head = malloc(n + 1);
    if (!head)
        return false;
    memcpy(head, m->text, n);
    head[n] = '\0';
    char *f = folded(head);
    bool perm = has_any(f, permanent_words), delay = has_any(f, delay_words);
    const char *where = NULL;
    char cls = 0;
    bool coded = status_code(head, b->status, &where);
    if (!coded && smtp_code(head, &cls, &where))
        snprintf(b->status, sizeof b->status, "%c.0.0", cls);
    if (!b->status[0] && !perm && !delay) {
        free(f);
        free(head);
        return false;
    }
    if (!b->status[0])
        snprintf(b->status, sizeof b->status, "%s", perm ? "5.0.0" : "4.0.0");
    b->hard = b->status[0] == '5' && address_failure(b->status, f);
    snprintf(b->action, sizeof b->action, "%s", b->status[0] == '5' ? "failed" : "delayed");
    if (where) { /* the server's answer: the line with the code */
        const char *ls = where;
        while (ls > head && ls[-1] != '\n')
            ls--;
        copy_trim(b->diagnostic, sizeof b->diagnostic, ls, strcspn(ls, "\n"));
    }
    first_address(head, m->from_addr, b->recipient, sizeof b->recipient);
    free(f);
    free(head);
    return true;
}

/* ---- automatic replies ---------------------------------------------------------------------- */

static bool auto_reply(const struct sa_mime_msg *m)
{
    const char *as = sa_mime_field(m, "Auto-Submitted");
    if (as && strncasecmp(as, "no", 2) != 0)
        return true;
    if (sa_mime_field(m, "X-Autoreply") || sa_mime_field(m, "X-Autorespond") ||
        sa_mime_field(m, "X-Autoresponder") || sa_mime_field(m, "X-AutoReply-From") ||
        sa_mime_field(m, "X-Mail-Autoreply") || sa_mime_field(m, "X-Autogenerated"))
        return true;
    /* Precedence (and X-Precedence): auto_reply, and bulk or junk, which ticket systems'
     * acknowledgements carry and a person's reply never does */
    const char *precs[] = {sa_mime_field(m, "Precedence"), sa_mime_field(m, "X-Precedence")};
    for (size_t i = 0; i < 2; i++)
        if (precs[i] &&
            (strncasecmp(precs[i], "auto_reply", 10) == 0 ||
             strncasecmp(precs[i], "bulk", 4) == 0 || strncasecmp(precs[i], "junk", 4) == 0))
            return true;
    static const char *const subjects[] = {"out of office",
                                           "out of the office",
                                           "automatic reply",
                                           "auto reply",
                                           "autoreply",
                                           "auto-reply",
                                           "auto response",
                                           "automatische antwort",
                                           "abwesenheitsnotiz",
                                           "abwesenheit",
                                           "reponse automatique",
                                           "absence du bureau",
                                           "respuesta automatica",
                                           "fuera de la oficina",
                                           "risposta automatica",
                                           "fuori sede",
                                           "afwezig",
                                           "automatisch antwoord",
                                           "resposta automatica",
                                           "odpowiedz automatyczna",
                                           "automatyczna odpowiedz",
                                           "automatiskt svar",
                                           "autosvar",
                                           "automatisk svar",
                                           "automaattinen vastaus",
                                           NULL};
    char *subj = folded(m->subject);
    bool hit = has_any(subj, subjects);
    free(subj);
    if (hit || !m->text)
        return hit;
    /* no header says so: the text's out-of-office lexicon (domain/reply.h) */
    size_t n = strlen(m->text);
    char *clean = malloc(n + 1), *norm = malloc(2 * n + 3);
    if (clean && norm) {
        sa_reply_clean(m->text, clean, n + 1);
        sa_reply_normalise(clean, norm);
        /* a person may write that they are away and still ask something ("I'm on vacation
         * until the 5th - could you send pricing?", "...please take me off your list"), or
         * answer under our quoted e-mail, or propose something ("back in the office
         * Monday, let's talk then"): a notice without the headers asks, proposes and quotes
         * nothing */
        hit = sa_reply_is_out_of_office(norm) && !strchr(clean, '?') &&
              !sa_reply_is_unsubscribe(norm) && !sa_reply_engages(norm) &&
              !sa_reply_quotes(m->text);
    }
    free(clean);
    free(norm);
    return hit;
}

bool sa_mail_is_read_receipt(const struct sa_mime_msg *m)
{
    return strcmp(m->content_type, "multipart/report") == 0 &&
           strcmp(m->report_type, "disposition-notification") == 0;
}

enum sa_inbound_kind sa_mail_classify(const struct sa_mime_msg *m, struct sa_bounce *b)
{
    memset(b, 0, sizeof *b);
    bool report = strcmp(m->content_type, "multipart/report") == 0 &&
                  strcmp(m->report_type, "delivery-status") == 0;
    if ((report || m->delivery_status) && m->delivery_status && read_dsn(m->delivery_status, b))
        return SA_INBOUND_BOUNCE;
    memset(b, 0, sizeof *b);
    if (read_plain_report(m, b))
        return SA_INBOUND_BOUNCE;
    memset(b, 0, sizeof *b);
    /* a read receipt (RFC 8098 disposition notification) is sent by software: not a reply */
    if (sa_mail_is_read_receipt(m))
        return SA_INBOUND_AUTO_REPLY;
    return auto_reply(m) ? SA_INBOUND_AUTO_REPLY : SA_INBOUND_REPLY;
}

size_t sa_mail_reply_text(const char *text, char *out, size_t cap)
{
    if (!cap)
        return 0;
    size_t n = strlen(text);
    char *first = malloc(n + 1);
    if (!first) {
        out[0] = '\0';
        return 0;
    }
    sa_reply_clean(text, first, n + 1);
    size_t len = sa_reply_clean(first, out, cap);
    free(first);
    return len;
}
