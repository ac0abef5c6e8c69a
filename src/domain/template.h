/* Message templates: the small language the marketing copy (data/templates/) and the
 * conversation replies (the product profile's "replies") are written in. Called by the
 * marketing and conversation agents, and by the copy tests. No I/O.
 *
 *   {{name}}              the variable's value; a required fact: when it has no value the
 *                         whole message is withheld and the name reported
 *   {{#name}}...{{/name}} an optional sentence or section: kept only when name has a value
 *                         and every variable inside it has one, else dropped whole
 *   {{^name}}...{{/name}} the fallback: kept only when name has no value
 *   {{a:name}}            the value with its article: "an IT Services", "a SaaS"
 *
 * A value that starts a sentence (at the start of a line, after "Subject:", or after
 * ". ", "! ", "? ") gets a capital letter. After rendering, the whitespace a dropped
 * section leaves is tidied: runs of spaces, a space before a full stop or comma, trailing spaces
 * and runs of blank lines. */
#ifndef SA_DOMAIN_TEMPLATE_H
#define SA_DOMAIN_TEMPLATE_H

#include <jansson.h>

#include "base/err.h"

/* Renders text with vars ({name: string}; a missing, null, non-string or empty value is
 * "no value"). Returns 0 and *out (malloc'd; the caller frees it), or SA_EINVAL when a
 * required variable has no value, after appending each such name once to missing (an
 * array; may be NULL), or SA_ENOMEM / SA_ETOOBIG (over 64 KiB). *out is NULL on error. */
int sa_template_render(const char *text, const json_t *vars, char **out, json_t *missing) SA_WUR;

/* Checks text's tags: every "{{" closed by "}}", every tag named, every section closed by
 * its own {{/name}} in order. Returns 0, or SA_EINVAL with why (size n) saying what is
 * wrong: "section {{#competitor}} is never closed". For validating templates at start-up. */
int sa_template_check(const char *text, char *why, size_t n) SA_WUR;

/* "a" or "an" for the word that starts text, by sound: "an IT", "an HR", "an hour",
 * "a SaaS", "a user", "a one-off", "an 8-person". Static string. */
const char *sa_article(const char *text);

#endif
