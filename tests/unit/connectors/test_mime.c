/* Pins the inbound mail reader on real-world shapes (tests/data/inbound/): headers
 * unfolded and RFC 2047-decoded, nested multiparts, quoted-printable and base64 in
 * UTF-8, ISO-8859-1 and US-ASCII, text/plain preferred over HTML, HTML turned into text;
 * undecodable bytes and broken structure refused with a message naming the problem; the
 * reply stripper on each provider's quoting; and the classification of replies,
 * automatic replies and bounces (RFC 3464 and the non-standard reports). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/charset.h"
#include "connectors/mail/bounce.h"
#include "connectors/mail/mime.h"

static char *slurp(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tests/data/inbound/%s", SA_SOURCE_DIR, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* Parses a fixture; the caller clears m. */
static void parse_file(const char *name, struct sa_mime_msg *m)
{
    size_t len;
    char *raw = slurp(name, &len);
    struct sa_err err = {0};
    int rc = sa_mime_parse(raw, len, m, &err);
    if (rc)
        fail_msg("%s: %s", name, err.msg);
    free(raw);
}

static void parse_str_fails(const char *raw, int want, const char *msg_part)
{
    struct sa_mime_msg m;
    struct sa_err err = {0};
    int rc = sa_mime_parse(raw, strlen(raw), &m, &err);
    assert_int_equal(rc, want);
    if (!strstr(err.msg, msg_part))
        fail_msg("error '%s' does not say '%s'", err.msg, msg_part);
    sa_mime_clear(&m);
}

static char *reply_of(const struct sa_mime_msg *m)
{
    static char out[8192];
    sa_mail_reply_text(m->text, out, sizeof out);
    return out;
}

/* ---- replies ------------------------------------------------------------------------ */

static void gmail_reply(void **state)
{
    (void)state;
    struct sa_mime_msg m;
    struct sa_bounce b;
    parse_file("gmail_reply_en.eml", &m);
    assert_string_equal(m.from_addr, "dana.whitfield@northwind-logistics.com");
    assert_string_equal(m.from_name, "Dana Whitfield");
    assert_string_equal(m.subject, "Re: Cutting dispatch time at Northwind");
    assert_string_equal(m.in_reply_to, "<01JE0000000000000000000001@sales.example.com>");
    assert_string_equal(m.message_id, "<CAJx9Lq+3gZk5v=Wq8uYfRr0b2cQ@mail.gmail.com>");
    assert_string_equal(m.content_type, "multipart/alternative");
    assert_false(m.text_from_html); /* text/plain chosen over the html alternative */
    assert_non_null(strstr(m.text, "team of 40 dispatchers?")); /* the soft break joined */
    assert_null(strstr(m.text, "\r"));
    assert_string_equal(reply_of(&m), "Hi Alex,\n\nThanks for reaching out. Could you send me "
                                      "pricing for a team of 40 dispatchers? We are reviewing "
                                      "tools for Q1.");
    assert_int_equal(sa_mail_classify(&m, &b), SA_INBOUND_REPLY);
    sa_mime_clear(&m);
}

static void outlook_reply_german(void **state)
{
    (void)state;
    struct sa_mime_msg m;
    struct sa_bounce b;
    parse_file("outlook_reply_de.eml", &m);
    assert_string_equal(m.from_name, "Jürgen Müller");
    assert_string_equal(m.from_addr, "j.mueller@brauerei-koenig.de");
    assert_string_equal(m.subject, "AW: Kürzere Lieferzeiten für die Brauerei König");
    assert_non_null(strstr(m.text, "nächste Woche eine Demo vereinbaren?"));
    const char *r = reply_of(&m);
    assert_non_null(strstr(r, "Dienstag oder Mittwoch wäre gut."));
    assert_null(strstr(r, "Gesendet"));            /* the Von:/Gesendet: block */
    assert_null(strstr(r, "Brauereien wie Ihre")); /* our own quoted e-mail */
    assert_null(strstr(r, "Leiter Logistik"));     /* the signature after the closing */
    assert_int_equal(sa_mail_classify(&m, &b), SA_INBOUND_REPLY);
    sa_mime_clear(&m);
}

static void latin1_quoted_printable(void **state)
{
    (void)state;
    struct sa_mime_msg m;
    parse_file("qp_latin1_reply.eml", &m);
    /* a quoted display name with an encoded-word inside, address lowercased */
    assert_string_equal(m.from_name, "Bernard, Chloé");
    assert_string_equal(m.from_addr, "chloe.bernard@atelier-lumiere.fr");
    assert_string_equal(m.subject, "Re\xC2\xA0: Proposition pour l'atelier");
    const char *r = reply_of(&m);
    assert_string_equal(r, "Bonjour Alex,\n\nMerci pour votre message. Le tarif m'intéresse, "
                           "mais pas avant février. Pouvez-vous me recontacter à ce moment-là ?");
    sa_mime_clear(&m);
}

