/* The marketing agent: a campaign strategy by tier and persona, a multi-channel plan
 * (e-mail, LinkedIn, phone) with a cadence in days, and personalised content rendered from
 * the templates in data/templates/ with the lead's, enrichment's and growth's facts. A
 * variable with no value is an error listed in the output and its message is withheld:
 * never a blank in a message sent to a prospect. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agent.h"
#include "domain/lead.h"
#include "domain/scoring.h"
#include "base/buf.h"

struct marketing_agent {
    struct sa_agent base; /* first */
    const struct sa_model *model;
    const json_t *templates; /* {name: text} */
    const char *sender_name, *sender_title, *meeting_link;
};

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

static const char *pain_point(const char *persona, const char *industry)
{
    if (industry && (strstr(industry, "SaaS") || strstr(industry, "Software")))
        return "reps spending hours a week on research and data entry instead of selling";
    if (industry &&
        (strstr(industry, "Fin") || strstr(industry, "Bank") || strstr(industry, "Insurance")))
        return "long sales cycles with too many hand-offs between teams";
    if (strcmp(persona, "executive") == 0)
        return "pipeline that is hard to forecast and slow to grow";
    return "leads going cold before anyone follows up";
}

static const char *value_prop(const char *persona)
{
    return strcmp(persona, "executive") == 0 ? "a predictable pipeline without adding headcount"
           : strcmp(persona, "manager") == 0
               ? "more first meetings per rep with less manual work"
               : "qualified, researched leads ready to work each morning";
}

static const char *trigger_of(const struct sa_lead *l)
{
    static const struct {
        const char *signal, *phrase;
    } t[] = {{"recent_funding", "your recent funding round"},
             {"hiring_sales", "your growing sales team"},
             {"expansion", "your expansion into new markets"},
             {"new_executive", "the new leadership on your team"},
             {"requested_demo", "your request for a demo"},
             {"pricing_page_visit", "your interest in our pricing"},
             {"webinar_attended", "the webinar you joined"}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        size_t k;
        json_t *s;
        json_array_foreach(l->signals, k,
                           s) if (strcmp(json_string_value(s), t[i].signal) == 0) return t[i]
            .phrase;
    }
    return NULL;
}

static void set_str(json_t *vars, const char *k, const char *v)
{
    if (v && *v)
        json_object_set_new(vars, k, json_string(v));
}

/* The template variables we know for this lead (absent keys are unknown). */
static json_t *variables(const struct marketing_agent *m, const struct sa_lead *l,
                         const json_t *context, const char *persona)
{
    json_t *vars = json_object();
    json_t *company = json_object_get(json_object_get(context, "enrichment"), "company");
    json_t *growth = json_object_get(context, "growth");
    if (l->contact_name) {
        char first[128];
        size_t n = strcspn(l->contact_name, " ");
        snprintf(first, sizeof first, "%.*s", (int)(n < 127 ? n : 127), l->contact_name);
        set_str(vars, "contact_first_name", first);
    }
    set_str(vars, "contact_title", l->contact_title);
    set_str(vars, "company_name", l->company_name);
    const char *industry = json_string_value(json_object_get(company, "industry"));
    if (!industry)
        industry = sa_model_industry(m->model, l->industry);
    set_str(vars, "industry", industry ? industry : l->industry);
    json_t *emp = json_object_get(company, "employees");
    if (json_is_integer(emp)) {
        char e[32];
        snprintf(e, sizeof e, "%lld", (long long)json_integer_value(emp));
        set_str(vars, "employees", e);
    } else if (l->employees_min > 0) {
        char e[32];
        snprintf(e, sizeof e, "%ld", l->employees_min);
        set_str(vars, "employees", e);
    }
    set_str(vars, "city", json_string_value(json_object_get(company, "city")));
    set_str(vars, "country",
            l->country ? l->country : json_string_value(json_object_get(company, "country")));
    set_str(vars, "pain_point", pain_point(persona, industry));
    set_str(vars, "value_prop", value_prop(persona));
    json_t *comp = json_array_get(
        json_object_get(json_object_get(growth, "competitive_landscape"), "competitors"), 0);
    set_str(vars, "competitor", json_string_value(json_object_get(comp, "name")));
    set_str(vars, "trigger", trigger_of(l));
    set_str(vars, "sender_name", m->sender_name);
    set_str(vars, "sender_title", m->sender_title);
    set_str(vars, "meeting_link", m->meeting_link);
    if (industry) {
        char cs[256];
        snprintf(cs, sizeof cs, "how a %s team like yours cut research time by half", industry);
        set_str(vars, "case_study", cs);
    }
    return vars;
}

/* Renders text with vars; every {{name}} without a value is appended to missing and the
 * result is NULL (withheld). Returns a malloc'd string. */
static char *render(const char *text, const json_t *vars, json_t *missing)
{
    struct sa_buf b;
    sa_buf_init(&b, (size_t)64 << 10);
    bool ok = true;
    int rc = 0;
    for (const char *p = text; *p && !rc;) {
        const char *open = strstr(p, "{{");
        if (!open) {
            rc = sa_buf_puts(&b, p);
            break;
        }
        rc = sa_buf_append(&b, p, (size_t)(open - p));
        const char *close = strstr(open + 2, "}}");
        if (!close) {
            rc = rc ? rc : sa_buf_puts(&b, open);
            break;
        }
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(close - open - 2), open + 2);
        const char *v = json_string_value(json_object_get(vars, name));
        if (v) {
            rc = rc ? rc : sa_buf_puts(&b, v);
        } else {
            ok = false;
            bool seen = false;
            size_t i;
            json_t *x;
            json_array_foreach(missing, i, x) seen |= strcmp(json_string_value(x), name) == 0;
            if (!seen)
                json_array_append_new(missing, json_string(name));
        }
        p = close + 2;
    }
    if (rc || !ok) {
        sa_buf_free(&b);
        return NULL;
    }
    return sa_buf_steal(&b, NULL);
}

/* {subject?, body} of a rendered template, or {missing: [...]} when withheld. */
static json_t *message(const char *tmpl, const char *text, const json_t *vars, json_t *errors)
{
    json_t *missing = json_array();
    char *out = render(text, vars, missing);
    json_t *m;
    if (!out) {
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
    m->sender_name = deps->sender_name;
    m->sender_title = deps->sender_title;
    m->meeting_link = deps->meeting_link;
    return &m->base;
}
