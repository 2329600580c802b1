/* llm: element types, half-precision conversions, the dequantize and dot
 * kernels of every instruction set against the scalar reference, the
 * quantizers, the compute pool and llm_matmul. Prints (does not assert) the
 * dot throughput of each instruction set. */
#include "base/err.h"
#include "base/mem.h"
#include "base/time.h"
#include "llm/kernels.h"
#include "llm/qgemm.h"
#include "llm/quant_int.h" /* the block layouts, to build and check blocks directly */
#include "test.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rng = 0x243F6A8885A308D3u;

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

static float gauss(void)
{
    double u = urand(), v = urand();
    return (float)(sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v));
}

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* The types with kernels, in the order the report prints them. */
static const llm_dtype compute_types[] = {
    LLM_F32,  LLM_F16,  LLM_BF16, LLM_Q4_0, LLM_Q4_1, LLM_Q5_0,   LLM_Q5_1,   LLM_Q8_0,
    LLM_Q2_K, LLM_Q3_K, LLM_Q4_K, LLM_Q5_K, LLM_Q6_K, LLM_IQ4_NL, LLM_IQ4_XS,
};
#define N_COMPUTE ((int)(sizeof compute_types / sizeof compute_types[0]))

static const llm_isa all_isas[] = {LLM_ISA_SCALAR, LLM_ISA_AVX2, LLM_ISA_AVX512};

/* Byte offsets of the fp16 scale fields of one block: random bytes are a
 * valid block once these hold finite values. */
static int half_fields(llm_dtype t, size_t off[2])
{
    switch (t) {
    case LLM_Q4_0:
    case LLM_Q5_0:
    case LLM_Q8_0:
    case LLM_IQ4_NL:
    case LLM_IQ4_XS:
        off[0] = 0;
        return 1;
    case LLM_Q4_1:
    case LLM_Q5_1:
    case LLM_Q4_K:
    case LLM_Q5_K:
        off[0] = 0, off[1] = 2;
        return 2;
    case LLM_Q2_K:
        off[0] = offsetof(llm_block_q2_K, d), off[1] = offsetof(llm_block_q2_K, dmin);
        return 2;
    case LLM_Q3_K:
        off[0] = offsetof(llm_block_q3_K, d);
        return 1;
    case LLM_Q6_K:
        off[0] = offsetof(llm_block_q6_K, d);
        return 1;
    default:
        return 0;
    }
}

/* A valid row of n elements of type t with random contents. */
static void *random_row(llm_dtype t, int64_t n)
{
    const llm_dtype_info *info = llm_dtype_get(t);
    size_t bytes = llm_row_bytes(t, n);
    uint8_t *row = rag_xmalloc(bytes + 1);
    for (size_t i = 0; i < bytes; i++)
        row[i] = (uint8_t)rnd();
    if (t == LLM_F32) {
        for (int64_t i = 0; i < n; i++)
            ((float *)row)[i] = gauss();
    } else if (t == LLM_F16) { /* any finite half, subnormals included */
        uint16_t *h = (uint16_t *)row;
        for (int64_t i = 0; i < n; i++)
            while ((h[i] & 0x7c00) == 0x7c00)
                h[i] = (uint16_t)rnd();
    } else if (t == LLM_BF16) {
        uint16_t *h = (uint16_t *)row;
        for (int64_t i = 0; i < n; i++)
            h[i] = llm_f32_to_bf16(ldexpf(gauss(), (int)(rnd() % 41) - 20));
    } else {
        size_t off[2];
        int nf = half_fields(t, off);
        for (int64_t b = 0; b < n / info->block_elems; b++)
            for (int f = 0; f < nf; f++) {
                float v = (float)((urand() * 2 - 1) * 0.05);
                uint16_t h = llm_f32_to_f16(v);
                memcpy(row + (size_t)b * info->block_bytes + off[f], &h, 2);
            }
    }
    return row;
}

/* rows random rows of type t, n elements each, one after another. */
static uint8_t *random_rows(llm_dtype t, int64_t rows, int64_t n)
{
    size_t rb = llm_row_bytes(t, n);
    uint8_t *data = rag_xmalloc(rb * (size_t)rows);
    for (int64_t r = 0; r < rows; r++) {
        uint8_t *one = random_row(t, n);
        memcpy(data + (size_t)r * rb, one, rb);
        rag_free(one);
    }
    return data;
}

/* A random matrix of type t, its rows in *data, and in *il its
 * interleaved groups where the active path makes them (else NULL); W.il
 * left NULL for the caller to set. */
static llm_mat random_mat(llm_dtype t, int64_t rows, int64_t cols, uint8_t **data, uint8_t **il)
{
    size_t rb = llm_row_bytes(t, cols);
    *data = random_rows(t, rows, cols);
    *il = NULL;
    if (llm_qg_il_handles(t)) {
        *il = rag_xcalloc_lines(llm_qg_il_bytes(t, rows, cols), 1);
        llm_qg_il_pack(t, *data, rb, rows, cols, *il);
    }
    return (llm_mat){t, rows, cols, *data, rb, NULL};
}

static float *random_vec(int64_t n)
{
    float *x = rag_xmalloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++)
        x[i] = gauss();
    return x;
}

/* Row lengths to test: odd block counts, and for plain types odd lengths
 * that leave every kind of SIMD tail. */
static int test_lengths(llm_dtype t, int64_t out[6])
{
    const llm_dtype_info *info = llm_dtype_get(t);
    if (info->block_elems == 1) {
        const int64_t plain[6] = {1, 3, 17, 31, 100, 1029};
        memcpy(out, plain, sizeof plain);
        return 6;
    }
    out[0] = info->block_elems;
    out[1] = 3 * info->block_elems;
    out[2] = 17 * info->block_elems;
    return 3;
}

/* ---- types and conversions ---------------------------------------------- */

static void test_dtype_table(void)
{
    static const struct {
        llm_dtype t;
        const char *name;
        int elems;
        size_t bytes;
    } ggml[] = {
        {LLM_F32, "f32", 1, 4},
        {LLM_F16, "f16", 1, 2},
        {LLM_Q4_0, "q4_0", 32, 18},
        {LLM_Q4_1, "q4_1", 32, 20},
        {LLM_Q5_0, "q5_0", 32, 22},
        {LLM_Q5_1, "q5_1", 32, 24},
        {LLM_Q8_0, "q8_0", 32, 34},
        {LLM_Q8_1, "q8_1", 32, 36},
        {LLM_Q2_K, "q2_K", 256, 84},
        {LLM_Q3_K, "q3_K", 256, 110},
        {LLM_Q4_K, "q4_K", 256, 144},
        {LLM_Q5_K, "q5_K", 256, 176},
        {LLM_Q6_K, "q6_K", 256, 210},
        {LLM_Q8_K, "q8_K", 256, 292},
        {LLM_IQ2_XXS, "iq2_xxs", 256, 66},
        {LLM_IQ2_XS, "iq2_xs", 256, 74},
        {LLM_IQ3_XXS, "iq3_xxs", 256, 98},
        {LLM_IQ1_S, "iq1_s", 256, 50},
        {LLM_IQ4_NL, "iq4_nl", 32, 18},
        {LLM_IQ3_S, "iq3_s", 256, 110},
        {LLM_IQ2_S, "iq2_s", 256, 82},
        {LLM_IQ4_XS, "iq4_xs", 256, 136},
        {LLM_I8, "i8", 1, 1},
        {LLM_I32, "i32", 1, 4},
        {LLM_F64, "f64", 1, 8},
        {LLM_IQ1_M, "iq1_m", 256, 56},
        {LLM_BF16, "bf16", 1, 2},
    };
    for (size_t i = 0; i < sizeof ggml / sizeof ggml[0]; i++) {
        const llm_dtype_info *d = llm_dtype_get(ggml[i].t);
        CHECK(d != NULL);
        if (!d) continue;
        CHECK_STR(d->name, ggml[i].name);
        CHECK_INT(d->block_elems, ggml[i].elems);
        CHECK_INT(d->block_bytes, ggml[i].bytes);
        CHECK_INT(llm_dtype_from_name(ggml[i].name), ggml[i].t);
    }
    CHECK(llm_dtype_get(4) == NULL);
    CHECK(llm_dtype_get(31) == NULL);
    CHECK(llm_dtype_get(LLM_DTYPE_MAX) == NULL);
    CHECK(llm_dtype_get(-1) == NULL);
    CHECK(llm_dtype_get(LLM_IQ2_XXS)->can_compute == 0);
    CHECK_INT(llm_dtype_from_name("Q4_K"), LLM_Q4_K);
    CHECK_INT(llm_dtype_from_name("BF16"), LLM_BF16);
    CHECK_INT(llm_dtype_from_name("q4_k_m"), -1);
    CHECK_INT(llm_row_bytes(LLM_Q4_K, 4096), 16 * 144);
    CHECK_INT(llm_row_bytes(LLM_F16, 7), 14);
    CHECK_INT(llm_row_bytes(LLM_Q8_0, 64), 68);
    /* every type claimed computable has kernels in every supported ISA */
    for (int t = 0; t < LLM_DTYPE_MAX; t++) {
        const llm_dtype_info *d = llm_dtype_get(t);
        if (!d || !d->can_compute) continue;
        int listed = 0;
        for (int i = 0; i < N_COMPUTE; i++)
            listed |= (int)compute_types[i] == t;
        CHECK(listed);
    }
}

#if defined(__x86_64__)
__attribute__((target("f16c"))) static uint16_t hw_f32_to_f16(float f)
{
    return (uint16_t)_cvtss_sh(f, 0);
}

__attribute__((target("f16c"))) static float hw_f16_to_f32(uint16_t h)
{
    return _cvtsh_ss(h);
}
#endif