static void html_only_base64(void **state)
{
    (void)state;
    struct sa_mime_msg m;
    struct sa_bounce b;
    parse_file("html_only_b64_utf8.eml", &m);
    assert_string_equal(m.from_name, "Søren Ødegård");
    assert_string_equal(m.subject, "Re: Kürzere Lieferzeiten");
    assert_true(m.text_from_html);
    assert_null(strstr(m.text, "margin")); /* <style> dropped */
    assert_null(strstr(m.text, "<"));
    assert_non_null(strstr(m.text, "gerne \xE2\x80\x94 schicken Sie mir bitte die Preise für 25 "
                                   "Nutzer. Größe des Teams: 25."));
    assert_non_null(strstr(m.text, "> Hallo Søren,")); /* blockquote as quoted lines */
    const char *r = reply_of(&m);
    assert_non_null(strstr(r, "Preise für 25 Nutzer"));
    assert_null(strstr(r, "Disposition"));
    assert_null(strstr(r, "Ødegård"));
    /* References is kept whole (folded over two lines) */
    assert_non_null(strstr(m.references, "<01JE0000000000000000000009@sales.example.com>"));
    assert_non_null(strstr(m.references, "<01JE0000000000000000000004@sales.example.com>"));
    assert_int_equal(sa_mail_classify(&m, &b), SA_INBOUND_REPLY);
    sa_mime_clear(&m);
}

static void unsubscribe_reply(void **state)
{
    (void)state;
    struct sa_mime_msg m;
    struct sa_bounce b;
    parse_file("unsubscribe_de.eml", &m);
    const char *r = reply_of(&m);
    assert_string_equal(r, "Bitte austragen. Ich möchte keine weiteren E-Mails erhalten.\n\n"
                           "T. Becker");
    assert_int_equal(sa_mail_classify(&m, &b), SA_INBOUND_REPLY);
    sa_mime_clear(&m);
}

/* ---- automatic replies -------------------------------------------------------------------- */

static void out_of_office(void **state)
{
    (void)state;
    struct sa_mime_msg m;
    struct sa_bounce b;
    parse_file("ooo_autoreply_de.eml", &m);
    assert_string_equal(m.subject, "Abwesenheitsnotiz: Kürzere Lieferzeiten bei Alpenmöbel");
    assert_int_equal(sa_mail_classify(&m, &b), SA_INBOUND_AUTO_REPLY);
    assert_string_equal(b.recipient, "");
    sa_mime_clear(&m);
    /* no Auto-Submitted: Outlook's "Automatic reply:" subject says it */
    parse_file("ooo_autoreply_en.eml", &m);
    assert_null(sa_mime_field(&m, "Auto-Submitted"));
    assert_int_equal(sa_mail_classify(&m, &b), SA_INBOUND_AUTO_REPLY);
    sa_mime_clear(&m);
}

/* A prospect's own legal footer ("To unsubscribe from our newsletter click here") and our
 * e-mail's closing line quoted under a Swedish Outlook header are not the reply's words. */
static void footers_not_reply(void **state)
{
    (void)state;
    struct sa_mime_msg m;
    struct sa_bounce b;
    parse_file("reply_legal_footer_en.eml", &m);
    const char *r = reply_of(&m);
    assert_non_null(strstr(r, "Can we do a demo next week?"));
    assert_non_null(strstr(r, "intended solely for the addressee. Ledgerwisp Ltd, registered"));
    assert_null(strstr(r, "nsubscribe"));
    assert_int_equal(sa_mail_classify(&m, &b), SA_INBOUND_REPLY);
    sa_mime_clear(&m);
    parse_file("outlook_reply_sv_quoted_footer.eml", &m);
    assert_string_equal(reply_of(&m), "Hi Alex, sounds good - can you send me a short deck?");
    sa_mime_clear(&m);
    /* Polish Outlook: "Od: / Wysłano: / Do: / Temat:" */
    parse_file("outlook_reply_pl_unsubscribe.eml", &m);
    assert_string_equal(reply_of(&m),
                        "Proszę o usunięcie mojego adresu z Państwa listy mailingowej. Nie chcę "
                        "otrzymywać więcej wiadomości.\n\nPozdrawiam\nHannah");
    assert_int_equal(sa_mail_classify(&m, &b), SA_INBOUND_REPLY);
    sa_mime_clear(&m);
}

