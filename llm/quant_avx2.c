/* llm/quant_avx2.c: AVX2 + FMA + F16C kernels for every type the reference
 * covers. The Makefile compiles this file alone with -mavx2 -mfma -mf16c
 * (and -ffp-contract=off, see below); quant.c calls llm_kernels_avx2 only
 * after the CPU has reported those features, so the rest of the program
 * stays generic x86-64.
 *
 * Block types are decoded 32 values at a time ("groups", the order of the
 * reference's loops) into four vectors of 8 floats. Dequantization stores
 * them; a dot product multiplies them with x and accumulates with FMA into
 * four independent accumulators. Each value is computed with the same
 * operations as the reference (integer quant converted to float, times the
 * sub-block scale from quant_int.h, minus the sub-block min), without
 * fused multiply-adds, so the dequantized rows are bit-identical to the
 * reference's. */
#include "llm/quant_int.h"

#if defined(__x86_64__)
#if !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#error "llm/quant_avx2.c must be compiled with -mavx2 -mfma -mf16c (see the Makefile)"
#endif

#include <immintrin.h>
#include <string.h>

/* 32 consecutive values: elements 8k..8k+7 in v[k]. */
typedef struct grp {
    __m256 v[4];
} grp;

static inline __m256i load_u8x8(const uint8_t *p)
{
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
}

static inline __m256i load_i8x8(const int8_t *p)
{
    return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p));
}

static inline __m256i shr(__m256i v, int n)
{
    return _mm256_srl_epi32(v, _mm_cvtsi32_si128(n));
}

static inline __m256i bits(__m256i v, int shift, int mask)
{
    return _mm256_and_si256(shr(v, shift), _mm256_set1_epi32(mask));
}

/* d * q, and d * q - m: a multiply then a subtraction, never fused. */
static inline __m256 scale(__m256i q, float d)
{
    return _mm256_mul_ps(_mm256_cvtepi32_ps(q), _mm256_set1_ps(d));
}

static inline __m256 scale_min(__m256i q, float d, float m)
{
    return _mm256_sub_ps(scale(q, d), _mm256_set1_ps(m));
}

static inline float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static uint32_t load_u32le(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The 16 IQ4 levels, looked up 16 at a time with a byte shuffle; returns
 * the levels of the low nibbles in lo and of the high nibbles in hi. */
static inline void iq4_levels(const uint8_t *qs, __m128i *lo, __m128i *hi)
{
    const __m128i table = _mm_loadu_si128((const __m128i *)llm_iq4nl_values);
    const __m128i m4 = _mm_set1_epi8(0xF);
    __m128i q = _mm_loadu_si128((const __m128i *)qs);
    *lo = _mm_shuffle_epi8(table, _mm_and_si128(q, m4));
    *hi = _mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(q, 4), m4));
}

/* ---- group decoders, one per type -------------------------------------- */

static inline void prep_d(uint16_t d, llm_scales *s)
{
    s->d[0] = llm_half(d);
}

static inline void prep_dm(uint16_t d, uint16_t m, llm_scales *s)
{
    s->d[0] = llm_half(d);
    s->m[0] = llm_half(m);
}

static inline void prep_q4_0(const llm_block_q4_0 *b, llm_scales *s)
{
    prep_d(b->d, s);
}

static inline grp grp_q4_0(const llm_block_q4_0 *b, const llm_scales *s, int g)
{
    (void)g;
    const __m256i eight = _mm256_set1_epi32(8);
    __m256i a = load_u8x8(b->qs), c = load_u8x8(b->qs + 8);
    grp r;
    r.v[0] = scale(_mm256_sub_epi32(bits(a, 0, 0xF), eight), s->d[0]);
    r.v[1] = scale(_mm256_sub_epi32(bits(c, 0, 0xF), eight), s->d[0]);
    r.v[2] = scale(_mm256_sub_epi32(shr(a, 4), eight), s->d[0]);
    r.v[3] = scale(_mm256_sub_epi32(shr(c, 4), eight), s->d[0]);
    return r;
}

static inline void prep_q4_1(const llm_block_q4_1 *b, llm_scales *s)
{
    prep_dm(b->d, b->m, s);
}

/* d * q + m: the min is added, as in the reference. */
static inline grp grp_q4_1(const llm_block_q4_1 *b, const llm_scales *s, int g)
{
    (void)g;
    __m256i a = load_u8x8(b->qs), c = load_u8x8(b->qs + 8);
    __m256 m = _mm256_set1_ps(s->m[0]);
    grp r;
    r.v[0] = _mm256_add_ps(scale(bits(a, 0, 0xF), s->d[0]), m);
    r.v[1] = _mm256_add_ps(scale(bits(c, 0, 0xF), s->d[0]), m);
    r.v[2] = _mm256_add_ps(scale(shr(a, 4), s->d[0]), m);
    r.v[3] = _mm256_add_ps(scale(shr(c, 4), s->d[0]), m);
    return r;
}

/* Fifth bits of elements 8k..8k+7, moved to bit 4. */
static inline __m256i q5_high(uint32_t qh, int k)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i sh = _mm256_add_epi32(lane, _mm256_set1_epi32(8 * k));
    __m256i b =
        _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)qh), sh), _mm256_set1_epi32(1));
    return _mm256_slli_epi32(b, 4);
}

/* The four vectors of 5-bit quants (0..31) of a Q5_0 / Q5_1 block. */
static inline void q5_quants(const uint8_t *qs, const uint8_t *qhp, __m256i q[4])
{
    uint32_t qh = load_u32le(qhp);
    __m256i a = load_u8x8(qs), c = load_u8x8(qs + 8);
    q[0] = _mm256_or_si256(bits(a, 0, 0xF), q5_high(qh, 0));
    q[1] = _mm256_or_si256(bits(c, 0, 0xF), q5_high(qh, 1));
    q[2] = _mm256_or_si256(shr(a, 4), q5_high(qh, 2));
    q[3] = _mm256_or_si256(shr(c, 4), q5_high(qh, 3));
}

