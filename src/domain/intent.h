/* Intent recognition for the conversation agent: a multinomial naive Bayes classifier
 * over word unigrams and bigrams and character 3-grams (hashed), trained at start-up from
 * labelled examples (data/intents/en.tsv: "label<TAB>text" per line). Deterministic;
 * immutable once trained, so safe to share between threads. */
#ifndef SA_AGENTS_INTENT_H
#define SA_AGENTS_INTENT_H

#include <jansson.h>
#include <stddef.h>

#include "base/err.h"

struct sa_intent_model;

/* Held-out evaluation: every 5th example of each label is kept out of training. */
struct sa_intent_eval {
    size_t train, test, correct;
    double accuracy;
    json_t *confusion; /* {actual: {predicted: count}} (new reference) */
};

/* Trains on every example of the file. With eval non-NULL, first trains on 80 % and
 * scores the held-out 20 % into eval (caller releases eval->confusion). Returns 0, or
 * SA_ECONFIG naming the file and line of a malformed example. */
int sa_intent_train(const char *path, struct sa_intent_model **out, struct sa_intent_eval *eval,
                    struct sa_err *err) SA_WUR;
void sa_intent_free(struct sa_intent_model *m);

/* The most likely label for text (borrowed from the model) and its posterior
 * probability; *top (optional, new reference) gets the three best {intent, confidence}. */
const char *sa_intent_classify(const struct sa_intent_model *m, const char *text,
                               double *confidence, json_t **top);

#endif
