/* llm/quant_ref.c: the scalar reference kernels: dequantization of every
 * supported block layout, written to read like the format (GGML's
 * dequantize_row_* compute each value with the same operations, so the
 * values agree with GGML's bit for bit), and dot products built on them.
 *
 * The SIMD kernels are tested against these: their dequantization must be
 * identical, their dot products equal within rounding. The block layouts are
 * described at their structs in quant_int.h. */
#include "llm/quant_int.h"

#include <string.h>

const int8_t llm_iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                     1,    13,   25,  38,  53,  69,  89,  113};

/* ---- plain types ------------------------------------------------------- */

static void dequant_f32(const void *row, float *y, int64_t n)
{
    memcpy(y, row, (size_t)n * sizeof(float));
}

static void dequant_f16(const void *row, float *y, int64_t n)
{
    const uint16_t *h = row;
    for (int64_t i = 0; i < n; i++)
        y[i] = llm_half(h[i]);
}

static void dequant_bf16(const void *row, float *y, int64_t n)
{
    const uint16_t *h = row;
    for (int64_t i = 0; i < n; i++)
        y[i] = llm_bf16_to_f32(h[i]);
}

/* ---- 32-element blocks ------------------------------------------------- */

static void dequant_q4_0(const void *row, float *y, int64_t n)
{
    const llm_block_q4_0 *b = row;
    for (int64_t i = 0; i < n / LLM_QK; i++, b++, y += LLM_QK) {
        float d = llm_half(b->d);
        for (int j = 0; j < 16; j++) {
            y[j] = ((b->qs[j] & 0xF) - 8) * d;
            y[j + 16] = ((b->qs[j] >> 4) - 8) * d;
        }
    }
}

static void dequant_q4_1(const void *row, float *y, int64_t n)
{
    const llm_block_q4_1 *b = row;
    for (int64_t i = 0; i < n / LLM_QK; i++, b++, y += LLM_QK) {
        float d = llm_half(b->d), m = llm_half(b->m);
        for (int j = 0; j < 16; j++) {
            y[j] = (b->qs[j] & 0xF) * d + m;
            y[j + 16] = (b->qs[j] >> 4) * d + m;
        }
    }
}

