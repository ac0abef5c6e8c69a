/* Messages per second through the SMTP transport to a local SMTP server (aiosmtpd,
 * tests/harness/smtp_server.py, STARTTLS and AUTH PLAIN required, a throwaway
 * certificate): one transport reusing its connection for every message, against a new
 * transport (a new connection: TCP, TLS handshake, EHLO twice, AUTH) per message; then
 * the reused connection with DKIM signing (RSA 2048). Prints each rate and the ratio.
 *
 *   bench_smtp [MESSAGES]   (default 300; the per-connection run sends a third of them) */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "connectors/mail/transport.h"

static char dir[64];
static pid_t server_pid;

static int sh(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int start_server(void)
{
    snprintf(dir, sizeof dir, "/tmp/sa-benchsmtp-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
             "-nodes -keyout key.pem -out cert.pem -days 2 -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 2>/dev/null && openssl genpkey -algorithm RSA "
             "-pkeyopt rsa_keygen_bits:2048 -out dkim.pem 2>/dev/null",
             dir);
    if (sh(cmd) != 0)
        return -1;
    const char *py = sh("/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null") == 0
                         ? "/usr/bin/python3"
                         : "python3";
    snprintf(cmd, sizeof cmd,
             "exec %s %s/tests/harness/smtp_server.py --dir %s --cert %s/cert.pem --key "
             "%s/key.pem --user bench --password bench-pw 2>%s/server.err",
             py, SA_SOURCE_DIR, dir, dir, dir, dir);
    server_pid = fork();
    if (server_pid < 0)
        return -1;
    if (server_pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    char path[128];
    snprintf(path, sizeof path, "%s/port", dir);
    for (int i = 0; i < 2000; i++) {
        FILE *f = fopen(path, "r");
        char line[16] = "";
        if (f) {
            if (!fgets(line, sizeof line, f))
                line[0] = '\0';
            fclose(f);
            long port = strtol(line, NULL, 10);
            if (port > 0 && port < 65536)
                return (int)port;
        }
        usleep(20 * 1000);
    }
    return -1;
}

static void stop_server(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (sh(cmd) != 0)
        fprintf(stderr, "bench_smtp: could not remove %s\n", dir);
}

/* A typical first-touch e-mail: ~1.5 KB of headers and quoted-printable text. */
static char *message(int n, size_t *len)
{
    char *m = NULL;
    int k =
        asprintf(&m,
                 "Date: Thu, 03 Dec 2026 09:00:00 +0000\r\n"
                 "From: Dana Whitfield <dana@acme-analytics.io>\r\n"
                 "To: Maya Okafor <maya@quorvianta.io>\r\n"
                 "Subject: Quorvianta's pipeline reviews, in half the time\r\n"
                 "Message-ID: <bench-%08d@acme-analytics.io>\r\n"
                 "List-Unsubscribe: <https://sales.acme-analytics.io/unsubscribe/tok%08d>\r\n"
                 "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
                 "MIME-Version: 1.0\r\n"
                 "Content-Type: text/plain; charset=UTF-8\r\n"
                 "Content-Transfer-Encoding: quoted-printable\r\n"
                 "\r\n"
                 "Hi Maya,\r\n\r\n"
                 "I saw Quorvianta just opened a second sales office in Lagos and that your "
                 "team=\r\n is hiring four AEs. Teams at that stage usually find their weekly "
                 "pipeline=\r\n review takes a whole afternoon.\r\n\r\n"
                 "Acme Analytics scores every open deal from your CRM activity and flags the "
                 "ones=\r\n that slipped, so the review covers the five deals that matter.\r\n\r\n"
                 "Would a 20-minute call next Tuesday or Wednesday work?\r\n\r\n"
                 "Best,\r\nDana\r\n\r\n--\r\nDana Whitfield, Account Executive, Acme "
                 "Analytics\r\nTorstra=C3=9Fe 49, 10119 Berlin\r\n",
                 n, n);
    *len = k > 0 ? (size_t)k : 0;
    return k > 0 ? m : NULL;
}

/* Sends n messages; one transport for all (reuse) or one per message. Returns msgs/s,
 * or -1 on a failure (printed). */
static double run(const char *url, const struct sa_transport_options *o, int n, bool reuse)
{
    struct sa_transport *t = NULL;
    struct sa_err err = {0};
    uint64_t t0 = sa_now_ns();
    for (int i = 0; i < n; i++) {
        if (!t && sa_transport_open_with(url, o, &t, &err) != 0) {
            fprintf(stderr, "bench_smtp: open: %s\n", err.msg);
            return -1;
        }
        size_t len;
        char *m = message(i, &len);
        char id[SA_TRANSPORT_ID_MAX];
        int rc =
            m ? sa_transport_send(t, "maya@quorvianta.io", m, len, id, sizeof id, &err) : SA_ENOMEM;
        free(m);
        if (rc) {
            fprintf(stderr, "bench_smtp: message %d: %s\n", i, err.msg);
            sa_transport_free(t);
            return -1;
        }
        if (!reuse) {
            sa_transport_free(t);
            t = NULL;
        }
    }
    double s = (double)(sa_now_ns() - t0) / 1e9;
    sa_transport_free(t);
    return n / s;
}

static int count_lines(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    int n = 0, c;
    while (f && (c = fgetc(f)) != EOF)
        n += c == '\n';
    if (f)
        fclose(f);
    return n;
}

int main(int argc, char **argv)
{
    char *end = NULL;
    long n = argc > 1 ? strtol(argv[1], &end, 10) : 300;
    if (n < 3 || (end && *end)) {
        fprintf(stderr, "usage: bench_smtp [MESSAGES >= 3]\n");
        return 2;
    }
    int port = start_server();
    if (port < 0) {
        fprintf(stderr, "bench_smtp: the SMTP server did not start (scripts/deps.sh installs "
                        "python3-aiosmtpd)\n");
        stop_server();
        return 1;
    }
    char url[128], ca[128], key[128];
    snprintf(url, sizeof url, "smtp://bench:bench-pw@127.0.0.1:%d?starttls=required", port);
    snprintf(ca, sizeof ca, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/dkim.pem", dir);
    struct sa_transport_options o = {.smtp_ca_file = ca};
    int fresh_n = (int)(n / 3);
    int c0 = count_lines("connections");
    double reuse = run(url, &o, (int)n, true);
    int c1 = count_lines("connections");
    double fresh = run(url, &o, fresh_n, false);
    int c2 = count_lines("connections");
    o.dkim_key_file = key;
    o.dkim_selector = "bench";
    double signed_rate = run(url, &o, (int)n, true);
    stop_server();
    if (reuse < 0 || fresh < 0 || signed_rate < 0)
        return 1;
    printf("%-52s %10s %12s\n", "SMTP to local aiosmtpd (STARTTLS + AUTH PLAIN)", "msgs/s",
           "connections");
    printf("%-52s %10.1f %12d\n", "one connection reused", reuse, c1 - c0);
    printf("%-52s %10.1f %12d\n", "a new connection per message", fresh, c2 - c1);
    printf("%-52s %10.1f %12s\n", "one connection reused, DKIM rsa-sha256 (2048)", signed_rate,
           "1");
    printf("reuse / new connection: %.1fx (%ld and %d messages)\n", reuse / fresh, n, fresh_n);
    return 0;
}
