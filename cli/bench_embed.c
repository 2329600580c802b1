/* cli/bench_embed.c: `rag bench-embed`: the embedding speed of one GGUF
 * encoder on this machine, next to this machine's sgemm peak measured in
 * the same run (cli/bench_machine.c), as a ratio to its bound. */
#include "base/buf.h"
#include "base/mem.h"
#include "base/time.h"
#include "embed/embed.h"
#include "cli/bench_int.h"
#include "llm/llm.h"
#include "llm/qgemm.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char embed_usage[] =
    "usage: rag bench-embed -m MODEL [--texts 256] [--tokens 128] [-t THREADS]\n"
    "                       [--prefill float|avx2|avx-vnni|avx512-vnni] [--json]\n"
    "\n"
    "Embedding throughput of a GGUF encoder on this machine: --texts texts of\n"
    "--tokens tokens each, in one call, as tokens/s and as a ratio to its bound,\n"
    "measured in the same run: the cblas_sgemm peak / FLOPs per token, or for\n"
    "quantized matrices on the integer path (the best the CPU has; --prefill\n"
    "forces one) their multiply-adds at the 8-bit peak.\n";

int cli_bench_embed(int argc, char **argv)
{
    enum { O_TEXTS = 1000, O_TOKENS, O_PREFILL };
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         {"texts", required_argument, NULL, O_TEXTS},
                                         {"tokens", required_argument, NULL, O_TOKENS},
                                         {"threads", required_argument, NULL, 't'},
                                         {"prefill", required_argument, NULL, O_PREFILL},
                                         {"json", no_argument, NULL, 'J'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    cli_ctx cli = {.cmd = "bench-embed"};
    const char *path = NULL;
    int n_texts = 256, n_tokens = 128, threads = 0, c;
    while ((c = getopt_long(argc, argv, "m:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            path = optarg;
            break;
        case O_TEXTS:
            if (cli_bench_parse_int(optarg, 1, 100000, &n_texts))
                return cli_usage_error(&cli, "--texts: a count");
            break;
        case O_TOKENS:
            if (cli_bench_parse_int(optarg, 3, 8192, &n_tokens))
                return cli_usage_error(&cli, "--tokens: 3 to 8192");
            break;
        case 't':
            if (cli_bench_parse_int(optarg, 1, 1024, &threads))
                return cli_usage_error(&cli, "-t: a thread count");
            break;
        case O_PREFILL:
            if (cli_bench_prefill_path(&cli, optarg)) return CLI_EXIT_USAGE;
            break;
        case 'J':
            cli.json = 1;
            break;
        case 'h':
            fputs(embed_usage, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(&cli, "unknown option");
        }
    }
    if (!path) return cli_usage_error(&cli, "-m MODEL is required");
    if (threads <= 0) threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    cli_machine mc;
    cli_measure_machine(threads, &mc);
    emb_params ep;
    emb_default_params(&ep);
    ep.n_threads = threads;
    emb_model *m;
    rag_err err = {0};
    double rss0 = cli_rss_bytes();
    if (emb_model_open(path, &ep, &m, &err)) return cli_fail(&cli, &err);
    if (!emb_vocab(m)) {
        emb_model_close(m);
        cli_error(&cli, "%s has no local vocabulary to make texts with", path);
        return CLI_EXIT_ERROR;
    }
    /* texts of vocabulary pieces, cut to n_tokens tokens each */
    char **texts = rag_xcalloc((size_t)n_texts, sizeof *texts);
    unsigned seed = 1;
    int real = 0;
    for (int t = 0; t < n_texts; t++) {
        rag_buf b = {0};
        while ((int)emb_count_tokens(m, rag_buf_str(&b), b.len) < n_tokens) {
            seed = seed * 1103515245u + 12345u;
            rag_buf_printf(&b, "%sw%u", b.len ? " " : "", 100 + (seed >> 8) % 900);
        }
        if (!t) real = (int)emb_count_tokens(m, rag_buf_str(&b), b.len);
        texts[t] = rag_buf_steal(&b);
    }
    int dims = emb_dims(m);
    float *out = rag_xmalloc((size_t)n_texts * (size_t)dims * sizeof *out);
    emb_embed(m, (const char *const *)texts, n_texts < 8 ? (size_t)n_texts : 8, EMB_RAW, 1, out,
              NULL, &err);
    double t0 = rag_now_s();
    int rc = emb_embed(m, (const char *const *)texts, (size_t)n_texts, EMB_RAW, 1, out, NULL, &err);
    double secs = rag_now_s() - t0;
    uint64_t tokens = 0;
    double busy = 0;
    emb_model_stats(m, &tokens, &busy);
    /* FLOPs per token: two per weight of the layer matrices, plus attention */
    llm_gguf *g = NULL;
    double params = 0, int8 = 0; /* int8: the multiply-adds of the integer path */
    uint32_t E = 0, layers = 0;
    if (!rc && !llm_gguf_open(path, &g, &err)) {
        const char *arch = "bert";
        size_t alen = 4;
        llm_gguf_get_str(g, "general.architecture", &arch, &alen, NULL);
        char key[96];
        snprintf(key, sizeof key, "%.*s.embedding_length", (int)alen, arch);
        llm_gguf_get_u32(g, key, &E, NULL);
        snprintf(key, sizeof key, "%.*s.block_count", (int)alen, arch);
        llm_gguf_get_u32(g, key, &layers, NULL);
        for (size_t i = 0; i < llm_gguf_n_tensors(g); i++) {
            const llm_tensor_info *ti = llm_gguf_tensor(g, i);
            if (ti->ne[1] > 1 && strncmp(ti->name, "token_embd", 10) &&
                strncmp(ti->name, "position_embd", 13) && strncmp(ti->name, "token_types", 11)) {
                params += (double)ti->ne[0] * (double)ti->ne[1];
                if (llm_qgemm_handles(ti->type)) int8 += (double)ti->ne[0] * (double)ti->ne[1];
            }
        }
        llm_gguf_close(g);
    }
    double rss = cli_rss_bytes() - rss0;
    for (int t = 0; t < n_texts; t++)
        rag_free(texts[t]);
    rag_free(texts);
    rag_free(out);
    emb_model_close(m);
    if (rc) return cli_fail(&cli, &err);
    double flops_tok = 2 * params + 4.0 * layers * real * E;
    double bound = mc.int8 > 0 && int8 > 0
                       ? 1 / (int8 / mc.int8 + (flops_tok - 2 * int8) / mc.sgemm)
                       : mc.sgemm / flops_tok;
    double tps = (double)n_texts * real / secs;
    if (cli.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", path);
        cli_machine_json(j, &mc);
        cJSON_AddNumberToObject(j, "texts", n_texts);
        cJSON_AddNumberToObject(j, "tokens_per_text", real);
        cJSON_AddNumberToObject(j, "seconds", secs);
        cJSON_AddNumberToObject(j, "embed_tokens_per_s", tps);
        cJSON_AddNumberToObject(j, "embed_bound_tokens_per_s", bound);
        cJSON_AddNumberToObject(j, "embed_ratio", tps / bound);
        cJSON_AddNumberToObject(j, "flops_per_token", flops_tok);
        cJSON_AddNumberToObject(j, "rss_bytes", rss);
        cli_print_json(j);
    } else {
        cli_machine_print(&mc);
        printf("model: %s, %d texts x %d tokens\n", path, n_texts, real);
        printf(
            "  embeddings: %.0f tokens/s, bound %.0f: ratio %.2f (%.1f MFLOP per token, %.2f s)\n",
            tps, bound, tps / bound, flops_tok / 1e6, secs);
        printf("  memory: %.0f MB resident\n", rss / 1e6);
    }
    return CLI_EXIT_OK;
}