static inline void prep_q5_0(const llm_block_q5_0 *b, llm_scales *s)
{
    prep_d(b->d, s);
}

static inline grp grp_q5_0(const llm_block_q5_0 *b, const llm_scales *s, int g)
{
    (void)g;
    const __m256i sixteen = _mm256_set1_epi32(16);
    __m256i q[4];
    q5_quants(b->qs, b->qh, q);
    grp r;
    for (int k = 0; k < 4; k++)
        r.v[k] = scale(_mm256_sub_epi32(q[k], sixteen), s->d[0]);
    return r;
}

static inline void prep_q5_1(const llm_block_q5_1 *b, llm_scales *s)
{
    prep_dm(b->d, b->m, s);
}

static inline grp grp_q5_1(const llm_block_q5_1 *b, const llm_scales *s, int g)
{
    (void)g;
    __m256i q[4];
    q5_quants(b->qs, b->qh, q);
    __m256 m = _mm256_set1_ps(s->m[0]);
    grp r;
    for (int k = 0; k < 4; k++)
        r.v[k] = _mm256_add_ps(scale(q[k], s->d[0]), m);
    return r;
}

static inline void prep_q8_0(const llm_block_q8_0 *b, llm_scales *s)
{
    prep_d(b->d, s);
}

static inline grp grp_q8_0(const llm_block_q8_0 *b, const llm_scales *s, int g)
{
    (void)g;
    grp r;
    for (int k = 0; k < 4; k++)
        r.v[k] = scale(load_i8x8(b->qs + 8 * k), s->d[0]);
    return r;
}

static inline void prep_iq4_nl(const llm_block_iq4_nl *b, llm_scales *s)
{
    prep_d(b->d, s);
}

/* Levels of 16 nibbles, as two vectors of 8 scaled values. */
static inline void iq4_scale(__m128i lv, float d, __m256 *a, __m256 *b)
{
    *a = scale(_mm256_cvtepi8_epi32(lv), d);
    *b = scale(_mm256_cvtepi8_epi32(_mm_srli_si128(lv, 8)), d);
}

static inline grp grp_iq4_nl(const llm_block_iq4_nl *b, const llm_scales *s, int g)
{
    (void)g;
    __m128i lo, hi;
    iq4_levels(b->qs, &lo, &hi);
    grp r;
    iq4_scale(lo, s->d[0], &r.v[0], &r.v[1]);
    iq4_scale(hi, s->d[0], &r.v[2], &r.v[3]);
    return r;
}

/* K-quants: group g of a 256 block (see the layouts in quant_int.h). */

static inline grp grp_q2_K(const llm_block_q2_K *b, const llm_scales *s, int g)
{
    const uint8_t *q = b->qs + 32 * (g / 4);
    int shift = 2 * (g % 4);
    grp r;
    for (int k = 0; k < 4; k++) {
        int is = 2 * g + k / 2;
        r.v[k] = scale_min(bits(load_u8x8(q + 8 * k), shift, 3), s->d[is], s->m[is]);
    }
    return r;
}

static inline grp grp_q3_K(const llm_block_q3_K *b, const llm_scales *s, int g)
{
    const uint8_t *q = b->qs + 32 * (g / 4);
    int shift = 2 * (g % 4);
    const __m256i four = _mm256_set1_epi32(4);
    grp r;
    for (int k = 0; k < 4; k++) {
        __m256i lo = bits(load_u8x8(q + 8 * k), shift, 3);
        __m256i hb = _mm256_slli_epi32(bits(load_u8x8(b->hmask + 8 * k), g, 1), 2);
        __m256i v = _mm256_sub_epi32(_mm256_add_epi32(lo, hb), four);
        r.v[k] = scale(v, s->d[2 * g + k / 2]);
    }
    return r;
}

static inline grp grp_q4_K(const llm_block_q4_K *b, const llm_scales *s, int g)
{
    const uint8_t *q = b->qs + 32 * (g / 2);
    int shift = 4 * (g % 2);
    grp r;
    for (int k = 0; k < 4; k++)
        r.v[k] = scale_min(bits(load_u8x8(q + 8 * k), shift, 0xF), s->d[g], s->m[g]);
    return r;
}

static inline grp grp_q5_K(const llm_block_q5_K *b, const llm_scales *s, int g)
{
    const uint8_t *q = b->qs + 32 * (g / 2);
    int shift = 4 * (g % 2);
    grp r;
    for (int k = 0; k < 4; k++) {
        __m256i lo = bits(load_u8x8(q + 8 * k), shift, 0xF);
        __m256i hb = _mm256_slli_epi32(bits(load_u8x8(b->qh + 8 * k), g, 1), 4);
        r.v[k] = scale_min(_mm256_or_si256(lo, hb), s->d[g], s->m[g]);
    }
    return r;
}

static inline grp grp_q6_K(const llm_block_q6_K *b, const llm_scales *s, int g)
{
    int h = g / 4, quarter = g % 4;
    const uint8_t *ql = b->ql + 64 * h + 32 * (quarter % 2);
    const uint8_t *qh = b->qh + 32 * h;
    const __m256i bias = _mm256_set1_epi32(32);
    grp r;
    for (int k = 0; k < 4; k++) {
        __m256i lo = bits(load_u8x8(ql + 8 * k), 4 * (quarter / 2), 0xF);
        __m256i hi = _mm256_slli_epi32(bits(load_u8x8(qh + 8 * k), 2 * quarter, 3), 4);
        r.v[k] = scale(_mm256_sub_epi32(_mm256_or_si256(lo, hi), bias), s->d[2 * g + k / 2]);
    }
    return r;
}

