/* llm/matmul.c: the compute context (a pool of worker threads and the
 * scratch memory of one tile of dequantized weights) and the products with
 * weight matrices that go through it.
 *
 * Threads: llm_compute_new starts n_threads - 1 workers; the thread calling
 * llm_parallel_for is the n-th and does its share. A job is published under
 * the mutex with a new generation number; each worker runs its contiguous
 * range of indices, then takes what is left of the others' from their
 * ends (see claim), and reports back; the caller waits for all of them. One
 * job at a time: an llm_compute is used by one thread, and fn must not call
 * llm_parallel_for on the same context. Decoding a token publishes some 170
 * jobs of a fraction of a millisecond each, so waiting spins briefly before
 * it sleeps: a worker (or the caller) that blocked on the condition
 * variable at every job lost a wake-up's latency each time.
 *
 * A product of a few input rows (decoding) goes by rows: the pool hands
 * out chunks of ROW_CHUNK weight rows, and the integer kernels take a
 * chunk in one call, its rows one after another as one stream (a call per
 * row through the dispatcher spent 6% of a token's time in the calls).
 *
 * One pool does all the parallel work. A large product goes by the integer
 * path (llm/qgemm.h) where the weight type has one, or is cut into tiles of
 * weight rows; each worker dequantizes its tiles into its own scratch and
 * multiplies them with llm_gemm_nt. Either way an output row does not
 * depend on the other input rows (see matmul_tiles). OpenBLAS, which the
 * products used before, computes nothing here; it is still set to one
 * thread, for the programs that measure its sgemm beside us (its own
 * threads spin after each call and steal the cores the pool needs). */
#include "llm/matmul.h"

#include "base/mem.h"
#include "llm/qgemm.h"
#include "llm/vecmath.h"

#include <assert.h>
#include <cblas.h>
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <stdint.h>
#include <unistd.h>

/* How long a waiting thread spins (some 100 us of pauses and yields)
 * before it sleeps on the condition variable. Measured with a small model
 * on 2 cores: one generation 1000 tokens in 0.84 s (3.0 s sleeping at
 * once), two at the same time 1.57 s (2.0 s sleeping at once, 3.0 s
 * spinning without the yields). */
#define SPIN_ROUNDS 2000

/* One round of waiting: a pause, and every 64th round a yield, so that a
 * spinning thread gives its core up when another thread wants it (two
 * generations at once, each with a pool as large as the machine). */
static inline void cpu_relax(int round)
{
    if ((round & 63) == 63) {
        sched_yield();
        return;
    }
#if defined(__x86_64__)
    _mm_pause();
#endif
}

/* Below this many input rows each weight row is decoded once per input row
 * by the dot kernels; from this many on, dequantizing a tile once and letting
 * sgemm reuse it wins. Measured on Q4_K 2048 x 4096 (AVX-512, one thread):
 * 7 rows took 5.0 ms by dots and 5.4 ms by tiles, 8 rows 5.7 and 4.6. */
#define SMALL_N (LLM_MATMUL_ROWS_MAX + 1)

/* Scratch for one tile of dequantized rows: about 2 MiB, so that sgemm
 * rereads it from cache (4 MiB was 8% slower for 8-16 input rows, 1 MiB 10%
 * slower for 256), but at least 64 and at most 256 rows. */
#define TILE_BYTES (2u << 20)
#define TILE_MIN 64
#define TILE_MAX 256

/* From this many input rows on, tiles of up to 8 MiB (2048 rows): OpenBLAS
 * packs the input rows again for every tile, and with hundreds of rows
 * that packing outweighs the cache the small tiles keep. Prefill of 512
 * tokens: Qwen2.5-0.5B Q4_K_M 234 -> 273 tokens/s, Llama-3.2-1B Q8_0 100 ->
 * 113, measured three times each. */
#define BIG_N 64
#define BIG_TILE_BYTES (8u << 20)
#define BIG_TILE_MAX 2048

#define MAX_THREADS 1024

/* The integer path (llm/qgemm.h): activation rows are quantized QG_ROWS at
 * a time into a buffer the context keeps; a worker packs QG_TILE weight
 * rows (some 100 KB per 1,000 columns) and multiplies them with
 * QG_JCHUNK activation rows at a time, so that both stay in its L2 cache. */
#define QG_ROWS 512
#define QG_TILE 64
#define QG_JCHUNK 64
/* A SwiGLU pair's tile (llm_matmul_swiglu): QG_PAIR rows of the gate and
 * the same rows of the up matrix, their values in the worker's own two
 * QG_ROWS x QG_PAIR floats (a QG_JCHUNK block at a time, in L1); one block
 * of 32 of the down product's activations (llm_matmul_ffn). */
#define QG_PAIR (QG_TILE / 2)

/* What is left of a thread's range of a job's indices, [next, end), in one
 * word so that its owner (from next) and a thread done with its own range
 * (from end) never take the same index. On a line of its own. */
typedef struct share {
    _Atomic uint64_t left; /* end << 32 | next */
    char pad[64 - sizeof(uint64_t)];
} share;

