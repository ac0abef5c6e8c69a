-- Companies, keyed by domain: the people (leads) of one company share one record
-- (docs/leads.md). A lead's company domain is its corporate e-mail's domain, else its
-- website's host; a lead with neither has no company record (company_id NULL).
-- Leads written before this migration get their company on their next write: the
-- free-mail list that decides a domain lives in the scoring model, not in SQL.
CREATE TABLE companies (
    id          TEXT PRIMARY KEY,
    domain      TEXT NOT NULL UNIQUE,           -- lowercase host, no "www."
    name        TEXT NOT NULL,                  -- the first name a lead gave it
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
ALTER TABLE leads ADD COLUMN company_id TEXT REFERENCES companies (id);
CREATE INDEX idx_leads_company_id ON leads (company_id);
