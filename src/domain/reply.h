/* Reading an e-mail reply before and beside the intent model (domain/intent.c calls it):
 * cleaning off quoted earlier messages and signatures, detecting the language, the
 * high-precision unsubscribe and out-of-office lexicons, and extracting a return date and
 * a referred colleague. Pure functions over text: no state, thread-safe. */
#ifndef SA_DOMAIN_REPLY_H
#define SA_DOMAIN_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Copies the reply's own words from text into out (cap bytes, NUL-terminated, cut at a
 * character boundary when too long): drops quoted lines ("> ..."), and everything from a
 * quote header ("On ... wrote:", "Am ... schrieb", "Le ... a écrit", "El ... escribió",
 * "Il ... ha scritto", "Em ... escreveu", "Op ... schreef", "-----Original Message-----",
 * an Outlook "From: / Sent: / To:" block) or a signature ("-- ", "Sent from my iPhone",
 * a closing such as "Best regards" after the message, with the lines that follow). Returns
 * the length written. When nothing is left, out is "". */
size_t sa_reply_clean(const char *text, char *out, size_t cap);

/* Whether text quotes an earlier message the way sa_reply_clean recognises ("> " lines, a
 * quote header, "-----Original Message-----", an Outlook block): a person's reply does by
 * default, an automatic notice does not. */
bool sa_reply_quotes(const char *text);

/* The normalised form the lexicons match: folded (lowercase, no diacritics, see
 * base/fold.h), every run of characters other than letters and digits one space, with one
 * space before and after. out MUST hold 2 * strlen(text) + 3 bytes. Returns the length. */
size_t sa_reply_normalise(const char *text, char *out);

/* The language of text, ISO 639-1 ("en" "de" "fr" "es" "it" "pt" "nl") from stop words,
 * characteristic letters and character trigrams, or "" when nothing points to one (or the
 * text is in another language, below). The result is a static string. */
const char *sa_reply_language(const char *text);
/* Whether text is written in another language than those seven: it holds at least two
 * letters none of them writes (å ø æ ł ą ę ś ż ń č š ž ő...). sa_reply_language then
 * answers "", so a Swedish or Polish reply is not answered in German. */
bool sa_reply_other_language(const char *text);

/* The high-precision lexicons, on normalised text (sa_reply_normalise): a request to stop
 * e-mailing in any of the seven languages (typos in the long words tolerated), and an
 * automatic out-of-office reply. */
bool sa_reply_is_unsubscribe(const char *norm);
bool sa_reply_is_out_of_office(const char *norm);
/* Whether normalised text proposes or accepts something the way a person does ("let's talk
 * then", "happy to meet", "lass uns dann sprechen", "parlons-en", "hablamos") and holds
 * none of an automatic notice's words ("automatic reply", "limited access to email",
 * "urgent matters", "upon my return"): with an out-of-office phrase ("back in the office
 * Monday, let's talk then"), a person's reply rather than an absence notice. */
bool sa_reply_engages(const char *norm);
/* Whom a request to be removed concerns when it comes from another address than the one we
 * wrote to (a colleague's reply). SA_REMOVAL_RECIPIENT: the person we wrote to
 * (recipient_email, recipient_name may be NULL): the text asks to remove them in the third
 * person ("please remove her", "take Anna off your list", "tragen Sie Frau Schmidt aus") or
 * says they have gone and asks to remove ("Anna has left the company, please remove her");
 * SA_REMOVAL_SENDER: any other request to stop (sa_reply_is_unsubscribe: "please remove me
 * from your list"); SA_REMOVAL_NONE: no request. norm: sa_reply_normalise of the cleaned
 * reply. *cue: the phrase that decided, a static string (NULL with SA_REMOVAL_NONE). */
enum sa_reply_removal { SA_REMOVAL_NONE, SA_REMOVAL_SENDER, SA_REMOVAL_RECIPIENT };
enum sa_reply_removal sa_reply_removal_of(const char *norm, const char *recipient_email,
                                          const char *recipient_name, const char **cue);

/* Whether normalised text speaks of data protection or security (GDPR, DSGVO, SOC 2,
 * DPA...) or of an integration (CRM, Salesforce, API...): hints for the model. */
bool sa_reply_mentions_security(const char *norm);
bool sa_reply_mentions_integration(const char *norm);
/* Whether normalised text speaks of unsubscribing as a feature (links, footers,
 * recipients, campaigns...) rather than asking for it. */
bool sa_reply_mentions_unsubscribe_feature(const char *norm);

/* The return date an out-of-office reply gives ("back on 14 January", "zurück am 12.01.",
 * "de retour le 3 mars", "I return Monday Jan 5th"), as "YYYY-MM-DD" in out, the first date
 * after a return cue ("back", "zurück", "retour"...), else the last date in the text. A
 * date without a year is the next such day on or after now's (UTC) date; a weekday alone
 * is the next such weekday after it, and "in 2 weeks" (up to 8 days or weeks) counts from
 * now. Returns true when a date was found, else out is "". */
bool sa_reply_return_date(const char *text, time_t now, char out[11]);

/* The colleague a reply points to: an e-mail address in text (not the sender's: cleaned
 * text has no signature) and the name written before it ("Maria Lopez
 * (maria.lopez@acme.com)", "contact Maria Lopez at ..."), or after a referral cue without an
 * address ("please talk to Tom Becker"). Either may be "" when the text does not give it.
 * Returns true when either was found. */
bool sa_reply_referral(const char *text, char name[96], char email[256]);

#endif
