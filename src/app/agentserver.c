/* The Agent Server API service (see agentserver.h).
 *
 * Why runs live here and not in the run queue (app/runs.c): the queue's runs are the
 * pipeline on a lead, stored with their lead input so any worker of any instance can take
 * them. An Agent Server run may also resume an interrupt with a human's answer, run one
 * agent, or a conversation turn, and its client usually streams it from the request that
 * created it. So a run executes on a thread of its own in the process that took the
 * request (as the live streamed invoke does, http/routes/agents.c), its events are kept
 * with it for late readers (join, joinStream, wait), and only the last AS_MAX_RUNS runs
 * are remembered. The thread's state is the checkpointer's and its record (POST /threads:
 * created_at, metadata) the store's, both of which every instance shares; a run's record
 * is this process's (docs/scale-out.md routes a thread's requests to one instance).
 *
 * One lock guards the registry, every run's fields and the readers. A reader parks by
 * leaving its wake in the run; the run calls the wakes under the lock (the HTTP layer's
 * wake takes the server's park lock after ours, never the other way round), and a reader
 * unlinks itself under the lock, so no wake follows sa_as_reader_free. */
#include "app/agentserver.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agents/agent.h"
#include "agents/bdr.h"
#include "agents/conversation.h"
#include "agents/pipeline.h"
#include "app/app.h"
#include "app/approvals.h"
#include "app/invoke.h"
#include "app/threads.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/detail.h"
#include "base/json.h"
#include "base/log.h"
#include "base/thread.h"
#include "base/uuid.h"
#include "domain/lead.h"
#include "graph/graph.h"
#include "store/store.h"

#define AS_MAX_RUNS 512
#define AS_EVENTS_MAX ((size_t)16 << 20)
#define AS_SEARCH_MAX 1000      /* threads a search looks at */
#define AS_SEARCH_APPROVALS 500 /* pending approvals (then newest approvals) it looks at */
#define AS_EVENTS_KEPT 64       /* finished runs whose events are kept; older ones keep their end */

struct sa_as {
    pthread_mutex_t lock;
    struct sa_as_run *runs; /* newest first */
    int n_runs;
    /* the keep-alive ticker of waiting readers (started at the first wait that parks) */
    pthread_cond_t tick;
    pthread_t ticker;
    bool ticker_started, stopping;
};

struct sa_as_reader {
    struct sa_as_run *run;
    enum sa_as_read kind;
    size_t pos;   /* in run->events, or in the final text */
    bool tick;    /* WAIT, RUN: the ticker asks for a keep-alive newline */
    bool cancels; /* freed before the run ended: cancel it (on_disconnect "cancel") */
    char *final;
    size_t final_len;
    void (*wake)(void *arg); /* set while parked */
    void *wake_arg;
    struct sa_as_reader *next;
};

struct sa_as_run {
    struct sa_as *as;
    struct sa_app *app;
    int refs; /* the registry's, the running thread's, each reader's */
    bool listed;
    char run_id[SA_UUID_LEN];
    char thread_id[SA_THREAD_ID_MAX + 1];
    char assistant_id[32];
    int type; /* enum sa_agent_type, or SA_AGENT_PIPELINE */
    json_t *input, *response, *metadata;
    /* the thread's record's metadata as the run found it (NULL: no record), restored by
     * stamp_thread should retention delete the record meanwhile */
    json_t *thread_md;
    struct sa_lead lead;
    char approval_id[SA_UUID_LEN];
    char reviewer[160];
    unsigned modes;   /* the GRAPH_STREAM_* bits the client asked for */
    bool mode_events; /* stream_mode "events": accepted, nothing of it is sent */
    bool cancel_on_disconnect;
    const char *status;
    char created_at[SA_ISO8601_LEN], updated_at[SA_ISO8601_LEN];
    struct sa_buf events;
    bool events_dropped; /* an older finished run: a stream of it gets its summary */
    json_t *last_values;
    json_t *final;
    bool finished;
    volatile int cancel;
    struct sa_as_reader *readers;
    struct sa_as_run *next;
    void (*done)(void *arg);
    void *done_arg;
};

struct sa_as *sa_as_new(void)
{
    struct sa_as *as = calloc(1, sizeof *as);
    if (!as)
        return NULL;
    pthread_mutex_init(&as->lock, NULL);
    pthread_cond_init(&as->tick, NULL);
    return as;
}

static void run_free(struct sa_as_run *r)
{
    sa_buf_free(&r->events);
    json_decref(r->input);
    json_decref(r->response);
    json_decref(r->metadata);
    json_decref(r->thread_md);
    json_decref(r->last_values);
    json_decref(r->final);
    sa_lead_clear(&r->lead);
    free(r);
}

/* Lock held. */
static void run_unref_locked(struct sa_as_run *r)
{
    if (--r->refs == 0)
        run_free(r);
}

void sa_as_free(struct sa_as *as)
{
    if (!as)
        return;
    pthread_mutex_lock(&as->lock);
    as->stopping = true;
    pthread_cond_broadcast(&as->tick);
    bool started = as->ticker_started;
    pthread_mutex_unlock(&as->lock);
    if (started)
        pthread_join(as->ticker, NULL);
    pthread_cond_destroy(&as->tick);
    for (struct sa_as_run *r = as->runs, *n; r; r = n) {
        n = r->next;
        run_unref_locked(r);
    }
    pthread_mutex_destroy(&as->lock);
    free(as);
}

/* ---- assistants -------------------------------------------------------------------- */

static json_t *assistant_json(struct sa_app *app, const char *name, const char *description)
{
    return json_pack("{s:s, s:s, s:{}, s:{}, s:{s:s}, s:i, s:s, s:s, s:s, s:s}", "assistant_id",
                     name, "graph_id", name, "config", "context", "metadata", "created_by",
                     "system", "version", 1, "name", name, "description", description, "created_at",
                     app->started_at, "updated_at", app->started_at);
}

/* The assistant's type (SA_AGENT_PIPELINE or an agent), or -1. */
static int assistant_type(struct sa_app *app, const char *id)
{
    if (!id)
        return -1;
    if (strcmp(id, "pipeline") == 0)
        return SA_AGENT_PIPELINE;
    int t = sa_agent_type_parse(id);
    if (t < 0 || !sa_agents_implemented(app->agents, (enum sa_agent_type)t))
        return -1;
    return t;
}

json_t *sa_as_assistants(struct sa_app *app)
{
    json_t *out = json_array();
    json_array_append_new(
        out, assistant_json(app, "pipeline",
                            "The lead pipeline: enrichment, qualification, growth, marketing and "
                            "the BDR outreach with its human approval"));
    for (int t = 0; t < SA_AGENT_COUNT; t++) {
        if (!sa_agents_implemented(app->agents, (enum sa_agent_type)t))
            continue;
        const char *name = sa_agent_type_name((enum sa_agent_type)t);
        char desc[160];
        snprintf(desc, sizeof desc, "The %s agent%s", name,
                 sa_app_invoke_runs_graph(app, t) ? " (runs the pipeline through its step)" : "");
        json_array_append_new(out, assistant_json(app, name, desc));
    }
    return out;
}

json_t *sa_as_assistant(struct sa_app *app, const char *id)
{
    json_t *all = sa_as_assistants(app), *found = NULL;
    size_t i;
    json_t *a;
    json_array_foreach(all, i, a) if (!found && strcmp(sa_json_str(a, "assistant_id"), id) == 0)
        found = json_incref(a);
    json_decref(all);
    return found;
}

/* ---- threads ----------------------------------------------------------------------- */

/* LangGraph's Interrupt {value, id} from ours {id, value, node}. */
static json_t *interrupt_json(const json_t *it)
{
    return json_pack("{s:O?, s:O?}", "value", json_object_get(it, "value"), "id",
                     json_object_get(it, "id"));
}

