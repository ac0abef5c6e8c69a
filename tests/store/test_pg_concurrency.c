/* Two instances, one database: the races that the store's exactly-once rules settle when
 * several API instances and workers share PostgreSQL. Two stores are opened on the same
 * URL (as two processes would open them, each with its own pool) and threads on both race
 * to claim the same outbox items, queue the same idempotency keys, decide the same
 * approval, hold the same meeting slot and generate the same server secret, claim the
 * same run and continue the same approval's thread.
 * The URL comes from argv[1], else $STORE_URL; without one the suite runs against a
 * temporary SQLite file opened twice (two stores sharing a file). Every id is unique to
 * the run, so a database holding earlier runs is fine. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/uuid.h"
#include "store/store.h"

static char dir[64];   /* the temporary directory of the default URL, or "" */
static char url[1024]; /* the backend under test */
static char tok[9];    /* unique to this run */

enum { INSTANCES = 2, CLAIMERS = 8, ITEMS = 50, ROUNDS = 20 };

/* Two stores on the same database, migrated once (as the first instance to start does). */
static void open_instances(struct sa_store *s[INSTANCES])
{
    struct sa_err err = {0};
    for (int i = 0; i < INSTANCES; i++) {
        s[i] = NULL;
        if (sa_store_open(url, 4, &s[i], &err) || (i == 0 && sa_store_migrate(s[i], &err)))
            fail_msg("open %s: %s", url, err.msg);
    }
}

static void close_instances(struct sa_store *s[INSTANCES])
{
    for (int i = 0; i < INSTANCES; i++)
        sa_store_close(s[i]);
}

/* ---- the outbox: 8 workers on 2 instances claim the same 50 items ------------------ */

struct claimer {
    struct sa_store *s;
    pthread_barrier_t *go;
    char (*ids)[SA_UUID_LEN];
    int first; /* where this worker starts in ids, so the workers collide everywhere */
    int won[ITEMS];
    int errors; /* results other than 0 and SA_ECONFLICT */
};

static void *claim_all(void *arg)
{
    struct claimer *c = arg;
    pthread_barrier_wait(c->go);
    for (int k = 0; k < ITEMS; k++) {
        int i = (c->first + k) % ITEMS;
        struct sa_err err = {0};
        int rc = sa_store_outbox_claim(c->s, c->ids[i], &err);
        if (rc == 0)
            c->won[i]++;
        else if (rc != SA_ECONFLICT)
            c->errors++;
    }
    return NULL;
}

static void test_outbox_claimed_once_across_instances(void **state)
{
    (void)state;
    struct sa_store *s[INSTANCES];
    open_instances(s);
    struct sa_err err = {0};
    char ids[ITEMS][SA_UUID_LEN], keys[ITEMS][64], email[64];
    snprintf(email, sizeof email, "race-%s@example.com", tok);
    struct sa_outbox_item items[ITEMS];
    for (int i = 0; i < ITEMS; i++) {
        sa_uuid_v7(ids[i]);
        snprintf(keys[i], sizeof keys[i], "race-%s:%d", tok, i);
        items[i] = (struct sa_outbox_item){.id = ids[i],
                                           .idempotency_key = keys[i],
                                           .kind = "email",
                                           .to_email = email,
                                           .payload = "{}",
                                           .due_at = 1000};
    }
    int added = 0;
    assert_int_equal(sa_store_outbox_add(s[0], items, ITEMS, &added, &err), 0);
    assert_int_equal(added, ITEMS);

    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, CLAIMERS);
    static struct claimer c[CLAIMERS];
    pthread_t t[CLAIMERS];
    for (int w = 0; w < CLAIMERS; w++) {
        c[w] = (struct claimer){
            .s = s[w % INSTANCES], .go = &go, .ids = ids, .first = w * ITEMS / CLAIMERS};
        assert_int_equal(pthread_create(&t[w], NULL, claim_all, &c[w]), 0);
    }
    for (int w = 0; w < CLAIMERS; w++)
        pthread_join(t[w], NULL);
    pthread_barrier_destroy(&go);

    for (int w = 0; w < CLAIMERS; w++)
        assert_int_equal(c[w].errors, 0);
    for (int i = 0; i < ITEMS; i++) {
        int wins = 0;
        for (int w = 0; w < CLAIMERS; w++)
            wins += c[w].won[i];
        assert_int_equal(wins, 1); /* each item claimed exactly once in all */
    }
    /* and all of them are sending now, as either instance reads it */
    json_t *list = NULL;
    assert_int_equal(sa_store_outbox_list(s[1], "sending", email, 500, &list, &err), 0);
    assert_int_equal(json_array_size(list), ITEMS);
    json_decref(list);
    close_instances(s);
}

