-- Bounded storage and a truthful /health.
-- 1. An execution no longer repeats its lead's input: input is NULL when the execution is
--    an invocation of the lead (the lead row holds that input once), so the column loses
--    NOT NULL. SQLite cannot drop a constraint in place: the table is rebuilt (a copy, once,
--    at upgrade). output (here and in runs) may now hold a zstd frame (a BLOB) when it is
--    large (store/sqlite/db.h, db_json_arg).
CREATE TABLE agent_executions_new (
    id                 TEXT PRIMARY KEY,
    lead_id            TEXT REFERENCES leads (id) ON DELETE CASCADE,
    agent_type         TEXT NOT NULL,
    thread_id          TEXT,
    status             TEXT NOT NULL,           -- success | error
    input              TEXT,                    -- NULL: the lead's input (leads.data)
    output             TEXT,                    -- JSON text, or a zstd frame of it (BLOB)
    error_message      TEXT,
    processing_time_ms REAL NOT NULL,
    success            INTEGER NOT NULL,
    created_at         TEXT NOT NULL
);
INSERT INTO agent_executions_new SELECT id, lead_id, agent_type, thread_id, status, input,
    output, error_message, processing_time_ms, success, created_at FROM agent_executions;
DROP TABLE agent_executions;
ALTER TABLE agent_executions_new RENAME TO agent_executions;
CREATE INDEX idx_executions_lead ON agent_executions (lead_id, created_at);
CREATE INDEX idx_executions_thread ON agent_executions (thread_id);
-- 2. Retention finds old executions, and threads that went quiet, by time.
CREATE INDEX idx_executions_created ON agent_executions (created_at);
CREATE INDEX idx_runs_updated ON runs (updated_at);
CREATE INDEX idx_runs_thread ON runs (thread_id);
-- 3. /health's write probe: one row per prober, upserted (a real committed write).
CREATE TABLE health_probe (
    who     TEXT PRIMARY KEY,
    at      REAL NOT NULL,                  -- unix seconds of the last probe
    probes  INTEGER NOT NULL DEFAULT 1
);
