/* The store contract suite: every operation's documented behaviour (store.h, graph/saver.h)
 * run against one backend URL, so each backend passes the same tests unchanged. The URL
 * comes from argv[1], else $STORE_URL, else a temporary SQLite file this suite creates and
 * removes. Tests assume nothing about data already stored (a PostgreSQL database may hold
 * earlier runs): every id, e-mail, name and thread is made unique to the run. */
#include <ctype.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/clock.h"
#include "base/uuid.h"
#include "graph/saver.h"
#include "store/store.h"

static char dir[64];   /* the temporary directory of the default URL, or "" */
static char url[1024]; /* the backend under test */
static char tok[9];    /* unique to this run: goes into names, e-mails, keys, threads */

/* ---- helpers ---------------------------------------------------------------------- */

static struct sa_store *open_store(void)
{
    struct sa_store *s = NULL;
    struct sa_err err = {0};
    if (sa_store_open(url, 4, &s, &err) || sa_store_migrate(s, &err))
        fail_msg("open %s: %s", url, err.msg);
    return s;
}

/* "<prefix>-<tok><suffix>" into out: a name or key no earlier run used. */
static const char *uniq(char *out, size_t cap, const char *prefix, const char *suffix)
{
    snprintf(out, cap, "%s-%s%s", prefix, tok, suffix);
    return out;
}

static struct sa_lead_row lead(const char *id, const char *name, int score, const char *tier,
                               const char *email)
{
    return (struct sa_lead_row){.id = id,
                                .company_name = name,
                                .employees_min = -1,
                                .employees_max = -1,
                                .annual_revenue = -1,
                                .data = "{}",
                                .score = score,
                                .tier = tier,
                                .reasoning = "r",
                                .contact_email = email};
}

static struct sa_exec_row exec(const char *id, const char *lead_id)
{
    return (struct sa_exec_row){.id = id,
                                .lead_id = lead_id,
                                .agent_type = "qualification",
                                .thread_id = "t1",
                                .success = true,
                                .input = "{}",
                                .output = "{\"score\":1}",
                                .processing_time_ms = 0.01};
}

/* Saves a lead with a fresh execution; its id (a new UUIDv7) into id. */
static void save_lead(struct sa_store *s, char id[SA_UUID_LEN], const char *name, const char *email,
                      const char *website)
{
    char eid[SA_UUID_LEN];
    sa_uuid_v7(id);
    sa_uuid_v7(eid);
    struct sa_lead_row l = lead(id, name, -1, NULL, email);
    l.website = website;
    char data[160]; /* the stored input, as an invoke gives it */
    snprintf(data, sizeof data, "{\"company_name\":\"%s\",\"notes\":\"Gr\u00fc\u00dfe\"}", name);
    l.data = data;
    struct sa_exec_row e = exec(eid, id);
    struct sa_err err = {0};
    if (sa_store_save_invocation(s, &l, &e, &err))
        fail_msg("save %s: %s", name, err.msg);
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The element of arr whose key is value, or NULL. */
static json_t *find_by(const json_t *arr, const char *key, const char *value)
{
    size_t i;
    json_t *it;
    json_array_foreach(arr, i, it)
    {
        const char *v = str(it, key);
        if (v && strcmp(v, value) == 0)
            return it;
    }
    return NULL;
}

/* How many elements of arr have key equal to value. */
static size_t count_by(const json_t *arr, const char *key, const char *value)
{
    size_t n = 0, i;
    json_t *it;
    json_array_foreach(arr, i, it)
    {
        const char *v = str(it, key);
        n += v && strcmp(v, value) == 0;
    }
    return n;
}

/* ---- the store itself ------------------------------------------------------------- */

/* Migrations are idempotent; health answers with a status text. */
static void test_migrate_twice_and_health(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    assert_int_equal(sa_store_migrate(s, &err), 0);
    char detail[64] = "";
    assert_int_equal(sa_store_health(s, detail, sizeof detail, &err), 0);
    assert_true(detail[0] != '\0');
    assert_non_null(sa_store_scheme(s));
    sa_store_close(s);
}

/* ---- leads ------------------------------------------------------------------------ */

/* An invocation writes its lead and execution together or not at all; so does a batch. */
static void test_lead_writes_are_all_or_nothing(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char l1[SA_UUID_LEN], e1[SA_UUID_LEN], name[64];
    sa_uuid_v7(l1);
    sa_uuid_v7(e1);
    struct sa_lead_row lr = lead(l1, uniq(name, sizeof name, "Acme", ""), 70, "B", NULL);
    struct sa_exec_row er = exec(e1, l1);
    assert_int_equal(sa_store_save_invocation(s, &lr, &er, &err), 0);
    /* same execution id again: the execution insert fails, so the lead update must not land */
    struct sa_lead_row changed = lead(l1, "Renamed", 10, "D", NULL);
    assert_int_equal(sa_store_save_invocation(s, &changed, &er, &err), SA_ESTORE);
    json_t *got = NULL;
    assert_int_equal(sa_store_get_lead(s, l1, &got, &err), 0);
    assert_string_equal(str(got, "company_name"), name);
    json_decref(got);
    json_t *execs = NULL;
    assert_int_equal(sa_store_list_executions(s, l1, 10, &execs, &err), 0);
    assert_int_equal(json_array_size(execs), 1);
    json_decref(execs);

    /* save_many: the second lead's execution collides, so the first lead is not written */
    char a[SA_UUID_LEN], b[SA_UUID_LEN], ea[SA_UUID_LEN], eb[SA_UUID_LEN];
    sa_uuid_v7(a);
    sa_uuid_v7(b);
    sa_uuid_v7(ea);
    sa_uuid_v7(eb);
    struct sa_lead_row rows[2] = {lead(a, name, -1, NULL, NULL), lead(b, name, -1, NULL, NULL)};
    struct sa_exec_row ers[2] = {exec(ea, a), exec(e1, b)};
    assert_int_equal(sa_store_save_many(s, rows, ers, 2, &err), SA_ESTORE);
    assert_int_equal(sa_store_get_lead(s, a, &got, &err), SA_ENOTFOUND);
    assert_int_equal(sa_store_get_lead(s, b, &got, &err), SA_ENOTFOUND);
    ers[1] = exec(eb, b);
    assert_int_equal(sa_store_save_many(s, rows, ers, 2, &err), 0);
    assert_int_equal(sa_store_get_lead(s, a, &got, &err), 0);
    json_decref(got);
    assert_int_equal(sa_store_get_lead(s, b, &got, &err), 0);
    json_decref(got);
    /* without executions */
    char c[SA_UUID_LEN];
    sa_uuid_v7(c);
    struct sa_lead_row only = lead(c, name, -1, NULL, NULL);
    assert_int_equal(sa_store_save_many(s, &only, NULL, 1, &err), 0);
    assert_int_equal(sa_store_list_executions(s, c, 10, &execs, &err), 0);
    assert_int_equal(json_array_size(execs), 0);
    json_decref(execs);
    sa_store_close(s);
}

/* Upserts keep created_at and take a new qualification; insert-if-new is a no-op (lead
 * and execution) for a known id. */
static void test_upsert_and_insert_if_new(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char l2[SA_UUID_LEN], e2a[SA_UUID_LEN], e2b[SA_UUID_LEN], e2c[SA_UUID_LEN], name[64];
    sa_uuid_v7(l2);
    sa_uuid_v7(e2a);
    sa_uuid_v7(e2b);
    sa_uuid_v7(e2c);
    struct sa_lead_row lr = lead(l2, uniq(name, sizeof name, "Beta", ""), 50, "C", "x@acme.io");
    struct sa_exec_row e1 = exec(e2a, l2), e2 = exec(e2b, l2), e3 = exec(e2c, l2);
    assert_int_equal(sa_store_save_invocation(s, &lr, &e1, &err), 0);
    json_t *first = NULL, *second = NULL;
    assert_int_equal(sa_store_get_lead(s, l2, &first, &err), 0);
    usleep(2000);
    lr.score = 90;
    lr.tier = "A";
    assert_int_equal(sa_store_save_invocation(s, &lr, &e2, &err), 0);
    assert_int_equal(sa_store_get_lead(s, l2, &second, &err), 0);
    assert_string_equal(str(first, "created_at"), str(second, "created_at"));
    json_t *q = json_object_get(second, "qualification");
    assert_int_equal(json_integer_value(json_object_get(q, "score")), 90);
    assert_string_equal(str(q, "tier"), "A");
    json_decref(first);
    json_decref(second);
    bool inserted = true;
    assert_int_equal(sa_store_insert_lead_if_new(s, &lr, &e3, &inserted, &err), 0);
    assert_false(inserted);
    json_t *execs = NULL;
    assert_int_equal(sa_store_list_executions(s, l2, 10, &execs, &err), 0);
    assert_int_equal(json_array_size(execs), 2); /* e3 was not written */
    json_decref(execs);
    /* an unqualified write (score < 0) keeps the stored qualification, and writes the
     * columns it changes though its name, e-mail and qualification are the stored ones
     * (SQLite: the update that leaves the index entries alone) */
    char e2d[SA_UUID_LEN];
    sa_uuid_v7(e2d);
    struct sa_exec_row e4 = exec(e2d, l2);
    struct sa_lead_row unq = lr;
    unq.score = -1;
    unq.tier = NULL;
    unq.website = "https://beta.example";
    unq.data = "{\"v\":2}";
    assert_int_equal(sa_store_save_invocation(s, &unq, &e4, &err), 0);
    assert_int_equal(sa_store_get_lead(s, l2, &second, &err), 0);
    q = json_object_get(second, "qualification");
    assert_int_equal(json_integer_value(json_object_get(q, "score")), 90);
    assert_string_equal(str(q, "tier"), "A");
    assert_string_equal(str(second, "website"), "https://beta.example");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(second, "data"), "v")), 2);
    json_decref(second);
    /* a new id is inserted, with its execution */
    char l3[SA_UUID_LEN], e3a[SA_UUID_LEN];
    sa_uuid_v7(l3);
    sa_uuid_v7(e3a);
    struct sa_lead_row nl = lead(l3, name, -1, NULL, NULL);
    struct sa_exec_row ne = exec(e3a, l3);
    assert_int_equal(sa_store_insert_lead_if_new(s, &nl, &ne, &inserted, &err), 0);
    assert_true(inserted);
    assert_int_equal(sa_store_list_executions(s, l3, 10, &execs, &err), 0);
    assert_int_equal(json_array_size(execs), 1);
    json_decref(execs);
    char unknown[SA_UUID_LEN];
    sa_uuid_v7(unknown);
    assert_int_equal(sa_store_get_lead(s, unknown, &first, &err), SA_ENOTFOUND);
    assert_null(first);
    sa_store_close(s);
}

/* A lead reads back in the API's shape. */
static void test_lead_shape(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char id[SA_UUID_LEN], eid[SA_UUID_LEN], name[64];
    sa_uuid_v7(id);
    sa_uuid_v7(eid);
    struct sa_lead_row l = {.id = id,
                            .company_name = uniq(name, sizeof name, "Shape", ""),
                            .industry = "SaaS",
                            .company_size = "201-500",
                            .website = "https://shape.example",
                            .country = "DE",
                            .employees_min = 201,
                            .employees_max = 500,
                            .annual_revenue = 4e7,
                            .contact_name = "Jo",
                            .contact_title = "CTO",
                            .contact_email = "jo@shape.example",
                            .contact_phone = "+4930123",
                            .linkedin_url = "https://linkedin.com/in/jo",
                            .data = "{\"company_name\":\"x\",\"extra\":[1,2]}",
                            .score = 77,
                            .tier = "B",
                            .reasoning = "because"};
    struct sa_exec_row e = exec(eid, id);
    assert_int_equal(sa_store_save_invocation(s, &l, &e, &err), 0);
    json_t *got = NULL;
    assert_int_equal(sa_store_get_lead(s, id, &got, &err), 0);
    assert_string_equal(str(got, "id"), id);
    assert_string_equal(str(got, "industry"), "SaaS");
    assert_string_equal(str(got, "company_size"), "201-500");
    assert_int_equal(json_integer_value(json_object_get(got, "employees_min")), 201);
    assert_int_equal(json_integer_value(json_object_get(got, "employees_max")), 500);
    assert_true(json_real_value(json_object_get(got, "annual_revenue")) == 4e7);
    assert_string_equal(str(got, "website"), "https://shape.example");
    assert_string_equal(str(got, "country"), "DE");
    json_t *c = json_object_get(got, "contact_info");
    assert_string_equal(str(c, "name"), "Jo");
    assert_string_equal(str(c, "title"), "CTO");
    assert_string_equal(str(c, "email"), "jo@shape.example");
    assert_string_equal(str(c, "phone"), "+4930123");
    assert_string_equal(str(c, "linkedin_url"), "https://linkedin.com/in/jo");
    json_t *extra = json_object_get(json_object_get(got, "data"), "extra");
    assert_int_equal(json_array_size(extra), 2);
    json_t *q = json_object_get(got, "qualification");
    assert_int_equal(json_integer_value(json_object_get(q, "score")), 77);
    assert_string_equal(str(q, "tier"), "B");
    assert_string_equal(str(q, "reasoning"), "because");
    assert_non_null(str(q, "qualified_at"));
    assert_non_null(str(got, "created_at"));
    assert_non_null(str(got, "updated_at"));
    json_decref(got);
    /* unknowns read back as null, an unqualified lead has no qualification */
    char id2[SA_UUID_LEN];
    save_lead(s, id2, name, NULL, NULL);
    assert_int_equal(sa_store_get_lead(s, id2, &got, &err), 0);
    assert_true(json_is_null(json_object_get(got, "employees_min")));
    assert_true(json_is_null(json_object_get(got, "annual_revenue")));
    assert_true(json_is_null(json_object_get(got, "website")));
    assert_true(json_is_null(json_object_get(got, "qualification")));
    json_decref(got);
    sa_store_close(s);
}

/* Filters: tier, minimum score, and a search in which LIKE's wildcards are literal. */
static void test_list_filters(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char names[5][64], ids[5][SA_UUID_LEN];
    uniq(names[0], sizeof names[0], "Gamma 100% Corp", "");
    uniq(names[1], sizeof names[1], "Delta_Co", "");
    uniq(names[2], sizeof names[2], "Epsilon", "");
    uniq(names[3], sizeof names[3], "Zeta 1000 Corp", ""); /* "100%" as a wildcard matches */
    uniq(names[4], sizeof names[4], "DeltaXCo", "");       /* "_" as a wildcard matches */
    int scores[] = {85, 60, 30, 40, 20};
    const char *tiers[] = {"A", "C", "D", "D", "D"};
    for (int i = 0; i < 5; i++) {
        char eid[SA_UUID_LEN];
        sa_uuid_v7(ids[i]);
        sa_uuid_v7(eid);
        struct sa_lead_row lr = lead(ids[i], names[i], scores[i], tiers[i], "x@acme.io");
        struct sa_exec_row er = exec(eid, ids[i]);
        assert_int_equal(sa_store_save_invocation(s, &lr, &er, &err), 0);
    }
    struct sa_lead_query q = {.limit = 50, .min_score = -1, .tier = "A"};
    json_t *out = NULL;
    assert_int_equal(sa_store_list_leads(s, &q, &out, &err), 0);
    json_t *items = json_object_get(out, "items");
    assert_non_null(find_by(items, "id", ids[0]));
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        json_t *qual = json_object_get(it, "qualification");
        assert_string_equal(str(qual, "tier"), "A");
    }
    json_decref(out);
    char term[64];
    q = (struct sa_lead_query){
        .limit = 50, .min_score = -1, .search = uniq(term, sizeof term, "100% Corp", "")};
    assert_int_equal(sa_store_list_leads(s, &q, &out, &err), 0);
    assert_int_equal(json_integer_value(json_object_get(out, "total")), 1); /* % is literal */
    assert_string_equal(str(json_array_get(json_object_get(out, "items"), 0), "id"), ids[0]);
    json_decref(out);
    q.search = uniq(term, sizeof term, "delta_co", ""); /* _ is literal; case ignored */
    assert_int_equal(sa_store_list_leads(s, &q, &out, &err), 0);
    assert_int_equal(json_integer_value(json_object_get(out, "total")), 1);
    assert_string_equal(str(json_array_get(json_object_get(out, "items"), 0), "id"), ids[1]);
    json_decref(out);
    q = (struct sa_lead_query){.limit = 1, .offset = 0, .min_score = 55};
    assert_int_equal(sa_store_list_leads(s, &q, &out, &err), 0);
    assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
    assert_true(json_integer_value(json_object_get(out, "total")) >= 2);
    json_decref(out);
    /* filters combine: of Gamma (85) and Zeta (40), one scores 55 or more */
    q = (struct sa_lead_query){
        .limit = 50, .min_score = 55, .search = uniq(term, sizeof term, "Corp", "")};
    assert_int_equal(sa_store_list_leads(s, &q, &out, &err), 0);
    assert_int_equal(json_integer_value(json_object_get(out, "total")), 1);
    assert_string_equal(str(json_array_get(json_object_get(out, "items"), 0), "id"), ids[0]);
    json_decref(out);
    sa_store_close(s);
}

/* Pages: newest first, every match exactly once across pages, total on each. */
static void test_list_pagination(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    enum { N = 7, PAGE = 3 };
    char ids[N][SA_UUID_LEN], name[64];
    uniq(name, sizeof name, "Paged", "");
    for (int i = 0; i < N; i++) {
        save_lead(s, ids[i], name, NULL, NULL);
        usleep(2000); /* distinct created_at */
    }
    int seen = 0;
    for (int offset = 0; offset < N + PAGE; offset += PAGE) { /* the last page is empty */
        struct sa_lead_query q = {.limit = PAGE, .offset = offset, .min_score = -1, .search = name};
        json_t *out = NULL;
        assert_int_equal(sa_store_list_leads(s, &q, &out, &err), 0);
        assert_int_equal(json_integer_value(json_object_get(out, "total")), N);
        assert_int_equal(json_integer_value(json_object_get(out, "limit")), PAGE);
        assert_int_equal(json_integer_value(json_object_get(out, "offset")), offset);
        json_t *items = json_object_get(out, "items");
        size_t want = (size_t)(offset >= N ? 0 : N - offset < PAGE ? N - offset : PAGE);
        assert_int_equal(json_array_size(items), want);
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            assert_string_equal(str(it, "id"), ids[N - 1 - seen]); /* newest first */
            seen++;
        }
        json_decref(out);
    }
    assert_int_equal(seen, N);
    sa_store_close(s);
}

/* The ids of a list's items, in order, joined by spaces, into out. */
static const char *item_ids(const json_t *page, char *out, size_t cap)
{
    size_t i, o = 0;
    json_t *it;
    out[0] = '\0';
    json_array_foreach(json_object_get(page, "items"), i, it) o +=
        (size_t)snprintf(out + o, o < cap ? cap - o : 0, "%s%s", i ? " " : "", str(it, "id"));
    return out;
}

/* Lists q and asserts the ids in order (want, space-separated) and the total. */
static void expect_list(struct sa_store *s, const struct sa_lead_query *q, const char *want)
{
    struct sa_err err = {0};
    json_t *out = NULL;
    if (sa_store_list_leads(s, q, &out, &err))
        fail_msg("list: %s", err.msg);
    char got[1024];
    assert_string_equal(item_ids(out, got, sizeof got), want);
    size_t n = *want ? 1 : 0;
    for (const char *p = want; *p; p++)
        n += *p == ' ';
    assert_int_equal(json_integer_value(json_object_get(out, "total")), n);
    json_decref(out);
}

/* The search ignores case and Latin accents and matches substrings of the company,
 * contact, e-mail and industry; it follows updates and erasures; each sort orders. */
static void test_list_search_and_sort(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char name[64], ids[3][SA_UUID_LEN], want[256], term[64];
    /* three leads of one unique name: "Sörted-TOK b" (50), "SORTED-TOK A" (unscored),
     * "sorted-tok c" (80), written in that order */
    const char *names[] = {"S\xc3\xb6rted", "SORTED", "sorted"};
    const char *suffix[] = {" b", " A", " c"};
    int scores[] = {50, -1, 80};
    for (int i = 0; i < 3; i++) {
        char eid[SA_UUID_LEN], n[64];
        snprintf(n, sizeof n, "%s-%s%s", names[i], tok, suffix[i]);
        sa_uuid_v7(ids[i]);
        sa_uuid_v7(eid);
        struct sa_lead_row lr = lead(ids[i], n, scores[i], scores[i] < 0 ? NULL : "B", NULL);
        lr.contact_name = i == 0 ? "Zo\xc3\xab M\xc3\xbcller" : "Sam";
        lr.industry = "Stra\xc3\x9f"
                      "e Robotics";
        struct sa_exec_row er = exec(eid, ids[i]);
        assert_int_equal(sa_store_save_invocation(s, &lr, &er, &err), 0);
        usleep(2000); /* distinct created_at */
    }
    struct sa_lead_query q = {
        .limit = 50, .min_score = -1, .search = uniq(name, sizeof name, "sorted", "")};
    snprintf(want, sizeof want, "%s %s %s", ids[2], ids[1], ids[0]);
    expect_list(s, &q, want); /* newest first by default; ö folded */
    q.sort = SA_LEAD_SORT_OLDEST;
    snprintf(want, sizeof want, "%s %s %s", ids[0], ids[1], ids[2]);
    expect_list(s, &q, want);
    q.sort = SA_LEAD_SORT_COMPANY; /* ASCII case ignored: A, b, c ("SO" < "Sö") */
    snprintf(want, sizeof want, "%s %s %s", ids[1], ids[2], ids[0]);
    expect_list(s, &q, want);
    q.sort = SA_LEAD_SORT_SCORE; /* unscored lowest */
    snprintf(want, sizeof want, "%s %s %s", ids[1], ids[0], ids[2]);
    expect_list(s, &q, want);
    q.sort = SA_LEAD_SORT_SCORE_DESC;
    snprintf(want, sizeof want, "%s %s %s", ids[2], ids[0], ids[1]);
    expect_list(s, &q, want);
    /* the contact and the industry, accents and case either way */
    q = (struct sa_lead_query){
        .limit = 50, .min_score = -1, .search = uniq(term, sizeof term, "S\xc3\x96RTED", " b")};
    expect_list(s, &q, ids[0]);
    snprintf(term, sizeof term, "%s", "zoe muller");
    json_t *out = NULL;
    assert_int_equal(sa_store_list_leads(s, &q, &out, &err), 0);
    assert_non_null(find_by(json_object_get(out, "items"), "id", ids[0]));
    assert_null(find_by(json_object_get(out, "items"), "id", ids[1]));
    json_decref(out);
    snprintf(term, sizeof term, "%s", "STRASSE ROBOT");
    q.limit = 500;
    assert_int_equal(sa_store_list_leads(s, &q, &out, &err), 0);
    assert_non_null(find_by(json_object_get(out, "items"), "id", ids[2]));
    json_decref(out);
    /* one and two characters: the scan finds them too */
    snprintf(term, sizeof term, "%s", "\xc3\xb6");
    q.tier = "B";
    q.min_score = 50; /* few leads, so the page holds ours */
    assert_int_equal(sa_store_list_leads(s, &q, &out, &err), 0);
    assert_non_null(find_by(json_object_get(out, "items"), "id", ids[0]));
    json_decref(out);
    /* an update re-indexes: the old name is gone, the new one found */
    char eid[SA_UUID_LEN], renamed[64];
    sa_uuid_v7(eid);
    struct sa_lead_row lr =
        lead(ids[2], uniq(renamed, sizeof renamed, "\xc3\x86r\xc3\xb8", ""), 80, "B", NULL);
    struct sa_exec_row er = exec(eid, ids[2]);
    assert_int_equal(sa_store_save_invocation(s, &lr, &er, &err), 0);
    q = (struct sa_lead_query){
        .limit = 50, .min_score = -1, .search = uniq(term, sizeof term, "AERO", "")};
    expect_list(s, &q, ids[2]);
    q.search = uniq(term, sizeof term, "sorted", " c");
    expect_list(s, &q, "");
    /* an erasure removes it from the index */
    assert_int_equal(sa_store_lead_erase(s, ids[2], NULL, NULL, &out, &err), 0);
    json_decref(out);
    q.search = uniq(term, sizeof term, "aero", "");
    expect_list(s, &q, "");
    sa_store_close(s);
}

/* A shared mailbox (info@): its leads, earliest first, with their contact names (null
 * for none) and inputs, the e-mail's ASCII case ignored; lead_by_email still finds the
 * earliest whatever the name. */
