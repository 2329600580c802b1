/* llm/generate.h (behind llm/llm.h): the generation loop: prompt processing,
 * then sampling token by token, streaming text as it is produced, until an
 * end-of-generation token, a stop string, the token limit, the end of the
 * context, or the caller says stop. */
#ifndef RAG_LLM_GENERATE_H
#define RAG_LLM_GENERATE_H

#include "base/err.h"
#include "llm/batcher.h"
#include "llm/model.h"
#include "llm/sampler.h"

#include <stddef.h>

typedef struct llm_gen_params {
    int n_predict; /* tokens to generate at most (default 256) */
    llm_sampler_params sampling;
    const char *const *stop; /* stop strings (not included in the output) */
    size_t n_stop;
    int render_special;   /* print control tokens as text (default 0) */
    llm_batcher *batcher; /* decode through it, with other generations (NULL: alone) */
} llm_gen_params;

void llm_gen_default_params(llm_gen_params *p);

typedef enum llm_stop_reason {
    LLM_STOP_EOG,     /* the model ended its turn */
    LLM_STOP_STRING,  /* a stop string appeared */
    LLM_STOP_LENGTH,  /* n_predict tokens */
    LLM_STOP_CONTEXT, /* the context is full */
    LLM_STOP_CANCEL,  /* the callback asked to stop */
} llm_stop_reason;

const char *llm_stop_reason_name(llm_stop_reason r);

typedef struct llm_gen_stats {
    int n_prompt, n_generated;
    int n_reused; /* prompt tokens found in the cache already (set by callers that reuse) */
    double prompt_ms, gen_ms; /* prompt processing; sampling and decoding after it */
    llm_stop_reason stop;
} llm_gen_stats;

/* Receives text as it is produced (whole UTF-8 characters). Returning
 * non-zero stops the generation (LLM_STOP_CANCEL). */
typedef int (*llm_text_fn)(void *ctx, const char *text, size_t len);

/* Decodes prompt[0..n_prompt) after what the context already holds, then
 * generates. A prompt that does not fit the context fails with
 * RAG_ERR_LIMIT before any work. */
int llm_generate(llm_context *c, const int32_t *prompt, size_t n_prompt, const llm_gen_params *p,
                 llm_text_fn on_text, void *ctx, llm_gen_stats *stats, rag_err *err);

#endif
