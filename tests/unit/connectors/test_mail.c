/* Pins the mail layer: rendered messages are valid RFC 5322 / MIME (CRLF, folded and
 * encoded headers, quoted-printable and base64 bodies that decode to the inputs), header
 * injection is refused, rendering is deterministic, and Maildir delivery follows the spec.
 * When python3 is installed its email package parses the output as a second opinion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "connectors/mail/message.h"
#include "connectors/mail/transport.h"

/* ---- decoders, written independently of the encoders under test ----------------------- */

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decodes base64 in s[0..n), skipping CR and LF; fails the test on any other stray byte. */
static char *b64_decode(const char *s, size_t n, size_t *out_len)
{
    char *out = malloc(n / 4 * 3 + 4);
    assert_non_null(out);
    size_t o = 0, k = 0;
    uint32_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r' || s[i] == '\n' || s[i] == '=')
            continue;
        int v = b64_value(s[i]);
        assert_true(v >= 0);
        acc = (acc << 6) | (uint32_t)v;
        if (++k == 4) {
            out[o++] = (char)(acc >> 16);
            out[o++] = (char)(acc >> 8);
            out[o++] = (char)acc;
            k = 0;
            acc = 0;
        }
    }
    if (k == 2) {
        out[o++] = (char)(acc >> 4);
    } else if (k == 3) {
        out[o++] = (char)(acc >> 10);
        out[o++] = (char)(acc >> 2);
    } else {
        assert_int_equal(k, 0);
    }
    out[o] = '\0';
    if (out_len)
        *out_len = o;
    return out;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes quoted-printable: "=" CRLF vanishes, "=XX" is a byte (uppercase hex only, as
 * RFC 2045 requires of encoders). */
static char *qp_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    assert_non_null(out);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '=') {
            out[o++] = s[i];
            continue;
        }
        assert_true(i + 2 < n);
        if (s[i + 1] == '\r' && s[i + 2] == '\n') {
            i += 2;
            continue;
        }
        int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
        assert_true(hi >= 0 && lo >= 0);
        out[o++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[o] = '\0';
    return out;
}

/* The value of header name in the header section of msg, unfolded (CRLF before WSP
 * removed), without the one space after the colon. NULL when absent. */
static char *header(const char *msg, const char *name)
{
    size_t nl = strlen(name);
    const char *end = strstr(msg, "\r\n\r\n");
    assert_non_null(end);
    for (const char *p = msg; p < end; p = strstr(p, "\r\n") + 2) {
        if (strncmp(p, name, nl) != 0 || p[nl] != ':')
            continue;
        p += nl + 1;
        if (*p == ' ')
            p++;
        char *out = malloc(strlen(p) + 1);
        assert_non_null(out);
        size_t o = 0;
        for (; !(p[0] == '\r' && p[1] == '\n' && p[2] != ' ' && p[2] != '\t'); p++) {
            if (p[0] == '\r' && p[1] == '\n')
                p += 2;
            out[o++] = *p;
        }
        out[o] = '\0';
        return out;
    }
    return NULL;
}

/* Decodes the RFC 2047 =?UTF-8?B?...?= words in an unfolded header value; whitespace
 * between two encoded-words is dropped, as RFC 2047 6.2 says. */
static char *ew_decode(const char *v)
{
    static const char open[] = "=?UTF-8?B?";
    char *out = malloc(strlen(v) + 1);
    assert_non_null(out);
    size_t o = 0;
    bool after_word = false;
    for (const char *p = v; *p;) {
        if (strncmp(p, open, 10) == 0) {
            const char *q = strstr(p + 10, "?=");
            assert_non_null(q);
            assert_true(q - p + 2 <= 75);
            size_t n = 0;
            char *d = b64_decode(p + 10, (size_t)(q - p - 10), &n);
            memcpy(out + o, d, n);
            o += n;
            free(d);
            p = q + 2;
            after_word = true;
            continue;
        }
        size_t ws = strspn(p, " \t");
        if (ws && after_word && strncmp(p + ws, open, 10) == 0) {
            p += ws;
            continue;
        }
        out[o++] = *p++;
        after_word = false;
    }
    out[o] = '\0';
    return out;
}

/* Every LF is preceded by CR and every CR followed by LF; header lines <= 78 and body
 * lines <= 76 characters. */
static void assert_wire_form(const char *msg, size_t len)
{
    assert_int_equal(strlen(msg), len);
    const char *body = strstr(msg, "\r\n\r\n");
    assert_non_null(body);
    body += 4;
    size_t col = 0;
    for (size_t i = 0; i < len; i++) {
        if (msg[i] == '\n')
            assert_true(i > 0 && msg[i - 1] == '\r');
        if (msg[i] == '\r')
            assert_true(msg[i + 1] == '\n');
        if (msg[i] == '\r' || msg[i] == '\n') {
            col = 0;
            continue;
        }
        col++;
        if (msg + i < body) {
            if (col > 78)
                fail_msg("header line longer than 78 at byte %zu", i);
        } else if (col > 76) {
            fail_msg("body line longer than 76 at byte %zu", i);
        }
    }
    assert_true(len >= 2 && msg[len - 2] == '\r' && msg[len - 1] == '\n');
}

/* "\n" -> "\r\n" (the text's line breaks as they travel). */
static char *crlf(const char *s)
{
    char *out = malloc(strlen(s) * 2 + 1);
    assert_non_null(out);
    size_t o = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '\n' && (p == s || p[-1] != '\r'))
            out[o++] = '\r';
        out[o++] = *p;
    }
    out[o] = '\0';
    return out;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* ---- fixtures ------------------------------------------------------------------------ */

static const char long_utf8_line[] =
    "Größenordnung: Die Übersicht für Ihr Team — jährliche Einsparungen ≈ 42 % "
    "bei gleichbleibender Qualität, über alle Standorte in München, Zürich und Wien hinweg.";

