/* Scale-out on PostgreSQL and Redis (SA_TEST_BACKENDS=pg; skipped on SQLite, which one
 * process owns): two API instances behind nginx and one `sales-agent worker`, all on one
 * database, one Redis and one Maildir.
 * - Instance A runs a pipeline run slowly; an SSE client on instance B follows it from the
 *   start; A is killed (SIGKILL) in the middle; the worker takes the run over after the
 *   visibility timeout and continues it from its checkpoint. The client on B sees the whole
 *   run: its first events, the rest marked resumed, one result, the end.
 * - More runs go through nginx to both instances; each approval is answered through nginx,
 *   one of them by both instances at once: exactly one decision is recorded, the other is
 *   refused (409) or answered as a replay of it (duplicate), and the run resumes once.
 * - Every approved draft is delivered once: the outbox workers of all three processes share
 *   the Maildir, and no recipient gets the first e-mail twice.
 * - An Agent Server thread created on A is found on B (its record is in the database), and
 *   through nginx a thread's runs and their readers reach one instance (hashed by thread). */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static struct server a, b;
static struct proxy px;
static pid_t worker;
static char mail_dir[600], mail_url[640];

/* Starts `sales-agent worker` on a's database and Redis, delivering to the shared Maildir. */
static pid_t start_worker(void)
{
    char data_dir[1024], out_path[600], log_path[600];
    snprintf(data_dir, sizeof data_dir, "%s/data", SA_SOURCE_DIR);
    snprintf(out_path, sizeof out_path, "%s/worker.out", a.dir);
    snprintf(log_path, sizeof log_path, "%s/worker.log", a.dir);
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(125);
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out < 0 || log < 0)
        _exit(126);
    dup2(out, 1);
    dup2(log, 2);
    setenv("MAIL_TRANSPORT", mail_url, 1);
    setenv("REDIS_URL", a.redis_url, 1);
    setenv("RUN_WORKERS", "1", 1);
    setenv("RUN_VISIBILITY_TIMEOUT_MS", "1500", 1);
    setenv("OUTBOX_POLL_MS", "200", 1);
    execl(SA_BINARY, SA_BINARY, "worker", "--database-url", a.db_url, "--data-dir", data_dir,
          (char *)NULL);
    _exit(127);
}

/* The sample leads (data/sample_leads.json), the first n as JSON texts. */
static char **sample_leads(int n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/data/sample_leads.json", SA_SOURCE_DIR);
    json_t *all = json_load_file(path, 0, NULL);
    assert_non_null(all);
    json_t *leads = json_object_get(all, "leads");
    char **out = calloc((size_t)n, sizeof *out);
    assert_non_null(out);
    for (int i = 0; i < n; i++) {
        json_t *lead = json_deep_copy(json_array_get(leads, (size_t)i));
        json_object_del(lead, "id"); /* new leads of this run */
        out[i] = json_dumps(lead, JSON_COMPACT);
        json_decref(lead);
    }
    json_decref(all);
    return out;
}

/* An SSE client on one instance: reads a run's stream to its end. */
struct follower {
    int port;
    char path[160];
    struct resp r;
};

static void *follow(void *arg)
{
    struct follower *f = arg;
    CURL *h = curl_easy_init();
    http_on(h, f->port, "GET", f->path, NULL, NULL, 0, &f->r);
    curl_easy_cleanup(h);
    return NULL;
}

/* A decision posted to one instance, from its own thread. */
struct decision {
    int port;
    char path[160];
    long status;
    bool duplicate; /* answered as a replay of a decision already recorded */
};

static void *decide(void *arg)
{
    struct decision *d = arg;
    CURL *h = curl_easy_init();
    struct resp r;
    static const char accept[] = "{\"type\":\"accept\"}";
    http_on(h, d->port, "POST", d->path, "application/json", accept, strlen(accept), &r);
    d->status = r.status;
    json_t *j = r.body ? json_loads(r.body, 0, NULL) : NULL;
    d->duplicate = json_is_true(json_object_get(j, "duplicate"));
    json_decref(j);
    resp_free(&r);
    curl_easy_cleanup(h);
    return NULL;
}

