/* llm/quant_int.h: private to the kernel files (quant.c, quant_ref.c,
 * quant_avx2.c, quant_avx512.c, quantize.c, vecmath_*.c): the GGML block
 * layouts, the per-block scale unpacking that the reference and the SIMD
 * kernels share, and the table of kernels that each instruction set fills
 * in (quantized rows and the vector math of llm/vecmath.h).
 *
 * The structs are byte-for-byte GGML's (ggml-common.h); GGUF stores them
 * little-endian, as does every host this code targets. Half-precision fields
 * are kept as raw uint16_t. A row of a quantized type is a plain array of
 * blocks with no padding between them. */
#ifndef RAG_LLM_QUANT_INT_H
#define RAG_LLM_QUANT_INT_H

#include "llm/quant.h"
#include "llm/vecmath.h"

#include <stdint.h>
#include <string.h>
#if defined(__F16C__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#define LLM_QK 32    /* elements of a Q4_0 / Q5_0 / Q8_0 / IQ4_NL ... block */
#define LLM_QK_K 256 /* elements of a K-quant (and IQ4_XS) super-block */

/* Q4_0: x = d * (q - 8); qs[j] holds element j (low nibble) and j + 16 (high). */
typedef struct llm_block_q4_0 {
    uint16_t d;
    uint8_t qs[16];
} llm_block_q4_0;
_Static_assert(sizeof(llm_block_q4_0) == 18, "block_q4_0 layout");

/* Q4_1: x = d * q + m, nibbles as in Q4_0. */
typedef struct llm_block_q4_1 {
    uint16_t d, m;
    uint8_t qs[16];
} llm_block_q4_1;
_Static_assert(sizeof(llm_block_q4_1) == 20, "block_q4_1 layout");

/* Q5_0: x = d * (q - 16); low 4 bits as in Q4_0, bit e of the little-endian
 * 32-bit qh is the fifth bit of element e. */
typedef struct llm_block_q5_0 {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[16];
} llm_block_q5_0;
_Static_assert(sizeof(llm_block_q5_0) == 22, "block_q5_0 layout");

/* Q5_1: x = d * q + m, bits as in Q5_0. */
typedef struct llm_block_q5_1 {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[16];
} llm_block_q5_1;
_Static_assert(sizeof(llm_block_q5_1) == 24, "block_q5_1 layout");

/* Q8_0: x = d * q. */
typedef struct llm_block_q8_0 {
    uint16_t d;
    int8_t qs[32];
} llm_block_q8_0;
_Static_assert(sizeof(llm_block_q8_0) == 34, "block_q8_0 layout");

/* Q8_1: as Q8_0 plus s = d * sum(qs). GGML uses it only for activations. */
typedef struct llm_block_q8_1 {
    uint16_t d, s;
    int8_t qs[32];
} llm_block_q8_1;
_Static_assert(sizeof(llm_block_q8_1) == 36, "block_q8_1 layout");

/* Q2_K: 16 sub-blocks of 16; scales[j] = scale (low nibble) | min (high
 * nibble) of sub-block j; x = d * scale * q - dmin * min. qs: for each half
 * h of 128, byte qs[32h + l] holds four 2-bit quants, bits 2k..2k+1 being
 * element 128h + 32k + l. */
typedef struct llm_block_q2_K {
    uint8_t scales[16];
    uint8_t qs[64];
    uint16_t d, dmin;
} llm_block_q2_K;
_Static_assert(sizeof(llm_block_q2_K) == 84, "block_q2_K layout");

/* Q3_K: 16 sub-blocks of 16 with signed 6-bit scales (stored + 32, packed in
 * 12 bytes, see llm_scales_q3_K); x = d * scale * (q - 4) where q is 2 bits
 * from qs (arranged as in Q2_K) plus a third bit worth 4 from hmask:
 * hmask[l] bit 4h + k belongs to element 128h + 32k + l. */
typedef struct llm_block_q3_K {
    uint8_t hmask[32];
    uint8_t qs[64];
    uint8_t scales[12];
    uint16_t d;
} llm_block_q3_K;
_Static_assert(sizeof(llm_block_q3_K) == 110, "block_q3_K layout");

/* Q4_K: 8 sub-blocks of 32 with 6-bit scales and mins packed in 12 bytes
 * (see llm_k4_scale_min); x = d * scale * q - dmin * min. qs: for each
 * 64-element chunk c, qs[32c + l] holds element 64c + l (low nibble) and
 * 64c + 32 + l (high nibble). */
