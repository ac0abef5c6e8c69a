/* The storage interface: leads, agent executions, pipeline runs, approvals, the outbox,
 * contacts, the enrichment cache, API keys and the audit log, behind an ops vtable, so SQLite
 * (store/sqlite/) and PostgreSQL (later, store/postgres/) plug in the same way. A store is chosen
 * once at start-up from DATABASE_URL by the registry in store.c and shared by all request threads:
 * every op is thread-safe. The interface speaks the domain: records cross it as JSON objects
 * (jansson) in the shape the API serves, and no SQL text, table or column name does. Every backend
 * passes the contract suite in tests/store/. */
#ifndef SA_STORE_STORE_H
#define SA_STORE_STORE_H

#include <jansson.h>
#include <stdbool.h>

#include "base/err.h"

/* The most leads one leads_by_mailbox page holds. */
#define SA_STORE_MAILBOX_PAGE_MAX 500

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
    /* The lead's company domain (lowercase host, docs/leads.md), or NULL: the write links
     * the lead to the company of that domain, creating it (named company_name) if new. */
    const char *company_domain;
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

/* The orders of a lead list; each breaks ties by id in the same direction. A lead not
 * yet scored sorts as the lowest score. */
enum sa_lead_sort {
    SA_LEAD_SORT_NEWEST,     /* created_at, newest first (the default) */
    SA_LEAD_SORT_OLDEST,     /* created_at, oldest first */
    SA_LEAD_SORT_SCORE,      /* score, lowest first */
    SA_LEAD_SORT_SCORE_DESC, /* score, highest first */
    SA_LEAD_SORT_COMPANY,    /* company name, ASCII case ignored */
    SA_LEAD_SORTS
};

struct sa_lead_query {
    int limit;              /* 1..500 */
    int offset;             /* >= 0 */
    const char *tier;       /* NULL or "A".."D" */
    int min_score;          /* -1: any */
    const char *search;     /* NULL, or a substring of the company name, contact name, contact
                             * e-mail or industry, case and Latin diacritics ignored
                             * (base/fold.h) */
    enum sa_lead_sort sort; /* the list's order; the export's too when sorted is set */
    bool sorted;            /* export: in sort's order (else id order, the cheapest) */
};

/* One outbox item (all text borrowed). payload is JSON text. */
struct sa_outbox_item {
    const char *id, *idempotency_key, *kind, *thread_id, *lead_id, *to_email, *payload;
    long long due_at; /* unix seconds */
    /* The sending policy's inputs (all optional: NULL / 0). sequence_id: the messages of
     * one BDR draft (its id); seq_day: the message's day in it (0: the first e-mail);
     * recipient_tz: the IANA zone of the recipient's sending window; to_domain: the
     * recipient's company domain; sender: the From address (caps per domain and sender);
     * message_id: the Message-ID it goes out with ("<...>"). */
    const char *sequence_id;
    long long seq_day;
    const char *recipient_tz, *to_domain, *sender, *message_id;
};

/* A received message (inbound_claim). All text borrowed; optional fields NULL. */
struct sa_inbound_row {
    const char *id;          /* UUID */
    const char *message_id;  /* required: its Message-ID ("<...>"), or a digest of it */
    const char *kind;        /* required: reply_received, bounce, auto_reply, unmatched */
    const char *lead_id;     /* the lead it was matched to */
    const char *thread_id;   /* the conversation or outbox thread it belongs to */
    const char *email;       /* the address it concerns (the sender, a bounced recipient) */
    const char *matched_by;  /* in_reply_to, references, original_message_id, sender, ... */
    const char *received_at; /* required, ISO 8601 UTC (the caller's clock) */
    /* ISO 8601 UTC, or NULL: a claim of the same message_id still without a result that was
     * received before this is taken over (its process died before inbound_finish) */
    const char *reclaim_before;
};

/* The longest run lease owner id, with its NUL (run_claim). */
#define SA_RUN_OWNER_MAX 192

/* What a sent-message count is taken over (outbox_sent_times). */
enum sa_send_scope { SA_SEND_CONTACT, SA_SEND_DOMAIN, SA_SEND_SENDER };

/* An API key as created (auth/apikey.h). The secret itself is never stored: only a
 * per-key salt and the SHA-256 hash of salt and secret. All text borrowed for the call. */
struct sa_key_row {
    const char *id;         /* 16 lowercase hex digits, the key's public prefix */
    const char *name;       /* required */
    const char *scopes;     /* required, e.g. "read,write" */
    const char *salt;       /* required (hex) */
    const char *hash;       /* required (hex) */
    const char *created_at; /* ISO 8601 UTC */
    const char *expires_at; /* ISO 8601 UTC, or NULL: never */
    const char *created_by; /* the creating principal's id ("cli:USER", "key:ID"), or NULL */
};

/* One audit record (all borrowed for the call). */
struct sa_audit_row {
    const char *at;         /* ISO 8601 UTC, required */
    const char *principal;  /* required: the principal's id */
    const char *action;     /* required, e.g. "approval.decide" */
    const char *target;     /* what was changed (an id), or NULL */
    const char *request_id; /* or NULL */
    const json_t *detail;   /* a JSON object, or NULL: {} */
};

/* A page of the audit log, newest first. */
struct sa_audit_query {
    const char *action, *principal, *target; /* exact match, NULL: any */
    const char *since, *until;               /* ISO 8601 UTC: at >= since, at < until; NULL: open */
    long before_id; /* 0: from the newest; else records with id < before_id */
    int limit;      /* 1..500 */
};

/* A conversation turn as the conversation list records it (console group below). All
 * text borrowed for the call; optional fields NULL. */
struct sa_conversation_row {
    const char *thread_id;    /* required */
    const char *lead_id;      /* the stored lead the turn is linked to, or NULL (keep) */
    const char *company_name; /* the turn input's, or NULL (keep) */
    const char *contact_name; /* the turn input's contact, or NULL (keep) */
    const char *contact_email;
    const char *stage, *last_intent; /* after the turn */
    int turns;                       /* the thread's turn count after the turn */
    const char *at;                  /* required, ISO 8601 UTC: the turn's time */
};

/* A meeting proposed to a prospect (meetings group below). Strings borrowed for the call;
 * times are unix seconds. */
struct sa_meeting_row {
    const char *id;        /* UUID */
    const char *lead_id;   /* or NULL */
    const char *thread_id; /* the run's or conversation's thread, or NULL */
    const char *attendee;  /* the prospect's e-mail, or NULL */
    const char *timezone;  /* the prospect's IANA zone, required */
    const char *tz_source; /* where that zone came from (domain/timezone.h), or NULL */
    const char *ics_uid;   /* required: the invite's UID */
    long long start, end;  /* start < end */
    long long hold_until;  /* a held meeting frees its slot after this */
    const char *status;    /* "held" (default when NULL) or "confirmed" */
};

/* Which meetings meeting_list returns. */
struct sa_meeting_query {
    const char *status;    /* NULL: any; "active": held unexpired or confirmed; "live":
                            * held (expired too), tentative or confirmed; else that
                            * status as listed (an expired hold is "expired") */
    long long from, to;    /* overlapping [from, to) (unix seconds); 0: open */
    const char *lead_id;   /* NULL: any */
    const char *thread_id; /* NULL: any */
    long long now;         /* what "expired" is relative to */
    int limit;             /* 1..1000 */
    const char *ics_uid;   /* NULL: any; else the meeting whose invite has this UID, at any
                            * time (indexed: an RSVP by mail finds its meeting so) */
    const char *after_id;  /* NULL: from the first; else the page after the meeting
                            * (after_start, after_id) in the list's order (start, id) */
    long long after_start;
};

/* What prune deletes (retention group below): cutoffs in unix seconds, 0 for none. */
struct sa_prune_query {
    double executions_before;    /* agent executions created before this */
    double cache_expired_at;     /* enrichment cache entries whose expiry is at or before this */
    double conversations_before; /* conversation list rows last touched before this */
    bool dry_run;                /* count what would go, delete nothing */
};

/* The ops every backend implements, grouped by aggregate. Every slot is required except
 * those marked optional: an optional slot may be NULL, and its wrapper below then runs
 * the default (sa_store_def_*, which a backend may also name explicitly). Each fallible
 * op returns 0 or a negative SA_* code with err set (the message is safe to show to a
 * client only for SA_ENOTFOUND / SA_ECONFLICT; others are logged and answered as 5xx).
 * Out-parameters are cleared on entry. JSON results are new references the caller
 * releases with json_decref; string arguments are borrowed for the call. E-mail
 * addresses compare ignoring ASCII case (lead_by_email, the outbox, contacts). Times are
 * ISO 8601 UTC text, except the outbox's due times (unix seconds). Times a caller passes
 * in (API keys, the audit log) MUST have the form YYYY-MM-DDTHH:MM:SS[.fraction]Z, else
 * SA_EINVAL; they are stored as "2026-12-02T07:10:00.000Z" (milliseconds), so stored
 * times compare as text in time order. */
struct sa_store_ops {
    const char *scheme; /* URL scheme: "sqlite" */

