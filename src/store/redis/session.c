/* The Redis session store (store/session.h), opened by the composition root when REDIS_URL
 * is set. One key per conversation, the original design's:
 *
 *   session:{T}:state   string: the session as compact JSON (agents/conversation.h says
 *                       which fields), SET ... EX ttl on every turn
 *
 * {T} is the thread id as the Redis Cluster hash tag, the same tag as the thread's
 * checkpoint keys (agent:checkpoint:{T}:...), so a session and its history share a slot.
 * Thread ids are letters, digits and - _ . : (http/params.c), never braces, so the tag
 * cannot be broken out of. The TTL is the session's life on Redis's own clock: a session
 * left silent for SESSION_TTL_SECONDS vanishes without a sweep. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/redis/redis.h"
#include "store/session.h"

#define THREAD_ID_MAX 512
#define PREFIX_MAX 64
#define KEY_MAX (PREFIX_MAX + THREAD_ID_MAX + 32)
#define STATE_MAX ((size_t)1 << 20) /* a session is a few hundred bytes: more is corrupt */

struct redis_sessions {
    struct sa_session_store base; /* first */
    struct sa_redis *r;
    bool owns_r;
    char prefix[PREFIX_MAX];
};

static int session_key(const struct redis_sessions *s, const char *thread_id, char key[KEY_MAX],
                       struct sa_err *err)
{
    size_t n = strnlen(thread_id, THREAD_ID_MAX + 1);
    if (n == 0 || n > THREAD_ID_MAX) {
        sa_err_set(err, SA_EINVAL, "thread id: expected 1-%d bytes", THREAD_ID_MAX);
        return SA_EINVAL; /* a literal, so the analyzer sees key is set whenever this is 0 */
    }
    snprintf(key, KEY_MAX, "%ssession:{%s}:state", s->prefix, thread_id);
    return 0;
}

/* One command; *rep checked for an error reply (freed and NULL on failure). */
static int run1(struct redis_sessions *s, int argc, const char **argv, const size_t *len,
                redisReply **rep, const char *what, struct sa_err *err)
{
    struct sa_redis_cmd cmd = {argc, argv, len};
    *rep = NULL;
    int rc = sa_redis_run(s->r, 1, &cmd, rep, what, err);
    if (!rc)
        rc = sa_redis_reply_ok(*rep, what, err);
    if (rc)
        sa_redis_replies_free(1, rep);
    return rc;
}

static int rs_put(struct sa_session_store *base, const char *thread_id, const json_t *state,
                  long ttl_seconds, struct sa_err *err)
{
    struct redis_sessions *s = (struct redis_sessions *)base;
    char key[KEY_MAX];
    int rc = session_key(s, thread_id, key, err);
    if (rc)
        return rc;
    if (!json_is_object(state) || ttl_seconds <= 0)
        return sa_err_set(err, SA_EINVAL, "a session is a JSON object kept for 1 s or more");
    char *text = json_dumps(state, JSON_COMPACT);
    if (!text)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%ld", ttl_seconds);
    const char *argv[] = {"SET", key, text, "EX", ttl};
    redisReply *rep = NULL;
    rc = run1(s, 5, argv, NULL, &rep, "session put", err);
    sa_redis_replies_free(1, &rep);
    free(text);
    return rc;
}

static int rs_get(struct sa_session_store *base, const char *thread_id, json_t **out,
                  struct sa_err *err)
{
    struct redis_sessions *s = (struct redis_sessions *)base;
    *out = NULL;
    char key[KEY_MAX];
    int rc = session_key(s, thread_id, key, err);
    if (rc)
        return rc;
    const char *argv[] = {"GET", key};
    redisReply *rep = NULL;
    if ((rc = run1(s, 2, argv, NULL, &rep, "session get", err)))
        return rc;
    if (rep->type == REDIS_REPLY_NIL) {
        rc = sa_err_set(err, SA_ENOTFOUND, "no conversation session %s", thread_id);
    } else if (rep->type != REDIS_REPLY_STRING || rep->len > STATE_MAX) {
        rc = sa_redis_reply_ok(NULL, "session get", err);
    } else {
        *out = json_loadb(rep->str, rep->len, 0, NULL);
        if (!json_is_object(*out)) {
            json_decref(*out);
            *out = NULL;
            rc = sa_err_set(err, SA_EIO, "conversation session %s is corrupt", thread_id);
        }
    }
    sa_redis_replies_free(1, &rep);
    return rc;
}

static int rs_del(struct sa_session_store *base, const char *thread_id, struct sa_err *err)
{
    struct redis_sessions *s = (struct redis_sessions *)base;
    char key[KEY_MAX];
    int rc = session_key(s, thread_id, key, err);
    if (rc)
        return rc;
    const char *argv[] = {"DEL", key};
    redisReply *rep = NULL;
    rc = run1(s, 2, argv, NULL, &rep, "session delete", err);
    sa_redis_replies_free(1, &rep);
    return rc;
}

static void rs_free(struct sa_session_store *base)
{
    struct redis_sessions *s = (struct redis_sessions *)base;
    if (s->owns_r)
        sa_redis_close(s->r);
    free(s);
}

static const struct sa_session_store_ops redis_session_ops = {
    .name = "redis",
    .put = rs_put,
    .get = rs_get,
    .del = rs_del,
    .free = rs_free,
};

int sa_session_redis_new(struct sa_redis *r, bool owns_r, const char *prefix,
                         struct sa_session_store **out, struct sa_err *err)
{
    *out = NULL;
    struct redis_sessions *s = calloc(1, sizeof *s);
    if (!s) {
        if (owns_r)
            sa_redis_close(r);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    s->base.ops = &redis_session_ops;
    s->r = r;
    s->owns_r = owns_r;
    snprintf(s->prefix, sizeof s->prefix, "%s", prefix ? prefix : "");
    *out = &s->base;
    return 0;
}
