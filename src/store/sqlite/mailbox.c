/* The IMAP poller's mailbox cursors in SQLite: each mailbox's UIDVALIDITY and highest UID
 * done, under a lease so one process polls it at a time. Part of the SQLite backend
 * (db.h); the service is app/imap_poller.c. */
#include "store/sqlite/db.h"

/* the upsert's WHERE is the lease: it changes the row only for its holder or after the
 * holder's lease ended, so of two claimers one changes it */
static const struct db_sql MAILBOX_CLAIM = {
    "claim a mailbox",
    "INSERT INTO mailbox_cursors (mailbox, owner, lease_until) VALUES (?1, ?2, ?4) "
    "ON CONFLICT (mailbox) DO UPDATE SET owner = excluded.owner, lease_until = "
    "excluded.lease_until WHERE mailbox_cursors.owner = ?2 OR mailbox_cursors.lease_until <= ?3"};
static const struct db_sql MAILBOX_GET = {
    "read a mailbox cursor",
    "SELECT uidvalidity, last_uid FROM mailbox_cursors WHERE mailbox = ?1 AND owner = ?2"};
static const struct db_sql MAILBOX_ADVANCE = {
    "advance a mailbox cursor",
    "UPDATE mailbox_cursors SET uidvalidity = ?3, last_uid = ?4, lease_until = ?5 "
    "WHERE mailbox = ?1 AND owner = ?2"};

int sa_sqlite_mailbox_claim(struct sa_store *s, const char *mailbox, const char *owner,
                            long long now, long long lease_until, json_t **out, struct sa_err *err)
{
    *out = NULL;
    if (!mailbox || !*mailbox || !owner || !*owner)
        return sa_err_set(err, SA_EINVAL, "a mailbox claim needs a mailbox and an owner");
    const struct db_arg a[] = {TXT(mailbox), TXT(owner), NUM(now), NUM(lease_until)};
    int changed = 0;
    int rc = db_exec_args(s, &MAILBOX_CLAIM, a, DB_N(a), &changed, err);
    if (rc)
        return rc;
    if (!changed)
        return sa_err_set(err, SA_ECONFLICT, "another process polls the mailbox");
    rc = db_query_one(s, &MAILBOX_GET, a, 2, NULL, out, err);
    if (!rc && !*out) /* taken over between the two statements */
        rc = sa_err_set(err, SA_ECONFLICT, "another process polls the mailbox");
    return rc;
}

int sa_sqlite_mailbox_advance(struct sa_store *s, const char *mailbox, const char *owner,
                              long long uidvalidity, long long last_uid, long long lease_until,
                              struct sa_err *err)
{
    const struct db_arg a[] = {TXT(mailbox), TXT(owner), NUM(uidvalidity), NUM(last_uid),
                               NUM(lease_until)};
    int changed = 0;
    int rc = db_exec_args(s, &MAILBOX_ADVANCE, a, DB_N(a), &changed, err);
    if (!rc && !changed)
        rc = sa_err_set(err, SA_ECONFLICT, "another process took the mailbox over");
    return rc;
}
