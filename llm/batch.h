/* llm/batch.h (behind llm/llm.h): one decoding step for several sequences at once.
 *
 * Decoding one token reads every weight matrix once, and on a CPU that read
 * is most of the time a token takes. Stepping n sequences together reads
 * each matrix once for all of them: every product takes n input rows. Each
 * sequence keeps its own context (KV cache, tokens, logits); the batch
 * brings the activations of the step and the threads that compute it.
 *
 * The result is bit for bit what llm_decode(c, &token, 1) gives each
 * context alone: products of up to LLM_MATMUL_ROWS_MAX rows compute every
 * row on its own, element-wise steps go row by row, attention reads only
 * the row's own cache. Larger steps are cut into groups of that many. */
#ifndef RAG_LLM_BATCH_H
#define RAG_LLM_BATCH_H

#include "base/err.h"
#include "llm/model.h"

typedef struct llm_batch llm_batch;

/* A batch for contexts of m whose n_ctx is at most max_ctx; n_threads as
 * for contexts (0: all online CPUs). */
int llm_batch_new(const llm_model *m, int max_ctx, int n_threads, llm_batch **out, rag_err *err);
void llm_batch_free(llm_batch *b);

/* Decodes tokens[i] in cs[i] for i < n: appends it to that context's cache
 * and leaves its logits where llm_context_logits(cs[i], 0) finds them, as
 * llm_decode(cs[i], &tokens[i], 1) would. The contexts must be distinct,
 * of the batch's model, not in embeddings mode, and no larger than
 * max_ctx. Fails before computing anything (RAG_ERR_LIMIT for a full
 * context, RAG_ERR_INVALID otherwise), naming the sequence. */
int llm_batch_decode(llm_batch *b, llm_context *const *cs, const int32_t *tokens, int n,
                     rag_err *err);

#endif
