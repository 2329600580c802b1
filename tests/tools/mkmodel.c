/* tests/tools/mkmodel.c: writes a decoder model with random weights in a
 * real architecture's shape, for tests and benchmarks that need a model of a
 * given size (no model can be downloaded where tests run).
 *
 *   mkmodel OUT.gguf [--arch llama|qwen2|qwen3|bert] [--embd N] [--layers N]
 *           [--heads N] [--kv-heads N] [--ff N] [--vocab N] [--ctx N]
 *           [--tied] [--type f32|f16|q8_0|q4_0|q4_K|q6_K|...] [--seed N] [--sd X]
 *
 * Weights are drawn from N(0, sd) (sd 0.02 by default, the scale of trained
 * models; tests that need every part of the network to matter use larger),
 * norm weights around 1, biases small; they are written
 * in --type when rows allow it (else F32). The vocabulary is SentencePiece
 * style: <unk> <s> </s>, the 256 byte tokens, then "▁w<i>" pieces, so the
 * tokenizer works on any text. Defaults: a Qwen2.5-0.5B shape (qwen2, 896,
 * 24 layers, 14 heads, 2 KV heads, 4864, vocab 151936, tied output).
 *
 * --arch bert writes an encoder (BGE/MiniLM layout: learned positions, token
 * types, post-LayerNorm, GELU, mean pooling) with a WordPiece vocabulary:
 * [PAD] at 0, [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103, then the words
 * "w<i>", so texts made of such words tokenize one token per word. With it:
 *
 *   --pooling mean|cls|rank   the file's pooling (rank adds the cross-encoder
 *                             head cls.*, as rerankers carry it)
 *   --types N                 rows of token_types (2, BERT's; XLM-RoBERTa has 1)
 *   --vocab-from FILE.gguf    the tokenizer of FILE (every tokenizer.* key) in
 *                             place of the WordPiece one, and its size
 *
 * An XLM-RoBERTa encoder (bge-m3, bge-reranker-v2-m3) is --arch bert
 * --types 1 --vocab-from a Unigram vocabulary. The weights are drawn in the
 * same order whatever these options say, so two files made with the same
 * seed and sizes hold the same weights (a WordPiece twin of an XLM-RoBERTa
 * model feeds the same token ids through the same network). */
#include "base/mem.h"
#include "llm/llm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static float gaussian(float sd)
{
    double u = uniform(), v = uniform();
    return (float)(sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v) * sd);
}

typedef struct spec {
    const char *arch;
    int embd, layers, heads, kv_heads, ff, vocab, ctx, tied;
    int type;
    float sd;
    int pooling, types; /* bert only */
    const char *vocab_from;
} spec;

/* Tensor data kept alive until the write. */
static void **keep;
static size_t n_keep, cap_keep;

static void *hold(void *p)
{
    keep = rag_xgrow(keep, &cap_keep, n_keep + 1, sizeof *keep);
    return keep[n_keep++] = p;
}

static void add_matrix(llm_gguf_writer *w, const spec *s, const char *name, int cols, int rows)
{
    int type = s->type;
    if (cols % llm_dtype_get(type)->block_elems) type = LLM_F32;
    size_t row_bytes = llm_row_bytes(type, cols);
    uint8_t *data = hold(rag_xmalloc(row_bytes * (size_t)rows));
    float *row = rag_xmalloc((size_t)cols * sizeof *row);
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++)
            row[c] = gaussian(s->sd);
        llm_quantize_row(type, row, data + (size_t)r * row_bytes, cols);
    }
    rag_free(row);
    int64_t ne[2] = {cols, rows};
    llm_gguf_add_tensor(w, name, type, 2, ne, data);
}

/* A vector of base + N(0, sd). */
static void add_vector(llm_gguf_writer *w, const char *name, int n, float base, float sd)
{
    float *v = hold(rag_xmalloc((size_t)n * sizeof *v));
    for (int i = 0; i < n; i++)
        v[i] = base + (sd ? gaussian(sd) : 0);
    int64_t ne[1] = {n};
    llm_gguf_add_tensor(w, name, LLM_F32, 1, ne, v);
}

