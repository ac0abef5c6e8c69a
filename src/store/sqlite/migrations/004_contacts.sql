-- Contacts' consent: a contact marked do-not-contact (an unsubscribe, a bounce, an API
-- call) gets nothing more from the outreach agents.
CREATE TABLE contacts (
    email           TEXT PRIMARY KEY COLLATE NOCASE,
    do_not_contact  INTEGER NOT NULL DEFAULT 0,
    reason          TEXT,
    source          TEXT,
    updated_at      TEXT NOT NULL
);