/* Automatic replies in more languages and read receipts; a person who writes that they
 * are away but asks something, or asks to be removed, has replied. */
static void automatic_or_person(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        enum sa_inbound_kind kind;
    } cases[] = {
        {"ooo_plain_pl.eml", SA_INBOUND_AUTO_REPLY},   /* "jestem poza biurem do ..." */
        {"ooo_subject_pt.eml", SA_INBOUND_AUTO_REPLY}, /* "Resposta automática:" */
        {"read_receipt_outlook.eml", SA_INBOUND_AUTO_REPLY},
        {"reply_away_with_question_en.eml", SA_INBOUND_REPLY},
        {"reply_away_unsubscribe_de.eml", SA_INBOUND_REPLY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sa_mime_msg m;
        struct sa_bounce b;
        parse_file(cases[i].file, &m);
        enum sa_inbound_kind k = sa_mail_classify(&m, &b);
        if (k != cases[i].kind)
            fail_msg("%s: %s, expected %s", cases[i].file, sa_inbound_kind_name(k),
                     sa_inbound_kind_name(cases[i].kind));
        assert_int_equal(sa_mail_is_read_receipt(&m), i == 2);
        sa_mime_clear(&m);
    }
    /* a person who is back answers under our quoted e-mail; a notice quotes nothing */
    const char *back = "From: k@example.com\nSubject: Re: Pipewise\n\n"
                       "Thanks Alex, I'm back in the office on Monday, let's talk then.\n\n"
                       "On Mon, Nov 30, 2026 at 9:12 AM Alex <alex@pipewise.example> wrote:\n"
                       "> Hi Katrin,\n";
    struct sa_mime_msg bm;
    struct sa_bounce bb;
    struct sa_err berr = {0};
    assert_int_equal(sa_mime_parse(back, strlen(back), &bm, &berr), 0);
    assert_int_equal(sa_mail_classify(&bm, &bb), SA_INBOUND_REPLY);
    sa_mime_clear(&bm);
    /* ... or writes it without quoting us; a notice without headers is still one */
    static const struct {
        const char *body;
        enum sa_inbound_kind kind;
    } unquoted[] = {
        {"Back in the office Monday, let's talk then.\n", SA_INBOUND_REPLY},
        {"Bin ab Montag wieder im B\xc3\xbcro, lass uns dann sprechen.\n", SA_INBOUND_REPLY},
        {"I am out of the office until Monday 14 December with limited access to email.\n",
         SA_INBOUND_AUTO_REPLY},
    };
    for (size_t i = 0; i < sizeof unquoted / sizeof unquoted[0]; i++) {
        char raw[512];
        snprintf(raw, sizeof raw,
                 "From: k@example.com\nSubject: Re: Pipewise\n"
                 "Content-Type: text/plain; charset=utf-8\n\n%s",
                 unquoted[i].body);
        assert_int_equal(sa_mime_parse(raw, strlen(raw), &bm, &berr), 0);
        enum sa_inbound_kind k = sa_mail_classify(&bm, &bb);
        if (k != unquoted[i].kind)
            fail_msg("\"%s\": %s, expected %s", unquoted[i].body, sa_inbound_kind_name(k),
                     sa_inbound_kind_name(unquoted[i].kind));
        sa_mime_clear(&bm);
    }
    /* the headers ticket systems and other responders set */
    static const char *const headers[] = {"Precedence: bulk",
                                          "Precedence: junk",
                                          "X-Precedence: auto_reply",
                                          "X-Autogenerated: Reply",
                                          "X-AutoReply-From: k@example.com",
                                          "X-Mail-Autoreply: yes"};
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char raw[512];
        snprintf(raw, sizeof raw,
                 "From: k@example.com\nSubject: Re: Your request [#48213]\n%s\n\n"
                 "Thank you for contacting us. We will answer within two business days.\n",
                 headers[i]);
        struct sa_mime_msg m;
        struct sa_bounce b;
        struct sa_err err = {0};
        assert_int_equal(sa_mime_parse(raw, strlen(raw), &m, &err), 0);
        if (sa_mail_classify(&m, &b) != SA_INBOUND_AUTO_REPLY)
            fail_msg("%s: not an automatic reply", headers[i]);
        sa_mime_clear(&m);
    }
}

/* ---- bounces ------------------------------------------------------------------------------- */

