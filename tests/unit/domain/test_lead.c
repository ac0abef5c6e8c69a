/* Pins lead validation: the company-size and revenue forms people type, e-mail syntax,
 * and that every invalid field is reported with its location (FastAPI's loc). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "domain/lead.h"

static void size_ok(const char *s, long min, long max)
{
    long a = 0, b = 0;
    if (sa_parse_company_size(s, &a, &b) != 0)
        fail_msg("company size \"%s\" was refused", s);
    assert_int_equal(a, min);
    assert_int_equal(b, max);
}

static void test_company_size_forms(void **state)
{
    (void)state;
    size_ok("1-10", 1, 10);
    size_ok("50-200", 50, 200);
    size_ok(" 1,000 - 5,000 employees ", 1000, 5000);
    size_ok("1000+", 1000, SA_UNKNOWN);
    size_ok("10k+", 10000, SA_UNKNOWN);
    size_ok("500 employees", 500, 500);
    size_ok("Enterprise", 1001, SA_UNKNOWN);
    size_ok("SMB", 1, 100);
    size_ok("mid-market", 101, 1000);
    size_ok("under 50", 1, 49);
    size_ok("250", 250, 250);
    size_ok("11 to 50", 11, 50);
    long a, b;
    const char *bad[] = {"lots", "",       "-5",     "0",    "200-50",        "1.5",
                         "10-",  "abc 10", "1000++", "5,00", "over 10000000", "1,0000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (sa_parse_company_size(bad[i], &a, &b) == 0)
            fail_msg("company size \"%s\" was accepted", bad[i]);
}

static void test_money_forms(void **state)
{
    (void)state;
    double v;
    assert_int_equal(sa_parse_money("$12M", &v), 0);
    assert_true(v == 12e6);
    assert_int_equal(sa_parse_money("4.5m", &v), 0);
    assert_true(v == 4.5e6);
    assert_int_equal(sa_parse_money("1.2B", &v), 0);
    assert_true(v == 1.2e9);
    assert_int_equal(sa_parse_money("$500K", &v), 0);
    assert_true(v == 5e5);
    assert_int_equal(sa_parse_money("$2,500,000", &v), 0);
    assert_true(v == 2.5e6);
    assert_int_equal(sa_parse_money("10-50M", &v), 0);
    assert_true(v == 30e6);
    assert_int_equal(sa_parse_money("USD 3 million", &v), 0);
    assert_true(v == 3e6);
    assert_int_equal(sa_parse_money("a lot", &v), SA_EINVAL);
    assert_int_equal(sa_parse_money("50-10M", &v), SA_EINVAL);
}

static void test_email(void **state)
{
    (void)state;
    assert_true(sa_email_valid("jane.doe@acme.io"));
    assert_true(sa_email_valid("a+b@sub.example.co.uk"));
    assert_false(sa_email_valid("bad"));
    assert_false(sa_email_valid("a@b"));
    assert_false(sa_email_valid("a..b@acme.io"));
    assert_false(sa_email_valid(".a@acme.io"));
    assert_false(sa_email_valid("a@-acme.io"));
    assert_false(sa_email_valid("a b@acme.io"));
    assert_false(sa_email_valid("a@acme.c0"));
    assert_string_equal(sa_email_domain("x@acme.io"), "acme.io");
}

/* A phone may carry an extension of digits, nothing else. */
static void test_phone_and_revenue_edges(void **state)
{
    (void)state;
    const char *ok[] = {"+1 415 555 0100", "+1 (415) 555-0100 ext. 12", "020 7946 0018 x7"};
    const char *bad[] = {"5551234567 x<script>", "12", "555-CALL-NOW", "5551234567 ext"};
    for (size_t i = 0; i < 3 + 4; i++) {
        bool want = i < 3;
        const char *phone = want ? ok[i] : bad[i - 3];
        json_t *in = json_pack("{s:s, s:{s:s}, s:f}", "company_name", "X", "contact_info", "phone",
                               phone, "annual_revenue", -0.0);
        json_t *detail = json_array();
        struct sa_lead lead;
        int rc = sa_lead_parse(in, "", &lead, detail);
        if ((rc == 0) != want)
            fail_msg("phone \"%s\" should be %s", phone, want ? "accepted" : "refused");
        if (rc == 0) {
            assert_false(signbit(lead.annual_revenue)); /* -0.0 is stored as 0 */
            sa_lead_clear(&lead);
        }
        json_decref(detail);
        json_decref(in);
    }
}

