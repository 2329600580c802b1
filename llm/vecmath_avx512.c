/* llm/vecmath_avx512.c: the functions of llm/vecmath.h with AVX-512 (F, DQ),
 * 16 floats per vector. Compiled alone with the AVX-512 flags (Makefile)
 * and installed by quant.c only when the CPU supports them.
 *
 * The approximations are those of vecmath_avx2.c (see there for their
 * derivation and measured errors), evaluated with the same operations in
 * the same order, so exp, silu, swiglu and gelu give the same results bit
 * for bit (the unit test checks it; the reductions of softmax and the norms
 * add in another order). What differs: 2^n is applied with one vscalefps,
 * which rounds once into inf or a subnormal as the AVX2 version's two exact
 * steps do, and row tails use AVX-512's masked loads and stores. */
#include "llm/quant_int.h"

#if defined(__x86_64__)
#if !defined(__AVX512F__) || !defined(__AVX512DQ__) || !defined(__FMA__)
#error "llm/vecmath_avx512.c must be compiled with the AVX-512 flags (see the Makefile)"
#endif

#include <float.h>
#include <immintrin.h>
#include <math.h>

/* ---- helpers ------------------------------------------------------------ */

/* Lanes 0..rem-1, 0 < rem < 16. */
static inline __mmask16 tail_mask(int64_t rem)
{
    return (__mmask16)((1u << rem) - 1);
}

/* Lanes i..n-1 of the vector at i: all 16 inside the row. */
static inline __mmask16 row_mask(int64_t i, int64_t n)
{
    return i + 16 <= n ? (__mmask16)0xFFFF : tail_mask(n - i);
}

/* acc += the 16 values of v, in double. */
static inline void add_pd(__m512d *lo, __m512d *hi, __m512 v)
{
    *lo = _mm512_add_pd(*lo, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
    *hi = _mm512_add_pd(*hi, _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)));
}

/* ---- exp (vecmath_avx2.c has the details) ------------------------------- */

#define EXP_LO -110.0f
#define EXP_HI 89.0f
#define EXP_SHIFTER 0x1.8p23f
#define LOG2E 1.44269504088896341f
#define LN2_HI 0x1.62e43p-1f
#define LN2_LO -1.904654323148236e-09f

/* 2^n e^r for |r| <= ~ln2 / 2 and integral n. */
static inline __m512 exp_finish(__m512 n, __m512 r)
{
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r);
    p = _mm512_add_ps(p, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* e^x; NaN passes the clamp (second operand of max/min) and stays NaN. */
static inline __m512 exp16(__m512 x)
{
    x = _mm512_min_ps(_mm512_set1_ps(EXP_HI), _mm512_max_ps(_mm512_set1_ps(EXP_LO), x));
    __m512 t = _mm512_fmadd_ps(x, _mm512_set1_ps(LOG2E), _mm512_set1_ps(EXP_SHIFTER));
    __m512 n = _mm512_sub_ps(t, _mm512_set1_ps(EXP_SHIFTER));
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    return exp_finish(n, r);
}

/* e^(a + b) for a in [-115, 0] and |b| <= 2, b added after the reduction. */
static inline __m512 exp16_sum(__m512 a, __m512 b)
{
    __m512 t =
        _mm512_fmadd_ps(_mm512_add_ps(a, b), _mm512_set1_ps(LOG2E), _mm512_set1_ps(EXP_SHIFTER));
    __m512 n = _mm512_sub_ps(t, _mm512_set1_ps(EXP_SHIFTER));
    __m512 r = _mm512_add_ps(_mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), a), b);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    return exp_finish(n, r);
}

/* ---- activations -------------------------------------------------------- */

