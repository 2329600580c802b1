/* llm/quantize.c: quantizers from float rows to the block formats, for
 * writing GGUF files and for tests.
 *
 * They follow GGML's reference quantizers (quantize_row_*_ref in
 * ggml-quants.c, the ones llama-quantize uses when it has no importance
 * matrix) operation for operation, so a file written here holds the same
 * bytes that llama.cpp would write. That is why the code keeps GGML's
 * expression order, its float (not double) arithmetic and its rounding
 * helper. Neither side fuses multiply-adds: GGML's reference quantizers are
 * in ggml-base, built without CPU-specific flags, and -std=c11 turns
 * contraction off here. */
#include "llm/quant.h"
#include "llm/quant_int.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <string.h>

/* Rounds to nearest (ties to even) by adding 1.5 * 2^23, which leaves the
 * integer in the low mantissa bits; exact for |f| < 2^22, which the callers
 * ensure. Kept instead of lrintf because GGML uses it and its results for
 * out-of-range inputs (then clamped) must match too. */
static int nearest_int(float f)
{
    float v = f + 12582912.f;
    int32_t i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

static int imin(int a, int b)
{
    return a < b ? a : b;
}

static int imax(int a, int b)
{
    return a > b ? a : b;
}

/* ---- 32-element blocks ------------------------------------------------- */

/* Symmetric 4 bits: the value of largest magnitude maps to -8, so its sign
 * picks the direction in which the 16 levels are lopsided. */
static void quantize_q4_0(const float *x, llm_block_q4_0 *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += LLM_QK) {
        float amax = 0, max = 0;
        for (int j = 0; j < LLM_QK; j++)
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        float d = max / -8;
        float id = d ? 1.0f / d : 0.0f;
        y[i].d = llm_f32_to_f16(d);
        for (int j = 0; j < 16; j++) {
            int q0 = imin(15, (int8_t)(x[j] * id + 8.5f));
            int q1 = imin(15, (int8_t)(x[j + 16] * id + 8.5f));
            y[i].qs[j] = (uint8_t)(q0 | q1 << 4);
        }
    }
}

/* Affine 4 bits: levels spread from the block's min to its max. */
static void quantize_q4_1(const float *x, llm_block_q4_1 *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += LLM_QK) {
        float min = FLT_MAX, max = -FLT_MAX;
        for (int j = 0; j < LLM_QK; j++) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        float d = (max - min) / 15;
        float id = d ? 1.0f / d : 0.0f;
        y[i].d = llm_f32_to_f16(d);
        y[i].m = llm_f32_to_f16(min);
        for (int j = 0; j < 16; j++) {
            int q0 = imin(15, (int8_t)((x[j] - min) * id + 0.5f));
            int q1 = imin(15, (int8_t)((x[j + 16] - min) * id + 0.5f));
            y[i].qs[j] = (uint8_t)(q0 | q1 << 4);
        }
    }
}

static void quantize_q5_0(const float *x, llm_block_q5_0 *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += LLM_QK) {
        float amax = 0, max = 0;
        for (int j = 0; j < LLM_QK; j++)
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        float d = max / -16;
        float id = d ? 1.0f / d : 0.0f;
        y[i].d = llm_f32_to_f16(d);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            int q0 = imin(31, (int8_t)(x[j] * id + 16.5f));
            int q1 = imin(31, (int8_t)(x[j + 16] * id + 16.5f));
            y[i].qs[j] = (uint8_t)((q0 & 0xF) | (q1 & 0xF) << 4);
            qh |= (uint32_t)(q0 >> 4) << j | (uint32_t)(q1 >> 4) << (j + 16);
        }
        for (int k = 0; k < 4; k++)
            y[i].qh[k] = (uint8_t)(qh >> (8 * k));
    }
}

