-- The identity rule's read by e-mail with the lead's stored input (store.h lead_by_email
-- with data): an invoke that finds its contact folds its input over the stored one from
-- this one read, instead of reading the lead again by id (sa_get_lead). A function for
-- the reason of migration 055: PostgreSQL plans it once per server connection.
CREATE FUNCTION sa_lead_by_email_data(text) RETURNS TABLE (id text, data jsonb)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY SELECT leads.id, leads.data FROM leads
        WHERE lower(leads.contact_email) = lower($1::text COLLATE "C")
        ORDER BY leads.created_at, leads.id LIMIT 1;
END $fn$;