struct llm_compute {
    int n_threads;
    int64_t max_cols;
    int64_t tile_rows, big_tile_rows; /* for fewer and for BIG_N input rows or more */
    float *scratch;        /* per thread: big_tile_rows * max_cols, then the product's panel
                              (LLM_GEMM_PANEL * max_cols); owned */
    size_t scratch_floats; /* per thread */
    uint8_t *qg_acts;      /* QG_ROWS quantized activation rows, owned */
    uint8_t *qg_acts_ffn;  /* as many, a feed-forward's SwiGLU output (llm_matmul_ffn) */
    uint8_t *qg_tiles;     /* one packed tile per thread, owned */
    size_t qg_tile_bytes;
    float *qg_up; /* per thread QG_ROWS x QG_PAIR floats for up, as many for gate; owned */

    pthread_t *workers; /* n_threads - 1, owned */
    int n_started;
    pthread_mutex_t mu;
    pthread_cond_t wake; /* workers wait here for a new generation or stop */
    pthread_cond_t done; /* the caller waits here for n_pending == 0 */
    int int8_decode;     /* see llm_compute_set_int8_decode */
    int batch_invariant; /* see llm_compute_set_batch_invariant */
    _Atomic int stop;
    share *shares; /* per thread, owned */
    /* Waking: a thread that gives up spinning says so (n_sleeping,
     * caller_sleeping; set under mu, then the condition checked again), and
     * only then does the other side take mu to signal: each side writes its
     * word, then reads the other's (sequentially consistent), so one of them
     * sees the other. A job with both sides spinning moves no mutex between
     * the cores (an empty job on 2 cores: 2.5 -> 0.9 us). */
    _Atomic int n_sleeping, caller_sleeping;
    /* the current job, valid while n_pending > 0, written by the caller on
     * its own line: generation last, so that a spinning worker that sees it
     * sees the job whole */
    _Alignas(64) _Atomic uint64_t generation;
    void (*fn)(void *ctx, int64_t i);
    void *ctx;
    int64_t n;
    _Alignas(64) _Atomic int n_pending; /* written by the workers */
};

typedef struct worker_arg {
    llm_compute *c;
    int index; /* 1 .. n_threads - 1; the caller is 0 */
} worker_arg;

/* Indices [*lo, return) of sh's range, from its start (the owner) or its
 * end (another thread); none (return <= *lo) when none is left. An eighth
 * of what is left, at most 8, at a time: a claim is a locked instruction,
 * and one per index (per 16 weight rows, decoding) cost 5% of a token's
 * time. */
static int64_t claim(share *sh, int from_end, int64_t *lo)
{
    uint64_t v = atomic_load_explicit(&sh->left, memory_order_relaxed);
    for (;;) {
        uint64_t next = v & 0xFFFFFFFFu, end = v >> 32;
        if (next >= end) return *lo = 0;
        uint64_t k = (end - next + 7) / 8;
        if (k > 8) k = 8;
        uint64_t w = from_end ? (end - k) << 32 | next : end << 32 | (next + k);
        if (atomic_compare_exchange_weak(&sh->left, &v, w)) {
            *lo = (int64_t)(from_end ? end - k : next);
            return *lo + (int64_t)k;
        }
    }
}

/* Thread index's range of the job's indices, then what the others have
 * left of theirs: a thread slowed (by the other work of a shared machine,
 * by its share of the memory bandwidth, by waking late) no longer holds
 * the step up. Each index runs once, on one thread; which thread does not
 * change what it computes. The matrix-vector products of 24 layers of
 * Qwen2.5-0.5B's shapes in Q5_0 (246 MB, 2 cores, alternated runs): 0.69-
 * 0.82 of the read bandwidth measured beside them with contiguous ranges,
 * 0.76-0.87 with the ranges' ends taken. */
static void run_range(llm_compute *c, int index)
{
    int64_t i, hi;
    while ((hi = claim(&c->shares[index], 0, &i)) > i)
        for (; i < hi; i++)
            c->fn(c->ctx, i);
    for (int k = 1; k < c->n_threads; k++) {
        share *other = &c->shares[(index + k) % c->n_threads];
        while ((hi = claim(other, 1, &i)) > i)
            for (; i < hi; i++)
                c->fn(c->ctx, i);
    }
}

static void *worker_main(void *p)
{
    worker_arg *a = p;
    llm_compute *c = a->c;
    int index = a->index;
    rag_free(a);
    uint64_t seen = 0;
    for (;;) {
        for (int k = 0;
             k < SPIN_ROUNDS && atomic_load(&c->generation) == seen && !atomic_load(&c->stop); k++)
            cpu_relax(k);
        if (atomic_load(&c->generation) == seen && !atomic_load(&c->stop)) {
            pthread_mutex_lock(&c->mu);
            atomic_fetch_add(&c->n_sleeping, 1);
            while (!atomic_load(&c->stop) && atomic_load(&c->generation) == seen)
                pthread_cond_wait(&c->wake, &c->mu);
            atomic_fetch_sub(&c->n_sleeping, 1);
            pthread_mutex_unlock(&c->mu);
        }
        if (atomic_load(&c->stop)) break;
        seen = atomic_load(&c->generation);
        run_range(c, index);
        /* the last one out wakes the caller if it sleeps, under the mutex so
         * that a caller between its check and its wait cannot miss it */
        if (atomic_fetch_sub(&c->n_pending, 1) == 1 && atomic_load(&c->caller_sleeping)) {
            pthread_mutex_lock(&c->mu);
            pthread_cond_signal(&c->done);
            pthread_mutex_unlock(&c->mu);
        }
    }
    return NULL;
}

