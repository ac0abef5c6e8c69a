/* Pins the copy prospects read: every template in data/templates/, rendered by the
 * marketing agent (after enrichment and growth, as in the pipeline) for every lead of
 * data/sample_leads.json at every tier, and for synthetic leads missing each optional
 * fact, reads as whole sentences: no leftover tags, no empty variables, no doubled words,
 * no wrong article, no sentence starting in lower case, no stray spaces. Also pins the
 * template language itself (sections, articles, capitals, missing facts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "agents/agent.h"
#include "app/app.h"
#include "base/config.h"
#include "domain/lead.h"
#include "domain/profile.h"
#include "domain/template.h"
#include "../test_app.h"

#define DATA_DIR SA_SOURCE_DIR "/data"

/* ---- the checker --------------------------------------------------------------------- */

/* Adds a problem "what: ...context..." to problems. */
static void problem(json_t *problems, const char *what, const char *text, const char *at)
{
    const char *from = at - text > 30 ? at - 30 : text;
    char ctx[128];
    snprintf(ctx, sizeof ctx, "%.*s", (int)(strlen(from) < 70 ? strlen(from) : 70), from);
    for (char *c = ctx; *c; c++)
        if (*c == '\n')
            *c = '|';
    char msg[256];
    snprintf(msg, sizeof msg, "%s: \"%s\"", what, ctx);
    json_array_append_new(problems, json_string(msg));
}

static bool word_char(char c)
{
    return isalnum((unsigned char)c) || c == '\'' || c == '-' || (c & 0x80);
}

/* The checks, independent of the renderer's own tidying. */
static void lint(const char *text, json_t *problems)
{
    if (strstr(text, "{{") || strstr(text, "}}"))
        problem(problems, "leftover tag", text, strstr(text, "{{") ?: strstr(text, "}}"));
    for (const char *p = text; *p; p++) {
        bool line_start = p == text || p[-1] == '\n';
        if (p[0] == ' ' && p[1] == ' ' && !line_start)
            problem(problems, "double space", text, p);
        if (p[0] == ' ' && p[1] && strchr(".,;:!?", p[1]) && !line_start)
            problem(problems, "space before punctuation", text, p);
        if (strchr(",;:", p[0]) && p[1] && strchr(".,;:!?", p[1]))
            problem(problems, "empty variable between punctuation", text, p);
        if ((p[0] == '(' && p[1] == ')') || (p[0] == '"' && p[1] == '"'))
            problem(problems, "empty variable", text, p);
        /* a sentence's first letter: at the start of a line (after a list marker or a
         * quote) or after ". ", "! ", "? " */
        const char *s = NULL;
        if (line_start) {
            s = p;
            if (strncmp(s, "- ", 2) == 0)
                s += 2;
            while (isdigit((unsigned char)*s))
                s++;
            if (s > p && s[0] == '.' && s[1] == ' ')
                s += 2;
            if (strncmp(s, "Subject: ", 9) == 0)
                s += 9;
        } else if (strchr(".!?", p[0]) && p[1] == ' ' && p > text &&
                   !isspace((unsigned char)p[-1])) {
            s = p + 2;
        }
        if (s) {
            while (*s == '"')
                s++;
            if (islower((unsigned char)*s) && strncmp(s, "http", 4) != 0)
                problem(problems, "sentence starts in lower case", text, s);
        }
    }
    /* words: doubled words and articles */
    char prev[64] = "";
    for (const char *p = text; *p;) {
        while (*p && !word_char(*p))
            p++;
        const char *w = p;
        while (*p && word_char(*p))
            p++;
        size_t n = (size_t)(p - w);
        if (n == 0)
            break;
        char word[64];
        snprintf(word, sizeof word, "%.*s", (int)(n < 63 ? n : 63), w);
        bool joined = true; /* the two words are separated by spaces only */
        for (const char *q = w - 1; q >= text && !word_char(*q) && joined; q--)
            joined = *q == ' ';
        if (*prev && joined && strcasecmp(prev, word) == 0)
            problem(problems, "doubled word", text, w);
        if (*prev && joined && (strcasecmp(prev, "a") == 0 || strcasecmp(prev, "an") == 0) &&
            strcasecmp(prev, sa_article(w)) != 0)
            problem(problems, "wrong article", text, w);
        snprintf(prev, sizeof prev, "%s", word);
    }
}

