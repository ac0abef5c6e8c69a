/* The SMTP transport (see smtp.h): libcurl's SMTP client behind the mail-transport
 * vtable, a circuit breaker and the connector metrics. */
#include "connectors/mail/smtp.h"

#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "base/clock.h"
#include "base/log.h"
#include "connectors/mail/message.h"
#include "connectors/mail/transport.h"
#include "metrics/metrics.h"
#include "resilience/breaker.h"

/* Connection reuse. libcurl keeps a connection in its easy handle's cache after a
 * transfer and reuses it for the next transfer to the same server with the same
 * credentials: for SMTP the next message starts with MAIL FROM on the open session,
 * skipping TCP, TLS, EHLO and AUTH. An easy handle serves one transfer at a time, so the
 * transport keeps a stack of idle handles: a sender takes one (or makes one when the stack
 * is empty) and gives it back after its message, so there are as many handles, and
 * connections, as senders at the busiest moment, each reused for the next message.
 *
 * A kept connection may have been closed by the server while idle (most close after a few
 * minutes). libcurl notices a closed socket before reusing it, but not one closed while
 * the request was on its way; so when a delivery on a reused connection fails before the
 * server answered anything, it is tried once more on a new connection. Nothing was
 * accepted then, so this cannot duplicate a message. */
struct handle {
    CURL *curl;
    struct handle *next;
};

struct smtp {
    struct sa_transport super;
    char *url; /* what libcurl gets: scheme://host:port/helo */
    char *user, *pass;
    char *mail_from;     /* SMTP_MAIL_FROM, or NULL */
    char *ca_file;       /* or NULL */
    char *login_options; /* "AUTH=PLAIN", or NULL */
    bool starttls;       /* smtp:// with STARTTLS required */
    long connect_ms, timeout_ms;
    pthread_mutex_t lock; /* guards idle */
    struct handle *idle;
    struct sa_breaker breaker;
    struct sa_metrics *metrics;
    int m_requests, m_seconds, m_breaker;
};

/* One delivery's state, seen by libcurl's callbacks. */
struct transfer {
    const char *msg;
    size_t len, off;
    char verb[12];   /* the last command sent: "MAIL", "RCPT", "DATA", "AUTH", ... */
    char reply[512]; /* the last reply line received, without its CRLF */
    int replies;     /* reply lines received */
    bool quitting;   /* QUIT sent: its 221 is not the answer a failure is about */
};

/* ---- metrics ------------------------------------------------------------------------- */
/* connector_requests_total and connector_request_seconds are shared with the HTTP
 * connectors (connectors/http.c); sa_metrics_register returns the family registered
 * first under the name. */

static const struct sa_metric_desc m_requests = {
    "connector_requests_total",
    "Calls to external services by connector and outcome (SMTP: the reply code, or "
    "error, timeout, breaker_open).",
    SA_COUNTER,
    {"connector", "status", NULL},
    NULL,
    0};
static const double seconds_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                         0.5,   1,    2.5,   5,    10,  30};
static const struct sa_metric_desc m_seconds = {
    "connector_request_seconds",
    "Duration of calls to external services by connector.",
    SA_HISTOGRAM,
    {"connector", NULL},
    seconds_buckets,
    (int)(sizeof seconds_buckets / sizeof seconds_buckets[0])};

static void count(struct smtp *s, const char *status, double seconds)
{
    if (!s->metrics)
        return;
    const char *v[] = {"smtp", status};
    if (s->m_requests >= 0)
        sa_metrics_add(s->metrics, s->m_requests, v, 1);
    if (s->m_seconds >= 0 && seconds >= 0)
        sa_metrics_observe(s->metrics, s->m_seconds, v, seconds);
    if (s->m_breaker >= 0)
        sa_metrics_set(s->metrics, s->m_breaker, v, (double)sa_breaker_state(&s->breaker));
}

/* ---- libcurl handles ----------------------------------------------------------------- */

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
    struct transfer *x = arg;
    size_t want = size * n, left = x->len - x->off;
    size_t k = want < left ? want : left;
    memcpy(buf, x->msg + x->off, k);
    x->off += k;
    return k;
}

/* Sees the protocol lines (never the message): keeps the last reply line and the verb of
 * the last command before any QUIT. Nothing else of a command is kept: AUTH lines carry
 * credentials. */
