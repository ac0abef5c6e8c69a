/* Contact normalisation for enrichment: e-mail syntax, free-mail and role accounts,
 * phone numbers to E.164, LinkedIn URL form, and the company domain (from the e-mail or
 * the website). Pure functions over a validated lead. */
#ifndef SA_AGENTS_CONTACT_H
#define SA_AGENTS_CONTACT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct sa_lead;
struct sa_model;

/* The lead's phone in E.164 ("+14155550134") into out, using its country (ISO alpha-2 or
 * alpha-3 or English name as sa_country_iso2 reads it; may be NULL) for numbers without a
 * country code; an extension ("x23", "ext. 12") is left out, and so is the "(0)" of
 * "+49 (0)30 ...". false when it cannot tell. */
/* The first name to greet a contact by, from the full name as CRMs export it: honorifics
 * and academic titles skipped ("Mr. John Smith", "Prof. Dr. Anna Schmidt"), "SMITH, John"
 * read as last name first, an all-capitals name in title case ("JOHN" -> "John"). False
 * (out "") when there is none worth greeting by (an initial, a title alone): the copy then
 * drops the name rather than write "Hi Mr.,". */
bool sa_contact_first_name(const char *name, char *out, size_t cap);

/* The form contact names of one shared mailbox are compared in (docs/leads.md), into
 * out: folded (base/fold.h: case and Latin diacritics), runs of blanks one space, the
 * leading honorifics and titles dropped ("Dr. Anna  Schmidt" -> "anna schmidt"; "Herr",
 * "Frau", "Prof.", "Mr.", "Mrs.", "Ms.", "Mme", "M." ... as sa_contact_first_name reads
 * them, but "M" without its dot is an initial, and a title alone is kept); "Last, First"
 * (one comma between two parts that read as a person's name, not "Smith, Jr." nor
 * "Acme, Inc.") as "First Last": "Schmidt, Dr. Anna" -> "anna schmidt". A NULL or
 * blank name gives "". False (out "") when out is too small or out of memory. */
bool sa_contact_name_key(const char *name, char *out, size_t cap);

/* The gender the leading salutation of a contact name states: 'm' (Herr, Hr., Mr., M.,
 * Sr., Sig., Dhr.), 'f' (Frau, Fr., Mrs., Ms., Miss, Mme, Mlle, Sra., Srta., Sig.ra,
 * Mevr.), 0 when it has none (no title, or one that states none: Dr., Prof.). Read
 * before the name and, for "Last, First", after the comma ("Müller, Frau Anna"). */
char sa_contact_salutation(const char *name);

/* Whether two contact names of one shared mailbox are one person (docs/leads.md): the
 * same sa_contact_name_key, and no two salutations that differ ("Herr Müller" and "Frau
 * Müller" are two people; "Müller" and "Frau Müller" may be one). */
bool sa_contact_same_person(const char *a, const char *b);

/* The gender a contact states: the name's salutation (sa_contact_salutation), else the
 * first word of the lead input's salutation column as CRM exports keep it (an extra
 * field: Salesforce's and HubSpot's "Salutation", "Anrede", "Civilité", "Tratamiento";
 * input may be NULL). 'm', 'f' or 0. */
char sa_contact_gender(const char *name, const json_t *input);

/* sa_contact_same_person with each name's gender given (sa_contact_gender). */
bool sa_contact_same_person_as(const char *a, char ga, const char *b, char gb);

bool sa_phone_e164(const char *phone, const char *country, char *out, size_t cap);

/* True for role mailboxes (info@, sales@, support@, ..., and the same in the languages of
 * the exports we read: kontakt@, vertrieb@, ventas@...; a +tag is ignored: sales+emea@).
 * People sharing one are told apart by name (docs/leads.md). */
bool sa_email_role_account(const char *email);

/* The company domain of the lead: its corporate e-mail's domain, else its website's
 * host without "www.", into out. Returns "email", "website" or NULL (none). */
const char *sa_lead_domain(const struct sa_lead *l, const struct sa_model *m, char *out,
                           size_t cap);

/* {email: {value, valid, domain, free_mail, role_account}, phone: {value, e164},
 *  linkedin: {value, normalized, kind}, domain: {value, source}} (new reference). */
json_t *sa_contact_check(const struct sa_lead *l, const struct sa_model *m, const char *country);

#endif