/* ---- the renderer ---------------------------------------------------------------------- */

static void render_ok(const char *tmpl, json_t *vars, const char *want)
{
    char *out = NULL;
    assert_int_equal(sa_template_render(tmpl, vars, &out, NULL), 0);
    assert_string_equal(out, want);
    free(out);
}

static void test_template_language(void **state)
{
    (void)state;
    json_t *v = json_pack("{s:s, s:s, s:s, s:s}", "name", "Dana", "industry", "IT Services", "saas",
                          "SaaS", "pain", "leads going cold");
    /* an optional sentence with a missing fact is dropped whole, spaces tidied */
    render_ok("Hi {{name}}. {{#competitor}}You compete with {{competitor}}.{{/competitor}} Bye.", v,
              "Hi Dana. Bye.");
    render_ok("{{#name}}Hi {{name}},{{/name}}{{^name}}Hello,{{/name}}", v, "Hi Dana,");
    render_ok("{{#nobody}}Hi {{nobody}},{{/nobody}}{{^nobody}}Hello,{{/nobody}}", v, "Hello,");
    /* a section lacking an inner fact is dropped too; nested sections drop alone */
    render_ok("A.{{#name}} B {{city}}.{{/name}} C.", v, "A. C.");
    render_ok("{{#name}}X{{#city}} in {{city}}{{/city}}.{{/name}}", v, "X.");
    /* articles by sound, and a capital at a sentence's start */
    render_ok("As {{a:industry}} team and {{a:saas}} team.", v,
              "As an IT Services team and a SaaS team.");
    render_ok("{{pain}} costs. Why? {{pain}} again", v,
              "Leads going cold costs. Why? Leads going cold again");
    render_ok("Subject: {{pain}}\n\n\n\nbody ", v, "Subject: Leads going cold\n\nbody");
    /* a required fact withholds the message and is named once */
    json_t *missing = json_array();
    char *out = (char *)"x";
    assert_int_equal(sa_template_render("{{who}} and {{who}} {{name}}", v, &out, missing),
                     SA_EINVAL);
    assert_null(out);
    assert_int_equal(json_array_size(missing), 1);
    assert_string_equal(json_string_value(json_array_get(missing, 0)), "who");
    json_decref(missing);
    json_decref(v);
    /* the start-up check of a template's tags */
    char why[160];
    assert_int_equal(sa_template_check("{{#a}}x{{^b}}y{{/b}}{{/a}} {{a:c}}", why, sizeof why), 0);
    assert_int_equal(sa_template_check("{{#a}}x", why, sizeof why), SA_EINVAL);
    assert_string_equal(why, "section {{#a}} is never closed");
    assert_int_equal(sa_template_check("{{#a}}{{^b}}{{/a}}{{/b}}", why, sizeof why), SA_EINVAL);
    assert_string_equal(why, "{{/a}} closes no open section");
    assert_int_equal(sa_template_check("Hi {{name", why, sizeof why), SA_EINVAL);
    assert_int_equal(sa_template_check("Hi {{}}", why, sizeof why), SA_EINVAL);
    /* every shipped template passes it (the server checks them at start-up) */
    const char *names[] = {"call_script",      "email_breakup",    "email_followup_1",
                           "email_followup_2", "email_intro_A",    "email_intro_B",
                           "email_intro_C",    "linkedin_connect", "linkedin_message"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[512], text[16384];
        snprintf(path, sizeof path, DATA_DIR "/templates/%s.txt", names[i]);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        size_t got = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[got] = '\0';
        if (sa_template_check(text, why, sizeof why))
            fail_msg("%s: %s", names[i], why);
    }
}

