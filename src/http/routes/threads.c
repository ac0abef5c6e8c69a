/* Threads of the pipeline and conversation graphs: GET /api/threads/{id}/state (also the
 * original's GET /api/langgraph/state/{thread_id}) and GET /api/threads/{id}/history. */
#include "app/app.h"
#include "app/threads.h"
#include "http/http.h"
#include "http/params.h"

void sa_route_thread_state(struct sa_req *r)
{
    if (!sa_param_thread_id(r, 0))
        return;
    json_t *snap = NULL;
    struct sa_err err = {0};
    int rc = sa_app_thread_state(r->app, r->params[0], &snap, &err);
    if (rc)
        sa_reply_failure(r, rc, &err, "path.thread_id", "Reading the thread");
    else
        sa_reply_json(r, 200, snap);
}

void sa_route_thread_history(struct sa_req *r)
{
    if (!sa_param_thread_id(r, 0))
        return;
    json_t *detail = json_array();
    long limit;
    sa_query_long(r, "limit", 1, 1000, 50, &limit, detail);
    if (json_array_size(detail)) {
        sa_reply_problem(r, 422, "validation_error", detail);
        return;
    }
    json_decref(detail);
    json_t *hist = NULL;
    struct sa_err err = {0};
    int rc = sa_app_thread_history(r->app, r->params[0], (int)limit, &hist, &err);
    if (rc)
        sa_reply_failure(r, rc, &err, "path.thread_id", "Reading the thread's history");
    else
        sa_reply_json(r, 200, json_pack("{s:s, s:o}", "thread_id", r->params[0], "history", hist));
}
