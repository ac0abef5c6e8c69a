/* POST /api/inbound/email: a raw RFC 5322 message from a mail gateway (a Mailgun,
 * SendGrid or Postmark inbound webhook, or a pipe posting what it receives), processed by
 * the inbound mail service (app/inbound.h). Two ways in: an API key or token with the
 * inbound scope (checked by the guard like any route), or a signature with INBOUND_SECRET
 * (X-Timestamp and X-Signature, auth/inbound_sig.h), which the guard lets through without
 * credentials and this handler verifies before reading anything else. */
#include <string.h>

#include "app/app.h"
#include "app/inbound.h"
#include "auth/inbound_sig.h"
#include "base/clock.h"
#include "http/http.h"

void sa_route_inbound_email(struct sa_req *r)
{
    const char *data;
    size_t len;
    sa_req_body(r, &data, &len);
    const char *sig = sa_req_header(r, "X-Signature");
    const char *secret = r->app->cfg.inbound_secret;
    if (sig && secret && *secret) {
        struct sa_err err = {0};
        if (sa_inbound_sig_verify(secret, strlen(secret), sa_req_header(r, "X-Timestamp"), sig,
                                  data, len, (long long)sa_wall_time(),
                                  r->app->cfg.inbound_max_age_seconds, &err)) {
            sa_reply_header(r, "WWW-Authenticate", "HMAC realm=\"sales-agent inbound\"");
            sa_reply_error(r, 401, "unauthorized", "header.x-signature", "invalid_signature", "%s",
                           err.msg);
            return;
        }
    }
    if (len == 0) {
        sa_reply_error(r, 422, "validation_error", "body", "missing",
                       "The body must be the raw RFC 5322 message");
        return;
    }
    json_t *out = NULL;
    struct sa_err err = {0};
    int rc = sa_app_inbound(r->app, data, len, &out, &err);
    if (rc == SA_EINVAL) {
        sa_reply_error(r, 422, "validation_error", "body", "invalid_message",
                       "The message cannot be read: %s", err.msg);
        return;
    }
    if (rc == SA_ETOOBIG) {
        sa_reply_error(r, 413, "payload_too_large", "body", "too_large", "%s", err.msg);
        return;
    }
    if (rc) {
        sa_reply_failure(r, rc, &err, "body", "Processing the inbound message");
        return;
    }
    if (json_is_true(json_object_get(out, "duplicate")))
        r->no_audit = true; /* nothing changed */
    else
        r->audit_detail = json_pack("{s:O?, s:O?, s:O?}", "target",
                                    json_object_get(json_object_get(out, "matched"), "lead_id"),
                                    "kind", json_object_get(out, "kind"), "message_id",
                                    json_object_get(out, "message_id"));
    sa_reply_json(r, 200, out);
}