static void quantize_q5_1(const float *x, llm_block_q5_1 *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += LLM_QK) {
        float min = FLT_MAX, max = -FLT_MAX;
        for (int j = 0; j < LLM_QK; j++) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        float d = (max - min) / 31;
        float id = d ? 1.0f / d : 0.0f;
        y[i].d = llm_f32_to_f16(d);
        y[i].m = llm_f32_to_f16(min);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            int q0 = (uint8_t)((x[j] - min) * id + 0.5f);
            int q1 = (uint8_t)((x[j + 16] - min) * id + 0.5f);
            y[i].qs[j] = (uint8_t)((q0 & 0xF) | (q1 & 0xF) << 4);
            qh |= (uint32_t)((q0 >> 4) & 1) << j | (uint32_t)((q1 >> 4) & 1) << (j + 16);
        }
        for (int k = 0; k < 4; k++)
            y[i].qh[k] = (uint8_t)(qh >> (8 * k));
    }
}

static void quantize_q8_0(const float *x, llm_block_q8_0 *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += LLM_QK) {
        float amax = 0;
        for (int j = 0; j < LLM_QK; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127;
        float id = d ? 1.0f / d : 0.0f;
        y[i].d = llm_f32_to_f16(d);
        for (int j = 0; j < LLM_QK; j++)
            y[i].qs[j] = (int8_t)roundf(x[j] * id);
    }
}

/* ---- fitting helpers of the K-quants -----------------------------------
 * fit_affine is GGML's make_qkx2_quants: levels 0..nmax of x = scale * L -
 * min, searching nstep + 1 candidate scales around nmax / (max - min) and
 * refitting scale and min by weighted least squares for each; returns the
 * scale and stores the (positive) min. */
static float fit_affine(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                        float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep,
                        int use_mad)
{
    float min = x[0], max = x[0];
    float sum_w = weights[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)imax(0, imin(nmax, nearest_int(iscale * (x[i] - min))));
        float diff = scale * L[i] + min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        best_error += weights[i] * diff;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = imax(0, imin(nmax, nearest_int(iscale * (x[i] - min))));
            Laux[i] = (uint8_t)l;
            float w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                diff = use_mad ? fabsf(diff) : diff * diff;
                cur_error += weights[i] * diff;
            }
            if (cur_error < best_error) {
                memcpy(L, Laux, (size_t)n);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/* GGML's make_qx_quants with rmse_type 1 and no importance weights: signed
 * levels -nmax..nmax-1 (stored + nmax), the value of largest magnitude on
 * -nmax; tries 18 scales around it and keeps the best by x^2-weighted
 * least squares. */
static float fit_symmetric(int n, int nmax, const float *x, int8_t *L)
{
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < 1e-15f) { /* all zero */
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = imax(-nmax, imin(nmax - 1, nearest_int(iscale * x[i])));
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = imax(-nmax, imin(nmax - 1, nearest_int(iscale * x[i])));
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) {
                int l = nearest_int(iscale * x[i]);
                L[i] = (int8_t)(nmax + imax(-nmax, imin(nmax - 1, l)));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* GGML's make_q3_quants with do_rmse: signed levels -nmax..nmax-1 (stored +
 * nmax), then up to 5 passes that move single levels when that improves the
 * x^2-weighted fit. */
static float fit_q3(int n, int nmax, const float *x, int8_t *L)
{
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < 1e-15f) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = imax(-nmax, imin(nmax - 1, nearest_int(iscale * x[i])));
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    for (int itry = 0; itry < 5; itry++) {
        int n_changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * L[i];
            if (slx > 0) {
                float sl2 = suml2 - w * L[i] * L[i];
                int new_l = imax(-nmax, imin(nmax - 1, nearest_int(x[i] * sl2 / slx)));
                if (new_l != L[i]) {
                    slx += w * x[i] * new_l;
                    sl2 += w * new_l * new_l;
                    if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (int8_t)new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        n_changed++;
                    }
                }
            }
        }
        if (!n_changed) break;
    }
    for (int i = 0; i < n; i++)
        L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* Four 2-bit values per byte in the Q2_K / Q3_K order (quant_int.h). */
static void pack_2bit(const uint8_t *L, uint8_t *qs)
{
    for (int j = 0; j < LLM_QK_K; j += 128)
        for (int l = 0; l < 32; l++)
            qs[j / 4 + l] =
                (uint8_t)(L[j + l] | L[j + l + 32] << 2 | L[j + l + 64] << 4 | L[j + l + 96] << 6);
}

