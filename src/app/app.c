/* The application root and the invoke operation (see app.h). */
#include "app/app.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agents/bdr.h"
#include "connectors/calendar/calendar.h"
#include "agents/conversation.h"
#include "domain/dataset.h"
#include "domain/intent.h"
#include "agents/pipeline.h"
#include "graph/saver.h"
#include "domain/lead.h"
#include "domain/scoring.h"
#include "base/detail.h"
#include "base/json.h"
#include "base/log.h"
#include "metrics/metrics.h"
#include "store/store.h"

/* Buckets start at 10 us so that our latencies, far below the seed's 0.1 s, show. */
static const double agent_buckets[] = {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
                                       0.001,   0.0025,   0.005,   0.01,   0.025,   0.05,
                                       0.1,     0.5,      1,       2,      5};
static const double http_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5};

static const struct sa_metric_desc m_agent_seconds = {
    "agent_processing_seconds",
    "Time agents spend processing one invocation.",
    SA_HISTOGRAM,
    {"agent_type", NULL},
    agent_buckets,
    (int)(sizeof agent_buckets / sizeof agent_buckets[0])};
static const struct sa_metric_desc m_agent_success = {"agent_success_total",
                                                      "Successful agent invocations.",
                                                      SA_COUNTER,
                                                      {"agent_type", NULL},
                                                      NULL,
                                                      0};
static const struct sa_metric_desc m_agent_errors = {"agent_errors_total",
                                                     "Failed agent invocations by error code.",
                                                     SA_COUNTER,
                                                     {"agent_type", "error_code", NULL},
                                                     NULL,
                                                     0};
static const struct sa_metric_desc m_http_requests = {
    "http_requests_total",
    "HTTP requests by method, route template and status.",
    SA_COUNTER,
    {"method", "route", "status", NULL},
    NULL,
    0};
static const struct sa_metric_desc m_http_seconds = {
    "http_request_duration_seconds",
    "HTTP request handling time by route template.",
    SA_HISTOGRAM,
    {"method", "route", NULL},
    http_buckets,
    (int)(sizeof http_buckets / sizeof http_buckets[0])};

static const struct sa_metric_desc m_breaker = {
    "circuit_breaker_state",
    "Circuit breaker per provider: 0 closed, 1 open, 2 half-open.",
    SA_GAUGE,
    {"provider", NULL},
    NULL,
    0};

/* The optional data behind enrichment, growth and marketing: a file that is absent turns
 * its agent off (501); a file that is present but wrong stops start-up. */
static int load_agent_data(struct sa_app *app, struct sa_err *err)
{
    char path[1024];
    const char *dir = app->cfg.data_dir;
    snprintf(path, sizeof path, "%s/companies.csv", dir);
    const char *paths[2];
    int n = 0;
    if (access(path, R_OK) == 0)
        paths[n++] = path;
    if (app->cfg.companies_csv)
        paths[n++] = app->cfg.companies_csv;
    if (n && sa_dataset_load(paths, n, &app->dataset, err))
        return err->code;
    snprintf(path, sizeof path, "%s/industry_growth.json", dir);
    if (access(path, R_OK) == 0) {
        json_t *root;
        if (sa_json_load_file(path, &root, err))
            return err->code;
        app->growth_table = json_incref(json_object_get(root, "industries"));
        json_decref(root);
        if (!json_is_object(app->growth_table))
            return sa_err_set(err, SA_ECONFIG, "%s: expected {\"industries\": {...}}", path);
    }
    snprintf(path, sizeof path, "%s/intents/en.tsv", dir);
    if (access(path, R_OK) == 0 && sa_intent_train(path, &app->intents, NULL, err))
        return err->code;
    snprintf(path, sizeof path, "%s/templates", dir);
    DIR *d = opendir(path);
    if (d) {
        app->templates = json_object();
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t len = strlen(e->d_name);
            if (len < 5 || strcmp(e->d_name + len - 4, ".txt") != 0)
                continue;
            char file[1300];
            snprintf(file, sizeof file, "%s/%s", path, e->d_name);
            FILE *f = fopen(file, "r");
            if (!f)
                continue;
            char text[16384];
            size_t got = fread(text, 1, sizeof text - 1, f);
            fclose(f);
            text[got] = '\0';
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(len - 4), e->d_name);
            json_t *t = json_string(text);
            if (!t) {
                closedir(d);
                return sa_err_set(err, SA_ECONFIG, "%s: not valid UTF-8", file);
            }
            json_object_set_new(app->templates, name, t);
        }
        closedir(d);
    }
    return 0;
}

