/* Pipeline runs in PostgreSQL: created queued, moved through their statuses by the run
 * workers (app/runs.c), read back, and listed when unfinished so a restart resumes them.
 * Part of the PostgreSQL backend (pg.h). */
#include <stdio.h>
#include <string.h>

#include "store/postgres/pg.h"

static const struct pg_sql RUN_CREATE = {
    "create run", "INSERT INTO runs (id, lead_id, thread_id, status, input, created_at, "
                  "updated_at) VALUES ($1, $2, $3, 'queued', $4::jsonb, $5, $5)"};
static const struct pg_sql RUN_UPDATE = {
    "update run", "UPDATE runs SET status = $2, output = COALESCE($3::jsonb, output), "
                  "error = COALESCE($4, error), updated_at = $5 WHERE id = $1"};
static const struct pg_sql RUN_GET = {
    "get run", "SELECT id, lead_id, thread_id, status, input, output, error, created_at, "
               "updated_at FROM runs WHERE id = $1"};
static const struct pg_sql RUNS_OPEN = {
    "unfinished runs", "SELECT id, lead_id, thread_id, input FROM runs WHERE status IN "
                       "('queued', 'running') ORDER BY created_at, id"};

int sa_pg_run_create(struct sa_store *s, const char *id, const char *lead_id, const char *thread_id,
                     const char *input, struct sa_err *err)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const struct pg_arg a[] = {TXT(id), TXT(lead_id), TXT(thread_id), TXT(input), TXT(now)};
    return pg_exec_args(s, &RUN_CREATE, a, DB_N(a), NULL, err);
}

int sa_pg_run_update(struct sa_store *s, const char *id, const char *status, const char *output,
                     const char *error, struct sa_err *err)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const struct pg_arg a[] = {TXT(id), TXT(status), TXT(output), TXT(error), TXT(now)};
    int changed = 0;
    int rc = pg_exec_args(s, &RUN_UPDATE, a, DB_N(a), &changed, err);
    return rc || changed ? rc : sa_err_set(err, SA_ENOTFOUND, "no such run");
}

int sa_pg_run_get(struct sa_store *s, const char *id, json_t **out, struct sa_err *err)
{
    int rc = pg_query_one(s, &RUN_GET, &TXT(id), 1, NULL, out, err);
    if (!rc && !*out)
        rc = sa_err_set(err, SA_ENOTFOUND, "no run %s", id);
    return rc;
}

int sa_pg_runs_unfinished(struct sa_store *s, json_t **out, struct sa_err *err)
{
    return pg_query_rows(s, &RUNS_OPEN, NULL, 0, NULL, out, err);
}

/* The console's run list (issue 16): idx_runs_status serves the status filter. */
static const struct pg_sql RUNS_LIST = {
    "list runs", "SELECT id, lead_id, thread_id, status, error, input->>'company_name' AS "
                 "company_name, created_at, updated_at FROM runs WHERE ($1::text IS NULL OR "
                 "status = $1::text) ORDER BY created_at DESC, id DESC LIMIT $2::bigint OFFSET "
                 "$3::bigint"};
static const struct pg_sql RUNS_COUNT = {
    "count runs", "SELECT count(*) AS n FROM runs WHERE ($1::text IS NULL OR status = $1::text)"};

