/* Integration test of the IMAP poller through the binary, against a real IMAP server
 * (Dovecot, started unprivileged on a free loopback port by tests/harness/imap_server.sh),
 * with time moved by CLOCK_FILE. Messages are delivered into the server's Maildir as an
 * MTA would: Maya's reply to the e-mail we sent, the same reply delivered twice, a
 * message that cannot be read, and her "Bitte austragen" in German. One poll makes two
 * conversation turns (the duplicate none) and makes her do-not-contact; each is \Seen on
 * the server, the unreadable one carries $SalesAgentRejected and stays unread. After a
 * restart, with \Seen taken off every old message, nothing is fetched again and only the
 * new message is processed. A dead server is reported under /health's backends (the
 * instance stays healthy), counted in connector_requests_total, backed off, and the mail
 * that arrived meanwhile is read once it is back. A `worker` on the same database waits on
 * standby while `serve` holds the mailbox's lease, and takes the polling over when serve
 * stops. A mailbox renumbered by the server (a new UIDVALIDITY) is read anew from its
 * unseen mail, importing nothing twice. A first poll whose store fails (a trigger in the
 * server's SQLite file) leaves the message unread, so a later poll still reads it. */
#include "harness.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define NY "America/New_York"
#define MAYA "maya@quorvianta.io"

static char clock_path[600];
static time_t clock_now;
static char imap_dir[64];
static int imap_port;
static char imap_user[128], imap_password[128];
static int delivered;

static void set_clock(time_t t)
{
    clock_file_set(clock_path, t);
    clock_now = t;
}

/* ---- the IMAP server ------------------------------------------------------------------- */

static void imap_script(const char *what)
{
    char *cmd = strf("%s/tests/harness/imap_server.sh %s %s", SA_SOURCE_DIR, what, imap_dir);
    int rc = system(cmd);
    free(cmd);
    if (rc != 0)
        fail_msg("imap_server.sh %s failed", what);
}

static void imap_start(void)
{
    snprintf(imap_dir, sizeof imap_dir, "/tmp/sa-apiimap-%d", (int)getpid());
    imap_script("start");
    char *path = strf("%s/imap.env", imap_dir);
    FILE *f = fopen(path, "r");
    free(path);
    assert_non_null(f);
    char line[256];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "SA_IMAP_PORT=", 13) == 0)
            imap_port = (int)strtol(line + 13, NULL, 10);
        else if (strncmp(line, "SA_IMAP_USER=", 13) == 0)
            snprintf(imap_user, sizeof imap_user, "%s", line + 13);
        else if (strncmp(line, "SA_IMAP_PASSWORD=", 17) == 0)
            snprintf(imap_password, sizeof imap_password, "%s", line + 17);
    }
    fclose(f);
    assert_true(imap_port > 0);
}

/* Delivers msg into the INBOX (the next UID). */
static void deliver(const char *msg)
{
    char *path = strf("%s/incoming-%d.eml", imap_dir, ++delivered);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(msg, f);
    fclose(f);
    char *cmd =
        strf("%s/tests/harness/imap_server.sh deliver %s %s", SA_SOURCE_DIR, imap_dir, path);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(path);
}

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    struct resp *r = arg;
    char *grown = realloc(r->body, r->len + size * n + 1);
    assert_non_null(grown);
    memcpy(grown + r->len, p, size * n);
    r->len += size * n;
    grown[r->len] = '\0';
    r->body = grown;
    return size * n;
}

/* One IMAP command on the INBOX, as a mail client would send it; its untagged answer
 * (malloc'd). */
static char *imap_cmd(const char *cmd)
{
    CURL *h = curl_easy_init();
    assert_non_null(h);
    char *url = strf("imap://127.0.0.1:%d/INBOX", imap_port);
    struct resp r = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_USERNAME, imap_user);
    curl_easy_setopt(h, CURLOPT_PASSWORD, imap_password);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, cmd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    CURLcode cc = curl_easy_perform(h);
    curl_easy_cleanup(h);
    free(url);
    if (cc != CURLE_OK)
        fail_msg("IMAP %s: %s", cmd, curl_easy_strerror(cc));
    return r.body ? r.body : strf("%s", "");
}

/* The flags of message uid ("\\Seen $SalesAgentRejected"), malloc'd. */
static char *flags_of(unsigned uid)
{
    char *all = imap_cmd("UID FETCH 1:* (FLAGS)");
    char *want = strf("UID %u FLAGS (", uid);
    const char *p = strstr(all, want);
    char *out = NULL;
    if (p) {
        p += strlen(want);
        out = strf("%.*s", (int)strcspn(p, ")"), p);
    } else {
        print_message("no message %u: %s\n", uid, all);
    }
    free(want);
    free(all);
    assert_non_null(out);
    return out;
}

