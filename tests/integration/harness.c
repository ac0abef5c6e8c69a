/* The integration-test harness (see harness.h). */
#include "harness.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#ifndef SA_SOURCE_DIR
#error "SA_SOURCE_DIR must be defined (tests/CMakeLists.txt does it)"
#endif
#ifndef SA_BINARY
#error "SA_BINARY must be defined (tests/CMakeLists.txt does it)"
#endif

static int current_port;
static char current_key[128];
static char auth_override[600];
static bool auth_overridden;
static CURL *shared_handle;
static bool quiet; /* no transport-error messages (while polling /health) */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the server process ------------------------------------------------------------ */

/* ---- PostgreSQL and Redis (SA_TEST_BACKENDS=pg) --------------------------------------- */

bool harness_on_pg(void)
{
    const char *b = getenv("SA_TEST_BACKENDS");
    return b && strcmp(b, "pg") == 0;
}

/* Directories given a database so far by this process: directory N gets database "_N". */
static int made;

/* Creates a database for s on the server of SA_TEST_PG_URL, named after that URL's database
 * plus "_N" (a new name: the URL's database is unique to the run), and points s->db_url at
 * it. Returns 0 or -1 (printed). */
static int make_pg_db(struct server *s)
{
    const char *url = getenv("SA_TEST_PG_URL");
    if (!url || !*url) {
        fprintf(stderr, "harness: SA_TEST_BACKENDS=pg needs SA_TEST_PG_URL "
                        "(tests/harness/with-backends.sh sets it)\n");
        return -1;
    }
    /* postgresql://USER@HOST:PORT/DB[?PARAMS]: the new URL swaps DB */
    const char *authority = strstr(url, "://");
    const char *slash = authority ? strchr(authority + 3, '/') : NULL;
    size_t db_len = slash ? strcspn(slash + 1, "?") : 0;
    if (!slash || db_len == 0 || db_len > 50 ||
        strspn(slash + 1, "abcdefghijklmnopqrstuvwxyz"
                          "0123456789_") != db_len) {
        fprintf(stderr,
                "harness: SA_TEST_PG_URL=%s: expected postgresql://...:PORT/DB with DB "
                "in [a-z0-9_], at most 50 characters\n",
                url);
        return -1;
    }
    char name[64];
    snprintf(name, sizeof name, "%.*s_%d", (int)db_len, slash + 1, made);
    PGconn *c = PQconnectdb(url);
    int rc = -1;
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "harness: cannot connect to %s: %s", url, PQerrorMessage(c));
    } else {
        char sql[128];
        snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\"", name);
        PGresult *res = PQexec(c, sql);
        if (PQresultStatus(res) == PGRES_COMMAND_OK)
            rc = 0;
        else
            fprintf(stderr, "harness: %s: %s", sql, PQerrorMessage(c));
        PQclear(res);
    }
    PQfinish(c);
    if (rc == 0)
        snprintf(s->db_url, sizeof s->db_url, "%.*s%s%s", (int)(slash + 1 - url), url, name,
                 slash + 1 + db_len);
    return rc;
}

/* A new temporary directory for s, with its file names; no database yet. */
static int make_dir_only(struct server *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "/tmp/sa-test-XXXXXX");
    if (!mkdtemp(s->dir)) {
        perror("mkdtemp");
        return -1;
    }
    snprintf(s->log_path, sizeof s->log_path, "%s/server.log", s->dir);
    snprintf(s->out_path, sizeof s->out_path, "%s/server.out", s->dir);
    return 0;
}

/* s->redis_url: SA_TEST_REDIS_URL (redis://HOST:PORT[/B]) with database B + N when the run
 * has SA_TEST_REDIS_DBS > N databases from B on, else B itself. "" without the variable.
 * Returns 0 or -1 (printed). */
