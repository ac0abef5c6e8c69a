/* The qualification model: loading and validating its data files, and scoring a lead
 * (see scoring.h and docs/qualification.md).
 *
 * Lookups are prepared at load time so scoring does no allocation: industry names and
 * aliases become normalised keys (lowercase letters and digits only, so "Fin-Tech",
 * "fin tech" and "FinTech" meet) in a sorted table; free-mail domains are sorted too;
 * title patterns and note keywords are stored padded with spaces, so a whole-word match
 * is one strstr over the padded, normalised text. */
#include "domain/scoring.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "domain/lead.h"
#include "base/detail.h"
#include "base/json.h"

#define LABEL_MAX 64
#define KEY_MAX 128

struct size_band {
    long min, max; /* max = SA_UNKNOWN: open-ended */
    double fit;
    char label[LABEL_MAX];
};

struct revenue_band {
    double min, max; /* max < 0: open-ended */
    double fit;
    char label[LABEL_MAX];
};

struct word_list {
    char **items; /* " word " padded, lowercase */
    size_t n;
};

struct seniority_level {
    char level[LABEL_MAX];
    char label[LABEL_MAX];
    double fit;
    struct word_list patterns;
};

struct signal_def {
    char name[LABEL_MAX];
    char label[LABEL_MAX];
    double points;
    struct word_list keys;     /* normalised keys of name and aliases (not padded) */
    struct word_list keywords; /* padded words looked for in notes */
};

struct industry {
    char name[LABEL_MAX];
    double fit;
};

struct industry_key {
    char key[KEY_MAX];
    size_t industry;
};

struct sa_model {
    int version;
    int cut_a, cut_b, cut_c;
    char *actions[4];
    int weights[SA_F_COUNT];
    struct size_band *sizes;
    size_t nsizes;
    struct revenue_band *revenues;
    size_t nrevenues;
    struct seniority_level *levels;
    size_t nlevels;
    double unknown_seniority_fit;
    double corporate_fit, free_mail_fit;
    struct signal_def *signals;
    size_t nsignals;
    double unknown_signal_points;
    double unknown_signal_max_points;
    struct industry *industries;
    size_t nindustries;
    struct industry_key *keys;
    size_t nkeys;
    double default_industry_fit;
    char **free_domains;
    size_t nfree;
};

static const char *const factor_names[SA_F_COUNT] = {
    "industry_fit", "company_size",         "revenue", "contact_seniority",
    "email_domain", "contact_completeness", "signals"};
static const char *const factor_labels[SA_F_COUNT] = {
    "Industry fit",  "Company size",         "Annual revenue", "Contact seniority",
    "E-mail domain", "Contact completeness", "Buying signals"};

/* ---- text normalisation ------------------------------------------------------------ */

/* Lowercase letters and digits only. */
static void norm_key(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 1 < cap; s++)
        if (isalnum((unsigned char)*s))
            out[o++] = (char)tolower((unsigned char)*s);
    out[o] = '\0';
}

/* Lowercase, every run of other characters turned into one space, padded with spaces at
 * both ends: " vp of sales ". Hyphens inside words are kept ("co-founder"). */
static void norm_words(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    if (cap < 3) {
        out[0] = '\0';
        return;
    }
    out[o++] = ' ';
    for (; *s && o + 2 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || (c == '-' && o > 1 && out[o - 1] != ' ') || c >= 0x80)
            out[o++] = (char)tolower(c);
        else if (out[o - 1] != ' ')
            out[o++] = ' ';
    }
    if (out[o - 1] != ' ')
        out[o++] = ' ';
    out[o] = '\0';
}

static bool has_word(const char *padded_text, const struct word_list *wl, const char **hit)
{
    for (size_t i = 0; i < wl->n; i++) {
        if (strstr(padded_text, wl->items[i])) {
            if (hit)
                *hit = wl->items[i];
            return true;
        }
    }
    return false;
}

/* ---- loading ----------------------------------------------------------------------- */

struct loader {
    const char *file;
    struct sa_err *err;
};

static int bad(struct loader *ld, const char *path, const char *what)
{
    return sa_err_set(ld->err, SA_ECONFIG, "%s: %s: %s", ld->file, path, what);
}

static int get_fit(struct loader *ld, const json_t *obj, const char *key, const char *path,
                   double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1) {
        char p[128];
        snprintf(p, sizeof p, "%s.%s", path, key);
        return bad(ld, p, "expected a number from 0 to 1");
    }
    *out = json_number_value(v);
    return 0;
}

static int get_label(struct loader *ld, const json_t *obj, const char *key, const char *path,
                     char *out, bool required)
{
    const char *s = sa_json_str(obj, key);
    if (!s) {
        if (!required) {
            out[0] = '\0';
            return 0;
        }
    }
    if (!s || !*s || strlen(s) >= LABEL_MAX) {
        char p[128];
        snprintf(p, sizeof p, "%s.%s", path, key);
        return bad(ld, p, "expected a non-empty string of at most 63 bytes");
    }
    snprintf(out, LABEL_MAX, "%s", s);
    return 0;
}

static void words_free(struct word_list *wl)
{
    for (size_t i = 0; i < wl->n; i++)
        free(wl->items[i]);
    free(wl->items);
    *wl = (struct word_list){0};
}

