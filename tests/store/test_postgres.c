/* What the PostgreSQL store promises beyond the contract suite (store/postgres/db.c): the
 * postgres:// alias, a bad URL refused without echoing it, a server that does not answer
 * failing within the connect deadline, a statement past its deadline cancelled with
 * SA_ETIMEDOUT and the connection still usable, connections the server closed replaced
 * without a failed request, two instances migrating one database at once, a health check
 * that writes, erased ids refused as conflicts, PostgreSQL's own text kept out of
 * error messages, and concurrent first leads of a company sharing one company record. The database
 * URL comes from argv[1] or $STORE_URL (postgresql://USER@HOST:PORT/DB, a user allowed to CREATE
 * DATABASE); without one the suite is skipped (exit 77). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "base/uuid.h"
#include "store/migrations.h"
#include "store/store.h"

static char url[1024]; /* the database under test */

static struct sa_store *open_store(int pool)
{
    struct sa_store *s = NULL;
    struct sa_err err = {0};
    if (sa_store_open(url, pool, &s, &err) || sa_store_migrate(s, &err))
        fail_msg("open %s: %s", url, err.msg);
    return s;
}

/* A side connection of our own, to lock tables and end the store's sessions. */
static PGconn *side(const char *u)
{
    PGconn *pg = PQconnectdb(u);
    if (PQstatus(pg) != CONNECTION_OK)
        fail_msg("side connection: %s", PQerrorMessage(pg));
    return pg;
}

static void side_exec(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(pg));
    PQclear(r);
}

static long side_count(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(pg));
    long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return n;
}

/* Both schemes name the backend; a URL libpq cannot parse is a configuration error whose
 * message does not repeat the URL (it may hold a password). */
static void test_alias_and_bad_url(void **state)
{
    (void)state;
    struct sa_store *s = NULL;
    struct sa_err err = {0};
    const char *rest = strstr(url, "://");
    assert_non_null(rest);
    char alias[1100];
    snprintf(alias, sizeof alias, "postgres%s", rest);
    assert_int_equal(sa_store_open(alias, 1, &s, &err), 0);
    assert_string_equal(sa_store_scheme(s), "postgresql");
    char detail[128] = "";
    assert_int_equal(sa_store_migrate(s, &err), 0);
    assert_int_equal(sa_store_health(s, detail, sizeof detail, &err), 0);
    sa_store_close(s);

    assert_int_equal(sa_store_open("postgresql://u:s3cret@[::1/db", 1, &s, &err), SA_ECONFIG);
    assert_null(s);
    assert_null(strstr(err.msg, "s3cret"));
}

/* A server that accepts the TCP connection but never answers: the store gives up at the
 * connect deadline with a storage error (the HTTP layer's 503), and says it timed out. */
static void test_connect_deadline(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 8), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    char mute[128];
    snprintf(mute, sizeof mute, "postgresql://sa@127.0.0.1:%d/x", ntohs(a.sin_port));
    sa_store_set_timeouts(300, 5000);
    struct sa_store *s = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_store_open(mute, 1, &s, &err), 0); /* connections open lazily */
    json_t *run = NULL;
    assert_int_equal(sa_store_run_get(s, "x", &run, &err), SA_ESTORE);
    assert_null(run);
    assert_non_null(strstr(err.msg, "timed out"));
    sa_store_close(s);
    close(fd);

    /* nothing listening: refused at once, the same error */
    snprintf(mute, sizeof mute, "postgresql://sa@127.0.0.1:%d/x", ntohs(a.sin_port));
    assert_int_equal(sa_store_open(mute, 1, &s, &err), 0);
    assert_int_equal(sa_store_run_get(s, "x", &run, &err), SA_ESTORE);
    sa_store_close(s);
    sa_store_set_timeouts(3000, 5000);
}

/* A statement blocked past its deadline (another session holds a lock) is cancelled and
 * fails with SA_ETIMEDOUT; the same pooled connection then serves the next statement. */
