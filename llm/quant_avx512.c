/* llm/quant_avx512.c: AVX-512 (F, BW, VL, DQ) kernels for every type the
 * reference covers. Compiled alone with the AVX-512 flags (Makefile) and
 * installed by quant.c only when the CPU and the OS support them.
 *
 * Same scheme as quant_avx2.c with 16 floats per vector: a group of 32
 * values is two vectors; dequantization repeats the reference's operations
 * (no fused multiply-add) so its output is bit-identical; the dot products
 * accumulate with FMA. Plain types finish a row with masked loads. */
#include "llm/quant_int.h"

#if defined(__x86_64__)
#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512VL__) ||                   \
    !defined(__AVX512DQ__) || !defined(__FMA__) || !defined(__F16C__)
#error "llm/quant_avx512.c must be compiled with the AVX-512 flags (see the Makefile)"
#endif

#include <immintrin.h>
#include <string.h>

/* 32 consecutive values: elements 16k..16k+15 in v[k]. */
typedef struct grp {
    __m512 v[2];
} grp;

static inline __m512i load_u8x16(const uint8_t *p)
{
    return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p));
}

static inline __m512i load_i8x16(const int8_t *p)
{
    return _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p));
}

static inline __m512i shr(__m512i v, int n)
{
    return _mm512_srl_epi32(v, _mm_cvtsi32_si128(n));
}

static inline __m512i bits(__m512i v, int shift, int mask)
{
    return _mm512_and_si512(shr(v, shift), _mm512_set1_epi32(mask));
}

static inline __m512 scale(__m512i q, float d)
{
    return _mm512_mul_ps(_mm512_cvtepi32_ps(q), _mm512_set1_ps(d));
}

static inline __m512 scale_min(__m512i q, float d, float m)
{
    return _mm512_sub_ps(scale(q, d), _mm512_set1_ps(m));
}

static uint32_t load_u32le(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void iq4_levels(const uint8_t *qs, __m128i *lo, __m128i *hi)
{
    const __m128i table = _mm_loadu_si128((const __m128i *)llm_iq4nl_values);
    const __m128i m4 = _mm_set1_epi8(0xF);
    __m128i q = _mm_loadu_si128((const __m128i *)qs);
    *lo = _mm_shuffle_epi8(table, _mm_and_si128(q, m4));
    *hi = _mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(q, 4), m4));
}

/* ---- group decoders ------------------------------------------------------ */

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
    const __m512i eight = _mm512_set1_epi32(8);
    __m512i a = load_u8x16(b->qs);
    grp r;
    r.v[0] = scale(_mm512_sub_epi32(bits(a, 0, 0xF), eight), s->d[0]);
    r.v[1] = scale(_mm512_sub_epi32(shr(a, 4), eight), s->d[0]);
    return r;
}

static inline void prep_q4_1(const llm_block_q4_1 *b, llm_scales *s)
{
    prep_dm(b->d, b->m, s);
}

static inline grp grp_q4_1(const llm_block_q4_1 *b, const llm_scales *s, int g)
{
    (void)g;
    __m512i a = load_u8x16(b->qs);
    __m512 m = _mm512_set1_ps(s->m[0]);
    grp r;
    r.v[0] = _mm512_add_ps(scale(bits(a, 0, 0xF), s->d[0]), m);
    r.v[1] = _mm512_add_ps(scale(shr(a, 4), s->d[0]), m);
    return r;
}

/* Fifth bits of elements 16k..16k+15, moved to bit 4. */
static inline __m512i q5_high(uint32_t qh, int k)
{
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512i sh = _mm512_add_epi32(lane, _mm512_set1_epi32(16 * k));
    __m512i b =
        _mm512_and_si512(_mm512_srlv_epi32(_mm512_set1_epi32((int)qh), sh), _mm512_set1_epi32(1));
    return _mm512_slli_epi32(b, 4);
}

static inline void q5_quants(const uint8_t *qs, const uint8_t *qhp, __m512i q[2])
{
    uint32_t qh = load_u32le(qhp);
    __m512i a = load_u8x16(qs);
    q[0] = _mm512_or_si512(bits(a, 0, 0xF), q5_high(qh, 0));
    q[1] = _mm512_or_si512(shr(a, 4), q5_high(qh, 1));
}

static inline void prep_q5_0(const llm_block_q5_0 *b, llm_scales *s)
{
    prep_d(b->d, s);
}

static inline grp grp_q5_0(const llm_block_q5_0 *b, const llm_scales *s, int g)
{
    (void)g;
    const __m512i sixteen = _mm512_set1_epi32(16);
    __m512i q[2];
    q5_quants(b->qs, b->qh, q);
    grp r;
    r.v[0] = scale(_mm512_sub_epi32(q[0], sixteen), s->d[0]);
    r.v[1] = scale(_mm512_sub_epi32(q[1], sixteen), s->d[0]);
    return r;
}

static inline void prep_q5_1(const llm_block_q5_1 *b, llm_scales *s)
{
    prep_dm(b->d, b->m, s);
}

static inline grp grp_q5_1(const llm_block_q5_1 *b, const llm_scales *s, int g)
{
    (void)g;
    __m512i q[2];
    q5_quants(b->qs, b->qh, q);
    __m512 m = _mm512_set1_ps(s->m[0]);
    grp r;
    r.v[0] = _mm512_add_ps(scale(q[0], s->d[0]), m);
    r.v[1] = _mm512_add_ps(scale(q[1], s->d[0]), m);
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
    r.v[0] = scale(load_i8x16(b->qs), s->d[0]);
    r.v[1] = scale(load_i8x16(b->qs + 16), s->d[0]);
    return r;
}

static inline void prep_iq4_nl(const llm_block_iq4_nl *b, llm_scales *s)
{
    prep_d(b->d, s);
}

static inline grp grp_iq4_nl(const llm_block_iq4_nl *b, const llm_scales *s, int g)
{
    (void)g;
    __m128i lo, hi;
    iq4_levels(b->qs, &lo, &hi);
    grp r;
    r.v[0] = scale(_mm512_cvtepi8_epi32(lo), s->d[0]);
    r.v[1] = scale(_mm512_cvtepi8_epi32(hi), s->d[0]);
    return r;
}

static inline grp grp_q2_K(const llm_block_q2_K *b, const llm_scales *s, int g)
{
    const uint8_t *q = b->qs + 32 * (g / 4);
    int shift = 2 * (g % 4);
    grp r;
    for (int k = 0; k < 2; k++)
        r.v[k] =
            scale_min(bits(load_u8x16(q + 16 * k), shift, 3), s->d[2 * g + k], s->m[2 * g + k]);
    return r;
}

static inline grp grp_q3_K(const llm_block_q3_K *b, const llm_scales *s, int g)
{
    const uint8_t *q = b->qs + 32 * (g / 4);
    int shift = 2 * (g % 4);
    const __m512i four = _mm512_set1_epi32(4);
    grp r;
    for (int k = 0; k < 2; k++) {
        __m512i lo = bits(load_u8x16(q + 16 * k), shift, 3);
        __m512i hb = _mm512_slli_epi32(bits(load_u8x16(b->hmask + 16 * k), g, 1), 2);
        r.v[k] = scale(_mm512_sub_epi32(_mm512_add_epi32(lo, hb), four), s->d[2 * g + k]);
    }
    return r;
}

static inline grp grp_q4_K(const llm_block_q4_K *b, const llm_scales *s, int g)
{
    const uint8_t *q = b->qs + 32 * (g / 2);
    int shift = 4 * (g % 2);
    grp r;
    for (int k = 0; k < 2; k++)
        r.v[k] = scale_min(bits(load_u8x16(q + 16 * k), shift, 0xF), s->d[g], s->m[g]);
    return r;
}

