/* Pins the qualification model: it loads and validates its data files with errors that
 * name the file and field, scores deterministically, its factors add up to the score,
 * tiers follow the cut-offs (A >= 80, B >= 65, C >= 50), and each input factor moves the
 * score the documented way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "domain/lead.h"
#include "domain/scoring.h"

static struct sa_model *model;

static int setup(void **state)
{
    (void)state;
    struct sa_err err = {0};
    if (sa_model_load(SA_SOURCE_DIR "/data", &model, &err)) {
        fprintf(stderr, "model: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sa_model_free(model);
    return 0;
}

/* Scores the JSON text of a lead; fails the test when it does not validate. */
static void score_json(const char *text, struct sa_score *s)
{
    json_error_t je;
    json_t *in = json_loads(text, 0, &je);
    if (!in)
        fail_msg("bad test JSON: %s", je.text);
    json_t *detail = json_array();
    struct sa_lead lead;
    if (sa_lead_parse(in, "", &lead, detail))
        fail_msg("lead refused: %s", json_dumps(detail, 0));
    sa_model_score(model, &lead, s);
    sa_lead_clear(&lead);
    json_decref(detail);
    json_decref(in);
}

static const struct sa_factor *factor(const struct sa_score *s, const char *name)
{
    for (int i = 0; i < SA_F_COUNT; i++)
        if (strcmp(s->factors[i].name, name) == 0)
            return &s->factors[i];
    fail_msg("no factor %s", name);
    return NULL;
}

static void check_invariants(const struct sa_score *s)
{
    int sum = 0;
    for (int i = 0; i < SA_F_COUNT; i++) {
        assert_in_range(s->factors[i].points, 0, s->factors[i].max_points);
        sum += s->factors[i].points;
    }
    assert_int_equal(sum, s->score);
    assert_in_range(s->score, 0, 100);
    assert_int_equal(s->tier, sa_model_tier(model, s->score));
    assert_true(strlen(s->reasoning) > 20);
}

static const char strong[] =
    "{\"company_name\":\"Acme Cloud\",\"industry\":\"SaaS\",\"company_size\":\"201-500\","
    "\"annual_revenue\":\"$40M\",\"contact_info\":{\"name\":\"Jane Doe\",\"title\":\"VP of "
    "Sales\",\"email\":\"jane@acmecloud.io\",\"phone\":\"+1 415 555 0100\",\"linkedin_url\":"
    "\"https://www.linkedin.com/in/jane\"},\"signals\":[\"requested_demo\",\"pricing_page_visit\","
    "\"recent_funding\"]}";
static const char weak[] =
    "{\"company_name\":\"Paws Rescue\",\"industry\":\"Non-profit\",\"company_size\":\"1-10\","
    "\"contact_info\":{\"email\":\"paws.rescue@gmail.com\"}}";

static void test_tiers_and_invariants(void **state)
{
    (void)state;
    struct sa_score s;
    score_json(strong, &s);
    check_invariants(&s);
    assert_int_equal(s.tier, 'A');
    assert_non_null(strstr(s.reasoning, "Acme Cloud"));
    score_json(weak, &s);
    check_invariants(&s);
    assert_int_equal(s.tier, 'D');
    assert_non_null(strstr(s.reasoning, "Gaps:"));
    assert_int_equal(sa_model_tier(model, 80), 'A');
    assert_int_equal(sa_model_tier(model, 79), 'B');
    assert_int_equal(sa_model_tier(model, 65), 'B');
    assert_int_equal(sa_model_tier(model, 64), 'C');
    assert_int_equal(sa_model_tier(model, 50), 'C');
    assert_int_equal(sa_model_tier(model, 49), 'D');
}

static void test_deterministic(void **state)
{
    (void)state;
    struct sa_score a, b;
    score_json(strong, &a);
    for (int i = 0; i < 100; i++) {
        score_json(strong, &b);
        assert_int_equal(a.score, b.score);
        assert_string_equal(a.reasoning, b.reasoning);
        for (int f = 0; f < SA_F_COUNT; f++)
            assert_int_equal(a.factors[f].points, b.factors[f].points);
    }
}

