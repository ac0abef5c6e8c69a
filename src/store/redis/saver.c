/* The Redis checkpoint saver (graph/saver.h), opened by the registry (sa_saver_open with
 * redis://...) or by the composition root when CHECKPOINT_STORE=redis. docs/redis.md says
 * the same with the reasons.
 *
 * Key schema. The original design kept one key per lead and agent type,
 * `agent:checkpoint:{lead_id}:{agent_type}`, holding the latest checkpoint. Our graphs run
 * threads (a thread id names a lead's pipeline or a conversation) with a history of
 * checkpoints (history, fork, replay, pending writes), so a thread has three keys, all
 * with the thread id as the cluster hash tag so that they share a slot (MULTI/EXEC and
 * the scripts below touch them together):
 *
 *   agent:checkpoint:{T}:latest   string: the newest record's id (the original's key)
 *   agent:checkpoint:{T}:index    sorted set of record ids, all with score 0: Redis orders
 *                                 equal scores by member, and record ids are UUIDv7, which
 *                                 sort by creation, so ZREVRANGE lists newest first (the
 *                                 order SQLite's ORDER BY id DESC gives)
 *   agent:checkpoint:{T}:rec      hash with three fields per record ID:
 *                                   ID    the blob: one header byte, then the bytes
 *                                   ID:m  "step full expires_at parent_id" as text
 *                                   ID:w  the pending writes (same encoding), when any
 *
 * One hash for all records (rather than a key per record) keeps the key count per thread
 * at three whatever its history: setting the TTL on "all of a thread's keys" is three
 * EXPIREs in the put's MULTI/EXEC, and deleting a thread is one DEL.
 *
 * Encoding: the header byte is 0 for bytes stored as given, 1 for a zstd frame. Values
 * above COMPRESS_ABOVE bytes are compressed unless they already are a zstd frame (the
 * engine compresses large blobs itself, src/graph/checkpoint.c) or would not shrink.
 *
 * TTL: every put sets the thread's three keys to expire CHECKPOINT_TTL_SECONDS after it
 * (EXPIRE in the same MULTI/EXEC), as the original design's 1 h checkpoint TTL, or, when
 * the record carries a later expiry of its graph's (a conversation: SESSION_TTL_SECONDS),
 * at that expiry, so a conversation's history lives as long as its session. A run that
 * stops waiting for a human calls hold (graph/saver.h): PERSIST on the three keys, so an
 * approval answered days later still finds its thread; the next put (the resumed run)
 * sets the TTL again. All keys of a thread share one life, so a thread never loses its
 * older records before its newest. sweep keeps the default (nothing to do): Redis expires
 * the keys itself. */
#include <hiredis/hiredis.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "base/clock.h"
#include "graph/saver.h"
#include "store/redis/redis.h"

#define COMPRESS_ABOVE 256
#define DECODED_MAX ((size_t)256 << 20) /* a larger frame is refused as corrupt */
#define THREAD_ID_MAX 512
#define KEY_MAX (THREAD_ID_MAX + 32)

enum { CODEC_RAW = 0, CODEC_ZSTD = 1 };

/* put_writes (KEYS[1]: rec): only on a record that exists (SA_ENOTFOUND otherwise, as
 * every saver). */
static const char put_writes_lua[] =
    "if redis.call('HEXISTS', KEYS[1], ARGV[1] .. ':m') == 0 then return 0 end\n"
    "if ARGV[2] == '1' then redis.call('HSET', KEYS[1], ARGV[1] .. ':w', ARGV[3])\n"
    "else redis.call('HDEL', KEYS[1], ARGV[1] .. ':w') end\n"
    "return 1\n";

/* get: ARGV[1] the id, or "" for the latest; {id, meta, blob, writes} or nil. KEYS, here
 * and below: latest, index, rec. */
static const char get_lua[] = "local id = ARGV[1]\n"
                              "if id == '' then id = redis.call('GET', KEYS[1]) end\n"
                              "if not id then return nil end\n"
                              "local v = redis.call('HMGET', KEYS[3], id .. ':m', id, id .. ':w')\n"
                              "if not v[1] then return nil end\n"
                              "return {id, v[1], v[2], v[3]}\n";

