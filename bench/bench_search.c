/* Lead search benchmark: 100,000 leads (by default) written through the store in batches,
 * then the median latency of GET /api/leads-style queries (count + one page of 50) for
 * common, rare, accented and short search texts and for the sort orders, beside the
 * substring scan the search replaced (LIKE over the four columns), and the query plan
 * of the indexed search. Usage: bench_search [leads] */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/config.h"
#include "base/uuid.h"
#include "store/sqlite/search.h"
#include "store/store.h"

enum { BATCH = 1000, RUNS = 31, MID = RUNS / 2, P90 = RUNS * 9 / 10 };

static const char *const FIRST[] = {"Jürgen", "Zoë",  "Søren", "Renée", "Łukasz",   "Ana",
                                    "Ben",    "Dana", "Ida",   "Sam",   "François", "Mia"};
static const char *const LAST[] = {"Müller", "Øst", "Lefèvre", "Kowalczyk", "Ruiz",  "Ortiz",
                                   "Berg",   "Lee", "Garçon",  "Nowak",     "Kraus", "Smith"};
static const char *const COMPANY[] = {"Helio",  "Nordic", "Straße", "Acme",  "Blue", "Quorvia",
                                      "Zenith", "Müller", "Façade", "Orbit", "Pine", "Delta",
                                      "Vega",   "Kappa",  "Ærø",    "Lumen"};
static const char *const KIND[] = {"Robotics", "Software", "Logistics", "Analytics",
                                   "Bank",     "Studio",   "Foods",     "Systems"};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Writes n leads in batches of BATCH, each lead's fields drawn from the lists by its
 * number, so some texts are common and a company number is rare. */
static int fill(struct sa_store *s, long n)
{
    static struct sa_lead_row rows[BATCH];
    static char ids[BATCH][SA_UUID_LEN], company[BATCH][64], contact[BATCH][64], email[BATCH][96];
    for (long base = 0; base < n; base += BATCH) {
        int m = (int)(n - base < BATCH ? n - base : BATCH);
        for (int i = 0; i < m; i++) {
            unsigned long k = (unsigned long)(base + i);
            unsigned long h = k * 2654435761UL;
            sa_uuid_v7(ids[i]);
            snprintf(company[i], sizeof company[i], "%s %s %05lu", COMPANY[h % 16],
                     KIND[(h >> 4) % 8], k);
            snprintf(contact[i], sizeof contact[i], "%s %s", FIRST[(h >> 7) % 12],
                     LAST[(h >> 11) % 12]);
            snprintf(email[i], sizeof email[i], "p%lu@%s-example.com", k, KIND[(h >> 4) % 8]);
            rows[i] = (struct sa_lead_row){.id = ids[i],
                                           .company_name = company[i],
                                           .industry = KIND[(h >> 4) % 8],
                                           .contact_name = contact[i],
                                           .contact_email = email[i],
                                           .employees_min = -1,
                                           .employees_max = -1,
                                           .annual_revenue = -1,
                                           .data = "{}",
                                           .score = (int)((h >> 15) % 101),
                                           .tier = "B",
                                           .reasoning = "r"};
        }
        struct sa_err err = {0};
        if (sa_store_save_many(s, rows, NULL, m, &err)) {
            fprintf(stderr, "bench_search: %s\n", err.msg);
            return 1;
        }
    }
    return 0;
}

/* Median and p90 of RUNS lists of q (ms), with its total. */
static int measure(struct sa_store *s, const char *label, const struct sa_lead_query *q)
{
    uint64_t ns[RUNS];
    json_int_t total = 0;
    for (int r = 0; r < RUNS; r++) {
        json_t *out = NULL;
        struct sa_err err = {0};
        uint64_t t0 = sa_now_ns();
        if (sa_store_list_leads(s, q, &out, &err)) {
            fprintf(stderr, "bench_search: %s: %s\n", label, err.msg);
            return 1;
        }
        ns[r] = sa_now_ns() - t0;
        total = json_integer_value(json_object_get(out, "total"));
        json_decref(out);
    }
    qsort(ns, RUNS, sizeof ns[0], cmp_u64);
    printf("%-40s %8lld %10.2f %10.2f\n", label, (long long)total, (double)ns[MID] / 1e6,
           (double)ns[P90] / 1e6);
    return 0;
}