static bool has_flag(unsigned uid, const char *flag)
{
    char *f = flags_of(uid);
    bool yes = f && strstr(f, flag) != NULL;
    free(f);
    return yes;
}

/* Waits (30 s at most: a sanitized server on a loaded machine) until message uid has or
 * lacks flag. */
static void wait_flag(unsigned uid, const char *flag, bool want)
{
    for (int i = 0; i < 300; i++) {
        if (has_flag(uid, flag) == want)
            return;
        usleep(100 * 1000);
    }
    char *f = flags_of(uid);
    fail_msg("message %u: flags (%s), expected %s %s", uid, f, want ? "with" : "without", flag);
}

static int imap_teardown(void **state)
{
    if (imap_dir[0]) {
        char *cmd = strf("%s/tests/harness/imap_server.sh stop %s", SA_SOURCE_DIR, imap_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not stop the IMAP server in %s\n", imap_dir);
        free(cmd);
        imap_dir[0] = '\0';
    }
    return runs_teardown(state);
}

/* ---- the server ---------------------------------------------------------------------------- */

static void start_server(void)
{
    char *url = strf("imap://127.0.0.1:%d/INBOX", imap_port);
    assert_int_equal(server_setenv(&runs_srv, "IMAP_URL", url), 0);
    free(url);
    assert_int_equal(server_setenv(&runs_srv, "IMAP_USER", imap_user), 0);
    assert_int_equal(server_setenv(&runs_srv, "IMAP_PASSWORD", imap_password), 0);
    assert_int_equal(server_setenv(&runs_srv, "IMAP_POLL_SECONDS", "60"), 0);
    setenv("CLOCK_FILE", clock_path, 1);
    setenv("OUTBOX_POLL_MS", "100", 1);
    setenv("CALENDAR_TZ", NY, 1);
    assert_int_equal(server_start(&runs_srv, false), 0);
    harness_use(&runs_srv);
    unsetenv("CLOCK_FILE");
    unsetenv("OUTBOX_POLL_MS");
    unsetenv("CALENDAR_TZ");
}

/* /health's backends.imap.detail now (malloc'd); the instance must be healthy. */
static char *imap_health(void)
{
    struct resp r;
    json_t *j = http_json("GET", "/health", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "status"), "healthy"); /* reported, not degraded */
    const char *d = jstr(j, "backends.imap.detail");
    assert_non_null(d);
    assert_string_equal(jstr(j, "backends.imap.status"), "ok");
    assert_string_equal(jstr(j, "backends.imap.backend"), "imap");
    char *out = strf("%s", d);
    resp_free(&r);
    return out;
}

/* Waits until /health's imap detail starts with prefix. */
static void wait_health(const char *prefix)
{
    char *d = NULL;
    for (int i = 0; i < 300; i++) {
        free(d);
        d = imap_health();
        if (strncmp(d, prefix, strlen(prefix)) == 0) {
            free(d);
            return;
        }
        usleep(100 * 1000);
    }
    fail_msg("/health's imap entry: \"%s\", expected \"%s...\"", d, prefix);
}

static long count_of(const char *status)
{
    struct resp r;
    char *path = strf("/api/outbox?status=%s&limit=100", status);
    json_t *j = http_json("GET", path, NULL, &r);
    free(path);
    assert_int_equal(r.status, 200);
    long n = (long)json_integer_value(jget(j, "count"));
    resp_free(&r);
    return n;
}

/* Imports Maya's lead, runs the pipeline, accepts the approval and waits for the first
 * e-mail to leave. Its lead id and Message-ID into the buffers. */
static void sent_first_email(char lead_id[64], char msgid[256])
{
    struct resp r;
    json_t *j = approval_pending(strong_known_csv, &r);
    snprintf(lead_id, 64, "%s", jstr(j, "lead_id"));
    char *path = strf("/api/approvals/%s", jstr(j, "output.approvals.0.approval_id"));
    resp_free(&r);
    http_json("POST", path, "{\"type\":\"accept\"}", &r);
    free(path);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    for (int i = 0; i < 200 && count_of("sent") != 1; i++)
        usleep(50 * 1000);
    assert_int_equal(count_of("sent"), 1);
    j = http_json("GET", "/api/outbox?status=sent&limit=1", NULL, &r);
    snprintf(msgid, 256, "%s", jstr(j, "items.0.message_id"));
    assert_int_equal(msgid[0], '<');
    resp_free(&r);
}

