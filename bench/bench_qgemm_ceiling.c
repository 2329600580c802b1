/* bench/bench_qgemm_ceiling.c: how close the integer prompt kernel's inner
 * loop (llm/qgemm_avx512.c, tile) can come to the 8-bit multiply-add peak
 * on this CPU, apart from everything around it (packing, quantizing the
 * activations, memory, threads).
 *
 *   bench_qgemm_ceiling
 *
 * One thread, every operand in the first-level cache, blocks of 32 values
 * as Q8_0's: 16 weight rows (one vector of unsigned bytes) against 8
 * activation rows (each four bytes broadcast), eight vpdpbusd steps per
 * block and row, then
 *   sums only       the block's integer sums added up (no scales)
 *   as the kernel   each sum converted, times the weight scales times the
 *                   activation row's scale, added to a float accumulator
 *                   (a conversion, a multiply and a multiply-add per 8
 *                   vpdpbusd: what every block of 32 costs)
 * and the same with 32 weight rows (two vectors) against 6 activation rows
 * (fewer loads per vpdpbusd: 16 x 8 loads 9 operands per 8 of them), each
 * as a ratio to the peak measured beside it (llm_qgemm_peak_loop: 12
 * independent chains of vpdpbusd from registers, what rag bench-model and
 * bench-embed divide by). Where the multiply-adds and the float steps share
 * the vector units, the float steps are the ceiling: a whole prefill cannot
 * pass "as the kernel". Two more rows of the 32 x 6 tile say which float
 * step costs, each leaving one out (so not the kernel's results):
 *   no d x dx       the sum converted and multiply-added by the weight
 *                   scales alone (as if the activations had one scale per
 *                   row, applied at the end)
 *   no conversion   the multiply and the multiply-add on the sum's bits
 * On a 2-core AMD EPYC (Zen 5): sums only 0.94-1.01 of the peak, as the
 * kernel 0.72-0.77, no d x dx 0.86-0.88, no conversion 0.78-0.80: the
 * multiply d x dx and the multiply-add share the units that run vpdpbusd,
 * and the conversion mostly does not. The multiply is needed while weights
 * and activations each have a scale per block of 32 (the kernel's products
 * are the same bits on every path and batch size, llm/qgemm.h): only a
 * coarser activation scale would take it out. Prints SKIP without AVX-512
 * VNNI. */
#include "base/time.h"
#include "llm/qgemm.h"

#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define VNNI __attribute__((target("avx512vnni,avx512bw,avx512f,avx512dq"), noinline, noipa))

enum { K = 896, NB = K / 32, ROUNDS = 100000 };

static _Alignas(64) uint8_t w[2][NB * 512]; /* two panels: per block 8 vectors of 64 bytes */
static _Alignas(64) float wd[2][NB * 16];   /* their scales, 16 per block */
static _Alignas(64) int8_t x[8][K];         /* activation rows */
static float xd[8][NB];                     /* their block scales */
static int32_t xs[8][NB];                   /* their block sums (Q8_0's offset of 128) */
static _Alignas(64) float out[16 * 16];

static inline int32_t load4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

#define INLINE __attribute__((target("avx512vnni,avx512bw,avx512f,avx512dq"), always_inline)) inline

/* 16 weight rows x 8 activation rows; SCALE: the block's float steps, or
 * the integer sums added up. */
INLINE static void tile16x8(const int SCALE)
{
    __m512 acc[8];
    __m512i isum[8];
    _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++)
    {
        acc[j] = _mm512_setzero_ps();
        isum[j] = _mm512_setzero_si512();
    }
    for (int b = 0; b < NB; b++) {
        const uint8_t *v = w[0] + b * 512;
        __m512i s[8];
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) s[j] =
            _mm512_set1_epi32(-128 * xs[j][b]);
        _Pragma("GCC unroll 8") for (int t = 0; t < 8; t++)
        {
            __m512i wv = _mm512_load_si512((const void *)(v + 64 * t));
            _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) s[j] =
                _mm512_dpbusd_epi32(s[j], wv, _mm512_set1_epi32(load4(x[j] + b * 32 + 4 * t)));
        }
        __m512 d = _mm512_load_ps(wd[0] + b * 16);
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++)
        {
            if (SCALE)
                acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[j]),
                                         _mm512_mul_ps(d, _mm512_set1_ps(xd[j][b])), acc[j]);
            else
                isum[j] = _mm512_add_epi32(isum[j], s[j]);
        }
    }
    _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++)
        _mm512_store_ps(out + 16 * j, _mm512_add_ps(acc[j], _mm512_castsi512_ps(isum[j])));
}

/* 32 weight rows (two vectors) x 6 activation rows; SCALE as tile16x8's,
 * or NO_DX, NO_CVT (the rows above). */