static int setup_metrics(struct sa_app *app, struct sa_err *err)
{
    if (!(app->metrics = sa_metrics_new()))
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    app->m_agent_seconds = sa_metrics_register(app->metrics, &m_agent_seconds);
    app->m_agent_success = sa_metrics_register(app->metrics, &m_agent_success);
    app->m_agent_errors = sa_metrics_register(app->metrics, &m_agent_errors);
    app->m_http_requests = sa_metrics_register(app->metrics, &m_http_requests);
    app->m_http_seconds = sa_metrics_register(app->metrics, &m_http_seconds);
    app->m_breaker = sa_metrics_register(app->metrics, &m_breaker);
    /* Every agent type appears from the start, at zero, so rates work from boot. */
    for (int t = 0; t < SA_AGENT_COUNT; t++) {
        const char *v[] = {sa_agent_type_name((enum sa_agent_type)t)};
        sa_metrics_add(app->metrics, app->m_agent_success, v, 0);
    }
    return 0;
}

/* Pipeline checkpoints live beside the store, chosen by the same DATABASE_URL (for SQLite:
 * the same file, their own table; in memory for an in-memory store). */
static int open_saver(struct sa_app *app, struct sa_err *err)
{
    return sa_saver_open(app->cfg.database_url, &app->saver, err);
}

