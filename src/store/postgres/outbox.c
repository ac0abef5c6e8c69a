/* The outbox in PostgreSQL: side effects (e-mails, follow-ups) queued under idempotency
 * keys, then picked when due, claimed by exactly one delivery worker across every
 * instance, marked as they are delivered, cancelled, and counted for frequency caps. Part
 * of the PostgreSQL backend (pg.h); the delivery worker is app/outbox.c.
 *
 * E-mail addresses, domains and senders compare ignoring ASCII case (store.h): their
 * columns are citext (migration 001), and every parameter compared with one is cast to
 * citext, so the comparison ignores case and the column's index serves it. */
#include "store/postgres/pg.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define OUTBOX_COLS                                                                                \
    "id, idempotency_key, kind, thread_id, lead_id, to_email, payload, status, due_at, "           \
    "attempts, last_error, delivered_id, created_at, updated_at, sent_at, sequence_id, "           \
    "seq_day, recipient_tz, to_domain, sender, message_id, deferred_reason, sent_ts"

static const struct pg_sql OUTBOX_ADD = {
    "add to outbox", "INSERT INTO outbox (id, idempotency_key, kind, thread_id, lead_id, "
                     "to_email, payload, status, due_at, created_at, updated_at, sequence_id, "
                     "seq_day, recipient_tz, to_domain, sender, message_id) VALUES "
                     "($1, $2, $3, $4, $5, $6, $7::jsonb, 'queued', $8::bigint, $9, $9, $10, "
                     "$11::bigint, $12, $13, $14, $15) ON CONFLICT (idempotency_key) DO NOTHING"};
/* for clients every time is ISO 8601 UTC; due_at is stored as seconds (the worker's) */
#define OUTBOX_LIST_COLS                                                                           \
    "id, idempotency_key, kind, thread_id, lead_id, to_email, payload, status, "                   \
    "to_char(to_timestamp(due_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS "       \
    "due_at, attempts, last_error, delivered_id, created_at, updated_at, sent_at, sequence_id, "   \
    "seq_day, recipient_tz, message_id, deferred_reason"

static const struct pg_sql OUTBOX_LIST = {
    "list outbox", "SELECT " OUTBOX_LIST_COLS " FROM outbox WHERE ($1::text IS NULL OR status = "
                   "$1::text) AND ($2::citext IS NULL OR to_email = $2::citext) "
                   "ORDER BY created_at DESC, id DESC LIMIT $3::bigint"};
/* A plain read, without row locks. A lock taken here would last only as long as this
 * statement (it is its own transaction) and cost a write per row read, so two workers
 * polling at once may both be handed the same due rows: that only costs the loser one
 * failed claim per row, because outbox_claim, not this list, is what hands an item out. */
static const struct pg_sql OUTBOX_DUE = {
    "due outbox", "SELECT " OUTBOX_COLS " FROM outbox WHERE status = 'queued' AND due_at <= "
                  "$1::bigint ORDER BY due_at, id LIMIT $2::bigint"};
/* The claim: exactly one claimer across every instance and worker gets the item. The
 * subquery locks the row only if it is still queued (FOR UPDATE re-reads the latest
 * committed version) and SKIP LOCKED makes a worker that finds it locked by another
 * claimer (or by a mark or cancel in flight) give up at once instead of queueing behind
 * that lock: it gets no row and answers SA_ECONFLICT, and a row it skipped that stays
 * queued is simply due again at the next poll. The claimer holding the lock sets
 * 'sending' in the same statement, so nobody can claim it after that commits. */
static const struct pg_sql OUTBOX_CLAIM = {
    "claim outbox item",
    "UPDATE outbox SET status = 'sending', updated_at = $2, claimed_at = $3::bigint, "
    "claim_token = $4 WHERE id = "
    "(SELECT id FROM outbox WHERE id = $1 AND status = 'queued' FOR UPDATE SKIP LOCKED)"};
/* The lease (migration 003). Under READ COMMITTED an UPDATE that waits for a row another
 * transaction is changing re-checks its WHERE on the committed version: a mark that set
 * the item 'sent' meanwhile, or another instance's re-queue, makes it skip the row, so
 * each expired claim is re-queued once and a sent item never. An item claimed before the
 * migration has no claimed_at: its last change (the claim) stands for it. */
/* The fifth expired claim fails the item (the app's MAX_ATTEMPTS, app/outbox.c): an item
 * whose delivery kills every worker must not come back for ever. */