static void test_f16_conversion(void)
{
    /* every half survives the round trip; NaNs stay NaN */
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = llm_f16_to_f32((uint16_t)h);
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) {
            CHECK(isnan(f));
            CHECK(llm_f32_to_f16(f) == (h | 0x200));
        } else if (llm_f32_to_f16(f) != h) {
            printf("    half 0x%04x -> %g -> 0x%04x\n", h, f, llm_f32_to_f16(f));
            test_case_failed = 1;
            break;
        }
    }
    CHECK(llm_f16_to_f32(0x0001) == 0x1p-24f);
    CHECK(llm_f16_to_f32(0x03ff) == 1023 * 0x1p-24f);
    CHECK(llm_f16_to_f32(0x0400) == 0x1p-14f);
    CHECK(llm_f16_to_f32(0x7bff) == 65504.0f);
    CHECK(isinf(llm_f16_to_f32(0x7c00)) && llm_f16_to_f32(0xfc00) < 0);
    CHECK(signbit(llm_f16_to_f32(0x8000)) && llm_f16_to_f32(0x8000) == 0);
    CHECK_INT(llm_f32_to_f16(65504.0f), 0x7bff);
    CHECK_INT(llm_f32_to_f16(65519.996f), 0x7bff);
    CHECK_INT(llm_f32_to_f16(65520.0f), 0x7c00); /* the tie rounds to even: infinity */
    CHECK_INT(llm_f32_to_f16(1e10f), 0x7c00);
    CHECK_INT(llm_f32_to_f16(-1e10f), 0xfc00);
    CHECK_INT(llm_f32_to_f16(INFINITY), 0x7c00);
    CHECK_INT(llm_f32_to_f16(-0.0f), 0x8000);
    CHECK_INT(llm_f32_to_f16(0x1p-25f), 0x0000);            /* tie between 0 and 2^-24 */
    CHECK_INT(llm_f32_to_f16(0x1.000002p-25f), 0x0001);     /* just above it */
    CHECK_INT(llm_f32_to_f16(3 * 0x1p-25f), 0x0002);        /* tie, 1 is odd */
    CHECK_INT(llm_f32_to_f16(0x1p-14f - 0x1p-25f), 0x0400); /* tie at the normal edge */
    CHECK_INT(llm_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);     /* tie, mantissa 0 even */
    CHECK_INT(llm_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02); /* tie, mantissa 1 odd */
    CHECK_INT(llm_f32_to_f16(1e-10f), 0x0000);
    CHECK_INT(llm_f32_to_f16(0x1p-149f), 0x0000); /* float subnormal */
    CHECK(isnan(llm_f16_to_f32(llm_f32_to_f16(NAN))));
#if defined(__x86_64__)
    if (!__builtin_cpu_supports("f16c")) {
        printf("    note: no F16C on this CPU, hardware comparison skipped\n");
        return;
    }
    /* against the CPU's own conversion: every midpoint between neighbouring
     * halves, one float either side of it, and a million random floats */
    int bad = 0;
    for (uint32_t h = 0; h < 0x7c00 && bad < 5; h++) {
        uint32_t mid =
            (bits_of(hw_f16_to_f32((uint16_t)h)) + bits_of(hw_f16_to_f32((uint16_t)(h + 1)))) / 2;
        /* the midpoint of two floats with the same exponent is exact in bits */
        for (int dlt = -1; dlt <= 1; dlt++)
            for (int sign = 0; sign < 2; sign++) {
                float f = float_of((mid + (uint32_t)dlt) | (uint32_t)sign << 31);
                if (llm_f32_to_f16(f) != hw_f32_to_f16(f) && bad++ < 5)
                    printf("    f32 0x%08x: 0x%04x, hardware 0x%04x\n", bits_of(f),
                           llm_f32_to_f16(f), hw_f32_to_f16(f));
            }
    }
    for (int i = 0; i < 1000000 && bad < 5; i++) {
        float f = float_of((uint32_t)rnd());
        if (llm_f32_to_f16(f) != hw_f32_to_f16(f) && bad++ < 5)
            printf("    f32 0x%08x: 0x%04x, hardware 0x%04x\n", bits_of(f), llm_f32_to_f16(f),
                   hw_f32_to_f16(f));
    }
    CHECK_INT(bad, 0);
#endif
}

/* Rows to F16 (llm_quantize_row, the cache's stores) on every instruction
 * set: llm_f32_to_f16's bits for each value, the specials, NaNs with
 * payloads, ties and random floats included, and a tail shorter than a
 * vector. */
static void test_f16_rows(void)
{
    enum { N = 4099 };
    static const uint32_t special[] = {0x7f800000, 0xff800000, 0x7fc00000, 0x7fa00001, 0xffbfe000,
                                       0x7f802000, 0x477ff000, 0x477fefff, 0x33000000, 0x33000001,
                                       0x387fe000, 0x80000001, 0x80000000, 0x3f801000, 0x3f803000};
    float *x = rag_xmalloc(N * sizeof *x);
    uint16_t *h = rag_xmalloc(N * sizeof *h);
    for (int i = 0; i < N; i++)
        x[i] = i < (int)(sizeof special / sizeof *special) ? float_of(special[i])
                                                           : float_of((uint32_t)rnd());
    for (size_t s = 0; s < sizeof all_isas / sizeof *all_isas; s++) {
        if (!llm_isa_supported(all_isas[s])) continue;
        llm_isa prev = llm_isa_select(all_isas[s]);
        int bad = 0;
        for (int n = N - 3; n <= N; n++) { /* tails of 0 to 3 past a multiple of 16 */
            memset(h, 0xa5, N * sizeof *h);
            llm_quantize_row(LLM_F16, x, h, n);
            for (int i = 0; i < N; i++) {
                uint16_t want = i < n ? llm_f32_to_f16(x[i]) : 0xa5a5;
                if (h[i] != want && bad++ < 3)
                    printf("    %s, %d values: f32 0x%08x -> 0x%04x, want 0x%04x\n",
                           llm_isa_name(all_isas[s]), n, bits_of(x[i]), h[i], want);
            }
        }
        CHECK_INT(bad, 0);
        llm_isa_select(prev);
    }
    rag_free(h);
    rag_free(x);
}

static void test_bf16_conversion(void)
{
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7f80) == 0x7f80 && (h & 0x7f)) continue; /* NaN */
        if (llm_f32_to_bf16(llm_bf16_to_f32((uint16_t)h)) != h) {
            printf("    bf16 0x%04x does not round-trip\n", h);
            test_case_failed = 1;
            break;
        }
    }
    CHECK(llm_bf16_to_f32(0x3f80) == 1.0f);
    CHECK_INT(llm_f32_to_bf16(float_of(0x3f808000)), 0x3f80); /* tie to even (down) */
    CHECK_INT(llm_f32_to_bf16(float_of(0x3f818000)), 0x3f82); /* tie to even (up) */
    CHECK_INT(llm_f32_to_bf16(float_of(0x3f808001)), 0x3f81);
    CHECK_INT(llm_f32_to_bf16(float_of(0x3f807fff)), 0x3f80);
    CHECK_INT(llm_f32_to_bf16(INFINITY), 0x7f80);
    CHECK_INT(llm_f32_to_bf16(-INFINITY), 0xff80);
    CHECK_INT(llm_f32_to_bf16(float_of(0x7f7fffff)), 0x7f80); /* FLT_MAX rounds up to inf */
    CHECK_INT(llm_f32_to_bf16(float_of(0x7f800001)), 0x7fc0); /* signalling NaN made quiet */
    CHECK_INT(llm_f32_to_bf16(float_of(0xffc12345)), 0xffc1);
    CHECK_INT(llm_f32_to_bf16(float_of(0x00000001)), 0x0000); /* subnormals round, kept */
    CHECK_INT(llm_f32_to_bf16(float_of(0x00018000)), 0x0002);
    CHECK_INT(llm_f32_to_bf16(float_of(0x00008000)), 0x0000);
    CHECK_INT(llm_f32_to_bf16(-0.0f), 0x8000);
}

/* ---- kernels -------------------------------------------------------------
 * GGML's dequantize_row_* loops for the layouts with the most intricate
 * packing, transcribed in their original shape (the library walks the same
 * blocks group by group instead), one block at a time. Agreement of the two
 * on random blocks is the check that neither misreads a layout. */

static void ggml_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m)
{
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
    }
}

