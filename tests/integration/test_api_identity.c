/* Integration tests of the identity rule (docs/leads.md) over the API: import and invoke
 * both decide "the same lead" by the normalised e-mail, fall back to company, domain and
 * contact name only for rows without one, and share a company record by domain; the
 * import report accounts for every row. One server, empty database (harness.h). */
#include "harness.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* POSTs csv to the import and returns its 200 report (fails the test otherwise). */
static json_t *import(const char *csv, struct resp *r)
{
    http("POST", "/api/leads/import", "text/csv", csv, strlen(csv), r);
    if (r->status != 200)
        fail_msg("import: %ld %.400s", r->status, r->body);
    json_t *j = json_loadb(r->body, r->len, 0, NULL);
    assert_non_null(j);
    return j;
}

static long num(json_t *j, const char *path)
{
    json_t *v = jget(j, path);
    if (!json_is_integer(v))
        fail_msg("%s is not an integer in %.300s", path, json_dumps(j, JSON_COMPACT));
    return (long)json_integer_value(v);
}

/* rows = created + updated + merged_in_file + skipped + failed, and one lead entry per
 * row that is neither skipped nor failed. */
static void assert_accounted(json_t *rep)
{
    long rows = num(rep, "rows");
    assert_int_equal(rows, num(rep, "created") + num(rep, "updated") + num(rep, "merged_in_file") +
                               num(rep, "skipped") + num(rep, "failed"));
    assert_int_equal((long)json_array_size(json_object_get(rep, "leads")),
                     num(rep, "created") + num(rep, "updated") + num(rep, "merged_in_file"));
}

static json_t *get_lead(const char *id, struct resp *r)
{
    char *path = strf("/api/leads/%s", id);
    json_t *lead = http_json("GET", path, NULL, r);
    free(path);
    assert_int_equal(r->status, 200);
    return lead;
}

/* The reported bug: three colleagues at Helio Robotics import fine; a later HubSpot file
 * with a fourth colleague (another e-mail at the same domain) must create her lead, not
 * fold her into the CEO's and erase the CEO's name and e-mail. All four share one company
 * record keyed by heliorobotics.com. */
static void test_helio_colleagues(void **state)
{
    (void)state;
    const char first[] =
        "\xEF\xBB\xBF"
        "First Name,Last Name,Email,Job Title,Company Name,Website URL,Industry,Number of "
        "Employees\r\n"
        "Ingrid,Sørensen,ingrid.sorensen@heliorobotics.com,CEO,Helio Robotics,"
        "https://www.heliorobotics.com,Robotics,320\r\n"
        "Tomás,Ferreira,tomas.ferreira@heliorobotics.com,CTO,Helio Robotics,"
        "https://www.heliorobotics.com,Robotics,320\r\n"
        "Priya,Raman,priya.raman@heliorobotics.com,\"VP Sales, EMEA\",Helio Robotics,"
        "https://www.heliorobotics.com,Robotics,320\r\n";
    long before = leads_total();
    struct resp r;
    json_t *rep = import(first, &r);
    resp_free(&r);
    assert_int_equal(num(rep, "created"), 3);
    assert_accounted(rep);
    char *ceo = strdup(jstr(rep, "leads.0.lead_id"));
    json_decref(rep);

    const char later[] = "First Name,Last Name,Email,Job Title,Company Name\r\n"
                         "Dan,Ortiz,dan.ortiz@heliorobotics.com,Head of Operations,"
                         "Helio Robotics\r\n";
    rep = import(later, &r);
    resp_free(&r);
    assert_int_equal(num(rep, "created"), 1);
    assert_int_equal(num(rep, "updated"), 0);
    assert_string_equal(jstr(rep, "leads.0.action"), "created");
    assert_string_not_equal(jstr(rep, "leads.0.lead_id"), ceo);
    assert_accounted(rep);
    char *dan = strdup(jstr(rep, "leads.0.lead_id"));
    json_decref(rep);
    assert_int_equal(leads_total(), before + 4);

    json_t *l = get_lead(ceo, &r);
    assert_string_equal(jstr(l, "contact_info.name"), "Ingrid Sørensen");
    assert_string_equal(jstr(l, "contact_info.email"), "ingrid.sorensen@heliorobotics.com");
    assert_string_equal(jstr(l, "contact_info.title"), "CEO");
    assert_string_equal(jstr(l, "company.domain"), "heliorobotics.com");
    char *company = strdup(jstr(l, "company.id"));
    resp_free(&r);
    l = get_lead(dan, &r);
    assert_string_equal(jstr(l, "contact_info.name"), "Dan Ortiz");
    assert_string_equal(jstr(l, "company.id"), company);
    resp_free(&r);
    free(company);
    free(ceo);
    free(dan);
}

/* A Salesforce-style report with a BOM and CRLF: the same person twice with the e-mail in
 * another case folds into the first row (merged_in_file, naming both rows), a blank line
 * is skipped, a bad row fails with partial=true, and every row is accounted for. */
