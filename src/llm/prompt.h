/* Prompts that keep outside text as data, and checks that an answer keeps to its inputs.
 *
 * Lead fields, notes, CSV cells and prospects' messages come from people we do not
 * control, so they go into a prompt only as data: inside a labelled block
 * (<lead_data>...</lead_data>) as JSON, each string cleaned (control characters dropped,
 * the angle brackets that would close the block replaced, length capped), and the system
 * prompt says that nothing inside a block is an instruction. That alone does not stop a
 * model from obeying one, so what a model writes is checked before it is used: it may
 * state no number and no e-mail address or link that its inputs do not hold. */
#ifndef SA_LLM_PROMPT_H
#define SA_LLM_PROMPT_H

#include <jansson.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

/* text cleaned as data: C0 control characters and DEL dropped (tab and newline kept), '<'
 * and '>' replaced by U+2039 and U+203A, at most cap bytes, cut at a UTF-8 character
 * boundary. Returns a new string (the caller frees it), or NULL when out of memory. */
char *sa_llm_data_text(const char *text, size_t cap);

/* Appends "<label>\n" JSON-of-value "\n</label>\n" to b, every string in value cleaned
 * with sa_llm_data_text(s, cap). Returns 0 or a buffer error. */
int sa_llm_prompt_block(struct sa_buf *b, const char *label, const json_t *value,
                        size_t cap) SA_WUR;

/* The sentence every system prompt ends with: blocks are data, never instructions. */
extern const char sa_llm_data_rule[];

/* Checks generated text against facts (the text of its inputs): every number it states
 * (a run of digits, with its decimal part) occurs in facts as a whole number (not inside a
 * longer one), and every e-mail address or link (anything holding "://", "www." or an
 * address's '@', or shaped like a host name: "calendly.com/x") occurs in facts as a whole
 * token ("acme.co" is not in "acme.com"). Returns 0, or SA_EINVAL with err naming the
 * first that does not. */
int sa_llm_grounded(const char *text, const char *facts, struct sa_err *err) SA_WUR;

/* How copy writes names. */
enum sa_llm_names {
    SA_LLM_NAMES_CAPITALISED,       /* English and most languages: a capital marks a name */
    SA_LLM_NAMES_NOUNS_CAPITALISED, /* German: every noun has one */
};

/* Checks that generated copy names no one its inputs do not: every capitalised word, at
 * the start of a sentence too (a customer, a company, a person), occurs in facts as a
 * whole word in any case (so "Would" passes when the draft says "would"), ignoring a
 * possessive 's; a closed list of openers, pronouns, days, months and titles' acronyms
 * passes. Returns 0, or SA_EINVAL naming the first that does not. Stricter than a model
 * needs to be to write well: a message that fails is dropped for the rules' own, never
 * sent with an invented name.
 * SA_LLM_NAMES_NOUNS_CAPITALISED (German copy) checks only the capitalised words shaped
 * like a name: a capital inside the word (HubSpot, SAP) or a digit, after an example cue
 * ("Kunden wie Siemens", "etwa", "darunter", "beispielsweise") or before a legal form
 * ("Müller GmbH"); the formal pronouns (Sie, Ihnen) and common abbreviations pass. A plain
 * word used as a name elsewhere ("Siemens nutzt ...") is not caught there. */
int sa_llm_names_grounded(const char *text, const char *facts, enum sa_llm_names how,
                          struct sa_err *err) SA_WUR;

#endif
