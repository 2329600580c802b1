/* cli/index.c: `rag index rebuild|check`: the vector indexes, made again
 * from the database or compared with it. */
#include "base/time.h"
#include "cli/cli.h"

#include <string.h>
#include <unistd.h>

static const char index_usage[] =
    "usage: rag index rebuild|check [--db PATH] [--json]\n"
    "\n"
    "The vector indexes (one per ACL group, in DB.vectors/) are a cache of the\n"
    "vectors in the database, kept up to date automatically. 'rebuild' makes\n"
    "them again from the database; 'check' compares them with it (exit status\n"
    "1 when they differ; the next search or ingest repairs them).\n";

static void index_progress(void *ctx, size_t done, size_t total)
{
    cli_bar_draw(ctx, "vectors", done, total, 0, -1, 0);
}

int cli_index(int argc, char **argv)
{
    static const struct option opts[] = {CLI_COMMON_OPTIONS, {0, 0, 0, 0}};
    cli_ctx cli = {.cmd = "index"};
    int c, rc;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        if (cli_common_opt(&cli, c, optarg)) continue;
        if (c == 'h') {
            fputs(index_usage, stdout);
            return CLI_EXIT_OK;
        }
        return cli_usage_error(&cli, "unknown option");
    }
    if (argc - optind != 1 || (strcmp(argv[optind], "rebuild") && strcmp(argv[optind], "check")))
        return cli_usage_error(&cli, "say 'index rebuild' or 'index check'");
    if (cli.as_flag)
        return cli_usage_error(&cli,
                               "--as does not apply here: this command is for the administrator");
    int rebuild = !strcmp(argv[optind], "rebuild");
    if ((rc = cli_setup(&cli, 1))) goto out;
    rag_err err = {0};
    if (rebuild) {
        cli_bar bar = {.enabled = isatty(2) && !cli.quiet && !cli.json};
        double t0 = rag_now_s();
        int r = store_vindex_rebuild(cli.st, index_progress, &bar, &err);
        cli_bar_clear(&bar);
        double secs = rag_now_s() - t0;
        if (r) {
            rc = cli_fail(&cli, &err);
            goto out;
        }
        if (cli.json) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddBoolToObject(j, "rebuilt", 1);
            cJSON_AddNumberToObject(j, "seconds", secs);
            cli_print_json(j);
        } else {
            printf("index: rebuilt from %s in %.2f s\n", store_path(cli.st), secs);
        }
    } else {
        rag_strv problems = {0};
        if (store_vindex_check(cli.st, &problems, &err)) {
            rc = cli_fail(&cli, &err);
            goto out;
        }
        if (cli.json) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddBoolToObject(j, "ok", problems.n == 0);
            cJSON *arr = cJSON_AddArrayToObject(j, "problems");
            for (size_t i = 0; i < problems.n; i++)
                cJSON_AddItemToArray(arr, cJSON_CreateString(problems.v[i]));
            cli_print_json(j);
        } else if (!problems.n) {
            printf("ok: the vector indexes match %s\n", store_path(cli.st));
        } else {
            for (size_t i = 0; i < problems.n; i++)
                printf("problem: %s\n", problems.v[i]);
        }
        rc = problems.n ? CLI_EXIT_ERROR : CLI_EXIT_OK;
        rag_strv_free(&problems);
    }
out:
    cli_teardown(&cli);
    return rc;
}
