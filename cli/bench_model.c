/* cli/bench_model.c: `rag bench-model`: the prefill, decode and
 * first-token speed of one GGUF decoder on this machine, next to this
 * machine's own limits measured in the same run (cli/bench_machine.c), so
 * that any model file (ours or another tool's) is measured the same way.
 * Every speed is printed with its ratio to its bound. */
#include "base/mem.h"
#include "base/time.h"
#include "cli/bench_int.h"
#include "llm/llm.h"
#include "llm/qgemm.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char model_usage[] =
    "usage: rag bench-model -m MODEL [-p 512] [-n 64] [-t THREADS] [-c 4096] [--ttft 1500] "
    "[--streams 4]\n"
    "                       [--prefill float|avx2|avx-vnni|avx512-vnni] [--json]\n"
    "\n"
    "Speed of a GGUF decoder model on this machine: prefill tokens/s for a\n"
    "prompt of -p tokens, decode tokens/s for -n tokens after it, time to the\n"
    "first token of a --ttft-token prompt (a RAG prompt's size), and memory\n"
    "resident after loading with a context (KV cache) of -c positions (at least\n"
    "what the runs need). Each speed is also a ratio to its bound, measured\n"
    "in the same run: decode against memory bandwidth / weight bytes read per\n"
    "token, prefill against the cblas_sgemm peak / FLOPs per token and, on\n"
    "the integer prefill path (the best the CPU has; --prefill forces one),\n"
    "against the 8-bit multiply-add peak for the quantized matrices plus the\n"
    "sgemm peak for the rest (attention, float matrices). Then\n"
    "--streams sequences decode -n tokens each in the same steps (as ragd's\n"
    "slots do), reported as tokens/s in all and as a multiple of one stream.\n"
    "Prompts are random tokens; decoding is greedy and may end early at an\n"
    "end token.\n";

/* Random token ids for a prompt (speed does not depend on which). */
static int32_t *random_tokens(const llm_model *m, int n, unsigned seed)
{
    int vocab = llm_model_hparams(m)->n_vocab;
    /* past the first quarter (or 1000) ids, where special and byte tokens sit */
    int lo = vocab > 4000 ? 1000 : vocab / 4;
    int32_t *t = rag_xmalloc((size_t)n * sizeof *t);
    for (int i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        t[i] = (int32_t)(lo + (int)((seed >> 4) % (unsigned)(vocab - lo)));
    }
    return t;
}

static int discard(void *ctx, const char *text, size_t len)
{
    (void)ctx, (void)text, (void)len;
    return 0;
}

static int run_generate(llm_context *c, const int32_t *prompt, int n_prompt, int n_predict,
                        llm_gen_stats *st, rag_err *err)
{
    llm_context_truncate(c, 0);
    llm_gen_params gp;
    llm_gen_default_params(&gp);
    gp.n_predict = n_predict;
    gp.sampling.temperature = 0;
    return llm_generate(c, prompt, (size_t)n_prompt, &gp, discard, NULL, st, err);
}

/* Aggregate decode speed of n_streams sequences stepped together
 * (llm_batch), each continuing the prompt base holds with n_predict greedy
 * tokens of its own (a different first token each, so that they diverge). */
static int run_streams(const llm_model *m, const llm_context *base, const llm_context_params *cp,
                       int n_streams, int n_predict, double *tokens_per_s, rag_err *err)
{
    llm_context **cs = rag_xcalloc((size_t)n_streams, sizeof *cs);
    int32_t *tok = rag_xcalloc((size_t)n_streams, sizeof *tok);
    llm_batch *b = NULL;
    int rc = llm_batch_new(m, cp->n_ctx, cp->n_threads, &b, err), V = llm_model_hparams(m)->n_vocab;
    for (int i = 0; !rc && i < n_streams; i++) {
        rc = llm_context_new(m, cp, &cs[i], err);
        if (!rc) rc = llm_context_copy(cs[i], base, err);
        tok[i] = (int32_t)((1000 + 7919 * i) % V);
    }
    double t0 = rag_now_s();
    for (int step = 0; !rc && step < n_predict; step++) {
        rc = llm_batch_decode(b, cs, tok, n_streams, err);
        for (int i = 0; !rc && i < n_streams; i++)
            tok[i] = llm_greedy(llm_context_logits(cs[i], 0), V);
    }
    *tokens_per_s = (double)n_streams * n_predict / (rag_now_s() - t0);
    for (int i = 0; i < n_streams; i++)
        llm_context_free(cs[i]);
    llm_batch_free(b);
    rag_free(cs);
    rag_free(tok);
    return rc;
}

