/* Outages of the production backends under load: a server on PostgreSQL and Redis of its
 * own (tests/harness/backends.sh, so that stopping them disturbs no other test) loses
 * PostgreSQL, then Redis, while clients keep calling. Each request gets an answer within
 * the configured timeouts (503 with our message while the database is gone, never a hang,
 * a 500 or the backend's own error text), /health answers 503 "degraded" naming the
 * backend that failed, and once the server is back the same process (no restart) answers
 * 200 again. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct server srv;
static char backends_dir[512], pg_url[256], redis_url[256];

/* Value of NAME in the backends.env file, into out. */
static void env_value(const char *name, char *out, size_t cap)
{
    char path[600], line[512];
    snprintf(path, sizeof path, "%s/backends.env", backends_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = strlen(name);
    out[0] = '\0';
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, n) == 0 && line[n] == '=')
            snprintf(out, cap, "%.*s", (int)strcspn(line + n + 1, "\n"), line + n + 1);
    fclose(f);
    assert_true(out[0] != '\0');
}

/* Runs tests/harness/backends.sh CMD on our servers. */
static void backends(const char *cmd)
{
    char line[1200];
    snprintf(line, sizeof line, "bash %s/tests/harness/backends.sh %s %s", SA_SOURCE_DIR, cmd,
             backends_dir);
    if (system(line) != 0)
        fail_msg("%s failed", line);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(server_make_dir(&srv), 0);
    snprintf(backends_dir, sizeof backends_dir, "%s/backends", srv.dir);
    backends("start");
    env_value("SA_TEST_PG_ADMIN_URL", pg_url, sizeof pg_url);
    env_value("SA_TEST_REDIS_URL", redis_url, sizeof redis_url);
    /* this server alone on these servers: the cluster's own database, Redis database 0 */
    snprintf(srv.db_url, sizeof srv.db_url, "%s", pg_url);
    server_setenv(&srv, "REDIS_URL", redis_url);
    server_setenv(&srv, "PG_CONNECT_TIMEOUT_MS", "1000");
    server_setenv(&srv, "PG_STATEMENT_TIMEOUT_MS", "2000");
    server_setenv(&srv, "REDIS_TIMEOUT_MS", "500");
    assert_int_equal(server_start(&srv, false), 0);
    harness_use(&srv);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int st = server_stop(&srv);
    backends("stop");
    server_remove_dir(&srv);
    http_cleanup();
    assert_true(exited_ok(st));
    return 0;
}

static const char LEAD[] =
    "{\"agent_type\": \"qualification\", \"input\": {\"company_name\": \"Nordwind Logistik\", "
    "\"industry\": \"Logistics\", \"company_size\": \"201-500\", \"contact_info\": {\"name\": "
    "\"Jana Krüger\", \"email\": \"jana.krueger@nordwind-logistik.de\"}}}";

/* GET /health: its status code, and whether the body names backend as failing. */
static int health(const char *backend, bool *named)
{
    struct resp r;
    json_t *body = http_json("GET", "/health", NULL, &r);
    int status = (int)r.status;
    *named = false;
    json_t *failing = json_object_get(body, "failing");
    size_t i;
    json_t *v;
    json_array_foreach(failing, i, v)
    {
        *named |= strcmp(json_string_value(v), backend) == 0;
    }
    if (status == 503)
        assert_string_equal(json_string_value(json_object_get(body, "status")), "degraded");
    resp_free(&r); /* and body, r.json */
    return status;
}

/* Polls /health until it answers want (30 s at most); returns what it answered last. */
static int health_until(int want, const char *backend, bool *named)
{
    int status = 0;
    for (int i = 0; i < 300 && (status = health(backend, named)) != want; i++)
        usleep(100 * 1000);
    return status;
}

/* One invoke: its status; the body never carries the backend's own error text. */
static int one_invoke(double *seconds)
{
    struct resp r;
    double t0 = now_s();
    invoke(LEAD, &r);
    *seconds = now_s() - t0;
    int status = (int)r.status;
    if (status != 200) {
        const char *text = r.body ? r.body : "";
        if (strstr(text, "connection to server") || strstr(text, "Connection refused") ||
            strstr(text, "ERR ") || strstr(text, "PGRES"))
            fail_msg("a backend's error text reached the client: %s", text);
    }
    resp_free(&r);
    return status;
}

static void test_postgres_then_redis_down_and_back(void **state)
{
    (void)state;
    pid_t pid = srv.pid;
    double took;
    bool named;
    assert_int_equal(one_invoke(&took), 200);
    assert_int_equal(health("database", &named), 200);

    /* PostgreSQL goes away: answers within the timeouts, 503, /health names it */
    backends("down-pg");
    for (int i = 0; i < 5; i++) {
        int status = one_invoke(&took);
        if (status != 503)
            fail_msg("invoke with PostgreSQL down answered %d", status);
        /* the connect timeout is 1 s and a statement's 2 s: far less than a client's 30 s */
        if (took > 10.0)
            fail_msg("invoke with PostgreSQL down took %.1f s", took);
    }
    struct resp r;
    http_json("GET", "/api/leads", NULL, &r);
    assert_int_equal(r.status, 503);
    resp_free(&r);
    assert_int_equal(health_until(503, "database", &named), 503);
    assert_true(named);

    /* back: the same process serves again */
    backends("up-pg");
    assert_int_equal(health_until(200, "database", &named), 200);
    assert_int_equal(one_invoke(&took), 200);
    assert_int_equal(srv.pid, pid);

    /* Redis goes away: /health names it; requests still get an answer (the rate limits
     * fail open), and none is a 500 */
    backends("down-redis");
    assert_int_equal(health_until(503, "redis", &named), 503);
    assert_true(named);
    int status = one_invoke(&took);
    if (status != 200 && status != 503)
        fail_msg("invoke with Redis down answered %d", status);
    if (took > 10.0)
        fail_msg("invoke with Redis down took %.1f s", took);
    backends("up-redis");
    assert_int_equal(health_until(200, "redis", &named), 200);
    assert_int_equal(one_invoke(&took), 200);
    assert_int_equal(srv.pid, pid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_postgres_then_redis_down_and_back),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
