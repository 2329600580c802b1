/* cli/search.c: `rag search` and `rag ask`.
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
#include "llm/llm.h"
#include "rag/answer.h"
#include "cli/cli.h"
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
    "  -k N              passages to retrieve (default search.answer_k, 6)\n"
    "  --model FILE|URL  the generator (a GGUF chat model, or an OpenAI-compatible\n"
    "                    server's base URL ending in /v1, with model.remote_model)\n"
    "  -n N              answer tokens at most (default 512, or model.max_tokens)\n"
    "  --ctx N           context size of a model file (default model.ctx, else\n"
    "                    min(training, 4096)); a server's is model.remote_ctx\n"
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

/* Options shared by search and ask; the settings they set (-k, --mode,
 * --rerank, ...) are in q->cli.set after cli_setup. */
typedef struct query_opts {
    rag_cli cli;
    int is_ask;
    int chunks, explain, show_prompt, temp_set;
    float temp;
    uint64_t seed;
    char *query;
} query_opts;

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
                                         CLI_COMMON_OPTIONS,
                                         {0, 0, 0, 0}};
    const char *usage = q->is_ask ? ask_usage : search_usage;
    int c;
    while ((c = getopt_long(argc, argv, "k:n:qh", opts, NULL)) != -1) {
        if (cli_common_opt(&q->cli, c, optarg)) continue;
        int bad = 0;
        switch (c) {
        case 'k':
            cli_flag(&q->cli, q->is_ask ? "search.answer_k" : "search.k", optarg, "-k");
            break;
        case 'n':
            cli_flag(&q->cli, "model.max_tokens", optarg, "-n");
            break;
        case O_CTX:
            cli_flag(&q->cli, "model.ctx", optarg, "--ctx");
            break;
        case O_RTOP:
            cli_flag(&q->cli, "rerank.top", optarg, "--rerank-top");
            break;
        case O_CHUNKS:
            q->chunks = 1;
            break;
        case O_RERANK:
            cli_flag(&q->cli, "search.rerank", "true", "--rerank");
            break;
        case O_RMODEL:
            cli_flag(&q->cli, "rerank.model", optarg, "--rerank-model");
            break;
        case O_MODE:
            cli_flag(&q->cli, "search.mode", optarg, "--mode");
            break;
        case O_EMODEL:
            cli_flag(&q->cli, "embed.model", optarg, "--embed-model");
            break;
        case O_EXPLAIN:
            q->explain = 1;
            break;
        case O_MODEL:
            cli_flag(&q->cli, "model.path", optarg, "--model");
            break;
        case O_SHOW:
            q->show_prompt = 1;
            break;
        case O_TEMP: {
            char *end;
            q->temp = strtof(optarg, &end);
            if (end == optarg || *end || q->temp < 0)
                bad = -1, cli_usage_error(&q->cli, "--temp: '%s' is not a temperature", optarg);
            q->temp_set = 1;
            break;
        }
        case O_SEED: {
            char *end;
            q->seed = strtoull(optarg, &end, 10);
            if (end == optarg || *end)
                bad = -1, cli_usage_error(&q->cli, "--seed: '%s' is not a number", optarg);
            break;
        }
        case 'h':
            fputs(usage, stdout);
            *rc = RAG_EXIT_OK;
            return -1;
        default:
            *rc = cli_usage_error(&q->cli, "unknown option");
            return -1;
        }
        if (bad) {
            *rc = RAG_EXIT_USAGE;
            return -1;
        }
    }
    if (optind >= argc) {
        *rc = cli_usage_error(&q->cli, "no %s given", q->is_ask ? "QUESTION" : "QUERY");
        return -1;
    }
    q->query = join_args(argc, argv);
    *rc = cli_setup(&q->cli, 1);
    if (*rc) return -1;
    return 0;
}

/* The embedding model and, with --rerank, the reranker (rag/backend.h). */
static int open_retrieval(query_opts *q, rag_retrieval_models *r)
{
    const rag_settings *set = &q->cli.set;
    const char *mode = cli_search_mode(&q->cli);
    rag_err err = {0};
    if (rag_retrieval_open(set, q->cli.st, mode, set->search.rerank ? RAG_RETRIEVAL_RERANK : 0, r,
                           &err))
        return cli_fail(&q->cli, &err);
    if (mode && !strcmp(mode, "vector") && !r->embedder) {
        cli_error(&q->cli, "%s: search.mode vector: %s",
                  rag_settings_where(set, "search.mode"), r->note);
        return RAG_EXIT_USAGE;
    }
    return 0;
}

