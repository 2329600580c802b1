/* llm/qgemm_avx512.c: the AVX-512 VNNI kernel of the integer prefill path
 * (llm/qgemm.h): a panel of 16 weight rows, one per 32-bit lane, against up
 * to RN activation rows at a time. Compiled with the AVX-512 flags
 * (Makefile); the VNNI functions carry their own target and are offered
 * only when the CPU has the instruction.
 *
 * Per block of bs values and activation row j: bs / 4 vpdpbusd into an
 * integer accumulator that starts at -off * S_j (each one 64 multiply-adds:
 * four values of 16 rows against four values of row j broadcast), then in
 * float acc_j += float(int_j) * (d * dx_j), and for the types with a min
 * acc_j += m * ns_j (ns_j = -dx_j * S_j, S_j the sum of the block's
 * activation values). RN = 8 keeps 8
 * integer and 8 float accumulators in registers; the panel's vector of four
 * values is loaded once for the 8 rows and the activations come broadcast
 * from memory. A prompt's product takes two full panels at a time where it
 * can (tile_pair: 32 rows against 6 activation rows, each broadcast used
 * twice). The same tile decodes from interleaved groups (il_rows,
 * llm_qg_il_pack), with the groups' F16 scales and prefetching. */
#include "llm/qgemm_pack.h"

#if defined(__x86_64__)
#if !defined(__AVX512F__) || !defined(__AVX512BW__)
#error "llm/qgemm_avx512.c must be compiled with the AVX-512 flags (see the Makefile)"
#endif

#include <immintrin.h>
#include <string.h>

#define VNNI __attribute__((target("avx512vnni,avx512bw,avx512f,avx512dq")))
#define RN 8

static inline int32_t load_i32(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* How far ahead the decoding kernel (il_rows) prefetches a group's values:
 * a group streams from memory once per step. Q8_0, 2 cores (AMD EPYC):
 * four activation rows 33 GB/s at 1024 bytes, 35 at 2048, 40 at 4096 (8192
 * no different); one row 72.8 tokens/s at 4096, 69.9 at 8192 (Qwen2.5-0.5B,
 * medians of five alternated runs). The nibble types measured best at
 * twice that (why, untested): Qwen2.5-0.5B Q4_K_M (Q5_0, Q4_K, Q6_K), one
 * sequence 84.8 -> 90.5 tokens/s at 8192 (medians of six; the farther
 * distance won 12 of 14 alternated runs in three sets); four
 * sequences at 512 positions, the gate and up products of a step 6.3 -> 4.9
 * ms timed alone (at 512 positions the whole step no faster: README);
 * 16384 no better. */
#define IL_PREFETCH_BYTES 4096
#define IL_PREFETCH_NIBBLES 8192
#define IL_PREFETCH(FMT) ((FMT) == IL_Q8_0 ? IL_PREFETCH_BYTES : IL_PREFETCH_NIBBLES)

/* The values' form: a panel's bytes (scales as floats), or an interleaved
 * group's (llm/qgemm.h) of Q8_0 (bytes), Q4_0, Q5_0, Q4_K or Q5_K
 * (nibbles), or Q6_K (tile_q6_K). */
enum { PANEL, IL_Q8_0, IL_Q4_0, IL_Q5_0, IL_Q4_K, IL_Q5_K };

/* The 64-byte vectors i and i + 4 of a nibble block at v (its nibble vector
 * i), with the high bits from its masks: HIGH 1 the fifth (Q5_0, Q5_K: a
 * mask per vector at 256), 2 the fifth and sixth (Q6_K: two masks per
 * vector at 256). */
VNNI static inline __attribute__((always_inline)) void
nibble_vectors(const uint8_t *v, int i, const int HIGH, __m512i *lo, __m512i *hi)
{
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    __m512i n = _mm512_load_si512((const void *)(v + 64 * i));
    *lo = _mm512_and_si512(n, low4);
    *hi = _mm512_and_si512(_mm512_srli_epi16(n, 4), low4);
    for (int h = 0; h < HIGH; h++) {
        uint64_t ml, mh;
        memcpy(&ml, v + 256 + 8 * HIGH * i + 8 * h, 8);
        memcpy(&mh, v + 256 + 8 * HIGH * (i + 4) + 8 * h, 8);
        const __m512i bit = _mm512_set1_epi8((char)(0x10 << h));
        *lo = _mm512_mask_add_epi8(*lo, (__mmask64)ml, *lo, bit);
        *hi = _mm512_mask_add_epi8(*hi, (__mmask64)mh, *hi, bit);
    }
}

/* 16 F16 values at p, as floats. */
VNNI static inline __m512 halves(const uint8_t *p)
{
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)p));
}

/* 16 bytes at p as floats: unsigned, or signed (SIGNED). */
VNNI static inline __m512 bytes_ps(const uint8_t *p, const int SIGNED)
{
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)p);
    return _mm512_cvtepi32_ps(SIGNED ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b));
}

/* nj (<= RN) rows from j0 against the 16 rows of values q in form FMT,
 * blocks of BS values with scales d and mins m (a panel's), or a group's
 * scales S and super-block scales D, with or without the min term (MIN);
 * the constants once inlined into the callers. Every form gives the
 * integer sums of the same values and the same scales, so the same bits;
 * a group's values are prefetched (it streams from memory, decoding). */
