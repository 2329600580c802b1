/* llm/vecmath_avx2.c: the functions of llm/vecmath.h with AVX2 + FMA, 8
 * floats per vector. Compiled alone with -mavx2 -mfma (Makefile); quant.c
 * installs them only after the CPU has reported those features.
 *
 * The transcendental functions are built here, not taken from libm:
 *   exp   e^x = 2^n e^r, n = round(x / ln 2), r = x - n ln 2 in two parts
 *         (Cody-Waite), e^r = 1 + r + r^2 P(r) with Cephes' degree-5 P
 *         (degree 7 in all) on |r| <= ln2 / 2, and 2^n applied as two
 *         exact powers of two so that results near overflow and in the
 *         subnormal range round once. Measured over every float: 8.5e-8
 *         relative in [-87.3, 88.7], and within half a subnormal step of
 *         e^x below -87.3.
 *   gelu  x Phi(x), Phi(-|x|) = 0.5 t e^(-x^2/2 + Q(t)), t = 1 / (1 + |x| /
 *         (2 sqrt 2)), Q the degree-9 polynomial of Numerical Recipes'
 *         erfcc (Chebyshev fit, 1.2e-7 relative error in exact arithmetic).
 *         -x^2/2 is carried as an exact float pair into exp so that its
 *         rounding (up to 2^-24 x^2/2 relative) does not reach the result.
 *         Measured over every float in [-13, 13]: 4.7e-7 relative wherever
 *         |gelu(x)| >= 1e-30 (worst at x = -1.116), most of it from the
 *         float rounding of t and of Q's terms (Q's own error, evaluated in
 *         double, is 1.0e-7).
 *   silu  x / (1 + e^-x) with the exp above. Measured over every float in
 *         [-88, 88]: 1.7e-7 relative wherever |silu(x)| >= 1e-30.
 * Softmax sums and the statistics of the norms are accumulated in double.
 *
 * Row tails (n not a multiple of 8) go through the same vector code with
 * masked loads and stores, which never touch memory past the row. */
#include "llm/quant_int.h"

#if defined(__x86_64__)
#if !defined(__AVX2__) || !defined(__FMA__)
#error "llm/vecmath_avx2.c must be compiled with -mavx2 -mfma (see the Makefile)"
#endif

#include <float.h>
#include <immintrin.h>
#include <math.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

/* Lanes 0..rem-1 of the mask from tail_mask(rem), 0 < rem < 8. */
static const int32_t tail_bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

static inline __m256i tail_mask(int64_t rem)
{
    return _mm256_loadu_si256((const __m256i *)(tail_bits + 8 - rem));
}

static inline double hsum_pd(__m256d v)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

static inline float hmax_ps(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}

/* acc += the 8 values of v, in double. */
static inline void add_pd(__m256d *lo, __m256d *hi, __m256 v)
{
    *lo = _mm256_add_pd(*lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    *hi = _mm256_add_pd(*hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

/* ---- exp ---------------------------------------------------------------- */

/* Inputs are clamped to [EXP_LO, EXP_HI]: e^-110 is below half the smallest
 * subnormal (2^-150) and e^89 above FLT_MAX, so the clamp changes no result
 * and keeps n small enough for the two-step scaling. */
#define EXP_LO -110.0f
#define EXP_HI 89.0f
/* Adding 1.5 * 2^23 rounds a float in (-2^22, 2^22) to an integer and leaves
 * that integer in the low mantissa bits. */
#define EXP_SHIFTER 0x1.8p23f
#define LOG2E 1.44269504088896341f
#define LN2_HI 0x1.62e43p-1f           /* ln 2 rounded to float */
#define LN2_LO -1.904654323148236e-09f /* ln 2 - LN2_HI */

/* 2^n e^r for |r| <= ~ln2 / 2, where t = n + EXP_SHIFTER holds n, |n| <= 170.
 * p = e^r is in [0.7, 1.42]; p 2^(n/2) is normal, so scaling it by 2^(n/2)
 * is exact and the second scaling rounds once, into inf or a subnormal
 * where the result is one. */
static inline __m256 exp_finish(__m256 t, __m256 r)
{
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
    p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));

    __m256i n =
        _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_castps_si256(_mm256_set1_ps(EXP_SHIFTER)));
    __m256i n1 = _mm256_srai_epi32(n, 1), n2 = _mm256_sub_epi32(n, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

/* e^x. max/min return their second operand when either is NaN, so the
 * clamp lets NaN through and the polynomial turns it into NaN; -inf
 * clamps to EXP_LO (0) and +inf to EXP_HI (inf). */
static inline __m256 exp8(__m256 x)
{
    x = _mm256_min_ps(_mm256_set1_ps(EXP_HI), _mm256_max_ps(_mm256_set1_ps(EXP_LO), x));
    __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(LOG2E), _mm256_set1_ps(EXP_SHIFTER));
    __m256 n = _mm256_sub_ps(t, _mm256_set1_ps(EXP_SHIFTER));
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    return exp_finish(t, r);
}

/* e^(a + b) for a in [-115, 0] and |b| <= 2, without rounding a + b: b is
 * added after a has been reduced by n ln 2. (No clamp: gelu8 guarantees the
 * range.) */
static inline __m256 exp8_sum(__m256 a, __m256 b)
{
    __m256 t =
        _mm256_fmadd_ps(_mm256_add_ps(a, b), _mm256_set1_ps(LOG2E), _mm256_set1_ps(EXP_SHIFTER));
    __m256 n = _mm256_sub_ps(t, _mm256_set1_ps(EXP_SHIFTER));
    __m256 r = _mm256_add_ps(_mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), a), b);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    return exp_finish(t, r);
}

