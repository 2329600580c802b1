/* rag/cli_search.c: `rag search` and `rag ask`.
 *
 * Both retrieve through rag/retrieve.c: keyword search always, vector
 * search when an embedding model is configured and the database holds its
 * vectors, a reranker when asked. `rag ask` then answers with the
 * generator when one is configured, a local model or a server (prompt
 * within its context, streamed, citations checked), and extractively
 * otherwise. */
#include "base/mem.h"
#include "base/time.h"
#include "ingest/ingest.h"
#include "llm/chat.h"
#include "llm/generate.h"
#include "rag/answer.h"
#include "rag/cli.h"
#include "rag/generate.h"
#include "rag/prompt.h"
#include "rag/render.h"
#include "rag/retrieve.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char search_usage[] =
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

static const char ask_usage[] =
    "usage: rag ask QUESTION... [options]\n"
    "\n"
    "Answers a question from the documents you may see, with numbered\n"
    "citations. With a generator model (--model FILE, else $RAG_MODEL, else\n"
    "model.path in the config; or a server: --model URL, $RAG_MODEL_URL or\n"
    "model.url) the model writes the answer from the best passages; every [n]\n"
    "it writes is checked against the passages it was given. Without one, or\n"
    "when a model file cannot be loaded, the answer is extractive: the\n"
    "sentences that best match the question, each with its source.\n"
    "\n"
    "  -k N              passages to retrieve (default 6)\n"
    "  --model FILE|URL  the generator (a GGUF chat model, or an OpenAI-compatible\n"
    "                    server's base URL ending in /v1, with model.remote_model)\n"
    "  -n N              answer tokens at most (default 512, or model.max_tokens)\n"
    "  --ctx N           context size (default model.ctx, else min(training, 4096);\n"
    "                    a server's: model.remote_ctx, default 8192)\n"
    "  --temp T          sampling temperature (default 0: the most likely words)\n"
    "  --seed S          random seed\n"
    "  --show-prompt     print the exact prompt before the answer\n"
    "  --mode, --embed-model, --rerank, --rerank-model, --rerank-top   as for search\n"
    "  --as ROLE,...     ask as a principal with these roles\n"
    "  --json            {question, answer, citations, usage, timings} as JSON\n"
    "  --db PATH, --config FILE   as for 'rag ingest'\n";

#define NO_MODEL_NOTE                                                                              \
    "No generator model is configured, so this answer quotes the passages of your "                \
    "documents that best match the question. Configure a GGUF chat model with --model, "           \
    "RAG_MODEL or model.path in the config to get written answers."

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

