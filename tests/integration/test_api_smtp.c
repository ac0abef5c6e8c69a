/* Integration test of sending by SMTP through the binary: the outbox delivers to a real
 * SMTP server (aiosmtpd, tests/harness/smtp_server.py, STARTTLS and AUTH required, a
 * throwaway certificate) with DKIM signing on. A greylisting 4xx leaves the item queued
 * and the retry after the backoff delivers it; the message received carries the item's
 * Message-ID and a DKIM signature python3-dkim verifies, and the item records the
 * server's queue id; a 5xx to a follow-up fails that item at its first attempt while the
 * later ones stay queued; the connector metrics count each answer. Time moves by
 * CLOCK_FILE, never by sleeping. */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char clock_path[600];
static char smtp_dir[64];
static pid_t smtp_pid;

static const char *python(void)
{
    return system("/usr/bin/python3 -c 'import aiosmtpd, dkim' >/dev/null 2>&1") == 0
               ? "/usr/bin/python3"
               : "python3";
}

static void set_clock(time_t t)
{
    clock_file_set(clock_path, t);
}

static char *file_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 20);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Starts the SMTP server (STARTTLS and AUTH required) and makes its certificate and our
 * DKIM key; returns its port. */
static int smtp_start(void)
{
    snprintf(smtp_dir, sizeof smtp_dir, "/tmp/sa-apismtp-XXXXXX");
    assert_non_null(mkdtemp(smtp_dir));
    char *cmd = strf("cd %s && openssl req -x509 -newkey ec -pkeyopt "
                     "ec_paramgen_curve:prime256v1 -nodes -keyout key.pem -out cert.pem -days 2 "
                     "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null && "
                     "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out dkim.pem "
                     "2>/dev/null",
                     smtp_dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    cmd = strf("exec %s %s/tests/harness/smtp_server.py --dir %s --cert %s/cert.pem --key "
               "%s/key.pem --user outbound@pipewise.example --password 'gr3y-l1st:%%' "
               "2>%s/server.err",
               python(), SA_SOURCE_DIR, smtp_dir, smtp_dir, smtp_dir, smtp_dir);
    smtp_pid = fork();
    assert_true(smtp_pid >= 0);
    if (smtp_pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    free(cmd);
    char *port_file = strf("%s/port", smtp_dir);
    for (int i = 0; i < 2000; i++) {
        char *p = file_text(port_file);
        if (p) {
            int port = atoi(p); // NOLINT(cert-err34-c): our server wrote it
            free(p);
            free(port_file);
            return port;
        }
        usleep(20 * 1000);
    }
    fail_msg("smtp_server.py did not start");
    return 0;
}

static int smtp_teardown(void **state)
{
    if (smtp_pid > 0) {
        kill(smtp_pid, SIGTERM);
        waitpid(smtp_pid, NULL, 0);
        smtp_pid = 0;
    }
    if (smtp_dir[0]) {
        char *cmd = strf("rm -rf %s", smtp_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", smtp_dir);
        free(cmd);
        smtp_dir[0] = '\0';
    }
    return runs_teardown(state);
}

static json_t *outbox(struct resp *r)
{
    json_t *j = http_json("GET", "/api/outbox?limit=100", NULL, r);
    assert_int_equal(r->status, 200);
    return j;
}

/* The outbox item of seq_day day (borrowed from j). */
static json_t *item_of(json_t *j, long long day)
{
    size_t i;
    json_t *it;
    json_array_foreach(jget(j, "items"), i, it)
    {
        if (json_integer_value(json_object_get(it, "seq_day")) == day)
            return it;
    }
    fail_msg("no outbox item for day %lld", day);
    return NULL;
}

/* Polls (10 s at most) until day's item has status and, when given, an error holding
 * error_part. */
static void wait_item(long long day, const char *status, const char *error_part)
{
    const char *last = "?";
    char seen[300] = "";
    for (int i = 0; i < 200; i++) {
        struct resp r;
        json_t *j = outbox(&r);
        json_t *it = item_of(j, day);
        const char *st = json_string_value(json_object_get(it, "status"));
        const char *err = json_string_value(json_object_get(it, "last_error"));
        bool ok = st && !strcmp(st, status) && (!error_part || (err && strstr(err, error_part)));
        snprintf(seen, sizeof seen, "%s (%s)", st ? st : "?", err ? err : "no error");
        last = seen;
        resp_free(&r);
        if (ok)
            return;
        usleep(50 * 1000);
    }
    fail_msg("day %lld: expected %s with \"%s\", last seen %s", day, status,
             error_part ? error_part : "", last);
}

static bool metrics_have(const char *line)
{
    struct resp r;
    http("GET", "/metrics", NULL, NULL, 0, &r);
    bool has = r.status == 200 && r.body && strstr(r.body, line);
    if (!has)
        fprintf(stderr, "/metrics (%ld) lacks %s\n", r.status, line);
    resp_free(&r);
    return has;
}

static void test_outbox_over_smtp(void **state)
{
    (void)state;
    int port = smtp_start();
    char *script = strf("%s/script.json", smtp_dir);
    write_text(script, "{\"rcpt\": {\"maya@quorvianta.io\": [\"451 4.7.1 <maya@quorvianta.io>: "
                       "Recipient address rejected: Greylisted, see "
                       "https://postgrey.schweikert.ch/\"]}}");
    snprintf(clock_path, sizeof clock_path, "%s/clock", runs_srv.dir);
    time_t monday = utc(2026, 11, 2, 15, 0);
    set_clock(monday);
    char *transport = strf("smtp://127.0.0.1:%d?starttls=required", port);
    char *ca = strf("%s/cert.pem", smtp_dir), *key = strf("%s/dkim.pem", smtp_dir);
    const char *const env[] = {"CLOCK_FILE",
                               clock_path,
                               "OUTBOX_POLL_MS",
                               "100",
                               "CALENDAR_TZ",
                               "America/New_York",
                               "SENDER_ADDRESS",
                               "Pipewise Ltd, 9 Harbour Road, Bristol BS1 5AA, UK",
                               "MAIL_TRANSPORT",
                               transport,
                               "PUBLIC_URL",
                               "https://sales.pipewise.example",
                               "SMTP_USERNAME",
                               "outbound@pipewise.example",
                               "SMTP_PASSWORD",
                               "gr3y-l1st:%",
                               "SMTP_CA_FILE",
                               ca,
                               "DKIM_KEY_FILE",
                               key,
                               "DKIM_SELECTOR",
                               "pw2026",
                               NULL};
    for (size_t i = 0; env[i]; i += 2)
        setenv(env[i], env[i + 1], 1);
    assert_int_equal(server_start(&runs_srv, false), 0);
    harness_use(&runs_srv);
    for (size_t i = 0; env[i]; i += 2)
        unsetenv(env[i]);

    /* a lead, its pipeline run, the sequence approved */
    struct resp r;
    json_t *j = approval_pending(strong_known_csv, &r);
    char *path = strf("/api/approvals/%s", jstr(j, "output.approvals.0.approval_id"));
    resp_free(&r);
    http_json("POST", path, "{\"type\":\"accept\"}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    free(path);

    /* greylisted: queued again with the 4xx as its error, nothing received */
    wait_item(0, "queued", "451 4.7.1");
    char *first = strf("%s/mail/1.eml", smtp_dir);
    char *got = file_text(first);
    assert_null(got);
    j = outbox(&r);
    assert_int_equal(json_integer_value(json_object_get(item_of(j, 0), "attempts")), 1);
    resp_free(&r);
    /* after the backoff (60 s) the retry is delivered */
    set_clock(monday + 120);
    wait_item(0, "sent", NULL);
    got = file_text(first);
    assert_non_null(got);
    j = outbox(&r);
    json_t *it = item_of(j, 0);
    assert_string_equal(json_string_value(json_object_get(it, "delivered_id")), "Q00001X");
    const char *mid = json_string_value(json_object_get(it, "message_id"));
    assert_non_null(mid);
    char *hdr = strf("\r\nMessage-ID: %s\r\n", mid);
    if (!strstr(got, hdr))
        fail_msg("the received message lacks %s", hdr);
    free(hdr);
    assert_int_equal(strncmp(got, "DKIM-Signature: v=1; a=rsa-sha256;", 34), 0);
    time_t day3 = 0;
    {
        struct tm tm = {0};
        assert_non_null(strptime(jstr(item_of(j, 3), "due_at"), "%Y-%m-%dT%H:%M:%S", &tm));
        day3 = timegm(&tm);
    }
    resp_free(&r);
    /* d= is the From domain (the product profile's sender) */
    char *from_domain = strstr(got, "d=");
    assert_non_null(from_domain);
    char d[128] = "";
    sscanf(from_domain + 2, "%127[^;]", d);
    char *verify = strf("%s %s/tests/harness/dkim_verify.py %s %s pw2026 %s >&2", python(),
                        SA_SOURCE_DIR, first, key, d);
    assert_int_equal(system(verify), 0);
    free(verify);
    free(got);
    free(first);

    /* the day-3 follow-up: the mailbox is gone (5xx): failed at its first attempt; the
     * later follow-ups stay queued */
    write_text(script, "{\"rcpt\": {\"maya@quorvianta.io\": [\"550 5.1.1 <maya@quorvianta.io>: "
                       "Recipient address rejected: User unknown in virtual mailbox table\"]}}");
    set_clock(day3 + 600); /* its due time, counted from the first one's (later) send */
    wait_item(3, "failed", "550 5.1.1");
    j = outbox(&r);
    assert_int_equal(json_integer_value(json_object_get(item_of(j, 3), "attempts")), 1);
    assert_string_equal(json_string_value(json_object_get(item_of(j, 7), "status")), "queued");
    resp_free(&r);
    assert_true(metrics_have("connector_requests_total{connector=\"smtp\",status=\"451\"} 1"));
    assert_true(metrics_have("connector_requests_total{connector=\"smtp\",status=\"250\"} 1"));
    assert_true(metrics_have("connector_requests_total{connector=\"smtp\",status=\"550\"} 1"));
    assert_true(metrics_have("circuit_breaker_state{provider=\"smtp\"} 0"));
    /* /health names the transport and its breaker, without calling the server */
    j = http_json("GET", "/health", NULL, &r);
    assert_string_equal(jstr(j, "backends.mail.backend"), "smtp");
    assert_non_null(strstr(jstr(j, "backends.mail.detail"), "breaker closed"));
    resp_free(&r);
    assert_true(exited_ok(server_stop(&runs_srv)));
    free(script);
    free(transport);
    free(ca);
    free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_outbox_over_smtp, runs_setup, smtp_teardown),
    };
    return api_exit_status(cmocka_run_group_tests(tests, api_group_setup, api_group_teardown));
}