static void test_in_file_duplicates(void **state)
{
    (void)state;
    const char csv[] = "\xEF\xBB\xBF"
                       "\"Account Name\",\"Full Name\",\"Email\",\"Title\",\"Phone\"\r\n"
                       "\"Kühne Präzision AG\",\"Zoë Müller\",\"Zoe.Mueller@kuehne-praezision.de\","
                       "\"Leiterin Einkauf\",\"\"\r\n"
                       ",,,,\r\n"
                       "\"Kühne Präzision AG\",\"Zoë Müller\",\" zoe.mueller@KUEHNE-praezision.de"
                       "\",\"\",\"+49 89 1234 5678\"\r\n"
                       "\"Kühne Präzision AG\",\"Jonas Becker\",\"not-an-email\",\"Buyer\",\"\"\r\n"
                       "\"Kühne Präzision AG\",\"Jonas Becker\",\"jonas.becker@kuehne-praezision.de"
                       "\",\"Buyer\",\"\"\r\n";
    long before = leads_total();
    struct resp r;
    http("POST", "/api/leads/import?partial=true", "text/csv", csv, strlen(csv), &r);
    if (r.status != 200)
        fail_msg("import: %ld %.400s", r.status, r.body);
    json_t *rep = json_loadb(r.body, r.len, 0, NULL);
    resp_free(&r);
    assert_int_equal(num(rep, "rows"), 5);
    assert_int_equal(num(rep, "created"), 2);
    assert_int_equal(num(rep, "merged_in_file"), 1);
    assert_int_equal(num(rep, "skipped"), 1);
    assert_int_equal(num(rep, "failed"), 1);
    assert_int_equal(num(rep, "skipped_rows.0"), 2);
    assert_int_equal(num(rep, "errors.0.row"), 4);
    assert_accounted(rep);
    assert_int_equal(leads_total(), before + 2);
    /* the first lead names row 3 as folded into it, and row 3 says where it went */
    json_t *leads = json_object_get(rep, "leads");
    json_t *zoe = NULL, *folded = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(leads, i, e)
    {
        if (json_integer_value(json_object_get(e, "row")) == 1)
            zoe = e;
        if (json_integer_value(json_object_get(e, "row")) == 3)
            folded = e;
    }
    assert_non_null(zoe);
    assert_non_null(folded);
    assert_string_equal(jstr(zoe, "action"), "created");
    assert_int_equal(num(zoe, "merged_rows.0"), 3);
    assert_string_equal(jstr(folded, "action"), "merged_in_file");
    assert_int_equal(num(folded, "into_row"), 1);
    assert_string_equal(jstr(folded, "lead_id"), jstr(zoe, "lead_id"));
    json_t *l = get_lead(jstr(zoe, "lead_id"), &r);
    assert_string_equal(jstr(l, "contact_info.name"), "Zoë Müller");
    assert_string_equal(jstr(l, "contact_info.title"), "Leiterin Einkauf");
    assert_string_equal(jstr(l, "contact_info.phone"), "+49 89 1234 5678");
    resp_free(&r);
    json_decref(rep);
}

/* true when the JSON array of strings arr holds s */
static bool has_string(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

/* A HubSpot export with one person as two records (two record ids, two notes): one lead,
 * the later row's values win, and the report says which fields of the earlier row the
 * later one replaced, so that the first note is not lost without a word. A row that
 * repeats the same values replaces nothing. */
static void test_in_file_replaced(void **state)
{
    (void)state;
    const char csv[] = "Record ID,First Name,Last Name,Email,Job Title,Company Name,Notes\r\n"
                       "1001,Anna,Müller,anna.mueller@kraftwerk-werke.de,Head of Sales,Kraftwerk "
                       "Werke GmbH,\"Met at DMEXCO.\nWants a demo in Q2\"\r\n"
                       "1002,Peter,Schmidt,peter.schmidt@kraftwerk-werke.de,CFO,Kraftwerk Werke "
                       "GmbH,\r\n"
                       "1003,Anna,Müller,anna.mueller@kraftwerk-werke.de,Head of Sales,Kraftwerk "
                       "Werke GmbH,Asked for pricing\r\n"
                       "1002,Peter,Schmidt,peter.schmidt@kraftwerk-werke.de,CFO,Kraftwerk Werke "
                       "GmbH,\r\n";
    struct resp r;
    json_t *rep = import(csv, &r);
    resp_free(&r);
    assert_int_equal(num(rep, "created"), 2);
    assert_int_equal(num(rep, "merged_in_file"), 2);
    assert_accounted(rep);
    json_t *third = NULL, *fourth = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(rep, "leads"), i, e)
    {
        if (json_integer_value(json_object_get(e, "row")) == 3)
            third = e;
        if (json_integer_value(json_object_get(e, "row")) == 4)
            fourth = e;
    }
    assert_non_null(third);
    assert_non_null(fourth);
    assert_string_equal(jstr(third, "action"), "merged_in_file");
    json_t *replaced = json_object_get(third, "replaced");
    if (json_array_size(replaced) != 2 || !has_string(replaced, "notes") ||
        !has_string(replaced, "record_id"))
        fail_msg("row 3 replaced: %s", json_dumps(replaced, JSON_COMPACT));
    assert_null(json_object_get(fourth, "replaced"));
    json_t *l = get_lead(jstr(third, "lead_id"), &r);
    assert_string_equal(jstr(l, "data.notes"), "Asked for pricing");
    assert_string_equal(jstr(l, "data.record_id"), "1003");
    resp_free(&r);
    json_decref(rep);
}

