/* Private to the SQLite backend (src/store/sqlite/): the one set of helpers every
 * aggregate file (leads.c, executions.c, runs.c, approvals.c, outbox.c, contacts.c,
 * cache.c, keys.c, audit.c) uses to read and write through db.c's pool and writer, and
 * the ops each file implements, assembled in db.c. Nothing outside this folder includes
 * it. */
#ifndef SA_STORE_SQLITE_DB_H
#define SA_STORE_SQLITE_DB_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "base/clock.h"
#include "store/store.h"

/* One SQL statement, defined once with static storage by the file that owns it:
 * `static const struct db_sql GET_LEAD = {"get lead", "SELECT ..."};`. Each connection
 * prepares it on first use and keeps it, keyed by the definition's address, so a
 * definition MUST NOT live on the stack. what names it in error messages (the SQL text
 * never reaches one). */
struct db_sql {
    const char *what;
    const char *text;
};

/* A statement argument, bound in order to ?1, ?2, ...: text (NULL binds NULL), an integer,
 * a double or a blob. */
struct db_arg {
    const char *text; /* DB_ARG_BLOB: the bytes, len of them */
    long long num;
    double real;
    size_t len;
    enum { DB_ARG_TEXT, DB_ARG_INT, DB_ARG_REAL, DB_ARG_BLOB } type;
};
#define TXT(v) ((struct db_arg){.text = (v)})
#define BLOB(p, n) ((struct db_arg){.text = (p), .len = (n), .type = DB_ARG_BLOB})
#define NUM(v) ((struct db_arg){.num = (v), .type = DB_ARG_INT})
#define DBL(v) ((struct db_arg){.real = (v), .type = DB_ARG_REAL})
#define DB_N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* One connection (a pooled reader, or the writer) with its prepared statements. */
struct db_conn;
struct graph_saver;

/* Turns the current row into JSON (new reference, NULL when out of memory). */
typedef json_t *(*db_row_fn)(sqlite3_stmt *st);

/* A write run on the writer connection inside a transaction someone else opened and
 * commits (db_transaction, db_group_write). now: the transaction's ISO 8601 timestamp.
 * Returns 0 or a negative SA_* code with err set. */
typedef int (*db_write_fn)(struct db_conn *c, void *arg, const char *now, struct sa_err *err);

/* ---- reading a row ------------------------------------------------------------------ */

/* Column i as a JSON string, or null. */
json_t *db_col_text(sqlite3_stmt *st, int i);
/* Column i as a JSON integer, or null. */
json_t *db_col_int(sqlite3_stmt *st, int i);
/* Column i (JSON text, or a zstd frame of it stored as a BLOB by db_json_arg) parsed, or
 * null when NULL or unreadable. */
json_t *db_col_json(sqlite3_stmt *st, int i);
/* The default row shape: an object keyed by column name; integers and reals as numbers,
 * the columns holding JSON text (named input, output, data, request, response, changes
 * or payload) parsed, the rest as strings or null. */
json_t *db_row_object(sqlite3_stmt *st);

/* Large JSON documents written on every invocation or run (an execution's or a run's
 * output) are stored as a zstd frame (a BLOB) when they are larger than
 * DB_COMPRESS_ABOVE bytes and that makes them smaller; db_col_json (and so
 * db_row_object) reads either form. Up to that size they stay text: zstd's frame and its
 * start without a dictionary save little on them, and text stays readable in the sqlite3
 * shell. A pipeline's output (its whole state, 3-8 KB) shrinks to about a third. */
#define DB_COMPRESS_ABOVE 1024
#define DB_DECOMPRESS_MAX ((size_t)16 << 20) /* a frame claiming more is corrupt */

/* The argument for JSON text (NULL binds NULL): a BLOB with its zstd frame when that is
 * smaller and the text is large, else the text. *owned gets the frame (the caller frees
 * it once the statement ran), or NULL. */
struct db_arg db_json_arg(const char *text, char **owned);

/* ---- statements -------------------------------------------------------------------- */

