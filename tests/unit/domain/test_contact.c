/* Pins contact normalisation for enrichment: phones to E.164 by country, role mailboxes,
 * and the company domain from a corporate e-mail or the website (never a free-mail one). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "domain/contact.h"
#include "domain/lead.h"
#include "domain/scoring.h"

static void test_e164(void **state)
{
    (void)state;
    char out[24];
    assert_true(sa_phone_e164("+1 (415) 555-0134", NULL, out, sizeof out));
    assert_string_equal(out, "+14155550134");
    assert_true(sa_phone_e164("(415) 555-0134", "US", out, sizeof out));
    assert_string_equal(out, "+14155550134");
    assert_true(sa_phone_e164("020 7946 0018", "GB", out, sizeof out));
    assert_string_equal(out, "+442079460018");
    assert_true(sa_phone_e164("0044 20 7946 0018", NULL, out, sizeof out));
    assert_string_equal(out, "+442079460018");
    assert_true(sa_phone_e164("+1 415 555 0134 ext. 12", NULL, out, sizeof out));
    assert_string_equal(out, "+14155550134");
    /* "(0)": the trunk prefix written into an international number, dropped (it made
     * +49 (0)30 1234567 the wrong number +490301234567) */
    assert_true(sa_phone_e164("+49 (0)30 1234567", NULL, out, sizeof out));
    assert_string_equal(out, "+49301234567");
    assert_true(sa_phone_e164("+44 (0)20 7946 0018", NULL, out, sizeof out));
    assert_string_equal(out, "+442079460018");
    assert_true(sa_phone_e164("0049 (0) 30 7654321", NULL, out, sizeof out));
    assert_string_equal(out, "+49307654321");
    /* the country as CRMs export it: an English or local name, not only the code */
    assert_true(sa_phone_e164("(415) 555-0100 x23", "United States", out, sizeof out));
    assert_string_equal(out, "+14155550100");
    assert_true(sa_phone_e164("0171 2345678", "Deutschland", out, sizeof out));
    assert_string_equal(out, "+491712345678");
    assert_true(sa_phone_e164("030 1234567", "germany", out, sizeof out));
    assert_string_equal(out, "+49301234567");
    assert_false(sa_phone_e164("555 0134", "US", out, sizeof out));     /* too short */
    assert_false(sa_phone_e164("415 555 0134", NULL, out, sizeof out)); /* no country */
}

static void test_roles_and_domain(void **state)
{
    (void)state;
    assert_true(sa_email_role_account("info@acme.io"));
    assert_true(sa_email_role_account("Sales@acme.io"));
    assert_false(sa_email_role_account("jane@acme.io"));
    /* German, Spanish... shared mailboxes, and a tagged one */
    assert_true(sa_email_role_account("vertrieb@kraftwerk.de"));
    assert_true(sa_email_role_account("Kontakt@kraftwerk.de"));
    assert_true(sa_email_role_account("ventas@acme.es"));
    assert_true(sa_email_role_account("sales+emea@acme.io"));
    assert_false(sa_email_role_account("jane+crm@acme.io"));
    assert_false(sa_email_role_account("infoteam.lead@acme.io"));
    struct sa_model *m = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_model_load(SA_SOURCE_DIR "/data", &m, &err), 0);
    json_t *in =
        json_pack("{s:s, s:s, s:{s:s}}", "company_name", "Acme", "website",
                  "https://www.Acme-Cloud.io/about", "contact_info", "email", "jane@gmail.com");
    json_t *detail = json_array();
    struct sa_lead l;
    assert_int_equal(sa_lead_parse(in, "", &l, detail), 0);
    char dom[64];
    assert_string_equal(sa_lead_domain(&l, m, dom, sizeof dom), "website");
    assert_string_equal(dom, "acme-cloud.io");
    json_t *c = sa_contact_check(&l, m, "US");
    assert_true(json_is_true(json_object_get(json_object_get(c, "email"), "free_mail")));
    json_decref(c);
    sa_lead_clear(&l);
    json_decref(in);
    json_decref(detail);
    sa_model_free(m);
}

