-- The checkpoint saver's table (store/postgres/saver.c): one row per checkpoint of a
-- graph thread, keyed by (thread_id, id). The saver only reads and writes it; the store's
-- migrations create it, before any saver opens (the server migrates at start-up). blob
-- and writes are the engine's opaque records (bytea: binary-safe). ids are UUIDv7, so in
-- the "C" collation (bytewise, whatever the database's locale) the largest id of a
-- thread is its latest checkpoint. expires_at: unix seconds after which the thread may be
-- swept when this is its newest record; 0: never.
CREATE TABLE IF NOT EXISTS graph_checkpoints (
    thread_id   text COLLATE "C" NOT NULL,
    id          text COLLATE "C" NOT NULL,
    parent_id   text NOT NULL,
    step        integer NOT NULL,
    "full"      boolean NOT NULL,
    blob        bytea NOT NULL,
    writes      bytea,
    expires_at  double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (thread_id, id)
);
-- the sweep looks for records that have expired
CREATE INDEX IF NOT EXISTS graph_checkpoints_expires ON graph_checkpoints (expires_at)
    WHERE expires_at > 0;