/* Our snapshot (graph_get_state) as the SDK's ThreadState; takes snap. */
static json_t *thread_state_of(json_t *snap)
{
    const json_t *cfg = json_object_get(snap, "config");
    const char *thread = sa_json_str(cfg, "thread_id") ?: "";
    const char *cp = sa_json_str(cfg, "checkpoint_id") ?: "";
    const json_t *parent = json_object_get(snap, "parent_config");
    json_t *tasks = json_array(), *all = json_array();
    size_t i, k;
    json_t *t, *it;
    json_array_foreach(json_object_get(snap, "tasks"), i, t)
    {
        json_t *ints = json_array();
        json_array_foreach(json_object_get(t, "interrupts"), k, it)
        {
            json_array_append_new(ints, interrupt_json(it));
            json_array_append_new(all, interrupt_json(it));
        }
        char id[128];
        snprintf(id, sizeof id, "%.40s:%.60s", cp, sa_json_str(t, "name") ?: "");
        json_array_append_new(tasks,
                              json_pack("{s:s, s:O?, s:n, s:o, s:n, s:n, s:n}", "id", id, "name",
                                        json_object_get(t, "name"), "error", "interrupts", ints,
                                        "checkpoint", "state", "result"));
    }
    json_t *out = json_pack(
        "{s:O?, s:O?, s:{s:s, s:s, s:s, s:n}, s:O?, s:O?, s:o, s:o, s:o}", "values",
        json_object_get(snap, "values"), "next", json_object_get(snap, "next"), "checkpoint",
        "thread_id", thread, "checkpoint_ns", "", "checkpoint_id", cp, "checkpoint_map", "metadata",
        json_object_get(snap, "metadata"), "created_at", json_object_get(snap, "created_at"),
        "parent_checkpoint",
        json_is_object(parent)
            ? json_pack("{s:O?, s:s, s:O?, s:n}", "thread_id", json_object_get(parent, "thread_id"),
                        "checkpoint_ns", "", "checkpoint_id",
                        json_object_get(parent, "checkpoint_id"), "checkpoint_map")
            : json_null(),
        "tasks", tasks, "interrupts", all);
    json_decref(snap);
    return out;
}

/* An empty ThreadState: a created thread before its first run. */
static json_t *empty_state(const char *thread_id, const json_t *created)
{
    return json_pack(
        "{s:{}, s:[], s:{s:s, s:s, s:n, s:n}, s:O?, s:O?, s:n, s:[], s:[]}", "values", "next",
        "checkpoint", "thread_id", thread_id, "checkpoint_ns", "", "checkpoint_id",
        "checkpoint_map", "metadata", json_object_get(created, "metadata"), "created_at",
        json_object_get(created, "created_at"), "parent_checkpoint", "tasks", "interrupts");
}

/* The created thread's record (*out, new reference: {thread_id, created_at, updated_at,
 * metadata}) from the store, which every instance shares: 0, SA_ENOTFOUND (the thread was
 * not created through POST /threads or a run's if_not_exists, or only has checkpoints) or
 * the store's error. */
static int created_thread(struct sa_app *app, const char *thread_id, json_t **out,
                          struct sa_err *err)
{
    return sa_store_as_thread_get(app->store, thread_id, out, err);
}

/* Records the created thread in the store unless it has a record; *inserted (optional)
 * says whether this call made it (of concurrent callers on any instance, one does). */
static int remember_thread(struct sa_app *app, const char *thread_id, const json_t *metadata,
                           bool *inserted, struct sa_err *err)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    char *md = json_is_object(metadata) ? json_dumps(metadata, JSON_COMPACT) : NULL;
    if (json_is_object(metadata) && !md)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    bool ins = false;
    int rc = sa_store_as_thread_put(app->store, thread_id, md, now, &ins, err);
    free(md);
    if (inserted)
        *inserted = ins;
    return rc;
}

int sa_as_thread_state(struct sa_app *app, const char *thread_id, json_t **out, struct sa_err *err)
{
    *out = NULL;
    json_t *snap = NULL;
    int rc = sa_app_thread_state(app, thread_id, &snap, err);
    if (rc == SA_ENOTFOUND) {
        json_t *c = NULL;
        rc = created_thread(app, thread_id, &c, err);
        if (rc == 0) {
            *out = empty_state(thread_id, c);
            json_decref(c);
            return 0;
        }
        return rc == SA_ENOTFOUND
                   ? sa_err_set(err, SA_ENOTFOUND, "Thread %.128s not found", thread_id)
                   : rc;
    }
    if (rc)
        return rc;
    *out = thread_state_of(snap);
    return 0;
}

int sa_as_thread_state_at(struct sa_app *app, const char *thread_id, const char *checkpoint_id,
                          json_t **out, struct sa_err *err)
{
    *out = NULL;
    const struct graph *g[2] = {sa_pipeline_graph(app->pipeline), NULL};
    int n = 1, rc = SA_ENOTFOUND;
    if (app->conversation)
        g[n++] = sa_conversation_graph(app->conversation);
    json_t *snap = NULL;
    /* SA_ECONFLICT: the thread is the other graph's */
    for (int i = 0; i < n && (i == 0 || rc == SA_ECONFLICT); i++)
        rc = graph_get_state(g[i], thread_id, checkpoint_id, &snap, err);
    if (rc == SA_ENOTFOUND || rc == SA_ECONFLICT)
        return sa_err_set(err, SA_ENOTFOUND, "Thread %.128s has no checkpoint %.64s", thread_id,
                          checkpoint_id);
    if (rc)
        return rc;
    *out = thread_state_of(snap);
    return 0;
}

int sa_as_thread_history(struct sa_app *app, const char *thread_id, int limit, json_t **out,
                         struct sa_err *err)
{
    *out = NULL;
    json_t *hist = NULL;
    int rc = sa_app_thread_history(app, thread_id, limit, &hist, err);
    if (rc == SA_ENOTFOUND) {
        json_t *c = NULL;
        rc = created_thread(app, thread_id, &c, err);
        if (rc == SA_ENOTFOUND)
            return sa_err_set(err, SA_ENOTFOUND, "Thread %.128s not found", thread_id);
        if (rc)
            return rc;
        json_decref(c);
        *out = json_array();
        return 0;
    }
    if (rc)
        return rc;
    *out = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(hist, i, s) json_array_append_new(*out, thread_state_of(json_incref(s)));
    json_decref(hist);
    return 0;
}

/* The newest run on the thread (a new reference of it is not needed: lock held). */
static struct sa_as_run *newest_run_locked(struct sa_as *as, const char *thread_id)
{
    for (struct sa_as_run *r = as->runs; r; r = r->next)
        if (strcmp(r->thread_id, thread_id) == 0)
            return r;
    return NULL;
}

/* The graph an assistant's runs write: the pipeline's for the agents that are its steps. */
static const char *graph_of(struct sa_app *app, int type)
{
    return sa_app_invoke_runs_graph(app, type) ? "pipeline"
                                               : sa_agent_type_name((enum sa_agent_type)type);
}

int sa_as_thread_get(struct sa_app *app, const char *thread_id, json_t **out, struct sa_err *err)
{
    *out = NULL;
    json_t *st = NULL;
    int rc = sa_as_thread_state(app, thread_id, &st, err);
    if (rc)
        return rc;
    json_t *c = NULL;
    rc = created_thread(app, thread_id, &c, err);
    if (rc && rc != SA_ENOTFOUND) {
        json_decref(st);
        return rc;
    }
    struct sa_as *as = app->agentserver;
    pthread_mutex_lock(&as->lock);
    struct sa_as_run *last = newest_run_locked(as, thread_id);
    const char *status = last && !last->finished                              ? "busy"
                         : json_array_size(json_object_get(st, "interrupts")) ? "interrupted"
                         : last && strcmp(last->status, "error") == 0         ? "error"
                                                                              : "idle";
    char updated[SA_ISO8601_LEN] = "", graph[32] = "";
    if (last) {
        memcpy(updated, last->updated_at, sizeof updated);
        snprintf(graph, sizeof graph, "%s", graph_of(app, last->type));
    }
    pthread_mutex_unlock(&as->lock);
    json_t *ints = json_object();
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(st, "tasks"), i, t)
    {
        if (json_array_size(json_object_get(t, "interrupts")))
            json_object_set(ints, sa_json_str(t, "id"), json_object_get(t, "interrupts"));
    }
    const json_t *created_at = c ? json_object_get(c, "created_at") : NULL;
    if (!json_is_string(created_at))
        created_at = json_object_get(st, "created_at");
    /* the later of the state's last checkpoint and the record's last change */
    const json_t *state_at = json_object_get(st, "created_at");
    const json_t *rec_at = c ? json_object_get(c, "updated_at") : NULL;
    const json_t *updated_at = state_at;
    if (json_is_string(rec_at) &&
        (!json_is_string(state_at) ||
         strcmp(json_string_value(rec_at), json_string_value(state_at)) > 0))
        updated_at = rec_at;
    *out = json_pack("{s:s, s:O?, s:O?, s:O?, s:O?, s:s, s:O, s:o}", "thread_id", thread_id,
                     "created_at", created_at, "updated_at", updated_at, "state_updated_at",
                     state_at, "metadata", c ? json_object_get(c, "metadata") : NULL, "status",
                     status, "values", json_object_get(st, "values"), "interrupts", ints);
    if (*out && updated[0])
        json_object_set_new(*out, "updated_at", json_string(updated));
    if (*out && !json_is_object(json_object_get(*out, "metadata")))
        json_object_set_new(*out, "metadata", json_object());
    /* Agent Inbox lists an inbox's threads by metadata graph_id, as the LangGraph server
     * writes it: the graph of the thread's last run, else of its checkpoints */
    json_t *md = json_object_get(*out, "metadata");
    if (md && !json_object_get(md, "graph_id")) {
        json_t *own = json_deep_copy(md);
        if (!graph[0] && json_object_size(json_object_get(st, "values")))
            snprintf(graph, sizeof graph, "%s",
                     sa_as_thread_guarded(app, thread_id) ? "pipeline" : "conversation");
        if (graph[0]) {
            json_object_set_new(own, "graph_id", json_string(graph));
            json_object_set_new(own, "assistant_id", json_string(graph));
        }
        json_object_set_new(*out, "metadata", own);
    }
    json_decref(c);
    json_decref(st);
    return *out ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}