    /* ---- the store itself ---- */
    /* Opens the store at url (what follows "scheme:" and an optional "//"); pool_size
     * connections for concurrency. *out is freed with close. */
    int (*open)(const char *url, int pool_size, struct sa_store **out, struct sa_err *err);
    /* Frees the store and everything it holds; s MUST NOT be in use by another thread. */
    void (*close)(struct sa_store *s);
    /* Optional (default: nothing to apply). Applies the backend's pending migrations,
     * each in its own transaction, recording them in schema_migrations
     * (store/migrations.h). Runs at start-up, before the store is shared. */
    int (*migrate)(struct sa_store *s, struct sa_err *err);
    /* Optional (default: "ok" without a round trip). A cheap round trip proving the store
     * answers; detail (cap bytes) gets a short status text, e.g. "schema version 5". */
    int (*health)(struct sa_store *s, char *detail, size_t cap, struct sa_err *err);

    /* ---- leads (each write also records the agent execution that produced it) ---- */
    /* Upserts the lead (insert, or update every field of an existing id keeping
     * created_at, and the stored qualification when lead->score < 0) and inserts the
     * execution, atomically: both or neither. */
    int (*save_invocation)(struct sa_store *s, const struct sa_lead_row *lead,
                           const struct sa_exec_row *exec, struct sa_err *err);
    /* Inserts the lead and its execution only if the lead's id is new (else writes
     * nothing); *inserted says which. */
    int (*insert_lead_if_new)(struct sa_store *s, const struct sa_lead_row *lead,
                              const struct sa_exec_row *exec, bool *inserted, struct sa_err *err);
    /* save_invocation for n leads (execs: NULL, or one per lead) atomically: all or
     * nothing. */
    int (*save_many)(struct sa_store *s, const struct sa_lead_row *leads,
                     const struct sa_exec_row *execs, int n, struct sa_err *err);
    /* The lead {id, company_name, industry, company_size, employees_min, employees_max,
     * annual_revenue, website, country, contact_info: {name, title, email, phone,
     * linkedin_url}, data, qualification: null | {score, tier, reasoning, qualified_at},
     * created_at, updated_at, company: null | {id, domain, name}}, or SA_ENOTFOUND. */
    int (*get_lead)(struct sa_store *s, const char *id, json_t **out, struct sa_err *err);
    /* One page of the leads matching q, in q->sort's order: {"items": [lead...],
     * "total": matches on all pages, "limit", "offset"}. A search is served by an index
     * when it has three or more folded characters (docs/leads.md). */
    int (*list_leads)(struct sa_store *s, const struct sa_lead_query *q, json_t **out,
                      struct sa_err *err);
    /* The id of the earliest stored lead whose contact e-mail is email (ASCII case
     * ignored), or SA_ENOTFOUND. When data is not NULL, *data is that lead's stored input
     * (get_lead's "data"), read with the id: an invoke folds its input over it without a
     * second query. */
    int (*lead_by_email)(struct sa_store *s, const char *email, char id[37], json_t **data,
                         struct sa_err *err);
    /* A page of the stored leads whose contact e-mail is email (ASCII case ignored),
     * earliest first (ties by id): at most limit (1..SA_STORE_MAILBOX_PAGE_MAX, else
     * SA_EINVAL) from offset (>= 0), as an array of {id, contact_name (null when none),
     * data (get_lead's "data")}; empty when none. A shared mailbox (info@, sales@...) is
     * several people: the caller tells them apart by name, a page at a time
     * (sa_app_lead_identify, docs/leads.md), so one lookup never holds them all. */
    int (*leads_by_mailbox)(struct sa_store *s, const char *email, int limit, int offset,
                            json_t **out, struct sa_err *err);
    /* The stored leads whose company name is name (ASCII case ignored), earliest first,
     * as an array of {id, website, contact_email} (null when unknown); empty when none. */
    int (*leads_by_company)(struct sa_store *s, const char *name, json_t **out, struct sa_err *err);
    /* The id of the earliest stored lead WITHOUT a contact e-mail whose company name is
     * name and whose contact name is contact_name (both ASCII case ignored; a NULL
     * contact_name matches only a lead without one) and whose company domain is domain
     * (NULL: a lead without a company record), or SA_ENOTFOUND. The identity rule for
     * leads without an e-mail (docs/leads.md). data as for lead_by_email. */
    int (*lead_match)(struct sa_store *s, const char *name, const char *domain,
                      const char *contact_name, char id[37], json_t **data, struct sa_err *err);
    /* The company of domain (lowercase): {id, domain, name, leads: how many leads it has,
     * created_at, updated_at}, or SA_ENOTFOUND. */
    int (*company_get)(struct sa_store *s, const char *domain, json_t **out, struct sa_err *err);

    /* ---- agent executions ---- */
    /* The lead's executions, newest first, at most limit: an array of {id, agent_type,
     * thread_id, status, input, output, error_message, processing_time_ms, success,
     * created_at}. An execution written with its lead (save_invocation, save_many,
     * insert_lead_if_new) whose input is the lead's data need not store that input
     * again: its input is then the lead's stored data. */
    int (*list_executions)(struct sa_store *s, const char *lead_id, int limit, json_t **out,
                           struct sa_err *err);

    /* ---- pipeline runs ---- */
    /* Creates a run with status "queued" (input: JSON text). */
    int (*run_create)(struct sa_store *s, const char *id, const char *lead_id,
                      const char *thread_id, const char *input, struct sa_err *err);
    /* Sets the run's status, and its output (JSON text) and error when given (NULL keeps
     * the stored one). SA_ENOTFOUND for an unknown id. */
    int (*run_update)(struct sa_store *s, const char *id, const char *status, const char *output,
                      const char *error, struct sa_err *err);
    /* The run as stored: {id, lead_id, thread_id, status, input, output, error,
     * created_at, updated_at}, or SA_ENOTFOUND. */
    int (*run_get)(struct sa_store *s, const char *id, json_t **out, struct sa_err *err);
    /* The runs still queued or running, oldest first: an array of {id, lead_id,
     * thread_id, input}, so a restart resumes them. */
    int (*runs_unfinished)(struct sa_store *s, json_t **out, struct sa_err *err);
    /* The web console's run list (issue 16): runs newest first (created_at, then id), of
     * status (NULL: any), at most limit from offset: *out {items: [{id, lead_id,
     * thread_id, status, error, company_name (the input's, or null), created_at,
     * updated_at}], total} (total: every run of that status). */
    int (*runs_list)(struct sa_store *s, const char *status, int limit, int offset, json_t **out,
                     struct sa_err *err);
    /* Run leases: one execution of a run at a time across every process sharing the
     * store (app/runs.c). Times are the caller's, unix milliseconds of the real wall clock
     * (not the business clock: a lease measures real waiting); owner is an opaque id (at most
     * SA_RUN_OWNER_MAX - 1 bytes) the caller makes unique per execution. */
    /* Claims the run for owner until lease_until, atomically (of concurrent claimers
     * exactly one succeeds), only while it is queued, or running under a lease that ended
     * before now (its holder stopped; a run running without a lease, from before leases,
     * counts as such), or running under the owner named by over (NULL: none; a holder
     * the caller knows to have died, whatever its lease): it becomes running under owner.
     * *took_over says it was running (its thread continues from its checkpoint) rather
     * than queued. SA_ENOTFOUND, or SA_ECONFLICT when another owner's lease is live
     * (holder, when not NULL, gets that owner; else "") or the run has finished. */
    int (*run_claim)(struct sa_store *s, const char *id, const char *owner, const char *over,
                     long long now, long long lease_until, bool *took_over,
                     char holder[SA_RUN_OWNER_MAX], struct sa_err *err);
    /* Extends owner's lease to lease_until while the run is running under owner (also
     * when the lease ended, as long as nobody claimed the run since); a lease_until in
     * the past ends it (the run is claimable at once). SA_ECONFLICT when it is not
     * (taken over, finished, or unknown): the caller MUST stop executing it. */
    int (*run_renew)(struct sa_store *s, const char *id, const char *owner, long long lease_until,
                     struct sa_err *err);
    /* run_update for the lease holder: sets status, output and error (NULL keeps them)
     * only while the run is running under owner, so a worker that lost its lease never
     * overwrites the new holder's outcome. SA_ECONFLICT when it is not (nothing changed). */
    int (*run_finish)(struct sa_store *s, const char *id, const char *owner, const char *status,
                      const char *output, const char *error, struct sa_err *err);
    /* The runs to queue again because their queue entry may be gone (a run queue that
     * lost its data, a worker that died without a durable queue): those queued and last
     * changed at or before now - grace, and those running under a lease that ended before
     * now (or none), leaving out the runs this op returned within grace. Each run
     * returned is stamped with now, so of concurrent callers one gets it, once per grace.
     * An array of ids (strings), oldest run first, at most limit (1..1000). Queuing a
     * run twice is harmless: run_claim lets one delivery execute it. */
    int (*runs_stale)(struct sa_store *s, long long now, long long grace, int limit, json_t **out,
                      struct sa_err *err);