static void test_leads_by_mailbox(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char email[64];
    uniq(email, sizeof email, "info", "@kraftwerk-analytics.example");
    static const char *const names[] = {"Peter Schmidt", "Maria Schulz", NULL};
    char ids[3][SA_UUID_LEN];
    for (int k = 0; k < 3; k++) {
        char eid[SA_UUID_LEN];
        sa_uuid_v7(ids[k]);
        sa_uuid_v7(eid);
        struct sa_lead_row l = lead(ids[k], "Kraftwerk Analytics GmbH", -1, NULL, email);
        l.contact_name = names[k];
        struct sa_exec_row e = exec(eid, ids[k]);
        if (sa_store_save_invocation(s, &l, &e, &err))
            fail_msg("save: %s", err.msg);
        usleep(2000);
    }
    char upper[64];
    snprintf(upper, sizeof upper, "%s", email);
    for (char *p = upper; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    json_t *rows = NULL;
    assert_int_equal(sa_store_leads_by_mailbox(s, upper, 10, 0, &rows, &err), 0);
    assert_int_equal(json_array_size(rows), 3);
    for (int k = 0; k < 3; k++) {
        const json_t *r = json_array_get(rows, (size_t)k);
        assert_string_equal(json_string_value(json_object_get(r, "id")), ids[k]);
        if (names[k])
            assert_string_equal(json_string_value(json_object_get(r, "contact_name")), names[k]);
        else
            assert_true(json_is_null(json_object_get(r, "contact_name")));
        assert_true(json_is_object(json_object_get(r, "data")));
    }
    json_decref(rows);
    char other[64];
    assert_int_equal(sa_store_leads_by_mailbox(s, uniq(other, sizeof other, "sales", "@x.example"),
                                               10, 0, &rows, &err),
                     0);
    assert_int_equal(json_array_size(rows), 0);
    json_decref(rows);
    /* a page at a time: at most limit, from offset, in the same order */
    assert_int_equal(sa_store_leads_by_mailbox(s, email, 2, 0, &rows, &err), 0);
    assert_int_equal(json_array_size(rows), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "id")), ids[0]);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 1), "id")), ids[1]);
    json_decref(rows);
    assert_int_equal(sa_store_leads_by_mailbox(s, email, 2, 2, &rows, &err), 0);
    assert_int_equal(json_array_size(rows), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "id")), ids[2]);
    json_decref(rows);
    assert_int_equal(sa_store_leads_by_mailbox(s, email, 2, 3, &rows, &err), 0);
    assert_int_equal(json_array_size(rows), 0);
    json_decref(rows);
    /* the cap is the interface's: no page holds more, whatever the caller asks */
    assert_int_equal(sa_store_leads_by_mailbox(s, email, 0, 0, &rows, &err), SA_EINVAL);
    assert_null(rows);
    assert_int_equal(
        sa_store_leads_by_mailbox(s, email, SA_STORE_MAILBOX_PAGE_MAX + 1, 0, &rows, &err),
        SA_EINVAL);
    assert_int_equal(sa_store_leads_by_mailbox(s, email, 2, -1, &rows, &err), SA_EINVAL);
    char id[37] = "x";
    assert_int_equal(sa_store_lead_by_email(s, email, id, NULL, &err), 0);
    assert_string_equal(id, ids[0]);
    sa_store_close(s);
}

/* The lookups an import merges by: by e-mail (case ignored, earliest), by company name
 * (case ignored, earliest first, with website and contact e-mail). */
static void test_lead_lookups(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char email[64], upper[64], name[64], name_upper[64];
    uniq(email, sizeof email, "dana", "@example.com");
    snprintf(upper, sizeof upper, "%s", email);
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    uniq(name, sizeof name, "Acme Lookup", "");
    snprintf(name_upper, sizeof name_upper, "%s", name);
    for (char *p = name_upper; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    char first[SA_UUID_LEN], second[SA_UUID_LEN], other[SA_UUID_LEN];
    save_lead(s, first, name, upper, "https://www.acme.example/about");
    usleep(2000);
    save_lead(s, second, name_upper, email, NULL);
    usleep(2000);
    save_lead(s, other, "Someone Else", NULL, NULL);

    char id[37] = "x";
    assert_int_equal(sa_store_lead_by_email(s, email, id, NULL, &err), 0);
    assert_string_equal(id, first);
    char unknown[64];
    assert_int_equal(
        sa_store_lead_by_email(s, uniq(unknown, sizeof unknown, "nobody", "@x.io"), id, NULL, &err),
        SA_ENOTFOUND);
    assert_string_equal(id, "");
    /* with the stored input, read with the id: get_lead's "data" */
    json_t *data = NULL, *full = NULL;
    assert_int_equal(sa_store_lead_by_email(s, upper, id, &data, &err), 0);
    assert_string_equal(id, first);
    assert_int_equal(sa_store_get_lead(s, first, &full, &err), 0);
    assert_string_equal(str(data, "company_name"), name);
    assert_string_equal(str(data, "notes"), "Gr\u00fc\u00dfe");
    assert_true(json_equal(data, json_object_get(full, "data")));
    json_decref(data);
    json_decref(full);
    json_t *before = json_object(); /* not NULL, to see it cleared */
    data = before;
    assert_int_equal(sa_store_lead_by_email(s, unknown, id, &data, &err), SA_ENOTFOUND);
    assert_null(data);
    json_decref(before);

    json_t *c = NULL;
    assert_int_equal(sa_store_leads_by_company(s, name, &c, &err), 0);
    assert_int_equal(json_array_size(c), 2);
    json_t *c0 = json_array_get(c, 0), *c1 = json_array_get(c, 1);
    assert_string_equal(str(c0, "id"), first);
    assert_string_equal(str(c0, "website"), "https://www.acme.example/about");
    assert_string_equal(str(c0, "contact_email"), upper);
    assert_string_equal(str(c1, "id"), second);
    assert_true(json_is_null(json_object_get(c1, "website")));
    assert_string_equal(str(c1, "contact_email"), email);
    json_decref(c);
    assert_int_equal(
        sa_store_leads_by_company(s, uniq(unknown, sizeof unknown, "Nobody", ""), &c, &err), 0);
    assert_int_equal(json_array_size(c), 0);
    json_decref(c);
    sa_store_close(s);
}

/* Saves a lead of domain (company_domain) with contact e-mail email and contact name
 * contact (either NULL); its new id into id. */
static void save_company_lead(struct sa_store *s, char id[SA_UUID_LEN], const char *name,
                              const char *domain, const char *email, const char *contact)
{
    char eid[SA_UUID_LEN];
    sa_uuid_v7(id);
    sa_uuid_v7(eid);
    struct sa_lead_row l = lead(id, name, -1, NULL, email);
    l.company_domain = domain;
    l.contact_name = contact;
    struct sa_exec_row e = exec(eid, id);
    struct sa_err err = {0};
    if (sa_store_save_invocation(s, &l, &e, &err))
        fail_msg("save %s: %s", name, err.msg);
}

/* Companies: leads of one domain share one company record (created by the first, named
 * by it, counted), a lead without a domain has none, and lead_match finds only a lead
 * without an e-mail of the same company name, domain and contact name. */
static void test_companies(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char domain[64], other_domain[64], name[64], e1[64], e2[64];
    uniq(domain, sizeof domain, "helio", ".example");
    uniq(other_domain, sizeof other_domain, "helio-uk", ".example");
    uniq(name, sizeof name, "Helio Robotics", "");
    snprintf(e1, sizeof e1, "ceo@%s", domain);
    snprintf(e2, sizeof e2, "dan@%s", domain);
    char a[SA_UUID_LEN], b[SA_UUID_LEN], c[SA_UUID_LEN], d[SA_UUID_LEN];
    save_company_lead(s, a, name, domain, e1, "Ingrid");
    save_company_lead(s, b, "Helio (renamed)", domain, e2, "Dan");
    save_company_lead(s, c, name, NULL, NULL, "Walk-in");
    save_company_lead(s, d, name, domain, NULL, "Front Desk");

    json_t *ca = NULL, *cb = NULL, *cc = NULL;
    assert_int_equal(sa_store_get_lead(s, a, &ca, &err), 0);
    assert_int_equal(sa_store_get_lead(s, b, &cb, &err), 0);
    assert_int_equal(sa_store_get_lead(s, c, &cc, &err), 0);
    json_t *company = json_object_get(ca, "company");
    assert_string_equal(str(company, "domain"), domain);
    assert_string_equal(str(company, "name"), name); /* the first lead named it */
    assert_string_equal(str(json_object_get(cb, "company"), "id"), str(company, "id"));
    assert_true(json_is_null(json_object_get(cc, "company")));
    json_t *co = NULL;
    assert_int_equal(sa_store_company_get(s, domain, &co, &err), 0);
    assert_string_equal(str(co, "id"), str(company, "id"));
    assert_int_equal(json_integer_value(json_object_get(co, "leads")), 3);
    json_decref(co);
    assert_int_equal(sa_store_company_get(s, other_domain, &co, &err), SA_ENOTFOUND);
    json_decref(ca);
    json_decref(cb);
    json_decref(cc);

    char id[37];
    /* leads with an e-mail are never matched by company */
    assert_int_equal(sa_store_lead_match(s, name, domain, "Ingrid", id, NULL, &err), SA_ENOTFOUND);
    assert_int_equal(sa_store_lead_match(s, name, domain, "FRONT DESK", id, NULL, &err), 0);
    assert_string_equal(id, d);
    assert_int_equal(sa_store_lead_match(s, name, other_domain, "Front Desk", id, NULL, &err),
                     SA_ENOTFOUND);
    assert_int_equal(sa_store_lead_match(s, name, domain, NULL, id, NULL, &err), SA_ENOTFOUND);
    assert_int_equal(sa_store_lead_match(s, name, NULL, "walk-in", id, NULL, &err), 0);
    assert_string_equal(id, c);
    json_t *data = NULL;
    assert_int_equal(sa_store_lead_match(s, name, domain, "Front Desk", id, &data, &err), 0);
    assert_string_equal(id, d);
    json_t *cd = NULL;
    assert_int_equal(sa_store_get_lead(s, d, &cd, &err), 0);
    assert_true(json_is_object(data));
    assert_true(json_equal(data, json_object_get(cd, "data")));
    json_decref(cd);
    json_decref(data);
    sa_store_close(s);
}

/* ---- executions ------------------------------------------------------------------- */

static void test_executions(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char id[SA_UUID_LEN], name[64], eids[3][SA_UUID_LEN];
    sa_uuid_v7(id);
    struct sa_lead_row l = lead(id, uniq(name, sizeof name, "Execs", ""), -1, NULL, NULL);
    for (int i = 0; i < 3; i++) {
        sa_uuid_v7(eids[i]);
        struct sa_exec_row e = exec(eids[i], id);
        if (i == 2) {
            e.success = false;
            e.output = NULL;
            e.error_message = "boom";
        }
        assert_int_equal(sa_store_save_invocation(s, &l, &e, &err), 0);
        usleep(2000);
    }
    json_t *list = NULL;
    assert_int_equal(sa_store_list_executions(s, id, 2, &list, &err), 0);
    assert_int_equal(json_array_size(list), 2); /* limit */
    json_t *newest = json_array_get(list, 0), *next = json_array_get(list, 1);
    assert_string_equal(str(newest, "id"), eids[2]);
    assert_string_equal(str(next, "id"), eids[1]);
    assert_string_equal(str(newest, "status"), "error");
    assert_true(json_is_false(json_object_get(newest, "success")));
    assert_true(json_is_null(json_object_get(newest, "output")));
    assert_string_equal(str(newest, "error_message"), "boom");
    assert_string_equal(str(next, "status"), "success");
    assert_true(json_is_true(json_object_get(next, "success")));
    assert_string_equal(str(next, "agent_type"), "qualification");
    assert_string_equal(str(next, "thread_id"), "t1");
    assert_true(json_is_object(json_object_get(next, "input")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(next, "output"), "score")),
                     1);
    assert_true(json_real_value(json_object_get(next, "processing_time_ms")) == 0.01);
    assert_non_null(str(next, "created_at"));
    json_decref(list);
    sa_store_close(s);
}

/* ---- runs ------------------------------------------------------------------------- */

static void test_runs(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char id[SA_UUID_LEN], lead_id[SA_UUID_LEN], thread[64];
    sa_uuid_v7(id);
    sa_uuid_v7(lead_id);
    uniq(thread, sizeof thread, "run-thread", "");
    assert_int_equal(sa_store_run_create(s, id, lead_id, thread, "{\"company_name\":\"R\"}", &err),
                     0);
    json_t *run = NULL;
    assert_int_equal(sa_store_run_get(s, id, &run, &err), 0);
    assert_string_equal(str(run, "id"), id); /* the stored name; the API renames it */
    assert_null(json_object_get(run, "run_id"));
    assert_string_equal(str(run, "lead_id"), lead_id);
    assert_string_equal(str(run, "thread_id"), thread);
    assert_string_equal(str(run, "status"), "queued");
    assert_string_equal(str(json_object_get(run, "input"), "company_name"), "R");
    assert_true(json_is_null(json_object_get(run, "output")));
    assert_true(json_is_null(json_object_get(run, "error")));
    assert_non_null(str(run, "created_at"));
    assert_non_null(str(run, "updated_at"));
    json_decref(run);

    json_t *open = NULL;
    assert_int_equal(sa_store_runs_unfinished(s, &open, &err), 0);
    json_t *mine = find_by(open, "id", id);
    assert_non_null(mine);
    assert_string_equal(str(mine, "thread_id"), thread);
    assert_string_equal(str(mine, "lead_id"), lead_id);
    assert_string_equal(str(json_object_get(mine, "input"), "company_name"), "R");
    json_decref(open);

    assert_int_equal(sa_store_run_update(s, id, "running", NULL, NULL, &err), 0);
    assert_int_equal(sa_store_runs_unfinished(s, &open, &err), 0);
    assert_non_null(find_by(open, "id", id)); /* running is unfinished too */
    json_decref(open);
    assert_int_equal(sa_store_run_update(s, id, "done", "{\"tier\":\"A\"}", NULL, &err), 0);
    assert_int_equal(sa_store_run_update(s, id, "done", NULL, NULL, &err), 0); /* keeps output */
    assert_int_equal(sa_store_run_get(s, id, &run, &err), 0);
    assert_string_equal(str(run, "status"), "done");
    assert_string_equal(str(json_object_get(run, "output"), "tier"), "A");
    json_decref(run);
    assert_int_equal(sa_store_runs_unfinished(s, &open, &err), 0);
    assert_null(find_by(open, "id", id));
    json_decref(open);

    char unknown[SA_UUID_LEN];
    sa_uuid_v7(unknown);
    assert_int_equal(sa_store_run_update(s, unknown, "done", NULL, NULL, &err), SA_ENOTFOUND);
    assert_int_equal(sa_store_run_get(s, unknown, &run, &err), SA_ENOTFOUND);
    assert_null(run);
    sa_store_close(s);
}

/* The console's run list (issue 16): newest first, filtered by status, paged, with the
 * input's company name; total counts every run of the status, not the page. Other tests'
 * runs may share the database (PostgreSQL), so it checks its own runs' order and pages. */
static void test_runs_list(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char ids[3][SA_UUID_LEN], lead_id[SA_UUID_LEN], thread[64];
    static const char *const companies[] = {"Quorvianta Software", "Brightloom Analytics",
                                            "Helio Robotics"};
    sa_uuid_v7(lead_id);
    for (int i = 0; i < 3; i++) {
        sa_uuid_v7(ids[i]); /* v7: later ids sort after earlier ones */
        uniq(thread, sizeof thread, "list-thread", i == 0 ? "a" : i == 1 ? "b" : "c");
        char input[128];
        snprintf(input, sizeof input, "{\"company_name\":\"%s\"}", companies[i]);
        assert_int_equal(sa_store_run_create(s, ids[i], lead_id, thread, input, &err), 0);
    }
    assert_int_equal(sa_store_run_update(s, ids[0], "failed", NULL, "enrichment timed out", &err),
                     0);
    assert_int_equal(sa_store_run_update(s, ids[1], "done", "{\"tier\":\"B\"}", NULL, &err), 0);

    json_t *page = NULL;
    assert_int_equal(sa_store_runs_list(s, NULL, 1000, 0, &page, &err), 0);
    json_t *items = json_object_get(page, "items");
    assert_true(json_integer_value(json_object_get(page, "total")) >= 3);
    /* newest first: ids[2] before ids[1] before ids[0] */
    int at[3] = {-1, -1, -1};
    for (size_t k = 0; k < json_array_size(items); k++)
        for (int i = 0; i < 3; i++)
            if (strcmp(str(json_array_get(items, k), "id"), ids[i]) == 0)
                at[i] = (int)k;
    assert_true(at[2] >= 0 && at[2] < at[1] && at[1] < at[0]);
    json_t *failed = json_array_get(items, (size_t)at[0]);
    assert_string_equal(str(failed, "status"), "failed");
    assert_string_equal(str(failed, "error"), "enrichment timed out");
    assert_string_equal(str(failed, "company_name"), "Quorvianta Software");
    assert_string_equal(str(failed, "lead_id"), lead_id);
    assert_non_null(str(failed, "created_at"));
    assert_null(json_object_get(failed, "output")); /* the list leaves the state out */
    assert_true(json_is_null(json_object_get(json_array_get(items, (size_t)at[2]), "error")));
    json_decref(page);

    /* a status filter: only that status, and mine among them */
    assert_int_equal(sa_store_runs_list(s, "done", 1000, 0, &page, &err), 0);
    items = json_object_get(page, "items");
    assert_non_null(find_by(items, "id", ids[1]));
    assert_null(find_by(items, "id", ids[0]));
    for (size_t k = 0; k < json_array_size(items); k++)
        assert_string_equal(str(json_array_get(items, k), "status"), "done");
    assert_int_equal(json_integer_value(json_object_get(page, "total")),
                     (json_int_t)json_array_size(items));
    json_decref(page);

    /* pages: one item at a time, the second page is the next run in the order */
    json_t *first = NULL, *second = NULL;
    assert_int_equal(sa_store_runs_list(s, NULL, 1, 0, &first, &err), 0);
    assert_int_equal(sa_store_runs_list(s, NULL, 1, 1, &second, &err), 0);
    assert_int_equal(json_array_size(json_object_get(first, "items")), 1);
    assert_int_equal(json_array_size(json_object_get(second, "items")), 1);
    assert_string_not_equal(str(json_array_get(json_object_get(first, "items"), 0), "id"),
                            str(json_array_get(json_object_get(second, "items"), 0), "id"));
    assert_int_equal(json_integer_value(json_object_get(first, "total")),
                     json_integer_value(json_object_get(second, "total")));
    json_decref(first);
    json_decref(second);
    assert_int_equal(sa_store_runs_list(s, "cancelled", 10, 0, &page, &err), 0);
    assert_null(find_by(json_object_get(page, "items"), "id", ids[2]));
    json_decref(page);
    sa_store_close(s);
}

/* ---- approvals -------------------------------------------------------------------- */

/* One approval per (thread, interrupt), decided once. */
static void test_approvals(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char t1[64], a[SA_UUID_LEN], b[SA_UUID_LEN], id1[37], id2[37];
    uniq(t1, sizeof t1, "t1", "");
    sa_uuid_v7(a);
    sa_uuid_v7(b);
    assert_int_equal(
        sa_store_approval_put(s, a, t1, "i1", NULL, "{\"action_request\":{}}", id1, &err), 0);
    assert_string_equal(id1, a);
    /* a replay of the same interrupt (a resumed run) gets the same approval */
    assert_int_equal(sa_store_approval_put(s, b, t1, "i1", NULL, "{}", id2, &err), 0);
    assert_string_equal(id2, id1);
    json_t *list = NULL;
    assert_int_equal(sa_store_approval_list(s, "pending", 500, &list, &err), 0);
    assert_int_equal(count_by(list, "thread_id", t1), 1);
    json_t *mine = find_by(list, "thread_id", t1);
    assert_true(json_is_object(json_object_get(mine, "request")));
    assert_string_equal(str(mine, "interrupt_id"), "i1");
    assert_string_equal(str(mine, "status"), "pending");
    json_decref(list);
    assert_int_equal(
        sa_store_approval_decide(s, id1, "accepted", "{\"type\":\"accept\"}", "kim", NULL, &err),
        0);
    assert_int_equal(sa_store_approval_decide(s, id1, "ignored", "{}", "lee", NULL, &err),
                     SA_ECONFLICT);
    char unknown[SA_UUID_LEN];
    sa_uuid_v7(unknown);
    assert_int_equal(sa_store_approval_decide(s, unknown, "ignored", "{}", "lee", NULL, &err),
                     SA_ENOTFOUND);
    json_t *got = NULL;
    assert_int_equal(sa_store_approval_get(s, id1, &got, &err), 0);
    assert_string_equal(str(got, "status"), "accepted");
    assert_string_equal(str(got, "reviewer"), "kim");
    assert_string_equal(str(json_object_get(got, "response"), "type"), "accept");
    assert_non_null(str(got, "decided_at"));
    json_decref(got);
    assert_int_equal(sa_store_approval_get(s, unknown, &got, &err), SA_ENOTFOUND);
    assert_null(got);
    /* the status filter: decided approvals leave the pending list */
    assert_int_equal(sa_store_approval_list(s, "pending", 500, &list, &err), 0);
    assert_int_equal(count_by(list, "thread_id", t1), 0);
    json_decref(list);
    assert_int_equal(sa_store_approval_list(s, NULL, 500, &list, &err), 0);
    assert_int_equal(count_by(list, "thread_id", t1), 1);
    json_decref(list);
    sa_store_close(s);
}

/* A new run on a thread supersedes its pending approvals, and only those: a superseded
 * approval is neither decided nor claimed for resumption, and leaves the pending list. */