static inline grp grp_q5_K(const llm_block_q5_K *b, const llm_scales *s, int g)
{
    const uint8_t *q = b->qs + 32 * (g / 2);
    int shift = 4 * (g % 2);
    grp r;
    for (int k = 0; k < 2; k++) {
        __m512i lo = bits(load_u8x16(q + 16 * k), shift, 0xF);
        __m512i hb = _mm512_slli_epi32(bits(load_u8x16(b->qh + 16 * k), g, 1), 4);
        r.v[k] = scale_min(_mm512_or_si512(lo, hb), s->d[g], s->m[g]);
    }
    return r;
}

static inline grp grp_q6_K(const llm_block_q6_K *b, const llm_scales *s, int g)
{
    int h = g / 4, quarter = g % 4;
    const uint8_t *ql = b->ql + 64 * h + 32 * (quarter % 2);
    const uint8_t *qh = b->qh + 32 * h;
    const __m512i bias = _mm512_set1_epi32(32);
    grp r;
    for (int k = 0; k < 2; k++) {
        __m512i lo = bits(load_u8x16(ql + 16 * k), 4 * (quarter / 2), 0xF);
        __m512i hi = _mm512_slli_epi32(bits(load_u8x16(qh + 16 * k), 2 * quarter, 3), 4);
        r.v[k] = scale(_mm512_sub_epi32(_mm512_or_si512(lo, hi), bias), s->d[2 * g + k]);
    }
    return r;
}

static inline grp grp_iq4_xs(const llm_block_iq4_xs *b, const llm_scales *s, int g)
{
    __m128i lo, hi;
    iq4_levels(b->qs + 16 * g, &lo, &hi);
    grp r;
    r.v[0] = scale(_mm512_cvtepi8_epi32(lo), s->d[g]);
    r.v[1] = scale(_mm512_cvtepi8_epi32(hi), s->d[g]);
    return r;
}

#define ALWAYS_INLINE inline __attribute__((always_inline))
/* Activation rows a rows kernel takes in one pass over the weight row: four
 * accumulators each, 16 of the 32 vector registers. */
#define ROWS_AT_ONCE 4
/* How far ahead of a row's pass the integer kernels prefetch its weights:
 * about what one core streams while a load comes back from memory (23 GB/s
 * per core here, some 130 ns). Decoding Qwen2.5-0.5B's Q8_0 layers on
 * 2 cores (AMD EPYC): 38 GB/s at 2048 bytes, 42 at 3072 and 4096. */
#define LLM_Q8_PREFETCH 3072

/* The single kernel and the rows kernel of a type, from its dotm_<name>. */
#define ROWS_ENTRY_POINTS(name)                                                                    \
    static float dot_##name(const void *row, const float *x, int64_t n)                            \
    {                                                                                              \
        float r;                                                                                   \
        dotm_##name(row, x, 0, &r, 0, n, 1);                                                       \
        return r;                                                                                  \
    }                                                                                              \
    static void dot_rows_##name(const void *row, const float *x, int64_t ldx, int nx, float *out,  \
                                int64_t ldo, int64_t n)                                            \
    {                                                                                              \
        for (; nx >= 4; nx -= 4, x += 4 * ldx, out += 4 * ldo)                                     \
            dotm_##name(row, x, ldx, out, ldo, n, 4);                                              \
        if (nx == 3) dotm_##name(row, x, ldx, out, ldo, n, 3);                                     \
        if (nx == 2) dotm_##name(row, x, ldx, out, ldo, n, 2);                                     \
        if (nx == 1) dotm_##name(row, x, ldx, out, ldo, n, 1);                                     \
    }

