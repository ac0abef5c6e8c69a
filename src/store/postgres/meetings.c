/* Meetings in PostgreSQL: slots held for prospects and meetings they booked. Part of the
 * PostgreSQL backend (pg.h).
 *
 * No two active meetings may overlap, across every instance sharing the database. SQLite
 * gets that from its single writer; here each write that can make a meeting active (a
 * hold, a move, a status change) runs in a transaction that first takes one
 * transaction-scoped advisory lock on a fixed key (MEETINGS_LOCK), then checks the
 * overlap and writes. Those writes therefore run one at a time on the whole cluster, and
 * since under READ COMMITTED every statement takes a fresh snapshot, the check, a
 * statement run after the lock is granted, sees every meeting an earlier holder of the
 * lock committed; the lock goes with the COMMIT (or the ROLLBACK, or the connection).
 * An exclusion constraint (tstzrange && with btree_gist) cannot do this job: whether a
 * hold is active depends on the caller's now (a hold lapses without any write), and a
 * constraint cannot take that as an input. Meeting writes are rare (a few per proposal),
 * so one lock for all of them costs nothing worth a finer key. */
#include "store/postgres/pg.h"

#include <string.h>

/* pg_advisory_xact_lock's key for meeting writes: "SAMEETNG" in ASCII, a value nothing
 * else in the schema uses. */
#define MEETINGS_LOCK "5999161138545446471"

static const struct pg_sql LOCK = {"lock the meeting slots",
                                   "SELECT pg_advisory_xact_lock(" MEETINGS_LOCK ")"};

/* Another active meeting overlapping [start, end) at now, other than id (placeholders
 * given by each statement). */
#define OVERLAP(id, start, end, now)                                                               \
    "EXISTS (SELECT 1 FROM meetings o WHERE o.id <> " id " AND o.start_at < " end                  \
    " AND o.end_at > " start " AND (o.status IN ('confirmed', 'tentative') OR "                    \
    "(o.status = 'held' AND o.hold_until > " now ")))"

#define ISO(col)                                                                                   \
    "to_char(to_timestamp(" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* The meeting as returned, with now (a placeholder) deciding "expired". */
#define MEETING_COLS(now)                                                                          \
    "id, lead_id, thread_id, attendee, " ISO("start_at") " AS start, " ISO(                        \
        "end_at") " AS \"end\", start_at AS start_unix, end_at AS end_unix, timezone, tz_source, " \
                  "CASE WHEN status = 'held' AND hold_until <= " now                               \
                  " THEN 'expired' ELSE status END "                                               \
                  "AS status, CASE WHEN hold_until IS NULL THEN NULL ELSE " ISO(                   \
                      "hold_until") " END AS "                                                     \
                                    "hold_until, sequence, ics_uid, partstat, created_at, "        \
                                    "updated_at"

static const struct pg_sql HOLD_TAKEN = {
    "hold a meeting slot",
    "SELECT (" OVERLAP("$1::text", "$2::bigint", "$3::bigint", "$4::bigint") ")::int AS taken"};
/* the id's own conflict is a conflict too (ON CONFLICT: 0 rows, answered SA_ECONFLICT) */
static const struct pg_sql MEETING_HOLD = {
    "hold a meeting slot",
    "INSERT INTO meetings (id, lead_id, thread_id, attendee, start_at, end_at, timezone, "
    "tz_source, status, hold_until, sequence, ics_uid, created_at, updated_at) VALUES "
    "($1, $4, $5, $6, $2::bigint, $3::bigint, $7, $8, $9, $10::bigint, 0, $11, $12, $12) "
    "ON CONFLICT (id) DO NOTHING"};
static const struct pg_sql MEETING_MOVE = {
    "move a meeting",
    "UPDATE meetings SET start_at = $2::bigint, end_at = $3::bigint, status = 'held', "
    "hold_until = $5::bigint, sequence = sequence + 1, updated_at = $6 WHERE id = $1 AND "
    "NOT " OVERLAP("$1", "$2::bigint", "$3::bigint", "$4::bigint")};
