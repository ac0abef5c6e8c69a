/* Contacts in SQLite: the do-not-contact flag per e-mail address (unsubscribes, the
 * conversation agent, the API), checked before anything is sent. Part of the SQLite
 * backend (db.h). */
#include "store/sqlite/db.h"

static const struct db_sql CONTACT_DNC = {
    "mark do-not-contact",
    "INSERT INTO contacts (email, do_not_contact, reason, source, updated_at) "
    "VALUES (?1, 1, ?2, ?3, ?4) ON CONFLICT (email) DO UPDATE SET "
    "do_not_contact = 1, reason = excluded.reason, source = excluded.source, "
    "updated_at = excluded.updated_at"};
static const struct db_sql CONTACT_GET = {
    "get contact", "SELECT email, do_not_contact, reason, source, updated_at FROM contacts "
                   "WHERE email = ?1"};

int sa_sqlite_contact_dnc(struct sa_store *s, const char *email, const char *reason,
                          const char *source, struct sa_err *err)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const struct db_arg a[] = {TXT(email), TXT(reason), TXT(source), TXT(now)};
    return db_exec_args(s, &CONTACT_DNC, a, DB_N(a), NULL, err);
}

static json_t *contact_from_row(sqlite3_stmt *st)
{
    return json_pack("{s:o, s:b, s:o, s:o, s:o}", "email", db_col_text(st, 0), "do_not_contact",
                     sqlite3_column_int(st, 1), "reason", db_col_text(st, 2), "source",
                     db_col_text(st, 3), "updated_at", db_col_text(st, 4));
}

int sa_sqlite_contact_get(struct sa_store *s, const char *email, json_t **out, struct sa_err *err)
{
    int rc = db_query_one(s, &CONTACT_GET, &TXT(email), 1, contact_from_row, out, err);
    if (!rc && !*out)
        rc = sa_err_set(err, SA_ENOTFOUND, "no such contact");
    return rc;
}