/* ---- the outbox: two instances add the same batch (a run resumed on both) ---------- */

struct adder {
    struct sa_store *s;
    pthread_barrier_t *go;
    const struct sa_outbox_item *items;
    int added, rc;
};

static void *add_batch(void *arg)
{
    struct adder *a = arg;
    struct sa_err err = {0};
    pthread_barrier_wait(a->go);
    a->rc = sa_store_outbox_add(a->s, a->items, ITEMS, &a->added, &err);
    return NULL;
}

/* Both instances queue the same 50 idempotency keys at once, under ids of their own and in
 * opposite orders (so each may wait on a key the other holds): both succeed, and every key
 * is stored once, by one of them. */
static void test_outbox_added_once_across_instances(void **state)
{
    (void)state;
    struct sa_store *s[INSTANCES];
    open_instances(s);
    struct sa_err err = {0};
    char ids[INSTANCES][ITEMS][SA_UUID_LEN], keys[ITEMS][64], email[64];
    snprintf(email, sizeof email, "twice-%s@example.com", tok);
    struct sa_outbox_item items[INSTANCES][ITEMS];
    for (int i = 0; i < ITEMS; i++)
        snprintf(keys[i], sizeof keys[i], "twice-%s:%d", tok, i);
    for (int n = 0; n < INSTANCES; n++) {
        for (int i = 0; i < ITEMS; i++) {
            int k = n == 0 ? i : ITEMS - 1 - i;
            sa_uuid_v7(ids[n][i]);
            items[n][i] = (struct sa_outbox_item){.id = ids[n][i],
                                                  .idempotency_key = keys[k],
                                                  .kind = "email",
                                                  .to_email = email,
                                                  .payload = "{}",
                                                  .due_at = 1000};
        }
    }
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, INSTANCES);
    struct adder a[INSTANCES];
    pthread_t t[INSTANCES];
    for (int n = 0; n < INSTANCES; n++) {
        a[n] = (struct adder){.s = s[n], .go = &go, .items = items[n]};
        assert_int_equal(pthread_create(&t[n], NULL, add_batch, &a[n]), 0);
    }
    for (int n = 0; n < INSTANCES; n++)
        pthread_join(t[n], NULL);
    pthread_barrier_destroy(&go);
    assert_int_equal(a[0].rc, 0);
    assert_int_equal(a[1].rc, 0);
    assert_int_equal(a[0].added + a[1].added, ITEMS);
    json_t *list = NULL;
    assert_int_equal(sa_store_outbox_list(s[0], "queued", email, 500, &list, &err), 0);
    assert_int_equal(json_array_size(list), ITEMS);
    json_decref(list);
    close_instances(s);
}

/* ---- approvals and meetings: one thread per instance, same target ------------------ */

struct duel {
    struct sa_store *s;
    pthread_barrier_t *go;
    const char *approval;                 /* decide this approval, or */
    const struct sa_meeting_row *meeting; /* hold this meeting, or */
    const char *run;                      /* claim this run (its lease), or */
    const char *resume;                   /* claim this approval's resumption */
    long long now;
    const char *reviewer;
    int rc;
};

static void *duel_one(void *arg)
{
    struct duel *d = arg;
    struct sa_err err = {0};
    pthread_barrier_wait(d->go);
    bool took = false;
    if (d->run)
        d->rc = sa_store_run_claim(d->s, d->run, d->reviewer, NULL, d->now, d->now + 30000, &took,
                                   NULL, &err);
    else if (d->resume)
        d->rc = sa_store_approval_claim_resume(d->s, d->resume, d->reviewer, d->now, d->now + 30000,
                                               &err);
    else
        d->rc = d->approval ? sa_store_approval_decide(d->s, d->approval, "accepted", "{}",
                                                       d->reviewer, NULL, &err)
                            : sa_store_meeting_hold(d->s, d->meeting, d->now, NULL, &err);
    return NULL;
}

/* Runs the two duellists at once; the index of the one that won (rc 0), after checking
 * the other lost with SA_ECONFLICT. */
static int run_duel(struct duel d[INSTANCES])
{
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, INSTANCES);
    pthread_t t[INSTANCES];
    for (int i = 0; i < INSTANCES; i++) {
        d[i].go = &go;
        assert_int_equal(pthread_create(&t[i], NULL, duel_one, &d[i]), 0);
    }
    for (int i = 0; i < INSTANCES; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&go);
    int winner = -1, wins = 0;
    for (int i = 0; i < INSTANCES; i++) {
        if (d[i].rc == 0) {
            winner = i;
            wins++;
        } else {
            assert_int_equal(d[i].rc, SA_ECONFLICT);
        }
    }
    assert_int_equal(wins, 1);
    return winner;
}

