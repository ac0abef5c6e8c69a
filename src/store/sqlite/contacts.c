/* Contacts in SQLite: the do-not-contact state per e-mail address (contacts) and its
 * append-only history (contact_consent: every opt-out and every lift, with its source),
 * checked before anything is sent; and the server's generated secrets. Part of the SQLite
 * backend (db.h). */
#include "store/sqlite/db.h"

#include <stdlib.h>
#include <string.h>

/* The history gets an opt_out entry unless this source opted out since the last lift. */
static const struct db_sql CONSENT_OPT_OUT = {
    "record do-not-contact",
    "INSERT INTO contact_consent (email, action, source, reason, at) SELECT ?1, 'opt_out', ?3, "
    "?2, ?4 WHERE NOT EXISTS (SELECT 1 FROM contact_consent h WHERE h.email = ?1 AND h.action = "
    "'opt_out' AND h.source = ?3 AND h.id > COALESCE((SELECT max(id) FROM contact_consent WHERE "
    "email = ?1 AND action = 'lift'), 0))"};
/* the first opt-out since the last lift stays the contact's record */
static const struct db_sql CONTACT_DNC = {
    "mark do-not-contact",
    "INSERT INTO contacts (email, do_not_contact, reason, source, updated_at) "
    "VALUES (?1, 1, ?2, ?3, ?4) ON CONFLICT (email) DO UPDATE SET "
    "do_not_contact = 1, reason = excluded.reason, source = excluded.source, "
    "updated_at = excluded.updated_at WHERE contacts.do_not_contact = 0"};
static const struct db_sql CONTACT_LIFT = {
    "lift do-not-contact", "UPDATE contacts SET do_not_contact = 0, reason = ?3, source = ?2, "
                           "updated_at = ?4 WHERE email = ?1 AND do_not_contact = 1"};
static const struct db_sql CONSENT_LIFT = {
    "record consent", "INSERT INTO contact_consent (email, action, source, reason, at) VALUES "
                      "(?1, 'lift', ?2, ?3, ?4)"};
static const struct db_sql CONTACT_GET = {
    "get contact", "SELECT email, do_not_contact, reason, source, updated_at FROM contacts "
                   "WHERE email = ?1"};
static const struct db_sql CONSENT_HISTORY = {
    "contact history", "SELECT action, source, reason, at FROM contact_consent WHERE email = ?1 "
                       "ORDER BY id"};
static const struct db_sql CONTACT_DNC_PAGE = {
    "list do-not-contact", "SELECT email, do_not_contact, reason, source, updated_at FROM "
                           "contacts WHERE do_not_contact = 1 ORDER BY updated_at DESC, email "
                           "LIMIT ?1 OFFSET ?2"};
static const struct db_sql CONTACT_DNC_COUNT = {
    "list do-not-contact", "SELECT count(*) AS n FROM contacts WHERE do_not_contact = 1"};
static const struct db_sql SECRET_PUT = {
    "store a secret", "INSERT INTO server_secrets (name, value, created_at) VALUES (?1, ?2, ?3) "
                      "ON CONFLICT (name) DO NOTHING"};
static const struct db_sql SECRET_GET = {"read a secret",
                                         "SELECT value FROM server_secrets WHERE name = ?1"};

struct mark {
    const char *email, *reason, *source;
    bool lifted; /* contact_lift: the flag was set and is now cleared */
};

static int dnc_write(struct db_conn *c, void *arg, const char *now, struct sa_err *err)
{
    struct mark *m = arg;
    const struct db_arg a[] = {TXT(m->email), TXT(m->reason), TXT(m->source), TXT(now)};
    int rc = db_exec_locked(c, &CONSENT_OPT_OUT, a, DB_N(a), NULL, err);
    return rc ? rc : db_exec_locked(c, &CONTACT_DNC, a, DB_N(a), NULL, err);
}

int sa_sqlite_contact_dnc(struct sa_store *s, const char *email, const char *reason,
                          const char *source, struct sa_err *err)
{
    struct mark m = {.email = email, .reason = reason, .source = source};
    return db_transaction(s, dnc_write, &m, err);
}

static int lift_write(struct db_conn *c, void *arg, const char *now, struct sa_err *err)
{
    struct mark *m = arg;
    const struct db_arg a[] = {TXT(m->email), TXT(m->source), TXT(m->reason), TXT(now)};
    int changed = 0;
    int rc = db_exec_locked(c, &CONTACT_LIFT, a, DB_N(a), &changed, err);
    if (rc)
        return rc;
    if (!changed)
        return sa_err_set(err, SA_ECONFLICT, "the contact is not marked do-not-contact");
    m->lifted = true;
    return db_exec_locked(c, &CONSENT_LIFT, a, DB_N(a), NULL, err);
}

int sa_sqlite_contact_lift(struct sa_store *s, const char *email, const char *consent_source,
                           const char *note, struct sa_err *err)
{
    struct mark m = {.email = email, .reason = note, .source = consent_source};
    return db_transaction(s, lift_write, &m, err);
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

int sa_sqlite_contact_history(struct sa_store *s, const char *email, json_t **out,
                              struct sa_err *err)
{
    return db_query_rows(s, &CONSENT_HISTORY, &TXT(email), 1, NULL, out, err);
}

int sa_sqlite_contact_list_dnc(struct sa_store *s, int limit, int offset, json_t **out,
                               long *total, struct sa_err *err)
{
    *total = 0;
    const struct db_arg a[] = {NUM(limit), NUM(offset)};
    int rc = db_query_rows(s, &CONTACT_DNC_PAGE, a, DB_N(a), contact_from_row, out, err);
    json_t *row = NULL;
    if (!rc)
        rc = db_query_one(s, &CONTACT_DNC_COUNT, NULL, 0, NULL, &row, err);
    *total = (long)json_integer_value(json_object_get(row, "n"));
    json_decref(row);
    if (rc) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int sa_sqlite_secret_get_or_put(struct sa_store *s, const char *name, const char *candidate,
                                char **out, struct sa_err *err)
{
    *out = NULL;
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const struct db_arg a[] = {TXT(name), TXT(candidate), TXT(now)};
    int rc = db_exec_args(s, &SECRET_PUT, a, DB_N(a), NULL, err);
    json_t *row = NULL;
    if (!rc)
        rc = db_query_one(s, &SECRET_GET, &TXT(name), 1, NULL, &row, err);
    const char *v = json_string_value(json_object_get(row, "value"));
    if (!rc) {
        if (!v)
            rc = sa_err_set(err, SA_ESTORE, "the secret was not stored");
        else if (!(*out = strdup(v)))
            rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    json_decref(row);
    return rc;
}
