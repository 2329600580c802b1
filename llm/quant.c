/* llm/quant.c: the element type table (names, block sizes, what is
 * supported), half-precision conversions, and the choice of kernels: the
 * best instruction set the CPU offers is picked once, on first use, and
 * llm_dequant_row / llm_dot_row and the functions of llm/vecmath.h go
 * through its table. */
#include "llm/quant.h"
#include "base/mem.h"
#include "llm/quant_int.h"
#include "llm/vecmath.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <strings.h>

/* Indexed by GGML type id. Ids GGML has retired (4, 5, 31-33, 36-38) stay
 * empty and are unknown. can_compute / can_quantize must agree with
 * llm_kernels_ref and llm_quantize_row; the unit test checks both. */
static const llm_dtype_info dtypes[LLM_DTYPE_MAX] = {
    [LLM_F32] = {"f32", 1, 4, 1, 1},
    [LLM_F16] = {"f16", 1, 2, 1, 1},
    [LLM_Q4_0] = {"q4_0", 32, sizeof(llm_block_q4_0), 1, 1},
    [LLM_Q4_1] = {"q4_1", 32, sizeof(llm_block_q4_1), 1, 1},
    [LLM_Q5_0] = {"q5_0", 32, sizeof(llm_block_q5_0), 1, 1},
    [LLM_Q5_1] = {"q5_1", 32, sizeof(llm_block_q5_1), 1, 1},
    [LLM_Q8_0] = {"q8_0", 32, sizeof(llm_block_q8_0), 1, 1},
    [LLM_Q8_1] = {"q8_1", 32, sizeof(llm_block_q8_1), 0, 0},
    [LLM_Q2_K] = {"q2_K", 256, sizeof(llm_block_q2_K), 1, 1},
    [LLM_Q3_K] = {"q3_K", 256, sizeof(llm_block_q3_K), 1, 1},
    [LLM_Q4_K] = {"q4_K", 256, sizeof(llm_block_q4_K), 1, 1},
    [LLM_Q5_K] = {"q5_K", 256, sizeof(llm_block_q5_K), 1, 1},
    [LLM_Q6_K] = {"q6_K", 256, sizeof(llm_block_q6_K), 1, 1},
    [LLM_Q8_K] = {"q8_K", 256, sizeof(llm_block_q8_K), 0, 0},
    [LLM_IQ2_XXS] = {"iq2_xxs", 256, 66, 0, 0},
    [LLM_IQ2_XS] = {"iq2_xs", 256, 74, 0, 0},
    [LLM_IQ3_XXS] = {"iq3_xxs", 256, 98, 0, 0},
    [LLM_IQ1_S] = {"iq1_s", 256, 50, 0, 0},
    [LLM_IQ4_NL] = {"iq4_nl", 32, sizeof(llm_block_iq4_nl), 1, 0},
    [LLM_IQ3_S] = {"iq3_s", 256, 110, 0, 0},
    [LLM_IQ2_S] = {"iq2_s", 256, 82, 0, 0},
    [LLM_IQ4_XS] = {"iq4_xs", 256, sizeof(llm_block_iq4_xs), 1, 0},
    [LLM_I8] = {"i8", 1, 1, 0, 0},
    [LLM_I16] = {"i16", 1, 2, 0, 0},
    [LLM_I32] = {"i32", 1, 4, 0, 0},
    [LLM_I64] = {"i64", 1, 8, 0, 0},
    [LLM_F64] = {"f64", 1, 8, 0, 0},
    [LLM_IQ1_M] = {"iq1_m", 256, 56, 0, 0},
    [LLM_BF16] = {"bf16", 1, 2, 1, 1},
    [34] = {"tq1_0", 256, 54, 0, 0},
    [35] = {"tq2_0", 256, 66, 0, 0},
    [39] = {"mxfp4", 32, 17, 0, 0},
};

const llm_dtype_info *llm_dtype_get(int t)
{
    if (t < 0 || t >= LLM_DTYPE_MAX || !dtypes[t].name) return NULL;
    return &dtypes[t];
}

