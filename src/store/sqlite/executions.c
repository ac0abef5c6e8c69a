/* Agent executions in SQLite: one row per invocation, written beside its lead inside the
 * same transaction (leads.c), and listed per lead. Part of the SQLite backend (db.h).
 *
 * An execution is written on every invocation, so it is kept small: when its input is
 * the lead's own input (every invocation of a lead), the row stores none (NULL) and the
 * list answers the lead's stored input for it; an output above COMPRESS_ABOVE bytes is
 * stored as a zstd frame (a BLOB) when that is smaller, and read back as JSON. */
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "store/sqlite/db.h"

/* Outputs up to this size stay text: zstd's frame and dictionary-less start save little
 * on them, and text keeps them readable with the sqlite3 shell. A pipeline's output (its
 * whole state, 4-8 KB) shrinks to about a third. */
#define COMPRESS_ABOVE 1024
#define DECOMPRESS_MAX ((size_t)16 << 20) /* an output claiming more is corrupt */

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
                          const char *now, struct sa_err *err)
{
    const char *input = e->input;
    if (input && lead_data && (input == lead_data || strcmp(input, lead_data) == 0))
        input = NULL;
    struct db_arg output = TXT(e->output);
    char *z = NULL;
    size_t len = e->output ? strlen(e->output) : 0;
    if (len > COMPRESS_ABOVE && (z = malloc(ZSTD_compressBound(len)))) {
        size_t n = ZSTD_compress(z, ZSTD_compressBound(len), e->output, len, 1);
        if (!ZSTD_isError(n) && n < len)
            output = BLOB(z, n);
    }
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

/* Column i: JSON text, or a zstd frame of it (a BLOB); null when NULL or unreadable. */
static json_t *col_json_z(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) != SQLITE_BLOB)
        return db_col_json(st, i);
    const void *p = sqlite3_column_blob(st, i);
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    unsigned long long size = p ? ZSTD_getFrameContentSize(p, n) : ZSTD_CONTENTSIZE_ERROR;
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ||
        size > DECOMPRESS_MAX)
        return json_null();
    char *text = malloc(size ? (size_t)size : 1);
    json_t *v = NULL;
    if (text) {
        size_t got = ZSTD_decompress(text, (size_t)size, p, n);
        if (!ZSTD_isError(got) && got == size)
            v = json_loadb(text, got, 0, NULL);
    }
    free(text);
    return v ? v : json_null();
}

static json_t *exec_from_row(sqlite3_stmt *st)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:f, s:b, s:o}", "id", db_col_text(st, 0),
                     "agent_type", db_col_text(st, 1), "thread_id", db_col_text(st, 2), "status",
                     db_col_text(st, 3), "input", db_col_json(st, 4), "output", col_json_z(st, 5),
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
    return sa_sqlite_exec_insert(c, arg, NULL, now, err);
}

int sa_sqlite_execution_add(struct sa_store *s, const struct sa_exec_row *e, struct sa_err *err)
{
    return db_group_write(s, write_exec, (void *)e, err);
}
