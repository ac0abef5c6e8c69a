/* Integration tests of inbound mail through the binary (POST /api/inbound/email and
 * `sales-agent inbound`), with time moved by CLOCK_FILE: a reply to the e-mail we sent,
 * matched by In-Reply-To, becomes a conversation turn that cancels the lead's queued
 * follow-ups and shows on its timeline, and a second delivery of it changes nothing; the
 * signature (HMAC-SHA256 over X-Timestamp "." body, computed here with OpenSSL) is
 * required and checked, and the inbound scope works for API keys; a hard bounce makes
 * the contact do-not-contact with source bounce and fails its queued mail, a soft one is
 * only recorded; an out-of-office reply moves the follow-ups past its return date, and a
 * German "Bitte austragen" matched by References makes the contact do-not-contact; a
 * message without ids is matched by its sender; a read receipt changes nothing and opt-out
 * words only in footers make no unsubscribe; the CLI pipe does the same and exits with
 * sysexits codes. */
#include "harness.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NY "America/New_York"
#define SECRET "inbound-test-secret-0123456789abcdef"
#define MAYA "maya@quorvianta.io"

/* ---- helpers -------------------------------------------------------------------------- */

static char clock_path[600];
static time_t clock_now; /* the instant the clock file was last set to */

static void set_clock(time_t t)
{
    clock_file_set(clock_path, t);
    clock_now = t;
}

static time_t iso_time(const char *s)
{
    struct tm tm = {0};
    assert_non_null(s);
    assert_non_null(strptime(s, "%Y-%m-%dT%H:%M:%S", &tm));
    return timegm(&tm);
}

/* Starts runs_srv at t with INBOUND_SECRET and the outbox's worker polling. */
static void start_at(time_t t)
{
    snprintf(clock_path, sizeof clock_path, "%s/clock", runs_srv.dir);
    set_clock(t);
    setenv("CLOCK_FILE", clock_path, 1);
    setenv("OUTBOX_POLL_MS", "100", 1);
    setenv("CALENDAR_TZ", NY, 1);
    setenv("INBOUND_SECRET", SECRET, 1);
    assert_int_equal(server_start(&runs_srv, false), 0);
    harness_use(&runs_srv);
    unsetenv("CLOCK_FILE");
    unsetenv("OUTBOX_POLL_MS");
    unsetenv("CALENDAR_TZ");
    unsetenv("INBOUND_SECRET");
}

static json_t *outbox(const char *status, struct resp *r)
{
    char *path =
        status ? strf("/api/outbox?status=%s&limit=100", status) : strf("/api/outbox?limit=100");
    json_t *j = http_json("GET", path, NULL, r);
    free(path);
    assert_int_equal(r->status, 200);
    return j;
}

static long count_of(const char *status)
{
    struct resp r;
    json_t *j = outbox(status, &r);
    long n = (long)json_integer_value(jget(j, "count"));
    resp_free(&r);
    return n;
}

static long wait_count(const char *status, long want)
{
    long n = -1;
    for (int i = 0; i < 100; i++) {
        if ((n = count_of(status)) == want)
            return n;
        usleep(50 * 1000);
    }
    return n;
}

/* Imports Maya's lead, runs the pipeline, accepts the approval and waits for the first
 * e-mail to leave; the three follow-ups stay queued. lead_id and the sent e-mail's
 * Message-ID and outbox id into the buffers. */
static void sent_first_email(char lead_id[64], char msgid[256], char item[64])
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
    assert_int_equal(wait_count("sent", 1), 1);
    assert_int_equal(count_of("queued"), 3);
    j = outbox("sent", &r);
    snprintf(msgid, 256, "%s", jstr(j, "items.0.message_id"));
    snprintf(item, 64, "%s", jstr(j, "items.0.id"));
    assert_int_equal(msgid[0], '<');
    resp_free(&r);
}

/* "sha256=<hex>" of HMAC-SHA256(secret, ts "." body), computed independently of the
 * server's code. */
static void sign(const char *secret, const char *ts, const char *body, char out[80])
{
    char *text = strf("%s.%s", ts, body);
    unsigned char mac[32];
    unsigned int n = 0;
    assert_non_null(HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)text,
                         strlen(text), mac, &n));
    free(text);
    assert_int_equal(n, 32);
    strcpy(out, "sha256=");
    for (unsigned i = 0; i < n; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", mac[i]);
}

/* POSTs msg signed with secret at ts (unix seconds); the response parsed into r->json. */
static json_t *post_signed_at(const char *msg, const char *secret, long long ts, struct resp *r)
{
    char tsbuf[32], sig[80];
    snprintf(tsbuf, sizeof tsbuf, "%lld", ts);
    sign(secret, tsbuf, msg, sig);
    char *sig_line = strf("X-Signature: %s", sig), *ts_line = strf("X-Timestamp: %s", tsbuf);
    harness_auth(sig_line);
    harness_extra_header(ts_line);
    http("POST", "/api/inbound/email", "message/rfc822", msg, strlen(msg), r);
    harness_auth(NULL);
    harness_extra_header(NULL);
    free(sig_line);
    free(ts_line);
    r->json = json_loadb(r->body, r->len, 0, NULL);
    return r->json;
}

static json_t *post_signed(const char *msg, struct resp *r)
{
    return post_signed_at(msg, SECRET, (long long)clock_now, r);
}

/* Maya's reply to msgid (Gmail's shape: our e-mail quoted under "On ... wrote:"). */
static char *maya_reply(const char *msgid, const char *own_id)
{
    return strf("Return-Path: <maya@quorvianta.io>\r\n"
                "From: Maya Okafor <maya@quorvianta.io>\r\n"
                "To: Alex <alex@example.com>\r\n"
                "Subject: Re: Quorvianta and faster pipeline reviews\r\n"
                "Date: Mon, 2 Nov 2026 11:20:31 -0500\r\n"
                "Message-ID: <%s@mail.gmail.com>\r\n"
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
                own_id, msgid, msgid);
}

static json_t *timeline(const char *lead, struct resp *r)
{
    char *path = strf("/api/leads/%s/timeline?limit=200", lead);
    json_t *j = http_json("GET", path, NULL, r);
    free(path);
    assert_int_equal(r->status, 200);
    return j;
}