/* Appends the strings of arr to wl, padded (" x ") or as keys. */
static int words_add(struct loader *ld, struct word_list *wl, const json_t *arr, const char *path,
                     bool padded)
{
    if (arr && !json_is_array(arr))
        return bad(ld, path, "expected an array of strings");
    size_t n = json_array_size(arr);
    char **items = realloc(wl->items, (wl->n + n + 1) * sizeof *items);
    if (!items)
        return sa_err_set(ld->err, SA_ENOMEM, "out of memory");
    wl->items = items;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (!s || !*s || strlen(s) >= KEY_MAX) {
            char p[128];
            snprintf(p, sizeof p, "%s.%zu", path, i);
            return bad(ld, p, "expected a non-empty string");
        }
        char buf[KEY_MAX + 4];
        if (padded)
            norm_words(s, buf, sizeof buf);
        else
            norm_key(s, buf, sizeof buf);
        if (strlen(buf) < (padded ? 3u : 1u)) {
            char p[128];
            snprintf(p, sizeof p, "%s.%zu", path, i);
            return bad(ld, p, "expected letters or digits");
        }
        if (!(wl->items[wl->n] = strdup(buf)))
            return sa_err_set(ld->err, SA_ENOMEM, "out of memory");
        wl->n++;
    }
    return 0;
}

static int load_tiers(struct loader *ld, struct sa_model *m, const json_t *root)
{
    json_t *t = json_object_get(root, "tiers");
    int *cuts[3] = {&m->cut_a, &m->cut_b, &m->cut_c};
    const char *names[3] = {"A", "B", "C"};
    for (int i = 0; i < 3; i++) {
        json_t *v = json_object_get(t, names[i]);
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 100) {
            char p[32];
            snprintf(p, sizeof p, "tiers.%s", names[i]);
            return bad(ld, p, "expected an integer cut-off from 1 to 100");
        }
        *cuts[i] = (int)json_integer_value(v);
    }
    if (!(m->cut_a > m->cut_b && m->cut_b > m->cut_c))
        return bad(ld, "tiers", "cut-offs must fall strictly: A > B > C");
    json_t *acts = json_object_get(root, "tier_actions");
    const char *tiers = "ABCD";
    for (int i = 0; i < 4; i++) {
        char key[2] = {tiers[i], '\0'};
        const char *s = sa_json_str(acts, key);
        if (!s || !*s) {
            char p[32];
            snprintf(p, sizeof p, "tier_actions.%c", tiers[i]);
            return bad(ld, p, "expected a non-empty string");
        }
        if (!(m->actions[i] = strdup(s)))
            return sa_err_set(ld->err, SA_ENOMEM, "out of memory");
    }
    return 0;
}

static int load_weights(struct loader *ld, struct sa_model *m, const json_t *root)
{
    json_t *w = json_object_get(root, "weights");
    if (!json_is_object(w))
        return bad(ld, "weights", "expected an object of factor: points");
    int sum = 0;
    for (int i = 0; i < SA_F_COUNT; i++) {
        json_t *v = json_object_get(w, factor_names[i]);
        char p[64];
        snprintf(p, sizeof p, "weights.%s", factor_names[i]);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 100)
            return bad(ld, p, "expected an integer number of points from 0 to 100");
        m->weights[i] = (int)json_integer_value(v);
        sum += m->weights[i];
    }
    const char *k;
    json_t *v;
    json_object_foreach(w, k, v)
    {
        bool known = false;
        for (int i = 0; i < SA_F_COUNT; i++)
            known |= strcmp(k, factor_names[i]) == 0;
        if (!known) {
            char p[96];
            snprintf(p, sizeof p, "weights.%.80s", k);
            return bad(ld, p, "unknown factor");
        }
    }
    if (sum != 100) {
        char msg[96];
        snprintf(msg, sizeof msg, "weights must add up to 100 (they add up to %d)", sum);
        return bad(ld, "weights", msg);
    }
    return 0;
}

static int load_size_bands(struct loader *ld, struct sa_model *m, const json_t *root)
{
    json_t *arr = json_object_get(root, "company_size_bands");
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return bad(ld, "company_size_bands", "expected a non-empty array");
    m->nsizes = json_array_size(arr);
    if (!(m->sizes = calloc(m->nsizes, sizeof *m->sizes)))
        return sa_err_set(ld->err, SA_ENOMEM, "out of memory");
    long next = 1;
    for (size_t i = 0; i < m->nsizes; i++) {
        json_t *b = json_array_get(arr, i);
        char p[64];
        snprintf(p, sizeof p, "company_size_bands.%zu", i);
        json_t *mn = json_object_get(b, "min"), *mx = json_object_get(b, "max");
        bool last = i + 1 == m->nsizes;
        if (!json_is_integer(mn) || json_integer_value(mn) != next)
            return bad(ld, p, "bands must start at 1 and be contiguous (min = previous max + 1)");
        if (last ? !json_is_null(mx) : (!json_is_integer(mx) || json_integer_value(mx) < next))
            return bad(ld, p, "max must be >= min, and null only (open-ended) on the last band");
        struct size_band *sb = &m->sizes[i];
        sb->min = (long)json_integer_value(mn);
        sb->max = last ? SA_UNKNOWN : (long)json_integer_value(mx);
        next = sb->max + 1;
        if (get_fit(ld, b, "fit", p, &sb->fit) || get_label(ld, b, "label", p, sb->label, true))
            return ld->err->code;
    }
    return 0;
}

