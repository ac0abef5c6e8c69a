/* The lexicons behind domain/reply.h's unsubscribe, out-of-office, security and integration
 * tests, as one table (internal to domain/: reply.c and the tests include it). Every entry
 * is in sa_reply_normalise's form without the outer spaces: lowercase ASCII words, no
 * diacritics, one space between words. Pure data and functions: thread-safe. */
#ifndef SA_DOMAIN_REPLY_LEXICON_H
#define SA_DOMAIN_REPLY_LEXICON_H

#include <stdbool.h>
#include <stddef.h>

/* X(ID, table): every lexicon, by the name of its table in reply_lexicon.c. */
#define SA_REPLY_LEXICONS(X)                                                                       \
    X(UNSUBSCRIBE, unsubscribe_phrases)      /* asks to stop the e-mails */                        \
    X(TEAM_REQUEST, team_requests)           /* asks it for a team ("remove us") */                \
    X(NOT_REQUEST, not_request_phrases)      /* a request's words asking something else */         \
    X(EXPLICIT_REQUEST, explicit_requests)   /* asks in the first person: beats a delivery word */ \
    X(DELIVERY_PROBLEM, delivery_problem)    /* reports mail not arriving */                       \
    X(UNSUBSCRIBE_WORD, unsubscribe_words)   /* one word that asks by itself (typos allowed) */    \
    X(PRODUCT_CONTEXT, product_context)      /* speaks of unsubscribing as a feature */            \
    X(NOT_TYPO, words_not_typos)             /* near a request word, meaning something else */     \
    X(UNSUBSCRIBE_TOPIC, unsubscribe_topic)  /* words of unsubscribing (footers) */                \
    X(FOOTER_MARKER, footer_markers)         /* a footer's instructions ("click", "http") */       \
    X(FIRST_PERSON, first_person)            /* the writer speaking of themself */                 \
    X(POLITE, polite_words)                  /* "please", "bitte" before a request verb */         \
    X(POLITE_FILLER, polite_fillers)         /* small words between them */                        \
    X(REQUEST_VERB, request_verbs)           /* the verbs of a polite request */                   \
    X(STOP_VERB, stop_verbs)                 /* "stop sending", "don't send me" */                 \
    X(STOP_COMPLETE, stop_complete)          /* after a stop verb: the request is complete */      \
    X(STOP_MAIL, stop_mail)                  /* after a stop verb: the mail itself */              \
    X(STOP_DETERMINER, stop_determiners)     /* "the", "your" before the mail */                   \
    X(REQUEST_JOIN, request_joins)           /* "and" joining more of a request */                 \
    X(REQUEST_NEXT, request_next)            /* what follows the join when it goes on */           \
    X(SENDING_REQUEST, sending_requests)     /* "stop sending me" + an object */                   \
    X(DOCUMENT, document_nouns)              /* invoices, reports: not our mail */                 \
    X(DOCUMENT_FILLER, document_fillers)     /* words before the document */                       \
    X(REDIRECT, redirect_cues)               /* where the documents should go instead */           \
    X(PAST_AUXILIARY, past_auxiliaries)      /* "did" before "not send me": a report */            \
    X(RECIPIENT_REMOVAL, recipient_removals) /* "remove her": the person written to */             \
    X(RECIPIENT_GONE, recipient_gone)        /* "has left the company" */                          \
    X(NAME_FILLER, name_fillers)             /* "Frau", "Ms" before a name */                      \
    X(ROLE_WORD, role_words)                 /* "info@", "sales@": no person's name */             \
    X(OUT_OF_OFFICE, out_of_office_phrases)  /* an automatic out-of-office notice */               \
    X(ENGAGEMENT, engagement_phrases)        /* "let's talk then": a person's reply */             \
    X(AUTO_NOTICE, auto_notice_markers)      /* "automatic reply", "urgent matters" */             \
    X(SECURITY, security_words)              /* data protection and security */                    \
    X(INTEGRATION, integration_words)        /* an integration */

enum sa_reply_lexicon {
#define SA_REPLY_LEXICON_ENUM(id, table) SA_LEX_##id,
    SA_REPLY_LEXICONS(SA_REPLY_LEXICON_ENUM)
#undef SA_REPLY_LEXICON_ENUM
        SA_LEX_COUNT
};

/* The name of lexicon id's table ("unsubscribe_phrases"), or "" for an id out of range. A
 * static string. */
const char *sa_reply_lexicon_name(enum sa_reply_lexicon id);
/* Lexicon id's entries, NULL-terminated (empty for an id out of range). Static data. */
const char *const *sa_reply_lexicon_entries(enum sa_reply_lexicon id);
/* The first entry of lexicon id that normalised text norm (sa_reply_normalise) holds as
 * whole words, or NULL. The result points into the static table. */
const char *sa_reply_lexicon_find(const char *norm, enum sa_reply_lexicon id);

/* Whether the sentence s[0..len) (raw text) tells its reader how to unsubscribe (a legal
 * footer's "To unsubscribe from our newsletter click here"), rather than asking to: it
 * speaks of unsubscribing, with a footer's marker, and not of the writer or as a polite
 * request. sa_reply_clean drops such sentences. */
bool sa_reply_footer_sentence(const char *s, size_t len);

#endif
