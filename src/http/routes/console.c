/* The web console (issue 16): the files of web/, embedded in the binary (http/web.h), and
 * GET /api/whoami, which tells the console who its key belongs to, and
 * GET /api/leads/import/columns, the import's column names for the console's preview.
 *   GET /                       index.html to a browser (Accept: text/html), else the JSON
 *                               index (http/routes/system.c)
 *   GET /ui, GET /dashboard     302 to /
 *   GET /assets/{asset}         web/{asset}: scripts, styles
 *   GET /assets/pages/{asset}   web/pages/{asset}: one module per page
 * Static files carry no data (every data call is an authenticated /api call), so they are
 * public. They are looked up by exact name in the embedded table, never read from disk: a
 * path that is not one of its names (a "..") is a 404. An encoded slash is decoded before
 * routing (/assets/pages%2Finbox.js is /assets/pages/inbox.js), which is the same name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/import.h"
#include "http/http.h"
#include "http/web.h"

/* The console's policy: its own scripts, styles and API, nothing inline, nothing from
 * elsewhere, not framed. */
#define CONSOLE_CSP                                                                                \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "                   \
    "frame-ancestors 'none'"

const struct sa_web_file *sa_web_find(const char *path)
{
    for (unsigned i = 0; i < sa_web_files_count; i++)
        if (strcmp(sa_web_files[i].path, path) == 0)
            return &sa_web_files[i];
    return NULL;
}

/* The Content-Type of a file by its extension (the kinds web/ has); NULL for another. */
static const char *type_of(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {{".html", "text/html; charset=utf-8"},
                 {".js", "text/javascript; charset=utf-8"},
                 {".css", "text/css; charset=utf-8"}};
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return NULL;
}

static void security_headers(struct sa_req *r)
{
    sa_reply_header(r, "Content-Security-Policy", "%s", CONSOLE_CSP);
    sa_reply_header(r, "X-Content-Type-Options", "nosniff");
    sa_reply_header(r, "Referrer-Policy", "no-referrer");
}

/* True when the request's If-None-Match names etag (or lists "*"). */
static bool not_modified(struct sa_req *r, const char *etag)
{
    const char *inm = sa_req_header(r, "If-None-Match");
    if (!inm)
        return false;
    for (const char *p = inm; *p;) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, " \t,");
        if (len == 1 && *p == '*')
            return true;
        p += len;
    }
    size_t n = strlen(etag);
    for (const char *p = strstr(inm, etag); p; p = strstr(p + 1, etag)) {
        bool start = p == inm || p[-1] == ' ' || p[-1] == ',' || p[-1] == '/';
        bool end = p[n] == '\0' || p[n] == ',' || p[n] == ' ';
        if (start && end)
            return true;
    }
    return false;
}

/* Answers the file: 200 with its bytes, or 304 when the client has this version. Both
 * must revalidate (no-cache: the names carry no version, so a new binary's console is
 * picked up at once). */
static void serve(struct sa_req *r, const struct sa_web_file *f, const char *type)
{
    security_headers(r);
    sa_reply_header(r, "Cache-Control", "no-cache");
    sa_reply_header(r, "ETag", "%s", f->etag);
    bool fresh = not_modified(r, f->etag);
    /* compiled into the binary: sent from where it is, not copied */
    sa_reply_static(r, fresh ? 304 : 200, type, (const char *)f->data, fresh ? 0 : (size_t)f->len);
}

/* An optional file the console links but a build may lack (web/extra.css, where later
 * pages add their styles): an empty one, so a page without it logs no failed load. */
static bool optional_empty(const char *path)
{
    return strcmp(path, "extra.css") == 0;
}

static void asset(struct sa_req *r, const char *dir)
{
    char path[256];
    int n = snprintf(path, sizeof path, "%s%s", dir, r->params[0]);
    const char *type = n > 0 && (size_t)n < sizeof path ? type_of(path) : NULL;
    const struct sa_web_file *f = type ? sa_web_find(path) : NULL;
    if (!f && type && optional_empty(path)) {
        static const struct sa_web_file empty = {"extra.css", (const unsigned char *)"", 0,
                                                 "\"empty\""};
        f = &empty;
    }
    if (!f || strcmp(path, "index.html") == 0) { /* the page itself is served at / */
        sa_reply_error(r, 404, "not_found", "path.asset", "not_found",
                       "The console has no file %.80s", r->params[0]);
        return;
    }
    serve(r, f, type);
}

