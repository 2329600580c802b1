/* rag/cli_search.c: `rag search` and `rag ask`. */
#include "base/mem.h"
#include "rag/answer.h"
#include "rag/cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char search_usage[] =
    "usage: rag search QUERY... [options]\n"
    "\n"
    "Keyword search (BM25) over the documents you may see. The query is read\n"
    "as plain words: quotes, operators and punctuation have no special meaning.\n"
    "\n"
    "  -k N            number of results (default 10, or search.k from the config)\n"
    "  --chunks        list every matching chunk, not only the best of each document\n"
    "  --rerank        reorder the best candidates with a cross-encoder (the\n"
    "                  reranker: --rerank-model FILE, else $RAG_RERANK_MODEL, else\n"
    "                  rerank.model in the config)\n"
    "  --rerank-top N  candidates given to the reranker (default rerank.top, else\n"
    "                  the larger of 3k and 30)\n"
    "  --as ROLE,...   search as a principal with these roles (default: the local\n"
    "                  administrator, who sees everything)\n"
    "  --json          results as JSON\n"
    "  --db PATH, --config FILE   as for 'rag ingest'\n";

static const char ask_usage[] =
    "usage: rag ask QUESTION... [options]\n"
    "\n"
    "Answers a question from the documents you may see, with numbered\n"
    "citations. Without a generator model the answer is extractive: the\n"
    "sentences that best match the question, each with its source.\n"
    "\n"
    "  -k N            chunks to draw the answer from (default 5)\n"
    "  --as ROLE,...   ask as a principal with these roles\n"
    "  --json          {question, answer, citations, usage, timings} as JSON\n"
    "  --db PATH, --config FILE   as for 'rag ingest'\n";

#define NO_MODEL_NOTE                                                                          \
    "No generator model is configured, so this answer quotes the passages of your "             \
    "documents that best match the question. Answers written by a local model need a "         \
    "GGUF generator model, which this version of rag cannot run yet (see \"Status\" in "        \
    "the README)."

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Joins the remaining arguments into one string. */
static char *join_args(int argc, char **argv)
{
    rag_buf b = {0};
    for (int i = optind; i < argc; i++) {
        if (b.len) rag_buf_putc(&b, ' ');
        rag_buf_puts(&b, argv[i]);
    }
    return rag_buf_steal(&b);
}

static int parse_k(rag_cli *cli, const char *s, size_t *k)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 1 || v > 10000) {
        rag_cli_usage_error(cli, "-k: '%s' is not a number from 1 to 10000", s);
        return -1;
    }
    *k = (size_t)v;
    return 0;
}

typedef struct query_opts {
    rag_cli cli;
    size_t k;
    int k_set;
    int chunks;
    int rerank;
    size_t rerank_top;
    const char *rerank_model;
    char *query;
} query_opts;

/* Parses the options of search/ask; returns -1 (done, exit with *rc).
 * `what` names the positional argument; `k_key` is the config key that
 * sets the default -k (NULL: none). */
static int parse_query_opts(int argc, char **argv, query_opts *q, const char *usage,
                            const char *what, const char *k_key, int *rc)
{
    static const struct option opts[] = {{"chunks", no_argument, NULL, 'c'},
                                         {"rerank", no_argument, NULL, 'r'},
                                         {"rerank-top", required_argument, NULL, 'T'},
                                         {"rerank-model", required_argument, NULL, 'M'},
                                         RAG_CLI_COMMON_OPTIONS,
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "k:qh", opts, NULL)) != -1) {
        if (rag_cli_common_opt(&q->cli, c, optarg)) continue;
        switch (c) {
        case 'k':
            if (parse_k(&q->cli, optarg, &q->k) < 0) {
                *rc = RAG_EXIT_USAGE;
                return -1;
            }
            q->k_set = 1;
            break;
        case 'c': q->chunks = 1; break;
        case 'r': q->rerank = 1; break;
        case 'M': q->rerank_model = optarg; break;
        case 'T':
            if (parse_k(&q->cli, optarg, &q->rerank_top) < 0) {
                *rc = RAG_EXIT_USAGE;
                return -1;
            }
            break;
        case 'h': fputs(usage, stdout); *rc = RAG_EXIT_OK; return -1;
        default: *rc = rag_cli_usage_error(&q->cli, "unknown option"); return -1;
        }
    }
    if (optind >= argc) {
        *rc = rag_cli_usage_error(&q->cli, "no %s given", what);
        return -1;
    }
    q->query = join_args(argc, argv);
    *rc = rag_cli_setup(&q->cli, 1);
    if (*rc) return -1;
    const char *ck = k_key ? rag_config_get(q->cli.cfg, k_key) : NULL;
    if (!q->k_set && ck && parse_k(&q->cli, ck, &q->k) < 0) {
        *rc = RAG_EXIT_USAGE;
        return -1;
    }
    return 0;
}