static const struct pg_sql OUTBOX_REQUEUE = {
    "re-queue expired outbox items",
    "UPDATE outbox SET status = CASE WHEN attempts + 1 >= 5 THEN 'failed' ELSE 'queued' END, "
    "claimed_at = NULL, attempts = attempts + 1, "
    "last_error = $3, updated_at = $4 WHERE status = 'sending' AND COALESCE(claimed_at, "
    "floor(extract(epoch FROM updated_at::timestamptz))::bigint) <= $1::bigint - $2::bigint"};
static const struct pg_sql OUTBOX_STATUS = {"claim outbox item",
                                            "SELECT status FROM outbox WHERE id = $1"};
static const struct pg_sql OUTBOX_MARK = {
    "mark outbox item",
    "UPDATE outbox SET status = $2, delivered_id = COALESCE($3, delivered_id), "
    "last_error = COALESCE($4, last_error), "
    "due_at = CASE WHEN $5::bigint > 0 THEN $5::bigint ELSE due_at END, "
    "attempts = attempts + CASE WHEN $2::text IN ('sent', 'failed') OR $5::bigint > 0 "
    "THEN 1 ELSE 0 END, "
    "sent_at = CASE WHEN $2::text = 'sent' THEN $6 ELSE sent_at END, "
    "sent_ts = CASE WHEN $2::text = 'sent' THEN $7::bigint ELSE sent_ts END, updated_at = $6 "
    "WHERE id = $1"};
/* OUTBOX_MARK for the claim's holder (migration 004): the expired-lease re-queue keeps the
 * token, a new claim replaces it, so the token names the latest claim. Under READ
 * COMMITTED a mark waiting on a concurrent claim re-checks the token on the committed row
 * and finds it replaced. */
static const struct pg_sql OUTBOX_MARK_AS = {
    "mark outbox item",
    "UPDATE outbox SET status = $2, delivered_id = COALESCE($3, delivered_id), "
    "last_error = COALESCE($4, last_error), "
    "due_at = CASE WHEN $5::bigint > 0 THEN $5::bigint ELSE due_at END, "
    "attempts = attempts + CASE WHEN $2::text IN ('sent', 'failed') OR $5::bigint > 0 "
    "THEN 1 ELSE 0 END, "
    "sent_at = CASE WHEN $2::text = 'sent' THEN $6 ELSE sent_at END, "
    "sent_ts = CASE WHEN $2::text = 'sent' THEN $7::bigint ELSE sent_ts END, updated_at = $6 "
    "WHERE id = $1 AND claim_token = $8 AND status IN ('sending', 'queued')"};
static const struct pg_sql OUTBOX_CANCEL = {
    "cancel outbox items",
    "UPDATE outbox SET status = 'cancelled', last_error = $5, updated_at = $3 WHERE "
    "($1::text IS NULL OR thread_id = $1::text) AND ($4::citext IS NULL OR "
    "to_email = $4::citext) AND kind = $2 AND status = 'queued'"};
static const struct pg_sql OUTBOX_TOUCHES = {
    "count outbox touches",
    "SELECT count(*) AS n FROM outbox WHERE to_email = $1::citext AND status IN "
    "('queued', 'sending', 'sent') AND due_at >= $2::bigint AND kind NOT LIKE 'crm%'"};

static const struct pg_sql OUTBOX_DEFER = {
    "defer outbox item", "UPDATE outbox SET due_at = $2::bigint, deferred_reason = $3, "
                         "updated_at = $4 WHERE id = $1 AND status = 'queued'"};
/* one statement per scope: the column is never text from a caller */
static const struct pg_sql OUTBOX_SENT_TIMES[] = {
    [SA_SEND_CONTACT] = {"count sent e-mail",
                         "SELECT sent_ts FROM outbox WHERE to_email = $1::citext "
                         "AND status = 'sent' AND kind NOT LIKE 'crm%' "
                         "AND sent_ts >= $2::bigint ORDER BY sent_ts"},
    [SA_SEND_DOMAIN] = {"count sent e-mail",
                        "SELECT sent_ts FROM outbox WHERE to_domain = $1::citext "
                        "AND status = 'sent' AND kind NOT LIKE 'crm%' "
                        "AND sent_ts >= $2::bigint ORDER BY sent_ts"},
    [SA_SEND_SENDER] = {"count sent e-mail",
                        "SELECT sent_ts FROM outbox WHERE sender = $1::citext AND "
                        "status = 'sent' AND kind NOT LIKE 'crm%' "
                        "AND sent_ts >= $2::bigint ORDER BY sent_ts"},
};
static const struct pg_sql OUTBOX_SEQUENCE = {
    "read a sequence", "SELECT id, kind, status, seq_day, due_at, sent_ts, message_id FROM outbox "
                       "WHERE sequence_id = $1 ORDER BY seq_day, id"};
