/* The IMAP poller (see imap_poller.h).
 *
 * Why a UID cursor and not \Seen alone: libcurl fetches with BODY[], which makes the server
 * set \Seen as it sends the message, before we have stored anything; and a person reading
 * the mailbox in a mail client sets \Seen too. So what the poller has done is the pair
 * (UIDVALIDITY, last UID) in the store (mailbox_claim / mailbox_advance), and each poll asks
 * for "UID last+1:*". A message is done when the inbound service has recorded it and we
 * have set \Seen on it; only then does the cursor move past it. A crash anywhere before
 * that leaves the cursor behind the message, so the next poll fetches it again and the
 * service's Message-ID claim answers "duplicate": the effect happens once.
 *
 * The first poll of a mailbox (no cursor yet, or a new UIDVALIDITY: the server renumbered
 * the mailbox) takes the messages not \Seen and not rejected, then puts the cursor at
 * UIDNEXT - 1 (or the last UID it did, when higher), so old read mail is not imported and
 * nothing that arrives meanwhile is missed. There the fetch's \Seen would hide a message
 * the poll failed to finish from the next poll's search, so it is taken off again at once
 * (unsee; libcurl cannot fetch with BODY.PEEK[]). Left: a crash, or a connection lost,
 * between that fetch and the message being recorded leaves it \Seen and never read.
 *
 * A message the service refuses (unreadable: the pipe's EX_DATAERR, or larger than the
 * inbound cap) gets the keyword $SalesAgentRejected and loses \Seen again, so a person sees
 * it unread in the mailbox; the cursor moves past it, so it is never retried. A temporary
 * failure of the service (the store, a busy thread) ends the poll with the cursor before
 * the message, which the next poll retries. A failure to talk to the server (connect, login,
 * a lost connection, a timeout) is a failed poll: the next waits twice as long each time
 * (the poll interval, doubled, at most 15 minutes), and /health reports it under
 * backends.imap (reported, not degraded: replies wait in the mailbox).
 *
 * Several processes with one DATABASE_URL: the cursor row carries a lease (5 minutes of
 * real time, renewed at each poll and message, ended when the poller stops); a process
 * that finds another's live lease stays on standby and tries again at its next poll, so
 * one polls at a time and another takes over within the lease when the holder dies.
 * Stopping ends a batch between two messages, not after all of them. */
#include "app/imap_poller.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/app.h"
#include "app/inbound.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/uuid.h"
#include "connectors/mail/imap.h"
#include "connectors/mail/mime.h"
#include "metrics/metrics.h"
#include "store/store.h"

#define LEASE_MS (300LL * 1000)
#define BATCH 100         /* messages a poll takes at most; the next poll goes on */
#define BACKOFF_MAX_S 900 /* a failing server is tried at least every 15 minutes */
#define TICK_MS 1000      /* how often the thread reads the clock (real time) */
#define CONNECT_TIMEOUT_MS 10000L
#define COMMAND_TIMEOUT_MS 120000L

struct sa_imap_poller {
    struct sa_app *app;
    struct sa_imap_options opts;
    char *mailbox;           /* the cursor's key (sa_imap_mailbox_key): URL, user, no password */
    char owner[SA_UUID_LEN]; /* this process's lease id */
    int poll_seconds;
    int m_requests;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock; /* guards what follows */
    pthread_cond_t cond;
    bool stop;
    bool standby;
    int failures;   /* consecutive failed polls */
    double next_at; /* business clock */
    char last_ok[SA_ISO8601_LEN];
    char last_error[160];
};

enum poll_outcome { POLL_DONE, POLL_STANDBY, POLL_FAILED, POLL_RETRY };

/* connector_requests_total{connector="imap",status}: shared with the other connectors
 * (the family registered first under the name is returned) */
static const struct sa_metric_desc m_requests = {
    "connector_requests_total",
    "Calls to external services by connector and outcome (IMAP: ok, error, timeout, refused).",
    SA_COUNTER,
    {"connector", "status", NULL},
    NULL,
    0};

static void count(struct sa_imap_poller *p, int rc)
{
    if (!p->app->metrics || p->m_requests < 0)
        return;
    const char *v[] = {"imap", rc == 0                               ? "ok"
                               : rc == SA_ETIMEDOUT                  ? "timeout"
                               : rc == SA_ECONFIG || rc == SA_EINVAL ? "refused"
                               : rc == SA_ENOTFOUND ? "ok" /* the server answered */
                                                    : "error"};
    sa_metrics_add(p->app->metrics, p->m_requests, v, 1);
}

