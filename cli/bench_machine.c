/* cli/bench_machine.c: what `rag bench-model` and `rag bench-embed` share:
 * this machine's limits, measured in the same run as the model's speed.
 *
 * The limits: the memory read bandwidth with the benchmark's threads (a
 * 1 GB buffer summed in parallel with the widest loads, best of five), and the cblas_sgemm peak
 * (a 2048^3 product through llm_matmul, best of four), and the integer peak
 * of the prefill path's kernels (llm_qgemm_peak_loop on every thread: its
 * multiply-add step from registers, best of three). The bounds: decode
 * cannot beat bandwidth / bytes of weights read per token; prefill and
 * embeddings cannot beat sgemm peak / FLOPs per token, or with the integer
 * path, the weights' multiply-adds at the integer peak plus attention at
 * the sgemm peak. */
#include "base/mem.h"
#include "base/time.h"
#include "cli/bench_int.h"
#include "llm/kernels.h"
#include "llm/llm.h"
#include "llm/qgemm.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the machine's limits ------------------------------------------------------ */

typedef struct sum_job {
    const uint64_t *p;
    size_t n;
    uint64_t sum;
} sum_job;

static void *sum_part(void *arg)
{
    sum_job *j = arg;
    j->sum = llm_bench_read_sum(j->p, j->n); /* the widest loads the CPU has */
    return NULL;
}

/* Bytes per second read from memory by `threads` threads. */
static double read_bandwidth(int threads)
{
    enum { MB = 1024 }; /* far past any cache */
    size_t n = (size_t)MB << 20 >> 3;
    uint64_t *buf = rag_xmalloc(n * sizeof *buf);
    for (size_t i = 0; i < n; i++)
        buf[i] = i & 255;
    if (threads > 64) threads = 64;
    pthread_t tid[64];
    sum_job jobs[64];
    double best = 1e30;
    uint64_t sink = 0;
    for (int r = 0; r < 5; r++) {
        double t0 = rag_now_s();
        for (int t = 0; t < threads; t++) {
            size_t a = n * (size_t)t / (size_t)threads, b = n * (size_t)(t + 1) / (size_t)threads;
            jobs[t] = (sum_job){buf + a, b - a, 0};
            pthread_create(&tid[t], NULL, sum_part, &jobs[t]);
        }
        for (int t = 0; t < threads; t++)
            pthread_join(tid[t], NULL), sink += jobs[t].sum;
        double dt = rag_now_s() - t0;
        if (dt < best) best = dt;
    }
    rag_free(buf);
    if (sink == 1) fprintf(stderr, "%llu", (unsigned long long)sink); /* keeps the sums alive */
    return (double)n * sizeof(uint64_t) / best;
}

/* FLOP/s of a 2048^3 F32 product through llm_matmul with `threads` threads. */
static double sgemm_peak(int threads)
{
    enum { N = 2048 };
    float *w = rag_xmalloc((size_t)N * N * sizeof *w), *x = rag_xmalloc((size_t)N * N * sizeof *x),
          *y = rag_xmalloc((size_t)N * N * sizeof *y);
    for (size_t i = 0; i < (size_t)N * N; i++)
        w[i] = x[i] = (float)(i % 7) * 0.1f;
    llm_compute *c;
    rag_err err = {0};
    double best = 1e30;
    if (!llm_compute_new(threads, N, &c, &err)) {
        llm_mat W = {LLM_F32, N, N, w, N * sizeof(float), NULL};
        for (int r = 0; r < 4; r++) {
            double t0 = rag_now_s();
            llm_matmul(c, &W, x, N, y);
            double t = rag_now_s() - t0;
            if (t < best) best = t;
        }
        llm_compute_free(c);
    }
    rag_free(w);
    rag_free(x);
    rag_free(y);
    return 2.0 * N * N * N / best;
}

static void *peak_part(void *arg)
{
    double *macs = arg;
    *macs = llm_qgemm_peak_loop(20 * 1000 * 1000);
    return NULL;
}

/* 8-bit multiply-adds per second of the integer path's kernel step on
 * `threads` threads at once (0 on the float path). */
static double int8_peak(int threads)
{
    if (llm_qgemm_active() == LLM_QGEMM_FLOAT) return 0;
    if (threads > 64) threads = 64;
    pthread_t tid[64];
    double macs[64], best = 0;
    for (int r = 0; r < 3; r++) {
        double t0 = rag_now_s(), sum = 0;
        for (int t = 0; t < threads; t++)
            pthread_create(&tid[t], NULL, peak_part, &macs[t]);
        for (int t = 0; t < threads; t++)
            pthread_join(tid[t], NULL), sum += macs[t];
        double rate = sum / (rag_now_s() - t0);
        if (rate > best) best = rate;
    }
    return best;
}

int cli_bench_prefill_path(cli_ctx *cli, const char *name)
{
    for (int p = 0; p < LLM_QGEMM_PATHS; p++)
        if (!strcmp(name, llm_qgemm_name((llm_qgemm_path)p))) {
            if (!llm_qgemm_supported((llm_qgemm_path)p))
                return cli_usage_error(cli, "--prefill: this CPU cannot run the %s path", name);
            llm_qgemm_select((llm_qgemm_path)p);
            return 0;
        }
    return cli_usage_error(cli, "--prefill: one of float, avx2, avx-vnni, avx512-vnni");
}

/* Resident memory: the heap and the mapped weights the run touched. */
double cli_rss_bytes(void)
{
    size_t anon = 0, file = 0;
    if (rag_mem_resident(&anon, &file)) return 0;
    return (double)(anon + file);
}

void cli_measure_machine(int threads, cli_machine *m)
{
    m->threads = threads;
    m->bandwidth = read_bandwidth(threads);
    m->sgemm = sgemm_peak(threads);
    m->int8 = int8_peak(threads);
    m->qgemm = llm_qgemm_name(llm_qgemm_active());
    m->coretype = getenv("OPENBLAS_CORETYPE");
}

void cli_machine_json(cJSON *j, const cli_machine *m)
{
    cJSON_AddNumberToObject(j, "threads", m->threads);
    cJSON_AddNumberToObject(j, "read_bandwidth_bytes_per_s", m->bandwidth);
    cJSON_AddNumberToObject(j, "sgemm_flops_per_s", m->sgemm);
    cJSON_AddNumberToObject(j, "int8_macs_per_s", m->int8);
    cJSON_AddStringToObject(j, "prefill_path", m->qgemm);
    if (m->coretype)
        cJSON_AddStringToObject(j, "openblas_coretype", m->coretype);
    else
        cJSON_AddNullToObject(j, "openblas_coretype");
}

void cli_machine_print(const cli_machine *m)
{
    printf("machine: %d threads, memory read %.1f GB/s, cblas_sgemm %.1f GFLOP/s "
           "(OPENBLAS_CORETYPE %s), 8-bit multiply-adds %.1f G/s (prefill path %s)\n",
           m->threads, m->bandwidth / 1e9, m->sgemm / 1e9, m->coretype ? m->coretype : "unset",
           m->int8 / 1e9, m->qgemm);
}

int cli_bench_parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}
