/* Integration tests of lead export, edit and erasure (issue 11) on the main server (empty
 * database, see harness.h): the CSV export's filters, quoting, BOM and formula
 * neutralisation; export then import into a fresh server gives the same leads; PATCH as
 * a merge patch (valid, invalid, unknown, re-scored, audited by field names); DELETE
 * erasing the person table by table, checked through the API and in the database file,
 * keeping the do-not-contact record. */
#include "harness.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/* ---- a small RFC 4180 reader, so the tests check the file as a spreadsheet reads it --- */

/* The records of csv (len bytes) as an array of arrays of strings. */
static json_t *csv_parse(const char *csv, size_t len)
{
    json_t *rows = json_array(), *row = json_array();
    char *cell = malloc(len + 1);
    assert_non_null(cell);
    size_t n = 0, i = 0;
    bool quoted = false, any = false;
    for (; i < len; i++) {
        char c = csv[i];
        if (quoted) {
            if (c == '"' && i + 1 < len && csv[i + 1] == '"')
                cell[n++] = csv[++i];
            else if (c == '"')
                quoted = false;
            else
                cell[n++] = c;
        } else if (c == '"') {
            quoted = any = true;
        } else if (c == ',' || c == '\n') {
            json_array_append_new(row, json_stringn(cell, n));
            n = 0;
            if (c == '\n') {
                json_array_append_new(rows, row);
                row = json_array();
                any = false;
            }
        } else if (c != '\r' || (i + 1 < len && csv[i + 1] != '\n')) {
            cell[n++] = c;
            any = true;
        }
    }
    if (any || n || json_array_size(row)) {
        json_array_append_new(row, json_stringn(cell, n));
        json_array_append_new(rows, row);
    } else {
        json_decref(row);
    }
    free(cell);
    return rows;
}

/* The column index of name in the header row, failing the test when absent. */
static size_t col(json_t *rows, const char *name)
{
    size_t i;
    json_t *h;
    json_array_foreach(json_array_get(rows, 0), i,
                       h) if (strcmp(json_string_value(h), name) == 0) return i;
    fail_msg("column %s not in the header", name);
    return 0;
}

/* The data row whose column c is v, or NULL. */
static json_t *row_where(json_t *rows, size_t c, const char *v)
{
    for (size_t i = 1; i < json_array_size(rows); i++) {
        json_t *row = json_array_get(rows, i);
        if (strcmp(json_string_value(json_array_get(row, c)), v) == 0)
            return row;
    }
    return NULL;
}

static const char *cell(json_t *row, size_t c)
{
    return json_string_value(json_array_get(row, c));
}

/* GET path expecting 200 text/csv; returns the body (owned by r). */
static const char *get_csv(const char *path, struct resp *r)
{
    http("GET", path, NULL, NULL, 0, r);
    if (r->status != 200)
        fail_msg("%s: %ld %.300s", path, r->status, r->body);
    assert_string_equal(r->content_type, "text/csv; charset=utf-8");
    char disp[128];
    assert_non_null(resp_header(r, "Content-Disposition", disp, sizeof disp));
    assert_string_equal(disp, "attachment; filename=\"leads.csv\"");
    return r->body;
}

/* Invokes qualification on input; copies the new lead's id into id. */
static void make_lead(const char *input, char id[64])
{
    struct resp r;
    json_t *j = run_agent("qualification", input, &r);
    assert_non_null(jstr(j, "lead_id"));
    snprintf(id, 64, "%s", jstr(j, "lead_id"));
    resp_free(&r);
}

/* ---- the database file, opened as an operator would (read-only) ------------------------ */