/* confirmed and tentative make the meeting active again: the overlap is checked */
static const struct pg_sql MEETING_STATUS = {
    "set a meeting's status",
    "UPDATE meetings m SET status = $3, partstat = COALESCE($4, partstat), "
    "sequence = sequence + 1, updated_at = $5 WHERE id = $1 AND ($3::text NOT IN ('confirmed', "
    "'tentative') OR NOT " OVERLAP("m.id", "m.start_at", "m.end_at", "$2::bigint") ")"};
static const struct pg_sql MEETING_GET = {
    "get a meeting", "SELECT " MEETING_COLS("$2::bigint") " FROM meetings WHERE id = $1"};
static const struct pg_sql MEETING_LIST = {
    "list meetings",
    "SELECT * FROM (SELECT " MEETING_COLS(
        "$4::bigint") " FROM meetings WHERE ($2::bigint = 0 "
                      "OR end_at > $2::bigint) AND ($3::bigint = 0 OR start_at < $3::bigint) AND "
                      "($5::text IS "
                      "NULL OR lead_id = $5::text) AND ($6::text IS NULL OR thread_id = $6::text) "
                      "AND ($8::text IS NULL OR ics_uid = $8::text) AND ($9::text IS NULL OR "
                      "start_at > $10::bigint OR (start_at = $10::bigint AND id > $9::text))) "
                      "AS m WHERE "
                      "$1::text IS NULL OR status = $1::text OR ($1::text = 'active' AND status IN "
                      "('held', "
                      "'confirmed', 'tentative')) OR ($1::text = 'live' AND status IN ('held', "
                      "'expired', 'confirmed', 'tentative')) ORDER BY start_unix, id LIMIT "
                      "$7::bigint"};

/* Takes the meeting lock for the rest of c's transaction. */
static int lock_slots(struct pg_conn *c, struct sa_err *err)
{
    PGresult *res = NULL;
    int rc = pg_query_raw(NULL, c, &LOCK, NULL, 0, &res, err);
    PQclear(res);
    return rc;
}

int sa_pg_meeting_get(struct sa_store *s, const char *id, long long now, json_t **out,
                      struct sa_err *err)
{
    const struct pg_arg a[] = {TXT(id), NUM(now)};
    int rc = pg_query_one(s, &MEETING_GET, a, DB_N(a), NULL, out, err);
    if (!rc && !*out)
        rc = sa_err_set(err, SA_ENOTFOUND, "no meeting %s", id);
    return rc;
}

/* After a write: *out (when asked for) is the meeting as stored. */
static int result(struct sa_store *s, const char *id, long long now, json_t **out,
                  struct sa_err *err)
{
    if (!out)
        return 0;
    return sa_pg_meeting_get(s, id, now, out, err);
}

struct hold {
    const struct sa_meeting_row *m;
    const char *status;
    long long now;
};

static int hold_write(struct pg_conn *c, void *arg, const char *stamp, struct sa_err *err)
{
    const struct hold *h = arg;
    const struct sa_meeting_row *m = h->m;
    int rc = lock_slots(c, err);
    json_t *taken = NULL;
    const struct pg_arg q[] = {TXT(m->id), NUM(m->start), NUM(m->end), NUM(h->now)};
    if (!rc)
        rc = pg_conn_one(c, &HOLD_TAKEN, q, DB_N(q), NULL, &taken, err);
    if (!rc && json_integer_value(json_object_get(taken, "taken")) != 0)
        rc = sa_err_set(err, SA_ECONFLICT, "the slot is taken by another meeting");
    json_decref(taken);
    if (rc)
        return rc;
    const struct pg_arg a[] = {TXT(m->id),         NUM(m->start),     NUM(m->end),
                               TXT(m->lead_id),    TXT(m->thread_id), TXT(m->attendee),
                               TXT(m->timezone),   TXT(m->tz_source), TXT(h->status),
                               NUM(m->hold_until), TXT(m->ics_uid),   TXT(stamp)};
    int changed = 0;
    rc = pg_exec_locked(c, &MEETING_HOLD, a, DB_N(a), &changed, err);
    if (!rc && !changed)
        rc = sa_err_set(err, SA_ECONFLICT, "a meeting with id %s exists already", m->id);
    return rc;
}