/* Runs a read statement on a pooled connection: *out (new reference) is an array of its
 * rows, each shaped by row (NULL: db_row_object). *out is NULL on error. */
int db_query_rows(struct sa_store *s, const struct db_sql *q, const struct db_arg *a, int n,
                  db_row_fn row, json_t **out, struct sa_err *err) SA_WUR;
/* db_query_rows for one row: *out (new reference) is the first row, or NULL when there
 * is none (the caller says what was not found). */
int db_query_one(struct sa_store *s, const struct db_sql *q, const struct db_arg *a, int n,
                 db_row_fn row, json_t **out, struct sa_err *err) SA_WUR;
/* Runs a write statement on c (the writer, inside db_transaction / db_group_write);
 * *changes (optional) gets the rows it changed. */
int db_exec_locked(struct db_conn *c, const struct db_sql *q, const struct db_arg *a, int n,
                   int *changes, struct sa_err *err) SA_WUR;
/* One write statement on its own (its own implicit transaction): takes the writer for
 * the call, outside the group commit. *changes (optional) as for db_exec_locked. */
int db_exec_args(struct sa_store *s, const struct db_sql *q, const struct db_arg *a, int n,
                 int *changes, struct sa_err *err) SA_WUR;

/* ---- transactions ------------------------------------------------------------------ */

/* Runs fn in one transaction on the writer, which the caller holds alone for the call:
 * fn's writes are committed together, or (fn fails, SQLite drops the transaction, the
 * commit fails) none is. */
int db_transaction(struct sa_store *s, db_write_fn fn, void *arg, struct sa_err *err) SA_WUR;
/* Queues fn for the group commit (see db.c) and returns once it is committed or failed:
 * fn runs under its own SAVEPOINT inside a transaction shared with other callers' jobs, so
 * a failing fn rolls back alone. fn MUST NOT keep pointers into arg past its return. */
int db_group_write(struct sa_store *s, db_write_fn fn, void *arg, struct sa_err *err) SA_WUR;

/* ---- the ops, one file per aggregate (see store.h for each contract) ----------------- */

/* leads.c */
int sa_sqlite_save_invocation(struct sa_store *s, const struct sa_lead_row *lead,
                              const struct sa_exec_row *exec, struct sa_err *err);
int sa_sqlite_insert_lead_if_new(struct sa_store *s, const struct sa_lead_row *lead,
                                 const struct sa_exec_row *exec, bool *inserted,
                                 struct sa_err *err);
int sa_sqlite_save_many(struct sa_store *s, const struct sa_lead_row *leads,
                        const struct sa_exec_row *execs, int n, struct sa_err *err);
int sa_sqlite_get_lead(struct sa_store *s, const char *id, json_t **out, struct sa_err *err);
int sa_sqlite_list_leads(struct sa_store *s, const struct sa_lead_query *q, json_t **out,
                         struct sa_err *err);
int sa_sqlite_lead_by_email(struct sa_store *s, const char *email, char id[37], json_t **data,
                            struct sa_err *err);
int sa_sqlite_leads_by_company(struct sa_store *s, const char *name, json_t **out,
                               struct sa_err *err);
int sa_sqlite_leads_by_mailbox(struct sa_store *s, const char *email, int limit, int offset,
                               json_t **out, struct sa_err *err);
int sa_sqlite_lead_match(struct sa_store *s, const char *name, const char *domain,
                         const char *contact_name, char id[37], json_t **data, struct sa_err *err);
int sa_sqlite_company_get(struct sa_store *s, const char *domain, json_t **out,
                          struct sa_err *err);

/* executions.c; sa_sqlite_exec_insert writes one inside the caller's transaction.
 * lead_data: the input of the lead written beside it (NULL: none); an execution whose
 * input is that text stores no copy of it (listed with the lead's input). output: e's
 * output as db_json_arg made it, made before the group commit so that the leader does
 * not compress its followers' outputs while they wait (NULL: made here). */
int sa_sqlite_exec_insert(struct db_conn *c, const struct sa_exec_row *e, const char *lead_data,
                          const struct db_arg *output, const char *now, struct sa_err *err);
