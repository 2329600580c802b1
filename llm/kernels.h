/* llm/kernels.h: the other door of the llm module: its compute kernels, for
 * code that runs a forward pass of its own (embed/'s encoders) or measures
 * the machine (rag bench-model, bench-embed). Code outside llm/ includes
 * this header (and llm/llm.h for models), never the headers it gathers,
 * which say "behind llm/kernels.h" in their first line:
 *
 *   llm/quant.h    element types, rows of them (dequantize, dot, quantize),
 *                  the instruction sets the kernels are chosen from
 *   llm/matmul.h   products with weight matrices, the pool of threads
 *   llm/vecmath.h  element-wise and row kernels, llm_gemm_nt / llm_gemm_nn,
 *                  the memory read probe */
#ifndef RAG_LLM_KERNELS_H
#define RAG_LLM_KERNELS_H

#include "llm/quant.h"
#include "llm/matmul.h"
#include "llm/vecmath.h"

#endif