/* ---- K-quants ------------------------------------------------------------ */

static void quantize_q2_K(const float *x, llm_block_q2_K *y, int64_t nb)
{
    uint8_t L[LLM_QK_K], Laux[16];
    float weights[16], mins[16], scales[16];
    const float q4scale = 15.f;
    for (int64_t i = 0; i < nb; i++, x += LLM_QK_K) {
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 16; j++) {
            for (int l = 0; l < 16; l++)
                weights[l] = fabsf(x[16 * j + l]);
            scales[j] = fit_affine(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f,
                                   0.1f, 15, 1);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        if (max_scale > 0) {
            float iscale = q4scale / max_scale;
            for (int j = 0; j < 16; j++)
                y[i].scales[j] = (uint8_t)nearest_int(iscale * scales[j]);
            y[i].d = llm_f32_to_f16(max_scale / q4scale);
        } else {
            memset(y[i].scales, 0, sizeof y[i].scales);
            y[i].d = llm_f32_to_f16(0.f);
        }
        if (max_min > 0) {
            float iscale = q4scale / max_min;
            for (int j = 0; j < 16; j++)
                y[i].scales[j] |= (uint8_t)(nearest_int(iscale * mins[j]) << 4);
            y[i].dmin = llm_f32_to_f16(max_min / q4scale);
        } else {
            y[i].dmin = llm_f32_to_f16(0.f);
        }
        /* Requantize against the scales as stored. */
        for (int j = 0; j < 16; j++) {
            float d = llm_half(y[i].d) * (y[i].scales[j] & 0xF);
            if (!d) continue;
            float dm = llm_half(y[i].dmin) * (y[i].scales[j] >> 4);
            for (int ii = 0; ii < 16; ii++)
                L[16 * j + ii] = (uint8_t)imax(0, imin(3, nearest_int((x[16 * j + ii] + dm) / d)));
        }
        pack_2bit(L, y[i].qs);
    }
}

static void quantize_q3_K(const float *x, llm_block_q3_K *y, int64_t nb)
{
    int8_t L[LLM_QK_K];
    float scales[16];
    for (int64_t i = 0; i < nb; i++, x += LLM_QK_K) {
        float max_scale = 0, amax = 0;
        for (int j = 0; j < 16; j++) {
            scales[j] = fit_q3(16, 4, x + 16 * j, L + 16 * j);
            if (fabsf(scales[j]) > amax) {
                amax = fabsf(scales[j]);
                max_scale = scales[j];
            }
        }
        memset(y[i].scales, 0, sizeof y[i].scales);
        if (max_scale) {
            float iscale = -32.f / max_scale;
            for (int j = 0; j < 16; j++) {
                int l = (int8_t)nearest_int(iscale * scales[j]);
                l = imax(-32, imin(31, l)) + 32;
                if (j < 8)
                    y[i].scales[j] = (uint8_t)(l & 0xF);
                else
                    y[i].scales[j - 8] |= (uint8_t)((l & 0xF) << 4);
                y[i].scales[j % 4 + 8] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
            }
            y[i].d = llm_f32_to_f16(1 / iscale);
        } else {
            y[i].d = llm_f32_to_f16(0.f);
        }
        llm_scales s;
        llm_scales_q3_K(&y[i], &s);
        for (int j = 0; j < 16; j++) {
            float d = s.d[j];
            if (!d) continue;
            for (int ii = 0; ii < 16; ii++)
                L[16 * j + ii] = (int8_t)(imax(-4, imin(3, nearest_int(x[16 * j + ii] / d))) + 4);
        }
        /* Third bits: hmask[l] bit k for element 32k + l. */
        memset(y[i].hmask, 0, sizeof y[i].hmask);
        uint8_t low[LLM_QK_K];
        for (int j = 0; j < LLM_QK_K; j++) {
            if (L[j] > 3) y[i].hmask[j % 32] |= (uint8_t)(1 << (j / 32));
            low[j] = (uint8_t)(L[j] > 3 ? L[j] - 4 : L[j]);
        }
        pack_2bit(low, y[i].qs);
    }
}