typedef struct llm_block_q4_K {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qs[128];
} llm_block_q4_K;
_Static_assert(sizeof(llm_block_q4_K) == 144, "block_q4_K layout");

/* Q5_K: Q4_K plus a fifth bit: qh[l] bit g belongs to element 32g + l. */
typedef struct llm_block_q5_K {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[32];
    uint8_t qs[128];
} llm_block_q5_K;
_Static_assert(sizeof(llm_block_q5_K) == 176, "block_q5_K layout");

/* Q6_K: 16 sub-blocks of 16 with int8 scales; x = d * scale * (q - 32), q
 * = 4 low bits from ql and 2 high bits from qh. For each half h of 128 and
 * l < 32: ql[64h + l] low/high nibble -> elements 128h + l / 128h + 64 + l,
 * ql[64h + 32 + l] low/high -> 128h + 32 + l / 128h + 96 + l, and
 * qh[32h + l] bits 0-1, 2-3, 4-5, 6-7 -> elements 128h + l, +32, +64, +96. */
typedef struct llm_block_q6_K {
    uint8_t ql[128];
    uint8_t qh[64];
    int8_t scales[16];
    uint16_t d;
} llm_block_q6_K;
_Static_assert(sizeof(llm_block_q6_K) == 210, "block_q6_K layout");

/* Q8_K: GGML's intermediate type for activations (float d, sums per 16). */
typedef struct llm_block_q8_K {
    float d;
    int8_t qs[256];
    int16_t bsums[16];
} llm_block_q8_K;
_Static_assert(sizeof(llm_block_q8_K) == 292, "block_q8_K layout");

/* IQ4_NL: x = d * llm_iq4nl_values[nibble], nibbles arranged as in Q4_0. */
typedef struct llm_block_iq4_nl {
    uint16_t d;
    uint8_t qs[16];
} llm_block_iq4_nl;
_Static_assert(sizeof(llm_block_iq4_nl) == 18, "block_iq4_nl layout");

/* IQ4_XS: 8 sub-blocks of 32, each coded like an IQ4_NL block whose scale is
 * d * (ls - 32), ls 6 bits: low 4 in scales_l[j / 2] (nibble j % 2), high 2
 * in bits 2j..2j+1 of scales_h. */
typedef struct llm_block_iq4_xs {
    uint16_t d;
    uint16_t scales_h;
    uint8_t scales_l[4];
    uint8_t qs[128];
} llm_block_iq4_xs;
_Static_assert(sizeof(llm_block_iq4_xs) == 136, "block_iq4_xs layout");

/* The 16 non-linear levels of IQ4_NL and IQ4_XS (GGML's kvalues_iq4nl). */
extern const int8_t llm_iq4nl_values[16];

/* ---- half precision, inline for the kernels -------------------------- */
/* Exact in both builds: F16C converts exactly, as does the bit version. */
static inline float llm_half(uint16_t h)
{
#if defined(__F16C__)
    return _cvtsh_ss(h);
#else
    union {
        uint32_t u;
        float f;
    } v;
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    if (e == 0x1f) {
        v.u = sign | 0x7f800000 | (m << 13);
    } else if (e == 0) { /* zero or subnormal: m * 2^-24, exact in float */
        v.f = (float)m * 0x1p-24f;
        v.u |= sign;
    } else {
        v.u = sign | ((e + 112) << 23) | (m << 13);
    }
    return v.f;
#endif
}

/* ---- per-block scales --------------------------------------------------
 * Every kernel, reference or SIMD, first turns a block's packed scales into
 * floats with these functions, so that the values they produce are computed
 * by the same operations in the same order (which is what makes the SIMD
 * dequantization bit-identical to the reference). d[j] and m[j] are the
 * multiplier and the subtracted offset of sub-block j. */
typedef struct llm_scales {
    float d[16];
    float m[16];
} llm_scales;

/* Scale and min of sub-block j of a Q4_K / Q5_K block (GGML's
 * get_scale_min_k4): sub-blocks 0-3 keep 6 bits in bytes j and j + 4;
 * sub-blocks 4-7 keep their low 4 bits in byte j + 4 and their high 2 bits
 * in the top bits of bytes j - 4 (scale) and j (min). */
static inline void llm_k4_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