static const char text_body[] = "Hallo Jürgen,\n"
                                "\n"
                                "%s\n"
                                "Formel: a=b, 1+1==2, =?UTF-8?B?not-a-word?=\n"
                                "trailing space \n"
                                ".\n"
                                "From here on it is fine.\r\n"
                                "lone\rcarriage\n"
                                "Exactly seventy-six characters on this line, which QP must not "
                                "break at all.\n"
                                "-- \n"
                                "Ana";

static const char ics_body[] = "BEGIN:VCALENDAR\r\n"
                               "VERSION:2.0\r\n"
                               "PRODID:-//sales-agent//EN\r\n"
                               "METHOD:REQUEST\r\n"
                               "BEGIN:VEVENT\r\n"
                               "UID:demo-42@acme.io\r\n"
                               "DTSTAMP:20250213T093000Z\r\n"
                               "DTSTART:20250220T150000Z\r\n"
                               "DTEND:20250220T153000Z\r\n"
                               "SUMMARY:Produktdemo – Acme × Globex\r\n"
                               "ORGANIZER;CN=Ana Müller:mailto:ana@acme.io\r\n"
                               "ATTENDEE;CN=Bob;RSVP=TRUE:mailto:bob@globex.example.com\r\n"
                               "END:VEVENT\r\n"
                               "END:VCALENDAR\r\n";

static const char subject_utf8[] =
    "Grüße aus München: Ihr Angebot für Q3 — 3 Plätze frei, Rückmeldung bis Freitag? 🚀";

static char text_buf[1024];

static struct sa_mail base_mail(void)
{
    snprintf(text_buf, sizeof text_buf, text_body, long_utf8_line);
    return (struct sa_mail){
        .from_name = "Ana Müller",
        .from_addr = "ana@acme.io",
        .to_name = "Bob Smith",
        .to_addr = "bob@globex.example.com",
        .subject = subject_utf8,
        .text = text_buf,
        .message_id_key = "outbox-01952f7e-7c4a-7d3e-9f00-1234567890ab",
        .date = 1739439000, /* Thu, 13 Feb 2025 09:30:00 UTC */
    };
}

/* ---- rendering ----------------------------------------------------------------------- */

static void test_render_plain(void **state)
{
    (void)state;
    struct sa_mail m = base_mail();
    struct sa_err err = {0};
    char *msg = NULL;
    size_t len = 0;
    assert_int_equal(sa_mail_render(&m, &msg, &len, &err), 0);
    assert_wire_form(msg, len);

    char *h = header(msg, "Date");
    assert_string_equal(h, "Thu, 13 Feb 2025 09:30:00 +0000");
    free(h);
    h = header(msg, "To");
    assert_string_equal(h, "Bob Smith <bob@globex.example.com>");
    free(h);
    h = header(msg, "Message-ID");
    assert_string_equal(h, "<outbox-01952f7e-7c4a-7d3e-9f00-1234567890ab@acme.io>");
    free(h);
    h = header(msg, "MIME-Version");
    assert_string_equal(h, "1.0");
    free(h);
    h = header(msg, "Content-Type");
    assert_string_equal(h, "text/plain; charset=UTF-8");
    free(h);
    h = header(msg, "Content-Transfer-Encoding");
    assert_string_equal(h, "quoted-printable");
    free(h);
    assert_null(header(msg, "In-Reply-To"));

    /* The subject needs several encoded-words over several lines and reads back whole. */
    h = header(msg, "Subject");
    assert_true(strncmp(h, "=?UTF-8?B?", 10) == 0);
    assert_true(count(h, "=?UTF-8?B?") >= 3);
    char *d = ew_decode(h);
    assert_string_equal(d, subject_utf8);
    free(d);
    free(h);
    assert_true(strstr(msg, "Subject: =?UTF-8?B?") != NULL);
    assert_true(strstr(strstr(msg, "Subject: "), "?=\r\n =?UTF-8?B?") != NULL);

    h = header(msg, "From");
    d = ew_decode(h);
    assert_string_equal(d, "Ana Müller <ana@acme.io>");
    free(d);
    free(h);

    /* Body: quoted-printable that decodes to the text with CRLF line breaks. */
    const char *body = strstr(msg, "\r\n\r\n") + 4;
    assert_non_null(strstr(body, "a=3Db, 1+1=3D=3D2, =3D?UTF-8?B?not-a-word?=3D"));
    assert_non_null(strstr(body, "trailing space=20\r\n"));
    assert_non_null(strstr(body, "\r\n=2E\r\n"));                    /* a lone "." line */
    assert_non_null(strstr(body, "\r\n=46rom here on it is fine.")); /* mbox "From " */
    assert_non_null(strstr(body, "lone=0Dcarriage"));
    assert_non_null(strstr(body, "\r\n--=20\r\n")); /* signature separator keeps its space */
    assert_non_null(strstr(body, "Gr=C3=B6=C3=9Fenordnung"));
    assert_non_null(strstr(body, "=\r\n")); /* the long line was soft-broken */
    assert_non_null(strstr(body, "\r\nExactly seventy-six characters on this line, which QP "
                                 "must not break at all.\r\n"));
    char *decoded = qp_decode(body, strlen(body));
    char *want = crlf(text_buf);
    size_t wl = strlen(want);
    assert_int_equal(strlen(decoded), wl + 2); /* a final line break is added */
    assert_memory_equal(decoded, want, wl);
    assert_string_equal(decoded + wl, "\r\n");
    free(want);
    free(decoded);
    free(msg);
}

