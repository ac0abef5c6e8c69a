-- Bounded storage and a truthful /health (SQLite 014).
-- 1. An execution no longer repeats its lead's input: input is NULL when the execution is
--    an invocation of the lead (the lead row holds that input once; list_executions
--    answers it from there).
ALTER TABLE agent_executions ALTER COLUMN input DROP NOT NULL;
-- 2. Large outputs. SQLite compresses an output above 1 KB with zstd in the application
--    (executions.c there). Here PostgreSQL's TOAST already compresses every jsonb value of
--    a row that grows past about 2 KB (TOAST_TUPLE_THRESHOLD), transparently to readers,
--    so the backend writes plain jsonb and compresses nothing itself: a zstd frame would
--    need a bytea column (no longer jsonb: unreadable in SQL) and TOAST would then try to
--    compress it again for nothing. A pipeline's output (its whole state, 4-8 KB) is past
--    the threshold; outputs under 2 KB stay uncompressed, as most SQLite ones under 1 KB.
--    The method: lz4 where the server was built with it (Debian's postgresql-15 is:
--    `SHOW default_toast_compression` answers pglz, the default, but lz4 is available),
--    several times faster than pglz at a similar ratio on JSON text; set per column, so
--    the server's default stays untouched. A server built without lz4 refuses the setting
--    (feature_not_supported) and keeps pglz. Only values written after this migration use
--    it: older ones keep the method they were written with (both read back transparently).
DO $$
BEGIN
    ALTER TABLE agent_executions ALTER COLUMN output SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    NULL;
END
$$;
-- 3. Retention finds old executions, and threads that went quiet, by time.
CREATE INDEX IF NOT EXISTS idx_executions_created ON agent_executions (created_at);
CREATE INDEX IF NOT EXISTS idx_runs_updated ON runs (updated_at);
CREATE INDEX IF NOT EXISTS idx_runs_thread ON runs (thread_id);
-- 4. /health's write probe (store.h write_probe): one row per prober, upserted (a real
--    committed write), the same shape as SQLite's. 001's table (name, at text) held the
--    same thing under other names and only the last probe's time: nothing in it is worth
--    keeping.
DROP TABLE IF EXISTS health_probe;
CREATE TABLE health_probe (
    who     text COLLATE "C" PRIMARY KEY,
    at      double precision NOT NULL,      -- unix seconds of the last probe
    probes  bigint NOT NULL DEFAULT 1
);