static const struct pg_sql OUTBOX_ACTIVE = {
    "active sequences",
    "SELECT sequence_id, count(*) FILTER (WHERE status IN ('queued', 'sending')) AS pending, "
    "max(sent_ts) AS last_sent FROM outbox WHERE to_email = $1::citext AND "
    "sequence_id IS NOT NULL AND ($2::text IS NULL OR sequence_id <> $2::text) GROUP BY "
    "sequence_id HAVING count(*) FILTER (WHERE status IN ('queued', 'sending')) > 0 OR "
    "max(sent_ts) >= $3::bigint ORDER BY sequence_id"};
static const struct pg_sql OUTBOX_CANCEL_SEQ = {
    "cancel a sequence", "UPDATE outbox SET status = 'cancelled', last_error = $2, updated_at = $3 "
                         "WHERE sequence_id = $1 AND status = 'queued'"};

struct batch {
    const struct sa_outbox_item *items;
    const int *order; /* indexes into items, by idempotency key */
    int n;
    int added;
};

static const struct sa_outbox_item *sort_items; /* qsort has no context argument */
static pthread_mutex_t sort_lock = PTHREAD_MUTEX_INITIALIZER;

static int by_key(const void *a, const void *b)
{
    const char *x = sort_items[*(const int *)a].idempotency_key;
    const char *y = sort_items[*(const int *)b].idempotency_key;
    return strcmp(x ? x : "", y ? y : "");
}

static int add_items(struct pg_conn *c, void *arg, const char *now, struct sa_err *err)
{
    struct batch *b = arg;
    b->added = 0; /* pg_transaction runs this again after a deadlock or serialization failure */
    int rc = 0;
    for (int k = 0; !rc && k < b->n; k++) {
        const struct sa_outbox_item *it = &b->items[b->order[k]];
        const struct pg_arg a[] = {
            TXT(it->id),        TXT(it->idempotency_key), TXT(it->kind),      TXT(it->thread_id),
            TXT(it->lead_id),   TXT(it->to_email),        TXT(it->payload),   NUM(it->due_at),
            TXT(now),           TXT(it->sequence_id),     NUM(it->seq_day),   TXT(it->recipient_tz),
            TXT(it->to_domain), TXT(it->sender),          TXT(it->message_id)};
        int changed = 0;
        rc = pg_exec_locked(c, &OUTBOX_ADD, a, DB_N(a), &changed, err);
        b->added += changed;
    }
    /* ON CONFLICT names the idempotency key only: a clash on the item's own id is a
     * caller's bug (ids are fresh UUIDs), not a duplicate to skip, and fails the batch as
     * a store error, as in SQLite, rather than a conflict a client could act on */
    if (rc == SA_ECONFLICT)
        rc = sa_err_set(err, SA_ESTORE, "add to outbox: an item id is stored already");
    return rc;
}

int sa_pg_outbox_add(struct sa_store *s, const struct sa_outbox_item *items, int n, int *added,
                     struct sa_err *err)
{
    /* Inserted in idempotency-key order: two instances adding overlapping keys then take
     * the keys' index locks in the same order, and never deadlock each other (in the
     * caller's order they did, every retry again) */
    int *order = malloc((size_t)(n > 0 ? n : 1) * sizeof *order);
    if (!order) {
        *added = 0;
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++)
        order[i] = i;
    pthread_mutex_lock(&sort_lock);
    sort_items = items;
    qsort(order, (size_t)n, sizeof *order, by_key);
    sort_items = NULL;
    pthread_mutex_unlock(&sort_lock);
    struct batch b = {.items = items, .order = order, .n = n};
    int rc = pg_transaction(s, add_items, &b, err);
    *added = rc ? 0 : b.added;
    free(order);
    return rc;
}

static int write_exec(struct pg_conn *c, void *arg, const char *now, struct sa_err *err)
{
    return sa_pg_exec_insert(c, arg, now, err);
}

/* A conversation turn's execution (no lead written): executions.c's insert in a
 * transaction of its own. */
int sa_pg_execution_add(struct sa_store *s, const struct sa_exec_row *e, struct sa_err *err)
{
    return pg_transaction(s, write_exec, (void *)e, err);
}

int sa_pg_outbox_list(struct sa_store *s, const char *status, const char *email, int limit,
                      json_t **out, struct sa_err *err)
{
    const struct pg_arg a[] = {TXT(status), TXT(email), NUM(limit)};
    return pg_query_rows(s, &OUTBOX_LIST, a, DB_N(a), NULL, out, err);
}

