/* Integration tests of the lead search and sort (docs/leads.md, "Search and sort"): q
 * ignores case and Latin accents and matches substrings of the company, contact, e-mail
 * and industry, through the index (3+ characters) or the short-query scan; the index
 * follows edits and erasures; sort orders the list or is 422; the export filters alike. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Six leads whose names carry the cases under test. */
static const char CSV[] =
    "Company,First Name,Last Name,Job Title,Email,Industry,Employees\r\n"
    "Müller Maschinenbau,Jürgen,Müller,CEO,jm@mmb-example.de,Manufacturing,900\r\n"
    "Zoë Analytics,Zoë,Øst,VP Sales,contact@zanalytics-example.io,SaaS,120\r\n"
    "Helio Robotics,Dana,Ortiz,CTO,dana.ortiz@heliorobotics-example.com,Robotics,350\r\n"
    "Straße Logistik,Ben,Kraus,Buyer,ben@sl-example.de,Logistics,40\r\n"
    "Façade Studio,Renée,Lefèvre,Owner,renee@facade-example.fr,Design,8\r\n"
    "Quiet Corp,Sam,Lee,Intern,sam@quiet-example.com,Retail,2\r\n";

/* The company names of GET path's items joined by "|" (malloc'd); *total gets "total". */
static char *companies(const char *path, long *total)
{
    struct resp r;
    json_t *j = http_json("GET", path, NULL, &r);
    if (r.status != 200 || !j)
        fail_msg("GET %s: %ld %.300s", path, r.status, r.body);
    *total = (long)json_integer_value(json_object_get(j, "total"));
    size_t cap = 1, i;
    json_t *it;
    json_array_foreach(json_object_get(j, "items"), i, it) cap +=
        strlen(jstr(it, "company_name")) + 1;
    char *out = calloc(1, cap);
    assert_non_null(out);
    json_array_foreach(json_object_get(j, "items"), i, it)
    {
        if (i > 0)
            strcat(out, "|");
        strcat(out, jstr(it, "company_name"));
    }
    resp_free(&r);
    return out;
}

/* Asserts that GET /api/leads?sort=company&q=query lists exactly want ("" for none). */
static void expect_search(const char *query, const char *want)
{
    char *path = strf("/api/leads?sort=company&limit=50&q=%s", query);
    long total;
    char *got = companies(path, &total);
    if (strcmp(got, want) != 0)
        fail_msg("q=%s: got \"%s\", want \"%s\"", query, got, want);
    long n = *want ? 1 : 0;
    for (const char *p = want; *p; p++)
        n += *p == '|';
    assert_int_equal(total, n);
    free(got);
    free(path);
}

static char *lead_id_of(const char *query)
{
    struct resp r;
    char *path = strf("/api/leads?q=%s", query);
    json_t *j = http_json("GET", path, NULL, &r);
    const char *id = jstr(j, "items.0.id");
    assert_non_null(id);
    char *out = strdup(id);
    resp_free(&r);
    free(path);
    return out;
}

static void test_search(void **state)
{
    (void)state;
    struct resp r;
    http("POST", "/api/leads/import", "text/csv", CSV, strlen(CSV), &r);
    if (r.status != 200)
        fail_msg("import: %ld %.300s", r.status, r.body);
    resp_free(&r);
    /* case and accents, both ways: ü folds to u (so "mueller" is another name) */
    expect_search("m%C3%BCller", "Müller Maschinenbau");
    expect_search("muller", "Müller Maschinenbau");
    expect_search("MULLER", "Müller Maschinenbau");
    expect_search("M%C3%9CLLER", "Müller Maschinenbau");
    expect_search("mueller", "");
    expect_search("ZO%C3%8B", "Zoë Analytics");
    expect_search("zoe", "Zoë Analytics");
    expect_search("strasse", "Straße Logistik");
    expect_search("STRA%C3%9FE", "Straße Logistik");
    expect_search("facade", "Façade Studio");
    expect_search("lefevre", "Façade Studio");
    expect_search("%C3%B8st", "Zoë Analytics"); /* øst: the contact's last name */
    /* substrings: of a word, of an e-mail, of the industry; across a space */
    expect_search("robot", "Helio Robotics");
    expect_search("ortiz%40heliorobotics-exa", "Helio Robotics");
    expect_search("mmb-example", "Müller Maschinenbau");
    expect_search("logistics", "Straße Logistik");
    expect_search("helio%20rob", "Helio Robotics");
    expect_search("maschinenbau%20j", ""); /* never across two fields */
    /* one and two characters: the scan of the folded text */
    expect_search("zo", "Zoë Analytics");
    expect_search("%C3%9F", "Straße Logistik"); /* ß folds to "ss" */
    expect_search("%C3%98S", "Zoë Analytics");  /* ØS: "os", as in Øst */
    /* FTS5 syntax in the text is plain text */
    expect_search("a%22b", "");
    expect_search("%22%22%22", "");
    expect_search("OR%20NOT", "");
    expect_search("zoe*", "");
}

