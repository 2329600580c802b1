/* cli/llm.c: the model commands: `rag generate`, `rag tokenize`,
 * `rag logits`, `rag model-info`, `rag quantize`. The inspection commands
 * are stable interfaces for operators and external test harnesses. */
#include "base/buf.h"
#include "base/file.h"
#include "base/mem.h"
#include "cli/cli.h"
#include "llm/llm.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- shared --------------------------------------------------------------- */

static int parse_int(rag_cli *cli, const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi)
        return cli_usage_error(cli, "%s: '%s' is not a number from %ld to %ld", opt, s, lo, hi);
    *out = v;
    return 0;
}

static int parse_float(rag_cli *cli, const char *opt, const char *s, float *out)
{
    char *end;
    float v = strtof(s, &end);
    if (end == s || *end || v != v)
        return cli_usage_error(cli, "%s: '%s' is not a number", opt, s);
    *out = v;
    return 0;
}

/* Reads all of standard input (byte-exact). */
static char *read_stdin(size_t *len)
{
    rag_buf b = {0};
    char tmp[65536];
    ssize_t r;
    while ((r = read(0, tmp, sizeof tmp)) > 0)
        rag_buf_append(&b, tmp, (size_t)r);
    *len = b.len;
    return rag_buf_steal(&b);
}

/* ---- rag tokenize ------------------------------------------------------------ */

static const char tokenize_usage[] =
    "usage: rag tokenize -m MODEL.gguf [--special] [TEXT]\n"
    "\n"
    "Prints the token ids of TEXT (or of standard input, read byte-exact) on\n"
    "one line. --special adds the model's BOS/EOS or CLS/SEP as it does for\n"
    "generation or embedding; without it none are added and the text of\n"
    "special tokens is tokenized as plain text.\n";

int cli_tokenize(int argc, char **argv)
{
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         {"special", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    rag_cli cli = {.cmd = "tokenize"};
    const char *model = NULL;
    int special = 0, c;
    while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            model = optarg;
            break;
        case 's':
            special = 1;
            break;
        case 'h':
            fputs(tokenize_usage, stdout);
            return RAG_EXIT_OK;
        default:
            return cli_usage_error(&cli, "unknown option");
        }
    }
    if (!model) return cli_usage_error(&cli, "-m MODEL is required");
    if (argc - optind > 1) return cli_usage_error(&cli, "give TEXT as one argument (quote it)");
    rag_err err = {0};
    llm_gguf *g;
    if (llm_gguf_open(model, &g, &err)) return cli_fail(&cli, &err);
    llm_vocab *v;
    int rc = llm_vocab_load(g, &v, &err);
    llm_gguf_close(g);
    if (rc) return cli_fail(&cli, &err);
    size_t len;
    char *text;
    if (optind < argc) {
        text = rag_xstrdup(argv[optind]);
        len = strlen(text);
    } else {
        text = read_stdin(&len);
    }
    llm_tokens t = {0};
    rc = llm_tokenize(v, text, len, special, 0, &t, &err);
    if (!rc) {
        rag_buf out = {0};
        for (size_t i = 0; i < t.n; i++)
            rag_buf_printf(&out, "%s%d", i ? " " : "", t.v[i]);
        rag_buf_putc(&out, '\n');
        fwrite(out.data, 1, out.len, stdout);
        rag_buf_free(&out);
    }
    llm_tokens_free(&t);
    rag_free(text);
    llm_vocab_free(v);
    return rc ? cli_fail(&cli, &err) : RAG_EXIT_OK;
}

/* ---- rag logits ----------------------------------------------------------------- */

static const char logits_usage[] =
    "usage: rag logits -m MODEL.gguf --tokens \"ID ID ...\" -o FILE [--threads N]\n"
    "\n"
    "Runs the token ids through the model in one causal pass (positions 0..n-1)\n"
    "and writes the logits of every position to FILE: float32 little-endian,\n"
    "n_tokens rows of n_vocab.\n";

