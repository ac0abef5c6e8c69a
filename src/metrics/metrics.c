/* Prometheus registry and text exposition (see metrics.h).
 *
 * Series are kept per family in an array searched linearly by their pre-rendered label
 * text ('agent_type="qualification"'): families here have tens of series, where a linear
 * scan under one mutex beats hashing, and rendering needs no formatting of labels. */
#include "metrics/metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FAMILIES 32

struct series {
    char *labels; /* rendered: k1="v1",k2="v2" (escaped); "" when the family has none */
    double value; /* counter/gauge value, or histogram sum */
    unsigned long long count;
    unsigned long long *bucket_counts; /* histograms: nbuckets non-cumulative counts */
};

struct family {
    const struct sa_metric_desc *desc;
    pthread_mutex_t lock;
    struct series *series;
    size_t n, cap;
};

/* Families are only added, and may be while /metrics renders (a worker's listener is up
 * before its outbox registers the SMTP families): a family is written in full before
 * nfamilies counts it, and registrations take register_lock. */
struct sa_metrics {
    struct family families[MAX_FAMILIES];
    _Atomic int nfamilies;
};

static pthread_mutex_t register_lock = PTHREAD_MUTEX_INITIALIZER;

struct sa_metrics *sa_metrics_new(void)
{
    return calloc(1, sizeof(struct sa_metrics));
}

void sa_metrics_free(struct sa_metrics *m)
{
    if (!m)
        return;
    for (int f = 0; f < m->nfamilies; f++) {
        struct family *fam = &m->families[f];
        for (size_t i = 0; i < fam->n; i++) {
            free(fam->series[i].labels);
            free(fam->series[i].bucket_counts);
        }
        free(fam->series);
        pthread_mutex_destroy(&fam->lock);
    }
    free(m);
}

int sa_metrics_register(struct sa_metrics *m, const struct sa_metric_desc *desc)
{
    pthread_mutex_lock(&register_lock);
    int n = m->nfamilies, id = SA_ENOMEM;
    /* a family several modules share (connector_requests_total) is registered once */
    for (int i = 0; i < n && id < 0; i++)
        if (m->families[i].desc == desc || strcmp(m->families[i].desc->name, desc->name) == 0)
            id = i;
    if (id < 0 && n < MAX_FAMILIES) {
        struct family *fam = &m->families[n];
        *fam = (struct family){.desc = desc};
        pthread_mutex_init(&fam->lock, NULL);
        m->nfamilies = n + 1; /* after the family is whole: a render may read it at once */
        id = n;
    }
    pthread_mutex_unlock(&register_lock);
    return id;
}

/* Renders k1="v1",k2="v2" (values escaped) into out (cap bytes). Returns false when it
 * does not fit: the sample is dropped rather than truncated into another series. Runs on
 * every observation, so it writes to the caller's stack buffer, not the heap. */
static bool render_labels(const struct sa_metric_desc *d, const char *const *values, char *out,
                          size_t cap)
{
    size_t n = 0;
    for (int i = 0; d->labels[i]; i++) {
        int w = snprintf(out + n, cap - n, "%s%s=\"", i ? "," : "", d->labels[i]);
        if (w < 0 || (size_t)w >= cap - n)
            return false;
        n += (size_t)w;
        for (const char *p = values[i]; *p; p++) {
            const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
            size_t len = esc ? 2 : 1;
            if (n + len + 2 >= cap)
                return false;
            if (esc)
                memcpy(out + n, esc, 2);
            else
                out[n] = *p;
            n += len;
        }
        out[n++] = '"';
    }
    out[n] = '\0';
    return true;
}

