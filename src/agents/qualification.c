/* The qualification agent: scores a lead with the loaded model (domain/scoring.h). What
 * the lead does not say about its company (industry, size, revenue band, country,
 * website) is taken from the company reference dataset when the company is in it, so a
 * known company is scored on what is known whatever path the lead came by (an invoke, an
 * import, the pipeline); the output lists those fields in enriched_fields, and the lead's
 * own values always win. Stateless apart from the shared, immutable model and dataset, so
 * concurrent runs need no lock.
 *
 * With a model configured (LLM_PROVIDER) it also asks the model for a "narrative": two
 * to four sentences explaining the score to a rep. The score, tier and factors stay the
 * points model's, always: the model gets them as data and only explains them, and a
 * narrative that states a number or names an address its inputs do not hold is dropped
 * (fallback reason invalid_output). The prompt carries the lead's company facts, the
 * contact's title, the signals and the notes; never the contact's e-mail, phone or
 * profile link. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agent.h"
#include "agents/llm_use.h"
#include "domain/contact.h"
#include "domain/dataset.h"
#include "domain/lead.h"
#include "domain/scoring.h"

struct qualification_agent {
    struct sa_agent base; /* first */
    const struct sa_model *model;
    const struct sa_dataset *dataset; /* NULL: score the lead as given */
    struct sa_llm_use *llm;           /* NULL or not configured: no narrative */
};

static const char narrative_task[] =
    "You explain a B2B sales lead's qualification score to a sales representative in two "
    "to four plain sentences. The score, the tier and the factors were computed by rules and "
    "are final: explain what drove them, using the factors' names and points, and never "
    "state another score, tier or figure.";

/* The lead's fields a narrative may use: its company facts and the contact's title
 * (structured: they may be cited), and apart, its signals and notes (free text anyone can
 * write: data, but nothing in them may be cited). Never the contact's e-mail, phone, name
 * or profile link. */
static json_t *narrative_lead(const json_t *raw, bool free_text)
{
    json_t *l = json_object();
    static const char *const facts[] = {"company_name",   "industry", "company_size",
                                        "annual_revenue", "website",  "country"};
    static const char *const texts[] = {"signals", "notes"};
    const char *const *keys = free_text ? texts : facts;
    size_t n = free_text ? 2 : sizeof facts / sizeof facts[0];
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(raw, keys[i]);
        if (v)
            json_object_set(l, keys[i], v);
    }
    json_t *title = json_object_get(json_object_get(raw, "contact_info"), "title");
    if (title && !free_text)
        json_object_set(l, "contact_title", title);
    return l;
}

/* Asks the model for the score's narrative and adds it to out (or the fallback's reason). */
static void add_narrative(struct qualification_agent *q, const struct sa_lead *lead, json_t *out)
{
    json_t *data = narrative_lead(lead->raw, false);
    json_t *text = narrative_lead(lead->raw, true);
    json_t *score =
        json_pack("{s:O, s:O, s:O}", "score", json_object_get(out, "score"), "tier",
                  json_object_get(out, "tier"), "factors", json_object_get(out, "factors"));
    const struct sa_llm_block blocks[] = {{"lead_data", data, 500, true},
                                          {"lead_notes", text, 2000, false},
                                          {"qualification", score, 500, true}};
    sa_llm_use_narrative(q->llm, SA_AGENT_QUALIFICATION, narrative_task, blocks, 3, 800, out);
    json_decref(data);
    json_decref(text);
    json_decref(score);
}

static bool missing(const json_t *in, const char *key)
{
    const json_t *v = json_object_get(in, key);
    return !v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0);
}

/* Sets each field of in that the lead leaves out from company c; returns their names (a
 * new array, maybe empty). */
static json_t *fill_known(json_t *in, const struct sa_company *c)
{
    json_t *filled = json_array();
    const struct {
        const char *key, *value;
    } text[] = {{"industry", c->industry},
                {"annual_revenue", c->revenue_band},
                {"country", c->country},
                {"website", c->domain}};
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++) {
        if (text[i].value && *text[i].value && missing(in, text[i].key)) {
            json_object_set_new(in, text[i].key, json_string(text[i].value));
            json_array_append_new(filled, json_string(text[i].key));
        }
    }
    if (c->employees > 0 && missing(in, "company_size")) {
        json_object_set_new(in, "company_size", json_integer(c->employees));
        json_array_append_new(filled, json_string("company_size"));
    }
    return filled;
}

