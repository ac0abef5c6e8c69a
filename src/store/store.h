/* The storage interface: leads, agent executions (and, later, runs, approvals, the
 * outbox) behind an ops vtable, so SQLite (store/sqlite.c) and PostgreSQL (later) plug
 * in the same way. A store is chosen once at start-up from DATABASE_URL and shared by all
 * request threads: every op is thread-safe. Records cross this interface as JSON objects
 * (jansson), the shape the API serves. */
#ifndef SA_STORE_STORE_H
#define SA_STORE_STORE_H

#include <jansson.h>
#include <stdbool.h>

#include "base/err.h"

struct sa_store;

/* A lead as written by an invocation. Strings are borrowed for the call. */
struct sa_lead_row {
    const char *id;           /* UUID */
    const char *company_name; /* required */
    const char *industry, *company_size, *website, *country;
    long employees_min, employees_max; /* < 0: unknown */
    double annual_revenue;             /* < 0: unknown */
    const char *contact_name, *contact_title, *contact_email, *contact_phone, *linkedin_url;
    const char *data; /* the whole input as JSON text */
    int score;        /* < 0: not qualified by this write */
    const char *tier, *reasoning;
};

/* One agent execution. Strings are borrowed for the call. */
struct sa_exec_row {
    const char *id; /* UUID */
    const char *lead_id;
    const char *agent_type;
    const char *thread_id;
    bool success;
    const char *input;  /* JSON text */
    const char *output; /* JSON text, or NULL on error */
    const char *error_message;
    double processing_time_ms;
};

struct sa_lead_query {
    int limit;          /* 1..500 */
    int offset;         /* >= 0 */
    const char *tier;   /* NULL or "A".."D" */
    int min_score;      /* -1: any */
    const char *search; /* NULL or a case-insensitive substring of company or contact */
};

/* One outbox item (all text borrowed). payload is JSON text. */
struct sa_outbox_item {
    const char *id, *idempotency_key, *kind, *thread_id, *lead_id, *to_email, *payload;
    long long due_at; /* unix seconds */
};

/* The ops every backend implements. All are required unless marked optional. Each
 * returns 0 or a negative SA_* code with err set (message safe to show to a client
 * only for SA_ENOTFOUND / SA_ECONFLICT; others are logged and answered as 5xx). */