int sa_as_thread_create(struct sa_app *app, const char *thread_id, const json_t *body,
                        json_t *detail, json_t **out, struct sa_err *err)
{
    *out = NULL;
    const json_t *md = json_object_get(body, "metadata");
    const json_t *ie = json_object_get(body, "if_exists");
    char id[SA_THREAD_ID_MAX + 1];
    if (thread_id)
        snprintf(id, sizeof id, "%s", thread_id);
    else
        sa_uuid_v4(id);
    if (md && !json_is_null(md) && !json_is_object(md))
        sa_detail_add(detail, "body.metadata", "dict_type", "Input should be an object");
    const char *if_exists = "raise";
    if (ie && !json_is_null(ie)) {
        if_exists = json_string_value(ie);
        if (!if_exists ||
            (strcmp(if_exists, "raise") != 0 && strcmp(if_exists, "do_nothing") != 0)) {
            sa_detail_add(detail, "body.if_exists", "enum",
                          "Input should be 'raise' or 'do_nothing'");
            if_exists = "raise";
        }
    }
    if (json_object_get(body, "supersteps"))
        sa_detail_add(detail, "body.supersteps", "not_supported",
                      "supersteps are not supported; update the state after creating the "
                      "thread (POST /threads/{thread_id}/state)");
    if (json_array_size(detail))
        return SA_EINVAL;
    json_t *existing = NULL;
    struct sa_err e2 = {0};
    int rc = sa_as_thread_get(app, id, &existing, &e2);
    if (rc == 0) {
        if (strcmp(if_exists, "raise") == 0) {
            json_decref(existing);
            return sa_err_set(err, SA_ECONFLICT, "Thread already exists");
        }
        *out = existing;
        return 0;
    }
    if (rc != SA_ENOTFOUND) {
        *err = e2;
        return rc;
    }
    bool inserted = false;
    rc = remember_thread(app, id, md, &inserted, err);
    if (rc)
        return rc;
    if (!inserted && strcmp(if_exists, "raise") == 0) /* another request made it meanwhile */
        return sa_err_set(err, SA_ECONFLICT, "Thread already exists");
    return sa_as_thread_get(app, id, out, err);
}

/* Adds id to ids once (seen: the ids so far), up to AS_SEARCH_MAX. */
static void add_candidate(json_t *ids, json_t *seen, const char *id)
{
    if (id && !json_object_get(seen, id) && json_array_size(ids) < AS_SEARCH_MAX) {
        json_object_set_new(seen, id, json_true());
        json_array_append_new(ids, json_string(id));
    }
}

/* The approvals' threads, newest first, of status (NULL: any) into ids. */
static void add_approval_threads(struct sa_app *app, const char *status, json_t *ids, json_t *seen)
{
    json_t *approvals = NULL;
    struct sa_err e = {0};
    if (sa_app_approvals_list(app->store, status, AS_SEARCH_APPROVALS, &approvals, &e))
        return;
    size_t i;
    json_t *a;
    json_array_foreach(approvals, i, a) add_candidate(ids, seen, sa_json_str(a, "thread_id"));
    json_decref(approvals);
}

/* The threads search looks at, each once, at most AS_SEARCH_MAX: the threads of the
 * pending approvals first (the interrupted threads an inbox lists: however many threads
 * were created, they are looked at), then this process's runs' threads, the created
 * threads whose stored metadata matches md (NULL: any; the store's records, whichever
 * instance made them, last updated first) and the threads of the newest approvals, each
 * newest first. The caller still matches each thread as GET /threads/{id} shows it. */
static int search_candidates(struct sa_app *app, const json_t *md, json_t **out, struct sa_err *err)
{
    *out = NULL;
    char *filter = json_is_object(md) ? json_dumps(md, JSON_COMPACT) : NULL;
    if (json_is_object(md) && !filter)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    json_t *stored = NULL;
    int rc = sa_store_as_thread_search(app->store, filter, AS_SEARCH_MAX, 0, &stored, err);
    free(filter);
    if (rc)
        return rc;
    struct sa_as *as = app->agentserver;
    json_t *seen = json_object(), *ids = json_array();
    add_approval_threads(app, "pending", ids, seen);
    json_t *local = json_array();
    pthread_mutex_lock(&as->lock);
    for (struct sa_as_run *r = as->runs; r; r = r->next)
        json_array_append_new(local, json_string(r->thread_id));
    pthread_mutex_unlock(&as->lock);
    size_t i;
    json_t *v;
    json_array_foreach(local, i, v) add_candidate(ids, seen, json_string_value(v));
    json_decref(local);
    json_array_foreach(stored, i, v) add_candidate(ids, seen, sa_json_str(v, "thread_id"));
    json_decref(stored);
    add_approval_threads(app, NULL, ids, seen);
    json_decref(seen);
    *out = ids;
    return 0;
}

/* Every key of want equals the thread's metadata's. */
static bool metadata_matches(const json_t *have, const json_t *want)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)want, k,
                        v) if (!json_equal(v, json_object_get(have, k))) return false;
    return true;
}

