/* Softmax intent classifier (see intent.h).
 *
 * Features are hashed (FNV-1a) into 2^18 dimensions: word unigrams ("w:price"), word
 * bigrams ("b:how much"), character 3- to 5-grams inside space-padded words (which catch
 * typos and word forms across languages) and a few hints from the lexicons of
 * domain/reply.c (mentions security, mentions an integration, has a question mark...).
 * Text is folded first (lowercase, no diacritics), so "zurück" and "zuruck" share features.
 * Each text's feature vector is scaled to unit length, so long and short replies train
 * alike.
 *
 * Training is plain stochastic gradient descent on the cross-entropy, in an order
 * shuffled by a fixed-seed generator, with a decaying step and weight decay on the rows a
 * step touches: the same data gives the same model on every start. A softmax trained to
 * fit its examples is overconfident on new text, so the temperature T dividing the scores
 * is fitted (least negative log-likelihood over a grid) on the calibration split: every
 * 5th example of each label, left out of a first training run. The served model is then
 * trained on every example and keeps that T.
 *
 * The lexicons decide where they are sure: an unsubscribe request or an out-of-office
 * reply the lexicon recognises takes the label whatever the model says (the model has
 * been wrong with confidence on languages it saw little of), and a model "unsubscribe"
 * about data protection or about unsubscribe links, without a lexicon hit, gives way to
 * its next best label. */
#include "domain/intent.h"

#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "domain/reply.h"

#define DIM (1u << 18)
#define MAX_LABELS 32
#define MAX_FEATS 8192
#define MAX_TEXT 2048 /* bytes of cleaned text classified */
/* Accuracy on the calibration split was flat (0.777 to 0.794) for steps from 0.3 to 2.0
 * and 12 to 30 epochs; 12 epochs keep start-up short. */
#define EPOCHS 12
#define LEARNING_RATE 0.6
#define LR_DECAY 0.25
#define WEIGHT_DECAY 1e-5
/* The biases move at a tenth of the step: every example moves them, so at the full step
 * they would swing with the order of the last few examples. */
#define BIAS_STEP 0.1
/* A label the lexicon decides keeps this much of the probability; the lexicons were
 * written for precision, and the model's own distribution shares the rest. */
#define LEXICON_WEIGHT 0.95

/* Languages of the training files, for the learned letter profiles (see language()). */
#define NLANG 7
static const char *const lang_codes[NLANG] = {"en", "de", "fr", "es", "it", "pt", "nl"};
#define LANG_BUCKETS 4096
/* A profile decides only from this many trigrams, and by this many nats over the second. */
#define LANG_MIN_TRIGRAMS 8
#define LANG_MARGIN 4.0

struct sa_intent_model {
    char *labels[MAX_LABELS];
    int nlabels;
    float *w; /* DIM x nlabels, row per feature */
    double bias[MAX_LABELS];
    double temperature;
    /* log P(trigram bucket | language) learned from the files named for a language;
     * NLANG x LANG_BUCKETS, NULL when no file is */
    float *lang_logp;
    /* indexes of the labels the rules name, or -1 when the data has no such label */
    int unsubscribe, out_of_office, referral, wrong_person, other;
};

struct feats {
    uint32_t idx[MAX_FEATS];
    size_t n;
    double scale; /* 1 / sqrt(n) */
};

/* A training example's features, kept for every epoch. */
struct fvec {
    uint32_t *idx;
    size_t n;
    double scale;
};

static uint32_t fnv(const char *p, size_t n, uint32_t h)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h;
}

static void add(struct feats *f, uint32_t h)
{
    if (f->n < MAX_FEATS)
        f->idx[f->n++] = h % DIM;
}

