/* cli/ask.c: `rag ask` and `rag chat`: retrieves as `rag search` does
 * (cli/query.c), leaves out the passages under the relevance cutoff
 * (rag/relevance.h), then answers with the generator when one is
 * configured, a local model or a server (prompt within its context,
 * streamed, citations checked), and extractively otherwise. A question
 * with a conversation before it (`rag ask --history FILE`, every turn of
 * `rag chat` after the first) retrieves for its standalone rewrite
 * (rag/converse.h); the answer sees the conversation. */
#include "base/file.h"
#include "base/mem.h"
#include "base/time.h"
#include "cli/query_int.h"
#include "llm/llm.h"
#include "rag/answer.h"
#include "rag/converse.h"
#include "rag/generate.h"
#include "rag/prompt.h"
#include "rag/relevance.h"
#include "rag/render.h"

#include <signal.h>
#include <stdlib.h>
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
    "  --history FILE    the conversation before the question: a JSON array of\n"
    "                    {\"role\": \"user\"|\"assistant\", \"content\": \"...\"} (as in\n"
    "                    OpenAI's messages); retrieval then searches for the\n"
    "                    question made standalone, and the answer sees the turns\n"
    "  --explain         print the retrieval query of a follow-up\n"
    "  --mode, --embed-model, --rerank, --rerank-model, --rerank-top   as for search\n"
    "  --as ROLE,...     ask as a principal with these roles\n"
    "  --json            {question, answer, reasoning, citations, usage, timings, rag}\n"
    "                    as JSON\n"
    "  --db PATH, --config FILE   as for 'rag ingest'\n"
    "\n"
    "Exit status: 0 answered, 4 when the documents you may see do not answer the\n"
    "question (no passage passes the relevance cutoff, answer.min_*), 1 on errors.\n";

const char cli_chat_usage[] =
    "usage: rag chat [options]\n"
    "\n"
    "A conversation: reads questions from standard input, one per line, and\n"
    "answers each as rag ask does, remembering the earlier turns. A follow-up\n"
    "(\"and for tyres?\") retrieves for its standalone rewrite (by the generator,\n"
    "else the earlier questions' words added to it); the answer sees the\n"
    "conversation. An empty line or end of input ends it; /reset forgets the\n"
    "turns. Options as for rag ask (--explain prints each retrieval query;\n"
    "--json prints one JSON object per answer).\n";

#define NO_MODEL_NOTE                                                                              \
    "No generator model is configured, so this answer quotes the passages of your "                \
    "documents that best match the question. Configure a GGUF chat model with --model, "           \
    "RAG_MODEL or model.path in the config to get written answers."

enum { MAX_HISTORY = 256, MAX_HISTORY_FILE = 4 << 20 };

/* The generator of an answer (rag/backend.h) and, for a local model, its
 * context. */
typedef struct ask_model {
    rag_gen_model gm;
    llm_context *ctx;
    size_t n_ctx, n_predict;
} ask_model;

/* What the turns of one `rag ask`, `rag chat` or `rag eval --answers`
 * share. */
typedef struct cli_ask_session ask_session;
struct cli_ask_session {
    cli_query_opts *q;
    rag_retrieval_models rt;
    ask_model am;
    int model;             /* a generator is configured */
    int opened;            /* 1: am is open; -1: it could not be loaded (why) */
    char *why;             /* why the answer is extractive although a model is configured */
    llm_chat_msg *history; /* the turns before the question (contents owned) */
    size_t n_history;
    char *answer;        /* the last answer's text, for the next turn's history */
    cli_ask_report *rep; /* fill it instead of printing (rag eval --answers) */
};

/* One question and what was retrieved for it. */
typedef struct ask_turn {
    const char *question;
    rag_followup fq; /* the retrieval query */
    rag_results res;
    double t0;
} ask_turn;

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

/* The members every JSON answer starts with, and its "rag" object. */
static cJSON *json_start(const ask_turn *t, const char *answer, const char *mode)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "question", t->question);
    cJSON_AddStringToObject(j, "answer", answer);
    cJSON_AddStringToObject(j, "mode", mode);
    return j;
}