int sa_pg_runs_list(struct sa_store *s, const char *status, int limit, int offset, json_t **out,
                    struct sa_err *err)
{
    *out = NULL;
    const struct pg_arg a[] = {TXT(status), NUM(limit), NUM(offset)};
    json_t *count = NULL, *items = NULL;
    int rc = pg_query_one(s, &RUNS_COUNT, a, 1, NULL, &count, err);
    if (!rc)
        rc = pg_query_rows(s, &RUNS_LIST, a, DB_N(a), NULL, &items, err);
    if (!rc) {
        *out = json_pack("{s:O, s:I}", "items", items, "total",
                         json_integer_value(json_object_get(count, "n")));
        rc = *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    json_decref(count);
    json_decref(items);
    return rc;
}

/* The run leases (migration 004). A claim is two conditional updates, each atomic on its
 * own (a claimer that waits on another's row lock re-checks its WHERE on the committed
 * row under READ COMMITTED): the queued case and the expired-lease case, so the caller
 * learns which one it was without a read that could race. */
static const struct pg_sql RUN_CLAIM_QUEUED = {
    "claim run", "UPDATE runs SET status = 'running', owner = $2, lease_until = $3::bigint, "
                 "updated_at = $4 WHERE id = $1 AND status = 'queued'"};
static const struct pg_sql RUN_CLAIM_EXPIRED = {
    "claim run",
    "UPDATE runs SET owner = $2, lease_until = $3::bigint, updated_at = $4 WHERE id = $1 "
    "AND status = 'running' AND (lease_until IS NULL OR lease_until < $5::bigint OR "
    "owner = $6)"};
static const struct pg_sql RUN_STATUS = {"claim run",
                                         "SELECT status, owner FROM runs WHERE id = $1"};
static const struct pg_sql RUN_RENEW = {
    "renew run lease", "UPDATE runs SET lease_until = $3::bigint WHERE id = $1 AND status = "
                       "'running' AND owner = $2"};
static const struct pg_sql RUN_FINISH = {
    "finish run", "UPDATE runs SET status = $3, output = COALESCE($4::jsonb, output), "
                  "error = COALESCE($5, error), updated_at = $6, lease_until = NULL "
                  "WHERE id = $1 AND status = 'running' AND owner = $2"};
static const struct pg_sql RUNS_STALE = {
    "stale runs",
    "SELECT id FROM runs WHERE ((status = 'queued' AND updated_at <= $1) OR (status = "
    "'running' AND COALESCE(lease_until, 0) < $2::bigint)) AND COALESCE(requeued_at, 0) <= "
    "$2::bigint - $3::bigint ORDER BY created_at, id LIMIT $4::bigint"};
/* the stamp is conditional too: of two reconcilers, one queues the run again */
static const struct pg_sql RUN_STAMP = {
    "stale runs", "UPDATE runs SET requeued_at = $2::bigint WHERE id = $1 AND status IN "
                  "('queued', 'running') AND COALESCE(requeued_at, 0) <= $2::bigint - "
                  "$3::bigint"};

int sa_pg_run_claim(struct sa_store *s, const char *id, const char *owner, const char *over,
                    long long now, long long lease_until, bool *took_over,
                    char holder[SA_RUN_OWNER_MAX], struct sa_err *err)
{
    *took_over = false;
    if (holder)
        holder[0] = '\0';
    if (!owner)
        return sa_err_set(err, SA_EINVAL, "no run owner");
    char stamp[SA_ISO8601_LEN];
    sa_iso8601_now(stamp);
    const struct pg_arg a[] = {TXT(id),    TXT(owner), NUM(lease_until),
                               TXT(stamp), NUM(now),   TXT(over)};
    int changed = 0;
    int rc = pg_exec_args(s, &RUN_CLAIM_QUEUED, a, 4, &changed, err);
    if (rc || changed)
        return rc;
    if ((rc = pg_exec_args(s, &RUN_CLAIM_EXPIRED, a, DB_N(a), &changed, err)))
        return rc;
    if (changed) {
        *took_over = true;
        return 0;
    }
    json_t *row = NULL;
    rc = pg_query_one(s, &RUN_STATUS, &TXT(id), 1, NULL, &row, err);
    const char *by = json_string_value(json_object_get(row, "owner"));
    if (!rc && holder && by)
        snprintf(holder, SA_RUN_OWNER_MAX, "%s", by);
    if (!rc)
        rc = row ? sa_err_set(err, SA_ECONFLICT, "the run is %s%s",
                              json_string_value(json_object_get(row, "status")),
                              strcmp(json_string_value(json_object_get(row, "status")) ?: "",
                                     "running") == 0
                                  ? " under another worker's lease"
                                  : "")
                 : sa_err_set(err, SA_ENOTFOUND, "no run %s", id);
    json_decref(row);
    return rc;
}

int sa_pg_run_renew(struct sa_store *s, const char *id, const char *owner, long long lease_until,
                    struct sa_err *err)
{
    const struct pg_arg a[] = {TXT(id), TXT(owner), NUM(lease_until)};
    int changed = 0;
    int rc = pg_exec_args(s, &RUN_RENEW, a, DB_N(a), &changed, err);
    return rc || changed
               ? rc
               : sa_err_set(err, SA_ECONFLICT, "the run is no longer held by this worker");
}

int sa_pg_run_finish(struct sa_store *s, const char *id, const char *owner, const char *status,
                     const char *output, const char *error, struct sa_err *err)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const struct pg_arg a[] = {TXT(id), TXT(owner), TXT(status), TXT(output), TXT(error), TXT(now)};
    int changed = 0;
    int rc = pg_exec_args(s, &RUN_FINISH, a, DB_N(a), &changed, err);
    return rc || changed
               ? rc
               : sa_err_set(err, SA_ECONFLICT, "the run is no longer held by this worker");
}

int sa_pg_runs_stale(struct sa_store *s, long long now, long long grace, int limit, json_t **out,
                     struct sa_err *err)
{
    *out = NULL;
    if (limit < 1 || limit > 1000 || grace < 0)
        return sa_err_set(err, SA_EINVAL, "limit must be 1..1000 and grace >= 0");
    char before[SA_ISO8601_LEN];
    sa_iso8601_format_ms((double)(now - grace) / 1000.0, before);
    const struct pg_arg a[] = {TXT(before), NUM(now), NUM(grace), NUM(limit)};
    json_t *rows = NULL;
    int rc = pg_query_rows(s, &RUNS_STALE, a, DB_N(a), NULL, &rows, err);
    json_t *ids = rc ? NULL : json_array();
    if (!rc && !ids)
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    size_t i;
    json_t *row;
    json_array_foreach(rc ? NULL : rows, i, row)
    {
        const char *id = json_string_value(json_object_get(row, "id"));
        const struct pg_arg b[] = {TXT(id), NUM(now), NUM(grace)};
        int changed = 0;
        if ((rc = pg_exec_args(s, &RUN_STAMP, b, DB_N(b), &changed, err)))
            break;
        if (changed)
            json_array_append_new(ids, json_string(id));
    }
    json_decref(rows);
    if (rc)
        json_decref(ids);
    else
        *out = ids;
    return rc;
}
