-- The conversation list (the web console's Conversations page): one row per conversation
-- thread, touched at each turn (app/invoke.c), listed last touched first by seq (a number
-- each touch makes larger than every earlier one: the list's order and its cursor).
CREATE TABLE conversations (
    thread_id     TEXT PRIMARY KEY,
    lead_id       TEXT,
    company_name  TEXT,
    contact_name  TEXT,
    contact_email TEXT COLLATE NOCASE,
    stage         TEXT,
    last_intent   TEXT,
    turns         INTEGER NOT NULL DEFAULT 0,
    seq           INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX conversations_seq ON conversations (seq);
CREATE INDEX conversations_lead ON conversations (lead_id);
-- retention deletes the rows of quiet conversations by their last turn (store/*/retention.c)
CREATE INDEX conversations_updated ON conversations (updated_at);
-- No backfill: the turns recorded before this migration are not enough to rebuild a row
-- (a turn without a stored lead was never recorded; compressed outputs cannot be read in
-- SQL). A conversation held before it joins the list at its next turn.
-- a lead's pending draft (the console's one-draft rule): its runs by lead and status
CREATE INDEX IF NOT EXISTS idx_runs_lead ON runs (lead_id, status);