static int ggml_dequant_block(llm_dtype t, const void *blk, float *y)
{
    switch (t) {
    case LLM_Q5_0: {
        const llm_block_q5_0 *x = blk;
        float d = llm_f16_to_f32(x->d);
        uint32_t qh;
        memcpy(&qh, x->qh, sizeof qh);
        for (int j = 0; j < 16; ++j) {
            uint8_t xh_0 = ((qh >> (j + 0)) << 4) & 0x10;
            uint8_t xh_1 = ((qh >> (j + 12))) & 0x10;
            int32_t x0 = ((x->qs[j] & 0x0F) | xh_0) - 16;
            int32_t x1 = ((x->qs[j] >> 4) | xh_1) - 16;
            y[j] = x0 * d;
            y[j + 16] = x1 * d;
        }
        return 1;
    }
    case LLM_Q2_K: {
        const llm_block_q2_K *x = blk;
        float d = llm_f16_to_f32(x->d), min = llm_f16_to_f32(x->dmin);
        const uint8_t *q = x->qs;
        int is = 0;
        for (int n = 0; n < 256; n += 128) {
            int shift = 0;
            for (int j = 0; j < 4; ++j) {
                uint8_t sc = x->scales[is++];
                float dl = d * (sc & 0xF), ml = min * (sc >> 4);
                for (int l = 0; l < 16; ++l)
                    *y++ = dl * ((int8_t)((q[l] >> shift) & 3)) - ml;
                sc = x->scales[is++];
                dl = d * (sc & 0xF), ml = min * (sc >> 4);
                for (int l = 0; l < 16; ++l)
                    *y++ = dl * ((int8_t)((q[l + 16] >> shift) & 3)) - ml;
                shift += 2;
            }
            q += 32;
        }
        return 1;
    }
    case LLM_Q3_K: {
        const llm_block_q3_K *x = blk;
        const uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
        uint32_t aux[4];
        const int8_t *scales = (const int8_t *)aux;
        float d_all = llm_f16_to_f32(x->d);
        const uint8_t *q = x->qs, *hm = x->hmask;
        uint8_t m = 1;
        memcpy(aux, x->scales, 12);
        uint32_t tmp = aux[2];
        aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
        aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
        aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
        aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
        int is = 0;
        for (int n = 0; n < 256; n += 128) {
            int shift = 0;
            for (int j = 0; j < 4; ++j) {
                float dl = d_all * (scales[is++] - 32);
                for (int l = 0; l < 16; ++l)
                    *y++ = dl * ((int8_t)((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
                dl = d_all * (scales[is++] - 32);
                for (int l = 0; l < 16; ++l)
                    *y++ = dl * ((int8_t)((q[l + 16] >> shift) & 3) - ((hm[l + 16] & m) ? 0 : 4));
                shift += 2;
                m <<= 1;
            }
            q += 32;
        }
        return 1;
    }
    case LLM_Q4_K: {
        const llm_block_q4_K *x = blk;
        const uint8_t *q = x->qs;
        float d = llm_f16_to_f32(x->d), min = llm_f16_to_f32(x->dmin);
        int is = 0;
        uint8_t sc, m;
        for (int j = 0; j < 256; j += 64) {
            ggml_k4(is + 0, x->scales, &sc, &m);
            float d1 = d * sc, m1 = min * m;
            ggml_k4(is + 1, x->scales, &sc, &m);
            float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; ++l)
                *y++ = d1 * (q[l] & 0xF) - m1;
            for (int l = 0; l < 32; ++l)
                *y++ = d2 * (q[l] >> 4) - m2;
            q += 32;
            is += 2;
        }
        return 1;
    }
    case LLM_Q5_K: {
        const llm_block_q5_K *x = blk;
        const uint8_t *ql = x->qs, *qh = x->qh;
        float d = llm_f16_to_f32(x->d), min = llm_f16_to_f32(x->dmin);
        int is = 0;
        uint8_t sc, m, u1 = 1, u2 = 2;
        for (int j = 0; j < 256; j += 64) {
            ggml_k4(is + 0, x->scales, &sc, &m);
            float d1 = d * sc, m1 = min * m;
            ggml_k4(is + 1, x->scales, &sc, &m);
            float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; ++l)
                *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; ++l)
                *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
            ql += 32;
            is += 2;
            u1 <<= 2;
            u2 <<= 2;
        }
        return 1;
    }
    case LLM_Q6_K: {
        const llm_block_q6_K *x = blk;
        float d = llm_f16_to_f32(x->d);
        const uint8_t *ql = x->ql, *qh = x->qh;
        const int8_t *sc = x->scales;
        for (int n = 0; n < 256; n += 128) {
            for (int l = 0; l < 32; ++l) {
                int is = l / 16;
                int8_t q1 = (int8_t)((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int8_t q2 = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int8_t q3 = (int8_t)((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int8_t q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l + 0] = d * sc[is + 0] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
            y += 128;
            ql += 64;
            qh += 32;
            sc += 8;
        }
        return 1;
    }
    case LLM_IQ4_XS: {
        const llm_block_iq4_xs *x = blk;
        static const int8_t kvalues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                           1,    13,   25,  38,  53,  69,  89,  113};
        const uint8_t *qs = x->qs;
        float d = llm_f16_to_f32(x->d);
        for (int ib = 0; ib < 8; ++ib) {
            int ls = ((x->scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) |
                     (((x->scales_h >> 2 * ib) & 3) << 4);
            float dl = d * (ls - 32);
            for (int j = 0; j < 16; ++j) {
                y[j + 0] = dl * kvalues[qs[j] & 0xf];
                y[j + 16] = dl * kvalues[qs[j] >> 4];
            }
            y += 32;
            qs += 16;
        }
        return 1;
    }
    default:
        return 0;
    }
}

static void test_layouts_match_ggml_loops(void)
{
    llm_isa prev = llm_isa_select(LLM_ISA_SCALAR);
    for (int i = 0; i < N_COMPUTE; i++) {
        llm_dtype t = compute_types[i];
        const llm_dtype_info *info = llm_dtype_get(t);
        int64_t n = 8 * info->block_elems;
        uint8_t *row = random_row(t, n);
        float *ours = rag_xmalloc((size_t)n * sizeof(float));
        float ggml[256];
        llm_dequant_row(t, row, ours, n);
        for (int64_t b = 0; b < n / info->block_elems; b++) {
            if (!ggml_dequant_block(t, row + b * info->block_bytes, ggml)) break;
            if (memcmp(ggml, ours + b * info->block_elems, (size_t)info->block_elems * 4)) {
                printf("    %s: block %lld differs from GGML's loop\n", info->name, (long long)b);
                test_case_failed = 1;
                break;
            }
        }
        rag_free(ours);
        rag_free(row);
    }
    llm_isa_select(prev);
}

/* Known answers for the simple layouts, worked out by hand. */
static void test_known_blocks(void)
{
    llm_isa prev = llm_isa_select(LLM_ISA_SCALAR);
    float y[256];
    llm_block_q4_0 q40 = {.d = 0x3c00}; /* d = 1 */
    q40.qs[0] = 0x21;
    q40.qs[15] = 0xF0;
    llm_dequant_row(LLM_Q4_0, &q40, y, 32);
    CHECK(y[0] == -7 && y[16] == -6 && y[15] == -8 && y[31] == 7 && y[1] == -8);
    llm_block_q8_0 q80 = {.d = 0x3800}; /* d = 0.5 */
    q80.qs[3] = -128;
    q80.qs[31] = 5;
    llm_dequant_row(LLM_Q8_0, &q80, y, 32);
    CHECK(y[3] == -64 && y[31] == 2.5f && y[0] == 0);
    llm_block_q5_1 q51 = {.d = 0x4000, .m = 0xbc00}; /* d = 2, m = -1 */
    q51.qs[1] = 0x3A;
    q51.qh[0] = 0x02; /* element 1 has its fifth bit */
    q51.qh[2] = 0x02; /* element 17 too */
    llm_dequant_row(LLM_Q5_1, &q51, y, 32);
    CHECK(y[1] == (16 + 10) * 2 - 1 && y[17] == (16 + 3) * 2 - 1 && y[0] == -1);
    llm_block_iq4_nl nl = {.d = 0x3c00};
    nl.qs[2] = 0xF0;
    llm_dequant_row(LLM_IQ4_NL, &nl, y, 32);
    CHECK(y[2] == -127 && y[18] == 113 && y[0] == -127);
    uint16_t h[3] = {0x3c00, 0xc000, 0x0001};
    llm_dequant_row(LLM_F16, h, y, 3);
    CHECK(y[0] == 1 && y[1] == -2 && y[2] == 0x1p-24f);
    llm_isa_select(prev);
}

static void test_dequant_isas_exact(void)
{
    int n_isa = 0;
    for (int k = 1; k < 3; k++) {
        if (llm_isa_supported(all_isas[k]))
            n_isa++;
        else
            printf("    note: %s not supported here, skipped\n", llm_isa_name(all_isas[k]));
    }
    if (!n_isa) SKIP("no SIMD instruction set on this CPU");
    llm_isa prev = llm_isa_active();
    for (int i = 0; i < N_COMPUTE; i++) {
        llm_dtype t = compute_types[i];
        int64_t lens[6];
        int nl = test_lengths(t, lens);
        for (int li = 0; li < nl; li++) {
            int64_t n = lens[li];
            void *row = random_row(t, n);
            float *ref = rag_xmalloc((size_t)n * sizeof(float));
            float *got = rag_xmalloc((size_t)n * sizeof(float) + 64);
            llm_isa_select(LLM_ISA_SCALAR);
            llm_dequant_row(t, row, ref, n);
            for (int k = 1; k < 3; k++) {
                if (!llm_isa_supported(all_isas[k])) continue;
                llm_isa_select(all_isas[k]);
                float canary = -12345.0f;
                memcpy(got + n, &canary, sizeof canary);
                llm_dequant_row(t, row, got, n);
                if (memcmp(ref, got, (size_t)n * sizeof(float))) {
                    int64_t j = 0;
                    while (j < n && bits_of(ref[j]) == bits_of(got[j]))
                        j++;
                    printf("    %s %s n=%lld: element %lld is %.9g, reference %.9g\n",
                           llm_dtype_get(t)->name, llm_isa_name(all_isas[k]), (long long)n,
                           (long long)j, got[j], ref[j]);
                    test_case_failed = 1;
                }
                CHECK(got[n] == canary); /* nothing written past the row */
            }
            rag_free(got);
            rag_free(ref);
            rag_free(row);
        }
    }
    llm_isa_select(prev);
}

/* Dot products of every ISA (the reference included) against a float64 sum
 * over the reference dequantization, relative to sum |w_i x_i|. */
#define DOT_TOL 1e-5

static void test_dot_isas(void)
{
    llm_isa prev = llm_isa_active();
    double worst[3] = {0, 0, 0};
    for (int i = 0; i < N_COMPUTE; i++) {
        llm_dtype t = compute_types[i];
        int64_t lens[6];
        int nl = test_lengths(t, lens);
        for (int li = 0; li < nl; li++) {
            int64_t n = lens[li];
            void *row = random_row(t, n);
            float *x = random_vec(n), *w = rag_xmalloc((size_t)n * sizeof(float));
            llm_isa_select(LLM_ISA_SCALAR);
            llm_dequant_row(t, row, w, n);
            double exact = 0, mag = 0;
            for (int64_t j = 0; j < n; j++) {
                exact += (double)w[j] * x[j];
                mag += fabs((double)w[j] * x[j]);
            }
            for (int k = 0; k < 3; k++) {
                if (!llm_isa_supported(all_isas[k])) continue;
                llm_isa_select(all_isas[k]);
                double got = llm_dot_row(t, row, x, n);
                double rel = mag > 0 ? fabs(got - exact) / mag : fabs(got - exact);
                if (rel > worst[k]) worst[k] = rel;
                if (!(rel <= DOT_TOL)) {
                    printf("    %s %s n=%lld: dot %.9g, exact %.9g (error %.2g of sum |wx|)\n",
                           llm_dtype_get(t)->name, llm_isa_name(all_isas[k]), (long long)n, got,
                           exact, rel);
                    test_case_failed = 1;
                }
            }
            rag_free(w);
            rag_free(x);
            rag_free(row);
        }
    }
    for (int k = 0; k < 3; k++)
        if (llm_isa_supported(all_isas[k]))
            printf("    %-6s worst dot error %.2g of sum |wx| (bound %.0e)\n",
                   llm_isa_name(all_isas[k]), worst[k], DOT_TOL);
    llm_isa_select(prev);
}

/* Integer dot products against Q8_0 activations, in every instruction set
 * that has them for the type: the sum is exactly the dot product of the
 * weights with the activations as quantized (the block sums are exact
 * integers; only float rounding differs, well under 1e-5 of sum |wx|), and
 * that is the float dot product up to the activations' rounding. The
 * scalar reference has the simple types; AVX2 and AVX-512 VNNI add IQ4_NL
 * and the K types (Q2_K to Q6_K) and IQ4_XS. */
static void test_dot_q8(void)
{
    static const llm_dtype types[] = {LLM_Q4_0, LLM_Q5_0, LLM_Q8_0, LLM_IQ4_NL, LLM_Q2_K,
                                      LLM_Q3_K, LLM_Q4_K, LLM_Q5_K, LLM_Q6_K,   LLM_IQ4_XS};
    static const int64_t lens[] = {32, 64, 96, 256, 288, 768, 4096, 4192};
    llm_isa prev = llm_isa_active();
    CHECK_INT(llm_dot_q8_supported(LLM_Q4_1), 0); /* a type with float kernels only */
    int ran = 0;
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        llm_dtype t = types[ti];
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            int64_t n = lens[li];
            if (n % llm_dtype_get(t)->block_elems) continue;
            void *row = random_row(t, n);
            float *x = random_vec(n), *w = rag_xmalloc((size_t)n * sizeof(float)),
                  *xd = rag_xmalloc((size_t)n * sizeof(float));
            void *xq = rag_xmalloc(llm_row_bytes(LLM_Q8_0, n));
            llm_isa_select(LLM_ISA_SCALAR);
            llm_quantize_row(LLM_Q8_0, x, xq, n);
            llm_dequant_row(LLM_Q8_0, xq, xd, n);
            llm_dequant_row(t, row, w, n);
            double as_quantized = 0, exact = 0, mag = 0;
            for (int64_t j = 0; j < n; j++) {
                as_quantized += (double)w[j] * xd[j];
                exact += (double)w[j] * x[j];
                mag += fabs((double)w[j] * x[j]);
            }
            /* Q8_0 rounds each activation by at most half a step of
             * max|x| / 127 in its block: far under 1% of sum |wx| */
            if (fabs(as_quantized - exact) > 0.01 * mag) {
                printf("    %s n=%lld: with Q8_0 activations %.6g, float dot %.6g\n",
                       llm_dtype_get(t)->name, (long long)n, as_quantized, exact);
                test_case_failed = 1;
            }
            for (int k = 0; k < 3; k++) {
                if (!llm_isa_supported(all_isas[k])) continue;
                llm_isa_select(all_isas[k]);
                if (!llm_dot_q8_supported(t)) continue;
                ran++;
                double got = llm_dot_row_q8(t, row, xq, n);
                if (fabs(got - as_quantized) > 1e-5 * (mag > 0 ? mag : 1)) {
                    printf("    %s %s n=%lld: q8 dot %.9g, exact %.9g\n", llm_dtype_get(t)->name,
                           llm_isa_name(all_isas[k]), (long long)n, got, as_quantized);
                    test_case_failed = 1;
                }
            }
            rag_free(xq);
            rag_free(xd);
            rag_free(w);
            rag_free(x);
            rag_free(row);
        }
    }
    printf("    %d integer dot products checked\n", ran);
    CHECK(ran >= 3 * 8); /* the scalar reference has the simple types at least */
    llm_isa_select(prev);
}

/* The activations' quantizer of each instruction set (llm_q8_acts, which
 * begins its output with the Q8_0 blocks) against the reference quantizer,
 * on random rows with odd block counts: the same blocks (the two may round
 * an exact tie differently, which random data does not produce). */
static void test_q8_acts_quantizer(void)
{
    llm_isa prev = llm_isa_active();
    int compared = 0;
    for (int k = 0; k < 3; k++) {
        if (!llm_isa_supported(all_isas[k])) continue;
        llm_isa_select(all_isas[k]);
        for (int64_t n = 32; n <= 32 * 67; n += 32 * 11) {
            float *x = random_vec(n);
            x[n / 2] = 0; /* a zero among them, and a block of zeros: */
            for (int i = 0; i < 32 && n >= 64; i++)
                x[32 + i] = 0;
            size_t plain = llm_row_bytes(LLM_Q8_0, n);
            uint8_t *want = rag_xmalloc(plain), *got = rag_xmalloc(llm_q8_acts_bytes(LLM_Q8_0, n));
            llm_quantize_row(LLM_Q8_0, x, want, n);
            llm_q8_acts(LLM_Q8_0, x, n, got);
            compared++;
            if (memcmp(want, got, plain)) {
                printf("    %s n=%lld: the activations' Q8_0 blocks differ from the reference\n",
                       llm_isa_name(all_isas[k]), (long long)n);
                test_case_failed = 1;
            }
            rag_free(got);
            rag_free(want);
            rag_free(x);
        }
    }
    CHECK(compared > 0);
    llm_isa_select(prev);
}

/* Several activation rows against one weight row (sequences decoded
 * together): for every instruction set, every type and 1 to 7 rows, each
 * result is bit for bit what the single kernel gives that row alone, for
 * float activations (llm_dot_rows) and for Q8_0 ones laid out by
 * llm_q8_acts (llm_dot_rows_q8), on lengths with odd block counts. */
static void test_dot_rows_exact(void)
{
    enum { NX = 7 };
    llm_isa prev = llm_isa_active();
    int checked = 0, differ = 0;
    for (int k = 0; k < 3; k++) {
        if (!llm_isa_supported(all_isas[k])) continue;
        llm_isa_select(all_isas[k]);
        for (int i = 0; i < N_COMPUTE; i++) {
            llm_dtype t = compute_types[i];
            int64_t lens[6];
            int nl = test_lengths(t, lens);
            for (int li = 0; li < nl; li++) {
                int64_t n = lens[li];
                void *row = random_row(t, n);
                float *x = random_vec(n * NX), got[NX * 3], want;
                int q8 = llm_dot_q8_supported(t) && n % LLM_QK == 0;
                size_t ab = q8 ? llm_q8_acts_bytes(t, n) : 0;
                uint8_t *xa = q8 ? rag_xmalloc(ab * NX) : NULL;
                for (int j = 0; q8 && j < NX; j++)
                    llm_q8_acts(t, x + j * n, n, xa + j * ab);
                for (int nx = 1; nx <= NX; nx++) {
                    llm_dot_rows(t, row, x, n, nx, got, 3, n); /* output stride 3 */
                    for (int j = 0; j < nx; j++) {
                        want = llm_dot_row(t, row, x + j * n, n);
                        checked++;
                        if (memcmp(&want, &got[j * 3], sizeof want)) {
                            if (!differ++)
                                printf("    %s %s n=%lld row %d of %d: %.9g, alone %.9g\n",
                                       llm_isa_name(all_isas[k]), llm_dtype_get(t)->name,
                                       (long long)n, j, nx, got[j * 3], want);
                        }
                    }
                    if (!q8) continue;
                    llm_dot_rows_q8(t, row, xa, ab, nx, got, 3, n);
                    for (int j = 0; j < nx; j++) {
                        want = llm_dot_row_q8(t, row, xa + j * ab, n); /* its plain Q8_0 blocks */
                        checked++;
                        if (memcmp(&want, &got[j * 3], sizeof want)) {
                            if (!differ++)
                                printf("    %s %s q8 n=%lld row %d of %d: %.9g, alone %.9g\n",
                                       llm_isa_name(all_isas[k]), llm_dtype_get(t)->name,
                                       (long long)n, j, nx, got[j * 3], want);
                        }
                    }
                }
                rag_free(xa);
                rag_free(x);
                rag_free(row);
            }
        }
    }
    printf("    %d row results, %d differ from the single kernel\n", checked, differ);
    CHECK_INT(differ, 0);
    llm_isa_select(prev);
}

/* Several weight rows against the same activations (llm_dot_tile_q8, the
 * decoder's row path, one call of the tile kernel where the instruction set
 * has one): each result is bit for bit the single kernel's, for every
 * instruction set, every integer type, 1 to 9 weight rows and 1, 3, 4 or 6
 * activation rows. */
static void test_dot_tile_exact(void)
{
    enum { NW = 9, NX = 6 };
    static const int nxs[] = {1, 3, 4, 6};
    llm_isa prev = llm_isa_active();
    int checked = 0, differ = 0;
    for (int k = 0; k < 3; k++) {
        if (!llm_isa_supported(all_isas[k])) continue;
        llm_isa_select(all_isas[k]);
        for (int i = 0; i < N_COMPUTE; i++) {
            llm_dtype t = compute_types[i];
            int64_t lens[6];
            int nl = test_lengths(t, lens);
            for (int li = 0; li < nl; li++) {
                int64_t n = lens[li];
                if (!llm_dot_q8_supported(t) || n % LLM_QK) continue;
                size_t rb = llm_row_bytes(t, n), ab = llm_q8_acts_bytes(t, n);
                uint8_t *rows = rag_xmalloc(rb * NW), *xa = rag_xmalloc(ab * NX);
                for (int r = 0; r < NW; r++) {
                    void *row = random_row(t, n);
                    memcpy(rows + r * rb, row, rb);
                    rag_free(row);
                }
                float *x = random_vec(n * NX), got[NX * NW], want;
                for (int j = 0; j < NX; j++)
                    llm_q8_acts(t, x + j * n, n, xa + j * ab);
                for (size_t xi = 0; xi < sizeof nxs / sizeof *nxs; xi++)
                    for (int nw = 1, nx = nxs[xi]; nw <= NW; nw++) {
                        llm_dot_tile_q8(t, rows, rb, nw, xa, ab, nx, got, NW, n);
                        for (int j = 0; j < nx; j++)
                            for (int r = 0; r < nw; r++) {
                                want = llm_dot_row_q8(t, rows + r * rb, xa + j * ab, n);
                                checked++;
                                if (memcmp(&want, &got[j * NW + r], sizeof want) && !differ++)
                                    printf("    %s %s n=%lld row %d of %d, input %d of %d: %.9g, "
                                           "alone %.9g\n",
                                           llm_isa_name(all_isas[k]), llm_dtype_get(t)->name,
                                           (long long)n, r, nw, j, nx, got[j * NW + r], want);
                            }
                    }
                rag_free(x);
                rag_free(xa);
                rag_free(rows);
            }
        }
    }
    printf("    %d tile results, %d differ from the single kernel\n", checked, differ);
    CHECK(checked > 0);
    CHECK_INT(differ, 0);
    llm_isa_select(prev);
}

/* ---- quantizers ----------------------------------------------------------
 * Relative RMSE (RMS of the error / RMS of the data) over 64 blocks of 256,
 * for Gaussian data, Gaussian with 1% outliers at 20 sigma, and uniform
 * data. The bounds are about 1.3x what these quantizers measured here. */
static const struct {
    llm_dtype t;
    double gauss, outliers, uniform;
} rmse_bounds[] = {
    {LLM_F16, 0.0003, 0.0003, 0.00025}, {LLM_BF16, 0.0022, 0.0021, 0.002},
    {LLM_Q8_0, 0.007, 0.015, 0.005},    {LLM_Q6_K, 0.023, 0.042, 0.018},
    {LLM_Q5_0, 0.055, 0.11, 0.04},      {LLM_Q5_1, 0.049, 0.066, 0.038},
    {LLM_Q5_K, 0.047, 0.066, 0.036},    {LLM_Q4_0, 0.112, 0.19, 0.084},
    {LLM_Q4_1, 0.1, 0.14, 0.08},        {LLM_Q4_K, 0.093, 0.127, 0.071},
    {LLM_Q3_K, 0.2, 0.2, 0.164},        {LLM_Q2_K, 0.39, 0.34, 0.3},
};

static double quant_rmse(llm_dtype t, const float *x, int64_t n, float *y)
{
    void *q = rag_xmalloc(llm_row_bytes(t, n));
    llm_quantize_row(t, x, q, n);
    llm_dequant_row(t, q, y, n);
    rag_free(q);
    double se = 0, sx = 0;
    for (int64_t i = 0; i < n; i++) {
        se += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
        sx += (double)x[i] * x[i];
    }
    return sx > 0 ? sqrt(se / sx) : sqrt(se / (double)n);
}

static void test_quantizers(void)
{
    const int64_t n = 64 * 256;
    float *x = rag_xmalloc(n * sizeof(float)), *y = rag_xmalloc(n * sizeof(float));
    int n_bounded = 0;
    for (size_t b = 0; b < sizeof rmse_bounds / sizeof rmse_bounds[0]; b++) {
        llm_dtype t = rmse_bounds[b].t;
        const char *name = llm_dtype_get(t)->name;
        CHECK(llm_dtype_get(t)->can_quantize);
        n_bounded++;
        double r[3];
        for (int set = 0; set < 3; set++) {
            for (int64_t i = 0; i < n; i++) {
                x[i] = set == 2 ? (float)(urand() * 2 - 1) : gauss();
                if (set == 1 && rnd() % 100 == 0) x[i] *= 20;
            }
            r[set] = quant_rmse(t, x, n, y);
        }
        printf("    %-5s relative RMSE gaussian %.5f  outliers %.5f  uniform %.5f\n", name, r[0],
               r[1], r[2]);
        CHECK(r[0] < rmse_bounds[b].gauss);
        CHECK(r[1] < rmse_bounds[b].outliers);
        CHECK(r[2] < rmse_bounds[b].uniform);

        /* zeros stay exactly zero; a constant comes back within the RMSE */
        memset(x, 0, n * sizeof(float));
        CHECK(quant_rmse(t, x, n, y) == 0);
        int zeros = 1;
        for (int64_t i = 0; i < n; i++)
            zeros &= y[i] == 0;
        CHECK(zeros);
        for (int64_t i = 0; i < n; i++)
            x[i] = 1.5f;
        CHECK(quant_rmse(t, x, n, y) < rmse_bounds[b].gauss);
        /* small blocks do not lose their scale to fp16 underflow */
        for (int64_t i = 0; i < n; i++)
            x[i] = gauss() * 1e-3f;
        CHECK(quant_rmse(t, x, n, y) < 1.5 * rmse_bounds[b].outliers);
    }
    /* every quantizable type is bounded above (F32 is exact) */
    int n_quantizable = 0;
    for (int t = 0; t < LLM_DTYPE_MAX; t++)
        if (llm_dtype_get(t) && llm_dtype_get(t)->can_quantize && t != LLM_F32) n_quantizable++;
    CHECK_INT(n_quantizable, n_bounded);
    for (int64_t i = 0; i < n; i++)
        x[i] = gauss();
    CHECK(quant_rmse(LLM_F32, x, n, y) == 0);

    /* values representable in the target type survive exactly */
    for (int64_t i = 0; i < n; i++)
        x[i] = llm_f16_to_f32(llm_f32_to_f16(gauss() * 100));
    CHECK(quant_rmse(LLM_F16, x, n, y) == 0);
    for (int64_t i = 0; i < n; i++)
        x[i] = llm_bf16_to_f32(llm_f32_to_bf16(gauss() * 1e20f));
    CHECK(quant_rmse(LLM_BF16, x, n, y) == 0);
    rag_free(y);
    rag_free(x);
}

/* The quantizers are GGML's reference ones: spot-check facts of those. */
static void test_quantizer_details(void)
{
    float x[256];
    for (int i = 0; i < 32; i++)
        x[i] = (float)(i - 16) / 4; /* -4 .. 3.75 */
    llm_block_q8_0 q8;
    llm_quantize_row(LLM_Q8_0, x, &q8, 32);
    CHECK_INT(q8.d, llm_f32_to_f16(4.0f / 127));
    CHECK_INT(q8.qs[0], -127);
    CHECK_INT(q8.qs[16], 0);
    llm_block_q4_0 q4;
    llm_quantize_row(LLM_Q4_0, x, &q4, 32);
    CHECK_INT(q4.d, llm_f32_to_f16(0.5f)); /* max |x| is -4, which maps to -8 */
    CHECK_INT(q4.qs[0] & 0xF, 0);
    CHECK_INT(q4.qs[0] >> 4, 8); /* x[16] = 0 */
    /* a Q6_K block of one constant uses the same scale everywhere */
    for (int i = 0; i < 256; i++)
        x[i] = 2.0f;
    llm_block_q6_K q6;
    llm_quantize_row(LLM_Q6_K, x, &q6, 256);
    for (int j = 1; j < 16; j++)
        CHECK_INT(q6.scales[j], q6.scales[0]);
    float y[256];
    llm_dequant_row(LLM_Q6_K, &q6, y, 256);
    CHECK(fabsf(y[100] - 2.0f) < 0.02f);
}

/* ---- compute pool and matmul --------------------------------------------- */

typedef struct count_ctx {
    int *hits;
} count_ctx;

static void count_fn(void *p, int64_t i)
{
    count_ctx *c = p;
    __atomic_fetch_add(&c->hits[i], 1, __ATOMIC_RELAXED);
}

static void test_parallel_for(void)
{
    rag_err err;
    llm_compute *c;
    CHECK_INT(llm_compute_new(-1, 16, &c, &err), RAG_ERR_INVALID);
    CHECK_INT(llm_compute_new(2, 0, &c, &err), RAG_ERR_INVALID);
    CHECK_INT(llm_compute_new(2, (int64_t)1 << 21, &c, &err), RAG_ERR_INVALID);
    CHECK(c == NULL);
    CHECK_INT(llm_compute_new(0, 16, &c, &err), 0);
    CHECK(llm_compute_threads(c) >= 1);
    llm_compute_free(c);
    for (int threads = 1; threads <= 3; threads++) {
        CHECK_INT(llm_compute_new(threads, 16, &c, &err), 0);
        CHECK_INT(llm_compute_threads(c), threads);
        const int64_t ns[] = {0, 1, 2, 3, 1000};
        for (int round = 0; round < 50; round++) /* many jobs in a row on one pool */
            for (size_t k = 0; k < 5; k++) {
                int hits[1000] = {0};
                count_ctx ctx = {hits};
                llm_parallel_for(c, ns[k], count_fn, &ctx);
                for (int64_t i = 0; i < ns[k]; i++)
                    CHECK_INT(hits[i], 1);
            }
        llm_compute_free(c);
    }
}

typedef struct sleep_ctx {
    int *hits;
    const long *ns;              /* per index: how long it takes */
    pthread_t caller;            /* of the indices that take a while, */
    _Atomic int taken_elsewhere; /* how many ran on another thread */
} sleep_ctx;

static void sleep_fn(void *p, int64_t i)
{
    sleep_ctx *c = p;
    if (c->ns[i] > 0) {
        if (!pthread_equal(pthread_self(), c->caller)) atomic_fetch_add(&c->taken_elsewhere, 1);
        struct timespec ts = {0, c->ns[i]};
        nanosleep(&ts, NULL);
    }
    __atomic_fetch_add(&c->hits[i], 1, __ATOMIC_RELAXED);
}

/* The caller's half of the indices is slow, the worker's instant: the
 * worker, done with its own, takes some of the caller's (from the end of
 * its range), and every index still runs once. */
static void test_parallel_for_uneven(void)
{
    rag_err err;
    llm_compute *c;
    CHECK_INT(llm_compute_new(2, 16, &c, &err), 0);
    long ns[64] = {0};
    for (int i = 0; i < 32; i++)
        ns[i] = 1000000; /* 1 ms */
    int taken = 0;
    for (int round = 0; round < 5 && !taken; round++) { /* a busy machine may wake it late */
        int hits[64] = {0};
        sleep_ctx ctx = {hits, ns, pthread_self(), 0};
        llm_parallel_for(c, 64, sleep_fn, &ctx);
        for (int i = 0; i < 64; i++)
            CHECK_INT(hits[i], 1);
        taken = atomic_load(&ctx.taken_elsewhere);
    }
    CHECK(taken > 0);
    llm_compute_free(c);
}

/* Jobs far apart, so that the worker stops spinning and sleeps, and jobs
 * whose worker's part outlasts the caller's spinning, so that the caller
 * sleeps: each side wakes the other (a lost wake-up hangs here). */
static void test_parallel_for_sleeping(void)
{
    rag_err err;
    llm_compute *c;
    CHECK_INT(llm_compute_new(2, 16, &c, &err), 0);
    for (int round = 0; round < 10; round++) {
        struct timespec pause = {0, 3000000};
        nanosleep(&pause, NULL);
        int hits[64] = {0};
        count_ctx cc = {hits};
        llm_parallel_for(c, 64, count_fn, &cc);
        for (int i = 0; i < 64; i++)
            CHECK_INT(hits[i], 1);
        int h2[2] = {0, 0};
        const long ns[2] = {300000, 3000000}; /* the caller's index, the worker's */
        sleep_ctx sc = {h2, ns, pthread_self(), 0};
        llm_parallel_for(c, 2, sleep_fn, &sc);
        CHECK_INT(h2[0], 1);
        CHECK_INT(h2[1], 1);
    }
    llm_compute_free(c);
}

/* Y = X W^T against float64 over the reference dequantization. */
static void check_matmul(llm_compute *c, int int8, llm_dtype t, int64_t rows, int64_t cols,
                         int64_t n, const char *what)
{
    size_t rb = llm_row_bytes(t, cols);
    uint8_t *data = rag_xmalloc(rb * (size_t)rows);
    float *src = random_vec(cols);
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t j = 0; j < cols; j++)
            src[j] = gauss();
        llm_quantize_row(t, src, data + (size_t)r * rb, cols);
    }
    rag_free(src);
    float *w = rag_xmalloc((size_t)(rows * cols) * sizeof(float));
    for (int64_t r = 0; r < rows; r++)
        llm_dequant_row(t, data + (size_t)r * rb, w + r * cols, cols);
    float *X = random_vec(n * cols), *Y = rag_xmalloc((size_t)(n * rows) * sizeof(float));
    llm_mat W = {.type = t, .rows = rows, .cols = cols, .data = data, .row_bytes = rb};
    llm_matmul(c, &W, X, n, Y);
    double worst = 0;
    for (int64_t j = 0; j < n; j++)
        for (int64_t r = 0; r < rows; r++) {
            double exact = 0, mag = 0;
            for (int64_t k = 0; k < cols; k++) {
                exact += (double)w[r * cols + k] * X[j * cols + k];
                mag += fabs((double)w[r * cols + k] * X[j * cols + k]);
            }
            double rel = fabs(Y[j * rows + r] - exact) / mag;
            if (!(rel <= worst)) worst = rel;
        }
    /* decoding with an integer kernel, and prompts on the integer path,
     * round the activations to 8 bits (test_dot_q8 and test_qgemm_products
     * bound that); everything else is float throughout */
    double bound = (int8 && n < 8 && llm_dot_q8_supported(t)) || (n >= 8 && llm_qgemm_handles(t))
                       ? 0.01
                       : 2e-5;
    if (!(worst <= bound)) {
        printf("    %s %s n=%lld threads=%d int8=%d: error %.2g of sum |wx|\n", what,
               llm_dtype_get(t)->name, (long long)n, llm_compute_threads(c), int8, worst);
        test_case_failed = 1;
    }
    rag_free(Y);
    rag_free(X);
    rag_free(w);
    rag_free(data);
}