    /* ---- approvals (the BDR workflow's human decisions), one per interrupt ---- */
    /* Inserts an approval (status "pending"; request: JSON text) unless (thread_id,
     * interrupt_id) has one already; out_id gets the stored approval's id either way. */
    int (*approval_put)(struct sa_store *s, const char *id, const char *thread_id,
                        const char *interrupt_id, const char *lead_id, const char *request,
                        char out_id[37], struct sa_err *err);
    /* {id, thread_id, interrupt_id, lead_id, status, request, response, reviewer, changes,
     * created_at, decided_at, superseded_by}, or SA_ENOTFOUND. */
    int (*approval_get)(struct sa_store *s, const char *id, json_t **out, struct sa_err *err);
    /* Approvals with status (NULL: any), newest first, at most limit (an array). */
    int (*approval_list)(struct sa_store *s, const char *status, int limit, json_t **out,
                         struct sa_err *err);
    /* Records the decision (response and changes: JSON text or NULL) only while the
     * approval is pending, atomically: of concurrent deciders exactly one succeeds.
     * SA_ENOTFOUND, or SA_ECONFLICT when it was decided (or superseded) already. */
    int (*approval_decide)(struct sa_store *s, const char *id, const char *status,
                           const char *response, const char *reviewer, const char *changes,
                           struct sa_err *err);
    /* Claims the resumption of a decided approval's thread (app/approvals.c) for owner
     * until lease_until (unix milliseconds, the caller's wall clock), atomically: only
     * while the approval is decided and no other owner holds a lease that ends after now,
     * so of concurrent claimers across processes exactly one succeeds. The holder renews
     * by claiming again with its owner, and releases by claiming with lease_until <= now.
     * SA_ENOTFOUND, or SA_ECONFLICT when the approval is pending or superseded, or another
     * owner's lease is live. */
    int (*approval_claim_resume)(struct sa_store *s, const char *id, const char *owner,
                                 long long now, long long lease_until, struct sa_err *err);
    /* Marks every pending approval of thread_id superseded by run by (NULL: not known),
     * atomically per approval with approval_decide: an approval is either decided or
     * superseded, never both. Its status becomes "superseded", decided_at now; a
     * superseded approval is never claimed (approval_claim_resume) nor decided. *n counts
     * the approvals it changed. */
    int (*approval_supersede)(struct sa_store *s, const char *thread_id, const char *by, int *n,
                              struct sa_err *err);
    /* Undoes approval_supersede by run by (not NULL) when that run's new input was not
     * saved after all: the approvals of thread_id superseded by by are pending again
     * (superseded_by and decided_at NULL); nothing else changes. One conditional update: a
     * superseded approval was never decided, so none is lost. *n counts them. */
    int (*approval_unsupersede)(struct sa_store *s, const char *thread_id, const char *by, int *n,
                                struct sa_err *err);

    /* ---- the outbox: side effects sent once, under idempotency keys ---- */
    /* Inserts the items atomically (status "queued"), skipping those whose idempotency
     * key is stored already; *added counts the new ones. */
    int (*outbox_add)(struct sa_store *s, const struct sa_outbox_item *items, int n, int *added,
                      struct sa_err *err);
    /* Items with status and to e-mail (NULL: any), newest first, at most limit: an array
     * of {id, idempotency_key, kind, thread_id, lead_id, to_email, payload, status, due_at
     * (ISO 8601 UTC, like every other time here), attempts, last_error, delivered_id,
     * created_at, updated_at, sent_at}. */
    int (*outbox_list)(struct sa_store *s, const char *status, const char *email, int limit,
                       json_t **out, struct sa_err *err);
    /* A lead's timeline, newest first, at most limit entries: [{at, kind, id, thread_id,
     * ...}] where kind is "execution" (agent_type, status), "approval" (status), "outbox"
     * (outbox_kind: email or followup, status), "audit" (action, principal), or a received
     * message's kind: "reply_received", "bounce", "auto_reply" (matched_by, status): every record
     * that carries lead_id, and the audit records whose target it is. An unknown lead
     * gives an empty list (the caller checks the lead exists). */
    int (*lead_timeline)(struct sa_store *s, const char *lead_id, int limit, json_t **out,
                         struct sa_err *err);
    /* Records one execution that wrote no lead (a conversation turn of a stored lead's
     * contact): it links the thread to the lead for the timeline and for erasure. */
    int (*execution_add)(struct sa_store *s, const struct sa_exec_row *exec, struct sa_err *err);
    /* Queued items due at or before now (unix seconds), oldest due first, at most limit
     * (an array, items as in outbox_list but due_at in unix seconds, for the worker). */
    int (*outbox_due)(struct sa_store *s, long long now, int limit, json_t **out,
                      struct sa_err *err);
    /* Claims a queued item for delivery (status "sending"), atomically: of concurrent
     * claimers exactly one succeeds. The claim records when it was made (the wall clock,
     * base/clock.h), which starts its lease (outbox_requeue_expired). SA_ENOTFOUND, or
     * SA_ECONFLICT when the item is not queued (claimed, sent, failed or cancelled
     * already). */
    int (*outbox_claim)(struct sa_store *s, const char *id, struct sa_err *err);
    /* Sets an item's status (sending, sent, failed, cancelled, or queued again with
     * retry_at > 0 as its new due time), its delivered_id and error when given; sent,
     * failed and a retry count an attempt. SA_ENOTFOUND for an unknown id. */
    int (*outbox_mark)(struct sa_store *s, const char *id, const char *status,
                       const char *delivered_id, const char *error, long long retry_at,
                       struct sa_err *err);
    /* Cancels the queued items of kind for a thread and/or an e-mail (NULL: any), noting
     * reason (e.g. the follow-ups once the contact replies); *n counts them. */
    int (*outbox_cancel)(struct sa_store *s, const char *thread_id, const char *email,
                         const char *kind, const char *reason, int *n, struct sa_err *err);
    /* *n: the items to email queued, sending or sent with a due time at or after since
     * (unix seconds): the touches frequency caps count. */
    int (*outbox_touches)(struct sa_store *s, const char *email, long long since, long *n,
                          struct sa_err *err);
    /* Moves a queued item to due_at (unix seconds) and records why (reason) without
     * counting an attempt: the sending policy's deferrals. SA_ECONFLICT when the item is
     * not queued, SA_ENOTFOUND when there is none. */
    int (*outbox_defer)(struct sa_store *s, const char *id, long long due_at, const char *reason,
                        struct sa_err *err);
    /* The send times (unix seconds, oldest first, an array of integers) of the items sent
     * at or after since to key: a contact's e-mail, a company domain or a sender address
     * (scope), ASCII case ignored. */
    int (*outbox_sent_times)(struct sa_store *s, enum sa_send_scope scope, const char *key,
                             long long since, json_t **out, struct sa_err *err);
    /* The items of a sequence by day: [{id, kind, status, seq_day, due_at (unix seconds),
     * sent_ts, message_id}] (an array, empty for an unknown sequence). */
    int (*outbox_sequence)(struct sa_store *s, const char *sequence_id, json_t **out,
                           struct sa_err *err);
    /* The sequences to email other than except (NULL: none excepted) that are active:
     * with an item queued or sending, or sent at or after since: [{sequence_id, pending,
     * last_sent}] (pending: items queued or sending; last_sent: unix seconds or null). */
    int (*outbox_active_sequences)(struct sa_store *s, const char *email, const char *except,
                                   long long since, json_t **out, struct sa_err *err);
    /* Cancels every queued item of a sequence with reason; *n counts them (may be NULL). */
    int (*outbox_cancel_sequence)(struct sa_store *s, const char *sequence_id, const char *reason,
                                  int *n, struct sa_err *err);
    /* Optional (default: re-queues nothing, *n 0). The claim's lease: outbox_claim records
     * when it claimed (the wall clock, unix seconds); an item still "sending"
     * lease_seconds (> 0) after its claim at now (unix seconds), i.e. claimed at or before
     * now - lease_seconds, is taken to be abandoned by a worker that stopped between
     * claim and mark, and goes back to "queued" (due as it was, so the next poll picks it
     * up), counting an attempt (its delivery may have been tried) and with reason as its
     * last_error. Items sent, failed, cancelled or queued are never touched; of concurrent
     * callers each expired item is re-queued by exactly one, and once per claim. *n (may
     * be NULL) counts them. */
    int (*outbox_requeue_expired)(struct sa_store *s, long long now, long long lease_seconds,
                                  const char *reason, int *n, struct sa_err *err);
    /* outbox_claim that records token (an opaque id the caller makes unique per claim)
     * as the claim's holder, for outbox_mark_as. outbox_claim records none. */
    int (*outbox_claim_as)(struct sa_store *s, const char *id, const char *token,
                           struct sa_err *err);
    /* outbox_mark for the holder of the claim token: changes the item only while token is
     * its latest claim and it is sending, or queued again by an expired lease and not
     * claimed since (so a worker that delivered just after its lease expired records the
     * delivery instead of it being repeated). SA_ECONFLICT when another claim has it or it
     * is finished (nothing changed: the new holder's outcome stands); SA_ENOTFOUND. */
    int (*outbox_mark_as)(struct sa_store *s, const char *id, const char *token, const char *status,
                          const char *delivered_id, const char *error, long long retry_at,
                          struct sa_err *err);
    /* The items whose kind starts with prefix ("crm_": the CRM pushes), of lead_id (NULL:
     * any), last changed first, at most limit: items as in outbox_list. */
    int (*outbox_kind_list)(struct sa_store *s, const char *prefix, const char *lead_id, int limit,
                            json_t **out, struct sa_err *err);
    /* [{status, n}] over the items whose kind starts with prefix, by status. */
    int (*outbox_kind_counts)(struct sa_store *s, const char *prefix, json_t **out,
                              struct sa_err *err);