static void test_approval_decided_once_across_instances(void **state)
{
    (void)state;
    struct sa_store *s[INSTANCES];
    open_instances(s);
    struct sa_err err = {0};
    static const char *const reviewers[INSTANCES] = {"reviewer-a", "reviewer-b"};
    for (int round = 0; round < ROUNDS; round++) {
        char thread[64], id[SA_UUID_LEN], got[37];
        snprintf(thread, sizeof thread, "duel-%s-%d", tok, round);
        sa_uuid_v7(id);
        assert_int_equal(sa_store_approval_put(s[0], id, thread, "i1", NULL, "{}", got, &err), 0);
        struct duel d[INSTANCES];
        for (int i = 0; i < INSTANCES; i++)
            d[i] = (struct duel){.s = s[i], .approval = id, .reviewer = reviewers[i]};
        int winner = run_duel(d);
        /* the winner's decision is the one stored, as the loser's instance reads it */
        json_t *a = NULL;
        assert_int_equal(sa_store_approval_get(s[1 - winner], id, &a, &err), 0);
        assert_string_equal(json_string_value(json_object_get(a, "reviewer")), reviewers[winner]);
        json_decref(a);
    }
    close_instances(s);
}

/* Two deliveries of one run on two instances claim it at once: one executes it; once its
 * lease ended, two takers again find one winner, and only that owner records the end. */
static void test_run_claimed_once_across_instances(void **state)
{
    (void)state;
    struct sa_store *s[INSTANCES];
    open_instances(s);
    struct sa_err err = {0};
    static const char *const owners[INSTANCES] = {"worker-a", "worker-b"};
    char lead[SA_UUID_LEN], thread[64];
    sa_uuid_v7(lead);
    snprintf(thread, sizeof thread, "run-duel-%s", tok);
    for (int round = 0; round < ROUNDS; round++) {
        char id[SA_UUID_LEN];
        sa_uuid_v7(id);
        assert_int_equal(sa_store_run_create(s[0], id, lead, thread, "{}", &err), 0);
        long long t = 1800000000000LL + round; /* unix ms: any time after the creation */
        struct duel d[INSTANCES];
        for (int i = 0; i < INSTANCES; i++)
            d[i] = (struct duel){.s = s[i], .run = id, .reviewer = owners[i], .now = t};
        int first = run_duel(d);
        for (int i = 0; i < INSTANCES; i++)
            d[i].now = t + 60000; /* the first lease (30 s) has ended */
        int second = run_duel(d);
        assert_int_equal(sa_store_run_finish(s[second], id, owners[1 - second], "failed", NULL,
                                             "not mine", &err),
                         SA_ECONFLICT);
        assert_int_equal(
            sa_store_run_finish(s[first], id, owners[second], "done", "{}", NULL, &err), 0);
        json_t *run = NULL;
        assert_int_equal(sa_store_run_get(s[1 - second], id, &run, &err), 0);
        assert_string_equal(json_string_value(json_object_get(run, "status")), "done");
        json_decref(run);
    }
    close_instances(s);
}

/* A decided approval's thread continued from two instances at once: one claim wins. */
static void test_approval_resumed_once_across_instances(void **state)
{
    (void)state;
    struct sa_store *s[INSTANCES];
    open_instances(s);
    struct sa_err err = {0};
    static const char *const owners[INSTANCES] = {"instance-a", "instance-b"};
    for (int round = 0; round < ROUNDS; round++) {
        char thread[64], id[SA_UUID_LEN], got[37];
        snprintf(thread, sizeof thread, "resume-duel-%s-%d", tok, round);
        sa_uuid_v7(id);
        assert_int_equal(sa_store_approval_put(s[0], id, thread, "i1", NULL, "{}", got, &err), 0);
        assert_int_equal(sa_store_approval_decide(s[0], id, "accepted", "{}", "kim", NULL, &err),
                         0);
        struct duel d[INSTANCES];
        for (int i = 0; i < INSTANCES; i++)
            d[i] = (struct duel){.s = s[i], .resume = id, .reviewer = owners[i], .now = 1000};
        int winner = run_duel(d);
        /* released by the winner: the other may claim it now */
        assert_int_equal(
            sa_store_approval_claim_resume(s[winner], id, owners[winner], 2000, 2000, &err), 0);
        assert_int_equal(
            sa_store_approval_claim_resume(s[1 - winner], id, owners[1 - winner], 2001, 3000, &err),
            0);
    }
    close_instances(s);
}

/* A time far from other runs' meetings in a shared database (2100 onwards, from tok). */
static long long slot_base(void)
{
    unsigned long h = 5381;
    for (const char *p = tok; *p; p++)
        h = h * 33 + (unsigned char)*p;
    return 4102444800LL + (long long)(h % 1000000UL) * 86400;
}

