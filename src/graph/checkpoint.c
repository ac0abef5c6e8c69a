/* Checkpoints (see docs/graph.md): serialising a run into records (deltas with periodic
 * full snapshots, zstd above a size), reading them back with validation, pending writes,
 * and the writer thread of durability "async". Called by run.c and state.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/uuid.h"
#include "graph/run.h"

/* Durability "async": records and pending writes go, in order, to a writer thread that
 * stores them while the next step runs. */
struct wjob {
    struct graph_record rec; /* a put (owns rec.blob), or writes for rec.id (owns .writes) */
    bool is_writes;
    struct wjob *next;
};

struct async_writer {
    pthread_t th;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct wjob *head, *tail;
    bool stop;
    int rc; /* the first failure; later jobs are dropped */
    struct sa_err err;
    struct graph_saver *sv;
    const char *thread_id; /* borrowed from the run's options */
};

/* ---- checkpoints -------------------------------------------------------------------- */

/* The next nodes to run from the current state (for snapshots), without marking. */
json_t *graph_r_next_nodes(struct run *r)
{
    json_t *next = json_array();
    for (int i = 1; i < r->g->nnodes; i++)
        if (graph_r_triggered(r, i))
            json_array_append_new(next, json_string(r->g->nodes[i].name));
    size_t k;
    json_t *s;
    json_array_foreach(r->sends, k, s) json_array_append(next, json_object_get(s, "node"));
    return next;
}

/* Serialises the run as a record: the channels changed since the last record (all of
 * them when full), their versions, what the nodes that ran have seen, pending Sends and
 * the step's metadata. Written straight into a buffer (sa_json_write): building a jansson
 * tree and dumping it cost more than the rest of the super-step together.
 * {"v":1,"step":N,"source":S,"created_at":T,"writes":{..},"values":{..},"cleared":[..],
 *  "versions":{..},"seen":{node:{chan:ver}},"sends":[..]} */
/* Writes an object key or array item name: a comma unless it is the first, the name as a
 * JSON string, and a colon when it is a key. */
static int write_name(struct sa_buf *b, bool *first, const char *name, bool key)
{
    int rc = sa_buf_puts(b, *first ? "" : ",");
    *first = false;
    rc = rc ? rc : sa_json_write_string(b, name, strlen(name));
    return rc || !key ? rc : sa_buf_puts(b, ":");
}