int sa_pg_meeting_hold(struct sa_store *s, const struct sa_meeting_row *m, long long now,
                       json_t **out, struct sa_err *err)
{
    if (out)
        *out = NULL;
    if (!m->id || !m->timezone || !m->ics_uid || m->start >= m->end)
        return sa_err_set(err, SA_EINVAL, "a meeting needs an id, a zone, a uid and start < end");
    const char *status = m->status ? m->status : "held";
    if (strcmp(status, "held") != 0 && strcmp(status, "confirmed") != 0)
        return sa_err_set(err, SA_EINVAL, "a new meeting is held or confirmed, not %s", status);
    struct hold h = {.m = m, .status = status, .now = now};
    int rc = pg_transaction(s, hold_write, &h, err);
    return rc ? rc : result(s, m->id, now, out, err);
}

/* One conditional UPDATE under the meeting lock (move, status). */
struct change {
    const struct pg_sql *sql;
    const struct pg_arg *a;
    int n;
    int changed;
};

static int change_write(struct pg_conn *c, void *arg, const char *stamp, struct sa_err *err)
{
    (void)stamp; /* the statement's arguments carry the caller's stamp */
    struct change *ch = arg;
    int rc = lock_slots(c, err);
    return rc ? rc : pg_exec_locked(c, ch->sql, ch->a, ch->n, &ch->changed, err);
}

/* A write that changed nothing: the id is unknown, or the slot is taken. */
static int not_changed(struct sa_store *s, const char *id, long long now, struct sa_err *err)
{
    json_t *row = NULL;
    int rc = sa_pg_meeting_get(s, id, now, &row, err);
    json_decref(row);
    return rc ? rc : sa_err_set(err, SA_ECONFLICT, "the slot is taken by another meeting");
}

int sa_pg_meeting_move(struct sa_store *s, const char *id, long long start, long long end,
                       long long hold_until, long long now, json_t **out, struct sa_err *err)
{
    if (out)
        *out = NULL;
    if (start >= end)
        return sa_err_set(err, SA_EINVAL, "a meeting starts before it ends");
    char stamp[SA_ISO8601_LEN];
    sa_iso8601_now(stamp);
    const struct pg_arg a[] = {TXT(id),  NUM(start),      NUM(end),
                               NUM(now), NUM(hold_until), TXT(stamp)};
    struct change ch = {.sql = &MEETING_MOVE, .a = a, .n = DB_N(a)};
    int rc = pg_transaction(s, change_write, &ch, err);
    if (!rc && !ch.changed)
        rc = not_changed(s, id, now, err);
    return rc ? rc : result(s, id, now, out, err);
}

int sa_pg_meeting_set_status(struct sa_store *s, const char *id, const char *status,
                             const char *partstat, long long now, json_t **out, struct sa_err *err)
{
    if (out)
        *out = NULL;
    static const char *const ok[] = {"confirmed", "tentative", "declined", "cancelled"};
    bool known = false;
    for (size_t i = 0; status && i < sizeof ok / sizeof ok[0]; i++)
        known |= strcmp(status, ok[i]) == 0;
    if (!known)
        return sa_err_set(err, SA_EINVAL, "unknown meeting status");
    char stamp[SA_ISO8601_LEN];
    sa_iso8601_now(stamp);
    const struct pg_arg a[] = {TXT(id), NUM(now), TXT(status), TXT(partstat), TXT(stamp)};
    struct change ch = {.sql = &MEETING_STATUS, .a = a, .n = DB_N(a)};
    int rc = pg_transaction(s, change_write, &ch, err);
    if (!rc && !ch.changed)
        rc = not_changed(s, id, now, err);
    return rc ? rc : result(s, id, now, out, err);
}

int sa_pg_meeting_list(struct sa_store *s, const struct sa_meeting_query *q, json_t **out,
                       struct sa_err *err)
{
    *out = NULL;
    if (q->limit < 1 || q->limit > 1000)
        return sa_err_set(err, SA_EINVAL, "limit is 1 to 1000");
    const struct pg_arg a[] = {TXT(q->status),   NUM(q->from),       NUM(q->to),    NUM(q->now),
                               TXT(q->lead_id),  TXT(q->thread_id),  NUM(q->limit), TXT(q->ics_uid),
                               TXT(q->after_id), NUM(q->after_start)};
    return pg_query_rows(s, &MEETING_LIST, a, DB_N(a), NULL, out, err);
}