int cli_logits(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},  {"tokens", required_argument, NULL, 't'},
        {"output", required_argument, NULL, 'o'}, {"threads", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},         {0, 0, 0, 0}};
    rag_cli cli = {.cmd = "logits"};
    const char *model = NULL, *toks = NULL, *out = NULL;
    long threads = 0;
    int c;
    while ((c = getopt_long(argc, argv, "m:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            model = optarg;
            break;
        case 't':
            toks = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'T':
            if (parse_int(&cli, "--threads", optarg, 0, 1024, &threads)) return RAG_EXIT_USAGE;
            break;
        case 'h':
            fputs(logits_usage, stdout);
            return RAG_EXIT_OK;
        default:
            return cli_usage_error(&cli, "unknown option");
        }
    }
    if (!model || !toks || !out)
        return cli_usage_error(&cli, "-m, --tokens and -o are required");
    llm_tokens ids = {0};
    for (const char *p = toks; *p;) {
        while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n')
            p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX) {
            llm_tokens_free(&ids);
            return cli_usage_error(&cli, "--tokens: '%.20s' is not a token id", p);
        }
        ids.v = rag_xgrow(ids.v, &ids.cap, ids.n + 1, sizeof *ids.v);
        ids.v[ids.n++] = (int32_t)v;
        p = end;
    }
    if (!ids.n) return cli_usage_error(&cli, "--tokens: no token ids");
    rag_err err = {0};
    llm_model *m = NULL;
    llm_context *ctx = NULL;
    int rc = llm_model_open(model, &m, &err);
    if (!rc) {
        llm_context_params cp;
        llm_context_default_params(&cp);
        cp.n_ctx = (int)ids.n;
        cp.n_batch = (int)ids.n;
        cp.n_threads = (int)threads;
        cp.logits_all = 1;
        rc = llm_context_new(m, &cp, &ctx, &err);
    }
    if (!rc) rc = llm_decode(ctx, ids.v, (int)ids.n, &err);
    if (!rc) {
        size_t nv = (size_t)llm_model_hparams(m)->n_vocab;
        rag_buf b = {0};
        for (size_t i = 0; i < ids.n; i++)
            rag_buf_append(&b, llm_context_logits(ctx, (int)i), nv * sizeof(float));
        rc = rag_file_write_atomic(out, b.data, b.len, &err);
        rag_buf_free(&b);
    }
    llm_context_free(ctx);
    llm_model_close(m);
    llm_tokens_free(&ids);
    return rc ? cli_fail(&cli, &err) : RAG_EXIT_OK;
}

/* ---- rag model-info ------------------------------------------------------------- */

static const char info_usage[] =
    "usage: rag model-info -m MODEL.gguf [--json]\n"
    "\n"
    "Architecture, hyperparameters, tensor types and counts, vocabulary type\n"
    "and chat template family of a GGUF model.\n";

