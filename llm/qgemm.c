/* llm/qgemm.c: the parts of the integer prefill path (llm/qgemm.h) that
 * need no vector instructions: which path runs, the sizes and layout of
 * the activation buffer and of a panel, which types have an integer form,
 * and the interleaved groups' layout, scales and rows read back.
 * The kernels, with the quantization and the packing they are vectorized
 * with (qgemm_pack.h), are in qgemm_avx512.c and qgemm_avx2.c; matmul.c
 * drives them on its threads. */
#include "llm/qgemm.h"

#include "llm/quant_int.h"

#include "base/mem.h"

#include <assert.h>
#include <stdatomic.h>
#include <string.h>

/* ---- paths ------------------------------------------------------------- */

static _Atomic int chosen = -1; /* -1: the best supported */

static const llm_qg_ops *ops_of(llm_qgemm_path p)
{
    switch (p) {
    case LLM_QGEMM_AVX512VNNI:
        return llm_qg_ops_avx512vnni();
    case LLM_QGEMM_AVXVNNI:
        return llm_qg_ops_avxvnni();
    case LLM_QGEMM_AVX2:
        return llm_qg_ops_avx2();
    default:
        return NULL;
    }
}

int llm_qgemm_supported(llm_qgemm_path p)
{
    return p == LLM_QGEMM_FLOAT || (p > 0 && p < LLM_QGEMM_PATHS && ops_of(p) != NULL);
}

/* The best path not above `limit` that the CPU and the active instruction
 * set allow. */
static llm_qgemm_path allowed(int limit)
{
    llm_isa isa = llm_isa_active();
    int top = isa == LLM_ISA_AVX512 ? LLM_QGEMM_AVX512VNNI
              : isa == LLM_ISA_AVX2 ? LLM_QGEMM_AVXVNNI
                                    : LLM_QGEMM_FLOAT;
    if (limit < top) top = limit;
    for (int p = top; p > LLM_QGEMM_FLOAT; p--)
        if (llm_qgemm_supported((llm_qgemm_path)p)) return (llm_qgemm_path)p;
    return LLM_QGEMM_FLOAT;
}

llm_qgemm_path llm_qgemm_active(void)
{
    int c = atomic_load_explicit(&chosen, memory_order_relaxed);
    return allowed(c < 0 ? LLM_QGEMM_PATHS - 1 : c);
}

llm_qgemm_path llm_qgemm_select(llm_qgemm_path p)
{
    assert(llm_qgemm_supported(p));
    int prev = atomic_exchange(&chosen, (int)p);
    return prev < 0 ? allowed(LLM_QGEMM_PATHS - 1) : (llm_qgemm_path)prev;
}

const char *llm_qgemm_name(llm_qgemm_path p)
{
    switch (p) {
    case LLM_QGEMM_FLOAT:
        return "float";
    case LLM_QGEMM_AVX2:
        return "avx2";
    case LLM_QGEMM_AVXVNNI:
        return "avx-vnni";
    case LLM_QGEMM_AVX512VNNI:
        return "avx512-vnni";
    }
    return "?";
}

const llm_qg_ops *llm_qg_ops_active(void)
{
    return ops_of(llm_qgemm_active());
}

int llm_qgemm_handles(llm_dtype t)
{
    const llm_qg_ops *o = llm_qg_ops_active();
    return o && llm_qg_block(t) && llm_qg_max_u(t) <= o->max_u;
}

double llm_qgemm_peak_loop(int64_t rounds)
{
    const llm_qg_ops *o = llm_qg_ops_active();
    return o ? o->peak(rounds) : 0;
}

/* ---- activations ------------------------------------------------------- */

static size_t align64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

size_t llm_qg_acts_bytes(int64_t n, int64_t k)
{
    size_t nb = (size_t)(n * (k / 32)) * sizeof(float);
    return align64((size_t)(n * k)) + 3 * align64(nb) + 3 * align64(2 * nb) + 64;
}

