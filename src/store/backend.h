/* What each storage backend gives the registry in store.c: its store ops and the opener
 * of the checkpoint saver that lives beside it. Private to src/store/: callers go through
 * sa_store_open / sa_saver_open (store.h). */
#ifndef SA_STORE_BACKEND_H
#define SA_STORE_BACKEND_H

#include "store/store.h"

struct graph_saver;

struct sa_backend {
    const struct sa_store_ops *store; /* its scheme names the backend in DATABASE_URL */
    const char *alias;                /* another scheme that names it, or NULL */
    /* Opens the checkpoint saver for the same location as the store (what follows
     * "scheme:" and an optional "//"). *out is freed with graph_saver_free. Returns 0 or
     * a negative SA_* code with err set. */
    int (*saver_open)(const char *location, struct graph_saver **out, struct sa_err *err);
};

/* src/store/sqlite/ */
extern const struct sa_backend sa_backend_sqlite;
/* src/store/postgres/: scheme postgresql, alias postgres */
extern const struct sa_backend sa_backend_pg;

/* The network backends' timeouts (sa_store_set_timeouts, store.h), read when a store
 * opens. */
struct sa_store_timeouts {
    int connect_ms;   /* PG_CONNECT_TIMEOUT_MS */
    int statement_ms; /* PG_STATEMENT_TIMEOUT_MS */
};
extern struct sa_store_timeouts sa_store_timeouts;

/* A keyset page from rows fetched one past limit, newest first, each carrying its place
 * under key (an integer): {items (rows without key, at most limit), next_before: the last
 * item's place when a row was left over, else null}. Takes rows; NULL when out of memory. */
json_t *sa_store_page_by_seq(json_t *rows, int limit, const char *key);
/* The JSON object text (NULL: NULL) in one compact form for a metadata column: *out (the
 * caller frees it) or SA_EINVAL naming what when text is not a JSON object. */
int sa_store_metadata_text(const char *text, const char *what, char **out,
                           struct sa_err *err) SA_WUR;
/* The Agent Server thread records' rows: each one's metadata column parsed into an object
 * in place ({} when it is not one). */
void sa_store_as_thread_rows(json_t *rows);

#endif