/* The work of one prompt token at context length ctx: two FLOPs per weight
 * of every layer matrix, plus attention (QK^T and SV: 4 * layers * ctx *
 * heads * head_dim). The token embedding is a lookup, and the output
 * matrix runs for the last prompt token only, so neither counts. int8:
 * the multiply-adds of the matrices the integer prefill path takes (their
 * FLOPs are in `flops` too). */
typedef struct prefill_work {
    double flops, int8;
} prefill_work;

static prefill_work prefill_per_token(const llm_model *m, int ctx)
{
    const llm_gguf *g = llm_model_gguf(m);
    prefill_work w = {0, 0};
    for (size_t i = 0; i < llm_gguf_n_tensors(g); i++) {
        const llm_tensor_info *t = llm_gguf_tensor(g, i);
        if (t->ne[1] <= 1 || strncmp(t->name, "blk.", 4)) continue;
        double n = (double)t->ne[0] * (double)t->ne[1] * (double)(t->ne[2] ? t->ne[2] : 1);
        w.flops += 2 * n;
        if (llm_qgemm_handles(t->type)) w.int8 += n;
    }
    const llm_hparams *hp = llm_model_hparams(m);
    w.flops += 4.0 * hp->n_layer * ctx * (double)hp->n_head * hp->head_dim;
    return w;
}

/* Prompt tokens per second this machine cannot beat: every FLOP at the
 * sgemm peak, or with the integer path, its multiply-adds at the integer
 * peak and the rest at the sgemm peak. */
static double prefill_bound(const cli_machine *mc, prefill_work w, int integer)
{
    if (!integer || mc->int8 <= 0 || w.int8 == 0) return mc->sgemm / w.flops;
    return 1 / (w.int8 / mc->int8 + (w.flops - 2 * w.int8) / mc->sgemm);
}

