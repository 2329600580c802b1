/* cli/eval.c: `rag eval`: runs queries through search and scores the
 * rankings against relevance judgments (see rag/eval.h for the semantics). */
#include "base/mem.h"
#include "cli/query_int.h"
#include "base/time.h"
#include "rag/eval.h"
#include "rag/retrieve.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: rag eval --queries Q.tsv --qrels R.tsv [--run OUT.trec] [-k N] [--mode M]\n"
    "                [--embed-model F] [--rerank] [--as ROLE,...] [--json]\n"
    "       rag eval --answers FILE.jsonl ...   answer quality ('rag eval --answers F --help')\n"
    "\n"
    "Runs every query of Q.tsv (qid<TAB>text) through retrieval as rag search\n"
    "does it (same stages and settings; one result per document, depth N,\n"
    "default 1000; near-duplicate collapsing off, as judgments are per\n"
    "document), optionally writes a TREC run file, and prints MAP, nDCG@10,\n"
    "Recall@100, P@10 and MRR as trec_eval computes them against R.tsv\n"
    "(qid<TAB>docid<TAB>grade, or TREC qrels). A document's id is the explicit\n"
    "id given at ingest (--id), else its file name without the extension.\n"
    "\n"
    "  --mode MODE       keyword, vector or hybrid (default: search.mode, else\n"
    "                    hybrid when vectors exist)\n"
    "  --embed-model F   the embedding model (default $RAG_EMBED_MODEL, then embed.model)\n"
    "  --rerank          rerank with the cross-encoder (--rerank-model F, $RAG_RERANK_MODEL,\n"
    "                    rerank.model); --rerank-top N candidates (default 30)\n";