int sa_sqlite_list_executions(struct sa_store *s, const char *lead_id, int limit, json_t **out,
                              struct sa_err *err);

/* runs.c */
int sa_sqlite_run_create(struct sa_store *s, const char *id, const char *lead_id,
                         const char *thread_id, const char *input, struct sa_err *err);
int sa_sqlite_run_update(struct sa_store *s, const char *id, const char *status, const char *output,
                         const char *error, struct sa_err *err);
int sa_sqlite_run_get(struct sa_store *s, const char *id, json_t **out, struct sa_err *err);
int sa_sqlite_runs_unfinished(struct sa_store *s, json_t **out, struct sa_err *err);
int sa_sqlite_runs_list(struct sa_store *s, const char *status, int limit, int offset,
                        json_t **out, struct sa_err *err);
int sa_sqlite_run_claim(struct sa_store *s, const char *id, const char *owner, const char *over,
                        long long now, long long lease_until, bool *took_over,
                        char holder[SA_RUN_OWNER_MAX], struct sa_err *err);
int sa_sqlite_run_renew(struct sa_store *s, const char *id, const char *owner,
                        long long lease_until, struct sa_err *err);
int sa_sqlite_run_finish(struct sa_store *s, const char *id, const char *owner, const char *status,
                         const char *output, const char *error, struct sa_err *err);
int sa_sqlite_runs_stale(struct sa_store *s, long long now, long long grace, int limit,
                         json_t **out, struct sa_err *err);

/* approvals.c */
int sa_sqlite_approval_put(struct sa_store *s, const char *id, const char *thread_id,
                           const char *interrupt_id, const char *lead_id, const char *request,
                           char out_id[37], struct sa_err *err);
int sa_sqlite_approval_get(struct sa_store *s, const char *id, json_t **out, struct sa_err *err);
int sa_sqlite_approval_list(struct sa_store *s, const char *status, int limit, json_t **out,
                            struct sa_err *err);
int sa_sqlite_approval_decide(struct sa_store *s, const char *id, const char *status,
                              const char *response, const char *reviewer, const char *changes,
                              struct sa_err *err);
int sa_sqlite_approval_claim_resume(struct sa_store *s, const char *id, const char *owner,
                                    long long now, long long lease_until, struct sa_err *err);
int sa_sqlite_approval_supersede(struct sa_store *s, const char *thread_id, const char *by, int *n,
                                 struct sa_err *err);
int sa_sqlite_approval_unsupersede(struct sa_store *s, const char *thread_id, const char *by,
                                   int *n, struct sa_err *err);

/* outbox.c */
int sa_sqlite_outbox_add(struct sa_store *s, const struct sa_outbox_item *items, int n, int *added,
                         struct sa_err *err);
int sa_sqlite_execution_add(struct sa_store *s, const struct sa_exec_row *e, struct sa_err *err);
int sa_sqlite_lead_timeline(struct sa_store *s, const char *lead_id, int limit, json_t **out,
                            struct sa_err *err);
int sa_sqlite_outbox_kind_list(struct sa_store *s, const char *prefix, const char *lead_id,
                               int limit, json_t **out, struct sa_err *err);
int sa_sqlite_outbox_kind_counts(struct sa_store *s, const char *prefix, json_t **out,
                                 struct sa_err *err);
int sa_sqlite_outbox_list(struct sa_store *s, const char *status, const char *email, int limit,
                          json_t **out, struct sa_err *err);
int sa_sqlite_outbox_due(struct sa_store *s, long long now, int limit, json_t **out,
                         struct sa_err *err);
int sa_sqlite_outbox_claim(struct sa_store *s, const char *id, struct sa_err *err);
int sa_sqlite_outbox_claim_as(struct sa_store *s, const char *id, const char *token,
                              struct sa_err *err);
int sa_sqlite_outbox_mark_as(struct sa_store *s, const char *id, const char *token,
                             const char *status, const char *delivered_id, const char *error,
                             long long retry_at, struct sa_err *err);
int sa_sqlite_outbox_mark(struct sa_store *s, const char *id, const char *status,
                          const char *delivered_id, const char *error, long long retry_at,
                          struct sa_err *err);
