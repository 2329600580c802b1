/* cli/rerank.c: `rag rerank`: relevance scores of passages from a
 * cross-encoder (a stable interface for operators and test harnesses). */
#include "base/mem.h"
#include "cli/cli.h"

static const char rerank_usage[] =
    "usage: rag rerank [-m MODEL] [--json] QUERY PASSAGE...\n"
    "\n"
    "Prints one relevance score per PASSAGE (one per line, higher is more\n"
    "relevant) from a cross-encoder. MODEL defaults to $RAG_RERANK_MODEL, then\n"
    "rerank.model in the config.\n";

int cli_rerank(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'}, CLI_COMMON_OPTIONS, {0, 0, 0, 0}};
    cli_ctx cli = {.cmd = "rerank"};
    const char *role_key = "rerank.model";
    int c, rc;
    while ((c = getopt_long(argc, argv, "m:qh", opts, NULL)) != -1) {
        if (cli_common_opt(&cli, c, optarg)) continue;
        switch (c) {
        case 'm':
            cli_flag(&cli, role_key, optarg, "-m");
            break;
        case 'h':
            fputs(rerank_usage, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(&cli, "unknown option");
        }
    }
    if (argc - optind < 2) return cli_usage_error(&cli, "give a QUERY and at least one PASSAGE");
    if ((rc = cli_setup(&cli, 0))) goto out;
    if (!cli.set.rerank.model) {
        rc = cli_usage_error(&cli, "no reranker: give -m FILE, RAG_RERANK_MODEL or rerank.model");
        goto out;
    }
    emb_model *m;
    if ((rc = cli_open_embedder(&cli, 1, &m))) goto out;
    size_t n = (size_t)(argc - optind - 1);
    float *scores = rag_xmalloc(n * sizeof *scores);
    rag_err err = {0};
    if (emb_rerank(m, argv[optind], (const char *const *)argv + optind + 1, n, scores, &err)) {
        rc = cli_fail(&cli, &err);
    } else if (cli.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", emb_model_identity(m)->name);
        cJSON_AddItemToObject(j, "scores", cJSON_CreateFloatArray(scores, (int)n));
        cli_print_json(j);
    } else {
        for (size_t i = 0; i < n; i++)
            printf("%.6f\n", scores[i]);
    }
    rag_free(scores);
    emb_model_close(m);
out:
    cli_teardown(&cli);
    return rc;
}