/* ---- activations -------------------------------------------------------- */

/* x / (1 + e^-x). -inf becomes -FLT_MAX first (its e^-x is inf and the
 * quotient -0, the limit); NaN passes max() and stays NaN. */
static inline __m256 silu8(__m256 x)
{
    x = _mm256_max_ps(_mm256_set1_ps(-FLT_MAX), x);
    __m256 e = exp8(_mm256_xor_ps(x, _mm256_set1_ps(-0.0f)));
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

/* |x| is capped at GELU_CAP inside Phi: Phi(-15) ~ 4e-51 already rounds to
 * 0, so the cap changes nothing and keeps -x^2/2 in exp8_sum's range. */
#define GELU_CAP 15.0f

static inline __m256 gelu8(__m256 x)
{
    const __m256 one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f);
    __m256 ax = _mm256_min_ps(_mm256_set1_ps(GELU_CAP), _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x));
    /* t = 1 / (1 + z / 2) with z = |x| / sqrt 2 */
    __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(ax, _mm256_set1_ps(0.35355339059327377f), one));
    __m256 q = _mm256_set1_ps(0.17087277f);
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-0.82215223f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(1.48851587f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-1.13520398f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(0.27886807f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-0.18628806f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(0.09678418f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(0.37409196f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(1.00002368f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-1.26551223f));
    /* x^2 / 2 = hi + lo exactly (0.5 |x| is exact) */
    __m256 hx = _mm256_mul_ps(half, ax);
    __m256 hi = _mm256_mul_ps(hx, ax);
    __m256 lo = _mm256_fmsub_ps(hx, ax, hi);
    /* h = Phi(-|x|) = erfc(z) / 2; Phi(x) is h for negative x, 1 - h else */
    __m256 h =
        _mm256_mul_ps(_mm256_mul_ps(half, t),
                      exp8_sum(_mm256_xor_ps(hi, _mm256_set1_ps(-0.0f)), _mm256_sub_ps(q, lo)));
    __m256 phi = _mm256_blendv_ps(_mm256_sub_ps(one, h), h, x);
    /* -inf * 0 would be NaN; -FLT_MAX * 0 is -0, the limit */
    return _mm256_mul_ps(_mm256_max_ps(_mm256_set1_ps(-FLT_MAX), x), phi);
}

/* x[0..n) = f(x[0..n)), the tail through masked loads and stores. */
#define MAP(name, f)                                                                               \
    static void name(float *x, int64_t n)                                                          \
    {                                                                                              \
        int64_t i = 0;                                                                             \
        for (; i + 8 <= n; i += 8)                                                                 \
            _mm256_storeu_ps(x + i, f(_mm256_loadu_ps(x + i)));                                    \
        if (i < n) {                                                                               \
            __m256i m = tail_mask(n - i);                                                          \
            _mm256_maskstore_ps(x + i, m, f(_mm256_maskload_ps(x + i, m)));                        \
        }                                                                                          \
    }

MAP(exp_avx2, exp8)
MAP(silu_avx2, silu8)
MAP(gelu_avx2, gelu8)

static void swiglu_avx2(float *gate, const float *up, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(gate + i,
                         _mm256_mul_ps(silu8(_mm256_loadu_ps(gate + i)), _mm256_loadu_ps(up + i)));
    if (i < n) {
        __m256i m = tail_mask(n - i);
        __m256 g = silu8(_mm256_maskload_ps(gate + i, m));
        _mm256_maskstore_ps(gate + i, m, _mm256_mul_ps(g, _mm256_maskload_ps(up + i, m)));
    }
}

/* ---- softmax ------------------------------------------------------------ */

/* The shifted argument x s - max is formed with one rounding (FMA), so only
 * the rounding of the maximum itself is shared by every element, and it
 * cancels in the normalization. */
static void softmax_avx2(float *x, int64_t n, float scale)
{
    if (n <= 0) return;
    const __m256 s = _mm256_set1_ps(scale);
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        vmax = _mm256_max_ps(vmax, _mm256_mul_ps(_mm256_loadu_ps(x + i), s));
    float mx = hmax_ps(vmax);
    for (; i < n; i++)
        mx = fmaxf(mx, x[i] * scale);
    if (mx == -INFINITY) { /* fully masked */
        for (i = 0; i < n; i++)
            x[i] = 0.0f;
        return;
    }
    const __m256 vm = _mm256_set1_ps(mx);
    __m256d sum_lo = _mm256_setzero_pd(), sum_hi = sum_lo;
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 e = exp8(_mm256_fmsub_ps(_mm256_loadu_ps(x + i), s, vm));
        _mm256_storeu_ps(x + i, e);
        add_pd(&sum_lo, &sum_hi, e);
    }
    if (i < n) {
        __m256i m = tail_mask(n - i);
        __m256 e = exp8(_mm256_fmsub_ps(_mm256_maskload_ps(x + i, m), s, vm));
        e = _mm256_and_ps(e, _mm256_castsi256_ps(m)); /* lanes past n add nothing */
        _mm256_maskstore_ps(x + i, m, e);
        add_pd(&sum_lo, &sum_hi, e);
    }
    const __m256 inv = _mm256_set1_ps((float)(1.0 / hsum_pd(_mm256_add_pd(sum_lo, sum_hi))));
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    if (i < n) {
        __m256i m = tail_mask(n - i);
        _mm256_maskstore_ps(x + i, m, _mm256_mul_ps(_mm256_maskload_ps(x + i, m), inv));
    }
}

/* ---- norms -------------------------------------------------------------- */

/* Mean and variance in two passes in double, as the reference. */
static void layernorm_avx2(const float *x, const float *w, const float *b, float *out, int64_t n,
                           float eps)
{
    if (n <= 0) return;
    __m256d a0 = _mm256_setzero_pd(), a1 = a0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        add_pd(&a0, &a1, _mm256_loadu_ps(x + i));
    double sum = hsum_pd(_mm256_add_pd(a0, a1));
    for (; i < n; i++)
        sum += x[i];
    const double mean = sum / (double)n;

    const __m256d vmean = _mm256_set1_pd(mean);
    a0 = a1 = _mm256_setzero_pd();
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), vmean);
        __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), vmean);
        a0 = _mm256_fmadd_pd(d0, d0, a0);
        a1 = _mm256_fmadd_pd(d1, d1, a1);
    }
    double var = hsum_pd(_mm256_add_pd(a0, a1));
    for (; i < n; i++)
        var += (x[i] - mean) * (x[i] - mean);
    const double rstd = 1.0 / sqrt(var / (double)n + eps);

    /* The mean as a float pair: x - mh is exact when x is near the mean
     * (Sterbenz), so an offset like 1000 + N(0, 1) costs no precision. */
    const float mh = (float)mean;
    const __m256 vmh = _mm256_set1_ps(mh), vml = _mm256_set1_ps((float)(mean - mh));
    const __m256 vr = _mm256_set1_ps((float)rstd);
    for (i = 0; i < n; i += 8) {
        __m256i m = i + 8 <= n ? _mm256_set1_epi32(-1) : tail_mask(n - i);
        __m256 d = _mm256_sub_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), vmh), vml);
        __m256 v = _mm256_mul_ps(d, vr);
        __m256 bv = b ? _mm256_maskload_ps(b + i, m) : _mm256_setzero_ps();
        _mm256_maskstore_ps(out + i, m, _mm256_fmadd_ps(v, _mm256_maskload_ps(w + i, m), bv));
    }
}