VNNI static inline __attribute__((always_inline)) void
tile(const uint8_t *q, const float *d, const float *m, const uint8_t *S, const uint8_t *D,
     int64_t k, int off, const llm_qg_acts *a, int64_t j0, const int nj, const int BS,
     const int MIN, const int FMT, float *Y, int64_t ldy, __mmask16 keep)
{
    const int64_t nb = k / BS;
    const int vb = FMT == PANEL || FMT == IL_Q8_0     ? 16 * BS
                   : FMT == IL_Q5_0 || FMT == IL_Q5_K ? 320
                                                      : 256;
    const int8_t *x[RN];
    const float *dx[RN], *ns[RN];
    const int32_t *sum[RN];
    __m512 acc[RN];
    _Pragma("GCC unroll 8") for (int j = 0; j < nj; j++)
    {
        x[j] = a->q + (j0 + j) * k;
        dx[j] = (BS == 16 ? a->dx16 : a->dx32) + (j0 + j) * nb;
        ns[j] = (BS == 16 ? a->ns16 : a->ns32) + (j0 + j) * nb;
        sum[j] = (BS == 16 ? a->sum16 : a->sum32) + (j0 + j) * nb;
        acc[j] = _mm512_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *v = q + b * vb;
        __m512i s[RN];
        _Pragma("GCC unroll 8") for (int j = 0; j < nj; j++) s[j] =
            MIN ? _mm512_setzero_si512() : _mm512_set1_epi32(-off * sum[j][b]);
        if (FMT != PANEL)
            for (int l = 0; l < vb; l += 64)
                _mm_prefetch((const char *)v + IL_PREFETCH(FMT) + l, _MM_HINT_T0);
        if (FMT == PANEL || FMT == IL_Q8_0) {
            _Pragma("GCC unroll 8") for (int t = 0; t < BS / 4; t++)
            {
                __m512i wv = _mm512_load_si512((const void *)(v + 64 * t));
                _Pragma("GCC unroll 8") for (int j = 0; j < nj; j++) s[j] = _mm512_dpbusd_epi32(
                    s[j], wv, _mm512_set1_epi32(load_i32(x[j] + b * BS + 4 * t)));
            }
        } else {
            _Pragma("GCC unroll 4") for (int i = 0; i < 4; i++)
            {
                __m512i lo, hi;
                nibble_vectors(v, i, FMT == IL_Q5_0 || FMT == IL_Q5_K, &lo, &hi);
                _Pragma("GCC unroll 8") for (int j = 0; j < nj; j++)
                {
                    s[j] = _mm512_dpbusd_epi32(s[j], lo,
                                               _mm512_set1_epi32(load_i32(x[j] + b * BS + 4 * i)));
                    s[j] = _mm512_dpbusd_epi32(
                        s[j], hi, _mm512_set1_epi32(load_i32(x[j] + b * BS + 4 * i + 16)));
                }
            }
        }
        __m512 dv, mv = _mm512_setzero_ps();
        if (FMT == PANEL) {
            dv = _mm512_load_ps(d + b * 16);
            if (MIN) mv = _mm512_load_ps(m + b * 16);
        } else if (FMT == IL_Q4_K || FMT == IL_Q5_K) { /* d * scale, dmin * min: as packed */
            dv = _mm512_mul_ps(halves(D + b / 8 * 64), bytes_ps(S + b * 32, 0));
            mv = _mm512_mul_ps(halves(D + b / 8 * 64 + 32), bytes_ps(S + b * 32 + 16, 0));
        } else {
            dv = halves(S + b * 32);
        }
        _Pragma("GCC unroll 8") for (int j = 0; j < nj; j++) acc[j] = _mm512_fmadd_ps(
            _mm512_cvtepi32_ps(s[j]), _mm512_mul_ps(dv, _mm512_set1_ps(dx[j][b])), acc[j]);
        if (MIN)
            _Pragma("GCC unroll 8") for (int j = 0; j < nj; j++) acc[j] =
                _mm512_fmadd_ps(mv, _mm512_set1_ps(ns[j][b]), acc[j]);
    }
    _Pragma("GCC unroll 8") for (int j = 0; j < nj; j++)
        _mm512_mask_storeu_ps(Y + (j0 + j) * ldy, keep, acc[j]);
}

/* tile for a Q6_K group: blocks of 16, two at a time (one nibble block of
 * 32 holds both: its vectors 0-3 the first, 4-7 the second), each with
 * d * scale formed as the packing forms it; the float steps those of
 * tile's blocks of 16 in their order. */
