/* The IMAP session (see imap.h). libcurl speaks the protocol: the login, SELECT, the
 * literal of a FETCH; this file builds the URLs and custom commands, reads SELECT's
 * UIDVALIDITY and UIDNEXT from the response lines (the header callback), parses SEARCH,
 * maps libcurl's codes to ours and names the mailbox for the poller's cursor. */
#include "connectors/mail/imap.h"

#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"

/* A SEARCH answer of a huge mailbox: 4 MB is about 500,000 UIDs. */
#define SEARCH_MAX_BYTES ((size_t)4 * 1024 * 1024)
#define URL_MAX 2048

struct sa_imap {
    CURL *curl;
    char base[URL_MAX]; /* the mailbox's URL, without a trailing '/' */
    uint32_t uidvalidity, uidnext;
    char errbuf[CURL_ERROR_SIZE];
};

uint32_t sa_imap_resp_code(const char *line, size_t len, const char *key)
{
    size_t klen = strlen(key);
    for (size_t i = 0; i + klen + 2 < len; i++) {
        if (line[i] != '[' || strncasecmp(line + i + 1, key, klen) != 0 ||
            line[i + 1 + klen] != ' ')
            continue;
        unsigned long long v = 0;
        size_t j = i + klen + 2;
        for (; j < len && isdigit((unsigned char)line[j]) && v <= UINT32_MAX; j++)
            v = v * 10 + (unsigned)(line[j] - '0');
        return j < len && line[j] == ']' && v <= UINT32_MAX ? (uint32_t)v : 0;
    }
    return 0;
}

char *sa_imap_mailbox_key(const char *url, const char *user)
{
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    size_t authority = strcspn(host, "/?#");
    const char *at = memchr(host, '@', authority); /* libcurl's split: the first '@' */
    const char *rest = at ? at + 1 : host;
    size_t scheme = (size_t)(host - url);
    size_t user_len = 0;
    if (user) {
        user_len = strlen(user);
    } else if (at) { /* the URL's user: up to its password (':') or login options (';') */
        user = host;
        user_len = strcspn(host, ":;");
        if (user_len > (size_t)(at - host))
            user_len = (size_t)(at - host);
    }
    size_t n = scheme + strlen(rest) + 2 + user_len;
    char *k = malloc(n);
    if (k)
        snprintf(k, n, "%.*s%s %.*s", (int)scheme, url, rest, (int)user_len, user ? user : "");
    return k;
}

/* Every response line reaches here (libcurl's pingpong passes them as "headers"): the
 * untagged OKs of SELECT carry UIDVALIDITY and UIDNEXT. */
static size_t on_line(char *p, size_t size, size_t n, void *arg)
{
    struct sa_imap *im = arg;
    size_t len = size * n;
    if (len > 5 && memcmp(p, "* OK ", 5) == 0) {
        uint32_t v = sa_imap_resp_code(p, len, "UIDVALIDITY");
        if (v)
            im->uidvalidity = v;
        v = sa_imap_resp_code(p, len, "UIDNEXT");
        if (v)
            im->uidnext = v;
    }
    return len;
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct sa_buf *b = arg;
    return sa_buf_append(b, p, size * n) ? 0 : size * n;
}

bool sa_imap_loopback(const char *url)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    /* libcurl's authority ends at '/', '?' or '#': "imap://evil?@localhost/" is evil's */
    size_t authority = strcspn(h, "/?#");
    if (h[authority] && h[authority] != '/')
        return false; /* a search or a fragment before the mailbox: no IMAP URL of ours */
    const char *at = memchr(h, '@', authority);
    if (at) {
        authority -= (size_t)(at + 1 - h);
        h = at + 1;
    }
    static const char *const names[] = {"127.0.0.1", "localhost", "[::1]"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t k = strlen(names[i]);
        if (k <= authority && strncasecmp(h, names[i], k) == 0 && (k == authority || h[k] == ':'))
            return true;
    }
    return false;
}

int sa_imap_open(const struct sa_imap_options *o, struct sa_imap **out, struct sa_err *err)
{
    *out = NULL;
    size_t len = strlen(o->url);
    while (len && o->url[len - 1] == '/')
        len--;
    if (len >= URL_MAX - 64)
        return sa_err_set(err, SA_ECONFIG, "IMAP_URL is too long");
    struct sa_imap *im = calloc(1, sizeof *im);
    if (!im || !(im->curl = curl_easy_init())) {
        free(im);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    memcpy(im->base, o->url, len);
    im->base[len] = '\0';
    CURL *c = im->curl;
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "imap,imaps");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, im->errbuf);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_line);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, im);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    if (o->user)
        curl_easy_setopt(c, CURLOPT_USERNAME, o->user);
    if (o->password)
        curl_easy_setopt(c, CURLOPT_PASSWORD, o->password);
    /* credentials never cross the network in clear, except over the loopback interface */
    if (strncasecmp(o->url, "imap://", 7) == 0)
        curl_easy_setopt(c, CURLOPT_USE_SSL,
                         sa_imap_loopback(o->url) ? (long)CURLUSESSL_TRY : (long)CURLUSESSL_ALL);
    *out = im;
    return 0;
}

void sa_imap_close(struct sa_imap *im)
{
    if (!im)
        return;
    curl_easy_cleanup(im->curl);
    free(im);
}

uint32_t sa_imap_uidvalidity(const struct sa_imap *im)
{
    return im->uidvalidity;
}

uint32_t sa_imap_uidnext(const struct sa_imap *im)
{
    return im->uidnext;
}

