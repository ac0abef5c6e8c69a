/* Integration tests of meetings through the binary, with business time moved by the
 * server's CLOCK_FILE (never by sleeping): a BDR draft holds a slot in both sides' working
 * hours and in the prospect's zone; the slot is re-checked when the approval is answered
 * (passed, or lapsed and taken: a new one, and the response says so); two drafts never get
 * the same slot; an expired hold frees it; RSVPs in JSON and as an iCalendar REPLY; a reply
 * naming a time books it; the delivered invite is read back by Python's email and
 * icalendar packages. The seller works 09:00-17:00 America/New_York, Monday to Friday. */
#include "harness.h"

#include <time.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINK "https://meet.pipewise.example/alex" /* data/product.json's meeting_link */

static char clock_path[600];

/* Moves the server's "now" to iso (an ISO 8601 UTC instant). */
/* An ISO 8601 UTC time as epoch seconds. */
static time_t iso_seconds(const char *s)
{
    struct tm tm = {0};
    assert_non_null(s);
    assert_non_null(strptime(s, "%Y-%m-%dT%H:%M:%S", &tm));
    return timegm(&tm);
}

static time_t clock_set_at; /* when the clock file was last written (real time) */

static void set_clock(const char *iso)
{
    clock_set_at = time(NULL);
    FILE *f = fopen(clock_path, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", iso);
    assert_int_equal(fclose(f), 0);
}

/* The server's clock flows on from the file's instant in real time: how far it can have
 * gone by now (a loaded CI machine takes many seconds for a run), plus one for rounding. */
static time_t flowed(void)
{
    return time(NULL) - clock_set_at + 1;
}

/* Starts runs_srv with its clock at iso and the seller's calendar in New York. */
static void start_at(const char *iso, bool mail)
{
    snprintf(clock_path, sizeof clock_path, "%s/clock", runs_srv.dir);
    set_clock(iso);
    setenv("CLOCK_FILE", clock_path, 1);
    setenv("CALENDAR_TZ", "America/New_York", 1);
    setenv("OUTBOX_POLL_MS", mail ? "100" : "0", 1);
    assert_int_equal(server_start(&runs_srv, false), 0);
    harness_use(&runs_srv);
}

static int meet_teardown(void **state)
{
    unsetenv("CLOCK_FILE");
    unsetenv("CALENDAR_TZ");
    unsetenv("OUTBOX_POLL_MS");
    unsetenv("MEETING_HOLD_HOURS");
    if (runs_srv.pid > 0 && !exited_ok(server_stop(&runs_srv)))
        fail_msg("the server did not exit cleanly (see its log above)");
    return runs_teardown(state);
}

/* A strong lead (so the pipeline drafts outreach) at company/email, with where (JSON
 * members, "" for none) saying where the contact is. */
static char *lead(const char *company, const char *email, const char *where)
{
    return strf("{\"company_name\":\"%s\",\"industry\":\"SaaS\",\"company_size\":\"201-500\","
                "\"annual_revenue\":42000000,\"website\":\"https://www.quorvianta.io\"%s%s,"
                "\"contact_info\":{\"name\":\"Maya Okafor\",\"title\":\"VP of Sales\","
                "\"email\":\"%s\"},\"signals\":[\"requested_demo\",\"hiring_sales\","
                "\"recent_funding\"]}",
                company, *where ? "," : "", where, email);
}

/* Queues a pipeline run on a lead; its id into id. */
static void start_run(const char *lead_json, char id[64])
{
    struct resp r;
    char *body = strf("{\"input\":%s}", lead_json);
    json_t *j = http_json("POST", "/api/runs", body, &r);
    free(body);
    if (r.status != 202)
        fail_msg("run: %ld %.400s", r.status, r.body);
    snprintf(id, 64, "%s", jstr(j, "run_id"));
    resp_free(&r);
}

/* Waits for run id to stop at its approval: the approval id into aid, and the drafted
 * meeting (a new reference). */
static json_t *finish_run(const char *id, char aid[64])
{
    struct resp r;
    json_t *j = wait_run(id, &r);
    if (strcmp(jstr(j, "status") ?: "", "awaiting_approval") != 0)
        fail_msg("run %s: %.600s", id, r.body);
    snprintf(aid, 64, "%s", jstr(j, "output.approvals.0.approval_id"));
    json_t *m = json_incref(jget(j, "output.state.bdr_draft.meeting"));
    resp_free(&r);
    if (!json_is_object(m))
        fail_msg("the draft proposes no meeting");
    return m;
}

/* Runs the pipeline on a lead up to its approval (see finish_run). */
static json_t *draft(const char *lead_json, char aid[64])
{
    char id[64];
    start_run(lead_json, id);
    return finish_run(id, aid);
}

/* Accepts the approval; returns the response (owned by r). */
static json_t *approve(const char *aid, struct resp *r)
{
    char *path = strf("/api/approvals/%s", aid);
    json_t *j =
        http_json("POST", path, "{\"type\":\"accept\",\"reviewer\":\"kim@pipewise.io\"}", r);
    free(path);
    if (r->status != 200)
        fail_msg("approval: %ld %.400s", r->status, r->body);
    return j;
}

static json_t *get_meeting(const char *id, struct resp *r)
{
    char *path = strf("/api/meetings/%s", id);
    json_t *j = http_json("GET", path, NULL, r);
    free(path);
    assert_int_equal(r->status, 200);
    return j;
}

/* A draft made late on a Friday proposes Monday 09:00 Eastern; accepted on Wednesday, the
 * Monday has passed: the meeting moves (same id and invite UID, next sequence) to the first
 * slot after Wednesday's notice, and the answer says from what and why. */
static void test_passed_slot(void **state)
{
    (void)state;
    start_at("2026-12-04T21:00:00Z", false); /* Friday 16:00 Eastern */
    char aid[64];
    char *l =
        lead("Quorvianta Software", "maya@quorvianta.io", "\"country\":\"US\",\"state\":\"NY\"");
    json_t *m = draft(l, aid);
    free(l);
    assert_string_equal(jstr(m, "start"), "2026-12-07T14:00:00Z");
    assert_string_equal(jstr(m, "local"), "Monday 7 December, 09:00 EST");
    assert_string_equal(jstr(m, "timezone"), "America/New_York");
    assert_string_equal(jstr(m, "tz_source"), "region");
    assert_string_equal(jstr(m, "status"), "held");
    /* 48 hours from when it was held (the clock flows on from its instant) */
    time_t held = iso_seconds(jstr(m, "hold_until"));
    assert_true(held >= iso_seconds("2026-12-06T21:00:00Z") &&
                held <= iso_seconds("2026-12-06T21:00:00Z") + flowed());
    assert_non_null(strstr(jstr(m, "text"), "Monday 7 December, 09:00 EST (2026-12-07T14:00:00Z)"));
    assert_non_null(strstr(jstr(m, "ics"), "STATUS:TENTATIVE"));
    char id[64], uid[80];
    snprintf(id, sizeof id, "%s", jstr(m, "id"));
    snprintf(uid, sizeof uid, "%s", jstr(m, "uid"));
    json_decref(m);

    /* the approval shows the time as the prospect reads it */
    struct resp r;
    char *path = strf("/api/approvals/%s", aid);
    json_t *j = http_json("GET", path, NULL, &r);
    free(path);
    assert_string_equal(jstr(j, "request.action_request.args.meeting.local"),
                        "Monday 7 December, 09:00 EST");
    assert_non_null(strstr(jstr(j, "request.description"), "Monday 7 December, 09:00 EST"));
    resp_free(&r);

    set_clock("2026-12-09T15:00:00Z"); /* Wednesday 10:00 Eastern */
    j = approve(aid, &r);
    assert_string_equal(jstr(j, "run.bdr_decision.status"), "approved");
    assert_string_equal(jstr(j, "run.bdr_decision.meeting_rescheduled.reason"), "passed");
    assert_string_equal(jstr(j, "run.bdr_decision.meeting_rescheduled.from"),
                        "2026-12-07T14:00:00Z");
    /* 10:00 plus two hours' notice: Wednesday 12:00 Eastern */
    assert_string_equal(jstr(j, "run.bdr_decision.meeting_rescheduled.to"), "2026-12-09T17:00:00Z");
    assert_string_equal(jstr(j, "run.bdr_decision.meeting_rescheduled.to_local"),
                        "Wednesday 9 December, 12:00 EST");
    resp_free(&r);

    j = get_meeting(id, &r);
    assert_string_equal(jstr(j, "start"), "2026-12-09T17:00:00Z");
    assert_string_equal(jstr(j, "status"), "held");
    assert_string_equal(jstr(j, "ics_uid"), uid); /* the same invite, updated */
    assert_int_equal(json_integer_value(jget(j, "sequence")), 1);
    resp_free(&r);

    /* the queued e-mail carries the new time and the updated invite */
    j = http_json("GET", "/api/outbox?status=queued", NULL, &r);
    bool found = false;
    for (size_t i = 0; i < json_array_size(jget(j, "items")); i++) {
        json_t *it = json_array_get(jget(j, "items"), i);
        if (strcmp(jstr(it, "kind") ?: "", "email") != 0)
            continue;
        found = true;
        assert_non_null(strstr(jstr(it, "payload.body"), "Wednesday 9 December, 12:00 EST"));
        assert_null(strstr(jstr(it, "payload.body"), "Monday 7 December"));
        /* its own paragraph, before the signature */
        const char *body = jstr(it, "payload.body");
        const char *sentence = strstr(body, "\n\nWould Wednesday 9 December, 12:00 EST");
        const char *sig = strstr(body, "\n\nAlex Morgan");
        assert_non_null(sentence);
        assert_non_null(sig);
        assert_true(sentence < sig);
        assert_non_null(strstr(jstr(it, "payload.ics"), "DTSTART:20261209T170000Z"));
        assert_non_null(strstr(jstr(it, "payload.ics"), "SEQUENCE:1"));
    }
    assert_true(found);
    resp_free(&r);
}

/* Two leads drafted at once (both runs queued before either is read; the server's two
 * workers run them side by side) get different, non-overlapping slots: the first free one
 * and the next; the calendar shows both held. An ignored draft lets its slot go. */
static void test_no_double_booking(void **state)
{
    (void)state;
    start_at("2026-12-04T21:00:00Z", false);
    char a1[64], a2[64], r1[64], r2[64];
    char *l1 = lead("Quorvianta Software", "maya@quorvianta.io", "\"country\":\"US\"");
    char *l2 = lead("Globex Analytics", "ravi@globex-analytics.example", "\"country\":\"US\"");
    start_run(l1, r1);
    start_run(l2, r2);
    json_t *m1 = finish_run(r1, a1), *m2 = finish_run(r2, a2);
    free(l1);
    free(l2);
    if (strcmp(jstr(m1, "start"), jstr(m2, "start")) > 0) { /* in start order */
        json_t *t = m1;
        m1 = m2;
        m2 = t;
        char tmp[64];
        memcpy(tmp, a1, 64);
        memcpy(a1, a2, 64);
        memcpy(a2, tmp, 64);
    }
    assert_string_equal(jstr(m1, "start"), "2026-12-07T14:00:00Z");
    assert_string_not_equal(jstr(m1, "start"), jstr(m2, "start"));
    json_int_t s1 = json_integer_value(jget(m1, "start_unix")),
               e1 = json_integer_value(jget(m1, "end_unix")),
               s2 = json_integer_value(jget(m2, "start_unix")),
               e2 = json_integer_value(jget(m2, "end_unix"));
    assert_true(s2 >= e1 || e2 <= s1);
    assert_string_equal(jstr(m2, "start"), "2026-12-07T14:30:00Z");

    struct resp r;
    json_t *j = http_json("GET", "/api/calendar/slots?from=2026-12-07T00:00:00Z&days=1", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "timezone"), "America/New_York");
    json_t *slots = jget(j, "slots");
    assert_int_equal(json_array_size(slots), 16); /* 09:00-17:00 in half hours */
    assert_string_equal(jstr(j, "slots.0.start"), "2026-12-07T14:00:00Z");
    assert_string_equal(jstr(j, "slots.0.status"), "held");
    assert_string_equal(jstr(j, "slots.0.meeting_id"), jstr(m1, "id"));
    assert_string_equal(jstr(j, "slots.1.status"), "held");
    assert_string_equal(jstr(j, "slots.1.meeting_id"), jstr(m2, "id"));
    assert_string_equal(jstr(j, "slots.2.status"), "free");
    resp_free(&r);

    j = http_json("GET", "/api/meetings?status=held", NULL, &r);
    assert_int_equal(json_integer_value(jget(j, "count")), 2);
    resp_free(&r);
    /* the second draft is ignored: its hold is cancelled and its slot free */
    char *path = strf("/api/approvals/%s", a2);
    http_json("POST", path, "{\"type\":\"ignore\"}", &r);
    free(path);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    j = get_meeting(jstr(m2, "id"), &r);
    assert_string_equal(jstr(j, "status"), "cancelled");
    resp_free(&r);
    j = http_json("GET", "/api/calendar/slots?from=2026-12-07T00:00:00Z&days=1", NULL, &r);
    assert_string_equal(jstr(j, "slots.1.status"), "free");
    resp_free(&r);
    http("GET", "/api/meetings?status=bogus", NULL, NULL, 0, &r);
    expect_problem("bad status", &r, 422, "[\"query\",\"status\"]", "enum");
    resp_free(&r);
    http("GET", "/api/calendar/slots?timezone=Mars/Base", NULL, NULL, 0, &r);
    expect_problem("bad zone", &r, 422, "[\"query\",\"timezone\"]", NULL);
    resp_free(&r);
    http("GET", "/api/calendar/slots?days=30", NULL, NULL, 0, &r);
    expect_problem("too many days", &r, 422, "[\"query\",\"days\"]", NULL);
    resp_free(&r);
    json_decref(m1);
    json_decref(m2);
}

