/* The daily LLM budget (agents/llm_use.c) under concurrency: a call reserves its
 * worst-case cost before it reaches the provider and settles to its actual cost after, so
 * calls in flight at once cannot together pass the budget, in one process or across
 * instances sharing a counter. The provider is a stub that holds every call until the
 * test releases it; the shared counter is an in-memory stand-in for Redis's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "agents/llm_use.h"
#include "base/clock.h"

/* Every call of the tests: 150 + 150 prompt bytes (100 tokens at 3 bytes a token, no
 * schema) and 100 output tokens at 1 and 2 USD per million: 0.0003 USD at worst. A call
 * answers with 10 input and 10 output tokens: 0.00003 USD. */
#define WORST_USD 0.0003
#define ACTUAL_USD 0.00003
/* fits 2 calls' worst case, not 3 */
#define BUDGET_USD (2.5 * WORST_USD)
#define DAY0 20000L /* a UTC day (2024-10-04) */

static char system_text[151], user_text[151];

/* ---- the stub provider: holds each call until released ------------------------------- */

struct stub {
    struct sa_llm_provider super;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int arrived; /* calls that reached the provider */
    int refused; /* calls refused for the budget (the callers count them) */
    bool released;
    bool fail; /* answer with a server error and no usage */
};

static int stub_complete(struct sa_llm_provider *p, const struct sa_llm_request *req,
                         struct sa_llm_result *res, struct sa_err *err)
{
    struct stub *s = (struct stub *)p;
    pthread_mutex_lock(&s->mu);
    s->arrived++;
    pthread_cond_broadcast(&s->cv);
    while (!s->released)
        pthread_cond_wait(&s->cv, &s->mu);
    bool fail = s->fail;
    pthread_mutex_unlock(&s->mu);
    memset(res, 0, sizeof *res);
    snprintf(res->model, sizeof res->model, "%s", req->model);
    if (fail) {
        res->failure = SA_LLM_FAIL_SERVER_ERROR;
        return sa_err_set(err, SA_EIO, "stub: server error");
    }
    res->text = strdup("ok");
    res->usage.input_tokens = 10;
    res->usage.output_tokens = 10;
    return res->text ? 0 : SA_ENOMEM;
}

static const struct sa_llm_provider_ops stub_ops = {.wire = "openai", .complete = stub_complete};

static void stub_init(struct stub *s)
{
    memset(s, 0, sizeof *s);
    s->super.ops = &stub_ops;
    snprintf(s->super.preset, sizeof s->super.preset, "stub");
    snprintf(s->super.model, sizeof s->super.model, "m");
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
}

static void stub_destroy(struct stub *s)
{
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
}

/* Holds the calls that come next. */
static void stub_hold(struct stub *s)
{
    pthread_mutex_lock(&s->mu);
    s->arrived = 0;
    s->refused = 0;
    s->released = false;
    pthread_mutex_unlock(&s->mu);
}

static void stub_release(struct stub *s)
{
    pthread_mutex_lock(&s->mu);
    s->released = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Waits until n calls either reached the provider or were refused (or 30 s passed: a
 * safety net against a hang, not a timing assert); *arrived and *refused say how many. */
static void stub_wait(struct stub *s, int n, int *arrived, int *refused)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 30;
    pthread_mutex_lock(&s->mu);
    while (s->arrived + s->refused < n)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT)
            break;
    *arrived = s->arrived;
    *refused = s->refused;
    pthread_mutex_unlock(&s->mu);
}

/* ---- the shared counter: Redis's llm:spend:{day}, in memory -------------------------- */

struct shared {
    pthread_mutex_t mu;
    long day[4];
    double total[4];
    int n;
    int fail_next; /* the next calls that fail (Redis unreachable) */
    int fail_all;
};

static double *shared_slot(struct shared *sh, long day)
{
    for (int i = 0; i < sh->n; i++)
        if (sh->day[i] == day)
            return &sh->total[i];
    if (sh->n == 4)
        return NULL;
    sh->day[sh->n] = day;
    sh->total[sh->n] = 0;
    return &sh->total[sh->n++];
}

static int shared_spend(void *arg, long day, double add_usd, double *total_usd)
{
    struct shared *sh = arg;
    pthread_mutex_lock(&sh->mu);
    int rc = 0;
    double *t = shared_slot(sh, day);
    if (sh->fail_all || sh->fail_next > 0 || !t) {
        if (sh->fail_next > 0)
            sh->fail_next--;
        rc = SA_ESTORE;
    } else {
        *t += add_usd;
        *total_usd = *t;
    }
    pthread_mutex_unlock(&sh->mu);
    return rc;
}

/* The shared total of day (0 when never touched). */
static double shared_total(struct shared *sh, long day)
{
    pthread_mutex_lock(&sh->mu);
    double v = 0;
    for (int i = 0; i < sh->n; i++)
        if (sh->day[i] == day)
            v = sh->total[i];
    pthread_mutex_unlock(&sh->mu);
    return v;
}