static void rmsnorm_avx2(const float *x, const float *w, float *out, int64_t n, float eps)
{
    if (n <= 0) return;
    __m256d a0 = _mm256_setzero_pd(), a1 = a0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256d d0 = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
        __m256d d1 = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
        a0 = _mm256_fmadd_pd(d0, d0, a0);
        a1 = _mm256_fmadd_pd(d1, d1, a1);
    }
    double ss = hsum_pd(_mm256_add_pd(a0, a1));
    for (; i < n; i++)
        ss += (double)x[i] * x[i];
    const __m256 vr = _mm256_set1_ps((float)(1.0 / sqrt(ss / (double)n + eps)));
    for (i = 0; i < n; i += 8) {
        __m256i m = i + 8 <= n ? _mm256_set1_epi32(-1) : tail_mask(n - i);
        __m256 v = _mm256_mul_ps(_mm256_maskload_ps(x + i, m), vr);
        _mm256_maskstore_ps(out + i, m, _mm256_mul_ps(v, _mm256_maskload_ps(w + i, m)));
    }
}

/* ---- add, axpy ---------------------------------------------------------- */

static void add_avx2(float *y, const float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
    if (i < n) {
        __m256i m = tail_mask(n - i);
        _mm256_maskstore_ps(
            y + i, m, _mm256_add_ps(_mm256_maskload_ps(y + i, m), _mm256_maskload_ps(x + i, m)));
    }
}

