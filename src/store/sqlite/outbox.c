/* The outbox in SQLite: side effects (e-mails, follow-ups) queued under idempotency keys,
 * then picked when due, marked as they are delivered, cancelled, and counted for frequency
 * caps. Part of the SQLite backend (db.h); the delivery worker is app/outbox.c. */
#include "store/sqlite/db.h"

#define OUTBOX_COLS                                                                                \
    "id, idempotency_key, kind, thread_id, lead_id, to_email, payload, status, due_at, "           \
    "attempts, last_error, delivered_id, created_at, updated_at, sent_at, sequence_id, "           \
    "seq_day, recipient_tz, to_domain, sender, message_id, deferred_reason, sent_ts"

static const struct db_sql OUTBOX_ADD = {
    "add to outbox", "INSERT INTO outbox (id, idempotency_key, kind, thread_id, lead_id, "
                     "to_email, payload, status, due_at, created_at, updated_at, sequence_id, "
                     "seq_day, recipient_tz, to_domain, sender, message_id) VALUES "
                     "(?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', ?8, ?9, ?9, ?10, ?11, ?12, ?13, "
                     "?14, ?15) ON CONFLICT (idempotency_key) DO NOTHING"};
/* for clients every time is ISO 8601 UTC; due_at is stored as seconds (the worker's) */
#define OUTBOX_LIST_COLS                                                                           \
    "id, idempotency_key, kind, thread_id, lead_id, to_email, payload, status, "                   \
    "strftime('%Y-%m-%dT%H:%M:%SZ', due_at, 'unixepoch') AS due_at, attempts, last_error, "        \
    "delivered_id, created_at, updated_at, sent_at, sequence_id, seq_day, recipient_tz, "        \
    "message_id, deferred_reason"

static const struct db_sql OUTBOX_LIST = {
    "list outbox", "SELECT " OUTBOX_LIST_COLS " FROM outbox WHERE (?1 IS NULL OR status = ?1) "
                   "AND (?2 IS NULL OR to_email = ?2) ORDER BY created_at DESC, id DESC "
                   "LIMIT ?3"};
static const struct db_sql OUTBOX_DUE = {
    "due outbox", "SELECT " OUTBOX_COLS " FROM outbox WHERE status = 'queued' AND due_at <= "
                  "?1 ORDER BY due_at, id LIMIT ?2"};
/* only a queued item changes: the WHERE is what makes a claim happen once; claimed_at
 * starts the lease (migration 015) */
static const struct db_sql OUTBOX_CLAIM = {
    "claim outbox item", "UPDATE outbox SET status = 'sending', updated_at = ?2, claimed_at = ?3, "
                         "claim_token = ?4 WHERE id = ?1 AND status = 'queued'"};
/* One statement: SQLite runs it under the write lock, so of concurrent callers the first
 * re-queues and the next finds the item queued. An item claimed before migration 015
 * has no claimed_at: its last change (the claim) stands for it. */
/* The fifth expired claim fails the item (the app's MAX_ATTEMPTS, app/outbox.c): an item
 * whose delivery kills every worker must not come back for ever. */
static const struct db_sql OUTBOX_REQUEUE = {
    "re-queue expired outbox items",
    "UPDATE outbox SET status = CASE WHEN attempts + 1 >= 5 THEN 'failed' ELSE 'queued' END, "
    "claimed_at = NULL, attempts = attempts + 1, "
    "last_error = ?3, updated_at = ?4 WHERE status = 'sending' AND "
    "COALESCE(claimed_at, CAST(strftime('%s', updated_at) AS INTEGER)) <= ?1 - ?2"};
static const struct db_sql OUTBOX_STATUS = {"claim outbox item",
                                            "SELECT status FROM outbox WHERE id = ?1"};
static const struct db_sql OUTBOX_MARK = {
    "mark outbox item",
    "UPDATE outbox SET status = ?2, delivered_id = COALESCE(?3, delivered_id), "
    "last_error = COALESCE(?4, last_error), "
    "due_at = CASE WHEN ?5 > 0 THEN ?5 ELSE due_at END, "
    "attempts = attempts + (?2 IN ('sent', 'failed') OR ?5 > 0), "
    "sent_at = CASE WHEN ?2 = 'sent' THEN ?6 ELSE sent_at END, "
    "sent_ts = CASE WHEN ?2 = 'sent' THEN ?7 ELSE sent_ts END, updated_at = ?6 WHERE id = ?1"};
/* OUTBOX_MARK for the claim's holder (migration 016): the expired-lease re-queue keeps the
 * token, a new claim replaces it, so the token names the latest claim. */