static int load_revenue_bands(struct loader *ld, struct sa_model *m, const json_t *root)
{
    json_t *arr = json_object_get(root, "revenue_bands");
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return bad(ld, "revenue_bands", "expected a non-empty array");
    m->nrevenues = json_array_size(arr);
    if (!(m->revenues = calloc(m->nrevenues, sizeof *m->revenues)))
        return sa_err_set(ld->err, SA_ENOMEM, "out of memory");
    double next = 0;
    for (size_t i = 0; i < m->nrevenues; i++) {
        json_t *b = json_array_get(arr, i);
        char p[64];
        snprintf(p, sizeof p, "revenue_bands.%zu", i);
        json_t *mn = json_object_get(b, "min_usd"), *mx = json_object_get(b, "max_usd");
        bool last = i + 1 == m->nrevenues;
        if (!json_is_number(mn) || json_number_value(mn) != next)
            return bad(ld, p,
                       "bands must start at 0 and be contiguous (min_usd = previous max_usd)");
        if (last ? !json_is_null(mx)
                 : (!json_is_number(mx) || json_number_value(mx) <= json_number_value(mn)))
            return bad(ld, p, "max_usd must be > min_usd, and null only on the last band");
        struct revenue_band *rb = &m->revenues[i];
        rb->min = json_number_value(mn);
        rb->max = last ? -1 : json_number_value(mx);
        next = rb->max;
        if (get_fit(ld, b, "fit", p, &rb->fit) || get_label(ld, b, "label", p, rb->label, true))
            return ld->err->code;
    }
    return 0;
}

static int load_seniority(struct loader *ld, struct sa_model *m, const json_t *root)
{
    json_t *arr = json_object_get(root, "seniority");
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return bad(ld, "seniority", "expected a non-empty array of levels");
    m->nlevels = json_array_size(arr);
    if (!(m->levels = calloc(m->nlevels, sizeof *m->levels)))
        return sa_err_set(ld->err, SA_ENOMEM, "out of memory");
    for (size_t i = 0; i < m->nlevels; i++) {
        json_t *l = json_array_get(arr, i);
        char p[64], pp[80];
        snprintf(p, sizeof p, "seniority.%zu", i);
        snprintf(pp, sizeof pp, "%s.patterns", p);
        struct seniority_level *sl = &m->levels[i];
        json_t *pats = json_object_get(l, "patterns");
        if (get_label(ld, l, "level", p, sl->level, true) ||
            get_label(ld, l, "label", p, sl->label, true) || get_fit(ld, l, "fit", p, &sl->fit))
            return ld->err->code;
        if (json_array_size(pats) == 0)
            return bad(ld, pp, "expected a non-empty array of strings");
        if (words_add(ld, &sl->patterns, pats, pp, true))
            return ld->err->code;
    }
    return get_fit(ld, root, "seniority_unknown_fit", "$", &m->unknown_seniority_fit);
}

static int load_signals(struct loader *ld, struct sa_model *m, const json_t *root)
{
    json_t *arr = json_object_get(root, "signals");
    if (!json_is_array(arr))
        return bad(ld, "signals", "expected an array of signal definitions");
    m->nsignals = json_array_size(arr);
    if (!(m->signals = calloc(m->nsignals + 1, sizeof *m->signals)))
        return sa_err_set(ld->err, SA_ENOMEM, "out of memory");
    for (size_t i = 0; i < m->nsignals; i++) {
        json_t *s = json_array_get(arr, i);
        char p[64], pa[80], pk[80];
        snprintf(p, sizeof p, "signals.%zu", i);
        snprintf(pa, sizeof pa, "%s.aliases", p);
        snprintf(pk, sizeof pk, "%s.keywords", p);
        struct signal_def *sd = &m->signals[i];
        if (get_label(ld, s, "name", p, sd->name, true) ||
            get_label(ld, s, "label", p, sd->label, true))
            return ld->err->code;
        json_t *pts = json_object_get(s, "points");
        if (!json_is_number(pts) || json_number_value(pts) < 0 || json_number_value(pts) > 100)
            return bad(ld, p, "points: expected a number from 0 to 100");
        sd->points = json_number_value(pts);
        json_t *name = json_string(sd->name);
        json_t *one = json_pack("[o]", name);
        int rc = words_add(ld, &sd->keys, one, p, false);
        json_decref(one);
        if (rc || words_add(ld, &sd->keys, json_object_get(s, "aliases"), pa, false) ||
            words_add(ld, &sd->keywords, json_object_get(s, "keywords"), pk, true))
            return ld->err->code;
        for (size_t j = 0; j < i; j++)
            for (size_t a = 0; a < sd->keys.n; a++)
                for (size_t b = 0; b < m->signals[j].keys.n; b++)
                    if (strcmp(sd->keys.items[a], m->signals[j].keys.items[b]) == 0)
                        return bad(ld, p, "name or alias already used by an earlier signal");
    }
    json_t *u = json_object_get(root, "unknown_signal_points");
    if (!json_is_number(u) || json_number_value(u) < 0 || json_number_value(u) > 100)
        return bad(ld, "unknown_signal_points", "expected a number from 0 to 100");
    m->unknown_signal_points = json_number_value(u);
    json_t *cap = json_object_get(root, "unknown_signal_max_points");
    if (!json_is_number(cap) || json_number_value(cap) < 0 || json_number_value(cap) > 100)
        return bad(ld, "unknown_signal_max_points", "expected a number from 0 to 100");
    m->unknown_signal_max_points = json_number_value(cap);
    return 0;
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(((const struct industry_key *)a)->key, ((const struct industry_key *)b)->key);
}