static inline __m512 silu16(__m512 x)
{
    x = _mm512_max_ps(_mm512_set1_ps(-FLT_MAX), x); /* silu(-inf) = -0 */
    __m512 e = exp16(_mm512_xor_ps(x, _mm512_set1_ps(-0.0f)));
    return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

#define GELU_CAP 15.0f

static inline __m512 gelu16(__m512 x)
{
    const __m512 one = _mm512_set1_ps(1.0f), half = _mm512_set1_ps(0.5f);
    __m512 ax = _mm512_min_ps(_mm512_set1_ps(GELU_CAP), _mm512_abs_ps(x));
    __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(ax, _mm512_set1_ps(0.35355339059327377f), one));
    __m512 q = _mm512_set1_ps(0.17087277f);
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(-0.82215223f));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(1.48851587f));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(-1.13520398f));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(0.27886807f));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(-0.18628806f));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(0.09678418f));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(0.37409196f));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(1.00002368f));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(-1.26551223f));
    __m512 hx = _mm512_mul_ps(half, ax);
    __m512 hi = _mm512_mul_ps(hx, ax);
    __m512 lo = _mm512_fmsub_ps(hx, ax, hi);
    __m512 h =
        _mm512_mul_ps(_mm512_mul_ps(half, t),
                      exp16_sum(_mm512_xor_ps(hi, _mm512_set1_ps(-0.0f)), _mm512_sub_ps(q, lo)));
    __mmask16 neg = _mm512_movepi32_mask(_mm512_castps_si512(x));
    __m512 phi = _mm512_mask_blend_ps(neg, _mm512_sub_ps(one, h), h);
    return _mm512_mul_ps(_mm512_max_ps(_mm512_set1_ps(-FLT_MAX), x), phi); /* gelu(-inf) = -0 */
}

/* x[0..n) = f(x[0..n)), the tail through masked loads and stores. */
#define MAP(name, f)                                                                               \
    static void name(float *x, int64_t n)                                                          \
    {                                                                                              \
        int64_t i = 0;                                                                             \
        for (; i + 16 <= n; i += 16)                                                               \
            _mm512_storeu_ps(x + i, f(_mm512_loadu_ps(x + i)));                                    \
        if (i < n) {                                                                               \
            __mmask16 m = tail_mask(n - i);                                                        \
            _mm512_mask_storeu_ps(x + i, m, f(_mm512_maskz_loadu_ps(m, x + i)));                   \
        }                                                                                          \
    }

MAP(exp_avx512, exp16)
MAP(silu_avx512, silu16)
MAP(gelu_avx512, gelu16)

static void swiglu_avx512(float *gate, const float *up, int64_t n)
{
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = row_mask(i, n);
        __m512 g = silu16(_mm512_maskz_loadu_ps(m, gate + i));
        _mm512_mask_storeu_ps(gate + i, m, _mm512_mul_ps(g, _mm512_maskz_loadu_ps(m, up + i)));
    }
}

/* ---- softmax ------------------------------------------------------------ */

/* As softmax_avx2: one rounding for x s - max, the sum in double. */
static void softmax_avx512(float *x, int64_t n, float scale)
{
    if (n <= 0) return;
    const __m512 s = _mm512_set1_ps(scale);
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = row_mask(i, n);
        vmax = _mm512_mask_max_ps(vmax, m, vmax, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), s));
    }
    float mx = _mm512_reduce_max_ps(vmax);
    if (mx == -INFINITY) { /* fully masked */
        for (int64_t i = 0; i < n; i++)
            x[i] = 0.0f;
        return;
    }
    const __m512 vm = _mm512_set1_ps(mx);
    __m512d sum_lo = _mm512_setzero_pd(), sum_hi = sum_lo;
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = row_mask(i, n);
        __m512 e = exp16(_mm512_fmsub_ps(_mm512_maskz_loadu_ps(m, x + i), s, vm));
        e = _mm512_maskz_mov_ps(m, e); /* lanes past n add nothing */
        _mm512_mask_storeu_ps(x + i, m, e);
        add_pd(&sum_lo, &sum_hi, e);
    }
    const __m512 inv =
        _mm512_set1_ps((float)(1.0 / _mm512_reduce_add_pd(_mm512_add_pd(sum_lo, sum_hi))));
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = row_mask(i, n);
        _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv));
    }
}