VNNI static inline __attribute__((always_inline)) void
tile_q6_K(const uint8_t *q, const uint8_t *S, const uint8_t *D, int64_t k, const llm_qg_acts *a,
          const int nj, float *Y, int64_t ldy, __mmask16 keep)
{
    const int64_t nb = k / 16;
    const int8_t *x[RN];
    const float *dx[RN];
    const int32_t *sum[RN];
    __m512 acc[RN];
    _Pragma("GCC unroll 8") for (int j = 0; j < nj; j++)
    {
        x[j] = a->q + j * k;
        dx[j] = a->dx16 + j * nb;
        sum[j] = a->sum16 + j * nb;
        acc[j] = _mm512_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b += 2) {
        const uint8_t *v = q + b / 2 * 384;
        __m512i s0[RN], s1[RN];
        _Pragma("GCC unroll 8") for (int j = 0; j < nj; j++)
        {
            s0[j] = _mm512_set1_epi32(-32 * sum[j][b]);
            s1[j] = _mm512_set1_epi32(-32 * sum[j][b + 1]);
        }
        for (int l = 0; l < 384; l += 64)
            _mm_prefetch((const char *)v + IL_PREFETCH_NIBBLES + l, _MM_HINT_T0);
        _Pragma("GCC unroll 4") for (int i = 0; i < 4; i++)
        {
            __m512i lo, hi;
            nibble_vectors(v, i, 2, &lo, &hi);
            _Pragma("GCC unroll 8") for (int j = 0; j < nj; j++)
            {
                s0[j] = _mm512_dpbusd_epi32(s0[j], lo,
                                            _mm512_set1_epi32(load_i32(x[j] + b * 16 + 4 * i)));
                s1[j] = _mm512_dpbusd_epi32(
                    s1[j], hi, _mm512_set1_epi32(load_i32(x[j] + b * 16 + 16 + 4 * i)));
            }
        }
        __m512 dsup = halves(D + b / 16 * 64);
        __m512 d0 = _mm512_mul_ps(dsup, bytes_ps(S + b * 16, 1)),
               d1 = _mm512_mul_ps(dsup, bytes_ps(S + b * 16 + 16, 1));
        _Pragma("GCC unroll 8") for (int j = 0; j < nj; j++)
        {
            acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0[j]),
                                     _mm512_mul_ps(d0, _mm512_set1_ps(dx[j][b])), acc[j]);
            acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s1[j]),
                                     _mm512_mul_ps(d1, _mm512_set1_ps(dx[j][b + 1])), acc[j]);
        }
    }
    _Pragma("GCC unroll 8") for (int j = 0; j < nj; j++)
        _mm512_mask_storeu_ps(Y + j * ldy, keep, acc[j]);
}

/* Two panels' 32 rows (lanes full) against nj (<= RN2) activation rows
 * from j0: tile's steps for each panel, in its order, each activation
 * value broadcast once for both. A step of four values loads 8 operands
 * (two panel vectors, six broadcasts) for 12 vpdpbusd, where tile's loads
 * 9 for 8, and the 24 accumulators still fit the registers. The same
 * operations on every element as tile's, so the same bits. */
#define RN2 6
VNNI static inline __attribute__((always_inline)) void
tile_pair(const llm_qg_panel *p, const llm_qg_acts *a, int64_t j0, const int nj, const int BS,
          const int MIN, float *Y, int64_t ldy)
{
    const int64_t nb = p->k / BS;
    const int off = p->off;
    const int8_t *x[RN2];
    const float *dx[RN2], *ns[RN2];
    const int32_t *sum[RN2];
    __m512 acc[RN2][2];
    _Pragma("GCC unroll 6") for (int j = 0; j < nj; j++)
    {
        x[j] = a->q + (j0 + j) * p->k;
        dx[j] = (BS == 16 ? a->dx16 : a->dx32) + (j0 + j) * nb;
        ns[j] = (BS == 16 ? a->ns16 : a->ns32) + (j0 + j) * nb;
        sum[j] = (BS == 16 ? a->sum16 : a->sum32) + (j0 + j) * nb;
        acc[j][0] = acc[j][1] = _mm512_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *v0 = p[0].q + b * 16 * BS, *v1 = p[1].q + b * 16 * BS;
        __m512i s[RN2][2];
        _Pragma("GCC unroll 6") for (int j = 0; j < nj; j++) s[j][0] = s[j][1] =
            MIN ? _mm512_setzero_si512() : _mm512_set1_epi32(-off * sum[j][b]);
        _Pragma("GCC unroll 8") for (int t = 0; t < BS / 4; t++)
        {
            __m512i w0 = _mm512_load_si512((const void *)(v0 + 64 * t)),
                    w1 = _mm512_load_si512((const void *)(v1 + 64 * t));
            _Pragma("GCC unroll 6") for (int j = 0; j < nj; j++)
            {
                __m512i xv = _mm512_set1_epi32(load_i32(x[j] + b * BS + 4 * t));
                s[j][0] = _mm512_dpbusd_epi32(s[j][0], w0, xv);
                s[j][1] = _mm512_dpbusd_epi32(s[j][1], w1, xv);
            }
        }
        __m512 d0 = _mm512_load_ps(p[0].d + b * 16), d1 = _mm512_load_ps(p[1].d + b * 16);
        _Pragma("GCC unroll 6") for (int j = 0; j < nj; j++)
        {
            __m512 dxv = _mm512_set1_ps(dx[j][b]);
            acc[j][0] =
                _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[j][0]), _mm512_mul_ps(d0, dxv), acc[j][0]);
            acc[j][1] =
                _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[j][1]), _mm512_mul_ps(d1, dxv), acc[j][1]);
        }
        if (MIN) {
            __m512 m0 = _mm512_load_ps(p[0].m + b * 16), m1 = _mm512_load_ps(p[1].m + b * 16);
            _Pragma("GCC unroll 6") for (int j = 0; j < nj; j++)
            {
                __m512 nsv = _mm512_set1_ps(ns[j][b]);
                acc[j][0] = _mm512_fmadd_ps(m0, nsv, acc[j][0]);
                acc[j][1] = _mm512_fmadd_ps(m1, nsv, acc[j][1]);
            }
        }
    }
    _Pragma("GCC unroll 6") for (int j = 0; j < nj; j++)
    {
        _mm512_storeu_ps(Y + (j0 + j) * ldy, acc[j][0]);
        _mm512_storeu_ps(Y + (j0 + j) * ldy + 16, acc[j][1]);
    }
}

