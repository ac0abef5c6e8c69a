/* What the web console reads that no other aggregate serves, in PostgreSQL: a lead's
 * outreach draft under way (the one-draft rule of app/drafts.c) and the conversation list
 * (migration 059), touched at each conversation turn. Part of the PostgreSQL backend
 * (pg.h). */
#include <stdint.h>

#include "store/backend.h"
#include "store/postgres/pg.h"

/* A pending approval first (the draft itself), else a run that will make one. */
static const struct pg_sql DRAFT_PENDING = {
    "pending draft",
    "SELECT kind, id, thread_id, created_at FROM (SELECT 'approval'::text AS kind, id, "
    "thread_id, created_at, 0 AS o FROM approvals WHERE lead_id = $1 AND status = 'pending' "
    "UNION ALL SELECT 'run'::text, id, thread_id, created_at, 1 FROM runs WHERE lead_id = $1 "
    "AND status IN ('queued', 'running')) AS x ORDER BY o, created_at DESC, id DESC LIMIT 1"};

/* Concurrent touches each take a number of the sequence: a later touch's is larger. */
static const struct pg_sql CONV_TOUCH = {
    "touch conversation",
    "INSERT INTO conversations (thread_id, lead_id, company_name, contact_name, contact_email, "
    "stage, last_intent, turns, seq, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, "
    "$8::integer, nextval('conversations_seq_gen'), $9, $9) ON CONFLICT (thread_id) DO UPDATE "
    "SET lead_id = COALESCE(EXCLUDED.lead_id, conversations.lead_id), company_name = "
    "COALESCE(EXCLUDED.company_name, conversations.company_name), contact_name = "
    "COALESCE(EXCLUDED.contact_name, conversations.contact_name), contact_email = "
    "COALESCE(EXCLUDED.contact_email, conversations.contact_email), stage = EXCLUDED.stage, "
    "last_intent = EXCLUDED.last_intent, turns = EXCLUDED.turns, seq = EXCLUDED.seq, "
    "updated_at = EXCLUDED.updated_at"};

static const struct pg_sql CONV_LIST = {
    "list conversations",
    "SELECT c.thread_id, c.lead_id, COALESCE(l.company_name, c.company_name) AS company_name, "
    "COALESCE(c.contact_name, l.contact_name) AS contact_name, c.stage, c.last_intent, c.turns, "
    "c.created_at, c.updated_at, c.seq FROM conversations c LEFT JOIN leads l ON l.id = "
    "c.lead_id WHERE c.seq < $1::bigint ORDER BY c.seq DESC LIMIT $2::bigint"};

int sa_pg_lead_draft_pending(struct sa_store *s, const char *lead_id, json_t **out,
                             struct sa_err *err)
{
    int rc = pg_query_one(s, &DRAFT_PENDING, &TXT(lead_id), 1, NULL, out, err);
    if (!rc && !*out)
        rc = sa_err_set(err, SA_ENOTFOUND, "lead %s has no draft under way", lead_id);
    return rc;
}

int sa_pg_conversation_touch(struct sa_store *s, const struct sa_conversation_row *c,
                             struct sa_err *err)
{
    if (!c->thread_id || !c->at)
        return sa_err_set(err, SA_EINVAL, "conversation: thread_id and at are required");
    const struct pg_arg a[] = {TXT(c->thread_id),    TXT(c->lead_id),       TXT(c->company_name),
                               TXT(c->contact_name), TXT(c->contact_email), TXT(c->stage),
                               TXT(c->last_intent),  NUM(c->turns),         TXT(c->at)};
    return pg_exec_args(s, &CONV_TOUCH, a, DB_N(a), NULL, err);
}

int sa_pg_conversation_list(struct sa_store *s, int limit, long long before, json_t **out,
                            struct sa_err *err)
{
    *out = NULL;
    if (limit < 1 || limit > 500)
        return sa_err_set(err, SA_EINVAL, "conversations: limit must be 1..500, not %d", limit);
    if (before < 0)
        return sa_err_set(err, SA_EINVAL, "conversations: before must be 0 or positive");
    /* one row more than the page: whether it exists says if there is a next page */
    const struct pg_arg a[] = {NUM(before > 0 ? before : INT64_MAX), NUM(limit + 1)};
    json_t *items = NULL;
    int rc = pg_query_rows(s, &CONV_LIST, a, DB_N(a), NULL, &items, err);
    if (rc)
        return rc;
    *out = sa_store_page_by_seq(items, limit, "seq");
    return *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}
