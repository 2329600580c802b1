/* llm/qgemm_pack.h: included by each kernel file of the integer prefill
 * path (qgemm_avx2.c, qgemm_avx512.c), so that the compiler vectorizes it
 * for that file's instruction set: the packing of weight rows into a
 * panel (qg_pack), as llm/qgemm.h describes it, and the block constants of
 * the activations (each file quantizes them with its own intrinsics: blocks
 * of 32 with the scale max|x| / 127, values x * 127 / max|x| rounded to
 * nearest even). Every operation is exact or the same float
 * operation on each path, so every path packs the same bytes and floats.
 *
 * Packing reads each block as the reference dequantization does (the same
 * element order, the same per-block scales from quant_int.h), so a panel
 * holds d * (u - off) - m = the reference value up to the rounding of that
 * one expression; test_quant checks it for every type. */
#ifndef RAG_LLM_QGEMM_PACK_H
#define RAG_LLM_QGEMM_PACK_H

#include "llm/qgemm.h"
#include "llm/quant_int.h"

#include <assert.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif
#include <string.h>

static inline size_t qg_align64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

/* The constants of one activation block of 32 from its sums of values
 * per half (every path computes amax, the values and their sums exactly,
 * and these floats with the same operations). */
static inline void qg_block_consts(const llm_qg_acts *a, int64_t j, int64_t b, float d, int s0,
                                   int s1)
{
    int64_t nb = a->k / 32;
    a->dx32[j * nb + b] = d;
    a->ns32[j * nb + b] = -d * (float)(s0 + s1);
    a->sum32[j * nb + b] = s0 + s1;
    a->dx16[j * 2 * nb + 2 * b] = a->dx16[j * 2 * nb + 2 * b + 1] = d;
    a->ns16[j * 2 * nb + 2 * b] = -d * (float)s0;
    a->ns16[j * 2 * nb + 2 * b + 1] = -d * (float)s1;
    a->sum16[j * 2 * nb + 2 * b] = s0;
    a->sum16[j * 2 * nb + 2 * b + 1] = s1;
}

/* Where one row's block constants go in a panel. */
typedef struct dst {
    float *d, *m;
    int lanes;
} dst;

static inline void put_block(const dst *o, int64_t b, float d, float m)
{
    o->d[b * o->lanes] = d;
    o->m[b * o->lanes] = m;
}

/* The 32 bytes u[l] = (q[l] >> shift) & 0xF (shift 0 or 4). */
static inline void nibbles32(const uint8_t *q, int shift, uint8_t *u)
{
#if defined(__AVX2__)
    __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)q);
    v = _mm256_and_si256(_mm256_srl_epi16(v, _mm_cvtsi32_si128(shift)), _mm256_set1_epi8(0x0F));
    _mm256_storeu_si256((__m256i *)(void *)u, v);
#else
    for (int l = 0; l < 32; l++)
        u[l] = (q[l] >> shift) & 0xF;
#endif
}

/* A block of 16 bytes of two nibbles: the low ones, then the high ones. */
static inline void nibbles16(const uint8_t *qs, uint8_t *u)
{
#if defined(__AVX2__)
    __m128i q = _mm_loadu_si128((const __m128i *)(const void *)qs), m4 = _mm_set1_epi8(0x0F);
    _mm_storeu_si128((__m128i *)(void *)u, _mm_and_si128(q, m4));
    _mm_storeu_si128((__m128i *)(void *)(u + 16), _mm_and_si128(_mm_srli_epi16(q, 4), m4));
#else
    for (int j = 0; j < 16; j++) {
        u[j] = qs[j] & 0xF;
        u[j + 16] = qs[j] >> 4;
    }
#endif
}

/* Each unpacks the unit i of a row (a block of 32, or a super-block of 256
 * for the K-quants and IQ4_XS) into u, in element order, and sets its
 * blocks' constants (b counts blocks of the panel's size). */
static inline void pack_q4_0(const void *row, int64_t i, uint8_t *u, const dst *o)
{
    const llm_block_q4_0 *x = (const llm_block_q4_0 *)row + i;
    float d = llm_half(x->d);
    put_block(o, i, d, 0);
    nibbles16(x->qs, u);
}

static inline void pack_q4_1(const void *row, int64_t i, uint8_t *u, const dst *o)
{
    const llm_block_q4_1 *x = (const llm_block_q4_1 *)row + i;
    put_block(o, i, llm_half(x->d), -llm_half(x->m));
    nibbles16(x->qs, u);
}

static void q5_values(const uint8_t *qs, const uint8_t *qhp, uint8_t *u)
{
    uint32_t qh =
        (uint32_t)qhp[0] | (uint32_t)qhp[1] << 8 | (uint32_t)qhp[2] << 16 | (uint32_t)qhp[3] << 24;
#if defined(__AVX512BW__) && defined(__AVX512VL__)
    /* the nibbles as 32 bytes, each fifth bit a byte mask of 16 */
    __m128i q = _mm_loadu_si128((const __m128i *)(const void *)qs), m4 = _mm_set1_epi8(0x0F);
    __m256i v = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m4), _mm_and_si128(q, m4));
    v = _mm256_or_si256(v, _mm256_and_si256(_mm256_movm_epi8(qh), _mm256_set1_epi8(0x10)));
    _mm256_storeu_si256((__m256i *)(void *)u, v);
