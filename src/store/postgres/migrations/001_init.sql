-- The whole schema in PostgreSQL, equivalent to what SQLite's migrations 001-013 build
-- (src/store/sqlite/migrations/), with the same table and column names, so each
-- statement ports from the SQLite backend one for one. Later changes get their own files.
--
-- Types:
--  * Times a record carries (created_at, updated_at, ...) are TEXT in the exact stored form
--    "2026-12-02T07:10:00.000Z" (store.h's contract), not timestamptz: the store
--    returns them byte for byte as written, they compare as text in time order (every one
--    has the same width and zone), and no statement formats a time back. Times the
--    outbox and the meetings count with (due_at, sent_ts, start_at, ...) are bigint unix
--    seconds, as in SQLite.
--  * JSON documents (leads.data, input, output, request, response, changes, payload,
--    detail) are jsonb: a statement passes JSON text and casts it ($n::jsonb), and the row
--    helpers (pg.h) parse jsonb columns back to JSON values.
--  * Every other text column is COLLATE "C": bytewise order and comparison, as SQLite's
--    default BINARY collation, whatever the database's locale; lower() over a "C" column
--    folds ASCII only, as SQLite's NOCASE does.
--  * The columns SQLite declares COLLATE NOCASE (e-mail addresses, domains, senders) are
--    citext, so `to_email = $1` ignores case in PostgreSQL too, and their UNIQUE and
--    PRIMARY KEY constraints as well. A parameter compared with one MUST stay untyped or
--    be cast to citext ($1 or $1::citext): `to_email = $1::text` compares as text, with
--    case. citext folds by the database's LC_CTYPE, so on a non-C database it also folds
--    non-ASCII letters (SQLite's NOCASE folds ASCII only): e-mail addresses and domains
--    are ASCII in practice.
-- Both extensions ship with PostgreSQL (Debian: postgresql-15) and are trusted: the
-- database's owner may create them without superuser.
CREATE EXTENSION IF NOT EXISTS citext;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- ---- companies and leads (SQLite 001, 003, 007, 009, 010) -----------------------------

CREATE TABLE companies (
    id          text COLLATE "C" PRIMARY KEY,
    domain      text COLLATE "C" NOT NULL UNIQUE,   -- lowercase host, no "www."
    name        text COLLATE "C" NOT NULL,          -- the first name a lead gave it
    created_at  text COLLATE "C" NOT NULL,
    updated_at  text COLLATE "C" NOT NULL
);

CREATE TABLE leads (
    id                  text COLLATE "C" PRIMARY KEY,
    company_name        text COLLATE "C" NOT NULL,
    industry            text COLLATE "C",
    company_size        text COLLATE "C",
    employees_min       bigint,
    employees_max       bigint,
    annual_revenue      double precision,
    website             text COLLATE "C",
    country             text COLLATE "C",
    contact_name        text COLLATE "C",
    contact_title       text COLLATE "C",
    contact_email       text COLLATE "C",
    contact_phone       text COLLATE "C",
    linkedin_url        text COLLATE "C",
    data                jsonb NOT NULL,             -- the whole input, unknown fields included
    qualification_score integer,
    qualification_tier  text COLLATE "C",
    qualification_reasoning text COLLATE "C",
    qualified_at        text COLLATE "C",
    created_at          text COLLATE "C" NOT NULL,
    updated_at          text COLLATE "C" NOT NULL,
    company_id          text COLLATE "C" REFERENCES companies (id)
);
-- The list's orders (sort=), each with id as the tie-break so pages are stable, and the
-- import's case-insensitive lookups (by e-mail; by company name and domain).
CREATE INDEX idx_leads_created ON leads (created_at, id);
CREATE INDEX idx_leads_tier ON leads (qualification_tier, created_at);
CREATE INDEX idx_leads_email_nocase ON leads (lower(contact_email));
CREATE INDEX idx_leads_company_nocase ON leads (lower(company_name), id);
CREATE INDEX idx_leads_score ON leads ((COALESCE(qualification_score, -1)), id);
CREATE INDEX idx_leads_company_id ON leads (company_id);

-- The lead search (docs/leads.md, "Search and sort"): each lead's company name, contact
-- name, e-mail and industry folded (lowercase, Latin diacritics removed) by base/fold.h,
-- joined by newlines. SQLite computes it in a trigger through its sa_fold function;
-- PostgreSQL has no such function, so the store computes the text in C with the same
-- code and writes this row beside the lead in the lead's statement (leads.c), which keeps
-- both backends' matches identical. A trigram GIN index serves the substring match
-- (text LIKE '%q%') for queries of three or more folded characters, like SQLite's FTS5
-- trigram index. The row goes with its lead (ON DELETE CASCADE).
CREATE TABLE lead_search (
    lead_id  text COLLATE "C" PRIMARY KEY REFERENCES leads (id) ON DELETE CASCADE,
    text     text COLLATE "C" NOT NULL
);
CREATE INDEX lead_search_trgm ON lead_search USING gin (text gin_trgm_ops);

-- Erased leads stay erased (SQLite 010): no write brings a lead back under an erased id.
-- SQLSTATE SA409 is ours: the store maps it to a conflict with this message.
CREATE TABLE erased_leads (
    id         text COLLATE "C" PRIMARY KEY,
    erased_at  text COLLATE "C" NOT NULL
);
CREATE FUNCTION leads_stay_erased() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM erased_leads WHERE id = NEW.id) THEN
        RAISE EXCEPTION 'the lead was erased; its id is not used again' USING ERRCODE = 'SA409';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER leads_stay_erased BEFORE INSERT ON leads
    FOR EACH ROW EXECUTE FUNCTION leads_stay_erased();

-- ---- agent executions, the enrichment cache, runs (SQLite 001, 002) -------------------

CREATE TABLE agent_executions (
    id                 text COLLATE "C" PRIMARY KEY,
    lead_id            text COLLATE "C" REFERENCES leads (id) ON DELETE CASCADE,
    agent_type         text COLLATE "C" NOT NULL,
    thread_id          text COLLATE "C",
    status             text COLLATE "C" NOT NULL,    -- success | error
    input              jsonb NOT NULL,
    output             jsonb,
    error_message      text COLLATE "C",
    processing_time_ms double precision NOT NULL,
    success            integer NOT NULL,             -- 0 or 1, as SQLite's
    created_at         text COLLATE "C" NOT NULL
);
CREATE INDEX idx_executions_lead ON agent_executions (lead_id, created_at);
CREATE INDEX idx_executions_thread ON agent_executions (thread_id);

CREATE TABLE enrichment_cache (
    cache_key   text COLLATE "C" PRIMARY KEY,    -- provider:normalised key (domain, e-mail)
    provider    text COLLATE "C" NOT NULL,
    data        jsonb NOT NULL,
    created_at  text COLLATE "C" NOT NULL,
    expires_at  text COLLATE "C" NOT NULL
);
CREATE INDEX idx_enrichment_expires ON enrichment_cache (expires_at);

CREATE TABLE runs (
    id          text COLLATE "C" PRIMARY KEY,
    lead_id     text COLLATE "C" NOT NULL,
    thread_id   text COLLATE "C" NOT NULL,
    status      text COLLATE "C" NOT NULL,  -- queued | running | done | failed | cancelled
    input       jsonb NOT NULL,             -- the lead as the pipeline's input
    output      jsonb,
    error       text COLLATE "C",
    created_at  text COLLATE "C" NOT NULL,
    updated_at  text COLLATE "C" NOT NULL
);
CREATE INDEX idx_runs_status ON runs (status, created_at);
CREATE INDEX idx_runs_lead ON runs (lead_id);

-- ---- contacts and consent (SQLite 004, 012) -------------------------------------------

CREATE TABLE contacts (
    email           citext PRIMARY KEY,
    do_not_contact  integer NOT NULL DEFAULT 0,
    reason          text COLLATE "C",
    source          text COLLATE "C",
    updated_at      text COLLATE "C" NOT NULL
);

-- Do-not-contact history, append-only: the trigger refuses every UPDATE and DELETE.
CREATE TABLE contact_consent (
    id          bigserial PRIMARY KEY,
    email       citext NOT NULL,
    action      text COLLATE "C" NOT NULL,        -- opt_out, lift
    source      text COLLATE "C" NOT NULL,
    reason      text COLLATE "C",
    at          text COLLATE "C" NOT NULL
);
CREATE INDEX contact_consent_email ON contact_consent (email, id);

CREATE TABLE server_secrets (
    name        text COLLATE "C" PRIMARY KEY,
    value       text COLLATE "C" NOT NULL,
    created_at  text COLLATE "C" NOT NULL
);

-- ---- approvals and the outbox (SQLite 005, 008, 012) ----------------------------------

CREATE TABLE approvals (
    id            text COLLATE "C" PRIMARY KEY,
    thread_id     text COLLATE "C" NOT NULL,
    interrupt_id  text COLLATE "C" NOT NULL,
    lead_id       text COLLATE "C",
    status        text COLLATE "C" NOT NULL,  -- pending, accepted, edited, responded, ignored
    request       jsonb NOT NULL,             -- the HumanInterrupt
    response      jsonb,                      -- the HumanResponse
    reviewer      text COLLATE "C",
    changes       jsonb,                      -- what an edit changed
    created_at    text COLLATE "C" NOT NULL,
    decided_at    text COLLATE "C",
    UNIQUE (thread_id, interrupt_id)
);
CREATE INDEX approvals_status ON approvals (status, created_at);
CREATE INDEX approvals_lead ON approvals (lead_id, created_at);

CREATE TABLE outbox (
    id               text COLLATE "C" PRIMARY KEY,
    idempotency_key  text COLLATE "C" NOT NULL UNIQUE,
    kind             text COLLATE "C" NOT NULL,     -- email, followup
    thread_id        text COLLATE "C",
    lead_id          text COLLATE "C",
    to_email         citext NOT NULL,
    payload          jsonb NOT NULL,                -- {subject, text, ics?, ...}
    status           text COLLATE "C" NOT NULL,     -- queued, sending, sent, failed, cancelled
    due_at           bigint NOT NULL,               -- unix seconds
    attempts         integer NOT NULL DEFAULT 0,
    last_error       text COLLATE "C",
    delivered_id     text COLLATE "C",
    created_at       text COLLATE "C" NOT NULL,
    updated_at       text COLLATE "C" NOT NULL,
    sent_at          text COLLATE "C",
    sequence_id      text COLLATE "C",
    seq_day          bigint NOT NULL DEFAULT 0,
    recipient_tz     text COLLATE "C",
    to_domain        citext,
    sender           citext,
    message_id       text COLLATE "C",
    deferred_reason  text COLLATE "C",
    sent_ts          bigint                         -- unix seconds
);
CREATE INDEX outbox_due ON outbox (status, due_at);
CREATE INDEX outbox_contact ON outbox (to_email, created_at);
CREATE INDEX outbox_thread ON outbox (thread_id);
CREATE INDEX outbox_lead ON outbox (lead_id, created_at);
CREATE INDEX outbox_sequence ON outbox (sequence_id, seq_day);
CREATE INDEX outbox_sent_contact ON outbox (to_email, sent_ts);
CREATE INDEX outbox_sent_domain ON outbox (to_domain, sent_ts);
CREATE INDEX outbox_sent_sender ON outbox (sender, sent_ts);

-- ---- API keys and the audit log (SQLite 006) ------------------------------------------

CREATE TABLE api_keys (
    id            text COLLATE "C" PRIMARY KEY,   -- 16 hex digits, the key's prefix
    name          text COLLATE "C" NOT NULL,
    scopes        text COLLATE "C" NOT NULL,      -- "read,write"
    salt          text COLLATE "C" NOT NULL,
    hash          text COLLATE "C" NOT NULL,
    created_at    text COLLATE "C" NOT NULL,
    created_by    text COLLATE "C",
    expires_at    text COLLATE "C",               -- NULL: never
    revoked_at    text COLLATE "C",               -- set once
    last_used_at  text COLLATE "C"
);
CREATE INDEX api_keys_created ON api_keys (created_at, id);

-- Append-only in the database itself: the trigger refuses every UPDATE and DELETE. id is
-- monotonic and never reused (a sequence; ids of rolled-back appends leave gaps, which
-- the paging by before_id does not mind).
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          text COLLATE "C" NOT NULL,
    principal   text COLLATE "C" NOT NULL,
    action      text COLLATE "C" NOT NULL,
    target      text COLLATE "C",
    request_id  text COLLATE "C",
    detail      jsonb NOT NULL DEFAULT '{}'      -- a JSON object
);
CREATE INDEX audit_log_at ON audit_log (at, id);
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_principal ON audit_log (principal, id);
CREATE INDEX audit_log_target ON audit_log (target, id);