static int on_debug(CURL *c, curl_infotype type, char *data, size_t size, void *arg)
{
    (void)c;
    struct transfer *x = arg;
    if (type == CURLINFO_HEADER_IN && !x->quitting) {
        size_t n = size;
        while (n > 0 && (data[n - 1] == '\r' || data[n - 1] == '\n'))
            n--;
        if (n >= sizeof x->reply)
            n = sizeof x->reply - 1;
        memcpy(x->reply, data, n);
        x->reply[n] = '\0';
        x->replies++;
    } else if (type == CURLINFO_HEADER_OUT) {
        static const char *const verbs[] = {"EHLO", "HELO", "STARTTLS", "AUTH",
                                            "MAIL", "RCPT", "DATA",     "RSET"};
        if (size >= 4 && strncasecmp(data, "QUIT", 4) == 0)
            x->quitting = true; /* libcurl closes a connection after a refusal */
        for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
            size_t vl = strlen(verbs[i]);
            if (size >= vl && strncasecmp(data, verbs[i], vl) == 0 &&
                (size == vl || data[vl] == ' ' || data[vl] == '\r')) {
                snprintf(x->verb, sizeof x->verb, "%s", verbs[i]);
                break;
            }
        }
    }
    return 0;
}

static CURL *handle_new(const struct smtp *s)
{
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    bool ok =
        curl_easy_setopt(c, CURLOPT_URL, s->url) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps") == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, s->connect_ms) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, s->timeout_ms) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_USE_SSL,
                         s->starttls ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_NONE) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_VERBOSE, 1L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, on_debug) == CURLE_OK;
    if (ok && s->ca_file)
        ok = curl_easy_setopt(c, CURLOPT_CAINFO, s->ca_file) == CURLE_OK;
    if (ok && s->user)
        ok = curl_easy_setopt(c, CURLOPT_USERNAME, s->user) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_PASSWORD, s->pass ? s->pass : "") == CURLE_OK;
    if (ok && s->login_options)
        ok = curl_easy_setopt(c, CURLOPT_LOGIN_OPTIONS, s->login_options) == CURLE_OK;
    if (!ok) {
        curl_easy_cleanup(c);
        return NULL;
    }
    return c;
}

static struct handle *take(struct smtp *s)
{
    pthread_mutex_lock(&s->lock);
    struct handle *h = s->idle;
    if (h)
        s->idle = h->next;
    pthread_mutex_unlock(&s->lock);
    if (h)
        return h;
    h = calloc(1, sizeof *h);
    if (h && !(h->curl = handle_new(s))) {
        free(h);
        h = NULL;
    }
    return h;
}

static void give_back(struct smtp *s, struct handle *h)
{
    pthread_mutex_lock(&s->lock);
    h->next = s->idle;
    s->idle = h;
    pthread_mutex_unlock(&s->lock);
}

/* ---- one delivery -------------------------------------------------------------------- */

/* Copies the address of the header field name (its <angle-addr>, else its whole trimmed
 * value) into out. False when msg has no such field or it does not fit. */
static bool header_addr(const char *msg, size_t len, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < len;) {
        if (len - i >= 2 && msg[i] == '\r' && msg[i + 1] == '\n')
            return false; /* the end of the header */
        const char *eol = memchr(msg + i, '\n', len - i);
        size_t end = eol ? (size_t)(eol - msg) : len;
        while (end + 1 < len && (msg[end + 1] == ' ' || msg[end + 1] == '\t')) {
            eol = memchr(msg + end + 1, '\n', len - end - 1);
            end = eol ? (size_t)(eol - msg) : len;
        }
        if (end - i > nl && strncasecmp(msg + i, name, nl) == 0 && msg[i + nl] == ':') {
            const char *v = msg + i + nl + 1, *ve = msg + end;
            /* the last '<': a quoted display name may hold one ("Dana <Sales>" <d@x.io>) */
            const char *lt = memrchr(v, '<', (size_t)(ve - v));
            const char *gt = lt ? memchr(lt, '>', (size_t)(ve - lt)) : NULL;
            if (lt && gt) {
                v = lt + 1;
                ve = gt;
            }
            while (v < ve && isspace((unsigned char)*v))
                v++;
            while (ve > v && isspace((unsigned char)ve[-1]))
                ve--;
            size_t n = (size_t)(ve - v);
            if (n == 0 || n >= cap)
                return false;
            memcpy(out, v, n);
            out[n] = '\0';
            return true;
        }
        i = end + 1;
    }
    return false;
}

/* The server's queue id in a 250 reply, when it names one: Postfix and many others
 * "250 2.0.0 Ok: queued as 4FZk3x1Yz7z9rr", Exim "250 OK id=1qXyZa-0003Ab-2C". */