/* A San Francisco VP gets a slot in 09:00-17:00 Pacific that is also in the seller's
 * Eastern hours: Monday 12:00 Eastern, 09:00 PST; the calendar in their zone shows only
 * such slots. */
static void test_prospect_zone(void **state)
{
    (void)state;
    start_at("2026-12-04T21:00:00Z", false);
    char aid[64];
    char *l = lead("Quorvianta Software", "maya@quorvianta.io",
                   "\"country\":\"United States\",\"city\":\"San Francisco\"");
    json_t *m = draft(l, aid);
    free(l);
    assert_string_equal(jstr(m, "timezone"), "America/Los_Angeles");
    assert_string_equal(jstr(m, "tz_source"), "region");
    assert_string_equal(jstr(m, "start"), "2026-12-07T17:00:00Z");
    assert_string_equal(jstr(m, "local"), "Monday 7 December, 09:00 PST");
    json_decref(m);

    /* a lead's own zone wins over its country */
    l = lead("Tokyo Robotics", "aiko@tokyo-robotics.example",
             "\"country\":\"US\",\"timezone\":\"Europe/London\"");
    m = draft(l, aid);
    free(l);
    assert_string_equal(jstr(m, "timezone"), "Europe/London");
    assert_string_equal(jstr(m, "tz_source"), "lead");
    /* London's 09:00-17:00 meets New York's 09:00-17:00 at 09:00-12:00 Eastern */
    assert_string_equal(jstr(m, "start"), "2026-12-07T14:00:00Z");
    assert_string_equal(jstr(m, "local"), "Monday 7 December, 14:00 GMT");
    json_decref(m);

    struct resp r;
    json_t *j = http_json("GET",
                          "/api/calendar/slots?from=2026-12-07T00:00:00Z&days=2&timezone="
                          "America/Los_Angeles",
                          NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *slots = jget(j, "slots");
    assert_int_equal(json_array_size(slots), 20); /* 12:00-17:00 Eastern, two days */
    for (size_t i = 0; i < json_array_size(slots); i++) {
        const char *local = jstr(json_array_get(slots, i), "local");
        const char *hm = strstr(local, ", ") + 2;
        int h = atoi(hm);
        if (h < 9 || h > 13 || !strstr(local, "PST"))
            fail_msg("slot %zu at %s is outside 09:00-13:30 PST", i, local);
    }
    assert_string_equal(jstr(j, "slots.0.status"), "held");
    resp_free(&r);
}

/* A hold that lapses frees its slot: another lead gets it; the first draft, accepted
 * later, finds its slot taken and moves. */
static void test_hold_expiry(void **state)
{
    (void)state;
    start_at("2026-12-04T21:00:00Z", false);
    char a1[64], a2[64];
    char *l1 = lead("Quorvianta Software", "maya@quorvianta.io", "\"country\":\"US\"");
    json_t *m1 = draft(l1, a1);
    free(l1);
    assert_string_equal(jstr(m1, "start"), "2026-12-07T14:00:00Z");
    char id1[64];
    snprintf(id1, sizeof id1, "%s", jstr(m1, "id"));
    json_decref(m1);

    set_clock("2026-12-06T22:00:00Z"); /* Sunday: past the 48-hour hold */
    struct resp r;
    json_t *j = get_meeting(id1, &r);
    assert_string_equal(jstr(j, "status"), "expired");
    resp_free(&r);
    j = http_json("GET", "/api/meetings?status=active", NULL, &r);
    assert_int_equal(json_integer_value(jget(j, "count")), 0);
    resp_free(&r);

    char *l2 = lead("Globex Analytics", "ravi@globex-analytics.example", "\"country\":\"US\"");
    json_t *m2 = draft(l2, a2);
    free(l2);
    assert_string_equal(jstr(m2, "start"), "2026-12-07T14:00:00Z"); /* freed, so taken again */
    json_decref(m2);

    j = approve(a1, &r);
    assert_string_equal(jstr(j, "run.bdr_decision.meeting_rescheduled.reason"), "taken");
    assert_string_equal(jstr(j, "run.bdr_decision.meeting_rescheduled.to"), "2026-12-07T14:30:00Z");
    resp_free(&r);
    j = get_meeting(id1, &r);
    assert_string_equal(jstr(j, "status"), "held");
    time_t held = iso_seconds(jstr(j, "hold_until")); /* the clock flows on */
    assert_true(held >= iso_seconds("2026-12-08T22:00:00Z") &&
                held <= iso_seconds("2026-12-08T22:00:00Z") + flowed());
    resp_free(&r);
}

/* RSVPs: JSON ACCEPTED confirms (the invite then says CONFIRMED); an iCalendar REPLY with
 * DECLINED frees the slot; a reply for another invite, a bad partstat, an unknown meeting
 * and a wrong content type are refused. */
static void test_rsvp(void **state)
{
    (void)state;
    start_at("2026-12-04T21:00:00Z", false);
    char a1[64], a2[64];
    char *l1 = lead("Quorvianta Software", "maya@quorvianta.io", "\"country\":\"US\"");
    char *l2 = lead("Globex Analytics", "ravi@globex-analytics.example", "\"country\":\"US\"");
    json_t *m1 = draft(l1, a1), *m2 = draft(l2, a2);
    free(l1);
    free(l2);
    struct resp r;
    char *path = strf("/api/meetings/%s/rsvp", jstr(m1, "id"));
    json_t *j = http_json("POST", path, "{\"partstat\":\"ACCEPTED\"}", &r);
    if (r.status != 200)
        fail_msg("rsvp: %ld %.400s", r.status, r.body);
    assert_string_equal(jstr(j, "partstat"), "ACCEPTED");
    assert_string_equal(jstr(j, "meeting.status"), "confirmed");
    assert_int_equal(json_integer_value(jget(j, "meeting.sequence")), 1);
    assert_non_null(strstr(jstr(j, "meeting.ics"), "STATUS:CONFIRMED"));
    assert_non_null(strstr(jstr(j, "meeting.ics"), "SEQUENCE:1"));
    resp_free(&r);
    /* the organiser confirms: the updated invite is queued to the prospect */
    j = http_json("GET", "/api/outbox?email=maya@quorvianta.io", NULL, &r);
    bool confirmed_invite = false;
    for (size_t i = 0; i < json_array_size(jget(j, "items")); i++) {
        json_t *it = json_array_get(jget(j, "items"), i);
        if (strcmp(jstr(it, "kind") ?: "", "invite") == 0)
            confirmed_invite = strstr(jstr(it, "payload.ics"), "STATUS:CONFIRMED") != NULL;
    }
    assert_true(confirmed_invite);
    resp_free(&r);
    http("POST", path, "application/json", "{\"partstat\":\"MAYBE\"}", 20, &r);
    expect_problem("bad partstat", &r, 422, "[\"body\",\"partstat\"]", "enum");
    resp_free(&r);
    http("POST", path, "text/plain", "hi", 2, &r);
    assert_int_equal(r.status, 415);
    resp_free(&r);
    free(path);

    /* an iCalendar REPLY as a mail client sends it */
    path = strf("/api/meetings/%s/rsvp", jstr(m2, "id"));
    char *reply = strf("BEGIN:VCALENDAR\r\nPRODID:-//Mail Client//EN\r\nVERSION:2.0\r\n"
                       "METHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20261205T090000Z\r\n"
                       "ATTENDEE;PARTSTAT=DECLINED:mailto:ravi@globex-analytics.example\r\n"
                       "END:VEVENT\r\nEND:VCALENDAR\r\n",
                       jstr(m1, "uid"));
    http("POST", path, "text/calendar; charset=utf-8", reply, strlen(reply), &r);
    expect_problem("another meeting's UID", &r, 422, "[\"body\"]", NULL);
    resp_free(&r);
    free(reply);
    reply = strf("BEGIN:VCALENDAR\r\nPRODID:-//Mail Client//EN\r\nVERSION:2.0\r\n"
                 "METHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20261205T090000Z\r\n"
                 "ATTENDEE;PARTSTAT=DECLINED:mailto:ravi@globex-analytics.example\r\n"
                 "END:VEVENT\r\nEND:VCALENDAR\r\n",
                 jstr(m2, "uid"));
    http("POST", path, "text/calendar; charset=utf-8", reply, strlen(reply), &r);
    assert_int_equal(r.status, 200);
    j = json_loadb(r.body, r.len, 0, NULL);
    assert_string_equal(jstr(j, "partstat"), "DECLINED");
    assert_string_equal(jstr(j, "meeting.status"), "declined");
    json_decref(j);
    resp_free(&r);
    free(reply);
    http("POST", path, "text/calendar", "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n",
         46, &r);
    expect_problem("not a reply", &r, 422, "[\"body\"]", NULL);
    resp_free(&r);
    free(path);
    http("POST", "/api/meetings/0b7e9a52-7c1f-4d3e-9a6b-3f2c1d0e9f8a/rsvp", "application/json",
         "{\"partstat\":\"ACCEPTED\"}", 23, &r);
    expect_problem("unknown meeting", &r, 404, "[\"path\",\"meeting_id\"]", NULL);
    resp_free(&r);
    http("GET", "/api/meetings/nope", NULL, NULL, 0, &r);
    expect_problem("bad meeting id", &r, 422, "[\"path\",\"meeting_id\"]", NULL);
    resp_free(&r);

    /* the declined slot is free again, the accepted one confirmed */
    j = http_json("GET", "/api/calendar/slots?from=2026-12-07T00:00:00Z&days=1", NULL, &r);
    assert_string_equal(jstr(j, "slots.0.status"), "confirmed");
    assert_string_equal(jstr(j, "slots.1.status"), "free");
    resp_free(&r);
    /* and the lead's timeline shows its meeting */
    j = http_json("GET", "/api/meetings?status=confirmed", NULL, &r);
    char *tl = strf("/api/leads/%s/timeline", jstr(j, "items.0.lead_id"));
    resp_free(&r);
    j = http_json("GET", tl, NULL, &r);
    free(tl);
    assert_int_equal(r.status, 200);
    bool seen = false;
    for (size_t i = 0; i < json_array_size(jget(j, "items")); i++)
        seen |= strcmp(jstr(json_array_get(jget(j, "items"), i), "kind") ?: "", "meeting") == 0;
    assert_true(seen);
    resp_free(&r);
    /* an answer after the meeting began changes nothing: 409 */
    set_clock("2026-12-07T15:00:00Z");
    path = strf("/api/meetings/%s/rsvp", jstr(m1, "id"));
    http_json("POST", path, "{\"partstat\":\"DECLINED\"}", &r);
    free(path);
    expect_problem("late RSVP", &r, 409, "[\"path\",\"meeting_id\"]", NULL);
    resp_free(&r);
    json_decref(m1);
    json_decref(m2);
}

/* A conversation turn naming a free time books it; naming a taken one offers the nearest
 * free slots instead and says why. */
/* A prospect who opts out while their draft waits: approving it sends nothing, and the
 * slot the draft held is free again. */
static void test_opt_out_releases_hold(void **state)
{
    (void)state;
    start_at("2026-12-04T21:00:00Z", false);
    char aid[64];
    char *l = lead("Quorvianta Software", "maya@quorvianta.io", "\"country\":\"US\"");
    json_t *m = draft(l, aid);
    free(l);
    char id[64];
    snprintf(id, sizeof id, "%s", jstr(m, "id"));
    assert_string_equal(jstr(m, "status"), "held");
    json_decref(m);
    struct resp r;
    http_json("POST", "/api/contacts/maya@quorvianta.io/do-not-contact",
              "{\"reason\":\"asked on the phone\"}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    json_t *j = approve(aid, &r);
    assert_string_equal(jstr(j, "run.bdr_decision.reason"), "do_not_contact");
    resp_free(&r);
    j = get_meeting(id, &r);
    assert_string_equal(jstr(j, "status"), "cancelled");
    resp_free(&r);
}

static void test_reply_books(void **state)
{
    (void)state;
    start_at("2026-12-02T15:00:00Z", false); /* Wednesday 10:00 Eastern */
    struct resp r;
    json_t *j = invoke("{\"agent_type\":\"conversation\",\"input\":{\"message\":\"Tuesday at "
                       "2pm ET works\",\"company_name\":\"Northwind\",\"contact\":{\"name\":"
                       "\"Dana Reyes\",\"email\":\"dana@northwind-test.example\"}}}",
                       &r);
    if (r.status != 200)
        fail_msg("turn: %ld %.400s", r.status, r.body);
    assert_string_equal(jstr(j, "output.meeting.start"), "2026-12-08T19:00:00Z");
    assert_string_equal(jstr(j, "output.meeting.status"), "confirmed");
    assert_string_equal(jstr(j, "output.meeting.local"), "Tuesday 8 December, 14:00 EST");
    assert_non_null(strstr(jstr(j, "output.meeting.ics"), "STATUS:CONFIRMED"));
    assert_true(json_is_true(jget(j, "output.meeting.invite_queued")));
    /* the reply says it is booked, not "pick one of these" */
    assert_non_null(strstr(jstr(j, "output.reply"), "booked for Tuesday 8 December, 14:00 EST"));
    assert_null(strstr(jstr(j, "output.reply"), "pick one"));
    resp_free(&r);
    /* the invite goes out through the outbox (held here: OUTBOX_POLL_MS=0) */
    j = http_json("GET", "/api/outbox?email=dana@northwind-test.example", NULL, &r);
    assert_int_equal(json_integer_value(jget(j, "count")), 1);
    assert_string_equal(jstr(j, "items.0.kind"), "invite");
    assert_non_null(strstr(jstr(j, "items.0.payload.ics"), "DTSTART:20261208T190000Z"));
    assert_non_null(strstr(jstr(j, "items.0.payload.subject"), "Tuesday 8 December, 14:00 EST"));
    resp_free(&r);

    j = invoke("{\"agent_type\":\"conversation\",\"input\":{\"message\":\"Could we do Tuesday "
               "at 2pm ET?\",\"contact\":{\"email\":\"lee@other-test.example\"}}}",
               &r);
    assert_int_equal(r.status, 200);
    assert_null(jget(j, "output.meeting"));
    assert_string_equal(jstr(j, "output.meeting_requested.reason"), "taken");
    assert_string_equal(jstr(j, "output.meeting_requested.start"), "2026-12-08T19:00:00Z");
    json_t *slots = jget(j, "output.meeting_slots");
    assert_true(json_array_size(slots) >= 1);
    for (size_t i = 0; i < json_array_size(slots); i++)
        assert_string_not_equal(jstr(json_array_get(slots, i), "start"), "2026-12-08T19:00:00Z");
    /* and the reply says so, offering the nearest free slot by name */
    assert_non_null(strstr(jstr(j, "output.reply"), "is not free on our side"));
    assert_non_null(strstr(jstr(j, "output.reply"), jstr(json_array_get(slots, 0), "local")));
    resp_free(&r);

    /* a stored lead's contact: the time is read in the lead's zone (San Francisco) */
    char *l = lead("Quorvianta Software", "maya@quorvianta.io",
                   "\"country\":\"US\",\"city\":\"San Francisco\"");
    run_agent("qualification", l, &r);
    free(l);
    resp_free(&r);
    j = invoke("{\"agent_type\":\"conversation\",\"input\":{\"message\":\"tomorrow at 10 "
               "works for me\",\"contact\":{\"email\":\"maya@quorvianta.io\"}}}",
               &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "output.meeting.start"), "2026-12-03T18:00:00Z");
    assert_string_equal(jstr(j, "output.meeting.timezone"), "America/Los_Angeles");
    assert_string_equal(jstr(j, "output.meeting.local"), "Thursday 3 December, 10:00 PST");
    assert_true(is_uuid(jstr(j, "output.meeting.lead_id")));
    resp_free(&r);

    /* a time in the past is not booked */
    j = invoke("{\"agent_type\":\"conversation\",\"input\":{\"message\":\"today at 9am ET?\","
               "\"contact\":{\"email\":\"kai@third-test.example\"}}}",
               &r);
    assert_int_equal(r.status, 200);
    assert_null(jget(j, "output.meeting"));
    resp_free(&r);
    j = http_json("GET", "/api/meetings?status=confirmed", NULL, &r);
    assert_int_equal(json_integer_value(jget(j, "count")), 2);
    resp_free(&r);
}

/* The prospect's reply to the draft's proposal (Monday 7 December, 09:00 Eastern, held
 * for them): "Monday at 9am works", said that Monday morning, confirms that very meeting
 * (same id and invite UID, next SEQUENCE), even inside the two hours' notice, instead of
 * calling the time "not free on our side" or booking the Monday after; naming another
 * time later moves it (same UID), so the prospect's calendar never shows two invites. */
static void test_reply_answers_own_meeting(void **state)
{
    (void)state;
    start_at("2026-12-04T21:00:00Z", false); /* Friday 16:00 Eastern */
    char aid[64];
    char *l = lead("Quorvianta Software", "maya@quorvianta.io", "\"country\":\"US\"");
    json_t *m = draft(l, aid);
    free(l);
    assert_string_equal(jstr(m, "start"), "2026-12-07T14:00:00Z");
    char id[64], uid[128];
    snprintf(id, sizeof id, "%s", jstr(m, "id"));
    snprintf(uid, sizeof uid, "%s", jstr(m, "ics_uid"));
    json_decref(m);
    struct resp r;
    approve(aid, &r);
    resp_free(&r);
    /* Monday 08:00 Eastern: an hour before the call, within the notice */
    set_clock("2026-12-07T13:00:00Z");
    json_t *j = invoke("{\"agent_type\":\"conversation\",\"input\":{\"message\":\"Yes, Monday "
                       "at 9am works for me.\",\"contact\":{\"name\":\"Maya Okafor\","
                       "\"email\":\"maya@quorvianta.io\"}}}",
                       &r);
    if (r.status != 200)
        fail_msg("turn: %ld %.400s", r.status, r.body);
    if (!jget(j, "output.meeting"))
        fail_msg("not booked: %.600s", r.body);
    assert_string_equal(jstr(j, "output.meeting.id"), id);
    assert_string_equal(jstr(j, "output.meeting.start"), "2026-12-07T14:00:00Z");
    assert_string_equal(jstr(j, "output.meeting.status"), "confirmed");
    assert_string_equal(jstr(j, "output.meeting.ics_uid"), uid);
    assert_true(json_integer_value(jget(j, "output.meeting.sequence")) >= 1);
    assert_non_null(strstr(jstr(j, "output.reply"), "booked for Monday 7 December, 09:00 EST"));
    resp_free(&r);
    /* then the prospect moves it: the same meeting and UID, a higher SEQUENCE */
    j = invoke("{\"agent_type\":\"conversation\",\"input\":{\"message\":\"Something came up. "
               "Could we move it to Tuesday at 2pm?\",\"contact\":{\"name\":\"Maya Okafor\","
               "\"email\":\"maya@quorvianta.io\"}}}",
               &r);
    assert_int_equal(r.status, 200);
    if (!jget(j, "output.meeting"))
        fail_msg("not moved: %.600s", r.body);
    assert_string_equal(jstr(j, "output.meeting.id"), id);
    assert_string_equal(jstr(j, "output.meeting.ics_uid"), uid);
    assert_string_equal(jstr(j, "output.meeting.start"), "2026-12-08T19:00:00Z");
    assert_string_equal(jstr(j, "output.meeting.status"), "confirmed");
    assert_string_equal(jstr(j, "output.meeting.rescheduled.from"), "2026-12-07T14:00:00Z");
    assert_non_null(strstr(jstr(j, "output.meeting.ics"), "DTSTART:20261208T190000Z"));
    resp_free(&r);
    j = http_json("GET", "/api/meetings?status=active", NULL, &r);
    assert_int_equal(json_integer_value(jget(j, "count")), 1);
    resp_free(&r);
    /* each change went out as an invite with the same UID and a rising SEQUENCE */
    j = http_json("GET", "/api/outbox?email=maya@quorvianta.io", NULL, &r);
    int invites = 0;
    long long seqs[2] = {-1, -1};
    for (size_t i = 0; i < json_array_size(jget(j, "items")); i++) {
        json_t *it = json_array_get(jget(j, "items"), i);
        if (strcmp(jstr(it, "kind") ?: "", "invite") != 0)
            continue;
        const char *ics = jstr(it, "payload.ics");
        assert_non_null(strstr(ics, uid));
        assert_non_null(strstr(ics, "STATUS:CONFIRMED"));
        const char *sq = strstr(ics, "SEQUENCE:");
        assert_non_null(sq);
        assert_true(invites < 2);
        seqs[invites++] = strtoll(sq + 9, NULL, 10);
    }
    assert_int_equal(invites, 2);
    assert_true(seqs[0] != seqs[1]); /* the move went out as a newer version */
    resp_free(&r);
    /* a day without a time: the slots offered start that day */
    j = invoke("{\"agent_type\":\"conversation\",\"input\":{\"message\":\"Could we "
               "find a time on Friday afternoon?\",\"contact\":{\"name\":\"Ravi Shah\","
               "\"email\":\"ravi@globex-analytics.example\"}}}",
               &r);
    assert_int_equal(r.status, 200);
    json_t *offered = jget(j, "output.meeting_slots");
    if (json_array_size(offered) < 1)
        fail_msg("no slots offered: %.600s", r.body);
    for (size_t i = 0; i < json_array_size(offered); i++) /* Friday 12:00 Eastern on */
        assert_true(iso_seconds(jstr(json_array_get(offered, i), "start")) >=
                    iso_seconds("2026-12-11T17:00:00Z"));
    resp_free(&r);
    /* a time the reply rules out is not booked, nor said to be */
    j = invoke("{\"agent_type\":\"conversation\",\"input\":{\"message\":\"Sorry, I can't "
               "do Thursday at 11am.\",\"contact\":{\"name\":\"Maya Okafor\",\"email\":"
               "\"maya@quorvianta.io\"}}}",
               &r);
    assert_int_equal(r.status, 200);
    if (jget(j, "output.meeting"))
        fail_msg("booked a time the prospect ruled out: %.600s", r.body);
    resp_free(&r);
    j = http_json("GET", "/api/meetings?status=active", NULL, &r);
    assert_int_equal(json_integer_value(jget(j, "count")), 1);
    assert_string_equal(jstr(j, "items.0.start"), "2026-12-08T19:00:00Z");
    resp_free(&r);
    /* the day said with the time, not one ruled out in the next sentence */
    j = invoke("{\"agent_type\":\"conversation\",\"input\":{\"message\":\"Let's do "
               "Thursday at 2pm. Friday I'm out.\",\"contact\":{\"name\":\"Maya "
               "Okafor\",\"email\":\"maya@quorvianta.io\"}}}",
               &r);
    assert_int_equal(r.status, 200);
    if (!jget(j, "output.meeting"))
        fail_msg("not moved: %.600s", r.body);
    assert_string_equal(jstr(j, "output.meeting.start"), "2026-12-10T19:00:00Z");
    resp_free(&r);
    /* "not a problem" is a yes */
    j = invoke("{\"agent_type\":\"conversation\",\"input\":{\"message\":\"Thursday "
               "at 11am is not a problem for me, see you then.\",\"contact\":"
               "{\"name\":\"Maya Okafor\",\"email\":\"maya@quorvianta.io\"}}}",
               &r);
    assert_int_equal(r.status, 200);
    if (!jget(j, "output.meeting"))
        fail_msg("not moved: %.600s", r.body);
    assert_string_equal(jstr(j, "output.meeting.start"), "2026-12-10T16:00:00Z");
    resp_free(&r);
}

/* The outbox item of kind for email, waited for until it is sent (the worker polls every
 * 100 ms); a new reference. */
static json_t *wait_sent(const char *email, const char *kind)
{
    char *path = strf("/api/outbox?email=%s", email);
    for (int i = 0; i < 200; i++) {
        struct resp r;
        json_t *j = http_json("GET", path, NULL, &r);
        assert_int_equal(r.status, 200);
        for (size_t k = 0; k < json_array_size(jget(j, "items")); k++) {
            json_t *it = json_array_get(jget(j, "items"), k);
            if (strcmp(jstr(it, "kind") ?: "", kind) == 0 &&
                strcmp(jstr(it, "status") ?: "", "sent") == 0) {
                json_incref(it);
                resp_free(&r);
                free(path);
                return it;
            }
        }
        resp_free(&r);
        usleep(50 * 1000);
    }
    free(path);
    fail_msg("no %s to %s was sent", kind, email);
    return NULL;
}

/* The delivered message of outbox item id (the Maildir file is named by it), read whole. */
static char *delivered(const char *id)
{
    char *dir = strf("%s/mail/new", runs_srv.dir);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    char *text = NULL;
    while (!text && (e = readdir(d)))
        if (strncmp(e->d_name, id, strlen(id)) == 0) {
            char *file = strf("%s/%s", dir, e->d_name);
            FILE *f = fopen(file, "rb");
            free(file);
            assert_non_null(f);
            static char buf[1 << 17];
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            buf[n] = '\0';
            fclose(f);
            text = strdup(buf);
        }
    closedir(d);
    free(dir);
    if (!text)
        fail_msg("outbox item %s was not delivered", id);
    return text;
}

/* An approved e-mail waits for the London prospect's Monday window; meanwhile its hold
 * (MEETING_HOLD_HOURS=1) lapses and a second prospect's reply books the same Monday slot.
 * When the first e-mail leaves it must not invite to that slot too: it goes without the
 * invite, and the second prospect keeps the slot. A hold nobody took is held again from
 * the moment its e-mail leaves. */
static void test_lapsed_hold_at_send(void **state)
{
    (void)state;
    setenv("MEETING_HOLD_HOURS", "1", 1);
    start_at("2026-12-04T21:00:00Z", true); /* Friday 21:00 in London */
    char aa[64], ac[64];
    char *la = lead("Quorvianta Software", "maya@quorvianta.io", "\"country\":\"GB\"");
    json_t *ma = draft(la, aa);
    free(la);
    assert_string_equal(jstr(ma, "timezone"), "Europe/London");
    char a_start[40], a_id[64];
    snprintf(a_start, sizeof a_start, "%s", jstr(ma, "start"));
    snprintf(a_id, sizeof a_id, "%s", jstr(ma, "id"));
    json_decref(ma);
    struct resp r;
    json_t *j = approve(aa, &r); /* queued; London's window opens on Monday at 08:00 */
    assert_true(json_is_null(jget(j, "run.bdr_decision.meeting_rescheduled")) ||
                !jget(j, "run.bdr_decision.meeting_rescheduled"));
    resp_free(&r);
    /* Saturday: A's hold lapsed; another prospect's reply books the same slot */
    set_clock("2026-12-05T12:00:00Z");
    j = invoke("{\"agent_type\":\"conversation\",\"input\":{\"message\":\"Monday at 2pm "
               "GMT works for me\",\"contact\":{\"name\":\"Ravi Shah\",\"email\":"
               "\"ravi@globex-analytics.example\"}}}",
               &r);
    assert_int_equal(r.status, 200);
    if (!jget(j, "output.meeting"))
        fail_msg("not booked: %.600s", r.body);
    assert_string_equal(jstr(j, "output.meeting.start"), a_start);
    char b_id[64];
    snprintf(b_id, sizeof b_id, "%s", jstr(j, "output.meeting.id"));
    resp_free(&r);
    /* C's lapsed hold is on a slot nobody takes */
    char *lc = lead("Initech", "lee@initech-test.example", "\"country\":\"GB\"");
    json_t *mc = draft(lc, ac);
    free(lc);
    char c_id[64];
    snprintf(c_id, sizeof c_id, "%s", jstr(mc, "id"));
    assert_string_not_equal(jstr(mc, "start"), a_start);
    json_decref(mc);
    approve(ac, &r);
    resp_free(&r);
    /* Monday 08:00 London: both approved e-mails leave */
    set_clock("2026-12-07T08:00:00Z");
    json_t *it = wait_sent("maya@quorvianta.io", "email");
    char *msg = delivered(jstr(it, "id"));
    json_decref(it);
    assert_null(strstr(msg, "text/calendar"));
    assert_null(strstr(msg, "I am holding that time"));
    free(msg);
    j = get_meeting(b_id, &r);
    assert_string_equal(jstr(j, "status"), "confirmed");
    resp_free(&r);
    j = get_meeting(a_id, &r);
    assert_string_equal(jstr(j, "status"), "cancelled");
    resp_free(&r);
    /* C's invite goes out, its slot held again for an hour from now */
    it = wait_sent("lee@initech-test.example", "email");
    msg = delivered(jstr(it, "id"));
    json_decref(it);
    assert_non_null(strstr(msg, "text/calendar"));
    free(msg);
    j = get_meeting(c_id, &r);
    assert_string_equal(jstr(j, "status"), "held");
    time_t until = iso_seconds(jstr(j, "hold_until"));
    assert_true(until >= iso_seconds("2026-12-07T09:00:00Z"));
    assert_true(until <= iso_seconds("2026-12-07T09:00:00Z") + flowed());
    resp_free(&r);
}

/* The prospect names another time (on another thread) while the draft waits for its
 * approval: their meeting moves and is confirmed. The first e-mail, sent afterwards, must
 * not carry the stale invite to the old time, nor cancel the meeting that moved. */
static void test_moved_before_send(void **state)
{
    (void)state;
    start_at("2026-12-04T21:00:00Z", true); /* Friday 16:00 Eastern */
    char aid[64];
    char *l = lead("Quorvianta Software", "maya@quorvianta.io", "\"country\":\"US\"");
    json_t *m = draft(l, aid);
    free(l);
    assert_string_equal(jstr(m, "start"), "2026-12-07T14:00:00Z");
    char id[64];
    snprintf(id, sizeof id, "%s", jstr(m, "id"));
    json_decref(m);
    struct resp r;
    json_t *j = invoke("{\"agent_type\":\"conversation\",\"input\":{\"message\":\"Could we "
                       "do Tuesday at 2pm ET?\",\"contact\":{\"name\":\"Maya Okafor\","
                       "\"email\":\"maya@quorvianta.io\"}}}",
                       &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "output.meeting.id"), id);
    assert_string_equal(jstr(j, "output.meeting.start"), "2026-12-08T19:00:00Z");
    resp_free(&r);
    approve(aid, &r);
    resp_free(&r);
    set_clock("2026-12-07T13:00:00Z"); /* Monday 08:00 Eastern: the window opens */
    json_t *it = wait_sent("maya@quorvianta.io", "email");
    char *msg = delivered(jstr(it, "id"));
    json_decref(it);
    assert_null(strstr(msg, "text/calendar"));
    assert_null(strstr(msg, "Monday 7 December, 09:00"));
    free(msg);
    j = get_meeting(id, &r);
    assert_string_equal(jstr(j, "status"), "confirmed");
    assert_string_equal(jstr(j, "start"), "2026-12-08T19:00:00Z");
    resp_free(&r);
}

