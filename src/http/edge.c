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
 * from the head only what is due.
 *
 * Lingering close. When the server closes a connection whose client is still sending (a
 * refusal sent before the whole request was read: MHD's own 431 for headers beyond its
 * memory pool, our 413 for a declared body over the cap), close(2) with unread bytes makes
 * the kernel answer with a reset, and a client still writing gets ECONNRESET from its
 * send and never reads the answer waiting for it (curl: "Connection reset by peer"). So,
 * like nginx's lingering_close, a connection closed with unread input is kept a little
 * longer: sa_edge_close dup(2)s its socket (MHD then closes its own descriptor; MHD has
 * removed it from its epoll set before), shuts the writing side (the answer is followed
 * by a FIN) and the watchdog reads and discards what still comes, until the client closes
 * its side, LINGER_BYTES were read or LINGER_NS passed; only then is it closed. At most
 * LINGER_MAX connections linger at once; past that, one is closed at once as before. */
#include "http/edge.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"

enum conn_state { CONN_ARMED, CONN_DISARMED, CONN_SHUT };

struct sa_edge_conn {
    struct sa_edge_conn *prev, *next; /* in the deadline list while ARMED */
    int fd;
    enum conn_state state;
    uint64_t deadline;
};

/* Lingering close (the file comment): at most this many at once, each for at most this
 * long and this many discarded bytes; the watchdog reads them every LINGER_TICK_NS. */
#define LINGER_MAX 256
#define LINGER_NS (2ULL * 1000000000ULL)
#define LINGER_BYTES ((size_t)1 << 20)
#define LINGER_TICK_NS (10ULL * 1000000ULL)

struct lingering {
    int fd; /* our dup of the closed connection's socket */
    uint64_t until;
    size_t left; /* bytes still to discard */
};

struct sa_edge {
    pthread_mutex_t lock; /* guards everything below */
    struct lingering lingering[LINGER_MAX];
    unsigned n_linger;
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

/* ---- lingering close (lock held) ------------------------------------------------------ */

/* The connection on fd is about to be closed: when its client sent bytes nobody read,
 * keep the socket (a dup), its writing side shut, for drain_locked to read out. */
static void linger_start(struct sa_edge *e, int fd)
{
    int pending = 0;
    if (e->n_linger >= LINGER_MAX || ioctl(fd, FIONREAD, &pending) != 0 || pending <= 0)
        return;
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0)
        return;
    int fl = fcntl(d, F_GETFL);
    if (fl < 0 || fcntl(d, F_SETFL, fl | O_NONBLOCK) != 0) {
        close(d);
        return;
    }
    (void)shutdown(d, SHUT_WR); /* the answer already queued goes out, then a FIN */
    e->lingering[e->n_linger++] =
        (struct lingering){.fd = d, .until = e->now() + LINGER_NS, .left = LINGER_BYTES};
    pthread_cond_signal(&e->wake);
}

/* Reads what lingering clients sent (at most 64 KiB each per call) and closes those that
 * closed their side, sent LINGER_BYTES or ran out of time. */
static void drain_locked(struct sa_edge *e)
{
    uint64_t now = e->now();
    char buf[16384];
    for (unsigned i = 0; i < e->n_linger;) {
        struct lingering *l = &e->lingering[i];
        bool done = now >= l->until;
        for (int k = 0; k < 4 && !done; k++) {
            ssize_t n = recv(l->fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                break;
            done = n <= 0 || (size_t)n >= l->left; /* the end, an error, or enough */
            if (n > 0)
                l->left -= done ? l->left : (size_t)n;
        }
        if (done) {
            close(l->fd);
            *l = e->lingering[--e->n_linger];
        } else {
            i++;
        }
    }
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
        drain_locked(e);
        uint64_t wait = e->timeout;
        if (e->head) {
            uint64_t now = e->now();
            wait = e->head->deadline > now ? e->head->deadline - now : 0;
        }
        if (e->n_linger && wait > LINGER_TICK_NS)
            wait = LINGER_TICK_NS;
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
    while (e->n_linger)
        close(e->lingering[--e->n_linger].fd);
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
    if (c->state != CONN_SHUT) /* one the watchdog shut reads nothing more */
        linger_start(e, c->fd);
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
    drain_locked(e);
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