/* llm_epilogue_apply's block: each vector loaded once, its bias added as
 * add_avx2 adds it, GELU as gelu_avx2 takes it; the tail masked. */
static void epilogue_avx2(float *C, int64_t ldc, int64_t m, int64_t n, const float *bias, int gelu)
{
    for (int64_t r = 0; r < m; r++) {
        float *y = C + r * ldc;
        int64_t i = 0;
        for (; i + 8 <= n; i += 8) {
            __m256 v = _mm256_loadu_ps(y + i);
            if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + i));
            _mm256_storeu_ps(y + i, gelu ? gelu8(v) : v);
        }
        if (i < n) {
            __m256i t = tail_mask(n - i);
            __m256 v = _mm256_maskload_ps(y + i, t);
            if (bias) v = _mm256_add_ps(v, _mm256_maskload_ps(bias + i, t));
            _mm256_maskstore_ps(y + i, t, gelu ? gelu8(v) : v);
        }
    }
}

static void axpy_avx2(float *y, float a, const float *x, int64_t n)
{
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i,
                         _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    if (i < n) {
        __m256i m = tail_mask(n - i);
        _mm256_maskstore_ps(
            y + i, m,
            _mm256_fmadd_ps(va, _mm256_maskload_ps(x + i, m), _mm256_maskload_ps(y + i, m)));
    }
}

/* Rows of X as columns (llm_gemm_pack_rows), 8 rows by 8 values at a time
 * through the usual unpack / shuffle / lane-swap transpose; the rest
 * element by element. Moves floats only: the same P either way. */
/* out[i][c] = x[c][i] for an 8 x 8 block, rows ldx apart: out[i] holds
 * element i of each of the 8 rows. */