static void postfix_dsn(void **state)
{
    (void)state;
    struct sa_mime_msg m;
    struct sa_bounce b;
    parse_file("postfix_dsn.eml", &m);
    assert_string_equal(m.from_addr, "mailer-daemon@mail.sales.example.com");
    assert_string_equal(m.content_type, "multipart/report");
    assert_string_equal(m.report_type, "delivery-status");
    assert_non_null(m.delivery_status);
    assert_string_equal(m.original_message_id, "<01JE0000000000000000000005@sales.example.com>");
    /* a DSN is auto-submitted too: the report wins */
    assert_int_equal(sa_mail_classify(&m, &b), SA_INBOUND_BOUNCE);
    assert_string_equal(b.recipient, "m.okafor@lagos-freight.example");
    assert_string_equal(b.action, "failed");
    assert_string_equal(b.status, "5.1.1");
    assert_true(b.hard);
    /* the folded Diagnostic-Code read whole */
    assert_non_null(strstr(b.diagnostic, "Recipient address rejected: User unknown"));
    sa_mime_clear(&m);
}

static void postfix_plain_text(void **state)
{
    (void)state;
    struct sa_mime_msg m;
    struct sa_bounce b;
    parse_file("postfix_plain_bounce.eml", &m);
    assert_int_equal(sa_mail_classify(&m, &b), SA_INBOUND_BOUNCE);
    assert_string_equal(b.recipient, "p.nowak@krakow-parts.example");
    assert_string_equal(b.status, "5.7.1");
    assert_true(b.hard);
    assert_non_null(strstr(b.diagnostic, "550 5.7.1 Mailbox unavailable"));
    /* no attached original: the returned copy's Message-ID is not read from the text */
    assert_null(m.original_message_id);
    sa_mime_clear(&m);
}

static void exchange_ndr(void **state)
{
    (void)state;
    struct sa_mime_msg m;
    struct sa_bounce b;
    parse_file("exchange_ndr.eml", &m);
    assert_string_equal(m.subject, "Undeliverable: Shorter lead times for Contoso Retail");
    assert_string_equal(m.original_message_id, "<01JE0000000000000000000007@sales.example.com>");
    assert_int_equal(sa_mail_classify(&m, &b), SA_INBOUND_BOUNCE);
    assert_string_equal(b.recipient, "h.schmidt@contoso-retail.example");
    assert_string_equal(b.status, "5.1.10");
    assert_true(b.hard);
    sa_mime_clear(&m);
}

static void gmail_bounce(void **state)
{
    (void)state;
    struct sa_mime_msg m;
    struct sa_bounce b;
    parse_file("gmail_bounce.eml", &m);
    /* the text is the nested multipart/related > alternative's plain part */
    assert_non_null(strstr(m.text, "** Address not found **"));
    assert_false(m.text_from_html);
    assert_string_equal(m.original_message_id, "<01JE0000000000000000000008@sales.example.com>");
    assert_int_equal(sa_mail_classify(&m, &b), SA_INBOUND_BOUNCE);
    assert_string_equal(b.recipient, "t.yamada@osaka-denki.example");
    assert_string_equal(b.status, "5.1.1");
    assert_true(b.hard);
    sa_mime_clear(&m);
}

static void soft_bounce(void **state)
{
    (void)state;
    struct sa_mime_msg m;
    struct sa_bounce b;
    parse_file("soft_bounce_delayed.eml", &m);
    assert_int_equal(sa_mail_classify(&m, &b), SA_INBOUND_BOUNCE);
    assert_string_equal(b.recipient, "ines.duarte@porto-vinhos.example");
    assert_string_equal(b.action, "delayed");
    assert_string_equal(b.status, "4.2.2");
    assert_false(b.hard);
    sa_mime_clear(&m);
}

/* A permanent refusal of the message or its sender (our DMARC failing, a block list, a full
 * mailbox, the size) is not the address's failure: hard is false, the action stays failed;
 * an unknown user is, whatever the code's subject. */
