/* The product profile (see profile.h): its validation, the overrides from the settings and
 * the look-ups the agents write their copy from. Loaded by app.c at start-up. */
#include "domain/profile.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "domain/lead.h"
#include "domain/template.h"

struct sa_profile {
    json_t *doc; /* owned, validated */
};

/* One validation: the file's name for the messages, the first error. */
struct check {
    const char *name;
    struct sa_err *err;
    int rc;
};

static void fail(struct check *c, const char *path, const char *msg)
{
    if (!c->rc)
        c->rc = sa_err_set(c->err, SA_ECONFIG, "%s: %s: %s", c->name, path, msg);
}

static const json_t *need(struct check *c, const json_t *obj, const char *key, const char *path,
                          bool required)
{
    const json_t *v = json_object_get(obj, key);
    if ((!v || json_is_null(v)) && required)
        fail(c, path, "required");
    return json_is_null(v) ? NULL : v;
}

/* A non-empty string at obj.key; required or optional. */
static const char *text(struct check *c, const json_t *obj, const char *key, const char *at,
                        bool required)
{
    char path[256];
    snprintf(path, sizeof path, "%s%s%s", at, *at ? "." : "", key);
    const json_t *v = need(c, obj, key, path, required);
    if (!v)
        return NULL;
    if (!json_is_string(v) || json_string_length(v) == 0) {
        fail(c, path, "must be a non-empty string");
        return NULL;
    }
    return json_string_value(v);
}

static const json_t *object(struct check *c, const json_t *obj, const char *key, const char *at,
                            bool required)
{
    char path[256];
    snprintf(path, sizeof path, "%s%s%s", at, *at ? "." : "", key);
    const json_t *v = need(c, obj, key, path, required);
    if (v && !json_is_object(v)) {
        fail(c, path, "must be an object");
        return NULL;
    }
    return v;
}

static const json_t *array(struct check *c, const json_t *obj, const char *key, bool required)
{
    const json_t *v = need(c, obj, key, key, required);
    if (v && !json_is_array(v)) {
        fail(c, key, "must be an array");
        return NULL;
    }
    return v;
}

static bool is_url(const char *s)
{
    return s && (strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0) &&
           !strpbrk(s, " \t\r\n");
}

/* {default, personas?: {name: text}, industries?: {name: text}} */
static void check_points(struct check *c, const json_t *root, const char *key)
{
    const json_t *o = object(c, root, key, "", true);
    text(c, o, "default", key, true);
    const char *groups[] = {"personas", "industries"};
    for (int g = 0; g < 2; g++) {
        char at[64];
        snprintf(at, sizeof at, "%s.%s", key, groups[g]);
        const json_t *m = object(c, o, groups[g], key, false);
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)m, k, v)
        {
            text(c, m, k, at, true);
        }
    }
}

static void check_pricing(struct check *c, const json_t *root)
{
    const json_t *p = object(c, root, "pricing", "", true);
    if (!p)
        return;
    const json_t *req = json_object_get(p, "on_request");
    if (req && !json_is_boolean(req))
        fail(c, "pricing.on_request", "must be true or false");
    const json_t *plans = json_object_get(p, "plans");
    if (json_is_true(req) && !plans)
        return;
    if (!plans) {
        fail(c, "pricing.plans", "required (or \"on_request\": true)");
        return;
    }
    if (!json_is_array(plans) || json_array_size(plans) == 0) {
        fail(c, "pricing.plans", "must be a non-empty array");
        return;
    }
    size_t i;
    const json_t *plan;
    json_array_foreach(plans, i, plan)
    {
        char at[64], path[96];
        snprintf(at, sizeof at, "pricing.plans[%zu]", i);
        if (!json_is_object(plan)) {
            fail(c, at, "must be an object");
            return;
        }
        text(c, plan, "name", at, true);
        const json_t *price = json_object_get(plan, "price");
        snprintf(path, sizeof path, "%s.price", at);
        if (!price)
            fail(c, path, "required");
        else if (!json_is_number(price) || !(json_number_value(price) > 0))
            fail(c, path, "must be a positive number");
        const char *cur = text(c, plan, "currency", at, true);
        snprintf(path, sizeof path, "%s.currency", at);
        if (cur && (strlen(cur) != 3 || !isupper((unsigned char)cur[0]) ||
                    !isupper((unsigned char)cur[1]) || !isupper((unsigned char)cur[2])))
            fail(c, path, "must be an ISO 4217 code such as USD or EUR");
        const char *unit = text(c, plan, "unit", at, true);
        snprintf(path, sizeof path, "%s.unit", at);
        if (unit && strcmp(unit, "per_seat") != 0 && strcmp(unit, "flat") != 0 &&
            strcmp(unit, "per_month") != 0)
            fail(c, path, "must be per_seat, flat or per_month");
    }
    text(c, p, "note", "pricing", false);
}

