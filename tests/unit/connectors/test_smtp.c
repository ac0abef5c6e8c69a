/* Pins the SMTP transport against a real SMTP server (aiosmtpd, tests/harness/
 * smtp_server.py) on a loopback port with a throwaway certificate: STARTTLS required
 * (and refused when the server offers none), implicit TLS, AUTH PLAIN and LOGIN with
 * percent-encoded credentials or the environment's, a wrong password, a certificate that
 * does not verify, 4xx answers (temporary) and 5xx answers (permanent, for that
 * recipient only), messages received byte for byte with their envelope, many messages
 * over one connection, the queue id as the delivered id, DKIM-signed mail a real verifier
 * accepts, the deadline, the circuit breaker and the connector metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "base/buf.h"
#include "connectors/mail/transport.h"
#include "metrics/metrics.h"
#include "mail_fixture.h"

static char certdir[64]; /* the throwaway CA-less self-signed certificate, per run */
static char cert[128], certkey[128];

struct server {
    char dir[64];
    pid_t pid;
    int port;
};

static const char *const USER = "sdr@acme-analytics.io";
static const char *const PASS = "p@ss:w/rd%9 x";
/* the same, percent-encoded for a URL */
static const char *const USERPASS_URL = "sdr%40acme-analytics.io:p%40ss%3Aw%2Frd%259%20x";

/* The servers running, so a failed test's (cmocka leaves the test at the failed assert)
 * are stopped by the teardown, never left behind. */
static struct server *live[4];

/* Starts smtp_server.py with args (after --dir) and waits until it listens. */
static void server_start(struct server *s, const char *args)
{
    *s = (struct server){0};
    for (size_t i = 0; i < 4; i++)
        if (!live[i]) {
            live[i] = s;
            break;
        }
    make_tmpdir("smtp", s->dir, sizeof s->dir);
    const char *py = python_with("aiosmtpd");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "exec %s %s/tests/harness/smtp_server.py --dir %s %s 2>%s/server.err",
             py, SA_SOURCE_DIR, s->dir, args, s->dir);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    char port_file[128];
    snprintf(port_file, sizeof port_file, "%s/port", s->dir);
    for (int i = 0; i < 2000; i++) { /* up to 40 s on a loaded machine */
        char *p = slurp(port_file, NULL);
        if (p) {
            s->port = atoi(p); // NOLINT(cert-err34-c): written by our own server
            free(p);
            return;
        }
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            char errf[128];
            snprintf(errf, sizeof errf, "%s/server.err", s->dir);
            char *e = slurp(errf, NULL);
            fail_msg("smtp_server.py exited: %s", e ? e : "?");
        }
        struct timespec ts = {0, 20000000L};
        nanosleep(&ts, NULL);
    }
    fail_msg("smtp_server.py did not start");
}

static void server_stop(struct server *s)
{
    for (size_t i = 0; i < 4; i++)
        if (live[i] == s)
            live[i] = NULL;
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
    rm_rf(s->dir);
}

static int server_connections(const struct server *s)
{
    char path[128];
    snprintf(path, sizeof path, "%s/connections", s->dir);
    char *c = slurp(path, NULL);
    int n = 0;
    for (const char *p = c; p && *p; p++)
        n += *p == '\n';
    free(c);
    return n;
}

/* The n-th message the server accepted (1-based) and its metadata; NULL when none. */
static char *server_message(const struct server *s, int n, size_t *len, json_t **meta)
{
    char path[160];
    snprintf(path, sizeof path, "%s/mail/%d.eml", s->dir, n);
    char *m = slurp(path, len);
    if (m && meta) {
        snprintf(path, sizeof path, "%s/mail/%d.json", s->dir, n);
        *meta = json_load_file(path, 0, NULL);
        assert_non_null(*meta);
    }
    return m;
}