/* The features of (already cleaned) text. */
static void features(const char *text, struct feats *f)
{
    f->n = 0;
    size_t len = strlen(text);
    if (len > MAX_TEXT)
        len = MAX_TEXT;
    char raw[MAX_TEXT + 1], norm[2 * MAX_TEXT + 3];
    memcpy(raw, text, len);
    raw[len] = '\0';
    sa_reply_normalise(raw, norm);
    const uint32_t seed = 2166136261u;
    uint32_t hw = fnv("w:", 2, seed), hb = fnv("b:", 2, seed), hc = fnv("c:", 2, seed);
    const char *prev = NULL;
    size_t prevlen = 0, words = 0;
    for (const char *w = norm + 1; *w;) {
        size_t wl = strcspn(w, " ");
        add(f, fnv(w, wl, hw));
        if (prev)
            add(f, fnv(w, wl, fnv(" ", 1, fnv(prev, prevlen, hb))));
        /* character n-grams of " word ": the spaces around it are in norm already */
        const char *pad = w - 1;
        size_t pl = wl + 2;
        for (size_t k = 3; k <= 5; k++)
            for (size_t i = 0; i + k <= pl; i++)
                add(f, fnv(pad + i, k, fnv(&"345"[k - 3], 1, hc)));
        prev = w;
        prevlen = wl;
        words++;
        w += wl + 1;
    }
    static const char *const hints[] = {"h:unsub", "h:ooo",   "h:sec",   "h:int",      "h:question",
                                        "h:email", "h:short", "h:empty", "h:colleague"};
    char name[96], email[256];
    bool on[] = {sa_reply_is_unsubscribe(norm),
                 sa_reply_is_out_of_office(norm),
                 sa_reply_mentions_security(norm),
                 sa_reply_mentions_integration(norm),
                 strchr(raw, '?') != NULL,
                 strchr(raw, '@') != NULL,
                 words <= 3,
                 words == 0,
                 sa_reply_referral(raw, name, email)};
    for (size_t i = 0; i < sizeof on / sizeof on[0]; i++)
        if (on[i]) /* three times: a hint weighs like a word and a few of its n-grams */
            for (int k = 0; k < 3; k++)
                add(f, fnv(hints[i], strlen(hints[i]), seed));
    f->scale = f->n ? 1.0 / sqrt((double)f->n) : 0;
}

/* Scores (logits, before the temperature) of every label. */
static void scores(const struct sa_intent_model *m, const uint32_t *idx, size_t n, double scale,
                   double *z)
{
    int L = m->nlabels;
    for (int l = 0; l < L; l++)
        z[l] = 0;
    for (size_t i = 0; i < n; i++) {
        const float *row = m->w + (size_t)idx[i] * (size_t)L;
        for (int l = 0; l < L; l++)
            z[l] += row[l];
    }
    for (int l = 0; l < L; l++)
        z[l] = z[l] * scale + m->bias[l];
}

static void softmax(const double *z, int n, double t, double *p)
{
    double maxv = z[0], sum = 0;
    for (int l = 1; l < n; l++)
        if (z[l] > maxv)
            maxv = z[l];
    for (int l = 0; l < n; l++)
        sum += p[l] = exp((z[l] - maxv) / t);
    for (int l = 0; l < n; l++)
        p[l] /= sum;
}

/* ---- the examples --------------------------------------------------------------------- */

struct example {
    int label;
    int lang; /* index in lang_codes from the file's name ("de.tsv"), or -1 */
    const char *text;
};

struct corpus {
    char **bufs;
    size_t nbufs;
    struct example *ex;
    size_t n, cap;
    char *labels[MAX_LABELS];
    int nlabels;
};

static void corpus_free(struct corpus *c)
{
    for (size_t i = 0; i < c->nbufs; i++)
        free(c->bufs[i]);
    free(c->bufs);
    free(c->ex);
    for (int i = 0; i < c->nlabels; i++)
        free(c->labels[i]);
}

static int label_index(char **labels, int *n, const char *label, size_t len)
{
    for (int i = 0; i < *n; i++)
        if (strlen(labels[i]) == len && strncmp(labels[i], label, len) == 0)
            return i;
    if (*n == MAX_LABELS)
        return -1;
    labels[*n] = strndup(label, len);
    return labels[*n] ? (*n)++ : -1;
}