int sa_app_open(const struct sa_config *cfg, struct sa_app **out, struct sa_err *err)
{
    *out = NULL;
    struct sa_app *app = calloc(1, sizeof *app);
    if (!app)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    app->cfg = *cfg;
    app->started_ns = sa_now_ns();
    sa_iso8601_now(app->started_at);
    int rc;
    app->calendar = calloc(1, sizeof *app->calendar);
    if (!app->calendar) {
        sa_app_close(app);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    const char *mm = getenv("MEETING_MINUTES");
    long meeting_minutes = 30;
    if (mm && *mm && sa_parse_long(mm, 5, 480, &meeting_minutes)) {
        sa_app_close(app);
        return sa_err_set(err, SA_ECONFIG, "MEETING_MINUTES: expected 5-480, got \"%.40s\"", mm);
    }
    if ((rc = sa_calendar_parse(app->calendar, getenv("CALENDAR_TZ"), getenv("CALENDAR_DAYS"),
                                getenv("CALENDAR_HOURS"), meeting_minutes, err))) {
        sa_app_close(app);
        return rc;
    }
    if ((rc = setup_metrics(app, err)) || (rc = sa_model_load(cfg->data_dir, &app->model, err)) ||
        (rc = sa_store_open(cfg->database_url, cfg->threads + 1, &app->store, err)) ||
        (rc = sa_store_migrate(app->store, err)) || (rc = load_agent_data(app, err)) ||
        (rc = sa_agents_new(
             &(struct sa_agent_deps){.model = app->model,
                                     .dataset = app->dataset,
                                     .store = app->store,
                                     .enrichment_ttl = cfg->enrichment_ttl,
                                     .growth_table = app->growth_table,
                                     .templates = app->templates,
                                     .conversation = app->intents != NULL,
                                     .metrics = app->metrics,
                                     .m_breaker = app->m_breaker,
                                     .breaker_failures = cfg->breaker_failures,
                                     .breaker_open_seconds = cfg->breaker_open_seconds,
                                     .calendar = app->calendar},
             &app->agents, err)) ||
        (rc = open_saver(app, err)) ||
        (rc = sa_pipeline_new(app->agents, app->model, app->saver, &app->pipeline, err)) ||
        (app->intents && (rc = sa_conversation_new(app->intents, app->saver, app->store,
                                                   app->calendar, &app->conversation, err)))) {
        sa_app_close(app);
        return rc;
    }
    *out = app;
    return 0;
}

void sa_app_close(struct sa_app *app)
{
    if (!app)
        return;
    sa_conversation_free(app->conversation);
    sa_intent_free(app->intents);
    sa_pipeline_free(app->pipeline);
    graph_saver_free(app->saver);
    sa_agents_free(app->agents);
    sa_store_close(app->store);
    sa_model_free(app->model);
    sa_dataset_free(app->dataset);
    json_decref(app->growth_table);
    json_decref(app->templates);
    sa_metrics_free(app->metrics);
    free(app->calendar);
    free(app);
}

void sa_invoke_res_clear(struct sa_invoke_res *res)
{
    json_decref(res->output);
    res->output = NULL;
}

static void record_agent_name(struct sa_app *app, const char *name, double seconds,
                              const char *error_code)
{
    if (error_code) {
        const char *v[] = {name, error_code};
        sa_metrics_add(app->metrics, app->m_agent_errors, v, 1);
    } else {
        const char *v[] = {name};
        sa_metrics_add(app->metrics, app->m_agent_success, v, 1);
    }
    if (seconds >= 0) {
        const char *v[] = {name};
        sa_metrics_observe(app->metrics, app->m_agent_seconds, v, seconds);
    }
}

static const char *error_code_label(int rc)
{
    switch (rc) {
    case SA_ENOTIMPL: return "not_implemented";
    case SA_ESTORE: return "store_error";
    case SA_ENOMEM: return "out_of_memory";
    case SA_EINVAL: return "invalid_input";
    case SA_ECANCELED: return "cancelled";
    default: return "internal_error";
    }
}

/* Marketing works from the earlier agents' outputs: when it is invoked on its own, they
 * run first (in-process, microseconds) and their outputs are its context. */
static json_t *standalone_context(struct sa_app *app, const struct sa_lead *lead,
                                  enum sa_agent_type type)
{
    if (type != SA_AGENT_MARKETING)
        return NULL;
    json_t *ctx = json_object();
    static const enum sa_agent_type deps[] = {SA_AGENT_QUALIFICATION, SA_AGENT_ENRICHMENT,
                                              SA_AGENT_GROWTH};
    for (size_t i = 0; i < sizeof deps / sizeof deps[0]; i++) {
        struct sa_agent *a = sa_agents_get(app->agents, deps[i]);
        json_t *out = NULL;
        struct sa_err e = {0};
        if (a->ops->run && a->ops->run(a, lead, ctx, &out, &e) == 0)
            json_object_set_new(ctx, sa_agent_type_name(deps[i]), out);
    }
    return ctx;
}

int sa_app_record_interrupts(struct sa_app *app, const char *thread_id, const char *lead_id,
                             const json_t *interrupts, json_t **approvals, struct sa_err *err)
{
    *approvals = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(interrupts, i, it)
    {
        const char *iid = json_string_value(json_object_get(it, "id"));
        json_t *value = json_object_get(it, "value");
        json_t *req = json_is_array(value) ? json_array_get(value, 0) : value;
        char *text = json_dumps(req, JSON_COMPACT);
        char id[SA_UUID_LEN], got[37];
        sa_uuid_v7(id);
        int rc = text && iid ? sa_store_approval_put(app->store, id, thread_id, iid, lead_id, text,
                                                     got, err)
                             : sa_err_set(err, SA_ENOMEM, "out of memory");
        free(text);
        if (rc) {
            json_decref(*approvals);
            *approvals = NULL;
            return rc;
        }
        char link[80];
        snprintf(link, sizeof link, "/api/approvals/%s", got);
        json_array_append_new(*approvals,
                              json_pack("{s:s, s:s, s:O, s:s}", "approval_id", got, "node",
                                        json_string_value(json_object_get(it, "node")) ?: "",
                                        "request", req, "link", link));
    }
    return 0;
}

static int run_pipeline(struct sa_app *app, const struct sa_invoke_req *req, json_t **output,
                        const char *thread_id, const char *lead_id, struct sa_err *err)
{
    struct graph_result gr;
    int rc = SA_ENOTFOUND;
    if (req->continue_thread)
        rc = sa_pipeline_continue(app->pipeline, thread_id, req->stream_modes, req->on_event,
                                  req->event_arg, req->cancel, &gr, err);
    if (rc == SA_ENOTFOUND)
        rc = sa_pipeline_run(app->pipeline, req->lead->raw, thread_id, req->stream_modes,
                             req->on_event, req->event_arg, req->cancel, &gr, err);
    if (rc)
        return rc;
    json_object_del(gr.values, "lead_data"); /* the lead is stored as the lead */
    json_t *approvals = NULL;
    if (gr.status == GRAPH_INTERRUPTED &&
        (rc = sa_app_record_interrupts(app, thread_id, lead_id, gr.interrupts, &approvals, err))) {
        graph_result_clear(&gr);
        return rc;
    }
    *output = json_pack("{s:O, s:s, s:i, s:s}", "state", gr.values, "status",
                        gr.status == GRAPH_DONE ? "done" : "interrupted", "steps", gr.steps,
                        "checkpoint_id", gr.checkpoint_id);
    if (approvals)
        json_object_set_new(*output, "approvals", approvals);
    graph_result_clear(&gr);
    return *output ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}

int sa_app_invoke(struct sa_app *app, const struct sa_invoke_req *req, struct sa_invoke_res *res,
                  struct sa_err *err)
{
    memset(res, 0, sizeof *res);
    /* bdr is a step of the pipeline graph (it works from the marketing plan and its
     * approval interrupts that graph): invoking it runs the pipeline */
    bool bdr = req->type == SA_AGENT_BDR && sa_agents_implemented(app->agents, SA_AGENT_BDR);
    bool pipeline = req->type == SA_AGENT_PIPELINE || bdr;
    struct sa_agent *agent = pipeline ? NULL : sa_agents_get(app->agents, req->type);
    const char *name = bdr ? "bdr" : pipeline ? "pipeline" : agent->ops->name;
    if (!pipeline && !agent->ops->run) {
        record_agent_name(app, name, -1, "not_implemented");
        sa_agents_record(app->agents, req->type, 0, false);
        return sa_err_set(err, SA_ENOTIMPL, "the %s agent is not available", name);
    }
    if (req->lead_id)
        snprintf(res->lead_id, sizeof res->lead_id, "%s", req->lead_id);
    else
        sa_uuid_v7(res->lead_id);
    if (req->thread_id)
        snprintf(res->thread_id, sizeof res->thread_id, "%s", req->thread_id);
    else
        sa_uuid_v7(res->thread_id);
    sa_uuid_v7(res->execution_id);

    json_t *own_ctx =
        pipeline || req->context ? NULL : standalone_context(app, req->lead, req->type);
    uint64_t t0 = sa_now_ns();
    int rc = pipeline ? run_pipeline(app, req, &res->output, res->thread_id, res->lead_id, err)
                      : agent->ops->run(agent, req->lead, req->context ? req->context : own_ctx,
                                        &res->output, err);
    json_decref(own_ctx);
    uint64_t ns = sa_now_ns() - t0;
    res->processing_ms = sa_ns_to_ms(ns);
    if (rc) {
        record_agent_name(app, name, (double)ns / 1e9, error_code_label(rc));
        if (!pipeline)
            sa_agents_record(app->agents, req->type, res->processing_ms, false);
        return rc;
    }
    json_object_set_new(res->output, "processing_time", json_real(res->processing_ms));
    /* the lead's qualification, when this invocation produced one */
    json_t *qual =
        pipeline ? json_object_get(json_object_get(res->output, "state"), "qualification_score")
        : req->type == SA_AGENT_QUALIFICATION ? res->output
                                              : NULL;

    const struct sa_lead *l = req->lead;
    char *data = json_dumps(l->raw, JSON_COMPACT);
    char *output = json_dumps(res->output, JSON_COMPACT);
    json_t *score = json_object_get(qual, "score");
    struct sa_lead_row row = {
        .id = res->lead_id,
        .company_name = l->company_name,
        .industry = l->industry,
        .company_size = l->company_size,
        .employees_min = l->employees_min,
        .employees_max = l->employees_max,
        .annual_revenue = l->annual_revenue,
        .website = l->website,
        .country = l->country,
        .contact_name = l->contact_name,
        .contact_title = l->contact_title,
        .contact_email = l->contact_email,
        .contact_phone = l->contact_phone,
        .linkedin_url = l->linkedin_url,
        .data = data,
        .score = json_is_integer(score) ? (int)json_integer_value(score) : -1,
        .tier = sa_json_str(qual, "tier"),
        .reasoning = sa_json_str(qual, "reasoning"),
    };
    /* A numeric company_size is stored as the text the user sent ("350"). */
    char size_text[32];
    json_t *size = json_object_get(l->raw, "company_size");
    if (!row.company_size && json_is_number(size)) {
        snprintf(size_text, sizeof size_text, "%.0f", json_number_value(size));
        row.company_size = size_text;
    }
    struct sa_exec_row exec = {
        .id = res->execution_id,
        .lead_id = res->lead_id,
        .agent_type = name,
        .thread_id = res->thread_id,
        .success = true,
        .input = data,
        .output = output,
        .processing_time_ms = res->processing_ms,
    };
    if (!data || !output) {
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
    } else if (req->only_if_new) {
        rc = sa_store_insert_lead_if_new(app->store, &row, &exec, &res->written, err);
    } else {
        rc = sa_store_save_invocation(app->store, &row, &exec, err);
        res->written = rc == 0;
    }
    free(data);
    free(output);
    record_agent_name(app, name, (double)ns / 1e9, rc ? error_code_label(rc) : NULL);
    if (!pipeline)
        sa_agents_record(app->agents, req->type, res->processing_ms, rc == 0);
    if (rc)
        sa_invoke_res_clear(res);
    return rc;
}

/* Where the thread stands: 2 when its latest checkpoint still waits on interrupt_id, 1
 * when it has other steps left (a run stopped after the answer, e.g. a killed server),
 * 0 when it has finished. */
static int thread_position(struct sa_app *app, const char *thread_id, const char *interrupt_id)
{
    json_t *snap = NULL;
    struct sa_err e = {0};
    if (graph_get_state(sa_pipeline_graph(app->pipeline), thread_id, NULL, &snap, &e))
        return 0;
    bool pending = false;
    size_t i, k;
    json_t *t, *it;
    json_array_foreach(json_object_get(snap, "tasks"), i, t)
        json_array_foreach(json_object_get(t, "interrupts"), k, it) pending |=
        strcmp(json_string_value(json_object_get(it, "id")) ?: "", interrupt_id) == 0;
    int pos = pending ? 2 : json_array_size(json_object_get(snap, "next")) > 0 ? 1 : 0;
    json_decref(snap);
    return pos;
}

/* Continues the approval's thread: with its recorded response when the thread still
 * waits for it, from its checkpoint when steps are left after it; *run (new reference, may stay
 * NULL) gets {status, bdr_decision, bdr_actions}. */
static int resume_approval(struct sa_app *app, const json_t *approval, json_t **run,
                           struct sa_err *err)
{
    *run = NULL;
    const char *thread = json_string_value(json_object_get(approval, "thread_id"));
    const char *iid = json_string_value(json_object_get(approval, "interrupt_id"));
    int pos = thread && iid ? thread_position(app, thread, iid) : 0;
    if (pos == 0)
        return 0;
    json_t *resume =
        pos == 2 ? json_pack("{s:O}", iid, json_object_get(approval, "response")) : NULL;
    struct graph_result gr;
    int rc = sa_pipeline_resume(app->pipeline, thread, resume, &gr, err);
    json_decref(resume);
    if (rc == SA_ECONFLICT) /* another request is resuming it right now */
        return 0;
    if (rc)
        return rc;
    json_t *approvals = NULL;
    if (gr.status == GRAPH_INTERRUPTED &&
        (rc = sa_app_record_interrupts(app, thread,
                                       json_string_value(json_object_get(approval, "lead_id")),
                                       gr.interrupts, &approvals, err))) {
        graph_result_clear(&gr);
        return rc;
    }
    *run =
        json_pack("{s:s, s:O?, s:O?}", "status", gr.status == GRAPH_DONE ? "done" : "interrupted",
                  "bdr_decision", json_object_get(gr.values, "bdr_decision"), "bdr_actions",
                  json_object_get(gr.values, "bdr_actions"));
    if (approvals)
        json_object_set_new(*run, "approvals", approvals);
    graph_result_clear(&gr);
    if (app->outbox_kick)
        app->outbox_kick(app->outbox_kick_arg);
    return 0;
}

int sa_app_decide(struct sa_app *app, const char *id, const json_t *response, const char *reviewer,
                  json_t *detail, json_t **out, struct sa_err *err)
{
    *out = NULL;
    json_t *approval = NULL;
    int rc = sa_store_approval_get(app->store, id, &approval, err);
    if (rc)
        return rc;
    const json_t *request = json_object_get(approval, "request");
    if (sa_bdr_validate_response(response, request, "body", detail)) {
        json_decref(approval);
        return SA_EINVAL;
    }
    const char *type = json_string_value(json_object_get(response, "type"));
    static const char *const status_of[][2] = {{"accept", "accepted"},
                                               {"edit", "edited"},
                                               {"respond", "responded"},
                                               {"ignore", "ignored"}};
    const char *status = "accepted";
    for (size_t i = 0; i < 4; i++)
        if (strcmp(type, status_of[i][0]) == 0)
            status = status_of[i][1];
    json_t *recorded = json_pack("{s:s, s:O?, s:s?}", "type", type, "args",
                                 json_object_get(response, "args"), "reviewer", reviewer);
    json_t *changes = sa_bdr_changes(request, response);
    char *rtext = json_dumps(recorded, JSON_COMPACT), *ctext = json_dumps(changes, JSON_COMPACT);
    rc = sa_store_approval_decide(app->store, id, status, rtext, reviewer, ctext, err);
    free(rtext);
    free(ctext);
    json_decref(changes);
    bool duplicate = false;
    if (rc == SA_ECONFLICT) {
        /* posted twice: the same answer is harmless, another one is a conflict */
        const json_t *was = json_object_get(approval, "response");
        json_t *cmp = json_deep_copy(recorded);
        json_object_del(cmp, "reviewer");
        json_t *was_cmp = json_deep_copy(was);
        json_object_del(was_cmp, "reviewer");
        duplicate = json_equal(cmp, was_cmp);
        json_decref(cmp);
        json_decref(was_cmp);
        if (!duplicate) {
            sa_err_set(err, SA_ECONFLICT, "approval %s was already answered '%s' by %s", id,
                       json_string_value(json_object_get(was, "type")) ?: "?",
                       json_string_value(json_object_get(approval, "reviewer")) ?: "someone");
            json_decref(recorded);
            json_decref(approval);
            return SA_ECONFLICT;
        }
        rc = 0;
    }
    json_decref(recorded);
    json_decref(approval);
    if (rc)
        return rc;
    if ((rc = sa_store_approval_get(app->store, id, &approval, err)))
        return rc;
    json_t *run = NULL;
    rc = resume_approval(app, approval, &run, err);
    if (rc) {
        json_decref(approval);
        return rc;
    }
    *out = json_pack("{s:o, s:b, s:o}", "approval", approval, "duplicate", duplicate, "run",
                     run ? run : json_null());
    return 0;
}

int sa_app_resume_decided(struct sa_app *app, int *resumed, struct sa_err *err)
{
    *resumed = 0;
    json_t *list = NULL;
    int rc = sa_store_approval_list(app->store, NULL, 500, &list, err);
    if (rc)
        return rc;
    size_t i;
    json_t *a;
    json_array_foreach(list, i, a)
    {
        if (strcmp(json_string_value(json_object_get(a, "status")) ?: "", "pending") == 0)
            continue;
        json_t *run = NULL;
        if ((rc = resume_approval(app, a, &run, err)))
            break;
        *resumed += run != NULL;
        json_decref(run);
    }
    json_decref(list);
    return rc;
}

int sa_app_converse(struct sa_app *app, const char *thread_id, const json_t *input,
                    struct sa_invoke_res *res, struct sa_err *err)
{
    memset(res, 0, sizeof *res);
    if (!app->conversation)
        return sa_err_set(err, SA_ENOTIMPL, "the conversation agent is not available");
    if (thread_id)
        snprintf(res->thread_id, sizeof res->thread_id, "%s", thread_id);
    else
        sa_uuid_v7(res->thread_id);
    uint64_t t0 = sa_now_ns();
    int rc = sa_conversation_turn(app->conversation, res->thread_id, input, &res->output, err);
    uint64_t ns = sa_now_ns() - t0;
    res->processing_ms = sa_ns_to_ms(ns);
    record_agent_name(app, "conversation", (double)ns / 1e9, rc ? error_code_label(rc) : NULL);
    sa_agents_record(app->agents, SA_AGENT_CONVERSATION, res->processing_ms, rc == 0);
    if (!rc)
        json_object_set_new(res->output, "processing_time", json_real(res->processing_ms));
    return rc;
}

int sa_app_seed(struct sa_app *app, const char *path, int *added, int *present, struct sa_err *err)
{
    *added = *present = 0;
    json_t *root;
    if (sa_json_load_file(path, &root, err))
        return err->code;
    int rc = 0;
    json_t *leads = json_object_get(root, "leads");
    if (!json_is_array(leads)) {
        rc = sa_err_set(err, SA_ECONFIG, "%s: expected {\"leads\": [...]}", path);
        goto out;
    }
    size_t i;
    json_t *item;
    json_array_foreach(leads, i, item)
    {
        const char *given = sa_json_str(item, "id");
        char id[SA_UUID_LEN];
        if (!given || !sa_uuid_valid(given, strlen(given))) {
            rc = sa_err_set(err, SA_ECONFIG, "%s: leads.%zu.id: expected a UUID", path, i);
            goto out;
        }
        sa_uuid_lower(given, id);
        /* The id is the record's, not the lead's data: validate the rest as input. */
        json_t *input = json_deep_copy(item);
        json_object_del(input, "id");
        json_t *detail = json_array();
        char prefix[48];
        snprintf(prefix, sizeof prefix, "leads.%zu", i);
        struct sa_lead lead;
        if (sa_lead_parse(input, prefix, &lead, detail)) {
            json_t *first = json_array_get(detail, 0);
            char *loc = json_dumps(json_object_get(first, "loc"), JSON_COMPACT);
            rc = sa_err_set(err, SA_ECONFIG, "%s: %s: %s", path, loc ? loc : "?",
                            sa_json_str(first, "msg"));
            free(loc);
            json_decref(detail);
            json_decref(input);
            goto out;
        }
        json_decref(detail);
        struct sa_invoke_req req = {
            .type = SA_AGENT_QUALIFICATION, .lead = &lead, .lead_id = id, .only_if_new = true};
        struct sa_invoke_res res;
        rc = sa_app_invoke(app, &req, &res, err);
        sa_lead_clear(&lead);
        json_decref(input);
        if (rc)
            goto out;
        *added += res.written;
        *present += !res.written;
        sa_invoke_res_clear(&res);
    }
out:
    json_decref(root);
    return rc;
}

void sa_app_observe_http(struct sa_app *app, const char *method, const char *route, int status,
                         double seconds)
{
    char st[8];
    snprintf(st, sizeof st, "%d", status);
    const char *v[] = {method, route, st};
    sa_metrics_add(app->metrics, app->m_http_requests, v, 1);
    sa_metrics_observe(app->metrics, app->m_http_seconds, v, seconds);
}