int sa_as_thread_search(struct sa_app *app, const json_t *body, json_t *detail, json_t **out,
                        struct sa_err *err)
{
    *out = NULL;
    static const char *const statuses[] = {"idle", "busy", "interrupted", "error", NULL};
    const json_t *st = json_object_get(body, "status");
    const json_t *md = json_object_get(body, "metadata");
    const json_t *ids = json_object_get(body, "ids");
    const json_t *lim = json_object_get(body, "limit");
    const json_t *off = json_object_get(body, "offset");
    bool ok = !st || json_is_null(st);
    for (int i = 0; !ok && statuses[i]; i++)
        ok = json_is_string(st) && strcmp(json_string_value(st), statuses[i]) == 0;
    if (!ok)
        sa_detail_add(detail, "body.status", "enum",
                      "Input should be 'idle', 'busy', 'interrupted' or 'error'");
    if (md && !json_is_null(md) && !json_is_object(md))
        sa_detail_add(detail, "body.metadata", "dict_type", "Input should be an object");
    if (ids && !json_is_null(ids) && !json_is_array(ids))
        sa_detail_add(detail, "body.ids", "list_type", "Input should be a list of thread ids");
    else if (json_array_size(ids) > AS_SEARCH_MAX)
        sa_detail_add(detail, "body.ids", "too_long", "ids should list at most %d thread ids",
                      AS_SEARCH_MAX);
    if (lim && !json_is_null(lim) &&
        (!json_is_integer(lim) || json_integer_value(lim) < 1 || json_integer_value(lim) > 1000))
        sa_detail_add(detail, "body.limit", "int_type", "Input should be an integer 1-1000");
    if (off && !json_is_null(off) && (!json_is_integer(off) || json_integer_value(off) < 0))
        sa_detail_add(detail, "body.offset", "int_type", "Input should be an integer >= 0");
    /* sort_by and sort_order are ignored: the answer is newest first */
    static const char *const unsupported[] = {"values", "select", "extract", NULL};
    for (int i = 0; unsupported[i]; i++) {
        const json_t *v = json_object_get(body, unsupported[i]);
        if (v && !json_is_null(v)) {
            char loc[32];
            snprintf(loc, sizeof loc, "body.%s", unsupported[i]);
            sa_detail_add(detail, loc, "not_supported", "%s is not supported by this server",
                          unsupported[i]);
        }
    }
    if (json_array_size(detail))
        return SA_EINVAL;
    json_int_t limit = json_is_integer(lim) ? json_integer_value(lim) : 10;
    json_int_t offset = json_is_integer(off) ? json_integer_value(off) : 0;
    json_t *cand = NULL;
    int rc = 0;
    if (json_is_array(ids))
        cand = json_incref((json_t *)ids);
    else if ((rc = search_candidates(app, md, &cand, err)))
        return rc;
    json_t *res = json_array();
    json_int_t matched = 0;
    size_t i;
    json_t *c;
    json_array_foreach(cand, i, c)
    {
        if ((json_int_t)json_array_size(res) >= limit)
            break;
        const char *id = json_string_value(c);
        json_t *t = NULL;
        struct sa_err e = {0};
        int one = id ? sa_as_thread_get(app, id, &t, &e) : SA_ENOTFOUND;
        if (one == SA_ENOTFOUND)
            continue;
        if (one) {
            rc = one;
            *err = e;
            break;
        }
        if ((json_is_string(st) && strcmp(sa_json_str(t, "status"), json_string_value(st)) != 0) ||
            (json_is_object(md) && !metadata_matches(json_object_get(t, "metadata"), md)) ||
            matched++ < offset)
            json_decref(t);
        else
            json_array_append_new(res, t);
    }
    json_decref(cand);
    if (rc) {
        json_decref(res);
        return rc;
    }
    *out = res;
    return 0;
}

bool sa_as_thread_guarded(struct sa_app *app, const char *thread_id)
{
    json_t *snap = NULL;
    struct sa_err e = {0};
    int rc = graph_get_state(sa_pipeline_graph(app->pipeline), thread_id, NULL, &snap, &e);
    json_decref(snap);
    return rc == 0 || rc == SA_ENOTFOUND;
}

static bool thread_busy(struct sa_as *as, const char *thread_id)
{
    pthread_mutex_lock(&as->lock);
    struct sa_as_run *last = newest_run_locked(as, thread_id);
    bool busy = last && !last->finished;
    pthread_mutex_unlock(&as->lock);
    return busy;
}

/* SA_ECONFLICT naming the approval when the pipeline thread waits on one: a state write
 * would make a checkpoint past its interrupt and leave the approval pending with nothing
 * to resume (see README, "Agent Server API: approvals stay consistent"); 0 when it waits
 * on none. (A new run with input starts the thread over and supersedes the approval.) */
static int refuse_if_pending(struct sa_app *app, const char *thread_id, const char *what,
                             struct sa_err *err)
{
    char id[SA_UUID_LEN];
    json_t *request = NULL;
    struct sa_err e = {0};
    int rc = sa_app_approval_pending(app, thread_id, id, &request, &e);
    json_decref(request);
    if (rc == SA_ENOTFOUND)
        return 0;
    if (rc) {
        *err = e;
        return rc;
    }
    return sa_err_set(err, SA_ECONFLICT,
                      "Thread %.128s waits on approval %s: answer it (command.resume, or POST "
                      "/api/approvals/%s) before %s",
                      thread_id, id, id, what);
}

int sa_as_thread_update(struct sa_app *app, const char *thread_id, const json_t *body,
                        json_t *detail, json_t **out, struct sa_err *err)
{
    *out = NULL;
    const json_t *values = json_object_get(body, "values");
    const json_t *as_node = json_object_get(body, "as_node");
    const json_t *cp = json_object_get(body, "checkpoint_id");
    if (!json_is_object(values))
        sa_detail_add(detail, "body.values", "dict_type",
                      "Input should be an object of channel values");
    if (as_node && !json_is_null(as_node) && !json_is_string(as_node))
        sa_detail_add(detail, "body.as_node", "string_type", "Input should be a node name");
    if (cp && !json_is_null(cp) && !json_is_string(cp))
        sa_detail_add(detail, "body.checkpoint_id", "string_type",
                      "Input should be a checkpoint id");
    if (json_array_size(detail))
        return SA_EINVAL;
    if (thread_busy(app->agentserver, thread_id))
        return sa_err_set(err, SA_ECONFLICT, "Thread %.128s has a run in progress", thread_id);
    int rc = refuse_if_pending(app, thread_id, "writing its state", err);
    if (rc)
        return rc;
    /* the graph whose checkpoints the thread holds: SA_ECONFLICT from graph_get_state
     * means the other graph's, so it is looked up before the write; a conflict of the
     * write itself is then the thread's run or compaction (whichever instance holds it) */
    const struct graph *g[2] = {sa_pipeline_graph(app->pipeline), NULL}, *own = NULL;
    int n = 1;
    if (app->conversation)
        g[n++] = sa_conversation_graph(app->conversation);
    for (int i = 0; i < n && !own; i++) {
        json_t *snap = NULL;
        rc = graph_get_state(g[i], thread_id, NULL, &snap, err);
        json_decref(snap);
        if (rc == 0)
            own = g[i];
        else if (rc != SA_ENOTFOUND && rc != SA_ECONFLICT)
            return rc;
    }
    if (!own)
        return sa_err_set(err, SA_ENOTFOUND,
                          "Thread %.128s has no checkpoint to update (run it first)", thread_id);
    char new_id[40];
    rc = graph_update_state(own, thread_id, json_string_value(cp), values,
                            json_string_value(as_node), new_id, err);
    if (rc == SA_ECONFLICT)
        return sa_err_set(err, SA_ECONFLICT,
                          "Thread %.128s is busy (a run holds it, here or on another instance); "
                          "try again when it ended",
                          thread_id);
    if (rc == SA_EINVAL) {
        sa_detail_add(detail, "body.values", "value_error", "%s", err->msg);
        return SA_EINVAL;
    }
    if (rc)
        return rc;
    *out = json_pack("{s:{s:s, s:s, s:s, s:n}}", "checkpoint", "thread_id", thread_id,
                     "checkpoint_ns", "", "checkpoint_id", new_id, "checkpoint_map");
    return 0;
}

/* ---- runs: events ------------------------------------------------------------------ */

static const char *const mode_names[] = {
    "values",         "updates", "custom",      "messages", "debug",
    "messages-tuple", "tasks",   "checkpoints", "events",   NULL};
static const unsigned mode_bits[] = {
    GRAPH_STREAM_VALUES,   GRAPH_STREAM_UPDATES,     GRAPH_STREAM_CUSTOM,
    GRAPH_STREAM_MESSAGES, GRAPH_STREAM_DEBUG,       GRAPH_STREAM_MESSAGES,
    GRAPH_STREAM_TASKS,    GRAPH_STREAM_CHECKPOINTS, 0};

static const char *event_name(enum graph_stream_mode mode)
{
    switch (mode) {
    case GRAPH_STREAM_VALUES: return "values";
    case GRAPH_STREAM_UPDATES: return "updates";
    case GRAPH_STREAM_CUSTOM: return "custom";
    case GRAPH_STREAM_MESSAGES: return "messages";
    case GRAPH_STREAM_DEBUG: return "debug";
    case GRAPH_STREAM_TASKS: return "tasks";
    case GRAPH_STREAM_CHECKPOINTS: return "checkpoints";
    default: return "custom";
    }
}

/* Lock held: wakes every parked reader. */
static void wake_readers_locked(struct sa_as_run *r)
{
    for (struct sa_as_reader *rd = r->readers; rd; rd = rd->next) {
        if (rd->wake) {
            void (*w)(void *) = rd->wake;
            rd->wake = NULL;
            w(rd->wake_arg);
        }
    }
}

static void emit(struct sa_as_run *r, const char *event, const json_t *data)
{
    char *text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(12));
    pthread_mutex_lock(&r->as->lock);
    if (sa_buf_printf(&r->events, "event: %s\ndata: %s\n\n", event, text ? text : "null"))
        sa_log(SA_LOG_ERROR, "run events over their cap; event dropped",
               json_pack("{s:s, s:s}", "run_id", r->run_id, "event", event));
    wake_readers_locked(r);
    pthread_mutex_unlock(&r->as->lock);
    free(text);
}

