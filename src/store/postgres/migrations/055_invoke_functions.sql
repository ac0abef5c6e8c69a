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
--
-- plan_cache_mode = force_generic_plan (for the call, and so for the triggers and foreign
-- key checks the write fires): left to itself the plan cache kept choosing a custom plan,
-- planned again on every call, whenever the table's statistics made the generic plan look
-- dearer (a new database with a few leads); every plan here is a lookup by a unique or
-- indexed key, for which the generic plan is the custom one.
CREATE FUNCTION sa_write_lead(text, text, text, text, text, text, text, text, text, text,
                              text, text, text, text, text, text, text, text, text, text,
                              text, text, text, text, text, text, text, text, text, text,
                              text, text, text, only_new boolean, with_exec boolean)
RETURNS bigint LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
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

-- The two reads of every invoke (app/invoke.c: the contact's stored lead by e-mail, then
-- that lead), for the same reason: as statements each spent about 90 µs being planned
-- per call against about 20 µs running. leads.c's BY_EMAIL and GET_LEAD, unchanged.
CREATE FUNCTION sa_lead_by_email(text) RETURNS text LANGUAGE plpgsql STABLE
    SET plan_cache_mode = force_generic_plan AS $fn$
BEGIN
    RETURN (SELECT id FROM leads WHERE lower(contact_email) = lower($1::text COLLATE "C")
            ORDER BY created_at, id LIMIT 1);
END $fn$;

-- The lead's columns in leads.c's LEAD_READ_COLS order (lead_from_row reads them by
-- position); the column names win over these output names inside the body.
CREATE FUNCTION sa_get_lead(text)
RETURNS TABLE (id text, company_name text, industry text, company_size text,
               employees_min bigint, employees_max bigint, annual_revenue double precision,
               website text, country text, contact_name text, contact_title text,
               contact_email text, contact_phone text, linkedin_url text, data jsonb,
               qualification_score integer, qualification_tier text,
               qualification_reasoning text, qualified_at text, created_at text,
               updated_at text, company_id text, company_domain text, company_name_of text)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY SELECT leads.id, leads.company_name, leads.industry, leads.company_size,
        leads.employees_min, leads.employees_max, leads.annual_revenue, leads.website,
        leads.country, leads.contact_name, leads.contact_title, leads.contact_email,
        leads.contact_phone, leads.linkedin_url, leads.data, leads.qualification_score,
        leads.qualification_tier, leads.qualification_reasoning, leads.qualified_at,
        leads.created_at, leads.updated_at, leads.company_id,
        (SELECT c.domain FROM companies c WHERE c.id = leads.company_id),
        (SELECT c.name FROM companies c WHERE c.id = leads.company_id)
        FROM leads WHERE leads.id = $1;
END $fn$;
