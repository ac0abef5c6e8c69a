/* The qualification agent: scores a lead with the loaded model (domain/scoring.h).
 * Stateless apart from the shared, immutable model, so concurrent runs need no lock. */
#include <stdlib.h>

#include "agents/agent.h"
#include "domain/lead.h"
#include "domain/scoring.h"

struct qualification_agent {
    struct sa_agent base; /* first */
    const struct sa_model *model;
};

static int qualification_run(struct sa_agent *a, const struct sa_lead *lead, const json_t *context,
                             json_t **output, struct sa_err *err)
{
    (void)context;
    struct qualification_agent *q = (struct qualification_agent *)a;
    struct sa_score s;
    sa_model_score(q->model, lead, &s);
    *output = sa_score_to_json(q->model, &s);
    return *output ? 0 : sa_err_set(err, SA_ENOMEM, "out of memory");
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
    .destroy = qualification_destroy,
};

struct sa_agent *sa_qualification_new(const struct sa_model *model)
{
    struct qualification_agent *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->base.ops = &qualification_ops;
    q->model = model;
    return &q->base;
}