static void test_render_ascii_headers(void **state)
{
    (void)state;
    struct sa_mail m = base_mail();
    m.from_name = "Doe, Jane \"JD\" Q.";
    m.to_name = NULL;
    m.subject = "Quick question about your data pipeline migration plans for the next "
                "quarter and the budget that your team has set aside for it";
    m.text = "Hi";
    m.in_reply_to = "<CAF+abc.123@mail.globex.example.com>";
    struct sa_err err = {0};
    char *msg = NULL;
    size_t len = 0;
    assert_int_equal(sa_mail_render(&m, &msg, &len, &err), 0);
    assert_wire_form(msg, len);
    char *h = header(msg, "From");
    assert_string_equal(h, "\"Doe, Jane \\\"JD\\\" Q.\" <ana@acme.io>");
    free(h);
    h = header(msg, "To");
    assert_string_equal(h, "bob@globex.example.com");
    free(h);
    h = header(msg, "Subject");
    assert_string_equal(h, m.subject); /* folded at a space, unfolds to the original */
    free(h);
    const char *raw = strstr(msg, "\r\nSubject: Quick question");
    assert_non_null(raw);
    const char *folded = strstr(raw + 2, "\r\n ");
    assert_non_null(folded);
    assert_true(folded < strstr(raw + 2, "\r\nMessage-ID:"));
    h = header(msg, "In-Reply-To");
    assert_string_equal(h, "<CAF+abc.123@mail.globex.example.com>");
    free(h);
    h = header(msg, "References");
    assert_string_equal(h, "<CAF+abc.123@mail.globex.example.com>");
    free(h);
    const char *body = strstr(msg, "\r\n\r\n") + 4;
    assert_string_equal(body, "Hi\r\n");
    free(msg);

    /* Without brackets, an empty subject, an empty body. */
    m.in_reply_to = "abc@globex.example.com";
    m.subject = "";
    m.text = "";
    assert_int_equal(sa_mail_render(&m, &msg, NULL, &err), 0);
    h = header(msg, "In-Reply-To");
    assert_string_equal(h, "<abc@globex.example.com>");
    free(h);
    assert_non_null(strstr(msg, "\r\nSubject:\r\n"));
    assert_non_null(strstr(msg, "quoted-printable\r\n\r\n"));
    free(msg);
}

/* The part of a multipart body between "--b" CRLF and the next CRLF "--b"; its headers
 * into *headers (allocated). */
static char *mime_part(const char *msg, const char *b, int index, char **headers)
{
    char delim[80];
    snprintf(delim, sizeof delim, "\r\n--%s\r\n", b);
    const char *p = strstr(msg, "\r\n\r\n") + 2; /* keep a CRLF before the first delimiter */
    for (int i = 0; i <= index; i++) {
        p = strstr(p, delim);
        assert_non_null(p);
        p += strlen(delim);
    }
    const char *hend = strstr(p, "\r\n\r\n");
    *headers = strndup(p, (size_t)(hend - p + 2));
    const char *body = hend + 4;
    snprintf(delim, sizeof delim, "\r\n--%s", b);
    const char *end = strstr(body, delim);
    assert_non_null(end);
    return strndup(body, (size_t)(end - body));
}

/* prefix + s, malloc'd. */
static char *strf_cat(const char *prefix, const char *s)
{
    size_t a = strlen(prefix), b = strlen(s);
    char *out = malloc(a + b + 1);
    assert_non_null(out);
    memcpy(out, prefix, a);
    memcpy(out + a, s, b + 1);
    return out;
}

static void test_render_ics(void **state)
{
    (void)state;
    size_t dn = 0;
    struct sa_mail m = base_mail();
    m.ics = ics_body;
    struct sa_err err = {0};
    char *msg = NULL;
    size_t len = 0;
    assert_int_equal(sa_mail_render(&m, &msg, &len, &err), 0);
    assert_wire_form(msg, len);

    char *ct = header(msg, "Content-Type");
    assert_true(strncmp(ct, "multipart/mixed; boundary=\"", 27) == 0);
    char boundary[72];
    const char *b = ct + 27;
    size_t bl = strcspn(b, "\"");
    assert_true(bl > 0 && bl <= 70 && b[bl] == '"');
    memcpy(boundary, b, bl);
    boundary[bl] = '\0';
    free(ct);
    assert_null(header(msg, "Content-Transfer-Encoding"));

    char delim[80], close_delim[84];
    snprintf(delim, sizeof delim, "\r\n--%s\r\n", boundary);
    snprintf(close_delim, sizeof close_delim, "\r\n--%s--\r\n", boundary);
    assert_int_equal(count(msg, delim), 2);
    assert_int_equal(count(msg, close_delim), 1);
    assert_true(strlen(strstr(msg, close_delim)) == strlen(close_delim)); /* it ends the message */

    /* the first part is multipart/alternative: the text and the invite inline */
    char *ph = NULL;
    char *outer = mime_part(msg, boundary, 0, &ph);
    assert_true(strncmp(ph, "Content-Type: multipart/alternative; boundary=\"", 47) == 0);
    char alt[72];
    bl = strcspn(ph + 47, "\"");
    assert_true(bl > 0 && bl < sizeof alt);
    memcpy(alt, ph + 47, bl);
    alt[bl] = '\0';
    assert_null(strstr(alt, boundary)); /* neither delimiter is a prefix of the other */
    assert_null(strstr(boundary, alt));
    free(ph);
    char *inner = strf_cat("\r\n\r\n", outer); /* mime_part skips a header block first */
    free(outer);
    char *part = mime_part(inner, alt, 0, &ph);
    assert_string_equal(ph, "Content-Type: text/plain; charset=UTF-8\r\n"
                            "Content-Transfer-Encoding: quoted-printable\r\n");
    char *decoded = qp_decode(part, strlen(part));
    char *want = crlf(text_buf);
    size_t wl = strlen(want);
    assert_int_equal(strlen(decoded), wl + 2); /* ends with a line break, as without ics */
    assert_memory_equal(decoded, want, wl);
    assert_string_equal(decoded + wl, "\r\n");
    free(want);
    free(decoded);
    free(part);
    free(ph);

    part = mime_part(inner, alt, 1, &ph);
    assert_string_equal(ph, "Content-Type: text/calendar; method=REQUEST; charset=UTF-8\r\n"
                            "Content-Transfer-Encoding: base64\r\n");
    dn = 0;
    decoded = b64_decode(part, strlen(part), &dn);
    assert_int_equal(dn, strlen(ics_body));
    assert_memory_equal(decoded, ics_body, dn);
    free(decoded);
    free(part);
    free(ph);
    free(inner);

    /* then the same invite as an attachment */
    part = mime_part(msg, boundary, 1, &ph);
    assert_string_equal(ph, "Content-Type: application/ics; name=\"invite.ics\"\r\n"
                            "Content-Disposition: attachment; filename=\"invite.ics\"\r\n"
                            "Content-Transfer-Encoding: base64\r\n");
    /* Full lines are exactly 76 characters. */
    for (const char *line = part; *line;) {
        size_t n = strcspn(line, "\r");
        if (line[n] == '\r')
            assert_int_equal(n, 76);
        else
            assert_true(n <= 76 && n % 4 == 0);
        line += n + (line[n] ? 2 : 0);
    }
    dn = 0;
    decoded = b64_decode(part, strlen(part), &dn);
    assert_int_equal(dn, strlen(ics_body));
    assert_memory_equal(decoded, ics_body, dn);
    free(decoded);
    free(part);
    free(ph);
    free(msg);
}