/* The first timeline entry of kind, or NULL. */
static json_t *entry_of(json_t *tl, const char *kind)
{
    size_t i;
    json_t *e;
    json_array_foreach(jget(tl, "items"), i, e)
    {
        const char *k = json_string_value(json_object_get(e, "kind"));
        if (k && strcmp(k, kind) == 0)
            return e;
    }
    return NULL;
}

/* ---- replies ---------------------------------------------------------------------------- */

static void test_reply_cancels_followups(void **state)
{
    (void)state;
    start_at(utc(2026, 11, 2, 15, 0)); /* Monday 10:00 in New York */
    char lead[64], msgid[256], item[64];
    sent_first_email(lead, msgid, item);
    char *msg = maya_reply(msgid, "CAF3x-reply-1");
    struct resp r;

    /* the signature is checked before anything else */
    post_signed_at(msg, "not-the-secret-0123456789abcdef", (long long)clock_now, &r);
    expect_problem("a wrong key", &r, 401, "[\"header\",\"x-signature\"]", "invalid_signature");
    resp_free(&r);
    post_signed_at(msg, SECRET, (long long)clock_now - 3600, &r);
    expect_problem("a replayed request", &r, 401, "[\"header\",\"x-signature\"]",
                   "invalid_signature");
    assert_non_null(strstr(r.body, "seconds from the server's time"));
    resp_free(&r);
    harness_auth("");
    http("POST", "/api/inbound/email", "message/rfc822", msg, strlen(msg), &r);
    harness_auth(NULL);
    assert_int_equal(r.status, 401); /* neither a signature nor a credential */
    resp_free(&r);
    assert_int_equal(count_of("queued"), 3); /* none of them changed anything */

    /* a message that cannot be read is a 422 naming the problem */
    post_signed("Subject: hello\r\n\r\nno sender\r\n", &r);
    expect_problem("no From", &r, 422, "[\"body\"]", "invalid_message");
    assert_non_null(strstr(r.body, "no From address"));
    resp_free(&r);
    /* bytes that are neither the declared utf-8 nor windows-1252 (0x81) */
    const char *bad_charset = "From: maya@quorvianta.io\r\nMessage-ID: <bad-1@quorvianta.io>\r\n"
                              "Content-Type: text/plain; charset=utf-8\r\n\r\ncaf\xE9 \x81\r\n";
    post_signed(bad_charset, &r);
    expect_problem("an undecodable byte", &r, 422, "[\"body\"]", "invalid_message");
    assert_non_null(strstr(r.body, "0xE9"));
    assert_non_null(strstr(r.body, "windows-1252"));
    resp_free(&r);

    /* the reply: matched by In-Reply-To, a turn on the lead's mail thread */
    json_t *j = post_signed(msg, &r);
    if (r.status != 200)
        fail_msg("reply: %ld %.400s", r.status, r.body);
    assert_string_equal(jstr(j, "kind"), "reply");
    assert_false(json_is_true(jget(j, "duplicate")));
    assert_string_equal(jstr(j, "matched.by"), "in_reply_to");
    assert_string_equal(jstr(j, "matched.lead_id"), lead);
    assert_string_equal(jstr(j, "matched.outbox_id"), item);
    char thread[128];
    snprintf(thread, sizeof thread, "mail-%s", lead);
    assert_string_equal(jstr(j, "matched.thread_id"), thread);
    assert_string_equal(jstr(j, "text"), "Hi Alex,\n\nThanks, this looks relevant. What would "
                                         "pricing look like for 40 sales reps?");
    assert_string_equal(jstr(j, "intent"), "pricing");
    assert_int_equal(json_integer_value(jget(j, "followups_cancelled")), 3);
    resp_free(&r);
    assert_int_equal(count_of("queued"), 0);
    assert_int_equal(count_of("cancelled"), 3);

    /* on the timeline: the reply, and the conversation turn as an execution */
    j = timeline(lead, &r);
    json_t *e = entry_of(j, "reply_received");
    assert_non_null(e);
    assert_string_equal(jstr(e, "matched_by"), "in_reply_to");
    assert_string_equal(jstr(e, "status"), "pricing");
    assert_string_equal(jstr(e, "thread_id"), thread);
    size_t entries = json_array_size(jget(j, "items"));
    bool turn = false;
    for (size_t i = 0; i < entries; i++) {
        json_t *it = json_array_get(jget(j, "items"), i);
        turn |= strcmp(jstr(it, "kind"), "execution") == 0 &&
                strcmp(jstr(it, "agent_type") ? jstr(it, "agent_type") : "", "conversation") == 0;
    }
    assert_true(turn);
    resp_free(&r);

    /* the same message again (a webhook's retry): answered, nothing changes */
    j = post_signed(msg, &r);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(jget(j, "duplicate")));
    assert_string_equal(jstr(j, "kind"), "reply");
    assert_string_equal(jstr(j, "matched.lead_id"), lead);
    resp_free(&r);
    j = timeline(lead, &r);
    assert_int_equal(json_array_size(jget(j, "items")), entries);
    resp_free(&r);
    char *path = strf("/api/conversations/%s", thread);
    j = http_json("GET", path, NULL, &r);
    free(path);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(jget(j, "turns")), 1);
    resp_free(&r);
    /* counted by kind: the reply, its duplicate, the two unreadable messages */
    http("GET", "/metrics", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "inbound_messages_total{kind=\"reply\"} 1\n"));
    assert_non_null(strstr(r.body, "inbound_messages_total{kind=\"duplicate\"} 1\n"));
    assert_non_null(strstr(r.body, "inbound_messages_total{kind=\"invalid\"} 2\n"));
    resp_free(&r);

    /* an API key with the inbound scope may post mail; one without it may not */
    char *body = strf("{\"name\":\"gateway\",\"scopes\":[\"inbound\"]}");
    j = http_json("POST", "/api/keys", body, &r);
    free(body);
    assert_int_equal(r.status, 201);
    char *line = strf("X-API-Key: %s", jstr(j, "key"));
    resp_free(&r);
    const char *stranger = "From: Someone <someone@elsewhere.example>\r\n"
                           "Message-ID: <stranger-1@elsewhere.example>\r\n"
                           "Subject: Hello\r\n\r\nDo you sell to hospitals?\r\n";
    harness_auth(line);
    http("POST", "/api/inbound/email", "text/plain", stranger, strlen(stranger), &r);
    j = json_loadb(r.body, r.len, 0, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "kind"), "unmatched");
    assert_true(json_is_null(jget(j, "matched")));
    json_decref(j);
    resp_free(&r);
    http("GET", "/api/leads", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 403); /* the gateway's key reads nothing */
    resp_free(&r);
    harness_auth(NULL);
    free(line);
    body = strf("{\"name\":\"reader\",\"scopes\":[\"read\"]}");
    j = http_json("POST", "/api/keys", body, &r);
    free(body);
    line = strf("X-API-Key: %s", jstr(j, "key"));
    resp_free(&r);
    harness_auth(line);
    http("POST", "/api/inbound/email", "message/rfc822", stranger, strlen(stranger), &r);
    harness_auth(NULL);
    free(line);
    assert_int_equal(r.status, 403);
    resp_free(&r);

    /* the lead erased: its reply keeps only its id and kind, and stays a duplicate */
    path = strf("/api/leads/%s", lead);
    http("DELETE", path, NULL, NULL, 0, &r);
    free(path);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    j = post_signed(msg, &r);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(jget(j, "duplicate")));
    assert_true(json_is_true(jget(j, "erased")));
    assert_string_equal(jstr(j, "kind"), "reply");
    assert_null(jget(j, "text"));
    assert_null(jget(j, "email"));
    resp_free(&r);
    free(msg);
    assert_true(exited_ok(server_stop(&runs_srv)));
}