static void server_script(const struct server *s, const char *json)
{
    char path[160];
    snprintf(path, sizeof path, "%s/script.json", s->dir);
    spit(path, json, strlen(json));
}

static char *server_file(const struct server *s, const char *name)
{
    char path[160];
    snprintf(path, sizeof path, "%s/%s", s->dir, name);
    return slurp(path, NULL);
}

/* A message as a B2B sender writes one: folded and encoded headers, a line starting with
 * a dot and one that is only a dot (SMTP's end marker, which must be stuffed), trailing
 * whitespace, 8-bit-free quoted-printable. */
static char *message(int n, size_t *len)
{
    char *m = NULL;
    int k = asprintf(
        &m,
        "Date: Thu, 03 Dec 2026 09:%02d:00 +0000\r\n"
        "From: Dana Whitfield <dana@acme-analytics.io>\r\n"
        "To: =?UTF-8?B?SsO8cmdlbiBHcm/Dnw==?=\r\n <j.gross@globex-industrie.de>\r\n"
        "Subject: =?UTF-8?Q?Pilotprojekt_Q1_f=C3=BCr_Globex_=E2=80=93_n=C3=A4chste_Schritt?=\r\n"
        " =?UTF-8?Q?e?=\r\n"
        "Message-ID: <0193a1b2-7c4d-7e8f-9a0b-%012d@acme-analytics.io>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=UTF-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        "Hallo Herr Gro=C3=9F,  \r\n"
        "\r\n"
        ".NET and Java SDKs are both supported.\r\n"
        ".\r\n"
        "..two dots\r\n"
        "Beste Gr=C3=BC=C3=9Fe\r\n"
        "Dana\r\n",
        n, n);
    assert_true(k > 0);
    *len = (size_t)k;
    return m;
}

static struct sa_transport *open_smtp(const char *url, const struct sa_transport_options *o)
{
    struct sa_transport *t = NULL;
    struct sa_err err = {0};
    if (sa_transport_open_with(url, o, &t, &err) != 0)
        fail_msg("open %s: %s", url, err.msg);
    return t;
}

static int send_one(struct sa_transport *t, const char *to, int n, char *id, size_t cap,
                    struct sa_err *err)
{
    size_t len;
    char *m = message(n, &len);
    int rc = sa_transport_send(t, to, m, len, id, cap, err);
    free(m);
    return rc;
}

/* The message the server got is the one sent, byte for byte, to the envelope given. */
static void received_is(const struct server *s, int n, int sent_as, const char *from,
                        const char *to)
{
    size_t got_len, want_len;
    json_t *meta = NULL;
    char *got = server_message(s, n, &got_len, &meta);
    assert_non_null(got);
    char *want = message(sent_as, &want_len);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
    assert_string_equal(json_string_value(json_object_get(meta, "mail_from")), from);
    assert_int_equal(json_array_size(json_object_get(meta, "rcpt_tos")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(meta, "rcpt_tos"), 0)),
                        to);
    json_decref(meta);
    free(got);
    free(want);
}

static char *url_for(const struct server *s, const char *scheme, const char *cred,
                     const char *params)
{
    char *u = NULL;
    assert_true(asprintf(&u, "%s://%s%s127.0.0.1:%d%s%s", scheme, cred ? cred : "", cred ? "@" : "",
                         s->port, params ? "?" : "", params ? params : "") > 0);
    return u;
}

static char *tls_args(const char *extra)
{
    char *a = NULL;
    assert_true(asprintf(&a, "--cert %s --key %s %s", cert, certkey, extra) > 0);
    return a;
}

/* ---- tests --------------------------------------------------------------------------- */

/* STARTTLS required, AUTH PLAIN with percent-encoded credentials: twenty messages over one
 * connection, each received byte for byte (dots stuffed and unstuffed), the queue id of
 * the 250 to DATA as the delivered id. */