    /* ---- contacts ---- */
    /* Marks a contact do-not-contact (reason: free text; source: who asked, "prospect",
     * "operator", "bounce", "import", "conversation"). The history gets an opt_out entry
     * unless this source opted the contact out already since the last lift (so repeating
     * it is idempotent). The contact's current record keeps the FIRST opt-out since the
     * last lift: a later one (an operator's after the prospect's own) never overwrites
     * its reason or source. */
    int (*contact_dnc)(struct sa_store *s, const char *email, const char *reason,
                       const char *source, struct sa_err *err);
    /* {email, do_not_contact, reason, source, updated_at}, or SA_ENOTFOUND. */
    int (*contact_get)(struct sa_store *s, const char *email, json_t **out, struct sa_err *err);
    /* Lifts do-not-contact on an explicit consent record: appends a "lift" entry (source:
     * where the consent came from; note) to the history and clears the flag; the earlier
     * entries stay. SA_ECONFLICT when the contact is not do-not-contact. */
    int (*contact_lift)(struct sa_store *s, const char *email, const char *consent_source,
                        const char *note, struct sa_err *err);
    /* The contact's consent history, oldest first: [{action (opt_out, lift), source,
     * reason, at}] (empty when none). */
    int (*contact_history)(struct sa_store *s, const char *email, json_t **out, struct sa_err *err);
    /* A page of the contacts marked do-not-contact, newest first: *out an array of
     * contact records, *total how many there are. */
    int (*contact_list_dnc)(struct sa_store *s, int limit, int offset, json_t **out, long *total,
                            struct sa_err *err);

    /* ---- server secrets ---- */
    /* The secret stored under name; when there is none, stores candidate (which wins a
     * race only once) and answers what is stored. *out: a malloc'd copy the caller frees. */
    int (*secret_get_or_put)(struct sa_store *s, const char *name, const char *candidate,
                             char **out, struct sa_err *err);

    /* ---- enrichment cache ---- */
    /* The cached data for key if it has not expired, or SA_ENOTFOUND. */
    int (*cache_get)(struct sa_store *s, const char *key, json_t **out, struct sa_err *err);
    /* Stores data (borrowed) under key for ttl_seconds, replacing what was there. */
    int (*cache_put)(struct sa_store *s, const char *key, const char *provider, const json_t *data,
                     double ttl_seconds, struct sa_err *err);

    /* ---- API keys (secrets are never stored: salt + SHA-256 hash, see auth/apikey.h) ----
     * Times are the caller's (time is an input): the store never reads the clock here. */
    /* Inserts a key. SA_ECONFLICT when the id exists; SA_EINVAL for a missing field, an id
     * that is not 16 lowercase hex digits, or a malformed time. */
    int (*key_insert)(struct sa_store *s, const struct sa_key_row *k, struct sa_err *err);
    /* The key's fields for verification: {id, name, scopes, salt, hash, created_at,
     * expires_at|null, revoked_at|null, last_used_at|null}, or SA_ENOTFOUND. */
    int (*key_get)(struct sa_store *s, const char *id, json_t **out, struct sa_err *err);
    /* Every key (revoked ones too), newest first (ties by id), and never its salt or hash:
     * an array of {id, name, scopes, created_at, created_by, expires_at, revoked_at,
     * last_used_at}. */
    int (*key_list)(struct sa_store *s, json_t **out, struct sa_err *err);
    /* Revokes the key at time at, once: a revoked key keeps its first revoked_at, and
     * revoking it again returns 0 and changes nothing. SA_ENOTFOUND for an unknown id.
     * *out: the key as key_list shows it. */
    int (*key_revoke)(struct sa_store *s, const char *id, const char *at, json_t **out,
                      struct sa_err *err);
    /* Sets last_used_at = at, unless the stored one is later (it never moves back).
     * SA_ENOTFOUND for an unknown id. Callers throttle this (e.g. once a minute a key). */
    int (*key_touch)(struct sa_store *s, const char *id, const char *at, struct sa_err *err);
    /* *n: how many keys exist (revoked and expired included); 0 means a fresh install,
     * where the server creates the first admin key. */
    int (*key_count)(struct sa_store *s, long *n, struct sa_err *err);

    /* ---- the audit log: append-only (nothing in it is ever updated or deleted) ---- */
    /* Appends one record; the store assigns its id, a monotonic integer (a later append
     * has a larger id). SA_EINVAL for a missing field, a malformed time, or a detail that
     * is not an object. */
    int (*audit_append)(struct sa_store *s, const struct sa_audit_row *a, struct sa_err *err);
    /* One page of the records matching q, newest (largest id) first: {"items": [{id, at,
     * principal, action, target, request_id, detail}], "next_before_id": N|null}, where
     * N, passed back as before_id, gives the next page and null says there is none.
     * SA_EINVAL for a limit outside 1..500, a negative before_id or a malformed time. */
    int (*audit_list)(struct sa_store *s, const struct sa_audit_query *q, json_t **out,
                      struct sa_err *err);

    /* ---- lead export and erasure (appended group) ---- */
    /* Up to limit leads matching q (its tier, min_score and search; limit and offset are
     * ignored) that come after the row after (the last row of the previous page; NULL:
     * from the first), in q->sort's order when q->sorted, else in id order: an array of
     * {id, k, data, score, tier} (k: the row's sort key, for the next page; data: the
     * stored input; score and tier: the qualification's, null before one). A keyset
     * page, so an export of any size costs one page of memory at a time. */
    int (*lead_export_page)(struct sa_store *s, const struct sa_lead_query *q, const json_t *after,
                            int limit, json_t **out, struct sa_err *err);
    /* The distinct top-level field names of the stored inputs of the leads matching q
     * (as for lead_export_page), sorted: an array of strings, at most limit of them. */
    int (*lead_export_fields)(struct sa_store *s, const struct sa_lead_query *q, int limit,
                              json_t **out, struct sa_err *err);
    /* The distinct thread ids that the lead's executions, runs, approvals and outbox
     * items carry (an array of strings, maybe empty): the threads whose checkpoints an
     * erasure removes. */
    int (*lead_threads)(struct sa_store *s, const char *lead_id, json_t **out, struct sa_err *err);
    /* Erases the lead and the person's data everywhere the store holds it, atomically:
     * the lead row; executions of the lead or of threads; runs of the lead; approvals of
     * the lead or of threads; outbox items of the lead, of threads or to email (NULL:
     * none): those not sent are cancelled, and every one loses its recipient, payload and
     * error text (a sent one keeps its status and times); enrichment cache entries keyed
     * on email. Contacts (do-not-contact) and the audit log are kept. threads: a JSON
     * array text of thread ids (NULL: none). *out: {leads, executions, runs, approvals,
     * outbox_cancelled, outbox_redacted, enrichment_cache}, the rows changed per table.
     * SA_ENOTFOUND for an unknown lead; SA_ECONFLICT while a run of the lead is queued or
     * running (nothing erased). */
    int (*lead_erase)(struct sa_store *s, const char *lead_id, const char *email,
                      const char *threads, json_t **out, struct sa_err *err);

    /* ---- meetings (appended group): slots held for and booked with prospects ----
     * A meeting as returned: {id, lead_id, thread_id, attendee, start, end (ISO 8601
     * UTC), start_unix, end_unix, timezone, tz_source, status, hold_until (ISO|null),
     * sequence, ics_uid, partstat, created_at, updated_at}, where status is held,
     * confirmed, tentative, declined, cancelled, or "expired" for a hold past hold_until
     * at now. A meeting is active while it is confirmed, tentative, or held before its
     * hold_until; no two active meetings overlap, and every op below that makes one
     * active checks that atomically with its write, so of two concurrent claims on one
     * slot exactly one succeeds. now is the caller's (unix seconds): the store never reads
     * the clock for it. */
    /* Inserts m (status held, or m->status), sequence 0. SA_ECONFLICT when it would
     * overlap an active meeting, or the id exists. *out (optional) the stored meeting. */
    int (*meeting_hold)(struct sa_store *s, const struct sa_meeting_row *m, long long now,
                        json_t **out, struct sa_err *err);
    /* Moves the meeting to [start, end), held until hold_until, sequence + 1.
     * SA_ENOTFOUND, or SA_ECONFLICT when the new slot overlaps another active meeting. */
    int (*meeting_move)(struct sa_store *s, const char *id, long long start, long long end,
                        long long hold_until, long long now, json_t **out, struct sa_err *err);
    /* Sets the status (confirmed, tentative, declined, cancelled) and partstat (the
     * RSVP's, or NULL to keep it), sequence + 1. Making it confirmed or tentative
     * re-checks the overlap (an expired hold may have lost its slot): SA_ECONFLICT.
     * SA_ENOTFOUND for an unknown id. */
    int (*meeting_set_status)(struct sa_store *s, const char *id, const char *status,
                              const char *partstat, long long now, json_t **out,
                              struct sa_err *err);
    /* The meeting, or SA_ENOTFOUND. */
    int (*meeting_get)(struct sa_store *s, const char *id, long long now, json_t **out,
                       struct sa_err *err);
    /* The meetings matching q, by start time (an array). SA_EINVAL for a bad limit. */
    int (*meeting_list)(struct sa_store *s, const struct sa_meeting_query *q, json_t **out,
                        struct sa_err *err);