/* delete_except: everything but ARGV[1]; 0 when it does not exist. The keys keep their
 * TTL (or persistence): HDEL and ZREM do not touch it, SET ... KEEPTTL neither. */
static const char delete_except_lua[] =
    "local keep = ARGV[1]\n"
    "if redis.call('HEXISTS', KEYS[3], keep .. ':m') == 0 then return 0 end\n"
    "for _, f in ipairs(redis.call('HKEYS', KEYS[3])) do\n"
    "  if f ~= keep and f ~= keep .. ':m' and f ~= keep .. ':w' then\n"
    "    redis.call('HDEL', KEYS[3], f) end\n"
    "end\n"
    "for _, m in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do\n"
    "  if m ~= keep then redis.call('ZREM', KEYS[2], m) end\n"
    "end\n"
    "redis.call('SET', KEYS[1], keep, 'KEEPTTL')\n"
    "return 1\n";

/* thread_bytes: {records, bytes of field names and values}. */
static const char bytes_lua[] = "local b = 0\n"
                                "for _, f in ipairs(redis.call('HKEYS', KEYS[3])) do\n"
                                "  b = b + #f + redis.call('HSTRLEN', KEYS[3], f)\n"
                                "end\n"
                                "return {redis.call('ZCARD', KEYS[2]), b}\n";

struct redis_saver {
    struct graph_saver base; /* first */
    struct sa_redis *r;
    bool owns_r;
    long ttl;
    struct sa_redis_script put_writes, get, delete_except, bytes;
};

/* The thread's three keys. */
struct keys {
    char latest[KEY_MAX], index[KEY_MAX], rec[KEY_MAX];
    const char *all[3]; /* latest, index, rec: for scripts */
};

static int thread_keys(const char *thread_id, struct keys *k, struct sa_err *err)
{
    size_t n = strnlen(thread_id, THREAD_ID_MAX + 1);
    if (n == 0 || n > THREAD_ID_MAX) {
        sa_err_set(err, SA_EINVAL, "thread id: expected 1-%d bytes", THREAD_ID_MAX);
        return SA_EINVAL; /* a literal, so the analyzer sees k is set whenever this is 0 */
    }
    snprintf(k->latest, sizeof k->latest, "agent:checkpoint:{%s}:latest", thread_id);
    snprintf(k->index, sizeof k->index, "agent:checkpoint:{%s}:index", thread_id);
    snprintf(k->rec, sizeof k->rec, "agent:checkpoint:{%s}:rec", thread_id);
    k->all[0] = k->latest;
    k->all[1] = k->index;
    k->all[2] = k->rec;
    return 0;
}

/* ---- the value encoding ---- */

static bool is_zstd(const char *p, size_t n)
{
    static const unsigned char magic[4] = {0x28, 0xB5, 0x2F, 0xFD}; /* ZSTD_MAGICNUMBER, LE */
    return n >= 4 && memcmp(p, magic, 4) == 0;
}

/* data as stored: *out (malloc'd, caller frees) of *outlen bytes. */
static int encode(const char *data, size_t len, char **out, size_t *outlen, struct sa_err *err)
{
    *out = NULL;
    *outlen = 0;
    if (len > COMPRESS_ABOVE && !is_zstd(data, len)) {
        size_t cap = ZSTD_compressBound(len);
        char *z = malloc(cap + 1);
        if (!z)
            return sa_err_set(err, SA_ENOMEM, "out of memory");
        size_t n = ZSTD_compress(z + 1, cap, data, len, 1);
        if (!ZSTD_isError(n) && n < len) {
            z[0] = CODEC_ZSTD;
            *out = z;
            *outlen = n + 1;
            return 0;
        }
        free(z);
    }
    char *d = malloc(len + 1);
    if (!d)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    d[0] = CODEC_RAW;
    if (len)
        memcpy(d + 1, data, len);
    *out = d;
    *outlen = len + 1;
    return 0;
}

/* A stored value back to its bytes: *out malloc'd and NUL-terminated (as the other
 * savers give them). */
