-- Meetings proposed to and booked with prospects. A proposal holds its slot until
-- hold_until (unix seconds); a hold past it counts as expired without any job running. Of
-- the held (unexpired) and confirmed meetings no two overlap: the store checks that in the
-- transaction that inserts or moves one (the writer is serialised, so of two concurrent
-- holds on one slot exactly one wins).
CREATE TABLE meetings (
    id           TEXT PRIMARY KEY,
    lead_id      TEXT,
    thread_id    TEXT,
    attendee     TEXT COLLATE NOCASE,     -- the prospect's e-mail
    start_at     INTEGER NOT NULL,        -- unix seconds, UTC
    end_at       INTEGER NOT NULL,
    timezone     TEXT NOT NULL,           -- the prospect's IANA zone
    tz_source    TEXT,                    -- lead, region, country, phone, calendar
    status       TEXT NOT NULL,           -- held, confirmed, tentative, declined, cancelled
    hold_until   INTEGER,                 -- unix seconds: a held slot is free after it
    sequence     INTEGER NOT NULL DEFAULT 0,
    ics_uid      TEXT NOT NULL,
    partstat     TEXT,                    -- the prospect's last RSVP
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    CHECK (start_at < end_at)
);
CREATE INDEX meetings_time ON meetings (start_at, end_at);
CREATE INDEX meetings_lead ON meetings (lead_id, created_at);
CREATE INDEX meetings_thread ON meetings (thread_id);