static inline void llm_scales_q2_K(const llm_block_q2_K *b, llm_scales *s)
{
    float d = llm_half(b->d), dmin = llm_half(b->dmin);
    for (int j = 0; j < 16; j++) {
        s->d[j] = d * (b->scales[j] & 0xF);
        s->m[j] = dmin * (b->scales[j] >> 4);
    }
}

/* Q3_K keeps 16 six-bit scales in 12 bytes: the low nibble of scale j in
 * byte j (j < 8) or the high nibble of byte j - 8, and its two high bits in
 * byte 8 + j % 4 at bit 2 * (j / 4). */
static inline void llm_scales_q3_K(const llm_block_q3_K *b, llm_scales *s)
{
    float d = llm_half(b->d);
    for (int j = 0; j < 16; j++) {
        int lo = j < 8 ? b->scales[j] & 0xF : b->scales[j - 8] >> 4;
        int hi = (b->scales[8 + j % 4] >> (2 * (j / 4))) & 3;
        s->d[j] = d * ((lo | hi << 4) - 32);
    }
}

#if defined(__AVX2__)
/* The 16 scales of a Q3_K block less 32 as int8 (llm_scales_q3_K's integers)
 * for the SIMD kernels, at once: the low nibbles are bytes 0-7, then their
 * high nibbles; the two high bits of scale j are bits 2(j / 4).. of byte
 * 8 + j % 4. */
static inline __m128i llm_q3_K_scales_i8(const llm_block_q3_K *b)
{
    uint32_t last;
    memcpy(&last, b->scales + 8, 4);
    __m128i v =
        _mm_insert_epi32(_mm_loadl_epi64((const __m128i *)(const void *)b->scales), (int)last, 2);
    const __m128i m4 = _mm_set1_epi8(0x0F);
    __m128i lo = _mm_unpacklo_epi64(_mm_and_si128(v, m4), _mm_and_si128(_mm_srli_epi16(v, 4), m4));
    __m128i top =
        _mm_shuffle_epi8(v, _mm_setr_epi8(8, 9, 10, 11, 8, 9, 10, 11, 8, 9, 10, 11, 8, 9, 10, 11));
    __m128i hi = _mm_and_si128(_mm_srlv_epi32(top, _mm_setr_epi32(0, 2, 4, 6)), _mm_set1_epi8(3));
    return _mm_sub_epi8(_mm_or_si128(lo, _mm_slli_epi16(hi, 4)), _mm_set1_epi8(32));
}
#endif

static inline void llm_scales_q4_K(const llm_block_q4_K *b, llm_scales *s)
{
    float d = llm_half(b->d), dmin = llm_half(b->dmin);
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        llm_k4_scale_min(j, b->scales, &sc, &m);
        s->d[j] = d * sc;
        s->m[j] = dmin * m;
    }
}

static inline void llm_scales_q5_K(const llm_block_q5_K *b, llm_scales *s)
{
    float d = llm_half(b->d), dmin = llm_half(b->dmin);
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        llm_k4_scale_min(j, b->scales, &sc, &m);
        s->d[j] = d * sc;
        s->m[j] = dmin * m;
    }
}

static inline void llm_scales_q6_K(const llm_block_q6_K *b, llm_scales *s)
{
    float d = llm_half(b->d);
    for (int j = 0; j < 16; j++)
        s->d[j] = d * b->scales[j];
}

static inline void llm_scales_iq4_xs(const llm_block_iq4_xs *b, llm_scales *s)
{
    float d = llm_half(b->d);
    for (int j = 0; j < 8; j++) {
        int ls = ((b->scales_l[j / 2] >> 4 * (j % 2)) & 0xF) | (((b->scales_h >> 2 * j) & 3) << 4);
        s->d[j] = d * (ls - 32);
    }
}

/* ---- kernel tables ---------------------------------------------------- */
typedef void (*llm_dequant_fn)(const void *row, float *dst, int64_t n);
typedef float (*llm_dot_fn)(const void *row, const float *x, int64_t n);

/* The functions of llm/vecmath.h, one implementation per instruction set
 * (vecmath_ref.c, vecmath_avx2.c, vecmath_avx512.c). */
