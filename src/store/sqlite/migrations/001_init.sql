-- The seed's tables: leads, agent_executions, enrichment_cache.
-- Portable SQL where it costs nothing (SQLite now, PostgreSQL later): TEXT ids (UUIDs),
-- ISO 8601 UTC timestamps as TEXT, JSON documents as TEXT, booleans as 0/1 integers.

CREATE TABLE leads (
    id                  TEXT PRIMARY KEY,
    company_name        TEXT NOT NULL,
    industry            TEXT,
    company_size        TEXT,
    employees_min       INTEGER,
    employees_max       INTEGER,
    annual_revenue      REAL,
    website             TEXT,
    country             TEXT,
    contact_name        TEXT,
    contact_title       TEXT,
    contact_email       TEXT,
    contact_phone       TEXT,
    linkedin_url        TEXT,
    data                TEXT NOT NULL,          -- the whole input, unknown fields included
    qualification_score INTEGER,
    qualification_tier  TEXT,
    qualification_reasoning TEXT,
    qualified_at        TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
-- Few indexes on purpose: each one is another page written per insert. Company and
-- contact search is a substring match (LIKE '%x%'), which no B-tree index serves.
CREATE INDEX idx_leads_created ON leads (created_at);
CREATE INDEX idx_leads_email ON leads (contact_email);
CREATE INDEX idx_leads_tier ON leads (qualification_tier, created_at);

CREATE TABLE agent_executions (
    id                 TEXT PRIMARY KEY,
    lead_id            TEXT REFERENCES leads (id) ON DELETE CASCADE,
    agent_type         TEXT NOT NULL,
    thread_id          TEXT,
    status             TEXT NOT NULL,           -- success | error
    input              TEXT NOT NULL,
    output             TEXT,
    error_message      TEXT,
    processing_time_ms REAL NOT NULL,
    success            INTEGER NOT NULL,
    created_at         TEXT NOT NULL
);
CREATE INDEX idx_executions_lead ON agent_executions (lead_id, created_at);
CREATE INDEX idx_executions_thread ON agent_executions (thread_id);

CREATE TABLE enrichment_cache (
    cache_key   TEXT PRIMARY KEY,               -- provider:normalised key (domain, e-mail)
    provider    TEXT NOT NULL,
    data        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX idx_enrichment_expires ON enrichment_cache (expires_at);
