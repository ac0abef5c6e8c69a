/* The marketing agent: a campaign strategy by tier and persona, a multi-channel plan
 * (e-mail, LinkedIn, phone) with a cadence in days, and personalised content rendered from
 * the templates in data/templates/ (domain/template.h) with the product profile's and the
 * lead's, enrichment's and growth's facts. An optional fact with no value drops its
 * sentence; a required one withholds its message, listed in the output's errors: never a
 * blank in a message sent to a prospect.
 *
 * With a model configured (LLM_PROVIDER), the sequence's e-mails are personalised from
 * the rules' drafts and the same facts, in one call: the model may rewrite them, but an
 * answer that names a company or person, states a figure or carries a link or address
 * that neither the facts nor the drafts hold is dropped for the drafts, all of them
 * (agents/llm_use.h).
 * Either way a person approves the e-mail before it leaves (the BDR workflow). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agent.h"
#include "agents/llm_use.h"
#include "domain/contact.h"
#include "domain/lead.h"
#include "domain/profile.h"
#include "domain/scoring.h"
#include "domain/template.h"

struct marketing_agent {
    struct sa_agent base; /* first */
    const struct sa_model *model;
    const json_t *templates;          /* {name: text} */
    const struct sa_profile *profile; /* the product, the seller, the sender */
    struct sa_llm_use *llm;           /* NULL or not configured: the templates alone */
};

static const char personalise_task[] =
    "You personalise a B2B sales e-mail sequence to one prospect: the first e-mail and its "
    "follow-ups. Start from the drafts, which rules wrote from the facts: keep each one's "
    "offer, call to action, links, meeting time and signature, and make it more specific to "
    "this prospect using the facts. Plain text, no markdown, at most 150 words each; "
    "subjects at most 90 characters. Answer with one object keyed by the drafts' names. Name "
    "only companies, people, figures, prices and links that the facts or the drafts state: "
    "never invent a customer, a result, a price or a link.";

/* One touch of the cadence: day, channel, template. */
struct touch {
    int day;
    const char *channel, *action, *tmpl;
};

static const struct touch cadence_a[] = {
    {0, "email", "Personal intro from the account executive", "email_intro_A"},
    {1, "linkedin", "Connection request", "linkedin_connect"},
    {2, "phone", "Discovery call", "call_script"},
    {3, "email", "Follow-up with a case study", "email_followup_1"},
    {5, "linkedin", "Message after connecting", "linkedin_message"},
    {7, "email", "Second follow-up", "email_followup_2"},
    {12, "email", "Break-up e-mail", "email_breakup"},
    {0, NULL, NULL, NULL}};
static const struct touch cadence_b[] = {
    {0, "email", "Consultative intro", "email_intro_B"},
    {2, "linkedin", "Connection request", "linkedin_connect"},
    {4, "email", "Follow-up with a case study", "email_followup_1"},
    {5, "phone", "Discovery call", "call_script"},
    {9, "email", "Second follow-up", "email_followup_2"},
    {16, "email", "Break-up e-mail", "email_breakup"},
    {0, NULL, NULL, NULL}};
static const struct touch cadence_c[] = {
    {0, "email", "Educational intro", "email_intro_C"},
    {7, "email", "Follow-up with a case study", "email_followup_1"},
    {21, "email", "Second follow-up", "email_followup_2"},
    {0, NULL, NULL, NULL}};
static const struct touch cadence_d[] = {
    {0, "email", "Nurture: educational intro", "email_intro_C"}, {0, NULL, NULL, NULL}};

/* A sentence about the lead's strongest signal; the first signal listed wins. */
static const char *trigger_of(const struct sa_lead *l)
{
    static const struct {
        const char *signal, *sentence;
    } t[] = {{"requested_demo", "Thank you for requesting a demo."},
             {"webinar_attended", "Thank you for joining our webinar."},
             {"pricing_page_visit", "Thanks for taking a look at our pricing."},
             {"recent_funding", "Congratulations on your recent funding round."},
             {"hiring_sales", "I noticed that you are growing your sales team."},
             {"expansion", "I saw that you are expanding into new markets."},
             {"new_executive", "I saw that your sales team has new leadership."}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        size_t k;
        json_t *s;
        json_array_foreach(l->signals, k, s)
        {
            if (strcmp(json_string_value(s) ?: "", t[i].signal) == 0)
                return t[i].sentence;
        }
    }
    return NULL;
}