static void on_graph_event(enum graph_stream_mode mode, const json_t *data, void *arg)
{
    struct sa_as_run *r = arg;
    if (mode == GRAPH_STREAM_VALUES) {
        pthread_mutex_lock(&r->as->lock);
        json_decref(r->last_values);
        r->last_values = json_deep_copy(data);
        pthread_mutex_unlock(&r->as->lock);
    }
    if (r->modes & (unsigned)mode)
        emit(r, event_name(mode), data);
}

static void set_status(struct sa_as_run *r, const char *status)
{
    pthread_mutex_lock(&r->as->lock);
    r->status = status;
    sa_iso8601_now(r->updated_at);
    pthread_mutex_unlock(&r->as->lock);
}

/* The pending interrupts of the run's thread as LangGraph's [{value, id}] (new
 * reference; empty when none or unreadable). */
static json_t *pending_interrupts(struct sa_as_run *r)
{
    json_t *st = NULL;
    struct sa_err e = {0};
    if (sa_as_thread_state(r->app, r->thread_id, &st, &e))
        return json_array();
    json_t *ints = json_incref(json_object_get(st, "interrupts"));
    json_decref(st);
    return json_is_array(ints) ? ints : (json_decref(ints), json_array());
}

/* What a client reads about a failed run: the service's words for a conflict or a
 * missing thing, else what failed and the run id (the detail is logged). */
static json_t *client_error(const struct sa_as_run *r, int rc, const struct sa_err *err)
{
    char text[320];
    if (rc == SA_ECONFLICT || rc == SA_ENOTFOUND || rc == SA_EPRECONDITION || rc == SA_EINVAL ||
        rc == SA_ECANCELED)
        snprintf(text, sizeof text, "%s", err->msg[0] ? err->msg : sa_strerror(rc));
    else
        snprintf(text, sizeof text, "Running %s failed: %s (run %s)", r->assistant_id,
                 sa_strerror(rc), r->run_id);
    return json_pack("{s:s, s:s}", "error", sa_errname(rc), "message", text);
}

/* The answer to the approval the run resumes, with its events. */
static int run_decision(struct sa_as_run *r, struct sa_err *err)
{
    struct sa_decide_stream st = {.modes = r->modes | GRAPH_STREAM_VALUES,
                                  .on_event = on_graph_event,
                                  .arg = r,
                                  .cancel = &r->cancel};
    json_t *detail = json_array(), *out = NULL;
    bool stored = false;
    int rc =
        sa_app_decide_run(r->app, r->approval_id, r->response, r->reviewer[0] ? r->reviewer : NULL,
                          &st, detail, &out, &stored, err);
    if (rc == SA_EINVAL && json_array_size(detail))
        sa_err_set(err, rc, "%s",
                   sa_json_str(json_array_get(detail, 0), "msg") ?: "invalid HumanResponse");
    else if (rc == 0 && json_is_true(json_object_get(out, "duplicate")))
        rc = sa_err_set(err, SA_ECONFLICT, "approval %s was already answered", r->approval_id);
    else if (rc == 0 && json_is_null(json_object_get(out, "run")))
        rc = sa_err_set(err, SA_ECONFLICT, "the thread is being continued by another request");
    json_decref(detail);
    json_decref(out);
    return rc;
}

/* One agent's run that is no graph: its output as the one step's events. */
static void agent_events(struct sa_as_run *r, const json_t *output)
{
    json_t *upd = json_pack("{s:O}", r->assistant_id, output);
    if (r->modes & GRAPH_STREAM_UPDATES)
        emit(r, "updates", upd);
    json_decref(upd);
    pthread_mutex_lock(&r->as->lock);
    json_decref(r->last_values);
    r->last_values = json_deep_copy(output);
    pthread_mutex_unlock(&r->as->lock);
    if (r->modes & GRAPH_STREAM_VALUES)
        emit(r, "values", output);
}

static void *run_main(void *arg)
{
    struct sa_as_run *r = arg;
    json_t *meta = json_pack("{s:s, s:i, s:s, s:s}", "run_id", r->run_id, "attempt", 1, "thread_id",
                             r->thread_id, "assistant_id", r->assistant_id);
    emit(r, "metadata", meta);
    json_decref(meta);
    set_status(r, "running");
    struct sa_err err = {0};
    int rc;
    bool graph = sa_app_invoke_runs_graph(r->app, r->type);
    if (r->approval_id[0]) {
        rc = run_decision(r, &err);
    } else {
        struct sa_invoke_req req = {.type = (enum sa_agent_type)r->type,
                                    .lead = r->lead.raw ? &r->lead : NULL,
                                    .input = r->lead.raw ? NULL : r->input,
                                    .thread_id = r->thread_id,
                                    .stream_modes = r->modes | GRAPH_STREAM_VALUES,
                                    .on_event = on_graph_event,
                                    .event_arg = r,
                                    .cancel = &r->cancel,
                                    .run_id = r->run_id};
        struct sa_invoke_res res = {0};
        rc = sa_app_invoke(r->app, &req, &res, &err);
        if (rc == 0 && !graph)
            agent_events(r, res.output);
        sa_invoke_res_clear(&res);
    }
    const char *status = "success";
    json_t *final = NULL;
    if (rc == 0 || rc == SA_ECANCELED) {
        json_t *ints = graph ? pending_interrupts(r) : json_array();
        pthread_mutex_lock(&r->as->lock);
        final = r->last_values ? json_deep_copy(r->last_values) : json_object();
        pthread_mutex_unlock(&r->as->lock);
        if (json_array_size(ints)) {
            status = "interrupted";
            json_t *upd = json_pack("{s:O}", "__interrupt__", ints);
            if (r->modes & GRAPH_STREAM_UPDATES)
                emit(r, "updates", upd);
            json_decref(upd);
            json_object_set(final, "__interrupt__", ints);
            if (r->modes & GRAPH_STREAM_VALUES)
                emit(r, "values", final);
        }
        if (rc == SA_ECANCELED)
            status = "interrupted";
        json_decref(ints);
    } else {
        sa_log(SA_LOG_WARN, "agent server run failed",
               json_pack("{s:s, s:s, s:s}", "run_id", r->run_id, "error_code", sa_errname(rc),
                         "error", err.msg));
        json_t *e = client_error(r, rc, &err);
        emit(r, "error", e);
        status = "error";
        final = json_pack("{s:o}", "__error__", e);
    }
    emit(r, "end", json_null());
    struct sa_as *as = r->as;
    pthread_mutex_lock(&as->lock);
    r->final = final;
    r->status = status;
    sa_iso8601_now(r->updated_at);
    r->finished = true;
    wake_readers_locked(r);
    void (*done)(void *) = r->done;
    void *done_arg = r->done_arg;
    run_unref_locked(r);
    pthread_mutex_unlock(&as->lock);
    if (done)
        done(done_arg);
    return NULL;
}

/* ---- runs: preparing and starting -------------------------------------------------- */

static void parse_modes(const json_t *sm, struct sa_as_run *r, json_t *detail)
{
    if (!sm || json_is_null(sm)) {
        r->modes = GRAPH_STREAM_VALUES; /* LangGraph's default */
        return;
    }
    json_t *list = json_is_string(sm) ? json_pack("[O]", sm) : json_incref((json_t *)sm);
    if (!json_is_array(list)) {
        sa_detail_add(detail, "body.stream_mode", "list_type",
                      "stream_mode should be a mode or a list of modes");
        json_decref(list);
        return;
    }
    size_t i;
    json_t *x;
    json_array_foreach(list, i, x)
    {
        const char *m = json_string_value(x);
        int k = -1;
        for (int j = 0; m && mode_names[j]; j++)
            if (strcmp(m, mode_names[j]) == 0)
                k = j;
        if (k < 0) {
            char loc[48];
            snprintf(loc, sizeof loc, "body.stream_mode.%zu", i);
            sa_detail_add(detail, loc, "enum",
                          "Input should be one of: values, updates, messages, messages-tuple, "
                          "custom, debug, tasks, checkpoints, events");
            continue;
        }
        r->modes |= mode_bits[k];
        r->mode_events |= mode_bits[k] == 0;
    }
    json_decref(list);
}