static inline __attribute__((always_inline)) void transpose8(const float *x, int64_t ldx,
                                                             __m256 out[8])
{
    __m256 r[8], u[8], v[8];
    for (int i = 0; i < 8; i++)
        r[i] = _mm256_loadu_ps(x + (size_t)i * ldx);
    for (int i = 0; i < 8; i += 2) {
        u[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        u[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        v[i] = _mm256_shuffle_ps(u[i], u[i + 2], 0x44);
        v[i + 1] = _mm256_shuffle_ps(u[i], u[i + 2], 0xEE);
        v[i + 2] = _mm256_shuffle_ps(u[i + 1], u[i + 3], 0x44);
        v[i + 3] = _mm256_shuffle_ps(u[i + 1], u[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        out[i] = _mm256_permute2f128_ps(v[i], v[i + 4], 0x20);
        out[i + 4] = _mm256_permute2f128_ps(v[i], v[i + 4], 0x31);
    }
}

void llm_gemm_pack_rows_avx2(const float *X, int64_t ldx, int nc, int64_t k, float *P, int nr)
{
    int c0 = 0;
    for (; c0 + 8 <= nc; c0 += 8) {
        const float *x = X + (size_t)c0 * ldx;
        int64_t t = 0;
        for (; t + 8 <= k; t += 8) {
            __m256 o[8];
            transpose8(x + t, ldx, o);
            for (int i = 0; i < 8; i++)
                _mm256_storeu_ps(P + (t + i) * nr + c0, o[i]);
        }
        for (; t < k; t++)
            for (int c = 0; c < 8; c++)
                P[t * nr + c0 + c] = x[(size_t)c * ldx + t];
    }
    for (int c = c0; c < nr; c++)
        for (int64_t t = 0; t < k; t++)
            P[t * nr + c] = c < nc ? X[(size_t)c * ldx + t] : 0.0f;
}

void llm_gemm_unpack_cols_avx2(const float *T, int nc, int mr, float *C, int64_t ldc)
{
    int c0 = 0;
    for (; c0 + 8 <= nc; c0 += 8)
        for (int t = 0; t < mr; t += 8) { /* T's columns are readable past mr */
            __m256 o[8];
            transpose8(T + (size_t)c0 * LLM_GEMM_PANEL + t, LLM_GEMM_PANEL, o);
            for (int i = 0; i < 8 && t + i < mr; i++)
                _mm256_storeu_ps(C + (t + i) * ldc + c0, o[i]);
        }
    for (int r = 0; r < mr; r++)
        for (int c = c0; c < nc; c++)
            C[r * ldc + c] = T[(size_t)c * LLM_GEMM_PANEL + r];
}

/* ---- products (llm_gemm) ------------------------------------------------
 * As in vecmath_avx512.c (each element the fma chain over k from zero, so
 * bit for bit the same on both and in any block), with panels of sixteen
 * columns: a block of up to 6 rows of A against two vectors of the panel,
 * twelve accumulators and three more registers. */
#define GEMM_NR 16
#define GEMM_MR 6

static inline __attribute__((always_inline)) void gemm_block16(const float *A, int64_t lda, int MR,
                                                               const float *P, int64_t K, float *C,
                                                               int64_t ldc, int nc)
{
    __m256 acc[GEMM_MR][2];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t k = 0; k < K; k++) {
        __m256 b0 = _mm256_load_ps(P + k * GEMM_NR), b1 = _mm256_load_ps(P + k * GEMM_NR + 8);
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            __m256 a = _mm256_broadcast_ss(A + i * lda + k);
            acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
        }
    }
    if (nc == GEMM_NR) {
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            _mm256_storeu_ps(C + i * ldc, acc[i][0]);
            _mm256_storeu_ps(C + i * ldc + 8, acc[i][1]);
        }
        return;
    }
    float tmp[GEMM_NR];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        _mm256_storeu_ps(tmp, acc[i][0]);
        _mm256_storeu_ps(tmp + 8, acc[i][1]);
        memcpy(C + i * ldc, tmp, (size_t)nc * sizeof *tmp);
    }
}

// clang-format off
#define GEMM_ROWS(I)                                                                               \
    static void gemm16_##I(const float *A, int64_t lda, const float *P, int64_t K, float *C,       \
                           int64_t ldc, int nc)                                                    \
    {                                                                                              \
        gemm_block16(A, lda, I, P, K, C, ldc, nc);                                                 \
    }