    /* ---- retention and health (appended group; every slot optional) ----
     * app/retention.h bounds storage with these; app/health.h proves writes with the
     * probe. Times are the caller's (unix seconds): the store never reads the clock. */
    /* Optional (default: deletes nothing, counts 0). Deletes what q allows, in batches
     * (each its own transaction, so other writes go on between them): the agent executions
     * created before q->executions_before (0: none), the enrichment cache entries
     * expired at q->cache_expired_at (0: none) and the conversation list's rows last
     * touched (conversation_touch's at) before q->conversations_before (0: none); with
     * q->dry_run it only counts. Then gives space back where the backend can (SQLite:
     * truncates its WAL when no write is in progress). *counts: {executions,
     * enrichment_cache, conversations}, the rows deleted (or that would be). */
    int (*prune)(struct sa_store *s, const struct sa_prune_query *q, json_t **counts,
                 struct sa_err *err);
    /* Optional (default: an empty array). The threads that finished, whose last activity
     * (a run's last status change, an execution) is in [since, before), ordered by id,
     * ids greater than after (NULL: from the first), at most limit (1..1000): an array of
     * thread id strings. A thread is finished when none of its runs is queued, running or
     * awaiting approval and none of its approvals is pending; activity at or after before
     * excludes it. Retention keeps only such a thread's final checkpoint. */
    int (*threads_finished)(struct sa_store *s, double since, double before, const char *after,
                            int limit, json_t **out, struct sa_err *err);
    /* Optional (default: the health slot, a read round trip). One real committed write
     * (an upsert of the row named by who in a table of its own, stamped at, unix seconds),
     * proving the store takes writes now: a full disk or a lost lock fails it. */
    int (*write_probe)(struct sa_store *s, const char *who, double at, struct sa_err *err);

    /* ---- inbound mail (appended group): replies and bounces received (app/inbound.h) ---- */
    /* The outbox item that went out with Message-ID message_id ("<...>", compared exactly):
     * {id, kind, lead_id, thread_id, to_email, status, sequence_id}, or SA_ENOTFOUND. */
    int (*outbox_by_message_id)(struct sa_store *s, const char *message_id, json_t **out,
                                struct sa_err *err);
    /* Records a received message under its Message-ID, once: inserts r unless
     * r->message_id is stored already (of concurrent callers exactly one inserts), or
     * replaces a stored claim that has no result and was received before r->reclaim_before
     * (then *inserted is true too: the caller acts on it).
     * *inserted says which; when it was stored already, *existing (optional, new
     * reference) is the stored record: {id, message_id, kind, lead_id, thread_id, email,
     * matched_by, status, result (parsed JSON or null), received_at}. */
    int (*inbound_claim)(struct sa_store *s, const struct sa_inbound_row *r, bool *inserted,
                         json_t **existing, struct sa_err *err);
    /* Stores the outcome of the message claimed under message_id: result (JSON text) and
     * status (a short summary the timeline shows: the intent, the bounce's status code);
     * a NULL result deletes the claim instead (what it started failed, so a retry of the
     * same message is processed again). SA_ENOTFOUND for an unknown message_id. */
    int (*inbound_finish)(struct sa_store *s, const char *message_id, const char *status,
                          const char *result, struct sa_err *err);

    /* ---- the web console (appended group) ---- */
    /* The outreach draft lead_id has under way (app/drafts.c refuses a second one): its
     * newest pending approval, else its newest run queued or running: *out {kind:
     * "approval" or "run", id, thread_id, created_at}; SA_ENOTFOUND when it has neither. */
    int (*lead_draft_pending)(struct sa_store *s, const char *lead_id, json_t **out,
                              struct sa_err *err);
    /* Records a turn in the conversation list: inserts the thread's row (created_at c->at)
     * or updates it: stage, last_intent, turns and updated_at always, lead_id, company,
     * contact name and e-mail only when given. Each call stamps the row with a number
     * larger than every earlier call's (its place in the list). */
    int (*conversation_touch)(struct sa_store *s, const struct sa_conversation_row *c,
                              struct sa_err *err);
    /* The conversations, last touched first, at most limit (1..500), those stamped before
     * before (0: from the newest): {items: [{thread_id, lead_id, company_name (the linked
     * lead's, else the turn's), contact_name, stage, last_intent, turns, created_at,
     * updated_at}], next_before: N|null} where N, passed back as before, gives the next
     * page and null says there is none. SA_EINVAL for a bad limit or a negative before. */
    int (*conversation_list)(struct sa_store *s, int limit, long long before, json_t **out,
                             struct sa_err *err);

    /* ---- Agent Server threads (appended group): the records POST /threads makes ----
     * (app/agentserver.c; migrations SQLite 020, PostgreSQL 060). A record is the
     * thread's id, created_at, updated_at and metadata (a JSON object); the thread's
     * state is the checkpointer's, not the record's. Every instance reads the same. */
    /* Inserts the record {thread_id, metadata (JSON object text, NULL: {}), created_at and
     * updated_at at} unless thread_id has one (of concurrent callers exactly one inserts);
     * *inserted says which. SA_EINVAL for a missing thread_id or at, or metadata that is
     * not a JSON object. */
    int (*as_thread_put)(struct sa_store *s, const char *thread_id, const char *metadata,
                         const char *at, bool *inserted, struct sa_err *err);
    /* The record: *out {thread_id, created_at, updated_at, metadata (object)}, or
     * SA_ENOTFOUND. */
    int (*as_thread_get)(struct sa_store *s, const char *thread_id, json_t **out,
                         struct sa_err *err);
    /* Merges metadata (JSON object text) into the record's: keep_existing (a key the
     * record has keeps its value: only new keys are added) or not (the given values
     * replace the record's), and sets updated_at to at. SA_ENOTFOUND when thread_id has
     * no record, SA_EINVAL for metadata that is not a JSON object. */
    int (*as_thread_update)(struct sa_store *s, const char *thread_id, const char *metadata,
                            bool keep_existing, const char *at, struct sa_err *err);
    /* The records whose metadata has every top-level key of filter (JSON object text,
     * NULL: any) with an equal value, last updated first (then by thread_id), offset
     * skipped, at most limit (1..1000): an array of records as as_thread_get's. SA_EINVAL
     * for a bad limit, a negative offset or a filter that is not a JSON object. */
    int (*as_thread_search)(struct sa_store *s, const char *filter, int limit, int offset,
                            json_t **out, struct sa_err *err);
    /* Deletes the record; SA_ENOTFOUND when there is none. (The checkpoints stay: the
     * checkpointer's.) */
    int (*as_thread_delete)(struct sa_store *s, const char *thread_id, struct sa_err *err);
    /* Retention's candidates (app/retention.c): the ids of the records last updated
     * before `before` (unix seconds), ordered by id, ids greater than after (NULL: from the
     * first), at most limit (1..1000): an array of thread id strings. */
    int (*as_threads_idle)(struct sa_store *s, double before, const char *after, int limit,
                           json_t **out, struct sa_err *err);
    /* Deletes the record when it is still last updated before `before` (unix seconds);
     * *deleted says whether it went (none, or one updated meanwhile, stays: 0). */
    int (*as_thread_delete_idle)(struct sa_store *s, const char *thread_id, double before,
                                 bool *deleted, struct sa_err *err);
    /* ---- the IMAP poller's mailbox cursors (appended group; app/imap_poller.c) ----
     * mailbox: the poller's name for what it reads (its URL without credentials, and the
     * user). Times are unix milliseconds of the caller's real wall clock (a lease measures
     * real waiting). */
    /* Claims mailbox's lease for owner until lease_until, atomically (of concurrent
     * claimers exactly one succeeds): when no one has polled it yet, when owner holds it,
     * or when the holder's lease ended at or before now; the holder releases it by claiming
     * with lease_until <= now. *out (new reference): {uidvalidity, last_uid}, both 0 for a
     * mailbox never polled. SA_ECONFLICT when another owner's lease
     * is live; SA_EINVAL without mailbox or owner. */
    int (*mailbox_claim)(struct sa_store *s, const char *mailbox, const char *owner, long long now,
                         long long lease_until, json_t **out, struct sa_err *err);
    /* Records that owner has done mailbox up to last_uid under uidvalidity, and extends its
     * lease to lease_until, only while owner holds the lease. SA_ECONFLICT when it does not
     * (another process took the mailbox over: the caller MUST stop polling it). */
    int (*mailbox_advance)(struct sa_store *s, const char *mailbox, const char *owner,
                           long long uidvalidity, long long last_uid, long long lease_until,
                           struct sa_err *err);
};