/* ---- the kernels of each block type ---------------------------------------
 * The dot keeps two accumulators per vector position, alternating between
 * even and odd groups, to hide the FMA latency. A single-group block type
 * alternates between blocks instead. */
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
                _mm512_storeu_ps(y, r.v[0]);                                                       \
                _mm512_storeu_ps(y + 16, r.v[1]);                                                  \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    /* m activation rows at once (m a constant after inlining): each row's                         \
     * four accumulators see exactly the operations they see with m = 1 */                         \
    static ALWAYS_INLINE void dotm_##name(const void *row, const float *x, int64_t ldx,            \
                                          float *out, int64_t ldo, int64_t n, const int m)         \
    {                                                                                              \
        const block_t *b = row;                                                                    \
        __m512 a[ROWS_AT_ONCE][4];                                                                 \
        _Pragma("GCC unroll 4") for (int j = 0; j < m; j++) a[j][0] = a[j][1] = a[j][2] =          \
            a[j][3] = _mm512_setzero_ps();                                                         \
        for (int64_t i = 0; i < n / (32 * (n_groups)); i++, b++) {                                 \
            /* the rows stream from memory: ask for the lines 3 KB ahead */                        \
            for (size_t l = 0; l < sizeof(block_t); l += 64)                                       \
                _mm_prefetch((const char *)b + LLM_Q8_PREFETCH + l, _MM_HINT_T0);                  \
            llm_scales s;                                                                          \
            prep(b, &s);                                                                           \
            _Pragma("GCC unroll 8") for (int g = 0; g < (n_groups); g++, x += 32)                  \
            {                                                                                      \
                grp r = grp_##name(b, &s, g);                                                      \
                _Pragma("GCC unroll 4") for (int j = 0; j < m; j++)                                \
                {                                                                                  \
                    a[j][0] = _mm512_fmadd_ps(r.v[0], _mm512_loadu_ps(x + j * ldx), a[j][0]);      \
                    a[j][1] = _mm512_fmadd_ps(r.v[1], _mm512_loadu_ps(x + j * ldx + 16), a[j][1]); \
                    __m512 t = a[j][0];                                                            \
                    a[j][0] = a[j][2], a[j][2] = t, t = a[j][1], a[j][1] = a[j][3], a[j][3] = t;   \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        _Pragma("GCC unroll 4") for (int j = 0; j < m; j++) out[j * ldo] = _mm512_reduce_add_ps(   \
            _mm512_add_ps(_mm512_add_ps(a[j][0], a[j][1]), _mm512_add_ps(a[j][2], a[j][3])));      \
    }                                                                                              \
    ROWS_ENTRY_POINTS(name)

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

/* ---- plain types ----------------------------------------------------------
 * load16 reads the elements of mask m only (the others are zero), so the last
 * partial vector of a row needs no scalar tail. */

static inline __m512 load16_f32(const float *p, __mmask16 m)
{
    return _mm512_maskz_loadu_ps(m, p);
}

static inline __m512 load16_f16(const uint16_t *p, __mmask16 m)
{
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

static inline __m512 load16_bf16(const uint16_t *p, __mmask16 m)
{
    __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}

#define PLAIN_KERNELS(name, elem_t)                                                                \
    static void dequant_##name(const void *row, float *y, int64_t n)                               \
    {                                                                                              \
        const elem_t *p = row;                                                                     \
        int64_t i = 0;                                                                             \
        for (; i + 16 <= n; i += 16)                                                               \
            _mm512_storeu_ps(y + i, load16_##name(p + i, 0xFFFF));                                 \
        if (i < n) {                                                                               \
            __mmask16 m = (__mmask16)((1u << (n - i)) - 1);                                        \
            _mm512_mask_storeu_ps(y + i, m, load16_##name(p + i, m));                              \
        }                                                                                          \
    }                                                                                              \
    /* m activation rows at once, as for the block types */                                        \
    static ALWAYS_INLINE void dotm_##name(const void *row, const float *x, int64_t ldx,            \
                                          float *out, int64_t ldo, int64_t n, const int m)         \
    {                                                                                              \
        const elem_t *p = row;                                                                     \
        __m512 a[ROWS_AT_ONCE][4];                                                                 \
        _Pragma("GCC unroll 4") for (int j = 0; j < m; j++) a[j][0] = a[j][1] = a[j][2] =          \
            a[j][3] = _mm512_setzero_ps();                                                         \
        int64_t i = 0;                                                                             \
        for (; i + 64 <= n; i += 64) {                                                             \
            _Pragma("GCC unroll 4") for (int k = 0; k < 4; k++)                                    \
            {                                                                                      \
                __m512 w = load16_##name(p + i + 16 * k, 0xFFFF);                                  \
                _Pragma("GCC unroll 4") for (int j = 0; j < m; j++) a[j][k] =                      \
                    _mm512_fmadd_ps(w, _mm512_loadu_ps(x + j * ldx + i + 16 * k), a[j][k]);        \
            }                                                                                      \
        }                                                                                          \
        for (; i + 16 <= n; i += 16) {                                                             \
            __m512 w = load16_##name(p + i, 0xFFFF);                                               \
            _Pragma("GCC unroll 4") for (int j = 0; j < m; j++) a[j][0] =                          \
                _mm512_fmadd_ps(w, _mm512_loadu_ps(x + j * ldx + i), a[j][0]);                     \
        }                                                                                          \
        if (i < n) {                                                                               \
            __mmask16 mk = (__mmask16)((1u << (n - i)) - 1);                                       \
            __m512 w = load16_##name(p + i, mk);                                                   \
            _Pragma("GCC unroll 4") for (int j = 0; j < m; j++) a[j][1] =                          \
                _mm512_fmadd_ps(w, _mm512_maskz_loadu_ps(mk, x + j * ldx + i), a[j][1]);           \
        }                                                                                          \
        _Pragma("GCC unroll 4") for (int j = 0; j < m; j++) out[j * ldo] = _mm512_reduce_add_ps(   \
            _mm512_add_ps(_mm512_add_ps(a[j][0], a[j][1]), _mm512_add_ps(a[j][2], a[j][3])));      \
    }                                                                                              \
    ROWS_ENTRY_POINTS(name)

PLAIN_KERNELS(f32, float)
PLAIN_KERNELS(f16, uint16_t)
PLAIN_KERNELS(bf16, uint16_t)

/* The tile kernel of a VNNI type, from its dotwm_q8_<name>: with one
 * activation row, the weight rows one after another as one stream (see
 * LLM_Q8_TILE); with more, two weight rows at a time, so that each laid-out
 * activation pair is loaded once for both: a row of 4864 values against 4
 * activation rows reads 58 KB of them, more than the L1 cache holds, and
 * the down projection of 4 sequences decoded together took 2.3 times as long
 * as one sequence's for the same weights. */
#define Q8_TILE_VNNI(name)                                                                         \
    VNNI static void dot_q8_tile_##name(const void *rows, size_t rb, int nw, const void *xa,       \
                                        size_t ldxa, int nx, float *out, int64_t ldo, int64_t n)   \
    {                                                                                              \
        const uint8_t *w = rows;                                                                   \
        int i = 0;                                                                                 \
        if (nx == 1) {                                                                             \
            for (; i < nw; i++, w += rb)                                                           \
                dotwm_q8_##name(w, 0, xa, 0, out + i, 0, n, 1, 1);                                 \
            return;                                                                                \
        }                                                                                          \
        for (; i + 2 <= nw; i += 2, w += 2 * rb) {                                                 \
            const uint8_t *xb = xa;                                                                \
            float *o = out + i;                                                                    \
            int left = nx;                                                                         \
            for (; left >= 4; left -= 4, xb += 4 * ldxa, o += 4 * ldo)                             \
                dotwm_q8_##name(w, rb, xb, ldxa, o, ldo, n, 4, 2);                                 \
            if (left == 3) dotwm_q8_##name(w, rb, xb, ldxa, o, ldo, n, 3, 2);                      \
            if (left == 2) dotwm_q8_##name(w, rb, xb, ldxa, o, ldo, n, 2, 2);                      \
            if (left == 1) dotwm_q8_##name(w, rb, xb, ldxa, o, ldo, n, 1, 2);                      \
        }                                                                                          \
        if (i < nw) dot_q8_rows_##name(w, xa, ldxa, nx, out + i, ldo, n);                          \
    }

/* ---- against Q8_0 activations, with VNNI (llm_dot_row_q8) -------------------
 * Two blocks per 512-bit vector. vpdpbusd multiplies unsigned weight bytes
 * by signed activation bytes and adds groups of four into 32-bit lanes,
 * without the 16-bit saturation of maddubs, so the weights are taken
 * unsigned with an offset c (q4_0: nibble = w + 8; q5_0: w + 16; q8_0: the
 * byte's bits read unsigned, w + 128) and the offset is taken back out
 * with the activations' own sums: w.x = u.x - c * sum(x). Lanes 0-7 belong
 * to the first block, 8-15 to the second. */
#define VNNI __attribute__((target("avx512vnni,avx512bw,avx512f,avx512dq")))

VNNI static inline __m512i pair_of(const void *a, const void *b)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)a)),
                              _mm256_loadu_si256((const __m256i *)b), 1);
}

/* The 32 nibbles of each of two blocks, in element order, as bytes 0..15. */
VNNI static inline __m512i nibble_pair(const uint8_t *qa, const uint8_t *qb)
{
    /* [qa, qa, qb, qb] by 128-bit quarters, the odd quarters shifted right
     * by 4 bits: then each byte's low nibble is the value */
    __m512i q = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)qa));
    q = _mm512_mask_broadcast_i32x4(q, 0xFF00, _mm_loadu_si128((const __m128i *)qb));
    const long long four = 0x0004000400040004LL;
    const __m512i shifts = _mm512_set_epi64(four, four, 0, 0, four, four, 0, 0);
    return _mm512_and_si512(_mm512_srlv_epi16(q, shifts), _mm512_set1_epi8(0x0F));
}

VNNI static inline __m512i u_q4_0(const llm_block_q4_0 *b)
{
    return nibble_pair(b[0].qs, b[1].qs);
}

VNNI static inline __m512i u_q5_0(const llm_block_q5_0 *b)
{
    uint32_t ha, hb;
    memcpy(&ha, b[0].qh, 4);
    memcpy(&hb, b[1].qh, 4);
    __mmask64 fifth = (__mmask64)ha | (__mmask64)hb << 32;
    __m512i nib = nibble_pair(b[0].qs, b[1].qs);
    return _mm512_mask_add_epi8(nib, fifth, nib, _mm512_set1_epi8(0x10));
}

VNNI static inline __m512i u_q8_0(const llm_block_q8_0 *b)
{
    return _mm512_xor_si512(pair_of(b[0].qs, b[1].qs), _mm512_set1_epi8((char)0x80));
}

/* The IQ4 levels of the nibbles in nib (bytes 0..15), plus 128: unsigned,
 * taken back out with the offset c = 128 as for Q8_0. */
VNNI static inline __m512i iq4_levels_u(__m512i nib)
{
    __m128i table = _mm_xor_si128(_mm_loadu_si128((const __m128i *)llm_iq4nl_values),
                                  _mm_set1_epi8((char)0x80));
    return _mm512_shuffle_epi8(_mm512_broadcast_i32x4(table), nib);
}

VNNI static inline __m512i u_iq4_nl(const llm_block_iq4_nl *b)
{
    return iq4_levels_u(nibble_pair(b[0].qs, b[1].qs));
}

/* The two blocks' scales, 8 lanes each. */
VNNI static inline __m512 pair_scales(uint16_t d0, uint16_t d1)
{
    __m128 f = _mm_cvtph_ps(_mm_cvtsi32_si128((int)(d0 | (uint32_t)d1 << 16)));
    return _mm512_permutexvar_ps(_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
                                 _mm512_castps128_ps512(f));
}

