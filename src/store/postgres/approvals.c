/* Approvals in PostgreSQL (the BDR workflow's human decisions): one per interrupt of a
 * thread, listed for the inbox, and decided once even when two API instances answer the
 * same approval at the same moment. Part of the PostgreSQL backend (pg.h). */
#include <stdio.h>
#include <string.h>

#include "store/postgres/pg.h"

#define APPROVAL_COLS                                                                              \
    "id, thread_id, interrupt_id, lead_id, status, request, response, reviewer, changes, "         \
    "created_at, decided_at, superseded_by"

static const struct pg_sql APPROVAL_PUT = {
    "put approval", "INSERT INTO approvals (id, thread_id, interrupt_id, lead_id, status, "
                    "request, created_at) VALUES ($1, $2, $3, $4, 'pending', $5::jsonb, $6) "
                    "ON CONFLICT (thread_id, interrupt_id) DO NOTHING"};
static const struct pg_sql APPROVAL_ID = {
    "put approval", "SELECT id FROM approvals WHERE thread_id = $1 AND interrupt_id = $2"};
static const struct pg_sql APPROVAL_GET = {"get approval",
                                           "SELECT " APPROVAL_COLS " FROM approvals WHERE id = $1"};
static const struct pg_sql APPROVAL_LIST = {
    "list approvals", "SELECT " APPROVAL_COLS " FROM approvals WHERE ($1::text IS NULL OR "
                      "status = $1::text) ORDER BY created_at DESC, id DESC LIMIT $2::bigint"};
/* Only a pending approval changes: the WHERE is what makes a decision happen once. Under
 * READ COMMITTED a second instance's UPDATE of the same row waits for the first one's
 * row lock, then re-reads the committed row and re-checks the WHERE on it (PostgreSQL's
 * EvalPlanQual): it finds the approval decided and changes nothing. So of any number of
 * concurrent deciders, on any number of instances, exactly one changes the row. */
static const struct pg_sql APPROVAL_DECIDE = {
    "decide approval", "UPDATE approvals SET status = $2, response = $3::jsonb, reviewer = $4, "
                       "changes = $5::jsonb, decided_at = $6 WHERE id = $1 AND status = 'pending'"};

int sa_pg_approval_put(struct sa_store *s, const char *id, const char *thread_id,
                       const char *interrupt_id, const char *lead_id, const char *request,
                       char out_id[37], struct sa_err *err)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    out_id[0] = '\0';
    const struct pg_arg a[] = {TXT(id),      TXT(thread_id), TXT(interrupt_id),
                               TXT(lead_id), TXT(request),   TXT(now)};
    int rc = pg_exec_args(s, &APPROVAL_PUT, a, DB_N(a), NULL, err);
    json_t *row = NULL;
    /* new or already there: the id of the row for this interrupt, read by a statement of
     * its own so that its snapshot sees a row another instance committed meanwhile */
    if (!rc)
        rc = pg_query_one(s, &APPROVAL_ID, a + 1, 2, NULL, &row, err);
    const char *got = json_string_value(json_object_get(row, "id"));
    if (!rc && !got)
        rc = sa_err_set(err, SA_ESTORE, "approval %s vanished", id);
    if (!rc)
        snprintf(out_id, 37, "%s", got);
    json_decref(row);
    return rc;
}

int sa_pg_approval_get(struct sa_store *s, const char *id, json_t **out, struct sa_err *err)
{
    int rc = pg_query_one(s, &APPROVAL_GET, &TXT(id), 1, NULL, out, err);
    if (!rc && !*out)
        rc = sa_err_set(err, SA_ENOTFOUND, "no such approval");
    return rc;
}

int sa_pg_approval_list(struct sa_store *s, const char *status, int limit, json_t **out,
                        struct sa_err *err)
{
    const struct pg_arg a[] = {TXT(status), NUM(limit)};
    return pg_query_rows(s, &APPROVAL_LIST, a, DB_N(a), NULL, out, err);
}