struct sa_store {
    const struct sa_store_ops *ops; /* backends embed this struct first */
};

struct graph_saver;

/* ---- the registry (store.c): backends by DATABASE_URL scheme ---- */

/* Opens the store named by a DATABASE_URL ("sqlite://path", "sqlite::memory:"), picking
 * the backend by scheme. Returns 0 and *out (closed with sa_store_close), or SA_ECONFIG
 * for an unknown scheme, or the backend's error. */
int sa_store_open(const char *url, int pool_size, struct sa_store **out, struct sa_err *err) SA_WUR;
/* Opens the checkpoint saver (graph/saver.h) that goes with the same DATABASE_URL, from
 * the same backend: for "sqlite://PATH" the SQLite saver in that file (its own table), for
 * "sqlite::memory:" the in-process memory saver (an in-memory database is private to its
 * connection). Returns 0 and *out (freed with graph_saver_free), or SA_ECONFIG for an
 * unknown scheme, or the backend's error. */
int sa_saver_open(const char *url, struct graph_saver **out, struct sa_err *err) SA_WUR;
/* Sets the network backends' timeouts (PostgreSQL; SQLite has none) for the stores and
 * savers opened after the call: connecting (connect_ms) and each statement (statement_ms),
 * both > 0; the defaults are 3000 and 5000. Call at start-up, before opening. */
void sa_store_set_timeouts(int connect_ms, int statement_ms);

/* The defaults of the optional slots. */
int sa_store_def_migrate(struct sa_store *s, struct sa_err *err) SA_WUR;
int sa_store_def_health(struct sa_store *s, char *detail, size_t cap, struct sa_err *err) SA_WUR;
int sa_store_def_prune(struct sa_store *s, const struct sa_prune_query *q, json_t **counts,
                       struct sa_err *err) SA_WUR;
int sa_store_def_threads_finished(struct sa_store *s, double since, double before,
                                  const char *after, int limit, json_t **out,
                                  struct sa_err *err) SA_WUR;
int sa_store_def_write_probe(struct sa_store *s, const char *who, double at,
                             struct sa_err *err) SA_WUR;

/* The wrappers callers use, one per slot (see struct sa_store_ops for each contract). */

/* The backend's URL scheme ("sqlite"): for logs and /health. */
static inline const char *sa_store_scheme(const struct sa_store *s)
{
    return s->ops->scheme;
}
static inline void sa_store_close(struct sa_store *s)
{
    if (s)
        s->ops->close(s);
}
static inline SA_WUR int sa_store_migrate(struct sa_store *s, struct sa_err *err)
{
    return (s->ops->migrate ? s->ops->migrate : sa_store_def_migrate)(s, err);
}
static inline SA_WUR int sa_store_health(struct sa_store *s, char *detail, size_t cap,
                                         struct sa_err *err)
{
    return (s->ops->health ? s->ops->health : sa_store_def_health)(s, detail, cap, err);
}

/* leads */
static inline SA_WUR int sa_store_save_invocation(struct sa_store *s, const struct sa_lead_row *l,
                                                  const struct sa_exec_row *e, struct sa_err *err)
{
    return s->ops->save_invocation(s, l, e, err);
}
static inline SA_WUR int sa_store_insert_lead_if_new(struct sa_store *s,
                                                     const struct sa_lead_row *l,
                                                     const struct sa_exec_row *e, bool *inserted,
                                                     struct sa_err *err)
{
    return s->ops->insert_lead_if_new(s, l, e, inserted, err);
}
static inline SA_WUR int sa_store_save_many(struct sa_store *s, const struct sa_lead_row *l,
                                            const struct sa_exec_row *e, int n, struct sa_err *err)
{
    return s->ops->save_many(s, l, e, n, err);
}
static inline SA_WUR int sa_store_get_lead(struct sa_store *s, const char *id, json_t **out,
                                           struct sa_err *err)
{
    return s->ops->get_lead(s, id, out, err);
}
static inline SA_WUR int sa_store_list_leads(struct sa_store *s, const struct sa_lead_query *q,
                                             json_t **out, struct sa_err *err)
{
    return s->ops->list_leads(s, q, out, err);
}
static inline SA_WUR int sa_store_lead_by_email(struct sa_store *s, const char *email, char id[37],
                                                json_t **data, struct sa_err *err)
{
    return s->ops->lead_by_email(s, email, id, data, err);
}
static inline SA_WUR int sa_store_leads_by_mailbox(struct sa_store *s, const char *email, int limit,
                                                   int offset, json_t **out, struct sa_err *err)
{
    *out = NULL;
    if (limit < 1 || limit > SA_STORE_MAILBOX_PAGE_MAX || offset < 0)
        return sa_err_set(err, SA_EINVAL, "leads_by_mailbox: limit %d, offset %d", limit, offset);
    return s->ops->leads_by_mailbox(s, email, limit, offset, out, err);
}
static inline SA_WUR int sa_store_leads_by_company(struct sa_store *s, const char *name,
                                                   json_t **out, struct sa_err *err)
{
    return s->ops->leads_by_company(s, name, out, err);
}
static inline SA_WUR int sa_store_lead_match(struct sa_store *s, const char *name,
                                             const char *domain, const char *contact_name,
                                             char id[37], json_t **data, struct sa_err *err)
{
    return s->ops->lead_match(s, name, domain, contact_name, id, data, err);
}
static inline SA_WUR int sa_store_company_get(struct sa_store *s, const char *domain, json_t **out,
                                              struct sa_err *err)
{
    return s->ops->company_get(s, domain, out, err);
}

/* executions */
static inline SA_WUR int sa_store_list_executions(struct sa_store *s, const char *lead_id,
                                                  int limit, json_t **out, struct sa_err *err)
{
    return s->ops->list_executions(s, lead_id, limit, out, err);
}

/* runs */
static inline SA_WUR int sa_store_run_create(struct sa_store *s, const char *id,
                                             const char *lead_id, const char *thread_id,
                                             const char *input, struct sa_err *err)
{
    return s->ops->run_create(s, id, lead_id, thread_id, input, err);
}
static inline SA_WUR int sa_store_run_update(struct sa_store *s, const char *id, const char *status,
                                             const char *output, const char *error,
                                             struct sa_err *err)
{
    return s->ops->run_update(s, id, status, output, error, err);
}
static inline SA_WUR int sa_store_run_get(struct sa_store *s, const char *id, json_t **out,
                                          struct sa_err *err)
{
    return s->ops->run_get(s, id, out, err);
}
static inline SA_WUR int sa_store_runs_unfinished(struct sa_store *s, json_t **out,
                                                  struct sa_err *err)
{
    return s->ops->runs_unfinished(s, out, err);
}
static inline SA_WUR int sa_store_runs_list(struct sa_store *s, const char *status, int limit,
                                            int offset, json_t **out, struct sa_err *err)
{
    return s->ops->runs_list(s, status, limit, offset, out, err);
}
static inline SA_WUR int sa_store_run_claim(struct sa_store *s, const char *id, const char *owner,
                                            const char *over, long long now, long long lease_until,
                                            bool *took_over, char holder[SA_RUN_OWNER_MAX],
                                            struct sa_err *err)
{
    return s->ops->run_claim(s, id, owner, over, now, lease_until, took_over, holder, err);
}
static inline SA_WUR int sa_store_run_renew(struct sa_store *s, const char *id, const char *owner,
                                            long long lease_until, struct sa_err *err)
{
    return s->ops->run_renew(s, id, owner, lease_until, err);
}
static inline SA_WUR int sa_store_run_finish(struct sa_store *s, const char *id, const char *owner,
                                             const char *status, const char *output,
                                             const char *error, struct sa_err *err)
{
    return s->ops->run_finish(s, id, owner, status, output, error, err);
}
static inline SA_WUR int sa_store_runs_stale(struct sa_store *s, long long now, long long grace,
                                             int limit, json_t **out, struct sa_err *err)
{
    return s->ops->runs_stale(s, now, grace, limit, out, err);
}