/* Rows without an e-mail: the same company, domain (website, any form) and contact name
 * update the stored lead; the same company name at another domain, or onto a lead that
 * has an e-mail, is a new lead. */
static void test_without_email(void **state)
{
    (void)state;
    const char first[] = "Company,Contact Name,Website,Country\n"
                         "Nordlicht Logistik GmbH,Jürgen Weiß,nordlicht-logistik.de,DE\n";
    struct resp r;
    json_t *rep = import(first, &r);
    resp_free(&r);
    assert_int_equal(num(rep, "created"), 1);
    char *id = strdup(jstr(rep, "leads.0.lead_id"));
    json_decref(rep);

    const char again[] = "Company,Contact Name,Website,Phone\n"
                         "NORDLICHT LOGISTIK GMBH,jürgen weiß,https://www.nordlicht-logistik.de/"
                         "kontakt,+49 40 555 0199\n";
    rep = import(again, &r);
    resp_free(&r);
    assert_int_equal(num(rep, "updated"), 1);
    assert_int_equal(num(rep, "created"), 0);
    assert_string_equal(jstr(rep, "leads.0.action"), "updated");
    assert_string_equal(jstr(rep, "leads.0.lead_id"), id);
    json_decref(rep);
    json_t *l = get_lead(id, &r);
    assert_string_equal(jstr(l, "contact_info.phone"), "+49 40 555 0199");
    assert_string_equal(jstr(l, "country"), "DE");
    resp_free(&r);

    /* a person with an e-mail at acme-analytics.io; then rows without one: the same
     * company name at another domain, and the same company and domain */
    const char person[] = "Company,Email,Name\n"
                          "Acme Analytics,grace.okafor@acme-analytics.io,Grace Okafor\n";
    rep = import(person, &r);
    resp_free(&r);
    char *grace = strdup(jstr(rep, "leads.0.lead_id"));
    json_decref(rep);
    long before = leads_total();
    const char others[] = "Company,Website,Name\n"
                          "Acme Analytics,acmeanalytics.co.uk,Grace Okafor\n"
                          "Acme Analytics,acme-analytics.io,Grace Okafor\n";
    rep = import(others, &r);
    resp_free(&r);
    assert_int_equal(num(rep, "created"), 2);
    assert_int_equal(num(rep, "updated"), 0);
    assert_string_not_equal(jstr(rep, "leads.0.lead_id"), grace);
    assert_string_not_equal(jstr(rep, "leads.1.lead_id"), grace);
    assert_accounted(rep);
    json_decref(rep);
    assert_int_equal(leads_total(), before + 2);
    l = get_lead(grace, &r);
    assert_string_equal(jstr(l, "contact_info.email"), "grace.okafor@acme-analytics.io");
    resp_free(&r);
    free(grace);
    free(id);
}

/* The id of the report's lead entry for row, NULL when there is none. */
static const char *row_lead(json_t *rep, long row)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(rep, "leads"), i, e)
    {
        if (json_integer_value(json_object_get(e, "row")) == row)
            return jstr(e, "lead_id");
    }
    return NULL;
}

/* A HubSpot export where two people at one company share info@ (the CFO and the office
 * manager): two leads, each with their own name and title, not the CFO folded into the
 * office manager. The same person twice (e-mail in capitals) is one lead. Importing the
 * file again updates the three leads, and an invoke for the CFO by the shared mailbox
 * finds the CFO's lead. */
static void test_shared_mailbox(void **state)
{
    (void)state;
    const char csv[] = "\xEF\xBB\xBF"
                       "First Name,Last Name,Email,Job Title,Company Name,Website URL\r\n"
                       "Peter,Schmidt,info@kraftwerk-analytics.de,CFO,Kraftwerk Analytics GmbH,"
                       "kraftwerk-analytics.de\r\n"
                       "Maria,Schulz,Info@kraftwerk-analytics.de,Office Manager,Kraftwerk "
                       "Analytics GmbH,kraftwerk-analytics.de\r\n"
                       "Anna,Müller,anna.mueller@kraftwerk-analytics.de,Head of Sales,Kraftwerk "
                       "Analytics GmbH,\r\n"
                       "Anna,Müller,ANNA.MUELLER@kraftwerk-analytics.de,,Kraftwerk Analytics GmbH,"
                       "\r\n";
    long before = leads_total();
    struct resp r;
    json_t *rep = import(csv, &r);
    resp_free(&r);
    assert_int_equal(num(rep, "created"), 3);
    assert_int_equal(num(rep, "merged_in_file"), 1);
    assert_accounted(rep);
    assert_int_equal(leads_total(), before + 3);
    char *peter = strdup(row_lead(rep, 1)), *maria = strdup(row_lead(rep, 2));
    assert_string_not_equal(peter, maria);
    assert_string_equal(row_lead(rep, 4), row_lead(rep, 3));
    json_decref(rep);
    json_t *l = get_lead(peter, &r);
    assert_string_equal(jstr(l, "contact_info.name"), "Peter Schmidt");
    assert_string_equal(jstr(l, "contact_info.title"), "CFO");
    resp_free(&r);
    l = get_lead(maria, &r);
    assert_string_equal(jstr(l, "contact_info.name"), "Maria Schulz");
    assert_string_equal(jstr(l, "contact_info.title"), "Office Manager");
    resp_free(&r);

    rep = import(csv, &r);
    resp_free(&r);
    assert_int_equal(num(rep, "created"), 0);
    assert_int_equal(num(rep, "updated"), 3);
    assert_string_equal(row_lead(rep, 1), peter);
    assert_string_equal(row_lead(rep, 2), maria);
    json_decref(rep);
    assert_int_equal(leads_total(), before + 3);

    json_t *j = invoke("{\"agent_type\": \"qualification\", \"input\": {\"company_name\": "
                       "\"Kraftwerk Analytics GmbH\", \"contact_info\": {\"name\": \"peter "
                       "schmidt\", \"email\": \"INFO@kraftwerk-analytics.de\"}}}",
                       &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "action"), "updated");
    assert_string_equal(jstr(j, "lead_id"), peter);
    resp_free(&r);
    assert_int_equal(leads_total(), before + 3);
    free(peter);
    free(maria);
}