/* The messages delivered to the shared Maildir, by recipient: counts[i] for to[i]. */
static void count_mail(char *const *to, int n, int *counts)
{
    memset(counts, 0, (size_t)n * sizeof *counts);
    char path[700];
    snprintf(path, sizeof path, "%s/new", mail_dir);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char file[1200];
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        FILE *f = fopen(file, "r");
        char line[1024];
        while (f && fgets(line, sizeof line, f) && line[0] != '\r' && line[0] != '\n') {
            if (strncasecmp(line, "To:", 3) != 0)
                continue;
            for (int i = 0; i < n; i++)
                counts[i] += to[i] && strcasestr(line, to[i]) != NULL;
        }
        if (f)
            fclose(f);
    }
    closedir(d);
}

static void test_kill_mid_run_and_share_the_work(void **state)
{
    (void)state;
    if (!harness_on_pg()) {
        print_message("[ SKIP     ] scale-out needs PostgreSQL and Redis (test_api_scale_pg)\n");
        skip();
    }
    /* A runs each agent after 1.5 s; B only queues and serves; both deliver mail */
    assert_int_equal(server_make_dir(&a), 0);
    snprintf(mail_dir, sizeof mail_dir, "%s/shared-mail", a.dir);
    snprintf(mail_url, sizeof mail_url, "maildir:%s", mail_dir);
    server_setenv(&a, "MAIL_TRANSPORT", mail_url);
    server_setenv(&a, "RUN_WORKERS", "1");
    server_setenv(&a, "PIPELINE_STEP_DELAY_MS", "1500");
    server_setenv(&a, "RUN_VISIBILITY_TIMEOUT_MS", "1500");
    server_setenv(&a, "OUTBOX_POLL_MS", "200");
    server_setenv(&a, "SEND_WINDOW", "any"); /* whatever the day and hour the test runs */
    assert_int_equal(server_start(&a, false), 0);
    assert_int_equal(server_make_peer(&b, &a), 0);
    server_setenv(&b, "MAIL_TRANSPORT", mail_url);
    server_setenv(&b, "RUN_WORKERS", "0");
    server_setenv(&b, "OUTBOX_POLL_MS", "200");
    server_setenv(&b, "SEND_WINDOW", "any");
    assert_int_equal(server_start(&b, false), 0);

    char **leads = sample_leads(5);
    /* 1. a run on A, followed from B, A killed mid-run, the worker finishes it */
    harness_use(&b);
    char *first = run_submit(leads[0]);
    struct follower f = {.port = b.port};
    snprintf(f.path, sizeof f.path, "/api/runs/%s/stream", first);
    pthread_t follower_thread;
    assert_int_equal(pthread_create(&follower_thread, NULL, follow, &f), 0);
    char *path = strf("/api/runs/%s", first);
    bool running = false;
    for (int i = 0; i < 300 && !running; i++) {
        struct resp r;
        json_t *j = http_json("GET", path, NULL, &r);
        running = jstr(j, "status") && strcmp(jstr(j, "status"), "running") == 0;
        resp_free(&r);
        if (!running)
            usleep(100 * 1000);
    }
    assert_true(running);
    sleep(3); /* past the first agents, before the last */
    server_kill(&a);
    worker = start_worker();
    assert_true(worker > 0);
    char *status = run_wait_settled(first, 90);
    assert_non_null(status);
    assert_string_equal(status, "awaiting_approval");
    free(status);
    pthread_join(follower_thread, NULL);
    assert_int_equal(f.r.status, 200);
    const char *body = f.r.body ? f.r.body : "";
    assert_non_null(strstr(body, "event: metadata"));
    assert_non_null(strstr(body, "\"resumed\":true"));
    const char *result = strstr(body, "event: result");
    assert_non_null(result);
    assert_null(strstr(result + 1, "event: result"));
    assert_non_null(strstr(body, "event: end"));
    resp_free(&f.r);

    /* 2. A back (without the slow steps); four more runs through nginx, both instances */
    server_setenv(&a, "PIPELINE_STEP_DELAY_MS", "0");
    assert_int_equal(server_start(&a, false), 0);
    const struct server *ups[] = {&a, &b};
    assert_int_equal(proxy_start(&px, ups, 2), 0);
    harness_use_port(px.port, a.key);
    char *ids[5] = {first};
    for (int i = 1; i < 5; i++)
        ids[i] = run_submit(leads[i]);
    int waiting = 0;
    for (int i = 0; i < 5; i++) {
        status = run_wait_settled(ids[i], 90);
        assert_non_null(status);
        waiting += strcmp(status, "awaiting_approval") == 0;
        free(status);
    }
    assert_true(waiting >= 3); /* the strong sample leads reach a human */

    /* 3. the approvals: one answered by both instances at once, the rest through nginx */
    struct resp r;
    json_t *j = http_json("GET", "/api/approvals?status=pending&limit=50", NULL, &r);
    assert_int_equal(r.status, 200);
    size_t n = json_array_size(jget(j, "items"));
    assert_int_equal(n, (size_t)waiting);
    char *to[8] = {0};
    for (size_t i = 0; i < n && i < 8; i++) {
        json_t *item = json_array_get(jget(j, "items"), i);
        to[i] = strdup(jstr(item, "request.action_request.args.to"));
        char *decide_path = strf("/api/approvals/%s", jstr(item, "id"));
        if (i == 0) {
            struct decision da = {.port = a.port}, db = {.port = b.port};
            snprintf(da.path, sizeof da.path, "%s", decide_path);
            snprintf(db.path, sizeof db.path, "%s", decide_path);
            pthread_t ta, tb;
            assert_int_equal(pthread_create(&ta, NULL, decide, &da), 0);
            assert_int_equal(pthread_create(&tb, NULL, decide, &db), 0);
            pthread_join(ta, NULL);
            pthread_join(tb, NULL);
            /* one decision is recorded; the other is refused (409) or answered as the
             * replay it is (200, duplicate: the same decision, nothing done twice) */
            int recorded =
                (da.status == 200 && !da.duplicate) + (db.status == 200 && !db.duplicate);
            bool other_ok = (da.status == 200 && !da.duplicate)
                                ? (db.status == 409 || db.duplicate)
                                : (da.status == 409 || da.duplicate);
            if (recorded != 1 || !other_ok)
                fail_msg("one approval answered on both instances: %ld%s and %ld%s", da.status,
                         da.duplicate ? " (duplicate)" : "", db.status,
                         db.duplicate ? " (duplicate)" : "");
        } else {
            struct resp d;
            http("POST", decide_path, "application/json", "{\"type\":\"accept\"}", 17, &d);
            assert_int_equal(d.status, 200);
            resp_free(&d);
        }
        free(decide_path);
    }
    resp_free(&r);

    /* 4. each approved draft delivered once, by whichever outbox took it */
    int counts[8];
    bool all = false;
    for (int i = 0; i < 300 && !all; i++) {
        count_mail(to, (int)n, counts);
        all = true;
        for (size_t k = 0; k < n; k++)
            all &= counts[k] >= 1;
        if (!all)
            usleep(100 * 1000);
    }
    sleep(1); /* a second delivery, if any, would land meanwhile */
    count_mail(to, (int)n, counts);
    for (size_t k = 0; k < n; k++)
        if (counts[k] != 1) {
            server_print_log(&a);
            server_print_log(&b);
            fail_msg("%s got %d first e-mails", to[k], counts[k]);
        }

    for (size_t k = 0; k < n && k < 8; k++)
        free(to[k]);
    for (int i = 0; i < 5; i++) {
        free(ids[i]);
        free(leads[i]);
    }
    free(leads);
    free(path);
}