/* "\n" and "\t" escapes to the characters, in place. */
static void unescape(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (p[0] == '\\' && (p[1] == 'n' || p[1] == 't')) {
            *o++ = p[1] == 'n' ? '\n' : '\t';
            p++;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
}

/* The language a training file holds, from its name: "de.tsv" is German. */
static int file_language(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (int l = 0; l < NLANG; l++)
        if (strncmp(base, lang_codes[l], 2) == 0 && strcmp(base + 2, ".tsv") == 0)
            return l;
    return -1;
}

static int read_file(struct corpus *c, const char *path, struct sa_err *err)
{
    int lang = file_language(path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return sa_err_set(err, SA_ECONFIG, "%s: cannot open", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    size_t sz = (size_t)(size > 0 ? size : 0);
    char *buf = malloc(sz + 1);
    char **bufs = realloc(c->bufs, (c->nbufs + 1) * sizeof *bufs);
    if (bufs)
        c->bufs = bufs;
    if (!buf || !bufs) {
        free(buf);
        fclose(f);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    c->bufs[c->nbufs++] = buf;
    size_t got = fread(buf, 1, sz, f);
    fclose(f);
    buf[got] = '\0';
    size_t lineno = 0;
    for (char *p = buf; *p;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        lineno++;
        size_t len = strlen(p);
        if (len && p[len - 1] == '\r')
            p[--len] = '\0';
        if (len && p[0] != '#') {
            char *tab = strchr(p, '\t');
            if (!tab)
                return sa_err_set(err, SA_ECONFIG, "%s:%zu: expected label<TAB>text", path, lineno);
            int l = label_index(c->labels, &c->nlabels, p, (size_t)(tab - p));
            if (l < 0)
                return sa_err_set(err, SA_ECONFIG, "%s:%zu: more than %d intent labels", path,
                                  lineno, MAX_LABELS);
            if (c->n == c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 1024;
                struct example *ex = realloc(c->ex, cap * sizeof *ex);
                if (!ex)
                    return sa_err_set(err, SA_ENOMEM, "out of memory");
                c->ex = ex;
                c->cap = cap;
            }
            unescape(tab + 1);
            c->ex[c->n++] = (struct example){l, lang, tab + 1};
        }
        p = nl ? nl + 1 : p + len;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.tsv of a directory, in name order, or one file. */
static int read_corpus(const char *path, struct corpus *c, struct sa_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return sa_err_set(err, SA_ECONFIG, "%s: cannot open", path);
    if (!S_ISDIR(st.st_mode)) {
        int rc = read_file(c, path, err);
        return rc ? rc : c->n ? 0 : sa_err_set(err, SA_ECONFIG, "%s: no examples", path);
    }
    DIR *d = opendir(path);
    if (!d)
        return sa_err_set(err, SA_ECONFIG, "%s: cannot open", path);
    char *names[64];
    size_t n = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".tsv") == 0 && e->d_name[0] != '.') {
            if (!(names[n] = strdup(e->d_name))) {
                rc = sa_err_set(err, SA_ENOMEM, "out of memory");
                break;
            }
            n++;
        }
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && !rc; i++) {
        char file[4096];
        snprintf(file, sizeof file, "%s/%s", path, names[i]);
        rc = read_file(c, file, err);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    if (!rc && c->n == 0)
        rc = sa_err_set(err, SA_ECONFIG, "%s: no examples (*.tsv)", path);
    return rc;
}

/* ---- training ------------------------------------------------------------------------- */

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005u + 1442695040888963407u;
    return *s >> 33;
}

/* The examples kept for calibration: every 5th of each label. */
static bool calibration_example(const struct corpus *c, size_t i, uint32_t *seen)
{
    return ++seen[c->ex[i].label] % 5 == 0;
}

static int find_label(const struct sa_intent_model *m, const char *name)
{
    for (int i = 0; i < m->nlabels; i++)
        if (strcmp(m->labels[i], name) == 0)
            return i;
    return -1;
}

/* Trains a model on the examples with use[i] set (all when use is NULL). */
static int train(const struct corpus *c, const struct fvec *fs, const bool *use,
                 struct sa_intent_model **out)
{
    *out = NULL;
    struct sa_intent_model *m = calloc(1, sizeof *m);
    size_t *order = malloc(c->n * sizeof *order);
    if (!m || !order)
        goto nomem;
    m->nlabels = c->nlabels;
    m->temperature = 1.0;
    for (int i = 0; i < c->nlabels; i++)
        if (!(m->labels[i] = strdup(c->labels[i])))
            goto nomem;
    int L = m->nlabels;
    if (!(m->w = calloc((size_t)DIM * (size_t)L, sizeof *m->w)))
        goto nomem;
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++)
        if (!use || use[i])
            order[n++] = i;
    uint64_t seed = 20261202;
    for (int epoch = 0; epoch < EPOCHS; epoch++) {
        for (size_t i = n; i > 1; i--) { /* Fisher-Yates with the fixed-seed generator */
            size_t j = (size_t)(lcg(&seed) % i), t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        double lr = LEARNING_RATE / (1.0 + LR_DECAY * epoch);
        for (size_t k = 0; k < n; k++) {
            const struct fvec *f = &fs[order[k]];
            double z[MAX_LABELS] = {0}, p[MAX_LABELS] = {0};
            scores(m, f->idx, f->n, f->scale, z);
            softmax(z, L, 1.0, p);
            p[c->ex[order[k]].label] -= 1.0; /* the gradient of the cross-entropy */
            for (int l = 0; l < L; l++)
                m->bias[l] -= lr * p[l] * BIAS_STEP;
            double decay = 1.0 - lr * WEIGHT_DECAY;
            for (size_t i = 0; i < f->n; i++) {
                float *row = m->w + (size_t)f->idx[i] * (size_t)L;
                for (int l = 0; l < L; l++)
                    row[l] = (float)(row[l] * decay - lr * f->scale * p[l]);
            }
        }
    }
    m->unsubscribe = find_label(m, "unsubscribe");
    m->out_of_office = find_label(m, "out_of_office");
    m->referral = find_label(m, "referral");
    m->wrong_person = find_label(m, "wrong_person");
    m->other = find_label(m, "other");
    free(order);
    *out = m;
    return 0;
nomem:
    free(order);
    sa_intent_free(m);
    return SA_ENOMEM;
}

/* The temperature minimising the negative log-likelihood of the calibration examples. */
static double fit_temperature(const struct sa_intent_model *m, const struct corpus *c,
                              const struct fvec *fs, const bool *cal)
{
    int L = m->nlabels;
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++)
        n += cal[i];
    double *z = calloc(n * (size_t)L + 1, sizeof *z);
    int *y = malloc(n * sizeof *y);
    double best_t = 1.0;
    if (!z || !y || L == 0 || n == 0)
        goto out;
    n = 0;
    for (size_t i = 0; i < c->n; i++)
        if (cal[i]) {
            scores(m, fs[i].idx, fs[i].n, fs[i].scale, z + n * (size_t)L);
            y[n++] = c->ex[i].label;
        }
    double best = INFINITY;
    for (int g = 0; g <= 160; g++) { /* T from 0.1 to 10, log-spaced */
        double t = 0.1 * pow(100.0, g / 160.0), nll = 0, p[MAX_LABELS];
        for (size_t i = 0; i < n; i++) {
            softmax(z + i * (size_t)L, L, t, p);
            nll -= log(p[y[i]] > 1e-300 ? p[y[i]] : 1e-300);
        }
        if (nll < best) {
            best = nll;
            best_t = t;
        }
    }
out:
    free(z);
    free(y);
    return best_t;
}

void sa_intent_free(struct sa_intent_model *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->nlabels; i++)
        free(m->labels[i]);
    free(m->w);
    free(m->lang_logp);
    free(m);
}

size_t sa_intent_label_count(const struct sa_intent_model *m)
{
    return (size_t)m->nlabels;
}

const char *sa_intent_label(const struct sa_intent_model *m, size_t i)
{
    return i < (size_t)m->nlabels ? m->labels[i] : NULL;
}

/* ---- language profiles ---------------------------------------------------------------- */

/* Calls fn(bucket) for each letter trigram of the words of text (space-padded, folded;
 * words of digits skipped); returns the count. */
static size_t trigrams(const char *text, void (*fn)(uint32_t bucket, void *arg), void *arg)
{
    size_t len = strlen(text), n = 0;
    if (len > MAX_TEXT)
        len = MAX_TEXT;
    char raw[MAX_TEXT + 1], norm[2 * MAX_TEXT + 3];
    memcpy(raw, text, len);
    raw[len] = '\0';
    sa_reply_normalise(raw, norm);
    for (const char *w = norm + 1; *w;) {
        size_t wl = strcspn(w, " ");
        bool digits = strspn(w, "0123456789") >= wl;
        for (size_t i = 0; !digits && i + 3 <= wl + 2; i++, n++)
            fn(fnv(w - 1 + i, 3, 2166136261u) % LANG_BUCKETS, arg);
        w += wl + 1;
    }
    return n;
}

static void count_trigram(uint32_t bucket, void *arg)
{
    ((double *)arg)[bucket] += 1;
}

/* Letter-trigram profiles of the languages the training files are named for. */
static int train_profiles(struct sa_intent_model *m, const struct corpus *c)
{
    double *counts = calloc((size_t)NLANG * LANG_BUCKETS, sizeof *counts);
    if (!counts)
        return SA_ENOMEM;
    bool any = false;
    for (size_t i = 0; i < c->n; i++)
        if (c->ex[i].lang >= 0) {
            trigrams(c->ex[i].text, count_trigram, counts + (size_t)c->ex[i].lang * LANG_BUCKETS);
            any = true;
        }
    if (any && !(m->lang_logp = malloc((size_t)NLANG * LANG_BUCKETS * sizeof *m->lang_logp))) {
        free(counts);
        return SA_ENOMEM;
    }
    for (int l = 0; any && l < NLANG; l++) {
        double total = 0, *row = counts + (size_t)l * LANG_BUCKETS;
        for (size_t b = 0; b < LANG_BUCKETS; b++)
            total += row[b];
        for (size_t b = 0; b < LANG_BUCKETS; b++)
            m->lang_logp[(size_t)l * LANG_BUCKETS + b] =
                (float)log((row[b] + 0.5) / (total + 0.5 * LANG_BUCKETS));
    }
    free(counts);
    return 0;
}

struct profile_score {
    const float *logp;
    double score[NLANG];
};

static void score_trigram(uint32_t bucket, void *arg)
{
    struct profile_score *p = arg;
    for (int l = 0; l < NLANG; l++)
        p->score[l] += p->logp[(size_t)l * LANG_BUCKETS + bucket];
}

/* The language of cleaned text: the stop words and letters of sa_reply_language, and when
 * they leave it open, the profiles learned from the training files, if one stands out. */
static const char *language(const struct sa_intent_model *m, const char *clean)
{
    const char *lang = sa_reply_language(clean);
    if (*lang || !m->lang_logp || sa_reply_other_language(clean))
        return lang;
    struct profile_score p = {m->lang_logp, {0}};
    if (trigrams(clean, score_trigram, &p) < LANG_MIN_TRIGRAMS)
        return "";
    int best = 0, second = 1;
    if (p.score[1] > p.score[0]) {
        best = 1;
        second = 0;
    }
    for (int l = 2; l < NLANG; l++)
        if (p.score[l] > p.score[best]) {
            second = best;
            best = l;
        } else if (p.score[l] > p.score[second]) {
            second = l;
        }
    return p.score[best] - p.score[second] >= LANG_MARGIN ? lang_codes[best] : "";
}

/* ---- classifying ---------------------------------------------------------------------- */

/* The label of already cleaned text, with the lexicons applied, and the distribution p. */
static int decide(const struct sa_intent_model *m, const char *clean, double *p)
{
    struct feats *f = malloc(sizeof *f);
    int L = m->nlabels, best = 0;
    if (!f) { /* out of memory: no evidence, a flat distribution */
        for (int l = 0; l < L; l++)
            p[l] = 1.0 / L;
        return m->other >= 0 ? m->other : 0;
    }
    features(clean, f);
    double z[MAX_LABELS] = {0};
    scores(m, f->idx, f->n, f->scale, z);
    free(f);
    softmax(z, L, m->temperature, p);
    for (int l = 1; l < L; l++)
        if (p[l] > p[best])
            best = l;
    size_t len = strlen(clean);
    if (len > MAX_TEXT)
        len = MAX_TEXT;
    char raw[MAX_TEXT + 1], norm[2 * MAX_TEXT + 3];
    memcpy(raw, clean, len);
    raw[len] = '\0';
    sa_reply_normalise(raw, norm);
    /* an unsubscribe request wins over an absence ("I'm on leave until May; remove me from
     * your list"): stopping is the safe reading; and a person who is away may still ask
     * something, or propose something ("back in the office Monday, let's talk then"),
     * which an automatic notice does not */
    int forced = -1;
    bool away = m->out_of_office >= 0 && sa_reply_is_out_of_office(norm);
    bool asks = strchr(raw, '?') != NULL || sa_reply_engages(norm);
    if (m->unsubscribe >= 0 && sa_reply_is_unsubscribe(norm))
        forced = m->unsubscribe;
    else if (away && !asks)
        forced = m->out_of_office;
    else if ((best == m->unsubscribe &&
              (sa_reply_mentions_security(norm) || sa_reply_mentions_unsubscribe_feature(norm))) ||
             (best == m->out_of_office && away && asks)) {
        /* data protection, or unsubscribe links, are a question, not a request to stop; an
         * absence with a question is a person's reply about something else */
        p[best] = 0;
        double sum = 0;
        for (int l = 0; l < L; l++)
            sum += p[l];
        best = best == 0 ? 1 : 0;
        for (int l = 0; l < L; l++) {
            p[l] = sum > 0 ? p[l] / sum : 1.0 / (L - 1);
            if (p[l] > p[best])
                best = l;
        }
    }
    if (forced >= 0) {
        for (int l = 0; l < L; l++)
            p[l] = (1 - LEXICON_WEIGHT) * p[l] + (l == forced ? LEXICON_WEIGHT : 0);
        best = forced;
    }
    return best;
}

static void top_alternatives(const struct sa_intent_model *m, const double *p, json_t **top)
{
    *top = json_array();
    bool used[MAX_LABELS] = {false};
    for (int k = 0; k < 3 && k < m->nlabels; k++) {
        int b = -1;
        for (int l = 0; l < m->nlabels; l++)
            if (!used[l] && (b < 0 || p[l] > p[b]))
                b = l;
        used[b] = true;
        json_array_append_new(*top, json_pack("{s:s, s:f}", "intent", m->labels[b], "confidence",
                                              round(p[b] * 1000) / 1000));
    }
}

const char *sa_intent_classify(const struct sa_intent_model *m, const char *text,
                               double *confidence, json_t **top)
{
    char clean[MAX_TEXT + 1];
    double p[MAX_LABELS] = {0};
    sa_reply_clean(text, clean, sizeof clean);
    int best = decide(m, clean, p);
    if (confidence)
        *confidence = p[best];
    if (top)
        top_alternatives(m, p, top);
    return m->labels[best];
}

void sa_intent_analyse(const struct sa_intent_model *m, const char *text, time_t now,
                       struct sa_intent_result *r)
{
    *r = (struct sa_intent_result){0};
    char clean[MAX_TEXT + 1];
    double p[MAX_LABELS] = {0};
    sa_reply_clean(text, clean, sizeof clean);
    int best = decide(m, clean, p);
    snprintf(r->language, sizeof r->language, "%s", language(m, clean));
    if (best == m->out_of_office)
        sa_reply_return_date(clean, now, r->return_date);
    if (best >= 0 && (best == m->referral || best == m->wrong_person)) {
        /* "referral" names someone; "wrong_person" does not: the extraction decides */
        bool named = sa_reply_referral(clean, r->referral_name, r->referral_email);
        int to = named ? m->referral : m->wrong_person;
        if (to >= 0 && m->referral >= 0 && m->wrong_person >= 0) {
            p[to] = p[m->referral] + p[m->wrong_person];
            p[to == m->referral ? m->wrong_person : m->referral] = 0;
            best = to;
        }
    }
    r->intent = m->labels[best];
    r->confidence = p[best];
}

/* ---- evaluation ----------------------------------------------------------------------- */

static void evaluate(const struct sa_intent_model *m, const struct corpus *c, const bool *cal,
                     struct sa_intent_eval *eval)
{
    double bin_conf[10] = {0}, bin_acc[10] = {0};
    size_t bin_n[10] = {0};
    for (size_t i = 0; i < c->n; i++) {
        if (!cal[i]) {
            eval->train++;
            continue;
        }
        double p[MAX_LABELS] = {0};
        int got = decide(m, c->ex[i].text, p);
        const char *actual = m->labels[c->ex[i].label], *predicted = m->labels[got];
        bool ok = got == c->ex[i].label;
        eval->test++;
        eval->correct += ok;
        int b = (int)(p[got] * 10);
        b = b > 9 ? 9 : b;
        bin_conf[b] += p[got];
        bin_acc[b] += ok;
        bin_n[b]++;
        json_t *row = json_object_get(eval->confusion, actual);
        if (!row) {
            row = json_object();
            json_object_set_new(eval->confusion, actual, row);
        }
        json_object_set_new(row, predicted,
                            json_integer(json_integer_value(json_object_get(row, predicted)) + 1));
    }
    eval->accuracy = eval->test ? (double)eval->correct / (double)eval->test : 0;
    for (int b = 0; b < 10; b++)
        if (bin_n[b])
            eval->ece += fabs(bin_acc[b] - bin_conf[b]) / (double)eval->test;
}

int sa_intent_train(const char *path, struct sa_intent_model **out, struct sa_intent_eval *eval,
                    struct sa_err *err)
{
    *out = NULL;
    if (eval)
        *eval = (struct sa_intent_eval){0};
    struct corpus c = {0};
    struct fvec *fs = NULL;
    struct feats *tmp = NULL;
    bool *cal = NULL;
    struct sa_intent_model *m80 = NULL, *m = NULL;
    int rc = read_corpus(path, &c, err);
    if (!rc && (c.n == 0 || c.nlabels == 0)) { /* read_corpus refuses these; for the analyser */
        sa_err_set(err, SA_ECONFIG, "%s: no examples", path);
        rc = SA_ECONFIG;
    }
    if (rc)
        goto out;
    rc = SA_ENOMEM;
    fs = calloc(c.n, sizeof *fs);
    cal = calloc(c.n, sizeof *cal);
    tmp = malloc(sizeof *tmp);
    if (!fs || !cal || !tmp)
        goto nomem;
    uint32_t seen[MAX_LABELS] = {0};
    for (size_t i = 0; i < c.n; i++) {
        char clean[MAX_TEXT + 1];
        sa_reply_clean(c.ex[i].text, clean, sizeof clean);
        features(clean, tmp);
        if (!(fs[i].idx = malloc((tmp->n ? tmp->n : 1) * sizeof *fs[i].idx)))
            goto nomem;
        memcpy(fs[i].idx, tmp->idx, tmp->n * sizeof *tmp->idx);
        fs[i].n = tmp->n;
        fs[i].scale = tmp->scale;
        cal[i] = calibration_example(&c, i, seen);
    }
    bool *use = malloc(c.n * sizeof *use);
    if (!use)
        goto nomem;
    for (size_t i = 0; i < c.n; i++)
        use[i] = !cal[i];
    rc = train(&c, fs, use, &m80);
    free(use);
    if (rc)
        goto nomem;
    double t = fit_temperature(m80, &c, fs, cal);
    m80->temperature = t;
    if (eval) {
        eval->confusion = json_object();
        eval->temperature = t;
        evaluate(m80, &c, cal, eval);
    }
    if ((rc = train(&c, fs, NULL, &m)) != 0 || (rc = train_profiles(m, &c)) != 0)
        goto nomem;
    m->temperature = t;
    *out = m;
    goto out;
nomem:
    sa_err_set(err, SA_ENOMEM, "out of memory");
    sa_intent_free(m);
out:
    sa_intent_free(m80);
    for (size_t i = 0; fs && i < c.n; i++)
        free(fs[i].idx);
    corpus_free(&c);
    free(tmp);
    free(fs);
    free(cal);
    return rc;
}