static int decode(const char *id, const char *v, size_t n, char **out, size_t *outlen,
                  struct sa_err *err)
{
    *out = NULL;
    *outlen = 0;
    if (n < 1 || (v[0] != CODEC_RAW && v[0] != CODEC_ZSTD))
        return sa_err_set(err, SA_EIO, "checkpoint %s is corrupt: unknown encoding", id);
    size_t size = n - 1;
    if (v[0] == CODEC_ZSTD) {
        unsigned long long fs = ZSTD_getFrameContentSize(v + 1, n - 1);
        if (fs == ZSTD_CONTENTSIZE_ERROR || fs == ZSTD_CONTENTSIZE_UNKNOWN || fs > DECODED_MAX)
            return sa_err_set(err, SA_EIO, "checkpoint %s is corrupt: bad compressed data", id);
        size = (size_t)fs;
    }
    char *d = malloc(size + 1);
    if (!d)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    if (v[0] == CODEC_ZSTD) {
        size_t got = ZSTD_decompress(d, size, v + 1, n - 1);
        if (ZSTD_isError(got) || got != size) {
            free(d);
            return sa_err_set(err, SA_EIO, "checkpoint %s is corrupt: bad compressed data", id);
        }
    } else if (size) {
        memcpy(d, v + 1, size);
    }
    d[size] = '\0';
    *out = d;
    *outlen = size;
    return 0;
}

/* ---- ops ---- */

