/* `sales-agent keys`: API keys from the command line (create, list, revoke), on the same
 * database the server uses. A new key is printed alone on the last line of stdout, so
 * `KEY=$(sales-agent keys create ... | tail -n 1)` captures it. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/access.h"
#include "cli/cli.h"
#include "store/store.h"

enum { OPT_NAME, OPT_SCOPES, OPT_EXPIRES };

static const struct sa_cli_option options[] = {
    {"--name", "NAME", "create: who or what uses the key (required)"},
    {"--scopes", "LIST", "create: read,write,approve,admin,inbound (admin includes the rest)"},
    {"--expires-at", "TIME", "create: UTC expiry such as 2027-01-31T00:00:00Z (default never)"},
    {NULL, NULL, NULL},
};

/* "cli:USER": who ran the command, for the key's created_by and the audit log. */
static void local_principal(char *out, size_t cap)
{
    const struct passwd *pw = getpwuid(getuid());
    snprintf(out, cap, "cli:%s", pw && pw->pw_name ? pw->pw_name : "unknown");
}

static int print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(j);
    if (!s)
        return 1;
    puts(s);
    free(s);
    return 0;
}

static int run_keys(struct sa_access *a, const struct sa_cli_args *args)
{
    const char *verb = args->pos[0];
    struct sa_err err = {0};
    json_t *out = NULL;
    char who[160];
    local_principal(who, sizeof who);
    double now = sa_access_now(a);
    int rc;
    if (strcmp(verb, "create") == 0) {
        if (args->npos != 1 || !args->opt[OPT_NAME] || !args->opt[OPT_SCOPES]) {
            fprintf(stderr, "usage: sales-agent keys create --name NAME --scopes LIST "
                            "[--expires-at TIME]\n");
            return 2;
        }
        rc = sa_access_key_create(a, args->opt[OPT_NAME], args->opt[OPT_SCOPES],
                                  args->opt[OPT_EXPIRES], who, now, &out, &err);
        if (rc) {
            fprintf(stderr, "sales-agent: %s\n", err.msg);
            return rc == SA_EINVAL ? 2 : 1;
        }
        json_t *detail = json_pack("{s:O, s:O}", "name", json_object_get(out, "name"), "scopes",
                                   json_object_get(out, "scopes"));
        if (sa_access_audit(a, who, "key.create", json_string_value(json_object_get(out, "id")),
                            "cli", detail, now, &err))
            fprintf(stderr, "sales-agent: warning: audit record not written: %s\n", err.msg);
        json_decref(detail);
        char scopes[64] = "";
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(out, "scopes"), i, s)
            snprintf(scopes + strlen(scopes), sizeof scopes - strlen(scopes), "%s%s", i ? "," : "",
                     json_string_value(s));
        printf("created key %s \"%s\" (scopes %s); it is shown only now:\n%s\n",
               json_string_value(json_object_get(out, "id")),
               json_string_value(json_object_get(out, "name")), scopes,
               json_string_value(json_object_get(out, "key")));
        json_decref(out);
        return 0;
    }
    if (strcmp(verb, "list") == 0 && args->npos == 1) {
        if (sa_access_key_list(a, &out, &err))
            return sa_cli_fail(&err);
        return print_json(out);
    }
    if (strcmp(verb, "revoke") == 0 && args->npos == 2) {
        bool changed = false;
        rc = sa_access_key_revoke(a, args->pos[1], now, &out, &changed, &err);
        if (rc) {
            fprintf(stderr, "sales-agent: %s\n", err.msg);
            return rc == SA_ENOTFOUND ? 1 : sa_cli_fail(&err);
        }
        if (changed && sa_access_audit(a, who, "key.revoke", args->pos[1], "cli", NULL, now, &err))
            fprintf(stderr, "sales-agent: warning: audit record not written: %s\n", err.msg);
        return print_json(out);
    }
    fprintf(stderr, "usage: sales-agent keys create --name NAME --scopes LIST | keys list | "
                    "keys revoke ID\n");
    return 2;
}

static int keys(const struct sa_config *cfg, const struct sa_cli_args *args)
{
    struct sa_err err = {0};
    struct sa_store *store = NULL;
    struct sa_access *access = NULL;
    if (sa_store_open(cfg->database_url, 1, &store, &err) || sa_store_migrate(store, &err) ||
        sa_access_open(cfg, store, &access, &err)) {
        sa_store_close(store);
        return sa_cli_fail(&err);
    }
    int rc = run_keys(access, args);
    sa_access_close(access);
    sa_store_close(store);
    return rc;
}

const struct sa_cli_command sa_cli_keys = {
    .name = "keys",
    .args = "create|list|revoke [ID]",
    .nargs = 2,
    .optional = 1,
    .summary = "create, list or revoke API keys",
    .help = "keys create --name NAME --scopes read,write,approve,admin,inbound [--expires-at TIME]\n"
            "    creates a key and prints it alone on the last line (shown only once; only\n"
            "    its salted SHA-256 hash is stored).\n"
            "keys list      prints every key (never a secret) as JSON.\n"
            "keys revoke ID revokes a key at once (running servers see it within 5 s).",
    .settings = SA_CMD_KEYS,
    .options = options,
    .run = keys,
};
