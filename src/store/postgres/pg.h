/* Private to the PostgreSQL backend (src/store/postgres/): the helpers every aggregate file
 * uses to read and write through db.c's connection pool, and the ops each file implements,
 * assembled in db.c. It mirrors store/sqlite/db.h so an aggregate ports statement by
 * statement. Nothing outside this folder includes it.
 *
 * Statements are sent with PQsendQueryParams (the unnamed statement, parameters as text,
 * results as text): no session-level prepared statement exists, so the backend works
 * behind PgBouncer in transaction mode. Each statement has a client-side deadline
 * (PG_STATEMENT_TIMEOUT_MS): past it the query is cancelled and the call fails with
 * SA_ETIMEDOUT. A connection that breaks is dropped and reopened on next use, so the
 * service recovers when PostgreSQL returns, without a restart. */
#ifndef SA_STORE_POSTGRES_PG_H
#define SA_STORE_POSTGRES_PG_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "base/clock.h"
#include "store/store.h"

/* One SQL statement ($1, $2, ... placeholders; cast parameters in the text where the type
 * matters: $3::bigint, $4::jsonb), defined once with static storage by the file that owns
 * it: `static const struct pg_sql GET_LEAD = {"get lead", "SELECT ..."};`. what names it in
 * error messages (the SQL text never reaches one). */
struct pg_sql {
    const char *what;
    const char *text;
};

/* A statement argument, sent in order as $1, $2, ...: text (NULL sends NULL), an integer
 * or a double (both sent as their decimal text, untyped: PostgreSQL infers each
 * parameter's type from where it first appears, so cast where it cannot: `$1::text IS
 * NULL`). A statement MUST mention every parameter it is given: PostgreSQL refuses one it
 * cannot type (pass fewer arguments to a statement that needs fewer). */
struct pg_arg {
    const char *text;
    long long num;
    double real;
    enum { PG_ARG_TEXT, PG_ARG_INT, PG_ARG_REAL } type;
};
#define TXT(v) ((struct pg_arg){.text = (v)})
#define NUM(v) ((struct pg_arg){.num = (v), .type = PG_ARG_INT})
#define DBL(v) ((struct pg_arg){.real = (v), .type = PG_ARG_REAL})
#define DB_N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* One pooled connection, held by one caller at a time. */
struct pg_conn;
struct graph_saver;

/* Turns row `row` of a result into JSON (new reference, NULL when out of memory). */
typedef json_t *(*pg_row_fn)(const PGresult *res, int row);

/* Work run on one connection inside a transaction pg_transaction opened and commits.
 * now: the transaction's ISO 8601 timestamp ("2026-12-02T07:10:00.000Z", from the wall
 * clock, base/clock.h). Returns 0 or a negative SA_* code with err set. */
typedef int (*pg_write_fn)(struct pg_conn *c, void *arg, const char *now, struct sa_err *err);

/* ---- reading a row ------------------------------------------------------------------ */

/* Column col of row as a JSON string, or null. */
json_t *pg_col_text(const PGresult *res, int row, int col);
/* Column col as a JSON integer, or null. */
json_t *pg_col_int(const PGresult *res, int row, int col);
/* Column col (json/jsonb or JSON text) parsed, or null when NULL or unparsable. */
json_t *pg_col_json(const PGresult *res, int row, int col);
/* The default row shape, the same as SQLite's db_row_object: an object keyed by column
 * name; int2/int4/int8 and float4/float8/numeric columns as numbers, json/jsonb columns and
 * the text columns named input, output, data, request, response, changes or payload
 * parsed, the rest as strings or null. */
json_t *pg_row_object(const PGresult *res, int row);

/* ---- statements -------------------------------------------------------------------- */

/* Runs a read statement on a pooled connection: *out (new reference) is an array of its
 * rows, each shaped by row (NULL: pg_row_object). *out is NULL on error. */
int pg_query_rows(struct sa_store *s, const struct pg_sql *q, const struct pg_arg *a, int n,
                  pg_row_fn row, json_t **out, struct sa_err *err) SA_WUR;
/* pg_query_rows for one row: *out is the first row, or NULL when there is none. */
int pg_query_one(struct sa_store *s, const struct pg_sql *q, const struct pg_arg *a, int n,
                 pg_row_fn row, json_t **out, struct sa_err *err) SA_WUR;