int sa_sqlite_outbox_cancel(struct sa_store *s, const char *thread_id, const char *email,
                            const char *kind, const char *reason, int *n, struct sa_err *err);
int sa_sqlite_outbox_touches(struct sa_store *s, const char *email, long long since, long *n,
                             struct sa_err *err);

/* contacts.c */
int sa_sqlite_contact_dnc(struct sa_store *s, const char *email, const char *reason,
                          const char *source, struct sa_err *err);
int sa_sqlite_contact_get(struct sa_store *s, const char *email, json_t **out, struct sa_err *err);
int sa_sqlite_contact_lift(struct sa_store *s, const char *email, const char *consent_source,
                           const char *note, struct sa_err *err);
int sa_sqlite_contact_history(struct sa_store *s, const char *email, json_t **out,
                              struct sa_err *err);
int sa_sqlite_contact_list_dnc(struct sa_store *s, int limit, int offset, json_t **out,
                               long *total, struct sa_err *err);
int sa_sqlite_secret_get_or_put(struct sa_store *s, const char *name, const char *candidate,
                                char **out, struct sa_err *err);
int sa_sqlite_outbox_defer(struct sa_store *s, const char *id, long long due_at,
                           const char *reason, struct sa_err *err);
int sa_sqlite_outbox_sent_times(struct sa_store *s, enum sa_send_scope scope, const char *key,
                                long long since, json_t **out, struct sa_err *err);
int sa_sqlite_outbox_sequence(struct sa_store *s, const char *sequence_id, json_t **out,
                              struct sa_err *err);
int sa_sqlite_outbox_active_sequences(struct sa_store *s, const char *email, const char *except,
                                      long long since, json_t **out, struct sa_err *err);
int sa_sqlite_outbox_cancel_sequence(struct sa_store *s, const char *sequence_id,
                                     const char *reason, int *n, struct sa_err *err);
int sa_sqlite_outbox_requeue_expired(struct sa_store *s, long long now, long long lease_seconds,
                                     const char *reason, int *n, struct sa_err *err);

/* saver.c: the checkpoint saver (graph/saver.h) for location, a file path (the store's
 * file; its own table), or ":memory:" (the in-process memory saver, since an in-memory
 * database is private to its connection). */
int sa_sqlite_saver_open(const char *location, struct graph_saver **out, struct sa_err *err);

/* cache.c */
int sa_sqlite_cache_get(struct sa_store *s, const char *key, json_t **out, struct sa_err *err);
int sa_sqlite_cache_put(struct sa_store *s, const char *key, const char *provider,
                        const json_t *data, double ttl_seconds, struct sa_err *err);

/* keys.c */
int sa_sqlite_key_insert(struct sa_store *s, const struct sa_key_row *k, struct sa_err *err);
int sa_sqlite_key_get(struct sa_store *s, const char *id, json_t **out, struct sa_err *err);
int sa_sqlite_key_list(struct sa_store *s, json_t **out, struct sa_err *err);
int sa_sqlite_key_revoke(struct sa_store *s, const char *id, const char *at, json_t **out,
                         struct sa_err *err);
int sa_sqlite_key_touch(struct sa_store *s, const char *id, const char *at, struct sa_err *err);
int sa_sqlite_key_count(struct sa_store *s, long *n, struct sa_err *err);

/* audit.c (the times callers pass are checked with base/clock.h's sa_iso8601_canonical) */
int sa_sqlite_audit_append(struct sa_store *s, const struct sa_audit_row *a, struct sa_err *err);
int sa_sqlite_audit_list(struct sa_store *s, const struct sa_audit_query *q, json_t **out,
                         struct sa_err *err);

/* export.c */
int sa_sqlite_lead_export_page(struct sa_store *s, const struct sa_lead_query *q,
                               const json_t *after, int limit, json_t **out, struct sa_err *err);
int sa_sqlite_lead_export_fields(struct sa_store *s, const struct sa_lead_query *q, int limit,
                                 json_t **out, struct sa_err *err);

