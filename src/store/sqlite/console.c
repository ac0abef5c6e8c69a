/* What the web console reads that no other aggregate serves, in SQLite: a lead's outreach
 * draft under way (the one-draft rule of app/drafts.c) and the conversation list (migration
 * 019), touched at each conversation turn. Part of the SQLite backend (db.h). */
#include <stdint.h>

#include "store/backend.h"
#include "store/sqlite/db.h"

/* A pending approval first (the draft itself), else a run that will make one. */
static const struct db_sql DRAFT_PENDING = {
    "pending draft",
    "SELECT kind, id, thread_id, created_at FROM (SELECT 'approval' AS kind, id, thread_id, "
    "created_at, 0 AS o FROM approvals WHERE lead_id = ?1 AND status = 'pending' UNION ALL "
    "SELECT 'run', id, thread_id, created_at, 1 FROM runs WHERE lead_id = ?1 AND status IN "
    "('queued', 'running')) ORDER BY o, created_at DESC, id DESC LIMIT 1"};

/* The writer is alone (db.c), so max(seq) + 1 is larger than every earlier touch's. */
static const struct db_sql CONV_TOUCH = {
    "touch conversation",
    "INSERT INTO conversations (thread_id, lead_id, company_name, contact_name, contact_email, "
    "stage, last_intent, turns, seq, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
    "?8, (SELECT COALESCE(max(seq), 0) + 1 FROM conversations), ?9, ?9) ON CONFLICT (thread_id) "
    "DO UPDATE SET lead_id = COALESCE(excluded.lead_id, lead_id), company_name = "
    "COALESCE(excluded.company_name, company_name), contact_name = "
    "COALESCE(excluded.contact_name, contact_name), contact_email = "
    "COALESCE(excluded.contact_email, contact_email), stage = excluded.stage, last_intent = "
    "excluded.last_intent, turns = excluded.turns, seq = excluded.seq, updated_at = "
    "excluded.updated_at"};

static const struct db_sql CONV_LIST = {
    "list conversations",
    "SELECT c.thread_id, c.lead_id, COALESCE(l.company_name, c.company_name) AS company_name, "
    "COALESCE(c.contact_name, l.contact_name) AS contact_name, c.stage, c.last_intent, c.turns, "
    "c.created_at, c.updated_at, c.seq FROM conversations c LEFT JOIN leads l ON l.id = "
    "c.lead_id WHERE c.seq < ?1 ORDER BY c.seq DESC LIMIT ?2"};

int sa_sqlite_lead_draft_pending(struct sa_store *s, const char *lead_id, json_t **out,
                                 struct sa_err *err)
{
    int rc = db_query_one(s, &DRAFT_PENDING, &TXT(lead_id), 1, NULL, out, err);
    if (!rc && !*out)
        rc = sa_err_set(err, SA_ENOTFOUND, "lead %s has no draft under way", lead_id);
    return rc;
}

int sa_sqlite_conversation_touch(struct sa_store *s, const struct sa_conversation_row *c,
                                 struct sa_err *err)
{
    if (!c->thread_id || !c->at)
        return sa_err_set(err, SA_EINVAL, "conversation: thread_id and at are required");
    const struct db_arg a[] = {TXT(c->thread_id),    TXT(c->lead_id),       TXT(c->company_name),
                               TXT(c->contact_name), TXT(c->contact_email), TXT(c->stage),
                               TXT(c->last_intent),  NUM(c->turns),         TXT(c->at)};
    return db_exec_args(s, &CONV_TOUCH, a, DB_N(a), NULL, err);
}

int sa_sqlite_conversation_list(struct sa_store *s, int limit, long long before, json_t **out,
                                struct sa_err *err)
{
    *out = NULL;
    if (limit < 1 || limit > 500)
        return sa_err_set(err, SA_EINVAL, "conversations: limit must be 1..500, not %d", limit);
    if (before < 0)
        return sa_err_set(err, SA_EINVAL, "conversations: before must be 0 or positive");
    /* one row more than the page: whether it exists says if there is a next page */
    const struct db_arg a[] = {NUM(before > 0 ? before : INT64_MAX), NUM(limit + 1)};
    json_t *items = NULL;
    int rc = db_query_rows(s, &CONV_LIST, a, DB_N(a), NULL, &items, err);
    if (rc)
        return rc;
    *out = sa_store_page_by_seq(items, limit, "seq");
    return *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}
