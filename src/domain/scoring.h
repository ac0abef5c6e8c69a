/* The lead-qualification model: an explainable points model over firmographic fit, contact
 * quality and buying signals, loaded from data files (data/scoring.json,
 * data/industries.json, data/free_mail_domains.txt) and validated at start-up. Each
 * factor's points are its fit in [0,1] times its weight; the weights sum to 100, so the
 * integer points of the factors add up exactly to the score. docs/qualification.md
 * describes the model. A loaded model is immutable and safe to share between threads. */
#ifndef SA_AGENTS_SCORING_H
#define SA_AGENTS_SCORING_H

#include <jansson.h>
#include <stdbool.h>

#include "base/err.h"

struct sa_lead;
struct sa_model;

enum sa_factor_id {
    SA_F_INDUSTRY,
    SA_F_SIZE,
    SA_F_REVENUE,
    SA_F_SENIORITY,
    SA_F_EMAIL,
    SA_F_COMPLETENESS,
    SA_F_SIGNALS,
    SA_F_COUNT
};

enum sa_factor_verdict { SA_NEUTRAL, SA_STRENGTH, SA_GAP };

struct sa_factor {
    const char *name;  /* machine name, the key in scoring.json "weights" */
    const char *label; /* "Industry fit" */
    double fit;        /* 0..1 */
    double raw;        /* fit * weight, before rounding */
    int points;        /* integer share of the score */
    int max_points;    /* the weight */
    enum sa_factor_verdict verdict;
    char value[160];  /* what was seen, e.g. "FinTech (from \"Fin Tech\")" */
    char detail[256]; /* a phrase for a salesperson */
};

struct sa_score {
    int score;          /* 0..100, the sum of the factors' points */
    char tier;          /* 'A'..'D' */
    const char *action; /* recommended next step for the tier; borrowed from the model */
    struct sa_factor factors[SA_F_COUNT];
    char reasoning[1024];
};

/* Loads and validates the model from data_dir. Returns 0 and *out (free with
 * sa_model_free), or SA_ECONFIG with err naming the file, the field and the problem. */
int sa_model_load(const char *data_dir, struct sa_model **out, struct sa_err *err) SA_WUR;
void sa_model_free(struct sa_model *m);

/* Scores a validated lead. Pure: same lead, same result; no allocation. */
void sa_model_score(const struct sa_model *m, const struct sa_lead *lead, struct sa_score *out);

/* The score as the qualification agent's output object (new reference):
 * {score, tier, reasoning, recommendation, factors: [{name, label, value, points,
 * max_points, detail}], model_version}. NULL when out of memory. */
json_t *sa_score_to_json(const struct sa_model *m, const struct sa_score *s);

/* The canonical industry name for what a lead says ("Fin Tech" -> "FinTech"), or NULL
 * when the industry table does not know it. Borrowed from the model. */
const char *sa_model_industry(const struct sa_model *m, const char *text);

/* The seniority level label of a title ("C-level", "VP", ...), or NULL. */
const char *sa_model_seniority(const struct sa_model *m, const char *title);

/* True when domain (any case) is in the free-mail list (gmail.com, ...). */
bool sa_model_free_mail(const struct sa_model *m, const char *domain);

/* Tier for a score under the model's cut-offs. */
char sa_model_tier(const struct sa_model *m, int score);

#endif
