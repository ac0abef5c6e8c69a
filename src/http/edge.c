/* Connection deadlines and strict path decoding for the HTTP server (see edge.h).
 *
 * Why a watchdog: libmicrohttpd's connection timeout restarts with every byte received,
 * so a client sending one byte every few seconds holds a connection forever, and a few
 * thousand of them lock everyone else out. Here each connection has a deadline that only
 * the server's progress moves: armed when the connection opens and when a response
 * completes (keep-alive), cleared when the request's body is complete (the answer may
 * be a long event stream). A thread shuts the socket of a connection still armed past
 * its deadline; libmicrohttpd sees the socket end and closes it as if the client left.
 * An event stream whose connection is suspended while it waits (http/server.h, parked
 * streams) is disarmed like any answer in progress: the sweep leaves it alone, and it is
 * armed again only when its response completes.
 *
 * The one danger is shutting a descriptor libmicrohttpd already closed and the kernel
 * handed to someone else. libmicrohttpd 0.9.75 reports MHD_CONNECTION_NOTIFY_CLOSED
 * before it closes the socket (daemon.c, MHD_cleanup_connections and the failed-accept
 * path), and sa_edge_close removes the slot under the same lock the sweep holds from
 * its lookup to its shutdown(2), so a slot in the table always names an open socket.
 *
 * Every deadline is "now + the same timeout", so arming appends to the tail of a list
 * that stays sorted by deadline: arm, disarm and close are O(1), and the sweep pops
 * from the head only what is due. */
#include "http/edge.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "base/log.h"

enum conn_state { CONN_ARMED, CONN_DISARMED, CONN_SHUT };

struct sa_edge_conn {
    struct sa_edge_conn *prev, *next; /* in the deadline list while ARMED */
    int fd;
    enum conn_state state;
    uint64_t deadline;
};

struct sa_edge {
    pthread_mutex_t lock;             /* guards everything below */
    pthread_cond_t wake;              /* signalled to stop the watchdog */
    struct sa_edge_conn *head, *tail; /* armed connections, earliest deadline first */
    uint64_t timeout;
    uint64_t expired;
    sa_edge_clock_fn now;
    bool stop;
    bool has_thread;
    pthread_t thread;
};

/* ---- the deadline list (lock held) --------------------------------------------------- */

static void unlink_conn(struct sa_edge *e, struct sa_edge_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        e->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        e->tail = c->prev;
    c->prev = c->next = NULL;
}

static void arm(struct sa_edge *e, struct sa_edge_conn *c)
{
    if (c->state == CONN_ARMED)
        unlink_conn(e, c);
    c->deadline = e->now() + e->timeout;
    c->state = CONN_ARMED;
    c->prev = e->tail;
    c->next = NULL;
    if (e->tail)
        e->tail->next = c;
    else
        e->head = c;
    e->tail = c;
}

static unsigned sweep_locked(struct sa_edge *e)
{
    unsigned n = 0;
    uint64_t now = e->now();
    while (e->head && e->head->deadline <= now) {
        struct sa_edge_conn *c = e->head;
        unlink_conn(e, c);
        c->state = CONN_SHUT;
        (void)shutdown(c->fd, SHUT_RDWR); /* ENOTCONN when the peer already left: fine */
        n++;
    }
    e->expired += n;
    return n;
}

/* ---- the watchdog ------------------------------------------------------------------- */

/* Waits ns on e->wake (lock held), or until signalled. */
static void wait_for(struct sa_edge *e, uint64_t ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t at = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + ns;
    ts.tv_sec = (time_t)(at / 1000000000u);
    ts.tv_nsec = (long)(at % 1000000000u);
    (void)pthread_cond_timedwait(&e->wake, &e->lock, &ts);
}

/* Sleeps until the earliest deadline (at most one timeout: anything armed meanwhile is
 * due no earlier than that), shuts what is due, and logs how many it shut. */