#else
    for (int j = 0; j < 16; j++) {
        u[j] = (uint8_t)((qs[j] & 0xF) | ((qh >> j) & 1) << 4);
        u[j + 16] = (uint8_t)((qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4);
    }
#endif
}

static inline void pack_q5_0(const void *row, int64_t i, uint8_t *u, const dst *o)
{
    const llm_block_q5_0 *x = (const llm_block_q5_0 *)row + i;
    float d = llm_half(x->d);
    put_block(o, i, d, 0);
    q5_values(x->qs, x->qh, u);
}

static inline void pack_q5_1(const void *row, int64_t i, uint8_t *u, const dst *o)
{
    const llm_block_q5_1 *x = (const llm_block_q5_1 *)row + i;
    put_block(o, i, llm_half(x->d), -llm_half(x->m));
    q5_values(x->qs, x->qh, u);
}

static inline void pack_q8_0(const void *row, int64_t i, uint8_t *u, const dst *o)
{
    const llm_block_q8_0 *x = (const llm_block_q8_0 *)row + i;
    float d = llm_half(x->d);
    put_block(o, i, d, 0);
#if defined(__AVX2__) /* + 128: the sign bit flipped */
    _mm256_storeu_si256((__m256i *)(void *)u,
                        _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)x->qs),
                                         _mm256_set1_epi8(-128)));
#else
    for (int j = 0; j < 32; j++)
        u[j] = (uint8_t)(x->qs[j] + 128);
#endif
}

static void iq4_values(const uint8_t *qs, uint8_t *u)
{
    for (int j = 0; j < 16; j++) {
        u[j] = (uint8_t)(llm_iq4nl_values[qs[j] & 0xF] + 128);
        u[j + 16] = (uint8_t)(llm_iq4nl_values[qs[j] >> 4] + 128);
    }
}

static inline void pack_iq4_nl(const void *row, int64_t i, uint8_t *u, const dst *o)
{
    const llm_block_iq4_nl *x = (const llm_block_iq4_nl *)row + i;
    float d = llm_half(x->d);
    put_block(o, i, d, 0);
    iq4_values(x->qs, u);
}

static inline void pack_iq4_xs(const void *row, int64_t i, uint8_t *u, const dst *o)
{
    const llm_block_iq4_xs *x = (const llm_block_iq4_xs *)row + i;
    llm_scales s;
    llm_scales_iq4_xs(x, &s);
    for (int g = 0; g < 8; g++) {
        put_block(o, 8 * i + g, s.d[g], 0);
        iq4_values(x->qs + 16 * g, u + 32 * g);
    }
}

static inline void pack_q2_K(const void *row, int64_t i, uint8_t *u, const dst *o)
{
    const llm_block_q2_K *x = (const llm_block_q2_K *)row + i;
    llm_scales s;
    llm_scales_q2_K(x, &s);
    for (int j = 0; j < 16; j++)
        put_block(o, 16 * i + j, s.d[j], s.m[j]);
    for (int g = 0; g < 8; g++) {
        const uint8_t *q = x->qs + 32 * (g / 4);
        int shift = 2 * (g % 4);
        for (int l = 0; l < 32; l++)
            u[32 * g + l] = (q[l] >> shift) & 3;
    }
}

static inline void pack_q3_K(const void *row, int64_t i, uint8_t *u, const dst *o)
{
    const llm_block_q3_K *x = (const llm_block_q3_K *)row + i;
    llm_scales s;
    llm_scales_q3_K(x, &s);
    for (int j = 0; j < 16; j++)
        put_block(o, 16 * i + j, s.d[j], 0);
    for (int g = 0; g < 8; g++) {
        const uint8_t *q = x->qs + 32 * (g / 4);
        int shift = 2 * (g % 4);
        for (int l = 0; l < 32; l++)
            u[32 * g + l] = (uint8_t)(((q[l] >> shift) & 3) | ((x->hmask[l] >> g) & 1) << 2);
    }
}

static inline void pack_q4_K(const void *row, int64_t i, uint8_t *u, const dst *o)
{
    const llm_block_q4_K *x = (const llm_block_q4_K *)row + i;
    llm_scales s;
    llm_scales_q4_K(x, &s);
    for (int g = 0; g < 8; g++) {
        put_block(o, 8 * i + g, s.d[g], s.m[g]);
        nibbles32(x->qs + 32 * (g / 2), 4 * (g % 2), u + 32 * g);
    }
}