/* The store fails when the approved e-mail leaves and its meeting cannot be re-checked:
 * the e-mail is not sent unchecked, nor stripped of an invite to a slot still well
 * ahead; the time check alone decides (the meeting is not cancelled on a guess). */
static void test_store_error_at_send(void **state)
{
    (void)state;
    start_at("2026-12-04T21:00:00Z", true); /* Friday 21:00 in London */
    if (harness_on_pg())
        skip(); /* the SQLite file is edited below */
    char aid[64];
    char *l = lead("Quorvianta Software", "maya@quorvianta.io", "\"country\":\"GB\"");
    json_t *m = draft(l, aid);
    free(l);
    assert_string_equal(jstr(m, "timezone"), "Europe/London");
    assert_string_equal(jstr(m, "start"), "2026-12-07T14:00:00Z");
    char id[64];
    snprintf(id, sizeof id, "%s", jstr(m, "id"));
    json_decref(m);
    struct resp r;
    approve(aid, &r); /* queued; London's window opens on Monday at 08:00 */
    resp_free(&r);
    /* the meetings cannot be read when it leaves */
    char *sql = strf(
        "sqlite3 -cmd '.timeout 10000' %s/db.sqlite 'ALTER TABLE meetings RENAME TO meetings_away'",
        runs_srv.dir);
    assert_int_equal(system(sql), 0);
    free(sql);
    set_clock("2026-12-07T08:00:00Z"); /* Monday 08:00 London: six hours before the call */
    json_t *it = wait_sent("maya@quorvianta.io", "email");
    char *msg = delivered(jstr(it, "id"));
    json_decref(it);
    assert_non_null(strstr(msg, "text/calendar"));
    free(msg);
    sql = strf(
        "sqlite3 -cmd '.timeout 10000' %s/db.sqlite 'ALTER TABLE meetings_away RENAME TO meetings'",
        runs_srv.dir);
    assert_int_equal(system(sql), 0);
    free(sql);
    /* not cancelled on a guess (its hold lapsed over the weekend and could not be renewed) */
    json_t *j = get_meeting(id, &r);
    assert_string_equal(jstr(j, "status"), "expired");
    resp_free(&r);
}