static bool has_signal(const struct sa_lead *l, const char *signal)
{
    size_t k;
    json_t *s;
    json_array_foreach(l->signals, k, s)
    {
        if (strcmp(json_string_value(s) ?: "", signal) == 0)
            return true;
    }
    return false;
}

static void set_str(json_t *vars, const char *k, const char *v)
{
    if (v && *v)
        json_object_set_new(vars, k, json_string(v));
}

/* "Northbeam, a 120-person SaaS company, cut ... ." from a profile case study. */
static void case_study(json_t *vars, const json_t *cs)
{
    if (!cs)
        return;
    const char *who = json_string_value(json_object_get(cs, "customer"));
    const char *what = json_string_value(json_object_get(cs, "result"));
    size_t n = strlen(what);
    char text[1024];
    snprintf(text, sizeof text, "%s %s%s", who, what, n && strchr(".!?", what[n - 1]) ? "" : ".");
    set_str(vars, "case_study", text);
}

/* The template variables we know for this lead (absent keys are unknown). */
static json_t *variables(const struct marketing_agent *m, const struct sa_lead *l,
                         const json_t *context, const char *persona)
{
    json_t *vars = json_object();
    sa_profile_vars(m->profile, "en", vars);
    json_t *company = json_object_get(json_object_get(context, "enrichment"), "company");
    json_t *growth = json_object_get(context, "growth");
    char first[128];
    if (sa_contact_first_name(l->contact_name, first, sizeof first))
        json_object_set_new(vars, "contact_first_name", json_string(first));
    set_str(vars, "contact_title", l->contact_title);
    set_str(vars, "company_name", l->company_name);
    const char *industry = json_string_value(json_object_get(company, "industry"));
    const char *canonical = sa_model_industry(m->model, industry ? industry : l->industry);
    if (canonical)
        industry = canonical;
    else if (!industry)
        industry = l->industry;
    set_str(vars, "industry", industry);
    json_t *emp = json_object_get(company, "employees");
    char e[32] = ""; /* a head count, not a size band's lower bound */
    if (json_is_integer(emp) && json_integer_value(emp) > 0)
        snprintf(e, sizeof e, "%lld", (long long)json_integer_value(emp));
    set_str(vars, "employees", e);
    set_str(vars, "city", json_string_value(json_object_get(company, "city")));
    set_str(vars, "country",
            l->country ? l->country : json_string_value(json_object_get(company, "country")));
    set_str(vars, "persona", persona);
    set_str(vars, "pain_point", sa_profile_point(m->profile, "pain_points", persona, industry));
    set_str(vars, "value_point", sa_profile_point(m->profile, "value_points", persona, industry));
    case_study(vars, sa_profile_case_study(m->profile, industry));
    json_t *comp = json_array_get(
        json_object_get(json_object_get(growth, "competitive_landscape"), "competitors"), 0);
    const char *competitor = json_string_value(json_object_get(comp, "name"));
    set_str(vars, "competitor", competitor);
    set_str(vars, "competitor_positioning", sa_profile_positioning(m->profile, competitor));
    set_str(vars, "trigger_sentence", trigger_of(l));
    if (has_signal(l, "requested_demo"))
        set_str(vars, "demo_requested", "yes");
    /* the proposed meeting's time, when the meeting work has put one in the context */
    set_str(vars, "meeting_time_local",
            json_string_value(json_object_get(json_object_get(context, "meeting"), "time_local")));
    return vars;
}

/* {subject?, body} of a rendered template, or {ready: false, missing: [...]} when a
 * required fact is missing (each one listed in errors with the reason). */
