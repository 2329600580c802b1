/* cli/generate.c: `rag generate`: a local GGUF model's continuation of a
 * prompt, or its chat reply, streamed, with prompt and generation speed. */
#include "base/mem.h"
#include "cli/model_int.h"
#include "llm/llm.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

static int parse_float(cli_ctx *cli, const char *opt, const char *s, float *out)
{
    char *end;
    float v = strtof(s, &end);
    if (end == s || *end || v != v) return cli_usage_error(cli, "%s: '%s' is not a number", opt, s);
    *out = v;
    return 0;
}

static const char generate_usage[] =
    "usage: rag generate -m MODEL.gguf -p PROMPT [options]\n"
    "\n"
    "Streams the model's continuation of PROMPT (or, with --chat, its reply to\n"
    "PROMPT as a user message), then prints prompt and generation speed.\n"
    "\n"
    "  -n N               tokens to generate at most (default 256)\n"
    "  --chat             wrap PROMPT in the model's chat template\n"
    "  --system TEXT      a system message (with --chat)\n"
    "  --template NAME    chat template: chatml, llama3, llama2, mistral, gemma, phi3,\n"
    "                     qwen3, chatml-think\n"
    "                     (default: model.chat_template from the config, else\n"
    "                     recognised from the model)\n"
    "  --show-prompt      print the exact prompt before generating\n"
    "  --temp T           temperature (default 0.8; 0: greedy)\n"
    "  --top-k K, --top-p P, --min-p P   (defaults 40, 0.95, 0.05)\n"
    "  --repeat-penalty R (default 1.0), --presence-penalty P (default 0)\n"
    "  --seed S           random seed (default fixed: runs are reproducible)\n"
    "  --stop TEXT        stop when TEXT appears (repeatable)\n"
    "  --ctx N            context size (default min(training context, 4096))\n"
    "  -t, --threads N    worker threads (default: all CPUs)\n";

static volatile sig_atomic_t gen_interrupted;

static void on_gen_sigint(int sig)
{
    (void)sig;
    gen_interrupted = 1;
    signal(SIGINT, SIG_DFL);
}

static int print_text(void *ctx, const char *text, size_t len)
{
    (void)ctx;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return gen_interrupted;
}