static void test_starttls_many_one_connection(void **state)
{
    (void)state;
    struct server s;
    char *args = tls_args("--user 'sdr@acme-analytics.io' --password 'p@ss:w/rd%9 x'");
    server_start(&s, args);
    char *url = url_for(&s, "smtp", USERPASS_URL, "starttls=required&auth=plain");
    struct sa_transport_options o = {.smtp_ca_file = cert};
    struct sa_transport *t = open_smtp(url, &o);
    struct sa_err err = {0};
    for (int i = 1; i <= 20; i++) {
        char id[SA_TRANSPORT_ID_MAX], want[32];
        if (send_one(t, "j.gross@globex-industrie.de", i, id, sizeof id, &err) != 0)
            fail_msg("message %d: %s", i, err.msg);
        snprintf(want, sizeof want, "Q%05dX", i);
        assert_string_equal(id, want);
    }
    for (int i = 1; i <= 20; i++)
        received_is(&s, i, i, "dana@acme-analytics.io", "j.gross@globex-industrie.de");
    json_t *meta = NULL;
    free(server_message(&s, 1, NULL, &meta));
    assert_true(json_is_true(json_object_get(meta, "tls")));
    assert_true(json_is_true(json_object_get(meta, "auth")));
    json_decref(meta);
    assert_int_equal(server_connections(&s), 1);
    char *auth = server_file(&s, "auth.log");
    assert_string_equal(auth, "PLAIN ok\n");
    free(auth);
    sa_transport_free(t);
    server_stop(&s);
    free(url);
    free(args);
}

/* AUTH LOGIN with the credentials from SMTP_USERNAME / SMTP_PASSWORD, an envelope sender
 * from SMTP_MAIL_FROM; then a wrong password is refused (SA_ECONFIG, never echoed). */
static void test_auth_login_env_and_wrong_password(void **state)
{
    (void)state;
    struct server s;
    char *args = tls_args("--user 'sdr@acme-analytics.io' --password 'p@ss:w/rd%9 x'");
    server_start(&s, args);
    char *url = url_for(&s, "smtp", NULL, "auth=login");
    struct sa_transport_options o = {.smtp_ca_file = cert,
                                     .smtp_username = USER,
                                     .smtp_password = PASS,
                                     .smtp_mail_from = "bounces@acme-analytics.io"};
    struct sa_transport *t = open_smtp(url, &o);
    struct sa_err err = {0};
    char id[SA_TRANSPORT_ID_MAX];
    assert_int_equal(send_one(t, "m.chen@initech.example.com", 1, id, sizeof id, &err), 0);
    received_is(&s, 1, 1, "bounces@acme-analytics.io", "m.chen@initech.example.com");
    sa_transport_free(t);

    o.smtp_password = "Summer2026!";
    t = open_smtp(url, &o);
    assert_int_equal(send_one(t, "m.chen@initech.example.com", 2, id, sizeof id, &err), SA_ECONFIG);
    assert_non_null(strstr(err.msg, "credentials"));
    assert_non_null(strstr(err.msg, "535"));
    assert_null(strstr(err.msg, "Summer2026"));
    assert_string_equal(id, "");
    assert_null(server_message(&s, 2, NULL, NULL));
    char *auth = server_file(&s, "auth.log");
    assert_string_equal(auth, "LOGIN ok\nLOGIN refused\n");
    free(auth);
    sa_transport_free(t);
    server_stop(&s);
    free(url);
    free(args);
}

/* A server that offers no STARTTLS: refused while the URL requires it (nothing sent, no
 * password crossed the wire); accepted with starttls=none and no credentials. */