/* The same two on a connection the caller holds (inside pg_transaction). */
int pg_conn_rows(struct pg_conn *c, const struct pg_sql *q, const struct pg_arg *a, int n,
                 pg_row_fn row, json_t **out, struct sa_err *err) SA_WUR;
int pg_conn_one(struct pg_conn *c, const struct pg_sql *q, const struct pg_arg *a, int n,
                pg_row_fn row, json_t **out, struct sa_err *err) SA_WUR;
/* Runs a write statement on c (inside pg_transaction); *changes (optional) gets the rows
 * it changed (PQcmdTuples). */
int pg_exec_locked(struct pg_conn *c, const struct pg_sql *q, const struct pg_arg *a, int n,
                   int *changes, struct sa_err *err) SA_WUR;
/* One write statement on its own (its own implicit transaction) on a pooled connection. */
int pg_exec_args(struct sa_store *s, const struct pg_sql *q, const struct pg_arg *a, int n,
                 int *changes, struct sa_err *err) SA_WUR;
/* A statement whose result the caller reads itself (*res, freed with PQclear): for rows
 * that are not JSON (counts, ids, blobs). On c when c is non-NULL, else on a pooled
 * connection. */
int pg_query_raw(struct sa_store *s, struct pg_conn *c, const struct pg_sql *q,
                 const struct pg_arg *a, int n, PGresult **res, struct sa_err *err) SA_WUR;

/* ---- transactions ------------------------------------------------------------------ */

/* Runs fn in one transaction (BEGIN ... COMMIT, READ COMMITTED) on a pooled connection
 * the caller holds alone for the call: fn's writes are committed together, or none is.
 * A serialization failure or deadlock (40001, 40P01) is retried a few times, so fn MUST
 * be safe to run again from the start (reset what it counts in arg). Unlike SQLite, a
 * failed statement aborts the whole transaction: fn MUST return on a statement's
 * failure, not go on (the COMMIT would answer ROLLBACK, and this returns SA_ESTORE). */
int pg_transaction(struct sa_store *s, pg_write_fn fn, void *arg, struct sa_err *err) SA_WUR;

/* ---- errors ------------------------------------------------------------------------- */

/* The libpq URL for location, what the registry passes after "postgresql://" (or
 * "postgres://"): "postgresql://" + location, malloc'd (the caller frees it), NULL when
 * out of memory. The store and the saver open their connections with it. */
char *pg_url(const char *location);

/* Maps a failed result (or a broken connection: res NULL) to an SA_* code with err set:
 * our triggers' SA409 -> SA_ECONFLICT with the trigger's own words; an integrity
 * violation (23xxx: unique, check, foreign key, not null) -> SA_ESTORE, as SQLite's are
 * (the contract suite expects it for a duplicate id; an op whose contract says "already
 * exists" checks with ON CONFLICT and says SA_ECONFLICT itself); a data exception (22xxx:
 * invalid JSON text for a jsonb column...) -> SA_EINVAL; query_canceled -> SA_ETIMEDOUT;
 * connection lost or refused (08xxx, 57P01-57P03) -> SA_ESTORE (answered 503 by the
 * HTTP layer) and c is closed when it goes back to the pool; anything else SA_ESTORE.
 * The message names what and the SQLSTATE, never PostgreSQL's text (that goes to the
 * log, masked). c->sqlstate keeps the SQLSTATE for pg_transaction's retry. */
int pg_fail(struct pg_conn *c, const PGresult *res, const char *what, struct sa_err *err);

/* ---- the ops, one file per aggregate (see store.h for each contract) ----------------- */

/* leads.c */
int sa_pg_save_invocation(struct sa_store *s, const struct sa_lead_row *lead,
                          const struct sa_exec_row *exec, struct sa_err *err);
int sa_pg_insert_lead_if_new(struct sa_store *s, const struct sa_lead_row *lead,
                             const struct sa_exec_row *exec, bool *inserted, struct sa_err *err);
int sa_pg_save_many(struct sa_store *s, const struct sa_lead_row *leads,
                    const struct sa_exec_row *execs, int n, struct sa_err *err);