static int load_industries(struct sa_model *m, const char *dir, struct sa_err *err)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/industries.json", dir);
    struct loader ld = {.file = path, .err = err};
    json_t *root;
    if (sa_json_load_file(path, &root, err))
        return err->code;
    int rc = SA_ECONFIG;
    json_t *arr = json_object_get(root, "industries");
    if (get_fit(&ld, root, "default_fit", "$", &m->default_industry_fit))
        goto out;
    size_t nind = json_array_size(arr); /* 0 for a non-array */
    if (nind == 0) {
        bad(&ld, "industries", "expected a non-empty array");
        goto out;
    }
    m->nindustries = nind;
    size_t cap = 0;
    for (size_t i = 0; i < m->nindustries; i++)
        cap += 1 + json_array_size(json_object_get(json_array_get(arr, i), "aliases"));
    m->industries = calloc(m->nindustries, sizeof *m->industries);
    m->keys = calloc(cap, sizeof *m->keys);
    if (!m->industries || !m->keys) {
        rc = sa_err_set(err, SA_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < m->nindustries; i++) {
        json_t *ind = json_array_get(arr, i);
        char p[64];
        snprintf(p, sizeof p, "industries.%zu", i);
        struct industry *in = &m->industries[i];
        if (get_label(&ld, ind, "name", p, in->name, true) || get_fit(&ld, ind, "fit", p, &in->fit))
            goto out;
        json_t *aliases = json_object_get(ind, "aliases");
        if (aliases && !json_is_array(aliases)) {
            bad(&ld, p, "aliases: expected an array of strings");
            goto out;
        }
        for (size_t a = 0; a <= json_array_size(aliases); a++) {
            const char *s = a == 0 ? in->name : json_string_value(json_array_get(aliases, a - 1));
            struct industry_key *k = &m->keys[m->nkeys];
            if (!s) {
                bad(&ld, p, "aliases: expected an array of strings");
                goto out;
            }
            norm_key(s, k->key, sizeof k->key);
            if (!k->key[0]) {
                bad(&ld, p, "name and aliases need letters or digits");
                goto out;
            }
            k->industry = i;
            m->nkeys++;
        }
    }
    qsort(m->keys, m->nkeys, sizeof *m->keys, key_cmp);
    for (size_t i = 1; i < m->nkeys; i++) {
        if (strcmp(m->keys[i].key, m->keys[i - 1].key) == 0 &&
            m->keys[i].industry != m->keys[i - 1].industry) {
            char msg[256];
            snprintf(msg, sizeof msg, "\"%s\" names both %s and %s", m->keys[i].key,
                     m->industries[m->keys[i - 1].industry].name,
                     m->industries[m->keys[i].industry].name);
            bad(&ld, "industries", msg);
            goto out;
        }
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_free_mail(struct sa_model *m, const char *dir, struct sa_err *err)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/free_mail_domains.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return sa_err_set(err, SA_ECONFIG, "%s: cannot open: %s", path, strerror(errno));
    char line[256];
    size_t cap = 0, lineno = 0;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char d[256];
        size_t o = 0;
        for (const char *p = line; *p && o + 1 < sizeof d; p++)
            if (!isspace((unsigned char)*p))
                d[o++] = (char)tolower((unsigned char)*p);
        d[o] = '\0';
        if (!d[0] || d[0] == '#')
            continue;
        if (!strchr(d, '.') || strchr(d, '@')) {
            rc = sa_err_set(err, SA_ECONFIG, "%s:%zu: expected a domain such as gmail.com", path,
                            lineno);
            break;
        }
        if (m->nfree == cap) {
            cap = cap ? cap * 2 : 64;
            char **nd = realloc(m->free_domains, cap * sizeof *nd);
            if (!nd) {
                rc = sa_err_set(err, SA_ENOMEM, "out of memory");
                break;
            }
            m->free_domains = nd;
        }
        if (!(m->free_domains[m->nfree] = strdup(d))) {
            rc = sa_err_set(err, SA_ENOMEM, "out of memory");
            break;
        }
        m->nfree++;
    }
    fclose(f);
    if (!rc && m->nfree)
        qsort(m->free_domains, m->nfree, sizeof *m->free_domains, str_cmp);
    return rc;
}