/* Activations laid out for the kernels, per pair of Q8_0 blocks (an odd
 * last block pairs with a zero block): what would otherwise be computed
 * from the activations again for every weight row, computed once. For
 * lane l of a pair, with u.x the dot of the offset weights and the
 * activations in the lane, the lane's share of w.x is
 *   dw * (dx * u.x - dx * c * sum(x)),
 * the inner part one fused multiply-subtract from dx and dxc. */
typedef struct vnni_pair {
    int8_t qs[64]; /* the two blocks' values */
    float dxc[16]; /* dx * c * (sum of the lane's 4 values): the offset, taken back out */
    float dx[16];  /* the blocks' scales, 8 lanes each */
} vnni_pair;

static size_t vnni_bytes(int64_t n)
{
    return (size_t)((n / LLM_QK + 1) / 2) * sizeof(vnni_pair);
}

/* The pair of blocks x[0], and x[1] when two, for weights offset by c. */
static void vnni_prepare_pair(const llm_block_q8_0 *x, int two, int c, vnni_pair *p)
{
    memset(p, 0, sizeof *p);
    for (int h = 0; h < 1 + two; h++) {
        memcpy(p->qs + 32 * h, x[h].qs, 32);
        float d = llm_half(x[h].d);
        for (int l = 0; l < 8; l++) {
            const int8_t *q = x[h].qs + 4 * l;
            p->dx[8 * h + l] = d;
            p->dxc[8 * h + l] = d * (float)(c * (q[0] + q[1] + q[2] + q[3]));
        }
    }
}

static void vnni_prepare(const void *xq, int64_t n, void *xa, int c)
{
    const llm_block_q8_0 *x = xq;
    vnni_pair *p = xa;
    int64_t nb = n / LLM_QK;
    for (int64_t i = 0; i < nb; i += 2)
        vnni_prepare_pair(x + i, i + 1 < nb, c, p++);
}

/* The single kernel on plain Q8_0 blocks, the layout of the activations for
 * the rows kernel, and the rows kernel. The single kernel lays out each
 * pair as it goes and then computes as the rows kernel does, so the two
 * agree bit for bit. The last block of an odd count goes through a pair
 * padded with a zero block, which adds nothing. */
