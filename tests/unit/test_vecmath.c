/* llm/vecmath.h: every function under every instruction set the CPU offers
 * (forced with llm_isa_select) against float64 computations, with the
 * bounds of the header's contract: random inputs over wide ranges, the
 * special values (zeros, infinities, NaN, huge, the overflow and underflow
 * edges), rows of 0, 1, 7, 15, 16, 17, 1000 and 4099 values at unaligned
 * addresses between canaries that must survive. Prints the worst error of
 * each function and ISA, and (without asserting) the throughput. */
#include "base/mem.h"
#include "base/time.h"
#include "llm/kernels.h"
#include "test.h"

#include <float.h>
#include <math.h>
#include <stdint.h>

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rng = 0x13198A2E03707344u;

static uint64_t rnd(void)
{
    uint64_t z = (rng += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static double urand(void)
{
    return (double)(rnd() >> 11) * 0x1p-53;
}

static float uniform(double lo, double hi)
{
    return (float)(lo + (hi - lo) * urand());
}

static float gauss(void)
{
    double u = urand(), v = urand();
    return (float)(sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v));
}

static const llm_isa all_isas[] = {LLM_ISA_SCALAR, LLM_ISA_AVX2, LLM_ISA_AVX512};
static const int64_t lengths[] = {0, 1, 7, 15, 16, 17, 1000, 4099};
#define N_LENGTHS ((int)(sizeof lengths / sizeof lengths[0]))

/* Rows live one float past a 16-byte boundary (so never aligned for a
 * vector), between two canaries that a kernel writing past either end
 * would overwrite. */
#define CANARY 12345.678f

static float *row_new(int64_t n)
{
    float *base = rag_xmalloc((size_t)(n + 2) * sizeof(float));
    base[0] = base[n + 1] = CANARY;
    return base + 1;
}

static void row_free(float *x)
{
    rag_free(x - 1);
}

static int row_intact(const float *x, int64_t n)
{
    return x[-1] == CANARY && x[n] == CANARY;
}

/* Worst error seen per ISA, and a cap on printed failures per case. */
typedef struct worst {
    double err[3];
    int n_printed;
} worst;

/* Error of got against the float64 value ref, as |got - ref| / max(|ref|,
 * floor): relative above floor, absolute (in units of floor) below it.
 * Where ref rounds to an infinity or is NaN, got must be the same; where ref
 * is zero, got must be zero of the same sign. */
static double scaled_err(float got, double ref, double floor)
{
    if (isnan(ref)) return isnan(got) ? 0 : INFINITY;
    float rf = (float)ref;
    if (isinf(rf)) return got == rf ? 0 : INFINITY;
    if (ref == 0) return got == 0 && !signbit(got) == !signbit(ref) ? 0 : INFINITY;
    if (isnan(got) || isinf(got)) return INFINITY;
    return fabs(got - ref) / fmax(fabs(ref), floor);
}

static void note(worst *w, llm_isa isa, double err, double bound, const char *what, int64_t n,
                 int64_t i, double in, float got, double ref)
{
    if (err > w->err[isa] || isnan(err)) w->err[isa] = isnan(err) ? INFINITY : err;
    if (err <= bound) return;
    test_case_failed = 1;
    if (w->n_printed++ < 8)
        printf("    %s %s n=%lld [%lld]: in %.9g got %.9g, float64 %.9g (error %.3g, bound %.0e)\n",
               what, llm_isa_name(isa), (long long)n, (long long)i, in, got, ref, err, bound);
}

static void report(const char *what, const worst *w, const char *metric)
{
    printf("    %-10s worst error", what);
    for (int k = 0; k < 3; k++)
        if (llm_isa_supported(all_isas[k]))
            printf("  %s %.2e", llm_isa_name(all_isas[k]), w->err[k]);
    printf("  (%s)\n", metric);
}

/* Selects isa if the CPU has it, with the ISA it replaces in *prev. */
static int isa_begin(llm_isa isa, llm_isa *prev)
{
    if (!llm_isa_supported(isa)) return 0;
    *prev = llm_isa_select(isa);
    return 1;
}

/* ---- element-wise functions --------------------------------------------- */

static double ref_exp(double x)
{
    return exp(x);
}

static double ref_silu(double x)
{
    return x < -DBL_MAX ? -0.0 : x / (1.0 + exp(-x));
}

static double ref_gelu(double x)
{
    return x < -DBL_MAX ? -0.0 : 0.5 * x * (1.0 + erf(x * M_SQRT1_2));
}

/* 0.5 x (1 + erf) cancels for negative x; erfc does not. The float64
 * reference takes whichever is exact for the sign of x. */
static double ref_gelu_exact(double x)
{
    return x < 0 ? (x < -DBL_MAX ? -0.0 : 0.5 * x * erfc(-x * M_SQRT1_2)) : ref_gelu(x);
}

static const float specials[] = {
    0.0f,      -0.0f,     INFINITY, -INFINITY,  NAN,    -NAN,    1e30f,   -1e30f,
    FLT_MAX,   -FLT_MAX,  FLT_MIN,  -FLT_MIN,   1e-40f, -1e-40f, 1e-7f,   -1e-7f,
    88.72283f, 88.72284f, 89.0f,    -87.33654f, -87.4f, -103.9f, -104.0f, -110.0f,
    -200.0f,   200.0f,    100.0f,   -100.0f,    20.0f,  -20.0f,  15.0f,   -15.0f,
    14.0f,     -14.0f,    5.5f,     -5.5f,      0.5f,   -0.5f,   1.0f,    -1.0f,
};
#define N_SPECIALS ((int)(sizeof specials / sizeof specials[0]))

typedef void (*unary_fn)(float *x, int64_t n);

/* One element-wise function: rows of every length with random values in
 * [lo, hi] (the specials spread over them), then a bulk sample of 2^20
 * random values and every special value. */
static void check_unary(const char *what, unary_fn fn, double (*ref)(double), double lo, double hi,
                        double floor, const char *metric)
{
    worst w = {{0}, 0};
    const int64_t bulk = 1 << 20;
    for (int k = 0; k < 3; k++) {
        llm_isa isa = all_isas[k], prev;
        if (!isa_begin(isa, &prev)) continue;
        for (int li = 0; li <= N_LENGTHS + 1; li++) {
            int64_t n = li < N_LENGTHS ? lengths[li] : li == N_LENGTHS ? bulk : N_SPECIALS;
            float *in = rag_xmalloc((size_t)(n + 1) * sizeof(float)), *x = row_new(n);
            for (int64_t i = 0; i < n; i++) {
                if (li == N_LENGTHS + 1)
                    in[i] = specials[i];
                else if (li < N_LENGTHS && rnd() % 16 == 0)
                    in[i] = specials[rnd() % N_SPECIALS];
                else
                    in[i] = uniform(lo, hi);
            }
            memcpy(x, in, (size_t)n * sizeof(float));
            fn(x, n);
            if (!row_intact(x, n)) {
                printf("    %s %s n=%lld wrote outside the row\n", what, llm_isa_name(isa),
                       (long long)n);
                test_case_failed = 1;
            }
            for (int64_t i = 0; i < n; i++) {
                double r = ref(in[i]);
                note(&w, isa, scaled_err(x[i], r, floor), 1e-6, what, n, i, in[i], x[i], r);
            }
            row_free(x);
            rag_free(in);
        }
        llm_isa_select(prev);
    }
    report(what, &w, metric);
}

static void test_exp(void)
{
    /* relative down to FLT_MIN; subnormal results (x below -87.3) within
     * 1e-6 FLT_MIN, 8 subnormal steps; above 88.73, inf */
    check_unary("exp", llm_vec_exp, ref_exp, -105, 90, FLT_MIN, "relative");
}

static void test_silu(void)
{
    check_unary("silu", llm_vec_silu, ref_silu, -20, 20, 0.1, "relative, absolute / 0.1 below 0.1");
}

static void test_gelu(void)
{
    check_unary("gelu", llm_vec_gelu, ref_gelu_exact, -20, 20, 0.1,
                "relative, absolute / 0.1 below 0.1");
    /* Also as relative error wherever gelu is a normal float well above
     * the subnormals, over the range where it is not simply x or 0. */
    check_unary("gelu rel", llm_vec_gelu, ref_gelu_exact, -12, 6, 1e-30, "relative above 1e-30");
}

static void test_gelu_reference_formula(void)
{
    /* the reference itself agrees with the textbook formula where that
     * formula does not cancel */
    for (double x = -3; x <= 3; x += 0.01)
        CHECK(fabs(ref_gelu_exact(x) - ref_gelu(x)) <= 1e-15 + 1e-13 * fabs(ref_gelu(x)));
}

static void test_swiglu(void)
{
    worst w = {{0}, 0};
    for (int k = 0; k < 3; k++) {
        llm_isa isa = all_isas[k], prev;
        if (!isa_begin(isa, &prev)) continue;
        for (int li = 0; li < N_LENGTHS; li++) {
            int64_t n = lengths[li];
            float *g0 = rag_xmalloc((size_t)(n + 1) * sizeof(float)), *g = row_new(n),
                  *up = row_new(n);
            for (int64_t i = 0; i < n; i++) {
                g0[i] = rnd() % 16 ? uniform(-20, 20) : specials[rnd() % N_SPECIALS];
                up[i] = rnd() % 16 ? uniform(-3, 3) : 0.0f;
            }
            memcpy(g, g0, (size_t)n * sizeof(float));
            llm_vec_swiglu(g, up, n);
            CHECK(row_intact(g, n) && row_intact(up, n));
            for (int64_t i = 0; i < n; i++) {
                double r = ref_silu(g0[i]) * up[i];
                note(&w, isa, scaled_err(g[i], r, 0.1), 1e-6, "swiglu", n, i, g0[i], g[i], r);
            }
            row_free(up);
            row_free(g);
            rag_free(g0);
        }
        llm_isa_select(prev);
    }
    report("swiglu", &w, "relative, absolute / 0.1 below 0.1");
}

/* The switch reaches the vector math: each SIMD set differs from libm's
 * expf in the last bit somewhere, and AVX2 and AVX-512 evaluate the same
 * approximations with the same operations, so they agree bit for bit. */
static void test_isa_switch(void)
{
    const int64_t n = 4096;
    float *in = rag_xmalloc(n * sizeof(float)), *out[3][3];
    for (int64_t i = 0; i < n; i++)
        in[i] = uniform(-30, 30);
    int have[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++) {
        llm_isa isa = all_isas[k], prev;
        if (!isa_begin(isa, &prev)) continue;
        CHECK_INT(llm_isa_active(), isa);
        have[isa] = 1;
        for (int f = 0; f < 3; f++) {
            out[isa][f] = rag_xmalloc(n * sizeof(float));
            memcpy(out[isa][f], in, n * sizeof(float));
            (f == 0 ? llm_vec_exp : f == 1 ? llm_vec_silu : llm_vec_gelu)(out[isa][f], n);
        }
        llm_isa_select(prev);
    }
    if (!have[LLM_ISA_AVX2]) {
        rag_free(in);
        for (int f = 0; f < 3; f++)
            rag_free(out[LLM_ISA_SCALAR][f]);
        SKIP("no SIMD instruction set on this CPU");
    }
    int64_t differ = 0;
    for (int64_t i = 0; i < n; i++)
        differ += out[LLM_ISA_AVX2][0][i] != out[LLM_ISA_SCALAR][0][i];
    CHECK(differ > 0);
    if (have[LLM_ISA_AVX512])
        for (int f = 0; f < 3; f++)
            CHECK(!memcmp(out[LLM_ISA_AVX2][f], out[LLM_ISA_AVX512][f], n * sizeof(float)));
    for (int k = 0; k < 3; k++)
        for (int f = 0; f < 3 && have[k]; f++)
            rag_free(out[k][f]);
    rag_free(in);
}

/* ---- softmax ------------------------------------------------------------ */

/* Probabilities within 1e-6 relative; below 1e-5, within 1e-11 absolute:
 * an exponent argument of -11 or less carries its own float rounding of
 * 11 * 2^-24 relative, whoever evaluates it. */
#define SOFTMAX_FLOOR 1e-5

static void softmax_f64(const float *x, double *out, int64_t n, float scale)
{
    double mx = -INFINITY, sum = 0;
    for (int64_t i = 0; i < n; i++)
        mx = fmax(mx, (double)x[i] * scale);
    for (int64_t i = 0; i < n; i++)
        sum += out[i] = mx == -INFINITY ? 0 : exp((double)x[i] * scale - mx);
    for (int64_t i = 0; i < n; i++)
        out[i] = mx == -INFINITY ? 0 : out[i] / sum;
}

/* Rows of six kinds: attention-like scores, a wide range, a third of the
 * entries masked, a large common offset, fully masked, and a range where
 * most terms underflow. */
#define N_SOFTMAX_KINDS 6

static float softmax_input(int kind)
{
    switch (kind) {
    case 0:
        return 3 * gauss();
    case 1:
        return uniform(-50, 50);
    case 2:
        return rnd() % 3 ? gauss() : -INFINITY;
    case 3:
        return 1e4f + gauss();
    case 4:
        return -INFINITY;
    default:
        return uniform(-1e5, 1e5);
    }
}

static void test_softmax(void)
{
    worst w = {{0}, 0};
    for (int k = 0; k < 3; k++) {
        llm_isa isa = all_isas[k], prev;
        if (!isa_begin(isa, &prev)) continue;
        for (int li = 0; li < N_LENGTHS; li++) {
            int64_t n = lengths[li];
            for (int kind = 0; kind < N_SOFTMAX_KINDS; kind++) {
                float *in = rag_xmalloc((size_t)(n + 1) * sizeof(float)), *x = row_new(n);
                double *ref = rag_xmalloc((size_t)(n + 1) * sizeof(double));
                float scale = kind == 0 ? 0.125f : kind == 1 ? 1.0f : kind == 2 ? 0.5f : 0.3f;
                for (int64_t i = 0; i < n; i++)
                    in[i] = softmax_input(kind);
                if (kind == 2 && n > 1) in[n - 1] = -INFINITY; /* masked tail */
                memcpy(x, in, (size_t)n * sizeof(float));
                llm_vec_softmax(x, n, scale);
                CHECK(row_intact(x, n));
                softmax_f64(in, ref, n, scale);
                double sum = 0, want = 0;
                for (int64_t i = 0; i < n; i++)
                    want += ref[i];
                for (int64_t i = 0; i < n; i++) {
                    sum += x[i];
                    double err = kind == 4 ? (x[i] == 0 ? 0 : INFINITY)
                                           : fabs(x[i] - ref[i]) / fmax(ref[i], SOFTMAX_FLOOR);
                    note(&w, isa, err, 1e-6, "softmax", n, i, in[i], x[i], ref[i]);
                }
                if (!(fabs(sum - want) <= 1e-5)) { /* 1, or 0 for a fully masked row */
                    printf("    softmax %s n=%lld kind %d: sums to %.9g\n", llm_isa_name(isa),
                           (long long)n, kind, sum);
                    test_case_failed = 1;
                }
                rag_free(ref);
                row_free(x);
                rag_free(in);
            }
        }
        llm_isa_select(prev);
    }
    report("softmax", &w, "relative, absolute / 1e-5 below 1e-5");
}

/* llm_vec_softmax_rows against llm_vec_softmax row by row, bit for bit: 9
 * rows (two blocks of four and one alone) of every length and kind, each
 * row its own length and kind, with and without n; every instruction set. */
static void test_softmax_rows(void)
{
    enum { ROWS = 9, LD = 130 };
    int64_t checked = 0;
    for (int k = 0; k < 3; k++) {
        llm_isa isa = all_isas[k], prev;
        if (!isa_begin(isa, &prev)) continue;
        for (int round = 0; round < 40; round++) {
            float *x = rag_xmalloc(ROWS * LD * sizeof(float)),
                  *want = rag_xmalloc(ROWS * LD * sizeof(float));
            int64_t n[ROWS];
            float scale = round % 2 ? 0.125f : 0.7f;
            int all = round % 5 == 4; /* n NULL: every row LD values */
            for (int r = 0; r < ROWS; r++) {
                n[r] = all ? LD : (int64_t)(rnd() % (LD + 1));
                int kind = (int)(rnd() % N_SOFTMAX_KINDS);
                for (int64_t i = 0; i < LD; i++)
                    x[r * LD + i] = softmax_input(kind);
            }
            memcpy(want, x, ROWS * LD * sizeof(float));
            for (int r = 0; r < ROWS; r++)
                llm_vec_softmax(want + r * LD, n[r], scale);
            llm_vec_softmax_rows(x, LD, ROWS, all ? NULL : n, scale);
            if (memcmp(x, want, ROWS * LD * sizeof(float))) {
                printf("    softmax_rows %s round %d: not the bits of row by row\n",
                       llm_isa_name(isa), round);
                test_case_failed = 1;
            }
            checked += ROWS;
            rag_free(want);
            rag_free(x);
        }
        llm_isa_select(prev);
    }
    printf("    %lld rows the same bits as one by one\n", (long long)checked);
}

/* ---- norms -------------------------------------------------------------- */

/* Rows of the usual lengths and 8192, centred at 0, 1000 (1000 + N(0, 1)
 * loses everything to a float mean or one-pass variance) and -300; with and
 * without a bias; written elsewhere and in place. The error of each output
 * is relative to |(x - mean) rstd w| + |b|, the size of what was summed. */
static void test_layernorm(void)
{
    worst w = {{0}, 0};
    const float offsets[] = {0.0f, 1000.0f, -300.0f};
    for (int k = 0; k < 3; k++) {
        llm_isa isa = all_isas[k], prev;
        if (!isa_begin(isa, &prev)) continue;
        for (int li = 0; li <= N_LENGTHS; li++) {
            int64_t n = li < N_LENGTHS ? lengths[li] : 8192;
            for (int v = 0; v < 6; v++) {
                float off = offsets[v % 3], sd = v % 3 == 2 ? 0.01f : 1.0f;
                int with_b = v < 3, in_place = v % 2;
                float eps = v == 4 ? 1e-12f : 1e-5f;
                float *x = row_new(n), *wt = row_new(n), *b = row_new(n), *out = row_new(n);
                float *x0 = rag_xmalloc((size_t)(n + 1) * sizeof(float));
                for (int64_t i = 0; i < n; i++) {
                    x0[i] = x[i] = off + sd * gauss();
                    wt[i] = 1 + 0.2f * gauss();
                    b[i] = 0.1f * gauss();
                }
                float *dst = in_place ? x : out;
                llm_vec_layernorm(x, wt, with_b ? b : NULL, dst, n, eps);
                CHECK(row_intact(x, n) && row_intact(out, n));
                double mean = 0, var = 0;
                for (int64_t i = 0; i < n; i++)
                    mean += x0[i];
                mean /= n > 0 ? (double)n : 1;
                for (int64_t i = 0; i < n; i++)
                    var += (x0[i] - mean) * (x0[i] - mean);
                double rstd = 1 / sqrt(var / (n > 0 ? (double)n : 1) + eps);
                for (int64_t i = 0; i < n; i++) {
                    double t = (x0[i] - mean) * rstd * wt[i], bb = with_b ? b[i] : 0;
                    double err = fabs(dst[i] - (t + bb)) / (fabs(t) + fabs(bb) + 1e-30);
                    note(&w, isa, err, 1e-6, "layernorm", n, i, x0[i], dst[i], t + bb);
                }
                rag_free(x0);
                row_free(out);
                row_free(b);
                row_free(wt);
                row_free(x);
            }
        }
        llm_isa_select(prev);
    }
    report("layernorm", &w, "relative to |(x - mean) rstd w| + |b|");
}

static void test_rmsnorm(void)
{
    worst w = {{0}, 0};
    for (int k = 0; k < 3; k++) {
        llm_isa isa = all_isas[k], prev;
        if (!isa_begin(isa, &prev)) continue;
        for (int li = 0; li <= N_LENGTHS; li++) {
            int64_t n = li < N_LENGTHS ? lengths[li] : 8192;
            for (int v = 0; v < 4; v++) {
                float sd = v == 0 ? 1.0f : v == 1 ? 100.0f : v == 2 ? 1e-3f : 1.0f;
                float off = v == 3 ? 1000.0f : 0.0f;
                float *x = row_new(n), *wt = row_new(n), *out = row_new(n);
                float *x0 = rag_xmalloc((size_t)(n + 1) * sizeof(float));
                for (int64_t i = 0; i < n; i++) {
                    x0[i] = x[i] = off + sd * gauss();
                    wt[i] = 1 + 0.2f * gauss();
                }
                float *dst = v % 2 ? x : out;
                llm_vec_rmsnorm(x, wt, dst, n, 1e-6f);
                CHECK(row_intact(x, n) && row_intact(out, n));
                double ss = 0;
                for (int64_t i = 0; i < n; i++)
                    ss += (double)x0[i] * x0[i];
                double rstd = 1 / sqrt(ss / (n > 0 ? (double)n : 1) + 1e-6f);
                for (int64_t i = 0; i < n; i++) {
                    double r = x0[i] * rstd * wt[i];
                    double err = fabs(dst[i] - r) / (fabs(r) + 1e-30);
                    note(&w, isa, err, 1e-6, "rmsnorm", n, i, x0[i], dst[i], r);
                }
                rag_free(x0);
                row_free(out);
                row_free(wt);
                row_free(x);
            }
        }
        llm_isa_select(prev);
    }
    report("rmsnorm", &w, "relative");
}

/* ---- add, axpy ---------------------------------------------------------- */

/* Relative to |y| + |a x|: one rounding (or one fused multiply-add). */
static void test_add_axpy(void)
{
    worst w = {{0}, 0};
    for (int k = 0; k < 3; k++) {
        llm_isa isa = all_isas[k], prev;
        if (!isa_begin(isa, &prev)) continue;
        for (int li = 0; li < N_LENGTHS; li++) {
            int64_t n = lengths[li];
            for (int op = 0; op < 3; op++) {
                float a = op == 0 ? 1.0f : op == 1 ? -0.37f : 3e5f;
                float *y = row_new(n), *x = row_new(n);
                float *y0 = rag_xmalloc((size_t)(n + 1) * sizeof(float));
                for (int64_t i = 0; i < n; i++) {
                    y0[i] = y[i] = gauss() * (rnd() % 2 ? 1e3f : 1e-3f);
                    x[i] = gauss();
                }
                if (op == 0)
                    llm_vec_add(y, x, n);
                else
                    llm_vec_axpy(y, a, x, n);
                CHECK(row_intact(y, n) && row_intact(x, n));
                for (int64_t i = 0; i < n; i++) {
                    double r = y0[i] + (double)a * x[i];
                    double err = fabs(y[i] - r) / (fabs(y0[i]) + fabs((double)a * x[i]) + 1e-30);
                    note(&w, isa, err, 1e-6, op == 0 ? "add" : "axpy", n, i, x[i], y[i], r);
                }
                rag_free(y0);
                row_free(x);
                row_free(y);
            }
        }
        llm_isa_select(prev);
    }
    report("add, axpy", &w, "relative to |y| + |a x|");
}

/* ---- throughput (printed only) ------------------------------------------ */

/* Million elements per second over 1M elements (rows of 1024 for softmax
 * and layernorm), one thread, best of several passes; the input is copied
 * back in before each pass, outside the timing. */
static void test_throughput(void)
{
    const int64_t n = 1 << 20, row = 1024;
    float *src = rag_xmalloc(n * sizeof(float)), *x = rag_xmalloc(n * sizeof(float));
    float *out = rag_xmalloc(n * sizeof(float)), *wt = rag_xmalloc(row * sizeof(float));
    float *b = rag_xmalloc(row * sizeof(float));
    for (int64_t i = 0; i < row; i++) {
        wt[i] = 1 + 0.1f * gauss();
        b[i] = 0.1f * gauss();
    }
    const char *names[] = {"exp", "gelu", "silu", "softmax", "layernorm"};
    printf("    Melem/s, 1M elements, one thread:");
    for (int k = 0; k < 3; k++)
        if (llm_isa_supported(all_isas[k])) printf(" %9s", llm_isa_name(all_isas[k]));
    printf("\n");
    for (int f = 0; f < 5; f++) {
        for (int64_t i = 0; i < n; i++)
            src[i] = f == 0 ? uniform(-10, 10) : f == 3 ? 3 * gauss() : uniform(-5, 5);
        printf("    %-33s", names[f]);
        for (int k = 0; k < 3; k++) {
            llm_isa isa = all_isas[k], prev;
            if (!isa_begin(isa, &prev)) continue;
            double best = INFINITY, spent = 0;
            for (int pass = 0; pass < 3 || (spent < 0.05 && pass < 50); pass++) {
                memcpy(x, src, n * sizeof(float));
                double t0 = rag_now_s();
                switch (f) {
                case 0:
                    llm_vec_exp(x, n);
                    break;
                case 1:
                    llm_vec_gelu(x, n);
                    break;
                case 2:
                    llm_vec_silu(x, n);
                    break;
                case 3:
                    for (int64_t r = 0; r < n; r += row)
                        llm_vec_softmax(x + r, row, 0.125f);
                    break;
                default:
                    for (int64_t r = 0; r < n; r += row)
                        llm_vec_layernorm(x + r, wt, b, out + r, row, 1e-5f);
                }
                double el = rag_now_s() - t0;
                spent += el;
                if (el < best) best = el;
            }
            printf(" %9.0f", (double)n / best / 1e6);
            llm_isa_select(prev);
        }
        printf("\n");
    }
    rag_free(b);
    rag_free(wt);
    rag_free(out);
    rag_free(x);
    rag_free(src);
}

/* ---- llm_gemm_nt, llm_gemm_nn ------------------------------------------ */

/* Against float64 (error relative to sum |a b|, which bounds the rounding of
 * any order of summation), for lengths around the vector widths and shapes
 * around the block sizes; batch invariance: every row of A multiplied alone
 * from an unaligned copy elsewhere gives bit for bit the row of the full
 * product; llm_gemm_nn on B transposed gives the same bits; and every
 * instruction set gives the same bits as the scalar reference, the panel
 * allocated or the caller's (left dirty by the call before). Nothing is
 * written outside C's m x n elements. */
static void test_gemm(void)
{
    static const int64_t ks[] = {1, 7, 8, 9, 15, 16, 17, 33, 384, 1000};
    /* with m > 1 a product may take the other path (A or B packed) than
     * a row alone: {100, 64} and {33, 96} do on AVX2 and AVX-512; {12, 203}
     * packs A on both, its columns unpacked 96 at a time and a tail, and
     * {40, 203} packs A in three strips on AVX-512 */
    static const int shapes[][2] = {{1, 1},    {1, 5},   {3, 1},    {6, 16},  {7, 17},
                                    {9, 33},   {13, 40}, {2, 70},   {40, 13}, {70, 2},
                                    {100, 64}, {33, 96}, {12, 203}, {40, 203}};
    double worst_err = 0;
    int bad_inv = 0, bad_nn = 0, bad_isa = 0, bad_canary = 0;
    for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++)
        for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
            int64_t K = ks[ki], lda = K + 3, ldb = K + 5;
            int m = shapes[si][0], n = shapes[si][1], ldc = n + 2, ldbt = n + 1;
            float *A = row_new((int64_t)m * lda), *B = row_new((int64_t)n * ldb),
                  *Bt = row_new(K * ldbt);
            float *C = row_new((int64_t)m * ldc), *Cn = row_new((int64_t)m * ldc),
                  *C0 = row_new((int64_t)m * ldc);
            float *one = row_new(K), *c1 = row_new(n);
            float *panel = rag_xcalloc_lines((size_t)K * LLM_GEMM_PANEL, sizeof(float));
            for (int64_t i = 0; i < K * LLM_GEMM_PANEL; i++)
                panel[i] = CANARY;
            for (int64_t i = 0; i < (int64_t)m * lda; i++)
                A[i] = gauss();
            for (int64_t i = 0; i < (int64_t)n * ldb; i++)
                B[i] = gauss();
            for (int j = 0; j < n; j++)
                for (int64_t t = 0; t < K; t++)
                    Bt[t * ldbt + j] = B[j * ldb + t];
            for (int k = 0; k < 3; k++) {
                llm_isa isa = all_isas[k], prev;
                if (!isa_begin(isa, &prev)) continue;
                for (int64_t i = 0; i < (int64_t)m * ldc; i++)
                    C[i] = Cn[i] = CANARY;
                llm_gemm_nt(A, lda, m, B, ldb, n, K, C, ldc, NULL);
                llm_gemm_nn(A, lda, m, Bt, ldbt, n, K, Cn, ldc, panel);
                for (int i = 0; i < m; i++) {
                    memcpy(one, A + i * lda, (size_t)K * sizeof *one);
                    llm_gemm_nt(one, K, 1, B, ldb, n, K, c1, n, panel);
                    bad_inv += memcmp(c1, C + i * ldc, (size_t)n * sizeof *c1) != 0;
                    bad_nn += memcmp(Cn + i * ldc, C + i * ldc, (size_t)n * sizeof *c1) != 0;
                    if (k == 0)
                        memcpy(C0 + i * ldc, C + i * ldc, (size_t)n * sizeof *c1);
                    else
                        bad_isa += memcmp(C0 + i * ldc, C + i * ldc, (size_t)n * sizeof *c1) != 0;
                    for (int j = 0; j < n; j++) {
                        double ref = 0, mag = 0;
                        for (int64_t t = 0; t < K; t++) {
                            double p = (double)A[i * lda + t] * B[j * ldb + t];
                            ref += p;
                            mag += fabs(p);
                        }
                        double e = fabs(C[i * ldc + j] - ref) / (mag > 0 ? mag : 1);
                        if (e > worst_err) worst_err = e;
                    }
                    for (int j = n; j < ldc; j++)
                        bad_canary += (C[i * ldc + j] != CANARY) + (Cn[i * ldc + j] != CANARY);
                }
                bad_canary += !row_intact(C, (int64_t)m * ldc) + !row_intact(Cn, (int64_t)m * ldc) +
                              !row_intact(c1, n);
                llm_isa_select(prev);
            }
            row_free(A), row_free(B), row_free(Bt), row_free(C), row_free(Cn), row_free(C0),
                row_free(one), row_free(c1);
            rag_free_lines(panel);
        }
    printf("    gemm: worst error %.2e of sum |ab|\n", worst_err);
    CHECK(worst_err < 2e-6);
    CHECK_INT(bad_inv, 0);
    CHECK_INT(bad_nn, 0);
    CHECK_INT(bad_isa, 0);
    CHECK_INT(bad_canary, 0);
}