/* POSTs a qualification invoke for Kraftwerk Test GmbH by the shared mailbox with
 * contact_info fields (JSON members, "" for none) and returns its lead id (new string)
 * after checking the answer's action. */
static char *mailbox_invoke(const char *email, const char *contact, const char *action)
{
    char *body = strf("{\"agent_type\": \"qualification\", \"input\": {\"company_name\": "
                      "\"Kraftwerk Test GmbH\", \"industry\": \"Energy\", \"contact_info\": "
                      "{\"email\": \"%s\"%s%s}}}",
                      email, contact[0] ? ", " : "", contact);
    struct resp r;
    json_t *j = invoke(body, &r);
    free(body);
    if (r.status != 200)
        fail_msg("invoke %s: %ld %.300s", contact, r.status, r.body);
    if (strcmp(jstr(j, "action"), action) != 0)
        fail_msg("invoke %s: %s, not %s", contact, jstr(j, "action"), action);
    char *id = strdup(jstr(j, "lead_id"));
    resp_free(&r);
    return id;
}

/* The reviewer's case: one person at a shared mailbox (kontakt@) invoked first without a
 * name, then as "Anna Schmidt", then as "Dr. Anna  Schmidt" is one lead (the unnamed lead
 * takes the name; the title, case and blanks do not tell people apart), and an invoke
 * without a name again finds it, the mailbox's only lead. A colleague by another name is
 * a second lead ("Herr Jonas Weber" is Jonas Weber); an invoke without a name then finds
 * the earliest lead, Anna's. */
static void test_mailbox_one_person(void **state)
{
    (void)state;
    const char *mail = "kontakt@kraftwerk-test.de";
    long before = leads_total();
    char *anna = mailbox_invoke(mail, "", "created");
    char *id = mailbox_invoke("Kontakt@kraftwerk-test.de", "\"name\": \"Anna Schmidt\"", "updated");
    assert_string_equal(id, anna);
    free(id);
    struct resp r;
    json_t *l = get_lead(anna, &r);
    assert_string_equal(jstr(l, "contact_info.name"), "Anna Schmidt");
    resp_free(&r);
    id = mailbox_invoke(mail, "\"name\": \"Dr. Anna  Schmidt\", \"title\": \"CFO\"", "updated");
    assert_string_equal(id, anna);
    free(id);
    id = mailbox_invoke(mail, "\"name\": \"ANNA SCHMIDT\"", "updated");
    assert_string_equal(id, anna);
    free(id);
    id = mailbox_invoke(mail, "\"phone\": \"+49 30 1234567\"", "updated");
    assert_string_equal(id, anna);
    free(id);
    assert_int_equal(leads_total(), before + 1);
    l = get_lead(anna, &r);
    assert_string_equal(jstr(l, "contact_info.name"), "ANNA SCHMIDT");
    assert_string_equal(jstr(l, "contact_info.title"), "CFO");
    resp_free(&r);

    char *jonas = mailbox_invoke(mail, "\"name\": \"Jonas Weber\"", "created");
    assert_string_not_equal(jonas, anna);
    id = mailbox_invoke(mail, "\"name\": \"Herr Jonas Weber\"", "updated");
    assert_string_equal(id, jonas);
    free(id);
    id = mailbox_invoke(mail, "", "updated");
    assert_string_equal(id, anna);
    free(id);
    assert_int_equal(leads_total(), before + 2);
    free(jonas);
    free(anna);
}

/* The same rule within one import file: a shared mailbox's row without a name, then
 * "Anna Schmidt", then "Dr. Anna Schmidt" are one lead; "Jonas Weber" is another, and a
 * later row without a name joins the first (Anna's). */