typedef struct llm_vec_kernels {
    void (*exp)(float *x, int64_t n);
    void (*silu)(float *x, int64_t n);
    void (*swiglu)(float *gate, const float *up, int64_t n);
    void (*gelu)(float *x, int64_t n);
    void (*softmax)(float *x, int64_t n, float scale);
    /* NULL: llm_vec_softmax_rows calls softmax row by row */
    void (*softmax_rows)(float *x, int64_t ld, int64_t rows, const int64_t *n, float scale);
    void (*layernorm)(const float *x, const float *w, const float *b, float *out, int64_t n,
                      float eps);
    void (*rmsnorm)(const float *x, const float *w, float *out, int64_t n, float eps);
    int64_t (*argmax)(const float *x, int64_t n);
    void (*add)(float *y, const float *x, int64_t n);
    void (*axpy)(float *y, float a, const float *x, int64_t n);
    /* llm_gemm_nt (b_rows 1: B's rows are C's columns) and llm_gemm_nn (0) */
    void (*gemm)(const float *A, int64_t lda, int m, const float *B, int64_t ldb, int b_rows, int n,
                 int64_t k, float *C, int64_t ldc, float *scratch, const llm_epilogue *ep);
    /* llm_epilogue_apply on an m x n block, bias (or NULL) from its first column */
    void (*epilogue)(float *C, int64_t ldc, int64_t m, int64_t n, const float *bias, int gelu);
    /* llm_gemm_nn_f16 */
    void (*gemm_nn_f16)(const float *A, int64_t lda, int m, const uint16_t *B, int64_t ldb, int n,
                        int64_t k, float *C, int64_t ldc);
    /* llm_bench_read_sum */
    uint64_t (*read_sum)(const uint64_t *p, size_t n);
} llm_vec_kernels;

/* The block kernels of one instruction set for llm_gemm_nt / llm_gemm_nn,
 * which llm_gemm_run drives (vecmath_avx2.c, vecmath_avx512.c). Two ways to
 * the same bits, each element being the fma chain over k from zero:
 *   jrows[r - 1]: r <= mr rows of A, each a[i][k] broadcast, against a panel
 *     of nr columns of B packed k by k (P[k][c]); nc <= nr columns stored;
 *   icols[v - 1][c - 1]: v vectors of `lanes` rows of A packed k by k
 *     (P[k][r], 2 lanes wide), against c <= nj columns of B, each element
 *     b(k, j) = B[j sj + k sk] broadcast; column j of the result stored
 *     as its v vectors at T + j LLM_GEMM_PANEL, which unpack_cols then
 *     moves into rows of C.
 * The first suits many rows of A, the second few (packing costs a float
 * per element of the operand packed). */
typedef void (*llm_gemm_jblock)(const float *A, int64_t lda, const float *P, int64_t k, float *C,
                                int64_t ldc, int nc);
typedef void (*llm_gemm_iblock)(const float *P, const float *B, int64_t sj, int64_t sk, int64_t k,
                                float *T);
/* Packs nc <= nr rows of X (ldx apart), k values each, as columns: P[t][c]
 * = X[c][t], zero for c from nc to nr. */
typedef void (*llm_gemm_pack_rows)(const float *X, int64_t ldx, int nc, int64_t k, float *P,
                                   int nr);
/* C[r][c] = T[c LLM_GEMM_PANEL + r] for r < mr, c < nc: the columns icols
 * stored into rows of C (it may read each column's floats up to mr
 * rounded up to 8, which icols wrote). */
typedef void (*llm_gemm_unpack_cols)(const float *T, int nc, int mr, float *C, int64_t ldc);
typedef struct llm_gemm_blocks {
    int lanes, nr, mr, nj;
    llm_gemm_jblock jrows[8];
    llm_gemm_iblock icols[2][8];
    llm_gemm_pack_rows pack_rows; /* NULL: element by element */
    llm_gemm_unpack_cols unpack_cols;
    /* the instruction set's epilogue kernel, on each block as it is done */
    void (*epilogue)(float *C, int64_t ldc, int64_t m, int64_t n, const float *bias, int gelu);
} llm_gemm_blocks;
#if defined(__x86_64__)
/* In 8 x 8 blocks of AVX2 shuffles (vecmath_avx2.c; the AVX-512 blocks use it
 * too): element by element, packing the keys for attention's Q K^T was a
 * twentieth of an encoder's time. */
void llm_gemm_pack_rows_avx2(const float *X, int64_t ldx, int nc, int64_t k, float *P, int nr);
/* The same transpositions: one float at a time, the columns went into rows
 * of C a scattered float each, and a long prompt's Q K^T (which took this
 * path then) ran at a tenth of the speed of its S V. */