static void add_wordpiece_vocab(llm_gguf_writer *w, int n)
{
    char **tok = rag_xcalloc((size_t)n, sizeof *tok);
    int32_t *type = rag_xcalloc((size_t)n, sizeof *type);
    for (int i = 0; i < n; i++) {
        static const char *sp[] = {"[UNK]", "[CLS]", "[SEP]", "[MASK]"};
        if (i == 0)
            tok[i] = rag_xstrdup("[PAD]");
        else if (i >= 100 && i <= 103)
            tok[i] = rag_xstrdup(sp[i - 100]);
        else if (i < 106)
            tok[i] = rag_xasprintf("[unused%d]", i);
        else
            tok[i] = rag_xasprintf("w%d", i);
        type[i] = i < 106 ? 3 : 1;
    }
    llm_gguf_set_str(w, "tokenizer.ggml.model", "bert");
    llm_gguf_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tok, NULL, (uint64_t)n);
    llm_gguf_set_arr(w, "tokenizer.ggml.token_type", LLM_GGUF_I32, type, (uint64_t)n);
    llm_gguf_set_u32(w, "tokenizer.ggml.unknown_token_id", 100);
    llm_gguf_set_u32(w, "tokenizer.ggml.cls_token_id", 101);
    llm_gguf_set_u32(w, "tokenizer.ggml.seperator_token_id", 102);
    llm_gguf_set_u32(w, "tokenizer.ggml.padding_token_id", 0);
    llm_gguf_set_u32(w, "tokenizer.ggml.mask_token_id", 103);
    for (int i = 0; i < n; i++)
        rag_free(tok[i]);
    rag_free(tok);
    rag_free(type);
}

/* token_types: two rows drawn (the stream of draws does not depend on
 * --types), the first s->types written. */
static void add_token_types(llm_gguf_writer *w, const spec *s)
{
    int E = s->embd;
    float *v = hold(rag_xmalloc((size_t)2 * E * sizeof *v));
    for (int i = 0; i < 2 * E; i++)
        v[i] = gaussian(s->sd);
    int64_t ne[2] = {E, s->types};
    llm_gguf_add_tensor(w, "token_types.weight", LLM_F32, 2, ne, v);
}

/* Every tokenizer.* key of path; the number of its tokens in *n. */
static int copy_vocab(llm_gguf_writer *w, const char *path, int *n)
{
    llm_gguf *g;
    rag_err err = {0};
    if (llm_gguf_open(path, &g, &err)) {
        fprintf(stderr, "mkmodel: %s\n", err.msg);
        return -1;
    }
    for (size_t i = 0; i < llm_gguf_n_kv(g); i++)
        if (!strncmp(llm_gguf_key(g, i), "tokenizer.", 10)) llm_gguf_copy_kv(w, g, i);
    llm_gguf_type et;
    uint64_t count = 0;
    int rc = llm_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &count, &err);
    llm_gguf_close(g);
    if (rc || count < 300 || count > 1000000) {
        fprintf(stderr, "mkmodel: %s: no usable tokenizer.ggml.tokens\n", path);
        return -1;
    }
    *n = (int)count;
    return 0;
}

/* The tensors of a BERT encoder. */
static void add_bert(llm_gguf_writer *w, const spec *s)
{
    int E = s->embd, F = s->ff;
    add_matrix(w, s, "token_embd.weight", E, s->vocab);
    add_matrix(w, s, "position_embd.weight", E, s->ctx);
    add_token_types(w, s);
    add_vector(w, "token_embd_norm.weight", E, 1.0f, 0.1f);
    add_vector(w, "token_embd_norm.bias", E, 0, 0.02f);
    for (int l = 0; l < s->layers; l++) {
        char n[96];
#define NAME(x) (snprintf(n, sizeof n, "blk.%d." x, l), n)
        add_matrix(w, s, NAME("attn_q.weight"), E, E);
        add_vector(w, NAME("attn_q.bias"), E, 0, 0.02f);
        add_matrix(w, s, NAME("attn_k.weight"), E, E);
        add_vector(w, NAME("attn_k.bias"), E, 0, 0.02f);
        add_matrix(w, s, NAME("attn_v.weight"), E, E);
        add_vector(w, NAME("attn_v.bias"), E, 0, 0.02f);
        add_matrix(w, s, NAME("attn_output.weight"), E, E);
        add_vector(w, NAME("attn_output.bias"), E, 0, 0.02f);
        add_vector(w, NAME("attn_output_norm.weight"), E, 1.0f, 0.1f);
        add_vector(w, NAME("attn_output_norm.bias"), E, 0, 0.02f);
        add_matrix(w, s, NAME("ffn_up.weight"), E, F);
        add_vector(w, NAME("ffn_up.bias"), F, 0, 0.02f);
        add_matrix(w, s, NAME("ffn_down.weight"), F, E);
        add_vector(w, NAME("ffn_down.bias"), E, 0, 0.02f);
        add_vector(w, NAME("layer_output_norm.weight"), E, 1.0f, 0.1f);
        add_vector(w, NAME("layer_output_norm.bias"), E, 0, 0.02f);
#undef NAME
    }
    if (s->pooling == 4) { /* the cross-encoder head */
        add_matrix(w, s, "cls.weight", E, E);
        add_vector(w, "cls.bias", E, 0, 0.02f);
        float *o = hold(rag_xmalloc((size_t)E * sizeof *o));
        for (int i = 0; i < E; i++)
            o[i] = gaussian(0.5f); /* large enough that scores spread */
        int64_t ne[2] = {E, 1};
        llm_gguf_add_tensor(w, "cls.output.weight", LLM_F32, 2, ne, o);
        add_vector(w, "cls.output.bias", 1, 0, 0.02f);
    }
}

