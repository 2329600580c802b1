/* cli/main.c: the `rag` command line: dispatches to the subcommands. */
#include "base/mem.h"
#include "cli/cli.h"
#include "store/store.h"

#include <stdio.h>
#include <string.h>

#ifndef RAG_VERSION
#define RAG_VERSION "0.1.0"
#endif

/* Every command, in the order of the usage text, which is made from this
 * table: its name, what runs it, its section and one line of help. */
static const struct command {
    const char *name;
    int (*run)(int, char **);
    int models; /* listed under "model commands" */
    const char *args, *help;
} commands[] = {
    {"ingest", cli_ingest, 0, "PATH...", "add or update files and directories"},
    {"worker", cli_worker, 0, "", "process a cluster's ingest queue"},
    {"jobs", cli_jobs, 0, "", "a cluster's ingest queue and its workers"},
    {"search", cli_search, 0, "QUERY", "keyword search over the documents you may see"},
    {"ask", cli_ask, 0, "QUESTION", "an answer with numbered citations"},
    {"chat", cli_chat, 0, "", "a conversation: questions from standard input, with follow-ups"},
    {"docs", cli_docs, 0, "list|show|rm", "list, inspect or remove documents"},
    {"stats", cli_stats, 0, "", "documents, chunks and size per ACL group"},
    {"check", cli_check, 0, "", "verify (and --repair) the database"},
    {"index", cli_index, 0, "", "rebuild or check the vector indexes"},
    {"eval", cli_eval, 0, "", "retrieval quality against relevance judgments"},
    {"keys", cli_keys, 0, "add|list|rm", "API keys of the daemon"},
    {"feedback", cli_feedback, 0, "list|export",
     "ratings of the daemon's answers, with the answers"},
    {"config", cli_config, 0, "", "every setting, its value and where it came from"},
    {"serve", cli_serve, 0, "", "run the query daemon (as ragd; 'rag serve --help')"},
    {"generate", cli_generate, 1, "", "stream a local GGUF model's continuation or chat reply"},
    {"tokenize", cli_tokenize, 1, "", "token ids of a text"},
    {"logits", cli_logits, 1, "", "logits of a token sequence, to a file"},
    {"model-info", cli_model_info, 1, "", "what a GGUF model is"},
    {"quantize", cli_quantize, 1, "", "convert a model's weights to another type"},
    {"embed", cli_embed, 1, "", "vectors of texts from an embedding model"},
    {"rerank", cli_rerank, 1, "", "relevance scores of passages from a reranker"},
    {"reembed", cli_reembed, 1, "", "embed every chunk with (another) embedding model"},
    {"pull", cli_pull, 1, "NAME|URL", "download a model (resumable, verified)"},
    {"models", cli_models, 1, "", "list, show or remove downloaded models"},
    {"bench-model", cli_bench_model, 1, "",
     "prefill, decode and first-token speed of a model here"},
    {"bench-embed", cli_bench_embed, 1, "", "embedding speed of an encoder here"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void print_usage(FILE *f)
{
    fputs("usage: rag COMMAND [options]\n\n"
          "Answers questions from your own documents, with citations, on this machine.\n",
          f);
    for (int models = 0; models < 2; models++) {
        fputs(models ? "\nmodel commands:\n" : "\ncommands:\n", f);
        for (size_t i = 0; i < N_COMMANDS; i++) {
            if (commands[i].models != models) continue;
            char left[64];
            snprintf(left, sizeof left, "%s %s", commands[i].name, commands[i].args);
            fprintf(f, "  %-21s%s\n", left, commands[i].help);
        }
    }
    fputs("\n'rag COMMAND --help' describes a command. Common options: --db PATH,\n"
          "--config FILE, --json, --as ROLE,... (act as a principal with these roles).\n",
          f);
}

/* Lets common options come before the command ("rag --db X search q") by
 * moving them after it, where the command's own parser reads them. */
static void hoist_command(int argc, char **argv)
{
    static const char *const with_value[] = {"--db", "--config", "--as", NULL};
    int i = 1;
    while (i < argc && argv[i][0] == '-' && strcmp(argv[i], "--help") && strcmp(argv[i], "-h") &&
           strcmp(argv[i], "--version")) {
        int takes = 0;
        for (const char *const *w = with_value; *w; w++)
            takes |= !strcmp(argv[i], *w);
        i += takes ? 2 : 1;
    }
    if (i == 1 || i >= argc) return;
    char *cmd = argv[i];
    memmove(argv + 2, argv + 1, (size_t)(i - 1) * sizeof *argv);
    argv[1] = cmd;
}

int main(int argc, char **argv)
{
    rag_mem_tune();
    hoist_command(argc, argv);
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
        !strcmp(argv[1], "help")) {
        if (argc >= 3 && !strcmp(argv[1], "help")) {
            char *help_argv[] = {argv[2], "--help", NULL};
            for (size_t i = 0; i < N_COMMANDS; i++)
                if (!strcmp(argv[2], commands[i].name)) return commands[i].run(2, help_argv);
        }
        print_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("rag %s (database schema %d)\n", RAG_VERSION, store_schema_version());
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "rag: unknown command '%s' (see 'rag --help')\n", argv[1]);
    return CLI_EXIT_USAGE;
}