static void retrieve_params(const query_opts *q, rag_retrieve_params *rp, int per_document)
{
    rag_retrieve_settings(&q->cli.set, cli_search_mode(&q->cli), rp);
    rp->k = (size_t)(q->is_ask ? q->cli.set.search.answer_k : q->cli.set.search.k);
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

static void print_explain(const query_opts *q, const rag_result *r)
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
    printf("%s\n", cli_reset(&q->cli));
}

int cli_search(int argc, char **argv)
{
    query_opts q = {.cli = {.cmd = "search"}};
    rag_retrieval_models rt = {0};
    int rc;
    if (parse_query_opts(argc, argv, &q, &rc) < 0) goto out;
    if ((rc = open_retrieval(&q, &rt))) goto out;
    rag_retrieve_params rp;
    retrieve_params(&q, &rp, !q.chunks);
    rag_results res;
    rag_err err = {0};
    double t0 = rag_now_ms();
    if (rag_retrieve(q.cli.st, rt.embedder, rt.reranker, q.query, &q.cli.who, &rp, &res, &err)) {
        rc = cli_fail(&q.cli, &err);
        goto out;
    }
    double ms = rag_now_ms() - t0;
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
                   shown ? cli_safe(shown, heading, sizeof heading) : "",
                   cli_reset(&q.cli));
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
    }
    rag_results_free(&res);
out:
    rag_retrieval_close(&rt);
    rag_free(q.query);
    cli_teardown(&q.cli);
    return rc;
}

/* ---- rag ask ------------------------------------------------------------------- */

static void print_source(const rag_cli *cli, int n, const store_hit *h)
{
    char path[4096], title[1024], heading[1024];
    cli_display_path(h->uri, path, sizeof path);
    cli_safe(h->title, title, sizeof title);
    const char *shown = cli_heading_shown(h->title, h->heading_path);
    printf("  [%d] %s%s%s\n      %s%s%s\n", n, *title ? title : path, shown ? " \xE2\x80\xBA " : "",
           shown ? cli_safe(shown, heading, sizeof heading) : "", cli_dim(cli), path,
           cli_reset(cli));
}

/* The extractive answer (no generator, or it failed to load). */
static int ask_extractive(query_opts *q, const rag_results *res, const char *why, double t_total0)
{
    store_hits hits = {0};
    hits.n = res->n;
    hits.v = rag_xcalloc(res->n ? res->n : 1, sizeof *hits.v);
    for (size_t i = 0; i < res->n; i++)
        hits.v[i] = res->v[i].hit; /* borrowed: not freed here */
    rag_answer a;
    rag_err err = {0};
    double t0 = rag_now_ms();
    int rc = rag_answer_extractive(q->cli.st, q->query, &hits, NULL, &a, &err);
    double answer_ms = rag_now_ms() - t0;
    rag_free(hits.v);
    if (rc) return cli_fail(&q->cli, &err);
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
            const rag_citation *c = &a.citations[i];
            for (size_t k = 0; k < res->n; k++)
                if (res->v[k].hit.chunk_id == c->chunk_id)
                    cJSON_AddItemToArray(cites,
                                         rag_citation_json(c->n, &res->v[k].hit, c->quote, NULL));
        }
        cJSON *usage = cJSON_AddObjectToObject(j, "usage");
        cJSON_AddNumberToObject(usage, "prompt_tokens", 0);
        cJSON_AddNumberToObject(usage, "completion_tokens", 0);
        cJSON *t = cJSON_AddObjectToObject(j, "timings");
        rag_timings_json(t, res);
        cJSON_AddNumberToObject(t, "answer_ms", answer_ms);
        cJSON_AddNumberToObject(t, "total_ms", rag_now_ms() - t_total0);
        cli_print_json(j);
    } else if (a.n_sentences == 0) {
        printf("Nothing in the documents %s matches this question.\n",
               q->cli.who.admin ? "in the database" : "these roles may see");
    } else {
        printf("%s%s%s\n\n", cli_dim(&q->cli), note, cli_reset(&q->cli));
        for (size_t i = 0; i < a.n_sentences; i++) {
            cli_put_safe(stdout, a.sentences[i].text, 1);
            printf(" [%d]\n", a.sentences[i].citation);
        }
        printf("\n%sSources:%s\n", cli_bold(&q->cli), cli_reset(&q->cli));
        for (size_t i = 0; i < a.n_citations; i++) {
            const rag_citation *c = &a.citations[i];
            for (size_t k = 0; k < res->n; k++)
                if (res->v[k].hit.chunk_id == c->chunk_id)
                    print_source(&q->cli, c->n, &res->v[k].hit);
        }
    }
    rag_answer_free(&a);
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