/* An array of objects, each with the required and optional string fields named. */
static void check_list(struct check *c, const json_t *root, const char *key,
                       const char *const *required, const char *const *optional)
{
    const json_t *a = array(c, root, key, false);
    size_t i;
    const json_t *e;
    json_array_foreach(a, i, e)
    {
        char at[64];
        snprintf(at, sizeof at, "%s[%zu]", key, i);
        if (!json_is_object(e)) {
            fail(c, at, "must be an object");
            return;
        }
        for (int k = 0; required[k]; k++)
            text(c, e, required[k], at, true);
        for (int k = 0; optional && optional[k]; k++)
            text(c, e, optional[k], at, false);
    }
}

static void check_strings(struct check *c, const json_t *obj, const char *key, const char *at)
{
    char path[96];
    snprintf(path, sizeof path, "%s%s%s", at, *at ? "." : "", key);
    const json_t *a = need(c, obj, key, path, false);
    if (a && !json_is_array(a)) {
        fail(c, path, "must be an array of strings");
        return;
    }
    size_t i;
    const json_t *s;
    json_array_foreach(a, i, s)
    {
        if (!json_is_string(s) || json_string_length(s) == 0) {
            char p[128];
            snprintf(p, sizeof p, "%s[%zu]", path, i);
            fail(c, p, "must be a non-empty string");
        }
    }
}

static void check_offer(struct check *c, const json_t *root)
{
    const json_t *o = object(c, root, "offer", "", false);
    const char *parts[] = {"trial", "demo"}, *nums[] = {"days", "minutes"};
    for (int i = 0; i < 2; i++) {
        char at[32], path[64];
        snprintf(at, sizeof at, "offer.%s", parts[i]);
        const json_t *part = object(c, o, parts[i], "offer", false);
        if (!part)
            continue;
        text(c, part, "text", at, true);
        const json_t *n = json_object_get(part, nums[i]);
        snprintf(path, sizeof path, "%s.%s", at, nums[i]);
        if (!n)
            fail(c, path, "required");
        else if (!json_is_integer(n) || json_integer_value(n) < 1 || json_integer_value(n) > 365)
            fail(c, path, "must be a whole number from 1 to 365");
    }
}

static void check_replies(struct check *c, const json_t *root)
{
    const json_t *r = object(c, root, "replies", "", true);
    if (!r)
        return;
    if (!json_is_object(json_object_get(r, "en")))
        fail(c, "replies.en", "required (English is the fallback's language)");
    const char *lang;
    const json_t *set;
    json_object_foreach((json_t *)r, lang, set)
    {
        char at[64];
        snprintf(at, sizeof at, "replies.%s", lang);
        if (strlen(lang) != 2 || !islower((unsigned char)lang[0]) ||
            !islower((unsigned char)lang[1])) {
            fail(c, at, "must be a two-letter ISO 639-1 code in lower case");
            return;
        }
        if (!json_is_object(set)) {
            fail(c, at, "must be an object {intent: reply}");
            return;
        }
        const char *intent;
        const json_t *t;
        json_object_foreach((json_t *)set, intent, t)
        {
            const char *tmpl = text(c, set, intent, at, true);
            char why[160], path[128];
            if (tmpl && sa_template_check(tmpl, why, sizeof why)) {
                snprintf(path, sizeof path, "%s.%s", at, intent);
                fail(c, path, why);
            }
        }
    }
    if (!json_is_string(json_object_get(json_object_get(r, "en"), "other")))
        fail(c, "replies.en.other", "required (the reply when no other fits)");
}

