-- API keys (only a salt and a SHA-256 hash of each secret: the secret is shown once and
-- never stored) and the audit log of state changes. The audit log is append-only in the
-- database itself: the triggers below refuse every UPDATE and DELETE of its rows, whoever
-- runs them, so nothing in it is ever rewritten.
CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,       -- 16 hex digits, shown as the key's prefix
    name          TEXT NOT NULL,
    scopes        TEXT NOT NULL,          -- "read,write"
    salt          TEXT NOT NULL,
    hash          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    created_by    TEXT,                   -- the principal that created it
    expires_at    TEXT,                   -- NULL: never
    revoked_at    TEXT,                   -- set once
    last_used_at  TEXT
);
CREATE INDEX api_keys_created ON api_keys (created_at, id);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT, -- monotonic, never reused
    at          TEXT NOT NULL,
    principal   TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT,
    request_id  TEXT,
    detail      TEXT NOT NULL DEFAULT '{}'         -- JSON object
);
CREATE INDEX audit_log_at ON audit_log (at, id);
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_principal ON audit_log (principal, id);
CREATE INDEX audit_log_target ON audit_log (target, id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