static int pick_redis_db(struct server *s)
{
    const char *url = getenv("SA_TEST_REDIS_URL");
    if (!url || !*url)
        return 0;
    const char *authority = strstr(url, "://");
    const char *slash = authority ? strchr(authority + 3, '/') : NULL;
    size_t base_len = slash ? (size_t)(slash - url) : strlen(url);
    char *end = NULL;
    long base = slash && slash[1] ? strtol(slash + 1, &end, 10) : 0;
    const char *dbs_text = getenv("SA_TEST_REDIS_DBS");
    long dbs = dbs_text ? strtol(dbs_text, NULL, 10) : 1;
    if (!authority || base_len >= sizeof s->redis_url - 16 || base < 0 || (end && *end)) {
        fprintf(stderr, "harness: SA_TEST_REDIS_URL=%s: expected redis://HOST:PORT[/DB]\n", url);
        return -1;
    }
    if (dbs > 1 && made >= dbs) {
        fprintf(stderr,
                "harness: more than %ld server directories in one run: no Redis "
                "database left (SA_TEST_REDIS_DBS)\n",
                dbs - 1);
        return -1;
    }
    snprintf(s->redis_url, sizeof s->redis_url, "%.*s/%ld", (int)base_len, url,
             dbs > 1 ? base + made : base);
    return 0;
}

int server_make_dir(struct server *s)
{
    if (make_dir_only(s))
        return -1;
    if (!harness_on_pg()) {
        snprintf(s->db_url, sizeof s->db_url, "sqlite://%s/db.sqlite", s->dir);
        return 0;
    }
    made++;
    if (make_pg_db(s) || pick_redis_db(s)) {
        server_remove_dir(s);
        return -1;
    }
    return 0;
}

int server_make_peer(struct server *peer, const struct server *first)
{
    if (make_dir_only(peer))
        return -1;
    snprintf(peer->db_url, sizeof peer->db_url, "%s", first->db_url);
    snprintf(peer->redis_url, sizeof peer->redis_url, "%s", first->redis_url);
    snprintf(peer->key, sizeof peer->key, "%s", first->key);
    return 0;
}

int server_setenv(struct server *s, const char *name, const char *value)
{
    size_t n = strlen(name);
    int slot = -1;
    for (int i = 0; i < SERVER_ENV_MAX; i++) {
        if (strncmp(s->env[i], name, n) == 0 && s->env[i][n] == '=') {
            slot = i; /* replaces it */
            break;
        }
        if (slot < 0 && !s->env[i][0])
            slot = i;
    }
    if (slot < 0 || n + strlen(value) + 2 > sizeof s->env[0])
        return -1;
    snprintf(s->env[slot], sizeof s->env[slot], "%s=%s", name, value);
    return 0;
}

/* A port nobody listens on right now: bind 127.0.0.1:0, read it back, close. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

void server_print_log(const struct server *s)
{
    char *text = server_read_log(s);
    fprintf(stderr, "---- %s ----\n%s\n---- end of server log ----\n", s->log_path,
            text ? text : "(unreadable)");
    free(text);
}

char *server_read_log(const struct server *s)
{
    FILE *f = fopen(s->log_path, "rb");
    if (!f)
        return NULL;
    size_t cap = 8192, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

static pid_t spawn(const struct server *s, bool seed)
{
    char port[16], data_dir[1024], seed_file[1024];
    snprintf(port, sizeof port, "%d", s->port);
    snprintf(data_dir, sizeof data_dir, "%s/data", SA_SOURCE_DIR);
    snprintf(seed_file, sizeof seed_file, "%s/data/sample_leads.json", SA_SOURCE_DIR);
    char *argv[] = {(char *)SA_BINARY,
                    (char *)"serve",
                    (char *)"--port",
                    port,
                    (char *)"--host",
                    (char *)"127.0.0.1",
                    (char *)"--database-url",
                    (char *)s->db_url,
                    (char *)"--data-dir",
                    data_dir,
                    (char *)"--threads",
                    (char *)"2",
                    seed ? (char *)"--seed" : NULL,
                    seed_file,
                    NULL};
    /* mail goes to the server's own Maildir unless the test chose one */
    char mail[600];
    snprintf(mail, sizeof mail, "maildir:%s/mail", s->dir);
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid; /* parent (or -1) */
    /* child: should the test process die (a crash, an abort), the server goes with it */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(125);
    /* stdin from /dev/null, stdout (the welcome and the first key) to its own file,
     * stderr (the JSON log) to the log */
    int log = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    int out = open(s->out_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    int null = open("/dev/null", O_RDONLY);
    if (log < 0 || out < 0 || null < 0)
        _exit(126);
    dup2(null, 0);
    dup2(out, 1);
    dup2(log, 2);
    close(null);
    close(out);
    close(log);
    if (s->redis_url[0])
        setenv("REDIS_URL", s->redis_url, 1);
    for (int i = 0; i < SERVER_ENV_MAX; i++) {
        char kv[sizeof s->env[i]];
        snprintf(kv, sizeof kv, "%s", s->env[i]);
        char *eq = strchr(kv, '=');
        if (eq) {
            *eq = '\0';
            setenv(kv, eq + 1, 1);
        }
    }
    setenv("MAIL_TRANSPORT", mail, 0);
    execv(SA_BINARY, argv);
    _exit(127);
}

