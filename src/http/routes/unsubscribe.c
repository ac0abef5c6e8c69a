/* The unsubscribe link of every outgoing e-mail (app/consent.h): GET shows a one-button
 * page, POST (the button, or a mail client's RFC 8058 one-click request with the body
 * List-Unsubscribe=One-Click) opts the address out. Public: the signed token is the
 * credential, and a wrong one is a 404 like any unknown path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/consent.h"
#include "base/buf.h"
#include "http/http.h"

/* Appends n bytes; a failure (out of memory, past the cap) is remembered in *bad. */
static void add(struct sa_buf *b, const char *p, size_t n, bool *bad)
{
    if (sa_buf_append(b, p, n))
        *bad = true;
}

/* s with & < > " ' escaped for HTML, appended to b. */
static void put_escaped(struct sa_buf *b, const char *s, bool *bad)
{
    for (; *s; s++) {
        const char *e = *s == '&'   ? "&amp;"
                        : *s == '<' ? "&lt;"
                        : *s == '>' ? "&gt;"
                        : *s == '"' ? "&quot;"
                        : *s == '\'' ? "&#39;"
                                     : NULL;
        if (e)
            add(b, e, strlen(e), bad);
        else
            add(b, s, 1, bad);
    }
}

static void not_ours(struct sa_req *r)
{
    sa_reply_error(r, 404, "not_found", "path.token", "not_found",
                   "This unsubscribe link is not valid (it may have been cut short)");
}

void sa_route_unsubscribe_page(struct sa_req *r)
{
    json_t *res = NULL;
    struct sa_err err = {0};
    int rc = sa_consent_unsubscribe(r->app->consent, r->app->store, r->params[0], false, &res,
                                    &err);
    if (rc == SA_ENOTFOUND) {
        not_ours(r);
        return;
    }
    if (rc) {
        sa_reply_unavailable(r, rc, &err, "Reading the unsubscribe link");
        return;
    }
    const char *email = json_string_value(json_object_get(res, "email"));
    bool done = json_is_true(json_object_get(res, "do_not_contact"));
    struct sa_buf b;
    sa_buf_init(&b, 16384);
    static const char head[] =
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
        "content=\"width=device-width\"><title>Unsubscribe</title></head><body "
        "style=\"font-family:sans-serif;max-width:32em;margin:3em auto\"><h1>Unsubscribe</h1><p>";
    bool bad = false;
    add(&b, head, strlen(head), &bad);
    put_escaped(&b, email ? email : "", &bad);
    if (done) {
        static const char t[] = " is unsubscribed: we will not e-mail it again.</p>";
        add(&b, t, strlen(t), &bad);
    } else {
        static const char t[] =
            " will get no more e-mails from us once you confirm.</p><form method=\"post\">"
            "<input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">"
            "<button type=\"submit\">Unsubscribe</button></form>";
        add(&b, t, strlen(t), &bad);
    }
    static const char tail[] = "</body></html>\n";
    add(&b, tail, strlen(tail), &bad);
    json_decref(res);
    size_t len = 0;
    char *text = bad ? NULL : sa_buf_steal(&b, &len);
    if (!text) {
        sa_buf_free(&b);
        sa_reply_unavailable(r, SA_ENOMEM, &err, "Writing the unsubscribe page");
        return;
    }
    /* inline style attributes only; the form posts back here; never framed (a page
     * elsewhere could overlay the button) */
    sa_reply_header(r, "Content-Security-Policy",
                    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                    "base-uri 'none'; frame-ancestors 'none'");
    sa_reply_text(r, 200, "text/html; charset=utf-8", text, len);
}

void sa_route_unsubscribe(struct sa_req *r)
{
    json_t *res = NULL;
    struct sa_err err = {0};
    int rc = sa_consent_unsubscribe(r->app->consent, r->app->store, r->params[0], true, &res, &err);
    if (rc == SA_ENOTFOUND)
        not_ours(r);
    else if (rc)
        sa_reply_unavailable(r, rc, &err, "Recording the unsubscribe");
    else
        sa_reply_json(r, 200, res);
}
