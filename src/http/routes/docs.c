/* GET /openapi.json and GET /docs: the API document and its page. Being built (issue 10):
 * answer 501 until the document generator lands. */
#include "http/http.h"

void sa_route_openapi(struct sa_req *r)
{
    sa_reply_error(r, 501, "not_implemented", "", "not_implemented", "not built yet");
}

void sa_route_docs(struct sa_req *r)
{
    sa_reply_error(r, 501, "not_implemented", "", "not_implemented", "not built yet");
}