/* The lines of nginx's DIR/upstreams.log ("METHOD URI STATUS UPSTREAM") for URIs under
 * prefix: how many, and whether one upstream answered them all (*upstream, "" if none). */
static int upstreams_of(const char *prefix, char *upstream, size_t cap, bool *one)
{
    char path[400], line[1024];
    snprintf(path, sizeof path, "%s/upstreams.log", px.dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int n = 0;
    *one = true;
    upstream[0] = '\0';
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *uri = strchr(line, ' ');
        if (!uri || strncmp(uri + 1, prefix, strlen(prefix)) != 0)
            continue;
        const char *up = strrchr(line, ' ') + 1;
        if (n++ == 0)
            snprintf(upstream, cap, "%s", up);
        else if (strcmp(upstream, up) != 0)
            *one = false;
    }
    fclose(f);
    return n;
}

/* The Agent Server API across instances: a thread created on A is read, searched by its
 * metadata and refused as a duplicate on B (its record is in the database); through nginx
 * a run on it, the run's record, join, joinStream and the thread's run list all reach the
 * instance that runs it (nginx hashes /threads/{thread_id}/ to one instance), and the run's
 * stamp on the thread's record (assistant_id) is seen from both instances. */
static void test_agent_server_threads_across_instances(void **state)
{
    (void)state;
    if (!harness_on_pg()) {
        print_message("[ SKIP     ] scale-out needs PostgreSQL and Redis (test_api_scale_pg)\n");
        skip();
    }
    assert_true(a.pid > 0 && b.pid > 0 && px.port > 0);
    char inbox[64];
    snprintf(inbox, sizeof inbox, "scale-inbox-%d", (int)getpid());
    /* 1. created through A */
    harness_use(&a);
    struct resp r;
    char *body = strf("{\"metadata\":{\"inbox\":\"%s\",\"owner\":\"Priya Natarajan\"}}", inbox);
    json_t *j = http_json("POST", "/threads", body, &r);
    free(body);
    assert_int_equal(r.status, 200);
    char *tid = strdup(jstr(j, "thread_id"));
    char *created_at = strdup(jstr(j, "created_at"));
    resp_free(&r);

    /* 2. found through B: get, search by metadata, a second create is 409 */
    harness_use(&b);
    char *path = strf("/threads/%s", tid);
    j = http_json("GET", path, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "thread_id"), tid);
    assert_string_equal(jstr(j, "created_at"), created_at);
    assert_string_equal(jstr(j, "metadata.owner"), "Priya Natarajan");
    assert_string_equal(jstr(j, "status"), "idle");
    resp_free(&r);
    body = strf("{\"metadata\":{\"inbox\":\"%s\"},\"limit\":10}", inbox);
    j = http_json("POST", "/threads/search", body, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(j), 1);
    assert_string_equal(jstr(j, "0.thread_id"), tid);
    assert_string_equal(jstr(j, "0.metadata.owner"), "Priya Natarajan");
    resp_free(&r);
    free(body);
    char *dup = strf("{\"thread_id\":\"%s\"}", tid);
    http_json("POST", "/threads", dup, &r);
    assert_int_equal(r.status, 409);
    resp_free(&r);
    free(dup);
    dup = strf("{\"thread_id\":\"%s\",\"if_exists\":\"do_nothing\"}", tid);
    j = http_json("POST", "/threads", dup, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "metadata.owner"), "Priya Natarajan");
    resp_free(&r);
    free(dup);

    /* 3. through nginx: a run on the thread and everything that reads it */
    harness_use_port(px.port, a.key);
    char *runs = strf("/threads/%s/runs", tid);
    static const char run_body[] =
        "{\"assistant_id\":\"qualification\",\"input\":{\"company_name\":\"Tidewater Freight\","
        "\"industry\":\"Logistics\",\"company_size\":\"201-500\",\"country\":\"US\"}}";
    j = http_json("POST", runs, run_body, &r);
    assert_int_equal(r.status, 200);
    char *rid = strdup(jstr(j, "run_id"));
    resp_free(&r);
    char *run_path = strf("/threads/%s/runs/%s", tid, rid);
    j = http_json("GET", run_path, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "run_id"), rid);
    resp_free(&r);
    char *join = strf("%s/join", run_path);
    j = http_json("GET", join, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(jstr(j, "tier"));
    resp_free(&r);
    char *stream = strf("%s/stream", run_path);
    http("GET", stream, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(r.body);
    assert_non_null(strstr(r.body, "event: end"));
    resp_free(&r);
    j = http_json("GET", runs, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "0.run_id"), rid);
    assert_string_equal(jstr(j, "0.status"), "success");
    resp_free(&r);
    /* a second run, streamed, on the same instance: the thread is no longer busy there */
    char *run_stream = strf("/threads/%s/runs/stream", tid);
    http("POST", run_stream, "application/json", run_body, strlen(run_body), &r);
    assert_int_equal(r.status, 200);
    assert_non_null(r.body);
    assert_non_null(strstr(r.body, "event: end"));
    assert_null(strstr(r.body, "event: error"));
    resp_free(&r);
    j = http_json("GET", runs, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(j), 2);
    resp_free(&r);
    /* nginx sent every request under /threads/{tid}/ to one instance */
    char *prefix = strf("/threads/%s/", tid), upstream[128];
    bool one = false;
    int n = upstreams_of(prefix, upstream, sizeof upstream, &one);
    assert_int_equal(n, 7);
    if (!one)
        fail_msg("the requests of thread %s went to more than one instance", tid);

    /* 4. the run stamped the thread's record: both instances show it */
    const struct server *both[] = {&a, &b};
    for (int i = 0; i < 2; i++) {
        harness_use(both[i]);
        j = http_json("GET", path, NULL, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(jstr(j, "metadata.assistant_id"), "qualification");
        assert_string_equal(jstr(j, "metadata.owner"), "Priya Natarajan");
        resp_free(&r);
        body = strf("{\"metadata\":{\"inbox\":\"%s\",\"assistant_id\":\"qualification\"}}", inbox);
        j = http_json("POST", "/threads/search", body, &r);
        free(body);
        assert_int_equal(r.status, 200);
        assert_int_equal(json_array_size(j), 1);
        assert_string_equal(jstr(j, "0.thread_id"), tid);
        resp_free(&r);
    }
    body = strf("{\"metadata\":{\"inbox\":\"%s\",\"owner\":\"someone else\"}}", inbox);
    j = http_json("POST", "/threads/search", body, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(j), 0);
    resp_free(&r);
    free(body);
    free(prefix);
    free(run_stream);
    free(stream);
    free(join);
    free(run_path);
    free(rid);
    free(runs);
    free(path);
    free(created_at);
    free(tid);
}

static int teardown(void **state)
{
    (void)state;
    proxy_stop(&px);
    int st_w = -1;
    if (worker > 0) {
        kill(worker, SIGTERM);
        for (int i = 0; i < 600 && waitpid(worker, &st_w, WNOHANG) != worker; i++)
            usleep(100 * 1000);
    }
    int st_a = a.pid ? server_stop(&a) : 0, st_b = b.pid ? server_stop(&b) : 0;
    server_remove_dir(&b);
    server_remove_dir(&a);
    http_cleanup();
    assert_true(worker <= 0 || exited_ok(st_w));
    assert_true(exited_ok(st_a) && exited_ok(st_b));
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_mid_run_and_share_the_work),
        cmocka_unit_test(test_agent_server_threads_across_instances),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