/* Up to four rows at once, each row's operations those of softmax_avx512
 * in the same order (a row shorter than the longest only sees its lanes
 * masked off for the rest, adding exact zeros to its sum): the same bits,
 * the rows' dependency chains side by side. */
static inline __attribute__((always_inline)) void softmax_block(float *x, int64_t ld, const int R,
                                                                const int64_t *n, float scale)
{
    const __m512 s = _mm512_set1_ps(scale);
    __m512 vmax[4];
    int64_t top = 0;
    for (int r = 0; r < R; r++) {
        vmax[r] = _mm512_set1_ps(-INFINITY);
        if (n[r] > top) top = n[r];
    }
    for (int64_t i = 0; i < top; i += 16)
        for (int r = 0; r < R; r++) {
            __mmask16 m = i < n[r] ? row_mask(i, n[r]) : 0;
            vmax[r] = _mm512_mask_max_ps(
                vmax[r], m, vmax[r], _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + r * ld + i), s));
        }
    __m512 vm[4];
    __m512d lo[4], hi[4];
    int live[4];
    for (int r = 0; r < R; r++) {
        float mx = _mm512_reduce_max_ps(vmax[r]);
        live[r] = n[r] > 0 && mx != -INFINITY;
        if (n[r] > 0 && !live[r]) /* fully masked */
            for (int64_t i = 0; i < n[r]; i++)
                x[r * ld + i] = 0.0f;
        vm[r] = _mm512_set1_ps(mx);
        lo[r] = hi[r] = _mm512_setzero_pd();
    }
    for (int64_t i = 0; i < top; i += 16)
        for (int r = 0; r < R; r++) {
            __mmask16 m = live[r] && i < n[r] ? row_mask(i, n[r]) : 0;
            __m512 e = exp16(_mm512_fmsub_ps(_mm512_maskz_loadu_ps(m, x + r * ld + i), s, vm[r]));
            e = _mm512_maskz_mov_ps(m, e);
            _mm512_mask_storeu_ps(x + r * ld + i, m, e);
            add_pd(&lo[r], &hi[r], e);
        }
    __m512 inv[4];
    for (int r = 0; r < R; r++)
        inv[r] = _mm512_set1_ps((float)(1.0 / _mm512_reduce_add_pd(_mm512_add_pd(lo[r], hi[r]))));
    for (int64_t i = 0; i < top; i += 16)
        for (int r = 0; r < R; r++) {
            __mmask16 m = live[r] && i < n[r] ? row_mask(i, n[r]) : 0;
            _mm512_mask_storeu_ps(x + r * ld + i, m,
                                  _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + r * ld + i), inv[r]));
        }
}

static void softmax_rows_avx512(float *x, int64_t ld, int64_t rows, const int64_t *n, float scale)
{
    int64_t all[4] = {ld, ld, ld, ld};
    int64_t r = 0;
    for (; r + 4 <= rows; r += 4)
        softmax_block(x + r * ld, ld, 4, n ? n + r : all, scale);
    for (; r < rows; r++)
        softmax_block(x + r * ld, ld, 1, n ? n + r : all, scale);
}

/* ---- norms -------------------------------------------------------------- */

/* As layernorm_avx2: two passes in double, the mean subtracted as a float
 * pair. Masked-off lanes load 0.0 and add nothing to either sum: the
 * variance pass masks its differences. */
