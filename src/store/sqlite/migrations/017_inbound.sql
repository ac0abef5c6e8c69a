-- Inbound mail (app/inbound.c): replies, bounces and automatic replies received, each once
-- by its Message-ID (a second delivery of the same message finds it and changes nothing),
-- shown on the lead's timeline; and the outbox's lookup by the Message-ID a reply names.
CREATE TABLE inbound_messages (
    id           TEXT PRIMARY KEY,
    message_id   TEXT NOT NULL UNIQUE,   -- "<...>", or "sha256:..." of a message without one
    kind         TEXT NOT NULL,          -- reply_received, bounce, auto_reply, unmatched
    lead_id      TEXT,
    thread_id    TEXT,
    email        TEXT COLLATE NOCASE,    -- the sender, or the bounced recipient
    matched_by   TEXT,                   -- in_reply_to, references, original_message_id, sender
    status       TEXT,                   -- the timeline's summary: intent, status code
    result       TEXT,                   -- JSON: what the message did (the API's answer)
    received_at  TEXT NOT NULL
);
CREATE INDEX inbound_lead ON inbound_messages (lead_id, received_at);
CREATE INDEX outbox_message_id ON outbox (message_id);