int sa_pg_outbox_due(struct sa_store *s, long long now, int limit, json_t **out, struct sa_err *err)
{
    const struct pg_arg a[] = {NUM(now), NUM(limit)};
    return pg_query_rows(s, &OUTBOX_DUE, a, DB_N(a), NULL, out, err);
}

/* The item exists but a write changed nothing: SA_ECONFLICT (what); else SA_ENOTFOUND. */
static int not_queued(struct sa_store *s, const char *id, const char *what, struct sa_err *err)
{
    json_t *row = NULL;
    int rc = pg_query_one(s, &OUTBOX_STATUS, &TXT(id), 1, NULL, &row, err);
    if (!rc && !row)
        rc = sa_err_set(err, SA_ENOTFOUND, "no such outbox item");
    else if (!rc)
        rc = sa_err_set(err, SA_ECONFLICT, "%s", what);
    json_decref(row);
    return rc;
}

int sa_pg_outbox_claim(struct sa_store *s, const char *id, struct sa_err *err)
{
    return sa_pg_outbox_claim_as(s, id, NULL, err);
}

int sa_pg_outbox_claim_as(struct sa_store *s, const char *id, const char *token, struct sa_err *err)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const struct pg_arg a[] = {TXT(id), TXT(now), NUM((long long)sa_wall_time()), TXT(token)};
    int changed = 0;
    int rc = pg_exec_args(s, &OUTBOX_CLAIM, a, DB_N(a), &changed, err);
    if (rc || changed)
        return rc;
    /* not claimed: claimed or finished already (or being claimed right now: its status
     * may still read queued until the winner commits), or no such item */
    return not_queued(s, id, "the outbox item is not queued (claimed or finished already)", err);
}

int sa_pg_outbox_mark(struct sa_store *s, const char *id, const char *status,
                      const char *delivered_id, const char *error, long long retry_at,
                      struct sa_err *err)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const struct pg_arg a[] = {TXT(id),
                               TXT(status),
                               TXT(delivered_id),
                               TXT(error),
                               NUM(retry_at),
                               TXT(now),
                               NUM((long long)sa_wall_time())};
    int changed = 0;
    int rc = pg_exec_args(s, &OUTBOX_MARK, a, DB_N(a), &changed, err);
    return rc || changed ? rc : sa_err_set(err, SA_ENOTFOUND, "no such outbox item");
}

int sa_pg_outbox_mark_as(struct sa_store *s, const char *id, const char *token, const char *status,
                         const char *delivered_id, const char *error, long long retry_at,
                         struct sa_err *err)
{
    if (!token)
        return sa_err_set(err, SA_EINVAL, "no claim token");
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const struct pg_arg a[] = {TXT(id),
                               TXT(status),
                               TXT(delivered_id),
                               TXT(error),
                               NUM(retry_at),
                               TXT(now),
                               NUM((long long)sa_wall_time()),
                               TXT(token)};
    int changed = 0;
    int rc = pg_exec_args(s, &OUTBOX_MARK_AS, a, DB_N(a), &changed, err);
    if (rc || changed)
        return rc;
    json_t *row = NULL; /* not ours: claimed by another since, finished, or unknown */
    rc = pg_query_one(s, &OUTBOX_STATUS, &TXT(id), 1, NULL, &row, err);
    if (!rc)
        rc = row ? sa_err_set(err, SA_ECONFLICT,
                              "the outbox item's claim is no longer this worker's (it is %s)",
                              json_string_value(json_object_get(row, "status")))
                 : sa_err_set(err, SA_ENOTFOUND, "no such outbox item");
    json_decref(row);
    return rc;
}

int sa_pg_outbox_cancel(struct sa_store *s, const char *thread_id, const char *email,
                        const char *kind, const char *reason, int *n, struct sa_err *err)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const struct pg_arg a[] = {TXT(thread_id), TXT(kind), TXT(now), TXT(email), TXT(reason)};
    int changed = 0;
    int rc = pg_exec_args(s, &OUTBOX_CANCEL, a, DB_N(a), &changed, err);
    if (n)
        *n = rc ? 0 : changed;
    return rc;
}

int sa_pg_outbox_touches(struct sa_store *s, const char *email, long long since, long *n,
                         struct sa_err *err)
{
    const struct pg_arg a[] = {TXT(email), NUM(since)};
    json_t *row = NULL;
    int rc = pg_query_one(s, &OUTBOX_TOUCHES, a, DB_N(a), NULL, &row, err);
    *n = rc ? 0 : (long)json_integer_value(json_object_get(row, "n"));
    json_decref(row);
    return rc;
}