/* The python3 that has the icalendar package (Debian's; a pyenv one may not). */
static const char *python_with_icalendar(void)
{
    if (system("python3 -c 'import icalendar' >/dev/null 2>&1") == 0)
        return "python3";
    if (system("/usr/bin/python3 -c 'import icalendar' >/dev/null 2>&1") != 0)
        fail_msg("python3-icalendar is missing: run scripts/deps.sh");
    return "/usr/bin/python3";
}

/* check_invite.py's reading of the message outbox item id delivered (a new reference). */
static json_t *read_delivered(const char *id)
{
    const char *python = python_with_icalendar();
    char *dir = strf("%s/mail/new", runs_srv.dir);
    char file[1024] = "";
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, id, strlen(id)) == 0)
            snprintf(file, sizeof file, "%s/%s", dir, e->d_name);
    closedir(d);
    free(dir);
    if (!file[0])
        fail_msg("outbox item %s was not delivered", id);
    char *cmd = strf("%s %s/tests/integration/check_invite.py '%s'", python, SA_SOURCE_DIR, file);
    FILE *p = popen(cmd, "r");
    free(cmd);
    assert_non_null(p);
    static char out[65536];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    if (pclose(p) != 0)
        fail_msg("check_invite.py failed: %s", out);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_array_size(jget(j, "defects")), 0);
    return j;
}

