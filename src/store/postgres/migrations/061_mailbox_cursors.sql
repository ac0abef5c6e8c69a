-- The IMAP poller's place in each mailbox it reads (app/imap_poller.c; SQLite 021): the
-- mailbox's UIDVALIDITY and the highest UID done, so a restart neither imports again nor
-- misses, and a lease (owner, lease_until in unix milliseconds) so one process polls at a
-- time.
CREATE TABLE mailbox_cursors (
    mailbox     text COLLATE "C" PRIMARY KEY,
    uidvalidity bigint NOT NULL DEFAULT 0,
    last_uid    bigint NOT NULL DEFAULT 0,
    owner       text COLLATE "C" NOT NULL,
    lease_until bigint NOT NULL
);