int sa_model_load(const char *dir, struct sa_model **out, struct sa_err *err)
{
    *out = NULL;
    struct sa_model *m = calloc(1, sizeof *m);
    if (!m)
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    char path[1024];
    snprintf(path, sizeof path, "%s/scoring.json", dir);
    struct loader ld = {.file = path, .err = err};
    json_t *root = NULL;
    int rc = sa_json_load_file(path, &root, err);
    if (rc)
        goto out;
    rc = SA_ECONFIG;
    json_t *ver = json_object_get(root, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
        bad(&ld, "version", "expected 1");
        goto out;
    }
    m->version = 1;
    json_t *em = json_object_get(root, "email_domain");
    if (load_tiers(&ld, m, root) || load_weights(&ld, m, root) || load_size_bands(&ld, m, root) ||
        load_revenue_bands(&ld, m, root) || load_seniority(&ld, m, root) ||
        load_signals(&ld, m, root) ||
        get_fit(&ld, em, "corporate_fit", "email_domain", &m->corporate_fit) ||
        get_fit(&ld, em, "free_mail_fit", "email_domain", &m->free_mail_fit) ||
        load_industries(m, dir, err) || load_free_mail(m, dir, err)) {
        rc = err->code;
        goto out;
    }
    rc = 0;
out:
    json_decref(root);
    if (rc)
        sa_model_free(m);
    else
        *out = m;
    return rc;
}

void sa_model_free(struct sa_model *m)
{
    if (!m)
        return;
    for (int i = 0; i < 4; i++)
        free(m->actions[i]);
    free(m->sizes);
    free(m->revenues);
    for (size_t i = 0; i < m->nlevels; i++)
        words_free(&m->levels[i].patterns);
    free(m->levels);
    for (size_t i = 0; i < m->nsignals; i++) {
        words_free(&m->signals[i].keys);
        words_free(&m->signals[i].keywords);
    }
    free(m->signals);
    free(m->industries);
    free(m->keys);
    for (size_t i = 0; i < m->nfree; i++)
        free(m->free_domains[i]);
    free(m->free_domains);
    free(m);
}

/* ---- scoring ----------------------------------------------------------------------- */

char sa_model_tier(const struct sa_model *m, int score)
{
    return score >= m->cut_a ? 'A' : score >= m->cut_b ? 'B' : score >= m->cut_c ? 'C' : 'D';
}

static const struct industry *find_industry(const struct sa_model *m, const char *text,
                                            char *matched, size_t cap)
{
    struct industry_key probe;
    norm_key(text, probe.key, sizeof probe.key);
    const struct industry_key *k = bsearch(&probe, m->keys, m->nkeys, sizeof *m->keys, key_cmp);
    if (k) {
        matched[0] = '\0';
        return &m->industries[k->industry];
    }
    /* No exact name: try runs of the words, longest first ("B2B Software Company" finds
     * "b2b software"), so a qualifier does not hide a known industry. */
    char words[KEY_MAX + 4];
    norm_words(text, words, sizeof words);
    const char *starts[16];
    size_t nw = 0;
    for (const char *p = words; *p && nw < 16; p++)
        if (*p == ' ' && p[1])
            starts[nw++] = p + 1;
    for (size_t len = nw - (nw > 0); len >= 1 && nw > 0; len--) {
        for (size_t i = 0; i + len <= nw; i++) {
            const char *b = starts[i];
            const char *e = i + len < nw ? starts[i + len] - 1 : words + strlen(words) - 1;
            char run[KEY_MAX];
            size_t o = 0;
            for (const char *p = b; p < e && o + 1 < sizeof run; p++)
                if (isalnum((unsigned char)*p))
                    run[o++] = *p;
            run[o] = '\0';
            if (o < 4)
                continue;
            memcpy(probe.key, run, o + 1);
            k = bsearch(&probe, m->keys, m->nkeys, sizeof *m->keys, key_cmp);
            if (k) {
                snprintf(matched, cap, "%.*s", (int)(e - b), b);
                return &m->industries[k->industry];
            }
        }
    }
    return NULL;
}

const char *sa_model_industry(const struct sa_model *m, const char *text)
{
    if (!text)
        return NULL;
    char matched[KEY_MAX];
    const struct industry *in = find_industry(m, text, matched, sizeof matched);
    return in ? in->name : NULL;
}

const char *sa_model_seniority(const struct sa_model *m, const char *title)
{
    if (!title)
        return NULL;
    char words[4 * SA_LEAD_NAME_MAX + 8];
    norm_words(title, words, sizeof words);
    for (size_t i = 0; i < m->nlevels; i++)
        if (has_word(words, &m->levels[i].patterns, NULL))
            return m->levels[i].label;
    return NULL;
}

static void score_industry(const struct sa_model *m, const struct sa_lead *l, struct sa_factor *f)
{
    if (!l->industry) {
        f->fit = 0;
        snprintf(f->value, sizeof f->value, "not given");
        snprintf(f->detail, sizeof f->detail, "industry not given");
        return;
    }
    char matched[KEY_MAX] = "";
    const struct industry *in = find_industry(m, l->industry, matched, sizeof matched);
    if (!in) {
        f->fit = m->default_industry_fit;
        int n = sa_utf8_cut(l->industry, 100);
        snprintf(f->value, sizeof f->value, "%.*s (not in the industry table)", n, l->industry);
        snprintf(f->detail, sizeof f->detail, "industry \"%.*s\" is not in our table", n,
                 l->industry);
        return;
    }
    f->fit = in->fit;
    if (strcmp(in->name, l->industry) == 0)
        snprintf(f->value, sizeof f->value, "%s", in->name);
    else
        snprintf(f->value, sizeof f->value, "%s (from \"%.*s\")", in->name,
                 sa_utf8_cut(l->industry, 80), l->industry);
    snprintf(f->detail, sizeof f->detail, "%s is a %s-fit industry", in->name,
             in->fit >= 0.75  ? "strong"
             : in->fit >= 0.4 ? "moderate"
                              : "weak");
}

