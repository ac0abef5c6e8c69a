/* `sales-agent inbound [FILE.eml]`: one received e-mail (stdin, or a file) through the
 * inbound mail service (app/inbound.h), as POST /api/inbound/email does without HTTP: for a
 * procmail/fetchmail pipe or an MTA's pipe transport. Prints what happened as JSON. Exit
 * status follows sysexits, which MTAs read: 0 done (a duplicate too), 65 (EX_DATAERR) a
 * message that cannot be read (the MTA bounces it), 75 (EX_TEMPFAIL) anything else
 * (the MTA keeps it and retries). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/inbound.h"
#include "base/buf.h"
#include "cli/cli.h"
#include "connectors/mail/mime.h"

#define EX_DATAERR_ 65
#define EX_TEMPFAIL_ 75

/* Reads all of f into b (capped at SA_MIME_MAX_BYTES). */
static int read_all(FILE *f, struct sa_buf *b)
{
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (sa_buf_append(b, chunk, n))
            return SA_ETOOBIG;
    return ferror(f) ? SA_EIO : 0;
}

static int inbound(const struct sa_config *cfg, const struct sa_cli_args *args)
{
    const char *path = args->npos ? args->pos[0] : NULL;
    FILE *f = path && strcmp(path, "-") != 0 ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "sales-agent: inbound: cannot open %s\n", path);
        return EX_TEMPFAIL_;
    }
    struct sa_buf b;
    sa_buf_init(&b, SA_MIME_MAX_BYTES);
    int rc = read_all(f, &b);
    if (f != stdin)
        fclose(f);
    if (rc) {
        fprintf(stderr, "sales-agent: inbound: %s\n",
                rc == SA_ETOOBIG ? "the message is larger than 25 MB" : "cannot read the message");
        sa_buf_free(&b);
        return rc == SA_ETOOBIG ? EX_DATAERR_ : EX_TEMPFAIL_;
    }
    struct sa_err err = {0};
    struct sa_app *app = NULL;
    int status = EX_TEMPFAIL_;
    if (sa_app_open(cfg, &app, &err)) {
        (void)sa_cli_fail(&err);
    } else {
        json_t *out = NULL;
        rc = sa_app_inbound(app, b.data ? b.data : "", b.len, &out, &err);
        if (rc) {
            fprintf(stderr, "sales-agent: inbound: %s\n", err.msg);
            status = rc == SA_EINVAL || rc == SA_ETOOBIG ? EX_DATAERR_ : EX_TEMPFAIL_;
        } else {
            char *text = json_dumps(out, JSON_INDENT(2));
            puts(text ? text : "{}");
            free(text);
            json_decref(out);
            status = 0;
        }
        sa_app_close(app);
    }
    sa_buf_free(&b);
    return status;
}

const struct sa_cli_command sa_cli_inbound = {
    .name = "inbound",
    .args = "[FILE.eml]",
    .nargs = 1,
    .optional = 1,
    .summary = "process one received e-mail (a reply, bounce or auto-reply) from stdin or a file",
    .help = "Reads one raw RFC 5322 message (stdin, or FILE.eml; - is stdin), matches it to\n"
            "the lead and thread it answers, and acts on it as POST /api/inbound/email does:\n"
            "a reply becomes a conversation turn, a hard bounce makes the address\n"
            "do-not-contact, an out-of-office reply moves the follow-ups. Prints the outcome\n"
            "as JSON. For a pipe (procmail, fetchmail --mda, a Postfix pipe transport).\n"
            "Exit status: 0 done (a message seen before changes nothing), 65 the message\n"
            "cannot be read, 75 a temporary failure (the MTA should retry).",
    .settings = SA_CMD_INBOUND,
    .run = inbound,
};
