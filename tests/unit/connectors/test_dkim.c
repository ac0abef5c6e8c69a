/* Pins DKIM signing: relaxed canonicalization against RFC 6376's own example and its edge
 * cases, and signatures a real verifier (python3-dkim, with the public key derived by the
 * openssl command) accepts for RSA and Ed25519 keys, on messages the outbox renders and
 * the Maildir transport delivers; a changed byte fails them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <sys/wait.h>

#include "base/buf.h"
#include "connectors/mail/dkim.h"
#include "connectors/mail/message.h"
#include "connectors/mail/transport.h"
#include "mail_fixture.h"

static void header_is(const char *in, const char *want)
{
    struct sa_buf b;
    sa_buf_init(&b, 1 << 16);
    assert_int_equal(sa_dkim_canon_header(in, strlen(in), &b), 0);
    assert_string_equal(b.data ? b.data : "", want);
    sa_buf_free(&b);
}

static void body_is(const char *in, const char *want)
{
    struct sa_buf b;
    sa_buf_init(&b, 1 << 16);
    assert_int_equal(sa_dkim_canon_body(in, strlen(in), &b), 0);
    assert_string_equal(b.data ? b.data : "", want);
    sa_buf_free(&b);
}

/* RFC 6376 section 3.4.5: the example, relaxed/relaxed. */
static void test_canon_rfc_example(void **state)
{
    (void)state;
    header_is("A: X\r\n", "a:X\r\n");
    header_is("B : Y\t\r\n\tZ  \r\n", "b:Y Z\r\n");
    body_is(" C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n");
}

static void test_canon_header_edges(void **state)
{
    (void)state;
    /* folded over three lines, runs of WSP inside, WSP at the end */
    header_is("Subject: Quarterly\r\n\t review   of\r\n  pricing \t\r\n",
              "subject:Quarterly review of pricing\r\n");
    /* the name keeps its letters but not its case; WSP around the colon goes */
    header_is("MIME-Version \t:   1.0\r\n", "mime-version:1.0\r\n");
    /* an empty value; a field without its CRLF (the DKIM-Signature being signed) */
    header_is("X-Empty:\r\n", "x-empty:\r\n");
    header_is("X-Empty:   \t", "x-empty:\r\n");
    /* an encoded word folded the way message.c folds it */
    header_is("To: =?UTF-8?B?SsO8cmdlbiBHcm/Dnw==?=\r\n <j.gross@globex-industrie.de>\r\n",
              "to:=?UTF-8?B?SsO8cmdlbiBHcm/Dnw==?= <j.gross@globex-industrie.de>\r\n");
    /* a colon in the value is the value's */
    header_is("Subject: Re: Re:  pilot\r\n", "subject:Re: Re: pilot\r\n");
}

static void test_canon_body_edges(void **state)
{
    (void)state;
    body_is("", "");                 /* an empty body stays empty (RFC 6376 errata 3133) */
    body_is("\r\n\r\n\r\n", "");     /* only empty lines: empty */
    body_is(" \t\r\n\t\r\n", "");    /* lines of only WSP are empty lines at the end */
    body_is("Thanks", "Thanks\r\n"); /* a missing final CRLF is added */
    body_is("Hi Dana,\r\n\r\n\r\nBest,\r\nAlex\r\n\r\n",
            "Hi Dana,\r\n\r\n\r\nBest,\r\nAlex\r\n"); /* empty lines inside stay */
    body_is("a  \t b   \r\n", "a b\r\n");
    body_is("\t  indented\r\n", " indented\r\n"); /* leading WSP: one space, kept */
    body_is("-- \r\nAlex\r\n", "--\r\nAlex\r\n"); /* the signature separator loses its space */
    body_is("x\r\n \r\ny\r\n", "x\r\n\r\ny\r\n"); /* a WSP-only line inside becomes empty */
}

static const char *const ICS =
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Acme//Sales Agent//EN\r\nMETHOD:REQUEST\r\n"
    "BEGIN:VEVENT\r\nUID:mtg-7f3a@acme-analytics.io\r\nDTSTAMP:20261203T090000Z\r\n"
    "DTSTART:20261208T150000Z\r\nDTEND:20261208T153000Z\r\nSUMMARY:Acme x Globex\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n";

/* A message as the outbox renders one: UTF-8 names and subject (encoded words, folded),
 * a reply, the consent headers, a trailing-space line and a line starting with a dot. */