/* ---- bounces --------------------------------------------------------------------------- */

/* A Postfix DSN for rcpt of the message msgid with status (5.1.1 or 4.2.2). */
static char *dsn(const char *rcpt, const char *msgid, const char *status, const char *own)
{
    bool hard = status[0] == '5';
    return strf("From: MAILER-DAEMON@mail.example.com (Mail Delivery System)\r\n"
                "To: alex@example.com\r\n"
                "Subject: %s\r\n"
                "Message-Id: <%s@mail.example.com>\r\n"
                "Auto-Submitted: auto-replied\r\n"
                "MIME-Version: 1.0\r\n"
                "Content-Type: multipart/report; report-type=delivery-status;\r\n"
                "\tboundary=\"B.1/mail.example.com\"\r\n\r\n"
                "--B.1/mail.example.com\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
                "This is the mail system at host mail.example.com.\r\n\r\n"
                "<%s>: host mx.quorvianta.io[192.0.2.10] said: %s %s\r\n\r\n"
                "--B.1/mail.example.com\r\nContent-Type: message/delivery-status\r\n\r\n"
                "Reporting-MTA: dns; mail.example.com\r\n\r\n"
                "Final-Recipient: rfc822; %s\r\nAction: %s\r\nStatus: %s\r\n"
                "Diagnostic-Code: smtp; %s %s %s\r\n\r\n"
                "--B.1/mail.example.com\r\nContent-Type: text/rfc822-headers\r\n\r\n"
                "From: Alex <alex@example.com>\r\nTo: %s\r\nMessage-ID: %s\r\n\r\n"
                "--B.1/mail.example.com--\r\n",
                hard ? "Undelivered Mail Returned to Sender" : "Delayed Mail (still being retried)",
                own, rcpt, hard ? "550" : "452", hard ? "5.1.1 User unknown" : "4.2.2 Mailbox full",
                rcpt, hard ? "failed" : "delayed", status, hard ? "550" : "452", status,
                hard ? "User unknown" : "Mailbox full", rcpt, msgid);
}

static void test_bounces(void **state)
{
    (void)state;
    start_at(utc(2026, 11, 2, 15, 0));
    char lead[64], msgid[256], item[64];
    sent_first_email(lead, msgid, item);
    struct resp r;

    /* a soft bounce: on the timeline, nothing else */
    char *soft = dsn(MAYA, msgid, "4.2.2", "soft-1");
    json_t *j = post_signed(soft, &r);
    free(soft);
    if (r.status != 200)
        fail_msg("soft bounce: %ld %.400s", r.status, r.body);
    assert_string_equal(jstr(j, "kind"), "bounce");
    assert_false(json_is_true(jget(j, "bounce.hard")));
    assert_string_equal(jstr(j, "bounce.status"), "4.2.2");
    assert_false(json_is_true(jget(j, "do_not_contact")));
    resp_free(&r);
    assert_int_equal(count_of("queued"), 3);
    j = http_json("GET", "/api/contacts/" MAYA, NULL, &r);
    assert_false(json_is_true(jget(j, "do_not_contact")));
    resp_free(&r);

    /* a hard bounce: do-not-contact (source bounce), the queued mail fails */
    char *hard = dsn(MAYA, msgid, "5.1.1", "hard-1");
    j = post_signed(hard, &r);
    if (r.status != 200)
        fail_msg("hard bounce: %ld %.400s", r.status, r.body);
    assert_string_equal(jstr(j, "kind"), "bounce");
    assert_true(json_is_true(jget(j, "bounce.hard")));
    assert_string_equal(jstr(j, "bounce.recipient"), MAYA);
    assert_string_equal(jstr(j, "matched.by"), "original_message_id");
    assert_string_equal(jstr(j, "matched.lead_id"), lead);
    assert_true(json_is_true(jget(j, "do_not_contact")));
    assert_int_equal(json_integer_value(jget(j, "outbox_failed")), 3);
    resp_free(&r);
    assert_int_equal(count_of("queued"), 0);
    assert_int_equal(count_of("failed"), 3);
    assert_int_equal(count_of("sent"), 1);
    j = outbox("failed", &r);
    assert_string_equal(jstr(j, "items.0.last_error"), "hard bounce (5.1.1)");
    resp_free(&r);
    j = http_json("GET", "/api/contacts/" MAYA, NULL, &r);
    assert_true(json_is_true(jget(j, "do_not_contact")));
    assert_string_equal(jstr(j, "source"), "bounce");
    assert_non_null(strstr(jstr(j, "reason"), "5.1.1"));
    resp_free(&r);
    /* both on the timeline, with their status codes */
    j = timeline(lead, &r);
    size_t bounces = 0, i;
    json_t *e;
    json_array_foreach(jget(j, "items"), i, e)
    {
        if (strcmp(jstr(e, "kind"), "bounce") != 0)
            continue;
        bounces++;
        assert_string_equal(jstr(e, "matched_by"), "original_message_id");
        assert_true(strcmp(jstr(e, "status"), "5.1.1") == 0 ||
                    strcmp(jstr(e, "status"), "4.2.2") == 0);
    }
    assert_int_equal(bounces, 2);
    resp_free(&r);
    /* again: nothing more */
    j = post_signed(hard, &r);
    assert_true(json_is_true(jget(j, "duplicate")));
    resp_free(&r);
    free(hard);

    /* a message with an attachment, larger than MAX_BODY_BYTES (1 MB): read, the
     * attachment skipped */
    size_t blob = 1500 * 1024;
    char *b64 = malloc(blob + blob / 76 * 2 + 1);
    assert_non_null(b64);
    size_t o = 0;
    for (size_t k = 0; k < blob; k++) {
        b64[o++] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[k % 64];
        if (k % 76 == 75) {
            b64[o++] = '\r';
            b64[o++] = '\n';
        }
    }
    b64[o] = '\0';
    char *big =
        strf("From: Ana Ruiz <ana@elsewhere.example>\r\nMessage-ID: <big-1@elsewhere.example>\r\n"
             "Subject: Our RFP\r\nMIME-Version: 1.0\r\n"
             "Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n\r\n"
             "--XYZ\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
             "Please find our RFP attached.\r\n"
             "--XYZ\r\nContent-Type: application/pdf; name=\"rfp.pdf\"\r\n"
             "Content-Disposition: attachment; filename=\"rfp.pdf\"\r\n"
             "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--XYZ--\r\n",
             b64);
    free(b64);
    j = post_signed(big, &r);
    free(big);
    if (r.status != 200)
        fail_msg("a large message: %ld %.300s", r.status, r.body);
    assert_string_equal(jstr(j, "kind"), "unmatched");
    resp_free(&r);
    assert_true(exited_ok(server_stop(&runs_srv)));
}