/* Reorders hits by a cross-encoder's scores (written to scores[]) and keeps
 * the best k. */
static int rerank_hits(query_opts *q, store_hits *hits, float *scores, rag_err *err)
{
    const char *path = rag_cli_model_path(&q->cli, q->rerank_model, "RAG_RERANK_MODEL", "rerank.model");
    if (!path)
        return rag_err_set(err, RAG_ERR_INVALID,
                           "--rerank needs a reranker: --rerank-model FILE, RAG_RERANK_MODEL or rerank.model");
    emb_params ep;
    emb_default_params(&ep);
    emb_model *m;
    int rc = emb_model_open(path, &ep, &m, err);
    if (rc) return rc;
    const char **texts = rag_xcalloc(hits->n ? hits->n : 1, sizeof *texts);
    for (size_t i = 0; i < hits->n; i++) texts[i] = hits->v[i].text;
    rc = emb_rerank(m, q->query, texts, hits->n, scores, err);
    rag_free(texts);
    emb_model_close(m);
    if (rc) return rc;
    /* insertion sort by score, descending (a few dozen candidates) */
    for (size_t i = 1; i < hits->n; i++)
        for (size_t j = i; j > 0 && scores[j] > scores[j - 1]; j--) {
            store_hit h = hits->v[j];
            hits->v[j] = hits->v[j - 1];
            hits->v[j - 1] = h;
            float s = scores[j];
            scores[j] = scores[j - 1];
            scores[j - 1] = s;
        }
    while (hits->n > q->k) { /* the tail is freed by store_hits_free through n */
        store_hit *h = &hits->v[--hits->n];
        rag_free(h->uri), rag_free(h->ext_id), rag_free(h->title), rag_free(h->heading_path),
            rag_free(h->snippet), rag_free(h->text);
    }
    return 0;
}

static cJSON *hit_json(const store_hit *h, size_t rank, const float *rerank_score)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "rank", (double)rank);
    if (rerank_score) cJSON_AddNumberToObject(o, "rerank_score", *rerank_score);
    cJSON_AddNumberToObject(o, "score", h->score);
    cJSON_AddNumberToObject(o, "document_id", (double)h->document_id);
    cJSON_AddNumberToObject(o, "chunk_id", (double)h->chunk_id);
    cJSON_AddStringToObject(o, "uri", h->uri);
    cJSON_AddStringToObject(o, "title", h->title);
    cJSON_AddStringToObject(o, "heading_path", h->heading_path);
    cJSON_AddStringToObject(o, "snippet", h->snippet ? h->snippet : "");
    cJSON_AddNumberToObject(o, "byte_start", (double)h->byte_start);
    cJSON_AddNumberToObject(o, "byte_end", (double)h->byte_end);
    return o;
}

/* Snippets come with highlight markers; their line breaks and runs of
 * spaces become single spaces. */
static void print_snippet(const char *s)
{
    fputs("   ", stdout);
    int space = 0;
    for (; *s; s++) {
        if (*s == '\n' || *s == ' ') {
            space = 1;
            continue;
        }
        if (space) fputc(' ', stdout);
        space = 0;
        fputc(*s, stdout);
    }
    fputc('\n', stdout);
}