int sa_pg_approval_decide(struct sa_store *s, const char *id, const char *status,
                          const char *response, const char *reviewer, const char *changes,
                          struct sa_err *err)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const struct pg_arg a[] = {TXT(id),       TXT(status),  TXT(response),
                               TXT(reviewer), TXT(changes), TXT(now)};
    int changed = 0;
    int rc = pg_exec_args(s, &APPROVAL_DECIDE, a, DB_N(a), &changed, err);
    if (rc || changed)
        return rc;
    json_t *was = NULL; /* not pending: decided already, or no such approval */
    rc = sa_pg_approval_get(s, id, &was, err);
    json_decref(was);
    return rc ? rc : sa_err_set(err, SA_ECONFLICT, "the approval was decided already");
}

/* The resumption's lease (migration 004): one conditional update; under READ COMMITTED a
 * claimer that waits on another's row lock re-checks the WHERE on the committed row and
 * finds it held, so of concurrent claimers exactly one changes it. */
static const struct pg_sql APPROVAL_CLAIM_RESUME = {
    "claim approval resumption",
    "UPDATE approvals SET resume_owner = $2, resume_until = $4::bigint WHERE id = $1 AND "
    "status NOT IN ('pending', 'superseded') AND (resume_owner IS NULL OR resume_owner = $2 OR "
    "resume_until IS NULL OR resume_until <= $3::bigint)"};

int sa_pg_approval_claim_resume(struct sa_store *s, const char *id, const char *owner,
                                long long now, long long lease_until, struct sa_err *err)
{
    if (!owner)
        return sa_err_set(err, SA_EINVAL, "no owner");
    const struct pg_arg a[] = {TXT(id), TXT(owner), NUM(now), NUM(lease_until)};
    int changed = 0;
    int rc = pg_exec_args(s, &APPROVAL_CLAIM_RESUME, a, DB_N(a), &changed, err);
    if (rc || changed)
        return rc;
    json_t *was = NULL; /* pending, held by another, or no such approval */
    rc = sa_pg_approval_get(s, id, &was, err);
    const char *st = json_string_value(json_object_get(was, "status")) ?: "";
    if (!rc)
        rc = sa_err_set(err, SA_ECONFLICT, "%s",
                        strcmp(st, "pending") == 0      ? "the approval is not decided yet"
                        : strcmp(st, "superseded") == 0 ? "the approval was superseded"
                                                        : "another instance is resuming the "
                                                          "approval's thread");
    json_decref(was);
    return rc;
}

/* Every pending approval of the thread at once: the WHERE on status is approval_decide's,
 * so a concurrent decision and this update change the row one after the other and the
 * second finds it no longer pending. */
static const struct pg_sql APPROVAL_SUPERSEDE = {
    "supersede approvals", "UPDATE approvals SET status = 'superseded', superseded_by = $2, "
                           "decided_at = $3 WHERE thread_id = $1 AND status = 'pending'"};

int sa_pg_approval_supersede(struct sa_store *s, const char *thread_id, const char *by, int *n,
                             struct sa_err *err)
{
    *n = 0;
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const struct pg_arg a[] = {TXT(thread_id), TXT(by), TXT(now)};
    return pg_exec_args(s, &APPROVAL_SUPERSEDE, a, DB_N(a), n, err);
}

/* approval_supersede undone for run by: only its own supersessions, on its thread. */
static const struct pg_sql APPROVAL_UNSUPERSEDE = {
    "unsupersede approvals",
    "UPDATE approvals SET status = 'pending', superseded_by = NULL, decided_at = NULL "
    "WHERE thread_id = $1 AND status = 'superseded' AND superseded_by = $2"};

int sa_pg_approval_unsupersede(struct sa_store *s, const char *thread_id, const char *by, int *n,
                               struct sa_err *err)
{
    *n = 0;
    if (!by)
        return sa_err_set(err, SA_EINVAL, "no run to undo the supersession of");
    const struct pg_arg a[] = {TXT(thread_id), TXT(by)};
    return pg_exec_args(s, &APPROVAL_UNSUPERSEDE, a, DB_N(a), n, err);
}