static char *maya_reply(const char *msgid)
{
    return strf("Return-Path: <maya@quorvianta.io>\r\n"
                "From: Maya Okafor <maya@quorvianta.io>\r\n"
                "To: Alex <alex@example.com>\r\n"
                "Subject: Re: Quorvianta and faster pipeline reviews\r\n"
                "Date: Mon, 2 Nov 2026 11:20:31 -0500\r\n"
                "Message-ID: <CAF3x-imap-1@mail.gmail.com>\r\n"
                "In-Reply-To: %s\r\n"
                "References: %s\r\n"
                "MIME-Version: 1.0\r\n"
                "Content-Type: text/plain; charset=\"UTF-8\"\r\n"
                "Content-Transfer-Encoding: quoted-printable\r\n"
                "\r\n"
                "Hi Alex,\r\n\r\n"
                "Thanks, this looks relevant. What would pricing look like for 40 sales=\r\n"
                " reps?\r\n\r\n"
                "Best regards,\r\nMaya\r\n\r\n"
                "On Mon, Nov 2, 2026 at 10:00 AM Alex <alex@example.com> wrote:\r\n"
                "> Hi Maya, teams like yours cut review time by a third.\r\n",
                msgid, msgid);
}

static char *maya_unsubscribe(const char *msgid)
{
    return strf("From: Maya Okafor <maya@quorvianta.io>\r\n"
                "To: Alex <alex@example.com>\r\n"
                "Subject: AW: Quorvianta and faster pipeline reviews\r\n"
                "Date: Mon, 2 Nov 2026 17:02:10 +0100\r\n"
                "Message-ID: <imap-unsub-1@quorvianta.io>\r\n"
                "References: <older@quorvianta.io> %s\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                "Bitte austragen. Ich m=C3=B6chte keine weiteren E-Mails erhalten.\r\n\r\n"
                "Von: Alex <alex@example.com>\r\n"
                "Gesendet: Montag, 2. November 2026 16:00\r\n"
                "An: Maya Okafor <maya@quorvianta.io>\r\n"
                "Betreff: Quorvianta and faster pipeline reviews\r\n\r\nHi Maya\r\n",
                msgid);
}

