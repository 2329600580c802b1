/* cli/rerank.c: `rag rerank`: relevance scores of passages from a
 * cross-encoder (a stable interface for operators and test harnesses). */
#include "base/mem.h"
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>

static const char rerank_usage[] =
    "usage: rag rerank [-m MODEL] [--json] QUERY PASSAGE...\n"
    "       rag rerank [-m MODEL] [--json] --ids PAIR...\n"
    "\n"
    "Prints one relevance score per PASSAGE (one per line, higher is more\n"
    "relevant) from a cross-encoder. MODEL defaults to $RAG_RERANK_MODEL, then\n"
    "rerank.model in the config. With --ids, each PAIR is the token ids of a\n"
    "whole pair, separated by spaces (as 'rag tokenize --pair' prints them),\n"
    "scored as they are: to feed two models the same ids.\n";

/* "0 17 2 2 5 2" into t; 0 on success. */
static int parse_ids(const char *s, llm_tokens *t)
{
    while (*s) {
        char *end;
        errno = 0;
        long id = strtol(s, &end, 10);
        if (end == s || errno || id < 0 || id > INT32_MAX) return -1;
        if (t->n == t->cap) t->v = rag_xgrow(t->v, &t->cap, t->n + 1, sizeof *t->v);
        t->v[t->n++] = (int32_t)id;
        s = end;
        while (*s == ' ' || *s == '\t' || *s == '\n')
            s++;
    }
    return t->n ? 0 : -1;
}

int cli_rerank(int argc, char **argv)
{
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         {"ids", no_argument, NULL, 'I'},
                                         CLI_COMMON_OPTIONS,
                                         {0, 0, 0, 0}};
    cli_ctx cli = {.cmd = "rerank"};
    const char *role_key = "rerank.model";
    int c, rc, ids = 0;
    while ((c = getopt_long(argc, argv, "m:qh", opts, NULL)) != -1) {
        if (cli_common_opt(&cli, c, optarg)) continue;
        switch (c) {
        case 'm':
            cli_flag(&cli, role_key, optarg, "-m");
            break;
        case 'I':
            ids = 1;
            break;
        case 'h':
            fputs(rerank_usage, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(&cli, "unknown option");
        }
    }
    if (ids && argc - optind < 1) return cli_usage_error(&cli, "give at least one PAIR of ids");
    if (!ids && argc - optind < 2)
        return cli_usage_error(&cli, "give a QUERY and at least one PASSAGE");
    size_t n = (size_t)(argc - optind - !ids);
    llm_tokens *pairs = NULL;
    if (ids) {
        pairs = rag_xcalloc(n, sizeof *pairs);
        for (size_t i = 0; i < n; i++)
            if (parse_ids(argv[optind + (int)i], &pairs[i])) {
                rc = cli_usage_error(&cli, "PAIR %zu is not a list of token ids", i + 1);
                goto out;
            }
    }
    if ((rc = cli_setup(&cli, 0))) goto out;
    if (!cli.set.rerank.model) {
        rc = cli_usage_error(&cli, "no reranker: give -m FILE, RAG_RERANK_MODEL or rerank.model");
        goto out;
    }
    emb_model *m;
    if ((rc = cli_open_embedder(&cli, 1, &m))) goto out;
    float *scores = rag_xmalloc(n * sizeof *scores);
    rag_err err = {0};
    if (ids ? emb_rerank_ids(m, pairs, n, scores, &err)
            : emb_rerank(m, argv[optind], (const char *const *)argv + optind + 1, n, scores,
                         &err)) {
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
    for (size_t i = 0; pairs && i < n; i++)
        llm_tokens_free(&pairs[i]);
    rag_free(pairs);
    cli_teardown(&cli);
    return rc;
}