/* How many outbox items of kind to email there are (any status). */
static int count_kind(const char *email, const char *kind)
{
    char *path = strf("/api/outbox?email=%s", email);
    struct resp r;
    json_t *j = http_json("GET", path, NULL, &r);
    free(path);
    assert_int_equal(r.status, 200);
    int n = 0;
    for (size_t k = 0; k < json_array_size(jget(j, "items")); k++)
        n += strcmp(jstr(json_array_get(jget(j, "items"), k), "kind") ?: "", kind) == 0;
    resp_free(&r);
    return n;
}

/* Sends the approved first e-mail with its invite (Friday 16:00 Eastern, inside the
 * window) and returns the meeting (a new reference); the invite's UID into uid. */
static json_t *invited(const char *lead_json, const char *email, char uid[80])
{
    char aid[64];
    json_t *m = draft(lead_json, aid);
    snprintf(uid, 80, "%s", jstr(m, "uid"));
    struct resp r;
    approve(aid, &r);
    resp_free(&r);
    json_t *it = wait_sent(email, "email");
    json_t *j = read_delivered(jstr(it, "id"));
    assert_string_equal(jstr(j, "method"), "REQUEST");
    assert_string_equal(jstr(j, "uid"), uid);
    json_decref(j);
    json_decref(it);
    return m;
}