static char *serialise(struct run *r, bool full, size_t *len)
{
    const struct graph *g = r->g;
    struct sa_buf b;
    sa_buf_init(&b, (size_t)1 << 30);
    int rc = sa_buf_reserve(&b, 2048); /* most records fit: one allocation */
    rc = rc ? rc : sa_buf_puts(&b, "{\"v\":1,\"step\":");
    rc = rc ? rc : sa_json_write_int(&b, r->step);
    rc = rc ? rc : sa_buf_puts(&b, ",\"source\":\"");
    rc = rc ? rc : sa_buf_puts(&b, r->source);
    rc = rc ? rc : sa_buf_puts(&b, "\",\"created_at\":\"");
    rc = rc ? rc : sa_buf_puts(&b, r->created_at);
    rc = rc ? rc : sa_buf_puts(&b, "\",\"writes\":");
    rc = rc ? rc : sa_json_write(&b, r->step_writes);
    rc = rc ? rc : sa_buf_puts(&b, ",\"values\":{");
    bool first = true;
    for (int c = 0; c < g->nchans && !rc; c++) {
        if ((!full && !r->dirty[c]) || !r->vals[c])
            continue;
        rc = write_name(&b, &first, graph_r_chan_name(r, c), true);
        rc = rc ? rc : sa_json_write(&b, r->vals[c]);
    }
    rc = rc ? rc : sa_buf_puts(&b, "},\"cleared\":[");
    first = true;
    for (int c = 0; c < g->nchans && !rc && !full; c++) {
        if (!r->dirty[c] || r->vals[c])
            continue;
        rc = write_name(&b, &first, graph_r_chan_name(r, c), false);
    }
    rc = rc ? rc : sa_buf_puts(&b, "],\"versions\":{");
    first = true;
    for (int c = 0; c < g->nchans && !rc; c++) {
        if ((!full && !r->dirty[c]) || !r->ver[c])
            continue;
        rc = write_name(&b, &first, graph_r_chan_name(r, c), true);
        rc = rc ? rc : sa_json_write_int(&b, (long long)r->ver[c]);
    }
    rc = rc ? rc : sa_buf_puts(&b, "},\"seen\":{");
    first = true;
    for (int n = 1; n < g->nnodes && !rc; n++) {
        if (!full && !r->seen_dirty[n])
            continue;
        rc = write_name(&b, &first, g->nodes[n].name, true);
        rc = rc ? rc : sa_buf_puts(&b, "{");
        bool f2 = true;
        for (int k = 0; k < g->nodes[n].ntriggers && !rc; k++) {
            int c = g->nodes[n].triggers[k];
            if (!*graph_r_seen_at(r, n, c))
                continue;
            rc = write_name(&b, &f2, graph_r_chan_name(r, c), true);
            rc = rc ? rc : sa_json_write_int(&b, (long long)*graph_r_seen_at(r, n, c));
        }
        rc = rc ? rc : sa_buf_puts(&b, "}");
    }
    rc = rc ? rc : sa_buf_puts(&b, "},\"sends\":");
    rc = rc ? rc : sa_json_write(&b, r->sends);
    rc = rc ? rc : sa_buf_puts(&b, "}");
    if (rc) {
        sa_buf_free(&b);
        *len = 0;
        return NULL;
    }
    return sa_buf_steal(&b, len);
}

static void *writer_main(void *arg)
{
    struct async_writer *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->head && !w->stop)
            pthread_cond_wait(&w->cond, &w->lock);
        struct wjob *j = w->head;
        if (!j)
            break; /* stopped and drained */
        w->head = j->next;
        if (!w->head)
            w->tail = NULL;
        bool skip = w->rc != 0;
        pthread_mutex_unlock(&w->lock);
        struct sa_err err = {0};
        int rc = 0;
        if (!skip && j->is_writes)
            rc = graph_saver_put_writes(w->sv, w->thread_id, j->rec.id, j->rec.writes,
                                        j->rec.writes_len, &err);
        else if (!skip)
            rc = graph_saver_put(w->sv, w->thread_id, &j->rec, &err);
        graph_record_clear(&j->rec);
        free(j);
        pthread_mutex_lock(&w->lock);
        if (rc && !w->rc) {
            w->rc = rc;
            w->err = err;
        }
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int graph_r_writer_start(struct run *r, struct sa_err *err)
{
    struct async_writer *w = calloc(1, sizeof *w);
    if (!w)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->sv = r->g->saver;
    w->thread_id = r->thread_id;
    if (pthread_create(&w->th, NULL, writer_main, w) != 0) {
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        free(w);
        return sa_err_set(err, SA_ENOMEM, "cannot start the checkpoint writer");
    }
    r->aw = w;
    return 0;
}

/* Queues a job (taken). */
static void writer_push(struct async_writer *w, struct wjob *j)
{
    pthread_mutex_lock(&w->lock);
    if (w->tail)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* Waits for every queued save; returns the first failure. */
int graph_r_writer_finish(struct run *r, struct sa_err *err)
{
    struct async_writer *w = r->aw;
    if (!w)
        return 0;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->th, NULL);
    int rc = w->rc;
    if (rc && err)
        *err = w->err;
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
    r->aw = NULL;
    return rc;
}

/* Records larger than this are stored zstd-compressed (when that makes them smaller);
 * readers tell the two apart by zstd's frame magic, which JSON text cannot start with. */
#define COMPRESS_ABOVE 4096
#define DECOMPRESS_MAX ((size_t)64 << 20) /* a record claiming more is corrupt */