static const struct db_sql OUTBOX_MARK_AS = {
    "mark outbox item",
    "UPDATE outbox SET status = ?2, delivered_id = COALESCE(?3, delivered_id), "
    "last_error = COALESCE(?4, last_error), "
    "due_at = CASE WHEN ?5 > 0 THEN ?5 ELSE due_at END, "
    "attempts = attempts + (?2 IN ('sent', 'failed') OR ?5 > 0), "
    "sent_at = CASE WHEN ?2 = 'sent' THEN ?6 ELSE sent_at END, "
    "sent_ts = CASE WHEN ?2 = 'sent' THEN ?7 ELSE sent_ts END, updated_at = ?6 WHERE id = ?1 "
    "AND claim_token = ?8 AND status IN ('sending', 'queued')"};
static const struct db_sql OUTBOX_CANCEL = {
    "cancel outbox items", "UPDATE outbox SET status = 'cancelled', last_error = ?5, updated_at = "
                           "?3 WHERE (?1 IS NULL OR thread_id = ?1) AND (?4 IS NULL OR to_email = "
                           "?4) AND kind = ?2 AND status = 'queued'"};
static const struct db_sql OUTBOX_TOUCHES = {
    "count outbox touches", "SELECT count(*) AS n FROM outbox WHERE to_email = ?1 AND status IN "
                            "('queued', 'sending', 'sent') AND due_at >= ?2 AND kind NOT LIKE "
                            "'crm%'"};

static const struct db_sql OUTBOX_DEFER = {
    "defer outbox item", "UPDATE outbox SET due_at = ?2, deferred_reason = ?3, updated_at = ?4 "
                         "WHERE id = ?1 AND status = 'queued'"};
/* one statement per scope: the column is never text from a caller */
static const struct db_sql OUTBOX_SENT_TIMES[] = {
    /* CRM pushes (kind crm_*) are no e-mail: they never count */
    [SA_SEND_CONTACT] = {"count sent e-mail", "SELECT sent_ts FROM outbox WHERE to_email = ?1 "
                                              "AND status = 'sent' AND kind NOT LIKE 'crm%' AND "
                                              "sent_ts >= ?2 ORDER BY sent_ts"},
    [SA_SEND_DOMAIN] = {"count sent e-mail", "SELECT sent_ts FROM outbox WHERE to_domain = ?1 "
                                             "AND status = 'sent' AND kind NOT LIKE 'crm%' AND "
                                             "sent_ts >= ?2 ORDER BY sent_ts"},
    [SA_SEND_SENDER] = {"count sent e-mail", "SELECT sent_ts FROM outbox WHERE sender = ?1 AND "
                                             "status = 'sent' AND kind NOT LIKE 'crm%' AND "
                                             "sent_ts >= ?2 ORDER BY sent_ts"},
};
static const struct db_sql OUTBOX_SEQUENCE = {
    "read a sequence", "SELECT id, kind, status, seq_day, due_at, sent_ts, message_id FROM outbox "
                       "WHERE sequence_id = ?1 ORDER BY seq_day, id"};
static const struct db_sql OUTBOX_ACTIVE = {
    "active sequences",
    "SELECT sequence_id, sum(status IN ('queued', 'sending')) AS pending, max(sent_ts) AS "
    "last_sent FROM outbox WHERE to_email = ?1 AND sequence_id IS NOT NULL AND (?2 IS NULL OR "
    "sequence_id <> ?2) GROUP BY sequence_id HAVING pending > 0 OR last_sent >= ?3 ORDER BY "
    "sequence_id"};
static const struct db_sql OUTBOX_CANCEL_SEQ = {
    "cancel a sequence", "UPDATE outbox SET status = 'cancelled', last_error = ?2, updated_at = ?3 "
                         "WHERE sequence_id = ?1 AND status = 'queued'"};

struct batch {
    const struct sa_outbox_item *items;
    int n;
    int added;
};

static int add_items(struct db_conn *c, void *arg, const char *now, struct sa_err *err)
{
    struct batch *b = arg;
    int rc = 0;
    for (int i = 0; !rc && i < b->n; i++) {
        const struct sa_outbox_item *it = &b->items[i];
        const struct db_arg a[] = {TXT(it->id),        TXT(it->idempotency_key), TXT(it->kind),
                                   TXT(it->thread_id), TXT(it->lead_id),         TXT(it->to_email),
                                   TXT(it->payload),   NUM(it->due_at),          TXT(now),
                                   TXT(it->sequence_id), NUM(it->seq_day), TXT(it->recipient_tz),
                                   TXT(it->to_domain), TXT(it->sender), TXT(it->message_id)};
        int changed = 0;
        rc = db_exec_locked(c, &OUTBOX_ADD, a, DB_N(a), &changed, err);
        b->added += changed;
    }
    return rc;
}

