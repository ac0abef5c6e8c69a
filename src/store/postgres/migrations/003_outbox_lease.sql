-- The outbox claim's lease (store.h outbox_requeue_expired; SQLite 015): when an item was
-- claimed (unix seconds, the wall clock), so an item a worker left "sending" when it
-- stopped is queued again after the lease instead of never. NULL: not claimed since this
-- migration. No index: the expired items are found among the few "sending" ones through
-- outbox_due (status, due_at).
ALTER TABLE outbox ADD COLUMN claimed_at bigint;
-- items sending at upgrade were claimed when they last changed
UPDATE outbox SET claimed_at = floor(extract(epoch FROM updated_at::timestamptz))::bigint
    WHERE status = 'sending';
