/* A fake HubSpot CRM API for tests: an HTTP server on 127.0.0.1 (a free port) in a thread
 * of the test process, speaking the v3 objects and v4 associations wire format
 * (wire-formats.md §5). It checks every request (path, bearer token, JSON shape, batch
 * sizes <= 100, property values as strings, ids that exist) and counts a malformed one
 * as invalid; it keeps state (contacts by e-mail, companies by domain, associations,
 * notes), so a test can assert a push landed exactly once; and it can be scripted to
 * answer the next requests to a path with a fault. Tests MUST assert
 * fake_hubspot_invalid() == 0. */
#ifndef SA_TESTS_FAKE_HUBSPOT_H
#define SA_TESTS_FAKE_HUBSPOT_H

#include <jansson.h>
#include <stddef.h>

enum fake_hs_fault {
    FAKE_HS_500,         /* 500, nothing done */
    FAKE_HS_409,         /* 409 CONFLICT "Contact already exists. Existing ID: <arg>" */
    FAKE_HS_429_ROLLING, /* 429 policyName TEN_SECONDLY_ROLLING, nothing done */
    FAKE_HS_429_DAILY,   /* 429 policyName DAILY, nothing done */
    FAKE_HS_HANG,        /* waits arg ms, then does the work and answers as usual */
};

struct fake_hubspot;

/* Starts a fake expecting "Authorization: Bearer token"; NULL when it cannot listen. */
struct fake_hubspot *fake_hubspot_start(const char *token);
void fake_hubspot_stop(struct fake_hubspot *f);
/* http://127.0.0.1:PORT (owned by the fake) */
const char *fake_hubspot_base_url(const struct fake_hubspot *f);
/* The next `times` requests whose path starts with path get fault (arg: its id or ms). */
void fake_hubspot_fault(struct fake_hubspot *f, const char *path, enum fake_hs_fault fault,
                        int times, long arg);
/* Requests whose path starts with path (NULL: all), valid or not. */
size_t fake_hubspot_requests(struct fake_hubspot *f, const char *path);
/* The largest batch (inputs) seen. */
size_t fake_hubspot_max_batch(struct fake_hubspot *f);
size_t fake_hubspot_invalid(struct fake_hubspot *f, const char **first);
/* Counts of the state: "contacts", "companies", "associations", "notes". */
size_t fake_hubspot_count(struct fake_hubspot *f, const char *what);
/* A contact's record {id, properties} by e-mail, or a company's by domain (new reference,
 * NULL when none). */
json_t *fake_hubspot_contact(struct fake_hubspot *f, const char *email);
json_t *fake_hubspot_company(struct fake_hubspot *f, const char *domain);
/* The notes [{id, properties, contact}] (new reference). */
json_t *fake_hubspot_notes(struct fake_hubspot *f);
/* Whether contact id is associated with company id (type 279). */
int fake_hubspot_associated(struct fake_hubspot *f, const char *contact, const char *company);
/* Adds a contact directly (as if created in HubSpot's UI); returns its id (static buffer
 * owned by the fake, valid until the next call). */
const char *fake_hubspot_seed_contact(struct fake_hubspot *f, const char *email);

#endif