static void json_rag(cJSON *j, const ask_turn *t, const char *answer_kind)
{
    cJSON *r = cJSON_AddObjectToObject(j, "rag");
    cJSON_AddStringToObject(r, "answer", answer_kind);
    cJSON_AddNumberToObject(r, "below_cutoff", (double)t->res.n_below);
    if (strcmp(t->fq.how, "none")) {
        cJSON *w = cJSON_AddObjectToObject(r, "rewrite");
        cJSON_AddStringToObject(w, "how", t->fq.how);
        cJSON_AddStringToObject(w, "query", t->fq.query);
    } else {
        cJSON_AddNullToObject(r, "rewrite");
    }
}

/* The answer when the documents the principal may see do not answer the
 * question: nothing retrieved, nothing over the relevance cutoff, or no
 * sentence matching it. Exit status CLI_EXIT_NO_ANSWER. */
static int ask_none(ask_session *as, const ask_turn *t)
{
    cli_query_opts *q = as->q;
    as->answer = rag_xstrdup(RAG_ANSWER_NONE);
    if (as->rep) {
        as->rep->abstained = 1;
        as->rep->mode = "extractive";
        as->rep->text = rag_xstrdup(RAG_ANSWER_NONE);
    } else if (q->cli.json) {
        cJSON *j = json_start(t, RAG_ANSWER_NONE, "extractive"); /* as ragd says it */
        cJSON_AddNullToObject(j, "model");
        cJSON_AddArrayToObject(j, "citations");
        json_rag(j, t, "none");
        cJSON *usage = cJSON_AddObjectToObject(j, "usage");
        cJSON_AddNumberToObject(usage, "prompt_tokens", 0);
        cJSON_AddNumberToObject(usage, "completion_tokens", 0);
        cJSON *tm = cJSON_AddObjectToObject(j, "timings");
        rag_timings_json(tm, &t->res);
        cJSON_AddNumberToObject(tm, "total_ms", rag_now_ms() - t->t0);
        cli_print_json(j);
    } else {
        printf("The documents %s do not answer this question.\n",
               q->cli.who.admin ? "in the database" : "these roles may see");
        fflush(stdout);
        if (t->res.n_below && !q->cli.quiet)
            fprintf(stderr,
                    "%s%zu passage%s found, none relevant enough to answer from "
                    "(answer.min_keyword, answer.min_vector, answer.min_rerank)%s\n",
                    cli_dim(&q->cli), t->res.n_below, t->res.n_below > 1 ? "s" : "",
                    cli_reset(&q->cli));
    }
    return CLI_EXIT_NO_ANSWER;
}

