/* GET /api/leads (list with filters) and GET /api/leads/{id} (with its executions). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "app/app.h"
#include "app/export.h"
#include "app/import.h"
#include "app/import_jobs.h"
#include "app/leads.h"
#include "base/charset.h"
#include "base/uuid.h"
#include "base/detail.h"
#include "http/http.h"
#include "http/params.h"
#include "base/log.h"

void sa_route_leads_list(struct sa_req *r)
{
    json_t *detail = json_array();
    long limit, offset, min_score;
    sa_query_long(r, "limit", 1, 500, 50, &limit, detail);
    sa_query_long(r, "offset", 0, 1000000000L, 0, &offset, detail);
    sa_query_long(r, "min_score", 0, 100, -1, &min_score, detail);
    const char *tier = sa_req_query(r, "tier");
    if (tier && (strlen(tier) != 1 || tier[0] < 'A' || tier[0] > 'D'))
        sa_detail_add(detail, "query.tier", "enum", "Input should be A, B, C or D");
    const char *q = sa_req_query(r, "q");
    if (q && (strlen(q) == 0 || sa_utf8_chars(q, strlen(q)) > 200))
        sa_detail_add(detail, "query.q", "string_too_long",
                      "Search text should have 1 to 200 characters");
    const char *sort = sa_req_query(r, "sort");
    if (sort && !sa_app_lead_sort_valid(sort))
        sa_detail_add(detail, "query.sort", "enum", "Input should be " SA_LEAD_SORT_NAMES);
    if (json_array_size(detail) > 0) {
        sa_reply_problem(r, 422, "validation_error", detail);
        return;
    }
    json_decref(detail);
    json_t *out;
    struct sa_err err = {0};
    int rc = sa_app_leads_list(r->app->store, (int)limit, (int)offset, tier, (int)min_score, q,
                               sort, &out, &err);
    if (rc)
        sa_reply_unavailable(r, rc, &err, "Listing leads");
    else
        sa_reply_json(r, 200, out);
}

void sa_route_lead_get(struct sa_req *r)
{
    char id[SA_UUID_LEN];
    if (!sa_param_uuid(r, 0, "path.id", id))
        return;
    json_t *lead;
    struct sa_err err = {0};
    int rc = sa_app_lead_get(r->app->store, id, &lead, &err);
    if (rc) {
        sa_reply_failure(r, rc, &err, "path.id", "Reading the lead");
        return;
    }
    char tag[SA_ETAG_LEN];
    sa_app_lead_etag(lead, tag);
    sa_reply_header(r, "ETag", "%s", tag); /* for PATCH's If-Match */
    sa_reply_json(r, 200, lead);
}

/* The import's ?charset= and ?map= into fmt; false (422 sent) when one is wrong. fmt->map
 * is a new reference the caller releases. */
static bool import_format(struct sa_req *r, struct sa_import_format *fmt)
{
    const char *cs = sa_req_query(r, "charset");
    if (cs && !sa_charset_known(cs)) {
        sa_reply_error(r, 422, "validation_error", "query.charset", "enum",
                       "Input should be utf-8, windows-1252, cp1252, latin1, iso-8859-1, "
                       "latin9 or iso-8859-15");
        return false;
    }
    fmt->charset = cs;
    const char *m = sa_req_query(r, "map");
    if (!m)
        return true;
    json_error_t jerr;
    json_t *map = json_loads(m, JSON_REJECT_DUPLICATES, &jerr);
    json_t *detail = json_array();
    if (!map)
        sa_detail_add(detail, "query.map", "json_invalid",
                      "The map should be a JSON object {\"Their Column\": \"company_name\"}: %s",
                      jerr.text);
    else if (sa_import_map_check(map, detail) == 0)
        json_array_clear(detail);
    if (json_array_size(detail)) {
        json_decref(map);
        sa_reply_problem(r, 422, "validation_error", detail);
        return false;
    }
    json_decref(detail);
    fmt->map = map;
    return true;
}

/* Answers 202 with an import job for the spooled body (the job takes a duplicate of its
 * file descriptor, and fmt's map). */