static long long real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long num(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* The store records that the poller is done with uid. ECONFLICT: another process took the
 * mailbox over. */
static int advance(struct sa_imap_poller *p, uint32_t uidvalidity, uint32_t uid, struct sa_err *err)
{
    return sa_store_mailbox_advance(p->app->store, p->mailbox, p->owner, uidvalidity, uid,
                                    real_ms() + LEASE_MS, err);
}

/* Renews the lease without moving the cursor (a first poll's messages: its cursor is
 * written at the end). ECONFLICT: another process took the mailbox over. */
static int renew(struct sa_imap_poller *p, struct sa_err *err)
{
    json_t *cur = NULL;
    long long now = real_ms();
    int rc =
        sa_store_mailbox_claim(p->app->store, p->mailbox, p->owner, now, now + LEASE_MS, &cur, err);
    json_decref(cur);
    return rc;
}

/* Hands one fetched message to the inbound service and marks it on the server. Returns 0
 * (done: stored, or refused and flagged), POLL_FAILED's or POLL_RETRY's cause through
 * *outcome with err. */
static int deliver(struct sa_imap_poller *p, struct sa_imap *im, uint32_t uid,
                   const struct sa_buf *raw, bool too_big, enum poll_outcome *outcome,
                   struct sa_err *err)
{
    json_t *out = NULL;
    struct sa_err ierr = {0};
    int rc = too_big
                 ? sa_err_set(&ierr, SA_ETOOBIG, "the message is larger than %zu bytes", raw->cap)
                 : sa_app_inbound(p->app, raw->data ? raw->data : "", raw->len, &out, &ierr);
    if (rc && rc != SA_EINVAL && rc != SA_ETOOBIG) { /* the store, a busy thread: later */
        *outcome = POLL_RETRY;
        return sa_err_set(err, rc, "inbound: %s", ierr.msg);
    }
    if (!rc) {
        sa_log(SA_LOG_INFO, "imap: message processed",
               json_pack("{s:i, s:O*, s:O*, s:O*}", "uid", (json_int_t)uid, "kind",
                         json_object_get(out, "kind"), "message_id",
                         json_object_get(out, "message_id"), "duplicate",
                         json_object_get(out, "duplicate")));
        json_decref(out);
        rc = sa_imap_store(im, uid, "+FLAGS (\\Seen)", err);
    } else {
        sa_log(SA_LOG_WARN, "imap: message refused; flagged " SA_IMAP_REJECTED_KEYWORD,
               json_pack("{s:i, s:s}", "uid", (json_int_t)uid, "error", ierr.msg));
        rc = sa_imap_store(im, uid, "+FLAGS (" SA_IMAP_REJECTED_KEYWORD ")", err);
        if (rc == SA_EINVAL) { /* no keywords in this mailbox: unread is the mark left */
            sa_log(SA_LOG_WARN,
                   "imap: the mailbox takes no keyword; the refused message is "
                   "only left unread",
                   json_pack("{s:i, s:s}", "uid", (json_int_t)uid, "error", err->msg));
            rc = 0;
        }
        if (!rc) /* the fetch set \Seen: a person should see it unread */
            rc = sa_imap_store(im, uid, "-FLAGS (\\Seen)", err);
    }
    count(p, rc);
    /* A NO to a flag (a read-only mailbox, an ACL) is the server's policy, not an outage:
     * the message is done all the same (the cursor, not a flag, says so), so the poll goes
     * on instead of retrying it forever. */
    if (rc == SA_EINVAL) {
        sa_log(SA_LOG_WARN, "imap: the server refused to flag a message; it is done anyway",
               json_pack("{s:i, s:s}", "uid", (json_int_t)uid, "error", err->msg));
        return 0;
    }
    if (rc)
        *outcome = POLL_FAILED;
    return rc;
}

/* A first poll finds its messages by UNSEEN, not by the cursor, and the fetch set \Seen:
 * a message the poll failed to finish is made unseen again, so the next poll's search
 * finds it (best effort: with the connection lost, this fails too, and the message stays
 * \Seen: see the header comment). */
static void unsee(struct sa_imap_poller *p, struct sa_imap *im, uint32_t uid)
{
    struct sa_err e = {0};
    int rc = sa_imap_store(im, uid, "-FLAGS (\\Seen)", &e);
    count(p, rc);
    if (rc)
        sa_log(SA_LOG_ERROR,
               "imap: a message the first poll did not finish is left \\Seen; it will not be "
               "read again (mark it unread to have it read)",
               json_pack("{s:i, s:s}", "uid", (json_int_t)uid, "error", e.msg));
}

static bool stopping(struct sa_imap_poller *p)
{
    pthread_mutex_lock(&p->lock);
    bool stop = p->stop;
    pthread_mutex_unlock(&p->lock);
    return stop;
}

/* Fetches and delivers uids[0..n) in order, renewing the lease after each message. fresh:
 * a first poll (the cursor moves at the end, see above); else the cursor moves after each
 * message. The poller stopping (SIGTERM) ends the batch between two messages: *stopped. */
static int take(struct sa_imap_poller *p, struct sa_imap *im, uint32_t uidvalidity,
                const uint32_t *uids, size_t n, bool fresh, uint32_t *done, bool *stopped,
                enum poll_outcome *outcome, struct sa_err *err)
{
    struct sa_buf raw;
    sa_buf_init(&raw, SA_MIME_MAX_BYTES);
    int rc = 0;
    *stopped = false;
    for (size_t i = 0; i < n && !rc; i++) {
        if (i > 0 && (*stopped = stopping(p)))
            break;
        rc = sa_imap_fetch(im, uidvalidity, uids[i], &raw, err);
        count(p, rc);
        if (rc == SA_ENOTFOUND) { /* expunged meanwhile: nothing to do */
            rc = 0;
        } else if (!rc || rc == SA_ETOOBIG) {
            rc = deliver(p, im, uids[i], &raw, rc == SA_ETOOBIG, outcome, err);
        } else {
            *outcome = POLL_FAILED;
        }
        if (rc && fresh)
            unsee(p, im, uids[i]);
        if (!rc) {
            *done = uids[i];
            /* the lease is renewed per message in both modes: a batch of model calls can
             * outlast it */
            if ((rc = fresh ? renew(p, err) : advance(p, uidvalidity, uids[i], err)))
                *outcome = rc == SA_ECONFLICT ? POLL_STANDBY : POLL_RETRY;
        }
    }
    sa_buf_free(&raw);
    return rc;
}

static int poll_once(struct sa_imap_poller *p, enum poll_outcome *outcome, struct sa_err *err)
{
    *outcome = POLL_RETRY;
    json_t *cur = NULL;
    long long now = real_ms();
    int rc =
        sa_store_mailbox_claim(p->app->store, p->mailbox, p->owner, now, now + LEASE_MS, &cur, err);
    if (rc) {
        if (rc == SA_ECONFLICT)
            *outcome = POLL_STANDBY;
        return rc;
    }
    uint32_t known_validity = (uint32_t)num(cur, "uidvalidity");
    uint32_t last = (uint32_t)num(cur, "last_uid");
    json_decref(cur);
    struct sa_imap *im = NULL;
    uint32_t *uids = NULL;
    size_t n = 0;
    if ((rc = sa_imap_open(&p->opts, &im, err)))
        return rc;
    char criteria[64];
    snprintf(criteria, sizeof criteria, "UID %u:*", last + 1);
    bool fresh = known_validity == 0;
    rc = sa_imap_search(im, fresh ? "UNSEEN NOT KEYWORD " SA_IMAP_REJECTED_KEYWORD : criteria,
                        &uids, &n, err);
    count(p, rc);
    uint32_t validity = rc ? 0 : sa_imap_uidvalidity(im);
    if (!rc && !validity) /* RFC 3501 requires it on SELECT: without it no cursor holds */
        rc = sa_err_set(err, SA_EIO, "IMAP: the server announced no UIDVALIDITY");
    if (!rc && !fresh && validity != known_validity) {
        sa_log(SA_LOG_WARN, "imap: the mailbox's UIDVALIDITY changed; reading its unseen mail",
               json_pack("{s:I, s:I}", "was", (json_int_t)known_validity, "now",
                         (json_int_t)validity));
        free(uids);
        uids = NULL;
        fresh = true;
        rc = sa_imap_search(im, "UNSEEN NOT KEYWORD " SA_IMAP_REJECTED_KEYWORD, &uids, &n, err);
        count(p, rc);
    }
    if (rc) {
        *outcome = POLL_FAILED;
        goto out;
    }
    size_t first = 0; /* "UID 7:*" answers the last message even when it is below 7 */
    while (!fresh && first < n && uids[first] <= last)
        first++;
    size_t take_n = n - first < BATCH ? n - first : BATCH;
    uint32_t done = 0;
    bool stopped = false;
    rc = take(p, im, validity, uids + first, take_n, fresh, &done, &stopped, outcome, err);
    /* every unseen message done (none left for a later poll, none left by a stop): the
     * cursor starts */
    if (!rc && fresh && take_n == n && !stopped) {
        uint32_t next = sa_imap_uidnext(im);
        uint32_t start = next > 0 && next - 1 > done ? next - 1 : done;
        if ((rc = advance(p, validity, start, err)))
            *outcome = rc == SA_ECONFLICT ? POLL_STANDBY : POLL_RETRY;
    }
    if (!rc)
        *outcome = POLL_DONE;
out:
    free(uids);
    sa_imap_close(im);
    return rc;
}

/* After a failed poll: the interval doubled per failure, within BACKOFF_MAX_S. */
static double backoff_seconds(int poll_seconds, int failures)
{
    double d = poll_seconds;
    for (int i = 1; i < failures && d < BACKOFF_MAX_S; i++)
        d *= 2;
    double cap = poll_seconds > BACKOFF_MAX_S ? poll_seconds : BACKOFF_MAX_S;
    return d < cap ? d : cap;
}

static void run_poll(struct sa_imap_poller *p)
{
    struct sa_err err = {0};
    enum poll_outcome outcome;
    int rc = poll_once(p, &outcome, &err);
    pthread_mutex_lock(&p->lock);
    p->standby = outcome == POLL_STANDBY;
    double wait = p->poll_seconds;
    if (outcome == POLL_FAILED) {
        p->failures++;
        snprintf(p->last_error, sizeof p->last_error, "%s", err.msg);
        wait = backoff_seconds(p->poll_seconds, p->failures);
    } else if (outcome == POLL_DONE) {
        /* a failure of ours (POLL_RETRY) says nothing about the server */
        p->failures = 0;
        sa_iso8601_now(p->last_ok);
    }
    p->next_at = sa_wall_seconds() + wait;
    int failures = p->failures;
    pthread_mutex_unlock(&p->lock);
    if (rc && outcome != POLL_STANDBY)
        sa_log(outcome == POLL_FAILED ? SA_LOG_WARN : SA_LOG_ERROR, "imap: poll failed",
               json_pack("{s:s, s:i, s:f}", "error", err.msg, "failures", failures,
                         "next_in_seconds", wait));
}

static void *worker(void *arg)
{
    struct sa_imap_poller *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        bool stop = p->stop;
        bool due = sa_wall_seconds() >= p->next_at;
        if (!stop && !due) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (long)TICK_MS * 1000000L;
            ts.tv_sec += ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&p->cond, &p->lock, &ts);
            stop = p->stop;
        }
        pthread_mutex_unlock(&p->lock);
        if (stop)
            return NULL;
        if (due)
            run_poll(p);
    }
}