#define DOT_Q8_VNNI(name, block_t, offset)                                                         \
    static void prepare_##name(const void *xq, int64_t n, void *xa)                                \
    {                                                                                              \
        vnni_prepare(xq, n, xa, offset);                                                           \
    }                                                                                              \
    static const llm_q8_layout layout_##name = {vnni_bytes, prepare_##name};                       \
    /* one pair of blocks of weights (u, dw) against one pair of laid-out activations */           \
    VNNI static inline __m512 pair_fma_##name(__m512i u, __m512 dw, const vnni_pair *xp,           \
                                              __m512 acc)                                          \
    {                                                                                              \
        __m512i ux = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, _mm512_loadu_si512(xp->qs));   \
        __m512 t = _mm512_fmsub_ps(_mm512_loadu_ps(xp->dx), _mm512_cvtepi32_ps(ux),                \
                                   _mm512_loadu_ps(xp->dxc));                                      \
        return _mm512_fmadd_ps(dw, t, acc);                                                        \
    }                                                                                              \
    VNNI static inline __m512 pair_dw_##name(const block_t *b)                                     \
    {                                                                                              \
        return pair_scales(b[0].d, b[1].d);                                                        \
    }                                                                                              \
    /* w weight rows (rb bytes apart) against m activation rows at once (w                         \
     * and m constants after inlining), each pair of weight blocks decoded                         \
     * once and each pair of activations loaded once for the w rows; every                         \
     * (row, activation) sees the single kernel's operations, so gets its                          \
     * value bit for bit: out[j * ldo + r] */                                                      \
    VNNI static ALWAYS_INLINE void dotwm_q8_##name(const void *row, size_t rb, const void *xa,     \
                                                   size_t ldxa, float *out, int64_t ldo,           \
                                                   int64_t n, const int m, const int w)            \
    {                                                                                              \
        const block_t *b[2] = {row, (const block_t *)((const uint8_t *)row + rb)};                 \
        const vnni_pair *x[ROWS_AT_ONCE];                                                          \
        __m512 acc[2][ROWS_AT_ONCE];                                                               \
        _Pragma("GCC unroll 4") for (int j = 0; j < m; j++)                                        \
        {                                                                                          \
            x[j] = (const vnni_pair *)((const uint8_t *)xa + (size_t)j * ldxa);                    \
            acc[0][j] = acc[1][j] = _mm512_setzero_ps();                                           \
        }                                                                                          \
        int64_t nb = n / LLM_QK, i = nb / 2 * 2;                                                   \
        /* pointers that step, not indices (i / 2 cost the loop a third                            \
         * of its instructions) */                                                                 \
        const block_t *bi[2] = {b[0], b[1]};                                                       \
        for (int64_t p = 0; p < nb / 2; p++) {                                                     \
            _Pragma("GCC unroll 2") for (int r = 0; r < w; r++)                                    \
            {                                                                                      \
                _mm_prefetch((const char *)bi[r] + LLM_Q8_PREFETCH, _MM_HINT_T0);                  \
                __m512i u = u_##name(bi[r]);                                                       \
                __m512 dw = pair_dw_##name(bi[r]);                                                 \
                _Pragma("GCC unroll 4") for (int j = 0; j < m; j++) acc[r][j] =                    \
                    pair_fma_##name(u, dw, &x[j][p], acc[r][j]);                                   \
                bi[r] += 2;                                                                        \
            }                                                                                      \
        }                                                                                          \
        _Pragma("GCC unroll 2") for (int r = 0; r < w; r++)                                        \
        {                                                                                          \
            __m512i u = _mm512_setzero_si512();                                                    \
            __m512 dw = _mm512_setzero_ps();                                                       \
            if (i < nb) {                                                                          \
                block_t pad[2];                                                                    \
                memset(pad, 0, sizeof pad);                                                        \
                pad[0] = b[r][i];                                                                  \
                u = u_##name(pad);                                                                 \
                dw = pair_dw_##name(pad);                                                          \
            }                                                                                      \
            _Pragma("GCC unroll 4") for (int j = 0; j < m; j++)                                    \
            {                                                                                      \
                float sum = _mm512_reduce_add_ps(acc[r][j]);                                       \
                if (i < nb)                                                                        \
                    sum += _mm512_reduce_add_ps(                                                   \
                        pair_fma_##name(u, dw, &x[j][i / 2], _mm512_setzero_ps()));                \
                out[j * ldo + r] = sum;                                                            \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    VNNI static ALWAYS_INLINE void dotm_q8_##name(const void *row, const void *xa, size_t ldxa,    \
                                                  float *out, int64_t ldo, int64_t n, const int m) \
    {                                                                                              \
        dotwm_q8_##name(row, 0, xa, ldxa, out, ldo, n, m, 1);                                      \
    }                                                                                              \
    VNNI static float dot_q8_##name(const void *row, const void *xq, int64_t n)                    \
    {                                                                                              \
        const block_t *b = row;                                                                    \
        const llm_block_q8_0 *x = xq;                                                              \
        __m512 acc = _mm512_setzero_ps();                                                          \
        int64_t nb = n / LLM_QK, i = 0;                                                            \
        vnni_pair xp;                                                                              \
        for (; i + 2 <= nb; i += 2) {                                                              \
            vnni_prepare_pair(x + i, 1, offset, &xp);                                              \
            acc = pair_fma_##name(u_##name(&b[i]), pair_dw_##name(&b[i]), &xp, acc);               \
        }                                                                                          \
        float sum = _mm512_reduce_add_ps(acc);                                                     \
        if (i < nb) {                                                                              \
            block_t pad[2];                                                                        \
            memset(pad, 0, sizeof pad);                                                            \
            pad[0] = b[i];                                                                         \
            vnni_prepare_pair(x + i, 0, offset, &xp);                                              \
            sum += _mm512_reduce_add_ps(                                                           \
                pair_fma_##name(u_##name(pad), pair_dw_##name(pad), &xp, _mm512_setzero_ps()));    \
        }                                                                                          \
        return sum;                                                                                \
    }                                                                                              \
    LLM_Q8_ROWS_BY_4(VNNI, name)                                                                   \
    Q8_TILE_VNNI(name)

DOT_Q8_VNNI(q4_0, llm_block_q4_0, 8)
DOT_Q8_VNNI(q5_0, llm_block_q5_0, 16)
DOT_Q8_VNNI(q8_0, llm_block_q8_0, 128)
DOT_Q8_VNNI(iq4_nl, llm_block_iq4_nl, 128)

/* ---- K-quants against laid-out Q8_0 activations, with VNNI ------------------
 * A super-block of 256 values is four pairs of Q8_0 blocks, and a pair of
 * its 32-value sub-blocks is one 64-byte vector of unsigned values, in
 * element order, as for the simple types.
 *
 * Q6_K: w = d * sc * (q - 32), q six bits, one int8 scale per 16 values
 * (4 lanes): the offset 32 comes out as for Q5_0 (dxc with c = 32), and
 * each lane's scale d * sc comes from a permutation of the block's 16.
 *
 * Q4_K: w = d * sc * q - dmin * m, q four bits, a six-bit scale and min per
 * 32 values: the q part as above (no offset), the min part, dmin * m times
 * the sum of the sub-block's activations, once per super-block as an
 * 8-wide product with those sums, which the layout adds after the pairs
 * (S: dx times the sum of the block's 32 values). Q5_K: the same with a
 * fifth bit.
 *
 * Q3_K: as Q6_K, with three bits and the offset 4. Q2_K: as Q4_K, with two
 * bits, a scale and min per 16 values, and sums of 16 activations.
 *
 * IQ4_XS: 8 sub-blocks of 32, each an IQ4_NL block scaled by d * (ls - 32):
 * the levels plus 128 as for IQ4_NL, the scales per sub-block as Q4_K's. */
static size_t vnni_k_bytes(int64_t n)
{
    return vnni_bytes(n) + (size_t)(n / LLM_QK) * sizeof(float);
}

static size_t vnni_k16_bytes(int64_t n)
{
    return vnni_bytes(n) + (size_t)(n / 16) * sizeof(float);
}

/* dx times the sum of values from..from + len - 1 of block x */
static float part_sum(const llm_block_q8_0 *x, int from, int len)
{
    int sum = 0;
    for (int k = from; k < from + len; k++)
        sum += x->qs[k];
    return llm_half(x->d) * (float)sum;
}

/* Sum k of a super-block's 8 blocks x, with `sums` of them (8: one per
 * block, 16: one per 16 values). */
static float sb_sum(const llm_block_q8_0 *x, int sums, int k)
{
    return sums == 8 ? part_sum(x + k, 0, LLM_QK) : part_sum(x + k / 2, 16 * (k % 2), 16);
}

static void prepare_q4_K(const void *xq, int64_t n, void *xa)
{
    vnni_prepare(xq, n, xa, 1);
    float *S = (float *)((uint8_t *)xa + vnni_bytes(n));
    for (int64_t i = 0; i < n / LLM_QK; i++)
        S[i] = part_sum((const llm_block_q8_0 *)xq + i, 0, LLM_QK);
}

static void prepare_q2_K(const void *xq, int64_t n, void *xa)
{
    vnni_prepare(xq, n, xa, 0);
    float *S = (float *)((uint8_t *)xa + vnni_bytes(n));
    for (int64_t i = 0; i < n / 16; i++)
        S[i] = part_sum((const llm_block_q8_0 *)xq + i / 2, 16 * (int)(i % 2), 16);
}

static void prepare_q6_K(const void *xq, int64_t n, void *xa)
{
    vnni_prepare(xq, n, xa, 32);
}

static void prepare_q3_K(const void *xq, int64_t n, void *xa)
{
    vnni_prepare(xq, n, xa, 4);
}

static const llm_q8_layout layout_q4_K = {vnni_k_bytes, prepare_q4_K}; /* Q5_K's too */
static const llm_q8_layout layout_q2_K = {vnni_k16_bytes, prepare_q2_K};
static const llm_q8_layout layout_q6_K = {vnni_bytes, prepare_q6_K};
static const llm_q8_layout layout_q3_K = {vnni_bytes, prepare_q3_K};

/* The scales of sub-blocks 2p and 2p + 1 (elements of v) for their lanes of a pair: 0-7 and 8-15.
 */
VNNI static inline __m512 sub_block_scales(__m512 v, int p)
{
    __m512i idx = _mm512_add_epi32(_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
                                   _mm512_set1_epi32(2 * p));
    return _mm512_permutexvar_ps(idx, v);
}

/* One super-block of Q4_K (qh NULL) or Q5_K (qh its fifth bits) against the
 * matching 4 pairs (xp[j]) and 8 block sums (S[j]) of m activation rows. */
VNNI static ALWAYS_INLINE void sb_k45(uint16_t d, uint16_t dmin, const uint8_t *scales,
                                      const uint8_t *qs, const uint8_t *qh,
                                      const vnni_pair *const *xp, const float *const *S,
                                      __m512 *acc, __m512 *accm, const int m)
{
    /* the eight 6-bit scales and mins (llm_k4_scale_min) as bytes: scales
     * in words 0-1, mins in words 2-3, with whole-word masks */
    uint32_t w[4];
    memcpy(w, scales, 12);
    const uint32_t low6 = 0x3f3f3f3f, low4 = 0x0f0f0f0f, top2 = 0x03030303;
    w[3] = ((w[2] >> 4) & low4) | (((w[1] >> 6) & top2) << 4);
    uint32_t m_low = w[1] & low6;
    w[1] = (w[2] & low4) | (((w[0] >> 6) & top2) << 4);
    w[2] = m_low;
    w[0] &= low6;
    __m128i bytes = _mm_loadu_si128((const __m128i *)w);
    __m256 sd8 =
        _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes)), _mm256_set1_ps(llm_half(d)));
    __m256 mins = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(bytes, 8))),
                                _mm256_set1_ps(llm_half(dmin)));
    __m512 sd = _mm512_castps256_ps512(sd8);
    const long long four = 0x0004000400040004LL;
    const __m512i shifts = _mm512_set_epi64(four, four, four, four, 0, 0, 0, 0);
    __m512i high = qh ? _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)qh))
                      : _mm512_setzero_si512();
    /* the four pairs' terms summed as a tree before they meet the
     * accumulator: one dependent add per super-block instead of four
     * multiply-adds in a chain, which bounded the loop */
    __m512 part[ROWS_AT_ONCE][2];
    _Pragma("GCC unroll 4") for (int p = 0; p < 4; p++)
    {
        __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * p));
        __m512i u = _mm512_and_si512(_mm512_srlv_epi16(_mm512_broadcast_i64x4(q), shifts),
                                     _mm512_set1_epi8(0x0F));
        if (qh) { /* the fifth bit of value l of sub-block 2p + h: bit 2p + h of qh[l] */
            long long s0 = 0x0001000100010001LL * (2 * p), s1 = 0x0001000100010001LL * (2 * p + 1);
            __m512i bit = _mm512_and_si512(
                _mm512_srlv_epi16(high, _mm512_set_epi64(s1, s1, s1, s1, s0, s0, s0, s0)),
                _mm512_set1_epi8(1));
            u = _mm512_or_si512(u, _mm512_slli_epi16(bit, 4));
        }
        __m512 a = sub_block_scales(sd, p);
        _Pragma("GCC unroll 4") for (int j = 0; j < m; j++)
        {
            __m512i ux =
                _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, _mm512_loadu_si512(xp[j][p].qs));
            __m512 t = _mm512_mul_ps(_mm512_loadu_ps(xp[j][p].dx), _mm512_cvtepi32_ps(ux));
            /* pairs 0 and 2 start a part, 1 and 3 add to it */
            part[j][p / 2] = p % 2 ? _mm512_fmadd_ps(a, t, part[j][p / 2]) : _mm512_mul_ps(a, t);
        }
    }
    _Pragma("GCC unroll 4") for (int j = 0; j < m; j++) acc[j] =
        _mm512_add_ps(acc[j], _mm512_add_ps(part[j][0], part[j][1]));
    _Pragma("GCC unroll 4") for (int j = 0; j < m; j++) accm[j] = _mm512_fmadd_ps(
        _mm512_zextps256_ps512(mins), _mm512_zextps256_ps512(_mm256_loadu_ps(S[j])), accm[j]);
}