static void test_deterministic(void **state)
{
    (void)state;
    struct sa_mail m = base_mail();
    m.ics = ics_body;
    struct sa_err err = {0};
    char *a = NULL, *b = NULL;
    size_t al = 0, bl = 0;
    assert_int_equal(sa_mail_render(&m, &a, &al, &err), 0);
    assert_int_equal(sa_mail_render(&m, &b, &bl, &err), 0);
    assert_int_equal(al, bl);
    assert_memory_equal(a, b, al);
    free(b);

    m.message_id_key = "outbox-2";
    assert_int_equal(sa_mail_render(&m, &b, &bl, &err), 0);
    char *ca = header(a, "Content-Type"), *cb = header(b, "Content-Type");
    assert_string_not_equal(ca, cb); /* the boundary follows the key */
    free(ca);
    free(cb);
    char id[SA_MAIL_MSGID_MAX];
    assert_int_equal(sa_mail_message_id(&m, id, sizeof id, &err), 0);
    assert_string_equal(id, "<outbox-2@acme.io>");
    assert_int_equal(sa_mail_message_id(&m, id, 8, &err), SA_EINVAL);
    free(a);
    free(b);
}

static void expect_refused(struct sa_mail *m, int code, const char *field)
{
    struct sa_err err = {0};
    char *msg = (char *)"sentinel";
    size_t len = 99;
    assert_int_equal(sa_mail_render(m, &msg, &len, &err), code);
    assert_null(msg);
    assert_int_equal(len, 0);
    assert_int_equal(err.code, code);
    if (!strstr(err.msg, field))
        fail_msg("error \"%s\" does not name %s", err.msg, field);
}

static void test_header_injection(void **state)
{
    (void)state;
    static const char *const evil[] = {"x\r\nBcc: victim@evil.example.com", "x\nBcc: v@e.com",
                                       "x\rBcc: v@e.com", "\r\n"};
    for (size_t i = 0; i < sizeof evil / sizeof evil[0]; i++) {
        struct sa_mail m = base_mail();
        m.subject = evil[i];
        expect_refused(&m, SA_EINVAL, "subject");
        m = base_mail();
        m.to_addr = evil[i];
        expect_refused(&m, SA_EINVAL, "to_addr");
        m = base_mail();
        m.from_addr = evil[i];
        expect_refused(&m, SA_EINVAL, "from_addr");
        m = base_mail();
        m.from_name = evil[i];
        expect_refused(&m, SA_EINVAL, "from_name");
        m = base_mail();
        m.to_name = evil[i];
        expect_refused(&m, SA_EINVAL, "to_name");
        m = base_mail();
        m.in_reply_to = evil[i];
        expect_refused(&m, SA_EINVAL, "in_reply_to");
        m = base_mail();
        m.message_id_key = evil[i];
        expect_refused(&m, SA_EINVAL, "message_id_key");
    }
    /* An address with a CRLF after a valid one, as a form field might carry it. */
    struct sa_mail m = base_mail();
    m.to_addr = "bob@globex.example.com\r\nBcc: v@evil.example.com";
    expect_refused(&m, SA_EINVAL, "to_addr");

    /* Other unsafe or malformed inputs. */
    m = base_mail();
    m.to_addr = "Bob <bob@globex.example.com>";
    expect_refused(&m, SA_EINVAL, "to_addr");
    m = base_mail();
    m.subject = "bell\a";
    expect_refused(&m, SA_EINVAL, "subject");
    m = base_mail();
    m.subject = "bad \xC3\x28 utf-8";
    expect_refused(&m, SA_EINVAL, "subject");
    m = base_mail();
    m.text = "overlong \xC0\xAF slash";
    expect_refused(&m, SA_EINVAL, "text");
    m = base_mail();
    m.message_id_key = "has space";
    expect_refused(&m, SA_EINVAL, "message_id_key");
    m = base_mail();
    m.message_id_key = NULL;
    expect_refused(&m, SA_EINVAL, "message_id_key");
    m = base_mail();
    m.in_reply_to = "<no-at-sign>";
    expect_refused(&m, SA_EINVAL, "in_reply_to");
    m = base_mail();
    m.subject = NULL;
    expect_refused(&m, SA_EINVAL, "subject");
    m = base_mail();
    static char huge[4096];
    memset(huge, 'a', sizeof huge - 1);
    m.subject = huge;
    expect_refused(&m, SA_ETOOBIG, "subject");
}

/* Consent: List-Unsubscribe with the mailto: and the one-click link (RFC 2369, RFC 8058),
 * List-Unsubscribe-Post, and a footer with the link and the postal address; unsafe URIs
 * are refused naming the field; without them, none of it. */