static void *watchdog(void *arg)
{
    struct sa_edge *e = arg;
    pthread_mutex_lock(&e->lock);
    while (!e->stop) {
        unsigned n = sweep_locked(e);
        if (n) {
            pthread_mutex_unlock(&e->lock);
            sa_log(SA_LOG_WARN, "connections closed at their request deadline",
                   json_pack("{s:i, s:f}", "count", (int)n, "request_timeout_seconds",
                             (double)e->timeout / 1e9));
            pthread_mutex_lock(&e->lock);
            continue;
        }
        uint64_t wait = e->timeout;
        if (e->head) {
            uint64_t now = e->now();
            wait = e->head->deadline > now ? e->head->deadline - now : 0;
        }
        if (wait < 1000000u)
            wait = 1000000u; /* 1 ms: a clock step must not make this spin */
        wait_for(e, wait);
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

int sa_edge_new(uint64_t timeout_ns, sa_edge_clock_fn now, int watchdog_on, struct sa_edge **out)
{
    *out = NULL;
    struct sa_edge *e = calloc(1, sizeof *e);
    if (!e)
        return SA_ENOMEM;
    e->timeout = timeout_ns;
    e->now = now;
    pthread_condattr_t ca;
    int rc = SA_EIO;
    if (pthread_condattr_init(&ca) != 0) {
        free(e);
        return SA_EIO;
    }
    bool cond_ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
                   pthread_cond_init(&e->wake, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!cond_ok) {
        free(e);
        return SA_EIO;
    }
    if (pthread_mutex_init(&e->lock, NULL) != 0)
        goto out;
    if (watchdog_on) {
        if (pthread_create(&e->thread, NULL, watchdog, e) != 0) {
            pthread_mutex_destroy(&e->lock);
            goto out;
        }
        e->has_thread = true;
    }
    rc = 0;
out:
    if (rc) {
        pthread_cond_destroy(&e->wake);
        free(e);
        return rc;
    }
    *out = e;
    return 0;
}

void sa_edge_free(struct sa_edge *e)
{
    if (!e)
        return;
    if (e->has_thread) {
        pthread_mutex_lock(&e->lock);
        e->stop = true;
        pthread_cond_signal(&e->wake);
        pthread_mutex_unlock(&e->lock);
        pthread_join(e->thread, NULL);
    }
    SA_ASSERT(e->head == NULL);
    pthread_cond_destroy(&e->wake);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

/* ---- connections -------------------------------------------------------------------- */

struct sa_edge_conn *sa_edge_open(struct sa_edge *e, int fd)
{
    struct sa_edge_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = fd;
    c->state = CONN_DISARMED;
    pthread_mutex_lock(&e->lock);
    arm(e, c);
    pthread_mutex_unlock(&e->lock);
    return c;
}

void sa_edge_close(struct sa_edge *e, struct sa_edge_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&e->lock);
    if (c->state == CONN_ARMED)
        unlink_conn(e, c);
    pthread_mutex_unlock(&e->lock);
    free(c);
}

void sa_edge_disarm(struct sa_edge *e, struct sa_edge_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&e->lock);
    if (c->state == CONN_ARMED) {
        unlink_conn(e, c);
        c->state = CONN_DISARMED;
    }
    pthread_mutex_unlock(&e->lock);
}

void sa_edge_rearm(struct sa_edge *e, struct sa_edge_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&e->lock);
    if (c->state != CONN_SHUT)
        arm(e, c);
    pthread_mutex_unlock(&e->lock);
}

unsigned sa_edge_sweep(struct sa_edge *e)
{
    pthread_mutex_lock(&e->lock);
    unsigned n = sweep_locked(e);
    pthread_mutex_unlock(&e->lock);
    return n;
}

uint64_t sa_edge_expired_total(struct sa_edge *e)
{
    pthread_mutex_lock(&e->lock);
    uint64_t n = e->expired;
    pthread_mutex_unlock(&e->lock);
    return n;
}

/* ---- paths -------------------------------------------------------------------------- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

enum sa_path_verdict sa_edge_decode_path(const char *raw, size_t len, char *out, size_t cap)
{
    out[0] = '\0';
    if (len > SA_EDGE_MAX_PATH || len >= cap)
        return SA_PATH_TOO_LONG;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)raw[i];
        if (ch < 0x20 || ch == 0x7f) {
            out[0] = '\0';
            return SA_PATH_CONTROL;
        }
        if (ch == '%') {
            int hi = i + 1 < len ? hex_value(raw[i + 1]) : -1;
            int lo = i + 2 < len ? hex_value(raw[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                out[0] = '\0';
                return SA_PATH_BAD_ESCAPE;
            }
            ch = (unsigned char)(hi * 16 + lo);
            i += 2;
            if (ch == 0) {
                out[0] = '\0';
                return SA_PATH_NUL;
            }
            if (ch < 0x20 || ch == 0x7f) {
                out[0] = '\0';
                return SA_PATH_CONTROL;
            }
        }
        out[o++] = (char)ch;
    }
    out[o] = '\0';
    return SA_PATH_OK;
}