static void score_size(const struct sa_model *m, const struct sa_lead *l, struct sa_factor *f)
{
    if (l->employees_min == SA_UNKNOWN) {
        f->fit = 0;
        snprintf(f->value, sizeof f->value, "not given");
        snprintf(f->detail, sizeof f->detail, "company size unknown");
        return;
    }
    /* A range is placed by its midpoint; an open range ("1000+") just above its floor. */
    long rep = l->employees_max == SA_UNKNOWN ? l->employees_min + 1
                                              : (l->employees_min + l->employees_max) / 2;
    const struct size_band *b = &m->sizes[m->nsizes - 1];
    for (size_t i = 0; i < m->nsizes; i++) {
        if (rep >= m->sizes[i].min && (m->sizes[i].max == SA_UNKNOWN || rep <= m->sizes[i].max)) {
            b = &m->sizes[i];
            break;
        }
    }
    f->fit = b->fit;
    char range[48];
    if (l->employees_max == SA_UNKNOWN)
        snprintf(range, sizeof range, "%ld+", l->employees_min);
    else if (l->employees_max == l->employees_min)
        snprintf(range, sizeof range, "%ld", l->employees_min);
    else
        snprintf(range, sizeof range, "%ld-%ld", l->employees_min, l->employees_max);
    snprintf(f->value, sizeof f->value, "%s employees (%s)", range, b->label);
    snprintf(f->detail, sizeof f->detail, "%s company (%s employees)", b->label, range);
}

static void format_usd(double v, char *out, size_t cap)
{
    if (v >= 1e9)
        snprintf(out, cap, "$%.1fB", v / 1e9);
    else if (v >= 1e6)
        snprintf(out, cap, "$%.1fM", v / 1e6);
    else if (v >= 1e3)
        snprintf(out, cap, "$%.0fK", v / 1e3);
    else
        snprintf(out, cap, "$%.0f", v);
}

static void score_revenue(const struct sa_model *m, const struct sa_lead *l, struct sa_factor *f)
{
    if (l->annual_revenue < 0) {
        f->fit = 0;
        snprintf(f->value, sizeof f->value, "not given");
        snprintf(f->detail, sizeof f->detail, "annual revenue unknown");
        return;
    }
    const struct revenue_band *b = &m->revenues[m->nrevenues - 1];
    for (size_t i = 0; i < m->nrevenues; i++) {
        if (l->annual_revenue >= m->revenues[i].min &&
            (m->revenues[i].max < 0 || l->annual_revenue < m->revenues[i].max)) {
            b = &m->revenues[i];
            break;
        }
    }
    char usd[32];
    format_usd(l->annual_revenue, usd, sizeof usd);
    f->fit = b->fit;
    snprintf(f->value, sizeof f->value, "%s (%s)", usd, b->label);
    snprintf(f->detail, sizeof f->detail, "annual revenue about %s", usd);
}

static void score_seniority(const struct sa_model *m, const struct sa_lead *l, struct sa_factor *f)
{
    if (!l->contact_title) {
        f->fit = l->contact_name || l->contact_email ? m->unknown_seniority_fit : 0;
        snprintf(f->value, sizeof f->value, "no title");
        snprintf(f->detail, sizeof f->detail, "no contact title");
        return;
    }
    char words[4 * SA_LEAD_NAME_MAX + 8]; /* a character is up to 4 bytes */
    norm_words(l->contact_title, words, sizeof words);
    int n = sa_utf8_cut(l->contact_title, 100);
    for (size_t i = 0; i < m->nlevels; i++) {
        if (has_word(words, &m->levels[i].patterns, NULL)) {
            f->fit = m->levels[i].fit;
            snprintf(f->value, sizeof f->value, "%s (%.*s)", m->levels[i].label, n,
                     l->contact_title);
            snprintf(f->detail, sizeof f->detail, "%s contact (%.*s)", m->levels[i].label, n,
                     l->contact_title);
            return;
        }
    }
    f->fit = m->unknown_seniority_fit;
    snprintf(f->value, sizeof f->value, "unrecognised title (%.*s)", n, l->contact_title);
    snprintf(f->detail, sizeof f->detail, "contact title \"%.*s\" gives no seniority", n,
             l->contact_title);
}

bool sa_model_free_mail(const struct sa_model *m, const char *domain)
{
    if (!domain)
        return false;
    char d[256];
    size_t n = 0;
    for (; domain[n] && n + 1 < sizeof d; n++)
        d[n] = (char)tolower((unsigned char)domain[n]);
    d[n] = '\0';
    const char *key = d;
    return bsearch(&key, m->free_domains, m->nfree, sizeof *m->free_domains, str_cmp) != NULL;
}