static long db_count(const struct server *s, const char *sql, const char *arg)
{
    char path[600];
    snprintf(path, sizeof path, "%s", s->db_url + strlen("sqlite://"));
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (arg)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long n = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void db_write(const struct server *s, const char *sql)
{
    char path[600];
    snprintf(path, sizeof path, "%s", s->db_url + strlen("sqlite://"));
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    sqlite3_close(db);
}

/* ---- the tests ------------------------------------------------------------------------ */

/* Leads of realistic shapes: non-ASCII names, a comma and quotes in the company, a line
 * break in the notes, an extra field; 420 generated ones on top, more than a page. */
static void seed_roundtrip_leads(void)
{
    char id[64];
    make_lead("{\"company_name\":\"Brauerei Müller GmbH\",\"industry\":\"Manufacturing\","
              "\"company_size\":\"201-500\",\"country\":\"DE\",\"website\":\"brauerei-mueller.de\","
              "\"contact_info\":{\"name\":\"Zoë Müller\",\"title\":\"Head of Operations\","
              "\"email\":\"zoe.mueller@brauerei-mueller.de\",\"phone\":\"+49 89 5550 1234\"},"
              "\"notes\":\"Met at Hannover Messe.\\nWants a call in Q3, \\\"after the audit\\\".\","
              "\"lead_source\":\"trade show\"}",
              id);
    make_lead("{\"company_name\":\"Bolt, Nut & \\\"Co\\\" Ltd\",\"industry\":\"Manufacturing\","
              "\"company_size\":\"50-200\",\"country\":\"GB\",\"contact_info\":{\"name\":\"Renée "
              "O'Hara\",\"title\":\"Procurement Lead\",\"email\":\"renee.ohara@boltnut.co.uk\"},"
              "\"signals\":[\"pricing_page_visit\",\"requested_demo\"]}",
              id);
    /* signals holding the separators: a comma, a semicolon, a pipe, and one alone with a
     * comma (they came back split, and an import of the export into the same store added
     * the pieces to the signals and raised the score) */
    make_lead("{\"company_name\":\"Signalwerk AG\",\"contact_info\":{\"name\":\"Ines "
              "Vogt\",\"email\":\"ines.vogt@signalwerk.de\"},\"signals\":[\"raised Series B, "
              "$20M\",\"hiring SDRs; 5 roles\",\"new CFO | ex-SAP\"]}",
              id);
    make_lead("{\"company_name\":\"Signalwerk AG\",\"contact_info\":{\"name\":\"Ole "
              "Berg\",\"email\":\"ole.berg@signalwerk.de\"},\"signals\":[\"raised Series B, "
              "$20M\"]}",
              id);
    /* more than one page of the export (200 leads a page), through the import */
    size_t cap = 420 * 160 + 200, n = 0;
    char *csv = malloc(cap);
    assert_non_null(csv);
    n += (size_t)snprintf(csv + n, cap - n,
                          "Company,First Name,Last Name,Job Title,Email,Industry,"
                          "Employees\r\n");
    static const char *const titles[] = {"VP of Sales", "Account Executive", "CTO", "Buyer"};
    static const char *const sizes[] = {"11-50", "51-200", "201-500", "1000+"};
    for (int i = 0; i < 420; i++)
        n += (size_t)snprintf(csv + n, cap - n,
                              "Harbor Logistics %03d,Sam,Lee%03d,%s,sam.lee%03d@harbor%03d.example,"
                              "Logistics,%s\r\n",
                              i, i, titles[i % 4], i, i, sizes[i % 4]);
    struct resp r;
    http("POST", "/api/leads/import", "text/csv", csv, n, &r);
    free(csv);
    if (r.status != 200)
        fail_msg("import: %ld %.300s", r.status, r.body);
    resp_free(&r);
}

/* Every lead of the list (all pages), keyed by e-mail: {company, name, title, phone,
 * industry, country, score, tier, lead_source, notes}. */
static json_t *leads_by_email(void)
{
    json_t *all = json_object();
    for (int off = 0;; off += 500) {
        struct resp r;
        char *path = strf("/api/leads?limit=500&offset=%d", off);
        json_t *j = http_json("GET", path, NULL, &r);
        free(path);
        assert_int_equal(r.status, 200);
        size_t i;
        json_t *l;
        json_array_foreach(json_object_get(j, "items"), i, l)
        {
            json_t *v = json_pack(
                "{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "signals",
                json_object_get(json_object_get(l, "data"), "signals") ? jget(l, "data.signals")
                                                                       : json_null(),
                "company", jget(l, "company_name"), "name", jget(l, "contact_info.name"), "title",
                jget(l, "contact_info.title"), "phone", jget(l, "contact_info.phone"), "industry",
                jget(l, "industry"), "country", jget(l, "country"), "score",
                jget(l, "qualification.score"), "tier", jget(l, "qualification.tier"),
                "lead_source",
                json_object_get(json_object_get(l, "data"), "lead_source")
                    ? jget(l, "data.lead_source")
                    : json_null(),
                "notes",
                json_object_get(json_object_get(l, "data"), "notes") ? jget(l, "data.notes")
                                                                     : json_null());
            json_object_set_new(all, jstr(l, "contact_info.email"), v);
        }
        size_t got = json_array_size(json_object_get(j, "items"));
        resp_free(&r);
        if (got < 500)
            break;
    }
    return all;
}

/* Export then import into a fresh server: the same leads, field by field, score and
 * tier included; more than a page of leads comes out, each once. */
static void test_roundtrip(void **state)
{
    (void)state;
    seed_roundtrip_leads();
    long total = leads_total();
    assert_int_equal(total, 424);
    struct resp r;
    const char *csv = get_csv("/api/leads/export?format=csv", &r);
    json_t *rows = csv_parse(csv, r.len);
    assert_int_equal(json_array_size(rows), 1 + 424);
    json_t *before = leads_by_email();
    assert_int_equal(json_object_size(before), 424);
    /* the export imported into the store it came from changes nothing */
    struct resp ir;
    http("POST", "/api/leads/import", "text/csv", r.body, r.len, &ir);
    if (ir.status != 200)
        fail_msg("import of the export: %ld %.400s", ir.status, ir.body);
    resp_free(&ir);
    json_t *again = leads_by_email();
    if (!json_equal(before, again)) {
        const char *k;
        json_t *x;
        json_object_foreach(before, k, x)
        {
            if (!json_equal(x, json_object_get(again, k)))
                fail_msg("%s changed on importing its export:\n  %s\n  %s", k,
                         json_dumps(x, JSON_COMPACT),
                         json_dumps(json_object_get(again, k), JSON_COMPACT));
        }
    }
    json_decref(again);

    assert_int_equal(server_start(&runs_srv, false), 0);
    harness_use(&runs_srv);
    http("POST", "/api/leads/import", "text/csv", r.body, r.len, &ir);
    if (ir.status != 200)
        fail_msg("import of the export: %ld %.400s", ir.status, ir.body);
    resp_free(&ir);
    json_t *after = leads_by_email();
    const char *email;
    json_t *v;
    json_object_foreach(before, email, v)
    {
        json_t *w = json_object_get(after, email);
        if (!json_equal(v, w)) {
            char *a = json_dumps(v, JSON_COMPACT), *b = json_dumps(w, JSON_COMPACT);
            fail_msg("%s differs after the round trip:\n  %s\n  %s", email, a, b ? b : "missing");
        }
    }
    assert_int_equal(json_object_size(after), 424);
    json_decref(before);
    json_decref(after);
    json_decref(rows);
    resp_free(&r);
}

/* The column of rows' header named name. */
static size_t column_of(const json_t *rows, const char *name)
{
    const json_t *header = json_array_get(rows, 0);
    for (size_t i = 0; i < json_array_size(header); i++)
        if (strcmp(json_string_value(json_array_get(header, i)), name) == 0)
            return i;
    fail_msg("no column %s", name);
    return 0;
}

/* The export in each of the list's orders, over more than two keyset pages (424 leads):
 * every lead once, in order; a bad order is 422. */
static void test_export_sorted(void **state)
{
    (void)state;
    static const struct {
        const char *sort, *column;
        int dir;
        bool number;
    } orders[] = {{"score", "Score", 1, true},
                  {"-score", "Score", -1, true},
                  {"company", "Company Name", 1, false},
                  {"created_at", NULL, 1, false},
                  {"-created_at", NULL, -1, false}};
    for (size_t o = 0; o < sizeof orders / sizeof orders[0]; o++) {
        char path[128];
        snprintf(path, sizeof path, "/api/leads/export?sort=%s", orders[o].sort);
        struct resp r;
        const char *csv = get_csv(path, &r);
        json_t *rows = csv_parse(csv, r.len);
        assert_int_equal(json_array_size(rows), 1 + 424);
        size_t email = column_of(rows, "Email");
        json_t *seen = json_object();
        for (size_t i = 1; i < json_array_size(rows); i++) {
            const char *e = json_string_value(json_array_get(json_array_get(rows, i), email));
            if (json_object_get(seen, e))
                fail_msg("sort=%s: %s twice", orders[o].sort, e);
            json_object_set_new(seen, e, json_true());
            if (!orders[o].column || i == 1)
                continue;
            size_t c = column_of(rows, orders[o].column);
            const char *a = json_string_value(json_array_get(json_array_get(rows, i - 1), c));
            const char *b = json_string_value(json_array_get(json_array_get(rows, i), c));
            int cmp =
                orders[o].number ? (*a ? atoi(a) : -1) - (*b ? atoi(b) : -1) : strcasecmp(a, b);
            if (cmp * orders[o].dir > 0)
                fail_msg("sort=%s: row %zu (%s) before row %zu (%s)", orders[o].sort, i - 1, a, i,
                         b);
        }
        assert_int_equal(json_object_size(seen), 424);
        json_decref(seen);
        json_decref(rows);
        resp_free(&r);
    }
    struct resp r;
    http("GET", "/api/leads/export?sort=revenue", NULL, NULL, 0, &r);
    expect_problem("bad sort", &r, 422, "[\"query\",\"sort\"]", NULL);
    resp_free(&r);
}

/* The suppression list: every do-not-contact contact as CSV for other mail tools, with
 * the reason quoted and neutralised; a contact that is not do-not-contact is not in it. */
static void test_suppression(void **state)
{
    (void)state;
    struct resp r;
    http_json("POST", "/api/contacts/zoe.suppress@example.com/do-not-contact",
              "{\"reason\":\"=asked by phone, twice\"}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    http_json("POST", "/api/contacts/li.suppress@example.com/do-not-contact",
              "{\"reason\":\"left the company\"}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    http_json("GET", "/api/contacts/kept.suppress@example.com", NULL, &r); /* never opted out */
    resp_free(&r);
    http("GET", "/api/contacts/suppression", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    char ct[64];
    assert_non_null(strstr(resp_header(&r, "Content-Type", ct, sizeof ct), "text/csv"));
    json_t *rows = csv_parse(r.body, r.len);
    assert_string_equal(jdump(json_array_get(rows, 0)),
                        "[\"Email\",\"Source\",\"Reason\",\"Since\"]");
    bool zoe = false, li = false;
    for (size_t i = 1; i < json_array_size(rows); i++) {
        json_t *row = json_array_get(rows, i);
        const char *email = json_string_value(json_array_get(row, 0));
        if (strcmp(email, "zoe.suppress@example.com") == 0) {
            zoe = true;
            assert_string_equal(json_string_value(json_array_get(row, 1)), "operator");
            assert_string_equal(json_string_value(json_array_get(row, 2)),
                                "'=asked by phone, twice"); /* neutralised, one cell */
            assert_int_equal(json_string_value(json_array_get(row, 3))[4], '-'); /* a date */
        }
        li |= strcmp(email, "li.suppress@example.com") == 0;
        assert_string_not_equal(email, "kept.suppress@example.com");
    }
    assert_true(zoe && li);
    json_decref(rows);
    resp_free(&r);
}

/* Quoting, the BOM, formula neutralisation (OWASP) and the list's filters. */
static void test_export(void **state)
{
    (void)state;
    char id[64];
    make_lead("{\"company_name\":\"Formula Test Ltd\",\"industry\":\"Finance\",\"company_size\":"
              "\"11-50\",\"contact_info\":{\"name\":\"Ivo Petrov\",\"email\":"
              "\"ivo.petrov@formulatest.example\"},\"notes\":\"=cmd|' /C calc'!A0\","
              "\"referral\":\"+1\",\"budget_code\":\"-2\",\"campaign\":\"@x\",\"memo\":\"\\tTAB\","
              "\"padded\":\"  =1+1\",\"after_break\":\"\\n=HYPERLINK(\\\"http://x.example\\\")\"}",
              id);
    struct resp r;
    const char *csv = get_csv("/api/leads/export?q=formulatest", &r);
    assert_true((unsigned char)csv[0] != 0xEF); /* no BOM unless asked */
    const char header[] = "Company Name,Industry,Company Size,Annual Revenue,Website,Country,Notes,"
                          "Contact Name,Contact Title,Email,Phone,LinkedIn URL,Signals,";
    assert_memory_equal(csv, header, sizeof header - 1);
    json_t *rows = csv_parse(csv, r.len);
    assert_int_equal(json_array_size(rows), 2);
    json_t *row = json_array_get(rows, 1);
    assert_string_equal(cell(row, col(rows, "Notes")), "'=cmd|' /C calc'!A0");
    assert_string_equal(cell(row, col(rows, "referral")), "'+1");
    assert_string_equal(cell(row, col(rows, "budget_code")), "'-2");
    assert_string_equal(cell(row, col(rows, "campaign")), "'@x");
    assert_string_equal(cell(row, col(rows, "memo")), "'\tTAB");
    /* a formula after blanks: a spreadsheet that trims them on import would run it */
    assert_string_equal(cell(row, col(rows, "padded")), "'  =1+1");
    assert_string_equal(cell(row, col(rows, "after_break")), "'\n=HYPERLINK(\"http://x.example\")");
    assert_string_equal(cell(row, col(rows, "Contact Name")), "Ivo Petrov");
    /* what the qualification made of the lead, last (the import ignores these columns,
     * which the round trip shows) */
    struct resp sr;
    char *spath = strf("/api/leads/%s", id);
    json_t *lead = http_json("GET", spath, NULL, &sr);
    char score[16];
    snprintf(score, sizeof score, "%lld",
             (long long)json_integer_value(jget(lead, "qualification.score")));
    assert_string_equal(cell(row, col(rows, "Score")), score);
    assert_string_equal(cell(row, col(rows, "Tier")), jstr(lead, "qualification.tier"));
    resp_free(&sr);
    free(spath);
    json_decref(rows);
    assert_non_null(strstr(csv, "\r\n")); /* RFC 4180 line ends */
    resp_free(&r);

    /* quoting: a comma and quotes in the company, a line break in the notes */
    csv = get_csv("/api/leads/export?q=boltnut&bom=true", &r);
    assert_memory_equal(csv,
                        "\xEF\xBB\xBF"
                        "Company Name,",
                        16);
    assert_non_null(strstr(csv, "\"Bolt, Nut & \"\"Co\"\" Ltd\""));
    assert_non_null(strstr(csv, "pricing_page_visit; requested_demo"));
    resp_free(&r);
    csv = get_csv("/api/leads/export?q=brauerei", &r);
    rows = csv_parse(csv, r.len);
    row = row_where(rows, col(rows, "Email"), "zoe.mueller@brauerei-mueller.de");
    assert_non_null(row);
    assert_string_equal(cell(row, col(rows, "Contact Name")), "Zoë Müller");
    assert_string_equal(cell(row, col(rows, "Notes")),
                        "Met at Hannover Messe.\nWants a call in Q3, \"after the audit\".");
    assert_string_equal(cell(row, col(rows, "lead_source")), "trade show");
    json_decref(rows);
    resp_free(&r);

    /* filters: the same leads as the list, for a tier and a minimum score */
    static const char *const filters[] = {"tier=A", "tier=D", "min_score=60", "q=harbor"};
    for (size_t i = 0; i < 4; i++) {
        char *lp = strf("/api/leads?limit=1&%s", filters[i]);
        struct resp lr;
        json_t *j = http_json("GET", lp, NULL, &lr);
        long want = (long)json_integer_value(json_object_get(j, "total"));
        resp_free(&lr);
        free(lp);
        char *ep = strf("/api/leads/export?%s", filters[i]);
        csv = get_csv(ep, &r);
        rows = csv_parse(csv, r.len);
        if ((long)json_array_size(rows) - 1 != want)
            fail_msg("%s: %zu rows exported, the list has %ld", filters[i],
                     json_array_size(rows) - 1, want);
        json_decref(rows);
        resp_free(&r);
        free(ep);
    }
    /* bad parameters: 422 naming the parameter */
    http("GET", "/api/leads/export?format=xlsx", NULL, NULL, 0, &r);
    expect_problem("format", &r, 422, "[\"query\",\"format\"]", "enum");
    resp_free(&r);
    http("GET", "/api/leads/export?tier=E&bom=yes", NULL, NULL, 0, &r);
    expect_problem("tier", &r, 422, "[\"query\",\"tier\"]", "enum");
    assert_string_equal(jstr(r.json, "detail.1.loc.1"), "bom");
    resp_free(&r);
}

static const char ana[] =
    "{\"company_name\":\"Kestrel Freight\",\"industry\":\"Logistics\",\"company_size\":\"11-50\","
    "\"country\":\"US\",\"contact_info\":{\"name\":\"Ana Ruiz\",\"title\":\"Office Manager\","
    "\"email\":\"ana.ruiz@kestrelfreight.example\",\"phone\":\"(312) 555-0187\"}}";

/* PATCH: a merge patch re-scores and answers the lead; invalid fields are all named and
 * nothing changes; unknown ids 404; another lead's e-mail 409; the audit names fields. */
/* A new revenue brings its own currency: the stored one was derived from the old text,
 * so "$30M" over "€30M" is dollars, not a 422 contradiction. */
static void test_patch_revenue_currency(void **state)
{
    (void)state;
    char id[64];
    make_lead("{\"company_name\":\"Eurofirm GmbH\",\"annual_revenue\":\"\xe2\x82\xac"
              "30M\",\"contact_info\":{\"email\":\"cfo@eurofirm.example\"}}",
              id);
    char *path = strf("/api/leads/%s", id);
    struct resp r;
    const char patch[] = "{\"annual_revenue\":\"$30M\"}";
    http("PATCH", path, "application/merge-patch+json", patch, strlen(patch), &r);
    if (r.status != 200)
        fail_msg("patch revenue: %ld %.300s", r.status, r.body);
    resp_free(&r);
    json_t *j = http_json("GET", path, NULL, &r);
    assert_string_equal(jstr(j, "data.revenue_currency"), "USD");
    resp_free(&r);
    free(path);
}

struct patcher {
    const char *path, *body;
    int rounds, ok;
};

static void *patch_thread(void *arg)
{
    struct patcher *p = arg;
    CURL *h = curl_easy_init();
    for (int i = 0; i < p->rounds; i++) {
        struct resp r;
        http_on(h, harness_port(), "PATCH", p->path, "application/json", p->body, strlen(p->body),
                &r);
        p->ok += r.status == 200;
        resp_free(&r);
    }
    curl_easy_cleanup(h);
    return NULL;
}

/* Four clients edit one lead at the same time, each its own field, many times: every
 * edit answers 200 and the lead ends with all four fields (a lost update drops some). */
static void concurrent_patches(const char *path)
{
    struct patcher p[4] = {
        {path, "{\"website\":\"https://kestrel.example\"}", 12, 0},
        {path, "{\"contact_info\":{\"phone\":\"+1 312 555 0199\"}}", 12, 0},
        {path, "{\"country\":\"Canada\"}", 12, 0},
        {path, "{\"annual_revenue\":\"$40M\"}", 12, 0},
    };
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, patch_thread, &p[i]), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++)
        assert_int_equal(p[i].ok, 12);
    struct resp r;
    json_t *j = http_json("GET", path, NULL, &r);
    assert_string_equal(jstr(j, "website"), "https://kestrel.example");
    assert_string_equal(jstr(j, "contact_info.phone"), "+1 312 555 0199");
    assert_string_equal(jstr(j, "country"), "Canada");
    assert_true(json_number_value(jget(j, "annual_revenue")) == 40e6);
    resp_free(&r);
}

static void test_patch(void **state)
{
    (void)state;
    char id[64], other[64];
    make_lead(ana, id);
    make_lead("{\"company_name\":\"Kestrel Freight\",\"contact_info\":{\"name\":\"Dan Ortiz\","
              "\"email\":\"dan.ortiz@kestrelfreight.example\"}}",
              other);
    char *path = strf("/api/leads/%s", id);
    struct resp r;
    json_t *old = http_json("GET", path, NULL, &r);
    long old_score = (long)json_integer_value(jget(old, "qualification.score"));
    long old_execs = (long)json_array_size(json_object_get(old, "executions"));
    char old_updated[64];
    snprintf(old_updated, sizeof old_updated, "%s", jstr(old, "updated_at"));
    resp_free(&r);

    const char patch[] = "{\"company_size\":\"1000+\",\"contact_info\":{\"title\":\"Chief Revenue "
                         "Officer\"},\"signals\":[\"requested_demo\",\"recent_funding\"]}";
    http("PATCH", path, "application/merge-patch+json", patch, strlen(patch), &r);
    if (r.status != 200)
        fail_msg("patch: %ld %.400s", r.status, r.body);
    json_t *j = json_loadb(r.body, r.len, 0, NULL);
    assert_string_equal(jstr(j, "contact_info.title"), "Chief Revenue Officer");
    assert_string_equal(jstr(j, "contact_info.name"), "Ana Ruiz");        /* kept */
    assert_string_equal(jstr(j, "contact_info.phone"), "(312) 555-0187"); /* kept */
    assert_string_equal(jstr(j, "company_size"), "1000+");
    long new_score = (long)json_integer_value(jget(j, "qualification.score"));
    if (new_score <= old_score)
        fail_msg("not re-scored: %ld then %ld", old_score, new_score);
    assert_int_equal((long)json_array_size(json_object_get(j, "executions")), old_execs + 1);
    json_decref(j);
    resp_free(&r);

    /* null removes a field (application/json works too) */
    http("PATCH", path, "application/json", "{\"country\":null}", 16, &r);
    assert_int_equal(r.status, 200);
    j = json_loadb(r.body, r.len, 0, NULL);
    assert_true(json_is_null(jget(j, "country")));
    snprintf(old_updated, sizeof old_updated, "%s", jstr(j, "updated_at"));
    json_decref(j);
    resp_free(&r);

    /* invalid: both fields named, nothing written */
    const char bad[] = "{\"company_name\":null,\"contact_info\":{\"email\":\"not-an-email\"}}";
    http("PATCH", path, "application/merge-patch+json", bad, strlen(bad), &r);
    expect_problem("invalid patch", &r, 422, NULL, NULL);
    bool saw_company = false, saw_email = false;
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(r.json, "detail"), i, d)
    {
        const char *loc = jdump(json_object_get(d, "loc"));
        saw_company |= strcmp(loc, "[\"body\",\"company_name\"]") == 0;
        saw_email |= strcmp(loc, "[\"body\",\"contact_info\",\"email\"]") == 0;
    }
    if (!saw_company || !saw_email)
        fail_msg("422 should name both fields: %.400s", r.body);
    resp_free(&r);
    j = http_json("GET", path, NULL, &r);
    assert_string_equal(jstr(j, "company_name"), "Kestrel Freight");
    assert_string_equal(jstr(j, "contact_info.email"), "ana.ruiz@kestrelfreight.example");
    assert_string_equal(jstr(j, "updated_at"), old_updated);
    resp_free(&r);

    /* another lead's e-mail: 409, nothing written */
    const char dup[] = "{\"contact_info\":{\"email\":\"dan.ortiz@kestrelfreight.example\"}}";
    http("PATCH", path, "application/json", dup, strlen(dup), &r);
    expect_problem("duplicate e-mail", &r, 409, "[\"body\",\"contact_info\",\"email\"]", NULL);
    resp_free(&r);
    /* not an object, unknown and malformed ids */
    http("PATCH", path, "application/json", "[1]", 3, &r);
    assert_true(r.status == 400 || r.status == 422);
    resp_free(&r);
    http("PATCH", "/api/leads/0190f5a2-7c1e-7d2a-9b3c-4d5e6f708192", "application/json", "{}", 2,
         &r);
    expect_problem("unknown lead", &r, 404, "[\"path\",\"id\"]", NULL);
    resp_free(&r);
    http("PATCH", "/api/leads/nope", "application/json", "{}", 2, &r);
    assert_int_equal(r.status, 422);
    resp_free(&r);

    /* the audit names the fields, never their values */
    j = http_json("GET", "/api/audit?action=lead.update&limit=5", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "items.1.target"), id);
    const char *rec = strstr(r.body, "contact_info.title");
    assert_non_null(rec);
    assert_null(strstr(r.body, "Chief Revenue Officer"));
    assert_int_equal(json_array_size(json_object_get(j, "items")), 2); /* not the failures */
    resp_free(&r);
    /* If-Match: the ETag of GET; a patch against a stale version is 412 and writes nothing */
    j = http_json("GET", path, NULL, &r);
    char etag[64], etag_hdr[128], buf[64];
    assert_non_null(resp_header(&r, "ETag", etag, sizeof etag));
    assert_int_equal(etag[0], '"');
    snprintf(old_updated, sizeof old_updated, "%s", jstr(j, "updated_at"));
    resp_free(&r);
    snprintf(etag_hdr, sizeof etag_hdr, "If-Match: %s", etag);
    const char logistics[] = "{\"industry\":\"Logistics\"}", retail[] = "{\"industry\":\"Retail\"}";
    harness_extra_header(etag_hdr);
    http("PATCH", path, "application/json", logistics, strlen(logistics), &r);
    harness_extra_header(NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(resp_header(&r, "ETag", buf, sizeof buf));
    assert_string_not_equal(buf, etag); /* a new version */
    resp_free(&r);
    harness_extra_header(etag_hdr); /* the version before that patch: stale */
    http("PATCH", path, "application/json", retail, strlen(retail), &r);
    harness_extra_header(NULL);
    expect_problem("stale If-Match", &r, 412, "[\"header\",\"If-Match\"]", NULL);
    resp_free(&r);
    j = http_json("GET", path, NULL, &r);
    assert_string_equal(jstr(j, "industry"), "Logistics");
    resp_free(&r);
    /* a weak form of the current tag does not match either */
    j = http_json("GET", path, NULL, &r);
    assert_non_null(resp_header(&r, "ETag", etag, sizeof etag));
    resp_free(&r);
    snprintf(etag_hdr, sizeof etag_hdr, "If-Match: W/%s", etag);
    harness_extra_header(etag_hdr);
    http("PATCH", path, "application/json", retail, strlen(retail), &r);
    harness_extra_header(NULL);
    expect_problem("weak If-Match", &r, 412, "[\"header\",\"If-Match\"]", NULL);
    resp_free(&r);
    harness_extra_header("If-Match: *");
    http("PATCH", path, "application/json", "{}", 2, &r);
    harness_extra_header(NULL);
    assert_int_equal(r.status, 200);
    resp_free(&r);

    /* two edits at once of different fields: both land (neither read-modify-write is lost) */
    concurrent_patches(path);

    free(path);
}