static void layernorm_avx512(const float *x, const float *w, const float *b, float *out, int64_t n,
                             float eps)
{
    if (n <= 0) return;
    __m512d a0 = _mm512_setzero_pd(), a1 = a0;
    for (int64_t i = 0; i < n; i += 16)
        add_pd(&a0, &a1, _mm512_maskz_loadu_ps(row_mask(i, n), x + i));
    const double mean = _mm512_reduce_add_pd(_mm512_add_pd(a0, a1)) / (double)n;

    const __m512d vmean = _mm512_set1_pd(mean);
    a0 = a1 = _mm512_setzero_pd();
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = row_mask(i, n);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        __m512d d0 =
            _mm512_maskz_sub_pd((__mmask8)m, _mm512_cvtps_pd(_mm512_castps512_ps256(v)), vmean);
        __m512d d1 = _mm512_maskz_sub_pd((__mmask8)(m >> 8),
                                         _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)), vmean);
        a0 = _mm512_fmadd_pd(d0, d0, a0);
        a1 = _mm512_fmadd_pd(d1, d1, a1);
    }
    const double var = _mm512_reduce_add_pd(_mm512_add_pd(a0, a1)) / (double)n;
    const double rstd = 1.0 / sqrt(var + eps);

    const float mh = (float)mean;
    const __m512 vmh = _mm512_set1_ps(mh), vml = _mm512_set1_ps((float)(mean - mh));
    const __m512 vr = _mm512_set1_ps((float)rstd);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = row_mask(i, n);
        __m512 d = _mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vmh), vml);
        __m512 v = _mm512_mul_ps(d, vr);
        __m512 bv = b ? _mm512_maskz_loadu_ps(m, b + i) : _mm512_setzero_ps();
        _mm512_mask_storeu_ps(out + i, m, _mm512_fmadd_ps(v, _mm512_maskz_loadu_ps(m, w + i), bv));
    }
}

static void rmsnorm_avx512(const float *x, const float *w, float *out, int64_t n, float eps)
{
    if (n <= 0) return;
    __m512d a0 = _mm512_setzero_pd(), a1 = a0;
    for (int64_t i = 0; i < n; i += 16) {
        __m512 v = _mm512_maskz_loadu_ps(row_mask(i, n), x + i);
        __m512d d0 = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
        __m512d d1 = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1));
        a0 = _mm512_fmadd_pd(d0, d0, a0);
        a1 = _mm512_fmadd_pd(d1, d1, a1);
    }
    const double ss = _mm512_reduce_add_pd(_mm512_add_pd(a0, a1));
    const __m512 vr = _mm512_set1_ps((float)(1.0 / sqrt(ss / (double)n + eps)));
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = row_mask(i, n);
        __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vr);
        _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, w + i)));
    }
}

/* ---- add, axpy ---------------------------------------------------------- */

static void add_avx512(float *y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = row_mask(i, n);
        __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i), _mm512_maskz_loadu_ps(m, x + i));
        _mm512_mask_storeu_ps(y + i, m, v);
    }
}

/* llm_epilogue_apply's block: each vector loaded once, its bias added as
 * add_avx512 adds it, GELU as gelu_avx512 takes it; the tail masked. */
static void epilogue_avx512(float *C, int64_t ldc, int64_t m, int64_t n, const float *bias,
                            int gelu)
{
    for (int64_t r = 0; r < m; r++) {
        float *y = C + r * ldc;
        int64_t i = 0;
        for (; i + 16 <= n; i += 16) {
            __m512 v = _mm512_loadu_ps(y + i);
            if (bias) v = _mm512_add_ps(v, _mm512_loadu_ps(bias + i));
            _mm512_storeu_ps(y + i, gelu ? gelu16(v) : v);
        }
        if (i < n) {
            __mmask16 t = tail_mask(n - i);
            __m512 v = _mm512_maskz_loadu_ps(t, y + i);
            if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(t, bias + i));
            _mm512_mask_storeu_ps(y + i, t, gelu ? gelu16(v) : v);
        }
    }
}

static void axpy_avx512(float *y, float a, const float *x, int64_t n)
{
    const __m512 va = _mm512_set1_ps(a);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = row_mask(i, n);
        __m512 v =
            _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i));
        _mm512_mask_storeu_ps(y + i, m, v);
    }
}