/* What attention relies on (llm/forward.c): a row of A that is zero past
 * k0 gives, in a product over any k >= k0 and among any rows, the bits of
 * the product over k0 alone. Rows with zero tails of every length, one
 * product over all of k against each row alone over its own length, on
 * every instruction set. */
static void test_gemm_zero_tail(void)
{
    enum { M = 40, K = 300, N = 64 };
    float *A = row_new(M * K), *B = row_new(K * N), *C = row_new(M * N), *c1 = row_new(N);
    float *panel = rag_xcalloc_lines((size_t)K * LLM_GEMM_PANEL, sizeof(float));
    for (int i = 0; i < M; i++)
        for (int t = 0; t < K; t++)
            A[i * K + t] = t < K - i * 7 ? gauss() : 0.0f;
    for (int i = 0; i < K * N; i++)
        B[i] = gauss();
    int bad = 0, runs = 0;
    for (int k = 0; k < 3; k++) {
        llm_isa prev;
        if (!isa_begin(all_isas[k], &prev)) continue;
        runs++;
        llm_gemm_nn(A, K, M, B, N, N, K, C, N, panel);
        for (int i = 0; i < M; i++) {
            llm_gemm_nn(A + i * K, K, 1, B, N, N, K - i * 7, c1, N, NULL);
            bad += memcmp(c1, C + i * N, N * sizeof *c1) != 0;
        }
        llm_isa_select(prev);
    }
    CHECK(runs > 0);
    CHECK_INT(bad, 0);
    row_free(A), row_free(B), row_free(C), row_free(c1);
    rag_free_lines(panel);
}