enum { NO_DX = 2, NO_CVT = 3 };
INLINE static void tile32x6(const int SCALE)
{
    __m512 acc[6][2];
    __m512i isum[6][2];
    _Pragma("GCC unroll 6") for (int j = 0; j < 6; j++)
    {
        acc[j][0] = acc[j][1] = _mm512_setzero_ps();
        isum[j][0] = isum[j][1] = _mm512_setzero_si512();
    }
    for (int b = 0; b < NB; b++) {
        const uint8_t *v0 = w[0] + b * 512, *v1 = w[1] + b * 512;
        __m512i s[6][2];
        _Pragma("GCC unroll 6") for (int j = 0; j < 6; j++) s[j][0] = s[j][1] =
            _mm512_set1_epi32(-128 * xs[j][b]);
        _Pragma("GCC unroll 8") for (int t = 0; t < 8; t++)
        {
            __m512i w0 = _mm512_load_si512((const void *)(v0 + 64 * t)),
                    w1 = _mm512_load_si512((const void *)(v1 + 64 * t));
            _Pragma("GCC unroll 6") for (int j = 0; j < 6; j++)
            {
                __m512i a = _mm512_set1_epi32(load4(x[j] + b * 32 + 4 * t));
                s[j][0] = _mm512_dpbusd_epi32(s[j][0], w0, a);
                s[j][1] = _mm512_dpbusd_epi32(s[j][1], w1, a);
            }
        }
        __m512 d0 = _mm512_load_ps(wd[0] + b * 16), d1 = _mm512_load_ps(wd[1] + b * 16);
        _Pragma("GCC unroll 6") for (int j = 0; j < 6; j++)
        {
            __m512 dx = _mm512_set1_ps(xd[j][b]);
            for (int h = 0; h < 2; h++) {
                if (SCALE == NO_DX)
                    acc[j][h] =
                        _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[j][h]), h ? d1 : d0, acc[j][h]);
                else if (SCALE == NO_CVT)
                    acc[j][h] = _mm512_fmadd_ps(_mm512_castsi512_ps(s[j][h]),
                                                _mm512_mul_ps(h ? d1 : d0, dx), acc[j][h]);
                else if (SCALE)
                    acc[j][h] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[j][h]),
                                                _mm512_mul_ps(h ? d1 : d0, dx), acc[j][h]);
                else
                    isum[j][h] = _mm512_add_epi32(isum[j][h], s[j][h]);
            }
        }
    }
    _Pragma("GCC unroll 6") for (int j = 0; j < 6; j++) for (int h = 0; h < 2; h++) _mm512_store_ps(
        out + 32 * j + 16 * h, _mm512_add_ps(acc[j][h], _mm512_castsi512_ps(isum[j][h])));
}

VNNI static void sums16x8(void)
{
    tile16x8(0);
}
VNNI static void kernel16x8(void)
{
    tile16x8(1);
}
VNNI static void sums32x6(void)
{
    tile32x6(0);
}
VNNI static void kernel32x6(void)
{
    tile32x6(1);
}
VNNI static void no_dx32x6(void)
{
    tile32x6(NO_DX);
}
VNNI static void no_cvt32x6(void)
{
    tile32x6(NO_CVT);
}

/* Multiply-adds per second of fn, macs per call, best of three. */
static double rate(void (*fn)(void), double macs)
{
    double best = 0;
    for (int r = 0; r < 3; r++) {
        double t0 = rag_now_s();
        for (int i = 0; i < ROUNDS; i++)
            fn();
        double v = macs * ROUNDS / (rag_now_s() - t0);
        if (v > best) best = v;
    }
    return best;
}

static double peak(void)
{
    double best = 0;
    for (int r = 0; r < 3; r++) {
        double t0 = rag_now_s(), macs = llm_qgemm_peak_loop(20 * 1000 * 1000);
        double v = macs / (rag_now_s() - t0);
        if (v > best) best = v;
    }
    return best;
}

int main(void)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512vnni") || !__builtin_cpu_supports("avx512bw") ||
        llm_qgemm_active() != LLM_QGEMM_AVX512VNNI) {
        printf("bench_qgemm_ceiling: SKIP (no AVX-512 VNNI path on this CPU)\n");
        return 0;
    }
    for (size_t i = 0; i < sizeof w; i++)
        ((uint8_t *)w)[i] = (uint8_t)(i * 37 + 11);
    for (int b = 0; b < NB * 16; b++)
        wd[0][b] = wd[1][b] = 0.01f * (float)(b % 7 + 1);
    for (int j = 0; j < 8; j++)
        for (int b = 0; b < NB; b++) {
            xd[j][b] = 0.02f;
            xs[j][b] = 0;
            for (int t = 0; t < 32; t++)
                xs[j][b] += x[j][b * 32 + t] = (int8_t)((j * 31 + b * 7 + t * 13) % 255 - 127);
        }
    double p = peak(), r[6];
    static const struct {
        const char *name;
        void (*fn)(void);
        double macs;
    } loops[] = {{"16 x 8, sums only", sums16x8, 16.0 * 8 * K},
                 {"16 x 8, as the kernel", kernel16x8, 16.0 * 8 * K},
                 {"32 x 6, sums only", sums32x6, 32.0 * 6 * K},
                 {"32 x 6, as the kernel", kernel32x6, 32.0 * 6 * K},
                 {"32 x 6, no d x dx", no_dx32x6, 32.0 * 6 * K},
                 {"32 x 6, no conversion", no_cvt32x6, 32.0 * 6 * K}};
    for (size_t i = 0; i < 6; i++)
        r[i] = rate(loops[i].fn, loops[i].macs);
    double p2 = peak(); /* the clock moves on a shared machine: the higher peak */
    if (p2 > p) p = p2;
    printf("integer prompt kernel's inner loop, one thread, k = %d (blocks of 32)\n", K);
    printf("  %-28s %6.1f G multiply-adds/s\n", "peak (12 chains of vpdpbusd)", p / 1e9);
    for (size_t i = 0; i < 6; i++)
        printf("  %-28s %6.1f  (%.2f of peak)\n", loops[i].name, r[i] / 1e9, r[i] / p);
    return 0;
}