/* Indices base .. of a job too long for one pass. */
typedef struct part_job {
    void (*fn)(void *ctx, int64_t i);
    void *ctx;
    int64_t base;
} part_job;

static void part_run(void *p, int64_t i)
{
    const part_job *j = p;
    j->fn(j->ctx, j->base + i);
}

void llm_parallel_for(llm_compute *c, int64_t n, void (*fn)(void *ctx, int64_t i), void *ctx)
{
    if (n <= 0) return;
    if (c->n_threads == 1 || n == 1) {
        for (int64_t i = 0; i < n; i++)
            fn(ctx, i);
        return;
    }
    if (n > (int64_t)INT32_MAX) { /* beyond a share's 32 bits: in parts */
        for (int64_t i0 = 0; i0 < n; i0 += INT32_MAX) {
            part_job pj = {fn, ctx, i0};
            llm_parallel_for(c, n - i0 < INT32_MAX ? n - i0 : INT32_MAX, part_run, &pj);
        }
        return;
    }
    c->fn = fn;
    c->ctx = ctx;
    c->n = n;
    for (int t = 0; t < c->n_threads; t++) {
        uint64_t lo = (uint64_t)(n * t / c->n_threads), hi = (uint64_t)(n * (t + 1) / c->n_threads);
        atomic_store_explicit(&c->shares[t].left, hi << 32 | lo, memory_order_relaxed);
    }
    atomic_store(&c->n_pending, c->n_threads - 1);
    atomic_fetch_add(&c->generation, 1); /* after the job: a spinning worker then sees it whole */
    if (atomic_load(&c->n_sleeping) > 0) {
        pthread_mutex_lock(&c->mu);
        pthread_cond_broadcast(&c->wake);
        pthread_mutex_unlock(&c->mu);
    }

    run_range(c, 0);

    for (int k = 0; k < SPIN_ROUNDS && atomic_load(&c->n_pending) > 0; k++)
        cpu_relax(k);
    if (atomic_load(&c->n_pending) > 0) {
        pthread_mutex_lock(&c->mu);
        atomic_store(&c->caller_sleeping, 1);
        while (atomic_load(&c->n_pending) > 0)
            pthread_cond_wait(&c->done, &c->mu);
        atomic_store(&c->caller_sleeping, 0);
        pthread_mutex_unlock(&c->mu);
    }
}

void llm_parallel_rows(llm_compute *c, int64_t n, void (*fn)(void *ctx, int64_t t), void *ctx)
{
    if (n > LLM_MATMUL_ROWS_MAX) {
        llm_parallel_for(c, n, fn, ctx);
        return;
    }
    for (int64_t t = 0; t < n; t++)
        fn(ctx, t);
}

void llm_compute_free(llm_compute *c)
{
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    atomic_store(&c->stop, 1);
    pthread_cond_broadcast(&c->wake);
    pthread_mutex_unlock(&c->mu);
    for (int i = 0; i < c->n_started; i++)
        pthread_join(c->workers[i], NULL);
    pthread_cond_destroy(&c->wake);
    pthread_cond_destroy(&c->done);
    pthread_mutex_destroy(&c->mu);
    rag_free(c->workers);
    rag_free_lines(c->scratch);
    rag_free_lines(c->qg_acts);
    rag_free_lines(c->qg_acts_ffn);
    rag_free_lines(c->qg_up);
    rag_free_lines(c->qg_tiles);
    rag_free_lines(c->shares);
    rag_free_lines(c);
}