/* Ignored fields the SDK sends (config, context, ...) are not checked; those that would
 * change what runs or what happens after it (webhook, after_seconds) are refused when we
 * cannot honour them. */
static void parse_options(const json_t *body, struct sa_as_run *r, json_t *detail)
{
    const json_t *md = json_object_get(body, "metadata");
    if (md && !json_is_null(md) && !json_is_object(md))
        sa_detail_add(detail, "body.metadata", "dict_type", "Input should be an object");
    r->metadata = json_is_object(md) ? json_deep_copy(md) : json_object();
    const json_t *ms = json_object_get(body, "multitask_strategy");
    if (ms && !json_is_null(ms) &&
        (!json_is_string(ms) || strcmp(json_string_value(ms), "reject") != 0))
        sa_detail_add(detail, "body.multitask_strategy", "enum",
                      "Only 'reject' is supported: a thread runs one run at a time (409 "
                      "while busy)");
    const json_t *od = json_object_get(body, "on_disconnect");
    if (od && !json_is_null(od)) {
        const char *v = json_string_value(od);
        if (!v || (strcmp(v, "cancel") != 0 && strcmp(v, "continue") != 0))
            sa_detail_add(detail, "body.on_disconnect", "enum",
                          "Input should be 'cancel' or 'continue'");
        else
            r->cancel_on_disconnect = strcmp(v, "cancel") == 0;
    }
    /* a delayed start would need a scheduler of its own: refused unless it is now */
    const json_t *after = json_object_get(body, "after_seconds");
    if (after && !json_is_null(after) && !(json_is_number(after) && json_number_value(after) == 0))
        sa_detail_add(detail, "body.after_seconds", "not_supported",
                      "after_seconds is not supported by this server: a run starts at once");
    static const char *const unsupported[] = {"interrupt_before", "interrupt_after", "checkpoint",
                                              "checkpoint_id",    "webhook",         NULL};
    for (int i = 0; unsupported[i]; i++) {
        const json_t *v = json_object_get(body, unsupported[i]);
        if (v && !json_is_null(v)) {
            char loc[48];
            snprintf(loc, sizeof loc, "body.%s", unsupported[i]);
            sa_detail_add(detail, loc, "not_supported", "%s is not supported by this server",
                          unsupported[i]);
        }
    }
}

/* command.resume: the HumanResponse of Agent Inbox's one-element list (or a bare one). */
static const json_t *human_response(const json_t *resume, json_t *detail)
{
    if (json_is_array(resume)) {
        if (json_array_size(resume) != 1) {
            sa_detail_add(detail, "body.command.resume", "list_length",
                          "resume should be a list of one HumanResponse (Agent Inbox's shape)");
            return NULL;
        }
        return json_array_get(resume, 0);
    }
    return resume;
}

/* Agent Inbox's edit sends every arg of the request back, those that are not strings
 * (messages, meeting) as JSON text (its form edits text: utils.ts createDefaultHumanResponse
 * stringifies them). Such a value is parsed back, so an unchanged one equals the request's
 * and an edited list of messages is checked as a list. Returns a new reference. */
static json_t *unstringify_edit(const json_t *resp, const json_t *request)
{
    json_t *out = json_deep_copy(resp);
    json_t *args = json_object_get(json_object_get(out, "args"), "args");
    const json_t *was = json_object_get(json_object_get(request, "action_request"), "args");
    if (strcmp(sa_json_str(out, "type") ?: "", "edit") != 0 || !json_is_object(args))
        return out;
    const char *k;
    json_t *v;
    json_object_foreach(args, k, v)
    {
        const json_t *orig = json_object_get(was, k);
        if (!json_is_string(v) || !orig || json_is_string(orig))
            continue;
        json_t *parsed = json_loads(json_string_value(v), JSON_DECODE_ANY, NULL);
        if (parsed)
            json_object_set_new(args, k, parsed);
    }
    return out;
}

static int prepare_resume(struct sa_app *app, const json_t *resume, struct sa_as_run *r,
                          json_t *detail, const char **loc, struct sa_err *err)
{
    *loc = "body.command.resume";
    if (!sa_app_invoke_runs_graph(app, r->type))
        return sa_err_set(err, SA_ECONFLICT, "Thread %.128s has no interrupt to resume",
                          r->thread_id);
    json_t *request = NULL;
    int rc = sa_app_approval_pending(app, r->thread_id, r->approval_id, &request, err);
    if (rc == SA_ENOTFOUND)
        return sa_err_set(err, SA_ECONFLICT,
                          "Thread %.128s has no pending interrupt to resume (never asked, or "
                          "answered already)",
                          r->thread_id);
    if (rc)
        return rc;
    const json_t *given = human_response(resume, detail);
    json_t *resp = given ? unstringify_edit(given, request) : NULL;
    char where[40] = "body.command.resume";
    if (json_is_array(resume))
        snprintf(where, sizeof where, "body.command.resume.0");
    if (resp && sa_bdr_validate_response(resp, request, where, detail) == 0)
        r->response = json_pack("{s:O, s:O?}", "type", json_object_get(resp, "type"), "args",
                                json_object_get(resp, "args"));
    json_decref(resp);
    json_decref(request);
    return json_array_size(detail) ? SA_EINVAL : 0;
}

static bool known_thread(struct sa_app *app, const char *thread_id)
{
    json_t *st = NULL;
    struct sa_err e = {0};
    int rc = sa_as_thread_state(app, thread_id, &st, &e);
    json_decref(st);
    return rc == 0;
}

