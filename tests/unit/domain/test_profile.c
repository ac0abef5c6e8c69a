/* Pins the product profile: the shipped data/product.json loads; each class of mistake
 * is refused naming the file and the field; the settings override the sender; the
 * look-ups fall back from industry to persona to the default; prices are written out in
 * the reply's language, or said to be on request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "domain/profile.h"

#define PROFILE SA_SOURCE_DIR "/data/product.json"

static json_t *shipped(void)
{
    json_error_t je;
    json_t *doc = json_load_file(PROFILE, 0, &je);
    if (!doc)
        fail_msg("%s: %s", PROFILE, je.text);
    return doc;
}

static void test_shipped_profile(void **state)
{
    (void)state;
    struct sa_profile *p = NULL;
    struct sa_err err = {0};
    if (sa_profile_load(PROFILE, &p, &err))
        fail_msg("%s", err.msg);
    assert_string_equal(sa_profile_str(p, "product.name"), "Pipewise");
    assert_non_null(sa_profile_str(p, "company.postal_address"));
    assert_non_null(sa_profile_reply(p, "en", "other"));
    const char *langs[] = {"de", "fr", "es"};
    for (int i = 0; i < 3; i++) /* the common intents in each shipped language */
        for (const char *const *in =
                 (const char *const[]){"greeting", "pricing", "demo_request", "trial_request",
                                       "not_interested", "unsubscribe", "other", NULL};
             *in; in++)
            if (!sa_profile_reply(p, langs[i], *in))
                fail_msg("no %s reply for %s", langs[i], *in);
    /* industry, then persona, then the default */
    const char *saas = sa_profile_point(p, "value_points", "executive", "saas");
    assert_string_equal(
        saas,
        json_string_value(json_object_get(
            json_object_get(json_object_get(sa_profile_json(p), "value_points"), "industries"),
            "SaaS")));
    assert_string_equal(sa_profile_point(p, "value_points", "executive", "Gaming"),
                        "gives you a predictable pipeline without adding headcount");
    assert_string_equal(sa_profile_point(p, "pain_points", NULL, NULL),
                        "leads going cold before anyone follows up");
    assert_non_null(sa_profile_case_study(p, "it services"));
    assert_null(sa_profile_case_study(p, "Gaming"));
    assert_non_null(sa_profile_positioning(p, "outreach"));
    assert_null(sa_profile_positioning(p, NULL));
    sa_profile_free(p);
}

/* Loads doc after edit (a JSON merge patch, RFC 7396) and expects msg. */
static void expect_error(const char *patch, const char *msg)
{
    json_t *doc = shipped();
    json_t *pj = json_loads(patch, 0, NULL);
    assert_non_null(pj);
    const char *k;
    json_t *v;
    json_object_foreach(pj, k, v)
    {
        if (json_is_null(v))
            json_object_del(doc, k);
        else if (json_is_object(v) && json_is_object(json_object_get(doc, k)))
            json_object_update(json_object_get(doc, k), v);
        else
            json_object_set(doc, k, v);
    }
    struct sa_profile *p = (struct sa_profile *)1;
    struct sa_err err = {0};
    assert_int_equal(sa_profile_parse(doc, "product.json", &p, &err), SA_ECONFIG);
    assert_null(p);
    assert_string_equal(err.msg, msg);
    json_decref(pj);
    json_decref(doc);
}