static void refusals_are_not_address_failures(void **state)
{
    (void)state;
    static const struct {
        const char *status, *diagnostic;
        bool hard;
    } cases[] = {
        {"5.7.26",
         "550-5.7.26 This mail is unauthenticated, which poses a security risk to the "
         "sender and Gmail users, and has been blocked.",
         false},
        {"5.7.1",
         "550 5.7.1 Service unavailable; Client host [203.0.113.9] blocked using "
         "Spamhaus",
         false},
        {"5.2.2", "552 5.2.2 The email account that you tried to reach is over quota.", false},
        {"5.3.4", "552 5.3.4 Message size exceeds fixed limit", false},
        {"5.0.0", "550 Message rejected as spam by Content Filtering.", false},
        {"5.7.1", "550 5.7.1 <k@example.com>: Recipient address rejected: User unknown", true},
        {"5.1.1", "550 5.1.1 <k@example.com>: Recipient address rejected: User unknown", true},
        {"5.4.1", "550 5.4.1 Recipient address rejected: Access denied.", true},
        {"5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char raw[1024];
        snprintf(raw, sizeof raw,
                 "From: MAILER-DAEMON@mx.example.com\nSubject: Undelivered Mail\n"
                 "Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n"
                 "--b\nContent-Type: text/plain\n\nNot delivered.\n--b\n"
                 "Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n\n"
                 "Final-Recipient: rfc822; k@example.com\nAction: failed\nStatus: %s\n"
                 "Diagnostic-Code: smtp; %s\n\n--b--\n",
                 cases[i].status, cases[i].diagnostic);
        struct sa_mime_msg m;
        struct sa_bounce b;
        struct sa_err err = {0};
        assert_int_equal(sa_mime_parse(raw, strlen(raw), &m, &err), 0);
        assert_int_equal(sa_mail_classify(&m, &b), SA_INBOUND_BOUNCE);
        assert_string_equal(b.action, "failed");
        assert_string_equal(b.status, cases[i].status);
        if (b.hard != cases[i].hard)
            fail_msg("%s %s: hard %d", cases[i].status, cases[i].diagnostic, b.hard);
        sa_mime_clear(&m);
    }
    /* a forward that bounced: the address we wrote to (Original-Recipient) is the one acted
     * on, in either order */
    const char *orders[] = {"Original-Recipient: rfc822;Maya@Quorvianta.io\n"
                            "Final-Recipient: rfc822; maya.okafor.private@gmail.example\n",
                            "Final-Recipient: rfc822; maya.okafor.private@gmail.example\n"
                            "Original-Recipient: rfc822;maya@quorvianta.io\n"};
    for (size_t i = 0; i < 2; i++) {
        char raw[1024];
        snprintf(raw, sizeof raw,
                 "From: MAILER-DAEMON@mx.example.com\nSubject: Undelivered Mail\n"
                 "Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n"
                 "--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x\n\n%s"
                 "Action: failed\nStatus: 5.1.1\n\n--b--\n",
                 orders[i]);
        struct sa_mime_msg m;
        struct sa_bounce b;
        struct sa_err err = {0};
        assert_int_equal(sa_mime_parse(raw, strlen(raw), &m, &err), 0);
        assert_int_equal(sa_mail_classify(&m, &b), SA_INBOUND_BOUNCE);
        assert_string_equal(b.recipient, "maya@quorvianta.io");
        assert_true(b.hard);
        sa_mime_clear(&m);
    }
    /* the non-standard reports alike */
    const char *plain = "From: MAILER-DAEMON@mx.example.com\nSubject: Undelivered Mail Returned to "
                        "Sender\n\n<k@example.com>: host mx.example.com said: 550 5.7.1 "
                        "Message rejected due to DMARC policy\n";
    struct sa_mime_msg m;
    struct sa_bounce b;
    struct sa_err err = {0};
    assert_int_equal(sa_mime_parse(plain, strlen(plain), &m, &err), 0);
    assert_int_equal(sa_mail_classify(&m, &b), SA_INBOUND_BOUNCE);
    assert_string_equal(b.recipient, "k@example.com");
    assert_string_equal(b.action, "failed");
    assert_false(b.hard);
    sa_mime_clear(&m);
}

/* A report naming two recipients: the failed one is the one acted on. */
static void dsn_picks_failed_recipient(void **state)
{
    (void)state;
    const char *raw = "From: MAILER-DAEMON@mx.example.org\r\n"
                      "Subject: Delivery Status Notification\r\n"
                      "Content-Type: multipart/report; report-type=\"delivery-status\"; "
                      "boundary=XX\r\n\r\n"
                      "--XX\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n"
                      "--XX\r\nContent-Type: message/delivery-status\r\n\r\n"
                      "Reporting-MTA: dns; mx.example.org\r\n\r\n"
                      "Final-Recipient: rfc822; ok@example.net\r\nAction: delivered\r\n"
                      "Status: 2.0.0\r\n\r\n"
                      "Final-Recipient: rfc822;<Gone@Example.NET>\r\nAction: failed\r\n"
                      "Status: 5.2.1 (mailbox disabled)\r\n\r\n"
                      "--XX--\r\n";
    struct sa_mime_msg m;
    struct sa_err err = {0};
    assert_int_equal(sa_mime_parse(raw, strlen(raw), &m, &err), 0);
    struct sa_bounce b;
    assert_int_equal(sa_mail_classify(&m, &b), SA_INBOUND_BOUNCE);
    assert_string_equal(b.recipient, "gone@example.net");
    assert_string_equal(b.status, "5.2.1");
    assert_true(b.hard);
    sa_mime_clear(&m);
}

/* A mailer-daemon's message that reports no failure is not taken for a bounce. */
static void daemon_without_failure_is_no_bounce(void **state)
{
    (void)state;
    const char *raw = "From: MAILER-DAEMON@mx.example.org\nSubject: Your quota\n\n"
                      "Your mailbox is 80% full.\n";
    struct sa_mime_msg m;
    struct sa_err err = {0};
    assert_int_equal(sa_mime_parse(raw, strlen(raw), &m, &err), 0);
    struct sa_bounce b;
    assert_int_equal(sa_mail_classify(&m, &b), SA_INBOUND_REPLY);
    sa_mime_clear(&m);
}

/* ---- headers --------------------------------------------------------------------------------- */

static void encoded_words(void **state)
{
    (void)state;
    struct sa_err err = {0};
    char *out = NULL;
    /* a UTF-8 character split over two adjacent words; the space between them dropped */
    const char *split = "=?UTF-8?B?S8O8cnplcmUg?= =?UTF-8?Q?Lieferzeiten_f=C3?=\r\n "
                        "=?UTF-8?Q?=BCr_Sie?= (plain)";
    assert_int_equal(sa_mime_decode_header(split, strlen(split), &out, &err), 0);
    assert_string_equal(out, "Kürzere Lieferzeiten für Sie (plain)");
    free(out);
    /* text between words stays; an unfinished word is literal text */
    const char *mixed = "Re: =?iso-8859-15?q?=A4_100?= offer =?utf-8?q?broken";
    assert_int_equal(sa_mime_decode_header(mixed, strlen(mixed), &out, &err), 0);
    assert_string_equal(out, "Re: \xE2\x82\xAC 100 offer =?utf-8?q?broken");
    free(out);
    /* an unknown charset and bytes invalid in theirs are errors, never '?' */
    const char *unknown = "=?x-klingon?Q?abc?=";
    assert_int_equal(sa_mime_decode_header(unknown, strlen(unknown), &out, &err), SA_EINVAL);
    assert_non_null(strstr(err.msg, "x-klingon"));
    const char *bad = "=?utf-8?Q?caf=E9?=";
    assert_int_equal(sa_mime_decode_header(bad, strlen(bad), &out, &err), SA_EINVAL);
    assert_non_null(strstr(err.msg, "0xE9"));
    const char *raw8 = "caf\xE9";
    assert_int_equal(sa_mime_decode_header(raw8, strlen(raw8), &out, &err), SA_EINVAL);
}

/* Charsets of received mail beyond Western Europe: a KOI8-R encoded-word, an ISO-2022-JP
 * body (escape sequences), an ISO-8859-2 body. */
static void other_charsets(void **state)
{
    (void)state;
    const char *raw = "From: =?koi8-r?B?8NLJ18XU?= <ivan@example.ru>\n"
                      "Subject: =?iso-8859-2?Q?Cze=B6=E6?=\n"
                      "Content-Type: text/plain; charset=ISO-2022-JP\n\n"
                      "\x1B\x24\x42\x24\x33\x24\x73\x24\x4B\x24\x41\x24\x4F\x1B\x28\x42\n";
    struct sa_mime_msg m;
    struct sa_err err = {0};
    assert_int_equal(sa_mime_parse(raw, strlen(raw), &m, &err), 0);
    assert_string_equal(m.from_name, "Привет");
    assert_string_equal(m.subject, "Cześć");
    assert_string_equal(m.text, "こんにちは\n");
    sa_mime_clear(&m);
    /* mail's charsets are not the CSV import's */
    assert_true(sa_charset_known_mail("KOI8-R"));
    assert_false(sa_charset_known("koi8-r"));
    assert_true(sa_charset_known("latin1"));
    /* the names clients write for them: IANA aliases and common spellings */
    static const struct {
        const char *charset, *bytes, *text;
    } aliases[] = {
        {"utf8", "Caf\xc3\xa9", "Café"},          {"iso8859-1", "Caf\xe9", "Café"},
        {"ISO_8859-1:1987", "Caf\xe9", "Café"},   {"l1", "Caf\xe9", "Café"},
        {"cp1250", "Cze\x9c\xe6", "Cześć"},       {"Windows_1252", "\x93ok\x94", "\u201cok\u201d"},
        {"ks_c_5601-1987", "\xb0\xa1", "\uac00"}, {"x-sjis", "\x82\xa0", "\u3042"},
        {"ANSI_X3.4-1968", "plain", "plain"},
    };
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "From: a@example.com\nContent-Type: text/plain; charset=\"%s\"\n\n%s",
                 aliases[i].charset, aliases[i].bytes);
        if (sa_mime_parse(msg, strlen(msg), &m, &err) != 0)
            fail_msg("charset %s: %s", aliases[i].charset, err.msg);
        assert_string_equal(m.text, aliases[i].text);
        sa_mime_clear(&m);
    }
    parse_str_fails("From: a@example.com\nContent-Type: text/plain; charset=x-unknown\n\nhi",
                    SA_EINVAL, "unsupported charset 'x-unknown'");
    /* a byte Shift_JIS leaves undefined is refused */
    parse_str_fails("From: a@example.jp\nContent-Type: text/plain; charset=shift_jis\n\n\x81\x20\n",
                    SA_EINVAL, "not valid shift_jis");
}

