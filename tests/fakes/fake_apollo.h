/* A scriptable fake Apollo for tests: an HTTP server on 127.0.0.1 (a free port) in a
 * thread of the test process, speaking Apollo's enrichment API (wire-formats.md §5):
 * GET /api/v1/organizations/enrich?domain= and POST /api/v1/people/match, key in
 * X-Api-Key. It checks every request against the documented format (method, path, the
 * key header and no key elsewhere, Cache-Control, the query, the JSON body's fields and
 * types) and records it; it answers with the replies a test queued, else from the
 * organizations and people it was given (unknown: "organization": null / "person": null),
 * every answer with Apollo's usage headers. A request with another key gets Apollo's 401.
 * Tests MUST assert fake_apollo_invalid() == 0: a malformed request is a client bug. */
#ifndef SA_TESTS_FAKE_APOLLO_H
#define SA_TESTS_FAKE_APOLLO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define FAKE_APOLLO_ORG_PATH "/api/v1/organizations/enrich"
#define FAKE_APOLLO_PEOPLE_PATH "/api/v1/people/match"

/* One scripted answer; everything is copied by fake_apollo_push. */
struct fake_apollo_reply {
    const char *path;           /* only for requests to this path; NULL: any */
    int status;                 /* 0: 200 */
    const char *const *headers; /* extra "Name: value" headers, NULL-terminated, or NULL */
    const char *body;           /* NULL: the default answer (with status and headers) */
    int hang_ms;                /* wait this long before answering (cut short by stop) */
    bool drop;                  /* close the connection without an answer */
};

struct fake_apollo;

/* Starts a fake expecting key; NULL when it cannot listen. */
struct fake_apollo *fake_apollo_start(const char *key);
/* Stops it (a hanging answer is cut short) and frees it. NULL is fine. */
void fake_apollo_stop(struct fake_apollo *f);
/* http://127.0.0.1:PORT (APOLLO_BASE_URL); owned by the fake. */
const char *fake_apollo_base_url(const struct fake_apollo *f);
/* An organization the default answer knows, by its primary_domain (organization is
 * copied; it is answered as it is). */
void fake_apollo_add_org(struct fake_apollo *f, const char *domain, const json_t *organization);
/* A person the default answer knows, by e-mail (copied). */
void fake_apollo_add_person(struct fake_apollo *f, const char *email, const json_t *person);
/* The usage headers of default answers: the limits, and how many requests were already
 * spent in each window (each request adds one). */
void fake_apollo_usage(struct fake_apollo *f, int minute_limit, int hourly_limit, int minute_used,
                       int hourly_used);
/* Queues a reply (first in, first out among those whose path fits). */
void fake_apollo_push(struct fake_apollo *f, const struct fake_apollo_reply *r);
/* Requests received so far (valid or not), and those to path. */
size_t fake_apollo_requests(struct fake_apollo *f);
size_t fake_apollo_requests_to(struct fake_apollo *f, const char *path);
/* Request i as {method, path, query: {name: value}, body: JSON or null, key} (borrowed;
 * valid until fake_apollo_stop), or NULL. */
json_t *fake_apollo_request(struct fake_apollo *f, size_t i);
/* How many requests broke the wire format; *first (when non-NULL) gets the first reason
 * (borrowed), or "" when none did. */
size_t fake_apollo_invalid(struct fake_apollo *f, const char **first);
/* Forgets the malformed requests seen so far (for a test of the checks themselves). */
void fake_apollo_clear_invalid(struct fake_apollo *f);

/* A realistic organization as Apollo answers it (new reference). */
json_t *fake_apollo_sample_org(const char *name, const char *domain);

#endif