static json_t *message(const char *tmpl, const char *text, const json_t *vars, json_t *errors)
{
    json_t *missing = json_array();
    char *out = NULL;
    int rc = sa_template_render(text, vars, &out, missing);
    json_t *m;
    if (rc) {
        size_t i;
        json_t *x;
        json_array_foreach(missing, i, x)
        {
            char msg[160];
            snprintf(msg, sizeof msg, "no value for {{%s}}: message withheld",
                     json_string_value(x));
            json_array_append_new(
                errors, json_pack("{s:s, s:O, s:s}", "template", tmpl, "variable", x, "msg", msg));
        }
        if (json_array_size(missing) == 0)
            json_array_append_new(errors, json_pack("{s:s, s:s}", "template", tmpl, "msg",
                                                    "the template could not be rendered"));
        m = json_pack("{s:b, s:O}", "ready", 0, "missing", missing);
    } else if (strncmp(out, "Subject:", 8) == 0) {
        const char *nl = strchr(out, '\n');
        const char *subj = out + 8;
        while (*subj == ' ')
            subj++;
        size_t sl = nl ? (size_t)(nl - subj) : strlen(subj);
        const char *body = nl ? nl + 1 : "";
        while (*body == '\n')
            body++;
        m = json_pack("{s:b, s:s%, s:s}", "ready", 1, "subject", subj, sl, "body", body);
    } else {
        m = json_pack("{s:b, s:s}", "ready", 1, "body", out);
    }
    free(out);
    json_decref(missing);
    return m;
}

/* The sequence's ready e-mails (cad's e-mail touches), each rewritten by the model in one
 * call; on any failure every one stays the draft. Marks each message and out with the
 * engine that wrote it. */
static void personalise(struct marketing_agent *m, const struct sa_lead *lead, const json_t *vars,
                        const struct touch *cad, json_t *content, json_t *out)
{
    json_t *drafts = json_object(), *required = json_array(), *props = json_object();
    for (const struct touch *t = cad; t->channel; t++) {
        json_t *msg = json_object_get(content, t->tmpl);
        if (strcmp(t->channel, "email") != 0 || !json_is_true(json_object_get(msg, "ready")) ||
            json_object_get(drafts, t->tmpl))
            continue;
        json_object_set_new(drafts, t->tmpl,
                            json_pack("{s:O?, s:O}", "subject", json_object_get(msg, "subject"),
                                      "body", json_object_get(msg, "body")));
        json_array_append_new(required, json_string(t->tmpl));
        json_object_set_new(
            props, t->tmpl,
            json_pack("{s:s, s:b, s:[s, s], s:{s:{s:s, s:i, s:i}, s:{s:s, s:i, s:i}}}", "type",
                      "object", "additionalProperties", 0, "required", "subject", "body",
                      "properties", "subject", "type", "string", "minLength", 3, "maxLength", 90,
                      "body", "type", "string", "minLength", 40, "maxLength", 1500));
    }
    if (json_object_size(drafts) == 0) { /* nothing ready to personalise */
        json_decref(drafts);
        json_decref(required);
        json_decref(props);
        return;
    }
    json_t *schema = json_pack("{s:s, s:b, s:o, s:o}", "type", "object", "additionalProperties", 0,
                               "required", required, "properties", props);
    json_t *notes = json_pack("{s:O?, s:O?}", "signals", json_object_get(lead->raw, "signals"),
                              "notes", json_object_get(lead->raw, "notes"));
    const struct sa_llm_block blocks[] = {{"facts", vars, 600, true},
                                          {"drafts", drafts, 4000, true},
                                          {"lead_notes", notes, 2000, false}};
    struct sa_llm_result res = {0};
    enum sa_llm_failure why = SA_LLM_FAIL_REQUEST_REFUSED;
    int rc = notes && schema
                 ? sa_llm_use_ask(m->llm, SA_AGENT_MARKETING, personalise_task, blocks, 3, schema,
                                  "email_sequence", SA_LLM_USE_NAMES_COPY, false, &res, &why)
                 : SA_ENOMEM;
    const char *tmpl;
    json_t *draft;
    json_object_foreach(drafts, tmpl, draft)
    {
        json_t *msg = json_object_get(content, tmpl);
        json_t *mine = json_object_get(res.json, tmpl);
        if (!rc) {
            json_object_set(msg, "rules_draft", draft);
            if (json_object_get(draft, "subject")) /* a draft without one stays without */
                json_object_set(msg, "subject", json_object_get(mine, "subject"));
            json_object_set(msg, "body", json_object_get(mine, "body"));
        }
        sa_llm_use_mark(m->llm, msg, &res, rc == 0, why);
    }
    sa_llm_use_mark(m->llm, out, &res, rc == 0, why);
    json_decref(drafts);
    json_decref(notes);
    json_decref(schema);
    sa_llm_result_clear(&res);
}

