/* The in-process checkpoint saver: records per thread in creation order, behind one
 * mutex. Lookups scan a thread's records from the newest, where reads land. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "graph/saver.h"

struct mem_thread {
    char *id;
    struct graph_record *recs;
    int n, cap;
    double expires_at; /* the newest record's; 0: never */
};

struct mem_saver {
    struct graph_saver base; /* first */
    pthread_mutex_t lock;
    struct mem_thread *threads; /* open addressing, cap a power of two */
    size_t nthreads, cap;
};

void graph_record_clear(struct graph_record *r)
{
    free(r->blob);
    free(r->writes);
    r->blob = r->writes = NULL;
    r->blob_len = r->writes_len = 0;
}

static size_t hash(const char *s)
{
    size_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* The slot of thread id: its entry, or the empty slot where it would go. */
static struct mem_thread *slot(struct mem_saver *m, const char *id)
{
    size_t i = hash(id) & (m->cap - 1);
    while (m->threads[i].id && strcmp(m->threads[i].id, id) != 0)
        i = (i + 1) & (m->cap - 1);
    return &m->threads[i];
}

static int grow(struct mem_saver *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    struct mem_thread *old = m->threads;
    size_t oldcap = m->cap;
    m->threads = calloc(cap, sizeof *m->threads);
    if (!m->threads) {
        m->threads = old;
        return SA_ENOMEM;
    }
    m->cap = cap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].id)
            *slot(m, old[i].id) = old[i];
    free(old);
    return 0;
}