int llm_compute_new(int n_threads, int64_t max_cols, llm_compute **out, rag_err *err)
{
    *out = NULL;
    if (n_threads == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = online > 0 ? (int)(online < MAX_THREADS ? online : MAX_THREADS) : 1;
    }
    if (n_threads < 1 || n_threads > MAX_THREADS)
        return rag_err_set(err, RAG_ERR_INVALID, "llm_compute: %d threads (1..%d, or 0)", n_threads,
                           MAX_THREADS);
    /* 2^20 columns is beyond any model (the widest, 405B FFNs, have 53248)
     * and bounds the scratch at 64 rows * 2^20 floats = 256 MiB */
    if (max_cols < 1 || max_cols > ((int64_t)1 << 20))
        return rag_err_set(err, RAG_ERR_INVALID, "llm_compute: max_cols %lld out of range",
                           (long long)max_cols);

    llm_compute *c = rag_xcalloc_lines(1, sizeof *c); /* its lines as laid out */
    c->n_threads = n_threads;
    c->max_cols = max_cols;
    int64_t rows = (int64_t)(TILE_BYTES / sizeof(float)) / max_cols;
    c->tile_rows = rows < TILE_MIN ? TILE_MIN : rows > TILE_MAX ? TILE_MAX : rows;
    rows = (int64_t)(BIG_TILE_BYTES / sizeof(float)) / max_cols;
    c->big_tile_rows = rows < c->tile_rows   ? c->tile_rows
                       : rows > BIG_TILE_MAX ? BIG_TILE_MAX
                                             : rows;
    /* one (big) tile of scratch per thread, and the panel llm_gemm_nt packs */
    c->scratch_floats = (size_t)((c->big_tile_rows + LLM_GEMM_PANEL) * max_cols);
    c->scratch = rag_xcalloc_lines((size_t)n_threads * c->scratch_floats, sizeof(float));
    /* for the integer path; untouched (so not resident) until used */
    c->qg_acts = rag_xcalloc_lines(llm_qg_acts_bytes(QG_ROWS, max_cols), 1);
    c->qg_acts_ffn = rag_xcalloc_lines(llm_qg_acts_bytes(QG_ROWS, max_cols), 1);
    size_t p8 = llm_qg_panel_bytes(max_cols, 8) * (QG_TILE / 8),
           p16 = llm_qg_panel_bytes(max_cols, 16) * (QG_TILE / 16);
    /* and lanes rows of unpacked values, the packing's scratch */
    c->qg_tile_bytes = (p8 > p16 ? p8 : p16) + (size_t)(16 * max_cols + 64);
    c->qg_tiles = rag_xcalloc_lines((size_t)n_threads * c->qg_tile_bytes, 1);
    c->qg_up = rag_xcalloc_lines((size_t)n_threads * 2 * QG_ROWS * QG_PAIR, sizeof(float));
    c->shares = rag_xcalloc_lines((size_t)n_threads, sizeof(share));
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->wake, NULL);
    pthread_cond_init(&c->done, NULL);
    c->workers = rag_xcalloc((size_t)n_threads, sizeof(pthread_t));
    for (int i = 1; i < n_threads; i++) {
        worker_arg *a = rag_xmalloc(sizeof *a);
        a->c = c;
        a->index = i;
        int rc = pthread_create(&c->workers[c->n_started], NULL, worker_main, a);
        if (rc != 0) {
            rag_free(a);
            llm_compute_free(c);
            return rag_err_sys(err, rc, "llm_compute: starting worker thread %d", i);
        }
        c->n_started++;
    }
    openblas_set_num_threads(1);
    *out = c;
    return 0;
}

void llm_compute_set_int8_decode(llm_compute *c, int on)
{
    c->int8_decode = on;
}

void llm_compute_set_batch_invariant(llm_compute *c, int on)
{
    c->batch_invariant = on;
}

int llm_compute_threads(const llm_compute *c)
{
    return c->n_threads;
}

/* ---- products ---------------------------------------------------------- */

/* Products on the row path: up to LLM_MATMUL_SET matrices with the same
 * input rows, as one range of rows (matrix k's rows from start[k]) so that
 * one parallel pass does them all. The input is float, or laid out for the
 * integer kernels (llm_q8_acts) per matrix: its type decides the layout. */
typedef struct rows_job {
    const llm_mat *W[LLM_MATMUL_SET];
    float *Y[LLM_MATMUL_SET];
    const uint8_t *Xq[LLM_MATMUL_SET]; /* NULL: float input */
    size_t xq_row_bytes[LLM_MATMUL_SET];
    int il[LLM_MATMUL_SET]; /* from the interleaved groups, against acts */
    const llm_qg_ops *ops;
    llm_qg_acts acts;
    int64_t start[LLM_MATMUL_SET + 1]; /* matrix k's first chunk */
    const llm_epilogue *ep[LLM_MATMUL_SET];
    const float *X;
    int64_t n;
} rows_job;

/* The rows path hands out chunks of this many rows of one matrix: one call
 * of the kernels per chunk, which take the rows several at once (an
 * interleaved group's rows: llm/qgemm.h). */
#define ROW_CHUNK 16

/* Y[j][r] = W[r] . X[j] for every input row j and the rows r of chunk c,
 * each row decoded once. */
static void dot_chunk(void *p, int64_t c)
{
    const rows_job *job = p;
    int k = 0;
    while (c >= job->start[k + 1])
        k++;
    const llm_mat *W = job->W[k];
    int64_t r0 = (c - job->start[k]) * ROW_CHUNK,
            nr = W->rows - r0 < ROW_CHUNK ? W->rows - r0 : ROW_CHUNK;
    const uint8_t *row = (const uint8_t *)W->data + (size_t)r0 * W->row_bytes;
    if (job->il[k])
        job->ops->il_rows(W->type, llm_qg_il_group(W->il, W->type, W->cols, r0), W->cols,
                          &job->acts, (int)job->n, job->Y[k] + r0, W->rows, (int)nr);
    else if (job->Xq[k])
        llm_dot_tile_q8(W->type, row, W->row_bytes, (int)nr, job->Xq[k], job->xq_row_bytes[k],
                        (int)job->n, job->Y[k] + r0, W->rows, W->cols);
    else
        for (int64_t r = r0; r < r0 + nr; r++, row += W->row_bytes)
            llm_dot_rows(W->type, row, job->X, W->cols, (int)job->n, job->Y[k] + r, W->rows,
                         W->cols);
    llm_epilogue_apply(job->ep[k], job->Y[k] + r0, W->rows, job->n, r0, nr);
}

