/* Integration tests of the product profile and the copy, through the binary: GET
 * /api/profile; a demo request from a company missing from the dataset gets a first
 * e-mail that reads right; a conversation turn answered in the turn's language, or left
 * to a human when the profile has no reply in it; a turn below
 * CONVERSATION_REVIEW_THRESHOLD left to a human. One server (empty database, see
 * harness.h), and a second one for the threshold. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

static json_t *converse(const char *input, struct resp *r)
{
    char *body = strf("{\"agent_type\":\"conversation\",\"input\":%s}", input);
    json_t *j = invoke(body, r);
    free(body);
    if (r->status != 200)
        fail_msg("conversation %s: status %ld: %.400s", input, r->status, r->body);
    return j;
}

/* The profile as loaded, to readers only. */
static void test_profile_route(void **state)
{
    (void)state;
    struct resp r;
    json_t *j = http_json("GET", "/api/profile", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "product.name"), "Pipewise");
    assert_string_equal(jstr(j, "sender.email"), "alex@pipewise.example");
    assert_non_null(strstr(jstr(j, "company.postal_address"), "Oakland"));
    assert_true(json_number_value(jget(j, "pricing.plans.0.price")) > 0);
    assert_non_null(jstr(j, "replies.de.pricing"));
    resp_free(&r);
    harness_auth(""); /* no credential: refused */
    http("GET", "/api/profile", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    harness_auth(NULL);
}

/* The reported bug: a demo request from a company the dataset does not know got no
 * e-mail (no_ready_email). It gets one now, about the demo, with no fixed time. */
static void test_demo_request_unknown_company(void **state)
{
    (void)state;
    struct resp r;
    json_t *j = run_agent(
        "pipeline",
        "{\"company_name\":\"Quillborne Systems\",\"industry\":\"IT Services\","
        "\"company_size\":\"201-500\",\"signals\":[\"requested_demo\",\"pricing_page_visit\"],"
        "\"contact_info\":{\"name\":\"Kim Vos\",\"title\":\"VP of Sales\","
        "\"email\":\"kim.vos@quillborne-systems.example\"}}",
        &r);
    assert_null(jget(j, "output.state.enrichment_data.company.name")); /* not in the dataset */
    assert_string_equal(jstr(j, "output.status"), "interrupted");
    json_t *decision = jget(j, "output.state.bdr_decision");
    assert_true(decision == NULL || json_is_null(decision));
    assert_string_equal(jstr(j, "output.state.bdr_draft.subject"), "Your Pipewise demo");
    const char *body = jstr(j, "output.state.bdr_draft.body");
    assert_non_null(body);
    assert_true(strncmp(body, "Hi Kim,", 7) == 0);
    assert_non_null(strstr(body, "Thank you for requesting a demo."));
    assert_null(strstr(body, "{{"));
    assert_null(strstr(body, "next week"));
    assert_null(strstr(body, "competing with"));      /* no competitor known: no sentence */
    assert_null(strstr(body, "1200 Harbor Row")); /* the footer adds it at delivery, once */
    assert_string_equal(jstr(j, "output.state.bdr_draft.from.email"), "alex@pipewise.example");
    resp_free(&r);
}

/* A reply in the turn's language from the profile's templates; a language the profile
 * has no reply in goes to a human; a malformed language is refused. */