static void test_matmul(void)
{
    const llm_dtype types[] = {LLM_F32, LLM_F16, LLM_Q8_0, LLM_Q4_K, LLM_Q6_K};
    /* 1-7 go through the row dots, 8 and 64 through tiles and sgemm */
    const int64_t ns[] = {1, 2, 3, 7, 8, 64};
    for (int threads = 1; threads <= 2; threads++) {
        llm_compute *c;
        rag_err err;
        /* 512 columns give 256-row tiles: 300 rows are a full tile and a part */
        CHECK_INT(llm_compute_new(threads, 512, &c, &err), 0);
        for (int int8 = 0; int8 <= 1; int8++) { /* float products, then integer decoding */
            llm_compute_set_int8_decode(c, int8);
            for (size_t ti = 0; ti < 5; ti++)
                for (size_t ni = 0; ni < 6; ni++)
                    check_matmul(c, int8, types[ti], 300, 512, ns[ni], "tiles");
        }
        llm_compute_free(c);
        /* a context sized for narrower matrices still multiplies correctly */
        CHECK_INT(llm_compute_new(threads, 256, &c, &err), 0);
        check_matmul(c, 0, LLM_Q4_K, 37, 512, 64, "too wide");
        llm_compute_free(c);
    }
}

/* llm_matmul_ep / llm_matmul_set_ep: bit for bit llm_matmul followed by
 * llm_vec_add of the bias and llm_vec_gelu on each output row, on every
 * instruction set and every path a product can take (row dots for a few
 * rows, float tiles for F32 and F16, the integer path for the quantized
 * types; batch invariant or not; more rows than the integer path quantizes
 * at once), for a bias alone, GELU alone, both, and no epilogue beside one. */