int cli_generate(int argc, char **argv)
{
    enum {
        O_CHAT = 1000,
        O_SYSTEM,
        O_TEMPLATE,
        O_SHOW,
        O_TEMP,
        O_TOPK,
        O_TOPP,
        O_MINP,
        O_REP,
        O_PRES,
        O_SEED,
        O_STOP,
        O_CTX
    };
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         {"prompt", required_argument, NULL, 'p'},
                                         {"chat", no_argument, NULL, O_CHAT},
                                         {"system", required_argument, NULL, O_SYSTEM},
                                         {"template", required_argument, NULL, O_TEMPLATE},
                                         {"show-prompt", no_argument, NULL, O_SHOW},
                                         {"temp", required_argument, NULL, O_TEMP},
                                         {"top-k", required_argument, NULL, O_TOPK},
                                         {"top-p", required_argument, NULL, O_TOPP},
                                         {"min-p", required_argument, NULL, O_MINP},
                                         {"repeat-penalty", required_argument, NULL, O_REP},
                                         {"presence-penalty", required_argument, NULL, O_PRES},
                                         {"seed", required_argument, NULL, O_SEED},
                                         {"stop", required_argument, NULL, O_STOP},
                                         {"ctx", required_argument, NULL, O_CTX},
                                         {"threads", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    cli_ctx cli = {.cmd = "generate"};
    const char *model = NULL, *prompt = NULL, *system = NULL, *template = NULL;
    int chat = 0, show = 0, c;
    long n = 256, v, ctx_n = 0, threads = 0;
    llm_gen_params gp;
    llm_gen_default_params(&gp);
    rag_strv stops = {0};
    int rc = CLI_EXIT_OK;
    while ((c = getopt_long(argc, argv, "m:p:n:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            model = optarg;
            break;
        case 'p':
            prompt = optarg;
            break;
        case 'n':
            rc = cli_parse_int(&cli, "-n", optarg, 1, 1 << 20, &n);
            break;
        case 't':
            rc = cli_parse_int(&cli, "--threads", optarg, 0, 1024, &threads);
            break;
        case O_CHAT:
            chat = 1;
            break;
        case O_SYSTEM:
            system = optarg;
            break;
        case O_TEMPLATE:
            template = optarg;
            break;
        case O_SHOW:
            show = 1;
            break;
        case O_TEMP:
            rc = parse_float(&cli, "--temp", optarg, &gp.sampling.temperature);
            break;
        case O_TOPK:
            rc = cli_parse_int(&cli, "--top-k", optarg, 0, 1 << 24, &v);
            gp.sampling.top_k = (int)v;
            break;
        case O_TOPP:
            rc = parse_float(&cli, "--top-p", optarg, &gp.sampling.top_p);
            break;
        case O_MINP:
            rc = parse_float(&cli, "--min-p", optarg, &gp.sampling.min_p);
            break;
        case O_REP:
            rc = parse_float(&cli, "--repeat-penalty", optarg, &gp.sampling.repeat_penalty);
            break;
        case O_PRES:
            rc = parse_float(&cli, "--presence-penalty", optarg, &gp.sampling.presence_penalty);
            break;
        case O_SEED: {
            char *end;
            gp.sampling.seed = strtoull(optarg, &end, 10);
            if (end == optarg || *end)
                rc = cli_usage_error(&cli, "--seed: '%s' is not a number", optarg);
            break;
        }
        case O_STOP:
            rag_strv_push(&stops, optarg);
            break;
        case O_CTX:
            rc = cli_parse_int(&cli, "--ctx", optarg, 16, 1 << 20, &ctx_n);
            break;
        case 'h':
            fputs(generate_usage, stdout);
            rag_strv_free(&stops);
            return CLI_EXIT_OK;
        default:
            rc = cli_usage_error(&cli, "unknown option");
        }
        if (rc) {
            rag_strv_free(&stops);
            return rc;
        }
    }
    if (!model || !prompt) {
        rag_strv_free(&stops);
        return cli_usage_error(&cli, "-m MODEL and -p PROMPT are required");
    }
    gp.n_predict = (int)n;
    gp.stop = (const char *const *)stops.v;
    gp.n_stop = stops.n;
    rc = cli_setup(&cli, 0); /* the config file, for model.chat_template */
    if (rc) {
        rag_strv_free(&stops);
        return rc;
    }
    if (!template) template = cli.set.model.chat_template;

    rag_err err = {0};
    llm_model *m = NULL;
    llm_context *ctx = NULL;
    llm_tokens toks = {0};
    llm_chat_prompt cp = {0};
    if (llm_model_open(model, &m, &err)) goto fail;
    const llm_vocab *vocab = llm_model_vocab(m);
    if (chat) {
        llm_chat_family fam;
        int fell_back;
        if (llm_chat_family_for(llm_model_gguf(m), template, &fam, &fell_back, &err)) goto fail;
        if (fell_back)
            fprintf(stderr, "rag generate: warning: the model names no chat template this program "
                            "recognises; using ChatML (choose one with --template)\n");
        llm_chat_msg msgs[2];
        size_t nm = 0;
        if (system) msgs[nm++] = (llm_chat_msg){"system", system};
        msgs[nm++] = (llm_chat_msg){"user", prompt};
        if (llm_chat_render(fam, msgs, nm, 1, &cp, &err) ||
            llm_chat_tokenize(vocab, &cp, &toks, &err))
            goto fail;
        if (show)
            fprintf(stderr, "--- prompt (%zu tokens) ---\n%s\n--- end of prompt ---\n", toks.n,
                    cp.text.data);
    } else {
        if (llm_tokenize(vocab, prompt, strlen(prompt), 1, 0, &toks, &err)) goto fail;
        if (show)
            fprintf(stderr, "--- prompt (%zu tokens) ---\n%s\n--- end of prompt ---\n", toks.n,
                    prompt);
    }
    llm_context_params cparams;
    llm_context_default_params(&cparams);
    cparams.n_ctx = (int)ctx_n;
    cparams.n_threads = (int)threads;
    if (llm_context_new(m, &cparams, &ctx, &err)) goto fail;
    signal(SIGINT, on_gen_sigint);
    llm_gen_stats st;
    if (llm_generate(ctx, toks.v, toks.n, &gp, print_text, NULL, &st, &err)) {
        putchar('\n');
        goto fail;
    }
    putchar('\n');
    fflush(stdout);
    size_t anon = 0, file = 0;
    if (rag_mem_resident(&anon, &file) == 0)
        fprintf(stderr,
                "memory: weights %.1f MB mapped (%.1f MB of files resident), KV cache %.1f MB, "
                "scratch %.1f MB, %.1f MB resident anonymous\n",
                (double)llm_gguf_size(llm_model_gguf(m)) / 1e6, (double)file / 1e6,
                (double)llm_context_kv_bytes(ctx) / 1e6,
                (double)llm_context_scratch_bytes(ctx) / 1e6, (double)anon / 1e6);
    fprintf(stderr,
            "prompt: %d tokens in %.0f ms (%.1f tokens/s); generation: %d tokens in %.0f ms "
            "(%.1f tokens/s); stop: %s\n",
            st.n_prompt, st.prompt_ms, st.prompt_ms > 0 ? st.n_prompt * 1e3 / st.prompt_ms : 0,
            st.n_generated, st.gen_ms, st.gen_ms > 0 ? st.n_generated * 1e3 / st.gen_ms : 0,
            llm_stop_reason_name(st.stop));
    goto out;
fail:
    rc = cli_fail(&cli, &err);
out:
    llm_chat_prompt_free(&cp);
    llm_tokens_free(&toks);
    llm_context_free(ctx);
    llm_model_close(m);
    rag_strv_free(&stops);
    cli_teardown(&cli);
    return rc;
}