static void test_mailbox_in_file(void **state)
{
    (void)state;
    const char csv[] = "First Name,Last Name,Email,Job Title,Company Name\r\n"
                       ",,vertrieb@solarpark-test.de,,Solarpark Test GmbH\r\n"
                       "Anna,Schmidt,vertrieb@solarpark-test.de,CFO,Solarpark Test GmbH\r\n"
                       "Dr. Anna,Schmidt,Vertrieb@solarpark-test.de,,Solarpark Test GmbH\r\n"
                       "Jonas,Weber,vertrieb@solarpark-test.de,Einkauf,Solarpark Test GmbH\r\n"
                       ",,vertrieb@solarpark-test.de,,Solarpark Test GmbH\r\n";
    long before = leads_total();
    struct resp r;
    json_t *rep = import(csv, &r);
    resp_free(&r);
    assert_int_equal(num(rep, "created"), 2);
    assert_int_equal(num(rep, "merged_in_file"), 3);
    assert_accounted(rep);
    assert_int_equal(leads_total(), before + 2);
    assert_string_equal(row_lead(rep, 2), row_lead(rep, 1));
    assert_string_equal(row_lead(rep, 3), row_lead(rep, 1));
    assert_string_equal(row_lead(rep, 5), row_lead(rep, 1));
    assert_string_not_equal(row_lead(rep, 4), row_lead(rep, 1));
    json_t *l = get_lead(row_lead(rep, 1), &r);
    assert_string_equal(jstr(l, "contact_info.name"), "Dr. Anna Schmidt");
    assert_string_equal(jstr(l, "contact_info.title"), "CFO");
    resp_free(&r);
    json_decref(rep);
}

/* A stored lead on a shared mailbox without a name, then a file with two named people on
 * that mailbox (second review: the import stopped with "rows 2 and 3 are the same stored
 * lead: merge them in the file"): the first takes the stored lead and its name, the
 * second is a new lead, as if invoked in file order. */
static void test_mailbox_unnamed_stored(void **state)
{
    (void)state;
    const char *mail = "info@windkraft-test.de";
    long before = leads_total();
    char *stored = mailbox_invoke(mail, "", "created");
    const char csv[] = "First Name,Last Name,Email,Job Title,Company Name\r\n"
                       "Petra,Lang,info@windkraft-test.de,CEO,Windkraft Test GmbH\r\n"
                       "Olaf,Brandt,info@windkraft-test.de,Einkauf,Windkraft Test GmbH\r\n";
    struct resp r;
    json_t *rep = import(csv, &r);
    resp_free(&r);
    assert_accounted(rep);
    assert_string_equal(row_lead(rep, 1), stored);
    assert_string_not_equal(row_lead(rep, 2), stored);
    assert_int_equal(leads_total(), before + 2);
    json_t *l = get_lead(stored, &r);
    assert_string_equal(jstr(l, "contact_info.name"), "Petra Lang");
    resp_free(&r);
    json_decref(rep);
    free(stored);
}

/* A Salesforce report writes the contact "Last, First" ("Contact Name"), a HubSpot export
 * in two columns: on a shared mailbox "Schmidt, Anna" and Anna Schmidt are one person,
 * in one file and across files and invokes; "Weber, Jonas" stays another, and a name
 * with two commas is not turned round. */
static void test_mailbox_last_first(void **state)
{
    (void)state;
    long before = leads_total();
    const char sf[] = "\"Contact Name\",\"Title\",\"Email\",\"Account Name\",\"Lead Source\"\r\n"
                      "\"Schmidt, Anna\",\"CFO\",\"info@netzwerk-test.de\",\"Netzwerk Test "
                      "GmbH\",\"Web\"\r\n"
                      "\"Weber, Jonas\",\"Einkauf\",\"info@netzwerk-test.de\",\"Netzwerk Test "
                      "GmbH\",\"Web\"\r\n"
                      "\"Anna Schmidt\",\"\",\"INFO@netzwerk-test.de\",\"Netzwerk Test "
                      "GmbH\",\"Trade Show\"\r\n";
    struct resp r;
    json_t *rep = import(sf, &r);
    resp_free(&r);
    assert_accounted(rep);
    assert_int_equal(num(rep, "created"), 2);
    assert_int_equal(num(rep, "merged_in_file"), 1);
    assert_string_equal(row_lead(rep, 3), row_lead(rep, 1));
    assert_string_not_equal(row_lead(rep, 2), row_lead(rep, 1));
    char *anna = strdup(row_lead(rep, 1));
    json_decref(rep);
    const char hs[] = "\xEF\xBB\xBF"
                      "First Name,Last Name,Email,Job Title,Company Name\r\n"
                      "Anna,Schmidt,info@netzwerk-test.de,CFO,Netzwerk Test GmbH\r\n";
    rep = import(hs, &r);
    resp_free(&r);
    assert_int_equal(num(rep, "updated"), 1);
    assert_string_equal(row_lead(rep, 1), anna);
    json_decref(rep);
    char *id =
        mailbox_invoke("info@netzwerk-test.de", "\"name\": \"Schmidt, Dr. Anna\"", "updated");
    assert_string_equal(id, anna);
    free(id);
    id = mailbox_invoke("info@netzwerk-test.de", "\"name\": \"Schmidt, Anna, Dr.\"", "created");
    assert_string_not_equal(id, anna);
    free(id);
    assert_int_equal(leads_total(), before + 3);
    free(anna);
}