static void test_statement_deadline(void **state)
{
    (void)state;
    sa_store_set_timeouts(3000, 300);
    struct sa_store *s = open_store(1);
    PGconn *pg = side(url);
    side_exec(pg, "BEGIN");
    side_exec(pg, "LOCK TABLE runs IN ACCESS EXCLUSIVE MODE");
    struct sa_err err = {0};
    json_t *run = NULL;
    assert_int_equal(sa_store_run_get(s, "no-such-run", &run, &err), SA_ETIMEDOUT);
    /* in a transaction too: it is rolled back, nothing is written */
    char id[SA_UUID_LEN], eid[SA_UUID_LEN];
    sa_uuid_v7(id);
    sa_uuid_v7(eid);
    side_exec(pg, "LOCK TABLE agent_executions IN ACCESS EXCLUSIVE MODE");
    struct sa_lead_row l = {.id = id,
                            .company_name = "Deadline Inc",
                            .employees_min = -1,
                            .employees_max = -1,
                            .annual_revenue = -1,
                            .data = "{}",
                            .score = -1};
    struct sa_exec_row e = {
        .id = eid, .lead_id = id, .agent_type = "qualification", .success = true, .input = "{}"};
    assert_int_equal(sa_store_save_invocation(s, &l, &e, &err), SA_ETIMEDOUT);
    side_exec(pg, "COMMIT");
    assert_int_equal(sa_store_run_get(s, "no-such-run", &run, &err), SA_ENOTFOUND);
    json_t *got = NULL;
    assert_int_equal(sa_store_get_lead(s, id, &got, &err), SA_ENOTFOUND);
    assert_int_equal(sa_store_save_invocation(s, &l, &e, &err), 0);
    assert_int_equal(sa_store_get_lead(s, id, &got, &err), 0);
    json_decref(got);
    PQfinish(pg);
    sa_store_close(s);
    sa_store_set_timeouts(3000, 5000);
}

/* Ends every session of the store (as a PostgreSQL restart does) and waits until they
 * are gone. Behind PgBouncer the side connection's server session may have served the
 * store before (and kept its application_name): not that one. */
static void terminate_store_sessions(PGconn *pg)
{
    side_exec(pg, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                  "application_name = 'sales-agent' AND datname = current_database() AND "
                  "pid <> pg_backend_pid()");
    while (side_count(pg, "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                          "'sales-agent' AND datname = current_database() AND "
                          "pid <> pg_backend_pid()") > 0)
        usleep(10000);
}

/* Connections the server closed while they sat in the pool are replaced on their next
 * use: reads, single writes and transactions all succeed, none fails first. */
static void test_recovers_closed_connections(void **state)
{
    (void)state;
    struct sa_store *s = open_store(2);
    PGconn *pg = side(url);
    struct sa_err err = {0};
    char run_id[SA_UUID_LEN], lead_id[SA_UUID_LEN], eid[SA_UUID_LEN];
    sa_uuid_v7(run_id);
    sa_uuid_v7(lead_id);
    assert_int_equal(sa_store_run_create(s, run_id, lead_id, "t-recover", "{}", &err), 0);
    json_t *run = NULL;
    for (int round = 0; round < 3; round++) {
        terminate_store_sessions(pg);
        assert_int_equal(sa_store_run_get(s, run_id, &run, &err), 0);
        json_decref(run);
        terminate_store_sessions(pg);
        assert_int_equal(sa_store_run_update(s, run_id, "running", NULL, NULL, &err), 0);
        terminate_store_sessions(pg);
        sa_uuid_v7(eid);
        struct sa_lead_row l = {.id = lead_id,
                                .company_name = "Recover Ltd",
                                .employees_min = -1,
                                .employees_max = -1,
                                .annual_revenue = -1,
                                .data = "{}",
                                .score = -1};
        struct sa_exec_row e = {.id = eid,
                                .lead_id = lead_id,
                                .agent_type = "qualification",
                                .success = true,
                                .input = "{}"};
        assert_int_equal(sa_store_save_invocation(s, &l, &e, &err), 0);
    }
    char detail[128];
    assert_int_equal(sa_store_health(s, detail, sizeof detail, &err), 0);
    PQfinish(pg);
    sa_store_close(s);
}

struct migrator {
    const char *url;
    int rc;
    struct sa_err err;
};

static void *migrate_thread(void *arg)
{
    struct migrator *m = arg;
    struct sa_store *s = NULL;
    m->rc = sa_store_open(m->url, 1, &s, &m->err);
    if (!m->rc)
        m->rc = sa_store_migrate(s, &m->err);
    sa_store_close(s);
    return NULL;
}

/* A database of its own on url's server, dropped again with scratch_db_drop. */
struct scratch_db {
    char name[64];
    char url[1100]; /* url with the database's name for its path */
    PGconn *admin;  /* a side connection to url's database, which creates and drops it */
};