GEMM_ROWS(1) GEMM_ROWS(2) GEMM_ROWS(3) GEMM_ROWS(4) GEMM_ROWS(5) GEMM_ROWS(6)
#undef GEMM_ROWS
    // clang-format on

    /* The same product with the roles swapped, for few rows of A: up to 16
     * rows of A packed k by k into a panel [k][16] (rows past m zero), each
     * element of B broadcast against one or two vectors of them, 6 columns
     * of C at a time. Each element of C is still the fma chain over k from zero,
     * so this path and the one above give the same bits and either may serve
     * any shape: the cheaper is taken (packing A costs m k, B n k; the vectors
     * run partly empty past m or n). */
    static inline
    __attribute__((always_inline)) void gemm_iblock8(const float *P, int VI, const float *B,
                                                     int64_t sj, int64_t sk, int NJ, int64_t K,
                                                     float *T)
{
    __m256 acc[6][2];
#pragma GCC unroll 6
    for (int j = 0; j < NJ; j++)
        acc[j][0] = acc[j][1] = _mm256_setzero_ps();
    for (int64_t k = 0; k < K; k++) {
        __m256 a0 = _mm256_load_ps(P + k * 16), a1 = VI > 1 ? _mm256_load_ps(P + k * 16 + 8) : a0;
#pragma GCC unroll 6
        for (int j = 0; j < NJ; j++) {
            __m256 b = _mm256_set1_ps(B[j * sj + k * sk]);
            acc[j][0] = _mm256_fmadd_ps(a0, b, acc[j][0]);
            if (VI > 1) acc[j][1] = _mm256_fmadd_ps(a1, b, acc[j][1]);
        }
    }
#pragma GCC unroll 6
    for (int j = 0; j < NJ; j++) {
        _mm256_store_ps(T + j * LLM_GEMM_PANEL, acc[j][0]);
        if (VI > 1) _mm256_store_ps(T + j * LLM_GEMM_PANEL + 8, acc[j][1]);
    }
}

// clang-format off
#define GEMM_ICOLS(V, J)                                                                           \
    static void gemm8i_##V##_##J(const float *P, const float *B, int64_t sj, int64_t sk,           \
                                 int64_t K, float *T)                                              \
    {                                                                                              \
        gemm_iblock8(P, V, B, sj, sk, J, K, T);                                                    \
    }
GEMM_ICOLS(1, 1) GEMM_ICOLS(1, 2) GEMM_ICOLS(1, 3) GEMM_ICOLS(1, 4) GEMM_ICOLS(1, 5) GEMM_ICOLS(1, 6)
GEMM_ICOLS(2, 1) GEMM_ICOLS(2, 2) GEMM_ICOLS(2, 3) GEMM_ICOLS(2, 4) GEMM_ICOLS(2, 5) GEMM_ICOLS(2, 6)
#undef GEMM_ICOLS
    // clang-format on

    static const llm_gemm_blocks gemm_blocks = {
        .lanes = 8,
        .nr = GEMM_NR,
        .mr = 6,
        .nj = 6,
        .jrows = {gemm16_1, gemm16_2, gemm16_3, gemm16_4, gemm16_5, gemm16_6},
        .icols = {{gemm8i_1_1, gemm8i_1_2, gemm8i_1_3, gemm8i_1_4, gemm8i_1_5, gemm8i_1_6},
                  {gemm8i_2_1, gemm8i_2_2, gemm8i_2_3, gemm8i_2_4, gemm8i_2_5, gemm8i_2_6}},
        .pack_rows = llm_gemm_pack_rows_avx2,
        .unpack_cols = llm_gemm_unpack_cols_avx2,
        .epilogue = epilogue_avx2,
};

/* llm_gemm_nn_f16: 16 columns of B at a time, widened as they are loaded
 * (a narrower last block through a zero-padded copy), against blocks of up
 * to 6 rows of A broadcast: each element the chain over k from zero. */
static inline __attribute__((always_inline)) void gemm_f16_block16(const float *A, int64_t lda,
                                                                   int MR, const uint16_t *B,
                                                                   int64_t ldb, int64_t K, float *C,
                                                                   int64_t ldc, int nc)
{
    __m256 acc[GEMM_MR][2];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    uint16_t pad[16] = {0};
    for (int64_t k = 0; k < K; k++) {
        const uint16_t *b = B + (size_t)k * ldb;
        if (nc < 16) {
            memcpy(pad, b, (size_t)nc * sizeof *b);
            b = pad;
        }
        __m256 b0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b));
        __m256 b1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(b + 8)));
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            __m256 a = _mm256_set1_ps(A[i * lda + k]);
            acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
        }
    }
    float row[16];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        _mm256_storeu_ps(row, acc[i][0]);
        _mm256_storeu_ps(row + 8, acc[i][1]);
        memcpy(C + i * ldc, row, (size_t)nc * sizeof *row);
    }
}

