/* Meetings in SQLite: slots held for prospects and meetings they booked. The rule that no
 * two active meetings overlap lives in each write's own WHERE clause (NOT EXISTS an
 * overlapping active row), so the check and the write are one statement on the one
 * writer connection: two concurrent holds on a slot cannot both pass. Part of the SQLite
 * backend (db.h). */
#include "store/sqlite/db.h"

#include <string.h>

/* Another active meeting overlapping [?start, ?end) at ?now, other than ?id: the
 * parameters are numbered by the statements that use it (?1 id, ?2 start, ?3 end, ?4 now). */
#define OVERLAP                                                                                    \
    "EXISTS (SELECT 1 FROM meetings o WHERE o.id <> ?1 AND o.start_at < ?3 AND o.end_at > ?2 "     \
    "AND (o.status IN ('confirmed', 'tentative') OR (o.status = 'held' AND o.hold_until > ?4)))"

#define MEETING_COLS                                                                               \
    "id, lead_id, thread_id, attendee, "                                                           \
    "strftime('%Y-%m-%dT%H:%M:%SZ', start_at, 'unixepoch') AS start, "                             \
    "strftime('%Y-%m-%dT%H:%M:%SZ', end_at, 'unixepoch') AS end, start_at AS start_unix, "         \
    "end_at AS end_unix, timezone, tz_source, "                                                    \
    "CASE WHEN status = 'held' AND hold_until <= ?4 THEN 'expired' ELSE status END AS status, "    \
    "CASE WHEN hold_until IS NULL THEN NULL "                                                      \
    "ELSE strftime('%Y-%m-%dT%H:%M:%SZ', hold_until, 'unixepoch') END AS hold_until, "             \
    "sequence, ics_uid, partstat, created_at, updated_at"

static const struct db_sql MEETING_HOLD = {
    "hold a meeting slot",
    "INSERT INTO meetings (id, lead_id, thread_id, attendee, start_at, end_at, timezone, "
    "tz_source, status, hold_until, sequence, ics_uid, created_at, updated_at) "
    "SELECT ?1, ?5, ?6, ?7, ?2, ?3, ?8, ?9, ?10, ?11, 0, ?12, ?13, ?13 "
    "WHERE NOT " OVERLAP " AND NOT EXISTS (SELECT 1 FROM meetings WHERE id = ?1)"};
static const struct db_sql MEETING_MOVE = {
    "move a meeting",
    "UPDATE meetings SET start_at = ?2, end_at = ?3, status = 'held', hold_until = ?5, "
    "sequence = sequence + 1, updated_at = ?6 WHERE id = ?1 AND NOT " OVERLAP};
/* confirmed and tentative make the meeting active again: the overlap is checked */
static const struct db_sql MEETING_STATUS = {
    "set a meeting's status",
    "UPDATE meetings SET status = ?5, partstat = COALESCE(?6, partstat), "
    "sequence = sequence + 1, updated_at = ?7 WHERE id = ?1 AND (?5 NOT IN ('confirmed', "
    "'tentative') OR NOT EXISTS (SELECT 1 FROM meetings o WHERE o.id <> ?1 AND o.start_at < "
    "(SELECT end_at FROM meetings WHERE id = ?1) AND o.end_at > (SELECT start_at FROM "
    "meetings WHERE id = ?1) AND (o.status IN ('confirmed', 'tentative') OR (o.status = "
    "'held' AND o.hold_until > ?4))))"};
static const struct db_sql MEETING_GET = {"get a meeting",
                                          "SELECT " MEETING_COLS " FROM meetings WHERE id = ?1"};
static const struct db_sql MEETING_LIST = {
    "list meetings",
    "SELECT * FROM (SELECT " MEETING_COLS " FROM meetings WHERE (?2 = 0 OR end_at > ?2) AND "
    "(?3 = 0 OR start_at < ?3) AND (?5 IS NULL OR lead_id = ?5) AND (?6 IS NULL OR "
    "thread_id = ?6) AND (?8 IS NULL OR ics_uid = ?8) AND (?9 IS NULL OR start_at > ?10 OR "
    "(start_at = ?10 AND id > ?9))) WHERE ?1 IS NULL OR status = ?1 OR (?1 = 'active' AND "
    "status IN ('held', 'confirmed', 'tentative')) OR (?1 = 'live' AND status IN ('held', "
    "'expired', 'confirmed', 'tentative')) ORDER BY start_unix, id LIMIT ?7"};