static bool queue_id(const char *reply, char *out, size_t cap)
{
    static const char *const marks[] = {"queued as ", "id="};
    for (size_t m = 0; m < 2; m++) {
        const char *p = strcasestr(reply, marks[m]);
        if (!p)
            continue;
        p += strlen(marks[m]);
        size_t n = 0;
        while (p[n] && (isalnum((unsigned char)p[n]) || strchr("-._@<>", p[n])))
            n++;
        if (n == 0 || n >= cap)
            return false;
        memcpy(out, p, n);
        out[n] = '\0';
        return true;
    }
    return false;
}

/* Runs one transfer; retries once on a fresh connection when a reused one was found
 * closed before the server answered anything (see "Connection reuse" above). */
static CURLcode perform(CURL *c, struct transfer *x)
{
    CURLcode cc = curl_easy_perform(c);
    long fresh = 1;
    if ((cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING) &&
        x->replies == 0 && curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &fresh) == CURLE_OK &&
        fresh == 0) {
        *x = (struct transfer){.msg = x->msg, .len = x->len};
        curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
        cc = curl_easy_perform(c);
        curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 0L);
    }
    return cc;
}

/* Maps a failed transfer to our code, with err's text; *server_down says whether it
 * counts against the breaker (a refused recipient does not: the server answered). */
static int classify(CURLcode cc, long code, const struct transfer *x, bool *server_down,
                    const char **status, struct sa_err *err)
{
    char said[sizeof x->reply];
    sa_mask_pii(x->reply, said, sizeof said); /* replies quote the addresses */
    const char *verb = x->verb[0] ? x->verb : "connect";
    *server_down = true;
    *status = "error";
    if (cc == CURLE_OPERATION_TIMEDOUT) {
        *status = "timeout";
        return sa_err_set(err, SA_ETIMEDOUT, "smtp: no answer in time (after %s)", verb);
    }
    if (cc == CURLE_LOGIN_DENIED)
        return sa_err_set(err, SA_ECONFIG, "smtp: the server refused our credentials: %s", said);
    if (cc == CURLE_USE_SSL_FAILED)
        return sa_err_set(err, SA_ECONFIG,
                          "smtp: the server does not offer STARTTLS, which the URL requires "
                          "(starttls=none for a local relay): %s",
                          said);
    if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE)
        return sa_err_set(err, SA_ECONFIG,
                          "smtp: the server's certificate did not verify (SMTP_CA_FILE or "
                          "cafile= for a private CA): %s",
                          curl_easy_strerror(cc));
    if (code >= 400 && code < 600) {
        bool permanent = code >= 500;
        /* a 5xx to MAIL FROM is about our sender or session (530 authentication required,
         * 553 sender not allowed, 550 5.7.1 relaying denied), not the message: every
         * message would get it, so it is a configuration failure (retried, and counted by
         * the breaker), never a reason to fail the queue item by item */
        bool message_stage = !strcmp(verb, "RCPT") || !strcmp(verb, "DATA");
        if (permanent && !strcmp(verb, "MAIL")) {
            *server_down = true;
            return sa_err_set(err, SA_ECONFIG,
                              "smtp: MAIL FROM refused (check SMTP_MAIL_FROM "
                              "and the credentials): %s",
                              said);
        }
        if (permanent && !message_stage)
            return sa_err_set(err, SA_ECONFIG, "smtp: %s refused: %s", verb, said);
        /* A refused recipient, or a greylisting 4xx to one, says nothing about the
         * server's health; a 4xx elsewhere (421 shutting down, 451 local error) does. */
        *server_down = !permanent && strcmp(verb, "RCPT") != 0;
        *status = NULL; /* the caller labels with the code */
        return sa_err_set(err, permanent ? SA_EINVAL : SA_EIO, "smtp: %s %s: %s", verb,
                          permanent ? "refused" : "deferred (will retry)", said);
    }
    return sa_err_set(err, SA_EIO, "smtp: %s (after %s)", curl_easy_strerror(cc), verb);
}

