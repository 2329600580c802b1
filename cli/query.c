/* cli/query.c: what `rag search` and `rag ask` share: their options, and
 * the retrieval set up from them (the embedding model, the reranker, the
 * parameters of rag/retrieve.c). */
#include "base/mem.h"
#include "cli/query_int.h"

#include <stdlib.h>
#include <string.h>

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

/* Parses the options of search/ask; returns -1 (done, exit with *rc). */
int cli_parse_query_opts(int argc, char **argv, cli_query_opts *q, int *rc)
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
        O_SHOW,
        O_HISTORY,
        O_ANSWERS,
        O_JUDGE,
        O_JUDGE_MODEL,
        O_EXTRACTIVE,
        O_REASONING,
        O_SHOW_REASONING
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
                                         {"history", required_argument, NULL, O_HISTORY},
                                         {"answers", required_argument, NULL, O_ANSWERS},
                                         {"judge", required_argument, NULL, O_JUDGE},
                                         {"judge-model", required_argument, NULL, O_JUDGE_MODEL},
                                         {"extractive", no_argument, NULL, O_EXTRACTIVE},
                                         {"reasoning", required_argument, NULL, O_REASONING},
                                         {"show-reasoning", no_argument, NULL, O_SHOW_REASONING},
                                         CLI_COMMON_OPTIONS,
                                         {0, 0, 0, 0}};
    const char *usage = q->is_eval   ? cli_eval_answers_usage
                        : q->is_chat ? cli_chat_usage
                        : q->is_ask  ? cli_ask_usage
                                     : cli_search_usage;
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
        case O_REASONING:
            cli_flag(&q->cli, "model.reasoning", optarg, "--reasoning");
            break;
        case O_SHOW_REASONING:
            q->show_reasoning = 1;
            break;
        case O_HISTORY:
            if (!q->is_ask || q->is_chat) {
                *rc = cli_usage_error(&q->cli, "--history is an option of rag ask");
                return -1;
            }
            q->history_file = optarg;
            break;
        case O_ANSWERS:
        case O_JUDGE:
        case O_JUDGE_MODEL:
        case O_EXTRACTIVE:
            if (!q->is_eval) {
                *rc = cli_usage_error(&q->cli, "unknown option");
                return -1;
            }
            if (c == O_ANSWERS) q->answers_file = optarg;
            if (c == O_JUDGE) q->judge_url = optarg;
            if (c == O_JUDGE_MODEL) q->judge_model = optarg;
            if (c == O_EXTRACTIVE) q->extractive = 1;
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
            *rc = CLI_EXIT_OK;
            return -1;
        default:
            *rc = cli_usage_error(&q->cli, "unknown option");
            return -1;
        }
        if (bad) {
            *rc = CLI_EXIT_USAGE;
            return -1;
        }
    }
    if (q->is_chat && optind < argc) {
        *rc = cli_usage_error(&q->cli,
                              q->is_eval ? "unexpected argument '%s'"
                                         : "rag chat reads its questions from standard "
                                           "input (unexpected '%s')",
                              argv[optind]);
        return -1;
    }
    if (!q->is_chat && optind >= argc) {
        *rc = cli_usage_error(&q->cli, "no %s given", q->is_ask ? "QUESTION" : "QUERY");
        return -1;
    }
    if (!q->is_chat) q->query = join_args(argc, argv);
    *rc = cli_setup(&q->cli, 1);
    if (*rc) return -1;
    return 0;
}

/* The embedding model and, with --rerank, the reranker (rag/backend.h). */
int cli_open_retrieval(cli_query_opts *q, rag_retrieval_models *r)
{
    const rag_settings *set = &q->cli.set;
    const char *mode = cli_search_mode(&q->cli);
    rag_err err = {0};
    if (rag_retrieval_open(set, q->cli.st, mode, set->search.rerank ? RAG_RETRIEVAL_RERANK : 0, r,
                           &err))
        return cli_fail(&q->cli, &err);
    if (mode && !strcmp(mode, "vector") && !r->embedder) {
        cli_error(&q->cli, "%s: search.mode vector: %s", rag_settings_where(set, "search.mode"),
                  r->note);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

void cli_retrieve_params(const cli_query_opts *q, rag_retrieve_params *rp, int per_document)
{
    rag_retrieve_settings(&q->cli.set, cli_search_mode(&q->cli), rp);
    rp->k = (size_t)(q->is_ask ? q->cli.set.search.answer_k : q->cli.set.search.k);
    rp->per_document = per_document;
    rp->hl_open = q->cli.color ? "\x01" : "**";
    rp->hl_close = q->cli.color ? "\x02" : "**";
}

char *cli_doc_id(const store_hit *h)
{
    if (h->ext_id) return rag_xstrdup(h->ext_id);
    const char *base = strrchr(h->uri, '/');
    base = base ? base + 1 : h->uri;
    const char *dot = strrchr(base, '.');
    return rag_xstrndup(base, dot && dot != base ? (size_t)(dot - base) : strlen(base));
}
