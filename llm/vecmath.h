/* llm/vecmath.h (behind llm/kernels.h): element-wise and row kernels of the
 * forward passes, with scalar references and SIMD versions chosen with the
 * quantization kernels (llm_isa_select in llm/quant.h switches both).
 *
 * Accuracy contract (tested against float64): exp and the activations within
 * 2 ulp-ish relative error (1e-6 relative, or 1e-7 absolute near zero);
 * the norms and softmax within 1e-6 relative of a float64 computation.
 * Spelled out as tests/unit/test_vecmath.c checks it: exp is relative down
 * to FLT_MIN, overflows to inf above 88.72 and fades through the subnormals
 * to 0, exp(-inf) = 0; silu(-inf) = gelu(-inf) = -0 (their limits); NaN in
 * gives NaN out; softmax probabilities below 1e-5 are held to 1e-11
 * absolute (an exponent argument under -11 carries its own float
 * rounding); a norm's outputs are relative to |(x - mean) rstd w| + |b|.
 * Any n >= 0 and any alignment. */
#ifndef RAG_LLM_VECMATH_H
#define RAG_LLM_VECMATH_H

#include <stddef.h>
#include <stdint.h>

/* x[i] = exp(x[i]) */
void llm_vec_exp(float *x, int64_t n);
/* x[i] = x[i] * sigmoid(x[i])  (SiLU) */
void llm_vec_silu(float *x, int64_t n);
/* gate[i] = silu(gate[i]) * up[i]  (SwiGLU) */
void llm_vec_swiglu(float *gate, const float *up, int64_t n);
/* x[i] = 0.5 x (1 + erf(x / sqrt 2))  (exact GELU, as BERT) */
void llm_vec_gelu(float *x, int64_t n);
/* In place softmax of x[0..n) scaled first: x = softmax(x * scale). Returns
 * nothing; a row of -inf values (fully masked) becomes all zeros. */
void llm_vec_softmax(float *x, int64_t n, float scale);
/* llm_vec_softmax of rows r < rows, x + r * ld, of n[r] values each (every
 * row ld values when n is NULL): the same bits as row by row, several rows'
 * reductions and divisions overlapping (AVX-512: four at a time; a row of
 * 128 was latency bound, 2 cycles a value). */
void llm_vec_softmax_rows(float *x, int64_t ld, int64_t rows, const int64_t *n, float scale);
/* out = (x - mean) / sqrt(var + eps) * w + b  (b may be NULL); out may be x. */
void llm_vec_layernorm(const float *x, const float *w, const float *b, float *out, int64_t n,
                       float eps);
/* out = x / sqrt(mean(x^2) + eps) * w; out may be x. */
void llm_vec_rmsnorm(const float *x, const float *w, float *out, int64_t n, float eps);
/* The first index of the largest of x[0..n) (NaN is never the largest);
 * 0 when none is above -infinity: greedy sampling over a vocabulary. */
int64_t llm_vec_argmax(const float *x, int64_t n);
/* y[i] += x[i] */
void llm_vec_add(float *y, const float *x, int64_t n);
/* y[i] += a * x[i] */
void llm_vec_axpy(float *y, float a, const float *x, int64_t n);
/* C[i][j] = sum over k of A[i][k] B[j][k] (llm_gemm_nt: B's rows are C's
 * columns) or A[i][k] B[k][j] (llm_gemm_nn), for i < m, j < n; rows of A
 * k floats long, strides lda and ldb, C's rows ldc apart, overwritten.
 * Batch invariant: each element is the chain c = fma(a, b, c) over k from
 * zero, whatever m and n are, the block of the product the element falls
 * in, or where the rows lie in memory; the same on every instruction set.
 * So a row of A gives bit for bit the same row of C multiplied alone or
 * with any others, which cblas_sgemm does not promise (its edge kernels and
 * blockings depend on the shape, and on OPENBLAS_CORETYPE).
 * Single-threaded. One operand is packed into scratch, k x LLM_GEMM_PANEL
 * floats aligned to 64 bytes (rag_xcalloc_lines), or into a panel the call
 * allocates when scratch is NULL. */
enum { LLM_GEMM_PANEL = 32 };
void llm_gemm_nt(const float *A, int64_t lda, int m, const float *B, int64_t ldb, int n, int64_t k,
                 float *C, int64_t ldc, float *scratch);
/* What a product does to its output while each block of it is still in
 * cache (llm_gemm_nt_ep, llm_matmul_ep): C[i][j] += bias[j] where bias is
 * set, then GELU where gelu is. Element by element, so the output is the
 * bits of the product followed by llm_vec_add and llm_vec_gelu on each of
 * its rows, whatever blocks the product went by; an encoder's biases and
 * activation no longer take passes of their own over its activations. */
typedef struct llm_epilogue {
    const float *bias; /* one per column of C, or NULL */
    int gelu;
} llm_epilogue;
/* llm_gemm_nt, then ep (NULL: nothing) on C, block by block. */
void llm_gemm_nt_ep(const float *A, int64_t lda, int m, const float *B, int64_t ldb, int n,
                    int64_t k, float *C, int64_t ldc, float *scratch, const llm_epilogue *ep);
/* ep (NULL: nothing) on the m x n block at C, rows ldc apart, whose first
 * column is ep's column j0 (its bias from bias + j0). */
void llm_epilogue_apply(const llm_epilogue *ep, float *C, int64_t ldc, int64_t m, int64_t j0,
                        int64_t n);
void llm_gemm_nn(const float *A, int64_t lda, int m, const float *B, int64_t ldb, int n, int64_t k,
                 float *C, int64_t ldc, float *scratch);
/* llm_gemm_nn with B in F16 (IEEE half floats, ldb halves apart), bit for bit
 * what llm_gemm_nn gives on B widened to floats (widening is exact), without
 * widening it first: a decoding token's attention output, its scores times
 * the values of the cache, reads the cache as it is. */
void llm_gemm_nn_f16(const float *A, int64_t lda, int m, const uint16_t *B, int64_t ldb, int n,
                     int64_t k, float *C, int64_t ldc);

/* ---- a probe of the machine (rag bench-model, rag bench-embed) ---------- */
/* The sum of p[0..n) (modulo 2^64), read with the widest loads of the
 * active instruction set into independent sums, so that the loads, not the
 * adds, bound the loop: summed over a buffer far past any cache, its speed
 * is the memory read bandwidth (scalar loads reach about half of it, and
 * 32-byte ones some 80%). Any n >= 0 and any alignment of p. */
uint64_t llm_bench_read_sum(const uint64_t *p, size_t n);

#endif
