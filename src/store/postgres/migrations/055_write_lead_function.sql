-- The invocation's write (store/postgres/leads.c) as a function, so that PostgreSQL plans
-- it once per server connection instead of on every call. The statement is sent as the
-- unnamed statement of the extended protocol (PgBouncer in transaction mode allows no
-- named one), so every call parsed, analysed and planned its five CTEs again: about 40 %
-- of PostgreSQL's CPU per invoke went there. PL/pgSQL keeps its statements' plans for
-- the life of the server connection (whichever client borrows it through PgBouncer), and
-- the call the client sends is a one-line SELECT. The statements are leads.c's WRITE_LEAD
-- variants unchanged ($1-$33 are this function's arguments, as they were the statement's
-- parameters); only_new and with_exec choose the variant. Answers how many lead rows it
-- wrote (0 or 1).
CREATE FUNCTION sa_write_lead(text, text, text, text, text, text, text, text, text, text,
                              text, text, text, text, text, text, text, text, text, text,
                              text, text, text, text, text, text, text, text, text, text,
                              text, text, text, only_new boolean, with_exec boolean)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
    wrote bigint;
BEGIN
    IF NOT only_new THEN
        IF with_exec THEN
            WITH known AS (SELECT id FROM companies WHERE domain = $21::text), added AS
            (INSERT INTO companies (id, domain, name, created_at, updated_at) SELECT
            $23::text, $21::text, $2, $20, $20 WHERE $21::text IS NOT NULL AND NOT
            EXISTS (SELECT 1 FROM known) ON CONFLICT (domain) DO UPDATE SET domain =
            excluded.domain RETURNING id), l AS (INSERT INTO leads (id, company_name,
            industry, company_size, employees_min, employees_max, annual_revenue,
            website, country, contact_name, contact_title, contact_email, contact_phone,
            linkedin_url, data, qualification_score, qualification_tier,
            qualification_reasoning, qualified_at, created_at, updated_at, company_id)
            VALUES ($1, $2, $3, $4, $5::bigint, $6::bigint, $7::float8, $8, $9, $10,
            $11, $12, $13, $14, $15::jsonb, $16::integer, $17, $18, $19, $20, $20,
            COALESCE((SELECT id FROM known), (SELECT id FROM added))) ON CONFLICT (id)
            DO UPDATE SET company_name = excluded.company_name, company_id =
            excluded.company_id, industry = excluded.industry, company_size =
            excluded.company_size, employees_min = excluded.employees_min, employees_max
            = excluded.employees_max, annual_revenue = excluded.annual_revenue, website
            = excluded.website, country = excluded.country, contact_name =
            excluded.contact_name, contact_title = excluded.contact_title, contact_email
            = excluded.contact_email, contact_phone = excluded.contact_phone,
            linkedin_url = excluded.linkedin_url, data = excluded.data,
            qualification_score = COALESCE(excluded.qualification_score,
            leads.qualification_score), qualification_tier =
            COALESCE(excluded.qualification_tier, leads.qualification_tier),
            qualification_reasoning = COALESCE(excluded.qualification_reasoning,
            leads.qualification_reasoning), qualified_at =
            COALESCE(excluded.qualified_at, leads.qualified_at), updated_at =
            excluded.updated_at RETURNING id), s AS (INSERT INTO lead_search (lead_id,
            text) SELECT id, $22::text FROM l ON CONFLICT (lead_id) DO UPDATE SET text =
            excluded.text WHERE lead_search.text <> excluded.text), e AS (INSERT INTO
            agent_executions (id, lead_id, agent_type, thread_id, status, input, output,
            error_message, processing_time_ms, success, created_at) SELECT $24::text,
            $25::text, $26::text, $27::text, $28::text, $29::jsonb, $30::jsonb,
            $31::text, $32::float8, $33::integer, $20 FROM l) SELECT count(*) INTO wrote
            FROM l;
        ELSE
            WITH known AS (SELECT id FROM companies WHERE domain = $21::text), added AS
            (INSERT INTO companies (id, domain, name, created_at, updated_at) SELECT
            $23::text, $21::text, $2, $20, $20 WHERE $21::text IS NOT NULL AND NOT
            EXISTS (SELECT 1 FROM known) ON CONFLICT (domain) DO UPDATE SET domain =
            excluded.domain RETURNING id), l AS (INSERT INTO leads (id, company_name,
            industry, company_size, employees_min, employees_max, annual_revenue,
            website, country, contact_name, contact_title, contact_email, contact_phone,
            linkedin_url, data, qualification_score, qualification_tier,
            qualification_reasoning, qualified_at, created_at, updated_at, company_id)
            VALUES ($1, $2, $3, $4, $5::bigint, $6::bigint, $7::float8, $8, $9, $10,
            $11, $12, $13, $14, $15::jsonb, $16::integer, $17, $18, $19, $20, $20,
            COALESCE((SELECT id FROM known), (SELECT id FROM added))) ON CONFLICT (id)
            DO UPDATE SET company_name = excluded.company_name, company_id =
            excluded.company_id, industry = excluded.industry, company_size =
            excluded.company_size, employees_min = excluded.employees_min, employees_max
            = excluded.employees_max, annual_revenue = excluded.annual_revenue, website
            = excluded.website, country = excluded.country, contact_name =
            excluded.contact_name, contact_title = excluded.contact_title, contact_email
            = excluded.contact_email, contact_phone = excluded.contact_phone,
            linkedin_url = excluded.linkedin_url, data = excluded.data,
            qualification_score = COALESCE(excluded.qualification_score,
            leads.qualification_score), qualification_tier =
            COALESCE(excluded.qualification_tier, leads.qualification_tier),
            qualification_reasoning = COALESCE(excluded.qualification_reasoning,
            leads.qualification_reasoning), qualified_at =
            COALESCE(excluded.qualified_at, leads.qualified_at), updated_at =
            excluded.updated_at RETURNING id), s AS (INSERT INTO lead_search (lead_id,
            text) SELECT id, $22::text FROM l ON CONFLICT (lead_id) DO UPDATE SET text =
            excluded.text WHERE lead_search.text <> excluded.text) SELECT count(*) INTO
            wrote FROM l;
        END IF;
    ELSE
        IF with_exec THEN
            WITH known AS (SELECT id FROM companies WHERE domain = $21::text), added AS
            (INSERT INTO companies (id, domain, name, created_at, updated_at) SELECT
            $23::text, $21::text, $2, $20, $20 WHERE $21::text IS NOT NULL AND NOT
            EXISTS (SELECT 1 FROM known) ON CONFLICT (domain) DO UPDATE SET domain =
            excluded.domain RETURNING id), l AS (INSERT INTO leads (id, company_name,
            industry, company_size, employees_min, employees_max, annual_revenue,
            website, country, contact_name, contact_title, contact_email, contact_phone,
            linkedin_url, data, qualification_score, qualification_tier,
            qualification_reasoning, qualified_at, created_at, updated_at, company_id)
            VALUES ($1, $2, $3, $4, $5::bigint, $6::bigint, $7::float8, $8, $9, $10,
            $11, $12, $13, $14, $15::jsonb, $16::integer, $17, $18, $19, $20, $20,
            COALESCE((SELECT id FROM known), (SELECT id FROM added))) ON CONFLICT (id)
            DO NOTHING RETURNING id), s AS (INSERT INTO lead_search (lead_id, text)
            SELECT id, $22::text FROM l ON CONFLICT (lead_id) DO UPDATE SET text =
            excluded.text WHERE lead_search.text <> excluded.text), e AS (INSERT INTO
            agent_executions (id, lead_id, agent_type, thread_id, status, input, output,
            error_message, processing_time_ms, success, created_at) SELECT $24::text,
            $25::text, $26::text, $27::text, $28::text, $29::jsonb, $30::jsonb,
            $31::text, $32::float8, $33::integer, $20 FROM l) SELECT count(*) INTO wrote
            FROM l;
        ELSE
            WITH known AS (SELECT id FROM companies WHERE domain = $21::text), added AS
            (INSERT INTO companies (id, domain, name, created_at, updated_at) SELECT
            $23::text, $21::text, $2, $20, $20 WHERE $21::text IS NOT NULL AND NOT
            EXISTS (SELECT 1 FROM known) ON CONFLICT (domain) DO UPDATE SET domain =
            excluded.domain RETURNING id), l AS (INSERT INTO leads (id, company_name,
            industry, company_size, employees_min, employees_max, annual_revenue,
            website, country, contact_name, contact_title, contact_email, contact_phone,
            linkedin_url, data, qualification_score, qualification_tier,
            qualification_reasoning, qualified_at, created_at, updated_at, company_id)
            VALUES ($1, $2, $3, $4, $5::bigint, $6::bigint, $7::float8, $8, $9, $10,
            $11, $12, $13, $14, $15::jsonb, $16::integer, $17, $18, $19, $20, $20,
            COALESCE((SELECT id FROM known), (SELECT id FROM added))) ON CONFLICT (id)
            DO NOTHING RETURNING id), s AS (INSERT INTO lead_search (lead_id, text)
            SELECT id, $22::text FROM l ON CONFLICT (lead_id) DO UPDATE SET text =
            excluded.text WHERE lead_search.text <> excluded.text) SELECT count(*) INTO
            wrote FROM l;
        END IF;
    END IF;
    RETURN wrote;
END $fn$;
