/* A fake Salesforce org for tests: an HTTP server on 127.0.0.1 (a free port) in a thread
 * of the test process, playing the My Domain host's OAuth token endpoint (client
 * credentials) and the REST API's composite resource with Lead upserts by an external id
 * field, Lead reads by it and Task creation (wire-formats.md §5). It checks every request
 * (form fields, bearer token, JSON shapes, at most 25 subrequests, allOrNone present,
 * unique referenceIds, the external id field and API version expected) and counts a
 * malformed one as invalid; it keeps Leads (by external id) and Tasks, so a test can
 * assert exactly-once; and it can be scripted. Tests MUST assert
 * fake_salesforce_invalid() == 0. */
#ifndef SA_TESTS_FAKE_SALESFORCE_H
#define SA_TESTS_FAKE_SALESFORCE_H

#include <jansson.h>
#include <stddef.h>

enum fake_sf_fault {
    FAKE_SF_500,   /* 500 [{errorCode: UNKNOWN_EXCEPTION}], nothing done */
    FAKE_SF_401,   /* the current token expires: 401 INVALID_SESSION_ID */
    FAKE_SF_LIMIT, /* 403 REQUEST_LIMIT_EXCEEDED, nothing done */
    FAKE_SF_HANG,  /* waits arg ms, then does the work and answers */
};

struct fake_salesforce;

/* Starts a fake org accepting client_id/client_secret, API version ("62.0") and the Lead
 * external id field ("Email__c"); NULL when it cannot listen. */
struct fake_salesforce *fake_salesforce_start(const char *client_id, const char *client_secret,
                                              const char *version, const char *field);
void fake_salesforce_stop(struct fake_salesforce *f);
/* http://127.0.0.1:PORT: the login (My Domain) URL and the instance URL (owned). */
const char *fake_salesforce_url(const struct fake_salesforce *f);
/* The next `times` requests whose path starts with path get fault. */
void fake_salesforce_fault(struct fake_salesforce *f, const char *path, enum fake_sf_fault fault,
                           int times, long arg);
/* Requests whose path starts with path (NULL: all). */
size_t fake_salesforce_requests(struct fake_salesforce *f, const char *path);
/* Tokens issued so far. */
size_t fake_salesforce_tokens(struct fake_salesforce *f);
size_t fake_salesforce_invalid(struct fake_salesforce *f, const char **first);
/* "leads" or "tasks". */
size_t fake_salesforce_count(struct fake_salesforce *f, const char *what);
/* The Leads holding external id value (new reference: an array, maybe empty). */
json_t *fake_salesforce_leads(struct fake_salesforce *f, const char *value);
/* The Tasks (new reference). */
json_t *fake_salesforce_tasks(struct fake_salesforce *f);
/* Adds a Lead holding value (a second one makes upserts on value answer 300). */
void fake_salesforce_seed_lead(struct fake_salesforce *f, const char *value);

#endif