int llm_dtype_from_name(const char *name)
{
    for (int t = 0; t < LLM_DTYPE_MAX; t++)
        if (dtypes[t].name && !strcasecmp(dtypes[t].name, name)) return t;
    return -1;
}

size_t llm_row_bytes(llm_dtype t, int64_t n)
{
    const llm_dtype_info *d = llm_dtype_get(t);
    if (!d || n < 0) return 0;
    return (size_t)(n / d->block_elems) * d->block_bytes;
}

/* ---- half precision ---------------------------------------------------- */

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float llm_f16_to_f32(uint16_t h)
{
    return llm_half(h);
}

/* IEEE binary16, round to nearest even, as F16C's vcvtps2ph with rounding
 * mode 0 (GGML's GGML_FP32_TO_FP16 on x86). */
uint16_t llm_f32_to_f16(float f)
{
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffff;
    if (ax > 0x7f800000) /* NaN: keep the top payload bits, make it quiet */
        return (uint16_t)(sign | 0x7e00 | ((ax >> 13) & 0x3ff));
    if (ax >= 0x477ff000) /* 65520 and above round to infinity */
        return sign | 0x7c00;
    if (ax >= 0x38800000) { /* normal half: rebias the exponent by 127 - 15 */
        uint32_t m = ax - (112u << 23);
        m += 0x0fff + ((m >> 13) & 1); /* round the 13 dropped bits, ties to even */
        return (uint16_t)(sign | (m >> 13));
    }
    /* Below 2^-14 the half is a multiple of 2^-24, the spacing of floats in
     * [0.5, 1): adding 0.5 makes the FPU round to it (nearest even), and a
     * result of 2^-14 comes out as the smallest normal, as it should. */
    float r = f32_from_bits(ax) + 0.5f;
    return (uint16_t)(sign | (f32_bits(r) - f32_bits(0.5f)));
}

float llm_bf16_to_f32(uint16_t h)
{
    return f32_from_bits((uint32_t)h << 16);
}

/* Round to nearest even; NaNs stay NaN (made quiet); subnormals are kept, as
 * current GGML does. */
uint16_t llm_f32_to_bf16(float f)
{
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 64);
    return (uint16_t)((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

/* ---- instruction sets and dispatch ------------------------------------ */

static llm_kernels tables[3];
static int supported[3];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;
static _Atomic int tables_ready; /* set last by tables_init: pthread_once is a call per kernel */
static _Atomic int active_isa;

#if defined(__x86_64__)
/* F16C through CPUID: clang's __builtin_cpu_supports does not know "f16c". */
static int cpu_has_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
}
#endif

static void tables_init(void)
{
    llm_kernels_ref(&tables[LLM_ISA_SCALAR]);
    llm_vec_kernels_ref(&tables[LLM_ISA_SCALAR].vec);
    supported[LLM_ISA_SCALAR] = 1;
    int best = LLM_ISA_SCALAR;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c()) {
        tables[LLM_ISA_AVX2] = tables[LLM_ISA_SCALAR];
        llm_kernels_avx2(&tables[LLM_ISA_AVX2]);
        llm_vec_kernels_avx2(&tables[LLM_ISA_AVX2].vec);
        supported[LLM_ISA_AVX2] = 1;
        best = LLM_ISA_AVX2;
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
            tables[LLM_ISA_AVX512] = tables[LLM_ISA_AVX2];
            llm_kernels_avx512(&tables[LLM_ISA_AVX512]);
            llm_vec_kernels_avx512(&tables[LLM_ISA_AVX512].vec);
            supported[LLM_ISA_AVX512] = 1;
            best = LLM_ISA_AVX512;
        }
    }
#endif
    atomic_store(&active_isa, best);
    atomic_store_explicit(&tables_ready, 1, memory_order_release);
}

static const llm_kernels *kernels(void)
{
    if (!atomic_load_explicit(&tables_ready, memory_order_acquire))
        pthread_once(&tables_once, tables_init);
    return &tables[atomic_load_explicit(&active_isa, memory_order_relaxed)];
}