/* approvals */
static inline SA_WUR int sa_store_approval_put(struct sa_store *s, const char *id,
                                               const char *thread_id, const char *interrupt_id,
                                               const char *lead_id, const char *request,
                                               char out_id[37], struct sa_err *err)
{
    return s->ops->approval_put(s, id, thread_id, interrupt_id, lead_id, request, out_id, err);
}
static inline SA_WUR int sa_store_approval_get(struct sa_store *s, const char *id, json_t **out,
                                               struct sa_err *err)
{
    return s->ops->approval_get(s, id, out, err);
}
static inline SA_WUR int sa_store_approval_list(struct sa_store *s, const char *status, int limit,
                                                json_t **out, struct sa_err *err)
{
    return s->ops->approval_list(s, status, limit, out, err);
}
static inline SA_WUR int sa_store_approval_decide(struct sa_store *s, const char *id,
                                                  const char *status, const char *response,
                                                  const char *reviewer, const char *changes,
                                                  struct sa_err *err)
{
    return s->ops->approval_decide(s, id, status, response, reviewer, changes, err);
}
static inline SA_WUR int sa_store_approval_claim_resume(struct sa_store *s, const char *id,
                                                        const char *owner, long long now,
                                                        long long lease_until, struct sa_err *err)
{
    return s->ops->approval_claim_resume(s, id, owner, now, lease_until, err);
}
static inline SA_WUR int sa_store_approval_supersede(struct sa_store *s, const char *thread_id,
                                                     const char *by, int *n, struct sa_err *err)
{
    return s->ops->approval_supersede(s, thread_id, by, n, err);
}
static inline SA_WUR int sa_store_approval_unsupersede(struct sa_store *s, const char *thread_id,
                                                       const char *by, int *n, struct sa_err *err)
{
    return s->ops->approval_unsupersede(s, thread_id, by, n, err);
}

/* outbox */
static inline SA_WUR int sa_store_outbox_add(struct sa_store *s, const struct sa_outbox_item *items,
                                             int n, int *added, struct sa_err *err)
{
    return s->ops->outbox_add(s, items, n, added, err);
}
static inline SA_WUR int sa_store_outbox_list(struct sa_store *s, const char *status,
                                              const char *email, int limit, json_t **out,
                                              struct sa_err *err)
{
    return s->ops->outbox_list(s, status, email, limit, out, err);
}
static inline SA_WUR int sa_store_execution_add(struct sa_store *s, const struct sa_exec_row *e,
                                                struct sa_err *err)
{
    return s->ops->execution_add(s, e, err);
}
static inline SA_WUR int sa_store_lead_timeline(struct sa_store *s, const char *lead_id, int limit,
                                                json_t **out, struct sa_err *err)
{
    return s->ops->lead_timeline(s, lead_id, limit, out, err);
}
static inline SA_WUR int sa_store_outbox_due(struct sa_store *s, long long now, int limit,
                                             json_t **out, struct sa_err *err)
{
    return s->ops->outbox_due(s, now, limit, out, err);
}
static inline SA_WUR int sa_store_outbox_claim(struct sa_store *s, const char *id,
                                               struct sa_err *err)
{
    return s->ops->outbox_claim(s, id, err);
}
static inline SA_WUR int sa_store_outbox_mark(struct sa_store *s, const char *id,
                                              const char *status, const char *delivered_id,
                                              const char *error, long long retry_at,
                                              struct sa_err *err)
{
    return s->ops->outbox_mark(s, id, status, delivered_id, error, retry_at, err);
}
static inline SA_WUR int sa_store_outbox_cancel(struct sa_store *s, const char *thread_id,
                                                const char *email, const char *kind,
                                                const char *reason, int *n, struct sa_err *err)
{
    return s->ops->outbox_cancel(s, thread_id, email, kind, reason, n, err);
}
static inline SA_WUR int sa_store_outbox_touches(struct sa_store *s, const char *email,
                                                 long long since, long *n, struct sa_err *err)
{
    return s->ops->outbox_touches(s, email, since, n, err);
}

static inline SA_WUR int sa_store_outbox_defer(struct sa_store *s, const char *id, long long due_at,
                                               const char *reason, struct sa_err *err)
{
    return s->ops->outbox_defer(s, id, due_at, reason, err);
}
static inline SA_WUR int sa_store_outbox_sent_times(struct sa_store *s, enum sa_send_scope scope,
                                                    const char *key, long long since, json_t **out,
                                                    struct sa_err *err)
{
    return s->ops->outbox_sent_times(s, scope, key, since, out, err);
}
static inline SA_WUR int sa_store_outbox_sequence(struct sa_store *s, const char *sequence_id,
                                                  json_t **out, struct sa_err *err)
{
    return s->ops->outbox_sequence(s, sequence_id, out, err);
}
static inline SA_WUR int sa_store_outbox_active_sequences(struct sa_store *s, const char *email,
                                                          const char *except, long long since,
                                                          json_t **out, struct sa_err *err)
{
    return s->ops->outbox_active_sequences(s, email, except, since, out, err);
}
static inline SA_WUR int sa_store_outbox_cancel_sequence(struct sa_store *s,
                                                         const char *sequence_id,
                                                         const char *reason, int *n,
                                                         struct sa_err *err)
{
    return s->ops->outbox_cancel_sequence(s, sequence_id, reason, n, err);
}
static inline SA_WUR int sa_store_outbox_kind_list(struct sa_store *s, const char *prefix,
                                                   const char *lead_id, int limit, json_t **out,
                                                   struct sa_err *err)
{
    return s->ops->outbox_kind_list(s, prefix, lead_id, limit, out, err);
}
static inline SA_WUR int sa_store_outbox_kind_counts(struct sa_store *s, const char *prefix,
                                                     json_t **out, struct sa_err *err)
{
    return s->ops->outbox_kind_counts(s, prefix, out, err);
}
/* The default of the optional outbox_requeue_expired: a backend without leases re-queues
 * nothing. Here rather than in store.c with the other defaults only because this header
 * is where the outbox's contract is kept; a backend may name it. */
static inline int sa_store_def_outbox_requeue_expired(struct sa_store *s, long long now,
                                                      long long lease_seconds, const char *reason,
                                                      int *n, struct sa_err *err)
{
    (void)s, (void)now, (void)lease_seconds, (void)reason, (void)err;
    if (n)
        *n = 0;
    return 0;
}
static inline SA_WUR int sa_store_outbox_requeue_expired(struct sa_store *s, long long now,
                                                         long long lease_seconds,
                                                         const char *reason, int *n,
                                                         struct sa_err *err)
{
    return (s->ops->outbox_requeue_expired
                ? s->ops->outbox_requeue_expired
                : sa_store_def_outbox_requeue_expired)(s, now, lease_seconds, reason, n, err);
}
static inline SA_WUR int sa_store_outbox_claim_as(struct sa_store *s, const char *id,
                                                  const char *token, struct sa_err *err)
{
    return s->ops->outbox_claim_as(s, id, token, err);
}
static inline SA_WUR int sa_store_outbox_mark_as(struct sa_store *s, const char *id,
                                                 const char *token, const char *status,
                                                 const char *delivered_id, const char *error,
                                                 long long retry_at, struct sa_err *err)
{
    return s->ops->outbox_mark_as(s, id, token, status, delivered_id, error, retry_at, err);
}

/* contacts: consent is per MAILBOX (docs/leads.md, "Sub-addresses"). Mail to
 * "tom+crm@acme.com" is delivered to "tom@acme.com", so these wrappers record, read and
 * lift the address without its +tag: an opt-out of either blocks both. An opt-out
 * recorded under a tagged address before (the tagged record) still blocks that address:
 * contact_get reads it when the mailbox's record does not block, contact_lift lifts it
 * with the mailbox's. contact_history is the mailbox's. */
/* email without its "+tag" ("tom+crm@acme.com" -> "tom@acme.com"; case kept): email
 * itself when it has no tag (or the local part starts with "+", or it does not fit cap),
 * else buf. */
const char *sa_store_mailbox(const char *email, char *buf, size_t cap);
int sa_store_contact_lift(struct sa_store *s, const char *email, const char *consent_source,
                          const char *note, struct sa_err *err) SA_WUR;
static inline SA_WUR int sa_store_contact_history(struct sa_store *s, const char *email,
                                                  json_t **out, struct sa_err *err)
{
    char buf[320];
    return s->ops->contact_history(s, sa_store_mailbox(email, buf, sizeof buf), out, err);
}
static inline SA_WUR int sa_store_contact_list_dnc(struct sa_store *s, int limit, int offset,
                                                   json_t **out, long *total, struct sa_err *err)
{
    return s->ops->contact_list_dnc(s, limit, offset, out, total, err);
}
static inline SA_WUR int sa_store_secret_get_or_put(struct sa_store *s, const char *name,
                                                    const char *candidate, char **out,
                                                    struct sa_err *err)
{
    return s->ops->secret_get_or_put(s, name, candidate, out, err);
}
static inline SA_WUR int sa_store_contact_dnc(struct sa_store *s, const char *email,
                                              const char *reason, const char *source,
                                              struct sa_err *err)
{
    char buf[320];
    return s->ops->contact_dnc(s, sa_store_mailbox(email, buf, sizeof buf), reason, source, err);
}
int sa_store_contact_get(struct sa_store *s, const char *email, json_t **out,
                         struct sa_err *err) SA_WUR;