/* llm_gemm_nn_f16 against llm_gemm_nn on the same B widened to floats: bit
 * for bit, on every instruction set, for shapes around the blocks' edges
 * (rows 1 to 13, columns 1 to 70, strides wider than the rows, k up to
 * 600: a decoding token's scores against its cache). */
static void test_gemm_nn_f16(void)
{
    enum { MMAX = 17, NMAX = 70, KMAX = 600, LDB = 72 };
    float *A = row_new(MMAX * KMAX), *Bf = row_new(KMAX * LDB), *want = row_new(MMAX * NMAX),
          *got = row_new(MMAX * NMAX);
    uint16_t *B = rag_xcalloc((size_t)KMAX * LDB, sizeof *B);
    for (int i = 0; i < MMAX * KMAX; i++)
        A[i] = gauss();
    for (int i = 0; i < KMAX * LDB; i++)
        Bf[i] = gauss();
    llm_quantize_row(LLM_F16, Bf, B, (int64_t)KMAX * LDB);
    llm_dequant_row(LLM_F16, B, Bf, (int64_t)KMAX * LDB); /* the values B holds */
    static const int ms[] = {1, 6, 7, 8, 9, 13, 17}, ns[] = {1, 15, 16, 17, 33, 64, 70},
                     ks[] = {1, 31, 600};
    int bad = 0, runs = 0, cases = 0;
    for (int k = 0; k < 3; k++) {
        llm_isa prev;
        if (!isa_begin(all_isas[k], &prev)) continue;
        runs++;
        for (size_t mi = 0; mi < sizeof ms / sizeof *ms; mi++)
            for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
                for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++) {
                    int m = ms[mi], n = ns[ni], kk = ks[ki];
                    llm_gemm_nn(A, KMAX, m, Bf, LDB, n, kk, want, NMAX, NULL);
                    llm_gemm_nn_f16(A, KMAX, m, B, LDB, n, kk, got, NMAX);
                    cases++;
                    for (int i = 0; i < m; i++)
                        bad +=
                            memcmp(want + i * NMAX, got + i * NMAX, (size_t)n * sizeof *got) != 0;
                }
        llm_isa_select(prev);
    }
    printf("    %d products, %d rows differ from llm_gemm_nn\n", cases, bad);
    CHECK(runs > 0);
    CHECK_INT(bad, 0);
    row_free(A), row_free(Bf), row_free(want), row_free(got);
    rag_free(B);
}