static void test_articles(void **state)
{
    (void)state;
    const char *an[] = {"IT Services", "HR Tech",       "EdTech",        "AI/ML",
                        "hour",        "honest broker", "8-person team", "18-month plan",
                        "E-commerce",  "MBA",           "SDR",           "owner"};
    const char *a[] = {"SaaS",   "FinTech",    "user",       "European bank",      "one-off",
                       "CRM",    "university", "Healthcare", "120-person company", "VP",
                       "unicorn"};
    for (size_t i = 0; i < sizeof an / sizeof an[0]; i++)
        if (strcmp(sa_article(an[i]), "an") != 0)
            fail_msg("want \"an %s\", got \"%s\"", an[i], sa_article(an[i]));
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++)
        if (strcmp(sa_article(a[i]), "a") != 0)
            fail_msg("want \"a %s\", got \"%s\"", a[i], sa_article(a[i]));
    json_t *p = json_array();
    lint("We help a IT team. an example.  Twice twice ,here {{x}}", p);
    assert_int_equal(json_array_size(p), 6);
    json_decref(p);
}

/* ---- every template, every lead ------------------------------------------------------- */

/* Runs enrichment, growth and marketing (at tier) on lead; returns the marketing output
 * (new reference) or NULL when the lead is invalid. */
static json_t *marketing_for(struct sa_app *app, json_t *input, char tier)
{
    struct sa_lead lead;
    json_t *detail = json_array();
    json_t *copy = json_deep_copy(input);
    int rc = sa_lead_parse(copy, "input", &lead, detail);
    json_decref(detail);
    json_decref(copy);
    if (rc)
        return NULL;
    struct sa_err err = {0};
    char t[2] = {tier, '\0'};
    json_t *ctx = json_pack("{s:{s:s}}", "qualification", "tier", t), *out = NULL;
    const enum sa_agent_type before[] = {SA_AGENT_ENRICHMENT, SA_AGENT_GROWTH};
    const char *keys[] = {"enrichment", "growth"};
    for (int i = 0; i < 2; i++) {
        if (sa_agent_run(sa_agents_get(app->agents, before[i]), &lead, ctx, &out, &err) == 0)
            json_object_set_new(ctx, keys[i], out);
    }
    rc = sa_agent_run(sa_agents_get(app->agents, SA_AGENT_MARKETING), &lead, ctx, &out, &err);
    json_decref(ctx);
    sa_lead_clear(&lead);
    if (rc)
        fail_msg("marketing: %s", err.msg);
    return out;
}

/* Checks every message of a marketing output; returns how many it read. */
static int check_content(const json_t *mkt, const char *who, json_t *problems)
{
    const char *name;
    json_t *m;
    int n = 0;
    json_object_foreach(json_object_get(mkt, "content"), name, m)
    {
        if (!json_is_true(json_object_get(m, "ready"))) {
            char msg[256], *missing = json_dumps(json_object_get(m, "missing"), JSON_COMPACT);
            snprintf(msg, sizeof msg, "%s: %s withheld, missing %s", who, name,
                     missing ? missing : "?");
            free(missing);
            json_array_append_new(problems, json_string(msg));
            continue;
        }
        const char *parts[] = {"subject", "body"};
        for (int i = 0; i < 2; i++) {
            const char *text = json_string_value(json_object_get(m, parts[i]));
            if (!text)
                continue;
            if (getenv("SA_COPY_DUMP")) /* to read the copy: SA_COPY_DUMP=1 test_copy */
                printf("==== %s, %s %s\n%s\n", who, name, parts[i], text);
            json_t *found = json_array();
            lint(text, found);
            size_t k;
            json_t *f;
            json_array_foreach(found, k, f)
            {
                char msg[512];
                snprintf(msg, sizeof msg, "%s, %s %s: %s", who, name, parts[i],
                         json_string_value(f));
                json_array_append_new(problems, json_string(msg));
            }
            json_decref(found);
            n++;
        }
    }
    return n;
}

static void report(json_t *problems)
{
    size_t i;
    json_t *p;
    json_array_foreach(problems, i, p)
    {
        if (i < 40)
            print_error("%s\n", json_string_value(p));
    }
    assert_int_equal(json_array_size(problems), 0);
}

