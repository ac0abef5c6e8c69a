/* A circuit breaker (closed -> open -> half-open -> closed) guarding one dependency, such
 * as an enrichment provider. After `failure_threshold` consecutive failures it opens and
 * refuses calls for `open_seconds`; then it lets `half_open_probes` calls through, and
 * closes again when they succeed (reopens when one fails). Thread-safe. */
#ifndef SA_RESILIENCE_BREAKER_H
#define SA_RESILIENCE_BREAKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

enum sa_breaker_state { SA_BREAKER_CLOSED, SA_BREAKER_OPEN, SA_BREAKER_HALF_OPEN };

struct sa_breaker_config {
    int failure_threshold; /* consecutive failures that open it; default 5 */
    double open_seconds;   /* how long it stays open; default 30 */
    int half_open_probes;  /* trial calls allowed when half-open; default 1 */
};

struct sa_breaker {
    char name[48];
    struct sa_breaker_config cfg;
    pthread_mutex_t lock;
    enum sa_breaker_state state;
    int failures;       /* consecutive, while closed */
    int probes;         /* in flight, while half-open */
    uint64_t opened_ns; /* monotonic time it opened */
    unsigned long long calls, rejected, total_failures;
};

/* Initialises b (cfg may be NULL for defaults; zero fields take defaults). */
void sa_breaker_init(struct sa_breaker *b, const char *name, const struct sa_breaker_config *cfg);
void sa_breaker_destroy(struct sa_breaker *b);
/* May a call go through now? false: open (rejected, counted). A true from a half-open
 * breaker reserves a probe: the caller MUST report the outcome with sa_breaker_record. */
bool sa_breaker_allow(struct sa_breaker *b);
/* Reports a call's outcome. */
void sa_breaker_record(struct sa_breaker *b, bool ok);
enum sa_breaker_state sa_breaker_state(struct sa_breaker *b);
const char *sa_breaker_state_name(enum sa_breaker_state s);

#endif