int sa_imap_poller_start(struct sa_app *app, struct sa_imap_poller **out, struct sa_err *err)
{
    *out = NULL;
    const struct sa_config *cfg = &app->cfg;
    struct sa_imap_poller *p = calloc(1, sizeof *p);
    if (!p)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    p->app = app;
    p->opts = (struct sa_imap_options){
        .url = cfg->imap_url,
        .user = cfg->imap_user,
        .password = cfg->imap_password,
        .connect_timeout_ms = CONNECT_TIMEOUT_MS,
        .timeout_ms = COMMAND_TIMEOUT_MS,
    };
    p->poll_seconds = cfg->imap_poll_seconds > 0 ? cfg->imap_poll_seconds : 60;
    p->m_requests = app->metrics ? sa_metrics_register(app->metrics, &m_requests) : -1;
    sa_uuid_v4(p->owner);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->mailbox = sa_imap_mailbox_key(cfg->imap_url, cfg->imap_user);
    if (!p->mailbox || pthread_create(&p->thread, NULL, worker, p) != 0) {
        sa_imap_poller_stop(p);
        return sa_err_set(err, SA_ENOMEM, "cannot start the IMAP poller");
    }
    p->started = true;
    app->imap = p;
    *out = p;
    return 0;
}

void sa_imap_poller_stop(struct sa_imap_poller *p)
{
    if (!p)
        return;
    if (p->started) {
        pthread_mutex_lock(&p->lock);
        p->stop = true;
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->thread, NULL);
        /* the lease ends now, so a restart (or another instance) polls at once */
        struct sa_err err = {0};
        json_t *cur = NULL;
        long long now = real_ms();
        if (sa_store_mailbox_claim(p->app->store, p->mailbox, p->owner, now, now, &cur, &err) &&
            err.code != SA_ECONFLICT)
            sa_log(SA_LOG_WARN, "imap: the mailbox's lease was not released",
                   json_pack("{s:s}", "error", err.msg));
        json_decref(cur);
        if (p->app->imap == p)
            p->app->imap = NULL;
    }
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p->mailbox);
    free(p);
}

void sa_imap_poller_status(struct sa_imap_poller *p, char *detail, size_t cap)
{
    pthread_mutex_lock(&p->lock);
    char next[SA_ISO8601_LEN];
    sa_iso8601_format((time_t)p->next_at, next);
    if (p->failures)
        snprintf(detail, cap, "backing off: %d failed poll%s (%s); next at %s", p->failures,
                 p->failures == 1 ? "" : "s", p->last_error, next);
    else if (p->standby)
        snprintf(detail, cap, "standby: another process polls the mailbox");
    else if (p->last_ok[0])
        snprintf(detail, cap, "ok, last poll %s", p->last_ok);
    else
        snprintf(detail, cap, "starting");
    pthread_mutex_unlock(&p->lock);
}
