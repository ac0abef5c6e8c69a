-- The conversation list (the web console's Conversations page; SQLite 019): one row per
-- conversation thread, touched at each turn, listed last touched first by seq (from a
-- sequence: each touch gets a larger number, the list's order and its cursor).
CREATE SEQUENCE conversations_seq_gen;
CREATE TABLE conversations (
    thread_id     text COLLATE "C" PRIMARY KEY,
    lead_id       text COLLATE "C",
    company_name  text,
    contact_name  text,
    contact_email citext,
    stage         text COLLATE "C",
    last_intent   text COLLATE "C",
    turns         integer NOT NULL DEFAULT 0,
    seq           bigint NOT NULL,
    created_at    text COLLATE "C" NOT NULL,
    updated_at    text COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX conversations_seq ON conversations (seq);
CREATE INDEX conversations_lead ON conversations (lead_id);
-- retention deletes the rows of quiet conversations by their last turn (store/*/retention.c)
CREATE INDEX conversations_updated ON conversations (updated_at);
-- No backfill (SQLite 019 says why): a conversation held before this migration joins the
-- list at its next turn.
