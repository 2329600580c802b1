/* cli/search.c: `rag search`: keyword search, and vector search when an
 * embedding model is configured and the database holds its vectors, fused,
 * reranked when asked (rag/retrieve.c). */
#include "base/mem.h"
#include "base/time.h"
#include "cli/query_int.h"
#include "rag/relevance.h"
#include "rag/render.h"

#include <string.h>

const char cli_search_usage[] =
    "usage: rag search QUERY... [options]\n"
    "\n"
    "Searches the documents you may see: keyword search (BM25) and, when an\n"
    "embedding model is configured and the database holds its vectors, vector\n"
    "search, fused by reciprocal rank. The query is read as plain words:\n"
    "quotes, operators and punctuation have no special meaning.\n"
    "\n"
    "  -k N              number of results (default 10, or search.k from the config)\n"
    "  --chunks          list every matching chunk, not only the best of each document\n"
    "  --mode MODE       keyword, vector or hybrid (default: hybrid when vectors exist)\n"
    "  --embed-model F   the embedding model (default $RAG_EMBED_MODEL, then embed.model)\n"
    "  --rerank          reorder the best candidates with a cross-encoder (the\n"
    "                    reranker: --rerank-model FILE, else $RAG_RERANK_MODEL, else\n"
    "                    rerank.model in the config)\n"
    "  --rerank-top N    candidates given to the reranker (default rerank.top, else\n"
    "                    the larger of 3k and 30)\n"
    "  --explain         show each stage's rank and score, and the time of each stage\n"
    "  --as ROLE,...     search as a principal with these roles (default: the local\n"
    "                    administrator, who sees everything)\n"
    "  --json            results as JSON\n"
    "  --db PATH, --config FILE   as for 'rag ingest'\n";

/* With colour, snippets mark matched terms with these bytes (which the
 * terminal-safe printing would otherwise escape); print_snippet turns
 * them into the highlight. */
#define HL_OPEN '\x01'
#define HL_CLOSE '\x02'

/* Snippets come with highlight markers; their line breaks and runs of
 * spaces become single spaces; other control characters are shown
 * escaped (cli_put_safe). */
static void print_snippet(const char *s)
{
    rag_buf b = {0};
    int space = 0;
    fputs("   ", stdout);
    for (;; s++) {
        if (*s == HL_OPEN || *s == HL_CLOSE || !*s) {
            if (space && *s) rag_buf_putc(&b, ' '); /* outside the highlight */
            space = 0;
            cli_put_safe(stdout, rag_buf_str(&b), 0);
            rag_buf_clear(&b);
            if (!*s) break;
            fputs(*s == HL_OPEN ? "\033[1;33m" : "\033[0m", stdout);
            continue;
        }
        if (*s == '\n' || *s == ' ') {
            space = 1;
            continue;
        }
        if (space) rag_buf_putc(&b, ' ');
        space = 0;
        rag_buf_putc(&b, *s);
    }
    rag_buf_free(&b);
    fputc('\n', stdout);
}

static void print_explain(const cli_query_opts *q, const rag_result *r)
{
    printf("   %s", cli_dim(&q->cli));
    if (r->kw_rank)
        printf("keyword #%d (bm25 %.3f)  ", r->kw_rank, r->kw_score);
    else
        printf("keyword -  ");
    if (r->vec_rank)
        printf("vector #%d (cosine %.4f)  ", r->vec_rank, r->vec_score);
    else
        printf("vector -  ");
    printf("rrf %.5f", r->rrf_score);
    if (r->rerank_rank) printf("  rerank #%d (%.4f)", r->rerank_rank, r->rerank_score);
    printf("  lexical %.2f%s%s\n", r->lexical, r->relevant ? "" : " (under the answer cutoff)",
           cli_reset(&q->cli));
}