/* A panel's tile; a group's (offset: the type's). */
#define PANEL_TILE(nj, BS, MIN)                                                                    \
    tile(p->q, p->d, p->m, NULL, NULL, p->k, p->off, a, j0, nj, BS, MIN, PANEL, Y, ldy, keep)
#define GROUP_TILE(nj, FMT, OFF)                                                                   \
    tile(g, NULL, NULL, S, D, k, OFF, a, 0, nj, 32, FMT == IL_Q4_K || FMT == IL_Q5_K, FMT, Y, ldy, \
         keep)
#define GROUP_TILE_Q6_K(nj, unused) tile_q6_K(g, S, D, k, a, nj, Y, ldy, keep)

/* T(n, ...) for n = nj, 1 to 7: a constant in each call, so that the
 * tile's loops over the rows unroll. */
#define BY_ROWS(nj, T, ...)                                                                        \
    switch (nj) {                                                                                  \
    case 7:                                                                                        \
        T(7, __VA_ARGS__);                                                                         \
        break;                                                                                     \
    case 6:                                                                                        \
        T(6, __VA_ARGS__);                                                                         \
        break;                                                                                     \
    default:                                                                                       \
        BY_FEWER_ROWS(nj, T, __VA_ARGS__)                                                          \
    }
/* The same for nj = 1 to 5 (what tile_pair's RN2 of 6 leaves). */
#define BY_FEWER_ROWS(nj, T, ...)                                                                  \
    switch (nj) {                                                                                  \
    case 5:                                                                                        \
        T(5, __VA_ARGS__);                                                                         \
        break;                                                                                     \
    case 4:                                                                                        \
        T(4, __VA_ARGS__);                                                                         \
        break;                                                                                     \
    case 3:                                                                                        \
        T(3, __VA_ARGS__);                                                                         \
        break;                                                                                     \
    case 2:                                                                                        \
        T(2, __VA_ARGS__);                                                                         \
        break;                                                                                     \
    case 1:                                                                                        \
        T(1, __VA_ARGS__);                                                                         \
        break;                                                                                     \
    }

#define TILES(BS, MIN)                                                                             \
    VNNI static void rows_##BS##_##MIN(const llm_qg_panel *p, const llm_qg_acts *a, int64_t j0,    \
                                       int64_t j1, float *Y, int64_t ldy, __mmask16 keep)          \
    {                                                                                              \
        for (; j1 - j0 >= RN; j0 += RN)                                                            \
            PANEL_TILE(RN, BS, MIN);                                                               \
        BY_ROWS(j1 - j0, PANEL_TILE, BS, MIN)                                                      \
    }
TILES(16, 0)
TILES(16, 1)
TILES(32, 0)
TILES(32, 1)

#define PAIR_TILE(nj, BS, MIN) tile_pair(p, a, j0, nj, BS, MIN, Y, ldy)
#define PAIR_TILES(BS, MIN)                                                                        \
    VNNI static void pairs_##BS##_##MIN(const llm_qg_panel *p, const llm_qg_acts *a, int64_t j0,   \
                                        int64_t j1, float *Y, int64_t ldy)                         \
    {                                                                                              \
        for (; j1 - j0 >= RN2; j0 += RN2)                                                          \
            PAIR_TILE(RN2, BS, MIN);                                                               \
        BY_FEWER_ROWS(j1 - j0, PAIR_TILE, BS, MIN)                                                 \
    }
PAIR_TILES(16, 0)
PAIR_TILES(16, 1)
PAIR_TILES(32, 0)
PAIR_TILES(32, 1)

/* The vector whose lane i reduces v[i]'s 16 lanes: four rounds that each
 * halve the vectors, combining two by 256-bit, 128-bit, 64-bit and 32-bit
 * halves. The result's lane (i % 4) * 4 + i / 4 comes from v[i]: callers
 * put their i-th vector at that index (the permutation is its own
 * inverse) to read the lanes in their order. MAX: max of floats, else sum
 * of 32-bit integers (both exact in any order). */