/* Checks every reply of a MULTI ... EXEC pipeline: the queued ones and each result. */
static int check_exec(int n, redisReply **rep, const char *what, struct sa_err *err)
{
    for (int i = 0; i < n; i++) {
        int rc = sa_redis_reply_ok(rep[i], what, err);
        if (rc)
            return rc;
    }
    const redisReply *exec = rep[n - 1];
    if (exec->type != REDIS_REPLY_ARRAY)
        return sa_redis_reply_ok(NULL, what, err);
    for (size_t i = 0; i < exec->elements; i++) {
        int rc = sa_redis_reply_ok(exec->element[i], what, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* The keys' life after this put: the saver's (CHECKPOINT_TTL_SECONDS, the pipeline's), or
 * longer when the record's own expiry is later (a conversation lives SESSION_TTL_SECONDS
 * after its last turn: graph_compile_opts.thread_ttl puts it in expires_at). Only ever
 * longer: a thread never lives less than the original's hour after its last checkpoint,
 * whatever expiry a record carries. expires_at is on the business clock (base/clock.h) and
 * Redis counts on its own, so what crosses is the distance, never the instant. */
static long record_ttl(const struct redis_saver *s, const struct graph_record *r)
{
    double left = r->expires_at > 0 ? ceil(r->expires_at - sa_wall_seconds()) : 0;
    return left > (double)s->ttl ? (left > 1e9 ? 1000000000L : (long)left) : s->ttl;
}

static int rs_put(struct graph_saver *base, const char *thread_id, const struct graph_record *r,
                  struct sa_err *err)
{
    struct redis_saver *s = (struct redis_saver *)base;
    struct keys k;
    int rc = thread_keys(thread_id, &k, err);
    if (rc)
        return rc;
    char *blob = NULL, *writes = NULL;
    size_t blob_len = 0, writes_len = 0;
    if ((rc = encode(r->blob, r->blob_len, &blob, &blob_len, err)) ||
        (r->writes && (rc = encode(r->writes, r->writes_len, &writes, &writes_len, err)))) {
        free(blob);
        return rc;
    }
    char meta[128], mfield[GRAPH_ID_LEN + 2], wfield[GRAPH_ID_LEN + 2], ttl[24];
    snprintf(meta, sizeof meta, "%d %d %.6f %s", r->step, r->full ? 1 : 0, r->expires_at,
             r->parent_id);
    snprintf(mfield, sizeof mfield, "%s:m", r->id);
    snprintf(wfield, sizeof wfield, "%s:w", r->id);
    snprintf(ttl, sizeof ttl, "%ld", record_ttl(s, r));
    const char *hset[] = {"HSET", k.rec, r->id, blob, mfield, meta, wfield, writes};
    size_t hset_len[] = {4,
                         strlen(k.rec),
                         strlen(r->id),
                         blob_len,
                         strlen(mfield),
                         strlen(meta),
                         strlen(wfield),
                         writes_len};
    const char *zadd[] = {"ZADD", k.index, "0", r->id};
    const char *set[] = {"SET", k.latest, r->id};
    const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
    const char *life[3][3];
    struct sa_redis_cmd cmds[9];
    int n = 0;
    cmds[n++] = (struct sa_redis_cmd){1, multi, NULL};
    cmds[n++] = (struct sa_redis_cmd){writes ? 8 : 6, hset, hset_len};
    cmds[n++] = (struct sa_redis_cmd){4, zadd, NULL};
    cmds[n++] = (struct sa_redis_cmd){3, set, NULL};
    for (int i = 0; i < 3; i++) {
        life[i][0] = "EXPIRE";
        life[i][1] = k.all[i];
        life[i][2] = ttl;
        cmds[n++] = (struct sa_redis_cmd){3, life[i], NULL};
    }
    cmds[n++] = (struct sa_redis_cmd){1, exec, NULL};
    redisReply *rep[9] = {0};
    if (!(rc = sa_redis_run(s->r, n, cmds, rep, "checkpoint put", err)))
        rc = check_exec(n, rep, "checkpoint put", err);
    sa_redis_replies_free(n, rep);
    free(blob);
    free(writes);
    return rc;
}

static int rs_hold(struct graph_saver *base, const char *thread_id, struct sa_err *err)
{
    struct redis_saver *s = (struct redis_saver *)base;
    struct keys k;
    int rc = thread_keys(thread_id, &k, err);
    if (rc)
        return rc;
    const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"}, *persist[3][2];
    struct sa_redis_cmd cmds[5];
    int n = 0;
    cmds[n++] = (struct sa_redis_cmd){1, multi, NULL};
    for (int i = 0; i < 3; i++) {
        persist[i][0] = "PERSIST";
        persist[i][1] = k.all[i];
        cmds[n++] = (struct sa_redis_cmd){2, persist[i], NULL};
    }
    cmds[n++] = (struct sa_redis_cmd){1, exec, NULL};
    redisReply *rep[5] = {0};
    if (!(rc = sa_redis_run(s->r, n, cmds, rep, "checkpoint hold", err)))
        rc = check_exec(n, rep, "checkpoint hold", err);
    sa_redis_replies_free(n, rep);
    return rc;
}

static int rs_put_writes(struct graph_saver *base, const char *thread_id, const char *id,
                         const char *writes, size_t len, struct sa_err *err)
{
    struct redis_saver *s = (struct redis_saver *)base;
    struct keys k;
    int rc = thread_keys(thread_id, &k, err);
    if (rc)
        return rc;
    char *enc = NULL;
    size_t enc_len = 0;
    if (writes && (rc = encode(writes, len, &enc, &enc_len, err)))
        return rc;
    const char *args[] = {id, writes ? "1" : "0", enc ? enc : ""};
    const size_t arglen[] = {strlen(id), 1, enc_len};
    redisReply *rep = NULL;
    rc = sa_redis_eval(s->r, &s->put_writes, 1, &k.all[2], 3, args, arglen, &rep,
                       "checkpoint put writes", err);
    if (!rc && (rep->type != REDIS_REPLY_INTEGER || rep->integer != 1))
        rc = sa_err_set(err, SA_ENOTFOUND, "checkpoint %s not found", id);
    sa_redis_replies_free(1, &rep);
    free(enc);
    return rc;
}

/* "step full expires_at parent_id" into out. */
static int parse_meta(const char *id, const char *m, size_t n, struct graph_record *out,
                      struct sa_err *err)
{
    char buf[128];
    if (n >= sizeof buf)
        return sa_err_set(err, SA_EIO, "checkpoint %s is corrupt: bad metadata", id);
    memcpy(buf, m, n);
    buf[n] = '\0';
    char *p = buf, *end;
    long step = strtol(p, &end, 10);
    if (end == p || *end != ' ')
        return sa_err_set(err, SA_EIO, "checkpoint %s is corrupt: bad metadata", id);
    p = end + 1;
    long full = strtol(p, &end, 10);
    if (end == p || *end != ' ')
        return sa_err_set(err, SA_EIO, "checkpoint %s is corrupt: bad metadata", id);
    p = end + 1;
    double exp = strtod(p, &end);
    if (end == p || *end != ' ' || !isfinite(exp))
        return sa_err_set(err, SA_EIO, "checkpoint %s is corrupt: bad metadata", id);
    out->step = (int)step;
    out->full = full != 0;
    out->expires_at = exp;
    snprintf(out->parent_id, sizeof out->parent_id, "%s", end + 1);
    return 0;
}

static int rs_get(struct graph_saver *base, const char *thread_id, const char *id,
                  struct graph_record *out, struct sa_err *err)
{
    struct redis_saver *s = (struct redis_saver *)base;
    memset(out, 0, sizeof *out);
    struct keys k;
    int rc = thread_keys(thread_id, &k, err);
    if (rc)
        return rc;
    const char *args[] = {id ? id : ""};
    redisReply *rep = NULL;
    if ((rc = sa_redis_eval(s->r, &s->get, 3, k.all, 1, args, NULL, &rep, "checkpoint get", err)))
        return rc;
    if (rep->type != REDIS_REPLY_ARRAY) {
        rc = sa_err_set(err, SA_ENOTFOUND, "no checkpoint %s for thread %s", id ? id : "",
                        thread_id);
    } else if (rep->elements != 4 || rep->element[0]->type != REDIS_REPLY_STRING ||
               rep->element[1]->type != REDIS_REPLY_STRING) {
        rc = sa_redis_reply_ok(NULL, "checkpoint get", err);
    } else {
        snprintf(out->id, sizeof out->id, "%.*s", (int)rep->element[0]->len, rep->element[0]->str);
        const redisReply *blob = rep->element[2], *w = rep->element[3];
        rc = parse_meta(out->id, rep->element[1]->str, rep->element[1]->len, out, err);
        if (!rc && blob->type != REDIS_REPLY_STRING)
            rc = sa_err_set(err, SA_EIO, "checkpoint %s has no data", out->id);
        if (!rc)
            rc = decode(out->id, blob->str, blob->len, &out->blob, &out->blob_len, err);
        if (!rc && w->type == REDIS_REPLY_STRING)
            rc = decode(out->id, w->str, w->len, &out->writes, &out->writes_len, err);
    }
    sa_redis_replies_free(1, &rep);
    if (rc)
        graph_record_clear(out);
    return rc;
}

static int rs_list(struct graph_saver *base, const char *thread_id, int limit,
                   char (**ids)[GRAPH_ID_LEN], int *n, struct sa_err *err)
{
    struct redis_saver *s = (struct redis_saver *)base;
    *ids = NULL;
    *n = 0;
    struct keys k;
    int rc = thread_keys(thread_id, &k, err);
    if (rc)
        return rc;
    char stop[24];
    snprintf(stop, sizeof stop, "%d", limit > 0 ? limit - 1 : -1);
    const char *argv[] = {"ZREVRANGE", k.index, "0", stop};
    const size_t len[] = {9, strlen(k.index), 1, strlen(stop)};
    struct sa_redis_cmd cmd = {4, argv, len};
    redisReply *rep = NULL;
    if (!(rc = sa_redis_run(s->r, 1, &cmd, &rep, "checkpoint list", err)) &&
        !(rc = sa_redis_reply_ok(rep, "checkpoint list", err))) {
        if (rep->type != REDIS_REPLY_ARRAY) {
            rc = sa_redis_reply_ok(NULL, "checkpoint list", err);
        } else if (rep->elements > 0) {
            *ids = malloc(rep->elements * sizeof **ids);
            if (!*ids)
                rc = sa_err_set(err, SA_ENOMEM, "out of memory");
            for (size_t i = 0; !rc && i < rep->elements; i++) {
                const redisReply *e = rep->element[i];
                snprintf((*ids)[i], GRAPH_ID_LEN, "%.*s", (int)e->len, e->str ? e->str : "");
            }
            if (!rc)
                *n = (int)rep->elements;
        }
    }
    sa_redis_replies_free(1, &rep);
    if (rc) {
        free(*ids);
        *ids = NULL;
        *n = 0;
    }
    return rc;
}

static int rs_delete_thread(struct graph_saver *base, const char *thread_id, struct sa_err *err)
{
    struct redis_saver *s = (struct redis_saver *)base;
    struct keys k;
    int rc = thread_keys(thread_id, &k, err);
    if (rc)
        return rc;
    const char *argv[] = {"DEL", k.latest, k.index, k.rec};
    const size_t len[] = {3, strlen(k.latest), strlen(k.index), strlen(k.rec)};
    struct sa_redis_cmd cmd = {4, argv, len};
    redisReply *rep = NULL;
    if (!(rc = sa_redis_run(s->r, 1, &cmd, &rep, "checkpoint delete", err)))
        rc = sa_redis_reply_ok(rep, "checkpoint delete", err);
    sa_redis_replies_free(1, &rep);
    return rc;
}

static int rs_delete_except(struct graph_saver *base, const char *thread_id, const char *keep_id,
                            struct sa_err *err)
{
    struct redis_saver *s = (struct redis_saver *)base;
    struct keys k;
    int rc = thread_keys(thread_id, &k, err);
    if (rc)
        return rc;
    const char *args[] = {keep_id};
    redisReply *rep = NULL;
    rc = sa_redis_eval(s->r, &s->delete_except, 3, k.all, 1, args, NULL, &rep, "checkpoint prune",
                       err);
    if (!rc && (rep->type != REDIS_REPLY_INTEGER || rep->integer != 1))
        rc = sa_err_set(err, SA_ENOTFOUND, "checkpoint %s not found", keep_id);
    sa_redis_replies_free(1, &rep);
    return rc;
}

static int rs_thread_bytes(struct graph_saver *base, const char *thread_id, size_t *bytes,
                           int *records, struct sa_err *err)
{
    struct redis_saver *s = (struct redis_saver *)base;
    *bytes = 0;
    *records = 0;
    struct keys k;
    int rc = thread_keys(thread_id, &k, err);
    if (rc)
        return rc;
    redisReply *rep = NULL;
    if ((rc = sa_redis_eval(s->r, &s->bytes, 3, k.all, 0, NULL, NULL, &rep, "checkpoint bytes",
                            err)))
        return rc;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        rep->element[0]->type == REDIS_REPLY_INTEGER &&
        rep->element[1]->type == REDIS_REPLY_INTEGER) {
        *records = (int)rep->element[0]->integer;
        *bytes = (size_t)rep->element[1]->integer;
    } else {
        rc = sa_redis_reply_ok(NULL, "checkpoint bytes", err);
    }
    sa_redis_replies_free(1, &rep);
    return rc;
}

static void rs_free(struct graph_saver *base)
{
    struct redis_saver *s = (struct redis_saver *)base;
    if (s->owns_r)
        sa_redis_close(s->r);
    free(s);
}

static const struct graph_saver_ops redis_ops = {
    .name = "redis",
    .put = rs_put,
    .put_writes = rs_put_writes,
    .get = rs_get,
    .list = rs_list,
    .delete_thread = rs_delete_thread,
    .delete_except = rs_delete_except,
    .sweep = NULL, /* Redis expires the keys itself: graph_saver_def_sweep */
    .thread_bytes = rs_thread_bytes,
    .hold = rs_hold,
    .free = rs_free,
};

int sa_redis_saver_new(struct sa_redis *r, bool owns_r, long ttl_seconds, struct graph_saver **out,
                       struct sa_err *err)
{
    *out = NULL;
    struct redis_saver *s = calloc(1, sizeof *s);
    if (!s) {
        if (owns_r)
            sa_redis_close(r);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    s->base.ops = &redis_ops;
    s->r = r;
    s->owns_r = owns_r;
    s->ttl = ttl_seconds > 0 ? ttl_seconds : SA_REDIS_CHECKPOINT_TTL;
    s->put_writes.text = put_writes_lua;
    s->get.text = get_lua;
    s->delete_except.text = delete_except_lua;
    s->bytes.text = bytes_lua;
    *out = &s->base;
    return 0;
}

int sa_redis_saver_open(const char *location, struct graph_saver **out, struct sa_err *err)
{
    *out = NULL;
    char url[1024];
    if ((size_t)snprintf(url, sizeof url, "redis://%s", location) >= sizeof url)
        return sa_err_set(err, SA_ECONFIG, "REDIS_URL: too long");
    struct sa_redis *r = NULL;
    int rc = sa_redis_open(url, SA_REDIS_TIMEOUT_MS, 4, &r, err);
    explicit_bzero(url, sizeof url);
    return rc ? rc : sa_redis_saver_new(r, true, SA_REDIS_CHECKPOINT_TTL, out, err);
}