static void maybe_compress(struct graph_record *rec)
{
    if (rec->blob_len <= COMPRESS_ABOVE)
        return;
    size_t cap = ZSTD_compressBound(rec->blob_len);
    char *z = malloc(cap);
    if (!z)
        return; /* stored as it is */
    size_t n = ZSTD_compress(z, cap, rec->blob, rec->blob_len, 1);
    if (ZSTD_isError(n) || n >= rec->blob_len) {
        free(z);
        return;
    }
    free(rec->blob);
    rec->blob = z;
    rec->blob_len = n;
}

/* The record's JSON text: blob itself, or decompressed into *owned (caller frees). */
static int record_text(const char *id, const char *blob, size_t len, const char **text,
                       size_t *text_len, char **owned, struct sa_err *err)
{
    *owned = NULL;
    static const unsigned char magic[4] = {0x28, 0xB5, 0x2F, 0xFD}; /* ZSTD_MAGICNUMBER, LE */
    if (len < 4 || memcmp(blob, magic, 4) != 0) {
        *text = blob;
        *text_len = len;
        return 0;
    }
    unsigned long long size = ZSTD_getFrameContentSize(blob, len);
    if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR || size > DECOMPRESS_MAX)
        return sa_err_set(err, SA_EIO, "checkpoint %s is corrupt: bad compressed size", id);
    char *out = malloc((size_t)size + 1);
    if (!out)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    size_t n = ZSTD_decompress(out, (size_t)size, blob, len);
    if (ZSTD_isError(n) || n != size) {
        free(out);
        return sa_err_set(err, SA_EIO, "checkpoint %s is corrupt: bad compressed data", id);
    }
    out[n] = '\0';
    *owned = out;
    *text = out;
    *text_len = n;
    return 0;
}