static inline void pack_q5_K(const void *row, int64_t i, uint8_t *u, const dst *o)
{
    const llm_block_q5_K *x = (const llm_block_q5_K *)row + i;
    llm_scales s;
    llm_scales_q5_K(x, &s);
    for (int g = 0; g < 8; g++) {
        put_block(o, 8 * i + g, s.d[g], s.m[g]);
        const uint8_t *q = x->qs + 32 * (g / 2);
        int shift = 4 * (g % 2);
        for (int l = 0; l < 32; l++)
            u[32 * g + l] = (uint8_t)(((q[l] >> shift) & 0xF) | ((x->qh[l] >> g) & 1) << 4);
    }
}

static inline void pack_q6_K(const void *row, int64_t i, uint8_t *u, const dst *o)
{
    const llm_block_q6_K *x = (const llm_block_q6_K *)row + i;
    llm_scales s;
    llm_scales_q6_K(x, &s);
    for (int j = 0; j < 16; j++)
        put_block(o, 16 * i + j, s.d[j], 0);
    for (int g = 0; g < 8; g++) {
        int h = g / 4, k = g % 4;
        const uint8_t *ql = x->ql + 64 * h + 32 * (k % 2);
        const uint8_t *qh = x->qh + 32 * h;
        for (int l = 0; l < 32; l++)
            u[32 * g + l] =
                (uint8_t)(((ql[l] >> (4 * (k / 2))) & 0xF) | ((qh[l] >> (2 * k)) & 3) << 4);
    }
}

/* Interleaves `lanes` rows of k values (tmp, row-major) into a panel's
 * q[k / 4][lanes][4]: a transposition of 4-byte groups. Each kernel file
 * passes its own, with a scalar loop for what its vectors leave. */
typedef void (*qg_interleave_fn)(const uint8_t *tmp, int64_t k, int lanes, uint8_t *q);

static inline void qg_interleave_tail(const uint8_t *tmp, int64_t k, int lanes, uint8_t *q,
                                      int64_t from)
{
    for (int r = 0; r < lanes; r++)
        for (int64_t g = from / 4; g < k / 4; g++)
            memcpy(q + ((size_t)g * (size_t)lanes + (size_t)r) * 4, tmp + (size_t)r * k + 4 * g, 4);
}

/* Unpacks nrows rows of type t into tmp (lanes x k bytes; the rows past
 * nrows zero) and their block constants into the panel, then interleaves. */
static inline void qg_pack_via(llm_dtype t, const void *rows, size_t row_bytes, int nrows,
                               int64_t k, int lanes, void *mem, void *tmp, llm_qg_panel *p,
                               qg_interleave_fn interleave)
{
    int bs = llm_qg_block(t);
    assert(bs && k % 32 == 0);
    uint8_t *base = mem, *u = tmp;
    size_t qbytes = qg_align64((size_t)(k * lanes)),
           sbytes = qg_align64((size_t)(k / 16 * lanes) * sizeof(float));
    p->q = base;
    p->d = (const float *)(base + qbytes);
    p->m = (const float *)(base + qbytes + sbytes);
    p->k = k;
    p->bs = bs;
    p->lanes = lanes;
    p->off = llm_qg_offset(t);
    if (nrows < lanes) { /* the missing rows count zero */
        memset(base + qbytes, 0, 2 * sbytes);
        memset(u + (size_t)nrows * k, 0, (size_t)(lanes - nrows) * (size_t)k);
    }
    /* one loop per type, so that its unpacker is inlined into it */
#define QG_ROWS(fn, unit)                                                                          \
    for (int r = 0; r < nrows; r++) {                                                              \
        const uint8_t *row = (const uint8_t *)rows + (size_t)r * row_bytes;                        \
        dst o = {(float *)(base + qbytes) + r, (float *)(base + qbytes + sbytes) + r, lanes};      \
        for (int64_t i = 0; i < k / (unit); i++)                                                   \
            fn(row, i, u + (size_t)r * k + i * (unit), &o);                                        \
    }
    switch (t) {
    case LLM_Q4_0:
        QG_ROWS(pack_q4_0, 32);
        break;
    case LLM_Q4_1:
        QG_ROWS(pack_q4_1, 32);
        break;
    case LLM_Q5_0:
        QG_ROWS(pack_q5_0, 32);
        break;
    case LLM_Q5_1:
        QG_ROWS(pack_q5_1, 32);
        break;
    case LLM_Q8_0:
        QG_ROWS(pack_q8_0, 32);
        break;
    case LLM_IQ4_NL:
        QG_ROWS(pack_iq4_nl, 32);
        break;
    case LLM_IQ4_XS:
        QG_ROWS(pack_iq4_xs, 256);
        break;
    case LLM_Q2_K:
        QG_ROWS(pack_q2_K, 256);
        break;
    case LLM_Q3_K:
        QG_ROWS(pack_q3_K, 256);
        break;
    case LLM_Q4_K:
        QG_ROWS(pack_q4_K, 256);
        break;
    case LLM_Q5_K:
        QG_ROWS(pack_q5_K, 256);
        break;
    case LLM_Q6_K:
        QG_ROWS(pack_q6_K, 256);
        break;
    default:
        assert(0);
        return;
    }
#undef QG_ROWS
    interleave(u, k, lanes, base);
}

#endif
