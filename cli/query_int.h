/* cli/query_int.h: what `rag search` and `rag ask` share (cli/query.c):
 * their options, and the retrieval set up from them. Private to cli/. */
#ifndef RAG_CLI_QUERY_INT_H
#define RAG_CLI_QUERY_INT_H

#include "cli/cli.h"
#include "rag/backend.h"
#include "rag/retrieve.h"

#include <stdint.h>

/* The usage texts (cli/search.c, cli/ask.c), printed by --help. */
extern const char cli_search_usage[], cli_ask_usage[];

/* Options shared by search and ask; the settings they set (-k, --mode,
 * --rerank, ...) are in q->cli.set after cli_setup. */
typedef struct cli_query_opts {
    cli_ctx cli;
    int is_ask;
    int chunks, explain, show_prompt, show_reasoning, temp_set;
    float temp;
    uint64_t seed;
    char *query;
} cli_query_opts;

/* Parses the options of search/ask; returns -1 (done, exit with *rc). */
int cli_parse_query_opts(int argc, char **argv, cli_query_opts *q, int *rc);

/* The embedding model and, with --rerank, the reranker (rag/backend.h). */
int cli_open_retrieval(cli_query_opts *q, rag_retrieval_models *r);

/* The retrieval parameters of the settings and options. */
void cli_retrieve_params(const cli_query_opts *q, rag_retrieve_params *rp, int per_document);

#endif