void llm_gemm_unpack_cols_avx2(const float *T, int nc, int mr, float *C, int64_t ldc);
#endif
void llm_gemm_run(const llm_gemm_blocks *g, const float *A, int64_t lda, int m, const float *B,
                  int64_t ldb, int b_rows, int n, int64_t k, float *C, int64_t ldc, float *scratch,
                  const llm_epilogue *ep);

/* llm_gemm_nn_f16's blocks (vecmath_avx2.c, vecmath_avx512.c), which
 * llm_gemm_f16_run drives: rows[r - 1] takes r <= mr rows of A, each
 * a[i][k] broadcast, against nc <= nr columns of B in F16 (ldb halves
 * apart), widened as they are loaded; each element the fma chain over k
 * from zero. */
typedef void (*llm_gemm_f16_block)(const float *A, int64_t lda, const uint16_t *B, int64_t ldb,
                                   int64_t k, float *C, int64_t ldc, int nc);
typedef struct llm_gemm_f16_blocks {
    int nr, mr;
    llm_gemm_f16_block rows[8];
} llm_gemm_f16_blocks;
void llm_gemm_f16_run(const llm_gemm_f16_blocks *g, const float *A, int64_t lda, int m,
                      const uint16_t *B, int64_t ldb, int n, int64_t k, float *C, int64_t ldc);

/* One table per instruction set: llm_isa_select switches all of it. */
/* A row against activations quantized to Q8_0 blocks (see llm_dot_row_q8). */
typedef float (*llm_dot_q8_fn)(const void *row, const void *xq, int64_t n);
/* One row against nx activation rows (llm_dot_rows, llm_dot_rows_q8). */
typedef void (*llm_dot_rows_fn)(const void *row, const float *x, int64_t ldx, int nx, float *out,
                                int64_t ldo, int64_t n);
typedef void (*llm_dot_q8_rows_fn)(const void *row, const void *xa, size_t ldxa, int nx, float *out,
                                   int64_t ldo, int64_t n);
/* nw weight rows, row_bytes apart, against nx activation rows: out[j * ldo
 * + i] for row i, bit for bit what the rows kernel gives each. */
typedef void (*llm_dot_q8_tile_fn)(const void *rows, size_t row_bytes, int nw, const void *xa,
                                   size_t ldxa, int nx, float *out, int64_t ldo, int64_t n);
/* Lays out n activations quantized to Q8_0 (xq) for a rows kernel (xa). */
typedef struct llm_q8_layout {
    size_t (*bytes)(int64_t n);
    void (*prepare)(const void *xq, int64_t n, void *xa);
} llm_q8_layout;

/* A rows kernel must give, for each row, bit for bit what the single kernel
 * of the same table gives: kernels are installed with llm_set_dot and
 * llm_set_dot_q8, which set a type's rows kernel (and layout) with its
 * single kernel, its own or NULL: a loop over the single kernel (on plain
 * Q8_0 blocks). */
typedef struct llm_kernels {
    llm_dequant_fn dequant[LLM_DTYPE_MAX];
    llm_dot_fn dot[LLM_DTYPE_MAX];
    llm_dot_rows_fn dot_rows[LLM_DTYPE_MAX];
    llm_dot_q8_fn dot_q8[LLM_DTYPE_MAX]; /* NULL: the type has none */
    llm_dot_q8_rows_fn dot_q8_rows[LLM_DTYPE_MAX];
    llm_dot_q8_tile_fn dot_q8_tile[LLM_DTYPE_MAX]; /* NULL: the rows kernel, row by row */
    const llm_q8_layout *q8_layout[LLM_DTYPE_MAX];
    /* activations to Q8_0 for the integer kernels (NULL: llm_quantize_row);
     * may round ties to even where llm_quantize_row rounds them away */
    void (*q8_quantize)(const float *x, void *dst, int64_t n);
    /* floats to F16, the bits of llm_f32_to_f16 (NULL: it, one by one) */
    void (*f16_row)(const float *x, uint16_t *dst, int64_t n);
    llm_vec_kernels vec;
} llm_kernels;

/* The types every instruction set has kernels for, as X(type, name): plain
 * floats, and blocks. */
