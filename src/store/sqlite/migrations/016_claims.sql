-- Exactly-once across processes (store.h: run_claim, runs_stale, approval_claim_resume,
-- outbox_claim_as). Times are unix milliseconds of the callers' wall clock.
-- 1. A run's lease: the execution that holds it (owner) and until when. A run "running"
--    without one (from before this migration) counts as held by nobody.
ALTER TABLE runs ADD COLUMN owner TEXT;
ALTER TABLE runs ADD COLUMN lease_until INTEGER;
--    when the reconciler last queued it again (runs_stale), so it does so once per grace
ALTER TABLE runs ADD COLUMN requeued_at INTEGER;
-- 2. The resumption of a decided approval's thread: one instance at a time.
ALTER TABLE approvals ADD COLUMN resume_owner TEXT;
ALTER TABLE approvals ADD COLUMN resume_until INTEGER;
-- 3. Who holds an outbox item's claim, so only that worker marks its outcome.
ALTER TABLE outbox ADD COLUMN claim_token TEXT;