struct sa_store_ops {
    const char *scheme; /* URL scheme: "sqlite" */
    /* Opens the store at url (after "scheme://"); pool_size connections for concurrency. */
    int (*open)(const char *url, int pool_size, struct sa_store **out, struct sa_err *err);
    void (*close)(struct sa_store *s);
    /* Applies pending migrations; each in its own transaction. */
    int (*migrate)(struct sa_store *s, struct sa_err *err);
    /* A cheap round trip proving the store answers; detail gets a short status text. */
    int (*health)(struct sa_store *s, char *detail, size_t cap, struct sa_err *err);
    /* Upserts the lead (insert, or update every column of an existing id keeping
     * created_at) and inserts the execution, in one transaction: both or neither. */
    int (*save_invocation)(struct sa_store *s, const struct sa_lead_row *lead,
                           const struct sa_exec_row *exec, struct sa_err *err);
    /* Inserts the lead only if its id is new; *inserted says which. */
    int (*insert_lead_if_new)(struct sa_store *s, const struct sa_lead_row *lead,
                              const struct sa_exec_row *exec, bool *inserted, struct sa_err *err);
    /* The lead as a JSON object (new reference), or SA_ENOTFOUND. */
    int (*get_lead)(struct sa_store *s, const char *id, json_t **out, struct sa_err *err);
    /* {"items": [...], "total": N} for the query (new reference). */
    int (*list_leads)(struct sa_store *s, const struct sa_lead_query *q, json_t **out,
                      struct sa_err *err);
    /* The lead's executions, newest first, at most limit (new reference, an array). */
    int (*list_executions)(struct sa_store *s, const char *lead_id, int limit, json_t **out,
                           struct sa_err *err);
    /* Writes n leads with their executions in one transaction: all or nothing. */
    int (*save_many)(struct sa_store *s, const struct sa_lead_row *leads,
                     const struct sa_exec_row *execs, int n, struct sa_err *err);
    /* The id of a stored lead that is the same as this one: the same contact e-mail (any
     * case), else the same company name (any case) whose website or e-mail has domain.
     * Any argument may be NULL. SA_ENOTFOUND when there is none. */
    int (*find_lead)(struct sa_store *s, const char *email, const char *company_name,
                     const char *domain, char id[37], struct sa_err *err);
    /* Runs: create one (status queued), set its status (and output JSON text or error,
     * both optional), read one as JSON, and list the ids of those still queued or
     * running (oldest first, a JSON array of {id, lead_id, thread_id, input}). */
    int (*run_create)(struct sa_store *s, const char *id, const char *lead_id,
                      const char *thread_id, const char *input, struct sa_err *err);
    int (*run_update)(struct sa_store *s, const char *id, const char *status, const char *output,
                      const char *error, struct sa_err *err);
    int (*run_get)(struct sa_store *s, const char *id, json_t **out, struct sa_err *err);
    int (*runs_unfinished)(struct sa_store *s, json_t **out, struct sa_err *err);
    /* Marks a contact do-not-contact (reason and source: free text, e.g. "unsubscribe",
     * "conversation"); idempotent. */
    int (*contact_dnc)(struct sa_store *s, const char *email, const char *reason,
                       const char *source, struct sa_err *err);
    /* {email, do_not_contact, reason, source, updated_at} or SA_ENOTFOUND. */
    int (*contact_get)(struct sa_store *s, const char *email, json_t **out, struct sa_err *err);
    /* Approvals (the BDR workflow): one per interrupt of a thread. approval_put inserts
     * it (status pending) unless (thread_id, interrupt_id) has one, and gives its id
     * either way. approval_get/list answer {id, thread_id, interrupt_id, lead_id, status,
     * request, response, reviewer, changes, created_at, decided_at}; list: newest first,
     * status NULL for all. approval_decide records the answer only while pending:
     * SA_ENOTFOUND, or SA_ECONFLICT when already decided. JSON arguments are text. */
    int (*approval_put)(struct sa_store *s, const char *id, const char *thread_id,
                        const char *interrupt_id, const char *lead_id, const char *request,
                        char out_id[37], struct sa_err *err);
    int (*approval_get)(struct sa_store *s, const char *id, json_t **out, struct sa_err *err);
    int (*approval_list)(struct sa_store *s, const char *status, int limit, json_t **out,
                         struct sa_err *err);
    int (*approval_decide)(struct sa_store *s, const char *id, const char *status,
                           const char *response, const char *reviewer, const char *changes,
                           struct sa_err *err);
    /* The outbox: outbox_add inserts the items in one transaction, skipping those whose
     * idempotency key is stored already (*added: how many were new). outbox_list: newest
     * first, filtered by status and/or e-mail (NULL: any). outbox_due: queued items due
     * at or before now (unix seconds), oldest first. outbox_mark sets an item's status
     * (sending, sent, failed, queued again for a retry) and counts an attempt for sent
     * and failed. outbox_cancel cancels the queued items of kind for a thread and/or an
     * e-mail (NULL: any; e.g. the follow-ups once the contact replies), noting reason.
     * outbox_touches counts the e-mails to a contact queued or sent since a time (frequency caps).
     */
    int (*outbox_add)(struct sa_store *s, const struct sa_outbox_item *items, int n, int *added,
                      struct sa_err *err);
    int (*outbox_list)(struct sa_store *s, const char *status, const char *email, int limit,
                       json_t **out, struct sa_err *err);
    int (*outbox_due)(struct sa_store *s, long long now, int limit, json_t **out,
                      struct sa_err *err);
    int (*outbox_mark)(struct sa_store *s, const char *id, const char *status,
                       const char *delivered_id, const char *error, long long retry_at,
                       struct sa_err *err);
    int (*outbox_cancel)(struct sa_store *s, const char *thread_id, const char *email,
                         const char *kind, const char *reason, int *n, struct sa_err *err);
    int (*outbox_touches)(struct sa_store *s, const char *email, long long since, long *n,
                          struct sa_err *err);
    /* The cached enrichment for key if it has not expired (new reference), or
     * SA_ENOTFOUND. */
    int (*cache_get)(struct sa_store *s, const char *key, json_t **out, struct sa_err *err);
    /* Stores data (borrowed) under key for ttl_seconds, replacing what was there. */
    int (*cache_put)(struct sa_store *s, const char *key, const char *provider, const json_t *data,
                     double ttl_seconds, struct sa_err *err);
    /* Counts rows of a table ("leads", "agent_executions"): for tests and health. */
    int (*count)(struct sa_store *s, const char *table, long *out, struct sa_err *err);
};

