/* cli/cli.h: what the `rag` subcommands share: common options, the config
 * file, opening the database, terminal output and JSON printing. Private to
 * the command-line program (the files of cli/). */
#ifndef RAG_CLI_CLI_H
#define RAG_CLI_CLI_H

#include "base/config.h"
#include "base/err.h"
#include "base/principal.h"
#include "embed/embed.h"
#include "store/store.h"

#include <cJSON.h>
#include <getopt.h>
#include <stdio.h>

/* Exit statuses of `rag` (documented in the README). */
enum {
    RAG_EXIT_OK = 0,
    RAG_EXIT_ERROR = 1,   /* the command failed */
    RAG_EXIT_USAGE = 2,   /* bad command line or configuration */
    RAG_EXIT_PARTIAL = 3, /* ingest finished but some files failed */
    RAG_EXIT_INTERRUPTED = 130,
};

typedef struct rag_cli {
    const char *cmd; /* "search", "docs list", ... for messages */
    const char *db_flag, *config_flag, *as_flag;
    int json, quiet;
    int color;         /* stdout is a terminal and NO_COLOR is unset */
    rag_config *cfg;   /* never NULL after cli_setup */
    rag_principal who; /* --as roles, or the local administrator */
    store *st;
} rag_cli;

/* Long options every subcommand accepts; append to a command's table. */
#define CLI_COMMON_OPTIONS                                                                     \
    {"db", required_argument, NULL, 'D'}, {"config", required_argument, NULL, 'C'},                \
        {"json", no_argument, NULL, 'J'}, {"as", required_argument, NULL, 'A'},                    \
        {"quiet", no_argument, NULL, 'q'},                                                         \
    {                                                                                              \
        "help", no_argument, NULL, 'h'                                                             \
    }

/* Handles a common option; returns 1 when it was one. */
int cli_common_opt(rag_cli *cli, int c, const char *arg);

/* Loads the config, builds the principal, and opens the database (unless
 * open_db is 0). On failure prints the reason and returns an exit status. */
int cli_setup(rag_cli *cli, int open_db);
void cli_teardown(rag_cli *cli);

/* A progress bar on stderr: "42% [####......] 620/1460 files  3.1/7.4 MB
 * 1.2 MB/s  ETA 0:04", redrawn at most ten times a second. */
typedef struct cli_bar {
    int enabled;
    double last_draw;
    size_t width; /* characters on the line now */
} cli_bar;

/* bytes_total < 0: no byte figures (the rate is then items per second). */
void cli_bar_draw(cli_bar *b, const char *unit, size_t done, size_t total,
                      double bytes_done, double bytes_total, double seconds);
void cli_bar_clear(cli_bar *b);

/* The model file for a role: the flag's value, else the environment
 * variable, else the config key; NULL when none is configured. For the
 * embedding model (key embed.model) and the generator (model.path) it may
 * be a server's URL instead, read as rag_backend_read does (embed.url,
 * model.url and their variables). */
const char *cli_model_path(const rag_cli *cli, const char *flag, const char *env,
                               const char *key);
/* Opens an embedding or reranking model with the config's prefixes
 * (embed.query_prefix, embed.doc_prefix), or, when path is a URL, the
 * embedding server there ([embed] remote_model, api_key, remote_ctx,
 * timeout, retries); prints the reason on failure and returns an exit
 * status. */
int cli_open_embedder(rag_cli *cli, const char *path, emb_model **out);

/* ---- retrieval as rag search does it (cli/search.c) ---- */
/* Resolves the retrieval mode: *mode from --mode (checked), else the
 * config's search.mode; NULL means hybrid when vectors exist. Returns -1
 * after reporting a bad value. */
int cli_search_mode(rag_cli *cli, const char **mode);

typedef struct cli_retrieval {
    emb_model *embedder, *reranker; /* NULL: that stage is off */
    int keyword;                    /* the keyword stage is on */
    char *note;                     /* why the vector stage is off, for --explain and stderr */
} cli_retrieval;

/* Opens the models a mode needs: the embedding model (embed_model, else
 * $RAG_EMBED_MODEL, else embed.model) when the database holds its vectors,
 * and with rerank the cross-encoder. Returns an exit status (reported). */
int cli_open_retrieval(rag_cli *cli, const char *mode, const char *embed_model, int rerank,
                           const char *rerank_model, cli_retrieval *r);
/* "keyword", "vector" or "hybrid": the stages that run. */
const char *cli_retrieval_mode(const cli_retrieval *r);
void cli_close_retrieval(cli_retrieval *r);

/* Prints "rag CMD: message" to stderr. */
void cli_error(const rag_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints a rag_err and returns RAG_EXIT_ERROR. */
int cli_fail(const rag_cli *cli, const rag_err *err);
/* Prints a usage error and the hint to see --help; returns RAG_EXIT_USAGE. */
int cli_usage_error(const rag_cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A path for display: relative to the working directory when under it,
 * made safe for a terminal as cli_safe does. */
const char *cli_display_path(const char *uri, char *buf, size_t size);

/* Text from documents (names, titles, headings, snippets) for a terminal:
 * control characters (C0, DEL, C1) and bytes that are not UTF-8 are shown
 * escaped as \xNN, so that a file name cannot move the cursor, retitle the
 * window or hide itself. cli_safe writes at most size bytes into buf
 * (cut at a whole character) and returns buf; cli_put_safe writes to f,
 * with keep_lines keeping line breaks and tabs. JSON output needs neither:
 * its strings are escaped. */
const char *cli_safe(const char *s, char *buf, size_t size);
void cli_put_safe(FILE *f, const char *s, int keep_lines);

/* The part of a heading path worth showing next to the title: without a
 * leading "TITLE › " (the first heading is usually the title), NULL when
 * nothing is left. */
const char *cli_heading_shown(const char *title, const char *heading_path);

/* Prints JSON (pretty) to stdout and frees it. */
void cli_print_json(cJSON *j);

/* ANSI styles when colour is on, "" otherwise. */
const char *cli_bold(const rag_cli *cli);
const char *cli_dim(const rag_cli *cli);
const char *cli_reset(const rag_cli *cli);

/* The subcommands. */
int cli_ingest(int argc, char **argv);
int cli_search(int argc, char **argv);
int cli_ask(int argc, char **argv);
int cli_docs(int argc, char **argv);
int cli_stats(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_generate(int argc, char **argv);
int cli_tokenize(int argc, char **argv);
int cli_logits(int argc, char **argv);
int cli_model_info(int argc, char **argv);
int cli_quantize(int argc, char **argv);
int cli_embed(int argc, char **argv);
int cli_rerank(int argc, char **argv);
int cli_reembed(int argc, char **argv);
int cli_index(int argc, char **argv);
int cli_keys(int argc, char **argv);
int cli_pull(int argc, char **argv);
int cli_models(int argc, char **argv);
int cli_bench_model(int argc, char **argv);
int cli_bench_embed(int argc, char **argv);

#endif
