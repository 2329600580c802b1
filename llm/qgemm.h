/* llm/qgemm.h (private to llm/: matmul.c, model.c, qgemm*.c, the tests): integer
 * products of quantized weight matrices with many activation rows, the
 * prompt (prefill) path of llm_matmul.
 *
 *   Y[j][r] = sum_k W[r][k] X[j][k]   for j < n (n activation rows)
 *
 * Every weight type with blocks is written, one panel of `lanes` rows at a
 * time, in one form: unsigned 8-bit values u, the type's offset off (Q8_0
 * and the IQ4 levels 128 for their sign, Q6_K 32, Q4_0 8, ...; 0 for the
 * types with a min), and per block of 16 or 32 elements a scale d and a min
 * m per row, so that the weight is d * (u - off) - m. The panel interleaves
 * the rows four values at a time
 * (q[k / 4][lane][4]), so that one vector holds four consecutive values of
 * every row and one integer multiply-add instruction (vpdpbusd: unsigned
 * times signed bytes, four products summed into each 32-bit lane) takes
 * four columns of `lanes` rows against four values of one activation row
 * broadcast. Activation rows are quantized once per product to signed
 * 8-bit values in blocks of 32 with a float scale each, and the sums of
 * their values per block S, so that a block contributes
 *
 *   d[r] dx (sum_k u[r][k] qx[k] - off S) - m[r] dx S
 *
 * with the parenthesis in integers (the offset's part is where the
 * integer sum starts), and the last term only for the types with a min. No float copy of a weight
 * matrix is made: a worker packs the panels of one tile of rows (a few hundred KB) into its own
 * scratch and multiplies them with every activation row.
 *
 * Each output element is the same sequence of operations whatever n, the
 * position of its row in a batch, the tile or the kernel path (the float
 * steps are the same on every path, the integer sums exact), so a product
 * through this path is batch invariant and equal on every path.
 *
 * Paths (llm_qgemm_select forces one, for the tests and benches): AVX-512
 * VNNI (16 lanes), AVX-VNNI (8 lanes, 256-bit vpdpbusd), AVX2 (8 lanes,
 * vpmaddubsw and vpmaddwd, for the types whose values stay under 64 so
 * that a pair of products cannot saturate 16 bits), and float (the
 * dequantized tiles and sgemm of matmul.c). */
#ifndef RAG_LLM_QGEMM_H
#define RAG_LLM_QGEMM_H

#include "llm/quant.h"

#include <stddef.h>
#include <stdint.h>

typedef enum llm_qgemm_path {
    LLM_QGEMM_FLOAT = 0,
    LLM_QGEMM_AVX2 = 1,
    LLM_QGEMM_AVXVNNI = 2,
    LLM_QGEMM_AVX512VNNI = 3,
} llm_qgemm_path;
#define LLM_QGEMM_PATHS 4

/* Whether this CPU can run path p (the float path always). */
int llm_qgemm_supported(llm_qgemm_path p);
/* The path products take now: the best supported one, or the one
 * llm_qgemm_select chose, held to what the active instruction set
 * (llm_isa_select) allows: none but float under the scalar kernels, none
 * needing AVX-512 under the AVX2 ones. */
llm_qgemm_path llm_qgemm_active(void);
/* Chooses path p (which must be supported); returns the previous choice. */
llm_qgemm_path llm_qgemm_select(llm_qgemm_path p);
const char *llm_qgemm_name(llm_qgemm_path p);
/* Whether the active path multiplies weights of type t in integers. */
int llm_qgemm_handles(llm_dtype t);

/* 8-bit multiply-adds the active path's probe does in `rounds` rounds on
 * this thread (0 on the float path): `rag bench-model` runs it on every
 * thread to measure the machine's integer peak. */
double llm_qgemm_peak_loop(int64_t rounds);

/* ---- activations ------------------------------------------------------ */
typedef struct llm_qg_acts {
    int64_t n, k;
    int8_t *q;      /* n x k values */
    float *dx32;    /* n x k / 32 scales */
    float *ns32;    /* n x k / 32: -scale * sum of the block's values */
    float *dx16;    /* n x k / 16: the scale of the block of 32 holding it */
    float *ns16;    /* n x k / 16 */
    int32_t *sum32; /* n x k / 32: the sum of the block's values */
    int32_t *sum16; /* n x k / 16 */
} llm_qg_acts;

/* Bytes for n rows of k (a multiple of 32) values, 64-byte aligned parts. */
size_t llm_qg_acts_bytes(int64_t n, int64_t k);
void llm_qg_acts_init(llm_qg_acts *a, void *mem, int64_t n, int64_t k);
/* Quantizes row j of a from x[0..k) (with the active path's code: not
 * on the float path). */