/* ---- calls ---------------------------------------------------------------------------- */

static json_t *prices;

static struct sa_llm_use *use_new(struct stub *s, struct shared *sh)
{
    struct sa_llm_use_config cfg = {.provider = &s->super,
                                    .prices = prices,
                                    .daily_budget_usd = BUDGET_USD,
                                    .shared_spend = sh ? shared_spend : NULL,
                                    .shared_arg = sh};
    struct sa_llm_use *u = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_llm_use_new(&cfg, &u, &err), 0);
    return u;
}

struct job {
    struct sa_llm_use *u;
    struct stub *s;
    pthread_t t;
    int rc;
    enum sa_llm_failure why;
};

static void *job_run(void *arg)
{
    struct job *j = arg;
    struct sa_llm_message m = {SA_LLM_USER, user_text};
    struct sa_llm_request req = {.system = system_text,
                                 .messages = &m,
                                 .nmessages = 1,
                                 .max_tokens = 100,
                                 .temperature = 0.2};
    struct sa_llm_result res;
    struct sa_err err = {0};
    j->rc = sa_llm_use_call(j->u, SA_AGENT_QUALIFICATION, &req, &res, &err);
    j->why = j->rc ? res.failure : SA_LLM_FAIL_NONE;
    sa_llm_result_clear(&res);
    if (j->rc && j->why == SA_LLM_FAIL_BUDGET) {
        pthread_mutex_lock(&j->s->mu);
        j->s->refused++;
        pthread_cond_broadcast(&j->s->cv);
        pthread_mutex_unlock(&j->s->mu);
    }
    return NULL;
}

/* n concurrent calls, calls i on uses[i % nuses], held at the provider until all n either
 * reached it or were refused. Returns how many reached it (*refused: refused for the
 * budget); every call has returned when it does, and the others succeeded. */
static int wave(struct stub *s, struct sa_llm_use **uses, int nuses, int n, int *refused)
{
    struct job jobs[8];
    assert_true(n <= 8);
    stub_hold(s);
    for (int i = 0; i < n; i++) {
        jobs[i] = (struct job){.u = uses[i % nuses], .s = s};
        assert_int_equal(pthread_create(&jobs[i].t, NULL, job_run, &jobs[i]), 0);
    }
    int arrived, budget_refused;
    stub_wait(s, n, &arrived, &budget_refused);
    stub_release(s);
    int ok = 0, refused_seen = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(jobs[i].t, NULL);
        if (jobs[i].rc == 0)
            ok++;
        else if (jobs[i].why == SA_LLM_FAIL_BUDGET)
            refused_seen++;
    }
    assert_int_equal(budget_refused, refused_seen);
    if (!s->fail)
        assert_int_equal(ok + refused_seen, n);
    *refused = refused_seen;
    return arrived;
}

static int setup(void **state)
{
    (void)state;
    memset(system_text, 's', 150);
    memset(user_text, 'u', 150);
    prices = json_pack("{s:{s:{s:f, s:f}}}", "models", "m", "input", 1.0, "output", 2.0);
    sa_clock_set_fixed((time_t)(DAY0 * 86400 + 12L * 3600));
    return prices ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(prices);
    sa_clock_set_fixed(0);
    return 0;
}

/* The stand-in's doubles add exactly what the code added; allow for rounding only. */
#define assert_usd(a, b)                                                                           \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (fabs(a_ - b_) >= 1e-12)                                                                \
            fail_msg("%.12g USD != %.12g USD", a_, b_);                                            \
    } while (0)

/* ---- the tests ------------------------------------------------------------------------ */

/* 4 calls at once with room for 2 worst cases: 2 reach the provider, 2 fall back with
 * reason budget; settled at their actual cost, the next 2 fit again. */
static void test_concurrent_calls_reserve(void **state)
{
    (void)state;
    struct stub s;
    stub_init(&s);
    struct sa_llm_use *u = use_new(&s, NULL);
    int refused;
    assert_int_equal(wave(&s, &u, 1, 4, &refused), 2);
    assert_int_equal(refused, 2);
    /* spent 2 * 0.00003: 2 more worst cases fit, not 3 */
    assert_int_equal(wave(&s, &u, 1, 4, &refused), 2);
    assert_int_equal(refused, 2);
    sa_llm_use_free(u);
    stub_destroy(&s);
}

/* Two instances on one shared counter: 2 of 4 calls reach the provider between them; the
 * counter holds the actual costs once they are settled, and a later call fits. */
