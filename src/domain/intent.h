/* Intent recognition for the conversation agent: multinomial logistic regression (softmax)
 * over hashed word unigrams and bigrams and character 3- to 5-grams, trained at start-up
 * from labelled examples (data/intents/<language>.tsv: "label<TAB>text" per line), its
 * confidence calibrated by temperature scaling, beside high-precision lexicons for
 * unsubscribe requests and out-of-office replies in seven languages (domain/reply.h).
 * Deterministic; immutable once trained, so safe to share between threads. */
#ifndef SA_AGENTS_INTENT_H
#define SA_AGENTS_INTENT_H

#include <jansson.h>
#include <stddef.h>
#include <time.h>

#include "base/err.h"

struct sa_intent_model;

/* Held-out evaluation: every 5th example of each label is kept out of training (the
 * calibration split the temperature is fitted on). */
struct sa_intent_eval {
    size_t train, test, correct;
    double accuracy;
    json_t *confusion;  /* {actual: {predicted: count}} (new reference) */
    double temperature; /* the fitted softmax temperature */
    double ece;         /* expected calibration error on the split, 10 bins */
};

/* Trains on every example of path: a directory (every *.tsv in it, in name order) or one
 * file. With eval non-NULL, also scores the model trained on 80 % against the held-out
 * 20 % into eval (caller releases eval->confusion). In a text, "\n" stands for a newline.
 * Returns 0, SA_ENOMEM, or SA_ECONFIG naming the file and line of a malformed example. */
int sa_intent_train(const char *path, struct sa_intent_model **out, struct sa_intent_eval *eval,
                    struct sa_err *err) SA_WUR;
void sa_intent_free(struct sa_intent_model *m);

/* The most likely label for text (borrowed from the model) and its calibrated
 * probability; *top (optional, new reference) gets the three best {intent, confidence}.
 * Cleans the text and applies the lexicons first, as sa_intent_analyse does. */
const char *sa_intent_classify(const struct sa_intent_model *m, const char *text,
                               double *confidence, json_t **top);

struct sa_intent_result {
    const char *intent;     /* label, borrowed from the model */
    double confidence;      /* calibrated probability of that label */
    char language[3];       /* ISO 639-1: "en" "de" "fr" "es" "it" "pt" "nl", or "" when unknown */
    char return_date[11];   /* out_of_office: "YYYY-MM-DD" when the text gives one, else "" */
    char referral_name[96]; /* wrong_person / referral: the named colleague, else "" */
    char referral_email[256]; /* and their address, else "" */
};
/* Cleans text (quotes, signatures), detects its language, classifies it and extracts the
 * facts above; now resolves relative dates. Thread-safe on a trained model. */
void sa_intent_analyse(const struct sa_intent_model *m, const char *text, time_t now,
                       struct sa_intent_result *r);

/* The model's labels, in training order: i from 0 to sa_intent_label_count() - 1
 * (borrowed). */
size_t sa_intent_label_count(const struct sa_intent_model *m);
const char *sa_intent_label(const struct sa_intent_model *m, size_t i);

#endif