static inline __attribute__((always_inline)) __m512i reduce16(const __m512i *v, const int MAX)
{
#define RED(a, b)                                                                                  \
    (MAX ? _mm512_castps_si512(_mm512_max_ps(_mm512_castsi512_ps(a), _mm512_castsi512_ps(b)))      \
         : _mm512_add_epi32(a, b))
#define SHUF(a, b, imm)                                                                            \
    _mm512_castps_si512(_mm512_shuffle_ps(_mm512_castsi512_ps(a), _mm512_castsi512_ps(b), imm))
    __m512i t[8], u[4], w[2];
    for (int i = 0; i < 8; i++)
        t[i] = RED(_mm512_shuffle_i32x4(v[2 * i], v[2 * i + 1], 0x44),
                   _mm512_shuffle_i32x4(v[2 * i], v[2 * i + 1], 0xEE));
    for (int i = 0; i < 4; i++)
        u[i] = RED(_mm512_shuffle_i32x4(t[2 * i], t[2 * i + 1], 0x88),
                   _mm512_shuffle_i32x4(t[2 * i], t[2 * i + 1], 0xDD));
    for (int i = 0; i < 2; i++)
        w[i] = RED(SHUF(u[2 * i], u[2 * i + 1], 0x88), SHUF(u[2 * i], u[2 * i + 1], 0xDD));
    return RED(SHUF(w[0], w[1], 0x88), SHUF(w[0], w[1], 0xDD));
#undef SHUF
#undef RED
}

#define AT(i) (((i) % 4) * 4 + (i) / 4) /* where reduce16 wants the i-th vector */

/* Sixteen blocks of 32 values, block i (i < nblk) at x + i * xs, its
 * values quantized into q + i * qs: per block, amax = max |x|, the scale d
 * = amax / 127, the values x * (127 / amax) rounded to nearest even (0
 * where amax is 0) and their sums per half block; the reductions and
 * divisions done for the sixteen blocks at once. Lane i of *d and *sum
 * (the block's sum) is block i's; lanes 2i and 2i + 1 of sums[h] the
 * halves of block 8h + i. Blocks past nblk count as zeros. */
static inline __attribute__((always_inline)) void blocks16(int nblk, const float *x, int64_t xs,
                                                           int8_t *q, int64_t qs, __m512 *d,
                                                           __m512i *sum, __m512i sums[2])
{
    const __m512 sign = _mm512_set1_ps(-0.0f);
    __m512i v[16];
    for (int i = 0; i < 16; i++)
        v[AT(i)] = i < nblk ? _mm512_castps_si512(_mm512_max_ps(
                                  _mm512_andnot_ps(sign, _mm512_loadu_ps(x + xs * i)),
                                  _mm512_andnot_ps(sign, _mm512_loadu_ps(x + xs * i + 16))))
                            : _mm512_setzero_si512();
    __m512 amax = _mm512_castsi512_ps(reduce16(v, 1));
    *d = _mm512_div_ps(amax, _mm512_set1_ps(127.0f));
    __m512 id = _mm512_maskz_div_ps(_mm512_cmp_ps_mask(amax, _mm512_setzero_ps(), _CMP_GT_OQ),
                                    _mm512_set1_ps(127.0f), amax);
    float ids[16];
    _mm512_storeu_ps(ids, id);
    /* the values, and the sums of each half block: eight blocks at a time,
     * vector 2i the first half of block i, 2i + 1 the second */
    for (int h = 0; h < 2; h++) {
        for (int i = 0; i < 8; i++) {
            if (8 * h + i >= nblk) {
                v[AT(2 * i)] = v[AT(2 * i + 1)] = _mm512_setzero_si512();
                continue;
            }
            const float *xb = x + xs * (8 * h + i);
            int8_t *qb = q + qs * (8 * h + i);
            __m512 s = _mm512_set1_ps(ids[8 * h + i]);
            __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xb), s)),
                    q1 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xb + 16), s));
            _mm_storeu_si128((__m128i *)(void *)qb, _mm512_cvtsepi32_epi8(q0));
            _mm_storeu_si128((__m128i *)(void *)(qb + 16), _mm512_cvtsepi32_epi8(q1));
            v[AT(2 * i)] = q0;
            v[AT(2 * i + 1)] = q1;
        }
        sums[h] = reduce16(v, 0); /* s0, s1 of blocks 8h .. 8h + 7 */
    }
    const __m512i even =
                      _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30),
                  odd =
                      _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    *sum = _mm512_add_epi32(_mm512_permutex2var_epi32(sums[0], even, sums[1]),
                            _mm512_permutex2var_epi32(sums[0], odd, sums[1]));
}

/* The constants of qg_block_consts for blocks16's results, the same float
 * operations: *ns = -d times each block's sum; dd[h] and ns16[h], d and
 * -d times the halves' sums, in the lanes of sums[h] (the blocks of 16). */
static inline __attribute__((always_inline)) void block_consts16(__m512 d, __m512i sum,
                                                                 const __m512i sums[2], __m512 *ns,
                                                                 __m512 dd[2], __m512 ns16[2])
{
    __m512 nd = _mm512_xor_ps(d, _mm512_set1_ps(-0.0f));
    *ns = _mm512_mul_ps(nd, _mm512_cvtepi32_ps(sum));
    for (int h = 0; h < 2; h++) {
        __m512i twice = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
        twice = _mm512_add_epi32(twice, _mm512_set1_epi32(8 * h));
        dd[h] = _mm512_permutexvar_ps(twice, d);
        ns16[h] = _mm512_mul_ps(_mm512_permutexvar_ps(twice, nd), _mm512_cvtepi32_ps(sums[h]));
    }
}

/* Blocks b .. b + nblk - 1 (nblk <= 16) of activation row j (blocks16,
 * then the constants stored sixteen at once: a block at a time, two
 * horizontal reductions, two scalar divisions and nine scalar stores were
 * two thirds of the work: 64 rows of 4,864 values, 78 -> 33 us). */