/* The dataset's company of the lead: by its corporate e-mail or website domain, else by
 * its company name; NULL when unknown or when the lead says everything already. */
static const struct sa_company *known_company(const struct qualification_agent *q,
                                              const struct sa_lead *lead)
{
    if (!q->dataset || (lead->industry && lead->employees_min != SA_UNKNOWN &&
                        lead->annual_revenue != SA_UNKNOWN && lead->country && lead->website))
        return NULL;
    char domain[256];
    const struct sa_company *c = NULL;
    if (sa_lead_domain(lead, q->model, domain, sizeof domain))
        c = sa_dataset_by_domain(q->dataset, domain);
    if (!c && lead->company_name)
        c = sa_dataset_by_name(q->dataset, lead->company_name);
    return c;
}

/* The lead as it is scored: lead, with what it does not say about a known company filled
 * from the dataset (then *known holds it, and *filled lists the fields: free both). */
static const struct sa_lead *scored_lead(const struct qualification_agent *q,
                                         const struct sa_lead *lead, struct sa_lead *known,
                                         json_t **filled)
{
    *filled = NULL;
    const struct sa_company *c = known_company(q, lead);
    if (!c || !lead->raw)
        return lead;
    const struct sa_lead *use = lead;
    json_t *in = json_deep_copy(lead->raw);
    *filled = in ? fill_known(in, c) : NULL;
    json_t *detail = json_array();
    /* a value the lead parser does not take (an unusual revenue band): score the lead as
     * it came */
    if (*filled && json_array_size(*filled) > 0 && sa_lead_parse(in, "", known, detail) == 0)
        use = known;
    json_decref(detail);
    json_decref(in); /* known holds its own reference */
    return use;
}

static int qualification_run(struct sa_agent *a, const struct sa_lead *lead, const json_t *context,
                             json_t **output, struct sa_err *err)
{
    struct qualification_agent *q = (struct qualification_agent *)a;
    struct sa_lead known = {0};
    json_t *filled = NULL;
    const struct sa_lead *use = scored_lead(q, lead, &known, &filled);
    struct sa_score s;
    sa_model_score(q->model, use, &s);
    *output = sa_score_to_json(q->model, &s);
    if (*output && use == &known)
        json_object_set_new(*output, "enriched_fields", json_incref(filled));
    if (*output && sa_llm_use_enabled(q->llm) && lead->raw &&
        !json_is_true(json_object_get(context, "skip_explain")))
        add_narrative(q, use, *output);
    json_decref(filled);
    sa_lead_clear(&known);
    return *output ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}

/* The narrative of the score run gave for lead, from the same lead the score used. */
static void qualification_explain(struct sa_agent *a, const struct sa_lead *lead, json_t *output)
{
    struct qualification_agent *q = (struct qualification_agent *)a;
    if (!sa_llm_use_enabled(q->llm) || !lead->raw || !output)
        return;
    struct sa_lead known = {0};
    json_t *filled = NULL;
    add_narrative(q, scored_lead(q, lead, &known, &filled), output);
    json_decref(filled);
    sa_lead_clear(&known);
}

static void qualification_destroy(struct sa_agent *a)
{
    free(a);
}

static const struct sa_agent_ops qualification_ops = {
    .name = "qualification",
    .input_schema = sa_schema_lead_input,
    .output_schema = sa_schema_qualification_output,
    .description = "Scores a lead 0-100 with tier A-D and the factors behind the score",
    .run = qualification_run,
    .explain = qualification_explain,
    .destroy = qualification_destroy,
};

struct sa_agent *sa_qualification_new(const struct sa_agent_deps *deps)
{
    struct qualification_agent *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->base.ops = &qualification_ops;
    q->model = deps->model;
    q->dataset = deps->dataset;
    q->llm = deps->llm;
    return &q->base;
}
