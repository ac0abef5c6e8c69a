-- Lookups the lead import makes for every row (dedupe by e-mail, or by company name and
-- domain), case-insensitive as it compares them: without these they scan the table.
CREATE INDEX idx_leads_email_nocase ON leads (contact_email COLLATE NOCASE);
CREATE INDEX idx_leads_company_nocase ON leads (company_name COLLATE NOCASE);