/* A hold whose invite went out lapses unanswered: the prospect gets one METHOD:CANCEL for
 * the same UID with a higher SEQUENCE and STATUS:CANCELLED (read by Python's icalendar),
 * and never a second one, not after a restart nor at later sweeps. A second prospect
 * accepted their invite, then opts out: their confirmed meeting is cancelled with a bare
 * cancellation (transactional, so it goes despite the opt-out), and nothing else. */
static void test_cancel_expired_and_opt_out(void **state)
{
    (void)state;
    start_at("2026-12-04T21:00:00Z", true); /* Friday 16:00 Eastern */
    char uid[80], uid2[80];
    char *l = lead("Quorvianta Software", "maya@quorvianta.io", "\"country\":\"US\"");
    json_t *m = invited(l, "maya@quorvianta.io", uid);
    free(l);
    char id[64], id2[64];
    snprintf(id, sizeof id, "%s", jstr(m, "id"));
    assert_string_equal(jstr(m, "start"), "2026-12-07T14:00:00Z");
    json_decref(m);
    l = lead("Globex Analytics", "ravi@globex-analytics.example", "\"country\":\"US\"");
    m = invited(l, "ravi@globex-analytics.example", uid2);
    free(l);
    snprintf(id2, sizeof id2, "%s", jstr(m, "id"));
    json_decref(m);
    struct resp r;
    char *path = strf("/api/meetings/%s/rsvp", id2);
    http_json("POST", path, "{\"partstat\":\"ACCEPTED\"}", &r);
    free(path);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    json_decref(wait_sent("ravi@globex-analytics.example", "invite")); /* CONFIRMED, seq 1 */
    assert_int_equal(count_kind("maya@quorvianta.io", "cancel"), 0);

    set_clock("2026-12-06T22:00:00Z"); /* Sunday: Maya's 48-hour hold lapsed unanswered */
    json_t *it = wait_sent("maya@quorvianta.io", "cancel");
    json_t *j = read_delivered(jstr(it, "id"));
    json_decref(it);
    assert_string_equal(jstr(j, "inline_method"), "CANCEL");
    assert_string_equal(jstr(j, "method"), "CANCEL");
    assert_string_equal(jstr(j, "status"), "CANCELLED");
    assert_string_equal(jstr(j, "uid"), uid);
    /* above the invite's 0 (the hold renewed when the e-mail left counts one, too) */
    assert_int_equal(json_integer_value(jget(j, "sequence")), 2);
    assert_string_equal(jstr(j, "dtstart"), "2026-12-07T14:00:00Z");
    assert_string_equal(jstr(j, "attendee"), "mailto:maya@quorvianta.io");
    assert_non_null(strstr(jstr(j, "text"), "released that time"));
    /* transactional, so sent outside the windows and caps: no call to action in it */
    assert_null(strstr(jstr(j, "text"), "reply with a time"));
    json_decref(j);
    j = get_meeting(id, &r);
    assert_string_equal(jstr(j, "status"), "cancelled");
    resp_free(&r);
    j = get_meeting(id2, &r); /* accepted: not a lapsed hold */
    assert_string_equal(jstr(j, "status"), "confirmed");
    resp_free(&r);

    /* a restart; then Ravi opts out */
    if (!exited_ok(server_stop(&runs_srv)))
        fail_msg("the server did not exit cleanly (see its log above)");
    assert_int_equal(server_start(&runs_srv, false), 0);
    harness_use(&runs_srv);
    http_json("POST", "/api/contacts/ravi@globex-analytics.example/do-not-contact",
              "{\"reason\":\"asked to be left alone\"}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    set_clock("2026-12-06T23:00:00Z");
    it = wait_sent("ravi@globex-analytics.example", "cancel");
    j = read_delivered(jstr(it, "id"));
    json_decref(it);
    assert_string_equal(jstr(j, "method"), "CANCEL");
    assert_string_equal(jstr(j, "uid"), uid2);
    /* invite 0, renewed 1, accepted 2 */
    assert_int_equal(json_integer_value(jget(j, "sequence")), 3);
    assert_string_equal(jstr(j, "dtstart"), "2026-12-07T14:30:00Z");
    assert_non_null(strstr(jstr(j, "text"), "we will not contact you again"));
    assert_null(strstr(jstr(j, "text"), "reply with a time"));
    json_decref(j);
    j = get_meeting(id2, &r);
    assert_string_equal(jstr(j, "status"), "cancelled");
    resp_free(&r);
    /* that sweep ran after the restart: Maya's cancellation was not queued again */
    assert_int_equal(count_kind("maya@quorvianta.io", "cancel"), 1);
    assert_int_equal(count_kind("ravi@globex-analytics.example", "cancel"), 1);

    /* a late "accept" to either cancelled meeting revives neither: 409, no new invite, and
     * so no second cancellation to someone who opted out */
    const char *ids[] = {id, id2};
    const char *who[] = {"maya@quorvianta.io", "ravi@globex-analytics.example"};
    for (int k = 0; k < 2; k++) {
        int invites = count_kind(who[k], "invite");
        path = strf("/api/meetings/%s/rsvp", ids[k]);
        http_json("POST", path, "{\"partstat\":\"ACCEPTED\"}", &r);
        free(path);
        if (r.status != 409 || !strstr(r.body, "cancelled"))
            fail_msg("late accept: %ld %.400s", r.status, r.body);
        resp_free(&r);
        j = get_meeting(ids[k], &r);
        assert_string_equal(jstr(j, "status"), "cancelled");
        resp_free(&r);
        assert_int_equal(count_kind(who[k], "invite"), invites);
    }
}

/* A proposal nobody was invited to is released (its draft ignored): no cancellation. */
static void test_no_cancel_without_invite(void **state)
{
    (void)state;
    start_at("2026-12-04T21:00:00Z", true);
    char aid[64];
    char *l = lead("Quorvianta Software", "maya@quorvianta.io", "\"country\":\"US\"");
    json_t *m = draft(l, aid);
    free(l);
    char id[64];
    snprintf(id, sizeof id, "%s", jstr(m, "id"));
    json_decref(m);
    struct resp r;
    char *path = strf("/api/approvals/%s", aid);
    http_json("POST", path, "{\"type\":\"ignore\",\"reviewer\":\"kim@pipewise.io\"}", &r);
    free(path);
    if (r.status != 200)
        fail_msg("ignore: %ld %.400s", r.status, r.body);
    resp_free(&r);
    json_t *j = get_meeting(id, &r);
    assert_string_equal(jstr(j, "status"), "cancelled");
    resp_free(&r);
    assert_int_equal(count_kind("maya@quorvianta.io", "cancel"), 0);
    assert_int_equal(count_kind("maya@quorvianta.io", "email"), 0);
}

/* The prospect moves a meeting whose invite they have: the same event is updated
 * (METHOD:REQUEST, same UID, higher SEQUENCE, the new time), with no cancellation. */
static void test_move_updates_invite(void **state)
{
    (void)state;
    start_at("2026-12-04T21:00:00Z", true);
    char uid[80];
    char *l = lead("Quorvianta Software", "maya@quorvianta.io", "\"country\":\"US\"");
    json_t *m = invited(l, "maya@quorvianta.io", uid);
    free(l);
    json_decref(m);
    struct resp r;
    json_t *j = invoke("{\"agent_type\":\"conversation\",\"input\":{\"message\":\"Could we "
                       "do Tuesday at 2pm ET instead?\",\"contact\":{\"name\":\"Maya Okafor\","
                       "\"email\":\"maya@quorvianta.io\"}}}",
                       &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "output.meeting.start"), "2026-12-08T19:00:00Z");
    resp_free(&r);
    json_t *it = wait_sent("maya@quorvianta.io", "invite");
    j = read_delivered(jstr(it, "id"));
    json_decref(it);
    assert_string_equal(jstr(j, "method"), "REQUEST");
    assert_string_equal(jstr(j, "uid"), uid);
    assert_true(json_integer_value(jget(j, "sequence")) >= 1);
    assert_string_equal(jstr(j, "dtstart"), "2026-12-08T19:00:00Z");
    assert_string_equal(jstr(j, "status"), "CONFIRMED");
    json_decref(j);
    assert_int_equal(count_kind("maya@quorvianta.io", "cancel"), 0);
}

/* An Outlook-style "Accepted:" answer by mail: multipart/alternative with the text, the
 * HTML and a text/calendar METHOD:REPLY part whose ATTENDEE answers for uid. */