VNNI static ALWAYS_INLINE void sb_q4_K(const llm_block_q4_K *b, const vnni_pair *const *xp,
                                       const float *const *S, __m512 *acc, __m512 *accm,
                                       const int m)
{
    sb_k45(b->d, b->dmin, b->scales, b->qs, NULL, xp, S, acc, accm, m);
}

VNNI static ALWAYS_INLINE void sb_q5_K(const llm_block_q5_K *b, const vnni_pair *const *xp,
                                       const float *const *S, __m512 *acc, __m512 *accm,
                                       const int m)
{
    sb_k45(b->d, b->dmin, b->scales, b->qs, b->qh, xp, S, acc, accm, m);
}

/* One super-block of Q2_K against the matching 4 pairs and 16 sums of m
 * rows: w = d * sc * q - dmin * m per 16 values, q two bits arranged as
 * Q3_K's, the mins against the sums of 16 activations. */
VNNI static ALWAYS_INLINE void sb_q2_K(const llm_block_q2_K *b, const vnni_pair *const *xp,
                                       const float *const *S, __m512 *acc, __m512 *accm,
                                       const int m)
{
    __m512i bytes = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)b->scales));
    __m512 ds = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_and_si512(bytes, _mm512_set1_epi32(0xF))),
                              _mm512_set1_ps(llm_half(b->d)));
    __m512 mins = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(bytes, 4)),
                                _mm512_set1_ps(llm_half(b->dmin)));
    for (int h = 0; h < 2; h++) {
        __m512i qs = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b->qs + 32 * h)));
        for (int p = 0; p < 2; p++) {
            /* bytes 0-31: bits 4p.. of qs[32h + l]; bytes 32-63: bits 4p + 2.. */
            long long q0 = 0x0001000100010001LL * (4 * p), q1 = 0x0001000100010001LL * (4 * p + 2);
            __m512i u = _mm512_and_si512(
                _mm512_srlv_epi16(qs, _mm512_set_epi64(q1, q1, q1, q1, q0, q0, q0, q0)),
                _mm512_set1_epi8(3));
            /* lane k covers values 4k..4k+3 of the pair: scale 8h + 4p + k / 4 */
            __m512i idx =
                _mm512_add_epi32(_mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0),
                                 _mm512_set1_epi32(8 * h + 4 * p));
            __m512 a = _mm512_permutexvar_ps(idx, ds);
            _Pragma("GCC unroll 4") for (int j = 0; j < m; j++)
            {
                const vnni_pair *x = &xp[j][2 * h + p];
                __m512i ux =
                    _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, _mm512_loadu_si512(x->qs));
                acc[j] = _mm512_fmadd_ps(
                    a, _mm512_mul_ps(_mm512_loadu_ps(x->dx), _mm512_cvtepi32_ps(ux)), acc[j]);
            }
        }
    }
    _Pragma("GCC unroll 4") for (int j = 0; j < m; j++) accm[j] =
        _mm512_fmadd_ps(mins, _mm512_loadu_ps(S[j]), accm[j]);
}

/* Pair p of a super-block's weights (u: unsigned values, offset c; a: the
 * lanes' scales) against m rows of activations laid out with that offset:
 * acc[j] += a * (dx * u.x - dxc). */
VNNI static ALWAYS_INLINE void offset_pair_fma(__m512i u, __m512 a, const vnni_pair *const *xp,
                                               int p, __m512 *acc, const int m)
{
    _Pragma("GCC unroll 4") for (int j = 0; j < m; j++)
    {
        const vnni_pair *x = &xp[j][p];
        __m512i ux = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, _mm512_loadu_si512(x->qs));
        __m512 t = _mm512_fmsub_ps(_mm512_loadu_ps(x->dx), _mm512_cvtepi32_ps(ux),
                                   _mm512_loadu_ps(x->dxc));
        acc[j] = _mm512_fmadd_ps(a, t, acc[j]);
    }
}

/* One super-block of Q6_K against the matching 4 pairs of m rows. */
VNNI static ALWAYS_INLINE void sb_q6_K(const llm_block_q6_K *b, const vnni_pair *const *xp,
                                       __m512 *acc, const int m)
{
    __m512 ds = _mm512_mul_ps(
        _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)b->scales))),
        _mm512_set1_ps(llm_half(b->d)));
    for (int h = 0; h < 2; h++) {
        __m512i low = _mm512_loadu_si512(b->ql + 64 * h);
        __m512i high =
            _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b->qh + 32 * h)));
        for (int p = 0; p < 2; p++) {
            /* bytes 0-31: ql[l] and qh[l] >> 4p; bytes 32-63: ql[32 + l] and qh[l] >> (4p + 2) */
            long long lo_shift = 0x0001000100010001LL * (4 * p),
                      hi_shift = 0x0001000100010001LL * (4 * p + 2);
            __m512i nib = _mm512_and_si512(_mm512_srlv_epi16(low, _mm512_set1_epi64(lo_shift)),
                                           _mm512_set1_epi8(0x0F));
            __m512i two = _mm512_and_si512(
                _mm512_srlv_epi16(high, _mm512_set_epi64(hi_shift, hi_shift, hi_shift, hi_shift,
                                                         lo_shift, lo_shift, lo_shift, lo_shift)),
                _mm512_set1_epi8(3));
            __m512i u = _mm512_or_si512(nib, _mm512_slli_epi16(two, 4));
            /* lane k covers values 4k..4k+3 of the pair: scale 8h + 4p + k / 4 */
            __m512i idx =
                _mm512_add_epi32(_mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0),
                                 _mm512_set1_epi32(8 * h + 4 * p));
            __m512 a = _mm512_permutexvar_ps(idx, ds);
            offset_pair_fma(u, a, xp, 2 * h + p, acc, m);
        }
    }
}

/* The rows kernel (dotm_q8_<name>) and the single kernel of a super-block
 * type with mins, whose layout holds `sums` activation sums per super-block:
 * Q4_K and Q5_K (8), Q2_K (16). The single kernel, on plain Q8_0 blocks,
 * lays out each super-block's activations as it goes and then computes as
 * the rows kernel does, so the two agree bit for bit. */