int rag_cli_search(int argc, char **argv)
{
    query_opts q = {.cli = {.cmd = "search"}, .k = 10};
    int rc;
    if (parse_query_opts(argc, argv, &q, search_usage, "QUERY", "search.k", &rc) < 0) goto out;
    store_search_params sp;
    store_search_default_params(&sp);
    sp.k = q.k;
    sp.per_document = !q.chunks;
    /* highlight: bold on a terminal, **markdown** otherwise and in JSON */
    sp.hl_open = q.cli.color ? "\033[1;33m" : "**";
    sp.hl_close = q.cli.color ? "\033[0m" : "**";
    if (q.rerank) { /* more candidates, with their text, for the reranker */
        const char *top = rag_config_get(q.cli.cfg, "rerank.top");
        if (!q.rerank_top && top && parse_k(&q.cli, top, &q.rerank_top) < 0) {
            rc = RAG_EXIT_USAGE;
            goto out;
        }
        if (!q.rerank_top) q.rerank_top = 3 * q.k > 30 ? 3 * q.k : 30;
        if (q.rerank_top > sp.k) sp.k = q.rerank_top;
        sp.want_text = 1;
    }
    store_hits hits;
    rag_err err = {0};
    double t0 = now_ms();
    if (store_search_keyword(q.cli.st, q.query, &q.cli.who, &sp, &hits, &err)) {
        rc = rag_cli_fail(&q.cli, &err);
        goto out;
    }
    float *rscores = NULL;
    if (q.rerank) {
        rscores = rag_xcalloc(hits.n ? hits.n : 1, sizeof *rscores);
        if (rerank_hits(&q, &hits, rscores, &err)) {
            rag_free(rscores);
            store_hits_free(&hits);
            rc = rag_cli_fail(&q.cli, &err);
            goto out;
        }
    }
    double ms = now_ms() - t0;
    if (q.cli.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "query", q.query);
        cJSON *arr = cJSON_AddArrayToObject(j, "results");
        for (size_t i = 0; i < hits.n; i++)
            cJSON_AddItemToArray(arr, hit_json(&hits.v[i], i + 1, rscores ? &rscores[i] : NULL));
        cJSON_AddNumberToObject(j, "took_ms", ms);
        rag_cli_print_json(j);
    } else if (hits.n == 0) {
        printf("No results for \"%s\"%s.\n", q.query,
               q.cli.who.admin ? "" : " among the documents these roles may see");
    } else {
        for (size_t i = 0; i < hits.n; i++) {
            const store_hit *h = &hits.v[i];
            char path[4096];
            rag_cli_display_path(h->uri, path, sizeof path);
            char score[64];
            if (rscores) snprintf(score, sizeof score, "rerank %.3f, bm25 %.2f", rscores[i], h->score);
            else snprintf(score, sizeof score, "score %.2f", h->score);
            printf("%s%zu. %s%s  %s(%s)%s\n", rag_cli_bold(&q.cli), i + 1,
                   *h->title ? h->title : path, rag_cli_reset(&q.cli), rag_cli_dim(&q.cli), score,
                   rag_cli_reset(&q.cli));
            const char *shown = rag_cli_heading_shown(h->title, h->heading_path);
            printf("   %s%s%s%s%s\n", rag_cli_dim(&q.cli), path, shown ? "  \xE2\x80\xBA  " : "",
                   shown ? shown : "", rag_cli_reset(&q.cli));
            if (h->snippet) print_snippet(h->snippet);
            if (i + 1 < hits.n) putchar('\n');
        }
    }
    store_hits_free(&hits);
    rag_free(rscores);
out:
    rag_free(q.query);
    rag_cli_teardown(&q.cli);
    return rc;
}

