/* llm/batcher.h (behind llm/llm.h): continuous batching. Several generations,
 * each in its own context and thread, share one thread that runs the model for
 * all of them: every decoding step carries one token of each generation that
 * is waiting for one (llm_batch: one read of the weights for all), and prompts
 * are processed in chunks between the steps, oldest first, so a new request
 * neither waits for the others to finish nor stalls them for long.
 *
 * A generation calls llm_batcher_decode where it would call llm_decode
 * (llm_generate does, given llm_gen_params.batcher), and llm_batcher_leave
 * when it is done. Each generation gets bit for bit the logits it would get
 * alone through the batcher: steps compute each sequence's row on its own
 * (llm/batch.h), and a prompt is cut into the same chunks whoever else is
 * running. */
#ifndef RAG_LLM_BATCHER_H
#define RAG_LLM_BATCHER_H

#include "base/err.h"
#include "llm/model.h"

#include <stdint.h>

typedef struct llm_batcher_params {
    int max_ctx;       /* the largest n_ctx of the contexts it will serve (required) */
    int n_threads;     /* threads of a step (0: all online CPUs) */
    int prefill_chunk; /* prompt tokens per chunk between two steps (0: 128) */
    double gather_ms;  /* how long a step waits for generations that were in the
                          last one and have not asked again yet (0: 5) */
} llm_batcher_params;

typedef struct llm_batcher llm_batcher;

int llm_batcher_new(const llm_model *m, const llm_batcher_params *p, llm_batcher **out,
                    rag_err *err);
/* Stops the thread. Calls still waiting fail with RAG_ERR_CANCELLED. */
void llm_batcher_free(llm_batcher *b);

/* As llm_decode(c, tokens, n, err), from any thread, blocking until done:
 * one token joins the next step, more are a prompt (processed in chunks of
 * at most prefill_chunk, and of at most c's n_batch). c must be a context
 * of the batcher's model, used by no one else meanwhile. */
int llm_batcher_decode(llm_batcher *b, llm_context *c, const int32_t *tokens, int n, rag_err *err);
/* c has finished (or stopped) generating: the next steps do not wait for it. */
void llm_batcher_leave(llm_batcher *b, llm_context *c);

typedef struct llm_batcher_stats {
    uint64_t steps;         /* decoding steps run */
    uint64_t step_tokens;   /* tokens they carried (steps with several: shared weight reads) */
    uint64_t prompt_chunks; /* prompt chunks run */
    uint64_t prompt_tokens; /* tokens they carried */
} llm_batcher_stats;

void llm_batcher_get_stats(llm_batcher *b, llm_batcher_stats *out);

#endif