// clang-format off
#define GEMM_F16_ROWS(I)                                                                           \
    static void gemm_f16_##I(const float *A, int64_t lda, const uint16_t *B, int64_t ldb,          \
                             int64_t K, float *C, int64_t ldc, int nc)                             \
    {                                                                                              \
        gemm_f16_block16(A, lda, I, B, ldb, K, C, ldc, nc);                                        \
    }
GEMM_F16_ROWS(1) GEMM_F16_ROWS(2) GEMM_F16_ROWS(3) GEMM_F16_ROWS(4) GEMM_F16_ROWS(5) GEMM_F16_ROWS(6)
#undef GEMM_F16_ROWS
    // clang-format on

    static const llm_gemm_f16_blocks gemm_f16_blocks = {
        .nr = GEMM_NR,
        .mr = GEMM_MR,
        .rows = {gemm_f16_1, gemm_f16_2, gemm_f16_3, gemm_f16_4, gemm_f16_5, gemm_f16_6},
};

static void gemm_nn_f16_avx2(const float *A, int64_t lda, int m, const uint16_t *B, int64_t ldb,
                             int n, int64_t K, float *C, int64_t ldc)
{
    llm_gemm_f16_run(&gemm_f16_blocks, A, lda, m, B, ldb, n, K, C, ldc);
}

static void gemm_avx2(const float *A, int64_t lda, int m, const float *B, int64_t ldb, int b_rows,
                      int n, int64_t K, float *C, int64_t ldc, float *scratch,
                      const llm_epilogue *ep)
{
    llm_gemm_run(&gemm_blocks, A, lda, m, B, ldb, b_rows, n, K, C, ldc, scratch, ep);
}

/* ---- llm_vec_argmax ---------------------------------------------------- */

/* The largest value (vmaxps keeps its second operand when the first is
 * NaN: the running maxima), then the first index holding it. */
static int64_t argmax_avx2(const float *x, int64_t n)
{
    __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        m0 = _mm256_max_ps(_mm256_loadu_ps(x + i), m0);
        m1 = _mm256_max_ps(_mm256_loadu_ps(x + i + 8), m1);
    }
    float lanes[8], top = -INFINITY;
    _mm256_storeu_ps(lanes, _mm256_max_ps(m0, m1));
    for (int l = 0; l < 8; l++)
        if (lanes[l] > top) top = lanes[l];
    for (; i < n; i++)
        if (x[i] > top) top = x[i];
    if (top == -INFINITY) return 0;
    __m256 t = _mm256_set1_ps(top);
    for (i = 0; i + 8 <= n; i += 8) {
        int eq = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), t, _CMP_EQ_OQ));
        if (eq) return i + __builtin_ctz((unsigned)eq);
    }
    for (; i < n; i++)
        if (x[i] == top) return i;
    return 0;
}

/* ---- llm_bench_read_sum ----------------------------------------------- */

/* Eight 32-byte loads per round into eight sums. */
static uint64_t read_sum_avx2(const uint64_t *p, size_t n)
{
    __m256i acc[8];
    for (int k = 0; k < 8; k++)
        acc[k] = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 8; k++)
            acc[k] = _mm256_add_epi64(
                acc[k], _mm256_loadu_si256((const __m256i *)(const void *)(p + i + 4 * k)));
    for (int k = 1; k < 8; k++)
        acc[0] = _mm256_add_epi64(acc[0], acc[k]);
    uint64_t lanes[4];
    _mm256_storeu_si256((__m256i *)(void *)lanes, acc[0]);
    uint64_t s = lanes[0] + lanes[1] + lanes[2] + lanes[3];
    for (; i < n; i++)
        s += p[i];
    return s;
}

void llm_vec_kernels_avx2(llm_vec_kernels *k)
{
    k->exp = exp_avx2;
    k->silu = silu_avx2;
    k->swiglu = swiglu_avx2;
    k->gelu = gelu_avx2;
    k->softmax = softmax_avx2;
    k->layernorm = layernorm_avx2;
    k->rmsnorm = rmsnorm_avx2;
    k->argmax = argmax_avx2;
    k->add = add_avx2;
    k->axpy = axpy_avx2;
    k->gemm = gemm_avx2;
    k->epilogue = epilogue_avx2;
    k->gemm_nn_f16 = gemm_nn_f16_avx2;
    k->read_sum = read_sum_avx2;
}

#endif