typedef struct gemm_job {
    llm_compute *c;
    const llm_mat *W;
    const float *X;
    int64_t n;
    float *Y;
    int64_t n_tiles, tile_rows;
    const llm_epilogue *ep;
} gemm_job;

/* Worker slot s multiplies tiles s, s + n_threads, ...: dequantized into its
 * own scratch (F32 weights are used in place), times X by llm_gemm_nt. */
static void gemm_slot(void *p, int64_t slot)
{
    const gemm_job *j = p;
    const llm_mat *W = j->W;
    float *scratch = j->c->scratch + (size_t)slot * j->c->scratch_floats;
    float *panel = scratch + (size_t)(j->c->big_tile_rows * j->c->max_cols);
    for (int64_t t = slot; t < j->n_tiles; t += j->c->n_threads) {
        int64_t r0 = t * j->tile_rows,
                tr = W->rows - r0 < j->tile_rows ? W->rows - r0 : j->tile_rows;
        if (tr <= 0) break;
        const uint8_t *rows = (const uint8_t *)W->data + (size_t)r0 * W->row_bytes;
        const float *B = scratch;
        int64_t ldb = W->cols;
        if (W->type == LLM_F32) {
            B = (const float *)rows;
            ldb = (int64_t)(W->row_bytes / sizeof(float));
        } else {
            for (int64_t i = 0; i < tr; i++)
                llm_dequant_row(W->type, rows + (size_t)i * W->row_bytes, scratch + i * W->cols,
                                W->cols);
        }
        llm_epilogue ep, *tile_ep = NULL; /* its columns from r0 */
        if (j->ep) {
            ep = *j->ep;
            if (ep.bias) ep.bias += r0;
            tile_ep = &ep;
        }
        llm_gemm_nt_ep(j->X, W->cols, (int)j->n, B, ldb, (int)tr, W->cols, j->Y + r0, W->rows,
                       panel, tile_ep);
    }
}

/* Dequantized tiles of W, multiplied on the workers by llm_gemm_nt: a row
 * of Y is the same bits whatever n is and whatever rows come with it (not
 * so with cblas_sgemm, whose kernels and blocking follow the shape and
 * OPENBLAS_CORETYPE), so that a prompt gives the same answer whether it is
 * computed in one pass or after a cached prefix. */
static void matmul_tiles(llm_compute *c, const llm_mat *W, const float *X, int64_t n, float *Y,
                         const llm_epilogue *ep)
{
    /* tiles of at most tile_rows, as even as possible, a multiple of the threads in number */
    int64_t tile_rows = n >= BIG_N ? c->big_tile_rows : c->tile_rows;
    int64_t n_tiles = (W->rows + tile_rows - 1) / tile_rows;
    n_tiles = (n_tiles + c->n_threads - 1) / c->n_threads * c->n_threads;
    gemm_job g = {c, W, X, n, Y, n_tiles, (W->rows + n_tiles - 1) / n_tiles, ep};
    llm_parallel_for(c, c->n_threads, gemm_slot, &g);
}

/* ---- the integer path -------------------------------------------------- */

/* W's interleaved groups, when it has them and the path that made them is
 * active (else its rows as the file has them). */
static int il_usable(const llm_mat *W)
{
    return W->il && llm_qg_il_handles(W->type);
}

typedef struct qg_quant_job {
    llm_qg_acts *a;
    const float *X;
    int64_t cols;
} qg_quant_job;

static void qg_quantize(void *p, int64_t j)
{
    const qg_quant_job *q = p;
    llm_qg_quantize_row(q->a, j, q->X + j * q->cols);
}

typedef struct qg_job {
    llm_compute *c;
    const llm_mat *W;
    const llm_mat *up; /* SwiGLU: Y = silu(X W^T) * (X up^T); else NULL */
    const llm_qg_ops *ops;
    const llm_qg_acts *a;
    float *Y;              /* the first of a's rows */
    llm_qg_acts *down;     /* SwiGLU: Y quantized here instead (tiles of QG_PAIR rows), or NULL */
    int down_bs, down_min; /* what the down matrix's panels read of it (quantize_block) */
    int64_t n_tiles, tile_rows;
    const llm_epilogue *ep;
} qg_job;

/* Packs rows [r0, r0 + tr) of W into np panels at mem, from its
 * interleaved groups (their values unpacked or in place) when it has them. */
static void qg_pack_tile(const llm_mat *W, int lanes, int64_t r0, int64_t tr, int np, uint8_t *mem,
                         size_t panel_bytes, uint8_t *tmp, llm_qg_panel *panel)
{
    for (int i = 0; i < np; i++) {
        int64_t pr = tr - (int64_t)i * lanes < lanes ? tr - (int64_t)i * lanes : lanes;
        if (il_usable(W))
            llm_qg_il_panel(W->type, llm_qg_il_group(W->il, W->type, W->cols, r0 + i * lanes),
                            W->cols, mem + (size_t)i * panel_bytes, &panel[i]);
        else
            llm_qg_pack(W->type, (const uint8_t *)W->data + (size_t)(r0 + i * lanes) * W->row_bytes,
                        W->row_bytes, (int)pr, W->cols, lanes, mem + (size_t)i * panel_bytes, tmp,
                        &panel[i]);
    }
}

