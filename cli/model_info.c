/* cli/model_info.c: `rag model-info`: what a GGUF model is (a stable
 * interface for operators and external test harnesses). */
#include "base/mem.h"
#include "cli/cli.h"
#include "llm/llm.h"

#include <string.h>

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
    cli_ctx cli = {.cmd = "model-info"};
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
            return CLI_EXIT_OK;
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
    return CLI_EXIT_OK;
}