/* ---- out of office ------------------------------------------------------------------------ */

static void test_out_of_office(void **state)
{
    (void)state;
    start_at(utc(2027, 1, 4, 15, 0)); /* Monday 10:00 in New York */
    char lead[64], msgid[256], item[64];
    sent_first_email(lead, msgid, item);
    struct resp r;
    json_t *j = outbox("queued", &r);
    time_t before[3];
    for (size_t i = 0; i < 3; i++)
        before[i] = iso_time(jstr(json_array_get(jget(j, "items"), i), "due_at"));
    resp_free(&r);
    char *ooo = strf("From: Maya Okafor <maya@quorvianta.io>\r\n"
                     "To: Alex <alex@example.com>\r\n"
                     "Subject: Automatic reply: Quorvianta and faster pipeline reviews\r\n"
                     "Message-ID: <ooo-1@quorvianta.io>\r\n"
                     "In-Reply-To: %s\r\n"
                     "Auto-Submitted: auto-replied\r\n"
                     "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
                     "Thank you for your message. I am out of the office until 25 January 2027 "
                     "and will reply when I am back.\r\n",
                     msgid);
    j = post_signed(ooo, &r);
    free(ooo);
    if (r.status != 200)
        fail_msg("auto-reply: %ld %.400s", r.status, r.body);
    assert_string_equal(jstr(j, "kind"), "auto_reply");
    assert_string_equal(jstr(j, "return_date"), "2027-01-25");
    assert_int_equal(json_integer_value(jget(j, "followups_postponed")), 3);
    resp_free(&r);
    j = outbox("queued", &r); /* not cancelled: moved */
    assert_int_equal(json_array_size(jget(j, "items")), 3);
    time_t after[3];
    for (size_t i = 0; i < 3; i++) {
        json_t *it = json_array_get(jget(j, "items"), i);
        after[i] = iso_time(jstr(it, "due_at"));
        assert_true(after[i] >= utc(2027, 1, 26, 0, 0)); /* the day after the return */
        assert_true(after[i] > before[i]);
    }
    resp_free(&r);
    j = timeline(lead, &r);
    json_t *e = entry_of(j, "auto_reply");
    assert_non_null(e);
    assert_string_equal(jstr(e, "status"), "2027-01-25");
    assert_null(entry_of(j, "reply_received"));
    resp_free(&r);

    /* back, and asking to be removed, in German, as Outlook writes it (References only,
     * quoted-printable, the original under "Von: ... Gesendet:") */
    char *unsub = strf("From: Maya Okafor <maya@quorvianta.io>\r\n"
                       "To: Alex <alex@example.com>\r\n"
                       "Subject: AW: Quorvianta and faster pipeline reviews\r\n"
                       "Message-ID: <unsub-1@quorvianta.io>\r\n"
                       "References: <older@quorvianta.io> %s\r\n"
                       "Content-Type: text/plain; charset=utf-8\r\n"
                       "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                       "Bitte austragen. Ich m=C3=B6chte keine weiteren E-Mails erhalten.\r\n\r\n"
                       "Von: Alex <alex@example.com>\r\n"
                       "Gesendet: Montag, 4. Januar 2027 10:00\r\n"
                       "An: Maya Okafor <maya@quorvianta.io>\r\n"
                       "Betreff: Quorvianta and faster pipeline reviews\r\n\r\nHi Maya\r\n",
                       msgid);
    j = post_signed(unsub, &r);
    free(unsub);
    if (r.status != 200)
        fail_msg("unsubscribe: %ld %.400s", r.status, r.body);
    assert_string_equal(jstr(j, "kind"), "reply");
    assert_string_equal(jstr(j, "matched.by"), "references");
    assert_string_equal(jstr(j, "intent"), "unsubscribe");
    assert_true(json_is_true(jget(j, "do_not_contact")));
    assert_string_equal(jstr(j, "text"),
                        "Bitte austragen. Ich möchte keine weiteren E-Mails erhalten.");
    resp_free(&r);
    assert_int_equal(count_of("queued"), 0);
    j = http_json("GET", "/api/contacts/" MAYA, NULL, &r);
    assert_true(json_is_true(jget(j, "do_not_contact")));
    assert_string_equal(jstr(j, "source"), "conversation");
    resp_free(&r);

    /* no ids at all: matched by the sender's address */
    const char *plain = "From: maya@quorvianta.io\r\nMessage-ID: <plain-1@quorvianta.io>\r\n"
                        "Subject: one more thing\r\n\r\nDo you integrate with HubSpot?\r\n";
    j = post_signed(plain, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "kind"), "reply");
    assert_string_equal(jstr(j, "matched.by"), "sender");
    assert_string_equal(jstr(j, "matched.lead_id"), lead);
    resp_free(&r);
    assert_true(exited_ok(server_stop(&runs_srv)));
}

