/* llm/llm.h: the door of the llm module, what the rest of the project uses
 * of it: GGUF files, tokenizers, chat templates, decoder models and their
 * generation. Code outside llm/ includes this header (and llm/kernels.h for
 * the compute kernels), never the headers it gathers, which say "behind
 * llm/llm.h" in their first line:
 *
 *   llm/gguf.h        reading GGUF files (element types: llm/quant.h)
 *   llm/gguf_write.h  writing GGUF files
 *   llm/tokenizer.h   tokenizers built from a GGUF file's metadata
 *   llm/chat.h        chat templates
 *   llm/sampler.h     choosing the next token from logits
 *   llm/model.h       decoder models, contexts with a KV cache, the forward
 *                     pass (its weights are llm/matmul.h's llm_mat)
 *   llm/batch.h       one decoding step for several sequences at once
 *   llm/batcher.h     continuous batching
 *   llm/generate.h    the generation loop
 *
 * Private to llm/: llm/model_int.h, llm/quant_int.h, llm/tok_int.h (only
 * unit tests of those internals include them from outside, and say so). */
#ifndef RAG_LLM_LLM_H
#define RAG_LLM_LLM_H

#include "llm/gguf.h"
#include "llm/gguf_write.h"
#include "llm/tokenizer.h"
#include "llm/chat.h"
#include "llm/sampler.h"
#include "llm/model.h"
#include "llm/batch.h"
#include "llm/batcher.h"
#include "llm/generate.h"

#endif