/* ---- llm_bench_read_sum ------------------------------------------------- */

/* The sum (modulo 2^64) under every ISA, for lengths around the rounds of
 * 32 values and for every 8-byte offset from a 64-byte boundary, values
 * large enough to wrap: the wide loads and the tail together read each
 * value once. */
static void test_read_sum(void)
{
    enum { N = 300 };
    uint64_t *buf = rag_xmalloc((N + 8) * sizeof *buf);
    for (int i = 0; i < N + 8; i++)
        buf[i] = rnd();
    static const size_t ns[] = {0, 1, 3, 31, 32, 33, 63, 64, 65, 100, 255, 256, 257, N};
    for (int k = 0; k < 3; k++) {
        llm_isa prev;
        if (!isa_begin(all_isas[k], &prev)) continue;
        for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++)
            for (int off = 0; off < 8; off++) {
                uint64_t want = 0;
                for (size_t i = 0; i < ns[a]; i++)
                    want += buf[off + i];
                if (llm_bench_read_sum(buf + off, ns[a]) != want) {
                    printf("    %s n=%zu offset %d: wrong sum\n", llm_isa_name(all_isas[k]), ns[a],
                           off);
                    test_case_failed = 1;
                }
            }
        llm_isa_select(prev);
    }
    rag_free(buf);
}