static int validate(const json_t *d, struct check *c)
{
    if (!json_is_object(d)) {
        fail(c, "(root)", "must be an object");
        return c->rc;
    }
    const json_t *co = object(c, d, "company", "", true);
    text(c, co, "name", "company", true);
    text(c, co, "postal_address", "company", true);
    const char *site = text(c, co, "website", "company", false);
    if (site && !is_url(site))
        fail(c, "company.website", "must be an http(s):// URL");
    const json_t *pr = object(c, d, "product", "", true);
    text(c, pr, "name", "product", true);
    text(c, pr, "value_proposition", "product", true);
    check_points(c, d, "value_points");
    check_points(c, d, "pain_points");
    check_pricing(c, d);
    static const char *const cs_req[] = {"customer", "result", NULL},
                             *cs_opt[] = {"industry", NULL};
    check_list(c, d, "case_studies", cs_req, cs_opt);
    static const char *const comp_req[] = {"name", "positioning", NULL};
    check_list(c, d, "competitors", comp_req, NULL);
    check_strings(c, d, "proof_points", "");
    check_strings(c, d, "integrations", "");
    const json_t *sec = object(c, d, "security", "", false);
    if (sec) {
        text(c, sec, "summary", "security", true);
        check_strings(c, sec, "certifications", "security");
    }
    const json_t *snd = object(c, d, "sender", "", true);
    text(c, snd, "name", "sender", true);
    text(c, snd, "title", "sender", true);
    const char *email = text(c, snd, "email", "sender", true);
    if (email && !sa_email_valid(email))
        fail(c, "sender.email", "must be an e-mail address");
    const char *link = text(c, d, "meeting_link", "", true);
    if (link && !is_url(link))
        fail(c, "meeting_link", "must be an http(s):// URL");
    check_offer(c, d);
    check_replies(c, d);
    return c->rc;
}

int sa_profile_parse(const json_t *doc, const char *name, struct sa_profile **out,
                     struct sa_err *err)
{
    *out = NULL;
    struct check c = {.name = name, .err = err};
    int rc = validate(doc, &c);
    if (rc)
        return rc;
    struct sa_profile *p = calloc(1, sizeof *p);
    if (!p || !(p->doc = json_deep_copy(doc))) {
        free(p);
        return sa_err_set(err, SA_ENOMEM, "out of memory");
    }
    *out = p;
    return 0;
}

int sa_profile_load(const char *path, struct sa_profile **out, struct sa_err *err)
{
    *out = NULL;
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return sa_err_set(err, SA_ECONFIG, "%s: line %d: %s", name, je.line, je.text);
    int rc = sa_profile_parse(doc, name, out, err);
    json_decref(doc);
    return rc;
}

void sa_profile_free(struct sa_profile *p)
{
    if (!p)
        return;
    json_decref(p->doc);
    free(p);
}

int sa_profile_override(struct sa_profile *p, const char *sender_name, const char *sender_title,
                        const char *sender_email, const char *meeting_link, struct sa_err *err)
{
    if (sender_email && !sa_email_valid(sender_email))
        return sa_err_set(err, SA_ECONFIG, "SENDER_EMAIL=%.100s: expected an e-mail address",
                          sender_email);
    if (meeting_link && !is_url(meeting_link))
        return sa_err_set(err, SA_ECONFIG, "MEETING_LINK=%.100s: expected an http(s):// URL",
                          meeting_link);
    json_t *snd = json_object_get(p->doc, "sender");
    const char *keys[] = {"name", "title", "email"};
    const char *vals[] = {sender_name, sender_title, sender_email};
    for (int i = 0; i < 3; i++)
        if (vals[i] && *vals[i])
            json_object_set_new(snd, keys[i], json_string(vals[i]));
    if (meeting_link)
        json_object_set_new(p->doc, "meeting_link", json_string(meeting_link));
    return 0;
}

const json_t *sa_profile_json(const struct sa_profile *p)
{
    return p->doc;
}

