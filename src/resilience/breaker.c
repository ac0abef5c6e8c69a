/* Circuit breaker (see breaker.h). */
#include "resilience/breaker.h"

#include <stdio.h>

#include "base/clock.h"

void sa_breaker_init(struct sa_breaker *b, const char *name, const struct sa_breaker_config *cfg)
{
    *b = (struct sa_breaker){0};
    snprintf(b->name, sizeof b->name, "%s", name);
    if (cfg)
        b->cfg = *cfg;
    if (b->cfg.failure_threshold <= 0)
        b->cfg.failure_threshold = 5;
    if (b->cfg.open_seconds <= 0)
        b->cfg.open_seconds = 30;
    if (b->cfg.half_open_probes <= 0)
        b->cfg.half_open_probes = 1;
    pthread_mutex_init(&b->lock, NULL);
}

void sa_breaker_destroy(struct sa_breaker *b)
{
    pthread_mutex_destroy(&b->lock);
}

/* Moves an open breaker to half-open once its time is up. Caller holds the lock. */
static void tick(struct sa_breaker *b)
{
    if (b->state == SA_BREAKER_OPEN &&
        sa_now_ns() - b->opened_ns >= (uint64_t)(b->cfg.open_seconds * 1e9)) {
        b->state = SA_BREAKER_HALF_OPEN;
        b->probes = 0;
    }
}

bool sa_breaker_allow(struct sa_breaker *b)
{
    pthread_mutex_lock(&b->lock);
    tick(b);
    bool ok = b->state == SA_BREAKER_CLOSED ||
              (b->state == SA_BREAKER_HALF_OPEN && b->probes < b->cfg.half_open_probes);
    if (ok && b->state == SA_BREAKER_HALF_OPEN)
        b->probes++;
    b->calls += ok;
    b->rejected += !ok;
    pthread_mutex_unlock(&b->lock);
    return ok;
}

void sa_breaker_record(struct sa_breaker *b, bool ok)
{
    pthread_mutex_lock(&b->lock);
    b->total_failures += !ok;
    if (b->state == SA_BREAKER_HALF_OPEN) {
        if (b->probes > 0)
            b->probes--;
        if (ok) {
            b->state = SA_BREAKER_CLOSED;
            b->failures = 0;
        } else {
            b->state = SA_BREAKER_OPEN;
            b->opened_ns = sa_now_ns();
        }
    } else if (b->state == SA_BREAKER_CLOSED) {
        b->failures = ok ? 0 : b->failures + 1;
        if (b->failures >= b->cfg.failure_threshold) {
            b->state = SA_BREAKER_OPEN;
            b->opened_ns = sa_now_ns();
        }
    }
    pthread_mutex_unlock(&b->lock);
}

enum sa_breaker_state sa_breaker_state(struct sa_breaker *b)
{
    pthread_mutex_lock(&b->lock);
    tick(b);
    enum sa_breaker_state s = b->state;
    pthread_mutex_unlock(&b->lock);
    return s;
}

const char *sa_breaker_state_name(enum sa_breaker_state s)
{
    return s == SA_BREAKER_CLOSED ? "closed" : s == SA_BREAKER_OPEN ? "open" : "half_open";
}