static void test_industry_matching(void **state)
{
    (void)state;
    struct sa_score s;
    score_json("{\"company_name\":\"X\",\"industry\":\"Fin Tech\"}", &s);
    assert_non_null(strstr(factor(&s, "industry_fit")->value, "FinTech"));
    assert_int_equal(factor(&s, "industry_fit")->points, 19); /* 0.95 x 20 */
    score_json("{\"company_name\":\"X\",\"industry\":\"B2B Software Company\"}", &s);
    assert_non_null(strstr(factor(&s, "industry_fit")->value, "SaaS"));
    score_json("{\"company_name\":\"X\",\"industry\":\"Underwater Basket Weaving\"}", &s);
    assert_non_null(strstr(factor(&s, "industry_fit")->value, "not in the industry table"));
    assert_int_equal(factor(&s, "industry_fit")->points, 8); /* default fit 0.4 x 20 */
    score_json("{\"company_name\":\"X\"}", &s);
    assert_int_equal(factor(&s, "industry_fit")->points, 0);
    check_invariants(&s);
}

static void test_contact_quality(void **state)
{
    (void)state;
    struct sa_score s;
    score_json("{\"company_name\":\"X\",\"contact_info\":{\"title\":\"Chief Revenue Officer\"}}",
               &s);
    assert_int_equal(factor(&s, "contact_seniority")->points, 15);
    score_json("{\"company_name\":\"X\",\"contact_info\":{\"title\":\"Executive Assistant to "
               "the CEO\"}}",
               &s);
    assert_true(factor(&s, "contact_seniority")->points <= 2);
    score_json("{\"company_name\":\"X\",\"contact_info\":{\"email\":\"a@gmail.com\"}}", &s);
    assert_int_equal(factor(&s, "email_domain")->points, 1);
    assert_non_null(strstr(factor(&s, "email_domain")->detail, "free-mail"));
    score_json("{\"company_name\":\"X\",\"contact_info\":{\"email\":\"a@acme.io\"}}", &s);
    assert_int_equal(factor(&s, "email_domain")->points, 5);
}

static void test_signals(void **state)
{
    (void)state;
    struct sa_score none, named, notes, many;
    score_json("{\"company_name\":\"X\"}", &none);
    score_json("{\"company_name\":\"X\",\"signals\":[\"Demo Request\"]}", &named);
    score_json("{\"company_name\":\"X\",\"notes\":\"They asked for a demo next week\"}", &notes);
    assert_int_equal(factor(&none, "signals")->points, 0);
    assert_int_equal(factor(&named, "signals")->points, 14);
    assert_int_equal(factor(&notes, "signals")->points, 14);
    /* more signals than the weight: capped at the weight */
    score_json("{\"company_name\":\"X\",\"signals\":[\"requested_demo\",\"trial_signup\","
               "\"pricing_page_visit\",\"recent_funding\"]}",
               &many);
    assert_int_equal(factor(&many, "signals")->points, factor(&many, "signals")->max_points);
    check_invariants(&many);
}

/* Multi-byte text: signals in long notes and titles padded with non-ASCII are still seen,
 * and quoted text is cut on a character boundary (no replacement '?'). */
static void test_multibyte_text(void **state)
{
    (void)state;
    size_t cap = 5100 * 2 + 200;
    char *text = malloc(cap);
    strcpy(text, "{\"company_name\":\"A\",\"notes\":\"");
    for (int i = 0; i < 5100; i++)
        strcat(text, "\xc3\xa9");
    strcat(text, " they requested a demo\"}");
    struct sa_score s;
    score_json(text, &s);
    assert_int_equal(factor(&s, "signals")->points, 14);
    strcpy(text, "{\"company_name\":\"A\",\"industry\":\"");
    for (int i = 0; i < 100; i++)
        strcat(text, "\xe6\x97\xa5"); /* U+65E5, 3 bytes: 100 bytes cut one in half */
    strcat(text, "\",\"contact_info\":{\"title\":\"");
    for (int i = 0; i < 170; i++)
        strcat(text, "\xe2\x82\xac"); /* U+20AC */
    strcat(text, " VP of Sales\"}}");
    score_json(text, &s);
    assert_int_equal(factor(&s, "contact_seniority")->points, 13);
    assert_null(strchr(factor(&s, "industry_fit")->value, '?'));
    assert_null(strchr(factor(&s, "contact_seniority")->value, '?'));
    free(text);
}