static void test_approval_superseded(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char t[64], other[64], a1[SA_UUID_LEN], a2[SA_UUID_LEN], a3[SA_UUID_LEN], b1[SA_UUID_LEN];
    char got[37];
    uniq(t, sizeof t, "sup", "");
    uniq(other, sizeof other, "sup-other", "");
    sa_uuid_v7(a1);
    sa_uuid_v7(a2);
    sa_uuid_v7(a3);
    sa_uuid_v7(b1);
    assert_int_equal(sa_store_approval_put(s, a1, t, "i1", NULL, "{}", got, &err), 0);
    assert_int_equal(sa_store_approval_put(s, a2, t, "i2", NULL, "{}", got, &err), 0);
    assert_int_equal(sa_store_approval_put(s, a3, t, "i3", NULL, "{}", got, &err), 0);
    assert_int_equal(sa_store_approval_put(s, b1, other, "i1", NULL, "{}", got, &err), 0);
    assert_int_equal(
        sa_store_approval_decide(s, a3, "accepted", "{\"type\":\"accept\"}", "kim", NULL, &err), 0);
    int n = -1;
    assert_int_equal(sa_store_approval_supersede(s, t, "run-2", &n, &err), 0);
    assert_int_equal(n, 2);
    json_t *a = NULL;
    assert_int_equal(sa_store_approval_get(s, a1, &a, &err), 0);
    assert_string_equal(str(a, "status"), "superseded");
    assert_string_equal(str(a, "superseded_by"), "run-2");
    assert_non_null(str(a, "decided_at"));
    assert_true(json_is_null(json_object_get(a, "response")));
    json_decref(a);
    assert_int_equal(sa_store_approval_get(s, a3, &a, &err), 0); /* decided: left alone */
    assert_string_equal(str(a, "status"), "accepted");
    assert_true(json_is_null(json_object_get(a, "superseded_by")));
    json_decref(a);
    assert_int_equal(sa_store_approval_decide(s, a2, "accepted", "{}", "lee", NULL, &err),
                     SA_ECONFLICT);
    assert_int_equal(sa_store_approval_claim_resume(s, a2, "me", 1000, 61000, &err), SA_ECONFLICT);
    assert_int_equal(sa_store_approval_claim_resume(s, a3, "me", 1000, 61000, &err), 0);
    json_t *list = NULL;
    assert_int_equal(sa_store_approval_list(s, "pending", 500, &list, &err), 0);
    assert_int_equal(count_by(list, "thread_id", t), 0);
    assert_int_equal(count_by(list, "thread_id", other), 1); /* another thread's stays */
    json_decref(list);
    assert_int_equal(sa_store_approval_list(s, "superseded", 500, &list, &err), 0);
    assert_int_equal(count_by(list, "thread_id", t), 2);
    json_decref(list);
    /* again (a second new run): nothing is pending any more; unknown by is NULL */
    assert_int_equal(sa_store_approval_supersede(s, t, NULL, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(sa_store_approval_supersede(s, other, NULL, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(sa_store_approval_get(s, b1, &a, &err), 0);
    assert_true(json_is_null(json_object_get(a, "superseded_by")));
    json_decref(a);
    sa_store_close(s);
}

/* A run whose new input was not saved undoes its supersession: exactly the approvals it
 * superseded on its thread are pending again (superseded_by and decided_at cleared) and
 * can be decided; another run's supersessions, another thread's and decided approvals
 * stay as they are. */
static void test_approval_unsupersede(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char t[64], other[64], a1[SA_UUID_LEN], a2[SA_UUID_LEN], a3[SA_UUID_LEN], b1[SA_UUID_LEN];
    char got[37];
    uniq(t, sizeof t, "unsup", "");
    uniq(other, sizeof other, "unsup-other", "");
    sa_uuid_v7(a1);
    sa_uuid_v7(a2);
    sa_uuid_v7(a3);
    sa_uuid_v7(b1);
    assert_int_equal(sa_store_approval_put(s, a1, t, "i1", NULL, "{}", got, &err), 0);
    assert_int_equal(sa_store_approval_put(s, b1, other, "i1", NULL, "{}", got, &err), 0);
    int n = -1;
    assert_int_equal(sa_store_approval_supersede(s, t, "run-1", &n, &err), 0); /* a1 */
    assert_int_equal(n, 1);
    assert_int_equal(sa_store_approval_put(s, a2, t, "i2", NULL, "{}", got, &err), 0);
    assert_int_equal(sa_store_approval_put(s, a3, t, "i3", NULL, "{}", got, &err), 0);
    assert_int_equal(
        sa_store_approval_decide(s, a3, "accepted", "{\"type\":\"accept\"}", "kim", NULL, &err), 0);
    assert_int_equal(sa_store_approval_supersede(s, t, "run-2", &n, &err), 0); /* a2 */
    assert_int_equal(n, 1);
    assert_int_equal(sa_store_approval_supersede(s, other, "run-2", &n, &err), 0); /* b1 */
    assert_int_equal(n, 1);
    /* run-2 on t saved nothing: a2 is pending again, a1 (run-1's) and b1 (other) stay */
    assert_int_equal(sa_store_approval_unsupersede(s, t, "run-2", &n, &err), 0);
    assert_int_equal(n, 1);
    json_t *a = NULL;
    assert_int_equal(sa_store_approval_get(s, a2, &a, &err), 0);
    assert_string_equal(str(a, "status"), "pending");
    assert_true(json_is_null(json_object_get(a, "superseded_by")));
    assert_true(json_is_null(json_object_get(a, "decided_at")));
    json_decref(a);
    assert_int_equal(sa_store_approval_get(s, a1, &a, &err), 0);
    assert_string_equal(str(a, "status"), "superseded");
    assert_string_equal(str(a, "superseded_by"), "run-1");
    json_decref(a);
    assert_int_equal(sa_store_approval_get(s, b1, &a, &err), 0);
    assert_string_equal(str(a, "status"), "superseded");
    json_decref(a);
    assert_int_equal(sa_store_approval_get(s, a3, &a, &err), 0);
    assert_string_equal(str(a, "status"), "accepted");
    json_decref(a);
    /* again: nothing left to undo; no run named is refused */
    assert_int_equal(sa_store_approval_unsupersede(s, t, "run-2", &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(sa_store_approval_unsupersede(s, t, NULL, &n, &err), SA_EINVAL);
    /* pending again means decidable, and the next run supersedes it as any other */
    assert_int_equal(sa_store_approval_decide(s, a2, "accepted", "{}", "lee", NULL, &err), 0);
    assert_int_equal(sa_store_approval_supersede(s, t, "run-3", &n, &err), 0);
    assert_int_equal(n, 0);
    sa_store_close(s);
}

enum { RACERS = 8, ROUNDS = 10 };

struct racer {
    struct sa_store *s;
    const char *id;
    pthread_barrier_t *go;
    bool claim; /* outbox_claim, else approval_decide (or op when set) */
    char reviewer[16];
    int rc;
    int op;             /* RACE_*: the leases' races (appended) */
    long long now;      /* their time, unix ms */
    const char *thread; /* RACE_SUPERSEDE: the approval's thread */
};

enum { RACE_DEFAULT, RACE_RUN_CLAIM, RACE_RESUME_CLAIM, RACE_SUPERSEDE };

static void *race(void *arg)
{
    struct racer *r = arg;
    struct sa_err err = {0};
    bool took_over = false;
    pthread_barrier_wait(r->go);
    if (r->op == RACE_RUN_CLAIM)
        r->rc = sa_store_run_claim(r->s, r->id, r->reviewer, NULL, r->now, r->now + 60000,
                                   &took_over, NULL, &err);
    else if (r->op == RACE_RESUME_CLAIM)
        r->rc =
            sa_store_approval_claim_resume(r->s, r->id, r->reviewer, r->now, r->now + 60000, &err);
    else if (r->op == RACE_SUPERSEDE && strcmp(r->reviewer, "reviewer0") == 0) {
        int n = 0; /* the new run: it wins when it changed the approval */
        r->rc = sa_store_approval_supersede(r->s, r->thread, "run-new", &n, &err);
        if (r->rc == 0 && n != 1)
            r->rc = SA_ECONFLICT;
    } else if (r->op == RACE_SUPERSEDE)
        r->rc = sa_store_approval_decide(r->s, r->id, "accepted", "{}", r->reviewer, NULL, &err);
    else
        r->rc = r->claim ? sa_store_outbox_claim(r->s, r->id, &err)
                         : sa_store_approval_decide(r->s, r->id, "accepted", "{}", r->reviewer,
                                                    NULL, &err);
    return NULL;
}

/* Runs RACERS threads on id at once; the index of the one winner (rc 0), after checking
 * that every other got SA_ECONFLICT. */
static int run_race_op_on(struct sa_store *s, const char *id, bool claim, int op, long long now,
                          const char *thread)
{
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, RACERS);
    struct racer r[RACERS];
    pthread_t t[RACERS];
    for (int i = 0; i < RACERS; i++) {
        r[i] = (struct racer){
            .s = s, .id = id, .go = &go, .claim = claim, .op = op, .now = now, .thread = thread};
        snprintf(r[i].reviewer, sizeof r[i].reviewer, "reviewer%d", i);
        assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
    }
    for (int i = 0; i < RACERS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&go);
    int winner = -1, wins = 0;
    for (int i = 0; i < RACERS; i++) {
        if (r[i].rc == 0) {
            winner = i;
            wins++;
        } else {
            assert_int_equal(r[i].rc, SA_ECONFLICT);
        }
    }
    assert_int_equal(wins, 1);
    return winner;
}

static int run_race_op(struct sa_store *s, const char *id, bool claim, int op, long long now)
{
    return run_race_op_on(s, id, claim, op, now, NULL);
}

static int run_race(struct sa_store *s, const char *id, bool claim)
{
    return run_race_op(s, id, claim, RACE_DEFAULT, 0);
}

/* Several reviewers decide the same approval at once: exactly one wins. */
static void test_approval_decided_once_under_concurrency(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    for (int round = 0; round < ROUNDS; round++) {
        char thread[64], iid[16], id[SA_UUID_LEN], got_id[37];
        uniq(thread, sizeof thread, "race", "");
        snprintf(iid, sizeof iid, "i%d", round);
        sa_uuid_v7(id);
        assert_int_equal(sa_store_approval_put(s, id, thread, iid, NULL, "{}", got_id, &err), 0);
        int winner = run_race(s, id, false);
        json_t *a = NULL;
        assert_int_equal(sa_store_approval_get(s, id, &a, &err), 0);
        char want[16];
        snprintf(want, sizeof want, "reviewer%d", winner);
        assert_string_equal(str(a, "reviewer"), want); /* the winner's decision stands */
        json_decref(a);
    }
    sa_store_close(s);
}

/* A new run supersedes an approval while reviewers answer it: either one reviewer's
 * answer stands or the approval is superseded, never both. */
static void test_approval_superseded_or_decided(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    for (int round = 0; round < ROUNDS; round++) {
        char thread[64], suffix[16], id[SA_UUID_LEN], got_id[37];
        snprintf(suffix, sizeof suffix, "-%d", round);
        uniq(thread, sizeof thread, "race-sup", suffix);
        sa_uuid_v7(id);
        assert_int_equal(sa_store_approval_put(s, id, thread, "i1", NULL, "{}", got_id, &err), 0);
        int winner = run_race_op_on(s, id, false, RACE_SUPERSEDE, 0, thread);
        json_t *a = NULL;
        assert_int_equal(sa_store_approval_get(s, id, &a, &err), 0);
        if (winner == 0) {
            assert_string_equal(str(a, "status"), "superseded");
            assert_true(json_is_null(json_object_get(a, "reviewer")));
        } else {
            char want[16];
            snprintf(want, sizeof want, "reviewer%d", winner);
            assert_string_equal(str(a, "status"), "accepted");
            assert_string_equal(str(a, "reviewer"), want);
            assert_true(json_is_null(json_object_get(a, "superseded_by")));
        }
        json_decref(a);
    }
    sa_store_close(s);
}

/* ---- the outbox ------------------------------------------------------------------- */

/* Items added twice under the same key are stored once; due, mark, cancel and the
 * frequency count; e-mails compare ignoring case. */
static void test_outbox(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char t1[64], k1[64], k2[64], email[64], mixed[64], upper[64];
    char i1[SA_UUID_LEN], i2[SA_UUID_LEN], i3[SA_UUID_LEN];
    uniq(t1, sizeof t1, "t1", "");
    uniq(k1, sizeof k1, "t1", ":email");
    uniq(k2, sizeof k2, "t1", ":followup:3");
    uniq(email, sizeof email, "dana", "@example.com");
    uniq(mixed, sizeof mixed, "Dana", "@Example.com");
    uniq(upper, sizeof upper, "DANA", "@example.com");
    sa_uuid_v7(i1);
    sa_uuid_v7(i2);
    sa_uuid_v7(i3);
    struct sa_outbox_item items[] = {
        {i1, k1, "email", t1, NULL, mixed, "{\"subject\":\"hi\"}", 1000, NULL, 0, NULL, NULL, NULL, NULL},
        {i2, k2, "followup", t1, NULL, email, "{\"subject\":\"re\"}", 5000, NULL, 0, NULL, NULL, NULL, NULL},
    };
    int added = 0;
    assert_int_equal(sa_store_outbox_add(s, items, 2, &added, &err), 0);
    assert_int_equal(added, 2);
    /* the same keys again (a resumed run, a repeated approval): nothing new */
    items[0].id = i3;
    assert_int_equal(sa_store_outbox_add(s, items, 2, &added, &err), 0);
    assert_int_equal(added, 0);
    long n = 0;
    assert_int_equal(sa_store_outbox_touches(s, email, 0, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(sa_store_outbox_touches(s, email, 2000, &n, &err), 0);
    assert_int_equal(n, 1); /* only the follow-up is due after 2000 */
    json_t *due = NULL;
    assert_int_equal(sa_store_outbox_due(s, 2000, 500, &due, &err), 0);
    assert_int_equal(count_by(due, "idempotency_key", k1), 1);
    assert_int_equal(count_by(due, "idempotency_key", k2), 0); /* due at 5000 */
    json_t *item = find_by(due, "idempotency_key", k1);
    assert_string_equal(str(item, "id"), i1);
    assert_string_equal(str(item, "status"), "queued");
    assert_string_equal(str(item, "kind"), "email");
    assert_string_equal(str(item, "thread_id"), t1);
    assert_string_equal(str(item, "to_email"), mixed);
    assert_int_equal(json_integer_value(json_object_get(item, "due_at")), 1000);
    assert_int_equal(json_integer_value(json_object_get(item, "attempts")), 0);
    assert_string_equal(str(json_object_get(item, "payload"), "subject"), "hi");
    json_decref(due);
    assert_int_equal(sa_store_outbox_mark(s, i1, "sent", "123.M1P1Q1.host", NULL, 0, &err), 0);
    assert_int_equal(sa_store_outbox_due(s, 2000, 500, &due, &err), 0);
    assert_int_equal(count_by(due, "idempotency_key", k1), 0);
    json_decref(due);
    int cancelled = 0;
    assert_int_equal(
        sa_store_outbox_cancel(s, NULL, upper, "followup", "replied", &cancelled, &err), 0);
    assert_int_equal(cancelled, 1);
    json_t *list = NULL;
    assert_int_equal(sa_store_outbox_list(s, NULL, upper, 10, &list, &err), 0);
    assert_int_equal(json_array_size(list), 2);
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it)
    {
        const char *st = str(it, "status");
        const char *kind = str(it, "kind");
        assert_string_equal(st, strcmp(kind, "email") == 0 ? "sent" : "cancelled");
        if (strcmp(kind, "email") == 0) {
            assert_int_equal(json_integer_value(json_object_get(it, "attempts")), 1);
            /* the list gives times as ISO 8601 UTC (due 1000 s after the epoch) */
            assert_string_equal(str(it, "due_at"), "1970-01-01T00:16:40Z");
            assert_string_equal(str(it, "delivered_id"), "123.M1P1Q1.host");
            assert_non_null(str(it, "sent_at"));
        } else {
            assert_string_equal(str(it, "last_error"), "replied");
        }
    }
    json_decref(list);
    assert_int_equal(sa_store_outbox_list(s, "sent", email, 10, &list, &err), 0);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    assert_int_equal(sa_store_outbox_touches(s, email, 0, &n, &err), 0);
    assert_int_equal(n, 1); /* a cancelled follow-up is not a touch */
    char unknown[SA_UUID_LEN];
    sa_uuid_v7(unknown);
    assert_int_equal(sa_store_outbox_mark(s, unknown, "sent", NULL, NULL, 0, &err), SA_ENOTFOUND);
    sa_store_close(s);
}

/* CRM pushes (kinds crm_*, app/crm_sync.h) are outbox items listed and counted by kind
 * prefix, and never count as touches or sent e-mail for the sending policy. */
static long count_status(struct sa_store *s, const char *status)
{
    struct sa_err err = {0};
    json_t *rows = NULL;
    assert_int_equal(sa_store_outbox_kind_counts(s, "crm_", &rows, &err), 0);
    long n = 0;
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        if (strcmp(str(r, "status"), status) == 0)
            n = (long)json_integer_value(json_object_get(r, "n"));
    }
    json_decref(rows);
    return n;
}

static void test_outbox_crm_kinds(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char email[64], k1[64], k2[64], k3[64], lead[SA_UUID_LEN], other[SA_UUID_LEN];
    char i1[SA_UUID_LEN], i2[SA_UUID_LEN], i3[SA_UUID_LEN];
    uniq(email, sizeof email, "crm", "@example.com");
    uniq(k1, sizeof k1, "crm_lead:", ":v1");
    uniq(k2, sizeof k2, "crm_activity:outbox:", "");
    uniq(k3, sizeof k3, "email:", "");
    sa_uuid_v7(lead);
    sa_uuid_v7(other);
    sa_uuid_v7(i1);
    sa_uuid_v7(i2);
    sa_uuid_v7(i3);
    long sent0 = count_status(s, "sent"), queued0 = count_status(s, "queued");
    struct sa_outbox_item items[] = {
        {i1, k1, "crm_lead", NULL, lead, email, "{\"score\":87}", 1000, NULL, 0, NULL, NULL, NULL,
         NULL},
        {i2, k2, "crm_activity", NULL, lead, email, "{\"type\":\"email\"}", 1000, NULL, 0, NULL,
         NULL, NULL, NULL},
        {i3, k3, "email", NULL, other, email, "{\"subject\":\"hi\"}", 1000, NULL, 0, NULL, NULL,
         NULL, NULL},
    };
    int added = 0;
    assert_int_equal(sa_store_outbox_add(s, items, 3, &added, &err), 0);
    assert_int_equal(added, 3);
    assert_int_equal(sa_store_outbox_mark(s, i1, "sent", "51001", NULL, 0, &err), 0);
    assert_int_equal(sa_store_outbox_mark(s, i3, "sent", "m1", NULL, 0, &err), 0);
    long n = 0;
    assert_int_equal(sa_store_outbox_touches(s, email, 0, &n, &err), 0);
    assert_int_equal(n, 1); /* the e-mail only */
    json_t *times = NULL;
    assert_int_equal(sa_store_outbox_sent_times(s, SA_SEND_CONTACT, email, 0, &times, &err), 0);
    assert_int_equal(json_array_size(times), 1);
    json_decref(times);
    json_t *list = NULL;
    assert_int_equal(sa_store_outbox_kind_list(s, "crm_", lead, 10, &list, &err), 0);
    assert_int_equal(json_array_size(list), 2);
    assert_int_equal(count_by(list, "kind", "crm_lead"), 1);
    assert_int_equal(count_by(list, "kind", "crm_activity"), 1);
    assert_string_equal(str(find_by(list, "kind", "crm_lead"), "delivered_id"), "51001");
    json_decref(list);
    assert_int_equal(sa_store_outbox_kind_list(s, "crm_", other, 10, &list, &err), 0);
    assert_int_equal(json_array_size(list), 0); /* the other lead's e-mail is no CRM push */
    json_decref(list);
    assert_int_equal(sa_store_outbox_kind_list(s, "crm_", NULL, 1, &list, &err), 0);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    assert_int_equal(count_status(s, "sent"), sent0 + 1);
    assert_int_equal(count_status(s, "queued"), queued0 + 1);
    sa_store_close(s);
}

/* A retry puts an item back in the queue at its new due time and counts the attempt. */
static void test_outbox_retry(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char key[64], email[64], id[SA_UUID_LEN];
    uniq(key, sizeof key, "retry", "");
    uniq(email, sizeof email, "retry", "@example.com");
    sa_uuid_v7(id);
    struct sa_outbox_item it = {id, key, "email", NULL, NULL, email, "{}", 1000, NULL, 0, NULL, NULL, NULL, NULL};
    int added = 0;
    assert_int_equal(sa_store_outbox_add(s, &it, 1, &added, &err), 0);
    assert_int_equal(sa_store_outbox_claim(s, id, &err), 0);
    assert_int_equal(sa_store_outbox_mark(s, id, "queued", NULL, "timeout", 3000, &err), 0);
    json_t *due = NULL;
    assert_int_equal(sa_store_outbox_due(s, 2000, 500, &due, &err), 0);
    assert_null(find_by(due, "id", id)); /* not before its new due time */
    json_decref(due);
    assert_int_equal(sa_store_outbox_due(s, 3000, 500, &due, &err), 0);
    json_t *mine = find_by(due, "id", id);
    assert_non_null(mine);
    assert_int_equal(json_integer_value(json_object_get(mine, "attempts")), 1);
    assert_string_equal(str(mine, "last_error"), "timeout");
    json_decref(due);
    assert_int_equal(sa_store_outbox_claim(s, id, &err), 0); /* queued again: claimable */
    sa_store_close(s);
}

/* A batch is added atomically: one bad item and none is stored. */
static void test_outbox_add_is_all_or_nothing(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char k1[64], k2[64], k3[64], email[64], i1[SA_UUID_LEN], i2[SA_UUID_LEN];
    uniq(k1, sizeof k1, "atomic", ":1");
    uniq(k2, sizeof k2, "atomic", ":2");
    uniq(k3, sizeof k3, "atomic", ":3");
    uniq(email, sizeof email, "atomic", "@example.com");
    sa_uuid_v7(i1);
    sa_uuid_v7(i2);
    struct sa_outbox_item first = {i1, k1, "email", NULL, NULL, email, "{}", 1000, NULL, 0, NULL, NULL, NULL, NULL};
    int added = 0;
    assert_int_equal(sa_store_outbox_add(s, &first, 1, &added, &err), 0);
    /* the second item reuses the first's id under a new key: the store refuses it */
    struct sa_outbox_item batch[] = {{i2, k2, "email", NULL, NULL, email, "{}", 1000, NULL, 0, NULL, NULL, NULL, NULL},
                                     {i1, k3, "email", NULL, NULL, email, "{}", 1000, NULL, 0, NULL, NULL, NULL, NULL}};
    added = 7;
    assert_int_equal(sa_store_outbox_add(s, batch, 2, &added, &err), SA_ESTORE);
    assert_int_equal(added, 0);
    json_t *list = NULL;
    assert_int_equal(sa_store_outbox_list(s, NULL, email, 10, &list, &err), 0);
    assert_int_equal(json_array_size(list), 1);
    assert_int_equal(count_by(list, "idempotency_key", k2), 0);
    json_decref(list);
    sa_store_close(s);
}

/* Several delivery workers claim the same item at once: exactly one gets it. */
static void test_outbox_claimed_once_under_concurrency(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char email[64];
    uniq(email, sizeof email, "claim", "@example.com");
    for (int round = 0; round < ROUNDS; round++) {
        char key[64], sfx[16], id[SA_UUID_LEN];
        snprintf(sfx, sizeof sfx, ":%d", round);
        uniq(key, sizeof key, "claim", sfx);
        sa_uuid_v7(id);
        struct sa_outbox_item it = {id, key, "email", NULL, NULL, email, "{}", 1000, NULL, 0, NULL, NULL, NULL, NULL};
        int added = 0;
        assert_int_equal(sa_store_outbox_add(s, &it, 1, &added, &err), 0);
        assert_int_equal(added, 1);
        (void)run_race(s, id, true);
        json_t *list = NULL;
        assert_int_equal(sa_store_outbox_list(s, "sending", email, 500, &list, &err), 0);
        assert_non_null(find_by(list, "id", id));
        json_decref(list);
        /* claimed items are no longer due, and a finished one cannot be claimed */
        json_t *due = NULL;
        assert_int_equal(sa_store_outbox_due(s, 2000, 500, &due, &err), 0);
        assert_null(find_by(due, "id", id));
        json_decref(due);
        assert_int_equal(sa_store_outbox_mark(s, id, "sent", "d", NULL, 0, &err), 0);
        assert_int_equal(sa_store_outbox_claim(s, id, &err), SA_ECONFLICT);
    }
    char unknown[SA_UUID_LEN];
    sa_uuid_v7(unknown);
    assert_int_equal(sa_store_outbox_claim(s, unknown, &err), SA_ENOTFOUND);
    sa_store_close(s);
}

/* ---- contacts --------------------------------------------------------------------- */

/* The sending policy's reads and writes: a sequence's items by day, deferral with a
 * reason (only while queued), send times per contact, domain and sender, the active
 * sequences of a contact, and cancelling a whole sequence. */
static void test_outbox_policy(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char email[64], seq1[SA_UUID_LEN], seq2[SA_UUID_LEN], dom[64];
    uniq(email, sizeof email, "seq", "@policy.example");
    uniq(dom, sizeof dom, "policy", ".example");
    sa_uuid_v7(seq1);
    sa_uuid_v7(seq2);
    char ids[3][SA_UUID_LEN], keys[3][64];
    struct sa_outbox_item it[3];
    for (int i = 0; i < 3; i++) {
        sa_uuid_v7(ids[i]);
        snprintf(keys[i], sizeof keys[i], "%s:%d", i < 2 ? seq1 : seq2, i);
        it[i] = (struct sa_outbox_item){.id = ids[i],
                                        .idempotency_key = keys[i],
                                        .kind = i == 1 ? "followup" : "email",
                                        .to_email = email,
                                        .payload = "{}",
                                        .due_at = 1000 + i,
                                        .sequence_id = i < 2 ? seq1 : seq2,
                                        .seq_day = i == 1 ? 3 : 0,
                                        .recipient_tz = "Europe/Berlin",
                                        .to_domain = dom,
                                        .sender = "alex@policy-sender.example",
                                        .message_id = "<x@policy.example>"};
    }
    int added = 0;
    assert_int_equal(sa_store_outbox_add(s, it, 3, &added, &err), 0);
    assert_int_equal(added, 3);
    json_t *q = NULL;
    assert_int_equal(sa_store_outbox_sequence(s, seq1, &q, &err), 0);
    assert_int_equal(json_array_size(q), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(q, 1), "seq_day")), 3);
    assert_string_equal(str(json_array_get(q, 0), "message_id"), "<x@policy.example>");
    json_decref(q);
    /* deferral: queued only, no attempt counted, the reason kept */
    assert_int_equal(sa_store_outbox_defer(s, ids[1], 99999, "sending_window", &err), 0);
    assert_int_equal(sa_store_outbox_list(s, NULL, email, 10, &q, &err), 0);
    bool seen = false;
    for (size_t i = 0; i < json_array_size(q); i++) {
        json_t *row = json_array_get(q, i);
        if (strcmp(str(row, "id"), ids[1]) == 0) {
            seen = true;
            assert_string_equal(str(row, "deferred_reason"), "sending_window");
            assert_string_equal(str(row, "recipient_tz"), "Europe/Berlin");
            assert_int_equal(json_integer_value(json_object_get(row, "attempts")), 0);
        }
    }
    assert_true(seen);
    json_decref(q);
    /* both sequences are active for the contact; one excepted leaves the other */
    assert_int_equal(sa_store_outbox_active_sequences(s, email, seq2, 0, &q, &err), 0);
    assert_int_equal(json_array_size(q), 1);
    assert_string_equal(str(json_array_get(q, 0), "sequence_id"), seq1);
    json_decref(q);
    /* a sent item is counted per contact, domain and sender from its send time */
    assert_int_equal(sa_store_outbox_claim(s, ids[0], &err), 0);
    assert_int_equal(sa_store_outbox_mark(s, ids[0], "sent", "d1", NULL, 0, &err), 0);
    static const enum sa_send_scope scopes[] = {SA_SEND_CONTACT, SA_SEND_DOMAIN, SA_SEND_SENDER};
    const char *keys_of[] = {email, dom, "ALEX@policy-sender.example"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sa_store_outbox_sent_times(s, scopes[i], keys_of[i], 0, &q, &err), 0);
        assert_int_equal(json_array_size(q), 1);
        assert_true(json_integer_value(json_array_get(q, 0)) > 0);
        json_decref(q);
    }
    assert_int_equal(sa_store_outbox_defer(s, ids[0], 5, "x", &err), SA_ECONFLICT);
    /* cancelling seq1 cancels its queued follow-up only */
    int n = 0;
    assert_int_equal(sa_store_outbox_cancel_sequence(s, seq1, "duplicate_sequence", &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(sa_store_outbox_sequence(s, seq1, &q, &err), 0);
    assert_string_equal(str(json_array_get(q, 0), "status"), "sent");
    assert_string_equal(str(json_array_get(q, 1), "status"), "cancelled");
    json_decref(q);
    sa_store_close(s);
}

static void test_contacts(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char email[64], mixed[64];
    uniq(email, sizeof email, "pat", "@example.com");
    uniq(mixed, sizeof mixed, "Pat", "@Example.COM");
    json_t *c = NULL;
    assert_int_equal(sa_store_contact_get(s, email, &c, &err), SA_ENOTFOUND);
    assert_null(c);
    assert_int_equal(sa_store_contact_dnc(s, mixed, "unsubscribe", "test", &err), 0);
    assert_int_equal(sa_store_contact_get(s, email, &c, &err), 0);
    assert_true(json_is_true(json_object_get(c, "do_not_contact")));
    assert_string_equal(str(c, "reason"), "unsubscribe");
    assert_string_equal(str(c, "source"), "test");
    assert_non_null(str(c, "email"));
    assert_non_null(str(c, "updated_at"));
    json_decref(c);
    /* a later opt-out keeps the flag and never overwrites the first one's record; it is
     * added to the history, and repeating one from the same source adds nothing */
    assert_int_equal(sa_store_contact_dnc(s, email, "bounce", "smtp", &err), 0);
    assert_int_equal(sa_store_contact_dnc(s, email, "bounce again", "smtp", &err), 0);
    assert_int_equal(sa_store_contact_get(s, mixed, &c, &err), 0);
    assert_true(json_is_true(json_object_get(c, "do_not_contact")));
    assert_string_equal(str(c, "reason"), "unsubscribe");
    assert_string_equal(str(c, "source"), "test");
    json_decref(c);
    json_t *h = NULL;
    assert_int_equal(sa_store_contact_history(s, email, &h, &err), 0);
    assert_int_equal(json_array_size(h), 2);
    assert_string_equal(str(json_array_get(h, 0), "source"), "test");
    assert_string_equal(str(json_array_get(h, 1), "source"), "smtp");
    assert_string_equal(str(json_array_get(h, 1), "action"), "opt_out");
    json_decref(h);
    /* listed while marked */
    long total = 0;
    assert_int_equal(sa_store_contact_list_dnc(s, 500, 0, &h, &total, &err), 0);
    assert_true(total >= 1);
    bool listed = false;
    for (size_t i = 0; i < json_array_size(h); i++)
        listed |= strcasecmp(str(json_array_get(h, i), "email"), email) == 0;
    assert_true(listed);
    json_decref(h);
    /* lifting takes a consent record; the history keeps the opt-outs */
    assert_int_equal(sa_store_contact_lift(s, mixed, "signed form", "met at a fair", &err), 0);
    assert_int_equal(sa_store_contact_lift(s, email, "again", NULL, &err), SA_ECONFLICT);
    assert_int_equal(sa_store_contact_get(s, email, &c, &err), 0);
    assert_false(json_is_true(json_object_get(c, "do_not_contact")));
    json_decref(c);
    assert_int_equal(sa_store_contact_history(s, email, &h, &err), 0);
    assert_int_equal(json_array_size(h), 3);
    assert_string_equal(str(json_array_get(h, 2), "action"), "lift");
    assert_string_equal(str(json_array_get(h, 2), "source"), "signed form");
    assert_string_equal(str(json_array_get(h, 2), "reason"), "met at a fair");
    json_decref(h);
    /* after a lift, the same source can opt out again and is the record once more */
    assert_int_equal(sa_store_contact_dnc(s, email, "bounce", "smtp", &err), 0);
    assert_int_equal(sa_store_contact_get(s, email, &c, &err), 0);
    assert_true(json_is_true(json_object_get(c, "do_not_contact")));
    assert_string_equal(str(c, "source"), "smtp");
    json_decref(c);
    assert_int_equal(sa_store_contact_history(s, email, &h, &err), 0);
    assert_int_equal(json_array_size(h), 4);
    json_decref(h);
    /* a generated secret is kept: the second candidate loses */
    char *sec = NULL;
    char name[64];
    uniq(name, sizeof name, "secret", "");
    assert_int_equal(sa_store_secret_get_or_put(s, name, "first", &sec, &err), 0);
    assert_string_equal(sec, "first");
    free(sec);
    assert_int_equal(sa_store_secret_get_or_put(s, name, "second", &sec, &err), 0);
    assert_string_equal(sec, "first");
    free(sec);
    sa_store_close(s);
}

/* Consent is per mailbox: a CRM's sub-address (tom+crm@) is delivered to tom@, so an
 * opt-out of either blocks both, and a lift lifts both; an opt-out recorded under the
 * tagged address itself (before this rule) still blocks it and is lifted with it. */
static void test_contacts_mailbox(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char base[64], tagged[64], other[64];
    uniq(base, sizeof base, "tom", "@acme-mailbox.example");
    snprintf(tagged, sizeof tagged, "%.*s+crm%s", (int)strcspn(base, "@"), base, strchr(base, '@'));
    snprintf(other, sizeof other, "%.*s+newsletter%s", (int)strcspn(base, "@"), base,
             strchr(base, '@'));
    char buf[64];
    assert_string_equal(sa_store_mailbox(tagged, buf, sizeof buf), base);
    assert_string_equal(sa_store_mailbox(base, buf, sizeof buf), base);
    assert_string_equal(sa_store_mailbox("+1555@sms.example", buf, sizeof buf),
                        "+1555@sms.example");
    json_t *c = NULL;
    assert_int_equal(sa_store_contact_dnc(s, tagged, "unsubscribe", "prospect", &err), 0);
    const char *all[] = {base, tagged, other};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(sa_store_contact_get(s, all[i], &c, &err), 0);
        if (!json_is_true(json_object_get(c, "do_not_contact")))
            fail_msg("%s is not blocked by the opt-out of %s", all[i], tagged);
        json_decref(c);
    }
    json_t *h = NULL;
    assert_int_equal(sa_store_contact_history(s, other, &h, &err), 0);
    assert_int_equal(json_array_size(h), 1);
    json_decref(h);
    assert_int_equal(sa_store_contact_lift(s, base, "signed form", NULL, &err), 0);
    assert_int_equal(sa_store_contact_get(s, tagged, &c, &err), 0);
    assert_false(json_is_true(json_object_get(c, "do_not_contact")));
    json_decref(c);
    /* the other way round: tom@ opts out, tom+crm@ is blocked */
    assert_int_equal(sa_store_contact_dnc(s, base, "asked on the phone", "operator", &err), 0);
    assert_int_equal(sa_store_contact_get(s, tagged, &c, &err), 0);
    assert_true(json_is_true(json_object_get(c, "do_not_contact")));
    json_decref(c);
    assert_int_equal(sa_store_contact_lift(s, tagged, "signed form", NULL, &err), 0);
    /* a tagged record written before the rule (straight through the backend) */
    assert_int_equal(s->ops->contact_dnc(s, other, "bounce", "smtp", &err), 0);
    assert_int_equal(sa_store_contact_get(s, other, &c, &err), 0);
    assert_true(json_is_true(json_object_get(c, "do_not_contact")));
    assert_string_equal(str(c, "source"), "smtp");
    json_decref(c);
    assert_int_equal(sa_store_contact_get(s, base, &c, &err), 0);
    assert_false(json_is_true(json_object_get(c, "do_not_contact")));
    json_decref(c);
    assert_int_equal(sa_store_contact_lift(s, other, "signed form", NULL, &err), 0);
    assert_int_equal(sa_store_contact_get(s, other, &c, &err), 0);
    assert_false(json_is_true(json_object_get(c, "do_not_contact")));
    json_decref(c);
    assert_int_equal(sa_store_contact_lift(s, other, "again", NULL, &err), SA_ECONFLICT);
    sa_store_close(s);
}

/* ---- enrichment cache ------------------------------------------------------------- */

static void test_cache(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char key[64], gone[64];
    uniq(key, sizeof key, "local:acme", ".example");
    uniq(gone, sizeof gone, "local:gone", ".example");
    json_t *got = NULL;
    assert_int_equal(sa_store_cache_get(s, key, &got, &err), SA_ENOTFOUND);
    assert_null(got);
    json_t *v1 = json_pack("{s:s, s:i}", "name", "Acme", "employees", 300);
    json_t *v2 = json_pack("{s:s}", "name", "Acme Inc");
    assert_int_equal(sa_store_cache_put(s, key, "local_dataset", v1, 60, &err), 0);
    assert_int_equal(sa_store_cache_get(s, key, &got, &err), 0);
    assert_true(json_equal(got, v1));
    json_decref(got);
    assert_int_equal(sa_store_cache_put(s, key, "local_dataset", v2, 60, &err), 0);
    assert_int_equal(sa_store_cache_get(s, key, &got, &err), 0);
    assert_true(json_equal(got, v2)); /* replaced */
    json_decref(got);
    assert_int_equal(sa_store_cache_put(s, gone, "none", v1, -1, &err), 0);
    assert_int_equal(sa_store_cache_get(s, gone, &got, &err), SA_ENOTFOUND); /* expired */
    json_decref(v1);
    json_decref(v2);
    sa_store_close(s);
}

/* ---- the checkpoint saver beside the store ----------------------------------------- */

static struct graph_saver *open_saver(void)
{
    struct graph_saver *sv = NULL;
    struct sa_err err = {0};
    if (sa_saver_open(url, &sv, &err))
        fail_msg("saver %s: %s", url, err.msg);
    return sv;
}

static struct graph_record record(const char *id, const char *parent, int step, bool full,
                                  const char *blob, size_t len, double expires_at)
{
    struct graph_record r = {.step = step,
                             .full = full,
                             .blob = (char *)blob,
                             .blob_len = len,
                             .expires_at = expires_at};
    snprintf(r.id, sizeof r.id, "%s", id);
    snprintf(r.parent_id, sizeof r.parent_id, "%s", parent);
    return r;
}

/* put / get / put_writes / list / delete_except / delete_thread. */
static void test_saver_records(void **state)
{
    (void)state;
    struct graph_saver *sv = open_saver();
    struct sa_err err = {0};
    char thread[64], ids[3][SA_UUID_LEN];
    uniq(thread, sizeof thread, "saver", "");
    for (int i = 0; i < 3; i++)
        sa_uuid_v7(ids[i]); /* increasing: the last is the latest */
    static const char b0[] = "full\0snapshot", b1[] = "delta-1", b2[] = "delta-2";
    struct graph_record r0 = record(ids[0], "", 0, true, b0, sizeof b0 - 1, 0);
    struct graph_record r1 = record(ids[1], ids[0], 1, false, b1, sizeof b1 - 1, 0);
    struct graph_record r2 = record(ids[2], ids[1], 2, false, b2, sizeof b2 - 1, 0);
    struct graph_record out = {0};
    assert_int_equal(graph_saver_get(sv, thread, NULL, &out, &err), SA_ENOTFOUND);
    assert_int_equal(graph_saver_put(sv, thread, &r0, &err), 0);
    assert_int_equal(graph_saver_put(sv, thread, &r1, &err), 0);
    assert_int_equal(graph_saver_put(sv, thread, &r2, &err), 0);

    assert_int_equal(graph_saver_get(sv, thread, NULL, &out, &err), 0); /* the latest */
    assert_string_equal(out.id, ids[2]);
    assert_string_equal(out.parent_id, ids[1]);
    assert_int_equal(out.step, 2);
    assert_false(out.full);
    assert_int_equal(out.blob_len, sizeof b2 - 1);
    assert_memory_equal(out.blob, b2, sizeof b2 - 1);
    assert_null(out.writes);
    graph_record_clear(&out);
    assert_int_equal(graph_saver_get(sv, thread, ids[0], &out, &err), 0);
    assert_string_equal(out.parent_id, "");
    assert_true(out.full);
    assert_int_equal(out.blob_len, sizeof b0 - 1); /* binary-safe: an embedded NUL */
    assert_memory_equal(out.blob, b0, sizeof b0 - 1);
    graph_record_clear(&out);
    char other[64];
    assert_int_equal(
        graph_saver_get(sv, uniq(other, sizeof other, "no-thread", ""), NULL, &out, &err),
        SA_ENOTFOUND);

    static const char w[] = "[{\"task\":\"a\"}]";
    assert_int_equal(graph_saver_put_writes(sv, thread, ids[1], w, sizeof w - 1, &err), 0);
    assert_int_equal(graph_saver_get(sv, thread, ids[1], &out, &err), 0);
    assert_int_equal(out.writes_len, sizeof w - 1);
    assert_memory_equal(out.writes, w, sizeof w - 1);
    graph_record_clear(&out);
    char unknown[SA_UUID_LEN];
    sa_uuid_v7(unknown);
    assert_int_equal(graph_saver_put_writes(sv, thread, unknown, w, sizeof w - 1, &err),
                     SA_ENOTFOUND);

    char(*list)[GRAPH_ID_LEN] = NULL;
    int n = 0;
    assert_int_equal(graph_saver_list(sv, thread, 0, &list, &n, &err), 0);
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++)
        assert_string_equal(list[i], ids[2 - i]); /* newest first */
    free(list);
    assert_int_equal(graph_saver_list(sv, thread, 2, &list, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0], ids[2]);
    free(list);

    size_t bytes = 0;
    int records = 0;
    int rc = graph_saver_thread_bytes(sv, thread, &bytes, &records, &err);
    if (rc != SA_ENOTIMPL) { /* optional */
        assert_int_equal(rc, 0);
        assert_int_equal(records, 3);
        assert_true(bytes >= sizeof b0 - 1 + sizeof b1 - 1 + sizeof b2 - 1 + sizeof w - 1);
    }

    assert_int_equal(graph_saver_delete_except(sv, thread, ids[1], &err), 0);
    assert_int_equal(graph_saver_list(sv, thread, 0, &list, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0], ids[1]);
    free(list);
    assert_int_equal(graph_saver_delete_thread(sv, thread, &err), 0);
    assert_int_equal(graph_saver_list(sv, thread, 0, &list, &n, &err), 0);
    assert_int_equal(n, 0);
    free(list);
    assert_int_equal(graph_saver_get(sv, thread, NULL, &out, &err), SA_ENOTFOUND);
    graph_saver_free(sv);
}

/* A sweep deletes the threads whose newest record has expired, and only those. */
static void test_saver_sweep(void **state)
{
    (void)state;
    struct graph_saver *sv = open_saver();
    struct sa_err err = {0};
    double now = (double)time(NULL); /* only threads expired by now are swept */
    int n = -1;
    assert_int_equal(graph_saver_sweep(sv, now, &n, &err), 0); /* whatever expired before */
    char expired[64], renewed[64], future[64], forever[64], ids[5][SA_UUID_LEN];
    uniq(expired, sizeof expired, "sweep-expired", "");
    uniq(renewed, sizeof renewed, "sweep-renewed", "");
    uniq(future, sizeof future, "sweep-future", "");
    uniq(forever, sizeof forever, "sweep-forever", "");
    for (int i = 0; i < 5; i++)
        sa_uuid_v7(ids[i]);
    struct graph_record r;
    r = record(ids[0], "", 0, true, "x", 1, now - 10);
    assert_int_equal(graph_saver_put(sv, expired, &r, &err), 0);
    r = record(ids[1], "", 0, true, "x", 1, now - 10); /* an old record expired... */
    assert_int_equal(graph_saver_put(sv, renewed, &r, &err), 0);
    r = record(ids[2], ids[1], 1, false, "y", 1, now + 3600); /* ...the newest has not */
    assert_int_equal(graph_saver_put(sv, renewed, &r, &err), 0);
    r = record(ids[3], "", 0, true, "x", 1, now + 3600);
    assert_int_equal(graph_saver_put(sv, future, &r, &err), 0);
    r = record(ids[4], "", 0, true, "x", 1, 0); /* 0: never */
    assert_int_equal(graph_saver_put(sv, forever, &r, &err), 0);
    assert_int_equal(graph_saver_sweep(sv, now, &n, &err), 0);
    assert_int_equal(n, 1);
    struct graph_record out = {0};
    assert_int_equal(graph_saver_get(sv, expired, NULL, &out, &err), SA_ENOTFOUND);
    const char *kept[] = {renewed, future, forever};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(graph_saver_get(sv, kept[i], NULL, &out, &err), 0);
        graph_record_clear(&out);
        assert_int_equal(graph_saver_delete_thread(sv, kept[i], &err), 0);
    }
    graph_saver_free(sv);
}

/* ---- API keys --------------------------------------------------------------------- */

/* "<tok><8 hex digits of n>": a 16-hex key id no earlier run used. */
static const char *key_id(char out[17], unsigned n)
{
    snprintf(out, 17, "%s%08x", tok, n);
    return out;
}

static struct sa_key_row key_row(const char *id, const char *name, const char *created_at)
{
    return (struct sa_key_row){
        .id = id,
        .name = name,
        .scopes = "read,write",
        .salt = "00112233445566778899aabbccddeeff",
        .hash = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
        .created_at = created_at,
        .created_by = "cli:tester"};
}

/* A key is stored with its salt and hash, read back for verification, refused twice
 * under one id, and counted; bad fields are refused and write nothing. */
static void test_key_insert_get_count(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    long n0 = -1, n = -1;
    assert_int_equal(sa_store_key_count(s, &n0, &err), 0);
    assert_true(n0 >= 0);
    char id[17], name[64];
    key_id(id, 1);
    struct sa_key_row k = key_row(id, uniq(name, sizeof name, "key", ""), "2026-12-02T07:10:00Z");
    k.expires_at = "2027-12-02T07:10:00.5Z";
    assert_int_equal(sa_store_key_insert(s, &k, &err), 0);
    assert_int_equal(sa_store_key_count(s, &n, &err), 0);
    assert_int_equal(n, n0 + 1);

    json_t *got = NULL;
    assert_int_equal(sa_store_key_get(s, id, &got, &err), 0);
    assert_string_equal(str(got, "id"), id);
    assert_string_equal(str(got, "name"), name);
    assert_string_equal(str(got, "scopes"), "read,write");
    assert_string_equal(str(got, "salt"), k.salt);
    assert_string_equal(str(got, "hash"), k.hash);
    assert_string_equal(str(got, "created_at"), "2026-12-02T07:10:00.000Z"); /* stored form */
    assert_string_equal(str(got, "expires_at"), "2027-12-02T07:10:00.500Z");
    assert_true(json_is_null(json_object_get(got, "revoked_at")));
    assert_true(json_is_null(json_object_get(got, "last_used_at")));
    json_decref(got);

    /* the same id again, whatever else differs: refused, the first key stays */
    struct sa_key_row again = key_row(id, "intruder", "2026-12-03T00:00:00Z");
    assert_int_equal(sa_store_key_insert(s, &again, &err), SA_ECONFLICT);
    assert_int_equal(sa_store_key_get(s, id, &got, &err), 0);
    assert_string_equal(str(got, "name"), name);
    json_decref(got);

    char unknown[17];
    got = json_object(); /* cleared on entry */
    json_t *was = got;
    assert_int_equal(sa_store_key_get(s, key_id(unknown, 0xffffffffu), &got, &err), SA_ENOTFOUND);
    assert_null(got);
    json_decref(was);

    /* bad input: a clear SA_EINVAL, and nothing written */
    char other[17];
    key_id(other, 2);
    struct sa_key_row bad = key_row("ABCDEF0123456789", "n", "2026-12-02T07:10:00Z");
    assert_int_equal(sa_store_key_insert(s, &bad, &err), SA_EINVAL); /* upper case */
    assert_non_null(strstr(err.msg, "16 lowercase hex"));
    bad.id = "0123";
    assert_int_equal(sa_store_key_insert(s, &bad, &err), SA_EINVAL);
    bad = key_row(other, "", "2026-12-02T07:10:00Z");
    assert_int_equal(sa_store_key_insert(s, &bad, &err), SA_EINVAL);
    assert_non_null(strstr(err.msg, "name"));
    bad = key_row(other, "n", NULL);
    assert_int_equal(sa_store_key_insert(s, &bad, &err), SA_EINVAL);
    const char *bad_times[] = {"2026-12-02 07:10:00Z",
                               "2026-12-02T07:10:00",
                               "2026-02-30T07:10:00Z",
                               "2026-12-02T24:00:00Z",
                               "2026-12-02T07:10:00.Z",
                               "2026-12-02T07:10:00+01:00",
                               "yesterday"};
    for (size_t i = 0; i < sizeof bad_times / sizeof bad_times[0]; i++) {
        bad = key_row(other, "n", bad_times[i]);
        assert_int_equal(sa_store_key_insert(s, &bad, &err), SA_EINVAL);
        assert_non_null(strstr(err.msg, "created_at"));
    }
    bad = key_row(other, "n", "2026-12-02T07:10:00Z");
    bad.expires_at = "never";
    assert_int_equal(sa_store_key_insert(s, &bad, &err), SA_EINVAL);
    assert_int_equal(sa_store_key_get(s, other, &got, &err), SA_ENOTFOUND);
    assert_int_equal(sa_store_key_count(s, &n, &err), 0);
    assert_int_equal(n, n0 + 1);
    sa_store_close(s);
}

/* The list is newest first and never shows a salt or a hash; revoking happens once and
 * keeps the first time; last_used_at follows touches and never moves back. */
static void test_key_list_revoke_touch(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char old_id[17], new_id[17], name[64];
    key_id(old_id, 3);
    key_id(new_id, 4);
    struct sa_key_row older =
        key_row(old_id, uniq(name, sizeof name, "old", ""), "2026-12-02T07:10:00Z");
    struct sa_key_row newer = key_row(new_id, "newer", "2026-12-02T07:11:00Z");
    newer.created_by = NULL;
    assert_int_equal(sa_store_key_insert(s, &older, &err), 0);
    assert_int_equal(sa_store_key_insert(s, &newer, &err), 0);

    json_t *list = NULL;
    assert_int_equal(sa_store_key_list(s, &list, &err), 0);
    size_t i, at_old = SIZE_MAX, at_new = SIZE_MAX;
    json_t *it;
    json_array_foreach(list, i, it)
    {
        assert_null(json_object_get(it, "salt"));
        assert_null(json_object_get(it, "hash"));
        if (strcmp(str(it, "id"), old_id) == 0)
            at_old = i;
        if (strcmp(str(it, "id"), new_id) == 0)
            at_new = i;
    }
    assert_true(at_new < at_old && at_old < json_array_size(list)); /* newest first */
    json_t *o = json_array_get(list, at_old);
    assert_int_equal(json_object_size(o), 8);
    assert_string_equal(str(o, "name"), name);
    assert_string_equal(str(o, "scopes"), "read,write");
    assert_string_equal(str(o, "created_at"), "2026-12-02T07:10:00.000Z");
    assert_string_equal(str(o, "created_by"), "cli:tester");
    assert_true(json_is_null(json_object_get(o, "expires_at")));
    assert_true(json_is_null(json_object_get(o, "revoked_at")));
    assert_true(json_is_null(json_object_get(o, "last_used_at")));
    assert_true(json_is_null(json_object_get(json_array_get(list, at_new), "created_by")));
    json_decref(list);

    /* revoke: once, the first time stays, shown as the list shows a key */
    json_t *k = NULL;
    assert_int_equal(sa_store_key_revoke(s, old_id, "2026-12-02T08:00:00Z", &k, &err), 0);
    assert_string_equal(str(k, "id"), old_id);
    assert_string_equal(str(k, "revoked_at"), "2026-12-02T08:00:00.000Z");
    assert_null(json_object_get(k, "salt"));
    assert_null(json_object_get(k, "hash"));
    assert_int_equal(json_object_size(k), 8);
    json_decref(k);
    assert_int_equal(sa_store_key_revoke(s, old_id, "2026-12-02T09:00:00Z", &k, &err), 0);
    assert_string_equal(str(k, "revoked_at"), "2026-12-02T08:00:00.000Z");
    json_decref(k);
    assert_int_equal(sa_store_key_get(s, old_id, &k, &err), 0);
    assert_string_equal(str(k, "revoked_at"), "2026-12-02T08:00:00.000Z");
    json_decref(k);
    assert_int_equal(sa_store_key_get(s, new_id, &k, &err), 0); /* the other key untouched */
    assert_true(json_is_null(json_object_get(k, "revoked_at")));
    json_decref(k);
    char unknown[17];
    key_id(unknown, 0xfffffffeu);
    k = json_object();
    json_t *was = k;
    assert_int_equal(sa_store_key_revoke(s, unknown, "2026-12-02T08:00:00Z", &k, &err),
                     SA_ENOTFOUND);
    assert_null(k);
    json_decref(was);
    assert_int_equal(sa_store_key_revoke(s, new_id, "now", &k, &err), SA_EINVAL);
    assert_null(k);

    /* touch: last_used_at follows, never backwards */
    assert_int_equal(sa_store_key_touch(s, new_id, "2026-12-02T10:00:00.250Z", &err), 0);
    assert_int_equal(sa_store_key_get(s, new_id, &k, &err), 0);
    assert_string_equal(str(k, "last_used_at"), "2026-12-02T10:00:00.250Z");
    json_decref(k);
    assert_int_equal(sa_store_key_touch(s, new_id, "2026-12-02T09:59:00Z", &err), 0);
    assert_int_equal(sa_store_key_get(s, new_id, &k, &err), 0);
    assert_string_equal(str(k, "last_used_at"), "2026-12-02T10:00:00.250Z");
    json_decref(k);
    assert_int_equal(sa_store_key_touch(s, new_id, "2026-12-02T10:01:00Z", &err), 0);
    assert_int_equal(sa_store_key_get(s, new_id, &k, &err), 0);
    assert_string_equal(str(k, "last_used_at"), "2026-12-02T10:01:00.000Z");
    json_decref(k);
    assert_int_equal(sa_store_key_touch(s, unknown, "2026-12-02T10:01:00Z", &err), SA_ENOTFOUND);
    assert_int_equal(sa_store_key_touch(s, new_id, "2026-12-02", &err), SA_EINVAL);
    sa_store_close(s);
}

/* ---- the audit log ---------------------------------------------------------------- */

static struct sa_audit_row audit_row(const char *at, const char *principal, const char *action,
                                     const char *target)
{
    return (struct sa_audit_row){
        .at = at, .principal = principal, .action = action, .target = target, .request_id = "r1"};
}

/* Every page of q, followed through next_before_id, into one array (new reference);
 * checks on the way that ids fall strictly from page to page. */
static json_t *audit_all(struct sa_store *s, struct sa_audit_query q)
{
    json_t *all = json_array();
    long last = 0;
    for (int pages = 0; pages < 1000; pages++) {
        json_t *page = NULL;
        struct sa_err err = {0};
        if (sa_store_audit_list(s, &q, &page, &err))
            fail_msg("audit_list: %s", err.msg);
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(page, "items"), i, it)
        {
            long id = (long)json_integer_value(json_object_get(it, "id"));
            assert_true(last == 0 || id < last);
            last = id;
            json_array_append(all, it);
        }
        json_t *next = json_object_get(page, "next_before_id");
        bool more = json_is_integer(next);
        if (more) {
            assert_int_equal(json_integer_value(next), last);
            q.before_id = (long)json_integer_value(next);
        }
        json_decref(page);
        if (!more)
            return all;
    }
    fail_msg("audit_list: no last page");
    return NULL;
}