static void scratch_db_create(struct scratch_db *d, const char *prefix)
{
    snprintf(d->name, sizeof d->name, "%s_%d_%ld", prefix, (int)getpid(), (long)time(NULL));
    d->admin = side(url);
    char sql[256];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", d->name);
    side_exec(d->admin, sql);
    /* the same URL with the new database: replace the path after the authority */
    const char *path = strchr(strstr(url, "://") + 3, '/');
    assert_non_null(path);
    const char *query = strchr(path, '?');
    snprintf(d->url, sizeof d->url, "%.*s/%s%s", (int)(path - url), url, d->name,
             query ? query : "");
}

static void scratch_db_drop(struct scratch_db *d)
{
    char sql[256];
    snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", d->name);
    side_exec(d->admin, sql);
    PQfinish(d->admin);
}

/* Two instances starting at once on an empty database: both succeed, each migration is
 * applied once. */
static void test_concurrent_migrate(void **state)
{
    (void)state;
    struct scratch_db d;
    scratch_db_create(&d, "sa_migrate");
    const char *fresh = d.url;
    struct migrator m[2] = {{.url = fresh}, {.url = fresh}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, migrate_thread, &m[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(m[i].rc, 0);
    }
    PGconn *f = side(fresh);
    assert_int_equal(side_count(f, "SELECT count(*) FROM schema_migrations"),
                     (long)sa_pg_migrations_count);
    assert_int_equal(side_count(f, "SELECT count(DISTINCT version) FROM schema_migrations"),
                     (long)sa_pg_migrations_count);
    PQfinish(f);
    scratch_db_drop(&d);
}

/* The conversation list of a database that held conversations before migration 059: each
 * conversation thread's turns (executions of its lead) give it one row, the last turn's
 * stage and intent (NULL where the output has none as a string), the latest names an input
 * gave, its turns counted, first and last turn's times, seq in the order of the last turns,
 * and the next touch's seq after them. Other agents' executions list nothing. The database
 * is put back before 059 and 060 (their objects dropped, their records removed), as an
 * upgrade finds it. */
static void test_conversations_backfilled(void **state)
{
    (void)state;
    struct scratch_db d;
    scratch_db_create(&d, "sa_backfill");
    const char *fresh = d.url;
    struct sa_store *s = NULL;
    struct sa_err err = {0};
    if (sa_store_open(fresh, 2, &s, &err) || sa_store_migrate(s, &err))
        fail_msg("open %s: %s", fresh, err.msg);
    char l[SA_UUID_LEN];
    sa_uuid_v7(l);
    struct sa_lead_row lr = {.id = l,
                             .company_name = "Globex",
                             .employees_min = -1,
                             .employees_max = -1,
                             .annual_revenue = -1,
                             .data = "{}",
                             .score = 60,
                             .tier = "B",
                             .reasoning = "r",
                             .contact_email = "hank@globex.example"};
    struct sa_exec_row q = {.id = "conv-q",
                            .lead_id = l,
                            .agent_type = "qualification",
                            .thread_id = "conv-pipeline",
                            .success = true,
                            .input = "{}",
                            .output = "{\"score\":60}",
                            .processing_time_ms = 1};
    assert_int_equal(sa_store_save_invocation(s, &lr, &q, &err), 0);
    const struct {
        const char *id, *thread, *input, *output;
    } turns[] = {
        {"conv-a1", "conv-a",
         "{\"message\":\"Hi\",\"company_name\":\"Globex\",\"contact\":{\"name\":\"Hank "
         "Scorpio\",\"email\":\"hank@globex.example\"}}",
         "{\"stage\":\"greeting\",\"intent\":\"question\",\"turn\":1}"},
        {"conv-a2", "conv-a", "{\"message\":\"How much?\"}",
         "{\"stage\":\"qualifying\",\"intent\":\"pricing\",\"turn\":2}"},
        {"conv-a3", "conv-a", "{\"message\":\"Tuesday works\"}",
         "{\"stage\":\"scheduling\",\"intent\":\"meeting_request\",\"turn\":3}"},
        {"conv-b1", "conv-b",
         "{\"message\":\"Hello\",\"contact_info\":{\"name\":\"Homer\",\"email\":"
         "\"homer@globex.example\"}}",
         "{\"stage\":7,\"reply\":\"Hello Homer\"}"},
    };
    for (size_t i = 0; i < sizeof turns / sizeof turns[0]; i++) {
        struct sa_exec_row e = q;
        e.id = turns[i].id;
        e.agent_type = "conversation";
        e.thread_id = turns[i].thread;
        e.input = turns[i].input;
        e.output = turns[i].output;
        assert_int_equal(sa_store_execution_add(s, &e, &err), 0);
    }
    sa_store_close(s);
    PGconn *f = side(fresh);
    /* conv-b's only turn falls between conv-a's first and last: conv-a is the newest */
    side_exec(f, "UPDATE agent_executions SET created_at = CASE id "
                 "WHEN 'conv-a1' THEN '2026-03-01T09:00:00.000Z' "
                 "WHEN 'conv-a2' THEN '2026-03-01T09:05:00.000Z' "
                 "WHEN 'conv-a3' THEN '2026-03-02T10:00:00.000Z' "
                 "WHEN 'conv-b1' THEN '2026-03-01T12:00:00.000Z' ELSE created_at END");
    side_exec(f, "DROP TABLE conversations; DROP SEQUENCE conversations_seq_gen; "
                 "DROP TABLE as_threads; DELETE FROM schema_migrations WHERE version IN (59, 60)");
    if (sa_store_open(fresh, 2, &s, &err) || sa_store_migrate(s, &err)) /* 059 lists them */
        fail_msg("migrate %s: %s", fresh, err.msg);
    PGresult *r = PQexec(f, "SELECT thread_id, lead_id, company_name, contact_name, "
                            "contact_email, stage, last_intent, turns, seq, created_at, "
                            "updated_at FROM conversations ORDER BY seq");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), 2);
    const char *want[2][11] = {
        {"conv-b", l, NULL, "Homer", "homer@globex.example", NULL, NULL, "1", "1",
         "2026-03-01T12:00:00.000Z", "2026-03-01T12:00:00.000Z"},
        {"conv-a", l, "Globex", "Hank Scorpio", "hank@globex.example", "scheduling",
         "meeting_request", "3", "2", "2026-03-01T09:00:00.000Z", "2026-03-02T10:00:00.000Z"},
    };
    for (int i = 0; i < 2; i++)
        for (int c = 0; c < 11; c++) {
            if (PQgetisnull(r, i, c)) {
                if (want[i][c])
                    fail_msg("row %d column %d: want %s, got NULL", i, c, want[i][c]);
            } else if (!want[i][c])
                fail_msg("row %d column %d: want NULL, got %s", i, c, PQgetvalue(r, i, c));
            else
                assert_string_equal(PQgetvalue(r, i, c), want[i][c]);
        }
    PQclear(r);
    /* the sequence continues after the listed rows: the next touch is the newest */
    struct sa_conversation_row row = {
        .thread_id = "conv-b", .turns = 2, .at = "2026-03-03T08:00:00.000Z"};
    assert_int_equal(sa_store_conversation_touch(s, &row, &err), 0);
    assert_int_equal(side_count(f, "SELECT seq FROM conversations WHERE thread_id = 'conv-b'"), 3);
    sa_store_close(s);
    PQfinish(f);
    scratch_db_drop(&d);
}