CREATE FUNCTION append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION append_only();
CREATE TRIGGER contact_consent_append_only BEFORE UPDATE OR DELETE ON contact_consent
    FOR EACH ROW EXECUTE FUNCTION append_only();

-- ---- meetings (SQLite 013) ------------------------------------------------------------

-- Of the held (unexpired) and confirmed meetings no two overlap: the store checks that in
-- the transaction that inserts or moves one (meetings.c serialises those writes).
CREATE TABLE meetings (
    id           text COLLATE "C" PRIMARY KEY,
    lead_id      text COLLATE "C",
    thread_id    text COLLATE "C",
    attendee     citext,                  -- the prospect's e-mail
    start_at     bigint NOT NULL,         -- unix seconds, UTC
    end_at       bigint NOT NULL,
    timezone     text COLLATE "C" NOT NULL,
    tz_source    text COLLATE "C",
    status       text COLLATE "C" NOT NULL, -- held, confirmed, tentative, declined, cancelled
    hold_until   bigint,                  -- unix seconds: a held slot is free after it
    sequence     integer NOT NULL DEFAULT 0,
    ics_uid      text COLLATE "C" NOT NULL,
    partstat     text COLLATE "C",
    created_at   text COLLATE "C" NOT NULL,
    updated_at   text COLLATE "C" NOT NULL,
    CHECK (start_at < end_at)
);
CREATE INDEX meetings_time ON meetings (start_at, end_at);
CREATE INDEX meetings_lead ON meetings (lead_id, created_at);
CREATE INDEX meetings_thread ON meetings (thread_id);

-- ---- the store's write probe (/health) ------------------------------------------------

-- One row per instance name, upserted by every health check: proof the database takes
-- a committed write, not only a read.
CREATE TABLE health_probe (
    name  text COLLATE "C" PRIMARY KEY,
    at    text COLLATE "C" NOT NULL
);
