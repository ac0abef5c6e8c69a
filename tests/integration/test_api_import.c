/* Integration tests of importing real CRM exports through POST /api/leads/import: the
 * sample files in tests/data/exports (HubSpot, Salesforce report, Pipedrive, Apollo, an
 * Excel-for-Mac tab/CR file, a Windows-1252 file) and the refusals that name the place. */
#include "harness.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The bytes of tests/data/exports/name (malloc'd; *len set); fails the test when absent. */
static char *export_file(const char *name, size_t *len)
{
    char *path = strf("%s/tests/data/exports/%s", SA_SOURCE_DIR, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    free(path);
    char *buf = malloc(65536);
    assert_non_null(buf);
    *len = fread(buf, 1, 65535, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* POSTs the file to path and returns the parsed body (the caller frees it); asserts the status. */
static json_t *post_export(const char *path, const char *name, long status)
{
    size_t len;
    char *csv = export_file(name, &len);
    struct resp r;
    http("POST", path, "text/csv", csv, len, &r);
    free(csv);
    if (r.status != status)
        fail_msg("%s %s: %ld %.600s", path, name, r.status, r.body);
    json_t *j = json_loadb(r.body, r.len, 0, NULL);
    resp_free(&r);
    assert_non_null(j);
    return j;
}

/* The stored lead of the report's i-th lead (the caller frees it). */
static json_t *stored(json_t *report, size_t i)
{
    char *path = strf("/api/leads/%s", jstr(json_array_get(jget(report, "leads"), i), "lead_id"));
    struct resp r;
    json_t *lead = http_json("GET", path, NULL, &r);
    free(path);
    assert_int_equal(r.status, 200);
    json_incref(lead);
    resp_free(&r);
    return lead;
}

/* What column `name` became in the report: "mapped_to:x" or "kept_as:y". */
static const char *column_of(json_t *report, const char *name)
{
    static char out[128];
    size_t i;
    json_t *c;
    json_array_foreach(jget(report, "columns"), i, c)
    {
        if (strcmp(jstr(c, "column"), name) == 0) {
            const char *m = jstr(c, "mapped_to");
            snprintf(out, sizeof out, "%s:%s", m ? "mapped_to" : "kept_as",
                     m ? m : jstr(c, "kept_as"));
            return out;
        }
    }
    return "absent";
}

/* HubSpot: BOM, CRLF, quoted cells with commas, non-ASCII names, Country/Region and
 * Website URL mapped (they were dropped), revenue in euros kept with its currency. */
static void test_hubspot(void **state)
{
    (void)state;
    json_t *j = post_export("/api/leads/import", "hubspot-contacts.csv", 200);
    assert_int_equal(json_integer_value(jget(j, "rows")), 3);
    assert_int_equal(json_integer_value(jget(j, "created")), 3);
    assert_string_equal(column_of(j, "Country/Region"), "mapped_to:country");
    assert_string_equal(column_of(j, "Website URL"), "mapped_to:website");
    assert_string_equal(column_of(j, "Lifecycle Stage"), "kept_as:lifecycle_stage");
    assert_string_equal(column_of(j, "Record ID"), "kept_as:record_id");
    json_t *zoe = stored(j, 0);
    assert_string_equal(jstr(zoe, "contact_info.name"), "Zoë Müller");
    assert_string_equal(jstr(zoe, "data.country"), "Germany");
    assert_string_equal(jstr(zoe, "data.website"), "https://www.nordlicht-analytics.de");
    assert_string_equal(jstr(zoe, "data.revenue_currency"), "EUR");
    assert_string_equal(jstr(zoe, "data.lifecycle_stage"), "Lead");
    json_decref(zoe);
    json_t *jose = stored(j, 1);
    assert_string_equal(jstr(jose, "company_name"), "Tramontana Logística, S.L.");
    json_decref(jose);
    json_decref(j);
}

/* Where the contact is (the prospect's time zone comes from it): HubSpot's State/Region
 * and City, Salesforce's Mailing State/Province, are mapped, not kept as extra fields. */
static void test_location_columns(void **state)
{
    (void)state;
    const char csv[] =
        "First Name,Last Name,Email,Company Name,Country/Region,State/Region,City\r\n"
        "Priya,Raman,priya@harborlight-irvine.example,Harborlight Labs,United States,CA,"
        "Irvine\r\n";
    struct resp r;
    http("POST", "/api/leads/import", "text/csv", csv, strlen(csv), &r);
    assert_int_equal(r.status, 200);
    json_t *j = json_loadb(r.body, r.len, 0, NULL);
    assert_string_equal(column_of(j, "State/Region"), "mapped_to:state");
    assert_string_equal(column_of(j, "City"), "mapped_to:city");
    json_t *lead = stored(j, 0);
    assert_string_equal(jstr(lead, "data.state"), "CA");
    assert_string_equal(jstr(lead, "data.city"), "Irvine");
    json_decref(lead);
    json_decref(j);
    resp_free(&r);
    const char sf[] = "First Name,Last Name,Email,Company / Account,Mailing State/Province\r\n"
                      "Dan,Ortiz,dan@kestrel-co.example,Kestrel Co,Colorado\r\n";
    http("POST", "/api/leads/import", "text/csv", sf, strlen(sf), &r);
    assert_int_equal(r.status, 200);
    j = json_loadb(r.body, r.len, 0, NULL);
    assert_string_equal(column_of(j, "Mailing State/Province"), "mapped_to:state");
    json_decref(j);
    resp_free(&r);
}

/* A Salesforce report: the title line and the footer (Grand Totals, copyright,
 * confidentiality, Generated By, blank lines) are skipped and reported, not failed rows;
 * Company / Account and No. of Employees are mapped; "25.000.000" is 25 million. */
static void test_salesforce_report(void **state)
{
    (void)state;
    json_t *j = post_export("/api/leads/import", "salesforce-leads-report.csv", 200);
    assert_int_equal(json_integer_value(jget(j, "rows")), 3);
    assert_int_equal(json_integer_value(jget(j, "failed")), 0);
    assert_int_equal(json_array_size(jget(j, "skipped_lines")), 9);
    json_t *first = json_array_get(jget(j, "skipped_lines"), 0);
    assert_int_equal(json_integer_value(jget(first, "line")), 1);
    assert_string_equal(jstr(first, "reason"), "report title above the header");
    json_t *totals = json_array_get(jget(j, "skipped_lines"), 2);
    assert_int_equal(json_integer_value(jget(totals, "line")), 7);
    assert_string_equal(jstr(totals, "reason"), "report footer: grand totals");
    assert_string_equal(column_of(j, "Company / Account"), "mapped_to:company_name");
    assert_string_equal(column_of(j, "No. of Employees"), "mapped_to:company_size");
    assert_string_equal(column_of(j, "Lead Source"), "kept_as:lead_source");
    json_t *hannah = stored(j, 0);
    assert_string_equal(jstr(hannah, "company_name"), "Helio Robotics");
    assert_string_equal(jstr(hannah, "data.company_size"), "350");
    assert_string_equal(jstr(hannah, "data.rating"), "Hot");
    json_decref(hannah);
    json_t *aoife = stored(j, 2);
    assert_string_equal(jstr(aoife, "data.revenue_currency"), "GBP");
    assert_string_equal(jstr(aoife, "contact_info.name"), "Aoife Ní Bhriain");
    json_decref(aoife);
    json_decref(j);
}

/* Pipedrive saved by a European Excel (';'), Apollo (LF, '# Employees'), and an old
 * Excel-for-Mac text file (tab, CR line ends, a decimal comma in "2,5 Mio"). */
static void test_other_crms(void **state)
{
    (void)state;
    json_t *j = post_export("/api/leads/import", "pipedrive-people-semicolon.csv", 200);
    assert_int_equal(json_integer_value(jget(j, "created")), 2);
    assert_string_equal(column_of(j, "Organization - Name"), "mapped_to:company_name");
    json_t *nina = stored(j, 1);
    assert_string_equal(jstr(nina, "contact_info.name"), "Ana \"Nina\" Petrović");
    assert_string_equal(jstr(nina, "data.organization_address"), "Knez Mihailova 5, Beograd");
    json_decref(nina);
    json_decref(j);
    j = post_export("/api/leads/import", "apollo-people.csv", 200);
    assert_string_equal(column_of(j, "# Employees"), "mapped_to:company_size");
    assert_string_equal(column_of(j, "Person Linkedin Url"), "mapped_to:contact_info.linkedin_url");
    json_t *mei = stored(j, 0);
    assert_string_equal(jstr(mei, "data.keywords"), "saas, cloud, devops");
    json_decref(mei);
    json_decref(j);
    j = post_export("/api/leads/import", "excel-mac-tab-cr.txt", 200);
    assert_int_equal(json_integer_value(jget(j, "rows")), 1);
    json_t *jorg = stored(j, 0);
    assert_string_equal(jstr(jorg, "company_name"), "Ölmühle Brandenburg GmbH");
    assert_string_equal(jstr(jorg, "contact_info.email"), "joerg.weiss@oelmuehle-example.de");
    json_decref(jorg);
    json_decref(j);
}

static void refused(const char *path, const char *csv, size_t len, const char *type,
                    const char *loc);

/* A Windows-1252 file: refused (422, row and byte offset, the charset to send) without a
 * charset, nothing stored; with ?charset=windows-1252 the names arrive intact. */
static void test_windows_1252(void **state)
{
    (void)state;
    long before = leads_total();
    json_t *j = post_export("/api/leads/import", "hubspot-contacts-cp1252.csv", 422);
    json_t *d = json_array_get(jget(j, "detail"), 0);
    assert_string_equal(jstr(d, "type"), "unicode_decode_error");
    assert_int_equal(json_integer_value(jget(d, "row")), 1);
    assert_int_equal(json_integer_value(jget(d, "offset")), 83);
    assert_non_null(strstr(jstr(d, "msg"), "?charset=windows-1252"));
    json_decref(j);
    assert_int_equal(leads_total(), before);
    j = post_export("/api/leads/import?charset=windows-1252", "hubspot-contacts-cp1252.csv", 200);
    json_t *zoe = stored(j, 0);
    assert_string_equal(jstr(zoe, "contact_info.name"), "Zoë Müller");
    assert_string_equal(jstr(zoe, "company_name"), "Kupferwerk Süd AG");
    assert_string_equal(jstr(zoe, "data.annual_revenue"), "25 Mio. €");
    assert_string_equal(jstr(zoe, "data.revenue_currency"), "EUR");
    json_decref(zoe);
    json_t *renee = stored(j, 1);
    assert_string_equal(jstr(renee, "contact_info.name"), "Renée Lefèvre");
    json_decref(renee);
    json_decref(j);
    /* a Salesforce report (a title and a blank line above the header) in Windows-1252:
     * the bad byte is in the first row of data, and the refusal says row 1 (it said row 3,
     * another person's row, counting the title and the blank line) */
    static const char report[] = "\"Leads report\"\r\n\r\n"
                                 "\"First Name\",\"Last Name\",\"Company / Account\"\r\n"
                                 "\"J\xfcrgen\",\"Wei\xdf\",\"B\xe4"
                                 "ckerei Gro\xdf AG\"\r\n"
                                 "\"Fran\xe7ois\",\"Lef\xe8vre\",\"Caf\xe9 SA\"\r\n";
    refused("/api/leads/import", report, sizeof report - 1, "unicode_decode_error", "[\"body\",1]");
    struct resp r;
    http("POST", "/api/leads/import", "text/csv", report, sizeof report - 1, &r);
    j = json_loadb(r.body, r.len, 0, NULL);
    assert_int_equal(json_integer_value(jget(j, "detail.0.row")), 1);
    assert_int_equal(json_integer_value(jget(j, "detail.0.line")), 4);
    assert_non_null(strstr(jstr(j, "detail.0.msg"), "Row 1 (line 4"));
    json_decref(j);
    resp_free(&r);
    /* a Windows-1252 file declared Latin-1 (what most people call it): the euro sign and
     * the curly quotes arrive as such, not as invisible C1 controls U+0080, U+0093 */
    static const char preis[] = "Company,Name,Email,Notes\r\n"
                                "Preiswerk AG,J\xfcrgen Wei\xdf,j.weiss@preiswerk.de,"
                                "Preis 100\x80 \x93netto\x94\r\n";
    http("POST", "/api/leads/import?charset=latin1", "text/csv", preis, sizeof preis - 1, &r);
    assert_int_equal(r.status, 200);
    j = json_loadb(r.body, r.len, 0, NULL);
    resp_free(&r);
    json_t *juergen = stored(j, 0);
    assert_string_equal(jstr(juergen, "data.notes"), "Preis 100€ “netto”");
    assert_string_equal(jstr(juergen, "contact_info.name"), "Jürgen Weiß");
    json_decref(juergen);
    json_decref(j);
    /* Latin-9 has no such letters there: refused, naming the cell */
    refused("/api/leads/import?charset=iso-8859-15", preis, sizeof preis - 1, "control_character",
            "[\"body\",1,4]");
    /* the other way round: a UTF-8 file declared windows-1252 would become "MÃ¼ller";
     * it is refused at query.charset, nothing stored */
    j = post_export("/api/leads/import?charset=windows-1252", "hubspot-contacts.csv", 422);
    assert_string_equal(jdump(jget(j, "detail.0.loc")), "[\"query\",\"charset\"]");
    json_decref(j);
}

/* A row's validation error names the file's column, as the user knows it: a Pipedrive
 * file's bad e-mail is in "Person - Email - Work", a German "250.000" revenue in
 * "Organization - Annual revenue", a name built from two columns in both; in the 422's
 * detail and in the report. */
static void test_error_columns(void **state)
{
    (void)state;
    const char csv[] = "Person - Email - Work;Organization - Name;Organization - Annual revenue;"
                       "First Name;Last Name\r\n"
                       "max@muster-logistik.de;Muster Logistik GmbH;1,5 Mio;Max;Mustermann\r\n"
                       "erika(at)muster-logistik.de;Muster Logistik GmbH;250.000;Erika;M\r\n";
    struct resp r;
    http("POST", "/api/leads/import", "text/csv", csv, sizeof csv - 1, &r);
    assert_int_equal(r.status, 422);
    json_t *j = json_loadb(r.body, r.len, 0, NULL);
    resp_free(&r);
    json_t *detail = jget(j, "detail");
    assert_int_equal(json_array_size(detail), 2);
    json_t *email = NULL, *revenue = NULL;
    size_t i;
    json_t *d;
    json_array_foreach(detail, i, d)
    {
        assert_int_equal(json_integer_value(json_object_get(d, "row")), 2);
        const char *loc = jdump(json_object_get(d, "loc"));
        if (strstr(loc, "email"))
            email = d;
        if (strstr(loc, "annual_revenue"))
            revenue = d;
    }
    assert_non_null(email);
    assert_non_null(revenue);
    assert_string_equal(jstr(email, "column"), "Person - Email - Work");
    assert_string_equal(jstr(revenue, "column"), "Organization - Annual revenue");
    assert_string_equal(jstr(j, "report.errors.0.column"), jstr(detail, "0.column"));
    json_decref(j);
    /* a name too long for the field, built from First Name and Last Name */
    char *long_name = malloc(400);
    assert_non_null(long_name);
    memset(long_name, 'a', 399);
    long_name[399] = '\0';
    char *csv2 = strf("Company,First Name,Last Name\nLongco,%s,%s\n", long_name, long_name);
    free(long_name);
    http("POST", "/api/leads/import", "text/csv", csv2, strlen(csv2), &r);
    free(csv2);
    assert_int_equal(r.status, 422);
    j = json_loadb(r.body, r.len, 0, NULL);
    resp_free(&r);
    assert_string_equal(jstr(j, "detail.0.column"), "First Name + Last Name");
    json_decref(j);
    /* "no value" as exports and spreadsheets write it, in mapped columns: an empty cell
     * (it refused the row, and so the file); an extra column keeps it as written */
    const char blanks[] =
        "Company,Email,Employees,Annual Revenue,Title,Rating\r\n"
        "Nullwerk GmbH,ida@nullwerk.example,N/A,-,#N/A,-\r\n"
        "Nullwerk GmbH,jan@nullwerk.example, unknown ,\xe2\x80\x94,(blank),Hot\r\n";
    http("POST", "/api/leads/import", "text/csv", blanks, sizeof blanks - 1, &r);
    if (r.status != 200)
        fail_msg("placeholders: %ld %.400s", r.status, r.body);
    j = json_loadb(r.body, r.len, 0, NULL);
    resp_free(&r);
    assert_int_equal(json_integer_value(jget(j, "created")), 2);
    json_t *ida = stored(j, 0);
    assert_null(json_object_get(jget(ida, "data"), "company_size"));
    assert_null(json_object_get(jget(ida, "data"), "annual_revenue"));
    assert_true(json_is_null(jget(ida, "contact_info.title")));
    assert_string_equal(jstr(ida, "data.rating"), "-");
    json_decref(ida);
    json_decref(j);
}

/* Sends csv (len bytes) to path; asserts a 422 whose first detail has this type and loc
 * (the loc as compact JSON); nothing is stored. */
static void refused(const char *path, const char *csv, size_t len, const char *type,
                    const char *loc)
{
    long before = leads_total();
    struct resp r;
    http("POST", path, "text/csv", csv, len, &r);
    if (r.status != 422)
        fail_msg("%s: %ld %.400s", path, r.status, r.body);
    json_t *j = json_loadb(r.body, r.len, 0, NULL);
    json_t *d = json_array_get(jget(j, "detail"), 0);
    assert_string_equal(jstr(d, "type"), type);
    char *got = json_dumps(jget(d, "loc"), JSON_COMPACT);
    assert_string_equal(got, loc);
    free(got);
    json_decref(j);
    resp_free(&r);
    assert_int_equal(leads_total(), before);
}

/* Cells and headers that would be bent are refused, naming the place: a NUL inside a
 * cell (it used to cut "VP\0Sales" to "VP"), a header naming Email twice (the last one
 * won), a map with an unknown target or a column the file lacks, an unknown charset. */
static void test_refusals(void **state)
{
    (void)state;
    const char nul[] = "Company,Title\r\nNulcorp,VP\0Sales\r\n";
    refused("/api/leads/import", nul, sizeof nul - 1, "control_character", "[\"body\",1,2]");
    /* quoting: a quote never closed (the rest of the file would be one cell), and a quote
     * inside an unquoted cell: 422 naming the row and the cell, not a 400 with the CSV
     * library's words */
    const char open_quote[] = "Company,Name,Notes\r\nQuoteco,Ada Byron,fine\r\n"
                              "Quoteco,Alan Turing,\"never closed\r\nQuoteco,Grace Hopper,x\r\n";
    refused("/api/leads/import", open_quote, sizeof open_quote - 1, "csv_syntax", "[\"body\",2,3]");
    const char stray[] = "Company,Name,Notes\r\nQuoteco,Ana \"Nina\" Petrovic,x\r\n";
    refused("/api/leads/import", stray, sizeof stray - 1, "csv_syntax", "[\"body\",1,2]");
    const char dup[] = "Company,Email,Email\nDupco,a@dupco.io,b@dupco.io\n";
    refused("/api/leads/import", dup, sizeof dup - 1, "duplicate_column",
            "[\"body\",\"header\",\"Email\"]");
    /* ... but a name no lead field takes, twice (a Salesforce report's "Created Date" of
     * the contact and of the account), is no question: both columns are kept */
    const char dup_extra[] = "Company,Email,Created Date,Created Date\n"
                             "Dupco,ada@dupco.io,2026-01-05,2019-03-01\n";
    struct resp dr;
    http("POST", "/api/leads/import", "text/csv", dup_extra, sizeof dup_extra - 1, &dr);
    if (dr.status != 200)
        fail_msg("duplicate extra columns: %ld %.400s", dr.status, dr.body);
    json_t *dj = json_loadb(dr.body, dr.len, 0, NULL);
    resp_free(&dr);
    assert_string_equal(jstr(dj, "columns.2.kept_as"), "created_date");
    assert_string_equal(jstr(dj, "columns.3.kept_as"), "created_date_2");
    json_t *dupco = stored(dj, 0);
    assert_string_equal(jstr(dupco, "data.created_date"), "2026-01-05");
    assert_string_equal(jstr(dupco, "data.created_date_2"), "2019-03-01");
    json_decref(dupco);
    json_decref(dj);
    const char org[] = "Org,Person\nMapco,Ada Byron\n";
    refused("/api/leads/import", org, sizeof org - 1, "missing", "[\"body\",\"header\"]");
    refused("/api/leads/import?map=%7B%22Org%22%3A%22company%22%7D", org, sizeof org - 1, "enum",
            "[\"query\",\"map\",\"Org\"]");
    refused("/api/leads/import?map=%7B%22Organisation%22%3A%22company_name%22%7D", org,
            sizeof org - 1, "value_error", "[\"query\",\"map\",\"Organisation\"]");
    refused("/api/leads/import?map=%5B1%5D", org, sizeof org - 1, "dict_type",
            "[\"query\",\"map\"]");
    refused("/api/leads/import?charset=ebcdic", org, sizeof org - 1, "enum",
            "[\"query\",\"charset\"]");
    /* the same file with a map that names its columns imports */
    struct resp r;
    http("POST",
         "/api/leads/import?map=%7B%22Org%22%3A%22company_name%22%2C%22Person%22%3A%22contact_"
         "info.name%22%7D",
         "text/csv", org, sizeof org - 1, &r);
    if (r.status != 200)
        fail_msg("map: %ld %.400s", r.status, r.body);
    json_t *j = json_loadb(r.body, r.len, 0, NULL);
    assert_string_equal(column_of(j, "Person"), "mapped_to:contact_info.name");
    json_t *ada = stored(j, 0);
    assert_string_equal(jstr(ada, "contact_info.name"), "Ada Byron");
    assert_string_equal(jstr(ada, "company_name"), "Mapco");
    json_decref(ada);
    json_decref(j);
    resp_free(&r);
}

/* A file larger than one write chunk (2,000 leads): the import reads it in two passes
 * and writes the leads chunk by chunk, yet a row folded into a lead of an early chunk is
 * still merged_in_file (the lead is written once, with the later row's title), a blank row
 * is skipped, and one invalid row at the end imports nothing. */
static void test_many_rows(void **state)
{
    (void)state;
    enum { N = 5001 };
    size_t cap = (size_t)N * 64 + 64, len = 0;
    char *csv = malloc(cap);
    assert_non_null(csv);
    len += (size_t)snprintf(csv + len, cap - len, "Company,Email,Job Title,Employees\r\n");
    for (int r = 1; r < N; r++)
        len += (size_t)snprintf(csv + len, cap - len,
                                r == 2500 ? ",,,\r\n" : "Chunkco %d,c%d@chunkco.io,Engineer,50\r\n",
                                r, r);
    size_t valid_len = len;
    len += (size_t)snprintf(csv + len, cap - len, "Chunkco 1,C1@CHUNKCO.IO,CTO,50\r\n");
    struct resp r;
    /* one invalid row at the very end: 422, nothing written */
    long before = leads_total();
    char *bad = malloc(cap);
    assert_non_null(bad);
    memcpy(bad, csv, valid_len);
    size_t bad_len = valid_len + (size_t)snprintf(bad + valid_len, cap - valid_len,
                                                  "Chunkco Z,z@chunkco.io,CTO,lots\r\n");
    http("POST", "/api/leads/import", "text/csv", bad, bad_len, &r);
    free(bad);
    assert_int_equal(r.status, 422);
    json_t *j = json_loadb(r.body, r.len, 0, NULL);
    assert_int_equal(json_integer_value(jget(j, "report.failed")), 1);
    assert_int_equal(json_integer_value(jget(j, "report.rows")), N);
    json_decref(j);
    resp_free(&r);
    assert_int_equal(leads_total(), before);
    /* the valid file: every row accounted for across chunks */
    http("POST", "/api/leads/import", "text/csv", csv, len, &r);
    free(csv);
    if (r.status != 200)
        fail_msg("%ld %.400s", r.status, r.body);
    j = json_loadb(r.body, r.len, 0, NULL);
    assert_int_equal(json_integer_value(jget(j, "rows")), N);
    assert_int_equal(json_integer_value(jget(j, "created")), N - 2);
    assert_int_equal(json_integer_value(jget(j, "merged_in_file")), 1);
    assert_int_equal(json_integer_value(jget(j, "skipped")), 1);
    assert_int_equal(json_integer_value(jget(j, "failed")), 0);
    json_t *first = json_array_get(jget(j, "leads"), 0);
    assert_int_equal(json_integer_value(jget(first, "row")), 1);
    assert_int_equal(json_integer_value(json_array_get(jget(first, "merged_rows"), 0)), N);
    json_t *folded = json_array_get(jget(j, "leads"), 1);
    assert_string_equal(jstr(folded, "action"), "merged_in_file");
    assert_int_equal(json_integer_value(jget(folded, "into_row")), 1);
    json_t *lead = stored(j, 0);
    assert_string_equal(jstr(lead, "contact_info.title"), "CTO");
    json_decref(lead);
    assert_int_equal(json_array_size(jget(j, "leads")), N - 1);
    assert_int_equal(leads_total(), before + N - 2);
    json_decref(j);
    resp_free(&r);
}

/* A CSV body over MAX_BODY_BYTES (1 MiB) but under MAX_IMPORT_BYTES (set to 2 MiB for
 * this test) is spooled to a temporary file under TMPDIR and imported in the background:
 * 202, then GET /api/imports/{id} until done; nothing is left in TMPDIR; a body over
 * MAX_IMPORT_BYTES is 413 saying the limit and what to do. */
static char tmp_dir[] = "/tmp/sa-import-tmp-XXXXXX";

static void test_large_body(void **state)
{
    (void)state;
    enum { ROWS = 5000, PAD = 300 }; /* three chunks of the import's pipeline */
    size_t cap = (size_t)ROWS * (PAD + 64) + 64, len = 0;
    char *csv = malloc(cap), pad[PAD + 1];
    assert_non_null(csv);
    memset(pad, 'x', PAD);
    pad[PAD] = '\0';
    len += (size_t)snprintf(csv + len, cap - len, "Company,Email,Notes\n");
    for (int r = 1; r <= ROWS; r++)
        len += (size_t)snprintf(csv + len, cap - len, "Bigco %d,b%d@bigco.io,%s\n", r, r, pad);
    assert_true(len > 1048576 && len < 2097152);
    struct resp r;
    long stored_before = leads_total();
    http("POST", "/api/leads/import", "text/csv", csv, len, &r);
    if (r.status != 202)
        fail_msg("%ld %.400s", r.status, r.body);
    json_t *j = json_loadb(r.body, r.len, 0, NULL);
    char *self = strf("%s", jstr(j, "links.self"));
    json_decref(j);
    resp_free(&r);
    /* polled until it finishes */
    for (int i = 0;; i++) {
        j = http_json("GET", self, NULL, &r);
        assert_int_equal(r.status, 200);
        if (strcmp(jstr(j, "status"), "running") != 0 || i == 1200)
            break;
        resp_free(&r);
        usleep(50000);
    }
    assert_string_equal(jstr(j, "status"), "done");
    assert_int_equal(json_integer_value(jget(j, "rows_done")), ROWS);
    assert_int_equal(json_integer_value(jget(j, "report.rows")), ROWS);
    assert_int_equal(json_integer_value(jget(j, "report.created")), ROWS);
    resp_free(&r);
    assert_int_equal(leads_total(), stored_before + ROWS); /* every chunk was written */
    /* the same file with one invalid row at the end: the job fails naming it, and nothing
     * is written (all or nothing, as the 422 of a small body) */
    long before = leads_total();
    size_t valid = len;
    len += (size_t)snprintf(csv + len, cap - len, "Bigco X,not-an-email,%s\n", "note");
    http("POST", "/api/leads/import", "text/csv", csv, len, &r);
    assert_int_equal(r.status, 202);
    j = json_loadb(r.body, r.len, 0, NULL);
    free(self);
    self = strf("%s", jstr(j, "links.self"));
    char *stream = strf("%s", jstr(j, "links.stream"));
    json_decref(j);
    resp_free(&r);
    /* followed as server-sent events: progress events with rows_done never going back,
     * then one "failed" event carrying the job; the stream then ends */
    http("GET", stream, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    char ct[64];
    assert_non_null(resp_header(&r, "Content-Type", ct, sizeof ct));
    assert_non_null(strstr(ct, "text/event-stream"));
    long last_done = -1;
    int finals = 0;
    j = NULL;
    for (char *ev = r.body; ev && *ev;) {
        char *end = strstr(ev, "\n\n");
        if (end)
            *end = '\0';
        if (strncmp(ev, "event: progress\ndata: ", 22) == 0) {
            json_t *p = json_loads(ev + 22, 0, NULL);
            assert_non_null(p);
            assert_string_equal(jstr(p, "status"), "running");
            long done = (long)json_integer_value(jget(p, "rows_done"));
            assert_true(done >= last_done);
            last_done = done;
            json_decref(p);
        } else if (strncmp(ev, "event: failed\ndata: ", 20) == 0) {
            finals++;
            j = json_loads(ev + 20, 0, NULL);
        } else if (ev[0] != ':') {
            fail_msg("unexpected event: %.200s", ev);
        }
        ev = end ? end + 2 : NULL;
    }
    assert_int_equal(finals, 1);
    assert_non_null(j);
    free(stream);
    resp_free(&r);
    r.json = j; /* released below with the response */
    assert_string_equal(jstr(j, "status"), "failed");
    assert_int_equal(json_integer_value(jget(j, "report.failed")), 1);
    assert_int_equal(json_integer_value(jget(json_array_get(jget(j, "report.errors"), 0), "row")),
                     ROWS + 1);
    assert_non_null(jstr(j, "error"));
    resp_free(&r);
    assert_int_equal(leads_total(), before);
    len = valid;
    http_json("GET", "/api/imports/01a235d7-ce91-7000-93a1-772fb3099cf2", NULL, &r);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    free(self);
    DIR *d = opendir(tmp_dir);
    assert_non_null(d);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        entries += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(entries, 0); /* the spool file was unlinked at once */
    /* over the cap */
    char *big = realloc(csv, 2097152 + 4096);
    assert_non_null(big);
    csv = big;
    while (len <= 2097152)
        len += (size_t)snprintf(csv + len, 2097152 + 4096 - len, "Bigco,c@bigco.io,%s\n", pad);
    http("POST", "/api/leads/import", "text/csv", csv, len, &r);
    free(csv);
    assert_int_equal(r.status, 413);
    j = json_loadb(r.body, r.len, 0, NULL);
    const char *msg = jstr(json_array_get(jget(j, "detail"), 0), "msg");
    assert_non_null(strstr(msg, "2097152 bytes (MAX_IMPORT_BYTES)"));
    assert_non_null(strstr(msg, "sales-agent import"));
    json_decref(j);
    resp_free(&r);
}

/* What the review of the real exports found (issue 11): each once silently lost data or
 * refused a whole file. */
static json_t *post_text(const char *csv, long status)
{
    struct resp r;
    http("POST", "/api/leads/import", "text/csv", csv, strlen(csv), &r);
    if (r.status != status)
        fail_msg("import: %ld, expected %ld: %.600s", r.status, status, r.body);
    json_t *j = json_loadb(r.body, r.len, 0, NULL);
    resp_free(&r);
    assert_non_null(j);
    return j;
}

static void test_review_cases(void **state)
{
    (void)state;
    /* a ;-separated file (German Excel) whose notes hold commas */
    json_t *j = post_text("Company;Email;Notes\r\n"
                          "Weber AG;lena@weber.example;Trade fair, wants demo, budget Q3\r\n",
                          200);
    assert_int_equal(
        json_integer_value(jget(j, "created")) + json_integer_value(jget(j, "updated")), 1);
    json_decref(j);
    /* a Salesforce report whose footer lines are padded with empty cells */
    j = post_text("\"Leads by owner\",,,\r\n"
                  "\"Company / Account\",\"First Name\",\"Last Name\",\"Email\"\r\n"
                  "\"Helio Robotics\",\"Ana\",\"Lima\",\"ana.lima@heliorobotics.example\"\r\n"
                  "\"Grand Totals (1 record)\",,,\r\n"
                  ",,,\r\n"
                  "\"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved.\",,,\r\n"
                  "\"Generated By:  Kim Park  12/2/2026 9:14 AM\",,,\r\n",
                  200);
    assert_int_equal(json_integer_value(jget(j, "rows")), 1);
    assert_int_equal(json_integer_value(jget(j, "failed")), 0);
    assert_int_equal(json_array_size(jget(j, "skipped_lines")), 5);
    json_decref(j);
    /* extra columns that collide (after snake-casing, or a long shared prefix) or have no
     * letters all keep their values, under distinct names */
    j = post_text("Company,Email,Lead Source,Lead-Source,#,"
                  "What is your biggest challenge with forecasting accuracy this quarter (part 1),"
                  "What is your biggest challenge with forecasting accuracy this quarter (part 2)\n"
                  "Kestrel Freight,dan@kestrel.example,Web,Trade show,42,Data quality,Tooling\n",
                  200);
    assert_string_equal(column_of(j, "Lead Source"), "kept_as:lead_source");
    assert_string_equal(column_of(j, "Lead-Source"), "kept_as:lead_source_2");
    assert_string_equal(column_of(j, "#"), "kept_as:column_5");
    json_t *lead = stored(j, 0);
    assert_string_equal(jstr(lead, "data.lead_source"), "Web");
    assert_string_equal(jstr(lead, "data.lead_source_2"), "Trade show");
    assert_string_equal(jstr(lead, "data.column_5"), "42");
    char c6[128];
    snprintf(c6, sizeof c6, "%s",
             column_of(j, "What is your biggest challenge with forecasting accuracy this "
                          "quarter (part 1)"));
    const char *c7 = column_of(j, "What is your biggest challenge with forecasting accuracy this "
                                  "quarter (part 2)");
    assert_string_not_equal(c6, c7);
    json_decref(lead);
    json_decref(j);
    /* the export's revenue_currency column is read back as the currency */
    j = post_text("Company Name,Email,Annual Revenue,Revenue Currency\n"
                  "Eurofirm GmbH,cfo@eurofirm.example,30000000,EUR\n",
                  200);
    assert_string_equal(column_of(j, "Revenue Currency"), "mapped_to:revenue_currency");
    json_decref(j);
    /* a Zoho export: Designation is the title; an opt-out column marks the contact
     * do-not-contact (a careful SDR does not mail them) */
    j = post_text("Account Name,First Name,Last Name,Designation,Email,Email Opt Out\n"
                  "Corvid Labs,Ines,Roth,Chief Revenue Officer,ines.roth@corvidlabs.example,true\n"
                  "Corvid Labs,Omar,Haddad,Buyer,omar.haddad@corvidlabs.example,false\n",
                  200);
    assert_string_equal(column_of(j, "Designation"), "mapped_to:contact_info.title");
    assert_int_equal(json_integer_value(jget(j, "do_not_contact")), 1);
    json_decref(j);
    struct resp cr;
    json_t *c = http_json("GET", "/api/contacts/ines.roth@corvidlabs.example", NULL, &cr);
    assert_true(json_is_true(jget(c, "do_not_contact")));
    resp_free(&cr);
    c = http_json("GET", "/api/contacts/omar.haddad@corvidlabs.example", NULL, &cr);
    assert_false(json_is_true(jget(c, "do_not_contact")));
    resp_free(&cr);
    /* an Excel link cell: the address is the website */
    j = post_text("Company,Email,Website\n"
                  "Larkspur Media,ana@larkspur.example,"
                  "\"=HYPERLINK(\"\"https://www.larkspur.example\"\",\"\"Larkspur\"\")\"\n",
                  200);
    lead = stored(j, 0);
    assert_string_equal(jstr(lead, "data.website"), "https://www.larkspur.example");
    json_decref(lead);
    json_decref(j);
    /* ... but in a column that is not an address the label is the value, as Excel showed
     * it (the company name, the title stayed themselves; they became the link's address),
     * a continental Excel's ';' between the arguments; a profile URL column keeps the
     * address */
    j = post_text(
        "Company,Email,Title,Profile URL\n"
        "\"=HYPERLINK(\"\"https://www.quillon.example\"\";\"\"Quillon GmbH\"\")\","
        "ben@quillon.example,\"=HYPERLINK(\"\"https://intranet/ben\"\", \"\"Head of "
        "Sales\"\")\",\"=HYPERLINK(\"\"https://www.linkedin.com/in/ben-q\"\",\"\"Ben\"\")\"\n",
        200);
    lead = stored(j, 0);
    assert_string_equal(jstr(lead, "company_name"), "Quillon GmbH");
    assert_string_equal(jstr(lead, "contact_info.title"), "Head of Sales");
    assert_string_equal(jstr(lead, "data.profile_url"), "https://www.linkedin.com/in/ben-q");
    json_decref(lead);
    json_decref(j);
    /* a refusal still accounts for every row: the valid ones are not_imported */
    j = post_text("Company,Email\nA Co,a@a.example\n,\nB Co,not-an-email\n", 422);
    json_t *rep = jget(j, "report");
    assert_non_null(rep);
    assert_int_equal(json_integer_value(jget(rep, "rows")), 3);
    assert_int_equal(json_integer_value(jget(rep, "failed")), 1);
    assert_int_equal(json_integer_value(jget(rep, "skipped")), 1);
    assert_int_equal(json_integer_value(jget(rep, "not_imported")), 1);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_review_cases), cmocka_unit_test(test_location_columns),
        cmocka_unit_test(test_hubspot),      cmocka_unit_test(test_salesforce_report),
        cmocka_unit_test(test_other_crms),   cmocka_unit_test(test_windows_1252),
        cmocka_unit_test(test_refusals),     cmocka_unit_test(test_many_rows),
        cmocka_unit_test(test_large_body),   cmocka_unit_test(test_error_columns),
    };
    if (!mkdtemp(tmp_dir))
        return 1;
    setenv("MAX_IMPORT_BYTES", "2097152", 1);
    setenv("TMPDIR", tmp_dir, 1);
    int rc = api_exit_status(cmocka_run_group_tests(tests, api_group_setup, api_group_teardown));
    rmdir(tmp_dir);
    return rc;
}