/* The name a greeting uses, from full names as CRMs export them. */
static void test_first_name(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want; /* want NULL: no name to greet by */
    } cases[] = {
        {"Maya Okafor", "Maya"},
        {"Mr. John Smith", "John"},
        {"Prof. Dr. Anna Schmidt", "Anna"},
        {"SMITH, John", "John"},
        {"dr. hans-peter Ulm", "hans-peter"},
        {"JOHN SMITH", "John"},
        {"Zoë Müller", "Zoë"},
        {"Mme Claire Dubois", "Claire"},
        {"J. Smith", NULL},
        {"Mr.", NULL},
        {"", NULL},
        {"   ", NULL},
        {"Herr Dr. Jens Krüger", "Jens"},
        {"Sra. Lucía Gómez", "Lucía"},
        {"John Smith, Jr.", "John"}, /* a suffix after the comma, not a given name */
        {"Robert Meyer, PhD", "Robert"},
        {"Smith, Jr.", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        bool ok = sa_contact_first_name(cases[i].in, out, sizeof out);
        if (!cases[i].want) {
            if (ok)
                fail_msg("%s: expected no name, got \"%s\"", cases[i].in, out);
            continue;
        }
        if (!ok || strcmp(out, cases[i].want) != 0)
            fail_msg("%s: expected %s, got %s", cases[i].in, cases[i].want, ok ? out : "none");
    }
    assert_false(sa_contact_first_name(NULL, (char[8]){0}, 8));
}

/* The form a shared mailbox's names are compared in: folded, blanks collapsed, leading
 * titles dropped; a title alone and an initial "M" kept. */
static void test_name_key(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"Anna Schmidt", "anna schmidt"},
        {"Dr. Anna  Schmidt", "anna schmidt"},
        {"  ANNA\tSCHMIDT ", "anna schmidt"},
        {"Frau Dr. Anna Schmidt", "anna schmidt"},
        {"Herr Jonas Weber", "jonas weber"},
        {"Prof. Dr. Jürgen Müller", "jurgen muller"},
        {"Mr. John Smith", "john smith"},
        {"Mrs Jane Doe", "jane doe"},
        {"Ms. Jane Doe", "jane doe"},
        {"M. Jean Dupont", "jean dupont"},
        {"Mme Claire Martin", "claire martin"},
        {"M Schulz", "m schulz"},
        {"Dr.", "dr."},
        {"Peter Dr. Schmidt", "peter dr. schmidt"},
        {"", ""},
        {"   ", ""},
        /* "Last, First" as CRM exports and address books write it */
        {"Schmidt, Anna", "anna schmidt"},
        {"SCHMIDT,Anna", "anna schmidt"},
        {"Müller, Hans-Peter", "hans-peter muller"},
        {"Schmidt, Dr. Anna", "anna schmidt"},
        {"Dr. Schmidt, Anna", "anna schmidt"},
        {"van der Berg, Jan", "jan van der berg"},
        {"O'Brien, Siobhán", "siobhan o'brien"},
        {"Dupont, M. Jean", "jean dupont"},
        {"Smith, John Q.", "john q. smith"},
        /* not a name turned round: more than one comma, a suffix, a company */
        {"Schmidt, Anna, Dr.", "schmidt, anna, dr."},
        {"Smith, Jr.", "smith, jr."},
        {"Meyer, PhD", "meyer, phd"},
        {"Schmidt, Dr.", "schmidt, dr."},
        {"Acme, Inc.", "acme, inc."},
        {"Schmidt & Partner, Berlin", "schmidt & partner, berlin"},
        {"Müller, Meyer GmbH", "muller, meyer gmbh"},
        {"Team 2, Sales", "team 2, sales"},
        {"Schmidt,", "schmidt,"},
        {", Anna", ", anna"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        if (!sa_contact_name_key(cases[i].in, out, sizeof out) || strcmp(out, cases[i].want) != 0)
            fail_msg("\"%s\": expected \"%s\", got \"%s\"", cases[i].in, cases[i].want, out);
    }
    char out[8] = "x";
    assert_true(sa_contact_name_key(NULL, out, sizeof out));
    assert_string_equal(out, "");
    assert_false(sa_contact_name_key("Maximilian Schmidt", out, sizeof out));
    assert_string_equal(out, "");
    assert_false(sa_contact_name_key("Schmidt, Maximilian", out, sizeof out));
    assert_string_equal(out, "");
}