static inline grp grp_iq4_xs(const llm_block_iq4_xs *b, const llm_scales *s, int g)
{
    __m128i lo, hi;
    iq4_levels(b->qs + 16 * g, &lo, &hi);
    grp r;
    iq4_scale(lo, s->d[g], &r.v[0], &r.v[1]);
    iq4_scale(hi, s->d[g], &r.v[2], &r.v[3]);
    return r;
}

#define ALWAYS_INLINE inline __attribute__((always_inline))
/* Activation rows a rows kernel takes in one pass over the weight row: four
 * accumulators each, 8 of the 16 vector registers. */
#define ROWS_AT_ONCE 2

/* ---- the kernels of each block type -------------------------------------
 * prep turns the block's scales into floats (quant_int.h for the K types),
 * grp_<name> decodes group g. */
#define BLOCK_KERNELS(name, block_t, n_groups, prep)                                               \
    static void dequant_##name(const void *row, float *y, int64_t n)                               \
    {                                                                                              \
        const block_t *b = row;                                                                    \
        for (int64_t i = 0; i < n / (32 * (n_groups)); i++, b++) {                                 \
            llm_scales s;                                                                          \
            prep(b, &s);                                                                           \
            _Pragma("GCC unroll 8") for (int g = 0; g < (n_groups); g++, y += 32)                  \
            {                                                                                      \
                grp r = grp_##name(b, &s, g);                                                      \
                _mm256_storeu_ps(y, r.v[0]);                                                       \
                _mm256_storeu_ps(y + 8, r.v[1]);                                                   \
                _mm256_storeu_ps(y + 16, r.v[2]);                                                  \
                _mm256_storeu_ps(y + 24, r.v[3]);                                                  \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    /* m activation rows at once (m a constant after inlining): each row's                         \
     * accumulators see exactly the operations they see with m = 1 */                              \
    static ALWAYS_INLINE void dotm_##name(const void *row, const float *x, int64_t ldx,            \
                                          float *out, int64_t ldo, int64_t n, const int m)         \
    {                                                                                              \
        const block_t *b = row;                                                                    \
        __m256 a[ROWS_AT_ONCE][4];                                                                 \
        _Pragma("GCC unroll 2") for (int j = 0; j < m; j++) a[j][0] = a[j][1] = a[j][2] =          \
            a[j][3] = _mm256_setzero_ps();                                                         \
        for (int64_t i = 0; i < n / (32 * (n_groups)); i++, b++) {                                 \
            /* the rows stream from memory: ask for the lines 2 KB ahead */                        \
            for (size_t l = 0; l < sizeof(block_t); l += 64)                                       \
                _mm_prefetch((const char *)b + 2048 + l, _MM_HINT_T0);                             \
            llm_scales s;                                                                          \
            prep(b, &s);                                                                           \
            _Pragma("GCC unroll 8") for (int g = 0; g < (n_groups); g++, x += 32)                  \
            {                                                                                      \
                grp r = grp_##name(b, &s, g);                                                      \
                _Pragma("GCC unroll 2") for (int j = 0; j < m; j++)                                \
                    _Pragma("GCC unroll 4") for (int k = 0; k < 4; k++) a[j][k] =                  \
                        _mm256_fmadd_ps(r.v[k], _mm256_loadu_ps(x + j * ldx + 8 * k), a[j][k]);    \
            }                                                                                      \
        }                                                                                          \
        _Pragma("GCC unroll 2") for (int j = 0; j < m; j++) out[j * ldo] =                         \
            hsum(_mm256_add_ps(_mm256_add_ps(a[j][0], a[j][1]), _mm256_add_ps(a[j][2], a[j][3]))); \
    }                                                                                              \
    static float dot_##name(const void *row, const float *x, int64_t n)                            \
    {                                                                                              \
        float r;                                                                                   \
        dotm_##name(row, x, 0, &r, 0, n, 1);                                                       \
        return r;                                                                                  \
    }                                                                                              \
    static void dot_rows_##name(const void *row, const float *x, int64_t ldx, int nx, float *out,  \
                                int64_t ldo, int64_t n)                                            \
    {                                                                                              \
        for (; nx >= 2; nx -= 2, x += 2 * ldx, out += 2 * ldo)                                     \
            dotm_##name(row, x, ldx, out, ldo, n, 2);                                              \
        if (nx == 1) dotm_##name(row, x, ldx, out, ldo, n, 1);                                     \
    }

BLOCK_KERNELS(q4_0, llm_block_q4_0, 1, prep_q4_0)
BLOCK_KERNELS(q4_1, llm_block_q4_1, 1, prep_q4_1)
BLOCK_KERNELS(q5_0, llm_block_q5_0, 1, prep_q5_0)
BLOCK_KERNELS(q5_1, llm_block_q5_1, 1, prep_q5_1)
BLOCK_KERNELS(q8_0, llm_block_q8_0, 1, prep_q8_0)
BLOCK_KERNELS(iq4_nl, llm_block_iq4_nl, 1, prep_iq4_nl)
BLOCK_KERNELS(q2_K, llm_block_q2_K, 8, llm_scales_q2_K)
BLOCK_KERNELS(q3_K, llm_block_q3_K, 8, llm_scales_q3_K)
BLOCK_KERNELS(q4_K, llm_block_q4_K, 8, llm_scales_q4_K)
BLOCK_KERNELS(q5_K, llm_block_q5_K, 8, llm_scales_q5_K)
BLOCK_KERNELS(q6_K, llm_block_q6_K, 8, llm_scales_q6_K)
BLOCK_KERNELS(iq4_xs, llm_block_iq4_xs, 8, llm_scales_iq4_xs)

/* Activation rows the integer rows kernel takes at once: two accumulators
 * each. */
#define Q8_ROWS_AT_ONCE 4

/* ---- against Q8_0 activations (llm_dot_row_q8) -----------------------------
 * Each block is 32 signed 8-bit weights times 32 signed 8-bit activations,
 * summed in integers: maddubs takes unsigned times signed bytes, so the
 * weights' signs move onto the activations first (|w| * sign(w) x). No sum
 * saturates: |w| <= 127 and |x| <= 127 give pairs of at most 32258. */
static inline __m256 block_dot_i8(__m256i w, __m256i x)
{
    __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

/* The 32 four-bit values of a block (low nibbles first), 0..15. */
static inline __m256i nibbles_i8(const uint8_t *qs)
{
    __m128i lo = _mm_loadu_si128((const __m128i *)(const void *)qs);
    __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), _mm_srli_epi16(lo, 4), 1);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

/* 0xFF in byte e where bit e of the little-endian 32 bits at p is set. */
static inline __m256i bits_to_bytes(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    const __m256i spread =
        _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
    __m256i bytes =
        _mm256_shuffle_epi8(_mm256_set1_epi32((int)v), spread);    /* byte e holds bits 8(e/8).. */
    const __m256i others = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe); /* all bits but bit e%8 */
    return _mm256_cmpeq_epi8(_mm256_or_si256(bytes, others), _mm256_set1_epi8(-1));
}