static bool has_loc(json_t *detail, const char *want)
{
    size_t i;
    json_t *e;
    json_array_foreach(detail, i, e)
    {
        char *loc = json_dumps(json_object_get(e, "loc"), JSON_COMPACT);
        bool hit = strcmp(loc, want) == 0;
        free(loc);
        if (hit)
            return true;
    }
    return false;
}

static void test_parse_reports_every_field(void **state)
{
    (void)state;
    json_t *in = json_pack("{s:s, s:i, s:s, s:{s:s, s:s, s:s}, s:[s, i], s:s}", "company_name",
                           "   ", "industry", 7, "company_size", "lots", "contact_info", "email",
                           "nope", "phone", "12", "linkedin_url", "https://example.com/x",
                           "signals", "ok", 3, "website", "not a url");
    json_t *detail = json_array();
    struct sa_lead lead;
    assert_int_equal(sa_lead_parse(in, "body.input", &lead, detail), SA_EINVAL);
    assert_null(lead.raw);
    assert_true(has_loc(detail, "[\"body\",\"input\",\"company_name\"]"));
    assert_true(has_loc(detail, "[\"body\",\"input\",\"industry\"]"));
    assert_true(has_loc(detail, "[\"body\",\"input\",\"company_size\"]"));
    assert_true(has_loc(detail, "[\"body\",\"input\",\"contact_info\",\"email\"]"));
    assert_true(has_loc(detail, "[\"body\",\"input\",\"contact_info\",\"phone\"]"));
    assert_true(has_loc(detail, "[\"body\",\"input\",\"contact_info\",\"linkedin_url\"]"));
    assert_true(has_loc(detail, "[\"body\",\"input\",\"signals\",1]"));
    assert_true(has_loc(detail, "[\"body\",\"input\",\"website\"]"));
    json_decref(detail);
    json_decref(in);
}

static void test_parse_normalises_and_keeps_unknown(void **state)
{
    (void)state;
    json_t *in = json_pack("{s:s, s:i, s:s, s:{s:s}, s:s}", "company_name", "  Acme  ",
                           "company_size", 350, "annual_revenue", "$12M", "contact_info", "email",
                           "a@acme.io", "crm_owner", "bob");
    json_t *detail = json_array();
    struct sa_lead lead;
    assert_int_equal(sa_lead_parse(in, "", &lead, detail), 0);
    assert_int_equal(json_array_size(detail), 0);
    assert_string_equal(lead.company_name, "Acme");
    assert_int_equal(lead.employees_min, 350);
    assert_true(lead.annual_revenue == 12e6);
    assert_string_equal(lead.contact_email, "a@acme.io");
    assert_string_equal(json_string_value(json_object_get(lead.raw, "crm_owner")), "bob");
    assert_string_equal(json_string_value(json_object_get(in, "company_name")), "Acme");
    sa_lead_clear(&lead);
    json_decref(detail);
    json_decref(in);
}

/* Where the contact is: a zone name's form is checked (its existence is the calendar's
 * business), state and city are optional strings. */
static void test_location_fields(void **state)
{
    (void)state;
    json_t *in = json_pack("{s:s, s:s, s:s, s:s}", "company_name", "Acme", "timezone",
                           " America/Los_Angeles ", "state", "CA", "city", "San Francisco");
    json_t *detail = json_array();
    struct sa_lead lead;
    assert_int_equal(sa_lead_parse(in, "", &lead, detail), 0);
    assert_string_equal(json_string_value(json_object_get(lead.raw, "timezone")),
                        "America/Los_Angeles");
    sa_lead_clear(&lead);
    json_decref(in);
    in =
        json_pack("{s:s, s:s, s:i}", "company_name", "Acme", "timezone", "Pacific Time", "city", 7);
    assert_int_equal(sa_lead_parse(in, "body.input", &lead, detail), SA_EINVAL);
    assert_true(has_loc(detail, "[\"body\",\"input\",\"timezone\"]"));
    assert_true(has_loc(detail, "[\"body\",\"input\",\"city\"]"));
    json_decref(detail);
    json_decref(in);
}