/* GET /health on port answers 200? */
/* The first admin key the server printed on stdout at its first start on this directory
 * ("  sa_<16 hex>_<43 chars>" on a line of its own); kept across restarts. The welcome is
 * printed just after the server starts answering, so this waits a little for it. */
static void read_first_key(struct server *s)
{
    for (int tries = 0; tries < 40 && !s->key[0]; tries++) {
        FILE *f = fopen(s->out_path, "r");
        char line[512];
        bool listening = false;
        while (f && fgets(line, sizeof line, f)) {
            const char *p = line + strspn(line, " ");
            size_t n = strcspn(p, " \r\n");
            listening |= strstr(line, "is listening on") != NULL;
            if (strncmp(p, "sa_", 3) == 0 && n == 63 && n < sizeof s->key)
                snprintf(s->key, sizeof s->key, "%.*s", (int)n, p);
        }
        if (f)
            fclose(f);
        if (listening)
            break; /* the welcome is out: a key, if any, was in it */
        sleep_ms(25);
    }
    if (current_port == s->port)
        snprintf(current_key, sizeof current_key, "%s", s->key);
}

/* How many times the server's stdout says it listens on port (the file is appended to
 * by every start in the directory). */
static int listening_lines(const struct server *s, int port)
{
    FILE *f = fopen(s->out_path, "r");
    if (!f)
        return 0;
    char want[64], line[1024];
    snprintf(want, sizeof want, ":%d (API document", port);
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, " is listening on ") && strstr(line, want);
    fclose(f);
    return n;
}

/* The readiness probe sends no credential: the current key may be another server's, a
 * failed authentication that the server counts against 127.0.0.1 (AUTH_FAILURES_PER_MINUTE;
 * in Redis, shared by every test's server), and past the limit a 429. */
static bool healthy(int port)
{
    CURL *h = curl_easy_init();
    if (!h)
        return false;
    struct resp r;
    quiet = true;
    bool was_overridden = auth_overridden;
    char was[sizeof auth_override];
    memcpy(was, auth_override, sizeof was);
    harness_auth("");
    bool ok = http_on(h, port, "GET", "/health", NULL, NULL, 0, &r) == 0 && r.status == 200;
    auth_overridden = was_overridden;
    memcpy(auth_override, was, sizeof was);
    quiet = false;
    resp_free(&r);
    curl_easy_cleanup(h);
    return ok;
}

int server_start(struct server *s, bool seed)
{
    /* The free port may be taken between our probe and the server's bind: try again. */
    for (int attempt = 0; attempt < 3; attempt++) {
        s->port = free_port();
        if (s->port <= 0) {
            fprintf(stderr, "harness: no free port\n");
            return -1;
        }
        /* /health alone could be answered by another test's server that took the port
         * first (ctest runs programs in parallel): ours says on stdout that it listens */
        int before = listening_lines(s, s->port);
        s->pid = spawn(s, seed);
        if (s->pid < 0) {
            perror("fork");
            s->pid = 0;
            return -1;
        }
        double deadline = now_s() + 30.0;
        bool exited = false;
        while (now_s() < deadline) {
            int st;
            if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
                exited = true;
                fprintf(stderr, "harness: server exited during start-up (status 0x%x)\n", st);
                break;
            }
            if (healthy(s->port) && listening_lines(s, s->port) > before) {
                read_first_key(s);
                return 0;
            }
            sleep_ms(50);
        }
        if (!exited) {
            fprintf(stderr, "harness: server not healthy after 30 s\n");
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
        }
        s->pid = 0;
        char *log = server_read_log(s);
        bool port_taken = log && strstr(log, "cannot listen");
        free(log);
        if (!port_taken)
            break;
    }
    server_print_log(s);
    return -1;
}

bool exited_ok(int st)
{
    return st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

void server_kill(struct server *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGKILL);
    int st;
    waitpid(s->pid, &st, 0);
    s->pid = 0;
}

