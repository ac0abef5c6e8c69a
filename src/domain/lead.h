/* The lead as agents see it: the seed's AgentInput (company_name, industry, company_size,
 * contact_info) plus the fields a real lead carries, validated and normalised from JSON.
 * Called by the HTTP layer (invoke) and the seed loader before any agent runs. */
#ifndef SA_AGENTS_LEAD_H
#define SA_AGENTS_LEAD_H

#include <jansson.h>
#include <stdbool.h>

#include "base/err.h"

/* Field limits, in characters. */
#define SA_LEAD_NAME_MAX 255
#define SA_LEAD_SHORT_MAX 100
#define SA_LEAD_URL_MAX 2048
#define SA_LEAD_NOTES_MAX 10000
#define SA_LEAD_SIGNALS_MAX 50

/* Size and revenue when not given. */
#define SA_UNKNOWN (-1)

struct sa_lead {
    /* Strings are borrowed from raw: valid while the lead holds it; NULL when absent. */
    const char *company_name;
    const char *industry;
    const char *company_size; /* as the user typed it (numbers rendered as text) */
    long employees_min;       /* SA_UNKNOWN when not given */
    long employees_max;       /* SA_UNKNOWN when open-ended ("1000+") or not given */
    double annual_revenue;    /* USD; SA_UNKNOWN when not given */
    const char *contact_name, *contact_title, *contact_email, *contact_phone, *linkedin_url;
    const char *website, *country, *notes;
    const json_t *signals; /* array of strings, or NULL */
    json_t *raw;           /* the normalised input object; the lead holds one reference */
};

/* Validates and normalises input (a JSON object: the invoke request's "input") into lead.
 * Strings are trimmed in place in input; a numeric company_size is kept as typed. Contact
 * fields given flat at the top level (email, first and last name, name, title, job title,
 * phone, LinkedIn URL, matched by sa_lead_flat_contact_key) move into contact_info where it
 * has no text for them; otherwise they stay as given. Other unknown fields stay in input
 * untouched.
 * Each problem is appended to detail (see base/detail.h) with loc prefixed by loc_prefix
 * (e.g. "body.input"). Returns 0 and a lead holding a reference to input (release with
 * sa_lead_clear), or SA_EINVAL when detail got entries (lead cleared, no reference held). */
int sa_lead_parse(json_t *input, const char *loc_prefix, struct sa_lead *lead,
                  json_t *detail) SA_WUR;

/* Whether key names a contact field a flat record may give at the top level ("email",
 * "E-mail", "FirstName", "job_title", "linkedin_url"...): compared lowercased, letters
 * and digits only. */
bool sa_lead_flat_contact_key(const char *key);

/* Releases the lead's reference to its input and clears it. */
void sa_lead_clear(struct sa_lead *lead);

/* Parses a company size as people type it: "1-10", "50-200", "1,000-5,000", "1000+",
 * "10k+", "500 employees", "under 50", "Enterprise", "SMB", "mid-market", "250".
 * Returns 0 with *min and *max (*max = SA_UNKNOWN when open-ended), or SA_EINVAL. */
int sa_parse_company_size(const char *s, long *min, long *max) SA_WUR;

/* Parses an amount of money in USD: "25000000", "$12M", "4.5m", "1.2B", "$500K",
 * "10-50M" (midpoint), "$2,500,000". Returns 0 with *usd, or SA_EINVAL. */
int sa_parse_money(const char *s, double *usd) SA_WUR;

/* Parses annual revenue as CRM exports write it: every sa_parse_money form, plus a
 * currency symbol or ISO code before or after the number ("€25M", "EUR 25M", "25 Mio. €",
 * "£3.5m"), the units Mio, Mio., Mrd, mn, mln, bn, "." as thousands separator when two or
 * more groups make it unambiguous ("25.000.000") and a decimal comma ("2,5 Mio"). Returns 0
 * with *amount (in that currency, not converted) and currency set to its ISO 4217 code
 * ("USD" for "$", "" when none was written), or SA_EINVAL (also for "25.000", ambiguous). */
int sa_parse_revenue(const char *s, double *amount, char currency[4]) SA_WUR;

/* True when s is a syntactically valid e-mail address (RFC 5321 limits, dot-atom local
 * part, a domain with at least one dot and a 2+ letter top-level label). */
bool sa_email_valid(const char *s);

/* The domain of an e-mail address (after the last '@'), or NULL. Borrowed from s. */
const char *sa_email_domain(const char *s);

#endif
