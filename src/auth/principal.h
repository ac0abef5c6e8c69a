/* Who is calling: resolved from an API key or a JWT by the access service (app/access.h)
 * and carried by each HTTP request, the audit log and the rate limiter. */
#ifndef SA_AUTH_PRINCIPAL_H
#define SA_AUTH_PRINCIPAL_H

#include "auth/scope.h"

enum sa_principal_kind {
    SA_PRINCIPAL_NONE,    /* no (valid) credentials */
    SA_PRINCIPAL_KEY,     /* an API key */
    SA_PRINCIPAL_TOKEN,   /* a JWT bearer token */
    SA_PRINCIPAL_ADDRESS, /* AUTH=off: the client address, with every scope */
    SA_PRINCIPAL_LOCAL,   /* the command line (keys create, imports) */
};

struct sa_principal {
    enum sa_principal_kind kind;
    /* Stable and unique, the audit log's principal and the rate limiter's key:
     * "key:ID", "jwt:SUBJECT", "addr:127.0.0.1", "cli:USER". */
    char id[160];
    char name[128]; /* the key's name or the token's subject */
    sa_scopes scopes;
};

#endif