static void test_render_consent(void **state)
{
    (void)state;
    struct sa_mail m = base_mail();
    struct sa_err err = {0};
    char *msg = NULL;
    size_t len = 0;
    assert_int_equal(sa_mail_render(&m, &msg, &len, &err), 0);
    assert_null(strstr(msg, "List-Unsubscribe"));
    free(msg);
    m.unsubscribe_url = "https://sales.example.com/unsubscribe/Ym9iQGdsb2JleC5leGFtcGxlLmNvbQ."
                        "AAAAAAAAAAAAAAAAAAAAAA";
    m.unsubscribe_mailto = "mailto:ana@acme.io?subject=unsubscribe";
    m.sender_address = "Acme GmbH, Hauptstraße 1, 10115 Berlin";
    assert_int_equal(sa_mail_render(&m, &msg, &len, &err), 0);
    /* one URI per header line; the link is longer than 78 columns but never 998 */
    assert_non_null(strstr(msg, "List-Unsubscribe: <mailto:ana@acme.io?subject=unsubscribe>,\r\n "
                                "<https://"));
    char *h = header(msg, "List-Unsubscribe");
    char *want = NULL;
    assert_true(asprintf(&want, "<%s>, <%s>", m.unsubscribe_mailto, m.unsubscribe_url) > 0);
    assert_string_equal(h, want);
    free(want);
    free(h);
    h = header(msg, "List-Unsubscribe-Post");
    assert_string_equal(h, "List-Unsubscribe=One-Click");
    free(h);
    const char *body = strstr(msg, "\r\n\r\n") + 4;
    char *text = qp_decode(body, strlen(body));
    assert_non_null(strstr(text, "unsubscribe here: https://sales.example.com/unsubscribe/"));
    assert_non_null(strstr(text, "Acme GmbH, Hauptstraße 1, 10115 Berlin\r\n"));
    /* the footer follows the text */
    assert_true(strstr(text, "Acme GmbH") > strstr(text, "Hallo J"));
    free(text);
    free(msg);
    /* the one-click link alone still gets the POST header; the mailto alone does not */
    m.unsubscribe_mailto = NULL;
    assert_int_equal(sa_mail_render(&m, &msg, &len, &err), 0);
    assert_non_null(strstr(msg, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"));
    free(msg);
    m.unsubscribe_url = NULL;
    m.unsubscribe_mailto = "mailto:ana@acme.io";
    assert_int_equal(sa_mail_render(&m, &msg, &len, &err), 0);
    assert_null(strstr(msg, "List-Unsubscribe-Post"));
    free(msg);
    static const char *const evil[] = {"https://x.example/a b", "https://x.example/a>b",
                                       "javascript:alert(1)", "https://x.example/\r\nBcc: x",
                                       "https://x.example/a,b", ""};
    for (size_t i = 0; i < sizeof evil / sizeof evil[0]; i++) {
        m.unsubscribe_url = evil[i];
        expect_refused(&m, SA_EINVAL, "unsubscribe_url");
    }
    m.unsubscribe_url = NULL;
    m.sender_address = "line one\nline two";
    expect_refused(&m, SA_EINVAL, "sender_address");
}

static void test_addr_valid(void **state)
{
    (void)state;
    assert_true(sa_mail_addr_valid("jane.doe+crm@acme.io"));
    assert_true(sa_mail_addr_valid("o'brien@mail.acme-cloud.co.uk"));
    assert_false(sa_mail_addr_valid(NULL));
    assert_false(sa_mail_addr_valid(""));
    assert_false(sa_mail_addr_valid("jane@localhost"));
    assert_false(sa_mail_addr_valid("jane@acme.i"));
    assert_false(sa_mail_addr_valid("jane@acme.123"));
    assert_false(sa_mail_addr_valid("jane@-acme.io"));
    assert_false(sa_mail_addr_valid("jane@acme-.io"));
    assert_false(sa_mail_addr_valid("jane@acme..io"));
    assert_false(sa_mail_addr_valid(".jane@acme.io"));
    assert_false(sa_mail_addr_valid("ja..ne@acme.io"));
    assert_false(sa_mail_addr_valid("\"jane\"@acme.io"));
    assert_false(sa_mail_addr_valid("jane@acme.io>"));
    assert_false(sa_mail_addr_valid("jane@ac@me.io"));
    assert_false(sa_mail_addr_valid("jürgen@acme.io"));
    assert_false(sa_mail_addr_valid("jane @acme.io"));
}

/* ---- python3's email package as an independent parser ------------------------------ */

static const char py_script[] =
    "import email, email.policy, json, sys\n"
    "msg = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=email.policy.default)\n"
    "defects = [str(d) for d in msg.defects]\n"
    "for h in ('from', 'to', 'subject', 'date', 'message-id'):\n"
    "    defects += [h + ': ' + str(d) for d in msg[h].defects]\n"
    "f, t = msg['from'].addresses[0], msg['to'].addresses[0]\n"
    "out = {'subject': str(msg['subject']), 'from_name': f.display_name,\n"
    "       'from_addr': f.addr_spec, 'to_name': t.display_name, 'to_addr': t.addr_spec,\n"
    "       'message_id': str(msg['message-id']), 'date': msg['date'].datetime.isoformat(),\n"
    "       'multipart': msg.is_multipart(),\n"
    "       'text': msg.get_body(('plain',)).get_content().replace('\\r\\n', '\\n')}\n"
    "for part in msg.walk():\n"
    "    defects += [str(d) for d in part.defects]\n"
    "    if part.get_content_type() == 'text/calendar':\n"
    "        out['ics'] = part.get_payload(decode=True).decode('utf-8')\n"
    "        out['method'] = part.get_param('method')\n"
    "        out['disposition'] = part.get_content_disposition() or 'inline'\n"
    "    if part.get_content_type() == 'application/ics':\n"
    "        out['attached'] = part.get_payload(decode=True).decode('utf-8')\n"
    "        out['filename'] = part.get_filename()\n"
    "out['defects'] = defects\n"
    "print(json.dumps(out))\n";

static bool have_python_email(void)
{
    return system("python3 -c 'import email.policy, json' >/dev/null 2>&1") == 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void rm_rf(const char *dir)
{
    chmod(dir, 0700);
    assert_int_equal(nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Runs the script over msg; returns its JSON output (new reference). */
static json_t *python_parse(const char *msg, size_t len)
{
    char dir[] = "/tmp/sa_mail_py_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char script[64], file[64], cmd[160];
    snprintf(script, sizeof script, "%s/parse.py", dir);
    snprintf(file, sizeof file, "%s/msg.eml", dir);
    write_file(script, py_script, strlen(py_script));
    write_file(file, msg, len);
    snprintf(cmd, sizeof cmd, "python3 %s %s", script, file);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    static char out[65536];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    rm_rf(dir);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("python3 failed: %s", out);
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    if (!j)
        fail_msg("python3 output is not JSON (%s): %s", jerr.text, out);
    return j;
}

static const char *jstr(json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    if (!s)
        fail_msg("python3 output lacks %s", key);
    return s;
}

static void test_python_parses(void **state)
{
    (void)state;
    if (!have_python_email())
        skip();
    struct sa_mail m = base_mail();
    m.in_reply_to = "<prev@globex.example.com>";
    struct sa_err err = {0};
    for (int with_ics = 0; with_ics < 2; with_ics++) {
        m.ics = with_ics ? ics_body : NULL;
        char *msg = NULL;
        size_t len = 0;
        assert_int_equal(sa_mail_render(&m, &msg, &len, &err), 0);
        json_t *j = python_parse(msg, len);
        free(msg);
        if (json_array_size(json_object_get(j, "defects")) != 0) {
            char *dump = json_dumps(json_object_get(j, "defects"), 0);
            fail_msg("python3 found defects: %s", dump);
        }
        assert_string_equal(jstr(j, "subject"), subject_utf8);
        assert_string_equal(jstr(j, "from_name"), "Ana Müller");
        assert_string_equal(jstr(j, "from_addr"), "ana@acme.io");
        assert_string_equal(jstr(j, "to_name"), "Bob Smith");
        assert_string_equal(jstr(j, "to_addr"), "bob@globex.example.com");
        assert_string_equal(jstr(j, "message_id"),
                            "<outbox-01952f7e-7c4a-7d3e-9f00-1234567890ab@acme.io>");
        assert_string_equal(jstr(j, "date"), "2025-02-13T09:30:00+00:00");
        assert_int_equal(json_is_true(json_object_get(j, "multipart")), with_ics);
        /* Python sees the lone CR as a line break too; compare with it made one. */
        char want[1100];
        snprintf(want, sizeof want, "%s\n", text_buf);
        for (char *c = want; (c = strstr(c, "\r\n")) != NULL;)
            memmove(c, c + 1, strlen(c));
        const char *text = jstr(j, "text");
        char *got = strdup(text);
        for (char *c = got; *c; c++)
            if (*c == '\r')
                *c = '\n';
        for (char *c = want; *c; c++)
            if (*c == '\r')
                *c = '\n';
        assert_string_equal(got, want);
        free(got);
        if (with_ics) {
            assert_string_equal(jstr(j, "ics"), ics_body);
            assert_string_equal(jstr(j, "filename"), "invite.ics");
            assert_string_equal(jstr(j, "method"), "REQUEST");
            assert_string_equal(jstr(j, "disposition"), "inline");
            assert_string_equal(jstr(j, "attached"), ics_body);
        }
        json_decref(j);
    }
}

/* ---- Maildir ------------------------------------------------------------------------- */

static size_t dir_entries(const char *dir, char names[][SA_TRANSPORT_ID_MAX], size_t cap)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n < cap)
            snprintf(names[n], SA_TRANSPORT_ID_MAX, "%s", e->d_name);
        n++;
    }
    closedir(d);
    return n;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    *len = n;
    char *out = malloc(n + 1);
    assert_non_null(out);
    memcpy(out, buf, n);
    out[n] = '\0';
    return out;
}

static void test_maildir_delivery(void **state)
{
    (void)state;
    char root[] = "/tmp/sa_mail_md_XXXXXX";
    assert_non_null(mkdtemp(root));
    char spec[128], box[96], path[512];
    snprintf(box, sizeof box, "%s/a/b/Maildir", root);
    snprintf(spec, sizeof spec, "maildir:%s", box);

    struct sa_transport *t = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_transport_open(spec, &t, &err), 0);
    assert_non_null(t);
    assert_string_equal(t->ops->name, "maildir");
    static const char *const subs[] = {"tmp", "new", "cur"};
    for (size_t i = 0; i < 3; i++) {
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", box, subs[i]);
        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 077, 0);
    }

    struct sa_mail m = base_mail();
    m.ics = ics_body;
    char *msg = NULL;
    size_t len = 0;
    assert_int_equal(sa_mail_render(&m, &msg, &len, &err), 0);
    char id1[SA_TRANSPORT_ID_MAX], id2[SA_TRANSPORT_ID_MAX];
    assert_int_equal(sa_transport_send(t, m.to_addr, msg, len, id1, sizeof id1, &err), 0);
    assert_int_equal(sa_transport_send(t, m.to_addr, msg, len, id2, sizeof id2, &err), 0);
    assert_string_not_equal(id1, id2);
    assert_non_null(strstr(id1, ".M"));
    assert_non_null(strstr(id1, "P"));
    assert_non_null(strstr(id1, "Q"));
    assert_null(strchr(id1, '/'));
    assert_null(strchr(id1, ':'));

    char names[4][SA_TRANSPORT_ID_MAX];
    snprintf(path, sizeof path, "%s/tmp", box);
    assert_int_equal(dir_entries(path, names, 4), 0);
    snprintf(path, sizeof path, "%s/new", box);
    assert_int_equal(dir_entries(path, names, 4), 2);
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/new/%s", box, i ? id2 : id1);
        size_t n = 0;
        char *got = read_file(path, &n);
        assert_int_equal(n, len);
        assert_memory_equal(got, msg, len);
        free(got);
    }

    /* Refusals write nothing. */
    char small[8];
    assert_int_equal(sa_transport_send(t, m.to_addr, msg, len, small, sizeof small, &err),
                     SA_EINVAL);
    assert_int_equal(sa_transport_send(t, "not an address", msg, len, id1, sizeof id1, &err),
                     SA_EINVAL);
    assert_int_equal(sa_transport_send(t, m.to_addr, msg, len, NULL, 0, &err), 0);
    snprintf(path, sizeof path, "%s/new", box);
    assert_int_equal(dir_entries(path, names, 4), 3);
    snprintf(path, sizeof path, "%s/tmp", box);
    assert_int_equal(dir_entries(path, names, 4), 0);

    /* Opening an existing Maildir again is fine. */
    struct sa_transport *t2 = NULL;
    assert_int_equal(sa_transport_open(spec, &t2, &err), 0);
    sa_transport_free(t2);

    /* A delivery that cannot be written fails cleanly. */
    snprintf(path, sizeof path, "%s/tmp", box);
    assert_int_equal(rmdir(path), 0);
    assert_int_equal(sa_transport_send(t, m.to_addr, msg, len, id1, sizeof id1, &err), SA_EIO);
    assert_non_null(strstr(err.msg, "tmp/"));
    assert_string_equal(id1, "");

    sa_transport_free(t);
    sa_transport_free(NULL);
    free(msg);
    rm_rf(root);
}