/* Saves the run as a new checkpoint (a no-op without a saver or thread). */
int graph_r_save_checkpoint(struct run *r, const char *source, struct sa_err *err)
{
    snprintf(r->source, sizeof r->source, "%s", source);
    sa_iso8601_now(r->created_at);
    if (!r->g->saver || !r->thread_id) {
        r->unsaved = false;
        return 0;
    }
    bool full = r->force_full || !r->cp_id[0] || r->since_full + 1 >= r->g->full_every;
    struct graph_record rec = {.step = r->step, .full = full};
    if (r->g->thread_ttl > 0) {
        rec.expires_at = sa_wall_seconds() + r->g->thread_ttl;
    }
    sa_uuid_v7(rec.id);
    snprintf(rec.parent_id, sizeof rec.parent_id, "%s", r->force_full ? "" : r->cp_id);
    rec.blob = serialise(r, full, &rec.blob_len);
    if (!rec.blob)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    maybe_compress(&rec);
    int rc = 0;
    struct wjob *job = r->aw ? calloc(1, sizeof *job) : NULL;
    if (r->aw && !job) {
        free(rec.blob);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    if (job) {
        job->rec = rec; /* the writer frees the blob */
        writer_push(r->aw, job);
    } else {
        rc = graph_saver_put(r->g->saver, r->thread_id, &rec, err);
        free(rec.blob);
    }
    if (rc)
        return rc;
    snprintf(r->parent_id, sizeof r->parent_id, "%s", r->cp_id);
    memcpy(r->cp_id, rec.id, sizeof r->cp_id);
    r->since_full = full ? 0 : r->since_full + 1;
    memset(r->dirty, 0, (size_t)r->g->nchans * sizeof *r->dirty);
    memset(r->seen_dirty, 0, (size_t)r->g->nnodes * sizeof *r->seen_dirty);
    r->unsaved = false;
    json_decref(r->pending);
    r->pending = graph_r_pending_new();
    if (graph_r_wants(r, GRAPH_STREAM_CHECKPOINTS | GRAPH_STREAM_DEBUG)) {
        json_t *ev =
            json_pack("{s:{s:s, s:s}, s:o, s:{s:s, s:i, s:O}, s:o, s:s}", "config", "thread_id",
                      r->thread_id, "checkpoint_id", r->cp_id, "values", graph_r_snapshot(r),
                      "metadata", "source", r->source, "step", r->step, "writes", r->step_writes,
                      "next", graph_r_next_nodes(r), "parent_id", r->parent_id);
        if (graph_r_wants(r, GRAPH_STREAM_DEBUG))
            graph_r_emit(r, GRAPH_STREAM_DEBUG,
                         json_pack("{s:s, s:O}", "type", "checkpoint", "payload", ev));
        graph_r_emit(r, GRAPH_STREAM_CHECKPOINTS, ev);
    }
    return 0;
}

/* Records the current checkpoint's pending writes and interrupts. */
int graph_r_save_pending(struct run *r, struct sa_err *err)
{
    if (!r->g->saver || !r->thread_id || !r->cp_id[0])
        return 0;
    struct sa_buf b;
    sa_buf_init(&b, (size_t)1 << 30);
    size_t text_len = 0;
    char *text = sa_json_write(&b, r->pending) ? NULL : sa_buf_steal(&b, &text_len);
    sa_buf_free(&b);
    if (!text)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    struct wjob *job = r->aw ? calloc(1, sizeof *job) : NULL;
    if (r->aw && !job) {
        free(text);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    if (job) {
        job->is_writes = true;
        memcpy(job->rec.id, r->cp_id, sizeof job->rec.id);
        job->rec.writes = text; /* the writer frees it */
        job->rec.writes_len = text_len;
        writer_push(r->aw, job);
        return 0;
    }
    int rc = graph_saver_put_writes(r->g->saver, r->thread_id, r->cp_id, text, text_len, err);
    free(text);
    return rc;
}

static int corrupt(struct sa_err *err, const char *id, const char *what)
{
    return sa_err_set(err, SA_EIO, "checkpoint %s is corrupt: %s", id, what);
}

/* Applies one record's document to the run. Validates what it reads: a corrupt or
 * foreign record is an error, never a crash. */
static int apply_record(struct run *r, const char *id, const char *blob, size_t len,
                        struct sa_err *err)
{
    const struct graph *g = r->g;
    const char *text = NULL;
    size_t text_len = 0;
    char *owned = NULL;
    int rc = record_text(id, blob, len, &text, &text_len, &owned, err);
    if (rc)
        return rc;
    json_t *doc = json_loadb(text, text_len, 0, NULL);
    free(owned);
    json_t *values = json_object_get(doc, "values"), *cleared = json_object_get(doc, "cleared");
    json_t *versions = json_object_get(doc, "versions"), *seen = json_object_get(doc, "seen");
    json_t *sends = json_object_get(doc, "sends"), *step = json_object_get(doc, "step");
    if (!json_is_object(doc) || !json_is_object(values) || !json_is_array(cleared) ||
        !json_is_object(versions) || !json_is_object(seen) || !json_is_array(sends) ||
        !json_is_integer(step)) {
        rc = corrupt(err, id, "missing or mistyped fields");
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(values, key, v)
    {
        int c = graph_chan_index(g, key);
        if (c < 0) { /* written by another graph sharing the checkpointer */
            rc = sa_err_set(err, SA_ECONFLICT,
                            "checkpoint %s has a channel \"%s\" this graph does not have (the "
                            "thread belongs to another graph)",
                            id, key);
            goto out;
        }
        json_decref(r->vals[c]);
        r->vals[c] = json_incref(v);
    }
    size_t i;
    json_array_foreach(cleared, i, v)
    {
        int c = json_is_string(v) ? graph_chan_index(g, json_string_value(v)) : -1;
        if (c < 0) {
            rc = corrupt(err, id, "a cleared channel this graph does not have");
            goto out;
        }
        json_decref(r->vals[c]);
        r->vals[c] = NULL;
    }
    json_object_foreach(versions, key, v)
    {
        int c = graph_chan_index(g, key);
        if (c < 0 || !json_is_integer(v) || json_integer_value(v) < 0) {
            rc = corrupt(err, id, "bad channel version");
            goto out;
        }
        r->ver[c] = (uint64_t)json_integer_value(v);
    }
    json_object_foreach(seen, key, v)
    {
        int n = graph_node_index(g, key, false);
        if (n <= 0 || !json_is_object(v)) {
            rc = corrupt(err, id, "versions seen by an unknown node");
            goto out;
        }
        const char *ck;
        json_t *cv;
        json_object_foreach(v, ck, cv)
        {
            int c = graph_chan_index(g, ck);
            if (c < 0 || !json_is_integer(cv) || json_integer_value(cv) < 0) {
                rc = corrupt(err, id, "bad seen version");
                goto out;
            }
            *graph_r_seen_at(r, n, c) = (uint64_t)json_integer_value(cv);
        }
    }
    json_array_foreach(sends, i, v)
    {
        if (!json_is_object(v) || !json_is_string(json_object_get(v, "node"))) {
            rc = corrupt(err, id, "bad pending Send");
            goto out;
        }
    }
    json_decref(r->sends);
    r->sends = json_incref(sends);
    r->step = (int)json_integer_value(step);
    json_t *w = json_object_get(doc, "writes");
    json_decref(r->step_writes);
    r->step_writes = json_is_object(w) ? json_incref(w) : json_object();
    snprintf(r->source, sizeof r->source, "%s",
             json_string_value(json_object_get(doc, "source"))
                 ? json_string_value(json_object_get(doc, "source"))
                 : "");
    snprintf(r->created_at, sizeof r->created_at, "%s",
             json_string_value(json_object_get(doc, "created_at"))
                 ? json_string_value(json_object_get(doc, "created_at"))
                 : "");
out:
    json_decref(doc);
    return rc;
}

/* Loads checkpoint id (NULL: latest) of the run's thread: walks parents back to a full
 * record, then applies the records forward. SA_ENOTFOUND when there is none. */
int graph_r_load_checkpoint(struct run *r, const char *id, struct sa_err *err)
{
    struct graph_saver *sv = r->g->saver;
    int cap = r->g->full_every + 2, n = 0;
    struct graph_record *chain = calloc((size_t)cap, sizeof *chain);
    if (!chain)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    int rc = graph_saver_get(sv, r->thread_id, id, &chain[0], err);
    if (!rc)
        n = 1;
    while (!rc && !chain[n - 1].full) {
        if (n == cap || !chain[n - 1].parent_id[0]) {
            rc = corrupt(err, chain[0].id, "no full snapshot in its parent chain");
            break;
        }
        rc = graph_saver_get(sv, r->thread_id, chain[n - 1].parent_id, &chain[n], err);
        if (rc == SA_ENOTFOUND)
            rc = corrupt(err, chain[0].id, "a parent checkpoint is missing");
        if (!rc)
            n++;
    }
    for (int i = n - 1; i >= 0 && !rc; i--)
        rc = apply_record(r, chain[i].id, chain[i].blob, chain[i].blob_len, err);
    if (!rc) {
        memcpy(r->cp_id, chain[0].id, sizeof r->cp_id);
        memcpy(r->parent_id, chain[0].parent_id, sizeof r->parent_id);
        r->since_full = n - 1;
        json_decref(r->pending);
        r->pending = NULL;
        if (chain[0].writes)
            r->pending = json_loadb(chain[0].writes, chain[0].writes_len, 0, NULL);
        if (!json_is_object(r->pending) || !json_is_object(json_object_get(r->pending, "tasks")) ||
            !json_is_object(json_object_get(r->pending, "resume")) ||
            !json_is_array(json_object_get(r->pending, "interrupts"))) {
            if (chain[0].writes)
                rc = corrupt(err, chain[0].id, "bad pending writes");
            json_decref(r->pending);
            r->pending = graph_r_pending_new();
        }
    }
    for (int i = 0; i < n; i++)
        graph_record_clear(&chain[i]);
    free(chain);
    return rc;
}