/* The substring scan the index replaced (the earlier list's filter), for comparison. */
static void like_scan(sqlite3 *db, const char *term)
{
    static const char sql[] =
        "SELECT count(*) FROM leads WHERE company_name LIKE ?1 OR contact_name LIKE ?1 OR "
        "contact_email LIKE ?1 OR industry LIKE ?1";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return;
    char like[80];
    snprintf(like, sizeof like, "%%%s%%", term);
    uint64_t ns[5];
    long long n = 0;
    for (int r = 0; r < 5; r++) {
        uint64_t t0 = sa_now_ns();
        sqlite3_bind_text(st, 1, like, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        ns[r] = sa_now_ns() - t0;
    }
    sqlite3_finalize(st);
    qsort(ns, 5, sizeof ns[0], cmp_u64);
    printf("%-40s %8lld %10.2f %10s\n", "  before: LIKE scan, count only", n, (double)ns[2] / 1e6,
           "-");
}

/* Prints the plan of the indexed search; 0 when it reads the FTS index and never scans
 * leads. */
static int plan_check(sqlite3 *db)
{
    static const char sql[] = "EXPLAIN QUERY PLAN SELECT leads.id FROM leads" DB_LEAD_FILTER_INDEX
                              " ORDER BY created_at DESC, id DESC LIMIT 50";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "bench_search: plan: %s\n", sqlite3_errmsg(db));
        return 1;
    }
    bool fts = false, scan = false;
    printf("query plan of q (3+ characters):\n");
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *d = (const char *)sqlite3_column_text(st, 3);
        printf("  %s\n", d);
        fts |= strstr(d, "VIRTUAL TABLE") != NULL;
        scan |= strncmp(d, "SCAN leads", 10) == 0;
    }
    sqlite3_finalize(st);
    printf("plan check: %s\n", fts && !scan ? "ok (FTS index, no scan of leads)" : "FAILED");
    return fts && !scan ? 0 : 1;
}

int main(int argc, char **argv)
{
    long n = 100000;
    if (argc > 1 && sa_parse_long(argv[1], 1, 10000000L, &n)) {
        fprintf(stderr, "usage: bench_search [leads]\n");
        return 2;
    }
    char dir[] = "/tmp/sa_bench_search_XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char url[128], path[128];
    snprintf(url, sizeof url, "sqlite://%s/bench.db", dir);
    snprintf(path, sizeof path, "%s/bench.db", dir);
    struct sa_store *s = NULL;
    struct sa_err err = {0};
    int rc = 1;
    if (sa_store_open(url, 4, &s, &err) || sa_store_migrate(s, &err)) {
        fprintf(stderr, "bench_search: %s\n", err.msg);
        goto out;
    }
    uint64_t t0 = sa_now_ns();
    if (fill(s, n))
        goto out;
    printf("%ld leads written through the store in %.2f s\n", n, (double)(sa_now_ns() - t0) / 1e9);
    printf("%-40s %8s %10s %10s\n", "list (count + page of 50)", "matches", "p50_ms", "p90_ms");
    static const struct {
        const char *label, *search;
        enum sa_lead_sort sort;
    } cases[] = {
        {"no q (newest first)", NULL, SA_LEAD_SORT_NEWEST},
        {"q=software (common)", "software", SA_LEAD_SORT_NEWEST},
        {"q=müller (accented, common)", "müller", SA_LEAD_SORT_NEWEST},
        {"q=MULLER (folded to the same)", "MULLER", SA_LEAD_SORT_NEWEST},
        {"q=04217 (rare)", "04217", SA_LEAD_SORT_NEWEST},
        {"q=ærø analytics 0 (accented, rarer)", "ærø analytics 0", SA_LEAD_SORT_NEWEST},
        {"q=p31337@ (rare, e-mail)", "p31337@", SA_LEAD_SORT_NEWEST},
        {"q=zq (2 chars: scan of folded text)", "zq", SA_LEAD_SORT_NEWEST},
        {"q=zo (2 chars, common)", "zo", SA_LEAD_SORT_NEWEST},
        {"sort=-score", NULL, SA_LEAD_SORT_SCORE_DESC},
        {"sort=company", NULL, SA_LEAD_SORT_COMPANY},
        {"sort=created_at", NULL, SA_LEAD_SORT_OLDEST},
        {"q=software&sort=company", "software", SA_LEAD_SORT_COMPANY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sa_lead_query q = {
            .limit = 50, .min_score = -1, .search = cases[i].search, .sort = cases[i].sort};
        if (measure(s, cases[i].label, &q))
            goto out;
    }
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "bench_search: %s\n", sqlite3_errmsg(db));
        sqlite3_close(db);
        goto out;
    }
    like_scan(db, "software");
    like_scan(db, "04217");
    rc = plan_check(db);
    sqlite3_close(db);
out:
    if (s)
        sa_store_close(s);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? rc : 1;
}
