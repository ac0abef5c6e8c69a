-- The search index is written once per transaction, not once per statement (docs/leads.md,
-- "Search and sort"). SQLite 3.40's FTS5 writes its pending terms to disk as a new index
-- segment at every statement savepoint, so a trigger per lead cost one segment (and later
-- merges) per lead: an import of 100,000 leads spent most of its time there. Now the
-- triggers on lead_search only queue the change; the store applies the queue to lead_fts
-- with one statement just before each COMMIT (db.c, txn_end), in the same transaction, so
-- the index can never be out of step with the leads after a commit.
CREATE TABLE lead_fts_queue (
    id    INTEGER PRIMARY KEY,
    op    TEXT,                  -- 'delete' for an old entry, NULL for a new one
    seq   INTEGER NOT NULL,      -- lead_search.seq, the FTS rowid
    text  TEXT NOT NULL
);
DROP TRIGGER lead_search_ai;
DROP TRIGGER lead_search_ad;
DROP TRIGGER lead_search_au;
CREATE TRIGGER lead_search_ai AFTER INSERT ON lead_search BEGIN
    INSERT INTO lead_fts_queue (op, seq, text) VALUES (NULL, new.seq, new.text);
END;
CREATE TRIGGER lead_search_ad AFTER DELETE ON lead_search BEGIN
    INSERT INTO lead_fts_queue (op, seq, text) VALUES ('delete', old.seq, old.text);
END;
CREATE TRIGGER lead_search_au AFTER UPDATE ON lead_search BEGIN
    INSERT INTO lead_fts_queue (op, seq, text) VALUES ('delete', old.seq, old.text);
    INSERT INTO lead_fts_queue (op, seq, text) VALUES (NULL, new.seq, new.text);
END;

-- Every lookup by e-mail ignores ASCII case (idx_leads_email_nocase, migration 003): the
-- case-sensitive index was written on every lead write and read by nothing.
DROP INDEX idx_leads_email;

-- The score order (sort=score and the sorted export) by a key without NULLs, an unscored
-- lead as the lowest (-1), so a keyset page can start after a row with a row-value range
-- on this index.
DROP INDEX idx_leads_score;
CREATE INDEX idx_leads_score ON leads (COALESCE(qualification_score, -1), id);