static void test_starttls_missing(void **state)
{
    (void)state;
    struct server s;
    server_start(&s, "");
    char *url = url_for(&s, "smtp", NULL, NULL);
    struct sa_transport *t = open_smtp(url, NULL);
    struct sa_err err = {0};
    char id[SA_TRANSPORT_ID_MAX];
    assert_int_equal(send_one(t, "j.gross@globex-industrie.de", 1, id, sizeof id, &err),
                     SA_ECONFIG);
    assert_non_null(strstr(err.msg, "STARTTLS"));
    assert_null(server_message(&s, 1, NULL, NULL));
    sa_transport_free(t);
    free(url);
    /* credentials with starttls=none are refused when opening */
    url = url_for(&s, "smtp", USERPASS_URL, "starttls=none");
    t = (struct sa_transport *)&t;
    assert_int_equal(sa_transport_open_with(url, NULL, &t, &err), SA_ECONFIG);
    assert_null(t);
    assert_non_null(strstr(err.msg, "in clear"));
    assert_null(strstr(err.msg, "p%40ss"));
    free(url);
    url = url_for(&s, "smtp", NULL, "starttls=none");
    t = open_smtp(url, NULL);
    assert_int_equal(send_one(t, "j.gross@globex-industrie.de", 2, id, sizeof id, &err), 0);
    received_is(&s, 1, 2, "dana@acme-analytics.io", "j.gross@globex-industrie.de");
    sa_transport_free(t);
    server_stop(&s);
    free(url);
}

/* smtps:// (TLS from the first byte, port 465's way); and a certificate that does not
 * verify without the CA file is refused. */
static void test_implicit_tls_and_verification(void **state)
{
    (void)state;
    struct server s;
    char *args = tls_args("--implicit-tls");
    server_start(&s, args);
    char *url = url_for(&s, "smtps", NULL, NULL);
    struct sa_transport *t = open_smtp(url, NULL); /* the system CAs: ours is not one */
    struct sa_err err = {0};
    char id[SA_TRANSPORT_ID_MAX];
    assert_int_equal(send_one(t, "j.gross@globex-industrie.de", 1, id, sizeof id, &err),
                     SA_ECONFIG);
    assert_non_null(strstr(err.msg, "certificate"));
    sa_transport_free(t);
    free(url);
    char params[200];
    snprintf(params, sizeof params, "cafile=%s", cert);
    url = url_for(&s, "smtps", NULL, params);
    t = open_smtp(url, NULL);
    assert_int_equal(send_one(t, "j.gross@globex-industrie.de", 2, id, sizeof id, &err), 0);
    received_is(&s, 1, 2, "dana@acme-analytics.io", "j.gross@globex-industrie.de");
    json_t *meta = NULL;
    free(server_message(&s, 1, NULL, &meta));
    assert_true(json_is_true(json_object_get(meta, "tls")));
    json_decref(meta);
    sa_transport_free(t);
    server_stop(&s);
    free(url);
    free(args);
}

static const struct sa_metric_desc breaker_family = {"circuit_breaker_state", "test", SA_GAUGE,
                                                     {"provider", NULL},      NULL,   0};

static bool rendered_has(struct sa_metrics *m, const char *line)
{
    struct sa_buf b;
    sa_buf_init(&b, 1 << 20);
    assert_int_equal(sa_metrics_render(m, &b), 0);
    bool has = b.data && strstr(b.data, line);
    if (!has)
        fprintf(stderr, "metrics lack %s:\n%s", line, b.data ? b.data : "");
    sa_buf_free(&b);
    return has;
}

/* 4xx: temporary (SA_EIO), nothing delivered, the retry succeeds; 5xx to one recipient:
 * permanent (SA_EINVAL) for that message only, the next one goes through; neither opens
 * the breaker (the server answered); each counted by its reply code. */