static void score_email(const struct sa_model *m, const struct sa_lead *l, struct sa_factor *f)
{
    const char *domain = sa_email_domain(l->contact_email);
    if (!domain) {
        f->fit = 0;
        snprintf(f->value, sizeof f->value, "not given");
        snprintf(f->detail, sizeof f->detail, "no e-mail address");
    } else if (sa_model_free_mail(m, domain)) {
        f->fit = m->free_mail_fit;
        snprintf(f->value, sizeof f->value, "%.100s (free mail)", domain);
        snprintf(f->detail, sizeof f->detail, "free-mail address (%.100s)", domain);
    } else {
        f->fit = m->corporate_fit;
        snprintf(f->value, sizeof f->value, "%.100s (corporate)", domain);
        snprintf(f->detail, sizeof f->detail, "corporate e-mail (%.100s)", domain);
    }
}

static void score_completeness(const struct sa_lead *l, struct sa_factor *f)
{
    const char *fields[] = {l->contact_name, l->contact_title, l->contact_email, l->contact_phone,
                            l->linkedin_url};
    int have = 0;
    for (size_t i = 0; i < 5; i++)
        have += fields[i] != NULL;
    f->fit = have / 5.0;
    snprintf(f->value, sizeof f->value, "%d of 5 contact fields", have);
    snprintf(f->detail, sizeof f->detail, "%s contact details (%d/5)",
             have >= 4   ? "complete"
             : have >= 2 ? "partial"
                         : "sparse",
             have);
}

static void score_signals(const struct sa_model *m, const struct sa_lead *l, struct sa_factor *f)
{
    /* Each known signal counts once, whether named in "signals" or found in the notes. */
    bool seen[64] = {false};
    double pts = 0;
    int count = 0, unknown = 0;
    char names[160] = "";
    size_t nlen = 0;
    size_t nsig = m->nsignals < 64 ? m->nsignals : 64;
    /* Unrecognised signals count once per distinct key, and together at most
     * unknown_signal_max_points: a list of junk must not fill the factor. */
    char unknown_keys[SA_LEAD_SIGNALS_MAX][KEY_MAX];
    size_t i;
    json_t *x;
    json_array_foreach(l->signals, i, x)
    {
        char key[KEY_MAX];
        norm_key(json_string_value(x), key, sizeof key);
        bool found = false;
        for (size_t s = 0; s < nsig && !found; s++) {
            for (size_t k = 0; k < m->signals[s].keys.n; k++) {
                if (strcmp(key, m->signals[s].keys.items[k]) == 0) {
                    found = true;
                    if (!seen[s]) {
                        seen[s] = true;
                        pts += m->signals[s].points;
                        count++;
                    }
                    break;
                }
            }
        }
        bool repeat = false;
        for (int u = 0; u < unknown && !found && !repeat; u++)
            repeat = strcmp(unknown_keys[u], key) == 0;
        if (!found && !repeat && unknown < SA_LEAD_SIGNALS_MAX)
            memcpy(unknown_keys[unknown++], key, sizeof key);
    }
    pts += fmin(unknown * m->unknown_signal_points, m->unknown_signal_max_points);
    if (l->notes) {
        char text[4 * SA_LEAD_NOTES_MAX + 8]; /* 40 KB: a character is up to 4 bytes */
        norm_words(l->notes, text, sizeof text);
        for (size_t s = 0; s < nsig; s++) {
            if (!seen[s] && has_word(text, &m->signals[s].keywords, NULL)) {
                seen[s] = true;
                pts += m->signals[s].points;
                count++;
            }
        }
    }
    for (size_t s = 0; s < nsig; s++) {
        if (seen[s] && nlen + 2 < sizeof names) {
            int w = snprintf(names + nlen, sizeof names - nlen, "%s%s", nlen ? ", " : "",
                             m->signals[s].label);
            nlen = w > 0 ? nlen + (size_t)w : nlen;
            if (nlen >= sizeof names)
                nlen = sizeof names - 1;
        }
    }
    int w = f->max_points;
    f->fit = w > 0 ? fmin(pts / w, 1.0) : 0;
    if (count == 0 && unknown == 0) {
        snprintf(f->value, sizeof f->value, "none");
        snprintf(f->detail, sizeof f->detail, "no buying signals");
        return;
    }
    if (unknown)
        snprintf(f->value, sizeof f->value, "%d known, %d unrecognised", count, unknown);
    else
        snprintf(f->value, sizeof f->value, "%d known", count);
    if (count)
        snprintf(f->detail, sizeof f->detail, "%d buying signal%s (%s)", count,
                 count == 1 ? "" : "s", names);
    else
        snprintf(f->detail, sizeof f->detail, "%d unrecognised signal%s", unknown,
                 unknown == 1 ? "" : "s");
}

/* Largest-remainder rounding: integer points that add up to round(total), each within
 * one point of its exact share, ties broken by factor order so results are stable. */