static char *rendered(bool with_ics, size_t *len)
{
    struct sa_mail m = {
        .from_name = "Dana Whitfield",
        .from_addr = "dana@acme-analytics.io",
        .to_name = "Jürgen Groß",
        .to_addr = "j.gross@globex-industrie.de",
        .subject = "Re: Ihre Anfrage zur Preisgestaltung – Pilotprojekt Q1 für Globex Industrie",
        .text = "Hallo Herr Groß,\n\ndanke für Ihre Antwort.  \n.NET-Integration: ja.\n\n"
                "Beste Grüße\nDana\n\n\n",
        .ics = with_ics ? ICS : NULL,
        .message_id_key = "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b",
        .in_reply_to = "<CAF=x7Yq9pL@mail.gmail.com>",
        .date = 1796302800,
        .unsubscribe_url = "https://sales.acme-analytics.io/unsubscribe/eyJ0IjoxfQ.c2ln",
        .unsubscribe_mailto = "mailto:dana@acme-analytics.io?subject=unsubscribe",
        .sender_address = "Acme Analytics GmbH, Torstraße 49, 10119 Berlin",
    };
    char *msg = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_mail_render(&m, &msg, len, &err), 0);
    return msg;
}

/* The one file in DIR/new (malloc'd path). */
static char *only_file(const char *dir)
{
    char sub[512];
    snprintf(sub, sizeof sub, "%s/new", dir);
    DIR *d = opendir(sub);
    assert_non_null(d);
    struct dirent *e;
    char *path = NULL;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        assert_null(path);
        assert_true(asprintf(&path, "%s/%s", sub, e->d_name) > 0);
    }
    closedir(d);
    assert_non_null(path);
    return path;
}

/* Signs a rendered message through a Maildir transport with a kind key, checks the
 * delivered file is the DKIM-Signature plus the message byte for byte, that python3-dkim
 * verifies it (and the record we say to publish), and that a changed byte fails it. */
static void sign_and_verify(const char *kind, const char *domain, const char *want_d)
{
    const char *py = python_with("dkim");
    char dir[64], key[128], maildir[128], mail_spec[160];
    make_tmpdir("dkim", dir, sizeof dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(maildir, sizeof maildir, "%s/mail", dir);
    snprintf(mail_spec, sizeof mail_spec, "maildir:%s", maildir);
    make_key(kind, key);
    struct sa_transport_options o = {
        .dkim_key_file = key, .dkim_selector = "s2026", .dkim_domain = domain};
    struct sa_transport *t = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_transport_open_with(mail_spec, &o, &t, &err), 0);
    assert_string_equal(sa_transport_name(t), "dkim");
    for (int with_ics = 0; with_ics < 2; with_ics++) {
        size_t len;
        char *msg = rendered(with_ics, &len);
        char id[SA_TRANSPORT_ID_MAX];
        bool already = true;
        char okey[32];
        snprintf(okey, sizeof okey, "item-%d", with_ics);
        assert_int_equal(sa_transport_send_once(t, okey, "j.gross@globex-industrie.de", msg, len,
                                                id, sizeof id, &already, &err),
                         0);
        assert_false(already);
        char *path = only_file(maildir);
        size_t got_len;
        char *got = slurp(path, &got_len);
        assert_non_null(got);
        /* the signature first, then the message unchanged */
        assert_true(strncmp(got, "DKIM-Signature: v=1; a=", 23) == 0);
        const char *rest = strstr(got, "\r\n");
        while (rest && (rest[2] == ' ' || rest[2] == '\t'))
            rest = strstr(rest + 2, "\r\n");
        assert_non_null(rest);
        rest += 2;
        assert_int_equal(got_len - (size_t)(rest - got), len);
        assert_memory_equal(rest, msg, len);
        char tag[64];
        snprintf(tag, sizeof tag, "d=%s; s=s2026;", want_d);
        assert_non_null(strstr(got, tag));
        assert_non_null(
            strstr(got, !strcmp(kind, "ed25519") ? "a=ed25519-sha256;" : "a=rsa-sha256;"));
        assert_non_null(strstr(got, "List-Unsubscribe:List-Unsubscribe-Post"));
        assert_non_null(strstr(got, "In-Reply-To:References"));
        char *record = NULL;
        struct sa_dkim *dk = NULL;
        assert_int_equal(sa_dkim_open(key, "s2026", NULL, &dk, &err), 0);
        assert_int_equal(sa_dkim_dns_record(dk, &record, &err), 0);
        /* the same bytes when signed again: no timestamp */
        char *again = NULL;
        size_t again_len = 0;
        struct sa_dkim *dk2 = NULL;
        assert_int_equal(sa_dkim_open(key, "s2026", domain, &dk2, &err), 0);
        assert_int_equal(sa_dkim_sign(dk2, msg, len, &again, &again_len, &err), 0);
        assert_int_equal(again_len, got_len);
        assert_memory_equal(again, got, got_len);
        free(again);
        sa_dkim_free(dk2);
        sa_dkim_free(dk);
        assert_int_equal(run("%s %s/tests/harness/dkim_verify.py %s %s s2026 %s '%s' >&2", py,
                             SA_SOURCE_DIR, path, key, want_d, record),
                         0);
        /* one byte of the body changed: the body hash no longer matches */
        char *body = strstr(got, "\r\n\r\n");
        assert_non_null(body);
        body += 4;
        char was = body[0];
        body[0] = was == 'X' ? 'Y' : 'X';
        spit(path, got, got_len);
        assert_int_equal(run("%s %s/tests/harness/dkim_verify.py %s %s s2026 %s >&2", py,
                             SA_SOURCE_DIR, path, key, want_d),
                         1);
        /* a signed header changed */
        body[0] = was;
        char *subj = strstr(got, "\r\nSubject:");
        assert_non_null(subj);
        subj[2] = 's'; /* the name's case is canonicalized away: still valid */
        spit(path, got, got_len);
        assert_int_equal(run("%s %s/tests/harness/dkim_verify.py %s %s s2026 %s >&2", py,
                             SA_SOURCE_DIR, path, key, want_d),
                         0);
        char *to = strstr(got, "j.gross@globex");
        assert_non_null(to);
        to[0] = 'k';
        spit(path, got, got_len);
        assert_int_equal(run("%s %s/tests/harness/dkim_verify.py %s %s s2026 %s >&2", py,
                             SA_SOURCE_DIR, path, key, want_d),
                         1);
        free(record);
        assert_int_equal(unlink(path), 0);
        free(path);
        free(got);
        free(msg);
    }
    sa_transport_free(t);
    rm_rf(dir);
}