static uint32_t load_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void dequant_q5_0(const void *row, float *y, int64_t n)
{
    const llm_block_q5_0 *b = row;
    for (int64_t i = 0; i < n / LLM_QK; i++, b++, y += LLM_QK) {
        float d = llm_half(b->d);
        uint32_t qh = load_u32le(b->qh);
        for (int j = 0; j < 16; j++) {
            int lo = (b->qs[j] & 0xF) | (int)((qh >> j) & 1) << 4;
            int hi = (b->qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = (lo - 16) * d;
            y[j + 16] = (hi - 16) * d;
        }
    }
}

static void dequant_q5_1(const void *row, float *y, int64_t n)
{
    const llm_block_q5_1 *b = row;
    for (int64_t i = 0; i < n / LLM_QK; i++, b++, y += LLM_QK) {
        float d = llm_half(b->d), m = llm_half(b->m);
        uint32_t qh = load_u32le(b->qh);
        for (int j = 0; j < 16; j++) {
            int lo = (b->qs[j] & 0xF) | (int)((qh >> j) & 1) << 4;
            int hi = (b->qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = lo * d + m;
            y[j + 16] = hi * d + m;
        }
    }
}

static void dequant_q8_0(const void *row, float *y, int64_t n)
{
    const llm_block_q8_0 *b = row;
    for (int64_t i = 0; i < n / LLM_QK; i++, b++, y += LLM_QK) {
        float d = llm_half(b->d);
        for (int j = 0; j < 32; j++)
            y[j] = b->qs[j] * d;
    }
}

static void dequant_iq4_nl(const void *row, float *y, int64_t n)
{
    const llm_block_iq4_nl *b = row;
    for (int64_t i = 0; i < n / LLM_QK; i++, b++, y += LLM_QK) {
        float d = llm_half(b->d);
        for (int j = 0; j < 16; j++) {
            y[j] = d * llm_iq4nl_values[b->qs[j] & 0xF];
            y[j + 16] = d * llm_iq4nl_values[b->qs[j] >> 4];
        }
    }
}

/* ---- 256-element super-blocks ------------------------------------------
 * Each is walked in groups of 32 outputs, g = 0..7, the order in which the
 * SIMD kernels decode them. Sub-blocks of 16 (Q2_K, Q3_K, Q6_K) put scales
 * 2g and 2g + 1 in group g. */

static void dequant_q2_K(const void *row, float *y, int64_t n)
{
    const llm_block_q2_K *b = row;
    for (int64_t i = 0; i < n / LLM_QK_K; i++, b++) {
        llm_scales s;
        llm_scales_q2_K(b, &s);
        for (int g = 0; g < 8; g++, y += 32) {
            const uint8_t *q = b->qs + 32 * (g / 4);
            int shift = 2 * (g % 4);
            for (int l = 0; l < 32; l++) {
                int is = 2 * g + l / 16;
                y[l] = s.d[is] * ((q[l] >> shift) & 3) - s.m[is];
            }
        }
    }
}

static void dequant_q3_K(const void *row, float *y, int64_t n)
{
    const llm_block_q3_K *b = row;
    for (int64_t i = 0; i < n / LLM_QK_K; i++, b++) {
        llm_scales s;
        llm_scales_q3_K(b, &s);
        for (int g = 0; g < 8; g++, y += 32) {
            const uint8_t *q = b->qs + 32 * (g / 4);
            int shift = 2 * (g % 4);
            for (int l = 0; l < 32; l++) {
                int v = ((q[l] >> shift) & 3) - ((b->hmask[l] >> g) & 1 ? 0 : 4);
                y[l] = s.d[2 * g + l / 16] * v;
            }
        }
    }
}

static void dequant_q4_K(const void *row, float *y, int64_t n)
{
    const llm_block_q4_K *b = row;
    for (int64_t i = 0; i < n / LLM_QK_K; i++, b++) {
        llm_scales s;
        llm_scales_q4_K(b, &s);
        for (int g = 0; g < 8; g++, y += 32) {
            const uint8_t *q = b->qs + 32 * (g / 2);
            int shift = 4 * (g % 2);
            for (int l = 0; l < 32; l++)
                y[l] = s.d[g] * ((q[l] >> shift) & 0xF) - s.m[g];
        }
    }
}

static void dequant_q5_K(const void *row, float *y, int64_t n)
{
    const llm_block_q5_K *b = row;
    for (int64_t i = 0; i < n / LLM_QK_K; i++, b++) {
        llm_scales s;
        llm_scales_q5_K(b, &s);
        for (int g = 0; g < 8; g++, y += 32) {
            const uint8_t *q = b->qs + 32 * (g / 2);
            int shift = 4 * (g % 2);
            for (int l = 0; l < 32; l++) {
                int v = ((q[l] >> shift) & 0xF) + ((b->qh[l] >> g) & 1 ? 16 : 0);
                y[l] = s.d[g] * v - s.m[g];
            }
        }
    }
}

static void dequant_q6_K(const void *row, float *y, int64_t n)
{
    const llm_block_q6_K *b = row;
    for (int64_t i = 0; i < n / LLM_QK_K; i++, b++) {
        llm_scales s;
        llm_scales_q6_K(b, &s);
        for (int g = 0; g < 8; g++, y += 32) {
            int h = g / 4, k = g % 4;
            const uint8_t *ql = b->ql + 64 * h + 32 * (k % 2);
            const uint8_t *qh = b->qh + 32 * h;
            for (int l = 0; l < 32; l++) {
                int v = ((ql[l] >> (4 * (k / 2))) & 0xF) | ((qh[l] >> (2 * k)) & 3) << 4;
                y[l] = s.d[2 * g + l / 16] * (v - 32);
            }
        }
    }
}

static void dequant_iq4_xs(const void *row, float *y, int64_t n)
{
    const llm_block_iq4_xs *b = row;
    for (int64_t i = 0; i < n / LLM_QK_K; i++, b++) {
        llm_scales s;
        llm_scales_iq4_xs(b, &s);
        for (int g = 0; g < 8; g++, y += 32) {
            const uint8_t *q = b->qs + 16 * g;
            for (int j = 0; j < 16; j++) {
                y[j] = s.d[g] * llm_iq4nl_values[q[j] & 0xF];
                y[j + 16] = s.d[g] * llm_iq4nl_values[q[j] >> 4];
            }
        }
    }
}

/* ---- dot products -------------------------------------------------------
 * Dequantize a block (or a chunk of 32 plain elements) into a buffer, sum its
 * products in float, and add the block sums in double: simple, and accurate
 * enough to serve as the reference for the SIMD sums. */

static float dot_via_dequant(llm_dequant_fn dq, int elems, size_t bytes, const void *row,
                             const float *x, int64_t n)
{
    float tmp[LLM_QK_K];
    const uint8_t *p = row;
    double total = 0;
    for (int64_t i = 0; i < n; i += elems, p += bytes) {
        int m = n - i < elems ? (int)(n - i) : elems;
        dq(p, tmp, m);
        float s = 0;
        for (int j = 0; j < m; j++)
            s += tmp[j] * x[i + j];
        total += s;
    }
    return (float)total;
}

/* Plain types go through chunks of 32 elements. */
#define DOT_REF(name, elems, bytes)                                                                \
    static float dot_##name(const void *row, const float *x, int64_t n)                            \
    {                                                                                              \
        return dot_via_dequant(dequant_##name, elems, bytes, row, x, n);                           \
    }

DOT_REF(f32, 32, 32 * sizeof(float))
DOT_REF(f16, 32, 32 * sizeof(uint16_t))
DOT_REF(bf16, 32, 32 * sizeof(uint16_t))
DOT_REF(q4_0, LLM_QK, sizeof(llm_block_q4_0))
DOT_REF(q4_1, LLM_QK, sizeof(llm_block_q4_1))
DOT_REF(q5_0, LLM_QK, sizeof(llm_block_q5_0))
DOT_REF(q5_1, LLM_QK, sizeof(llm_block_q5_1))
DOT_REF(q8_0, LLM_QK, sizeof(llm_block_q8_0))
DOT_REF(iq4_nl, LLM_QK, sizeof(llm_block_iq4_nl))
DOT_REF(q2_K, LLM_QK_K, sizeof(llm_block_q2_K))
DOT_REF(q3_K, LLM_QK_K, sizeof(llm_block_q3_K))
DOT_REF(q4_K, LLM_QK_K, sizeof(llm_block_q4_K))
DOT_REF(q5_K, LLM_QK_K, sizeof(llm_block_q5_K))
DOT_REF(q6_K, LLM_QK_K, sizeof(llm_block_q6_K))
DOT_REF(iq4_xs, LLM_QK_K, sizeof(llm_block_iq4_xs))

/* ---- against Q8_0 activations: exact integer sums per block -------------- */

/* The 32 integer values of a weight block, in element order. */
static void ints_q4_0(const llm_block_q4_0 *b, int *q)
{
    for (int j = 0; j < 16; j++)
        q[j] = (b->qs[j] & 0xF) - 8, q[j + 16] = (b->qs[j] >> 4) - 8;
}

static void ints_q5_0(const llm_block_q5_0 *b, int *q)
{
    uint32_t qh = load_u32le(b->qh);
    for (int j = 0; j < 16; j++) {
        q[j] = ((b->qs[j] & 0xF) | (int)((qh >> j) & 1) << 4) - 16;
        q[j + 16] = ((b->qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4) - 16;
    }
}

static void ints_q8_0(const llm_block_q8_0 *b, int *q)
{
    for (int j = 0; j < 32; j++)
        q[j] = b->qs[j];
}

#define DOT_Q8_REF(name, block_t)                                                                  \
    static float dot_q8_##name(const void *row, const void *xq, int64_t n)                         \
    {                                                                                              \
        const block_t *b = row;                                                                    \
        const llm_block_q8_0 *x = xq;                                                              \
        float sum = 0;                                                                             \
        for (int64_t i = 0; i < n / LLM_QK; i++, b++, x++) {                                       \
            int q[32], s = 0;                                                                      \
            ints_##name(b, q);                                                                     \
            for (int j = 0; j < 32; j++)                                                           \
                s += q[j] * x->qs[j];                                                              \
            sum += llm_half(b->d) * llm_half(x->d) * (float)s;                                     \
        }                                                                                          \
        return sum;                                                                                \
    }

DOT_Q8_REF(q4_0, llm_block_q4_0)
DOT_Q8_REF(q5_0, llm_block_q5_0)
DOT_Q8_REF(q8_0, llm_block_q8_0)

void llm_kernels_ref(llm_kernels *k)
{
    memset(k, 0, sizeof *k);
#define SET(T, name) llm_set_dot(k, T, dequant_##name, dot_##name, NULL);
    LLM_PLAIN_TYPES(SET)
    LLM_BLOCK_TYPES(SET)
#undef SET
    llm_set_dot_q8(k, LLM_Q4_0, dot_q8_q4_0, NULL, NULL, NULL);
    llm_set_dot_q8(k, LLM_Q5_0, dot_q8_q5_0, NULL, NULL, NULL);
    llm_set_dot_q8(k, LLM_Q8_0, dot_q8_q8_0, NULL, NULL, NULL);
}
