/* Conversation sessions: the compact state of a conversation thread (stage, turns, language,
 * last intent, consent, linked lead, times), read by GET /api/conversations/{thread_id}.
 * Implementations: Redis (store/redis/session.c, with REDIS_URL: the original design's key
 * session:{thread_id}:state, shared by every instance) and the conversation's own
 * checkpoints (agents/conversation.c, sa_conversation_sessions_new, without REDIS_URL: the
 * state is derived from the thread's latest checkpoint, so nothing is stored twice and a
 * restart or another instance on the same database sees the same session). The
 * composition root (app/app.c) opens one; the invoke service writes it after each turn and
 * the conversations service reads it. docs/redis.md has the key schema. Every op is
 * thread-safe. */
#ifndef SA_STORE_SESSION_H
#define SA_STORE_SESSION_H

#include <jansson.h>
#include <stdbool.h>

#include "base/err.h"

struct sa_session_store;
struct sa_redis;

/* The ops a session store implements. Every slot is required except those marked
 * optional: an optional slot may be NULL and its wrapper below applies the default.
 * Fallible ops return 0 or a negative SA_* code with err set (a server's own error text
 * goes to the log, never to err). Callers use the wrappers, never the slots. Whether a
 * session has expired on the business clock is the caller's rule (the session's
 * "expires_at"): a store only keeps and forgets. */
struct sa_session_store_ops {
    const char *name;
    /* Optional (default: nothing to do, for a store that derives the session from what the
     * turn already stored). Stores state (a JSON object; not consumed) as thread_id's
     * session, replacing the one before, and keeps it at least ttl_seconds (> 0). */
    int (*put)(struct sa_session_store *s, const char *thread_id, const json_t *state,
               long ttl_seconds, struct sa_err *err);
    /* *out (new reference, caller decrefs): thread_id's session. SA_ENOTFOUND when there is
     * none (never written, forgotten, or the thread is not a conversation). */
    int (*get)(struct sa_session_store *s, const char *thread_id, json_t **out, struct sa_err *err);
    /* Optional (default: nothing to do). Forgets thread_id's session; none is no error. */
    int (*del)(struct sa_session_store *s, const char *thread_id, struct sa_err *err);
    /* Frees the store (NULL-safe through the wrapper). */
    void (*free)(struct sa_session_store *s);
};

struct sa_session_store {
    const struct sa_session_store_ops *ops; /* implementations embed this struct first */
};

/* The Redis store over r (owns_r: the store closes r when freed; else r is borrowed and
 * MUST outlive it). Keys are PREFIX + "session:{THREAD_ID}:state" (prefix NULL: none; for
 * tests sharing a server; copied), a string holding the state as compact JSON, SET with
 * EX ttl_seconds on every put. Returns 0 or SA_ENOMEM (r then closed when owned). */
int sa_session_redis_new(struct sa_redis *r, bool owns_r, const char *prefix,
                         struct sa_session_store **out, struct sa_err *err) SA_WUR;

/* ---- the defaults of the optional slots ---- */

static inline SA_WUR int sa_session_def_put(struct sa_session_store *s, const char *thread_id,
                                            const json_t *state, long ttl_seconds,
                                            struct sa_err *err)
{
    (void)s;
    (void)thread_id;
    (void)state;
    (void)ttl_seconds;
    (void)err;
    return 0;
}
static inline SA_WUR int sa_session_def_del(struct sa_session_store *s, const char *thread_id,
                                            struct sa_err *err)
{
    (void)s;
    (void)thread_id;
    (void)err;
    return 0;
}

/* ---- the wrappers callers use, one per slot (see struct sa_session_store_ops) ---- */

/* The implementation's name ("redis", "checkpoints"): for logs and tests. */
static inline const char *sa_session_store_name(const struct sa_session_store *s)
{
    return s->ops->name;
}
static inline SA_WUR int sa_session_put(struct sa_session_store *s, const char *thread_id,
                                        const json_t *state, long ttl_seconds, struct sa_err *err)
{
    return (s->ops->put ? s->ops->put : sa_session_def_put)(s, thread_id, state, ttl_seconds, err);
}
static inline SA_WUR int sa_session_get(struct sa_session_store *s, const char *thread_id,
                                        json_t **out, struct sa_err *err)
{
    return s->ops->get(s, thread_id, out, err);
}
static inline SA_WUR int sa_session_del(struct sa_session_store *s, const char *thread_id,
                                        struct sa_err *err)
{
    return (s->ops->del ? s->ops->del : sa_session_def_del)(s, thread_id, err);
}
static inline void sa_session_store_free(struct sa_session_store *s)
{
    if (s)
        s->ops->free(s);
}

#endif