static void test_replies_4xx_5xx(void **state)
{
    (void)state;
    struct server s;
    char *args = tls_args("");
    server_start(&s, args);
    server_script(&s, "{\"rcpt\": {\"bob@globex.com\": [\"451 4.7.1 <bob@globex.com>: "
                      "Recipient address rejected: Greylisted, try again in 300 s\"],"
                      "\"nobody@globex.com\": [\"550 5.1.1 <nobody@globex.com>: Recipient "
                      "address rejected: User unknown in virtual mailbox table\"]},"
                      "\"data\": {\"eve@globex.com\": [\"452 4.3.1 Insufficient system "
                      "storage\"], \"mallory@globex.com\": [\"554 5.7.1 Message rejected "
                      "as spam\"]}}");
    char *url = url_for(&s, "smtp", NULL, NULL);
    struct sa_metrics *m = sa_metrics_new();
    int fam = sa_metrics_register(m, &breaker_family);
    struct sa_transport_options o = {
        .smtp_ca_file = cert, .metrics = m, .m_breaker = fam, .breaker_failures = 1};
    struct sa_transport *t = open_smtp(url, &o);
    struct sa_err err = {0};
    char id[SA_TRANSPORT_ID_MAX];
    /* greylisted: temporary; the retry is delivered */
    assert_int_equal(send_one(t, "bob@globex.com", 1, id, sizeof id, &err), SA_EIO);
    assert_non_null(strstr(err.msg, "451"));
    assert_non_null(strstr(err.msg, "RCPT"));
    assert_null(strstr(err.msg, "bob@globex.com")); /* addresses masked */
    assert_null(server_message(&s, 1, NULL, NULL));
    assert_int_equal(send_one(t, "bob@globex.com", 2, id, sizeof id, &err), 0);
    received_is(&s, 1, 2, "dana@acme-analytics.io", "bob@globex.com");
    /* unknown user: permanent; a good recipient right after is delivered */
    assert_int_equal(send_one(t, "nobody@globex.com", 3, id, sizeof id, &err), SA_EINVAL);
    assert_non_null(strstr(err.msg, "550 5.1.1"));
    assert_int_equal(send_one(t, "alice@globex.com", 4, id, sizeof id, &err), 0);
    received_is(&s, 2, 4, "dana@acme-analytics.io", "alice@globex.com");
    /* answers to the end of DATA: 554 permanent, 452 temporary */
    assert_int_equal(send_one(t, "mallory@globex.com", 5, id, sizeof id, &err), SA_EINVAL);
    assert_non_null(strstr(err.msg, "554 5.7.1"));
    assert_int_equal(send_one(t, "eve@globex.com", 6, id, sizeof id, &err), SA_EIO);
    assert_non_null(strstr(err.msg, "DATA"));
    assert_non_null(strstr(err.msg, "452"));
    assert_null(server_message(&s, 3, NULL, NULL));
    /* the 452 is the server's trouble: with a threshold of 1 it opened the breaker... */
    assert_true(rendered_has(m, "circuit_breaker_state{provider=\"smtp\"} 1"));
    assert_int_equal(send_one(t, "alice@globex.com", 7, id, sizeof id, &err), SA_EIO);
    assert_non_null(strstr(err.msg, "circuit open"));
    assert_null(server_message(&s, 3, NULL, NULL));
    assert_true(rendered_has(m, "connector_requests_total{connector=\"smtp\",status=\"451\"} 1"));
    assert_true(rendered_has(m, "connector_requests_total{connector=\"smtp\",status=\"550\"} 1"));
    assert_true(rendered_has(m, "connector_requests_total{connector=\"smtp\",status=\"250\"} 2"));
    assert_true(rendered_has(m, "connector_requests_total{connector=\"smtp\",status=\"452\"} 1"));
    assert_true(rendered_has(m, "connector_requests_total{connector=\"smtp\",status=\"554\"} 1"));
    assert_true(
        rendered_has(m, "connector_requests_total{connector=\"smtp\",status=\"breaker_open\"} 1"));
    assert_true(rendered_has(m, "connector_request_seconds_count{connector=\"smtp\"} 6"));
    sa_transport_free(t);
    sa_metrics_free(m);
    server_stop(&s);
    free(url);
    free(args);
}

/* A server that accepts the connection and never greets: SA_ETIMEDOUT at the deadline
 * (SMTP_TIMEOUT_MS), not a hang; then a refused connection is SA_EIO, and two failures
 * open the breaker. */