static inline __m256i ints_q4_0(const llm_block_q4_0 *b)
{
    return _mm256_sub_epi8(nibbles_i8(b->qs), _mm256_set1_epi8(8));
}

/* (nibble | fifth bit << 4) - 16: OR-ing 0xF0 where the fifth bit is clear
 * gives nibble - 16 as a signed byte, and leaves nibble where it is set. */
static inline __m256i ints_q5_0(const llm_block_q5_0 *b)
{
    __m256i high_clear = _mm256_andnot_si256(bits_to_bytes(b->qh), _mm256_set1_epi8((char)0xF0));
    return _mm256_or_si256(nibbles_i8(b->qs), high_clear);
}

static inline __m256i ints_q8_0(const llm_block_q8_0 *b)
{
    return _mm256_loadu_si256((const __m256i *)(const void *)b->qs);
}

/* The IQ4 levels of 32 nibbles arranged as in Q4_0, in element order. */
static inline __m256i iq4_ints(const uint8_t *qs)
{
    __m128i table = _mm_loadu_si128((const __m128i *)(const void *)llm_iq4nl_values);
    return _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(table), nibbles_i8(qs));
}

static inline __m256i ints_iq4_nl(const llm_block_iq4_nl *b)
{
    return iq4_ints(b->qs);
}

/* m activation rows at once, each block of weights decoded once; each row
 * sees the single kernel's operations (even blocks into one accumulator,
 * odd ones into the other), so gets its value bit for bit. */
#define DOT_Q8_KERNEL(name, block_t)                                                               \
    static ALWAYS_INLINE void dotm_q8_##name(const void *row, const void *xq, size_t ldxq,         \
                                             float *out, int64_t ldo, int64_t n, const int m)      \
    {                                                                                              \
        const block_t *b = row;                                                                    \
        const llm_block_q8_0 *x[Q8_ROWS_AT_ONCE];                                                  \
        __m256 a[Q8_ROWS_AT_ONCE][2];                                                              \
        _Pragma("GCC unroll 4") for (int j = 0; j < m; j++)                                        \
        {                                                                                          \
            x[j] = (const llm_block_q8_0 *)((const uint8_t *)xq + (size_t)j * ldxq);               \
            a[j][0] = a[j][1] = _mm256_setzero_ps();                                               \
        }                                                                                          \
        int64_t i = 0, nb = n / LLM_QK;                                                            \
        for (; i < nb; i++) {                                                                      \
            if (!(i & 1)) _mm_prefetch((const char *)(b + i) + 2048, _MM_HINT_T0); /* streamed */  \
            __m256i w = ints_##name(&b[i]);                                                        \
            float wd = llm_half(b[i].d);                                                           \
            int acc = i + 1 < nb || (i & 1) ? (int)(i & 1) : 0; /* a lone last block: the first */ \
            _Pragma("GCC unroll 4") for (int j = 0; j < m; j++) a[j][acc] =                        \
                _mm256_fmadd_ps(_mm256_set1_ps(wd * llm_half(x[j][i].d)),                          \
                                block_dot_i8(w, ints_q8_0(&x[j][i])), a[j][acc]);                  \
        }                                                                                          \
        _Pragma("GCC unroll 4") for (int j = 0; j < m; j++) out[j * ldo] =                         \
            hsum(_mm256_add_ps(a[j][0], a[j][1]));                                                 \
    }                                                                                              \
    static float dot_q8_##name(const void *row, const void *xq, int64_t n)                         \
    {                                                                                              \
        float r;                                                                                   \
        dotm_q8_##name(row, xq, 0, &r, 0, n, 1);                                                   \
        return r;                                                                                  \
    }                                                                                              \
    LLM_Q8_ROWS_BY_4(, name)                                                                       \
    LLM_Q8_TILE(, name)

DOT_Q8_KERNEL(q4_0, llm_block_q4_0)
DOT_Q8_KERNEL(q5_0, llm_block_q5_0)
DOT_Q8_KERNEL(q8_0, llm_block_q8_0)
DOT_Q8_KERNEL(iq4_nl, llm_block_iq4_nl)