int sa_sqlite_meeting_get(struct sa_store *s, const char *id, long long now, json_t **out,
                          struct sa_err *err)
{
    const struct db_arg a[] = {TXT(id), TXT(NULL), TXT(NULL), NUM(now)};
    int rc = db_query_one(s, &MEETING_GET, a, DB_N(a), NULL, out, err);
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
    return sa_sqlite_meeting_get(s, id, now, out, err);
}

int sa_sqlite_meeting_hold(struct sa_store *s, const struct sa_meeting_row *m, long long now,
                           json_t **out, struct sa_err *err)
{
    if (out)
        *out = NULL;
    if (!m->id || !m->timezone || !m->ics_uid || m->start >= m->end)
        return sa_err_set(err, SA_EINVAL, "a meeting needs an id, a zone, a uid and start < end");
    const char *status = m->status ? m->status : "held";
    if (strcmp(status, "held") != 0 && strcmp(status, "confirmed") != 0)
        return sa_err_set(err, SA_EINVAL, "a new meeting is held or confirmed, not %s", status);
    char stamp[SA_ISO8601_LEN];
    sa_iso8601_now(stamp);
    const struct db_arg a[] = {
        TXT(m->id),         NUM(m->start),    NUM(m->end),      NUM(now),          TXT(m->lead_id),
        TXT(m->thread_id),  TXT(m->attendee), TXT(m->timezone), TXT(m->tz_source), TXT(status),
        NUM(m->hold_until), TXT(m->ics_uid),  TXT(stamp)};
    int changed = 0;
    int rc = db_exec_args(s, &MEETING_HOLD, a, DB_N(a), &changed, err);
    if (!rc && !changed)
        rc = sa_err_set(err, SA_ECONFLICT, "the slot is taken by another meeting");
    return rc ? rc : result(s, m->id, now, out, err);
}

/* A write that changed nothing: the id is unknown, or the slot is taken. */
static int not_changed(struct sa_store *s, const char *id, long long now, struct sa_err *err)
{
    json_t *row = NULL;
    int rc = sa_sqlite_meeting_get(s, id, now, &row, err);
    json_decref(row);
    return rc ? rc : sa_err_set(err, SA_ECONFLICT, "the slot is taken by another meeting");
}

int sa_sqlite_meeting_move(struct sa_store *s, const char *id, long long start, long long end,
                           long long hold_until, long long now, json_t **out, struct sa_err *err)
{
    if (out)
        *out = NULL;
    if (start >= end)
        return sa_err_set(err, SA_EINVAL, "a meeting starts before it ends");
    char stamp[SA_ISO8601_LEN];
    sa_iso8601_now(stamp);
    const struct db_arg a[] = {TXT(id),  NUM(start),      NUM(end),
                               NUM(now), NUM(hold_until), TXT(stamp)};
    int changed = 0;
    int rc = db_exec_args(s, &MEETING_MOVE, a, DB_N(a), &changed, err);
    if (!rc && !changed)
        rc = not_changed(s, id, now, err);
    return rc ? rc : result(s, id, now, out, err);
}

int sa_sqlite_meeting_set_status(struct sa_store *s, const char *id, const char *status,
                                 const char *partstat, long long now, json_t **out,
                                 struct sa_err *err)
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
    const struct db_arg a[] = {TXT(id),     NUM(0),        NUM(0),    NUM(now),
                               TXT(status), TXT(partstat), TXT(stamp)};
    int changed = 0;
    int rc = db_exec_args(s, &MEETING_STATUS, a, DB_N(a), &changed, err);
    if (!rc && !changed)
        rc = not_changed(s, id, now, err);
    return rc ? rc : result(s, id, now, out, err);
}

int sa_sqlite_meeting_list(struct sa_store *s, const struct sa_meeting_query *q, json_t **out,
                           struct sa_err *err)
{
    *out = NULL;
    if (q->limit < 1 || q->limit > 1000)
        return sa_err_set(err, SA_EINVAL, "limit is 1 to 1000");
    const struct db_arg a[] = {TXT(q->status),   NUM(q->from),       NUM(q->to),    NUM(q->now),
                               TXT(q->lead_id),  TXT(q->thread_id),  NUM(q->limit), TXT(q->ics_uid),
                               TXT(q->after_id), NUM(q->after_start)};
    return db_query_rows(s, &MEETING_LIST, a, DB_N(a), NULL, out, err);
}