const char *sa_profile_str(const struct sa_profile *p, const char *path)
{
    const json_t *v = p->doc;
    char key[64];
    while (v && *path) {
        size_t n = strcspn(path, ".");
        snprintf(key, sizeof key, "%.*s", (int)(n < 63 ? n : 63), path);
        v = json_object_get(v, key);
        path += n + (path[n] == '.');
    }
    return json_string_value(v);
}

/* obj's value for key compared without case, or NULL. */
static const json_t *get_nocase(const json_t *obj, const char *key)
{
    const char *k;
    const json_t *v;
    if (!key)
        return NULL;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (strcasecmp(k, key) == 0)
            return v;
    }
    return NULL;
}

const char *sa_profile_point(const struct sa_profile *p, const char *kind, const char *persona,
                             const char *industry)
{
    const json_t *o = json_object_get(p->doc, kind);
    const char *v = json_string_value(get_nocase(json_object_get(o, "industries"), industry));
    if (!v)
        v = json_string_value(get_nocase(json_object_get(o, "personas"), persona));
    return v ? v : json_string_value(json_object_get(o, "default"));
}

const json_t *sa_profile_case_study(const struct sa_profile *p, const char *industry)
{
    size_t i;
    const json_t *cs;
    if (!industry)
        return NULL;
    json_array_foreach(json_object_get(p->doc, "case_studies"), i, cs)
    {
        const char *ind = json_string_value(json_object_get(cs, "industry"));
        if (ind && strcasecmp(ind, industry) == 0)
            return cs;
    }
    return NULL;
}

const char *sa_profile_positioning(const struct sa_profile *p, const char *competitor)
{
    size_t i;
    const json_t *c;
    if (!competitor)
        return NULL;
    json_array_foreach(json_object_get(p->doc, "competitors"), i, c)
    {
        const char *n = json_string_value(json_object_get(c, "name"));
        if (n && strcasecmp(n, competitor) == 0)
            return json_string_value(json_object_get(c, "positioning"));
    }
    return NULL;
}

const char *sa_profile_reply(const struct sa_profile *p, const char *lang, const char *intent)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(p->doc, "replies"), lang), intent));
}

/* The words a price list is written with, per language. */
struct words {
    const char *lang, *per_seat, *per_month, *flat, *and, *thousands;
};
static const struct words words_by_lang[] = {
    {"en", "per seat a month", "a month", "one-off", "and", ","},
    {"de", "pro Nutzer und Monat", "pro Monat", "einmalig", "und", "."},
    {"fr", "par utilisateur et par mois", "par mois", "en une fois", "et", " "},
    {"es", "por usuario al mes", "al mes", "pago único", "y", "."},
};

static const struct words *words_for(const char *lang)
{
    for (size_t i = 0; i < sizeof words_by_lang / sizeof words_by_lang[0]; i++)
        if (lang && strcmp(words_by_lang[i].lang, lang) == 0)
            return &words_by_lang[i];
    return &words_by_lang[0];
}

/* "$49", "€1,200", "90 CHF": whole amounts without decimals, thousands grouped. */
static void money(double v, const char *cur, const char *thousands, char *out, size_t n)
{
    char digits[32], num[48];
    bool whole = v == (double)(long long)v;
    snprintf(digits, sizeof digits, "%lld", (long long)v);
    size_t len = strlen(digits), w = 0;
    for (size_t i = 0; i < len && w + 4 < sizeof num; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            w += (size_t)snprintf(num + w, sizeof num - w, "%s", thousands);
        num[w++] = digits[i];
    }
    num[w] = '\0';
    if (!whole)
        snprintf(num, sizeof num, "%.2f", v);
    const char *sym = strcmp(cur, "USD") == 0   ? "$"
                      : strcmp(cur, "EUR") == 0 ? "€"
                      : strcmp(cur, "GBP") == 0 ? "£"
                                                : NULL;
    if (sym)
        snprintf(out, n, "%s%s", sym, num);
    else
        snprintf(out, n, "%s %s", num, cur);
}