/* A read receipt is software's, not a reply: nothing cancelled, nothing postponed by the
 * date it was read. A reply whose only opt-out words are the prospect's own legal footer
 * ("To unsubscribe from our newsletter click here") and our e-mail's closing line quoted
 * under a Swedish Outlook header is a reply, not an unsubscribe: the follow-ups stop, the
 * contact stays reachable. */
static void test_receipt_and_footers(void **state)
{
    (void)state;
    start_at(utc(2026, 11, 2, 15, 0)); /* Monday 10:00 in New York */
    char lead[64], msgid[256], item[64];
    sent_first_email(lead, msgid, item);
    struct resp r;
    json_t *j = outbox("queued", &r);
    char due[3][32];
    for (size_t i = 0; i < 3; i++)
        snprintf(due[i], sizeof due[i], "%s", jstr(json_array_get(jget(j, "items"), i), "due_at"));
    resp_free(&r);
    char *receipt = strf("From: Maya Okafor <maya@quorvianta.io>\r\n"
                         "To: Alex <alex@example.com>\r\n"
                         "Subject: Read: Quorvianta and faster pipeline reviews\r\n"
                         "Message-ID: <mdn-1@quorvianta.io>\r\n"
                         "MIME-Version: 1.0\r\n"
                         "Content-Type: multipart/report; report-type=disposition-notification;"
                         " boundary=\"mdn\"\r\n\r\n"
                         "--mdn\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                         "Your message\r\n\r\n  To: Maya Okafor\r\n  Subject: Quorvianta and "
                         "faster pipeline reviews\r\n\r\nwas read on Tuesday, 10 November 2026 "
                         "09:12.\r\n\r\n--mdn\r\n"
                         "Content-Type: message/disposition-notification\r\n\r\n"
                         "Final-Recipient: rfc822;maya@quorvianta.io\r\n"
                         "Original-Message-ID: %s\r\n"
                         "Disposition: automatic-action/MDN-sent-automatically; displayed\r\n"
                         "\r\n--mdn--\r\n",
                         msgid);
    j = post_signed(receipt, &r);
    free(receipt);
    if (r.status != 200)
        fail_msg("receipt: %ld %.400s", r.status, r.body);
    assert_string_equal(jstr(j, "kind"), "auto_reply");
    assert_true(json_is_null(jget(j, "return_date")));
    assert_int_equal(json_integer_value(jget(j, "followups_postponed")), 0);
    resp_free(&r);
    j = outbox("queued", &r);
    assert_int_equal(json_array_size(jget(j, "items")), 3);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(jstr(json_array_get(jget(j, "items"), i), "due_at"), due[i]);
    resp_free(&r);

    char *reply = strf("From: Maya Okafor <maya@quorvianta.io>\r\n"
                       "To: Alex <alex@example.com>\r\n"
                       "Subject: SV: Quorvianta and faster pipeline reviews\r\n"
                       "Message-ID: <footer-1@quorvianta.io>\r\n"
                       "In-Reply-To: %s\r\n"
                       "Content-Type: text/plain; charset=utf-8\r\n\r\n"
                       "Hi Alex, happy to take a look. Can we do a demo next week?\r\n\r\n"
                       "Maya Okafor | VP Sales | Quorvianta\r\n"
                       "This e-mail is confidential. To unsubscribe from our newsletter click "
                       "here.\r\n\r\n"
                       "Fr\xc3\xa5n: Alex <alex@example.com>\r\n"
                       "Skickat: den 2 november 2026 10:00\r\n"
                       "Till: Maya Okafor <maya@quorvianta.io>\r\n"
                       "\xc3\x84mne: Quorvianta and faster pipeline reviews\r\n\r\n"
                       "Hi Maya,\r\nTo stop receiving these e-mails, unsubscribe here: "
                       "http://localhost/unsubscribe/abc\r\n",
                       msgid);
    j = post_signed(reply, &r);
    free(reply);
    if (r.status != 200)
        fail_msg("reply: %ld %.400s", r.status, r.body);
    assert_string_equal(jstr(j, "kind"), "reply");
    assert_string_equal(jstr(j, "intent"), "demo_request");
    assert_false(json_is_true(jget(j, "do_not_contact")));
    assert_int_equal(json_integer_value(jget(j, "followups_cancelled")), 3);
    assert_null(strstr(jstr(j, "text"), "unsubscribe"));
    resp_free(&r);
    j = http_json("GET", "/api/contacts/" MAYA, NULL, &r);
    assert_false(json_is_true(jget(j, "do_not_contact")));
    resp_free(&r);

    /* from nobody we wrote to: recorded, and a request to stop is honoured */
    const char *stranger = "From: Pat Doe <pat.doe@unknown-corp.example>\r\n"
                           "Subject: Re: Unknown Corp and faster reviews\r\n"
                           "Message-ID: <unm-1@unknown-corp.example>\r\n"
                           "Content-Type: text/plain; charset=utf-8\r\n\r\n"
                           "Please remove me from your mailing list.\r\n";
    j = post_signed(stranger, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "kind"), "unmatched");
    assert_string_equal(jstr(j, "intent"), "unsubscribe");
    assert_true(json_is_true(jget(j, "do_not_contact")));
    assert_null(jget(j, "text"));
    resp_free(&r);
    j = http_json("GET", "/api/contacts/pat.doe@unknown-corp.example", NULL, &r);
    assert_true(json_is_true(jget(j, "do_not_contact")));
    resp_free(&r);
    /* a request for a team next to a link is no footer ("us" is not the sender here) */
    static const struct {
        const char *from, *body;
    } team[] = {
        {"lee.park@unknown-corp.example", "Please take us off your mailing list https://acme.com"},
        {"jonas.weber@unknown-corp.example",
         "Bitte tragen Sie uns aus, der Link zum Abmelden (http://x) funktioniert nicht."},
    };
    for (size_t i = 0; i < sizeof team / sizeof team[0]; i++) {
        char *mail = strf("From: %s\r\nSubject: Re: Unknown Corp\r\n"
                          "Message-ID: <team-%zu@unknown-corp.example>\r\n"
                          "Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
                          team[i].from, i, team[i].body);
        j = post_signed(mail, &r);
        free(mail);
        assert_int_equal(r.status, 200);
        if (strcmp(jstr(j, "intent"), "unsubscribe") != 0 ||
            !json_is_true(jget(j, "do_not_contact")))
            fail_msg("\"%s\": %.400s", team[i].body, r.body);
        resp_free(&r);
        char path[128];
        snprintf(path, sizeof path, "/api/contacts/%s", team[i].from);
        j = http_json("GET", path, NULL, &r);
        assert_true(json_is_true(jget(j, "do_not_contact")));
        resp_free(&r);
    }
    const char *hello = "From: Sam Roe <sam@unknown-corp.example>\r\n"
                        "Subject: question\r\nMessage-ID: <unm-2@unknown-corp.example>\r\n\r\n"
                        "What does it cost?\r\n";
    j = post_signed(hello, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "kind"), "unmatched");
    assert_false(json_is_true(jget(j, "do_not_contact")));
    resp_free(&r);

    /* a body of blank lines (a calendar client's "Declined:"): the subject is the turn's text */
    const char *blank = "From: Maya Okafor <maya@quorvianta.io>\r\n"
                        "Subject: Declined: Intro call\r\n"
                        "Message-ID: <blank-1@quorvianta.io>\r\n"
                        "Content-Type: text/plain; charset=utf-8\r\n\r\n\r\n \r\n";
    j = post_signed(blank, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "kind"), "reply");
    assert_string_equal(jstr(j, "text"), "Declined: Intro call");
    resp_free(&r);
    /* our List-Unsubscribe mailto (subject=unsubscribe), sent with a blank body: honoured */
    const char *mailto = "From: maya@quorvianta.io\r\nSubject: unsubscribe\r\n"
                         "Message-ID: <mailto-1@quorvianta.io>\r\n\r\n\r\n";
    j = post_signed(mailto, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "kind"), "reply");
    assert_non_null(jget(j, "intent"));
    assert_string_equal(jstr(j, "intent"), "unsubscribe");
    assert_true(json_is_true(jget(j, "do_not_contact")));
    resp_free(&r);
    /* an older Exchange's reply: windows-1252 bytes labelled utf-8 are read, and the stored
     * outcome says so (a second delivery answers it again) */
    char *exchange = strf("From: Maya Okafor <maya@quorvianta.io>\r\n"
                          "Subject: AW: Quorvianta and faster pipeline reviews\r\n"
                          "Message-ID: <exch-1252@quorvianta.io>\r\n"
                          "In-Reply-To: %s\r\n"
                          "Content-Type: text/plain; charset=\"utf-8\"\r\n"
                          "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                          "Gr=FC=DFe aus M=FCnchen =96 Dienstag passt.\r\n",
                          msgid);
    for (int round = 0; round < 2; round++) {
        j = post_signed(exchange, &r);
        if (r.status != 200)
            fail_msg("mislabelled charset: %ld %.400s", r.status, r.body);
        assert_string_equal(jstr(j, "kind"), "reply");
        assert_int_equal(json_is_true(jget(j, "duplicate")), round == 1);
        assert_string_equal(jstr(j, "text"), "Gr\xc3\xbc\xc3\x9f"
                                             "e aus M\xc3\xbcnchen \xe2\x80\x93 Dienstag passt.");
        assert_string_equal(jstr(j, "charset_note.declared"), "utf-8");
        assert_string_equal(jstr(j, "charset_note.decoded_as"), "windows-1252");
        resp_free(&r);
    }
    free(exchange);
    assert_true(exited_ok(server_stop(&runs_srv)));
}