static int smtp_send(struct sa_transport *t, const char *to_addr, const char *msg, size_t len,
                     char *delivered_id, size_t id_cap, struct sa_err *err)
{
    struct smtp *s = (struct smtp *)t;
    if (delivered_id && id_cap)
        delivered_id[0] = '\0';
    if (!sa_mail_addr_valid(to_addr))
        return sa_err_set(err, SA_EINVAL, "to_addr is not a valid e-mail address");
    if (!msg)
        return sa_err_set(err, SA_EINVAL, "msg is NULL");
    char from[256], mid[SA_MAIL_MSGID_MAX + 2];
    if (s->mail_from)
        snprintf(from, sizeof from, "%s", s->mail_from);
    else if (!header_addr(msg, len, "From", from, sizeof from))
        from[0] = '\0';
    if (!sa_mail_addr_valid(from))
        return sa_err_set(err, SA_EINVAL, "smtp: the message has no usable From address");
    bool has_mid = header_addr(msg, len, "Message-ID", mid + 1, sizeof mid - 2);
    if (has_mid) { /* the id with its angle brackets, as the header has it */
        size_t n = strlen(mid + 1);
        mid[0] = '<';
        memcpy(mid + n + 1, ">", 2);
    }
    if (delivered_id && has_mid && strlen(mid) >= id_cap)
        return sa_err_set(err, SA_EINVAL, "delivered_id needs %zu bytes, has %zu", strlen(mid) + 1,
                          id_cap);
    if (!sa_breaker_allow(&s->breaker)) {
        count(s, "breaker_open", -1);
        return sa_err_set(err, SA_EIO, "smtp: circuit open after repeated failures; not tried");
    }
    struct handle *h = take(s);
    struct curl_slist *rcpt = curl_slist_append(NULL, to_addr);
    if (!h || !rcpt) {
        sa_breaker_record(&s->breaker, true); /* our memory, not the server's fault */
        curl_slist_free_all(rcpt);
        if (h)
            give_back(s, h);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    struct transfer x = {.msg = msg, .len = len};
    CURL *c = h->curl;
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_READDATA, &x);
    curl_easy_setopt(c, CURLOPT_DEBUGDATA, &x);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    uint64_t t0 = sa_now_ns();
    CURLcode cc = perform(c, &x);
    double seconds = (double)(sa_now_ns() - t0) / 1e9;
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, NULL);
    curl_easy_setopt(c, CURLOPT_READDATA, NULL);
    curl_easy_setopt(c, CURLOPT_DEBUGDATA, NULL);
    curl_slist_free_all(rcpt);
    give_back(s, h);
    int rc = 0;
    bool down = false;
    const char *status = NULL;
    if (cc != CURLE_OK)
        rc = classify(cc, code, &x, &down, &status, err);
    sa_breaker_record(&s->breaker, !down);
    char code_text[16];
    snprintf(code_text, sizeof code_text, "%ld", code ? code : 250);
    count(s, status ? status : code_text, seconds);
    if (rc)
        return rc;
    if (delivered_id && id_cap && !queue_id(x.reply, delivered_id, id_cap))
        snprintf(delivered_id, id_cap, "%s", has_mid ? mid : "");
    return 0;
}

static void smtp_free(struct sa_transport *t)
{
    struct smtp *s = (struct smtp *)t;
    for (struct handle *h = s->idle, *next; h; h = next) {
        next = h->next;
        curl_easy_cleanup(h->curl); /* says QUIT on its open connection */
        free(h);
    }
    if (s->pass) /* not left behind in freed memory */
        memset(s->pass, 0, strlen(s->pass));
    free(s->url);
    free(s->user);
    free(s->pass);
    free(s->mail_from);
    free(s->ca_file);
    free(s->login_options);
    sa_breaker_destroy(&s->breaker);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static const char *smtp_breaker(struct sa_transport *t)
{
    return sa_breaker_state_name(sa_breaker_state(&((struct smtp *)t)->breaker));
}

static const struct sa_transport_ops smtp_ops = {
    .name = "smtp",
    .breaker = smtp_breaker,
    .send = smtp_send,
    .free = smtp_free,
};

/* ---- the URL ------------------------------------------------------------------------- */

/* Percent-decodes in[0..n) into a new string; NULL for a bad escape, %00, or no memory. */
static char *pct_decode(const char *in, size_t n)
{
    char *out = calloc(1, n + 1);
    size_t o = 0;
    for (size_t i = 0; out && i < n; i++) {
        if (in[i] != '%') {
            out[o++] = in[i];
            continue;
        }
        char hex[3] = {0};
        if (i + 2 >= n)
            goto bad;
        hex[0] = in[i + 1];
        hex[1] = in[i + 2];
        char *end;
        long v = isxdigit((unsigned char)hex[0]) && isxdigit((unsigned char)hex[1])
                     ? strtol(hex, &end, 16)
                     : 0;
        if (v == 0)
            goto bad;
        out[o++] = (char)v;
        i += 2;
    }
    if (out)
        out[o] = '\0';
    return out;
bad:
    free(out);
    return NULL;
}

static bool host_ok(const char *h, size_t n)
{
    if (n == 0 || n > 255)
        return false;
    if (h[0] == '[') /* an IPv6 literal */
        return n > 2 && h[n - 1] == ']' && strspn(h + 1, "0123456789abcdefABCDEF:.") == n - 2;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)h[i]) && h[i] != '-' && h[i] != '.')
            return false;
    return true;
}