/* The trial's merge: "Herr Müller" and "Frau Müller" on one shared mailbox became one
 * lead (the titles are dropped, both are "müller"). A salutation that differs is two
 * people, a missing one is no difference, in invokes, within a Salesforce report's file
 * and between a file and the stored leads; a row without the salutation does not wipe
 * it from the lead (else the next "Frau Müller" would take Herr Müller's lead). */
static void test_mailbox_salutation(void **state)
{
    (void)state;
    long before = leads_total();
    const char *mail = "kontakt@stadtwerke-test.de";
    char *herr = mailbox_invoke(mail, "\"name\": \"Herr Müller\", \"title\": \"Geschäftsführer\"",
                                "created");
    char *frau = mailbox_invoke(mail, "\"name\": \"Frau Müller\"", "created");
    assert_string_not_equal(herr, frau);
    char *id =
        mailbox_invoke(mail, "\"name\": \"Müller\", \"phone\": \"+49 30 5550100\"", "updated");
    assert_string_equal(id, herr); /* the earliest of the name */
    free(id);
    struct resp r;
    json_t *l = get_lead(herr, &r);
    assert_string_equal(jstr(l, "contact_info.name"), "Herr Müller");
    resp_free(&r);
    id = mailbox_invoke(mail, "\"name\": \"Fr. Muller\"", "updated");
    assert_string_equal(id, frau);
    free(id);
    assert_int_equal(leads_total(), before + 2);

    /* one file: the plain row joins the first of the name (Herr Müller), "Frau Müller"
     * twice is one lead */
    const char sf[] = "\"Contact Name\",\"Title\",\"Email\",\"Account Name\"\r\n"
                      "\"Herr Müller\",\"Geschäftsführer\",\"info@klaerwerk-test.de\",\"Klärwerk "
                      "Test GmbH\"\r\n"
                      "\"Frau Müller\",\"Prokuristin\",\"info@klaerwerk-test.de\",\"Klärwerk Test "
                      "GmbH\"\r\n"
                      "\"Müller\",\"\",\"INFO@klaerwerk-test.de\",\"Klärwerk Test GmbH\"\r\n"
                      "\"Frau Müller\",\"\",\"info@klaerwerk-test.de\",\"Klärwerk Test GmbH\"\r\n";
    json_t *rep = import(sf, &r);
    resp_free(&r);
    assert_accounted(rep);
    assert_int_equal(num(rep, "created"), 2);
    assert_int_equal(num(rep, "merged_in_file"), 2);
    assert_string_not_equal(row_lead(rep, 2), row_lead(rep, 1));
    assert_string_equal(row_lead(rep, 3), row_lead(rep, 1));
    assert_string_equal(row_lead(rep, 4), row_lead(rep, 2));
    l = get_lead(row_lead(rep, 1), &r);
    assert_string_equal(jstr(l, "contact_info.name"), "Herr Müller");
    resp_free(&r);
    json_decref(rep);

    /* a plain row first: the next salutation names it, another is a new lead */
    const char hs[] = "First Name,Last Name,Email,Job Title,Company Name\r\n"
                      ",Müller,vertrieb@wasserwerk-test.de,,Wasserwerk Test GmbH\r\n"
                      "Frau,Müller,vertrieb@wasserwerk-test.de,Einkauf,Wasserwerk Test GmbH\r\n"
                      "Herr,Müller,vertrieb@wasserwerk-test.de,Technik,Wasserwerk Test GmbH\r\n";
    rep = import(hs, &r);
    resp_free(&r);
    assert_accounted(rep);
    assert_int_equal(num(rep, "created"), 2);
    assert_string_equal(row_lead(rep, 2), row_lead(rep, 1));
    assert_string_not_equal(row_lead(rep, 3), row_lead(rep, 1));
    json_decref(rep);

    /* a stored "Müller" and a file with both: the first takes it, the other is new */
    char *plain = mailbox_invoke("info@gaswerk-test.de", "\"name\": \"Müller\"", "created");
    const char both[] = "\"Contact Name\",\"Email\",\"Account Name\"\r\n"
                        "\"Frau Müller\",\"info@gaswerk-test.de\",\"Gaswerk Test GmbH\"\r\n"
                        "\"Herr Müller\",\"info@gaswerk-test.de\",\"Gaswerk Test GmbH\"\r\n";
    rep = import(both, &r);
    resp_free(&r);
    assert_accounted(rep);
    assert_string_equal(row_lead(rep, 1), plain);
    assert_string_not_equal(row_lead(rep, 2), plain);
    json_decref(rep);
    id = mailbox_invoke("info@gaswerk-test.de", "\"name\": \"Frau Müller\"", "updated");
    assert_string_equal(id, plain);
    free(id);
    /* Salesforce keeps the salutation in its own column: the same two people */
    const char sal[] = "\"Salutation\",\"First Name\",\"Last Name\",\"Title\",\"Email\",\"Account "
                       "Name\"\r\n"
                       "\"Herr\",\"\",\"Müller\",\"Technik\",\"info@heizwerk-test.de\",\"Heizwerk "
                       "Test GmbH\"\r\n"
                       "\"Frau\",\"\",\"Müller\",\"Einkauf\",\"info@heizwerk-test.de\",\"Heizwerk "
                       "Test GmbH\"\r\n";
    rep = import(sal, &r);
    resp_free(&r);
    assert_accounted(rep);
    assert_int_equal(num(rep, "created"), 2);
    char *sal_frau = strdup(row_lead(rep, 2));
    json_decref(rep);
    id = mailbox_invoke("info@heizwerk-test.de", "\"name\": \"Frau Müller\"", "updated");
    assert_string_equal(id, sal_frau);
    free(id);
    free(sal_frau);
    assert_int_equal(leads_total(), before + 2 + 2 + 2 + 2 + 2);
    free(plain);
    free(herr);
    free(frau);
}