static void add_vocab(llm_gguf_writer *w, int n)
{
    char **tok = rag_xcalloc((size_t)n, sizeof *tok);
    float *score = rag_xcalloc((size_t)n, sizeof *score);
    int32_t *type = rag_xcalloc((size_t)n, sizeof *type);
    for (int i = 0; i < n; i++) {
        if (i < 3) {
            static const char *sp[] = {"<unk>", "<s>", "</s>"};
            tok[i] = rag_xstrdup(sp[i]);
            type[i] = i == 0 ? 2 : 3;
        } else if (i < 3 + 256) {
            tok[i] = rag_xasprintf("<0x%02X>", i - 3);
            type[i] = 6;
        } else {
            tok[i] = rag_xasprintf("\xE2\x96\x81w%d", i);
            type[i] = 1;
            score[i] = -(float)i;
        }
    }
    llm_gguf_set_str(w, "tokenizer.ggml.model", "llama");
    llm_gguf_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tok, NULL, (uint64_t)n);
    llm_gguf_set_arr(w, "tokenizer.ggml.scores", LLM_GGUF_F32, score, (uint64_t)n);
    llm_gguf_set_arr(w, "tokenizer.ggml.token_type", LLM_GGUF_I32, type, (uint64_t)n);
    llm_gguf_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    llm_gguf_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    llm_gguf_set_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    for (int i = 0; i < n; i++)
        rag_free(tok[i]);
    rag_free(tok);
    rag_free(score);
    rag_free(type);
}

int main(int argc, char **argv)
{
    spec s = {"qwen2", 896, 24, 14, 2, 4864, 151936, 32768, 1, LLM_F16, 0.02f, 1, 2, NULL};
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name, field)                                                                           \
    if (!strcmp(a, name) && v) {                                                                   \
        s.field = atoi(v);                                                                         \
        i++;                                                                                       \
        continue;                                                                                  \
    }
        OPT("--embd", embd);
        OPT("--layers", layers);
        OPT("--heads", heads);
        OPT("--kv-heads", kv_heads);
        OPT("--ff", ff);
        OPT("--vocab", vocab);
        OPT("--ctx", ctx);
        OPT("--types", types);