/* Records come back whole (detail included) with store-assigned increasing ids; each
 * filter, alone and combined, selects exactly its records. */
static void test_audit_append_and_filters(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char alice[64], bob[64], lead[64], key[64];
    uniq(alice, sizeof alice, "key:alice", "");
    uniq(bob, sizeof bob, "key:bob", "");
    uniq(lead, sizeof lead, "lead", "");
    uniq(key, sizeof key, "keyid", "");
    json_t *detail = json_pack("{s:s, s:[i, f, b, n], s:{s:s}}", "status", "accepted", "list", 1,
                               2.5, 1, "nested", "name", "Zoë \"Q\" <z@example.com>");
    struct sa_audit_row rows[] = {
        audit_row("2026-12-01T10:00:00Z", alice, "lead.update", lead),
        audit_row("2026-12-01T11:00:00Z", bob, "lead.update", lead),
        audit_row("2026-12-01T12:00:00Z", alice, "key.create", key),
        audit_row("2026-12-01T13:00:00.5Z", alice, "lead.delete", lead),
        audit_row("2026-12-01T14:00:00Z", bob, "key.revoke", key),
    };
    rows[0].detail = detail;
    rows[2].request_id = NULL;
    rows[2].target = NULL;
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(sa_store_audit_append(s, &rows[i], &err), 0);
    rows[2].target = key; /* for the expectations below: it was stored without one */

    /* alice's records, newest first, whole */
    json_t *got = audit_all(s, (struct sa_audit_query){.principal = alice, .limit = 500});
    assert_int_equal(json_array_size(got), 3);
    json_t *r0 = json_array_get(got, 2), *r2 = json_array_get(got, 1), *r3 = json_array_get(got, 0);
    assert_string_equal(str(r3, "action"), "lead.delete");
    assert_string_equal(str(r3, "at"), "2026-12-01T13:00:00.500Z");
    assert_string_equal(str(r0, "at"), "2026-12-01T10:00:00.000Z");
    assert_string_equal(str(r0, "principal"), alice);
    assert_string_equal(str(r0, "action"), "lead.update");
    assert_string_equal(str(r0, "target"), lead);
    assert_string_equal(str(r0, "request_id"), "r1");
    assert_true(json_equal(json_object_get(r0, "detail"), detail));       /* detail round-trips */
    assert_int_equal(json_object_size(json_object_get(r3, "detail")), 0); /* NULL: {} */
    assert_true(json_is_object(json_object_get(r3, "detail")));
    assert_true(json_is_null(json_object_get(r2, "target")));
    assert_true(json_is_null(json_object_get(r2, "request_id")));
    assert_int_equal(json_object_size(r0), 7);
    assert_true(json_integer_value(json_object_get(r0, "id")) > 0);
    json_decref(got);

    /* by target; by action and principal; by target and a time window */
    got = audit_all(s, (struct sa_audit_query){.target = lead, .limit = 2});
    assert_int_equal(json_array_size(got), 3);
    assert_string_equal(str(json_array_get(got, 0), "action"), "lead.delete");
    assert_string_equal(str(json_array_get(got, 1), "principal"), bob);
    json_decref(got);
    got = audit_all(
        s, (struct sa_audit_query){.action = "lead.update", .principal = alice, .limit = 500});
    assert_int_equal(json_array_size(got), 1);
    assert_string_equal(str(json_array_get(got, 0), "at"), "2026-12-01T10:00:00.000Z");
    json_decref(got);
    got = audit_all(s, (struct sa_audit_query){.target = key, .action = "key.revoke", .limit = 5});
    assert_int_equal(json_array_size(got), 1);
    assert_string_equal(str(json_array_get(got, 0), "principal"), bob);
    json_decref(got);
    /* since is inclusive, until exclusive */
    got = audit_all(s, (struct sa_audit_query){.target = lead,
                                               .since = "2026-12-01T11:00:00Z",
                                               .until = "2026-12-01T13:00:00.5Z",
                                               .limit = 500});
    assert_int_equal(json_array_size(got), 1);
    assert_string_equal(str(json_array_get(got, 0), "principal"), bob);
    json_decref(got);
    got = audit_all(s, (struct sa_audit_query){
                           .principal = alice, .since = "2026-12-01T12:00:00Z", .limit = 500});
    assert_int_equal(json_array_size(got), 2);
    json_decref(got);
    got = audit_all(s, (struct sa_audit_query){
                           .principal = bob, .until = "2026-12-01T14:00:00Z", .limit = 500});
    assert_int_equal(json_array_size(got), 1);
    assert_string_equal(str(json_array_get(got, 0), "action"), "lead.update");
    json_decref(got);
    /* a window alone (other runs' records may fall in it too): every record in it, ours
     * among them, and none outside it */
    got = audit_all(s, (struct sa_audit_query){.since = "2026-12-01T11:00:00Z",
                                               .until = "2026-12-01T13:00:00Z",
                                               .limit = 100});
    size_t i;
    json_t *it;
    int ours = 0;
    json_array_foreach(got, i, it)
    {
        assert_true(strcmp(str(it, "at"), "2026-12-01T11:00:00.000Z") >= 0);
        assert_true(strcmp(str(it, "at"), "2026-12-01T13:00:00.000Z") < 0);
        ours += strcmp(str(it, "principal"), alice) == 0 || strcmp(str(it, "principal"), bob) == 0;
    }
    assert_int_equal(ours, 2);
    json_decref(got);
    /* nothing matches: an empty page, no next */
    json_t *page = NULL;
    struct sa_audit_query none = {.principal = alice, .action = "key.revoke", .limit = 10};
    assert_int_equal(sa_store_audit_list(s, &none, &page, &err), 0);
    assert_int_equal(json_array_size(json_object_get(page, "items")), 0);
    assert_true(json_is_null(json_object_get(page, "next_before_id")));
    json_decref(page);
    json_decref(detail);
    sa_store_close(s);
}