/* ---- products (llm_gemm) ------------------------------------------------
 * Each element of C is the chain c = fma(a[k], b[k], c) for k = 0, 1, ...
 * from c = 0, one lane of a vector: the same operations in the same order
 * whatever block of C it falls in, so a row's result does not depend on the
 * rows beside it (and equals the scalar fmaf chain of vecmath_ref.c and the
 * AVX2 one). Thirty-two columns of B at a time are packed k by k into a
 * panel [k][32] (columns past n zero); a block of up to 8 rows of A then
 * broadcasts a[i][k] against the panel's two vectors: sixteen accumulators
 * (of 32 registers), ten loads for sixteen fused multiply-adds (with 6
 * rows, a decoding token's 7 heads took a block of 6 and one of a row,
 * whose two chains wait on the multiply-add's latency). */
#define GEMM_NR 32
#define GEMM_MR 8

static inline __attribute__((always_inline)) void gemm_block32(const float *A, int64_t lda, int MR,
                                                               const float *P, int64_t K, float *C,
                                                               int64_t ldc, int nc)
{
    __m512 acc[GEMM_MR][2];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k++) {
        __m512 b0 = _mm512_load_ps(P + k * GEMM_NR), b1 = _mm512_load_ps(P + k * GEMM_NR + 16);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            __m512 a = _mm512_set1_ps(A[i * lda + k]);
            acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
        }
    }
    __mmask16 m0 = nc >= 16 ? (__mmask16)0xFFFF : tail_mask(nc);
    __mmask16 m1 = nc >= 32 ? (__mmask16)0xFFFF : nc > 16 ? tail_mask(nc - 16) : 0;
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        _mm512_mask_storeu_ps(C + i * ldc, m0, acc[i][0]);
        _mm512_mask_storeu_ps(C + i * ldc + 16, m1, acc[i][1]);
    }
}

// clang-format off
#define GEMM_ROWS(I)                                                                               \
    static void gemm32_##I(const float *A, int64_t lda, const float *P, int64_t K, float *C,       \
                           int64_t ldc, int nc)                                                    \
    {                                                                                              \
        gemm_block32(A, lda, I, P, K, C, ldc, nc);                                                 \
    }
GEMM_ROWS(1) GEMM_ROWS(2) GEMM_ROWS(3) GEMM_ROWS(4) GEMM_ROWS(5) GEMM_ROWS(6) GEMM_ROWS(7)
GEMM_ROWS(8)
#undef GEMM_ROWS
    // clang-format on

    /* The same product with the roles swapped, for few rows of A: up to 32
     * rows of A packed k by k into a panel [k][32] (rows past m zero), each
     * element of B broadcast against one or two vectors of them, 6 columns
     * of C at a time. Each element of C is still the fma chain over k from zero,
     * so this path and the one above give the same bits and either may serve
     * any shape: the cheaper is taken (packing A costs m k, B n k; the vectors
     * run partly empty past m or n). */
    static inline
    __attribute__((always_inline)) void gemm_iblock16(const float *P, int VI, const float *B,
                                                      int64_t sj, int64_t sk, int NJ, int64_t K,
                                                      float *T)
{
    __m512 acc[6][2];
#pragma GCC unroll 6
    for (int j = 0; j < NJ; j++)
        acc[j][0] = acc[j][1] = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k++) {
        __m512 a0 = _mm512_load_ps(P + k * 32), a1 = VI > 1 ? _mm512_load_ps(P + k * 32 + 16) : a0;
#pragma GCC unroll 6
        for (int j = 0; j < NJ; j++) {
            __m512 b = _mm512_set1_ps(B[j * sj + k * sk]);
            acc[j][0] = _mm512_fmadd_ps(a0, b, acc[j][0]);
            if (VI > 1) acc[j][1] = _mm512_fmadd_ps(a1, b, acc[j][1]);
        }
    }
#pragma GCC unroll 6
    for (int j = 0; j < NJ; j++) {
        _mm512_store_ps(T + j * LLM_GEMM_PANEL, acc[j][0]);
        if (VI > 1) _mm512_store_ps(T + j * LLM_GEMM_PANEL + 16, acc[j][1]);
    }
}

