/* llm/qgemm_avx2.c: the 256-bit kernels of the integer prefill path
 * (llm/qgemm.h), panels of 8 weight rows: AVX-VNNI (vpdpbusd on ymm, for
 * CPUs that have it without AVX-512) and plain AVX2, which multiplies with
 * vpmaddubsw (unsigned times signed bytes, pairs summed into 16 bits, which
 * saturate: hence only types whose values stay under 64, 2 * 63 * 127 <
 * 32767) and widens with vpmaddwd against ones. Compiled with the AVX2
 * flags (Makefile); the VNNI kernel carries its own target.
 *
 * The steps per block are those of qgemm_avx512.c in the same order (the
 * integer sum from -off * S, then the float scale, then the min), so every
 * path gives the same bits. */
#include "llm/qgemm_pack.h"

#if defined(__x86_64__)
#if !defined(__AVX2__) || !defined(__FMA__)
#error "llm/qgemm_avx2.c must be compiled with the AVX2 flags (see the Makefile)"
#endif

#include <immintrin.h>
#include <string.h>

#define AVXVNNI __attribute__((target("avxvnni,avx2,fma")))
#define RN_VNNI 6
#define RN_AVX2 4

static inline int32_t load_i32(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The lanes of acc kept by nl, stored at y. */
static inline void store_lanes(float *y, __m256 acc, int nl)
{
    if (nl == 8) {
        _mm256_storeu_ps(y, acc);
        return;
    }
    float tmp[8];
    _mm256_storeu_ps(tmp, acc);
    memcpy(y, tmp, (size_t)nl * sizeof(float));
}

/* One kernel body for both: MAC(s, w, x) adds four products per lane. */
#define QG_TILE(ATTR, NAME, RNMAX, MAC, SETUP)                                                     \
    ATTR static inline __attribute__((always_inline)) void NAME(                                   \
        const llm_qg_panel *p, const llm_qg_acts *a, int64_t j0, const int nj, const int BS,       \
        const int MIN, float *Y, int64_t ldy, int nl)                                              \
    {                                                                                              \
        SETUP;                                                                                     \
        const int64_t k = p->k, nb = k / BS;                                                       \
        const int off = p->off;                                                                    \
        const int8_t *x[RNMAX];                                                                    \
        const float *dx[RNMAX], *ns[RNMAX];                                                        \
        const int32_t *sum[RNMAX];                                                                 \
        __m256 acc[RNMAX];                                                                         \
        _Pragma("GCC unroll 8") for (int j = 0; j < nj; j++)                                       \
        {                                                                                          \
            x[j] = a->q + (j0 + j) * k;                                                            \
            dx[j] = (BS == 16 ? a->dx16 : a->dx32) + (j0 + j) * nb;                                \
            ns[j] = (BS == 16 ? a->ns16 : a->ns32) + (j0 + j) * nb;                                \
            sum[j] = (BS == 16 ? a->sum16 : a->sum32) + (j0 + j) * nb;                             \
            acc[j] = _mm256_setzero_ps();                                                          \
        }                                                                                          \
        const __m256i *w = (const __m256i *)(const void *)p->q;                                    \
        for (int64_t b = 0; b < nb; b++) {                                                         \
            __m256i s[RNMAX];                                                                      \
            _Pragma("GCC unroll 8") for (int j = 0; j < nj; j++) s[j] =                            \
                MIN ? _mm256_setzero_si256() : _mm256_set1_epi32(-off * sum[j][b]);                \
            _Pragma("GCC unroll 8") for (int t = 0; t < BS / 4; t++, w++)                          \
            {                                                                                      \
                __m256i wv = _mm256_load_si256(w);                                                 \
                _Pragma("GCC unroll 8") for (int j = 0; j < nj; j++)                               \
                {                                                                                  \
                    __m256i xv = _mm256_set1_epi32(load_i32(x[j] + b * BS + 4 * t));               \
                    s[j] = MAC(s[j], wv, xv);                                                      \
                }                                                                                  \
            }                                                                                      \
            __m256 dv = _mm256_load_ps(p->d + b * 8);                                              \
            _Pragma("GCC unroll 8") for (int j = 0; j < nj; j++) acc[j] = _mm256_fmadd_ps(         \
                _mm256_cvtepi32_ps(s[j]), _mm256_mul_ps(dv, _mm256_set1_ps(dx[j][b])), acc[j]);    \
            if (MIN) {                                                                             \
                __m256 mv = _mm256_load_ps(p->m + b * 8);                                          \
                _Pragma("GCC unroll 8") for (int j = 0; j < nj; j++) acc[j] =                      \
                    _mm256_fmadd_ps(mv, _mm256_set1_ps(ns[j][b]), acc[j]);                         \
            }                                                                                      \
        }                                                                                          \
        _Pragma("GCC unroll 8") for (int j = 0; j < nj; j++)                                       \
            store_lanes(Y + (j0 + j) * ldy, acc[j], nl);                                           \
    }

/* Activation row j, blocks of 32: four vectors of 8. */
static void quantize(llm_qg_acts *a, int64_t j, const float *x)
{
    int8_t *q = a->q + j * a->k;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < a->k / 32; b++, x += 32, q += 32) {
        __m256 v[4], m = _mm256_setzero_ps();
        for (int i = 0; i < 4; i++) {
            v[i] = _mm256_loadu_ps(x + 8 * i);
            m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[i]));
        }
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        float amax = _mm_cvtss_f32(h);
        float d = amax / 127.0f, id = amax > 0 ? 127.0f / amax : 0.0f;
        __m256 s = _mm256_set1_ps(id);
        __m256i qi[4];
        for (int i = 0; i < 4; i++)
            qi[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], s));
        /* to bytes in order: pack to 16 bits, then 8, then undo the lane interleave */
        __m256i p16a = _mm256_packs_epi32(qi[0], qi[1]), p16b = _mm256_packs_epi32(qi[2], qi[3]);
        __m256i p8 = _mm256_packs_epi16(p16a, p16b);
        p8 = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(void *)q, p8);
        __m256i s01 = _mm256_add_epi32(qi[0], qi[1]), s23 = _mm256_add_epi32(qi[2], qi[3]);
        int32_t t0[8], t1[8];
        _mm256_storeu_si256((__m256i *)(void *)t0, s01);
        _mm256_storeu_si256((__m256i *)(void *)t1, s23);
        int s0 = 0, s1 = 0;
        for (int i = 0; i < 8; i++)
            s0 += t0[i], s1 += t1[i];
        qg_block_consts(a, j, b, d, s0, s1);
    }
}