static void test_deadline_and_breaker(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 8), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    char url[128];
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d?starttls=none", ntohs(a.sin_port));
    struct sa_transport_options o = {.smtp_timeout_ms = 300, .breaker_failures = 2};
    struct sa_transport *t = open_smtp(url, &o);
    struct sa_err err = {0};
    char id[SA_TRANSPORT_ID_MAX];
    assert_int_equal(send_one(t, "j.gross@globex-industrie.de", 1, id, sizeof id, &err),
                     SA_ETIMEDOUT);
    close(fd); /* now nothing listens there */
    assert_int_equal(send_one(t, "j.gross@globex-industrie.de", 1, id, sizeof id, &err), SA_EIO);
    assert_null(strstr(err.msg, "circuit open"));
    assert_int_equal(send_one(t, "j.gross@globex-industrie.de", 1, id, sizeof id, &err), SA_EIO);
    assert_non_null(strstr(err.msg, "circuit open"));
    sa_transport_free(t);
}

/* DKIM over SMTP: the received message carries a signature python3-dkim verifies. */
static void test_dkim_over_smtp(void **state)
{
    (void)state;
    const char *py = python_with("dkim");
    struct server s;
    char *args = tls_args("");
    server_start(&s, args);
    char key[160];
    snprintf(key, sizeof key, "%s/dkim.pem", s.dir);
    make_key("ed25519", key);
    char *url = url_for(&s, "smtp", NULL, NULL);
    struct sa_transport_options o = {
        .smtp_ca_file = cert, .dkim_key_file = key, .dkim_selector = "sales2026"};
    struct sa_transport *t = open_smtp(url, &o);
    assert_string_equal(sa_transport_name(t), "dkim");
    struct sa_err err = {0};
    char id[SA_TRANSPORT_ID_MAX];
    assert_int_equal(send_one(t, "j.gross@globex-industrie.de", 1, id, sizeof id, &err), 0);
    assert_string_equal(id, "Q00001X");
    char path[160];
    snprintf(path, sizeof path, "%s/mail/1.eml", s.dir);
    assert_int_equal(run("%s %s/tests/harness/dkim_verify.py %s %s sales2026 acme-analytics.io "
                         ">&2",
                         py, SA_SOURCE_DIR, path, key),
                     0);
    sa_transport_free(t);
    server_stop(&s);
    free(url);
    free(args);
}

/* A connection the server closed while idle (its timeout) is replaced: the next message
 * is delivered on a new connection. */
static void test_idle_connection_closed(void **state)
{
    (void)state;
    struct server s;
    char *args = tls_args("--idle-timeout 0.5");
    server_start(&s, args);
    char *url = url_for(&s, "smtp", NULL, NULL);
    struct sa_transport_options o = {.smtp_ca_file = cert};
    struct sa_transport *t = open_smtp(url, &o);
    struct sa_err err = {0};
    char id[SA_TRANSPORT_ID_MAX];
    assert_int_equal(send_one(t, "j.gross@globex-industrie.de", 1, id, sizeof id, &err), 0);
    char *closed = NULL;
    for (int i = 0; i < 2000 && !closed; i++) { /* until the server has closed it */
        closed = server_file(&s, "closed");
        if (!closed) {
            struct timespec ts = {0, 20000000L};
            nanosleep(&ts, NULL);
        }
    }
    assert_non_null(closed);
    free(closed);
    if (send_one(t, "j.gross@globex-industrie.de", 2, id, sizeof id, &err) != 0)
        fail_msg("after the idle close: %s", err.msg);
    received_is(&s, 2, 2, "dana@acme-analytics.io", "j.gross@globex-industrie.de");
    assert_int_equal(server_connections(&s), 2);
    sa_transport_free(t);
    server_stop(&s);
    free(url);
    free(args);
}