/* Refused records write nothing: a missing principal or action, a bad time, a detail
 * that is not an object. */
static void test_audit_bad_records(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char who[64];
    uniq(who, sizeof who, "key:bad", "");
    struct sa_audit_row r = audit_row("2026-12-01T10:00:00Z", NULL, "x", NULL);
    assert_int_equal(sa_store_audit_append(s, &r, &err), SA_EINVAL);
    assert_non_null(strstr(err.msg, "principal"));
    r = audit_row("2026-12-01T10:00:00Z", who, "", NULL);
    assert_int_equal(sa_store_audit_append(s, &r, &err), SA_EINVAL);
    assert_non_null(strstr(err.msg, "action"));
    r = audit_row("2026-12-01", who, "x", NULL);
    assert_int_equal(sa_store_audit_append(s, &r, &err), SA_EINVAL);
    assert_non_null(strstr(err.msg, "at"));
    json_t *arr = json_array();
    r = audit_row("2026-12-01T10:00:00Z", who, "x", NULL);
    r.detail = arr;
    assert_int_equal(sa_store_audit_append(s, &r, &err), SA_EINVAL);
    assert_non_null(strstr(err.msg, "detail"));
    json_decref(arr);
    json_t *got = audit_all(s, (struct sa_audit_query){.principal = who, .limit = 500});
    assert_int_equal(json_array_size(got), 0);
    json_decref(got);
    sa_store_close(s);
}

/* Keyset paging: pages of limit records, newest first, next_before_id pointing at the
 * last one, null on the last page (also when it is exactly full); limit 1..500 and a
 * negative before_id refused. */
static void test_audit_paging_and_limits(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char who[64];
    uniq(who, sizeof who, "key:pager", "");
    for (int i = 0; i < 7; i++) {
        char at[32], target[16];
        snprintf(at, sizeof at, "2026-12-01T10:00:%02dZ", i);
        snprintf(target, sizeof target, "t%d", i);
        struct sa_audit_row r = audit_row(at, who, "page.test", target);
        assert_int_equal(sa_store_audit_append(s, &r, &err), 0);
    }
    struct sa_audit_query q = {.principal = who, .limit = 3};
    const char *want[][3] = {{"t6", "t5", "t4"}, {"t3", "t2", "t1"}, {"t0", NULL, NULL}};
    long last_id = 0;
    for (int p = 0; p < 3; p++) {
        json_t *page = NULL;
        assert_int_equal(sa_store_audit_list(s, &q, &page, &err), 0);
        json_t *items = json_object_get(page, "items");
        size_t n = p < 2 ? 3 : 1;
        assert_int_equal(json_array_size(items), n);
        for (size_t i = 0; i < n; i++) {
            json_t *it = json_array_get(items, i);
            assert_string_equal(str(it, "target"), want[p][i]);
            long id = (long)json_integer_value(json_object_get(it, "id"));
            assert_true(last_id == 0 || id < last_id); /* later appends have larger ids */
            last_id = id;
        }
        json_t *next = json_object_get(page, "next_before_id");
        if (p < 2) {
            assert_int_equal(json_integer_value(next), last_id);
            q.before_id = last_id;
        } else {
            assert_true(json_is_null(next));
        }
        json_decref(page);
    }
    /* a page holding exactly the remaining records has no next */
    json_t *page = NULL;
    q = (struct sa_audit_query){.principal = who, .limit = 7};
    assert_int_equal(sa_store_audit_list(s, &q, &page, &err), 0);
    assert_int_equal(json_array_size(json_object_get(page, "items")), 7);
    assert_true(json_is_null(json_object_get(page, "next_before_id")));
    json_decref(page);
    q.limit = 500;
    assert_int_equal(sa_store_audit_list(s, &q, &page, &err), 0);
    assert_int_equal(json_array_size(json_object_get(page, "items")), 7);
    json_decref(page);
    /* limits */
    const int bad_limits[] = {0, -1, 501};
    for (size_t i = 0; i < 3; i++) {
        q = (struct sa_audit_query){.principal = who, .limit = bad_limits[i]};
        page = json_object();
        json_t *was = page;
        assert_int_equal(sa_store_audit_list(s, &q, &page, &err), SA_EINVAL);
        assert_null(page);
        json_decref(was);
        assert_non_null(strstr(err.msg, "limit"));
    }
    q = (struct sa_audit_query){.principal = who, .limit = 1, .before_id = -1};
    assert_int_equal(sa_store_audit_list(s, &q, &page, &err), SA_EINVAL);
    q = (struct sa_audit_query){.principal = who, .limit = 1, .since = "last week"};
    assert_int_equal(sa_store_audit_list(s, &q, &page, &err), SA_EINVAL);
    assert_non_null(strstr(err.msg, "since"));
    q = (struct sa_audit_query){.principal = who, .limit = 1, .until = "2026-13-01T00:00:00Z"};
    assert_int_equal(sa_store_audit_list(s, &q, &page, &err), SA_EINVAL);
    assert_non_null(strstr(err.msg, "until"));
    sa_store_close(s);
}

struct appender {
    struct sa_store *s;
    const char *who;
    int rc;
};

static void *append_many(void *arg)
{
    struct appender *a = arg;
    struct sa_err err = {0};
    for (int i = 0; i < 20 && !a->rc; i++) {
        struct sa_audit_row r = audit_row("2026-12-01T10:00:00Z", a->who, "race", NULL);
        a->rc = sa_store_audit_append(a->s, &r, &err);
    }
    return NULL;
}

/* Concurrent appends all land, each with its own id. */
static void test_audit_concurrent_appends(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    char who[64];
    uniq(who, sizeof who, "key:racer", "");
    struct appender a[RACERS];
    pthread_t t[RACERS];
    for (int i = 0; i < RACERS; i++) {
        a[i] = (struct appender){.s = s, .who = who};
        assert_int_equal(pthread_create(&t[i], NULL, append_many, &a[i]), 0);
    }
    for (int i = 0; i < RACERS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].rc, 0);
    }
    json_t *got = audit_all(s, (struct sa_audit_query){.principal = who, .limit = 37});
    assert_int_equal(json_array_size(got), RACERS * 20); /* ids strictly fall: all distinct */
    json_decref(got);
    sa_store_close(s);
}

/* ---- meetings ---------------------------------------------------------------------- */

/* A time far from other runs' meetings in a shared database: 2097 plus hours from tok. */
static long long meeting_base(void)
{
    unsigned long h = 5381;
    for (const char *p = tok; *p; p++)
        h = h * 33 + (unsigned char)*p;
    return 4000000000LL + (long long)(h % 1000000UL) * 7200;
}

static struct sa_meeting_row meeting_row(const char *id, long long start, long long end,
                                         long long hold_until)
{
    return (struct sa_meeting_row){.id = id,
                                   .lead_id = NULL,
                                   .attendee = "prospect@acme.example",
                                   .timezone = "America/Los_Angeles",
                                   .tz_source = "region",
                                   .ics_uid = id,
                                   .start = start,
                                   .end = end,
                                   .hold_until = hold_until};
}

/* Holds block overlapping holds, not adjacent ones; a hold past hold_until is listed as
 * expired and frees its slot; moves and confirmations re-check the overlap; every change
 * bumps the sequence. */
static void test_meetings(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    const long long b = meeting_base(), now = b - 86400;
    char a[SA_UUID_LEN], bb[SA_UUID_LEN], c[SA_UUID_LEN], d[SA_UUID_LEN];
    sa_uuid_v7(a);
    sa_uuid_v7(bb);
    sa_uuid_v7(c);
    sa_uuid_v7(d);
    json_t *m = NULL;
    struct sa_meeting_row r = meeting_row(a, b, b + 1800, now + 3600);
    assert_int_equal(sa_store_meeting_hold(s, &r, now, &m, &err), 0);
    assert_string_equal(json_string_value(json_object_get(m, "status")), "held");
    assert_int_equal(json_integer_value(json_object_get(m, "start_unix")), b);
    assert_int_equal(json_integer_value(json_object_get(m, "sequence")), 0);
    assert_string_equal(json_string_value(json_object_get(m, "timezone")), "America/Los_Angeles");
    json_decref(m);
    /* the same id again, or an overlapping slot: refused */
    assert_int_equal(sa_store_meeting_hold(s, &r, now, NULL, &err), SA_ECONFLICT);
    r = meeting_row(bb, b + 900, b + 2700, now + 3600);
    assert_int_equal(sa_store_meeting_hold(s, &r, now, NULL, &err), SA_ECONFLICT);
    /* adjacent: fine */
    r = meeting_row(c, b + 1800, b + 3600, now + 3600);
    assert_int_equal(sa_store_meeting_hold(s, &r, now, NULL, &err), 0);
    json_t *list = NULL;
    struct sa_meeting_query q = {
        .status = "active", .from = b, .to = b + 3600, .now = now, .limit = 10};
    assert_int_equal(sa_store_meeting_list(s, &q, &list, &err), 0);
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "id")), a);
    json_decref(list);

    /* an hour later both holds have lapsed: expired, and the slot is free */
    const long long later = now + 3601;
    assert_int_equal(sa_store_meeting_get(s, a, later, &m, &err), 0);
    assert_string_equal(json_string_value(json_object_get(m, "status")), "expired");
    json_decref(m);
    q.now = later;
    assert_int_equal(sa_store_meeting_list(s, &q, &list, &err), 0);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    r = meeting_row(d, b, b + 1800, later + 3600);
    assert_int_equal(sa_store_meeting_hold(s, &r, later, NULL, &err), 0);
    /* a's slot went to d: confirming a conflicts; moving c onto it too */
    assert_int_equal(sa_store_meeting_set_status(s, a, "confirmed", "ACCEPTED", later, NULL, &err),
                     SA_ECONFLICT);
    assert_int_equal(sa_store_meeting_move(s, c, b + 600, b + 2400, later + 60, later, NULL, &err),
                     SA_ECONFLICT);
    assert_int_equal(sa_store_meeting_move(s, c, b + 7200, b + 9000, later + 60, later, &m, &err),
                     0);
    assert_int_equal(json_integer_value(json_object_get(m, "sequence")), 1);
    assert_string_equal(json_string_value(json_object_get(m, "status")), "held");
    json_decref(m);
    /* d declines: a may have its slot back */
    assert_int_equal(sa_store_meeting_set_status(s, d, "declined", "DECLINED", later, NULL, &err),
                     0);
    assert_int_equal(sa_store_meeting_set_status(s, a, "confirmed", "ACCEPTED", later, &m, &err),
                     0);
    assert_string_equal(json_string_value(json_object_get(m, "status")), "confirmed");
    assert_string_equal(json_string_value(json_object_get(m, "partstat")), "ACCEPTED");
    assert_int_equal(json_integer_value(json_object_get(m, "sequence")), 1);
    json_decref(m);
    /* confirmed does not expire */
    assert_int_equal(sa_store_meeting_get(s, a, later + 86400 * 30, &m, &err), 0);
    assert_string_equal(json_string_value(json_object_get(m, "status")), "confirmed");
    json_decref(m);
    q = (struct sa_meeting_query){.status = "declined", .now = later, .limit = 1000};
    assert_int_equal(sa_store_meeting_list(s, &q, &list, &err), 0);
    bool found = false;
    for (size_t i = 0; i < json_array_size(list); i++)
        found |= strcmp(json_string_value(json_object_get(json_array_get(list, i), "id")), d) == 0;
    assert_true(found);
    json_decref(list);
    /* by the invite's UID, at any time and whatever the status */
    q = (struct sa_meeting_query){.ics_uid = d, .now = later, .limit = 1};
    assert_int_equal(sa_store_meeting_list(s, &q, &list, &err), 0);
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "id")), d);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "ics_uid")), d);
    json_decref(list);
    q.ics_uid = "no-such-uid@sales-agent";
    assert_int_equal(sa_store_meeting_list(s, &q, &list, &err), 0);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    /* "live" (held, expired too, tentative, confirmed: not declined d), page by page */
    q = (struct sa_meeting_query){.status = "live", .now = later, .limit = 1000};
    assert_int_equal(sa_store_meeting_list(s, &q, &list, &err), 0);
    size_t live = json_array_size(list);
    assert_int_equal(live, 2); /* a confirmed, c held */
    json_decref(list);
    q.limit = 1;
    char after[SA_UUID_LEN] = "";
    size_t paged = 0;
    for (;;) {
        assert_int_equal(sa_store_meeting_list(s, &q, &list, &err), 0);
        if (!json_array_size(list)) {
            json_decref(list);
            break;
        }
        const json_t *one = json_array_get(list, 0);
        const char *id = json_string_value(json_object_get(one, "id"));
        assert_string_not_equal(id, d);
        assert_string_not_equal(id, after);
        snprintf(after, sizeof after, "%s", id);
        q.after_id = after;
        q.after_start = json_integer_value(json_object_get(one, "start_unix"));
        paged++;
        json_decref(list);
        assert_true(paged <= live);
    }
    assert_int_equal(paged, live);

    /* unknown ids, bad input */
    char none[SA_UUID_LEN];
    sa_uuid_v7(none);
    assert_int_equal(sa_store_meeting_get(s, none, now, &m, &err), SA_ENOTFOUND);
    assert_int_equal(sa_store_meeting_set_status(s, none, "cancelled", NULL, now, NULL, &err),
                     SA_ENOTFOUND);
    assert_int_equal(sa_store_meeting_move(s, none, b, b + 60, now, now, NULL, &err), SA_ENOTFOUND);
    assert_int_equal(sa_store_meeting_set_status(s, a, "bogus", NULL, now, NULL, &err), SA_EINVAL);
    q.limit = 0;
    assert_int_equal(sa_store_meeting_list(s, &q, &list, &err), SA_EINVAL);
    r = meeting_row(none, b, b, now);
    assert_int_equal(sa_store_meeting_hold(s, &r, now, NULL, &err), SA_EINVAL);
    sa_store_close(s);
}

struct holder {
    struct sa_store *s;
    pthread_barrier_t *go;
    long long start;
    int rc;
};

static void *hold_one(void *arg)
{
    struct holder *h = arg;
    char id[SA_UUID_LEN];
    sa_uuid_v7(id);
    struct sa_meeting_row r = meeting_row(id, h->start, h->start + 1800, h->start);
    struct sa_err err = {0};
    pthread_barrier_wait(h->go);
    h->rc = sa_store_meeting_hold(h->s, &r, h->start - 86400, NULL, &err);
    return NULL;
}

/* Drafts for several prospects hold the same half hour at once: exactly one gets it,
 * every other is told it is taken, in every round. */
static void test_meetings_held_once_under_concurrency(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    for (int round = 0; round < ROUNDS; round++) {
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, RACERS);
        struct holder h[RACERS];
        pthread_t t[RACERS];
        /* each racer's slot starts 0-15 minutes into the same half hour: all overlap */
        for (int i = 0; i < RACERS; i++) {
            h[i] = (struct holder){
                .s = s, .go = &go, .start = meeting_base() + 100000 + round * 7200 + i * 120};
            assert_int_equal(pthread_create(&t[i], NULL, hold_one, &h[i]), 0);
        }
        for (int i = 0; i < RACERS; i++)
            pthread_join(t[i], NULL);
        pthread_barrier_destroy(&go);
        int wins = 0;
        for (int i = 0; i < RACERS; i++) {
            if (h[i].rc == 0)
                wins++;
            else
                assert_int_equal(h[i].rc, SA_ECONFLICT);
        }
        assert_int_equal(wins, 1);
    }
    sa_store_close(s);
}

/* ---- main ------------------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    char uuid[SA_UUID_LEN];
    sa_uuid_v4(uuid);
    memcpy(tok, uuid, 8);
    tok[8] = '\0';
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (!dir[0])
        return 0;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

/* ---- retention and health (appended group) ------------------------------------------ */
/* These use the real clock for their cutoffs (a backend may stamp rows with its own
 * server's time), so a cutoff an hour back spares what the test wrote and one a minute
 * ahead takes it. A prune at such a cutoff deletes every older row in the database, not
 * only this run's: the suite runs alone on its database. */

static double real_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long long count_of(const json_t *counts, const char *key)
{
    json_t *v = json_object_get(counts, key);
    if (!json_is_integer(v))
        fail_msg("prune counts: %s is not an integer", key);
    return json_integer_value(v);
}

/* prune deletes executions created before its cutoff and cache entries expired at it,
 * counts the same with dry_run without deleting, and finds nothing more the second time. */