#define MAC_VNNI(s, w, x) _mm256_dpbusd_avx_epi32(s, w, x)
#define MAC_AVX2(s, w, x) _mm256_add_epi32(s, _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), ones))

QG_TILE(AVXVNNI, tile_vnni, RN_VNNI, MAC_VNNI, (void)0)
QG_TILE(, tile_avx2, RN_AVX2, MAC_AVX2, const __m256i ones = _mm256_set1_epi16(1))

#define QG_KERNEL(ATTR, NAME, TILE, RNMAX)                                                         \
    ATTR static inline __attribute__((always_inline)) void NAME##_bs(                              \
        const llm_qg_panel *p, const llm_qg_acts *a, int64_t j0, int64_t j1, float *Y,             \
        int64_t ldy, int nl, const int BS, const int MIN)                                          \
    {                                                                                              \
        for (; j1 - j0 >= RNMAX; j0 += RNMAX)                                                      \
            TILE(p, a, j0, RNMAX, BS, MIN, Y, ldy, nl);                                            \
        switch (j1 - j0) {                                                                         \
        case 5:                                                                                    \
            if (5 < RNMAX) TILE(p, a, j0, 5, BS, MIN, Y, ldy, nl);                                 \
            break;                                                                                 \
        case 4:                                                                                    \
            if (4 < RNMAX) TILE(p, a, j0, 4, BS, MIN, Y, ldy, nl);                                 \
            break;                                                                                 \
        case 3:                                                                                    \
            if (3 < RNMAX) TILE(p, a, j0, 3, BS, MIN, Y, ldy, nl);                                 \
            break;                                                                                 \
        case 2:                                                                                    \
            if (2 < RNMAX) TILE(p, a, j0, 2, BS, MIN, Y, ldy, nl);                                 \
            break;                                                                                 \
        case 1:                                                                                    \
            if (1 < RNMAX) TILE(p, a, j0, 1, BS, MIN, Y, ldy, nl);                                 \
            break;                                                                                 \
        }                                                                                          \
    }                                                                                              \
    ATTR static void NAME##_16_0(const llm_qg_panel *p, const llm_qg_acts *a, int64_t j0,          \
                                 int64_t j1, float *Y, int64_t ldy, int nl)                        \
    {                                                                                              \
        NAME##_bs(p, a, j0, j1, Y, ldy, nl, 16, 0);                                                \
    }                                                                                              \
    ATTR static void NAME##_16_1(const llm_qg_panel *p, const llm_qg_acts *a, int64_t j0,          \
                                 int64_t j1, float *Y, int64_t ldy, int nl)                        \
    {                                                                                              \
        NAME##_bs(p, a, j0, j1, Y, ldy, nl, 16, 1);                                                \
    }                                                                                              \
    ATTR static void NAME##_32_0(const llm_qg_panel *p, const llm_qg_acts *a, int64_t j0,          \
                                 int64_t j1, float *Y, int64_t ldy, int nl)                        \
    {                                                                                              \
        NAME##_bs(p, a, j0, j1, Y, ldy, nl, 32, 0);                                                \
    }                                                                                              \
    ATTR static void NAME##_32_1(const llm_qg_panel *p, const llm_qg_acts *a, int64_t j0,          \
                                 int64_t j1, float *Y, int64_t ldy, int nl)                        \
    {                                                                                              \
        NAME##_bs(p, a, j0, j1, Y, ldy, nl, 32, 1);                                                \
    }                                                                                              \
    ATTR static void NAME(const llm_qg_panel *p, const llm_qg_acts *a, int64_t j0, int64_t j1,     \
                          float *Y, int64_t ldy, int nl)                                           \
    {                                                                                              \
        if (p->bs == 16)                                                                           \
            (p->off ? NAME##_16_0 : NAME##_16_1)(p, a, j0, j1, Y, ldy, nl);                        \
        else                                                                                       \
            (p->off ? NAME##_32_0 : NAME##_32_1)(p, a, j0, j1, Y, ldy, nl);                        \
    }

QG_KERNEL(AVXVNNI, kernel_vnni, tile_vnni, RN_VNNI)
QG_KERNEL(, kernel_avx2, tile_avx2, RN_AVX2)

/* 8 rows of 8 groups of four values at a time: an 8 x 8 transposition of
 * 32-bit elements. */
static void interleave8(const uint8_t *tmp, int64_t k, int lanes, uint8_t *q)
{
    if (lanes != 8) {
        qg_interleave_tail(tmp, k, lanes, q, 0);
        return;
    }
    int64_t c = 0;
    for (; c + 32 <= k; c += 32) {
        __m256i r[8], t[8];
        for (int i = 0; i < 8; i++)
            r[i] = _mm256_loadu_si256((const __m256i *)(const void *)(tmp + (size_t)i * k + c));
        for (int i = 0; i < 8; i += 2) {
            t[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]);
            t[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]);
        }
        for (int i = 0; i < 8; i += 4) {
            r[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);
            r[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
            r[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);
            r[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
        }
        /* r[b]: rows 0-3, group b of each 128-bit lane; r[4 + b]: rows 4-7 */
        uint8_t *o = q + (size_t)(c / 4) * 32;
        for (int b = 0; b < 4; b++) {
            _mm256_storeu_si256((__m256i *)(void *)(o + (size_t)b * 32),
                                _mm256_permute2x128_si256(r[b], r[4 + b], 0x20));
            _mm256_storeu_si256((__m256i *)(void *)(o + (size_t)(4 + b) * 32),
                                _mm256_permute2x128_si256(r[b], r[4 + b], 0x31));
        }
    }
    qg_interleave_tail(tmp, k, lanes, q, c);
}

static void pack(llm_dtype t, const void *rows, size_t row_bytes, int nrows, int64_t k, int lanes,
                 void *mem, void *tmp, llm_qg_panel *p)
{
    qg_pack_via(t, rows, row_bytes, nrows, k, lanes, mem, tmp, p, interleave8);
}

/* The peak probes: 8 independent chains of the kernels' step, 32
 * multiply-adds each, operands in registers. */
#define QG_PEAK(ATTR, NAME, MAC, SETUP)                                                            \
    ATTR static double NAME(int64_t rounds)                                                        \
    {                                                                                              \
        SETUP;                                                                                     \
        __m256i acc[8], w = _mm256_set1_epi8(3), x = _mm256_set1_epi8(-5);                         \
        for (int i = 0; i < 8; i++)                                                                \
            acc[i] = _mm256_set1_epi32(i);                                                         \
        for (int64_t r = 0; r < rounds; r++) {                                                     \
            _Pragma("GCC unroll 8") for (int i = 0; i < 8; i++) acc[i] = MAC(acc[i], w, x);        \
            __asm__ volatile("" : "+x"(w), "+x"(x));                                               \
        }                                                                                          \
        for (int i = 0; i < 8; i++) /* the sums are used (no arithmetic on them: they wrap) */     \
            __asm__ volatile("" : : "x"(acc[i]));                                                  \
        return (double)rounds * 8 * 32;                                                            \
    }
QG_PEAK(AVXVNNI, peak_vnni, MAC_VNNI, (void)0)
QG_PEAK(, peak_avx2, MAC_AVX2, const __m256i ones = _mm256_set1_epi16(1))

/* no interleaved groups here (the row kernels decode), no pair kernel, no
 * quantizing of blocks across rows */
static const llm_qg_ops ops_vnni = {.path = LLM_QGEMM_AVXVNNI,
                                    .lanes = 8,
                                    .max_u = 255,
                                    .kernel = kernel_vnni,
                                    .quantize = quantize,
                                    .pack = pack,
                                    .peak = peak_vnni};
static const llm_qg_ops ops_avx2 = {.path = LLM_QGEMM_AVX2,
                                    .lanes = 8,
                                    .max_u = 63,
                                    .kernel = kernel_avx2,
                                    .quantize = quantize,
                                    .pack = pack,
                                    .peak = peak_avx2};

static int have_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

const llm_qg_ops *llm_qg_ops_avxvnni(void)
{
    return have_avx2() && __builtin_cpu_supports("avxvnni") ? &ops_vnni : NULL;
}

const llm_qg_ops *llm_qg_ops_avx2(void)
{
    return have_avx2() ? &ops_avx2 : NULL;
}

#else
const llm_qg_ops *llm_qg_ops_avxvnni(void)
{
    return NULL;
}
const llm_qg_ops *llm_qg_ops_avx2(void)
{
    return NULL;
}
#endif