struct sender {
    struct sa_transport *t;
    char ids[25][SA_TRANSPORT_ID_MAX];
    int rc;
};

static void *send_many(void *arg)
{
    struct sender *s = arg;
    struct sa_err err = {0};
    for (int i = 0; i < 25 && !s->rc; i++)
        s->rc = sa_transport_send(s->t, "bob@globex.example.com", "hello\r\n", 7, s->ids[i],
                                  sizeof s->ids[i], &err);
    return NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_maildir_threads(void **state)
{
    (void)state;
    char root[] = "/tmp/sa_mail_th_XXXXXX";
    assert_non_null(mkdtemp(root));
    char spec[64], path[96];
    snprintf(spec, sizeof spec, "maildir:%s", root);
    struct sa_transport *t = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_transport_open(spec, &t, &err), 0);
    static struct sender s[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        s[i] = (struct sender){.t = t};
        assert_int_equal(pthread_create(&th[i], NULL, send_many, &s[i]), 0);
    }
    static char all[100][SA_TRANSPORT_ID_MAX];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(s[i].rc, 0);
        memcpy(all[i * 25], s[i].ids, sizeof s[i].ids);
    }
    qsort(all, 100, sizeof all[0], cmp_str);
    for (int i = 1; i < 100; i++)
        assert_string_not_equal(all[i - 1], all[i]);
    snprintf(path, sizeof path, "%s/new", root);
    static char names[128][SA_TRANSPORT_ID_MAX];
    assert_int_equal(dir_entries(path, names, 128), 100);
    sa_transport_free(t);
    rm_rf(root);
}

