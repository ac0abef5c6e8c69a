/* GET /api/profile: the product profile the agents write from (domain/profile.h), as
 * loaded at start-up with the SENDER_* and MEETING_LINK overrides applied. */
#include "app/app.h"
#include "domain/profile.h"
#include "http/http.h"

void sa_route_profile(struct sa_req *r)
{
    json_t *doc = json_deep_copy(sa_profile_json(r->app->profile));
    if (!doc) {
        sa_reply_error(r, 500, "internal_error", "", "internal_error", "out of memory");
        return;
    }
    sa_reply_json(r, 200, doc);
}
