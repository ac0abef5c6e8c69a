/* The in-process run queue (see queue.h): a FIFO of run ids and, per run, its event text
 * and cancel flag, for one process. The default when REDIS_URL is empty.
 *
 * One mutex guards everything; `queued` wakes takers and `events` wakes readers. The runs
 * whose events are kept form a ring of LOGS_KEPT entries: the oldest is dropped when a new
 * run needs a slot, so memory stays bounded; a reader of a dropped run sees its end.
 * Nothing is ever redelivered: a process that dies takes its queue with it, and the runs
 * service queues the store's unfinished runs again at the next start (durable = false). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "store/queue.h"

#define LOGS_KEPT 1024
#define LOG_MAX ((size_t)16 << 20) /* a run's event text */

struct mlog {
    char id[40];
    struct sa_buf text;
    bool ended, cancelled;
};

struct mnode {
    char id[40];
    struct mnode *next;
};

struct mqueue {
    struct sa_queue super;
    pthread_mutex_t lock;
    pthread_cond_t queued, events;
    struct mnode *head, *tail;
    struct mlog *logs[LOGS_KEPT];
    size_t nlogs; /* ever added; slot = n % LOGS_KEPT */
};

/* The log of id, or NULL. Caller holds the lock. */
static struct mlog *find(struct mqueue *m, const char *id)
{
    for (size_t k = 0; k < LOGS_KEPT; k++)
        if (m->logs[k] && strcmp(m->logs[k]->id, id) == 0)
            return m->logs[k];
    return NULL;
}

static void log_free(struct mlog *l)
{
    if (!l)
        return;
    sa_buf_free(&l->text);
    free(l);
}

/* The log of id, added (dropping the oldest) when missing; NULL when out of memory.
 * Caller holds the lock. */
static struct mlog *get(struct mqueue *m, const char *id)
{
    struct mlog *l = find(m, id);
    if (l)
        return l;
    if (!(l = calloc(1, sizeof *l)))
        return NULL;
    snprintf(l->id, sizeof l->id, "%s", id);
    sa_buf_init(&l->text, LOG_MAX);
    size_t slot = m->nlogs++ % LOGS_KEPT;
    log_free(m->logs[slot]);
    m->logs[slot] = l;
    return l;
}

/* now + ms on CLOCK_REALTIME, for pthread_cond_timedwait (a real-time wait, not business
 * time). */
