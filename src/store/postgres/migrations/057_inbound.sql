-- Inbound mail (app/inbound.c; SQLite 017): replies, bounces and automatic replies
-- received, each once by its Message-ID, shown on the lead's timeline; and the outbox's
-- lookup by the Message-ID a reply names.
CREATE TABLE inbound_messages (
    id           text COLLATE "C" PRIMARY KEY,
    message_id   text COLLATE "C" NOT NULL UNIQUE,
    kind         text COLLATE "C" NOT NULL,
    lead_id      text COLLATE "C",
    thread_id    text COLLATE "C",
    email        citext,
    matched_by   text COLLATE "C",
    status       text COLLATE "C",
    result       jsonb,
    received_at  text COLLATE "C" NOT NULL
);
CREATE INDEX inbound_lead ON inbound_messages (lead_id, received_at);
CREATE INDEX outbox_message_id ON outbox (message_id);