int sa_pg_outbox_defer(struct sa_store *s, const char *id, long long due_at, const char *reason,
                       struct sa_err *err)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const struct pg_arg a[] = {TXT(id), NUM(due_at), TXT(reason), TXT(now)};
    int changed = 0;
    int rc = pg_exec_args(s, &OUTBOX_DEFER, a, DB_N(a), &changed, err);
    if (rc || changed)
        return rc;
    return not_queued(s, id, "the outbox item is not queued", err);
}

/* Column 0 of a row as a JSON integer (sent_ts, never NULL where it is read). */
static json_t *first_int(const PGresult *res, int row)
{
    return json_integer(strtoll(PQgetvalue(res, row, 0), NULL, 10));
}

int sa_pg_outbox_sent_times(struct sa_store *s, enum sa_send_scope scope, const char *key,
                            long long since, json_t **out, struct sa_err *err)
{
    *out = NULL;
    if ((unsigned)scope > SA_SEND_SENDER)
        return sa_err_set(err, SA_EINVAL, "unknown send scope");
    const struct pg_arg a[] = {TXT(key), NUM(since)};
    return pg_query_rows(s, &OUTBOX_SENT_TIMES[scope], a, DB_N(a), first_int, out, err);
}

int sa_pg_outbox_sequence(struct sa_store *s, const char *sequence_id, json_t **out,
                          struct sa_err *err)
{
    return pg_query_rows(s, &OUTBOX_SEQUENCE, &TXT(sequence_id), 1, NULL, out, err);
}

int sa_pg_outbox_active_sequences(struct sa_store *s, const char *email, const char *except,
                                  long long since, json_t **out, struct sa_err *err)
{
    const struct pg_arg a[] = {TXT(email), TXT(except), NUM(since)};
    return pg_query_rows(s, &OUTBOX_ACTIVE, a, DB_N(a), NULL, out, err);
}

int sa_pg_outbox_cancel_sequence(struct sa_store *s, const char *sequence_id, const char *reason,
                                 int *n, struct sa_err *err)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const struct pg_arg a[] = {TXT(sequence_id), TXT(reason), TXT(now)};
    int changed = 0;
    int rc = pg_exec_args(s, &OUTBOX_CANCEL_SEQ, a, DB_N(a), &changed, err);
    if (n)
        *n = rc ? 0 : changed;
    return rc;
}

int sa_pg_outbox_requeue_expired(struct sa_store *s, long long now, long long lease_seconds,
                                 const char *reason, int *n, struct sa_err *err)
{
    if (n)
        *n = 0;
    if (lease_seconds <= 0)
        return sa_err_set(err, SA_EINVAL, "the outbox lease must be positive");
    char stamp[SA_ISO8601_LEN];
    sa_iso8601_now(stamp);
    const struct pg_arg a[] = {NUM(now), NUM(lease_seconds), TXT(reason), TXT(stamp)};
    int changed = 0;
    int rc = pg_exec_args(s, &OUTBOX_REQUEUE, a, DB_N(a), &changed, err);
    if (!rc && n)
        *n = changed;
    return rc;
}

/* CRM pushes (app/crm_sync.h): the kinds that start with a prefix, not e-mail */
static const struct pg_sql OUTBOX_KIND_LIST = {
    "list outbox by kind",
    "SELECT " OUTBOX_LIST_COLS " FROM outbox WHERE starts_with(kind, $1::text) AND "
    "($2::text IS NULL OR lead_id = $2::text) ORDER BY updated_at DESC, id DESC "
    "LIMIT $3::bigint"};
static const struct pg_sql OUTBOX_KIND_COUNTS = {
    "count outbox by kind", "SELECT status, count(*) AS n FROM outbox WHERE starts_with(kind, "
                            "$1::text) GROUP BY status ORDER BY status"};

int sa_pg_outbox_kind_list(struct sa_store *s, const char *prefix, const char *lead_id, int limit,
                           json_t **out, struct sa_err *err)
{
    const struct pg_arg a[] = {TXT(prefix), TXT(lead_id), NUM(limit)};
    return pg_query_rows(s, &OUTBOX_KIND_LIST, a, DB_N(a), NULL, out, err);
}

int sa_pg_outbox_kind_counts(struct sa_store *s, const char *prefix, json_t **out,
                             struct sa_err *err)
{
    const struct pg_arg a[] = {TXT(prefix)};
    return pg_query_rows(s, &OUTBOX_KIND_COUNTS, a, DB_N(a), NULL, out, err);
}
