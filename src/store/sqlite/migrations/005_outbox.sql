-- The BDR workflow's human approvals (one per interrupt of a thread) and the outbox of
-- side effects (e-mails, follow-ups), each with an idempotency key so that resuming a
-- run, posting an approval twice or restarting a killed server never sends twice.
CREATE TABLE approvals (
    id            TEXT PRIMARY KEY,
    thread_id     TEXT NOT NULL,
    interrupt_id  TEXT NOT NULL,
    lead_id       TEXT,
    status        TEXT NOT NULL,          -- pending, accepted, edited, responded, ignored
    request       TEXT NOT NULL,          -- the HumanInterrupt (JSON)
    response      TEXT,                   -- the HumanResponse (JSON)
    reviewer      TEXT,
    changes       TEXT,                   -- what an edit changed (JSON)
    created_at    TEXT NOT NULL,
    decided_at    TEXT,
    UNIQUE (thread_id, interrupt_id)
);
CREATE INDEX approvals_status ON approvals (status, created_at);

CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    idempotency_key  TEXT NOT NULL UNIQUE,
    kind             TEXT NOT NULL,       -- email, followup
    thread_id        TEXT,
    lead_id          TEXT,
    to_email         TEXT NOT NULL COLLATE NOCASE,
    payload          TEXT NOT NULL,       -- JSON: {subject, text, ics?, ...}
    status           TEXT NOT NULL,       -- queued, sending, sent, failed, cancelled
    due_at           INTEGER NOT NULL,    -- unix seconds
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    delivered_id     TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    sent_at          TEXT
);
CREATE INDEX outbox_due ON outbox (status, due_at);
CREATE INDEX outbox_contact ON outbox (to_email, created_at);
CREATE INDEX outbox_thread ON outbox (thread_id);
