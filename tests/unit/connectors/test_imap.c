/* Pins the IMAP session's parsers and its failures without a server: SEARCH answers as
 * Dovecot, Gmail and Exchange write them (UIDs out of order, CONDSTORE's "(MODSEQ n)",
 * other untagged lines around them), numbers that are no UIDs refused, SELECT's response
 * codes; which URLs are loopback (libcurl's host: "imap://evil?@localhost/" is not); the
 * mailbox's cursor key (the URL's user kept, never its password); and a session to a
 * port where nothing listens fails with SA_EIO, its error carrying neither the password nor the
 * user. The real server is test_api_imap's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "connectors/mail/imap.h"

static void parse(const char *text, uint32_t **uids, size_t *n)
{
    struct sa_err err = {0};
    assert_int_equal(sa_imap_parse_search(text, strlen(text), uids, n, &err), 0);
}

static void test_search(void **state)
{
    (void)state;
    uint32_t *u = NULL;
    size_t n = 9;
    parse("* SEARCH\r\n", &u, &n); /* nothing found */
    assert_null(u);
    assert_int_equal(n, 0);
    parse("* OK [HIGHESTMODSEQ 8]\r\n* SEARCH 17 4 4294967295 9\r\n", &u, &n);
    assert_int_equal(n, 4);
    assert_int_equal(u[0], 4);
    assert_int_equal(u[1], 9);
    assert_int_equal(u[2], 17);
    assert_int_equal(u[3], 4294967295u);
    free(u);
    /* CONDSTORE's modifier ends the list; "* 3 EXISTS" and a SEARCHES line are not UIDs;
     * lowercase and a bare LF are what some servers send */
    parse("* 3 EXISTS\r\n* SEARCHES 8\r\n* search 2 3 (MODSEQ 917162500)\n", &u, &n);
    assert_int_equal(n, 2);
    assert_int_equal(u[0], 2);
    assert_int_equal(u[1], 3);
    free(u);
    /* two SEARCH lines: both counted */
    parse("* SEARCH 5\r\n* SEARCH 1\r\n", &u, &n);
    assert_int_equal(n, 2);
    assert_int_equal(u[0], 1);
    free(u);
    struct sa_err err = {0};
    const char *bad[] = {"* SEARCH 4294967296\r\n", "* SEARCH 0\r\n",
                         "* SEARCH 7 99999999999999999999999\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        u = (uint32_t *)&err; /* cleared on failure */
        n = 3;
        assert_int_equal(sa_imap_parse_search(bad[i], strlen(bad[i]), &u, &n, &err), SA_EIO);
        assert_null(u);
        assert_int_equal(n, 0);
        assert_non_null(strstr(err.msg, "bad UID"));
    }
}

static void test_resp_code(void **state)
{
    (void)state;
    const char *l = "* OK [UIDVALIDITY 1796317084] UIDs valid\r\n";
    assert_int_equal(sa_imap_resp_code(l, strlen(l), "UIDVALIDITY"), 1796317084u);
    assert_int_equal(sa_imap_resp_code(l, strlen(l), "UIDNEXT"), 0);
    l = "* OK [uidnext 42] Predicted next UID\r\n";
    assert_int_equal(sa_imap_resp_code(l, strlen(l), "UIDNEXT"), 42);
    l = "* OK [UIDNEXT 4294967296] too big\r\n";
    assert_int_equal(sa_imap_resp_code(l, strlen(l), "UIDNEXT"), 0);
    l = "* OK [UIDNEXT 12"; /* cut short */
    assert_int_equal(sa_imap_resp_code(l, strlen(l), "UIDNEXT"), 0);
    l = "* OK [UIDNEXTX 12] not the code";
    assert_int_equal(sa_imap_resp_code(l, strlen(l), "UIDNEXT"), 0);
}

/* A loopback port nobody listens on (bound, then closed). */
static int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* The cursor's key: two users of one URL have two (the URL's user is kept when IMAP_USER
 * is unset), the password is never in it, IMAP_USER wins over the URL's user. */
static void test_mailbox_key(void **state)
{
    (void)state;
    static const struct {
        const char *url, *user, *want;
    } cases[] = {
        {"imaps://alice:s3cret-A@mail.example.com/INBOX", NULL,
         "imaps://mail.example.com/INBOX alice"},
        {"imaps://bob:s3cret-B@mail.example.com/INBOX", NULL, "imaps://mail.example.com/INBOX bob"},
        {"imaps://bob:s3cret-B@mail.example.com/INBOX", "carol",
         "imaps://mail.example.com/INBOX carol"},
        {"imap://sales%40example.com;AUTH=PLAIN:pw@127.0.0.1:1143/Replies", NULL,
         "imap://127.0.0.1:1143/Replies sales%40example.com"},
        {"imaps://dave@mail.example.com/INBOX", NULL, "imaps://mail.example.com/INBOX dave"},
        {"imaps://mail.example.com/INBOX", "erin", "imaps://mail.example.com/INBOX erin"},
        {"imaps://mail.example.com/INBOX", NULL, "imaps://mail.example.com/INBOX "},
        {"imaps://mail.example.com/a@b", NULL, "imaps://mail.example.com/a@b "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *k = sa_imap_mailbox_key(cases[i].url, cases[i].user);
        assert_non_null(k);
        assert_string_equal(k, cases[i].want);
        assert_null(strstr(k, "s3cret"));
        free(k);
    }
}

/* imap:// stays in clear only to a loopback host: the host libcurl connects to. */
static void test_loopback(void **state)
{
    (void)state;
    assert_true(sa_imap_loopback("imap://127.0.0.1:1143/INBOX"));
    assert_true(sa_imap_loopback("imap://u:p@localhost/INBOX"));
    assert_true(sa_imap_loopback("imap://[::1]:143/INBOX"));
    assert_true(sa_imap_loopback("imap://LOCALHOST"));
    assert_false(sa_imap_loopback("imap://evil?@localhost/INBOX"));
    assert_false(sa_imap_loopback("imap://evil#@127.0.0.1/INBOX"));
    assert_false(sa_imap_loopback("imap://localhost.evil.example/INBOX"));
    assert_false(sa_imap_loopback("imap://127.0.0.1.evil.example:143/INBOX"));
    assert_false(sa_imap_loopback("imap://localhost@evil.example/INBOX"));
    assert_false(sa_imap_loopback("imap://mail.example.com/localhost"));
}

static void test_no_server(void **state)
{
    (void)state;
    char url[128];
    snprintf(url, sizeof url, "imap://127.0.0.1:%d/INBOX", dead_port());
    struct sa_imap_options o = {.url = url,
                                .user = "replies@pipewise.example",
                                .password = "hunter2-imap",
                                .connect_timeout_ms = 2000,
                                .timeout_ms = 5000};
    struct sa_imap *im = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_imap_open(&o, &im, &err), 0);
    uint32_t *u = NULL;
    size_t n = 0;
    assert_int_equal(sa_imap_search(im, "UID 1:*", &u, &n, &err), SA_EIO);
    assert_null(u);
    assert_non_null(strstr(err.msg, "IMAP: "));
    assert_null(strstr(err.msg, "hunter2"));
    assert_null(strstr(err.msg, "replies@"));
    assert_int_equal(sa_imap_uidvalidity(im), 0);
    sa_imap_close(im);
    sa_imap_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_search),      cmocka_unit_test(test_resp_code),
        cmocka_unit_test(test_mailbox_key), cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_no_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
