/* Agent executions in SQLite: one row per invocation, written beside its lead inside the
 * same transaction (leads.c), and listed per lead. Part of the SQLite backend (db.h).
 *
 * An execution is written on every invocation, so it is kept small: when its input is
 * the lead's own input (every invocation of a lead), the row stores none (NULL) and the
 * list answers the lead's stored input for it; a large output is stored compressed
 * (db_json_arg). */
#include <stdlib.h>
#include <string.h>

#include "store/sqlite/db.h"

static const struct db_sql INSERT_EXEC = {
    "insert execution",
    "INSERT INTO agent_executions (id, lead_id, agent_type, thread_id, status, input, "
    "output, error_message, processing_time_ms, success, created_at) VALUES "
    "(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)"};
/* input NULL: the execution was an invocation of the lead, whose input the lead row
 * holds (the lead's current input: a later invocation that changed the lead shows here
 * too) */
static const struct db_sql LIST_EXECS = {
    "list executions",
    "SELECT e.id, e.agent_type, e.thread_id, e.status, COALESCE(e.input, l.data), e.output, "
    "e.error_message, e.processing_time_ms, e.success, e.created_at FROM agent_executions e "
    "LEFT JOIN leads l ON l.id = e.lead_id WHERE e.lead_id = ?1 "
    "ORDER BY e.created_at DESC, e.id LIMIT ?2"};

int sa_sqlite_exec_insert(struct db_conn *c, const struct sa_exec_row *e, const char *lead_data,
                          const struct db_arg *made, const char *now, struct sa_err *err)
{
    const char *input = e->input;
    if (input && lead_data && (input == lead_data || strcmp(input, lead_data) == 0))
        input = NULL;
    char *z = NULL;
    struct db_arg output = made ? *made : db_json_arg(e->output, &z);
    const struct db_arg a[] = {TXT(e->id),
                               TXT(e->lead_id),
                               TXT(e->agent_type),
                               TXT(e->thread_id),
                               TXT(e->success ? "success" : "error"),
                               TXT(input),
                               output,
                               TXT(e->error_message),
                               DBL(e->processing_time_ms),
                               NUM(e->success),
                               TXT(now)};
    int rc = db_exec_locked(c, &INSERT_EXEC, a, DB_N(a), NULL, err);
    free(z);
    return rc;
}

static json_t *exec_from_row(sqlite3_stmt *st)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:f, s:b, s:o}", "id", db_col_text(st, 0),
                     "agent_type", db_col_text(st, 1), "thread_id", db_col_text(st, 2), "status",
                     db_col_text(st, 3), "input", db_col_json(st, 4), "output", db_col_json(st, 5),
                     "error_message", db_col_text(st, 6), "processing_time_ms",
                     sqlite3_column_double(st, 7), "success", sqlite3_column_int(st, 8),
                     "created_at", db_col_text(st, 9));
}

int sa_sqlite_list_executions(struct sa_store *s, const char *lead_id, int limit, json_t **out,
                              struct sa_err *err)
{
    const struct db_arg a[] = {TXT(lead_id), NUM(limit)};
    return db_query_rows(s, &LIST_EXECS, a, DB_N(a), exec_from_row, out, err);
}

static int write_exec(struct db_conn *c, void *arg, const char *now, struct sa_err *err)
{
    return sa_sqlite_exec_insert(c, arg, NULL, NULL, now, err);
}

int sa_sqlite_execution_add(struct sa_store *s, const struct sa_exec_row *e, struct sa_err *err)
{
    return db_group_write(s, write_exec, (void *)e, err);
}