/* The health check writes: it reports the write, and a database that cannot take it
 * (here a lock held past the statement deadline) is unhealthy. */
static void test_health_writes(void **state)
{
    (void)state;
    sa_store_set_timeouts(3000, 300);
    struct sa_store *s = open_store(1);
    struct sa_err err = {0};
    char detail[128] = "";
    assert_int_equal(sa_store_health(s, detail, sizeof detail, &err), 0);
    assert_non_null(strstr(detail, "schema version"));
    assert_non_null(strstr(detail, "write ok"));
    PGconn *pg = side(url);
    side_exec(pg, "BEGIN");
    side_exec(pg, "LOCK TABLE health_probe IN EXCLUSIVE MODE"); /* reads pass, writes wait */
    assert_int_not_equal(sa_store_health(s, detail, sizeof detail, &err), 0);
    side_exec(pg, "COMMIT");
    assert_int_equal(sa_store_health(s, detail, sizeof detail, &err), 0);
    PQfinish(pg);
    sa_store_close(s);
    sa_store_set_timeouts(3000, 5000);
}

/* An erased lead's id is refused as a conflict with our words; a duplicate id is a
 * storage error whose message holds none of PostgreSQL's text. */
static void test_errors_mapped(void **state)
{
    (void)state;
    struct sa_store *s = open_store(2);
    struct sa_err err = {0};
    char id[SA_UUID_LEN], eid[SA_UUID_LEN];
    sa_uuid_v7(id);
    sa_uuid_v7(eid);
    struct sa_lead_row l = {.id = id,
                            .company_name = "Erased GmbH",
                            .employees_min = -1,
                            .employees_max = -1,
                            .annual_revenue = -1,
                            .data = "{}",
                            .score = -1};
    struct sa_exec_row e = {
        .id = eid, .lead_id = id, .agent_type = "qualification", .success = true, .input = "{}"};
    assert_int_equal(sa_store_save_invocation(s, &l, &e, &err), 0);
    /* the same execution id again */
    assert_int_equal(sa_store_save_invocation(s, &l, &e, &err), SA_ESTORE);
    assert_null(strstr(err.msg, "duplicate"));
    assert_null(strstr(err.msg, eid));
    json_t *out = NULL;
    assert_int_equal(sa_store_lead_erase(s, id, NULL, NULL, &out, &err), 0);
    assert_int_equal(json_integer_value(json_object_get(out, "leads")), 1);
    assert_int_equal(json_integer_value(json_object_get(out, "executions")), 1);
    json_decref(out);
    sa_uuid_v7(eid);
    assert_int_equal(sa_store_save_invocation(s, &l, &e, &err), SA_ECONFLICT);
    assert_non_null(strstr(err.msg, "erased"));
    bool inserted = true;
    assert_int_equal(sa_store_insert_lead_if_new(s, &l, NULL, &inserted, &err), SA_ECONFLICT);
    assert_false(inserted);
    sa_store_close(s);
}