/* The generator of an answer (rag/backend.h) and, for a local model, its
 * context. */
typedef struct ask_model {
    rag_gen_model gm;
    llm_context *ctx;
    size_t n_ctx, n_predict;
} ask_model;

static void ask_model_close(ask_model *am)
{
    llm_context_free(am->ctx);
    rag_gen_model_close(&am->gm);
}

/* Opens the generator of the settings. Returns an exit status, or -1 when
 * a local model could not be loaded (*why says why). */
static int ask_model_open(query_opts *q, ask_model *am, char **why)
{
    rag_err err = {0};
    memset(am, 0, sizeof *am);
    if (rag_gen_model_open(&q->cli.set, &am->gm, &err)) {
        *why = rag_xasprintf(
            "The generator model could not be loaded (%s), so this answer is extractive.", err.msg);
        return -1;
    }
    am->n_ctx = (size_t)am->gm.n_ctx;
    am->n_predict = (size_t)q->cli.set.model.max_tokens;
    if (!am->gm.model) return 0; /* a server: reached when the answer is asked for */
    llm_context_params cp;
    llm_context_default_params(&cp);
    cp.n_ctx = (int)am->n_ctx;
    if (llm_context_new(am->gm.model, &cp, &am->ctx, &err)) return cli_fail(&q->cli, &err);
    return 0;
}

static void ask_print_json(query_opts *q, const ask_model *am,
                           const rag_prompt *pr, const rag_generation *g, const rag_results *res,
                           double prompt_build_ms, double t_total0)
{
    const rag_citecheck *cc = &g->check;
    const llm_gen_stats *st = &g->stats;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "question", q->query);
    cJSON_AddStringToObject(j, "answer", cc->text);
    cJSON_AddStringToObject(j, "mode", "generated");
    const rag_backend *remote = &am->gm.remote;
    cJSON_AddStringToObject(j, "model", remote->url ? remote->model : q->cli.set.model.path);
    if (remote->url) cJSON_AddStringToObject(j, "remote", remote->url);
    cJSON_AddStringToObject(j, "stop_reason", llm_stop_reason_name(st->stop));
    if (q->show_prompt) cJSON_AddStringToObject(j, "prompt", rag_buf_str(&pr->chat.text));
    cJSON *cites = cJSON_AddArrayToObject(j, "citations");
    for (size_t i = 0; i < cc->n_cited; i++) {
        const rag_block *b = &pr->blocks[cc->cited[i] - 1];
        char *snip = rag_snippet(b->src->hit.text, b->used, 240);
        cJSON_AddItemToArray(cites, rag_citation_json(b->n, &b->src->hit, snip, NULL));
        rag_free(snip);
    }
    cJSON_AddItemToObject(j, "invalid_citations",
                          cJSON_CreateIntArray(cc->invalid, (int)cc->n_invalid));
    cJSON_AddNumberToObject(j, "context_blocks", (double)pr->n_blocks);
    cJSON *usage = cJSON_AddObjectToObject(j, "usage");
    cJSON_AddNumberToObject(usage, "prompt_tokens", st->n_prompt);
    cJSON_AddNumberToObject(usage, "completion_tokens", st->n_generated);
    cJSON *t = cJSON_AddObjectToObject(j, "timings");
    rag_timings_json(t, res);
    cJSON_AddNumberToObject(t, "load_ms", am->gm.load_ms);
    cJSON_AddNumberToObject(t, "prompt_build_ms", prompt_build_ms);
    cJSON_AddNumberToObject(t, "prompt_ms", st->prompt_ms);
    cJSON_AddNumberToObject(t, "generate_ms", st->gen_ms);
    cJSON_AddNumberToObject(t, "total_ms", rag_now_ms() - t_total0);
    cli_print_json(j);
}

static void ask_print_text(query_opts *q, const rag_prompt *pr, const rag_generation *g,
                           int echoed)
{
    const rag_citecheck *cc = &g->check;
    const llm_gen_stats *st = &g->stats;
    if (!echoed) fputs(cc->text, stdout);
    putchar('\n');
    if (cc->n_invalid) {
        printf("\n%snote: removed citation%s", cli_dim(&q->cli), cc->n_invalid > 1 ? "s" : "");
        for (size_t i = 0; i < cc->n_invalid; i++)
            printf(" [%d]", cc->invalid[i]);
        printf(" naming no source given to the model%s\n", cli_reset(&q->cli));
    }
    if (cc->n_cited) {
        printf("\n%sSources:%s\n", cli_bold(&q->cli), cli_reset(&q->cli));
        for (size_t i = 0; i < cc->n_cited; i++)
            print_source(&q->cli, cc->cited[i], &pr->blocks[cc->cited[i] - 1].src->hit);
    } else {
        printf("\n%s(the answer cites no source)%s\n", cli_dim(&q->cli),
               cli_reset(&q->cli));
    }
    if (!q->cli.quiet)
        fprintf(stderr,
                "%sprompt %d tokens (%zu blocks) in %.0f ms, answer %d tokens in %.0f ms (%.1f "
                "tokens/s)%s\n",
                cli_dim(&q->cli), st->n_prompt, pr->n_blocks, st->prompt_ms, st->n_generated,
                st->gen_ms, st->gen_ms > 0 ? st->n_generated * 1e3 / st->gen_ms : 0,
                cli_reset(&q->cli));
}