/* The 6-bit scales and mins of Q4_K / Q5_K (llm_k4_scale_min reads them). */
static void pack_k4_scales(const float *scales, const float *mins, float max_scale, float max_min,
                           uint8_t *out)
{
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < 8; j++) {
        uint8_t ls = (uint8_t)nearest_int(inv_scale * scales[j]);
        uint8_t lm = (uint8_t)nearest_int(inv_min * mins[j]);
        ls = (uint8_t)imin(63, ls);
        lm = (uint8_t)imin(63, lm);
        if (j < 4) {
            out[j] = ls;
            out[j + 4] = lm;
        } else {
            out[j + 4] = (uint8_t)((ls & 0xF) | (lm & 0xF) << 4);
            out[j - 4] |= (uint8_t)((ls >> 4) << 6);
            out[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
}

/* Scale and min of each sub-block of 32 for Q4_K (nmax 15) and Q5_K (31),
 * weighting each value by sqrt(mean x^2) + |x|. */
static void fit_k4_subblocks(const float *x, int nmax, float rmin, int nstep, uint8_t *L,
                             float *scales, float *mins, float *max_scale, float *max_min)
{
    uint8_t Laux[32];
    float weights[32];
    *max_scale = *max_min = 0;
    for (int j = 0; j < 8; j++) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++)
            sum_x2 += x[32 * j + l] * x[32 * j + l];
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++)
            weights[l] = av_x + fabsf(x[32 * j + l]);
        scales[j] = fit_affine(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin,
                               0.1f, nstep, 0);
        if (scales[j] > *max_scale) *max_scale = scales[j];
        if (mins[j] > *max_min) *max_min = mins[j];
    }
}

/* Requantizes every sub-block against its scale and min as stored. */
static void requantize_k4(const float *x, int nmax, const llm_scales *s, uint8_t *L)
{
    for (int j = 0; j < 8; j++) {
        if (!s->d[j]) continue;
        for (int ii = 0; ii < 32; ii++) {
            int l = nearest_int((x[32 * j + ii] + s->m[j]) / s->d[j]);
            L[32 * j + ii] = (uint8_t)imax(0, imin(nmax, l));
        }
    }
}

static void quantize_q4_K(const float *x, llm_block_q4_K *y, int64_t nb)
{
    uint8_t L[LLM_QK_K];
    float scales[8], mins[8];
    for (int64_t i = 0; i < nb; i++, x += LLM_QK_K) {
        float max_scale, max_min;
        fit_k4_subblocks(x, 15, -1.f, 20, L, scales, mins, &max_scale, &max_min);
        pack_k4_scales(scales, mins, max_scale, max_min, y[i].scales);
        y[i].d = llm_f32_to_f16(max_scale / 63.f);
        y[i].dmin = llm_f32_to_f16(max_min / 63.f);
        llm_scales s;
        llm_scales_q4_K(&y[i], &s);
        requantize_k4(x, 15, &s, L);
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++)
                y[i].qs[32 * c + l] = (uint8_t)(L[64 * c + l] | L[64 * c + 32 + l] << 4);
    }
}

static void quantize_q5_K(const float *x, llm_block_q5_K *y, int64_t nb)
{
    uint8_t L[LLM_QK_K];
    float scales[8], mins[8];
    for (int64_t i = 0; i < nb; i++, x += LLM_QK_K) {
        float max_scale, max_min;
        fit_k4_subblocks(x, 31, -0.5f, 15, L, scales, mins, &max_scale, &max_min);
        pack_k4_scales(scales, mins, max_scale, max_min, y[i].scales);
        y[i].d = llm_f32_to_f16(max_scale / 63.f);
        y[i].dmin = llm_f32_to_f16(max_min / 63.f);
        llm_scales s;
        llm_scales_q5_K(&y[i], &s);
        requantize_k4(x, 31, &s, L);
        memset(y[i].qh, 0, sizeof y[i].qh);
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++) {
                int l1 = L[64 * c + l], l2 = L[64 * c + 32 + l];
                y[i].qh[l] |= (uint8_t)((l1 >> 4) << (2 * c) | (l2 >> 4) << (2 * c + 1));
                y[i].qs[32 * c + l] = (uint8_t)((l1 & 0xF) | (l2 & 0xF) << 4);
            }
    }
}