/* Worker slot s packs its tiles (below) into its own scratch and
 * multiplies each with all of a's rows. A SwiGLU pair's tile is the same
 * rows of both matrices: each block of both products lands in the
 * worker's own buffers, rows QG_PAIR apart, and becomes silu(gate) * up
 * in one llm_vec_swiglu call while both are in L1 (elementwise: the bits
 * of a pass over whole rows); then the block's rows go into Y, or are
 * quantized as the activations of the down product (one block of 32 per
 * row; llm_matmul_ffn), so that neither product reaches memory as
 * floats. */
static void qg_slot(void *p, int64_t slot)
{
    const qg_job *j = p;
    const llm_mat *W = j->W;
    int lanes = j->ops->lanes;
    size_t panel_bytes = llm_qg_panel_bytes(W->cols, lanes);
    uint8_t *mem = j->c->qg_tiles + (size_t)slot * j->c->qg_tile_bytes;
    uint8_t *tmp = mem + (size_t)(QG_TILE / lanes) * panel_bytes;
    float *up = j->c->qg_up + (size_t)slot * 2 * QG_ROWS * QG_PAIR, *gate = up + QG_ROWS * QG_PAIR;
    /* the slot's tiles: one run of them, where the outputs of neighbouring
     * tiles share cache lines (a quantized block of 32 is 32 bytes, its
     * scale 4 bytes), else every n_threads-th */
    int64_t T = j->c->n_threads, step = j->down ? 1 : T,
            t0 = j->down ? j->n_tiles * slot / T : slot,
            t1 = j->down ? j->n_tiles * (slot + 1) / T : j->n_tiles;
    for (int64_t t = t0; t < t1; t += step) {
        int64_t r0 = t * j->tile_rows,
                tr = W->rows - r0 < j->tile_rows ? W->rows - r0 : j->tile_rows;
        if (tr <= 0) break;
        llm_qg_panel panel[QG_TILE / 8];
        int np = (int)((tr + lanes - 1) / lanes);
        qg_pack_tile(W, lanes, r0, tr, np, mem, panel_bytes, tmp, panel);
        if (j->up)
            qg_pack_tile(j->up, lanes, r0, tr, np, mem + (size_t)np * panel_bytes, panel_bytes, tmp,
                         panel + np);
        /* W's product: into Y, or for a SwiGLU pair into the gate buffer */
        float *Yw = j->up ? gate : j->Y + r0;
        int64_t ldw = j->up ? QG_PAIR : W->rows;
        for (int64_t j0 = 0; j0 < j->a->n; j0 += QG_JCHUNK) {
            int64_t j1 = j->a->n - j0 < QG_JCHUNK ? j->a->n : j0 + QG_JCHUNK;
            for (int i = 0; i < np; i++) {
                int64_t pr = tr - (int64_t)i * lanes < lanes ? tr - (int64_t)i * lanes : lanes;
                if (j->ops->kernel2 && tr - (int64_t)i * lanes >= 2 * lanes) { /* two full */
                    j->ops->kernel2(&panel[i], j->a, j0, j1, Yw + (int64_t)i * lanes, ldw);
                    if (j->up)
                        j->ops->kernel2(&panel[np + i], j->a, j0, j1, up + (int64_t)i * lanes,
                                        QG_PAIR);
                    i++;
                    continue;
                }
                j->ops->kernel(&panel[i], j->a, j0, j1, Yw + (int64_t)i * lanes, ldw, (int)pr);
                if (j->up)
                    j->ops->kernel(&panel[np + i], j->a, j0, j1, up + (int64_t)i * lanes, QG_PAIR,
                                   (int)pr);
            }
            if (!j->up) {
                llm_epilogue_apply(j->ep, j->Y + j0 * W->rows + r0, W->rows, j1 - j0, r0, tr);
                continue;
            }
            if (tr == QG_PAIR) /* the block's rows are one run */
                llm_vec_swiglu(gate + j0 * QG_PAIR, up + j0 * QG_PAIR, (j1 - j0) * QG_PAIR);
            else
                for (int64_t r = j0; r < j1; r++)
                    llm_vec_swiglu(gate + r * QG_PAIR, up + r * QG_PAIR, tr);
            if (j->down) /* tr == QG_PAIR: block r0 / 32 of each row */
                for (int64_t r = j0; r < j1; r += 16)
                    j->ops->quantize_block(j->down, r, j1 - r < 16 ? (int)(j1 - r) : 16, r0 / 32,
                                           gate + r * QG_PAIR, QG_PAIR, j->down_bs, j->down_min);
            else
                for (int64_t r = j0; r < j1; r++)
                    memcpy(j->Y + r * W->rows + r0, gate + r * QG_PAIR, (size_t)tr * sizeof(float));
        }
    }
}