/* A colleague's reply to the e-mail we sent Maya, from their own address: "please remove
 * me" opts out the colleague, not Maya, and the turn is with them; "Maya has left the
 * company, please remove her" opts out Maya. Both records say who asked. */
static void test_colleague_removal(void **state)
{
    (void)state;
    start_at(utc(2026, 11, 2, 15, 0)); /* Monday 10:00 in New York */
    char lead[64], msgid[256], item[64];
    sent_first_email(lead, msgid, item);
    struct resp r;
    char *mail = strf("From: Daniel Reyes <daniel.reyes@quorvianta.io>\r\n"
                      "To: Alex <alex@example.com>\r\n"
                      "Cc: Maya Okafor <maya@quorvianta.io>\r\n"
                      "Subject: RE: Quorvianta and faster pipeline reviews\r\n"
                      "Message-ID: <colleague-1@quorvianta.io>\r\n"
                      "In-Reply-To: %s\r\n"
                      "Content-Type: text/plain; charset=utf-8\r\n\r\n"
                      "Hi Alex, please remove me from your list, I'm not involved in "
                      "purchasing.\r\n",
                      msgid);
    json_t *j = post_signed(mail, &r);
    free(mail);
    if (r.status != 200)
        fail_msg("colleague: %ld %.400s", r.status, r.body);
    assert_string_equal(jstr(j, "kind"), "reply");
    assert_string_equal(jstr(j, "intent"), "unsubscribe");
    assert_true(json_is_true(jget(j, "do_not_contact")));
    assert_string_equal(jstr(j, "do_not_contact_email"), "daniel.reyes@quorvianta.io");
    /* ...but not silently: another person asked, a person checks whether Maya was meant too */
    assert_true(json_is_true(jget(j, "needs_human")));
    assert_string_equal(jstr(j, "needs_human_reason"), "removal_from_other_address");
    resp_free(&r);
    j = http_json("GET", "/api/contacts/daniel.reyes@quorvianta.io", NULL, &r);
    assert_true(json_is_true(jget(j, "do_not_contact")));
    assert_non_null(strstr(jstr(j, "reason"), "daniel.reyes@quorvianta.io"));
    resp_free(&r);
    j = http_json("GET", "/api/contacts/" MAYA, NULL, &r);
    if (json_is_true(jget(j, "do_not_contact")))
        fail_msg("Maya opted out by her colleague's request: %.400s", r.body);
    resp_free(&r);
    assert_int_equal(count_of("queued"), 3);

    mail = strf("From: Priya Nair <priya.nair@quorvianta.io>\r\n"
                "To: Alex <alex@example.com>\r\n"
                "Subject: RE: Quorvianta and faster pipeline reviews\r\n"
                "Message-ID: <colleague-2@quorvianta.io>\r\n"
                "In-Reply-To: %s\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n\r\n"
                "Hello, Maya has left the company, please remove her from your list.\r\n",
                msgid);
    j = post_signed(mail, &r);
    free(mail);
    if (r.status != 200)
        fail_msg("colleague about Maya: %ld %.400s", r.status, r.body);
    assert_string_equal(jstr(j, "do_not_contact_email"), MAYA);
    assert_true(json_is_true(jget(j, "do_not_contact")));
    resp_free(&r);
    j = http_json("GET", "/api/contacts/" MAYA, NULL, &r);
    assert_true(json_is_true(jget(j, "do_not_contact")));
    assert_non_null(strstr(jstr(j, "reason"), "priya.nair@quorvianta.io"));
    resp_free(&r);
    j = http_json("GET", "/api/contacts/priya.nair@quorvianta.io", NULL, &r);
    assert_false(json_is_true(jget(j, "do_not_contact")));
    resp_free(&r);
    assert_true(exited_ok(server_stop(&runs_srv)));
}