static struct timespec deadline(int ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static int m_submit(struct sa_queue *q, const char *run_id, struct sa_err *err)
{
    struct mqueue *m = (struct mqueue *)q;
    struct mnode *n = calloc(1, sizeof *n);
    if (!n)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    snprintf(n->id, sizeof n->id, "%s", run_id);
    pthread_mutex_lock(&m->lock);
    int rc = get(m, run_id) ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
    if (!rc) {
        if (m->tail)
            m->tail->next = n;
        else
            m->head = n;
        m->tail = n;
        pthread_cond_signal(&m->queued);
    }
    pthread_mutex_unlock(&m->lock);
    if (rc)
        free(n);
    return rc;
}

static int m_take(struct sa_queue *q, int wait_ms, struct sa_queue_delivery *d, struct sa_err *err)
{
    struct mqueue *m = (struct mqueue *)q;
    *d = (struct sa_queue_delivery){0};
    struct timespec until = deadline(wait_ms);
    pthread_mutex_lock(&m->lock);
    while (!m->head)
        if (pthread_cond_timedwait(&m->queued, &m->lock, &until) != 0)
            break;
    struct mnode *n = m->head;
    if (n) {
        m->head = n->next;
        if (!m->head)
            m->tail = NULL;
    }
    pthread_mutex_unlock(&m->lock);
    if (!n)
        return sa_err_set(err, SA_ETIMEDOUT, "no run queued");
    snprintf(d->run_id, sizeof d->run_id, "%s", n->id);
    free(n);
    return 0;
}

static int m_ack(struct sa_queue *q, const struct sa_queue_delivery *d, struct sa_err *err)
{
    (void)q; /* taken is gone: nothing redelivers it */
    (void)d;
    (void)err;
    return 0;
}

static int m_publish(struct sa_queue *q, const char *run_id, const char *text, size_t len,
                     struct sa_err *err)
{
    struct mqueue *m = (struct mqueue *)q;
    pthread_mutex_lock(&m->lock);
    struct mlog *l = get(m, run_id);
    int rc =
        !l ? sa_err_set(err, SA_ENOMEM, "out of memory")
        : sa_buf_append(&l->text, text, len) != 0
            ? sa_err_set(err, SA_ETOOBIG, "run %s: its events passed %zu bytes", run_id, LOG_MAX)
            : 0;
    pthread_cond_broadcast(&m->events);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static int m_end(struct sa_queue *q, const char *run_id, struct sa_err *err)
{
    struct mqueue *m = (struct mqueue *)q;
    pthread_mutex_lock(&m->lock);
    struct mlog *l = get(m, run_id);
    if (l)
        l->ended = true;
    pthread_cond_broadcast(&m->events);
    pthread_mutex_unlock(&m->lock);
    return l ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}

static int m_read(struct sa_queue *q, const char *run_id, char pos[SA_QUEUE_POS_LEN], int wait_ms,
                  struct sa_buf *out, bool *ended, struct sa_err *err)
{
    struct mqueue *m = (struct mqueue *)q;
    *ended = false;
    char *end = NULL;
    unsigned long long off = pos[0] ? strtoull(pos, &end, 10) : 0;
    if (pos[0] && *end != '\0')
        return sa_err_set(err, SA_EINVAL, "bad event position \"%.40s\"", pos);
    pthread_mutex_lock(&m->lock);
    struct mlog *l = find(m, run_id);
    int rc = 0;
    if (!l && wait_ms == 0 && off == 0) {
        rc = sa_err_set(err, SA_ENOTFOUND, "no events for run %s", run_id);
        goto out;
    }
    if (!l && off == 0 && !(l = get(m, run_id))) { /* a reader ahead of the run's start */
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
        goto out;
    }
    if (!l) { /* dropped from the ring while being read: nothing more will come */
        *ended = true;
        goto out;
    }
    if (wait_ms > 0 && l->text.len <= off && !l->ended) {
        struct timespec until = deadline(wait_ms);
        /* the ring may drop l while we wait: look it up again after each wake */
        while ((l = find(m, run_id)) && l->text.len <= off && !l->ended)
            if (pthread_cond_timedwait(&m->events, &m->lock, &until) != 0)
                break;
        if (!l) {
            *ended = true;
            goto out;
        }
    }
    size_t room = out->max > out->len ? out->max - out->len : 0;
    size_t have = l->text.len > off ? l->text.len - (size_t)off : 0;
    size_t take = have < room ? have : room;
    if (take && (rc = sa_buf_append(out, l->text.data + off, take)) != 0) {
        rc = sa_err_set(err, rc, "out of memory");
        goto out;
    }
    off += take;
    snprintf(pos, SA_QUEUE_POS_LEN, "%llu", off);
    *ended = l->ended && off >= l->text.len;
out:
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* Whether run_id has something after pos: events, its end, or its log was dropped from
 * the ring while read (a read then reports the end). Caller holds the lock. */
static bool has_news(struct mqueue *m, const char *run_id, const char *pos)
{
    unsigned long long off = pos[0] ? strtoull(pos, NULL, 10) : 0;
    struct mlog *l = find(m, run_id);
    if (!l)
        return off > 0;
    return l->text.len > off || l->ended;
}

static int m_wait(struct sa_queue *q, int n, const char *const *run_ids, const char *const *poss,
                  int wait_ms, bool *ready, struct sa_err *err)
{
    (void)err;
    struct mqueue *m = (struct mqueue *)q;
    struct timespec until = deadline(wait_ms);
    bool any = false;
    pthread_mutex_lock(&m->lock);
    /* one wait: a publish to any run wakes it, and the caller looks again */
    for (int pass = 0; pass < 2 && !any; pass++) {
        for (int i = 0; i < n; i++)
            any |= ready[i] = has_news(m, run_ids[i], poss[i]);
        if (!any && pass == 0 && wait_ms > 0)
            (void)pthread_cond_timedwait(&m->events, &m->lock, &until);
    }
    pthread_mutex_unlock(&m->lock);
    return 0;
}

static int m_cancel(struct sa_queue *q, const char *run_id, struct sa_err *err)
{
    struct mqueue *m = (struct mqueue *)q;
    pthread_mutex_lock(&m->lock);
    struct mlog *l = get(m, run_id);
    if (l)
        l->cancelled = true;
    pthread_mutex_unlock(&m->lock);
    return l ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}

static int m_cancelled(struct sa_queue *q, const char *run_id, bool *yes, struct sa_err *err)
{
    (void)err;
    struct mqueue *m = (struct mqueue *)q;
    pthread_mutex_lock(&m->lock);
    struct mlog *l = find(m, run_id);
    *yes = l && l->cancelled;
    pthread_mutex_unlock(&m->lock);
    return 0;
}

static void m_free(struct sa_queue *q)
{
    struct mqueue *m = (struct mqueue *)q;
    while (m->head) {
        struct mnode *n = m->head;
        m->head = n->next;
        free(n);
    }
    for (size_t k = 0; k < LOGS_KEPT; k++)
        log_free(m->logs[k]);
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->queued);
    pthread_cond_destroy(&m->events);
    free(m);
}

static const struct sa_queue_ops memory_ops = {
    .name = "memory",
    .durable = false,
    .submit = m_submit,
    .take = m_take,
    .ack = m_ack,
    .publish = m_publish,
    .end = m_end,
    .read = m_read,
    .wait = m_wait,
    .cancel = m_cancel,
    .cancelled = m_cancelled,
    .free = m_free,
};

struct sa_queue *sa_queue_memory_new(void)
{
    struct mqueue *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->super.ops = &memory_ops;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->queued, NULL);
    pthread_cond_init(&m->events, NULL);
    return &m->super;
}