#define K_MINS_VNNI(name, block_t, sums)                                                           \
    /* w weight rows (rb bytes apart) against m activation rows, as                                \
     * DOT_Q8_VNNI's: out[j * ldo + r] */                                                          \
    VNNI static ALWAYS_INLINE void dotwm_q8_##name(const void *row, size_t rb, const void *xa,     \
                                                   size_t ldxa, float *out, int64_t ldo,           \
                                                   int64_t n, const int m, const int w)            \
    {                                                                                              \
        const block_t *b[2] = {row, (const block_t *)((const uint8_t *)row + rb)};                 \
        const vnni_pair *x[ROWS_AT_ONCE];                                                          \
        const float *S[ROWS_AT_ONCE];                                                              \
        __m512 acc[2][ROWS_AT_ONCE];                                                               \
        __m512 accm[2][ROWS_AT_ONCE];                                                              \
        _Pragma("GCC unroll 4") for (int j = 0; j < m; j++)                                        \
        {                                                                                          \
            x[j] = (const vnni_pair *)((const uint8_t *)xa + (size_t)j * ldxa);                    \
            S[j] = (const float *)((const uint8_t *)x[j] + vnni_bytes(n));                         \
            acc[0][j] = acc[1][j] = accm[0][j] = accm[1][j] = _mm512_setzero_ps();                 \
        }                                                                                          \
        for (int64_t i = 0; i < n / LLM_QK_K; i++) {                                               \
            const vnni_pair *xp[ROWS_AT_ONCE];                                                     \
            const float *Sp[ROWS_AT_ONCE];                                                         \
            _Pragma("GCC unroll 4") for (int j = 0; j < m; j++) xp[j] = x[j] + 4 * i,              \
                                                                Sp[j] = S[j] + (sums)*i;           \
            _Pragma("GCC unroll 2") for (int r = 0; r < w; r++)                                    \
            {                                                                                      \
                for (size_t l = 0; l < sizeof(block_t); l += 64)                                   \
                    _mm_prefetch((const char *)(b[r] + i) + LLM_Q8_PREFETCH + l, _MM_HINT_T0);     \
                sb_##name(b[r] + i, xp, Sp, acc[r], accm[r], m);                                   \
            }                                                                                      \
        }                                                                                          \
        _Pragma("GCC unroll 2") for (int r = 0; r < w; r++)                                        \
            _Pragma("GCC unroll 4") for (int j = 0; j < m; j++) out[j * ldo + r] =                 \
                _mm512_reduce_add_ps(acc[r][j]) - _mm512_reduce_add_ps(accm[r][j]);                \
    }                                                                                              \
    VNNI static ALWAYS_INLINE void dotm_q8_##name(const void *row, const void *xa, size_t ldxa,    \
                                                  float *out, int64_t ldo, int64_t n, const int m) \
    {                                                                                              \
        dotwm_q8_##name(row, 0, xa, ldxa, out, ldo, n, m, 1);                                      \
    }                                                                                              \
    VNNI static float dot_q8_##name(const void *row, const void *xq, int64_t n)                    \
    {                                                                                              \
        const block_t *b = row;                                                                    \
        const llm_block_q8_0 *x = xq;                                                              \
        __m512 acc = _mm512_setzero_ps();                                                          \
        __m512 accm = _mm512_setzero_ps();                                                         \
        for (int64_t i = 0; i < n / LLM_QK_K; i++, b++, x += 8) {                                  \
            vnni_pair pairs[4];                                                                    \
            float S[sums];                                                                         \
            for (int p = 0; p < 4; p++)                                                            \
                vnni_prepare_pair(x + 2 * p, 1, 1, &pairs[p]);                                     \
            for (int k = 0; k < (sums); k++)                                                       \
                S[k] = sb_sum(x, sums, k);                                                         \
            const vnni_pair *xp = pairs;                                                           \
            const float *Sp = S;                                                                   \
            sb_##name(b, &xp, &Sp, &acc, &accm, 1);                                                \
        }                                                                                          \
        return _mm512_reduce_add_ps(acc) - _mm512_reduce_add_ps(accm);                             \
    }

K_MINS_VNNI(q2_K, llm_block_q2_K, 16)
K_MINS_VNNI(q4_K, llm_block_q4_K, 8)
K_MINS_VNNI(q5_K, llm_block_q5_K, 8)

/* One super-block of Q3_K against the matching 4 pairs of m rows, as
 * Q6_K's: q three bits (two from qs, the third from hmask), offset 4. */
VNNI static ALWAYS_INLINE void sb_q3_K(const llm_block_q3_K *b, const vnni_pair *const *xp,
                                       __m512 *acc, const int m)
{
    __m512 ds = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(llm_q3_K_scales_i8(b))),
                              _mm512_set1_ps(llm_half(b->d)));
    __m512i hm = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)b->hmask));
    for (int h = 0; h < 2; h++) {
        __m512i qs = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b->qs + 32 * h)));
        for (int p = 0; p < 2; p++) {
            /* bytes 0-31: value 128h + 64p + l, bits 4p.. of qs[32h + l] and bit 4h + 2p of
             * hmask[l]; bytes 32-63: value 128h + 64p + 32 + l, bits 4p + 2.. and bit 4h + 2p + 1
             */
            long long q0 = 0x0001000100010001LL * (4 * p), q1 = 0x0001000100010001LL * (4 * p + 2);
            long long h0 = 0x0001000100010001LL * (4 * h + 2 * p),
                      h1 = 0x0001000100010001LL * (4 * h + 2 * p + 1);
            __m512i two = _mm512_and_si512(
                _mm512_srlv_epi16(qs, _mm512_set_epi64(q1, q1, q1, q1, q0, q0, q0, q0)),
                _mm512_set1_epi8(3));
            __m512i third = _mm512_and_si512(
                _mm512_srlv_epi16(hm, _mm512_set_epi64(h1, h1, h1, h1, h0, h0, h0, h0)),
                _mm512_set1_epi8(1));
            __m512i u = _mm512_or_si512(two, _mm512_slli_epi16(third, 2));
            /* lane k covers values 4k..4k+3 of the pair: scale 8h + 4p + k / 4 */
            __m512i idx =
                _mm512_add_epi32(_mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0),
                                 _mm512_set1_epi32(8 * h + 4 * p));
            __m512 a = _mm512_permutexvar_ps(idx, ds);
            offset_pair_fma(u, a, xp, 2 * h + p, acc, m);
        }
    }
}

/* One super-block of IQ4_XS against the matching 4 pairs of m rows: each
 * sub-block an IQ4_NL block with the scale d * (ls - 32). */
VNNI static ALWAYS_INLINE void sb_iq4_xs(const llm_block_iq4_xs *b, const vnni_pair *const *xp,
                                         __m512 *acc, const int m)
{
    /* the scales d * (ls - 32) of llm_scales_iq4_xs, 8 at once: ls = the
     * nibble j of scales_l | bits 2j..2j+1 of scales_h << 4 */
    uint32_t low;
    memcpy(&low, b->scales_l, 4);
    __m128i l4 = _mm_cvtsi32_si128((int)low), m4 = _mm_set1_epi8(0x0F);
    __m128i nib =
        _mm_unpacklo_epi8(_mm_and_si128(l4, m4), _mm_and_si128(_mm_srli_epi16(l4, 4), m4));
    __m256i high = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(b->scales_h),
                                                      _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14)),
                                    _mm256_set1_epi32(3));
    __m256i ls = _mm256_or_si256(_mm256_cvtepu8_epi32(nib), _mm256_slli_epi32(high, 4));
    __m256 sd8 = _mm256_mul_ps(_mm256_set1_ps(llm_half(b->d)),
                               _mm256_cvtepi32_ps(_mm256_sub_epi32(ls, _mm256_set1_epi32(32))));
    __m512 sd = _mm512_castps256_ps512(sd8);
    for (int p = 0; p < 4; p++) {
        __m512i u = iq4_levels_u(nibble_pair(b->qs + 32 * p, b->qs + 32 * p + 16));
        __m512 a = sub_block_scales(sd, p);
        offset_pair_fma(u, a, xp, p, acc, m);
    }
}

/* The rows kernel and the single kernel (as K_MINS_VNNI's) of a super-block
 * type whose weights carry the offset c and no mins: Q3_K, Q6_K, IQ4_XS. */