/* Tiles of at most `most` rows of W, a multiple of the lanes, as many as a
 * multiple of the threads; runs them. */
static int64_t qg_tile_rows(const llm_compute *c, int64_t rows, int64_t lanes, int64_t most,
                            int64_t *n_tiles)
{
    *n_tiles = (rows + most - 1) / most;
    *n_tiles = (*n_tiles + c->n_threads - 1) / c->n_threads * c->n_threads;
    int64_t tile_rows = (rows + *n_tiles - 1) / *n_tiles;
    return (tile_rows + lanes - 1) / lanes * lanes;
}

static void qg_run(llm_compute *c, qg_job *g, int64_t most)
{
    g->tile_rows = qg_tile_rows(c, g->W->rows, g->ops->lanes, most, &g->n_tiles);
    llm_parallel_for(c, c->n_threads, qg_slot, g);
}

/* Quantizes rows [r0, r0 + rn) of X (cols wide) into the context's buffer. */
static void qg_acts_rows(llm_compute *c, const float *X, int64_t cols, int64_t r0, int64_t rn,
                         llm_qg_acts *a)
{
    llm_qg_acts_init(a, c->qg_acts, rn, cols);
    qg_quant_job q = {a, X + r0 * cols, cols};
    llm_parallel_for(c, rn, qg_quantize, &q);
}

/* Y[k] = X W[k]^T for the matrices the integer path takes (qg[k] set), the
 * activations quantized once for all of them, QG_ROWS rows at a time. */
static void matmul_qgemm(llm_compute *c, const llm_qg_ops *ops, const llm_mat *const *W,
                         float *const *Y, const llm_epilogue *const *ep, const int *qg, int nw,
                         const float *X, int64_t n)
{
    int64_t cols = W[0]->cols;
    for (int64_t r0 = 0; r0 < n; r0 += QG_ROWS) {
        int64_t rn = n - r0 < QG_ROWS ? n - r0 : QG_ROWS;
        llm_qg_acts a;
        qg_acts_rows(c, X, cols, r0, rn, &a);
        for (int k = 0; k < nw; k++) {
            if (!qg[k] || W[k]->rows <= 0) continue;
            qg_job g = {.c = c,
                        .W = W[k],
                        .ops = ops,
                        .a = &a,
                        .Y = Y[k] + r0 * W[k]->rows,
                        .ep = ep ? ep[k] : NULL};
            qg_run(c, &g, QG_TILE);
        }
    }
}

/* Whether a product of n rows of cols goes by the integer path or the tiles
 * (else by rows). Batch invariant: those for every n (the row path is
 * invariant too, and serves matrices wider than the scratch). */
static int by_tiles(const llm_compute *c, int64_t n, int64_t cols)
{
    return (n >= SMALL_N || c->batch_invariant) && cols <= c->max_cols;
}

void llm_matmul_set_ep(llm_compute *c, const llm_mat *const *W, float *const *Y,
                       const llm_epilogue *const *ep, int nw, const float *X, int64_t n)
{
    assert(nw >= 1 && nw <= LLM_MATMUL_SET);
    if (n <= 0) return;
    for (int k = 0; k < nw; k++) {
        const llm_dtype_info *info = llm_dtype_get(W[k]->type);
        assert(info && info->can_compute && W[k]->cols % info->block_elems == 0 &&
               W[k]->cols == W[0]->cols);
        (void)info;
    }
    /* A matrix wider than the scratch (a caller that understated max_cols)
     * is still multiplied correctly, row by row. */
    int64_t cols = W[0]->cols;
    if (by_tiles(c, n, cols)) {
        const llm_qg_ops *ops = llm_qg_ops_active();
        int qg[LLM_MATMUL_SET] = {0}, any = 0;
        for (int k = 0; k < nw; k++)
            any |= qg[k] = ops && llm_qgemm_handles(W[k]->type);
        if (any) matmul_qgemm(c, ops, W, Y, ep, qg, nw, X, n);
        for (int k = 0; k < nw; k++)
            if (!qg[k] && W[k]->rows > 0) matmul_tiles(c, W[k], X, n, Y[k], ep ? ep[k] : NULL);
        return;
    }
    rows_job job = {.X = X, .n = n};
    uint8_t *free_scratch = (uint8_t *)c->scratch;
    int decode8 = c->int8_decode && !c->batch_invariant && cols <= c->max_cols, have_acts = 0;
    for (int k = 0; k < nw; k++) {
        job.W[k] = W[k];
        job.Y[k] = Y[k];
        job.ep[k] = ep ? ep[k] : NULL;
        job.start[k + 1] = job.start[k] + (W[k]->rows + ROW_CHUNK - 1) / ROW_CHUNK;
        /* Interleaved groups: the input rows quantized once for all of them */
        if (decode8 && il_usable(W[k])) {
            if (!have_acts) {
                job.ops = llm_qg_ops_active();
                llm_qg_acts_init(&job.acts, c->qg_acts, n, cols);
                for (int64_t j = 0; j < n; j++)
                    job.ops->quantize(&job.acts, j, X + j * cols);
                have_acts = 1;
            }
            job.il[k] = 1;
            continue;
        }
        /* Decoding (when asked): types with integer kernels take the input
         * rows quantized to Q8_0 once (into the scratch, which holds far
         * more), as llama.cpp does; their weights then stream at close to
         * memory speed. */
        if (decode8 && llm_dot_q8_supported(W[k]->type)) {
            job.Xq[k] = free_scratch;
            job.xq_row_bytes[k] = llm_q8_acts_bytes(W[k]->type, cols);
            for (int64_t j = 0; j < n; j++)
                llm_q8_acts(W[k]->type, X + j * cols, cols,
                            free_scratch + (size_t)j * job.xq_row_bytes[k]);
            free_scratch += (size_t)n * job.xq_row_bytes[k];
        }
    }
    llm_parallel_for(c, job.start[nw], dot_chunk, &job);
}