/* Salutations that state a gender tell two people of one name apart; none is no
 * difference, and a title that states no gender (Dr., Prof.) is none. */
static void test_salutation(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        char want;
    } cases[] = {
        {"Herr Müller", 'm'},
        {"Frau Müller", 'f'},
        {"Hr. Müller", 'm'},
        {"Fr. Müller", 'f'},
        {"Mr. John Smith", 'm'},
        {"Mrs Smith", 'f'},
        {"Ms. Jane Doe", 'f'},
        {"M. Jean Dupont", 'm'},
        {"Mme Dupont", 'f'},
        {"Sr. García", 'm'},
        {"Sra. García", 'f'},
        {"Frau Dr. Anna Schmidt", 'f'},
        {"Dr. Müller", 0},
        {"Prof. Dr. Jürgen Müller", 0},
        {"Müller", 0},
        {"M Schulz", 0},
        {"Herr", 0},
        {"Müller, Frau Anna", 'f'},
        {"Herrmann Müller", 0},
        {NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (sa_contact_salutation(cases[i].in) != cases[i].want)
            fail_msg("\"%s\": expected '%c', got '%c'", cases[i].in ? cases[i].in : "(null)",
                     cases[i].want ? cases[i].want : '0',
                     sa_contact_salutation(cases[i].in) ? sa_contact_salutation(cases[i].in) : '0');
    assert_false(sa_contact_same_person("Herr Müller", "Frau Müller"));
    assert_false(sa_contact_same_person("Mr. Smith", "Mrs. Smith"));
    assert_false(sa_contact_same_person("Sr. García", "Sra. Garcia"));
    assert_false(sa_contact_same_person("M. Dupont", "Mme Dupont"));
    assert_true(sa_contact_same_person("Frau Müller", "Müller"));
    assert_true(sa_contact_same_person("Müller", "Herr Müller"));
    assert_true(sa_contact_same_person("Frau Müller", "Fr. Muller"));
    assert_true(sa_contact_same_person("Frau Dr. Anna Schmidt", "Schmidt, Anna"));
    assert_true(sa_contact_same_person("Dr. Müller", "Herr Müller"));
    assert_false(sa_contact_same_person("Herr Müller", "Herr Meyer"));
    /* a CRM export's salutation column, when the name has none */
    json_t *mr = json_pack("{s:s}", "salutation", "Mr.");
    json_t *frau = json_pack("{s:s}", "anrede", "Frau Dr.");
    json_t *blank = json_pack("{s:s}", "salutation", "");
    assert_int_equal(sa_contact_gender("Müller", mr), 'm');
    assert_int_equal(sa_contact_gender("Müller", frau), 'f');
    assert_int_equal(sa_contact_gender("Frau Müller", mr), 'f'); /* the name's wins */
    assert_int_equal(sa_contact_gender("Müller", blank), 0);
    assert_int_equal(sa_contact_gender("Müller", NULL), 0);
    assert_false(sa_contact_same_person_as("Müller", 'm', "Müller", 'f'));
    assert_true(sa_contact_same_person_as("Müller", 0, "Herr Müller", 'm'));
    json_decref(mr);
    json_decref(frau);
    json_decref(blank);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_e164), cmocka_unit_test(test_roles_and_domain),
        cmocka_unit_test(test_first_name), cmocka_unit_test(test_name_key),
        cmocka_unit_test(test_salutation)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