int cli_model_info(int argc, char **argv)
{
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         {"json", no_argument, NULL, 'J'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    rag_cli cli = {.cmd = "model-info"};
    const char *model = NULL;
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            model = optarg;
            break;
        case 'J':
            json = 1;
            break;
        case 'h':
            fputs(info_usage, stdout);
            return RAG_EXIT_OK;
        default:
            return cli_usage_error(&cli, "unknown option");
        }
    }
    if (!model) return cli_usage_error(&cli, "-m MODEL is required");
    rag_err err = {0};
    llm_gguf *g;
    if (llm_gguf_open(model, &g, &err)) return cli_fail(&cli, &err);
    const char *arch_p = "", *name = "";
    size_t alen = 0, nlen = 0;
    llm_gguf_get_str(g, "general.architecture", &arch_p, &alen, NULL);
    llm_gguf_get_str(g, "general.name", &name, &nlen, NULL);
    char arch[64]; /* strings in the map are not NUL-terminated */
    snprintf(arch, sizeof arch, "%.*s", (int)(alen < sizeof arch ? alen : sizeof arch - 1), arch_p);
    /* tensor types and counts */
    size_t count[LLM_DTYPE_MAX] = {0}, bytes[LLM_DTYPE_MAX] = {0};
    uint64_t params = 0;
    for (size_t i = 0; i < llm_gguf_n_tensors(g); i++) {
        const llm_tensor_info *t = llm_gguf_tensor(g, i);
        count[t->type]++;
        bytes[t->type] += t->nbytes;
        params += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
    }
    llm_vocab *v = NULL;
    rag_err verr = {0};
    int have_vocab = llm_vocab_load(g, &v, &verr) == 0;
    llm_chat_family fam;
    int fell_back = 0;
    llm_chat_family_for(g, NULL, &fam, &fell_back, NULL);
    /* the model itself, when this program can run it */
    llm_model *m = NULL;
    rag_err merr = {0};
    int runnable = llm_arch_supported(arch) && llm_model_open(model, &m, &merr) == 0;
    const llm_hparams *hp = runnable ? llm_model_hparams(m) : NULL;
    /* encoders run through the embedding module */
    emb_model *em = NULL;
    int encoder = !strcmp(arch, "bert") || !strcmp(arch, "nomic-bert");
    if (encoder) {
        runnable = emb_model_open(model, NULL, &em, &merr) == 0;
        if (!runnable) encoder = 0;
    }
    static const char *vkinds[] = {"spm", "bpe", "wordpiece", "unigram"};
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "path", model);
        char *nm = rag_xstrndup(name, nlen);
        cJSON_AddStringToObject(j, "architecture", arch);
        cJSON_AddStringToObject(j, "name", nm);
        rag_free(nm);
        cJSON_AddNumberToObject(j, "gguf_version", llm_gguf_version(g));
        cJSON_AddNumberToObject(j, "file_bytes", (double)llm_gguf_size(g));
        cJSON_AddNumberToObject(j, "parameters", (double)params);
        cJSON_AddNumberToObject(j, "tensors", (double)llm_gguf_n_tensors(g));
        cJSON *types = cJSON_AddObjectToObject(j, "tensor_types");
        for (int t = 0; t < LLM_DTYPE_MAX; t++)
            if (count[t]) cJSON_AddNumberToObject(types, llm_dtype_get(t)->name, (double)count[t]);
        cJSON_AddBoolToObject(j, "supported", runnable);
        if (!runnable && merr.msg[0]) cJSON_AddStringToObject(j, "error", merr.msg);
        if (em) {
            cJSON_AddStringToObject(j, "role", emb_is_reranker(em) ? "reranker" : "embedding");
            cJSON_AddNumberToObject(j, "dims", emb_dims(em));
            cJSON_AddStringToObject(j, "pooling",
                                    emb_pooling_name(emb_model_identity(em)->pooling));
            cJSON_AddNumberToObject(j, "context", emb_max_tokens(em));
        } else if (hp) {
            cJSON_AddStringToObject(j, "role", "generator");
        }
        if (hp) {
            cJSON *h = cJSON_AddObjectToObject(j, "hparams");
            cJSON_AddNumberToObject(h, "n_vocab", hp->n_vocab);
            cJSON_AddNumberToObject(h, "n_ctx_train", hp->n_ctx_train);
            cJSON_AddNumberToObject(h, "n_embd", hp->n_embd);
            cJSON_AddNumberToObject(h, "n_layer", hp->n_layer);
            cJSON_AddNumberToObject(h, "n_head", hp->n_head);
            cJSON_AddNumberToObject(h, "n_head_kv", hp->n_head_kv);
            cJSON_AddNumberToObject(h, "n_ff", hp->n_ff);
            cJSON_AddNumberToObject(h, "head_dim", hp->head_dim);
            cJSON_AddNumberToObject(h, "n_rot", hp->n_rot);
            cJSON_AddNumberToObject(h, "rope_base", hp->rope_base);
            cJSON_AddNumberToObject(h, "norm_eps", hp->norm_eps);
            cJSON_AddBoolToObject(h, "tied_output", hp->tied_output);
            cJSON_AddNumberToObject(j, "weight_bytes_per_token", (double)llm_model_weight_bytes(m));
        }
        if (have_vocab) {
            cJSON_AddStringToObject(j, "vocab_type", vkinds[llm_vocab_kind_of(v)]);
            cJSON_AddNumberToObject(j, "vocab_size", llm_vocab_size(v));
            if (llm_vocab_kind_of(v) == LLM_VOCAB_BPE)
                cJSON_AddStringToObject(j, "pre_tokenizer", llm_vocab_pre(v));
        } else {
            cJSON_AddStringToObject(j, "vocab_error", verr.msg);
        }
        cJSON_AddStringToObject(j, "chat_template",
                                fell_back ? "none (chatml assumed)" : llm_chat_family_name(fam));
        cli_print_json(j);
    } else {
        printf("model         %s\n", model);
        printf("architecture  %s%s\n", arch,
               em            ? (emb_is_reranker(em) ? " (a reranker)" : " (an embedding model)")
               : runnable    ? " (a text generator)"
               : merr.msg[0] ? " (cannot be loaded: see below)"
                             : " (not runnable by rag)");
        if (nlen) printf("name          %.*s\n", (int)nlen, name);
        printf("file          GGUF v%u, %.1f MB, %zu tensors, %.1fM parameters\n",
               llm_gguf_version(g), (double)llm_gguf_size(g) / 1e6, llm_gguf_n_tensors(g),
               (double)params / 1e6);
        printf("tensor types ");
        for (int t = 0; t < LLM_DTYPE_MAX; t++)
            if (count[t])
                printf(" %s x%zu (%.1f MB)", llm_dtype_get(t)->name, count[t],
                       (double)bytes[t] / 1e6);
        printf("\n");
        if (hp)
            printf(
                "hparams       vocab %d, context %d, embd %d, layers %d, heads %d (kv %d), ff %d, "
                "head dim %d, rope %d dims base %g%s\n",
                hp->n_vocab, hp->n_ctx_train, hp->n_embd, hp->n_layer, hp->n_head, hp->n_head_kv,
                hp->n_ff, hp->head_dim, hp->n_rot, hp->rope_base,
                hp->tied_output ? ", tied output" : "");
        else if (em)
            printf("encoder       %d dims, %s pooling, context %d tokens\n", emb_dims(em),
                   emb_pooling_name(emb_model_identity(em)->pooling), emb_max_tokens(em));
        else if (merr.msg[0])
            printf("error         %s\n", merr.msg);
        if (have_vocab)
            printf("vocabulary    %s, %d tokens%s%s\n", vkinds[llm_vocab_kind_of(v)],
                   llm_vocab_size(v),
                   llm_vocab_kind_of(v) == LLM_VOCAB_BPE ? ", pre-tokenizer " : "",
                   llm_vocab_kind_of(v) == LLM_VOCAB_BPE ? llm_vocab_pre(v) : "");
        else
            printf("vocabulary    unusable: %s\n", verr.msg);
        printf("chat template %s\n",
               fell_back ? "none recognised (ChatML would be assumed)" : llm_chat_family_name(fam));
    }
    emb_model_close(em);
    llm_model_close(m);
    llm_vocab_free(v);
    llm_gguf_close(g);
    return RAG_EXIT_OK;
}

