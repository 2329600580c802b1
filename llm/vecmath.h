/* llm/vecmath.h: element-wise and row kernels of the forward passes, with
 * scalar references and SIMD versions chosen with the quantization kernels
 * (llm_isa_select in llm/quant.h switches both).
 *
 * Accuracy contract (tested against float64): exp and the activations within
 * 2 ulp-ish relative error (1e-6 relative, or 1e-7 absolute near zero);
 * the norms and softmax within 1e-6 relative of a float64 computation. */
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
/* out = (x - mean) / sqrt(var + eps) * w + b  (b may be NULL); out may be x. */
void llm_vec_layernorm(const float *x, const float *w, const float *b, float *out, int64_t n,
                       float eps);
/* out = x / sqrt(mean(x^2) + eps) * w; out may be x. */
void llm_vec_rmsnorm(const float *x, const float *w, float *out, int64_t n, float eps);
/* y[i] += x[i] */
void llm_vec_add(float *y, const float *x, int64_t n);
/* y[i] += a * x[i] */
void llm_vec_axpy(float *y, float a, const float *x, int64_t n);

#endif