/* DELETE: the pipeline's run, approval, outbox items (one of them sent), the lead's
 * executions and checkpoints and a cache entry keyed on the e-mail all go; the
 * do-not-contact record stays; the audit record has no personal data. */
static void test_erase(void **state)
{
    (void)state;
    SKIP_ON_PG("it stages rows in and counts them table by table in the server's SQLite file");
    harness_use(&main_srv);
    struct resp r;
    json_t *j = approval_pending(strong_known_csv, &r);
    char id[64], aid[64], thread[160];
    snprintf(id, sizeof id, "%s", jstr(j, "lead_id"));
    snprintf(aid, sizeof aid, "%s", jstr(j, "output.approvals.0.approval_id"));
    snprintf(thread, sizeof thread, "%s", jstr(j, "thread_id"));
    resp_free(&r);
    char *apath = strf("/api/approvals/%s", aid);
    http_json("POST", apath, "{\"type\":\"accept\"}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    /* one item delivered (as the worker would mark it), a DNC record, a person's cache entry */
    db_write(&main_srv, "UPDATE outbox SET status = 'sent', sent_at = '2026-03-02T09:00:00.000Z' "
                        "WHERE id = (SELECT id FROM outbox WHERE kind = 'email' LIMIT 1)");
    db_write(&main_srv, "INSERT INTO enrichment_cache VALUES ('person:email:maya@quorvianta.io', "
                        "'apollo', '{\"title\":\"VP of Sales\"}', '2026-03-01T00:00:00.000Z', "
                        "'2099-01-01T00:00:00.000Z')");
    http_json("POST", "/api/contacts/maya@quorvianta.io/do-not-contact",
              "{\"reason\":\"erasure request\"}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    long queued = db_count(&main_srv,
                           "SELECT count(*) FROM outbox WHERE to_email = ?1 AND "
                           "status = 'queued'",
                           "maya@quorvianta.io");
    assert_true(queued >= 1);
    assert_true(db_count(&main_srv, "SELECT count(*) FROM graph_checkpoints WHERE thread_id = ?1",
                         thread) > 0);

    char *path = strf("/api/leads/%s", id);
    http("PATCH", path, "application/json", "{}", 2, &r); /* scored again: an execution */
    assert_int_equal(r.status, 200);
    resp_free(&r);
    long execs =
        db_count(&main_srv, "SELECT count(*) FROM agent_executions WHERE lead_id = ?1", id);
    assert_true(execs >= 1);
    assert_int_equal(
        db_count(&main_srv, "SELECT count(*) FROM lead_fts WHERE lead_fts MATCH 'okafor'", NULL),
        1);
    j = http_json("DELETE", path, NULL, &r);
    if (r.status != 200)
        fail_msg("erase: %ld %.400s", r.status, r.body);
    assert_string_equal(jstr(j, "id"), id);
    assert_int_equal(json_integer_value(jget(j, "erased.leads")), 1);
    assert_true(json_integer_value(jget(j, "erased.executions")) >= execs);
    assert_int_equal(json_integer_value(jget(j, "erased.runs")), 1);
    assert_int_equal(json_integer_value(jget(j, "erased.approvals")), 1);
    assert_int_equal(json_integer_value(jget(j, "erased.outbox_cancelled")), queued);
    assert_int_equal(json_integer_value(jget(j, "erased.outbox_redacted")), 1);
    assert_int_equal(json_integer_value(jget(j, "erased.enrichment_cache")), 1);
    assert_true(json_integer_value(jget(j, "erased.checkpoint_threads")) >= 1);
    resp_free(&r);

    /* through the API */
    http("GET", path, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    http("GET", apath, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    char *tpath = strf("/api/threads/%s/state", thread);
    http("GET", tpath, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    j = http_json("GET", "/api/outbox?limit=100", NULL, &r);
    assert_null(strstr(r.body, "quorvianta"));
    assert_null(strstr(r.body, "Maya"));
    resp_free(&r);
    j = http_json("GET", "/api/contacts/maya@quorvianta.io", NULL, &r);
    assert_true(json_is_true(jget(j, "do_not_contact"))); /* kept: its purpose */
    resp_free(&r);
    /* table by table, in the file */
    static const char *const gone[] = {
        "SELECT count(*) FROM leads WHERE id = ?1",
        "SELECT count(*) FROM agent_executions WHERE lead_id = ?1",
        "SELECT count(*) FROM runs WHERE lead_id = ?1",
        "SELECT count(*) FROM approvals WHERE lead_id = ?1",
        "SELECT count(*) FROM outbox WHERE to_email <> '' OR payload <> '{}'",
        "SELECT count(*) FROM outbox WHERE status = 'queued'",
        "SELECT count(*) FROM leads WHERE contact_email LIKE '%quorvianta%'",
        "SELECT count(*) FROM agent_executions WHERE input LIKE '%Okafor%' OR output LIKE "
        "'%Okafor%'",
        "SELECT count(*) FROM runs WHERE input LIKE '%Okafor%'",
        "SELECT count(*) FROM approvals WHERE request LIKE '%Okafor%'",
        "SELECT count(*) FROM outbox WHERE to_email LIKE '%quorvianta%' OR payload LIKE '%Maya%'",
        "SELECT count(*) FROM enrichment_cache WHERE cache_key LIKE '%maya@%'",
    };
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) {
        long n = db_count(&main_srv, gone[i], id);
        if (n != 0)
            fail_msg("%ld rows left: %s", n, gone[i]);
    }
    assert_int_equal(
        db_count(&main_srv, "SELECT count(*) FROM graph_checkpoints WHERE thread_id = ?1", thread),
        0);
    /* the search index: its queue applied at the commit (migration 011), the erased
     * person's trigrams gone, and FTS5's own check of the index against lead_search */
    assert_int_equal(db_count(&main_srv, "SELECT count(*) FROM lead_fts_queue", NULL), 0);
    assert_int_equal(
        db_count(&main_srv, "SELECT count(*) FROM lead_fts WHERE lead_fts MATCH 'okafor'", NULL),
        0);
    db_write(&main_srv, "INSERT INTO lead_fts (lead_fts) VALUES ('integrity-check')");
    assert_int_equal(db_count(&main_srv,
                              "SELECT count(*) FROM outbox WHERE status = 'sent' AND "
                              "sent_at IS NOT NULL AND to_email = ''",
                              NULL),
                     1); /* the sent one keeps its status and dates */
    assert_int_equal(db_count(&main_srv,
                              "SELECT count(*) FROM outbox WHERE status = "
                              "'cancelled' AND last_error = 'erased'",
                              NULL),
                     queued);
    assert_int_equal(db_count(&main_srv,
                              "SELECT count(*) FROM contacts WHERE email = ?1 AND "
                              "do_not_contact = 1",
                              "maya@quorvianta.io"),
                     1);
    /* the audit record: the lead id and counts, no personal data */
    j = http_json("GET", "/api/audit?action=lead.erase", NULL, &r);
    assert_string_equal(jstr(j, "items.0.target"), id);
    assert_int_equal(json_integer_value(jget(j, "items.0.detail.erased.runs")), 1);
    assert_null(strstr(r.body, "quorvianta"));
    assert_null(strstr(r.body, "Okafor"));
    resp_free(&r);
    /* again: 404; a malformed id: 422 */
    http("DELETE", path, NULL, NULL, 0, &r);
    expect_problem("erased twice", &r, 404, "[\"path\",\"id\"]", NULL);
    resp_free(&r);
    http("DELETE", "/api/leads/not-a-uuid", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 422);
    resp_free(&r);
    /* the erased id is retired: a write naming it (as a write that read the lead before
     * the erasure would) is refused, not a resurrection of the person */
    char *again = strf("{\"agent_type\":\"qualification\",\"lead_id\":\"%s\",\"input\":"
                       "{\"company_name\":\"Quorvianta Software\",\"contact_info\":{\"email\":"
                       "\"maya@quorvianta.io\"}}}",
                       id);
    invoke(again, &r);
    free(again);
    expect_problem("write to an erased lead", &r, 409, NULL, NULL);
    resp_free(&r);
    assert_int_equal(db_count(&main_srv, "SELECT count(*) FROM leads WHERE id = ?1", id), 0);
    free(tpath);
    free(path);
    free(apath);
}

static int group_setup(void **state)
{
    setenv("OUTBOX_POLL_MS", "0", 1); /* hold the mail: the test marks one item sent */
    return api_group_setup(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, runs_setup, runs_teardown),
        cmocka_unit_test(test_export_sorted),
        cmocka_unit_test(test_suppression),
        cmocka_unit_test(test_export),
        cmocka_unit_test(test_patch),
        cmocka_unit_test(test_patch_revenue_currency),
        cmocka_unit_test(test_erase),
    };
    return api_exit_status(cmocka_run_group_tests(tests, group_setup, api_group_teardown));
}
