/* Pipeline runs in SQLite: created queued, moved through their statuses by the run
 * workers (app/runs.c), read back, and listed when unfinished so a restart resumes them.
 * Part of the SQLite backend (db.h). */
#include <stdlib.h>

#include "store/sqlite/db.h"

static const struct db_sql RUN_CREATE = {
    "create run", "INSERT INTO runs (id, lead_id, thread_id, status, input, created_at, "
                  "updated_at) VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?5)"};
static const struct db_sql RUN_UPDATE = {
    "update run", "UPDATE runs SET status = ?2, output = COALESCE(?3, output), "
                  "error = COALESCE(?4, error), updated_at = ?5 WHERE id = ?1"};
static const struct db_sql RUN_GET = {
    "get run", "SELECT id, lead_id, thread_id, status, input, output, error, created_at, "
               "updated_at FROM runs WHERE id = ?1"};
static const struct db_sql RUNS_OPEN = {
    "unfinished runs", "SELECT id, lead_id, thread_id, input FROM runs WHERE status IN "
                       "('queued', 'running') ORDER BY created_at, id"};

int sa_sqlite_run_create(struct sa_store *s, const char *id, const char *lead_id,
                         const char *thread_id, const char *input, struct sa_err *err)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    const struct db_arg a[] = {TXT(id), TXT(lead_id), TXT(thread_id), TXT(input), TXT(now)};
    return db_exec_args(s, &RUN_CREATE, a, DB_N(a), NULL, err);
}

int sa_sqlite_run_update(struct sa_store *s, const char *id, const char *status, const char *output,
                         const char *error, struct sa_err *err)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    char *z = NULL; /* a finished run's output is its whole state: stored compressed */
    const struct db_arg a[] = {TXT(id), TXT(status), db_json_arg(output, &z), TXT(error), TXT(now)};
    int changed = 0;
    int rc = db_exec_args(s, &RUN_UPDATE, a, DB_N(a), &changed, err);
    free(z);
    return rc || changed ? rc : sa_err_set(err, SA_ENOTFOUND, "no such run");
}

int sa_sqlite_run_get(struct sa_store *s, const char *id, json_t **out, struct sa_err *err)
{
    int rc = db_query_one(s, &RUN_GET, &TXT(id), 1, NULL, out, err);
    if (!rc && !*out)
        rc = sa_err_set(err, SA_ENOTFOUND, "no run %s", id);
    return rc;
}

int sa_sqlite_runs_unfinished(struct sa_store *s, json_t **out, struct sa_err *err)
{
    return db_query_rows(s, &RUNS_OPEN, NULL, 0, NULL, out, err);
}