static char *dup_bytes(const char *p, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        if (n)
            memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

static int mem_put(struct graph_saver *s, const char *thread_id, const struct graph_record *r,
                   struct sa_err *err)
{
    struct mem_saver *m = (struct mem_saver *)s;
    int rc = 0;
    pthread_mutex_lock(&m->lock);
    if ((m->nthreads + 1) * 2 > m->cap && grow(m)) {
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
        goto out;
    }
    struct mem_thread *t = slot(m, thread_id);
    if (!t->id) {
        if (!(t->id = strdup(thread_id))) {
            rc = sa_err_set(err, SA_ENOMEM, "out of memory");
            goto out;
        }
        m->nthreads++;
    }
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 8;
        struct graph_record *nr = realloc(t->recs, (size_t)cap * sizeof *nr);
        if (!nr) {
            rc = sa_err_set(err, SA_ENOMEM, "out of memory");
            goto out;
        }
        t->recs = nr;
        t->cap = cap;
    }
    struct graph_record *c = &t->recs[t->n];
    *c = *r;
    c->blob = dup_bytes(r->blob, r->blob_len);
    c->writes = r->writes ? dup_bytes(r->writes, r->writes_len) : NULL;
    if (!c->blob || (r->writes && !c->writes)) {
        graph_record_clear(c);
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
        goto out;
    }
    t->n++;
    t->expires_at = r->expires_at;
out:
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static struct graph_record *find(struct mem_saver *m, const char *thread_id, const char *id)
{
    if (!m->cap)
        return NULL;
    struct mem_thread *t = slot(m, thread_id);
    if (!t->id || t->n == 0)
        return NULL;
    if (!id)
        return &t->recs[t->n - 1];
    for (int i = t->n - 1; i >= 0; i--)
        if (strcmp(t->recs[i].id, id) == 0)
            return &t->recs[i];
    return NULL;
}

static int mem_put_writes(struct graph_saver *s, const char *thread_id, const char *id,
                          const char *writes, size_t len, struct sa_err *err)
{
    struct mem_saver *m = (struct mem_saver *)s;
    int rc = 0;
    pthread_mutex_lock(&m->lock);
    struct graph_record *r = find(m, thread_id, id);
    char *copy = writes ? dup_bytes(writes, len) : NULL;
    if (!r || (writes && !copy)) {
        rc = !r ? sa_err_set(err, SA_ENOTFOUND, "checkpoint %s not found", id)
                : sa_err_set(err, SA_ENOMEM, "out of memory");
        free(copy);
    } else {
        free(r->writes);
        r->writes = copy;
        r->writes_len = writes ? len : 0;
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static int mem_get(struct graph_saver *s, const char *thread_id, const char *id,
                   struct graph_record *out, struct sa_err *err)
{
    struct mem_saver *m = (struct mem_saver *)s;
    memset(out, 0, sizeof *out);
    int rc = 0;
    pthread_mutex_lock(&m->lock);
    struct graph_record *r = find(m, thread_id, id);
    if (!r) {
        rc = sa_err_set(err, SA_ENOTFOUND, "no checkpoint %s for thread %s", id ? id : "",
                        thread_id);
    } else {
        *out = *r;
        out->blob = dup_bytes(r->blob, r->blob_len);
        out->writes = r->writes ? dup_bytes(r->writes, r->writes_len) : NULL;
        if (!out->blob || (r->writes && !out->writes)) {
            graph_record_clear(out);
            rc = sa_err_set(err, SA_ENOMEM, "out of memory");
        }
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static int mem_list(struct graph_saver *s, const char *thread_id, int limit,
                    char (**ids)[GRAPH_ID_LEN], int *n, struct sa_err *err)
{
    struct mem_saver *m = (struct mem_saver *)s;
    *ids = NULL;
    *n = 0;
    int rc = 0;
    pthread_mutex_lock(&m->lock);
    struct mem_thread *t = m->cap ? slot(m, thread_id) : NULL;
    int count = t && t->id ? t->n : 0;
    if (limit > 0 && count > limit)
        count = limit;
    if (count > 0) {
        *ids = malloc((size_t)count * sizeof **ids);
        if (!*ids) {
            rc = sa_err_set(err, SA_ENOMEM, "out of memory");
        } else {
            for (int i = 0; i < count; i++)
                memcpy((*ids)[i], t->recs[t->n - 1 - i].id, GRAPH_ID_LEN);
            *n = count;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static int mem_delete_thread(struct graph_saver *s, const char *thread_id, struct sa_err *err)
{
    (void)err;
    struct mem_saver *m = (struct mem_saver *)s;
    pthread_mutex_lock(&m->lock);
    struct mem_thread *t = m->cap ? slot(m, thread_id) : NULL;
    if (t && t->id) {
        for (int i = 0; i < t->n; i++)
            graph_record_clear(&t->recs[i]);
        t->n = 0; /* the entry stays (open addressing); its records are gone */
    }
    pthread_mutex_unlock(&m->lock);
    return 0;
}

static int mem_delete_except(struct graph_saver *s, const char *thread_id, const char *keep_id,
                             struct sa_err *err)
{
    struct mem_saver *m = (struct mem_saver *)s;
    int rc = 0;
    pthread_mutex_lock(&m->lock);
    struct mem_thread *t = m->cap ? slot(m, thread_id) : NULL;
    int kept = 0;
    for (int i = 0; t && t->id && i < t->n; i++) {
        if (strcmp(t->recs[i].id, keep_id) == 0)
            t->recs[kept++] = t->recs[i];
        else
            graph_record_clear(&t->recs[i]);
    }
    if (!t || !t->id || kept == 0)
        rc = sa_err_set(err, SA_ENOTFOUND, "checkpoint %s not found", keep_id);
    if (t && t->id)
        t->n = kept;
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static int mem_sweep(struct graph_saver *s, double now, int *n, struct sa_err *err)
{
    (void)err;
    struct mem_saver *m = (struct mem_saver *)s;
    *n = 0;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->cap; i++) {
        struct mem_thread *t = &m->threads[i];
        if (!t->id || t->n == 0 || t->expires_at <= 0 || t->expires_at > now)
            continue;
        for (int k = 0; k < t->n; k++)
            graph_record_clear(&t->recs[k]);
        t->n = 0;
        (*n)++;
    }
    pthread_mutex_unlock(&m->lock);
    return 0;
}

static int mem_thread_bytes(struct graph_saver *s, const char *thread_id, size_t *bytes,
                            int *records, struct sa_err *err)
{
    (void)err;
    struct mem_saver *m = (struct mem_saver *)s;
    *bytes = 0;
    *records = 0;
    pthread_mutex_lock(&m->lock);
    struct mem_thread *t = m->cap ? slot(m, thread_id) : NULL;
    for (int i = 0; t && t->id && i < t->n; i++) {
        *bytes += t->recs[i].blob_len + t->recs[i].writes_len + sizeof t->recs[i];
        (*records)++;
    }
    pthread_mutex_unlock(&m->lock);
    return 0;
}

static void mem_free(struct graph_saver *s)
{
    struct mem_saver *m = (struct mem_saver *)s;
    for (size_t i = 0; i < m->cap; i++) {
        struct mem_thread *t = &m->threads[i];
        if (!t->id)
            continue;
        for (int k = 0; k < t->n; k++)
            graph_record_clear(&t->recs[k]);
        free(t->recs);
        free(t->id);
    }
    free(m->threads);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* The newest record's expiry decides the sweep (mem_sweep): clearing it keeps the thread. */
static int mem_hold(struct graph_saver *s, const char *thread_id, struct sa_err *err)
{
    (void)err;
    struct mem_saver *m = (struct mem_saver *)s;
    pthread_mutex_lock(&m->lock);
    struct mem_thread *t = m->cap ? slot(m, thread_id) : NULL;
    if (t && t->id && t->n > 0) {
        t->expires_at = 0;
        t->recs[t->n - 1].expires_at = 0;
    }
    pthread_mutex_unlock(&m->lock);
    return 0;
}

static const struct graph_saver_ops memory_ops = {
    .name = "memory",
    .put = mem_put,
    .put_writes = mem_put_writes,
    .get = mem_get,
    .list = mem_list,
    .delete_thread = mem_delete_thread,
    .delete_except = mem_delete_except,
    .sweep = mem_sweep,
    .thread_bytes = mem_thread_bytes,
    .hold = mem_hold,
    .free = mem_free,
};

struct graph_saver *graph_saver_memory_new(void)
{
    struct mem_saver *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->base.ops = &memory_ops;
    pthread_mutex_init(&m->lock, NULL);
    return &m->base;
}
