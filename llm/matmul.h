/* llm/matmul.h (behind llm/kernels.h, llm_mat also llm/llm.h): the one entry
 * point for products with weight matrices.
 *
 *   Y[n x rows] = X[n x cols] * W^T      (W: rows x cols, any llm_dtype)
 *
 * Small n (token-by-token decoding) goes through the row dot kernels, the
 * rows split across the worker threads in chunks; larger n (prompt
 * processing, embedding batches) goes by the integer path (llm/qgemm.h)
 * where the weight type has one, or dequantizes W in tiles of rows into
 * scratch memory and multiplies them with llm_gemm_nt, whose rows do not
 * depend on each other. Scratch is allocated when the llm_compute is
 * created, so a product never allocates. A context set batch invariant
 * (encoders) takes the integer path or the tiles for every n. */
#ifndef RAG_LLM_MATMUL_H
#define RAG_LLM_MATMUL_H

#include "base/err.h"
#include "llm/quant.h"
#include "llm/vecmath.h"

#include <stddef.h>
#include <stdint.h>

/* A weight matrix, borrowed (usually points into a mapped GGUF file). */
typedef struct llm_mat {
    llm_dtype type;
    int64_t rows, cols;
    const void *data;
    size_t row_bytes; /* llm_row_bytes(type, cols) */
    const void *il; /* the rows interleaved (llm_qg_il_pack, when the model was opened), or NULL */
} llm_mat;

typedef struct llm_compute llm_compute;

/* Products with at most this many input rows go through the row dot
 * kernels, so each output row is exactly what that input row alone would
 * give: a batch of sequences decoded together matches each decoded alone. */
#define LLM_MATMUL_ROWS_MAX 7

/* n_threads: worker threads (0: the number of online CPUs). max_cols: the
 * largest `cols` of any matrix that will be multiplied (sizes the scratch). */
int llm_compute_new(int n_threads, int64_t max_cols, llm_compute **out, rag_err *err);
void llm_compute_free(llm_compute *c);
/* Lets products with fewer than 8 input rows quantize those rows to Q8_0
 * and use the integer kernels (llm_dot_row_q8) where the weight type has
 * them: as llama.cpp decodes. Decoder contexts turn it on. */
void llm_compute_set_int8_decode(llm_compute *c, int on);
/* Makes every product batch invariant: an output row is bit for bit the
 * same whatever other input rows are multiplied with it, and whatever n is
 * (one path for all n: the integer path or dequantized tiles times
 * llm_gemm_nt). Encoders turn it on, so that a text's vector does not
 * depend on the texts embedded with it. Decoders need not: a product of
 * up to LLM_MATMUL_ROWS_MAX rows computes each row alone (the row
 * kernels), and one of more rows goes by the integer path or the tiles,
 * which are invariant among themselves; so a prompt's tokens come out the
 * same in one pass or in two (a cached prefix, then the rest) as long as
 * each pass has more than LLM_MATMUL_ROWS_MAX of them. */
void llm_compute_set_batch_invariant(llm_compute *c, int on);
int llm_compute_threads(const llm_compute *c);

/* Y = X * W^T as above. X and Y are row-major float arrays. */
void llm_matmul(llm_compute *c, const llm_mat *W, const float *X, int64_t n, float *Y);

/* Y[k] = X * W[k]^T for nw (<= LLM_MATMUL_SET) matrices of the same width
 * and the same input: when they go by rows (decoding), one parallel pass
 * does them all, so the threads meet once instead of nw times. Results are
 * those of nw calls of llm_matmul. */
#define LLM_MATMUL_SET 3
void llm_matmul_set(llm_compute *c, const llm_mat *const *W, float *const *Y, int nw,
                    const float *X, int64_t n);

/* The same with an epilogue (llm/vecmath.h: a bias per row of W, GELU)
 * done on each block of Y as the block is finished, on whichever path the
 * product takes: Y is bit for bit llm_matmul's followed by llm_vec_add and
 * llm_vec_gelu on each of its rows, without those passes over it. ep: NULL
 * for none, or one (possibly NULL) per matrix. */
void llm_matmul_ep(llm_compute *c, const llm_mat *W, const float *X, int64_t n, float *Y,
                   const llm_epilogue *ep);
void llm_matmul_set_ep(llm_compute *c, const llm_mat *const *W, float *const *Y,
                       const llm_epilogue *const *ep, int nw, const float *X, int64_t n);

/* A SwiGLU feed-forward's first half: G = silu(X Wg^T) * (X Wu^T), bit for
 * bit llm_matmul_set into G and U followed by llm_vec_swiglu on each row of
 * G. U (n x rows, like G) holds the up product on the paths that need it;
 * afterwards its contents are unspecified. On the integer path each tile
 * of the gate goes with the same rows of the up matrix and the up product
 * stays in the worker's cache (a 512-token prompt of Qwen2.5-0.5B Q4_K_M,
 * where the separate pass was 4-5% of the time: gate, up and SwiGLU 304 ->
 * 291 ms). */
void llm_matmul_swiglu(llm_compute *c, const llm_mat *Wg, const llm_mat *Wu, const float *X,
                       int64_t n, float *G, float *U);
/* A SwiGLU feed-forward: Y = (silu(X Wg^T) * (X Wu^T)) Wd^T, bit for bit
 * llm_matmul_swiglu into G (and U) followed by llm_matmul of Wd on G. Y
 * may be X: each chunk of rows is read before its outputs are written. On
 * the AVX-512 VNNI path (llm_qg_ops.quantize_block), for a prompt, the
 * SwiGLU's output is quantized as Wd's activations in the tile that
 * computes it, and never stored as floats (G and U untouched). The
 * feed-forward of a 512-token Qwen2.5-0.5B Q4_K_M prompt, 2 cores, three
 * alternated runs: 369-379 -> 353-358 ms (storing the SwiGLU's output
 * alone cost 12-22 ms, quantizing it again for the down product 10). */
void llm_matmul_ffn(llm_compute *c, const llm_mat *Wg, const llm_mat *Wu, const llm_mat *Wd,
                    const float *X, int64_t n, float *G, float *U, float *Y);

/* Runs fn(ctx, i) for i in [0, n) on the worker threads and waits. */
void llm_parallel_for(llm_compute *c, int64_t n, void (*fn)(void *ctx, int64_t i), void *ctx);
/* fn(ctx, t) for each of n rows: through llm_parallel_for when there are
 * more than LLM_MATMUL_ROWS_MAX (a prompt's or a batch's tokens), on the
 * caller's thread otherwise (a decoding step's few rows cost less than
 * waking the pool). The forward passes' steps between products. */
void llm_parallel_rows(llm_compute *c, int64_t n, void (*fn)(void *ctx, int64_t t), void *ctx);

#endif
