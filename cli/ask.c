/* cli/ask.c: `rag ask`: retrieves as `rag search` does (cli/query.c), then
 * answers with the generator when one is configured, a local model or a
 * server (prompt within its context, streamed, citations checked), and
 * extractively otherwise. */
#include "base/mem.h"
#include "base/time.h"
#include "cli/query_int.h"
#include "llm/llm.h"
#include "rag/answer.h"
#include "rag/generate.h"
#include "rag/prompt.h"
#include "rag/render.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

const char cli_ask_usage[] =
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
    "  --reasoning off|on|auto  whether a reasoning model (Qwen3) thinks before it\n"
    "                    answers (default model.reasoning, auto: off for answers)\n"
    "  --show-reasoning  print its reasoning (dimmed) before the answer\n"
    "  --mode, --embed-model, --rerank, --rerank-model, --rerank-top   as for search\n"
    "  --as ROLE,...     ask as a principal with these roles\n"
    "  --json            {question, answer, reasoning, citations, usage, timings} as\n"
    "                    JSON\n"
    "  --db PATH, --config FILE   as for 'rag ingest'\n";

#define NO_MODEL_NOTE                                                                              \
    "No generator model is configured, so this answer quotes the passages of your "                \
    "documents that best match the question. Configure a GGUF chat model with --model, "           \
    "RAG_MODEL or model.path in the config to get written answers."

static void print_source(const cli_ctx *cli, int n, const store_hit *h)
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
static int ask_extractive(cli_query_opts *q, const rag_results *res, const char *why,
                          double t_total0)
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
    return CLI_EXIT_OK;
}

static volatile sig_atomic_t ask_interrupted;

static void on_ask_sigint(int sig)
{
    (void)sig;
    ask_interrupted = 1;
    signal(SIGINT, SIG_DFL);
}

/* What is printed as the answer comes: on a terminal (not with --json),
 * the checked answer, and with --show-reasoning the reasoning (dimmed)
 * before it. */
typedef struct ask_echo {
    int echo, show_reasoning;
    int reasoned; /* reasoning was printed: end it before the answer */
    const cli_ctx *cli;
} ask_echo;

static int on_text(void *p, const char *s, size_t n)
{
    ask_echo *e = p;
    if (e->echo && n) {
        if (e->reasoned) printf("%s\n\n", cli_reset(e->cli));
        e->reasoned = 0;
        fwrite(s, 1, n, stdout);
        fflush(stdout);
    }
    return ask_interrupted;
}

static int on_reasoning(void *p, const char *s, size_t n)
{
    ask_echo *e = p;
    if (e->echo && e->show_reasoning && n) {
        if (!e->reasoned) fputs(cli_dim(e->cli), stdout);
        e->reasoned = 1;
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
static int ask_model_open(cli_query_opts *q, ask_model *am, char **why)
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
    cp.n_threads = (int)q->cli.set.model.threads; /* 0: every CPU */
    if (llm_context_new(am->gm.model, &cp, &am->ctx, &err)) return cli_fail(&q->cli, &err);
    return 0;
}

static void ask_print_json(cli_query_opts *q, const ask_model *am, const rag_prompt *pr,
                           const rag_generation *g, const rag_results *res, double prompt_build_ms,
                           double t_total0)
{
    const rag_citecheck *cc = &g->check;
    const llm_gen_stats *st = &g->stats;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "question", q->query);
    cJSON_AddStringToObject(j, "answer", cc->text);
    if (g->reasoning)
        cJSON_AddStringToObject(j, "reasoning", g->reasoning);
    else
        cJSON_AddNullToObject(j, "reasoning");
    cJSON_AddStringToObject(j, "mode", "generated");
    const rag_backend *remote = &am->gm.remote;
    cJSON_AddStringToObject(j, "model", remote->url ? remote->model : q->cli.set.model.path);
    if (remote->url) /* without passwords; several servers: ", "-separated */
        cJSON_AddStringToObject(j, "remote", net_pool_shown(remote->pool));
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
    cJSON_AddNumberToObject(usage, "reasoning_tokens", g->n_reasoning);
    cJSON *t = cJSON_AddObjectToObject(j, "timings");
    rag_timings_json(t, res);
    cJSON_AddNumberToObject(t, "load_ms", am->gm.load_ms);
    cJSON_AddNumberToObject(t, "prompt_build_ms", prompt_build_ms);
    cJSON_AddNumberToObject(t, "prompt_ms", st->prompt_ms);
    cJSON_AddNumberToObject(t, "generate_ms", st->gen_ms);
    cJSON_AddNumberToObject(t, "total_ms", rag_now_ms() - t_total0);
    cli_print_json(j);
}

