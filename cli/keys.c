/* cli/keys.c: `rag keys add|list|rm`: the daemon's API keys. */
#include "base/mem.h"
#include "cli/cli.h"
#include "rag/keys.h"

#include <string.h>
#include <time.h>

static const char usage[] =
    "usage: rag keys add NAME --roles ROLE,... [--ingest] [--admin] [--json]\n"
    "       rag keys list [--json]\n"
    "       rag keys rm NAME\n"
    "\n"
    "API keys of the daemon (ragd). 'add' prints the new key once: only its\n"
    "SHA-256 is stored, so it cannot be shown again (remove it and add another).\n"
    "A key sees the documents whose labels meet its roles, and may query;\n"
    "--ingest also lets it add and remove documents; --admin makes it an\n"
    "administrator (sees and may do everything). A running ragd takes changes\n"
    "on SIGHUP.\n";

static char *perms_text(int perms)
{
    if (perms & STORE_PERM_ADMIN) return rag_xstrdup("admin");
    return rag_xasprintf("query%s", perms & STORE_PERM_INGEST ? ",ingest" : "");
}

static int keys_add(cli_ctx *cli, const char *name, const char *roles, int perms)
{
    char key[RAG_KEY_LEN + 1];
    rag_err err = {0};
    if (rag_key_create(cli->st, cli->clu, name, roles, perms, key, &err))
        return cli_fail(cli, &err);
    if (cli->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "name", name);
        cJSON_AddStringToObject(j, "key", key);
        char *p = perms_text(perms);
        cJSON_AddStringToObject(j, "permissions", p);
        rag_free(p);
        cli_print_json(j);
    } else {
        printf("%s\n", key);
        if (!cli->quiet)
            fprintf(stderr,
                    "rag keys: key '%s' created; it is shown only this once. Send it as "
                    "'Authorization: Bearer KEY'.\n",
                    name);
    }
    memset(key, 0, sizeof key);
    return CLI_EXIT_OK;
}

static int keys_list(cli_ctx *cli)
{
    store_key *keys;
    size_t n;
    rag_err err = {0};
    if (cli->clu ? clu_key_list(cli->clu, &keys, &n, &err)
                 : store_key_list(cli->st, &keys, &n, &err))
        return cli_fail(cli, &err);
    cJSON *arr = cli->json ? cJSON_CreateArray() : NULL;
    if (!cli->json && n)
        printf("%-24s %-10s %-14s %-20s %s\n", "NAME", "PREFIX", "PERMISSIONS", "CREATED", "ROLES");
    for (size_t i = 0; i < n; i++) {
        char when[32];
        time_t t = (time_t)keys[i].created_at;
        struct tm tm;
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", gmtime_r(&t, &tm));
        char *p = perms_text(keys[i].perms);
        if (arr) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", keys[i].name);
            cJSON_AddStringToObject(o, "prefix", keys[i].prefix);
            cJSON_AddStringToObject(o, "permissions", p);
            cJSON_AddStringToObject(o, "roles", keys[i].roles);
            cJSON_AddNumberToObject(o, "created_at", (double)keys[i].created_at);
            cJSON_AddItemToArray(arr, o);
        } else {
            printf("%-24s %-10s %-14s %-20s %s\n", keys[i].name, keys[i].prefix, p, when,
                   *keys[i].roles ? keys[i].roles : "-");
        }
        rag_free(p);
    }
    if (arr) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddItemToObject(j, "keys", arr);
        cli_print_json(j);
    } else if (!n) {
        printf("no API keys (add one with 'rag keys add NAME --roles ROLE,...')\n");
    }
    store_keys_free(keys, n);
    return CLI_EXIT_OK;
}

static int keys_rm(cli_ctx *cli, const char *name)
{
    rag_err err = {0};
    int r = cli->clu ? clu_key_delete(cli->clu, name, &err) : store_key_delete(cli->st, name, &err);
    if (r < 0) return cli_fail(cli, &err);
    if (!r) {
        cli_error(cli, "no key named '%s'", name);
        return CLI_EXIT_ERROR;
    }
    if (cli->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "removed", name);
        cli_print_json(j);
    } else if (!cli->quiet) {
        printf("removed key '%s'\n", name);
    }
    return CLI_EXIT_OK;
}

int cli_keys(int argc, char **argv)
{
    enum { O_ROLES = 1000, O_ADMIN, O_INGEST };
    static const struct option opts[] = {{"roles", required_argument, NULL, O_ROLES},
                                         {"admin", no_argument, NULL, O_ADMIN},
                                         {"ingest", no_argument, NULL, O_INGEST},
                                         CLI_COMMON_OPTIONS,
                                         {0, 0, 0, 0}};
    cli_ctx cli = {.cmd = "keys"};
    const char *roles = NULL;
    int perms = STORE_PERM_QUERY, c, rc;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        if (cli_common_opt(&cli, c, optarg)) continue;
        switch (c) {
        case O_ROLES:
            roles = optarg;
            break;
        case O_ADMIN:
            perms |= STORE_PERM_ADMIN | STORE_PERM_INGEST;
            break;
        case O_INGEST:
            perms |= STORE_PERM_INGEST;
            break;
        case 'h':
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(&cli, "unknown option");
        }
    }
    if (cli.as_flag)
        return cli_usage_error(&cli, "--as does not apply here: keys are for the administrator");
    const char *verb = optind < argc ? argv[optind] : "";
    int nargs = argc - optind - 1;
    if (!strcmp(verb, "add")) {
        if (nargs != 1) return cli_usage_error(&cli, "say 'keys add NAME --roles ROLE,...'");
    } else if (!strcmp(verb, "rm")) {
        if (nargs != 1) return cli_usage_error(&cli, "say 'keys rm NAME'");
    } else if (!strcmp(verb, "list")) {
        if (nargs != 0) return cli_usage_error(&cli, "'keys list' takes no arguments");
    } else {
        return cli_usage_error(&cli, "say 'keys add', 'keys list' or 'keys rm'");
    }
    if (strcmp(verb, "add") && (roles || perms != STORE_PERM_QUERY))
        return cli_usage_error(&cli, "--roles, --ingest and --admin go with 'keys add'");
    if ((rc = cli_setup(&cli, CLI_DB_CLUSTER))) goto out;
    if (!strcmp(verb, "add"))
        rc = keys_add(&cli, argv[optind + 1], roles, perms);
    else if (!strcmp(verb, "rm"))
        rc = keys_rm(&cli, argv[optind + 1]);
    else
        rc = keys_list(&cli);
out:
    cli_teardown(&cli);
    return rc;
}
