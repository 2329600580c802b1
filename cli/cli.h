/* cli/cli.h: what the `rag` subcommands share: common options, the config
 * file, opening the database, terminal output and JSON printing. Private to
 * the command-line program (the files of cli/). */
#ifndef RAG_CLI_CLI_H
#define RAG_CLI_CLI_H

#include "base/err.h"
#include "base/principal.h"
#include "cluster/cluster.h"
#include "embed/embed.h"
#include "rag/backend.h"
#include "rag/settings.h"
#include "store/store.h"

#include <cJSON.h>
#include <getopt.h>
#include <stdio.h>

/* Exit statuses of `rag` (documented in the README). */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_ERROR = 1,     /* the command failed */
    CLI_EXIT_USAGE = 2,     /* bad command line or configuration */
    CLI_EXIT_PARTIAL = 3,   /* ingest finished but some files failed */
    CLI_EXIT_NO_ANSWER = 4, /* rag ask: the documents the principal may see do not answer */
    CLI_EXIT_INTERRUPTED = 130,
};

enum { CLI_MAX_FLAGS = 32 };

typedef struct cli_ctx {
    const char *cmd; /* "search", "docs list", ... for messages */
    const char *config_flag, *as_flag;
    int json, quiet;
    int color;                             /* stdout is a terminal and NO_COLOR is unset */
    rag_settings set;                      /* every setting, resolved by cli_setup */
    rag_setting_flag flags[CLI_MAX_FLAGS]; /* settings given as flags (cli_flag) */
    size_t n_flags;
    rag_principal who; /* --as roles, or the local administrator */
    store *st;         /* the database; in cluster mode this machine's replica */
    /* Cluster mode (db is a PostgreSQL URL): the connection, NULL when the
     * cluster could not be reached (read commands then use the replica as
     * it is, saying so). */
    int cluster;
    struct clu *clu;
} cli_ctx;

/* Notes a flag that sets a setting (key of rag/settings.c) before
 * cli_setup resolves them all; name is the flag as shown in messages. */
void cli_flag(cli_ctx *cli, const char *key, const char *value, const char *name);

/* Long options every subcommand accepts; append to a command's table. */
enum { CLI_OPT_REPLICA = 999 }; /* a long option without a letter */
#define CLI_COMMON_OPTIONS                                                                         \
    {"db", required_argument, NULL, 'D'}, {"replica", required_argument, NULL, CLI_OPT_REPLICA},   \
        {"config", required_argument, NULL, 'C'}, {"json", no_argument, NULL, 'J'},                \
        {"as", required_argument, NULL, 'A'}, {"quiet", no_argument, NULL, 'q'},                   \
    {                                                                                              \
        "help", no_argument, NULL, 'h'                                                             \
    }

/* Handles a common option; returns 1 when it was one. */
int cli_common_opt(cli_ctx *cli, int c, const char *arg);

/* Loads the config file and resolves every setting (flags, environment,
 * file, defaults: rag/settings.h), builds the principal, and opens the
 * database (unless open_db is CLI_DB_NONE). On failure prints the reason and
 * returns an exit status. In cluster mode, CLI_DB_OPEN opens this machine's
 * replica and brings it up to date first (when the cluster is unreachable,
 * with a warning, as it is); CLI_DB_CLUSTER connects to the cluster only and
 * fails when that is impossible; CLI_DB_WRITE does both and requires the
 * cluster. Without a cluster, all three open the SQLite database. */
enum { CLI_DB_NONE = 0, CLI_DB_OPEN = 1, CLI_DB_CLUSTER = 2, CLI_DB_WRITE = 3 };
int cli_setup(cli_ctx *cli, int open_db);
/* In cluster mode, brings the replica up to date (after a write through the
 * cluster); a failure is a warning. */
void cli_cluster_follow(cli_ctx *cli);
void cli_teardown(cli_ctx *cli);

/* A progress bar on stderr: "42% [####......] 620/1460 files  3.1/7.4 MB
 * 1.2 MB/s  ETA 0:04", redrawn at most ten times a second. */
typedef struct cli_bar {
    int enabled;
    double last_draw;
    size_t width; /* characters on the line now */
} cli_bar;

/* bytes_total < 0: no byte figures (the rate is then items per second). */
void cli_bar_draw(cli_bar *b, const char *unit, size_t done, size_t total, double bytes_done,
                  double bytes_total, double seconds);
void cli_bar_clear(cli_bar *b);

/* Opens the embedding model of the settings (embed.model or embed.url),
 * or with rerank the reranker (rerank.model); *out stays NULL when none is
 * configured. Prints the reason on failure and returns an exit status. */
int cli_open_embedder(cli_ctx *cli, int rerank, emb_model **out);

/* The retrieval mode of the settings (search.mode, --mode): NULL for
 * hybrid, which is what no mode means. */
const char *cli_search_mode(const cli_ctx *cli);

/* Prints "rag CMD: message" to stderr. */
void cli_error(const cli_ctx *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints a rag_err and returns CLI_EXIT_ERROR. */
int cli_fail(const cli_ctx *cli, const rag_err *err);
/* Prints a usage error and the hint to see --help; returns CLI_EXIT_USAGE. */
int cli_usage_error(const cli_ctx *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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
const char *cli_bold(const cli_ctx *cli);
const char *cli_dim(const cli_ctx *cli);
const char *cli_reset(const cli_ctx *cli);

/* The subcommands. */
int cli_ingest(int argc, char **argv);
int cli_worker(int argc, char **argv);
int cli_jobs(int argc, char **argv);
int cli_search(int argc, char **argv);
int cli_ask(int argc, char **argv);
int cli_chat(int argc, char **argv);
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
int cli_feedback(int argc, char **argv);
int cli_pull(int argc, char **argv);
int cli_models(int argc, char **argv);
int cli_bench_model(int argc, char **argv);
int cli_bench_embed(int argc, char **argv);
int cli_config(int argc, char **argv);
int cli_serve(int argc, char **argv);

#endif