static int parse_count(rag_cli *cli, const char *opt, const char *s, long hi, size_t *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 1 || v > hi) {
        rag_cli_usage_error(cli, "%s: '%s' is not a number from 1 to %ld", opt, s, hi);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

/* Options shared by search and ask. */
typedef struct query_opts {
    rag_cli cli;
    int is_ask;
    size_t k;
    int k_set, chunks, rerank, explain, show_prompt, temp_set;
    size_t rerank_top, n_predict, n_ctx;
    size_t candidates;     /* search.candidates (0: the default) */
    int rrf_k, dedupe;     /* search.rrf_k, search.dedupe */
    double dup_similarity; /* search.dup_similarity */
    const char *mode, *embed_model, *rerank_model, *model;
    float temp;
    uint64_t seed;
    char *query;
} query_opts;

static int valid_mode(const char *m)
{
    return !strcmp(m, "keyword") || !strcmp(m, "vector") || !strcmp(m, "hybrid");
}

int rag_cli_search_mode(rag_cli *cli, const char **mode)
{
    if (*mode) {
        if (valid_mode(*mode)) return 0;
        rag_cli_usage_error(cli, "--mode: '%s' is not keyword, vector or hybrid", *mode);
        return -1;
    }
    const char *m = rag_config_get(cli->cfg, "search.mode");
    if (!m) return 0;
    if (!valid_mode(m)) {
        rag_cli_error(cli, "%s: search.mode '%s' is not keyword, vector or hybrid",
                      rag_config_where(cli->cfg, "search.mode"), m);
        return -1;
    }
    if (strcmp(m, "hybrid")) *mode = m; /* hybrid is what no mode means */
    return 0;
}

/* The [search] section: the retrieval stages and their knobs (flags win).
 * Returns -1 after reporting a bad value with the file and line. */
static int search_config(query_opts *q)
{
    const rag_config *cfg = q->cli.cfg;
    rag_err err = {0};
    if (rag_cli_search_mode(&q->cli, &q->mode) < 0) return -1;
    size_t rrf_k = 60;
    if (rag_config_get_size(cfg, "search.candidates", &q->candidates, &err) ||
        rag_config_get_size(cfg, "search.rrf_k", &rrf_k, &err) ||
        rag_config_get_bool(cfg, "search.dedupe", &q->dedupe, &err) ||
        (!q->rerank && rag_config_get_bool(cfg, "search.rerank", &q->rerank, &err))) {
        rag_cli_fail(&q->cli, &err);
        return -1;
    }
    if (q->candidates > 10000 || rrf_k < 1 || rrf_k > 100000) {
        rag_cli_error(
            &q->cli,
            "%s: search.candidates must be at most 10000 and search.rrf_k from 1 to 100000",
            rag_config_where(cfg, q->candidates > 10000 ? "search.candidates" : "search.rrf_k"));
        return -1;
    }
    q->rrf_k = (int)rrf_k;
    const char *sim = rag_config_get(cfg, "search.dup_similarity");
    if (sim) {
        char *end;
        q->dup_similarity = strtod(sim, &end);
        if (end == sim || *end || !(q->dup_similarity > 0 && q->dup_similarity <= 1)) {
            rag_cli_error(&q->cli, "%s: search.dup_similarity '%s' is not a number in (0, 1]",
                          rag_config_where(cfg, "search.dup_similarity"), sim);
            return -1;
        }
    }
    return 0;
}

/* Parses the options of search/ask; returns -1 (done, exit with *rc). */
static int parse_query_opts(int argc, char **argv, query_opts *q, int *rc)
{
    enum {
        O_CHUNKS = 1000,
        O_RERANK,
        O_RTOP,
        O_RMODEL,
        O_MODE,
        O_EMODEL,
        O_EXPLAIN,
        O_MODEL,
        O_CTX,
        O_TEMP,
        O_SEED,
        O_SHOW
    };
    static const struct option opts[] = {{"chunks", no_argument, NULL, O_CHUNKS},
                                         {"rerank", no_argument, NULL, O_RERANK},
                                         {"rerank-top", required_argument, NULL, O_RTOP},
                                         {"rerank-model", required_argument, NULL, O_RMODEL},
                                         {"mode", required_argument, NULL, O_MODE},
                                         {"embed-model", required_argument, NULL, O_EMODEL},
                                         {"explain", no_argument, NULL, O_EXPLAIN},
                                         {"model", required_argument, NULL, O_MODEL},
                                         {"ctx", required_argument, NULL, O_CTX},
                                         {"temp", required_argument, NULL, O_TEMP},
                                         {"seed", required_argument, NULL, O_SEED},
                                         {"show-prompt", no_argument, NULL, O_SHOW},
                                         RAG_CLI_COMMON_OPTIONS,
                                         {0, 0, 0, 0}};
    const char *usage = q->is_ask ? ask_usage : search_usage;
    int c;
    while ((c = getopt_long(argc, argv, "k:n:qh", opts, NULL)) != -1) {
        if (rag_cli_common_opt(&q->cli, c, optarg)) continue;
        int bad = 0;
        switch (c) {
        case 'k':
            bad = parse_count(&q->cli, "-k", optarg, 10000, &q->k);
            q->k_set = 1;
            break;
        case 'n':
            bad = parse_count(&q->cli, "-n", optarg, 1 << 20, &q->n_predict);
            break;
        case O_CTX:
            bad = parse_count(&q->cli, "--ctx", optarg, 1 << 20, &q->n_ctx);
            break;
        case O_RTOP:
            bad = parse_count(&q->cli, "--rerank-top", optarg, 10000, &q->rerank_top);
            break;
        case O_CHUNKS:
            q->chunks = 1;
            break;
        case O_RERANK:
            q->rerank = 1;
            break;
        case O_RMODEL:
            q->rerank_model = optarg;
            break;
        case O_MODE:
            q->mode = optarg;
            break;
        case O_EMODEL:
            q->embed_model = optarg;
            break;
        case O_EXPLAIN:
            q->explain = 1;
            break;
        case O_MODEL:
            q->model = optarg;
            break;
        case O_SHOW:
            q->show_prompt = 1;
            break;
        case O_TEMP: {
            char *end;
            q->temp = strtof(optarg, &end);
            if (end == optarg || *end || q->temp < 0)
                bad = -1, rag_cli_usage_error(&q->cli, "--temp: '%s' is not a temperature", optarg);
            q->temp_set = 1;
            break;
        }
        case O_SEED: {
            char *end;
            q->seed = strtoull(optarg, &end, 10);
            if (end == optarg || *end)
                bad = -1, rag_cli_usage_error(&q->cli, "--seed: '%s' is not a number", optarg);
            break;
        }
        case 'h':
            fputs(usage, stdout);
            *rc = RAG_EXIT_OK;
            return -1;
        default:
            *rc = rag_cli_usage_error(&q->cli, "unknown option");
            return -1;
        }
        if (bad) {
            *rc = RAG_EXIT_USAGE;
            return -1;
        }
    }
    if (q->mode && !valid_mode(q->mode)) {
        *rc =
            rag_cli_usage_error(&q->cli, "--mode: '%s' is not keyword, vector or hybrid", q->mode);
        return -1;
    }
    if (optind >= argc) {
        *rc = rag_cli_usage_error(&q->cli, "no %s given", q->is_ask ? "QUESTION" : "QUERY");
        return -1;
    }
    q->query = join_args(argc, argv);
    *rc = rag_cli_setup(&q->cli, 1);
    if (*rc) return -1;
    const char *ck = rag_config_get(q->cli.cfg, "search.k");
    if (!q->is_ask && !q->k_set && ck && parse_count(&q->cli, "search.k", ck, 10000, &q->k) < 0) {
        *rc = RAG_EXIT_USAGE;
        return -1;
    }
    const char *top = rag_config_get(q->cli.cfg, "rerank.top");
    if (q->rerank && !q->rerank_top && top &&
        parse_count(&q->cli, "rerank.top", top, 10000, &q->rerank_top) < 0) {
        *rc = RAG_EXIT_USAGE;
        return -1;
    }
    if (search_config(q) < 0) {
        *rc = RAG_EXIT_USAGE;
        return -1;
    }
    return 0;
}

int rag_cli_open_retrieval(rag_cli *cli, const char *mode, const char *embed_model, int rerank,
                           const char *rerank_model, rag_cli_retrieval *r)
{
    memset(r, 0, sizeof *r);
    rag_err err = {0};
    int want_vector = !mode || strcmp(mode, "keyword");
    r->keyword = !mode || strcmp(mode, "vector");
    const char *epath = rag_cli_model_path(cli, embed_model, "RAG_EMBED_MODEL", "embed.model");
    if (want_vector && epath) {
        int rc = rag_cli_open_embedder(cli, epath, &r->embedder);
        if (rc) return rc;
        int match = ing_model_matches(cli->st, r->embedder, &err);
        if (match < 0) return rag_cli_fail(cli, &err);
        if (!match) {
            r->note = rag_xasprintf(
                "the database has no vectors of %s: keyword search only (run 'rag reembed')",
                emb_model_identity(r->embedder)->name);
            emb_model_close(r->embedder);
            r->embedder = NULL;
        }
    } else if (want_vector) {
        r->note = rag_xstrdup("no embedding model is configured: keyword search only");
    }
    if (!r->embedder) r->keyword = 1;
    if (mode && !strcmp(mode, "vector") && !r->embedder) {
        rag_cli_error(cli, "--mode vector: %s", r->note);
        return RAG_EXIT_USAGE;
    }
    if (rerank) {
        const char *rpath =
            rag_cli_model_path(cli, rerank_model, "RAG_RERANK_MODEL", "rerank.model");
        if (!rpath) {
            rag_cli_error(
                cli,
                "--rerank needs a reranker: --rerank-model FILE, RAG_RERANK_MODEL or rerank.model");
            return RAG_EXIT_ERROR;
        }
        int rc = rag_cli_open_embedder(cli, rpath, &r->reranker);
        if (rc) return rc;
    }
    return 0;
}

const char *rag_cli_retrieval_mode(const rag_cli_retrieval *r)
{
    return r->embedder && r->keyword ? "hybrid" : r->embedder ? "vector" : "keyword";
}

void rag_cli_close_retrieval(rag_cli_retrieval *r)
{
    emb_model_close(r->embedder);
    emb_model_close(r->reranker);
    rag_free(r->note);
    memset(r, 0, sizeof *r);
}

static int open_retrieval(query_opts *q, rag_cli_retrieval *r)
{
    return rag_cli_open_retrieval(&q->cli, q->mode, q->embed_model, q->rerank, q->rerank_model, r);
}

static void retrieve_params(const query_opts *q, ragd_retrieve_params *rp, int per_document)
{
    ragd_retrieve_default_params(rp);
    rp->k = q->k;
    rp->keyword = !q->mode || strcmp(q->mode, "vector");
    rp->vector = !q->mode || strcmp(q->mode, "keyword");
    rp->rerank_top = q->rerank_top;
    if (q->candidates) rp->candidates = q->candidates;
    rp->rrf_k = q->rrf_k;
    rp->dedupe = q->dedupe;
    if (q->dup_similarity > 0) rp->dup_jaccard = q->dup_similarity;
    rp->per_document = per_document;
    rp->hl_open = q->cli.color ? "\x01" : "**";
    rp->hl_close = q->cli.color ? "\x02" : "**";
}

/* With colour, snippets mark matched terms with these bytes (which the
 * terminal-safe printing would otherwise escape); print_snippet turns
 * them into the highlight. */
#define HL_OPEN '\x01'
#define HL_CLOSE '\x02'

/* Snippets come with highlight markers; their line breaks and runs of
 * spaces become single spaces; other control characters are shown
 * escaped (rag_cli_put_safe). */
static void print_snippet(const char *s)
{
    rag_buf b = {0};
    int space = 0;
    fputs("   ", stdout);
    for (;; s++) {
        if (*s == HL_OPEN || *s == HL_CLOSE || !*s) {
            if (space && *s) rag_buf_putc(&b, ' '); /* outside the highlight */
            space = 0;
            rag_cli_put_safe(stdout, rag_buf_str(&b), 0);
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

static void print_explain(const query_opts *q, const ragd_result *r)
{
    printf("   %s", rag_cli_dim(&q->cli));
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
    printf("%s\n", rag_cli_reset(&q->cli));
}

int rag_cli_search(int argc, char **argv)
{
    query_opts q = {.cli = {.cmd = "search"}, .k = 10, .dedupe = 1};
    rag_cli_retrieval rt = {0};
    int rc;
    if (parse_query_opts(argc, argv, &q, &rc) < 0) goto out;
    if ((rc = open_retrieval(&q, &rt))) goto out;
    ragd_retrieve_params rp;
    retrieve_params(&q, &rp, !q.chunks);
    ragd_results res;
    rag_err err = {0};
    double t0 = rag_now_ms();
    if (ragd_retrieve(q.cli.st, rt.embedder, rt.reranker, q.query, &q.cli.who, &rp, &res, &err)) {
        rc = rag_cli_fail(&q.cli, &err);
        goto out;
    }
    double ms = rag_now_ms() - t0;
    if (q.cli.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "query", q.query);
        cJSON_AddStringToObject(j, "mode", rag_cli_retrieval_mode(&rt));
        cJSON *arr = cJSON_AddArrayToObject(j, "results");
        for (size_t i = 0; i < res.n; i++)
            cJSON_AddItemToArray(arr, ragd_result_json(&res.v[i], i + 1, q.explain, NULL));
        cJSON_AddNumberToObject(j, "took_ms", ms);
        if (q.explain) {
            ragd_timings_json(cJSON_AddObjectToObject(j, "timings"), &res);
            cJSON_AddNumberToObject(j, "duplicates_collapsed", (double)res.n_duplicates);
            if (rt.note) cJSON_AddStringToObject(j, "note", rt.note);
        }
        rag_cli_print_json(j);
    } else if (res.n == 0) {
        printf("No results for \"%s\"%s.\n", q.query,
               q.cli.who.admin ? "" : " among the documents these roles may see");
    } else {
        for (size_t i = 0; i < res.n; i++) {
            const ragd_result *r = &res.v[i];
            const store_hit *h = &r->hit;
            char path[4096], score[96], title[1024], heading[1024];
            rag_cli_display_path(h->uri, path, sizeof path);
            rag_cli_safe(h->title, title, sizeof title);
            if (r->rerank_rank)
                snprintf(score, sizeof score, "rerank %.3f", r->rerank_score);
            else if (r->kw_rank && r->vec_rank)
                snprintf(score, sizeof score, "rrf %.4f", r->rrf_score);
            else if (r->vec_rank)
                snprintf(score, sizeof score, "cosine %.3f", r->vec_score);
            else
                snprintf(score, sizeof score, "score %.2f", r->kw_score);
            printf("%s%zu. %s%s  %s(%s)%s\n", rag_cli_bold(&q.cli), i + 1, *title ? title : path,
                   rag_cli_reset(&q.cli), rag_cli_dim(&q.cli), score, rag_cli_reset(&q.cli));
            const char *shown = rag_cli_heading_shown(h->title, h->heading_path);
            printf("   %s%s%s%s%s\n", rag_cli_dim(&q.cli), path, shown ? "  \xE2\x80\xBA  " : "",
                   shown ? rag_cli_safe(shown, heading, sizeof heading) : "",
                   rag_cli_reset(&q.cli));
            if (h->snippet) print_snippet(h->snippet);
            if (q.explain) print_explain(&q, r);
            if (i + 1 < res.n) putchar('\n');
        }
        if (q.explain)
            printf("\n%stimings: embed %.1f ms, keyword %.1f ms, vector %.1f ms, fusion %.1f ms, "
                   "rerank %.1f ms; "
                   "%zu near-duplicates collapsed%s%s%s\n",
                   rag_cli_dim(&q.cli), res.embed_ms, res.keyword_ms, res.vector_ms, res.fuse_ms,
                   res.rerank_ms, res.n_duplicates, rt.note ? "; " : "", rt.note ? rt.note : "",
                   rag_cli_reset(&q.cli));
    }
    ragd_results_free(&res);
out:
    rag_cli_close_retrieval(&rt);
    rag_free(q.query);
    rag_cli_teardown(&q.cli);
    return rc;
}

/* ---- rag ask ------------------------------------------------------------------- */

static void print_source(const rag_cli *cli, int n, const store_hit *h)
{
    char path[4096], title[1024], heading[1024];
    rag_cli_display_path(h->uri, path, sizeof path);
    rag_cli_safe(h->title, title, sizeof title);
    const char *shown = rag_cli_heading_shown(h->title, h->heading_path);
    printf("  [%d] %s%s%s\n      %s%s%s\n", n, *title ? title : path, shown ? " \xE2\x80\xBA " : "",
           shown ? rag_cli_safe(shown, heading, sizeof heading) : "", rag_cli_dim(cli), path,
           rag_cli_reset(cli));
}

/* The extractive answer (no generator, or it failed to load). */
static int ask_extractive(query_opts *q, const ragd_results *res, const char *why, double t_total0)
{
    store_hits hits = {0};
    hits.n = res->n;
    hits.v = rag_xcalloc(res->n ? res->n : 1, sizeof *hits.v);
    for (size_t i = 0; i < res->n; i++)
        hits.v[i] = res->v[i].hit; /* borrowed: not freed here */
    ragd_answer a;
    rag_err err = {0};
    double t0 = rag_now_ms();
    int rc = ragd_answer_extractive(q->cli.st, q->query, &hits, NULL, &a, &err);
    double answer_ms = rag_now_ms() - t0;
    rag_free(hits.v);
    if (rc) return rag_cli_fail(&q->cli, &err);
    const char *note = why ? why : NO_MODEL_NOTE;
    if (q->cli.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "question", q->query);
        cJSON_AddStringToObject(j, "answer", a.text);
        cJSON_AddStringToObject(j, "mode", "extractive");
        cJSON_AddNullToObject(j, "model");
        cJSON_AddStringToObject(j, "note", note);
        cJSON *cites = cJSON_AddArrayToObject(j, "citations");
        for (size_t i = 0; i < a.n_citations; i++) {
            const ragd_citation *c = &a.citations[i];
            for (size_t k = 0; k < res->n; k++)
                if (res->v[k].hit.chunk_id == c->chunk_id)
                    cJSON_AddItemToArray(cites,
                                         ragd_citation_json(c->n, &res->v[k].hit, c->quote, NULL));
        }
        cJSON *usage = cJSON_AddObjectToObject(j, "usage");
        cJSON_AddNumberToObject(usage, "prompt_tokens", 0);
        cJSON_AddNumberToObject(usage, "completion_tokens", 0);
        cJSON *t = cJSON_AddObjectToObject(j, "timings");
        ragd_timings_json(t, res);
        cJSON_AddNumberToObject(t, "answer_ms", answer_ms);
        cJSON_AddNumberToObject(t, "total_ms", rag_now_ms() - t_total0);
        rag_cli_print_json(j);
    } else if (a.n_sentences == 0) {
        printf("Nothing in the documents %s matches this question.\n",
               q->cli.who.admin ? "in the database" : "these roles may see");
    } else {
        printf("%s%s%s\n\n", rag_cli_dim(&q->cli), note, rag_cli_reset(&q->cli));
        for (size_t i = 0; i < a.n_sentences; i++) {
            rag_cli_put_safe(stdout, a.sentences[i].text, 1);
            printf(" [%d]\n", a.sentences[i].citation);
        }
        printf("\n%sSources:%s\n", rag_cli_bold(&q->cli), rag_cli_reset(&q->cli));
        for (size_t i = 0; i < a.n_citations; i++) {
            const ragd_citation *c = &a.citations[i];
            for (size_t k = 0; k < res->n; k++)
                if (res->v[k].hit.chunk_id == c->chunk_id)
                    print_source(&q->cli, c->n, &res->v[k].hit);
        }
    }
    ragd_answer_free(&a);
    return RAG_EXIT_OK;
}

static volatile sig_atomic_t ask_interrupted;

static void on_ask_sigint(int sig)
{
    (void)sig;
    ask_interrupted = 1;
    signal(SIGINT, SIG_DFL);
}

/* Checked text as it comes: printed on a terminal (not with --json). */
static int on_text(void *p, const char *s, size_t n)
{
    const int *echo = p;
    if (*echo && n) {
        fwrite(s, 1, n, stdout);
        fflush(stdout);
    }
    return ask_interrupted;
}

/* The generator of an answer: a local model with its context, or a server. */
typedef struct ask_model {
    llm_model *m;
    llm_context *ctx;
    llm_chat_family fam;
    ragd_backend remote; /* url set: a server */
    size_t n_ctx, n_predict;
    double load_ms;
} ask_model;

static void ask_model_close(ask_model *am)
{
    llm_context_free(am->ctx);
    llm_model_close(am->m);
}

/* The sizes: the context (--ctx, else model.ctx for a local model and
 * model.remote_ctx for a server) and the answer's room in it. */
static int ask_sizes(query_opts *q, ask_model *am, size_t fallback_ctx)
{
    size_t n_ctx = q->n_ctx, n_predict = q->n_predict;
    const char *v;
    if (!n_ctx && !am->remote.url && (v = rag_config_get(q->cli.cfg, "model.ctx")) &&
        parse_count(&q->cli, "model.ctx", v, 1 << 20, &n_ctx) < 0)
        return RAG_EXIT_USAGE;
    if (!n_predict && (v = rag_config_get(q->cli.cfg, "model.max_tokens")) &&
        parse_count(&q->cli, "model.max_tokens", v, 1 << 20, &n_predict) < 0)
        return RAG_EXIT_USAGE;
    am->n_ctx = n_ctx ? n_ctx : fallback_ctx;
    am->n_predict = n_predict ? n_predict : 512;
    if (am->n_predict >= am->n_ctx) am->n_predict = am->n_ctx / 2;
    return 0;
}

/* Opens the generator at model (a file or a server's URL). Returns an exit
 * status, or -1 when a local model could not be loaded (*why says why). */
static int ask_model_open(query_opts *q, const char *model, ask_model *am, char **why)
{
    rag_err err = {0};
    memset(am, 0, sizeof *am);
    if (ragd_is_url(model)) { /* the server is only reached when the answer is asked for */
        if (ragd_backend_read(q->cli.cfg, "model", model, &am->remote, &err))
            return rag_cli_fail(&q->cli, &err);
        return ask_sizes(q, am, (size_t)am->remote.ctx);
    }
    double t0 = rag_now_ms();
    if (llm_model_open(model, &am->m, &err)) {
        *why = rag_xasprintf(
            "The generator model could not be loaded (%s), so this answer is extractive.", err.msg);
        return -1;
    }
    am->load_ms = rag_now_ms() - t0;
    const llm_hparams *hp = llm_model_hparams(am->m);
    int rc = ask_sizes(q, am, hp->n_ctx_train < 4096 ? (size_t)hp->n_ctx_train : 4096);
    if (rc) return rc;
    int fell_back;
    if (llm_chat_family_for(llm_model_gguf(am->m),
                            rag_config_get(q->cli.cfg, "model.chat_template"), &am->fam, &fell_back,
                            &err))
        return rag_cli_fail(&q->cli, &err);
    if (fell_back && !q->cli.quiet)
        rag_cli_error(
            &q->cli,
            "warning: the model names no chat template this program recognises; using ChatML "
            "(set model.chat_template)");
    llm_context_params cp;
    llm_context_default_params(&cp);
    cp.n_ctx = (int)am->n_ctx;
    if (llm_context_new(am->m, &cp, &am->ctx, &err)) return rag_cli_fail(&q->cli, &err);
    return 0;
}

static void ask_print_json(query_opts *q, const ask_model *am, const char *model,
                           const ragd_prompt *pr, const ragd_generation *g, const ragd_results *res,
                           double prompt_build_ms, double t_total0)
{
    const ragd_citecheck *cc = &g->check;
    const llm_gen_stats *st = &g->stats;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "question", q->query);
    cJSON_AddStringToObject(j, "answer", cc->text);
    cJSON_AddStringToObject(j, "mode", "generated");
    cJSON_AddStringToObject(j, "model", am->remote.url ? am->remote.model : model);
    if (am->remote.url) cJSON_AddStringToObject(j, "remote", am->remote.url);
    cJSON_AddStringToObject(j, "stop_reason", llm_stop_reason_name(st->stop));
    if (q->show_prompt) cJSON_AddStringToObject(j, "prompt", rag_buf_str(&pr->chat.text));
    cJSON *cites = cJSON_AddArrayToObject(j, "citations");
    for (size_t i = 0; i < cc->n_cited; i++) {
        const ragd_block *b = &pr->blocks[cc->cited[i] - 1];
        char *snip = ragd_snippet(b->src->hit.text, b->used, 240);
        cJSON_AddItemToArray(cites, ragd_citation_json(b->n, &b->src->hit, snip, NULL));
        rag_free(snip);
    }
    cJSON_AddItemToObject(j, "invalid_citations",
                          cJSON_CreateIntArray(cc->invalid, (int)cc->n_invalid));
    cJSON_AddNumberToObject(j, "context_blocks", (double)pr->n_blocks);
    cJSON *usage = cJSON_AddObjectToObject(j, "usage");
    cJSON_AddNumberToObject(usage, "prompt_tokens", st->n_prompt);
    cJSON_AddNumberToObject(usage, "completion_tokens", st->n_generated);
    cJSON *t = cJSON_AddObjectToObject(j, "timings");
    ragd_timings_json(t, res);
    cJSON_AddNumberToObject(t, "load_ms", am->load_ms);
    cJSON_AddNumberToObject(t, "prompt_build_ms", prompt_build_ms);
    cJSON_AddNumberToObject(t, "prompt_ms", st->prompt_ms);
    cJSON_AddNumberToObject(t, "generate_ms", st->gen_ms);
    cJSON_AddNumberToObject(t, "total_ms", rag_now_ms() - t_total0);
    rag_cli_print_json(j);
}

static void ask_print_text(query_opts *q, const ragd_prompt *pr, const ragd_generation *g,
                           int echoed)
{
    const ragd_citecheck *cc = &g->check;
    const llm_gen_stats *st = &g->stats;
    if (!echoed) fputs(cc->text, stdout);
    putchar('\n');
    if (cc->n_invalid) {
        printf("\n%snote: removed citation%s", rag_cli_dim(&q->cli), cc->n_invalid > 1 ? "s" : "");
        for (size_t i = 0; i < cc->n_invalid; i++)
            printf(" [%d]", cc->invalid[i]);
        printf(" naming no source given to the model%s\n", rag_cli_reset(&q->cli));
    }
    if (cc->n_cited) {
        printf("\n%sSources:%s\n", rag_cli_bold(&q->cli), rag_cli_reset(&q->cli));
        for (size_t i = 0; i < cc->n_cited; i++)
            print_source(&q->cli, cc->cited[i], &pr->blocks[cc->cited[i] - 1].src->hit);
    } else {
        printf("\n%s(the answer cites no source)%s\n", rag_cli_dim(&q->cli),
               rag_cli_reset(&q->cli));
    }
    if (!q->cli.quiet)
        fprintf(stderr,
                "%sprompt %d tokens (%zu blocks) in %.0f ms, answer %d tokens in %.0f ms (%.1f "
                "tokens/s)%s\n",
                rag_cli_dim(&q->cli), st->n_prompt, pr->n_blocks, st->prompt_ms, st->n_generated,
                st->gen_ms, st->gen_ms > 0 ? st->n_generated * 1e3 / st->gen_ms : 0,
                rag_cli_reset(&q->cli));
}

/* The generated answer. Returns an exit status, or -1 when the model could
 * not be loaded (*why says why; the caller falls back to extractive). */
static int ask_generate(query_opts *q, const char *model, const ragd_results *res, double t_total0,
                        char **why)
{
    rag_err err = {0};
    ask_model am;
    ragd_prompt pr = {0};
    int rc = ask_model_open(q, model, &am, why);
    if (rc) goto out;
    double t0 = rag_now_ms();
    ragd_prompt_input in = {.question = q->query, .results = res};
    if (ragd_prompt_build(am.m ? llm_model_vocab(am.m) : NULL, am.fam, &in, am.n_ctx - am.n_predict,
                          &pr, &err)) {
        rc = rag_cli_fail(&q->cli, &err);
        goto out;
    }
    double prompt_build_ms = rag_now_ms() - t0;
    if (q->show_prompt && !q->cli.json) /* with --json: in the JSON */
        printf("%s--- prompt (%s%zu tokens, %zu context blocks) ---%s\n%s\n%s--- end of prompt "
               "---%s\n\n",
               rag_cli_dim(&q->cli), am.m ? "" : "about ", pr.n_tokens, pr.n_blocks,
               rag_cli_reset(&q->cli), rag_buf_str(&pr.chat.text), rag_cli_dim(&q->cli),
               rag_cli_reset(&q->cli));
    llm_gen_params gp;
    llm_gen_default_params(&gp);
    gp.n_predict = (int)am.n_predict;
    gp.sampling.temperature = q->temp_set ? q->temp : 0.0f;
    if (q->seed) gp.sampling.seed = q->seed;
    int echo = !q->cli.json && isatty(1);
    signal(SIGINT, on_ask_sigint);
    ragd_generator gen = {.ctx = am.ctx, .remote = am.remote.url ? &am.remote : NULL};
    ragd_generation g;
    if (ragd_generate(&gen, &pr, 1, &gp, on_text, &echo, &g, &err)) {
        if (echo) putchar('\n'); /* after the text that came before the failure */
        rc = rag_cli_fail(&q->cli, &err);
        goto out;
    }
    if (q->cli.json)
        ask_print_json(q, &am, model, &pr, &g, res, prompt_build_ms, t_total0);
    else
        ask_print_text(q, &pr, &g, echo);
    ragd_generation_free(&g);
out:
    ragd_prompt_free(&pr);
    ask_model_close(&am);
    return rc;
}

int rag_cli_ask(int argc, char **argv)
{
    query_opts q = {.cli = {.cmd = "ask"}, .k = 6, .is_ask = 1, .dedupe = 1};
    rag_cli_retrieval rt = {0};
    int rc;
    double t_total0 = rag_now_ms();
    if (parse_query_opts(argc, argv, &q, &rc) < 0) goto out;
    if ((rc = open_retrieval(&q, &rt))) goto out;
    ragd_retrieve_params rp;
    retrieve_params(&q, &rp, 0);
    rp.want_snippet = 0;
    ragd_results res;
    rag_err err = {0};
    if (ragd_retrieve(q.cli.st, rt.embedder, rt.reranker, q.query, &q.cli.who, &rp, &res, &err)) {
        rc = rag_cli_fail(&q.cli, &err);
        goto out;
    }
    const char *model = rag_cli_model_path(&q.cli, q.model, "RAG_MODEL", "model.path");
    char *why = NULL;
    rc = -1;
    if (model && res.n)
        rc = ask_generate(&q, model, &res, t_total0, &why); /* nothing found: said below */
    if (rc < 0) {
        if (why && model && !q.cli.json && !q.cli.quiet) rag_cli_error(&q.cli, "note: %s", why);
        rc = ask_extractive(&q, &res, why, t_total0);
    }
    rag_free(why);
    ragd_results_free(&res);
out:
    rag_cli_close_retrieval(&rt);
    rag_free(q.query);
    rag_cli_teardown(&q.cli);
    return rc;
}