static void import_in_background(struct sa_req *r, struct sa_import_format *fmt, bool partial)
{
    struct sa_err err = {0};
    char id[SA_UUID_LEN];
    int fd = dup(r->body_fd);
    int rc = fd < 0 ? sa_err_set(&err, SA_EIO, "the spooled body: %s", strerror(errno))
                    : sa_import_job_start(r->app->imports, fd, r->body_file_len, fmt->charset,
                                          fmt->map, partial, id, &err);
    json_decref((json_t *)fmt->map);
    if (rc) {
        sa_reply_unavailable(r, rc, &err, "Starting the import (nothing was imported)");
        return;
    }
    json_t *job = NULL;
    if ((rc = sa_import_job_get(r->app->imports, id, &job, &err))) {
        sa_reply_unavailable(r, rc, &err, "Reading the import job");
        return;
    }
    sa_reply_header(r, "Location", "/api/imports/%s", id);
    sa_reply_json(r, 202, job);
}

/* GET /api/imports/{id}: a background import's progress and, once finished, its result. */
void sa_route_import_get(struct sa_req *r)
{
    char id[SA_UUID_LEN];
    if (!sa_param_uuid(r, 0, "path.import_id", id))
        return;
    json_t *job = NULL;
    struct sa_err err = {0};
    int rc = sa_import_job_get(r->app->imports, id, &job, &err);
    if (rc)
        sa_reply_failure(r, rc, &err, "path.import_id", "Reading the import");
    else
        sa_reply_json(r, 200, job);
}

/* GET /api/imports/{id}/stream: the import followed as server-sent events: "progress"
 * ({import_id, status, rows_done, rows_total}) each time more rows are written, then one
 * "done" or "failed" event carrying the job as GET /api/imports/{id} answers it, then the
 * end of the stream. Between two events the stream parks: no HTTP thread waits for it, and
 * the import's thread wakes it. */
struct follow {
    struct sa_import_jobs *jobs;
    char id[SA_UUID_LEN];
    size_t seen; /* rows_done last sent */
    bool started, finished;
    struct sa_buf b; /* an event not yet read */
    size_t pos;
    struct sa_import_follower parked;
};

/* The job's next event into f->b: progress, or its end. */
static int follow_event(struct follow *f)
{
    json_t *job = NULL;
    struct sa_err err = {0};
    if (sa_import_job_get(f->jobs, f->id, &job, &err)) {
        f->finished = true; /* dropped from the registry meanwhile: end the stream */
        return 0;
    }
    const char *status = json_string_value(json_object_get(job, "status"));
    f->seen = (size_t)json_integer_value(json_object_get(job, "rows_done"));
    f->finished = status && strcmp(status, "running") != 0;
    json_t *ev = f->finished ? json_incref(job)
                             : json_pack("{s:O, s:O, s:O, s:O}", "import_id",
                                         json_object_get(job, "import_id"), "status",
                                         json_object_get(job, "status"), "rows_done",
                                         json_object_get(job, "rows_done"), "rows_total",
                                         json_object_get(job, "rows_total"));
    char *data = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    int rc = data ? sa_buf_printf(&f->b, "event: %s\ndata: %s\n\n",
                                  f->finished ? status : "progress", data)
                  : SA_ENOMEM;
    free(data);
    json_decref(ev);
    json_decref(job);
    return rc;
}

static void follow_wake(void *arg)
{
    sa_stream_wake(arg);
}

static long follow_read(void *cls, char *buf, size_t max, struct sa_stream_waker *waker)
{
    struct follow *f = cls;
    while (f->pos >= f->b.len) {
        if (f->finished)
            return -1; /* the end of the stream */
        sa_buf_reset(&f->b);
        f->pos = 0;
        if (f->started) {
            int rc = sa_import_job_park(f->jobs, f->id, f->seen, &f->parked, follow_wake, waker);
            if (rc == 1)
                return SA_STREAM_PARKED; /* nothing new: woken at the next step */
            if (rc)
                return -1; /* dropped from the registry meanwhile: end the stream */
        }
        f->started = true;
        if (follow_event(f))
            return -1;
    }
    size_t n = f->b.len - f->pos < max ? f->b.len - f->pos : max;
    memcpy(buf, f->b.data + f->pos, n);
    f->pos += n;
    return (long)n;
}

static void follow_done(void *cls)
{
    struct follow *f = cls;
    sa_import_job_unpark(f->jobs, &f->parked);
    sa_buf_free(&f->b);
    free(f);
}

