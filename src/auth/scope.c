/* Scope names, parsing and the "admin includes the rest" rule (see scope.h). */
#include "auth/scope.h"

#include <stdio.h>
#include <string.h>

static const char *const names[] = {"public", "read", "write", "approve", "admin", "inbound"};
#define N_SCOPES (sizeof names / sizeof names[0])

const char *sa_scope_name(enum sa_scope s)
{
    return (unsigned)s < N_SCOPES ? names[s] : "?";
}

int sa_scopes_parse(const char *text, sa_scopes *out, struct sa_err *err)
{
    sa_scopes set = 0;
    const char *p = text ? text : "";
    while (*p) {
        size_t n = strcspn(p, ", ");
        if (n > 0) {
            unsigned i = SA_SCOPE_READ;
            while (i < N_SCOPES && !(strlen(names[i]) == n && strncmp(p, names[i], n) == 0))
                i++;
            if (i == N_SCOPES)
                return sa_err_set(err, SA_EINVAL,
                                  "unknown scope '%.*s': expected read, write, approve, admin or inbound",
                                  (int)(n > 40 ? 40 : n), p);
            set |= SA_SCOPE_BIT(i);
        }
        p += n;
        p += strspn(p, ", ");
    }
    if (!set)
        return sa_err_set(err, SA_EINVAL, "no scope given: expected read, write, approve, admin or inbound");
    *out = set;
    return 0;
}

const char *sa_scopes_format(sa_scopes s, char *buf, size_t cap)
{
    size_t len = 0;
    if (cap)
        buf[0] = '\0';
    for (unsigned i = SA_SCOPE_READ; i < N_SCOPES; i++) {
        if (!(s & SA_SCOPE_BIT(i)) || len >= cap)
            continue;
        int w = snprintf(buf + len, cap - len, "%s%s", len ? "," : "", names[i]);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    return buf;
}

bool sa_scopes_allow(sa_scopes have, enum sa_scope need)
{
    if (need == SA_SCOPE_PUBLIC)
        return true;
    if (have & SA_SCOPE_BIT(SA_SCOPE_ADMIN))
        return true;
    return (have & SA_SCOPE_BIT(need)) != 0;
}