static void test_prune(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char id[SA_UUID_LEN], name[64];
    save_lead(s, id, uniq(name, sizeof name, "Prune", ""), NULL, NULL);
    char eid[SA_UUID_LEN];
    sa_uuid_v7(eid);
    struct sa_exec_row e = exec(eid, id);
    assert_int_equal(sa_store_execution_add(s, &e, &err), 0);
    char fresh[64], stale[64];
    uniq(fresh, sizeof fresh, "prune-cache", "-fresh");
    uniq(stale, sizeof stale, "prune-cache", "-stale");
    json_t *data = json_pack("{s:s}", "industry", "SaaS");
    assert_int_equal(sa_store_cache_put(s, fresh, "test", data, 3600, &err), 0);
    assert_int_equal(sa_store_cache_put(s, stale, "test", data, 1, &err), 0);
    json_decref(data);
    double now = real_now();

    /* an hour back: nothing of ours goes */
    struct sa_prune_query q = {.executions_before = now - 3600, .cache_expired_at = now - 3600};
    json_t *counts = NULL;
    assert_int_equal(sa_store_prune(s, &q, &counts, &err), 0);
    json_decref(counts);
    json_t *list = NULL;
    assert_int_equal(sa_store_list_executions(s, id, 10, &list, &err), 0);
    assert_int_equal(json_array_size(list), 2);
    json_decref(list);

    /* a minute ahead, counted first: ours are among them, and still there after */
    q = (struct sa_prune_query){
        .executions_before = now + 60, .cache_expired_at = now + 60, .dry_run = true};
    assert_int_equal(sa_store_prune(s, &q, &counts, &err), 0);
    assert_true(count_of(counts, "executions") >= 2);
    assert_true(count_of(counts, "enrichment_cache") >= 1); /* the stale entry */
    long long would = count_of(counts, "executions");
    json_decref(counts);
    assert_int_equal(sa_store_list_executions(s, id, 10, &list, &err), 0);
    assert_int_equal(json_array_size(list), 2);
    json_decref(list);

    /* deleted, as many as counted (no one else writes old executions meanwhile) */
    q.dry_run = false;
    assert_int_equal(sa_store_prune(s, &q, &counts, &err), 0);
    assert_true(count_of(counts, "executions") >= would);
    assert_true(count_of(counts, "enrichment_cache") >= 1);
    json_decref(counts);
    assert_int_equal(sa_store_list_executions(s, id, 10, &list, &err), 0);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    /* the lead stays; the fresh cache entry (expiring in an hour) stays */
    json_t *got = NULL;
    assert_int_equal(sa_store_get_lead(s, id, &got, &err), 0);
    json_decref(got);
    assert_int_equal(sa_store_cache_get(s, fresh, &got, &err), 0);
    assert_string_equal(str(got, "industry"), "SaaS");
    json_decref(got);
    assert_int_equal(sa_store_cache_get(s, stale, &got, &err), SA_ENOTFOUND);

    /* the same cutoff again finds nothing */
    assert_int_equal(sa_store_prune(s, &q, &counts, &err), 0);
    assert_int_equal(count_of(counts, "executions"), 0);
    assert_int_equal(count_of(counts, "enrichment_cache"), 0);
    json_decref(counts);
    /* zero cutoffs delete nothing */
    q = (struct sa_prune_query){0};
    assert_int_equal(sa_store_prune(s, &q, &counts, &err), 0);
    assert_int_equal(count_of(counts, "executions"), 0);
    assert_int_equal(count_of(counts, "enrichment_cache"), 0);
    json_decref(counts);
    sa_store_close(s);
}

/* Every finished thread in [since, before), in pages of limit after the last id. */
static json_t *all_finished(struct sa_store *s, double since, double before)
{
    json_t *all = json_array();
    char after[256] = "";
    for (;;) {
        json_t *page = NULL;
        struct sa_err err = {0};
        if (sa_store_threads_finished(s, since, before, after[0] ? after : NULL, 7, &page, &err))
            fail_msg("threads_finished: %s", err.msg);
        size_t n = json_array_size(page);
        for (size_t i = 0; i < n; i++) {
            const char *t = json_string_value(json_array_get(page, i));
            assert_non_null(t);
            assert_true(strcmp(t, after) > 0); /* ordered, after the cursor */
            snprintf(after, sizeof after, "%s", t);
            json_array_append(all, json_array_get(page, i));
        }
        assert_true(n <= 7);
        json_decref(page);
        if (n < 7)
            return all;
    }
}

static bool has_string(const json_t *arr, const char *v)
{
    size_t i;
    json_t *it;
    json_array_foreach(arr, i, it) if (strcmp(json_string_value(it) ?: "", v) == 0) return true;
    return false;
}

/* threads_finished: threads whose runs are all done and whose approvals are all decided,
 * active inside the window; a running run, a pending approval or activity after the
 * window excludes a thread. */
static void test_threads_finished(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char lead_id[SA_UUID_LEN], name[64];
    save_lead(s, lead_id, uniq(name, sizeof name, "Threads", ""), NULL, NULL);
    char done[64], running[64], waiting[64], decided[64], turn[64];
    uniq(done, sizeof done, "fin", "-done");
    uniq(running, sizeof running, "fin", "-running");
    uniq(waiting, sizeof waiting, "fin", "-waiting");
    uniq(decided, sizeof decided, "fin", "-decided");
    uniq(turn, sizeof turn, "fin", "-turn");
    char r1[SA_UUID_LEN], r2[SA_UUID_LEN];
    sa_uuid_v7(r1);
    sa_uuid_v7(r2);
    assert_int_equal(sa_store_run_create(s, r1, lead_id, done, "{}", &err), 0);
    assert_int_equal(sa_store_run_update(s, r1, "done", "{}", NULL, &err), 0);
    assert_int_equal(sa_store_run_create(s, r2, lead_id, running, "{}", &err), 0);
    assert_int_equal(sa_store_run_update(s, r2, "running", NULL, NULL, &err), 0);
    const char *with_exec[] = {waiting, decided, turn};
    for (int i = 0; i < 3; i++) {
        char eid[SA_UUID_LEN];
        sa_uuid_v7(eid);
        struct sa_exec_row e = exec(eid, lead_id);
        e.thread_id = with_exec[i];
        assert_int_equal(sa_store_execution_add(s, &e, &err), 0);
    }
    char a1[SA_UUID_LEN], a2[SA_UUID_LEN], out_id[37];
    sa_uuid_v7(a1);
    sa_uuid_v7(a2);
    assert_int_equal(sa_store_approval_put(s, a1, waiting, "i1", lead_id, "{}", out_id, &err), 0);
    assert_int_equal(sa_store_approval_put(s, a2, decided, "i1", lead_id, "{}", out_id, &err), 0);
    assert_int_equal(sa_store_approval_decide(s, a2, "accepted", "{}", "kim", NULL, &err), 0);
    double now = real_now();

    json_t *all = all_finished(s, now - 3600, now + 60);
    assert_true(has_string(all, done));
    assert_true(has_string(all, decided));
    assert_true(has_string(all, turn));
    assert_false(has_string(all, running));
    assert_false(has_string(all, waiting));
    json_decref(all);
    /* a window that ends before the activity: none of them (it is after the window) */
    all = all_finished(s, 0, now - 3600);
    assert_false(has_string(all, done));
    assert_false(has_string(all, turn));
    json_decref(all);
    /* a window that starts after it: none of them either */
    all = all_finished(s, now + 60, now + 120);
    assert_false(has_string(all, done));
    json_decref(all);
    /* the run finishing takes the thread in; the approval decided too */
    assert_int_equal(sa_store_run_update(s, r2, "failed", NULL, "x", &err), 0);
    assert_int_equal(sa_store_approval_decide(s, a1, "ignored", "{}", "kim", NULL, &err), 0);
    all = all_finished(s, now - 3600, real_now() + 60);
    assert_true(has_string(all, running));
    assert_true(has_string(all, waiting));
    json_decref(all);
    sa_store_close(s);
}

/* The write probe commits a write, again and again (an upsert). */
static void test_write_probe(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char who[64];
    uniq(who, sizeof who, "probe", "");
    assert_int_equal(sa_store_write_probe(s, who, real_now(), &err), 0);
    assert_int_equal(sa_store_write_probe(s, who, real_now(), &err), 0);
    sa_store_close(s);
}

/* Large documents come back as written (a backend may store them compressed), and an
 * execution's input that is not its lead's input is its own. */