// clang-format off
#define GEMM_ICOLS(V, J)                                                                           \
    static void gemm16i_##V##_##J(const float *P, const float *B, int64_t sj, int64_t sk,           \
                                 int64_t K, float *T)                                              \
    {                                                                                              \
        gemm_iblock16(P, V, B, sj, sk, J, K, T);                                                   \
    }
GEMM_ICOLS(1, 1) GEMM_ICOLS(1, 2) GEMM_ICOLS(1, 3) GEMM_ICOLS(1, 4) GEMM_ICOLS(1, 5) GEMM_ICOLS(1, 6)
GEMM_ICOLS(2, 1) GEMM_ICOLS(2, 2) GEMM_ICOLS(2, 3) GEMM_ICOLS(2, 4) GEMM_ICOLS(2, 5) GEMM_ICOLS(2, 6)
#undef GEMM_ICOLS
    // clang-format on

    static const llm_gemm_blocks gemm_blocks = {
        .lanes = 16,
        .nr = 32,
        .mr = GEMM_MR,
        .nj = 6,
        .jrows = {gemm32_1, gemm32_2, gemm32_3, gemm32_4, gemm32_5, gemm32_6, gemm32_7, gemm32_8},
        .icols = {{gemm16i_1_1, gemm16i_1_2, gemm16i_1_3, gemm16i_1_4, gemm16i_1_5, gemm16i_1_6},
                  {gemm16i_2_1, gemm16i_2_2, gemm16i_2_3, gemm16i_2_4, gemm16i_2_5, gemm16i_2_6}},
        .pack_rows = llm_gemm_pack_rows_avx2,
        .unpack_cols = llm_gemm_unpack_cols_avx2,
        .epilogue = epilogue_avx512,
};

/* llm_gemm_nn_f16: 32 columns of B at a time, widened as they are loaded,
 * against blocks of up to 8 rows of A broadcast: each element the chain
 * over k from zero, as gemm_block32 computes it. */
static inline __attribute__((always_inline)) void gemm_f16_block32(const float *A, int64_t lda,
                                                                   int MR, const uint16_t *B,
                                                                   int64_t ldb, int64_t K, float *C,
                                                                   int64_t ldc, int nc)
{
    __m512 acc[GEMM_MR][2];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    __mmask16 m0 = nc >= 16 ? (__mmask16)0xFFFF : tail_mask(nc);
    __mmask16 m1 = nc >= 32 ? (__mmask16)0xFFFF : nc > 16 ? tail_mask(nc - 16) : 0;
    for (int64_t k = 0; k < K; k++) {
        const uint16_t *b = B + (size_t)k * ldb;
        __m512 b0 = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m0, b));
        __m512 b1 = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m1, b + 16));
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            __m512 a = _mm512_set1_ps(A[i * lda + k]);
            acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        _mm512_mask_storeu_ps(C + i * ldc, m0, acc[i][0]);
        _mm512_mask_storeu_ps(C + i * ldc + 16, m1, acc[i][1]);
    }
}

// clang-format off
#define GEMM_F16_ROWS(I)                                                                           \
    static void gemm_f16_##I(const float *A, int64_t lda, const uint16_t *B, int64_t ldb,          \
                             int64_t K, float *C, int64_t ldc, int nc)                             \
    {                                                                                              \
        gemm_f16_block32(A, lda, I, B, ldb, K, C, ldc, nc);                                        \
    }
GEMM_F16_ROWS(1) GEMM_F16_ROWS(2) GEMM_F16_ROWS(3) GEMM_F16_ROWS(4) GEMM_F16_ROWS(5) GEMM_F16_ROWS(6)
GEMM_F16_ROWS(7) GEMM_F16_ROWS(8)
#undef GEMM_F16_ROWS
    // clang-format on

    static const llm_gemm_f16_blocks gemm_f16_blocks = {
        .nr = GEMM_NR,
        .mr = GEMM_MR,
        .rows = {gemm_f16_1, gemm_f16_2, gemm_f16_3, gemm_f16_4, gemm_f16_5, gemm_f16_6, gemm_f16_7,
                 gemm_f16_8},
};