static void test_maildir_unwritable(void **state)
{
    (void)state;
    char root[] = "/tmp/sa_mail_uw_XXXXXX";
    assert_non_null(mkdtemp(root));
    char file[64], spec[128];
    struct sa_transport *t = NULL;
    struct sa_err err = {0};

    /* A parent that is a file: fails even for root. */
    snprintf(file, sizeof file, "%s/file", root);
    write_file(file, "x", 1);
    snprintf(spec, sizeof spec, "maildir:%s/box", file);
    assert_int_equal(sa_transport_open(spec, &t, &err), SA_EIO);
    assert_null(t);
    assert_non_null(strstr(err.msg, "cannot create"));

    /* The Maildir itself is a file. */
    snprintf(spec, sizeof spec, "maildir:%s", file);
    assert_int_equal(sa_transport_open(spec, &t, &err), SA_EIO);
    assert_null(t);

    /* A read-only directory, where permissions apply (not to root). */
    if (geteuid() != 0) {
        char ro[64];
        snprintf(ro, sizeof ro, "%s/ro", root);
        assert_int_equal(mkdir(ro, 0500), 0);
        snprintf(spec, sizeof spec, "maildir:%s/box", ro);
        assert_int_equal(sa_transport_open(spec, &t, &err), SA_EIO);
        assert_null(t);
        chmod(ro, 0700);
    }
    rm_rf(root);
}

static void test_bad_specs(void **state)
{
    (void)state;
    struct sa_transport *t = (struct sa_transport *)&t;
    struct sa_err err = {0};
    assert_int_equal(sa_transport_open(NULL, &t, &err), SA_ECONFIG);
    assert_null(t);
    assert_int_equal(sa_transport_open("", &t, &err), SA_ECONFIG);
    assert_int_equal(sa_transport_open("maildir:", &t, &err), SA_ECONFIG);
    assert_int_equal(sa_transport_open("mbox:/var/mail/x", &t, &err), SA_ECONFIG);
    assert_non_null(strstr(err.msg, "\"mbox\""));
    assert_non_null(strstr(err.msg, "maildir:DIR"));
    assert_int_equal(sa_transport_open("/tmp/maildir", &t, &err), SA_ECONFIG);
    assert_int_equal(sa_transport_open("Maildir:/tmp/x", &t, &err), SA_ECONFIG);
    /* SMTP opens without connecting (tests/unit/connectors/test_smtp.c sends) */
    assert_int_equal(sa_transport_open("smtp:mail.acme.io", &t, &err), SA_ECONFIG);
    assert_null(t);
    assert_int_equal(sa_transport_open("smtp://mail.acme.io:587", &t, &err), 0);
    assert_string_equal(sa_transport_name(t), "smtp");
    sa_transport_free(t);
}

/* send_once: a key is delivered once, also after the reader moved it to cur/ (with its
 * ":2,S" flags) and after a crashed attempt left a file in tmp/; bad keys are refused. */
