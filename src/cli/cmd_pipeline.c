/* `sales-agent pipeline`: runs the agent pipeline on one lead from a JSON file (or
 * stdin), stores it, and prints the lead id, thread id and the pipeline's output. */
#include <stdio.h>
#include <stdlib.h>

#include "app/app.h"
#include "app/invoke.h"
#include "cli/cli.h"
#include "domain/lead.h"

static int pipeline(const struct sa_config *cfg, const struct sa_cli_args *args)
{
    json_t *input = sa_cli_read_json(args->pos[0]);
    if (!input)
        return 1;
    json_t *detail = json_array();
    struct sa_lead lead;
    if (sa_lead_parse(input, "", &lead, detail)) {
        char *d = json_dumps(detail, JSON_INDENT(2));
        fprintf(stderr, "sales-agent: invalid lead:\n%s\n", d ? d : "");
        free(d);
        json_decref(detail);
        json_decref(input);
        return 1;
    }
    json_decref(detail);
    struct sa_err err = {0};
    struct sa_app *app;
    int rc = 1;
    if (sa_app_open(cfg, &app, &err)) {
        rc = sa_cli_fail(&err);
    } else {
        struct sa_invoke_req req = {.type = SA_AGENT_PIPELINE, .lead = &lead};
        struct sa_invoke_res res;
        if (sa_app_invoke(app, &req, &res, &err)) {
            fprintf(stderr, "sales-agent: pipeline: %s\n", err.msg);
        } else {
            json_t *out = json_pack("{s:s, s:s, s:O}", "lead_id", res.lead_id, "thread_id",
                                    res.thread_id, "output", res.output);
            char *text = json_dumps(out, JSON_INDENT(2));
            puts(text ? text : "{}");
            free(text);
            json_decref(out);
            sa_invoke_res_clear(&res);
            rc = 0;
        }
        sa_app_close(app);
    }
    sa_lead_clear(&lead);
    json_decref(input);
    return rc;
}

const struct sa_cli_command sa_cli_pipeline = {
    .name = "pipeline",
    .args = "LEAD.json",
    .nargs = 1,
    .summary = "run the agent pipeline on a lead from a JSON file (or -), store it, print it",
    .help = "Runs the agent pipeline (qualification, enrichment, growth, marketing, bdr) on\n"
            "the lead in LEAD.json (- reads stdin), stores the lead and its run, and prints\n"
            "{lead_id, thread_id, output}. The BDR step stops at its human approval.",
    .settings = SA_CMD_PIPELINE,
    .run = pipeline,
};