/* The generated answer. Returns an exit status, or -1 when the model could
 * not be loaded (*why says why; the caller falls back to extractive). */
static int ask_generate(query_opts *q, const rag_results *res, double t_total0, char **why)
{
    rag_err err = {0};
    ask_model am;
    rag_prompt pr = {0};
    int rc = ask_model_open(q, &am, why);
    if (rc) goto out;
    double t0 = rag_now_ms();
    rag_prompt_input in = {.question = q->query, .results = res};
    const llm_model *m = am.gm.model;
    if (rag_prompt_build(m ? llm_model_vocab(m) : NULL, am.gm.fam, &in,
                         rag_prompt_budget(am.n_ctx, am.n_predict), &pr, &err)) {
        rc = cli_fail(&q->cli, &err);
        goto out;
    }
    double prompt_build_ms = rag_now_ms() - t0;
    if (q->show_prompt && !q->cli.json) /* with --json: in the JSON */
        printf("%s--- prompt (%s%zu tokens, %zu context blocks) ---%s\n%s\n%s--- end of prompt "
               "---%s\n\n",
               cli_dim(&q->cli), m ? "" : "about ", pr.n_tokens, pr.n_blocks,
               cli_reset(&q->cli), rag_buf_str(&pr.chat.text), cli_dim(&q->cli),
               cli_reset(&q->cli));
    llm_gen_params gp;
    llm_gen_default_params(&gp);
    gp.n_predict = (int)am.n_predict;
    gp.sampling.temperature = q->temp_set ? q->temp : 0.0f;
    gp.sampling.top_p = (float)q->cli.set.model.top_p;
    if (q->seed) gp.sampling.seed = q->seed;
    int echo = !q->cli.json && isatty(1);
    signal(SIGINT, on_ask_sigint);
    rag_generator gen = {0};
    rag_gen_model_generator(&am.gm, am.ctx, &gen);
    rag_generation g;
    if (rag_generate(&gen, &pr, 1, &gp, on_text, &echo, &g, &err)) {
        if (echo) putchar('\n'); /* after the text that came before the failure */
        rc = cli_fail(&q->cli, &err);
        goto out;
    }
    if (q->cli.json)
        ask_print_json(q, &am, &pr, &g, res, prompt_build_ms, t_total0);
    else
        ask_print_text(q, &pr, &g, echo);
    rag_generation_free(&g);
out:
    rag_prompt_free(&pr);
    ask_model_close(&am);
    return rc;
}

int cli_ask(int argc, char **argv)
{
    query_opts q = {.cli = {.cmd = "ask"}, .is_ask = 1};
    rag_retrieval_models rt = {0};
    int rc;
    double t_total0 = rag_now_ms();
    if (parse_query_opts(argc, argv, &q, &rc) < 0) goto out;
    if ((rc = open_retrieval(&q, &rt))) goto out;
    rag_retrieve_params rp;
    retrieve_params(&q, &rp, q.cli.set.search.answer_per_document);
    rp.want_snippet = 0;
    rag_results res;
    rag_err err = {0};
    if (rag_retrieve(q.cli.st, rt.embedder, rt.reranker, q.query, &q.cli.who, &rp, &res, &err)) {
        rc = cli_fail(&q.cli, &err);
        goto out;
    }
    int model = q.cli.set.model.path || q.cli.set.model.url;
    char *why = NULL;
    rc = -1;
    if (model && res.n) rc = ask_generate(&q, &res, t_total0, &why); /* nothing found: said below */
    if (rc < 0) {
        if (why && model && !q.cli.json && !q.cli.quiet) cli_error(&q.cli, "note: %s", why);
        rc = ask_extractive(&q, &res, why, t_total0);
    }
    rag_free(why);
    rag_results_free(&res);
out:
    rag_retrieval_close(&rt);
    rag_free(q.query);
    cli_teardown(&q.cli);
    return rc;
}
