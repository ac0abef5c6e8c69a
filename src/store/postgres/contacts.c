/* Contacts in PostgreSQL: the do-not-contact state per e-mail address (contacts) and its
 * append-only history (contact_consent: every opt-out and every lift, with its source),
 * checked before anything is sent; and the server's generated secrets. Part of the
 * PostgreSQL backend (pg.h).
 *
 * Addresses compare ignoring ASCII case: the email columns are citext (migration 001), so
 * the primary key (and ON CONFLICT on it) sees one contact per address whatever case
 * callers use, and every parameter compared with one is cast to citext. */
#include "store/postgres/pg.h"

#include <stdlib.h>
#include <string.h>

/* the first opt-out since the last lift stays the contact's record */
static const struct pg_sql CONTACT_DNC = {
    "mark do-not-contact",
    "INSERT INTO contacts (email, do_not_contact, reason, source, updated_at) "
    "VALUES ($1::citext, 1, $2, $3, $4) ON CONFLICT (email) DO UPDATE SET "
    "do_not_contact = 1, reason = excluded.reason, source = excluded.source, "
    "updated_at = excluded.updated_at WHERE contacts.do_not_contact = 0"};
/* The history gets an opt_out entry unless this source opted out since the last lift. */
static const struct pg_sql CONSENT_OPT_OUT = {
    "record do-not-contact",
    "INSERT INTO contact_consent (email, action, source, reason, at) SELECT $1::citext, "
    "'opt_out', $3::text, $2::text, $4::text WHERE NOT EXISTS (SELECT 1 FROM contact_consent "
    "h WHERE h.email = $1::citext AND h.action = 'opt_out' AND h.source = $3::text AND "
    "h.id > COALESCE((SELECT max(id) FROM contact_consent WHERE email = $1::citext AND "
    "action = 'lift'), 0))"};
static const struct pg_sql CONTACT_LIFT = {
    "lift do-not-contact",
    "UPDATE contacts SET do_not_contact = 0, reason = $3, source = $2, updated_at = $4 "
    "WHERE email = $1::citext AND do_not_contact = 1"};
static const struct pg_sql CONSENT_LIFT = {
    "record consent", "INSERT INTO contact_consent (email, action, source, reason, at) VALUES "
                      "($1::citext, 'lift', $2, $3, $4)"};
static const struct pg_sql CONTACT_GET = {
    "get contact", "SELECT email, do_not_contact, reason, source, updated_at FROM contacts "
                   "WHERE email = $1::citext"};
static const struct pg_sql CONSENT_HISTORY = {
    "contact history", "SELECT action, source, reason, at FROM contact_consent WHERE email = "
                       "$1::citext ORDER BY id"};
static const struct pg_sql CONTACT_DNC_PAGE = {
    "list do-not-contact", "SELECT email, do_not_contact, reason, source, updated_at FROM "
                           "contacts WHERE do_not_contact = 1 ORDER BY updated_at DESC, email "
                           "LIMIT $1::bigint OFFSET $2::bigint"};
static const struct pg_sql CONTACT_DNC_COUNT = {
    "list do-not-contact", "SELECT count(*) AS n FROM contacts WHERE do_not_contact = 1"};
static const struct pg_sql SECRET_PUT = {
    "store a secret", "INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) "
                      "ON CONFLICT (name) DO NOTHING"};
static const struct pg_sql SECRET_GET = {"read a secret",
                                         "SELECT value FROM server_secrets WHERE name = $1"};

struct mark {
    const char *email, *reason, *source;
};

/* The contact's row first: its upsert locks the row (or waits for another instance's
 * insert of it), so concurrent opt-outs of one address run one after the other and the
 * history check below, a statement with a fresh snapshot, sees the entry an earlier one
 * committed: repeating an opt-out stays idempotent across instances. */