/* ---- rag generate ----------------------------------------------------------------- */

static const char generate_usage[] =
    "usage: rag generate -m MODEL.gguf -p PROMPT [options]\n"
    "\n"
    "Streams the model's continuation of PROMPT (or, with --chat, its reply to\n"
    "PROMPT as a user message), then prints prompt and generation speed.\n"
    "\n"
    "  -n N               tokens to generate at most (default 256)\n"
    "  --chat             wrap PROMPT in the model's chat template\n"
    "  --system TEXT      a system message (with --chat)\n"
    "  --template NAME    chat template: chatml, llama3, llama2, mistral, gemma, phi3\n"
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
    rag_cli cli = {.cmd = "generate"};
    const char *model = NULL, *prompt = NULL, *system = NULL, *template = NULL;
    int chat = 0, show = 0, c;
    long n = 256, v, ctx_n = 0, threads = 0;
    llm_gen_params gp;
    llm_gen_default_params(&gp);
    rag_strv stops = {0};
    int rc = RAG_EXIT_OK;
    while ((c = getopt_long(argc, argv, "m:p:n:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            model = optarg;
            break;
        case 'p':
            prompt = optarg;
            break;
        case 'n':
            rc = parse_int(&cli, "-n", optarg, 1, 1 << 20, &n);
            break;
        case 't':
            rc = parse_int(&cli, "--threads", optarg, 0, 1024, &threads);
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
            rc = parse_int(&cli, "--top-k", optarg, 0, 1 << 24, &v);
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
            rc = parse_int(&cli, "--ctx", optarg, 16, 1 << 20, &ctx_n);
            break;
        case 'h':
            fputs(generate_usage, stdout);
            rag_strv_free(&stops);
            return RAG_EXIT_OK;
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

/* ---- rag quantize ----------------------------------------------------------------- */

static const char quantize_usage[] =
    "usage: rag quantize IN.gguf OUT.gguf TYPE\n"
    "\n"
    "Writes a copy of a model with its weight matrices in TYPE (q8_0, q4_0,\n"
    "q4_K, q6_K, f16, bf16, f32, and the others the kernels can write), or in\n"
    "the mix files published as Q4_K_M hold (TYPE q4_K_M: q4_K, with q6_K for\n"
    "the output matrix and for the attention values and FFN down matrices of\n"
    "the layers llama.cpp gives more bits: the first and last eighth, and every\n"
    "third between). As\n"
    "llama.cpp does, the output matrix (output.weight) is written as q6_K when\n"
    "TYPE is smaller, because it matters most for quality. One-dimensional\n"
    "tensors (norms, biases) stay in their type. Rows that are not a multiple\n"
    "of 256 cannot hold k-quants: like llama.cpp, q4_K falls back to q5_0,\n"
    "q5_K to q5_1, q6_K to q8_0 (and q2_K, q3_K to q4_0, where llama.cpp uses\n"
    "iq4_nl); rows that fit no block stay as they are. The metadata is copied.\n";

/* llama.cpp's choice of layers that get more bits in a mixed quantization:
 * the first and last eighth, and every third layer between. */
static int more_bits(int layer, int n_layers)
{
    return layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
}

/* The type of one tensor in a Q4_K_M file (before the fallback for rows
 * that are not a multiple of 256). */
static int q4_k_m_type(const char *name, int has_output, int n_layers)
{
    if (!strcmp(name, "output.weight") || (!has_output && !strcmp(name, "token_embd.weight")))
        return LLM_Q6_K;
    int layer = -1;
    if (!strncmp(name, "blk.", 4)) layer = atoi(name + 4);
    if (layer >= 0 && (strstr(name, ".attn_v.") || strstr(name, ".ffn_down.")))
        return more_bits(layer, n_layers) ? LLM_Q6_K : LLM_Q4_K;
    return LLM_Q4_K;
}

/* The type llama.cpp uses for a k-quant on rows that are not a multiple of 256. */
static int kquant_fallback(int t)
{
    switch (t) {
    case LLM_Q2_K:
    case LLM_Q3_K:
        return LLM_Q4_0;
    case LLM_Q4_K:
        return LLM_Q5_0;
    case LLM_Q5_K:
        return LLM_Q5_1;
    case LLM_Q6_K:
        return LLM_Q8_0;
    default:
        return t;
    }
}

int cli_quantize(int argc, char **argv)
{
    rag_cli cli = {.cmd = "quantize"};
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        fputs(quantize_usage, stdout);
        return RAG_EXIT_OK;
    }
    if (argc != 4) return cli_usage_error(&cli, "expected IN OUT TYPE");
    int mix = !strcasecmp(argv[3], "q4_k_m");
    int type = mix ? LLM_Q4_K : llm_dtype_from_name(argv[3]);
    const llm_dtype_info *ti = type >= 0 ? llm_dtype_get(type) : NULL;
    if (!ti || !ti->can_quantize)
        return cli_usage_error(&cli, "'%s' is not a type rag can write", argv[3]);
    rag_err err = {0};
    llm_gguf *g;
    if (llm_gguf_open(argv[1], &g, &err)) return cli_fail(&cli, &err);
    llm_gguf_writer *w = llm_gguf_writer_new();
    for (size_t i = 0; i < llm_gguf_n_kv(g); i++)
        llm_gguf_copy_kv(w, g, i);
    llm_gguf_set_u32(w, "general.quantization_version", 2);
    /* llama.cpp's general.file_type, which names the file's type for people
     * (MOSTLY_Q4_K_M = 15); only where one value means this type */
    static const struct {
        int type;
        uint32_t file_type;
    } file_types[] = {{LLM_F32, 0},  {LLM_F16, 1},  {LLM_Q4_0, 2},  {LLM_Q4_1, 3}, {LLM_Q8_0, 7},
                      {LLM_Q5_0, 8}, {LLM_Q5_1, 9}, {LLM_Q6_K, 18}, {LLM_BF16, 32}};
    if (mix) llm_gguf_set_u32(w, "general.file_type", 15);
    for (size_t i = 0; !mix && i < sizeof file_types / sizeof file_types[0]; i++)
        if (file_types[i].type == type)
            llm_gguf_set_u32(w, "general.file_type", file_types[i].file_type);
    size_t nt = llm_gguf_n_tensors(g);
    int has_output = 0, n_layers = 0;
    for (size_t i = 0; i < nt; i++) {
        const char *name = llm_gguf_tensor(g, i)->name;
        has_output |= !strcmp(name, "output.weight");
        if (!strncmp(name, "blk.", 4) && atoi(name + 4) + 1 > n_layers)
            n_layers = atoi(name + 4) + 1;
    }
    void **bufs = rag_xcalloc(nt ? nt : 1, sizeof *bufs);
    int64_t max_row = 0;
    for (size_t i = 0; i < nt; i++)
        if (llm_gguf_tensor(g, i)->ne[0] > max_row) max_row = llm_gguf_tensor(g, i)->ne[0];
    float *row = rag_xmalloc((size_t)(max_row ? max_row : 1) * sizeof *row);
    size_t converted = 0, per_type[LLM_DTYPE_MAX] = {0};
    int rc = 0;
    for (size_t i = 0; i < nt && !rc; i++) {
        const llm_tensor_info *t = llm_gguf_tensor(g, i);
        int64_t rows = t->ne[1] * t->ne[2] * t->ne[3];
        int want = mix ? q4_k_m_type(t->name, has_output, n_layers) : type;
        /* bits per weight of TYPE below q6_K's 6.56: keep the output matrix at q6_K */
        if (!mix && !strcmp(t->name, "output.weight") && t->ne[0] % 256 == 0 &&
            ti->block_bytes * 8.0 / ti->block_elems < 6.5 && type != LLM_F16 && type != LLM_BF16)
            want = LLM_Q6_K;
        if (t->ne[0] % llm_dtype_get(want)->block_elems) want = kquant_fallback(want);
        int convert = t->n_dims >= 2 && t->ne[0] % llm_dtype_get(want)->block_elems == 0 &&
                      t->type != (llm_dtype)want && llm_dtype_get(t->type)->can_compute;
        if (!convert) {
            llm_gguf_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data);
            continue;
        }
        size_t in_row = llm_row_bytes(t->type, t->ne[0]), out_row = llm_row_bytes(want, t->ne[0]);
        uint8_t *dst = rag_xmalloc(out_row * (size_t)rows);
        for (int64_t r = 0; r < rows; r++) {
            llm_dequant_row(t->type, (const uint8_t *)t->data + (size_t)r * in_row, row, t->ne[0]);
            llm_quantize_row(want, row, dst + (size_t)r * out_row, t->ne[0]);
        }
        bufs[i] = dst;
        llm_gguf_add_tensor(w, t->name, want, t->n_dims, t->ne, dst);
        converted++;
        per_type[want]++;
    }
    rc = llm_gguf_write(w, argv[2], &err);
    if (!rc) {
        printf("quantize: %zu of %zu tensors converted (", converted, nt);
        for (int t = 0, first = 1; t < LLM_DTYPE_MAX; t++)
            if (per_type[t])
                printf("%s%s x%zu", first ? "" : ", ", llm_dtype_get(t)->name, per_type[t]),
                    first = 0;
        printf(") into %s\n", argv[2]);
    }
    for (size_t i = 0; i < nt; i++)
        rag_free(bufs[i]);
    rag_free(bufs);
    rag_free(row);
    llm_gguf_writer_free(w);
    llm_gguf_close(g);
    return rc ? cli_fail(&cli, &err) : RAG_EXIT_OK;
}