static void test_matmul_epilogue(void)
{
    const llm_dtype types[] = {LLM_F32, LLM_F16, LLM_Q8_0, LLM_Q4_K};
    const int64_t ns[] = {1, 3, 8, 70, 600}, rows = 45, cols = 256;
    float *X = random_vec(600 * cols), *bias = random_vec(rows);
    float *want = rag_xmalloc((size_t)(600 * rows) * sizeof(float));
    float *got = rag_xmalloc((size_t)(600 * rows) * sizeof(float));
    float *plain = rag_xmalloc((size_t)(600 * rows) * sizeof(float));
    int cases = 0, differ = 0;
    llm_compute *c;
    rag_err err;
    CHECK_INT(llm_compute_new(2, cols, &c, &err), 0);
    for (int isa = LLM_ISA_SCALAR; isa <= LLM_ISA_AVX512; isa++) {
        if (!llm_isa_supported((llm_isa)isa)) continue;
        llm_isa prev = llm_isa_select((llm_isa)isa);
        for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
            llm_dtype t = types[ti];
            size_t rb = llm_row_bytes(t, cols);
            uint8_t *data = random_rows(t, rows, cols);
            llm_mat W = {.type = t, .rows = rows, .cols = cols, .data = data, .row_bytes = rb};
            for (int inv = 0; inv <= 1; inv++) {
                llm_compute_set_batch_invariant(c, inv);
                llm_compute_set_int8_decode(c, 1);
                for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
                    for (int form = 1; form <= 3; form++) { /* bias, GELU, both */
                        int64_t n = ns[ni];
                        llm_epilogue ep = {form & 1 ? bias : NULL, (form & 2) != 0};
                        llm_matmul(c, &W, X, n, want);
                        for (int64_t j = 0; j < n; j++) {
                            if (ep.bias) llm_vec_add(want + j * rows, bias, rows);
                            if (ep.gelu) llm_vec_gelu(want + j * rows, rows);
                        }
                        llm_matmul_ep(c, &W, X, n, got, &ep);
                        differ += memcmp(got, want, (size_t)(n * rows) * sizeof(float)) != 0;
                        /* two matrices in one pass, the second without an epilogue */
                        const llm_mat *w2[2] = {&W, &W};
                        float *y2[2] = {got, plain};
                        const llm_epilogue *e2[2] = {&ep, NULL};
                        memset(got, 0, (size_t)(n * rows) * sizeof(float));
                        llm_matmul_set_ep(c, w2, y2, e2, 2, X, n);
                        differ += memcmp(got, want, (size_t)(n * rows) * sizeof(float)) != 0;
                        llm_matmul(c, &W, X, n, want);
                        differ += memcmp(plain, want, (size_t)(n * rows) * sizeof(float)) != 0;
                        cases++;
                    }
            }
            rag_free(data);
        }
        llm_isa_select(prev);
    }
    llm_compute_free(c);
    printf("    %d products with an epilogue, %d differ from the product and the row passes\n",
           cases, differ);
    CHECK(cases > 0);
    CHECK_INT(differ, 0);
    rag_free(plain);
    rag_free(got);
    rag_free(want);
    rag_free(bias);
    rag_free(X);
}