static void ask_print_text(cli_query_opts *q, const rag_prompt *pr, const rag_generation *g,
                           int echoed)
{
    const rag_citecheck *cc = &g->check;
    const llm_gen_stats *st = &g->stats;
    if (!echoed && q->show_reasoning && g->reasoning)
        printf("%s%s%s\n\n", cli_dim(&q->cli), g->reasoning, cli_reset(&q->cli));
    if (!echoed) fputs(cc->text, stdout);
    putchar('\n');
    if (!*cc->text && g->reasoning)
        printf("%s(the model was still reasoning when it stopped: %d tokens; -n gives it "
               "more)%s\n",
               cli_dim(&q->cli), g->n_reasoning, cli_reset(&q->cli));
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
        printf("\n%s(the answer cites no source)%s\n", cli_dim(&q->cli), cli_reset(&q->cli));
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
static int ask_generate(cli_query_opts *q, const rag_results *res, double t_total0, char **why)
{
    rag_err err = {0};
    ask_model am;
    rag_prompt pr = {0};
    int rc = ask_model_open(q, &am, why);
    if (rc) goto out;
    double t0 = rag_now_ms();
    rag_prompt_input in = {.question = q->query,
                           .results = res,
                           .reasoning = rag_reasoning_default(q->cli.set.model.reasoning, 1)};
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
               cli_dim(&q->cli), m ? "" : "about ", pr.n_tokens, pr.n_blocks, cli_reset(&q->cli),
               rag_buf_str(&pr.chat.text), cli_dim(&q->cli), cli_reset(&q->cli));
    llm_gen_params gp;
    llm_gen_default_params(&gp);
    gp.n_predict = (int)am.n_predict;
    gp.sampling.temperature = q->temp_set ? q->temp : 0.0f;
    gp.sampling.top_p = (float)q->cli.set.model.top_p;
    if (q->seed) gp.sampling.seed = q->seed;
    ask_echo echo = {
        .echo = !q->cli.json && isatty(1), .show_reasoning = q->show_reasoning, .cli = &q->cli};
    signal(SIGINT, on_ask_sigint);
    rag_generator gen = {0};
    rag_gen_model_generator(&am.gm, am.ctx, &gen);
    rag_generation g;
    if (rag_generate(&gen, &pr, 1, &gp, on_text, on_reasoning, &echo, &g, &err)) {
        if (echo.echo) /* after the text that came before the failure */
            printf("%s\n", echo.reasoned ? cli_reset(&q->cli) : "");
        rc = cli_fail(&q->cli, &err);
        goto out;
    }
    if (echo.reasoned) fputs(cli_reset(&q->cli), stdout); /* it had no answer after it */
    if (q->cli.json)
        ask_print_json(q, &am, &pr, &g, res, prompt_build_ms, t_total0);
    else
        ask_print_text(q, &pr, &g, echo.echo);
    rag_generation_free(&g);
out:
    rag_prompt_free(&pr);
    ask_model_close(&am);
    return rc;
}

int cli_ask(int argc, char **argv)
{
    cli_query_opts q = {.cli = {.cmd = "ask"}, .is_ask = 1};
    rag_retrieval_models rt = {0};
    int rc;
    double t_total0 = rag_now_ms();
    if (cli_parse_query_opts(argc, argv, &q, &rc) < 0) goto out;
    if ((rc = cli_open_retrieval(&q, &rt))) goto out;
    rag_retrieve_params rp;
    cli_retrieve_params(&q, &rp, q.cli.set.search.answer_per_document);
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