int sa_as_run_prepare(struct sa_app *app, const char *thread_id, const json_t *body,
                      const char *reviewer, json_t *detail, struct sa_as_start *out,
                      const char **loc, struct sa_err *err)
{
    *out = (struct sa_as_start){0};
    *loc = "body";
    struct sa_as_run *r = calloc(1, sizeof *r);
    if (!r)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    r->as = app->agentserver;
    r->app = app;
    r->status = "pending";
    sa_buf_init(&r->events, AS_EVENTS_MAX);
    sa_uuid_v4(r->run_id);
    sa_iso8601_now(r->created_at);
    memcpy(r->updated_at, r->created_at, sizeof r->updated_at);
    if (reviewer)
        snprintf(r->reviewer, sizeof r->reviewer, "%s", reviewer);
    int rc = 0;
    const json_t *aid = json_object_get(body, "assistant_id");
    if (!json_is_string(aid)) {
        sa_detail_add(detail, "body.assistant_id", aid ? "string_type" : "missing",
                      aid ? "Input should be a valid string" : "Field required");
    } else if ((r->type = assistant_type(app, json_string_value(aid))) < 0) {
        *loc = "body.assistant_id";
        rc = sa_err_set(err, SA_ENOTFOUND, "Assistant %.60s not found (assistants: pipeline, %s)",
                        json_string_value(aid), sa_agent_type_names());
        goto out;
    } else {
        snprintf(r->assistant_id, sizeof r->assistant_id, "%s", json_string_value(aid));
    }
    parse_modes(json_object_get(body, "stream_mode"), r, detail);
    parse_options(body, r, detail);
    const json_t *input = json_object_get(body, "input");
    const json_t *command = json_object_get(body, "command");
    const json_t *resume = NULL;
    if (command && !json_is_null(command)) {
        if (!json_is_object(command)) {
            sa_detail_add(detail, "body.command", "dict_type",
                          "Input should be an object {resume}");
        } else {
            resume = json_object_get(command, "resume");
            if (json_object_get(command, "update") || json_object_get(command, "goto"))
                sa_detail_add(detail, "body.command", "not_supported",
                              "Only command.resume is supported");
            if (!resume || json_is_null(resume))
                sa_detail_add(detail, "body.command.resume", "missing", "Field required");
            else if (json_is_object(resume) && json_object_size(resume) &&
                     !json_object_get(resume, "type"))
                sa_detail_add(detail, "body.command.resume", "not_supported",
                              "resume as a map {interrupt_id: value} is not supported: a thread "
                              "waits on one interrupt at a time; send [HumanResponse] "
                              "([{type, args}])");
        }
    }
    bool has_input = input && !json_is_null(input);
    if (has_input && resume)
        sa_detail_add(detail, "body.input", "value_error",
                      "Give input (a new run) or command.resume (an answer), not both");
    else if (!has_input && !resume && !(command && !json_is_null(command)))
        sa_detail_add(detail, "body.input", "missing",
                      "Field required (the lead, or the message for conversation; or "
                      "command.resume to answer an interrupt)");
    const json_t *ine = json_object_get(body, "if_not_exists");
    bool create = false;
    if (ine && !json_is_null(ine)) {
        const char *s = json_string_value(ine);
        if (!s || (strcmp(s, "create") != 0 && strcmp(s, "reject") != 0))
            sa_detail_add(detail, "body.if_not_exists", "enum",
                          "Input should be 'create' or 'reject'");
        else
            create = strcmp(s, "create") == 0;
    }
    if (json_array_size(detail) || r->type < 0) {
        rc = SA_EINVAL;
        goto out;
    }
    if (thread_id) {
        snprintf(r->thread_id, sizeof r->thread_id, "%s", thread_id);
        json_t *rec = NULL;
        struct sa_err ge = {0};
        if (created_thread(app, thread_id, &rec, &ge) == 0) {
            const json_t *md = json_object_get(rec, "metadata");
            r->thread_md = json_is_object(md) ? json_deep_copy(md) : json_object();
            json_decref(rec);
        } else if (!known_thread(app, thread_id)) {
            if (!create) {
                *loc = "path.thread_id";
                rc = sa_err_set(err, SA_ENOTFOUND, "Thread %.128s not found", thread_id);
                goto out;
            }
            rc = remember_thread(app, thread_id, NULL, NULL, err);
            if (rc) {
                *loc = "path.thread_id";
                goto out;
            }
            r->thread_md = json_object();
        }
        if (thread_busy(app->agentserver, thread_id)) {
            *loc = "path.thread_id";
            rc = sa_err_set(err, SA_ECONFLICT,
                            "Thread %.128s is already running a task; wait for it or cancel it "
                            "(multitask strategy 'reject')",
                            thread_id);
            goto out;
        }
    } else {
        sa_uuid_v4(r->thread_id);
        if (resume) {
            *loc = "body.command.resume";
            rc = sa_err_set(err, SA_ECONFLICT, "A stateless run has no interrupt to resume");
            goto out;
        }
    }
    if (resume) {
        rc = prepare_resume(app, resume, r, detail, loc, err);
        out->answers_approval = rc == 0;
    } else {
        r->input = json_deep_copy(input);
        /* new input on a pipeline thread waiting on its approval starts it over from
         * START (LangGraph's semantics); the run supersedes that approval (app/invoke.c) */
        rc = sa_app_invoke_input(app, r->type, r->input, "body.input", &r->lead, detail)
                 ? 0
                 : SA_EINVAL;
    }
out:
    if (rc) {
        run_free(r);
        return rc;
    }
    out->run = r;
    out->thread_id = r->thread_id;
    out->run_id = r->run_id;
    out->assistant_id = r->assistant_id;
    out->approval_id = r->approval_id;
    out->decision = sa_json_str(r->response, "type");
    out->cancel_on_disconnect = r->cancel_on_disconnect;
    return 0;
}

void sa_as_run_discard(struct sa_as_start *s)
{
    if (s->run)
        run_free(s->run);
    *s = (struct sa_as_start){0};
}

/* Lock held: forgets the oldest finished runs past AS_MAX_RUNS. */
static void trim_locked(struct sa_as *as)
{
    struct sa_as_run **pp = &as->runs;
    int n = 0;
    while (*pp) {
        struct sa_as_run *r = *pp;
        if (++n > AS_MAX_RUNS && r->finished) {
            *pp = r->next;
            r->listed = false;
            as->n_runs--;
            run_unref_locked(r);
            continue;
        }
        if (n > AS_EVENTS_KEPT && r->finished && !r->readers && !r->events_dropped) {
            sa_buf_free(&r->events);
            sa_buf_init(&r->events, AS_EVENTS_MAX);
            r->events_dropped = true;
        }
        pp = &r->next;
    }
}

/* Makes the record retention deleted after the run read it (a thread without checkpoints
 * idle long enough): its metadata as read with md's keys it lacked. When another caller
 * made it meanwhile, stamps that one. */
static int restore_thread(struct sa_app *app, const struct sa_as_run *r, const char *md,
                          const char *now, struct sa_err *e)
{
    json_t *j = json_deep_copy(r->thread_md);
    json_t *stamp = json_loads(md, 0, NULL);
    char *text = NULL;
    if (j && stamp && json_object_update_missing(j, stamp) == 0)
        text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    json_decref(stamp);
    if (!text)
        return sa_err_set(e, SA_ENOMEM, "out of memory");
    bool inserted = false;
    int rc = sa_store_as_thread_put(app->store, r->thread_id, text, now, &inserted, e);
    free(text);
    if (!rc && !inserted)
        rc = sa_store_as_thread_update(app->store, r->thread_id, md, true, now, e);
    return rc;
}

/* Stamps the thread's record with the graph and assistant of a run starting on it (the
 * keys it lacks, as the LangGraph server writes them: Agent Inbox searches by graph_id, on
 * whichever instance) and its updated_at. A thread without a record (a stateless run's, a
 * pipeline thread of /api/runs) gets none; one whose record went after sa_as_run_prepare
 * read it gets it back (restore_thread); a store error only costs the stamp. */
static void stamp_thread(struct sa_app *app, const struct sa_as_run *r)
{
    char now[SA_ISO8601_LEN];
    sa_iso8601_now(now);
    json_t *j = json_pack("{s:s, s:s}", "graph_id", graph_of(app, r->type), "assistant_id",
                          r->assistant_id);
    char *md = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    struct sa_err e = {0};
    int rc = md ? sa_store_as_thread_update(app->store, r->thread_id, md, true, now, &e)
                : sa_err_set(&e, SA_ENOMEM, "out of memory");
    if (rc == SA_ENOTFOUND && r->thread_md)
        rc = restore_thread(app, r, md, now, &e);
    free(md);
    if (rc && rc != SA_ENOTFOUND)
        sa_log(SA_LOG_WARN, "agent server thread record not stamped",
               json_pack("{s:s, s:s, s:s}", "thread_id", r->thread_id, "error_code", sa_errname(rc),
                         "error", e.msg));
}

int sa_as_run_start(struct sa_app *app, struct sa_as_start *s, void (*done)(void *arg), void *arg,
                    struct sa_err *err)
{
    struct sa_as *as = app->agentserver;
    struct sa_as_run *r = s->run;
    s->run = NULL;
    stamp_thread(app, r);
    r->done = done;
    r->done_arg = arg;
    pthread_mutex_lock(&as->lock);
    struct sa_as_run *last = newest_run_locked(as, r->thread_id);
    if (last && !last->finished) {
        pthread_mutex_unlock(&as->lock);
        run_free(r);
        if (done)
            done(arg);
        return sa_err_set(err, SA_ECONFLICT, "Thread is already running a task");
    }
    r->refs = 2; /* the registry's and the running thread's */
    r->listed = true;
    r->next = as->runs;
    as->runs = r;
    as->n_runs++;
    trim_locked(as);
    int prc = sa_thread_detached(run_main, r);
    if (prc != 0) {
        r->finished = true;
        r->status = "error";
        r->final = json_pack("{s:{s:s, s:s}}", "__error__", "error", "EOVERLOADED", "message",
                             "no thread to run on");
        run_unref_locked(r);
        pthread_mutex_unlock(&as->lock);
        if (done)
            done(arg);
        return sa_err_set(err, SA_ENOMEM, "Cannot start the run now (no thread); try again");
    }
    pthread_mutex_unlock(&as->lock);
    return 0;
}

/* ---- runs: records ----------------------------------------------------------------- */

/* Lock held. */
static struct sa_as_run *find_locked(struct sa_as *as, const char *thread_id, const char *run_id)
{
    for (struct sa_as_run *r = as->runs; r; r = r->next)
        if (strcmp(r->run_id, run_id) == 0 && (!thread_id || strcmp(r->thread_id, thread_id) == 0))
            return r;
    return NULL;
}

/* Lock held. */
static json_t *run_json_locked(const struct sa_as_run *r)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:s, s:{}}", "run_id", r->run_id,
                     "thread_id", r->thread_id, "assistant_id", r->assistant_id, "created_at",
                     r->created_at, "updated_at", r->updated_at, "status", r->status, "metadata",
                     r->metadata, "multitask_strategy", "reject", "kwargs");
}

