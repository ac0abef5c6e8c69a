/* Pins conversation sessions (store/session.h) on both stores: the one derived from the
 * checkpoints (no Redis: the memory saver) and, with SA_TEST_REDIS_URL, Redis's
 * session:{thread_id}:state over the Redis checkpoint saver. The same turns on the business
 * clock (sa_clock_set_fixed, ten days ahead of the real one, so nothing can lean on Redis's
 * own clock): the session follows the turns, a conversation continues with its history two
 * hours later (past the pipeline's 1 h CHECKPOINT_TTL_SECONDS), and after
 * SESSION_TTL_SECONDS of silence it has expired and the next message starts a new one. On
 * Redis the keys' lives are read back with TTL: the conversation's checkpoints and its
 * session live SESSION_TTL_SECONDS, a pipeline's records keep the saver's TTL. Then the
 * Redis store's own contract: put, replace, get, del, unknown, bad ids, a corrupt value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "agents/conversation.h"
#include "base/clock.h"
#include "domain/intent.h"
#include "domain/profile.h"
#include "graph/graph.h"
#include "graph/saver.h"
#include "store/redis/redis.h"
#include "store/session.h"

#define INTENTS SA_SOURCE_DIR "/data/intents"
#define PROFILE SA_SOURCE_DIR "/data/product.json"
#define TTL 7200L /* SESSION_TTL_SECONDS here: two hours */
#define CHECKPOINT_TTL 3600L

static struct sa_intent_model *model;
static struct sa_profile *profile;

struct fixture {
    bool redis;
    struct sa_redis *raw; /* for TTL and cleanup; NULL on memory */
    struct graph_saver *saver;
    struct sa_conversation *c;
    struct sa_session_store *sessions;
    char thread[64];
    time_t t0;
};

