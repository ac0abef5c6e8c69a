-- The Agent Server API's thread records (POST /threads, app/agentserver.c): id, metadata
-- (a JSON object) and times, in the store so every instance answers for every thread; the
-- thread's state stays the checkpointer's. Searched last updated first.
CREATE TABLE as_threads (
    thread_id  TEXT PRIMARY KEY,
    metadata   TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX as_threads_updated ON as_threads (updated_at DESC, thread_id DESC);