static void gemm_nn_f16_avx512(const float *A, int64_t lda, int m, const uint16_t *B, int64_t ldb,
                               int n, int64_t K, float *C, int64_t ldc)
{
    llm_gemm_f16_run(&gemm_f16_blocks, A, lda, m, B, ldb, n, K, C, ldc);
}

static void gemm_avx512(const float *A, int64_t lda, int m, const float *B, int64_t ldb, int b_rows,
                        int n, int64_t K, float *C, int64_t ldc, float *scratch,
                        const llm_epilogue *ep)
{
    llm_gemm_run(&gemm_blocks, A, lda, m, B, ldb, b_rows, n, K, C, ldc, scratch, ep);
}

/* ---- llm_bench_read_sum ----------------------------------------------- */

/* Four 64-byte loads per round into four sums. */
static uint64_t read_sum_avx512(const uint64_t *p, size_t n)
{
    __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a = _mm512_add_epi64(a, _mm512_loadu_si512(p + i));
        b = _mm512_add_epi64(b, _mm512_loadu_si512(p + i + 8));
        c = _mm512_add_epi64(c, _mm512_loadu_si512(p + i + 16));
        d = _mm512_add_epi64(d, _mm512_loadu_si512(p + i + 24));
    }
    /* summed as unsigned lanes: the sum wraps (the reduce intrinsic adds
     * signed lanes, which UBSan rightly calls an overflow) */
    uint64_t lanes[8], s = 0;
    _mm512_storeu_si512(lanes, _mm512_add_epi64(_mm512_add_epi64(a, b), _mm512_add_epi64(c, d)));
    for (int l = 0; l < 8; l++)
        s += lanes[l];
    for (; i < n; i++)
        s += p[i];
    return s;
}

/* As argmax_avx2: the largest value (NaN dropped by vmaxps's operand
 * order), then the first index holding it. */
static int64_t argmax_avx512(const float *x, int64_t n)
{
    __m512 m0 = _mm512_set1_ps(-INFINITY), m1 = m0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        m0 = _mm512_max_ps(_mm512_loadu_ps(x + i), m0);
        m1 = _mm512_max_ps(_mm512_loadu_ps(x + i + 16), m1);
    }
    float lanes[16], top = -INFINITY;
    _mm512_storeu_ps(lanes, _mm512_max_ps(m0, m1));
    for (int l = 0; l < 16; l++)
        if (lanes[l] > top) top = lanes[l];
    for (; i < n; i++)
        if (x[i] > top) top = x[i];
    if (top == -INFINITY) return 0;
    __m512 t = _mm512_set1_ps(top);
    for (i = 0; i + 16 <= n; i += 16) {
        __mmask16 eq = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i), t, _CMP_EQ_OQ);
        if (eq) return i + __builtin_ctz((unsigned)eq);
    }
    for (; i < n; i++)
        if (x[i] == top) return i;
    return 0;
}

void llm_vec_kernels_avx512(llm_vec_kernels *k)
{
    k->exp = exp_avx512;
    k->silu = silu_avx512;
    k->swiglu = swiglu_avx512;
    k->gelu = gelu_avx512;
    k->softmax = softmax_avx512;
    k->softmax_rows = softmax_rows_avx512;
    k->layernorm = layernorm_avx512;
    k->rmsnorm = rmsnorm_avx512;
    k->argmax = argmax_avx512;
    k->add = add_avx512;
    k->axpy = axpy_avx512;
    k->gemm = gemm_avx512;
    k->epilogue = epilogue_avx512;
    k->gemm_nn_f16 = gemm_nn_f16_avx512;
    k->read_sum = read_sum_avx512;
}

#endif
