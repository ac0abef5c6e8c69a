/* The product profile: what the user sells and who writes to prospects, loaded from
 * data/product.json (or PRODUCT_PROFILE) and validated once at start-up. The marketing,
 * BDR and conversation agents write their copy from it; GET /api/profile shows it. No
 * seller fact lives in C. Immutable once loaded: safe to share between threads.
 *
 * The document (README, "Product profile", lists every field):
 *   company {name, website?, postal_address}, product {name, value_proposition},
 *   value_points {default, personas?, industries?}, pain_points {the same},
 *   pricing {on_request: true} or {plans: [{name, price, currency, unit}], note?},
 *   case_studies? [{customer, industry?, result}], proof_points? [text],
 *   competitors? [{name, positioning}], sender {name, title, email}, meeting_link,
 *   offer? {trial? {days, text}, demo? {minutes, text}}, integrations? [text],
 *   security? {summary, certifications? [text]}, replies {LANG: {INTENT: template}}. */
#ifndef SA_DOMAIN_PROFILE_H
#define SA_DOMAIN_PROFILE_H

#include <jansson.h>

#include "base/err.h"

struct sa_profile;

/* Loads and validates the profile in the JSON file at path. Returns 0 and *out (free it
 * with sa_profile_free), or SA_ECONFIG with err naming the file and the field:
 * "product.json: pricing.plans[1].price: must be a positive number". */
int sa_profile_load(const char *path, struct sa_profile **out, struct sa_err *err) SA_WUR;

/* Validates doc (borrowed; copied) as a profile; errors start with "name: ". Returns 0
 * and *out, or SA_ECONFIG (or SA_ENOMEM). */
int sa_profile_parse(const json_t *doc, const char *name, struct sa_profile **out,
                     struct sa_err *err) SA_WUR;

void sa_profile_free(struct sa_profile *p);

/* Replaces the sender's name, title, e-mail and the meeting link with each argument that
 * is not NULL (the SENDER_NAME, SENDER_TITLE, SENDER_EMAIL and MEETING_LINK settings),
 * checked as the file's are. Returns 0 or SA_ECONFIG naming the setting. Not
 * thread-safe: call it before the profile is shared. */
int sa_profile_override(struct sa_profile *p, const char *sender_name, const char *sender_title,
                        const char *sender_email, const char *meeting_link,
                        struct sa_err *err) SA_WUR;

/* The validated document with the overrides applied (borrowed; GET /api/profile). */
const json_t *sa_profile_json(const struct sa_profile *p);

/* The string at a dotted path ("sender.email", "company.postal_address"), or NULL. */
const char *sa_profile_str(const struct sa_profile *p, const char *path);

/* The value point (kind "value_points") or pain point (kind "pain_points") for an
 * industry (compared without case) or else a persona, else the default. Borrowed. */
const char *sa_profile_point(const struct sa_profile *p, const char *kind, const char *persona,
                             const char *industry);

/* The first case study for industry (without case), or NULL: {customer, industry, result}. */
const json_t *sa_profile_case_study(const struct sa_profile *p, const char *industry);

/* How to position against a competitor (name without case), or NULL. */
const char *sa_profile_positioning(const struct sa_profile *p, const char *competitor);

/* The reply template for intent in language lang ("en"), or NULL. */
const char *sa_profile_reply(const struct sa_profile *p, const char *lang, const char *intent);

/* Adds the profile's facts as template variables to vars, written for language lang
 * (units and lists in that language; "en" when it has no words for it): product_name,
 * seller_name, value_proposition, sender_name, sender_title, sender_email, meeting_link,
 * postal_address, price_list (absent when pricing is on request), pricing_on_request
 * ("yes" or absent), trial_days, trial_offer, demo_minutes, demo_offer, integrations,
 * security_summary, certifications, proof_point. Absent facts stay absent. */
void sa_profile_vars(const struct sa_profile *p, const char *lang, json_t *vars);

#endif
