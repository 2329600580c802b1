/* bench/bench_embed.c: embedding throughput of a bge-small-shaped encoder
 * (bert, n_embd 384, 12 layers, 12 heads, n_ff 1536, vocab 30522; random
 * weights written by tests/tools/mkmodel), measured against this machine's
 * own cblas_sgemm peak in the same run.
 *
 *   bench_embed [--model FILE] [--texts 256] [--tokens 128] [--threads N] [--json]
 *
 * Without --model it makes build/bench/bge-small-f16.gguf (once). Reports
 * tokens/s, the achieved GFLOP/s (matrix products and attention, counted
 * per token), and the ratio to the sgemm peak (a 2048^3 product with the
 * same number of threads, best of several). */

#include "base/buf.h"
#include "base/mem.h"
#include "embed/embed.h"
#include "llm/gguf.h"
#include "llm/matmul.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The machine's sgemm peak with `threads` threads: a 2048^3 F32 product
 * through llm_matmul (OpenBLAS is single-threaded; the product is split
 * over the compute pool's workers, as every product is), best of four. */
static double sgemm_peak_gflops(int threads)
{
    enum { N = 2048 };
    float *w = rag_xmalloc((size_t)N * N * sizeof *w), *x = rag_xmalloc((size_t)N * N * sizeof *x),
          *y = rag_xmalloc((size_t)N * N * sizeof *y);
    for (size_t i = 0; i < (size_t)N * N; i++) w[i] = x[i] = (float)(i % 7) * 0.1f;
    llm_compute *c;
    rag_err err;
    if (llm_compute_new(threads, N, &c, &err)) return 0;
    llm_mat W = {LLM_F32, N, N, w, N * sizeof(float)};
    double best = 1e30;
    for (int r = 0; r < 4; r++) {
        double t0 = now_s();
        llm_matmul(c, &W, x, N, y);
        double t = now_s() - t0;
        if (t < best) best = t;
    }
    llm_compute_free(c);
    rag_free(w);
    rag_free(x);
    rag_free(y);
    return 2.0 * N * N * N / best / 1e9;
}

int main(int argc, char **argv)
{
    const char *model = NULL;
    int n_texts = 256, n_tokens = 128, threads = 0, json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--texts") && i + 1 < argc) n_texts = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tokens") && i + 1 < argc) n_tokens = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json")) json = 1;
        else {
            fprintf(stderr, "usage: bench_embed [--model FILE] [--texts N] [--tokens N] [--threads N] [--json]\n");
            return 2;
        }
    }
    if (threads <= 0) threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n_texts < 1 || n_tokens < 3 || n_tokens > 512) return 2;
    char made[512];
    if (!model) {
        snprintf(made, sizeof made, "build/bench/bge-small-f16.gguf");
        struct stat st;
        if (stat(made, &st) != 0) {
            char cmd[1024];
            const char *tools = getenv("RAG_TOOLS");
            snprintf(cmd, sizeof cmd,
                     "%s/mkmodel %s --arch bert --embd 384 --layers 12 --heads 12 --ff 1536 "
                     "--vocab 30522 --ctx 512 --type f16",
                     tools && *tools ? tools : "build/tools", made);
            if (system(cmd) != 0) {
                fprintf(stderr, "bench_embed: could not make the model (%s)\n", cmd);
                return 1;
            }
        }
        model = made;
    }
    double peak = sgemm_peak_gflops(threads); /* before the model's threads exist */
    emb_params ep;
    emb_default_params(&ep);
    ep.n_threads = threads;
    emb_model *m;
    rag_err err = {0};
    if (emb_model_open(model, &ep, &m, &err)) {
        fprintf(stderr, "bench_embed: %s\n", err.msg);
        return 1;
    }
    /* texts of n_tokens - 2 vocabulary words: with [CLS] and [SEP], n_tokens each */
    char **texts = rag_xcalloc((size_t)n_texts, sizeof *texts);
    unsigned seed = 1;
    for (int t = 0; t < n_texts; t++) {
        rag_buf b = {0};
        for (int w = 0; w < n_tokens - 2; w++) {
            seed = seed * 1103515245 + 12345;
            rag_buf_printf(&b, "%sw%u", w ? " " : "", 106 + (seed >> 8) % 30000);
        }
        texts[t] = rag_buf_steal(&b);
    }
    llm_tokens check = {0};
    llm_tokenize(emb_vocab(m), texts[0], strlen(texts[0]), 1, 0, &check, &err);
    int real_tokens = (int)check.n;
    llm_tokens_free(&check);

    int dims = emb_dims(m);
    float *out = rag_xmalloc((size_t)n_texts * (size_t)dims * sizeof *out);
    /* one warm-up pass over a few texts, then the measured run */
    emb_embed(m, (const char *const *)texts, n_texts < 8 ? (size_t)n_texts : 8, EMB_RAW, 1, out, NULL, &err);
    double t0 = now_s();
    if (emb_embed(m, (const char *const *)texts, (size_t)n_texts, EMB_RAW, 1, out, NULL, &err)) {
        fprintf(stderr, "bench_embed: %s\n", err.msg);
        return 1;
    }
    double secs = now_s() - t0;
    /* FLOPs per token: 2 per weight of the layer matrices (q, k, v, o: E^2
     * each; up, down: E*F each), plus attention (QK^T and SV: 2 * 2 * L * E) */
    llm_gguf *g;
    llm_gguf_open(model, &g, &err);
    uint32_t E = 0, F = 0, layers = 0;
    llm_gguf_get_u32(g, "bert.embedding_length", &E, &err);
    llm_gguf_get_u32(g, "bert.feed_forward_length", &F, &err);
    llm_gguf_get_u32(g, "bert.block_count", &layers, &err);
    llm_gguf_close(g);
    double flops_tok = (double)layers * (2.0 * (4.0 * E * E + 2.0 * E * F) + 4.0 * real_tokens * E);
    double tok_s = (double)n_texts * real_tokens / secs, gflops = tok_s * flops_tok / 1e9;
    if (json) {
        printf("{\"model\": \"%s\", \"texts\": %d, \"tokens_per_text\": %d, \"threads\": %d, "
               "\"seconds\": %.3f, \"embed_tokens_per_s\": %.1f, \"gflops\": %.2f, "
               "\"sgemm_peak_gflops\": %.2f, \"ratio_to_sgemm_peak\": %.3f}\n",
               model, n_texts, real_tokens, threads, secs, tok_s, gflops, peak, gflops / peak);
    } else {
        printf("embedding: %d texts x %d tokens with %s, %d threads\n", n_texts, real_tokens, model, threads);
        printf("  %.0f tokens/s (%.2f s)\n", tok_s, secs);
        printf("  %.1f GFLOP/s achieved (%.1f MFLOP per token)\n", gflops, flops_tok / 1e6);
        printf("  cblas_sgemm peak %.1f GFLOP/s: ratio %.2f\n", peak, gflops / peak);
    }
    for (int t = 0; t < n_texts; t++) rag_free(texts[t]);
    rag_free(texts);
    rag_free(out);
    emb_model_close(m);
    return 0;
}