/* Runs one command on url (custom: an IMAP command, NULL: a FETCH named by the URL),
 * its data into b. Maps libcurl's code; missing is what CURLE_REMOTE_FILE_NOT_FOUND
 * means here (SA_ENOTFOUND or SA_ECONFIG). */
static int perform(struct sa_imap *im, const char *url, const char *custom, struct sa_buf *b,
                   int missing, struct sa_err *err)
{
    CURL *c = im->curl;
    im->errbuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, custom);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_OK)
        return 0;
    const char *why = im->errbuf[0] ? im->errbuf : curl_easy_strerror(cc);
    switch (cc) {
    case CURLE_WRITE_ERROR:
        return sa_err_set(err, SA_ETOOBIG, "IMAP: the answer is larger than %zu bytes", b->cap);
    case CURLE_OPERATION_TIMEDOUT: return sa_err_set(err, SA_ETIMEDOUT, "IMAP: %s", why);
    case CURLE_LOGIN_DENIED:
        return sa_err_set(err, SA_ECONFIG,
                          "IMAP: the server refused the login (IMAP_USER, "
                          "IMAP_PASSWORD)");
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE: return sa_err_set(err, SA_ECONFIG, "IMAP: TLS: %s", why);
    case CURLE_QUOTE_ERROR: /* a custom command answered NO or BAD */
        return sa_err_set(err, SA_EINVAL, "IMAP: the server refused the command: %s", why);
    case CURLE_REMOTE_FILE_NOT_FOUND:
        return sa_err_set(err, missing, "IMAP: %s",
                          missing == SA_ENOTFOUND ? "no such message (expunged, or the "
                                                    "mailbox's UIDVALIDITY changed)"
                                                  : "no such mailbox");
    default: return sa_err_set(err, SA_EIO, "IMAP: %s", why);
    }
}

/* The numbers of every "* SEARCH" line of text[0..len), appended to *uids. */
static int parse_lines(const char *text, size_t len, uint32_t **uids, size_t *n, struct sa_err *err)
{
    size_t cap = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *stop = eol ? eol : end;
        if (stop - p >= 8 && strncasecmp(p, "* SEARCH", 8) == 0 &&
            (stop - p == 8 || p[8] == ' ' || p[8] == '\r')) {
            for (const char *q = p + 8; q < stop;) {
                while (q < stop && (*q == ' ' || *q == '\r'))
                    q++;
                if (q >= stop || !isdigit((unsigned char)*q))
                    break; /* "(MODSEQ n)" and the like: no more UIDs */
                unsigned long long v = 0;
                while (q < stop && isdigit((unsigned char)*q) && v <= UINT32_MAX)
                    v = v * 10 + (unsigned)(*q++ - '0');
                if (v == 0 || v > UINT32_MAX)
                    return sa_err_set(err, SA_EIO, "IMAP: a SEARCH answer with a bad UID");
                if (*n == cap) {
                    cap = cap ? 2 * cap : 64;
                    uint32_t *grown = realloc(*uids, (size_t)cap * sizeof **uids);
                    if (!grown)
                        return sa_err_set(err, SA_ENOMEM, "out of memory");
                    *uids = grown;
                }
                (*uids)[(*n)++] = (uint32_t)v;
            }
        }
        p = stop + 1;
    }
    return 0;
}

static int cmp_uid(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

int sa_imap_parse_search(const char *text, size_t len, uint32_t **uids, size_t *n,
                         struct sa_err *err)
{
    *uids = NULL;
    *n = 0;
    int rc = parse_lines(text, len, uids, n, err);
    if (rc) {
        free(*uids);
        *uids = NULL;
        *n = 0;
    } else if (*n > 1) {
        qsort(*uids, *n, sizeof **uids, cmp_uid);
    }
    return rc;
}

int sa_imap_search(struct sa_imap *im, const char *criteria, uint32_t **uids, size_t *n,
                   struct sa_err *err)
{
    *uids = NULL;
    *n = 0;
    char cmd[256];
    if ((size_t)snprintf(cmd, sizeof cmd, "UID SEARCH %s", criteria) >= sizeof cmd)
        return sa_err_set(err, SA_EINVAL, "IMAP: search criteria too long");
    struct sa_buf b;
    sa_buf_init(&b, SEARCH_MAX_BYTES);
    int rc = perform(im, im->base, cmd, &b, SA_ECONFIG, err);
    if (!rc)
        rc = sa_imap_parse_search(b.data ? b.data : "", b.len, uids, n, err);
    sa_buf_free(&b);
    return rc;
}

int sa_imap_fetch(struct sa_imap *im, uint32_t uidvalidity, uint32_t uid, struct sa_buf *out,
                  struct sa_err *err)
{
    sa_buf_reset(out);
    char url[URL_MAX];
    if (uidvalidity)
        snprintf(url, sizeof url, "%s;UIDVALIDITY=%u/;UID=%u", im->base, uidvalidity, uid);
    else
        snprintf(url, sizeof url, "%s/;UID=%u", im->base, uid);
    return perform(im, url, NULL, out, SA_ENOTFOUND, err);
}

int sa_imap_store(struct sa_imap *im, uint32_t uid, const char *op, struct sa_err *err)
{
    char cmd[256];
    if ((size_t)snprintf(cmd, sizeof cmd, "UID STORE %u %s", uid, op) >= sizeof cmd)
        return sa_err_set(err, SA_EINVAL, "IMAP: flags too long");
    struct sa_buf b;
    sa_buf_init(&b, (size_t)64 * 1024);
    int rc = perform(im, im->base, cmd, &b, SA_ECONFIG, err);
    sa_buf_free(&b);
    return rc;
}