/* ---- K-quants against Q8_0 activations ------------------------------------
 * A super-block of 256 weights meets 8 activation blocks of 32. The
 * activations are laid out once per product (llm_q8_acts): their values
 * contiguous (in llm_q8_acts's aligned buffers no 32-byte load then splits
 * a cache line), each block's scale dx as a float, and for the types with
 * mins the sums of the values (times dx) that the mins multiply.
 *
 * Q4_K: w = d * sc * q - dmin * m with q in 0..15: maddubs takes q as the
 * unsigned side, and the mins are one 8-wide product per super-block with
 * the block sums. Q5_K: the same with a fifth bit (q in 0..31). Q2_K: two
 * bits, a scale and min per 16 values (weighted in the widening madd, as
 * Q6_K's), the mins against sums of 16 activations.
 * Q6_K: w = d * sc * (q - 32), 16 values per int8 scale: q - 32 goes through
 * the sign trick of block_dot_i8, and the pairs are weighted by their
 * sub-block's scale in the madd that widens them. Q3_K: the same with
 * q - 4 (three bits) and six-bit scales.
 * IQ4_XS: each sub-block of 32 an IQ4_NL block with its own scale. */
typedef struct k_acts {
    const int8_t *qs; /* values, block b at 32 * b */
    const float *dx;  /* block scales */
    const float *S;   /* dx * sums of the values: per block (Q4_K, Q5_K) or per 16 (Q2_K) */
} k_acts;

/* The layout for n values with `sums` sums per super-block (0, 8 or 16). */
static size_t k_bytes(int64_t n, int sums)
{
    return (size_t)n + (size_t)(n / LLM_QK) * sizeof(float) +
           (size_t)(n / LLM_QK_K * sums) * sizeof(float);
}

static void k_prepare(const void *xq, int64_t n, void *xa, int sums)
{
    const llm_block_q8_0 *x = xq;
    int64_t nb = n / LLM_QK;
    int8_t *qs = xa;
    float *dx = (float *)(void *)(qs + n), *S = dx + nb;
    int per_block = sums / 8, len = LLM_QK / (per_block ? per_block : 1);
    for (int64_t i = 0; i < nb; i++) {
        memcpy(qs + LLM_QK * i, x[i].qs, LLM_QK);
        dx[i] = llm_half(x[i].d);
        for (int p = 0; p < per_block; p++) {
            int sum = 0;
            for (int k = p * len; k < (p + 1) * len; k++)
                sum += x[i].qs[k];
            S[per_block * i + p] = dx[i] * (float)sum;
        }
    }
}

/* The laid-out activations of row j (ldxa bytes apart) for a length of n,
 * from super-block i on. */
static inline k_acts k_acts_at(const void *xa, size_t ldxa, int j, int64_t n, int sums, int64_t i)
{
    const int8_t *qs = (const int8_t *)xa + (size_t)j * ldxa;
    const float *dx = (const float *)(const void *)(qs + n);
    return (k_acts){qs + LLM_QK_K * i, dx + 8 * i, dx + n / LLM_QK + sums * i};
}

#define K_LAYOUT(sums)                                                                             \
    static size_t k_bytes_##sums(int64_t n)                                                        \
    {                                                                                              \
        return k_bytes(n, sums);                                                                   \
    }                                                                                              \
    static void k_prepare_##sums(const void *xq, int64_t n, void *xa)                              \
    {                                                                                              \
        k_prepare(xq, n, xa, sums);                                                                \
    }                                                                                              \
    static const llm_q8_layout k_layout_##sums = {k_bytes_##sums, k_prepare_##sums};

/* Q3_K, Q6_K and IQ4_XS take no sums, Q4_K and Q5_K one per block, Q2_K two */
K_LAYOUT(0)
K_LAYOUT(8)
K_LAYOUT(16)

/* The sums of q * x over 4 values each, in 8 int32 lanes; q in 0..31. */
static inline __m256 unsigned_dot(__m256i q, const int8_t *x)
{
    __m256i pairs = _mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)(const void *)x));
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

/* One super-block of Q4_K (qh NULL) or Q5_K (qh its fifth bits) against m
 * rows of its activations: even sub-blocks into acc[j][0], odd ones into
 * acc[j][1], mins into acc[j][2]. */
static ALWAYS_INLINE void sb_k45(uint16_t d16, uint16_t dmin16, const uint8_t *scales,
                                 const uint8_t *qs, const uint8_t *qh, const k_acts *x,
                                 __m256 (*acc)[3], const int m)
{
    uint8_t sc[8], mn[8];
    for (int s = 0; s < 8; s++)
        llm_k4_scale_min(s, scales, &sc[s], &mn[s]);
    float d = llm_half(d16);
    __m256 mins =
        _mm256_mul_ps(_mm256_cvtepi32_ps(load_u8x8(mn)), _mm256_set1_ps(llm_half(dmin16)));
    const __m256i low4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    __m256i high =
        qh ? _mm256_loadu_si256((const __m256i *)(const void *)qh) : _mm256_setzero_si256();
    _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++)
    {
        __m256i q = _mm256_loadu_si256((const __m256i *)(const void *)(qs + 32 * c));
        __m256i u[2] = {_mm256_and_si256(q, low4), _mm256_and_si256(_mm256_srli_epi16(q, 4), low4)};
        _Pragma("GCC unroll 2") for (int h = 0; h < 2; h++)
        {
            int blk = 2 * c + h;
            if (qh) /* the fifth bit of value l of sub-block blk: bit blk of qh[l] */
                u[h] = _mm256_or_si256(
                    u[h],
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(high, blk), one), 4));
            float ds = d * sc[blk];
            _Pragma("GCC unroll 4") for (int j = 0; j < m; j++) acc[j][h] =
                _mm256_fmadd_ps(_mm256_set1_ps(ds * x[j].dx[blk]),
                                unsigned_dot(u[h], x[j].qs + LLM_QK * blk), acc[j][h]);
        }
    }
    _Pragma("GCC unroll 4") for (int j = 0; j < m; j++) acc[j][2] =
        _mm256_fmadd_ps(mins, _mm256_loadu_ps(x[j].S), acc[j][2]);
}