int server_stop(struct server *s)
{
    if (s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    int st = -1;
    double deadline = now_s() + 60.0; /* LeakSanitizer at exit can take a while */
    for (;;) {
        pid_t w = waitpid(s->pid, &st, WNOHANG);
        if (w == s->pid)
            break;
        if (w < 0 && errno != EINTR) {
            st = -1;
            break;
        }
        if (now_s() > deadline) {
            fprintf(stderr, "harness: server ignored SIGTERM for 60 s; killing it\n");
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &st, 0);
            break;
        }
        sleep_ms(20);
    }
    s->pid = 0;
    if (!exited_ok(st)) {
        if (st >= 0 && WIFEXITED(st))
            fprintf(stderr, "harness: server exited with status %d\n", WEXITSTATUS(st));
        else if (st >= 0 && WIFSIGNALED(st))
            fprintf(stderr, "harness: server killed by signal %d\n", WTERMSIG(st));
        server_print_log(s);
    }
    return st;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0)
        perror(path);
    return 0;
}

void server_remove_dir(struct server *s)
{
    if (s->dir[0])
        nftw(s->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    s->dir[0] = '\0';
}

void harness_use(const struct server *s)
{
    current_port = s->port;
    snprintf(current_key, sizeof current_key, "%s", s->key);
}

void harness_use_port(int port, const char *key)
{
    current_port = port;
    snprintf(current_key, sizeof current_key, "%s", key ? key : "");
}

/* ---- nginx in front of several instances ------------------------------------------ */

int proxy_start(struct proxy *p, const struct server *const *upstreams, int n)
{
    memset(p, 0, sizeof *p);
    snprintf(p->dir, sizeof p->dir, "/tmp/sa-nginx-XXXXXX");
    if (!mkdtemp(p->dir)) {
        perror("mkdtemp");
        return -1;
    }
    char cmd[2048];
    int len = snprintf(cmd, sizeof cmd, "bash '%s/tests/harness/nginx.sh' start '%s' 0",
                       SA_SOURCE_DIR, p->dir);
    for (int i = 0; i < n && len > 0 && (size_t)len < sizeof cmd; i++)
        len += snprintf(cmd + len, sizeof cmd - (size_t)len, " %d", upstreams[i]->port);
    FILE *f = len > 0 && (size_t)len < sizeof cmd ? popen(cmd, "r") : NULL;
    char line[64] = "";
    if (f && !fgets(line, sizeof line, f))
        line[0] = '\0';
    int st = f ? pclose(f) : -1;
    char *end = NULL;
    long port = strtol(line, &end, 10);
    if (!exited_ok(st) || end == line || port <= 0 || port > 65535) {
        fprintf(stderr, "harness: nginx did not start (%s)\n", cmd);
        rmdir(p->dir); /* nginx.sh removed what it made */
        p->dir[0] = '\0';
        return -1;
    }
    p->port = (int)port;
    return 0;
}

void proxy_stop(struct proxy *p)
{
    if (!p->dir[0])
        return;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "bash '%s/tests/harness/nginx.sh' stop '%s'", SA_SOURCE_DIR, p->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "harness: %s failed\n", cmd);
    p->dir[0] = '\0';
    p->port = 0;
}

void harness_auth(const char *header_line)
{
    auth_overridden = header_line != NULL;
    snprintf(auth_override, sizeof auth_override, "%s", header_line ? header_line : "");
}

const char *harness_auth_header(void)
{
    static char line[200];
    snprintf(line, sizeof line, "Authorization: Bearer %s", current_key);
    return line;
}

int harness_port(void)
{
    return current_port;
}

/* ---- HTTP -------------------------------------------------------------------------- */

struct sink {
    char *data;
    size_t len, cap;
};

static size_t on_body(char *p, size_t size, size_t n, void *userdata)
{
    struct sink *b = userdata;
    size_t add = size * n;
    if (b->len + add + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + add + 1)
            cap *= 2;
        char *nd = realloc(b->data, cap);
        if (!nd)
            return 0; /* makes curl fail the transfer */
        b->data = nd;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, add);
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

/* Keeps the Allow header (the only one curl does not hand us otherwise). */
static size_t on_header(char *p, size_t size, size_t n, void *userdata)
{
    struct resp *out = userdata;
    size_t len = size * n;
    if (len > 6 && strncasecmp(p, "Allow:", 6) == 0) {
        const char *v = p + 6;
        size_t vl = len - 6;
        while (vl > 0 && (*v == ' ' || *v == '\t')) {
            v++;
            vl--;
        }
        while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            vl--;
        snprintf(out->allow, sizeof out->allow, "%.*s", (int)vl, v);
    }
    size_t used = strlen(out->headers);
    if (used + len < sizeof out->headers) {
        memcpy(out->headers + used, p, len);
        out->headers[used + len] = '\0';
    }
    return len;
}

