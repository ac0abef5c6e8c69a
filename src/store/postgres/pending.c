/* TEMPORARY: SA_ENOTIMPL stand-ins for the PostgreSQL ops another branch (pg2) writes in
 * approvals.c, outbox.c, timeline.c, contacts.c, cache.c, keys.c, audit.c, meetings.c and
 * saver.c, so this branch links meanwhile. Each is deleted as its real file lands; the
 * file goes when the last one does. Not edited otherwise. */
#include "store/postgres/pg.h"

#pragma GCC diagnostic ignored "-Wunused-parameter"

static int pending(struct sa_err *err)
{
    return sa_err_set(err, SA_ENOTIMPL, "postgresql: not implemented yet");
}

/* approvals.c */

int sa_pg_approval_put(struct sa_store *s, const char *id, const char *thread_id,
                       const char *interrupt_id, const char *lead_id, const char *request,
                       char out_id[37], struct sa_err *err)
{
    return pending(err);
}

int sa_pg_approval_get(struct sa_store *s, const char *id, json_t **out, struct sa_err *err)
{
    return pending(err);
}

int sa_pg_approval_list(struct sa_store *s, const char *status, int limit, json_t **out,
                        struct sa_err *err)
{
    return pending(err);
}

int sa_pg_approval_decide(struct sa_store *s, const char *id, const char *status,
                          const char *response, const char *reviewer, const char *changes,
                          struct sa_err *err)
{
    return pending(err);
}

/* outbox.c */

int sa_pg_outbox_add(struct sa_store *s, const struct sa_outbox_item *items, int n, int *added,
                     struct sa_err *err)
{
    return pending(err);
}

int sa_pg_execution_add(struct sa_store *s, const struct sa_exec_row *e, struct sa_err *err)
{
    return pending(err);
}

int sa_pg_outbox_list(struct sa_store *s, const char *status, const char *email, int limit,
                      json_t **out, struct sa_err *err)
{
    return pending(err);
}

int sa_pg_outbox_due(struct sa_store *s, long long now, int limit, json_t **out, struct sa_err *err)
{
    return pending(err);
}

int sa_pg_outbox_claim(struct sa_store *s, const char *id, struct sa_err *err)
{
    return pending(err);
}

int sa_pg_outbox_mark(struct sa_store *s, const char *id, const char *status,
                      const char *delivered_id, const char *error, long long retry_at,
                      struct sa_err *err)
{
    return pending(err);
}

int sa_pg_outbox_cancel(struct sa_store *s, const char *thread_id, const char *email,
                        const char *kind, const char *reason, int *n, struct sa_err *err)
{
    return pending(err);
}

int sa_pg_outbox_touches(struct sa_store *s, const char *email, long long since, long *n,
                         struct sa_err *err)
{
    return pending(err);
}

int sa_pg_outbox_defer(struct sa_store *s, const char *id, long long due_at, const char *reason,
                       struct sa_err *err)
{
    return pending(err);
}

int sa_pg_outbox_sent_times(struct sa_store *s, enum sa_send_scope scope, const char *key,
                            long long since, json_t **out, struct sa_err *err)
{
    return pending(err);
}

int sa_pg_outbox_sequence(struct sa_store *s, const char *sequence_id, json_t **out,
                          struct sa_err *err)
{
    return pending(err);
}

int sa_pg_outbox_active_sequences(struct sa_store *s, const char *email, const char *except,
                                  long long since, json_t **out, struct sa_err *err)
{
    return pending(err);
}

int sa_pg_outbox_cancel_sequence(struct sa_store *s, const char *sequence_id, const char *reason,
                                 int *n, struct sa_err *err)
{
    return pending(err);
}

/* timeline.c */

int sa_pg_lead_timeline(struct sa_store *s, const char *lead_id, int limit, json_t **out,
                        struct sa_err *err)
{
    return pending(err);
}

/* contacts.c */

int sa_pg_contact_dnc(struct sa_store *s, const char *email, const char *reason, const char *source,
                      struct sa_err *err)
{
    return pending(err);
}

int sa_pg_contact_get(struct sa_store *s, const char *email, json_t **out, struct sa_err *err)
{
    return pending(err);
}

int sa_pg_contact_lift(struct sa_store *s, const char *email, const char *consent_source,
                       const char *note, struct sa_err *err)
{
    return pending(err);
}

int sa_pg_contact_history(struct sa_store *s, const char *email, json_t **out, struct sa_err *err)
{
    return pending(err);
}

int sa_pg_contact_list_dnc(struct sa_store *s, int limit, int offset, json_t **out, long *total,
                           struct sa_err *err)
{
    return pending(err);
}

int sa_pg_secret_get_or_put(struct sa_store *s, const char *name, const char *candidate, char **out,
                            struct sa_err *err)
{
    return pending(err);
}

/* saver.c */

int sa_pg_saver_open(const char *location, struct graph_saver **out, struct sa_err *err)
{
    return pending(err);
}

/* cache.c */

int sa_pg_cache_get(struct sa_store *s, const char *key, json_t **out, struct sa_err *err)
{
    return pending(err);
}

int sa_pg_cache_put(struct sa_store *s, const char *key, const char *provider, const json_t *data,
                    double ttl_seconds, struct sa_err *err)
{
    return pending(err);
}

/* keys.c */

int sa_pg_key_insert(struct sa_store *s, const struct sa_key_row *k, struct sa_err *err)
{
    return pending(err);
}

int sa_pg_key_get(struct sa_store *s, const char *id, json_t **out, struct sa_err *err)
{
    return pending(err);
}

int sa_pg_key_list(struct sa_store *s, json_t **out, struct sa_err *err)
{
    return pending(err);
}

int sa_pg_key_revoke(struct sa_store *s, const char *id, const char *at, json_t **out,
                     struct sa_err *err)
{
    return pending(err);
}

int sa_pg_key_touch(struct sa_store *s, const char *id, const char *at, struct sa_err *err)
{
    return pending(err);
}

int sa_pg_key_count(struct sa_store *s, long *n, struct sa_err *err)
{
    return pending(err);
}

/* audit.c */

int pg_time(const char *in, const char *what, char out[SA_ISO8601_LEN], struct sa_err *err)
{
    out[0] = '\0';
    return pending(err);
}

int sa_pg_audit_append(struct sa_store *s, const struct sa_audit_row *a, struct sa_err *err)
{
    return pending(err);
}

int sa_pg_audit_list(struct sa_store *s, const struct sa_audit_query *q, json_t **out,
                     struct sa_err *err)
{
    return pending(err);
}

/* meetings.c */

int sa_pg_meeting_hold(struct sa_store *s, const struct sa_meeting_row *m, long long now,
                       json_t **out, struct sa_err *err)
{
    return pending(err);
}

int sa_pg_meeting_move(struct sa_store *s, const char *id, long long start, long long end,
                       long long hold_until, long long now, json_t **out, struct sa_err *err)
{
    return pending(err);
}

int sa_pg_meeting_set_status(struct sa_store *s, const char *id, const char *status,
                             const char *partstat, long long now, json_t **out, struct sa_err *err)
{
    return pending(err);
}

int sa_pg_meeting_get(struct sa_store *s, const char *id, long long now, json_t **out,
                      struct sa_err *err)
{
    return pending(err);
}

int sa_pg_meeting_list(struct sa_store *s, const struct sa_meeting_query *q, json_t **out,
                       struct sa_err *err)
{
    return pending(err);
}