/* The index follows the lead: an edit re-indexes it, an erasure removes it. */
static void test_edit_and_erase(void **state)
{
    (void)state;
    char *id = lead_id_of("zanalytics");
    char *path = strf("/api/leads/%s", id);
    struct resp r;
    http_json("PATCH", path,
              "{\"company_name\": \"\\u00c6r\\u00f8 Analytics\", \"contact_info\": "
              "{\"name\": \"Ida Berg\"}}",
              &r);
    if (r.status != 200)
        fail_msg("patch: %ld %.300s", r.status, r.body);
    resp_free(&r);
    expect_search("zoe", "");
    expect_search("aero%20analytics", "Ærø Analytics");
    expect_search("ida%20berg", "Ærø Analytics");
    http_json("DELETE", path, NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    expect_search("aero", "");
    expect_search("ae", "");
    free(path);
    free(id);
}

/* Asserts that the items of sort=name come in its order (by the key at field). */
static void expect_sorted(const char *sort, const char *field, int dir, bool text)
{
    char *path = strf("/api/leads?limit=50&sort=%s", sort);
    struct resp r;
    json_t *j = http_json("GET", path, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(j, "items");
    assert_true(json_array_size(items) >= 4);
    for (size_t i = 1; i < json_array_size(items); i++) {
        json_t *a = jget(json_array_get(items, i - 1), field);
        json_t *b = jget(json_array_get(items, i), field);
        int c;
        if (text)
            c = strcasecmp(json_string_value(a), json_string_value(b));
        else /* an unscored lead is the lowest */
            c = (a ? (int)json_integer_value(a) : -1) - (b ? (int)json_integer_value(b) : -1);
        if (c * dir > 0)
            fail_msg("sort=%s: item %zu before %zu out of order", sort, i - 1, i);
    }
    resp_free(&r);
    free(path);
}

static void test_sort(void **state)
{
    (void)state;
    expect_sorted("score", "qualification.score", 1, false);
    expect_sorted("-score", "qualification.score", -1, false);
    expect_sorted("created_at", "created_at", 1, true);
    expect_sorted("-created_at", "created_at", -1, true);
    expect_sorted("company", "company_name", 1, true);
    /* the scores differ (a CEO at 900 people outranks an intern at 2), so the two score
     * orders are not both trivially satisfied */
    long total;
    char *hi = companies("/api/leads?sort=-score&limit=1", &total);
    char *lo = companies("/api/leads?sort=score&limit=1", &total);
    assert_string_not_equal(hi, lo);
    free(hi);
    free(lo);
    char *page = companies("/api/leads?sort=company&limit=2&offset=1&q=o", &total);
    assert_string_equal(page,
                        "Helio Robotics|Quiet Corp"); /* of Façade, Helio, Quiet, Straße, Zoë */
    free(page);
    static const char *const bad[] = {"name", "SCORE", "-company", "", "score,company"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *p = strf("/api/leads?sort=%s", bad[i]);
        struct resp r;
        http("GET", p, NULL, NULL, 0, &r);
        expect_problem(p, &r, 422, "[\"query\",\"sort\"]", "enum");
        if (!strstr(r.body, "-created_at"))
            fail_msg("%s: the allowed values are not listed: %s", p, r.body);
        resp_free(&r);
        free(p);
    }
}

/* The export's q selects what the list's does. */
static void test_export(void **state)
{
    (void)state;
    struct resp r;
    http("GET", "/api/leads/export?q=MULLER", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "Müller Maschinenbau"));
    assert_null(strstr(r.body, "Helio Robotics"));
    resp_free(&r);
    http("GET", "/api/leads/export?q=zo", NULL, NULL, 0, &r); /* the short form */
    assert_int_equal(r.status, 200);
    assert_null(strstr(r.body, "Müller"));
    resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_search),
        cmocka_unit_test(test_sort),
        cmocka_unit_test(test_export),
        cmocka_unit_test(test_edit_and_erase),
    };
    return api_exit_status(cmocka_run_group_tests(tests, api_group_setup, api_group_teardown));
}