static double metric_or_zero(const char *series)
{
    struct resp r;
    http("GET", "/metrics", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    char *want = strf("\n%s ", series);
    const char *p = strstr(r.body, want);
    double v = p ? strtod(p + strlen(want), NULL) : 0;
    free(want);
    resp_free(&r);
    return v;
}

/* ---- the test ------------------------------------------------------------------------------ */

static void test_imap_poller(void **state)
{
    (void)state;
    imap_start();
    snprintf(clock_path, sizeof clock_path, "%s/clock", runs_srv.dir);
    set_clock(utc(2026, 11, 2, 15, 0)); /* Monday 10:00 in New York */
    start_server();
    wait_health("ok, last poll"); /* the first poll, of the empty mailbox */
    char lead[64], msgid[256];
    sent_first_email(lead, msgid);

    /* four messages arrive: a reply, the same reply again, garbage, an opt-out in German */
    char *reply = maya_reply(msgid);
    deliver(reply);
    deliver(reply);
    free(reply);
    deliver("This is not a header line\r\n\r\nnor a message\r\n");
    char *unsub = maya_unsubscribe(msgid);
    deliver(unsub);
    free(unsub);
    set_clock(clock_now + 120); /* the next poll is due */
    wait_flag(4, "\\Seen", true);
    wait_flag(3, "$SalesAgentRejected", true);
    assert_true(has_flag(1, "\\Seen"));
    assert_true(has_flag(2, "\\Seen"));
    assert_false(has_flag(3, "\\Seen")); /* left unread for a person */
    assert_false(has_flag(1, "$SalesAgentRejected"));

    /* two turns on her mail thread (the duplicate made none), and she is opted out */
    struct resp r;
    char *path = strf("/api/conversations/mail-%s", lead);
    json_t *j = http_json("GET", path, NULL, &r);
    free(path);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(jget(j, "turns")), 2);
    resp_free(&r);
    j = http_json("GET", "/api/contacts/" MAYA, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(jget(j, "do_not_contact")));
    assert_string_equal(jstr(j, "source"), "conversation");
    resp_free(&r);
    assert_int_equal(count_of("queued"), 0); /* her follow-ups cancelled */
    assert_true(metric_value("inbound_messages_total{kind=\"reply\"}") == 2);
    assert_true(metric_value("inbound_messages_total{kind=\"duplicate\"}") == 1);
    assert_true(metric_value("inbound_messages_total{kind=\"invalid\"}") == 1);
    assert_true(metric_value("connector_requests_total{connector=\"imap\",status=\"ok\"}") >= 9);
    assert_true(server_log_has(&runs_srv, "imap: message refused"));

    /* a restart: the cursor is in the store, not in \Seen. A person marks everything
     * unread; nothing old is fetched again (a fetch would set \Seen), the new one is read */
    assert_true(exited_ok(server_stop(&runs_srv)));
    free(imap_cmd("UID STORE 1:4 -FLAGS (\\Seen)"));
    deliver("From: Jonas Weber <jonas.weber@example.org>\r\n"
            "To: Alex <alex@example.com>\r\n"
            "Subject: Re: a question\r\n"
            "Message-ID: <imap-new-5@example.org>\r\n\r\n"
            "Could you send me the case study?\r\n");
    start_server();
    wait_flag(5, "\\Seen", true);
    wait_health("ok, last poll");
    for (unsigned uid = 1; uid <= 4; uid++)
        assert_false(has_flag(uid, "\\Seen"));
    assert_true(metric_value("inbound_messages_total{kind=\"unmatched\"}") == 1);
    assert_true(metric_or_zero("inbound_messages_total{kind=\"duplicate\"}") == 0);
    assert_true(metric_or_zero("inbound_messages_total{kind=\"reply\"}") == 0);
    path = strf("/api/conversations/mail-%s", lead);
    j = http_json("GET", path, NULL, &r);
    free(path);
    assert_int_equal(json_integer_value(jget(j, "turns")), 2);
    resp_free(&r);

    /* the server dies: reported and counted, polls back off, the instance stays healthy */
    imap_script("down");
    set_clock(clock_now + 120);
    wait_health("backing off: 1 failed poll (");
    assert_true(metric_value("connector_requests_total{connector=\"imap\",status=\"error\"}") >= 1);
    set_clock(clock_now + 120);
    wait_health("backing off: 2 failed polls");
    char *d = imap_health();
    assert_non_null(strstr(d, "IMAP: ")); /* libcurl's reason, and never the password */
    assert_null(strstr(d, imap_password));
    free(d);
    /* mail arrives meanwhile; the server comes back; the next try (twice the interval
     * later) reads it */
    deliver("From: Jonas Weber <jonas.weber@example.org>\r\n"
            "Subject: Re: a question\r\n"
            "Message-ID: <imap-new-6@example.org>\r\n\r\n"
            "Thanks, got it.\r\n");
    imap_script("up");
    set_clock(clock_now + 130);
    wait_flag(6, "\\Seen", true);
    wait_health("ok, last poll");
    assert_true(metric_value("inbound_messages_total{kind=\"unmatched\"}") == 2);
    assert_false(server_log_has(&runs_srv, imap_password));
    assert_true(exited_ok(server_stop(&runs_srv)));
}

/* Waits until series reads want in /metrics (30 s at most). */
static void wait_metric(const char *series, double want)
{
    double v = -1;
    for (int i = 0; i < 300; i++) {
        if ((v = metric_or_zero(series)) == want)
            return;
        usleep(100 * 1000);
    }
    fail_msg("%s is %g, expected %g", series, v, want);
}

/* The server renumbers the mailbox (a new UIDVALIDITY, as after a migration): the poller
 * notices, reads only what is unseen, and starts a new cursor; nothing is imported twice. */
