-- The sending policy, threading and consent (docs: README "Sending policy", "Consent").
-- Each outbox item now says which sequence it belongs to (the BDR draft's id) and its day
-- in it, the recipient's time zone (sending windows), the recipient's company domain and
-- the sender (frequency caps), the Message-ID it goes out with, why the policy moved it
-- (deferred_reason) and when it was sent in unix seconds (sent_ts: the caps' counts).
ALTER TABLE outbox ADD COLUMN sequence_id TEXT;
ALTER TABLE outbox ADD COLUMN seq_day INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN recipient_tz TEXT;
ALTER TABLE outbox ADD COLUMN to_domain TEXT COLLATE NOCASE;
ALTER TABLE outbox ADD COLUMN sender TEXT COLLATE NOCASE;
ALTER TABLE outbox ADD COLUMN message_id TEXT;
ALTER TABLE outbox ADD COLUMN deferred_reason TEXT;
ALTER TABLE outbox ADD COLUMN sent_ts INTEGER;
CREATE INDEX outbox_sequence ON outbox (sequence_id, seq_day);
CREATE INDEX outbox_sent_contact ON outbox (to_email, sent_ts);
CREATE INDEX outbox_sent_domain ON outbox (to_domain, sent_ts);
CREATE INDEX outbox_sent_sender ON outbox (sender, sent_ts);

-- Do-not-contact history, append-only: every opt-out (source prospect, operator, bounce,
-- import, conversation) and every lift (a consent record) is a row; contacts keeps the
-- current state. Nothing updates or deletes a row here.
CREATE TABLE contact_consent (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    email       TEXT NOT NULL COLLATE NOCASE,
    action      TEXT NOT NULL,        -- opt_out, lift
    source      TEXT NOT NULL,        -- prospect, operator, bounce, import, conversation, ...
    reason      TEXT,
    at          TEXT NOT NULL
);
CREATE INDEX contact_consent_email ON contact_consent (email, id);
CREATE TRIGGER contact_consent_append_only_u BEFORE UPDATE ON contact_consent BEGIN
    SELECT RAISE(ABORT, 'contact_consent is append-only');
END;
CREATE TRIGGER contact_consent_append_only_d BEFORE DELETE ON contact_consent BEGIN
    SELECT RAISE(ABORT, 'contact_consent is append-only');
END;
-- the opt-outs recorded before this history existed
INSERT INTO contact_consent (email, action, source, reason, at)
SELECT email, 'opt_out', COALESCE(source, 'operator'), reason, updated_at FROM contacts
WHERE do_not_contact = 1;

-- Secrets the server generates once and keeps (the unsubscribe links' HMAC key when
-- UNSUBSCRIBE_SECRET is unset).
CREATE TABLE server_secrets (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
