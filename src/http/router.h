/* Path routing: matches a method and a decoded path against the route table, capturing
 * {name} segments. Pure functions, used by the server and unit-tested alone. */
#ifndef SA_HTTP_ROUTER_H
#define SA_HTTP_ROUTER_H

#include <stddef.h>

#include "http/http.h"

enum sa_match { SA_MATCH_OK, SA_MATCH_NO_ROUTE, SA_MATCH_BAD_METHOD };

/* Finds the route for method and path among routes[0..n). On SA_MATCH_OK sets *route and
 * fills params (pointers into buf, cap bytes, NUL-terminated). On SA_MATCH_BAD_METHOD
 * writes the allowed methods ("GET, HEAD, POST") into allow (cap allow_cap). HEAD matches GET. */
enum sa_match sa_route_match(const struct sa_route *routes, size_t n, const char *method,
                             const char *path, const struct sa_route **route, const char **params,
                             char *buf, size_t cap, char *allow, size_t allow_cap);

#endif
