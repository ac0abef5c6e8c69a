/* What each storage backend gives the registry in store.c: its store ops and the opener
 * of the checkpoint saver that lives beside it. Private to src/store/: callers go through
 * sa_store_open / sa_saver_open (store.h). */
#ifndef SA_STORE_BACKEND_H
#define SA_STORE_BACKEND_H

#include "store/store.h"

struct graph_saver;

struct sa_backend {
    const struct sa_store_ops *store; /* its scheme names the backend in DATABASE_URL */
    /* Opens the checkpoint saver for the same location as the store (what follows
     * "scheme:" and an optional "//"). *out is freed with graph_saver_free. Returns 0 or
     * a negative SA_* code with err set. */
    int (*saver_open)(const char *location, struct graph_saver **out, struct sa_err *err);
};

/* src/store/sqlite/ */
extern const struct sa_backend sa_backend_sqlite;

#endif