/* Maya asks to be removed from another of her addresses: both are opted out and the
 * follow-ups to the address we wrote to are cancelled. */
static void test_same_person_other_address(void **state)
{
    (void)state;
    start_at(utc(2026, 11, 2, 15, 0)); /* Monday 10:00 in New York */
    char lead[64], msgid[256], item[64];
    sent_first_email(lead, msgid, item);
    struct resp r;
    char *mail = strf("From: \"Okafor, Maya\" <maya.okafor@quorvianta.io>\r\n"
                      "To: Alex <alex@example.com>\r\n"
                      "Subject: RE: Quorvianta and faster pipeline reviews\r\n"
                      "Message-ID: <maya-alias-1@quorvianta.io>\r\n"
                      "In-Reply-To: %s\r\n"
                      "Content-Type: text/plain; charset=utf-8\r\n\r\n"
                      "Hi Alex,\r\n\r\nplease remove me from your list.\r\n\r\nMaya\r\n",
                      msgid);
    json_t *j = post_signed(mail, &r);
    free(mail);
    if (r.status != 200)
        fail_msg("Maya from another address: %ld %.400s", r.status, r.body);
    assert_string_equal(jstr(j, "intent"), "unsubscribe");
    assert_string_equal(jstr(j, "do_not_contact_email"), MAYA);
    assert_string_equal(jstr(j, "do_not_contact_emails.0"), MAYA);
    assert_string_equal(jstr(j, "do_not_contact_emails.1"), "maya.okafor@quorvianta.io");
    assert_false(json_is_true(jget(j, "needs_human")));
    assert_int_equal(json_integer_value(jget(j, "followups_cancelled")), 3);
    resp_free(&r);
    assert_int_equal(count_of("queued"), 0);
    const char *addrs[] = {MAYA, "maya.okafor@quorvianta.io"};
    for (size_t i = 0; i < 2; i++) {
        char *path = strf("/api/contacts/%s", addrs[i]);
        j = http_json("GET", path, NULL, &r);
        free(path);
        if (!json_is_true(jget(j, "do_not_contact")))
            fail_msg("%s not opted out: %.400s", addrs[i], r.body);
        assert_non_null(strstr(jstr(j, "reason"), "the same person"));
        resp_free(&r);
    }
    assert_true(exited_ok(server_stop(&runs_srv)));
}

/* A display name that names someone else wins over a local part that could be Maya's:
 * "Martin Okafor" <m.okafor@...> asking to be removed is another person (the colleague's
 * rule: his address only, and a person checks), not Maya at another address. */
static void test_other_person_by_display_name(void **state)
{
    (void)state;
    start_at(utc(2026, 11, 2, 15, 0)); /* Monday 10:00 in New York */
    char lead[64], msgid[256], item[64];
    sent_first_email(lead, msgid, item);
    struct resp r;
    char *mail = strf("From: Martin Okafor <m.okafor@quorvianta.io>\r\n"
                      "To: Alex <alex@example.com>\r\n"
                      "Subject: RE: Quorvianta and faster pipeline reviews\r\n"
                      "Message-ID: <martin-1@quorvianta.io>\r\n"
                      "In-Reply-To: %s\r\n"
                      "Content-Type: text/plain; charset=utf-8\r\n\r\n"
                      "Hi Alex,\r\n\r\nplease remove me from your list.\r\n\r\nMartin\r\n",
                      msgid);
    json_t *j = post_signed(mail, &r);
    free(mail);
    if (r.status != 200)
        fail_msg("Martin: %ld %.400s", r.status, r.body);
    assert_string_equal(jstr(j, "do_not_contact_email"), "m.okafor@quorvianta.io");
    assert_null(jget(j, "do_not_contact_emails"));
    assert_true(json_is_true(jget(j, "needs_human")));
    resp_free(&r);
    char *path = strf("/api/contacts/%s", MAYA);
    j = http_json("GET", path, NULL, &r);
    free(path);
    assert_false(json_is_true(jget(j, "do_not_contact")));
    resp_free(&r);
    assert_true(exited_ok(server_stop(&runs_srv)));
}

/* Outlook's "Declined: ..." with a typed comment: the answer is no turn, but the comment's
 * request to stop opts Maya out. */
