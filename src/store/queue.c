/* Opens the run queue a URL names (see queue.h), and the defaults of its optional ops.
 * Called by the runs service (app/runs.c) and by tests. */
#include "store/queue.h"

#include <stdio.h>
#include <string.h>

int sa_queue_open(const char *url, const struct sa_queue_opts *opts, struct sa_queue **out,
                  struct sa_err *err)
{
    *out = NULL;
    if (!url || !*url) {
        if (!(*out = sa_queue_memory_new()))
            return sa_err_set(err, SA_ENOMEM, "out of memory");
        return 0;
    }
    if (strncmp(url, "redis://", 8) == 0)
        return sa_queue_redis_open(url, opts, out, err);
    /* the URL may hold a password: name the scheme only */
    const char *colon = strchr(url, ':');
    return sa_err_set(err, SA_ECONFIG, "REDIS_URL: unsupported scheme \"%.*s\"; expected redis://",
                      colon ? (int)(colon - url) : 0, url);
}

int sa_queue_def_touch(struct sa_queue *q, const struct sa_queue_delivery *d, struct sa_err *err)
{
    (void)q;
    (void)d;
    (void)err;
    return 0;
}

int sa_queue_def_health(struct sa_queue *q, char *detail, size_t cap, struct sa_err *err)
{
    (void)q;
    (void)err;
    snprintf(detail, cap, "ok");
    return 0;
}
