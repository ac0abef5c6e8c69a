/* Route matching (see router.h). Linear over the table (two dozen routes): simpler than a
 * trie and, at this size, as fast. */
#include "http/router.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Matches path against template; captures {name} segments into buf. */
static bool path_matches(const char *tpl, const char *path, const char **params, char *buf,
                         size_t cap)
{
    size_t used = 0, np = 0;
    while (*tpl && *path) {
        if (*tpl != '/' || *path != '/')
            return false;
        tpl++;
        path++;
        size_t tl = strcspn(tpl, "/"), pl = strcspn(path, "/");
        if (tl > 1 && tpl[0] == '{' && tpl[tl - 1] == '}') {
            if (pl == 0 || used + pl + 1 > cap || np == SA_MAX_PARAMS)
                return false;
            memcpy(buf + used, path, pl);
            buf[used + pl] = '\0';
            params[np++] = buf + used;
            used += pl + 1;
        } else if (tl != pl || strncmp(tpl, path, tl) != 0) {
            return false;
        }
        tpl += tl;
        path += pl;
    }
    return *tpl == '\0' && *path == '\0';
}

enum sa_match sa_route_match(const struct sa_route *routes, size_t n, const char *method,
                             const char *path, const struct sa_route **route, const char **params,
                             char *buf, size_t cap, char *allow, size_t allow_cap)
{
    const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
    bool path_found = false;
    size_t alen = 0;
    if (allow_cap)
        allow[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!path_matches(routes[i].path, path, params, buf, cap))
            continue;
        if (strcmp(routes[i].method, m) == 0) {
            *route = &routes[i];
            return SA_MATCH_OK;
        }
        path_found = true;
        if (alen < allow_cap) {
            bool get = strcmp(routes[i].method, "GET") == 0;
            int w = snprintf(allow + alen, allow_cap - alen, "%s%s%s", alen ? ", " : "",
                             routes[i].method, get ? ", HEAD" : "");
            alen += w > 0 ? (size_t)w : 0;
        }
    }
    return path_found ? SA_MATCH_BAD_METHOD : SA_MATCH_NO_ROUTE;
}