static cJSON *answer_json(const char *question, const ragd_answer *a, double retrieve_ms,
                          double answer_ms)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "question", question);
    cJSON_AddStringToObject(j, "answer", a->text);
    cJSON_AddStringToObject(j, "mode", "extractive");
    cJSON_AddNullToObject(j, "model");
    cJSON_AddStringToObject(j, "note", NO_MODEL_NOTE);
    cJSON *cites = cJSON_AddArrayToObject(j, "citations");
    for (size_t i = 0; i < a->n_citations; i++) {
        const ragd_citation *c = &a->citations[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "n", c->n);
        cJSON_AddNumberToObject(o, "document", (double)c->document_id);
        cJSON_AddStringToObject(o, "uri", c->uri);
        cJSON_AddStringToObject(o, "title", c->title);
        cJSON_AddStringToObject(o, "heading_path", c->heading_path);
        cJSON_AddNumberToObject(o, "chunk", (double)c->chunk_id);
        cJSON_AddStringToObject(o, "snippet", c->quote ? c->quote : "");
        cJSON_AddItemToArray(cites, o);
    }
    cJSON *usage = cJSON_AddObjectToObject(j, "usage");
    cJSON_AddNumberToObject(usage, "prompt_tokens", 0);
    cJSON_AddNumberToObject(usage, "completion_tokens", 0);
    cJSON *t = cJSON_AddObjectToObject(j, "timings");
    cJSON_AddNumberToObject(t, "retrieve_ms", retrieve_ms);
    cJSON_AddNumberToObject(t, "answer_ms", answer_ms);
    cJSON_AddNumberToObject(t, "total_ms", retrieve_ms + answer_ms);
    return j;
}

int rag_cli_ask(int argc, char **argv)
{
    query_opts q = {.cli = {.cmd = "ask"}, .k = 5};
    int rc;
    if (parse_query_opts(argc, argv, &q, ask_usage, "QUESTION", NULL, &rc) < 0) goto out;
    store_search_params sp;
    store_search_default_params(&sp);
    sp.k = q.k;
    sp.want_snippet = 0;
    sp.want_text = 1;
    store_hits hits;
    ragd_answer a;
    rag_err err = {0};
    double t0 = now_ms();
    if (store_search_keyword(q.cli.st, q.query, &q.cli.who, &sp, &hits, &err)) {
        rc = rag_cli_fail(&q.cli, &err);
        goto out;
    }
    double t1 = now_ms();
    if (ragd_answer_extractive(q.cli.st, q.query, &hits, NULL, &a, &err)) {
        store_hits_free(&hits);
        rc = rag_cli_fail(&q.cli, &err);
        goto out;
    }
    double t2 = now_ms();
    if (q.cli.json) {
        rag_cli_print_json(answer_json(q.query, &a, t1 - t0, t2 - t1));
    } else if (a.n_sentences == 0) {
        printf("Nothing in the documents %s matches this question.\n",
               q.cli.who.admin ? "in the database" : "these roles may see");
    } else {
        printf("%s%s%s\n\n", rag_cli_dim(&q.cli), NO_MODEL_NOTE, rag_cli_reset(&q.cli));
        for (size_t i = 0; i < a.n_sentences; i++)
            printf("%s [%d]\n", a.sentences[i].text, a.sentences[i].citation);
        printf("\n%sSources:%s\n", rag_cli_bold(&q.cli), rag_cli_reset(&q.cli));
        for (size_t i = 0; i < a.n_citations; i++) {
            const ragd_citation *c = &a.citations[i];
            char path[4096];
            rag_cli_display_path(c->uri, path, sizeof path);
            const char *shown = rag_cli_heading_shown(c->title, c->heading_path);
            printf("  [%d] %s%s%s\n      %s%s%s\n", c->n, *c->title ? c->title : path,
                   shown ? " \xE2\x80\xBA " : "", shown ? shown : "", rag_cli_dim(&q.cli), path,
                   rag_cli_reset(&q.cli));
        }
    }
    ragd_answer_free(&a);
    store_hits_free(&hits);
out:
    rag_free(q.query);
    rag_cli_teardown(&q.cli);
    return rc;
}