int sa_pg_get_lead(struct sa_store *s, const char *id, json_t **out, struct sa_err *err);
int sa_pg_list_leads(struct sa_store *s, const struct sa_lead_query *q, json_t **out,
                     struct sa_err *err);
int sa_pg_lead_by_email(struct sa_store *s, const char *email, char id[37], json_t **data,
                        struct sa_err *err);
int sa_pg_leads_by_company(struct sa_store *s, const char *name, json_t **out, struct sa_err *err);
int sa_pg_leads_by_mailbox(struct sa_store *s, const char *email, int limit, int offset,
                           json_t **out, struct sa_err *err);
int sa_pg_lead_match(struct sa_store *s, const char *name, const char *domain,
                     const char *contact_name, char id[37], json_t **data, struct sa_err *err);
int sa_pg_company_get(struct sa_store *s, const char *domain, json_t **out, struct sa_err *err);

/* executions.c; sa_pg_exec_insert writes one inside the caller's transaction */
int sa_pg_exec_insert(struct pg_conn *c, const struct sa_exec_row *e, const char *now,
                      struct sa_err *err);
int sa_pg_list_executions(struct sa_store *s, const char *lead_id, int limit, json_t **out,
                          struct sa_err *err);

/* runs.c */
int sa_pg_run_create(struct sa_store *s, const char *id, const char *lead_id,
                     const char *thread_id, const char *input, struct sa_err *err);
int sa_pg_run_update(struct sa_store *s, const char *id, const char *status, const char *output,
                     const char *error, struct sa_err *err);
int sa_pg_run_get(struct sa_store *s, const char *id, json_t **out, struct sa_err *err);
int sa_pg_runs_unfinished(struct sa_store *s, json_t **out, struct sa_err *err);
int sa_pg_runs_list(struct sa_store *s, const char *status, int limit, int offset, json_t **out,
                    struct sa_err *err);
int sa_pg_run_claim(struct sa_store *s, const char *id, const char *owner, const char *over,
                    long long now, long long lease_until, bool *took_over,
                    char holder[SA_RUN_OWNER_MAX], struct sa_err *err);
int sa_pg_run_renew(struct sa_store *s, const char *id, const char *owner, long long lease_until,
                    struct sa_err *err);
int sa_pg_run_finish(struct sa_store *s, const char *id, const char *owner, const char *status,
                     const char *output, const char *error, struct sa_err *err);
int sa_pg_runs_stale(struct sa_store *s, long long now, long long grace, int limit, json_t **out,
                     struct sa_err *err);

/* approvals.c */
int sa_pg_approval_put(struct sa_store *s, const char *id, const char *thread_id,
                       const char *interrupt_id, const char *lead_id, const char *request,
                       char out_id[37], struct sa_err *err);
int sa_pg_approval_get(struct sa_store *s, const char *id, json_t **out, struct sa_err *err);
int sa_pg_approval_list(struct sa_store *s, const char *status, int limit, json_t **out,
                        struct sa_err *err);
int sa_pg_approval_decide(struct sa_store *s, const char *id, const char *status,
                          const char *response, const char *reviewer, const char *changes,
                          struct sa_err *err);
int sa_pg_approval_claim_resume(struct sa_store *s, const char *id, const char *owner,
                                long long now, long long lease_until, struct sa_err *err);
int sa_pg_approval_supersede(struct sa_store *s, const char *thread_id, const char *by, int *n,
                             struct sa_err *err);
int sa_pg_approval_unsupersede(struct sa_store *s, const char *thread_id, const char *by, int *n,
                               struct sa_err *err);

/* outbox.c */
int sa_pg_outbox_add(struct sa_store *s, const struct sa_outbox_item *items, int n, int *added,
                     struct sa_err *err);
int sa_pg_execution_add(struct sa_store *s, const struct sa_exec_row *e, struct sa_err *err);
int sa_pg_outbox_kind_list(struct sa_store *s, const char *prefix, const char *lead_id, int limit,
                           json_t **out, struct sa_err *err);
int sa_pg_outbox_kind_counts(struct sa_store *s, const char *prefix, json_t **out,
                             struct sa_err *err);
