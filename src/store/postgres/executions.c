/* Agent executions in PostgreSQL: one row per invocation, written beside its lead inside
 * the same statement (leads.c), and listed per lead. Part of the PostgreSQL backend
 * (pg.h).
 *
 * An execution is written on every invocation, so it is kept small, as in SQLite: when
 * its input is the lead's own input (every invocation of a lead), the row stores none
 * (NULL, leads.c decides) and the list answers the lead's stored input for it. Large
 * outputs are compressed by TOAST, not here (migration 002 says why). */
#include <stdlib.h>

#include "store/postgres/pg.h"

static const struct pg_sql INSERT_EXEC = {
    "insert execution",
    "INSERT INTO agent_executions (id, lead_id, agent_type, thread_id, status, input, "
    "output, error_message, processing_time_ms, success, created_at) VALUES "
    "($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9::float8, $10::integer, $11)"};
/* input NULL: the execution was an invocation of the lead, whose input the lead row
 * holds (the lead's current input: a later invocation that changed the lead shows here
 * too) */
static const struct pg_sql LIST_EXECS = {
    "list executions",
    "SELECT e.id, e.agent_type, e.thread_id, e.status, COALESCE(e.input, l.data), e.output, "
    "e.error_message, e.processing_time_ms, e.success, e.created_at FROM agent_executions e "
    "LEFT JOIN leads l ON l.id = e.lead_id WHERE e.lead_id = $1 "
    "ORDER BY e.created_at DESC, e.id LIMIT $2::bigint"};

int sa_pg_exec_insert(struct pg_conn *c, const struct sa_exec_row *e, const char *now,
                      struct sa_err *err)
{
    const struct pg_arg a[] = {TXT(e->id),
                               TXT(e->lead_id),
                               TXT(e->agent_type),
                               TXT(e->thread_id),
                               TXT(e->success ? "success" : "error"),
                               TXT(e->input),
                               TXT(e->output),
                               TXT(e->error_message),
                               DBL(e->processing_time_ms),
                               NUM(e->success),
                               TXT(now)};
    return pg_exec_locked(c, &INSERT_EXEC, a, DB_N(a), NULL, err);
}

static json_t *exec_from_row(const PGresult *res, int r)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:f, s:b, s:o}", "id",
                     pg_col_text(res, r, 0), "agent_type", pg_col_text(res, r, 1), "thread_id",
                     pg_col_text(res, r, 2), "status", pg_col_text(res, r, 3), "input",
                     pg_col_json(res, r, 4), "output", pg_col_json(res, r, 5), "error_message",
                     pg_col_text(res, r, 6), "processing_time_ms",
                     strtod(PQgetvalue(res, r, 7), NULL), "success",
                     PQgetvalue(res, r, 8)[0] == '1', "created_at", pg_col_text(res, r, 9));
}

int sa_pg_list_executions(struct sa_store *s, const char *lead_id, int limit, json_t **out,
                          struct sa_err *err)
{
    const struct pg_arg a[] = {TXT(lead_id), NUM(limit)};
    return pg_query_rows(s, &LIST_EXECS, a, DB_N(a), exec_from_row, out, err);
}