static void quantize16(llm_qg_acts *a, int64_t j, int64_t b, int nblk, const float *x, int8_t *q)
{
    int64_t nb = a->k / 32;
    __m512 d, ns, dd[2], ns16[2];
    __m512i sum, sums[2];
    blocks16(nblk, x, 32, q, 32, &d, &sum, sums);
    block_consts16(d, sum, sums, &ns, dd, ns16);
    __mmask16 keep = (__mmask16)((1u << nblk) - 1);
    _mm512_mask_storeu_ps(a->dx32 + j * nb + b, keep, d);
    _mm512_mask_storeu_ps(a->ns32 + j * nb + b, keep, ns);
    _mm512_mask_storeu_epi32(a->sum32 + j * nb + b, keep, sum);
    for (int h = 0; h < 2 && 8 * h < nblk; h++) {
        int left = nblk - 8 * h > 8 ? 8 : nblk - 8 * h;
        __mmask16 keep2 = (__mmask16)((1u << (2 * left)) - 1);
        int64_t at = j * 2 * nb + 2 * b + 16 * h;
        _mm512_mask_storeu_ps(a->dx16 + at, keep2, dd[h]);
        _mm512_mask_storeu_ps(a->ns16 + at, keep2, ns16[h]);
        _mm512_mask_storeu_epi32(a->sum16 + at, keep2, sums[h]);
    }
}

/* Block b of activation rows j .. j + nr - 1 (nr <= 16), row i's 32
 * values at x + i * ldx: quantize16's values and constants for each row,
 * the sixteen lanes going across rows instead of blocks; of the constants
 * only those a panel of blocks of bs with a min (or an offset) reads, each
 * a store into another row's line (all nine took twice the time of the
 * values: 20-26 ms on each thread of a 512-token Qwen2.5-0.5B prompt). */
static void quantize_block(llm_qg_acts *a, int64_t j, int nr, int64_t b, const float *x,
                           int64_t ldx, int bs, int min)
{
    int64_t nb = a->k / 32;
    __m512 d, ns, dd[2], ns16[2];
    __m512i sum, sums[2];
    blocks16(nr, x, ldx, a->q + j * a->k + 32 * b, a->k, &d, &sum, sums);
    block_consts16(d, sum, sums, &ns, dd, ns16);
    float fd[16], fns[16], fns16[32];
    int32_t isum[16], isum16[32];
    _mm512_storeu_ps(fd, d);
    _mm512_storeu_ps(fns, ns);
    _mm512_storeu_si512(isum, sum);
    for (int h = 0; h < 2; h++) {
        _mm512_storeu_ps(fns16 + 16 * h, ns16[h]);
        _mm512_storeu_si512(isum16 + 16 * h, sums[h]);
    }
    for (int i = 0; i < nr; i++) {
        int64_t r = j + i, at = r * 2 * nb + 2 * b;
        if (bs == 32) {
            a->dx32[r * nb + b] = fd[i];
            if (min)
                a->ns32[r * nb + b] = fns[i];
            else
                a->sum32[r * nb + b] = isum[i];
            continue;
        }
        a->dx16[at] = a->dx16[at + 1] = fd[i];
        if (min) {
            a->ns16[at] = fns16[2 * i];
            a->ns16[at + 1] = fns16[2 * i + 1];
        } else {
            a->sum16[at] = isum16[2 * i];
            a->sum16[at + 1] = isum16[2 * i + 1];
        }
    }
}
#undef AT

/* Activation row j, sixteen blocks at a time. */
static void quantize(llm_qg_acts *a, int64_t j, const float *x)
{
    int64_t nb = a->k / 32;
    int8_t *q = a->q + j * a->k;
    for (int64_t b = 0; b < nb; b += 16)
        quantize16(a, j, b, nb - b < 16 ? (int)(nb - b) : 16, x + 32 * b, q + 32 * b);
}

VNNI static void kernel(const llm_qg_panel *p, const llm_qg_acts *a, int64_t j0, int64_t j1,
                        float *Y, int64_t ldy, int nl)
{
    __mmask16 keep = (__mmask16)((1u << nl) - 1);
    if (p->bs == 16)
        (p->off ? rows_16_0 : rows_16_1)(p, a, j0, j1, Y, ldy, keep);
    else
        (p->off ? rows_32_0 : rows_32_1)(p, a, j0, j1, Y, ldy, keep);
}

/* kernel for panels p[0] and p[1] (both full) at once: Y's lanes 0-15
 * from p[0], 16-31 from p[1]. */
VNNI static void kernel2(const llm_qg_panel *p, const llm_qg_acts *a, int64_t j0, int64_t j1,
                         float *Y, int64_t ldy)
{
    if (p->bs == 16)
        (p->off ? pairs_16_0 : pairs_16_1)(p, a, j0, j1, Y, ldy);
    else
        (p->off ? pairs_32_0 : pairs_32_1)(p, a, j0, j1, Y, ldy);
}

/* Decoding: nj (<= 7) activation rows against an interleaved group, its
 * tile T(nj, ...). */
