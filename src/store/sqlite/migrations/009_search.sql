-- The lead search (docs/leads.md, "Search and sort"): each lead's company name, contact
-- name, e-mail and industry folded (lowercase, Latin diacritics removed: sa_fold, written
-- in C, base/fold.c, registered on every connection) into lead_search, and an FTS5
-- trigram index over that text, so q is a substring match through an index. Triggers keep
-- both in step with leads inside the transaction that writes or erases the lead; a write
-- to leads from a connection without sa_fold (the sqlite3 shell) fails rather than leave
-- the index behind.
CREATE TABLE lead_search (
    seq      INTEGER PRIMARY KEY,          -- the FTS rowid: stable, unlike an implicit rowid
    lead_id  TEXT NOT NULL UNIQUE,
    text     TEXT NOT NULL                 -- sa_fold(company_name, contact_name, email, industry)
);
CREATE VIRTUAL TABLE lead_fts USING fts5 (
    text, content = 'lead_search', content_rowid = 'seq', tokenize = 'trigram'
);
CREATE TRIGGER lead_search_ai AFTER INSERT ON lead_search BEGIN
    INSERT INTO lead_fts (rowid, text) VALUES (new.seq, new.text);
END;
CREATE TRIGGER lead_search_ad AFTER DELETE ON lead_search BEGIN
    INSERT INTO lead_fts (lead_fts, rowid, text) VALUES ('delete', old.seq, old.text);
END;
CREATE TRIGGER lead_search_au AFTER UPDATE ON lead_search BEGIN
    INSERT INTO lead_fts (lead_fts, rowid, text) VALUES ('delete', old.seq, old.text);
    INSERT INTO lead_fts (rowid, text) VALUES (new.seq, new.text);
END;
CREATE TRIGGER leads_search_ai AFTER INSERT ON leads BEGIN
    INSERT INTO lead_search (lead_id, text)
    VALUES (new.id, sa_fold(new.company_name, new.contact_name, new.contact_email, new.industry))
    ON CONFLICT (lead_id) DO UPDATE SET text = excluded.text WHERE text <> excluded.text;
END;
CREATE TRIGGER leads_search_au
AFTER UPDATE OF company_name, contact_name, contact_email, industry ON leads BEGIN
    INSERT INTO lead_search (lead_id, text)
    VALUES (new.id, sa_fold(new.company_name, new.contact_name, new.contact_email, new.industry))
    ON CONFLICT (lead_id) DO UPDATE SET text = excluded.text WHERE text <> excluded.text;
END;
CREATE TRIGGER leads_search_ad AFTER DELETE ON leads BEGIN
    DELETE FROM lead_search WHERE lead_id = old.id;
END;
-- the leads already stored, oldest first
INSERT INTO lead_search (lead_id, text)
SELECT id, sa_fold(company_name, contact_name, contact_email, industry) FROM leads
ORDER BY created_at, id;

-- The list's orders (sort=), each with id as the tie-break so pages are stable: these
-- two replace single-column indexes they extend (lookups by company name and by
-- created_at still use them), and the score gets its own.
DROP INDEX idx_leads_created;
CREATE INDEX idx_leads_created ON leads (created_at, id);
DROP INDEX idx_leads_company_nocase;
CREATE INDEX idx_leads_company_nocase ON leads (company_name COLLATE NOCASE, id);
CREATE INDEX idx_leads_score ON leads (qualification_score, id);