#define K_OFFSET_VNNI(name, block_t, offset)                                                       \
    /* w weight rows (rb bytes apart) against m activation rows, as                                \
     * DOT_Q8_VNNI's: out[j * ldo + r] */                                                          \
    VNNI static ALWAYS_INLINE void dotwm_q8_##name(const void *row, size_t rb, const void *xa,     \
                                                   size_t ldxa, float *out, int64_t ldo,           \
                                                   int64_t n, const int m, const int w)            \
    {                                                                                              \
        const block_t *b[2] = {row, (const block_t *)((const uint8_t *)row + rb)};                 \
        const vnni_pair *x[ROWS_AT_ONCE];                                                          \
        __m512 acc[2][ROWS_AT_ONCE];                                                               \
        _Pragma("GCC unroll 4") for (int j = 0; j < m; j++)                                        \
        {                                                                                          \
            x[j] = (const vnni_pair *)((const uint8_t *)xa + (size_t)j * ldxa);                    \
            acc[0][j] = acc[1][j] = _mm512_setzero_ps();                                           \
        }                                                                                          \
        for (int64_t i = 0; i < n / LLM_QK_K; i++) {                                               \
            const vnni_pair *xp[ROWS_AT_ONCE];                                                     \
            _Pragma("GCC unroll 4") for (int j = 0; j < m; j++) xp[j] = x[j] + 4 * i;              \
            _Pragma("GCC unroll 2") for (int r = 0; r < w; r++)                                    \
            {                                                                                      \
                for (size_t l = 0; l < sizeof(block_t); l += 64)                                   \
                    _mm_prefetch((const char *)(b[r] + i) + LLM_Q8_PREFETCH + l, _MM_HINT_T0);     \
                sb_##name(b[r] + i, xp, acc[r], m);                                                \
            }                                                                                      \
        }                                                                                          \
        _Pragma("GCC unroll 2") for (int r = 0; r < w; r++)                                        \
            _Pragma("GCC unroll 4") for (int j = 0; j < m; j++) out[j * ldo + r] =                 \
                _mm512_reduce_add_ps(acc[r][j]);                                                   \
    }                                                                                              \
    VNNI static ALWAYS_INLINE void dotm_q8_##name(const void *row, const void *xa, size_t ldxa,    \
                                                  float *out, int64_t ldo, int64_t n, const int m) \
    {                                                                                              \
        dotwm_q8_##name(row, 0, xa, ldxa, out, ldo, n, m, 1);                                      \
    }                                                                                              \
    VNNI static float dot_q8_##name(const void *row, const void *xq, int64_t n)                    \
    {                                                                                              \
        const block_t *b = row;                                                                    \
        const llm_block_q8_0 *x = xq;                                                              \
        __m512 acc = _mm512_setzero_ps();                                                          \
        for (int64_t i = 0; i < n / LLM_QK_K; i++, b++, x += 8) {                                  \
            vnni_pair pairs[4];                                                                    \
            for (int p = 0; p < 4; p++)                                                            \
                vnni_prepare_pair(x + 2 * p, 1, offset, &pairs[p]);                                \
            const vnni_pair *xp = pairs;                                                           \
            sb_##name(b, &xp, &acc, 1);                                                            \
        }                                                                                          \
        return _mm512_reduce_add_ps(acc);                                                          \
    }

K_OFFSET_VNNI(q3_K, llm_block_q3_K, 4)
K_OFFSET_VNNI(q6_K, llm_block_q6_K, 32)
K_OFFSET_VNNI(iq4_xs, llm_block_iq4_xs, 128)

LLM_Q8_ROWS_BY_4(VNNI, q4_K)
Q8_TILE_VNNI(q4_K)
LLM_Q8_ROWS_BY_4(VNNI, q5_K)
Q8_TILE_VNNI(q5_K)
LLM_Q8_ROWS_BY_4(VNNI, q2_K)
Q8_TILE_VNNI(q2_K)
LLM_Q8_ROWS_BY_4(VNNI, q3_K)
Q8_TILE_VNNI(q3_K)
LLM_Q8_ROWS_BY_4(VNNI, q6_K)
Q8_TILE_VNNI(q6_K)
LLM_Q8_ROWS_BY_4(VNNI, iq4_xs)
Q8_TILE_VNNI(iq4_xs)

/* Q8_0 quantization of activations: one block's largest magnitude by a
 * vector reduction, the values rounded (ties to even) and narrowed. */
static void quantize_acts_q8_0(const float *x, void *dst, int64_t n)
{
    llm_block_q8_0 *y = dst;
    const __m512 sign = _mm512_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / LLM_QK; i++, x += LLM_QK) {
        __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
        float amax = _mm512_reduce_max_ps(
            _mm512_max_ps(_mm512_andnot_ps(sign, v0), _mm512_andnot_ps(sign, v1)));
        float d = amax / 127;
        __m512 id = _mm512_set1_ps(d ? 1.0f / d : 0.0f);
        y[i].d = llm_f32_to_f16(d);
        __m512i q0 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v0, id),
                                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m512i q1 = _mm512_cvt_roundps_epi32(_mm512_mul_ps(v1, id),
                                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128((__m128i *)y[i].qs, _mm512_cvtsepi32_epi8(q0));
        _mm_storeu_si128((__m128i *)(y[i].qs + 16), _mm512_cvtsepi32_epi8(q1));
    }
}

/* Floats to F16 by vcvtps2ph, rounding to nearest even: the bits of
 * llm_f32_to_f16 (test_quant compares them), 16 at a time where a value
 * at a time took most of a prompt's cache stores. */
static void f16_row(const float *x, uint16_t *dst, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(void *)(dst + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm256_mask_storeu_epi16(
            dst + i, m,
            _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT));
    }
}

void llm_kernels_avx512(llm_kernels *k)
{
#define SET_ROWS(T, name) llm_set_dot(k, T, dequant_##name, dot_##name, dot_rows_##name);
    LLM_PLAIN_TYPES(SET_ROWS)
    LLM_BLOCK_TYPES(SET_ROWS)
#undef SET_ROWS
    k->q8_quantize = quantize_acts_q8_0;
    k->f16_row = f16_row;
    /* VNNI is not part of the AVX-512 this table requires: without it the
     * AVX2 integer kernels stay */
    if (__builtin_cpu_supports("avx512vnni")) {
        llm_set_dot_q8(k, LLM_Q4_0, dot_q8_q4_0, dot_q8_rows_q4_0, dot_q8_tile_q4_0, &layout_q4_0);
        llm_set_dot_q8(k, LLM_Q5_0, dot_q8_q5_0, dot_q8_rows_q5_0, dot_q8_tile_q5_0, &layout_q5_0);
        llm_set_dot_q8(k, LLM_Q8_0, dot_q8_q8_0, dot_q8_rows_q8_0, dot_q8_tile_q8_0, &layout_q8_0);
        llm_set_dot_q8(k, LLM_Q2_K, dot_q8_q2_K, dot_q8_rows_q2_K, dot_q8_tile_q2_K, &layout_q2_K);
        llm_set_dot_q8(k, LLM_Q3_K, dot_q8_q3_K, dot_q8_rows_q3_K, dot_q8_tile_q3_K, &layout_q3_K);
        llm_set_dot_q8(k, LLM_Q4_K, dot_q8_q4_K, dot_q8_rows_q4_K, dot_q8_tile_q4_K, &layout_q4_K);
        llm_set_dot_q8(k, LLM_Q5_K, dot_q8_q5_K, dot_q8_rows_q5_K, dot_q8_tile_q5_K, &layout_q4_K);
        llm_set_dot_q8(k, LLM_Q6_K, dot_q8_q6_K, dot_q8_rows_q6_K, dot_q8_tile_q6_K, &layout_q6_K);
        llm_set_dot_q8(k, LLM_IQ4_NL, dot_q8_iq4_nl, dot_q8_rows_iq4_nl, dot_q8_tile_iq4_nl,
                       &layout_iq4_nl);
        llm_set_dot_q8(k, LLM_IQ4_XS, dot_q8_iq4_xs, dot_q8_rows_iq4_xs, dot_q8_tile_iq4_xs,
                       &layout_q8_0);
    }
}

#endif
