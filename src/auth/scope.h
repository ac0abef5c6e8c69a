/* Scopes: what a principal (an API key or a token's subject) may do. Every route names
 * the one scope it needs (http/routes.c); admin includes the other three. */
#ifndef SA_AUTH_SCOPE_H
#define SA_AUTH_SCOPE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

/* public: no credentials (liveness, the index, the API document); read: lists and
 * records; write: creates leads and runs, invokes agents; approve: answers a human
 * approval (sends mail); admin: operates the service (keys, audit, counters); inbound:
 * posts received mail (POST /api/inbound/email: a mail gateway's key holds only this). */
enum sa_scope {
    SA_SCOPE_PUBLIC,
    SA_SCOPE_READ,
    SA_SCOPE_WRITE,
    SA_SCOPE_APPROVE,
    SA_SCOPE_ADMIN,
    SA_SCOPE_INBOUND
};

/* A set of scopes: bit (1u << scope). */
typedef unsigned sa_scopes;
#define SA_SCOPE_BIT(s) (1u << (unsigned)(s))
#define SA_SCOPES_ALL                                                                              \
    (SA_SCOPE_BIT(SA_SCOPE_READ) | SA_SCOPE_BIT(SA_SCOPE_WRITE) |                                  \
     SA_SCOPE_BIT(SA_SCOPE_APPROVE) | SA_SCOPE_BIT(SA_SCOPE_ADMIN) |                              \
     SA_SCOPE_BIT(SA_SCOPE_INBOUND))

/* The scope's name ("read"); "?" for a value outside the enum. */
const char *sa_scope_name(enum sa_scope s);

/* Parses a list of scope names separated by commas and/or spaces ("read,write",
 * "read write": the OAuth "scope" claim's form) into *out. Empty items are skipped; an
 * unknown name is SA_EINVAL with err naming it; an empty list is SA_EINVAL. */
int sa_scopes_parse(const char *text, sa_scopes *out, struct sa_err *err) SA_WUR;

/* Writes the set as "read,write" (in enum order) into buf (cap bytes); returns buf. */
const char *sa_scopes_format(sa_scopes s, char *buf, size_t cap);

/* True when a principal holding `have` may use a route needing `need`: public always,
 * admin anything, else the scope itself. */
bool sa_scopes_allow(sa_scopes have, enum sa_scope need);

#endif