static void test_meeting_slot_held_once_across_instances(void **state)
{
    (void)state;
    struct sa_store *s[INSTANCES];
    open_instances(s);
    struct sa_err err = {0};
    for (int round = 0; round < ROUNDS; round++) {
        long long start = slot_base() + round * 7200, now = start - 86400;
        char ids[INSTANCES][SA_UUID_LEN];
        struct sa_meeting_row m[INSTANCES];
        struct duel d[INSTANCES];
        for (int i = 0; i < INSTANCES; i++) {
            sa_uuid_v7(ids[i]);
            /* overlapping, not equal: the second starts a quarter of an hour later */
            m[i] = (struct sa_meeting_row){.id = ids[i],
                                           .attendee = "prospect@acme.example",
                                           .timezone = "Europe/Berlin",
                                           .ics_uid = ids[i],
                                           .start = start + i * 900,
                                           .end = start + i * 900 + 1800,
                                           .hold_until = now + 3600};
            d[i] = (struct duel){.s = s[i], .meeting = &m[i], .now = now};
        }
        int winner = run_duel(d);
        struct sa_meeting_query q = {
            .status = "active", .from = start, .to = start + 3600, .now = now, .limit = 10};
        json_t *list = NULL;
        assert_int_equal(sa_store_meeting_list(s[1 - winner], &q, &list, &err), 0);
        assert_int_equal(json_array_size(list), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "id")),
                            ids[winner]);
        json_decref(list);
    }
    close_instances(s);
}

/* ---- server secrets: two instances generate one at first start ------------------- */

struct secret_racer {
    struct sa_store *s;
    pthread_barrier_t *go;
    const char *name, *candidate;
    char *got;
    int rc;
};

static void *put_secret(void *arg)
{
    struct secret_racer *r = arg;
    struct sa_err err = {0};
    pthread_barrier_wait(r->go);
    r->rc = sa_store_secret_get_or_put(r->s, r->name, r->candidate, &r->got, &err);
    return NULL;
}

/* Both instances start at once and offer their own candidate: the first writer wins, and
 * both answer its value, in every round. */
static void test_secret_first_writer_wins_across_instances(void **state)
{
    (void)state;
    struct sa_store *s[INSTANCES];
    open_instances(s);
    static const char *const candidates[INSTANCES] = {"candidate-a", "candidate-b"};
    for (int round = 0; round < ROUNDS; round++) {
        char name[64];
        snprintf(name, sizeof name, "secret-%s-%d", tok, round);
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, INSTANCES);
        struct secret_racer r[INSTANCES];
        pthread_t t[INSTANCES];
        for (int i = 0; i < INSTANCES; i++) {
            r[i] = (struct secret_racer){
                .s = s[i], .go = &go, .name = name, .candidate = candidates[i]};
            assert_int_equal(pthread_create(&t[i], NULL, put_secret, &r[i]), 0);
        }
        for (int i = 0; i < INSTANCES; i++)
            pthread_join(t[i], NULL);
        pthread_barrier_destroy(&go);
        assert_int_equal(r[0].rc, 0);
        assert_int_equal(r[1].rc, 0);
        assert_string_equal(r[0].got, r[1].got);
        assert_true(strcmp(r[0].got, candidates[0]) == 0 || strcmp(r[0].got, candidates[1]) == 0);
        for (int i = 0; i < INSTANCES; i++)
            free(r[i].got);
    }
    close_instances(s);
}

/* ---- main ------------------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    char uuid[SA_UUID_LEN];
    sa_uuid_v4(uuid);
    memcpy(tok, uuid, 8);
    tok[8] = '\0';
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (!dir[0])
        return 0;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

int main(int argc, char **argv)
{
    const char *given = argc > 1 ? argv[1] : getenv("STORE_URL");
    if (given && *given) {
        snprintf(url, sizeof url, "%s", given);
    } else {
        snprintf(dir, sizeof dir, "/tmp/sa_store_race_XXXXXX");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            return 1;
        }
        snprintf(url, sizeof url, "sqlite://%s/store.db", dir);
    }
    printf("store races across instances: %s\n", url);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outbox_claimed_once_across_instances),
        cmocka_unit_test(test_outbox_added_once_across_instances),
        cmocka_unit_test(test_approval_decided_once_across_instances),
        cmocka_unit_test(test_meeting_slot_held_once_across_instances),
        cmocka_unit_test(test_secret_first_writer_wins_across_instances),
        cmocka_unit_test(test_run_claimed_once_across_instances),
        cmocka_unit_test(test_approval_resumed_once_across_instances),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
