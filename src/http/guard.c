/* The access checks before each handler and the audit record after it (see guard.h). */
#include "http/guard.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/detail.h"
#include "base/json.h"
#include "http/http.h"

/* The media type of a Content-Type value (parameters and spaces cut) equals type. */
static bool media_type_is(const char *ct, const char *type)
{
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return n == strlen(type) && strncasecmp(ct, type, n) == 0;
}

/* application/json or application/<x>+json. */
static bool is_json_type(const char *ct)
{
    if (media_type_is(ct, "application/json"))
        return true;
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
           strncasecmp(ct + n - 5, "+json", 5) == 0;
}

/* A state-changing request must name its type, one a browser cannot send cross-site
 * without a preflight: a missing type, text/plain, a form or multipart is 415, so a page
 * elsewhere cannot post to us (docs/security.md, CSRF). A POST that reads no body still
 * needs application/json. */
static bool check_content_type(struct sa_req *r)
{
    if (r->route->body == SA_BODY_NONE && strcmp(r->method, "POST") != 0)
        return true;
    const char *ct = sa_req_header(r, "Content-Type");
    bool csv = r->route->body == SA_BODY_CSV;
    bool ok = ct && (csv ? media_type_is(ct, "text/csv") || media_type_is(ct, "application/csv")
                         : is_json_type(ct));
    if (ok)
        return true;
    sa_reply_error(r, 415, "unsupported_media_type", "header.content-type",
                   "unsupported_media_type", "Content-Type %.*s is not accepted here; send %s",
                   sa_utf8_cut(ct ? ct : "(none)", 100), ct ? ct : "(none)",
                   csv ? "text/csv" : "application/json");
    return false;
}

bool sa_guard_pre(struct sa_req *r)
{
    (void)r;
    return true;
}

bool sa_guard_route(struct sa_req *r)
{
    return check_content_type(r);
}

bool sa_guard_agent(struct sa_req *r, const char *agent_type)
{
    (void)r;
    (void)agent_type;
    return true;
}

void sa_guard_done(struct sa_req *r)
{
    (void)r;
}