static void test_uidvalidity_change(void **state)
{
    (void)state;
    imap_start();
    snprintf(clock_path, sizeof clock_path, "%s/clock", runs_srv.dir);
    set_clock(utc(2026, 11, 2, 15, 0));
    start_server();
    wait_health("ok, last poll");
    deliver("From: Jonas Weber <jonas.weber@example.org>\r\n"
            "Subject: Re: a question\r\n"
            "Message-ID: <imap-renum-1@example.org>\r\n\r\n"
            "Could you send me the case study?\r\n");
    deliver("From: Jonas Weber <jonas.weber@example.org>\r\n"
            "Subject: Re: a question\r\n"
            "Message-ID: <imap-renum-2@example.org>\r\n\r\n"
            "And the price list?\r\n");
    set_clock(clock_now + 120);
    wait_metric("inbound_messages_total{kind=\"unmatched\"}", 2);
    imap_script("renumber"); /* both keep \Seen; their UIDs and UIDVALIDITY are new */
    deliver("From: Jonas Weber <jonas.weber@example.org>\r\n"
            "Subject: Re: a question\r\n"
            "Message-ID: <imap-renum-3@example.org>\r\n\r\n"
            "Thanks, both arrived.\r\n");
    set_clock(clock_now + 120);
    wait_metric("inbound_messages_total{kind=\"unmatched\"}", 3);
    wait_health("ok, last poll");
    assert_true(server_log_has(&runs_srv, "UIDVALIDITY changed"));
    char *unseen = imap_cmd("UID SEARCH UNSEEN");
    assert_string_equal(unseen, "* SEARCH\r\n");
    free(unseen);
    /* a later message, under the new cursor */
    deliver("From: Jonas Weber <jonas.weber@example.org>\r\n"
            "Subject: Re: a question\r\n"
            "Message-ID: <imap-renum-4@example.org>\r\n\r\n"
            "One more thing.\r\n");
    set_clock(clock_now + 120);
    wait_metric("inbound_messages_total{kind=\"unmatched\"}", 4);
    assert_true(metric_or_zero("inbound_messages_total{kind=\"duplicate\"}") == 0);
    assert_true(exited_ok(server_stop(&runs_srv)));
}

/* Runs sql on runs_srv's SQLite file (a second connection, as an operator would open). */
static void db_exec(const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(runs_srv.db_url + strlen("sqlite://"), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    sqlite3_close(db);
}

/* The first poll (no cursor: it searches UNSEEN) fetches a message, which sets \Seen, and
 * the store refuses to record it (a temporary failure). The message is made unseen again,
 * so the next poll, with the store back, reads it; before, it was lost. */
static void test_first_poll_store_fails(void **state)
{
    (void)state;
    SKIP_ON_PG("it makes the store fail with a trigger in the server's SQLite file");
    imap_start();
    snprintf(clock_path, sizeof clock_path, "%s/clock", runs_srv.dir);
    set_clock(utc(2026, 11, 2, 15, 0));
    deliver("From: Jonas Weber <jonas.weber@example.org>\r\n"
            "Subject: Re: a question\r\n"
            "Message-ID: <imap-first-1@example.org>\r\n\r\n"
            "Could you send me the case study?\r\n");
    /* a server without IMAP_URL creates the schema; the trigger goes in before the
     * poller's first poll */
    assert_int_equal(server_start(&runs_srv, false), 0);
    assert_true(exited_ok(server_stop(&runs_srv)));
    db_exec("CREATE TRIGGER no_inbound BEFORE INSERT ON inbound_messages BEGIN "
            "SELECT RAISE(ABORT, 'the store is busy'); END");
    start_server();
    for (int i = 0; i < 300 && !server_log_has(&runs_srv, "imap: poll failed"); i++)
        usleep(100 * 1000);
    assert_true(server_log_has(&runs_srv, "imap: poll failed"));
    assert_false(has_flag(1, "\\Seen")); /* unread again, for the next poll */
    assert_true(metric_or_zero("inbound_messages_total{kind=\"unmatched\"}") == 0);
    db_exec("DROP TRIGGER no_inbound");
    set_clock(clock_now + 120);
    wait_metric("inbound_messages_total{kind=\"unmatched\"}", 1);
    wait_flag(1, "\\Seen", true);
    wait_health("ok, last poll");
    assert_true(exited_ok(server_stop(&runs_srv)));
}

/* ---- two processes, one mailbox -------------------------------------------------------------- */

/* Starts `sales-agent worker` on runs_srv's database with the IMAP settings, the clock
 * file and its metrics listener on any port (stdout to out_path). Returns its pid. */
static pid_t start_worker(const char *out_path)
{
    char data_dir[1024], mail[600], log_path[600], url[128];
    snprintf(data_dir, sizeof data_dir, "%s/data", SA_SOURCE_DIR);
    snprintf(mail, sizeof mail, "maildir:%s/mail", runs_srv.dir);
    snprintf(log_path, sizeof log_path, "%s/worker.log", runs_srv.dir);
    snprintf(url, sizeof url, "imap://127.0.0.1:%d/INBOX", imap_port);
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* the test dies, the worker goes with it */
    if (getppid() != parent)
        _exit(125);
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out < 0 || log < 0)
        _exit(126);
    dup2(out, 1);
    dup2(log, 2);
    setenv("MAIL_TRANSPORT", mail, 1);
    setenv("CLOCK_FILE", clock_path, 1);
    setenv("IMAP_URL", url, 1);
    setenv("IMAP_USER", imap_user, 1);
    setenv("IMAP_PASSWORD", imap_password, 1);
    setenv("IMAP_POLL_SECONDS", "60", 1);
    setenv("WORKER_METRICS_PORT", "0", 1);
    setenv("METRICS_AUTH", "open", 1);
    execl(SA_BINARY, SA_BINARY, "worker", "--database-url", runs_srv.db_url, "--data-dir", data_dir,
          (char *)NULL);
    _exit(127);
}