/* llm_matmul_ffn: bit for bit llm_matmul_swiglu then llm_matmul of the
 * down matrix, on every instruction set and integer path (AVX-512 VNNI
 * quantizes the SwiGLU's blocks for the down product in its tiles), from
 * the file's rows and from interleaved groups, for a few rows (row dots),
 * more than the integer path takes at once (two chunks), and with the
 * output written over the input. */
static void test_matmul_ffn(void)
{
    /* the down types: blocks of 32 and 16 (Q6_K, Q2_K), with a min (Q4_K,
     * Q2_K) or an offset, and groups of each kind */
    static const llm_dtype types[][3] = {{LLM_Q5_0, LLM_Q5_0, LLM_Q4_K},
                                         {LLM_Q5_0, LLM_Q5_0, LLM_Q6_K},
                                         {LLM_Q4_K, LLM_Q4_K, LLM_Q2_K},
                                         {LLM_Q8_0, LLM_Q4_0, LLM_Q8_0},
                                         {LLM_F16, LLM_F16, LLM_F16}};
    const int64_t ns[] = {1, 9, 600}, E = 256, F = 512, N = 600;
    float *X = random_vec(N * E), *io = rag_xmalloc((size_t)(N * E) * sizeof(float));
    float *G = rag_xmalloc((size_t)(N * F) * sizeof(float)),
          *U = rag_xmalloc((size_t)(N * F) * sizeof(float)),
          *want = rag_xmalloc((size_t)(N * E) * sizeof(float)),
          *got = rag_xmalloc((size_t)(N * E) * sizeof(float));
    int cases = 0, differ = 0, fused = 0;
    llm_compute *c;
    rag_err err;
    CHECK_INT(llm_compute_new(2, F, &c, &err), 0);
    llm_compute_set_int8_decode(c, 1);
    for (int path = 0; path < LLM_QGEMM_PATHS; path++) {
        if (!llm_qgemm_supported((llm_qgemm_path)path)) continue;
        llm_qgemm_path prev = llm_qgemm_select((llm_qgemm_path)path);
        for (int isa = LLM_ISA_SCALAR; isa <= LLM_ISA_AVX512; isa++) {
            if (!llm_isa_supported((llm_isa)isa)) continue;
            llm_isa prev_isa = llm_isa_select((llm_isa)isa);
            fused += llm_qg_ops_active() && llm_qg_ops_active()->quantize_block;
            for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
                llm_mat W[3];
                uint8_t *data[3], *il[3];
                for (int k = 0; k < 3; k++)
                    W[k] = random_mat(types[ti][k], k < 2 ? F : E, k < 2 ? E : F, &data[k], &il[k]);
                for (int grouped = 0; grouped <= (il[0] || il[1] || il[2]); grouped++) {
                    for (int k = 0; k < 3; k++)
                        W[k].il = grouped ? il[k] : NULL;
                    for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++) {
                        int64_t n = ns[ni];
                        llm_matmul_swiglu(c, &W[0], &W[1], X, n, G, U);
                        llm_matmul(c, &W[2], G, n, want);
                        size_t bytes = (size_t)(n * E) * sizeof(float);
                        memset(got, 0, bytes);
                        llm_matmul_ffn(c, &W[0], &W[1], &W[2], X, n, G, U, got);
                        memcpy(io, X, bytes);
                        llm_matmul_ffn(c, &W[0], &W[1], &W[2], io, n, G, U, io);
                        int d = memcmp(got, want, bytes) != 0, d_io = memcmp(io, want, bytes) != 0;
                        if (d || d_io)
                            printf("    %s %s, %s %s %s%s, %lld rows: %s differs\n",
                                   llm_qgemm_name((llm_qgemm_path)path), llm_isa_name((llm_isa)isa),
                                   llm_dtype_get(types[ti][0])->name,
                                   llm_dtype_get(types[ti][1])->name,
                                   llm_dtype_get(types[ti][2])->name, grouped ? " grouped" : "",
                                   (long long)n, d ? "the output" : "the output over the input");
                        differ += d + d_io;
                        cases += 2;
                    }
                }
                for (int k = 0; k < 3; k++) {
                    rag_free_lines(il[k]);
                    rag_free(data[k]);
                }
            }
            llm_isa_select(prev_isa);
        }
        llm_qgemm_select(prev);
    }
    llm_compute_free(c);
    printf("    %d feed-forwards (%d instruction sets fused), %d differ from SwiGLU then down\n",
           cases, fused, differ);
    CHECK(cases > 0);
    CHECK_INT(differ, 0);
    rag_free(got);
    rag_free(want);
    rag_free(U);
    rag_free(G);
    rag_free(io);
    rag_free(X);
}

