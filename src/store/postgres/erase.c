/* Erasing a person in PostgreSQL: the lead row and every row that carries the lead's id,
 * one of its threads or its e-mail address, in one transaction; the do-not-contact record
 * and the audit log stay. Part of the PostgreSQL backend (pg.h); called through store.h
 * by the leads service (app/leads.c), which removes the threads' checkpoints itself. */
#include <stdio.h>

#include "store/postgres/pg.h"

/* $1 the lead id, $2 a JSON array of thread ids (NULL: none), $3 the e-mail (NULL: none),
 * $4 the transaction's time. A thread id list goes in as JSON, read by
 * jsonb_array_elements_text, so the statements stay fixed text however many threads there
 * are. The e-mail is citext where it meets a citext column (ASCII case ignored, as the
 * NOCASE columns in SQLite). Each statement names only the parameters it uses. */
#define IN_THREADS                                                                                 \
    "thread_id IN (SELECT jsonb_array_elements_text(COALESCE($2::jsonb, '[]'::jsonb)))"
#define OF_PERSON "(lead_id = $1 OR " IN_THREADS " OR ($3::citext IS NOT NULL AND to_email = $3))"

static const struct pg_sql THREADS = {
    "lead threads",
    "SELECT DISTINCT t FROM (SELECT thread_id AS t FROM agent_executions WHERE lead_id = $1 "
    "UNION SELECT thread_id FROM runs WHERE lead_id = $1 "
    "UNION SELECT thread_id FROM approvals WHERE lead_id = $1 "
    "UNION SELECT thread_id FROM outbox WHERE lead_id = $1) AS x WHERE t IS NOT NULL AND "
    "t <> '' ORDER BY t"};
static const struct pg_sql LEAD_STATE = {
    "erase lead", "SELECT (SELECT count(*) FROM leads WHERE id = $1) AS leads, "
                  "(SELECT count(*) FROM runs WHERE lead_id = $1 AND status IN ('queued', "
                  "'running')) AS busy"};
/* The lead goes only when no run of it is under way: a run would write it back. Its
 * search row goes with it (ON DELETE CASCADE). */
static const struct pg_sql DEL_LEAD = {
    "erase lead", "DELETE FROM leads WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM runs WHERE "
                  "lead_id = $1 AND status IN ('queued', 'running'))"};
static const struct pg_sql DEL_EXECS = {
    "erase executions", "DELETE FROM agent_executions WHERE lead_id = $1 OR " IN_THREADS};
static const struct pg_sql DEL_RUNS = {"erase runs", "DELETE FROM runs WHERE lead_id = $1"};
static const struct pg_sql DEL_APPROVALS = {
    "erase approvals", "DELETE FROM approvals WHERE lead_id = $1 OR " IN_THREADS};
static const struct pg_sql CANCEL_OUTBOX = {
    "erase outbox", "UPDATE outbox SET status = 'cancelled', to_email = '', payload = '{}', "
                    "last_error = 'erased', delivered_id = NULL, updated_at = $4 WHERE status IN "
                    "('queued', 'sending', 'failed') AND " OF_PERSON};
/* Sent and earlier cancelled items keep their status and times, not their content. */
static const struct pg_sql REDACT_OUTBOX = {
    "erase outbox", "UPDATE outbox SET to_email = '', payload = '{}', last_error = NULL WHERE "
                    "status IN ('sent', 'cancelled') AND (to_email <> '' OR payload <> '{}') "
                    "AND " OF_PERSON};
/* Keys "e-mail" or "anything:e-mail" (a provider's key for a person), ASCII case ignored
 * ($1: the e-mail). */
static const struct pg_sql DEL_CACHE = {
    "erase enrichment cache",
    "DELETE FROM enrichment_cache WHERE $1::text IS NOT NULL AND lower(right(cache_key, "
    "length($1))) = lower($1 COLLATE \"C\") AND (length(cache_key) = length($1) OR "
    "substr(cache_key, length(cache_key) - length($1), 1) = ':')"};

/* Meetings with the person free their slots with them (not counted in the result). */
static const struct pg_sql DEL_MEETINGS = {"erase meetings",
                                           "DELETE FROM meetings WHERE lead_id = $1 OR " IN_THREADS
                                           " OR ($3::citext IS NOT NULL AND attendee = $3)"};

/* Inbound mail of the person keeps only its Message-ID (a redelivery stays a duplicate and
 * records nothing again) and kind; not counted in the result. */
