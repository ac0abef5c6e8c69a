-- An approval whose run was superseded (app/approvals.c sa_app_supersede_approvals; SQLite
-- 018): a new run with new input on the thread started over from START, so the interrupt
-- the approval answers is gone. Its status becomes 'superseded', decided_at says when, and
-- superseded_by names the newer run (NULL when not known). It can no longer be answered.
ALTER TABLE approvals ADD COLUMN superseded_by text COLLATE "C";