static void allocate_points(struct sa_score *s)
{
    double total = 0;
    int sum = 0;
    for (int i = 0; i < SA_F_COUNT; i++) {
        total += s->factors[i].raw;
        s->factors[i].points = (int)floor(s->factors[i].raw + 1e-9);
        sum += s->factors[i].points;
    }
    int score = (int)lround(total);
    score = score < 0 ? 0 : score > 100 ? 100 : score;
    while (sum < score) {
        int best = -1;
        double best_frac = -1;
        for (int i = 0; i < SA_F_COUNT; i++) {
            double frac = s->factors[i].raw - s->factors[i].points;
            if (s->factors[i].points < s->factors[i].max_points && frac > best_frac + 1e-12) {
                best = i;
                best_frac = frac;
            }
        }
        if (best < 0)
            break;
        s->factors[best].points++;
        sum++;
    }
    s->score = sum;
}

static size_t join_phrases(const struct sa_score *s, enum sa_factor_verdict v, char *out,
                           size_t cap)
{
    size_t n = 0, count = 0, total = 0;
    for (int i = 0; i < SA_F_COUNT; i++)
        total += s->factors[i].verdict == v;
    out[0] = '\0';
    for (int i = 0; i < SA_F_COUNT && n + 1 < cap; i++) {
        if (s->factors[i].verdict != v)
            continue;
        count++;
        const char *sep = count == 1 ? "" : count == total ? " and " : ", ";
        int w = snprintf(out + n, cap - n, "%s%s", sep, s->factors[i].detail);
        n = w > 0 ? n + (size_t)w : n;
        if (n >= cap)
            n = cap - 1;
    }
    return total;
}

void sa_model_score(const struct sa_model *m, const struct sa_lead *l, struct sa_score *s)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < SA_F_COUNT; i++) {
        s->factors[i].name = factor_names[i];
        s->factors[i].label = factor_labels[i];
        s->factors[i].max_points = m->weights[i];
    }
    score_industry(m, l, &s->factors[SA_F_INDUSTRY]);
    score_size(m, l, &s->factors[SA_F_SIZE]);
    score_revenue(m, l, &s->factors[SA_F_REVENUE]);
    score_seniority(m, l, &s->factors[SA_F_SENIORITY]);
    score_email(m, l, &s->factors[SA_F_EMAIL]);
    score_completeness(l, &s->factors[SA_F_COMPLETENESS]);
    score_signals(m, l, &s->factors[SA_F_SIGNALS]);
    for (int i = 0; i < SA_F_COUNT; i++) {
        struct sa_factor *f = &s->factors[i];
        f->raw = f->fit * f->max_points;
        /* A factor with no weight says nothing; else strong >= 75% of its weight, weak < 40%. */
        f->verdict = f->max_points == 0 ? SA_NEUTRAL
                     : f->fit >= 0.75   ? SA_STRENGTH
                     : f->fit < 0.4     ? SA_GAP
                                        : SA_NEUTRAL;
    }
    allocate_points(s);
    s->tier = sa_model_tier(m, s->score);
    s->action = m->actions[s->tier - 'A'];

    char strengths[512], gaps[512];
    size_t ns = join_phrases(s, SA_STRENGTH, strengths, sizeof strengths);
    size_t ng = join_phrases(s, SA_GAP, gaps, sizeof gaps);
    const char *who = l->company_name ? l->company_name : "This lead";
    snprintf(s->reasoning, sizeof s->reasoning, "%.*s scores %d/100 (tier %c). %s%s%s%s%s%s %s",
             sa_utf8_cut(who, 120), who, s->score, s->tier, ns ? "Strengths: " : "No strong points",
             ns ? strengths : "", ". ", ng ? "Gaps: " : "No gaps", ng ? gaps : "", ".", s->action);
    /* Values quote client text cut to a length ("%.100s"): a cut may split a character. */
    for (int i = 0; i < SA_F_COUNT; i++) {
        sa_utf8_sanitize(s->factors[i].value);
        sa_utf8_sanitize(s->factors[i].detail);
    }
    sa_utf8_sanitize(s->reasoning);
}

/* Built key by key: json_pack parses its format string for every object, and this runs
 * for each factor of every qualification (the invoke path). The keys are ours, so they
 * skip the key check; the values are checked (sanitised) UTF-8. */
static void set_str(json_t *o, const char *key, const char *value)
{
    json_object_set_new_nocheck(o, key, value ? json_string(value) : json_null());
}

json_t *sa_score_to_json(const struct sa_model *m, const struct sa_score *s)
{
    json_t *factors = json_array();
    for (int i = 0; i < SA_F_COUNT; i++) {
        const struct sa_factor *f = &s->factors[i];
        json_t *o = json_object();
        set_str(o, "name", f->name);
        set_str(o, "label", f->label);
        set_str(o, "value", f->value);
        json_object_set_new_nocheck(o, "points", json_integer(f->points));
        json_object_set_new_nocheck(o, "max_points", json_integer(f->max_points));
        set_str(o, "detail", f->detail);
        json_array_append_new(factors, o);
    }
    char tier[2] = {s->tier, '\0'};
    json_t *o = json_object();
    json_object_set_new_nocheck(o, "score", json_integer(s->score));
    set_str(o, "tier", tier);
    set_str(o, "reasoning", s->reasoning);
    set_str(o, "recommendation", s->action);
    json_object_set_new_nocheck(o, "factors", factors);
    json_object_set_new_nocheck(o, "model_version", json_integer(m->version));
    return o;
}
