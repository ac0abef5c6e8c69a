/* The threads service: a thread's state and history, whichever graph wrote it. The
 * pipeline and the conversation agent share one checkpointer; a thread's checkpoints only
 * decode with the graph that wrote it, so this service asks the pipeline first and the
 * conversation graph when the pipeline says the thread is another graph's. */
#ifndef SA_APP_THREADS_H
#define SA_APP_THREADS_H

#include <jansson.h>

#include "base/err.h"

struct sa_app;

/* The thread's latest state snapshot (new reference; graph_get_state's shape), or
 * SA_ENOTFOUND with a message for the client. */
int sa_app_thread_state(struct sa_app *app, const char *thread_id, json_t **out,
                        struct sa_err *err) SA_WUR;
/* The thread's checkpoints, newest first, at most limit (new reference, a non-empty
 * array), or SA_ENOTFOUND with a message for the client. */
int sa_app_thread_history(struct sa_app *app, const char *thread_id, int limit, json_t **out,
                          struct sa_err *err) SA_WUR;

#endif