/* One super-block of Q2_K against m rows: w = d * sc * q - dmin * m per 16
 * values, q two bits arranged as Q3_K's; block 4h + k into acc[j][k % 2],
 * the mins against the sums of 16 values into acc[j][2]. */
static ALWAYS_INLINE void sb_q2_K(const llm_block_q2_K *b, const k_acts *x, __m256 (*acc)[3],
                                  const int m)
{
    __m128i packed = _mm_loadu_si128((const __m128i *)(const void *)b->scales),
            m4 = _mm_set1_epi8(0x0F);
    uint8_t sc[16];
    _mm_storeu_si128((__m128i *)(void *)sc, _mm_and_si128(packed, m4));
    __m128i mn = _mm_and_si128(_mm_srli_epi16(packed, 4), m4);
    __m256 dmin = _mm256_set1_ps(llm_half(b->dmin));
    __m256 mins0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(mn)), dmin),
           mins1 =
               _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(mn, 8))), dmin);
    float d = llm_half(b->d);
    const __m256i two = _mm256_set1_epi8(3);
    _Pragma("GCC unroll 2") for (int h = 0; h < 2; h++)
    {
        __m256i qs = _mm256_loadu_si256((const __m256i *)(const void *)(b->qs + 32 * h));
        _Pragma("GCC unroll 4") for (int k = 0; k < 4; k++)
        {
            __m256i u = _mm256_and_si256(_mm256_srli_epi16(qs, 2 * k), two);
            __m256i scales = _mm256_set_m128i(_mm_set1_epi16(sc[8 * h + 2 * k + 1]),
                                              _mm_set1_epi16(sc[8 * h + 2 * k]));
            int blk = 4 * h + k;
            _Pragma("GCC unroll 4") for (int j = 0; j < m; j++)
            {
                __m256i xv =
                    _mm256_loadu_si256((const __m256i *)(const void *)(x[j].qs + LLM_QK * blk));
                __m256 t =
                    _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(u, xv), scales));
                acc[j][k % 2] = _mm256_fmadd_ps(_mm256_set1_ps(d * x[j].dx[blk]), t, acc[j][k % 2]);
            }
        }
    }
    _Pragma("GCC unroll 4") for (int j = 0; j < m; j++)
    {
        acc[j][2] = _mm256_fmadd_ps(mins0, _mm256_loadu_ps(x[j].S), acc[j][2]);
        acc[j][2] = _mm256_fmadd_ps(mins1, _mm256_loadu_ps(x[j].S + 8), acc[j][2]);
    }
}

static ALWAYS_INLINE void sb_q4_K(const llm_block_q4_K *b, const k_acts *x, __m256 (*acc)[3],
                                  const int m)
{
    sb_k45(b->d, b->dmin, b->scales, b->qs, NULL, x, acc, m);
}

static ALWAYS_INLINE void sb_q5_K(const llm_block_q5_K *b, const k_acts *x, __m256 (*acc)[3],
                                  const int m)
{
    sb_k45(b->d, b->dmin, b->scales, b->qs, b->qh, x, acc, m);
}

/* Block blk (32 values) of a super-block, signed weights w (|w| <= 127)
 * whose halves of 16 have the int16 scales in `scales`, against m rows:
 * acc[j][slot] += d * dx * (sum of scale * w * x), the sign trick of
 * block_dot_i8 and the scales in the madd that widens the pairs. */
static ALWAYS_INLINE void signed16_fma(__m256i w, __m256i scales, float d, int blk, const k_acts *x,
                                       __m256 (*acc)[3], int slot, const int m)
{
    __m256i mag = _mm256_sign_epi8(w, w);
    _Pragma("GCC unroll 4") for (int j = 0; j < m; j++)
    {
        __m256i xv = _mm256_loadu_si256((const __m256i *)(const void *)(x[j].qs + LLM_QK * blk));
        __m256i pairs = _mm256_maddubs_epi16(mag, _mm256_sign_epi8(xv, w));
        __m256 t = _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, scales));
        acc[j][slot] = _mm256_fmadd_ps(_mm256_set1_ps(d * x[j].dx[blk]), t, acc[j][slot]);
    }
}

/* One super-block of Q6_K against m rows: block 4h + k (half h, quarter k)
 * into acc[j][k % 2]. */
static ALWAYS_INLINE void sb_q6_K(const llm_block_q6_K *b, const k_acts *x, __m256 (*acc)[3],
                                  const int m)
{
    float d = llm_half(b->d);
    const __m256i low4 = _mm256_set1_epi8(0x0F), two = _mm256_set1_epi8(3),
                  bias = _mm256_set1_epi8(32);
    _Pragma("GCC unroll 2") for (int h = 0; h < 2; h++)
    {
        __m256i ql[2] = {_mm256_loadu_si256((const __m256i *)(const void *)(b->ql + 64 * h)),
                         _mm256_loadu_si256((const __m256i *)(const void *)(b->ql + 64 * h + 32))};
        __m256i qh = _mm256_loadu_si256((const __m256i *)(const void *)(b->qh + 32 * h));
        _Pragma("GCC unroll 4") for (int k = 0; k < 4; k++)
        {
            /* values 128h + 32k + l: a nibble of ql (the low ones for k < 2)
             * and bits 2k..2k+1 of qh */
            __m256i lo = _mm256_and_si256(_mm256_srli_epi16(ql[k % 2], 4 * (k / 2)), low4);
            __m256i hi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), two), 4);
            __m256i w = _mm256_sub_epi8(_mm256_or_si256(lo, hi), bias);
            const int8_t *sc = b->scales + 8 * h + 2 * k; /* of values 0-15 and 16-31 */
            __m256i scales = _mm256_set_m128i(_mm_set1_epi16(sc[1]), _mm_set1_epi16(sc[0]));
            int blk = 4 * h + k;
            signed16_fma(w, scales, d, blk, x, acc, k % 2, m);
        }
    }
}

