/* /api/keys and /api/audit (admin). Being built (issue 10): 501 until the access service
 * lands. */
#include "http/http.h"

void sa_route_keys_list(struct sa_req *r)
{
    sa_reply_error(r, 501, "not_implemented", "", "not_implemented", "not built yet");
}

void sa_route_keys_create(struct sa_req *r)
{
    sa_reply_error(r, 501, "not_implemented", "", "not_implemented", "not built yet");
}

void sa_route_key_revoke(struct sa_req *r)
{
    sa_reply_error(r, 501, "not_implemented", "", "not_implemented", "not built yet");
}

void sa_route_audit_list(struct sa_req *r)
{
    sa_reply_error(r, 501, "not_implemented", "", "not_implemented", "not built yet");
}
