/* rag/cli_eval.c: `rag eval`: runs queries through search and scores the
 * rankings against relevance judgments (see rag/eval.h for the semantics). */
#include "base/mem.h"
#include "rag/cli.h"
#include "rag/eval.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "usage: rag eval --queries Q.tsv --qrels R.tsv [--run OUT.trec] [-k N] [--as ROLE,...] [--json]\n"
    "\n"
    "Runs every query of Q.tsv (qid<TAB>text) through keyword search (one\n"
    "result per document, depth N, default 1000), optionally writes a TREC run\n"
    "file, and prints MAP, nDCG@10, Recall@100, P@10 and MRR as trec_eval\n"
    "computes them against R.tsv (qid<TAB>docid<TAB>grade, or TREC qrels).\n"
    "A document's id is the explicit id given at ingest (--id), else its file\n"
    "name without the extension.\n";

/* The id a run file uses for a document. */
static char *run_docid(const store_hit *h)
{
    if (h->ext_id) return rag_xstrdup(h->ext_id);
    const char *base = strrchr(h->uri, '/');
    base = base ? base + 1 : h->uri;
    const char *dot = strrchr(base, '.');
    return rag_xstrndup(base, dot && dot != base ? (size_t)(dot - base) : strlen(base));
}

int rag_cli_eval(int argc, char **argv)
{
    static const struct option opts[] = {
        {"queries", required_argument, NULL, 'Q'}, {"qrels", required_argument, NULL, 'R'},
        {"run", required_argument, NULL, 'o'},     RAG_CLI_COMMON_OPTIONS,
        {0, 0, 0, 0}};
    rag_cli cli = {.cmd = "eval"};
    const char *qpath = NULL, *rpath = NULL, *runpath = NULL;
    long k = 1000;
    int c, rc;
    while ((c = getopt_long(argc, argv, "k:qh", opts, NULL)) != -1) {
        if (rag_cli_common_opt(&cli, c, optarg)) continue;
        switch (c) {
        case 'Q': qpath = optarg; break;
        case 'R': rpath = optarg; break;
        case 'o': runpath = optarg; break;
        case 'k': {
            char *end;
            k = strtol(optarg, &end, 10);
            if (end == optarg || *end || k < 1 || k > 100000)
                return rag_cli_usage_error(&cli, "-k: '%s' is not a number from 1 to 100000", optarg);
            break;
        }
        case 'h': fputs(usage, stdout); return RAG_EXIT_OK;
        default: return rag_cli_usage_error(&cli, "unknown option");
        }
    }
    if (!qpath || !rpath) return rag_cli_usage_error(&cli, "--queries and --qrels are required");
    rc = rag_cli_setup(&cli, 1);
    if (rc) {
        rag_cli_teardown(&cli);
        return rc;
    }
    rag_err err = {0};
    rag_strv qids = {0}, qtexts = {0};
    ragd_qrels qrels = {0};
    FILE *run = NULL;
    if (ragd_queries_load(qpath, &qids, &qtexts, &err) || ragd_qrels_load(rpath, &qrels, &err)) {
        rc = rag_cli_fail(&cli, &err);
        goto out;
    }
    if (runpath && !(run = fopen(runpath, "w"))) {
        rag_err_sys(&err, errno, "%s", runpath);
        rc = rag_cli_fail(&cli, &err);
        goto out;
    }
    store_search_params sp;
    store_search_default_params(&sp);
    sp.k = (size_t)k;
    sp.per_document = 1;
    sp.want_snippet = 0;
    ragd_metrics sum = {0};
    size_t n_eval = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; i < qids.n; i++) {
        store_hits hits;
        if (store_search_keyword(cli.st, qtexts.v[i], &cli.who, &sp, &hits, &err)) {
            rc = rag_cli_fail(&cli, &err);
            goto out;
        }
        size_t n = hits.n;
        ragd_ranked *r = rag_xcalloc(n ? n : 1, sizeof *r);
        for (size_t j = 0; j < n; j++) r[j] = (ragd_ranked){run_docid(&hits.v[j]), hits.v[j].score};
        store_hits_free(&hits);
        ragd_metrics m;
        ragd_eval_query(&qrels, qids.v[i], r, n, &m); /* also sorts r as trec_eval reads it */
        if (run)
            for (size_t j = 0; j < n; j++)
                fprintf(run, "%s Q0 %s %zu " RAGD_RUN_SCORE_FMT " rag\n", qids.v[i], r[j].docid,
                        j + 1, r[j].score);
        if (ragd_qrels_n_relevant(&qrels, qids.v[i]) > 0) {
            n_eval++;
            sum.map += m.map;
            sum.ndcg10 += m.ndcg10;
            sum.recall100 += m.recall100;
            sum.p10 += m.p10;
            sum.mrr += m.mrr;
        }
        for (size_t j = 0; j < n; j++) rag_free(r[j].docid);
        rag_free(r);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double d = n_eval ? (double)n_eval : 1;
    if (cli.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "MAP", sum.map / d);
        cJSON_AddNumberToObject(j, "nDCG@10", sum.ndcg10 / d);
        cJSON_AddNumberToObject(j, "Recall@100", sum.recall100 / d);
        cJSON_AddNumberToObject(j, "P@10", sum.p10 / d);
        cJSON_AddNumberToObject(j, "MRR", sum.mrr / d);
        cJSON_AddNumberToObject(j, "queries", (double)n_eval);
        cJSON_AddNumberToObject(j, "queries_run", (double)qids.n);
        cJSON_AddNumberToObject(j, "seconds", secs);
        rag_cli_print_json(j);
    } else {
        printf("queries     %zu evaluated (%zu run, %zu with relevant judgments), %.2f s\n", n_eval,
               qids.n, n_eval, secs);
        printf("MAP         %.4f\nnDCG@10     %.4f\nRecall@100  %.4f\nP@10        %.4f\nMRR         %.4f\n",
               sum.map / d, sum.ndcg10 / d, sum.recall100 / d, sum.p10 / d, sum.mrr / d);
    }
    if (n_eval == 0) rag_cli_error(&cli, "no query of %s has a relevant judgment in %s", qpath, rpath);
out:
    if (run && fclose(run) != 0 && !rc) {
        rag_err_sys(&err, errno, "%s", runpath);
        rc = rag_cli_fail(&cli, &err);
    }
    rag_strv_free(&qids);
    rag_strv_free(&qtexts);
    ragd_qrels_free(&qrels);
    rag_cli_teardown(&cli);
    return rc;
}