const char *resp_header(const struct resp *r, const char *name, char *buf, size_t cap)
{
    size_t n = strlen(name);
    for (const char *line = r->headers; *line;) {
        const char *eol = strstr(line, "\r\n");
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (len > n && line[n] == ':' && strncasecmp(line, name, n) == 0) {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            snprintf(buf, cap, "%.*s", (int)(len - (size_t)(v - line)), v);
            return buf;
        }
        line += len + (eol ? 2 : 0);
        if (!eol)
            break;
    }
    return NULL;
}

/* ---- the response recorder ----------------------------------------------------------
 * With SA_RESPONSE_LOG naming a file, every response http_on receives is appended to it
 * as one JSON line {method, path, status, content_type, body} (body null and
 * body_invalid_utf8 true when it is not UTF-8). tests/openapi/check_responses.js checks
 * each line against the OpenAPI document. The file is truncated by the first record of
 * the process, so it holds one run of one test program; one write(2) per line on an
 * O_APPEND descriptor keeps lines from threads whole. */
static pthread_once_t record_once = PTHREAD_ONCE_INIT;
static const char *record_path;
static atomic_bool record_off;

void harness_record(bool on)
{
    atomic_store(&record_off, !on);
}

static void record_open(void)
{
    record_path = getenv("SA_RESPONSE_LOG");
    if (!record_path || !*record_path) {
        record_path = NULL;
        return;
    }
    int fd = open(record_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "harness: SA_RESPONSE_LOG=%s: %s\n", record_path, strerror(errno));
        record_path = NULL;
        return;
    }
    close(fd);
}

static void record_response(const char *method, const char *path, const struct resp *r)
{
    pthread_once(&record_once, record_open);
    if (!record_path || atomic_load(&record_off))
        return;
    json_t *body = json_stringn(r->body, r->len); /* NULL when not UTF-8 */
    json_t *line = json_pack("{s:s?, s:o?, s:I, s:s, s:o}", "method", method, "path",
                             json_string(path), "status", (json_int_t)r->status, "content_type",
                             r->content_type, "body", body ? body : json_null());
    if (line && !body)
        json_object_set_new(line, "body_invalid_utf8", json_true());
    char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    json_decref(line);
    size_t n = text ? strlen(text) : 0;
    char *buf = text ? realloc(text, n + 2) : NULL;
    int fd = buf ? open(record_path, O_WRONLY | O_APPEND | O_CLOEXEC) : -1;
    if (buf)
        memcpy(buf + n, "\n", 2);
    if (fd < 0 || write(fd, buf, n + 1) != (ssize_t)(n + 1))
        fprintf(stderr, "harness: could not record %s %.200s in %s\n", method, path, record_path);
    if (fd >= 0)
        close(fd);
    free(buf ? buf : text);
}

static char extra_header[512];

void harness_extra_header(const char *header_line)
{
    snprintf(extra_header, sizeof extra_header, "%s", header_line ? header_line : "");
}

int http_on(CURL *h, int port, const char *method, const char *path, const char *content_type,
            const char *body, size_t body_len, struct resp *out)
{
    memset(out, 0, sizeof *out);
    char url[256 + 4096];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    struct sink sink = {0};
    struct curl_slist *hdrs = NULL;
    char ct[256];
    /* curl adds a form Content-Type to POSTs on its own: "Content-Type:" removes it. */
    snprintf(ct, sizeof ct, "Content-Type:%s%s", content_type ? " " : "",
             content_type ? content_type : "");
    hdrs = curl_slist_append(hdrs, ct);
    if (extra_header[0])
        hdrs = curl_slist_append(hdrs, extra_header);
    if (auth_overridden && auth_override[0]) {
        hdrs = curl_slist_append(hdrs, auth_override);
    } else if (!auth_overridden && current_key[0]) {
        char auth[200];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", current_key);
        hdrs = curl_slist_append(hdrs, auth);
    }

    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    } else if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(hdrs);
    if (rc != CURLE_OK) {
        free(sink.data);
        if (!quiet)
            fprintf(stderr, "harness: %s %.200s: %s\n", method, path, curl_easy_strerror(rc));
        out->status = 0;
        out->body = calloc(1, 1);
        return -1;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    char *ctype = NULL;
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype);
    snprintf(out->content_type, sizeof out->content_type, "%s", ctype ? ctype : "");
    out->body = sink.data ? sink.data : calloc(1, 1);
    out->len = sink.len;
    record_response(method, path, out);
    return 0;
}

