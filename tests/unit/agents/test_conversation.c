/* Pins the conversation's replies for the intents the classifier labels beyond the
 * shipped eleven (out_of_office, not_interested, wrong_person, referral,
 * question_integration, question_security, trial_request), answered from the product
 * profile: a model trained on a small file of those labels drives real turns on the
 * conversation graph (memory saver, no store). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agents/conversation.h"
#include "domain/intent.h"
#include "domain/profile.h"
#include "graph/saver.h"

#define PROFILE SA_SOURCE_DIR "/data/product.json"

static const char *const examples[][4] = {
    {"out_of_office", "I am out of the office until Monday with limited access to e-mail",
     "Automatic reply: I am on vacation and will be back on the 12th",
     "Out of office: I am away until next week and will reply when I return"},
    {"not_interested", "We are not interested, thanks", "No thank you, this is not for us",
     "Not interested at the moment, please close this out"},
    {"wrong_person", "I am the wrong person for this, I do not handle sales tools",
     "You have the wrong person, I work in finance", "Not my area, I am not the right contact"},
    {"referral", "You should talk to my colleague Priya, she runs sales ops",
     "Please reach out to Tom, he owns our sales tooling", "Let me refer you to our head of sales"},
    {"question_integration", "Does it integrate with Salesforce?",
     "Do you have an integration with HubSpot or Pipedrive?", "Which CRMs do you connect to?"},
    {"question_security", "Are you SOC 2 compliant?", "How do you encrypt our data?",
     "Where is customer data hosted and do you support SSO?"},
    {"trial_request", "Can we get a free trial?", "Is there a trial we could run ourselves?",
     "I would like to try it before buying, do you offer a trial"},
    {"other", "Tell me more", "What is this about", "I saw your message"},
};

struct fixture {
    char path[64];
    struct sa_intent_model *model;
    struct graph_saver *saver;
    struct sa_profile *profile;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->path, sizeof f->path, "/tmp/sa-intents-XXXXXX");
    int fd = mkstemp(f->path);
    FILE *out = fdopen(fd, "w");
    for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++)
        for (int k = 1; k < 4; k++)
            fprintf(out, "%s\t%s\n", examples[i][0], examples[i][k]);
    fclose(out);
    struct sa_err err = {0};
    if (sa_intent_train(f->path, &f->model, NULL, &err) ||
        sa_profile_load(PROFILE, &f->profile, &err))
        fail_msg("%s", err.msg);
    f->saver = graph_saver_memory_new();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    unlink(f->path);
    sa_intent_free(f->model);
    graph_saver_free(f->saver);
    sa_profile_free(f->profile);
    free(f);
    return 0;
}

/* One turn on a new thread with the profile; the output (new reference). */
static json_t *turn(struct fixture *f, const struct sa_profile *profile, const char *thread,
                    const char *message)
{
    struct sa_conversation *c = NULL;
    struct sa_err err = {0};
    if (sa_conversation_new(f->model, f->saver, NULL, NULL, profile, 0.0, 0, &c, &err))
        fail_msg("%s", err.msg);
    json_t *in = json_pack("{s:s, s:{s:s}}", "message", message, "contact", "name", "Noor Haddad");
    json_t *out = NULL;
    if (sa_conversation_turn(c, thread, in, &out, NULL, &err))
        fail_msg("%s", err.msg);
    json_decref(in);
    sa_conversation_free(c);
    return out;
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void test_new_intents(void **state)
{
    struct fixture *f = *state;
    json_t *o =
        turn(f, f->profile, "t-ooo", "Automatic reply: I am out of the office until Monday");
    assert_string_equal(str(o, "intent"), "out_of_office");
    assert_true(json_is_null(json_object_get(o, "reply"))); /* nothing is said */
    assert_true(json_is_true(json_object_get(o, "hold_followups")));
    assert_false(json_is_true(json_object_get(o, "needs_human")));
    json_decref(o);

    o = turn(f, f->profile, "t-no", "No thank you, we are not interested");
    assert_string_equal(str(o, "intent"), "not_interested");
    assert_string_equal(str(o, "stage"), "closed_lost");
    assert_string_equal(str(o, "reply"), "Thanks for letting me know, Noor. I will close this on "
                                         "my side. All the best with the quarter.");
    assert_null(strstr(str(o, "reply"), "Pipewise")); /* no pitch */
    json_decref(o);

    o = turn(f, f->profile, "t-wrong", "Sorry, you have the wrong person, I work in finance");
    assert_string_equal(str(o, "intent"), "wrong_person");
    assert_non_null(strstr(str(o, "reply"), "Who would be the right person"));
    json_decref(o);

    o = turn(f, f->profile, "t-ref", "Please reach out to Priya, she owns our sales tooling");
    assert_string_equal(str(o, "intent"), "referral");
    assert_non_null(strstr(str(o, "reply"), "reach out to them directly"));
    json_decref(o);

    o = turn(f, f->profile, "t-int", "Does it integrate with Salesforce?");
    assert_string_equal(str(o, "intent"), "question_integration");
    assert_non_null(strstr(str(o, "reply"), "Salesforce, HubSpot, Pipedrive, Gmail, Outlook and "
                                            "Slack"));
    json_decref(o);

    o = turn(f, f->profile, "t-sec", "Are you SOC 2 compliant and how do you encrypt data?");
    assert_string_equal(str(o, "intent"), "question_security");
    assert_non_null(strstr(str(o, "reply"), "SOC 2 Type II audited"));
    assert_non_null(strstr(str(o, "reply"), "We hold SOC 2 Type II and ISO 27001"));
    json_decref(o);

    o = turn(f, f->profile, "t-trial", "Can we get a free trial?");
    assert_string_equal(str(o, "intent"), "trial_request");
    assert_string_equal(str(o, "stage"), "close");
    assert_non_null(strstr(str(o, "reply"), "a 14-day trial on your own leads"));
    assert_null(strstr(str(o, "reply"), "$")); /* the trial, not the price list */
    json_decref(o);
}

/* A profile without security facts sends a security question to a human; a profile
 * without a trial offers a walkthrough instead. */
static void test_profile_without_answers(void **state)
{
    struct fixture *f = *state;
    json_t *doc = json_deep_copy(sa_profile_json(f->profile));
    json_object_del(doc, "security");
    json_object_del(json_object_get(doc, "offer"), "trial");
    struct sa_profile *bare = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_profile_parse(doc, "bare.json", &bare, &err), 0);
    json_t *o = turn(f, bare, "b-sec", "Are you SOC 2 compliant and how do you encrypt data?");
    assert_string_equal(str(o, "intent"), "question_security");
    assert_true(json_is_null(json_object_get(o, "reply")));
    assert_true(json_is_true(json_object_get(o, "needs_human")));
    assert_string_equal(str(o, "needs_human_reason"), "profile_has_no_answer");
    json_decref(o);
    o = turn(f, bare, "b-trial", "Can we get a free trial?");
    assert_non_null(strstr(str(o, "reply"), "We don't run self-serve trials"));
    json_decref(o);
    sa_profile_free(bare);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_intents),
        cmocka_unit_test(test_profile_without_answers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
