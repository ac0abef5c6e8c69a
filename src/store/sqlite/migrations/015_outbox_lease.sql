-- The outbox claim's lease (store.h outbox_requeue_expired): when an item was claimed
-- (unix seconds, the wall clock), so an item a worker left "sending" when it stopped is
-- queued again after the lease instead of never. NULL: not claimed since this migration.
ALTER TABLE outbox ADD COLUMN claimed_at INTEGER;
-- items sending at upgrade were claimed when they last changed
UPDATE outbox SET claimed_at = CAST(strftime('%s', updated_at) AS INTEGER)
    WHERE status = 'sending';