int sa_as_run_get(struct sa_app *app, const char *thread_id, const char *run_id, json_t **out,
                  struct sa_err *err)
{
    struct sa_as *as = app->agentserver;
    pthread_mutex_lock(&as->lock);
    struct sa_as_run *r = find_locked(as, thread_id, run_id);
    *out = r ? run_json_locked(r) : NULL;
    pthread_mutex_unlock(&as->lock);
    return r ? 0 : sa_err_set(err, SA_ENOTFOUND, "Run %.60s not found", run_id);
}

json_t *sa_as_thread_runs(struct sa_app *app, const char *thread_id, int limit)
{
    struct sa_as *as = app->agentserver;
    json_t *out = json_array();
    pthread_mutex_lock(&as->lock);
    for (struct sa_as_run *r = as->runs; r && (int)json_array_size(out) < limit; r = r->next)
        if (strcmp(r->thread_id, thread_id) == 0)
            json_array_append_new(out, run_json_locked(r));
    pthread_mutex_unlock(&as->lock);
    return out;
}

int sa_as_run_cancel(struct sa_app *app, const char *thread_id, const char *run_id,
                     struct sa_err *err)
{
    struct sa_as *as = app->agentserver;
    pthread_mutex_lock(&as->lock);
    struct sa_as_run *r = find_locked(as, thread_id, run_id);
    int rc = !r            ? sa_err_set(err, SA_ENOTFOUND, "Run %.60s not found", run_id)
             : r->finished ? sa_err_set(err, SA_ECONFLICT, "Run %.60s has already finished", run_id)
                           : 0;
    if (rc == 0)
        __atomic_store_n(&r->cancel, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&as->lock);
    return rc;
}

/* ---- readers ----------------------------------------------------------------------- */

struct sa_as_reader *sa_as_reader_open(struct sa_app *app, const char *thread_id,
                                       const char *run_id, enum sa_as_read kind)
{
    struct sa_as *as = app->agentserver;
    struct sa_as_reader *rd = calloc(1, sizeof *rd);
    if (!rd)
        return NULL;
    pthread_mutex_lock(&as->lock);
    struct sa_as_run *r = find_locked(as, thread_id, run_id);
    if (r) {
        r->refs++;
        rd->run = r;
        rd->kind = kind;
        rd->next = r->readers;
        r->readers = rd;
    }
    pthread_mutex_unlock(&as->lock);
    if (!r) {
        free(rd);
        return NULL;
    }
    return rd;
}

/* A client waiting for a run's end (runs.wait, join) gets a newline every second, as the
 * JS server sends them (utils/hono.mts waitKeepAlive): proxies keep the connection and the
 * JSON that follows may start with whitespace. One thread wakes every parked wait. */
#define AS_TICK_MS 1000

static void *ticker_main(void *arg)
{
    struct sa_as *as = arg;
    pthread_mutex_lock(&as->lock);
    while (!as->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += AS_TICK_MS / 1000;
        pthread_cond_timedwait(&as->tick, &as->lock, &ts);
        if (as->stopping)
            break;
        for (struct sa_as_run *r = as->runs; r; r = r->next) {
            for (struct sa_as_reader *rd = r->readers; rd; rd = rd->next) {
                if (rd->kind != SA_AS_READ_EVENTS && rd->wake && !r->finished) {
                    void (*w)(void *) = rd->wake;
                    rd->wake = NULL;
                    rd->tick = true;
                    w(rd->wake_arg);
                }
            }
        }
    }
    pthread_mutex_unlock(&as->lock);
    return NULL;
}

/* Lock held: starts the ticker once (a failure only costs the keep-alives). */
static void ticker_start_locked(struct sa_as *as)
{
    if (as->ticker_started || as->stopping)
        return;
    as->ticker_started = pthread_create(&as->ticker, NULL, ticker_main, as) == 0;
}

/* Lock held: the events of a run whose own were dropped: metadata, its end (values, or
 * error) and end. A new string (NULL when out of memory). */
static char *summary_events(const struct sa_as_run *r)
{
    json_t *meta = json_pack("{s:s, s:i, s:s, s:s}", "run_id", r->run_id, "attempt", 1, "thread_id",
                             r->thread_id, "assistant_id", r->assistant_id);
    const json_t *e = json_object_get(r->final, "__error__");
    char *m = json_dumps(meta, JSON_COMPACT);
    char *f = json_dumps(e ? e : r->final, JSON_COMPACT | JSON_REAL_PRECISION(12));
    struct sa_buf b;
    sa_buf_init(&b, AS_EVENTS_MAX);
    char *out = NULL;
    if (m && f &&
        sa_buf_printf(
            &b, "event: metadata\ndata: %s\n\nevent: %s\ndata: %s\n\nevent: end\ndata: null\n\n", m,
            e ? "error" : "values", f) == 0)
        out = sa_buf_steal(&b, NULL);
    sa_buf_free(&b);
    free(m);
    free(f);
    json_decref(meta);
    return out;
}

/* Lock held: what a reader of a finished run sends after its events or keep-alives (a
 * new string, NULL when out of memory): the final values (WAIT), the ended Run (RUN), or
 * the summary of a run whose events were dropped. */
static char *final_text_locked(const struct sa_as_reader *rd)
{
    const struct sa_as_run *r = rd->run;
    if (rd->kind == SA_AS_READ_WAIT)
        return json_dumps(r->final, JSON_COMPACT | JSON_REAL_PRECISION(12));
    if (rd->kind == SA_AS_READ_EVENTS)
        return summary_events(r);
    json_t *run = run_json_locked(r);
    char *text = json_dumps(run, JSON_COMPACT);
    json_decref(run);
    return text;
}

ssize_t sa_as_reader_read(struct sa_as_reader *rd, char *buf, size_t max, void (*wake)(void *arg),
                          void *arg)
{
    struct sa_as_run *r = rd->run;
    pthread_mutex_lock(&r->as->lock);
    ssize_t n;
    if (rd->kind == SA_AS_READ_EVENTS && rd->pos < r->events.len) {
        size_t k = r->events.len - rd->pos < max ? r->events.len - rd->pos : max;
        memcpy(buf, r->events.data + rd->pos, k);
        rd->pos += k;
        n = (ssize_t)k;
    } else if ((rd->kind != SA_AS_READ_EVENTS || r->events_dropped) && r->finished) {
        if (!rd->final) {
            rd->final = final_text_locked(rd);
            rd->final_len = rd->final ? strlen(rd->final) : 0;
        }
        size_t k = rd->final_len - rd->pos < max ? rd->final_len - rd->pos : max;
        if (k && rd->final)
            memcpy(buf, rd->final + rd->pos, k);
        rd->pos += k;
        n = k ? (ssize_t)k : -1;
    } else if (r->finished) {
        n = -1;
    } else if (rd->kind != SA_AS_READ_EVENTS && rd->tick && max > 0) {
        rd->tick = false;
        buf[0] = '\n';
        n = 1;
    } else {
        rd->wake = wake;
        rd->wake_arg = arg;
        if (rd->kind != SA_AS_READ_EVENTS)
            ticker_start_locked(r->as);
        n = SA_AS_PARKED;
    }
    pthread_mutex_unlock(&r->as->lock);
    return n;
}

void sa_as_reader_cancel_on_close(struct sa_as_reader *rd)
{
    pthread_mutex_lock(&rd->run->as->lock);
    rd->cancels = true;
    pthread_mutex_unlock(&rd->run->as->lock);
}

void sa_as_reader_free(struct sa_as_reader *rd)
{
    if (!rd)
        return;
    struct sa_as_run *r = rd->run;
    struct sa_as *as = r->as;
    pthread_mutex_lock(&as->lock);
    if (rd->cancels && !r->finished) {
        __atomic_store_n(&r->cancel, 1, __ATOMIC_RELEASE);
        sa_log(SA_LOG_INFO, "agent server run cancelled: its client left (on_disconnect cancel)",
               json_pack("{s:s}", "run_id", r->run_id));
    }
    for (struct sa_as_reader **pp = &r->readers; *pp; pp = &(*pp)->next) {
        if (*pp == rd) {
            *pp = rd->next;
            break;
        }
    }
    run_unref_locked(r);
    pthread_mutex_unlock(&as->lock);
    free(rd->final);
    free(rd);
}