static void test_maildir_send_once(void **state)
{
    (void)state;
    char root[] = "/tmp/sa_mail_once_XXXXXX";
    assert_non_null(mkdtemp(root));
    char spec[128], path[512], path2[512];
    snprintf(spec, sizeof spec, "maildir:%s", root);
    struct sa_transport *t = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_transport_open(spec, &t, &err), 0);
    assert_non_null(t->ops->send_once);
    char id1[SA_TRANSPORT_ID_MAX], id2[SA_TRANSPORT_ID_MAX];
    bool already = true;
    const char *key = "01a2103b-794a-7001-820e-eeef48491a4b";
    assert_int_equal(t->ops->send_once(t, key, "bob@globex.example.com", "hi\r\n", 4, id1,
                                       sizeof id1, &already, &err),
                     0);
    assert_false(already);
    assert_int_equal(strncmp(id1, key, strlen(key)), 0);
    assert_int_equal(t->ops->send_once(t, key, "bob@globex.example.com", "hi\r\n", 4, id2,
                                       sizeof id2, &already, &err),
                     0);
    assert_true(already);
    assert_string_equal(id1, id2);
    /* the reader saw it: new/ -> cur/NAME:2,S */
    snprintf(path, sizeof path, "%s/new/%s", root, id1);
    snprintf(path2, sizeof path2, "%s/cur/%s:2,S", root, id1);
    assert_int_equal(rename(path, path2), 0);
    assert_int_equal(t->ops->send_once(t, key, "bob@globex.example.com", "hi\r\n", 4, id2,
                                       sizeof id2, &already, &err),
                     0);
    assert_true(already);
    /* a crashed attempt's leftover in tmp/ does not block a new key */
    const char *key2 = "second-key";
    char stale[600];
    snprintf(stale, sizeof stale, "%s/tmp/%s.%s", root, key2, strchr(id1, '.') + 1);
    FILE *f = fopen(stale, "w");
    assert_non_null(f);
    fputs("partial", f);
    fclose(f);
    assert_int_equal(t->ops->send_once(t, key2, "bob@globex.example.com", "full\r\n", 6, id2,
                                       sizeof id2, &already, &err),
                     0);
    assert_false(already);
    snprintf(path, sizeof path, "%s/new/%s", root, id2);
    f = fopen(path, "r");
    assert_non_null(f);
    char buf[16] = {0};
    assert_int_equal(fread(buf, 1, sizeof buf - 1, f), 6);
    fclose(f);
    assert_string_equal(buf, "full\r\n");
    assert_int_equal(t->ops->send_once(t, "bad/key", "bob@globex.example.com", "x", 1, id2,
                                       sizeof id2, &already, &err),
                     SA_EINVAL);
    sa_transport_free(t);
    rm_rf(root);
}

/* Retention: delivered messages (new/ and cur/) and tmp/ leftovers older than the cutoff
 * go, younger ones stay; delivery stamps a message with business time (the fixed clock),
 * and a dry run only counts. */
static void test_maildir_prune(void **state)
{
    (void)state;
    char root[] = "/tmp/sa_mail_prune_XXXXXX";
    assert_non_null(mkdtemp(root));
    char spec[128], path[512], path2[512];
    snprintf(spec, sizeof spec, "maildir:%s", root);
    struct sa_transport *t = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_transport_open(spec, &t, &err), 0);
    const time_t day1 = 1800000000, day3 = day1 + 2 * 86400;
    char old_id[SA_TRANSPORT_ID_MAX], read_id[SA_TRANSPORT_ID_MAX], new_id[SA_TRANSPORT_ID_MAX];
    sa_clock_set_fixed(day1);
    assert_int_equal(
        sa_transport_send(t, "a@globex.example.com", "a\r\n", 3, old_id, sizeof old_id, &err), 0);
    assert_int_equal(
        sa_transport_send(t, "b@globex.example.com", "b\r\n", 3, read_id, sizeof read_id, &err), 0);
    sa_clock_set_fixed(day3);
    assert_int_equal(
        sa_transport_send(t, "c@globex.example.com", "c\r\n", 3, new_id, sizeof new_id, &err), 0);
    sa_clock_set_fixed(0);
    struct stat st;
    snprintf(path, sizeof path, "%s/new/%s", root, old_id);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mtim.tv_sec, day1);
    /* the reader saw one: new/ -> cur/NAME:2,S (a rename keeps the mtime) */
    snprintf(path, sizeof path, "%s/new/%s", root, read_id);
    snprintf(path2, sizeof path2, "%s/cur/%s:2,S", root, read_id);
    assert_int_equal(rename(path, path2), 0);
    /* a crashed delivery's leftover in tmp/, as old as the first */
    snprintf(path, sizeof path, "%s/tmp/leftover", root);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    struct timespec ts[2] = {{.tv_sec = day1}, {.tv_sec = day1}};
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);

    long n = -1;
    assert_int_equal(sa_transport_prune(t, (double)day1 + 86400, true, &n, &err), 0);
    assert_int_equal(n, 3);
    snprintf(path, sizeof path, "%s/new/%s", root, old_id);
    assert_int_equal(access(path, F_OK), 0); /* counted, not deleted */
    assert_int_equal(sa_transport_prune(t, (double)day1 + 86400, false, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_not_equal(access(path2, F_OK), 0);
    snprintf(path, sizeof path, "%s/new/%s", root, new_id);
    assert_int_equal(access(path, F_OK), 0); /* younger than the cutoff */
    assert_int_equal(sa_transport_prune(t, (double)day1 + 86400, false, &n, &err), 0);
    assert_int_equal(n, 0);
    sa_transport_free(t);
    rm_rf(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_plain),      cmocka_unit_test(test_render_ascii_headers),
        cmocka_unit_test(test_render_ics),        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_header_injection),  cmocka_unit_test(test_addr_valid),
        cmocka_unit_test(test_python_parses),     cmocka_unit_test(test_maildir_delivery),
        cmocka_unit_test(test_maildir_threads),   cmocka_unit_test(test_maildir_unwritable),
        cmocka_unit_test(test_maildir_send_once), cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_render_consent),    cmocka_unit_test(test_maildir_prune),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