/* Unrecognised signals count once each and at most 3 points together. */
static void test_unknown_signals_capped(void **state)
{
    (void)state;
    struct sa_score s;
    score_json("{\"company_name\":\"A\",\"signals\":[\"x\",\"x\",\"x\",\"x\"]}", &s);
    assert_int_equal(factor(&s, "signals")->points, 1);
    score_json("{\"company_name\":\"A\",\"signals\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\"]}", &s);
    assert_int_equal(factor(&s, "signals")->points, 3);
}

static void test_size_moves_score(void **state)
{
    (void)state;
    struct sa_score micro, mid;
    score_json("{\"company_name\":\"X\",\"company_size\":\"1-10\"}", &micro);
    score_json("{\"company_name\":\"X\",\"company_size\":\"201-1000\"}", &mid);
    assert_true(factor(&mid, "company_size")->points > factor(&micro, "company_size")->points);
    assert_int_equal(factor(&mid, "company_size")->points, 18);
}

/* ---- data-file validation ---- */

static char tmpdir[64];

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Loads a copy of data/ where scoring.json has `from` replaced by `to`; returns the
 * error message ("" when it loaded). */
static void load_modified(const char *from, const char *to, char *msg, size_t cap)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sa_scoring_XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    const char *files[] = {"industries.json", "free_mail_domains.txt"};
    for (int i = 0; i < 2; i++) {
        char src[512];
        snprintf(src, sizeof src, SA_SOURCE_DIR "/data/%s", files[i]);
        char *t = read_file(src);
        write_file(files[i], t);
        free(t);
    }
    char *s = read_file(SA_SOURCE_DIR "/data/scoring.json");
    char *at = strstr(s, from);
    assert_non_null(at);
    size_t n = strlen(s) + strlen(to) + 1;
    char *mod = malloc(n);
    snprintf(mod, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
    write_file("scoring.json", mod);
    free(mod);
    free(s);
    struct sa_err err = {0};
    struct sa_model *m = NULL;
    int rc = sa_model_load(tmpdir, &m, &err);
    snprintf(msg, cap, "%s", rc ? err.msg : "");
    if (rc)
        assert_int_equal(rc, SA_ECONFIG);
    sa_model_free(m);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    assert_int_equal(system(cmd), 0);
}

static void test_bad_data_files(void **state)
{
    (void)state;
    char msg[256];
    load_modified("\"industry_fit\": 20", "\"industry_fit\": 19", msg, sizeof msg);
    assert_non_null(strstr(msg, "weights must add up to 100"));
    load_modified("\"A\": 80", "\"A\": 60", msg, sizeof msg);
    assert_non_null(strstr(msg, "A > B > C"));
    load_modified("\"fit\": 0.15}", "\"fit\": 1.5}", msg, sizeof msg);
    assert_non_null(strstr(msg, "company_size_bands.0.fit"));
    load_modified("\"version\": 1,", "\"version\": 1", msg, sizeof msg);
    assert_non_null(strstr(msg, "scoring.json:"));
    load_modified("\"version\": 1,", "\"version\": 1,", msg, sizeof msg);
    assert_string_equal(msg, "");
    struct sa_err err = {0};
    struct sa_model *m = NULL;
    assert_int_equal(sa_model_load("/nonexistent", &m, &err), SA_ECONFIG);
    assert_non_null(strstr(err.msg, "/nonexistent/scoring.json"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiers_and_invariants),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_industry_matching),
        cmocka_unit_test(test_contact_quality),
        cmocka_unit_test(test_signals),
        cmocka_unit_test(test_size_moves_score),
        cmocka_unit_test(test_bad_data_files),
        cmocka_unit_test(test_multibyte_text),
        cmocka_unit_test(test_unknown_signals_capped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