struct racer {
    struct sa_store *s;
    const char *domain;
    pthread_barrier_t *start;
    char id[SA_UUID_LEN];
    int rc;
};

static void *race_thread(void *arg)
{
    struct racer *r = arg;
    char eid[SA_UUID_LEN];
    sa_uuid_v7(r->id);
    sa_uuid_v7(eid);
    struct sa_lead_row l = {.id = r->id,
                            .company_name = "Race Co",
                            .employees_min = -1,
                            .employees_max = -1,
                            .annual_revenue = -1,
                            .data = "{}",
                            .score = -1,
                            .company_domain = r->domain};
    struct sa_exec_row e = {
        .id = eid, .lead_id = r->id, .agent_type = "qualification", .success = true, .input = "{}"};
    struct sa_err err = {0};
    json_t *none = NULL;
    /* each thread opens its pooled connection first, then all write at once */
    if (sa_store_run_get(r->s, r->id, &none, &err) != SA_ENOTFOUND)
        r->rc = -1;
    pthread_barrier_wait(r->start);
    if (!r->rc)
        r->rc = sa_store_save_invocation(r->s, &l, &e, &err);
    return NULL;
}

/* Leads of a new company written at once from many threads (each write one statement,
 * no transaction around it): every write succeeds and all share the one company. */
static void test_company_race(void **state)
{
    (void)state;
    struct sa_store *s = open_store(8);
    char domain[64];
    snprintf(domain, sizeof domain, "race-%d-%ld.example", (int)getpid(), (long)time(NULL));
    struct racer r[8];
    pthread_t t[8];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 8);
    for (int i = 0; i < 8; i++) {
        r[i] = (struct racer){.s = s, .domain = domain, .start = &start};
        assert_int_equal(pthread_create(&t[i], NULL, race_thread, &r[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].rc, 0);
    }
    pthread_barrier_destroy(&start);
    struct sa_err err = {0};
    json_t *co = NULL;
    assert_int_equal(sa_store_company_get(s, domain, &co, &err), 0);
    assert_int_equal(json_integer_value(json_object_get(co, "leads")), 8);
    const char *cid = json_string_value(json_object_get(co, "id"));
    for (int i = 0; i < 8; i++) {
        json_t *got = NULL;
        assert_int_equal(sa_store_get_lead(s, r[i].id, &got, &err), 0);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(got, "company"), "id")), cid);
        json_decref(got);
    }
    json_decref(co);
    sa_store_close(s);
}

int main(int argc, char **argv)
{
    const char *given = argc > 1 ? argv[1] : getenv("STORE_URL");
    if (!given || (strncmp(given, "postgresql://", 13) != 0 && strncmp(given, "postgres://", 11))) {
        fprintf(stderr, "test_postgres: no postgresql:// URL given; skipped\n");
        return 77;
    }
    snprintf(url, sizeof url, "%s", given);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alias_and_bad_url),
        cmocka_unit_test(test_connect_deadline),
        cmocka_unit_test(test_statement_deadline),
        cmocka_unit_test(test_recovers_closed_connections),
        cmocka_unit_test(test_concurrent_migrate),
        cmocka_unit_test(test_conversations_backfilled),
        cmocka_unit_test(test_health_writes),
        cmocka_unit_test(test_errors_mapped),
        cmocka_unit_test(test_company_race),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
