/* llm/quant.h (behind llm/kernels.h, its types also llm/llm.h): tensor element
 * types (the GGML type ids stored in GGUF files), their block layouts, and the
 * kernels over rows of them: dequantize, dot product with a float vector,
 * quantize.
 *
 * A row of n elements of type t occupies n / block_elems blocks of
 * block_bytes each (n must be a multiple of block_elems). Every kernel has a
 * scalar reference implementation; SIMD versions (AVX2, AVX-512) are chosen
 * once at start-up from the CPU's features and are tested against the
 * reference. */
#ifndef RAG_LLM_QUANT_H
#define RAG_LLM_QUANT_H

#include <stddef.h>
#include <stdint.h>

/* GGML type ids, as stored in GGUF tensor infos. */
typedef enum llm_dtype {
    LLM_F32 = 0,
    LLM_F16 = 1,
    LLM_Q4_0 = 2,
    LLM_Q4_1 = 3,
    LLM_Q5_0 = 6,
    LLM_Q5_1 = 7,
    LLM_Q8_0 = 8,
    LLM_Q8_1 = 9,
    LLM_Q2_K = 10,
    LLM_Q3_K = 11,
    LLM_Q4_K = 12,
    LLM_Q5_K = 13,
    LLM_Q6_K = 14,
    LLM_Q8_K = 15,
    LLM_IQ2_XXS = 16,
    LLM_IQ2_XS = 17,
    LLM_IQ3_XXS = 18,
    LLM_IQ1_S = 19,
    LLM_IQ4_NL = 20,
    LLM_IQ3_S = 21,
    LLM_IQ2_S = 22,
    LLM_IQ4_XS = 23,
    LLM_I8 = 24,
    LLM_I16 = 25,
    LLM_I32 = 26,
    LLM_I64 = 27,
    LLM_F64 = 28,
    LLM_IQ1_M = 29,
    LLM_BF16 = 30,
    LLM_DTYPE_MAX = 40, /* ids at or above this are unknown */
} llm_dtype;

typedef struct llm_dtype_info {
    const char *name;   /* "q4_K", "f16", ... as llama.cpp names them */
    int block_elems;    /* elements per block (1 for plain types) */
    size_t block_bytes; /* bytes per block */
    int can_compute;    /* dequantize and dot are implemented */
    int can_quantize;   /* llm_quantize_row is implemented */
} llm_dtype_info;

/* Layout facts of type t, or NULL for an id this program does not know at
 * all (a GGUF file using it is rejected). Known-but-unsupported types (the
 * IQ2/IQ3/IQ1 families, I8...) have can_compute == 0. */
const llm_dtype_info *llm_dtype_get(int t);
/* Type id from its name ("q4_k", "Q4_K", "f16"...; case-insensitive), or -1. */
int llm_dtype_from_name(const char *name);
/* Bytes of a row of n elements (n a multiple of block_elems). */
size_t llm_row_bytes(llm_dtype t, int64_t n);

/* ---- kernels (dispatch to the best instruction set) -------------------- */
/* dst[0..n) = the values of the row. */
void llm_dequant_row(llm_dtype t, const void *row, float *dst, int64_t n);
/* sum over i of row[i] * x[i]. */
float llm_dot_row(llm_dtype t, const void *row, const float *x, int64_t n);
/* Integer dot products, as llama.cpp decodes: the activations are quantized
 * once to Q8_0 blocks (32 values, one scale: llm_quantize_row(LLM_Q8_0)),
 * and each block of the row is multiplied in 8-bit integers, one float
 * multiply per block. Faster than llm_dot_row, at the cost of the
 * activations' rounding (about 0.4% of each block's largest value). 1 when
 * type t has such a kernel in the active instruction set (Q4_0, Q5_0,
 * Q8_0; also IQ4_NL, the K types Q2_K to Q6_K and IQ4_XS with AVX2 or
 * AVX-512 VNNI); n a multiple of the type's block. */
int llm_dot_q8_supported(llm_dtype t);
float llm_dot_row_q8(llm_dtype t, const void *row, const void *xq, int64_t n);
/* One row against several activation rows: out[j * ldo] is
 * llm_dot_row(t, row, x + j * ldx, n) for j < nx, bit for bit the same
 * value, with the row decoded once for all of them where the instruction
 * set has such a kernel. Several sequences decoded together get exactly
 * what each would alone. */
void llm_dot_rows(llm_dtype t, const void *row, const float *x, int64_t ldx, int nx, float *out,
                  int64_t ldo, int64_t n);
/* The same for llm_dot_row_q8, on activations prepared once for all the
 * rows of a weight matrix of type t: llm_q8_acts quantizes x[0..n) to
 * Q8_0 blocks (which begin its output) and lays them out as the active
 * instruction set's kernels read them (in llm_q8_acts_bytes(t, n) bytes in
 * all, a multiple of 64; dst aligned as malloc aligns). Activation row j
 * starts at xa + j * ldxa, ldxa a multiple of 64. Each out[j * ldo] is bit
 * for bit llm_dot_row_q8 of the row against those Q8_0 blocks of x_j. */
size_t llm_q8_acts_bytes(llm_dtype t, int64_t n);
void llm_q8_acts(llm_dtype t, const float *x, int64_t n, void *dst);
void llm_dot_rows_q8(llm_dtype t, const void *row, const void *xa, size_t ldxa, int nx, float *out,
                     int64_t ldo, int64_t n);
/* nw weight rows, row_bytes apart, against the same activation rows:
 * out[j * ldo + i] is llm_dot_rows_q8's value of row i against row j, bit
 * for bit, in one call of the instruction set's kernels where it has a
 * tile kernel for the type. */
void llm_dot_tile_q8(llm_dtype t, const void *rows, size_t row_bytes, int nw, const void *xa,
                     size_t ldxa, int nx, float *out, int64_t ldo, int64_t n);
/* Quantizes src[0..n) into dst (llm_row_bytes(t, n) bytes). Supported for
 * F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K at least (see can_quantize). */
void llm_quantize_row(llm_dtype t, const float *src, void *dst, int64_t n);

/* ---- instruction sets (tests force each one to compare with the reference) */
typedef enum llm_isa { LLM_ISA_SCALAR = 0, LLM_ISA_AVX2 = 1, LLM_ISA_AVX512 = 2 } llm_isa;
int llm_isa_supported(llm_isa isa); /* the CPU (and the build) can run it */
llm_isa llm_isa_active(void);
/* Selects the kernels of `isa` (must be supported), those of llm/vecmath.h
 * included; returns the previous. */
llm_isa llm_isa_select(llm_isa isa);
const char *llm_isa_name(llm_isa isa);

/* Half-precision conversions (exact, round to nearest even). */
float llm_f16_to_f32(uint16_t h);
uint16_t llm_f32_to_f16(float f);
/* dst[i] = llm_f32_to_f16(x[i]), with the active instruction set's
 * conversion (F16C's, whose bits these are, where the CPU has it) */
void llm_f32_to_f16_row(const float *x, uint16_t *dst, int64_t n);
float llm_bf16_to_f32(uint16_t h);
uint16_t llm_f32_to_bf16(float f);

#endif