/* llm_matmul_swiglu: bit for bit llm_matmul_set into the gate and up
 * products followed by llm_vec_swiglu on each row, on every instruction set
 * and integer path (row dots for a few rows; the integer path's paired
 * tiles for more, from the file's rows or from interleaved groups, the
 * gate and up types alike or not; the float tiles for F16), for more rows
 * than the integer path quantizes at once and a row count that leaves a
 * partial tile. */
static void test_matmul_swiglu(void)
{
    static const llm_dtype pairs[][2] = {
        {LLM_Q5_0, LLM_Q5_0}, {LLM_Q4_K, LLM_Q6_K}, {LLM_Q8_0, LLM_Q4_K}, {LLM_F16, LLM_F16}};
    const int64_t ns[] = {1, 4, 9, 70, 600}, rows = 77, cols = 256;
    float *X = random_vec(600 * cols);
    float *want = rag_xmalloc((size_t)(600 * rows) * sizeof(float)),
          *up = rag_xmalloc((size_t)(600 * rows) * sizeof(float)),
          *got = rag_xmalloc((size_t)(600 * rows) * sizeof(float)),
          *scratch = rag_xmalloc((size_t)(600 * rows) * sizeof(float));
    int cases = 0, differ = 0;
    llm_compute *c;
    rag_err err;
    CHECK_INT(llm_compute_new(2, cols, &c, &err), 0);
    llm_compute_set_int8_decode(c, 1);
    /* the path chosen before the instruction set (which holds it back: under
     * the scalar kernels the path in effect is float) */
    for (int path = 0; path < LLM_QGEMM_PATHS; path++) {
        if (!llm_qgemm_supported((llm_qgemm_path)path)) continue;
        llm_qgemm_path prev = llm_qgemm_select((llm_qgemm_path)path);
        for (int isa = LLM_ISA_SCALAR; isa <= LLM_ISA_AVX512; isa++) {
            if (!llm_isa_supported((llm_isa)isa)) continue;
            llm_isa prev_isa = llm_isa_select((llm_isa)isa);
            for (size_t pi = 0; pi < sizeof pairs / sizeof *pairs; pi++) {
                llm_mat W[2];
                uint8_t *data[2], *il[2];
                for (int k = 0; k < 2; k++)
                    W[k] = random_mat(pairs[pi][k], rows, cols, &data[k], &il[k]);
                for (int grouped = 0; grouped <= (il[0] || il[1]); grouped++) {
                    for (int k = 0; k < 2; k++)
                        W[k].il = grouped ? il[k] : NULL;
                    for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++) {
                        int64_t n = ns[ni];
                        const llm_mat *w2[2] = {&W[0], &W[1]};
                        float *y2[2] = {want, up};
                        llm_matmul_set(c, w2, y2, 2, X, n);
                        for (int64_t j = 0; j < n; j++)
                            llm_vec_swiglu(want + j * rows, up + j * rows, rows);
                        memset(got, 0, (size_t)(n * rows) * sizeof(float));
                        llm_matmul_swiglu(c, &W[0], &W[1], X, n, got, scratch);
                        int d = memcmp(got, want, (size_t)(n * rows) * sizeof(float)) != 0;
                        if (d)
                            printf("    %s %s x %s%s, %lld rows: differs\n",
                                   llm_qgemm_name((llm_qgemm_path)path),
                                   llm_dtype_get(pairs[pi][0])->name,
                                   llm_dtype_get(pairs[pi][1])->name, grouped ? " grouped" : "",
                                   (long long)n);
                        differ += d;
                        cases++;
                    }
                }
                for (int k = 0; k < 2; k++) {
                    rag_free_lines(il[k]);
                    rag_free(data[k]);
                }
            }
            llm_isa_select(prev_isa);
        }
        llm_qgemm_select(prev);
    }
    llm_compute_free(c);
    printf("    %d SwiGLU products, %d differ from the products and the row pass\n", cases, differ);
    CHECK(cases > 0);
    CHECK_INT(differ, 0);
    rag_free(scratch);
    rag_free(got);
    rag_free(up);
    rag_free(want);
    rag_free(X);
}

/* ---- the integer prefill path (llm/qgemm.h) ------------------------------ */

static const llm_dtype qgemm_types[] = {LLM_Q4_0, LLM_Q4_1,   LLM_Q5_0, LLM_Q5_1,
                                        LLM_Q8_0, LLM_IQ4_NL, LLM_Q2_K, LLM_Q3_K,
                                        LLM_Q4_K, LLM_Q5_K,   LLM_Q6_K, LLM_IQ4_XS};
#define N_QGEMM ((int)(sizeof qgemm_types / sizeof qgemm_types[0]))

/* A panel holds d * (u - off) - m = the reference dequantization, up to the
 * rounding of that expression, for every type and every path's packing;
 * the rows past the last are zero. */
static void test_qgemm_pack(void)
{
    const int64_t k = 512;
    for (int path = 1; path < LLM_QGEMM_PATHS; path++) {
        if (!llm_qgemm_supported((llm_qgemm_path)path)) {
            printf("    %s: not on this CPU\n", llm_qgemm_name((llm_qgemm_path)path));
            continue;
        }
        llm_qgemm_path prev = llm_qgemm_select((llm_qgemm_path)path);
        int lanes = llm_qg_ops_active()->lanes, nrows = lanes - 3;
        uint8_t *mem = rag_xcalloc_lines(llm_qg_panel_bytes(k, lanes), 1);
        uint8_t *tmp = rag_xmalloc((size_t)(lanes * k));
        float *ref = rag_xmalloc((size_t)k * sizeof(float));
        for (int ti = 0; ti < N_QGEMM; ti++) {
            llm_dtype t = qgemm_types[ti];
            size_t rb = llm_row_bytes(t, k);
            uint8_t *rows = random_rows(t, nrows, k);
            llm_qg_panel p;
            llm_qg_pack(t, rows, rb, nrows, k, lanes, mem, tmp, &p);
            int bad = 0;
            for (int r = 0; r < lanes; r++) {
                if (r < nrows) llm_dequant_row(t, rows + (size_t)r * rb, ref, k);
                for (int64_t e = 0; e < k; e++) {
                    int u =
                        p.q[((size_t)(e / 4) * (size_t)lanes + (size_t)r) * 4 + (size_t)(e % 4)];
                    float d = p.d[(e / p.bs) * lanes + r], m = p.m[(e / p.bs) * lanes + r];
                    double got = (double)(d * (float)(u - p.off) - m);
                    double want = r < nrows ? ref[e] : 0;
                    double tol = 4 * 1.2e-7 * (fabs((double)d * (u - p.off)) + fabs((double)m));
                    bad += !(fabs(got - want) <= tol) || (r >= nrows && u != 0);
                }
            }
            if (bad)
                printf("    %s %s: %d values differ from the reference\n",
                       llm_qgemm_name((llm_qgemm_path)path), llm_dtype_get(t)->name, bad);
            CHECK_INT(bad, 0);
            rag_free(rows);
        }
        rag_free(ref);
        rag_free(tmp);
        rag_free_lines(mem);
        llm_qgemm_select(prev);
    }
}

/* Products on every integer path: within 1% of sum |w x| of the float64
 * product (activations are rounded to 8 bits), the same bits on every path
 * that takes the type, each output row the same alone as in any batch, and
 * no integer path under the scalar kernels. */
static void test_qgemm_products(void)
{
    /* a partial panel, a partial tile of rows; 24 blocks of activations: the
     * AVX-512 quantizer takes 16 at once and the last 8 one by one */
    const int64_t rows = 45, cols = 768, n = 70;
    llm_compute *c;
    rag_err err;
    CHECK_INT(llm_compute_new(2, cols, &c, &err), 0);
    llm_compute_set_batch_invariant(c, 1); /* the integer path for any n, one row included */
    float *X = random_vec(n * cols), *Y = rag_xmalloc((size_t)(n * rows) * sizeof(float));
    float *first = rag_xmalloc((size_t)(n * rows) * sizeof(float));
    float *alone = rag_xmalloc((size_t)rows * sizeof(float));
    float *w = rag_xmalloc((size_t)(rows * cols) * sizeof(float));
    for (int ti = 0; ti < N_QGEMM; ti++) {
        llm_dtype t = qgemm_types[ti];
        size_t rb = llm_row_bytes(t, cols);
        uint8_t *data = random_rows(t, rows, cols);
        for (int64_t r = 0; r < rows; r++)
            llm_dequant_row(t, data + (size_t)r * rb, w + r * cols, cols);
        llm_mat W = {.type = t, .rows = rows, .cols = cols, .data = data, .row_bytes = rb};
        int have_first = 0;
        for (int path = 1; path < LLM_QGEMM_PATHS; path++) {
            if (!llm_qgemm_supported((llm_qgemm_path)path)) continue;
            llm_qgemm_path prev = llm_qgemm_select((llm_qgemm_path)path);
            if (!llm_qgemm_handles(t)) { /* AVX2 leaves the types with 8-bit values to float */
                CHECK(llm_qg_max_u(t) > llm_qg_ops_active()->max_u);
                llm_qgemm_select(prev);
                continue;
            }
            llm_matmul(c, &W, X, n, Y);
            double worst = 0;
            for (int64_t j = 0; j < n; j++)
                for (int64_t r = 0; r < rows; r++) {
                    double exact = 0, mag = 0;
                    for (int64_t k = 0; k < cols; k++) {
                        exact += (double)w[r * cols + k] * X[j * cols + k];
                        mag += fabs((double)w[r * cols + k] * X[j * cols + k]);
                    }
                    double rel = fabs(Y[j * rows + r] - exact) / mag;
                    if (!(rel <= worst)) worst = rel;
                }
            if (!(worst <= 0.01))
                printf("    %s %s: error %.2g of sum |wx|\n", llm_qgemm_name((llm_qgemm_path)path),
                       llm_dtype_get(t)->name, worst);
            CHECK(worst <= 0.01);
            int differ = 0;
            for (int64_t j = 0; j < n; j += 23) { /* rows alone, at several places of the batch */
                llm_matmul(c, &W, X + j * cols, 1, alone);
                differ += memcmp(alone, Y + j * rows, (size_t)rows * sizeof(float)) != 0;
            }
            CHECK_INT(differ, 0);
            if (!have_first) {
                memcpy(first, Y, (size_t)(n * rows) * sizeof(float));
                have_first = 1;
            } else if (memcmp(first, Y, (size_t)(n * rows) * sizeof(float))) {
                printf("    %s %s: not the bits of the first path\n",
                       llm_qgemm_name((llm_qgemm_path)path), llm_dtype_get(t)->name);
                test_case_failed = 1;
            }
            llm_qgemm_select(prev);
        }
        rag_free(data);
    }
    llm_isa prev = llm_isa_select(LLM_ISA_SCALAR);
    CHECK_INT(llm_qgemm_active(), LLM_QGEMM_FLOAT);
    CHECK(!llm_qgemm_handles(LLM_Q4_K));
    llm_isa_select(prev);
    rag_free(w);
    rag_free(alone);
    rag_free(first);
    rag_free(Y);
    rag_free(X);
    llm_compute_free(c);
}

