/* Prometheus metrics: a small registry of counter and histogram families with labelled
 * series, rendered in the text exposition format 0.0.4. Thread-safe: each family has a
 * mutex; observation cost is one lock and a short search. Called by the HTTP layer and
 * the agents; rendered by GET /metrics. */
#ifndef SA_METRICS_METRICS_H
#define SA_METRICS_METRICS_H

#include "base/buf.h"
#include "base/err.h"

struct sa_metrics;

enum sa_metric_kind { SA_COUNTER, SA_GAUGE, SA_HISTOGRAM };

/* A family: name, help text, kind, label names (NULL-terminated, at most 4) and, for
 * histograms, bucket upper bounds ascending (+Inf is implicit). */
struct sa_metric_desc {
    const char *name;
    const char *help;
    enum sa_metric_kind kind;
    const char *labels[5];
    const double *buckets;
    int nbuckets;
};

/* Creates an empty registry. Returns NULL when out of memory. */
struct sa_metrics *sa_metrics_new(void);
void sa_metrics_free(struct sa_metrics *m);

/* Registers a family; desc and its arrays MUST outlive the registry (use static data).
 * Returns the family index (>= 0) or a negative error code. A family registered before
 * under the same name is not added again: its index is returned (its desc stands). */
int sa_metrics_register(struct sa_metrics *m, const struct sa_metric_desc *desc);

/* Adds v to a counter or gauge series, creating it. values has one string per label, in
 * the family's order. Out-of-memory drops the sample (metrics never fail a request). */
void sa_metrics_add(struct sa_metrics *m, int family, const char *const *values, double v);
/* Sets a gauge series to v. */
void sa_metrics_set(struct sa_metrics *m, int family, const char *const *values, double v);
/* Records one observation in a histogram series. */
void sa_metrics_observe(struct sa_metrics *m, int family, const char *const *values, double v);

/* Appends the whole registry in text format 0.0.4 to out. Returns 0 or a buffer error. */
int sa_metrics_render(struct sa_metrics *m, struct sa_buf *out) SA_WUR;

#endif