static void test_limits(void **state)
{
    (void)state;
    char name[300];
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    name[256] = '\0';
    json_t *in = json_pack("{s:s}", "company_name", name);
    json_t *detail = json_array();
    struct sa_lead lead;
    assert_int_equal(sa_lead_parse(in, "", &lead, detail), SA_EINVAL);
    assert_string_equal(json_string_value(json_object_get(json_array_get(detail, 0), "type")),
                        "string_too_long");
    json_decref(in);
    json_array_clear(detail);
    name[255] = '\0'; /* exactly 255 characters is allowed */
    in = json_pack("{s:s}", "company_name", name);
    assert_int_equal(sa_lead_parse(in, "", &lead, detail), 0);
    sa_lead_clear(&lead);
    json_decref(in);
    json_decref(detail);
}

/* Revenue as CRM exports write it: the currency is read and kept, never converted; units
 * and separators of other locales; "25.000" (ambiguous) and two currencies are refused. */
/* Head counts with "." as a thousands separator (German and Dutch exports) are whole
 * numbers: "1.000" was read as 1 and "10.000" as 10; a decimal head count stays refused. */
static void test_size_thousands_dot(void **state)
{
    (void)state;
    long lo, hi;
    assert_int_equal(sa_parse_company_size("1.000", &lo, &hi), 0);
    assert_int_equal(lo, 1000);
    assert_int_equal(sa_parse_company_size("10.000-50.000", &lo, &hi), 0);
    assert_int_equal(lo, 10000);
    assert_int_equal(hi, 50000);
    assert_int_equal(sa_parse_company_size("1.200", &lo, &hi), 0);
    assert_int_equal(lo, 1200);
    assert_int_equal(sa_parse_company_size("1.5k", &lo, &hi), 0);
    assert_int_equal(lo, 1500);
    assert_int_not_equal(sa_parse_company_size("2.5", &lo, &hi), 0);
}

static void test_revenue_forms(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        double amount;
        const char *currency;
    } ok[] = {
        {"\xe2\x82\xac"
         "25M",
         25e6, "EUR"},
        {"EUR 25M", 25e6, "EUR"},
        {"25 Mio", 25e6, ""},
        {"25 Mio. \xe2\x82\xac", 25e6, "EUR"},
        {"$1.2B", 1.2e9, "USD"},
        {"1.2 bn", 1.2e9, ""},
        {"\xc2\xa3"
         "3.5m",
         3.5e6, "GBP"},
        {"25.000.000", 25e6, ""},
        {"2,5 Mio", 2.5e6, ""},
        {"3 Mrd. CHF", 3e9, "CHF"},
        {"USD 35,000,000", 35e6, "USD"},
        {"35000000", 35e6, ""},
        {"40M DKK", 40e6, "DKK"},
        {"$10-50M", 30e6, "USD"},
        /* continental units take continental numbers: "." groups thousands */
        {"1.500 Mio. \xe2\x82\xac", 1.5e9, "EUR"},
        {"2.500 Tsd. EUR", 2.5e6, "EUR"},
        {"1.500,5 Mio", 1.5005e9, ""},
        {"1.5M", 1.5e6, ""},
        /* German Excel's currency format: "." groups thousands, "," before the cents */
        {"\xe2\x82\xac 250.000,00", 250000, "EUR"},
        {"1.234.567,89 \xe2\x82\xac", 1234567.89, "EUR"},
        {"12.500,5 CHF", 12500.5, "CHF"},
        {"$1,234,567.89", 1234567.89, "USD"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        double v = -1;
        char cur[4] = "x";
        if (sa_parse_revenue(ok[i].text, &v, cur) != 0)
            fail_msg("refused %s", ok[i].text);
        if (v != ok[i].amount)
            fail_msg("%s: %f, expected %f", ok[i].text, v, ok[i].amount);
        assert_string_equal(cur, ok[i].currency);
    }
    static const char *const bad[] = {"25.000",       "$25M EUR", "EUR",      "25 Mio Mio",
                                      "\xe2\x82\xac", "1.23,45",  "1,234.5,6"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v;
        char cur[4];
        if (sa_parse_revenue(bad[i], &v, cur) == 0)
            fail_msg("accepted %s as %f %s", bad[i], v, cur);
    }
    /* through the lead: the text stays as typed, the currency is added, a contradicting
     * revenue_currency is refused */
    json_t *in = json_pack("{s:s, s:s}", "company_name", "Eurofirm", "annual_revenue", "EUR 25M");
    json_t *detail = json_array();
    struct sa_lead lead;
    assert_int_equal(sa_lead_parse(in, "", &lead, detail), 0);
    assert_true(lead.annual_revenue == 25e6);
    assert_string_equal(json_string_value(json_object_get(in, "revenue_currency")), "EUR");
    assert_string_equal(json_string_value(json_object_get(in, "annual_revenue")), "EUR 25M");
    sa_lead_clear(&lead);
    json_decref(in);
    in = json_pack("{s:s, s:s, s:s}", "company_name", "Eurofirm", "annual_revenue", "EUR 25M",
                   "revenue_currency", "USD");
    assert_int_equal(sa_lead_parse(in, "", &lead, detail), SA_EINVAL);
    assert_string_equal(json_string_value(json_object_get(json_array_get(detail, 0), "type")),
                        "value_error");
    json_decref(in);
    json_decref(detail);
}