void sa_route_import_stream(struct sa_req *r)
{
    char id[SA_UUID_LEN];
    if (!sa_param_uuid(r, 0, "path.import_id", id))
        return;
    json_t *job = NULL;
    struct sa_err err = {0};
    int rc = sa_import_job_get(r->app->imports, id, &job, &err);
    json_decref(job);
    if (rc) {
        sa_reply_failure(r, rc, &err, "path.import_id", "Reading the import");
        return;
    }
    struct follow *f = calloc(1, sizeof *f);
    if (!f) {
        sa_reply_error(r, 500, "internal_error", "", "internal_error", "out of memory");
        return;
    }
    f->jobs = r->app->imports;
    snprintf(f->id, sizeof f->id, "%s", id);
    sa_buf_init(&f->b, (size_t)64 << 20);
    sa_reply_parked_stream(r, "text/event-stream", follow_read, f, follow_done);
}

/* POST /api/leads/import: a CSV body (text/csv); ?partial=true imports the valid rows;
 * ?charset= names a single-byte encoding, ?map= maps the file's columns. */
void sa_route_leads_import(struct sa_req *r)
{
    const char *p = sa_req_query(r, "partial");
    bool partial = p && (strcmp(p, "true") == 0 || strcmp(p, "1") == 0);
    if (p && !partial && strcmp(p, "false") != 0 && strcmp(p, "0") != 0) {
        sa_reply_error(r, 422, "validation_error", "query.partial", "bool_parsing",
                       "Input should be true or false");
        return;
    }
    const char *body;
    size_t body_len;
    sa_req_body(r, &body, &body_len);
    if (body_len == 0) {
        sa_reply_error(r, 400, "invalid_csv", "body", "csv_invalid",
                       "The body is empty; send the CSV with a header row");
        return;
    }
    struct sa_import_format fmt = {0};
    if (!import_format(r, &fmt))
        return;
    if (r->body_spooled) { /* over MAX_BODY_BYTES: imported in the background */
        import_in_background(r, &fmt, partial);
        return;
    }
    fmt.detail = json_array();
    json_t *report = NULL;
    struct sa_err err = {0};
    int rc = sa_app_import_csv_as(r->app, &fmt, body, body_len, partial, NULL, NULL, &report, &err);
    json_decref((json_t *)fmt.map);
    if (rc == SA_EINVAL && json_array_size(fmt.detail)) { /* the file or the map: named */
        json_decref(report);
        sa_reply_problem(r, 422, "validation_error", fmt.detail);
        return;
    }
    json_decref(fmt.detail);
    if (rc == 0) {
        sa_reply_json(r, 200, report);
        return;
    }
    if (report) { /* invalid rows: each one named, nothing imported */
        json_t *detail = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(report, "errors"), i, e)
        {
            json_t *loc = json_pack("[s]", "body");
            json_array_extend(loc, json_object_get(e, "loc"));
            json_t *d =
                json_pack("{s:o, s:O, s:O, s:O, s:O}", "loc", loc, "msg", json_object_get(e, "msg"),
                          "type", json_object_get(e, "type"), "row", json_object_get(e, "row"),
                          "line", json_object_get(e, "line"));
            if (d && json_object_get(e, "column"))
                json_object_set(d, "column", json_object_get(e, "column"));
            json_array_append_new(detail, d);
        }
        sa_reply_problem(r, 422, "validation_error", detail);
        json_object_set_new(r->json, "report", report);
        return;
    }
    if (rc == SA_ECONFLICT)
        sa_reply_error(r, 409, "conflict", "body", "duplicate_rows", "%s", err.msg);
    else if (rc == SA_EINVAL || rc == SA_ETOOBIG)
        sa_reply_error(r, rc == SA_ETOOBIG ? 413 : 400, "invalid_csv", "body", "csv_invalid", "%s",
                       err.msg);
    else
        sa_reply_unavailable(r, rc, &err, "Importing the leads (nothing was imported)");
}

/* ---- export, edit, erase (issue 11) ----------------------------------------------- */

/* GET /api/leads/export?format=csv: the list's filters, streamed as CSV. */
static long export_read(void *cls, char *buf, size_t max)
{
    struct sa_err err = {0};
    ssize_t n = sa_export_read(cls, buf, max, &err);
    if (n < 0)
        sa_log(SA_LOG_ERROR, "export cut short", json_pack("{s:s}", "error", err.msg));
    return n > 0 ? (long)n : -1; /* 0 would mean "nothing yet": the end is -1 */
}

static void export_done(void *cls)
{
    sa_export_free(cls);
}