static int dnc_write(struct pg_conn *c, void *arg, const char *now, struct sa_err *err)
{
    struct mark *m = arg;
    const struct pg_arg a[] = {TXT(m->email), TXT(m->reason), TXT(m->source), TXT(now)};
    int rc = pg_exec_locked(c, &CONTACT_DNC, a, DB_N(a), NULL, err);
    return rc ? rc : pg_exec_locked(c, &CONSENT_OPT_OUT, a, DB_N(a), NULL, err);
}

int sa_pg_contact_dnc(struct sa_store *s, const char *email, const char *reason, const char *source,
                      struct sa_err *err)
{
    struct mark m = {.email = email, .reason = reason, .source = source};
    return pg_transaction(s, dnc_write, &m, err);
}

static int lift_write(struct pg_conn *c, void *arg, const char *now, struct sa_err *err)
{
    struct mark *m = arg;
    const struct pg_arg a[] = {TXT(m->email), TXT(m->source), TXT(m->reason), TXT(now)};
    int changed = 0;
    int rc = pg_exec_locked(c, &CONTACT_LIFT, a, DB_N(a), &changed, err);
    if (rc)
        return rc;
    if (!changed)
        return sa_err_set(err, SA_ECONFLICT, "the contact is not marked do-not-contact");
    return pg_exec_locked(c, &CONSENT_LIFT, a, DB_N(a), NULL, err);
}

int sa_pg_contact_lift(struct sa_store *s, const char *email, const char *consent_source,
                       const char *note, struct sa_err *err)
{
    struct mark m = {.email = email, .reason = note, .source = consent_source};
    return pg_transaction(s, lift_write, &m, err);
}

/* The integer flag do_not_contact, as PostgreSQL prints it. */
static bool flag(const PGresult *res, int row, int col)
{
    return !PQgetisnull(res, row, col) && strcmp(PQgetvalue(res, row, col), "0") != 0;
}

static json_t *contact_from_row(const PGresult *res, int row)
{
    return json_pack("{s:o, s:b, s:o, s:o, s:o}", "email", pg_col_text(res, row, 0),
                     "do_not_contact", flag(res, row, 1), "reason", pg_col_text(res, row, 2),
                     "source", pg_col_text(res, row, 3), "updated_at", pg_col_text(res, row, 4));
}

int sa_pg_contact_get(struct sa_store *s, const char *email, json_t **out, struct sa_err *err)
{
    int rc = pg_query_one(s, &CONTACT_GET, &TXT(email), 1, contact_from_row, out, err);
    if (!rc && !*out)
        rc = sa_err_set(err, SA_ENOTFOUND, "no such contact");
    return rc;
}

int sa_pg_contact_history(struct sa_store *s, const char *email, json_t **out, struct sa_err *err)
{
    return pg_query_rows(s, &CONSENT_HISTORY, &TXT(email), 1, NULL, out, err);
}

int sa_pg_contact_list_dnc(struct sa_store *s, int limit, int offset, json_t **out, long *total,
                           struct sa_err *err)
{
    *total = 0;
    const struct pg_arg a[] = {NUM(limit), NUM(offset)};
    int rc = pg_query_rows(s, &CONTACT_DNC_PAGE, a, DB_N(a), contact_from_row, out, err);
    json_t *row = NULL;
    if (!rc)
        rc = pg_query_one(s, &CONTACT_DNC_COUNT, NULL, 0, NULL, &row, err);
    *total = rc ? 0 : (long)json_integer_value(json_object_get(row, "n"));
    json_decref(row);
    if (rc) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

/* First writer wins across instances: an insert racing another instance's insert of the
 * same name waits for it to commit and then does nothing (ON CONFLICT DO NOTHING), and
 * the read that follows, a statement of its own, sees the value that won. */
int sa_pg_secret_get_or_put(struct sa_store *s, const char *name, const char *candidate, char **out,
                            struct sa_err *err)
{
    *out = NULL;
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const struct pg_arg a[] = {TXT(name), TXT(candidate), TXT(now)};
    int rc = pg_exec_args(s, &SECRET_PUT, a, DB_N(a), NULL, err);
    json_t *row = NULL;
    if (!rc)
        rc = pg_query_one(s, &SECRET_GET, &TXT(name), 1, NULL, &row, err);
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