void llm_qg_quantize_row(llm_qg_acts *a, int64_t j, const float *x);

/* ---- weight panels ---------------------------------------------------- */
typedef struct llm_qg_panel {
    const uint8_t *q; /* k / 4 x lanes x 4 values */
    const float *d;   /* k / bs x lanes */
    const float *m;   /* k / bs x lanes (zero where off is not) */
    int64_t k;
    int bs, lanes, off;
} llm_qg_panel;

/* 16 or 32: the block of type t in a panel; 0: t has no integer form. */
int llm_qg_block(llm_dtype t);
/* The offset of type t's values (0: the type has a min instead). */
int llm_qg_offset(llm_dtype t);
/* The largest value of u type t packs to (AVX2 takes types under 64). */
int llm_qg_max_u(llm_dtype t);
/* Bytes of one panel of `lanes` rows of k values (64-byte multiple). */
size_t llm_qg_panel_bytes(int64_t k, int lanes);
/* Packs nrows (<= lanes; the rest are zero) rows of type t, row_bytes
 * apart, into mem (llm_qg_panel_bytes, 64-byte aligned), with the active
 * path's code (not on the float path); tmp: lanes * k bytes of scratch. */
void llm_qg_pack(llm_dtype t, const void *rows, size_t row_bytes, int nrows, int64_t k, int lanes,
                 void *mem, void *tmp, llm_qg_panel *p);

/* Y[j * ldy + l] for j in [j0, j1) and lanes l < nl of panel p. */
typedef void (*llm_qg_kernel)(const llm_qg_panel *p, const llm_qg_acts *a, int64_t j0, int64_t j1,
                              float *Y, int64_t ldy, int nl);
typedef struct llm_qg_ops {
    llm_qgemm_path path;
    int lanes;
    int max_u; /* types whose values exceed it stay on the float path */
    llm_qg_kernel kernel;
    void (*quantize)(llm_qg_acts *a, int64_t j, const float *x);
    void (*pack)(llm_dtype t, const void *rows, size_t row_bytes, int nrows, int64_t k, int lanes,
                 void *mem, void *tmp, llm_qg_panel *p);
    /* the peak probe: `rounds` rounds of the kernel's multiply-add step on
     * independent accumulators, from registers; returns the 8-bit
     * multiply-adds done */
    double (*peak)(int64_t rounds);
    /* interleaved groups (below), NULL where the path makes none: a
     * packed panel of type t as a group at g; the panel of a group (its
     * values in place or unpacked into mem, llm_qg_panel_bytes); decoding
     * Y[j * ldy + l] for the activation rows j < nj (<= 7) of a and the
     * lanes l < nl of the group of k columns at g */
    void (*il_store)(llm_dtype t, const llm_qg_panel *p, void *g);
    void (*il_panel)(llm_dtype t, const void *g, int64_t k, void *mem, llm_qg_panel *p);
    void (*il_rows)(llm_dtype t, const void *g, int64_t k, const llm_qg_acts *a, int nj, float *Y,
                    int64_t ldy, int nl);
    /* kernel for two full panels p[0], p[1] at once (Y's lanes 0 to
     * 2 * lanes - 1), the same bits; NULL where the path has none */
    void (*kernel2)(const llm_qg_panel *p, const llm_qg_acts *a, int64_t j0, int64_t j1, float *Y,
                    int64_t ldy);
    /* block b (32 values) of activation rows j .. j + nr - 1 (nr <= 16),
     * row i's values at x + i * ldx, quantized as quantize would (the same
     * values, scales and sums), but of the constants only those the panels
     * of a type with blocks of bs (16, 32) and a min (or not: an offset)
     * read; NULL where the path has none */
    void (*quantize_block)(llm_qg_acts *a, int64_t j, int nr, int64_t b, const float *x,
                           int64_t ldx, int bs, int min);
} llm_qg_ops;