/* llm_vec_argmax on every instruction set: the first index of the
 * largest value, against a plain loop, for lengths around the vector
 * widths, with ties (the maximum repeated, the first wins), NaNs (never
 * chosen, even first), -0 beside +0, and rows of -inf or NaN only (0). */
static void test_argmax(void)
{
    enum { N = 300 };
    float *x = rag_xmalloc(N * sizeof *x);
    static const int64_t ns[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 100, 257, N};
    int bad = 0, cases = 0;
    for (int k = 0; k < 3; k++) {
        llm_isa prev;
        if (!isa_begin(all_isas[k], &prev)) continue;
        for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++)
            for (int kind = 0; kind < 6; kind++) {
                int64_t n = ns[a], want = 0;
                for (int64_t i = 0; i < n; i++)
                    x[i] = kind == 4 ? -INFINITY : kind == 5 ? NAN : gauss();
                if (n > 2 && kind == 1) /* the maximum twice: the first */
                    x[n / 3] = x[n - 1] = 9.0f;
                if (n > 1 && kind == 2) /* NaN first and in the middle */
                    x[0] = x[n / 2] = NAN;
                if (n > 3 && kind == 3) /* -0 and +0 the largest: the first of them */
                    for (int64_t i = 0; i < n; i++)
                        x[i] = i == 2 ? -0.0f : i == n - 1 ? 0.0f : -1.0f - (float)i;
                float top = -INFINITY;
                for (int64_t i = 0; i < n; i++)
                    if (x[i] > top) top = x[i], want = i;
                int64_t got = llm_vec_argmax(x, n);
                cases++;
                if (got != want) {
                    printf("    %s n=%lld kind %d: %lld, expected %lld\n",
                           llm_isa_name(all_isas[k]), (long long)n, kind, (long long)got,
                           (long long)want);
                    bad++;
                }
            }
        llm_isa_select(prev);
    }
    CHECK_INT(bad, 0);
    CHECK(cases > 90);
    rag_free(x);
}

int main(void)
{
    printf("    active instruction set: %s\n", llm_isa_name(llm_isa_active()));
    RUN(test_exp);
    RUN(test_silu);
    RUN(test_gelu);
    RUN(test_gelu_reference_formula);
    RUN(test_swiglu);
    RUN(test_isa_switch);
    RUN(test_softmax);
    RUN(test_softmax_rows);
    RUN(test_layernorm);
    RUN(test_rmsnorm);
    RUN(test_add_axpy);
    RUN(test_gemm);
    RUN(test_gemm_zero_tail);
    RUN(test_gemm_nn_f16);
    RUN(test_read_sum);
    RUN(test_argmax);
    RUN(test_throughput);
    return test_summary();
}
