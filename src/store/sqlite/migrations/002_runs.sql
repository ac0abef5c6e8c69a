-- Pipeline runs started through /api/runs: their status, input and result. The run's
-- progress lives in the pipeline thread's checkpoints (graph_checkpoints), so a run that
-- was queued or running when the process stopped is resumed at start-up.
CREATE TABLE runs (
    id          TEXT PRIMARY KEY,
    lead_id     TEXT NOT NULL,
    thread_id   TEXT NOT NULL,
    status      TEXT NOT NULL,  -- queued | running | done | failed | cancelled
    input       TEXT NOT NULL,  -- the lead as the pipeline's input
    output      TEXT,
    error       TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX idx_runs_status ON runs (status, created_at);
