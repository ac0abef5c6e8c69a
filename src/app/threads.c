/* The threads service (see threads.h). */
#include "app/threads.h"

#include "agents/conversation.h"
#include "agents/pipeline.h"
#include "app/app.h"
#include "graph/graph.h"

/* The graphs whose threads the API reads, in the order they are tried. */
static int graphs_of(struct sa_app *app, const struct graph *g[2])
{
    int n = 0;
    g[n++] = sa_pipeline_graph(app->pipeline);
    if (app->conversation)
        g[n++] = sa_conversation_graph(app->conversation);
    return n;
}

static int not_found(int rc, const char *thread_id, struct sa_err *err)
{
    if (rc == SA_ENOTFOUND || rc == SA_ECONFLICT)
        return sa_err_set(err, SA_ENOTFOUND, "No thread %s", thread_id);
    return rc;
}

int sa_app_thread_state(struct sa_app *app, const char *thread_id, json_t **out, struct sa_err *err)
{
    *out = NULL;
    const struct graph *g[2];
    int n = graphs_of(app, g), rc = SA_ENOTFOUND;
    /* SA_ECONFLICT: the thread is the other graph's */
    for (int i = 0; i < n && (i == 0 || rc == SA_ECONFLICT); i++)
        rc = graph_get_state(g[i], thread_id, NULL, out, err);
    return not_found(rc, thread_id, err);
}

int sa_app_thread_history(struct sa_app *app, const char *thread_id, int limit, json_t **out,
                          struct sa_err *err)
{
    *out = NULL;
    const struct graph *g[2];
    int n = graphs_of(app, g), rc = SA_ENOTFOUND;
    for (int i = 0; i < n && (i == 0 || rc == SA_ECONFLICT); i++)
        rc = graph_get_state_history(g[i], thread_id, limit, out, err);
    if (rc == 0 && json_array_size(*out) == 0) {
        json_decref(*out);
        *out = NULL;
        rc = SA_ENOTFOUND;
    }
    return not_found(rc, thread_id, err);
}