/* One super-block of Q3_K against m rows, as Q6_K's: w = d * sc * (q - 4),
 * q two bits of qs and a third from hmask, 16 values per scale; block 4h + k
 * (half h, quarter k) into acc[j][k % 2]. */
static ALWAYS_INLINE void sb_q3_K(const llm_block_q3_K *b, const k_acts *x, __m256 (*acc)[3],
                                  const int m)
{
    int8_t sc[16];
    _mm_storeu_si128((__m128i *)(void *)sc, llm_q3_K_scales_i8(b));
    float d = llm_half(b->d);
    const __m256i two = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1), bias = _mm256_set1_epi8(4);
    __m256i hm = _mm256_loadu_si256((const __m256i *)(const void *)b->hmask);
    _Pragma("GCC unroll 2") for (int h = 0; h < 2; h++)
    {
        __m256i qs = _mm256_loadu_si256((const __m256i *)(const void *)(b->qs + 32 * h));
        _Pragma("GCC unroll 4") for (int k = 0; k < 4; k++)
        {
            /* value 128h + 32k + l: bits 2k..2k+1 of qs[32h + l], and bit 4h + k of hmask[l] worth
             * 4 */
            __m256i lo = _mm256_and_si256(_mm256_srli_epi16(qs, 2 * k), two);
            __m256i hi =
                _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + k), one), 2);
            __m256i w = _mm256_sub_epi8(_mm256_or_si256(lo, hi), bias);
            __m256i scales = _mm256_set_m128i(_mm_set1_epi16(sc[8 * h + 2 * k + 1]),
                                              _mm_set1_epi16(sc[8 * h + 2 * k]));
            int blk = 4 * h + k;
            signed16_fma(w, scales, d, blk, x, acc, k % 2, m);
        }
    }
}

/* One super-block of IQ4_XS against m rows: sub-block (an IQ4_NL block
 * scaled by d * (ls - 32)) k into acc[j][k % 2]. */
static ALWAYS_INLINE void sb_iq4_xs(const llm_block_iq4_xs *b, const k_acts *x, __m256 (*acc)[3],
                                    const int m)
{
    llm_scales s;
    llm_scales_iq4_xs(b, &s);
    _Pragma("GCC unroll 8") for (int k = 0; k < 8; k++)
    {
        __m256i w = iq4_ints(b->qs + 16 * k);
        _Pragma("GCC unroll 4") for (int j = 0; j < m; j++)
        {
            __m256i xv = _mm256_loadu_si256((const __m256i *)(const void *)(x[j].qs + LLM_QK * k));
            acc[j][k % 2] = _mm256_fmadd_ps(_mm256_set1_ps(s.d[k] * x[j].dx[k]),
                                            block_dot_i8(w, xv), acc[j][k % 2]);
        }
    }
}

static inline float k_finish(const __m256 *acc)
{
    return hsum(_mm256_add_ps(acc[0], acc[1])) - hsum(acc[2]);
}

/* The rows kernel takes up to four activation rows per pass over the
 * weights; the single kernel, on plain Q8_0 blocks, lays out each
 * super-block's activations as it goes and then computes as the rows kernel
 * does, so the two agree bit for bit. (Q3_K, Q6_K and IQ4_XS leave acc[2]
 * at zero.) */
#define K_DOT_Q8(name, block_t, sums)                                                              \
    static ALWAYS_INLINE void dotm_q8_##name(const void *row, const void *xa, size_t ldxa,         \
                                             float *out, int64_t ldo, int64_t n, const int m)      \
    {                                                                                              \
        const block_t *b = row;                                                                    \
        __m256 acc[Q8_ROWS_AT_ONCE][3];                                                            \
        _Pragma("GCC unroll 4") for (int j = 0; j < m; j++) acc[j][0] = acc[j][1] = acc[j][2] =    \
            _mm256_setzero_ps();                                                                   \
        for (int64_t i = 0; i < n / LLM_QK_K; i++, b++) {                                          \
            for (size_t l = 0; l < sizeof *b; l += 64)                                             \
                _mm_prefetch((const char *)b + 2048 + l, _MM_HINT_T0);                             \
            k_acts x[Q8_ROWS_AT_ONCE];                                                             \
            _Pragma("GCC unroll 4") for (int j = 0; j < m; j++) x[j] =                             \
                k_acts_at(xa, ldxa, j, n, sums, i);                                                \
            sb_##name(b, x, acc, m);                                                               \
        }                                                                                          \
        _Pragma("GCC unroll 4") for (int j = 0; j < m; j++) out[j * ldo] = k_finish(acc[j]);       \
    }                                                                                              \
    static float dot_q8_##name(const void *row, const void *xq, int64_t n)                         \
    {                                                                                              \
        const block_t *b = row;                                                                    \
        const llm_block_q8_0 *xb = xq;                                                             \
        __m256 acc[1][3] = {{_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}};      \
        _Alignas(32) uint8_t local[LLM_QK_K + (8 + 16) * sizeof(float)];                           \
        for (int64_t i = 0; i < n / LLM_QK_K; i++, b++, xb += 8) {                                 \
            k_prepare(xb, LLM_QK_K, local, sums);                                                  \
            k_acts x = k_acts_at(local, 0, 0, LLM_QK_K, sums, 0);                                  \
            sb_##name(b, &x, acc, 1);                                                              \
        }                                                                                          \
        return k_finish(acc[0]);                                                                   \
    }                                                                                              \
    LLM_Q8_ROWS_BY_4(, name)                                                                       \
    LLM_Q8_TILE(, name)