int http(const char *method, const char *path, const char *content_type, const char *body,
         size_t body_len, struct resp *out)
{
    if (!shared_handle)
        shared_handle = curl_easy_init();
    if (!shared_handle) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    return http_on(shared_handle, current_port, method, path, content_type, body, body_len, out);
}

json_t *http_json(const char *method, const char *path, const char *json_body, struct resp *out)
{
    /* a POST says application/json even with no body: the server asks every POST for it */
    bool post = strcmp(method, "POST") == 0;
    http(method, path, json_body || post ? "application/json" : NULL, json_body,
         json_body ? strlen(json_body) : 0, out);
    if (out->body && out->len > 0)
        out->json = json_loadb(out->body, out->len, 0, NULL);
    return out->json;
}

json_t *invoke(const char *json_body, struct resp *out)
{
    return http_json("POST", "/api/langgraph/invoke", json_body, out);
}

char *create_api_key(const char *name, const char *scopes_json, char id[32])
{
    struct resp r;
    char *body = strf("{\"name\":\"%s\",\"scopes\":%s}", name, scopes_json);
    json_t *j = http_json("POST", "/api/keys", body, &r);
    free(body);
    if (r.status != 201 || !jstr(j, "key"))
        fail_msg("create key %s: %ld %.300s", name, r.status, r.body);
    if (id)
        snprintf(id, 32, "%s", jstr(j, "id"));
    char *key = strf("%s", jstr(j, "key"));
    resp_free(&r);
    return key;
}

void resp_free(struct resp *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

void http_set_quiet(bool on)
{
    quiet = on;
}

void http_cleanup(void)
{
    if (shared_handle)
        curl_easy_cleanup(shared_handle);
    shared_handle = NULL;
}

/* ---- raw socket -------------------------------------------------------------------- */

int raw_exchange(const void *data, size_t len, char *status_line, size_t cap)
{
    status_line[0] = '\0';
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)current_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = send(fd, p, left, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server may refuse and close before reading it all */
        p += w;
        left -= (size_t)w;
    }
    char buf[4096];
    size_t n = 0;
    while (n + 1 < sizeof buf) {
        ssize_t r = recv(fd, buf + n, sizeof buf - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        buf[n] = '\0';
        if (strstr(buf, "\r\n"))
            break;
    }
    close(fd);
    buf[n] = '\0';
    char *eol = strstr(buf, "\r\n");
    if (!eol)
        return 0;
    *eol = '\0';
    snprintf(status_line, cap, "%s", buf);
    return 1;
}

int status_code_of(const char *line)
{
    int code;
    if (strncmp(line, "HTTP/1.", 7) != 0 || sscanf(line + 8, " %d", &code) != 1)
        return -1;
    return code;
}

/* ---- counting rows ----------------------------------------------------------------- */

long leads_total(void)
{
    struct resp r;
    json_t *j = http_json("GET", "/api/leads?limit=1", NULL, &r);
    json_t *t = json_object_get(j, "total");
    long total = r.status == 200 && json_is_integer(t) ? (long)json_integer_value(t) : -1;
    resp_free(&r);
    return total;
}

long lead_executions(const char *lead_id)
{
    char path[128];
    snprintf(path, sizeof path, "/api/leads/%s", lead_id);
    struct resp r;
    json_t *j = http_json("GET", path, NULL, &r);
    json_t *e = json_object_get(j, "executions");
    long n = r.status == 200 && json_is_array(e) ? (long)json_array_size(e) : -1;
    resp_free(&r);
    return n;
}

/* ---- small helpers ----------------------------------------------------------------- */

bool is_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

json_t *jget(json_t *j, const char *path)
{
    char step[128];
    const char *p = path;
    while (j && *p) {
        size_t n = strcspn(p, ".");
        if (n >= sizeof step)
            return NULL;
        memcpy(step, p, n);
        step[n] = '\0';
        p += n + (p[n] == '.');
        if (json_is_array(j)) {
            char *end;
            long i = strtol(step, &end, 10);
            j = *end == '\0' && i >= 0 ? json_array_get(j, (size_t)i) : NULL;
        } else {
            j = json_object_get(j, step);
        }
    }
    return j;
}

const char *jstr(json_t *j, const char *path)
{
    return json_string_value(jget(j, path));
}

const char *jdump(json_t *j)
{
    static char buf[512];
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    snprintf(buf, sizeof buf, "%s", s ? s : "(null)");
    free(s);
    return buf;
}

/* ---- shared by the test_api_* programs --------------------------------------------- */

struct server main_srv;
struct server runs_srv;
static bool main_unclean; /* api_group_teardown saw main_srv exit with a status not 0 */

const char strong_known[] =
    "{\"company_name\":\"Quorvianta Software\",\"industry\":\"SaaS\",\"company_size\":\"201-500\","
    "\"annual_revenue\":42000000,\"country\":\"US\",\"website\":\"https://www.quorvianta.io\","
    "\"contact_info\":{\"name\":\"Maya Okafor\",\"title\":\"VP of Sales\",\"email\":"
    "\"maya.okafor@quorvianta.io\",\"phone\":\"(415) 555-0132\",\"linkedin_url\":"
    "\"https://www.linkedin.com/in/maya-okafor-4821/\"},\"signals\":[\"requested_demo\","
    "\"hiring_sales\",\"recent_funding\"]}";

char *strf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    assert_non_null(s);
    return s;
}

