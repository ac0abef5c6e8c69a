-- The Agent Server API's thread records (POST /threads, app/agentserver.c; SQLite 020):
-- id, metadata (a JSON object) and times, in the store so every instance answers for every
-- thread; the thread's state stays the checkpointer's. Searched last updated first.
CREATE TABLE as_threads (
    thread_id  text COLLATE "C" PRIMARY KEY,
    metadata   jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at text COLLATE "C" NOT NULL,
    updated_at text COLLATE "C" NOT NULL
);
CREATE INDEX as_threads_updated ON as_threads (updated_at DESC, thread_id DESC);
CREATE INDEX as_threads_metadata ON as_threads USING gin (metadata jsonb_path_ops);