int sa_pg_outbox_list(struct sa_store *s, const char *status, const char *email, int limit,
                      json_t **out, struct sa_err *err);
int sa_pg_outbox_due(struct sa_store *s, long long now, int limit, json_t **out,
                     struct sa_err *err);
int sa_pg_outbox_claim(struct sa_store *s, const char *id, struct sa_err *err);
int sa_pg_outbox_mark(struct sa_store *s, const char *id, const char *status,
                      const char *delivered_id, const char *error, long long retry_at,
                      struct sa_err *err);
int sa_pg_outbox_cancel(struct sa_store *s, const char *thread_id, const char *email,
                        const char *kind, const char *reason, int *n, struct sa_err *err);
int sa_pg_outbox_touches(struct sa_store *s, const char *email, long long since, long *n,
                         struct sa_err *err);
int sa_pg_outbox_defer(struct sa_store *s, const char *id, long long due_at, const char *reason,
                       struct sa_err *err);
int sa_pg_outbox_sent_times(struct sa_store *s, enum sa_send_scope scope, const char *key,
                            long long since, json_t **out, struct sa_err *err);
int sa_pg_outbox_sequence(struct sa_store *s, const char *sequence_id, json_t **out,
                          struct sa_err *err);
int sa_pg_outbox_active_sequences(struct sa_store *s, const char *email, const char *except,
                                  long long since, json_t **out, struct sa_err *err);
int sa_pg_outbox_cancel_sequence(struct sa_store *s, const char *sequence_id, const char *reason,
                                 int *n, struct sa_err *err);
int sa_pg_outbox_requeue_expired(struct sa_store *s, long long now, long long lease_seconds,
                                 const char *reason, int *n, struct sa_err *err);
int sa_pg_outbox_claim_as(struct sa_store *s, const char *id, const char *token,
                          struct sa_err *err);
int sa_pg_outbox_mark_as(struct sa_store *s, const char *id, const char *token, const char *status,
                         const char *delivered_id, const char *error, long long retry_at,
                         struct sa_err *err);
/* inbound.c */
int sa_pg_outbox_by_message_id(struct sa_store *s, const char *message_id, json_t **out,
                               struct sa_err *err);
int sa_pg_inbound_claim(struct sa_store *s, const struct sa_inbound_row *r, bool *inserted,
                        json_t **existing, struct sa_err *err);
int sa_pg_inbound_finish(struct sa_store *s, const char *message_id, const char *status,
                         const char *result, struct sa_err *err);

/* mailbox.c */
int sa_pg_mailbox_claim(struct sa_store *s, const char *mailbox, const char *owner, long long now,
                        long long lease_until, json_t **out, struct sa_err *err);
int sa_pg_mailbox_advance(struct sa_store *s, const char *mailbox, const char *owner,
                          long long uidvalidity, long long last_uid, long long lease_until,
                          struct sa_err *err);

/* timeline.c */
int sa_pg_lead_timeline(struct sa_store *s, const char *lead_id, int limit, json_t **out,
                        struct sa_err *err);

/* contacts.c */
int sa_pg_contact_dnc(struct sa_store *s, const char *email, const char *reason,
                      const char *source, struct sa_err *err);
int sa_pg_contact_get(struct sa_store *s, const char *email, json_t **out, struct sa_err *err);
int sa_pg_contact_lift(struct sa_store *s, const char *email, const char *consent_source,
                       const char *note, struct sa_err *err);
int sa_pg_contact_history(struct sa_store *s, const char *email, json_t **out,
                          struct sa_err *err);
int sa_pg_contact_list_dnc(struct sa_store *s, int limit, int offset, json_t **out, long *total,
                           struct sa_err *err);
int sa_pg_secret_get_or_put(struct sa_store *s, const char *name, const char *candidate,
                            char **out, struct sa_err *err);

/* saver.c: the checkpoint saver (graph/saver.h) in the database at location (the store's
 * URL without its scheme), its own table and its own small pool. */
int sa_pg_saver_open(const char *location, struct graph_saver **out, struct sa_err *err);

/* cache.c */
int sa_pg_cache_get(struct sa_store *s, const char *key, json_t **out, struct sa_err *err);
int sa_pg_cache_put(struct sa_store *s, const char *key, const char *provider,
                    const json_t *data, double ttl_seconds, struct sa_err *err);