void expect_problem(const char *what, struct resp *r, long status, const char *loc,
                    const char *type)
{
    if (!r->json && r->len > 0)
        r->json = json_loadb(r->body, r->len, 0, NULL);
    if (r->status != status)
        fail_msg("%s: status %ld, expected %ld; body: %.300s", what, r->status, status, r->body);
    if (strncmp(r->content_type, "application/problem+json", 24) != 0)
        fail_msg("%s: content type \"%s\", expected application/problem+json", what,
                 r->content_type);
    json_t *detail = json_object_get(r->json, "detail");
    if (!json_is_array(detail) || json_array_size(detail) == 0)
        fail_msg("%s: no detail list in %.300s", what, r->body);
    if (json_integer_value(json_object_get(r->json, "status")) != status)
        fail_msg("%s: problem.status is not %ld", what, status);
    const char *got = jdump(jget(r->json, "detail.0.loc"));
    if (loc && strcmp(got, loc) != 0)
        fail_msg("%s: detail[0].loc is %s, expected %s", what, got, loc);
    const char *t = jstr(r->json, "detail.0.type");
    if (type && (!t || strcmp(t, type) != 0))
        fail_msg("%s: detail[0].type is %s, expected %s", what, t ? t : "(none)", type);
}

void bad_invoke(const char *what, const char *ct, const char *body, size_t len, long status,
                const char *loc, const char *type)
{
    struct resp r;
    http("POST", INVOKE, ct, body, len, &r);
    expect_problem(what, &r, status, loc, type);
    resp_free(&r);
}

