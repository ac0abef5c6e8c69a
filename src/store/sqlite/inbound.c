/* Inbound mail in SQLite: the received messages, each recorded once by its Message-ID, and
 * the outbox's lookup by Message-ID that matches a reply to what we sent. Part of the SQLite
 * backend (db.h); the service is app/inbound.c. */
#include "store/sqlite/db.h"

#include <string.h>

static const struct db_sql OUTBOX_BY_MSGID = {
    "find an outbox item by Message-ID",
    "SELECT id, kind, lead_id, thread_id, to_email, status, sequence_id FROM outbox "
    "WHERE message_id = ?1 ORDER BY created_at, id LIMIT 1"};
/* the UNIQUE message_id makes the insert happen once */
static const struct db_sql INBOUND_CLAIM = {
    "record an inbound message",
    "INSERT INTO inbound_messages (id, message_id, kind, lead_id, thread_id, email, matched_by, "
    "received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (message_id) DO UPDATE SET "
    "id = excluded.id, kind = excluded.kind, lead_id = excluded.lead_id, thread_id = "
    "excluded.thread_id, email = excluded.email, matched_by = excluded.matched_by, "
    "received_at = excluded.received_at WHERE inbound_messages.result IS NULL AND ?9 IS NOT "
    "NULL AND inbound_messages.received_at < ?9"};
static const struct db_sql INBOUND_GET = {
    "read an inbound message",
    "SELECT id, message_id, kind, lead_id, thread_id, email, matched_by, status, result, "
    "received_at FROM inbound_messages WHERE message_id = ?1"};
static const struct db_sql INBOUND_FINISH = {
    "record an inbound message's outcome",
    "UPDATE inbound_messages SET status = ?2, result = ?3 WHERE message_id = ?1"};
static const struct db_sql INBOUND_FORGET = {"forget an inbound message",
                                             "DELETE FROM inbound_messages WHERE message_id = ?1"};

int sa_sqlite_outbox_by_message_id(struct sa_store *s, const char *message_id, json_t **out,
                                   struct sa_err *err)
{
    int rc = db_query_one(s, &OUTBOX_BY_MSGID, &TXT(message_id), 1, NULL, out, err);
    if (!rc && !*out)
        rc = sa_err_set(err, SA_ENOTFOUND, "no outbox item went out with that Message-ID");
    return rc;
}

/* The stored record with its result parsed. */
static json_t *inbound_row(sqlite3_stmt *st)
{
    json_t *o = db_row_object(st);
    const char *text = json_string_value(json_object_get(o, "result"));
    if (o && text)
        json_object_set_new(o, "result", json_loads(text, 0, NULL));
    return o;
}

int sa_sqlite_inbound_claim(struct sa_store *s, const struct sa_inbound_row *r, bool *inserted,
                            json_t **existing, struct sa_err *err)
{
    *inserted = false;
    if (existing)
        *existing = NULL;
    if (!r->id || !r->message_id || !r->kind || !r->received_at)
        return sa_err_set(err, SA_EINVAL,
                          "an inbound message needs id, message_id, kind and "
                          "received_at");
    const struct db_arg a[] = {TXT(r->id),         TXT(r->message_id),  TXT(r->kind),
                               TXT(r->lead_id),    TXT(r->thread_id),   TXT(r->email),
                               TXT(r->matched_by), TXT(r->received_at), TXT(r->reclaim_before)};
    int changed = 0;
    int rc = db_exec_args(s, &INBOUND_CLAIM, a, DB_N(a), &changed, err);
    if (rc)
        return rc;
    *inserted = changed > 0;
    if (*inserted || !existing)
        return 0;
    rc = db_query_one(s, &INBOUND_GET, &TXT(r->message_id), 1, inbound_row, existing, err);
    if (!rc && !*existing) /* forgotten between the two statements: a retry inserts it */
        rc = sa_err_set(err, SA_ECONFLICT, "the inbound message is being processed");
    return rc;
}

int sa_sqlite_inbound_finish(struct sa_store *s, const char *message_id, const char *status,
                             const char *result, struct sa_err *err)
{
    int changed = 0;
    int rc;
    if (result) {
        const struct db_arg a[] = {TXT(message_id), TXT(status), TXT(result)};
        rc = db_exec_args(s, &INBOUND_FINISH, a, DB_N(a), &changed, err);
    } else {
        rc = db_exec_args(s, &INBOUND_FORGET, &TXT(message_id), 1, &changed, err);
    }
    return rc || changed ? rc : sa_err_set(err, SA_ENOTFOUND, "no such inbound message");
}