static void quantize_q6_K(const float *x, llm_block_q6_K *y, int64_t nb)
{
    int8_t L[LLM_QK_K];
    float scales[16];
    for (int64_t i = 0; i < nb; i++, x += LLM_QK_K) {
        float max_scale = 0, max_abs_scale = 0;
        for (int ib = 0; ib < 16; ib++) {
            scales[ib] = fit_symmetric(16, 32, x + 16 * ib, L + 16 * ib);
            if (fabsf(scales[ib]) > max_abs_scale) {
                max_abs_scale = fabsf(scales[ib]);
                max_scale = scales[ib];
            }
        }
        if (max_abs_scale < 1e-15f) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        float iscale = -128.f / max_scale;
        y[i].d = llm_f32_to_f16(1 / iscale);
        for (int ib = 0; ib < 16; ib++)
            y[i].scales[ib] = (int8_t)imin(127, nearest_int(iscale * scales[ib]));
        for (int j = 0; j < 16; j++) {
            float d = llm_half(y[i].d) * y[i].scales[j];
            if (!d) continue;
            for (int ii = 0; ii < 16; ii++) {
                int l = imax(-32, imin(31, nearest_int(x[16 * j + ii] / d)));
                L[16 * j + ii] = (int8_t)(l + 32);
            }
        }
        for (int h = 0; h < 2; h++) {
            const int8_t *Lh = L + 128 * h;
            uint8_t *ql = y[i].ql + 64 * h, *qh = y[i].qh + 32 * h;
            for (int l = 0; l < 32; l++) {
                ql[l] = (uint8_t)((Lh[l] & 0xF) | (Lh[l + 64] & 0xF) << 4);
                ql[l + 32] = (uint8_t)((Lh[l + 32] & 0xF) | (Lh[l + 96] & 0xF) << 4);
                qh[l] = (uint8_t)(Lh[l] >> 4 | (Lh[l + 32] >> 4) << 2 | (Lh[l + 64] >> 4) << 4 |
                                  (Lh[l + 96] >> 4) << 6);
            }
        }
    }
}

void llm_quantize_row(llm_dtype t, const float *src, void *dst, int64_t n)
{
    const llm_dtype_info *info = llm_dtype_get(t);
    assert(info && info->can_quantize && n % info->block_elems == 0);
    int64_t nb = n / info->block_elems;
    switch (t) {
    case LLM_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        break;
    case LLM_F16:
        llm_f32_to_f16_row(src, dst, n);
        break;
    case LLM_BF16:
        for (int64_t i = 0; i < n; i++)
            ((uint16_t *)dst)[i] = llm_f32_to_bf16(src[i]);
        break;
    case LLM_Q4_0:
        quantize_q4_0(src, dst, nb);
        break;
    case LLM_Q4_1:
        quantize_q4_1(src, dst, nb);
        break;
    case LLM_Q5_0:
        quantize_q5_0(src, dst, nb);
        break;
    case LLM_Q5_1:
        quantize_q5_1(src, dst, nb);
        break;
    case LLM_Q8_0:
        quantize_q8_0(src, dst, nb);
        break;
    case LLM_Q2_K:
        quantize_q2_K(src, dst, nb);
        break;
    case LLM_Q3_K:
        quantize_q3_K(src, dst, nb);
        break;
    case LLM_Q4_K:
        quantize_q4_K(src, dst, nb);
        break;
    case LLM_Q5_K:
        quantize_q5_K(src, dst, nb);
        break;
    case LLM_Q6_K:
        quantize_q6_K(src, dst, nb);
        break;
    default:
        assert(!"llm_quantize_row: type without a quantizer");
        break;
    }
}