static void test_large_documents(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char id[SA_UUID_LEN], name[64];
    save_lead(s, id, uniq(name, sizeof name, "Large", ""), NULL, NULL);
    json_t *big = json_object();
    for (int i = 0; i < 200; i++) {
        char k[16];
        snprintf(k, sizeof k, "field_%03d", i);
        json_object_set_new(big, k, json_sprintf("value %d of a long document", i * 7919));
    }
    char *text = json_dumps(big, JSON_COMPACT | JSON_SORT_KEYS);
    assert_true(strlen(text) > 4096);
    char eid[SA_UUID_LEN];
    sa_uuid_v7(eid);
    struct sa_exec_row e = exec(eid, id);
    e.output = text;
    e.input = "{\"message\":\"hi\"}";
    assert_int_equal(sa_store_execution_add(s, &e, &err), 0);
    json_t *list = NULL;
    assert_int_equal(sa_store_list_executions(s, id, 10, &list, &err), 0);
    json_t *mine = find_by(list, "id", eid);
    assert_non_null(mine);
    char *back = json_dumps(json_object_get(mine, "output"), JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(back, text);
    free(back);
    assert_string_equal(str(json_object_get(mine, "input"), "message"), "hi");
    json_decref(list);
    char run[SA_UUID_LEN], thread[64];
    sa_uuid_v7(run);
    assert_int_equal(
        sa_store_run_create(s, run, id, uniq(thread, sizeof thread, "large", ""), "{}", &err), 0);
    assert_int_equal(sa_store_run_update(s, run, "done", text, NULL, &err), 0);
    json_t *got = NULL;
    assert_int_equal(sa_store_run_get(s, run, &got, &err), 0);
    back = json_dumps(json_object_get(got, "output"), JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(back, text);
    free(back);
    json_decref(got);
    free(text);
    json_decref(big);
    sa_store_close(s);
}

/* ---- the outbox claim's lease (appended) --------------------------------------------- */

/* The item id of email in the outbox (a new reference), failing when it is not there. */
static json_t *outbox_item(struct sa_store *s, const char *email, const char *id)
{
    struct sa_err err = {0};
    json_t *items = NULL;
    assert_int_equal(sa_store_outbox_list(s, NULL, email, 50, &items, &err), 0);
    json_t *it = json_incref(find_by(items, "id", id));
    json_decref(items);
    if (!it)
        fail_msg("outbox item %s not listed", id);
    return it;
}

/* An item left "sending" goes back to the queue only once its lease expired, once (a
 * second call finds it queued), counting an attempt and saying why; a sent item is never
 * touched, however old its claim. Times are the real clock's: the claim is stamped with
 * the store's wall clock. */
static void test_outbox_lease(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char key[64], key2[64], email[64], id[SA_UUID_LEN], id2[SA_UUID_LEN];
    uniq(key, sizeof key, "lease", "");
    uniq(key2, sizeof key2, "lease-sent", "");
    uniq(email, sizeof email, "lease", "@example.com");
    sa_uuid_v7(id);
    sa_uuid_v7(id2);
    struct sa_outbox_item its[2] = {
        {id, key, "email", NULL, NULL, email, "{}", 1000, NULL, 0, NULL, NULL, NULL, NULL},
        {id2, key2, "email", NULL, NULL, email, "{}", 1000, NULL, 0, NULL, NULL, NULL, NULL}};
    int added = 0, n = -1;
    assert_int_equal(sa_store_outbox_add(s, its, 2, &added, &err), 0);
    assert_int_equal(added, 2);
    long long t0 = (long long)real_now();
    assert_int_equal(sa_store_outbox_claim(s, id, &err), 0);
    assert_int_equal(sa_store_outbox_claim(s, id2, &err), 0);
    assert_int_equal(sa_store_outbox_mark(s, id2, "sent", "<m@x>", NULL, 0, &err), 0);
    const char *why = "lease expired (contract test)";

    /* the lease has not run out: nothing moves */
    assert_int_equal(sa_store_outbox_requeue_expired(s, t0 + 10, 300, why, &n, &err), 0);
    json_t *it = outbox_item(s, email, id);
    assert_string_equal(str(it, "status"), "sending");
    assert_int_equal(json_integer_value(json_object_get(it, "attempts")), 0);
    json_decref(it);

    /* expired: queued again, an attempt counted, the reason recorded, claimable again */
    assert_int_equal(sa_store_outbox_requeue_expired(s, t0 + 400, 300, why, &n, &err), 0);
    assert_true(n >= 1); /* other tests' abandoned claims may go back too */
    it = outbox_item(s, email, id);
    assert_string_equal(str(it, "status"), "queued");
    assert_int_equal(json_integer_value(json_object_get(it, "attempts")), 1);
    assert_string_equal(str(it, "last_error"), why);
    json_decref(it);

    /* once: the next call finds it queued and counts nothing */
    assert_int_equal(sa_store_outbox_requeue_expired(s, t0 + 400, 300, "again", &n, &err), 0);
    assert_int_equal(n, 0);
    it = outbox_item(s, email, id);
    assert_int_equal(json_integer_value(json_object_get(it, "attempts")), 1);
    assert_string_equal(str(it, "last_error"), why);
    json_decref(it);

    /* the sent item was never touched, however late the call */
    assert_int_equal(sa_store_outbox_requeue_expired(s, t0 + 100000, 300, why, &n, &err), 0);
    it = outbox_item(s, email, id2);
    assert_string_equal(str(it, "status"), "sent");
    assert_int_equal(json_integer_value(json_object_get(it, "attempts")), 1);
    assert_true(json_is_null(json_object_get(it, "last_error")));
    json_decref(it);

    /* claimed again, the item has a new lease */
    assert_int_equal(sa_store_outbox_claim(s, id, &err), 0);
    assert_int_equal(
        sa_store_outbox_requeue_expired(s, (long long)real_now() + 10, 300, why, &n, &err), 0);
    it = outbox_item(s, email, id);
    assert_string_equal(str(it, "status"), "sending");
    json_decref(it);
    assert_int_equal(sa_store_outbox_mark(s, id, "sent", "<m2@x>", NULL, 0, &err), 0);
    sa_store_close(s);
}

/* ---- leases across processes (appended): runs, approval resumptions, outbox claims -- */

static long long ms_now(void)
{
    return (long long)(real_now() * 1000.0);
}

/* A run is claimed by one owner while its lease is live, renewed and finished only by
 * that owner, taken over once the lease ended, and never claimed once finished. */
static void test_run_leases(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char id[SA_UUID_LEN], lead_id[SA_UUID_LEN], thread[64];
    sa_uuid_v7(id);
    sa_uuid_v7(lead_id);
    uniq(thread, sizeof thread, "lease-run", "");
    assert_int_equal(sa_store_run_create(s, id, lead_id, thread, "{}", &err), 0);
    long long t = ms_now();
    bool took = true;
    assert_int_equal(sa_store_run_claim(s, id, "A", NULL, t, t + 1000, &took, NULL, &err), 0);
    assert_false(took); /* it was queued */
    json_t *run = NULL;
    assert_int_equal(sa_store_run_get(s, id, &run, &err), 0);
    assert_string_equal(str(run, "status"), "running");
    json_decref(run);
    /* live lease: nobody else, A itself neither (a second delivery in its own process);
     * the conflict names the holder */
    char holder[SA_RUN_OWNER_MAX] = "x";
    assert_int_equal(sa_store_run_claim(s, id, "B", NULL, t + 500, t + 1500, &took, holder, &err),
                     SA_ECONFLICT);
    assert_string_equal(holder, "A");
    assert_int_equal(sa_store_run_claim(s, id, "A", NULL, t + 500, t + 1500, &took, NULL, &err),
                     SA_ECONFLICT);
    assert_int_equal(sa_store_run_renew(s, id, "A", t + 2000, &err), 0);
    assert_int_equal(sa_store_run_renew(s, id, "B", t + 2000, &err), SA_ECONFLICT);
    assert_int_equal(sa_store_run_claim(s, id, "B", NULL, t + 1500, t + 2500, &took, NULL, &err),
                     SA_ECONFLICT); /* the renewal moved the end */
    /* ended: B takes it over, and A may no longer renew or finish it */
    assert_int_equal(sa_store_run_claim(s, id, "B", NULL, t + 2001, t + 3000, &took, NULL, &err),
                     0);
    assert_true(took);
    assert_int_equal(sa_store_run_renew(s, id, "A", t + 9000, &err), SA_ECONFLICT);
    assert_int_equal(sa_store_run_finish(s, id, "A", "failed", NULL, "late", &err), SA_ECONFLICT);
    assert_int_equal(sa_store_run_get(s, id, &run, &err), 0);
    assert_string_equal(str(run, "status"), "running");
    assert_true(json_is_null(json_object_get(run, "error")));
    json_decref(run);
    /* B's lease ended, but nobody claimed: B still owns it and renews */
    assert_int_equal(sa_store_run_renew(s, id, "B", t + 99000, &err), 0);
    /* over a holder known to be dead, whatever its lease; only that holder, once */
    assert_int_equal(sa_store_run_claim(s, id, "E", "A", t + 100, t + 1100, &took, NULL, &err),
                     SA_ECONFLICT); /* A is not the holder */
    assert_int_equal(sa_store_run_claim(s, id, "E", "B", t + 100, t + 1100, &took, NULL, &err), 0);
    assert_true(took);
    assert_int_equal(sa_store_run_claim(s, id, "F", "B", t + 100, t + 1100, &took, holder, &err),
                     SA_ECONFLICT);
    assert_string_equal(holder, "E");
    assert_int_equal(sa_store_run_finish(s, id, "B", "done", NULL, NULL, &err), SA_ECONFLICT);
    assert_int_equal(sa_store_run_finish(s, id, "E", "done", "{\"tier\":\"B\"}", NULL, &err), 0);
    assert_int_equal(sa_store_run_get(s, id, &run, &err), 0);
    assert_string_equal(str(run, "status"), "done");
    assert_string_equal(str(json_object_get(run, "output"), "tier"), "B");
    json_decref(run);
    /* finished: never claimed again, however late; the owner cannot finish it twice */
    assert_int_equal(sa_store_run_claim(s, id, "C", NULL, t + 99999, t + 100999, &took, NULL, &err),
                     SA_ECONFLICT);
    assert_int_equal(sa_store_run_finish(s, id, "E", "failed", NULL, "x", &err), SA_ECONFLICT);

    /* a run marked running without a lease (before leases) is held by nobody */
    char old[SA_UUID_LEN];
    sa_uuid_v7(old);
    assert_int_equal(sa_store_run_create(s, old, lead_id, thread, "{}", &err), 0);
    assert_int_equal(sa_store_run_update(s, old, "running", NULL, NULL, &err), 0);
    assert_int_equal(sa_store_run_claim(s, old, "D", NULL, t, t + 1000, &took, NULL, &err), 0);
    assert_true(took);
    assert_int_equal(sa_store_run_finish(s, old, "D", "cancelled", NULL, NULL, &err), 0);

    char unknown[SA_UUID_LEN];
    sa_uuid_v7(unknown);
    assert_int_equal(sa_store_run_claim(s, unknown, "A", NULL, t, t + 1000, &took, NULL, &err),
                     SA_ENOTFOUND);
    assert_int_equal(sa_store_run_renew(s, unknown, "A", t + 1000, &err), SA_ECONFLICT);
    sa_store_close(s);
}

/* Two deliveries of one run, or eight, claim it at once: one executes it; once its lease
 * ended, eight takers again find exactly one winner. */
static void test_run_claimed_once_under_concurrency(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char lead_id[SA_UUID_LEN], thread[64];
    sa_uuid_v7(lead_id);
    uniq(thread, sizeof thread, "lease-race", "");
    for (int round = 0; round < ROUNDS; round++) {
        char id[SA_UUID_LEN];
        sa_uuid_v7(id);
        assert_int_equal(sa_store_run_create(s, id, lead_id, thread, "{}", &err), 0);
        long long t = ms_now();
        int first = run_race_op(s, id, false, RACE_RUN_CLAIM, t);
        int second = run_race_op(s, id, false, RACE_RUN_CLAIM, t + 120000); /* expired */
        char owner[16];
        snprintf(owner, sizeof owner, "reviewer%d", first);
        if (first != second) /* the first owner lost it */
            assert_int_equal(sa_store_run_renew(s, id, owner, t + 999999, &err), SA_ECONFLICT);
        snprintf(owner, sizeof owner, "reviewer%d", second);
        assert_int_equal(sa_store_run_finish(s, id, owner, "done", "{}", NULL, &err), 0);
    }
    sa_store_close(s);
}

/* Stale runs come back once per grace: queued and unchanged for grace, or running under
 * an ended lease; never finished ones, nor a live lease. */
static void test_runs_stale(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char q[SA_UUID_LEN], r[SA_UUID_LEN], d[SA_UUID_LEN], lead_id[SA_UUID_LEN], thread[64];
    sa_uuid_v7(lead_id);
    uniq(thread, sizeof thread, "stale", "");
    const char *ids[] = {q, r, d};
    for (int i = 0; i < 3; i++) {
        sa_uuid_v7((char *)ids[i]);
        assert_int_equal(sa_store_run_create(s, ids[i], lead_id, thread, "{}", &err), 0);
    }
    long long t = ms_now();
    bool took;
    assert_int_equal(sa_store_run_claim(s, r, "A", NULL, t, t + 5000, &took, NULL, &err), 0);
    assert_int_equal(sa_store_run_claim(s, d, "A", NULL, t, t + 5000, &took, NULL, &err), 0);
    assert_int_equal(sa_store_run_finish(s, d, "A", "failed", NULL, "x", &err), 0);
    const long long grace = 60000;
    json_t *stale = NULL;
    /* fresh: the queued one is within its grace, the running one's lease is live */
    assert_int_equal(sa_store_runs_stale(s, t + 1000, grace, 1000, &stale, &err), 0);
    assert_true(json_is_array(stale));
    for (size_t i = 0; i < json_array_size(stale); i++)
        for (int k = 0; k < 3; k++)
            assert_string_not_equal(json_string_value(json_array_get(stale, i)), ids[k]);
    json_decref(stale);
    /* later: both come back, the finished one never */
    long long later = t + 2 * grace;
    assert_int_equal(sa_store_runs_stale(s, later, grace, 1000, &stale, &err), 0);
    int seen[3] = {0};
    for (size_t i = 0; i < json_array_size(stale); i++)
        for (int k = 0; k < 3; k++)
            seen[k] += strcmp(json_string_value(json_array_get(stale, i)), ids[k]) == 0;
    json_decref(stale);
    assert_int_equal(seen[0], 1);
    assert_int_equal(seen[1], 1);
    assert_int_equal(seen[2], 0);
    /* once per grace: a second reconciler at once gets neither */
    assert_int_equal(sa_store_runs_stale(s, later + 1, grace, 1000, &stale, &err), 0);
    for (size_t i = 0; i < json_array_size(stale); i++)
        for (int k = 0; k < 3; k++)
            assert_string_not_equal(json_string_value(json_array_get(stale, i)), ids[k]);
    json_decref(stale);
    /* a grace later, again; the queued one claimed meanwhile has a live lease: not it */
    assert_int_equal(
        sa_store_run_claim(s, q, "B", NULL, later, later + 10 * grace, &took, NULL, &err), 0);
    assert_int_equal(sa_store_runs_stale(s, later + grace, grace, 1000, &stale, &err), 0);
    memset(seen, 0, sizeof seen);
    for (size_t i = 0; i < json_array_size(stale); i++)
        for (int k = 0; k < 3; k++)
            seen[k] += strcmp(json_string_value(json_array_get(stale, i)), ids[k]) == 0;
    json_decref(stale);
    assert_int_equal(seen[0], 0);
    assert_int_equal(seen[1], 1);
    assert_int_equal(sa_store_runs_stale(s, later, grace, 0, &stale, &err), SA_EINVAL);
    assert_null(stale);
    sa_store_close(s);
}

/* The resumption of a decided approval: one holder at a time, renewed and released by
 * it, taken once its lease ended; not while pending; one winner of eight at once. */
static void test_approval_resume_claim(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char thread[64], id[SA_UUID_LEN], got[37];
    uniq(thread, sizeof thread, "resume", "");
    sa_uuid_v7(id);
    assert_int_equal(sa_store_approval_put(s, id, thread, "i1", NULL, "{}", got, &err), 0);
    long long t = ms_now();
    assert_int_equal(sa_store_approval_claim_resume(s, id, "A", t, t + 1000, &err),
                     SA_ECONFLICT); /* pending: nothing to resume */
    assert_int_equal(sa_store_approval_decide(s, id, "accepted", "{}", "kim", NULL, &err), 0);
    assert_int_equal(sa_store_approval_claim_resume(s, id, "A", t, t + 1000, &err), 0);
    assert_int_equal(sa_store_approval_claim_resume(s, id, "B", t + 10, t + 1010, &err),
                     SA_ECONFLICT);
    assert_int_equal(sa_store_approval_claim_resume(s, id, "A", t + 500, t + 2000, &err), 0);
    assert_int_equal(sa_store_approval_claim_resume(s, id, "B", t + 1500, t + 2500, &err),
                     SA_ECONFLICT); /* renewed */
    assert_int_equal(sa_store_approval_claim_resume(s, id, "A", t + 1600, t + 1600, &err), 0);
    assert_int_equal(sa_store_approval_claim_resume(s, id, "B", t + 1601, t + 2601, &err), 0);
    assert_int_equal(sa_store_approval_claim_resume(s, id, "A", t + 2000, t + 3000, &err),
                     SA_ECONFLICT);
    /* B stopped without releasing: its lease ends and another takes it */
    assert_int_equal(sa_store_approval_claim_resume(s, id, "C", t + 2602, t + 3602, &err), 0);
    json_t *a = NULL;
    assert_int_equal(sa_store_approval_get(s, id, &a, &err), 0);
    assert_string_equal(str(a, "status"), "accepted"); /* the decision is untouched */
    assert_string_equal(str(a, "reviewer"), "kim");
    json_decref(a);
    /* eight instances at once, after the last lease ended */
    run_race_op(s, id, false, RACE_RESUME_CLAIM, t + 10000);
    char unknown[SA_UUID_LEN];
    sa_uuid_v7(unknown);
    assert_int_equal(sa_store_approval_claim_resume(s, unknown, "A", t, t + 1000, &err),
                     SA_ENOTFOUND);
    sa_store_close(s);
}

/* Only the latest claim's holder marks an item: a worker whose lease expired records its
 * delivery while nobody claimed the item since, and cannot overwrite a new holder's. */
/* Inbound mail: the outbox item a reply's Message-ID names; a received message recorded
 * once by its Message-ID (the second claim finds the first, result parsed), forgotten on
 * a NULL result; the lead's timeline shows it with matched_by and status. */
static void test_inbound_messages(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char key[64], email[64], msgid[96], theirs[96], other[96], lead_id[SA_UUID_LEN];
    char item[SA_UUID_LEN], rid[SA_UUID_LEN], rid2[SA_UUID_LEN];
    uniq(key, sizeof key, "inbound", ":email");
    uniq(email, sizeof email, "reply", "@example.com");
    uniq(msgid, sizeof msgid, "<out", "@sales.example.com>");
    uniq(theirs, sizeof theirs, "<in", "@mail.example.com>");
    uniq(other, sizeof other, "<in2", "@mail.example.com>");
    save_lead(s, lead_id, "Inbound Co", email, NULL);
    sa_uuid_v7(item);
    struct sa_outbox_item it = {item, key, "email", "thread-in", lead_id, email, "{}", 1000,
                                NULL, 0, NULL, NULL, NULL, msgid};
    int added = 0;
    assert_int_equal(sa_store_outbox_add(s, &it, 1, &added, &err), 0);
    json_t *o = NULL;
    assert_int_equal(sa_store_outbox_by_message_id(s, msgid, &o, &err), 0);
    assert_string_equal(str(o, "id"), item);
    assert_string_equal(str(o, "lead_id"), lead_id);
    assert_string_equal(str(o, "thread_id"), "thread-in");
    assert_string_equal(str(o, "to_email"), email);
    assert_string_equal(str(o, "kind"), "email");
    json_decref(o);
    assert_int_equal(sa_store_outbox_by_message_id(s, theirs, &o, &err), SA_ENOTFOUND);
    assert_null(o);

    sa_uuid_v7(rid);
    sa_uuid_v7(rid2);
    struct sa_inbound_row r = {.id = rid,
                               .message_id = theirs,
                               .kind = "reply_received",
                               .lead_id = lead_id,
                               .thread_id = "mail-thread",
                               .email = email,
                               .matched_by = "in_reply_to",
                               .received_at = "2026-12-02T09:00:00.000Z"};
    bool inserted = false;
    json_t *existing = NULL;
    assert_int_equal(sa_store_inbound_claim(s, &r, &inserted, &existing, &err), 0);
    assert_true(inserted);
    assert_null(existing);
    assert_int_equal(sa_store_inbound_finish(s, theirs, "pricing", "{\"kind\":\"reply\"}", &err),
                     0);
    r.id = rid2; /* the same message delivered again */
    assert_int_equal(sa_store_inbound_claim(s, &r, &inserted, &existing, &err), 0);
    assert_false(inserted);
    assert_string_equal(str(existing, "id"), rid);
    assert_string_equal(str(existing, "status"), "pricing");
    assert_string_equal(str(json_object_get(existing, "result"), "kind"), "reply");
    json_decref(existing);

    /* a claim whose processing failed is forgotten: the next delivery is processed */
    struct sa_inbound_row r2 = r;
    r2.message_id = other;
    r2.kind = "bounce";
    r2.received_at = "2026-12-02T09:05:00.000Z";
    assert_int_equal(sa_store_inbound_claim(s, &r2, &inserted, NULL, &err), 0);
    assert_true(inserted);
    assert_int_equal(sa_store_inbound_finish(s, other, NULL, NULL, &err), 0);
    assert_int_equal(sa_store_inbound_claim(s, &r2, &inserted, NULL, &err), 0);
    assert_true(inserted);
    assert_int_equal(sa_store_inbound_finish(s, other, "5.1.1", "{}", &err), 0);
    /* a claim left without a result (its process died) is taken over once it is older
     * than reclaim_before, and only then; a finished one never is */
    char dead[96], rid3[SA_UUID_LEN], rid4[SA_UUID_LEN];
    uniq(dead, sizeof dead, "<dead", "@mail.example.com>");
    sa_uuid_v7(rid3);
    sa_uuid_v7(rid4);
    struct sa_inbound_row r3 = r;
    r3.id = rid4;
    r3.message_id = dead;
    r3.lead_id = NULL; /* off the timeline checked below */
    r3.received_at = "2026-12-02T10:00:00.000Z";
    assert_int_equal(sa_store_inbound_claim(s, &r3, &inserted, NULL, &err), 0);
    assert_true(inserted);
    r3.id = rid3;
    r3.received_at = "2026-12-02T10:05:00.000Z";
    r3.reclaim_before = "2026-12-02T09:55:00.000Z"; /* not stale yet */
    assert_int_equal(sa_store_inbound_claim(s, &r3, &inserted, &existing, &err), 0);
    assert_false(inserted);
    assert_true(json_is_null(json_object_get(existing, "result")));
    json_decref(existing);
    r3.received_at = "2026-12-02T10:20:00.000Z";
    r3.reclaim_before = "2026-12-02T10:10:00.000Z";
    assert_int_equal(sa_store_inbound_claim(s, &r3, &inserted, &existing, &err), 0);
    assert_true(inserted); /* taken over */
    assert_int_equal(sa_store_inbound_finish(s, dead, "x", "{}", &err), 0);
    r3.received_at = "2026-12-02T11:20:00.000Z";
    r3.reclaim_before = "2026-12-02T11:10:00.000Z";
    assert_int_equal(sa_store_inbound_claim(s, &r3, &inserted, &existing, &err), 0);
    assert_false(inserted); /* finished: never again */
    assert_string_equal(str(existing, "id"), rid3);
    json_decref(existing);

    char unknown[96];
    uniq(unknown, sizeof unknown, "<none", "@x>");
    assert_int_equal(sa_store_inbound_finish(s, unknown, "x", "{}", &err), SA_ENOTFOUND);

    json_t *tl = NULL;
    assert_int_equal(sa_store_lead_timeline(s, lead_id, 50, &tl, &err), 0);
    json_t *reply = find_by(tl, "kind", "reply_received");
    assert_non_null(reply);
    assert_string_equal(str(reply, "id"), rid);
    assert_string_equal(str(reply, "matched_by"), "in_reply_to");
    assert_string_equal(str(reply, "status"), "pricing");
    assert_string_equal(str(reply, "thread_id"), "mail-thread");
    json_t *bounce = find_by(tl, "kind", "bounce");
    assert_non_null(bounce);
    assert_string_equal(str(bounce, "status"), "5.1.1");
    /* newest first: the bounce (09:05) before the reply (09:00) */
    size_t bi = 0, ri = 0, i;
    json_t *e;
    json_array_foreach(tl, i, e)
    {
        if (e == bounce)
            bi = i;
        if (e == reply)
            ri = i;
    }
    assert_true(bi < ri);
    json_decref(tl);

    /* erasing the person keeps each message's id and kind only: a redelivery is still a
     * duplicate, and nothing of the person is left in it */
    json_t *erased = NULL;
    assert_int_equal(sa_store_lead_erase(s, lead_id, email, NULL, &erased, &err), 0);
    json_decref(erased);
    r.id = rid2;
    assert_int_equal(sa_store_inbound_claim(s, &r, &inserted, &existing, &err), 0);
    assert_false(inserted);
    assert_string_equal(str(existing, "kind"), "reply_received");
    assert_true(json_is_null(json_object_get(existing, "email")));
    assert_true(json_is_null(json_object_get(existing, "lead_id")));
    assert_true(json_is_null(json_object_get(existing, "status")));
    assert_true(json_is_true(json_object_get(json_object_get(existing, "result"), "erased")));
    json_decref(existing);
    sa_store_close(s);
}

static void test_outbox_claim_tokens(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char key[64], key2[64], email[64], id[SA_UUID_LEN], id2[SA_UUID_LEN];
    uniq(key, sizeof key, "token", "");
    uniq(key2, sizeof key2, "token-2", "");
    uniq(email, sizeof email, "token", "@example.com");
    sa_uuid_v7(id);
    sa_uuid_v7(id2);
    struct sa_outbox_item its[2] = {
        {id, key, "email", NULL, NULL, email, "{}", 1000, NULL, 0, NULL, NULL, NULL, NULL},
        {id2, key2, "email", NULL, NULL, email, "{}", 1000, NULL, 0, NULL, NULL, NULL, NULL}};
    int added = 0, n = 0;
    assert_int_equal(sa_store_outbox_add(s, its, 2, &added, &err), 0);
    assert_int_equal(added, 2);
    long long t0 = (long long)real_now();
    const char *why = "lease expired (contract test)";
    assert_int_equal(sa_store_outbox_claim_as(s, id, "T1", &err), 0);
    assert_int_equal(sa_store_outbox_claim_as(s, id, "T2", &err), SA_ECONFLICT);
    assert_int_equal(sa_store_outbox_mark_as(s, id, "T2", "sent", "d", NULL, 0, &err),
                     SA_ECONFLICT);
    json_t *it = outbox_item(s, email, id);
    assert_string_equal(str(it, "status"), "sending");
    json_decref(it);
    /* T1's lease expires and the item is queued again; T1 then reports its delivery */
    assert_int_equal(sa_store_outbox_requeue_expired(s, t0 + 400, 300, why, &n, &err), 0);
    assert_int_equal(sa_store_outbox_mark_as(s, id, "T1", "sent", "d1", NULL, 0, &err), 0);
    it = outbox_item(s, email, id);
    assert_string_equal(str(it, "status"), "sent");
    assert_string_equal(str(it, "delivered_id"), "d1");
    json_decref(it);
    assert_int_equal(sa_store_outbox_mark_as(s, id, "T1", "failed", NULL, "x", 0, &err),
                     SA_ECONFLICT); /* sent stays sent */

    /* re-claimed by T2 after T1's lease: T1's late outcome is refused, T2's stands */
    assert_int_equal(sa_store_outbox_claim_as(s, id2, "T1", &err), 0);
    assert_int_equal(sa_store_outbox_requeue_expired(s, t0 + 400, 300, why, &n, &err), 0);
    assert_int_equal(sa_store_outbox_claim_as(s, id2, "T2", &err), 0);
    assert_int_equal(sa_store_outbox_mark_as(s, id2, "T1", "failed", NULL, "late", 0, &err),
                     SA_ECONFLICT);
    it = outbox_item(s, email, id2);
    assert_string_equal(str(it, "status"), "sending");
    json_decref(it);
    assert_int_equal(sa_store_outbox_mark_as(s, id2, "T2", "queued", NULL, "retry", t0 + 60, &err),
                     0);
    /* a claim without a token replaces T2's */
    assert_int_equal(sa_store_outbox_claim(s, id2, &err), 0);
    assert_int_equal(sa_store_outbox_mark_as(s, id2, "T2", "sent", "d2", NULL, 0, &err),
                     SA_ECONFLICT);
    assert_int_equal(sa_store_outbox_mark(s, id2, "sent", "d2", NULL, 0, &err), 0);
    char unknown[SA_UUID_LEN];
    sa_uuid_v7(unknown);
    assert_int_equal(sa_store_outbox_mark_as(s, unknown, "T1", "sent", NULL, NULL, 0, &err),
                     SA_ENOTFOUND);
    sa_store_close(s);
}

/* ---- the web console (appended group) -------------------------------------------- */

/* lead_draft_pending: a lead's pending approval first, else its newest run queued or
 * running; decided approvals, finished runs and other leads' rows do not count. */
static void test_lead_draft_pending(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char lead[SA_UUID_LEN], other[SA_UUID_LEN], run[SA_UUID_LEN], aid[SA_UUID_LEN], got_id[37];
    char thread[64], thread2[64];
    sa_uuid_v7(lead);
    sa_uuid_v7(other);
    uniq(thread, sizeof thread, "draft-run", "");
    uniq(thread2, sizeof thread2, "draft-approval", "");
    json_t *out = NULL;
    assert_int_equal(sa_store_lead_draft_pending(s, lead, &out, &err), SA_ENOTFOUND);
    assert_null(out);
    /* another lead's run and approval are not this lead's */
    char orun[SA_UUID_LEN], oaid[SA_UUID_LEN];
    sa_uuid_v7(orun);
    sa_uuid_v7(oaid);
    assert_int_equal(sa_store_run_create(s, orun, other, thread, "{}", &err), 0);
    assert_int_equal(sa_store_approval_put(s, oaid, thread, "o1", other, "{}", got_id, &err), 0);
    assert_int_equal(sa_store_lead_draft_pending(s, lead, &out, &err), SA_ENOTFOUND);

    sa_uuid_v7(run);
    assert_int_equal(sa_store_run_create(s, run, lead, thread, "{}", &err), 0);
    assert_int_equal(sa_store_lead_draft_pending(s, lead, &out, &err), 0);
    assert_string_equal(str(out, "kind"), "run");
    assert_string_equal(str(out, "id"), run);
    assert_string_equal(str(out, "thread_id"), thread);
    assert_non_null(str(out, "created_at"));
    json_decref(out);
    assert_int_equal(sa_store_run_update(s, run, "running", NULL, NULL, &err), 0);
    assert_int_equal(sa_store_lead_draft_pending(s, lead, &out, &err), 0);
    assert_string_equal(str(out, "id"), run);
    json_decref(out);

    /* a pending approval comes first, whatever runs */
    sa_uuid_v7(aid);
    assert_int_equal(sa_store_approval_put(s, aid, thread2, "i1", lead, "{}", got_id, &err), 0);
    assert_int_equal(sa_store_lead_draft_pending(s, lead, &out, &err), 0);
    assert_string_equal(str(out, "kind"), "approval");
    assert_string_equal(str(out, "id"), aid);
    assert_string_equal(str(out, "thread_id"), thread2);
    json_decref(out);
    assert_int_equal(sa_store_approval_decide(s, aid, "ignored", "{}", "kim", NULL, &err), 0);
    assert_int_equal(sa_store_lead_draft_pending(s, lead, &out, &err), 0);
    assert_string_equal(str(out, "kind"), "run");
    json_decref(out);
    assert_int_equal(sa_store_run_update(s, run, "awaiting_approval", NULL, NULL, &err), 0);
    assert_int_equal(sa_store_lead_draft_pending(s, lead, &out, &err), SA_ENOTFOUND);
    assert_int_equal(sa_store_run_update(s, orun, "done", NULL, NULL, &err), 0);
    sa_store_close(s);
}

/* The threads of ours in a conversation list page, in its order, appended to seen. */
static void ours_in(const json_t *items, const char *const *mine, int n, const char **seen,
                    int *count)
{
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        for (int k = 0; k < n; k++)
            if (strcmp(str(it, "thread_id"), mine[k]) == 0)
                seen[(*count)++] = mine[k];
    }
}

/* conversation_touch and conversation_list: last touched first; a touch updates the stage,
 * intent, turns and time and keeps the names and lead it does not give; the linked lead's
 * company wins; pages follow next_before without repeats; bad arguments are SA_EINVAL;
 * erasing the lead takes its conversations off the list. */
static void test_conversation_list(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char t1[64], t2[64], t3[64], lead[SA_UUID_LEN], company[64], email[96];
    uniq(t1, sizeof t1, "conv-a", "");
    uniq(t2, sizeof t2, "conv-b", "");
    uniq(t3, sizeof t3, "conv-c", "");
    uniq(company, sizeof company, "Conversation Co", "");
    uniq(email, sizeof email, "ana", "@conv.example");
    save_lead(s, lead, company, email, NULL);
    struct sa_conversation_row c = {.thread_id = t1,
                                    .company_name = "Acme Analytics",
                                    .contact_name = "Ana Ruiz",
                                    .contact_email = "ana.ruiz@acme.example",
                                    .stage = "introduction",
                                    .last_intent = "greeting",
                                    .turns = 1,
                                    .at = "2026-03-02T09:00:00Z"};
    assert_int_equal(sa_store_conversation_touch(s, &c, &err), 0);
    c = (struct sa_conversation_row){.thread_id = t2,
                                     .lead_id = lead,
                                     .company_name = "Typed Name",
                                     .stage = "qualification",
                                     .last_intent = "pricing",
                                     .turns = 1,
                                     .at = "2026-03-02T09:05:00Z"};
    assert_int_equal(sa_store_conversation_touch(s, &c, &err), 0);
    c = (struct sa_conversation_row){.thread_id = t3,
                                     .stage = "introduction",
                                     .last_intent = "greeting",
                                     .turns = 1,
                                     .at = "2026-03-02T09:10:00Z"};
    assert_int_equal(sa_store_conversation_touch(s, &c, &err), 0);
    /* t1's second turn: only the turn's facts change */
    c = (struct sa_conversation_row){.thread_id = t1,
                                     .stage = "needs_analysis",
                                     .last_intent = "demo_request",
                                     .turns = 2,
                                     .at = "2026-03-02T09:20:00Z"};
    assert_int_equal(sa_store_conversation_touch(s, &c, &err), 0);
    c.thread_id = NULL;
    assert_int_equal(sa_store_conversation_touch(s, &c, &err), SA_EINVAL);

    json_t *page = NULL;
    assert_int_equal(sa_store_conversation_list(s, 500, 0, &page, &err), 0);
    json_t *items = json_object_get(page, "items");
    const char *mine[] = {t1, t2, t3}, *seen[8];
    int n = 0;
    ours_in(items, mine, 3, seen, &n);
    assert_int_equal(n, 3);
    assert_string_equal(seen[0], t1);
    assert_string_equal(seen[1], t3);
    assert_string_equal(seen[2], t2);
    json_t *a = find_by(items, "thread_id", t1);
    assert_string_equal(str(a, "company_name"), "Acme Analytics");
    assert_string_equal(str(a, "contact_name"), "Ana Ruiz");
    assert_string_equal(str(a, "stage"), "needs_analysis");
    assert_string_equal(str(a, "last_intent"), "demo_request");
    assert_int_equal(json_integer_value(json_object_get(a, "turns")), 2);
    assert_string_equal(str(a, "created_at"), "2026-03-02T09:00:00Z");
    assert_string_equal(str(a, "updated_at"), "2026-03-02T09:20:00Z");
    assert_true(json_is_null(json_object_get(a, "lead_id")));
    assert_null(json_object_get(a, "seq"));
    assert_null(json_object_get(a, "contact_email")); /* stored for erasure, not listed */
    json_t *b = find_by(items, "thread_id", t2);
    assert_string_equal(str(b, "lead_id"), lead);
    assert_string_equal(str(b, "company_name"), company); /* the lead's, not the typed one */
    json_t *c3 = find_by(items, "thread_id", t3);
    assert_true(json_is_null(json_object_get(c3, "company_name")));
    assert_true(json_is_null(json_object_get(c3, "contact_name")));
    json_decref(page);

    /* pages of 2 from the newest: ours in the same order, none twice */
    n = 0;
    long long before = 0;
    for (int k = 0; k < 1000 && n < 3; k++) {
        assert_int_equal(sa_store_conversation_list(s, 2, before, &page, &err), 0);
        assert_true(json_array_size(json_object_get(page, "items")) <= 2);
        ours_in(json_object_get(page, "items"), mine, 3, seen, &n);
        json_t *next = json_object_get(page, "next_before");
        bool last = json_is_null(next);
        before = json_integer_value(next);
        json_decref(page);
        if (last)
            break;
        assert_true(before > 0);
    }
    assert_int_equal(n, 3);
    assert_string_equal(seen[0], t1);
    assert_string_equal(seen[1], t3);
    assert_string_equal(seen[2], t2);

    assert_int_equal(sa_store_conversation_list(s, 0, 0, &page, &err), SA_EINVAL);
    assert_int_equal(sa_store_conversation_list(s, 501, 0, &page, &err), SA_EINVAL);
    assert_int_equal(sa_store_conversation_list(s, 10, -1, &page, &err), SA_EINVAL);

    /* the lead's erasure takes its conversation off the list, and the one to its e-mail */
    c = (struct sa_conversation_row){.thread_id = t3,
                                     .contact_email = email,
                                     .stage = "introduction",
                                     .last_intent = "greeting",
                                     .turns = 2,
                                     .at = "2026-03-02T09:30:00Z"};
    assert_int_equal(sa_store_conversation_touch(s, &c, &err), 0);
    json_t *erased = NULL;
    assert_int_equal(sa_store_lead_erase(s, lead, email, NULL, &erased, &err), 0);
    json_decref(erased);
    assert_int_equal(sa_store_conversation_list(s, 500, 0, &page, &err), 0);
    n = 0;
    ours_in(json_object_get(page, "items"), mine, 3, seen, &n);
    assert_int_equal(n, 1);
    assert_string_equal(seen[0], t1);
    json_decref(page);
    sa_store_close(s);
}

/* Which of mine the whole conversation list holds, in list order (*n of them). */
static void listed(struct sa_store *s, const char *const *mine, int k, const char **seen, int *n)
{
    json_t *page = NULL;
    struct sa_err err = {0};
    *n = 0;
    if (sa_store_conversation_list(s, 500, 0, &page, &err))
        fail_msg("conversation_list: %s", err.msg);
    ours_in(json_object_get(page, "items"), mine, k, seen, n);
    json_decref(page);
}

static void touch_at(struct sa_store *s, const char *thread, int turns, double at)
{
    char when[SA_ISO8601_LEN];
    sa_iso8601_format_ms(at, when);
    struct sa_conversation_row c = {.thread_id = thread,
                                    .company_name = "Quiet Quarry Ltd",
                                    .contact_name = "Mia Stone",
                                    .contact_email = "mia.stone@quiet-quarry.example",
                                    .stage = "qualification",
                                    .last_intent = "pricing",
                                    .turns = turns,
                                    .at = when};
    struct sa_err err = {0};
    if (sa_store_conversation_touch(s, &c, &err))
        fail_msg("conversation_touch: %s", err.msg);
}

/* prune deletes the conversation list's rows last touched before conversations_before
 * (strictly: a row touched at the cutoff stays), counts them with dry_run without deleting,
 * judges a conversation by its last turn (not its first), and a turn after the prune
 * lists the thread again as a new conversation. */
static void test_prune_conversations(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char quiet[64], live[64], revived[64], edge[64];
    uniq(quiet, sizeof quiet, "conv-quiet", "");
    uniq(live, sizeof live, "conv-live", "");
    uniq(revived, sizeof revived, "conv-revived", "");
    uniq(edge, sizeof edge, "conv-edge", "");
    double now = (double)(long long)real_now(), cutoff = now - 3600;
    touch_at(s, quiet, 1, now - 7200);
    touch_at(s, quiet, 2, now - 7100);   /* last turn still before the cutoff */
    touch_at(s, revived, 1, now - 7200); /* first turn before it, the last after */
    touch_at(s, revived, 2, now - 60);
    touch_at(s, live, 1, now - 600);
    touch_at(s, edge, 1, cutoff);
    const char *mine[] = {quiet, live, revived, edge}, *seen[8];
    int n;

    struct sa_prune_query q = {.conversations_before = cutoff, .dry_run = true};
    json_t *counts = NULL;
    assert_int_equal(sa_store_prune(s, &q, &counts, &err), 0);
    assert_true(count_of(counts, "conversations") >= 1);
    assert_int_equal(count_of(counts, "executions"), 0); /* their cutoffs are 0 */
    assert_int_equal(count_of(counts, "enrichment_cache"), 0);
    long long would = count_of(counts, "conversations");
    json_decref(counts);
    listed(s, mine, 4, seen, &n);
    assert_int_equal(n, 4);

    q.dry_run = false;
    assert_int_equal(sa_store_prune(s, &q, &counts, &err), 0);
    assert_true(count_of(counts, "conversations") >= would);
    json_decref(counts);
    listed(s, mine, 4, seen, &n);
    assert_int_equal(n, 3); /* last touched first */
    assert_string_equal(seen[0], edge);
    assert_string_equal(seen[1], live);
    assert_string_equal(seen[2], revived);

    /* again: nothing; half a second later the row touched at the old cutoff goes too */
    assert_int_equal(sa_store_prune(s, &q, &counts, &err), 0);
    assert_int_equal(count_of(counts, "conversations"), 0);
    json_decref(counts);
    q.conversations_before = cutoff + 0.5;
    assert_int_equal(sa_store_prune(s, &q, &counts, &err), 0);
    assert_true(count_of(counts, "conversations") >= 1);
    json_decref(counts);
    listed(s, mine, 4, seen, &n);
    assert_int_equal(n, 2);
    assert_string_equal(seen[0], live);
    assert_string_equal(seen[1], revived);

    /* zero cutoff: nothing goes */
    q = (struct sa_prune_query){.executions_before = 0};
    assert_int_equal(sa_store_prune(s, &q, &counts, &err), 0);
    assert_int_equal(count_of(counts, "conversations"), 0);
    json_decref(counts);
    listed(s, mine, 4, seen, &n);
    assert_int_equal(n, 2);

    /* a new turn on the pruned thread lists it again, newest, from that turn */
    touch_at(s, quiet, 1, now);
    json_t *page = NULL;
    assert_int_equal(sa_store_conversation_list(s, 500, 0, &page, &err), 0);
    json_t *items = json_object_get(page, "items");
    n = 0;
    ours_in(items, mine, 4, seen, &n);
    assert_int_equal(n, 3);
    assert_string_equal(seen[0], quiet);
    char when[SA_ISO8601_LEN];
    sa_iso8601_format_ms(now, when);
    json_t *row = find_by(items, "thread_id", quiet);
    assert_string_equal(str(row, "created_at"), when);
    assert_int_equal(json_integer_value(json_object_get(row, "turns")), 1);
    json_decref(page);
    sa_store_close(s);
}

/* ---- Agent Server threads ------------------------------------------------------------ */

struct thread_putter {
    struct sa_store *s;
    const char *id;
    pthread_barrier_t *go;
    int rc;
    bool inserted;
};

static void *put_thread(void *arg)
{
    struct thread_putter *p = arg;
    struct sa_err err = {0};
    pthread_barrier_wait(p->go);
    p->rc = sa_store_as_thread_put(p->s, p->id, "{\"by\":\"racer\"}", "2026-04-01T10:00:00Z",
                                   &p->inserted, &err);
    return NULL;
}

static void test_as_threads(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char t1[64], t2[64], t3[64], suite[64], md[256];
    uniq(t1, sizeof t1, "as-thread-a", "");
    uniq(t2, sizeof t2, "as-thread-b", "");
    uniq(t3, sizeof t3, "as-thread-c", "");
    uniq(suite, sizeof suite, "inbox", "");
    bool inserted = false;
    snprintf(md, sizeof md, "{\"suite\":\"%s\",\"owner\":\"ana\",\"priority\":2,\"vip\":true}",
             suite);
    assert_int_equal(sa_store_as_thread_put(s, t1, md, "2026-04-01T09:00:00Z", &inserted, &err), 0);
    assert_true(inserted);
    /* a second put of the id changes nothing */
    assert_int_equal(sa_store_as_thread_put(s, t1, "{\"owner\":\"bo\"}", "2026-04-01T09:30:00Z",
                                            &inserted, &err),
                     0);
    assert_false(inserted);
    snprintf(md, sizeof md, "{\"suite\":\"%s\",\"owner\":\"bo\",\"priority\":2,\"vip\":false}",
             suite);
    assert_int_equal(sa_store_as_thread_put(s, t2, md, "2026-04-01T09:05:00Z", &inserted, &err), 0);
    assert_true(inserted);
    assert_int_equal(sa_store_as_thread_put(s, t3, NULL, "2026-04-01T09:10:00Z", &inserted, &err),
                     0);
    assert_true(inserted);
    /* bad input: no id, no time, metadata that is no object */
    assert_int_equal(sa_store_as_thread_put(s, NULL, NULL, "2026-04-01T09:00:00Z", &inserted, &err),
                     SA_EINVAL);
    assert_int_equal(sa_store_as_thread_put(s, "x", NULL, NULL, &inserted, &err), SA_EINVAL);
    assert_int_equal(sa_store_as_thread_put(s, "x", "[1]", "2026-04-01T09:00:00Z", &inserted, &err),
                     SA_EINVAL);
    assert_int_equal(sa_store_as_thread_get(s, "x", &(json_t *){NULL}, &err), SA_ENOTFOUND);

    json_t *t = NULL;
    assert_int_equal(sa_store_as_thread_get(s, t1, &t, &err), 0);
    assert_string_equal(json_string_value(json_object_get(t, "thread_id")), t1);
    assert_string_equal(json_string_value(json_object_get(t, "created_at")),
                        "2026-04-01T09:00:00Z");
    assert_string_equal(json_string_value(json_object_get(t, "updated_at")),
                        "2026-04-01T09:00:00Z");
    json_t *m = json_object_get(t, "metadata");
    assert_string_equal(json_string_value(json_object_get(m, "owner")), "ana");
    assert_int_equal(json_integer_value(json_object_get(m, "priority")), 2);
    assert_true(json_is_true(json_object_get(m, "vip")));
    json_decref(t);
    assert_int_equal(sa_store_as_thread_get(s, t3, &t, &err), 0);
    assert_true(json_is_object(json_object_get(t, "metadata")));
    assert_int_equal(json_object_size(json_object_get(t, "metadata")), 0);
    json_decref(t);

    /* update: keep_existing adds only new keys; otherwise the given values win; a null
     * value is a value (it deletes nothing) */
    assert_int_equal(sa_store_as_thread_update(s, t1,
                                               "{\"owner\":\"cy\",\"graph_id\":\"pipeline\","
                                               "\"note\":null}",
                                               true, "2026-04-01T09:40:00Z", &err),
                     0);
    assert_int_equal(sa_store_as_thread_get(s, t1, &t, &err), 0);
    m = json_object_get(t, "metadata");
    assert_string_equal(json_string_value(json_object_get(m, "owner")), "ana");
    assert_string_equal(json_string_value(json_object_get(m, "graph_id")), "pipeline");
    assert_true(json_is_null(json_object_get(m, "note")));
    assert_true(json_is_true(json_object_get(m, "vip")));
    assert_string_equal(json_string_value(json_object_get(t, "updated_at")),
                        "2026-04-01T09:40:00Z");
    assert_string_equal(json_string_value(json_object_get(t, "created_at")),
                        "2026-04-01T09:00:00Z");
    json_decref(t);
    assert_int_equal(sa_store_as_thread_update(s, t1, "{\"owner\":\"cy\",\"vip\":false}", false,
                                               "2026-04-01T09:50:00Z", &err),
                     0);
    assert_int_equal(sa_store_as_thread_get(s, t1, &t, &err), 0);
    m = json_object_get(t, "metadata");
    assert_string_equal(json_string_value(json_object_get(m, "owner")), "cy");
    assert_true(json_is_false(json_object_get(m, "vip")));
    assert_string_equal(json_string_value(json_object_get(m, "graph_id")), "pipeline");
    assert_int_equal(json_integer_value(json_object_get(m, "priority")), 2);
    json_decref(t);
    assert_int_equal(
        sa_store_as_thread_update(s, "as-thread-none", "{}", true, "2026-04-01T09:50:00Z", &err),
        SA_ENOTFOUND);
    assert_int_equal(sa_store_as_thread_update(s, t1, "\"x\"", true, "2026-04-01T09:50:00Z", &err),
                     SA_EINVAL);

    /* search: every filter key equal (type included), last updated first, limit, offset */
    json_t *found = NULL;
    snprintf(md, sizeof md, "{\"suite\":\"%s\"}", suite);
    assert_int_equal(sa_store_as_thread_search(s, md, 10, 0, &found, &err), 0);
    assert_int_equal(json_array_size(found), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(found, 0), "thread_id")),
                        t1); /* updated 09:50 */
    assert_string_equal(json_string_value(json_object_get(json_array_get(found, 1), "thread_id")),
                        t2);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(found, 1), "metadata"), "owner")),
                        "bo");
    json_decref(found);
    assert_int_equal(sa_store_as_thread_search(s, md, 1, 1, &found, &err), 0);
    assert_int_equal(json_array_size(found), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(found, 0), "thread_id")),
                        t2);
    json_decref(found);
    assert_int_equal(sa_store_as_thread_search(s, md, 10, 2, &found, &err), 0);
    assert_int_equal(json_array_size(found), 0);
    json_decref(found);
    const char *filters[][2] = {
        {"\"owner\":\"bo\"", t2},
        {"\"vip\":false", NULL}, /* both now: t1 and t2 */
        {"\"priority\":2,\"vip\":true", ""},
        {"\"priority\":\"2\"", ""},
        {"\"owner\":\"bo\",\"vip\":false", t2},
        {"\"missing\":null", ""},
    };
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
        snprintf(md, sizeof md, "{\"suite\":\"%s\",%s}", suite, filters[i][0]);
        assert_int_equal(sa_store_as_thread_search(s, md, 10, 0, &found, &err), 0);
        if (!filters[i][1])
            assert_int_equal(json_array_size(found), 2);
        else if (!*filters[i][1])
            assert_int_equal(json_array_size(found), 0);
        else {
            assert_int_equal(json_array_size(found), 1);
            assert_string_equal(
                json_string_value(json_object_get(json_array_get(found, 0), "thread_id")),
                filters[i][1]);
        }
        json_decref(found);
    }
    /* a null in the filter matches a key holding null */
    snprintf(md, sizeof md, "{\"suite\":\"%s\",\"note\":null}", suite);
    assert_int_equal(sa_store_as_thread_search(s, md, 10, 0, &found, &err), 0);
    assert_int_equal(json_array_size(found), 1);
    json_decref(found);
    /* object and array values compare as jsonb does: key order aside, numbers by value,
     * arrays in order; limit and offset count the matches */
    char t4[64], t5[64], t6[64], nested[64], big[512];
    uniq(t4, sizeof t4, "as-thread-d", "");
    uniq(t5, sizeof t5, "as-thread-e", "");
    uniq(t6, sizeof t6, "as-thread-f", "");
    uniq(nested, sizeof nested, "nested", "");
    snprintf(big, sizeof big,
             "{\"suite\":\"%s\",\"a\":{\"x\":1,\"y\":{\"p\":[1,2],\"q\":\"z\"}},"
             "\"tags\":[\"hot\",{\"k\":2,\"j\":1}],\"n\":1}",
             nested);
    assert_int_equal(sa_store_as_thread_put(s, t4, big, "2026-04-01T11:00:00Z", &inserted, &err),
                     0);
    assert_int_equal(sa_store_as_thread_put(s, t5, big, "2026-04-01T11:01:00Z", &inserted, &err),
                     0);
    snprintf(big, sizeof big,
             "{\"suite\":\"%s\",\"a\":{\"x\":1,\"y\":{\"p\":[2,1],\"q\":\"z\"}},"
             "\"tags\":[\"hot\"],\"n\":2}",
             nested);
    assert_int_equal(sa_store_as_thread_put(s, t6, big, "2026-04-01T11:02:00Z", &inserted, &err),
                     0);
    const char *nfilters[][2] = {
        {"\"a\":{\"y\":{\"q\":\"z\",\"p\":[1,2]},\"x\":1}", "2"},
        {"\"a\":{\"y\":{\"q\":\"z\",\"p\":[1.0,2]},\"x\":1.0}", "2"},
        {"\"a\":{\"x\":1}", "0"}, /* equal, not contained */
        {"\"a\":{\"y\":{\"p\":[2,1],\"q\":\"z\"},\"x\":1}", "1"},
        {"\"tags\":[\"hot\",{\"j\":1,\"k\":2}]", "2"},
        {"\"tags\":[{\"j\":1,\"k\":2},\"hot\"]", "0"},
        {"\"tags\":[\"hot\"]", "1"},
        {"\"tags\":[\"hot\"],\"n\":2.0", "1"},
        {"\"n\":1.0", "2"},
        {"\"tags\":{\"0\":\"hot\"}", "0"},
    };
    for (size_t k = 0; k < sizeof nfilters / sizeof nfilters[0]; k++) {
        snprintf(md, sizeof md, "{\"suite\":\"%s\",%s}", nested, nfilters[k][0]);
        assert_int_equal(sa_store_as_thread_search(s, md, 10, 0, &found, &err), 0);
        if (json_array_size(found) != (size_t)atoi(nfilters[k][1]))
            fail_msg("filter %s: %zu found, want %s", md, json_array_size(found), nfilters[k][1]);
        json_decref(found);
    }
    snprintf(md, sizeof md,
             "{\"suite\":\"%s\",\"a\":{\"y\":{\"q\":\"z\",\"p\":[1,2]},"
             "\"x\":1}}",
             nested);
    assert_int_equal(sa_store_as_thread_search(s, md, 1, 1, &found, &err), 0);
    assert_int_equal(json_array_size(found), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(found, 0), "thread_id")),
                        t4); /* t5 is the newer */
    json_decref(found);
    assert_int_equal(sa_store_as_thread_search(s, md, 1, 0, &found, &err), 0);
    assert_int_equal(json_array_size(found), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(found, 0), "thread_id")),
                        t5);
    json_decref(found);
    assert_int_equal(sa_store_as_thread_search(s, md, 10, 2, &found, &err), 0);
    assert_int_equal(json_array_size(found), 0);
    json_decref(found);
    /* no filter: every record, t3 among them */
    assert_int_equal(sa_store_as_thread_search(s, NULL, 1000, 0, &found, &err), 0);
    bool has_t3 = false;
    size_t i;
    json_t *row;
    json_array_foreach(found, i, row) has_t3 |=
        strcmp(json_string_value(json_object_get(row, "thread_id")), t3) == 0;
    assert_true(has_t3);
    json_decref(found);
    assert_int_equal(sa_store_as_thread_search(s, NULL, 0, 0, &found, &err), SA_EINVAL);
    assert_int_equal(sa_store_as_thread_search(s, NULL, 1001, 0, &found, &err), SA_EINVAL);
    assert_int_equal(sa_store_as_thread_search(s, NULL, 10, -1, &found, &err), SA_EINVAL);
    assert_int_equal(sa_store_as_thread_search(s, "[]", 10, 0, &found, &err), SA_EINVAL);

    /* delete: the record goes, once */
    assert_int_equal(sa_store_as_thread_delete(s, t2, &err), 0);
    assert_int_equal(sa_store_as_thread_delete(s, t2, &err), SA_ENOTFOUND);
    assert_int_equal(sa_store_as_thread_get(s, t2, &t, &err), SA_ENOTFOUND);

    /* concurrent puts of one id: exactly one inserts */
    char race_id[64];
    uniq(race_id, sizeof race_id, "as-thread-race", "");
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, RACERS);
    struct thread_putter p[RACERS];
    pthread_t th[RACERS];
    for (int k = 0; k < RACERS; k++) {
        p[k] = (struct thread_putter){.s = s, .id = race_id, .go = &go};
        assert_int_equal(pthread_create(&th[k], NULL, put_thread, &p[k]), 0);
    }
    int inserts = 0;
    for (int k = 0; k < RACERS; k++) {
        pthread_join(th[k], NULL);
        assert_int_equal(p[k].rc, 0);
        inserts += p[k].inserted;
    }
    pthread_barrier_destroy(&go);
    assert_int_equal(inserts, 1);
    sa_store_close(s);
}

