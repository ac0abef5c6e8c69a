/* `sales-agent import`: imports leads from a CSV file (CRM export columns), qualifies
 * and stores them, and prints the import report. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "app/import.h"
#include "base/charset.h"
#include "cli/cli.h"

enum { PARTIAL = 1u << 0 }; /* switches[] below, in order */

static const struct sa_cli_switch switches[] = {
    {"--partial", "import the valid rows, report the others (default: all or nothing)"},
    {NULL, NULL},
};

enum { OPT_CHARSET, OPT_MAP }; /* options[] below, in order */

static const struct sa_cli_option options[] = {
    {"--charset", "CHARSET",
     "the file's encoding when not UTF-8: windows-1252, latin1, iso-8859-15"},
    {"--map", "FILE.json", "a column map {\"Their Column\": \"company_name\", ...}"},
    {NULL, NULL, NULL},
};

static void progress_bar(enum sa_import_phase phase, size_t done, size_t total, void *arg)
{
    (void)arg;
    if (total == 0 || (done % 100 != 0 && done != total))
        return;
    int width = 40, filled = (int)((double)done / (double)total * width);
    fprintf(stderr, "\r%-9s [%.*s%*s] %3d%% %zu/%zu rows",
            phase == SA_IMPORT_CHECKING ? "checking" : "importing", filled,
            "========================================", width - filled, "",
            (int)(100.0 * (double)done / (double)total), done, total);
    if (done == total)
        fputc('\n', stderr);
}

/* The file's bytes, mapped read-only. */
struct text {
    const char *data;
    size_t len;
};

static void text_unmap(struct text *t)
{
    if (t->data)
        munmap((void *)t->data, t->len);
    *t = (struct text){0};
}

static int import(const struct sa_config *cfg, const struct sa_cli_args *args)
{
    const char *path = args->pos[0];
    /* mapped, not copied: the file's pages are the kernel's to drop, so a file of any
     * size costs the import its row index, not its bytes in the heap */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "sales-agent: %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return 1;
    }
    if (!S_ISREG(st.st_mode) || st.st_size == 0) { /* a directory, or nothing to import */
        fprintf(stderr, "sales-agent: %s: %s\n", path,
                S_ISDIR(st.st_mode)   ? "is a directory; name a CSV file"
                : S_ISREG(st.st_mode) ? "the file is empty; export the CSV with a header row"
                                      : "not a regular file; name a CSV file");
        close(fd);
        return 1;
    }
    size_t size = (size_t)st.st_size;
    void *map_text = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (map_text == MAP_FAILED) {
        fprintf(stderr, "sales-agent: %s: %s\n", path, strerror(errno));
        return 1;
    }
    if (map_text)
        (void)madvise(map_text, size, MADV_SEQUENTIAL);
    struct text b = {.data = map_text, .len = size};
    int rc = 0;
    struct sa_import_format fmt = {.charset = args->opt[OPT_CHARSET], .detail = json_array()};
    if (fmt.charset && !sa_charset_known(fmt.charset)) {
        fprintf(stderr,
                "sales-agent: --charset %s: use utf-8, windows-1252, latin1 or "
                "iso-8859-15\n",
                fmt.charset);
        text_unmap(&b);
        json_decref(fmt.detail);
        return 2;
    }
    json_t *map = NULL;
    if (args->opt[OPT_MAP]) {
        json_error_t jerr;
        map = json_load_file(args->opt[OPT_MAP], JSON_REJECT_DUPLICATES, &jerr);
        if (!map || sa_import_map_check(map, fmt.detail)) {
            fprintf(stderr, "sales-agent: %s: %s\n", args->opt[OPT_MAP],
                    map ? json_string_value(json_object_get(json_array_get(fmt.detail, 0), "msg"))
                        : jerr.text);
            text_unmap(&b);
            json_decref(map);
            json_decref(fmt.detail);
            return 2;
        }
        fmt.map = map;
    }
    struct sa_err err = {0};
    struct sa_app *app;
    if (sa_app_open(cfg, &app, &err)) {
        text_unmap(&b);
        json_decref(map);
        json_decref(fmt.detail);
        return sa_cli_fail(&err);
    }
    json_t *report = NULL;
    rc = sa_app_import_csv_as(app, &fmt, b.data ? b.data : "", b.len, args->switches & PARTIAL,
                              isatty(2) ? progress_bar : NULL, NULL, &report, &err);
    text_unmap(&b);
    json_decref(map);
    size_t i;
    json_t *d;
    bool said = false; /* the error is one of the problems printed: not printed twice */
    json_array_foreach(fmt.detail, i, d)
    {
        const char *msg = json_string_value(json_object_get(d, "msg"));
        fprintf(stderr, "sales-agent: %s: %s\n", path, msg ? msg : "");
        said |= rc && msg && strcmp(msg, err.msg) == 0;
    }
    json_decref(fmt.detail);
    if (report) {
        char *text = json_dumps(report, JSON_INDENT(2));
        puts(text ? text : "{}");
        free(text);
        json_decref(report);
    }
    if (rc && !said)
        fprintf(stderr, "sales-agent: %s: %s\n", path, err.msg);
    sa_app_close(app);
    return rc ? 1 : 0;
}

const struct sa_cli_command sa_cli_import = {
    .name = "import",
    .args = "FILE.csv",
    .nargs = 1,
    .summary = "import leads from a CSV file (CRM export columns), qualify and store them",
    .help = "Imports the leads in FILE.csv (columns such as Company, First Name, Last Name,\n"
            "Job Title, Email, Website, Industry, Employees, Tags), validates, qualifies and\n"
            "stores them (duplicates merge), and prints the report. HubSpot, Salesforce,\n"
            "Pipedrive and Apollo export columns are recognised; --map adds your own.",
    .settings = SA_CMD_IMPORT,
    .switches = switches,
    .options = options,
    .run = import,
};