#define GROUP_ROWS(name, T, ...)                                                                   \
    VNNI static void name(const uint8_t *g, const uint8_t *S, const uint8_t *D, int64_t k,         \
                          const llm_qg_acts *a, int nj, float *Y, int64_t ldy, __mmask16 keep)     \
    {                                                                                              \
        BY_ROWS(nj, T, __VA_ARGS__)                                                                \
    }
GROUP_ROWS(rows_il_q8_0, GROUP_TILE, IL_Q8_0, 128)
GROUP_ROWS(rows_il_q4_0, GROUP_TILE, IL_Q4_0, 8)
GROUP_ROWS(rows_il_q5_0, GROUP_TILE, IL_Q5_0, 16)
GROUP_ROWS(rows_il_q4_K, GROUP_TILE, IL_Q4_K, 0)
GROUP_ROWS(rows_il_q5_K, GROUP_TILE, IL_Q5_K, 0)
GROUP_ROWS(rows_il_q6_K, GROUP_TILE_Q6_K, 0)

VNNI static void il_rows(llm_dtype t, const void *gp, int64_t k, const llm_qg_acts *a, int nj,
                         float *Y, int64_t ldy, int nl)
{
    assert(nj >= 1 && nj <= 7 && nl >= 1 && nl <= 16); /* BY_ROWS's cases */
    __mmask16 keep = (__mmask16)((1u << nl) - 1);
    const uint8_t *g = gp, *S = g + llm_qg_il_scales_at(t, k), *D = g + llm_qg_il_supers_at(t, k);
    switch (t) {
    case LLM_Q8_0:
        rows_il_q8_0(g, S, D, k, a, nj, Y, ldy, keep);
        break;
    case LLM_Q5_0:
        rows_il_q5_0(g, S, D, k, a, nj, Y, ldy, keep);
        break;
    case LLM_Q4_0:
        rows_il_q4_0(g, S, D, k, a, nj, Y, ldy, keep);
        break;
    case LLM_Q4_K:
        rows_il_q4_K(g, S, D, k, a, nj, Y, ldy, keep);
        break;
    case LLM_Q5_K:
        rows_il_q5_K(g, S, D, k, a, nj, Y, ldy, keep);
        break;
    default: /* LLM_Q6_K */
        rows_il_q6_K(g, S, D, k, a, nj, Y, ldy, keep);
        break;
    }
}

/* A packed panel's values (16 lanes) as a group's: its vectors, or those
 * paired into nibbles (vector i low, i + 4 high) with the high bits as
 * masks (Q5_0 the fifth, Q6_K the fifth and sixth). */
static void il_store(llm_dtype t, const llm_qg_panel *p, void *gp)
{
    int64_t nb = p->k / 32;
    int vb = llm_qg_il_block_bytes(t), high = llm_qg_il_high_bits(t);
    uint8_t *g = gp;
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *u = p->q + b * 512;
        uint8_t *v = g + b * vb;
        if (t == LLM_Q8_0) {
            memcpy(v, u, 512);
            continue;
        }
        for (int i = 0; i < 4; i++) {
            __m512i lo = _mm512_load_si512((const void *)(u + 64 * i)),
                    hi = _mm512_load_si512((const void *)(u + 64 * (i + 4)));
            __m512i n = _mm512_or_si512(_mm512_and_si512(lo, low4),
                                        _mm512_slli_epi16(_mm512_and_si512(hi, low4), 4));
            _mm512_store_si512((void *)(v + 64 * i), n);
            for (int h = 0; h < high; h++) {
                const __m512i bit = _mm512_set1_epi8((char)(0x10 << h));
                uint64_t ml = _mm512_test_epi8_mask(lo, bit), mh = _mm512_test_epi8_mask(hi, bit);
                memcpy(v + 256 + 8 * high * i + 8 * h, &ml, 8);
                memcpy(v + 256 + 8 * high * (i + 4) + 8 * h, &mh, 8);
            }
        }
    }
}

/* The panel of a group: Q8_0's values in place, the nibbles unpacked into
 * mem; the scales (and mins) into mem as the packing forms them. */
VNNI static void il_panel(llm_dtype t, const void *gp, int64_t k, void *mem, llm_qg_panel *p)
{
    int64_t nb = k / 32;
    int vb = llm_qg_il_block_bytes(t), bs = llm_qg_block(t);
    const uint8_t *g = gp, *S = g + llm_qg_il_scales_at(t, k), *D = g + llm_qg_il_supers_at(t, k);
    uint8_t *u = mem;
    float *d = (float *)(void *)(u + (((size_t)k * 16 + 63) & ~(size_t)63)), *m = d + k / 16 * 16;
    if (t != LLM_Q8_0)
        for (int64_t b = 0; b < nb; b++)
            for (int i = 0; i < 4; i++) {
                __m512i lo, hi;
                nibble_vectors(g + b * vb, i, llm_qg_il_high_bits(t), &lo, &hi);
                _mm512_store_si512((void *)(u + b * 512 + 64 * i), lo);
                _mm512_store_si512((void *)(u + b * 512 + 64 * (i + 4)), hi);
            }
    for (int64_t b = 0; b < k / bs; b++) {
        if (!llm_qg_offset(t)) { /* Q4_K, Q5_K */
            _mm512_store_ps(d + b * 16,
                            _mm512_mul_ps(halves(D + b / 8 * 64), bytes_ps(S + b * 32, 0)));
            _mm512_store_ps(m + b * 16, _mm512_mul_ps(halves(D + b / 8 * 64 + 32),
                                                      bytes_ps(S + b * 32 + 16, 0)));
        } else if (t == LLM_Q6_K) {
            _mm512_store_ps(d + b * 16,
                            _mm512_mul_ps(halves(D + b / 16 * 64), bytes_ps(S + b * 16, 1)));
        } else {
            _mm512_store_ps(d + b * 16, halves(S + b * 32));
        }
    }
    *p = (llm_qg_panel){.q = t == LLM_Q8_0 ? g : u,
                        .d = d,
                        .m = llm_qg_offset(t) ? NULL : m, /* the types with a min */
                        .k = k,
                        .bs = bs,
                        .lanes = 16,
                        .off = llm_qg_offset(t)};
}