static int marketing_run(struct sa_agent *a, const struct sa_lead *lead, const json_t *context,
                         json_t **output, struct sa_err *err)
{
    struct marketing_agent *m = (struct marketing_agent *)a;
    json_t *q = json_object_get(context, "qualification");
    const char *tier = json_string_value(json_object_get(q, "tier"));
    if (!tier)
        return sa_err_set(err, SA_EINVAL, "marketing needs the lead's qualification first");
    const char *seniority = sa_model_seniority(m->model, lead->contact_title);
    const char *persona =
        !seniority                                                                ? "practitioner"
        : strcmp(seniority, "C-level") == 0 || strcmp(seniority, "VP") == 0       ? "executive"
        : strcmp(seniority, "director") == 0 || strcmp(seniority, "manager") == 0 ? "manager"
                                                                                  : "practitioner";
    const struct touch *cad = tier[0] == 'A'   ? cadence_a
                              : tier[0] == 'B' ? cadence_b
                              : tier[0] == 'C' ? cadence_c
                                               : cadence_d;
    static const char *const approaches[] = {
        "Account-based: executive outreach across channels within 24 hours",
        "Consultative sequence: lead with their pain and a relevant case study",
        "Nurture: educational content until a buying signal appears",
        "Long-term nurture only: no rep time"};
    json_t *vars = variables(m, lead, context, persona);
    json_t *errors = json_array(), *plan = json_array(), *content = json_object();
    for (const struct touch *t = cad; t->channel; t++) {
        json_array_append_new(plan,
                              json_pack("{s:i, s:s, s:s, s:s}", "day", t->day, "channel",
                                        t->channel, "action", t->action, "template", t->tmpl));
        if (json_object_get(content, t->tmpl))
            continue;
        const char *text = json_string_value(json_object_get(m->templates, t->tmpl));
        if (!text) {
            json_array_append_new(errors, json_pack("{s:s, s:s}", "template", t->tmpl, "msg",
                                                    "template file missing"));
            continue;
        }
        json_object_set_new(content, t->tmpl, message(t->tmpl, text, vars, errors));
    }
    size_t touches = json_array_size(plan);
    int last_day =
        touches ? (int)json_integer_value(json_object_get(json_array_get(plan, touches - 1), "day"))
                : 0;
    *output = json_pack("{s:{s:s, s:s, s:s, s:s}, s:o, s:{s:I, s:i}, s:o, s:o, s:o}", "strategy",
                        "tier", tier, "persona", persona, "approach",
                        approaches[tier[0] - 'A' < 4 && tier[0] >= 'A' ? tier[0] - 'A' : 3], "goal",
                        tier[0] <= 'B' ? "book a first meeting" : "earn engagement", "channels",
                        plan, "cadence", "touches", (json_int_t)touches, "duration_days", last_day,
                        "content", content, "variables", vars, "errors", errors);
    if (*output && sa_llm_use_enabled(m->llm))
        personalise(m, lead, vars, cad, content, *output);
    return *output ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
}

static void marketing_destroy(struct sa_agent *a)
{
    free(a);
}

static const struct sa_agent_ops marketing_ops = {
    .name = "marketing",
    .input_schema = sa_schema_lead_input,
    .output_schema = sa_schema_marketing_output,
    .description = "Campaign strategy, multi-channel cadence and personalised content",
    .run = marketing_run,
    .destroy = marketing_destroy,
};

struct sa_agent *sa_marketing_new(const struct sa_agent_deps *deps)
{
    struct marketing_agent *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->base.ops = &marketing_ops;
    m->model = deps->model;
    m->templates = deps->templates;
    m->profile = deps->profile;
    m->llm = deps->llm;
    return &m->base;
}