static void test_sample_leads(void **state)
{
    (void)state;
    struct sa_app *app = test_app_open();
    json_error_t je;
    json_t *doc = json_load_file(DATA_DIR "/sample_leads.json", 0, &je);
    assert_non_null(doc);
    json_t *problems = json_array();
    int read = 0, leads = 0;
    size_t i;
    json_t *lead;
    json_array_foreach(json_object_get(doc, "leads"), i, lead)
    {
        for (char tier = 'A'; tier <= 'D'; tier++) {
            json_t *mkt = marketing_for(app, lead, tier);
            if (!mkt)
                continue;
            char who[160];
            snprintf(who, sizeof who, "%s (tier %c)",
                     json_string_value(json_object_get(lead, "company_name")), tier);
            read += check_content(mkt, who, problems);
            json_decref(mkt);
            leads += tier == 'A';
        }
    }
    printf("%d leads, %d subjects and bodies read\n", leads, read);
    assert_true(leads >= 30);
    assert_true(read >= leads * 20);
    report(problems);
    json_decref(problems);
    json_decref(doc);
    sa_app_close(app);
}

/* Leads missing each optional fact: no name, no title, no industry, an industry the
 * profile has no case study for, an unknown company, no signals. */
static void test_synthetic_leads(void **state)
{
    (void)state;
    struct sa_app *app = test_app_open();
    const char *leads[] = {
        "{\"company_name\":\"Quillborne Systems\",\"industry\":\"IT Services\",\"signals\":"
        "[\"requested_demo\"],\"contact_info\":{\"email\":\"kim@quillborne.example\"}}",
        "{\"company_name\":\"Orbitrail\",\"contact_info\":{\"name\":\"Ana\"}}",
        "{\"company_name\":\"Hollowmere\",\"industry\":\"Underwater Basket Weaving\","
        "\"contact_info\":{\"name\":\"Sam Ortiz\",\"title\":\"Office Manager\"}}",
        "{\"company_name\":\"Umbra Health\",\"industry\":\"HR Tech\",\"company_size\":\"11-50\","
        "\"signals\":[\"recent_funding\",\"hiring_sales\"],\"contact_info\":{\"name\":\"Eli "
        "Park\",\"title\":\"Head of Sales\"}}",
        "{\"company_name\":\"Ebbfield\",\"industry\":\"E-commerce\",\"signals\":[\"expansion\"],"
        "\"contact_info\":{\"name\":\"Una\",\"title\":\"CEO\"}}",
    };
    json_t *problems = json_array();
    int read = 0;
    for (size_t i = 0; i < sizeof leads / sizeof leads[0]; i++) {
        json_t *in = json_loads(leads[i], 0, NULL);
        assert_non_null(in);
        for (char tier = 'A'; tier <= 'D'; tier++) {
            json_t *mkt = marketing_for(app, in, tier);
            assert_non_null(mkt);
            char who[160];
            snprintf(who, sizeof who, "synthetic %zu (tier %c)", i, tier);
            read += check_content(mkt, who, problems);
            /* nothing is withheld: every optional fact drops only its sentence */
            assert_int_equal(json_array_size(json_object_get(mkt, "errors")), 0);
            json_decref(mkt);
        }
        json_decref(in);
    }
    report(problems);
    assert_true(read > 50);
    json_decref(problems);
    sa_app_close(app);
}

/* The reported bugs: a demo request from a company missing from the dataset gets a
 * subject that reads naturally and a body with no fixed time and no competitor sentence. */
static void test_demo_request_unknown_company(void **state)
{
    (void)state;
    struct sa_app *app = test_app_open();
    json_t *in = json_loads("{\"company_name\":\"Quillborne Systems\",\"industry\":\"IT "
                            "Services\",\"signals\":[\"requested_demo\"],\"contact_info\":{"
                            "\"name\":\"Kim Vos\",\"email\":\"kim@quillborne.example\"}}",
                            0, NULL);
    json_t *mkt = marketing_for(app, in, 'B');
    json_t *intro = json_object_get(json_object_get(mkt, "content"), "email_intro_B");
    assert_true(json_is_true(json_object_get(intro, "ready")));
    assert_string_equal(json_string_value(json_object_get(intro, "subject")), "Your Pipewise demo");
    const char *body = json_string_value(json_object_get(intro, "body"));
    assert_non_null(strstr(body, "Hi Kim,"));
    assert_non_null(strstr(body, "Thank you for requesting a demo."));
    assert_non_null(strstr(body, "an IT services firm")); /* the profile's case study */
    assert_null(strstr(body, "competing with"));
    assert_null(strstr(body, "next week"));
    assert_non_null(strstr(body, "https://meet.pipewise.example/alex"));
    /* the postal address is the delivered message's footer (mail/message.c), printed once:
     * not in the draft's body too */
    assert_null(strstr(body, "Oakland, CA"));
    json_decref(mkt);
    json_decref(in);
    sa_app_close(app);
}

