/* The integration harness's own checks (tests/integration/harness.c), on the backend set
 * of the run: SQLite by default, PostgreSQL and Redis with SA_TEST_BACKENDS=pg (ctest's
 * test_harness_pg, through tests/harness/with-backends.sh):
 * - each server directory gets a database of its own (on PostgreSQL: one that exists, and
 *   a Redis database);
 * - two instances on one database (server_make_peer) behind nginx (proxy_start): requests
 *   alternate between them, what one writes the other reads, each gets its own settings
 *   (server_setenv) and, on PostgreSQL, the same REDIS_URL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "harness.h"

/* The environment of process pid (from /proc), NUL-separated; true when it holds the
 * entry "NAME=VALUE" exactly. */
static bool env_has(pid_t pid, const char *entry)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
        if (strcmp(buf + i, entry) == 0)
            return true;
    return false;
}

/* How many databases named a or b the PostgreSQL server of SA_TEST_PG_URL has. */
static long pg_databases(const char *a, const char *b)
{
    PGconn *c = PQconnectdb(getenv("SA_TEST_PG_URL"));
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect: %s", PQerrorMessage(c));
    const char *params[] = {a, b};
    PGresult *res = PQexecParams(c, "SELECT count(*) FROM pg_database WHERE datname IN ($1, $2)", 2,
                                 NULL, params, NULL, NULL, 0);
    long n = PQresultStatus(res) == PGRES_TUPLES_OK ? strtol(PQgetvalue(res, 0, 0), NULL, 10) : -1;
    PQclear(res);
    PQfinish(c);
    return n;
}

/* The test's servers and proxy: static, so that cleanup() finds what a failed test left. */
static struct server a, b;
static struct proxy px;

static void test_a_database_per_directory(void **state)
{
    (void)state;
    assert_int_equal(server_make_dir(&a), 0);
    assert_int_equal(server_make_dir(&b), 0);
    assert_string_not_equal(a.db_url, b.db_url);
    if (harness_on_pg()) {
        assert_true(strncmp(a.db_url, "postgresql://", 13) == 0);
        assert_int_equal(pg_databases(strrchr(a.db_url, '/') + 1, strrchr(b.db_url, '/') + 1), 2);
        /* a Redis database each, from the run's block */
        assert_true(strncmp(a.redis_url, "redis://", 8) == 0);
        assert_string_not_equal(a.redis_url, b.redis_url);
    } else {
        assert_string_equal(a.redis_url, "");
        char *want = strf("sqlite://%s/db.sqlite", a.dir);
        assert_string_equal(a.db_url, want);
        free(want);
    }
}

/* The qualifications instance s has run (its own in-memory counter, /metrics). */
static long qualifications(const struct server *s)
{
    harness_use(s);
    struct resp r;
    http("GET", "/metrics", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    const char *p = strstr(r.body, "\nagent_success_total{agent_type=\"qualification\"} ");
    long n = p ? strtol(strchr(p, '}') + 2, NULL, 10) : 0;
    resp_free(&r);
    return n;
}

static void test_two_instances_behind_nginx(void **state)
{
    (void)state;
    assert_int_equal(server_make_dir(&a), 0);
    assert_int_equal(server_start(&a, false), 0);
    assert_int_equal(server_make_peer(&b, &a), 0);
    assert_string_equal(b.db_url, a.db_url);
    assert_int_equal(server_setenv(&b, "SA_HARNESS_MARK", "peer"), 0);
    assert_int_equal(server_setenv(&b, "SA_HARNESS_MARK", "b"), 0); /* replaces it */
    assert_int_equal(server_start(&b, false), 0);
    assert_true(env_has(b.pid, "SA_HARNESS_MARK=b"));
    assert_false(env_has(a.pid, "SA_HARNESS_MARK=b"));
    assert_string_equal(b.redis_url, a.redis_url);
    if (harness_on_pg()) {
        char *redis = strf("REDIS_URL=%s", a.redis_url);
        assert_true(env_has(a.pid, redis));
        assert_true(env_has(b.pid, redis));
        free(redis);
    }

    const struct server *const ups[] = {&a, &b};
    assert_int_equal(proxy_start(&px, ups, 2), 0);
    harness_use_port(px.port, a.key);
    enum { N = 6 };
    for (int i = 0; i < N; i++) {
        char *input = strf("{\"company_name\":\"Harness %d Inc\",\"industry\":\"SaaS\","
                           "\"company_size\":\"51-200\",\"contact_info\":{\"email\":"
                           "\"ceo%d@harness%d.example\"}}",
                           i, i, i);
        struct resp r;
        run_agent("qualification", input, &r);
        resp_free(&r);
        free(input);
    }
    /* round robin: each instance ran some; one database: each sees all the leads */
    long na = qualifications(&a), nb = qualifications(&b);
    assert_int_equal(na + nb, N);
    assert_true(na > 0 && nb > 0);
    harness_use(&b);
    assert_int_equal(leads_total(), N);
    harness_use(&a);
    assert_int_equal(leads_total(), N);

    proxy_stop(&px);
    assert_true(exited_ok(server_stop(&b)));
    assert_true(exited_ok(server_stop(&a)));
}

/* After each test, passed or failed: nothing left running, no directory left. */
static int cleanup(void **state)
{
    (void)state;
    proxy_stop(&px);
    if (b.pid > 0)
        server_stop(&b);
    if (a.pid > 0)
        server_stop(&a);
    server_remove_dir(&b); /* b first: on SQLite it uses a's file */
    server_remove_dir(&a);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    http_cleanup();
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_a_database_per_directory, cleanup),
        cmocka_unit_test_teardown(test_two_instances_behind_nginx, cleanup),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