/* Finds or creates the series; caller holds fam->lock. */
static struct series *series_get(struct family *fam, const char *const *values)
{
    char labels[512];
    if (!render_labels(fam->desc, values, labels, sizeof labels))
        return NULL;
    for (size_t i = 0; i < fam->n; i++)
        if (strcmp(fam->series[i].labels, labels) == 0)
            return &fam->series[i];
    if (fam->n == fam->cap) {
        size_t cap = fam->cap ? fam->cap * 2 : 8;
        struct series *ns = realloc(fam->series, cap * sizeof *ns);
        if (!ns)
            return NULL;
        fam->series = ns;
        fam->cap = cap;
    }
    struct series *n = &fam->series[fam->n];
    *n = (struct series){.labels = strdup(labels)};
    if (fam->desc->kind == SA_HISTOGRAM)
        n->bucket_counts = calloc((size_t)fam->desc->nbuckets, sizeof *n->bucket_counts);
    if (!n->labels || (fam->desc->kind == SA_HISTOGRAM && !n->bucket_counts)) {
        free(n->labels);
        free(n->bucket_counts);
        return NULL;
    }
    fam->n++;
    return n;
}

void sa_metrics_add(struct sa_metrics *m, int family, const char *const *values, double v)
{
    struct family *fam = &m->families[family];
    pthread_mutex_lock(&fam->lock);
    struct series *s = series_get(fam, values);
    if (s)
        s->value += v;
    pthread_mutex_unlock(&fam->lock);
}

void sa_metrics_set(struct sa_metrics *m, int family, const char *const *values, double v)
{
    struct family *fam = &m->families[family];
    pthread_mutex_lock(&fam->lock);
    struct series *s = series_get(fam, values);
    if (s)
        s->value = v;
    pthread_mutex_unlock(&fam->lock);
}

void sa_metrics_observe(struct sa_metrics *m, int family, const char *const *values, double v)
{
    struct family *fam = &m->families[family];
    const struct sa_metric_desc *d = fam->desc;
    pthread_mutex_lock(&fam->lock);
    struct series *s = series_get(fam, values);
    if (s) {
        s->value += v;
        s->count++;
        for (int i = 0; s->bucket_counts && i < d->nbuckets; i++) { /* histograms only */
            if (v <= d->buckets[i]) {
                s->bucket_counts[i]++;
                break;
            }
        }
    }
    pthread_mutex_unlock(&fam->lock);
}

static int render_family(struct family *fam, struct sa_buf *out)
{
    const struct sa_metric_desc *d = fam->desc;
    static const char *const kinds[] = {"counter", "gauge", "histogram"};
    int rc = sa_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", d->name, d->help, d->name,
                           kinds[d->kind]);
    for (size_t i = 0; i < fam->n && !rc; i++) {
        const struct series *s = &fam->series[i];
        bool has = s->labels[0] != '\0';
        if (d->kind != SA_HISTOGRAM) {
            rc = sa_buf_printf(out, "%s%s%s%s %.17g\n", d->name, has ? "{" : "", s->labels,
                               has ? "}" : "", s->value);
            continue;
        }
        unsigned long long cum = 0;
        for (int b = 0; b < d->nbuckets && !rc; b++) {
            cum += s->bucket_counts[b];
            rc = sa_buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", d->name, s->labels,
                               has ? "," : "", d->buckets[b], cum);
        }
        if (!rc)
            rc = sa_buf_printf(out,
                               "%s_bucket{%s%sle=\"+Inf\"} %llu\n%s_sum%s%s%s %.9g\n"
                               "%s_count%s%s%s %llu\n",
                               d->name, s->labels, has ? "," : "", s->count, d->name,
                               has ? "{" : "", s->labels, has ? "}" : "", s->value, d->name,
                               has ? "{" : "", s->labels, has ? "}" : "", s->count);
    }
    return rc;
}

int sa_metrics_render(struct sa_metrics *m, struct sa_buf *out)
{
    int rc = 0;
    for (int f = 0; f < m->nfamilies && !rc; f++) {
        struct family *fam = &m->families[f];
        pthread_mutex_lock(&fam->lock);
        rc = render_family(fam, out);
        pthread_mutex_unlock(&fam->lock);
    }
    return rc;
}