void llm_qg_acts_init(llm_qg_acts *a, void *mem, int64_t n, int64_t k)
{
    assert(k % 32 == 0);
    uint8_t *p = (uint8_t *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
    size_t nb = (size_t)(n * (k / 32)) * sizeof(float);
    a->n = n;
    a->k = k;
    a->q = (int8_t *)p;
    p += align64((size_t)(n * k));
    a->dx32 = (float *)p;
    p += align64(nb);
    a->ns32 = (float *)p;
    p += align64(nb);
    a->dx16 = (float *)p;
    p += align64(2 * nb);
    a->ns16 = (float *)p;
    p += align64(2 * nb);
    a->sum32 = (int32_t *)p;
    p += align64(nb);
    a->sum16 = (int32_t *)p;
}

/* ---- packing ----------------------------------------------------------- */

int llm_qg_block(llm_dtype t)
{
    switch (t) {
    case LLM_Q4_0:
    case LLM_Q4_1:
    case LLM_Q5_0:
    case LLM_Q5_1:
    case LLM_Q8_0:
    case LLM_IQ4_NL:
    case LLM_Q4_K:
    case LLM_Q5_K:
    case LLM_IQ4_XS:
        return 32;
    case LLM_Q2_K:
    case LLM_Q3_K:
    case LLM_Q6_K:
        return 16;
    default:
        return 0;
    }
}

int llm_qg_offset(llm_dtype t)
{
    switch (t) {
    case LLM_Q3_K:
        return 4;
    case LLM_Q4_0:
        return 8;
    case LLM_Q5_0:
        return 16;
    case LLM_Q6_K:
        return 32;
    case LLM_Q8_0:
    case LLM_IQ4_NL:
    case LLM_IQ4_XS:
        return 128;
    default: /* Q4_1, Q5_1, Q2_K, Q4_K, Q5_K: a min */
        return 0;
    }
}

int llm_qg_max_u(llm_dtype t)
{
    switch (t) {
    case LLM_Q2_K:
        return 3;
    case LLM_Q3_K:
        return 7;
    case LLM_Q4_0:
    case LLM_Q4_1:
    case LLM_Q4_K:
        return 15;
    case LLM_Q5_0:
    case LLM_Q5_1:
    case LLM_Q5_K:
        return 31;
    case LLM_Q6_K:
        return 63;
    default: /* Q8_0 and the IQ4 levels, offset by 128 */
        return 255;
    }
}

size_t llm_qg_panel_bytes(int64_t k, int lanes)
{
    return align64((size_t)(k * lanes)) + 2 * align64((size_t)(k / 16 * lanes) * sizeof(float));
}

void llm_qg_pack(llm_dtype t, const void *rows, size_t row_bytes, int nrows, int64_t k, int lanes,
                 void *mem, void *tmp, llm_qg_panel *p)
{
    llm_qg_ops_active()->pack(t, rows, row_bytes, nrows, k, lanes, mem, tmp, p);
}

void llm_qg_quantize_row(llm_qg_acts *a, int64_t j, const float *x)
{
    llm_qg_ops_active()->quantize(a, j, x);
}

/* ---- interleaved weights ----------------------------------------------- */

int llm_qg_il_handles(llm_dtype t)
{
    const llm_qg_ops *o = llm_qg_ops_active();
    return llm_qg_il_block_bytes(t) && o && o->il_rows && o->lanes == 16;
}

static int il_k_type(llm_dtype t)
{
    return t == LLM_Q4_K || t == LLM_Q5_K || t == LLM_Q6_K;
}

size_t llm_qg_il_group_bytes(llm_dtype t, int64_t k)
{
    return align64(llm_qg_il_supers_at(t, k) + (il_k_type(t) ? (size_t)(k / 256) * 64 : 0));
}

size_t llm_qg_il_bytes(llm_dtype t, int64_t rows, int64_t k)
{
    return (size_t)((rows + 15) / 16) * llm_qg_il_group_bytes(t, k);
}

/* The scales of nr rows (row_bytes apart) into a group's scale regions,
 * as the file has them. */
static void il_scales(llm_dtype t, const uint8_t *rows, size_t row_bytes, int nr, int64_t k,
                      uint8_t *g)
{
    uint8_t *S = g + llm_qg_il_scales_at(t, k), *D = g + llm_qg_il_supers_at(t, k);
    memset(S, 0, llm_qg_il_group_bytes(t, k) - llm_qg_il_scales_at(t, k));
    size_t bb = llm_dtype_get(t)->block_bytes;
    for (int r = 0; r < nr; r++) {
        const uint8_t *row = rows + (size_t)r * row_bytes;
        if (!il_k_type(t)) { /* Q8_0, Q4_0, Q5_0: the scale is each block's first field */
            for (int64_t b = 0; b < k / 32; b++)
                memcpy(S + b * 32 + 2 * r, row + (size_t)b * bb, 2);
            continue;
        }
        for (int64_t sb = 0; sb < k / 256; sb++) {
            const uint8_t *x = row + (size_t)sb * bb;
            uint8_t *s = S + sb * 8 * 32, *d = D + sb * 64;
            if (t != LLM_Q6_K) { /* Q4_K, Q5_K: d, dmin, the packed scales, as Q4_K lays them */
                const llm_block_q4_K *q = (const llm_block_q4_K *)(const void *)x;
                memcpy(d + 2 * r, &q->d, 2);
                memcpy(d + 32 + 2 * r, &q->dmin, 2);
                for (int j = 0; j < 8; j++)
                    llm_k4_scale_min(j, q->scales, &s[j * 32 + r], &s[j * 32 + 16 + r]);
            } else {
                const llm_block_q6_K *q = (const llm_block_q6_K *)(const void *)x;
                memcpy(d + 2 * r, &q->d, 2);
                for (int j = 0; j < 16; j++) /* block of 16 j: (j / 2) * 32 + (j % 2) * 16 */
                    s[j * 16 + r] = (uint8_t)q->scales[j];
            }
        }
    }
}

/* Each group packed as a prompt's panel is (the same values), its values
 * laid out as a group's (ops->il_store), the scales copied from the file's
 * blocks. */
void llm_qg_il_pack(llm_dtype t, const void *src, size_t row_bytes, int64_t rows, int64_t k,
                    void *dst)
{
    assert(llm_qg_il_handles(t));
    const llm_qg_ops *o = llm_qg_ops_active();
    size_t pb = llm_qg_panel_bytes(k, 16), gb = llm_qg_il_group_bytes(t, k);
    uint8_t *mem = rag_xcalloc_lines(pb + (size_t)(16 * k + 64), 1);
    for (int64_t r0 = 0; r0 < rows; r0 += 16) {
        llm_qg_panel p;
        int nr = rows - r0 < 16 ? (int)(rows - r0) : 16;
        const uint8_t *from = (const uint8_t *)src + (size_t)r0 * row_bytes;
        uint8_t *g = (uint8_t *)dst + (size_t)(r0 / 16) * gb;
        o->pack(t, from, row_bytes, nr, k, 16, mem, mem + pb, &p);
        o->il_store(t, &p, g);
        il_scales(t, from, row_bytes, nr, k, g);
    }
    rag_free_lines(mem);
}

void llm_qg_il_panel(llm_dtype t, const void *g, int64_t k, void *mem, llm_qg_panel *p)
{
    llm_qg_ops_active()->il_panel(t, g, k, mem, p);
}

/* As the row kernels' references dequantize (llm/quant_ref.c): the
 * scale, or d * scale (and dmin * min), times the value less the offset. */
void llm_qg_il_row(llm_dtype t, const void *g, int64_t k, int lane, float *y)
{
    const uint8_t *v = g, *S = v + llm_qg_il_scales_at(t, k), *D = v + llm_qg_il_supers_at(t, k);
    int vb = llm_qg_il_block_bytes(t), off = llm_qg_offset(t);
    for (int64_t c = 0; c < k; c++) {
        const uint8_t *blk = v + c / 32 * vb, *s = S + c / 32 * 32;
        /* the panel's vector holding column c, and c's byte in it */
        int vec = (int)(c % 32) / 4, bit = lane * 4 + (int)(c % 4), u;
        if (t == LLM_Q8_0) {
            u = blk[vec * 64 + bit];
        } else { /* the nibble, and each high bit from its mask (as nibble_vectors) */
            int nib = blk[(vec % 4) * 64 + bit], high = llm_qg_il_high_bits(t);
            u = vec < 4 ? nib & 15 : nib >> 4;
            for (int h = 0; h < high; h++)
                u |= (blk[256 + 8 * high * vec + 8 * h + bit / 8] >> bit % 8 & 1) << (4 + h);
        }
        uint16_t h;
        if (t == LLM_Q4_K || t == LLM_Q5_K) {
            memcpy(&h, D + c / 256 * 64 + 2 * lane, 2);
            float d = llm_half(h) * (float)s[lane];
            memcpy(&h, D + c / 256 * 64 + 32 + 2 * lane, 2);
            y[c] = d * (float)u - llm_half(h) * (float)s[16 + lane];
        } else if (t == LLM_Q6_K) {
            memcpy(&h, D + c / 256 * 64 + 2 * lane, 2);
            y[c] = llm_half(h) * (float)(int8_t)s[(c % 32) / 16 * 16 + lane] * (float)(u - off);
        } else {
            memcpy(&h, s + 2 * lane, 2);
            y[c] = llm_half(h) * (float)(u - off);
        }
    }
}
