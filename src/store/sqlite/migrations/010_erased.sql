-- Erased leads stay erased: DELETE /api/leads/{id} records the id (and nothing personal)
-- here in its transaction, and no write may bring a lead back under that id. A write that
-- read the lead before the erasure and lands after it (a PATCH, an invoke with its
-- lead_id) fails with a conflict instead of restoring the person.
CREATE TABLE erased_leads (
    id         TEXT PRIMARY KEY,
    erased_at  TEXT NOT NULL
);
CREATE TRIGGER leads_stay_erased BEFORE INSERT ON leads
WHEN EXISTS (SELECT 1 FROM erased_leads WHERE id = new.id) BEGIN
    SELECT RAISE(ABORT, 'sa:conflict: the lead was erased; its id is not used again');
END;