void expect_health_ok(void)
{
    struct resp r;
    json_t *j = http_json("GET", "/health", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(jstr(j, "status"), "healthy");
    resp_free(&r);
}

json_t *run_agent(const char *type, const char *input, struct resp *r)
{
    char *body = strf("{\"agent_type\":\"%s\",\"input\":%s}", type, input);
    json_t *j = invoke(body, r);
    free(body);
    if (r->status != 200)
        fail_msg("%s: status %ld: %.400s", type, r->status, r->body);
    assert_non_null(j);
    return j;
}

json_t *wait_run(const char *id, struct resp *r)
{
    char *path = strf("/api/runs/%s", id);
    json_t *j = NULL;
    for (int i = 0; i < 100; i++) {
        j = http_json("GET", path, NULL, r);
        const char *st = jstr(j, "status");
        if (r->status == 200 && st && strcmp(st, "queued") != 0 && strcmp(st, "running") != 0)
            break;
        resp_free(r);
        j = NULL;
        usleep(50 * 1000);
    }
    free(path);
    if (!j)
        fail_msg("run %s did not finish", id);
    return j;
}

const char strong_known_csv[] =
    "Company,First Name,Last Name,Job Title,Email,Website,Industry,Employees,Tags\r\n"
    "Quorvianta Software,Maya,Okafor,VP of Sales,maya@quorvianta.io,quorvianta.io,SaaS,201-500,"
    "requested_demo;pricing_page_visit\r\n";

json_t *approval_pending(const char *csv, struct resp *r)
{
    http("POST", "/api/leads/import", "text/csv", csv, strlen(csv), r);
    if (r->status != 200)
        fail_msg("import: %ld %.300s", r->status, r->body);
    json_t *j = json_loadb(r->body, r->len, 0, NULL);
    const char *lead = j ? jstr(j, "leads.0.lead_id") : NULL;
    if (!lead)
        fail_msg("import: no leads.0.lead_id in %.300s", r->body);
    char lead_id[64];
    snprintf(lead_id, sizeof lead_id, "%s", lead);
    json_decref(j);
    char *body = strf("{\"lead_id\":\"%s\"}", lead_id);
    resp_free(r);
    j = http_json("POST", "/api/runs", body, r);
    free(body);
    if (r->status != 202 || !jstr(j, "run_id"))
        fail_msg("POST /api/runs: %ld %.300s", r->status, r->body);
    char run_id[64];
    snprintf(run_id, sizeof run_id, "%s", jstr(j, "run_id"));
    resp_free(r);
    j = wait_run(run_id, r);
    assert_string_equal(jstr(j, "status"), "awaiting_approval");
    assert_string_equal(jstr(j, "lead_id"), lead_id);
    return j;
}

char *run_submit(const char *input_json)
{
    struct resp r;
    char *body = strf("{\"input\":%s}", input_json);
    json_t *j = http_json("POST", "/api/runs", body, &r);
    free(body);
    if (r.status != 202 || !jstr(j, "run_id"))
        fail_msg("POST /api/runs: %ld %.300s", r.status, r.body);
    char *id = strdup(jstr(j, "run_id"));
    resp_free(&r);
    return id;
}

char *run_status_now(const char *id)
{
    char *path = strf("/api/runs/%s", id);
    struct resp r;
    json_t *j = http_json("GET", path, NULL, &r);
    char *st = r.status == 200 && jstr(j, "status") ? strdup(jstr(j, "status")) : NULL;
    resp_free(&r);
    free(path);
    return st;
}

char *run_wait_settled(const char *id, int seconds)
{
    for (int i = 0; i < seconds * 10; i++) {
        char *st = run_status_now(id);
        if (st && strcmp(st, "queued") != 0 && strcmp(st, "running") != 0)
            return st;
        free(st);
        usleep(100 * 1000);
    }
    return NULL;
}

bool server_log_has(const struct server *s, const char *text)
{
    char *log = server_read_log(s);
    bool yes = log && strstr(log, text);
    free(log);
    return yes;
}

int api_group_setup(void **state)
{
    (void)state;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    if (server_make_dir(&main_srv))
        return -1;
    if (server_start(&main_srv, false)) {
        server_remove_dir(&main_srv);
        return -1;
    }
    harness_use(&main_srv);
    return 0;
}

int api_group_teardown(void **state)
{
    (void)state;
    if (main_srv.pid > 0) /* not when test_server_stops_cleanly stopped it */
        main_unclean = !exited_ok(server_stop(&main_srv));
    server_remove_dir(&main_srv);
    http_cleanup();
    curl_global_cleanup();
    return main_unclean ? -1 : 0;
}

int api_exit_status(int failed)
{
    return failed ? failed : main_unclean ? 1 : 0;
}

int runs_setup(void **state)
{
    (void)state;
    return server_make_dir(&runs_srv);
}

int runs_teardown(void **state)
{
    (void)state;
    if (runs_srv.pid > 0)
        server_stop(&runs_srv);
    server_remove_dir(&runs_srv);
    harness_use(&main_srv);
    return 0;
}

void clock_file_set(const char *path, time_t t)
{
    char iso[32];
    struct tm tm;
    strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    char tmp[640];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", iso);
    fclose(f);
    assert_int_equal(rename(tmp, path), 0);
}

time_t utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    return timegm(&tm);
}

/* The Grafana dashboard's gauges (issue 16). */
double metric_value(const char *series)
{
    struct resp r;
    http("GET", "/metrics", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    char *want = strf("\n%s ", series);
    const char *p = strstr(r.body, want);
    free(want);
    if (!p) {
        resp_free(&r);
        fail_msg("/metrics has no sample %s", series);
    }
    char *end;
    double v = strtod(p + strlen(series) + 2, &end);
    bool parsed = end != p + strlen(series) + 2;
    resp_free(&r);
    assert_true(parsed);
    return v;
}
