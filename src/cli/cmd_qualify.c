/* `sales-agent qualify`: scores one lead from a JSON file (or stdin) with the scoring
 * model alone, no database, and prints the result. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "domain/lead.h"
#include "domain/scoring.h"

static int qualify(const struct sa_config *cfg, const struct sa_cli_args *args)
{
    struct sa_err err = {0};
    struct sa_model *model;
    if (sa_model_load(cfg->data_dir, &model, &err))
        return sa_cli_fail(&err);
    json_t *input = sa_cli_read_json(args->pos[0]);
    if (!input) {
        sa_model_free(model);
        return 1;
    }
    json_t *detail = json_array();
    struct sa_lead lead;
    int rc = 1;
    if (sa_lead_parse(input, "", &lead, detail)) {
        char *d = json_dumps(detail, JSON_INDENT(2));
        fprintf(stderr, "sales-agent: invalid lead:\n%s\n", d ? d : "");
        free(d);
    } else {
        struct sa_score s;
        sa_model_score(model, &lead, &s);
        json_t *out = sa_score_to_json(model, &s);
        char *text = json_dumps(out, JSON_INDENT(2));
        puts(text ? text : "{}");
        free(text);
        json_decref(out);
        sa_lead_clear(&lead);
        rc = 0;
    }
    json_decref(detail);
    json_decref(input);
    sa_model_free(model);
    return rc;
}

const struct sa_cli_command sa_cli_qualify = {
    .name = "qualify",
    .args = "LEAD.json",
    .nargs = 1,
    .summary = "score a lead from a JSON file (or - for stdin) and print the result",
    .help = "Scores the lead in LEAD.json (- reads stdin) with the scoring model in DATA_DIR\n"
            "and prints the score, tier and reasoning; stores nothing.",
    .settings = SA_CMD_QUALIFY,
    .run = qualify,
};