static void test_shared_reservation(void **state)
{
    (void)state;
    struct stub s;
    stub_init(&s);
    struct shared sh = {0};
    pthread_mutex_init(&sh.mu, NULL);
    struct sa_llm_use *uses[2] = {use_new(&s, &sh), use_new(&s, &sh)};
    int refused;
    assert_int_equal(wave(&s, uses, 2, 4, &refused), 2);
    assert_int_equal(refused, 2);
    assert_usd(shared_total(&sh, DAY0), 2 * ACTUAL_USD);
    /* the other instance, which spent nothing itself, sees the shared spend: 2 fit */
    assert_int_equal(wave(&s, &uses[1], 1, 3, &refused), 2);
    assert_int_equal(refused, 1);
    assert_usd(shared_total(&sh, DAY0), 4 * ACTUAL_USD);
    sa_llm_use_free(uses[0]);
    sa_llm_use_free(uses[1]);
    pthread_mutex_destroy(&sh.mu);
    stub_destroy(&s);
}

/* Another instance's spend leaves less than a worst case: the call is refused without
 * reaching the provider, and its reservation is given back. */
static void test_shared_full_gives_back(void **state)
{
    (void)state;
    struct stub s;
    stub_init(&s);
    struct shared sh = {0};
    pthread_mutex_init(&sh.mu, NULL);
    double before = BUDGET_USD - WORST_USD / 2;
    *shared_slot(&sh, DAY0) = before;
    struct sa_llm_use *u = use_new(&s, &sh);
    int refused;
    assert_int_equal(wave(&s, &u, 1, 1, &refused), 0);
    assert_int_equal(refused, 1);
    assert_usd(shared_total(&sh, DAY0), before);
    sa_llm_use_free(u);
    pthread_mutex_destroy(&sh.mu);
    stub_destroy(&s);
}

/* A failed call with no usage costs nothing: its reservation is given back in full. */
static void test_failed_call_costs_nothing(void **state)
{
    (void)state;
    struct stub s;
    stub_init(&s);
    s.fail = true;
    struct shared sh = {0};
    pthread_mutex_init(&sh.mu, NULL);
    struct sa_llm_use *u = use_new(&s, &sh);
    int refused;
    assert_int_equal(wave(&s, &u, 1, 2, &refused), 2);
    assert_int_equal(refused, 0);
    assert_usd(shared_total(&sh, DAY0), 0);
    s.fail = false;
    assert_int_equal(wave(&s, &u, 1, 4, &refused), 2); /* nothing was left reserved */
    sa_llm_use_free(u);
    pthread_mutex_destroy(&sh.mu);
    stub_destroy(&s);
}

/* Redis down: the process counts alone, still by reservation; once it answers, a call
 * whose reservation could not be shared adds its actual cost there. */
static void test_shared_error_counts_locally(void **state)
{
    (void)state;
    struct stub s;
    stub_init(&s);
    struct shared sh = {.fail_all = 1};
    pthread_mutex_init(&sh.mu, NULL);
    struct sa_llm_use *u = use_new(&s, &sh);
    int refused;
    assert_int_equal(wave(&s, &u, 1, 4, &refused), 2);
    assert_int_equal(refused, 2);
    sh.fail_all = 0;
    sh.fail_next = 1; /* the reservation fails, the settlement gets through */
    assert_int_equal(wave(&s, &u, 1, 1, &refused), 1);
    assert_usd(shared_total(&sh, DAY0), ACTUAL_USD);
    sa_llm_use_free(u);
    pthread_mutex_destroy(&sh.mu);
    stub_destroy(&s);
}

/* A call reserved before midnight and settled after it counts in the day it started:
 * yesterday's shared counter gets its cost, today's is untouched, and today's budget is
 * whole (2 worst cases fit). */
static void test_day_rollover(void **state)
{
    (void)state;
    struct stub s;
    stub_init(&s);
    struct shared sh = {0};
    pthread_mutex_init(&sh.mu, NULL);
    struct sa_llm_use *u = use_new(&s, &sh);
    sa_clock_set_fixed((time_t)(DAY0 * 86400 + 86399));
    stub_hold(&s);
    struct job held_job = {.u = u, .s = &s};
    assert_int_equal(pthread_create(&held_job.t, NULL, job_run, &held_job), 0);
    int arrived, refused;
    stub_wait(&s, 1, &arrived, &refused);
    sa_clock_set_fixed((time_t)((DAY0 + 1) * 86400 + 1));
    stub_release(&s);
    pthread_join(held_job.t, NULL);
    assert_int_equal(arrived, 1);
    assert_int_equal(held_job.rc, 0);
    assert_usd(shared_total(&sh, DAY0), ACTUAL_USD);
    assert_usd(shared_total(&sh, DAY0 + 1), 0);
    assert_int_equal(wave(&s, &u, 1, 3, &refused), 2);
    assert_usd(shared_total(&sh, DAY0 + 1), 2 * ACTUAL_USD);
    sa_clock_set_fixed((time_t)(DAY0 * 86400 + 12L * 3600));
    sa_llm_use_free(u);
    pthread_mutex_destroy(&sh.mu);
    stub_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_calls_reserve),
        cmocka_unit_test(test_shared_reservation),
        cmocka_unit_test(test_shared_full_gives_back),
        cmocka_unit_test(test_failed_call_costs_nothing),
        cmocka_unit_test(test_shared_error_counts_locally),
        cmocka_unit_test(test_day_rollover),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