static void test_rsvp_comment_opt_out(void **state)
{
    (void)state;
    start_at(utc(2026, 11, 2, 15, 0)); /* Monday 10:00 in New York */
    char lead[64], msgid[256], item[64];
    sent_first_email(lead, msgid, item);
    struct resp r;
    char *mail =
        strf("From: Maya Okafor <maya@quorvianta.io>\r\n"
             "To: Alex <alex@example.com>\r\n"
             "Subject: Declined: Quorvianta intro call\r\n"
             "Thread-Topic: Quorvianta intro call\r\n"
             "Message-ID: <DM6PR11MB4073A1B2C3D4E5F6@DM6PR11MB4073.namprd11.prod.outlook.com>\r\n"
             "In-Reply-To: %s\r\n"
             "MIME-Version: 1.0\r\n"
             "Content-Type: multipart/alternative; boundary=\"_000_DM6PR11MB4073_\"\r\n\r\n"
             "--_000_DM6PR11MB4073_\r\n"
             "Content-Type: text/plain; charset=\"us-ascii\"\r\n"
             "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
             "Not interested, please remove me from your list.\r\n\r\n"
             "Maya\r\n\r\n"
             "--_000_DM6PR11MB4073_\r\n"
             "Content-Type: text/calendar; charset=\"utf-8\"; method=REPLY\r\n"
             "Content-Transfer-Encoding: base64\r\n\r\n"
             "%s\r\n"
             "--_000_DM6PR11MB4073_--\r\n",
             msgid,
             "QkVHSU46VkNBTEVOREFSDQpNRVRIT0Q6UkVQTFkNClBST0RJRDpNaWNyb3NvZnQgRXhjaGFu"
             "Z2UgU2VydmVyIDIwMTANClZFUlNJT046Mi4wDQpCRUdJTjpWRVZFTlQNCkFUVEVOREVFO1BB"
             "UlRTVEFUPURFQ0xJTkVEOm1haWx0bzptYXlhQHF1b3J2aWFudGEuaW8NClVJRDo5ZjFjMmQz"
             "ZS00YTViLTRjNmQtOGU3Zi0wYTFiMmMzZDRlNWZAZXhhbXBsZS5jb20NCkRUU1RBTVA6MjAy"
             "NjExMDJUMTUwMDAwWg0KRU5EOlZFVkVOVA0KRU5EOlZDQUxFTkRBUg0K");
    json_t *j = post_signed(mail, &r);
    free(mail);
    if (r.status != 200)
        fail_msg("declined with a comment: %ld %.400s", r.status, r.body);
    assert_non_null(jget(j, "rsvp"));
    assert_string_equal(jstr(j, "rsvp.partstat"), "DECLINED");
    if (!jstr(j, "intent") || strcmp(jstr(j, "intent"), "unsubscribe") != 0)
        fail_msg("the comment's opt-out was dropped: %.600s", r.body);
    assert_true(json_is_true(jget(j, "do_not_contact")));
    assert_null(jget(j, "stage")); /* no conversation turn */
    resp_free(&r);
    j = http_json("GET", "/api/contacts/" MAYA, NULL, &r);
    if (!json_is_true(jget(j, "do_not_contact")))
        fail_msg("Maya's comment not honoured: %.400s", r.body);
    resp_free(&r);
    assert_int_equal(count_of("queued"), 0);
    assert_true(exited_ok(server_stop(&runs_srv)));
}

/* ---- the CLI pipe -------------------------------------------------------------------------- */

/* Runs `sales-agent inbound` on runs_srv's database with file on stdin; *status its exit
 * status; returns its JSON output (NULL when none). */
static json_t *inbound_cli(const char *file, int *status)
{
    char *cmd = strf("env CLOCK_FILE=%s LOG_LEVEL=error %s%s %s inbound --database-url %s "
                     "--data-dir %s/data < %s",
                     clock_path, runs_srv.redis_url[0] ? "REDIS_URL=" : "",
                     runs_srv.redis_url[0] ? runs_srv.redis_url : "", SA_BINARY, runs_srv.db_url,
                     SA_SOURCE_DIR, file);
    FILE *p = popen(cmd, "r");
    free(cmd);
    assert_non_null(p);
    char out[16384];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return json_loads(out, 0, NULL);
}

static void test_cli_pipe(void **state)
{
    (void)state;
    start_at(utc(2026, 12, 2, 10, 0));
    int status = -1;
    char *file = strf("%s/tests/data/inbound/postfix_dsn.eml", SA_SOURCE_DIR);
    json_t *j = inbound_cli(file, &status);
    assert_int_equal(status, 0);
    assert_non_null(j);
    assert_string_equal(jstr(j, "kind"), "bounce");
    assert_string_equal(jstr(j, "bounce.recipient"), "m.okafor@lagos-freight.example");
    json_decref(j);
    struct resp r;
    j = http_json("GET", "/api/contacts/m.okafor@lagos-freight.example", NULL, &r);
    assert_true(json_is_true(jget(j, "do_not_contact")));
    assert_string_equal(jstr(j, "source"), "bounce");
    resp_free(&r);
    j = inbound_cli(file, &status); /* the same message again */
    assert_int_equal(status, 0);
    assert_true(json_is_true(jget(j, "duplicate")));
    json_decref(j);
    free(file);
    /* a message that cannot be read: EX_DATAERR, so the MTA bounces it */
    char *bad = strf("%s/broken.eml", runs_srv.dir);
    FILE *f = fopen(bad, "w");
    assert_non_null(f);
    fputs("this is not a header\n\nbody\n", f);
    fclose(f);
    j = inbound_cli(bad, &status);
    assert_int_equal(status, 65);
    assert_null(j);
    free(bad);
    assert_true(exited_ok(server_stop(&runs_srv)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reply_cancels_followups, runs_setup, runs_teardown),
        cmocka_unit_test_setup_teardown(test_bounces, runs_setup, runs_teardown),
        cmocka_unit_test_setup_teardown(test_out_of_office, runs_setup, runs_teardown),
        cmocka_unit_test_setup_teardown(test_receipt_and_footers, runs_setup, runs_teardown),
        cmocka_unit_test_setup_teardown(test_colleague_removal, runs_setup, runs_teardown),
        cmocka_unit_test_setup_teardown(test_same_person_other_address, runs_setup, runs_teardown),
        cmocka_unit_test_setup_teardown(test_other_person_by_display_name, runs_setup,
                                        runs_teardown),
        cmocka_unit_test_setup_teardown(test_rsvp_comment_opt_out, runs_setup, runs_teardown),
        cmocka_unit_test_setup_teardown(test_cli_pipe, runs_setup, runs_teardown),
    };
    return api_exit_status(cmocka_run_group_tests(tests, api_group_setup, api_group_teardown));
}