/* enrichment cache */
static inline SA_WUR int sa_store_cache_get(struct sa_store *s, const char *key, json_t **out,
                                            struct sa_err *err)
{
    return s->ops->cache_get(s, key, out, err);
}
static inline SA_WUR int sa_store_cache_put(struct sa_store *s, const char *key,
                                            const char *provider, const json_t *data,
                                            double ttl_seconds, struct sa_err *err)
{
    return s->ops->cache_put(s, key, provider, data, ttl_seconds, err);
}

/* API keys */
static inline SA_WUR int sa_store_key_insert(struct sa_store *s, const struct sa_key_row *k,
                                             struct sa_err *err)
{
    return s->ops->key_insert(s, k, err);
}
static inline SA_WUR int sa_store_key_get(struct sa_store *s, const char *id, json_t **out,
                                          struct sa_err *err)
{
    return s->ops->key_get(s, id, out, err);
}
static inline SA_WUR int sa_store_key_list(struct sa_store *s, json_t **out, struct sa_err *err)
{
    return s->ops->key_list(s, out, err);
}
static inline SA_WUR int sa_store_key_revoke(struct sa_store *s, const char *id, const char *at,
                                             json_t **out, struct sa_err *err)
{
    return s->ops->key_revoke(s, id, at, out, err);
}
static inline SA_WUR int sa_store_key_touch(struct sa_store *s, const char *id, const char *at,
                                            struct sa_err *err)
{
    return s->ops->key_touch(s, id, at, err);
}
static inline SA_WUR int sa_store_key_count(struct sa_store *s, long *n, struct sa_err *err)
{
    return s->ops->key_count(s, n, err);
}

/* audit log */
static inline SA_WUR int sa_store_audit_append(struct sa_store *s, const struct sa_audit_row *a,
                                               struct sa_err *err)
{
    return s->ops->audit_append(s, a, err);
}
static inline SA_WUR int sa_store_audit_list(struct sa_store *s, const struct sa_audit_query *q,
                                             json_t **out, struct sa_err *err)
{
    return s->ops->audit_list(s, q, out, err);
}

/* lead export and erasure */
static inline SA_WUR int sa_store_lead_export_page(struct sa_store *s,
                                                   const struct sa_lead_query *q,
                                                   const json_t *after, int limit, json_t **out,
                                                   struct sa_err *err)
{
    return s->ops->lead_export_page(s, q, after, limit, out, err);
}
static inline SA_WUR int sa_store_lead_export_fields(struct sa_store *s,
                                                     const struct sa_lead_query *q, int limit,
                                                     json_t **out, struct sa_err *err)
{
    return s->ops->lead_export_fields(s, q, limit, out, err);
}
static inline SA_WUR int sa_store_lead_threads(struct sa_store *s, const char *lead_id,
                                               json_t **out, struct sa_err *err)
{
    return s->ops->lead_threads(s, lead_id, out, err);
}
static inline SA_WUR int sa_store_lead_erase(struct sa_store *s, const char *lead_id,
                                             const char *email, const char *threads, json_t **out,
                                             struct sa_err *err)
{
    return s->ops->lead_erase(s, lead_id, email, threads, out, err);
}

/* meetings */
static inline SA_WUR int sa_store_meeting_hold(struct sa_store *s, const struct sa_meeting_row *m,
                                               long long now, json_t **out, struct sa_err *err)
{
    return s->ops->meeting_hold(s, m, now, out, err);
}
static inline SA_WUR int sa_store_meeting_move(struct sa_store *s, const char *id, long long start,
                                               long long end, long long hold_until, long long now,
                                               json_t **out, struct sa_err *err)
{
    return s->ops->meeting_move(s, id, start, end, hold_until, now, out, err);
}
static inline SA_WUR int sa_store_meeting_set_status(struct sa_store *s, const char *id,
                                                     const char *status, const char *partstat,
                                                     long long now, json_t **out,
                                                     struct sa_err *err)
{
    return s->ops->meeting_set_status(s, id, status, partstat, now, out, err);
}
static inline SA_WUR int sa_store_meeting_get(struct sa_store *s, const char *id, long long now,
                                              json_t **out, struct sa_err *err)
{
    return s->ops->meeting_get(s, id, now, out, err);
}
static inline SA_WUR int sa_store_meeting_list(struct sa_store *s, const struct sa_meeting_query *q,
                                               json_t **out, struct sa_err *err)
{
    return s->ops->meeting_list(s, q, out, err);
}

/* retention and health */
static inline SA_WUR int sa_store_prune(struct sa_store *s, const struct sa_prune_query *q,
                                        json_t **counts, struct sa_err *err)
{
    return (s->ops->prune ? s->ops->prune : sa_store_def_prune)(s, q, counts, err);
}
static inline SA_WUR int sa_store_threads_finished(struct sa_store *s, double since, double before,
                                                   const char *after, int limit, json_t **out,
                                                   struct sa_err *err)
{
    return (s->ops->threads_finished ? s->ops->threads_finished : sa_store_def_threads_finished)(
        s, since, before, after, limit, out, err);
}
static inline SA_WUR int sa_store_write_probe(struct sa_store *s, const char *who, double at,
                                              struct sa_err *err)
{
    return (s->ops->write_probe ? s->ops->write_probe : sa_store_def_write_probe)(s, who, at, err);
}

/* inbound mail */
static inline SA_WUR int sa_store_outbox_by_message_id(struct sa_store *s, const char *message_id,
                                                       json_t **out, struct sa_err *err)
{
    return s->ops->outbox_by_message_id(s, message_id, out, err);
}
static inline SA_WUR int sa_store_inbound_claim(struct sa_store *s, const struct sa_inbound_row *r,
                                                bool *inserted, json_t **existing,
                                                struct sa_err *err)
{
    return s->ops->inbound_claim(s, r, inserted, existing, err);
}
static inline SA_WUR int sa_store_inbound_finish(struct sa_store *s, const char *message_id,
                                                 const char *status, const char *result,
                                                 struct sa_err *err)
{
    return s->ops->inbound_finish(s, message_id, status, result, err);
}

/* the web console */
static inline SA_WUR int sa_store_lead_draft_pending(struct sa_store *s, const char *lead_id,
                                                     json_t **out, struct sa_err *err)
{
    return s->ops->lead_draft_pending(s, lead_id, out, err);
}
static inline SA_WUR int sa_store_conversation_touch(struct sa_store *s,
                                                     const struct sa_conversation_row *c,
                                                     struct sa_err *err)
{
    return s->ops->conversation_touch(s, c, err);
}
static inline SA_WUR int sa_store_conversation_list(struct sa_store *s, int limit, long long before,
                                                    json_t **out, struct sa_err *err)
{
    return s->ops->conversation_list(s, limit, before, out, err);
}

/* Agent Server threads */
static inline SA_WUR int sa_store_as_thread_put(struct sa_store *s, const char *thread_id,
                                                const char *metadata, const char *at,
                                                bool *inserted, struct sa_err *err)
{
    return s->ops->as_thread_put(s, thread_id, metadata, at, inserted, err);
}
static inline SA_WUR int sa_store_as_thread_get(struct sa_store *s, const char *thread_id,
                                                json_t **out, struct sa_err *err)
{
    return s->ops->as_thread_get(s, thread_id, out, err);
}
static inline SA_WUR int sa_store_as_thread_update(struct sa_store *s, const char *thread_id,
                                                   const char *metadata, bool keep_existing,
                                                   const char *at, struct sa_err *err)
{
    return s->ops->as_thread_update(s, thread_id, metadata, keep_existing, at, err);
}
static inline SA_WUR int sa_store_as_thread_search(struct sa_store *s, const char *filter,
                                                   int limit, int offset, json_t **out,
                                                   struct sa_err *err)
{
    return s->ops->as_thread_search(s, filter, limit, offset, out, err);
}
static inline SA_WUR int sa_store_as_thread_delete(struct sa_store *s, const char *thread_id,
                                                   struct sa_err *err)
{
    return s->ops->as_thread_delete(s, thread_id, err);
}
static inline SA_WUR int sa_store_as_threads_idle(struct sa_store *s, double before,
                                                  const char *after, int limit, json_t **out,
                                                  struct sa_err *err)
{
    return s->ops->as_threads_idle(s, before, after, limit, out, err);
}
static inline SA_WUR int sa_store_as_thread_delete_idle(struct sa_store *s, const char *thread_id,
                                                        double before, bool *deleted,
                                                        struct sa_err *err)
{
    return s->ops->as_thread_delete_idle(s, thread_id, before, deleted, err);
}

static inline SA_WUR int sa_store_mailbox_claim(struct sa_store *s, const char *mailbox,
                                                const char *owner, long long now,
                                                long long lease_until, json_t **out,
                                                struct sa_err *err)
{
    return s->ops->mailbox_claim(s, mailbox, owner, now, lease_until, out, err);
}
static inline SA_WUR int sa_store_mailbox_advance(struct sa_store *s, const char *mailbox,
                                                  const char *owner, long long uidvalidity,
                                                  long long last_uid, long long lease_until,
                                                  struct sa_err *err)
{
    return s->ops->mailbox_advance(s, mailbox, owner, uidvalidity, last_uid, lease_until, err);
}

#endif