void llm_matmul_set(llm_compute *c, const llm_mat *const *W, float *const *Y, int nw,
                    const float *X, int64_t n)
{
    llm_matmul_set_ep(c, W, Y, NULL, nw, X, n);
}

void llm_matmul(llm_compute *c, const llm_mat *W, const float *X, int64_t n, float *Y)
{
    llm_matmul_set_ep(c, &W, &Y, NULL, 1, X, n);
}

void llm_matmul_ep(llm_compute *c, const llm_mat *W, const float *X, int64_t n, float *Y,
                   const llm_epilogue *ep)
{
    llm_matmul_set_ep(c, &W, &Y, &ep, 1, X, n);
}

typedef struct swiglu_job {
    float *G;
    const float *U;
    int64_t rows;
} swiglu_job;

static void swiglu_row(void *p, int64_t t)
{
    const swiglu_job *j = p;
    llm_vec_swiglu(j->G + t * j->rows, j->U + t * j->rows, j->rows);
}

void llm_matmul_swiglu(llm_compute *c, const llm_mat *Wg, const llm_mat *Wu, const float *X,
                       int64_t n, float *G, float *U)
{
    assert(Wg->rows == Wu->rows && Wg->cols == Wu->cols);
    if (n <= 0) return;
    const llm_qg_ops *ops = llm_qg_ops_active();
    if (by_tiles(c, n, Wg->cols) && ops && llm_qgemm_handles(Wg->type) &&
        llm_qgemm_handles(Wu->type)) {
        for (int64_t r0 = 0; r0 < n; r0 += QG_ROWS) {
            int64_t rn = n - r0 < QG_ROWS ? n - r0 : QG_ROWS;
            llm_qg_acts a;
            qg_acts_rows(c, X, Wg->cols, r0, rn, &a);
            qg_job g = {.c = c, .W = Wg, .up = Wu, .ops = ops, .a = &a, .Y = G + r0 * Wg->rows};
            qg_run(c, &g, QG_PAIR);
        }
        return;
    }
    const llm_mat *W[] = {Wg, Wu};
    float *Y[] = {G, U};
    llm_matmul_set(c, W, Y, 2, X, n);
    swiglu_job j = {G, U, Wg->rows};
    llm_parallel_rows(c, n, swiglu_row, &j);
}

void llm_matmul_ffn(llm_compute *c, const llm_mat *Wg, const llm_mat *Wu, const llm_mat *Wd,
                    const float *X, int64_t n, float *G, float *U, float *Y)
{
    assert(Wd->cols == Wg->rows);
    if (n <= 0) return;
    const llm_qg_ops *ops = llm_qg_ops_active();
    int64_t n_tiles;
    if (!(ops && ops->quantize_block && by_tiles(c, n, Wg->cols) && by_tiles(c, n, Wd->cols) &&
          llm_qgemm_handles(Wg->type) && llm_qgemm_handles(Wu->type) &&
          llm_qgemm_handles(Wd->type) && Wg->rows % QG_PAIR == 0 &&
          qg_tile_rows(c, Wg->rows, ops->lanes, QG_PAIR, &n_tiles) == QG_PAIR)) {
        llm_matmul_swiglu(c, Wg, Wu, X, n, G, U);
        llm_matmul(c, Wd, G, n, Y);
        return;
    }
    for (int64_t r0 = 0; r0 < n; r0 += QG_ROWS) {
        int64_t rn = n - r0 < QG_ROWS ? n - r0 : QG_ROWS;
        llm_qg_acts a, h; /* X's rows, the SwiGLU's */
        qg_acts_rows(c, X, Wg->cols, r0, rn, &a);
        llm_qg_acts_init(&h, c->qg_acts_ffn, rn, Wd->cols);
        qg_job g = {.c = c,
                    .W = Wg,
                    .up = Wu,
                    .ops = ops,
                    .a = &a,
                    .down = &h,
                    .down_bs = llm_qg_block(Wd->type),
                    .down_min = llm_qg_offset(Wd->type) == 0};
        qg_run(c, &g, QG_PAIR);
        qg_job d = {.c = c, .W = Wd, .ops = ops, .a = &h, .Y = Y + r0 * Wd->rows};
        qg_run(c, &d, QG_TILE);
    }
}