int cli_bench_model(int argc, char **argv)
{
    enum { O_TTFT = 1000, O_STREAMS, O_PREFILL };
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         {"prompt", required_argument, NULL, 'p'},
                                         {"predict", required_argument, NULL, 'n'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"ttft", required_argument, NULL, O_TTFT},
                                         {"streams", required_argument, NULL, O_STREAMS},
                                         {"prefill", required_argument, NULL, O_PREFILL},
                                         {"ctx", required_argument, NULL, 'c'},
                                         {"json", no_argument, NULL, 'J'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    cli_ctx cli = {.cmd = "bench-model"};
    const char *path = NULL;
    int n_prompt = 512, n_predict = 64, threads = 0, ttft_tokens = 1500, n_streams = 4,
        n_ctx = 4096, c;
    while ((c = getopt_long(argc, argv, "m:p:n:t:c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            path = optarg;
            break;
        case 'p':
            if (cli_bench_parse_int(optarg, 1, 1 << 20, &n_prompt))
                return cli_usage_error(&cli, "-p: a token count");
            break;
        case 'n':
            if (cli_bench_parse_int(optarg, 1, 1 << 20, &n_predict))
                return cli_usage_error(&cli, "-n: a token count");
            break;
        case 't':
            if (cli_bench_parse_int(optarg, 1, 1024, &threads))
                return cli_usage_error(&cli, "-t: a thread count");
            break;
        case O_TTFT:
            if (cli_bench_parse_int(optarg, 1, 1 << 20, &ttft_tokens))
                return cli_usage_error(&cli, "--ttft: a token count");
            break;
        case 'c':
            if (cli_bench_parse_int(optarg, 1, 1 << 20, &n_ctx))
                return cli_usage_error(&cli, "-c: a context size");
            break;
        case O_STREAMS:
            if (cli_bench_parse_int(optarg, 0, 64, &n_streams))
                return cli_usage_error(&cli, "--streams: 0 to 64");
            break;
        case O_PREFILL:
            if (cli_bench_prefill_path(&cli, optarg)) return CLI_EXIT_USAGE;
            break;
        case 'J':
            cli.json = 1;
            break;
        case 'h':
            fputs(model_usage, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(&cli, "unknown option");
        }
    }
    if (!path) return cli_usage_error(&cli, "-m MODEL is required");
    if (threads <= 0) threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    cli_machine mc;
    cli_measure_machine(threads, &mc); /* before the model's threads and pages exist */
    rag_err err = {0};
    double rss0 = cli_rss_bytes(), t0 = rag_now_s();
    llm_model *m;
    if (llm_model_open(path, &m, &err)) return cli_fail(&cli, &err);
    int need = n_prompt + n_predict > ttft_tokens + 1 ? n_prompt + n_predict : ttft_tokens + 1;
    if (n_ctx < need) n_ctx = need;
    llm_context_params cp;
    llm_context_default_params(&cp);
    cp.n_ctx = n_ctx;
    cp.n_threads = threads;
    llm_context *ctx = NULL;
    int rc = llm_context_new(m, &cp, &ctx, &err);
    double load_s = rag_now_s() - t0, rss_load = cli_rss_bytes() - rss0;
    int32_t *prompt = random_tokens(m, need, 7);
    llm_gen_stats warm, run, first; /* run: prefill of n_prompt tokens, then decoding */
    if (!rc) rc = run_generate(ctx, prompt, 16, 1, &warm, &err); /* pages the weights in */
    if (!rc) rc = run_generate(ctx, prompt, n_prompt, n_predict, &run, &err);
    double streams_tps = 0;
    if (!rc) rc = run_generate(ctx, prompt, ttft_tokens, 1, &first, &err);
    double rss_run = cli_rss_bytes() - rss0;
    if (!rc && n_streams) {
        /* each stream starts where the decode run did, after its prompt:
         * both prompts are prefixes of one token list, so the cache keeps
         * what they share and computes the rest */
        int kept = llm_context_reuse(ctx, prompt, n_prompt + 1);
        if (kept < n_prompt) rc = llm_decode(ctx, prompt + kept, n_prompt - kept, &err);
        if (!rc) rc = run_streams(m, ctx, &cp, n_streams, n_predict, &streams_tps, &err);
    }
    if (rc) {
        rag_free(prompt);
        llm_context_free(ctx);
        llm_model_close(m);
        return cli_fail(&cli, &err);
    }
    double weight_bytes = (double)llm_model_weight_bytes(m),
           il_bytes = (double)llm_model_interleaved_bytes(m);
    double prefill_tps = run.n_prompt / (run.prompt_ms / 1e3);
    /* the first token comes from the prompt's logits: n tokens, n - 1 passes */
    double decode_tps = run.n_generated > 1 ? (run.n_generated - 1) / (run.gen_ms / 1e3) : 0;
    double ttft_ms = first.prompt_ms + first.gen_ms;
    double decode_bound = mc.bandwidth / weight_bytes;
    prefill_work pw = prefill_per_token(m, n_prompt / 2); /* mean context */
    double sgemm_bound = prefill_bound(&mc, pw, 0), path_bound = prefill_bound(&mc, pw, 1);
    const llm_hparams *hp = llm_model_hparams(m);
    if (cli.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", path);
        cli_machine_json(j, &mc);
        cJSON_AddNumberToObject(j, "file_bytes", (double)llm_gguf_size(llm_model_gguf(m)));
        cJSON_AddNumberToObject(j, "weight_bytes_per_token", weight_bytes);
        cJSON_AddNumberToObject(j, "interleaved_weight_bytes", il_bytes);
        cJSON_AddNumberToObject(j, "load_seconds", load_s);
        cJSON_AddNumberToObject(j, "prompt_tokens", run.n_prompt);
        cJSON_AddNumberToObject(j, "prefill_tokens_per_s", prefill_tps);
        cJSON_AddNumberToObject(j, "prefill_int8_share", pw.int8 * 2 / pw.flops);
        cJSON_AddNumberToObject(j, "prefill_bound_tokens_per_s", path_bound);
        cJSON_AddNumberToObject(j, "prefill_ratio", prefill_tps / path_bound);
        cJSON_AddNumberToObject(j, "prefill_sgemm_bound_tokens_per_s", sgemm_bound);
        cJSON_AddNumberToObject(j, "prefill_sgemm_ratio", prefill_tps / sgemm_bound);
        cJSON_AddNumberToObject(j, "decode_tokens", run.n_generated);
        cJSON_AddNumberToObject(j, "decode_tokens_per_s", decode_tps);
        cJSON_AddNumberToObject(j, "decode_bound_tokens_per_s", decode_bound);
        cJSON_AddNumberToObject(j, "decode_ratio", decode_tps / decode_bound);
        if (n_streams) {
            cJSON_AddNumberToObject(j, "streams", n_streams);
            cJSON_AddNumberToObject(j, "streams_decode_tokens_per_s", streams_tps);
            cJSON_AddNumberToObject(j, "streams_speedup", streams_tps / decode_tps);
        }
        cJSON_AddNumberToObject(j, "ttft_prompt_tokens", first.n_prompt);
        cJSON_AddNumberToObject(j, "ttft_ms", ttft_ms);
        cJSON_AddNumberToObject(j, "n_ctx", llm_context_n_ctx(ctx));
        cJSON_AddNumberToObject(j, "kv_bytes", (double)llm_context_kv_bytes(ctx));
        cJSON_AddNumberToObject(j, "rss_bytes", rss_run);
        cJSON_AddNumberToObject(j, "rss_after_load_bytes", rss_load);
        cli_print_json(j);
    } else {
        cli_machine_print(&mc);
        printf("model: %s (%d layers, embd %d, vocab %d), %.0f MB of weights read per token, "
               "%.0f%% of them interleaved for decoding\n",
               path, hp->n_layer, hp->n_embd, hp->n_vocab, weight_bytes / 1e6,
               100 * il_bytes / weight_bytes);
        printf("  prefill %d tokens: %.1f tokens/s, bound %.1f on the %s path: ratio %.2f "
               "(sgemm bound %.1f: %.2f)\n",
               run.n_prompt, prefill_tps, path_bound, mc.qgemm, prefill_tps / path_bound,
               sgemm_bound, prefill_tps / sgemm_bound);
        printf("  decode %d tokens at context %d: %.1f tokens/s, bound %.1f: ratio %.2f\n",
               run.n_generated, n_prompt, decode_tps, decode_bound, decode_tps / decode_bound);
        if (n_streams)
            printf(
                "  decode, %d streams in the same steps: %.1f tokens/s in all, %.2fx one stream\n",
                n_streams, streams_tps, streams_tps / decode_tps);
        printf("  time to first token, %d-token prompt: %.0f ms\n", first.n_prompt, ttft_ms);
        printf("  memory: %.0f MB resident after loading, %.0f MB after running (KV cache %.0f MB "
               "for %d positions)\n",
               rss_load / 1e6, rss_run / 1e6, (double)llm_context_kv_bytes(ctx) / 1e6,
               llm_context_n_ctx(ctx));
    }
    rag_free(prompt);
    llm_context_free(ctx);
    llm_model_close(m);
    return CLI_EXIT_OK;
}