int cli_search(int argc, char **argv)
{
    cli_query_opts q = {.cli = {.cmd = "search"}};
    rag_retrieval_models rt = {0};
    int rc;
    if (cli_parse_query_opts(argc, argv, &q, &rc) < 0) goto out;
    if ((rc = cli_open_retrieval(&q, &rt))) goto out;
    rag_retrieve_params rp;
    cli_retrieve_params(&q, &rp, !q.chunks);
    rag_results res;
    rag_err err = {0};
    double t0 = rag_now_ms();
    if (rag_retrieve(q.cli.st, rt.embedder, rt.reranker, q.query, &q.cli.who, &rp, &res, &err)) {
        rc = cli_fail(&q.cli, &err);
        goto out;
    }
    double ms = rag_now_ms() - t0;
    rag_cutoff cut;
    rag_cutoff_settings(&q.cli.set, &cut);
    /* --explain shows whether an answer would use each result (not timed) */
    if (q.explain && rag_relevance(q.cli.st, q.query, &res, &cut, &err)) {
        rc = cli_fail(&q.cli, &err);
        rag_results_free(&res);
        goto out;
    }
    if (q.cli.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "query", q.query);
        cJSON_AddStringToObject(j, "mode", rag_retrieval_mode(&rt));
        cJSON *arr = cJSON_AddArrayToObject(j, "results");
        for (size_t i = 0; i < res.n; i++)
            cJSON_AddItemToArray(arr, rag_result_json(&res.v[i], i + 1, q.explain, NULL));
        cJSON_AddNumberToObject(j, "took_ms", ms);
        if (q.explain) {
            rag_timings_json(cJSON_AddObjectToObject(j, "timings"), &res);
            cJSON_AddNumberToObject(j, "duplicates_collapsed", (double)res.n_duplicates);
            if (rt.note) cJSON_AddStringToObject(j, "note", rt.note);
        }
        cli_print_json(j);
    } else if (res.n == 0) {
        printf("No results for \"%s\"%s.\n", q.query,
               q.cli.who.admin ? "" : " among the documents these roles may see");
    } else {
        for (size_t i = 0; i < res.n; i++) {
            const rag_result *r = &res.v[i];
            const store_hit *h = &r->hit;
            char path[4096], score[96], title[1024], heading[1024];
            cli_display_path(h->uri, path, sizeof path);
            cli_safe(h->title, title, sizeof title);
            if (r->rerank_rank)
                snprintf(score, sizeof score, "rerank %.3f", r->rerank_score);
            else if (r->kw_rank && r->vec_rank)
                snprintf(score, sizeof score, "rrf %.4f", r->rrf_score);
            else if (r->vec_rank)
                snprintf(score, sizeof score, "cosine %.3f", r->vec_score);
            else
                snprintf(score, sizeof score, "score %.2f", r->kw_score);
            printf("%s%zu. %s%s  %s(%s)%s\n", cli_bold(&q.cli), i + 1, *title ? title : path,
                   cli_reset(&q.cli), cli_dim(&q.cli), score, cli_reset(&q.cli));
            const char *shown = cli_heading_shown(h->title, h->heading_path);
            printf("   %s%s%s%s%s\n", cli_dim(&q.cli), path, shown ? "  \xE2\x80\xBA  " : "",
                   shown ? cli_safe(shown, heading, sizeof heading) : "", cli_reset(&q.cli));
            if (h->snippet) print_snippet(h->snippet);
            if (q.explain) print_explain(&q, r);
            if (i + 1 < res.n) putchar('\n');
        }
        if (q.explain)
            printf("\n%stimings: embed %.1f ms, keyword %.1f ms, vector %.1f ms, fusion %.1f ms, "
                   "rerank %.1f ms; "
                   "%zu near-duplicates collapsed%s%s%s\n",
                   cli_dim(&q.cli), res.embed_ms, res.keyword_ms, res.vector_ms, res.fuse_ms,
                   res.rerank_ms, res.n_duplicates, rt.note ? "; " : "", rt.note ? rt.note : "",
                   cli_reset(&q.cli));
        if (q.explain && res.keyword_ms > 0)
            printf("%skeyword: statistics %.1f ms, ranking %.1f ms (%d pass%s%s), fields %.1f ms, "
                   "snippets %.1f ms%s\n",
                   cli_dim(&q.cli), res.kw_prof.stats_ms, res.kw_prof.rank_ms, res.kw_prof.passes,
                   res.kw_prof.passes == 1 ? "" : "es",
                   res.kw_prof.bounded ? ", common words scored only with rarer ones" : "",
                   res.kw_prof.fetch_ms, res.kw_prof.snippet_ms, cli_reset(&q.cli));
    }
    rag_results_free(&res);
out:
    rag_retrieval_close(&rt);
    rag_free(q.query);
    cli_teardown(&q.cli);
    return rc;
}