#define LLM_PLAIN_TYPES(X) X(LLM_F32, f32) X(LLM_F16, f16) X(LLM_BF16, bf16)
/* (kept out of clang-format: it rewraps this list differently each run) */
// clang-format off
#define LLM_BLOCK_TYPES(X)                                                                         \
    X(LLM_Q4_0, q4_0) X(LLM_Q4_1, q4_1) X(LLM_Q5_0, q5_0) X(LLM_Q5_1, q5_1) X(LLM_Q8_0, q8_0)      \
    X(LLM_IQ4_NL, iq4_nl) X(LLM_Q2_K, q2_K) X(LLM_Q3_K, q3_K) X(LLM_Q4_K, q4_K) X(LLM_Q5_K, q5_K)  \
    X(LLM_Q6_K, q6_K) X(LLM_IQ4_XS, iq4_xs)
// clang-format on

/* Install a type's kernels, its rows kernel always with them (NULL: a loop
 * over the single kernel), so that no table pairs a single kernel with
 * another set's rows kernel. */
static inline void llm_set_dot(llm_kernels *k, llm_dtype t, llm_dequant_fn dequant, llm_dot_fn dot,
                               llm_dot_rows_fn rows)
{
    k->dequant[t] = dequant;
    k->dot[t] = dot;
    k->dot_rows[t] = rows;
}

static inline void llm_set_dot_q8(llm_kernels *k, llm_dtype t, llm_dot_q8_fn dot,
                                  llm_dot_q8_rows_fn rows, llm_dot_q8_tile_fn tile,
                                  const llm_q8_layout *layout)
{
    k->dot_q8[t] = dot;
    k->dot_q8_rows[t] = rows;
    k->dot_q8_tile[t] = tile;
    k->q8_layout[t] = layout;
}

/* A rows kernel, dot_q8_rows_<name>, from dotm_q8_<name>(row, xa, ldxa,
 * out, ldo, n, m), a kernel that takes m <= 4 activation rows at once (m a
 * constant once inlined): four rows per pass over the weights, then the
 * rest. attr: the function's attributes (a target, or nothing). */
#define LLM_Q8_ROWS_BY_4(attr, name)                                                               \
    attr static void dot_q8_rows_##name(const void *row, const void *xa, size_t ldxa, int nx,      \
                                        float *out, int64_t ldo, int64_t n)                        \
    {                                                                                              \
        const uint8_t *xb = xa;                                                                    \
        for (; nx >= 4; nx -= 4, xb += 4 * ldxa, out += 4 * ldo)                                   \
            dotm_q8_##name(row, xb, ldxa, out, ldo, n, 4);                                         \
        if (nx == 3) dotm_q8_##name(row, xb, ldxa, out, ldo, n, 3);                                \
        if (nx == 2) dotm_q8_##name(row, xb, ldxa, out, ldo, n, 2);                                \
        if (nx == 1) dotm_q8_##name(row, xb, ldxa, out, ldo, n, 1);                                \
    }

/* A tile kernel, dot_q8_tile_<name>: nw weight rows, rb bytes apart, each
 * against nx activation rows as dot_q8_rows_<name> takes them, in one call
 * (decoding called the kernels through the dispatcher once per 1 KB row),
 * the rows one after another as one stream (two rows at once, their chains
 * interleaved, streamed from memory at two thirds of the speed). */
#define LLM_Q8_TILE(attr, name)                                                                    \
    attr static void dot_q8_tile_##name(const void *rows, size_t rb, int nw, const void *xa,       \
                                        size_t ldxa, int nx, float *out, int64_t ldo, int64_t n)   \
    {                                                                                              \
        const uint8_t *w = rows;                                                                   \
        if (nx == 1)                                                                               \
            for (int i = 0; i < nw; i++, w += rb)                                                  \
                dotm_q8_##name(w, xa, 0, out + i, 0, n, 1);                                        \
        else                                                                                       \
            for (int i = 0; i < nw; i++, w += rb)                                                  \
                dot_q8_rows_##name(w, xa, ldxa, nx, out + i, ldo, n);                              \
    }

/* Each fills in the kernels of its instruction set. The reference covers
 * every type with can_compute; the SIMD sets override all of them.
 * llm_kernels_ref clears the whole table, vector math included. */
void llm_kernels_ref(llm_kernels *k);
void llm_kernels_avx2(llm_kernels *k);
void llm_kernels_avx512(llm_kernels *k);
/* Each sets every function of the vector math table. */
void llm_vec_kernels_ref(llm_vec_kernels *k);
void llm_vec_kernels_avx2(llm_vec_kernels *k);
void llm_vec_kernels_avx512(llm_vec_kernels *k);

#endif