/* HubSpot exports the address the CRM captured, sub-address and all (tom+hubspot@):
 * opted out there, the person is opted out at his mailbox (tom@), whichever address a
 * later file or the operator uses; the two addresses stay two leads (docs/leads.md,
 * "Sub-addresses"). */
static void test_subaddress_consent(void **state)
{
    (void)state;
    long before = leads_total();
    const char hs[] = "\xEF\xBB\xBF"
                      "First Name,Last Name,Email,Job Title,Company Name,Unsubscribed from all "
                      "email\r\n"
                      "Tom,Becker,tom+hubspot@quillon-test.io,CTO,Quillon Test GmbH,true\r\n";
    struct resp r;
    json_t *rep = import(hs, &r);
    resp_free(&r);
    assert_int_equal(num(rep, "created"), 1);
    char *tagged = strdup(row_lead(rep, 1));
    json_decref(rep);
    json_t *c = http_json("GET", "/api/contacts/tom@quillon-test.io", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(jget(c, "do_not_contact")));
    resp_free(&r);
    const char sf[] = "\"First Name\",\"Last Name\",\"Email\",\"Title\",\"Account Name\"\r\n"
                      "\"Tom\",\"Becker\",\"tom@quillon-test.io\",\"CTO\",\"Quillon Test "
                      "GmbH\"\r\n";
    rep = import(sf, &r);
    resp_free(&r);
    assert_int_equal(num(rep, "created"), 1);
    assert_string_not_equal(row_lead(rep, 1), tagged);
    json_decref(rep);
    assert_int_equal(leads_total(), before + 2);
    /* the operator opts out tom@ (another person's mailbox in the CRM): tom+news@ too */
    c = http_json("POST", "/api/contacts/lena@quillon-test.io/do-not-contact",
                  "{\"reason\": \"asked on the phone\"}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    c = http_json("GET", "/api/contacts/lena%2Bnews@quillon-test.io", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(jget(c, "do_not_contact")));
    resp_free(&r);
    free(tagged);
}

/* A trade-fair list imported onto one shared mailbox (team@): 230 people, more than one
 * page of the store's mailbox lookup (SA_MAILBOX_PAGE, 200). A later invoke for a person
 * past the first page finds their lead; one without a name finds the earliest. */
static void test_mailbox_pages(void **state)
{
    (void)state;
    long before = leads_total();
    size_t cap = 64 + 230 * 100, n = 0;
    char *csv = malloc(cap);
    assert_non_null(csv);
    n += (size_t)snprintf(csv, cap, "First Name,Last Name,Email,Job Title,Company Name\r\n");
    static const char *const first[] = {"Anna", "Jonas", "Petra", "Olaf", "Lena",
                                        "Karl", "Mia",   "Felix", "Ida",  "Paul"};
    for (int k = 0; k < 230; k++) {
        n += (size_t)snprintf(csv + n, cap - n,
                              "%s,Messe%03d,team@messebau-test.de,Standbau,Messebau Test GmbH\r\n",
                              first[k % 10], k + 1);
    }
    struct resp r;
    json_t *rep = import(csv, &r);
    resp_free(&r);
    free(csv);
    assert_int_equal(num(rep, "created"), 230);
    char *late = strdup(row_lead(rep, 221)), *earliest = strdup(row_lead(rep, 1));
    json_decref(rep);
    char *id = mailbox_invoke("team@messebau-test.de", "\"name\": \"Anna Messe221\"", "updated");
    assert_string_equal(id, late);
    free(id);
    id = mailbox_invoke("team@messebau-test.de", "", "updated");
    assert_string_equal(id, earliest);
    free(id);
    id = mailbox_invoke("team@messebau-test.de", "\"name\": \"Messe231, Anna\"", "created");
    free(id);
    assert_int_equal(leads_total(), before + 231);
    free(late);
    free(earliest);
}

/* The import identifies a chunk before it writes it, so two people of one file could
 * both find one stored lead. Stored on kontakt@: "Müller" (the earliest) and "Herr
 * Müller" (written by id, as a CRM sync does). A file with "Frau Müller" then "Herr
 * Müller" must give what two invokes in turn give: she takes "Müller" (and names it),
 * he then finds his own lead, not a third. */
static void test_mailbox_taken_in_chunk(void **state)
{
    (void)state;
    static const char *const ids[] = {"01930000-0000-7000-8000-00000000a001",
                                      "01930000-0000-7000-8000-00000000a002"};
    static const char *const names[] = {"Müller", "Herr Müller"};
    for (int k = 0; k < 2; k++) {
        char *body =
            strf("{\"agent_type\": \"qualification\", \"lead_id\": \"%s\", \"input\": "
                 "{\"company_name\": \"Fernwärme Test GmbH\", \"contact_info\": {\"name\": "
                 "\"%s\", \"email\": \"kontakt@fernwaerme-test.de\"}}}",
                 ids[k], names[k]);
        struct resp r;
        invoke(body, &r);
        free(body);
        if (r.status != 200)
            fail_msg("invoke %s: %ld %.300s", names[k], r.status, r.body);
        resp_free(&r);
    }
    long before = leads_total();
    const char sf[] = "\"Contact Name\",\"Title\",\"Email\",\"Account Name\"\r\n"
                      "\"Frau Müller\",\"Einkauf\",\"kontakt@fernwaerme-test.de\",\"Fernwärme Test "
                      "GmbH\"\r\n"
                      "\"Herr Müller\",\"Technik\",\"kontakt@fernwaerme-test.de\",\"Fernwärme Test "
                      "GmbH\"\r\n";
    struct resp r;
    json_t *rep = import(sf, &r);
    resp_free(&r);
    assert_accounted(rep);
    assert_int_equal(num(rep, "updated"), 2);
    assert_string_equal(row_lead(rep, 1), ids[0]);
    assert_string_equal(row_lead(rep, 2), ids[1]);
    json_decref(rep);
    assert_int_equal(leads_total(), before);
    json_t *l = get_lead(ids[0], &r);
    assert_string_equal(jstr(l, "contact_info.name"), "Frau Müller");
    resp_free(&r);
    l = get_lead(ids[1], &r);
    assert_string_equal(jstr(l, "contact_info.title"), "Technik");
    resp_free(&r);
}

/* Five invokes for one contact (the e-mail in varying case) give one lead: the first
 * says created, the others updated, and a later invoke that leaves out the title keeps
 * it. A colleague's invoke is a new lead of the same company. */
static void test_invoke_updates(void **state)
{
    (void)state;
    long before = leads_total();
    char *id = NULL;
    static const char *const emails[] = {
        "lea.brunner@vireo-health.ch", "Lea.Brunner@vireo-health.ch", "LEA.BRUNNER@VIREO-HEALTH.CH",
        "lea.brunner@vireo-health.ch", "lea.brunner@Vireo-Health.ch"};
    for (int k = 0; k < 5; k++) {
        char *body = strf("{\"agent_type\": \"qualification\", \"input\": {\"company_name\": "
                          "\"Vireo Health AG\", \"industry\": \"Healthcare\", \"company_size\": "
                          "\"200-500\", \"contact_info\": {\"name\": \"Léa Brunner\", "
                          "\"email\": \"%s\"%s}}}",
                          emails[k], k == 0 ? ", \"title\": \"Head of Digital\"" : "");
        struct resp r;
        json_t *j = invoke(body, &r);
        free(body);
        if (r.status != 200)
            fail_msg("invoke %d: %ld %.300s", k, r.status, r.body);
        assert_string_equal(jstr(j, "action"), k == 0 ? "created" : "updated");
        if (k == 0)
            id = strdup(jstr(j, "lead_id"));
        else
            assert_string_equal(jstr(j, "lead_id"), id);
        resp_free(&r);
    }
    assert_int_equal(leads_total(), before + 1);
    assert_int_equal(lead_executions(id), 5);
    struct resp r;
    json_t *l = get_lead(id, &r);
    assert_string_equal(jstr(l, "contact_info.title"), "Head of Digital");
    assert_string_equal(jstr(l, "company.domain"), "vireo-health.ch");
    char *company = strdup(jstr(l, "company.id"));
    resp_free(&r);
    json_t *j = invoke("{\"agent_type\": \"qualification\", \"input\": {\"company_name\": \"Vireo "
                       "Health AG\", \"contact_info\": {\"name\": \"Marco Keller\", \"email\": "
                       "\"marco.keller@vireo-health.ch\"}}}",
                       &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "action"), "created");
    assert_string_not_equal(jstr(j, "lead_id"), id);
    char *marco = strdup(jstr(j, "lead_id"));
    resp_free(&r);
    l = get_lead(marco, &r);
    assert_string_equal(jstr(l, "company.id"), company);
    resp_free(&r);
    assert_int_equal(leads_total(), before + 2);
    free(marco);
    free(company);
    free(id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_helio_colleagues),
        cmocka_unit_test(test_in_file_duplicates),
        cmocka_unit_test(test_in_file_replaced),
        cmocka_unit_test(test_without_email),
        cmocka_unit_test(test_invoke_updates),
        cmocka_unit_test(test_shared_mailbox),
        cmocka_unit_test(test_mailbox_one_person),
        cmocka_unit_test(test_mailbox_in_file),
        cmocka_unit_test(test_mailbox_unnamed_stored),
        cmocka_unit_test(test_mailbox_last_first),
        cmocka_unit_test(test_mailbox_salutation),
        cmocka_unit_test(test_subaddress_consent),
        cmocka_unit_test(test_mailbox_pages),
        cmocka_unit_test(test_mailbox_taken_in_chunk),
    };
    return api_exit_status(cmocka_run_group_tests(tests, api_group_setup, api_group_teardown));
}