void sa_route_leads_export(struct sa_req *r)
{
    json_t *detail = json_array();
    long min_score;
    sa_query_long(r, "min_score", 0, 100, -1, &min_score, detail);
    const char *tier = sa_req_query(r, "tier");
    if (tier && (strlen(tier) != 1 || tier[0] < 'A' || tier[0] > 'D'))
        sa_detail_add(detail, "query.tier", "enum", "Input should be A, B, C or D");
    const char *q = sa_req_query(r, "q");
    if (q && (strlen(q) == 0 || sa_utf8_chars(q, strlen(q)) > 200))
        sa_detail_add(detail, "query.q", "string_too_long",
                      "Search text should have 1 to 200 characters");
    const char *format = sa_req_query(r, "format");
    if (format && strcmp(format, "csv") != 0)
        sa_detail_add(detail, "query.format", "enum", "Input should be csv");
    const char *sort = sa_req_query(r, "sort");
    if (sort && !sa_app_lead_sort_valid(sort))
        sa_detail_add(detail, "query.sort", "enum", "Input should be " SA_LEAD_SORT_NAMES);
    const char *b = sa_req_query(r, "bom");
    bool bom = b && (strcmp(b, "true") == 0 || strcmp(b, "1") == 0);
    if (b && !bom && strcmp(b, "false") != 0 && strcmp(b, "0") != 0)
        sa_detail_add(detail, "query.bom", "bool_parsing", "Input should be true or false");
    if (json_array_size(detail) > 0) {
        sa_reply_problem(r, 422, "validation_error", detail);
        return;
    }
    json_decref(detail);
    struct sa_export_opts o = {
        .tier = tier, .min_score = (int)min_score, .search = q, .bom = bom, .sort = sort};
    struct sa_export *x = NULL;
    struct sa_err err = {0};
    int rc = sa_export_open(r->app->store, &o, &x, &err);
    if (rc) {
        sa_reply_unavailable(r, rc, &err, "Exporting the leads");
        return;
    }
    sa_reply_stream(r, "text/csv; charset=utf-8", export_read, x, export_done);
    if (r->stream_resp)
        sa_reply_header(r, "Content-Disposition", "attachment; filename=\"leads.csv\"");
}

/* PATCH /api/leads/{id}: a JSON merge patch of the lead's input; validated, re-scored. */
void sa_route_lead_update(struct sa_req *r)
{
    char id[SA_UUID_LEN];
    if (!sa_param_uuid(r, 0, "path.id", id))
        return;
    json_t *patch = sa_req_json(r);
    if (!patch)
        return;
    json_t *detail = json_array(), *changed = NULL, *lead = NULL;
    struct sa_err err = {0};
    int rc = sa_app_lead_update(r->app, id, patch, sa_req_header(r, "If-Match"), detail, &changed,
                                &lead, &err);
    json_decref(patch);
    if (rc == SA_EINVAL && json_array_size(detail) > 0) {
        sa_reply_problem(r, 422, "validation_error", detail);
        return;
    }
    json_decref(detail);
    if (rc == SA_ECONFLICT) {
        sa_reply_error(r, 409, "conflict", "body.contact_info.email", "duplicate_email", "%s",
                       err.msg);
        return;
    }
    if (rc) {
        sa_reply_failure(r, rc, &err, "path.id", "Updating the lead");
        return;
    }
    r->audit_detail = json_pack("{s:o}", "fields", changed); /* names only, never values */
    char tag[SA_ETAG_LEN];
    sa_app_lead_etag(lead, tag);
    sa_reply_header(r, "ETag", "%s", tag);
    sa_reply_json(r, 200, lead);
}

/* DELETE /api/leads/{id}: erases the person everywhere; keeps do-not-contact. */
void sa_route_lead_erase(struct sa_req *r)
{
    char id[SA_UUID_LEN];
    if (!sa_param_uuid(r, 0, "path.id", id))
        return;
    json_t *counts = NULL;
    struct sa_err err = {0};
    int rc = sa_app_lead_erase(r->app, id, &counts, &err);
    if (rc) {
        sa_reply_failure(r, rc, &err, "path.id", "Erasing the lead");
        return;
    }
    r->audit_detail = json_pack("{s:s, s:O}", "target", id, "erased", counts);
    sa_reply_json(r, 200, json_pack("{s:s, s:o}", "id", id, "erased", counts));
}