struct sa_store {
    const struct sa_store_ops *ops; /* backends embed this struct first */
};

extern const struct sa_store_ops sa_store_sqlite;

/* Opens the store named by a DATABASE_URL ("sqlite://path", "sqlite::memory:"), picking
 * the backend by scheme. Returns 0 and *out, or SA_ECONFIG for an unknown scheme. */
int sa_store_open(const char *url, int pool_size, struct sa_store **out, struct sa_err *err) SA_WUR;

/* The backend's URL scheme ("sqlite"), for logs and /health. */
static inline const char *sa_store_scheme(const struct sa_store *s)
{
    return s->ops->scheme;
}
static inline void sa_store_close(struct sa_store *s)
{
    if (s)
        s->ops->close(s);
}
static inline int sa_store_migrate(struct sa_store *s, struct sa_err *err)
{
    return s->ops->migrate(s, err);
}
static inline int sa_store_health(struct sa_store *s, char *detail, size_t cap, struct sa_err *err)
{
    return s->ops->health(s, detail, cap, err);
}
static inline int sa_store_save_invocation(struct sa_store *s, const struct sa_lead_row *l,
                                           const struct sa_exec_row *e, struct sa_err *err)
{
    return s->ops->save_invocation(s, l, e, err);
}
static inline int sa_store_insert_lead_if_new(struct sa_store *s, const struct sa_lead_row *l,
                                              const struct sa_exec_row *e, bool *inserted,
                                              struct sa_err *err)
{
    return s->ops->insert_lead_if_new(s, l, e, inserted, err);
}
static inline int sa_store_get_lead(struct sa_store *s, const char *id, json_t **out,
                                    struct sa_err *err)
{
    return s->ops->get_lead(s, id, out, err);
}
static inline int sa_store_list_leads(struct sa_store *s, const struct sa_lead_query *q,
                                      json_t **out, struct sa_err *err)
{
    return s->ops->list_leads(s, q, out, err);
}
static inline int sa_store_list_executions(struct sa_store *s, const char *lead_id, int limit,
                                           json_t **out, struct sa_err *err)
{
    return s->ops->list_executions(s, lead_id, limit, out, err);
}
static inline int sa_store_save_many(struct sa_store *s, const struct sa_lead_row *l,
                                     const struct sa_exec_row *e, int n, struct sa_err *err)
{
    return s->ops->save_many(s, l, e, n, err);
}
static inline int sa_store_find_lead(struct sa_store *s, const char *email, const char *name,
                                     const char *domain, char id[37], struct sa_err *err)
{
    return s->ops->find_lead(s, email, name, domain, id, err);
}
static inline int sa_store_run_create(struct sa_store *s, const char *id, const char *lead_id,
                                      const char *thread_id, const char *input, struct sa_err *err)
{
    return s->ops->run_create(s, id, lead_id, thread_id, input, err);
}
static inline int sa_store_run_update(struct sa_store *s, const char *id, const char *status,
                                      const char *output, const char *error, struct sa_err *err)
{
    return s->ops->run_update(s, id, status, output, error, err);
}
static inline int sa_store_run_get(struct sa_store *s, const char *id, json_t **out,
                                   struct sa_err *err)
{
    return s->ops->run_get(s, id, out, err);
}
static inline int sa_store_runs_unfinished(struct sa_store *s, json_t **out, struct sa_err *err)
{
    return s->ops->runs_unfinished(s, out, err);
}
static inline int sa_store_approval_put(struct sa_store *s, const char *id, const char *thread_id,
                                        const char *interrupt_id, const char *lead_id,
                                        const char *request, char out_id[37], struct sa_err *err)
{
    return s->ops->approval_put(s, id, thread_id, interrupt_id, lead_id, request, out_id, err);
}
static inline int sa_store_approval_get(struct sa_store *s, const char *id, json_t **out,
                                        struct sa_err *err)
{
    return s->ops->approval_get(s, id, out, err);
}
static inline int sa_store_approval_list(struct sa_store *s, const char *status, int limit,
                                         json_t **out, struct sa_err *err)
{
    return s->ops->approval_list(s, status, limit, out, err);
}
static inline int sa_store_approval_decide(struct sa_store *s, const char *id, const char *status,
                                           const char *response, const char *reviewer,
                                           const char *changes, struct sa_err *err)
{
    return s->ops->approval_decide(s, id, status, response, reviewer, changes, err);
}
static inline int sa_store_outbox_add(struct sa_store *s, const struct sa_outbox_item *items, int n,
                                      int *added, struct sa_err *err)
{
    return s->ops->outbox_add(s, items, n, added, err);
}
static inline int sa_store_outbox_list(struct sa_store *s, const char *status, const char *email,
                                       int limit, json_t **out, struct sa_err *err)
{
    return s->ops->outbox_list(s, status, email, limit, out, err);
}
static inline int sa_store_outbox_due(struct sa_store *s, long long now, int limit, json_t **out,
                                      struct sa_err *err)
{
    return s->ops->outbox_due(s, now, limit, out, err);
}
static inline int sa_store_outbox_mark(struct sa_store *s, const char *id, const char *status,
                                       const char *delivered_id, const char *error,
                                       long long retry_at, struct sa_err *err)
{
    return s->ops->outbox_mark(s, id, status, delivered_id, error, retry_at, err);
}
static inline int sa_store_outbox_cancel(struct sa_store *s, const char *thread_id,
                                         const char *email, const char *kind, const char *reason,
                                         int *n, struct sa_err *err)
{
    return s->ops->outbox_cancel(s, thread_id, email, kind, reason, n, err);
}
static inline int sa_store_outbox_touches(struct sa_store *s, const char *email, long long since,
                                          long *n, struct sa_err *err)
{
    return s->ops->outbox_touches(s, email, since, n, err);
}
static inline int sa_store_contact_dnc(struct sa_store *s, const char *email, const char *reason,
                                       const char *source, struct sa_err *err)
{
    return s->ops->contact_dnc(s, email, reason, source, err);
}
static inline int sa_store_contact_get(struct sa_store *s, const char *email, json_t **out,
                                       struct sa_err *err)
{
    return s->ops->contact_get(s, email, out, err);
}
static inline int sa_store_cache_get(struct sa_store *s, const char *key, json_t **out,
                                     struct sa_err *err)
{
    return s->ops->cache_get(s, key, out, err);
}
static inline int sa_store_cache_put(struct sa_store *s, const char *key, const char *provider,
                                     const json_t *data, double ttl_seconds, struct sa_err *err)
{
    return s->ops->cache_put(s, key, provider, data, ttl_seconds, err);
}
static inline int sa_store_count(struct sa_store *s, const char *table, long *out,
                                 struct sa_err *err)
{
    return s->ops->count(s, table, out, err);
}

#endif
