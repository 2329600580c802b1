/* cli/query_int.h: what `rag search` and `rag ask` share (cli/query.c):
 * their options, and the retrieval set up from them. Private to cli/. */
#ifndef RAG_CLI_QUERY_INT_H
#define RAG_CLI_QUERY_INT_H

#include "cli/cli.h"
#include "llm/llm.h"
#include "rag/backend.h"
#include "rag/retrieve.h"

#include <stdint.h>

/* The usage texts (cli/search.c, cli/ask.c), printed by --help. */
extern const char cli_search_usage[], cli_ask_usage[], cli_chat_usage[], cli_eval_answers_usage[];

/* Options shared by search and ask; the settings they set (-k, --mode,
 * --rerank, ...) are in q->cli.set after cli_setup. */
typedef struct cli_query_opts {
    cli_ctx cli;
    int is_ask, is_chat; /* chat: no question on the command line */
    int chunks, explain, show_prompt, show_reasoning, temp_set;
    float temp;
    uint64_t seed;
    char *query;
    const char *history_file; /* ask --history */
    int is_eval, extractive;  /* rag eval --answers; its --extractive */
    const char *answers_file, *judge_url, *judge_model, *judge_key;
} cli_query_opts;

/* Parses the options of search/ask; returns -1 (done, exit with *rc). */
int cli_parse_query_opts(int argc, char **argv, cli_query_opts *q, int *rc);

/* The embedding model and, with --rerank, the reranker (rag/backend.h). */
int cli_open_retrieval(cli_query_opts *q, rag_retrieval_models *r);

/* ---- answering without printing (rag eval --answers) ---------------------- */
typedef struct cli_ask_passage {
    char *doc_id; /* cli_doc_id */
    char *text;   /* what the answer was written from (a prompt block: its part used) */
    int n;        /* its number in the answer's [n] markers; 0: not cited */
} cli_ask_passage;

/* What one answer was, as rag ask --json would show it. */
typedef struct cli_ask_report {
    int abstained;    /* rag.answer "none" */
    const char *mode; /* "extractive" or "generated" */
    char *text;       /* the answer with its [n] markers */
    const char *rewrite_how;
    char *rewrite;          /* the retrieval query of a follow-up (NULL: a first turn) */
    cli_ask_passage *given; /* the passages the answer was written from, in order */
    size_t n_given;
    int prompt_tokens, completion_tokens;
    double retrieve_ms, prompt_ms, generate_ms, total_ms;
} cli_ask_report;

typedef struct cli_ask_session cli_ask_session;

/* Opens what answers need (retrieval models; the generator when first
 * used) with q's settings; q->extractive: no generator. */
int cli_ask_session_open(cli_query_opts *q, cli_ask_session **out);
/* Answers question after history (n turns, borrowed) as q->cli.who, filling
 * rep instead of printing. Returns 0, CLI_EXIT_NO_ANSWER (abstained), or an
 * exit status after printing the error. */
int cli_ask_report_one(cli_ask_session *as, const llm_chat_msg *history, size_t n,
                       const char *question, cli_ask_report *rep);
void cli_ask_report_free(cli_ask_report *rep);
void cli_ask_session_close(cli_ask_session *as);

/* rag eval --answers (cli/eval_answers.c). */
int cli_eval_answers(int argc, char **argv);

/* The id rag eval uses for a document: the explicit id given at ingest,
 * else its file name without the extension. */
char *cli_doc_id(const store_hit *h);

/* The retrieval parameters of the settings and options. */
void cli_retrieve_params(const cli_query_opts *q, rag_retrieve_params *rp, int per_document);

#endif
