/* `sales-agent export`: writes the stored leads as CSV (the columns the import reads) to a
 * file or stdout, a page of leads at a time. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/export.h"
#include "app/leads.h"
#include "cli/cli.h"

enum { BOM = 1u << 0 }; /* switches[] below, in order */
enum { OPT_TIER, OPT_MIN_SCORE, OPT_Q, OPT_SORT };

static const struct sa_cli_switch switches[] = {
    {"--bom", "start with a UTF-8 byte order mark, so Excel reads the file as UTF-8"},
    {NULL, NULL},
};

static const struct sa_cli_option options[] = {
    {"--tier", "TIER", "only leads of tier A, B, C or D"},
    {"--min-score", "N", "only leads scoring at least N (0-100)"},
    {"--q", "TEXT", "only leads whose company, contact, e-mail or industry contain TEXT"},
    {"--sort", "ORDER", "score, -score, created_at, -created_at or company (default: id order)"},
    {NULL, NULL, NULL},
};

/* Checks the options into o; prints the problem and returns false when one is bad. */
static bool read_options(const struct sa_cli_args *args, struct sa_export_opts *o)
{
    const char *tier = args->opt[OPT_TIER], *min = args->opt[OPT_MIN_SCORE];
    *o = (struct sa_export_opts){.tier = tier,
                                 .min_score = -1,
                                 .search = args->opt[OPT_Q],
                                 .bom = (args->switches & BOM) != 0,
                                 .sort = args->opt[OPT_SORT]};
    if (o->sort && !sa_app_lead_sort_valid(o->sort)) {
        fprintf(stderr, "sales-agent: --sort: expected " SA_LEAD_SORT_NAMES ", got \"%s\"\n",
                o->sort);
        return false;
    }
    if (tier && (strlen(tier) != 1 || tier[0] < 'A' || tier[0] > 'D')) {
        fprintf(stderr, "sales-agent: --tier: expected A, B, C or D, got \"%s\"\n", tier);
        return false;
    }
    if (min) {
        char *end = NULL;
        errno = 0;
        long v = strtol(min, &end, 10);
        if (errno || end == min || *end || v < 0 || v > 100) {
            fprintf(stderr, "sales-agent: --min-score: expected 0 to 100, got \"%s\"\n", min);
            return false;
        }
        o->min_score = (int)v;
    }
    if (o->search && (!*o->search || strlen(o->search) > 800)) {
        fprintf(stderr, "sales-agent: --q: expected 1 to 200 characters\n");
        return false;
    }
    return true;
}

static int export(const struct sa_config *cfg, const struct sa_cli_args *args)
{
    struct sa_export_opts o;
    if (!read_options(args, &o))
        return 2;
    const char *path = args->npos > 0 && args->pos[0] ? args->pos[0] : "-";
    struct sa_err err = {0};
    struct sa_app *app;
    if (sa_app_open(cfg, &app, &err))
        return sa_cli_fail(&err);
    struct sa_export *x = NULL;
    int rc = sa_export_open(app->store, &o, &x, &err);
    FILE *f = NULL;
    if (!rc) {
        f = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
        if (!f)
            rc = sa_err_set(&err, SA_EIO, "%s", strerror(errno));
    }
    char buf[65536];
    ssize_t n = 0;
    while (!rc && (n = sa_export_read(x, buf, sizeof buf, &err)) > 0)
        if (fwrite(buf, 1, (size_t)n, f) != (size_t)n)
            rc = sa_err_set(&err, SA_EIO, "%s", strerror(errno));
    if (!rc && n < 0)
        rc = err.code ? err.code : SA_ESTORE;
    bool closed = !f || (f == stdout ? fflush(stdout) == 0 : fclose(f) == 0);
    if (!closed && !rc)
        rc = sa_err_set(&err, SA_EIO, "%s", strerror(errno));
    if (rc)
        fprintf(stderr, "sales-agent: export to %s: %s\n", path, err.msg);
    else if (f != stdout)
        fprintf(stderr, "sales-agent: %zu leads written to %s\n", sa_export_rows(x), path);
    sa_export_free(x);
    sa_app_close(app);
    return rc ? 1 : 0;
}

const struct sa_cli_command sa_cli_export = {
    .name = "export",
    .args = "[FILE.csv|-]",
    .nargs = 1,
    .optional = 1,
    .summary = "write the stored leads as CSV (RFC 4180, UTF-8) to a file or stdout",
    .help = "Writes the leads (filtered by --tier, --min-score, --q) to FILE.csv, or to stdout\n"
            "for - or no FILE: one row per lead under the column names `sales-agent import`\n"
            "reads, extra fields after them; cells starting with = + - @ get a leading '\n"
            "so a spreadsheet does not run them as formulas.",
    .settings = SA_CMD_IMPORT,
    .switches = switches,
    .options = options,
    .run = export,
};