/* Every reply of the profile, in every language, with and without the contact's name and
 * with the pricing on request: whole sentences (the English ones through every check; the
 * others through those that hold in any language: no tag, no blank, no stray space, no
 * space before a full stop or comma). */
static void test_profile_replies(void **state)
{
    (void)state;
    struct sa_profile *p = NULL, *on_request = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_profile_load(DATA_DIR "/product.json", &p, &err), 0);
    json_t *doc = json_deep_copy(sa_profile_json(p));
    json_object_set_new(doc, "pricing", json_pack("{s:b}", "on_request", 1));
    assert_int_equal(sa_profile_parse(doc, "product.json", &on_request, &err), 0);
    json_decref(doc);
    json_t *problems = json_array();
    int read = 0;
    const struct sa_profile *profiles[] = {p, on_request};
    for (int k = 0; k < 2; k++) {
        const char *lang;
        json_t *set;
        json_object_foreach(json_object_get(sa_profile_json(profiles[k]), "replies"), lang, set)
        {
            const char *intent;
            json_t *t;
            json_object_foreach(set, intent, t)
            {
                for (int named = 0; named < 2; named++) {
                    json_t *vars = json_object();
                    sa_profile_vars(profiles[k], lang, vars);
                    if (named)
                        json_object_set_new(vars, "first_name", json_string("Noor"));
                    if (strncmp(intent, "meeting_", 8) == 0) { /* a turn that named a time */
                        json_object_set_new(vars, "meeting_local",
                                            json_string("Tuesday 8 December, 14:00 EST"));
                        if (named) /* with and without free slots to offer */
                            json_object_set_new(
                                vars, "meeting_slots",
                                json_string("Tuesday 8 December, 14:30 EST; Wednesday 9 "
                                            "December, 10:00 EST"));
                    }
                    char *out = NULL;
                    json_t *missing = json_array();
                    if (sa_template_render(json_string_value(t), vars, &out, missing) == 0) {
                        json_t *found = json_array();
                        lint(out, found);
                        size_t i;
                        json_t *f;
                        json_array_foreach(found, i, f)
                        {
                            const char *msg = json_string_value(f);
                            /* French spaces ";:!?"; other languages' articles are not ours */
                            if (strcmp(lang, "en") != 0 &&
                                (strstr(msg, "wrong article") ||
                                 strstr(msg, "space before punctuation: \"") ||
                                 strstr(msg, "lower case")))
                                continue;
                            char line[512];
                            snprintf(line, sizeof line, "%s.%s%s: %s", lang, intent,
                                     named ? "" : " (no name)", msg);
                            json_array_append_new(problems, json_string(line));
                        }
                        json_decref(found);
                        if (strstr(out, " .") || strstr(out, " ,") || strstr(out, ",,"))
                            json_array_append_new(problems, json_string(out));
                        read++;
                    } else { /* only a fact the shipped profile does not have */
                        char line[256];
                        snprintf(line, sizeof line, "%s.%s: withheld", lang, intent);
                        json_array_append_new(problems, json_string(line));
                    }
                    free(out);
                    json_decref(missing);
                    json_decref(vars);
                }
            }
        }
    }
    report(problems);
    assert_true(read > 100);
    json_decref(problems);
    sa_profile_free(p);
    sa_profile_free(on_request);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_template_language),
        cmocka_unit_test(test_articles),
        cmocka_unit_test(test_sample_leads),
        cmocka_unit_test(test_synthetic_leads),
        cmocka_unit_test(test_demo_request_unknown_company),
        cmocka_unit_test(test_profile_replies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