int cli_eval(int argc, char **argv)
{
    enum { O_MODE = 1000, O_EMODEL, O_RERANK, O_RMODEL, O_RTOP };
    static const struct option opts[] = {{"queries", required_argument, NULL, 'Q'},
                                         {"qrels", required_argument, NULL, 'R'},
                                         {"run", required_argument, NULL, 'o'},
                                         {"mode", required_argument, NULL, O_MODE},
                                         {"embed-model", required_argument, NULL, O_EMODEL},
                                         {"rerank", no_argument, NULL, O_RERANK},
                                         {"rerank-model", required_argument, NULL, O_RMODEL},
                                         {"rerank-top", required_argument, NULL, O_RTOP},
                                         CLI_COMMON_OPTIONS,
                                         {0, 0, 0, 0}};
    for (int i = 1; i < argc; i++) /* answers, not rankings */
        if (!strcmp(argv[i], "--answers") || !strncmp(argv[i], "--answers=", 10))
            return cli_eval_answers(argc, argv);
    cli_ctx cli = {.cmd = "eval"};
    const char *qpath = NULL, *rpath = NULL, *runpath = NULL;
    long k = 1000;
    int c, rc;
    while ((c = getopt_long(argc, argv, "k:qh", opts, NULL)) != -1) {
        if (cli_common_opt(&cli, c, optarg)) continue;
        switch (c) {
        case 'Q':
            qpath = optarg;
            break;
        case 'R':
            rpath = optarg;
            break;
        case 'o':
            runpath = optarg;
            break;
        case O_MODE:
            cli_flag(&cli, "search.mode", optarg, "--mode");
            break;
        case O_EMODEL:
            cli_flag(&cli, "embed.model", optarg, "--embed-model");
            break;
        case O_RERANK:
            cli_flag(&cli, "search.rerank", "true", "--rerank");
            break;
        case O_RMODEL:
            cli_flag(&cli, "rerank.model", optarg, "--rerank-model");
            break;
        case O_RTOP:
            cli_flag(&cli, "rerank.top", optarg, "--rerank-top");
            break;
        case 'k': { /* the depth of the run, not search.k */
            char *end;
            long v = strtol(optarg, &end, 10);
            if (end == optarg || *end || v < 1 || v > 100000)
                return cli_usage_error(&cli, "-k: '%s' is not a number from 1 to 100000", optarg);
            k = v;
            break;
        }
        case 'h':
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(&cli, "unknown option");
        }
    }
    if (!qpath || !rpath) return cli_usage_error(&cli, "--queries and --qrels are required");
    rc = cli_setup(&cli, 1);
    if (rc) {
        cli_teardown(&cli);
        return rc;
    }
    rag_retrieval_models rt = {0};
    rag_err err = {0};
    rag_strv qids = {0}, qtexts = {0};
    rag_qrels qrels = {0};
    FILE *run = NULL;
    if (rag_queries_load(qpath, &qids, &qtexts, &err) || rag_qrels_load(rpath, &qrels, &err)) {
        rc = cli_fail(&cli, &err);
        goto out;
    }
    if (runpath && !(run = fopen(runpath, "w"))) {
        rag_err_sys(&err, errno, "%s", runpath);
        rc = cli_fail(&cli, &err);
        goto out;
    }
    const char *mode = cli_search_mode(&cli);
    if (rag_retrieval_open(&cli.set, cli.st, mode, cli.set.search.rerank ? RAG_RETRIEVAL_RERANK : 0,
                           &rt, &err)) {
        rc = cli_fail(&cli, &err);
        goto out;
    }
    if (rt.note && !cli.quiet) cli_error(&cli, "%s", rt.note);
    rag_retrieve_params rp; /* as rag search retrieves, but every chunk of a document counts once */
    rag_retrieve_settings(&cli.set, mode, &rp);
    rp.k = (size_t)k;
    rp.keyword = rt.keyword;
    rp.vector = rt.embedder != NULL;
    rp.per_document = 1;
    rp.dedupe = 0;
    rp.want_snippet = 0;
    rag_metrics sum = {0};
    size_t n_eval = 0;
    double t0 = rag_now_s();
    for (size_t i = 0; i < qids.n; i++) {
        rag_results hits;
        if (rag_retrieve(cli.st, rt.embedder, rt.reranker, qtexts.v[i], &cli.who, &rp, &hits,
                         &err)) {
            rc = cli_fail(&cli, &err);
            goto out;
        }
        size_t n = hits.n;
        rag_ranked *r = rag_xcalloc(n ? n : 1, sizeof *r);
        for (size_t j = 0; j < n; j++)
            r[j] = (rag_ranked){cli_doc_id(&hits.v[j].hit), hits.v[j].score};
        rag_results_free(&hits);
        rag_metrics m;
        rag_eval_query(&qrels, qids.v[i], r, n, &m); /* also sorts r as trec_eval reads it */
        if (run)
            for (size_t j = 0; j < n; j++)
                fprintf(run, "%s Q0 %s %zu " RAG_RUN_SCORE_FMT " rag\n", qids.v[i], r[j].docid,
                        j + 1, r[j].score);
        if (rag_qrels_n_relevant(&qrels, qids.v[i]) > 0) {
            n_eval++;
            sum.map += m.map;
            sum.ndcg10 += m.ndcg10;
            sum.recall100 += m.recall100;
            sum.p10 += m.p10;
            sum.mrr += m.mrr;
        }
        for (size_t j = 0; j < n; j++)
            rag_free(r[j].docid);
        rag_free(r);
    }
    double secs = rag_now_s() - t0;
    double d = n_eval ? (double)n_eval : 1;
    if (cli.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "mode", rag_retrieval_mode(&rt));
        if (rt.reranker) cJSON_AddBoolToObject(j, "rerank", 1);
        cJSON_AddNumberToObject(j, "MAP", sum.map / d);
        cJSON_AddNumberToObject(j, "nDCG@10", sum.ndcg10 / d);
        cJSON_AddNumberToObject(j, "Recall@100", sum.recall100 / d);
        cJSON_AddNumberToObject(j, "P@10", sum.p10 / d);
        cJSON_AddNumberToObject(j, "MRR", sum.mrr / d);
        cJSON_AddNumberToObject(j, "queries", (double)n_eval);
        cJSON_AddNumberToObject(j, "queries_run", (double)qids.n);
        cJSON_AddNumberToObject(j, "seconds", secs);
        cli_print_json(j);
    } else {
        printf("retrieval   %s%s\n", rag_retrieval_mode(&rt), rt.reranker ? ", reranked" : "");
        printf("queries     %zu evaluated (%zu run, %zu with relevant judgments), %.2f s\n", n_eval,
               qids.n, n_eval, secs);
        printf("MAP         %.4f\nnDCG@10     %.4f\nRecall@100  %.4f\nP@10        %.4f\nMRR        "
               " %.4f\n",
               sum.map / d, sum.ndcg10 / d, sum.recall100 / d, sum.p10 / d, sum.mrr / d);
    }
    if (n_eval == 0) cli_error(&cli, "no query of %s has a relevant judgment in %s", qpath, rpath);
out:
    if (run && fclose(run) != 0 && !rc) {
        rag_err_sys(&err, errno, "%s", runpath);
        rc = cli_fail(&cli, &err);
    }
    rag_retrieval_close(&rt);
    rag_strv_free(&qids);
    rag_strv_free(&qtexts);
    rag_qrels_free(&qrels);
    cli_teardown(&cli);
    return rc;
}
