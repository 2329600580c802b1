/* llm/vecmath_ref.c: the scalar reference of llm/vecmath.h, written for
 * accuracy and plain reading rather than speed: libm's expf and erfc, and
 * the reductions (softmax sum, norm statistics) in double. The SIMD versions
 * (vecmath_avx2.c, vecmath_avx512.c) are tested against float64 with the same
 * bounds as this one, and it is what runs where neither is available.
 *
 * The limits at infinities are taken where a formula would give inf * 0:
 * silu(-inf) and gelu(-inf) are -0, as silu(x) and gelu(x) are for very
 * negative finite x. */
#include "llm/quant_int.h"

#include <float.h>
#include <math.h>

static void exp_ref(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = expf(x[i]);
}

/* x / (1 + e^-x): for x below about -88.7, e^-x overflows to inf and the
 * quotient is -0, the float that silu(x) rounds to anyway; only -inf itself
 * (inf / inf) needs its limit. */
static float silu1(float x)
{
    if (x < -FLT_MAX) return -0.0f;
    return x / (1.0f + expf(-x));
}

static void silu_ref(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = silu1(x[i]);
}

static void swiglu_ref(float *gate, const float *up, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        gate[i] = silu1(gate[i]) * up[i];
}

/* 0.5 x (1 + erf(x / sqrt 2)) written as x * 0.5 erfc(-x / sqrt 2): the
 * same value, but for negative x erfc keeps its relative accuracy where
 * 1 + erf(...) would cancel. */
static void gelu_ref(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        x[i] = v < -DBL_MAX ? -0.0f : (float)(v * 0.5 * erfc(-v * M_SQRT1_2));
    }
}

/* A float times a float is exact in double, so the shift by the maximum and
 * the sum lose nothing before exp. A row whose maximum is -inf is fully
 * masked and becomes zeros. */
static void softmax_ref(float *x, int64_t n, float scale)
{
    if (n <= 0) return;
    double mx = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        mx = fmax(mx, (double)x[i] * scale);
    if (mx == -INFINITY) {
        for (int64_t i = 0; i < n; i++)
            x[i] = 0.0f;
        return;
    }
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = exp((double)x[i] * scale - mx);
        x[i] = (float)e;
        sum += e;
    }
    double inv = 1.0 / sum;
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(x[i] * inv);
}

/* Two passes in double: the mean, then the variance around it. A single
 * pass (sum of squares minus squared mean) cancels catastrophically on rows
 * like 1000 + N(0, 1). */
static void layernorm_ref(const float *x, const float *w, const float *b, float *out, int64_t n,
                          float eps)
{
    if (n <= 0) return;
    double sum = 0, var = 0;
    for (int64_t i = 0; i < n; i++)
        sum += x[i];
    double mean = sum / (double)n;
    for (int64_t i = 0; i < n; i++)
        var += (x[i] - mean) * (x[i] - mean);
    double rstd = 1.0 / sqrt(var / (double)n + eps);
    for (int64_t i = 0; i < n; i++) {
        double v = (x[i] - mean) * rstd * w[i];
        out[i] = (float)(b ? v + b[i] : v);
    }
}

static void rmsnorm_ref(const float *x, const float *w, float *out, int64_t n, float eps)
{
    if (n <= 0) return;
    double ss = 0;
    for (int64_t i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    double rstd = 1.0 / sqrt(ss / (double)n + eps);
    for (int64_t i = 0; i < n; i++)
        out[i] = (float)(x[i] * rstd * w[i]);
}

static void add_ref(float *y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += x[i];
}

static void axpy_ref(float *y, float a, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

/* llm_epilogue_apply's block, row by row. */
static void epilogue_ref(float *C, int64_t ldc, int64_t m, int64_t n, const float *bias, int gelu)
{
    for (int64_t i = 0; i < m; i++) {
        if (bias) add_ref(C + i * ldc, bias, n);
        if (gelu) gelu_ref(C + i * ldc, n);
    }
}

/* Each element the chain c = fma(a[k], b[k], c) over k from zero: what
 * each lane of the SIMD versions computes, so all three agree bit for bit
 * (see llm_gemm_nt); then the epilogue on the whole of C. */
static void gemm_ref(const float *A, int64_t lda, int m, const float *B, int64_t ldb, int b_rows,
                     int n, int64_t K, float *C, int64_t ldc, float *scratch,
                     const llm_epilogue *ep)
{
    (void)scratch; /* nothing is packed */
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            const float *a = A + (size_t)i * lda;
            float s = 0.0f;
            for (int64_t k = 0; k < K; k++)
                s = fmaf(a[k], b_rows ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j], s);
            C[(size_t)i * ldc + j] = s;
        }
    if (ep && (ep->bias || ep->gelu)) epilogue_ref(C, ldc, m, n, ep->bias, ep->gelu);
}

static void gemm_nn_f16_ref(const float *A, int64_t lda, int m, const uint16_t *B, int64_t ldb,
                            int n, int64_t K, float *C, int64_t ldc)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            const float *a = A + (size_t)i * lda;
            float s = 0.0f;
            for (int64_t k = 0; k < K; k++)
                s = fmaf(a[k], llm_half(B[(size_t)k * ldb + j]), s);
            C[(size_t)i * ldc + j] = s;
        }
}

static uint64_t read_sum_ref(const uint64_t *p, size_t n)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += p[i];
    return s;
}

static int64_t argmax_ref(const float *x, int64_t n)
{
    int64_t best = 0;
    float top = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        if (x[i] > top) top = x[i], best = i;
    return best;
}

void llm_vec_kernels_ref(llm_vec_kernels *k)
{
    k->exp = exp_ref;
    k->silu = silu_ref;
    k->swiglu = swiglu_ref;
    k->gelu = gelu_ref;
    k->softmax = softmax_ref;
    k->layernorm = layernorm_ref;
    k->rmsnorm = rmsnorm_ref;
    k->argmax = argmax_ref;
    k->add = add_ref;
    k->axpy = axpy_ref;
    k->gemm = gemm_ref;
    k->epilogue = epilogue_ref;
    k->gemm_nn_f16 = gemm_nn_f16_ref;
    k->read_sum = read_sum_ref;
}