/* A 250 that names no queue id (Gmail's wording): the delivered id is the Message-ID. The
 * envelope sender is the From's address even when its quoted display name holds '<'. */
static void test_delivered_id_without_queue_id(void **state)
{
    (void)state;
    struct server s;
    char *args = tls_args("");
    server_start(&s, args);
    server_script(&s, "{\"data\": {\"j.gross@globex-industrie.de\": [\"250 2.0.0 OK  "
                      "1796302800 d2-20020a05600c4b8200b0040e3b2a5f1bsi2817402wmq.160 - "
                      "gsmtp\"]}}");
    char *url = url_for(&s, "smtp", NULL, NULL);
    struct sa_transport_options o = {.smtp_ca_file = cert};
    struct sa_transport *t = open_smtp(url, &o);
    struct sa_err err = {0};
    char id[SA_TRANSPORT_ID_MAX];
    assert_int_equal(send_one(t, "j.gross@globex-industrie.de", 7, id, sizeof id, &err), 0);
    assert_string_equal(id, "<0193a1b2-7c4d-7e8f-9a0b-000000000007@acme-analytics.io>");
    const char *quoted = "From: \"Whitfield, Dana <Sales>\" <dana.w@acme-analytics.io>\r\n"
                         "To: j.gross@globex-industrie.de\r\nSubject: x\r\n\r\nHi\r\n";
    assert_int_equal(sa_transport_send(t, "j.gross@globex-industrie.de", quoted, strlen(quoted), id,
                                       sizeof id, &err),
                     0);
    assert_string_equal(id, "Q00002X");
    json_t *meta = NULL;
    free(server_message(&s, 2, NULL, &meta));
    assert_string_equal(json_string_value(json_object_get(meta, "mail_from")),
                        "dana.w@acme-analytics.io");
    json_decref(meta);
    /* no usable From and no SMTP_MAIL_FROM: refused before connecting */
    const char *nofrom = "To: j.gross@globex-industrie.de\r\nSubject: x\r\n\r\nHi\r\n";
    assert_int_equal(sa_transport_send(t, "j.gross@globex-industrie.de", nofrom, strlen(nofrom), id,
                                       sizeof id, &err),
                     SA_EINVAL);
    assert_int_equal(
        sa_transport_send(t, "not-an-address", quoted, strlen(quoted), id, sizeof id, &err),
        SA_EINVAL);
    sa_transport_free(t);
    server_stop(&s);
    free(url);
    free(args);
}

struct sender {
    struct sa_transport *t;
    int first, n, failed;
    char ids[5][SA_TRANSPORT_ID_MAX];
};

static void *send_some(void *arg)
{
    struct sender *x = arg;
    for (int i = 0; i < x->n; i++) {
        struct sa_err err = {0};
        if (send_one(x->t, "j.gross@globex-industrie.de", x->first + i, x->ids[i], sizeof x->ids[i],
                     &err) != 0)
            x->failed++;
    }
    return NULL;
}

/* Four threads sending through one transport at once: every message is delivered, each
 * thread on a connection of its own at most (the handle pool), ids all different. */