void sa_route_console_asset(struct sa_req *r)
{
    asset(r, "");
}

void sa_route_console_page(struct sa_req *r)
{
    asset(r, "pages/");
}

/* The q-value (0-1000) Accept gives the media type "type/sub": that of its most specific
 * matching range (type/sub, then type/\*, then \*\/\*), 0 when none matches. Parameters
 * other than q are ignored. */
static int accept_q(const char *accept, const char *type, const char *sub)
{
    int best_spec = -1, best_q = 0;
    size_t tl = strlen(type), sl = strlen(sub);
    for (const char *p = accept; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[128];
        snprintf(item, sizeof item, "%.*s", (int)(len < sizeof item ? len : sizeof item - 1), p);
        p += len + (end ? 1 : 0);
        char *range = item + strspn(item, " \t");
        char *semi = strchr(range, ';');
        int q = 1000;
        if (semi) {
            *semi = '\0';
            for (char *prm = semi + 1; prm;) {
                prm += strspn(prm, " \t");
                if ((prm[0] == 'q' || prm[0] == 'Q') && prm[1] == '=') {
                    char *num_end = NULL;
                    double v = strtod(prm + 2, &num_end); /* NaN counts as 0 */
                    q = num_end == prm + 2 || !(v >= 0) ? 0 : v > 1 ? 1000 : (int)(v * 1000 + 0.5);
                }
                prm = strchr(prm, ';');
                prm = prm ? prm + 1 : NULL;
            }
        }
        range[strcspn(range, " \t")] = '\0';
        const char *slash = strchr(range, '/');
        if (!slash)
            continue;
        size_t rtl = (size_t)(slash - range);
        const char *rsub = slash + 1;
        int spec = -1;
        if (rtl == 1 && range[0] == '*' && strcmp(rsub, "*") == 0)
            spec = 0;
        else if (rtl == tl && strncasecmp(range, type, tl) == 0)
            spec = strcmp(rsub, "*") == 0                             ? 1
                   : strlen(rsub) == sl && strcasecmp(rsub, sub) == 0 ? 2
                                                                      : -1;
        if (spec > best_spec) {
            best_spec = spec;
            best_q = q;
        }
    }
    return best_q;
}

/* HTML when the client prefers it to JSON by its Accept's q-values: a browser's
 * "text/html,...,*\/\*;q=0.8" does, "*\/\*" (curl) and "text/html;q=0" do not (a tie
 * is the API's JSON). */
bool sa_console_wanted(struct sa_req *r)
{
    const char *accept = sa_req_header(r, "Accept");
    if (!accept)
        return false;
    int html = accept_q(accept, "text", "html");
    return html > 0 && html > accept_q(accept, "application", "json");
}

void sa_route_console(struct sa_req *r)
{
    const struct sa_web_file *f = sa_web_find("index.html");
    if (!f) {
        sa_reply_error(r, 404, "not_found", "path", "not_found", "This build has no web console");
        return;
    }
    serve(r, f, "text/html; charset=utf-8");
}

void sa_route_console_redirect(struct sa_req *r)
{
    static const char page[] = "<!doctype html><title>Moved</title><a href=\"/\">The console "
                               "is at /</a>\n";
    security_headers(r);
    sa_reply_header(r, "Location", "/");
    sa_reply_static(r, 302, "text/html; charset=utf-8", page, sizeof page - 1);
}

void sa_route_whoami(struct sa_req *r)
{
    static const char *const kinds[] = {"none", "key", "token", "address", "local"};
    const struct sa_principal *p = &r->principal;
    json_t *scopes = json_array();
    for (enum sa_scope s = SA_SCOPE_READ; s <= SA_SCOPE_INBOUND; s++)
        if (p->scopes & SA_SCOPE_BIT(s))
            json_array_append_new(scopes, json_string(sa_scope_name(s)));
    unsigned k = (unsigned)p->kind < sizeof kinds / sizeof kinds[0] ? (unsigned)p->kind : 0;
    sa_reply_json(r, 200,
                  json_pack("{s:s, s:s, s:s, s:o}", "id", p->id, "name", p->name, "kind", kinds[k],
                            "scopes", scopes));
}

void sa_route_import_columns(struct sa_req *r)
{
    sa_reply_json(r, 200,
                  json_pack("{s:s, s:o}", "normalise",
                            "ASCII letters and digits only, lowercase (\"Company / Account\" is "
                            "\"companyaccount\"); any other column is kept as an extra field",
                            "columns", sa_import_columns()));
}