static void html_to_text(void **state)
{
    (void)state;
    const char *h = "<p>Fish &amp; chips&nbsp;for&#160;&#x34;&#50;</p><!-- x --><script>var a "
                    "= '<p>';</script><ul><li>one</li><li>two</li></ul>caf&eacute; &bogus; "
                    "<blockquote>quoted<br>lines</blockquote>after";
    char *t = sa_mime_html_to_text(h, strlen(h));
    assert_string_equal(t, "Fish & chips for 42\n\none\n\ntwo\n\ncafé &bogus;\n> quoted\n> lines\n"
                           "after");
    free(t);
}

/* A part labelled utf-8 or us-ascii (or not labelled) whose bytes are windows-1252, as older
 * Outlook and Exchange send, is decoded as windows-1252 (a us-ascii label on UTF-8 bytes
 * as utf-8), and the message says so; a correct label leaves no note. */
static void mislabelled_charsets(void **state)
{
    (void)state;
    static const struct {
        const char *raw, *text, *declared, *decoded_as;
    } cases[] = {
        {"From: Jonas Kr\xc3\xa4mer <j.kraemer@kraemer-logistik.de>\nMIME-Version: 1.0\n"
         "Content-Type: text/plain; charset=\"utf-8\"\n"
         "Content-Transfer-Encoding: quoted-printable\n\n"
         "Gr=FC=DFe aus M=FCnchen, wir h=E4tten Interesse =96 passt Dienstag?\n",
         "Gr\xc3\xbc\xc3\x9f"
         "e aus M\xc3\xbcnchen, wir h\xc3\xa4tten Interesse \xe2\x80\x93 passt Dienstag?\n",
         "utf-8", "windows-1252"},
        {"From: claire@brasserie-lefevre.fr\nContent-Type: text/plain\n"
         "Content-Transfer-Encoding: 8bit\n\n"
         "Merci, c'est tr\xe8s int\xe9ressant, envoyez-moi un \x93"
         "devis\x94.\n",
         "Merci, c'est tr\xc3\xa8s int\xc3\xa9ressant, envoyez-moi un \xe2\x80\x9c"
         "devis\xe2\x80\x9d.\n",
         "none", "windows-1252"},
        {"From: a@example.com\nContent-Type: text/plain; charset=us-ascii\n\nna\xc3\xafve\n",
         "na\xc3\xafve\n", "us-ascii", "utf-8"},
        {"From: a@example.com\nContent-Type: text/html; charset=UTF-8\n\n<p>S\xed, me interesa."
         "</p>\n",
         "S\xc3\xad, me interesa.", "UTF-8", "windows-1252"},
        {"From: a@example.com\nContent-Type: text/plain; charset=utf-8\n\nS\xc3\xad, gracias\n",
         "S\xc3\xad, gracias\n", "", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sa_mime_msg m;
        struct sa_err err = {0};
        if (sa_mime_parse(cases[i].raw, strlen(cases[i].raw), &m, &err) != 0)
            fail_msg("case %zu: %s", i, err.msg);
        assert_string_equal(m.text, cases[i].text);
        assert_string_equal(m.text_charset.declared, cases[i].declared);
        assert_string_equal(m.text_charset.decoded_as, cases[i].decoded_as);
        sa_mime_clear(&m);
    }
}

/* ---- refusals ------------------------------------------------------------------------------ */

static void refusals(void **state)
{
    (void)state;
    parse_str_fails("", SA_EINVAL, "no header fields");
    parse_str_fails("Subject: hi\n\nbody\n", SA_EINVAL, "no From address");
    parse_str_fails("From: a@example.com\nthis is no header\n\nbody\n", SA_EINVAL,
                    "header line 2 is not a header field");
    parse_str_fails("From: a@example.com\nContent-Type: multipart/mixed\n\nbody\n", SA_EINVAL,
                    "without a boundary");
    parse_str_fails("From: a@example.com\nContent-Type: multipart/mixed; boundary=b\n\nno parts\n",
                    SA_EINVAL, "no '--b' boundary line");
    /* bytes neither utf-8 nor windows-1252 (0x81, 0x8D are undefined there) */
    parse_str_fails("From: a@example.com\nContent-Type: text/plain; charset=utf-8\n\n"
                    "caf\xE9 \x81\x8D\n",
                    SA_EINVAL,
                    "byte 0xE9 at offset 3 is not valid utf-8, nor is byte 0x81 at offset 5 valid "
                    "windows-1252");
    parse_str_fails("From: a@example.com\nContent-Type: text/plain; charset=us-ascii\n\n"
                    "na\x81ve\n",
                    SA_EINVAL, "not valid us-ascii");
    parse_str_fails("From: a@example.com\nContent-Type: text/plain; charset=windows-1252\n"
                    "Content-Transfer-Encoding: quoted-printable\n\nbad =81 byte\n",
                    SA_EINVAL, "byte 0x81");
    parse_str_fails("From: a@example.com\nContent-Type: text/plain; charset=x-mac-klingon\n\nx\n",
                    SA_EINVAL, "unsupported charset 'x-mac-klingon'");
    parse_str_fails("From: a@example.com\nContent-Transfer-Encoding: base64\n\nSGVsbG8*\n",
                    SA_EINVAL, "invalid base64 character 0x2A");
    parse_str_fails("From: a@example.com\nContent-Transfer-Encoding: x-uuencode\n\nx\n", SA_EINVAL,
                    "x-uuencode");
    parse_str_fails("From: a@example.com\nSubject: =?utf-8?B?w6k?= \xFF\n\nx\n", SA_EINVAL,
                    "Subject:");
    /* nesting past the cap */
    char deep[4096];
    size_t n = (size_t)snprintf(deep, sizeof deep, "From: a@example.com\n");
    for (int i = 0; i <= SA_MIME_MAX_DEPTH + 1; i++)
        n += (size_t)snprintf(deep + n, sizeof deep - n,
                              "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i);
    snprintf(deep + n, sizeof deep - n, "\nx\n");
    parse_str_fails(deep, SA_ETOOBIG, "nested deeper than");
    /* a header block past its cap */
    size_t big = SA_MIME_MAX_HEADER_BYTES + 100;
    char *huge = malloc(big + 64);
    assert_non_null(huge);
    n = (size_t)snprintf(huge, 64, "From: a@example.com\nX-Pad: ");
    memset(huge + n, 'a', big - n);
    memcpy(huge + big, "\n\nbody\n", 8);
    parse_str_fails(huge, SA_ETOOBIG, "header block is larger");
    free(huge);
}

/* LF-only, an mbox "From " line, an 8bit UTF-8 body without a charset, a Subject folded
 * inside an encoded-word pair. */
static void lenient_shapes(void **state)
{
    (void)state;
    const char *raw = "From alex@example.com Wed Dec  2 09:00:00 2026\n"
                      "From: bob@Example.ORG\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n"
                      " =?utf-8?q?_aus_K=C3=B6ln?=\nMessage-ID: no-brackets@example.org\n\n"
                      "Grüße\r\nund danke\n";
    struct sa_mime_msg m;
    struct sa_err err = {0};
    assert_int_equal(sa_mime_parse(raw, strlen(raw), &m, &err), 0);
    assert_string_equal(m.from_addr, "bob@example.org");
    assert_null(m.from_name);
    assert_string_equal(m.subject, "Grüße aus Köln");
    assert_string_equal(m.message_id, "<no-brackets@example.org>");
    assert_string_equal(m.text, "Grüße\nund danke\n");
    sa_mime_clear(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gmail_reply),
        cmocka_unit_test(outlook_reply_german),
        cmocka_unit_test(latin1_quoted_printable),
        cmocka_unit_test(mislabelled_charsets),
        cmocka_unit_test(html_only_base64),
        cmocka_unit_test(unsubscribe_reply),
        cmocka_unit_test(out_of_office),
        cmocka_unit_test(footers_not_reply),
        cmocka_unit_test(automatic_or_person),
        cmocka_unit_test(postfix_dsn),
        cmocka_unit_test(postfix_plain_text),
        cmocka_unit_test(exchange_ndr),
        cmocka_unit_test(gmail_bounce),
        cmocka_unit_test(soft_bounce),
        cmocka_unit_test(refusals_are_not_address_failures),
        cmocka_unit_test(dsn_picks_failed_recipient),
        cmocka_unit_test(daemon_without_failure_is_no_bounce),
        cmocka_unit_test(encoded_words),
        cmocka_unit_test(other_charsets),
        cmocka_unit_test(html_to_text),
        cmocka_unit_test(refusals),
        cmocka_unit_test(lenient_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