static void test_reply_language(void **state)
{
    (void)state;
    struct resp r;
    json_t *j = converse("{\"message\":\"How much does it cost for 40 seats? Send me pricing\","
                         "\"language\":\"de\",\"contact\":{\"name\":\"Jonas Weber\"}}",
                         &r);
    assert_string_equal(jstr(j, "output.intent"), "pricing");
    assert_string_equal(jstr(j, "output.language"), "de");
    assert_false(json_is_true(jget(j, "output.needs_human")));
    const char *reply = jstr(j, "output.reply");
    assert_non_null(reply);
    assert_true(strncmp(reply, "Gute Frage, Jonas.", 18) == 0);
    assert_non_null(strstr(reply, "Team ($59 pro Nutzer und Monat)")); /* the profile's plans */
    resp_free(&r);
    /* English by default, with the profile's prices */
    j = converse("{\"message\":\"How much does it cost for 40 seats? Send me pricing\"}", &r);
    assert_string_equal(jstr(j, "output.language"), "en");
    assert_non_null(strstr(jstr(j, "output.reply"), "Growth ($89 per seat a month)"));
    assert_null(strstr(jstr(j, "output.reply"), "$60"));
    assert_true(strncmp(jstr(j, "output.reply"), "Good question. ", 15) == 0); /* no name */
    resp_free(&r);
    j = converse("{\"message\":\"How much does it cost for 40 seats? Send me pricing\","
                 "\"language\":\"it\"}",
                 &r);
    assert_true(json_is_null(jget(j, "output.reply")));
    assert_true(json_is_true(jget(j, "output.needs_human")));
    assert_string_equal(jstr(j, "output.needs_human_reason"), "no_reply_in_language");
    assert_string_equal(jstr(j, "output.suggested_actions.0"), "answer by hand");
    /* nothing was said: the history holds the prospect's message alone */
    assert_int_equal(json_array_size(jget(j, "output.history")), 1);
    resp_free(&r);
    /* a language the profile has no replies in: a person answers, but an unsubscribe in it
     * is understood and recorded at once */
    j = converse("{\"message\":\"Vi prego di cancellarmi dalla vostra lista.\","
                 "\"contact\":{\"email\":\"marco@rossi-impianti.example\"}}",
                 &r);
    assert_string_equal(jstr(j, "output.intent"), "unsubscribe");
    assert_string_equal(jstr(j, "output.detected_language"), "it");
    assert_string_equal(jstr(j, "output.needs_human_reason"), "no_reply_in_language");
    assert_true(json_is_true(jget(j, "output.do_not_contact")));
    resp_free(&r);
    j = http_json("GET", "/api/contacts/marco@rossi-impianti.example", NULL, &r);
    assert_true(json_is_true(jget(j, "do_not_contact")));
    resp_free(&r);
    http_json("POST", INVOKE,
              "{\"agent_type\":\"conversation\",\"input\":{\"message\":\"Hallo\","
              "\"language\":\"German\"}}",
              &r);
    expect_problem("language", &r, 422, "[\"body\",\"input\",\"language\"]", "value_error");
    resp_free(&r);
}

/* Below CONVERSATION_REVIEW_THRESHOLD a turn gets no reply: a human answers. SENDER_NAME
 * set replaces the profile's sender name. */
static void test_low_confidence(void **state)
{
    (void)state;
    setenv("CONVERSATION_REVIEW_THRESHOLD", "0.999", 1);
    setenv("SENDER_NAME", "Sam Lee", 1); /* and a setting over the profile's sender */
    int rc = server_start(&runs_srv, false);
    unsetenv("CONVERSATION_REVIEW_THRESHOLD");
    unsetenv("SENDER_NAME");
    assert_int_equal(rc, 0);
    harness_use(&runs_srv);
    struct resp r;
    json_t *prof = http_json("GET", "/api/profile", NULL, &r);
    assert_string_equal(jstr(prof, "sender.name"), "Sam Lee");
    assert_string_equal(jstr(prof, "sender.title"), "Account Executive"); /* the profile's */
    resp_free(&r);
    /* two intents in three words: the classifier is unsure */
    json_t *j = converse("{\"message\":\"price demo\","
                         "\"contact\":{\"name\":\"Ravi\",\"email\":\"ravi@lowconf.example\"}}",
                         &r);
    assert_true(json_number_value(jget(j, "output.confidence")) < 0.999);
    assert_true(json_is_null(jget(j, "output.reply")));
    assert_true(json_is_true(jget(j, "output.needs_human")));
    assert_string_equal(jstr(j, "output.needs_human_reason"), "low_confidence");
    assert_int_equal(json_array_size(jget(j, "output.history")), 1);
    resp_free(&r);
    /* the main server's default (0.6) answers a clear message */
    harness_use(&main_srv);
    j = converse("{\"message\":\"Could we see a demo next week?\"}", &r);
    assert_true(json_number_value(jget(j, "output.confidence")) >= 0.6);
    assert_false(json_is_true(jget(j, "output.needs_human")));
    assert_non_null(jstr(j, "output.reply"));
    resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profile_route),
        cmocka_unit_test(test_demo_request_unknown_company),
        cmocka_unit_test(test_reply_language),
        cmocka_unit_test_setup_teardown(test_low_confidence, runs_setup, runs_teardown),
    };
    return api_exit_status(cmocka_run_group_tests(tests, api_group_setup, api_group_teardown));
}