/* keys.c */
int sa_pg_key_insert(struct sa_store *s, const struct sa_key_row *k, struct sa_err *err);
int sa_pg_key_get(struct sa_store *s, const char *id, json_t **out, struct sa_err *err);
int sa_pg_key_list(struct sa_store *s, json_t **out, struct sa_err *err);
int sa_pg_key_revoke(struct sa_store *s, const char *id, const char *at, json_t **out,
                     struct sa_err *err);
int sa_pg_key_touch(struct sa_store *s, const char *id, const char *at, struct sa_err *err);
int sa_pg_key_count(struct sa_store *s, long *n, struct sa_err *err);

/* audit.c (the times callers pass are checked with base/clock.h's sa_iso8601_canonical) */
int sa_pg_audit_append(struct sa_store *s, const struct sa_audit_row *a, struct sa_err *err);
int sa_pg_audit_list(struct sa_store *s, const struct sa_audit_query *q, json_t **out,
                     struct sa_err *err);

/* retention.c */
int sa_pg_prune(struct sa_store *s, const struct sa_prune_query *q, json_t **counts,
                struct sa_err *err);
int sa_pg_threads_finished(struct sa_store *s, double since, double before, const char *after,
                           int limit, json_t **out, struct sa_err *err);

/* export.c */
int sa_pg_lead_export_page(struct sa_store *s, const struct sa_lead_query *q, const json_t *after,
                           int limit, json_t **out, struct sa_err *err);
int sa_pg_lead_export_fields(struct sa_store *s, const struct sa_lead_query *q, int limit,
                             json_t **out, struct sa_err *err);

/* erase.c */
int sa_pg_lead_threads(struct sa_store *s, const char *lead_id, json_t **out, struct sa_err *err);
int sa_pg_lead_erase(struct sa_store *s, const char *lead_id, const char *email,
                     const char *threads, json_t **out, struct sa_err *err);

/* meetings.c */
int sa_pg_meeting_hold(struct sa_store *s, const struct sa_meeting_row *m, long long now,
                       json_t **out, struct sa_err *err);
int sa_pg_meeting_move(struct sa_store *s, const char *id, long long start, long long end,
                       long long hold_until, long long now, json_t **out, struct sa_err *err);
int sa_pg_meeting_set_status(struct sa_store *s, const char *id, const char *status,
                             const char *partstat, long long now, json_t **out,
                             struct sa_err *err);
int sa_pg_meeting_get(struct sa_store *s, const char *id, long long now, json_t **out,
                      struct sa_err *err);
int sa_pg_meeting_list(struct sa_store *s, const struct sa_meeting_query *q, json_t **out,
                       struct sa_err *err);

/* console.c */
int sa_pg_lead_draft_pending(struct sa_store *s, const char *lead_id, json_t **out,
                             struct sa_err *err);
int sa_pg_conversation_touch(struct sa_store *s, const struct sa_conversation_row *c,
                             struct sa_err *err);
int sa_pg_conversation_list(struct sa_store *s, int limit, long long before, json_t **out,
                            struct sa_err *err);

/* asthreads.c */
int sa_pg_as_thread_put(struct sa_store *s, const char *thread_id, const char *metadata,
                        const char *at, bool *inserted, struct sa_err *err);
int sa_pg_as_thread_get(struct sa_store *s, const char *thread_id, json_t **out,
                        struct sa_err *err);
int sa_pg_as_thread_update(struct sa_store *s, const char *thread_id, const char *metadata,
                           bool keep_existing, const char *at, struct sa_err *err);
int sa_pg_as_thread_search(struct sa_store *s, const char *filter, int limit, int offset,
                           json_t **out, struct sa_err *err);
int sa_pg_as_thread_delete(struct sa_store *s, const char *thread_id, struct sa_err *err);
int sa_pg_as_threads_idle(struct sa_store *s, double before, const char *after, int limit,
                          json_t **out, struct sa_err *err);
int sa_pg_as_thread_delete_idle(struct sa_store *s, const char *thread_id, double before,
                                bool *deleted, struct sa_err *err);

#endif