static char *calendar_reply(const char *msgid, const char *verb, const char *partstat,
                            const char *uid, const char *attendee)
{
    return strf("From: Maya Okafor <maya@quorvianta.io>\r\n"
                "To: Alex Rivera <alex@pipewise.io>\r\n"
                "Subject: %s: Intro call: Quorvianta Software and Alex Rivera @ Mon 12/7/2026 "
                "9:00 AM - 9:30 AM (EST)\r\n"
                "Date: Sat, 5 Dec 2026 10:02:11 -0500\r\n"
                "Message-ID: <%s-%s@QUORVIANTA.prod.outlook.com>\r\n"
                "Thread-Topic: Intro call: Quorvianta Software and Alex Rivera\r\n"
                "MIME-Version: 1.0\r\n"
                "Content-Type: multipart/alternative; boundary=\"_000_QV1\"\r\n"
                "\r\n"
                "--_000_QV1\r\n"
                "Content-Type: text/plain; charset=\"us-ascii\"\r\n"
                "\r\n"
                "\r\n"
                "--_000_QV1\r\n"
                "Content-Type: text/html; charset=\"us-ascii\"\r\n"
                "\r\n"
                "<html><body></body></html>\r\n"
                "--_000_QV1\r\n"
                "Content-Type: text/calendar; charset=\"utf-8\"; method=REPLY\r\n"
                "Content-Transfer-Encoding: 7bit\r\n"
                "\r\n"
                "BEGIN:VCALENDAR\r\n"
                "METHOD:REPLY\r\n"
                "PRODID:Microsoft Exchange Server 2010\r\n"
                "VERSION:2.0\r\n"
                "BEGIN:VEVENT\r\n"
                "ATTENDEE;PARTSTAT=%s;CN=Maya Okafor:mailto:%s\r\n"
                "SUMMARY;LANGUAGE=en-US:%s: Intro call: Quorvianta Software and Alex Rivera\r\n"
                "DTSTART:20261207T140000Z\r\n"
                "DTEND:20261207T143000Z\r\n"
                "UID:%s\r\n"
                "SEQUENCE:0\r\n"
                "DTSTAMP:20261205T150211Z\r\n"
                "END:VEVENT\r\n"
                "END:VCALENDAR\r\n"
                "\r\n"
                "--_000_QV1--\r\n",
                verb, msgid, partstat, partstat, attendee, verb, uid);
}

static json_t *post_mail(const char *msg, struct resp *r)
{
    http("POST", "/api/inbound/email", "message/rfc822", msg, strlen(msg), r);
    if (r->status != 200)
        fail_msg("inbound: %ld %.600s", r->status, r->body);
    r->json = json_loadb(r->body, r->len, 0, NULL);
    return r->json;
}

/* Calendar answers by mail: one whose ATTENDEE is someone else, or whose UID is no
 * meeting's, is recorded and changes nothing; Maya's "Accepted:" confirms her meeting as
 * the RSVP route would (the CONFIRMED invite goes out), without a conversation turn; the
 * same message again changes nothing. */
static void test_rsvp_by_mail(void **state)
{
    (void)state;
    start_at("2026-12-04T21:00:00Z", true);
    char uid[80];
    char *l = lead("Quorvianta Software", "maya@quorvianta.io", "\"country\":\"US\"");
    json_t *m = invited(l, "maya@quorvianta.io", uid);
    free(l);
    char id[64];
    snprintf(id, sizeof id, "%s", jstr(m, "id"));
    json_decref(m);
    set_clock("2026-12-05T15:02:00Z");
    struct resp r;
    char *msg = calendar_reply("fwd1", "Accepted", "ACCEPTED", uid, "jon@quorvianta.io");
    json_t *j = post_mail(msg, &r);
    free(msg);
    assert_string_equal(jstr(j, "rsvp.reason"), "wrong_attendee");
    assert_true(json_is_false(jget(j, "rsvp.applied")));
    resp_free(&r);
    msg = calendar_reply("old1", "Declined", "DECLINED", "5f0c2e8a41d7@calendar.example",
                         "maya@quorvianta.io");
    j = post_mail(msg, &r);
    free(msg);
    assert_string_equal(jstr(j, "rsvp.reason"), "unknown_uid");
    assert_string_equal(jstr(j, "rsvp.partstat"), "DECLINED");
    resp_free(&r);
    j = get_meeting(id, &r);
    assert_string_equal(jstr(j, "status"), "held");
    resp_free(&r);

    /* her mailbox in another case, under a +tag: still her */
    msg = calendar_reply("acc1", "Accepted", "ACCEPTED", uid, "Maya+Calendar@Quorvianta.io");
    j = post_mail(msg, &r);
    assert_string_equal(jstr(j, "kind"), "reply");
    assert_true(json_is_true(jget(j, "rsvp.applied")));
    assert_string_equal(jstr(j, "rsvp.meeting_id"), id);
    assert_string_equal(jstr(j, "rsvp.status"), "confirmed");
    assert_null(jget(j, "suggested_reply")); /* no conversation turn */
    resp_free(&r);
    j = get_meeting(id, &r);
    assert_string_equal(jstr(j, "status"), "confirmed");
    assert_string_equal(jstr(j, "partstat"), "ACCEPTED");
    long long seq = json_integer_value(jget(j, "sequence"));
    resp_free(&r);
    json_t *it = wait_sent("maya@quorvianta.io", "invite");
    json_t *ics = read_delivered(jstr(it, "id"));
    json_decref(it);
    assert_string_equal(jstr(ics, "status"), "CONFIRMED");
    assert_string_equal(jstr(ics, "uid"), uid);
    json_decref(ics);
    j = post_mail(msg, &r); /* delivered twice */
    free(msg);
    assert_true(json_is_true(jget(j, "duplicate")));
    resp_free(&r);
    j = get_meeting(id, &r);
    assert_int_equal(json_integer_value(jget(j, "sequence")), seq);
    resp_free(&r);
    assert_int_equal(count_kind("maya@quorvianta.io", "invite"), 1);
}

/* A plain-text reply from name <email> with text (as Gmail sends it). */
static char *text_reply(const char *name, const char *email, const char *id, const char *text)
{
    return strf("From: %s <%s>\r\n"
                "To: Alex Rivera <alex@pipewise.io>\r\n"
                "Subject: Re: Intro call\r\n"
                "Date: Sat, 5 Dec 2026 10:12:40 -0500\r\n"
                "Message-ID: <CAF%s@mail.gmail.com>\r\n"
                "MIME-Version: 1.0\r\n"
                "Content-Type: text/plain; charset=\"UTF-8\"\r\n"
                "Content-Transfer-Encoding: 8bit\r\n"
                "\r\n"
                "%s\r\n"
                "\r\n"
                "On Fri, Dec 4, 2026 at 4:00 PM Alex Rivera <alex@pipewise.io> wrote:\r\n"
                "> Would Monday 7 December, 09:00 EST suit you for a 30-minute call?\r\n",
                name, email, id, text);
}

/* A reply's status of meeting id after text arrived by mail from name <email>. */
static json_t *reply_by_mail(const char *name, const char *email, const char *id, const char *text,
                             struct resp *r)
{
    char *msg = text_reply(name, email, id, text);
    json_t *j = post_mail(msg, r);
    free(msg);
    return j;
}

/* A plain "yes" confirms the one time we proposed and held, as an RSVP accept would; a
 * negation does not; a "yes" after several slots were offered is not guessed. */
static void test_plain_yes_confirms(void **state)
{
    (void)state;
    start_at("2026-12-04T21:00:00Z", true);
    char uid[80], id1[64], id2[64], id3[64];
    char *l = lead("Quorvianta Software", "maya@quorvianta.io", "\"country\":\"US\"");
    json_t *m = invited(l, "maya@quorvianta.io", uid);
    free(l);
    snprintf(id1, sizeof id1, "%s", jstr(m, "id"));
    json_decref(m);
    l = lead("Globex Analytics", "ravi@globex-analytics.example", "\"country\":\"US\"");
    m = invited(l, "ravi@globex-analytics.example", uid);
    free(l);
    snprintf(id2, sizeof id2, "%s", jstr(m, "id"));
    json_decref(m);
    l = lead("Initech", "lee@initech-test.example", "\"country\":\"US\"");
    m = invited(l, "lee@initech-test.example", uid);
    free(l);
    snprintf(id3, sizeof id3, "%s", jstr(m, "id"));
    json_decref(m);
    set_clock("2026-12-05T15:12:00Z");
    struct resp r;

    /* Lee: a negation is no yes */
    reply_by_mail("Lee Park", "lee@initech-test.example", "lee1", "No, that won't work for me.",
                  &r);
    resp_free(&r);
    json_t *j = get_meeting(id3, &r);
    assert_string_equal(jstr(j, "status"), "held");
    resp_free(&r);
    /* nor is a "sure" that defers: he has not said yes yet */
    j = reply_by_mail("Lee Park", "lee@initech-test.example", "lee2",
                      "Sure, let me check my calendar", &r);
    assert_null(jget(j, "meeting"));
    resp_free(&r);
    j = get_meeting(id3, &r);
    assert_string_equal(jstr(j, "status"), "held");
    resp_free(&r);

    /* Ravi asks for other times and is offered several; his "Passt" names none of them */
    j = reply_by_mail("Ravi Shah", "ravi@globex-analytics.example", "ravi1",
                      "Could we find a time for a call next week instead? Which slots do you "
                      "have?",
                      &r);
    if (json_array_size(jget(j, "meeting_slots")) < 2)
        fail_msg("no slots offered: %.600s", r.body);
    resp_free(&r);
    j = reply_by_mail("Ravi Shah", "ravi@globex-analytics.example", "ravi2", "Passt, bis dann", &r);
    assert_null(jget(j, "meeting"));
    resp_free(&r);
    j = get_meeting(id2, &r);
    assert_string_equal(jstr(j, "status"), "held");
    resp_free(&r);

    /* Maya: "Yes, that works" confirms the time held for her */
    j = reply_by_mail("Maya Okafor", "maya@quorvianta.io", "maya1", "Yes, that works.\r\n\r\nMaya",
                      &r);
    if (!jget(j, "meeting"))
        fail_msg("not confirmed: %.600s", r.body);
    assert_string_equal(jstr(j, "meeting.id"), id1);
    assert_string_equal(jstr(j, "meeting.status"), "confirmed");
    assert_true(json_is_false(jget(j, "needs_human")));
    resp_free(&r);
    j = get_meeting(id1, &r);
    assert_string_equal(jstr(j, "status"), "confirmed");
    assert_string_equal(jstr(j, "start"), "2026-12-07T14:00:00Z");
    resp_free(&r);
    json_t *it = wait_sent("maya@quorvianta.io", "invite");
    json_t *ics = read_delivered(jstr(it, "id"));
    json_decref(it);
    assert_string_equal(jstr(ics, "method"), "REQUEST");
    assert_string_equal(jstr(ics, "status"), "CONFIRMED");
    assert_string_equal(jstr(ics, "dtstart"), "2026-12-07T14:00:00Z");
    json_decref(ics);
}