/* The EHLO name: this host's name when it is a plain DNS name, else "localhost". */
static void helo_name(char *out, size_t cap)
{
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    size_t n = strlen(host);
    snprintf(out, cap, "%s", n && host_ok(host, n) ? host : "localhost");
}

/* Applies one parameter KEY=VALUE of the URL's query. */
static int apply_param(struct smtp *s, bool smtps, const char *p, size_t n, char helo[256],
                       struct sa_err *err)
{
    const char *eq = memchr(p, '=', n);
    size_t kl = eq ? (size_t)(eq - p) : n;
    char *v = eq ? pct_decode(eq + 1, n - kl - 1) : NULL;
    int rc = 0;
    if (!v)
        rc = sa_err_set(err, SA_ECONFIG, "MAIL_TRANSPORT: the parameter \"%.*s\" needs a value",
                        (int)(kl < 32 ? kl : 32), p);
    else if (kl == 8 && !strncmp(p, "starttls", kl)) {
        if (smtps || (strcmp(v, "required") != 0 && strcmp(v, "none") != 0))
            rc = sa_err_set(err, SA_ECONFIG,
                            "MAIL_TRANSPORT: starttls= is required or none, and smtp:// only");
        s->starttls = strcmp(v, "required") == 0;
    } else if (kl == 4 && !strncmp(p, "auth", kl)) {
        free(s->login_options); /* the last auth= wins */
        s->login_options = NULL;
        if (strcasecmp(v, "plain") != 0 && strcasecmp(v, "login") != 0)
            rc = sa_err_set(err, SA_ECONFIG, "MAIL_TRANSPORT: auth= is plain or login");
        else if (!(s->login_options =
                       strdup(strcasecmp(v, "plain") == 0 ? "AUTH=PLAIN" : "AUTH=LOGIN")))
            rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    } else if (kl == 6 && !strncmp(p, "cafile", kl)) {
        free(s->ca_file);
        if (!(s->ca_file = strdup(v)))
            rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    } else if (kl == 4 && !strncmp(p, "helo", kl)) {
        if (!host_ok(v, strlen(v)))
            rc = sa_err_set(err, SA_ECONFIG, "MAIL_TRANSPORT: helo= is not a host name");
        else
            snprintf(helo, 256, "%s", v);
    } else
        rc = sa_err_set(err, SA_ECONFIG,
                        "MAIL_TRANSPORT: unknown parameter \"%.*s\" (starttls, auth, cafile, "
                        "helo)",
                        (int)(kl < 32 ? kl : 32), p);
    free(v);
    return rc;
}