/* 16 rows of 16 groups of four values at a time: a 16 x 16 transposition
 * of 32-bit elements (unpacks of 32 and 64 bits, then of 128-bit lanes). */
static void interleave16(const uint8_t *tmp, int64_t k, int lanes, uint8_t *q)
{
    if (lanes != 16) {
        qg_interleave_tail(tmp, k, lanes, q, 0);
        return;
    }
    int64_t c = 0;
    for (; c + 64 <= k; c += 64) {
        __m512i r[16], t[16];
        for (int i = 0; i < 16; i++)
            r[i] = _mm512_loadu_si512((const void *)(tmp + (size_t)i * k + c));
        for (int i = 0; i < 16; i += 2) {
            t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
            t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
        }
        for (int i = 0; i < 16; i += 4) {
            r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
            r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
            r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
            r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
        }
        /* r[4a + b]: rows 4a..4a+3, group b of each 128-bit lane */
        for (int a = 0; a < 4; a += 2)
            for (int b = 0; b < 4; b++) {
                t[4 * a + b] = _mm512_shuffle_i32x4(r[4 * a + b], r[4 * a + 4 + b], 0x88);
                t[4 * a + 4 + b] = _mm512_shuffle_i32x4(r[4 * a + b], r[4 * a + 4 + b], 0xDD);
            }
        /* t[b], t[4 + b]: rows 0-7, lanes (0, 2) and (1, 3); t[8 + b], t[12 + b]: rows 8-15 */
        for (int b = 0; b < 4; b++) {
            __m512i l02 = _mm512_shuffle_i32x4(t[b], t[8 + b], 0x88),
                    l13 = _mm512_shuffle_i32x4(t[4 + b], t[12 + b], 0x88),
                    h02 = _mm512_shuffle_i32x4(t[b], t[8 + b], 0xDD),
                    h13 = _mm512_shuffle_i32x4(t[4 + b], t[12 + b], 0xDD);
            uint8_t *o = q + (size_t)(c / 4) * 64;
            _mm512_storeu_si512((void *)(o + (size_t)(0 + b) * 64), l02);
            _mm512_storeu_si512((void *)(o + (size_t)(4 + b) * 64), l13);
            _mm512_storeu_si512((void *)(o + (size_t)(8 + b) * 64), h02);
            _mm512_storeu_si512((void *)(o + (size_t)(12 + b) * 64), h13);
        }
    }
    qg_interleave_tail(tmp, k, lanes, q, c);
}

static void pack(llm_dtype t, const void *rows, size_t row_bytes, int nrows, int64_t k, int lanes,
                 void *mem, void *tmp, llm_qg_panel *p)
{
    qg_pack_via(t, rows, row_bytes, nrows, k, lanes, mem, tmp, p, interleave16);
}

/* 12 chains of vpdpbusd, each 64 multiply-adds, independent so that
 * latency does not count; the operands stay in registers. */
VNNI static double peak(int64_t rounds)
{
    __m512i acc[12], w = _mm512_set1_epi8(3), x = _mm512_set1_epi8(-5);
    for (int i = 0; i < 12; i++)
        acc[i] = _mm512_set1_epi32(i);
    for (int64_t r = 0; r < rounds; r++) {
        _Pragma("GCC unroll 12") for (int i = 0; i < 12; i++) acc[i] =
            _mm512_dpbusd_epi32(acc[i], w, x);
        __asm__ volatile("" : "+v"(w), "+v"(x)); /* keeps the loop from folding */
    }
    for (int i = 0; i < 12; i++) /* the sums are used (no arithmetic on them: they wrap) */
        __asm__ volatile("" : : "v"(acc[i]));
    return (double)rounds * 12 * 64;
}

static const llm_qg_ops ops = {.path = LLM_QGEMM_AVX512VNNI,
                               .lanes = 16,
                               .max_u = 255,
                               .kernel = kernel,
                               .quantize = quantize,
                               .pack = pack,
                               .peak = peak,
                               .il_store = il_store,
                               .il_panel = il_panel,
                               .il_rows = il_rows,
                               .kernel2 = kernel2,
                               .quantize_block = quantize_block};

const llm_qg_ops *llm_qg_ops_avx512vnni(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                   __builtin_cpu_supports("avx512vnni")
               ? &ops
               : NULL;
}

#else
const llm_qg_ops *llm_qg_ops_avx512vnni(void)
{
    return NULL;
}
#endif