K_DOT_Q8(q2_K, llm_block_q2_K, 16)
K_DOT_Q8(q3_K, llm_block_q3_K, 0)
K_DOT_Q8(q4_K, llm_block_q4_K, 8)
K_DOT_Q8(q5_K, llm_block_q5_K, 8)
K_DOT_Q8(q6_K, llm_block_q6_K, 0)
K_DOT_Q8(iq4_xs, llm_block_iq4_xs, 0)

/* ---- plain types: any n, so a scalar tail --------------------------------- */

static inline __m256 load8_f32(const float *p)
{
    return _mm256_loadu_ps(p);
}

static inline __m256 load8_f16(const uint16_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

static inline __m256 load8_bf16(const uint16_t *p)
{
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

static inline float one_f32(const float *p)
{
    return *p;
}

static inline float one_f16(const uint16_t *p)
{
    return llm_half(*p);
}

static inline float one_bf16(const uint16_t *p)
{
    return llm_bf16_to_f32(*p);
}

#define PLAIN_KERNELS(name, elem_t)                                                                \
    static void dequant_##name(const void *row, float *y, int64_t n)                               \
    {                                                                                              \
        const elem_t *p = row;                                                                     \
        int64_t i = 0;                                                                             \
        for (; i + 8 <= n; i += 8)                                                                 \
            _mm256_storeu_ps(y + i, load8_##name(p + i));                                          \
        for (; i < n; i++)                                                                         \
            y[i] = one_##name(p + i);                                                              \
    }                                                                                              \
    static float dot_##name(const void *row, const float *x, int64_t n)                            \
    {                                                                                              \
        const elem_t *p = row;                                                                     \
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                                \
        int64_t i = 0;                                                                             \
        for (; i + 32 <= n; i += 32) {                                                             \
            a0 = _mm256_fmadd_ps(load8_##name(p + i), _mm256_loadu_ps(x + i), a0);                 \
            a1 = _mm256_fmadd_ps(load8_##name(p + i + 8), _mm256_loadu_ps(x + i + 8), a1);         \
            a2 = _mm256_fmadd_ps(load8_##name(p + i + 16), _mm256_loadu_ps(x + i + 16), a2);       \
            a3 = _mm256_fmadd_ps(load8_##name(p + i + 24), _mm256_loadu_ps(x + i + 24), a3);       \
        }                                                                                          \
        for (; i + 8 <= n; i += 8)                                                                 \
            a0 = _mm256_fmadd_ps(load8_##name(p + i), _mm256_loadu_ps(x + i), a0);                 \
        float tail = 0;                                                                            \
        for (; i < n; i++)                                                                         \
            tail += one_##name(p + i) * x[i];                                                      \
        return hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3))) + tail;           \
    }

PLAIN_KERNELS(f32, float)
PLAIN_KERNELS(f16, uint16_t)
PLAIN_KERNELS(bf16, uint16_t)

/* Floats to F16 by F16C's vcvtps2ph (rounding to nearest even: the bits
 * of llm_f32_to_f16), 8 at a time. */
static void f16_row(const float *x, uint16_t *dst, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(void *)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++)
        dst[i] = llm_f32_to_f16(x[i]);
}

void llm_kernels_avx2(llm_kernels *k)
{
#define SET(T, name) llm_set_dot(k, T, dequant_##name, dot_##name, NULL);
#define SET_ROWS(T, name) llm_set_dot(k, T, dequant_##name, dot_##name, dot_rows_##name);
    LLM_PLAIN_TYPES(SET)
    LLM_BLOCK_TYPES(SET_ROWS)
#undef SET_ROWS
#undef SET
    k->f16_row = f16_row;
    /* the 32-value types on plain Q8_0 activations (no layout), the
     * super-block types on laid-out ones */
    llm_set_dot_q8(k, LLM_Q4_0, dot_q8_q4_0, dot_q8_rows_q4_0, dot_q8_tile_q4_0, NULL);
    llm_set_dot_q8(k, LLM_Q5_0, dot_q8_q5_0, dot_q8_rows_q5_0, dot_q8_tile_q5_0, NULL);
    llm_set_dot_q8(k, LLM_Q8_0, dot_q8_q8_0, dot_q8_rows_q8_0, dot_q8_tile_q8_0, NULL);
    llm_set_dot_q8(k, LLM_IQ4_NL, dot_q8_iq4_nl, dot_q8_rows_iq4_nl, dot_q8_tile_iq4_nl, NULL);
    llm_set_dot_q8(k, LLM_Q2_K, dot_q8_q2_K, dot_q8_rows_q2_K, dot_q8_tile_q2_K, &k_layout_16);
    llm_set_dot_q8(k, LLM_Q3_K, dot_q8_q3_K, dot_q8_rows_q3_K, dot_q8_tile_q3_K, &k_layout_0);
    llm_set_dot_q8(k, LLM_Q4_K, dot_q8_q4_K, dot_q8_rows_q4_K, dot_q8_tile_q4_K, &k_layout_8);
    llm_set_dot_q8(k, LLM_Q5_K, dot_q8_q5_K, dot_q8_rows_q5_K, dot_q8_tile_q5_K, &k_layout_8);
    llm_set_dot_q8(k, LLM_Q6_K, dot_q8_q6_K, dot_q8_rows_q6_K, dot_q8_tile_q6_K, &k_layout_0);
    llm_set_dot_q8(k, LLM_IQ4_XS, dot_q8_iq4_xs, dot_q8_rows_iq4_xs, dot_q8_tile_iq4_xs,
                   &k_layout_0);
}

#endif