/* "Team ($39 per seat a month) and Growth ($69 per seat a month)", in w's words. */
static char *price_list(const json_t *plans, const struct words *w)
{
    struct sa_buf b;
    sa_buf_init(&b, 4096);
    size_t i, n = json_array_size(plans);
    const json_t *plan;
    int rc = 0;
    json_array_foreach(plans, i, plan)
    {
        char m[48];
        const char *unit = json_string_value(json_object_get(plan, "unit"));
        money(json_number_value(json_object_get(plan, "price")),
              json_string_value(json_object_get(plan, "currency")), w->thousands, m, sizeof m);
        const char *sep = i == 0 ? "" : i + 1 == n ? " " : ", ";
        const char *uw = strcmp(unit, "per_seat") == 0    ? w->per_seat
                         : strcmp(unit, "per_month") == 0 ? w->per_month
                                                          : w->flat;
        rc = rc ? rc
                : sa_buf_printf(&b, "%s%s%s%s (%s %s)", sep, i > 0 && i + 1 == n ? w->and : "",
                                i > 0 && i + 1 == n ? " " : "",
                                json_string_value(json_object_get(plan, "name")), m, uw);
    }
    char *s = rc ? NULL : sa_buf_steal(&b, NULL);
    sa_buf_free(&b);
    return s;
}

static void set(json_t *vars, const char *k, const char *v)
{
    if (v && *v)
        json_object_set_new(vars, k, json_string(v));
}

static void join(json_t *vars, const char *k, const json_t *list, const struct words *w)
{
    struct sa_buf b;
    sa_buf_init(&b, 4096);
    size_t i, n = json_array_size(list);
    const json_t *s;
    int rc = 0;
    json_array_foreach(list, i, s)
    {
        if (i > 0)
            rc = rc ? rc : sa_buf_puts(&b, i + 1 == n ? " " : ", ");
        if (i > 0 && i + 1 == n)
            rc = rc ? rc : sa_buf_printf(&b, "%s ", w->and);
        rc = rc ? rc : sa_buf_puts(&b, json_string_value(s));
    }
    char *t = rc || n == 0 ? NULL : sa_buf_steal(&b, NULL);
    sa_buf_free(&b);
    set(vars, k, t);
    free(t);
}

void sa_profile_vars(const struct sa_profile *p, const char *lang, json_t *vars)
{
    const struct words *w = words_for(lang);
    set(vars, "product_name", sa_profile_str(p, "product.name"));
    set(vars, "seller_name", sa_profile_str(p, "company.name"));
    set(vars, "value_proposition", sa_profile_str(p, "product.value_proposition"));
    set(vars, "sender_name", sa_profile_str(p, "sender.name"));
    set(vars, "sender_title", sa_profile_str(p, "sender.title"));
    set(vars, "sender_email", sa_profile_str(p, "sender.email"));
    set(vars, "meeting_link", sa_profile_str(p, "meeting_link"));
    set(vars, "postal_address", sa_profile_str(p, "company.postal_address"));
    const json_t *pricing = json_object_get(p->doc, "pricing");
    const json_t *plans = json_object_get(pricing, "plans");
    if (json_is_true(json_object_get(pricing, "on_request")) || !json_array_size(plans)) {
        set(vars, "pricing_on_request", "yes");
    } else {
        char *pl = price_list(plans, w);
        set(vars, "price_list", pl);
        free(pl);
    }
    const json_t *trial = json_object_get(json_object_get(p->doc, "offer"), "trial");
    const json_t *demo = json_object_get(json_object_get(p->doc, "offer"), "demo");
    char n[32];
    if (trial) {
        snprintf(n, sizeof n, "%lld",
                 (long long)json_integer_value(json_object_get(trial, "days")));
        set(vars, "trial_days", n);
        set(vars, "trial_offer", json_string_value(json_object_get(trial, "text")));
    }
    if (demo) {
        snprintf(n, sizeof n, "%lld",
                 (long long)json_integer_value(json_object_get(demo, "minutes")));
        set(vars, "demo_minutes", n);
        set(vars, "demo_offer", json_string_value(json_object_get(demo, "text")));
    }
    join(vars, "integrations", json_object_get(p->doc, "integrations"), w);
    const json_t *sec = json_object_get(p->doc, "security");
    set(vars, "security_summary", json_string_value(json_object_get(sec, "summary")));
    join(vars, "certifications", json_object_get(sec, "certifications"), w);
    set(vars, "proof_point",
        json_string_value(json_array_get(json_object_get(p->doc, "proof_points"), 0)));
}
