/* cli/main.c: the `rag` command line: dispatches to the subcommands. */
#include "cli/cli.h"
#include "store/store.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef RAG_VERSION
#define RAG_VERSION "0.1.0"
#endif

static const char usage[] =
    "usage: rag COMMAND [options]\n"
    "\n"
    "Answers questions from your own documents, with citations, on this machine.\n"
    "\n"
    "commands:\n"
    "  ingest PATH...     add or update files and directories\n"
    "  search QUERY       keyword search over the documents you may see\n"
    "  ask QUESTION       an answer with numbered citations\n"
    "  docs list|show|rm  list, inspect or remove documents\n"
    "  stats              documents, chunks and size per ACL group\n"
    "  check              verify (and --repair) the database\n"
    "  index              rebuild or check the vector indexes\n"
    "  eval               retrieval quality against relevance judgments\n"
    "  keys add|list|rm   API keys of the daemon\n"
    "  serve              run the query daemon (as ragd; 'rag serve --help')\n"
    "\n"
    "model commands:\n"
    "  generate           stream a local GGUF model's continuation or chat reply\n"
    "  tokenize           token ids of a text\n"
    "  logits             logits of a token sequence, to a file\n"
    "  model-info         what a GGUF model is\n"
    "  quantize           convert a model's weights to another type\n"
    "  embed              vectors of texts from an embedding model\n"
    "  rerank             relevance scores of passages from a reranker\n"
    "  reembed            embed every chunk with (another) embedding model\n"
    "  pull NAME|URL      download a model (resumable, verified)\n"
    "  models             list, show or remove downloaded models\n"
    "  bench-model        prefill, decode and first-token speed of a model here\n"
    "  bench-embed        embedding speed of an encoder here\n"
    "\n"
    "'rag COMMAND --help' describes a command. Common options: --db PATH,\n"
    "--config FILE, --json, --as ROLE,... (act as a principal with these roles).\n";

/* `rag serve` is the daemon: the `ragd` program beside this one (the same
 * build or installation), else the first `ragd` on PATH. The daemon is its
 * own program (ragd/), so the command line does not carry the HTTP server. */
static int cli_serve(int argc, char **argv)
{
    (void)argc;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    argv[0] = "ragd";
    if (n > 0) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash && (size_t)(slash - self) + sizeof "/ragd" <= sizeof self) {
            strcpy(slash, "/ragd");
            if (!access(self, X_OK)) execv(self, argv);
        }
    }
    execvp("ragd", argv);
    fprintf(stderr, "rag serve: cannot run ragd (%s); install it beside rag or on PATH\n",
            strerror(errno));
    return RAG_EXIT_ERROR;
}

static const struct {
    const char *name;
    int (*run)(int, char **);
} commands[] = {
    {"ingest", cli_ingest}, {"search", cli_search}, {"ask", cli_ask},
    {"docs", cli_docs},     {"stats", cli_stats},   {"check", cli_check},
    {"eval", cli_eval},     {"generate", cli_generate}, {"tokenize", cli_tokenize},
    {"logits", cli_logits}, {"model-info", cli_model_info},
    {"quantize", cli_quantize}, {"embed", cli_embed}, {"rerank", cli_rerank},
    {"reembed", cli_reembed}, {"index", cli_index}, {"keys", cli_keys},
    {"serve", cli_serve},       {"pull", cli_pull},     {"models", cli_models},
    {"bench-model", cli_bench_model}, {"bench-embed", cli_bench_embed},
};

/* Lets common options come before the command ("rag --db X search q") by
 * moving them after it, where the command's own parser reads them. */
static void hoist_command(int argc, char **argv)
{
    static const char *const with_value[] = {"--db", "--config", "--as", NULL};
    int i = 1;
    while (i < argc && argv[i][0] == '-' && strcmp(argv[i], "--help") && strcmp(argv[i], "-h") &&
           strcmp(argv[i], "--version")) {
        int takes = 0;
        for (const char *const *w = with_value; *w; w++) takes |= !strcmp(argv[i], *w);
        i += takes ? 2 : 1;
    }
    if (i == 1 || i >= argc) return;
    char *cmd = argv[i];
    memmove(argv + 2, argv + 1, (size_t)(i - 1) * sizeof *argv);
    argv[1] = cmd;
}

int main(int argc, char **argv)
{
    hoist_command(argc, argv);
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
        !strcmp(argv[1], "help")) {
        if (argc >= 3 && !strcmp(argv[1], "help")) {
            char *help_argv[] = {argv[2], "--help", NULL};
            for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
                if (!strcmp(argv[2], commands[i].name)) return commands[i].run(2, help_argv);
        }
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? RAG_EXIT_USAGE : RAG_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("rag %s (database schema %d)\n", RAG_VERSION, store_schema_version());
        return RAG_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "rag: unknown command '%s' (see 'rag --help')\n", argv[1]);
    return RAG_EXIT_USAGE;
}