int sa_sqlite_outbox_add(struct sa_store *s, const struct sa_outbox_item *items, int n, int *added,
                         struct sa_err *err)
{
    struct batch b = {.items = items, .n = n};
    int rc = db_transaction(s, add_items, &b, err);
    *added = rc ? 0 : b.added;
    return rc;
}

int sa_sqlite_outbox_list(struct sa_store *s, const char *status, const char *email, int limit,
                          json_t **out, struct sa_err *err)
{
    const struct db_arg a[] = {TXT(status), TXT(email), NUM(limit)};
    return db_query_rows(s, &OUTBOX_LIST, a, DB_N(a), NULL, out, err);
}

int sa_sqlite_outbox_due(struct sa_store *s, long long now, int limit, json_t **out,
                         struct sa_err *err)
{
    const struct db_arg a[] = {NUM(now), NUM(limit)};
    return db_query_rows(s, &OUTBOX_DUE, a, DB_N(a), NULL, out, err);
}

int sa_sqlite_outbox_claim(struct sa_store *s, const char *id, struct sa_err *err)
{
    return sa_sqlite_outbox_claim_as(s, id, NULL, err);
}

int sa_sqlite_outbox_claim_as(struct sa_store *s, const char *id, const char *token,
                              struct sa_err *err)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const struct db_arg a[] = {TXT(id), TXT(now), NUM((long long)sa_wall_time()), TXT(token)};
    int changed = 0;
    int rc = db_exec_args(s, &OUTBOX_CLAIM, a, DB_N(a), &changed, err);
    if (rc || changed)
        return rc;
    json_t *row = NULL; /* not queued: claimed or finished already, or no such item */
    rc = db_query_one(s, &OUTBOX_STATUS, &TXT(id), 1, NULL, &row, err);
    if (!rc && !row)
        rc = sa_err_set(err, SA_ENOTFOUND, "no such outbox item");
    else if (!rc)
        rc = sa_err_set(err, SA_ECONFLICT, "the outbox item is %s, not queued",
                        json_string_value(json_object_get(row, "status")));
    json_decref(row);
    return rc;
}

int sa_sqlite_outbox_mark(struct sa_store *s, const char *id, const char *status,
                          const char *delivered_id, const char *error, long long retry_at,
                          struct sa_err *err)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const struct db_arg a[] = {TXT(id),    TXT(status),   TXT(delivered_id),
                               TXT(error), NUM(retry_at), TXT(now),
                               NUM((long long)sa_wall_time())};
    int changed = 0;
    int rc = db_exec_args(s, &OUTBOX_MARK, a, DB_N(a), &changed, err);
    return rc || changed ? rc : sa_err_set(err, SA_ENOTFOUND, "no such outbox item");
}

int sa_sqlite_outbox_mark_as(struct sa_store *s, const char *id, const char *token,
                             const char *status, const char *delivered_id, const char *error,
                             long long retry_at, struct sa_err *err)
{
    if (!token)
        return sa_err_set(err, SA_EINVAL, "no claim token");
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const struct db_arg a[] = {TXT(id),
                               TXT(status),
                               TXT(delivered_id),
                               TXT(error),
                               NUM(retry_at),
                               TXT(now),
                               NUM((long long)sa_wall_time()),
                               TXT(token)};
    int changed = 0;
    int rc = db_exec_args(s, &OUTBOX_MARK_AS, a, DB_N(a), &changed, err);
    if (rc || changed)
        return rc;
    json_t *row = NULL; /* not ours: claimed by another since, finished, or unknown */
    rc = db_query_one(s, &OUTBOX_STATUS, &TXT(id), 1, NULL, &row, err);
    if (!rc)
        rc = row ? sa_err_set(err, SA_ECONFLICT,
                              "the outbox item's claim is no longer this worker's (it is %s)",
                              json_string_value(json_object_get(row, "status")))
                 : sa_err_set(err, SA_ENOTFOUND, "no such outbox item");
    json_decref(row);
    return rc;
}

int sa_sqlite_outbox_cancel(struct sa_store *s, const char *thread_id, const char *email,
                            const char *kind, const char *reason, int *n, struct sa_err *err)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const struct db_arg a[] = {TXT(thread_id), TXT(kind), TXT(now), TXT(email), TXT(reason)};
    return db_exec_args(s, &OUTBOX_CANCEL, a, DB_N(a), n, err);
}

int sa_sqlite_outbox_touches(struct sa_store *s, const char *email, long long since, long *n,
                             struct sa_err *err)
{
    const struct db_arg a[] = {TXT(email), NUM(since)};
    json_t *row = NULL;
    int rc = db_query_one(s, &OUTBOX_TOUCHES, a, DB_N(a), NULL, &row, err);
    *n = (long)json_integer_value(json_object_get(row, "n"));
    json_decref(row);
    return rc;
}