static void test_rsa_verifies(void **state)
{
    (void)state;
    sign_and_verify("rsa2048", NULL, "acme-analytics.io");
}

static void test_ed25519_verifies(void **state)
{
    (void)state;
    sign_and_verify("ed25519", NULL, "acme-analytics.io");
}

/* DKIM_DOMAIN: the d= is the configured domain, not the From's (a parent domain). */
static void test_configured_domain(void **state)
{
    (void)state;
    sign_and_verify("rsa2048", "mail.acme-analytics.io", "mail.acme-analytics.io");
}

static void test_bad_keys(void **state)
{
    (void)state;
    char dir[64], path[128];
    make_tmpdir("dkim", dir, sizeof dir);
    struct sa_dkim *d = (struct sa_dkim *)&d;
    struct sa_err err = {0};
    snprintf(path, sizeof path, "%s/missing.pem", dir);
    assert_int_equal(sa_dkim_open(path, "s1", NULL, &d, &err), SA_ECONFIG);
    assert_null(d);
    snprintf(path, sizeof path, "%s/short.pem", dir);
    make_key("rsa512", path);
    assert_int_equal(sa_dkim_open(path, "s1", NULL, &d, &err), SA_ECONFIG);
    assert_non_null(strstr(err.msg, "1024"));
    snprintf(path, sizeof path, "%s/ec.pem", dir);
    make_key("p256", path);
    assert_int_equal(sa_dkim_open(path, "s1", NULL, &d, &err), SA_ECONFIG);
    assert_non_null(strstr(err.msg, "RSA or Ed25519"));
    snprintf(path, sizeof path, "%s/cert.txt", dir);
    spit(path, "not a key\n", 10);
    assert_int_equal(sa_dkim_open(path, "s1", NULL, &d, &err), SA_ECONFIG);
    snprintf(path, sizeof path, "%s/ed.pem", dir);
    make_key("ed25519", path);
    assert_int_equal(sa_dkim_open(path, "", NULL, &d, &err), SA_ECONFIG);
    assert_int_equal(sa_dkim_open(path, "bad selector", NULL, &d, &err), SA_ECONFIG);
    assert_int_equal(sa_dkim_open(path, "s1", "acme..io", &d, &err), SA_ECONFIG);
    assert_int_equal(sa_dkim_open(path, "s1", "-acme.io", &d, &err), SA_ECONFIG);
    assert_null(d);
    /* through the transport: a key without a selector */
    struct sa_transport_options o = {.dkim_key_file = path};
    char spec[160];
    snprintf(spec, sizeof spec, "maildir:%s/mail", dir);
    struct sa_transport *t = (struct sa_transport *)&t;
    assert_int_equal(sa_transport_open_with(spec, &o, &t, &err), SA_ECONFIG);
    assert_non_null(strstr(err.msg, "DKIM_SELECTOR"));
    assert_null(t);
    /* a message with no From cannot be signed: refused for good */
    assert_int_equal(sa_dkim_open(path, "s1", NULL, &d, &err), 0);
    char *out = NULL;
    size_t n = 0;
    const char *nofrom = "To: a@globex.com\r\nSubject: x\r\n\r\nbody\r\n";
    assert_int_equal(sa_dkim_sign(d, nofrom, strlen(nofrom), &out, &n, &err), SA_EINVAL);
    assert_null(out);
    sa_dkim_free(d);
    rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canon_rfc_example), cmocka_unit_test(test_canon_header_edges),
        cmocka_unit_test(test_canon_body_edges),  cmocka_unit_test(test_rsa_verifies),
        cmocka_unit_test(test_ed25519_verifies),  cmocka_unit_test(test_configured_domain),
        cmocka_unit_test(test_bad_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