/* The outbox item of kind to email, waited for until it has status (a new reference). */
static json_t *wait_status(const char *email, const char *kind, const char *status)
{
    char *path = strf("/api/outbox?email=%s", email);
    for (int i = 0; i < 200; i++) {
        struct resp r;
        json_t *j = http_json("GET", path, NULL, &r);
        assert_int_equal(r.status, 200);
        for (size_t k = 0; k < json_array_size(jget(j, "items")); k++) {
            json_t *it = json_array_get(jget(j, "items"), k);
            if (strcmp(jstr(it, "kind") ?: "", kind) == 0 &&
                strcmp(jstr(it, "status") ?: "", status) == 0) {
                json_incref(it);
                resp_free(&r);
                free(path);
                return it;
            }
        }
        resp_free(&r);
        usleep(50 * 1000);
    }
    free(path);
    fail_msg("no %s to %s became %s", kind, email, status);
    return NULL;
}

/* The invited address hard-bounces later (the mailbox was closed): the meeting is called
 * off, but its cancellation is not sent to an address nobody reads. */
static void test_no_cancel_to_bounced(void **state)
{
    (void)state;
    start_at("2026-12-04T21:00:00Z", true);
    char uid[80];
    char *l = lead("Quorvianta Software", "maya@quorvianta.io", "\"country\":\"US\"");
    json_t *m = invited(l, "maya@quorvianta.io", uid);
    free(l);
    char id[64];
    snprintf(id, sizeof id, "%s", jstr(m, "id"));
    json_decref(m);
    static const char dsn[] =
        "From: MAILER-DAEMON@mx.quorvianta.io (Mail Delivery System)\r\n"
        "To: alex@pipewise.io\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Date: Sat, 5 Dec 2026 09:05:00 +0000\r\n"
        "Message-ID: <20261205090500.QV77@mx.quorvianta.io>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n"
        "\r\n"
        "--b1\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        "--b1\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        "Reporting-MTA: dns; mx.quorvianta.io\r\n"
        "\r\n"
        "Final-Recipient: rfc822; maya@quorvianta.io\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <maya@quorvianta.io>: Recipient address rejected\r\n"
        "--b1--\r\n";
    set_clock("2026-12-05T09:05:00Z");
    struct resp r;
    json_t *j = post_mail(dsn, &r);
    assert_string_equal(jstr(j, "kind"), "bounce");
    resp_free(&r);
    set_clock("2026-12-05T09:10:00Z");
    json_t *it = wait_status("maya@quorvianta.io", "cancel", "cancelled");
    assert_string_equal(jstr(it, "payload.reason"), "opt_out");
    json_decref(it);
    j = get_meeting(id, &r);
    assert_string_equal(jstr(j, "status"), "cancelled");
    resp_free(&r);
}

/* The invite as delivered: Python's email package finds multipart/alternative with the
 * text and an inline text/calendar; method=REQUEST, plus the same invite attached; the
 * icalendar package reads METHOD:REQUEST, STATUS:TENTATIVE, LOCATION and URL = the
 * meeting link, SEQUENCE, the organizer and an RSVP=TRUE attendee, DTSTART in UTC. */
static void test_invite_python(void **state)
{
    (void)state;
    /* Debian's python3 has the package; a python3 earlier on PATH (pyenv) may not */
    const char *python = "python3";
    if (system("python3 -c 'import icalendar' >/dev/null 2>&1") != 0)
        python = "/usr/bin/python3";
    if (strcmp(python, "python3") != 0 &&
        system("/usr/bin/python3 -c 'import icalendar' >/dev/null 2>&1") != 0)
        fail_msg("python3-icalendar is missing: run scripts/deps.sh");
    start_at("2026-12-04T21:00:00Z", true);
    char aid[64];
    char *l = lead("Quorvianta Software", "maya@quorvianta.io", "\"country\":\"US\"");
    json_t *m = draft(l, aid);
    free(l);
    char uid[80];
    snprintf(uid, sizeof uid, "%s", jstr(m, "uid"));
    json_decref(m);
    struct resp r;
    approve(aid, &r);
    resp_free(&r);
    char *dir = strf("%s/mail/new", runs_srv.dir);
    char file[1024] = "";
    for (int i = 0; i < 100 && !file[0]; i++) {
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d && (e = readdir(d)))
            if (e->d_name[0] != '.')
                snprintf(file, sizeof file, "%s/%s", dir, e->d_name);
        if (d)
            closedir(d);
        if (!file[0])
            usleep(50 * 1000);
    }
    free(dir);
    if (!file[0])
        fail_msg("no message was delivered");
    char *cmd = strf("%s %s/tests/integration/check_invite.py '%s'", python, SA_SOURCE_DIR, file);
    FILE *p = popen(cmd, "r");
    free(cmd);
    assert_non_null(p);
    static char out[65536];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    if (status != 0)
        fail_msg("check_invite.py failed: %s", out);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_array_size(jget(j, "defects")), 0);
    assert_string_equal(jstr(j, "content_type"), "multipart/mixed");
    assert_string_equal(jstr(j, "alternative.0"), "text/plain");
    assert_string_equal(jstr(j, "alternative.1"), "text/calendar");
    assert_string_equal(jstr(j, "inline_method"), "REQUEST");
    assert_string_equal(jstr(j, "inline_charset"), "UTF-8");
    assert_string_equal(jstr(j, "inline_disposition") ?: "inline", "inline");
    assert_string_equal(jstr(j, "attachment_filename"), "invite.ics");
    assert_true(json_is_true(jget(j, "attachment_same")));
    assert_string_equal(jstr(j, "method"), "REQUEST");
    assert_string_equal(jstr(j, "status"), "TENTATIVE");
    assert_string_equal(jstr(j, "location"), LINK);
    assert_string_equal(jstr(j, "url"), LINK);
    assert_string_equal(jstr(j, "uid"), uid);
    assert_int_equal(json_integer_value(jget(j, "sequence")), 0);
    assert_string_equal(jstr(j, "dtstart"), "2026-12-07T14:00:00Z");
    assert_string_equal(jstr(j, "dtend"), "2026-12-07T14:30:00Z");
    assert_string_equal(jstr(j, "attendee"), "mailto:maya@quorvianta.io");
    assert_string_equal(jstr(j, "rsvp"), "TRUE");
    assert_string_equal(jstr(j, "partstat"), "NEEDS-ACTION");
    assert_non_null(strstr(jstr(j, "organizer"), "mailto:"));
    assert_non_null(strstr(jstr(j, "text"), "Monday 7 December, 09:00 EST"));
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_passed_slot, runs_setup, meet_teardown),
        cmocka_unit_test_setup_teardown(test_no_double_booking, runs_setup, meet_teardown),
        cmocka_unit_test_setup_teardown(test_prospect_zone, runs_setup, meet_teardown),
        cmocka_unit_test_setup_teardown(test_hold_expiry, runs_setup, meet_teardown),
        cmocka_unit_test_setup_teardown(test_rsvp, runs_setup, meet_teardown),
        cmocka_unit_test_setup_teardown(test_opt_out_releases_hold, runs_setup, meet_teardown),
        cmocka_unit_test_setup_teardown(test_reply_books, runs_setup, meet_teardown),
        cmocka_unit_test_setup_teardown(test_reply_answers_own_meeting, runs_setup, meet_teardown),
        cmocka_unit_test_setup_teardown(test_lapsed_hold_at_send, runs_setup, meet_teardown),
        cmocka_unit_test_setup_teardown(test_moved_before_send, runs_setup, meet_teardown),
        cmocka_unit_test_setup_teardown(test_store_error_at_send, runs_setup, meet_teardown),
        cmocka_unit_test_setup_teardown(test_invite_python, runs_setup, meet_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_expired_and_opt_out, runs_setup, meet_teardown),
        cmocka_unit_test_setup_teardown(test_no_cancel_without_invite, runs_setup, meet_teardown),
        cmocka_unit_test_setup_teardown(test_move_updates_invite, runs_setup, meet_teardown),
        cmocka_unit_test_setup_teardown(test_rsvp_by_mail, runs_setup, meet_teardown),
        cmocka_unit_test_setup_teardown(test_plain_yes_confirms, runs_setup, meet_teardown),
        cmocka_unit_test_setup_teardown(test_no_cancel_to_bounced, runs_setup, meet_teardown),
    };
    return api_exit_status(cmocka_run_group_tests(tests, api_group_setup, api_group_teardown));
}