/* True when ids (an array of strings) holds id. */
static bool holds_id(const json_t *ids, const char *id)
{
    size_t i;
    json_t *it;
    json_array_foreach(ids, i, it) if (strcmp(json_string_value(it), id) == 0) return true;
    return false;
}

/* Retention's view of the thread records: those last updated before a cutoff, by id and
 * paged after an id; a record deleted only while it is still that old (one stamped by a run
 * meanwhile stays), once. */
static void test_as_threads_idle(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char old1[64], old2[64], young[64];
    uniq(old1, sizeof old1, "idle-thread-a", "");
    uniq(old2, sizeof old2, "idle-thread-b", "");
    uniq(young, sizeof young, "idle-thread-c", "");
    bool inserted = false;
    assert_int_equal(sa_store_as_thread_put(s, old1, NULL, "2026-05-01T08:00:00Z", &inserted, &err),
                     0);
    assert_int_equal(sa_store_as_thread_put(s, old2, "{\"graph_id\":\"conversation\"}",
                                            "2026-05-01T08:30:00Z", &inserted, &err),
                     0);
    assert_int_equal(
        sa_store_as_thread_put(s, young, NULL, "2026-05-01T09:30:00Z", &inserted, &err), 0);
    double cutoff = 0;
    assert_int_equal(sa_iso8601_parse("2026-05-01T09:00:00Z", &cutoff), 0);

    json_t *ids = NULL;
    assert_int_equal(sa_store_as_threads_idle(s, cutoff, NULL, 1000, &ids, &err), 0);
    assert_true(holds_id(ids, old1));
    assert_true(holds_id(ids, old2));
    assert_false(holds_id(ids, young));
    json_decref(ids);
    /* paged by id: after old1, old1 is not repeated */
    assert_int_equal(sa_store_as_threads_idle(s, cutoff, old1, 1000, &ids, &err), 0);
    assert_false(holds_id(ids, old1));
    assert_true(holds_id(ids, old2));
    json_decref(ids);
    assert_int_equal(sa_store_as_threads_idle(s, cutoff, old1, 1, &ids, &err), 0);
    assert_int_equal(json_array_size(ids), 1);
    assert_true(strcmp(json_string_value(json_array_get(ids, 0)), old1) > 0);
    json_decref(ids);
    assert_int_equal(sa_store_as_threads_idle(s, cutoff, NULL, 0, &ids, &err), SA_EINVAL);
    assert_null(ids);

    /* a run stamps old2 after the candidates were read: it stays */
    assert_int_equal(sa_store_as_thread_update(s, old2, "{\"assistant_id\":\"agent\"}", true,
                                               "2026-05-01T09:40:00Z", &err),
                     0);
    bool deleted = true;
    assert_int_equal(sa_store_as_thread_delete_idle(s, old2, cutoff, &deleted, &err), 0);
    assert_false(deleted);
    assert_int_equal(sa_store_as_thread_delete_idle(s, young, cutoff, &deleted, &err), 0);
    assert_false(deleted);
    assert_int_equal(sa_store_as_thread_delete_idle(s, old1, cutoff, &deleted, &err), 0);
    assert_true(deleted);
    assert_int_equal(sa_store_as_thread_delete_idle(s, old1, cutoff, &deleted, &err), 0);
    assert_false(deleted);
    json_t *t = NULL;
    assert_int_equal(sa_store_as_thread_get(s, old1, &t, &err), SA_ENOTFOUND);
    assert_int_equal(sa_store_as_thread_get(s, old2, &t, &err), 0);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(t, "metadata"), "graph_id")),
        "conversation");
    json_decref(t);
    assert_int_equal(sa_store_as_thread_get(s, young, &t, &err), 0);
    json_decref(t);
    assert_int_equal(sa_store_as_threads_idle(s, cutoff, NULL, 1000, &ids, &err), 0);
    assert_false(holds_id(ids, old1));
    assert_false(holds_id(ids, old2));
    json_decref(ids);
    sa_store_close(s);
}

/* The IMAP poller's mailbox cursor: a never-polled mailbox reads 0/0; one lease holder at
 * a time, renewed by advancing, taken over once it ended; a process that lost it cannot
 * move the cursor; mailboxes are independent. */
static void test_mailbox_cursor(void **state)
{
    (void)state;
    struct sa_store *s = open_store();
    struct sa_err err = {0};
    char box[96], other[96];
    uniq(box, sizeof box, "imaps://imap.example.com/INBOX ", "dana");
    uniq(other, sizeof other, "imaps://imap.example.com/Replies ", "dana");
    long long t = ms_now();
    json_t *c = NULL;
    assert_int_equal(sa_store_mailbox_claim(s, box, "A", t, t + 1000, &c, &err), 0);
    assert_int_equal(json_integer_value(json_object_get(c, "uidvalidity")), 0);
    assert_int_equal(json_integer_value(json_object_get(c, "last_uid")), 0);
    json_decref(c);
    c = NULL;
    assert_int_equal(sa_store_mailbox_claim(s, box, "B", t + 10, t + 1010, &c, &err),
                     SA_ECONFLICT);
    assert_null(c);
    assert_int_equal(sa_store_mailbox_advance(s, box, "A", 3857529045LL, 42, t + 2000, &err), 0);
    assert_int_equal(sa_store_mailbox_advance(s, box, "B", 1, 99, t + 2000, &err), SA_ECONFLICT);
    /* renewed by the advance: B still waits at t + 1500 */
    assert_int_equal(sa_store_mailbox_claim(s, box, "B", t + 1500, t + 2500, &c, &err),
                     SA_ECONFLICT);
    /* another mailbox is another cursor */
    assert_int_equal(sa_store_mailbox_claim(s, other, "B", t, t + 1000, &c, &err), 0);
    assert_int_equal(json_integer_value(json_object_get(c, "last_uid")), 0);
    json_decref(c);
    /* A stopped: its lease ends and B takes the mailbox over where A left it */
    assert_int_equal(sa_store_mailbox_claim(s, box, "B", t + 2000, t + 3000, &c, &err), 0);
    assert_int_equal(json_integer_value(json_object_get(c, "uidvalidity")), 3857529045LL);
    assert_int_equal(json_integer_value(json_object_get(c, "last_uid")), 42);
    json_decref(c);
    assert_int_equal(sa_store_mailbox_advance(s, box, "A", 3857529045LL, 43, t + 4000, &err),
                     SA_ECONFLICT);
    assert_int_equal(sa_store_mailbox_claim(s, box, "A", t + 2100, t + 3100, &c, &err),
                     SA_ECONFLICT);
    assert_int_equal(sa_store_mailbox_claim(s, NULL, "A", t, t + 1, &c, &err), SA_EINVAL);
    sa_store_close(s);
}

int main(int argc, char **argv)
{
    const char *given = argc > 1 ? argv[1] : getenv("STORE_URL");
    if (given && *given) {
        snprintf(url, sizeof url, "%s", given);
    } else {
        snprintf(dir, sizeof dir, "/tmp/sa_store_contract_XXXXXX");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            return 1;
        }
        snprintf(url, sizeof url, "sqlite://%s/store.db", dir);
    }
    printf("store contract: %s\n", url);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_twice_and_health),
        cmocka_unit_test(test_lead_writes_are_all_or_nothing),
        cmocka_unit_test(test_upsert_and_insert_if_new),
        cmocka_unit_test(test_lead_shape),
        cmocka_unit_test(test_list_filters),
        cmocka_unit_test(test_list_pagination),
        cmocka_unit_test(test_list_search_and_sort),
        cmocka_unit_test(test_lead_lookups),
        cmocka_unit_test(test_leads_by_mailbox),
        cmocka_unit_test(test_contacts_mailbox),
        cmocka_unit_test(test_companies),
        cmocka_unit_test(test_executions),
        cmocka_unit_test(test_runs),
        cmocka_unit_test(test_runs_list), /* the console's run list (issue 16) */
        cmocka_unit_test(test_approvals),
        cmocka_unit_test(test_approval_superseded),
        cmocka_unit_test(test_approval_unsupersede),
        cmocka_unit_test(test_approval_superseded_or_decided),
        cmocka_unit_test(test_approval_decided_once_under_concurrency),
        cmocka_unit_test(test_outbox),
        cmocka_unit_test(test_outbox_retry),
        cmocka_unit_test(test_outbox_add_is_all_or_nothing),
        cmocka_unit_test(test_outbox_claimed_once_under_concurrency),
        cmocka_unit_test(test_contacts),
        cmocka_unit_test(test_outbox_policy),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_saver_records),
        cmocka_unit_test(test_saver_sweep),
        cmocka_unit_test(test_key_insert_get_count),
        cmocka_unit_test(test_key_list_revoke_touch),
        cmocka_unit_test(test_audit_append_and_filters),
        cmocka_unit_test(test_audit_bad_records),
        cmocka_unit_test(test_audit_paging_and_limits),
        cmocka_unit_test(test_audit_concurrent_appends),
        cmocka_unit_test(test_meetings),
        cmocka_unit_test(test_meetings_held_once_under_concurrency),
        cmocka_unit_test(test_prune),
        cmocka_unit_test(test_threads_finished),
        cmocka_unit_test(test_write_probe),
        cmocka_unit_test(test_large_documents),
        cmocka_unit_test(test_outbox_lease),
        cmocka_unit_test(test_run_leases),
        cmocka_unit_test(test_run_claimed_once_under_concurrency),
        cmocka_unit_test(test_runs_stale),
        cmocka_unit_test(test_approval_resume_claim),
        cmocka_unit_test(test_outbox_claim_tokens),
        cmocka_unit_test(test_inbound_messages),
        cmocka_unit_test(test_outbox_crm_kinds), /* CRM sync (issue 15) */
        /* the web console */
        cmocka_unit_test(test_lead_draft_pending),
        cmocka_unit_test(test_conversation_list),
        cmocka_unit_test(test_prune_conversations),
        /* the Agent Server API's thread records */
        cmocka_unit_test(test_as_threads),
        cmocka_unit_test(test_as_threads_idle),
        cmocka_unit_test(test_mailbox_cursor), /* the IMAP poller */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
