/* Threads of the pipeline and conversation graphs: GET /api/threads/{id}/state (also the
 * original's GET /api/langgraph/state/{thread_id}) and GET /api/threads/{id}/history.
 * Both graphs share one checkpointer; a thread's checkpoints only decode with the graph
 * that wrote them, so a thread the pipeline cannot read is tried as a conversation. */
#include <string.h>

#include "agents/conversation.h"
#include "agents/pipeline.h"
#include "app/app.h"
#include "base/config.h"
#include "base/detail.h"
#include "base/log.h"
#include "graph/graph.h"
#include "http/http.h"

static bool thread_ok(struct sa_req *r, const char *id)
{
    size_t n = strlen(id);
    bool ok = n > 0 && n <= SA_THREAD_ID_MAX;
    for (size_t i = 0; ok && i < n; i++) {
        char c = id[i];
        ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
             c == '-' || c == '_' || c == '.' || c == ':' || c == '|';
    }
    if (!ok)
        sa_reply_error(r, 422, "validation_error", "path.thread_id", "string_pattern_mismatch",
                       "thread_id should be 1-%d characters of letters, digits, - _ . : |",
                       SA_THREAD_ID_MAX);
    return ok;
}

static void reply_graph_error(struct sa_req *r, int rc, const struct sa_err *err)
{
    if (rc == SA_ENOTFOUND)
        sa_reply_error(r, 404, "not_found", "path.thread_id", "not_found", "No thread %s",
                       r->params[0]);
    else
        sa_reply_error(r, 503, "service_unavailable", "", "store_error",
                       "The checkpoint store is unavailable; try again");
    if (rc != SA_ENOTFOUND)
        sa_log(SA_LOG_ERROR, "checkpoint store failed",
               json_pack("{s:s, s:s}", "error", err->msg, "request_id", r->request_id));
}

void sa_route_thread_state(struct sa_req *r)
{
    if (!thread_ok(r, r->params[0]))
        return;
    json_t *snap = NULL;
    struct sa_err err = {0};
    int rc = graph_get_state(sa_pipeline_graph(r->app->pipeline), r->params[0], NULL, &snap, &err);
    struct sa_err err2 = {0};
    if (rc == SA_ECONFLICT && r->app->conversation &&
        graph_get_state(sa_conversation_graph(r->app->conversation), r->params[0], NULL, &snap,
                        &err2) == 0)
        rc = 0;
    if (rc) {
        reply_graph_error(r, rc, &err);
        return;
    }
    sa_reply_json(r, 200, snap);
}

void sa_route_thread_history(struct sa_req *r)
{
    if (!thread_ok(r, r->params[0]))
        return;
    long limit = 50;
    const char *q = sa_req_query(r, "limit");
    if (q && sa_parse_long(q, 1, 1000, &limit)) {
        sa_reply_error(r, 422, "validation_error", "query.limit", "int_parsing",
                       "Input should be an integer from 1 to 1000");
        return;
    }
    json_t *hist = NULL;
    struct sa_err err = {0};
    int rc = graph_get_state_history(sa_pipeline_graph(r->app->pipeline), r->params[0], (int)limit,
                                     &hist, &err);
    struct sa_err err2 = {0};
    if (rc == SA_ECONFLICT && r->app->conversation &&
        graph_get_state_history(sa_conversation_graph(r->app->conversation), r->params[0],
                                (int)limit, &hist, &err2) == 0)
        rc = 0;
    if (rc) {
        reply_graph_error(r, rc, &err);
        return;
    }
    if (json_array_size(hist) == 0) {
        json_decref(hist);
        reply_graph_error(r, SA_ENOTFOUND, &err);
        return;
    }
    sa_reply_json(r, 200, json_pack("{s:s, s:o}", "thread_id", r->params[0], "history", hist));
}