/* Q8_0, Q5_0, Q4_0, Q4_K, Q5_K and Q6_K rows interleaved into groups of 16
 * (llm_qg_il_pack, AVX-512 VNNI), in about the file's bytes: a prompt's
 * product from the groups has the bits of one from the file's rows;
 * decoding 1 to 7 rows from the groups gives each row the bits the prompt
 * product gives it; a row read back from a group is the file's row
 * dequantized. 45 rows (a short last group); 96 columns (an odd number of
 * blocks, so the scales are padded), 768 for the K types (3 super-blocks). */
static void test_qgemm_interleaved(void)
{
    static const llm_dtype types[] = {LLM_Q8_0, LLM_Q5_0, LLM_Q4_0, LLM_Q4_K, LLM_Q5_K, LLM_Q6_K};
    if (!llm_qg_il_handles(LLM_Q8_0)) {
        printf("    no interleaved weights on this CPU (they need AVX-512 VNNI)\n");
        return;
    }
    const int64_t rows = 45, n = 20, max_cols = 768;
    llm_compute *c;
    rag_err err;
    CHECK_INT(llm_compute_new(2, max_cols, &c, &err), 0);
    llm_compute_set_int8_decode(c, 1);
    float *X = random_vec(n * max_cols), *want = rag_xmalloc((size_t)(n * rows) * sizeof(float)),
          *got = rag_xmalloc((size_t)(n * rows) * sizeof(float));
    float *a = rag_xmalloc((size_t)max_cols * sizeof(float)),
          *b = rag_xmalloc((size_t)max_cols * sizeof(float));
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        llm_dtype t = types[ti];
        /* the K types: 3 super-blocks */
        int64_t cols = llm_dtype_get(t)->block_elems == 256 ? max_cols : 96;
        CHECK(llm_qg_il_handles(t));
        size_t rb = llm_row_bytes(t, cols), gb = llm_qg_il_group_bytes(t, cols);
        /* the file's bytes, or a little more for the K types' scales */
        CHECK(gb >= rb * 16 && gb <= (rb * 16 + 63) / 64 * 64 +
                                         (t == LLM_Q4_K || t == LLM_Q5_K ? 8 * cols / 32 : 64));
        uint8_t *data = random_rows(t, rows, cols);
        CHECK_INT(llm_qg_il_bytes(t, rows, cols), 3 * gb);
        uint8_t *il = rag_xcalloc_lines(llm_qg_il_bytes(t, rows, cols), 1);
        llm_qg_il_pack(t, data, rb, rows, cols, il);
        llm_mat plain = {t, rows, cols, data, rb, NULL}, W = plain;
        W.il = il;
        llm_matmul(c, &plain, X, n, want); /* the prompt path, packing the file's rows */
        llm_matmul(c, &W, X, n, got);
        int prompt_same = !memcmp(want, got, (size_t)(n * rows) * sizeof(float)), differ = 0;
        for (int64_t m = 1; m <= LLM_MATMUL_ROWS_MAX; m++) { /* decoding m rows at once */
            llm_matmul(c, &W, X + (n - m) * cols, m, got);
            differ += memcmp(want + (n - m) * rows, got, (size_t)(m * rows) * sizeof(float)) != 0;
        }
        int rows_differ = 0;
        for (int64_t r = 0; r < rows; r++) {
            llm_dequant_row(t, data + (size_t)r * rb, a, cols);
            llm_qg_il_row(t, il + (size_t)(r / 16) * gb, cols, (int)(r % 16), b);
            rows_differ += memcmp(a, b, (size_t)cols * sizeof(float)) != 0;
        }
        if (!prompt_same || differ || rows_differ)
            printf("    %s: prompt %s, %d of 7 decodes and %d rows differ\n",
                   llm_dtype_get(t)->name, prompt_same ? "same" : "differs", differ, rows_differ);
        CHECK(prompt_same);
        CHECK_INT(differ, 0);
        CHECK_INT(rows_differ, 0);
        rag_free_lines(il);
        rag_free(data);
    }
    CHECK(!llm_qg_il_handles(LLM_Q3_K));
    /* another path does not take the groups (the products then read the file's rows) */
    if (llm_qgemm_supported(LLM_QGEMM_AVX2)) {
        llm_qgemm_path prev = llm_qgemm_select(LLM_QGEMM_AVX2);
        CHECK(!llm_qg_il_handles(LLM_Q8_0));
        llm_qgemm_select(prev);
    }
    rag_free(a);
    rag_free(b);
    rag_free(got);
    rag_free(want);
    rag_free(X);
    llm_compute_free(c);
}

/* ---- throughput (printed only) ---------------------------------------------- */

/* One thread: a prompt-sized product (256 rows of activations) on each
 * integer path, in 8-bit multiply-adds per second and as a share of the
 * path's own peak (its kernel step from registers), measured alongside. */
static void test_qgemm_throughput(void)
{
    const llm_dtype types[] = {LLM_Q4_K, LLM_Q5_0, LLM_Q6_K, LLM_Q8_0};
    const int64_t rows = 1024, cols = 2048, n = 256;
    llm_compute *c;
    rag_err err;
    CHECK_INT(llm_compute_new(1, cols, &c, &err), 0);
    float *X = random_vec(n * cols), *Y = rag_xmalloc((size_t)(n * rows) * sizeof(float));
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        llm_dtype t = types[ti];
        uint8_t *data = random_row(t, rows * cols);
        llm_mat W = {t, rows, cols, data, llm_row_bytes(t, cols), NULL};
        char line[256];
        int len =
            snprintf(line, sizeof line,
                     "    %-6s prompt product, one thread, G/s (of peak):", llm_dtype_get(t)->name);
        for (int path = 1; path < LLM_QGEMM_PATHS; path++) {
            if (!llm_qgemm_supported((llm_qgemm_path)path)) continue;
            llm_qgemm_path prev = llm_qgemm_select((llm_qgemm_path)path);
            if (llm_qgemm_handles(t)) {
                double t0 = rag_now_s(), peak = llm_qgemm_peak_loop(2000000);
                peak /= rag_now_s() - t0;
                int reps = 0;
                t0 = rag_now_s();
                do
                    llm_matmul(c, &W, X, n, Y), reps++;
                while (rag_now_s() - t0 < 0.2);
                double rate = (double)reps * (double)(rows * cols * n) / (rag_now_s() - t0);
                len += snprintf(line + len, sizeof line - (size_t)len, "  %s %.0f (%.2f)",
                                llm_qgemm_name((llm_qgemm_path)path), rate / 1e9, rate / peak);
            }
            llm_qgemm_select(prev);
        }
        printf("%s\n", line);
        rag_free(data);
    }
    rag_free(Y);
    rag_free(X);
    llm_compute_free(c);
}

static void test_dot_throughput(void)
{
    const llm_dtype types[] = {LLM_Q2_K, LLM_Q3_K,   LLM_Q4_K, LLM_Q5_K,
                               LLM_Q6_K, LLM_IQ4_XS, LLM_Q8_0, LLM_F16};
    const int64_t rows = 512, cols = 4096;
    llm_isa prev = llm_isa_active();
    float *x = random_vec(cols);
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        llm_dtype t = types[ti];
        size_t rb = llm_row_bytes(t, cols);
        uint8_t *data = random_row(t, rows * cols);
        char line[256];
        int len = snprintf(line, sizeof line,
                           "    %-6s dot, one thread, GB/s of weights, float kernel (integer):",
                           llm_dtype_get(t)->name);
        for (int k = 0; k < 3; k++) {
            if (!llm_isa_supported(all_isas[k])) continue;
            llm_isa_select(all_isas[k]);
            double gbs[2] = {0, 0};
            for (int q8 = 0; q8 < 2 && (q8 == 0 || llm_dot_q8_supported(t)); q8++) {
                uint8_t *xa = q8 ? rag_xmalloc(llm_q8_acts_bytes(t, cols)) : NULL;
                volatile float sink = 0;
                float out;
                int passes = 0;
                double t0 = rag_now_s(), el;
                do {
                    if (q8) llm_q8_acts(t, x, cols, xa); /* once per product, as llm_matmul does */
                    for (int64_t r = 0; r < rows; r++) {
                        if (q8)
                            llm_dot_rows_q8(t, data + r * rb, xa, 0, 1, &out, 1, cols);
                        else
                            out = llm_dot_row(t, data + r * rb, x, cols);
                        sink += out;
                    }
                    passes++;
                    el = rag_now_s() - t0;
                } while (el < 0.08);
                gbs[q8] = (double)rb * rows * passes / el / 1e9;
                rag_free(xa);
            }
            len += snprintf(line + len, sizeof line - (size_t)len, "  %s %.2f",
                            llm_isa_name(all_isas[k]), gbs[0]);
            if (gbs[1] > 0)
                len += snprintf(line + len, sizeof line - (size_t)len, " (%.2f)", gbs[1]);
        }
        printf("%s\n", line);
        rag_free(data);
    }
    rag_free(x);
    llm_isa_select(prev);
}

int main(void)
{
    printf("    active instruction set: %s\n", llm_isa_name(llm_isa_active()));
    RUN(test_dtype_table);
    RUN(test_f16_conversion);
    RUN(test_f16_rows);
    RUN(test_bf16_conversion);
    RUN(test_known_blocks);
    RUN(test_layouts_match_ggml_loops);
    RUN(test_dequant_isas_exact);
    RUN(test_dot_isas);
    RUN(test_dot_q8);
    RUN(test_q8_acts_quantizer);
    RUN(test_dot_rows_exact);
    RUN(test_dot_tile_exact);
    RUN(test_quantizers);
    RUN(test_quantizer_details);
    RUN(test_parallel_for);
    RUN(test_parallel_for_uneven);
    RUN(test_parallel_for_sleeping);
    RUN(test_matmul);
    RUN(test_matmul_epilogue);
    RUN(test_matmul_swiglu);
    RUN(test_matmul_ffn);
    RUN(test_qgemm_pack);
    RUN(test_qgemm_products);
    RUN(test_qgemm_interleaved);
    RUN(test_dot_throughput);
    RUN(test_qgemm_throughput);
    return test_summary();
}
