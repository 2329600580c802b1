/* rag/generate.h: an answer from the local generator for a built prompt.
 *
 * The text streams through the citation check (ragd_citestream) so that
 * what a reader sees as it comes is what the final answer says: a marker
 * naming no context block never reaches them. Shared by `rag ask` and ragd. */
#ifndef RAG_RAG_GENERATE_H
#define RAG_RAG_GENERATE_H

#include "base/err.h"
#include "llm/generate.h"
#include "rag/prompt.h"

/* Receives checked text as it is produced; returning non-zero stops the
 * generation (LLM_STOP_CANCEL). */
typedef int (*ragd_stream_fn)(void *ctx, const char *text, size_t len);

typedef struct ragd_generation {
    ragd_citecheck check; /* the answer (check.text) and its citations */
    llm_gen_stats stats;
} ragd_generation;

/* Generates after prompt pr in context c (which must be empty). With
 * grounded, citations are checked against pr's blocks; else the text is
 * passed on as written. on_text may be NULL. */
int ragd_generate(llm_context *c, const ragd_prompt *pr, int grounded, const llm_gen_params *gp,
                  ragd_stream_fn on_text, void *ctx, ragd_generation *out, rag_err *err);
void ragd_generation_free(ragd_generation *g);

#endif