int sa_sqlite_outbox_defer(struct sa_store *s, const char *id, long long due_at,
                           const char *reason, struct sa_err *err)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const struct db_arg a[] = {TXT(id), NUM(due_at), TXT(reason), TXT(now)};
    int changed = 0;
    int rc = db_exec_args(s, &OUTBOX_DEFER, a, DB_N(a), &changed, err);
    if (rc || changed)
        return rc;
    json_t *row = NULL;
    rc = db_query_one(s, &OUTBOX_STATUS, &TXT(id), 1, NULL, &row, err);
    if (!rc)
        rc = row ? sa_err_set(err, SA_ECONFLICT, "the outbox item is not queued")
                 : sa_err_set(err, SA_ENOTFOUND, "no such outbox item");
    json_decref(row);
    return rc;
}

static json_t *first_int(sqlite3_stmt *st)
{
    return json_integer(sqlite3_column_int64(st, 0));
}

int sa_sqlite_outbox_sent_times(struct sa_store *s, enum sa_send_scope scope, const char *key,
                                long long since, json_t **out, struct sa_err *err)
{
    *out = NULL;
    if ((unsigned)scope > SA_SEND_SENDER)
        return sa_err_set(err, SA_EINVAL, "unknown send scope");
    const struct db_arg a[] = {TXT(key), NUM(since)};
    return db_query_rows(s, &OUTBOX_SENT_TIMES[scope], a, DB_N(a), first_int, out, err);
}

int sa_sqlite_outbox_sequence(struct sa_store *s, const char *sequence_id, json_t **out,
                              struct sa_err *err)
{
    return db_query_rows(s, &OUTBOX_SEQUENCE, &TXT(sequence_id), 1, NULL, out, err);
}

int sa_sqlite_outbox_active_sequences(struct sa_store *s, const char *email, const char *except,
                                      long long since, json_t **out, struct sa_err *err)
{
    const struct db_arg a[] = {TXT(email), TXT(except), NUM(since)};
    return db_query_rows(s, &OUTBOX_ACTIVE, a, DB_N(a), NULL, out, err);
}

int sa_sqlite_outbox_cancel_sequence(struct sa_store *s, const char *sequence_id,
                                     const char *reason, int *n, struct sa_err *err)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const struct db_arg a[] = {TXT(sequence_id), TXT(reason), TXT(now)};
    int changed = 0;
    int rc = db_exec_args(s, &OUTBOX_CANCEL_SEQ, a, DB_N(a), &changed, err);
    if (n)
        *n = rc ? 0 : changed;
    return rc;
}

int sa_sqlite_outbox_requeue_expired(struct sa_store *s, long long now, long long lease_seconds,
                                     const char *reason, int *n, struct sa_err *err)
{
    if (n)
        *n = 0;
    if (lease_seconds <= 0)
        return sa_err_set(err, SA_EINVAL, "the outbox lease must be positive");
    char stamp[SA_ISO8601_LEN];
    sa_iso8601_now(stamp);
    const struct db_arg a[] = {NUM(now), NUM(lease_seconds), TXT(reason), TXT(stamp)};
    int changed = 0;
    int rc = db_exec_args(s, &OUTBOX_REQUEUE, a, DB_N(a), &changed, err);
    if (!rc && n)
        *n = changed;
    return rc;
}

/* CRM pushes (app/crm_sync.h): the kinds that start with a prefix, not e-mail */
static const struct db_sql OUTBOX_KIND_LIST = {
    "list outbox by kind",
    "SELECT " OUTBOX_LIST_COLS " FROM outbox WHERE substr(kind, 1, length(?1)) = ?1 AND "
    "(?2 IS NULL OR lead_id = ?2) ORDER BY updated_at DESC, id DESC LIMIT ?3"};
static const struct db_sql OUTBOX_KIND_COUNTS = {
    "count outbox by kind", "SELECT status, count(*) AS n FROM outbox WHERE substr(kind, 1, "
                            "length(?1)) = ?1 GROUP BY status ORDER BY status"};

int sa_sqlite_outbox_kind_list(struct sa_store *s, const char *prefix, const char *lead_id,
                               int limit, json_t **out, struct sa_err *err)
{
    const struct db_arg a[] = {TXT(prefix), TXT(lead_id), NUM(limit)};
    return db_query_rows(s, &OUTBOX_KIND_LIST, a, DB_N(a), NULL, out, err);
}

int sa_sqlite_outbox_kind_counts(struct sa_store *s, const char *prefix, json_t **out,
                                 struct sa_err *err)
{
    const struct db_arg a[] = {TXT(prefix)};
    return db_query_rows(s, &OUTBOX_KIND_COUNTS, a, DB_N(a), NULL, out, err);
}
