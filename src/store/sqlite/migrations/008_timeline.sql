-- A lead's timeline (GET /api/leads/{id}/timeline) finds its approvals and its e-mails by
-- lead id.
CREATE INDEX IF NOT EXISTS approvals_lead ON approvals (lead_id, created_at);
CREATE INDEX IF NOT EXISTS outbox_lead ON outbox (lead_id, created_at);