static int group_setup(void **state)
{
    (void)state;
    struct sa_err err = {0};
    if (sa_intent_train(INTENTS, &model, NULL, &err) || sa_profile_load(PROFILE, &profile, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    sa_intent_free(model);
    sa_profile_free(profile);
    return 0;
}

static struct sa_redis *open_pool(int n)
{
    struct sa_redis *r = NULL;
    struct sa_err err = {0};
    if (sa_redis_open(getenv("SA_TEST_REDIS_URL"), 2000, n, &r, &err))
        fail_msg("redis: %s", err.msg);
    return r;
}

static bool have_redis(void)
{
    const char *u = getenv("SA_TEST_REDIS_URL");
    return u && *u;
}

/* A conversation on the memory saver with the derived store, or on Redis's saver and
 * session store; each test's thread is unique to this process. */
static int setup(void **state, bool redis)
{
    static int n;
    struct fixture *f = calloc(1, sizeof *f);
    struct sa_err err = {0};
    f->redis = redis;
    f->t0 = time(NULL) + 10 * 86400;
    sa_clock_set_fixed(f->t0);
    snprintf(f->thread, sizeof f->thread, "tcs-%ld-%d", (long)getpid(), ++n);
    if (redis) {
        f->raw = open_pool(2);
        if (sa_redis_saver_new(open_pool(4), true, CHECKPOINT_TTL, &f->saver, &err))
            fail_msg("%s", err.msg);
    } else {
        f->saver = graph_saver_memory_new();
    }
    if (sa_conversation_new(model, f->saver, NULL, NULL, profile, 0.0, (double)TTL, &f->c, &err))
        fail_msg("%s", err.msg);
    if (redis ? sa_session_redis_new(open_pool(2), true, NULL, &f->sessions, &err)
              : sa_conversation_sessions_new(f->c, &f->sessions, &err))
        fail_msg("%s", err.msg);
    *state = f;
    return 0;
}

static int setup_memory(void **state)
{
    return setup(state, false);
}

static int setup_redis(void **state)
{
    if (!have_redis()) {
        *state = NULL;
        return 0;
    }
    return setup(state, true);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (!f)
        return 0;
    struct sa_err err = {0};
    assert_int_equal(sa_session_del(f->sessions, f->thread, &err), 0);
    if (graph_saver_delete_thread(f->saver, f->thread, &err))
        fail_msg("%s", err.msg);
    sa_session_store_free(f->sessions);
    sa_conversation_free(f->c);
    graph_saver_free(f->saver);
    sa_redis_close(f->raw);
    sa_clock_set_fixed(0);
    free(f);
    return 0;
}

#define SKIP_WITHOUT_REDIS(f)                                                                      \
    do {                                                                                           \
        if (!(f)) {                                                                                \
            print_message("skipped: SA_TEST_REDIS_URL is not set (test_conversation_session_"      \
                          "redis runs this with the backends fixture)\n");                         \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static long long key_ttl(struct fixture *f, const char *key)
{
    const char *argv[] = {"TTL", key};
    struct sa_redis_cmd c = {2, argv, NULL};
    redisReply *rep = NULL;
    struct sa_err err = {0};
    if (sa_redis_run(f->raw, 1, &c, &rep, "test", &err) || rep->type != REDIS_REPLY_INTEGER)
        fail_msg("TTL %s: %s", key, err.msg);
    long long v = rep->integer;
    sa_redis_replies_free(1, &rep);
    return v;
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static char *iso(time_t t)
{
    static char buf[4][SA_ISO8601_LEN];
    static int i;
    char *b = buf[i++ % 4];
    sa_iso8601_format_ms((double)t, b);
    return b;
}

/* One turn at business time t; stores the session as the invoke service does (a no-op
 * for the derived store) and returns it (new reference); *out the turn's output. */
static json_t *turn_at(struct fixture *f, time_t t, const char *message, json_t **out)
{
    sa_clock_set_fixed(t);
    struct sa_err err = {0};
    json_t *in = json_pack("{s:s, s:{s:s, s:s}}", "message", message, "contact", "name",
                           "Dana Reyes", "email", "dana@northwind-test.example");
    json_t *session = NULL;
    if (sa_conversation_turn(f->c, f->thread, in, out, &session, &err))
        fail_msg("turn: %s", err.msg);
    json_decref(in);
    if (sa_session_put(f->sessions, f->thread, session, TTL, &err))
        fail_msg("put: %s", err.msg);
    return session;
}

/* The store answers what the turn returned, field for field. */
static void expect_stored(struct fixture *f, const json_t *session)
{
    json_t *got = NULL;
    struct sa_err err = {0};
    assert_int_equal(sa_session_get(f->sessions, f->thread, &got, &err), 0);
    if (!json_equal(got, (json_t *)session)) {
        char *a = json_dumps(got, JSON_SORT_KEYS), *b = json_dumps(session, JSON_SORT_KEYS);
        fail_msg("stored %s\nturn   %s", a, b);
    }
    json_decref(got);
}

/* The conversation's keys on Redis all live SESSION_TTL_SECONDS from now (a few seconds of
 * slack for a slow run): far beyond the pipeline's hour. */
static void expect_session_life(struct fixture *f)
{
    if (!f->redis)
        return;
    char key[160];
    static const char *const parts[] = {"latest", "index", "rec"};
    for (int i = 0; i < 3; i++) {
        snprintf(key, sizeof key, "agent:checkpoint:{%s}:%s", f->thread, parts[i]);
        assert_in_range(key_ttl(f, key), TTL - 30, TTL);
    }
    snprintf(key, sizeof key, "session:{%s}:state", f->thread);
    assert_in_range(key_ttl(f, key), TTL - 30, TTL);
}

static void test_session_follows_turns(void **state)
{
    struct fixture *f = *state;
    SKIP_WITHOUT_REDIS(f);
    json_t *out = NULL;
    json_t *s = turn_at(f, f->t0, "Hi there, Dana from Northwind here", &out);
    assert_string_equal(str(s, "thread_id"), f->thread);
    assert_int_equal(json_integer_value(json_object_get(s, "turns")), 1);
    assert_string_equal(str(s, "stage"), "introduction");
    assert_true(json_is_null(json_object_get(s, "previous_stage")));
    assert_string_equal(str(s, "last_intent"), "greeting");
    assert_string_equal(str(s, "last_intent"), str(out, "intent"));
    assert_true(json_real_value(json_object_get(s, "last_confidence")) ==
                json_real_value(json_object_get(out, "confidence")));
    assert_string_equal(str(s, "language"), "en");
    assert_false(json_is_true(json_object_get(s, "do_not_contact")));
    assert_true(json_is_null(json_object_get(s, "lead_id"))); /* no store: nothing to link */
    assert_null(json_object_get(s, "contact_email"));         /* no personal data */
    assert_string_equal(str(s, "created_at"), iso(f->t0));
    assert_string_equal(str(s, "updated_at"), iso(f->t0));
    assert_string_equal(str(s, "expires_at"), iso(f->t0 + TTL));
    expect_stored(f, s);
    expect_session_life(f);
    json_decref(out);
    json_decref(s);

    /* two hours later, past the pipeline's 1 h checkpoint TTL: the conversation goes on
     * with its history */
    time_t t1 = f->t0 + 2 * 3600 - 60;
    s = turn_at(f, t1, "How much does it cost for 40 seats? Send me pricing", &out);
    assert_int_equal(json_integer_value(json_object_get(s, "turns")), 2);
    assert_string_equal(str(s, "previous_stage"), "introduction");
    assert_string_equal(str(s, "stage"), "solution");
    assert_string_equal(str(s, "last_intent"), "pricing");
    assert_string_equal(str(s, "created_at"), iso(f->t0));
    assert_string_equal(str(s, "updated_at"), iso(t1));
    assert_string_equal(str(s, "expires_at"), iso(t1 + TTL));
    assert_int_equal(json_array_size(json_object_get(out, "history")), 4);
    assert_string_equal(str(json_array_get(json_object_get(out, "history"), 0), "content"),
                        "Hi there, Dana from Northwind here");
    assert_false(sa_conversation_session_expired(s, (double)t1 + TTL - 1));
    expect_stored(f, s);
    expect_session_life(f);
    json_decref(out);
    json_decref(s);
}

static void test_session_expires(void **state)
{
    struct fixture *f = *state;
    SKIP_WITHOUT_REDIS(f);
    json_t *out = NULL;
    json_t *s = turn_at(f, f->t0, "Hi there, Dana from Northwind here", &out);
    json_decref(out);
    json_decref(s);
    s = turn_at(f, f->t0 + 60, "How much does it cost for 40 seats? Send me pricing", &out);
    json_decref(out);
    /* SESSION_TTL_SECONDS of silence: expired, to the second */
    assert_false(sa_conversation_session_expired(s, (double)(f->t0 + 60 + TTL - 1)));
    assert_true(sa_conversation_session_expired(s, (double)(f->t0 + 60 + TTL)));
    json_decref(s);
    /* the database savers' sweep deletes the thread then (the memory saver's does too) */
    struct sa_err err = {0};
    int swept = -1;
    sa_clock_set_fixed(f->t0 + 60 + TTL + 1);
    if (!f->redis) {
        assert_int_equal(graph_sweep(sa_conversation_graph(f->c), &swept, &err), 0);
        assert_int_equal(swept, 1);
        json_t *gone = NULL;
        assert_int_equal(sa_session_get(f->sessions, f->thread, &gone, &err), SA_ENOTFOUND);
    }
    /* and the next message starts a new conversation, on every backend: Redis keeps the
     * keys until its own clock says so, the turn forgets them on ours */
    time_t t2 = f->t0 + 60 + TTL + 5;
    s = turn_at(f, t2, "Hello, who is this?", &out);
    assert_int_equal(json_integer_value(json_object_get(s, "turns")), 1);
    assert_true(json_is_null(json_object_get(s, "previous_stage")));
    assert_string_equal(str(s, "created_at"), iso(t2));
    assert_int_equal(json_array_size(json_object_get(out, "history")), 2);
    expect_stored(f, s);
    expect_session_life(f);
    json_decref(out);
    json_decref(s);
}

/* A record without an expiry of its graph's (the pipeline's) keeps the saver's TTL; one
 * with a later expiry gets the distance to it on the business clock, whatever Redis's
 * clock; one with an earlier expiry never shortens the saver's TTL. */
static void test_saver_ttl_by_record(void **state)
{
    struct fixture *f = *state;
    SKIP_WITHOUT_REDIS(f);
    char thread[80], key[160];
    snprintf(thread, sizeof thread, "%s-pipe", f->thread);
    struct graph_record r = {.id = "0190b6c4-0000-7000-8000-000000000001",
                             .step = 0,
                             .full = true,
                             .blob = (char *)"{}",
                             .blob_len = 2};
    struct sa_err err = {0};
    assert_int_equal(graph_saver_put(f->saver, thread, &r, &err), 0);
    snprintf(key, sizeof key, "agent:checkpoint:{%s}:rec", thread);
    assert_in_range(key_ttl(f, key), CHECKPOINT_TTL - 30, CHECKPOINT_TTL);
    r.expires_at = (double)f->t0 + 7 * 86400; /* t0 is ten days ahead of Redis's clock */
    snprintf(r.id, sizeof r.id, "0190b6c4-0000-7000-8000-000000000002");
    assert_int_equal(graph_saver_put(f->saver, thread, &r, &err), 0);
    assert_in_range(key_ttl(f, key), 7 * 86400 - 30, 7 * 86400);
    r.expires_at = (double)f->t0 - 5; /* already past: the saver's hour, never less */
    snprintf(r.id, sizeof r.id, "0190b6c4-0000-7000-8000-000000000003");
    assert_int_equal(graph_saver_put(f->saver, thread, &r, &err), 0);
    assert_in_range(key_ttl(f, key), CHECKPOINT_TTL - 30, CHECKPOINT_TTL);
    assert_int_equal(graph_saver_delete_thread(f->saver, thread, &err), 0);
}

/* The Redis store itself: the key's name and value, replace, del, unknown, bad input. */
static void test_redis_store_contract(void **state)
{
    struct fixture *f = *state;
    SKIP_WITHOUT_REDIS(f);
    struct sa_session_store *s = NULL;
    struct sa_err err = {0};
    char prefix[48], key[160];
    snprintf(prefix, sizeof prefix, "t%ld.", (long)getpid());
    assert_int_equal(sa_session_redis_new(f->raw, false, prefix, &s, &err), 0);
    assert_string_equal(sa_session_store_name(s), "redis");
    json_t *got = NULL;
    assert_int_equal(sa_session_get(s, "nobody", &got, &err), SA_ENOTFOUND);
    assert_null(got);
    json_t *v1 = json_pack("{s:s, s:i}", "stage", "introduction", "turns", 1);
    json_t *v2 = json_pack("{s:s, s:i}", "stage", "solution", "turns", 2);
    assert_int_equal(sa_session_put(s, "c-1", v1, 600, &err), 0);
    assert_int_equal(sa_session_put(s, "c-1", v2, 900, &err), 0); /* replaces, new TTL */
    assert_int_equal(sa_session_get(s, "c-1", &got, &err), 0);
    assert_true(json_equal(got, v2));
    json_decref(got);
    snprintf(key, sizeof key, "%ssession:{c-1}:state", prefix);
    assert_in_range(key_ttl(f, key), 870, 900);
    const char *argv[] = {"GET", key};
    struct sa_redis_cmd c = {2, argv, NULL};
    redisReply *rep = NULL;
    assert_int_equal(sa_redis_run(f->raw, 1, &c, &rep, "test", &err), 0);
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    assert_string_equal(rep->str, "{\"stage\":\"solution\",\"turns\":2}");
    sa_redis_replies_free(1, &rep);
    assert_int_equal(sa_session_del(s, "c-1", &err), 0);
    assert_int_equal(sa_session_del(s, "c-1", &err), 0); /* none: no error */
    assert_int_equal(sa_session_get(s, "c-1", &got, &err), SA_ENOTFOUND);
    assert_int_equal(sa_session_put(s, "", v1, 600, &err), SA_EINVAL);
    assert_int_equal(sa_session_put(s, "c-2", v1, 0, &err), SA_EINVAL);
    /* something that is not a session under the key: corrupt, not a crash */
    snprintf(key, sizeof key, "%ssession:{c-3}:state", prefix);
    const char *set[] = {"SET", key, "not json", "EX", "60"};
    c = (struct sa_redis_cmd){5, set, NULL};
    assert_int_equal(sa_redis_run(f->raw, 1, &c, &rep, "test", &err), 0);
    sa_redis_replies_free(1, &rep);
    assert_int_equal(sa_session_get(s, "c-3", &got, &err), SA_EIO);
    assert_int_equal(sa_session_del(s, "c-3", &err), 0);
    json_decref(v1);
    json_decref(v2);
    sa_session_store_free(s);
}

static int set_x(const json_t *st, json_t **update, struct graph_ctx *ctx, void *arg)
{
    (void)st;
    (void)ctx;
    (void)arg;
    *update = json_pack("{s:i}", "x", 2);
    return 0;
}

/* The derived store: nothing for an unknown thread, or for another graph's. */
static void test_derived_store(void **state)
{
    struct fixture *f = *state;
    struct sa_err err = {0};
    assert_string_equal(sa_session_store_name(f->sessions), "checkpoints");
    json_t *got = NULL;
    assert_int_equal(sa_session_get(f->sessions, f->thread, &got, &err), SA_ENOTFOUND);
    struct graph_builder *b = graph_builder_new();
    graph_add_channel(b, "x", GRAPH_LAST_VALUE, NULL, NULL, NULL);
    graph_add_node(b, "set_x", set_x, NULL, NULL);
    graph_add_edge(b, GRAPH_START, "set_x");
    graph_add_edge(b, "set_x", GRAPH_END);
    struct graph *other = NULL;
    struct graph_compile_opts o = {.saver = f->saver};
    if (graph_compile(b, &o, &other, &err))
        fail_msg("%s", err.msg);
    graph_builder_free(b);
    json_t *in = json_pack("{s:i}", "x", 1);
    struct graph_run_opts ro = {.thread_id = f->thread};
    struct graph_result res;
    assert_int_equal(graph_invoke(other, in, &ro, &res, &err), 0);
    graph_result_clear(&res);
    json_decref(in);
    assert_int_equal(sa_session_get(f->sessions, f->thread, &got, &err), SA_ENOTFOUND);
    graph_free(other);
}

#define CASE(name, fn, backend)                                                                    \
    {                                                                                              \
        name, fn, setup_##backend, teardown, NULL                                                  \
    }

int main(void)
{
    const struct CMUnitTest tests[] = {
        CASE("session_follows_turns_memory", test_session_follows_turns, memory),
        CASE("session_expires_memory", test_session_expires, memory),
        CASE("derived_store_memory", test_derived_store, memory),
        CASE("session_follows_turns_redis", test_session_follows_turns, redis),
        CASE("session_expires_redis", test_session_expires, redis),
        CASE("saver_ttl_by_record_redis", test_saver_ttl_by_record, redis),
        CASE("redis_store_contract_redis", test_redis_store_contract, redis),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