/* ---- weights interleaved once ------------------------------------------
 * A decoder's Q8_0, Q5_0, Q4_0, Q4_K, Q5_K and Q6_K matrices, on the
 * AVX-512 VNNI path, are rewritten once, when the model's first context
 * is made (llm/model.c), into groups of 16 rows laid out for the kernel, in about
 * the bytes of the file's 16 rows (Q4_K 3% more, Q5_K 2%, Q6_K 1%; a short
 * last group is padded with zero rows). A group of k columns holds three regions:
 *   values, llm_qg_il_block_bytes per block of 32 columns: Q8_0 the
 *     panel's own bytes (q[8][16][4], the file's values plus 128); Q4_0 and
 *     Q4_K four vectors of nibbles, the low ones the panel's vectors 0-3
 *     and the high ones its vectors 4-7; Q5_0 and Q5_K those and the fifth
 *     bits, a 64-bit mask per panel vector; Q6_K those and the two high
 *     bits, two masks per vector;
 *   scales, 32 bytes per block of 32 (llm_qg_il_scales_at): the 16 rows'
 *     F16 scales (Q8_0, Q4_0, Q5_0), 6-bit scales then mins as bytes
 *     (Q4_K, Q5_K), the int8 scales of both blocks of 16 (Q6_K);
 *   for the K types 64 bytes per 256 columns (llm_qg_il_supers_at): the
 *     16 rows' F16 d, then Q4_K's and Q5_K's dmin.
 * Decoding multiplies 16 rows in each vpdpbusd for every token of the step
 * (ops->il_rows), where the row kernels take two blocks of one row: with
 * four streams those were bound by their arithmetic, the groups by memory.
 * A prompt's panels come from the groups (llm_qg_il_panel), not from the
 * file's rows. Every output element is the panel kernel's sequence of
 * operations on the panel's values and scales (the K types' products d *
 * scale formed as the packing forms them), so a token decoded alone gets
 * the bits a prompt pass gives it. */
/* The high bits a 4-bit type's group keeps as masks beside its nibbles:
 * 1 (Q5_0, Q5_K: the fifth), 2 (Q6_K: the fifth and sixth), else 0. */
static inline int llm_qg_il_high_bits(llm_dtype t)
{
    return t == LLM_Q5_0 || t == LLM_Q5_K ? 1 : t == LLM_Q6_K ? 2 : 0;
}
static inline int llm_qg_il_block_bytes(llm_dtype t)
{
    switch (t) {
    case LLM_Q8_0:
        return 512;
    case LLM_Q4_0:
    case LLM_Q5_0:
    case LLM_Q4_K:
    case LLM_Q5_K:
    case LLM_Q6_K: /* four vectors of nibbles, 64 bytes of masks per high bit */
        return 256 + 64 * llm_qg_il_high_bits(t);
    default:
        return 0;
    }
}
static inline size_t llm_qg_il_scales_at(llm_dtype t, int64_t k)
{
    return (size_t)(k / 32) * (size_t)llm_qg_il_block_bytes(t);
}
static inline size_t llm_qg_il_supers_at(llm_dtype t, int64_t k)
{
    return llm_qg_il_scales_at(t, k) + (size_t)(k / 32) * 32;
}
/* Bytes of one group of k columns (64-byte multiple), of `rows` rows. */
size_t llm_qg_il_group_bytes(llm_dtype t, int64_t k);
/* The group of the interleaved rows il (type t, k columns) holding `row`. */
static inline const uint8_t *llm_qg_il_group(const void *il, llm_dtype t, int64_t k, int64_t row)
{
    return (const uint8_t *)il + (size_t)(row / 16) * llm_qg_il_group_bytes(t, k);
}
/* Whether the active path interleaves weights of type t. */
int llm_qg_il_handles(llm_dtype t);
size_t llm_qg_il_bytes(llm_dtype t, int64_t rows, int64_t k);
/* Interleaves rows of type t (llm_qg_il_handles), row_bytes apart, into
 * dst (llm_qg_il_bytes, 64-byte aligned). */
void llm_qg_il_pack(llm_dtype t, const void *src, size_t row_bytes, int64_t rows, int64_t k,
                    void *dst);
/* The panel of the group at g (mem: llm_qg_panel_bytes(k, 16), 64-byte
 * aligned, for what is not used in place). */
void llm_qg_il_panel(llm_dtype t, const void *g, int64_t k, void *mem, llm_qg_panel *p);
/* Row `lane` of the group at g, dequantized: the floats llm_dequant_row
 * gives for the file's row (a token's embedding, when the output matrix
 * interleaved is the embeddings'). */
void llm_qg_il_row(llm_dtype t, const void *g, int64_t k, int lane, float *y);

/* The active path's kernel (NULL: the float path). */
const llm_qg_ops *llm_qg_ops_active(void);
/* Filled in by the kernel files when the CPU has the instructions. */
const llm_qg_ops *llm_qg_ops_avx512vnni(void);
const llm_qg_ops *llm_qg_ops_avxvnni(void);
const llm_qg_ops *llm_qg_ops_avx2(void);

#endif