/* The extractive answer (no generator, or it failed to load). */
static int ask_extractive(ask_session *as, const ask_turn *t)
{
    cli_query_opts *q = as->q;
    const rag_results *res = &t->res;
    store_hits hits = {0};
    hits.n = res->n;
    hits.v = rag_xcalloc(res->n ? res->n : 1, sizeof *hits.v);
    for (size_t i = 0; i < res->n; i++)
        hits.v[i] = res->v[i].hit; /* borrowed: not freed here */
    rag_answer a;
    rag_err err = {0};
    double t0 = rag_now_ms();
    /* sentences are chosen for what retrieval searched (a follow-up's rewrite) */
    rag_extractive_params ep;
    rag_extractive_default_params(&ep);
    ep.reranker = as->rt.reranker; /* rescores the best sentences (--rerank) */
    int rc = rag_answer_extractive(q->cli.st, t->fq.query, &hits, &ep, &a, &err);
    double answer_ms = rag_now_ms() - t0;
    rag_free(hits.v);
    if (rc) return cli_fail(&q->cli, &err);
    if (a.n_sentences == 0) {
        rag_answer_free(&a);
        return ask_none(as, t);
    }
    const char *note = as->why ? as->why : NO_MODEL_NOTE;
    if (as->rep) {
        cli_ask_report *rep = as->rep;
        rep->mode = "extractive";
        rep->text = rag_xstrdup(a.text);
        rep->generate_ms = answer_ms;
        rep->given = rag_xcalloc(res->n ? res->n : 1, sizeof *rep->given);
        for (size_t k = 0; k < res->n; k++) {
            cli_ask_passage *g = &rep->given[rep->n_given++];
            g->doc_id = cli_doc_id(&res->v[k].hit);
            g->text = rag_xstrdup(res->v[k].hit.text ? res->v[k].hit.text : "");
            for (size_t i = 0; i < a.n_citations; i++)
                if (a.citations[i].chunk_id == res->v[k].hit.chunk_id) g->n = a.citations[i].n;
        }
    } else if (q->cli.json) {
        cJSON *j = json_start(t, a.text, "extractive");
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
        json_rag(j, t, "extractive");
        cJSON *usage = cJSON_AddObjectToObject(j, "usage");
        cJSON_AddNumberToObject(usage, "prompt_tokens", 0);
        cJSON_AddNumberToObject(usage, "completion_tokens", 0);
        cJSON *tm = cJSON_AddObjectToObject(j, "timings");
        rag_timings_json(tm, res);
        cJSON_AddNumberToObject(tm, "answer_ms", answer_ms);
        cJSON_AddNumberToObject(tm, "total_ms", rag_now_ms() - t->t0);
        cli_print_json(j);
    } else {
        if (!as->n_history) printf("%s%s%s\n\n", cli_dim(&q->cli), note, cli_reset(&q->cli));
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
    as->answer = rag_xstrdup(a.text);
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

static void ask_model_close(ask_model *am)
{
    llm_context_free(am->ctx);
    rag_gen_model_close(&am->gm);
}

/* Opens the generator of the settings once. Returns 0 (as->opened 1), an
 * exit status, or -1 when a local model could not be loaded (as->why says
 * why; the answers are extractive). */
static int ask_model_get(ask_session *as)
{
    if (as->opened) return as->opened > 0 ? 0 : -1;
    cli_query_opts *q = as->q;
    ask_model *am = &as->am;
    rag_err err = {0};
    memset(am, 0, sizeof *am);
    if (rag_gen_model_open(&q->cli.set, &am->gm, &err)) {
        as->why = rag_xasprintf(
            "The generator model could not be loaded (%s), so this answer is extractive.", err.msg);
        if (!q->cli.json && !q->cli.quiet) cli_error(&q->cli, "note: %s", as->why);
        as->opened = -1;
        return -1;
    }
    am->n_ctx = (size_t)am->gm.n_ctx;
    am->n_predict = (size_t)q->cli.set.model.max_tokens;
    as->opened = 1;
    if (!am->gm.model) return 0; /* a server: reached when the answer is asked for */
    llm_context_params cp;
    llm_context_default_params(&cp);
    cp.n_ctx = (int)am->n_ctx;
    cp.n_threads = (int)q->cli.set.model.threads; /* 0: every CPU */
    if (llm_context_new(am->gm.model, &cp, &am->ctx, &err)) return cli_fail(&q->cli, &err);
    return 0;
}

static void ask_print_json(ask_session *as, const ask_turn *t, const rag_prompt *pr,
                           const rag_generation *g, double prompt_build_ms)
{
    cli_query_opts *q = as->q;
    const ask_model *am = &as->am;
    const rag_citecheck *cc = &g->check;
    const llm_gen_stats *st = &g->stats;
    cJSON *j = json_start(t, cc->text, "generated");
    if (g->reasoning)
        cJSON_AddStringToObject(j, "reasoning", g->reasoning);
    else
        cJSON_AddNullToObject(j, "reasoning");
    const rag_backend *remote = &am->gm.remote;
    cJSON_AddStringToObject(j, "model", remote->url ? remote->model : q->cli.set.model.path);
    if (remote->url) /* without passwords; several servers: ", "-separated */
        cJSON_AddStringToObject(j, "remote", net_pool_shown(remote->pool));
    cJSON_AddStringToObject(j, "stop_reason", llm_stop_reason_name(st->stop));
    if (q->show_prompt) cJSON_AddStringToObject(j, "prompt", rag_buf_str(&pr->chat.text));
    cJSON *cites = cJSON_AddArrayToObject(j, "citations");
    for (size_t i = 0; i < cc->n_cited; i++) {
        const rag_block *b = &pr->blocks[cc->cited[i] - 1];
        size_t len;
        const char *text = rag_block_text(b, &len);
        char *snip = rag_snippet(text, len, 240);
        cJSON_AddItemToArray(cites, rag_citation_json(b->n, &b->src->hit, snip, NULL));
        rag_free(snip);
    }
    cJSON_AddItemToObject(j, "invalid_citations",
                          cJSON_CreateIntArray(cc->invalid, (int)cc->n_invalid));
    cJSON_AddNumberToObject(j, "context_blocks", (double)pr->n_blocks);
    json_rag(j, t, "generated");
    cJSON *usage = cJSON_AddObjectToObject(j, "usage");
    cJSON_AddNumberToObject(usage, "prompt_tokens", st->n_prompt);
    cJSON_AddNumberToObject(usage, "completion_tokens", st->n_generated);
    cJSON_AddNumberToObject(usage, "reasoning_tokens", g->n_reasoning);
    cJSON *tm = cJSON_AddObjectToObject(j, "timings");
    rag_timings_json(tm, &t->res);
    cJSON_AddNumberToObject(tm, "load_ms", am->gm.load_ms);
    cJSON_AddNumberToObject(tm, "prompt_build_ms", prompt_build_ms);
    cJSON_AddNumberToObject(tm, "prompt_ms", st->prompt_ms);
    cJSON_AddNumberToObject(tm, "generate_ms", st->gen_ms);
    cJSON_AddNumberToObject(tm, "total_ms", rag_now_ms() - t->t0);
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
    fflush(stdout);
    if (!q->cli.quiet)
        fprintf(stderr,
                "%sprompt %d tokens (%zu blocks) in %.0f ms, answer %d tokens in %.0f ms (%.1f "
                "tokens/s)%s\n",
                cli_dim(&q->cli), st->n_prompt, pr->n_blocks, st->prompt_ms, st->n_generated,
                st->gen_ms, st->gen_ms > 0 ? st->n_generated * 1e3 / st->gen_ms : 0,
                cli_reset(&q->cli));
}

/* The generated answer. Returns an exit status, or -1 when the model could
 * not be loaded (the caller falls back to extractive). */
static int ask_generate(ask_session *as, const ask_turn *t)
{
    cli_query_opts *q = as->q;
    rag_err err = {0};
    rag_prompt pr = {0};
    int rc = ask_model_get(as);
    if (rc) return rc;
    ask_model *am = &as->am;
    double t0 = rag_now_ms();
    rag_prompt_input in = {.question = t->question,
                           .results = &t->res,
                           .history = as->history,
                           .n_history = as->n_history,
                           .reasoning = rag_reasoning_default(q->cli.set.model.reasoning, 1)};
    const llm_model *m = am->gm.model;
    if (rag_prompt_build(m ? llm_model_vocab(m) : NULL, am->gm.fam, &in,
                         rag_prompt_budget(am->n_ctx, am->n_predict), &pr, &err)) {
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
    gp.n_predict = (int)am->n_predict;
    gp.sampling.temperature = q->temp_set ? q->temp : 0.0f;
    gp.sampling.top_p = (float)q->cli.set.model.top_p;
    if (q->seed) gp.sampling.seed = q->seed;
    ask_echo echo = {.echo = !q->cli.json && !as->rep && isatty(1),
                     .show_reasoning = q->show_reasoning,
                     .cli = &q->cli};
    signal(SIGINT, on_ask_sigint);
    rag_generator gen = {0};
    rag_gen_model_generator(&am->gm, am->ctx, &gen);
    rag_generation g;
    if (rag_generate(&gen, &pr, 1, &gp, on_text, on_reasoning, &echo, &g, &err)) {
        if (echo.echo) /* after the text that came before the failure */
            printf("%s\n", echo.reasoned ? cli_reset(&q->cli) : "");
        rc = cli_fail(&q->cli, &err);
        goto out;
    }
    if (echo.reasoned) fputs(cli_reset(&q->cli), stdout); /* it had no answer after it */
    if (as->rep) {
        cli_ask_report *rep = as->rep;
        rep->mode = "generated";
        rep->text = rag_xstrdup(g.check.text ? g.check.text : "");
        rep->prompt_tokens = g.stats.n_prompt;
        rep->completion_tokens = g.stats.n_generated;
        rep->prompt_ms = prompt_build_ms + g.stats.prompt_ms;
        rep->generate_ms = g.stats.gen_ms;
        rep->given = rag_xcalloc(pr.n_blocks ? pr.n_blocks : 1, sizeof *rep->given);
        for (size_t k = 0; k < pr.n_blocks; k++) {
            cli_ask_passage *p = &rep->given[rep->n_given++];
            p->doc_id = cli_doc_id(&pr.blocks[k].src->hit);
            size_t len;
            const char *text = rag_block_text(&pr.blocks[k], &len);
            p->text = rag_xstrndup(text, len);
            for (size_t i = 0; i < g.check.n_cited; i++)
                if (g.check.cited[i] == pr.blocks[k].n) p->n = pr.blocks[k].n;
        }
    } else if (q->cli.json) {
        ask_print_json(as, t, &pr, &g, prompt_build_ms);
    } else {
        ask_print_text(q, &pr, &g, echo.echo);
    }
    as->answer = rag_xstrdup(g.check.text ? g.check.text : "");
    rag_generation_free(&g);
out:
    rag_prompt_free(&pr);
    return rc;
}

/* The retrieval query of the question (rag/converse.h): the generator's
 * rewrite of a follow-up, else its expansion; a first turn's own text. */
static int ask_followup(ask_session *as, const char *question, rag_followup *fq, rag_err *err)
{
    cli_query_opts *q = as->q;
    rag_followup_mode mode = rag_followup_mode_of(q->cli.set.answer.followup);
    if (!rag_is_followup(as->history, as->n_history) || mode == RAG_FOLLOWUP_OFF) {
        memset(fq, 0, sizeof *fq);
        fq->query = rag_xstrdup(question);
        fq->how = "none";
        return 0;
    }
    if (mode == RAG_FOLLOWUP_REWRITE && as->model && ask_model_get(as) == 0) {
        ask_model *am = &as->am;
        const llm_model *m = am->gm.model;
        rag_prompt pr = {0};
        int rc = rag_rewrite_prompt(m ? llm_model_vocab(m) : NULL, am->gm.fam, as->history,
                                    as->n_history, question,
                                    rag_prompt_budget(am->n_ctx, RAG_REWRITE_TOKENS), &pr, err);
        llm_gen_params gp;
        rag_rewrite_gen_params(&gp);
        rag_generator gen = {0};
        rag_gen_model_generator(&am->gm, am->ctx, &gen);
        rag_generation g = {0};
        if (!rc) rc = rag_generate(&gen, &pr, 0, &gp, NULL, NULL, NULL, &g, err);
        rag_prompt_free(&pr);
        int refused = 1;
        if (!rc)
            refused = rag_rewrite_accept(q->cli.st, g.check.text ? g.check.text : "", as->history,
                                         as->n_history, question, fq, err);
        rag_generation_free(&g);
        if (refused <= 0) return refused;
        if (!q->cli.quiet && !q->cli.json && q->explain)
            fprintf(stderr, "%sthe generator's rewrite was not a query: expanded instead%s\n",
                    cli_dim(&q->cli), cli_reset(&q->cli));
    }
    return rag_followup_expand(q->cli.st, as->history, as->n_history, question, fq, err);
}

/* One question: retrieval, the cutoff, the answer. Returns an exit status;
 * as->answer gets the answer's text. */
static int ask_one(ask_session *as, const char *question)
{
    cli_query_opts *q = as->q;
    ask_turn t = {.question = question, .t0 = rag_now_ms()};
    rag_err err = {0};
    int rc;
    rag_free(as->answer);
    as->answer = NULL;
    if (ask_followup(as, question, &t.fq, &err)) return cli_fail(&q->cli, &err);
    if (q->explain && !q->cli.json && strcmp(t.fq.how, "none"))
        fprintf(stderr, "%sretrieval query (%s): %s%s\n", cli_dim(&q->cli), t.fq.how, t.fq.query,
                cli_reset(&q->cli));
    rag_retrieve_params rp;
    cli_retrieve_params(q, &rp, q->cli.set.search.answer_per_document);
    rp.want_snippet = 0;
    rp.embed_query = t.fq.embed_query;
    /* passages under the relevance cutoff are neither given to the model nor quoted */
    rag_cutoff cut;
    rag_cutoff_settings(&q->cli.set, &cut);
    if (rag_retrieve(q->cli.st, as->rt.embedder, as->rt.reranker, t.fq.query, &q->cli.who, &rp,
                     &t.res, &err)) {
        rc = cli_fail(&q->cli, &err);
        goto out;
    }
    if (rag_relevance(q->cli.st, t.fq.query, &t.res, &cut, &err)) {
        rc = cli_fail(&q->cli, &err);
        goto out;
    }
    rag_cutoff_apply(&t.res);
    if (as->rep) {
        const rag_results *r = &t.res;
        as->rep->retrieve_ms =
            r->embed_ms + r->keyword_ms + r->vector_ms + r->fuse_ms + r->rerank_ms;
        as->rep->rewrite_how = t.fq.how;
        if (strcmp(t.fq.how, "none")) as->rep->rewrite = rag_xstrdup(t.fq.query);
    }
    rc = -1;
    if (!t.res.n)
        rc = ask_none(as, &t);
    else if (as->model)
        rc = ask_generate(as, &t);
    if (rc < 0) rc = ask_extractive(as, &t);
out:
    if (as->rep) as->rep->total_ms = rag_now_ms() - t.t0;
    rag_results_free(&t.res);
    rag_followup_free(&t.fq);
    return rc;
}

static void history_add(ask_session *as, const char *role, const char *text)
{
    if (as->n_history == MAX_HISTORY) { /* the oldest turn goes */
        rag_free((char *)as->history[0].content);
        memmove(as->history, as->history + 1, (MAX_HISTORY - 1) * sizeof *as->history);
        as->n_history--;
    }
    as->history[as->n_history++] = (llm_chat_msg){role, rag_xstrdup(text)};
}

/* --history FILE: a JSON array of {role, content} (user or assistant). */
static int history_load(ask_session *as, const char *path, rag_err *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = rag_file_read(path, MAX_HISTORY_FILE, &text, &len, err);
    if (rc) return rc;
    cJSON *j = cJSON_ParseWithLength(text, len);
    rag_free(text);
    int n = cJSON_IsArray(j) ? cJSON_GetArraySize(j) : -1;
    if (n < 0 || n > MAX_HISTORY) {
        cJSON_Delete(j);
        return rag_err_set(err, RAG_ERR_FORMAT, "%s: expected a JSON array of at most %d messages",
                           path, MAX_HISTORY);
    }
    int i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, j)
    {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        int user = cJSON_IsString(role) && !strcmp(role->valuestring, "user");
        if (!user && !(cJSON_IsString(role) && !strcmp(role->valuestring, "assistant"))) {
            rc = rag_err_set(err, RAG_ERR_FORMAT,
                             "%s: [%d].role: expected \"user\" or \"assistant\"", path, i);
            break;
        }
        if (!cJSON_IsString(content)) {
            rc = rag_err_set(err, RAG_ERR_FORMAT, "%s: [%d].content: expected a string", path, i);
            break;
        }
        history_add(as, user ? "user" : "assistant", content->valuestring);
        i++;
    }
    cJSON_Delete(j);
    return rc;
}

static void session_free(ask_session *as)
{
    if (as->opened > 0) ask_model_close(&as->am);
    rag_retrieval_close(&as->rt);
    for (size_t i = 0; i < as->n_history; i++)
        rag_free((char *)as->history[i].content);
    rag_free(as->history);
    rag_free(as->answer);
    rag_free(as->why);
}

static int session_open(ask_session *as, cli_query_opts *q)
{
    memset(as, 0, sizeof *as);
    as->q = q;
    as->history = rag_xcalloc(MAX_HISTORY, sizeof *as->history);
    as->model = (q->cli.set.model.path || q->cli.set.model.url) && !q->extractive;
    return cli_open_retrieval(q, &as->rt);
}

/* ---- answering without printing ------------------------------------------------ */

int cli_ask_session_open(cli_query_opts *q, cli_ask_session **out)
{
    *out = rag_xcalloc(1, sizeof **out);
    return session_open(*out, q);
}

void cli_ask_session_close(cli_ask_session *as)
{
    if (!as) return;
    session_free(as);
    rag_free(as);
}

int cli_ask_report_one(cli_ask_session *as, const llm_chat_msg *history, size_t n,
                       const char *question, cli_ask_report *rep)
{
    for (size_t i = 0; i < as->n_history; i++)
        rag_free((char *)as->history[i].content);
    as->n_history = 0;
    for (size_t i = 0; i < n; i++)
        history_add(as, history[i].role, history[i].content);
    memset(rep, 0, sizeof *rep);
    as->rep = rep;
    int rc = ask_one(as, question);
    as->rep = NULL;
    return rc;
}

void cli_ask_report_free(cli_ask_report *rep)
{
    rag_free(rep->text);
    rag_free(rep->rewrite);
    for (size_t i = 0; i < rep->n_given; i++) {
        rag_free(rep->given[i].doc_id);
        rag_free(rep->given[i].text);
    }
    rag_free(rep->given);
    memset(rep, 0, sizeof *rep);
}

int cli_ask(int argc, char **argv)
{
    cli_query_opts q = {.cli = {.cmd = "ask"}, .is_ask = 1};
    ask_session as = {0};
    int rc;
    if (cli_parse_query_opts(argc, argv, &q, &rc) < 0) goto out;
    if ((rc = session_open(&as, &q))) goto out;
    rag_err err = {0};
    if (q.history_file && history_load(&as, q.history_file, &err)) {
        rc = cli_fail(&q.cli, &err);
        goto out;
    }
    rc = ask_one(&as, q.query);
out:
    session_free(&as);
    rag_free(q.query);
    cli_teardown(&q.cli);
    return rc;
}

int cli_chat(int argc, char **argv)
{
    cli_query_opts q = {.cli = {.cmd = "chat"}, .is_ask = 1, .is_chat = 1};
    ask_session as = {0};
    int rc;
    if (cli_parse_query_opts(argc, argv, &q, &rc) < 0) goto out;
    if ((rc = session_open(&as, &q))) goto out;
    int tty = isatty(0) && isatty(1) && !q.cli.json;
    if (tty)
        printf("%sAsk about your documents; an empty line ends, /reset forgets the "
               "conversation.%s\n",
               cli_dim(&q.cli), cli_reset(&q.cli));
    char *line = NULL;
    size_t cap = 0;
    int answered = 0, unanswered = 0;
    for (;;) {
        if (tty) {
            printf("\n%s> %s", cli_bold(&q.cli), cli_reset(&q.cli));
            fflush(stdout);
        }
        ssize_t n = getline(&line, &cap, stdin);
        if (n < 0) break;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (!n) break;
        if (!strcmp(line, "/reset")) {
            for (size_t i = 0; i < as.n_history; i++)
                rag_free((char *)as.history[i].content);
            as.n_history = 0;
            continue;
        }
        if (tty) putchar('\n');
        ask_interrupted = 0;
        int r = ask_one(&as, line);
        if (r != CLI_EXIT_OK && r != CLI_EXIT_NO_ANSWER) {
            rc = r;
            break;
        }
        r == CLI_EXIT_OK ? answered++ : unanswered++;
        history_add(&as, "user", line);
        history_add(&as, "assistant", as.answer ? as.answer : "");
        if (ask_interrupted) break;
    }
    free(line);
    if (!rc && !answered && unanswered) rc = CLI_EXIT_NO_ANSWER;
out:
    session_free(&as);
    rag_free(q.query);
    cli_teardown(&q.cli);
    return rc;
}