static void test_concurrent_senders(void **state)
{
    (void)state;
    struct server s;
    char *args = tls_args("");
    server_start(&s, args);
    char *url = url_for(&s, "smtp", NULL, NULL);
    struct sa_transport_options o = {.smtp_ca_file = cert};
    struct sa_transport *t = open_smtp(url, &o);
    struct sender x[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        x[i] = (struct sender){.t = t, .first = 100 + 5 * i, .n = 5};
        assert_int_equal(pthread_create(&th[i], NULL, send_some, &x[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(x[i].failed, 0);
    }
    for (int i = 0; i < 20; i++)
        for (int j = 0; j < i; j++)
            assert_string_not_equal(x[i / 5].ids[i % 5], x[j / 5].ids[j % 5]);
    for (int i = 1; i <= 20; i++) {
        size_t len;
        char *m = server_message(&s, i, &len, NULL);
        assert_non_null(m);
        free(m);
    }
    int conns = server_connections(&s);
    assert_true(conns >= 1 && conns <= 4);
    sa_transport_free(t);
    server_stop(&s);
    free(url);
    free(args);
}

/* Malformed URLs are configuration errors that never echo a password. */
static void test_bad_urls(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "smtp://",
        "smtp://mail.acme.io:0",
        "smtp://mail.acme.io:99999",
        "smtp://mail.acme.io:25x",
        "smtp://mail acme.io",
        "smtp://mail.acme.io/path",
        "smtp://mail.acme.io?starttls=maybe",
        "smtps://mail.acme.io?starttls=none",
        "smtp://mail.acme.io?auth=cram-md5",
        "smtp://mail.acme.io?tls",
        "smtp://mail.acme.io?pool=4",
        "smtp://user:s3cr%zzt@mail.acme.io",
        "smtp://:s3cret@mail.acme.io",
        "smtp://user:s3cret@mail.acme.io?starttls=none",
        "smtp:mail.acme.io",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sa_transport *t = (struct sa_transport *)&t;
        struct sa_err err = {0};
        if (sa_transport_open(bad[i], &t, &err) != SA_ECONFIG)
            fail_msg("%s was accepted", bad[i]);
        assert_null(t);
        assert_null(strstr(err.msg, "s3cr"));
    }
    static const char *const good[] = {
        "smtp://mail.acme.io",
        "smtp://u%40x.io:p%26w@mail.acme.io:2525?starttls=required",
        "smtps://[::1]:465",
        "smtp://10.0.0.7:25?starttls=none&helo=app1.acme.io",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct sa_transport *t = NULL;
        struct sa_err err = {0};
        if (sa_transport_open(good[i], &t, &err) != 0)
            fail_msg("%s: %s", good[i], err.msg);
        sa_transport_free(t);
    }
    struct sa_transport_options o = {.smtp_mail_from = "not an address"};
    struct sa_transport *t = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_transport_open_with("smtp://mail.acme.io", &o, &t, &err), SA_ECONFIG);
}

static int setup(void **state)
{
    (void)state;
    make_tmpdir("smtpcert", certdir, sizeof certdir);
    snprintf(cert, sizeof cert, "%s/cert.pem", certdir);
    snprintf(certkey, sizeof certkey, "%s/key.pem", certdir);
    return run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
               "-keyout %s -out %s -days 2 -subj /CN=127.0.0.1 "
               "-addext subjectAltName=IP:127.0.0.1,DNS:localhost 2>/dev/null",
               certkey, cert);
}

static int teardown(void **state)
{
    (void)state;
    rm_rf(certdir);
    return 0;
}

/* After each test: the servers a failed test left running. */
static int stop_servers(void **state)
{
    (void)state;
    for (size_t i = 0; i < 4; i++)
        if (live[i])
            server_stop(live[i]);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_bad_urls, stop_servers),
        cmocka_unit_test_teardown(test_starttls_many_one_connection, stop_servers),
        cmocka_unit_test_teardown(test_auth_login_env_and_wrong_password, stop_servers),
        cmocka_unit_test_teardown(test_starttls_missing, stop_servers),
        cmocka_unit_test_teardown(test_implicit_tls_and_verification, stop_servers),
        cmocka_unit_test_teardown(test_replies_4xx_5xx, stop_servers),
        cmocka_unit_test_teardown(test_deadline_and_breaker, stop_servers),
        cmocka_unit_test_teardown(test_dkim_over_smtp, stop_servers),
        cmocka_unit_test_teardown(test_idle_connection_closed, stop_servers),
        cmocka_unit_test_teardown(test_delivered_id_without_queue_id, stop_servers),
        cmocka_unit_test_teardown(test_concurrent_senders, stop_servers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