static void test_validation_errors(void **state)
{
    (void)state;
    /* a required field missing, at the top and nested */
    expect_error("{\"meeting_link\":null}", "product.json: meeting_link: required");
    expect_error("{\"company\":{\"postal_address\":null}}",
                 "product.json: company.postal_address: required");
    /* the wrong type */
    expect_error("{\"product\":{\"name\":7}}",
                 "product.json: product.name: must be a non-empty string");
    expect_error("{\"sender\":\"alex\"}", "product.json: sender: must be an object");
    expect_error("{\"case_studies\":{}}", "product.json: case_studies: must be an array");
    /* numbers and enums in the pricing */
    expect_error("{\"pricing\":{\"plans\":[{\"name\":\"A\",\"price\":10,\"currency\":\"USD\","
                 "\"unit\":\"flat\"},{\"name\":\"B\",\"price\":-5,\"currency\":\"USD\","
                 "\"unit\":\"flat\"}]}}",
                 "product.json: pricing.plans[1].price: must be a positive number");
    expect_error("{\"pricing\":{\"plans\":[{\"name\":\"A\",\"price\":10,\"currency\":\"dollars\","
                 "\"unit\":\"flat\"}]}}",
                 "product.json: pricing.plans[0].currency: must be an ISO 4217 code such as USD "
                 "or EUR");
    expect_error("{\"pricing\":{\"plans\":[{\"name\":\"A\",\"price\":10,\"currency\":\"EUR\","
                 "\"unit\":\"per_year\"}]}}",
                 "product.json: pricing.plans[0].unit: must be per_seat, flat or per_month");
    expect_error("{\"pricing\":{\"plans\":[]}}",
                 "product.json: pricing.plans: must be a non-empty array");
    expect_error("{\"pricing\":{\"on_request\":\"yes\"}}",
                 "product.json: pricing.on_request: must be true or false");
    /* addresses and links */
    expect_error("{\"sender\":{\"email\":\"alex-at-example\"}}",
                 "product.json: sender.email: must be an e-mail address");
    expect_error("{\"meeting_link\":\"meet.example.com/alex\"}",
                 "product.json: meeting_link: must be an http(s):// URL");
    /* the offer's numbers */
    expect_error("{\"offer\":{\"trial\":{\"days\":0,\"text\":\"a trial\"}}}",
                 "product.json: offer.trial.days: must be a whole number from 1 to 365");
    /* the replies: English required, languages as codes, texts as strings */
    expect_error("{\"replies\":{\"en\":null,\"de\":{\"other\":\"Danke.\"}}}",
                 "product.json: replies.en: required (English is the fallback's language)");
    expect_error("{\"replies\":{\"german\":{\"other\":\"Danke.\"}}}",
                 "product.json: replies.german: must be a two-letter ISO 639-1 code in lower "
                 "case");
    expect_error("{\"replies\":{\"en\":{\"other\":\"\"}}}",
                 "product.json: replies.en.other: must be a non-empty string");
    /* a reply template whose tags do not close */
    expect_error("{\"replies\":{\"en\":{\"other\":\"Thanks{{#first_name}}, {{first_name}}.\"}}}",
                 "product.json: replies.en.other: section {{#first_name}} is never closed");
    expect_error("{\"competitors\":[{\"name\":\"X\"}]}",
                 "product.json: competitors[0].positioning: required");
    /* not an object at all */
    struct sa_profile *p = NULL;
    struct sa_err err = {0};
    json_t *arr = json_array();
    assert_int_equal(sa_profile_parse(arr, "product.json", &p, &err), SA_ECONFIG);
    assert_string_equal(err.msg, "product.json: (root): must be an object");
    json_decref(arr);
}

static void test_file_errors(void **state)
{
    (void)state;
    char path[] = "/tmp/sa-profile-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("{\"company\": {,}}", f);
    fclose(f);
    struct sa_profile *p = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_profile_load(path, &p, &err), SA_ECONFIG);
    assert_non_null(strstr(err.msg, "sa-profile-"));
    assert_non_null(strstr(err.msg, "line 1"));
    unlink(path);
    assert_int_equal(sa_profile_load(path, &p, &err), SA_ECONFIG);
    assert_null(p);
}

static void test_overrides_and_vars(void **state)
{
    (void)state;
    struct sa_profile *p = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_profile_load(PROFILE, &p, &err), 0);
    assert_int_equal(sa_profile_override(p, "Sam Lee", NULL, "sam@seller.example",
                                         "https://cal.seller.example/sam", &err),
                     0);
    assert_string_equal(sa_profile_str(p, "sender.name"), "Sam Lee");
    assert_string_equal(sa_profile_str(p, "sender.title"), "Account Executive"); /* kept */
    assert_string_equal(sa_profile_str(p, "sender.email"), "sam@seller.example");
    assert_string_equal(sa_profile_str(p, "meeting_link"), "https://cal.seller.example/sam");
    assert_int_equal(sa_profile_override(p, NULL, NULL, "nope", NULL, &err), SA_ECONFIG);
    assert_string_equal(err.msg, "SENDER_EMAIL=nope: expected an e-mail address");
    assert_int_equal(sa_profile_override(p, NULL, NULL, NULL, "ftp://x", &err), SA_ECONFIG);
    json_t *en = json_object(), *de = json_object();
    sa_profile_vars(p, "en", en);
    sa_profile_vars(p, "de", de);
    assert_string_equal(json_string_value(json_object_get(en, "price_list")),
                        "Team ($59 per seat a month), Growth ($89 per seat a month) and "
                        "Onboarding ($1,500 one-off)");
    assert_string_equal(json_string_value(json_object_get(de, "price_list")),
                        "Team ($59 pro Nutzer und Monat), Growth ($89 pro Nutzer und Monat) und "
                        "Onboarding ($1.500 einmalig)");
    assert_string_equal(json_string_value(json_object_get(en, "integrations")),
                        "Salesforce, HubSpot, Pipedrive, Gmail, Outlook and Slack");
    assert_string_equal(json_string_value(json_object_get(en, "trial_days")), "14");
    assert_null(json_object_get(en, "pricing_on_request"));
    json_decref(en);
    json_decref(de);
    sa_profile_free(p);
    /* pricing on request: no price list, and a profile with no security facts has none */
    json_t *doc = shipped();
    json_object_set_new(doc, "pricing", json_pack("{s:b}", "on_request", 1));
    json_object_del(doc, "security");
    assert_int_equal(sa_profile_parse(doc, "product.json", &p, &err), 0);
    json_t *v = json_object();
    sa_profile_vars(p, "en", v);
    assert_null(json_object_get(v, "price_list"));
    assert_string_equal(json_string_value(json_object_get(v, "pricing_on_request")), "yes");
    assert_null(json_object_get(v, "security_summary"));
    json_decref(v);
    json_decref(doc);
    sa_profile_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_profile),
        cmocka_unit_test(test_validation_errors),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_overrides_and_vars),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