/* erase.c */
int sa_sqlite_lead_threads(struct sa_store *s, const char *lead_id, json_t **out,
                           struct sa_err *err);
int sa_sqlite_lead_erase(struct sa_store *s, const char *lead_id, const char *email,
                         const char *threads, json_t **out, struct sa_err *err);

/* inbound.c */
int sa_sqlite_outbox_by_message_id(struct sa_store *s, const char *message_id, json_t **out,
                                   struct sa_err *err);
int sa_sqlite_inbound_claim(struct sa_store *s, const struct sa_inbound_row *r, bool *inserted,
                            json_t **existing, struct sa_err *err);
int sa_sqlite_inbound_finish(struct sa_store *s, const char *message_id, const char *status,
                             const char *result, struct sa_err *err);

/* mailbox.c */
int sa_sqlite_mailbox_claim(struct sa_store *s, const char *mailbox, const char *owner,
                            long long now, long long lease_until, json_t **out, struct sa_err *err);
int sa_sqlite_mailbox_advance(struct sa_store *s, const char *mailbox, const char *owner,
                              long long uidvalidity, long long last_uid, long long lease_until,
                              struct sa_err *err);

/* meetings.c */
int sa_sqlite_meeting_hold(struct sa_store *s, const struct sa_meeting_row *m, long long now,
                           json_t **out, struct sa_err *err);
int sa_sqlite_meeting_move(struct sa_store *s, const char *id, long long start, long long end,
                           long long hold_until, long long now, json_t **out, struct sa_err *err);
int sa_sqlite_meeting_set_status(struct sa_store *s, const char *id, const char *status,
                                 const char *partstat, long long now, json_t **out,
                                 struct sa_err *err);
int sa_sqlite_meeting_get(struct sa_store *s, const char *id, long long now, json_t **out,
                          struct sa_err *err);
int sa_sqlite_meeting_list(struct sa_store *s, const struct sa_meeting_query *q, json_t **out,
                           struct sa_err *err);

/* retention.c */
int sa_sqlite_prune(struct sa_store *s, const struct sa_prune_query *q, json_t **counts,
                    struct sa_err *err);
int sa_sqlite_threads_finished(struct sa_store *s, double since, double before, const char *after,
                               int limit, json_t **out, struct sa_err *err);
/* db.c: PRAGMA wal_checkpoint(TRUNCATE) on the writer while no write of ours runs: the WAL
 * goes back to zero bytes. *done is false when another connection's reader or writer kept
 * it from finishing (not an error: the next call tries again), or for ":memory:". */
int db_wal_truncate(struct sa_store *s, bool *done, struct sa_err *err) SA_WUR;

/* console.c */
int sa_sqlite_lead_draft_pending(struct sa_store *s, const char *lead_id, json_t **out,
                                 struct sa_err *err);
int sa_sqlite_conversation_touch(struct sa_store *s, const struct sa_conversation_row *c,
                                 struct sa_err *err);
int sa_sqlite_conversation_list(struct sa_store *s, int limit, long long before, json_t **out,
                                struct sa_err *err);

/* asthreads.c */
int sa_sqlite_as_thread_put(struct sa_store *s, const char *thread_id, const char *metadata,
                            const char *at, bool *inserted, struct sa_err *err);
int sa_sqlite_as_thread_get(struct sa_store *s, const char *thread_id, json_t **out,
                            struct sa_err *err);
int sa_sqlite_as_thread_update(struct sa_store *s, const char *thread_id, const char *metadata,
                               bool keep_existing, const char *at, struct sa_err *err);
int sa_sqlite_as_thread_search(struct sa_store *s, const char *filter, int limit, int offset,
                               json_t **out, struct sa_err *err);
int sa_sqlite_as_thread_delete(struct sa_store *s, const char *thread_id, struct sa_err *err);
int sa_sqlite_as_threads_idle(struct sa_store *s, double before, const char *after, int limit,
                              json_t **out, struct sa_err *err);
int sa_sqlite_as_thread_delete_idle(struct sa_store *s, const char *thread_id, double before,
                                    bool *deleted, struct sa_err *err);

#endif