void llm_f32_to_f16_row(const float *x, uint16_t *dst, int64_t n)
{
    const llm_kernels *k = kernels();
    if (k->f16_row) {
        k->f16_row(x, dst, n);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        dst[i] = llm_f32_to_f16(x[i]);
}

int llm_isa_supported(llm_isa isa)
{
    pthread_once(&tables_once, tables_init);
    return isa >= LLM_ISA_SCALAR && isa <= LLM_ISA_AVX512 && supported[isa];
}

llm_isa llm_isa_active(void)
{
    pthread_once(&tables_once, tables_init);
    return (llm_isa)atomic_load(&active_isa);
}

llm_isa llm_isa_select(llm_isa isa)
{
    assert(llm_isa_supported(isa));
    if (!llm_isa_supported(isa)) return llm_isa_active(); /* its table is empty */
    return (llm_isa)atomic_exchange(&active_isa, (int)isa);
}

const char *llm_isa_name(llm_isa isa)
{
    switch (isa) {
    case LLM_ISA_SCALAR:
        return "scalar";
    case LLM_ISA_AVX2:
        return "avx2";
    case LLM_ISA_AVX512:
        return "avx512";
    }
    return "?";
}

/* The type must have can_compute (the GGUF loader rejects files whose
 * tensors do not), and n must be a multiple of its block size. */
void llm_dequant_row(llm_dtype t, const void *row, float *dst, int64_t n)
{
    const llm_kernels *k = kernels();
    assert(t >= 0 && t < LLM_DTYPE_MAX && k->dequant[t]);
    k->dequant[t](row, dst, n);
}

float llm_dot_row(llm_dtype t, const void *row, const float *x, int64_t n)
{
    const llm_kernels *k = kernels();
    assert(t >= 0 && t < LLM_DTYPE_MAX && k->dot[t]);
    return k->dot[t](row, x, n);
}

int llm_dot_q8_supported(llm_dtype t)
{
    return t >= 0 && t < LLM_DTYPE_MAX && kernels()->dot_q8[t] != NULL;
}

float llm_dot_row_q8(llm_dtype t, const void *row, const void *xq, int64_t n)
{
    const llm_kernels *k = kernels();
    assert(t >= 0 && t < LLM_DTYPE_MAX && k->dot_q8[t] && n % LLM_QK == 0);
    return k->dot_q8[t](row, xq, n);
}

void llm_dot_rows(llm_dtype t, const void *row, const float *x, int64_t ldx, int nx, float *out,
                  int64_t ldo, int64_t n)
{
    const llm_kernels *k = kernels();
    assert(t >= 0 && t < LLM_DTYPE_MAX && k->dot[t]);
    if (k->dot_rows[t]) {
        k->dot_rows[t](row, x, ldx, nx, out, ldo, n);
        return;
    }
    for (int j = 0; j < nx; j++)
        out[j * ldo] = k->dot[t](row, x + j * ldx, n);
}

/* Prepared activations: the plain Q8_0 blocks, then (in tables with a
 * layout for the type) the laid-out form, each part padded to 64 bytes so
 * that the laid-out part, and the next row, stay aligned. */
static size_t acts_part(size_t bytes)
{
    return (bytes + 63) & ~(size_t)63;
}

size_t llm_q8_acts_bytes(llm_dtype t, int64_t n)
{
    const llm_kernels *k = kernels();
    assert(t >= 0 && t < LLM_DTYPE_MAX && k->dot_q8[t] && n % LLM_QK == 0);
    size_t plain = acts_part(llm_row_bytes(LLM_Q8_0, n));
    return k->q8_layout[t] ? plain + acts_part(k->q8_layout[t]->bytes(n)) : plain;
}

void llm_q8_acts(llm_dtype t, const float *x, int64_t n, void *dst)
{
    const llm_kernels *k = kernels();
    assert(t >= 0 && t < LLM_DTYPE_MAX && k->dot_q8[t] && n % LLM_QK == 0);
    if (k->q8_quantize)
        k->q8_quantize(x, dst, n);
    else
        llm_quantize_row(LLM_Q8_0, x, dst, n);
    if (k->q8_layout[t])
        k->q8_layout[t]->prepare(dst, n, (uint8_t *)dst + acts_part(llm_row_bytes(LLM_Q8_0, n)));
}

void llm_dot_rows_q8(llm_dtype t, const void *row, const void *xa, size_t ldxa, int nx, float *out,
                     int64_t ldo, int64_t n)
{
    const llm_kernels *k = kernels();
    assert(t >= 0 && t < LLM_DTYPE_MAX && k->dot_q8[t] && n % LLM_QK == 0);
    if (k->dot_q8_rows[t]) {
        /* the laid-out part, or the plain blocks where the kernels want no layout */
        size_t at = k->q8_layout[t] ? acts_part(llm_row_bytes(LLM_Q8_0, n)) : 0;
        k->dot_q8_rows[t](row, (const uint8_t *)xa + at, ldxa, nx, out, ldo, n);
        return;
    }
    for (int j = 0; j < nx; j++)
        out[j * ldo] = k->dot_q8[t](row, (const uint8_t *)xa + j * ldxa, n);
}

void llm_dot_tile_q8(llm_dtype t, const void *rows, size_t row_bytes, int nw, const void *xa,
                     size_t ldxa, int nx, float *out, int64_t ldo, int64_t n)
{
    const llm_kernels *k = kernels();
    assert(t >= 0 && t < LLM_DTYPE_MAX && k->dot_q8[t] && n % LLM_QK == 0);
    if (k->dot_q8_tile[t]) {
        size_t at = k->q8_layout[t] ? acts_part(llm_row_bytes(LLM_Q8_0, n)) : 0;
        k->dot_q8_tile[t](rows, row_bytes, nw, (const uint8_t *)xa + at, ldxa, nx, out, ldo, n);
        return;
    }
    for (int i = 0; i < nw; i++)
        llm_dot_rows_q8(t, (const uint8_t *)rows + (size_t)i * row_bytes, xa, ldxa, nx, out + i,
                        ldo, n);
}

/* ---- vector math (llm/vecmath.h) --------------------------------------- */

void llm_vec_exp(float *x, int64_t n)
{
    kernels()->vec.exp(x, n);
}

void llm_vec_silu(float *x, int64_t n)
{
    kernels()->vec.silu(x, n);
}

void llm_vec_swiglu(float *gate, const float *up, int64_t n)
{
    kernels()->vec.swiglu(gate, up, n);
}

void llm_vec_gelu(float *x, int64_t n)
{
    kernels()->vec.gelu(x, n);
}

void llm_vec_softmax(float *x, int64_t n, float scale)
{
    kernels()->vec.softmax(x, n, scale);
}

void llm_vec_softmax_rows(float *x, int64_t ld, int64_t rows, const int64_t *n, float scale)
{
    const llm_vec_kernels *k = &kernels()->vec;
    if (k->softmax_rows) {
        k->softmax_rows(x, ld, rows, n, scale);
        return;
    }
    for (int64_t r = 0; r < rows; r++)
        k->softmax(x + r * ld, n ? n[r] : ld, scale);
}

int64_t llm_vec_argmax(const float *x, int64_t n)
{
    return kernels()->vec.argmax(x, n);
}

void llm_vec_layernorm(const float *x, const float *w, const float *b, float *out, int64_t n,
                       float eps)
{
    kernels()->vec.layernorm(x, w, b, out, n, eps);
}

void llm_vec_rmsnorm(const float *x, const float *w, float *out, int64_t n, float eps)
{
    kernels()->vec.rmsnorm(x, w, out, n, eps);
}

void llm_vec_add(float *y, const float *x, int64_t n)
{
    kernels()->vec.add(y, x, n);
}

void llm_vec_axpy(float *y, float a, const float *x, int64_t n)
{
    kernels()->vec.axpy(y, a, x, n);
}

void llm_gemm_nt(const float *A, int64_t lda, int m, const float *B, int64_t ldb, int n, int64_t k,
                 float *C, int64_t ldc, float *scratch)
{
    kernels()->vec.gemm(A, lda, m, B, ldb, 1, n, k, C, ldc, scratch, NULL);
}

void llm_gemm_nt_ep(const float *A, int64_t lda, int m, const float *B, int64_t ldb, int n,
                    int64_t k, float *C, int64_t ldc, float *scratch, const llm_epilogue *ep)
{
    kernels()->vec.gemm(A, lda, m, B, ldb, 1, n, k, C, ldc, scratch, ep);
}

void llm_epilogue_apply(const llm_epilogue *ep, float *C, int64_t ldc, int64_t m, int64_t j0,
                        int64_t n)
{
    if (ep && (ep->bias || ep->gelu) && m > 0 && n > 0)
        kernels()->vec.epilogue(C, ldc, m, n, ep->bias ? ep->bias + j0 : NULL, ep->gelu);
}

void llm_gemm_nn(const float *A, int64_t lda, int m, const float *B, int64_t ldb, int n, int64_t k,
                 float *C, int64_t ldc, float *scratch)
{
    kernels()->vec.gemm(A, lda, m, B, ldb, 0, n, k, C, ldc, scratch, NULL);
}

void llm_gemm_nn_f16(const float *A, int64_t lda, int m, const uint16_t *B, int64_t ldb, int n,
                     int64_t k, float *C, int64_t ldc)
{
    kernels()->vec.gemm_nn_f16(A, lda, m, B, ldb, n, k, C, ldc);
}

uint64_t llm_bench_read_sum(const uint64_t *p, size_t n)
{
    return kernels()->vec.read_sum(p, n);
}

/* Columns j0 .. j0+nc-1 of a product's B (b_rows: B's rows are the
 * columns) packed k by k into P[k][0 .. nr), zero past nc. */
static void gemm_pack(const llm_gemm_blocks *g, const float *B, int64_t ldb, int b_rows, int j0,
                      int nc, int64_t k, float *P, int nr)
{
    if (b_rows && g->pack_rows) {
        g->pack_rows(B + (size_t)j0 * ldb, ldb, nc, k, P, nr);
        return;
    }
    if (b_rows) {
        for (int c = 0; c < nc; c++) {
            const float *row = B + (size_t)(j0 + c) * ldb;
            for (int64_t t = 0; t < k; t++)
                P[t * nr + c] = row[t];
        }
    } else {
        for (int64_t t = 0; t < k; t++)
            memcpy(P + t * nr, B + (size_t)t * ldb + j0, (size_t)nc * sizeof *P);
    }
    if (nc < nr)
        for (int64_t t = 0; t < k; t++)
            memset(P + t * nr + nc, 0, (size_t)(nr - nc) * sizeof *P);
}

/* ep on a block of C, columns j .. j + n - 1 of the product. The kernels
 * store with masks, and a load of what a masked store wrote waits until
 * the store reaches the cache: so each block's epilogue comes one block
 * later (by_b), or after a whole strip (by_a), and finds its floats there
 * (right after the block, an encoder took 10% longer than with separate
 * passes). */
static void gemm_ep(const llm_gemm_blocks *g, const llm_epilogue *ep, float *C, int64_t ldc, int m,
                    int j, int n)
{
    if (ep && (ep->bias || ep->gelu))
        g->epilogue(C, ldc, m, n, ep->bias ? ep->bias + j : NULL, ep->gelu);
}

/* Many rows of A: panels of B's columns, blocks of A's rows against each,
 * packed into P (k x nr floats). */
static void gemm_by_b(const llm_gemm_blocks *g, const float *A, int64_t lda, int m, const float *B,
                      int64_t ldb, int b_rows, int n, int64_t k, float *C, int64_t ldc, float *P,
                      const llm_epilogue *ep)
{
    for (int j = 0; j < n; j += g->nr) {
        int nc = n - j < g->nr ? n - j : g->nr;
        gemm_pack(g, B, ldb, b_rows, j, nc, k, P, g->nr);
        int i = 0, mr = 0;
        for (; i < m; i += mr) {
            mr = m - i < g->mr ? m - i : g->mr;
            g->jrows[mr - 1](A + (size_t)i * lda, lda, P, k, C + (size_t)i * ldc + j, ldc, nc);
            if (i > 0) gemm_ep(g, ep, C + (size_t)(i - g->mr) * ldc + j, ldc, g->mr, j, nc);
        }
        gemm_ep(g, ep, C + (size_t)(i - mr) * ldc + j, ldc, mr, j, nc);
    }
}

/* Few rows of A: A's rows packed into P (k x 2 lanes floats), B's elements
 * broadcast against them; the columns of C come out as vectors, and go
 * into C's rows COLS at a time, by 8 x 8 transpositions. */
static void gemm_by_a(const llm_gemm_blocks *g, const float *A, int64_t lda, int m, const float *B,
                      int64_t ldb, int b_rows, int n, int64_t k, float *C, int64_t ldc, float *P,
                      const llm_epilogue *ep)
{
    enum { COLS = 96 }; /* columns of C unpacked at a time, a multiple of nj */
    _Alignas(64) float T[COLS * LLM_GEMM_PANEL];
    assert(COLS % g->nj == 0);
    int w = 2 * g->lanes;
    int64_t sj = b_rows ? ldb : 1, sk = b_rows ? 1 : ldb;
    for (int i = 0; i < m; i += w) {
        int mr = m - i < w ? m - i : w, v = mr > g->lanes ? 2 : 1;
        gemm_pack(g, A + (size_t)i * lda, lda, 1, 0, mr, k, P, w);
        for (int j0 = 0; j0 < n; j0 += COLS) {
            int nc = n - j0 < COLS ? n - j0 : COLS;
            for (int j = j0; j < j0 + nc; j += g->nj) {
                int nj = j0 + nc - j < g->nj ? j0 + nc - j : g->nj;
                g->icols[v - 1][nj - 1](P, B + (size_t)j * sj, sj, sk, k,
                                        T + (size_t)(j - j0) * LLM_GEMM_PANEL);
            }
            g->unpack_cols(T, nc, mr, C + (size_t)i * ldc + j0, ldc);
        }
        gemm_ep(g, ep, C + (size_t)i * ldc, ldc, mr, 0, n);
    }
}

void llm_gemm_f16_run(const llm_gemm_f16_blocks *g, const float *A, int64_t lda, int m,
                      const uint16_t *B, int64_t ldb, int n, int64_t k, float *C, int64_t ldc)
{
    for (int j = 0; j < n; j += g->nr) {
        int nc = n - j < g->nr ? n - j : g->nr;
        for (int i = 0; i < m; i += g->mr) {
            int mr = m - i < g->mr ? m - i : g->mr;
            g->rows[mr - 1](A + (size_t)i * lda, lda, B + j, ldb, k, C + (size_t)i * ldc + j, ldc,
                            nc);
        }
    }
}

/* The cheaper way, counted in vector multiply-adds over the padded vectors
 * plus a float per element packed, and half a multiply-add per element of
 * B that by_a reads again for each strip of A's rows after the first (from
 * farther away than the panels: with more than one strip it ran at 3/4
 * of by_b's speed on AVX-512, at par on AVX2). The same bits either way. */
void llm_gemm_run(const llm_gemm_blocks *g, const float *A, int64_t lda, int m, const float *B,
                  int64_t ldb, int b_rows, int n, int64_t k, float *C, int64_t ldc, float *scratch,
                  const llm_epilogue *ep)
{
    if (m <= 0 || n <= 0) return;
    assert(g->nr <= LLM_GEMM_PANEL && 2 * g->lanes <= LLM_GEMM_PANEL);
    double by_b = (double)((n + g->nr - 1) / g->nr) * (g->nr / g->lanes) * m * k + (double)n * k;
    int strips = (m + 2 * g->lanes - 1) / (2 * g->lanes);
    double by_a = (double)((m + g->lanes - 1) / g->lanes) * n * k + (double)m * k +
                  0.5 * (strips - 1) * n * k;
    float *P = scratch ? scratch
                       : rag_xcalloc_lines((size_t)(k > 0 ? k : 1) * LLM_GEMM_PANEL, sizeof(float));
    if (by_a < by_b)
        gemm_by_a(g, A, lda, m, B, ldb, b_rows, n, k, C, ldc, P, ep);
    else
        gemm_by_b(g, A, lda, m, B, ldb, b_rows, n, k, C, ldc, P, ep);
    if (!scratch) rag_free_lines(P);
}