#undef OPT
        if (!strcmp(a, "--arch") && v) {
            s.arch = v;
            i++;
        } else if (!strcmp(a, "--tied")) {
            s.tied = 1;
        } else if (!strcmp(a, "--untied")) {
            s.tied = 0;
        } else if (!strcmp(a, "--type") && v) {
            s.type = llm_dtype_from_name(v);
            i++;
            if (s.type < 0 || !llm_dtype_get(s.type)->can_quantize) {
                fprintf(stderr, "mkmodel: type '%s' cannot be written\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--pooling") && v) {
            s.pooling = !strcmp(v, "mean")   ? 1
                        : !strcmp(v, "cls")  ? 2
                        : !strcmp(v, "rank") ? 4
                                             : -1;
            i++;
            if (s.pooling < 0) {
                fprintf(stderr, "mkmodel: pooling '%s' is not mean, cls or rank\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--vocab-from") && v) {
            s.vocab_from = v;
            i++;
        } else if (!strcmp(a, "--sd") && v) {
            s.sd = strtof(v, NULL);
            i++;
        } else if (!strcmp(a, "--seed") && v) {
            rng = strtoull(v, NULL, 10) * 0x9E3779B97F4A7C15ull + 1;
            i++;
        } else if (a[0] != '-' && !out) {
            out = a;
        } else {
            fprintf(stderr,
                    "usage: mkmodel OUT.gguf [--arch A] [--embd N] [--layers N] [--heads N] "
                    "[--kv-heads N] [--ff N] [--vocab N] [--ctx N] [--tied|--untied] "
                    "[--type T] [--seed N] [--sd X] [--pooling mean|cls|rank] [--types N] "
                    "[--vocab-from FILE.gguf]\n");
            return 2;
        }
    }
    if (!out || s.vocab < 300 || s.heads <= 0 || s.kv_heads <= 0 || s.embd % s.heads ||
        s.types < 1 || s.types > 2) {
        fprintf(stderr,
                "mkmodel: need OUT, a vocabulary of at least 300, heads dividing embd and 1 or "
                "2 token types\n");
        return 2;
    }
    int hd = s.embd / s.heads;
    llm_gguf_writer *w = llm_gguf_writer_new();
    char key[128];
    llm_gguf_set_str(w, "general.architecture", s.arch);
    llm_gguf_set_str(w, "general.name", "random weights (mkmodel)");
#define KEY(k) (snprintf(key, sizeof key, "%s.%s", s.arch, k), key)
    llm_gguf_set_u32(w, KEY("context_length"), (uint32_t)s.ctx);
    llm_gguf_set_u32(w, KEY("embedding_length"), (uint32_t)s.embd);
    llm_gguf_set_u32(w, KEY("block_count"), (uint32_t)s.layers);
    llm_gguf_set_u32(w, KEY("feed_forward_length"), (uint32_t)s.ff);
    llm_gguf_set_u32(w, KEY("attention.head_count"), (uint32_t)s.heads);
    llm_gguf_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)s.kv_heads);
    if (!strcmp(s.arch, "bert")) {
        llm_gguf_set_f32(w, KEY("attention.layer_norm_epsilon"), 1e-12f);
        llm_gguf_set_u32(w, KEY("pooling_type"), (uint32_t)s.pooling);
        llm_gguf_set_bool(w, KEY("attention.causal"), 0);
        if (!s.vocab_from)
            add_wordpiece_vocab(w, s.vocab);
        else if (copy_vocab(w, s.vocab_from, &s.vocab))
            return 1;
        add_bert(w, &s);
        goto write;
    }
    llm_gguf_set_f32(w, KEY("rope.freq_base"), 1000000.0f);
    llm_gguf_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), 1e-6f);
#undef KEY
    add_vocab(w, s.vocab);
    add_matrix(w, &s, "token_embd.weight", s.embd, s.vocab);
    add_vector(w, "output_norm.weight", s.embd, 1.0f, 0);
    if (!s.tied) add_matrix(w, &s, "output.weight", s.embd, s.vocab);
    for (int l = 0; l < s.layers; l++) {
        char n[96];
#define NAME(x) (snprintf(n, sizeof n, "blk.%d." x, l), n)
        add_vector(w, NAME("attn_norm.weight"), s.embd, 1.0f, 0.1f);
        add_matrix(w, &s, NAME("attn_q.weight"), s.embd, s.heads * hd);
        add_matrix(w, &s, NAME("attn_k.weight"), s.embd, s.kv_heads * hd);
        add_matrix(w, &s, NAME("attn_v.weight"), s.embd, s.kv_heads * hd);
        if (!strcmp(s.arch, "qwen2")) {
            add_vector(w, NAME("attn_q.bias"), s.heads * hd, 0, 0.02f);
            add_vector(w, NAME("attn_k.bias"), s.kv_heads * hd, 0, 0.02f);
            add_vector(w, NAME("attn_v.bias"), s.kv_heads * hd, 0, 0.02f);
        }
        if (!strcmp(s.arch, "qwen3")) {
            add_vector(w, NAME("attn_q_norm.weight"), hd, 1.0f, 0.1f);
            add_vector(w, NAME("attn_k_norm.weight"), hd, 1.0f, 0.1f);
        }
        add_matrix(w, &s, NAME("attn_output.weight"), s.heads * hd, s.embd);
        add_vector(w, NAME("ffn_norm.weight"), s.embd, 1.0f, 0.1f);
        add_matrix(w, &s, NAME("ffn_gate.weight"), s.embd, s.ff);
        add_matrix(w, &s, NAME("ffn_up.weight"), s.embd, s.ff);
        add_matrix(w, &s, NAME("ffn_down.weight"), s.ff, s.embd);
#undef NAME
    }
write:;
    rag_err err = {0};
    int rc = llm_gguf_write(w, out, &err);
    if (rc) fprintf(stderr, "mkmodel: %s\n", err.msg);
    llm_gguf_writer_free(w);
    for (size_t i = 0; i < n_keep; i++)
        rag_free(keep[i]);
    rag_free(keep);
    return rc ? 1 : 0;
}