/* Parses url into s (the fields the URL and opts decide). Credentials never reach err. */
static int parse_url(struct smtp *s, const char *url, const struct sa_transport_options *o,
                     struct sa_err *err)
{
    bool smtps = strncmp(url, "smtps://", 8) == 0;
    if (!smtps && strncmp(url, "smtp://", 7) != 0)
        return sa_err_set(err, SA_ECONFIG, "MAIL_TRANSPORT: expected smtp:// or smtps://");
    const char *a = url + (smtps ? 8 : 7);
    size_t alen = strcspn(a, "/?#");
    if (a[alen] == '/' && a[alen + 1] != '\0' && a[alen + 1] != '?')
        return sa_err_set(err, SA_ECONFIG, "MAIL_TRANSPORT: an SMTP URL has no path");
    const char *query = strchr(a + alen, '?');
    if (a[alen] == '#')
        return sa_err_set(err, SA_ECONFIG, "MAIL_TRANSPORT: an SMTP URL has no fragment");
    /* userinfo: up to the last '@' (a password may hold an unescaped '@') */
    const char *at = NULL;
    for (const char *p = a; p < a + alen; p++)
        if (*p == '@')
            at = p;
    const char *hp = at ? at + 1 : a;
    if (at) {
        const char *colon = memchr(a, ':', (size_t)(at - a));
        size_t ul = colon ? (size_t)(colon - a) : (size_t)(at - a);
        s->user = pct_decode(a, ul);
        if (colon)
            s->pass = pct_decode(colon + 1, (size_t)(at - colon - 1));
        if (!s->user || (colon && !s->pass) || !s->user[0])
            return sa_err_set(err, SA_ECONFIG,
                              "MAIL_TRANSPORT: the user name or password is not well "
                              "percent-encoded");
    } else if (o && o->smtp_username && o->smtp_username[0]) {
        s->user = strdup(o->smtp_username);
        if (!s->user)
            return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    if (s->user && !s->pass && o && o->smtp_password && !(s->pass = strdup(o->smtp_password)))
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    /* host[:port] */
    size_t hl = (size_t)(a + alen - hp);
    const char *rb = hl && hp[0] == '[' ? memchr(hp, ']', hl) : NULL;
    const char *pc = memchr(rb ? rb : hp, ':', hl - (size_t)((rb ? rb : hp) - hp));
    size_t host_len = pc ? (size_t)(pc - hp) : hl;
    long port = smtps ? 465 : 587;
    if (pc) {
        char *end;
        port = strtol(pc + 1, &end, 10);
        if (end != a + alen || port < 1 || port > 65535)
            return sa_err_set(err, SA_ECONFIG, "MAIL_TRANSPORT: the port should be 1-65535");
    }
    if (!host_ok(hp, host_len))
        return sa_err_set(err, SA_ECONFIG,
                          "MAIL_TRANSPORT: the host is not a host name or "
                          "address");
    s->starttls = !smtps;
    char helo[256];
    helo_name(helo, sizeof helo);
    for (const char *p = query ? query + 1 : NULL; p && *p;) {
        size_t n = strcspn(p, "&");
        int rc = n ? apply_param(s, smtps, p, n, helo, err) : 0;
        if (rc)
            return rc;
        p += n + (p[n] == '&');
    }
    if (!s->ca_file && o && o->smtp_ca_file && o->smtp_ca_file[0] &&
        !(s->ca_file = strdup(o->smtp_ca_file)))
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    if (!smtps && !s->starttls && s->user)
        return sa_err_set(err, SA_ECONFIG,
                          "MAIL_TRANSPORT: starttls=none with credentials would send the "
                          "password in clear (use STARTTLS or smtps://)");
    size_t cap = host_len + strlen(helo) + 32;
    if (!(s->url = malloc(cap)))
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    snprintf(s->url, cap, "%s://%.*s:%ld/%s", smtps ? "smtps" : "smtp", (int)host_len, hp, port,
             helo);
    return 0;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int sa_smtp_open(const char *url, const struct sa_transport_options *o, struct sa_transport **out,
                 struct sa_err *err)
{
    *out = NULL;
    pthread_once(&curl_once, curl_init);
    struct smtp *s = calloc(1, sizeof *s);
    if (!s)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    s->super.ops = &smtp_ops;
    pthread_mutex_init(&s->lock, NULL);
    struct sa_breaker_config bc = {.failure_threshold = o ? o->breaker_failures : 0,
                                   .open_seconds = o ? o->breaker_open_seconds : 0};
    sa_breaker_init(&s->breaker, "smtp", &bc);
    s->connect_ms = o && o->smtp_connect_timeout_ms > 0 ? o->smtp_connect_timeout_ms : 10000;
    s->timeout_ms = o && o->smtp_timeout_ms > 0 ? o->smtp_timeout_ms : 60000;
    s->m_requests = s->m_seconds = s->m_breaker = -1;
    int rc = parse_url(s, url, o, err);
    if (!rc && o && o->smtp_mail_from && o->smtp_mail_from[0]) {
        if (!sa_mail_addr_valid(o->smtp_mail_from))
            rc = sa_err_set(err, SA_ECONFIG, "SMTP_MAIL_FROM is not a valid e-mail address");
        else if (!(s->mail_from = strdup(o->smtp_mail_from)))
            rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    if (rc) {
        smtp_free(&s->super);
        return rc;
    }
    if (o && o->metrics) {
        s->metrics = o->metrics;
        s->m_requests = sa_metrics_register(o->metrics, &m_requests);
        s->m_seconds = sa_metrics_register(o->metrics, &m_seconds);
        s->m_breaker = o->m_breaker;
        const char *v[] = {"smtp"};
        if (s->m_breaker >= 0)
            sa_metrics_set(s->metrics, s->m_breaker, v, 0);
    }
    *out = &s->super;
    return 0;
}
