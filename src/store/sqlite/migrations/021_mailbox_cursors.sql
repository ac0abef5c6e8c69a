-- The IMAP poller's place in each mailbox it reads (app/imap_poller.c): the mailbox's
-- UIDVALIDITY and the highest UID done, so a restart neither imports again nor misses,
-- and a lease (owner, lease_until in unix milliseconds) so one process polls at a time.
CREATE TABLE mailbox_cursors (
    mailbox     TEXT PRIMARY KEY,
    uidvalidity INTEGER NOT NULL DEFAULT 0,
    last_uid    INTEGER NOT NULL DEFAULT 0,
    owner       TEXT NOT NULL,
    lease_until INTEGER NOT NULL
);