/* The port the worker printed ("Metrics: http://127.0.0.1:PORT/metrics"), waiting for it
 * (60 s at most: a sanitized binary starts slowly). */
static int worker_port(const char *out_path, pid_t pid)
{
    for (int i = 0; i < 600; i++) {
        FILE *f = fopen(out_path, "r");
        char buf[4096] = "";
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        buf[n] = '\0';
        const char *at = strstr(buf, "Metrics: http://127.0.0.1:");
        if (at)
            return (int)strtol(at + strlen("Metrics: http://127.0.0.1:"), NULL, 10);
        if (waitpid(pid, NULL, WNOHANG) == pid)
            break;
        usleep(100 * 1000);
    }
    fail_msg("the worker did not start (see %s/worker.log)", runs_srv.dir);
    return 0;
}

static void stop_worker(pid_t worker)
{
    kill(worker, SIGTERM);
    int st = -1;
    for (int i = 0; i < 600 && waitpid(worker, &st, WNOHANG) != worker; i++)
        usleep(100 * 1000);
    if (!exited_ok(st)) {
        kill(worker, SIGKILL);
        waitpid(worker, NULL, 0);
        fail_msg("the worker did not exit with status 0 on SIGTERM (wait status 0x%x)", st);
    }
}

static void test_one_poller_at_a_time(void **state)
{
    (void)state;
    imap_start();
    snprintf(clock_path, sizeof clock_path, "%s/clock", runs_srv.dir);
    set_clock(utc(2026, 11, 2, 15, 0));
    start_server();
    wait_health("ok, last poll"); /* serve holds the mailbox */
    char *out_path = strf("%s/worker.out", runs_srv.dir);
    pid_t worker = start_worker(out_path);
    int port = worker_port(out_path, worker);
    free(out_path);
    harness_use_port(port, runs_srv.key);
    harness_record(false); /* the worker's listener is not the API */
    wait_health("standby: another process polls the mailbox");

    deliver("From: Jonas Weber <jonas.weber@example.org>\r\n"
            "Subject: Re: a question\r\n"
            "Message-ID: <imap-two-1@example.org>\r\n\r\n"
            "Could you send me the case study?\r\n");
    set_clock(clock_now + 120);
    wait_flag(1, "\\Seen", true);
    wait_health("standby: another process polls the mailbox");
    assert_true(metric_or_zero("inbound_messages_total{kind=\"unmatched\"}") == 0);
    harness_use(&runs_srv);
    assert_true(metric_value("inbound_messages_total{kind=\"unmatched\"}") == 1);

    /* serve stops (its lease ends with it): the worker's next poll takes the mailbox */
    assert_true(exited_ok(server_stop(&runs_srv)));
    deliver("From: Jonas Weber <jonas.weber@example.org>\r\n"
            "Subject: Re: a question\r\n"
            "Message-ID: <imap-two-2@example.org>\r\n\r\n"
            "Thanks, got it.\r\n");
    harness_use_port(port, runs_srv.key);
    set_clock(clock_now + 120);
    wait_flag(2, "\\Seen", true);
    wait_health("ok, last poll");
    assert_true(metric_value("inbound_messages_total{kind=\"unmatched\"}") == 1);
    assert_true(metric_or_zero("inbound_messages_total{kind=\"duplicate\"}") == 0);
    harness_record(true);
    harness_use(&runs_srv);
    stop_worker(worker);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_imap_poller, runs_setup, imap_teardown),
        cmocka_unit_test_setup_teardown(test_one_poller_at_a_time, runs_setup, imap_teardown),
        cmocka_unit_test_setup_teardown(test_uidvalidity_change, runs_setup, imap_teardown),
        cmocka_unit_test_setup_teardown(test_first_poll_store_fails, runs_setup, imap_teardown),
    };
    return api_exit_status(cmocka_run_group_tests(tests, api_group_setup, api_group_teardown));
}