/* A flat record (a CRM's or a web form's shape) keeps its contact: the contact fields at
 * the top level move into contact_info, first and last name make its name. */
static void test_flat_contact_fields(void **state)
{
    (void)state;
    json_t *in =
        json_loads("{\"company_name\": \"M\u00fcller GmbH\", \"first_name\": \" J\u00fcrgen \","
                   " \"last_name\": \"Wei\u00df\", \"email\": \"j.weiss@mueller-gmbh.de\","
                   " \"job_title\": \"Leiter Vertrieb\", \"phone\": \"+49 89 1234567\","
                   " \"lead_source\": \"Messe\"}",
                   0, NULL);
    assert_non_null(in);
    json_t *detail = json_array();
    struct sa_lead lead;
    assert_int_equal(sa_lead_parse(in, "", &lead, detail), 0);
    assert_string_equal(lead.contact_email, "j.weiss@mueller-gmbh.de");
    assert_string_equal(lead.contact_name, "J\u00fcrgen Wei\u00df");
    assert_string_equal(lead.contact_title, "Leiter Vertrieb");
    assert_string_equal(lead.contact_phone, "+49 89 1234567");
    /* moved, not copied: the stored input says it once; other fields stay as given */
    assert_null(json_object_get(in, "email"));
    assert_null(json_object_get(in, "first_name"));
    assert_null(json_object_get(in, "job_title"));
    assert_string_equal(json_string_value(json_object_get(in, "lead_source")), "Messe");
    sa_lead_clear(&lead);
    json_decref(in);

    /* contact_info's own value wins; the top-level one stays as given (a stored lead's
     * extra fields are parsed again on each update: never refused, never dropped) */
    in = json_loads(
        "{\"company_name\": \"Acme\", \"title\": \"Q3 inbound\", \"first_name\": \"Annie\","
        " \"contact_info\": {\"email\": \"ann@acme.io\", \"name\": \"Ann Lee\","
        " \"title\": \"CTO\"}, \"email\": \"Ann@Acme.io\"}",
        0, NULL);
    assert_int_equal(sa_lead_parse(in, "", &lead, detail), 0);
    assert_int_equal(json_array_size(detail), 0);
    assert_string_equal(lead.contact_title, "CTO");
    assert_string_equal(lead.contact_name, "Ann Lee");
    assert_string_equal(lead.contact_email, "ann@acme.io");
    assert_string_equal(json_string_value(json_object_get(in, "title")), "Q3 inbound");
    assert_string_equal(json_string_value(json_object_get(in, "first_name")), "Annie");
    assert_string_equal(json_string_value(json_object_get(in, "email")), "Ann@Acme.io");
    sa_lead_clear(&lead);
    json_decref(in);

    /* two aliases of one field: the first in the table wins, the other stays an extra;
     * names as other systems spell them; an empty one is no value */
    in =
        json_loads("{\"Company_Name\": \"x\", \"company_name\": \"Hubbard Tools\","
                   " \"work_email\": \"t.hubbard@hubbard-tools.com\","
                   " \"Email\": \"tom@hubbard-tools.com\", \"FirstName\": \"Tom\","
                   " \"lastname\": \"Hubbard\", \"JobTitle\": \"  \", \"Title\": \"Owner\","
                   " \"contact_info\": {\"phone\": \"\"}, \"Phone Number\": \"+1 (555) 010-2030\"}",
                   0, NULL);
    assert_int_equal(sa_lead_parse(in, "", &lead, detail), 0);
    assert_string_equal(lead.contact_email, "tom@hubbard-tools.com");
    assert_string_equal(json_string_value(json_object_get(in, "work_email")),
                        "t.hubbard@hubbard-tools.com");
    assert_string_equal(lead.contact_name, "Tom Hubbard");
    assert_string_equal(lead.contact_title, "Owner");
    assert_string_equal(json_string_value(json_object_get(in, "JobTitle")), "  ");
    assert_string_equal(lead.contact_phone, "+1 (555) 010-2030");
    assert_null(json_object_get(in, "FirstName"));
    assert_null(json_object_get(in, "lastname"));
    sa_lead_clear(&lead);
    json_decref(in);

    /* a moved value is validated like a nested one, and reported under its own name */
    in = json_pack("{s:s, s:s}", "company_name", "Acme", "E-mail", "not-an-address");
    assert_int_equal(sa_lead_parse(in, "body.input", &lead, detail), SA_EINVAL);
    assert_true(has_loc(detail, "[\"body\",\"input\",\"E-mail\"]"));
    json_decref(in);
    /* a non-string flat field is an extra field as given, a first name that is not text
     * is left, and contact_info as a string is still refused by its own check */
    json_array_clear(detail);
    in = json_pack("{s:s, s:i, s:i, s:s}", "company_name", "Acme", "phone", 5551234, "first_name",
                   5, "last_name", "Lee");
    assert_int_equal(sa_lead_parse(in, "", &lead, detail), 0);
    assert_null(lead.contact_phone);
    assert_string_equal(lead.contact_name, "Lee");
    assert_int_equal(json_integer_value(json_object_get(in, "first_name")), 5);
    sa_lead_clear(&lead);
    json_decref(in);
    in = json_pack("{s:s, s:s, s:s}", "company_name", "Acme", "contact_info", "ann@acme.io",
                   "email", "ann@acme.io");
    assert_int_equal(sa_lead_parse(in, "", &lead, detail), SA_EINVAL);
    assert_true(has_loc(detail, "[\"contact_info\"]"));
    assert_string_equal(json_string_value(json_object_get(in, "email")), "ann@acme.io");
    json_decref(in);
    json_decref(detail);
    assert_true(sa_lead_flat_contact_key("E-Mail"));
    assert_true(sa_lead_flat_contact_key("linkedin_url"));
    assert_false(sa_lead_flat_contact_key("email_2"));
    assert_false(sa_lead_flat_contact_key("company_name"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_company_size_forms),
        cmocka_unit_test(test_money_forms),
        cmocka_unit_test(test_email),
        cmocka_unit_test(test_phone_and_revenue_edges),
        cmocka_unit_test(test_parse_reports_every_field),
        cmocka_unit_test(test_parse_normalises_and_keeps_unknown),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_revenue_forms),
        cmocka_unit_test(test_location_fields),
        cmocka_unit_test(test_size_thousands_dot),
        cmocka_unit_test(test_flat_contact_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