static const struct pg_sql REDACT_INBOUND = {
    "erase inbound mail",
    "UPDATE inbound_messages SET lead_id = NULL, thread_id = NULL, email = NULL, status = NULL, "
    "matched_by = NULL, result = '{\"erased\":true}'::jsonb WHERE lead_id = $1 OR " IN_THREADS
    " OR ($3::citext IS NOT NULL AND email = $3::citext)"};

/* The person's conversations leave the conversation list (not counted in the result). */
static const struct pg_sql DEL_CONVERSATIONS = {
    "erase conversations", "DELETE FROM conversations WHERE lead_id = $1 OR " IN_THREADS
                           " OR ($3::citext IS NOT NULL AND contact_email = $3::citext)"};

static const struct pg_sql RETIRE_ID = {
    "erase lead",
    "INSERT INTO erased_leads (id, erased_at) VALUES ($1, $2) ON CONFLICT DO NOTHING"};

static json_t *thread_of_row(const PGresult *res, int r)
{
    return pg_col_text(res, r, 0);
}

int sa_pg_lead_threads(struct sa_store *s, const char *lead_id, json_t **out, struct sa_err *err)
{
    *out = NULL;
    return pg_query_rows(s, &THREADS, &TXT(lead_id), 1, thread_of_row, out, err);
}

struct erase {
    const char *id, *email, *threads;
    int n[7]; /* leads, executions, runs, approvals, cancelled, redacted, cache */
};

static int write_erase(struct pg_conn *c, void *arg, const char *now, struct sa_err *err)
{
    struct erase *e = arg;
    const struct pg_arg a[] = {TXT(e->id), TXT(e->threads), TXT(e->email), TXT(now)};
    const struct pg_arg mail[] = {TXT(e->email)};
    /* executions first: the lead's delete would cascade to them uncounted */
    static const struct pg_sql *const steps[] = {&DEL_EXECS,     &DEL_LEAD,      &DEL_RUNS,
                                                 &DEL_APPROVALS, &CANCEL_OUTBOX, &REDACT_OUTBOX,
                                                 &DEL_CACHE};
    static const int nargs[] = {2, 1, 1, 2, 4, 3, 1};
    static const int slot[] = {1, 0, 2, 3, 4, 5, 6}; /* where each step counts in e->n */
    for (int i = 0; i < 7; i++) {
        const struct pg_arg *args = steps[i] == &DEL_CACHE ? mail : a;
        int rc = pg_exec_locked(c, steps[i], args, nargs[i], &e->n[slot[i]], err);
        if (rc)
            return rc;
        if (steps[i] == &DEL_LEAD && e->n[0] == 0) /* unknown, or busy: the caller says which */
            return sa_err_set(err, SA_ENOTFOUND, "lead %s not erased", e->id);
    }
    int rc = pg_exec_locked(c, &DEL_MEETINGS, a, 3, NULL, err);
    if (!rc)
        rc = pg_exec_locked(c, &REDACT_INBOUND, a, 3, NULL, err);
    if (!rc)
        rc = pg_exec_locked(c, &DEL_CONVERSATIONS, a, 3, NULL, err);
    if (rc)
        return rc;
    /* the id is retired: a write racing this erasure cannot bring the person back */
    const struct pg_arg t[] = {TXT(e->id), TXT(now)};
    return pg_exec_locked(c, &RETIRE_ID, t, DB_N(t), NULL, err);
}

int sa_pg_lead_erase(struct sa_store *s, const char *lead_id, const char *email,
                     const char *threads, json_t **out, struct sa_err *err)
{
    *out = NULL;
    struct erase e = {.id = lead_id, .email = email && *email ? email : NULL, .threads = threads};
    int rc = pg_transaction(s, write_erase, &e, err);
    if (rc == SA_ENOTFOUND) {
        json_t *state = NULL;
        struct sa_err e2 = {0};
        if (pg_query_one(s, &LEAD_STATE, &TXT(lead_id), 1, NULL, &state, &e2) == 0 &&
            json_integer_value(json_object_get(state, "busy")) > 0 &&
            json_integer_value(json_object_get(state, "leads")) > 0)
            rc = sa_err_set(err, SA_ECONFLICT, "lead %s has a run under way", lead_id);
        else
            rc = sa_err_set(err, SA_ENOTFOUND, "lead %s not found", lead_id);
        json_decref(state);
    }
    if (rc)
        return rc;
    *out = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "leads", e.n[0], "executions", e.n[1],
                     "runs", e.n[2], "approvals", e.n[3], "outbox_cancelled", e.n[4],
                     "outbox_redacted", e.n[5], "enrichment_cache", e.n[6]);
    return *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}
